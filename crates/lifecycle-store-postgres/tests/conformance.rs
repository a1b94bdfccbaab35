//! `PostgresStore` against the port's conformance suite, one test per case,
//! each on a fresh database of its own (dropped when the case is over); and
//! the cases on two handles with two stores — two pools, two listening
//! connections — on one database, as two processes would have.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle_store::Store;
use lifecycle_store_postgres::testing::{available, drop_database, fresh_database};
use lifecycle_store_postgres::PostgresStore;

async fn store(url: &str) -> Arc<dyn Store> {
    Arc::new(PostgresStore::connect(url).await.unwrap())
}

lifecycle_store::conformance_tests!(
    |case| async move { store(&fresh_database(case).await).await },
    drop_database,
    when: available,
);

mod two_handles {
    use super::*;

    lifecycle_store::conformance_pair_tests!(
        |case| async move {
            let url = fresh_database(&format!("pair-{case}")).await;
            (store(&url).await, store(&url).await)
        },
        |case| drop_database(&format!("pair-{case}")),
        when: available,
    );
}
