//! `ModelLifecycleManager` end to end on both stores: backup → restore →
//! identical state, damaged backups that change nothing, automatic rollback
//! driven by a real stream of routed, failing requests, policy rejections,
//! dispose, and many tasks using one manager at once.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use lifecycle::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle::policy::EndOfLifeSource;
use lifecycle::store::MemoryStore;
use lifecycle::store::StoreImage;
use lifecycle::store_sled::SledStore;
use lifecycle::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap()
}

fn gpt() -> ModelId {
    ModelId::new("gpt-4-turbo").unwrap()
}

fn v(major: u64) -> Version {
    Version::new(major, 0, 0)
}

fn record_of(major: u64) -> ModelVersion {
    ModelVersion::new(
        gpt(),
        v(major),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        t0(),
    )
}

/// Where a test keeps its stores.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new(name: &str) -> Self {
        let prefix = format!("lifecycle-e2e-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    fn store(&self, name: &str) -> Arc<dyn Store> {
        Arc::new(SledStore::open(self.0.path().join(name)).unwrap())
    }
}

/// Both kinds of store, by name.
const STORES: [&str; 2] = ["memory", "sled"];

fn store_of(kind: &str, scratch: &Scratch, name: &str) -> Arc<dyn Store> {
    match kind {
        "memory" => Arc::new(MemoryStore::new()),
        _ => scratch.store(name),
    }
}

async fn manager_on(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> ModelLifecycleManager {
    ModelLifecycleManager::builder()
        .store(store)
        .clock(clock)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap()
}

fn record_n(
    manager: &ModelLifecycleManager,
    version: &Version,
    n: usize,
    result: &InferenceResult,
) {
    for _ in 0..n {
        manager
            .record_inference("gpt-4-turbo", version, result)
            .unwrap();
    }
}

/// Polls `check` every 10 ms for up to 10 s.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1_000 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// A manager with history: three versions through activation, a canary,
/// a rollback and a deprecation, traffic on two of them, a pruned log.
async fn populate(manager: &ModelLifecycleManager, clock: &ManualClock) {
    for major in 1..=3 {
        manager.register_model(record_of(major)).await.unwrap();
    }
    manager.activate_model(&gpt(), &v(1)).await.unwrap();
    let ok = InferenceResult::success(420.0)
        .with_tokens(900, 120)
        .with_confidence(0.9);
    record_n(manager, &v(1), 300, &ok);
    clock.advance(Duration::minutes(5));
    let weight = CanaryWeight::new(10).unwrap();
    manager.start_canary(&gpt(), &v(2), weight).await.unwrap();
    record_n(manager, &v(2), 150, &ok);
    manager.promote_canary(&gpt()).await.unwrap();
    manager
        .rollback_model(&gpt(), &v(1), "latency complaints")
        .await
        .unwrap();
    manager.can_deploy_model(&gpt(), &v(1)).await.unwrap();
}

async fn image(store: &dyn Store) -> StoreImage {
    StoreImage::read(store).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_reproduces_the_same_state_on_every_pair_of_stores() {
    let scratch = Scratch::new("backup");
    for from in STORES {
        for to in STORES {
            let clock = Arc::new(ManualClock::new(t0()));
            let source_store = store_of(from, &scratch, &format!("{from}-{to}-source"));
            let source = manager_on(source_store.clone(), clock.clone()).await;
            populate(&source, &clock).await;
            let cut = t0() + Duration::minutes(1);
            let archive = std::io::sink();
            let pruned = source
                .audit_log()
                .export_and_prune(cut, ExportFormat::Ndjson, archive);
            pruned.await.unwrap();
            let mut backup = Vec::new();
            let summary = source.create_backup(&mut backup).await.unwrap();
            assert_eq!((summary.models, summary.versions), (1, 3));
            assert_eq!(summary.metrics, 2, "the two versions with traffic");

            let target_store = store_of(to, &scratch, &format!("{from}-{to}-target"));
            let target = manager_on(target_store.clone(), clock.clone()).await;
            let restored = target.restore_backup(&backup[..]).await.unwrap();
            assert_eq!(restored, summary, "{from} -> {to}");
            let (copy, original) = (image(&*target_store).await, image(&*source_store).await);
            assert_eq!(
                copy.models, original.models,
                "{from} -> {to}: records, revisions"
            );
            assert_eq!(copy.audit, original.audit, "{from} -> {to}: sealed entries");
            assert_eq!(
                copy.audit_checkpoint, original.audit_checkpoint,
                "{from} -> {to}"
            );
            // Snapshots hold kilobytes of evaluator state: compared without printing them.
            assert!(
                copy.metrics == original.metrics,
                "{from} -> {to}: metrics differ"
            );
            assert!(target.audit_log().verify().await.unwrap().is_intact());
            for key in ["user-1", "user-2", "user-3"] {
                let served = |m: &ModelLifecycleManager| {
                    m.route("gpt-4-turbo", key.as_bytes())
                        .unwrap()
                        .map(|r| r.version.version.clone())
                };
                assert_eq!(served(&target), served(&source), "routing {key}");
            }
            assert_eq!(
                target
                    .evaluator()
                    .lifetime_metrics("gpt-4-turbo", &v(1))
                    .unwrap(),
                source
                    .evaluator()
                    .lifetime_metrics("gpt-4-turbo", &v(1))
                    .unwrap(),
                "the evaluator restarts from the restored checkpoints"
            );
            // The restored store carries on: a new operation chains on.
            target.retire_model(&gpt(), &v(3)).await.unwrap();
            assert!(target.audit_log().verify().await.unwrap().is_intact());
            source.dispose().await.unwrap();
            target.dispose().await.unwrap();
        }
    }
}

/// Ways to break a good backup, and the error each must give.
fn damaged(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let text = String::from_utf8(good.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let without_end = lines[..lines.len() - 1].join("\n") + "\n";
    let newer = text.replacen("\"formatVersion\":3", "\"formatVersion\":4", 1);
    let edited = text.replacen("latency complaints", "latency complaint!", 1);
    let mut flipped = good.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let dropped_entry = {
        let i = lines
            .iter()
            .position(|l| l.starts_with("{\"audit\""))
            .unwrap();
        let mut kept = lines.clone();
        kept.remove(i);
        kept.join("\n") + "\n"
    };
    vec![
        ("truncated", without_end.into_bytes()),
        ("newer format", newer.into_bytes()),
        ("edited entry", edited.into_bytes()),
        ("flipped bit", flipped),
        ("entry removed", dropped_entry.into_bytes()),
        ("not a backup", b"model,version\ngpt-4,1.0.0\n".to_vec()),
        ("empty", Vec::new()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_newer_or_misplaced_backups_are_refused_and_change_nothing() {
    let scratch = Scratch::new("damaged");
    let clock = Arc::new(ManualClock::new(t0()));
    let source = manager_on(Arc::new(MemoryStore::new()), clock.clone()).await;
    populate(&source, &clock).await;
    let mut good = Vec::new();
    source.create_backup(&mut good).await.unwrap();
    for kind in STORES {
        let store = store_of(kind, &scratch, "target");
        let target = manager_on(store.clone(), clock.clone()).await;
        for (what, bytes) in damaged(&good) {
            let err = target.restore_backup(&bytes[..]).await.unwrap_err();
            let expected = match what {
                "truncated" | "empty" => {
                    matches!(err, LifecycleError::Backup(BackupError::Truncated { .. }))
                }
                "newer format" => matches!(
                    err,
                    LifecycleError::Backup(BackupError::NewerFormat {
                        found: 4,
                        supported: BACKUP_FORMAT_VERSION
                    })
                ),
                "not a backup" => {
                    matches!(err, LifecycleError::Backup(BackupError::NotABackup { .. }))
                }
                _ => matches!(
                    err,
                    LifecycleError::Backup(
                        BackupError::Mismatch { .. } | BackupError::Damaged { .. }
                    )
                ),
            };
            assert!(expected, "{kind}, {what}: {err}");
            assert_eq!(
                image(&*store).await,
                StoreImage::default(),
                "{kind}, {what}"
            );
        }
        target.restore_backup(&good[..]).await.unwrap();
        let before = image(&*store).await;
        let err = target.restore_backup(&good[..]).await.unwrap_err();
        assert!(
            matches!(err, LifecycleError::Store(StoreError::NotEmpty { .. })),
            "{kind}: {err}"
        );
        assert!(err.to_string().contains("empty store"), "{err}");
        assert_eq!(
            image(&*store).await,
            before,
            "{kind}: a second restore changed the store"
        );
        target.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_failing_routed_requests_rolls_the_release_back_on_its_own() {
    for kind in STORES {
        let scratch = Scratch::new("rollback");
        // The default policy rolls back on a critical alert.
        let policy = PolicyConfig::default();
        // The background checker is on (every 50 ms): nobody calls check_alerts.
        let manager = ModelLifecycleManager::builder()
            .store(store_of(kind, &scratch, "store"))
            .policy_config(policy)
            .alert_check_interval(Some(std::time::Duration::from_millis(50)))
            .build()
            .await
            .unwrap();
        for major in 1..=2 {
            manager.register_model(record_of(major)).await.unwrap();
        }
        manager.activate_model(&gpt(), &v(1)).await.unwrap();
        // Serves traffic: each request routed, then its outcome recorded.
        let serve = |n: usize, outcome: &dyn Fn(&Version) -> InferenceResult| {
            for i in 0..n {
                let routed = manager
                    .route("gpt-4-turbo", format!("user-{i}").as_bytes())
                    .unwrap()
                    .unwrap();
                let version = routed.version.version.clone();
                manager
                    .record_inference("gpt-4-turbo", &version, &outcome(&version))
                    .unwrap();
            }
        };
        serve(300, &|_| {
            InferenceResult::success(380.0).with_confidence(0.9)
        });
        // 2.0.0 passes its tests, then fails in production.
        manager.deploy_to_testing(&gpt(), &v(2)).await.unwrap();
        for _ in 0..60 {
            let tested = InferenceResult::success(390.0).with_confidence(0.9);
            manager
                .record_inference("gpt-4-turbo", &v(2), &tested)
                .unwrap();
        }
        manager.activate_model(&gpt(), &v(2)).await.unwrap();
        serve(200, &|version| {
            if version == &v(2) {
                InferenceResult::failure(ErrorKind::ServerError, 40.0)
            } else {
                InferenceResult::success(380.0)
            }
        });
        // The router follows once the rollback's commit is acknowledged.
        let rolled_back = eventually(|| async {
            let routed = manager.route("gpt-4-turbo", b"user-7").unwrap();
            routed.map(|r| r.version.version.clone()) == Some(v(1))
        })
        .await;
        assert!(
            rolled_back,
            "{kind}: 2.0.0 failing should hand traffic back to 1.0.0"
        );
        let history = manager.get_model_history(&gpt()).await.unwrap();
        let rollback = history
            .iter()
            .find(|e| e.event.kind == AuditEventKind::ModelRolledBack)
            .unwrap();
        assert_eq!(rollback.event.actor.as_str(), "auto-rollback", "{kind}");
        let critical = manager.audit_log().critical_entries().await.unwrap();
        assert!(
            critical
                .iter()
                .any(|e| e.event.kind == AuditEventKind::ThresholdViolated),
            "{kind}: the alert that caused it is audited"
        );
        let routed = manager.route("gpt-4-turbo", b"user-7").unwrap().unwrap();
        assert_eq!(
            routed.version.version,
            v(1),
            "{kind}: traffic is back on 1.0.0"
        );
        manager.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_rejections_are_typed_audited_and_change_nothing() {
    for kind in STORES {
        let scratch = Scratch::new("policy");
        let policy = PolicyConfig::new(PolicySettings {
            max_cost_per_request: Some(dec!(0.05)),
            ..PolicySettings::default()
        })
        .unwrap();
        let store = store_of(kind, &scratch, "store");
        let manager = ModelLifecycleManager::builder()
            .store(store.clone())
            .policy_config(policy)
            .alert_check_interval(None)
            .build()
            .await
            .unwrap();
        let mut pricey = record_of(1);
        pricey.cost_info = Some(ModelCostInfo::usd(dec!(1.0), dec!(2.0)));
        manager.register_model(pricey).await.unwrap();
        let before = image(&*store).await.models;
        let Err(LifecycleError::Rejected(decision)) = manager.activate_model(&gpt(), &v(1)).await
        else {
            panic!("{kind}: an over-budget version must be rejected");
        };
        assert!(!decision.approved);
        assert!(
            decision.reason.contains("cost"),
            "{kind}: {}",
            decision.reason
        );
        assert_eq!(image(&*store).await.models, before, "{kind}");
        let last = manager.get_recent_audit_entries(1).await.unwrap().remove(0);
        assert_eq!(
            last.event.kind,
            AuditEventKind::DeploymentDecision,
            "{kind}"
        );
        assert_eq!(last.event.details["approved"], "false", "{kind}");
        manager.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_dispose_every_call_is_refused_and_nothing_recorded_is_lost() {
    let scratch = Scratch::new("dispose");
    let dir = scratch.0.path().join("store");
    let manager = ModelLifecycleManager::builder()
        .sled(&dir)
        .build()
        .await
        .unwrap();
    manager.register_model(record_of(1)).await.unwrap();
    record_n(&manager, &v(1), 37, &InferenceResult::success(100.0));
    manager.dispose().await.unwrap();
    let disposed = |r: Result<(), LifecycleError>| matches!(r, Err(LifecycleError::Disposed));
    assert!(disposed(manager.record_inference(
        "gpt-4-turbo",
        &v(1),
        &InferenceResult::success(1.0)
    )));
    assert!(disposed(
        manager.activate_model(&gpt(), &v(1)).await.map(drop)
    ));
    assert!(disposed(manager.get_system_status().await.map(drop)));
    assert!(disposed(manager.create_backup(Vec::new()).await.map(drop)));
    assert!(disposed(manager.run_maintenance().await.map(drop)));
    assert!(disposed(manager.dispose().await));
    let reopened = ModelLifecycleManager::builder()
        .sled(&dir)
        .build()
        .await
        .unwrap();
    let record = reopened.get_model(&gpt(), &v(1)).await.unwrap();
    assert_eq!(record.metrics.map(|m| m.sample_count), Some(37));
    reopened.dispose().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_using_one_manager_leave_every_invariant_intact() {
    for kind in STORES {
        let scratch = Scratch::new("concurrent");
        let manager = ModelLifecycleManager::builder()
            .store(store_of(kind, &scratch, "store"))
            .build()
            .await
            .unwrap();
        for major in 1..=4 {
            manager.register_model(record_of(major)).await.unwrap();
        }
        manager.activate_model(&gpt(), &v(1)).await.unwrap();
        let mut tasks = Vec::new();
        // Eight tasks record and route; four race to move versions around.
        for t in 0..8u64 {
            let m = manager.clone();
            tasks.push(tokio::spawn(async move {
                let mut recorded = 0u64;
                for i in 0..500u64 {
                    let key = format!("{t}-{i}");
                    if let Some(routed) = m.route("gpt-4-turbo", key.as_bytes()).unwrap() {
                        let version = routed.version.version.clone();
                        let result = InferenceResult::success(200.0 + i as f64);
                        if m.record_inference("gpt-4-turbo", &version, &result).is_ok() {
                            recorded += 1;
                        }
                    }
                    if i % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                recorded
            }));
        }
        for t in 0..4u64 {
            let m = manager.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..10u64 {
                    let target = v(1 + (t + i) % 4);
                    // Conflicting moves may be refused; none may break a rule.
                    let _ = match i % 3 {
                        0 => m.activate_model(&gpt(), &target).await.map(drop),
                        1 => m
                            .start_canary(&gpt(), &target, CanaryWeight::new(20).unwrap())
                            .await
                            .map(drop),
                        _ => m.abort_canary(&gpt()).await.map(drop),
                    };
                }
                0
            }));
        }
        let mut recorded = 0;
        for task in tasks {
            recorded += task.await.unwrap();
        }
        let versions = manager.get_model_versions(&gpt()).await.unwrap();
        let count = |s: ModelStatus| versions.iter().filter(|v| v.status() == s).count();
        assert!(count(ModelStatus::Active) <= 1, "{kind}: {versions:?}");
        assert!(count(ModelStatus::Canary) <= 1, "{kind}: {versions:?}");
        let mut lifetime = 0;
        for version in &versions {
            lifetime += manager
                .evaluator()
                .lifetime_metrics("gpt-4-turbo", &version.version)
                .unwrap()
                .sample_count;
        }
        assert_eq!(
            lifetime, recorded,
            "{kind}: every accepted result is counted once"
        );
        let status = manager.get_system_status().await.unwrap();
        assert!(status.audit_chain_verified, "{kind}");
        let entries = manager.get_recent_audit_entries(100_000).await.unwrap();
        assert_eq!(
            entries.len() as u64,
            status.audit_head.unwrap().sequence,
            "{kind}: entries numbered without gaps"
        );
        manager.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_registers_at_once_with_one_result_per_version_in_order() {
    let scratch = Scratch::new("catalogue");
    for kind in STORES {
        let clock = Arc::new(ManualClock::new(t0()));
        let store = store_of(kind, &scratch, "catalogue");
        let manager = manager_on(store.clone(), clock).await;
        let models: Vec<ModelId> = (0..300)
            .map(|i| ModelId::new(format!("model-{i}")).unwrap())
            .collect();
        let mut catalogue: Vec<ModelVersion> = models
            .iter()
            .map(|id| {
                let mut record = record_of(1);
                record.model_id = id.clone();
                record
            })
            .collect();
        // The same version twice: the second is refused, the rest land.
        catalogue.insert(150, catalogue[7].clone());
        let results = manager.register_models(catalogue).await;
        assert_eq!(results.len(), 301, "{kind}");
        assert!(
            matches!(
                &results[150],
                Err(LifecycleError::Registry(e)) if e.to_string().contains("model-7 ")
            ),
            "{kind}: {:?}",
            results[150]
        );
        for (i, result) in results.iter().enumerate().filter(|(i, _)| *i != 150) {
            let expected = &models[if i < 150 { i } else { i - 1 }];
            assert_eq!(&result.as_ref().unwrap().model_id, expected, "{kind}");
        }
        assert_eq!(store.models().await.unwrap().len(), 300, "{kind}");
        // Every registered version is tracked: its results can be recorded.
        let ok = InferenceResult::success(120.0);
        manager.record_inference("model-299", &v(1), &ok).unwrap();
        manager.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_past_its_providers_end_of_life_is_retired_only_when_it_serves_nothing() {
    let scratch = Scratch::new("provider-eol");
    for kind in STORES {
        let clock = Arc::new(ManualClock::new(t0()));
        let manager = manager_on(store_of(kind, &scratch, "provider-eol"), clock.clone()).await;
        for major in [1, 2] {
            let mut record = record_of(major);
            let announced = ModelDeprecationInfo::new("announced by openai", None, 10, t0())
                .unwrap()
                .with_successor(ModelId::new("gpt-4o").unwrap());
            record.announce_end_of_life(announced).unwrap();
            manager.register_model(record).await.unwrap();
        }
        manager.activate_model(&gpt(), &v(1)).await.unwrap();
        clock.advance(Duration::days(11));

        let report = manager.run_maintenance().await.unwrap();
        assert_eq!(
            report.retired,
            [RetiredVersion {
                model_id: gpt(),
                version: v(2)
            }],
            "{kind}"
        );
        let warning = &report.warnings[0];
        assert_eq!(warning.version, v(1), "{kind}");
        assert_eq!(warning.status, ModelStatus::Active, "{kind}");
        assert_eq!(warning.source, EndOfLifeSource::Provider, "{kind}");
        assert_eq!(warning.severity, Severity::Critical, "{kind}");
        assert_eq!(
            warning.successor_model,
            Some(ModelId::new("gpt-4o").unwrap())
        );
        let active = manager.get_model(&gpt(), &v(1)).await.unwrap();
        assert_eq!(
            active.status(),
            ModelStatus::Active,
            "{kind}: never retired silently"
        );
        manager.dispose().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_written_by_an_earlier_build_restores() {
    let old = include_bytes!("../fixtures/backups/format-1.ndjson");
    let manager = ModelLifecycleManager::builder()
        .memory()
        .alert_check_interval(None)
        .build()
        .await
        .unwrap();
    manager.restore_backup(&old[..]).await.unwrap();
    let model = ModelId::new("gpt-4-turbo").unwrap();
    let restored = manager.get_model(&model, &v(1)).await.unwrap();
    assert_eq!(restored.status(), ModelStatus::Active);
    let lifetime = manager
        .evaluator()
        .lifetime_metrics("gpt-4-turbo", &v(1))
        .unwrap();
    assert_eq!(
        lifetime.sample_count, 60,
        "the old checkpoint's statistics are back"
    );
    assert_eq!(lifetime.failure_count, 4);
    assert!(manager.audit_log().verify().await.unwrap().is_intact());
    let mut again = Vec::new();
    manager.create_backup(&mut again).await.unwrap();
    let text = String::from_utf8(again).unwrap();
    assert!(text.starts_with(&format!(
        "{{\"format\":\"lifecycle-backup\",\"formatVersion\":{BACKUP_FORMAT_VERSION}"
    )));
    assert!(
        text.contains("\"state\":\"{"),
        "checkpoint states are written as text now"
    );
    manager.dispose().await.unwrap();
}

/// One manager serving many users: each call's changes are audited as the
/// handle's actor, the decision of a gated move included, and a handle
/// acting for one user leaves the others' as they were.
#[tokio::test]
async fn every_change_is_audited_as_the_actor_of_the_handle_that_made_it() {
    let manager = manager_on(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(t0())),
    )
    .await;
    let alice = manager.acting_as(Actor::new("alice@example.com").unwrap());
    let bob = manager.acting_as(Actor::new("bob@example.com").unwrap());
    assert_eq!(
        manager.actor().to_string(),
        "lifecycle",
        "the builder's actor stays"
    );
    alice.register_model(record_of(1)).await.unwrap();
    bob.register_models(vec![record_of(2)])
        .await
        .remove(0)
        .unwrap();
    alice.activate_model(&gpt(), &v(1)).await.unwrap();
    bob.start_canary(&gpt(), &v(2), CanaryWeight::new(10).unwrap())
        .await
        .unwrap();
    bob.set_canary_weight(&gpt(), CanaryWeight::new(20).unwrap())
        .await
        .unwrap();
    alice
        .force_promote_canary(&gpt(), "judged offline")
        .await
        .unwrap();
    manager.retire_model(&gpt(), &v(1)).await.unwrap();
    let by: Vec<(AuditEventKind, String)> = manager
        .get_model_history(&gpt())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.kind, e.event.actor.to_string()))
        .collect();
    let (alice, bob, builder) = (
        "alice@example.com".to_string(),
        "bob@example.com".to_string(),
        "lifecycle".to_string(),
    );
    use AuditEventKind::*;
    let expected = [
        (ModelRegistered, &alice),
        (ModelRegistered, &bob),
        (DeploymentDecision, &alice),
        (ModelActivated, &alice),
        (CanaryStarted, &bob),
        (CanaryWeightChanged, &bob),
        (DeploymentDecision, &alice),
        (CanaryPromoted, &alice),
    ];
    for (kind, actor) in expected {
        assert!(
            by.contains(&(kind, actor.clone())),
            "{kind:?} by {actor} missing from {by:#?}"
        );
    }
    assert!(
        by.iter()
            .any(|(kind, actor)| *kind == ModelRetired && actor == &builder),
        "{by:#?}"
    );
    assert!(
        !by.iter()
            .any(|(kind, actor)| matches!(kind, ModelActivated | CanaryPromoted) && actor == &bob),
        "{by:#?}"
    );
    manager.dispose().await.unwrap();
}

/// A rollback target is known to have served from its own record; a record
/// written by an earlier build, which does not say so, is looked up in the
/// audit log instead, so a store carried over keeps its rollbacks.
#[tokio::test]
async fn a_version_that_served_can_be_rolled_back_to_from_new_and_earlier_records() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let manager = manager_on(store.clone(), clock.clone()).await;
    for major in 1..=3 {
        manager.register_model(record_of(major)).await.unwrap();
    }
    manager.activate_model(&gpt(), &v(1)).await.unwrap();
    clock.advance(Duration::minutes(5));
    manager
        .force_activate_model(&gpt(), &v(2), "hotfix")
        .await
        .unwrap();
    let first = manager.get_model(&gpt(), &v(1)).await.unwrap();
    assert_eq!(first.last_active_at(), Some(t0() + Duration::minutes(5)));
    assert_eq!(
        manager
            .get_model(&gpt(), &v(2))
            .await
            .unwrap()
            .last_active_at(),
        None
    );
    assert!(matches!(
        manager.rollback_model(&gpt(), &v(3), "never served").await,
        Err(LifecycleError::Registry(
            lifecycle_registry::RegistryError::InvalidRollbackTarget { .. }
        ))
    ));
    manager.dispose().await.unwrap();

    // 1.0.0 as an earlier build stored it: the same record without the field.
    let mut json = serde_json::to_value(&first).unwrap();
    assert!(json
        .as_object_mut()
        .unwrap()
        .remove("lastActiveAt")
        .is_some());
    let earlier: ModelVersion = serde_json::from_value(json).unwrap();
    assert_eq!(earlier.last_active_at(), None);
    let revision = store.model(&gpt()).await.unwrap().revision;
    store
        .commit(lifecycle_store::Commit::for_model(gpt(), revision).put(earlier))
        .await
        .unwrap();

    let manager = manager_on(store.clone(), clock).await;
    manager
        .rollback_model(&gpt(), &v(1), "hotfix regressed")
        .await
        .unwrap();
    assert_eq!(
        manager.get_model(&gpt(), &v(1)).await.unwrap().status(),
        ModelStatus::Active
    );
    let second = manager.get_model(&gpt(), &v(2)).await.unwrap();
    assert_eq!(second.status(), ModelStatus::Deprecated);
    assert!(second.last_active_at().is_some());
    manager.dispose().await.unwrap();
}
