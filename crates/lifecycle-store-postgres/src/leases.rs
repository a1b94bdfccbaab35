//! Leases: granted, renewed and released inside a transaction holding the
//! lease's row, so that two processes never both hold one.

use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_store::{Lease, StoreError};
use sqlx::{PgConnection, PgExecutor};

use crate::rows::encode;
use crate::PostgresStore;

impl PostgresStore {
    pub(crate) async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        loop {
            let mut tx = self.begin().await?;
            let current = self.read_lease_for_update(&mut tx, name).await?;
            let Some(granted) = Lease::grant(current.as_ref(), name, holder, ttl, now) else {
                return Ok(None);
            };
            let written = match current {
                Some(_) => sqlx::query("UPDATE lifecycle_leases SET lease = $2 WHERE name = $1"),
                // A first holder inserts; racing another first holder, one
                // inserts nothing and asks again.
                None => sqlx::query(
                    "INSERT INTO lifecycle_leases (name, lease) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                ),
            }
            .bind(name)
            .bind(encode(&granted)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("writing a lease", e))?
            .rows_affected();
            if written == 0 {
                continue;
            }
            tx.commit()
                .await
                .map_err(|e| self.failed("committing a lease", e))?;
            return Ok(Some(granted));
        }
    }

    pub(crate) async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let current = self.read_lease_for_update(&mut tx, &lease.name).await?;
        if !lease.is_current(current.as_ref()) {
            return Ok(());
        }
        sqlx::query("UPDATE lifecycle_leases SET lease = $2 WHERE name = $1")
            .bind(&lease.name)
            .bind(encode(&lease.released())?)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed("releasing a lease", e))?;
        tx.commit()
            .await
            .map_err(|e| self.failed("committing a release", e))
    }

    pub(crate) async fn read_lease<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        name: &str,
    ) -> Result<Option<Lease>, StoreError> {
        self.lease_row(executor, name, "").await
    }

    /// The lease as a commit fenced by it sees it: its row held (shared)
    /// until the commit ends, so no one takes the lease meanwhile.
    pub(crate) async fn read_lease_locked(
        &self,
        tx: &mut PgConnection,
        name: &str,
    ) -> Result<Option<Lease>, StoreError> {
        self.lease_row(&mut *tx, name, " FOR SHARE").await
    }

    async fn read_lease_for_update(
        &self,
        tx: &mut PgConnection,
        name: &str,
    ) -> Result<Option<Lease>, StoreError> {
        self.lease_row(&mut *tx, name, " FOR UPDATE").await
    }

    async fn lease_row<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        name: &str,
        lock: &str,
    ) -> Result<Option<Lease>, StoreError> {
        let sql = format!("SELECT lease FROM lifecycle_leases WHERE name = $1{lock}");
        let row: Option<(String,)> = sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(executor)
            .await
            .map_err(|e| self.failed("reading a lease", e))?;
        row.map(|(text,)| self.decode("a lease", &text)).transpose()
    }
}
