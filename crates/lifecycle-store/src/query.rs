//! Audit log queries: one description that every adapter answers from its indexes.

use std::ops::RangeInclusive;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{Actor, AuditEventKind, AuditLogEntry, ModelId, Severity};

use crate::StoreError;

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
    /// Only entries of this kind. Not indexed: narrow the query with an
    /// indexed filter (model, severity, time, sequences) on large logs.
    pub kind: Option<AuditEventKind>,
    /// Only entries by this actor. Not indexed, like `kind`.
    pub actor: Option<Actor>,
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

    /// Only entries of `kind`.
    pub fn kind(self, kind: AuditEventKind) -> Self {
        Self {
            kind: Some(kind),
            ..self
        }
    }

    /// Only entries by `actor`.
    pub fn actor(self, actor: Actor) -> Self {
        Self {
            actor: Some(actor),
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
            && self.kind.is_none_or(|k| e.kind == k)
            && self.actor.as_ref().is_none_or(|a| &e.actor == a)
    }
}

/// Sequence numbers read from an index, or the error that stopped the read.
pub type Sequences<'a> = Box<dyn Iterator<Item = Result<u64, StoreError>> + 'a>;

/// The indexes an adapter keeps over its audit log. [`run_query`] plans every
/// [`AuditQuery`] over them, so adapters only say how to walk each index.
pub trait AuditIndex {
    /// Every sequence number within `bounds`, ascending, or descending when `newest_first`.
    fn all(&self, bounds: RangeInclusive<u64>, newest_first: bool) -> Sequences<'_>;

    /// Sequence numbers of entries about `model_id` within `bounds`, in order as for [`Self::all`].
    fn of_model(
        &self,
        model_id: &ModelId,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_>;

    /// Sequence numbers of entries of exactly `severity` within `bounds`, in order as for [`Self::all`].
    fn of_severity(
        &self,
        severity: Severity,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_>;

    /// Sequence numbers of entries with a timestamp in `[since, until)`, in any order.
    fn in_time(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Sequences<'_>;

    /// The entry with this sequence number.
    fn entry(&self, sequence: u64) -> Result<Option<AuditLogEntry>, StoreError>;
}

/// Answers `query` from `index`: walks the narrowest index (model, then
/// severity, then time, then sequence), reads only candidate entries, checks
/// each against every filter, and stops at the limit.
pub fn run_query(
    index: &impl AuditIndex,
    query: &AuditQuery,
) -> Result<Vec<AuditLogEntry>, StoreError> {
    let bounds = query.sequence_bounds();
    let newest_first = query.newest_first;
    let candidates: Sequences<'_> = if let Some(model_id) = &query.model_id {
        index.of_model(model_id, bounds, newest_first)
    } else if let Some(min) = query.min_severity {
        let sources = Severity::ALL
            .into_iter()
            .filter(|&s| s >= min)
            .map(|s| index.of_severity(s, bounds.clone(), newest_first))
            .collect();
        Box::new(merge_sequences(sources, newest_first))
    } else if query.since.is_some() || query.until.is_some() {
        // Time order is not sequence order: sort what the range holds.
        let mut found = index
            .in_time(query.since, query.until)
            .collect::<Result<Vec<u64>, StoreError>>()?;
        found.sort_unstable();
        if newest_first {
            found.reverse();
        }
        Box::new(found.into_iter().map(Ok))
    } else {
        index.all(bounds, newest_first)
    };
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut results = Vec::new();
    for sequence in candidates {
        if results.len() >= limit {
            break;
        }
        if let Some(entry) = index.entry(sequence?)? {
            if query.matches(&entry) {
                results.push(entry);
            }
        }
    }
    Ok(results)
}

/// The lowest and highest sequence numbers of entries with a timestamp in
/// `[since, until)`, read from the time index without loading entries or
/// holding more than two numbers. Adapters answer `Store::audit_span` with it.
pub fn time_span(
    index: &impl AuditIndex,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<RangeInclusive<u64>>, StoreError> {
    let mut span: Option<(u64, u64)> = None;
    for sequence in index.in_time(Some(since), Some(until)) {
        let s = sequence?;
        span = Some(span.map_or((s, s), |(low, high)| (low.min(s), high.max(s))));
    }
    Ok(span.map(|(low, high)| low..=high))
}

/// Merges sources that are each sorted (ascending, or descending when
/// `descending`) into one sorted sequence, lazily. An error is passed on as
/// soon as it is read.
fn merge_sequences<'a>(
    mut sources: Vec<Sequences<'a>>,
    descending: bool,
) -> impl Iterator<Item = Result<u64, StoreError>> + 'a {
    let mut heads: Vec<Option<Result<u64, StoreError>>> =
        sources.iter_mut().map(Iterator::next).collect();
    std::iter::from_fn(move || {
        if let Some(i) = heads.iter().position(|h| matches!(h, Some(Err(_)))) {
            return heads[i].take();
        }
        let (i, _) = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match h {
                Some(Ok(seq)) => Some((i, *seq)),
                _ => None,
            })
            .reduce(|a, b| if (b.1 > a.1) == descending { b } else { a })?;
        std::mem::replace(&mut heads[i], sources[i].next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(seqs: &'static [u64]) -> Sequences<'static> {
        Box::new(seqs.iter().copied().map(Ok))
    }

    #[test]
    fn merging_keeps_order_both_ways() {
        let up = merge_sequences(
            vec![source(&[1, 4, 9]), source(&[]), source(&[2, 3, 10])],
            false,
        );
        assert_eq!(
            up.map(Result::unwrap).collect::<Vec<_>>(),
            [1, 2, 3, 4, 9, 10]
        );
        let down = merge_sequences(vec![source(&[9, 4, 1]), source(&[10, 3, 2])], true);
        assert_eq!(
            down.map(Result::unwrap).collect::<Vec<_>>(),
            [10, 9, 4, 3, 2, 1]
        );
    }

    #[test]
    fn merging_passes_errors_on() {
        let failing: Sequences<'static> =
            Box::new([Ok(5), Err(StoreError::backend("disk"))].into_iter());
        let mut merged = merge_sequences(vec![source(&[1, 7]), failing], false);
        assert_eq!(merged.next().unwrap().unwrap(), 1);
        assert_eq!(merged.next().unwrap().unwrap(), 5);
        assert!(merged.next().unwrap().is_err());
    }
}
