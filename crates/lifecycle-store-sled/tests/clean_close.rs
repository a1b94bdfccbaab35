//! A store closed cleanly opens in place; one whose files changed since is
//! checked on a copy in `TMPDIR` first. Its own binary: it changes `TMPDIR`.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;

use lifecycle_store::{Store, StoreError};
use lifecycle_store_sled::SledStore;

#[tokio::test]
async fn only_a_store_changed_since_its_clean_close_is_checked_on_a_copy() {
    let root = std::env::temp_dir().join(format!("lifecycle-clean-close-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dir = root.join("store");
    drop(SledStore::open(&dir).unwrap());

    // With no usable temporary directory a copy cannot be made: opens that
    // succeed did not need one.
    std::env::set_var("TMPDIR", root.join("missing"));
    for _ in 0..3 {
        let store = SledStore::open(&dir).unwrap();
        assert!(store.models().await.unwrap().is_empty());
    }

    // A write from outside (here: the same bytes again) breaks the seal.
    let watermark = dir.join("acknowledged-commits");
    fs::write(&watermark, fs::read(&watermark).unwrap()).unwrap();
    let err = SledStore::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("not closed cleanly"), "{message}");
    assert!(message.contains("missing"), "{message}");
    assert!(message.contains(&dir.display().to_string()), "{message}");

    std::env::set_var("TMPDIR", &root);
    drop(SledStore::open(&dir).unwrap());
    let copies = fs::read_dir(&root).unwrap().count();
    assert_eq!(
        copies, 1,
        "the checked copy is removed; only the store remains"
    );
    std::env::set_var("TMPDIR", root.join("missing"));
    drop(SledStore::open(&dir).unwrap());
    fs::remove_dir_all(&root).unwrap();
}
