//! Cases: many tasks committing at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use lifecycle_domain::{verify_chain, AuditLogEntry, ModelStatus};

use super::fixtures::*;
use crate::{AuditQuery, Store};

const TASKS: usize = 16;

/// Checks the whole log: numbered 1..=n without gaps, chained, and holding
/// every entry a receipt acknowledged, unchanged.
pub async fn log_holds(store: &dyn Store, acknowledged: &[AuditLogEntry], n: usize) {
    let all = store.audit(&AuditQuery::all()).await.unwrap();
    let sequences: Vec<u64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=n as u64).collect::<Vec<_>>());
    verify_chain(&all, None).unwrap();
    for entry in acknowledged {
        assert_eq!(&all[entry.sequence as usize - 1], entry);
    }
}

pub async fn racing_activations_leave_one_active_and_no_gaps(store: Arc<dyn Store>) {
    let versions: Vec<String> = (1..=TASKS).map(|i| format!("{i}.0.0")).collect();
    let names: Vec<&str> = versions.iter().map(String::as_str).collect();
    register(&*store, "m", &names).await;
    let tasks: Vec<_> = versions
        .iter()
        .cloned()
        .map(|v| {
            let store = store.clone();
            tokio::spawn(async move { activate(&*store, "m", &v).await })
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut revisions = BTreeSet::new();
    for task in tasks {
        let receipt = task.await.unwrap();
        assert!(
            revisions.insert(receipt.revision),
            "two commits at one revision"
        );
        acknowledged.extend(receipt.entries);
    }
    let state = store.model(&id("m")).await.unwrap();
    assert_eq!(state.revision, 1 + TASKS as u64);
    let active: Vec<_> = state
        .versions
        .iter()
        .filter(|v| v.status() == ModelStatus::Active)
        .collect();
    assert_eq!(active.len(), 1, "exactly one active version");
    log_holds(&*store, &acknowledged, 2 * TASKS).await;
}

pub async fn parallel_commits_on_many_models_all_land(store: Arc<dyn Store>) {
    const ROUNDS: usize = 10;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let model = format!("model-{t}");
                let mut acknowledged = Vec::new();
                for round in 0..ROUNDS {
                    let receipt = register(&*store, &model, &[&format!("{round}.0.0")]).await;
                    acknowledged.extend(receipt.entries);
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    assert_eq!(store.models().await.unwrap().len(), TASKS);
    for t in 0..TASKS {
        let state = store.model(&id(&format!("model-{t}"))).await.unwrap();
        assert_eq!(
            (state.revision, state.versions.len()),
            (ROUNDS as u64, ROUNDS)
        );
    }
    log_holds(&*store, &acknowledged, TASKS * ROUNDS).await;
}
