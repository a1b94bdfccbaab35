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

/// What one write statement puts: a model's revision and records, sealed
/// entries, and the chain's new head.
#[derive(Default)]
struct Writes<'a> {
    model: Option<(&'a ModelId, u64)>,
    records: &'a [ModelVersion],
    entries: &'a [AuditLogEntry],
    head: Option<ChainHead>,
}

impl PostgresStore {
    pub(crate) async fn apply(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let mut tx = self.begin().await?;
        let guarded = commit.guard.as_ref().map(|g| &g.model_id);
        let (head, current) = self.lock_head(&mut tx, guarded).await?;
        if let Some(fence) = &commit.fence {
            let current = self.read_lease_locked(&mut tx, &fence.lease.name).await?;
            fence.check(current.as_ref())?;
        }
        let mut revision = None;
        let mut written = Vec::new();
        if let Some(guard) = &commit.guard {
            let (after, next) = guard.advance(&current, &commit.versions)?;
            revision = Some(after);
            if let Some(next) = next {
                // The records as the commit stamps them (with its revision).
                written = next
                    .versions
                    .into_iter()
                    .filter(|v| commit.versions.iter().any(|c| c.version == v.version))
                    .collect();
            }
        }
        let entries = seal_events(commit.audit, head);
        let model = commit
            .guard
            .as_ref()
            .filter(|_| !written.is_empty())
            .zip(revision)
            .map(|(guard, after)| (&guard.model_id, after));
        let writes = Writes {
            model,
            records: &written,
            entries: &entries,
            head: entries.last().map(AuditLogEntry::head),
        };
        self.write(&mut tx, &writes, true).await?;
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

    /// The chain's head, its row locked until the transaction ends, which
    /// orders every commit; then the model `guarded`, read in a statement
    /// of its own. Not one statement: under READ COMMITTED a statement that
    /// waited for the lock re-reads only the locked row, and would see the
    /// model as it was before the commit it waited for (the database's
    /// exclusion constraint caught exactly that, in the racing-activations case).
    async fn lock_head(
        &self,
        tx: &mut PgConnection,
        guarded: Option<&ModelId>,
    ) -> Result<(Option<ChainHead>, ModelState), StoreError> {
        let (sequence, hash): (i64, Option<String>) = sqlx::query_as(
            "SELECT head_sequence, head_hash FROM lifecycle_chain WHERE id = 1 FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed("locking the audit chain's head", e))?;
        let head = chain_head(&self.location, (sequence > 0).then_some(sequence), hash)?;
        let Some(model_id) = guarded else {
            return Ok((head, ModelState::default()));
        };
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.model_id, m.revision, v.record FROM lifecycle_models m \
             LEFT JOIN lifecycle_versions v ON v.model_id = m.model_id \
             WHERE m.model_id = $1",
        )
        .bind(model_id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.failed("reading a model to change it", e))?;
        let state = self
            .states(rows)?
            .pop()
            .map(|(_, state)| state)
            .unwrap_or_default();
        Ok((head, state))
    }

    /// Everything a commit (or a step of an import) writes, in one
    /// statement: one trip to the server. `notify` wakes other processes.
    async fn write(
        &self,
        tx: &mut PgConnection,
        writes: &Writes<'_>,
        notify: bool,
    ) -> Result<(), StoreError> {
        let records = writes.records;
        let mut keys = Vec::with_capacity(records.len());
        let mut statuses = Vec::with_capacity(records.len());
        let mut texts = Vec::with_capacity(records.len());
        let mut owners = Vec::with_capacity(records.len());
        for record in records {
            owners.push(record.model_id.as_str().to_string());
            keys.push(version_key(&record.version));
            statuses.push(record.status().to_string());
            texts.push(encode(record)?);
        }
        let entries = writes.entries;
        let mut sequences = Vec::with_capacity(entries.len());
        let mut models = Vec::with_capacity(entries.len());
        let mut severities = Vec::with_capacity(entries.len());
        let mut times = Vec::with_capacity(entries.len());
        let mut kinds = Vec::with_capacity(entries.len());
        let mut actors = Vec::with_capacity(entries.len());
        let mut lines = Vec::with_capacity(entries.len());
        for entry in entries {
            let event = &entry.event;
            sequences.push(stored(entry.sequence));
            models.push(event.model_id.as_ref().map(|m| m.as_str().to_string()));
            severities.push(severity_rank(event.severity));
            times.push(micros(event.timestamp));
            kinds.push(event.kind.as_str().to_string());
            actors.push(event.actor.as_str().to_string());
            lines.push(encode(entry)?);
        }
        let (model, revision) = writes.model.unzip();
        let head = writes.head;
        sqlx::query(
            "WITH model AS ( \
                 INSERT INTO lifecycle_models (model_id, revision) \
                 SELECT $1, $2 WHERE $1::text IS NOT NULL \
                 ON CONFLICT (model_id) DO UPDATE SET revision = EXCLUDED.revision \
             ), versions AS ( \
                 INSERT INTO lifecycle_versions (model_id, version_key, status, record) \
                 SELECT * FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[]) \
                 ON CONFLICT (model_id, version_key) \
                 DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record \
             ), entries AS ( \
                 INSERT INTO lifecycle_audit (sequence, model_id, severity, at_micros, kind, actor, entry) \
                 SELECT * FROM UNNEST($7::bigint[], $8::text[], $9::smallint[], $10::bigint[], \
                     $11::text[], $12::text[], $13::text[]) \
             ), head AS ( \
                 UPDATE lifecycle_chain SET head_sequence = $14, head_hash = $15 \
                 WHERE id = 1 AND $14::bigint IS NOT NULL \
             ) \
             SELECT pg_notify($16, $14::text) WHERE $17 AND $14::bigint IS NOT NULL",
        )
        .bind(model.map(ModelId::as_str))
        .bind(revision.map(stored))
        .bind(owners)
        .bind(keys)
        .bind(statuses)
        .bind(texts)
        .bind(sequences)
        .bind(models)
        .bind(severities)
        .bind(times)
        .bind(kinds)
        .bind(actors)
        .bind(lines)
        .bind(head.map(|h| stored(h.sequence)))
        .bind(head.map(|h| h.hash.to_string()))
        .bind(COMMITS_CHANNEL)
        .bind(notify)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("writing a commit", e))?;
        Ok(())
    }

    /// Loads an image into the empty store in one transaction.
    pub(crate) async fn load(&self, image: StoreImage) -> Result<(), StoreError> {
        image.check()?;
        let mut tx = self.begin().await?;
        let (head, _) = self.lock_head(&mut tx, None).await?;
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
                let writes = Writes {
                    model: Some((&first.model_id, state.revision)),
                    records: &state.versions,
                    ..Writes::default()
                };
                self.write(&mut tx, &writes, false).await?;
            }
        }
        if let Some(checkpoint) = image.audit_checkpoint {
            self.write_checkpoint(&mut tx, checkpoint).await?;
            let writes = Writes {
                head: Some(checkpoint.head),
                ..Writes::default()
            };
            self.write(&mut tx, &writes, false).await?;
        }
        for chunk in image.audit.chunks(IMPORT_CHUNK) {
            let writes = Writes {
                entries: chunk,
                head: chunk.last().map(AuditLogEntry::head),
                ..Writes::default()
            };
            self.write(&mut tx, &writes, false).await?;
        }
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
