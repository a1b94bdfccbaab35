//! Evaluation and policy settings from structured input: refused with the
//! field named, or used for real — an evaluator built with them records,
//! evaluates, compares, checkpoints and restores any results. Never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use lifecycle::chrono::{DateTime, Duration};
use lifecycle::store::MemoryStore;
use lifecycle::*;

#[derive(Arbitrary, Debug)]
struct Input {
    min_samples: u64,
    max_error_rate: f64,
    min_success_rate: f64,
    max_latency_ms: f64,
    min_confidence: f64,
    window_secs: u64,
    update_interval: u64,
    consecutive: u64,
    grace: u32,
    warning: u32,
    max_cost: Option<(i64, u8)>,
    results: Vec<(u8, bool, f64, u32, u32, u16)>,
}

fuzz_target!(|input: Input| {
    let evaluation = EvaluationConfig::new(EvaluationSettings {
        min_samples: input.min_samples,
        max_error_rate: input.max_error_rate,
        min_success_rate: input.min_success_rate,
        max_latency_ms: input.max_latency_ms,
        min_confidence: input.min_confidence,
        evaluation_window_secs: input.window_secs,
        metrics_update_interval: input.update_interval,
        consecutive_violations_for_critical: input.consecutive,
        ..EvaluationSettings::default()
    });
    let policy = PolicyConfig::new(PolicySettings {
        default_grace_period_days: input.grace,
        eol_warning_threshold_days: input.warning,
        max_cost_per_request: input
            .max_cost
            .and_then(|(n, s)| Decimal::try_new(n, u32::from(s % 29)).ok()),
        ..PolicySettings::default()
    });
    let (Ok(evaluation), Ok(policy)) = (evaluation, policy) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or(DateTime::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(start));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let Ok(manager) = ModelLifecycleManager::builder()
            .store(store.clone())
            .clock(clock.clone())
            .evaluation_config(evaluation.clone())
            .policy_config(policy.clone())
            .alert_check_interval(None)
            .build()
            .await
        else {
            return;
        };
        let model = ModelId::new("m").unwrap_or_else(|_| unreachable!());
        let (one, two) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
        for v in [&one, &two] {
            let record = ModelVersion::new(
                model.clone(),
                v.clone(),
                "openai",
                ModelCapabilities::new(8_192, 1_024),
                ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                clock.now(),
            );
            if manager.register_model(record).await.is_err() {
                return;
            }
        }
        for &(which, success, latency, tokens_in, tokens_out, wait_ms) in
            input.results.iter().take(256)
        {
            let v = if which % 2 == 0 { &one } else { &two };
            let result = if success {
                InferenceResult::success(latency)
            } else {
                InferenceResult::failure(ErrorKind::Timeout, latency)
            }
            .with_tokens(tokens_in, tokens_out);
            let _ = manager.record_inference(model.as_str(), v, &result);
            clock.advance(Duration::milliseconds(i64::from(wait_ms) * 100));
        }
        let _ = manager.evaluate_model(model.as_str(), &one);
        let _ = manager.compare_versions(model.as_str(), &one, &two);
        let _ = manager.can_deploy_model(&model, &two).await;
        let _ = manager.check_alerts();
        assert!(
            manager.dispose().await.is_ok(),
            "checkpoints of accepted results save"
        );
        // A second manager with the same settings reads everything back.
        let again = ModelLifecycleManager::builder()
            .store(store)
            .clock(clock)
            .evaluation_config(evaluation)
            .policy_config(policy)
            .alert_check_interval(None)
            .build()
            .await;
        assert!(again.is_ok(), "the store stays readable: {:?}", again.err());
    });
});
