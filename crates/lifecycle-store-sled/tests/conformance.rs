//! `SledStore` against the port's conformance suite: one test per case,
//! each in a temporary directory of its own, removed when the case is over.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use lifecycle_store::Store;
use lifecycle_store_sled::SledStore;

fn dir(case: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "lifecycle-sled-conformance-{}-{}",
        std::process::id(),
        case.replace("::", "-")
    ))
}

lifecycle_store::conformance_tests!(
    |case| async move {
        let dir = dir(case);
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(SledStore::open(dir).unwrap()) as Arc<dyn Store>
    },
    |case| {
        let _ = std::fs::remove_dir_all(dir(case));
    }
);
