//! The service: what it is built from, and the reads its rules share.

use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{Actor, ModelVersion};
use lifecycle_evaluator::Evaluator;
use lifecycle_policy::LifecyclePolicy;
use lifecycle_registry::ModelRegistry;
use lifecycle_store::{Clock, Store};

use crate::DeploymentError;

/// Deployment orchestration over one store: the gate, automatic rollback
/// and maintenance. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Deployments {
    pub(crate) registry: ModelRegistry,
    pub(crate) evaluator: Evaluator,
    pub(crate) policy: Arc<LifecyclePolicy>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Deployments {
    /// Orchestration applying `policy` through `registry` (opened with
    /// `policy.succession()`), judging on what `evaluator` has seen.
    pub fn new(
        registry: ModelRegistry,
        evaluator: Evaluator,
        policy: LifecyclePolicy,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry,
            evaluator,
            policy: Arc::new(policy),
            store,
            clock,
        }
    }

    /// A handle whose moves and decisions are made, and audited, as `actor`.
    pub fn acting_as(&self, actor: Actor) -> Self {
        Self {
            registry: self.registry.acting_as(actor),
            ..self.clone()
        }
    }

    /// A handle whose moves are made only while the model is at `revision`
    /// (see [`ModelRegistry::expecting`]).
    pub fn expecting(&self, revision: u64) -> Self {
        Self {
            registry: self.registry.expecting(revision),
            ..self.clone()
        }
    }

    /// Who this handle's moves are made by.
    pub fn actor(&self) -> &Actor {
        self.registry.actor()
    }

    /// The policy engine it applies.
    pub fn policy(&self) -> &LifecyclePolicy {
        &self.policy
    }

    /// The current time, from the clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `record` with the evaluator's lifetime metrics, when it tracks the
    /// version and has seen results: they live in metrics checkpoints, not
    /// in the version's record.
    pub fn with_metrics(&self, mut record: ModelVersion) -> ModelVersion {
        let lifetime = self
            .evaluator
            .lifetime_metrics(record.model_id.as_str(), &record.version);
        if let Ok(metrics) = lifetime {
            if metrics.sample_count > 0 {
                record.metrics = Some(metrics);
            }
        }
        record
    }

    /// Every version of every model, in one read of the store.
    pub(crate) async fn all_versions(&self) -> Result<Vec<ModelVersion>, DeploymentError> {
        let states = self.store.all_models().await?;
        Ok(states.into_iter().flat_map(|(_, s)| s.versions).collect())
    }
}
