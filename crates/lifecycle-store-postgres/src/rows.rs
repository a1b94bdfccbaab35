//! How values are laid out in rows: keys, ranks, times, JSON text.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditHash, ChainHead, Severity, Version};
use lifecycle_store::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A version's key: the version without build metadata, which never
/// names another version.
pub fn version_key(version: &Version) -> String {
    let v = version.as_semver();
    if v.pre.is_empty() {
        format!("{}.{}.{}", v.major, v.minor, v.patch)
    } else {
        format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre)
    }
}

/// Severities as ranks, so that "at least this severe" is one comparison.
pub fn severity_rank(severity: Severity) -> i16 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
        Severity::Critical => 3,
    }
}

/// A time as microseconds since the epoch: every time chrono can hold fits.
pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// JSON text of a value the domain wrote.
pub fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::backend_from(format!("cannot encode a record: {e}"), e))
}

/// A value read back from its JSON text; `Corrupted` names what was unreadable.
pub fn decode<T: DeserializeOwned>(
    location: &str,
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupted {
        location: location.to_string(),
        detail: format!("{what} cannot be read: {e}"),
    })
}

/// A chain head from its columns; `None` before the first entry.
pub fn chain_head(
    location: &str,
    sequence: Option<i64>,
    hash: Option<String>,
) -> Result<Option<ChainHead>, StoreError> {
    let (Some(sequence), Some(hash)) = (sequence, hash) else {
        return Ok(None);
    };
    let hash = AuditHash::try_from(hash).map_err(|e| StoreError::Corrupted {
        location: location.to_string(),
        detail: format!("the audit chain's head hash cannot be read: {e}"),
    })?;
    Ok(Some(ChainHead {
        sequence: sequence_of(sequence),
        hash,
    }))
}

/// A sequence number as stored (`bigint`) and as the domain counts (`u64`):
/// sequences start at 1 and a database cannot hold 2^63 entries.
pub fn sequence_of(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// A sequence number or count for a `bigint` column.
pub fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// FNV-1a of `bytes`: a short hash that every build and process computes
/// alike (lock keys, test database names).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
