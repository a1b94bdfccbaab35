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
use crate::{BackupSummary, Builder, LifecycleError, SystemStatus};

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

/// Follows the store's change feed from audit sequence `seen`, when the
/// store signals a commit and at least every `every`: each model another
/// manager changed is installed in the router and the
/// evaluator (never an older revision than the one installed).
fn spawn_change_follower(
    store: Arc<dyn Store>,
    loader: Arc<Loader>,
    mut seen: u64,
    every: std::time::Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Woken at once by a commit when the store can tell; the timer is
        // the backstop (and all there is for a store that cannot).
        let mut signal = store.commit_signal();
        loop {
            let signal_lost = match signal.as_mut() {
                Some(commits) => tokio::select! {
                    _ = timer.tick() => false,
                    changed = commits.changed() => changed.is_err(),
                },
                None => {
                    timer.tick().await;
                    false
                }
            };
            if signal_lost {
                signal = None;
            }
            let changes = match store.changes_since(seen).await {
                Ok(changes) => changes,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the change feed; trying again");
                    continue;
                }
            };
            for (model_id, revision) in &changes.models {
                if let Err(e) = loader.follow(model_id, *revision).await {
                    tracing::warn!(model = %model_id, error = %e,
                        "cannot read a changed model; trying again");
                }
            }
            seen = changes.through;
        }
    })
}

/// The lease that lets one manager at a time check alerts on a schedule
/// (and so audit them and roll back automatically).
const ALERTS_LEASE: &str = "alerts";

/// Evaluates every version `every` so long, raising alerts on changes of
/// health — while this manager holds the alerts lease, so that of many
/// managers on one store one checks (another takes over within three
/// intervals of the holder stopping).
fn spawn_alert_checker(
    evaluator: Evaluator,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    holder: String,
    held: HeldLease,
    every: std::time::Duration,
) -> JoinHandle<()> {
    let ttl = lifecycle_domain::chrono::Duration::from_std(every.saturating_mul(3))
        .unwrap_or(lifecycle_domain::chrono::Duration::MAX)
        .max(lifecycle_domain::chrono::Duration::seconds(3));
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            let lease = store
                .acquire_lease(ALERTS_LEASE, &holder, ttl, clock.now())
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot take the alerts lease; trying again");
                    None
                });
            let holding = lease.is_some();
            held.set(lease);
            if !holding {
                continue;
            }
            for alert in evaluator.check_alerts() {
                tracing::warn!(model = %alert.model_id, version = %alert.version,
                    level = ?alert.level, "{}", alert.message);
            }
        }
    })
}

/// Saves every metrics checkpoint not saved yet.
async fn flush(inner: &Inner) -> Result<(), LifecycleError> {
    inner.evaluator.checkpoint(&*inner.store, true).await?;
    Ok(())
}

/// An id unique to this manager, a restart of the same process included
/// (a container's process is always pid 1): for the leases it takes and
/// the metrics checkpoints it saves.
fn holder_id(actor: &Actor) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{actor}@{host}/{}/{n}/{started:x}", std::process::id())
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
            inner: self.inner.clone(),
            acting: Some(actor),
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
        match &self.acting {
            Some(actor) => inner.deployments.acting_as(actor.clone()),
            None => inner.deployments.clone(),
        }
    }

    fn acting_registry(&self, inner: &Inner) -> ModelRegistry {
        match &self.acting {
            Some(actor) => inner.registry.acting_as(actor.clone()),
            None => inner.registry.clone(),
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

    /// Registers a new, inactive version and starts tracking its metrics.
    pub async fn register_model(
        &self,
        version: ModelVersion,
    ) -> Result<ModelVersion, LifecycleError> {
        let inner = self.loaded(&version.model_id).await?;
        let stored = self.acting_registry(inner).register(version).await?;
        tracing::info!(model = %stored.model_id, version = %stored.version, provider = %stored.provider,
            "model version registered");
        inner.evaluator.track(&stored);
        Ok(stored)
    }

    /// Registers many versions, as [`Self::register_model`] does each: one
    /// result per version, in order. Up to 64 commits are in flight at once,
    /// so they share flushes (group commit), and tracking is updated once:
    /// this is how a catalogue is imported.
    pub async fn register_models(
        &self,
        versions: Vec<ModelVersion>,
    ) -> Vec<Result<ModelVersion, LifecycleError>> {
        const IN_FLIGHT: usize = 64;
        let mut results: Vec<Option<Result<ModelVersion, LifecycleError>>> =
            versions.iter().map(|_| None).collect();
        let mut running = tokio::task::JoinSet::new();
        let mut pending = versions.into_iter().enumerate();
        loop {
            while running.len() < IN_FLIGHT {
                let Some((index, version)) = pending.next() else {
                    break;
                };
                let manager = self.clone();
                running.spawn(async move {
                    let registered = match manager.live() {
                        Ok(inner) => manager
                            .acting_registry(inner)
                            .register(version)
                            .await
                            .map_err(Into::into),
                        Err(e) => Err(e),
                    };
                    (index, registered)
                });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            match done {
                Ok((index, registered)) => results[index] = Some(registered),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let registered: Vec<ModelVersion> = results
            .iter()
            .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok()).cloned())
            .collect();
        tracing::info!(count = registered.len(), "model versions registered");
        self.inner.evaluator.track_all(&registered);
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(LifecycleError::Disposed)))
            .collect()
    }

    /// Activates a version after the policy approves it (an audited
    /// decision; a rejection is [`LifecycleError::Rejected`]). The previous
    /// active version is deprecated or deactivated, as the policy says.
    pub async fn activate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Version(version), None).await
    }

    /// Promotes the model's canary after the policy approves it, like `activate_model`.
    pub async fn promote_canary(&self, model_id: &ModelId) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Canary, None).await
    }

    /// Activates a version even if the policy refuses it: the emergency
    /// override. The decision is audited as usual; when it is a refusal,
    /// the activation's own audit entry records `reason` and what was
    /// refused, at warning severity. An approved version is activated as
    /// [`Self::activate_model`] does. `reason` is required: 1 to 1,000
    /// printable characters.
    pub async fn force_activate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
        reason: &str,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Version(version), Some(reason))
            .await
    }

    /// Promotes the canary even if the policy refuses it, as
    /// [`Self::force_activate_model`] activates a version.
    pub async fn force_promote_canary(
        &self,
        model_id: &ModelId,
        reason: &str,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Canary, Some(reason)).await
    }

    /// Asks the policy, then makes the move, in one commit at one revision
    /// (see [`Deployments::deploy`]).
    async fn deploy(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
        forced: Option<&str>,
    ) -> Result<Deployed, LifecycleError> {
        let inner = self.loaded(model_id).await?;
        let deployed = self
            .acting_deployments(inner)
            .deploy(model_id, target, forced)
            .await?;
        let version = self.retracked(model_id, Ok(deployed.version)).await?;
        Ok(Deployed {
            version,
            decision: deployed.decision,
        })
    }

    /// Moves a registered version into testing (before a canary).
    pub async fn deploy_to_testing(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .deploy_to_testing(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Takes a version out of service without deprecating it.
    pub async fn deactivate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .deactivate(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Rolls back to `target`; the current version is marked rolled back.
    pub async fn rollback_model(
        &self,
        model_id: &ModelId,
        target: &Version,
        reason: &str,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .rollback(model_id, target, reason)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Deprecates a version: reason, replacement, grace period (the policy's default when `None`).
    pub async fn deprecate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
        reason: &str,
        replacement_version: Option<&Version>,
        grace_period_days: Option<u32>,
    ) -> Result<ModelVersion, LifecycleError> {
        let registry = self.registry_for(model_id).await?;
        let changed = registry
            .deprecate(
                model_id,
                version,
                reason,
                replacement_version,
                grace_period_days,
            )
            .await;
        self.retracked(model_id, changed).await
    }

    /// Retires a version for good; results for it are refused from then on.
    pub async fn retire_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .retire(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Starts a canary on `weight` of the model's traffic.
    pub async fn start_canary(
        &self,
        model_id: &ModelId,
        version: &Version,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .start_canary(model_id, version, weight)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Changes the canary's share of traffic.
    pub async fn set_canary_weight(
        &self,
        model_id: &ModelId,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, LifecycleError> {
        Ok(self
            .registry_for(model_id)
            .await?
            .set_canary_weight(model_id, weight)
            .await?)
    }

    /// Stops the canary.
    pub async fn abort_canary(&self, model_id: &ModelId) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .abort_canary(model_id)
            .await;
        self.retracked(model_id, changed).await
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

    /// The model's active version, if any.
    pub async fn get_active_model(
        &self,
        model_id: &ModelId,
    ) -> Result<Option<ModelVersion>, LifecycleError> {
        let active = self
            .loaded(model_id)
            .await?
            .registry
            .active(model_id)
            .await?;
        Ok(active.map(|v| self.with_metrics(v)))
    }

    /// One version.
    pub async fn get_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let record = self
            .loaded(model_id)
            .await?
            .registry
            .get(model_id, version)
            .await?;
        Ok(self.with_metrics(record))
    }

    /// `record` with the evaluator's lifetime metrics (see
    /// [`Deployments::with_metrics`]).
    fn with_metrics(&self, record: ModelVersion) -> ModelVersion {
        self.inner.deployments.with_metrics(record)
    }

    /// Every version of a model.
    pub async fn get_model_versions(
        &self,
        model_id: &ModelId,
    ) -> Result<Vec<ModelVersion>, LifecycleError> {
        let versions = self
            .loaded(model_id)
            .await?
            .registry
            .versions(model_id)
            .await?;
        Ok(versions.into_iter().map(|v| self.with_metrics(v)).collect())
    }

    /// Every version of every model, by model then version, with its
    /// lifetime metrics, in one pass over the store. A manager that loads
    /// on first use answers from the store's records and checkpoints and
    /// loads nothing.
    pub async fn get_all_model_versions(&self) -> Result<Vec<ModelVersion>, LifecycleError> {
        Ok(self.live()?.loader.catalogue().await?.versions)
    }

    /// The active version of every model that has one, by model, read as
    /// [`Self::get_all_model_versions`] reads.
    pub async fn get_active_models(&self) -> Result<Vec<ModelVersion>, LifecycleError> {
        let mut versions = self.get_all_model_versions().await?;
        versions.retain(|v| v.status() == ModelStatus::Active);
        Ok(versions)
    }

    /// Everything recorded about a model, oldest first.
    pub async fn get_model_history(
        &self,
        model_id: &ModelId,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        Ok(self.live()?.audit.history(model_id).await?)
    }

    /// The `limit` most recent audit entries, newest first.
    pub async fn get_recent_audit_entries(
        &self,
        limit: usize,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        Ok(self.live()?.audit.recent(limit).await?)
    }

    /// A compliance report of `[start, end)`.
    pub async fn generate_compliance_report(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<ComplianceReport, LifecycleError> {
        Ok(self.live()?.audit.compliance_report(start, end).await?)
    }

    /// Streams the audit entries of `[start, end)` to `writer`.
    pub async fn export_audit_log<W: Write>(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        format: ExportFormat,
        writer: W,
    ) -> Result<ExportSummary, LifecycleError> {
        Ok(self
            .live()?
            .audit
            .export(start, end, format, writer)
            .await?)
    }

    /// Whether a version may be deployed now; the decision is audited.
    pub async fn can_deploy_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<DeploymentDecision, LifecycleError> {
        let inner = self.loaded(model_id).await?;
        Ok(self
            .acting_deployments(inner)
            .can_deploy(model_id, version)
            .await?)
    }

    /// Every deprecated version's warning, most urgent first.
    pub async fn get_deprecation_warnings(
        &self,
    ) -> Result<Vec<DeprecationWarning>, LifecycleError> {
        Ok(self.live()?.deployments.deprecation_warnings().await?)
    }

    /// Retires every version past its end of life (when the policy's
    /// automatic retirement is on), one audited commit each, as
    /// `system:maintenance`, on one manager at a time (a lease); returns
    /// what it retired and the warnings left.
    pub async fn run_maintenance(&self) -> Result<MaintenanceReport, LifecycleError> {
        let inner = self.live()?;
        let report = inner.deployments.run_maintenance(&inner.holder).await?;
        for retired in &report.retired {
            self.retrack(&retired.model_id).await?;
        }
        Ok(report)
    }

    /// Counts by status, active models, canaries and their weights, alerts
    /// firing, deprecation warnings, store kind and size, the audit chain
    /// head and whether the chain verifies, uptime.
    pub async fn get_system_status(&self) -> Result<SystemStatus, LifecycleError> {
        let inner = self.live()?;
        let catalogue = inner.loader.catalogue().await?;
        let versions = catalogue.versions;
        let mut versions_by_status = BTreeMap::new();
        let (mut active, mut canaries) = (Vec::new(), Vec::new());
        for v in &versions {
            *versions_by_status.entry(v.status()).or_insert(0) += 1;
            match (v.status(), v.canary_weight()) {
                (ModelStatus::Active, _) => active.push((v.model_id.clone(), v.version.clone())),
                (ModelStatus::Canary, Some(w)) => {
                    canaries.push((v.model_id.clone(), v.version.clone(), w.percent()))
                }
                _ => {}
            }
        }
        let verified = inner.audit.verify_new_entries().await?;
        Ok(SystemStatus {
            store_kind: inner.store.kind(),
            store_size_bytes: inner.store.size_on_disk(),
            models: catalogue.models,
            versions_by_status,
            active,
            canaries,
            alerts_firing: catalogue.firing,
            deprecation_warnings: inner
                .deployments
                .policy()
                .deprecation_warnings(&versions, inner.clock.now()),
            audit_head: inner.store.audit_head().await?,
            audit_chain_verified: verified,
            uptime_secs: inner.started.elapsed().as_secs(),
        })
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

    /// Entries recorded about `model_id` at or above `severity`, newest first.
    pub async fn get_alert_history(
        &self,
        model_id: &ModelId,
        severity: Severity,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        let query = AuditQuery::all()
            .model(model_id.clone())
            .min_severity(severity)
            .newest_first();
        Ok(self.live()?.audit.query(&query).await?)
    }
}
