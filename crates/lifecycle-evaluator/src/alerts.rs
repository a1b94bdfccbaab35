//! Alerts: a version's health as a small state machine, announced on change only.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    figure, EvaluationConfig, ModelId, ModelPerformanceMetrics, Threshold, Version,
};
use serde::{Deserialize, Serialize};

use crate::{EvaluationReport, EvaluationStatus};

/// How a version is doing, as alerts report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertLevel {
    /// Healthy again after a warning or a critical alert.
    Resolved,
    /// A metric is within 10 % of its limit, or a threshold is broken but
    /// not yet for the configured number of consecutive evaluations.
    Warning,
    /// A threshold is broken, with enough samples in the window.
    Critical,
}

/// A change in a version's health.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// The new level.
    pub level: AlertLevel,
    /// The threshold concerned (none for `Resolved`).
    pub threshold: Option<Threshold>,
    /// In words: what, how far off, over which window.
    pub message: String,
    /// The observed value of that threshold's metric.
    pub observed: Option<f64>,
    /// The threshold's limit.
    pub limit: Option<f64>,
    /// When the evaluation that raised it ran.
    pub at: DateTime<Utc>,
}

/// Where a version's health stands between evaluations; saved with the
/// version's checkpoint, so a restart neither forgets nor repeats an alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Health {
    level: Option<AlertLevel>,
    consecutive_violations: u64,
}

impl Health {
    /// The level last announced, if the version is not healthy.
    pub fn level(&self) -> Option<AlertLevel> {
        self.level
    }

    /// Feeds one evaluation; returns the alert to send when the level changed.
    pub fn observe(
        &mut self,
        report: &EvaluationReport,
        config: &EvaluationConfig,
    ) -> Option<Alert> {
        let settings = config.settings();
        let alert = |level, threshold, observed, limit, message: String| Alert {
            model_id: report.model_id.clone(),
            version: report.version.clone(),
            level,
            threshold,
            message,
            observed,
            limit,
            at: report.generated_at,
        };
        if let EvaluationStatus::InsufficientData { .. } = report.status {
            // Too little data says nothing new: keep the current level.
            return None;
        }
        let name = format!("{} {}", report.model_id, report.version);
        let window = format!(
            "over the last {} s ({} samples)",
            report.window_secs, report.samples
        );
        let (level, candidate) = if let Some(broken) = report.violations.first() {
            self.consecutive_violations += 1;
            let level =
                if self.consecutive_violations >= settings.consecutive_violations_for_critical {
                    AlertLevel::Critical
                } else {
                    AlertLevel::Warning
                };
            let message = format!("{name}: {broken} {window}");
            let a = alert(
                level,
                Some(broken.threshold),
                Some(broken.observed),
                Some(broken.limit),
                message,
            );
            (Some(level), Some(a))
        } else {
            self.consecutive_violations = 0;
            match near_limit(&report.metrics, config) {
                Some((threshold, observed, limit)) => {
                    let message = format!(
                        "{name}: {threshold} at {}, within 10 % of the limit {} {window}",
                        figure(observed),
                        figure(limit)
                    );
                    (
                        Some(AlertLevel::Warning),
                        Some(alert(
                            AlertLevel::Warning,
                            Some(threshold),
                            Some(observed),
                            Some(limit),
                            message,
                        )),
                    )
                }
                None => (None, None),
            }
        };
        if level == self.level {
            return None;
        }
        let previous = std::mem::replace(&mut self.level, level);
        match candidate {
            Some(a) => Some(a),
            None if previous.is_some() => Some(alert(
                AlertLevel::Resolved,
                None,
                None,
                None,
                format!("{name} is healthy again {window}"),
            )),
            None => None,
        }
    }
}

/// The first metric within 10 % of its limit: latency and error rate at 90 %
/// of their maximum or more; confidence within 10 % of the room between its
/// minimum and 1. (Success rate mirrors error rate and is not repeated.)
fn near_limit(
    metrics: &ModelPerformanceMetrics,
    config: &EvaluationConfig,
) -> Option<(Threshold, f64, f64)> {
    let c = config.settings();
    let latency = metrics.latency(c.latency_statistic);
    if let Some(latency) = latency.filter(|l| *l >= 0.9 * c.max_latency_ms) {
        return Some((
            Threshold::MaxLatency(c.latency_statistic),
            latency,
            c.max_latency_ms,
        ));
    }
    let error_rate = metrics.error_rate();
    if error_rate >= 0.9 * c.max_error_rate && error_rate > 0.0 {
        return Some((Threshold::MaxErrorRate, error_rate, c.max_error_rate));
    }
    let confidence = metrics.mean_confidence?;
    (confidence <= c.min_confidence + 0.1 * (1.0 - c.min_confidence)).then_some((
        Threshold::MinConfidence,
        confidence,
        c.min_confidence,
    ))
}
