//! `ModelLifecycleManager`: the whole API in one object.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use lifecycle_audit::{
    ComplianceReport, ExportFormat, ExportSummary, ModelAuditLog, SignedCheckpoint, SigningKey,
};
use lifecycle_deployment::{Deployed, Deployments, MaintenanceReport};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    Actor, AuditLogEntry, CanaryWeight, EvaluationConfig, InferenceResult, ModelId, ModelStatus,
    ModelVersion, PolicyConfig, Severity, Version,
};
use lifecycle_evaluator::{
    Alert, ComparisonConfig, ComparisonReport, EvaluationReport, Evaluator, Published,
};
use lifecycle_policy::{DeploymentDecision, DeprecationWarning, LifecyclePolicy};
use lifecycle_registry::{ModelRegistry, Resolved, Routed, Target};
use lifecycle_store::{AuditQuery, Clock, HeldLease, Store, StoreError};
use tokio::task::JoinHandle;

use crate::auto_rollback::AutoRollback;
use crate::backup::{read_backup, write_backup};
use crate::loader::{Loader, Loading};
use crate::releasable::Releasable;
use crate::tasks::{holder_id, spawn_alert_checker, spawn_change_follower, ALERTS_LEASE};
use crate::{BackupSummary, Builder, LifecycleError, SystemStatus};

mod moves;
mod reads;

/// Model lifecycle management in one object, held by an application for its
/// lifetime: register versions, deploy them (consulting the policy first),
/// route traffic, record every inference, evaluate and compare versions,
/// retire old ones, and query the audit log. Cheap to clone.
#[derive(Clone)]
pub struct ModelLifecycleManager {
    inner: Arc<Inner>,
    /// Who this handle's changes are made by, when not the builder's actor
    /// (see [`ModelLifecycleManager::acting_as`]).
    acting: Option<Actor>,
    /// The revision this handle's moves require of their model, if any
    /// (see [`ModelLifecycleManager::expecting_revision`]).
    expected: Option<u64>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// The same store, to release on dispose.
    handle: Arc<Releasable>,
    clock: Arc<dyn Clock>,
    registry: ModelRegistry,
    evaluator: Evaluator,
    loader: Arc<Loader>,
    /// Who this manager is when it takes a lease.
    holder: String,
    deployments: Deployments,
    audit: ModelAuditLog,
    disposed: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The alert auditor, stopped last so that it writes every alert raised.
    auditor: Mutex<Option<(tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>>,
    started: Instant,
}

/// What the builder hands over.
pub(crate) struct Setup {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub evaluation: EvaluationConfig,
    pub policy: PolicyConfig,
    pub actor: Actor,
    pub alert_check: Option<std::time::Duration>,
    pub change_poll: Option<std::time::Duration>,
    pub loading: Loading,
}

/// Saves every metrics checkpoint not saved yet.
async fn flush(inner: &Inner) -> Result<(), LifecycleError> {
    inner.evaluator.checkpoint(&*inner.store, true).await?;
    Ok(())
}

impl ModelLifecycleManager {
    /// Configures a manager; see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A manager on the default store (`./lifecycle-data`) with these
    /// settings: the seed's `initialize(evaluation_config, policy_config)`.
    pub async fn initialize(
        evaluation: EvaluationConfig,
        policy: PolicyConfig,
    ) -> Result<Self, LifecycleError> {
        Self::builder()
            .evaluation_config(evaluation)
            .policy_config(policy)
            .build()
            .await
    }

    pub(crate) async fn start(setup: Setup) -> Result<Self, LifecycleError> {
        let Setup {
            store,
            clock,
            evaluation,
            policy,
            actor,
            alert_check,
            change_poll,
            loading,
        } = setup;
        let handle = Arc::new(Releasable::new(store));
        let store: Arc<dyn Store> = handle.clone();
        // The feed is followed from before the models are read: a commit
        // landing in between is read again, never missed.
        let seen = store.audit_head().await?.map_or(0, |head| head.sequence);
        let holder = holder_id(&actor);
        let engine = LifecyclePolicy::new(policy.clone(), evaluation.clone());
        let registry = ModelRegistry::new(store.clone(), clock.clone(), engine.succession(), actor);
        let evaluator = Evaluator::for_replica(evaluation.clone(), clock.clone(), holder.clone());
        let deployments = Deployments::new(
            registry.clone(),
            evaluator.clone(),
            engine,
            store.clone(),
            clock.clone(),
        );
        let loader = Arc::new(Loader::new(
            store.clone(),
            registry.clone(),
            evaluator.clone(),
            clock.clone(),
        ));
        if loading == Loading::AtStart {
            loader.everything().await?;
        }
        let mut tasks = Vec::new();
        let mut auditor = None;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Checkpoints are the metrics' only home: saving them changes no
            // model's revision and writes no audit entry.
            tasks.push(evaluator.spawn_checkpointer(store.clone(), change_poll));
            // The alerts lease as the scheduled checker holds it: what the
            // auditor's entries and automatic rollbacks are fenced by.
            let alerts_lease = HeldLease::default();
            let rollback = policy.settings().auto_rollback_on_critical.then(|| {
                Arc::new(AutoRollback {
                    deployments: deployments.clone(),
                    loader: loader.clone(),
                    held: alerts_lease.clone(),
                })
            });
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let stop_on = async {
                // Stops on dispose, or when the manager is dropped.
                let _ = stopped.await;
            };
            let then = move |alert| {
                let rollback = rollback.clone();
                async move {
                    if let Some(rollback) = rollback {
                        rollback.on_alert(alert).await;
                    }
                }
            };
            let actor = Actor::system("evaluator")?;
            let task = evaluator.spawn_alert_auditor(
                store.clone(),
                actor,
                alerts_lease.clone(),
                stop_on,
                then,
            );
            auditor = Some((stop, task));
            if let Some(every) = alert_check {
                tasks.push(spawn_alert_checker(
                    evaluator.clone(),
                    store.clone(),
                    clock.clone(),
                    holder.clone(),
                    alerts_lease,
                    every,
                ));
            }
            if let Some(every) = change_poll {
                tasks.push(spawn_change_follower(
                    store.clone(),
                    loader.clone(),
                    seen,
                    every,
                ));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                audit: ModelAuditLog::new(store.clone()),
                deployments,
                store,
                handle,
                clock,
                registry,
                evaluator,
                loader,
                holder,
                disposed: AtomicBool::new(false),
                tasks: Mutex::new(tasks),
                auditor: Mutex::new(auditor),
                started: Instant::now(),
            }),
            acting: None,
            expected: None,
        })
    }

    /// A handle on the same manager whose changes are made, and audited, as
    /// `actor`: a server acting for many users, or a tool that names the
    /// person behind each call. Cheap: everything else is shared.
    ///
    /// ```
    /// # use lifecycle::*;
    /// # async fn example(manager: ModelLifecycleManager) -> Result<(), LifecycleError> {
    /// let alice = manager.acting_as(Actor::new("alice@example.com")?);
    /// assert_eq!(alice.actor().to_string(), "alice@example.com");
    /// # Ok(()) }
    /// ```
    pub fn acting_as(&self, actor: Actor) -> Self {
        Self {
            acting: Some(actor),
            ..self.clone()
        }
    }

    /// A handle on the same manager whose lifecycle moves (testing,
    /// activate, canary moves, deprecate, retire, rollback...) are made only
    /// while the model is at `revision` — the revision a caller read and
    /// decided on, as HTTP's `If-Match` asks. At any other revision the move
    /// fails with [`LifecycleError::revision_mismatch`] naming the current
    /// one, changing nothing; it is not retried.
    ///
    /// ```
    /// # use lifecycle::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), LifecycleError> {
    /// let m = ModelLifecycleManager::builder().memory().build().await?;
    /// let gpt = ModelId::new("gpt-4o")?;
    /// let v1 = ModelVersion::new(gpt.clone(), Version::new(1, 0, 0), "openai",
    ///     ModelCapabilities::new(128_000, 4_096), None, m.now());
    /// let read = m.register_model(v1).await?.revision;
    /// m.deploy_to_testing(&gpt, &Version::new(1, 0, 0)).await?; // someone else moves it
    /// let stale = m.expecting_revision(read).retire_model(&gpt, &Version::new(1, 0, 0)).await;
    /// assert_eq!(stale.unwrap_err().revision_mismatch(), Some((read, read + 1)));
    /// # Ok(()) }
    /// ```
    pub fn expecting_revision(&self, revision: u64) -> Self {
        Self {
            expected: Some(revision),
            ..self.clone()
        }
    }

    /// Who this handle's changes are made by.
    pub fn actor(&self) -> &Actor {
        self.acting
            .as_ref()
            .unwrap_or_else(|| self.inner.registry.actor())
    }

    /// The registry as this handle acts, with the model loaded.
    async fn registry_for(&self, model_id: &ModelId) -> Result<ModelRegistry, LifecycleError> {
        let inner = self.loaded(model_id).await?;
        Ok(self.acting_registry(inner))
    }

    fn acting_deployments(&self, inner: &Inner) -> Deployments {
        let acting = match &self.acting {
            Some(actor) => inner.deployments.acting_as(actor.clone()),
            None => inner.deployments.clone(),
        };
        match self.expected {
            Some(revision) => acting.expecting(revision),
            None => acting,
        }
    }

    fn acting_registry(&self, inner: &Inner) -> ModelRegistry {
        let acting = match &self.acting {
            Some(actor) => inner.registry.acting_as(actor.clone()),
            None => inner.registry.clone(),
        };
        match self.expected {
            Some(revision) => acting.expecting(revision),
            None => acting,
        }
    }

    fn live(&self) -> Result<&Inner, LifecycleError> {
        if self.inner.disposed.load(Ordering::Acquire) {
            return Err(LifecycleError::Disposed);
        }
        Ok(&self.inner)
    }

    /// The current time, from the manager's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The kind of store in use (`sled`, `memory`, ...).
    pub fn store_kind(&self) -> &'static str {
        self.inner.store.kind()
    }

    /// Evaluates every tracked version and raises alerts for those whose
    /// health changed (they are audited, and with the policy's
    /// `auto_rollback_on_critical` a critical one rolls back); returns them.
    /// A background task does this every second unless the builder's
    /// `alert_check_interval` says otherwise.
    pub fn check_alerts(&self) -> Result<Vec<Alert>, LifecycleError> {
        Ok(self.live()?.evaluator.check_alerts())
    }

    /// Every registered model, in id order. (The registry itself is not
    /// handed out: its moves skip the policy and the evaluator.)
    pub async fn get_models(&self) -> Result<Vec<ModelId>, LifecycleError> {
        Ok(self.live()?.registry.models().await?)
    }

    /// The highest usable version of a model matching a SemVer requirement
    /// (`"^2.1"`), with a notice when it is deprecated: for callers that pin
    /// a range instead of following the router.
    pub fn resolve(&self, model_id: &str, requirement: &str) -> Result<Resolved, LifecycleError> {
        Ok(self.live()?.registry.resolve(model_id, requirement)?)
    }

    /// The evaluator: `subscribe_alerts`, `compare` with another config...
    pub fn evaluator(&self) -> &Evaluator {
        &self.inner.evaluator
    }

    /// The policy in force (its settings: `policy_config().settings()`).
    pub fn policy_config(&self) -> &PolicyConfig {
        self.inner.deployments.policy().policy()
    }

    /// The audit log: queries, reports, export, verification, retention.
    pub fn audit_log(&self) -> &ModelAuditLog {
        &self.inner.audit
    }

    /// Makes sure this process holds the model: its router snapshot, its
    /// tracked versions and their statistics. Needed only with
    /// [`Loading::OnFirstUse`], before the synchronous calls about a model
    /// (`route`, `record_inference`, `resolve`, `evaluate_model`,
    /// `compare_versions`), which cannot wait for storage; a no-op once the
    /// model is loaded, and always with the default [`Loading::AtStart`].
    pub async fn load_model(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        self.loaded(model_id).await.map(drop)
    }

    /// The version serving `request_key` (sticky; canary for its share of keys).
    pub fn route(
        &self,
        model_id: &str,
        request_key: &[u8],
    ) -> Result<Option<Routed>, LifecycleError> {
        Ok(self.live()?.registry.route(model_id, request_key))
    }

    /// Records the outcome of one model call. Never waits for I/O.
    pub fn record_inference(
        &self,
        model_id: &str,
        version: &Version,
        result: &InferenceResult,
    ) -> Result<(), LifecycleError> {
        Ok(self.live()?.evaluator.record(model_id, version, result)?)
    }

    /// Signs the audit chain's current head with `key` (kept outside the
    /// store), records the signed checkpoint in the log and returns it, to
    /// be kept elsewhere; `None` when the log is empty. See
    /// [`ModelAuditLog::verify_against`].
    pub async fn sign_audit_head(
        &self,
        key: &SigningKey,
    ) -> Result<Option<SignedCheckpoint>, LifecycleError> {
        let inner = self.live()?;
        Ok(inner
            .audit
            .sign_head(key, self.actor().clone(), inner.clock.now())
            .await?)
    }

    /// Records a batch of results all or nothing, and once: every result is
    /// checked before any counts, the batch's checkpoints are saved in one
    /// atomic write with `batch_id` (a content hash of the input, say), and
    /// a batch whose id was recorded before is refused
    /// ([`StoreError::BatchRecorded`]) recording nothing again — so a batch
    /// re-run after a crash never counts twice. No model changes: its
    /// revision stays. A version this manager has not seen (registered by
    /// another manager since it last read the change feed) is read from the
    /// store first. Returns what was saved per version.
    pub async fn record_batch(
        &self,
        results: &[(ModelId, Version, InferenceResult)],
        batch_id: &str,
    ) -> Result<Vec<Published>, LifecycleError> {
        let inner = self.live()?;
        // Read-through: a version registered by another manager since the
        // last poll of the change feed is read from the store once.
        let mut unknown: Vec<&ModelId> = results
            .iter()
            .filter(|(m, v, _)| !inner.evaluator.tracks(m.as_str(), v))
            .map(|(m, _, _)| m)
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        for model_id in unknown {
            inner.loader.read_through(model_id).await?;
        }
        let saved = inner
            .evaluator
            .record_batch(&*inner.store, results, batch_id)
            .await?;
        Ok(saved)
    }

    /// Judges a version against the thresholds over the rolling window.
    pub fn evaluate_model(
        &self,
        model_id: &str,
        version: &Version,
    ) -> Result<EvaluationReport, LifecycleError> {
        Ok(self.live()?.evaluator.evaluate(model_id, version)?)
    }

    /// Judges `candidate` against `baseline` (the canary judge, default weights).
    pub fn compare_versions(
        &self,
        model_id: &str,
        baseline: &Version,
        candidate: &Version,
    ) -> Result<ComparisonReport, LifecycleError> {
        let evaluator = &self.live()?.evaluator;
        Ok(evaluator.compare(model_id, baseline, candidate, &ComparisonConfig::default())?)
    }

    /// Writes a backup of everything the store holds to `writer`: version
    /// records with their revisions, metrics checkpoints (saved first, so
    /// they are current) and the audit log with its chain, as one
    /// self-describing, checksummed NDJSON file (see `docs/guide.md`).
    pub async fn create_backup<W: Write>(
        &self,
        writer: W,
    ) -> Result<BackupSummary, LifecycleError> {
        let inner = self.live()?;
        flush(inner).await?;
        write_backup(&*inner.store, inner.clock.now(), writer).await
    }

    /// Restores a backup into this manager's store, which must be empty.
    /// The whole backup is read and checked (format version, every line,
    /// checksum, counts, the audit chain, the records' rules) before
    /// anything is written, and is then imported all or nothing: a damaged,
    /// truncated or newer-format backup, or a store with data, is an error
    /// that changes nothing.
    pub async fn restore_backup<R: BufRead>(
        &self,
        reader: R,
    ) -> Result<BackupSummary, LifecycleError> {
        let inner = self.live()?;
        let (models, head) = (inner.store.models().await?, inner.store.audit_head().await?);
        if !models.is_empty() || head.is_some() {
            let what = format!(
                "{} models, {} audit entries",
                models.len(),
                head.map_or(0, |h| h.sequence)
            );
            return Err(StoreError::NotEmpty { what }.into());
        }
        let (image, summary) = read_backup(reader)?;
        inner.store.import(image).await?;
        inner.loader.reload().await?;
        tracing::info!(
            models = summary.models,
            versions = summary.versions,
            audit_entries = summary.audit_entries,
            "backup restored"
        );
        Ok(summary)
    }

    /// Saves every version's metrics checkpoint, writes the alerts raised
    /// but not yet audited, stops the background tasks and releases the
    /// store (a sled store can be opened again at once).
    /// Every call after it returns [`LifecycleError::Disposed`].
    pub async fn dispose(&self) -> Result<(), LifecycleError> {
        let inner = self.live()?;
        inner.disposed.store(true, Ordering::Release);
        // What this replica recorded moves into the merged checkpoints: a
        // manager that stops leaves none of its own behind.
        let saved = inner
            .evaluator
            .fold(&*inner.store)
            .await
            .map_err(Into::into);
        let tasks =
            std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        let auditor = inner
            .auditor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((stop, task)) = auditor {
            let _ = stop.send(());
            let _ = task.await;
        }
        // Another manager may check alerts at once, not after the lease lapses.
        if let Ok(Some(lease)) = inner.store.lease(ALERTS_LEASE).await {
            if lease.holder == inner.holder {
                let _ = inner.store.release_lease(&lease).await;
            }
        }
        // The store closes once calls still running are done with it.
        inner.handle.release();
        saved
    }

    /// Refuses deployments the policy rejects; audits the decision either way.
    /// After a registry operation: tells the evaluator the model's versions
    /// as they now are, and passes the operation's outcome on.
    async fn retracked(
        &self,
        model_id: &ModelId,
        changed: Result<ModelVersion, lifecycle_registry::RegistryError>,
    ) -> Result<ModelVersion, LifecycleError> {
        let version = changed?;
        tracing::info!(model = %model_id, version = %version.version, status = %version.status(),
            "lifecycle change committed");
        self.retrack(model_id).await?;
        Ok(version)
    }

    async fn retrack(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        self.inner.loader.retrack(model_id).await
    }

    /// The live manager with `model_id` loaded (see [`Loading`]).
    async fn loaded(&self, model_id: &ModelId) -> Result<&Inner, LifecycleError> {
        let inner = self.live()?;
        inner.loader.model(model_id).await?;
        Ok(inner)
    }
}
