//! The conformance suite fails adapters that break the contract: each faulty
//! wrapper below breaks one rule, and the suite must name the cases it breaks.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::RangeInclusive;
use std::sync::Arc;

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};
use lifecycle_store::{
    conformance, AuditCheckpoint, AuditQuery, Commit, CommitReceipt, Lease, MemoryStore,
    MetricsSnapshot, ModelState, Store, StoreError, StoreImage,
};

#[derive(Clone, Copy)]
enum Fault {
    IgnoresRevision,
    IgnoresOrder,
    IgnoresLimit,
    LosesAnEntry,
    ForgetsMetrics,
    FoldsBlindly,
    ImportsOverData,
}

struct Faulty(MemoryStore, Fault);

#[async_trait]
impl Store for Faulty {
    fn kind(&self) -> &'static str {
        "faulty"
    }
    async fn commit(&self, mut commit: Commit) -> Result<CommitReceipt, StoreError> {
        if let (Fault::IgnoresRevision, Some(guard)) = (self.1, &mut commit.guard) {
            guard.expected_revision = self.0.model(&guard.model_id).await?.revision;
        }
        self.0.commit(commit).await
    }
    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        self.0.model(model_id).await
    }
    async fn version(&self, m: &ModelId, v: &Version) -> Result<Option<ModelVersion>, StoreError> {
        self.0.version(m, v).await
    }
    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        self.0.models().await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: lifecycle_domain::chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        self.0.acquire_lease(name, holder, ttl, now).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.0.release_lease(lease).await
    }
    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.0.lease(name).await
    }
    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.0.audit_head().await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        let mut query = query.clone();
        match self.1 {
            Fault::IgnoresOrder => query.newest_first = false,
            Fault::IgnoresLimit => query.limit = None,
            _ => {}
        }
        let mut found = self.0.audit(&query).await?;
        if let Fault::LosesAnEntry = self.1 {
            found.retain(|e| e.sequence != 3);
        }
        Ok(found)
    }
    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        self.0.audit_span(since, until).await
    }
    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.0.prune_audit(through).await
    }
    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.0.audit_checkpoint().await
    }
    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        self.0.save_metrics_batch(snapshots, batch_id).await
    }
    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        self.0.batch_recorded(batch_id).await
    }
    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        match self.1 {
            Fault::ForgetsMetrics => Ok(()),
            _ => self.0.save_metrics(snapshot).await,
        }
    }
    async fn metrics(&self, m: &ModelId, v: &Version) -> Result<Vec<MetricsSnapshot>, StoreError> {
        self.0.metrics(m, v).await
    }
    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        let expected = match self.1 {
            // Folds over whatever another replica folded meanwhile.
            Fault::FoldsBlindly => {
                let stored = self.0.metrics(&merged.model_id, &merged.version).await?;
                stored
                    .into_iter()
                    .find(|s| s.replica.is_empty())
                    .map(|s| s.state)
            }
            _ => expected,
        };
        self.0.fold_metrics(merged, expected, replica).await
    }
    async fn import(&self, image: StoreImage) -> Result<(), StoreError> {
        match self.1 {
            // Replays the image as commits: lands on top of what is there.
            Fault::ImportsOverData => {
                for state in image.models {
                    let model_id = state.versions[0].model_id.clone();
                    let revision = self.0.model(&model_id).await?.revision;
                    let mut commit = Commit::for_model(model_id, revision);
                    commit.versions = state.versions;
                    self.0.commit(commit).await?;
                }
                Ok(())
            }
            _ => self.0.import(image).await,
        }
    }
}

/// Runs the suite on a faulty store and returns its failure report.
async fn report(fault: Fault) -> String {
    let run = tokio::spawn(conformance::run_all(move || async move {
        Arc::new(Faulty(MemoryStore::new(), fault)) as Arc<dyn Store>
    }));
    let failure = run.await.expect_err("the suite must fail a faulty store");
    let payload = failure.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_broken_rule_fails_the_cases_that_check_it() {
    let expectations = [
        (
            Fault::IgnoresRevision,
            "versions::stale_revision_conflicts_and_writes_nothing",
        ),
        (Fault::IgnoresOrder, "audit::query_most_recent"),
        (Fault::IgnoresLimit, "audit::query_by_model"),
        (
            Fault::LosesAnEntry,
            "audit::entries_are_numbered_without_gaps_and_chained",
        ),
        (
            Fault::ForgetsMetrics,
            "metrics::snapshots_round_trip_and_replace",
        ),
        (
            Fault::FoldsBlindly,
            "metrics::a_fold_replaces_the_merged_part_only_if_unchanged",
        ),
        (
            Fault::ImportsOverData,
            "import::import_into_a_store_with_data_is_refused",
        ),
    ];
    for (fault, case) in expectations {
        let report = report(fault).await;
        assert!(report.contains(case), "{case} not in:\n{report}");
        assert!(report.contains("conformance cases failed"), "{report}");
    }
}

/// One case run alone (what each generated test does) fails on the store
/// that breaks its rule, passes on a sound one, and an unknown name is an
/// error, never a silent pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_run_alone_fails_only_on_the_rule_it_checks() {
    let case = "versions::stale_revision_conflicts_and_writes_nothing";
    let faulty = conformance::run_case(case, |_| async {
        Arc::new(Faulty(MemoryStore::new(), Fault::IgnoresRevision)) as Arc<dyn Store>
    })
    .await;
    assert!(
        faulty.as_ref().is_err_and(|e| e.starts_with(case)),
        "{faulty:?}"
    );
    let sound = conformance::run_case(case, |_| async {
        Arc::new(MemoryStore::new()) as Arc<dyn Store>
    })
    .await;
    assert_eq!(sound, Ok(()));
    let unknown = conformance::run_case("versions::no_such_case", |_| async {
        Arc::new(MemoryStore::new()) as Arc<dyn Store>
    })
    .await;
    assert!(
        unknown
            .as_ref()
            .is_err_and(|e| e.contains("no conformance case is named")),
        "{unknown:?}"
    );
}
