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

/// What kind of failure an error is, for whoever answers the caller: the
/// CLI's exit code and (next) the server's HTTP status come from this one
/// classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// No such model, version or canary (HTTP 404).
    NotFound,
    /// The request is valid, but not in the state things are in: an illegal
    /// transition, a version registered already, a concurrent change, a
    /// batch recorded before, a store that is not empty (HTTP 409).
    Conflict,
    /// The input breaks a rule: a bad value, a damaged or newer backup, a
    /// result from the future (HTTP 400).
    InvalidInput,
    /// The deployment policy refused (HTTP 403; CLI exit 3).
    Rejected,
    /// The store or the manager cannot serve now: in use, closed, damaged,
    /// disposed, an I/O failure (HTTP 503).
    Unavailable,
}

impl LifecycleError {
    /// Whether this is [`ModelLifecycleManager::record_batch`] refusing a
    /// batch id recorded before: the retry of a batch that landed, not a
    /// failure to report.
    ///
    /// [`ModelLifecycleManager::record_batch`]: crate::ModelLifecycleManager::record_batch
    pub fn is_batch_recorded(&self) -> bool {
        matches!(
            self,
            Self::Store(lifecycle_store::StoreError::BatchRecorded { .. })
                | Self::Evaluator(lifecycle_evaluator::EvaluatorError::Store(
                    lifecycle_store::StoreError::BatchRecorded { .. }
                ))
        )
    }

    /// The revision a move expected and the model's revision now, when the
    /// move failed because the model had changed
    /// ([`crate::ModelLifecycleManager::expecting_revision`]).
    pub fn revision_mismatch(&self) -> Option<(u64, u64)> {
        match self {
            Self::Registry(lifecycle_registry::RegistryError::RevisionMismatch {
                expected,
                current,
                ..
            }) => Some((*expected, *current)),
            _ => None,
        }
    }

    /// The kind of failure this is.
    ///
    /// ```
    /// use lifecycle::*;
    /// let err = LifecycleError::from(Version::parse("v1").unwrap_err());
    /// assert_eq!(err.class(), ErrorClass::InvalidInput);
    /// ```
    pub fn class(&self) -> ErrorClass {
        use lifecycle_registry::RegistryError as R;
        match self {
            Self::Rejected(_) => ErrorClass::Rejected,
            Self::Disposed => ErrorClass::Unavailable,
            Self::Domain(e) => domain_class(e),
            Self::Store(e) => store_class(e),
            Self::Evaluator(e) => evaluator_class(e),
            Self::Audit(e) => match e {
                lifecycle_audit::AuditError::Store(e) => store_class(e),
                lifecycle_audit::AuditError::Write(_) | lifecycle_audit::AuditError::Encode(_) => {
                    ErrorClass::Unavailable
                }
                _ => ErrorClass::InvalidInput,
            },
            Self::Backup(e) => match e {
                crate::BackupError::Io(_) => ErrorClass::Unavailable,
                _ => ErrorClass::InvalidInput,
            },
            Self::Registry(e) => match e {
                R::UnknownModel { .. }
                | R::UnknownVersion { .. }
                | R::NoCanary { .. }
                | R::NoMatchingVersion { .. } => ErrorClass::NotFound,
                R::Domain(e) => domain_class(e),
                R::Store(e) => store_class(e),
                _ => ErrorClass::Conflict,
            },
        }
    }
}

fn domain_class(error: &lifecycle_domain::DomainError) -> ErrorClass {
    match error {
        lifecycle_domain::DomainError::IllegalTransition { .. } => ErrorClass::Conflict,
        _ => ErrorClass::InvalidInput,
    }
}

fn store_class(error: &lifecycle_store::StoreError) -> ErrorClass {
    use lifecycle_store::StoreError as S;
    match error {
        S::UnknownVersion { .. } => ErrorClass::NotFound,
        S::Conflict { .. }
        | S::TwoInStatus { .. }
        | S::BatchRecorded { .. }
        | S::NotEmpty { .. }
        | S::LeaseLost { .. } => ErrorClass::Conflict,
        S::Domain(e) => domain_class(e),
        S::InvalidCommit { .. } | S::InvalidImage { .. } => ErrorClass::InvalidInput,
        _ => ErrorClass::Unavailable,
    }
}

fn evaluator_class(error: &lifecycle_evaluator::EvaluatorError) -> ErrorClass {
    use lifecycle_evaluator::EvaluatorError as E;
    match error {
        E::UnknownVersion { .. } => ErrorClass::NotFound,
        E::Invalid(e) => domain_class(e),
        E::Store(e) => store_class(e),
        E::Retired { .. } => ErrorClass::Conflict,
        E::FromTheFuture { .. } => ErrorClass::InvalidInput,
        _ => ErrorClass::Unavailable,
    }
}

impl From<lifecycle_deployment::DeploymentError> for LifecycleError {
    /// Each cause keeps its own variant, so [`LifecycleError::class`] reads
    /// it as it reads the same error from any other service.
    fn from(error: lifecycle_deployment::DeploymentError) -> Self {
        use lifecycle_deployment::DeploymentError as D;
        match error {
            D::Rejected(decision) => Self::Rejected(decision),
            D::Registry(e) => Self::Registry(e),
            D::Store(e) => Self::Store(e),
            D::Domain(e) => Self::Domain(e),
        }
    }
}
