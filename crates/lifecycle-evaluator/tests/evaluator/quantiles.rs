//! Latency quantiles: exact (R-7, numpy's default) while a span keeps every
//! latency, so the real LLMPerf runs (tests/fixtures/llmperf) give numpy's
//! figures to 1e-9; beyond, the sketch's, within 1 % of the exact order
//! statistics, on a million samples of three distributions.
use crate::common::{evaluator, Random};
use lifecycle_domain::{ErrorKind, InferenceResult, QuantileMethod, Version};

/// The order statistic of rank q·(n−1), rounded down, of sorted `values`.
fn exact(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

fn within_one_percent(estimate: f64, exact: f64, what: &str) {
    assert!(
        (estimate - exact).abs() <= 0.01 * exact + 1e-9,
        "{what}: estimate {estimate}, exact {exact}"
    );
}

/// Records `values` as successful latencies and checks p50/p95/p99.
fn check_distribution(name: &str, mut values: Vec<f64>) {
    let (evaluator, _) = evaluator(&[name]);
    let v = Version::new(1, 0, 0);
    for &latency in &values {
        evaluator
            .record(name, &v, &InferenceResult::success(latency))
            .unwrap();
    }
    let metrics = evaluator.lifetime_metrics(name, &v).unwrap();
    assert_eq!(metrics.sample_count, values.len() as u64);
    assert_eq!(metrics.latency_quantiles, QuantileMethod::Sketch, "{name}");
    values.sort_by(f64::total_cmp);
    within_one_percent(
        metrics.p50_latency_ms.unwrap(),
        exact(&values, 0.50),
        &format!("{name} p50"),
    );
    within_one_percent(
        metrics.p95_latency_ms.unwrap(),
        exact(&values, 0.95),
        &format!("{name} p95"),
    );
    within_one_percent(
        metrics.p99_latency_ms.unwrap(),
        exact(&values, 0.99),
        &format!("{name} p99"),
    );
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(
        (metrics.mean_latency_ms.unwrap() - mean).abs() <= 1e-6 * mean,
        "{name} mean"
    );
}

const N: usize = 1_000_000;

#[test]
fn uniform_latencies() {
    let mut r = Random(1);
    check_distribution(
        "uniform",
        (0..N).map(|_| 10.0 + 4_990.0 * r.next()).collect(),
    );
}

#[test]
fn lognormal_latencies() {
    let mut r = Random(2);
    // Median ~ 800 ms, long right tail.
    check_distribution(
        "lognormal",
        (0..N).map(|_| (6.7 + 0.9 * r.normal()).exp()).collect(),
    );
}

#[test]
fn bimodal_latencies() {
    let mut r = Random(3);
    // Cache hits around 40 ms, misses around 2.5 s.
    let values = (0..N)
        .map(|_| {
            if r.next() < 0.7 {
                (40.0 + 8.0 * r.normal()).max(1.0)
            } else {
                (2_500.0 + 400.0 * r.normal()).max(1.0)
            }
        })
        .collect();
    check_distribution("bimodal", values);
}

/// One LLMPerf request: run, success, error code, end-to-end latency (s), tokens.
struct Request {
    run: String,
    success: bool,
    error_code: Option<i64>,
    latency_s: f64,
    input_tokens: u32,
    output_tokens: u32,
}

/// Reads the CSV: 7 fields before the free-text error message, 7 after it
/// (the message may hold quoted commas).
fn llmperf() -> Vec<Request> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/llmperf/requests_flat.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let tail = &fields[fields.len() - 7..];
            Request {
                run: fields[0].to_string(),
                success: fields[5] == "true",
                error_code: fields[6].parse().ok(),
                latency_s: tail[1].parse().unwrap(),
                input_tokens: tail[4].parse().unwrap(),
                output_tokens: tail[5].parse().unwrap(),
            }
        })
        .collect()
}

/// numpy's p50/p95/p99 per run and its count of successful requests,
/// written by `numpy_quantiles.py` beside the fixture.
fn numpy_quantiles() -> std::collections::HashMap<String, (u64, [f64; 3])> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/llmperf/numpy_quantiles.csv"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let q = |i: usize| f[i].parse::<f64>().unwrap();
            (
                f[0].to_string(),
                (f[1].parse().unwrap(), [q(2), q(3), q(4)]),
            )
        })
        .collect()
}

#[test]
fn real_llmperf_runs_error_rates_and_quantiles_as_numpy_computes_them() {
    let requests = llmperf();
    let expected = numpy_quantiles();
    assert_eq!(expected.len(), 19);
    assert_eq!(requests.len(), 2_845);
    assert_eq!(requests.iter().filter(|r| !r.success).count(), 539);
    let mut runs: Vec<String> = requests.iter().map(|r| r.run.clone()).collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 19);
    let names: Vec<&str> = runs.iter().map(String::as_str).collect();
    let (evaluator, _) = evaluator(&names);
    let v = Version::new(1, 0, 0);
    for r in &requests {
        let latency = r.latency_s * 1_000.0;
        let result = if r.success {
            InferenceResult::success(latency)
        } else {
            let code = r
                .error_code
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(0);
            InferenceResult::failure(ErrorKind::from_http_status(code), latency)
        }
        .with_tokens(r.input_tokens, r.output_tokens);
        evaluator.record(&r.run, &v, &result).unwrap();
    }
    for run in &runs {
        let of_run: Vec<&Request> = requests.iter().filter(|r| &r.run == run).collect();
        let failures = of_run.iter().filter(|r| !r.success).count() as u64;
        let metrics = evaluator.lifetime_metrics(run, &v).unwrap();
        assert_eq!(metrics.sample_count, of_run.len() as u64, "{run}");
        assert_eq!(metrics.failure_count, failures, "{run}");
        assert_eq!(
            metrics.error_rate(),
            failures as f64 / of_run.len() as f64,
            "{run}"
        );
        if of_run.iter().all(|r| !r.success) {
            assert_eq!(metrics.p95_latency_ms, None, "{run}: no successful request");
            continue;
        }
        let numpy = &expected[run.as_str()];
        assert_eq!(metrics.success_count, numpy.0, "{run}");
        assert_eq!(metrics.latency_quantiles, QuantileMethod::Exact, "{run}");
        for (q, ours, theirs) in [
            ("p50", metrics.p50_latency_ms.unwrap(), numpy.1[0]),
            ("p95", metrics.p95_latency_ms.unwrap(), numpy.1[1]),
            ("p99", metrics.p99_latency_ms.unwrap(), numpy.1[2]),
        ] {
            assert!(
                (ours - theirs).abs() <= 1e-9 * theirs,
                "{run} {q}: ours {ours}, numpy {theirs}"
            );
        }
    }
    let rate_limited = requests
        .iter()
        .filter(|r| r.error_code == Some(429))
        .count() as u64;
    let by_kind: u64 = runs
        .iter()
        .map(|run| {
            let summary = evaluator.failures(run, &v).unwrap();
            summary
                .by_kind
                .get(&ErrorKind::RateLimited)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(by_kind, rate_limited);
}

#[test]
fn quantiles_are_exact_up_to_4096_successes_and_from_the_sketch_beyond() {
    let (evaluator, _) = evaluator(&["m"]);
    let v = Version::new(1, 0, 0);
    // 1..=4096 ms, then failures (which keep no latency): still exact.
    for ms in 1..=4_096 {
        evaluator
            .record("m", &v, &InferenceResult::success(f64::from(ms)))
            .unwrap();
    }
    for _ in 0..10 {
        let failure = InferenceResult::failure(ErrorKind::Timeout, 30_000.0);
        evaluator.record("m", &v, &failure).unwrap();
    }
    let exact = evaluator.lifetime_metrics("m", &v).unwrap();
    assert_eq!(exact.latency_quantiles, QuantileMethod::Exact);
    // R-7 on 1..=4096: 1 + 4095·q.
    assert_eq!(exact.p50_latency_ms, Some(2_048.5));
    assert_eq!(exact.p99_latency_ms, Some(1.0 + 4_095.0 * 0.99));
    let window = evaluator.window_metrics("m", &v).unwrap();
    assert_eq!(window.latency_quantiles, QuantileMethod::Exact);
    assert_eq!(window.p95_latency_ms, exact.p95_latency_ms);

    evaluator
        .record("m", &v, &InferenceResult::success(5_000.0))
        .unwrap();
    let sketched = evaluator.lifetime_metrics("m", &v).unwrap();
    assert_eq!(sketched.latency_quantiles, QuantileMethod::Sketch);
    let p50 = sketched.p50_latency_ms.unwrap();
    assert!((p50 - 2_049.0).abs() <= 0.01 * 2_049.0, "{p50}");
}
