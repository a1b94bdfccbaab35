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

mod alerting;
mod checkpoints;
mod tracked;

pub use alerting::alert_event;
use checkpoints::*;
pub use checkpoints::{Checkpointed, Restored};
use tracked::*;

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

/// Whether a result's own time `at_ms` is beyond the allowed skew ahead of
/// `now_ms`: the one rule for everything that checks results ahead of
/// recording them.
pub fn too_far_ahead(at_ms: i64, now_ms: i64) -> bool {
    at_ms > now_ms.saturating_add(MAX_FUTURE_SKEW_MS)
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

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the checkpointer see that the evaluator is gone.
        self.checkpoints.notify_one();
    }
}

/// Alerts kept for subscribers that fall behind.
const ALERT_BUFFER: usize = 1_024;
