//! `ModelLifecycleManager` end to end, as an application uses it.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle::store::MemoryStore;
use lifecycle::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 9, 0, 0).unwrap()
}

fn version(model: &ModelId, major: u64) -> ModelVersion {
    ModelVersion::new(
        model.clone(),
        Version::new(major, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        t0(),
    )
}

/// Records `result` `n` times for `version` of `model`.
fn record_n(
    manager: &ModelLifecycleManager,
    model: &str,
    version: &Version,
    n: usize,
    result: &InferenceResult,
) {
    for _ in 0..n {
        manager.record_inference(model, version, result).unwrap();
    }
}

/// A manager on a memory store that checks alerts only when asked, and
/// the model the tests register versions of.
async fn gpt_on_memory() -> (ModelLifecycleManager, ModelId) {
    let manager = ModelLifecycleManager::builder()
        .memory()
        .alert_check_interval(None)
        .build()
        .await
        .unwrap();
    (manager, ModelId::new("gpt-4-turbo").unwrap())
}

/// A temporary directory removed when the test ends.
fn scratch(name: &str) -> tempfile::TempDir {
    let prefix = format!("lifecycle-manager-{name}-");
    tempfile::Builder::new().prefix(&prefix).tempdir().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_activation_is_a_typed_error_and_is_audited() {
    // The default policy: the safe one.
    let manager = ModelLifecycleManager::builder()
        .memory()
        .build()
        .await
        .unwrap();
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.register_model(version(&model, 2)).await.unwrap();
    // Nothing active yet: a first version without results may serve.
    manager.activate_model(&model, &v1).await.unwrap();
    let first = manager.get_recent_audit_entries(3).await.unwrap();
    assert!(
        first
            .iter()
            .any(|e| e.event.message.contains("first active version")),
        "the approval says why: {first:?}"
    );
    match manager.activate_model(&model, &v2).await {
        Err(LifecycleError::Rejected(decision)) => {
            assert!(!decision.approved);
            assert!(
                decision
                    .reason
                    .contains("no results yet and 1.0.0 is active"),
                "{}",
                decision.reason
            );
        }
        other => panic!("{other:?}"),
    }
    let status = manager.get_model(&model, &v2).await.unwrap().status();
    assert_eq!(status, ModelStatus::Inactive, "nothing changed");
    let last = manager.get_recent_audit_entries(1).await.unwrap().remove(0);
    assert_eq!(last.event.kind, AuditEventKind::DeploymentDecision);
    assert_eq!(last.event.details["approved"], "false");
    // With enough good traffic recorded, the same activation is approved.
    let ok = InferenceResult::success(300.0).with_confidence(0.9);
    record_n(&manager, "gpt-4-turbo", &v2, 60, &ok);
    manager.activate_model(&model, &v2).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_refused_promotion_and_an_override_is_audited() {
    let (manager, model) = gpt_on_memory().await;
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.register_model(version(&model, 2)).await.unwrap();
    manager.activate_model(&model, &v1).await.unwrap();
    manager
        .start_canary(&model, &v2, CanaryWeight::new(10).unwrap())
        .await
        .unwrap();
    let ok = InferenceResult::success(300.0).with_confidence(0.9);
    record_n(&manager, "gpt-4-turbo", &v1, 300, &ok);
    // Twice as slow: within the thresholds (p95 5 s), but the judge sees
    // 2.0.0's latency regress against 1.0.0's.
    let slow = InferenceResult::success(600.0).with_confidence(0.9);
    record_n(&manager, "gpt-4-turbo", &v2, 300, &slow);
    let evaluated = manager.evaluate_model("gpt-4-turbo", &v2).unwrap();
    assert_eq!(evaluated.status, EvaluationStatus::Passed, "{evaluated:?}");
    let refused = manager.promote_canary(&model).await.unwrap_err();
    let LifecycleError::Rejected(decision) = &refused else {
        panic!("{refused:?}")
    };
    assert!(
        decision
            .reason
            .starts_with("the canary judge gives gpt-4-turbo 2.0.0 fail against 1.0.0"),
        "{}",
        decision.reason
    );
    assert_eq!(
        manager
            .get_active_model(&model)
            .await
            .unwrap()
            .unwrap()
            .version,
        v1,
        "nothing changed"
    );

    let blank = manager.force_promote_canary(&model, " ").await.unwrap_err();
    assert!(blank.to_string().contains("reason"), "{blank}");
    let forced = manager
        .force_promote_canary(&model, "incident 4711: 1.0.0 is down at the provider")
        .await
        .unwrap();
    assert!(!forced.decision.approved);
    assert_eq!(forced.version.status(), ModelStatus::Active);
    let promoted = manager
        .get_model_history(&model)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.event.kind == AuditEventKind::CanaryPromoted)
        .unwrap();
    assert_eq!(promoted.event.severity, Severity::Warning);
    assert_eq!(
        promoted.event.details["override"],
        "incident 4711: 1.0.0 is down at the provider"
    );
    assert_eq!(promoted.event.details["refused"], decision.reason);
    assert!(promoted.event.message.contains("overriding the policy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_workflow_through_the_facade_on_sled() {
    let tmp = scratch("workflow");
    let dir = tmp.path().join("store");
    let clock = Arc::new(ManualClock::new(t0()));
    let manager = ModelLifecycleManager::builder()
        .sled(&dir)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(manager.store_kind(), "sled");
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.register_model(version(&model, 2)).await.unwrap();
    manager.activate_model(&model, &v1).await.unwrap();
    manager
        .start_canary(&model, &v2, CanaryWeight::new(50).unwrap())
        .await
        .unwrap();
    for i in 0..2_000u32 {
        let key = format!("user-{i}");
        let routed = manager
            .route("gpt-4-turbo", key.as_bytes())
            .unwrap()
            .unwrap();
        let latency = 400.0 + f64::from(i % 200);
        let result = InferenceResult::success(latency)
            .with_confidence(0.9)
            .with_tokens(800, 150);
        manager
            .record_inference("gpt-4-turbo", &routed.version.version, &result)
            .unwrap();
    }
    let comparison = manager.compare_versions("gpt-4-turbo", &v1, &v2).unwrap();
    assert_eq!(comparison.verdict, Verdict::Pass, "{}", comparison.summary);
    manager.promote_canary(&model).await.unwrap();
    assert_eq!(
        manager
            .get_active_model(&model)
            .await
            .unwrap()
            .unwrap()
            .version,
        v2
    );
    assert_eq!(manager.get_active_models().await.unwrap().len(), 1);
    let status = manager.get_system_status().await.unwrap();
    assert_eq!(status.store_kind, "sled");
    assert!(status.store_size_bytes.unwrap() > 0);
    assert_eq!(status.active, [(model.clone(), v2.clone())]);
    assert!(status.audit_chain_verified);
    assert_eq!(
        manager.get_deprecation_warnings().await.unwrap()[0].days_until_eol,
        90
    );
    clock.advance(Duration::days(91));
    let maintenance = manager.run_maintenance().await.unwrap();
    assert_eq!(
        maintenance.retired,
        [RetiredVersion {
            model_id: model.clone(),
            version: v1.clone()
        }]
    );
    let err = manager
        .record_inference("gpt-4-turbo", &v1, &InferenceResult::success(1.0))
        .unwrap_err();
    assert!(err.to_string().contains("retired"), "{err}");
    let report = manager
        .generate_compliance_report(t0(), clock.now() + Duration::seconds(1))
        .await
        .unwrap();
    assert!(report.chain.verified);
    assert_eq!(report.models[&model].deployments, 2);
    let mut exported = Vec::new();
    let summary = manager
        .export_audit_log(
            t0(),
            clock.now() + Duration::seconds(1),
            ExportFormat::Ndjson,
            &mut exported,
        )
        .await
        .unwrap();
    assert_eq!(summary.entries, report.total_entries);
    assert!(manager.audit_log().verify().await.unwrap().is_intact());
    manager.dispose().await.unwrap();
    drop(manager);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispose_saves_metrics_and_refuses_further_calls() {
    let tmp = scratch("dispose");
    let dir = tmp.path().join("store");
    let model = ModelId::new("m").unwrap();
    {
        let manager = ModelLifecycleManager::builder()
            .sled(&dir)
            .build()
            .await
            .unwrap();
        manager.register_model(version(&model, 1)).await.unwrap();
        record_n(
            &manager,
            "m",
            &Version::new(1, 0, 0),
            42,
            &InferenceResult::success(100.0),
        );
        manager.dispose().await.unwrap();
        assert!(matches!(
            manager.route("m", b"k"),
            Err(LifecycleError::Disposed)
        ));
        assert!(matches!(
            manager.get_model_versions(&model).await,
            Err(LifecycleError::Disposed)
        ));
        assert!(matches!(
            manager.dispose().await,
            Err(LifecycleError::Disposed)
        ));
    }
    let reopened = ModelLifecycleManager::builder()
        .sled(&dir)
        .build()
        .await
        .unwrap();
    let lifetime = reopened
        .evaluator()
        .lifetime_metrics("m", &Version::new(1, 0, 0))
        .unwrap();
    assert_eq!(
        lifetime.sample_count, 42,
        "restored from the checkpoint dispose saved"
    );
    let record = reopened
        .get_model(&model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    assert_eq!(
        record.metrics.map(|m| m.sample_count),
        Some(42),
        "dispose published the metrics into the version's record"
    );
    reopened.dispose().await.unwrap();
    drop(reopened);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_published_into_the_registry_every_interval() {
    let evaluation = EvaluationConfig::new(EvaluationSettings {
        metrics_update_interval: 50,
        ..EvaluationSettings::default()
    })
    .unwrap();
    let manager = ModelLifecycleManager::builder()
        .memory()
        .evaluation_config(evaluation)
        .build()
        .await
        .unwrap();
    let model = ModelId::new("m").unwrap();
    let v1 = Version::new(1, 0, 0);
    manager.register_model(version(&model, 1)).await.unwrap();
    let result = InferenceResult::success(120.0).with_tokens(1_000, 100);
    record_n(&manager, "m", &v1, 500, &result);
    let published = eventually(|| async {
        let record = manager.get_model(&model, &v1).await.unwrap();
        record.metrics.is_some_and(|m| m.sample_count >= 450)
    })
    .await;
    assert!(published, "the record shows the evaluator's figures");
    let metrics = manager
        .get_model(&model, &v1)
        .await
        .unwrap()
        .metrics
        .unwrap();
    assert_eq!(metrics.total_input_tokens, 1_000 * metrics.sample_count);
    assert!((metrics.p50_latency_ms.unwrap() - 120.0).abs() <= 1.2);
    let audited = manager.get_model_history(&model).await.unwrap();
    assert_eq!(audited.len(), 1, "publishing is not audited: {audited:?}");
}

/// Registers versions 1.0.0 to `majors`.0.0 of `model`, activates 1.0.0 and
/// runs 2.0.0 as a canary on 10 % of traffic.
async fn with_canary(manager: &ModelLifecycleManager, model: &ModelId, majors: u64) {
    for major in 1..=majors {
        manager.register_model(version(model, major)).await.unwrap();
    }
    manager
        .activate_model(model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let weight = CanaryWeight::new(10).unwrap();
    manager
        .start_canary(model, &Version::new(2, 0, 0), weight)
        .await
        .unwrap();
}

/// Polls `check` every 10 ms for up to 5 s.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

async fn auto_rollback_manager(clock: Arc<ManualClock>) -> ModelLifecycleManager {
    let policy = PolicyConfig::new(PolicySettings {
        auto_rollback_on_critical: true,
        ..PolicySettings::default()
    })
    .unwrap();
    ModelLifecycleManager::builder()
        .memory()
        .clock(clock)
        .policy_config(policy)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_inferences_on_the_active_version_roll_it_back() {
    let clock = Arc::new(ManualClock::new(t0()));
    let manager = auto_rollback_manager(clock.clone()).await;
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.register_model(version(&model, 2)).await.unwrap();
    manager.activate_model(&model, &v1).await.unwrap();
    record_n(
        &manager,
        "gpt-4-turbo",
        &v1,
        200,
        &InferenceResult::success(300.0),
    );
    clock.advance(Duration::hours(1));
    manager
        .force_activate_model(&model, &v2, "a direct swap, no canary")
        .await
        .unwrap();
    record_n(
        &manager,
        "gpt-4-turbo",
        &v2,
        100,
        &InferenceResult::failure(ErrorKind::ServerError, 30.0),
    );
    let alerts = manager.check_alerts().unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.level == AlertLevel::Critical && a.version == v2),
        "{alerts:?}"
    );
    let back = eventually(|| async {
        manager
            .get_active_model(&model)
            .await
            .unwrap()
            .map(|a| a.version)
            == Some(v1.clone())
    })
    .await;
    assert!(back, "rolled back to the last stable version");
    let rolled = manager.get_model(&model, &v2).await.unwrap();
    assert_eq!(rolled.status(), ModelStatus::Deprecated);
    assert!(
        rolled
            .deprecation()
            .unwrap()
            .reason
            .contains("critical alert"),
        "{:?}",
        rolled.deprecation()
    );
    let history = manager.get_model_history(&model).await.unwrap();
    let rollback = history
        .iter()
        .find(|e| e.event.kind == AuditEventKind::ModelRolledBack)
        .unwrap();
    assert_eq!(rollback.event.actor.as_str(), "auto-rollback");
    assert!(rollback.event.details["reason"].contains("maximum error rate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stable_version_the_failure_is_recorded_and_nothing_moves() {
    let clock = Arc::new(ManualClock::new(t0()));
    let manager = auto_rollback_manager(clock).await;
    let model = ModelId::new("m").unwrap();
    manager.register_model(version(&model, 1)).await.unwrap();
    manager
        .activate_model(&model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let failed = InferenceResult::failure(ErrorKind::Timeout, 30.0);
    record_n(&manager, "m", &Version::new(1, 0, 0), 100, &failed);
    manager.check_alerts().unwrap();
    let recorded = eventually(|| async {
        manager
            .get_model_history(&model)
            .await
            .unwrap()
            .iter()
            .any(|e| e.event.details.get("outcome").map(String::as_str) == Some("no target"))
    })
    .await;
    assert!(
        recorded,
        "a critical entry says there was nothing to roll back to"
    );
    let active = manager.get_active_model(&model).await.unwrap().unwrap();
    assert_eq!(active.version, Version::new(1, 0, 0), "left as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_aborted() {
    let clock = Arc::new(ManualClock::new(t0()));
    let manager = auto_rollback_manager(clock).await;
    let model = ModelId::new("m").unwrap();
    with_canary(&manager, &model, 2).await;
    let failed = InferenceResult::failure(ErrorKind::ServerError, 30.0);
    record_n(&manager, "m", &Version::new(2, 0, 0), 100, &failed);
    manager.check_alerts().unwrap();
    let aborted = eventually(|| async {
        manager
            .get_model(&model, &Version::new(2, 0, 0))
            .await
            .unwrap()
            .status()
            == ModelStatus::Inactive
    })
    .await;
    assert!(aborted);
    let history = manager.get_model_history(&model).await.unwrap();
    let abort = history
        .iter()
        .find(|e| e.event.kind == AuditEventKind::CanaryAborted)
        .unwrap();
    assert_eq!(abort.event.actor.as_str(), "auto-rollback");
    assert!(
        abort.event.details["reason"].contains("critical alert"),
        "the alert that caused it: {:?}",
        abort.event.details
    );
    assert_eq!(
        manager
            .get_active_model(&model)
            .await
            .unwrap()
            .unwrap()
            .version,
        Version::new(1, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_status_shows_what_serves_what_fires_and_the_chain() {
    // The canary stays to be shown: no automatic abort here.
    let policy = PolicyConfig::new(PolicySettings {
        auto_rollback_on_critical: false,
        ..PolicySettings::default()
    })
    .unwrap();
    let manager = ModelLifecycleManager::builder()
        .memory()
        .policy_config(policy)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap();
    let model = ModelId::new("m").unwrap();
    with_canary(&manager, &model, 3).await;
    let failed = InferenceResult::failure(ErrorKind::ServerError, 30.0);
    record_n(&manager, "m", &Version::new(2, 0, 0), 60, &failed);
    manager.check_alerts().unwrap();
    // The alert is audited in the background: let it land before reading the head.
    let audited = eventually(|| async {
        let recent = manager.get_recent_audit_entries(1).await.unwrap();
        recent[0].event.kind == AuditEventKind::ThresholdViolated
    })
    .await;
    assert!(audited);
    let status = manager.get_system_status().await.unwrap();
    assert_eq!(
        (status.store_kind, status.store_size_bytes, status.models),
        ("memory", None, 1)
    );
    assert_eq!(status.active, [(model.clone(), Version::new(1, 0, 0))]);
    assert_eq!(
        status.canaries,
        [(model.clone(), Version::new(2, 0, 0), 10)]
    );
    assert_eq!(
        status.alerts_firing,
        [(model.clone(), Version::new(2, 0, 0), AlertLevel::Critical)]
    );
    let counts: Vec<(ModelStatus, usize)> = status.versions_by_status.into_iter().collect();
    assert_eq!(
        counts,
        [
            (ModelStatus::Inactive, 1),
            (ModelStatus::Canary, 1),
            (ModelStatus::Active, 1)
        ]
    );
    assert!(status.audit_chain_verified);
    assert_eq!(
        status.audit_head,
        manager.audit_log().verify().await.unwrap().verified_head
    );
    assert!(status.deprecation_warnings.is_empty());
}

/// A stored checkpoint that cannot be read never bricks the store: the
/// manager opens, says which version and why in the audit log, starts that
/// version's statistics over, and the next open is clean.
#[tokio::test]
async fn an_unreadable_checkpoint_is_reported_and_replaced_not_fatal() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let open = || {
        ModelLifecycleManager::builder()
            .store(store.clone())
            .clock(clock.clone())
            .alert_check_interval(None)
            .build()
    };
    let m = open().await.unwrap();
    let gpt = ModelId::new("gpt").unwrap();
    m.register_model(version(&gpt, 1)).await.unwrap();
    record_n(
        &m,
        "gpt",
        &Version::new(1, 0, 0),
        10,
        &InferenceResult::success(100.0),
    );
    m.dispose().await.unwrap();
    let mut saved = store
        .metrics(&gpt, &Version::new(1, 0, 0))
        .await
        .unwrap()
        .pop()
        .expect("the stopped manager's checkpoint, folded into the merged part");
    assert_eq!(saved.replica, "");
    saved.state = b"{\"damaged\": true".to_vec();
    store.save_metrics(saved).await.unwrap();

    let reopened = open().await.expect("the store stays usable");
    let errors = reopened
        .get_recent_audit_entries(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == AuditEventKind::Error)
        .collect::<Vec<_>>();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].event.message.contains("gpt 1.0.0 cannot be read"),
        "{}",
        errors[0].event.message
    );
    assert_eq!(
        reopened
            .evaluator()
            .lifetime_metrics("gpt", &Version::new(1, 0, 0))
            .unwrap()
            .sample_count,
        0,
        "started over"
    );
    reopened.dispose().await.unwrap();
    let clean = open().await.unwrap();
    let errors_now = clean
        .get_recent_audit_entries(10)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.kind == AuditEventKind::Error)
        .count();
    assert_eq!(errors_now, 1, "replaced: no new error on the next open");
    assert!(clean.audit_log().verify().await.unwrap().is_intact());
}

/// Metrics live in checkpoints, not in version records: recording any
/// number of results — one by one with background checkpoints, or in a
/// batch — changes no model's revision and writes no audit entry, and the
/// figures are still what `get_model` shows, after a restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_results_never_changes_a_model() {
    let tmp = scratch("revision-stays");
    let dir = tmp.path().join("store");
    let open = || async {
        ModelLifecycleManager::builder()
            .sled(&dir)
            .alert_check_interval(None)
            .build()
            .await
            .unwrap()
    };
    let manager = open().await;
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let v1 = Version::new(1, 0, 0);
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.activate_model(&model, &v1).await.unwrap();
    let revision = manager.get_model(&model, &v1).await.unwrap().revision;
    let entries = manager.audit_log().verify().await.unwrap().entries_checked;

    let ok = InferenceResult::success(300.0).with_confidence(0.9);
    record_n(&manager, "gpt-4-turbo", &v1, 1_000, &ok);
    let batch: Vec<_> = (0..500).map(|_| (model.clone(), v1.clone(), ok)).collect();
    manager.record_batch(&batch, "batch-1").await.unwrap();
    manager.dispose().await.unwrap();

    let reopened = open().await;
    let record = reopened.get_model(&model, &v1).await.unwrap();
    assert_eq!(record.revision, revision, "recording changed the model");
    assert_eq!(record.metrics.unwrap().sample_count, 1_500);
    let verified = reopened.audit_log().verify().await.unwrap();
    assert_eq!(
        verified.entries_checked, entries,
        "recording wrote audit entries"
    );
    reopened.dispose().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// Every failure says what kind it is, as operations produce them: the
/// CLI's exit code and the server's status come from this one place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_classify_themselves() {
    let (manager, model) = gpt_on_memory().await;
    let (v1, v2, v9) = (
        Version::new(1, 0, 0),
        Version::new(2, 0, 0),
        Version::new(9, 0, 0),
    );
    manager.register_model(version(&model, 1)).await.unwrap();
    manager.register_model(version(&model, 2)).await.unwrap();
    manager.activate_model(&model, &v1).await.unwrap();
    fn class<T>(r: Result<T, LifecycleError>) -> ErrorClass {
        r.map(|_| ()).unwrap_err().class()
    }
    assert_eq!(
        class(manager.get_model(&model, &v9).await),
        ErrorClass::NotFound
    );
    assert_eq!(
        class(manager.promote_canary(&model).await),
        ErrorClass::NotFound
    );
    assert_eq!(
        class(manager.register_model(version(&model, 1)).await),
        ErrorClass::Conflict
    );
    assert_eq!(
        class(manager.retire_model(&model, &v1).await),
        ErrorClass::Conflict
    );
    assert_eq!(
        class(manager.activate_model(&model, &v2).await),
        ErrorClass::Rejected
    );
    assert_eq!(
        class(manager.force_activate_model(&model, &v2, "").await),
        ErrorClass::InvalidInput
    );
    let bad = InferenceResult::success(f64::NAN);
    assert_eq!(
        class(manager.record_inference("gpt-4-turbo", &v1, &bad)),
        ErrorClass::InvalidInput
    );
    manager.dispose().await.unwrap();
    assert_eq!(
        class(manager.get_model(&model, &v1).await),
        ErrorClass::Unavailable
    );
}
