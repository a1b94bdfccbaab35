//! The canary judge: how a candidate version compares with its baseline,
//! metric by metric, with significance tests, a score and plain words.

use std::collections::BTreeMap;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{ErrorKind, ModelId, Version};
use serde::Serialize;

use crate::reservoir::Sampled;
use crate::significance::{hodges_lehmann, mann_whitney, two_proportions, ShiftEstimate};
use crate::stats::VersionStats;

/// A metric the judge compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// Latency of successful requests (medians compared).
    Latency,
    /// Share of failed requests.
    ErrorRate,
    /// Confidence per request (medians compared).
    Confidence,
    /// Cost per request (medians compared).
    CostPerRequest,
    /// Completion tokens per request: token inflation (medians compared).
    OutputTokens,
}

/// Which way a metric may not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Higher is worse (latency, errors, cost, tokens).
    IncreaseIsBad,
    /// Lower is worse (confidence).
    DecreaseIsBad,
}

/// How one metric is judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricRule {
    /// The metric.
    pub metric: Metric,
    /// Its share of the score.
    pub weight: f64,
    /// Which way it may not move.
    pub direction: Direction,
    /// Changes within this relative band (0.1 = 10 %) pass even when
    /// significant; against a baseline of 0, an absolute band.
    pub tolerance: f64,
    /// A failure forces the score to 0; no data makes the verdict `NoData`.
    pub critical: bool,
}

/// How the judge scores a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonConfig {
    /// The metrics judged.
    pub rules: Vec<MetricRule>,
    /// Score at or above which the verdict is `Pass`. Default 90.
    pub pass_score: f64,
    /// Score at or above which the verdict is `Marginal`. Default 75.
    pub marginal_score: f64,
    /// A difference counts when its p-value is below this. Default 0.05.
    pub significance: f64,
    /// Requests each side needs in the window. Default 50.
    pub min_samples: u64,
}

impl Default for ComparisonConfig {
    fn default() -> Self {
        use Direction::*;
        let rule = |metric, weight, direction, tolerance, critical| MetricRule {
            metric,
            weight,
            direction,
            tolerance,
            critical,
        };
        Self {
            rules: vec![
                rule(Metric::Latency, 30.0, IncreaseIsBad, 0.10, true),
                rule(Metric::ErrorRate, 30.0, IncreaseIsBad, 0.10, true),
                rule(Metric::Confidence, 15.0, DecreaseIsBad, 0.05, false),
                rule(Metric::CostPerRequest, 15.0, IncreaseIsBad, 0.10, false),
                rule(Metric::OutputTokens, 10.0, IncreaseIsBad, 0.20, false),
            ],
            pass_score: 90.0,
            marginal_score: 75.0,
            significance: 0.05,
            min_samples: 50,
        }
    }
}

/// How a metric moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "class")]
pub enum Class {
    /// No significant change beyond the tolerance band.
    Pass,
    /// Significantly higher, beyond the band.
    High,
    /// Significantly lower, beyond the band.
    Low,
    /// Too few samples on one side or both.
    NoData {
        /// Samples still needed (on the side that lacks most).
        missing: u64,
    },
}

/// One metric of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricComparison {
    /// The metric.
    pub metric: Metric,
    /// The baseline's value (median, or rate).
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// Candidate minus baseline.
    pub difference: Option<f64>,
    /// The difference relative to the baseline.
    pub relative_change: Option<f64>,
    /// Two-sided p-value of the difference.
    pub p_value: Option<f64>,
    /// Hodges–Lehmann shift with its 95 % interval (distribution metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift: Option<Shift>,
    /// How it moved.
    pub class: Class,
    /// Whether it passes: no bad move (a good move passes).
    pub passed: bool,
    /// In words.
    pub explanation: String,
}

/// A Hodges–Lehmann shift, serializable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shift {
    /// Median of candidate − baseline differences.
    pub estimate: f64,
    /// Lower end of its 95 % interval.
    pub low: f64,
    /// Upper end of its 95 % interval.
    pub high: f64,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Score at or above the pass score.
    Pass,
    /// Between the marginal and the pass score.
    Marginal,
    /// Below the marginal score, or a critical metric failed.
    Fail,
    /// A critical metric lacks data: never a pass.
    NoData,
}

/// The judgement of a candidate against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonReport {
    /// The model.
    pub model_id: ModelId,
    /// The version judged against.
    pub baseline: Version,
    /// The version judged.
    pub candidate: Version,
    /// The verdict.
    pub verdict: Verdict,
    /// 0–100: the weight of passing metrics over the weight of metrics with data.
    pub score: f64,
    /// Every metric.
    pub metrics: Vec<MetricComparison>,
    /// What decided the verdict, in words.
    pub summary: String,
    /// The baseline's failures in the judged window, by kind.
    pub baseline_failures: BTreeMap<ErrorKind, u64>,
    /// The candidate's failures in the judged window, by kind: whether a
    /// higher error rate is the provider throttling or the model failing.
    pub candidate_failures: BTreeMap<ErrorKind, u64>,
    /// When.
    pub generated_at: DateTime<Utc>,
}

/// What the judge knows of one side.
pub(crate) struct Side {
    pub stats: VersionStats,
    pub sample: Vec<Sampled>,
}

pub(crate) fn judge(
    config: &ComparisonConfig,
    (model_id, baseline_version, candidate_version): (ModelId, Version, Version),
    baseline: &Side,
    candidate: &Side,
    now: DateTime<Utc>,
) -> ComparisonReport {
    let metrics: Vec<MetricComparison> = config
        .rules
        .iter()
        .map(|rule| compare_metric(config, rule, baseline, candidate))
        .collect();
    let mut scored = 0.0;
    let mut passing = 0.0;
    let mut verdict = None;
    let mut reasons = Vec::new();
    for (rule, m) in config.rules.iter().zip(&metrics) {
        if let Class::NoData { .. } = m.class {
            if rule.critical {
                verdict = Some(Verdict::NoData);
                reasons.push(m.explanation.clone());
            }
            continue;
        }
        scored += rule.weight;
        if m.passed {
            passing += rule.weight;
        } else {
            reasons.push(m.explanation.clone());
            if rule.critical && verdict.is_none() {
                verdict = Some(Verdict::Fail);
            }
        }
    }
    let mut score = if scored > 0.0 {
        100.0 * passing / scored
    } else {
        0.0
    };
    if verdict.is_some() {
        score = 0.0;
    }
    let verdict = verdict.unwrap_or(if score >= config.pass_score {
        Verdict::Pass
    } else if score >= config.marginal_score {
        Verdict::Marginal
    } else {
        Verdict::Fail
    });
    let summary = match (verdict, reasons.is_empty()) {
        (Verdict::Pass, true) => format!("{candidate_version} is no worse than {baseline_version} on any metric (score {score:.0})"),
        (_, _) => format!("{verdict:?} (score {score:.0}): {}", reasons.join("; ")),
    };
    ComparisonReport {
        model_id,
        baseline: baseline_version,
        candidate: candidate_version,
        verdict,
        score,
        metrics,
        summary,
        baseline_failures: baseline.stats.failures().by_kind,
        candidate_failures: candidate.stats.failures().by_kind,
        generated_at: now,
    }
}

fn compare_metric(
    config: &ComparisonConfig,
    rule: &MetricRule,
    baseline: &Side,
    candidate: &Side,
) -> MetricComparison {
    let name = metric_name(rule.metric);
    let (base_values, cand_values) = (
        values(rule.metric, &baseline.sample),
        values(rule.metric, &candidate.sample),
    );
    let (base_n, cand_n) = match rule.metric {
        Metric::ErrorRate => (baseline.stats.samples(), candidate.stats.samples()),
        _ => (base_values.len() as u64, cand_values.len() as u64),
    };
    let missing = config.min_samples.saturating_sub(base_n.min(cand_n));
    let mut m = MetricComparison {
        metric: rule.metric,
        baseline: None,
        candidate: None,
        difference: None,
        relative_change: None,
        p_value: None,
        shift: None,
        class: Class::NoData { missing },
        passed: false,
        explanation: format!(
            "{name}: not enough data ({base_n} baseline and {cand_n} candidate samples; {missing} more needed on the smaller side)"
        ),
    };
    if missing > 0 {
        return m;
    }
    let (base, cand, p) = match rule.metric {
        Metric::ErrorRate => {
            let rate = |s: &VersionStats| s.failure_count() as f64 / s.samples() as f64;
            let (b, c) = (&baseline.stats, &candidate.stats);
            let test = two_proportions(
                c.failure_count(),
                c.samples(),
                b.failure_count(),
                b.samples(),
            );
            (rate(b), rate(c), test.map_or(1.0, |t| t.p_value))
        }
        _ => {
            let test = mann_whitney(&cand_values, &base_values);
            m.shift = hodges_lehmann(&base_values, &cand_values).map(
                |ShiftEstimate {
                     estimate,
                     low,
                     high,
                 }| Shift {
                    estimate,
                    low,
                    high,
                },
            );
            (
                median(&base_values),
                median(&cand_values),
                test.map_or(1.0, |t| t.p_value),
            )
        }
    };
    let difference = cand - base;
    let relative = if base != 0.0 {
        Some(difference / base)
    } else {
        None
    };
    let beyond_band = match relative {
        Some(r) => r.abs() > rule.tolerance,
        None => difference.abs() > rule.tolerance,
    };
    let class = if p < config.significance && beyond_band {
        if difference > 0.0 {
            Class::High
        } else {
            Class::Low
        }
    } else {
        Class::Pass
    };
    let passed = !matches!(
        (class, rule.direction),
        (Class::High, Direction::IncreaseIsBad) | (Class::Low, Direction::DecreaseIsBad)
    );
    let change = relative.map_or(format!("{difference:+.4}"), |r| {
        format!("{:+.1} %", 100.0 * r)
    });
    let confidence = if p < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {p:.3}")
    };
    m.explanation = match class {
        Class::Pass => format!("{name}: {base:.4} → {cand:.4} ({change}, {confidence}): no significant change beyond ±{:.0} %", 100.0 * rule.tolerance),
        _ => format!(
            "{name} is {} in the candidate: {base:.4} → {cand:.4} ({change}, {confidence}){}",
            if class == Class::High { "higher" } else { "lower" },
            if passed { ", an improvement" } else { "" }
        ),
    };
    // Whether a higher error rate is throttling or the model failing.
    let candidate_failures = candidate.stats.failures().by_kind;
    if rule.metric == Metric::ErrorRate && class != Class::Pass && !candidate_failures.is_empty() {
        m.explanation = format!(
            "{}; the candidate's failures: {}",
            m.explanation,
            ErrorKind::breakdown(&candidate_failures)
        );
    }
    m.baseline = Some(base);
    m.candidate = Some(cand);
    m.difference = Some(difference);
    m.relative_change = relative;
    m.p_value = Some(p);
    m.class = class;
    m.passed = passed;
    m
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Latency => "latency (ms)",
        Metric::ErrorRate => "error rate",
        Metric::Confidence => "confidence",
        Metric::CostPerRequest => "cost per request",
        Metric::OutputTokens => "output tokens per request",
    }
}

/// The per-request values of a distribution metric in a sample.
fn values(metric: Metric, sample: &[Sampled]) -> Vec<f64> {
    sample
        .iter()
        .filter_map(|s| match metric {
            Metric::Latency => s.latency_ms.map(f64::from),
            Metric::Confidence => s.confidence.map(f64::from),
            Metric::CostPerRequest => s.cost.map(f64::from),
            Metric::OutputTokens => Some(f64::from(s.output_tokens)),
            Metric::ErrorRate => None,
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}
