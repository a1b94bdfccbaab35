//! LiteLLM price maps (`lifecycle import litellm`): every version produced validates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle::chrono::DateTime;
use lifecycle::litellm::{read_litellm, LiteLlmEntry, LiteLlmFilter};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let version = lifecycle::Version::new(1, 0, 0);
    if let Ok(entries) = read_litellm(
        &text,
        LiteLlmFilter::default(),
        &version,
        DateTime::UNIX_EPOCH,
    ) {
        for entry in entries {
            if let LiteLlmEntry::Version(v) = entry {
                assert!(v.validate().is_ok());
            }
        }
    }
});
