//! Model-based property tests of the registry: random sequences of
//! operations run against the real registry (memory and sled stores) and
//! against a small reference model written here from the documented rules,
//! independently of the domain code. After every step the observable state
//! agrees and the invariants hold: at most one active and one canary version,
//! retired is final, every change audited, the audit chain verifies.
//!
//! A third mode applies each operation through one of three registries
//! opened on one store, picked at random, as replicas of a service do.
//!
//! `PROPTEST_CASES` sets the number of cases (default 2,000 on memory, 300
//! on sled); a failure shrinks to the shortest sequence that still fails.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;
use lifecycle_policy::LifecyclePolicy;
use lifecycle_registry::ModelRegistry;
use lifecycle_store::{AuditQuery, Clock, ManualClock, MemoryStore, Store};
use lifecycle_store_sled::SledStore;
use lifecycle_tests::runtime;
use proptest::prelude::*;

/// Version numbers the operations pick from; the last one differs from the
/// third only in build metadata, so it names the same version.
const NUMBERS: [&str; 4] = ["1.0.0", "1.1.0", "2.0.0", "2.0.0+build.7"];
/// The grace period the policy gives when activation replaces a version.
const DEFAULT_GRACE_DAYS: i64 = 90;

#[derive(Debug, Clone)]
enum Op {
    Register(usize),
    Testing(usize),
    StartCanary(usize, u8),
    SetWeight(u8),
    AbortCanary,
    Promote,
    Activate(usize),
    Deactivate(usize),
    Deprecate(usize, u32),
    Retire(usize),
    Rollback(usize),
    AdvanceDays(u32),
    Maintain,
}

fn op() -> impl Strategy<Value = Op> {
    let v = 0..NUMBERS.len();
    prop_oneof![
        3 => v.clone().prop_map(Op::Register),
        1 => v.clone().prop_map(Op::Testing),
        2 => (v.clone(), 1..=99u8).prop_map(|(v, w)| Op::StartCanary(v, w)),
        1 => (1..=99u8).prop_map(Op::SetWeight),
        1 => Just(Op::AbortCanary),
        1 => Just(Op::Promote),
        2 => v.clone().prop_map(Op::Activate),
        1 => v.clone().prop_map(Op::Deactivate),
        1 => (v.clone(), 0..120u32).prop_map(|(v, d)| Op::Deprecate(v, d)),
        1 => v.clone().prop_map(Op::Retire),
        1 => v.clone().prop_map(Op::Rollback),
        1 => (1..60u32).prop_map(Op::AdvanceDays),
        1 => Just(Op::Maintain),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum S {
    Inactive,
    Testing,
    Canary,
    Active,
    Deprecated,
    Retired,
}

/// The documented transition table (docs/ARCHITECTURE.md), written out again.
fn allowed(from: S, to: S) -> bool {
    use S::*;
    matches!(
        (from, to),
        (Inactive, Testing | Canary | Active | Retired)
            | (Testing, Inactive | Canary | Active | Retired)
            | (Canary, Inactive | Testing | Active)
            | (Active, Inactive | Deprecated)
            | (Deprecated, Active | Retired)
    )
}

#[derive(Debug, Clone, PartialEq)]
struct Expected {
    status: S,
    weight: Option<u8>,
    end_of_life: Option<DateTime<Utc>>,
    /// It was the active version at some point.
    served: bool,
}

/// The reference model: each version's expected state, and the audit
/// entries each operation must add.
#[derive(Default)]
struct Model {
    versions: BTreeMap<usize, Expected>,
}

/// The canonical key of a version number (build metadata ignored).
fn key(v: usize) -> usize {
    v.min(2)
}

impl Model {
    fn with(&self, s: S) -> Option<usize> {
        self.versions
            .iter()
            .find(|(_, e)| e.status == s)
            .map(|(k, _)| *k)
    }

    fn status(&self, v: usize) -> Option<S> {
        self.versions.get(&key(v)).map(|e| e.status)
    }

    fn set(&mut self, v: usize, status: S) {
        let e = self.versions.get_mut(&key(v)).unwrap();
        e.status = status;
        e.weight = None;
        e.served |= status == S::Active;
    }

    fn deprecate(&mut self, v: usize, now: DateTime<Utc>, days: i64) {
        self.set(v, S::Deprecated);
        self.versions.get_mut(&key(v)).unwrap().end_of_life = Some(now + Duration::days(days));
    }

    /// Makes `v` active; the previous active version is deprecated.
    /// Returns the audit entries written, `None` if refused.
    fn take_over(&mut self, v: usize, now: DateTime<Utc>) -> Option<usize> {
        let from = self.status(v)?;
        if !allowed(from, S::Active) {
            return None;
        }
        let previous = self.with(S::Active);
        self.set(v, S::Active);
        match previous {
            Some(p) => {
                self.deprecate(p, now, DEFAULT_GRACE_DAYS);
                Some(2)
            }
            None => Some(1),
        }
    }

    /// A simple move along the table: one entry, or `None` if refused.
    fn step(&mut self, v: usize, to: S) -> Option<usize> {
        let from = self.status(v)?;
        allowed(from, to).then(|| {
            self.set(v, to);
            1
        })
    }

    /// Applies `op` at `now`; the number of audit entries it must write
    /// (`None`: it must be refused and change nothing).
    fn apply(&mut self, op: &Op, now: DateTime<Utc>) -> Option<usize> {
        match *op {
            Op::Register(v) => {
                if self.versions.contains_key(&key(v)) {
                    return None;
                }
                let fresh = Expected {
                    status: S::Inactive,
                    weight: None,
                    end_of_life: None,
                    served: false,
                };
                self.versions.insert(key(v), fresh);
                Some(1)
            }
            Op::Testing(v) => self.step(v, S::Testing),
            Op::StartCanary(v, w) => {
                if self.with(S::Canary).is_some_and(|c| c != key(v))
                    || self.with(S::Active).is_none()
                {
                    return None;
                }
                let entries = self.step(v, S::Canary)?;
                self.versions.get_mut(&key(v)).unwrap().weight = Some(w);
                Some(entries)
            }
            Op::SetWeight(w) => {
                let c = self.with(S::Canary)?;
                self.versions.get_mut(&c).unwrap().weight = Some(w);
                Some(1)
            }
            Op::AbortCanary => {
                let c = self.with(S::Canary)?;
                self.step(c, S::Inactive)
            }
            Op::Promote => {
                let c = self.with(S::Canary)?;
                self.take_over(c, now)
            }
            Op::Activate(v) => self.take_over(v, now),
            // The active version stays while a canary runs beside it.
            Op::Deactivate(v) => {
                if self.status(v)? == S::Active && self.with(S::Canary).is_some() {
                    return None;
                }
                self.step(v, S::Inactive)
            }
            Op::Deprecate(v, days) => {
                if self.status(v)? != S::Active || self.with(S::Canary).is_some() {
                    return None;
                }
                self.deprecate(v, now, i64::from(days));
                Some(1)
            }
            Op::Retire(v) => self.step(v, S::Retired),
            // A rollback returns to a version that served before, in place
            // of the active one; never to a retired version or the canary.
            Op::Rollback(v) => {
                if matches!(self.status(v)?, S::Active | S::Retired | S::Canary)
                    || self.with(S::Active).is_none()
                    || !self.versions[&key(v)].served
                {
                    return None;
                }
                self.take_over(v, now)
            }
            Op::AdvanceDays(_) => Some(0),
            Op::Maintain => {
                let due: Vec<usize> = self
                    .versions
                    .iter()
                    .filter(|(_, e)| e.status == S::Deprecated)
                    .filter(|(_, e)| e.end_of_life.is_some_and(|eol| now >= eol))
                    .map(|(k, _)| *k)
                    .collect();
                for v in &due {
                    self.set(*v, S::Retired);
                }
                Some(due.len())
            }
        }
    }
}

fn status_of(s: ModelStatus) -> S {
    match s {
        ModelStatus::Inactive => S::Inactive,
        ModelStatus::Testing => S::Testing,
        ModelStatus::Canary => S::Canary,
        ModelStatus::Active => S::Active,
        ModelStatus::Deprecated => S::Deprecated,
        ModelStatus::Retired => S::Retired,
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap()
}

fn model_id() -> ModelId {
    ModelId::new("gpt-4-turbo").unwrap()
}

fn number(v: usize) -> Version {
    Version::parse(NUMBERS[v]).unwrap()
}

/// Runs `op` on the real registry; true if it succeeded.
async fn run(registry: &ModelRegistry, op: &Op, clock: &ManualClock) -> bool {
    let m = model_id();
    let done = match *op {
        Op::Register(v) => {
            let record = ModelVersion::new(
                m.clone(),
                number(v),
                "openai",
                ModelCapabilities::new(128_000, 4_096),
                ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                clock.now(),
            );
            registry.register(record).await.map(drop)
        }
        Op::Testing(v) => registry.deploy_to_testing(&m, &number(v)).await.map(drop),
        Op::StartCanary(v, w) => {
            let weight = CanaryWeight::new(w).unwrap();
            registry
                .start_canary(&m, &number(v), weight)
                .await
                .map(drop)
        }
        Op::SetWeight(w) => {
            let weight = CanaryWeight::new(w).unwrap();
            registry.set_canary_weight(&m, weight).await.map(drop)
        }
        Op::AbortCanary => registry.abort_canary(&m).await.map(drop),
        Op::Promote => registry.promote_canary(&m).await.map(drop),
        Op::Activate(v) => registry.activate(&m, &number(v)).await.map(drop),
        Op::Deactivate(v) => registry.deactivate(&m, &number(v)).await.map(drop),
        Op::Deprecate(v, days) => registry
            .deprecate(&m, &number(v), "replaced", None, Some(days))
            .await
            .map(drop),
        Op::Retire(v) => registry.retire(&m, &number(v)).await.map(drop),
        Op::Rollback(v) => registry.rollback(&m, &number(v), "test").await.map(drop),
        Op::AdvanceDays(days) => {
            clock.advance(Duration::days(i64::from(days)));
            Ok(())
        }
        Op::Maintain => {
            let versions = registry.versions(&m).await.unwrap_or_default();
            let policy = LifecyclePolicy::default();
            let mut result = Ok(());
            for due in policy.retirement_due(&versions, clock.now()) {
                if let Err(e) = registry.retire(&m, &due.version).await {
                    result = Err(e);
                }
            }
            result
        }
    };
    done.is_ok()
}

/// Runs a sequence on a fresh store, checking agreement after each step;
/// each operation names the registry (of `replicas`, all opened on `store`)
/// it goes through.
async fn check_sequence(
    stores: Vec<Arc<dyn Store>>,
    ops: &[(usize, Op)],
) -> Result<(), TestCaseError> {
    let replicas = stores.len();
    let store = stores[0].clone();
    let clock = Arc::new(ManualClock::new(t0()));
    let mut registries = Vec::new();
    for (n, store) in stores.into_iter().enumerate() {
        let registry = ModelRegistry::open(
            store,
            clock.clone(),
            Succession::default(),
            Actor::new(format!("prop-{n}")).unwrap(),
        )
        .await
        .unwrap();
        registries.push(registry);
    }
    let mut model = Model::default();
    let mut entries = 0usize;
    let mut retired_ever = Vec::new();
    for (i, (replica, op)) in ops.iter().enumerate() {
        let registry = &registries[replica % replicas];
        let now = clock.now();
        let expected = model.apply(op, now);
        let succeeded = run(registry, op, &clock).await;
        let kept = matches!(op, Op::AdvanceDays(_) | Op::Maintain);
        prop_assert_eq!(
            succeeded || kept,
            expected.is_some(),
            "step {}: {:?} succeeded={} but the model expected {:?}",
            i,
            op,
            succeeded,
            expected
        );
        entries += expected.unwrap_or(0);

        let state = store.model(&model_id()).await.unwrap();
        let mut actual = BTreeMap::new();
        for v in &state.versions {
            let k = NUMBERS
                .iter()
                .position(|n| Version::parse(n).unwrap() == v.version)
                .unwrap();
            actual.insert(
                key(k),
                Expected {
                    status: status_of(v.status()),
                    weight: v.canary_weight().map(|w| w.percent()),
                    end_of_life: v
                        .deprecation()
                        .filter(|_| v.status() == ModelStatus::Deprecated)
                        .map(|d| d.end_of_life),
                    served: false,
                },
            );
        }
        let mut predicted = model.versions.clone();
        for e in predicted.values_mut() {
            // Not stored: the registry reads it from the audit log.
            e.served = false;
            if e.status != S::Deprecated {
                e.end_of_life = None;
            }
        }
        prop_assert_eq!(&actual, &predicted, "step {}: {:?}", i, op);
        let count = |s: S| actual.values().filter(|e| e.status == s).count();
        prop_assert!(count(S::Active) <= 1 && count(S::Canary) <= 1, "step {}", i);
        for v in &retired_ever {
            prop_assert_eq!(actual[v].status, S::Retired, "retired is final");
        }
        retired_ever = actual
            .iter()
            .filter(|(_, e)| e.status == S::Retired)
            .map(|(k, _)| *k)
            .collect();
        let log = store.audit(&AuditQuery::all()).await.unwrap();
        prop_assert_eq!(
            log.len(),
            entries,
            "step {}: every change audited, nothing else",
            i
        );
        prop_assert!(
            verify_chain(&log, None).is_ok(),
            "step {}: chain verifies",
            i
        );
        let active = registry
            .active(&model_id())
            .await
            .unwrap()
            .map(|a| a.version);
        prop_assert_eq!(active.is_some(), count(S::Active) == 1);
    }
    Ok(())
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2_000), ..ProptestConfig::default() })]

    #[test]
    fn the_registry_on_memory_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let ops: Vec<_> = ops.into_iter().map(|op| (0, op)).collect();
        runtime().block_on(check_sequence(vec![Arc::new(MemoryStore::new())], &ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1_000), ..ProptestConfig::default() })]

    #[test]
    fn three_replicas_on_one_memory_store_agree_with_the_model(
        ops in proptest::collection::vec((0..3usize, op()), 1..40)
    ) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        runtime().block_on(check_sequence(vec![store; 3], &ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn the_registry_on_sled_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let tmp = tempfile::tempdir().unwrap();
        let result = runtime().block_on(async {
            let store: Arc<dyn Store> = Arc::new(SledStore::open(tmp.path().join("store")).unwrap());
            let ops: Vec<_> = ops.into_iter().map(|op| (0, op)).collect();
            check_sequence(vec![store], &ops).await
        });
        result?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(60), ..ProptestConfig::default() })]

    /// Three registries, each on a store of its own (a pool and a listener,
    /// as three processes would have), on one PostgreSQL database.
    #[test]
    fn three_replicas_on_postgres_agree_with_the_model(
        ops in proptest::collection::vec((0..3usize, op()), 1..40)
    ) {
        if !lifecycle_store_postgres::testing::available() {
            return Ok(());
        }
        let result = runtime().block_on(async {
            let url = lifecycle_store_postgres::testing::fresh_database("model-based").await;
            let mut stores: Vec<Arc<dyn Store>> = Vec::new();
            for _ in 0..3 {
                let store = lifecycle_store_postgres::PostgresStore::connect(&url).await.unwrap();
                stores.push(Arc::new(store));
            }
            check_sequence(stores, &ops).await
        });
        lifecycle_store_postgres::testing::drop_database("model-based");
        result?;
    }
}
