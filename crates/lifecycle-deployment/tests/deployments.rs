//! `Deployments` against the in-memory store: the gate and its move in one
//! commit, automatic rollback, maintenance under its lease.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle_deployment::{DeploymentError, Deployments, RetiredVersion, Rollback};
use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;
use lifecycle_evaluator::{Alert, AlertLevel, Evaluator};
use lifecycle_policy::LifecyclePolicy;
use lifecycle_registry::{ModelRegistry, Target};
use lifecycle_store::{AuditQuery, Clock, HeldLease, ManualClock, MemoryStore, Store};

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    registry: ModelRegistry,
    evaluator: Evaluator,
    deployments: Deployments,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start()));
    let policy = LifecyclePolicy::default();
    let registry = ModelRegistry::new(
        store.clone(),
        clock.clone(),
        policy.succession(),
        Actor::new("alice").unwrap(),
    );
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
    let deployments = Deployments::new(
        registry.clone(),
        evaluator.clone(),
        policy,
        store.clone(),
        clock.clone(),
    );
    World {
        store,
        clock,
        registry,
        evaluator,
        deployments,
    }
}

fn model() -> ModelId {
    ModelId::new("gpt-4-turbo").unwrap()
}

fn v(major: u64) -> Version {
    Version::new(major, 0, 0)
}

impl World {
    async fn register(&self, major: u64) {
        let record = ModelVersion::new(
            model(),
            v(major),
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            self.clock.now(),
        );
        let written = self.registry.register(record).await.unwrap();
        self.evaluator.track(&written);
    }

    /// `n` fast successes for `major`, enough for every threshold.
    fn healthy_results(&self, major: u64, n: usize) {
        for _ in 0..n {
            self.evaluator
                .record(
                    model().as_str(),
                    &v(major),
                    &InferenceResult::success(100.0),
                )
                .unwrap();
        }
    }

    async fn revision(&self) -> u64 {
        self.store.model(&model()).await.unwrap().revision
    }

    async fn entries(&self) -> Vec<AuditLogEntry> {
        self.store.audit(&AuditQuery::all()).await.unwrap()
    }

    async fn status(&self, major: u64) -> ModelStatus {
        self.registry
            .get(&model(), &v(major))
            .await
            .unwrap()
            .status()
    }

    fn critical(&self, major: u64) -> Alert {
        Alert {
            model_id: model(),
            version: v(major),
            level: AlertLevel::Critical,
            threshold: None,
            message: "error rate 40% over the window".into(),
            observed: None,
            limit: None,
            at: self.clock.now(),
        }
    }
}

#[tokio::test]
async fn an_approved_deployment_is_its_decision_and_its_move_in_one_commit() {
    let w = world();
    w.register(1).await;
    let before = w.revision().await;
    let deployed = w
        .deployments
        .deploy(&model(), Target::Version(&v(1)), None)
        .await
        .unwrap();
    assert!(deployed.decision.approved, "{:?}", deployed.decision);
    assert_eq!(deployed.version.status(), ModelStatus::Active);
    assert_eq!(w.revision().await, before + 1, "one commit");
    let entries = w.entries().await;
    let decision = entries
        .iter()
        .position(|e| e.event.kind == AuditEventKind::DeploymentDecision)
        .expect("the decision is audited");
    assert_eq!(entries[decision].event.approved(), Some(true));
    let activation = &entries[decision + 1];
    assert_eq!(activation.event.status(), Some(ModelStatus::Active));
    assert_eq!(activation.event.actor.to_string(), "alice");
}

#[tokio::test]
async fn a_refusal_is_audited_alone_and_moves_nothing() {
    let w = world();
    w.register(1).await;
    w.register(2).await;
    w.deployments
        .deploy(&model(), Target::Version(&v(1)), None)
        .await
        .unwrap();
    let revision = w.revision().await;
    let logged = w.entries().await.len();
    // v2 has no results while v1 serves: the policy refuses it.
    let refused = w
        .deployments
        .deploy(&model(), Target::Version(&v(2)), None)
        .await
        .unwrap_err();
    let DeploymentError::Rejected(decision) = refused else {
        panic!("expected a rejection, got {refused:?}");
    };
    assert!(!decision.approved);
    assert_eq!(w.revision().await, revision, "nothing moved");
    assert_eq!(w.status(2).await, ModelStatus::Inactive);
    let entries = w.entries().await;
    assert_eq!(entries.len(), logged + 1, "the refusal alone");
    let last = entries.last().unwrap();
    assert_eq!(last.event.kind, AuditEventKind::DeploymentDecision);
    assert_eq!(last.event.approved(), Some(false));
    assert_eq!(last.event.severity, Severity::Warning);
}

#[tokio::test]
async fn an_override_needs_its_reason_and_is_recorded_with_the_activation() {
    let w = world();
    w.register(1).await;
    w.register(2).await;
    w.deployments
        .deploy(&model(), Target::Version(&v(1)), None)
        .await
        .unwrap();
    let logged = w.entries().await.len();
    for bad in ["", "   ", "line\nbreak"] {
        let error = w
            .deployments
            .deploy(&model(), Target::Version(&v(2)), Some(bad))
            .await
            .unwrap_err();
        assert!(
            matches!(error, DeploymentError::Domain(_)),
            "{bad:?}: {error:?}"
        );
        assert!(error.to_string().contains("reason"), "{error}");
    }
    assert_eq!(
        w.entries().await.len(),
        logged,
        "a bad reason writes nothing"
    );
    let forced = w
        .deployments
        .deploy(&model(), Target::Version(&v(2)), Some("incident 4711"))
        .await
        .unwrap();
    assert!(!forced.decision.approved, "the refusal is kept");
    assert_eq!(forced.version.status(), ModelStatus::Active);
    let entries = w.entries().await;
    let activation = entries
        .iter()
        .rev()
        .find(|e| e.event.version == Some(v(2)) && e.event.status() == Some(ModelStatus::Active))
        .unwrap();
    let detail = |key: &str| activation.event.details.get(key).map(String::as_str);
    assert_eq!(detail("override"), Some("incident 4711"));
    assert_eq!(detail("refused"), Some(forced.decision.reason.as_str()));
    assert_eq!(activation.event.severity, Severity::Warning);
}

#[tokio::test]
async fn can_deploy_audits_the_decision_and_moves_nothing() {
    let w = world();
    w.register(1).await;
    let revision = w.revision().await;
    let decision = w.deployments.can_deploy(&model(), &v(1)).await.unwrap();
    assert!(decision.approved);
    assert_eq!(w.revision().await, revision);
    assert_eq!(w.status(1).await, ModelStatus::Inactive);
    let last = w.entries().await.pop().unwrap();
    assert_eq!(last.event.kind, AuditEventKind::DeploymentDecision);
}

#[tokio::test]
async fn a_critical_alert_rolls_back_to_the_last_healthy_active_version() {
    let w = world();
    for major in [1, 2, 3] {
        w.register(major).await;
    }
    // v1 served well, then v2 (no results: not a target), then v3.
    w.registry.activate(&model(), &v(1)).await.unwrap();
    w.healthy_results(1, 60);
    w.registry.activate(&model(), &v(2)).await.unwrap();
    w.registry.activate(&model(), &v(3)).await.unwrap();
    let held = HeldLease::default();
    let done = w.deployments.on_alert(&w.critical(3), &held).await.unwrap();
    assert_eq!(done, Rollback::RolledBack { to: v(1) });
    assert!(done.moved());
    assert_eq!(w.status(1).await, ModelStatus::Active);
    let last = w.entries().await.pop().unwrap();
    assert_eq!(last.event.actor.to_string(), "auto-rollback");
}

#[tokio::test]
async fn without_a_healthy_target_the_finding_is_audited_and_nothing_moves() {
    let w = world();
    w.register(1).await;
    w.register(2).await;
    w.registry.activate(&model(), &v(1)).await.unwrap();
    w.registry.activate(&model(), &v(2)).await.unwrap();
    let revision = w.revision().await;
    let held = HeldLease::default();
    let done = w.deployments.on_alert(&w.critical(2), &held).await.unwrap();
    assert_eq!(done, Rollback::NoTarget);
    assert!(!done.moved());
    assert_eq!(w.revision().await, revision);
    let last = w.entries().await.pop().unwrap();
    assert_eq!(last.event.severity, Severity::Critical);
    assert!(last.event.message.contains("no stable version"), "{last:?}");
}

#[tokio::test]
async fn a_critical_alert_on_a_canary_aborts_it_and_a_warning_does_nothing() {
    let w = world();
    w.register(1).await;
    w.register(2).await;
    w.registry.activate(&model(), &v(1)).await.unwrap();
    w.registry.deploy_to_testing(&model(), &v(2)).await.unwrap();
    w.registry
        .start_canary(&model(), &v(2), CanaryWeight::new(10).unwrap())
        .await
        .unwrap();
    let held = HeldLease::default();
    let mut warning = w.critical(2);
    warning.level = AlertLevel::Warning;
    let done = w.deployments.on_alert(&warning, &held).await.unwrap();
    assert_eq!(done, Rollback::Nothing);
    assert_eq!(w.status(2).await, ModelStatus::Canary);
    let done = w.deployments.on_alert(&w.critical(2), &held).await.unwrap();
    assert_eq!(done, Rollback::CanaryAborted);
    assert_ne!(w.status(2).await, ModelStatus::Canary);
}

#[tokio::test]
async fn maintenance_retires_what_is_past_its_end_of_life_once_per_lease() {
    let w = world();
    w.register(1).await;
    w.register(2).await;
    w.registry.activate(&model(), &v(1)).await.unwrap();
    w.registry.activate(&model(), &v(2)).await.unwrap();
    assert_eq!(w.status(1).await, ModelStatus::Deprecated);
    w.clock.advance(Duration::days(91));
    // Another manager holds the lease: retirements are left to it.
    let ttl = Duration::seconds(60);
    let theirs = w
        .store
        .acquire_lease("maintenance", "replica-b", ttl, w.clock.now())
        .await
        .unwrap()
        .unwrap();
    let report = w.deployments.run_maintenance("replica-a").await.unwrap();
    assert_eq!(report.left_to.as_deref(), Some("replica-b"));
    assert!(report.retired.is_empty());
    assert_eq!(w.status(1).await, ModelStatus::Deprecated);
    w.store.release_lease(&theirs).await.unwrap();
    let report = w.deployments.run_maintenance("replica-a").await.unwrap();
    assert_eq!(
        report.retired,
        [RetiredVersion {
            model_id: model(),
            version: v(1)
        }]
    );
    assert_eq!(report.left_to, None);
    assert_eq!(w.status(1).await, ModelStatus::Retired);
    let last = w.entries().await.pop().unwrap();
    assert_eq!(last.event.actor.to_string(), "system:maintenance");
    // The run released its lease: another manager takes it at once.
    let next = w
        .store
        .acquire_lease("maintenance", "replica-b", ttl, w.clock.now())
        .await
        .unwrap();
    assert!(next.is_some(), "the lease was released");
}
