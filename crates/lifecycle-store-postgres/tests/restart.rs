//! The server restarted with `pg_ctl restart -m immediate` (a crash: no
//! shutdown checkpoint) while a store commits: callers get retryable errors
//! while it is down, the pool reconnects by itself, nothing acknowledged is
//! lost, and the change feed resyncs. Needs the cluster `cargo xtask ci`
//! starts (it says how to restart it); its own test binary, so that no other
//! test runs while the server is down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::*;
use lifecycle_store::conformance::load;
use lifecycle_store::{AuditQuery, Store};
use lifecycle_store_postgres::testing::{
    available, drop_database, fault_rounds, fresh_database, restart_command,
};
use lifecycle_store_postgres::PostgresStore;

fn at() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_restart_under_load_loses_nothing_acknowledged() {
    if !available() {
        return;
    }
    if restart_command().is_none() {
        eprintln!("restart test skipped: the server is not one cargo xtask ci started");
        return;
    }
    for round in 0..fault_rounds() {
        restart_under_load(round).await;
    }
}

/// One restart, `round` tenths of a second later into the load each round
/// (so that rounds cut commits at different steps).
async fn restart_under_load(round: u32) {
    let mut restart = restart_command().unwrap();
    let name = "restart-under-load";
    let url = fresh_database(name).await;
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let follower = PostgresStore::connect(&url).await.unwrap();
    let model = ModelId::new("m").unwrap();
    load::two_versions(&*store, &model, at()).await;

    let load = {
        let (store, model) = (store.clone(), model.clone());
        tokio::spawn(async move {
            // Each acknowledged commit's entries, with when it returned.
            let (mut acknowledged, mut failures) = (Vec::new(), Vec::new());
            let deadline = Instant::now() + Duration::from_secs(6);
            while Instant::now() < deadline {
                match load::swap_active(&*store, &model, at()).await {
                    Ok(receipt) => acknowledged.push((Instant::now(), receipt.entries)),
                    Err(e) => {
                        failures.push(e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (acknowledged, failures)
        })
    };
    tokio::time::sleep(Duration::from_millis(1_000 + 100 * u64::from(round % 20))).await;
    let mut signal = follower.commit_signal().unwrap();
    signal.borrow_and_update();
    let restarting = Instant::now();
    let restarted = tokio::task::spawn_blocking(move || restart.status().unwrap())
        .await
        .unwrap();
    assert!(restarted.success(), "pg_ctl restart failed");
    let back = Instant::now();
    let (acknowledged, failures) = load.await.unwrap();
    // A commit cut off fails retryably, or waits in the pool (which
    // reconnects by itself) and lands after the restart.
    for failure in &failures {
        assert!(failure.is_retryable(), "not retryable: {failure}");
    }
    let before = acknowledged.iter().filter(|(t, _)| *t < restarting).count();
    let after = acknowledged.iter().filter(|(t, _)| *t > back).count();
    assert!(before > 0, "no commit landed before the restart");
    assert!(
        after > 0,
        "no commit landed after the restart: the pool did not reconnect"
    );
    let acknowledged: Vec<_> = acknowledged.into_iter().flat_map(|(_, e)| e).collect();
    let stored = store.audit(&AuditQuery::all()).await.unwrap();
    for entry in &acknowledged {
        let found = stored.iter().find(|e| e.sequence == entry.sequence);
        assert_eq!(
            found,
            Some(entry),
            "acknowledged entry {} lost or changed",
            entry.sequence
        );
    }
    assert!(verify_chain(&stored, None).is_ok(), "the chain verifies");
    // The follower's listener lost its connection and was woken to resync.
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("the follower is woken after the restart")
        .unwrap();
    drop((store, follower));
    drop_database(name);
}
