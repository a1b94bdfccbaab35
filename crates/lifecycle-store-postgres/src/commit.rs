//! Commits and imports. A commit is one transaction that changes the
//! model and queues its audit events, ordered against other commits of the
//! model by the model's lock; sealing (`seal.rs`) then numbers and links the
//! queued events into the chain, many commits' at a time.

use lifecycle_domain::{AuditEvent, AuditLogEntry, ChainHead, ModelId, ModelVersion};
use lifecycle_store::{
    seal_events, AuditCheckpoint, Commit, CommitReceipt, MetricsSnapshot, ModelState, StoreError,
    StoreImage,
};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::rows::{chain_head, encode, micros, severity_rank, stable_hash, stored, version_key};
use crate::PostgresStore;

/// The channel every sealing notifies, with the chain's new head as payload.
pub const COMMITS_CHANNEL: &str = "lifecycle_commits";

/// Rows per statement when an import writes many.
pub(crate) const IMPORT_CHUNK: usize = 5_000;

/// The class of the advisory locks that order the commits of one model
/// (the second key is the model id's hash): a lock that exists before the
/// model's first row does.
const MODEL_LOCKS: i32 = 0x6c63_6d6c;

/// What one commit writes.
struct Changes<'a> {
    /// The model and its revision after the commit, if its records change.
    model: Option<(&'a ModelId, u64)>,
    records: &'a [ModelVersion],
    events: &'a [AuditEvent],
    /// The events sealed after the chain's head, when the commit holds it.
    sealed: Option<&'a [AuditLogEntry]>,
}

/// Where a commit's audit events went.
enum Written {
    /// Into the chain, as sealed.
    Sealed,
    /// Into the queue, under this commit id, for a sealer.
    Queued(i64),
    /// Nowhere: it had none.
    NoEvents,
}

/// Version records as the columns of their rows, for `UNNEST`.
struct RecordColumns {
    owners: Vec<String>,
    keys: Vec<String>,
    statuses: Vec<String>,
    texts: Vec<String>,
}

impl RecordColumns {
    fn of(records: &[ModelVersion]) -> Result<Self, StoreError> {
        let mut columns = Self {
            owners: Vec::with_capacity(records.len()),
            keys: Vec::with_capacity(records.len()),
            statuses: Vec::with_capacity(records.len()),
            texts: Vec::with_capacity(records.len()),
        };
        for record in records {
            columns.owners.push(record.model_id.as_str().to_string());
            columns.keys.push(version_key(&record.version));
            columns.statuses.push(record.status().to_string());
            columns.texts.push(encode(record)?);
        }
        Ok(columns)
    }
}

/// Sealed entries as the columns of their rows, for `UNNEST`.
struct EntryColumns {
    sequences: Vec<i64>,
    models: Vec<Option<String>>,
    severities: Vec<i16>,
    times: Vec<i64>,
    kinds: Vec<String>,
    actors: Vec<String>,
    lines: Vec<String>,
}

impl EntryColumns {
    fn of(entries: &[AuditLogEntry]) -> Result<Self, StoreError> {
        let mut columns = Self {
            sequences: Vec::with_capacity(entries.len()),
            models: Vec::with_capacity(entries.len()),
            severities: Vec::with_capacity(entries.len()),
            times: Vec::with_capacity(entries.len()),
            kinds: Vec::with_capacity(entries.len()),
            actors: Vec::with_capacity(entries.len()),
            lines: Vec::with_capacity(entries.len()),
        };
        for entry in entries {
            let event = &entry.event;
            columns.sequences.push(stored(entry.sequence));
            columns
                .models
                .push(event.model_id.as_ref().map(|m| m.as_str().to_string()));
            columns.severities.push(severity_rank(event.severity));
            columns.times.push(micros(event.timestamp));
            columns.kinds.push(event.kind.as_str().to_string());
            columns.actors.push(event.actor.as_str().to_string());
            columns.lines.push(encode(entry)?);
        }
        Ok(columns)
    }
}

impl PostgresStore {
    pub(crate) async fn apply(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let guarded = commit.guard.as_ref().map(|g| &g.model_id);
        let mut tx = match guarded {
            Some(model_id) => self.begin_locking_model(model_id).await?,
            None => self.begin().await?,
        };
        let (current, head) = self.read_for_commit(&mut tx, guarded).await?;
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
        let model = commit
            .guard
            .as_ref()
            .filter(|_| !written.is_empty())
            .zip(revision)
            .map(|(guard, after)| (&guard.model_id, after));
        // Sealed at once if the head was free (then nothing may be queued
        // before them); queued for a sealer otherwise.
        let sealed = head.map(|head| seal_events(commit.audit.clone(), head));
        let changes = Changes {
            model,
            records: &written,
            events: &commit.audit,
            sealed: sealed.as_deref(),
        };
        let outcome = self.write_commit(&mut tx, &changes).await?;
        tx.commit()
            .await
            .map_err(|e| self.failed("committing", e))?;
        let entries = match outcome {
            Written::Sealed => {
                let entries = sealed.unwrap_or_default();
                if let Some(last) = entries.last() {
                    // This process's own commits are known at once; others' by NOTIFY.
                    self.commits
                        .send_modify(|head| *head = (*head).max(last.sequence));
                }
                entries
            }
            Written::Queued(commit_id) => self.sealed(commit_id).await?,
            Written::NoEvents => Vec::new(),
        };
        Ok(CommitReceipt { revision, entries })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| self.failed("starting a transaction", e))
    }

    /// A transaction holding the model's lock until it ends, begun and
    /// locked in one trip to the server (the lock's key is a number written
    /// into the statement: nothing of the id's text reaches the SQL).
    async fn begin_locking_model(
        &self,
        model_id: &ModelId,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        // The model id's hash, folded to the lock's second key.
        let hash = stable_hash(model_id.as_str().as_bytes());
        let key = (hash ^ (hash >> 32)) as u32 as i32;
        self.pool
            .begin_with(format!(
                "BEGIN; SELECT pg_advisory_xact_lock({MODEL_LOCKS}, {key})"
            ))
            .await
            .map_err(|e| self.failed("locking a model to change it", e))
    }

    /// The model `guarded` as its lock's holder sees it, and the chain's
    /// head if its row was free to lock (locked then until the transaction
    /// ends; `None` if another transaction holds it). In a statement after
    /// the model lock's wait, because under READ COMMITTED a statement sees
    /// what was committed before it started (the database's exclusion
    /// constraint caught a read in the locking statement seeing a stale
    /// model, in the racing-activations case).
    async fn read_for_commit(
        &self,
        tx: &mut PgConnection,
        guarded: Option<&ModelId>,
    ) -> Result<(ModelState, Option<Option<ChainHead>>), StoreError> {
        type Row = (
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "WITH head AS ( \
                 SELECT head_sequence, head_hash FROM lifecycle_chain WHERE id = 1 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             SELECT h.head_sequence, h.head_hash, m.model_id, m.revision, v.record \
             FROM (SELECT 1) AS one \
             LEFT JOIN head h ON TRUE \
             LEFT JOIN lifecycle_models m ON m.model_id = $1 \
             LEFT JOIN lifecycle_versions v ON v.model_id = m.model_id",
        )
        .bind(guarded.map(ModelId::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.failed("reading a model to change it", e))?;
        let head = match rows.first() {
            Some((Some(sequence), hash, ..)) => Some(chain_head(
                &self.location,
                (*sequence > 0).then_some(*sequence),
                hash.clone(),
            )?),
            _ => None,
        };
        let records = rows
            .into_iter()
            .filter_map(|(_, _, model, revision, record)| Some((model?, revision?, record)))
            .collect();
        let current = self
            .states(records)?
            .pop()
            .map(|(_, state)| state)
            .unwrap_or_default();
        Ok((current, head))
    }

    /// A commit's changes in one statement (one trip to the server): the
    /// model's revision and records, and its audit entries — sealed, with
    /// the chain's new head, if the head was locked and nothing is queued
    /// before them; else its events queued for sealing under a new commit id.
    async fn write_commit(
        &self,
        tx: &mut PgConnection,
        changes: &Changes<'_>,
    ) -> Result<Written, StoreError> {
        let records = RecordColumns::of(changes.records)?;
        let events = changes
            .events
            .iter()
            .map(encode)
            .collect::<Result<Vec<_>, _>>()?;
        let sealed = changes.sealed.unwrap_or_default();
        let entries = EntryColumns::of(sealed)?;
        let head = sealed.last().map(AuditLogEntry::head);
        let (model, revision) = changes.model.unzip();
        let (inline, queued): (bool, Option<i64>) = sqlx::query_as(
            "WITH model AS ( \
                 INSERT INTO lifecycle_models (model_id, revision) \
                 SELECT $1, $2 WHERE $1::text IS NOT NULL \
                 ON CONFLICT (model_id) DO UPDATE SET revision = EXCLUDED.revision \
             ), versions AS ( \
                 INSERT INTO lifecycle_versions (model_id, version_key, status, record) \
                 SELECT * FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[]) \
                 ON CONFLICT (model_id, version_key) \
                 DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record \
             ), mode AS ( \
                 SELECT $8::bool AND NOT EXISTS (SELECT 1 FROM lifecycle_unsealed) AS inline \
             ), entries AS ( \
                 INSERT INTO lifecycle_audit \
                     (sequence, model_id, severity, at_micros, kind, actor, entry) \
                 SELECT e.* FROM mode, UNNEST($9::bigint[], $10::text[], $11::smallint[], \
                     $12::bigint[], $13::text[], $14::text[], $15::text[]) AS e \
                 WHERE mode.inline \
             ), head AS ( \
                 UPDATE lifecycle_chain SET head_sequence = $16, head_hash = $17 FROM mode \
                 WHERE id = 1 AND mode.inline AND $16::bigint IS NOT NULL \
             ), commit AS ( \
                 SELECT nextval('lifecycle_commit_ids') AS id FROM mode \
                 WHERE NOT mode.inline AND cardinality($7::text[]) > 0 \
             ), queued AS ( \
                 INSERT INTO lifecycle_unsealed (commit_id, position, event) \
                 SELECT commit.id, e.position, e.event \
                 FROM commit, UNNEST($7::text[]) WITH ORDINALITY AS e (event, position) \
             ) \
             SELECT mode.inline, (SELECT id FROM commit) FROM mode \
             WHERE (SELECT count(*) FROM (SELECT pg_notify($18, $16::text) \
                 WHERE mode.inline AND $16::bigint IS NOT NULL) AS notified) >= 0",
        )
        .bind(model.map(ModelId::as_str))
        .bind(revision.map(stored))
        .bind(records.owners)
        .bind(records.keys)
        .bind(records.statuses)
        .bind(records.texts)
        .bind(events)
        .bind(changes.sealed.is_some())
        .bind(entries.sequences)
        .bind(entries.models)
        .bind(entries.severities)
        .bind(entries.times)
        .bind(entries.kinds)
        .bind(entries.actors)
        .bind(entries.lines)
        .bind(head.map(|h| stored(h.sequence)))
        .bind(head.map(|h| h.hash.to_string()))
        .bind(COMMITS_CHANNEL)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed("writing a commit", e))?;
        Ok(match (inline, queued) {
            (true, _) if !changes.events.is_empty() => Written::Sealed,
            (_, Some(commit_id)) => Written::Queued(commit_id),
            _ => Written::NoEvents,
        })
    }

    /// Sealed entries, each with the commit it came from (`commits`, none
    /// for an import), and the chain's new head, in one statement; the
    /// commits' queued events go. `notify` wakes other processes.
    pub(crate) async fn write_sealed(
        &self,
        tx: &mut PgConnection,
        entries: &[AuditLogEntry],
        commits: &[Option<i64>],
        notify: bool,
    ) -> Result<(), StoreError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let head = last.head();
        let columns = EntryColumns::of(entries)?;
        sqlx::query(
            "WITH entries AS ( \
                 INSERT INTO lifecycle_audit \
                     (sequence, model_id, severity, at_micros, kind, actor, entry, commit_id) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::smallint[], $4::bigint[], \
                     $5::text[], $6::text[], $7::text[], $8::bigint[]) \
             ), sealed AS ( \
                 DELETE FROM lifecycle_unsealed WHERE commit_id = ANY($8::bigint[]) \
             ), head AS ( \
                 UPDATE lifecycle_chain SET head_sequence = $9, head_hash = $10 WHERE id = 1 \
             ) \
             SELECT pg_notify($11, $9::text) WHERE $12",
        )
        .bind(columns.sequences)
        .bind(columns.models)
        .bind(columns.severities)
        .bind(columns.times)
        .bind(columns.kinds)
        .bind(columns.actors)
        .bind(columns.lines)
        .bind(commits)
        .bind(stored(head.sequence))
        .bind(head.hash.to_string())
        .bind(COMMITS_CHANNEL)
        .bind(notify)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("sealing audit entries", e))?;
        Ok(())
    }

    /// Loads an image into the empty store in one transaction.
    pub(crate) async fn load(&self, image: StoreImage) -> Result<(), StoreError> {
        image.check()?;
        let mut tx = self.begin().await?;
        let head = self.lock_chain(&mut tx).await?;
        let (models, queued): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM lifecycle_models), (SELECT count(*) FROM lifecycle_unsealed)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed("checking the store is empty", e))?;
        if models > 0 {
            return Err(StoreError::NotEmpty {
                what: format!("{models} models"),
            });
        }
        if head.is_some() || queued > 0 || self.checkpoint_in(&mut tx).await?.is_some() {
            return Err(StoreError::NotEmpty {
                what: "an audit log".into(),
            });
        }
        for state in &image.models {
            if let Some(first) = state.versions.first() {
                let changes = Changes {
                    model: Some((&first.model_id, state.revision)),
                    records: &state.versions,
                    events: &[],
                    sealed: None,
                };
                self.write_commit(&mut tx, &changes).await?;
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
            .map_err(|e| self.failed("writing the audit chain's head", e))?;
        }
        for chunk in image.audit.chunks(IMPORT_CHUNK) {
            self.write_sealed(&mut tx, chunk, &vec![None; chunk.len()], false)
                .await?;
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
