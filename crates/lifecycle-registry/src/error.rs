//! The registry's errors: what went wrong with an operation, and what to do.

use lifecycle_domain::{DomainError, ModelId, ModelStatus, Version};
use lifecycle_store::StoreError;

/// Why a registry operation failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The version is registered already (build metadata does not make a new version).
    #[error("{model_id} {version} is already registered; register a new version number")]
    VersionAlreadyExists {
        /// The model.
        model_id: ModelId,
        /// The version.
        version: Version,
    },

    /// A new version must start inactive.
    #[error("{model_id} {version} is given as {status}; register versions as inactive, then move them with the lifecycle operations")]
    NotInactive {
        /// The model.
        model_id: ModelId,
        /// The version.
        version: Version,
        /// The status given.
        status: ModelStatus,
    },

    /// The model has no versions.
    #[error("model {model_id} is not registered; register a version of it first")]
    UnknownModel {
        /// The model.
        model_id: ModelId,
    },

    /// The model has no such version.
    #[error("model {model_id} has no version {version}; registered versions: {known}")]
    UnknownVersion {
        /// The model.
        model_id: ModelId,
        /// The version asked for.
        version: Version,
        /// The versions it has, for the message.
        known: String,
    },

    /// The operation needs a canary and the model has none.
    #[error("model {model_id} has no canary; start one with start_canary")]
    NoCanary {
        /// The model.
        model_id: ModelId,
    },

    /// The model already has a canary.
    #[error("model {model_id} already has canary {version}; promote or abort it first")]
    CanaryRunning {
        /// The model.
        model_id: ModelId,
        /// The running canary.
        version: Version,
    },

    /// No usable version satisfies the requirement.
    #[error("model {model_id} has no usable version matching {requirement}")]
    NoMatchingVersion {
        /// The model, as asked for.
        model_id: String,
        /// The requirement, as given.
        requirement: String,
    },

    /// A rollback target that cannot serve.
    #[error("cannot roll {model_id} back to {version}: it is {status}; choose a version that is not retired and not already active")]
    InvalidRollbackTarget {
        /// The model.
        model_id: ModelId,
        /// The target.
        version: Version,
        /// Its status.
        status: ModelStatus,
    },

    /// A value or transition broke a domain rule.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The store failed, or concurrent changes kept conflicting after retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}
