//! The deployment gate: the policy's decision and the activation it allows,
//! in one commit at one revision.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, DomainError, ModelId, ModelStatus, ModelVersion, Severity,
    Version,
};
use lifecycle_evaluator::{ComparisonConfig, ComparisonReport, Verdict};
use lifecycle_policy::{DeploymentContext, DeploymentDecision, JudgeVerdict, Judgement};
use lifecycle_registry::{Gate, Override, Target};
use lifecycle_store::{Commit, ModelState};

use crate::{DeploymentError, Deployments};

/// What an activation or a promotion did: the version, now active, and
/// the policy's decision on it (audited). Only a forced deployment can
/// carry a refusal; its override is recorded with the activation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Deployed {
    /// The version as it now is: active.
    pub version: ModelVersion,
    /// The policy's decision: why it was approved (as the model's first
    /// version without results, say), or, when forced, what was refused.
    pub decision: DeploymentDecision,
}

impl Deployments {
    /// Makes `target` active if the policy approves it, in one commit at one
    /// revision: the decision's audit entry lands with the activation (or
    /// alone, for a refusal), judged on the model as that commit finds it.
    /// A refusal is [`DeploymentError::Rejected`] unless `forced` gives the
    /// reason to override it (1 to 1,000 printable characters), which the
    /// activation's entry then records at warning severity.
    pub async fn deploy(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
        forced: Option<&str>,
    ) -> Result<Deployed, DeploymentError> {
        if let Some(reason) = forced {
            check_reason(reason)?;
        }
        let actor = self.actor();
        // Asked again on each attempt: the registry retries on a concurrent change.
        let gate = |state: &ModelState, record: &ModelVersion, now| {
            let decision = self.decide(state, record, now);
            let event = decision_event(actor, record, &decision, now);
            let gate = match (decision.approved, forced) {
                (true, _) => Gate::Allow {
                    decision: Some(event),
                    forced: None,
                },
                (false, Some(reason)) => Gate::Allow {
                    decision: Some(event),
                    forced: Some(Override {
                        reason: reason.trim().to_string(),
                        refused: decision.reason.clone(),
                    }),
                },
                (false, None) => Gate::Refuse { decision: event },
            };
            (gate, decision)
        };
        let (moved, decision) = self.registry.deploy(model_id, target, gate).await?;
        let Some(version) = moved else {
            tracing::warn!(model = %model_id, reason = %decision.reason,
                "deployment rejected by policy");
            return Err(DeploymentError::Rejected(Box::new(decision)));
        };
        if !decision.approved {
            tracing::warn!(model = %model_id, version = %version.version,
                refused = %decision.reason, "policy overridden");
        }
        Ok(Deployed { version, decision })
    }

    /// Whether `version` may be deployed now, without deploying it; the
    /// decision is audited (alone).
    pub async fn can_deploy(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<DeploymentDecision, DeploymentError> {
        let state = self.store.model(model_id).await?;
        let now = self.clock.now();
        let record = self.registry.get(model_id, version).await?;
        let decision = self.decide(&state, &record, now);
        let event = decision_event(self.actor(), &record, &decision, now);
        self.store.commit(Commit::audit_only().audit(event)).await?;
        Ok(decision)
    }

    /// The policy's decision on deploying `record` into the model `state`
    /// holds, judged on what the evaluator sees now when it has seen
    /// anything: thresholds, the canary judge against the active version,
    /// cost. Pure but for the evaluator's in-memory windows.
    fn decide(
        &self,
        state: &ModelState,
        record: &ModelVersion,
        now: DateTime<Utc>,
    ) -> DeploymentDecision {
        let model_id = record.model_id.as_str();
        let version = &record.version;
        // Its lifetime figures, and its window's when it has recent results.
        let mut record = self.with_metrics(record.clone());
        let window = |v: &Version| {
            self.evaluator
                .window_metrics(model_id, v)
                .ok()
                .filter(|w| w.sample_count > 0)
        };
        let candidate_window = window(version);
        if let Some(recent) = candidate_window.clone() {
            record.metrics = Some(recent);
        }
        let mut context = DeploymentContext::first();
        let active = state
            .versions
            .iter()
            .find(|v| v.status() == ModelStatus::Active && &v.version != version);
        if let Some(active) = active {
            context = DeploymentContext::replacing(active.version.clone());
            if candidate_window.is_some() {
                let judged = match window(&active.version) {
                    Some(_) => self
                        .evaluator
                        .compare(
                            model_id,
                            &active.version,
                            version,
                            &ComparisonConfig::default(),
                        )
                        .ok()
                        .map(|report| judgement(&report)),
                    // Said, not silent: the thresholds alone decide.
                    None => Some(Judgement {
                        baseline: active.version.clone(),
                        verdict: JudgeVerdict::NoData,
                        score: 0.0,
                        summary: format!(
                            "{} has no results in its window to compare with",
                            active.version
                        ),
                    }),
                };
                if let Some(judged) = judged {
                    context = context.judged(judged);
                }
            }
        }
        self.policy.can_deploy(&record, &context, now)
    }
}

/// An override's reason: said, printable, short enough for one audit entry.
fn check_reason(reason: &str) -> Result<(), DomainError> {
    let reason_ok = !reason.trim().is_empty()
        && reason.chars().count() <= 1_000
        && !reason.chars().any(char::is_control);
    if reason_ok {
        return Ok(());
    }
    Err(DomainError::field(
        "reason",
        "an override needs its reason: 1 to 1,000 printable characters, such as \"incident 4711: v1 is down\"",
    ))
}

/// The audit entry of a deployment decision on `record`.
fn decision_event(
    actor: &Actor,
    record: &ModelVersion,
    decision: &DeploymentDecision,
    now: DateTime<Utc>,
) -> AuditEvent {
    let severity = if decision.approved {
        Severity::Info
    } else {
        Severity::Warning
    };
    AuditEvent::new(
        AuditEventKind::DeploymentDecision,
        actor.clone(),
        decision.reason.clone(),
        now,
    )
    .for_version(record.model_id.clone(), record.version.clone())
    .with_severity(severity)
    .with_approval(decision.approved)
}

/// The judge's report as the policy weighs it.
fn judgement(report: &ComparisonReport) -> Judgement {
    Judgement {
        baseline: report.baseline.clone(),
        verdict: match report.verdict {
            Verdict::Pass => JudgeVerdict::Pass,
            Verdict::Marginal => JudgeVerdict::Marginal,
            Verdict::Fail => JudgeVerdict::Fail,
            Verdict::NoData => JudgeVerdict::NoData,
        },
        score: report.score,
        summary: report.summary.clone(),
    }
}
