//! Evaluation and policy settings (`lifecycle --config`): validated on parse or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<lifecycle::EvaluationConfig>(data);
    let _ = serde_json::from_slice::<lifecycle::PolicyConfig>(data);
});
