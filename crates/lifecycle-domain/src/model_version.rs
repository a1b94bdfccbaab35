//! A registered model version: its description, its state, and the rules for changing it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::bounds::check_time;
use crate::{
    CanaryWeight, DomainError, EvaluationConfig, ModelCapabilities, ModelCostInfo,
    ModelDeprecationInfo, ModelId, ModelPerformanceMetrics, ModelStatus, ServingSpec, Version,
};

/// One version of one model, such as `gpt-4-turbo` `2.0.0`.
///
/// Descriptive fields are public; the status (with the canary weight and the
/// deprecation that go with it) changes only through the transition methods,
/// which follow [`ModelStatus::can_transition_to`]. A record read from outside
/// (JSON, a store) is checked with [`ModelVersion::validate`].
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use lifecycle_domain::*;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut v = ModelVersion::new(
///     ModelId::new("gpt-4-turbo")?,
///     Version::parse("2.0.0")?,
///     "openai",
///     ModelCapabilities::new(128_000, 4_096),
///     ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
///     now,
/// );
/// v.validate()?;
/// v.start_canary(CanaryWeight::new(5)?, now)?;
/// v.activate(now)?;
/// assert_eq!(v.status(), ModelStatus::Active);
/// assert!(v.retire(now).is_err(), "an active version is deprecated first");
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelVersion {
    /// The model this is a version of.
    pub model_id: ModelId,
    /// The version number.
    pub version: Version,
    /// Who serves it: `openai`, `anthropic`, `azure`, `self-hosted`, ...
    pub provider: String,
    /// A name for people; registering with an empty one names it
    /// `<model> <version>`.
    #[serde(default)]
    pub display_name: String,
    /// When the provider released it, if known.
    #[serde(default)]
    pub release_date: Option<NaiveDate>,
    /// Inactive when not given: what a registration needs.
    #[serde(default)]
    status: ModelStatus,
    /// What it can do.
    pub capabilities: ModelCapabilities,
    /// How to call it: the provider's model name, endpoint, request
    /// parameters and system prompt; what `route` hands the application.
    #[serde(default)]
    pub serving: ServingSpec,
    /// What it costs; `None` (JSON `null` or absent) when the price is not
    /// known: its costs are then unknown, never zero.
    #[serde(default)]
    pub cost_info: Option<ModelCostInfo>,
    /// Performance figures. The store's record does not keep them (metrics
    /// live in checkpoints); the facade fills them in from the evaluator
    /// when it returns a version. Records of earlier builds may carry the
    /// figures they last published.
    #[serde(default)]
    pub metrics: Option<ModelPerformanceMetrics>,
    #[serde(default)]
    deprecation: Option<ModelDeprecationInfo>,
    #[serde(default)]
    canary_weight: Option<CanaryWeight>,
    /// When it last stopped being the active version: what a rollback
    /// target is chosen by, without reading the audit log. Absent from
    /// records that never served (and from those written by earlier builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_active_at: Option<DateTime<Utc>>,
    /// Free labels for search and grouping.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// When it was registered (set by the registry on registration).
    #[serde(default)]
    pub created_at: DateTime<Utc>,
    /// When it last changed (set by the registry).
    #[serde(default)]
    pub updated_at: DateTime<Utc>,
    /// The model's revision when this record was last written; set by the store.
    #[serde(default)]
    pub revision: u64,
}

impl ModelVersion {
    /// Longest provider name, in bytes.
    pub const MAX_PROVIDER_LEN: usize = 64;
    /// Longest display name, tag or description, in bytes.
    pub const MAX_TEXT_LEN: usize = 4096;

    /// A new, inactive version, registered at `now`, named after its model.
    /// `cost_info` is a [`ModelCostInfo`], or `None` when the price is unknown.
    pub fn new(
        model_id: ModelId,
        version: Version,
        provider: impl Into<String>,
        capabilities: ModelCapabilities,
        cost_info: impl Into<Option<ModelCostInfo>>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            display_name: format!("{model_id} {version}"),
            model_id,
            version,
            provider: provider.into(),
            release_date: None,
            status: ModelStatus::Inactive,
            capabilities,
            serving: ServingSpec::default(),
            cost_info: cost_info.into(),
            metrics: None,
            deprecation: None,
            canary_weight: None,
            last_active_at: None,
            tags: BTreeSet::new(),
            description: None,
            created_at: now,
            updated_at: now,
            revision: 0,
        }
    }

    /// The same, called as `serving` says.
    pub fn with_serving(mut self, serving: ServingSpec) -> Self {
        self.serving = serving;
        self
    }

    /// The model name to send the provider: [`ServingSpec::provider_model`],
    /// or the model id when none was given.
    pub fn provider_model(&self) -> &str {
        self.serving.provider_model_of(&self.model_id)
    }

    /// Its serving specification with the provider model name always set
    /// (see [`Self::provider_model`]): what a caller is told to call.
    pub fn resolved_serving(&self) -> ServingSpec {
        ServingSpec {
            provider_model: Some(self.provider_model().to_string()),
            ..self.serving.clone()
        }
    }

    /// Where it stands in its lifecycle.
    pub fn status(&self) -> ModelStatus {
        self.status
    }

    /// Its canary weight, while it is a canary.
    pub fn canary_weight(&self) -> Option<CanaryWeight> {
        self.canary_weight
    }

    /// When it last stopped being the active version; `None` while it
    /// is active for the first time, if it never was, and in records
    /// written by earlier builds.
    pub fn last_active_at(&self) -> Option<DateTime<Utc>> {
        self.last_active_at
    }

    /// Its deprecation, once deprecated (kept after retirement).
    pub fn deprecation(&self) -> Option<&ModelDeprecationInfo> {
        self.deprecation.as_ref()
    }

    /// Whether it may serve production traffic: active, canary, or deprecated
    /// but not yet retired.
    pub fn is_usable(&self) -> bool {
        matches!(
            self.status,
            ModelStatus::Active | ModelStatus::Canary | ModelStatus::Deprecated
        )
    }

    /// Whether it is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.status == ModelStatus::Deprecated
    }

    /// Whether it is retired.
    pub fn is_retired(&self) -> bool {
        self.status == ModelStatus::Retired
    }

    /// Whole days until end of life (see [`ModelDeprecationInfo::days_until_eol`]),
    /// or `None` when it is not deprecated.
    pub fn days_until_eol(&self, now: DateTime<Utc>) -> Option<i64> {
        match self.status {
            ModelStatus::Deprecated => self.deprecation.as_ref().map(|d| d.days_until_eol(now)),
            _ => None,
        }
    }

    /// Whether its published metrics meet every threshold, enough samples
    /// included. A version without metrics does not.
    pub fn meets_performance_thresholds(&self, config: &EvaluationConfig) -> bool {
        self.metrics
            .as_ref()
            .is_some_and(|m| m.threshold_violations(config).is_empty())
    }

    /// The exact cost of one request of the given size at its prices, or
    /// `None` when its price is unknown.
    pub fn estimate_cost(&self, input_tokens: u64, output_tokens: u64) -> Option<Decimal> {
        self.cost_info
            .as_ref()
            .map(|price| price.estimate_cost(input_tokens, output_tokens))
    }

    /// Deploys it for testing.
    pub fn deploy_to_testing(&mut self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.move_to(ModelStatus::Testing, now)
    }

    /// Makes it a canary receiving `weight` of the traffic.
    pub fn start_canary(
        &mut self,
        weight: CanaryWeight,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        self.move_to(ModelStatus::Canary, now)?;
        self.canary_weight = Some(weight);
        Ok(())
    }

    /// Changes the traffic share of a canary.
    pub fn set_canary_weight(
        &mut self,
        weight: CanaryWeight,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if self.status != ModelStatus::Canary {
            return Err(DomainError::field(
                "canaryWeight",
                format!(
                    "{} {} is {}, not a canary; start a canary first",
                    self.model_id, self.version, self.status
                ),
            ));
        }
        self.canary_weight = Some(weight);
        self.updated_at = now;
        Ok(())
    }

    /// Makes it the version serving traffic (also how a canary is promoted and
    /// how a rollback target comes back). Clears our deprecation of a
    /// deprecated version; an end of life its provider announced stays.
    pub fn activate(&mut self, now: DateTime<Utc>) -> Result<(), DomainError> {
        let was_deprecated = self.is_deprecated();
        self.move_to(ModelStatus::Active, now)?;
        if was_deprecated {
            self.deprecation = None;
        }
        Ok(())
    }

    /// Takes it out of service without deprecating it (also how a canary is aborted).
    pub fn deactivate(&mut self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.move_to(ModelStatus::Inactive, now)
    }

    /// Deprecates it; `deprecation.deprecated_at` should be `now`.
    pub fn deprecate(
        &mut self,
        deprecation: ModelDeprecationInfo,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        deprecation.validate()?;
        self.move_to(ModelStatus::Deprecated, now)?;
        self.deprecation = Some(deprecation);
        Ok(())
    }

    /// Records an end of life the provider announced, ahead of deprecating
    /// the version here: its status stays; deprecating it later replaces
    /// this. Policies and reports see the date through [`Self::deprecation`].
    pub fn announce_end_of_life(
        &mut self,
        announced: ModelDeprecationInfo,
    ) -> Result<(), DomainError> {
        announced.validate()?;
        self.deprecation = Some(announced);
        Ok(())
    }

    /// Retires it for good.
    pub fn retire(&mut self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.move_to(ModelStatus::Retired, now)
    }

    fn move_to(&mut self, to: ModelStatus, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.status.check_transition(to)?;
        if self.status == ModelStatus::Active && to != ModelStatus::Active {
            self.last_active_at = Some(now);
        }
        self.status = to;
        self.canary_weight = None;
        self.updated_at = now;
        Ok(())
    }

    /// Checks every field and the consistency between them: a canary has a
    /// weight and nothing else does, a deprecated version has its deprecation,
    /// texts are within their lengths, prices and limits are valid.
    pub fn validate(&self) -> Result<(), DomainError> {
        let provider_ok = !self.provider.is_empty()
            && self.provider.len() <= Self::MAX_PROVIDER_LEN
            && self
                .provider
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !provider_ok {
            return Err(DomainError::field(
                "provider",
                format!(
                    "{:?} is not a provider name; use 1 to {} letters, digits, - _ or ., such as openai",
                    self.provider,
                    Self::MAX_PROVIDER_LEN
                ),
            ));
        }
        check_text("displayName", &self.display_name)?;
        if let Some(description) = &self.description {
            check_text("description", description)?;
        }
        for tag in &self.tags {
            check_text("tags", tag)?;
        }
        self.capabilities.validate()?;
        self.serving.validate()?;
        if let Some(cost_info) = &self.cost_info {
            cost_info.validate()?;
        }
        check_time("createdAt", self.created_at)?;
        check_time("updatedAt", self.updated_at)?;
        if let Some(date) = self.release_date {
            let year = chrono::Datelike::year(&date);
            if !(1970..=9999).contains(&year) {
                return Err(DomainError::field(
                    "releaseDate",
                    format!("{date} is outside 1970-01-01 to 9999-12-31"),
                ));
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.validate()?;
        }
        if let Some(deprecation) = &self.deprecation {
            deprecation.validate()?;
        }
        let is_canary = self.status == ModelStatus::Canary;
        if is_canary != self.canary_weight.is_some() {
            return Err(DomainError::field(
                "canaryWeight",
                format!(
                    "a {} version {} a canary weight; only canaries have one",
                    self.status,
                    if is_canary { "lacks" } else { "has" }
                ),
            ));
        }
        if self.status == ModelStatus::Deprecated && self.deprecation.is_none() {
            return Err(DomainError::field(
                "deprecation",
                "a deprecated version needs its deprecation (reason, end of life)",
            ));
        }
        if self.updated_at < self.created_at {
            return Err(DomainError::field(
                "updatedAt",
                "is earlier than createdAt; check the clock of whoever wrote this record",
            ));
        }
        Ok(())
    }
}

fn check_text(field: &'static str, text: &str) -> Result<(), DomainError> {
    if text.trim().is_empty() || text.len() > ModelVersion::MAX_TEXT_LEN {
        return Err(DomainError::field(
            field,
            format!(
                "must hold 1 to {} bytes of text, not blank",
                ModelVersion::MAX_TEXT_LEN
            ),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(DomainError::field(
            field,
            "must not hold control characters",
        ));
    }
    Ok(())
}
