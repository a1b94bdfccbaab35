//! End-of-life warnings and retirement: what the clock says about versions
//! we deprecated and versions whose provider announced an end of life.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{ModelId, ModelStatus, ModelVersion, Severity, Version};
use serde::{Deserialize, Serialize};

use crate::LifecyclePolicy;

/// Versions this close to (or past) end of life get a critical warning.
const CRITICAL_DAYS: i64 = 7;

/// Whose end of life a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndOfLifeSource {
    /// We deprecated the version (`deprecate`, or a promotion that replaced it).
    Deprecated,
    /// Its provider announced an end of life (say, LiteLLM's
    /// `deprecation_date`); the version is in any other state.
    Provider,
}

/// A version approaching or past its end of life: deprecated by us, or
/// announced by its provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeprecationWarning {
    /// The model.
    pub model_id: ModelId,
    /// The deprecated version.
    pub version: Version,
    /// Whole days until end of life; negative once past.
    pub days_until_eol: i64,
    /// When it reaches end of life.
    pub end_of_life: DateTime<Utc>,
    /// What to move to, when known.
    pub replacement: Option<Version>,
    /// Another model to move to, as the provider suggests, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_model: Option<ModelId>,
    /// Why it was deprecated.
    pub reason: String,
    /// Info beyond the policy's warning threshold, warning within it,
    /// critical under 7 days or past end of life; always critical for an
    /// active or canary version past its provider's end of life.
    pub severity: Severity,
    /// Who set the end of life.
    pub source: EndOfLifeSource,
    /// The version's status: whether it still serves traffic.
    pub status: ModelStatus,
}

impl LifecyclePolicy {
    /// One warning per version with an end of life among `versions` (not
    /// retired: deprecated by us, or announced by its provider), most
    /// urgent first.
    pub fn deprecation_warnings<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a ModelVersion>,
        now: DateTime<Utc>,
    ) -> Vec<DeprecationWarning> {
        let threshold = i64::from(self.policy().settings().eol_warning_threshold_days);
        let mut warnings: Vec<DeprecationWarning> = versions
            .into_iter()
            .filter(|v| !v.is_retired())
            .filter_map(|v| {
                let d = v.deprecation()?;
                let days = d.days_until_eol(now);
                let serving = matches!(v.status(), ModelStatus::Active | ModelStatus::Canary);
                let severity = if days < CRITICAL_DAYS || serving && d.is_past_eol(now) {
                    Severity::Critical
                } else if days <= threshold {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                let source = if v.is_deprecated() {
                    EndOfLifeSource::Deprecated
                } else {
                    EndOfLifeSource::Provider
                };
                Some(DeprecationWarning {
                    model_id: v.model_id.clone(),
                    version: v.version.clone(),
                    days_until_eol: days,
                    end_of_life: d.end_of_life,
                    replacement: d.replacement_version.clone(),
                    successor_model: d.successor_model.clone(),
                    reason: d.reason.clone(),
                    severity,
                    source,
                    status: v.status(),
                })
            })
            .collect();
        warnings.sort_by_key(|w| w.days_until_eol);
        warnings
    }

    /// Versions among `versions` whose end of life has come and that serve
    /// no traffic: deprecated ones, and inactive or testing ones past their
    /// provider's end of life. A maintenance run retires them when the
    /// policy's `enable_automatic_retirement` is on. An active or canary
    /// version is never retired here: it gets a critical warning instead.
    pub fn retirement_due<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a ModelVersion>,
        now: DateTime<Utc>,
    ) -> Vec<&'a ModelVersion> {
        versions
            .into_iter()
            .filter(|v| {
                matches!(
                    v.status(),
                    ModelStatus::Deprecated | ModelStatus::Inactive | ModelStatus::Testing
                )
            })
            .filter(|v| v.deprecation().is_some_and(|d| d.is_past_eol(now)))
            .collect()
    }
}
