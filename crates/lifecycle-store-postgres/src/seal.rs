//! Sealing: every audit event queued so far, whichever process queued it,
//! numbered and linked into the chain in one short transaction that holds
//! the chain's head. Commits queue their events in their own transaction
//! (`commit.rs`) and then ask for them sealed: one of them seals for all
//! that are queued, so the head is held for one flush per batch instead of
//! one per commit, and the commits' own flushes are shared.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lifecycle_domain::{AuditEvent, AuditLogEntry, ChainHead};
use lifecycle_store::{seal_events, StoreError};
use sqlx::PgConnection;

use crate::rows::chain_head;
use crate::PostgresStore;

/// How long a commit keeps trying to have its queued events sealed (the
/// server restarting, a lost connection) before it reports the failure.
const SEAL_PATIENCE: Duration = Duration::from_secs(10);

/// The longest pause between two tries.
const SEAL_PAUSE: Duration = Duration::from_secs(1);

/// A process's side of sealing.
#[derive(Default)]
pub(crate) struct Sealing {
    /// One sealer at a time in this process: its other committers wait
    /// here, where the sealer hands them their entries, not on the head's row.
    turn: tokio::sync::Mutex<()>,
    /// This process's commits waiting for their entries, with the entries
    /// once a sealer here has sealed them.
    waiting: Mutex<HashMap<i64, Option<Vec<AuditLogEntry>>>>,
}

/// A commit's place among the waiting, given up when it is dropped (sealed,
/// failed or cancelled: another sealer seals its events all the same).
struct Waiting<'a> {
    sealing: &'a Sealing,
    commit_id: i64,
}

impl<'a> Waiting<'a> {
    fn new(sealing: &'a Sealing, commit_id: i64) -> Self {
        lock(&sealing.waiting).insert(commit_id, None);
        Self { sealing, commit_id }
    }

    /// The entries, if a sealer in this process handed them over.
    fn take(&self) -> Option<Vec<AuditLogEntry>> {
        lock(&self.sealing.waiting)
            .get_mut(&self.commit_id)
            .and_then(Option::take)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(&self.sealing.waiting).remove(&self.commit_id);
    }
}

/// The map, even after a panic elsewhere while it was held (it stays whole:
/// every change to it is one insert or remove).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PostgresStore {
    /// The entries of the committed commit `commit_id`, sealed by this call
    /// or by any other sealer. A failure to seal is tried again for a
    /// while; then reported, saying that the change itself is committed.
    pub(crate) async fn sealed(&self, commit_id: i64) -> Result<Vec<AuditLogEntry>, StoreError> {
        let waiting = Waiting::new(&self.sealing, commit_id);
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match self.seal_for(&waiting).await {
                Ok(entries) => return Ok(entries),
                Err(e) if e.is_retryable() && started.elapsed() < SEAL_PATIENCE => {
                    tracing::warn!(error = %e, "cannot seal a commit's audit entries yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(SEAL_PAUSE);
                }
                Err(e) => {
                    return Err(StoreError::backend_from(
                        format!(
                            "the change is committed, but its audit entries are not sealed yet \
                             ({e}); the next commit or audit read seals them: read the model \
                             before trying the change again"
                        ),
                        e,
                    ))
                }
            }
        }
    }

    async fn seal_for(&self, waiting: &Waiting<'_>) -> Result<Vec<AuditLogEntry>, StoreError> {
        if let Some(entries) = waiting.take() {
            return Ok(entries);
        }
        let _turn = self.sealing.turn.lock().await;
        if let Some(entries) = waiting.take() {
            return Ok(entries);
        }
        self.seal_queued().await?;
        if let Some(entries) = waiting.take() {
            return Ok(entries);
        }
        // Committed before this seal began, and no longer queued: another
        // process sealed it.
        self.entries_of(waiting.commit_id).await
    }

    /// Seals every queued event, in commit order, and hands this process's
    /// waiting commits their entries. The caller holds the turn.
    async fn seal_queued(&self) -> Result<(), StoreError> {
        // Begun and locked in one trip to the server.
        let mut tx = self
            .pool
            .begin_with("BEGIN; SELECT 1 FROM lifecycle_chain WHERE id = 1 FOR UPDATE")
            .await
            .map_err(|e| self.failed("locking the audit chain's head", e))?;
        // Read after the lock's wait: a sealer that held it committed first,
        // so this statement sees its head and not the events it sealed.
        // The head's sequence and hash, beside each queued event (if any).
        type Row = (i64, Option<String>, Option<i64>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.head_sequence, c.head_hash, u.commit_id, u.event FROM lifecycle_chain c \
             LEFT JOIN lifecycle_unsealed u ON TRUE WHERE c.id = 1 \
             ORDER BY u.commit_id, u.position",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.failed("reading the queued audit events", e))?;
        let Some((sequence, hash, _, _)) = rows.first() else {
            return Err(self.corrupted("the audit chain's head row is missing"));
        };
        let head = chain_head(
            &self.location,
            (*sequence > 0).then_some(*sequence),
            hash.clone(),
        )?;
        let queued: Vec<(i64, &str)> = rows
            .iter()
            .filter_map(|(_, _, id, event)| id.zip(event.as_deref()))
            .collect();
        if queued.is_empty() {
            return Ok(());
        }
        let mut commits = Vec::with_capacity(queued.len());
        let mut events = Vec::with_capacity(queued.len());
        for &(commit_id, text) in &queued {
            commits.push(Some(commit_id));
            events.push(self.decode::<AuditEvent>("a queued audit event", text)?);
        }
        let entries = seal_events(events, head);
        for (chunk, ids) in entries
            .chunks(crate::commit::IMPORT_CHUNK)
            .zip(commits.chunks(crate::commit::IMPORT_CHUNK))
        {
            self.write_sealed(&mut tx, chunk, ids, true).await?;
        }
        tx.commit()
            .await
            .map_err(|e| self.failed("committing sealed audit entries", e))?;
        if let Some(last) = entries.last() {
            // This process's own commits are known at once; others' by NOTIFY.
            self.commits
                .send_modify(|head| *head = (*head).max(last.sequence));
        }
        let mut waiting = lock(&self.sealing.waiting);
        for (commit_id, entry) in commits.into_iter().zip(entries) {
            if let Some(slot) = commit_id.and_then(|id| waiting.get_mut(&id)) {
                slot.get_or_insert_with(Vec::new).push(entry);
            }
        }
        Ok(())
    }

    /// Seals events left queued longer than a moment: their committer
    /// stopped between its commit and the sealing (killed, cancelled, cut
    /// off). Readers of the chain's head call this, so that such a change
    /// reaches every process's feed without waiting for the next commit.
    pub(crate) async fn seal_stranded(&self) -> Result<(), StoreError> {
        let _turn = self.sealing.turn.lock().await;
        self.seal_queued().await
    }

    /// The sealed entries of commit `commit_id`, in order.
    async fn entries_of(&self, commit_id: i64) -> Result<Vec<AuditLogEntry>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT entry FROM lifecycle_audit WHERE commit_id = $1 ORDER BY sequence",
        )
        .bind(commit_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.failed("reading a commit's sealed audit entries", e))?;
        if rows.is_empty() {
            return Err(StoreError::backend(format!(
                "postgres at {}: commit {commit_id}'s audit events are neither queued nor sealed \
                 (pruned already?)",
                self.location
            )));
        }
        rows.iter()
            .map(|(text,)| self.decode("an audit entry", text))
            .collect()
    }

    /// The chain's head, its row locked until the transaction ends: what
    /// orders sealing, pruning and imports.
    pub(crate) async fn lock_chain(
        &self,
        tx: &mut PgConnection,
    ) -> Result<Option<ChainHead>, StoreError> {
        let (sequence, hash): (i64, Option<String>) = sqlx::query_as(
            "SELECT head_sequence, head_hash FROM lifecycle_chain WHERE id = 1 FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed("locking the audit chain's head", e))?;
        chain_head(&self.location, (sequence > 0).then_some(sequence), hash)
    }
}
