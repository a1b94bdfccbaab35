//! Latency quantiles are within 1 % of the exact order statistics: on a
//! million samples of three distributions, and per run of the real LLMPerf
//! requests (tests/fixtures/llmperf).
//!
//! Quantile definition reported: the order statistic of rank q·(n−1),
//! rounded down, over successful requests (DDSketch's; within 1 % of it).
//! LLMPerf's summaries interpolate linearly between order statistics, which
//! differs from this by at most the gap between neighbouring samples.
use crate::common::{evaluator, Random};
use lifecycle_domain::{ErrorKind, InferenceResult, Version};

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

#[test]
fn real_llmperf_runs_error_rates_and_quantiles() {
    let requests = llmperf();
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
        let mut latencies: Vec<f64> = of_run
            .iter()
            .filter(|r| r.success)
            .map(|r| r.latency_s * 1_000.0)
            .collect();
        if latencies.is_empty() {
            assert_eq!(metrics.p95_latency_ms, None, "{run}: no successful request");
            continue;
        }
        latencies.sort_by(f64::total_cmp);
        for (q, estimate) in [
            (0.5, metrics.p50_latency_ms.unwrap()),
            (0.95, metrics.p95_latency_ms.unwrap()),
            (0.99, metrics.p99_latency_ms.unwrap()),
        ] {
            within_one_percent(estimate, exact(&latencies, q), &format!("{run} q{q}"));
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
