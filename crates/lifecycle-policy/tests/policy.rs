//! `LifecyclePolicy` decisions through its public API.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;
use lifecycle_policy::{
    DeploymentContext, EndOfLifeSource, JudgeVerdict, Judgement, LifecyclePolicy, TypicalRequest,
};

fn first() -> DeploymentContext {
    DeploymentContext::first()
}

fn replacing_1() -> DeploymentContext {
    DeploymentContext::replacing(Version::new(1, 0, 0))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
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

fn metrics(samples: u64, failures: u64, p95: f64) -> ModelPerformanceMetrics {
    ModelPerformanceMetrics {
        sample_count: samples,
        success_count: samples - failures,
        failure_count: failures,
        mean_latency_ms: Some(p95 / 2.0),
        p50_latency_ms: Some(p95 / 2.0),
        p95_latency_ms: Some(p95),
        p99_latency_ms: Some(p95),
        latency_quantiles: Default::default(),
        failures_by_kind: Default::default(),
        mean_confidence: Some(0.9),
        total_input_tokens: samples * 2_000,
        total_output_tokens: samples * 500,
        total_cost: Some(Decimal::ZERO),
        updated_at: now(),
    }
}

fn policy(settings: PolicySettings) -> LifecyclePolicy {
    LifecyclePolicy::new(
        PolicyConfig::new(settings).unwrap(),
        EvaluationConfig::default(),
    )
}

fn deprecated(v: &str, days: u32, replacement: Option<&str>, at: DateTime<Utc>) -> ModelVersion {
    let mut record = version(v);
    record.activate(at).unwrap();
    let info = ModelDeprecationInfo::new(
        "superseded",
        replacement.map(|r| Version::parse(r).unwrap()),
        days,
        at,
    )
    .unwrap();
    record.deprecate(info, at).unwrap();
    record
}

#[test]
fn retired_and_deprecated_versions_are_rejected_naming_the_replacement() {
    let engine = LifecyclePolicy::default();
    let old = deprecated("1.0.0", 90, Some("2.0.0"), now());
    let decision = engine.can_deploy(&old, &first(), now() + Duration::days(10));
    assert!(!decision.approved);
    assert_eq!(decision.replacement, Some(Version::new(2, 0, 0)));
    assert_eq!(
        decision.reason,
        "gpt-4-turbo 1.0.0 is deprecated (superseded, end of life in 80 days); deploy 2.0.0 instead"
    );
    let mut gone = version("0.9.0");
    gone.retire(now()).unwrap();
    let decision = engine.can_deploy(&gone, &first(), now());
    assert!(
        !decision.approved && decision.reason.contains("is retired"),
        "{decision:?}"
    );
}

#[test]
fn enforced_thresholds_reject_missing_or_insufficient_data_and_violations() {
    let strict = policy(PolicySettings {
        enforce_performance_thresholds: true,
        ..PolicySettings::default()
    });
    let mut v = version("2.0.0");
    let decision = strict.can_deploy(&v, &replacing_1(), now());
    assert!(!decision.approved);
    assert_eq!(
        decision.reason,
        "gpt-4-turbo 2.0.0 has no results yet and 1.0.0 is active: run it as a canary and \
         record 50 results first, or override the policy with a reason (`--force --reason`, \
         `force_activate_model`)"
    );

    v.metrics = Some(metrics(20, 0, 800.0));
    let decision = strict.can_deploy(&v, &first(), now());
    assert!(
        decision
            .reason
            .contains("insufficient data: 30 more samples needed (20 of 50)"),
        "{}",
        decision.reason
    );

    v.metrics = Some(metrics(200, 30, 7_000.0));
    let decision = strict.can_deploy(&v, &first(), now());
    assert!(!decision.approved);
    assert!(
        decision
            .reason
            .contains("maximum error rate: observed 0.15, limit 0.05"),
        "{}",
        decision.reason
    );
    assert!(
        decision
            .reason
            .contains("maximum p95 latency (ms): observed 7000, limit 5000"),
        "{}",
        decision.reason
    );

    v.metrics = Some(metrics(200, 2, 800.0));
    assert!(strict.can_deploy(&v, &first(), now()).approved);
}

#[test]
fn a_first_version_without_results_is_approved_saying_so() {
    let decision = LifecyclePolicy::default().can_deploy(&version("1.0.0"), &first(), now());
    assert!(decision.approved, "{decision:?}");
    assert_eq!(
        decision.reason,
        "gpt-4-turbo 1.0.0 is approved as the model's first active version: it has no results \
         yet and nothing else is active (record 50 results to judge it)"
    );
    let mut failing = version("1.0.0");
    failing.metrics = Some(metrics(200, 30, 800.0));
    let decision = LifecyclePolicy::default().can_deploy(&failing, &first(), now());
    assert!(
        !decision.approved,
        "results that fail are judged, first or not"
    );
}

#[test]
fn unenforced_thresholds_only_warn() {
    let lenient = policy(PolicySettings {
        enforce_performance_thresholds: false,
        ..PolicySettings::default()
    });
    let decision = lenient.can_deploy(&version("2.0.0"), &replacing_1(), now());
    assert!(decision.approved, "{decision:?}");
    assert_eq!(decision.warnings.len(), 1);
    assert!(
        decision.warnings[0].contains("not enforced: policy.enforcePerformanceThresholds is off"),
        "{:?}",
        decision.warnings
    );
    let mut failing = version("2.0.0");
    failing.metrics = Some(metrics(200, 30, 800.0));
    let decision = lenient.can_deploy(&failing, &replacing_1(), now());
    assert!(decision.approved);
    assert!(
        decision.warnings[0].contains("fails its thresholds"),
        "{decision:?}"
    );
}

fn judged(verdict: JudgeVerdict) -> DeploymentContext {
    replacing_1().judged(Judgement {
        baseline: Version::new(1, 0, 0),
        verdict,
        score: 40.0,
        summary: "ErrorRate is higher".into(),
    })
}

#[test]
fn a_failing_judge_refuses_and_a_marginal_one_warns_unless_configured() {
    let mut healthy = version("2.0.0");
    healthy.metrics = Some(metrics(200, 2, 800.0));
    let engine = LifecyclePolicy::default();
    let failed = engine.can_deploy(&healthy, &judged(JudgeVerdict::Fail), now());
    assert!(!failed.approved, "thresholds pass, the judge does not");
    assert_eq!(
        failed.reason,
        "the canary judge gives gpt-4-turbo 2.0.0 fail against 1.0.0 (score 40): ErrorRate is higher"
    );
    let marginal = engine.can_deploy(&healthy, &judged(JudgeVerdict::Marginal), now());
    assert!(marginal.approved);
    assert!(
        marginal.warnings[0].contains("refuseMarginalJudgement is off"),
        "{marginal:?}"
    );
    let strict = policy(PolicySettings {
        refuse_marginal_judgement: true,
        ..PolicySettings::default()
    });
    assert!(
        !strict
            .can_deploy(&healthy, &judged(JudgeVerdict::Marginal), now())
            .approved
    );
    let no_data = engine.can_deploy(&healthy, &judged(JudgeVerdict::NoData), now());
    assert!(
        no_data.approved && no_data.warnings[0].contains("no verdict"),
        "{no_data:?}"
    );
    let passed = engine.can_deploy(&healthy, &judged(JudgeVerdict::Pass), now());
    assert!(passed.approved && passed.warnings.is_empty(), "{passed:?}");

    let unjudged = policy(PolicySettings {
        require_passing_judge: false,
        ..PolicySettings::default()
    });
    let decision = unjudged.can_deploy(&healthy, &judged(JudgeVerdict::Fail), now());
    assert!(decision.approved);
    assert!(
        decision.warnings[0].contains("requirePassingJudge is off"),
        "{decision:?}"
    );
}

#[test]
fn cost_uses_observed_averages_or_the_trace_mean() {
    let mut v = version("2.0.0");
    // No samples: 1,155 prompt + 211 completion tokens at 0.01 / 0.03 per 1k.
    let expected = (dec!(1155) * dec!(0.01) + dec!(211) * dec!(0.03)) / dec!(1000);
    assert_eq!(expected, dec!(0.01788), "exact, no rounding");
    assert_eq!(TypicalRequest::of(&v), TypicalRequest::TRACE_MEAN);
    let capped = policy(PolicySettings {
        max_cost_per_request: Some(expected - dec!(0.00001)),
        ..PolicySettings::default()
    });
    let decision = capped.can_deploy(&v, &first(), now());
    assert!(!decision.approved);
    assert!(
        decision
            .reason
            .contains("1155 prompt + 211 completion tokens"),
        "{}",
        decision.reason
    );
    let roomy = policy(PolicySettings {
        max_cost_per_request: Some(expected * dec!(1.1)),
        ..PolicySettings::default()
    });
    let decision = roomy.can_deploy(&v, &first(), now());
    assert!(decision.approved);
    assert!(
        decision.warnings.iter().any(|w| w.contains("within 20 %")),
        "{decision:?}"
    );

    // Observed: 2,000 + 500 tokens per request costs 0.035.
    v.metrics = Some(metrics(100, 0, 500.0));
    assert_eq!(
        TypicalRequest::of(&v),
        TypicalRequest {
            input_tokens: 2_000,
            output_tokens: 500
        }
    );
    let cap = policy(PolicySettings {
        max_cost_per_request: Some(dec!(0.03)),
        ..PolicySettings::default()
    });
    assert!(!cap.can_deploy(&v, &first(), now()).approved);

    // Exactly at the limit is within it.
    let exact = policy(PolicySettings {
        max_cost_per_request: Some(dec!(0.035)),
        ..PolicySettings::default()
    });
    assert!(exact.can_deploy(&v, &first(), now()).approved);

    // Unknown prices cannot be judged against a cost limit: never free.
    let mut unpriced = version("4.0.0");
    unpriced.cost_info = None;
    let decision = cap.can_deploy(&unpriced, &first(), now());
    assert!(!decision.approved);
    assert!(
        decision.reason.contains("price is unknown"),
        "{}",
        decision.reason
    );
    assert!(
        LifecyclePolicy::default()
            .can_deploy(&unpriced, &first(), now())
            .approved,
        "without a cost limit the price does not matter"
    );

    // A small model: the trace mean is capped by its limits.
    let mut small = version("3.0.0");
    small.capabilities = ModelCapabilities::new(1_000, 100);
    assert_eq!(
        TypicalRequest::of(&small),
        TypicalRequest {
            input_tokens: 900,
            output_tokens: 100
        }
    );
}

#[test]
fn warnings_grow_more_severe_towards_end_of_life() {
    let engine = LifecyclePolicy::default(); // 30-day warning threshold
    let start = now();
    let versions = [
        deprecated("1.0.0", 90, Some("2.0.0"), start),
        deprecated("1.1.0", 20, None, start),
        deprecated("1.2.0", 5, None, start),
        version("2.0.0"),
    ];
    let warnings = engine.deprecation_warnings(&versions, start);
    let summary: Vec<(String, i64, Severity)> = warnings
        .iter()
        .map(|w| (w.version.to_string(), w.days_until_eol, w.severity))
        .collect();
    assert_eq!(
        summary,
        [
            ("1.2.0".to_string(), 5, Severity::Critical),
            ("1.1.0".to_string(), 20, Severity::Warning),
            ("1.0.0".to_string(), 90, Severity::Info),
        ]
    );
    let later = engine.deprecation_warnings(&versions, start + Duration::days(70));
    assert!(later
        .iter()
        .all(|w| w.severity == Severity::Critical || w.version == Version::new(1, 0, 0)));
    assert_eq!(
        later.last().unwrap().severity,
        Severity::Warning,
        "1.0.0 at 20 days"
    );
}

#[test]
fn retirement_is_due_at_end_of_life() {
    let engine = LifecyclePolicy::default();
    let versions = [deprecated("1.0.0", 10, None, now()), version("2.0.0")];
    assert!(engine
        .retirement_due(&versions, now() + Duration::days(9))
        .is_empty());
    let due = engine.retirement_due(&versions, now() + Duration::days(10));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].version, Version::new(1, 0, 0));
}

#[test]
fn an_end_of_life_announced_by_the_provider_warns_then_rejects() {
    let policy = LifecyclePolicy::default();
    let mut v = version("1.0.0");
    let announced =
        ModelDeprecationInfo::new("end of life announced by the provider", None, 20, now())
            .unwrap();
    v.announce_end_of_life(announced).unwrap();
    assert_eq!(v.status(), ModelStatus::Inactive, "the status stays");
    let soon = policy.can_deploy(&v, &first(), now());
    assert!(soon.approved, "{}", soon.reason);
    assert!(
        soon.warnings[0].contains("in 20 days"),
        "{:?}",
        soon.warnings
    );
    let later = policy.can_deploy(&v, &first(), now() + Duration::days(21));
    assert!(!later.approved);
    assert!(
        later
            .reason
            .contains("end of life announced by the provider"),
        "{}",
        later.reason
    );
    // Not deprecated here, yet warned about: the provider's date counts.
    let warnings = policy.deprecation_warnings([&v], now());
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].source, EndOfLifeSource::Provider);
    assert_eq!(warnings[0].days_until_eol, 20);
    assert_eq!(
        warnings[0].severity,
        Severity::Warning,
        "within the 30-day threshold"
    );
}

#[test]
fn succession_follows_the_deployment_settings() {
    let engine = |settings: PolicySettings| {
        LifecyclePolicy::new(
            PolicyConfig::new(settings).unwrap(),
            EvaluationConfig::default(),
        )
        .succession()
    };
    assert_eq!(engine(PolicySettings::default()), Succession::default());
    let deactivating = engine(PolicySettings {
        deprecate_old_versions_on_new_deployment: false,
        default_grace_period_days: 7,
        ..PolicySettings::default()
    });
    assert_eq!(
        deactivating,
        Succession {
            displaced: Displaced::Deactivated,
            default_grace_period_days: 7,
        }
    );
}

#[test]
fn rollback_may_return_only_to_a_healthy_version_out_of_service() {
    let engine = LifecyclePolicy::default();
    let mut v1 = deprecated("1.0.0", 90, Some("2.0.0"), now());
    assert!(
        !engine.may_roll_back_to(&v1),
        "no results: nothing shows it was stable"
    );
    v1.metrics = Some(metrics(200, 2, 800.0));
    assert!(engine.may_roll_back_to(&v1));
    let mut failing = v1.clone();
    failing.metrics = Some(metrics(200, 30, 800.0));
    assert!(!engine.may_roll_back_to(&failing), "breaks the error rate");
    let mut too_few = v1.clone();
    too_few.metrics = Some(metrics(20, 0, 800.0));
    assert!(!engine.may_roll_back_to(&too_few), "too few samples");
    let mut serving = v1.clone();
    serving.activate(now()).unwrap();
    assert!(!engine.may_roll_back_to(&serving), "already active");
    let mut retired = v1;
    retired.retire(now()).unwrap();
    assert!(!engine.may_roll_back_to(&retired), "retired is final");
}
