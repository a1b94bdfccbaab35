//! Importing a store image into an empty store, and undoing one cut short.

use super::*;

/// `meta/importing`: set while an import writes; an import cut short by a
/// crash is undone on open, leaving the store empty as it was.
pub(super) const IMPORTING_KEY: &[u8] = b"importing";
/// Audit entries written per step of an import.
pub(super) const IMPORT_CHUNK: usize = 1_000;

impl SledStore {
    /// What the store holds, in words; `None` when it is empty.
    pub(super) fn contents(&self) -> Result<Option<String>, StoreError> {
        let models = self.tree(TreeId::Models).len();
        if models > 0 {
            return Ok(Some(format!("{models} models")));
        }
        if self.read_head()?.is_some() || self.read_checkpoint()?.is_some() {
            return Ok(Some("an audit log".into()));
        }
        Ok(None)
    }

    /// Writes an image into the empty store under the writer lock: marks the
    /// import, writes records and entries in chunks, then one journaled step
    /// sets the chain head, checkpoint and commit counter and clears the mark.
    pub(super) fn import_image(&self, image: &StoreImage) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.refuse_if_broken()?;
        if let Some(what) = self.contents()? {
            return Err(StoreError::NotEmpty { what });
        }
        let meta = self.tree(TreeId::Meta);
        meta.insert(IMPORTING_KEY, &[][..])
            .map_err(|e| self.error(e))?;
        flush_to_disk(&self.db, &self.disk, &self.path)?;
        let written = self.write_image(image);
        if written.is_err() {
            // Reopening undoes the partial import.
            self.broken.store(true, Ordering::Release);
        }
        written
    }

    pub(super) fn write_image(&self, image: &StoreImage) -> Result<(), StoreError> {
        for chunk in image.audit.chunks(IMPORT_CHUNK) {
            let mut journal = Journal::default();
            for entry in chunk {
                put_entry(&mut journal, entry)?;
            }
            self.write(&journal)?;
        }
        let mut last = Journal {
            commit: self.commits()? + 1,
            puts: Vec::new(),
        };
        for state in &image.models {
            if let Some(first) = state.versions.first() {
                let key = first.model_id.as_str().as_bytes();
                last.put(TreeId::Models, key, encode(state)?);
            }
        }
        for snapshot in &image.metrics {
            let key = checkpoint_key(snapshot);
            self.metrics
                .insert(key, encode(snapshot)?)
                .map_err(|e| self.error(e))?;
        }
        let head = image.audit.last().map(AuditLogEntry::head);
        if let Some(head) = head.or(image.audit_checkpoint.map(|c| c.head)) {
            last.put(TreeId::Meta, HEAD_KEY, keys::encode_head(head).to_vec());
        }
        if let Some(checkpoint) = &image.audit_checkpoint {
            last.put(TreeId::Meta, CHECKPOINT_KEY, encode(checkpoint)?);
        }
        last.delete(TreeId::Meta, IMPORTING_KEY);
        let count = last.commit.to_be_bytes().to_vec();
        last.put(TreeId::Meta, COMMITS_KEY, count);
        self.write_journaled(&last)
    }

    /// Empties the store if a crash interrupted an import.
    pub(super) fn undo_interrupted_import(&self) -> Result<(), StoreError> {
        let meta = self.tree(TreeId::Meta);
        if !meta
            .contains_key(IMPORTING_KEY)
            .map_err(|e| self.error(e))?
        {
            return Ok(());
        }
        for id in TREES.into_iter().filter(|t| *t != TreeId::Meta) {
            self.tree(id).clear().map_err(|e| self.error(e))?;
        }
        self.metrics.clear().map_err(|e| self.error(e))?;
        for key in [HEAD_KEY, CHECKPOINT_KEY, VERIFIED_KEY, IMPORTING_KEY] {
            meta.remove(key).map_err(|e| self.error(e))?;
        }
        flush_to_disk(&self.db, &self.disk, &self.path)
    }
}
