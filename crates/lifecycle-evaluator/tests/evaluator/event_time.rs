//! Event time: results carry the time their request happened. A real hour
//! of Azure production arrivals (tests/fixtures/azure-llm-2023), recorded in
//! shuffled order as a late, batched client would send them, lands in the
//! window by its own times; older results count in the lifetime only;
//! results from more than a minute ahead are refused.
use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use lifecycle_domain::{EvaluationConfig, InferenceResult, ModelId, QuantileMethod};
use lifecycle_evaluator::{Evaluator, EvaluatorError};
use lifecycle_store::{Commit, ManualClock, MemoryStore, Store};

use crate::common::{record_of, v1, Random};

/// One request of the trace: when, and its token counts.
struct Arrival {
    at: DateTime<Utc>,
    input_tokens: u32,
    output_tokens: u32,
}

fn azure_code_trace() -> Vec<Arrival> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/azure-llm-2023/AzureLLMInferenceTrace_code.csv"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let at = NaiveDateTime::parse_from_str(f[0], "%Y-%m-%d %H:%M:%S%.f").unwrap();
            Arrival {
                at: at.and_utc(),
                input_tokens: f[1].parse().unwrap(),
                output_tokens: f[2].parse().unwrap(),
            }
        })
        .collect()
}

fn result_of(a: &Arrival) -> InferenceResult {
    // A latency that grows with the completion, as generation does.
    InferenceResult::success(80.0 + 12.0 * f64::from(a.output_tokens.min(10_000)))
        .with_tokens(a.input_tokens, a.output_tokens)
        .at(a.at)
}

/// The last moment of the minute after the trace ends: the default
/// 10-minute window then covers exactly (now − 10 min, now].
fn end_of_replay(trace: &[Arrival]) -> DateTime<Utc> {
    let last = trace.iter().map(|a| a.at).max().unwrap();
    let minute = last.timestamp().div_euclid(60) + 1;
    Utc.timestamp_opt(minute * 60, 0).unwrap() - Duration::milliseconds(1)
}

#[test]
fn a_shuffled_replay_of_real_arrivals_lands_in_the_window_by_event_time() {
    let mut trace = azure_code_trace();
    assert_eq!(trace.len(), 8_819);
    let now = end_of_replay(&trace);
    let clock = Arc::new(ManualClock::new(now));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock);
    evaluator.track(&record_of("code"));
    // Fisher–Yates with a fixed seed: arrival order says nothing.
    let mut random = Random(7);
    for i in (1..trace.len()).rev() {
        let j = (random.next() * (i + 1) as f64) as usize;
        trace.swap(i, j);
    }
    for arrival in &trace {
        evaluator
            .record("code", &v1(), &result_of(arrival))
            .unwrap();
    }

    let start = now - Duration::minutes(10);
    let recent: Vec<&Arrival> = trace.iter().filter(|a| a.at > start).collect();
    assert!(
        recent.len() > 500 && recent.len() < trace.len(),
        "{}",
        recent.len()
    );
    let window = evaluator.window_metrics("code", &v1()).unwrap();
    assert_eq!(window.sample_count, recent.len() as u64);
    assert_eq!(
        window.total_output_tokens,
        recent
            .iter()
            .map(|a| u64::from(a.output_tokens))
            .sum::<u64>()
    );
    assert_eq!(window.latency_quantiles, QuantileMethod::Exact);

    let lifetime = evaluator.lifetime_metrics("code", &v1()).unwrap();
    assert_eq!(
        lifetime.sample_count,
        trace.len() as u64,
        "older results count here"
    );
    assert_eq!(
        lifetime.total_input_tokens,
        trace.iter().map(|a| u64::from(a.input_tokens)).sum::<u64>()
    );
}

#[test]
fn a_result_from_more_than_a_minute_ahead_is_refused_and_nothing_is_recorded() {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    let evaluator = Evaluator::new(EvaluationConfig::default(), Arc::new(ManualClock::new(now)));
    evaluator.track(&record_of("m"));
    let ahead = InferenceResult::success(100.0).at(now + Duration::seconds(61));
    let err = evaluator.record("m", &v1(), &ahead).unwrap_err();
    assert!(matches!(err, EvaluatorError::FromTheFuture { .. }), "{err}");
    assert!(err.to_string().contains("61 s ahead"), "{err}");
    let skewed = InferenceResult::success(100.0).at(now + Duration::seconds(59));
    evaluator.record("m", &v1(), &skewed).unwrap();
    let lifetime = evaluator.lifetime_metrics("m", &v1()).unwrap();
    assert_eq!(lifetime.sample_count, 1);
    assert_eq!(
        evaluator.window_metrics("m", &v1()).unwrap().sample_count,
        1
    );
}

#[tokio::test]
async fn a_late_batch_counts_in_the_lifetime_and_its_recent_part_in_the_window() {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 59).unwrap() + Duration::milliseconds(999);
    let evaluator = Evaluator::new(EvaluationConfig::default(), Arc::new(ManualClock::new(now)));
    evaluator.track(&record_of("m"));
    let store = MemoryStore::new();
    let m = ModelId::new("m").unwrap();
    store
        .commit(Commit::for_model(m.clone(), 0).put(record_of("m")))
        .await
        .unwrap();
    // One result a minute for the last hour, oldest last.
    let batch: Vec<_> = (0..60)
        .map(|minutes_ago| {
            let at = now - Duration::minutes(minutes_ago);
            (m.clone(), v1(), InferenceResult::success(200.0).at(at))
        })
        .collect();
    evaluator
        .record_batch(&store, &batch, "late")
        .await
        .unwrap();
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        60
    );
    assert_eq!(
        evaluator.window_metrics("m", &v1()).unwrap().sample_count,
        10
    );
}

/// The window ends at the version's newest result, not at the clock: a
/// batch recorded from yesterday's logs is judged on its own last ten
/// minutes, and stays so as time passes, until newer results move it on.
#[test]
fn the_window_ends_at_the_newest_result_not_at_the_clock() {
    let now = Utc.with_ymd_and_hms(2026, 7, 2, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
    evaluator.track(&record_of("m"));
    let yesterday = now - Duration::days(1);
    // One result every 10 s over 20 minutes of yesterday, oldest first.
    for i in 0..120 {
        let at = yesterday + Duration::seconds(10 * i);
        evaluator
            .record("m", &v1(), &InferenceResult::success(100.0).at(at))
            .unwrap();
    }
    let window = || evaluator.window_metrics("m", &v1()).unwrap().sample_count;
    // The last ten minutes of those results: 60 of them (or 61, with the
    // sub-window holding the boundary).
    let judged = window();
    assert!((60..=66).contains(&judged), "{judged}");
    clock.set(now + Duration::days(7));
    assert_eq!(window(), judged, "a week later, the same window");
    assert_eq!(evaluator.evaluate("m", &v1()).unwrap().samples, judged);

    evaluator
        .record("m", &v1(), &InferenceResult::success(100.0))
        .unwrap();
    assert_eq!(window(), 1, "a result now moves the window to now");
    assert_eq!(
        evaluator.lifetime_metrics("m", &v1()).unwrap().sample_count,
        121
    );
}
