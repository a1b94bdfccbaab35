//! Streamed export of a time range of the log, as a JSON array or NDJSON.

use std::io::Write;

use lifecycle_domain::chrono::{DateTime, Utc};
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
        if format == ExportFormat::Json {
            writer.write_all(b"[")?;
        }
        if let Some(span) = self.store.audit_span(start, end).await? {
            let mut pages = self.pages(span);
            while let Some(page) = pages.next(&*self.store).await? {
                let inside = page
                    .iter()
                    .filter(|e| e.event.timestamp >= start && e.event.timestamp < end);
                for entry in inside {
                    let separator: &[u8] = match (format, summary.entries) {
                        (ExportFormat::Json, 0) => b"\n",
                        (ExportFormat::Json, _) => b",\n",
                        (ExportFormat::Ndjson, _) => b"",
                    };
                    writer.write_all(separator)?;
                    serde_json::to_writer(&mut writer, entry)?;
                    if format == ExportFormat::Ndjson {
                        writer.write_all(b"\n")?;
                    }
                    summary.entries += 1;
                    summary.first_sequence.get_or_insert(entry.sequence);
                    summary.last_sequence = Some(entry.sequence);
                }
            }
        }
        if format == ExportFormat::Json {
            writer.write_all(if summary.entries == 0 {
                b"]\n"
            } else {
                b"\n]\n"
            })?;
        }
        writer.flush()?;
        Ok(summary)
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
