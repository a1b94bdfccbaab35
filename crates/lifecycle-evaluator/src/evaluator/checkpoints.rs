//! Checkpoints: saving each version's statistics to the store, restoring
//! them, and folding in what the other replicas saved.

use super::*;

/// What a checkpoint holds: the whole window (shards merged) and the health.
#[derive(Serialize, Deserialize)]
pub(super) struct Saved {
    pub(super) window: Window,
    #[serde(default)]
    pub(super) health: Health,
}

/// A checkpoint as earlier builds wrote it, the window's fields beside the
/// health: still read, ten times slower (serde buffers a flattened struct).
#[derive(Deserialize)]
struct SavedFlat {
    #[serde(flatten)]
    pub(super) window: Window,
    #[serde(default)]
    pub(super) health: Health,
}

impl Saved {
    pub(super) fn read(state: &[u8]) -> Result<Saved, serde_json::Error> {
        serde_json::from_slice::<Saved>(state).or_else(|nested| {
            serde_json::from_slice::<SavedFlat>(state)
                .map(|flat| Saved {
                    window: flat.window,
                    health: flat.health,
                })
                .map_err(|_| nested)
        })
    }
}

/// What [`Evaluator::restore`] did.
#[derive(Debug, Default)]
pub struct Restored {
    /// Versions whose statistics were restored.
    pub versions: usize,
    /// Checkpoints that could not be read: those versions start over.
    pub unreadable: Vec<EvaluatorError>,
}

/// A version's statistics as its checkpoint holds them
/// ([`Evaluator::checkpointed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpointed {
    /// Its lifetime metrics.
    pub metrics: ModelPerformanceMetrics,
    /// The alert it had firing, if any.
    pub alert: Option<AlertLevel>,
}

/// Merges `saved`, the version's checkpoints read from the store (one per
/// replica), into the version not restored yet: this replica's own into
/// its statistics, every other's into what the others recorded. The
/// health is its own checkpoint's, or else the newest one's.
pub(super) fn merge_saved(
    model_id: &ModelId,
    tracked: &Tracked,
    saved: &[MetricsSnapshot],
    replica: &str,
    restored: &mut Restored,
) {
    // What the store holds: results recorded before the restore are not in it.
    let mut in_store = 0;
    let unreadable = restored.unreadable.len();
    let (others, parts) = read_parts(model_id, &tracked.version, saved, Some(replica), restored);
    if others.is_some() || parts.own.is_some() {
        restored.versions += 1;
    }
    if let Some((own, health)) = parts.own {
        in_store = own.recorded();
        lock(&tracked.shards[0].0).merge(&own);
        *lock(&tracked.books.health) = health;
    } else if let Some(health) = parts.newest {
        *lock(&tracked.books.health) = health;
    }
    if restored.unreadable.len() > unreadable {
        // Saved again at the next checkpoint, replacing an unreadable own.
        tracked.books.health_changed.store(true, Ordering::Release);
        let merged = saved.iter().find(|s| s.replica.is_empty());
        if let Some(merged) = merged.filter(|_| !replica.is_empty()) {
            if Saved::read(&merged.state).is_err() {
                *lock(&tracked.books.unreadable_merged) = Some(merged.state.clone());
            }
        }
    }
    *lock(&tracked.books.others) = others;
    tracked
        .books
        .saved_samples
        .store(in_store, Ordering::Release);
    tracked.books.restored.store(true, Ordering::Release);
}

/// What a version's checkpoints hold, read: this replica's own (with its
/// health), and the newest health among the others.
#[derive(Default)]
pub(super) struct Parts {
    pub(super) own: Option<(Window, Health)>,
    pub(super) newest: Option<Health>,
}

/// Reads a version's checkpoints: the other replicas' windows merged, and
/// the [`Parts`] kept apart. An unreadable one is listed in `restored`.
pub(super) fn read_parts(
    model_id: &ModelId,
    version: &Version,
    saved: &[MetricsSnapshot],
    own: Option<&str>,
    restored: &mut Restored,
) -> (Option<Window>, Parts) {
    let mut others: Option<Window> = None;
    let mut parts = Parts::default();
    let mut newest_at = None;
    for snapshot in saved {
        let read = match Saved::read(&snapshot.state) {
            Ok(read) => read,
            Err(e) => {
                restored.unreadable.push(EvaluatorError::Checkpoint {
                    model_id: model_id.clone(),
                    version: version.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if Some(snapshot.replica.as_str()) == own {
            parts.own = Some((read.window, read.health));
            continue;
        }
        if newest_at < Some(snapshot.taken_at) {
            newest_at = Some(snapshot.taken_at);
            parts.newest = Some(read.health);
        }
        match others.as_mut() {
            Some(merged) => merged.merge(&read.window),
            None => others = Some(read.window),
        }
    }
    (others, parts)
}

/// The next tick of `ticks`; never, without one.
pub(super) async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => drop(ticks.tick().await),
        None => std::future::pending().await,
    }
}

impl Evaluator {
    /// What a version's checkpoints say (one per replica), read without
    /// tracking the version: its lifetime metrics, every replica's merged
    /// (costed at `prices`), and the alert the newest had firing. For an
    /// answer about a whole catalogue from a process that holds none of
    /// it; a version this evaluator [tracks](Self::tracks) is answered from
    /// memory instead, which may hold more. An unreadable checkpoint is an
    /// error.
    pub fn checkpointed(
        &self,
        saved: &[MetricsSnapshot],
        prices: Option<&ModelCostInfo>,
    ) -> Result<Checkpointed, EvaluatorError> {
        let (Some(first), mut restored) = (saved.first(), Restored::default()) else {
            return Ok(Checkpointed {
                metrics: VersionStats::default().metrics(self.shared.clock.now(), prices),
                alert: None,
            });
        };
        let (merged, parts) =
            read_parts(&first.model_id, &first.version, saved, None, &mut restored);
        if let Some(problem) = restored.unreadable.pop() {
            return Err(problem);
        }
        let lifetime = merged.map_or_else(VersionStats::default, |w| w.lifetime());
        Ok(Checkpointed {
            metrics: lifetime.metrics(self.shared.clock.now(), prices),
            alert: parts.newest.and_then(|h| h.level()),
        })
    }

    /// Saves the lifetime statistics of tracked versions through the store:
    /// with `flush`, every version with samples not saved yet; otherwise
    /// only those that recorded `metrics_update_interval` samples since
    /// their last checkpoint. Returns what it saved.
    pub async fn checkpoint(
        &self,
        store: &dyn Store,
        flush: bool,
    ) -> Result<Vec<Published>, EvaluatorError> {
        let _one_at_a_time = self.shared.checkpointing.lock().await;
        let snapshot = self.shared.tracked.load_full();
        let now = self.shared.clock.now();
        let mut saved = Vec::new();
        for (model_id, versions) in snapshot.iter() {
            for tracked in versions.load_full().iter() {
                let unreadable = lock(&tracked.books.unreadable_merged).take();
                if let Some(unreadable) = unreadable {
                    let window = Window::new(self.shared.config.settings().evaluation_window_secs);
                    let (empty, _) = tracked.snapshot(model_id, window, now, "")?;
                    store.fold_metrics(empty, Some(unreadable), "").await?;
                }
                let due = tracked.books.dirty.swap(false, Ordering::AcqRel)
                    | tracked.books.health_changed.swap(false, Ordering::AcqRel);
                // Only a flush looks at versions nobody asked to save.
                let unsaved =
                    || tracked.own_samples() != tracked.books.saved_samples.load(Ordering::Acquire);
                if !(due || flush && unsaved()) {
                    continue;
                }
                self.restore_before_saving(store, model_id, tracked).await?;
                let Some(window) = tracked.whole() else {
                    continue;
                };
                let (snapshot, published) =
                    tracked.snapshot(model_id, window, now, &self.shared.replica)?;
                store.save_metrics(snapshot).await?;
                let samples = published.metrics.sample_count;
                tracked
                    .books
                    .saved_samples
                    .store(samples, Ordering::Release);
                saved.push(published);
            }
        }
        Ok(saved)
    }

    /// Restores the statistics of tracked versions — lifetime and rolling
    /// window — from their last checkpoints in `store`. Each version is
    /// restored once: calling it again restores only versions tracked since.
    /// Results recorded before a version is restored are kept (the
    /// checkpoint is merged in), and no checkpoint of a version is saved
    /// before its own was read back.
    ///
    /// A checkpoint that cannot be read (damaged, or from an incompatible
    /// build) does not stop the others: its version starts over empty, is
    /// marked for the next checkpoint (which replaces the unreadable one),
    /// and is listed in [`Restored::unreadable`] with the reason, for the
    /// caller to report.
    pub async fn restore(&self, store: &dyn Store) -> Result<Restored, EvaluatorError> {
        self.restore_tracked(store, None).await
    }

    /// [`Evaluator::restore`] for one model's versions only: what a process
    /// that loads models when first asked for them calls.
    pub async fn restore_model(
        &self,
        store: &dyn Store,
        model_id: &ModelId,
    ) -> Result<Restored, EvaluatorError> {
        self.restore_tracked(store, Some(model_id)).await
    }

    /// Restores the tracked versions not restored yet: of one model, or of
    /// every model.
    pub(super) async fn restore_tracked(
        &self,
        store: &dyn Store,
        only: Option<&ModelId>,
    ) -> Result<Restored, EvaluatorError> {
        let _one_at_a_time = self.shared.checkpointing.lock().await;
        let snapshot = self.shared.tracked.load_full();
        let mut restored = Restored::default();
        let Some(model_id) = only else {
            // Every version: the store's checkpoints in one pass, not one
            // read per version (most of a catalogue has none).
            let mut saved = MetricsSnapshot::by_version(store.all_metrics().await?);
            for (model_id, versions) in snapshot.iter() {
                for tracked in versions.load_full().iter() {
                    if tracked.books.restored.load(Ordering::Acquire) {
                        continue;
                    }
                    let key = (model_id.clone(), tracked.version.clone());
                    let checkpoints = saved.remove(&key).unwrap_or_default();
                    let replica = &self.shared.replica;
                    merge_saved(model_id, tracked, &checkpoints, replica, &mut restored);
                }
            }
            return Ok(restored);
        };
        // One lookup, not a pass over every tracked model.
        if let Some(versions) = snapshot.get(model_id) {
            for tracked in versions.load_full().iter() {
                self.restore_version(store, model_id, tracked, &mut restored)
                    .await?;
            }
        }
        Ok(restored)
    }

    /// Reads the other replicas' checkpoints of every restored version
    /// again, in one pass over the store: what `evaluate`, `compare` and
    /// the lifetime metrics judge with this replica's own results. The
    /// background checkpointer calls it every `refresh` interval (see
    /// [`Evaluator::spawn_checkpointer`]). Reads nothing for the store's
    /// only writer ([`Evaluator::new`]).
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), EvaluatorError> {
        if self.shared.replica.is_empty() {
            return Ok(());
        }
        let mut saved = MetricsSnapshot::by_version(store.all_metrics().await?);
        let snapshot = self.shared.tracked.load_full();
        let _one_at_a_time = self.shared.checkpointing.lock().await;
        for (model_id, versions) in snapshot.iter() {
            for tracked in versions.load_full().iter() {
                if !tracked.books.restored.load(Ordering::Acquire) {
                    continue;
                }
                let key = (model_id.clone(), tracked.version.clone());
                let checkpoints = saved.remove(&key).unwrap_or_default();
                let mut ignored = Restored::default();
                let replica = &self.shared.replica;
                let (others, _) = read_parts(
                    model_id,
                    &tracked.version,
                    &checkpoints,
                    Some(replica),
                    &mut ignored,
                );
                *lock(&tracked.books.others) = others;
            }
        }
        Ok(())
    }

    /// Moves this replica's checkpoints into each version's merged part
    /// (saving what is unsaved first), so that a replica that stops leaves
    /// no checkpoint of its own behind: what a manager does when disposed.
    /// A fold that meets another replica's is read again and retried.
    /// Nothing to do for the store's only writer ([`Evaluator::new`]).
    pub async fn fold(&self, store: &dyn Store) -> Result<(), EvaluatorError> {
        if self.shared.replica.is_empty() {
            return Ok(());
        }
        self.checkpoint(store, true).await?;
        let _one_at_a_time = self.shared.checkpointing.lock().await;
        let snapshot = self.shared.tracked.load_full();
        let now = self.shared.clock.now();
        for (model_id, versions) in snapshot.iter() {
            for tracked in versions.load_full().iter() {
                if tracked.own_samples() == 0 {
                    continue;
                }
                self.fold_one(store, model_id, tracked, now).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn fold_one(
        &self,
        store: &dyn Store,
        model_id: &ModelId,
        tracked: &Tracked,
        now: DateTime<Utc>,
    ) -> Result<(), EvaluatorError> {
        let Some(own) = tracked.whole() else {
            return Ok(());
        };
        loop {
            let stored = store.metrics(model_id, &tracked.version).await?;
            let merged_part = stored.into_iter().find(|s| s.replica.is_empty());
            let mut merged = own.clone();
            let expected = match merged_part {
                Some(part) => {
                    // An unreadable merged part is replaced, as on restore.
                    if let Ok(read) = Saved::read(&part.state) {
                        merged.merge(&read.window);
                    }
                    Some(part.state)
                }
                None => None,
            };
            let (snapshot, _) = tracked.snapshot(model_id, merged, now, "")?;
            if store
                .fold_metrics(snapshot, expected, &self.shared.replica)
                .await?
            {
                return Ok(());
            }
        }
    }

    /// Merges a version's checkpoints into it, once; the caller holds the
    /// checkpointing lock, so a save and a restore never interleave.
    pub(super) async fn restore_version(
        &self,
        store: &dyn Store,
        model_id: &ModelId,
        tracked: &Tracked,
        restored: &mut Restored,
    ) -> Result<(), EvaluatorError> {
        if tracked.books.restored.load(Ordering::Acquire) {
            return Ok(());
        }
        let saved = store.metrics(model_id, &tracked.version).await?;
        merge_saved(model_id, tracked, &saved, &self.shared.replica, restored);
        Ok(())
    }

    /// Restores a version not restored yet before its checkpoint is saved
    /// (the caller holds the checkpointing lock): one saved by another
    /// process is merged, never replaced. One that cannot be read is
    /// replaced, and the reason kept for [`Evaluator::checkpoint_error`].
    pub(super) async fn restore_before_saving(
        &self,
        store: &dyn Store,
        model_id: &ModelId,
        tracked: &Tracked,
    ) -> Result<(), EvaluatorError> {
        let mut restored = Restored::default();
        self.restore_version(store, model_id, tracked, &mut restored)
            .await?;
        if let Some(problem) = restored.unreadable.pop() {
            *lock(&self.shared.checkpoint_error) =
                Some(format!("{problem}; its statistics started over"));
        }
        Ok(())
    }

    /// Starts the background checkpointer on the current tokio runtime: it
    /// saves each version that recorded `metrics_update_interval` samples
    /// since its last checkpoint. It ends when the evaluator is dropped.
    /// A crash loses at most, per version, the samples recorded since its
    /// last saved checkpoint: `metrics_update_interval` per shard (one shard
    /// per core, at most four), plus those recorded while a save is running.
    /// Every `refresh` (if any) it reads the other replicas' checkpoints
    /// again ([`Evaluator::refresh`]).
    pub fn spawn_checkpointer(
        &self,
        store: Arc<dyn Store>,
        refresh: Option<std::time::Duration>,
    ) -> tokio::task::JoinHandle<()> {
        let shared = Arc::downgrade(&self.shared);
        let wake = self.shared.checkpoints.clone();
        tokio::spawn(async move {
            let mut ticks = refresh.map(tokio::time::interval);
            loop {
                let refresh_due = tokio::select! {
                    () = wake.notified() => false,
                    _ = tick(&mut ticks) => true,
                };
                let Some(shared) = shared.upgrade() else {
                    break;
                };
                let evaluator = Evaluator { shared };
                let run = match refresh_due {
                    true => evaluator.refresh(&*store).await,
                    false => evaluator.checkpoint(&*store, false).await.map(drop),
                };
                if let Err(e) = run {
                    *lock(&evaluator.shared.checkpoint_error) = Some(e.to_string());
                }
            }
        })
    }

    /// The last error of the background checkpointer, if it failed.
    pub fn checkpoint_error(&self) -> Option<String> {
        lock(&self.shared.checkpoint_error).clone()
    }
}
