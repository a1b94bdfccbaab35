//! Cases: malformed commits are refused whole, with the error that names the problem.

use std::sync::Arc;

use lifecycle_domain::{AuditEventKind, ModelStatus};

use super::fixtures::*;
use crate::{AuditQuery, Commit, Store, StoreError};

/// Asserts that `commit` fails as `expected` says and that the store did not change.
async fn refused(store: &dyn Store, commit: Commit, expected: fn(&StoreError) -> bool) {
    let models = store.models().await.unwrap();
    let state = store.model(&id("m")).await.unwrap();
    let audit = store.audit(&AuditQuery::all()).await.unwrap();
    match store.commit(commit.clone()).await {
        Err(e) if expected(&e) => {
            assert!(!e.to_string().is_empty());
            assert!(
                !e.is_retryable(),
                "a malformed commit fails the same way again: {e}"
            );
        }
        other => panic!("{commit:?} gave {other:?}"),
    }
    assert_eq!(store.models().await.unwrap(), models);
    assert_eq!(store.model(&id("m")).await.unwrap(), state);
    assert_eq!(store.audit(&AuditQuery::all()).await.unwrap(), audit);
}

fn invalid_commit(e: &StoreError) -> bool {
    matches!(e, StoreError::InvalidCommit { .. })
}

fn domain(e: &StoreError) -> bool {
    matches!(e, StoreError::Domain(_))
}

pub async fn commits_that_change_nothing_are_refused(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    refused(&*store, Commit::audit_only(), invalid_commit).await;
    refused(&*store, Commit::for_model(id("m"), 1), invalid_commit).await;
}

pub async fn records_of_another_model_are_refused(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let commit = Commit::for_model(id("m"), 1)
        .put(record("m", "2.0.0"))
        .put(record("other", "1.0.0"));
    refused(&*store, commit, invalid_commit).await;
    assert_eq!(store.model(&id("other")).await.unwrap().revision, 0);
}

pub async fn invalid_records_and_events_are_refused(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let mut bad_price = record("m", "2.0.0");
    bad_price.cost_info = Some(lifecycle_domain::ModelCostInfo::usd(
        lifecycle_domain::Decimal::NEGATIVE_ONE,
        lifecycle_domain::Decimal::ZERO,
    ));
    refused(
        &*store,
        Commit::for_model(id("m"), 1).put(bad_price),
        domain,
    )
    .await;

    // A record whose status and canary weight disagree, as a corrupt file could hold.
    let json = serde_json::to_string(&in_status("m", "3.0.0", ModelStatus::Active))
        .unwrap()
        .replace("\"status\":\"active\"", "\"status\":\"canary\"");
    let inconsistent = serde_json::from_str(&json).unwrap();
    refused(
        &*store,
        Commit::for_model(id("m"), 1).put(inconsistent),
        domain,
    )
    .await;

    let mut blank = event(AuditEventKind::ModelRegistered, "m", "4.0.0", 0);
    blank.message = "  ".into();
    let commit = Commit::for_model(id("m"), 1)
        .put(record("m", "4.0.0"))
        .audit(blank);
    refused(&*store, commit, domain).await;
}

pub async fn versions_without_a_guard_are_refused(store: Arc<dyn Store>) {
    let mut unguarded =
        Commit::audit_only().audit(event(AuditEventKind::ModelRegistered, "m", "1.0.0", 0));
    unguarded.versions.push(record("m", "1.0.0"));
    refused(&*store, unguarded, invalid_commit).await;
}
