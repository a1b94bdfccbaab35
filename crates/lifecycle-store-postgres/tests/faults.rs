//! Faults the adapter must ride out: the listening connection killed by
//! the server while another process commits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::*;
use lifecycle_store::{AuditQuery, Commit, Store};
use lifecycle_store_postgres::testing::{available, drop_database, fresh_database};
use lifecycle_store_postgres::PostgresStore;
use sqlx::{Connection, PgConnection};

fn registration(model: &str, at: DateTime<Utc>) -> Commit {
    let id = ModelId::new(model).unwrap();
    let record = ModelVersion::new(
        id.clone(),
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(8_000, 1_000),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        at,
    );
    let event = AuditEvent::new(
        AuditEventKind::ModelRegistered,
        Actor::new("test").unwrap(),
        format!("{model} 1.0.0 registered"),
        at,
    )
    .for_version(id.clone(), Version::new(1, 0, 0));
    Commit::for_model(id, 0).put(record).audit(event)
}

/// The server ends every listening connection (`pg_terminate_backend`)
/// while another store commits: the follower is woken for a resync at
/// once, and, listening again, is told of the next commit too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_resyncs_and_listens_again() {
    if !available() {
        return;
    }
    let name = "faults-killed-listener";
    let url = fresh_database(name).await;
    let writer = PostgresStore::connect(&url).await.unwrap();
    let follower = PostgresStore::connect(&url).await.unwrap();
    let mut signal = follower.commit_signal().unwrap();
    let at = DateTime::<Utc>::UNIX_EPOCH;
    writer.commit(registration("first", at)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), signal.changed())
        .await
        .expect("a commit wakes the follower")
        .unwrap();
    signal.borrow_and_update();

    let mut admin = PgConnection::connect(&url).await.unwrap();
    let (killed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%') AS ended",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 2, "both stores listen: {killed} listeners ended");
    // Committed while no one listens: the notification is lost.
    writer.commit(registration("second", at)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), signal.changed())
        .await
        .expect("losing the listener wakes the follower to resync")
        .unwrap();
    signal.borrow_and_update();
    // Listening again: the next commit is pushed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal.borrow_and_update();
    let third = writer.commit(registration("third", at)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            signal.changed().await.unwrap();
            if *signal.borrow_and_update() >= third.entries[0].sequence {
                return;
            }
        }
    })
    .await
    .expect("the reconnected listener is told of new commits");
    let changes = follower.changes_since(1).await.unwrap();
    assert_eq!(changes.models.len(), 2, "the resync reads what was missed");
    let _ = admin.close().await;
    drop((writer, follower));
    drop_database(name);
}

/// A committer that stopped between its commit and the sealing (killed,
/// its future dropped) leaves its audit events queued: a reader of the
/// chain's head in any process seals them, in order and linked, and a
/// follower's feed reaches them without waiting for another commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_left_queued_by_a_stopped_committer_are_sealed_by_a_reader() {
    if !available() {
        return;
    }
    let name = "faults-stranded-events";
    let url = fresh_database(name).await;
    let writer = PostgresStore::connect(&url).await.unwrap();
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let first = writer.commit(registration("first", at)).await.unwrap();

    // What the stopped committer's transaction left: its events queued.
    let stranded = AuditEvent::new(
        AuditEventKind::ModelRegistered,
        Actor::new("stopped").unwrap(),
        "second 1.0.0 registered",
        at,
    )
    .for_version(ModelId::new("second").unwrap(), Version::new(1, 0, 0));
    let mut admin = PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO lifecycle_unsealed (commit_id, position, queued_at, event) \
         VALUES (nextval('lifecycle_commit_ids'), 1, clock_timestamp() - interval '5 seconds', $1)",
    )
    .bind(serde_json::to_string(&stranded).unwrap())
    .execute(&mut admin)
    .await
    .unwrap();

    let reader = PostgresStore::connect(&url).await.unwrap();
    let head = reader.audit_head().await.unwrap().expect("a head");
    assert_eq!(
        head.sequence, 2,
        "the queued event is sealed after the first"
    );
    let entries = reader.audit(&AuditQuery::all()).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], first.entries[0]);
    assert_eq!(entries[1].event, stranded);
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert!(entries.iter().all(AuditLogEntry::verify_hash));
    let (queued,): (i64,) = sqlx::query_as("SELECT count(*) FROM lifecycle_unsealed")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(queued, 0, "nothing is left queued");
    // The writer's next commit follows the sealed event.
    let third = writer.commit(registration("third", at)).await.unwrap();
    assert_eq!(third.entries[0].sequence, 3);
    assert_eq!(third.entries[0].prev_hash, entries[1].hash);
    let _ = admin.close().await;
    drop((writer, reader));
    drop_database(name);
}
