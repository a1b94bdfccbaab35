//! What a model version can do and what it costs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::non_negative;
use crate::DomainError;

/// What a model version can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCapabilities {
    /// Largest prompt plus completion, in tokens. Positive.
    pub max_context_tokens: u32,
    /// Largest completion, in tokens. Positive.
    pub max_output_tokens: u32,
    /// Streams its output.
    #[serde(default)]
    pub streaming: bool,
    /// Calls functions (tools).
    #[serde(default)]
    pub function_calling: bool,
    /// Accepts images.
    #[serde(default)]
    pub vision: bool,
    /// Can be made to answer in JSON.
    #[serde(default)]
    pub json_mode: bool,
    /// Any further named capabilities (`audio_input`, `prompt_caching`, ...).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub other: BTreeSet<String>,
}

impl ModelCapabilities {
    /// Capabilities with the given token limits and no optional features.
    pub fn new(max_context_tokens: u32, max_output_tokens: u32) -> Self {
        Self {
            max_context_tokens,
            max_output_tokens,
            streaming: false,
            function_calling: false,
            vision: false,
            json_mode: false,
            other: BTreeSet::new(),
        }
    }

    /// Checks that the token limits are positive and named capabilities are not blank.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.max_context_tokens == 0 {
            return Err(DomainError::field(
                "capabilities.maxContextTokens",
                "must be positive",
            ));
        }
        if self.max_output_tokens == 0 {
            return Err(DomainError::field(
                "capabilities.maxOutputTokens",
                "must be positive",
            ));
        }
        if self.other.iter().any(|c| c.trim().is_empty()) {
            return Err(DomainError::field(
                "capabilities.other",
                "capability names must not be blank",
            ));
        }
        Ok(())
    }
}

/// What a model version costs, per 1,000 tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCostInfo {
    /// Price of 1,000 prompt tokens. Finite, not negative.
    pub input_per_1k: f64,
    /// Price of 1,000 completion tokens. Finite, not negative.
    pub output_per_1k: f64,
    /// ISO 4217 code of the currency, such as `USD`.
    pub currency: String,
}

impl ModelCostInfo {
    /// Prices in US dollars.
    pub fn usd(input_per_1k: f64, output_per_1k: f64) -> Self {
        Self {
            input_per_1k,
            output_per_1k,
            currency: "USD".to_string(),
        }
    }

    /// The cost of one request of the given size.
    ///
    /// ```
    /// use lifecycle_domain::ModelCostInfo;
    /// let price = ModelCostInfo::usd(0.01, 0.03);
    /// assert!((price.estimate_cost(1_000, 500) - 0.025).abs() < 1e-12);
    /// ```
    pub fn estimate_cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_1k + output_tokens as f64 * self.output_per_1k)
            / 1000.0
    }

    /// Checks that prices are finite and not negative and the currency is an ISO code.
    pub fn validate(&self) -> Result<(), DomainError> {
        non_negative("costInfo.inputPer1k", self.input_per_1k)?;
        non_negative("costInfo.outputPer1k", self.output_per_1k)?;
        let iso = self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        if !iso {
            return Err(DomainError::field(
                "costInfo.currency",
                format!(
                    "{:?} is not an ISO 4217 code; use three capital letters such as USD or EUR",
                    self.currency
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_linear_in_tokens_per_thousand() {
        let price = ModelCostInfo::usd(0.01, 0.03);
        assert_eq!(price.estimate_cost(0, 0), 0.0);
        assert!((price.estimate_cost(2_000, 0) - 0.02).abs() < 1e-12);
        assert!((price.estimate_cost(0, 1_000) - 0.03).abs() < 1e-12);
        assert!((price.estimate_cost(1_500, 500) - 0.03).abs() < 1e-12);
    }

    #[test]
    fn negative_nan_or_infinite_prices_are_refused() {
        for bad in [-0.01, f64::NAN, f64::INFINITY] {
            let err = ModelCostInfo::usd(bad, 0.0).validate().unwrap_err();
            assert!(err.to_string().contains("costInfo.inputPer1k"), "{err}");
            let err = ModelCostInfo::usd(0.0, bad).validate().unwrap_err();
            assert!(err.to_string().contains("costInfo.outputPer1k"), "{err}");
        }
        assert!(ModelCostInfo::usd(0.0, 0.0).validate().is_ok());
    }

    #[test]
    fn currency_must_be_an_iso_code() {
        for bad in ["usd", "US", "DOLLARS", ""] {
            let mut price = ModelCostInfo::usd(1.0, 1.0);
            price.currency = bad.into();
            assert!(price.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn token_limits_must_be_positive() {
        assert!(ModelCapabilities::new(8192, 4096).validate().is_ok());
        let err = ModelCapabilities::new(0, 10).validate().unwrap_err();
        assert!(err.to_string().contains("maxContextTokens"));
        let err = ModelCapabilities::new(10, 0).validate().unwrap_err();
        assert!(err.to_string().contains("maxOutputTokens"));
    }
}
