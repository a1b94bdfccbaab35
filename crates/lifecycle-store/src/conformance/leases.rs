//! Cases: leases — one holder at a time, tokens that fence stale holders.

use std::sync::Arc;

use lifecycle_domain::chrono::Duration;
use lifecycle_domain::AuditEventKind;

use super::fixtures::*;
use crate::{Commit, Store, StoreError};

pub async fn a_lease_has_one_holder_until_it_lapses_or_is_released(store: Arc<dyn Store>) {
    let ttl = Duration::seconds(10);
    assert_eq!(store.lease("maintenance").await.unwrap(), None);
    let a = store
        .acquire_lease("maintenance", "a", ttl, at(0))
        .await
        .unwrap()
        .expect("a free lease is granted");
    assert_eq!((a.holder.as_str(), a.token, a.expires_at), ("a", 1, at(10)));
    assert_eq!(
        store
            .acquire_lease("maintenance", "b", ttl, at(5))
            .await
            .unwrap(),
        None,
        "not while another holder's runs"
    );
    let renewed = store
        .acquire_lease("maintenance", "a", ttl, at(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renewed.token, renewed.expires_at),
        (1, at(15)),
        "a renewal keeps the token"
    );
    assert!(
        store
            .acquire_lease("alerts", "b", ttl, at(5))
            .await
            .unwrap()
            .is_some(),
        "leases are independent by name"
    );
    let b = store
        .acquire_lease("maintenance", "b", ttl, at(15))
        .await
        .unwrap()
        .expect("a lapsed lease is taken");
    assert_eq!(b.token, 2, "a new holder gets the next token");
    store.release_lease(&renewed).await.unwrap();
    assert_eq!(
        store.lease("maintenance").await.unwrap(),
        Some(b.clone()),
        "releasing a lease one no longer holds changes nothing"
    );
    store.release_lease(&b).await.unwrap();
    let c = store
        .acquire_lease("maintenance", "c", ttl, at(16))
        .await
        .unwrap()
        .expect("a released lease is free at once");
    assert_eq!(c.token, 3);
}

pub async fn a_commit_fenced_by_a_lost_lease_writes_nothing(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let ttl = Duration::seconds(10);
    let a = store
        .acquire_lease("maintenance", "a", ttl, at(0))
        .await
        .unwrap()
        .unwrap();
    let note = |secs| {
        Commit::audit_only().audit(event(AuditEventKind::ModelDeactivated, "m", "1.0.0", secs))
    };
    let landed = store.commit(note(1).fenced(&a, at(1))).await.unwrap();
    assert_eq!(
        landed.entries.len(),
        1,
        "the holder commits while it holds the lease"
    );
    let head = store.audit_head().await.unwrap();
    let lapsed = store.commit(note(11).fenced(&a, at(11))).await;
    assert!(
        matches!(lapsed, Err(StoreError::LeaseLost { token: 1, .. })),
        "not after it lapsed: {lapsed:?}"
    );
    store
        .acquire_lease("maintenance", "b", ttl, at(12))
        .await
        .unwrap()
        .unwrap();
    let stale = store.commit(note(12).fenced(&a, at(12))).await;
    assert!(
        matches!(stale, Err(StoreError::LeaseLost { .. })),
        "nor once another holder took it: {stale:?}"
    );
    let guarded = Commit::for_model(id("m"), store.model(&id("m")).await.unwrap().revision)
        .put(record("m", "2.0.0"))
        .audit(event(AuditEventKind::ModelRegistered, "m", "2.0.0", 12))
        .fenced(&a, at(12));
    assert!(store.commit(guarded).await.is_err());
    assert_eq!(
        store.audit_head().await.unwrap(),
        head,
        "nothing was written"
    );
    assert!(store
        .version(&id("m"), &ver("2.0.0"))
        .await
        .unwrap()
        .is_none());
}
