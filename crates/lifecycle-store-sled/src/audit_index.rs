//! The audit indexes of a sled store, walked for the port's query planner.

use std::ops::RangeInclusive;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ModelId, Severity};
use lifecycle_store::{AuditIndex, Sequences, StoreError};

use crate::journal::TreeId;
use crate::keys;
use crate::store::SledStore;

impl SledStore {
    /// Walks the keys of `tree` from `start` to `end` (inclusive), reading
    /// the sequence number at the end of each key.
    fn walk(
        &self,
        tree: TreeId,
        start: Vec<u8>,
        end: Vec<u8>,
        newest_first: bool,
    ) -> Sequences<'_> {
        let keys = self.tree(tree).range(start..=end).keys();
        let read = move |key: sled::Result<sled::IVec>| {
            let key = key.map_err(|e| self.error(e))?;
            keys::trailing_sequence(&key).ok_or_else(|| self.damaged("an audit index key"))
        };
        if newest_first {
            Box::new(keys.rev().map(read))
        } else {
            Box::new(keys.map(read))
        }
    }
}

impl AuditIndex for SledStore {
    fn all(&self, bounds: RangeInclusive<u64>, newest_first: bool) -> Sequences<'_> {
        let start = keys::sequence(*bounds.start()).to_vec();
        let end = keys::sequence(*bounds.end()).to_vec();
        self.walk(TreeId::Audit, start, end, newest_first)
    }

    fn of_model(
        &self,
        model_id: &ModelId,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_> {
        let start = keys::model_sequence(model_id, *bounds.start());
        let end = keys::model_sequence(model_id, *bounds.end());
        self.walk(TreeId::AuditByModel, start, end, newest_first)
    }

    fn of_severity(
        &self,
        severity: Severity,
        bounds: RangeInclusive<u64>,
        newest_first: bool,
    ) -> Sequences<'_> {
        let start = keys::severity_sequence(severity, *bounds.start()).to_vec();
        let end = keys::severity_sequence(severity, *bounds.end()).to_vec();
        self.walk(TreeId::AuditBySeverity, start, end, newest_first)
    }

    fn in_time(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Sequences<'_> {
        let start = since.map_or_else(Vec::new, |t| keys::time_sequence(t, 0).to_vec());
        let tree = self.tree(TreeId::AuditByTime);
        let range = match until {
            // Exclusive: every key at `until` has a sequence >= 0.
            Some(t) => tree.range(start..keys::time_sequence(t, 0).to_vec()),
            None => tree.range(start..),
        };
        Box::new(range.keys().map(move |key| {
            let key = key.map_err(|e| self.error(e))?;
            keys::trailing_sequence(&key).ok_or_else(|| self.damaged("an audit index key"))
        }))
    }

    fn entry(&self, sequence: u64) -> Result<Option<AuditLogEntry>, StoreError> {
        self.read_entry(sequence)
    }
}
