//! The storage port: the one trait services use and adapters implement.

use std::ops::RangeInclusive;

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};

use crate::{
    AuditCheckpoint, AuditQuery, Changes, Commit, CommitReceipt, Lease, MetricsSnapshot,
    ModelState, StoreError, StoreImage,
};

/// What [`Store::commit_signal`] hands out: the latest committed audit
/// sequence, observed with `changed().await` (a wake-up is never lost: a
/// receiver sees the newest value, however many commits landed).
pub type CommitSignal = tokio::sync::watch::Receiver<u64>;

/// Durable state of the lifecycle system: version records, the audit log and
/// metrics checkpoints.
///
/// # Contract
/// Every adapter passes [`conformance`](crate#conformance) and so:
/// - applies a [`Commit`] atomically: its version records, the model's new
///   revision and its sealed audit entries are all written, or nothing is;
/// - MUST return [`StoreError::Conflict`] when the commit's expected revision
///   is stale, [`StoreError::InvalidCommit`] or [`StoreError::Domain`] when
///   [`Commit::check`] fails, and [`StoreError::TwoInStatus`] when the result
///   would have two active or two canary versions of a model — writing nothing;
/// - numbers audit entries 1, 2, 3... without gaps across all commits, and
///   links each to the hash of the one before, inside the same atomic write;
/// - treats versions that differ only in build metadata as one version;
/// - answers every read from indexes, without scanning unrelated data;
/// - translates its backend's errors into [`StoreError`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync {
    /// A short name of the adapter (`memory`, `sled`) for status reports.
    fn kind(&self) -> &'static str;

    /// Bytes the store occupies on disk, for adapters that have a disk.
    fn size_on_disk(&self) -> Option<u64> {
        None
    }

    /// Applies a commit atomically; see the contract above.
    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError>;

    /// A model's revision and versions, read in one consistent view. An
    /// unknown model has revision 0 and no versions.
    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError>;

    /// One version, if registered.
    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError>;

    /// Every model with at least one version, in id order.
    async fn models(&self) -> Result<Vec<ModelId>, StoreError>;

    /// What changed after audit sequence `after`: the models the commits
    /// since touched, each with its revision as of this read, and the
    /// sequence read through. Every commit that changes a model writes an
    /// audit entry naming it in the same atomic write, and the audit
    /// sequence is one gapless, store-wide order of commits, so a reader
    /// that refreshes each named model misses nothing; a model may be named
    /// with a revision newer than the entries read (a later commit landed),
    /// never older. When the entries after `after` were pruned, every model
    /// is named (a full resync).
    async fn changes_since(&self, after: u64) -> Result<Changes, StoreError> {
        let Some(head) = self.audit_head().await? else {
            return Ok(Changes {
                through: after,
                models: Vec::new(),
            });
        };
        if head.sequence <= after {
            return Ok(Changes {
                through: after,
                models: Vec::new(),
            });
        }
        let pruned_past = self
            .audit_checkpoint()
            .await?
            .is_some_and(|c| c.head.sequence > after);
        let mut touched: Vec<ModelId> = if pruned_past {
            self.models().await?
        } else {
            let query = AuditQuery::all().sequences(after + 1..=head.sequence);
            self.audit(&query)
                .await?
                .into_iter()
                .filter_map(|entry| entry.event.model_id)
                .collect()
        };
        touched.sort_unstable();
        touched.dedup();
        let mut models = Vec::with_capacity(touched.len());
        for model_id in touched {
            let revision = self.model(&model_id).await?.revision;
            models.push((model_id, revision));
        }
        Ok(Changes {
            through: head.sequence,
            models,
        })
    }

    /// Every model with its state, in id order, each as [`Self::model`]
    /// reads it: what a process loads at start. Adapters read them in one
    /// pass (the default reads each model in turn).
    async fn all_models(&self) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        let mut all = Vec::new();
        for model_id in self.models().await? {
            let state = self.model(&model_id).await?;
            all.push((model_id, state));
        }
        Ok(all)
    }

    /// The last audit entry's sequence number and hash; `None` for an empty log.
    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError>;

    /// Audit entries matching `query`, in sequence order.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError>;

    /// The lowest and highest sequence numbers among entries with a
    /// timestamp in `[since, until)`; `None` when there are none. Lets a
    /// reader page through a time range by sequence number.
    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError>;

    /// Removes the audit entries numbered up to `through` (at most the head)
    /// with their index keys, and advances the checkpoint to the last one
    /// removed, atomically. Pruning up to or below the checkpoint changes
    /// nothing. Returns the checkpoint, `None` if nothing was ever pruned.
    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError>;

    /// The checkpoint left by pruning, if any.
    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError>;

    /// Grants the lease `name` to `holder` until `now + ttl`: a renewal when
    /// it holds it already (same token), a take-over when the lease lapsed
    /// or was released (the next token), `None` while another holder's runs
    /// — decided atomically, as [`Lease::grant`] says, against every other
    /// handle on the same backend.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError>;

    /// Gives the lease up at once, if `lease` is still the one held (its
    /// token is kept, so the next holder's is higher); a no-op otherwise.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;

    /// The lease `name` as the store holds it, lapsed or not.
    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError>;

    /// A signal that wakes a follower of the change feed as soon as a commit
    /// lands: its value is the audit sequence the store's head reached. For
    /// adapters that can tell (in-process, for memory and sled; a
    /// database's notifications); a follower still polls
    /// [`Store::changes_since`] as a backstop, and reads the feed itself:
    /// the signal says only that something changed. `None` (the default):
    /// polling only.
    fn commit_signal(&self) -> Option<CommitSignal> {
        None
    }

    /// The last audit entry whose hash and link the audit log verified, as
    /// [`Store::set_verified_head`] left it: where the next process's
    /// incremental verification resumes (`lifecycle status` in a fresh
    /// process checks only what was appended since). `None` when never set;
    /// a store that keeps nothing across handles may always answer `None`.
    async fn verified_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(None)
    }

    /// Records where verification got to. Not part of any commit and need
    /// not be durable: losing it costs one full verification.
    async fn set_verified_head(&self, head: ChainHead) -> Result<(), StoreError> {
        let _ = head;
        Ok(())
    }

    /// Saves (replaces) one replica's metrics checkpoint of a registered
    /// version: the one of `snapshot.replica`, leaving every other
    /// replica's. MUST return [`StoreError::UnknownVersion`] for an
    /// unregistered one. Does not change the model's revision.
    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError>;

    /// Folds a replica's checkpoint into the version's merged part (replica
    /// `""`): replaces the merged part with `merged` and removes the
    /// checkpoint of `replica`, in one atomic write — only if the merged
    /// part's state is still `expected` (`None`: there is none). Returns
    /// false, writing nothing, if it is not (another replica folded in
    /// meanwhile: read again and retry). With `replica` empty it replaces
    /// the merged part alone. MUST return [`StoreError::UnknownVersion`]
    /// for an unregistered version.
    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError>;

    /// Saves the checkpoints of several versions and marks the batch of
    /// results they hold as recorded, in one atomic write: all of it lands,
    /// or (on any error, a crash included) none. MUST return
    /// [`StoreError::BatchRecorded`] when `batch_id` is marked already and
    /// [`StoreError::UnknownVersion`] for an unregistered version, writing
    /// nothing. Does not change any model's revision.
    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError>;

    /// Whether a batch of results with this id was recorded.
    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError>;

    /// Every replica's last metrics checkpoint of a version, the merged
    /// part (replica `""`) first, then by replica.
    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError>;

    /// Every metrics checkpoint, in no particular order: what restoring
    /// every version reads. Adapters read them in one pass (the default
    /// asks for each version of each model in turn).
    async fn all_metrics(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        let mut all = Vec::new();
        for (model_id, state) in self.all_models().await? {
            for version in &state.versions {
                all.extend(self.metrics(&model_id, &version.version).await?);
            }
        }
        Ok(all)
    }

    /// Loads `image` into this empty store, all or nothing: afterwards the
    /// store answers every read as the store the image was read from did
    /// (revisions, sealed entries, checkpoints), and a crash part-way leaves
    /// it empty. MUST return [`StoreError::NotEmpty`] for a store holding any
    /// model, audit entry or checkpoint, and [`StoreError::InvalidImage`] (or
    /// the domain error) when [`StoreImage::check`] fails — writing nothing.
    async fn import(&self, image: StoreImage) -> Result<(), StoreError>;
}
