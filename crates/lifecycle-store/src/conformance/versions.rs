//! Cases: version records, revisions and the one-active rule.

use std::sync::Arc;

use lifecycle_domain::{AuditEventKind, ModelStatus};

use super::fixtures::*;
use crate::{AuditQuery, Commit, Store, StoreError};

pub async fn empty_store_reads_nothing(store: Arc<dyn Store>) {
    assert!(!store.kind().is_empty());
    assert!(store.models().await.unwrap().is_empty());
    let state = store.model(&id("gpt-4")).await.unwrap();
    assert_eq!((state.revision, state.versions.len()), (0, 0));
    assert_eq!(
        store.version(&id("gpt-4"), &ver("1.0.0")).await.unwrap(),
        None
    );
    assert_eq!(store.audit_head().await.unwrap(), None);
    assert!(store.audit(&AuditQuery::all()).await.unwrap().is_empty());
    assert_eq!(
        store.metrics(&id("gpt-4"), &ver("1.0.0")).await.unwrap(),
        Vec::new()
    );
}

pub async fn registered_versions_read_back(store: Arc<dyn Store>) {
    register(&*store, "gpt-4-turbo", &["1.0.0", "2.0.0"]).await;
    register(&*store, "azure/gpt-4o", &["1.0.0"]).await;
    let mut expected = record("gpt-4-turbo", "2.0.0");
    expected.revision = 1;
    assert_eq!(
        store
            .version(&id("gpt-4-turbo"), &ver("2.0.0"))
            .await
            .unwrap(),
        Some(expected)
    );
    assert_eq!(
        store.models().await.unwrap(),
        vec![id("azure/gpt-4o"), id("gpt-4-turbo")],
        "models in id order"
    );
    let state = store.model(&id("gpt-4-turbo")).await.unwrap();
    assert_eq!(state.versions.len(), 2);
    assert_eq!(
        store
            .version(&id("gpt-4-turbo"), &ver("3.0.0"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.version(&id("other"), &ver("1.0.0")).await.unwrap(),
        None
    );
}

pub async fn versions_are_ordered_by_precedence(store: Arc<dyn Store>) {
    let given = [
        "1.10.0",
        "1.0.0",
        "0.9.0",
        "1.0.0-beta",
        "1.0.0-alpha.1",
        "1.2.0",
    ];
    register(&*store, "m", &given).await;
    let listed: Vec<String> = store
        .model(&id("m"))
        .await
        .unwrap()
        .versions
        .iter()
        .map(|v| v.version.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "0.9.0",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0",
            "1.2.0",
            "1.10.0"
        ]
    );
}

pub async fn build_metadata_names_the_same_version(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0+a"]).await;
    let found = store.version(&id("m"), &ver("1.0.0+b")).await.unwrap();
    assert_eq!(found.map(|v| v.version.to_string()), Some("1.0.0+a".into()));
    // Writing 1.0.0+b replaces the record of 1.0.0+a: one version, not two.
    let mut replacement = record("m", "1.0.0+b");
    replacement.description = Some("rebuilt".into());
    store
        .commit(Commit::for_model(id("m"), 1).put(replacement))
        .await
        .unwrap();
    let state = store.model(&id("m")).await.unwrap();
    assert_eq!(state.versions.len(), 1);
    assert_eq!(state.versions[0].description.as_deref(), Some("rebuilt"));
    // Two spellings of one version in one commit are a duplicate.
    let twice = Commit::for_model(id("m"), 2)
        .put(record("m", "2.0.0+x"))
        .put(record("m", "2.0.0+y"));
    assert!(matches!(
        store.commit(twice).await,
        Err(StoreError::InvalidCommit { .. })
    ));
}

pub async fn revision_counts_commits_and_stamps_records(store: Arc<dyn Store>) {
    let first = register(&*store, "m", &["1.0.0", "2.0.0"]).await;
    assert_eq!(first.revision, Some(1));
    let second = activate(&*store, "m", "1.0.0").await;
    assert_eq!(second.revision, Some(2));
    let state = store.model(&id("m")).await.unwrap();
    assert_eq!(state.revision, 2);
    let revisions: Vec<u64> = state.versions.iter().map(|v| v.revision).collect();
    assert_eq!(
        revisions,
        [2, 1],
        "only the record written at revision 2 says 2"
    );
    let third = activate(&*store, "m", "2.0.0").await;
    assert_eq!(third.revision, Some(3));
    assert_eq!(store.model(&id("other")).await.unwrap().revision, 0);
}

pub async fn stale_revision_conflicts_and_writes_nothing(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let head = store.audit_head().await.unwrap();
    let before = store.model(&id("m")).await.unwrap();
    for stale in [0, 2, 7] {
        let mut changed = record("m", "1.0.0");
        changed.activate(at(5)).unwrap();
        let commit = Commit::for_model(id("m"), stale)
            .put(changed)
            .put(record("m", "9.0.0"))
            .audit(event(AuditEventKind::ModelActivated, "m", "1.0.0", 5));
        match store.commit(commit).await {
            Err(e @ StoreError::Conflict { .. }) if !e.is_retryable() => {
                panic!("a conflict is worth retrying after reading again: {e}")
            }
            Err(StoreError::Conflict {
                model_id,
                expected,
                actual,
            }) => assert_eq!((model_id, expected, actual), (id("m"), stale, 1)),
            other => panic!("expected a conflict at revision {stale}, got {other:?}"),
        }
    }
    assert_eq!(store.model(&id("m")).await.unwrap(), before);
    assert_eq!(store.audit_head().await.unwrap(), head);
    // A new model must be written at revision 0.
    let commit = Commit::for_model(id("new"), 1).put(record("new", "1.0.0"));
    assert!(matches!(
        store.commit(commit).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store
        .models()
        .await
        .unwrap()
        .iter()
        .all(|m| m != &id("new")));
}

pub async fn two_active_or_canary_versions_are_refused(store: Arc<dyn Store>) {
    for status in [ModelStatus::Active, ModelStatus::Canary] {
        let model = format!("m-{status}");
        let m = model.as_str();
        // Two in one commit.
        let both = Commit::for_model(id(m), 0)
            .put(in_status(m, "1.0.0", status))
            .put(in_status(m, "2.0.0", status))
            .audit(event(AuditEventKind::ModelActivated, m, "2.0.0", 0));
        match store.commit(both).await {
            Err(StoreError::TwoInStatus {
                status: s,
                versions,
                ..
            }) => {
                assert_eq!(s, status);
                assert_eq!(versions, [ver("1.0.0"), ver("2.0.0")]);
            }
            other => panic!("two {status} versions in one commit: {other:?}"),
        }
        assert_eq!(store.model(&id(m)).await.unwrap().revision, 0);
        // One already stored, another added without changing the first.
        store
            .commit(Commit::for_model(id(m), 0).put(in_status(m, "1.0.0", status)))
            .await
            .unwrap();
        let head = store.audit_head().await.unwrap();
        let second = Commit::for_model(id(m), 1)
            .put(in_status(m, "2.0.0", status))
            .audit(event(AuditEventKind::ModelActivated, m, "2.0.0", 0));
        assert!(matches!(
            store.commit(second).await,
            Err(StoreError::TwoInStatus { .. })
        ));
        let state = store.model(&id(m)).await.unwrap();
        assert_eq!((state.revision, state.versions.len()), (1, 1));
        assert_eq!(store.audit_head().await.unwrap(), head);
    }
}

pub async fn all_models_read_as_each_model_does(store: Arc<dyn Store>) {
    assert!(store.all_models().await.unwrap().is_empty());
    register(&*store, "gpt-4-turbo", &["1.0.0", "2.0.0"]).await;
    register(&*store, "azure/gpt-4o", &["1.0.0"]).await;
    activate(&*store, "gpt-4-turbo", "1.0.0").await;
    let all = store.all_models().await.unwrap();
    let ids: Vec<_> = all.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        ids,
        store.models().await.unwrap(),
        "the same models, in id order"
    );
    for (model_id, state) in &all {
        assert_eq!(state, &store.model(model_id).await.unwrap(), "{model_id}");
    }
    assert_eq!(all[1].1.revision, 2, "as of the last commit");
}
