//! `ModelAuditLog` through its public API, on the in-memory and the sled store.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use lifecycle_audit::{AuditError, ExportFormat, ModelAuditLog};
use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, AuditLogEntry, ModelId, Severity, Version,
};
use lifecycle_store::{AuditQuery, Commit, MemoryStore, Store};
use lifecycle_store_sled::SledStore;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()
}

const KINDS: [AuditEventKind; 5] = [
    AuditEventKind::ModelActivated,
    AuditEventKind::CanaryPromoted,
    AuditEventKind::ModelRolledBack,
    AuditEventKind::ThresholdViolated,
    AuditEventKind::DeploymentDecision,
];

/// Entry `i` of the test log: kinds, actors, models and severities cycle;
/// one entry per minute.
fn event(i: usize) -> AuditEvent {
    let kind = KINDS[i % KINDS.len()];
    let model = ModelId::new(["a", "b"][i % 2]).unwrap();
    let mut e = AuditEvent::new(
        kind,
        Actor::new(["alice", "bob", "ci"][i % 3]).unwrap(),
        format!("step {i}"),
        t0() + Duration::minutes(i as i64),
    )
    .for_version(model, Version::new(1, 0, 0))
    .with_severity(Severity::ALL[i % 4]);
    if kind == AuditEventKind::DeploymentDecision {
        e = e.with_detail("approved", i.is_multiple_of(4));
    }
    e
}

/// Writes `n` entries, 100 per commit.
async fn populate(store: &dyn Store, n: usize) -> Vec<AuditLogEntry> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut commit = Commit::audit_only();
        for &i in chunk {
            commit = commit.audit(event(i));
        }
        store.commit(commit).await.unwrap();
    }
    store.audit(&AuditQuery::all()).await.unwrap()
}

async fn on_each_store<F, Fut>(test: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    test(Arc::new(MemoryStore::new())).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    test(Arc::new(SledStore::open(&dir).unwrap())).await;
}

#[tokio::test]
async fn queries_answer_by_model_recency_severity_time_kind_and_actor() {
    on_each_store(|store| async move {
        let all = populate(&*store, 60).await;
        let log = ModelAuditLog::new(store);
        let b = ModelId::new("b").unwrap();
        let history = log.history(&b).await.unwrap();
        assert_eq!(history.len(), 30);
        assert!(history
            .iter()
            .all(|e| e.event.model_id.as_ref() == Some(&b)));
        let recent = log.recent(3).await.unwrap();
        let sequences: Vec<u64> = recent.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, [60, 59, 58]);
        assert_eq!(log.critical_entries().await.unwrap().len(), 15);
        let window = log
            .between(t0() + Duration::minutes(10), t0() + Duration::minutes(20))
            .await
            .unwrap();
        assert_eq!(window, all[10..20].to_vec());
        assert_eq!(
            log.by_kind(AuditEventKind::ModelRolledBack)
                .await
                .unwrap()
                .len(),
            12
        );
        assert_eq!(
            log.by_actor(&Actor::new("ci").unwrap())
                .await
                .unwrap()
                .len(),
            20
        );
    })
    .await;
}

#[tokio::test]
async fn exports_stream_every_entry_of_the_range_in_both_formats() {
    on_each_store(|store| async move {
        let all = populate(&*store, 2_500).await; // more than two pages
        let log = ModelAuditLog::new(store);
        let (start, end) = (
            t0() + Duration::minutes(100),
            t0() + Duration::minutes(2_300),
        );
        let expected: Vec<&AuditLogEntry> = all
            .iter()
            .filter(|e| e.event.timestamp >= start && e.event.timestamp < end)
            .collect();

        let mut json = Vec::new();
        let summary = log
            .export(start, end, ExportFormat::Json, &mut json)
            .await
            .unwrap();
        assert_eq!(summary.entries, 2_200);
        assert_eq!(
            (summary.first_sequence, summary.last_sequence),
            (Some(101), Some(2_300))
        );
        let parsed: Vec<AuditLogEntry> = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed.iter().collect::<Vec<_>>(), expected);

        let mut ndjson = Vec::new();
        log.export(start, end, ExportFormat::Ndjson, &mut ndjson)
            .await
            .unwrap();
        let lines: Vec<AuditLogEntry> = String::from_utf8(ndjson)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, parsed);
        lifecycle_domain::verify_chain(&lines, Some(all[99].head())).unwrap();

        let mut empty = Vec::new();
        let none = log
            .export(
                t0() - Duration::days(2),
                t0() - Duration::days(1),
                ExportFormat::Json,
                &mut empty,
            )
            .await
            .unwrap();
        assert_eq!(none.entries, 0);
        assert_eq!(
            serde_json::from_slice::<Vec<AuditLogEntry>>(&empty).unwrap(),
            []
        );

        let backwards = log.export(end, start, ExportFormat::Json, Vec::new()).await;
        assert!(
            matches!(backwards, Err(AuditError::EmptyRange { .. })),
            "{backwards:?}"
        );
    })
    .await;
}

/// A writer that fails once it has taken `room` bytes.
struct Full {
    room: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.room {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_writer_is_a_clear_error() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    populate(&*store, 50).await;
    let log = ModelAuditLog::new(store);
    let err = log
        .export(
            t0(),
            t0() + Duration::days(1),
            ExportFormat::Ndjson,
            Full { room: 2_000 },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no space left on device"), "{err}");
}

#[tokio::test]
async fn the_compliance_report_counts_and_verifies_its_range() {
    on_each_store(|store| async move {
        populate(&*store, 40).await;
        let log = ModelAuditLog::new(store);
        let (start, end) = (t0() + Duration::minutes(10), t0() + Duration::minutes(30));
        let report = log.compliance_report(start, end).await.unwrap();
        assert_eq!(report.total_entries, 20);
        assert_eq!(report.by_kind[&AuditEventKind::ModelActivated], 4);
        assert_eq!(report.by_severity[&Severity::Critical], 5);
        assert_eq!(report.critical_events.len(), 5);
        assert_eq!(report.errors.len(), 5);
        // Threshold violations (i % 5 == 3) and rejected decisions (i % 5 == 4, i % 4 != 0).
        let expected: Vec<u64> = (10..30u64)
            .filter(|i| i % 5 == 3 || (i % 5 == 4 && i % 4 != 0))
            .map(|i| i + 1)
            .collect();
        let got: Vec<u64> = report
            .policy_violations
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(got, expected);
        let a = &report.models[&ModelId::new("a").unwrap()];
        let b = &report.models[&ModelId::new("b").unwrap()];
        assert_eq!(a.deployments + b.deployments, 8);
        assert_eq!(a.rollbacks + b.rollbacks, 4);
        assert!(report.chain.verified, "{:?}", report.chain);
        assert_eq!(
            (report.chain.first_sequence, report.chain.last_sequence),
            (Some(11), Some(30))
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["totalEntries"], 20);
    })
    .await;
}

#[tokio::test]
async fn verify_walks_the_whole_chain() {
    on_each_store(|store| async move {
        populate(&*store, 2_100).await;
        let head = store.audit_head().await.unwrap();
        let report = ModelAuditLog::new(store).verify().await.unwrap();
        assert!(report.is_intact());
        assert_eq!(report.entries_checked, 2_100);
        assert_eq!(report.verified_head, head);
    })
    .await;
}

#[tokio::test]
async fn verify_finds_an_entry_altered_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    {
        let store = SledStore::open(&dir).unwrap();
        populate(&store, 30).await;
    }
    {
        // Rewrite entry 17's message behind the store's back.
        let db = sled::open(&dir).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let key = 17u64.to_be_bytes();
        let original = String::from_utf8(audit.get(key).unwrap().unwrap().to_vec()).unwrap();
        let forged = original.replace("step 16", "step 99");
        assert_ne!(original, forged);
        audit.insert(key, forged.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
    assert!(
        !ModelAuditLog::new(store.clone())
            .verify_new_entries()
            .await
            .unwrap(),
        "a first incremental check walks the whole chain"
    );
    let report = ModelAuditLog::new(store.clone()).verify().await.unwrap();
    let broken = report.broken.unwrap();
    assert_eq!(broken.sequence, 17);
    assert_eq!(report.entries_checked, 16);
    assert!(
        broken.to_string().contains("content was altered"),
        "{broken}"
    );
    let compliance = ModelAuditLog::new(store)
        .compliance_report(t0(), t0() + Duration::days(1))
        .await
        .unwrap();
    assert!(!compliance.chain.verified);
    assert!(compliance.chain.problem.unwrap().contains("sequence 17"));
}

#[tokio::test]
async fn export_and_prune_keeps_the_rest_verifiable() {
    on_each_store(|store| async move {
        let all = populate(&*store, 2_500).await;
        let log = ModelAuditLog::new(store.clone());
        let before = t0() + Duration::minutes(1_200);
        let mut archive = Vec::new();
        let summary = log
            .export_and_prune(before, ExportFormat::Ndjson, &mut archive)
            .await
            .unwrap();
        assert_eq!(summary.exported.entries, 1_200);
        let checkpoint = summary.checkpoint.unwrap();
        assert_eq!(
            (checkpoint.head, checkpoint.pruned),
            (all[1_199].head(), 1_200)
        );
        let archived: Vec<AuditLogEntry> = String::from_utf8(archive)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(archived, all[..1_200].to_vec());
        lifecycle_domain::verify_chain(&archived, None).unwrap();

        assert_eq!(
            store.audit(&AuditQuery::all()).await.unwrap(),
            all[1_200..].to_vec()
        );
        let report = log.verify().await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries_checked, 1_300);
        let compliance = log
            .compliance_report(before, t0() + Duration::days(3))
            .await
            .unwrap();
        assert!(compliance.chain.verified, "{:?}", compliance.chain);
        assert_eq!(compliance.total_entries, 1_300);

        let again = log
            .export_and_prune(before, ExportFormat::Json, Vec::new())
            .await
            .unwrap();
        assert_eq!(again.exported.entries, 0);
        assert_eq!(again.checkpoint, Some(checkpoint));
    })
    .await;
}

#[tokio::test]
async fn a_failed_archive_prunes_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    populate(&*store, 100).await;
    let log = ModelAuditLog::new(store.clone());
    let err = log
        .export_and_prune(
            t0() + Duration::days(1),
            ExportFormat::Json,
            Full { room: 3_000 },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuditError::Write(_)), "{err}");
    assert_eq!(store.audit(&AuditQuery::all()).await.unwrap().len(), 100);
    assert_eq!(store.audit_checkpoint().await.unwrap(), None);
}

#[tokio::test]
async fn new_entries_are_verified_from_where_the_last_check_left_off() {
    on_each_store(|store| async move {
        populate(&*store, 1_500).await;
        let log = ModelAuditLog::new(store.clone());
        assert!(log.verify_new_entries().await.unwrap());
        // More entries, then a prune past the point last checked.
        populate(&*store, 700).await;
        assert!(log.clone().verify_new_entries().await.unwrap());
        populate(&*store, 300).await;
        log.export_and_prune(t0() + Duration::days(2), ExportFormat::Ndjson, Vec::new())
            .await
            .unwrap();
        assert!(log.verify_new_entries().await.unwrap());
        assert!(log.verify().await.unwrap().is_intact());
    })
    .await;
}

#[tokio::test]
async fn a_new_process_resumes_verification_where_the_last_one_left_off() {
    on_each_store(|store| async move {
        populate(&*store, 200).await;
        let head = store.audit_head().await.unwrap().unwrap();
        assert!(ModelAuditLog::new(store.clone())
            .verify_new_entries()
            .await
            .unwrap());
        assert_eq!(store.verified_head().await.unwrap(), Some(head));

        // A fresh log starts from the recorded point, which must still
        // match the entry it names: a changed entry there is a broken chain.
        populate(&*store, 50).await;
        assert!(ModelAuditLog::new(store.clone())
            .verify_new_entries()
            .await
            .unwrap());
        let newer = store.audit_head().await.unwrap().unwrap();
        assert_eq!(store.verified_head().await.unwrap(), Some(newer));
        let forged = lifecycle_domain::ChainHead {
            sequence: newer.sequence,
            hash: head.hash,
        };
        store.set_verified_head(forged).await.unwrap();
        assert!(!ModelAuditLog::new(store.clone())
            .verify_new_entries()
            .await
            .unwrap());
    })
    .await;
}

#[tokio::test]
async fn the_verified_point_survives_reopening_a_sled_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
    populate(&*store, 20).await;
    assert!(ModelAuditLog::new(store.clone())
        .verify_new_entries()
        .await
        .unwrap());
    let head = store.audit_head().await.unwrap();
    drop(store);
    let reopened = SledStore::open(&dir).unwrap();
    assert_eq!(reopened.verified_head().await.unwrap(), head);
    drop(reopened);
}

/// Every page of `query` of `size` entries, walked by cursor.
async fn walk(log: &ModelAuditLog, query: &AuditQuery, size: usize) -> Vec<Vec<u64>> {
    let (mut pages, mut after) = (Vec::new(), None);
    loop {
        let page = log.page(query, after, size).await.unwrap();
        pages.push(page.entries.iter().map(|e| e.sequence).collect());
        match page.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn pages_walked_by_cursor_return_every_entry_of_a_query_once_in_order() {
    on_each_store(|store| async move {
        let all = populate(&*store, 23).await;
        let log = ModelAuditLog::new(store.clone());
        let b = ModelId::new("b").unwrap();
        let queries = [
            AuditQuery::all(),
            AuditQuery::all().newest_first(),
            AuditQuery::all().model(b.clone()),
            AuditQuery::all().model(b.clone()).newest_first().limit(2),
            AuditQuery::all()
                .min_severity(Severity::Error)
                .sequences(5..=20),
        ];
        for query in queries {
            let mut expected: Vec<u64> = all
                .iter()
                .filter(|e| query.matches(e))
                .map(|e| e.sequence)
                .collect();
            if query.newest_first {
                expected.reverse();
            }
            for size in [1, 5, 23, 100] {
                let pages = walk(&log, &query, size).await;
                assert!(pages.iter().all(|p| p.len() <= size), "{query:?} {size}");
                assert!(
                    pages[..pages.len() - 1].iter().all(|p| p.len() == size),
                    "only the last page is short: {query:?} {size}: {pages:?}"
                );
                let flat: Vec<u64> = pages.concat();
                assert_eq!(flat, expected, "{query:?} in pages of {size}");
            }
        }
        assert_eq!(
            log.page(&AuditQuery::all(), None, 0)
                .await
                .unwrap()
                .entries
                .len(),
            1,
            "a page holds at least one entry"
        );

        // Entries appended between pages: an oldest-first walk reaches
        // them, a newest-first walk goes on from where it was.
        let first = log.page(&AuditQuery::all(), None, 20).await.unwrap();
        let newest = log
            .page(&AuditQuery::all().newest_first(), None, 20)
            .await
            .unwrap();
        store
            .commit(Commit::audit_only().audit(event(100)))
            .await
            .unwrap();
        let rest = log.page(&AuditQuery::all(), first.next, 20).await.unwrap();
        assert_eq!(
            rest.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![21, 22, 23, 24]
        );
        assert_eq!(rest.next, None);
        let older = log
            .page(&AuditQuery::all().newest_first(), newest.next, 20)
            .await
            .unwrap();
        assert_eq!(
            older.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![3, 2, 1]
        );
    })
    .await;
}
