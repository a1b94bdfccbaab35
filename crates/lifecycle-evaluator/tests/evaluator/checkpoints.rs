//! Lifetime statistics survive a restart through metrics checkpoints in the
//! store, saved in the background without slowing recording.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::common::{record_of, t0};
use lifecycle_domain::{
    EvaluationConfig, EvaluationSettings, InferenceResult, ModelId, ModelPerformanceMetrics,
    QuantileMethod, Version,
};
use lifecycle_evaluator::{Evaluator, EvaluatorError};
use lifecycle_store::{Commit, ManualClock, MemoryStore, MetricsSnapshot, Store, StoreError};

fn v1() -> Version {
    Version::new(1, 0, 0)
}

/// A memory store with `m` 1.0.0 registered.
async fn store() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let commit = Commit::for_model(ModelId::new("m").unwrap(), 0).put(record_of("m"));
    store.commit(commit).await.unwrap();
    store
}

fn evaluator(interval: u64) -> Evaluator {
    let config = EvaluationConfig::new(EvaluationSettings {
        metrics_update_interval: interval,
        ..EvaluationSettings::default()
    })
    .unwrap();
    let evaluator = Evaluator::new(config, Arc::new(ManualClock::new(t0())));
    evaluator.track(&record_of("m"));
    evaluator
}

/// The size of the one checkpoint of `m` 1.0.0 (an evaluator alone on its
/// store saves the merged part only).
async fn saved_state_len(store: &dyn Store, m: &ModelId) -> usize {
    let mut saved = store.metrics(m, &v1()).await.unwrap();
    saved.pop().unwrap().state.len()
}

fn record(evaluator: &Evaluator, n: usize) {
    for i in 0..n {
        let latency = 100.0 + (i % 900) as f64;
        evaluator
            .record("m", &v1(), &InferenceResult::success(latency))
            .unwrap();
    }
}

#[tokio::test]
async fn a_restarted_evaluator_restores_lifetime_metrics() {
    let store = store().await;
    let before = evaluator(100);
    record(&before, 250);
    let saved = before.checkpoint(&*store, true).await.unwrap();
    let expected: ModelPerformanceMetrics = before.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        (saved[0].version.clone(), &saved[0].metrics),
        (v1(), &expected)
    );
    assert!(
        before.checkpoint(&*store, true).await.unwrap().is_empty(),
        "a flush with nothing new saves nothing"
    );
    drop(before);

    let after = evaluator(100);
    assert_eq!(after.restore(&*store).await.unwrap().versions, 1);
    let restored = after.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(restored, expected);
    assert!(
        after.checkpoint(&*store, true).await.unwrap().is_empty(),
        "restored samples count as saved"
    );
    record(&after, 50);
    assert_eq!(
        after.lifetime_metrics("m", &v1()).unwrap().sample_count,
        300
    );
    assert_eq!(
        after.window_metrics("m", &v1()).unwrap().sample_count,
        300,
        "the rolling window is restored too: a restart does not reset judgement"
    );
    assert_eq!(
        after.evaluate("m", &v1()).unwrap().status,
        lifecycle_evaluator::EvaluationStatus::Passed
    );
}

#[tokio::test]
async fn a_checkpoint_is_merged_once_and_never_replaced_unread() {
    let store = store().await;
    let first = evaluator(100);
    record(&first, 250);
    first.checkpoint(&*store, true).await.unwrap();
    drop(first);

    // Another process tracks the version and records before restoring it.
    let second = evaluator(100);
    record(&second, 40);
    let saved = second.checkpoint(&*store, true).await.unwrap();
    assert_eq!(
        saved[0].metrics.sample_count, 290,
        "the checkpoint saved merges the one in the store instead of replacing it"
    );
    assert_eq!(second.restore(&*store).await.unwrap().versions, 0);
    assert_eq!(
        second
            .restore_model(&*store, &ModelId::new("m").unwrap())
            .await
            .unwrap()
            .versions,
        0,
        "a version is restored once"
    );
    assert_eq!(
        second.lifetime_metrics("m", &v1()).unwrap().sample_count,
        290
    );

    // Restored explicitly after recording: merged, counted once, and the
    // results recorded before it are still unsaved.
    let third = evaluator(100);
    record(&third, 10);
    let model = ModelId::new("m").unwrap();
    assert_eq!(
        third.restore_model(&*store, &model).await.unwrap().versions,
        1
    );
    assert_eq!(third.restore(&*store).await.unwrap().versions, 0);
    assert_eq!(
        third.lifetime_metrics("m", &v1()).unwrap().sample_count,
        300
    );
    let saved = third.checkpoint(&*store, true).await.unwrap();
    assert_eq!(saved[0].metrics.sample_count, 300);
    let stored = store.metrics(&model, &v1()).await.unwrap().pop().unwrap();
    assert_eq!(stored.metrics.sample_count, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_checkpointer_keeps_up_within_the_documented_bound() {
    let store = store().await;
    let evaluator = evaluator(100);
    let task = evaluator.spawn_checkpointer(store.clone(), None);
    record(&evaluator, 1_000);
    // Every 100 samples asked for a checkpoint; the last one covers at least 1,000 - 100 per shard.
    let shards = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u64;
    let mut saved = 0;
    for _ in 0..500 {
        saved = store
            .metrics(&ModelId::new("m").unwrap(), &v1())
            .await
            .unwrap()
            .pop()
            .map_or(0, |s: MetricsSnapshot| s.metrics.sample_count);
        if saved == 1_000 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    assert!(saved >= 1_000 - 100 * shards, "saved {saved}");
    assert_eq!(evaluator.checkpoint_error(), None);
    drop(evaluator);
    tokio::time::timeout(StdDuration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn checkpoint_failures_are_reported() {
    let empty: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let evaluator = evaluator(100);
    record(&evaluator, 10);
    let err = evaluator.checkpoint(&*empty, true).await.unwrap_err();
    assert!(
        matches!(
            err,
            EvaluatorError::Store(StoreError::UnknownVersion { .. })
        ),
        "{err}"
    );

    let store = store().await;
    let mut damaged = MetricsSnapshot {
        model_id: ModelId::new("m").unwrap(),
        version: v1(),
        taken_at: t0(),
        metrics: evaluator.lifetime_metrics("m", &v1()).unwrap(),
        state: b"not a checkpoint".to_vec(),
        replica: String::new(),
    };
    damaged.metrics.updated_at = t0();
    store.save_metrics(damaged).await.unwrap();
    // An unreadable checkpoint does not brick the store: the version starts
    // over, is named with the reason, and the next checkpoint replaces it.
    let restarted = self::evaluator(100);
    let restored = restarted.restore(&*store).await.unwrap();
    assert_eq!(restored.versions, 0);
    let [err] = &restored.unreadable[..] else {
        panic!("{:?}", restored.unreadable);
    };
    assert!(matches!(err, EvaluatorError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("m 1.0.0 cannot be read"), "{err}");
    assert_eq!(restarted.checkpoint(&*store, false).await.unwrap().len(), 1);
    let again = self::evaluator(100);
    let restored = again.restore(&*store).await.unwrap();
    assert!(
        restored.unreadable.is_empty(),
        "replaced by a readable checkpoint"
    );
}

#[tokio::test]
async fn a_version_with_failures_only_round_trips() {
    let store = store().await;
    let before = evaluator(100);
    for _ in 0..30 {
        let failed = InferenceResult::failure(lifecycle_domain::ErrorKind::Timeout, 30_000.0);
        before.record("m", &v1(), &failed).unwrap();
    }
    before.checkpoint(&*store, true).await.unwrap();
    let after = evaluator(100);
    after.restore(&*store).await.unwrap();
    assert_eq!(
        after.lifetime_metrics("m", &v1()).unwrap(),
        before.lifetime_metrics("m", &v1()).unwrap()
    );
    assert_eq!(
        after
            .failures("m", &v1())
            .unwrap()
            .by_kind
            .values()
            .sum::<u64>(),
        30
    );
}

#[tokio::test]
async fn a_restart_neither_forgets_nor_repeats_an_alert() {
    let store = store().await;
    let before = evaluator(100);
    for _ in 0..100 {
        let failed = InferenceResult::failure(lifecycle_domain::ErrorKind::ServerError, 20.0);
        before.record("m", &v1(), &failed).unwrap();
    }
    let alerts = before.check_alerts();
    assert_eq!(alerts[0].level, lifecycle_evaluator::AlertLevel::Critical);
    assert!(
        !before.checkpoint(&*store, false).await.unwrap().is_empty(),
        "the change asked for a save"
    );

    let after = evaluator(100);
    after.restore(&*store).await.unwrap();
    let firing: Vec<_> = after
        .firing()
        .into_iter()
        .map(|(_, v, level)| (v, level))
        .collect();
    assert_eq!(firing, [(v1(), lifecycle_evaluator::AlertLevel::Critical)]);
    assert!(
        after.check_alerts().is_empty(),
        "still critical: no second alert"
    );
}

/// A store recorded with one evaluation window and read with another: the
/// saved window is re-bucketed, so the recent results still count in the
/// new window (the outside test saw 0 samples and a failed evaluation).
#[tokio::test]
async fn a_different_window_length_is_rebucketed_not_dropped() {
    let store = store().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let with_window = |secs: u64| {
        let config = EvaluationConfig::new(EvaluationSettings {
            evaluation_window_secs: secs,
            min_samples: 10,
            ..EvaluationSettings::default()
        })
        .unwrap();
        let evaluator = Evaluator::new(config, clock.clone());
        evaluator.track(&record_of("m"));
        evaluator
    };
    let recorded = with_window(600);
    // 60 results spread over the last 5 minutes, and 40 from an hour before.
    for i in 0..40 {
        clock.set(t0() + lifecycle_domain::chrono::Duration::seconds(i));
        recorded
            .record("m", &v1(), &InferenceResult::success(50.0))
            .unwrap();
    }
    let now = t0() + lifecycle_domain::chrono::Duration::hours(1);
    for i in 0..60 {
        clock.set(now - lifecycle_domain::chrono::Duration::seconds(300 - 5 * i));
        recorded
            .record("m", &v1(), &InferenceResult::success(100.0))
            .unwrap();
    }
    clock.set(now);
    assert_eq!(recorded.evaluate("m", &v1()).unwrap().samples, 60);
    recorded.checkpoint(&*store, true).await.unwrap();

    // The window ends at the newest result (t0 + 3595 s): an hour back
    // from there reaches the first 40 results.
    for (secs, expected) in [(600, 60), (3_600, 100), (7_200, 100), (60, 12)] {
        let read = with_window(secs);
        read.restore(&*store).await.unwrap();
        let report = read.evaluate("m", &v1()).unwrap();
        assert_eq!(report.window_secs, secs);
        // Re-bucketing moves a result by less than one saved sub-window (60 s).
        let tolerance = if secs == 60 { 12 } else { 0 };
        assert!(
            report.samples.abs_diff(expected) <= tolerance,
            "window {secs} s: {} samples, expected {expected}",
            report.samples
        );
        assert_eq!(read.lifetime_metrics("m", &v1()).unwrap().sample_count, 100);
    }
}

/// A batch counts in memory only once its atomic save landed: a failed
/// save, or a repeated batch, leaves every version as it was.
#[tokio::test]
async fn a_batch_counts_only_after_its_save_and_only_once() {
    let store = store().await;
    let evaluator = evaluator(1_000_000);
    // Tracked here but unknown to the store: its save fails.
    evaluator.track(&record_of("other"));
    let result = InferenceResult::success(100.0);
    let m = ModelId::new("m").unwrap();
    let other = ModelId::new("other").unwrap();
    let failing = vec![(m.clone(), v1(), result), (other, v1(), result)];
    let err = evaluator
        .record_batch(&*store, &failing, "b0")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EvaluatorError::Store(StoreError::UnknownVersion { .. })
        ),
        "{err}"
    );
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        0
    );
    assert!(!store.batch_recorded("b0").await.unwrap());

    let batch = vec![(m.clone(), v1(), result); 250];
    let saved = evaluator.record_batch(&*store, &batch, "b1").await.unwrap();
    assert_eq!(saved[0].metrics.sample_count, 250);
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        250
    );
    let stored = store.metrics(&m, &v1()).await.unwrap().pop().unwrap();
    assert_eq!(stored.metrics.sample_count, 250, "saved with the batch");
    let again = evaluator
        .record_batch(&*store, &batch, "b1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            EvaluatorError::Store(StoreError::BatchRecorded { .. })
        ),
        "{again}"
    );
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        250,
        "once"
    );
    // A restarted evaluator sees the batch.
    let restarted = self::evaluator(100);
    restarted.restore(&*store).await.unwrap();
    assert_eq!(
        restarted.lifetime_metrics("m", &v1()).unwrap().sample_count,
        250
    );
}

/// Exact latencies survive a restart while there are few; once the
/// sub-windows together hold more than the limit, a checkpoint drops them
/// (its size stays bounded) and the restored window uses the sketch.
#[tokio::test]
async fn exact_quantiles_survive_a_restart_and_checkpoints_stay_bounded() {
    let store = store().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let fresh = || {
        let e = Evaluator::new(EvaluationConfig::default(), clock.clone());
        e.track(&record_of("m"));
        e
    };
    let m = ModelId::new("m").unwrap();
    let before = fresh();
    record(&before, 3_000);
    before.checkpoint(&*store, true).await.unwrap();
    let exact_size = saved_state_len(&*store, &m).await;
    let expected = before.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(expected.latency_quantiles, QuantileMethod::Exact);
    let after = fresh();
    after.restore(&*store).await.unwrap();
    assert_eq!(after.lifetime_metrics("m", &v1()).unwrap(), expected);

    // Two sub-windows of 3,000: each under the limit, together over it.
    clock.advance(lifecycle_domain::chrono::Duration::minutes(1));
    record(&before, 3_000);
    before.checkpoint(&*store, true).await.unwrap();
    let size = saved_state_len(&*store, &m).await;
    assert!(
        size < exact_size,
        "{size} bytes for 6,000 results, {exact_size} for 3,000 kept exactly"
    );
    let again = fresh();
    again.restore(&*store).await.unwrap();
    let restored = again.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(restored.latency_quantiles, QuantileMethod::Sketch);
    assert_eq!(restored.sample_count, 6_000);
}

/// Results spread over three sub-windows in the middle of the ring, saved,
/// and the saved state as `edit` leaves it: the restored window must judge
/// exactly what the recorded one did.
async fn restored_after(edit: impl Fn(serde_json::Value) -> serde_json::Value) {
    let store = store().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let config = EvaluationConfig::new(EvaluationSettings {
        min_samples: 10,
        ..EvaluationSettings::default()
    })
    .unwrap();
    let make = || {
        let evaluator = Evaluator::new(config.clone(), clock.clone());
        evaluator.track(&record_of("m"));
        evaluator
    };
    let recorded = make();
    for (minute, latency) in [(2, 100.0), (3, 250.0), (5, 900.0)] {
        for i in 0..20 {
            clock.set(t0() + lifecycle_domain::chrono::Duration::seconds(minute * 60 + i));
            let result = InferenceResult::success(latency + i as f64).with_tokens(10, 5);
            recorded.record("m", &v1(), &result).unwrap();
        }
    }
    recorded.checkpoint(&*store, true).await.unwrap();
    let mut saved = store
        .metrics(&ModelId::new("m").unwrap(), &v1())
        .await
        .unwrap()
        .pop()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&saved.state).unwrap();
    let slots = state["window"]["slots"].as_array().unwrap().len();
    assert_eq!(slots, 3, "only the occupied sub-windows are saved");
    saved.state = serde_json::to_vec(&edit(state)).unwrap();
    store.save_metrics(saved).await.unwrap();

    let restored = make();
    assert_eq!(restored.restore(&*store).await.unwrap().versions, 1);
    assert_eq!(
        restored.window_metrics("m", &v1()).unwrap(),
        recorded.window_metrics("m", &v1()).unwrap()
    );
    assert_eq!(
        restored.lifetime_metrics("m", &v1()).unwrap(),
        recorded.lifetime_metrics("m", &v1()).unwrap()
    );
    // Recording on into the newest sub-window finds it in its place.
    for evaluator in [&recorded, &restored] {
        evaluator
            .record("m", &v1(), &InferenceResult::success(300.0))
            .unwrap();
    }
    assert_eq!(
        restored.window_metrics("m", &v1()).unwrap(),
        recorded.window_metrics("m", &v1()).unwrap()
    );
    let (a, b) = (
        restored.evaluate("m", &v1()).unwrap(),
        recorded.evaluate("m", &v1()).unwrap(),
    );
    assert_eq!((a.samples, a.status), (b.samples, b.status));
}

#[tokio::test]
async fn a_checkpoint_saves_occupied_sub_windows_and_restores_them_in_place() {
    restored_after(|state| state).await;
}

/// Earlier builds wrote the window's fields beside the health, every place
/// of the ring (empty ones too) and each sampled request as an object.
#[tokio::test]
async fn a_checkpoint_in_the_earlier_layout_is_still_read() {
    restored_after(|state| {
        let mut old = state["window"].clone();
        old["health"] = state["health"].clone();
        let mut ring = vec![serde_json::Value::Null; 10];
        for mut slot in old["slots"].as_array().unwrap().clone() {
            let number = slot["number"].as_i64().unwrap();
            for sampled in slot["sample"]["kept"].as_array_mut().unwrap() {
                let [latency, confidence, cost, tokens] =
                    <[serde_json::Value; 4]>::try_from(sampled.as_array().unwrap().clone())
                        .unwrap();
                *sampled = serde_json::json!({"latency_ms": latency, "confidence": confidence,
                    "cost": cost, "output_tokens": tokens});
            }
            ring[number.rem_euclid(10) as usize] = slot;
        }
        let mut empty = old["slots"][0].clone();
        empty["number"] = i64::MIN.into();
        empty["stats"] = serde_json::json!({"successes": 0, "failures": [0,0,0,0,0,0,0,0],
            "latency": null, "exact": [], "failure_latency_sum": 0.0, "failure_latency_max": 0.0,
            "confidence_sum": 0.0, "confidence_count": 0, "input_tokens": 0, "output_tokens": 0});
        empty["sample"] = serde_json::json!({"kept": [], "seen": 0, "random": 0});
        let ring: Vec<_> = ring
            .into_iter()
            .map(|slot| if slot.is_null() { empty.clone() } else { slot })
            .collect();
        old["slots"] = ring.into();
        old
    })
    .await;
}
