//! Why and until when a version is deprecated, and how much traffic a canary gets.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::bounds::{check_days, check_time, latest_time};
use crate::{DomainError, ModelId, Version};

/// Deprecation of a version: why, what replaces it, and when it reaches end of life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelDeprecationInfo {
    /// When it was deprecated.
    pub deprecated_at: DateTime<Utc>,
    /// Why, in words for the people who still use it.
    pub reason: String,
    /// The version to move to, when there is one.
    pub replacement_version: Option<Version>,
    /// Another model to move to, as its provider suggests (LiteLLM's
    /// `successor_model`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_model: Option<ModelId>,
    /// Days between deprecation and end of life: at most
    /// [`crate::MAX_GRACE_DAYS`].
    pub grace_period_days: u32,
    /// When it stops being usable: `deprecated_at + grace_period_days`.
    pub end_of_life: DateTime<Utc>,
}

impl ModelDeprecationInfo {
    /// The longest reason accepted, in bytes.
    pub const MAX_REASON_LEN: usize = 1024;

    /// Deprecation from `now`, ending `grace_period_days` later. Every
    /// bound is checked before the end of life is computed.
    pub fn new(
        reason: impl Into<String>,
        replacement_version: Option<Version>,
        grace_period_days: u32,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let end_of_life = end_of_life(now, grace_period_days)?;
        let info = Self {
            deprecated_at: now,
            reason: reason.into(),
            replacement_version,
            successor_model: None,
            grace_period_days,
            end_of_life,
        };
        info.validate()?;
        Ok(info)
    }

    /// The same, naming another model to move to.
    pub fn with_successor(mut self, model: ModelId) -> Self {
        self.successor_model = Some(model);
        self
    }

    /// Whole days from `now` until end of life, rounded down: 0 on the last
    /// day, negative once it has passed.
    pub fn days_until_eol(&self, now: DateTime<Utc>) -> i64 {
        (self.end_of_life - now)
            .num_seconds()
            .div_euclid(24 * 60 * 60)
    }

    /// Whether end of life has been reached at `now`.
    pub fn is_past_eol(&self, now: DateTime<Utc>) -> bool {
        now >= self.end_of_life
    }

    /// Checks the reason and that end of life follows from the grace period.
    pub fn validate(&self) -> Result<(), DomainError> {
        let reason = self.reason.trim();
        if reason.is_empty() || self.reason.len() > Self::MAX_REASON_LEN {
            return Err(DomainError::field(
                "deprecation.reason",
                format!(
                    "give a reason of 1 to {} bytes, such as \"superseded by 2.0.0\"",
                    Self::MAX_REASON_LEN
                ),
            ));
        }
        let expected = end_of_life(self.deprecated_at, self.grace_period_days)?;
        if self.end_of_life != expected {
            return Err(DomainError::field(
                "deprecation.endOfLife",
                format!(
                    "{} is not deprecatedAt + gracePeriodDays ({expected})",
                    self.end_of_life
                ),
            ));
        }
        Ok(())
    }
}

/// `deprecated_at + grace_period_days`, after checking both: never overflows.
fn end_of_life(
    deprecated_at: DateTime<Utc>,
    grace_period_days: u32,
) -> Result<DateTime<Utc>, DomainError> {
    check_days("deprecation.gracePeriodDays", grace_period_days)?;
    check_time("deprecation.deprecatedAt", deprecated_at)?;
    deprecated_at
        .checked_add_signed(Duration::days(i64::from(grace_period_days)))
        .filter(|eol| *eol <= latest_time())
        .ok_or_else(|| {
            DomainError::field(
                "deprecation.endOfLife",
                format!(
                    "{} plus {grace_period_days} days is after 9999-12-31",
                    deprecated_at.to_rfc3339()
                ),
            )
        })
}

/// The share of a model's traffic a canary gets, in whole percent from 1 to 99.
///
/// ```
/// use lifecycle_domain::CanaryWeight;
/// assert_eq!(CanaryWeight::new(5)?.percent(), 5);
/// assert!(CanaryWeight::new(0).is_err() && CanaryWeight::new(100).is_err());
/// # Ok::<(), lifecycle_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct CanaryWeight(u8);

impl CanaryWeight {
    /// Validates a weight in percent.
    pub fn new(percent: u8) -> Result<Self, DomainError> {
        if (1..=99).contains(&percent) {
            Ok(Self(percent))
        } else {
            Err(DomainError::field(
                "canaryWeight",
                format!(
                    "{percent} % is outside 1 to 99 %; to send all traffic to the canary, promote it"
                ),
            ))
        }
    }

    /// The weight in percent.
    pub fn percent(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for CanaryWeight {
    type Error = DomainError;
    fn try_from(percent: u8) -> Result<Self, Self::Error> {
        Self::new(percent)
    }
}

impl From<CanaryWeight> for u8 {
    fn from(w: CanaryWeight) -> u8 {
        w.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn end_of_life_is_grace_period_after_deprecation() {
        let info = ModelDeprecationInfo::new("superseded", None, 10, at(1, 12)).unwrap();
        assert_eq!(info.end_of_life, at(11, 12));
        assert_eq!(info.days_until_eol(at(1, 12)), 10);
        assert_eq!(info.days_until_eol(at(10, 11)), 1);
        assert_eq!(info.days_until_eol(at(10, 13)), 0);
        assert!(!info.is_past_eol(at(11, 11)));
        assert!(info.is_past_eol(at(11, 12)));
        assert_eq!(info.days_until_eol(at(11, 13)), -1);
        assert_eq!(info.days_until_eol(at(13, 12)), -2);
    }

    #[test]
    fn blank_reason_long_grace_and_inconsistent_eol_are_refused() {
        assert!(ModelDeprecationInfo::new("  ", None, 10, at(1, 0)).is_err());
        assert!(ModelDeprecationInfo::new("x".repeat(1025), None, 10, at(1, 0)).is_err());
        for days in [3651, 100_000_000, u32::MAX] {
            let err = ModelDeprecationInfo::new("old", None, days, at(1, 0)).unwrap_err();
            assert!(err.to_string().contains("gracePeriodDays"), "{err}");
        }
        let mut info = ModelDeprecationInfo::new("old", None, 10, at(1, 0)).unwrap();
        info.end_of_life = at(2, 0);
        assert!(info
            .validate()
            .unwrap_err()
            .to_string()
            .contains("endOfLife"));
    }

    #[test]
    fn times_outside_four_digit_years_are_refused_without_overflow() {
        let far: DateTime<Utc> = "+262142-06-01T00:00:00Z".parse().unwrap();
        let err = ModelDeprecationInfo::new("old", None, 10, far).unwrap_err();
        assert!(err.to_string().contains("deprecatedAt"), "{err}");
        let json = r#"{"deprecatedAt":"+262142-06-01T00:00:00Z","reason":"x","replacementVersion":null,"gracePeriodDays":90,"endOfLife":"+262142-08-30T00:00:00Z"}"#;
        let info: ModelDeprecationInfo = serde_json::from_str(json).unwrap();
        assert!(info.validate().is_err());
        let late: DateTime<Utc> = "9999-12-01T00:00:00Z".parse().unwrap();
        let err = ModelDeprecationInfo::new("old", None, 90, late).unwrap_err();
        assert!(err.to_string().contains("after 9999-12-31"), "{err}");
        assert!(ModelDeprecationInfo::new("old", None, 20, late).is_ok());
    }

    #[test]
    fn canary_weights_outside_1_to_99_are_refused_also_from_json() {
        assert!(serde_json::from_str::<CanaryWeight>("50").is_ok());
        assert!(serde_json::from_str::<CanaryWeight>("0").is_err());
        assert!(serde_json::from_str::<CanaryWeight>("100").is_err());
    }
}
