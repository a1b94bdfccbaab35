//! Benchmarks of the PostgreSQL store on the server `LIFECYCLE_TEST_DATABASE_URL`
//! names (`cargo xtask bench` starts a throwaway cluster): a durable
//! activation commit with 1 task, and with 16 tasks over 4 stores (4 pools,
//! as 4 processes would have), beside the same server's rate for the
//! transaction `pgbench -N` runs (update one row, insert one, commit),
//! measured in the same run by the same client library.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::*;
use lifecycle_store::conformance::load;
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
    group.bench_function("16_tasks_4_stores (time per commit)", |b| {
        b.iter_custom(|iters| {
            let per_task = (iters as usize).div_ceil(TASKS).max(1);
            let started = Instant::now();
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|t| {
                        let store = stores[t % STORES].clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                load::swap_active(&*store, &id(t), now()).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
            started
                .elapsed()
                .mul_f64(iters as f64 / (per_task * TASKS) as f64)
        });
    });
    group.finish();
    drop(stores);
    lifecycle_store_postgres::testing::drop_database("bench-postgres-commits");
}

criterion_group!(benches, durable_commits);
criterion_main!(benches);
