//! Automatic rollback as the facade wires it: the alert auditor hands every
//! alert to [`Deployments::on_alert`] right after writing it (so the audit
//! log shows the alert before the rollback), and the evaluator is told the
//! model's versions as they then are.

use std::sync::Arc;

use lifecycle_deployment::Deployments;
use lifecycle_evaluator::Alert;
use lifecycle_store::HeldLease;

pub(crate) struct AutoRollback {
    pub deployments: Deployments,
    pub loader: Arc<crate::loader::Loader>,
    /// The alerts lease, when the scheduled checker holds it: rollbacks are
    /// fenced by it, so a manager that lost it rolls nothing back.
    pub held: HeldLease,
}

impl AutoRollback {
    /// Reacts to an alert; a failure is logged, and the next alert still counts.
    pub async fn on_alert(&self, alert: Alert) {
        let reacted = match self.deployments.on_alert(&alert, &self.held).await {
            Ok(done) if done.moved() => self.loader.retrack(&alert.model_id).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = reacted {
            tracing::error!(model = %alert.model_id, version = %alert.version,
                error = %e, "automatic rollback failed");
        }
    }
}
