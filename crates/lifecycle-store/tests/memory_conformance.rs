//! `MemoryStore` against the port's conformance suite: one test per case.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle_store::{MemoryStore, Store};

lifecycle_store::conformance_tests!(|_case| async {
    Arc::new(MemoryStore::new()) as Arc<dyn Store>
});

/// Two managers over one `Arc<MemoryStore>`: two handles, one backend.
mod two_handles {
    use super::*;

    lifecycle_store::conformance_pair_tests!(|_case| async {
        let store = Arc::new(MemoryStore::new()) as Arc<dyn Store>;
        (store.clone(), store)
    });
}
