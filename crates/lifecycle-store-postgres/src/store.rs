//! The adapter: its pool, how it connects, and the port it implements.

use std::ops::RangeInclusive;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};
use lifecycle_store::{
    AuditCheckpoint, AuditQuery, Commit, CommitReceipt, CommitSignal, Lease, MetricsSnapshot,
    ModelState, Store, StoreError, StoreImage,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::task::JoinHandle;

use crate::rows::{decode, version_key};

/// How many connections one store keeps at most, besides its listener:
/// lifecycle commits are rare and short, reads are few per call.
const MAX_CONNECTIONS: u32 = 8;

/// How long a call waits for a free connection before it fails (retryable).
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The storage port on PostgreSQL. Cheap to share behind an `Arc`; any
/// number of stores, in any number of processes, may use one database.
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// The database, named without credentials, for errors.
    pub(crate) location: String,
    /// The latest audit sequence a commit was notified at (by any process).
    pub(crate) commits: tokio::sync::watch::Sender<u64>,
    /// This process's sealers and the commits waiting for them.
    pub(crate) sealing: crate::seal::Sealing,
    listener: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// with any of libpq's parameters: `?sslmode=require`, `?host=/run/postgresql`),
    /// creates or upgrades the schema, and starts listening for other
    /// processes' commits (on the calling tokio runtime).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|e| StoreError::Unusable {
            location: without_credentials(url),
            reason: format!(
                "not a PostgreSQL URL ({e}); write postgres://user:password@host:5432/database"
            ),
        })?;
        let location = location_of(&options);
        check_root_certificate(url, &location)?;
        // One connection first, for the server's own reason when it cannot
        // be made (the pool would retry until its timeout and say only that).
        let first = PgConnection::connect_with(&options)
            .await
            .map_err(|e| unreachable(&location, e))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(&location, e))?;
        let store = Self::on_pool(pool, location);
        store.migrate().await?;
        let head = store.head().await?.map_or(0, |h| h.sequence);
        store.commits.send_replace(head);
        Ok(store.listening())
    }

    fn on_pool(pool: PgPool, location: String) -> Self {
        Self {
            pool,
            location,
            commits: tokio::sync::watch::Sender::new(0),
            sealing: crate::seal::Sealing::default(),
            listener: None,
        }
    }

    /// Applies the schema's migrations that the database lacks (what
    /// `connect` does first; `lifecycle migrate-schema` does only this).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::schema::migrator()
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unusable {
                location: self.location.clone(),
                reason: format!("its schema cannot be brought up to date: {e}"),
            })
    }

    fn listening(mut self) -> Self {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.listener = Some(crate::feed::spawn(self.pool.clone(), self.commits.clone()));
        }
        self
    }

    /// The database, named without credentials.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A backend failure of `what`, keeping sqlx's error.
    pub(crate) fn failed(&self, what: &str, error: sqlx::Error) -> StoreError {
        failure(&self.location, what, error)
    }

    /// The store holds what it cannot have written: `detail` says what.
    pub(crate) fn corrupted(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupted {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    /// JSON text read back, or `Corrupted` naming what.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        text: &str,
    ) -> Result<T, StoreError> {
        decode(&self.location, what, text)
    }

    /// Records of the rows `(model_id, revision, record)`, as model states.
    pub(crate) fn states(
        &self,
        rows: Vec<(String, i64, Option<String>)>,
    ) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        let mut states: Vec<(ModelId, ModelState)> = Vec::new();
        for (model, revision, record) in rows {
            if states.last().is_none_or(|(id, _)| id.as_str() != model) {
                let id = ModelId::new(model)
                    .map_err(|e| self.corrupted(format!("a model id cannot be read: {e}")))?;
                let state = ModelState {
                    revision: crate::rows::sequence_of(revision),
                    versions: Vec::new(),
                };
                states.push((id, state));
            }
            if let (Some(record), Some((_, state))) = (record, states.last_mut()) {
                state
                    .versions
                    .push(self.decode("a version record", &record)?);
            }
        }
        for (_, state) in &mut states {
            state.versions.sort_by(|a, b| a.version.cmp(&b.version));
        }
        states.sort_by(|(a, _), (b, _)| a.cmp(b));
        Ok(states)
    }
}

/// What a failed call of the backend says: the operation and sqlx's cause.
pub(crate) fn failure(location: &str, what: &str, error: sqlx::Error) -> StoreError {
    StoreError::backend_from(format!("postgres at {location}: {what}: {error}"), error)
}

fn unreachable(location: &str, error: sqlx::Error) -> StoreError {
    let text = error.to_string();
    let hint = if matches!(error, sqlx::Error::Tls(_)) || text.contains("certificate") {
        "cannot connect over TLS (does the server offer TLS, and did the authority in the URL's \
         sslrootcert sign its certificate, for the host the URL names?)"
    } else {
        "cannot connect (is the server running, and the URL's user, password and database right?)"
    };
    failure(location, hint, error)
}

/// The URL's `sslrootcert` file, checked before connecting: sqlx would say
/// only "No such file or directory", without naming it.
fn check_root_certificate(url: &str, location: &str) -> Result<(), StoreError> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let Some(path) = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("sslrootcert="))
        // A percent-encoded path is sqlx's to decode.
        .filter(|path| !path.contains('%'))
    else {
        return Ok(());
    };
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| StoreError::Unusable {
            location: location.to_string(),
            reason: format!(
                "the URL's sslrootcert {path} cannot be read ({e}): name the PEM file of the \
                 authority that signed the server's certificate"
            ),
        })
}

/// `host:port/database` of the options: never the password.
fn location_of(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// `url` as it may be shown: scheme, host, port and database, without the
/// user and password and without the query (`?password=` is a libpq
/// parameter too), whatever the URL's shape.
///
/// ```
/// use lifecycle_store_postgres::without_credentials;
/// assert_eq!(without_credentials("postgres://u:p@ss@db:5432/app?sslmode=require"), "postgres://db:5432/app");
/// assert_eq!(without_credentials("postgres://db/app?password=secret"), "postgres://db/app");
/// ```
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let shown: String = format!("{scheme}://{host}/{path}")
        .chars()
        .take(120)
        .collect();
    shown.trim_end_matches('/').to_string()
}

#[async_trait]
impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        self.apply(commit).await
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.model_id, m.revision, v.record FROM lifecycle_models m \
             LEFT JOIN lifecycle_versions v ON v.model_id = m.model_id \
             WHERE m.model_id = $1",
        )
        .bind(model_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.failed("reading a model", e))?;
        let mut states = self.states(rows)?;
        let mut state = states.pop().map(|(_, s)| s).unwrap_or_default();
        // A model row is written only with its first version; none is unknown.
        if state.versions.is_empty() {
            state = ModelState::default();
        }
        Ok(state)
    }

    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError> {
        let record: Option<(String,)> = sqlx::query_as(
            "SELECT record FROM lifecycle_versions WHERE model_id = $1 AND version_key = $2",
        )
        .bind(model_id.as_str())
        .bind(version_key(version))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.failed("reading a version", e))?;
        record
            .map(|(text,)| self.decode("a version record", &text))
            .transpose()
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.model_id, m.revision, NULL::text FROM lifecycle_models m \
             WHERE EXISTS (SELECT 1 FROM lifecycle_versions v WHERE v.model_id = m.model_id)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.failed("listing models", e))?;
        Ok(self.states(rows)?.into_iter().map(|(id, _)| id).collect())
    }

    async fn all_models(&self) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.model_id, m.revision, v.record FROM lifecycle_models m \
             JOIN lifecycle_versions v ON v.model_id = m.model_id \
             ORDER BY m.model_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.failed("reading every model", e))?;
        self.states(rows)
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.head().await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        self.query_audit(query).await
    }

    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        self.span(since, until).await
    }

    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.prune(through).await
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.checkpoint().await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        self.acquire(name, holder, ttl, now).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.release(lease).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.read_lease(&self.pool, name).await
    }

    fn commit_signal(&self) -> Option<CommitSignal> {
        self.listener.as_ref().map(|_| self.commits.subscribe())
    }

    async fn verified_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.verified().await
    }

    async fn set_verified_head(&self, head: ChainHead) -> Result<(), StoreError> {
        self.set_verified(head).await
    }

    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        self.save_snapshot(snapshot).await
    }

    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        self.fold(merged, expected, replica).await
    }

    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        self.save_batch(snapshots, batch_id).await
    }

    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        self.recorded(batch_id).await
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError> {
        self.snapshots(model_id, version).await
    }

    async fn all_metrics(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        self.every_snapshot().await
    }

    async fn import(&self, image: StoreImage) -> Result<(), StoreError> {
        self.load(image).await
    }
}
