//! Several managers over one store behave as one system for what changes
//! the lifecycle: a change committed by one is routed and recorded by the
//! others within the change feed's bound (at once, when the store signals
//! commits), and scheduled work — maintenance, alert checks — runs on the one
//! holding its lease, and a manager that lost a lease writes nothing as its
//! holder; metrics checkpoints are kept per replica and merged on read, so
//! every replica judges every replica's results, each counted once.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle::store::AuditQuery;
use lifecycle::store::MemoryStore;
use lifecycle::store_postgres::PostgresStore;
use lifecycle::store_sled::SledStore;
use lifecycle::*;
use lifecycle_store_postgres::testing::fresh_database;

const BOUND: Duration = Duration::from_millis(50);

/// One store seen by several managers: one `MemoryStore` shared in one
/// process, or one PostgreSQL database with a store (a pool and a
/// listener) per manager, as separate processes would have.
struct Backend {
    /// The handle the test reads through.
    store: Arc<dyn Store>,
    /// The database, for a handle per manager; `None`: share `store`.
    url: Option<String>,
}

impl Backend {
    fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            url: None,
        }
    }

    async fn postgres(test: &str) -> Self {
        let url = fresh_database(test).await;
        Self {
            store: Arc::new(PostgresStore::connect(&url).await.unwrap()),
            url: Some(url),
        }
    }

    /// A handle for one more manager.
    async fn handle(&self) -> Arc<dyn Store> {
        match &self.url {
            Some(url) => Arc::new(PostgresStore::connect(url).await.unwrap()),
            None => self.store.clone(),
        }
    }
}

/// Each test on both backends: `<test>::memory` and `<test>::postgres`
/// (skipped, saying so, without a PostgreSQL server).
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    super::$test(super::Backend::memory()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if !lifecycle_store_postgres::testing::available() {
                        return;
                    }
                    let name = concat!("replicas-", stringify!($test));
                    super::$test(super::Backend::postgres(name).await).await;
                    lifecycle_store_postgres::testing::drop_database(name);
                }
            }
        )*
    };
}

on_each_backend!(
    a_commit_wakes_the_other_managers_before_their_next_poll,
    a_change_on_one_replica_is_routed_and_recorded_by_every_other,
    a_batch_for_a_version_registered_elsewhere_reads_it_through,
    maintenance_runs_on_the_manager_holding_its_lease,
    alerts_are_checked_by_one_manager_at_a_time,
    concurrent_moves_on_three_managers_leave_one_consistent_state,
    a_manager_that_lost_the_alerts_lease_writes_no_alerts,
    every_replica_s_results_are_merged_and_counted_once,
    mixed_load_on_three_replicas_stays_one_consistent_system,
);

async fn replica(backend: &Backend) -> ModelLifecycleManager {
    ModelLifecycleManager::builder()
        .store(backend.handle().await)
        .alert_check_interval(None)
        .change_poll_interval(Some(BOUND))
        .build()
        .await
        .unwrap()
}

fn version(major: u64, now: chrono::DateTime<chrono::Utc>) -> ModelVersion {
    version_of("support-bot", major, now)
}

fn version_of(model: &str, major: u64, now: chrono::DateTime<chrono::Utc>) -> ModelVersion {
    ModelVersion::new(
        ModelId::new(model).unwrap(),
        Version::new(major, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.0025), dec!(0.01)),
        now,
    )
    .with_serving(ServingSpec::new(format!("gpt-4o-v{major}")))
}

/// Waits until `holds` is true: within a few polls normally; at most a
/// hundred times the bound, so a loaded CI machine does not fail it.
async fn within_bound(what: &str, holds: impl Fn() -> bool) {
    let started = Instant::now();
    while !holds() {
        assert!(
            started.elapsed() < BOUND * 100,
            "{what}: not seen after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A clock stopped at a fixed moment, moved by hand.
fn clock_at_t0() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-10-01T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    ))
}

fn routed(m: &ModelLifecycleManager, key: &str) -> Option<Version> {
    m.route("support-bot", key.as_bytes())
        .unwrap()
        .map(|r| r.version.version.clone())
}

async fn a_change_on_one_replica_is_routed_and_recorded_by_every_other(backend: Backend) {
    let (a, b, c) = (
        replica(&backend).await,
        replica(&backend).await,
        replica(&backend).await,
    );
    let model = ModelId::new("support-bot").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));

    // Registered and activated on A: B and C route it and take its results.
    a.register_model(version(1, a.now())).await.unwrap();
    a.register_model(version(2, a.now())).await.unwrap();
    a.activate_model(&model, &v1).await.unwrap();
    for other in [&b, &c] {
        within_bound("activation", || routed(other, "user-1") == Some(v1.clone())).await;
    }
    let ok = InferenceResult::success(300.0).with_confidence(0.9);
    b.record_inference("support-bot", &v1, &ok).unwrap();

    // A canary started on B at 99 %: A and C send it the keys it gets, with
    // its own serving specification.
    b.start_canary(&model, &v2, CanaryWeight::new(99).unwrap())
        .await
        .unwrap();
    let on_canary = |m: &ModelLifecycleManager| {
        (0..200).any(|i| routed(m, &format!("user-{i}")) == Some(v2.clone()))
    };
    for other in [&a, &c] {
        within_bound("canary", || on_canary(other)).await;
    }
    let to_canary = (0..200)
        .map(|i| {
            c.route("support-bot", format!("user-{i}").as_bytes())
                .unwrap()
                .unwrap()
        })
        .find(|r| r.version.version == v2)
        .unwrap();
    assert_eq!(to_canary.version.provider_model(), "gpt-4o-v2");

    // Aborted on C: the others stop routing to it.
    c.abort_canary(&model).await.unwrap();
    for other in [&a, &b] {
        within_bound("abort", || !on_canary(other)).await;
    }

    // Deactivated and retired on A: B refuses results for it.
    a.deploy_to_testing(&model, &v2).await.unwrap();
    a.retire_model(&model, &v2).await.unwrap();
    within_bound("retirement", || {
        matches!(
            b.record_inference("support-bot", &v2, &ok),
            Err(LifecycleError::Evaluator(EvaluatorError::Retired { .. }))
        )
    })
    .await;

    // Every commit is in the one chain, in order, and it verifies.
    assert!(a.audit_log().verify().await.unwrap().is_intact());
    for m in [a, b, c] {
        m.dispose().await.unwrap();
    }
}

/// A batch for a version another manager registered since this one last
/// read the change feed reads it from the store once, instead of failing.
async fn a_batch_for_a_version_registered_elsewhere_reads_it_through(backend: Backend) {
    let a = replica(&backend).await;
    // B never polls: only the read-through can tell it.
    let b = ModelLifecycleManager::builder()
        .store(backend.handle().await)
        .alert_check_interval(None)
        .change_poll_interval(None)
        .build()
        .await
        .unwrap();
    a.register_model(version(1, a.now())).await.unwrap();
    let model = ModelId::new("support-bot").unwrap();
    let v1 = Version::new(1, 0, 0);
    let ok = InferenceResult::success(300.0);
    assert!(
        matches!(
            b.record_inference("support-bot", &v1, &ok),
            Err(LifecycleError::Evaluator(
                EvaluatorError::UnknownVersion { .. }
            ))
        ),
        "a single record does not read through (it never waits for storage)"
    );
    let batch = vec![(model.clone(), v1.clone(), ok); 10];
    b.record_batch(&batch, "from-b").await.unwrap();
    assert_eq!(
        b.get_model(&model, &v1)
            .await
            .unwrap()
            .metrics
            .unwrap()
            .sample_count,
        10
    );
    // And now it is known: single records count too.
    b.record_inference("support-bot", &v1, &ok).unwrap();
    let unknown = vec![(model.clone(), Version::new(9, 0, 0), ok)];
    assert!(
        b.record_batch(&unknown, "nine").await.is_err(),
        "an unknown version still fails"
    );
    a.dispose().await.unwrap();
    b.dispose().await.unwrap();
}

/// The store wakes the other managers when a commit lands (memory and sled
/// can tell within the process): they follow at once, not at the next poll.
async fn a_commit_wakes_the_other_managers_before_their_next_poll(backend: Backend) {
    let hourly = || async {
        ModelLifecycleManager::builder()
            .store(backend.handle().await)
            .alert_check_interval(None)
            .change_poll_interval(Some(Duration::from_secs(3_600)))
            .build()
            .await
    };
    let (a, b) = (hourly().await.unwrap(), hourly().await.unwrap());
    // Past B's first poll (at start), so the next is an hour away.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let model = ModelId::new("support-bot").unwrap();
    a.register_model(version(1, a.now())).await.unwrap();
    a.activate_model(&model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    // An hour's poll interval: only the store's signal can tell B in time.
    within_bound("activation pushed", || {
        routed(&b, "user-1") == Some(Version::new(1, 0, 0))
    })
    .await;
    a.dispose().await.unwrap();
    b.dispose().await.unwrap();
}

/// The same on sled: one handle shared by the managers of one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_sled_wakes_the_other_managers_before_their_next_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let sled: Arc<dyn Store> = Arc::new(SledStore::open(tmp.path().join("store")).unwrap());
    let backend = Backend {
        store: sled,
        url: None,
    };
    a_commit_wakes_the_other_managers_before_their_next_poll(backend).await;
}

/// Retirement runs on one manager at a time: the one holding the
/// maintenance lease in the store; the others leave it to that one.
async fn maintenance_runs_on_the_manager_holding_its_lease(backend: Backend) {
    let store = backend.store.clone();
    let clock = clock_at_t0();
    let manager = || async {
        ModelLifecycleManager::builder()
            .store(backend.handle().await)
            .clock(clock.clone())
            .alert_check_interval(None)
            .change_poll_interval(None)
            .build()
            .await
    };
    let (a, b) = (manager().await.unwrap(), manager().await.unwrap());
    let model = ModelId::new("support-bot").unwrap();
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    a.register_model(version(1, a.now())).await.unwrap();
    a.register_model(version(2, a.now())).await.unwrap();
    a.activate_model(&model, &v1).await.unwrap();
    // 1.0.0 is deprecated by the new deployment, then its grace runs out.
    a.force_activate_model(&model, &v2, "test: no traffic recorded")
        .await
        .unwrap();
    clock.advance(chrono::Duration::days(400));

    let busy = store
        .acquire_lease(
            "maintenance",
            "another",
            chrono::Duration::hours(1),
            clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    let report = b.run_maintenance().await.unwrap();
    assert!(report.retired.is_empty(), "{report:?}");
    assert_eq!(report.left_to.as_deref(), Some("another"));
    assert_eq!(
        b.get_model(&model, &v1).await.unwrap().status(),
        ModelStatus::Deprecated
    );

    store.release_lease(&busy).await.unwrap();
    let report = b.run_maintenance().await.unwrap();
    assert_eq!(
        report.retired,
        [RetiredVersion {
            model_id: model.clone(),
            version: v1.clone()
        }]
    );
    assert_eq!(report.left_to, None);
    let lease = store.lease("maintenance").await.unwrap().unwrap();
    assert!(lease.expires_at <= clock.now(), "released after the run");
    assert_eq!(lease.token, 2);
    a.dispose().await.unwrap();
    b.dispose().await.unwrap();
}

/// Of many managers checking alerts on a schedule, one does (the holder of
/// the alerts lease): a version failing on every replica is alerted once.
async fn alerts_are_checked_by_one_manager_at_a_time(backend: Backend) {
    let store = backend.store.clone();
    let checking = || async {
        ModelLifecycleManager::builder()
            .store(backend.handle().await)
            .alert_check_interval(Some(Duration::from_millis(20)))
            .change_poll_interval(Some(BOUND))
            .build()
            .await
    };
    let (a, b) = (checking().await.unwrap(), checking().await.unwrap());
    let model = ModelId::new("support-bot").unwrap();
    let v1 = Version::new(1, 0, 0);
    a.register_model(version(1, a.now())).await.unwrap();
    a.activate_model(&model, &v1).await.unwrap();
    within_bound("activation", || routed(&b, "user-1") == Some(v1.clone())).await;
    let failed = InferenceResult::failure(ErrorKind::ServerError, 900.0);
    for m in [&a, &b] {
        for _ in 0..200 {
            m.record_inference("support-bot", &v1, &failed).unwrap();
        }
    }
    let critical = || async {
        store
            .audit(
                &AuditQuery::all()
                    .model(model.clone())
                    .min_severity(Severity::Critical),
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event.kind == AuditEventKind::ThresholdViolated)
            .count()
    };
    let started = Instant::now();
    while critical().await == 0 {
        assert!(started.elapsed() < BOUND * 100, "no alert was raised");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Ten more checking intervals: the other manager stays quiet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(critical().await, 1, "one alert, not one per manager");
    a.dispose().await.unwrap();
    b.dispose().await.unwrap();
}

/// Three managers moving the same model at once — canaries started, weighted,
/// aborted and promoted, versions activated — while every one records what
/// it routes: moves that lose a race fail cleanly (conflict, an illegal
/// transition, not found), and afterwards the store holds one active version
/// at most, the chain verifies and describes exactly the stored state, and
/// every manager routes what the store says.
async fn concurrent_moves_on_three_managers_leave_one_consistent_state(backend: Backend) {
    let store = backend.store.clone();
    let (a, b, c) = (
        replica(&backend).await,
        replica(&backend).await,
        replica(&backend).await,
    );
    let model = ModelId::new("support-bot").unwrap();
    for major in 1..=4 {
        a.register_model(version(major, a.now())).await.unwrap();
    }
    a.activate_model(&model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_millis(600);
    let mut workers = Vec::new();
    for (n, m) in [a.clone(), b.clone(), c.clone()].into_iter().enumerate() {
        let model = model.clone();
        workers.push(tokio::spawn(async move {
            let mut step = n as u64;
            let mut landed = 0;
            while Instant::now() < deadline {
                step += 1;
                let v = Version::new(1 + step % 4, 0, 0);
                let moved = match step % 5 {
                    0 => m
                        .start_canary(&model, &v, CanaryWeight::new(10).unwrap())
                        .await
                        .map(drop),
                    1 => m
                        .set_canary_weight(&model, CanaryWeight::new(50).unwrap())
                        .await
                        .map(drop),
                    2 => m.abort_canary(&model).await.map(drop),
                    3 => m.force_promote_canary(&model, "race test").await.map(drop),
                    _ => m
                        .force_activate_model(&model, &v, "race test")
                        .await
                        .map(drop),
                };
                match moved {
                    Ok(()) => landed += 1,
                    Err(e) => assert!(
                        matches!(e.class(), ErrorClass::Conflict | ErrorClass::NotFound),
                        "a lost race fails as a conflict: {e}"
                    ),
                }
                if let Some(routed) = m
                    .route("support-bot", format!("k{step}").as_bytes())
                    .unwrap()
                {
                    // Recorded unless it was retired or moved meanwhile.
                    let _ = m.record_inference(
                        "support-bot",
                        &routed.version.version,
                        &InferenceResult::success(200.0),
                    );
                }
                tokio::task::yield_now().await;
            }
            landed
        }));
    }
    let mut landed = 0;
    for worker in workers {
        landed += worker.await.unwrap();
    }
    assert!(landed > 10, "the managers made moves: {landed}");

    let stored = store.model(&model).await.unwrap();
    let active: Vec<_> = stored
        .versions
        .iter()
        .filter(|v| v.status() == ModelStatus::Active)
        .collect();
    let canaries: Vec<_> = stored
        .versions
        .iter()
        .filter(|v| v.status() == ModelStatus::Canary)
        .collect();
    assert!(
        active.len() <= 1 && canaries.len() <= 1,
        "{active:?} {canaries:?}"
    );
    let report = a.audit_log().verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    let expected = active.first().map(|v| v.version.clone());
    for m in [&a, &b, &c] {
        within_bound("convergence", || {
            let routed = m
                .route("support-bot", b"user-1")
                .unwrap()
                .map(|r| r.version.version.clone());
            routed == expected
                || canaries
                    .first()
                    .is_some_and(|c| routed == Some(c.version.clone()))
        })
        .await;
    }
    for m in [a, b, c] {
        m.dispose().await.unwrap();
    }
}

/// The alert auditor writes as the holder of the alerts lease: once another
/// manager took the lease, what this one still raises (a check by hand
/// before its next scheduled one notices) is not written — the new holder
/// judges and writes alerts from then on.
async fn a_manager_that_lost_the_alerts_lease_writes_no_alerts(backend: Backend) {
    let store = backend.store.clone();
    let clock = clock_at_t0();
    let policy = PolicyConfig::new(PolicySettings {
        auto_rollback_on_critical: false,
        ..PolicySettings::default()
    })
    .unwrap();
    let a = ModelLifecycleManager::builder()
        .store(backend.handle().await)
        .clock(clock.clone())
        .policy_config(policy)
        // The first check is at once; the next only in an hour.
        .alert_check_interval(Some(Duration::from_secs(3_600)))
        .build()
        .await
        .unwrap();
    let held_by = || async { store.lease("alerts").await.unwrap().map(|l| l.holder) };
    let started = Instant::now();
    while held_by().await.is_none() {
        assert!(started.elapsed() < BOUND * 100, "the lease was never taken");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let failed = InferenceResult::failure(ErrorKind::ServerError, 900.0);
    let alerts_about = |name: &'static str| {
        let store = store.clone();
        async move {
            store
                .audit(&AuditQuery::all().model(ModelId::new(name).unwrap()))
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event.kind == AuditEventKind::ThresholdViolated)
                .count()
        }
    };
    for name in ["support-bot", "search-bot"] {
        let mut record = version(1, a.now());
        record.model_id = ModelId::new(name).unwrap();
        a.register_model(record).await.unwrap();
        a.activate_model(&ModelId::new(name).unwrap(), &Version::new(1, 0, 0))
            .await
            .unwrap();
    }

    for _ in 0..200 {
        a.record_inference("support-bot", &Version::new(1, 0, 0), &failed)
            .unwrap();
    }
    assert!(!a.check_alerts().unwrap().is_empty());
    let started = Instant::now();
    while alerts_about("support-bot").await == 0 {
        assert!(
            started.elapsed() < BOUND * 100,
            "the holder's alert was not written"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The lease lapses (three hours) and another manager takes it.
    clock.advance(chrono::Duration::hours(4));
    let taken = store
        .acquire_lease(
            "alerts",
            "another manager",
            chrono::Duration::hours(3),
            clock.now(),
        )
        .await
        .unwrap();
    assert!(taken.is_some());
    for _ in 0..200 {
        a.record_inference("search-bot", &Version::new(1, 0, 0), &failed)
            .unwrap();
    }
    assert!(
        !a.check_alerts().unwrap().is_empty(),
        "the health still changes here"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        alerts_about("search-bot").await,
        0,
        "written by a lapsed holder"
    );
    assert_eq!(alerts_about("support-bot").await, 1);
    a.dispose().await.unwrap();
}

fn lifetime_samples(m: &ModelLifecycleManager) -> u64 {
    m.evaluator()
        .lifetime_metrics("support-bot", &Version::new(1, 0, 0))
        .map_or(0, |metrics| metrics.sample_count)
}

async fn every_replica_s_results_are_merged_and_counted_once(backend: Backend) {
    let store = backend.store.clone();
    let replicas = [
        replica(&backend).await,
        replica(&backend).await,
        replica(&backend).await,
    ];
    let model = ModelId::new("support-bot").unwrap();
    let v1 = Version::new(1, 0, 0);
    let a = &replicas[0];
    a.register_model(version(1, a.now())).await.unwrap();
    a.activate_model(&model, &v1).await.unwrap();
    for m in &replicas {
        within_bound("the active version", || routed(m, "k") == Some(v1.clone())).await;
    }
    let revision = store.model(&model).await.unwrap().revision;

    // Each replica records its own share at once, and saves it.
    let shares = [100_u64, 150, 200];
    let mut recording = Vec::new();
    for (m, share) in replicas.iter().zip(shares) {
        let (m, v1) = (m.clone(), v1.clone());
        recording.push(tokio::spawn(async move {
            for n in 0..share {
                let ok = InferenceResult::success(100.0 + n as f64).with_tokens(500, 80);
                m.record_inference("support-bot", &v1, &ok).unwrap();
            }
        }));
    }
    for task in recording {
        task.await.unwrap();
    }
    for m in &replicas {
        m.evaluator().checkpoint(&*store, true).await.unwrap();
    }
    let total: u64 = shares.iter().sum();
    for m in &replicas {
        within_bound("every replica's results", || lifetime_samples(m) == total).await;
    }
    assert_eq!(
        store.model(&model).await.unwrap().revision,
        revision,
        "recording and saving metrics leave the model's revision alone"
    );
    assert_eq!(store.metrics(&model, &v1).await.unwrap().len(), 3);

    // One stops (its checkpoint folds into the merged part), another
    // records more, then all stop: a new manager counts everything once.
    replicas[0].dispose().await.unwrap();
    for _ in 0..50 {
        replicas[1]
            .record_inference("support-bot", &v1, &InferenceResult::success(90.0))
            .unwrap();
    }
    replicas[1].dispose().await.unwrap();
    replicas[2].dispose().await.unwrap();
    let stored = store.metrics(&model, &v1).await.unwrap();
    assert_eq!(stored.len(), 1, "only the merged part is left");
    assert_eq!(stored[0].replica, "");
    let after = replica(&backend).await;
    assert_eq!(lifetime_samples(&after), total + 50);
    after.dispose().await.unwrap();
}

/// Replays the audit chain from the start: after every entry, at most one
/// active and one canary version per model, as the entries' statuses say.
fn replay_holds_one_active_and_one_canary(entries: &[AuditLogEntry]) {
    use std::collections::BTreeMap;
    let mut status: BTreeMap<(ModelId, Version), ModelStatus> = BTreeMap::new();
    for entry in entries {
        let event = &entry.event;
        let (Some(model), Some(v), Some(moved)) = (&event.model_id, &event.version, event.status())
        else {
            continue;
        };
        status.insert((model.clone(), v.clone()), moved);
        for serving in [ModelStatus::Active, ModelStatus::Canary] {
            let of_model = status
                .iter()
                .filter(|((m, _), s)| m == model && **s == serving)
                .count();
            assert!(
                of_model <= 1,
                "after entry {}: {of_model} {serving} versions of {model}",
                entry.sequence
            );
        }
    }
}

/// Three managers with their background tasks on, under mixed load for a
/// fixed time: lifecycle moves on one model (registrations, canaries,
/// promotions, activations, rollbacks) from every replica, maintenance with
/// a moving clock retiring what the moves deprecated, recording on every
/// replica, and a second model whose new version fails on every replica.
/// Afterwards: at every step of the chain at most one active and one canary
/// per model; the failing version alerted once and rolled back once, to the
/// version before it; every accepted result counted once in the merged
/// metrics; the chain verifies; every replica routes what the store says.
async fn mixed_load_on_three_replicas_stays_one_consistent_system(backend: Backend) {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    let store = backend.store.clone();
    let clock = clock_at_t0();
    let policy = PolicyConfig::new(PolicySettings {
        default_grace_period_days: 0,
        ..PolicySettings::default()
    })
    .unwrap();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let m = ModelLifecycleManager::builder()
            .store(backend.handle().await)
            .clock(clock.clone())
            .policy_config(policy.clone())
            .alert_check_interval(Some(Duration::from_millis(20)))
            .change_poll_interval(Some(BOUND))
            .build()
            .await
            .unwrap();
        replicas.push(m);
    }
    let a = replicas[0].clone();
    let (bot, faulty) = (
        ModelId::new("support-bot").unwrap(),
        ModelId::new("faulty-bot").unwrap(),
    );
    for major in 1..=3 {
        a.register_model(version(major, a.now())).await.unwrap();
    }
    a.activate_model(&bot, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let (good, bad) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    for major in [1, 2] {
        a.register_model(version_of("faulty-bot", major, a.now()))
            .await
            .unwrap();
    }
    a.activate_model(&faulty, &good).await.unwrap();
    for _ in 0..100 {
        a.record_inference("faulty-bot", &good, &InferenceResult::success(200.0))
            .unwrap();
    }
    a.evaluator().checkpoint(&*store, true).await.unwrap();
    for m in &replicas {
        within_bound("the stable version's results", || {
            m.evaluator()
                .lifetime_metrics("faulty-bot", &good)
                .is_ok_and(|metrics| metrics.sample_count == 100)
        })
        .await;
    }
    a.force_activate_model(&faulty, &bad, "test: a regression ships")
        .await
        .unwrap();

    let accepted: Arc<Mutex<BTreeMap<(String, Version), u64>>> = Arc::default();
    accepted
        .lock()
        .unwrap()
        .insert(("faulty-bot".into(), good.clone()), 100);
    let next_major = Arc::new(AtomicU64::new(4));
    let deadline = Instant::now() + Duration::from_millis(1_500);
    let mut workers = Vec::new();
    for (n, m) in replicas.iter().cloned().enumerate() {
        // Moves on support-bot, from every replica.
        let (bot, next_major) = (bot.clone(), next_major.clone());
        let mover = m.clone();
        workers.push(tokio::spawn(async move {
            let mut step = n as u64;
            while Instant::now() < deadline {
                step += 1;
                let newest = next_major.load(Ordering::SeqCst) - 1;
                let v = Version::new(newest.saturating_sub(step % 3).max(1), 0, 0);
                let moved = match step % 7 {
                    0 => {
                        let major = next_major.fetch_add(1, Ordering::SeqCst);
                        mover
                            .register_model(version(major, mover.now()))
                            .await
                            .map(drop)
                    }
                    1 => mover
                        .start_canary(&bot, &v, CanaryWeight::new(20).unwrap())
                        .await
                        .map(drop),
                    2 => mover
                        .set_canary_weight(&bot, CanaryWeight::new(60).unwrap())
                        .await
                        .map(drop),
                    3 => mover
                        .force_promote_canary(&bot, "load test")
                        .await
                        .map(drop),
                    4 => mover.abort_canary(&bot).await.map(drop),
                    5 => mover.rollback_model(&bot, &v, "load test").await.map(drop),
                    _ => mover
                        .force_activate_model(&bot, &v, "load test")
                        .await
                        .map(drop),
                };
                if let Err(e) = moved {
                    assert_ne!(e.class(), ErrorClass::Unavailable, "{e}");
                }
                tokio::task::yield_now().await;
            }
        }));
        // Recording what each replica routes: failures from the bad version.
        let (recorder, accepted, bad) = (m.clone(), accepted.clone(), bad.clone());
        workers.push(tokio::spawn(async move {
            let mut key = 0_u64;
            while Instant::now() < deadline {
                key += 1;
                for model in ["support-bot", "faulty-bot"] {
                    let Some(routed) = recorder.route(model, &key.to_be_bytes()).unwrap() else {
                        continue;
                    };
                    let v = routed.version.version.clone();
                    let result = if model == "faulty-bot" && v == bad {
                        InferenceResult::failure(ErrorKind::ServerError, 900.0)
                    } else {
                        InferenceResult::success(250.0)
                    };
                    if recorder.record_inference(model, &v, &result).is_ok() {
                        *accepted
                            .lock()
                            .unwrap()
                            .entry((model.into(), v))
                            .or_default() += 1;
                    }
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    // Maintenance on a moving clock, from each replica in turn, once the
    // failing version was rolled back (a retired version is no target).
    let (maintainers, moving, watched) = (replicas.clone(), clock.clone(), store.clone());
    let maintenance = tokio::spawn(async move {
        let rolled_back = AuditQuery::all()
            .model(ModelId::new("faulty-bot").unwrap())
            .kind(AuditEventKind::ModelRolledBack);
        while watched.audit(&rolled_back).await.unwrap().is_empty() {
            assert!(Instant::now() < deadline, "no automatic rollback");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut turn = 0;
        // For the load's whole time, and enough runs to matter however
        // fast the store commits.
        while Instant::now() < deadline || turn < 12 {
            moving.advance(chrono::Duration::seconds(1));
            maintainers[turn % 3].run_maintenance().await.unwrap();
            turn += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        turn
    });
    let maintained = maintenance.await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(maintained > 10, "maintenance ran {maintained} times");

    let entries = store.audit(&AuditQuery::all()).await.unwrap();
    replay_holds_one_active_and_one_canary(&entries);
    assert!(a.audit_log().verify().await.unwrap().is_intact());
    let retired = entries
        .iter()
        .filter(|e| e.event.kind == AuditEventKind::ModelRetired)
        .count();
    assert!(retired > 0, "maintenance retired what the moves deprecated");
    let about_bad = |kind: AuditEventKind| {
        entries
            .iter()
            .filter(|e| {
                e.event.kind == kind
                    && e.event.model_id.as_ref() == Some(&faulty)
                    && e.event.severity == Severity::Critical
            })
            .count()
    };
    assert_eq!(
        about_bad(AuditEventKind::ThresholdViolated),
        1,
        "the failing version alerted once across replicas"
    );
    let rollbacks: Vec<_> = entries
        .iter()
        .filter(|e| {
            e.event.kind == AuditEventKind::ModelRolledBack
                && e.event.model_id.as_ref() == Some(&faulty)
        })
        .collect();
    assert_eq!(rollbacks.len(), 1, "rolled back once: {rollbacks:?}");
    assert_eq!(rollbacks[0].event.actor.as_str(), "auto-rollback");
    let state = store.model(&faulty).await.unwrap();
    assert_eq!(state.active().map(|v| &v.version), Some(&good));

    // Every replica routes what the store says about support-bot.
    let stored = store.model(&bot).await.unwrap();
    let serving: Vec<Version> = stored
        .versions
        .iter()
        .filter(|v| matches!(v.status(), ModelStatus::Active | ModelStatus::Canary))
        .map(|v| v.version.clone())
        .collect();
    for m in &replicas {
        within_bound("convergence", || {
            (0..50_u64).all(|k| {
                let routed = m
                    .route("support-bot", &k.to_be_bytes())
                    .unwrap()
                    .map(|r| r.version.version.clone());
                match routed {
                    Some(v) => serving.contains(&v),
                    None => serving.is_empty(),
                }
            })
        })
        .await;
    }

    // All stop: a new manager counts every accepted result once.
    for m in replicas {
        m.dispose().await.unwrap();
    }
    let after = replica(&backend).await;
    for ((model, v), count) in accepted.lock().unwrap().iter() {
        let counted = after
            .evaluator()
            .lifetime_metrics(model, v)
            .map_or(0, |metrics| metrics.sample_count);
        assert_eq!(counted, *count, "{model} {v}");
    }
    after.dispose().await.unwrap();
}

/// The variable that makes [`child_process`] one of the processes of
/// [`four_processes_of_four_tasks_stay_one_consistent_system`]: `url,index`.
const CHILD_VAR: &str = "LIFECYCLE_TEST_CHILD";

/// How long each process drives its load.
const PROCESS_LOAD: Duration = Duration::from_secs(3);

/// The models the processes share.
const SHARED_MODELS: [&str; 3] = ["shared-0", "shared-1", "shared-2"];

/// A fresh database for test `name` with the shared models registered (1.0.0
/// and 2.0.0), 1.0.0 active; its URL.
async fn shared_models(name: &str) -> String {
    let url = fresh_database(name).await;
    let setup = ModelLifecycleManager::builder()
        .postgres(&url)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap();
    for model in SHARED_MODELS {
        for major in 1..=2 {
            setup
                .register_model(version_of(model, major, setup.now()))
                .await
                .unwrap();
        }
        let id = ModelId::new(model).unwrap();
        setup
            .force_activate_model(&id, &Version::new(1, 0, 0), "load test start")
            .await
            .unwrap();
    }
    setup.dispose().await.unwrap();
    url
}

/// Starts process `index` of the load on `url` ([`child_process`]), its
/// standard output piped.
fn spawn_process(url: &str, index: u64) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, format!("{url},{index}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The registrations a process's output says were acknowledged.
fn acknowledged_in(output: &str) -> impl Iterator<Item = String> + '_ {
    output
        .lines()
        .filter_map(|line| Some(line.split_once("ACK ")?.1.to_string()))
}

/// What must hold after any load on the database at `url`: the chain
/// replays with at most one active and one canary per model at every step
/// and verifies; every acknowledged registration is stored and logged
/// exactly once; no record is newer than its model.
async fn nothing_acknowledged_lost(url: &str, acknowledged: &[String]) {
    let store = PostgresStore::connect(url).await.unwrap();
    let entries = store.audit(&AuditQuery::all()).await.unwrap();
    replay_holds_one_active_and_one_canary(&entries);
    let verified = lifecycle_domain::verify_chain(&entries, None);
    assert!(verified.is_ok(), "the chain verifies: {verified:?}");
    let registrations: Vec<String> = entries
        .iter()
        .filter(|e| e.event.kind == AuditEventKind::ModelRegistered)
        .filter_map(|e| {
            Some(format!(
                "{} {}",
                e.event.model_id.as_ref()?,
                e.event.version.as_ref()?
            ))
        })
        .collect();
    for registration in acknowledged {
        let times = registrations.iter().filter(|r| *r == registration).count();
        assert_eq!(times, 1, "{registration} is logged {times} times");
        let (model, v) = registration.split_once(' ').unwrap();
        let found = store
            .version(&ModelId::new(model).unwrap(), &Version::parse(v).unwrap())
            .await
            .unwrap();
        assert!(found.is_some(), "{registration} is not in the store");
    }
    for (model, state) in store.all_models().await.unwrap() {
        for v in &state.versions {
            assert!(
                v.revision <= state.revision,
                "{model} {}: a record from the future",
                v.version
            );
        }
    }
}

/// 4 OS processes × 4 tasks, each process a manager of its own (pool,
/// listener, background tasks) on one PostgreSQL database, driving mixed
/// lifecycle moves and recording on shared models for a fixed time.
/// Afterwards: every registration a process was told succeeded is in the
/// store and in the audit log exactly once; at every step of the chain at
/// most one active and one canary per model; the chain verifies; each
/// model's records carry revisions no newer than the model's; and the
/// merged metrics count every result a process was told was accepted,
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_four_tasks_stay_one_consistent_system() {
    if std::env::var(CHILD_VAR).is_ok() || !lifecycle_store_postgres::testing::available() {
        return;
    }
    let name = "replicas-four-processes";
    let url = shared_models(name).await;
    let children: Vec<_> = (0..4).map(|index| spawn_process(&url, index)).collect();
    let mut registered = Vec::new();
    let mut accepted: u64 = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a process failed: {output:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        let report = text
            .lines()
            .find_map(|line| line.split_once("CHILD REPORT ").map(|(_, report)| report))
            .unwrap_or_else(|| panic!("no report from a process:\n{text}"));
        let report: serde_json::Value = serde_json::from_str(report).unwrap();
        accepted += report["accepted"].as_u64().unwrap();
        registered.extend(acknowledged_in(&text));
    }
    assert!(
        !registered.is_empty() && accepted > 0,
        "the load did nothing"
    );
    nothing_acknowledged_lost(&url, &registered).await;
    let reader = ModelLifecycleManager::builder()
        .postgres(&url)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap();
    let counted: u64 = reader
        .get_all_model_versions()
        .await
        .unwrap()
        .iter()
        .filter_map(|v| v.metrics.as_ref().map(|m| m.sample_count))
        .sum();
    assert_eq!(counted, accepted, "every accepted result counted once");
    reader.dispose().await.unwrap();
    lifecycle_store_postgres::testing::drop_database(name);
}

/// A process killed (`SIGKILL`) in the middle of its load, commits in
/// flight: every registration it was told had landed is in the store and in
/// the log exactly once, nothing it left half-done shows (the chain replays
/// and verifies, records are no newer than their models), and the other
/// process carries on to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_commit_loses_nothing_acknowledged() {
    if std::env::var(CHILD_VAR).is_ok() || !lifecycle_store_postgres::testing::available() {
        return;
    }
    // `cargo xtask stress` runs many rounds, each killing at another moment.
    for round in 0..lifecycle_store_postgres::testing::fault_rounds() {
        kill_mid_commit(round).await;
    }
}

/// One round of [`a_process_killed_mid_commit_loses_nothing_acknowledged`]:
/// the victim is killed between a quarter and three quarters into its load.
async fn kill_mid_commit(round: u32) {
    use std::io::{BufRead, BufReader};
    let name = "replicas-killed-process";
    let url = shared_models(name).await;
    let (mut victim, survivor) = (spawn_process(&url, 0), spawn_process(&url, 1));
    // Read what the victim acknowledges as it goes, then kill it mid-load.
    let stdout = victim.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        acknowledged_in(&lines.join("\n")).collect::<Vec<_>>()
    });
    tokio::time::sleep(PROCESS_LOAD.mul_f64(0.25 + 0.05 * f64::from(round % 11))).await;
    victim.kill().unwrap();
    victim.wait().unwrap();
    let mut acknowledged = reader.join().unwrap();
    assert!(
        !acknowledged.is_empty(),
        "the victim acknowledged nothing before it died"
    );
    let output = survivor.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the other process failed: {output:?}"
    );
    acknowledged.extend(acknowledged_in(&String::from_utf8_lossy(&output.stdout)));
    nothing_acknowledged_lost(&url, &acknowledged).await;
    lifecycle_store_postgres::testing::drop_database(name);
}

/// One process of [`four_processes_of_four_tasks_stay_one_consistent_system`]
/// (a no-op unless started by it): 4 tasks of random moves, registrations
/// and recording for [`PROCESS_LOAD`], then a report on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
// The report is this process's output: the parent reads it.
#[allow(clippy::print_stdout)]
async fn child_process() {
    let Ok(spec) = std::env::var(CHILD_VAR) else {
        return;
    };
    let (url, index) = spec.rsplit_once(',').unwrap();
    let index: u64 = index.parse().unwrap();
    let m = ModelLifecycleManager::builder()
        .postgres(url)
        .actor(Actor::new(format!("process-{index}")).unwrap())
        .alert_check_interval(Some(Duration::from_millis(200)))
        .change_poll_interval(Some(Duration::from_millis(200)))
        .build()
        .await
        .unwrap();
    let deadline = Instant::now() + PROCESS_LOAD;
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let m = m.clone();
            tokio::spawn(async move {
                let mut seed = (index * 4 + task + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let mut next = move |n: u64| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % n
                };
                let (mut accepted, mut n) = (0u64, 0u64);
                while Instant::now() < deadline {
                    n += 1;
                    let name = SHARED_MODELS[next(3) as usize];
                    let model = ModelId::new(name).unwrap();
                    let v = Version::new(1 + next(2), 0, 0);
                    let _ = match next(8) {
                        0 => {
                            // A version only this task registers.
                            let major = 10 + index * 4 + task;
                            let mut record = version_of(name, major, m.now());
                            record.version = Version::new(major, n, 0);
                            let mine = record.version.clone();
                            let done = m.register_model(record).await;
                            if done.is_ok() {
                                // Said at once: a parent that kills this
                                // process knows what was acknowledged.
                                println!("ACK {name} {mine}");
                            }
                            done.map(drop)
                        }
                        1 => m.deploy_to_testing(&model, &v).await.map(drop),
                        2 => m
                            .start_canary(&model, &v, CanaryWeight::new(20).unwrap())
                            .await
                            .map(drop),
                        3 => m.force_promote_canary(&model, "load").await.map(drop),
                        4 => m.abort_canary(&model).await.map(drop),
                        5 => m.force_activate_model(&model, &v, "load").await.map(drop),
                        _ => {
                            for user in 0..20 {
                                let key = format!("user-{user}");
                                let Ok(Some(routed)) = m.route(name, key.as_bytes()) else {
                                    continue;
                                };
                                let ok = InferenceResult::success(120.0).with_tokens(50, 10);
                                if m.record_inference(name, &routed.version.version, &ok)
                                    .is_ok()
                                {
                                    accepted += 1;
                                }
                            }
                            Ok(())
                        }
                    };
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap();
    }
    m.dispose().await.unwrap();
    println!("CHILD REPORT {}", serde_json::json!({"accepted": accepted}));
}
