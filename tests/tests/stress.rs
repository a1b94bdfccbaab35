//! Concurrency stress: many tasks drive mixed operations — recording,
//! routing, evaluating, comparing, canary moves, activations, rollbacks,
//! deprecations, retirements, maintenance, backups — against one manager on
//! the sled store, then every invariant is checked: at most one active and
//! one canary per model, retired versions stay retired, every accepted
//! result counted once, the audit log numbered without gaps and verifying,
//! and a backup taken at the end restores to the same state.
//!
//! `LIFECYCLE_STRESS_ROUNDS` (default 40 per task) sizes a run;
//! `cargo xtask stress` runs it large.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use lifecycle::*;

const MODELS: [&str; 3] = ["gpt-4-turbo", "claude-3-sonnet", "llama-3-70b"];
const TASKS: u64 = 12;

fn rounds() -> u64 {
    std::env::var("LIFECYCLE_STRESS_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40)
}

fn record(
    model: &str,
    major: u64,
    now: lifecycle::chrono::DateTime<lifecycle::chrono::Utc>,
) -> ModelVersion {
    ModelVersion::new(
        ModelId::new(model).unwrap(),
        Version::new(major, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        now,
    )
}

/// xorshift: each task its own deterministic stream.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One task's work: mostly traffic, sometimes a lifecycle move. Returns
/// the results it recorded successfully, per (model, version).
async fn work(m: ModelLifecycleManager, task: u64) -> BTreeMap<(String, Version), u64> {
    let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ (task + 1));
    let mut recorded = BTreeMap::new();
    for round in 0..rounds() {
        let model = MODELS[random.below(3) as usize];
        let id = ModelId::new(model).unwrap();
        let v = Version::new(1 + random.below(4), 0, 0);
        for i in 0..50 {
            let key = format!("{task}-{round}-{i}");
            if let Some(routed) = m.route(model, key.as_bytes()).unwrap() {
                let version = routed.version.version.clone();
                let result = if random.below(20) == 0 {
                    InferenceResult::failure(ErrorKind::ServerError, 40.0)
                } else {
                    InferenceResult::success(200.0 + random.below(300) as f64)
                };
                if m.record_inference(model, &version, &result).is_ok() {
                    *recorded.entry((model.to_string(), version)).or_default() += 1;
                }
            }
        }
        // Lifecycle moves race each other; refusals are expected, broken rules are not.
        let _ = match random.below(12) {
            0 => m.activate_model(&id, &v).await.map(drop),
            1 => m
                .start_canary(
                    &id,
                    &v,
                    CanaryWeight::new(1 + random.below(98) as u8).unwrap(),
                )
                .await
                .map(drop),
            2 => m
                .set_canary_weight(&id, CanaryWeight::new(1 + random.below(98) as u8).unwrap())
                .await
                .map(drop),
            3 => m.promote_canary(&id).await.map(drop),
            4 => m.abort_canary(&id).await.map(drop),
            5 => m.rollback_model(&id, &v, "stress").await.map(drop),
            6 => m
                .deprecate_model(&id, &v, "stress", None, Some(random.below(3) as u32))
                .await
                .map(drop),
            7 => m.retire_model(&id, &v).await.map(drop),
            8 => m.run_maintenance().await.map(drop),
            9 => m.evaluate_model(model, &v).map(drop),
            10 => m
                .compare_versions(model, &Version::new(1, 0, 0), &v)
                .map(drop),
            _ => m.create_backup(std::io::sink()).await.map(drop),
        };
        tokio::task::yield_now().await;
    }
    recorded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_of_mixed_operations_keep_every_invariant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let manager = ModelLifecycleManager::builder()
        .sled(&dir)
        .alert_check_interval(Some(std::time::Duration::from_millis(20)))
        .build()
        .await
        .unwrap();
    for model in MODELS {
        for major in 1..=4 {
            manager
                .register_model(record(model, major, manager.now()))
                .await
                .unwrap();
        }
        let id = ModelId::new(model).unwrap();
        manager
            .activate_model(&id, &Version::new(1, 0, 0))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(work(manager.clone(), t)))
        .collect();
    let mut recorded: BTreeMap<(String, Version), u64> = BTreeMap::new();
    for task in tasks {
        for (key, n) in task.await.unwrap() {
            *recorded.entry(key).or_default() += n;
        }
    }

    let history = manager.get_recent_audit_entries(usize::MAX).await.unwrap();
    for model in MODELS {
        let id = ModelId::new(model).unwrap();
        let versions = manager.get_model_versions(&id).await.unwrap();
        let count = |s: ModelStatus| versions.iter().filter(|v| v.status() == s).count();
        assert!(count(ModelStatus::Active) <= 1, "{versions:?}");
        assert!(count(ModelStatus::Canary) <= 1, "{versions:?}");
        for v in &versions {
            let lifetime = manager
                .evaluator()
                .lifetime_metrics(model, &v.version)
                .unwrap()
                .sample_count;
            let expected = recorded
                .get(&(model.to_string(), v.version.clone()))
                .copied();
            assert_eq!(lifetime, expected.unwrap_or(0), "{model} {}", v.version);
            // Once retired, no later entry may move the version again.
            let retired_at = history.iter().rev().position(|e| {
                e.event.kind == AuditEventKind::ModelRetired
                    && e.event.model_id.as_ref() == Some(&id)
                    && e.event.version.as_ref() == Some(&v.version)
            });
            if let Some(at) = retired_at {
                assert_eq!(v.status(), ModelStatus::Retired);
                let later = history.iter().rev().skip(at + 1).filter(|e| {
                    e.event.version.as_ref() == Some(&v.version)
                        && e.event.model_id.as_ref() == Some(&id)
                        && e.event.details.contains_key("status")
                });
                assert_eq!(
                    later.count(),
                    0,
                    "{model} {} moved after retirement",
                    v.version
                );
            }
        }
    }
    let sequences: Vec<u64> = history.iter().rev().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
    assert!(manager.audit_log().verify().await.unwrap().is_intact());

    let mut backup = Vec::new();
    manager.create_backup(&mut backup).await.unwrap();
    let copy = ModelLifecycleManager::builder()
        .memory()
        .build()
        .await
        .unwrap();
    copy.restore_backup(&backup[..]).await.unwrap();
    // Metrics are computed as of each read: compare them without that time.
    let as_read = |mut versions: Vec<ModelVersion>| {
        for v in &mut versions {
            if let Some(m) = &mut v.metrics {
                m.updated_at = lifecycle::chrono::DateTime::UNIX_EPOCH;
            }
        }
        versions
    };
    for model in MODELS {
        let id = ModelId::new(model).unwrap();
        assert_eq!(
            as_read(copy.get_model_versions(&id).await.unwrap()),
            as_read(manager.get_model_versions(&id).await.unwrap())
        );
    }
    manager.dispose().await.unwrap();
    copy.dispose().await.unwrap();
}
