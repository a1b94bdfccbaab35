//! Streaming statistics of one version over some span of requests, in bounded memory.

use std::collections::BTreeMap;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    ErrorKind, InferenceResult, ModelCostInfo, ModelPerformanceMetrics, QuantileMethod,
};
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of latency quantiles: 1 %.
const RELATIVE_ACCURACY: f64 = 0.01;
/// Bins per sketch; latencies from 1 µs to 10⁷ ms need about 1,150 at 1 %,
/// so quantiles keep their guarantee, and memory stays bounded (16 KiB).
const MAX_BINS: u32 = 2_048;
/// Latencies below this (ms) count as zero.
const MIN_VALUE: f64 = 1e-3;
/// Successful requests a span keeps exactly: up to this many, quantiles
/// are the ones a user computes (8 bytes a request, at most 32 KiB a
/// sub-window and shard); beyond, the sketch answers.
pub const EXACT_LIMIT: usize = 4_096;

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
    /// Every successful request's latency while the span holds at most
    /// `EXACT_LIMIT` of them (exact R-7 quantiles); `None` beyond, and in
    /// checkpoints written before exact samples were kept.
    #[serde(default)]
    exact: Option<Vec<f64>>,
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
            exact: Some(Vec::new()),
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
            if let Some(exact) = &mut self.exact {
                if exact.len() < EXACT_LIMIT {
                    exact.push(result.latency_ms);
                } else {
                    self.exact = None;
                }
            }
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
        self.exact = match (self.exact.take(), &other.exact) {
            (Some(mut mine), Some(theirs)) if mine.len() + theirs.len() <= EXACT_LIMIT => {
                mine.extend_from_slice(theirs);
                Some(mine)
            }
            _ => None,
        };
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

    /// Latency quantiles of successful requests, `None` when there were
    /// none: exact while every latency is kept, else from the sketch
    /// (within 1 % of the true value).
    pub fn latency_quantiles(&self, qs: &[f64]) -> (Vec<Option<f64>>, QuantileMethod) {
        match self.exact_latencies() {
            Some(mut exact) => {
                exact.sort_unstable_by(f64::total_cmp);
                let values = qs.iter().map(|q| r7(&exact, *q)).collect();
                (values, QuantileMethod::Exact)
            }
            None => {
                let values = qs
                    .iter()
                    .map(|q| self.latency.quantile(*q).ok().flatten())
                    .collect();
                (values, QuantileMethod::Sketch)
            }
        }
    }

    /// How many latencies it keeps exactly.
    pub fn exact_len(&self) -> usize {
        self.exact.as_ref().map_or(0, Vec::len)
    }

    /// Stops keeping exact latencies: its quantiles come from the sketch.
    pub fn forget_exact(&mut self) {
        self.exact = None;
    }

    /// Every successful request's latency, if all are kept.
    fn exact_latencies(&self) -> Option<Vec<f64>> {
        self.exact
            .as_ref()
            .filter(|e| e.len() as u64 == self.successes)
            .cloned()
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
        let (quantiles, method) = self.latency_quantiles(&[0.50, 0.95, 0.99]);
        ModelPerformanceMetrics {
            sample_count: self.samples(),
            success_count: self.successes,
            failure_count: self.failure_count(),
            mean_latency_ms: mean,
            p50_latency_ms: quantiles[0],
            p95_latency_ms: quantiles[1],
            p99_latency_ms: quantiles[2],
            latency_quantiles: method,
            failures_by_kind: self.failures().by_kind,
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

/// The `q` quantile of `sorted` by linear interpolation between order
/// statistics: rank h = (n−1)·q, then x⌊h⌋ + (h−⌊h⌋)(x⌊h⌋+1 − x⌊h⌋),
/// as numpy computes it (its two-sided form, exact at both ends).
fn r7(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q.clamp(0.0, 1.0);
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    let diff = b - a;
    Some(if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    })
}

fn kind_index(kind: ErrorKind) -> usize {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ErrorKind::ALL.len() - 1)
}
