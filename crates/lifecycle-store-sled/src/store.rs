//! `SledStore`: the storage port on sled, one transaction per commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};
use lifecycle_store::{
    run_query, seal_events, AuditQuery, Commit, CommitReceipt, MetricsSnapshot, ModelState, Store,
    StoreError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::durable::GroupFlush;
use crate::keys;
use crate::open::{check_format, open_db, open_error};
use crate::watermark::Watermark;

/// The durable embedded store, in one directory.
///
/// Every commit is one sled transaction across the trees it touches, flushed
/// to disk before `commit` returns; concurrent commits share flushes. Reads
/// use indexes and never scan unrelated data; opening reads no data at all.
/// One process at a time: a second one gets [`StoreError::InUse`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use lifecycle_store::Store;
/// use lifecycle_store_sled::SledStore;
/// let dir = std::env::temp_dir().join(format!("lifecycle-doc-{}", std::process::id()));
/// let store = SledStore::open(&dir)?;
/// assert_eq!(store.kind(), "sled");
/// assert!(store.models().await?.is_empty());
/// # drop(store); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), lifecycle_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    trees: Trees,
    flush: GroupFlush,
    watermark: Arc<Watermark>,
}

/// The trees of a store. `models` holds each model's `ModelState`; `audit`
/// the entries by sequence; the `audit_by_*` trees are indexes with empty values.
#[derive(Debug)]
struct Trees {
    meta: sled::Tree,
    models: sled::Tree,
    audit: sled::Tree,
    audit_by_model: sled::Tree,
    audit_by_time: sled::Tree,
    audit_by_severity: sled::Tree,
    metrics: sled::Tree,
}

const HEAD_KEY: &[u8] = b"head";
/// `meta/commits`: how many commits the store holds, for the watermark.
const COMMITS_KEY: &[u8] = b"commits";

impl SledStore {
    /// Opens the store in directory `path`, creating it (readable by the
    /// owner only) if it does not exist.
    ///
    /// Errors name the path and the problem: [`StoreError::InUse`] when
    /// another process has it open, [`StoreError::NotAStore`] for a file or a
    /// foreign directory, [`StoreError::UnsupportedFormat`] for a store of a
    /// newer lifecycle, [`StoreError::Corrupted`] for damaged files,
    /// [`StoreError::Unusable`] for permission problems.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = open_db(&path)?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_error(&path, e));
        let meta = tree("meta")?;
        check_format(&path, &db, &meta)?;
        let trees = Trees {
            meta,
            models: tree("models")?,
            audit: tree("audit")?,
            audit_by_model: tree("audit_by_model")?,
            audit_by_time: tree("audit_by_time")?,
            audit_by_severity: tree("audit_by_severity")?,
            metrics: tree("metrics")?,
        };
        let committed = commits(&path, &trees.meta)?;
        let watermark = Arc::new(Watermark::open(&path, committed)?);
        Ok(Self {
            path,
            db,
            trees,
            flush: GroupFlush::default(),
            watermark,
        })
    }

    /// Returns once everything applied so far is on disk (group commit).
    async fn durable(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        let meta = self.trees.meta.clone();
        let watermark = self.watermark.clone();
        let path = self.path.clone();
        self.flush
            .durable(move || {
                // Read before flushing: every commit counted is in the flush.
                let committed = commits(&path, &meta)?;
                db.flush().map_err(|e| open_error(&path, e))?;
                watermark.record(committed)
            })
            .await
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the store occupies on disk, as sled reports it.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.error(e))
    }

    /// Applies a checked commit in one transaction, without flushing.
    fn apply(&self, commit: &Commit) -> Result<CommitReceipt, StoreError> {
        let t = &self.trees;
        let trees = (
            &t.meta,
            &t.models,
            &t.audit,
            &t.audit_by_model,
            &t.audit_by_time,
            &t.audit_by_severity,
        );
        let outcome = trees.transaction(|(meta, models, audit, by_model, by_time, by_severity)| {
            let abort = ConflictableTransactionError::Abort;
            let mut revision = None;
            if let Some(guard) = &commit.guard {
                let key = guard.model_id.as_str().as_bytes();
                let current: ModelState = match models.get(key)? {
                    Some(bytes) => self.decode("models", &bytes).map_err(abort)?,
                    None => ModelState::default(),
                };
                if current.revision != guard.expected_revision {
                    return Err(abort(StoreError::Conflict {
                        model_id: guard.model_id.clone(),
                        expected: guard.expected_revision,
                        actual: current.revision,
                    }));
                }
                revision = Some(current.revision);
                if !commit.versions.is_empty() {
                    let next = current
                        .apply(&guard.model_id, &commit.versions)
                        .map_err(abort)?;
                    models.insert(key, encode(&next).map_err(abort)?)?;
                    revision = Some(next.revision);
                }
            }
            let head = match meta.get(HEAD_KEY)? {
                Some(bytes) => Some(self.head_of(&bytes).map_err(abort)?),
                None => None,
            };
            let entries = seal_events(commit.audit.clone(), head);
            for entry in &entries {
                index_entry(entry, audit, by_model, by_time, by_severity)?;
            }
            if let Some(last) = entries.last() {
                meta.insert(HEAD_KEY, &keys::encode_head(last.head())[..])?;
            }
            let count = match meta.get(COMMITS_KEY)? {
                Some(bytes) => {
                    decode_count(&bytes).ok_or_else(|| abort(self.damaged("the commit counter")))?
                }
                None => 0,
            };
            meta.insert(COMMITS_KEY, &(count + 1).to_be_bytes()[..])?;
            Ok(CommitReceipt { revision, entries })
        });
        outcome.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.error(e),
        })
    }

    fn decode<T: DeserializeOwned>(&self, tree: &str, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupted {
            path: self.path.clone(),
            detail: format!("a record in {tree} cannot be read: {e}"),
        })
    }

    fn head_of(&self, bytes: &[u8]) -> Result<ChainHead, StoreError> {
        keys::decode_head(bytes).ok_or_else(|| self.damaged("the audit chain head"))
    }

    fn damaged(&self, what: &str) -> StoreError {
        StoreError::Corrupted {
            path: self.path.clone(),
            detail: format!("{what} is damaged"),
        }
    }

    fn error(&self, error: sled::Error) -> StoreError {
        open_error(&self.path, error)
    }

    pub(crate) fn audit_tree(&self, name: AuditTree) -> &sled::Tree {
        match name {
            AuditTree::Entries => &self.trees.audit,
            AuditTree::ByModel => &self.trees.audit_by_model,
            AuditTree::ByTime => &self.trees.audit_by_time,
            AuditTree::BySeverity => &self.trees.audit_by_severity,
        }
    }

    pub(crate) fn read_entry(&self, sequence: u64) -> Result<Option<AuditLogEntry>, StoreError> {
        let bytes = self
            .trees
            .audit
            .get(keys::sequence(sequence))
            .map_err(|e| self.error(e))?;
        bytes.map(|b| self.decode("audit", &b)).transpose()
    }

    pub(crate) fn sled_error(&self, error: sled::Error) -> StoreError {
        self.error(error)
    }
}

/// The audit trees, for the index walker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AuditTree {
    Entries,
    ByModel,
    ByTime,
    BySeverity,
}

/// Writes an entry and its index keys.
fn index_entry(
    entry: &AuditLogEntry,
    audit: &TransactionalTree,
    by_model: &TransactionalTree,
    by_time: &TransactionalTree,
    by_severity: &TransactionalTree,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let seq = entry.sequence;
    let event = &entry.event;
    let record = encode(entry).map_err(ConflictableTransactionError::Abort)?;
    audit.insert(&keys::sequence(seq)[..], record)?;
    if let Some(model_id) = &event.model_id {
        by_model.insert(keys::model_sequence(model_id, seq), &[][..])?;
    }
    by_time.insert(&keys::time_sequence(event.timestamp, seq)[..], &[][..])?;
    by_severity.insert(&keys::severity_sequence(event.severity, seq)[..], &[][..])?;
    Ok(())
}

/// The number of commits `meta` records.
fn commits(path: &Path, meta: &sled::Tree) -> Result<u64, StoreError> {
    match meta.get(COMMITS_KEY).map_err(|e| open_error(path, e))? {
        None => Ok(0),
        Some(bytes) => decode_count(&bytes).ok_or_else(|| StoreError::Corrupted {
            path: path.to_path_buf(),
            detail: "the commit counter is damaged".into(),
        }),
    }
}

fn decode_count(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode a record: {e}")))
}

#[async_trait]
impl Store for SledStore {
    fn kind(&self) -> &'static str {
        "sled"
    }

    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let receipt = self.apply(&commit)?;
        self.durable().await?;
        Ok(receipt)
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        let bytes = self
            .trees
            .models
            .get(model_id.as_str().as_bytes())
            .map_err(|e| self.error(e))?;
        match bytes {
            Some(b) => self.decode("models", &b),
            None => Ok(ModelState::default()),
        }
    }

    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError> {
        Ok(self.model(model_id).await?.version(version).cloned())
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        self.trees
            .models
            .iter()
            .keys()
            .map(|key| {
                let key = key.map_err(|e| self.error(e))?;
                let text = String::from_utf8_lossy(&key).into_owned();
                ModelId::new(text).map_err(|e| StoreError::Corrupted {
                    path: self.path.clone(),
                    detail: format!("a model key cannot be read: {e}"),
                })
            })
            .collect()
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let bytes = self.trees.meta.get(HEAD_KEY).map_err(|e| self.error(e))?;
        bytes.map(|b| self.head_of(&b)).transpose()
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        run_query(self, query)
    }

    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        snapshot.metrics.validate()?;
        // Versions are never removed, so a version seen registered stays so.
        let model = self.model(&snapshot.model_id).await?;
        if model.version(&snapshot.version).is_none() {
            return Err(StoreError::UnknownVersion {
                model_id: snapshot.model_id,
                version: snapshot.version,
            });
        }
        let key = keys::model_version(&snapshot.model_id, &snapshot.version);
        self.trees
            .metrics
            .insert(key, encode(&snapshot)?)
            .map_err(|e| self.error(e))?;
        self.durable().await
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<MetricsSnapshot>, StoreError> {
        let bytes = self
            .trees
            .metrics
            .get(keys::model_version(model_id, version))
            .map_err(|e| self.error(e))?;
        bytes.map(|b| self.decode("metrics", &b)).transpose()
    }
}
