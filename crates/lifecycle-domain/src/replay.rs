//! The state of every version as the audit log describes it, replayed entry by entry.
//!
//! Every registry entry about a version records the version's status after
//! the change (detail `status`) and, for canaries, its weight (`weight`).
//! Replaying them gives what the log says each version is, and whether it
//! ever served as the active version: what rollbacks and verification check
//! the stored records against.

use std::collections::BTreeMap;

use crate::{AuditLogEntry, ModelId, ModelStatus, ModelVersion, Version};

/// What the audit log says about one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Its status after the last entry that named one.
    pub status: ModelStatus,
    /// Its canary weight in percent, while the log says it is a canary.
    pub weight: Option<u8>,
    /// Whether it was ever the active version.
    pub served: bool,
}

/// Every version's replayed state, by model and version.
///
/// ```
/// use lifecycle_domain::{AuditReplay, ModelStatus};
/// let replay = AuditReplay::default();
/// assert!(replay.version(&"m".parse().unwrap(), &"1.0.0".parse().unwrap()).is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReplay {
    versions: BTreeMap<(ModelId, Version), Replayed>,
}

impl AuditReplay {
    /// Replays entries in sequence order.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a AuditLogEntry>) -> Self {
        let mut replay = Self::default();
        for entry in entries {
            replay.apply(entry);
        }
        replay
    }

    /// Applies one entry (the next in sequence).
    pub fn apply(&mut self, entry: &AuditLogEntry) {
        let event = &entry.event;
        let (Some(model_id), Some(version)) = (&event.model_id, &event.version) else {
            return;
        };
        let Some(status) = event.status() else {
            return;
        };
        let replayed = self
            .versions
            .entry((model_id.clone(), version.clone()))
            .or_insert(Replayed {
                status,
                weight: None,
                served: false,
            });
        replayed.status = status;
        replayed.served |= status == ModelStatus::Active;
        replayed.weight = match status {
            ModelStatus::Canary => event.weight().or(replayed.weight),
            _ => None,
        };
    }

    /// What the log says about one version, if it names it.
    pub fn version(&self, model_id: &ModelId, version: &Version) -> Option<&Replayed> {
        self.versions.get(&(model_id.clone(), version.clone()))
    }

    /// How a stored record differs from what the log says about it, in words;
    /// `None` when they agree.
    pub fn disagreement(&self, record: &ModelVersion) -> Option<String> {
        let name = format!("{} {}", record.model_id, record.version);
        let Some(replayed) = self.version(&record.model_id, &record.version) else {
            return Some(format!(
                "{name} is stored as {} but no audit entry registered it",
                record.status()
            ));
        };
        if replayed.status != record.status() {
            return Some(format!(
                "{name} is stored as {} but the audit log says {}",
                record.status(),
                replayed.status
            ));
        }
        let weight = record.canary_weight().map(|w| w.percent());
        if replayed.weight != weight {
            let show = |w: Option<u8>| w.map_or("none".to_string(), |w| format!("{w} %"));
            return Some(format!(
                "{name} is stored with canary weight {} but the audit log says {}",
                show(weight),
                show(replayed.weight)
            ));
        }
        None
    }

    /// The first way `records` (every record of a store) differ from what
    /// the log says, in words; `None` when they agree. With entries pruned
    /// (`pruned`), a record no kept entry names cannot be judged and is
    /// skipped.
    pub fn first_mismatch(&self, records: &[ModelVersion], pruned: bool) -> Option<String> {
        let judged = records
            .iter()
            .filter(|r| !pruned || self.version(&r.model_id, &r.version).is_some());
        if let Some(found) = judged.filter_map(|r| self.disagreement(r)).next() {
            return Some(found);
        }
        let held: std::collections::BTreeSet<(&ModelId, &Version)> =
            records.iter().map(|r| (&r.model_id, &r.version)).collect();
        self.versions
            .keys()
            .find(|(model, version)| !held.contains(&(model, version)))
            .map(|(model, version)| {
                format!("the audit log describes {model} {version}, which is not stored")
            })
    }
}
