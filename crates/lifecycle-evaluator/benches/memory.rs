//! Measures the heap a tracked version holds after 1,000 and after
//! 100,000,000 recorded samples (target: under 256 KiB, not growing with the
//! number of samples), with a counting allocator. Latencies are lognormal
//! (median ~800 ms, long tail) and the clock moves a minute per million
//! samples, so every sub-window of the ring fills and folds into the lifetime.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::alloc::System;
use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{
    dec, Decimal, ErrorKind, EvaluationConfig, InferenceResult, ModelCapabilities, ModelCostInfo,
    ModelId, ModelVersion, Version,
};
use lifecycle_evaluator::Evaluator;
use lifecycle_store::ManualClock;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated on the heap (stats_alloc counts a realloc's
/// growth or shrink in `bytes_allocated` / `bytes_deallocated` already).
fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// Samples per simulated minute of clock time.
const ROTATE_EVERY: u64 = 1_000_000;

fn main() {
    let total: u64 = std::env::var("LIFECYCLE_MEMORY_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000_000);
    let start = DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH) + Duration::days(20_000);
    let clock = Arc::new(ManualClock::new(start));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
    let version = Version::new(1, 0, 0);
    let baseline = live();
    evaluator.track(&ModelVersion::new(
        ModelId::new("gpt-4-turbo").unwrap(),
        version.clone(),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        start,
    ));
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut report_at = 1_000;
    for i in 1..=total {
        let (u, v) = (uniform(), uniform());
        let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        let result = if i % 100 == 0 {
            InferenceResult::failure(ErrorKind::Timeout, 30_000.0)
        } else {
            InferenceResult::success((6.7 + 0.9 * normal).exp()).with_confidence(u)
        };
        evaluator.record("gpt-4-turbo", &version, &result).unwrap();
        if i % ROTATE_EVERY == 0 {
            clock.advance(Duration::minutes(1));
        }
        if i == report_at || i == total {
            let bytes = live() - baseline;
            println!(
                "memory per tracked version after {i:>11} samples: {:>7} bytes ({:.1} KiB)",
                bytes,
                bytes as f64 / 1024.0
            );
            report_at *= 10;
        }
    }
    let metrics = evaluator.lifetime_metrics("gpt-4-turbo", &version).unwrap();
    assert_eq!(metrics.sample_count, total);
}
