//! Evaluation thresholds and lifecycle policy settings, validated once when built.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use rust_decimal::Decimal;

use crate::bounds::{
    check_count, check_days, check_latency, check_money, MAX_CONSECUTIVE_VIOLATIONS,
    MAX_COST_PER_REQUEST, MAX_COUNT_SETTING, MAX_PRICE_DECIMALS, MAX_WINDOW_SECS, MIN_WINDOW_SECS,
};
use crate::error::fraction;
use crate::DomainError;

/// Settings that can check themselves; [`Validated`] holds only ones that passed.
pub trait Settings: Clone {
    /// Returns the first invalid field, if any.
    fn validate(&self) -> Result<(), DomainError>;
}

/// Settings that passed validation. Built by [`Validated::new`], by
/// `Default` (the documented defaults), or by deserializing (which validates
/// too), so holding one proves it is valid.
///
/// ```
/// use lifecycle_domain::{EvaluationConfig, EvaluationSettings};
/// let strict = EvaluationConfig::new(EvaluationSettings {
///     max_error_rate: 0.01,
///     ..EvaluationSettings::default()
/// })?;
/// assert_eq!(strict.settings().min_samples, 50);
/// assert!(EvaluationConfig::new(EvaluationSettings { max_error_rate: 2.0, ..Default::default() }).is_err());
/// # Ok::<(), lifecycle_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Validated<S>(S);

impl<S: Settings> Validated<S> {
    /// Validates settings.
    pub fn new(settings: S) -> Result<Self, DomainError> {
        settings.validate()?;
        Ok(Self(settings))
    }

    /// The validated settings, read-only.
    pub fn settings(&self) -> &S {
        &self.0
    }
}

impl<S: Settings + Default> Default for Validated<S> {
    fn default() -> Self {
        Self(S::default())
    }
}

impl<S: Settings + Serialize> Serialize for Validated<S> {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> Result<Se::Ok, Se::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, S: Settings + Deserialize<'de>> Deserialize<'de> for Validated<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(S::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Thresholds a version's metrics are judged against. Validated form: [`EvaluationConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationSettings {
    /// Samples needed before a version can be judged at all. Default 50; at least 1.
    pub min_samples: u64,
    /// Highest acceptable share of failed requests. Default 0.05.
    pub max_error_rate: f64,
    /// Lowest acceptable share of successful requests. Default 0.95.
    pub min_success_rate: f64,
    /// Highest acceptable latency, in milliseconds, of [`Self::latency_statistic`]. Default 5000.
    pub max_latency_ms: f64,
    /// Which latency statistic `max_latency_ms` limits. Default p95.
    pub latency_statistic: LatencyStatistic,
    /// Lowest acceptable mean confidence. Default 0.7.
    pub min_confidence: f64,
    /// Length of the rolling window thresholds are evaluated on, in seconds. Default 600.
    pub evaluation_window_secs: u64,
    /// Publish a metrics snapshot every this many samples per version. Default 100.
    pub metrics_update_interval: u64,
    /// Consecutive violating evaluations before a critical alert fires, so
    /// that one flaky window need not roll a release back. Default 1.
    pub consecutive_violations_for_critical: u64,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        Self {
            min_samples: 50,
            max_error_rate: 0.05,
            min_success_rate: 0.95,
            max_latency_ms: 5000.0,
            latency_statistic: LatencyStatistic::P95,
            min_confidence: 0.7,
            evaluation_window_secs: 600,
            metrics_update_interval: 100,
            consecutive_violations_for_critical: 1,
        }
    }
}

impl Settings for EvaluationSettings {
    fn validate(&self) -> Result<(), DomainError> {
        check_count("minSamples", self.min_samples, MAX_COUNT_SETTING)?;
        fraction("maxErrorRate", self.max_error_rate)?;
        fraction("minSuccessRate", self.min_success_rate)?;
        fraction("minConfidence", self.min_confidence)?;
        check_latency("maxLatencyMs", self.max_latency_ms)?;
        if self.max_latency_ms == 0.0 {
            return Err(DomainError::field("maxLatencyMs", "must be above 0"));
        }
        if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&self.evaluation_window_secs) {
            return Err(DomainError::field(
                "evaluationWindowSecs",
                format!(
                    "{} is outside {MIN_WINDOW_SECS} to {MAX_WINDOW_SECS} seconds (30 days)",
                    self.evaluation_window_secs
                ),
            ));
        }
        check_count(
            "metricsUpdateInterval",
            self.metrics_update_interval,
            MAX_COUNT_SETTING,
        )?;
        check_count(
            "consecutiveViolationsForCritical",
            self.consecutive_violations_for_critical,
            MAX_CONSECUTIVE_VIOLATIONS,
        )
    }
}

/// Validated evaluation thresholds.
pub type EvaluationConfig = Validated<EvaluationSettings>;

/// Which latency statistic a latency threshold limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LatencyStatistic {
    /// The arithmetic mean.
    Mean,
    /// The median.
    P50,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
}

impl LatencyStatistic {
    /// The statistic's short name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::P50 => "p50",
            Self::P95 => "p95",
            Self::P99 => "p99",
        }
    }
}

/// Rules for deployment, deprecation and retirement. Validated form: [`PolicyConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySettings {
    /// Days between deprecation and end of life unless given. Default 90; at most 3650.
    pub default_grace_period_days: u32,
    /// Warn about versions this many days before end of life. Default 30; at most 3650.
    pub eol_warning_threshold_days: u32,
    /// Deprecate the previously active version when another is activated. Default on.
    pub deprecate_old_versions_on_new_deployment: bool,
    /// Maintenance retires versions past end of life. Default on.
    pub enable_automatic_retirement: bool,
    /// Refuse to deploy a version whose results fail the thresholds or are
    /// too few, and one without results while another version is active.
    /// Default on; a model's first version may be activated before it has
    /// served traffic (the decision says so).
    pub enforce_performance_thresholds: bool,
    /// Refuse to promote or activate a version the canary judge fails
    /// against the active version (when both have results). Default on.
    pub require_passing_judge: bool,
    /// Treat a marginal verdict of the judge as a failure: in the
    /// deployment gate and in `compare`'s exit code. Default off.
    pub refuse_marginal_judgement: bool,
    /// Refuse to deploy versions whose estimated cost per request is higher,
    /// or whose price is unknown. Default none. 0 to
    /// [`crate::MAX_COST_PER_REQUEST`]; a JSON string or number.
    #[serde(with = "crate::money::optional_decimal")]
    pub max_cost_per_request: Option<Decimal>,
    /// Roll back (or abort a canary) on a critical alert. Default on.
    pub auto_rollback_on_critical: bool,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            default_grace_period_days: 90,
            eol_warning_threshold_days: 30,
            deprecate_old_versions_on_new_deployment: true,
            enable_automatic_retirement: true,
            enforce_performance_thresholds: true,
            require_passing_judge: true,
            refuse_marginal_judgement: false,
            max_cost_per_request: None,
            auto_rollback_on_critical: true,
        }
    }
}

impl Settings for PolicySettings {
    fn validate(&self) -> Result<(), DomainError> {
        check_days("defaultGracePeriodDays", self.default_grace_period_days)?;
        check_days("eolWarningThresholdDays", self.eol_warning_threshold_days)?;
        if let Some(max) = self.max_cost_per_request {
            check_money(
                "maxCostPerRequest",
                max,
                MAX_COST_PER_REQUEST,
                MAX_PRICE_DECIMALS,
            )?;
        }
        Ok(())
    }
}

/// Validated lifecycle policy.
pub type PolicyConfig = Validated<PolicySettings>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let eval = EvaluationConfig::default();
        let e = eval.settings();
        assert_eq!(
            (e.min_samples, e.max_error_rate, e.min_success_rate),
            (50, 0.05, 0.95)
        );
        assert_eq!((e.max_latency_ms, e.min_confidence), (5000.0, 0.7));
        assert_eq!(e.latency_statistic, LatencyStatistic::P95);
        assert!(e.validate().is_ok());
        let policy = PolicyConfig::default();
        let p = policy.settings();
        assert_eq!(
            (p.default_grace_period_days, p.eol_warning_threshold_days),
            (90, 30)
        );
        // The safe ones: gated deployments, a judge that must pass, rollback on a critical alert.
        assert!(p.deprecate_old_versions_on_new_deployment && p.auto_rollback_on_critical);
        assert!(p.enforce_performance_thresholds && p.require_passing_judge);
        assert!(!p.refuse_marginal_judgement);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn each_invalid_evaluation_field_is_named() {
        type Edit = fn(&mut EvaluationSettings);
        let cases: [(&str, Edit); 15] = [
            ("minSamples", |s| s.min_samples = 0),
            ("minSamples", |s| s.min_samples = u64::MAX),
            ("maxLatencyMs", |s| s.max_latency_ms = 1e300),
            ("evaluationWindowSecs", |s| {
                s.evaluation_window_secs = u64::MAX
            }),
            ("evaluationWindowSecs", |s| s.evaluation_window_secs = 9),
            ("metricsUpdateInterval", |s| {
                s.metrics_update_interval = u64::MAX
            }),
            ("consecutiveViolationsForCritical", |s| {
                s.consecutive_violations_for_critical = u64::MAX
            }),
            ("maxErrorRate", |s| s.max_error_rate = 1.5),
            ("minSuccessRate", |s| s.min_success_rate = -0.1),
            ("minConfidence", |s| s.min_confidence = f64::NAN),
            ("maxLatencyMs", |s| s.max_latency_ms = 0.0),
            ("maxLatencyMs", |s| s.max_latency_ms = f64::INFINITY),
            ("evaluationWindowSecs", |s| s.evaluation_window_secs = 0),
            ("metricsUpdateInterval", |s| s.metrics_update_interval = 0),
            ("consecutiveViolationsForCritical", |s| {
                s.consecutive_violations_for_critical = 0
            }),
        ];
        for (field, edit) in cases {
            let mut settings = EvaluationSettings::default();
            edit(&mut settings);
            let err = EvaluationConfig::new(settings).unwrap_err();
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn each_invalid_policy_field_is_named() {
        type Edit = fn(&mut PolicySettings);
        let cases: [(&str, Edit); 4] = [
            ("defaultGracePeriodDays", |s| {
                s.default_grace_period_days = 3651
            }),
            ("eolWarningThresholdDays", |s| {
                s.eol_warning_threshold_days = 100_000
            }),
            ("maxCostPerRequest", |s| {
                s.max_cost_per_request = Some(Decimal::NEGATIVE_ONE)
            }),
            ("maxCostPerRequest", |s| {
                s.max_cost_per_request = Some(Decimal::MAX)
            }),
        ];
        for (field, edit) in cases {
            let mut settings = PolicySettings::default();
            edit(&mut settings);
            let err = PolicyConfig::new(settings).unwrap_err();
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn json_fills_defaults_validates_and_rejects_unknown_fields() {
        let cfg: EvaluationConfig = serde_json::from_str(r#"{"maxErrorRate": 0.01}"#).unwrap();
        assert_eq!(cfg.settings().max_error_rate, 0.01);
        assert_eq!(cfg.settings().min_samples, 50);
        let err = serde_json::from_str::<EvaluationConfig>(r#"{"maxErrorRate": 3}"#).unwrap_err();
        assert!(err.to_string().contains("maxErrorRate"), "{err}");
        let err = serde_json::from_str::<PolicyConfig>(r#"{"gracePeriod": 3}"#).unwrap_err();
        assert!(err.to_string().contains("gracePeriod"), "{err}");
        let err = serde_json::from_str::<EvaluationConfig>(
            r#"{"evaluationWindowSecs":18446744073709551615}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("evaluationWindowSecs"), "{err}");
        let cost: PolicyConfig = serde_json::from_str(r#"{"maxCostPerRequest":0.05}"#).unwrap();
        assert_eq!(
            cost.settings().max_cost_per_request,
            Some(Decimal::new(5, 2))
        );
        let json = serde_json::to_string(&PolicyConfig::default()).unwrap();
        assert!(json.contains("\"defaultGracePeriodDays\":90"), "{json}");
    }
}
