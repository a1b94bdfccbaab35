//! What a model version can do and what it costs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::bounds::{check_money, check_tokens, MAX_PRICE_DECIMALS, MAX_PRICE_PER_1K};
use crate::DomainError;

/// What a model version can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelCapabilities {
    /// Largest prompt plus completion, in tokens: 1 to [`crate::MAX_TOKENS`].
    pub max_context_tokens: u32,
    /// Largest completion, in tokens: 1 to [`crate::MAX_TOKENS`]; `None`
    /// (JSON `null`) when the provider does not say.
    pub max_output_tokens: Option<u32>,
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
            max_output_tokens: Some(max_output_tokens),
            streaming: false,
            function_calling: false,
            vision: false,
            json_mode: false,
            other: BTreeSet::new(),
        }
    }

    /// Capabilities whose output limit is unknown.
    pub fn without_output_limit(max_context_tokens: u32) -> Self {
        Self {
            max_output_tokens: None,
            ..Self::new(max_context_tokens, 1)
        }
    }

    /// Checks that the token limits are within bounds and named capabilities are not blank.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_tokens("capabilities.maxContextTokens", self.max_context_tokens)?;
        if let Some(output) = self.max_output_tokens {
            check_tokens("capabilities.maxOutputTokens", output)?;
        }
        if self.max_context_tokens == 0 {
            return Err(DomainError::field(
                "capabilities.maxContextTokens",
                "must be positive",
            ));
        }
        if self.max_output_tokens == Some(0) {
            return Err(DomainError::field(
                "capabilities.maxOutputTokens",
                "must be positive",
            ));
        }
        if self
            .other
            .iter()
            .any(|c| c.trim().is_empty() || c.len() > 64 || c.chars().any(char::is_control))
        {
            return Err(DomainError::field(
                "capabilities.other",
                "capability names must hold 1 to 64 bytes, without control characters",
            ));
        }
        Ok(())
    }
}

/// What a model version costs, per 1,000 tokens, as exact decimals.
///
/// A version whose price is not known has no `ModelCostInfo` at all
/// (`costInfo` is `null` or absent): its costs are unknown, never zero.
/// In JSON the prices are strings (`"0.0025"`); numbers are read too (see
/// the crate's money notes in docs/reliability.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelCostInfo {
    /// Price of 1,000 prompt tokens: 0 to [`MAX_PRICE_PER_1K`], at most
    /// [`MAX_PRICE_DECIMALS`] decimal places.
    #[serde(with = "crate::money::decimal")]
    pub input_per_1k: Decimal,
    /// Price of 1,000 completion tokens, with the same bounds.
    #[serde(with = "crate::money::decimal")]
    pub output_per_1k: Decimal,
    /// ISO 4217 code of the currency, such as `USD`.
    pub currency: String,
}

impl ModelCostInfo {
    /// Prices in US dollars.
    pub fn usd(input_per_1k: Decimal, output_per_1k: Decimal) -> Self {
        Self {
            input_per_1k,
            output_per_1k,
            currency: "USD".to_string(),
        }
    }

    /// The exact cost of requests of the given size (any number of tokens:
    /// lifetime totals too).
    ///
    /// ```
    /// use lifecycle_domain::{dec, Decimal, ModelCostInfo};
    /// let price = ModelCostInfo::usd(dec!(0.01), dec!(0.03));
    /// assert_eq!(price.estimate_cost(1_000, 500), dec!(0.025));
    /// ```
    pub fn estimate_cost(&self, input_tokens: u64, output_tokens: u64) -> Decimal {
        // Saturating: a validated price times u64::MAX tokens cannot
        // overflow, and an unvalidated one must not panic.
        let input = Decimal::from(input_tokens).saturating_mul(self.input_per_1k);
        let output = Decimal::from(output_tokens).saturating_mul(self.output_per_1k);
        input.saturating_add(output) / Decimal::ONE_THOUSAND
    }

    /// The prices per token as floating point, for statistics over
    /// requests (the canary judge), never for money.
    pub fn per_token_f64(&self) -> (f64, f64) {
        let per_token = |price: Decimal| (price / Decimal::ONE_THOUSAND).to_f64().unwrap_or(0.0);
        (per_token(self.input_per_1k), per_token(self.output_per_1k))
    }

    /// Checks the prices' range and places and that the currency is an ISO code.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_money(
            "costInfo.inputPer1k",
            self.input_per_1k,
            MAX_PRICE_PER_1K,
            MAX_PRICE_DECIMALS,
        )?;
        check_money(
            "costInfo.outputPer1k",
            self.output_per_1k,
            MAX_PRICE_PER_1K,
            MAX_PRICE_DECIMALS,
        )?;
        let iso = self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        if !iso {
            return Err(DomainError::field(
                "costInfo.currency",
                format!(
                    "{:?} is not an ISO 4217 code; use three capital letters such as USD or EUR",
                    crate::shorten(&self.currency)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn cost_is_exact_and_linear_in_tokens_per_thousand() {
        let price = ModelCostInfo::usd(dec!(0.01), dec!(0.03));
        assert_eq!(price.estimate_cost(0, 0), dec!(0));
        assert_eq!(price.estimate_cost(2_000, 0), dec!(0.02));
        assert_eq!(price.estimate_cost(0, 1_000), dec!(0.03));
        assert_eq!(price.estimate_cost(1_500, 500), dec!(0.03));
        // 0.1 + 0.2 is 0.3 here, not 0.30000000000000004.
        let tenth = ModelCostInfo::usd(dec!(0.1), dec!(0.2));
        assert_eq!(tenth.estimate_cost(1_000, 1_000), dec!(0.3));
    }

    #[test]
    fn the_highest_price_times_every_token_does_not_overflow() {
        let price = ModelCostInfo::usd(MAX_PRICE_PER_1K, MAX_PRICE_PER_1K);
        assert!(price.validate().is_ok());
        let total = price.estimate_cost(u64::MAX, u64::MAX);
        assert_eq!(total, Decimal::from(u64::MAX) * dec!(20));
        let absurd = ModelCostInfo::usd(Decimal::MAX, Decimal::MAX);
        assert!(absurd.estimate_cost(u64::MAX, u64::MAX) > Decimal::ZERO);
    }

    #[test]
    fn negative_or_huge_prices_are_refused() {
        for bad in [dec!(-0.01), dec!(10000.5), dec!(1e20)] {
            let err = ModelCostInfo::usd(bad, dec!(0)).validate().unwrap_err();
            assert!(err.to_string().contains("costInfo.inputPer1k"), "{err}");
            let err = ModelCostInfo::usd(dec!(0), bad).validate().unwrap_err();
            assert!(err.to_string().contains("costInfo.outputPer1k"), "{err}");
        }
        assert!(ModelCostInfo::usd(dec!(0), dec!(0)).validate().is_ok());
        // What earlier versions stored from float arithmetic stays valid.
        let legacy = ModelCostInfo::usd(dec!(0.0031999999999999997), dec!(0.0000000000001));
        assert!(legacy.validate().is_ok());
    }

    #[test]
    fn prices_in_json_are_exact_strings() {
        let price: ModelCostInfo = serde_json::from_str(
            r#"{"inputPer1k":0.0032,"outputPer1k":"0.0125","currency":"USD"}"#,
        )
        .unwrap();
        assert_eq!(price, ModelCostInfo::usd(dec!(0.0032), dec!(0.0125)));
        let json = serde_json::to_string(&price).unwrap();
        assert_eq!(
            json,
            r#"{"inputPer1k":"0.0032","outputPer1k":"0.0125","currency":"USD"}"#
        );
        let err = serde_json::from_str::<ModelCostInfo>(
            r#"{"inputPer1k":1,"outputPer1k":1,"currency":"USD","discount":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("discount"), "{err}");
    }

    #[test]
    fn currency_must_be_an_iso_code() {
        for bad in ["usd", "US", "DOLLARS", ""] {
            let mut price = ModelCostInfo::usd(dec!(1), dec!(1));
            price.currency = bad.into();
            assert!(price.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn token_limits_must_be_positive_and_bounded() {
        assert!(ModelCapabilities::new(8192, 4096).validate().is_ok());
        let err = ModelCapabilities::new(0, 10).validate().unwrap_err();
        assert!(err.to_string().contains("maxContextTokens"));
        let err = ModelCapabilities::new(10, 0).validate().unwrap_err();
        assert!(err.to_string().contains("maxOutputTokens"));
        let err = ModelCapabilities::new(u32::MAX, 10).validate().unwrap_err();
        assert!(err.to_string().contains("more than 100000000"), "{err}");
    }
}
