//! Every parser of untrusted input fed random and mutated input on stable
//! Rust (the `fuzz/` targets do the same, coverage-guided, on nightly): model
//! JSON, NDJSON inference records, configs, backups, LiteLLM maps and store
//! files. Each must answer with a value that validates or a typed error —
//! never a panic — and a refused backup must leave the store empty.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle::chrono::DateTime;
use lifecycle::evaluator::Evaluator;
use lifecycle::litellm::{read_litellm, LiteLlmEntry, LiteLlmFilter};
use lifecycle::store::MemoryStore;
use lifecycle::store::StoreImage;
use lifecycle::store_sled::SledStore;
use lifecycle::*;
use lifecycle_tests::runtime;
use proptest::prelude::*;

const MODEL_JSON: &str = r#"{"modelId": "gpt-4o", "version": "1.2.0-rc.1", "provider": "openai",
 "capabilities": {"maxContextTokens": 128000, "maxOutputTokens": 16384, "vision": true},
 "costInfo": {"inputPer1k": 0.0025, "outputPer1k": 0.01, "currency": "USD"},
 "tags": ["chat"], "status": "canary", "canaryWeight": 5}"#;

const RESULT_LINE: &str = r#"{"success":false,"latencyMs":30000,"confidence":0.5,"inputTokens":900,"outputTokens":0,"errorKind":"timeout"}"#;

const CONFIG: &str = r#"{"minSamples": 20, "maxErrorRate": 0.1, "latencyStatistic": "p99"}"#;

const LITELLM: &str = r#"{"sample_spec": {"max_tokens": "LEGACY"},
 "gpt-4o": {"max_input_tokens": 128000, "max_output_tokens": 16384, "input_cost_per_token": 2.5e-06,
   "output_cost_per_token": 1e-05, "litellm_provider": "openai", "mode": "chat",
   "supports_vision": true, "deprecation_date": "2026-12-31"}}"#;

/// `seed` with some bytes replaced and its tail cut: mostly-valid input
/// that reaches deep into a parser.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(move |(edits, cut, truncate)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

/// Random bytes, or the seed mutated.
fn input(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        4 => mutated(seed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn model_json_parses_to_a_valid_record_or_a_typed_error(bytes in input(MODEL_JSON)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(version) = serde_json::from_str::<ModelVersion>(&text) {
            // Parsed records may still break a rule; validate says which.
            if let Err(e) = version.validate() {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn result_lines_record_when_valid_and_are_refused_otherwise(bytes in input(RESULT_LINE)) {
        let text = String::from_utf8_lossy(&bytes);
        let Ok(result) = serde_json::from_str::<InferenceResult>(&text) else {
            return Ok(());
        };
        let clock = Arc::new(ManualClock::new(DateTime::UNIX_EPOCH));
        let evaluator = Evaluator::new(EvaluationConfig::default(), clock);
        let version = ModelVersion::new(ModelId::new("m").unwrap(), Version::new(1, 0, 0), "openai",
            ModelCapabilities::new(8_000, 1_000), ModelCostInfo::usd(dec!(0.01), dec!(0.03)), DateTime::UNIX_EPOCH);
        evaluator.track(&version);
        let recorded = evaluator.record("m", &Version::new(1, 0, 0), &result);
        prop_assert_eq!(recorded.is_ok(), result.validate().is_ok());
        let samples = evaluator.lifetime_metrics("m", &Version::new(1, 0, 0)).unwrap().sample_count;
        prop_assert_eq!(samples, u64::from(recorded.is_ok()));
    }

    #[test]
    fn configs_parse_validated_or_refused(bytes in input(CONFIG)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(config) = serde_json::from_str::<EvaluationConfig>(&text) {
            prop_assert!(config.settings().max_error_rate <= 1.0);
            prop_assert!(config.settings().min_samples > 0);
        }
    }

    #[test]
    fn litellm_maps_give_valid_versions_or_reasons(bytes in input(LITELLM)) {
        let text = String::from_utf8_lossy(&bytes);
        let now = DateTime::UNIX_EPOCH;
        if let Ok(entries) = read_litellm(&text, LiteLlmFilter::default(), &Version::new(1, 0, 0), now) {
            for entry in entries {
                if let LiteLlmEntry::Version(v) = entry {
                    prop_assert!(v.validate().is_ok(), "{:?}", v);
                }
            }
        }
    }
}

/// A backup of a small store with some history.
fn good_backup() -> Vec<u8> {
    runtime().block_on(async {
        let m = ModelLifecycleManager::builder()
            .memory()
            .build()
            .await
            .unwrap();
        let id = ModelId::new("gpt-4-turbo").unwrap();
        for major in 1..=2 {
            let v = ModelVersion::new(
                id.clone(),
                Version::new(major, 0, 0),
                "openai",
                ModelCapabilities::new(8_000, 1_000),
                ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                m.now(),
            );
            m.register_model(v).await.unwrap();
        }
        m.activate_model(&id, &Version::new(1, 0, 0)).await.unwrap();
        for _ in 0..20 {
            m.record_inference(
                "gpt-4-turbo",
                &Version::new(1, 0, 0),
                &InferenceResult::success(100.0),
            )
            .unwrap();
        }
        m.force_activate_model(
            &id,
            &Version::new(2, 0, 0),
            "a backup with an override in it",
        )
        .await
        .unwrap();
        let mut backup = Vec::new();
        m.create_backup(&mut backup).await.unwrap();
        backup
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn damaged_backups_restore_whole_or_change_nothing(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut backup = good_backup();
        for (at, byte) in edits {
            let i = at.index(backup.len());
            backup[i] = byte;
        }
        if truncate {
            backup.truncate(cut.index(backup.len()));
        }
        runtime().block_on(async {
            let store = Arc::new(MemoryStore::new());
            let m = ModelLifecycleManager::builder().store(store.clone()).build().await.unwrap();
            match m.restore_backup(&backup[..]).await {
                Ok(_) => prop_assert!(m.audit_log().verify().await.unwrap().is_intact()),
                Err(_) => prop_assert_eq!(StoreImage::read(&*store).await.unwrap(), StoreImage::default()),
            }
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random bytes in place of a store's files: opening answers with a
    /// typed error (or a usable store), never a panic or a hang.
    #[test]
    fn damaged_store_files_are_typed_errors(
        db in proptest::collection::vec(any::<u8>(), 0..4_096),
        conf in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("db"), &db).unwrap();
        std::fs::write(dir.join("conf"), &conf).unwrap();
        let opened = SledStore::open(&dir);
        if let Err(e) = &opened {
            prop_assert!(!e.to_string().is_empty());
        }
        drop(opened);
    }
}
