//! The facade's error: every service's error, plus what only the facade decides.

use lifecycle_policy::DeploymentDecision;

/// Why a `ModelLifecycleManager` call failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The deployment policy rejected the version; the decision says why
    /// and what to deploy instead. The rejection is in the audit log.
    #[error("deployment rejected: {}", .0.reason)]
    Rejected(Box<DeploymentDecision>),

    /// The manager was disposed; create a new one.
    #[error("the lifecycle manager was disposed; build a new one to continue")]
    Disposed,

    /// A registry operation failed.
    #[error(transparent)]
    Registry(#[from] lifecycle_registry::RegistryError),

    /// The evaluator refused a result or a version.
    #[error(transparent)]
    Evaluator(#[from] lifecycle_evaluator::EvaluatorError),

    /// Reading the audit log failed.
    #[error(transparent)]
    Audit(#[from] lifecycle_audit::AuditError),

    /// The store failed.
    #[error(transparent)]
    Store(#[from] lifecycle_store::StoreError),

    /// A backup could not be written or restored.
    #[error(transparent)]
    Backup(#[from] crate::BackupError),

    /// A value broke a domain rule.
    #[error(transparent)]
    Domain(#[from] lifecycle_domain::DomainError),
}
