//! Benchmark of audit export: entries per second, and the memory an export
//! needs on top of the store (the process's peak RSS before and after).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lifecycle_audit::{ExportFormat, ModelAuditLog};
use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::{Actor, AuditEvent, AuditEventKind, ModelId, Version};
use lifecycle_store::{Commit, MemoryStore, Store};

const ENTRIES: usize = 200_000;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// The process's peak resident memory so far, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn export(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    rt.block_on(async {
        for chunk in 0..ENTRIES / 1_000 {
            let mut commit = Commit::audit_only();
            for j in 0..1_000 {
                let i = chunk * 1_000 + j;
                let model = ModelId::new(format!("model-{}", i % 100)).unwrap();
                let event = AuditEvent::new(
                    AuditEventKind::MetricsUpdated,
                    Actor::new("bench").unwrap(),
                    "metrics published",
                    t0() + Duration::seconds(i as i64),
                )
                .for_version(model, Version::new(1, 0, 0))
                .with_detail("samples", i);
                commit = commit.audit(event);
            }
            store.commit(commit).await.unwrap();
        }
    });
    let log = ModelAuditLog::new(store);
    let end = t0() + Duration::days(30);
    let before = peak_rss_kib();
    let summary = rt
        .block_on(log.export(t0(), end, ExportFormat::Ndjson, std::io::sink()))
        .unwrap();
    assert_eq!(summary.entries, ENTRIES as u64);
    println!(
        "export of {ENTRIES} entries: peak RSS {before} KiB before, {} KiB after (the store itself holds them all)",
        peak_rss_kib()
    );
    let mut group = c.benchmark_group("audit_export");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.sample_size(10);
    for format in [ExportFormat::Ndjson, ExportFormat::Json] {
        group.bench_function(format!("{format:?} {ENTRIES} entries to a sink"), |b| {
            b.iter(|| {
                rt.block_on(log.export(t0(), end, format, std::io::sink()))
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
