//! Benchmarks of the PostgreSQL store on the server `LIFECYCLE_TEST_DATABASE_URL`
//! names (`cargo xtask bench` starts a throwaway cluster): a durable
//! activation commit with 1 task, and with 16 tasks over 4 stores (4 pools,
//! as 4 processes would have), beside the same server's rate for the
//! transaction `pgbench -N` runs (update one row, insert one, commit),
//! measured in the same run by the same client library; and how long a
//! commit takes to reach another store's change feed (p50, p99).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::*;
use lifecycle_store::conformance::load;
use lifecycle_store::{AuditQuery, Store};
use lifecycle_store_postgres::testing::{fresh_database, server_url};
use lifecycle_store_postgres::PostgresStore;
use sqlx::{Connection, PgConnection};
use tokio::runtime::Runtime;

const TASKS: usize = 16;
const STORES: usize = 4;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

fn id(i: usize) -> ModelId {
    ModelId::new(format!("model-{i}")).unwrap()
}

/// pgbench's `-N` transaction on a table of its shape: update one account,
/// read it, insert a history row, commit.
async fn pgbench_transaction(connection: &mut PgConnection, account: i64) {
    let mut tx = connection.begin().await.unwrap();
    sqlx::query("UPDATE bench_accounts SET abalance = abalance + 1 WHERE aid = $1")
        .bind(account)
        .execute(&mut *tx)
        .await
        .unwrap();
    let _: (i64,) = sqlx::query_as("SELECT abalance FROM bench_accounts WHERE aid = $1")
        .bind(account)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO bench_history (aid, delta, mtime) VALUES ($1, 1, now())")
        .bind(account)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn durable_commits(c: &mut Criterion) {
    if server_url().is_none() {
        println!("postgres benches skipped: LIFECYCLE_TEST_DATABASE_URL is not set (cargo xtask bench sets it)");
        return;
    }
    let rt = runtime();
    let (stores, mut reference) = rt.block_on(async {
        let url = fresh_database("bench-postgres-commits").await;
        let mut stores = Vec::new();
        for _ in 0..STORES {
            stores.push(Arc::new(PostgresStore::connect(&url).await.unwrap()));
        }
        for i in 0..TASKS {
            load::two_versions(&*stores[0], &id(i), now()).await;
        }
        let mut reference = PgConnection::connect(&url).await.unwrap();
        for statement in [
            "CREATE TABLE bench_accounts (aid bigint PRIMARY KEY, abalance bigint NOT NULL)",
            "INSERT INTO bench_accounts SELECT g, 0 FROM generate_series(1, 100000) AS g",
            "CREATE TABLE bench_history (aid bigint, delta bigint, mtime timestamptz)",
        ] {
            sqlx::query(statement)
                .execute(&mut reference)
                .await
                .unwrap();
        }
        (stores, reference)
    });
    let mut group = c.benchmark_group("postgres_commit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    let mut account = 0;
    group.bench_function(
        "pgbench -N transaction, 1 client (the server's own rate)",
        |b| {
            b.iter(|| {
                account = account % 100_000 + 1;
                rt.block_on(pgbench_transaction(&mut reference, account));
            });
        },
    );
    group.bench_function("1_task", |b| {
        b.iter(|| {
            rt.block_on(load::swap_active(&*stores[0], &id(0), now()))
                .unwrap()
        });
    });
    let shared: Vec<Arc<dyn Store>> = stores.iter().map(|s| s.clone() as Arc<dyn Store>).collect();
    group.bench_function("16_tasks_4_stores (time per commit)", |b| {
        let models: Vec<ModelId> = (0..TASKS).map(id).collect();
        b.iter_custom(|iters| rt.block_on(load::swaps_in_parallel(&shared, &models, iters)));
    });
    group.finish();
    cpu_per_commit(&rt, &mut reference, &stores[0], &shared);
    drop(stores);
    lifecycle_store_postgres::testing::drop_database("bench-postgres-commits");
}

/// The whole machine's busy CPU time so far (client, server and kernel:
/// /proc/stat's user, nice, system, irq, softirq and steal, in its fixed
/// 100 ticks a second), where Linux tells it.
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    Some(Duration::from_millis(busy * 10))
}

/// Prints the machine's CPU time per commit with 1 task and with 16 (and
/// per pgbench -N transaction), and the ceiling it sets on the 16-task
/// rate: with every core busy, no more commits a second than the cores
/// divided by the CPU each costs.
fn cpu_per_commit(
    rt: &Runtime,
    reference: &mut PgConnection,
    one: &PostgresStore,
    shared: &[Arc<dyn Store>],
) {
    const COMMITS: u64 = 2_000;
    let Some(start) = machine_busy() else {
        return;
    };
    let models: Vec<ModelId> = (0..TASKS).map(id).collect();
    let per = |run: &mut dyn FnMut()| {
        let before = machine_busy().unwrap_or(start);
        run();
        (machine_busy().unwrap_or(before) - before).as_secs_f64() * 1e3 / COMMITS as f64
    };
    let pgbench = per(&mut || {
        for account in 1..=COMMITS {
            rt.block_on(pgbench_transaction(reference, account as i64));
        }
    });
    let single = per(&mut || {
        for _ in 0..COMMITS {
            rt.block_on(load::swap_active(one, &id(0), now())).unwrap();
        }
    });
    let many = per(&mut || {
        rt.block_on(load::swaps_in_parallel(shared, &models, COMMITS));
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "cpu per commit, the whole machine (client, server, kernel) over {COMMITS}: {single:.2} ms with 1 task, \
         {many:.2} ms with 16 tasks over 4 stores, {pgbench:.2} ms per pgbench -N transaction; {cores:.0} cores \
         allow at most {:.0} commits/s with 16 tasks",
        cores * 1e3 / many
    );
}

/// How long a commit in one store takes to reach another store's change
/// feed through NOTIFY (its commit signal), from the commit's return:
/// printed as p50 and p99 over 200 commits.
fn propagation(_: &mut Criterion) {
    if server_url().is_none() {
        return;
    }
    let rt = runtime();
    let mut waits = rt.block_on(async {
        let url = fresh_database("bench-postgres-propagation").await;
        let writer = PostgresStore::connect(&url).await.unwrap();
        let follower = PostgresStore::connect(&url).await.unwrap();
        let mut signal = follower.commit_signal().unwrap();
        let model = id(0);
        load::two_versions(&writer, &model, now()).await;
        let mut waits = Vec::new();
        for _ in 0..200 {
            signal.borrow_and_update();
            let receipt = load::swap_active(&writer, &model, now()).await.unwrap();
            let landed = receipt.entries.last().unwrap().sequence;
            let committed = Instant::now();
            while *signal.borrow_and_update() < landed {
                signal.changed().await.unwrap();
            }
            waits.push(committed.elapsed());
        }
        waits
    });
    waits.sort();
    let at = |q: f64| waits[((waits.len() - 1) as f64 * q) as usize];
    println!(
        "propagation of a commit to another store by NOTIFY, counted from the commit's return: p50 {:.2} ms, p99 {:.2} ms over {} commits (goal p99 <= 100 ms)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        waits.len()
    );
    lifecycle_store_postgres::testing::drop_database("bench-postgres-propagation");
}

/// The latest 100 entries of one model in a log of 1,000,000 entries over
/// 100 models: one index range scan, as the sled store's bench of the same.
fn big_log(c: &mut Criterion) {
    const ENTRIES: usize = 1_000_000;
    const PER_COMMIT: usize = 1_000;
    const MODELS: usize = 100;
    if server_url().is_none() {
        return;
    }
    let rt = runtime();
    let store = rt.block_on(async {
        let url = fresh_database("bench-postgres-big-log").await;
        let store = PostgresStore::connect(&url).await.unwrap();
        let started = Instant::now();
        let actor = Actor::new("bench").unwrap();
        for c in 0..ENTRIES / PER_COMMIT {
            let mut commit = lifecycle_store::Commit::audit_only();
            for j in 0..PER_COMMIT {
                let about = id((c + j) % MODELS);
                commit = commit.audit(
                    AuditEvent::new(
                        AuditEventKind::MetricsUpdated,
                        actor.clone(),
                        "metrics",
                        now(),
                    )
                    .for_version(about, Version::new(1, 0, 0))
                    .with_severity(Severity::ALL[j % Severity::ALL.len()]),
                );
            }
            store.commit(commit).await.unwrap();
        }
        println!(
            "built a PostgreSQL log of {ENTRIES} audit entries in {:.1?}",
            started.elapsed()
        );
        store
    });
    let mut group = c.benchmark_group("postgres_1m_entries");
    let mut model = 0;
    group.bench_function("latest_100_of_one_model", |b| {
        b.iter(|| {
            model = (model + 7) % MODELS;
            let query = AuditQuery::all().model(id(model)).newest_first().limit(100);
            let found = rt.block_on(store.audit(&query)).unwrap();
            assert_eq!(found.len(), 100);
        });
    });
    group.finish();
    drop(store);
    lifecycle_store_postgres::testing::drop_database("bench-postgres-big-log");
}

criterion_group!(benches, durable_commits, propagation, big_log);
criterion_main!(benches);
