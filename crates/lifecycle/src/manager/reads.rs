//! Reads: versions with their metrics, the audit log, reports, status.

use super::*;

impl ModelLifecycleManager {
    /// The model's active version, if any.
    pub async fn get_active_model(
        &self,
        model_id: &ModelId,
    ) -> Result<Option<ModelVersion>, LifecycleError> {
        let active = self
            .loaded(model_id)
            .await?
            .registry
            .active(model_id)
            .await?;
        Ok(active.map(|v| self.with_metrics(v)))
    }

    /// One version.
    pub async fn get_model(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, LifecycleError> {
        let record = self
            .loaded(model_id)
            .await?
            .registry
            .get(model_id, version)
            .await?;
        Ok(self.with_metrics(record))
    }

    /// `record` with the evaluator's lifetime metrics (see
    /// [`Deployments::with_metrics`]).
    fn with_metrics(&self, record: ModelVersion) -> ModelVersion {
        self.inner.deployments.with_metrics(record)
    }

    /// Every version of a model.
    pub async fn get_model_versions(
        &self,
        model_id: &ModelId,
    ) -> Result<Vec<ModelVersion>, LifecycleError> {
        let versions = self
            .loaded(model_id)
            .await?
            .registry
            .versions(model_id)
            .await?;
        Ok(versions.into_iter().map(|v| self.with_metrics(v)).collect())
    }

    /// Every version of every model, by model then version, with its
    /// lifetime metrics, in one pass over the store. A manager that loads
    /// on first use answers from the store's records and checkpoints and
    /// loads nothing.
    pub async fn get_all_model_versions(&self) -> Result<Vec<ModelVersion>, LifecycleError> {
        Ok(self.live()?.loader.catalogue().await?.versions)
    }

    /// The active version of every model that has one, by model, read as
    /// [`Self::get_all_model_versions`] reads.
    pub async fn get_active_models(&self) -> Result<Vec<ModelVersion>, LifecycleError> {
        let mut versions = self.get_all_model_versions().await?;
        versions.retain(|v| v.status() == ModelStatus::Active);
        Ok(versions)
    }

    /// Everything recorded about a model, oldest first.
    pub async fn get_model_history(
        &self,
        model_id: &ModelId,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        Ok(self.live()?.audit.history(model_id).await?)
    }

    /// The `limit` most recent audit entries, newest first.
    pub async fn get_recent_audit_entries(
        &self,
        limit: usize,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        Ok(self.live()?.audit.recent(limit).await?)
    }

    /// A compliance report of `[start, end)`.
    pub async fn generate_compliance_report(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<ComplianceReport, LifecycleError> {
        Ok(self.live()?.audit.compliance_report(start, end).await?)
    }

    /// Streams the audit entries of `[start, end)` to `writer`.
    pub async fn export_audit_log<W: Write>(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        format: ExportFormat,
        writer: W,
    ) -> Result<ExportSummary, LifecycleError> {
        Ok(self
            .live()?
            .audit
            .export(start, end, format, writer)
            .await?)
    }

    /// Counts by status, active models, canaries and their weights, alerts
    /// firing, deprecation warnings, store kind and size, the audit chain
    /// head and whether the chain verifies, uptime.
    pub async fn get_system_status(&self) -> Result<SystemStatus, LifecycleError> {
        let inner = self.live()?;
        let catalogue = inner.loader.catalogue().await?;
        let versions = catalogue.versions;
        let mut versions_by_status = BTreeMap::new();
        let (mut active, mut canaries) = (Vec::new(), Vec::new());
        for v in &versions {
            *versions_by_status.entry(v.status()).or_insert(0) += 1;
            match (v.status(), v.canary_weight()) {
                (ModelStatus::Active, _) => active.push((v.model_id.clone(), v.version.clone())),
                (ModelStatus::Canary, Some(w)) => {
                    canaries.push((v.model_id.clone(), v.version.clone(), w.percent()))
                }
                _ => {}
            }
        }
        let verified = inner.audit.verify_new_entries().await?;
        Ok(SystemStatus {
            store_kind: inner.store.kind(),
            store_size_bytes: inner.store.size_on_disk(),
            models: catalogue.models,
            versions_by_status,
            active,
            canaries,
            alerts_firing: catalogue.firing,
            deprecation_warnings: inner
                .deployments
                .policy()
                .deprecation_warnings(&versions, inner.clock.now()),
            audit_head: inner.store.audit_head().await?,
            audit_chain_verified: verified,
            uptime_secs: inner.started.elapsed().as_secs(),
        })
    }

    /// Entries recorded about `model_id` at or above `severity`, newest first.
    pub async fn get_alert_history(
        &self,
        model_id: &ModelId,
        severity: Severity,
    ) -> Result<Vec<AuditLogEntry>, LifecycleError> {
        let query = AuditQuery::all()
            .model(model_id.clone())
            .min_severity(severity)
            .newest_first();
        Ok(self.live()?.audit.query(&query).await?)
    }
}
