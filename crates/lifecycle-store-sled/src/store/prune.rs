//! Pruning the audit log below a sequence, in journaled steps, leaving its checkpoint.

use super::*;

/// Entries removed per journaled step of a prune.
pub(super) const PRUNE_CHUNK: u64 = 500;

impl SledStore {
    /// Removes the entries after the checkpoint up to `through`, in
    /// journaled chunks of `PRUNE_CHUNK` entries, each advancing the
    /// checkpoint; under the writer lock, without flushing.
    pub(super) fn prune(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.refuse_if_broken()?;
        let mut checkpoint = self.read_checkpoint()?;
        let Some(head) = self.read_head()? else {
            return Ok(checkpoint);
        };
        let first = checkpoint.map_or(1, |c| c.head.sequence + 1);
        let last = through.min(head.sequence);
        let mut start = first;
        while start <= last {
            let end = last.min(start + PRUNE_CHUNK - 1);
            let mut journal = Journal {
                commit: self.commits()? + 1,
                puts: Vec::new(),
            };
            for sequence in start..=end {
                let Some(entry) = self.read_entry(sequence)? else {
                    continue;
                };
                let event = &entry.event;
                journal.delete(TreeId::Audit, &keys::sequence(sequence));
                if let Some(model_id) = &event.model_id {
                    journal.delete(
                        TreeId::AuditByModel,
                        &keys::model_sequence(model_id, sequence),
                    );
                }
                journal.delete(
                    TreeId::AuditByTime,
                    &keys::time_sequence(event.timestamp, sequence),
                );
                journal.delete(
                    TreeId::AuditBySeverity,
                    &keys::severity_sequence(event.severity, sequence),
                );
                let pruned = checkpoint.map_or(0, |c| c.pruned) + 1;
                checkpoint = Some(AuditCheckpoint {
                    head: entry.head(),
                    pruned,
                });
            }
            if let Some(checkpoint) = &checkpoint {
                journal.put(TreeId::Meta, CHECKPOINT_KEY, encode(checkpoint)?);
            }
            let count = journal.commit.to_be_bytes().to_vec();
            journal.put(TreeId::Meta, COMMITS_KEY, count);
            self.write_journaled(&journal)?;
            start = end + 1;
        }
        Ok(checkpoint)
    }

    pub(super) fn read_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let bytes = self
            .tree(TreeId::Meta)
            .get(CHECKPOINT_KEY)
            .map_err(|e| self.error(e))?;
        bytes.map(|b| self.decode("meta", &b)).transpose()
    }
}
