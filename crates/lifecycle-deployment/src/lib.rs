//! Deployment orchestration: where the policy's rules meet the registry's
//! moves. [`Deployments`] asks the policy engine (`lifecycle-policy`, pure)
//! with what the evaluator has seen, and makes the move the answer allows
//! through the registry, in one commit at one revision:
//!
//! - [`Deployments::deploy`]: the deployment gate and the activation it
//!   allows (or the refusal alone), with an operator's audited override;
//! - [`Deployments::on_alert`]: automatic rollback on a critical alert, to
//!   the last version that was active and meets its thresholds;
//! - [`Deployments::run_maintenance`]: retirement at end of life, on one
//!   manager at a time (a lease in the store).
//!
//! The facade (`lifecycle`) wires one and calls it; nothing here chooses a
//! store or spawns a task.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use lifecycle_deployment::Deployments;
//! use lifecycle_domain::*;
//! use lifecycle_evaluator::Evaluator;
//! use lifecycle_policy::LifecyclePolicy;
//! use lifecycle_registry::{ModelRegistry, Target};
//! use lifecycle_store::{Clock, MemoryStore, Store, SystemClock};
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let clock: Arc<dyn Clock> = Arc::new(SystemClock);
//! let policy = LifecyclePolicy::default();
//! let registry = ModelRegistry::new(store.clone(), clock.clone(), policy.succession(), Actor::new("alice")?);
//! let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
//! let deployments = Deployments::new(registry.clone(), evaluator, policy, store, clock);
//!
//! let model = ModelId::new("gpt-4-turbo")?;
//! let v1 = Version::new(1, 0, 0);
//! registry.register(ModelVersion::new(model.clone(), v1.clone(), "openai",
//!     ModelCapabilities::new(128_000, 4_096), ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
//!     deployments.now())).await?;
//! // The first version of a model, without results yet, may go live.
//! let deployed = deployments.deploy(&model, Target::Version(&v1), None).await?;
//! assert!(deployed.decision.approved);
//! assert_eq!(deployed.version.status(), ModelStatus::Active);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod deployments;
mod error;
mod gate;
mod maintenance;
mod rollback;

pub use deployments::Deployments;
pub use error::DeploymentError;
pub use gate::Deployed;
pub use maintenance::{MaintenanceReport, RetiredVersion};
pub use rollback::Rollback;
