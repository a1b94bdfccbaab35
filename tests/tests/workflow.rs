//! The standard workflow end to end, on the in-memory and the sled store:
//! register -> testing -> canary 5 % -> 50 % -> promote (old version
//! deprecated, 90-day grace) -> deprecation warnings as the clock advances ->
//! automatic retirement after end of life -> a compliance report and an
//! export that contain every step, with the chain verified.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle_audit::{ExportFormat, ModelAuditLog};
use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;
use lifecycle_policy::{DeploymentContext, LifecyclePolicy};
use lifecycle_registry::{Lane, ModelRegistry};
use lifecycle_store::{Clock, ManualClock, MemoryStore, Store};
use lifecycle_store_sled::SledStore;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
}

/// Retires every version past end of life, as a maintenance run does.
async fn maintain(
    registry: &ModelRegistry,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
) -> Vec<Version> {
    let maintenance = registry.acting_as(Actor::system("maintenance").unwrap());
    let mut retired = Vec::new();
    for model in registry.models().await.unwrap() {
        let versions = registry.versions(&model).await.unwrap();
        for due in policy.retirement_due(&versions, now) {
            maintenance.retire(&model, &due.version).await.unwrap();
            retired.push(due.version.clone());
        }
    }
    retired
}

async fn standard_workflow(store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let registry = ModelRegistry::open(
        store.clone(),
        clock.clone(),
        Succession::default(),
        Actor::new("alice").unwrap(),
    )
    .await
    .unwrap();
    let policy = LifecyclePolicy::default();
    let audit = ModelAuditLog::new(store.clone());
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    let step = |minutes| t0() + Duration::minutes(minutes);

    for v in [&v1, &v2] {
        let record = ModelVersion::new(
            model.clone(),
            v.clone(),
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            clock.now(),
        );
        registry.register(record).await.unwrap();
    }
    registry.activate(&model, &v1).await.unwrap();
    clock.set(step(10));
    registry.deploy_to_testing(&model, &v2).await.unwrap();
    clock.set(step(20));
    registry
        .start_canary(&model, &v2, CanaryWeight::new(5).unwrap())
        .await
        .unwrap();
    assert_eq!(
        registry
            .route("gpt-4-turbo", b"user-1")
            .unwrap()
            .version
            .version,
        v1
    );
    clock.set(step(30));
    registry
        .set_canary_weight(&model, CanaryWeight::new(50).unwrap())
        .await
        .unwrap();
    clock.set(step(40));
    // The registry alone publishes no results: the policy refuses a
    // replacement it cannot judge (the facade feeds it the evaluator's).
    let decision = policy.can_deploy(
        &registry.get(&model, &v2).await.unwrap(),
        &DeploymentContext::replacing(Version::new(1, 0, 0)),
        clock.now(),
    );
    assert!(
        !decision.approved && decision.reason.contains("no results yet"),
        "{decision:?}"
    );
    registry.promote_canary(&model).await.unwrap();
    let routed = registry.route("gpt-4-turbo", b"user-1").unwrap();
    assert_eq!(
        (routed.version.version.clone(), routed.lane),
        (v2.clone(), Lane::Active)
    );

    // The old version: deprecated with the default 90-day grace period.
    let old = registry.get(&model, &v1).await.unwrap();
    assert_eq!(old.status(), ModelStatus::Deprecated);
    let eol = old.deprecation().unwrap().end_of_life;
    assert_eq!(eol, step(40) + Duration::days(90));

    // Warnings sharpen as the clock advances; retirement waits for end of life.
    let severity_at = |now| {
        let versions = vec![old.clone()];
        policy
            .deprecation_warnings(&versions, now)
            .into_iter()
            .map(|w| w.severity)
            .collect::<Vec<_>>()
    };
    assert_eq!(severity_at(step(40)), [Severity::Info]);
    assert_eq!(
        severity_at(step(40) + Duration::days(61)),
        [Severity::Warning]
    );
    assert_eq!(
        severity_at(step(40) + Duration::days(85)),
        [Severity::Critical]
    );
    clock.set(step(40) + Duration::days(89));
    assert!(maintain(&registry, &policy, clock.now()).await.is_empty());
    clock.set(eol);
    assert_eq!(
        maintain(&registry, &policy, clock.now()).await,
        std::slice::from_ref(&v1)
    );
    assert_eq!(
        registry.get(&model, &v1).await.unwrap().status(),
        ModelStatus::Retired
    );

    // Who served when, rebuilt from the audit log.
    let at = |t| audit.active_at(&model, t);
    let before_canary = at(step(15)).await.unwrap();
    assert_eq!(
        (before_canary.active, before_canary.canary),
        (Some(v1.clone()), None)
    );
    assert_eq!(at(step(25)).await.unwrap().canary, Some((v2.clone(), 5)));
    assert_eq!(at(step(35)).await.unwrap().canary, Some((v2.clone(), 50)));
    let after = at(step(45)).await.unwrap();
    assert_eq!((after.active, after.canary), (Some(v2.clone()), None));

    // The report and the export hold every step, and the chain verifies.
    let end = clock.now() + Duration::seconds(1);
    let report = audit.compliance_report(t0(), end).await.unwrap();
    let expected_kinds = [
        (AuditEventKind::ModelRegistered, 2),
        (AuditEventKind::ModelActivated, 1),
        (AuditEventKind::DeployedToTesting, 1),
        (AuditEventKind::CanaryStarted, 1),
        (AuditEventKind::CanaryWeightChanged, 1),
        (AuditEventKind::CanaryPromoted, 1),
        (AuditEventKind::ModelDeprecated, 1),
        (AuditEventKind::ModelRetired, 1),
    ];
    for (kind, count) in expected_kinds {
        assert_eq!(report.by_kind.get(&kind), Some(&count), "{kind}");
    }
    assert_eq!(report.total_entries, 9);
    assert_eq!(report.models[&model].deployments, 2);
    assert!(report.chain.verified, "{:?}", report.chain);
    let mut exported = Vec::new();
    audit
        .export(t0(), end, ExportFormat::Json, &mut exported)
        .await
        .unwrap();
    let entries: Vec<AuditLogEntry> = serde_json::from_slice(&exported).unwrap();
    assert_eq!(entries.len(), 9);
    verify_chain(&entries, None).unwrap();
    let retirement = entries.last().unwrap();
    assert_eq!(retirement.event.actor.as_str(), "system:maintenance");
    assert!(audit.verify().await.unwrap().is_intact());
}

#[tokio::test]
async fn the_standard_workflow_on_the_memory_store() {
    standard_workflow(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn the_standard_workflow_on_the_sled_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    standard_workflow(Arc::new(SledStore::open(&dir).unwrap())).await;
}
