//! The in-memory adapter: the reference implementation of the port and the default test double.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Bound, RangeInclusive};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Severity, Version};

use crate::commit::seal_events;
use crate::query::{run_query, time_span, AuditIndex, Sequences};
use crate::{
    AuditCheckpoint, AuditQuery, Commit, CommitReceipt, CommitSignal, Lease, MetricsSnapshot,
    ModelState, Store, StoreError, StoreImage,
};

/// A store that keeps everything in memory and forgets it on drop. Fast, and
/// held to the same contract as the durable adapters.
///
/// ```
/// use lifecycle_store::{MemoryStore, Store};
/// let store = MemoryStore::new();
/// assert_eq!(store.kind(), "memory");
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    /// Followers of the change feed are woken with the head's sequence.
    commits: tokio::sync::watch::Sender<u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            commits: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    models: BTreeMap<ModelId, ModelState>,
    audit: AuditLog,
    /// By model, version and replica: sorted, so a version's checkpoints
    /// are one range, the merged part (replica `""`) first.
    metrics: BTreeMap<(ModelId, Version, String), MetricsSnapshot>,
    /// Ids of the batches of results recorded.
    batches: BTreeSet<String>,
    /// Where the audit log's verification got to.
    verified: Option<ChainHead>,
    leases: HashMap<String, Lease>,
}

/// The audit log with one index per kind of query.
#[derive(Debug, Default)]
struct AuditLog {
    entries: BTreeMap<u64, AuditLogEntry>,
    by_model: HashMap<ModelId, Vec<u64>>,
    by_severity: BTreeMap<Severity, Vec<u64>>,
    by_time: BTreeSet<(DateTime<Utc>, u64)>,
    checkpoint: Option<AuditCheckpoint>,
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
        if let Some(fence) = &commit.fence {
            fence.check(inner.leases.get(&fence.lease.name))?;
        }
        let mut changed = None;
        let mut revision = None;
        if let Some(guard) = &commit.guard {
            let current = inner
                .models
                .get(&guard.model_id)
                .cloned()
                .unwrap_or_default();
            let (after, next) = guard.advance(&current, &commit.versions)?;
            revision = Some(after);
            changed = next.map(|state| (guard.model_id.clone(), state));
        }
        let entries = seal_events(commit.audit, inner.audit.head());
        if let Some((model_id, model)) = changed {
            inner.models.insert(model_id, model);
        }
        for entry in &entries {
            inner.audit.append(entry.clone());
        }
        drop(inner);
        if let Some(last) = entries.last() {
            self.commits.send_replace(last.sequence);
        }
        Ok(CommitReceipt { revision, entries })
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        Ok(self
            .read()
            .models
            .get(model_id)
            .cloned()
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
            .and_then(|m| m.version(version))
            .cloned())
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        Ok(self.read().models.keys().cloned().collect())
    }

    async fn all_models(&self) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        let data = self.read();
        Ok(data
            .models
            .iter()
            .map(|(id, state)| (id.clone(), state.clone()))
            .collect())
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(self.read().audit.head())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        run_query(&self.read().audit, query)
    }

    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        time_span(&self.read().audit, since, until)
    }

    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        let mut inner = self.write();
        Ok(inner.audit.prune(through))
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        Ok(self.read().audit.checkpoint)
    }

    fn commit_signal(&self) -> Option<CommitSignal> {
        Some(self.commits.subscribe())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        let mut inner = self.write();
        let granted = Lease::grant(inner.leases.get(name), name, holder, ttl, now);
        if let Some(lease) = &granted {
            inner.leases.insert(name.to_string(), lease.clone());
        }
        Ok(granted)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut inner = self.write();
        if lease.is_current(inner.leases.get(&lease.name)) {
            inner.leases.insert(lease.name.clone(), lease.released());
        }
        Ok(())
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.read().leases.get(name).cloned())
    }

    async fn verified_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(self.read().verified)
    }

    async fn set_verified_head(&self, head: ChainHead) -> Result<(), StoreError> {
        self.write().verified = Some(head);
        Ok(())
    }

    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        let mut inner = self.write();
        snapshot.check(inner.models.get(&snapshot.model_id))?;
        inner.metrics.insert(snapshot_key(&snapshot), snapshot);
        Ok(())
    }

    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        let mut inner = self.write();
        merged.check(inner.models.get(&merged.model_id))?;
        let (model_id, version) = (merged.model_id.clone(), merged.version.clone());
        let key = |replica: &str| (model_id.clone(), version.clone(), replica.to_string());
        let current = inner.metrics.get(&key("")).map(|s| &s.state);
        if current != expected.as_ref() {
            return Ok(false);
        }
        inner.metrics.remove(&key(replica));
        let mut merged = merged;
        merged.replica.clear();
        inner.metrics.insert(key(""), merged);
        Ok(true)
    }

    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        if inner.batches.contains(batch_id) {
            return Err(StoreError::BatchRecorded {
                batch_id: batch_id.to_string(),
            });
        }
        for snapshot in &snapshots {
            snapshot.check(inner.models.get(&snapshot.model_id))?;
        }
        for snapshot in snapshots {
            inner.metrics.insert(snapshot_key(&snapshot), snapshot);
        }
        inner.batches.insert(batch_id.to_string());
        Ok(())
    }

    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        Ok(self.read().batches.contains(batch_id))
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError> {
        let first = (model_id.clone(), version.clone(), String::new());
        let inner = self.read();
        let of_version = inner
            .metrics
            .range(first..)
            .take_while(|((m, v, _), _)| m == model_id && v == version);
        Ok(of_version.map(|(_, s)| s.clone()).collect())
    }

    async fn all_metrics(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        Ok(self.read().metrics.values().cloned().collect())
    }

    async fn import(&self, image: StoreImage) -> Result<(), StoreError> {
        image.check()?;
        let mut inner = self.write();
        if let Some(what) = inner.contents() {
            return Err(StoreError::NotEmpty { what });
        }
        for state in image.models {
            if let Some(first) = state.versions.first() {
                inner.models.insert(first.model_id.clone(), state);
            }
        }
        for snapshot in image.metrics {
            inner.metrics.insert(snapshot_key(&snapshot), snapshot);
        }
        inner.audit.checkpoint = image.audit_checkpoint;
        for entry in image.audit {
            inner.audit.append(entry);
        }
        Ok(())
    }
}

/// Where a checkpoint is kept: its version and replica.
fn snapshot_key(snapshot: &MetricsSnapshot) -> (ModelId, Version, String) {
    (
        snapshot.model_id.clone(),
        snapshot.version.clone(),
        snapshot.replica.clone(),
    )
}

impl Inner {
    /// What the store holds, in words; `None` when it is empty.
    fn contents(&self) -> Option<String> {
        if !self.models.is_empty() {
            return Some(format!("{} models", self.models.len()));
        }
        if self.audit.head().is_some() {
            return Some("an audit log".into());
        }
        None
    }
}

impl AuditLog {
    fn head(&self) -> Option<ChainHead> {
        let last = self.entries.values().next_back().map(AuditLogEntry::head);
        last.or(self.checkpoint.map(|c| c.head))
    }

    fn prune(&mut self, through: u64) -> Option<AuditCheckpoint> {
        let kept = self.entries.split_off(&through.saturating_add(1));
        let removed = std::mem::replace(&mut self.entries, kept);
        if let Some(last) = removed.values().next_back() {
            let pruned = self.checkpoint.map_or(0, |c| c.pruned) + removed.len() as u64;
            self.checkpoint = Some(AuditCheckpoint {
                head: last.head(),
                pruned,
            });
            let keep = |seq: &u64| *seq > through;
            self.by_model
                .values_mut()
                .for_each(|list| list.retain(keep));
            self.by_severity
                .values_mut()
                .for_each(|list| list.retain(keep));
            self.by_time.retain(|(_, seq)| keep(seq));
        }
        self.checkpoint
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
}

/// Walks a sorted list of sequence numbers within `bounds`, either way.
fn walk(list: &[u64], bounds: RangeInclusive<u64>, newest_first: bool) -> Sequences<'_> {
    let start = list.partition_point(|s| s < bounds.start());
    let end = list.partition_point(|s| s <= bounds.end()).max(start);
    let part = list[start..end].iter().copied().map(Ok);
    if newest_first {
        Box::new(part.rev())
    } else {
        Box::new(part)
    }
}

impl AuditIndex for AuditLog {
    fn all(&self, bounds: RangeInclusive<u64>, newest_first: bool) -> Sequences<'_> {
        let part = self.entries.range(bounds).map(|(&seq, _)| Ok(seq));
        if newest_first {
            Box::new(part.rev())
        } else {
            Box::new(part)
        }
    }

    fn of_model(
        &self,
        model_id: &ModelId,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_> {
        let list = self.by_model.get(model_id).map_or(&[][..], Vec::as_slice);
        walk(list, bounds, newest_first)
    }

    fn of_severity(
        &self,
        severity: Severity,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_> {
        let list = self
            .by_severity
            .get(&severity)
            .map_or(&[][..], Vec::as_slice);
        walk(list, bounds, newest_first)
    }

    fn in_time(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Sequences<'_> {
        let lower = since.map_or(Bound::Unbounded, |s| Bound::Included((s, 0)));
        let upper = until.map_or(Bound::Unbounded, |u| Bound::Excluded((u, 0)));
        Box::new(self.by_time.range((lower, upper)).map(|&(_, seq)| Ok(seq)))
    }

    fn entry(&self, sequence: u64) -> Result<Option<AuditLogEntry>, StoreError> {
        Ok(self.entries.get(&sequence).cloned())
    }
}
