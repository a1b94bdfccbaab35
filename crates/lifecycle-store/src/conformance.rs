//! The conformance suite: the port's whole contract as cases any adapter can run.
//!
//! Every adapter's tests expand [`crate::conformance_tests`] with a factory
//! of fresh, empty stores: one test per case, each on its own store, so a
//! failing case is named and runs alone. [`run_all`] runs every case in one
//! call instead, listing every failure at the end.
//!
//! [`crate::conformance_pair_tests`] runs the cases that take two handles on
//! one backend (two pools on one database, two wrappers over one store):
//! what one commits, the other reads, and the rules hold across them.
// Test-support code: a failed expectation is reported as a panic, like any test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod changes;
mod concurrency;
mod fixtures;
mod handles;
mod import;
mod invalid;
mod leases;
pub mod load;
mod metrics;
mod versions;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Store;

/// One case of the suite: takes a fresh, empty store; panics on a breach.
pub type Case = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// One case on two handles to one fresh, empty backend; panics on a breach.
pub type PairCase = fn(Arc<dyn Store>, Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// The one list of the suite's cases, handed to `$then` (which builds
/// [`cases`], or one test per case in [`crate::conformance_tests`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($then:ident $args:tt) => {
        $crate::$then! { $args
            versions::empty_store_reads_nothing,
            versions::registered_versions_read_back,
            versions::versions_are_ordered_by_precedence,
            versions::build_metadata_names_the_same_version,
            versions::revision_counts_commits_and_stamps_records,
            versions::stale_revision_conflicts_and_writes_nothing,
            versions::two_active_or_canary_versions_are_refused,
            versions::all_models_read_as_each_model_does,
            invalid::commits_that_change_nothing_are_refused,
            invalid::records_of_another_model_are_refused,
            invalid::invalid_records_and_events_are_refused,
            invalid::versions_without_a_guard_are_refused,
            audit::entries_are_numbered_without_gaps_and_chained,
            audit::audit_only_commits_leave_revisions_alone,
            audit::query_by_sequence_range,
            audit::query_by_model,
            audit::query_by_time_range,
            audit::query_most_recent,
            audit::query_by_minimum_severity,
            audit::query_filters_combine,
            audit::query_by_kind_and_actor,
            audit::time_spans_bound_the_sequences_of_a_time_range,
            audit::pruning_removes_old_entries_and_keeps_the_chain_verifiable,
            changes::the_change_feed_names_each_changed_model_at_its_revision,
            changes::the_change_feed_resyncs_everything_past_a_prune,
            changes::a_commit_signal_reports_the_head_once_a_commit_lands,
            leases::a_lease_has_one_holder_until_it_lapses_or_is_released,
            leases::a_commit_fenced_by_a_lost_lease_writes_nothing,
            metrics::snapshots_round_trip_and_replace,
            metrics::snapshots_need_a_registered_version,
            metrics::batches_land_whole_and_once,
            metrics::a_batch_with_a_bad_snapshot_writes_nothing,
            metrics::all_metrics_reads_every_checkpoint_once,
            metrics::each_replica_keeps_its_own_checkpoint,
            metrics::a_fold_replaces_the_merged_part_only_if_unchanged,
            concurrency::racing_activations_leave_one_active_and_no_gaps,
            concurrency::parallel_commits_on_many_models_all_land,
            import::an_imported_image_reads_back_whole_and_carries_on,
            import::import_into_a_store_with_data_is_refused,
            import::inconsistent_images_are_refused_and_write_nothing,
        }
    };
}

/// The one list of the cases on two handles, handed to `$then`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_pair_cases {
    ($then:ident $args:tt) => {
        $crate::$then! { $args
            handles::a_commit_through_one_handle_reads_back_through_the_other,
            handles::a_lease_taken_through_one_handle_binds_the_other,
            handles::racing_commits_through_two_handles_leave_one_active_and_no_gaps,
            handles::checkpoints_saved_through_both_handles_merge_on_either,
            handles::a_commit_through_one_handle_wakes_the_other_s_signal,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_pair_case_list {
    (() $($module:ident :: $name:ident),* $(,)?) => {
        vec![$((
            concat!(stringify!($module), "::", stringify!($name)),
            (|a, b| Box::pin($module::$name(a, b))) as PairCase,
        )),*]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_list {
    (() $($module:ident :: $name:ident),* $(,)?) => {
        vec![$((
            concat!(stringify!($module), "::", stringify!($name)),
            (|store| Box::pin($module::$name(store))) as Case,
        )),*]
    };
}

/// One `#[tokio::test]` per case of the suite, named after the case, so a
/// failing case shows by name and runs alone (`cargo test <case>`).
/// `factory` is a closure taking the case's name (`"versions::..."`) and
/// returning a future of a fresh, empty store; the optional `cleanup`
/// closure gets the name once the case is over, passed or failed (for
/// adapters that leave files behind). With `when: ready`, each test first
/// asks `ready()` and returns at once when it says the backend is missing
/// (a database that is not running: the adapter says so loudly).
///
/// ```
/// use std::sync::Arc;
/// use lifecycle_store::{MemoryStore, Store};
///
/// lifecycle_store::conformance_tests!(|_case| async {
///     Arc::new(MemoryStore::new()) as Arc<dyn Store>
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::conformance_tests!($factory, |_case: &str| {});
    };
    ($factory:expr, $cleanup:expr $(,)?) => {
        $crate::conformance_tests!($factory, $cleanup, when: || true);
    };
    ($factory:expr, $cleanup:expr, when: $ready:expr $(,)?) => {
        $crate::__conformance_cases! { __conformance_tests ((run_case) ($factory) ($cleanup) ($ready)) }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ((($runner:ident) ($factory:expr) ($cleanup:expr) ($ready:expr)) $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if !($ready)() {
                    return;
                }
                let case = concat!(stringify!($module), "::", stringify!($name));
                let outcome = $crate::conformance::$runner(case, $factory).await;
                ($cleanup)(case);
                if let Err(failure) = outcome {
                    panic!("{failure}");
                }
            }
        )*
    };
}

/// One `#[tokio::test]` per case on two handles, as
/// [`crate::conformance_tests`] does for one: `factory` takes the case's
/// name and returns a future of two handles on one fresh, empty backend.
///
/// ```
/// use std::sync::Arc;
/// use lifecycle_store::{MemoryStore, Store};
///
/// lifecycle_store::conformance_pair_tests!(|_case| async {
///     let store = Arc::new(MemoryStore::new()) as Arc<dyn Store>;
///     (store.clone(), store)
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_pair_tests {
    ($factory:expr $(,)?) => {
        $crate::conformance_pair_tests!($factory, |_case: &str| {});
    };
    ($factory:expr, $cleanup:expr $(,)?) => {
        $crate::conformance_pair_tests!($factory, $cleanup, when: || true);
    };
    ($factory:expr, $cleanup:expr, when: $ready:expr $(,)?) => {
        $crate::__conformance_pair_cases! { __conformance_tests ((run_pair_case) ($factory) ($cleanup) ($ready)) }
    };
}

/// Every case on two handles, with its name.
pub fn pair_cases() -> Vec<(&'static str, PairCase)> {
    __conformance_pair_cases! { __conformance_pair_case_list () }
}

/// Every case, with its name.
pub fn cases() -> Vec<(&'static str, Case)> {
    __conformance_cases! { __conformance_case_list () }
}

/// Runs every case against a fresh store from `factory`, then panics listing
/// every case that failed. Call it from a multi-threaded tokio test.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let all = cases();
    let total = all.len();
    let mut failures = Vec::new();
    for (name, case) in all {
        let store = factory().await;
        if let Err(failure) = run(name, case(store)).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs the case named `name` on a fresh store from `factory` (given the
/// name); `Err` says how it failed. What [`crate::conformance_tests`] calls.
pub async fn run_case<F, Fut>(name: &'static str, factory: F) -> Result<(), String>
where
    F: FnOnce(&'static str) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let Some((_, case)) = cases().into_iter().find(|(n, _)| *n == name) else {
        return Err(format!("no conformance case is named {name}"));
    };
    run(name, case(factory(name).await)).await
}

/// Runs the case on two handles named `name` on a fresh pair from `factory`
/// (given the name). What [`crate::conformance_pair_tests`] calls.
pub async fn run_pair_case<F, Fut>(name: &'static str, factory: F) -> Result<(), String>
where
    F: FnOnce(&'static str) -> Fut,
    Fut: Future<Output = (Arc<dyn Store>, Arc<dyn Store>)>,
{
    let Some((_, case)) = pair_cases().into_iter().find(|(n, _)| *n == name) else {
        return Err(format!(
            "no conformance case on two handles is named {name}"
        ));
    };
    let (a, b) = factory(name).await;
    run(name, case(a, b)).await
}

/// Runs one case in its own task, so that its panic is caught and told.
async fn run(name: &str, case: Pin<Box<dyn Future<Output = ()> + Send>>) -> Result<(), String> {
    let Err(failure) = tokio::spawn(case).await else {
        return Ok(());
    };
    let message = match failure.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into()),
        Err(e) => e.to_string(),
    };
    Err(format!("{name}: {message}"))
}
