//! Automatic rollback: a critical alert on the active version rolls the model
//! back to its last stable version; on a canary, it aborts the canary.

use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, ModelId, ModelStatus, ModelVersion, Severity, Version,
};
use lifecycle_evaluator::{Alert, AlertLevel, Evaluator};
use lifecycle_registry::ModelRegistry;
use lifecycle_store::{AuditQuery, Clock, Commit, HeldLease, Store};
use std::sync::Arc;

/// What the rollback needs. The alert auditor hands it every alert right
/// after writing it, so the audit log shows the alert before the rollback.
pub(crate) struct AutoRollback {
    pub registry: ModelRegistry,
    pub evaluator: Evaluator,
    pub loader: Arc<crate::loader::Loader>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub evaluation: lifecycle_domain::EvaluationConfig,
    /// The alerts lease, when the scheduled checker holds it: rollbacks are
    /// fenced by it, so a manager that lost it rolls nothing back.
    pub held: HeldLease,
}

impl AutoRollback {
    /// Reacts to a critical alert; other alerts need nothing.
    pub async fn on_alert(&self, alert: Alert) {
        if alert.level != AlertLevel::Critical {
            return;
        }
        // A failure is logged; the next alert still counts.
        if let Err(e) = self.react(&alert).await {
            tracing::error!(model = %alert.model_id, version = %alert.version,
                error = %e, "automatic rollback failed");
        }
    }

    async fn react(&self, alert: &Alert) -> Result<(), crate::LifecycleError> {
        let actor = Actor::new("auto-rollback")?;
        let mut registry = self.registry.acting_as(actor.clone());
        if let Some(lease) = self.held.get() {
            registry = registry.holding(lease);
        }
        let versions = registry.versions(&alert.model_id).await?;
        let Some(hit) = versions.iter().find(|v| v.version == alert.version) else {
            return Ok(());
        };
        let reason = format!("critical alert: {}", alert.message);
        match hit.status() {
            ModelStatus::Canary => {
                registry
                    .abort_canary_because(&alert.model_id, Some(&reason))
                    .await?;
                tracing::warn!(model = %alert.model_id, version = %alert.version,
                    %reason, "canary aborted automatically");
            }
            ModelStatus::Active => match self.stable_target(&alert.model_id, &versions).await? {
                Some(target) => {
                    registry.rollback(&alert.model_id, &target, &reason).await?;
                    tracing::warn!(model = %alert.model_id, from = %alert.version, to = %target,
                        %reason, "rolled back automatically");
                }
                None => {
                    tracing::error!(model = %alert.model_id, version = %alert.version,
                        %reason, "no stable version to roll back to");
                    let event = AuditEvent::new(
                        AuditEventKind::ModelRolledBack,
                        actor,
                        format!(
                            "no stable version of {} to roll back to; {reason}",
                            alert.model_id
                        ),
                        self.clock.now(),
                    )
                    .for_version(alert.model_id.clone(), alert.version.clone())
                    .with_severity(Severity::Critical)
                    .with_detail("outcome", "no target");
                    let commit = self
                        .held
                        .fence(Commit::audit_only().audit(event), self.clock.now());
                    self.store.commit(commit).await?;
                }
            },
            _ => return Ok(()),
        }
        self.loader.retrack(&alert.model_id).await
    }

    /// The most recently active other version that is not retired and whose
    /// lifetime metrics meet every threshold: by when each version last
    /// stopped being active, which its record keeps. Only a model with a
    /// deprecated version written by an earlier build (which does not keep
    /// it) is looked up in the audit log, once nothing else qualifies.
    async fn stable_target(
        &self,
        model_id: &ModelId,
        versions: &[ModelVersion],
    ) -> Result<Option<Version>, crate::LifecycleError> {
        let latest = versions
            .iter()
            .filter(|v| v.last_active_at().is_some() && self.may_take_over(model_id, v))
            .max_by_key(|v| v.last_active_at());
        if let Some(target) = latest {
            return Ok(Some(target.version.clone()));
        }
        let unknown = versions
            .iter()
            .any(|v| v.last_active_at().is_none() && v.status() == ModelStatus::Deprecated);
        if !unknown {
            return Ok(None);
        }
        self.stable_target_in_log(model_id, versions).await
    }

    /// Whether `record`, once active, may be rolled back to: not serving
    /// now, not retired, and meeting every threshold over its lifetime.
    fn may_take_over(&self, model_id: &ModelId, record: &ModelVersion) -> bool {
        !matches!(record.status(), ModelStatus::Active | ModelStatus::Retired)
            && self
                .evaluator
                .lifetime_metrics(model_id.as_str(), &record.version)
                .is_ok_and(|m| m.threshold_violations(&self.evaluation).is_empty())
    }

    /// [`Self::stable_target`] for records of earlier builds: the model's
    /// audit log, newest first.
    async fn stable_target_in_log(
        &self,
        model_id: &ModelId,
        versions: &[ModelVersion],
    ) -> Result<Option<Version>, crate::LifecycleError> {
        let history = self
            .store
            .audit(&AuditQuery::all().model(model_id.clone()).newest_first())
            .await?;
        for entry in history {
            let was_active = entry.event.status() == Some(ModelStatus::Active);
            let Some(version) = entry.event.version.filter(|_| was_active) else {
                continue;
            };
            let Some(record) = versions.iter().find(|v| v.version == version) else {
                continue;
            };
            if self.may_take_over(model_id, record) {
                return Ok(Some(version));
            }
        }
        Ok(None)
    }
}
