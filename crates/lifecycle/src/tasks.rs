//! The manager's background tasks: following the change feed, and checking
//! alerts on a schedule under the alerts lease; and the id a manager takes
//! its leases and saves its checkpoints as.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lifecycle_domain::Actor;
use lifecycle_evaluator::Evaluator;
use lifecycle_store::{Clock, HeldLease, Store};
use tokio::task::JoinHandle;

use crate::loader::Loader;

/// Follows the store's change feed from audit sequence `seen`, when the
/// store signals a commit and at least every `every`: each model another
/// manager changed is installed in the router and the
/// evaluator (never an older revision than the one installed).
pub(crate) fn spawn_change_follower(
    store: Arc<dyn Store>,
    loader: Arc<Loader>,
    mut seen: u64,
    every: std::time::Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Woken at once by a commit when the store can tell; the timer is
        // the backstop (and all there is for a store that cannot).
        let mut signal = store.commit_signal();
        loop {
            let signal_lost = match signal.as_mut() {
                Some(commits) => tokio::select! {
                    _ = timer.tick() => false,
                    changed = commits.changed() => changed.is_err(),
                },
                None => {
                    timer.tick().await;
                    false
                }
            };
            if signal_lost {
                signal = None;
            }
            let changes = match store.changes_since(seen).await {
                Ok(changes) => changes,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the change feed; trying again");
                    continue;
                }
            };
            for (model_id, revision) in &changes.models {
                if let Err(e) = loader.follow(model_id, *revision).await {
                    tracing::warn!(model = %model_id, error = %e,
                        "cannot read a changed model; trying again");
                }
            }
            seen = changes.through;
        }
    })
}

/// The lease that lets one manager at a time check alerts on a schedule
/// (and so audit them and roll back automatically).
pub(crate) const ALERTS_LEASE: &str = "alerts";

/// Evaluates every version `every` so long, raising alerts on changes of
/// health — while this manager holds the alerts lease, so that of many
/// managers on one store one checks (another takes over within three
/// intervals of the holder stopping).
pub(crate) fn spawn_alert_checker(
    evaluator: Evaluator,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    holder: String,
    held: HeldLease,
    every: std::time::Duration,
) -> JoinHandle<()> {
    let ttl = lifecycle_domain::chrono::Duration::from_std(every.saturating_mul(3))
        .unwrap_or(lifecycle_domain::chrono::Duration::MAX)
        .max(lifecycle_domain::chrono::Duration::seconds(3));
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            let lease = store
                .acquire_lease(ALERTS_LEASE, &holder, ttl, clock.now())
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot take the alerts lease; trying again");
                    None
                });
            let holding = lease.is_some();
            held.set(lease);
            if !holding {
                continue;
            }
            for alert in evaluator.check_alerts() {
                tracing::warn!(model = %alert.model_id, version = %alert.version,
                    level = ?alert.level, "{}", alert.message);
            }
        }
    })
}

/// An id unique to this manager, a restart of the same process included
/// (a container's process is always pid 1): for the leases it takes and
/// the metrics checkpoints it saves.
pub(crate) fn holder_id(actor: &Actor) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{actor}@{host}/{}/{n}/{started:x}", std::process::id())
}
