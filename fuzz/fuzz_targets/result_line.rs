//! One NDJSON inference result (`lifecycle record --file`): a valid one records, others err.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use lifecycle::chrono::DateTime;
use lifecycle::evaluator::Evaluator;
use lifecycle::*;

fuzz_target!(|data: &[u8]| {
    let Ok(result) = serde_json::from_slice::<InferenceResult>(data) else {
        return;
    };
    let evaluator = Evaluator::new(
        EvaluationConfig::default(),
        Arc::new(ManualClock::new(DateTime::UNIX_EPOCH)),
    );
    let Ok(model) = ModelId::new("m") else { return };
    let version = ModelVersion::new(
        model,
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(8_000, 1_000),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        DateTime::UNIX_EPOCH,
    );
    evaluator.track(&version);
    let recorded = evaluator.record("m", &Version::new(1, 0, 0), &result);
    assert_eq!(recorded.is_ok(), result.validate().is_ok());
});
