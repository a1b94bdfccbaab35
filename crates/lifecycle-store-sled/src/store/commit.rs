//! Commits: a commit prepared from the store's state, journaled, then written.

use super::*;

/// A commit computed but not yet written.
pub(super) struct Prepared {
    pub(super) journal: Journal,
    /// The model record it writes, for the cache.
    pub(super) model: Option<(ModelId, ModelState)>,
    pub(super) receipt: CommitReceipt,
}

/// Adds the writes of one sealed audit entry and its index keys.
pub(super) fn put_entry(journal: &mut Journal, entry: &AuditLogEntry) -> Result<(), StoreError> {
    let (seq, event) = (entry.sequence, &entry.event);
    journal.put(TreeId::Audit, &keys::sequence(seq), encode(entry)?);
    if let Some(model_id) = &event.model_id {
        let key = keys::model_sequence(model_id, seq);
        journal.put(TreeId::AuditByModel, &key, Vec::new());
    }
    let key = keys::time_sequence(event.timestamp, seq);
    journal.put(TreeId::AuditByTime, &key, Vec::new());
    let key = keys::severity_sequence(event.severity, seq);
    journal.put(TreeId::AuditBySeverity, &key, Vec::new());
    Ok(())
}

impl SledStore {
    /// Applies a checked commit without flushing: under the writer lock,
    /// computes its writes, records them as one journal value (a single key,
    /// so atomic), then makes them. sled recovers a prefix of writes, so
    /// after a crash either the journal value is missing (and so is
    /// everything after it) or [`Self::recover`] completes what it lists.
    pub(super) fn apply(&self, commit: &Commit) -> Result<CommitReceipt, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.refuse_if_broken()?;
        let prepared = self.prepare(commit)?;
        self.write_journaled(&prepared.journal)?;
        if let Some((model_id, state)) = prepared.model {
            self.models
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(model_id, state);
        }
        Ok(prepared.receipt)
    }

    /// Computes what a commit writes, checking its revision; writes nothing.
    pub(super) fn prepare(&self, commit: &Commit) -> Result<Prepared, StoreError> {
        let mut journal = Journal {
            commit: self.commits()? + 1,
            puts: Vec::new(),
        };
        if let Some(fence) = &commit.fence {
            fence.check(self.read_lease(&fence.lease.name)?.as_ref())?;
        }
        let mut revision = None;
        let mut model = None;
        if let Some(guard) = &commit.guard {
            let current = self.read_model(&guard.model_id)?;
            let (after, next) = guard.advance(&current, &commit.versions)?;
            revision = Some(after);
            if let Some(next) = next {
                let key = guard.model_id.as_str().as_bytes();
                journal.put(TreeId::Models, key, encode(&next)?);
                model = Some((guard.model_id.clone(), next));
            }
        }
        let entries = seal_events(commit.audit.clone(), self.read_head()?);
        for entry in &entries {
            put_entry(&mut journal, entry)?;
        }
        if let Some(last) = entries.last() {
            let head = keys::encode_head(last.head()).to_vec();
            journal.put(TreeId::Meta, HEAD_KEY, head);
        }
        let count = journal.commit.to_be_bytes().to_vec();
        journal.put(TreeId::Meta, COMMITS_KEY, count);
        Ok(Prepared {
            journal,
            model,
            receipt: CommitReceipt { revision, entries },
        })
    }

    /// Records a journal, then makes its writes; on a failure half-way,
    /// refuses further writes until the store is reopened (which completes them).
    pub(super) fn write_journaled(&self, journal: &Journal) -> Result<(), StoreError> {
        let written = self
            .tree(TreeId::Meta)
            .insert(JOURNAL_KEY, journal.encode())
            .map_err(|e| self.error(e))
            .and_then(|_| self.write(journal));
        if written.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        written
    }

    pub(super) fn refuse_if_broken(&self) -> Result<(), StoreError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::backend(format!(
                "an earlier write to {} failed half-way; reopen the store to complete it",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Makes the writes of a journal, in order (the commit counter last).
    pub(super) fn write(&self, journal: &Journal) -> Result<(), StoreError> {
        for (tree, key, value) in &journal.puts {
            let tree = self.tree(*tree);
            let done = match value {
                Some(value) => tree.insert(key.as_slice(), value.as_slice()),
                None => tree.remove(key.as_slice()),
            };
            done.map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}
