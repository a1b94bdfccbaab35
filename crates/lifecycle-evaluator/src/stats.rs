//! Streaming statistics of one version over some span of requests, in bounded memory.

use std::collections::BTreeMap;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{ErrorKind, InferenceResult, ModelCostInfo, ModelPerformanceMetrics};
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of latency quantiles: 1 %.
const RELATIVE_ACCURACY: f64 = 0.01;
/// Bins per sketch; latencies from 1 µs to 10⁷ ms need about 1,150 at 1 %,
/// so quantiles keep their guarantee, and memory stays bounded (16 KiB).
const MAX_BINS: u32 = 2_048;
/// Latencies below this (ms) count as zero.
const MIN_VALUE: f64 = 1e-3;

/// Counts, sums and a latency sketch of successful requests, plus a
/// summary of failed ones. Memory does not grow with the number of samples.
#[derive(Clone, Serialize, Deserialize)]
pub struct VersionStats {
    successes: u64,
    /// Failures per [`ErrorKind`], in `ErrorKind::ALL` order.
    failures: [u64; 8],
    /// Latencies of successful requests only: a failure's latency (often 0
    /// or a timeout) would distort them.
    #[serde(with = "empty_sketch_as_none")]
    latency: DDSketch,
    failure_latency_sum: f64,
    failure_latency_max: f64,
    confidence_sum: f64,
    confidence_count: u64,
    input_tokens: u64,
    output_tokens: u64,
}

fn new_sketch() -> DDSketch {
    DDSketch::new(Config::new(RELATIVE_ACCURACY, MAX_BINS, MIN_VALUE))
}

/// An empty sketch holds infinite bounds, which JSON cannot carry: it is
/// saved as `null` and read back as a new empty sketch.
mod empty_sketch_as_none {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use sketches_ddsketch::DDSketch;

    pub fn serialize<S: Serializer>(sketch: &DDSketch, to: S) -> Result<S::Ok, S::Error> {
        (sketch.count() > 0).then_some(sketch).serialize(to)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<DDSketch, D::Error> {
        Ok(Option::<DDSketch>::deserialize(from)?.unwrap_or_else(super::new_sketch))
    }
}

impl Default for VersionStats {
    fn default() -> Self {
        Self {
            successes: 0,
            failures: [0; 8],
            latency: new_sketch(),
            failure_latency_sum: 0.0,
            failure_latency_max: 0.0,
            confidence_sum: 0.0,
            confidence_count: 0,
            input_tokens: 0,
            output_tokens: 0,
        }
    }
}

impl VersionStats {
    /// Adds one (already validated) result. Costs are not summed here:
    /// they follow exactly from the token totals and the version's prices.
    pub fn record(&mut self, result: &InferenceResult) {
        if result.success {
            self.successes += 1;
            self.latency.add(result.latency_ms);
        } else {
            let kind = result.error_kind.unwrap_or(ErrorKind::Other);
            self.failures[kind_index(kind)] += 1;
            self.failure_latency_sum += result.latency_ms;
            self.failure_latency_max = self.failure_latency_max.max(result.latency_ms);
        }
        if let Some(confidence) = result.confidence {
            self.confidence_sum += confidence;
            self.confidence_count += 1;
        }
        self.input_tokens += u64::from(result.input_tokens);
        self.output_tokens += u64::from(result.output_tokens);
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &VersionStats) {
        self.successes += other.successes;
        for (mine, theirs) in self.failures.iter_mut().zip(other.failures) {
            *mine += theirs;
        }
        // Both sketches share one configuration, the only merge error.
        let _ = self.latency.merge(&other.latency);
        self.failure_latency_sum += other.failure_latency_sum;
        self.failure_latency_max = self.failure_latency_max.max(other.failure_latency_max);
        self.confidence_sum += other.confidence_sum;
        self.confidence_count += other.confidence_count;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }

    /// Requests counted.
    pub fn samples(&self) -> u64 {
        self.successes + self.failure_count()
    }

    /// Requests that failed.
    pub fn failure_count(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Failures by kind (kinds that occurred), with their own latency summary.
    pub fn failures(&self) -> FailureSummary {
        let n = self.failure_count();
        FailureSummary {
            by_kind: ErrorKind::ALL
                .into_iter()
                .zip(self.failures)
                .filter(|(_, count)| *count > 0)
                .collect(),
            mean_latency_ms: (n > 0).then(|| self.failure_latency_sum / n as f64),
            max_latency_ms: (n > 0).then_some(self.failure_latency_max),
        }
    }

    /// A latency quantile of successful requests (within 1 % of the true
    /// value), or `None` when there were none.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q).ok().flatten()
    }

    /// The published form, as of `now`, with costs at `prices` (unknown
    /// without them).
    pub fn metrics(
        &self,
        now: DateTime<Utc>,
        prices: Option<&ModelCostInfo>,
    ) -> ModelPerformanceMetrics {
        let mean = match self.successes {
            0 => None,
            n => self.latency.sum().map(|sum| sum / n as f64),
        };
        ModelPerformanceMetrics {
            sample_count: self.samples(),
            success_count: self.successes,
            failure_count: self.failure_count(),
            mean_latency_ms: mean,
            p50_latency_ms: self.latency_quantile(0.50),
            p95_latency_ms: self.latency_quantile(0.95),
            p99_latency_ms: self.latency_quantile(0.99),
            mean_confidence: (self.confidence_count > 0)
                .then(|| self.confidence_sum / self.confidence_count as f64),
            total_input_tokens: self.input_tokens,
            total_output_tokens: self.output_tokens,
            total_cost: prices.map(|p| p.estimate_cost(self.input_tokens, self.output_tokens)),
            updated_at: now,
        }
    }
}

/// Failed requests of a version: how many of each kind, and how long they took.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureSummary {
    /// Failures per kind, for the kinds that occurred.
    pub by_kind: BTreeMap<ErrorKind, u64>,
    /// Mean latency of failed requests, in ms.
    pub mean_latency_ms: Option<f64>,
    /// Largest latency of a failed request, in ms.
    pub max_latency_ms: Option<f64>,
}

fn kind_index(kind: ErrorKind) -> usize {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ErrorKind::ALL.len() - 1)
}
