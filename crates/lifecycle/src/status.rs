//! The system status: one look at everything the manager oversees.

use std::collections::BTreeMap;

use lifecycle_domain::{ChainHead, ModelId, ModelStatus, Version};
use lifecycle_evaluator::AlertLevel;
use lifecycle_policy::DeprecationWarning;
use serde::Serialize;

/// What [`crate::ModelLifecycleManager::get_system_status`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemStatus {
    /// The store adapter (`sled`, `memory`...).
    pub store_kind: &'static str,
    /// Bytes on disk, for stores that have a disk.
    pub store_size_bytes: Option<u64>,
    /// Registered models.
    pub models: usize,
    /// Versions per status.
    pub versions_by_status: BTreeMap<ModelStatus, usize>,
    /// The active version of each model that has one.
    pub active: Vec<(ModelId, Version)>,
    /// Running canaries and their weights in percent.
    pub canaries: Vec<(ModelId, Version, u8)>,
    /// Versions whose health is a warning or critical.
    pub alerts_firing: Vec<(ModelId, Version, AlertLevel)>,
    /// Deprecated versions approaching or past end of life.
    pub deprecation_warnings: Vec<DeprecationWarning>,
    /// The audit log's last entry.
    pub audit_head: Option<ChainHead>,
    /// Whether the audit chain's links and hashes verify: the whole chain on
    /// a manager's first call, then only the entries added since
    /// ([`crate::audit::ModelAuditLog::verify_new_entries`]). `audit_log().verify()`
    /// re-hashes everything and also replays the state.
    pub audit_chain_verified: bool,
    /// Seconds since the manager was built.
    pub uptime_secs: u64,
}

/// A [`SystemStatus`] as JSON shows it (`lifecycle status --json`, the
/// server's `GET /v1/status`): statuses by name, pairs as objects, the
/// chain head as its entry count and hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// The store adapter (`sled`, `memory`...).
    pub store_kind: &'static str,
    /// Bytes on disk, for stores that have a disk.
    pub store_size_bytes: Option<u64>,
    /// Registered models.
    pub models: usize,
    /// Versions per status, by the status's name.
    pub versions_by_status: BTreeMap<String, usize>,
    /// The active version of each model that has one.
    pub active: Vec<Serving>,
    /// Running canaries, with their weights.
    pub canaries: Vec<Serving>,
    /// Versions whose health is a warning or critical.
    pub alerts_firing: Vec<Firing>,
    /// Versions approaching or past end of life.
    pub deprecation_warnings: Vec<DeprecationWarning>,
    /// Entries in the audit log (the last one's sequence number).
    pub audit_entries: u64,
    /// The last entry's hash, in hex.
    pub audit_head_hash: Option<String>,
    /// Whether the chain verified ([`SystemStatus::audit_chain_verified`]).
    pub audit_chain_verified: bool,
    /// Seconds since the manager was built.
    pub uptime_secs: u64,
}

/// A version serving traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Serving {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// A canary's share of traffic in percent; absent for active versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_percent: Option<u8>,
}

/// A version whose alert is firing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// How bad it is.
    pub level: AlertLevel,
}

impl From<SystemStatus> for StatusReport {
    fn from(s: SystemStatus) -> Self {
        let serving = |(model_id, version), weight_percent| Serving {
            model_id,
            version,
            weight_percent,
        };
        Self {
            store_kind: s.store_kind,
            store_size_bytes: s.store_size_bytes,
            models: s.models,
            versions_by_status: s
                .versions_by_status
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
            active: s.active.into_iter().map(|a| serving(a, None)).collect(),
            canaries: s
                .canaries
                .into_iter()
                .map(|(m, v, w)| serving((m, v), Some(w)))
                .collect(),
            alerts_firing: s
                .alerts_firing
                .into_iter()
                .map(|(model_id, version, level)| Firing {
                    model_id,
                    version,
                    level,
                })
                .collect(),
            deprecation_warnings: s.deprecation_warnings,
            audit_entries: s.audit_head.map_or(0, |h| h.sequence),
            audit_head_hash: s.audit_head.map(|h| h.hash.to_string()),
            audit_chain_verified: s.audit_chain_verified,
            uptime_secs: s.uptime_secs,
        }
    }
}
