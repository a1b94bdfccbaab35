//! Audit log queries: one description that every adapter answers from its indexes.

use std::ops::RangeInclusive;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ModelId, Severity};

/// Which audit entries to read. Filters combine (all must hold); results are
/// in sequence order, oldest first unless [`AuditQuery::newest_first`].
///
/// ```
/// use lifecycle_store::AuditQuery;
/// use lifecycle_domain::{ModelId, Severity};
/// // The latest 100 entries about one model:
/// let q = AuditQuery::all().model(ModelId::new("gpt-4-turbo")?).newest_first().limit(100);
/// // Everything critical:
/// let q = AuditQuery::all().min_severity(Severity::Critical);
/// # Ok::<(), lifecycle_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditQuery {
    /// Only entries about this model.
    pub model_id: Option<ModelId>,
    /// Only entries with a sequence number at least this.
    pub from_sequence: Option<u64>,
    /// Only entries with a sequence number at most this.
    pub to_sequence: Option<u64>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only entries at least this severe.
    pub min_severity: Option<Severity>,
    /// Newest entries first.
    pub newest_first: bool,
    /// At most this many entries.
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Every entry, oldest first.
    pub fn all() -> Self {
        Self::default()
    }

    /// The `n` most recent entries, newest first.
    pub fn recent(n: usize) -> Self {
        Self::all().newest_first().limit(n)
    }

    /// Only entries about `model_id`.
    pub fn model(self, model_id: ModelId) -> Self {
        Self {
            model_id: Some(model_id),
            ..self
        }
    }

    /// Only entries whose sequence number is in `range`.
    pub fn sequences(self, range: RangeInclusive<u64>) -> Self {
        Self {
            from_sequence: Some(*range.start()),
            to_sequence: Some(*range.end()),
            ..self
        }
    }

    /// Only entries in `[since, until)`.
    pub fn between(self, since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Self {
            since: Some(since),
            until: Some(until),
            ..self
        }
    }

    /// Only entries at least as severe as `severity`.
    pub fn min_severity(self, severity: Severity) -> Self {
        Self {
            min_severity: Some(severity),
            ..self
        }
    }

    /// Newest entries first.
    pub fn newest_first(self) -> Self {
        Self {
            newest_first: true,
            ..self
        }
    }

    /// At most `n` entries.
    pub fn limit(self, n: usize) -> Self {
        Self {
            limit: Some(n),
            ..self
        }
    }

    /// The sequence numbers the query can match, as an inclusive range.
    pub fn sequence_bounds(&self) -> RangeInclusive<u64> {
        self.from_sequence.unwrap_or(1)..=self.to_sequence.unwrap_or(u64::MAX)
    }

    /// Whether `entry` passes every filter. Adapters use an index to find
    /// candidates, then this to be exact.
    pub fn matches(&self, entry: &AuditLogEntry) -> bool {
        let e = &entry.event;
        self.sequence_bounds().contains(&entry.sequence)
            && self
                .model_id
                .as_ref()
                .is_none_or(|m| e.model_id.as_ref() == Some(m))
            && self.since.is_none_or(|t| e.timestamp >= t)
            && self.until.is_none_or(|t| e.timestamp < t)
            && self.min_severity.is_none_or(|s| e.severity >= s)
    }
}
