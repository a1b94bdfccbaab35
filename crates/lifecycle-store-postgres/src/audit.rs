//! Audit reads through the indexes, pruning, and the verification hint.

use std::ops::RangeInclusive;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead};
use lifecycle_store::{AuditCheckpoint, AuditQuery, StoreError};
use sqlx::{PgConnection, QueryBuilder};

use crate::rows::{chain_head, micros, sequence_of, severity_rank, stored};
use crate::PostgresStore;

impl PostgresStore {
    /// The chain's head, after sealing any events left queued (see
    /// `seal_stranded`).
    pub(crate) async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        let (sequence, hash, stranded): (i64, Option<String>, bool) = sqlx::query_as(
            "SELECT head_sequence, head_hash, EXISTS (SELECT 1 FROM lifecycle_unsealed \
                 WHERE queued_at < clock_timestamp() - interval '1 second') \
             FROM lifecycle_chain WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.failed("reading the audit chain's head", e))?;
        if !stranded {
            return chain_head(&self.location, (sequence > 0).then_some(sequence), hash);
        }
        self.seal_stranded().await?;
        let (sequence, hash): (i64, Option<String>) =
            sqlx::query_as("SELECT head_sequence, head_hash FROM lifecycle_chain WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.failed("reading the audit chain's head", e))?;
        chain_head(&self.location, (sequence > 0).then_some(sequence), hash)
    }

    /// The query as one statement: every filter in SQL, through the index of
    /// the model, the severity or the time, in sequence order.
    pub(crate) async fn query_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditLogEntry>, StoreError> {
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::new("SELECT entry FROM lifecycle_audit WHERE TRUE");
        if let Some(model_id) = &query.model_id {
            sql.push(" AND model_id = ").push_bind(model_id.as_str());
        }
        if let Some(from) = query.from_sequence {
            sql.push(" AND sequence >= ").push_bind(stored(from));
        }
        if let Some(to) = query.to_sequence {
            sql.push(" AND sequence <= ").push_bind(stored(to));
        }
        if let Some(since) = query.since {
            sql.push(" AND at_micros >= ").push_bind(micros(since));
        }
        if let Some(until) = query.until {
            sql.push(" AND at_micros < ").push_bind(micros(until));
        }
        if let Some(severity) = query.min_severity {
            sql.push(" AND severity >= ")
                .push_bind(severity_rank(severity));
        }
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(actor) = &query.actor {
            sql.push(" AND actor = ").push_bind(actor.as_str());
        }
        sql.push(if query.newest_first {
            " ORDER BY sequence DESC"
        } else {
            " ORDER BY sequence"
        });
        if let Some(limit) = query.limit {
            sql.push(" LIMIT ")
                .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let rows: Vec<(String,)> = sql
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed("querying the audit log", e))?;
        rows.iter()
            .map(|(text,)| self.decode("an audit entry", text))
            .collect()
    }

    pub(crate) async fn span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        let (low, high): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT min(sequence), max(sequence) FROM lifecycle_audit \
             WHERE at_micros >= $1 AND at_micros < $2",
        )
        .bind(micros(since))
        .bind(micros(until))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.failed("reading the span of a time range", e))?;
        Ok(low
            .zip(high)
            .map(|(low, high)| sequence_of(low)..=sequence_of(high)))
    }

    /// Removes the entries up to `through` and advances the checkpoint, in
    /// one transaction with the chain's head locked.
    pub(crate) async fn prune(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        let mut tx = self.begin().await?;
        let head = self.lock_chain(&mut tx).await?.map_or(0, |h| h.sequence);
        let current = self.checkpoint_in(&mut tx).await?;
        let through = through.min(head);
        let pruned_to = current.map_or(0, |c| c.head.sequence);
        if through <= pruned_to {
            return Ok(current);
        }
        let last: Option<(String,)> =
            sqlx::query_as("SELECT entry FROM lifecycle_audit WHERE sequence = $1")
                .bind(stored(through))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.failed("reading the last entry to prune", e))?;
        let Some((last,)) = last else {
            return Ok(current);
        };
        let last: AuditLogEntry = self.decode("an audit entry", &last)?;
        let removed = sqlx::query("DELETE FROM lifecycle_audit WHERE sequence <= $1")
            .bind(stored(through))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("pruning the audit log", e))?
            .rows_affected();
        let checkpoint = AuditCheckpoint {
            head: last.head(),
            pruned: current.map_or(0, |c| c.pruned) + removed,
        };
        self.write_checkpoint(&mut tx, checkpoint).await?;
        tx.commit()
            .await
            .map_err(|e| self.failed("committing the prune", e))?;
        Ok(Some(checkpoint))
    }

    pub(crate) async fn checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|e| self.failed("taking a connection", e))?;
        self.checkpoint_in(&mut connection).await
    }

    /// The pruning checkpoint as `connection` sees it.
    pub(crate) async fn checkpoint_in(
        &self,
        connection: &mut PgConnection,
    ) -> Result<Option<AuditCheckpoint>, StoreError> {
        let (sequence, hash, count): (Option<i64>, Option<String>, i64) = sqlx::query_as(
            "SELECT pruned_sequence, pruned_hash, pruned_count FROM lifecycle_chain WHERE id = 1",
        )
        .fetch_one(&mut *connection)
        .await
        .map_err(|e| self.failed("reading the audit checkpoint", e))?;
        Ok(
            chain_head(&self.location, sequence, hash)?.map(|head| AuditCheckpoint {
                head,
                pruned: sequence_of(count),
            }),
        )
    }

    pub(crate) async fn verified(&self) -> Result<Option<ChainHead>, StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT sequence, hash FROM lifecycle_verified WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.failed("reading where verification got to", e))?;
        let (sequence, hash) = row.unzip();
        chain_head(&self.location, sequence, hash)
    }

    pub(crate) async fn set_verified(&self, head: ChainHead) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lifecycle_verified (id, sequence, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence, hash = EXCLUDED.hash",
        )
        .bind(stored(head.sequence))
        .bind(head.hash.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.failed("recording where verification got to", e))?;
        Ok(())
    }
}
