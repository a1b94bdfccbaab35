//! Performance figures of a model version and how they are judged against thresholds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use rust_decimal::Decimal;

use crate::bounds::{check_latency, check_time};
use crate::config::{EvaluationConfig, LatencyStatistic};
use crate::error::fraction;
use crate::inference::ErrorKind;
use crate::DomainError;

/// A summary of how a version has performed, as published by the evaluator.
///
/// Latency figures cover successful requests only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPerformanceMetrics {
    /// Requests recorded.
    pub sample_count: u64,
    /// Requests that succeeded.
    pub success_count: u64,
    /// Requests that failed. `success_count + failure_count == sample_count`.
    pub failure_count: u64,
    /// Mean latency of successful requests, in milliseconds; `None` (JSON
    /// `null`) when none succeeded: absent, never 0.
    pub mean_latency_ms: Option<f64>,
    /// Median latency of successful requests, in milliseconds; `None` when none succeeded.
    pub p50_latency_ms: Option<f64>,
    /// 95th percentile latency of successful requests, in milliseconds; `None` when none succeeded.
    pub p95_latency_ms: Option<f64>,
    /// 99th percentile latency of successful requests, in milliseconds; `None` when none succeeded.
    pub p99_latency_ms: Option<f64>,
    /// How the percentiles were computed, over the `success_count`
    /// successful requests.
    #[serde(default)]
    pub latency_quantiles: QuantileMethod,
    /// Failed requests by kind, for the kinds that occurred: a rate-limit
    /// spike and a model regression call for different responses.
    #[serde(default)]
    pub failures_by_kind: BTreeMap<ErrorKind, u64>,
    /// Mean confidence over the requests that reported one; `None` if none did.
    pub mean_confidence: Option<f64>,
    /// Prompt tokens over all requests.
    pub total_input_tokens: u64,
    /// Completion tokens over all requests.
    pub total_output_tokens: u64,
    /// Exact cost of all requests at the version's prices; `None` when its
    /// price is unknown. A JSON string, such as `"1.25"`.
    #[serde(default, with = "crate::money::optional_decimal")]
    pub total_cost: Option<Decimal>,
    /// When these figures were computed.
    pub updated_at: DateTime<Utc>,
}

/// How latency percentiles were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QuantileMethod {
    /// Exactly, from every successful request, by linear interpolation
    /// between order statistics (Hyndman and Fan's R-7, numpy's and
    /// LLMPerf's default): what a user computes from the same requests.
    Exact,
    /// From a DDSketch, within 1 % of the exact value: once a span holds
    /// more successful requests than are kept exactly.
    #[default]
    Sketch,
}

impl QuantileMethod {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact (R-7)",
            Self::Sketch => "sketch (within 1%)",
        }
    }
}

impl ModelPerformanceMetrics {
    /// Share of requests that failed; 0 when there are none.
    pub fn error_rate(&self) -> f64 {
        ratio(self.failure_count, self.sample_count)
    }

    /// Share of requests that succeeded; 0 when there are none.
    pub fn success_rate(&self) -> f64 {
        ratio(self.success_count, self.sample_count)
    }

    /// The latency figure for a statistic; `None` when no request succeeded.
    pub fn latency(&self, statistic: LatencyStatistic) -> Option<f64> {
        match statistic {
            LatencyStatistic::Mean => self.mean_latency_ms,
            LatencyStatistic::P50 => self.p50_latency_ms,
            LatencyStatistic::P95 => self.p95_latency_ms,
            LatencyStatistic::P99 => self.p99_latency_ms,
        }
    }

    /// Every threshold these metrics break, with the observed value and the limit.
    ///
    /// Too few samples is itself a violation ([`Threshold::MinSamples`]); a
    /// confidence threshold is not judged when no request reported a confidence.
    pub fn threshold_violations(&self, config: &EvaluationConfig) -> Vec<ThresholdViolation> {
        let c = config.settings();
        let mut found = Vec::new();
        let mut check = |threshold, observed: f64, limit: f64, broken: bool| {
            if broken {
                found.push(ThresholdViolation {
                    threshold,
                    observed,
                    limit,
                });
            }
        };
        let samples = self.sample_count as f64;
        let min_samples = c.min_samples as f64;
        check(
            Threshold::MinSamples,
            samples,
            min_samples,
            samples < min_samples,
        );
        let error_rate = self.error_rate();
        check(
            Threshold::MaxErrorRate,
            error_rate,
            c.max_error_rate,
            error_rate > c.max_error_rate,
        );
        let success_rate = self.success_rate();
        check(
            Threshold::MinSuccessRate,
            success_rate,
            c.min_success_rate,
            success_rate < c.min_success_rate,
        );
        // Without a successful request there is no latency to judge (the
        // success rate fails instead).
        if let Some(latency) = self.latency(c.latency_statistic) {
            check(
                Threshold::MaxLatency(c.latency_statistic),
                latency,
                c.max_latency_ms,
                latency > c.max_latency_ms,
            );
        }
        if let Some(confidence) = self.mean_confidence {
            check(
                Threshold::MinConfidence,
                confidence,
                c.min_confidence,
                confidence < c.min_confidence,
            );
        }
        found
    }

    /// Checks counts, latencies, confidence and cost for consistency.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.success_count.checked_add(self.failure_count) != Some(self.sample_count) {
            return Err(DomainError::field(
                "metrics.sampleCount",
                format!(
                    "{} is not successCount {} + failureCount {}",
                    self.sample_count, self.success_count, self.failure_count
                ),
            ));
        }
        let by_kind = self
            .failures_by_kind
            .values()
            .try_fold(0_u64, |sum, n| sum.checked_add(*n));
        if !self.failures_by_kind.is_empty() && by_kind != Some(self.failure_count) {
            return Err(DomainError::field(
                "metrics.failuresByKind",
                format!(
                    "the kinds sum to {}, not failureCount {}",
                    by_kind.map_or("more than 2^64".to_string(), |n| n.to_string()),
                    self.failure_count
                ),
            ));
        }
        for (field, latency) in [
            ("metrics.meanLatencyMs", self.mean_latency_ms),
            ("metrics.p50LatencyMs", self.p50_latency_ms),
            ("metrics.p95LatencyMs", self.p95_latency_ms),
            ("metrics.p99LatencyMs", self.p99_latency_ms),
        ] {
            if let Some(ms) = latency {
                check_latency(field, ms)?;
            }
        }
        if self
            .total_cost
            .is_some_and(|c| c.is_sign_negative() && !c.is_zero())
        {
            return Err(DomainError::field(
                "metrics.totalCost",
                "must not be negative",
            ));
        }
        check_time("metrics.updatedAt", self.updated_at)?;
        if let Some(confidence) = self.mean_confidence {
            fraction("metrics.meanConfidence", confidence)?;
        }
        Ok(())
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A threshold of [`EvaluationConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "statistic")]
pub enum Threshold {
    /// Enough samples to judge.
    MinSamples,
    /// Error rate at most the limit.
    MaxErrorRate,
    /// Success rate at least the limit.
    MinSuccessRate,
    /// The latency statistic at most the limit, in milliseconds.
    MaxLatency(LatencyStatistic),
    /// Mean confidence at least the limit.
    MinConfidence,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MinSamples => f.write_str("minimum samples"),
            Self::MaxErrorRate => f.write_str("maximum error rate"),
            Self::MinSuccessRate => f.write_str("minimum success rate"),
            Self::MaxLatency(s) => write!(f, "maximum {} latency (ms)", s.as_str()),
            Self::MinConfidence => f.write_str("minimum confidence"),
        }
    }
}

/// A threshold broken: what was observed against what was allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdViolation {
    /// The threshold.
    pub threshold: Threshold,
    /// The observed value.
    pub observed: f64,
    /// The configured limit.
    pub limit: f64,
}

impl std::fmt::Display for ThresholdViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: observed {}, limit {}",
            self.threshold,
            figure(self.observed),
            figure(self.limit)
        )
    }
}

/// A measured figure for people: four significant digits, no trailing zeros.
///
/// ```
/// use lifecycle_domain::figure;
/// assert_eq!(figure(0.1718213058), "0.1718");
/// assert_eq!(figure(1720.33), "1720");
/// assert_eq!(figure(0.05), "0.05");
/// assert_eq!(figure(1.0), "1");
/// ```
pub fn figure(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 9) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
