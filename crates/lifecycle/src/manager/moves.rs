//! Lifecycle moves: registration, deployment through the policy's gate,
//! canaries, deprecation, retirement, maintenance.

use super::*;

impl ModelLifecycleManager {
    /// Registers a new, inactive version and starts tracking its metrics.
    pub async fn register_model(
        &self,
        version: ModelVersion,
    ) -> Result<ModelVersion, LifecycleError> {
        let inner = self.loaded(&version.model_id).await?;
        let stored = self.acting_registry(inner).register(version).await?;
        tracing::info!(model = %stored.model_id, version = %stored.version, provider = %stored.provider,
            "model version registered");
        inner.evaluator.track(&stored);
        Ok(stored)
    }

    /// Registers many versions, as [`Self::register_model`] does each: one
    /// result per version, in order. The versions of one model are
    /// registered one after another, in the order given (so of two entries
    /// naming one version, the later is the one refused); up to 64 models
    /// at once, so that their commits share flushes (group commit), and
    /// tracking is updated once: this is how a catalogue is imported.
    pub async fn register_models(
        &self,
        versions: Vec<ModelVersion>,
    ) -> Vec<Result<ModelVersion, LifecycleError>> {
        const IN_FLIGHT: usize = 64;
        let mut results: Vec<Option<Result<ModelVersion, LifecycleError>>> =
            versions.iter().map(|_| None).collect();
        // Each model's entries, in the order given; models by first appearance.
        let mut by_model: Vec<(ModelId, Vec<(usize, ModelVersion)>)> = Vec::new();
        let mut slot: std::collections::HashMap<ModelId, usize> = Default::default();
        for (index, version) in versions.into_iter().enumerate() {
            let at = *slot.entry(version.model_id.clone()).or_insert_with(|| {
                by_model.push((version.model_id.clone(), Vec::new()));
                by_model.len() - 1
            });
            by_model[at].1.push((index, version));
        }
        let mut running = tokio::task::JoinSet::new();
        let mut pending = by_model.into_iter();
        loop {
            while running.len() < IN_FLIGHT {
                let Some((_, entries)) = pending.next() else {
                    break;
                };
                let manager = self.clone();
                running.spawn(async move {
                    let mut done = Vec::with_capacity(entries.len());
                    for (index, version) in entries {
                        let registered = match manager.live() {
                            Ok(inner) => manager
                                .acting_registry(inner)
                                .register(version)
                                .await
                                .map_err(Into::into),
                            Err(e) => Err(e),
                        };
                        done.push((index, registered));
                    }
                    done
                });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            match done {
                Ok(done) => {
                    for (index, registered) in done {
                        results[index] = Some(registered);
                    }
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let registered: Vec<ModelVersion> = results
            .iter()
            .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok()).cloned())
            .collect();
        tracing::info!(count = registered.len(), "model versions registered");
        self.inner.evaluator.track_all(&registered);
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(LifecycleError::Disposed)))
            .collect()
    }

    /// Activates a version after the policy approves it (an audited
    /// decision; a rejection is [`LifecycleError::Rejected`]). The previous
    /// active version is deprecated or deactivated, as the policy says.
    pub async fn activate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Version(version), None).await
    }

    /// Promotes the model's canary after the policy approves it, like `activate_model`.
    pub async fn promote_canary(&self, model_id: &ModelId) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Canary, None).await
    }

    /// Activates a version even if the policy refuses it: the emergency
    /// override. The decision is audited as usual; when it is a refusal,
    /// the activation's own audit entry records `reason` and what was
    /// refused, at warning severity. An approved version is activated as
    /// [`Self::activate_model`] does. `reason` is required: 1 to 1,000
    /// printable characters.
    pub async fn force_activate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
        reason: &str,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Version(version), Some(reason))
            .await
    }

    /// Promotes the canary even if the policy refuses it, as
    /// [`Self::force_activate_model`] activates a version.
    pub async fn force_promote_canary(
        &self,
        model_id: &ModelId,
        reason: &str,
    ) -> Result<Deployed, LifecycleError> {
        self.deploy(model_id, Target::Canary, Some(reason)).await
    }

    /// Asks the policy, then makes the move, in one commit at one revision
    /// (see [`Deployments::deploy`]).
    async fn deploy(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
        forced: Option<&str>,
    ) -> Result<Deployed, LifecycleError> {
        let inner = self.loaded(model_id).await?;
        let deployed = self
            .acting_deployments(inner)
            .deploy(model_id, target, forced)
            .await?;
        let version = self.retracked(model_id, Ok(deployed.version)).await?;
        Ok(Deployed {
            version,
            decision: deployed.decision,
        })
    }

    /// Moves a registered version into testing (before a canary).
    pub async fn deploy_to_testing(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .deploy_to_testing(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Takes a version out of service without deprecating it.
    pub async fn deactivate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .deactivate(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Rolls back to `target`; the current version is marked rolled back.
    pub async fn rollback_model(
        &self,
        model_id: &ModelId,
        target: &Version,
        reason: &str,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .rollback(model_id, target, reason)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Deprecates a version: reason, replacement, grace period (the policy's default when `None`).
    pub async fn deprecate_model(
        &self,
        model_id: &ModelId,
        version: &Version,
        reason: &str,
        replacement_version: Option<&Version>,
        grace_period_days: Option<u32>,
    ) -> Result<ModelVersion, LifecycleError> {
        let registry = self.registry_for(model_id).await?;
        let changed = registry
            .deprecate(
                model_id,
                version,
                reason,
                replacement_version,
                grace_period_days,
            )
            .await;
        self.retracked(model_id, changed).await
    }

    /// Retires a version for good; results for it are refused from then on.
    pub async fn retire_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .retire(model_id, version)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Starts a canary on `weight` of the model's traffic.
    pub async fn start_canary(
        &self,
        model_id: &ModelId,
        version: &Version,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .start_canary(model_id, version, weight)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Changes the canary's share of traffic.
    pub async fn set_canary_weight(
        &self,
        model_id: &ModelId,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, LifecycleError> {
        Ok(self
            .registry_for(model_id)
            .await?
            .set_canary_weight(model_id, weight)
            .await?)
    }

    /// Stops the canary.
    pub async fn abort_canary(&self, model_id: &ModelId) -> Result<ModelVersion, LifecycleError> {
        let changed = self
            .registry_for(model_id)
            .await?
            .abort_canary(model_id)
            .await;
        self.retracked(model_id, changed).await
    }

    /// Whether a version may be deployed now; the decision is audited.
    pub async fn can_deploy_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<DeploymentDecision, LifecycleError> {
        let inner = self.loaded(model_id).await?;
        Ok(self
            .acting_deployments(inner)
            .can_deploy(model_id, version)
            .await?)
    }

    /// Every deprecated version's warning, most urgent first.
    pub async fn get_deprecation_warnings(
        &self,
    ) -> Result<Vec<DeprecationWarning>, LifecycleError> {
        Ok(self.live()?.deployments.deprecation_warnings().await?)
    }

    /// Retires every version past its end of life (when the policy's
    /// automatic retirement is on), one audited commit each, as
    /// `system:maintenance`, on one manager at a time (a lease); returns
    /// what it retired and the warnings left.
    pub async fn run_maintenance(&self) -> Result<MaintenanceReport, LifecycleError> {
        let inner = self.live()?;
        let report = inner.deployments.run_maintenance(&inner.holder).await?;
        for retired in &report.retired {
            self.retrack(&retired.model_id).await?;
        }
        Ok(report)
    }
}
