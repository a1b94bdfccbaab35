//! The canary judge on simulated traffic: equal versions pass, regressions
//! fail with the metric named, improvements pass, cost inflation is
//! marginal, and too little data is never a pass.

use std::sync::Arc;

use crate::common::{record_of, t0, Random};
use lifecycle_domain::{ErrorKind, EvaluationConfig, InferenceResult, Version};
use lifecycle_evaluator::{Class, ComparisonConfig, Evaluator, Metric, Verdict};
use lifecycle_store::ManualClock;

fn v(major: u64) -> Version {
    Version::new(major, 0, 0)
}

/// Traffic shape of one version.
struct Traffic {
    latency_median_ms: f64,
    error_rate: f64,
    confidence: f64,
    output_tokens: u32,
    requests: usize,
}

const NORMAL: Traffic = Traffic {
    latency_median_ms: 800.0,
    error_rate: 0.01,
    confidence: 0.85,
    output_tokens: 200,
    requests: 3_000,
};

/// An evaluator tracking 1.0.0 (baseline) and 2.0.0 (candidate) of `m`, fed `base` and `cand`.
fn judged(base: &Traffic, cand: &Traffic) -> Evaluator {
    let evaluator = Evaluator::new(
        EvaluationConfig::default(),
        Arc::new(ManualClock::new(t0())),
    );
    let mut random = Random(42);
    for (major, traffic) in [(1, base), (2, cand)] {
        let mut record = record_of("m");
        record.version = v(major);
        evaluator.track(&record);
        for _ in 0..traffic.requests {
            let result = if random.next() < traffic.error_rate {
                InferenceResult::failure(ErrorKind::ServerError, 50.0)
            } else {
                let latency = traffic.latency_median_ms * (0.4 * random.normal()).exp();
                let confidence = (traffic.confidence + 0.05 * random.normal()).clamp(0.0, 1.0);
                let tokens = (f64::from(traffic.output_tokens) * (1.0 + 0.1 * random.normal()))
                    .max(1.0) as u32;
                InferenceResult::success(latency)
                    .with_confidence(confidence)
                    .with_tokens(1_000, tokens)
            };
            evaluator.record("m", &v(major), &result).unwrap();
        }
    }
    evaluator
}

fn class_of(report: &lifecycle_evaluator::ComparisonReport, metric: Metric) -> Class {
    report
        .metrics
        .iter()
        .find(|m| m.metric == metric)
        .unwrap()
        .class
}

#[test]
fn the_same_traffic_passes() {
    let evaluator = judged(&NORMAL, &NORMAL);
    let report = evaluator
        .compare("m", &v(1), &v(2), &ComparisonConfig::default())
        .unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
    assert_eq!(report.score, 100.0);
    assert!(report
        .metrics
        .iter()
        .all(|m| m.passed && m.p_value.is_some()));
}

#[test]
fn a_regressed_canary_fails_naming_what_regressed() {
    let worse = Traffic {
        latency_median_ms: 1_100.0,
        error_rate: 0.08,
        ..NORMAL
    };
    let evaluator = judged(&NORMAL, &worse);
    let report = evaluator
        .compare("m", &v(1), &v(2), &ComparisonConfig::default())
        .unwrap();
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.score, 0.0, "a critical metric failed");
    assert_eq!(class_of(&report, Metric::Latency), Class::High);
    assert_eq!(class_of(&report, Metric::ErrorRate), Class::High);
    assert!(
        report
            .summary
            .contains("the candidate's failures: serverError"),
        "{}",
        report.summary
    );
    assert!(report.candidate_failures[&ErrorKind::ServerError] > 0);
    let latency = report
        .metrics
        .iter()
        .find(|m| m.metric == Metric::Latency)
        .unwrap();
    let shift = latency.shift.unwrap();
    assert!(shift.low > 0.0 && shift.estimate > 150.0, "{shift:?}");
    assert!(
        report
            .summary
            .contains("latency (ms) is higher in the candidate"),
        "{}",
        report.summary
    );
    assert!(
        report.summary.contains("error rate is higher"),
        "{}",
        report.summary
    );
}

#[test]
fn a_faster_canary_passes() {
    let faster = Traffic {
        latency_median_ms: 500.0,
        ..NORMAL
    };
    let report = judged(&NORMAL, &faster)
        .compare("m", &v(1), &v(2), &ComparisonConfig::default())
        .unwrap();
    assert_eq!(class_of(&report, Metric::Latency), Class::Low);
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.summary);
}

#[test]
fn token_inflation_alone_is_marginal_or_worse_and_named() {
    let verbose = Traffic {
        output_tokens: 400,
        ..NORMAL
    };
    let report = judged(&NORMAL, &verbose)
        .compare("m", &v(1), &v(2), &ComparisonConfig::default())
        .unwrap();
    assert_eq!(class_of(&report, Metric::OutputTokens), Class::High);
    // Doubled tokens also double the cost per request: 25 of 100 weight fails.
    assert_eq!(class_of(&report, Metric::CostPerRequest), Class::High);
    assert_eq!(report.score, 75.0);
    assert_eq!(report.verdict, Verdict::Marginal);
    assert!(
        report
            .summary
            .contains("output tokens per request is higher"),
        "{}",
        report.summary
    );
}

#[test]
fn too_little_data_is_never_a_pass() {
    let few = Traffic {
        requests: 20,
        ..NORMAL
    };
    let report = judged(&NORMAL, &few)
        .compare("m", &v(1), &v(2), &ComparisonConfig::default())
        .unwrap();
    assert_eq!(report.verdict, Verdict::NoData);
    assert_eq!(report.score, 0.0);
    assert!(matches!(
        class_of(&report, Metric::ErrorRate),
        Class::NoData { missing: 30 }
    ));
    assert!(report.summary.contains("more needed"), "{}", report.summary);
}
