//! `import litellm`: models from LiteLLM's public price and context map
//! (`model_prices_and_context_window.json`).
//!
//! Each entry becomes one inactive version: `litellm_provider` is the
//! provider; `max_input_tokens` (else `max_tokens`) the context and
//! `max_output_tokens` (else `max_tokens`) the output limit; per-token prices
//! times 1,000 the per-1k prices (USD); `supports_function_calling`,
//! `supports_vision`, `supports_response_schema` (JSON mode) and
//! `supports_native_streaming` the capabilities, other `supports_*` flags
//! their names in `capabilities.other`; `deprecation_date` an announced end
//! of life. The `sample_spec` entry documents the format and is skipped.

use std::collections::BTreeMap;
use std::path::Path;

use lifecycle::chrono::{DateTime, NaiveDate, Utc};
use lifecycle::{
    LifecycleError, ModelCapabilities, ModelCostInfo, ModelDeprecationInfo, ModelId,
    ModelLifecycleManager, ModelVersion, Version,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::models::read_input;
use super::version;
use crate::args::ImportCommand;
use crate::failure::{Failure, Outcome};
use crate::output::Output;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    registered: Vec<String>,
    skipped: Vec<Skipped>,
    /// Entries the --provider / --mode filters left out.
    filtered_out: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skipped {
    name: String,
    reason: String,
}

/// The filters of one import.
struct Filter<'a> {
    provider: Option<&'a str>,
    mode: Option<&'a str>,
}

pub async fn import(m: &ModelLifecycleManager, command: &ImportCommand, out: &Output) -> Outcome {
    let ImportCommand::Litellm {
        file,
        provider,
        mode,
        version: number,
    } = command;
    let number = version(number)?;
    let entries = parse(&read_input(file)?, file)?;
    let filter = Filter {
        provider: provider.as_deref(),
        mode: mode.as_deref(),
    };
    let mut report = Imported {
        registered: Vec::new(),
        skipped: Vec::new(),
        filtered_out: 0,
    };
    for (name, entry) in &entries {
        let skip = |reason: String| Skipped {
            name: name.clone(),
            reason,
        };
        let Some(entry) = entry.as_object() else {
            report.skipped.push(skip("not an object".into()));
            continue;
        };
        match selected(name, entry, &filter) {
            Err(reason) => report.skipped.push(skip(reason)),
            Ok(false) => report.filtered_out += 1,
            Ok(true) => match to_version(name, entry, &number, m.now()) {
                Err(reason) => report.skipped.push(skip(reason)),
                Ok(record) => match m.register_model(record).await {
                    Ok(_) => report.registered.push(name.clone()),
                    Err(LifecycleError::Registry(e)) => report.skipped.push(skip(e.to_string())),
                    Err(e) => return Err(e.into()),
                },
            },
        }
    }
    out.emit(&report, |out| {
        out.print(&format!(
            "Registered {} models at version {number}; skipped {}; {} left out by the filters.",
            report.registered.len(),
            report.skipped.len(),
            report.filtered_out
        ));
        for s in &report.skipped {
            out.print(&format!("  skipped {}: {}", s.name, s.reason));
        }
    })
}

/// The file's entries by model name; a malformed file names line and column.
fn parse(text: &str, path: &Path) -> Outcome<BTreeMap<String, Value>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Failure::error(format!(
            "{}: not JSON at line {}, column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(map) = value else {
        return Err(Failure::error(format!(
            "{}: expected an object of model entries, as in LiteLLM's model_prices_and_context_window.json",
            path.display()
        )));
    };
    Ok(map
        .into_iter()
        .filter(|(name, _)| name != "sample_spec")
        .collect())
}

/// Whether the filters keep the entry; an entry without the field filtered on is skipped with a reason.
fn selected(name: &str, entry: &Map<String, Value>, filter: &Filter) -> Result<bool, String> {
    let field = |key: &str| entry.get(key).and_then(Value::as_str);
    for (key, wanted) in [("litellm_provider", filter.provider), ("mode", filter.mode)] {
        if let Some(wanted) = wanted {
            match field(key) {
                Some(found) if found == wanted => {}
                Some(_) => return Ok(false),
                None => return Err(format!("{name} has no {key} to filter on")),
            }
        }
    }
    Ok(true)
}

fn to_version(
    name: &str,
    entry: &Map<String, Value>,
    number: &Version,
    now: DateTime<Utc>,
) -> Result<ModelVersion, String> {
    let model_id = ModelId::new(name).map_err(|e| e.to_string())?;
    let provider = entry
        .get("litellm_provider")
        .and_then(Value::as_str)
        .ok_or("no litellm_provider")?;
    let tokens = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let context = tokens("max_input_tokens")
        .or(tokens("max_tokens"))
        .ok_or("no max_input_tokens or max_tokens")?;
    let output = tokens("max_output_tokens")
        .or(tokens("max_tokens"))
        .ok_or("no max_output_tokens or max_tokens")?;
    let price = |key: &str| entry.get(key).and_then(Value::as_f64).unwrap_or(0.0) * 1_000.0;
    let mut capabilities = ModelCapabilities::new(context, output);
    for (key, value) in entry {
        let Some(flag) = key.strip_prefix("supports_") else {
            continue;
        };
        if value.as_bool() != Some(true) {
            continue;
        }
        match flag {
            "function_calling" => capabilities.function_calling = true,
            "vision" => capabilities.vision = true,
            "response_schema" => capabilities.json_mode = true,
            "native_streaming" => capabilities.streaming = true,
            other => {
                capabilities.other.insert(other.to_string());
            }
        }
    }
    let prices = ModelCostInfo::usd(
        price("input_cost_per_token"),
        price("output_cost_per_token"),
    );
    let mut record = ModelVersion::new(
        model_id,
        number.clone(),
        provider,
        capabilities,
        prices,
        now,
    );
    if let Some(mode) = entry.get("mode").and_then(Value::as_str) {
        record.tags.insert(format!("mode:{mode}"));
    }
    if let Some(date) = entry.get("deprecation_date").and_then(Value::as_str) {
        record
            .announce_end_of_life(announced(date, now)?)
            .map_err(|e| e.to_string())?;
    }
    record.validate().map_err(|e| e.to_string())?;
    Ok(record)
}

/// The provider's end-of-life date as deprecation info: announced now (or
/// on the date itself when it has passed), ending on that date.
fn announced(date: &str, now: DateTime<Utc>) -> Result<ModelDeprecationInfo, String> {
    let end_of_life = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| format!("deprecation_date {date:?} is not a date such as 2025-06-30"))?;
    let days = (end_of_life - now).num_days().max(0);
    let grace =
        u32::try_from(days).map_err(|_| format!("deprecation_date {date} is too far away"))?;
    ModelDeprecationInfo::new(
        "end of life announced by the provider",
        None,
        grace,
        end_of_life - lifecycle::chrono::Duration::days(i64::from(grace)),
    )
    .map_err(|e| e.to_string())
}
