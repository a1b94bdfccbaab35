//! Benchmarks of `Evaluator::record`, the per-request hot path (target:
//! at most 100 ns per call; two threads on two models at least 1.7x one
//! thread; two threads on one version no worse than one thread).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, Decimal, ErrorKind, EvaluationConfig, InferenceResult, ModelCapabilities, ModelCostInfo,
    ModelId, ModelVersion, Version,
};
use lifecycle_evaluator::Evaluator;
use lifecycle_store::SystemClock;

fn evaluator(models: &[&str]) -> Evaluator {
    let evaluator = Evaluator::new(EvaluationConfig::default(), Arc::new(SystemClock));
    for model in models {
        evaluator.track(&ModelVersion::new(
            ModelId::new(*model).unwrap(),
            Version::new(1, 0, 0),
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH),
        ));
    }
    evaluator
}

/// Results with varied latencies and an occasional failure.
fn results() -> Vec<InferenceResult> {
    (0..1024)
        .map(|i| match i % 50 {
            0 => InferenceResult::failure(ErrorKind::RateLimited, 0.0),
            _ => InferenceResult::success(200.0 + (i * 37 % 3000) as f64)
                .with_confidence(0.9)
                .with_tokens(1_000, 200),
        })
        .collect()
}

/// `iters` records split over `threads` threads, on `models[thread % len]`.
fn run(evaluator: &Evaluator, models: &[&str], threads: usize, iters: u64) -> Duration {
    let results = results();
    let version = Version::new(1, 0, 0);
    let per_thread = iters.div_ceil(threads as u64);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (evaluator, results, version) = (evaluator, &results, &version);
            let model = models[t % models.len()];
            s.spawn(move || {
                for i in 0..per_thread {
                    let result = &results[(i & 1023) as usize];
                    evaluator.record(model, version, result).unwrap();
                }
            });
        }
    });
    // Time per record across all threads: throughput, not latency.
    started
        .elapsed()
        .mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_inference");
    group.throughput(Throughput::Elements(1));
    let cases: [(&str, &[&str], usize); 3] = [
        ("1 thread", &["gpt-4-turbo"], 1),
        ("2 threads, 2 models", &["gpt-4-turbo", "claude-3"], 2),
        ("2 threads, same version", &["gpt-4-turbo"], 2),
    ];
    for (name, models, threads) in cases {
        let evaluator = evaluator(models);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| run(&evaluator, models, threads, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
