//! `Evaluator`: records results on the hot path and evaluates versions against thresholds.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, EvaluationConfig, InferenceResult, ModelCostInfo, ModelId,
    ModelPerformanceMetrics, ModelVersion, Severity, Threshold, ThresholdViolation, Version,
};
use lifecycle_store::{Clock, Commit, HeldLease, MetricsSnapshot, Store, StoreError};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use tokio::sync::{broadcast, Notify};

use crate::alerts::{Alert, AlertLevel, Health};
use crate::compare::{judge, ComparisonConfig, ComparisonReport, Side};
use crate::stats::{FailureSummary, VersionStats};
use crate::window::Window;
use crate::EvaluatorError;

/// Records the outcome of every model request and judges versions by it.
///
/// Per tracked version it keeps lifetime statistics and a rolling window
/// (`EvaluationConfig::evaluation_window_secs`, default 10 minutes) in
/// bounded memory. Thresholds are evaluated on the window, so a regression
/// after a million good requests shows within the window instead of being
/// diluted. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Evaluator {
    shared: Arc<Shared>,
}

struct Shared {
    clock: Arc<dyn Clock>,
    /// Whose checkpoints this evaluator saves (see [`Evaluator::for_replica`]).
    replica: String,
    config: EvaluationConfig,
    alerts: broadcast::Sender<Alert>,
    /// Woken when a version has recorded `metrics_update_interval` samples
    /// since its last checkpoint.
    checkpoints: Arc<Notify>,
    /// The last error of the background checkpointer, if any.
    checkpoint_error: Mutex<Option<String>>,
    /// Held while a checkpoint runs: two runs never interleave, so a
    /// snapshot taken earlier is never saved over a later one.
    checkpointing: tokio::sync::Mutex<()>,
    /// model -> its tracked versions. A model's versions are swapped on
    /// their own; the map itself is copied only to add models.
    tracked: ArcSwap<FxHashMap<ModelId, Arc<TrackedVersions>>>,
}

/// A model's tracked versions, swapped whole when one changes.
type TrackedVersions = ArcSwap<Vec<Arc<Tracked>>>;

/// One tracked version: its prices and its statistics, in shards so that
/// threads recording the same version do not contend for one lock: each
/// thread records into its own shard, readers merge them. Tracking a
/// version again shares its shards and bookkeeping with the new entry, so
/// nothing recorded meanwhile is lost.
struct Tracked {
    version: Version,
    prices: Option<ModelCostInfo>,
    /// The prices per token as `f64`, for the request samples' costs.
    per_token: Option<(f64, f64)>,
    retired: bool,
    shards: Arc<[Shard]>,
    books: Arc<Bookkeeping>,
}

/// What the evaluator keeps about a version besides its statistics.
#[derive(Default)]
struct Bookkeeping {
    health: Mutex<Health>,
    /// Samples recorded since its last checkpoint reached the interval.
    dirty: AtomicBool,
    /// Lifetime samples as of its last saved (or restored) checkpoint.
    saved_samples: AtomicU64,
    /// Its health changed since its last checkpoint.
    health_changed: AtomicBool,
    /// Its last checkpoint was read back (or found absent): until then no
    /// checkpoint of it is saved, which would replace one never merged.
    restored: AtomicBool,
    /// What the other replicas' checkpoints hold, merged, as last read:
    /// judged with this replica's own results, never saved by it.
    others: Mutex<Option<Window>>,
    /// The version's merged checkpoint as read, when it could not be read
    /// and this replica does not save it: replaced by an empty one at the
    /// next checkpoint (unless another replica replaced it first).
    unreadable_merged: Mutex<Option<Vec<u8>>>,
}

/// What a checkpoint holds: the whole window (shards merged) and the health.
#[derive(Serialize, Deserialize)]
struct Saved {
    window: Window,
    #[serde(default)]
    health: Health,
}

/// A checkpoint as earlier builds wrote it, the window's fields beside the
/// health: still read, ten times slower (serde buffers a flattened struct).
#[derive(Deserialize)]
struct SavedFlat {
    #[serde(flatten)]
    window: Window,
    #[serde(default)]
    health: Health,
}

impl Saved {
    fn read(state: &[u8]) -> Result<Saved, serde_json::Error> {
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

/// A version's lifetime metrics as a checkpoint saved them: what the
/// registry's record of the version is updated with.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// Its lifetime metrics.
    pub metrics: ModelPerformanceMetrics,
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

impl Tracked {
    /// Everything recorded, all shards and the other replicas merged.
    fn lifetime(&self) -> VersionStats {
        self.merged(|window| window.lifetime())
    }

    /// Calls `f` with each part of its statistics: its shards, then what
    /// the other replicas recorded.
    fn each_part(&self, mut f: impl FnMut(&Window)) {
        for shard in self.shards.iter() {
            f(&lock(&shard.0));
        }
        if let Some(others) = lock(&self.books.others).as_ref() {
            f(others);
        }
    }

    /// How many requests it recorded in its lifetime, every replica's:
    /// counts only, no sketch merged.
    fn samples(&self) -> u64 {
        let mut samples = 0;
        self.each_part(|window| samples += window.recorded());
        samples
    }

    /// How many of them this replica recorded: what its checkpoint holds.
    fn own_samples(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| lock(&shard.0).recorded())
            .sum()
    }

    /// Where its rolling window ends: at its newest result (all shards),
    /// so a window judged later — a batch recorded from yesterday's logs, a
    /// canary that stopped receiving traffic — is the same window; `now`
    /// when it has recorded nothing.
    fn window_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut newest = None;
        self.each_part(|window| newest = newest.max(window.newest_ms()));
        newest
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(now)
    }

    /// The first moment after its window: what reports show.
    fn window_end_exclusive(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let end = self.window_end(now);
        if end == now {
            return now;
        }
        end + lifecycle_domain::chrono::Duration::milliseconds(1)
    }

    /// Its rolling window (see [`Self::window_end`]), all shards merged.
    fn window(&self, now: DateTime<Utc>) -> VersionStats {
        let end = self.window_end(now);
        self.merged(|window| window.total(end))
    }

    /// A sample of the window's requests, all shards combined by traffic.
    fn sample(&self, now: DateTime<Utc>) -> Vec<crate::reservoir::Sampled> {
        let end = self.window_end(now);
        let mut parts: Vec<crate::reservoir::Reservoir> = Vec::new();
        self.each_part(|window| parts.extend(window.samples(end)));
        crate::reservoir::combine(&parts)
    }

    /// What a checkpoint of `window` (this version's, merged) saves, and
    /// the lifetime metrics it publishes.
    fn snapshot(
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
    fn whole(&self) -> Option<Window> {
        let mut shards = self.shards.iter();
        let mut whole = lock(&shards.next()?.0).clone();
        for shard in shards {
            whole.merge(&lock(&shard.0));
        }
        Some(whole)
    }

    fn merged(&self, part: impl Fn(&Window) -> VersionStats) -> VersionStats {
        let mut total = VersionStats::default();
        self.each_part(|window| total.merge(&part(window)));
        total
    }
}

/// One shard's statistics, alone on its cache lines: threads recording into
/// neighbouring shards would otherwise slow each other down (false sharing;
/// measured: two threads on one version took 107 ns a record instead of 52).
#[repr(align(128))]
struct Shard(Mutex<Window>);

/// Shards per tracked version: one per core, at most four, rounded down
/// to a power of two so that picking one is a mask, not a division.
/// Read once: `available_parallelism` opens three cgroup files per call.
fn shard_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        1 << cores.ilog2()
    })
}

/// How far ahead of the evaluator's clock a result's own time may be
/// (clocks of reporting machines differ): one minute.
pub const MAX_FUTURE_SKEW_MS: i64 = 60_000;

/// The time a result counts at, in ms: its own, or now.
fn event_time(result: &InferenceResult, now_ms: i64) -> Result<i64, EvaluatorError> {
    let Some(at) = result.at else {
        return Ok(now_ms);
    };
    let at_ms = at.timestamp_millis();
    if too_far_ahead(at_ms, now_ms) {
        return Err(EvaluatorError::FromTheFuture {
            at,
            skew_secs: (at_ms - now_ms) / 1_000,
        });
    }
    Ok(at_ms)
}

/// Merges `saved`, the version's checkpoints read from the store (one per
/// replica), into the version not restored yet: this replica's own into
/// its statistics, every other's into what the others recorded. The
/// health is its own checkpoint's, or else the newest one's.
fn merge_saved(
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
struct Parts {
    own: Option<(Window, Health)>,
    newest: Option<Health>,
}

/// Reads a version's checkpoints: the other replicas' windows merged, and
/// the [`Parts`] kept apart. An unreadable one is listed in `restored`.
fn read_parts(
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
async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => drop(ticks.tick().await),
        None => std::future::pending().await,
    }
}

/// Whether a result's own time `at_ms` is beyond the allowed skew ahead of
/// `now_ms`: the one rule for everything that checks results ahead of
/// recording them.
pub fn too_far_ahead(at_ms: i64, now_ms: i64) -> bool {
    at_ms > now_ms.saturating_add(MAX_FUTURE_SKEW_MS)
}

/// This thread's shard number (threads are numbered in order of first use).
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|s| *s)
}

/// Whether a version passed its evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum EvaluationStatus {
    /// Every threshold holds over the window.
    Passed,
    /// At least one threshold is broken.
    Failed,
    /// Too few samples in the window to judge.
    InsufficientData {
        /// How many more samples the window needs.
        needed: u64,
    },
}

/// The judgement of one version over the rolling window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationReport {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// The verdict.
    pub status: EvaluationStatus,
    /// Samples in the window.
    pub samples: u64,
    /// The window's length in seconds.
    pub window_secs: u64,
    /// Where the window ends (exclusive): after the sub-window of the
    /// version's newest result, or at the report's time when it has none.
    pub window_end: DateTime<Utc>,
    /// The window's metrics.
    pub metrics: ModelPerformanceMetrics,
    /// Every broken threshold, with observed value and limit.
    pub violations: Vec<ThresholdViolation>,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
}

impl Evaluator {
    /// An evaluator judging by `config`, reading time from `clock`.
    pub fn new(config: EvaluationConfig, clock: Arc<dyn Clock>) -> Self {
        Self::for_replica(config, clock, "")
    }

    /// An evaluator that shares its store with other replicas: it saves
    /// its checkpoints as `replica` (unique to it: a replica of the same
    /// name would replace them), judges its own results with every other
    /// replica's as last read (see [`Evaluator::refresh`]), and folds its
    /// own into the merged part when it stops ([`Evaluator::fold`]). The
    /// evaluator of [`Evaluator::new`] is the store's only writer: it saves
    /// the merged part itself.
    pub fn for_replica(
        config: EvaluationConfig,
        clock: Arc<dyn Clock>,
        replica: impl Into<String>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock,
                replica: replica.into(),
                config,
                alerts: broadcast::channel(ALERT_BUFFER).0,
                checkpoints: Arc::new(Notify::new()),
                checkpoint_error: Mutex::new(None),
                checkpointing: tokio::sync::Mutex::new(()),
                tracked: ArcSwap::default(),
            }),
        }
    }

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
    fn replaced(&self, current: &[Arc<Tracked>], versions: &[&ModelVersion]) -> Vec<Arc<Tracked>> {
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

    /// Records the outcome of one request. Validates it first: an invalid
    /// result, or one for an unknown or retired version, is an error and
    /// nothing is recorded. Never waits for I/O.
    pub fn record(
        &self,
        model_id: &str,
        version: &Version,
        result: &InferenceResult,
    ) -> Result<(), EvaluatorError> {
        result.validate()?;
        // Borrowed from the snapshot: no reference count touched per call.
        let snapshot = self.shared.tracked.load();
        let versions = snapshot.get(model_id).map(|v| v.load());
        let tracked = recordable(versions.as_ref().map(|v| v.as_slice()), model_id, version)?;
        let now_ms = self.shared.clock.now_millis();
        let at_ms = event_time(result, now_ms)?;
        let shard = &tracked.shards[thread_shard() & (tracked.shards.len() - 1)];
        let mut window = lock(&shard.0);
        window.record(at_ms, result, tracked.per_token);
        let interval = self.shared.config.settings().metrics_update_interval;
        if window.checkpoint_due(interval) {
            drop(window);
            // The checkpointer saves on its own task: recording never waits.
            tracked.books.dirty.store(true, Ordering::Release);
            self.shared.checkpoints.notify_one();
        }
        Ok(())
    }

    /// Whether it tracks the version (registered and known to this process).
    pub fn tracks(&self, model_id: &str, version: &Version) -> bool {
        self.find(model_id, version).is_ok()
    }

    /// The version's lifetime metrics.
    pub fn lifetime_metrics(
        &self,
        model_id: &str,
        version: &Version,
    ) -> Result<ModelPerformanceMetrics, EvaluatorError> {
        let tracked = self.find(model_id, version)?;
        // Most of a catalogue never records: no sketches to merge then.
        let lifetime = match tracked.samples() {
            0 => VersionStats::default(),
            _ => tracked.lifetime(),
        };
        Ok(lifetime.metrics(self.shared.clock.now(), tracked.prices.as_ref()))
    }

    /// The lifetime metrics of every tracked version that recorded anything.
    pub fn all_lifetime_metrics(&self) -> Vec<Published> {
        let now = self.shared.clock.now();
        let snapshot = self.shared.tracked.load();
        let mut all = Vec::new();
        for (model_id, versions) in snapshot.iter() {
            for tracked in versions.load().iter().filter(|t| t.samples() > 0) {
                all.push(Published {
                    model_id: model_id.clone(),
                    version: tracked.version.clone(),
                    metrics: tracked.lifetime().metrics(now, tracked.prices.as_ref()),
                });
            }
        }
        all
    }

    /// The version's failures over its lifetime: by kind, with their latency summary.
    pub fn failures(
        &self,
        model_id: &str,
        version: &Version,
    ) -> Result<FailureSummary, EvaluatorError> {
        Ok(self.find(model_id, version)?.lifetime().failures())
    }

    /// The version's metrics over the rolling window.
    pub fn window_metrics(
        &self,
        model_id: &str,
        version: &Version,
    ) -> Result<ModelPerformanceMetrics, EvaluatorError> {
        let now = self.shared.clock.now();
        let tracked = self.find(model_id, version)?;
        Ok(tracked.window(now).metrics(now, tracked.prices.as_ref()))
    }

    /// Judges the version against the thresholds over the rolling window.
    /// Too few samples is `InsufficientData`, saying how many more are needed.
    pub fn evaluate(
        &self,
        model_id: &str,
        version: &Version,
    ) -> Result<EvaluationReport, EvaluatorError> {
        let now = self.shared.clock.now();
        let tracked = self.find(model_id, version)?;
        let metrics = tracked.window(now).metrics(now, tracked.prices.as_ref());
        let violations = metrics.threshold_violations(&self.shared.config);
        let status = match violations
            .iter()
            .find(|v| v.threshold == Threshold::MinSamples)
        {
            Some(few) => EvaluationStatus::InsufficientData {
                needed: (few.limit - few.observed) as u64,
            },
            None if violations.is_empty() => EvaluationStatus::Passed,
            None => EvaluationStatus::Failed,
        };
        Ok(EvaluationReport {
            model_id: ModelId::new(model_id)?,
            version: tracked.version.clone(),
            status: status.clone(),
            samples: metrics.sample_count,
            window_secs: self.shared.config.settings().evaluation_window_secs,
            window_end: tracked.window_end_exclusive(now),
            // Too few samples judges nothing: no violation is reported.
            violations: match status {
                EvaluationStatus::InsufficientData { .. } => Vec::new(),
                _ => violations,
            },
            metrics,
            generated_at: now,
        })
    }

    /// Every tracked version whose last announced health is a warning or
    /// critical: the alerts currently firing.
    pub fn firing(&self) -> Vec<(ModelId, Version, AlertLevel)> {
        let snapshot = self.shared.tracked.load();
        let mut firing = Vec::new();
        for (model_id, versions) in snapshot.iter() {
            for tracked in versions.load_full().iter() {
                if let Some(level) = lock(&tracked.books.health).level() {
                    firing.push((model_id.clone(), tracked.version.clone(), level));
                }
            }
        }
        firing.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        firing
    }

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

    /// Judges `candidate` against `baseline` over the rolling window, the
    /// way a canary is judged against the active version: per metric the
    /// two values, the difference, a significance test (Mann–Whitney U with
    /// a Hodges–Lehmann shift for per-request distributions, a
    /// two-proportion z-test for the error rate) and a class; then a
    /// weighted score and a verdict. Too few samples is never a pass.
    pub fn compare(
        &self,
        model_id: &str,
        baseline: &Version,
        candidate: &Version,
        config: &ComparisonConfig,
    ) -> Result<ComparisonReport, EvaluatorError> {
        let now = self.shared.clock.now();
        let side = |version| -> Result<Side, EvaluatorError> {
            let tracked = self.find(model_id, version)?;
            Ok(Side {
                stats: tracked.window(now),
                sample: tracked.sample(now),
            })
        };
        let (base, cand) = (side(baseline)?, side(candidate)?);
        let names = (ModelId::new(model_id)?, baseline.clone(), candidate.clone());
        Ok(judge(config, names, &base, &cand, now))
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

    /// Records a batch of results all or nothing, once: every result is
    /// checked first (an invalid one, or one for an unknown or retired
    /// version, records nothing); then the checkpoints of every version the
    /// batch touches are saved with the batch's id in one atomic write
    /// ([`Store::save_metrics_batch`]), and only then do the results count
    /// in memory. A batch whose id was recorded already is
    /// [`lifecycle_store::StoreError::BatchRecorded`], recording nothing; a
    /// failed write leaves memory and store as they were. Returns what was
    /// saved, per version.
    pub async fn record_batch(
        &self,
        store: &dyn Store,
        results: &[(ModelId, Version, InferenceResult)],
        batch_id: &str,
    ) -> Result<Vec<Published>, EvaluatorError> {
        let snapshot = self.shared.tracked.load_full();
        // Per version touched: the results of this batch alone.
        let mut deltas: Vec<(ModelId, Arc<Tracked>, Window)> = Vec::new();
        let now = self.shared.clock.now();
        let now_ms = self.shared.clock.now_millis();
        let window_secs = self.shared.config.settings().evaluation_window_secs;
        for (model_id, version, result) in results {
            result.validate()?;
            let versions = snapshot.get(model_id).map(|v| v.load_full());
            let tracked = recordable(
                versions.as_ref().map(|v| v.as_slice()),
                model_id.as_str(),
                version,
            )?;
            let at = match deltas.iter().position(|(_, t, _)| Arc::ptr_eq(t, tracked)) {
                Some(at) => at,
                None => {
                    deltas.push((model_id.clone(), tracked.clone(), Window::new(window_secs)));
                    deltas.len() - 1
                }
            };
            let at_ms = event_time(result, now_ms)?;
            let (_, tracked, delta) = &mut deltas[at];
            delta.record(at_ms, result, tracked.per_token);
        }
        // No checkpoint may run between the snapshot taken here and the
        // merge below, or it would save a state without this batch after it.
        let _one_at_a_time = self.shared.checkpointing.lock().await;
        let mut saves = Vec::new();
        let mut published = Vec::new();
        for (model_id, tracked, delta) in &deltas {
            self.restore_before_saving(store, model_id, tracked).await?;
            let mut whole = tracked.whole().unwrap_or_else(|| Window::new(window_secs));
            whole.merge(delta);
            let (snapshot, saved) = tracked.snapshot(model_id, whole, now, &self.shared.replica)?;
            saves.push(snapshot);
            published.push(saved);
        }
        store.save_metrics_batch(saves, batch_id).await?;
        for ((_, tracked, delta), saved) in deltas.iter().zip(&published) {
            lock(&tracked.shards[0].0).merge(delta);
            // What the store holds now: results recorded meanwhile by other
            // threads stay unsaved, for the next checkpoint.
            let samples = saved.metrics.sample_count;
            tracked
                .books
                .saved_samples
                .store(samples, Ordering::Release);
        }
        Ok(published)
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
    async fn restore_tracked(
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

    async fn fold_one(
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
    async fn restore_version(
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
    async fn restore_before_saving(
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

    /// Starts a task that writes every alert to the audit log as `actor`:
    /// critical and warning alerts as threshold violations (with the
    /// observed value and the limit), resolutions as metrics updates. Off
    /// the hot path; alerts it could not keep up with are recorded as one
    /// error entry saying how many were missed. After writing an alert it
    /// hands it to `then` (the facade's automatic rollback), so the log
    /// shows each alert before what it caused. It ends with the evaluator,
    /// or when `stop` completes — after writing every alert already sent.
    /// Its entries are fenced by `held` while a lease is held there (the
    /// facade's alerts lease): a manager that lost the lease writes none.
    pub fn spawn_alert_auditor<S, T, F>(
        &self,
        store: Arc<dyn Store>,
        actor: Actor,
        held: HeldLease,
        stop: S,
        then: T,
    ) -> tokio::task::JoinHandle<()>
    where
        S: Future<Output = ()> + Send + 'static,
        T: Fn(Alert) -> F + Send + 'static,
        F: Future<Output = ()> + Send,
    {
        let mut alerts = self.subscribe_alerts();
        let clock = self.shared.clock.clone();
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                let received = tokio::select! {
                    // Alerts first: `stop` is only seen once none are waiting.
                    biased;
                    received = alerts.recv() => received,
                    () = &mut stop => break,
                };
                let (event, alert) = match received {
                    Ok(alert) => (alert_event(&alert, &actor), Some(alert)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => (AuditEvent::new(
                        AuditEventKind::Error,
                        actor.clone(),
                        format!("{missed} alerts were not written to the audit log: the auditor fell behind"),
                        clock.now(),
                    ), None),
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                // A failed write is not retried: the next alert still gets its
                // chance. One refused for a lost lease is the new holder's to write.
                let commit = held.fence(Commit::audit_only().audit(event), clock.now());
                let written = store.commit(commit).await;
                if matches!(written, Err(StoreError::LeaseLost { .. })) {
                    continue;
                }
                if let Some(alert) = alert {
                    then(alert).await;
                }
            }
        })
    }

    /// The last error of the background checkpointer, if it failed.
    pub fn checkpoint_error(&self) -> Option<String> {
        lock(&self.shared.checkpoint_error).clone()
    }

    /// A stream of alerts: a version's health changing (ok → warning →
    /// critical, and `Resolved` when healthy again), never one per sample.
    /// A subscriber that falls behind by more than 1,024 alerts is told how
    /// many it missed (`RecvError::Lagged`); recording never waits for it.
    pub fn subscribe_alerts(&self) -> broadcast::Receiver<Alert> {
        self.shared.alerts.subscribe()
    }

    /// Evaluates every tracked, non-retired version and sends an alert for
    /// each whose health changed; returns those alerts (for the caller to
    /// audit). Run it on a timer — the facade does — or by hand in tests.
    pub fn check_alerts(&self) -> Vec<Alert> {
        let snapshot = self.shared.tracked.load_full();
        let mut sent = Vec::new();
        for (model_id, versions) in snapshot.iter() {
            // A version that never recorded has no health to change.
            let versions = versions.load_full();
            for tracked in versions.iter().filter(|t| !t.retired && t.samples() > 0) {
                let Ok(report) = self.evaluate(model_id.as_str(), &tracked.version) else {
                    continue;
                };
                let changed = lock(&tracked.books.health).observe(&report, &self.shared.config);
                if let Some(alert) = changed {
                    // Saved with the next checkpoint, which this asks for.
                    tracked.books.health_changed.store(true, Ordering::Release);
                    self.shared.checkpoints.notify_one();
                    // No subscriber is fine: the alert is still returned.
                    let _ = self.shared.alerts.send(alert.clone());
                    sent.push(alert);
                }
            }
        }
        sent
    }

    fn find(&self, model_id: &str, version: &Version) -> Result<Arc<Tracked>, EvaluatorError> {
        let tracked = self.shared.tracked.load();
        tracked
            .get(model_id)
            .and_then(|versions| {
                versions
                    .load()
                    .iter()
                    .find(|t| &t.version == version)
                    .cloned()
            })
            .ok_or_else(|| unknown(model_id, version))
    }
}

/// The tracked version results may be recorded for: known and not retired.
fn recordable<'a>(
    versions: Option<&'a [Arc<Tracked>]>,
    model_id: &str,
    version: &Version,
) -> Result<&'a Arc<Tracked>, EvaluatorError> {
    let found = versions
        .and_then(|versions| versions.iter().find(|t| &t.version == version))
        .ok_or_else(|| unknown(model_id, version))?;
    if found.retired {
        return Err(EvaluatorError::Retired {
            model_id: ModelId::new(model_id)?,
            version: version.clone(),
        });
    }
    Ok(found)
}

fn unknown(model_id: &str, version: &Version) -> EvaluatorError {
    EvaluatorError::UnknownVersion {
        model_id: model_id.to_string(),
        version: version.clone(),
    }
}

/// Locks a version's statistics or health; a panic while holding the lock
/// cannot leave them inconsistent in a way that matters more than losing them.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The audit entry recording an alert.
pub fn alert_event(alert: &Alert, actor: &Actor) -> AuditEvent {
    let (kind, severity) = match alert.level {
        AlertLevel::Critical => (AuditEventKind::ThresholdViolated, Severity::Critical),
        AlertLevel::Warning => (AuditEventKind::ThresholdViolated, Severity::Warning),
        AlertLevel::Resolved => (AuditEventKind::MetricsUpdated, Severity::Info),
    };
    let mut event = AuditEvent::new(kind, actor.clone(), alert.message.clone(), alert.at)
        .for_version(alert.model_id.clone(), alert.version.clone())
        .with_severity(severity)
        .with_detail("alert", format!("{:?}", alert.level).to_lowercase());
    if let Some(threshold) = alert.threshold {
        event = event.with_detail("threshold", threshold);
    }
    if let Some(observed) = alert.observed {
        event = event.with_detail("observed", observed);
    }
    if let Some(limit) = alert.limit {
        event = event.with_detail("limit", limit);
    }
    event
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the checkpointer see that the evaluator is gone.
        self.checkpoints.notify_one();
    }
}

/// Alerts kept for subscribers that fall behind.
const ALERT_BUFFER: usize = 1_024;
