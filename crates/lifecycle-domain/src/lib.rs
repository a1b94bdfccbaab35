//! Pure types and rules of model lifecycle management.
//!
//! This crate is the core every other `lifecycle-*` crate builds on. It knows
//! nothing about storage, async runtimes or the clock: every function that
//! needs the time takes `now` as an argument, so every rule here is a plain,
//! deterministic function that cannot fail for environmental reasons.
//!
//! - [`ModelVersion`] is one version of one model; it moves between
//!   [`ModelStatus`]es only along the table of [`ModelStatus::can_transition_to`].
//! - [`Version`] is strict SemVer in which build metadata never matters;
//!   [`ModelId`] and [`Actor`] are validated names.
//! - [`AuditEvent`]s are sealed into [`AuditLogEntry`]s that form a SHA-256
//!   hash chain, checked by [`verify_chain`].
//! - [`EvaluationConfig`] and [`PolicyConfig`] hold validated settings.
//!
//! Every rule a value can break is a [`DomainError`] whose message says what
//! to do. If you are building an application, you probably want the
//! `lifecycle` facade crate, which re-exports these types.

mod audit;
mod bounds;
mod capabilities;
mod config;
mod deprecation;
mod error;
mod inference;
mod metrics;
mod model_version;
mod money;
mod names;
mod replay;
mod serving;
mod status;
mod succession;
mod version;

pub use audit::{
    detail, verify_chain, AuditEvent, AuditEventKind, AuditHash, AuditLogEntry, ChainError,
    ChainHead, ChainProblem, Severity,
};
pub use bounds::{
    earliest_time, latest_time, MAX_CONSECUTIVE_VIOLATIONS, MAX_COST_PER_REQUEST,
    MAX_COUNT_SETTING, MAX_GRACE_DAYS, MAX_LATENCY_MS, MAX_PRICE_DECIMALS, MAX_PRICE_PER_1K,
    MAX_TOKENS, MAX_WINDOW_SECS, MIN_WINDOW_SECS,
};
pub use capabilities::{ModelCapabilities, ModelCostInfo};
pub use config::{
    EvaluationConfig, EvaluationSettings, LatencyStatistic, PolicyConfig, PolicySettings, Settings,
    Validated,
};
pub use deprecation::{CanaryWeight, ModelDeprecationInfo};
pub use error::{shorten, AllowedTargets, DomainError};
pub use inference::{ErrorKind, InferenceResult};
pub use metrics::{figure, ModelPerformanceMetrics, QuantileMethod, Threshold, ThresholdViolation};
pub use model_version::ModelVersion;
pub use money::parse_decimal;
pub use names::{Actor, ModelId};
pub use replay::{AuditReplay, Replayed};
pub use serving::{PromptRef, ServingSpec};
pub use status::ModelStatus;
pub use succession::{Displaced, Succession};
pub use version::Version;

/// The `chrono` this crate's types use, so that dependants agree on it.
pub use chrono;
/// The exact decimal type of prices and costs.
pub use rust_decimal::Decimal;
/// `dec!(0.0025)`: a [`Decimal`] literal, checked when compiled.
pub use rust_decimal_macros::dec;
/// The `semver` this crate's types use (for `VersionReq`).
pub use semver;
