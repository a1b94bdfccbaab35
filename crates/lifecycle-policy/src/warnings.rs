//! Deprecation warnings and retirement: what the clock says about deprecated versions.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{ModelId, ModelVersion, Severity, Version};
use serde::{Deserialize, Serialize};

use crate::LifecyclePolicy;

/// Versions this close to (or past) end of life get a critical warning.
const CRITICAL_DAYS: i64 = 7;

/// A deprecated version approaching or past its end of life.
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
    /// Why it was deprecated.
    pub reason: String,
    /// Info beyond the policy's warning threshold, warning within it,
    /// critical under 7 days or past end of life.
    pub severity: Severity,
}

impl LifecyclePolicy {
    /// One warning per deprecated version among `versions`, most urgent first.
    pub fn deprecation_warnings<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a ModelVersion>,
        now: DateTime<Utc>,
    ) -> Vec<DeprecationWarning> {
        let threshold = i64::from(self.policy().settings().eol_warning_threshold_days);
        let mut warnings: Vec<DeprecationWarning> = versions
            .into_iter()
            .filter(|v| v.is_deprecated())
            .filter_map(|v| {
                let d = v.deprecation()?;
                let days = d.days_until_eol(now);
                let severity = if days < CRITICAL_DAYS {
                    Severity::Critical
                } else if days <= threshold {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                Some(DeprecationWarning {
                    model_id: v.model_id.clone(),
                    version: v.version.clone(),
                    days_until_eol: days,
                    end_of_life: d.end_of_life,
                    replacement: d.replacement_version.clone(),
                    reason: d.reason.clone(),
                    severity,
                })
            })
            .collect();
        warnings.sort_by_key(|w| w.days_until_eol);
        warnings
    }

    /// Deprecated versions among `versions` whose end of life has come.
    /// A maintenance run retires them when the policy's
    /// `enable_automatic_retirement` is on.
    pub fn retirement_due<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a ModelVersion>,
        now: DateTime<Utc>,
    ) -> Vec<&'a ModelVersion> {
        versions
            .into_iter()
            .filter(|v| v.is_deprecated())
            .filter(|v| v.deprecation().is_some_and(|d| d.is_past_eol(now)))
            .collect()
    }
}
