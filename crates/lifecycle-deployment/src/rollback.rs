//! Automatic rollback: a critical alert on the active version rolls the model
//! back to its last stable version; on a canary, it aborts the canary.

use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, ModelId, ModelStatus, ModelVersion, Severity, Version,
};
use lifecycle_evaluator::{Alert, AlertLevel};
use lifecycle_store::{AuditQuery, Commit, HeldLease};

use crate::{DeploymentError, Deployments};

/// What automatic rollback did about an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollback {
    /// Nothing to do: not critical, or the version no longer serves.
    Nothing,
    /// The alerting canary was aborted.
    CanaryAborted,
    /// The model was rolled back from the alerting active version to this one.
    RolledBack {
        /// The version now active.
        to: Version,
    },
    /// No version qualifies as a target; the finding is audited (critical)
    /// and the alerting version keeps serving.
    NoTarget,
}

impl Rollback {
    /// Whether the model's versions changed.
    pub fn moved(&self) -> bool {
        matches!(self, Self::CanaryAborted | Self::RolledBack { .. })
    }
}

impl Deployments {
    /// Reacts to `alert`: a critical one on a canary aborts it; on the
    /// active version, rolls back to the most recently active version that
    /// the policy says may take over (not retired, its lifetime metrics
    /// meeting every threshold), as `auto-rollback`. Each commit is fenced
    /// by `held` when it holds the alerts lease, so a manager that lost the
    /// lease rolls nothing back.
    pub async fn on_alert(
        &self,
        alert: &Alert,
        held: &HeldLease,
    ) -> Result<Rollback, DeploymentError> {
        if alert.level != AlertLevel::Critical {
            return Ok(Rollback::Nothing);
        }
        let actor = Actor::new("auto-rollback")?;
        let mut registry = self.registry.acting_as(actor.clone());
        if let Some(lease) = held.get() {
            registry = registry.holding(lease);
        }
        let versions = registry.versions(&alert.model_id).await?;
        let Some(hit) = versions.iter().find(|v| v.version == alert.version) else {
            return Ok(Rollback::Nothing);
        };
        let reason = format!("critical alert: {}", alert.message);
        match hit.status() {
            ModelStatus::Canary => {
                registry
                    .abort_canary_because(&alert.model_id, Some(&reason))
                    .await?;
                tracing::warn!(model = %alert.model_id, version = %alert.version,
                    %reason, "canary aborted automatically");
                Ok(Rollback::CanaryAborted)
            }
            ModelStatus::Active => match self.stable_target(&alert.model_id, &versions).await? {
                Some(to) => {
                    registry.rollback(&alert.model_id, &to, &reason).await?;
                    tracing::warn!(model = %alert.model_id, from = %alert.version, to = %to,
                        %reason, "rolled back automatically");
                    Ok(Rollback::RolledBack { to })
                }
                None => {
                    tracing::error!(model = %alert.model_id, version = %alert.version,
                        %reason, "no stable version to roll back to");
                    let now = self.clock.now();
                    let event = AuditEvent::new(
                        AuditEventKind::ModelRolledBack,
                        actor,
                        format!(
                            "no stable version of {} to roll back to; {reason}",
                            alert.model_id
                        ),
                        now,
                    )
                    .for_version(alert.model_id.clone(), alert.version.clone())
                    .with_severity(Severity::Critical)
                    .with_detail("outcome", "no target");
                    let commit = held.fence(Commit::audit_only().audit(event), now);
                    self.store.commit(commit).await?;
                    Ok(Rollback::NoTarget)
                }
            },
            _ => Ok(Rollback::Nothing),
        }
    }

    /// The most recently active other version that may take over: by when
    /// each version last stopped being active, which its record keeps. Only
    /// a model with a deprecated version written by an earlier build (which
    /// does not keep it) is looked up in the audit log, once nothing else
    /// qualifies.
    async fn stable_target(
        &self,
        model_id: &ModelId,
        versions: &[ModelVersion],
    ) -> Result<Option<Version>, DeploymentError> {
        let latest = versions
            .iter()
            .filter(|v| v.last_active_at().is_some() && self.may_take_over(v))
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

    /// The policy's word on `record`, judged on the evaluator's lifetime
    /// metrics alone (none when it has seen no results).
    fn may_take_over(&self, record: &ModelVersion) -> bool {
        let mut judged = record.clone();
        judged.metrics = None;
        self.policy.may_roll_back_to(&self.with_metrics(judged))
    }

    /// [`Self::stable_target`] for records of earlier builds: the model's
    /// audit log, newest first.
    async fn stable_target_in_log(
        &self,
        model_id: &ModelId,
        versions: &[ModelVersion],
    ) -> Result<Option<Version>, DeploymentError> {
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
            if self.may_take_over(record) {
                return Ok(Some(version));
            }
        }
        Ok(None)
    }
}
