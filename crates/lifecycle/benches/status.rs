//! `get_system_status` in a running manager over a store with 1,000,000
//! audit entries: the first call checks the whole chain, every later call
//! only the entries added since (here: one new entry per call, as a busy
//! system adds them). The full `audit_log().verify()` of the same store is
//! the reference, measured in the same run.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle::chrono::{DateTime, Utc};
use lifecycle::domain::AuditEvent;
use lifecycle::store::MemoryStore;
use lifecycle::*;
use lifecycle_store::Commit;

const ENTRIES: usize = 1_000_000;

fn event(i: usize, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(
        AuditEventKind::DeploymentDecision,
        Actor::new("ci").unwrap(),
        format!("decision {i}"),
        at,
    )
    .for_version(ModelId::new("gpt-4-turbo").unwrap(), Version::new(1, 0, 0))
}

fn status(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let m = rt.block_on(async {
        let m = ModelLifecycleManager::builder()
            .store(store.clone())
            .alert_check_interval(None)
            .build()
            .await
            .unwrap();
        for chunk in (0..ENTRIES).collect::<Vec<_>>().chunks(10_000) {
            let mut commit = Commit::audit_only();
            for &i in chunk {
                commit = commit.audit(event(i, m.now()));
            }
            store.commit(commit).await.unwrap();
        }
        assert!(m.get_system_status().await.unwrap().audit_chain_verified);
        m
    });
    let mut group = c.benchmark_group("status_1m_entries");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function(
        "get_system_status (one entry added since the last call)",
        |b| {
            let mut i = ENTRIES;
            b.iter(|| {
                rt.block_on(async {
                    i += 1;
                    let commit = Commit::audit_only().audit(event(i, m.now()));
                    store.commit(commit).await.unwrap();
                    assert!(m.get_system_status().await.unwrap().audit_chain_verified);
                })
            })
        },
    );
    group.bench_function("audit verify (the whole chain, reference)", |b| {
        b.iter(|| rt.block_on(async { assert!(m.audit_log().verify().await.unwrap().is_intact()) }))
    });
    group.finish();
}

criterion_group!(benches, status);
criterion_main!(benches);
