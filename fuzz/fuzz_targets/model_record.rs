//! Model records built from structured input (dates anywhere in chrono's
//! range, deprecations with any grace, prices of any size and precision,
//! any token limits): a record is refused by `validate` with a typed error,
//! or it registers, takes results, checkpoints, backs up and restores —
//! and the store stays readable. Never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use lifecycle::chrono::{DateTime, Duration, Utc};
use lifecycle::domain::parse_decimal;
use lifecycle::*;

#[derive(Arbitrary, Debug)]
struct Input {
    created_secs: i64,
    deprecated: Option<(i64, u32, bool)>,
    input_price: Price,
    output_price: Price,
    context_tokens: u32,
    output_tokens: u32,
    results: Vec<(bool, f64, u32, u32, Option<f64>)>,
}

#[derive(Arbitrary, Debug)]
enum Price {
    Unknown,
    Float(f64),
    Scaled(i64, u8),
}

fn price(p: &Price) -> Option<Option<Decimal>> {
    match *p {
        Price::Unknown => Some(None),
        Price::Float(f) => parse_decimal(&f.to_string()).ok().map(Some),
        Price::Scaled(n, scale) => Decimal::try_new(n, u32::from(scale % 29)).ok().map(Some),
    }
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fuzz_target!(|input: Input| {
    let (Some(input_price), Some(output_price)) =
        (price(&input.input_price), price(&input.output_price))
    else {
        return;
    };
    let prices = match (input_price, output_price) {
        (Some(i), Some(o)) => Some(ModelCostInfo::usd(i, o)),
        _ => None,
    };
    let created = time(input.created_secs);
    let mut record = ModelVersion::new(
        ModelId::new("m").unwrap_or_else(|_| unreachable!()),
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(input.context_tokens, input.output_tokens),
        prices,
        created,
    );
    if let Some((at, grace, consistent)) = input.deprecated {
        let at = time(at);
        // A JSON record can say anything; build it through JSON like a file would.
        let eol = if consistent {
            at.checked_add_signed(Duration::days(i64::from(grace)))
                .unwrap_or(at)
        } else {
            at
        };
        let json = serde_json::json!({"deprecatedAt": at, "reason": "old", "replacementVersion": null,
            "gracePeriodDays": grace, "endOfLife": eol});
        match serde_json::from_value::<ModelDeprecationInfo>(json) {
            Ok(info) => {
                if record.announce_end_of_life(info).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    // Through JSON too: what a file gives is what is checked.
    let Ok(text) = serde_json::to_string(&record) else {
        return;
    };
    let Ok(record) = serde_json::from_str::<ModelVersion>(&text) else {
        return;
    };
    if record.validate().is_err() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let clock = Arc::new(ManualClock::new(time(1_767_225_600)));
        let Ok(manager) = ModelLifecycleManager::builder()
            .memory()
            .clock(clock)
            .alert_check_interval(None)
            .build()
            .await
        else {
            return;
        };
        let Ok(stored) = manager.register_model(record).await else {
            return;
        };
        for &(success, latency, tokens_in, tokens_out, confidence) in input.results.iter().take(64)
        {
            let mut result = if success {
                InferenceResult::success(latency)
            } else {
                InferenceResult::failure(ErrorKind::ServerError, latency)
            }
            .with_tokens(tokens_in, tokens_out);
            result.confidence = confidence;
            let _ = manager.record_inference(stored.model_id.as_str(), &stored.version, &result);
        }
        let _ = manager.evaluate_model(stored.model_id.as_str(), &stored.version);
        let mut backup = Vec::new();
        assert!(
            manager.create_backup(&mut backup).await.is_ok(),
            "an accepted record backs up"
        );
        let restored = ModelLifecycleManager::builder()
            .memory()
            .alert_check_interval(None)
            .build()
            .await;
        if let Ok(restored) = restored {
            let outcome = restored.restore_backup(backup.as_slice()).await;
            assert!(outcome.is_ok(), "an accepted record restores: {outcome:?}");
            assert!(restored.get_model_versions(&stored.model_id).await.is_ok());
        }
        let _ = manager.dispose().await;
    });
});
