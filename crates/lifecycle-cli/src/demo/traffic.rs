//! The demo's simulated traffic: how each version behaves, and a seeded
//! source of request outcomes drawn from it.

use lifecycle::{ErrorKind, InferenceResult, Version};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// How a version behaves under the simulated traffic.
#[derive(Clone, Copy)]
struct Behaviour {
    /// Median latency of successful requests, ms (lognormal).
    median_ms: f64,
    /// Spread of log-latency: 0.45 gives p95 ≈ 2.1 × median, as LLM APIs do.
    sigma: f64,
    /// Share of requests that fail.
    error_rate: f64,
}

fn behaviour(version: &Version) -> Behaviour {
    let number = version.as_semver();
    match (number.major, number.minor) {
        (1, _) => Behaviour {
            median_ms: 820.0,
            sigma: 0.45,
            error_rate: 0.008,
        },
        (2, 0) => Behaviour {
            median_ms: 760.0,
            sigma: 0.42,
            error_rate: 0.006,
        },
        // 2.1.0 regresses: slower, and one request in six fails.
        _ => Behaviour {
            median_ms: 1_350.0,
            sigma: 0.55,
            error_rate: 0.17,
        },
    }
}

/// Request outcomes for a seed: ChaCha8, whose stream rand_chacha keeps the
/// same on every platform and release, so a seed tells the same story.
pub struct Traffic(ChaCha8Rng);

impl Traffic {
    pub fn seeded(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// One request to `version`: tokens, then a failure (rate limited,
    /// timed out, or a server error) at the version's error rate, or a
    /// success with a lognormal latency and a confidence near 0.88.
    pub fn outcome(&mut self, version: &Version) -> InferenceResult {
        let b = behaviour(version);
        let rng = &mut self.0;
        let input = rng.random_range(600..1_800);
        let output = rng.random_range(80..380);
        if rng.random_bool(b.error_rate) {
            let kind = match rng.random_range(0..3) {
                0 => ErrorKind::RateLimited,
                1 => ErrorKind::Timeout,
                _ => ErrorKind::ServerError,
            };
            let latency = if kind == ErrorKind::Timeout {
                30_000.0
            } else {
                150.0
            };
            return InferenceResult::failure(kind, latency).with_tokens(input, 0);
        }
        let normal = |rng: &mut ChaCha8Rng| -> f64 { rng.sample(StandardNormal) };
        let latency = b.median_ms * (b.sigma * normal(rng)).exp();
        let confidence = (0.88 + 0.05 * normal(rng)).clamp(0.0, 1.0);
        InferenceResult::success(latency)
            .with_tokens(input, output)
            .with_confidence(confidence)
    }
}
