//! Model versions from LiteLLM's public price and context map
//! (`model_prices_and_context_window.json`), for `lifecycle import litellm`
//! and for applications that seed their registry from it.
//!
//! Each entry becomes one inactive version: `litellm_provider` is the
//! provider; `max_input_tokens` (else `max_tokens`) the context and
//! `max_output_tokens` (else `max_tokens`) the output limit (unknown when
//! neither is given); per-token prices
//! times 1,000 the per-1k prices (USD), exactly as decimals (an entry
//! without both prices is registered with its price unknown, never as
//! free); `supports_function_calling`,
//! `supports_vision`, `supports_response_schema` (JSON mode) and
//! `supports_native_streaming` the capabilities, other `supports_*` flags
//! their names in `capabilities.other`; `mode` a tag `mode:<mode>`;
//! `deprecation_date` an announced end of life, with `successor_model` as
//! the suggested replacement; the key without its `<litellm_provider>/`
//! prefix the provider model name (`anthropic/claude-3-opus` calls
//! `claude-3-opus`; the model id is the whole key). The `sample_spec` entry
//! documents the format and is skipped.

use lifecycle_domain::chrono::{DateTime, Duration, NaiveDate, Utc};
use lifecycle_domain::{
    parse_decimal, Decimal, ModelCapabilities, ModelCostInfo, ModelDeprecationInfo, ModelId,
    ModelVersion, ServingSpec, Version,
};
use serde_json::{Map, Value};

/// Which entries to take: only those of a provider and / or mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiteLlmFilter<'a> {
    /// `litellm_provider` to keep.
    pub provider: Option<&'a str>,
    /// `mode` to keep (`chat`, `embedding`...).
    pub mode: Option<&'a str>,
}

/// What became of one entry of the map.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteLlmEntry {
    /// A version to register.
    Version(Box<ModelVersion>),
    /// Not usable, and why.
    Skipped {
        /// The entry's name.
        name: String,
        /// Why it was skipped.
        reason: String,
    },
    /// Left out by the filter.
    FilteredOut,
}

/// The map is not JSON, or not an object of entries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LiteLlmError(String);

/// Reads a LiteLLM map: one [`LiteLlmEntry`] per entry, in name order, each
/// version numbered `version` and stamped `now`.
///
/// ```
/// use lifecycle::litellm::{read_litellm, LiteLlmEntry, LiteLlmFilter};
/// use lifecycle::{chrono::DateTime, Version};
/// let map = r#"{"gpt-4o": {"max_input_tokens": 128000, "max_output_tokens": 16384,
///     "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
///     "litellm_provider": "openai", "mode": "chat", "supports_vision": true}}"#;
/// let entries = read_litellm(map, LiteLlmFilter::default(), &Version::new(1, 0, 0),
///     DateTime::UNIX_EPOCH)?;
/// let LiteLlmEntry::Version(v) = &entries[0] else { panic!() };
/// assert_eq!(v.cost_info.as_ref().unwrap().input_per_1k.to_string(), "0.0025");
/// assert!(v.capabilities.vision);
/// # Ok::<(), lifecycle::litellm::LiteLlmError>(())
/// ```
pub fn read_litellm(
    text: &str,
    filter: LiteLlmFilter,
    version: &Version,
    now: DateTime<Utc>,
) -> Result<Vec<LiteLlmEntry>, LiteLlmError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        LiteLlmError(format!(
            "not JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(map) = value else {
        return Err(LiteLlmError(
            "expected an object of model entries, as in LiteLLM's model_prices_and_context_window.json".into(),
        ));
    };
    Ok(map
        .iter()
        .filter(|(name, _)| name.as_str() != "sample_spec")
        .map(|(name, entry)| {
            let skipped = |reason: String| LiteLlmEntry::Skipped {
                name: name.clone(),
                reason,
            };
            let Some(entry) = entry.as_object() else {
                return skipped("not an object".into());
            };
            match selected(name, entry, filter) {
                Err(reason) => skipped(reason),
                Ok(false) => LiteLlmEntry::FilteredOut,
                Ok(true) => match to_version(name, entry, version, now) {
                    Ok(v) => LiteLlmEntry::Version(Box::new(v)),
                    Err(reason) => skipped(reason),
                },
            }
        })
        .collect())
}

/// Whether the filter keeps the entry; one without the field filtered on is skipped with a reason.
fn selected(name: &str, entry: &Map<String, Value>, filter: LiteLlmFilter) -> Result<bool, String> {
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
    // Without an output limit the version registers with it unknown.
    let mut capabilities = match tokens("max_output_tokens").or(tokens("max_tokens")) {
        Some(output) => ModelCapabilities::new(context, output),
        None => ModelCapabilities::without_output_limit(context),
    };
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
    let prices = match (
        price_per_1k(entry, "input_cost_per_token")?,
        price_per_1k(entry, "output_cost_per_token")?,
    ) {
        (Some(input), Some(output)) => Some(ModelCostInfo::usd(input, output)),
        _ => None,
    };
    let mut record = ModelVersion::new(
        model_id,
        number.clone(),
        provider,
        capabilities,
        prices,
        now,
    );
    // The name LiteLLM sends the provider: its key without the provider's
    // prefix (`anthropic/claude-3-opus` → `claude-3-opus`); the model id
    // keeps the whole key, the name LiteLLM itself is called with.
    let provider_model = name
        .strip_prefix(provider)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name);
    record.serving = ServingSpec::new(provider_model);
    if let Some(mode) = entry.get("mode").and_then(Value::as_str) {
        record.tags.insert(format!("mode:{mode}"));
    }
    if let Some(date) = entry.get("deprecation_date").and_then(Value::as_str) {
        let mut end = announced(date, now)?;
        // A successor that is not a valid model id is left out, not fatal.
        if let Some(successor) = entry
            .get("successor_model")
            .and_then(Value::as_str)
            .and_then(|name| ModelId::new(name).ok())
        {
            end = end.with_successor(successor);
        }
        record
            .announce_end_of_life(end)
            .map_err(|e| e.to_string())?;
    }
    record.validate().map_err(|e| e.to_string())?;
    Ok(record)
}

/// A per-token price as the exact price of 1,000 tokens, or `None` when the
/// entry has none. JSON numbers arrive as `f64`; the shortest text that reads
/// back as the same `f64` is the decimal the catalogue wrote (for its up to
/// 15 significant digits), and the multiplication is done in decimal.
fn price_per_1k(entry: &Map<String, Value>, key: &str) -> Result<Option<Decimal>, String> {
    let Some(value) = entry.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let per_token = match value {
        Value::Number(n) => n
            .as_f64()
            .map(|f| f.to_string())
            .ok_or_else(|| format!("{key} {n} is not a price"))?,
        Value::String(text) => text.clone(),
        other => return Err(format!("{key} {other} is not a price")),
    };
    let per_token = parse_decimal(&per_token).map_err(|e| format!("{key}: {e}"))?;
    per_token
        .checked_mul(Decimal::ONE_THOUSAND)
        .map(|d| Some(d.normalize()))
        .ok_or_else(|| format!("{key} {per_token} is too large"))
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
        end_of_life - Duration::days(i64::from(grace)),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(entries: &str) -> Vec<LiteLlmEntry> {
        let version = Version::new(1, 0, 0);
        read_litellm(
            entries,
            LiteLlmFilter::default(),
            &version,
            DateTime::UNIX_EPOCH,
        )
        .unwrap_or_default()
    }

    fn prices(entry: &LiteLlmEntry) -> Option<(String, String)> {
        match entry {
            LiteLlmEntry::Version(v) => v
                .cost_info
                .as_ref()
                .map(|p| (p.input_per_1k.to_string(), p.output_per_1k.to_string())),
            _ => None,
        }
    }

    /// Every per-token price the catalogue can write, as JSON numbers in
    /// both notations, becomes exactly the decimal it spells times 1,000:
    /// the expected value is computed from the text itself, never via f64.
    #[test]
    fn per_token_prices_become_the_exact_decimal_per_1k() {
        let mut checked = 0;
        for exponent in 4..=12 {
            for mantissa in (1..=9_999u32).step_by(7) {
                let plain = format!("{mantissa}e-{exponent}");
                let expected = (Decimal::from_scientific(&plain).unwrap_or_default()
                    * Decimal::ONE_THOUSAND)
                    .normalize()
                    .to_string();
                let fixed = Decimal::from_scientific(&plain)
                    .unwrap_or_default()
                    .to_string();
                for spelled in [&plain, &fixed] {
                    let json = format!(
                        r#"{{"m": {{"max_tokens": 8, "litellm_provider": "p",
                            "input_cost_per_token": {spelled}, "output_cost_per_token": {spelled}}}}}"#
                    );
                    let entries = import(&json);
                    assert_eq!(
                        prices(&entries[0]),
                        Some((expected.clone(), expected.clone())),
                        "{spelled}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
        // The case from the outside test: 3.2e-06 per token is 0.0032 per 1k.
        let entries = import(
            r#"{"m": {"max_tokens": 8, "litellm_provider": "p",
                "input_cost_per_token": 3.2e-06, "output_cost_per_token": 1.6e-05}}"#,
        );
        assert_eq!(
            prices(&entries[0]),
            Some(("0.0032".to_string(), "0.016".to_string()))
        );
    }

    #[test]
    fn entries_without_both_prices_have_an_unknown_price_not_zero() {
        let entries = import(
            r#"{"none": {"max_tokens": 8, "litellm_provider": "p"},
                "half": {"max_tokens": 8, "litellm_provider": "p", "input_cost_per_token": 1e-06},
                "free": {"max_tokens": 8, "litellm_provider": "p",
                         "input_cost_per_token": 0, "output_cost_per_token": 0}}"#,
        );
        let names_and_prices: Vec<_> = entries.iter().map(prices).collect();
        assert_eq!(
            names_and_prices,
            [Some(("0".to_string(), "0".to_string())), None, None],
            "free, half, none in name order"
        );
        assert!(entries
            .iter()
            .all(|e| matches!(e, LiteLlmEntry::Version(_))));
    }

    #[test]
    fn prices_out_of_range_skip_the_entry_with_the_reason() {
        let entries = import(
            r#"{"m": {"max_tokens": 8, "litellm_provider": "p",
                "input_cost_per_token": 1e40, "output_cost_per_token": -1}}"#,
        );
        let LiteLlmEntry::Skipped { reason, .. } = &entries[0] else {
            panic!("{entries:?}");
        };
        assert!(reason.contains("input_cost_per_token"), "{reason}");
    }
}
