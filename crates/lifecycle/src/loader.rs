//! What this process holds of each model — its router snapshot and its
//! tracked versions with their restored statistics — and when it reads it:
//! every model at start, or each model when a call first touches it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lifecycle_domain::{Actor, AuditEvent, AuditEventKind, ModelId, ModelVersion, Version};
use lifecycle_evaluator::{AlertLevel, Evaluator, Restored};
use lifecycle_registry::ModelRegistry;
use lifecycle_store::{Clock, Commit, MetricsSnapshot, ModelState, Store};

use crate::LifecycleError;

/// When a manager reads the models of its store into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loading {
    /// Every model at start (the default): `route` and `record_inference`
    /// answer for any model at once and never wait for storage. For a
    /// manager that lives as long as its application.
    #[default]
    AtStart,
    /// Each model when a call first names it (one read of its record and
    /// its metrics checkpoints); calls about every model (status, warnings,
    /// maintenance, all active models) read them all once. Start-up then
    /// costs the same on a store of 50,000 models as on one of one: for a
    /// short-lived process such as one CLI command. The synchronous calls
    /// (`route`, `record_inference`, `resolve`, `evaluate_model`,
    /// `compare_versions`) cannot wait for storage: call
    /// [`crate::ModelLifecycleManager::load_model`] before them.
    OnFirstUse,
}

/// Every version of every model as the store and this process hold it
/// ([`Loader::catalogue`]).
pub(crate) struct Catalogue {
    /// How many models.
    pub models: usize,
    /// Every version, by model then version, with its lifetime metrics.
    pub versions: Vec<ModelVersion>,
    /// The versions with an alert firing, by model then version.
    pub firing: Vec<(ModelId, Version, AlertLevel)>,
}

/// Loads models into the router and the evaluator, each one once.
pub(crate) struct Loader {
    store: Arc<dyn Store>,
    registry: ModelRegistry,
    evaluator: Evaluator,
    clock: Arc<dyn Clock>,
    /// Every model is loaded (always so with `Loading::AtStart`).
    all: AtomicBool,
    /// The models loaded one by one; held while loading, so that a model
    /// is never loaded twice at once.
    loaded: tokio::sync::Mutex<HashSet<ModelId>>,
}

impl Loader {
    pub fn new(
        store: Arc<dyn Store>,
        registry: ModelRegistry,
        evaluator: Evaluator,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            registry,
            evaluator,
            clock,
            all: AtomicBool::new(false),
            loaded: tokio::sync::Mutex::default(),
        }
    }

    fn everything_loaded(&self) -> bool {
        self.all.load(Ordering::Acquire)
    }

    /// Makes sure the model is loaded: a no-op once it is.
    pub async fn model(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        if self.everything_loaded() {
            return Ok(());
        }
        let mut loaded = self.loaded.lock().await;
        if self.everything_loaded() || loaded.contains(model_id) {
            return Ok(());
        }
        self.fetch(model_id).await?;
        loaded.insert(model_id.clone());
        Ok(())
    }

    /// Reads the model from the store again, loaded or not: for a version
    /// another manager registered since this one last read the change feed.
    pub async fn read_through(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        let mut loaded = self.loaded.lock().await;
        self.fetch(model_id).await?;
        loaded.insert(model_id.clone());
        Ok(())
    }

    /// Makes sure every model is loaded, in one pass over the store.
    pub async fn everything(&self) -> Result<(), LifecycleError> {
        if self.everything_loaded() {
            return Ok(());
        }
        let loaded = self.loaded.lock().await;
        if self.everything_loaded() {
            return Ok(());
        }
        let states = self.store.all_models().await?;
        self.evaluator
            .track_all(states.iter().flat_map(|(_, s)| &s.versions));
        let restored = self.evaluator.restore(&*self.store).await?;
        self.report_unreadable(restored).await?;
        // Routed only once its versions are tracked: a request routed to a
        // version can always record its result.
        self.registry.install(&states);
        self.all.store(true, Ordering::Release);
        drop(loaded);
        Ok(())
    }

    /// Every model's versions with their lifetime metrics, and the alerts
    /// firing: from memory once everything is loaded. A manager that loads
    /// on first use and has not loaded everything reads the records and the
    /// checkpoints instead, and loads nothing: a command about the whole
    /// catalogue (`list`, `status`) then costs one pass over the store, not
    /// tracking and routing every version it will never use.
    pub async fn catalogue(&self) -> Result<Catalogue, LifecycleError> {
        let states = self.store.all_models().await?;
        let saved = match self.everything_loaded() {
            true => Vec::new(),
            false => self.store.all_metrics().await?,
        };
        let mut catalogue = self.assemble(states, saved);
        catalogue
            .firing
            .sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(catalogue)
    }

    /// The catalogue of `states`: a version the evaluator tracks is
    /// answered from memory, any other from its checkpoint in `saved`.
    fn assemble(
        &self,
        states: Vec<(ModelId, ModelState)>,
        saved: Vec<MetricsSnapshot>,
    ) -> Catalogue {
        let checkpoints = MetricsSnapshot::by_version(saved);
        let mut firing = self.evaluator.firing();
        let models = states.len();
        let mut versions = Vec::with_capacity(states.iter().map(|(_, s)| s.versions.len()).sum());
        for (_, state) in states {
            for mut v in state.versions {
                // Tracked (it fails only for a version it does not track): from memory.
                if let Ok(lifetime) = self
                    .evaluator
                    .lifetime_metrics(v.model_id.as_str(), &v.version)
                {
                    v.metrics = Some(lifetime).filter(|m| m.sample_count > 0);
                } else if let Some(saved) =
                    checkpoints.get(&(v.model_id.clone(), v.version.clone()))
                {
                    match self.evaluator.checkpointed(saved, v.cost_info.as_ref()) {
                        Ok(read) => {
                            v.metrics = Some(read.metrics).filter(|m| m.sample_count > 0);
                            if let Some(level) = read.alert {
                                firing.push((v.model_id.clone(), v.version.clone(), level));
                            }
                        }
                        // Reported, and replaced, when the version is loaded.
                        Err(problem) => tracing::warn!(%problem, "metrics checkpoint unreadable"),
                    }
                }
                versions.push(v);
            }
        }
        Catalogue {
            models,
            versions,
            firing,
        }
    }

    /// Whether the model is loaded, so that a change to it must be followed.
    async fn holds(&self, model_id: &ModelId) -> bool {
        self.everything_loaded() || self.loaded.lock().await.contains(model_id)
    }

    /// After this process changed a model: the evaluator learns its
    /// versions as they now are (prices, retired).
    pub async fn retrack(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        let versions = self.registry.versions(model_id).await?;
        self.track(model_id, &versions).await
    }

    /// After another manager changed a model (the change feed): a model
    /// this process holds is brought up to `revision`; one it does not hold
    /// is read fresh when first asked for.
    pub async fn follow(&self, model_id: &ModelId, revision: u64) -> Result<(), LifecycleError> {
        if !self.holds(model_id).await {
            return Ok(());
        }
        if self.registry.routed_revision(model_id.as_str()) >= Some(revision) {
            return Ok(());
        }
        self.fetch(model_id).await
    }

    /// A store filled behind the loader's back (a restored backup): every
    /// model is read again.
    pub async fn reload(&self) -> Result<(), LifecycleError> {
        self.all.store(false, Ordering::Release);
        self.loaded.lock().await.clear();
        self.everything().await
    }

    /// Reads the model, tracks its versions, then installs it in the
    /// router: a request routed to a version can always record its result.
    async fn fetch(&self, model_id: &ModelId) -> Result<(), LifecycleError> {
        let state = self.store.model(model_id).await?;
        self.track(model_id, &state.versions).await?;
        self.registry.install_one(model_id, &state);
        Ok(())
    }

    /// Tracks versions and restores those not restored yet from their
    /// checkpoints (a version registered by another manager may have some).
    async fn track(
        &self,
        model_id: &ModelId,
        versions: &[ModelVersion],
    ) -> Result<(), LifecycleError> {
        self.evaluator.track_all(versions);
        let restored = self.evaluator.restore_model(&*self.store, model_id).await?;
        self.report_unreadable(restored).await
    }

    /// A checkpoint that cannot be read never bricks the store: its
    /// version's statistics start over, a fresh checkpoint replaces it at
    /// once, and an error entry in the audit log says which and why.
    async fn report_unreadable(&self, restored: Restored) -> Result<(), LifecycleError> {
        if restored.unreadable.is_empty() {
            return Ok(());
        }
        self.evaluator.checkpoint(&*self.store, false).await?;
        let actor = Actor::system("evaluator")?;
        for problem in restored.unreadable {
            tracing::error!(%problem, "metrics checkpoint unreadable; statistics start over");
            let event = AuditEvent::new(
                AuditEventKind::Error,
                actor.clone(),
                format!("{problem}; its statistics start over"),
                self.clock.now(),
            );
            self.store.commit(Commit::audit_only().audit(event)).await?;
        }
        Ok(())
    }
}
