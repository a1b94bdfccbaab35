//! Cases: two handles on one backend — what one handle commits, the other
//! reads, and every rule of the port holds across them as it does on one.

use std::sync::Arc;

use lifecycle_domain::chrono::Duration;
use lifecycle_domain::{AuditEventKind, ModelStatus};

use super::concurrency::log_holds;
use super::fixtures::*;
use super::metrics::of_replica;
use crate::{AuditQuery, Commit, MetricsSnapshot, Store, StoreError};

pub async fn a_commit_through_one_handle_reads_back_through_the_other(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let registered = register(&*a, "m", &["1.0.0", "2.0.0"]).await;
    let revision = registered.revision.unwrap();
    let seen = b.model(&id("m")).await.unwrap();
    assert_eq!(seen.revision, revision, "b reads a's revision");
    assert_eq!(seen.versions.len(), 2);
    assert_eq!(
        b.audit(&AuditQuery::all()).await.unwrap(),
        registered.entries,
        "b reads a's entries as acknowledged"
    );
    assert_eq!(
        b.changes_since(0).await.unwrap().models,
        vec![(id("m"), revision)]
    );
    let activated = activate(&*b, "m", "1.0.0").await;
    assert_eq!(
        a.model(&id("m"))
            .await
            .unwrap()
            .active()
            .map(|v| &v.version),
        Some(&ver("1.0.0")),
        "a reads b's activation"
    );
    assert_eq!(
        a.audit_head().await.unwrap().map(|h| h.sequence),
        activated.entries.last().map(|e| e.sequence)
    );
    // a's view from before b's commit is stale: its commit is refused.
    let stale = Commit::for_model(id("m"), revision)
        .put(record("m", "3.0.0"))
        .audit(event(AuditEventKind::ModelRegistered, "m", "3.0.0", 2));
    assert!(
        matches!(a.commit(stale).await, Err(StoreError::Conflict { .. })),
        "a revision b moved past conflicts on a"
    );
    assert!(b.version(&id("m"), &ver("3.0.0")).await.unwrap().is_none());
}

pub async fn a_lease_taken_through_one_handle_binds_the_other(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    register(&*a, "m", &["1.0.0"]).await;
    let ttl = Duration::seconds(10);
    let held = a
        .acquire_lease("maintenance", "a", ttl, at(0))
        .await
        .unwrap()
        .expect("a free lease is granted");
    assert_eq!(b.lease("maintenance").await.unwrap(), Some(held.clone()));
    assert_eq!(
        b.acquire_lease("maintenance", "b", ttl, at(5))
            .await
            .unwrap(),
        None,
        "b cannot take what a holds"
    );
    a.release_lease(&held).await.unwrap();
    let taken = b
        .acquire_lease("maintenance", "b", ttl, at(6))
        .await
        .unwrap()
        .expect("released through a, free through b");
    assert_eq!(taken.token, held.token + 1);
    let note = |secs| {
        Commit::audit_only().audit(event(AuditEventKind::ModelDeactivated, "m", "1.0.0", secs))
    };
    let head = b.audit_head().await.unwrap();
    assert!(
        matches!(
            a.commit(note(7).fenced(&held, at(7))).await,
            Err(StoreError::LeaseLost { .. })
        ),
        "a's old lease fences it out once b holds the name"
    );
    assert_eq!(b.audit_head().await.unwrap(), head, "nothing was written");
    let landed = b.commit(note(8).fenced(&taken, at(8))).await.unwrap();
    assert_eq!(landed.entries.len(), 1, "the holder commits through b");
}

pub async fn racing_commits_through_two_handles_leave_one_active_and_no_gaps(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    const TASKS: usize = 16;
    let versions: Vec<String> = (1..=TASKS).map(|i| format!("{i}.0.0")).collect();
    let names: Vec<&str> = versions.iter().map(String::as_str).collect();
    let registered = register(&*a, "m", &names).await;
    let tasks: Vec<_> = versions
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, v)| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { activate(&*store, "m", &v).await })
        })
        .collect();
    let mut acknowledged = registered.entries;
    let mut revisions = Vec::new();
    for task in tasks {
        let receipt = task.await.unwrap();
        revisions.push(receipt.revision.unwrap());
        acknowledged.extend(receipt.entries);
    }
    revisions.sort_unstable();
    assert_eq!(
        revisions,
        (2..=1 + TASKS as u64).collect::<Vec<_>>(),
        "one commit at each revision, across both handles"
    );
    for store in [&a, &b] {
        let state = store.model(&id("m")).await.unwrap();
        let active = state
            .versions
            .iter()
            .filter(|v| v.status() == ModelStatus::Active)
            .count();
        assert_eq!(active, 1, "exactly one active version, read on either");
        log_holds(&**store, &acknowledged, 2 * TASKS).await;
    }
}

pub async fn checkpoints_saved_through_both_handles_merge_on_either(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    register(&*a, "m", &["1.0.0"]).await;
    let (from_a, from_b) = (of_replica("a", 20, 11), of_replica("b", 30, 12));
    a.save_metrics(from_a.clone()).await.unwrap();
    b.save_metrics(from_b.clone()).await.unwrap();
    for store in [&a, &b] {
        assert_eq!(
            store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
            vec![from_a.clone(), from_b.clone()],
            "each handle reads both replicas' checkpoints"
        );
    }
    assert!(a.fold_metrics(from_a.clone(), None, "a").await.unwrap());
    let merged = MetricsSnapshot {
        replica: String::new(),
        ..from_a
    };
    // b read no merged part before a folded: its fold is refused.
    assert!(!b
        .fold_metrics(of_replica("", 30, 13), None, "b")
        .await
        .unwrap());
    assert_eq!(
        b.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![merged.clone(), from_b],
        "b sees a's fold and its own checkpoint, untouched"
    );
    let both = of_replica("", 50, 14);
    assert!(b
        .fold_metrics(both.clone(), Some(merged.state), "b")
        .await
        .unwrap());
    assert_eq!(
        a.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![both]
    );
    assert_eq!(
        a.model(&id("m")).await.unwrap().revision,
        1,
        "checkpoints bump no revision"
    );
}

pub async fn a_commit_through_one_handle_wakes_the_other_s_signal(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    // Polling only is allowed; a signal, when given, must hear every handle.
    let Some(mut signal) = b.commit_signal() else {
        return;
    };
    let receipt = register(&*a, "m", &["1.0.0"]).await;
    let through = receipt.entries.last().unwrap().sequence;
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while *signal.borrow_and_update() < through {
            signal
                .changed()
                .await
                .expect("the signal lives as long as the store");
        }
    })
    .await
    .expect("a's commit wakes b's signal");
}
