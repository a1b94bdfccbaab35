//! The in-memory adapter: the reference implementation of the port and the default test double.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Severity, Version};

use crate::commit::{check_single_active, seal_events};
use crate::{AuditQuery, Commit, CommitReceipt, MetricsSnapshot, ModelState, Store, StoreError};

/// A store that keeps everything in memory and forgets it on drop. Fast, and
/// held to the same contract as the durable adapters.
///
/// ```
/// use lifecycle_store::{MemoryStore, Store};
/// let store = MemoryStore::new();
/// assert_eq!(store.kind(), "memory");
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    models: BTreeMap<ModelId, Model>,
    audit: AuditIndex,
    metrics: HashMap<(ModelId, Version), MetricsSnapshot>,
}

#[derive(Debug, Default, Clone)]
struct Model {
    revision: u64,
    versions: BTreeMap<Version, ModelVersion>,
}

/// The audit log with one index per kind of query.
#[derive(Debug, Default)]
struct AuditIndex {
    entries: BTreeMap<u64, AuditLogEntry>,
    by_model: HashMap<ModelId, Vec<u64>>,
    by_severity: BTreeMap<Severity, Vec<u64>>,
    by_time: BTreeSet<(DateTime<Utc>, u64)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A writer that panicked cannot have left a half-applied commit behind:
    // commits are computed first and applied without fallible steps.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let mut inner = self.write();
        let mut changed = None;
        let mut revision = None;
        if let Some(guard) = &commit.guard {
            let current = inner
                .models
                .get(&guard.model_id)
                .cloned()
                .unwrap_or_default();
            if current.revision != guard.expected_revision {
                return Err(StoreError::Conflict {
                    model_id: guard.model_id.clone(),
                    expected: guard.expected_revision,
                    actual: current.revision,
                });
            }
            revision = Some(current.revision);
            if !commit.versions.is_empty() {
                let mut next = current;
                next.revision += 1;
                for mut v in commit.versions {
                    v.revision = next.revision;
                    next.versions.insert(v.version.clone(), v);
                }
                check_single_active(&guard.model_id, next.versions.values())?;
                revision = Some(next.revision);
                changed = Some((guard.model_id.clone(), next));
            }
        }
        let entries = seal_events(commit.audit, inner.audit.head());
        if let Some((model_id, model)) = changed {
            inner.models.insert(model_id, model);
        }
        for entry in &entries {
            inner.audit.append(entry.clone());
        }
        Ok(CommitReceipt { revision, entries })
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        Ok(self
            .read()
            .models
            .get(model_id)
            .map(|m| ModelState {
                revision: m.revision,
                versions: m.versions.values().cloned().collect(),
            })
            .unwrap_or_default())
    }

    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError> {
        Ok(self
            .read()
            .models
            .get(model_id)
            .and_then(|m| m.versions.get(version))
            .cloned())
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        Ok(self.read().models.keys().cloned().collect())
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(self.read().audit.head())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        Ok(self.read().audit.query(query))
    }

    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        snapshot.metrics.validate()?;
        let mut inner = self.write();
        let registered = inner
            .models
            .get(&snapshot.model_id)
            .is_some_and(|m| m.versions.contains_key(&snapshot.version));
        if !registered {
            return Err(StoreError::UnknownVersion {
                model_id: snapshot.model_id,
                version: snapshot.version,
            });
        }
        let key = (snapshot.model_id.clone(), snapshot.version.clone());
        inner.metrics.insert(key, snapshot);
        Ok(())
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<MetricsSnapshot>, StoreError> {
        let key = (model_id.clone(), version.clone());
        Ok(self.read().metrics.get(&key).cloned())
    }
}

impl AuditIndex {
    fn head(&self) -> Option<ChainHead> {
        self.entries.values().next_back().map(AuditLogEntry::head)
    }

    fn append(&mut self, entry: AuditLogEntry) {
        let seq = entry.sequence;
        let event = &entry.event;
        if let Some(model_id) = &event.model_id {
            self.by_model.entry(model_id.clone()).or_default().push(seq);
        }
        self.by_severity
            .entry(event.severity)
            .or_default()
            .push(seq);
        self.by_time.insert((event.timestamp, seq));
        self.entries.insert(seq, entry);
    }

    /// Picks the narrowest index for the query, walks its candidates in the
    /// requested order, and stops at the limit.
    fn query(&self, query: &AuditQuery) -> Vec<AuditLogEntry> {
        let bounds = query.sequence_bounds();
        let candidates: Box<dyn Iterator<Item = u64> + '_> = if let Some(model) = &query.model_id {
            let list = self.by_model.get(model).map_or(&[][..], Vec::as_slice);
            sorted_in(vec![within(list, &bounds)], query.newest_first)
        } else if let Some(min) = query.min_severity {
            let lists = self
                .by_severity
                .range(min..)
                .map(|(_, list)| within(list, &bounds))
                .collect();
            sorted_in(lists, query.newest_first)
        } else if query.since.is_some() || query.until.is_some() {
            let lower = query
                .since
                .map_or(Bound::Unbounded, |s| Bound::Included((s, 0)));
            let upper = query
                .until
                .map_or(Bound::Unbounded, |u| Bound::Excluded((u, 0)));
            let mut seqs: Vec<u64> = self
                .by_time
                .range((lower, upper))
                .map(|&(_, seq)| seq)
                .collect();
            seqs.sort_unstable();
            if query.newest_first {
                seqs.reverse();
            }
            Box::new(seqs.into_iter())
        } else {
            let range = self.entries.range(bounds.clone()).map(|(&seq, _)| seq);
            if query.newest_first {
                Box::new(range.rev())
            } else {
                Box::new(range)
            }
        };
        candidates
            .filter_map(|seq| self.entries.get(&seq))
            .filter(|e| query.matches(e))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

/// The part of a sorted list of sequence numbers that lies within `bounds`.
fn within<'a>(list: &'a [u64], bounds: &std::ops::RangeInclusive<u64>) -> &'a [u64] {
    let start = list.partition_point(|s| s < bounds.start());
    let end = list.partition_point(|s| s <= bounds.end());
    &list[start..end.max(start)]
}

/// Merges sorted lists lazily, ascending or descending.
fn sorted_in(lists: Vec<&[u64]>, descending: bool) -> Box<dyn Iterator<Item = u64> + '_> {
    let mut lists = lists;
    Box::new(std::iter::from_fn(move || {
        let pick = if descending {
            lists
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.last().map(|&s| (s, i)))
                .max()
        } else {
            lists
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.first().map(|&s| (std::cmp::Reverse(s), i)))
                .max()
                .map(|(std::cmp::Reverse(s), i)| (s, i))
        }?;
        let (seq, i) = pick;
        let list = &mut lists[i];
        *list = if descending {
            &list[..list.len() - 1]
        } else {
            &list[1..]
        };
        Some(seq)
    }))
}
