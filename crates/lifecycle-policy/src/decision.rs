//! Deployment decisions: approve or reject a version, with the reason.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    Decimal, Displaced, EvaluationConfig, ModelStatus, ModelVersion, PolicyConfig, Succession,
    Threshold, Version,
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

/// What a deployment decision depends on besides the version itself: what
/// serves the model now, and how the canary judge compared the two.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentContext {
    /// The version serving the model now, when another one does. A version
    /// without results may be deployed only when this is `None`: the first.
    pub active: Option<Version>,
    /// The judge's verdict on the version against the active one, when it
    /// could be asked (both have results).
    pub judgement: Option<Judgement>,
}

impl DeploymentContext {
    /// A model with nothing active yet.
    pub fn first() -> Self {
        Self::default()
    }

    /// A model on which `active` serves now.
    pub fn replacing(active: Version) -> Self {
        Self {
            active: Some(active),
            judgement: None,
        }
    }

    /// The same, with the judge's verdict.
    pub fn judged(mut self, judgement: Judgement) -> Self {
        self.judgement = Some(judgement);
        self
    }
}

/// The canary judge's verdict on a version against a baseline, as the
/// policy weighs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The version judged against.
    pub baseline: Version,
    /// The verdict.
    pub verdict: JudgeVerdict,
    /// 0–100.
    pub score: f64,
    /// What decided it, in words.
    pub summary: String,
}

/// The judge's verdict (see the evaluator's `Verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JudgeVerdict {
    /// No worse than the baseline.
    Pass,
    /// Between the marginal and the pass score.
    Marginal,
    /// Worse than the baseline.
    Fail,
    /// A critical metric lacks data on one side.
    NoData,
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
/// use lifecycle_policy::{DeploymentContext, LifecyclePolicy};
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut old = ModelVersion::new(ModelId::new("gpt-4")?, Version::new(1, 0, 0), "openai",
///     ModelCapabilities::new(8_192, 1_024), ModelCostInfo::usd(dec!(0.03), dec!(0.06)), now);
/// old.activate(now)?;
/// old.deprecate(ModelDeprecationInfo::new("superseded", Some(Version::new(2, 0, 0)), 90, now)?, now)?;
/// let decision = LifecyclePolicy::default().can_deploy(&old, &DeploymentContext::first(), now);
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

    /// What a deployment does to the version it displaces, and the grace a
    /// deprecation gets unless given: the rules the registry applies.
    pub fn succession(&self) -> Succession {
        let settings = self.policy.settings();
        Succession {
            displaced: if settings.deprecate_old_versions_on_new_deployment {
                Displaced::Deprecated
            } else {
                Displaced::Deactivated
            },
            default_grace_period_days: settings.default_grace_period_days,
        }
    }

    /// Whether automatic rollback may make `version` active again: it does
    /// not serve now, is not retired, and its metrics (its lifetime's, as
    /// the caller fills them in; none means no results) meet every
    /// threshold, the minimum number of samples included.
    ///
    /// ```
    /// # use lifecycle_domain::*;
    /// # use lifecycle_policy::LifecyclePolicy;
    /// # let now = chrono::DateTime::UNIX_EPOCH;
    /// let mut v1 = ModelVersion::new(ModelId::new("m")?, Version::new(1, 0, 0), "openai",
    ///     ModelCapabilities::new(8_000, 1_000), ModelCostInfo::usd(dec!(0.01), dec!(0.03)), now);
    /// v1.activate(now)?;
    /// v1.deactivate(now)?;
    /// // No results: nothing shows it was stable.
    /// assert!(!LifecyclePolicy::default().may_roll_back_to(&v1));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn may_roll_back_to(&self, version: &ModelVersion) -> bool {
        !matches!(version.status(), ModelStatus::Active | ModelStatus::Retired)
            && version
                .metrics
                .as_ref()
                .is_some_and(|m| m.threshold_violations(&self.evaluation).is_empty())
    }

    /// Whether `version` may be deployed (activated or promoted) now, in
    /// `context`.
    ///
    /// Rejected: retired and deprecated versions (naming the replacement
    /// when known), and versions past an end of life their provider
    /// announced (a warning within `eol_warning_threshold_days` of it).
    /// With `enforce_performance_thresholds` (the default): a version with
    /// results whose metrics lack samples (saying how many more are
    /// needed) or break a threshold (observed against limit), and a version
    /// without results while another is active (one without results may
    /// become the first active version, and the decision says so). With
    /// `require_passing_judge` (the default): a version the judge fails
    /// against the active one (and a marginal one with
    /// `refuse_marginal_judgement`). And versions whose estimated cost of a
    /// [`TypicalRequest`] exceeds `max_cost_per_request`.
    pub fn can_deploy(
        &self,
        version: &ModelVersion,
        context: &DeploymentContext,
        now: DateTime<Utc>,
    ) -> DeploymentDecision {
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
        let has_results = version.metrics.as_ref().is_some_and(|m| m.sample_count > 0);
        let mut note = None;
        if !has_results {
            let min = self.evaluation.settings().min_samples;
            match (&context.active, settings.enforce_performance_thresholds) {
                (Some(active), true) => {
                    return reject(format!(
                        "{name} has no results yet and {active} is active: run it as a canary \
                         and record {min} results first, or override the policy with a reason \
                         (`--force --reason`, `force_activate_model`)"
                    ))
                }
                (None, true) => {
                    note = Some(format!(
                        " as the model's first active version: it has no results yet and \
                         nothing else is active (record {min} results to judge it)"
                    ));
                }
                (_, false) => warnings.push(format!(
                    "no results yet: {min} more samples needed (not enforced: \
                     policy.enforcePerformanceThresholds is off)"
                )),
            }
        } else if let Some(problem) = self.performance_problem(version) {
            if settings.enforce_performance_thresholds {
                return reject(format!("{name}: {problem}"));
            }
            warnings.push(format!(
                "{problem} (not enforced: policy.enforcePerformanceThresholds is off)"
            ));
        }
        if let Some(judged) = &context.judgement {
            let score = match judged.verdict {
                JudgeVerdict::NoData => String::new(),
                _ => format!(" (score {:.0})", judged.score),
            };
            let against = format!(
                "the canary judge gives {name} {} against {}{score}: {}",
                verdict_name(judged.verdict),
                judged.baseline,
                judged.summary
            );
            let refuses = match judged.verdict {
                JudgeVerdict::Fail => true,
                JudgeVerdict::Marginal => settings.refuse_marginal_judgement,
                JudgeVerdict::Pass | JudgeVerdict::NoData => false,
            };
            if refuses && settings.require_passing_judge {
                return reject(against);
            }
            match judged.verdict {
                JudgeVerdict::Pass => {}
                JudgeVerdict::NoData => warnings.push(against),
                _ => warnings.push(format!(
                    "{against} (not enforced: {})",
                    if settings.require_passing_judge {
                        "policy.refuseMarginalJudgement is off"
                    } else {
                        "policy.requirePassingJudge is off"
                    }
                )),
            }
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
            reason: match note {
                Some(note) => format!("{name} is approved{note}"),
                None => format!("{name} meets the deployment policy"),
            },
            replacement: None,
            warnings,
        }
    }

    /// What keeps the metrics of a version with results from passing, if anything.
    fn performance_problem(&self, version: &ModelVersion) -> Option<String> {
        let metrics = version.metrics.as_ref()?;
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

fn verdict_name(verdict: JudgeVerdict) -> &'static str {
    match verdict {
        JudgeVerdict::Pass => "pass",
        JudgeVerdict::Marginal => "marginal",
        JudgeVerdict::Fail => "fail",
        JudgeVerdict::NoData => "no verdict (a metric lacks data)",
    }
}
