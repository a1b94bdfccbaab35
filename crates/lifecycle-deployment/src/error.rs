//! Why an orchestrated move failed. Nothing was changed but what the error says.

use lifecycle_policy::DeploymentDecision;

/// Why a [`crate::Deployments`] call failed. Exhaustive on purpose: the
/// facade maps each cause onto its own error class.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The policy refused the deployment; the decision says why and what to
    /// deploy instead. The refusal is in the audit log; nothing moved.
    #[error("deployment rejected: {}", .0.reason)]
    Rejected(Box<DeploymentDecision>),

    /// The registry refused or failed the move.
    #[error(transparent)]
    Registry(#[from] lifecycle_registry::RegistryError),

    /// The store failed.
    #[error(transparent)]
    Store(#[from] lifecycle_store::StoreError),

    /// A value broke a domain rule (an override without its reason, say).
    #[error(transparent)]
    Domain(#[from] lifecycle_domain::DomainError),
}
