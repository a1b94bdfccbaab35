//! Sequences of operations on a manager — every lifecycle move, results,
//! time passing by any amount, maintenance, backup and restore — from
//! structured input. Each either succeeds or is refused with a typed error;
//! after every step at most one version is active and one a canary, and the
//! audit chain verifies. Never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use lifecycle::chrono::{DateTime, Duration};
use lifecycle::*;

#[derive(Arbitrary, Debug)]
enum Op {
    Register(u8),
    Testing(u8),
    Activate(u8),
    Deactivate(u8),
    StartCanary(u8, u8),
    Weight(u8),
    Promote,
    Abort,
    Deprecate(u8, Option<u8>, Option<u32>),
    Retire(u8),
    Rollback(u8),
    Record(u8, bool, f64, u32, u32),
    Advance(u32),
    Maintain,
    CheckAlerts,
    BackupRestore,
}

fn version(n: u8) -> Version {
    Version::new(u64::from(n % 4), 0, 0)
}

fuzz_target!(|ops: Vec<Op>| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or(DateTime::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(start));
        let policy = PolicyConfig::new(PolicySettings {
            auto_rollback_on_critical: true,
            ..PolicySettings::default()
        })
        .unwrap_or_default();
        let Ok(manager) = ModelLifecycleManager::builder()
            .memory()
            .clock(clock.clone())
            .policy_config(policy)
            .alert_check_interval(None)
            .build()
            .await
        else {
            return;
        };
        let m = ModelId::new("m").unwrap_or_else(|_| unreachable!());
        for op in ops.iter().take(48) {
            match *op {
                Op::Register(v) => {
                    let record = ModelVersion::new(
                        m.clone(),
                        version(v),
                        "openai",
                        ModelCapabilities::new(8_192, 1_024),
                        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                        clock.now(),
                    );
                    let _ = manager.register_model(record).await;
                }
                Op::Testing(v) => drop(manager.deploy_to_testing(&m, &version(v)).await),
                Op::Activate(v) => drop(manager.activate_model(&m, &version(v)).await),
                Op::Deactivate(v) => drop(manager.deactivate_model(&m, &version(v)).await),
                Op::StartCanary(v, w) => {
                    if let Ok(w) = CanaryWeight::new(w) {
                        let _ = manager.start_canary(&m, &version(v), w).await;
                    }
                }
                Op::Weight(w) => {
                    if let Ok(w) = CanaryWeight::new(w) {
                        let _ = manager.set_canary_weight(&m, w).await;
                    }
                }
                Op::Promote => drop(manager.promote_canary(&m).await),
                Op::Abort => drop(manager.abort_canary(&m).await),
                Op::Deprecate(v, replacement, grace) => {
                    let replacement = replacement.map(version);
                    let _ = manager
                        .deprecate_model(&m, &version(v), "old", replacement.as_ref(), grace)
                        .await;
                }
                Op::Retire(v) => drop(manager.retire_model(&m, &version(v)).await),
                Op::Rollback(v) => drop(manager.rollback_model(&m, &version(v), "fuzz").await),
                Op::Record(v, success, latency, tokens_in, tokens_out) => {
                    let result = if success {
                        InferenceResult::success(latency)
                    } else {
                        InferenceResult::failure(ErrorKind::RateLimited, latency)
                    }
                    .with_tokens(tokens_in, tokens_out);
                    let _ = manager.record_inference(m.as_str(), &version(v), &result);
                }
                Op::Advance(minutes) => clock.advance(Duration::minutes(i64::from(minutes))),
                Op::Maintain => drop(manager.run_maintenance().await),
                Op::CheckAlerts => drop(manager.check_alerts()),
                Op::BackupRestore => {
                    let mut backup = Vec::new();
                    assert!(manager.create_backup(&mut backup).await.is_ok());
                    let copy = ModelLifecycleManager::builder()
                        .memory()
                        .alert_check_interval(None)
                        .build()
                        .await;
                    if let Ok(copy) = copy {
                        let restored = copy.restore_backup(backup.as_slice()).await;
                        assert!(restored.is_ok(), "{restored:?}");
                    }
                }
            }
            let versions = manager.get_model_versions(&m).await.unwrap_or_default();
            let count = |s| versions.iter().filter(|v| v.status() == s).count();
            assert!(count(ModelStatus::Active) <= 1 && count(ModelStatus::Canary) <= 1);
            if count(ModelStatus::Canary) == 1 {
                assert_eq!(
                    count(ModelStatus::Active),
                    1,
                    "a canary runs beside an active version"
                );
            }
            let verified = manager.audit_log().verify().await;
            assert!(verified.is_ok_and(|r| r.is_intact()));
        }
        let _ = manager.dispose().await;
    });
});
