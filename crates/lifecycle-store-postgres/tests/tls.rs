//! TLS to the server. The cluster `cargo xtask ci` starts has TLS on, a
//! certificate signed by a test authority (`LIFECYCLE_TEST_PG_TLS_ROOT`),
//! and a role admitted over TLS only: a store reaches it with
//! `sslmode=verify-full`, is refused without TLS, and refuses a server whose
//! certificate its root did not sign.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::ModelId;
use lifecycle_store::conformance::load;
use lifecycle_store::Store;
use lifecycle_store_postgres::testing::{available, drop_database, fresh_database};
use lifecycle_store_postgres::PostgresStore;

/// The role the test cluster admits over TLS only (xtask's `TLS_ROLE`).
const TLS_ROLE: &str = "lifecycle_tls";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_reaches_the_server_over_verified_tls_only() {
    if !available() {
        return;
    }
    let Ok(root) = std::env::var("LIFECYCLE_TEST_PG_TLS_ROOT") else {
        eprintln!("TLS test skipped: the server is not one cargo xtask ci started with TLS");
        return;
    };
    let name = "tls";
    let url = fresh_database(name).await;
    let as_tls_role = url.replacen("://postgres@", &format!("://{TLS_ROLE}@"), 1);
    assert_ne!(
        as_tls_role, url,
        "the test server's URL names the user postgres"
    );

    let verified = format!("{as_tls_role}?sslmode=verify-full&sslrootcert={root}");
    let store = PostgresStore::connect(&verified).await.unwrap();
    let model = ModelId::new("over-tls").unwrap();
    load::two_versions(&store, &model, DateTime::<Utc>::UNIX_EPOCH).await;
    let state = store.model(&model).await.unwrap();
    assert_eq!(state.versions.len(), 2, "committed and read back over TLS");
    drop(store);

    let plain = format!("{as_tls_role}?sslmode=disable");
    let refused = PostgresStore::connect(&plain).await.unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("pg_hba.conf") && message.contains("no encryption"),
        "the server refuses the role without TLS: {message}"
    );
    assert!(!message.contains("sslrootcert"), "{message}");

    // The server's own certificate is no authority: verification fails.
    let server_certificate = std::path::Path::new(&root).with_file_name("server.crt");
    let unverifiable = format!(
        "{as_tls_role}?sslmode=verify-full&sslrootcert={}",
        server_certificate.display()
    );
    let refused = PostgresStore::connect(&unverifiable).await.unwrap_err();
    assert!(
        refused.to_string().contains("cannot connect"),
        "a certificate its root did not sign is refused: {refused}"
    );
    // A root certificate that is not there is named.
    let missing = format!("{as_tls_role}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt");
    let refused = PostgresStore::connect(&missing).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("sslrootcert /nonexistent/ca.crt cannot be read"),
        "{refused}"
    );
    drop_database(name);
}
