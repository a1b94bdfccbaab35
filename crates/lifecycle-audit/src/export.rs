//! Streamed export of a time range of the log, as a JSON array or NDJSON.

use std::io::Write;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::AuditLogEntry;
use lifecycle_store::AuditCheckpoint;
use serde::Serialize;

use crate::{AuditError, ModelAuditLog};

/// The shape of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExportFormat {
    /// One JSON array of entries, one entry per line.
    Json,
    /// One JSON entry per line, nothing else (newline-delimited JSON).
    Ndjson,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "ndjson" => Ok(Self::Ndjson),
            other => Err(format!(
                "{other:?} is not an export format; use json or ndjson"
            )),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    /// Entries written.
    pub entries: u64,
    /// Sequence number of the first entry written.
    pub first_sequence: Option<u64>,
    /// Sequence number of the last entry written.
    pub last_sequence: Option<u64>,
}

impl ModelAuditLog {
    /// Writes the entries with a timestamp in `[start, end)`, in sequence
    /// order, to `writer`. Streams page by page: memory stays bounded
    /// however many entries the range holds. Entries keep every field,
    /// hashes included, so an export can be verified on its own.
    pub async fn export<W: Write>(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        format: ExportFormat,
        mut writer: W,
    ) -> Result<ExportSummary, AuditError> {
        check_range(start, end)?;
        let mut summary = ExportSummary {
            entries: 0,
            first_sequence: None,
            last_sequence: None,
        };
        let mut out = Output::start(format, &mut writer)?;
        if let Some(span) = self.store.audit_span(start, end).await? {
            let mut pages = self.pages(span);
            while let Some(page) = pages.next(&*self.store).await? {
                let inside = page
                    .iter()
                    .filter(|e| e.event.timestamp >= start && e.event.timestamp < end);
                for entry in inside {
                    out.entry(entry, &mut summary)?;
                }
            }
        }
        out.finish(summary.entries)?;
        Ok(summary)
    }
}

/// What [`ModelAuditLog::export_and_prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneSummary {
    /// Entries exported, then removed.
    pub exported: ExportSummary,
    /// The checkpoint the kept entries now verify from.
    pub checkpoint: Option<AuditCheckpoint>,
}

impl ModelAuditLog {
    /// Retention: exports the oldest entries — every entry from the start of
    /// the log up to the first one stamped at or after `before` — to
    /// `writer`, then removes them from the store, leaving a checkpoint (the
    /// head of the last one removed) from which the kept entries still
    /// verify. Nothing is removed unless the export was written in full.
    pub async fn export_and_prune<W: Write>(
        &self,
        before: DateTime<Utc>,
        format: ExportFormat,
        mut writer: W,
    ) -> Result<PruneSummary, AuditError> {
        let checkpoint = self.store.audit_checkpoint().await?;
        let first = checkpoint.map_or(1, |c| c.head.sequence + 1);
        let mut exported = ExportSummary {
            entries: 0,
            first_sequence: None,
            last_sequence: None,
        };
        let mut out = Output::start(format, &mut writer)?;
        let mut pages = self.pages(first..=u64::MAX);
        'pages: while let Some(page) = pages.next(&*self.store).await? {
            for entry in &page {
                if entry.event.timestamp >= before {
                    break 'pages;
                }
                out.entry(entry, &mut exported)?;
            }
        }
        out.finish(exported.entries)?;
        let checkpoint = match exported.last_sequence {
            Some(last) => self.store.prune_audit(last).await?,
            None => checkpoint,
        };
        Ok(PruneSummary {
            exported,
            checkpoint,
        })
    }
}

/// Writes entries in one of the export formats.
struct Output<'w, W: Write> {
    format: ExportFormat,
    writer: &'w mut W,
}

impl<'w, W: Write> Output<'w, W> {
    fn start(format: ExportFormat, writer: &'w mut W) -> Result<Self, AuditError> {
        if format == ExportFormat::Json {
            writer.write_all(b"[")?;
        }
        Ok(Self { format, writer })
    }

    fn entry(
        &mut self,
        entry: &AuditLogEntry,
        summary: &mut ExportSummary,
    ) -> Result<(), AuditError> {
        let separator: &[u8] = match (self.format, summary.entries) {
            (ExportFormat::Json, 0) => b"\n",
            (ExportFormat::Json, _) => b",\n",
            (ExportFormat::Ndjson, _) => b"",
        };
        self.writer.write_all(separator)?;
        serde_json::to_writer(&mut *self.writer, entry).map_err(|e| {
            // The writer's own failure, reported as such.
            if e.is_io() {
                AuditError::Write(e.into())
            } else {
                AuditError::Encode(e)
            }
        })?;
        if self.format == ExportFormat::Ndjson {
            self.writer.write_all(b"\n")?;
        }
        summary.entries += 1;
        summary.first_sequence.get_or_insert(entry.sequence);
        summary.last_sequence = Some(entry.sequence);
        Ok(())
    }

    fn finish(self, entries: u64) -> Result<(), AuditError> {
        if self.format == ExportFormat::Json {
            self.writer
                .write_all(if entries == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        Ok(self.writer.flush()?)
    }
}

/// Refuses ranges that end before they start.
pub(crate) fn check_range(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), AuditError> {
    if end < start {
        return Err(AuditError::EmptyRange {
            start: start.to_rfc3339(),
            end: end.to_rfc3339(),
        });
    }
    Ok(())
}
