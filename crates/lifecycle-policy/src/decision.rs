//! Deployment decisions: approve or reject a version, with the reason.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    Decimal, EvaluationConfig, ModelStatus, ModelVersion, PolicyConfig, Threshold, Version,
};
use serde::{Deserialize, Serialize};

/// The verdict on deploying one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentDecision {
    /// Whether the version may be deployed.
    pub approved: bool,
    /// Why, in one sentence: the rule that rejected it, or what was checked.
    pub reason: String,
    /// The version to deploy instead, when one is known.
    pub replacement: Option<Version>,
    /// Things worth knowing that did not block the deployment.
    pub warnings: Vec<String>,
}

/// The request size used to estimate a version's cost per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypicalRequest {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl TypicalRequest {
    /// The mean request of the Azure LLM inference trace 2023 (conversation,
    /// 19,366 production requests, CC-BY-4.0): 1,155 prompt and 211
    /// completion tokens. Used for versions that have served no traffic;
    /// the mean, not the median, because cost is linear in tokens.
    pub const TRACE_MEAN: TypicalRequest = TypicalRequest {
        input_tokens: 1_155,
        output_tokens: 211,
    };

    /// The typical request for `version`: its observed average when it has
    /// samples, otherwise [`Self::TRACE_MEAN`] capped by its token limits.
    pub fn of(version: &ModelVersion) -> Self {
        match &version.metrics {
            Some(m) if m.sample_count > 0 => Self {
                input_tokens: m.total_input_tokens / m.sample_count,
                output_tokens: m.total_output_tokens / m.sample_count,
            },
            _ => {
                let caps = &version.capabilities;
                let output = caps
                    .max_output_tokens
                    .map_or(Self::TRACE_MEAN.output_tokens, |max| {
                        Self::TRACE_MEAN.output_tokens.min(u64::from(max))
                    });
                let room = u64::from(caps.max_context_tokens).saturating_sub(output);
                Self {
                    input_tokens: Self::TRACE_MEAN.input_tokens.min(room),
                    output_tokens: output,
                }
            }
        }
    }
}

/// The policy engine. Holds the configuration; every method is a pure
/// function of its arguments.
///
/// ```
/// use lifecycle_domain::chrono::{TimeZone, Utc};
/// use lifecycle_domain::*;
/// use lifecycle_policy::LifecyclePolicy;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut old = ModelVersion::new(ModelId::new("gpt-4")?, Version::new(1, 0, 0), "openai",
///     ModelCapabilities::new(8_192, 1_024), ModelCostInfo::usd(dec!(0.03), dec!(0.06)), now);
/// old.activate(now)?;
/// old.deprecate(ModelDeprecationInfo::new("superseded", Some(Version::new(2, 0, 0)), 90, now)?, now)?;
/// let decision = LifecyclePolicy::default().can_deploy(&old, now);
/// assert!(!decision.approved);
/// assert_eq!(decision.replacement, Some(Version::new(2, 0, 0)));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LifecyclePolicy {
    policy: PolicyConfig,
    evaluation: EvaluationConfig,
}

impl LifecyclePolicy {
    /// An engine applying `policy`, judging metrics against `evaluation`.
    pub fn new(policy: PolicyConfig, evaluation: EvaluationConfig) -> Self {
        Self { policy, evaluation }
    }

    /// The policy it applies.
    pub fn policy(&self) -> &PolicyConfig {
        &self.policy
    }

    /// Whether `version` may be deployed (activated or promoted) now.
    ///
    /// Rejected: retired and deprecated versions (naming the replacement
    /// when known), and versions past an end of life their provider
    /// announced (a warning within `eol_warning_threshold_days` of it); with `enforce_performance_thresholds`, versions without
    /// enough samples (saying how many more are needed) or whose metrics
    /// break a threshold (observed against limit); versions whose estimated
    /// cost of a [`TypicalRequest`] exceeds `max_cost_per_request`.
    pub fn can_deploy(&self, version: &ModelVersion, now: DateTime<Utc>) -> DeploymentDecision {
        let name = format!("{} {}", version.model_id, version.version);
        let replacement = version
            .deprecation()
            .and_then(|d| d.replacement_version.clone());
        let reject = |reason: String| DeploymentDecision {
            approved: false,
            reason,
            replacement: replacement.clone(),
            warnings: Vec::new(),
        };
        let instead = replacement
            .as_ref()
            .map(|r| format!("; deploy {r} instead"))
            .unwrap_or_default();
        match version.status() {
            ModelStatus::Retired => return reject(format!("{name} is retired{instead}")),
            ModelStatus::Deprecated => {
                let why = version.deprecation().map_or(String::new(), |d| {
                    format!(
                        " ({}, end of life in {} days)",
                        d.reason,
                        d.days_until_eol(now)
                    )
                });
                return reject(format!("{name} is deprecated{why}{instead}"));
            }
            _ => {}
        }
        let settings = self.policy.settings();
        let mut warnings = Vec::new();
        // An end of life the provider announced (see `announce_end_of_life`).
        if let Some(announced) = version.deprecation() {
            let days = announced.days_until_eol(now);
            let day = announced.end_of_life.format("%Y-%m-%d");
            if announced.is_past_eol(now) {
                return reject(format!(
                    "{name}: its end of life ({}) was {day}{instead}",
                    announced.reason
                ));
            }
            if days <= i64::from(settings.eol_warning_threshold_days) {
                warnings.push(format!(
                    "end of life ({}) on {day}, in {days} days",
                    announced.reason
                ));
            }
        }
        let performance = self.performance_problem(version);
        if let Some(problem) = performance {
            if settings.enforce_performance_thresholds {
                return reject(format!("{name}: {problem}"));
            }
            warnings.push(format!("{problem} (not enforced by policy)"));
        }
        if let Some(max) = settings.max_cost_per_request {
            let typical = TypicalRequest::of(version);
            let size = format!(
                "{} prompt + {} completion tokens",
                typical.input_tokens, typical.output_tokens
            );
            let Some(prices) = &version.cost_info else {
                return reject(format!(
                    "{name}: its price is unknown, so the cost limit of {max} per request \
                     cannot be judged; register the version with its prices"
                ));
            };
            let cost = prices.estimate_cost(typical.input_tokens, typical.output_tokens);
            let currency = &prices.currency;
            if cost > max {
                return reject(format!(
                    "{name}: estimated cost per request {cost} {currency} ({size}) exceeds the maximum {max}"
                ));
            }
            if cost * Decimal::TEN > max * Decimal::from(8) {
                warnings.push(format!(
                    "estimated cost per request {cost} {currency} is within 20 % of the maximum {max}"
                ));
            }
        }
        DeploymentDecision {
            approved: true,
            reason: format!("{name} meets the deployment policy"),
            replacement: None,
            warnings,
        }
    }

    /// What keeps the version's metrics from passing, if anything.
    fn performance_problem(&self, version: &ModelVersion) -> Option<String> {
        let min = self.evaluation.settings().min_samples;
        let Some(metrics) = &version.metrics else {
            return Some(format!(
                "no performance data yet: {min} more samples needed"
            ));
        };
        let violations = metrics.threshold_violations(&self.evaluation);
        if violations.is_empty() {
            return None;
        }
        if let Some(few) = violations
            .iter()
            .find(|v| v.threshold == Threshold::MinSamples)
        {
            let missing = few.limit - few.observed;
            return Some(format!(
                "insufficient data: {missing} more samples needed ({} of {})",
                few.observed, few.limit
            ));
        }
        let broken: Vec<String> = violations.iter().map(ToString::to_string).collect();
        Some(format!("fails its thresholds: {}", broken.join("; ")))
    }
}
