//! `StoreImage`: everything a store holds, to copy it whole (backups).

use std::collections::BTreeSet;

use lifecycle_domain::{verify_chain, AuditLogEntry};
use serde::{Deserialize, Serialize};

use crate::commit::check_single_active;
use crate::{AuditCheckpoint, MetricsSnapshot, ModelState, Store, StoreError};

/// Everything a store holds: model records with their revisions, the audit
/// log as sealed (with the checkpoint left by pruning), and the metrics
/// checkpoints. [`Store::import`] loads one into an empty store.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreImage {
    /// Every model, each with at least one version.
    pub models: Vec<ModelState>,
    /// The checkpoint the kept audit entries verify from, if any were pruned.
    pub audit_checkpoint: Option<AuditCheckpoint>,
    /// The audit entries, in sequence order.
    pub audit: Vec<AuditLogEntry>,
    /// Metrics checkpoints of registered versions.
    pub metrics: Vec<MetricsSnapshot>,
}

impl StoreImage {
    /// Reads everything `store` holds. Each model is read in one consistent
    /// view; writes made while it reads may be in some parts and not others.
    pub async fn read(store: &dyn Store) -> Result<Self, StoreError> {
        let mut image = Self::default();
        for (state, metrics) in Self::read_models(store).await? {
            image.models.push(state);
            image.metrics.extend(metrics);
        }
        image.audit_checkpoint = store.audit_checkpoint().await?;
        image.audit = store.audit(&crate::AuditQuery::all()).await?;
        Ok(image)
    }

    /// Every model's record, each read in one consistent view, with the
    /// metrics checkpoints of its versions: the image without its audit log
    /// (which a caller may rather page through).
    pub async fn read_models(
        store: &dyn Store,
    ) -> Result<Vec<(ModelState, Vec<MetricsSnapshot>)>, StoreError> {
        // Two passes over the store, not one read per model and version.
        let mut checkpoints: std::collections::HashMap<_, _> = store
            .all_metrics()
            .await?
            .into_iter()
            .map(|s| ((s.model_id.clone(), s.version.clone()), s))
            .collect();
        let mut models = Vec::new();
        for (model_id, state) in store.all_models().await? {
            let metrics = state
                .versions
                .iter()
                .filter_map(|v| checkpoints.remove(&(model_id.clone(), v.version.clone())))
                .collect();
            models.push((state, metrics));
        }
        Ok(models)
    }

    /// Checks what [`Store::import`] relies on: every model has versions of
    /// that model only, each once and valid, at most one active and one
    /// canary, a revision; the audit chain verifies from the checkpoint;
    /// every metrics checkpoint belongs to a version in the image.
    pub fn check(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| Err(StoreError::InvalidImage { reason });
        let mut models = BTreeSet::new();
        let mut versions = BTreeSet::new();
        for state in &self.models {
            let Some(first) = state.versions.first() else {
                return invalid("a model record has no versions".into());
            };
            let model_id = &first.model_id;
            if !models.insert(model_id.clone()) {
                return invalid(format!("model {model_id} appears twice"));
            }
            if state.revision == 0 {
                return invalid(format!("model {model_id} has revision 0"));
            }
            for v in &state.versions {
                if &v.model_id != model_id {
                    return invalid(format!(
                        "version {} of {} is filed under model {model_id}",
                        v.version, v.model_id
                    ));
                }
                if !versions.insert((model_id.clone(), v.version.clone())) {
                    return invalid(format!("{model_id} {} appears twice", v.version));
                }
                v.validate()?;
            }
            check_single_active(model_id, &state.versions)?;
        }
        for entry in &self.audit {
            entry.event.validate()?;
        }
        let anchor = self.audit_checkpoint.map(|c| c.head);
        if let Err(e) = verify_chain(&self.audit, anchor) {
            return invalid(e.to_string());
        }
        for snapshot in &self.metrics {
            let key = (snapshot.model_id.clone(), snapshot.version.clone());
            if !versions.contains(&key) {
                return invalid(format!(
                    "metrics of {} {}, which is not registered",
                    key.0, key.1
                ));
            }
            snapshot.metrics.validate()?;
        }
        Ok(())
    }
}
