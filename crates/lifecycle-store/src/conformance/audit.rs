//! Cases: the audit chain and every audit query.

use std::sync::Arc;

use lifecycle_domain::{verify_chain, AuditEventKind, AuditHash, AuditLogEntry, Severity};

use super::fixtures::*;
use crate::{AuditQuery, Commit, Store};

pub async fn entries_are_numbered_without_gaps_and_chained(store: Arc<dyn Store>) {
    let mut receipts = vec![register(&*store, "m", &["1.0.0", "2.0.0", "3.0.0"]).await];
    receipts.push(activate(&*store, "m", "1.0.0").await);
    receipts.push(activate(&*store, "m", "2.0.0").await);
    let sealed: Vec<AuditLogEntry> = receipts.into_iter().flat_map(|r| r.entries).collect();
    let sequences: Vec<u64> = sealed.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    assert_eq!(sealed[0].prev_hash, AuditHash::GENESIS);
    let stored = store.audit(&AuditQuery::all()).await.unwrap();
    assert_eq!(
        stored, sealed,
        "what the receipts acknowledged is what is stored"
    );
    let head = verify_chain(&stored, None).unwrap();
    assert_eq!(store.audit_head().await.unwrap(), head);
    assert_eq!(head.map(|h| h.sequence), Some(5));
}

pub async fn audit_only_commits_leave_revisions_alone(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let commit = Commit::audit_only()
        .audit(event(AuditEventKind::DeploymentDecision, "m", "1.0.0", 3))
        .audit(event(AuditEventKind::ConfigurationChanged, "m", "1.0.0", 4));
    let receipt = store.commit(commit).await.unwrap();
    assert_eq!(receipt.revision, None);
    assert_eq!(receipt.entries.len(), 2);
    assert_eq!(receipt.entries[0].sequence, 2);
    assert_eq!(store.model(&id("m")).await.unwrap().revision, 1);
    // A guarded commit with events only checks the revision but does not bump it.
    let guarded = Commit::for_model(id("m"), 1).audit(event(
        AuditEventKind::DeploymentDecision,
        "m",
        "1.0.0",
        5,
    ));
    assert_eq!(store.commit(guarded).await.unwrap().revision, Some(1));
    verify_chain(&store.audit(&AuditQuery::all()).await.unwrap(), None).unwrap();
}

const MODELS: [&str; 3] = ["a", "b", "c"];

/// Writes 30 entries in six commits: models, severities and (out of sequence
/// order) timestamps vary. Returns them as stored.
async fn populated(store: &dyn Store) -> Vec<AuditLogEntry> {
    for chunk in (1..=30).collect::<Vec<i64>>().chunks(5) {
        let mut commit = Commit::audit_only();
        for &i in chunk {
            let model = MODELS[i as usize % 3];
            let secs = (i * 7) % 31 * 10;
            let e = event(AuditEventKind::MetricsUpdated, model, "1.0.0", secs)
                .with_severity(Severity::ALL[i as usize % 4]);
            commit = commit.audit(e);
        }
        store.commit(commit).await.unwrap();
    }
    let all = store.audit(&AuditQuery::all()).await.unwrap();
    assert_eq!(all.len(), 30);
    all
}

/// The entries of `all` that pass `keep`, in sequence order, or newest first.
fn expect(
    all: &[AuditLogEntry],
    keep: impl Fn(&AuditLogEntry) -> bool,
    newest_first: bool,
) -> Vec<AuditLogEntry> {
    let mut found: Vec<AuditLogEntry> = all.iter().filter(|e| keep(e)).cloned().collect();
    if newest_first {
        found.reverse();
    }
    found
}

pub async fn query_by_sequence_range(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let got = store
        .audit(&AuditQuery::all().sequences(4..=9))
        .await
        .unwrap();
    assert_eq!(got, all[3..9].to_vec());
    let got = store
        .audit(&AuditQuery::all().sequences(25..=99).newest_first())
        .await
        .unwrap();
    assert_eq!(got, expect(&all, |e| e.sequence >= 25, true));
    assert!(store
        .audit(&AuditQuery::all().sequences(31..=40))
        .await
        .unwrap()
        .is_empty());
}

pub async fn query_by_model(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let is_b = |e: &AuditLogEntry| e.event.model_id == Some(id("b"));
    let got = store
        .audit(&AuditQuery::all().model(id("b")))
        .await
        .unwrap();
    assert_eq!(got, expect(&all, is_b, false));
    assert_eq!(got.len(), 10);
    let latest = store
        .audit(&AuditQuery::all().model(id("b")).newest_first().limit(3))
        .await
        .unwrap();
    assert_eq!(latest, expect(&all, is_b, true)[..3].to_vec());
    assert!(store
        .audit(&AuditQuery::all().model(id("z")))
        .await
        .unwrap()
        .is_empty());
}

pub async fn query_by_time_range(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let (since, until) = (at(50), at(150));
    let in_range = |e: &AuditLogEntry| e.event.timestamp >= since && e.event.timestamp < until;
    let got = store
        .audit(&AuditQuery::all().between(since, until))
        .await
        .unwrap();
    assert_eq!(got, expect(&all, in_range, false));
    assert_eq!(got.len(), 10, "since inclusive, until exclusive");
    let got = store
        .audit(
            &AuditQuery::all()
                .between(since, until)
                .newest_first()
                .limit(4),
        )
        .await
        .unwrap();
    assert_eq!(got, expect(&all, in_range, true)[..4].to_vec());
    let only_since = AuditQuery {
        since: Some(at(290)),
        ..AuditQuery::all()
    };
    let got = store.audit(&only_since).await.unwrap();
    assert_eq!(got, expect(&all, |e| e.event.timestamp >= at(290), false));
}

pub async fn query_most_recent(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let got = store.audit(&AuditQuery::recent(5)).await.unwrap();
    assert_eq!(got, expect(&all, |e| e.sequence > 25, true));
    assert_eq!(
        store.audit(&AuditQuery::recent(100)).await.unwrap().len(),
        30
    );
    assert!(store
        .audit(&AuditQuery::recent(0))
        .await
        .unwrap()
        .is_empty());
}

pub async fn query_by_minimum_severity(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    for min in Severity::ALL {
        let keep = |e: &AuditLogEntry| e.event.severity >= min;
        let got = store
            .audit(&AuditQuery::all().min_severity(min))
            .await
            .unwrap();
        assert_eq!(got, expect(&all, keep, false), "at least {min}");
        let got = store
            .audit(&AuditQuery::all().min_severity(min).newest_first().limit(4))
            .await
            .unwrap();
        assert_eq!(
            got,
            expect(&all, keep, true)[..4].to_vec(),
            "latest at least {min}"
        );
    }
}

pub async fn query_filters_combine(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let query = AuditQuery::all()
        .model(id("a"))
        .min_severity(Severity::Warning)
        .between(at(0), at(250))
        .sequences(2..=28);
    let keep = |e: &AuditLogEntry| {
        e.event.model_id == Some(id("a"))
            && e.event.severity >= Severity::Warning
            && e.event.timestamp < at(250)
            && (2..=28).contains(&e.sequence)
    };
    let expected = expect(&all, keep, false);
    assert!(!expected.is_empty() && expected.len() < 10);
    assert_eq!(store.audit(&query).await.unwrap(), expected);
    let severity_and_time = AuditQuery::all()
        .min_severity(Severity::Error)
        .between(at(100), at(200))
        .newest_first();
    let keep = |e: &AuditLogEntry| {
        e.event.severity >= Severity::Error
            && e.event.timestamp >= at(100)
            && e.event.timestamp < at(200)
    };
    assert_eq!(
        store.audit(&severity_and_time).await.unwrap(),
        expect(&all, keep, true)
    );
}

pub async fn query_by_kind_and_actor(store: Arc<dyn Store>) {
    let mut commit = Commit::audit_only();
    for i in 0..12i64 {
        let kind = [AuditEventKind::ModelActivated, AuditEventKind::ModelRetired][i as usize % 2];
        let actor = ["alice", "bob", "carol"][i as usize % 3];
        let mut e = event(kind, MODELS[i as usize % 3], "1.0.0", i);
        e.actor = lifecycle_domain::Actor::new(actor).unwrap();
        commit = commit.audit(e);
    }
    store.commit(commit).await.unwrap();
    let all = store.audit(&AuditQuery::all()).await.unwrap();
    let retired = |e: &AuditLogEntry| e.event.kind == AuditEventKind::ModelRetired;
    let got = store
        .audit(&AuditQuery::all().kind(AuditEventKind::ModelRetired))
        .await
        .unwrap();
    assert_eq!(got, expect(&all, retired, false));
    let bob = lifecycle_domain::Actor::new("bob").unwrap();
    let by_bob = |e: &AuditLogEntry| e.event.actor == bob;
    let got = store
        .audit(&AuditQuery::all().actor(bob.clone()).newest_first())
        .await
        .unwrap();
    assert_eq!(got, expect(&all, by_bob, true));
    assert_eq!(got.len(), 4);
    let both = AuditQuery::all()
        .actor(bob.clone())
        .kind(AuditEventKind::ModelActivated)
        .model(id("b"));
    let keep = |e: &AuditLogEntry| by_bob(e) && !retired(e) && e.event.model_id == Some(id("b"));
    assert_eq!(store.audit(&both).await.unwrap(), expect(&all, keep, false));
}

pub async fn time_spans_bound_the_sequences_of_a_time_range(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    let (since, until) = (at(50), at(150));
    let inside: Vec<u64> = all
        .iter()
        .filter(|e| e.event.timestamp >= since && e.event.timestamp < until)
        .map(|e| e.sequence)
        .collect();
    let expected = *inside.iter().min().unwrap()..=*inside.iter().max().unwrap();
    assert_eq!(
        store.audit_span(since, until).await.unwrap(),
        Some(expected)
    );
    assert_eq!(store.audit_span(at(5000), at(6000)).await.unwrap(), None);
}

pub async fn pruning_removes_old_entries_and_keeps_the_chain_verifiable(store: Arc<dyn Store>) {
    let all = populated(&*store).await;
    assert_eq!(store.audit_checkpoint().await.unwrap(), None);
    let checkpoint = store.prune_audit(12).await.unwrap().unwrap();
    assert_eq!((checkpoint.head, checkpoint.pruned), (all[11].head(), 12));
    assert_eq!(store.audit_checkpoint().await.unwrap(), Some(checkpoint));
    let rest = store.audit(&AuditQuery::all()).await.unwrap();
    assert_eq!(rest, all[12..].to_vec());
    verify_chain(&rest, Some(checkpoint.head)).unwrap();
    let kept = |e: &AuditLogEntry| e.sequence > 12;
    let queries = [
        AuditQuery::all().model(id("a")),
        AuditQuery::all().min_severity(Severity::Info),
        AuditQuery::all().between(at(0), at(1_000)),
        AuditQuery::recent(100),
    ];
    for query in queries {
        let got = store.audit(&query).await.unwrap();
        let expected: Vec<AuditLogEntry> = all
            .iter()
            .filter(|e| query.matches(e) && kept(e))
            .cloned()
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|e| e.sequence);
        assert_eq!(got_sorted, expected, "{query:?}");
    }
    let span = store.audit_span(at(0), at(1_000)).await.unwrap().unwrap();
    assert!(*span.start() > 12, "{span:?}");
    assert_eq!(
        store.prune_audit(5).await.unwrap(),
        Some(checkpoint),
        "below the checkpoint: nothing"
    );
    let everything = store.prune_audit(1_000).await.unwrap().unwrap();
    assert_eq!(
        (everything.head, everything.pruned),
        (all[29].head(), 30),
        "clamped to the head"
    );
    assert!(store.audit(&AuditQuery::all()).await.unwrap().is_empty());
    assert_eq!(store.audit_head().await.unwrap(), Some(all[29].head()));
    let receipt = store
        .commit(Commit::audit_only().audit(event(
            AuditEventKind::MetricsUpdated,
            "a",
            "1.0.0",
            999,
        )))
        .await
        .unwrap();
    assert_eq!(receipt.entries[0].sequence, 31);
    assert_eq!(
        receipt.entries[0].prev_hash, all[29].hash,
        "the chain goes on from the pruned head"
    );
}
