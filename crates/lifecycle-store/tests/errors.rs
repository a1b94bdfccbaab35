//! The port's errors name no backend: a store's location is text (a
//! directory, a database), and a backend failure keeps its own error.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error;

use lifecycle_store::StoreError;

#[test]
fn a_backend_failure_keeps_its_cause_and_may_be_retried() {
    let cause = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
    let error = StoreError::backend_from("cannot read model gpt-4", cause);
    assert_eq!(error.to_string(), "storage failed: cannot read model gpt-4");
    let source = error.source().expect("the cause is kept");
    assert_eq!(source.to_string(), "connection reset");
    assert!(error.is_retryable());
    let told = StoreError::backend("the flush task failed");
    assert!(told.source().is_none());
    assert!(told.is_retryable());
}

#[test]
fn a_store_is_named_by_its_location_whatever_the_backend() {
    let on_disk = StoreError::InUse {
        location: "/var/lib/lifecycle".into(),
    };
    assert!(on_disk
        .to_string()
        .starts_with("store at /var/lib/lifecycle is in use"));
    let database = StoreError::Unusable {
        location: "postgres://db.internal:5432/lifecycle".into(),
        reason: "the server refused the connection".into(),
    };
    assert_eq!(
        database.to_string(),
        "cannot use postgres://db.internal:5432/lifecycle: the server refused the connection"
    );
    assert!(!database.is_retryable());
}
