//! Commits and imports: one transaction each, the chain's head row locked
//! first, so that audit sequence numbers are gapless and linked across
//! every process.

use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion};
use lifecycle_store::{
    seal_events, AuditCheckpoint, Commit, CommitReceipt, MetricsSnapshot, ModelState, StoreError,
    StoreImage,
};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::rows::{chain_head, encode, micros, severity_rank, stored, version_key};
use crate::PostgresStore;

/// The channel every commit notifies, with the head's sequence as payload.
pub const COMMITS_CHANNEL: &str = "lifecycle_commits";

/// Rows per statement when an import writes many.
const IMPORT_CHUNK: usize = 5_000;

impl PostgresStore {
    pub(crate) async fn apply(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let mut tx = self.begin().await?;
        let head = self.lock_head(&mut tx).await?;
        if let Some(fence) = &commit.fence {
            let current = self.read_lease_locked(&mut tx, &fence.lease.name).await?;
            fence.check(current.as_ref())?;
        }
        let mut revision = None;
        if let Some(guard) = &commit.guard {
            let current = self.locked_model(&mut tx, &guard.model_id).await?;
            let (after, next) = guard.advance(&current, &commit.versions)?;
            revision = Some(after);
            if let Some(next) = next {
                // The records as the commit stamps them (with its revision).
                let written: Vec<ModelVersion> = next
                    .versions
                    .into_iter()
                    .filter(|v| commit.versions.iter().any(|c| c.version == v.version))
                    .collect();
                self.write_model(&mut tx, &guard.model_id, after, &written)
                    .await?;
            }
        }
        let entries = seal_events(commit.audit, head);
        self.append(&mut tx, &entries).await?;
        if let Some(last) = entries.last() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(COMMITS_CHANNEL)
                .bind(last.sequence.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.failed("notifying the commit", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| self.failed("committing", e))?;
        if let Some(last) = entries.last() {
            // This process's own commits are known at once; others' by NOTIFY.
            self.commits
                .send_modify(|head| *head = (*head).max(last.sequence));
        }
        Ok(CommitReceipt { revision, entries })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| self.failed("starting a transaction", e))
    }

    /// The chain's head, its row locked until the transaction ends.
    async fn lock_head(&self, tx: &mut PgConnection) -> Result<Option<ChainHead>, StoreError> {
        let (sequence, hash): (i64, Option<String>) = sqlx::query_as(
            "SELECT head_sequence, head_hash FROM lifecycle_chain WHERE id = 1 FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed("locking the audit chain's head", e))?;
        chain_head(&self.location, (sequence > 0).then_some(sequence), hash)
    }

    /// A model's state, its row locked until the transaction ends.
    async fn locked_model(
        &self,
        tx: &mut PgConnection,
        model_id: &ModelId,
    ) -> Result<ModelState, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.model_id, m.revision, v.record FROM lifecycle_models m \
             LEFT JOIN lifecycle_versions v ON v.model_id = m.model_id \
             WHERE m.model_id = $1 FOR UPDATE OF m",
        )
        .bind(model_id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.failed("reading a model to change it", e))?;
        Ok(self
            .states(rows)?
            .pop()
            .map(|(_, state)| state)
            .unwrap_or_default())
    }

    /// Writes a model's revision and the records a commit puts.
    async fn write_model(
        &self,
        tx: &mut PgConnection,
        model_id: &ModelId,
        revision: u64,
        records: &[ModelVersion],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lifecycle_models (model_id, revision) VALUES ($1, $2) \
             ON CONFLICT (model_id) DO UPDATE SET revision = EXCLUDED.revision",
        )
        .bind(model_id.as_str())
        .bind(stored(revision))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("writing a model's revision", e))?;
        self.put_versions(tx, records).await
    }

    async fn put_versions(
        &self,
        tx: &mut PgConnection,
        records: &[ModelVersion],
    ) -> Result<(), StoreError> {
        let mut models = Vec::with_capacity(records.len());
        let mut keys = Vec::with_capacity(records.len());
        let mut statuses = Vec::with_capacity(records.len());
        let mut texts = Vec::with_capacity(records.len());
        for record in records {
            models.push(record.model_id.as_str().to_string());
            keys.push(version_key(&record.version));
            statuses.push(record.status().to_string());
            texts.push(encode(record)?);
        }
        sqlx::query(
            "INSERT INTO lifecycle_versions (model_id, version_key, status, record) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) \
             ON CONFLICT (model_id, version_key) \
             DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record",
        )
        .bind(models)
        .bind(keys)
        .bind(statuses)
        .bind(texts)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("writing version records", e))?;
        Ok(())
    }

    /// Appends sealed entries and moves the chain's head to the last.
    async fn append(
        &self,
        tx: &mut PgConnection,
        entries: &[AuditLogEntry],
    ) -> Result<(), StoreError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        for chunk in entries.chunks(IMPORT_CHUNK) {
            let mut sequences = Vec::with_capacity(chunk.len());
            let mut models = Vec::with_capacity(chunk.len());
            let mut severities = Vec::with_capacity(chunk.len());
            let mut times = Vec::with_capacity(chunk.len());
            let mut kinds = Vec::with_capacity(chunk.len());
            let mut actors = Vec::with_capacity(chunk.len());
            let mut texts = Vec::with_capacity(chunk.len());
            for entry in chunk {
                let event = &entry.event;
                sequences.push(stored(entry.sequence));
                models.push(event.model_id.as_ref().map(|m| m.as_str().to_string()));
                severities.push(severity_rank(event.severity));
                times.push(micros(event.timestamp));
                kinds.push(event.kind.as_str().to_string());
                actors.push(event.actor.as_str().to_string());
                texts.push(encode(entry)?);
            }
            sqlx::query(
                "INSERT INTO lifecycle_audit (sequence, model_id, severity, at_micros, kind, actor, entry) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::smallint[], $4::bigint[], \
                 $5::text[], $6::text[], $7::text[])",
            )
            .bind(sequences)
            .bind(models)
            .bind(severities)
            .bind(times)
            .bind(kinds)
            .bind(actors)
            .bind(texts)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("appending audit entries", e))?;
        }
        sqlx::query("UPDATE lifecycle_chain SET head_sequence = $1, head_hash = $2 WHERE id = 1")
            .bind(stored(last.sequence))
            .bind(last.hash.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("moving the audit chain's head", e))?;
        Ok(())
    }

    /// Loads an image into the empty store in one transaction.
    pub(crate) async fn load(&self, image: StoreImage) -> Result<(), StoreError> {
        image.check()?;
        let mut tx = self.begin().await?;
        let head = self.lock_head(&mut tx).await?;
        let (models,): (i64,) = sqlx::query_as("SELECT count(*) FROM lifecycle_models")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.failed("checking the store is empty", e))?;
        if models > 0 {
            return Err(StoreError::NotEmpty {
                what: format!("{models} models"),
            });
        }
        if head.is_some() || self.checkpoint_in(&mut tx).await?.is_some() {
            return Err(StoreError::NotEmpty {
                what: "an audit log".into(),
            });
        }
        for state in &image.models {
            if let Some(first) = state.versions.first() {
                self.write_model(&mut tx, &first.model_id, state.revision, &state.versions)
                    .await?;
            }
        }
        if let Some(checkpoint) = image.audit_checkpoint {
            self.write_checkpoint(&mut tx, checkpoint).await?;
            sqlx::query(
                "UPDATE lifecycle_chain SET head_sequence = $1, head_hash = $2 WHERE id = 1",
            )
            .bind(stored(checkpoint.head.sequence))
            .bind(checkpoint.head.hash.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("setting the audit chain's head", e))?;
        }
        self.append(&mut tx, &image.audit).await?;
        for snapshot in &image.metrics {
            self.put_snapshot(&mut tx, snapshot).await?;
        }
        tx.commit()
            .await
            .map_err(|e| self.failed("committing the import", e))
    }

    /// Sets the pruning checkpoint (inside the caller's transaction).
    pub(crate) async fn write_checkpoint(
        &self,
        tx: &mut PgConnection,
        checkpoint: AuditCheckpoint,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lifecycle_chain SET pruned_sequence = $1, pruned_hash = $2, pruned_count = $3 \
             WHERE id = 1",
        )
        .bind(stored(checkpoint.head.sequence))
        .bind(checkpoint.head.hash.to_string())
        .bind(stored(checkpoint.pruned))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("writing the audit checkpoint", e))?;
        Ok(())
    }

    /// Writes (replaces) one checkpoint row.
    pub(crate) async fn put_snapshot(
        &self,
        tx: &mut PgConnection,
        snapshot: &MetricsSnapshot,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lifecycle_metrics (model_id, version_key, replica, state, snapshot) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (model_id, version_key, replica) \
             DO UPDATE SET state = EXCLUDED.state, snapshot = EXCLUDED.snapshot",
        )
        .bind(snapshot.model_id.as_str())
        .bind(version_key(&snapshot.version))
        .bind(&snapshot.replica)
        .bind(&snapshot.state)
        .bind(encode(snapshot)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("saving a metrics checkpoint", e))?;
        Ok(())
    }
}
