//! `ModelRegistry` through its public API, on the in-memory and the sled store:
//! each operation's success path and error paths, and that a refused
//! operation changes nothing.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEventKind, AuditLogEntry, CanaryWeight, Decimal, Displaced, DomainError,
    ModelCapabilities, ModelCostInfo, ModelId, ModelStatus, ModelVersion, Succession, Version,
};
use lifecycle_registry::{Lane, ModelRegistry, RegistryError};
use lifecycle_store::{AuditQuery, ManualClock, MemoryStore, Store, StoreError};
use lifecycle_store_sled::SledStore;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn id(s: &str) -> ModelId {
    ModelId::new(s).unwrap()
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn record(model: &str, version: &str) -> ModelVersion {
    ModelVersion::new(
        id(model),
        v(version),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        t0(),
    )
}

/// The pieces a test needs: the registry, its store and clock.
struct World {
    registry: ModelRegistry,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

impl World {
    async fn status(&self, model: &str, version: &str) -> ModelStatus {
        self.registry
            .get(&id(model), &v(version))
            .await
            .unwrap()
            .status()
    }

    async fn audit(&self) -> Vec<AuditLogEntry> {
        self.store.audit(&AuditQuery::all()).await.unwrap()
    }

    /// Runs `op`, expecting it to fail as `expected` says, and checks that
    /// the model and the audit log are exactly as before.
    async fn refused<T: std::fmt::Debug>(
        &self,
        model: &str,
        op: impl Future<Output = Result<T, RegistryError>>,
        expected: impl Fn(&RegistryError) -> bool,
    ) -> RegistryError {
        let before = (
            self.store.model(&id(model)).await.unwrap(),
            self.audit().await,
        );
        let err = match op.await {
            Err(e) if expected(&e) => e,
            other => panic!("unexpected outcome: {other:?}"),
        };
        let after = (
            self.store.model(&id(model)).await.unwrap(),
            self.audit().await,
        );
        assert_eq!(before, after, "a refused operation changed something");
        err
    }
}

async fn world(store: Arc<dyn Store>, succession: Succession) -> World {
    let clock = Arc::new(ManualClock::new(t0()));
    let registry = ModelRegistry::open(
        store.clone(),
        clock.clone(),
        succession,
        Actor::new("alice").unwrap(),
    )
    .await
    .unwrap();
    World {
        registry,
        store,
        clock,
    }
}

/// Runs `test` once on a memory store and once on a fresh sled store.
async fn on_each_store<F, Fut>(succession: Succession, test: F)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = ()>,
{
    test(world(Arc::new(MemoryStore::new()), succession).await).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    test(world(Arc::new(SledStore::open(&dir).unwrap()), succession).await).await;
}

/// Registers `versions` of `model`.
async fn registered(w: &World, model: &str, versions: &[&str]) {
    for version in versions {
        w.registry.register(record(model, version)).await.unwrap();
    }
}

#[tokio::test]
async fn register_audits_with_the_actor_and_refuses_duplicates_and_bad_records() {
    on_each_store(Succession::default(), |w| async move {
        w.clock.advance(Duration::hours(1));
        let stored = w
            .registry
            .register(record("gpt-4-turbo", "1.0.0"))
            .await
            .unwrap();
        assert_eq!(
            stored.created_at,
            t0() + Duration::hours(1),
            "stamped by the clock"
        );
        let audit = w.audit().await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].event.kind, AuditEventKind::ModelRegistered);
        assert_eq!(audit[0].event.actor.as_str(), "alice");

        let err = w
            .refused(
                "gpt-4-turbo",
                w.registry.register(record("gpt-4-turbo", "1.0.0+rebuild")),
                |e| matches!(e, RegistryError::VersionAlreadyExists { .. }),
            )
            .await;
        assert!(
            err.to_string()
                .contains("gpt-4-turbo 1.0.0+rebuild is already registered"),
            "{err}"
        );

        let mut active = record("gpt-4-turbo", "2.0.0");
        active.activate(t0()).unwrap();
        w.refused("gpt-4-turbo", w.registry.register(active), |e| {
            matches!(e, RegistryError::NotInactive { .. })
        })
        .await;

        let mut free = record("gpt-4-turbo", "3.0.0");
        free.cost_info = Some(ModelCostInfo::usd(dec!(0), dec!(-1)));
        let err = w
            .refused("gpt-4-turbo", w.registry.register(free), |e| {
                matches!(e, RegistryError::Domain(_))
            })
            .await;
        assert!(err.to_string().contains("costInfo.outputPer1k"), "{err}");

        let bob = w.registry.acting_as(Actor::new("bob").unwrap());
        bob.register(record("gpt-4-turbo", "4.0.0")).await.unwrap();
        assert_eq!(w.audit().await.last().unwrap().event.actor.as_str(), "bob");
    })
    .await;
}

#[tokio::test]
async fn activation_deprecates_the_previous_version_in_the_same_commit() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0"]).await;
        w.registry.activate(&id("m"), &v("1.0.0")).await.unwrap();
        let before = w.audit().await.len();
        w.clock.advance(Duration::days(1));
        let active = w.registry.activate(&id("m"), &v("2.0.0")).await.unwrap();
        assert_eq!(active.status(), ModelStatus::Active);
        let old = w.registry.get(&id("m"), &v("1.0.0")).await.unwrap();
        assert_eq!(old.status(), ModelStatus::Deprecated);
        let deprecation = old.deprecation().unwrap();
        assert_eq!(deprecation.grace_period_days, 90);
        assert_eq!(deprecation.replacement_version, Some(v("2.0.0")));
        assert_eq!(deprecation.end_of_life, t0() + Duration::days(91));
        let audit = w.audit().await;
        let kinds: Vec<AuditEventKind> = audit[before..].iter().map(|e| e.event.kind).collect();
        assert_eq!(
            kinds,
            [
                AuditEventKind::ModelDeprecated,
                AuditEventKind::ModelActivated
            ]
        );
        assert_eq!(audit[before + 1].event.details["previous"], "1.0.0");
        // Both written by one commit: one model revision for both.
        let state = w.store.model(&id("m")).await.unwrap();
        assert!(state.versions.iter().all(|x| x.revision == state.revision));
    })
    .await;
}

#[tokio::test]
async fn with_deactivation_for_succession_the_previous_version_is_only_deactivated() {
    let succession = Succession {
        displaced: Displaced::Deactivated,
        ..Succession::default()
    };
    on_each_store(succession, |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0"]).await;
        w.registry.activate(&id("m"), &v("1.0.0")).await.unwrap();
        w.registry.activate(&id("m"), &v("2.0.0")).await.unwrap();
        assert_eq!(w.status("m", "1.0.0").await, ModelStatus::Inactive);
    })
    .await;
}

#[tokio::test]
async fn the_canary_lifecycle_and_its_errors() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0", "3.0.0"]).await;
        let m = id("m");
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        let five = CanaryWeight::new(5).unwrap();
        w.refused("m", w.registry.set_canary_weight(&m, five), |e| {
            matches!(e, RegistryError::NoCanary { .. })
        })
        .await;
        w.refused("m", w.registry.promote_canary(&m), |e| {
            matches!(e, RegistryError::NoCanary { .. })
        })
        .await;
        w.refused("m", w.registry.abort_canary(&m), |e| {
            matches!(e, RegistryError::NoCanary { .. })
        })
        .await;

        w.registry.deploy_to_testing(&m, &v("2.0.0")).await.unwrap();
        w.registry
            .start_canary(&m, &v("2.0.0"), five)
            .await
            .unwrap();
        let err = w
            .refused("m", w.registry.start_canary(&m, &v("3.0.0"), five), |e| {
                matches!(e, RegistryError::CanaryRunning { .. })
            })
            .await;
        assert!(
            err.to_string().contains("already has canary 2.0.0"),
            "{err}"
        );

        let fifty = CanaryWeight::new(50).unwrap();
        let canary = w.registry.set_canary_weight(&m, fifty).await.unwrap();
        assert_eq!(canary.canary_weight(), Some(fifty));
        let changed = w.audit().await.last().unwrap().clone();
        assert_eq!(changed.event.kind, AuditEventKind::CanaryWeightChanged);
        assert_eq!(changed.event.details["previousWeight"], "5");

        let promoted = w.registry.promote_canary(&m).await.unwrap();
        assert_eq!(promoted.status(), ModelStatus::Active);
        assert_eq!(w.status("m", "1.0.0").await, ModelStatus::Deprecated);

        w.registry
            .start_canary(&m, &v("3.0.0"), five)
            .await
            .unwrap();
        let aborted = w.registry.abort_canary(&m).await.unwrap();
        assert_eq!(aborted.status(), ModelStatus::Inactive);
        assert_eq!(
            w.audit().await.last().unwrap().event.kind,
            AuditEventKind::CanaryAborted
        );
    })
    .await;
}

#[tokio::test]
async fn illegal_transitions_and_unknown_names_change_nothing() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0"]).await;
        let m = id("m");
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        let err = w
            .refused("m", w.registry.retire(&m, &v("1.0.0")), |e| {
                matches!(
                    e,
                    RegistryError::Domain(DomainError::IllegalTransition { .. })
                )
            })
            .await;
        assert!(
            err.to_string().contains("may go to: inactive, deprecated"),
            "{err}"
        );
        let err = w
            .refused("m", w.registry.deploy_to_testing(&m, &v("9.9.9")), |e| {
                matches!(e, RegistryError::UnknownVersion { .. })
            })
            .await;
        assert!(
            err.to_string()
                .contains("registered versions: 1.0.0, 2.0.0"),
            "{err}"
        );
        w.refused(
            "other",
            w.registry.activate(&id("other"), &v("1.0.0")),
            |e| matches!(e, RegistryError::UnknownModel { .. }),
        )
        .await;
        w.refused(
            "m",
            w.registry
                .deprecate(&m, &v("1.0.0"), "old", Some(&v("7.0.0")), None),
            |e| matches!(e, RegistryError::UnknownVersion { .. }),
        )
        .await;
        w.refused(
            "m",
            w.registry.deprecate(&m, &v("1.0.0"), " ", None, None),
            |e| matches!(e, RegistryError::Domain(_)),
        )
        .await;
        w.refused("m", w.registry.deactivate(&m, &v("2.0.0")), |e| {
            matches!(
                e,
                RegistryError::Domain(DomainError::IllegalTransition { .. })
            )
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn deprecate_then_retire_and_retired_is_final() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0", "0.9.0"]).await;
        let m = id("m");
        w.registry.activate(&m, &v("0.9.0")).await.unwrap();
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        // The replacement must be another version users can move to.
        let bad_replacement =
            |e: &RegistryError| matches!(e, RegistryError::InvalidReplacement { .. });
        w.refused(
            "m",
            w.registry
                .deprecate(&m, &v("1.0.0"), "x", Some(&v("1.0.0")), None),
            bad_replacement,
        )
        .await;
        w.refused(
            "m",
            w.registry
                .deprecate(&m, &v("1.0.0"), "x", Some(&v("0.9.0")), None),
            bad_replacement,
        )
        .await;
        let deprecated = w
            .registry
            .deprecate(&m, &v("1.0.0"), "too slow", Some(&v("2.0.0")), Some(10))
            .await
            .unwrap();
        assert_eq!(deprecated.days_until_eol(t0()), Some(10));
        let entry = w.audit().await.last().unwrap().clone();
        assert_eq!(entry.event.details["replacement"], "2.0.0");
        w.registry.retire(&m, &v("1.0.0")).await.unwrap();
        let illegal = |e: &RegistryError| {
            matches!(
                e,
                RegistryError::Domain(DomainError::IllegalTransition { .. })
            )
        };
        w.refused("m", w.registry.activate(&m, &v("1.0.0")), illegal)
            .await;
        let five = CanaryWeight::new(5).unwrap();
        w.refused("m", w.registry.start_canary(&m, &v("1.0.0"), five), illegal)
            .await;
        w.registry.activate(&m, &v("2.0.0")).await.unwrap();
        let off = w.registry.deactivate(&m, &v("2.0.0")).await.unwrap();
        assert_eq!(off.status(), ModelStatus::Inactive);
        assert!(
            w.registry.route("m", b"k").is_none(),
            "nothing serves after deactivation"
        );
        let last = w.audit().await.last().unwrap().event.kind;
        assert_eq!(last, AuditEventKind::ModelDeactivated);
    })
    .await;
}

#[tokio::test]
async fn rollback_reactivates_the_target_and_marks_the_current_one_rolled_back() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0", "3.0.0"]).await;
        let m = id("m");
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        w.registry.activate(&m, &v("2.0.0")).await.unwrap();
        let before = w.audit().await.len();
        let target = w
            .registry
            .rollback(&m, &v("1.0.0"), "error rate 12 %")
            .await
            .unwrap();
        assert_eq!(target.status(), ModelStatus::Active);
        assert_eq!(target.deprecation(), None);
        let previous = w.registry.get(&m, &v("2.0.0")).await.unwrap();
        assert_eq!(previous.status(), ModelStatus::Deprecated);
        assert_eq!(
            previous.deprecation().unwrap().reason,
            "rolled back to 1.0.0: error rate 12 %"
        );
        let audit = w.audit().await;
        assert_eq!(
            audit[before].event.kind,
            AuditEventKind::ModelDeprecated,
            "the current version leaves first"
        );
        let rollback = &audit[before + 1];
        assert_eq!(rollback.event.kind, AuditEventKind::ModelRolledBack);
        assert_eq!(rollback.event.version, Some(v("1.0.0")));
        assert_eq!(rollback.event.details["previous"], "2.0.0");
        assert_eq!(audit.len(), before + 2);

        w.registry.retire(&m, &v("3.0.0")).await.unwrap();
        w.refused("m", w.registry.rollback(&m, &v("3.0.0"), "x"), |e| {
            matches!(
                e,
                RegistryError::InvalidRollbackTarget {
                    status: ModelStatus::Retired,
                    ..
                }
            )
        })
        .await;
        w.refused("m", w.registry.rollback(&m, &v("1.0.0"), "x"), |e| {
            matches!(
                e,
                RegistryError::InvalidRollbackTarget {
                    status: ModelStatus::Active,
                    ..
                }
            )
        })
        .await;
        w.refused("m", w.registry.rollback(&m, &v("8.0.0"), "x"), |e| {
            matches!(e, RegistryError::UnknownVersion { .. })
        })
        .await;
    })
    .await;
}

/// Keys from a fixed xorshift stream, as hex strings.
fn random_keys(n: usize) -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{state:016x}")
        })
        .collect()
}

#[tokio::test]
async fn routing_is_uniform_sticky_and_moves_keys_only_towards_the_canary() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0"]).await;
        let m = id("m");
        assert!(
            w.registry.route("m", b"user").is_none(),
            "nothing serves yet"
        );
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        w.registry
            .start_canary(&m, &v("2.0.0"), CanaryWeight::new(5).unwrap())
            .await
            .unwrap();
        let keys = random_keys(100_000);
        let lanes: Vec<Lane> = keys
            .iter()
            .map(|k| w.registry.route("m", k.as_bytes()).unwrap().lane)
            .collect();
        let share = lanes.iter().filter(|l| **l == Lane::Canary).count() as f64 / keys.len() as f64;
        assert!((share - 0.05).abs() <= 0.005, "canary share {share}");
        for (key, lane) in keys.iter().zip(&lanes).take(1000) {
            let again = w.registry.route("m", key.as_bytes()).unwrap();
            assert_eq!(again.lane, *lane, "sticky");
            let expected = if *lane == Lane::Canary {
                "2.0.0"
            } else {
                "1.0.0"
            };
            assert_eq!(again.version.version, v(expected));
        }
        w.registry
            .set_canary_weight(&m, CanaryWeight::new(50).unwrap())
            .await
            .unwrap();
        let mut canary = 0;
        for (key, lane) in keys.iter().zip(&lanes) {
            let now = w.registry.route("m", key.as_bytes()).unwrap().lane;
            if *lane == Lane::Canary {
                assert_eq!(now, Lane::Canary, "a canary key stays on the canary");
            }
            canary += usize::from(now == Lane::Canary);
        }
        let share = canary as f64 / keys.len() as f64;
        assert!((share - 0.5).abs() <= 0.01, "canary share at 50 %: {share}");
        w.registry.abort_canary(&m).await.unwrap();
        assert!(keys
            .iter()
            .take(1000)
            .all(|k| w.registry.route("m", k.as_bytes()).unwrap().lane == Lane::Active));
    })
    .await;
}

#[tokio::test]
async fn a_reopened_registry_routes_from_what_the_store_holds() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let w = world(store.clone(), Succession::default()).await;
    registered(&w, "m", &["1.0.0"]).await;
    w.registry.activate(&id("m"), &v("1.0.0")).await.unwrap();
    let again = world(store, Succession::default()).await;
    assert_eq!(
        again.registry.route("m", b"k").unwrap().version.version,
        v("1.0.0")
    );
}

#[tokio::test]
async fn resolve_picks_the_highest_usable_match_and_warns_when_deprecated() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["2.0.0", "2.1.0", "2.4.0", "3.0.0"]).await;
        let m = id("m");
        w.registry.activate(&m, &v("2.1.0")).await.unwrap();
        w.registry.activate(&m, &v("3.0.0")).await.unwrap(); // 2.1.0 deprecated, 90 days
        let resolved = w.registry.resolve("m", "^2.1").unwrap();
        assert_eq!(
            resolved.version.version,
            v("2.1.0"),
            "2.4.0 is not usable (inactive)"
        );
        w.clock.advance(Duration::days(30));
        let notice = w
            .registry
            .resolve("m", "^2.1")
            .unwrap()
            .deprecation
            .unwrap();
        assert_eq!(notice.days_until_eol, 60);
        assert_eq!(notice.replacement, Some(v("3.0.0")));
        let newest = w.registry.resolve("m", ">=2").unwrap();
        assert_eq!(newest.version.version, v("3.0.0"));
        assert!(newest.deprecation.is_none());
        assert!(matches!(
            w.registry.resolve("m", "^4"),
            Err(RegistryError::NoMatchingVersion { .. })
        ));
        assert!(matches!(
            w.registry.resolve("m", "not a req"),
            Err(RegistryError::Domain(_))
        ));
        assert!(matches!(
            w.registry.resolve("nope", "*"),
            Err(RegistryError::NoMatchingVersion { .. })
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_keep_one_active_and_audit_every_success() {
    on_each_store(Succession::default(), |w| async move {
        let versions: Vec<String> = (1..=8).map(|i| format!("{i}.0.0")).collect();
        let names: Vec<&str> = versions.iter().map(String::as_str).collect();
        registered(&w, "m", &names).await;
        let tasks: Vec<_> = versions
            .iter()
            .map(|version| {
                let registry = w.registry.clone();
                let version = v(version);
                tokio::spawn(async move { registry.activate(&id("m"), &version).await })
            })
            .collect();
        let mut succeeded = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => succeeded += 1,
                // Retries exhausted under contention: allowed, and nothing written.
                Err(RegistryError::Store(StoreError::Conflict { .. })) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(succeeded >= 1);
        let state = w.store.model(&id("m")).await.unwrap();
        let active = state
            .versions
            .iter()
            .filter(|x| x.status() == ModelStatus::Active)
            .count();
        assert_eq!(active, 1);
        let activations = w
            .audit()
            .await
            .iter()
            .filter(|e| e.event.kind == AuditEventKind::ModelActivated)
            .count();
        assert_eq!(activations, succeeded);
        let routed = w.registry.route("m", b"any").unwrap().version;
        assert_eq!(
            Some(routed.as_ref()),
            state.active(),
            "the router saw the last commit"
        );
    })
    .await;
}

/// Every path into `active` other than `activate` and `promote_canary`
/// (which the facade's policy judges) is closed: a rollback returns only to
/// a version that served before, and the router never disagrees with the
/// canary's stated share.
#[tokio::test]
async fn rollback_and_canaries_have_no_back_door_around_the_policy() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0", "3.0.0"]).await;
        let m = id("m");
        let five = CanaryWeight::new(5).unwrap();
        let rollback_refused = |why: &'static str| {
            move |e: &RegistryError| {
                matches!(e, RegistryError::InvalidRollbackTarget { reason, .. } if reason.contains(why))
            }
        };
        // Nothing active: nothing to roll back from, and no canary to start.
        w.refused(
            "m",
            w.registry.rollback(&m, &v("1.0.0"), "x"),
            rollback_refused("nothing is active"),
        )
        .await;
        w.refused("m", w.registry.start_canary(&m, &v("2.0.0"), five), |e| {
            matches!(e, RegistryError::CanaryWithoutActive { .. })
        })
        .await;
        w.registry.activate(&m, &v("1.0.0")).await.unwrap();
        // Never served: that is a first deployment, judged by the policy.
        w.refused(
            "m",
            w.registry.rollback(&m, &v("3.0.0"), "x"),
            rollback_refused("never served"),
        )
        .await;
        // The running canary is promoted, not rolled back to.
        w.registry.start_canary(&m, &v("2.0.0"), five).await.unwrap();
        w.refused(
            "m",
            w.registry.rollback(&m, &v("2.0.0"), "x"),
            rollback_refused("running canary"),
        )
        .await;
        // The active version stays while the canary takes its 5 %.
        let needs_active = |e: &RegistryError| matches!(e, RegistryError::CanaryNeedsActive { weight: 5, .. });
        w.refused("m", w.registry.deactivate(&m, &v("1.0.0")), needs_active)
            .await;
        w.refused(
            "m",
            w.registry.deprecate(&m, &v("1.0.0"), "old", None, None),
            needs_active,
        )
        .await;
        let share = (0..10_000)
            .filter(|k| {
                w.registry
                    .route("m", format!("user-{k}").as_bytes())
                    .is_some_and(|r| r.version.version == v("2.0.0"))
            })
            .count();
        assert!((300..700).contains(&share), "the canary keeps its 5 %: {share}");
        // After promotion, the version that served before is a valid target.
        w.registry.promote_canary(&m).await.unwrap();
        let back = w.registry.rollback(&m, &v("1.0.0"), "regression").await.unwrap();
        assert_eq!(back.status(), ModelStatus::Active);
        // A retired replacement is refused.
        w.registry.retire(&m, &v("3.0.0")).await.unwrap();
        w.refused(
            "m",
            w.registry.deprecate(&m, &v("1.0.0"), "x", Some(&v("3.0.0")), None),
            |e| matches!(e, RegistryError::InvalidReplacement { reason, .. } if reason.contains("retired")),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_handle_expecting_a_revision_moves_only_a_model_still_at_it() {
    on_each_store(Succession::default(), |w| async move {
        registered(&w, "m", &["1.0.0", "2.0.0"]).await;
        let read = w.store.model(&id("m")).await.unwrap().revision;
        // Someone else moves the model after it was read.
        w.registry
            .deploy_to_testing(&id("m"), &v("2.0.0"))
            .await
            .unwrap();
        let stale = w.registry.expecting(read);
        let mismatch = |e: &RegistryError| {
            matches!(e, RegistryError::RevisionMismatch { expected, current, .. }
                if *expected == read && *current == read + 1)
        };
        let err = w
            .refused("m", stale.activate(&id("m"), &v("1.0.0")), mismatch)
            .await;
        assert!(err.to_string().contains("read it again"), "{err}");
        w.refused("m", stale.retire(&id("m"), &v("1.0.0")), mismatch)
            .await;
        w.refused(
            "m",
            stale.start_canary(&id("m"), &v("2.0.0"), CanaryWeight::new(5).unwrap()),
            mismatch,
        )
        .await;

        // At the revision it names, the move is made, once.
        let current = w.registry.expecting(read + 1);
        let active = current.activate(&id("m"), &v("1.0.0")).await.unwrap();
        assert_eq!(active.status(), ModelStatus::Active);
        assert_eq!(active.revision, read + 2);
        w.refused("m", current.deactivate(&id("m"), &v("1.0.0")), |e| {
            matches!(e, RegistryError::RevisionMismatch { current, .. } if *current == read + 2)
        })
        .await;
    })
    .await;
}
