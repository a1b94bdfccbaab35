//! Model lifecycle management for teams shipping features on hosted AI
//! models: know which model version serves traffic, roll a new one out
//! safely behind a canary, watch how each version performs, retire old ones
//! on schedule, and prove afterwards who changed what.
//!
//! [`ModelLifecycleManager`] is the one object an application holds. It
//! wires the registry and router (`lifecycle-registry`), the evaluator
//! (`lifecycle-evaluator`), the policy engine (`lifecycle-policy`) and the
//! audit log (`lifecycle-audit`) over a store: the durable sled store by
//! default, or memory, or any adapter of `lifecycle-store` — one line in the
//! [`Builder`].
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use lifecycle::*;
//! let manager = ModelLifecycleManager::builder().memory().build().await?;
//! let model = ModelId::new("gpt-4-turbo")?;
//! let now = manager.now();
//! let v1 = ModelVersion::new(model.clone(), Version::new(1, 0, 0), "openai",
//!     ModelCapabilities::new(128_000, 4_096), ModelCostInfo::usd(dec!(0.01), dec!(0.03)), now);
//! manager.register_model(v1).await?;
//! manager.activate_model(&model, &Version::new(1, 0, 0)).await?;
//! let routed = manager.route("gpt-4-turbo", b"user-42")?.expect("an active version");
//! manager.record_inference("gpt-4-turbo", &routed.version.version,
//!     &InferenceResult::success(420.0).with_tokens(900, 120))?;
//! # manager.dispose().await?;
//! # Ok::<(), LifecycleError>(())
//! # }).unwrap();
//! ```
//!
//! Each layer is also here as a module of its own — [`domain`],
//! [`registry`], [`evaluator`], [`policy`], [`audit`], [`store`],
//! [`store_sled`], [`store_postgres`] — so code that reaches past the facade names where a type
//! lives (`lifecycle::registry::ModelRegistry`) without a dependency on
//! each crate. The root names only what an application uses with the
//! manager: its inputs (`ModelVersion`, `InferenceResult`, configs...) and
//! its results and errors.
//!
//! ```
//! use std::sync::Arc;
//! use lifecycle::store::{MemoryStore, Store};
//! use lifecycle::domain::ModelId;
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let model = ModelId::new("gpt-4-turbo").unwrap();
//! # let _ = (store, model);
//! ```

pub use lifecycle_audit as audit;
pub use lifecycle_deployment as deployment;
pub use lifecycle_domain as domain;
pub use lifecycle_evaluator as evaluator;
pub use lifecycle_policy as policy;
pub use lifecycle_registry as registry;
pub use lifecycle_store as store;
pub use lifecycle_store_postgres as store_postgres;
pub use lifecycle_store_sled as store_sled;

mod auto_rollback;
mod backup;
mod builder;
mod error;
pub mod litellm;
mod loader;
mod manager;
mod releasable;
mod result_line;
mod status;
mod tasks;

pub use backup::{BackupError, BackupSummary, BACKUP_FORMAT, BACKUP_FORMAT_VERSION};
pub use builder::Builder;
pub use error::{ErrorClass, LifecycleError};
pub use lifecycle_deployment::{Deployed, MaintenanceReport, RetiredVersion};
pub use loader::Loading;
pub use manager::ModelLifecycleManager;
pub use result_line::ResultLine;
pub use status::{Firing, Serving, StatusReport, SystemStatus};

// The names an application uses with the manager; everything else is in
// the layer's module (`lifecycle::domain::AuditHash`, `lifecycle::store::StoreImage`...).
pub use lifecycle_audit::{ComplianceReport, ExportFormat};
pub use lifecycle_domain::{
    chrono, dec, Actor, AuditEventKind, AuditLogEntry, CanaryWeight, Decimal, DomainError,
    ErrorKind, EvaluationConfig, EvaluationSettings, InferenceResult, ModelCapabilities,
    ModelCostInfo, ModelDeprecationInfo, ModelId, ModelPerformanceMetrics, ModelStatus,
    ModelVersion, PolicyConfig, PolicySettings, ServingSpec, Severity, Threshold, Version,
};
pub use lifecycle_evaluator::{
    Alert, AlertLevel, ComparisonConfig, ComparisonReport, EvaluationReport, EvaluationStatus,
    EvaluatorError, Verdict,
};
pub use lifecycle_policy::{DeploymentDecision, DeprecationWarning};
pub use lifecycle_registry::{Lane, Resolved, Routed};
pub use lifecycle_store::{Clock, ManualClock, Store, StoreError, SystemClock};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// docs/concepts.md's examples, compiled and run as doc tests.
#[doc = include_str!("../../../docs/concepts.md")]
#[cfg(doctest)]
pub struct ConceptsDoctests;

/// docs/guide.md's examples, compiled and run as doc tests.
#[doc = include_str!("../../../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
