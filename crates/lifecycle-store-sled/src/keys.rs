//! Byte layouts of keys and records: sortable keys, JSON values.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditHash, ChainHead, ModelId, Severity, Version};

/// The separator after a model id in composite keys; ids never contain it.
const SEP: u8 = 0;

/// `audit`: the sequence number, big-endian so keys sort numerically.
pub fn sequence(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The sequence number at the end of an index key.
pub fn trailing_sequence(key: &[u8]) -> Option<u64> {
    let tail = key.len().checked_sub(8).map(|at| &key[at..])?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// `audit_by_model`: model id, separator, sequence number.
pub fn model_sequence(model_id: &ModelId, seq: u64) -> Vec<u8> {
    let mut key = model_prefix(model_id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The prefix of every key about one model.
pub fn model_prefix(model_id: &ModelId) -> Vec<u8> {
    let mut key = model_id.as_str().as_bytes().to_vec();
    key.push(SEP);
    key
}

/// `metrics`: the mark of a recorded batch of results. Model ids never
/// start with the separator, so these never meet a version's key.
pub fn batch(batch_id: &str) -> Vec<u8> {
    let mut key = vec![SEP];
    key.extend_from_slice(b"batch:");
    key.extend_from_slice(batch_id.as_bytes());
    key
}

/// `audit_by_severity`: severity rank, sequence number.
pub fn severity_sequence(severity: Severity, seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = severity_rank(severity);
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn severity_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
        Severity::Critical => 3,
    }
}

/// `audit_by_time`: seconds (sign bit flipped so negative times sort first),
/// nanoseconds, sequence number.
pub fn time_sequence(at: DateTime<Utc>, seq: u64) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..8].copy_from_slice(&((at.timestamp() as u64) ^ (1 << 63)).to_be_bytes());
    key[8..12].copy_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    key[12..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// `metrics`: model id, separator, version without build metadata: the
/// key of the version's merged checkpoint (the only one earlier builds
/// wrote), and the prefix of its replicas' keys.
pub fn model_version(model_id: &ModelId, version: &Version) -> Vec<u8> {
    let mut key = model_prefix(model_id);
    key.extend_from_slice(version.canonical().as_bytes());
    key
}

/// `metrics`: a replica's checkpoint of a version: [`model_version`], then
/// the separator and the replica (nothing more for the merged part).
pub fn checkpoint(model_id: &ModelId, version: &Version, replica: &str) -> Vec<u8> {
    let mut key = model_version(model_id, version);
    if !replica.is_empty() {
        key.push(SEP);
        key.extend_from_slice(replica.as_bytes());
    }
    key
}

/// Whether `key`, found under [`model_version`]'s `prefix`, is a checkpoint
/// of that version (not of a longer version such as `1.0.0-rc.1`).
pub fn is_checkpoint_of(prefix: &[u8], key: &[u8]) -> bool {
    key.len() == prefix.len() || key.get(prefix.len()) == Some(&SEP)
}

/// `meta/head`: sequence number and hash of the last audit entry.
pub fn encode_head(head: ChainHead) -> [u8; 40] {
    let mut bytes = [0u8; 40];
    bytes[..8].copy_from_slice(&head.sequence.to_be_bytes());
    bytes[8..].copy_from_slice(&head.hash.0);
    bytes
}

/// Reads `meta/head`; `None` if the bytes are not a head.
pub fn decode_head(bytes: &[u8]) -> Option<ChainHead> {
    let sequence = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let hash: [u8; 32] = bytes.get(8..)?.try_into().ok()?;
    Some(ChainHead {
        sequence,
        hash: AuditHash(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle_domain::chrono::TimeZone;

    #[test]
    fn time_keys_sort_by_time_then_sequence_also_before_1970() {
        let times = [
            Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ];
        let keys: Vec<[u8; 20]> = times.iter().map(|t| time_sequence(*t, 9)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(time_sequence(times[2], 1) < time_sequence(times[2], 2));
        assert_eq!(trailing_sequence(&keys[2]), Some(9));
    }

    #[test]
    fn model_keys_do_not_mix_models_that_share_a_prefix() {
        let (a, ab) = (ModelId::new("a").unwrap(), ModelId::new("ab").unwrap());
        let a_last = model_sequence(&a, u64::MAX);
        assert!(a_last < model_sequence(&ab, 0));
        assert!(!model_sequence(&ab, 0).starts_with(&model_prefix(&a)));
    }

    #[test]
    fn heads_round_trip_and_short_bytes_are_refused() {
        let head = ChainHead {
            sequence: 42,
            hash: AuditHash([7; 32]),
        };
        assert_eq!(decode_head(&encode_head(head)), Some(head));
        assert_eq!(decode_head(&[1, 2, 3]), None);
        assert_eq!(trailing_sequence(&[1, 2]), None);
    }
}
