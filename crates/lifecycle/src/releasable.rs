//! `Releasable`: the manager's handle on its store, dropped by `dispose` so
//! that the store closes (a sled store's files are released) even while the
//! services that were wired to it still exist.

use std::ops::RangeInclusive;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};
use lifecycle_store::{
    AuditCheckpoint, AuditQuery, Changes, Commit, CommitReceipt, CommitSignal, Lease,
    MetricsSnapshot, ModelState, Store, StoreError, StoreImage,
};

/// A store that forwards every call to the one it holds until released,
/// then answers [`StoreError::Closed`].
pub(crate) struct Releasable {
    kind: &'static str,
    store: RwLock<Option<Arc<dyn Store>>>,
}

impl Releasable {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            kind: store.kind(),
            store: RwLock::new(Some(store)),
        }
    }

    /// Drops the handle: the store closes once no call is using it.
    pub fn release(&self) {
        self.store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn get(&self) -> Result<Arc<dyn Store>, StoreError> {
        let held = self.store.read().unwrap_or_else(PoisonError::into_inner);
        held.clone().ok_or(StoreError::Closed)
    }
}

#[async_trait]
impl Store for Releasable {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn size_on_disk(&self) -> Option<u64> {
        self.get().ok()?.size_on_disk()
    }

    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        self.get()?.commit(commit).await
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        self.get()?.model(model_id).await
    }

    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError> {
        self.get()?.version(model_id, version).await
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        self.get()?.models().await
    }

    async fn all_models(&self) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        self.get()?.all_models().await
    }

    async fn changes_since(&self, after: u64) -> Result<Changes, StoreError> {
        self.get()?.changes_since(after).await
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.get()?.audit_head().await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        self.get()?.audit(query).await
    }

    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        self.get()?.audit_span(since, until).await
    }

    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.get()?.prune_audit(through).await
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.get()?.audit_checkpoint().await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        self.get()?.acquire_lease(name, holder, ttl, now).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.get()?.release_lease(lease).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.get()?.lease(name).await
    }

    fn commit_signal(&self) -> Option<CommitSignal> {
        self.get().ok()?.commit_signal()
    }

    async fn verified_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.get()?.verified_head().await
    }

    async fn set_verified_head(&self, head: ChainHead) -> Result<(), StoreError> {
        self.get()?.set_verified_head(head).await
    }

    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        self.get()?.save_metrics_batch(snapshots, batch_id).await
    }
    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        self.get()?.batch_recorded(batch_id).await
    }
    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        self.get()?.save_metrics(snapshot).await
    }

    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        self.get()?.fold_metrics(merged, expected, replica).await
    }

    async fn all_metrics(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        self.get()?.all_metrics().await
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError> {
        self.get()?.metrics(model_id, version).await
    }

    async fn import(&self, image: StoreImage) -> Result<(), StoreError> {
        self.get()?.import(image).await
    }
}

/// The wrapper the manager holds its store through keeps the port's whole
/// contract: one test per case of the suite.
#[cfg(test)]
mod conformance {
    use super::*;
    use lifecycle_store::MemoryStore;

    lifecycle_store::conformance_tests!(|_case| async {
        Arc::new(Releasable::new(Arc::new(MemoryStore::new()))) as Arc<dyn Store>
    });

    /// Two managers' wrappers over one store: two handles, one backend.
    mod two_handles {
        use super::*;

        lifecycle_store::conformance_pair_tests!(|_case| async {
            let inner = Arc::new(MemoryStore::new());
            (
                Arc::new(Releasable::new(inner.clone())) as Arc<dyn Store>,
                Arc::new(Releasable::new(inner)) as Arc<dyn Store>,
            )
        });
    }
}
