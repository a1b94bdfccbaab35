//! `ModelVersion` behaviour through its public API: transitions, validation, thresholds, cost.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn version(v: &str) -> ModelVersion {
    ModelVersion::new(
        ModelId::new("gpt-4-turbo").unwrap(),
        Version::parse(v).unwrap(),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        now(),
    )
}

fn deprecation(days: u32) -> ModelDeprecationInfo {
    ModelDeprecationInfo::new(
        "superseded by 2.0.0",
        Version::parse("2.0.0").ok(),
        days,
        now(),
    )
    .unwrap()
}

/// Drives a version into `status` along legal moves.
fn in_status(status: ModelStatus) -> ModelVersion {
    let mut v = version("1.0.0");
    let t = now();
    match status {
        ModelStatus::Inactive => {}
        ModelStatus::Testing => v.deploy_to_testing(t).unwrap(),
        ModelStatus::Canary => v.start_canary(CanaryWeight::new(5).unwrap(), t).unwrap(),
        ModelStatus::Active => v.activate(t).unwrap(),
        ModelStatus::Deprecated => {
            v.activate(t).unwrap();
            v.deprecate(deprecation(90), t).unwrap();
        }
        ModelStatus::Retired => v.retire(t).unwrap(),
    }
    assert_eq!(v.status(), status);
    v
}

/// Attempts the move to `to` through the method that makes it.
fn try_move(v: &mut ModelVersion, to: ModelStatus) -> Result<(), DomainError> {
    let t = now() + Duration::hours(1);
    match to {
        ModelStatus::Inactive => v.deactivate(t),
        ModelStatus::Testing => v.deploy_to_testing(t),
        ModelStatus::Canary => v.start_canary(CanaryWeight::new(10)?, t),
        ModelStatus::Active => v.activate(t),
        ModelStatus::Deprecated => v.deprecate(deprecation(30), t),
        ModelStatus::Retired => v.retire(t),
    }
}

#[test]
fn every_move_follows_the_table_and_a_refused_move_changes_nothing() {
    for from in ModelStatus::ALL {
        for to in ModelStatus::ALL {
            let mut v = in_status(from);
            let before = v.clone();
            match try_move(&mut v, to) {
                Ok(()) => {
                    assert!(from.can_transition_to(to), "{from} -> {to} allowed");
                    assert_eq!(v.status(), to);
                    assert_eq!(v.updated_at, now() + Duration::hours(1));
                    v.validate().unwrap();
                }
                Err(DomainError::IllegalTransition { from: f, to: t, .. }) => {
                    assert!(!from.can_transition_to(to), "{from} -> {to} refused");
                    assert_eq!((f, t), (from, to));
                    assert_eq!(v, before, "a refused move changes nothing");
                }
                Err(other) => panic!("{from} -> {to}: {other}"),
            }
        }
    }
}

#[test]
fn canary_weight_exists_only_while_a_canary() {
    let mut v = in_status(ModelStatus::Canary);
    assert_eq!(v.canary_weight().map(CanaryWeight::percent), Some(5));
    v.set_canary_weight(CanaryWeight::new(50).unwrap(), now())
        .unwrap();
    assert_eq!(v.canary_weight().map(CanaryWeight::percent), Some(50));
    v.activate(now()).unwrap();
    assert_eq!(v.canary_weight(), None);
    let err = v
        .set_canary_weight(CanaryWeight::new(20).unwrap(), now())
        .unwrap_err();
    assert!(err.to_string().contains("not a canary"), "{err}");
}

#[test]
fn deprecation_gives_days_until_eol_and_rollback_clears_it() {
    let mut v = in_status(ModelStatus::Deprecated);
    assert!(v.is_deprecated() && v.is_usable());
    assert_eq!(v.days_until_eol(now()), Some(90));
    assert_eq!(v.days_until_eol(now() + Duration::days(100)), Some(-10));
    v.activate(now()).unwrap();
    assert_eq!(v.deprecation(), None);
    assert_eq!(v.days_until_eol(now()), None);
}

#[test]
fn usable_means_serving_traffic() {
    for status in ModelStatus::ALL {
        let v = in_status(status);
        let usable = matches!(
            status,
            ModelStatus::Active | ModelStatus::Canary | ModelStatus::Deprecated
        );
        assert_eq!(v.is_usable(), usable, "{status}");
        assert_eq!(v.is_retired(), status == ModelStatus::Retired);
    }
}

#[test]
fn validation_names_each_bad_field() {
    type Edit = fn(&mut ModelVersion);
    let cases: [(&str, Edit); 13] = [
        ("provider", |v| v.provider = String::new()),
        ("provider", |v| v.provider = "open ai".into()),
        ("displayName", |v| v.display_name = " ".into()),
        ("description", |v| v.description = Some("x".repeat(5000))),
        ("tags", |v| v.tags = ["bad\u{1}".to_string()].into()),
        ("costInfo.inputPer1k", |v| {
            v.cost_info = Some(ModelCostInfo::usd(dec!(-1), dec!(0)))
        }),
        ("costInfo.outputPer1k", |v| {
            v.cost_info = Some(ModelCostInfo::usd(dec!(0), dec!(1e20)))
        }),
        ("capabilities.maxContextTokens", |v| {
            v.capabilities.max_context_tokens = u32::MAX
        }),
        ("createdAt", |v| {
            v.created_at = "+262142-06-01T00:00:00Z".parse().unwrap();
            v.updated_at = v.created_at;
        }),
        ("releaseDate", |v| {
            v.release_date = Some(chrono::NaiveDate::MAX)
        }),
        ("capabilities.maxOutputTokens", |v| {
            v.capabilities.max_output_tokens = Some(0)
        }),
        ("updatedAt", |v| {
            v.updated_at = v.created_at - Duration::seconds(1)
        }),
        ("metrics.sampleCount", |v| {
            let mut m = metrics(10, 2, 100.0, Some(0.9));
            m.sample_count = 11;
            v.metrics = Some(m);
        }),
    ];
    for (field, edit) in cases {
        let mut v = version("1.0.0");
        edit(&mut v);
        let err = v.validate().unwrap_err();
        assert!(err.to_string().contains(field), "{err} should name {field}");
    }
    assert!(version("1.0.0").validate().is_ok());
}

#[test]
fn json_uses_camel_case_and_round_trips() {
    let mut v = in_status(ModelStatus::Canary);
    v.tags.insert("chat".into());
    let json = serde_json::to_string(&v).unwrap();
    for field in [
        "\"modelId\"",
        "\"costInfo\"",
        "\"canaryWeight\":5",
        "\"maxContextTokens\"",
    ] {
        assert!(json.contains(field), "{field} missing from {json}");
    }
    let back: ModelVersion = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
    back.validate().unwrap();
}

#[test]
fn json_with_inconsistent_status_is_caught_by_validate() {
    let v = in_status(ModelStatus::Active);
    let json = serde_json::to_string(&v)
        .unwrap()
        .replace("\"status\":\"active\"", "\"status\":\"canary\"");
    let back: ModelVersion = serde_json::from_str(&json).unwrap();
    let err = back.validate().unwrap_err();
    assert!(err.to_string().contains("canaryWeight"), "{err}");
}

fn metrics(
    samples: u64,
    failures: u64,
    p95: f64,
    confidence: Option<f64>,
) -> ModelPerformanceMetrics {
    ModelPerformanceMetrics {
        sample_count: samples,
        success_count: samples - failures,
        failure_count: failures,
        mean_latency_ms: Some(p95 / 2.0),
        p50_latency_ms: Some(p95 / 2.0),
        p95_latency_ms: Some(p95),
        p99_latency_ms: Some(p95 * 1.5),
        latency_quantiles: Default::default(),
        failures_by_kind: Default::default(),
        mean_confidence: confidence,
        total_input_tokens: samples * 100,
        total_output_tokens: samples * 50,
        total_cost: Some(Decimal::ZERO),
        updated_at: now(),
    }
}

#[test]
fn thresholds_report_each_violation_with_observed_and_limit() {
    let config = EvaluationConfig::default();
    let good = metrics(100, 2, 1200.0, Some(0.9));
    assert!(good.threshold_violations(&config).is_empty());
    let mut v = version("1.0.0");
    assert!(
        !v.meets_performance_thresholds(&config),
        "no metrics, no pass"
    );
    v.metrics = Some(good);
    assert!(v.meets_performance_thresholds(&config));

    let bad = metrics(40, 10, 6000.0, Some(0.5));
    let found = bad.threshold_violations(&config);
    let kinds: Vec<Threshold> = found.iter().map(|t| t.threshold).collect();
    assert_eq!(
        kinds,
        [
            Threshold::MinSamples,
            Threshold::MaxErrorRate,
            Threshold::MinSuccessRate,
            Threshold::MaxLatency(LatencyStatistic::P95),
            Threshold::MinConfidence,
        ]
    );
    assert_eq!((found[1].observed, found[1].limit), (0.25, 0.05));
    assert_eq!(
        found[3].to_string(),
        "maximum p95 latency (ms): observed 6000, limit 5000"
    );
}

#[test]
fn latency_threshold_uses_the_configured_statistic_and_missing_confidence_is_not_judged() {
    let m = metrics(100, 0, 4000.0, None);
    let p99 = EvaluationConfig::new(EvaluationSettings {
        latency_statistic: LatencyStatistic::P99,
        ..Default::default()
    })
    .unwrap();
    let found = m.threshold_violations(&p99);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].observed, 6000.0);
    assert!(m
        .threshold_violations(&EvaluationConfig::default())
        .is_empty());
}

#[test]
fn estimate_cost_uses_the_version_prices() {
    let v = version("1.0.0");
    assert_eq!(v.estimate_cost(1_000, 1_000), Some(dec!(0.04)));
    assert_eq!(v.estimate_cost(0, 0), Some(dec!(0)));
    let mut unpriced = v.clone();
    unpriced.cost_info = None;
    assert_eq!(
        unpriced.estimate_cost(1_000, 1_000),
        None,
        "unknown is not free"
    );
    assert!(unpriced.validate().is_ok());
}

#[test]
fn misspelled_fields_are_refused_naming_the_field() {
    let mut json = serde_json::to_value(version("1.0.0")).unwrap();
    json["desciption"] = "typo".into();
    let err = serde_json::from_value::<ModelVersion>(json).unwrap_err();
    assert!(err.to_string().contains("desciption"), "{err}");
    let mut json = serde_json::to_value(version("1.0.0")).unwrap();
    json["capabilities"]["visoin"] = true.into();
    let err = serde_json::from_value::<ModelVersion>(json).unwrap_err();
    assert!(err.to_string().contains("visoin"), "{err}");
}

#[test]
fn metrics_failures_by_kind_must_add_up() {
    let mut m = metrics(100, 4, 900.0, None);
    assert!(
        m.validate().is_ok(),
        "no breakdown (an older record) is fine"
    );
    m.failures_by_kind = [(ErrorKind::RateLimited, 3), (ErrorKind::ServerError, 1)].into();
    assert!(m.validate().is_ok());
    m.failures_by_kind.insert(ErrorKind::RateLimited, 2);
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("metrics.failuresByKind"), "{err}");
    assert!(err.contains("sum to 3, not failureCount 4"), "{err}");
    m.failures_by_kind.insert(ErrorKind::Timeout, u64::MAX);
    assert!(m
        .validate()
        .unwrap_err()
        .to_string()
        .contains("more than 2^64"));
}
