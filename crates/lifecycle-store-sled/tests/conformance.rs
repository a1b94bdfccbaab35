//! `SledStore` against the port's conformance suite, one temporary directory per case.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use lifecycle_store::{conformance, Store};
use lifecycle_store_sled::SledStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_store_passes_the_conformance_suite() {
    let root =
        std::env::temp_dir().join(format!("lifecycle-sled-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let counter = AtomicUsize::new(0);
    conformance::run_all(|| {
        let dir = root.join(counter.fetch_add(1, Ordering::Relaxed).to_string());
        async move { Arc::new(SledStore::open(dir).unwrap()) as Arc<dyn Store> }
    })
    .await;
    std::fs::remove_dir_all(&root).unwrap();
}
