//! Helpers shared by the evaluator's tests.

use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, TimeZone, Utc};
use lifecycle_domain::{
    dec, Decimal, EvaluationConfig, InferenceResult, ModelCapabilities, ModelCostInfo, ModelId,
    ModelVersion, Version,
};
use lifecycle_evaluator::Evaluator;
use lifecycle_store::ManualClock;

/// The version every helper and most tests use.
pub fn v1() -> Version {
    Version::new(1, 0, 0)
}

/// Records `result` `n` times for 1.0.0 of `model`.
pub fn record(evaluator: &Evaluator, model: &str, n: usize, result: InferenceResult) {
    for _ in 0..n {
        evaluator.record(model, &v1(), &result).unwrap();
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap()
}

pub fn record_of(model: &str) -> ModelVersion {
    ModelVersion::new(
        ModelId::new(model).unwrap(),
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        t0(),
    )
}

/// An evaluator with the default thresholds on a manual clock, tracking 1.0.0 of `models`.
pub fn evaluator(models: &[&str]) -> (Evaluator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock.clone());
    for model in models {
        evaluator.track(&record_of(model));
    }
    (evaluator, clock)
}

/// A small deterministic random stream (xorshift64*), uniform in (0, 1).
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal sample (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.next(), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}
