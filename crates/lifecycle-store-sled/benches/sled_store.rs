//! Benchmarks of the sled store: durable commits (1 and 16 tasks) against the
//! disk's own fdatasync rate, the audit query "latest 100 of one model" and
//! open time on a store of 1,000,000 entries and 10,000 versions, and the
//! on-disk size per audit entry and per version.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities, ModelCostInfo, ModelId,
    ModelVersion, Severity, Version,
};
use lifecycle_store::conformance::load;
use lifecycle_store::{AuditQuery, Commit, Store};
use lifecycle_store_sled::SledStore;
use tokio::runtime::Runtime;

const TASKS: usize = 16;
const BIG_MODELS: usize = 1_000;
const BIG_ENTRIES: usize = 1_000_000;
const BIG_ENTRIES_PER_COMMIT: usize = 100;
const BIG_VERSIONS_PER_MODEL: u64 = 10;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Where bench stores live: `LIFECYCLE_BENCH_DIR` (to measure another disk)
/// or the target directory.
fn bench_root() -> PathBuf {
    std::env::var_os("LIFECYCLE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

fn scratch(name: &str) -> PathBuf {
    let dir = bench_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

fn id(i: usize) -> ModelId {
    ModelId::new(format!("model-{i}")).unwrap()
}

fn record(model: &ModelId, version: Version) -> ModelVersion {
    ModelVersion::new(
        model.clone(),
        version,
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        now(),
    )
}

fn event(kind: AuditEventKind, model: &ModelId, version: &Version) -> AuditEvent {
    AuditEvent::new(
        kind,
        Actor::new("bench").unwrap(),
        format!("{kind} {version}"),
        now(),
    )
    .for_version(model.clone(), version.clone())
}

fn durable_commits(c: &mut Criterion) {
    let rt = runtime();
    let dir = scratch("bench-commits");
    let store = Arc::new(SledStore::open(&dir).unwrap());
    rt.block_on(async {
        for i in 0..TASKS {
            load::two_versions(&*store, &id(i), now()).await;
        }
    });
    let mut group = c.benchmark_group("durable_commit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("fdatasync_4k (the disk's own rate)", |b| {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("fdatasync-probe"))
            .unwrap();
        let block = [7u8; 4096];
        b.iter(|| {
            file.write_all_at(&block, 0).unwrap();
            file.sync_data().unwrap();
        });
    });
    group.bench_function("1_task", |b| {
        b.iter(|| {
            rt.block_on(load::swap_active(&*store, &id(0), now()))
                .unwrap()
        });
    });
    group.bench_function("audit_append (one entry, 1 task)", |b| {
        b.iter(|| {
            let entry = event(
                AuditEventKind::DeploymentDecision,
                &id(0),
                &Version::new(1, 0, 0),
            );
            rt.block_on(store.commit(Commit::audit_only().audit(entry)))
                .unwrap()
        });
    });
    group.bench_function("16_tasks_different_models (time per commit)", |b| {
        let models: Vec<ModelId> = (0..TASKS).map(id).collect();
        b.iter_custom(|iters| {
            rt.block_on(load::swaps_in_parallel(
                &[store.clone() as Arc<dyn Store>],
                &models,
                iters,
            ))
        });
    });
    group.finish();
}

/// A store of 1,000,000 audit entries across 1,000 models and 10,000
/// versions, built once and kept in the target directory.
fn big_store(rt: &Runtime) -> PathBuf {
    let dir = bench_root().join("bench-audit-1m-v2");
    let complete = dir.join("bench-complete");
    if complete.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let store = SledStore::open(&dir).unwrap();
    let started = Instant::now();
    rt.block_on(async {
        for c in 0..BIG_ENTRIES / BIG_ENTRIES_PER_COMMIT {
            // The first commit of each model registers its versions.
            let model = id(c % BIG_MODELS);
            let mut commit = if c < BIG_MODELS {
                let mut commit = Commit::for_model(model.clone(), 0);
                for v in 0..BIG_VERSIONS_PER_MODEL {
                    commit = commit.put(record(&model, Version::new(1, v, 0)));
                }
                commit
            } else {
                Commit::audit_only()
            };
            for j in 0..BIG_ENTRIES_PER_COMMIT {
                let about = id((c + j) % BIG_MODELS);
                let severity = Severity::ALL[j % Severity::ALL.len()];
                commit = commit.audit(
                    event(
                        AuditEventKind::MetricsUpdated,
                        &about,
                        &Version::new(1, 0, 0),
                    )
                    .with_severity(severity),
                );
            }
            store.commit(commit).await.unwrap();
        }
    });
    let entries = BIG_ENTRIES;
    println!(
        "built a store of {entries} audit entries and {} versions in {:.1?}; {} bytes on disk",
        BIG_MODELS as u64 * BIG_VERSIONS_PER_MODEL,
        started.elapsed(),
        store.size_on_disk().unwrap()
    );
    drop(store);
    std::fs::write(complete, "").unwrap();
    dir
}

fn big_store_reads(c: &mut Criterion) {
    let rt = runtime();
    let dir = big_store(&rt);
    let mut group = c.benchmark_group("store_1m_entries");
    group.bench_function("open", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let store = SledStore::open(&dir).unwrap();
                total += started.elapsed();
                drop(store);
            }
            total
        });
    });
    let store = SledStore::open(&dir).unwrap();
    let mut model = 0;
    group.bench_function("latest_100_of_one_model", |b| {
        b.iter(|| {
            model = (model + 7) % BIG_MODELS;
            let query = AuditQuery::all().model(id(model)).newest_first().limit(100);
            let found = rt.block_on(store.audit(&query)).unwrap();
            assert_eq!(found.len(), 100);
        });
    });
    group.finish();
}

/// Prints the on-disk size per audit entry and per version, each measured on
/// a store holding only that kind of record.
fn sizes(_: &mut Criterion) {
    let rt = runtime();
    let (models, versions_per_model, entries) = (1_000usize, 10u64, 100_000usize);
    let versions_dir = scratch("bench-size-versions");
    let versions_store = SledStore::open(&versions_dir).unwrap();
    let audit_dir = scratch("bench-size-audit");
    let audit_store = SledStore::open(&audit_dir).unwrap();
    rt.block_on(async {
        for m in 0..models {
            let model = id(m);
            let mut commit = Commit::for_model(model.clone(), 0);
            for v in 0..versions_per_model {
                commit = commit.put(record(&model, Version::new(1, v, 0)));
            }
            versions_store.commit(commit).await.unwrap();
        }
        for chunk in 0..entries / 1_000 {
            let mut commit = Commit::audit_only();
            for j in 0..1_000 {
                commit = commit.audit(event(
                    AuditEventKind::MetricsUpdated,
                    &id((chunk + j) % models),
                    &Version::new(1, 0, 0),
                ));
            }
            audit_store.commit(commit).await.unwrap();
        }
    });
    let per_version =
        versions_store.size_on_disk().unwrap() as f64 / (models as f64 * versions_per_model as f64);
    let per_entry = audit_store.size_on_disk().unwrap() as f64 / entries as f64;
    println!("on disk: {per_version:.0} bytes per version (10,000 versions), {per_entry:.0} bytes per audit entry (100,000 entries, indexes included)");
}

criterion_group!(benches, durable_commits, big_store_reads, sizes);
criterion_main!(benches);
