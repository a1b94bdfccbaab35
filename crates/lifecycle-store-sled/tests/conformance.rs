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

/// sled opens a directory once per process (its one-process rule): the two
/// handles of the pair cases are one `Arc<SledStore>` held twice, as two
/// managers in one process share it.
mod two_handles {
    use super::*;

    lifecycle_store::conformance_pair_tests!(
        |case| async move {
            let dir = dir(&format!("pair-{case}"));
            let _ = std::fs::remove_dir_all(&dir);
            let store = Arc::new(SledStore::open(dir).unwrap()) as Arc<dyn Store>;
            (store.clone(), store)
        },
        |case| {
            let _ = std::fs::remove_dir_all(dir(&format!("pair-{case}")));
        }
    );
}
