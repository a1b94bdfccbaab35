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

    /// The model is no longer at the revision the caller's change was
    /// decided on (an HTTP `If-Match`, say): nothing was changed.
    #[error("{model_id} is at revision {current}, not {expected}: read it again and decide on what it is now")]
    RevisionMismatch {
        /// The model.
        model_id: ModelId,
        /// The revision the caller named.
        expected: u64,
        /// The model's revision now.
        current: u64,
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
    #[error("model {model_id} has no canary; start one first (`lifecycle canary start`; `start_canary` in the library)")]
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

    /// A rollback that is not a return to an earlier active version.
    #[error("cannot roll {model_id} back to {version} ({status}): {reason}")]
    InvalidRollbackTarget {
        /// The model.
        model_id: ModelId,
        /// The target.
        version: Version,
        /// Its status.
        status: ModelStatus,
        /// Why, and what to do instead.
        reason: String,
    },

    /// A deprecation's replacement that users could not move to.
    #[error("cannot name {model_id} {replacement} as the replacement: {reason}")]
    InvalidReplacement {
        /// The model.
        model_id: ModelId,
        /// The replacement asked for.
        replacement: Version,
        /// Why, and what to do instead.
        reason: String,
    },

    /// A canary is judged against the active version and takes only its
    /// share: without an active version it would take every request.
    #[error("cannot start {version} as a canary of {model_id}: nothing is active to share traffic with; activate a version first (`lifecycle activate`)")]
    CanaryWithoutActive {
        /// The model.
        model_id: ModelId,
        /// The would-be canary.
        version: Version,
    },

    /// The active version cannot be taken out of service while a canary
    /// runs: the canary would take every request while it claims a share.
    #[error("the active version of {model_id} must stay while canary {canary} takes {weight} % of traffic; promote or abort the canary first (`lifecycle canary promote|abort {model_id}`)")]
    CanaryNeedsActive {
        /// The model.
        model_id: ModelId,
        /// The running canary.
        canary: Version,
        /// Its weight in percent.
        weight: u8,
    },

    /// A value or transition broke a domain rule.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The store failed, or concurrent changes kept conflicting after retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}
