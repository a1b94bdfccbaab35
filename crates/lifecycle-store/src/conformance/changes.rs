//! Cases: the change feed — what changed after an audit sequence.

use std::sync::Arc;

use lifecycle_domain::{Actor, AuditEvent, AuditEventKind};

use super::fixtures::*;
use crate::{Commit, Store};

pub async fn the_change_feed_names_each_changed_model_at_its_revision(store: Arc<dyn Store>) {
    let empty = store.changes_since(0).await.unwrap();
    assert_eq!((empty.through, empty.models.len()), (0, 0));
    register(&*store, "gpt-4-turbo", &["1.0.0", "2.0.0"]).await;
    register(&*store, "azure/gpt-4o", &["1.0.0"]).await;
    let first = store.changes_since(0).await.unwrap();
    assert_eq!(first.through, 3, "through the last entry");
    assert_eq!(
        first.models,
        vec![(id("azure/gpt-4o"), 1), (id("gpt-4-turbo"), 1)],
        "each model once, in id order, at its revision"
    );
    let idle = store.changes_since(first.through).await.unwrap();
    assert_eq!((idle.through, idle.models.len()), (3, 0), "nothing since");

    activate(&*store, "gpt-4-turbo", "1.0.0").await;
    // An entry about no model names none.
    let note = AuditEvent::new(
        AuditEventKind::Error,
        Actor::new("conformance").unwrap(),
        "a note about the store",
        at(2),
    );
    store
        .commit(Commit::audit_only().audit(note))
        .await
        .unwrap();
    let next = store.changes_since(first.through).await.unwrap();
    assert_eq!(next.through, 5);
    assert_eq!(next.models, vec![(id("gpt-4-turbo"), 2)]);
}

pub async fn the_change_feed_resyncs_everything_past_a_prune(store: Arc<dyn Store>) {
    register(&*store, "a", &["1.0.0"]).await;
    register(&*store, "b", &["1.0.0"]).await;
    activate(&*store, "a", "1.0.0").await;
    store.prune_audit(2).await.unwrap();
    let changes = store.changes_since(1).await.unwrap();
    assert_eq!(changes.through, 3);
    assert_eq!(
        changes.models,
        vec![(id("a"), 2), (id("b"), 1)],
        "entries 2 were pruned: every model is named"
    );
    let after = store.changes_since(2).await.unwrap();
    assert_eq!(after.models, vec![(id("a"), 2)], "from the kept entries");
}

pub async fn a_commit_signal_reports_the_head_once_a_commit_lands(store: Arc<dyn Store>) {
    // Polling only is allowed; a signal, when given, must not lag.
    let Some(mut signal) = store.commit_signal() else {
        return;
    };
    register(&*store, "a", &["1.0.0"]).await;
    tokio::time::timeout(std::time::Duration::from_secs(5), signal.changed())
        .await
        .expect("a commit wakes the signal")
        .expect("the signal lives as long as the store");
    let head = store.audit_head().await.unwrap().map(|h| h.sequence);
    assert_eq!(Some(*signal.borrow_and_update()), head);
    activate(&*store, "a", "1.0.0").await;
    let late = store.commit_signal().unwrap();
    let head = store.audit_head().await.unwrap().map(|h| h.sequence);
    assert_eq!(
        Some(*late.borrow()),
        head,
        "a signal taken after commits starts at the head"
    );
}
