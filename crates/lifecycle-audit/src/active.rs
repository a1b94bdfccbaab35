//! Which version of a model was active, and which was its canary, at a past moment.

use std::collections::BTreeMap;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ModelId, ModelStatus, Version};
use serde::Serialize;

use crate::{AuditError, ModelAuditLog};

/// The serving versions of a model at one moment, rebuilt from its audit history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveAt {
    /// The active version, if any.
    pub active: Option<Version>,
    /// The canary and its weight in percent, if any.
    pub canary: Option<(Version, u8)>,
}

impl ModelAuditLog {
    /// Which version of `model_id` was active at `at`, and which was its
    /// canary at what weight — replayed from the model's audit entries up to
    /// that moment. Every registry entry about a version records the
    /// version's status after the change (`status`) and, for canaries, its
    /// weight (`weight`).
    pub async fn active_at(
        &self,
        model_id: &ModelId,
        at: DateTime<Utc>,
    ) -> Result<ActiveAt, AuditError> {
        let mut statuses: BTreeMap<Version, ModelStatus> = BTreeMap::new();
        let mut weights: BTreeMap<Version, u8> = BTreeMap::new();
        for entry in self.history(model_id).await? {
            if entry.event.timestamp <= at {
                replay(&entry, &mut statuses, &mut weights);
            }
        }
        let find = |wanted: ModelStatus| {
            statuses
                .iter()
                .find(|(_, s)| **s == wanted)
                .map(|(v, _)| v.clone())
        };
        let canary = find(ModelStatus::Canary).map(|v| {
            let weight = weights.get(&v).copied().unwrap_or_default();
            (v, weight)
        });
        Ok(ActiveAt {
            active: find(ModelStatus::Active),
            canary,
        })
    }
}

fn replay(
    entry: &AuditLogEntry,
    statuses: &mut BTreeMap<Version, ModelStatus>,
    weights: &mut BTreeMap<Version, u8>,
) {
    let Some(version) = &entry.event.version else {
        return;
    };
    if let Some(status) = entry.event.status() {
        statuses.insert(version.clone(), status);
    }
    if let Some(weight) = entry.event.weight() {
        weights.insert(version.clone(), weight);
    }
}
