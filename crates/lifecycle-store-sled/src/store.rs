//! `SledStore`: the storage port on sled, one journaled write per commit.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{AuditLogEntry, ChainHead, ModelId, ModelVersion, Version};
use lifecycle_store::{
    run_query, seal_events, time_span, AuditCheckpoint, AuditQuery, Commit, CommitReceipt,
    CommitSignal, Lease, MetricsSnapshot, ModelState, Store, StoreError, StoreImage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::disk_sync::DiskSync;
use crate::durable::GroupFlush;
use crate::journal::{Journal, TreeId, TREES};
use crate::keys;
use crate::open::{at, check_format, open_db, open_error, rebase, LOCK_WAIT};
use crate::seal;
use crate::watermark::Watermark;

mod commit;
mod import;
mod prune;
mod reads;

use commit::*;

/// The durable embedded store, in one directory.
///
/// Every commit is written as one journal record, then applied to the model
/// record, the audit entries and their indexes, and flushed to disk before
/// `commit` returns; concurrent commits share flushes. Reads use indexes and
/// never scan unrelated data; opening reads no data beyond a few counters.
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
    /// Indexed by `TreeId` discriminant.
    trees: Vec<sled::Tree>,
    metrics: sled::Tree,
    flush: GroupFlush,
    watermark: Arc<Watermark>,
    disk: Arc<DiskSync>,
    /// Serializes writers: a commit reads, computes and writes under it.
    writer: Mutex<()>,
    /// Set when a write failed half-way; commits are refused until reopen.
    broken: AtomicBool,
    /// Model records already decoded. Only this process writes (sled's file
    /// lock), so the cache is exact: writers replace entries after writing,
    /// readers only fill missing ones.
    models: RwLock<HashMap<ModelId, ModelState>>,
    /// Followers of the change feed in this process are woken with the
    /// head's sequence once a commit is durable.
    commits: tokio::sync::watch::Sender<u64>,
    /// Last, so that it drops after every sled handle above.
    seal: SealOnClose,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // A store whose write failed half-way is not sealed: the next open
        // checks it on a copy.
        self.seal.armed = !self.broken.load(Ordering::Acquire);
    }
}

/// Seals the store's files once sled has let go of them (`seal.rs`).
#[derive(Debug)]
struct SealOnClose {
    dir: PathBuf,
    armed: bool,
}

impl Drop for SealOnClose {
    fn drop(&mut self) {
        if self.armed {
            seal::write(&self.dir, LOCK_WAIT);
        }
    }
}

const HEAD_KEY: &[u8] = b"head";
/// A lease's key in the meta tree.
fn lease_key(name: &str) -> Vec<u8> {
    format!("lease/{name}").into_bytes()
}

/// Where the audit log's incremental verification got to (a hint).
const VERIFIED_KEY: &[u8] = b"verified";
/// `meta/commits`: how many commits the store holds, for the watermark.
const COMMITS_KEY: &[u8] = b"commits";
/// `meta/journal`: the writes of the last commit, recorded before them.
const JOURNAL_KEY: &[u8] = b"journal";
/// `meta/checkpoint`: the `AuditCheckpoint` left by pruning.
const CHECKPOINT_KEY: &[u8] = b"checkpoint";
impl SledStore {
    /// Opens the store in directory `path`, creating it (readable by the
    /// owner only) if it does not exist, and completes a commit that a crash
    /// interrupted.
    ///
    /// A store that is still being closed (sled finishes its writes on its
    /// own threads) is waited for, up to a second.
    ///
    /// Errors name the path and the problem: [`StoreError::InUse`] when
    /// another process has it open, [`StoreError::NotAStore`] for a file or a
    /// foreign directory, [`StoreError::UnsupportedFormat`] for a store of a
    /// newer lifecycle, [`StoreError::Corrupted`] for damaged files or lost
    /// commits, [`StoreError::Unusable`] for permission problems.
    ///
    /// A store that was not closed cleanly (a crash, a killed process, files
    /// changed from outside) is first opened and checked on a copy in the
    /// temporary directory (`TMPDIR`), so that a damaged store is refused
    /// with its files left exactly as they were.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if seal::needs_trial(&path) {
            Self::check_a_copy(&path)?;
        }
        Self::open_in_place(path)
    }

    /// Opens a copy of the store at `path` with every check of `open`,
    /// holding the store's lock meanwhile; errors name `path`.
    fn check_a_copy(path: &Path) -> Result<(), StoreError> {
        let unusable = |reason: String| StoreError::Unusable {
            location: at(path),
            reason,
        };
        let lock = seal::lock_log(path, LOCK_WAIT)
            .map_err(|e| unusable(format!("cannot read its log: {e}")))?;
        let Some(_lock) = lock else {
            return Err(StoreError::InUse { location: at(path) });
        };
        let copy = seal::copy_to_temporary(path).map_err(|e| {
            unusable(format!(
                "it was not closed cleanly, so it is checked on a copy before opening, and \
                 copying it into {} failed ({e}); free space there or set TMPDIR to a directory \
                 with room",
                std::env::temp_dir().display()
            ))
        })?;
        Self::open_in_place(copy.path().to_path_buf())
            .map(drop)
            .map_err(|e| rebase(e, copy.path(), path))
    }

    fn open_in_place(path: PathBuf) -> Result<Self, StoreError> {
        let db = open_db(&path)?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_error(&path, e));
        check_format(&path, &db, &tree(TreeId::Meta.name())?)?;
        let trees = TREES
            .iter()
            .map(|t| tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        let disk = DiskSync::open(&path).map_err(|e| StoreError::Unusable {
            location: at(&path),
            reason: format!("cannot open its files for syncing: {e}"),
        })?;
        let store = Self {
            metrics: tree("metrics")?,
            watermark: Arc::new(Watermark::open(&path)?),
            disk: Arc::new(disk),
            path: path.clone(),
            db,
            trees,
            flush: GroupFlush::default(),
            writer: Mutex::new(()),
            broken: AtomicBool::new(false),
            models: RwLock::new(HashMap::new()),
            commits: tokio::sync::watch::Sender::new(0),
            seal: SealOnClose {
                dir: path,
                armed: true,
            },
        };
        store.recover()?;
        store.undo_interrupted_import()?;
        store.watermark.check(&store.path, store.commits()?)?;
        store.announce_head()?;
        Ok(store)
    }

    fn read_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let bytes = self
            .tree(TreeId::Meta)
            .get(lease_key(name))
            .map_err(|e| self.error(e))?;
        bytes.map(|b| self.decode("meta", &b)).transpose()
    }

    /// Tells followers of the change feed where the head is.
    fn announce_head(&self) -> Result<(), StoreError> {
        let sequence = self.read_head()?.map_or(0, |head| head.sequence);
        self.commits.send_replace(sequence);
        Ok(())
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the store occupies on disk, as sled reports it.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.error(e))
    }

    pub(crate) fn tree(&self, id: TreeId) -> &sled::Tree {
        &self.trees[id as usize]
    }

    /// Completes the last commit if a crash interrupted its writes.
    fn recover(&self) -> Result<(), StoreError> {
        let meta = self.tree(TreeId::Meta);
        let Some(bytes) = meta.get(JOURNAL_KEY).map_err(|e| self.error(e))? else {
            return Ok(());
        };
        let journal = Journal::decode(&bytes).ok_or_else(|| self.damaged("the commit journal"))?;
        if journal.commit > self.commits()? {
            self.write(&journal)?;
            flush_to_disk(&self.db, &self.disk, &self.path)?;
        }
        Ok(())
    }

    /// Returns once everything applied so far is on disk (group commit).
    async fn durable(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        let meta = self.tree(TreeId::Meta).clone();
        let watermark = self.watermark.clone();
        let disk = self.disk.clone();
        let path = self.path.clone();
        self.flush
            .durable(move || {
                // Read before flushing: every commit counted is in the flush.
                let committed = commits(&path, &meta)?;
                flush_to_disk(&db, &disk, &path)?;
                watermark.record(committed)
            })
            .await
    }

    pub(crate) fn damaged(&self, what: &str) -> StoreError {
        StoreError::Corrupted {
            location: at(&self.path),
            detail: format!("{what} is damaged"),
        }
    }

    pub(crate) fn error(&self, error: sled::Error) -> StoreError {
        open_error(&self.path, error)
    }
}

/// Where a replica's checkpoint of a version is kept.
fn checkpoint_key(snapshot: &MetricsSnapshot) -> Vec<u8> {
    keys::checkpoint(&snapshot.model_id, &snapshot.version, &snapshot.replica)
}

/// Flushes sled, then does what its flush leaves undone (see `disk_sync.rs`).
fn flush_to_disk(db: &sled::Db, disk: &DiskSync, path: &Path) -> Result<(), StoreError> {
    db.flush().map_err(|e| open_error(path, e))?;
    disk.sync().map_err(|e| StoreError::Unusable {
        location: at(path),
        reason: format!("cannot sync to disk: {e}"),
    })
}

/// The number of commits `meta` records.
fn commits(path: &Path, meta: &sled::Tree) -> Result<u64, StoreError> {
    let damaged = || StoreError::Corrupted {
        location: at(path),
        detail: "the commit counter is damaged".into(),
    };
    match meta.get(COMMITS_KEY).map_err(|e| open_error(path, e))? {
        None => Ok(0),
        Some(bytes) => Ok(u64::from_be_bytes(
            bytes.as_ref().try_into().map_err(|_| damaged())?,
        )),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value)
        .map_err(|e| StoreError::backend_from(format!("cannot encode a record: {e}"), e))
}

#[async_trait]
impl Store for SledStore {
    fn kind(&self) -> &'static str {
        "sled"
    }

    fn size_on_disk(&self) -> Option<u64> {
        self.db.size_on_disk().ok()
    }

    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.check()?;
        let receipt = self.apply(&commit)?;
        self.durable().await?;
        if let Some(last) = receipt.entries.last() {
            self.commits.send_replace(last.sequence);
        }
        Ok(receipt)
    }

    async fn model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        self.read_model(model_id)
    }

    async fn version(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Option<ModelVersion>, StoreError> {
        Ok(self.read_model(model_id)?.version(version).cloned())
    }

    async fn models(&self) -> Result<Vec<ModelId>, StoreError> {
        self.tree(TreeId::Models)
            .iter()
            .keys()
            .map(|key| {
                let key = key.map_err(|e| self.error(e))?;
                ModelId::new(String::from_utf8_lossy(&key).into_owned())
                    .map_err(|_| self.damaged("a model key"))
            })
            .collect()
    }

    async fn all_models(&self) -> Result<Vec<(ModelId, ModelState)>, StoreError> {
        // One pass over the tree; models already decoded come from the
        // cache. The others are not put in it: a pass over a catalogue
        // would copy every record for models no later call may touch.
        let mut cached = Vec::new();
        let (mut ids, mut encoded) = (Vec::new(), Vec::new());
        for entry in self.tree(TreeId::Models).iter() {
            let (key, bytes) = entry.map_err(|e| self.error(e))?;
            let model_id = ModelId::new(String::from_utf8_lossy(&key).into_owned())
                .map_err(|_| self.damaged("a model key"))?;
            match self.cached_model(&model_id) {
                Some(state) => cached.push((model_id, state)),
                None => {
                    ids.push(model_id);
                    encoded.push(bytes);
                }
            }
        }
        let decoded: Vec<ModelState> = self.decode_all("models", &encoded)?;
        let mut all: Vec<(ModelId, ModelState)> = ids.into_iter().zip(decoded).collect();
        all.extend(cached);
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.read_head()
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, StoreError> {
        run_query(self, query)
    }

    async fn audit_span(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        time_span(self, since, until)
    }

    async fn prune_audit(&self, through: u64) -> Result<Option<AuditCheckpoint>, StoreError> {
        let checkpoint = self.prune(through)?;
        self.durable().await?;
        Ok(checkpoint)
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.read_checkpoint()
    }

    async fn verified_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let bytes = self
            .tree(TreeId::Meta)
            .get(VERIFIED_KEY)
            .map_err(|e| self.error(e))?;
        // Damaged, it is only a hint: verification starts from the beginning.
        Ok(bytes.and_then(|b| keys::decode_head(&b)))
    }

    async fn set_verified_head(&self, head: ChainHead) -> Result<(), StoreError> {
        // Flushed with the next commit or on close; never fsync'd on its own.
        self.tree(TreeId::Meta)
            .insert(VERIFIED_KEY, keys::encode_head(head).to_vec())
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn save_metrics(&self, snapshot: MetricsSnapshot) -> Result<(), StoreError> {
        // Versions are never removed, so a version seen registered stays so.
        snapshot.check(Some(&self.read_model(&snapshot.model_id)?))?;
        self.metrics
            .insert(checkpoint_key(&snapshot), encode(&snapshot)?)
            .map_err(|e| self.error(e))?;
        self.durable().await
    }

    async fn fold_metrics(
        &self,
        merged: MetricsSnapshot,
        expected: Option<Vec<u8>>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        merged.check(Some(&self.read_model(&merged.model_id)?))?;
        let mut merged = merged;
        merged.replica.clear();
        let key = checkpoint_key(&merged);
        // Removed first: folding the merged part itself (replica "")
        // replaces it.
        let mut batch = sled::Batch::default();
        batch.remove(keys::checkpoint(&merged.model_id, &merged.version, replica));
        batch.insert(key.clone(), encode(&merged)?);
        {
            // Comparing and writing under one lock: two folds cannot both
            // build on the same merged part.
            let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let current = self.metrics.get(&key).map_err(|e| self.error(e))?;
            let current: Option<MetricsSnapshot> =
                current.map(|b| self.decode("metrics", &b)).transpose()?;
            if current.map(|c| c.state) != expected {
                return Ok(false);
            }
            self.metrics.apply_batch(batch).map_err(|e| self.error(e))?;
        }
        self.durable().await?;
        Ok(true)
    }

    async fn save_metrics_batch(
        &self,
        snapshots: Vec<MetricsSnapshot>,
        batch_id: &str,
    ) -> Result<(), StoreError> {
        let mark = keys::batch(batch_id);
        // One sled batch on one tree is atomic, a crash included.
        let mut batch = sled::Batch::default();
        for snapshot in &snapshots {
            snapshot.check(Some(&self.read_model(&snapshot.model_id)?))?;
            batch.insert(checkpoint_key(snapshot), encode(snapshot)?);
        }
        batch.insert(mark.clone(), b"1".to_vec());
        {
            // Checking and writing under one lock: two runs of the same
            // batch cannot both land.
            let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            if self
                .metrics
                .contains_key(&mark)
                .map_err(|e| self.error(e))?
            {
                return Err(StoreError::BatchRecorded {
                    batch_id: batch_id.to_string(),
                });
            }
            self.metrics.apply_batch(batch).map_err(|e| self.error(e))?;
        }
        self.durable().await
    }

    async fn batch_recorded(&self, batch_id: &str) -> Result<bool, StoreError> {
        self.metrics
            .contains_key(keys::batch(batch_id))
            .map_err(|e| self.error(e))
    }

    async fn metrics(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<Vec<MetricsSnapshot>, StoreError> {
        // The merged part's key is the prefix, so it comes first.
        let prefix = keys::model_version(model_id, version);
        let mut encoded = Vec::new();
        for pair in self.metrics.scan_prefix(&prefix) {
            let (key, value) = pair.map_err(|e| self.error(e))?;
            if keys::is_checkpoint_of(&prefix, &key) {
                encoded.push(value);
            }
        }
        self.decode_all("metrics", &encoded)
    }

    async fn all_metrics(&self) -> Result<Vec<MetricsSnapshot>, StoreError> {
        // Batch marks sort first (their keys start with the separator).
        let encoded = self
            .metrics
            .range([1u8]..)
            .values()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        self.decode_all("metrics", &encoded)
    }

    async fn import(&self, image: StoreImage) -> Result<(), StoreError> {
        image.check()?;
        self.import_image(&image)?;
        self.durable().await?;
        self.announce_head()
    }

    fn commit_signal(&self) -> Option<CommitSignal> {
        Some(self.commits.subscribe())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        let granted = {
            // Under the writer lock: a fenced commit and a grant never interleave.
            let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            self.refuse_if_broken()?;
            let granted = Lease::grant(self.read_lease(name)?.as_ref(), name, holder, ttl, now);
            if let Some(lease) = &granted {
                self.tree(TreeId::Meta)
                    .insert(lease_key(name), encode(lease)?)
                    .map_err(|e| self.error(e))?;
            }
            granted
        };
        self.durable().await?;
        Ok(granted)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        {
            let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            if !lease.is_current(self.read_lease(&lease.name)?.as_ref()) {
                return Ok(());
            }
            self.tree(TreeId::Meta)
                .insert(lease_key(&lease.name), encode(&lease.released())?)
                .map_err(|e| self.error(e))?;
        }
        self.durable().await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.read_lease(name)
    }
}

#[cfg(test)]
mod tests {
    use super::import::IMPORTING_KEY;
    use super::*;
    use lifecycle_domain::chrono::{DateTime, Utc};
    use lifecycle_domain::{
        dec, verify_chain, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities,
        ModelCostInfo,
    };

    /// Registering `model` 1.0.0, with its audit entry, as one commit.
    fn registration(model: &ModelId) -> Commit {
        let now = DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH);
        let record = ModelVersion::new(
            model.clone(),
            Version::new(1, 0, 0),
            "openai",
            ModelCapabilities::new(8_192, 1_024),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            now,
        );
        let event = AuditEvent::new(
            AuditEventKind::ModelRegistered,
            Actor::new("t").unwrap(),
            "r",
            now,
        )
        .for_version(model.clone(), Version::new(1, 0, 0));
        Commit::for_model(model.clone(), 0).put(record).audit(event)
    }

    /// A crash right after the journal value is written, before any of its
    /// puts: reopening completes the commit.
    #[tokio::test]
    async fn a_commit_interrupted_after_its_journal_is_completed_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let model = ModelId::new("gpt-4-turbo").unwrap();
        let commit = registration(&model);
        {
            let store = SledStore::open(&dir).unwrap();
            let prepared = store.prepare(&commit).unwrap();
            store
                .tree(TreeId::Meta)
                .insert(JOURNAL_KEY, prepared.journal.encode())
                .unwrap();
            store.db.flush().unwrap();
            assert_eq!(
                store.model(&model).await.unwrap().revision,
                0,
                "nothing applied yet"
            );
        }
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(store.model(&model).await.unwrap().revision, 1);
        let entries = store.audit(&AuditQuery::all()).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            verify_chain(&entries, None).unwrap(),
            store.audit_head().await.unwrap()
        );
        assert_eq!(store.commits().unwrap(), 1);
        let by_model = store.audit(&AuditQuery::all().model(model)).await.unwrap();
        assert_eq!(by_model, entries, "indexes were completed too");
        drop(store);
    }

    /// A crash after an import wrote its entries and records but before its
    /// last journaled step: reopening leaves the store empty, as before it.
    #[tokio::test]
    async fn an_import_cut_short_is_undone_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let source = lifecycle_store::MemoryStore::new();
        source
            .commit(registration(&ModelId::new("m").unwrap()))
            .await
            .unwrap();
        let image = StoreImage::read(&source).await.unwrap();
        {
            let store = SledStore::open(&dir).unwrap();
            // What `import_image` does, up to its last step.
            let meta = store.tree(TreeId::Meta);
            meta.insert(IMPORTING_KEY, &[][..]).unwrap();
            let mut journal = Journal::default();
            put_entry(&mut journal, &image.audit[0]).unwrap();
            journal.put(TreeId::Models, b"m", encode(&image.models[0]).unwrap());
            store.write(&journal).unwrap();
            store.db.flush().unwrap();
        }
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(
            StoreImage::read(&store).await.unwrap(),
            StoreImage::default()
        );
        store.import(image.clone()).await.unwrap();
        drop(store);
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(StoreImage::read(&store).await.unwrap(), image);
        drop(store);
    }
}
