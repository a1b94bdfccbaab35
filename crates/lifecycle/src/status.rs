//! The system status: one look at everything the manager oversees.

use std::collections::BTreeMap;

use lifecycle_domain::{ChainHead, ModelId, ModelStatus, Version};
use lifecycle_evaluator::AlertLevel;
use lifecycle_policy::DeprecationWarning;

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
