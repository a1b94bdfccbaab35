//! Backups: the whole store as one self-describing, checksummed NDJSON file.
//!
//! Line 1 is a header (`{"format":"lifecycle-backup","formatVersion":1,...}`),
//! then one line per model record, metrics checkpoint, audit checkpoint and
//! audit entry (`{"model":{...}}`, `{"metrics":{...}}`,
//! `{"auditCheckpoint":{...}}`, `{"audit":{...}}`), and last a trailer
//! (`{"end":{...}}`) with the counts and the SHA-256 of every byte before it.
//! A missing trailer is a truncated file; a wrong digest a damaged one.

use std::io::{BufRead, Write};

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::AuditLogEntry;
use lifecycle_store::{
    AuditCheckpoint, AuditQuery, MetricsSnapshot, ModelState, Store, StoreImage,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` field of a backup's header.
pub const BACKUP_FORMAT: &str = "lifecycle-backup";
/// The format version this build writes and the newest it reads.
/// 3: version records may carry `serving`.
pub const BACKUP_FORMAT_VERSION: u32 = 3;
/// Audit entries read from the store per page while writing a backup.
const PAGE: u64 = 1_000;

/// Why a backup could not be written or restored. Restoring changes nothing
/// when it fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The file is not a lifecycle backup at all.
    #[error("not a lifecycle backup: {reason}")]
    NotABackup {
        /// What was found instead.
        reason: String,
    },
    /// The backup was written by a newer lifecycle.
    #[error("backup format {found} is newer than this build reads ({supported}); restore it with a newer lifecycle")]
    NewerFormat {
        /// The backup's format version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// A line cannot be read, or is out of place.
    #[error("backup damaged at line {line}: {reason}")]
    Damaged {
        /// The line, counting from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The file ends before its trailer.
    #[error(
        "backup truncated: it ends after line {lines} without its closing line; copy it again"
    )]
    Truncated {
        /// Lines read.
        lines: usize,
    },
    /// The content does not match the checksum or counts the trailer records.
    #[error("backup damaged: {reason}")]
    Mismatch {
        /// What does not match.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[error("backup i/o failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSummary {
    /// Models.
    pub models: u64,
    /// Versions of all models.
    pub versions: u64,
    /// Metrics checkpoints.
    pub metrics: u64,
    /// Audit entries (after any pruned ones).
    pub audit_entries: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: String,
    format_version: u32,
    created_at: DateTime<Utc>,
    created_by: String,
    store_kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trailer {
    #[serde(flatten)]
    summary: BackupSummary,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum Line {
    Model(ModelState),
    Metrics(MetricsSnapshot),
    AuditCheckpoint(AuditCheckpoint),
    Audit(AuditLogEntry),
    End(Trailer),
}

/// Writes lines and keeps the digest of everything written.
struct Out<W: Write> {
    writer: W,
    digest: Sha256,
}

impl<W: Write> Out<W> {
    fn line<T: Serialize>(&mut self, value: &T) -> Result<(), BackupError> {
        let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        self.digest.update(&bytes);
        self.writer.write_all(&bytes)?;
        Ok(())
    }
}

/// Writes everything `store` holds to `writer`. Each model is read in one
/// consistent view; audit entries are read a page at a time.
pub(crate) async fn write_backup<W: Write>(
    store: &dyn Store,
    now: DateTime<Utc>,
    writer: W,
) -> Result<BackupSummary, crate::LifecycleError> {
    let mut out = Out {
        writer,
        digest: Sha256::new(),
    };
    out.line(&Header {
        format: BACKUP_FORMAT.into(),
        format_version: BACKUP_FORMAT_VERSION,
        created_at: now,
        created_by: format!("lifecycle {}", env!("CARGO_PKG_VERSION")),
        store_kind: store.kind().into(),
    })?;
    let mut summary = BackupSummary::default();
    for (state, metrics) in StoreImage::read_models(store).await? {
        summary.models += 1;
        summary.versions += state.versions.len() as u64;
        out.line(&Line::Model(state))?;
        for snapshot in metrics {
            summary.metrics += 1;
            out.line(&Line::Metrics(snapshot))?;
        }
    }
    let checkpoint = store.audit_checkpoint().await?;
    if let Some(checkpoint) = checkpoint {
        out.line(&Line::AuditCheckpoint(checkpoint))?;
    }
    let head = store.audit_head().await?.map_or(0, |h| h.sequence);
    let mut next = checkpoint.map_or(1, |c| c.head.sequence + 1);
    while next <= head {
        let last = head.min(next + PAGE - 1);
        for entry in store
            .audit(&AuditQuery::all().sequences(next..=last))
            .await?
        {
            summary.audit_entries += 1;
            out.line(&Line::Audit(entry))?;
        }
        next = last + 1;
    }
    let sha256 = hex::encode(out.digest.clone().finalize());
    out.line(&Line::End(Trailer { summary, sha256 }))?;
    out.writer.flush().map_err(BackupError::Io)?;
    Ok(summary)
}

/// Reads a whole backup and checks it: header, every line, trailer counts
/// and checksum, then the image's own consistency. Writes nothing.
pub(crate) fn read_backup<R: BufRead>(
    reader: R,
) -> Result<(StoreImage, BackupSummary), crate::LifecycleError> {
    let mut digest = Sha256::new();
    let mut image = StoreImage::default();
    let mut counted = BackupSummary::default();
    let mut lines = 0;
    for raw in reader.split(b'\n') {
        let raw = raw.map_err(BackupError::Io)?;
        lines += 1;
        let damaged = |reason: String| BackupError::Damaged {
            line: lines,
            reason,
        };
        if lines == 1 {
            check_header(&raw)?;
            digest.update(&raw);
            digest.update(b"\n");
            continue;
        }
        let line: Line = serde_json::from_slice(&raw).map_err(|e| damaged(e.to_string()))?;
        match line {
            Line::Model(state) => {
                counted.models += 1;
                counted.versions += state.versions.len() as u64;
                image.models.push(state);
            }
            Line::Metrics(snapshot) => {
                counted.metrics += 1;
                image.metrics.push(snapshot);
            }
            Line::AuditCheckpoint(checkpoint) => image.audit_checkpoint = Some(checkpoint),
            Line::Audit(entry) => {
                counted.audit_entries += 1;
                image.audit.push(entry);
            }
            Line::End(trailer) => {
                let computed = hex::encode(digest.finalize());
                if trailer.sha256 != computed {
                    return Err(mismatch(format!(
                        "its checksum is {computed}, but its closing line records {}",
                        trailer.sha256
                    )));
                }
                if trailer.summary != counted {
                    return Err(mismatch(format!(
                        "it holds {counted:?}, but its closing line records {:?}",
                        trailer.summary
                    )));
                }
                image.check().map_err(crate::LifecycleError::from)?;
                // No state may exist that the audit log does not describe.
                let records: Vec<_> = image
                    .models
                    .iter()
                    .flat_map(|m| m.versions.clone())
                    .collect();
                let replay = lifecycle_domain::AuditReplay::of(&image.audit);
                if let Some(found) =
                    replay.first_mismatch(&records, image.audit_checkpoint.is_some())
                {
                    return Err(mismatch(format!(
                        "its records disagree with its audit log: {found}"
                    )));
                }
                return Ok((image, counted));
            }
        }
        digest.update(&raw);
        digest.update(b"\n");
    }
    Err(BackupError::Truncated { lines }.into())
}

/// Accepts a header of this format at a version this build reads.
fn check_header(raw: &[u8]) -> Result<(), BackupError> {
    let not_a_backup = |reason: String| BackupError::NotABackup { reason };
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| not_a_backup(format!("its first line is not JSON ({e})")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(BACKUP_FORMAT) {
        return Err(not_a_backup(format!(
            "its first line has no \"format\": \"{BACKUP_FORMAT}\""
        )));
    }
    let version = value.get("formatVersion").and_then(|v| v.as_u64());
    match version.and_then(|v| u32::try_from(v).ok()) {
        Some(found) if found > BACKUP_FORMAT_VERSION => Err(BackupError::NewerFormat {
            found,
            supported: BACKUP_FORMAT_VERSION,
        }),
        Some(_) => {
            serde_json::from_value::<Header>(value)
                .map_err(|e| not_a_backup(format!("its header cannot be read: {e}")))?;
            Ok(())
        }
        None => Err(not_a_backup("its header has no formatVersion".into())),
    }
}

fn mismatch(reason: String) -> crate::LifecycleError {
    BackupError::Mismatch { reason }.into()
}
