//! Tracked versions: their prices, their sharded statistics, and how tracking
//! a version again keeps what it recorded.

use super::*;

/// A model's tracked versions, swapped whole when one changes.
pub(super) type TrackedVersions = ArcSwap<Vec<Arc<Tracked>>>;

/// One tracked version: its prices and its statistics, in shards so that
/// threads recording the same version do not contend for one lock: each
/// thread records into its own shard, readers merge them. Tracking a
/// version again shares its shards and bookkeeping with the new entry, so
/// nothing recorded meanwhile is lost.
pub(super) struct Tracked {
    pub(super) version: Version,
    pub(super) prices: Option<ModelCostInfo>,
    /// The prices per token as `f64`, for the request samples' costs.
    pub(super) per_token: Option<(f64, f64)>,
    pub(super) retired: bool,
    pub(super) shards: Arc<[Shard]>,
    pub(super) books: Arc<Bookkeeping>,
}

/// What the evaluator keeps about a version besides its statistics.
#[derive(Default)]
pub(super) struct Bookkeeping {
    pub(super) health: Mutex<Health>,
    /// Samples recorded since its last checkpoint reached the interval.
    pub(super) dirty: AtomicBool,
    /// Lifetime samples as of its last saved (or restored) checkpoint.
    pub(super) saved_samples: AtomicU64,
    /// Its health changed since its last checkpoint.
    pub(super) health_changed: AtomicBool,
    /// Its last checkpoint was read back (or found absent): until then no
    /// checkpoint of it is saved, which would replace one never merged.
    pub(super) restored: AtomicBool,
    /// What the other replicas' checkpoints hold, merged, as last read:
    /// judged with this replica's own results, never saved by it.
    pub(super) others: Mutex<Option<Window>>,
    /// The version's merged checkpoint as read, when it could not be read
    /// and this replica does not save it: replaced by an empty one at the
    /// next checkpoint (unless another replica replaced it first).
    pub(super) unreadable_merged: Mutex<Option<Vec<u8>>>,
}

impl Tracked {
    /// Everything recorded, all shards and the other replicas merged.
    pub(super) fn lifetime(&self) -> VersionStats {
        self.merged(|window| window.lifetime())
    }

    /// Calls `f` with each part of its statistics: its shards, then what
    /// the other replicas recorded.
    pub(super) fn each_part(&self, mut f: impl FnMut(&Window)) {
        for shard in self.shards.iter() {
            f(&lock(&shard.0));
        }
        if let Some(others) = lock(&self.books.others).as_ref() {
            f(others);
        }
    }

    /// How many requests it recorded in its lifetime, every replica's:
    /// counts only, no sketch merged.
    pub(super) fn samples(&self) -> u64 {
        let mut samples = 0;
        self.each_part(|window| samples += window.recorded());
        samples
    }

    /// How many of them this replica recorded: what its checkpoint holds.
    pub(super) fn own_samples(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| lock(&shard.0).recorded())
            .sum()
    }

    /// Where its rolling window ends: at its newest result (all shards),
    /// so a window judged later — a batch recorded from yesterday's logs, a
    /// canary that stopped receiving traffic — is the same window; `now`
    /// when it has recorded nothing.
    pub(super) fn window_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut newest = None;
        self.each_part(|window| newest = newest.max(window.newest_ms()));
        newest
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(now)
    }

    /// The first moment after its window: what reports show.
    pub(super) fn window_end_exclusive(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let end = self.window_end(now);
        if end == now {
            return now;
        }
        end + lifecycle_domain::chrono::Duration::milliseconds(1)
    }

    /// Its rolling window (see [`Self::window_end`]), all shards merged.
    pub(super) fn window(&self, now: DateTime<Utc>) -> VersionStats {
        let end = self.window_end(now);
        self.merged(|window| window.total(end))
    }

    /// A sample of the window's requests, all shards combined by traffic.
    pub(super) fn sample(&self, now: DateTime<Utc>) -> Vec<crate::reservoir::Sampled> {
        let end = self.window_end(now);
        let mut parts: Vec<crate::reservoir::Reservoir> = Vec::new();
        self.each_part(|window| parts.extend(window.samples(end)));
        crate::reservoir::combine(&parts)
    }

    /// What a checkpoint of `window` (this version's, merged) saves, and
    /// the lifetime metrics it publishes.
    pub(super) fn snapshot(
        &self,
        model_id: &ModelId,
        window: Window,
        now: DateTime<Utc>,
        replica: &str,
    ) -> Result<(MetricsSnapshot, Published), EvaluatorError> {
        let metrics = window.lifetime().metrics(now, self.prices.as_ref());
        let mut window = window;
        window.drop_useless_exact();
        let health = *lock(&self.books.health);
        let state = serde_json::to_vec(&Saved { window, health }).map_err(|e| {
            EvaluatorError::Checkpoint {
                model_id: model_id.clone(),
                version: self.version.clone(),
                reason: e.to_string(),
            }
        })?;
        let snapshot = MetricsSnapshot {
            model_id: model_id.clone(),
            version: self.version.clone(),
            taken_at: now,
            metrics: metrics.clone(),
            state,
            replica: replica.to_string(),
        };
        let published = Published {
            model_id: model_id.clone(),
            version: self.version.clone(),
            metrics,
        };
        Ok((snapshot, published))
    }

    /// Every shard's window merged into one: what a checkpoint saves.
    pub(super) fn whole(&self) -> Option<Window> {
        let mut shards = self.shards.iter();
        let mut whole = lock(&shards.next()?.0).clone();
        for shard in shards {
            whole.merge(&lock(&shard.0));
        }
        Some(whole)
    }

    pub(super) fn merged(&self, part: impl Fn(&Window) -> VersionStats) -> VersionStats {
        let mut total = VersionStats::default();
        self.each_part(|window| total.merge(&part(window)));
        total
    }
}

/// One shard's statistics, alone on its cache lines: threads recording into
/// neighbouring shards would otherwise slow each other down (false sharing;
/// measured: two threads on one version took 107 ns a record instead of 52).
#[repr(align(128))]
pub(super) struct Shard(pub(super) Mutex<Window>);

/// Shards per tracked version: one per core, at most four, rounded down
/// to a power of two so that picking one is a mask, not a division.
/// Read once: `available_parallelism` opens three cgroup files per call.
pub(super) fn shard_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        1 << cores.ilog2()
    })
}

/// This thread's shard number (threads are numbered in order of first use).
/// On the recording path, from another module: inlined across codegen units.
#[inline]
pub(super) fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|s| *s)
}

impl Evaluator {
    /// Starts (or updates) tracking a version: its prices, and whether it is
    /// retired (results for retired versions are refused). Statistics
    /// already recorded for it are kept.
    pub fn track(&self, version: &ModelVersion) {
        self.track_all(std::slice::from_ref(version));
    }

    /// [`Evaluator::track`] for many versions at once. A model's versions
    /// are replaced on their own (the map of models is copied only to add
    /// models, once per call), so a change costs the same with 50,000
    /// models tracked as with one.
    pub fn track_all<'a>(&self, versions: impl IntoIterator<Item = &'a ModelVersion>) {
        let mut by_model: FxHashMap<&ModelId, Vec<&ModelVersion>> = FxHashMap::default();
        for version in versions {
            by_model.entry(&version.model_id).or_default().push(version);
        }
        let missing: Vec<&ModelId> = {
            let tracked = self.shared.tracked.load();
            by_model
                .keys()
                .copied()
                .filter(|m| !tracked.contains_key(*m))
                .collect()
        };
        if !missing.is_empty() {
            self.shared.tracked.rcu(|tracked| {
                let mut tracked = FxHashMap::clone(tracked);
                for model in &missing {
                    tracked.entry((*model).clone()).or_default();
                }
                tracked
            });
        }
        let tracked = self.shared.tracked.load();
        for (model, of_model) in by_model {
            if let Some(slot) = tracked.get(model) {
                slot.rcu(|current| self.replaced(current, &of_model));
            }
        }
    }

    /// A model's tracked versions with `versions` put in: a version tracked
    /// again keeps its statistics and bookkeeping, a new one starts empty.
    pub(super) fn replaced(
        &self,
        current: &[Arc<Tracked>],
        versions: &[&ModelVersion],
    ) -> Vec<Arc<Tracked>> {
        let window_secs = self.shared.config.settings().evaluation_window_secs;
        let mut entries = current.to_vec();
        for version in versions {
            let (shards, books) = match entries.iter().position(|t| t.version == version.version) {
                Some(i) => {
                    let old = entries.remove(i);
                    (old.shards.clone(), old.books.clone())
                }
                None => {
                    let shards = (0..shard_count())
                        .map(|_| Shard(Mutex::new(Window::new(window_secs))))
                        .collect();
                    (shards, Arc::default())
                }
            };
            entries.push(Arc::new(Tracked {
                version: version.version.clone(),
                prices: version.cost_info.clone(),
                per_token: version.cost_info.as_ref().map(ModelCostInfo::per_token_f64),
                retired: version.is_retired(),
                shards,
                books,
            }));
        }
        entries
    }
}
