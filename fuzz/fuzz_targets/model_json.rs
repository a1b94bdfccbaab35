//! Model version JSON (`lifecycle register --file`): parses and validates or errs, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(version) = serde_json::from_slice::<lifecycle::ModelVersion>(data) {
        let _ = version.validate();
    }
});
