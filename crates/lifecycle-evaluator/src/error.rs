//! The evaluator's errors.

use lifecycle_domain::{DomainError, ModelId, Version};

/// Why a result was not recorded, or a version not evaluated. Nothing was recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluatorError {
    /// The result itself is invalid (NaN or negative latency, confidence outside [0, 1]...).
    #[error(transparent)]
    Invalid(#[from] DomainError),

    /// The version is not tracked: not registered, or not told to the evaluator.
    #[error("{model_id} {version} is not a tracked version; register it (the facade tracks registered versions)")]
    UnknownVersion {
        /// The model.
        model_id: String,
        /// The version.
        version: Version,
    },

    /// Saving or loading a checkpoint failed in the store.
    #[error("metrics checkpoint: {0}")]
    Store(#[from] lifecycle_store::StoreError),

    /// A stored checkpoint cannot be read back.
    #[error("the metrics checkpoint of {model_id} {version} cannot be read ({reason}); it was written by another version of lifecycle or damaged")]
    Checkpoint {
        /// The model.
        model_id: ModelId,
        /// The version.
        version: Version,
        /// What failed.
        reason: String,
    },

    /// The result's own time is more than a minute ahead of the clock.
    #[error("at: {at} is {skew_secs} s ahead of this clock (at most 60 s are allowed); send the time the request happened, or fix the sender's clock")]
    FromTheFuture {
        /// The result's time.
        at: lifecycle_domain::chrono::DateTime<lifecycle_domain::chrono::Utc>,
        /// How far ahead, in seconds.
        skew_secs: i64,
    },

    /// The version is retired: it must not serve traffic.
    #[error("{model_id} {version} is retired; results for it are refused — route traffic to a usable version")]
    Retired {
        /// The model.
        model_id: ModelId,
        /// The version.
        version: Version,
    },
}
