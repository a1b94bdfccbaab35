//! `ModelRegistry` against a mocked store port (mockall): what it sends to
//! the store, and how it retries concurrent-change conflicts.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use lifecycle_domain::chrono::{TimeZone, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEventKind, Decimal, ModelCapabilities, ModelCostInfo, ModelId, ModelStatus,
    ModelVersion, Succession, Version,
};
use lifecycle_registry::{ModelRegistry, RegistryError};
use lifecycle_store::{CommitReceipt, ManualClock, MockStore, ModelState, StoreError};

fn model() -> ModelId {
    ModelId::new("gpt-4-turbo").unwrap()
}

/// A model at revision 7 with 1.0.0 active and 2.0.0 inactive.
fn state() -> ModelState {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let version = |n| {
        ModelVersion::new(
            model(),
            Version::new(n, 0, 0),
            "openai",
            ModelCapabilities::new(8_192, 1_024),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            now,
        )
    };
    let mut active = version(1);
    active.activate(now).unwrap();
    ModelState {
        revision: 7,
        versions: vec![active, version(2)],
    }
}

fn conflict() -> StoreError {
    StoreError::Conflict {
        model_id: model(),
        expected: 7,
        actual: 8,
    }
}

async fn registry(store: MockStore) -> ModelRegistry {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap());
    ModelRegistry::open(
        Arc::new(store),
        Arc::new(clock),
        Succession::default(),
        Actor::new("ci").unwrap(),
    )
    .await
    .unwrap()
}

fn store_with(
    commit: impl Fn() -> Result<CommitReceipt, StoreError> + Send + 'static,
) -> (MockStore, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut store = MockStore::new();
    store.expect_all_models().returning(|| Ok(Vec::new()));
    store.expect_model().returning(|_| Ok(state()));
    let counted = calls.clone();
    store.expect_commit().returning(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        commit()
    });
    (store, calls)
}

#[tokio::test]
async fn activation_sends_one_guarded_commit_with_both_versions_and_their_events() {
    let mut store = MockStore::new();
    store.expect_all_models().returning(|| Ok(Vec::new()));
    store.expect_model().returning(|_| Ok(state()));
    store
        .expect_commit()
        .times(1)
        .withf(|commit| {
            let guard = commit.guard.as_ref().unwrap();
            let statuses: Vec<(String, ModelStatus)> = commit
                .versions
                .iter()
                .map(|v| (v.version.to_string(), v.status()))
                .collect();
            let kinds: Vec<AuditEventKind> = commit.audit.iter().map(|e| e.kind).collect();
            guard.expected_revision == 7
                && statuses
                    == [
                        ("1.0.0".to_string(), ModelStatus::Deprecated),
                        ("2.0.0".to_string(), ModelStatus::Active),
                    ]
                && kinds
                    == [
                        AuditEventKind::ModelDeprecated,
                        AuditEventKind::ModelActivated,
                    ]
                && commit.audit.iter().all(|e| e.actor.as_str() == "ci")
        })
        .returning(|_| {
            Ok(CommitReceipt {
                revision: Some(8),
                entries: Vec::new(),
            })
        });
    let registry = registry(store).await;
    let active = registry
        .activate(&model(), &Version::new(2, 0, 0))
        .await
        .unwrap();
    assert_eq!(active.status(), ModelStatus::Active);
}

#[tokio::test]
async fn conflicts_are_retried_transparently() {
    let failures = Arc::new(AtomicUsize::new(3));
    let (store, calls) = store_with(move || {
        if failures.fetch_sub(1, Ordering::SeqCst) > 0 {
            Err(conflict())
        } else {
            Ok(CommitReceipt {
                revision: Some(8),
                entries: Vec::new(),
            })
        }
    });
    let registry = registry(store).await;
    registry
        .activate(&model(), &Version::new(2, 0, 0))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn conflicts_surface_after_a_bounded_number_of_retries() {
    let (store, calls) = store_with(|| Err(conflict()));
    let registry = registry(store).await;
    let err = registry
        .activate(&model(), &Version::new(2, 0, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Store(StoreError::Conflict { .. })),
        "{err}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 9, "one try and eight retries");
}

#[tokio::test]
async fn other_store_failures_are_not_retried() {
    let (store, calls) = store_with(|| Err(StoreError::backend("disk full")));
    let registry = registry(store).await;
    let err = registry
        .activate(&model(), &Version::new(2, 0, 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        registry.route("gpt-4-turbo", b"k").is_none(),
        "the router saw no commit"
    );
}

/// The gate is asked for each attempt with the state that attempt commits
/// at, and its decision is written in the activation's own commit: after a
/// concurrent change, the decision that lands is the one made again.
#[tokio::test]
async fn a_gated_deployment_decides_on_the_state_it_commits_and_in_the_same_commit() {
    let commits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut store = MockStore::new();
    store.expect_all_models().returning(|| Ok(Vec::new()));
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = reads.clone();
    store.expect_model().returning(move |_| {
        // The second read sees another writer's change: revision 8.
        let mut read = state();
        if counted.fetch_add(1, Ordering::SeqCst) >= 1 {
            read.revision = 8;
        }
        Ok(read)
    });
    let sent = commits.clone();
    let tried = attempts.clone();
    store.expect_commit().returning(move |commit| {
        let first = tried.fetch_add(1, Ordering::SeqCst) == 0;
        sent.lock().unwrap().push(commit);
        if first {
            Err(conflict())
        } else {
            Ok(CommitReceipt {
                revision: Some(9),
                entries: Vec::new(),
            })
        }
    });
    let registry = registry(store).await;
    let gate = |state: &ModelState, record: &ModelVersion, now| {
        let decision = lifecycle_domain::AuditEvent::new(
            AuditEventKind::DeploymentDecision,
            Actor::new("policy").unwrap(),
            format!("{} approved at revision {}", record.version, state.revision),
            now,
        )
        .for_version(model(), record.version.clone());
        let gate = lifecycle_registry::Gate::Allow {
            decision: Some(decision),
            forced: None,
        };
        (gate, state.revision)
    };
    let (moved, decided_at) = registry
        .deploy(
            &model(),
            lifecycle_registry::Target::Version(&Version::new(2, 0, 0)),
            gate,
        )
        .await
        .unwrap();
    assert_eq!(moved.unwrap().status(), ModelStatus::Active);
    assert_eq!(
        decided_at, 8,
        "what the gate said on the attempt that committed"
    );
    let commits = commits.lock().unwrap();
    assert_eq!(commits.len(), 2, "one conflict, one commit");
    let landed = &commits[1];
    assert_eq!(landed.guard.as_ref().unwrap().expected_revision, 8);
    let kinds: Vec<AuditEventKind> = landed.audit.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditEventKind::DeploymentDecision,
            AuditEventKind::ModelDeprecated,
            AuditEventKind::ModelActivated
        ]
    );
    assert_eq!(landed.audit[0].message, "2.0.0 approved at revision 8");
}

/// A refusal writes its decision alone and moves nothing.
#[tokio::test]
async fn a_refused_deployment_writes_only_its_decision() {
    let (store, calls) = store_with(|| {
        Ok(CommitReceipt {
            revision: None,
            entries: Vec::new(),
        })
    });
    let registry = registry(store).await;
    let gate = |_: &ModelState, record: &ModelVersion, now| {
        let decision = lifecycle_domain::AuditEvent::new(
            AuditEventKind::DeploymentDecision,
            Actor::new("policy").unwrap(),
            format!("{} refused", record.version),
            now,
        )
        .for_version(model(), record.version.clone());
        (lifecycle_registry::Gate::Refuse { decision }, ())
    };
    let (moved, ()) = registry
        .deploy(
            &model(),
            lifecycle_registry::Target::Version(&Version::new(2, 0, 0)),
            gate,
        )
        .await
        .unwrap();
    assert!(moved.is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the decision, alone");
}
