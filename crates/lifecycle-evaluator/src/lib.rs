//! The evaluator of lifecycle: the outcome of every model request,
//! recorded on the hot path into streaming per-version statistics, and
//! thresholds evaluated over a rolling window.
//!
//! Latency quantiles come from DDSketch (`sketches-ddsketch`, a port of
//! Datadog's reference implementation): mergeable — the rolling window is a
//! merge of sub-window sketches — with a guaranteed 1 % relative error on
//! every quantile and a bounded number of bins. A t-digest bounds rank
//! error instead, which says little about the value of a tail latency.
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade.

mod alerts;
mod compare;
mod error;
mod evaluator;
mod reservoir;
pub mod significance;
mod stats;
mod window;

pub use alerts::{Alert, AlertLevel};
pub use compare::{
    Class, ComparisonConfig, ComparisonReport, Direction, Metric, MetricComparison, MetricRule,
    Shift, Verdict,
};
pub use error::EvaluatorError;
pub use evaluator::{
    alert_event, too_far_ahead, Checkpointed, EvaluationReport, EvaluationStatus, Evaluator,
    Published, Restored, MAX_FUTURE_SKEW_MS,
};
pub use stats::FailureSummary;
