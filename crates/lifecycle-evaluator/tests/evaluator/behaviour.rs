//! `Evaluator` through its public API: validation, tracking, the rolling
//! window against lifetime totals, evaluation, and exact totals under concurrency.
use crate::common::{evaluator, record, record_of, t0, v1};
use lifecycle_domain::chrono::Duration;
use lifecycle_domain::{
    dec, Decimal, ErrorKind, InferenceResult, LatencyStatistic, Threshold, Version,
};
use lifecycle_evaluator::{EvaluationStatus, EvaluatorError};

#[test]
fn invalid_results_and_unknown_or_retired_versions_record_nothing() {
    let (evaluator, _) = evaluator(&["m"]);
    for bad in [
        InferenceResult::success(f64::NAN),
        InferenceResult::success(-1.0),
        InferenceResult::success(10.0).with_confidence(1.5),
    ] {
        let err = evaluator.record("m", &v1(), &bad).unwrap_err();
        assert!(matches!(err, EvaluatorError::Invalid(_)), "{err}");
    }
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        0
    );
    let err = evaluator
        .record("other", &v1(), &InferenceResult::success(10.0))
        .unwrap_err();
    assert!(
        matches!(err, EvaluatorError::UnknownVersion { .. }),
        "{err}"
    );
    let err = evaluator.record("m", &Version::new(9, 0, 0), &InferenceResult::success(1.0));
    assert!(matches!(err, Err(EvaluatorError::UnknownVersion { .. })));

    evaluator
        .record("m", &v1(), &InferenceResult::success(10.0))
        .unwrap();
    let mut retired = record_of("m");
    retired.retire(t0()).unwrap();
    evaluator.track(&retired);
    let err = evaluator
        .record("m", &v1(), &InferenceResult::success(10.0))
        .unwrap_err();
    assert!(matches!(err, EvaluatorError::Retired { .. }), "{err}");
    assert!(err.to_string().contains("retired"), "{err}");
    let kept = evaluator.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(
        kept.sample_count, 1,
        "tracking again keeps what was recorded"
    );
}

#[test]
fn failures_are_counted_by_kind_and_kept_out_of_latency() {
    let (evaluator, _) = evaluator(&["m"]);
    for _ in 0..90 {
        let ok = InferenceResult::success(100.0)
            .with_confidence(0.8)
            .with_tokens(1_000, 500);
        evaluator.record("m", &v1(), &ok).unwrap();
    }
    record(
        &evaluator,
        "m",
        7,
        InferenceResult::failure(ErrorKind::RateLimited, 0.0),
    );
    record(
        &evaluator,
        "m",
        3,
        InferenceResult::failure(ErrorKind::Timeout, 30_000.0),
    );
    let m = evaluator.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(
        (m.sample_count, m.success_count, m.failure_count),
        (100, 90, 10)
    );
    assert!(
        (m.p99_latency_ms.unwrap() - 100.0).abs() <= 1.0,
        "failures do not skew latency: {}",
        m.p99_latency_ms.unwrap()
    );
    assert_eq!(m.mean_latency_ms.unwrap(), 100.0);
    assert!((m.mean_confidence.unwrap() - 0.8).abs() < 1e-12);
    assert_eq!(
        (m.total_input_tokens, m.total_output_tokens),
        (90_000, 45_000)
    );
    // 90,000 prompt tokens at 0.01 and 45,000 completion tokens at 0.03 per 1k:
    // exactly 0.9 + 1.35 (failures had no tokens).
    assert_eq!(m.total_cost, Some(dec!(2.25)));
    let failures = evaluator.failures("m", &v1()).unwrap();
    assert_eq!(failures.by_kind[&ErrorKind::RateLimited], 7);
    assert_eq!(failures.by_kind[&ErrorKind::Timeout], 3);
    assert_eq!(failures.max_latency_ms, Some(30_000.0));
    assert_eq!(failures.mean_latency_ms, Some(9_000.0));
}

#[test]
fn evaluation_needs_min_samples_then_passes_or_names_each_violation() {
    let (evaluator, _) = evaluator(&["m"]);
    record(&evaluator, "m", 20, InferenceResult::success(300.0));
    let report = evaluator.evaluate("m", &v1()).unwrap();
    assert_eq!(
        report.status,
        EvaluationStatus::InsufficientData { needed: 30 }
    );
    record(
        &evaluator,
        "m",
        40,
        InferenceResult::success(300.0).with_confidence(0.9),
    );
    let report = evaluator.evaluate("m", &v1()).unwrap();
    assert_eq!(report.status, EvaluationStatus::Passed);
    assert_eq!((report.samples, report.window_secs), (60, 600));
    // Order within the window does not matter: counts and sketches merge.
    record(
        &evaluator,
        "m",
        20,
        InferenceResult::success(9_000.0).with_confidence(0.1),
    );
    record(
        &evaluator,
        "m",
        20,
        InferenceResult::failure(ErrorKind::ServerError, 50.0),
    );
    let report = evaluator.evaluate("m", &v1()).unwrap();
    assert_eq!(report.status, EvaluationStatus::Failed);
    let broken: Vec<Threshold> = report.violations.iter().map(|v| v.threshold).collect();
    assert_eq!(
        broken,
        [
            Threshold::MaxErrorRate,
            Threshold::MinSuccessRate,
            Threshold::MaxLatency(LatencyStatistic::P95),
            Threshold::MinConfidence,
        ]
    );
    assert_eq!(report.violations[0].observed, 0.2);
}

#[test]
fn a_regression_after_a_long_healthy_run_shows_in_the_window_and_passes_with_it() {
    let (evaluator, clock) = evaluator(&["m"]);
    record(&evaluator, "m", 100_000, InferenceResult::success(250.0));
    assert_eq!(
        evaluator.evaluate("m", &v1()).unwrap().status,
        EvaluationStatus::Passed
    );
    clock.advance(Duration::minutes(11));
    record(
        &evaluator,
        "m",
        60,
        InferenceResult::failure(ErrorKind::ServerError, 10.0),
    );
    let report = evaluator.evaluate("m", &v1()).unwrap();
    assert_eq!(report.status, EvaluationStatus::Failed, "{report:?}");
    assert_eq!(report.samples, 60, "only the window counts");
    let lifetime = evaluator.lifetime_metrics("m", &v1()).unwrap();
    assert!(
        lifetime.error_rate() < 0.001,
        "lifetime dilutes: {}",
        lifetime.error_rate()
    );
    // Within the window the failures stay visible...
    clock.advance(Duration::minutes(9));
    assert_eq!(
        evaluator.evaluate("m", &v1()).unwrap().status,
        EvaluationStatus::Failed
    );
    // ...and once it has moved past them, healthy traffic passes again.
    clock.advance(Duration::minutes(2));
    record(&evaluator, "m", 60, InferenceResult::success(250.0));
    assert_eq!(
        evaluator.evaluate("m", &v1()).unwrap().status,
        EvaluationStatus::Passed
    );
}

#[test]
fn concurrent_recording_keeps_exact_totals() {
    let (evaluator, _) = evaluator(&["a", "b"]);
    std::thread::scope(|s| {
        for t in 0..4 {
            let evaluator = &evaluator;
            s.spawn(move || {
                let model = if t % 2 == 0 { "a" } else { "b" };
                for i in 0..25_000u32 {
                    let result = if i % 10 == 0 {
                        InferenceResult::failure(ErrorKind::Network, 5.0)
                    } else {
                        InferenceResult::success(f64::from(i % 500) + 1.0).with_tokens(10, 1)
                    };
                    evaluator.record(model, &v1(), &result).unwrap();
                }
            });
        }
    });
    for model in ["a", "b"] {
        let m = evaluator.lifetime_metrics(model, &v1()).unwrap();
        assert_eq!(
            (m.sample_count, m.failure_count),
            (50_000, 5_000),
            "{model}"
        );
        assert_eq!(m.total_input_tokens, 450_000, "{model}");
    }
}

#[test]
fn tracking_a_version_again_while_it_records_loses_nothing() {
    let (evaluator, _) = evaluator(&["a"]);
    let original = record_of("a");
    let mut cheaper = original.clone();
    if let Some(prices) = &mut cheaper.cost_info {
        prices.input_per_1k /= dec!(2);
    }
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| record(&evaluator, "a", 50_000, InferenceResult::success(10.0)));
        }
        s.spawn(|| {
            for i in 0..2_000 {
                evaluator.track(if i % 2 == 0 { &cheaper } else { &original });
            }
        });
    });
    assert_eq!(
        evaluator.lifetime_metrics("a", &v1()).unwrap().sample_count,
        100_000
    );
}

#[test]
fn without_a_successful_request_latencies_are_absent_not_zero() {
    let (evaluator, _) = evaluator(&["m"]);
    let empty = evaluator.window_metrics("m", &v1()).unwrap();
    assert_eq!(
        (
            empty.mean_latency_ms,
            empty.p50_latency_ms,
            empty.p99_latency_ms
        ),
        (None, None, None)
    );
    record(
        &evaluator,
        "m",
        60,
        InferenceResult::failure(ErrorKind::Timeout, 30_000.0),
    );
    let failed = evaluator.window_metrics("m", &v1()).unwrap();
    assert_eq!(
        failed.p95_latency_ms, None,
        "failures carry no latency figure"
    );
    let json = serde_json::to_value(&failed).unwrap();
    assert!(json["p95LatencyMs"].is_null(), "{json}");
    let report = evaluator.evaluate("m", &v1()).unwrap();
    assert!(
        report
            .violations
            .iter()
            .all(|v| !matches!(v.threshold, Threshold::MaxLatency(_))),
        "no latency is judged, the success rate fails: {:?}",
        report.violations
    );
}
