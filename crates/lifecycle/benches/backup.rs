//! Backup and restore of a large store: 20 models × 5 versions and 100,000
//! audit entries on sled. Backup streams to a sink; restore goes into a
//! fresh store (memory, and sled where the import is durable).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lifecycle::domain::AuditEvent;
use lifecycle::store_sled::SledStore;
use lifecycle::*;

const MODELS: u64 = 20;
const ENTRIES: u64 = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let base = std::env::var_os("LIFECYCLE_BENCH_DIR")
        .map_or_else(|| std::path::PathBuf::from("target/tmp"), Into::into);
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A populated store's backup, built once.
fn large_backup(rt: &tokio::runtime::Runtime) -> Vec<u8> {
    let dir = scratch("bench-backup-source");
    let backup = rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
        let m = ModelLifecycleManager::builder()
            .store(store.clone())
            .build()
            .await
            .unwrap();
        for i in 0..MODELS {
            let id = ModelId::new(format!("model-{i}")).unwrap();
            for major in 1..=5 {
                let v = ModelVersion::new(
                    id.clone(),
                    Version::new(major, 0, 0),
                    "openai",
                    ModelCapabilities::new(128_000, 4_096),
                    ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                    m.now(),
                );
                m.register_model(v).await.unwrap();
            }
            m.activate_model(&id, &Version::new(1, 0, 0)).await.unwrap();
            for _ in 0..1_000 {
                let ok = InferenceResult::success(420.0).with_tokens(900, 120);
                m.record_inference(id.as_str(), &Version::new(1, 0, 0), &ok)
                    .unwrap();
            }
        }
        // The rest of the log in audit-only commits of 500 entries.
        let written = store.audit_head().await.unwrap().map_or(0, |h| h.sequence);
        let actor = Actor::new("bench").unwrap();
        for chunk in 0..(ENTRIES - written).div_ceil(500) {
            let mut commit = lifecycle_store::Commit::audit_only();
            for i in 0..500.min(ENTRIES - written - chunk * 500) {
                let id = ModelId::new(format!("model-{}", i % MODELS)).unwrap();
                let event = AuditEvent::new(
                    AuditEventKind::MetricsUpdated,
                    actor.clone(),
                    "figures",
                    m.now(),
                )
                .for_version(id, Version::new(1, 0, 0));
                commit = commit.audit(event);
            }
            store.commit(commit).await.unwrap();
        }
        let mut backup = Vec::new();
        m.create_backup(&mut backup).await.unwrap();
        m.dispose().await.unwrap();
        backup
    });
    let _ = std::fs::remove_dir_all(&dir);
    backup
}

fn backup_and_restore(c: &mut Criterion) {
    let rt = runtime();
    let backup = large_backup(&rt);
    println!(
        "backup of {MODELS} models, {ENTRIES} audit entries: {} bytes",
        backup.len()
    );
    let dir = scratch("bench-backup-target");
    let source = rt.block_on(async {
        let restored = ModelLifecycleManager::builder()
            .memory()
            .build()
            .await
            .unwrap();
        restored.restore_backup(&backup[..]).await.unwrap();
        restored
    });
    let mut group = c.benchmark_group("backup");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ENTRIES));
    group.bench_function("create (100k entries, memory store, to a sink)", |b| {
        b.iter(|| rt.block_on(source.create_backup(std::io::sink())).unwrap());
    });
    group.bench_function("restore into memory (100k entries)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let m = ModelLifecycleManager::builder()
                    .memory()
                    .build()
                    .await
                    .unwrap();
                m.restore_backup(&backup[..]).await.unwrap();
                m.dispose().await.unwrap();
            })
        });
    });
    group.bench_function("restore into sled (100k entries, durable)", |b| {
        b.iter(|| {
            let _ = std::fs::remove_dir_all(&dir);
            rt.block_on(async {
                let m = ModelLifecycleManager::builder()
                    .sled(&dir)
                    .build()
                    .await
                    .unwrap();
                m.restore_backup(&backup[..]).await.unwrap();
                m.dispose().await.unwrap();
            })
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, backup_and_restore);
criterion_main!(benches);
