//! Metrics checkpoints per (model, version, replica), and recorded batches.

use std::collections::HashMap;

use lifecycle_domain::{ModelId, Version};
use lifecycle_store::{MetricsSnapshot, ModelState, Store, StoreError};

use crate::rows::{encode, version_key};
use crate::PostgresStore;

impl PostgresStore {
    pub(crate) async fn save_snapshot(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        let state = self.model(&snapshot.model_id).await?;
        snapshot.check(Some(&state))?;
        let mut tx = self.begin().await?;
        self.put_snapshot(&mut tx, &snapshot).await?;
        tx.commit()
            .await
            .map_err(|e| self.failed("committing a metrics checkpoint", e))
    }

    /// Replaces the merged part only if its state is still `expected`
    /// (compare and swap in one statement), and removes `replica`'s
    /// checkpoint, in one transaction.
    pub(crate) async fn fold(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        let state = self.model(&merged.model_id).await?;
        merged.check(Some(&state))?;
        let mut merged = merged;
        merged.replica.clear();
        let key = version_key(&merged.version);
        let mut tx = self.begin().await?;
        let swapped = match &expected {
            None => sqlx::query(
                "INSERT INTO lifecycle_metrics (model_id, version_key, replica, state, snapshot) \
                 VALUES ($1, $2, '', $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(merged.model_id.as_str())
            .bind(&key)
            .bind(&merged.state)
            .bind(encode(&merged)?)
            .execute(&mut *tx)
            .await,
            Some(expected) => {
                sqlx::query(
                    "UPDATE lifecycle_metrics SET state = $3, snapshot = $4 \
                 WHERE model_id = $1 AND version_key = $2 AND replica = '' AND state = $5",
                )
                .bind(merged.model_id.as_str())
                .bind(&key)
                .bind(&merged.state)
                .bind(encode(&merged)?)
                .bind(expected)
                .execute(&mut *tx)
                .await
            }
        }
        .map_err(|e| self.failed("folding a metrics checkpoint", e))?
        .rows_affected()
            == 1;
        if !swapped {
            return Ok(false);
        }
        if !replica.is_empty() {
            sqlx::query(
                "DELETE FROM lifecycle_metrics \
                 WHERE model_id = $1 AND version_key = $2 AND replica = $3",
            )
            .bind(merged.model_id.as_str())
            .bind(&key)
            .bind(replica)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("removing a folded checkpoint", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| self.failed("committing a fold", e))?;
        Ok(true)
    }

    pub(crate) async fn save_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        let mut states: HashMap<ModelId, ModelState> = HashMap::new();
        for snapshot in &snapshots {
            if !states.contains_key(&snapshot.model_id) {
                let state = self.model(&snapshot.model_id).await?;
                states.insert(snapshot.model_id.clone(), state);
            }
            snapshot.check(states.get(&snapshot.model_id))?;
        }
        let mut tx = self.begin().await?;
        let marked = sqlx::query(
            "INSERT INTO lifecycle_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(batch_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed("marking a batch recorded", e))?
        .rows_affected();
        if marked == 0 {
            return Err(StoreError::BatchRecorded {
                batch_id: batch_id.to_string(),
            });
        }
        for snapshot in &snapshots {
            self.put_snapshot(&mut tx, snapshot).await?;
        }
        tx.commit()
            .await
            .map_err(|e| self.failed("committing a batch", e))
    }

    pub(crate) async fn recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        let (found,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM lifecycle_batches WHERE batch_id = $1)")
                .bind(batch_id)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.failed("looking a batch up", e))?;
        Ok(found)
    }

    /// A version's checkpoints, the merged part (replica `""`) first.
    pub(crate) async fn snapshots(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT snapshot FROM lifecycle_metrics WHERE model_id = $1 AND version_key = $2 \
             ORDER BY replica COLLATE \"C\"",
        )
        .bind(model_id.as_str())
        .bind(version_key(version))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.failed("reading metrics checkpoints", e))?;
        rows.iter()
            .map(|(text,)| self.decode("a metrics checkpoint", text))
            .collect()
    }

    pub(crate) async fn every_snapshot(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT snapshot FROM lifecycle_metrics")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed("reading every metrics checkpoint", e))?;
        rows.iter()
            .map(|(text,)| self.decode("a metrics checkpoint", text))
            .collect()
    }
}
