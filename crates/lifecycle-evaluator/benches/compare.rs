//! `compare` of two versions whose windows are full: ten minutes of traffic
//! recorded by 4 threads on each, so every sub-window's request sample of
//! every shard is full (the largest pooled sample the judge sees). Prints the
//! bytes one comparison allocates in all (an upper bound of its peak).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::alloc::System;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{
    dec, Decimal, EvaluationConfig, InferenceResult, ModelCapabilities, ModelCostInfo, ModelId,
    ModelVersion, Version,
};
use lifecycle_evaluator::{ComparisonConfig, Evaluator};
use lifecycle_store::ManualClock;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn full_window() -> Evaluator {
    let start = DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH) + Duration::days(20_000);
    let clock = Arc::new(ManualClock::new(start));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
    for major in [1, 2] {
        evaluator.track(&ModelVersion::new(
            ModelId::new("gpt-4-turbo").unwrap(),
            Version::new(major, 0, 0),
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            start,
        ));
    }
    // Ten sub-windows of a minute, 2,000 results per version and thread in each.
    for _minute in 0..10 {
        std::thread::scope(|s| {
            for thread in 0..4_u64 {
                let evaluator = &evaluator;
                s.spawn(move || {
                    let mut state = 0x9e37_79b9_7f4a_7c15 ^ thread;
                    for i in 0..2_000_u64 {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let latency = 300.0 + (state % 400) as f64;
                        for major in [1, 2] {
                            let result = if i % 50 == 0 {
                                InferenceResult::failure(
                                    lifecycle_domain::ErrorKind::ServerError,
                                    0.0,
                                )
                            } else {
                                InferenceResult::success(latency + major as f64 * 5.0)
                            };
                            evaluator
                                .record("gpt-4-turbo", &Version::new(major, 0, 0), &result)
                                .unwrap();
                        }
                    }
                });
            }
        });
        clock.advance(Duration::minutes(1));
    }
    clock.advance(-Duration::seconds(1));
    evaluator
}

fn compare(c: &mut Criterion) {
    let evaluator = full_window();
    let (baseline, candidate) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    let region = Region::new(GLOBAL);
    let config = ComparisonConfig::default();
    let report = evaluator
        .compare("gpt-4-turbo", &baseline, &candidate, &config)
        .unwrap();
    let allocated = region.change().bytes_allocated;
    assert!(report.score >= 0.0);
    println!(
        "compare of two full windows (4 threads each): {allocated} bytes allocated in all ({:.1} MiB)",
        allocated as f64 / (1024.0 * 1024.0)
    );
    c.bench_function("compare (two full windows, 4 threads each)", |b| {
        b.iter(|| {
            evaluator
                .compare("gpt-4-turbo", &baseline, &candidate, &config)
                .unwrap()
        })
    });
}

criterion_group!(benches, compare);
criterion_main!(benches);
