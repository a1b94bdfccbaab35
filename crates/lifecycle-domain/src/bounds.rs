//! The bounds of every number and time a user, a file or a config can give.
//!
//! Each bound is checked where the value enters a domain type (its
//! `validate` or constructor), so no adapter or command can forget one, and
//! each is chosen so that everything computed from accepted values stays
//! finite and exact: sums over a lifetime of `u64::MAX` requests, costs of
//! the largest request at the highest price, ends of life of the latest
//! deprecation. docs/reliability.md lists them with the reasons.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::DomainError;

/// Longest latency of one request, in milliseconds: one day. A sum of
/// `u64::MAX` such latencies is still finite.
pub const MAX_LATENCY_MS: f64 = 86_400_000.0;

/// Most tokens on one side of one request, and the largest context or output
/// limit: 100 million (the largest context windows offered hold 10 million).
pub const MAX_TOKENS: u32 = 100_000_000;

/// Highest price of 1,000 tokens, in the price's currency.
pub const MAX_PRICE_PER_1K: Decimal = dec!(10000);

/// Most decimal places of a price per 1,000 tokens: all a decimal can hold
/// (28). Not lower, so that every price stored by an earlier version (such
/// as an imported `0.0031999999999999997`) stays valid.
pub const MAX_PRICE_DECIMALS: u32 = 28;

/// Highest cost limit per request a policy may set.
pub const MAX_COST_PER_REQUEST: Decimal = dec!(1000000000);

/// Longest grace period and warning threshold, in days: ten years.
pub const MAX_GRACE_DAYS: u32 = 3650;

/// Shortest evaluation window, in seconds (ten sub-windows of a second).
pub const MIN_WINDOW_SECS: u64 = 10;

/// Longest evaluation window, in seconds: 30 days.
pub const MAX_WINDOW_SECS: u64 = 30 * 24 * 60 * 60;

/// Largest count a setting may hold (minimum samples, update interval).
pub const MAX_COUNT_SETTING: u64 = 1_000_000_000;

/// Most consecutive violating evaluations a critical alert may wait for.
pub const MAX_CONSECUTIVE_VIOLATIONS: u64 = 1000;

/// Earliest time a record may hold: 1970-01-01T00:00:00Z.
pub fn earliest_time() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// Latest time a record may hold: 9999-12-31T23:59:59Z, so that times print
/// as four-digit years and an end of life ten years later still exists.
pub fn latest_time() -> DateTime<Utc> {
    // 253402300799 s after the epoch is 9999-12-31T23:59:59Z.
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Checks that a time lies between [`earliest_time`] and [`latest_time`].
pub(crate) fn check_time(field: &'static str, time: DateTime<Utc>) -> Result<(), DomainError> {
    if (earliest_time()..=latest_time()).contains(&time) {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!(
                "{} is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
                time.to_rfc3339()
            ),
        ))
    }
}

/// Checks a latency in milliseconds: finite, from 0 to [`MAX_LATENCY_MS`].
pub(crate) fn check_latency(field: &'static str, ms: f64) -> Result<(), DomainError> {
    if (0.0..=MAX_LATENCY_MS).contains(&ms) {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!(
                "{} is not a number of milliseconds from 0 to {MAX_LATENCY_MS} (one day)",
                readable(ms)
            ),
        ))
    }
}

/// A number as a message shows it: huge ones in exponent form.
fn readable(value: f64) -> String {
    if value.abs() >= 1e15 {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// Checks a token count: at most [`MAX_TOKENS`].
pub(crate) fn check_tokens(field: &'static str, tokens: u32) -> Result<(), DomainError> {
    if tokens <= MAX_TOKENS {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!("{tokens} is more than {MAX_TOKENS} tokens"),
        ))
    }
}

/// Checks an amount of money: from 0 to `max`, with at most `decimals` places.
pub(crate) fn check_money(
    field: &'static str,
    amount: Decimal,
    max: Decimal,
    decimals: u32,
) -> Result<(), DomainError> {
    if amount.is_sign_negative() && !amount.is_zero() || amount > max {
        return Err(DomainError::field(
            field,
            format!("{amount} is outside 0 to {max}"),
        ));
    }
    if amount.normalize().scale() > decimals {
        return Err(DomainError::field(
            field,
            format!("{amount} has more than {decimals} decimal places"),
        ));
    }
    Ok(())
}

/// Checks that a count setting is from 1 to `max`.
pub(crate) fn check_count(field: &'static str, value: u64, max: u64) -> Result<(), DomainError> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!("{value} is outside 1 to {max}"),
        ))
    }
}

/// Checks a number of days: at most [`MAX_GRACE_DAYS`].
pub(crate) fn check_days(field: &'static str, days: u32) -> Result<(), DomainError> {
    if days <= MAX_GRACE_DAYS {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!("{days} days is more than ten years ({MAX_GRACE_DAYS} days)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_range_is_four_digit_years() {
        assert_eq!(
            latest_time().to_rfc3339(),
            "9999-12-31T23:59:59+00:00",
            "the documented latest time"
        );
        assert!(check_time("t", latest_time()).is_ok());
        assert!(check_time("t", earliest_time()).is_ok());
        let err = check_time("t", DateTime::<Utc>::MAX_UTC).unwrap_err();
        assert!(err.to_string().contains("outside 1970"), "{err}");
    }

    #[test]
    fn money_bounds_name_the_value() {
        assert!(check_money("p", dec!(0), MAX_PRICE_PER_1K, 12).is_ok());
        assert!(check_money("p", dec!(-0), MAX_PRICE_PER_1K, 12).is_ok());
        assert!(check_money("p", dec!(0.000000000001), MAX_PRICE_PER_1K, 12).is_ok());
        assert!(check_money(
            "p",
            dec!(0.0031999999999999997),
            MAX_PRICE_PER_1K,
            MAX_PRICE_DECIMALS
        )
        .is_ok());
        assert!(check_money("p", dec!(1.50000000000000), MAX_PRICE_PER_1K, 12).is_ok());
        let err = check_money("p", dec!(-1), MAX_PRICE_PER_1K, 12).unwrap_err();
        assert!(
            err.to_string().contains("-1 is outside 0 to 10000"),
            "{err}"
        );
        let err = check_money("p", dec!(10000.01), MAX_PRICE_PER_1K, 12).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let err = check_money("p", dec!(0.0000000000001), MAX_PRICE_PER_1K, 12).unwrap_err();
        assert!(err.to_string().contains("decimal places"), "{err}");
    }
}
