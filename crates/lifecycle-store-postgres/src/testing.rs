//! A fresh database per test, on the server `LIFECYCLE_TEST_DATABASE_URL`
//! names (`cargo xtask ci` starts a throwaway cluster and sets it). Behind
//! the `testing` feature, for this crate's tests and those of crates that
//! run on PostgreSQL too.

// Test support: a test that cannot get its database cannot go on.
#![allow(clippy::panic)]

use std::sync::Once;

use sqlx::{Connection, PgConnection};

/// The variable naming a server the tests may create databases on.
pub const URL_VAR: &str = "LIFECYCLE_TEST_DATABASE_URL";

/// The server's URL, when one is configured.
pub fn server_url() -> Option<String> {
    std::env::var(URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Whether PostgreSQL tests can run. Without a server they are skipped,
/// said once in one loud line — except under `CI=true`, where a missing
/// server fails the run.
///
/// # Panics
/// Under `CI=true` without a server.
pub fn available() -> bool {
    if server_url().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |ci| ci != "true"),
        "CI=true but {URL_VAR} is not set: run the tests through `cargo xtask ci`, \
         which starts a throwaway PostgreSQL cluster"
    );
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        // Past the test harness's capture (which takes only `eprintln!`), so
        // the line shows even though every test passes.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPING the PostgreSQL tests: {URL_VAR} is not set. `cargo xtask ci` starts a \
             throwaway cluster itself (it needs Debian's postgresql-15: apt install postgresql-15), \
             or point {URL_VAR} at a server where the tests may create databases."
        );
    });
    false
}

/// How many rounds a fault test runs: `LIFECYCLE_PG_FAULT_ROUNDS`
/// (`cargo xtask stress` sets many), else one.
pub fn fault_rounds() -> u32 {
    std::env::var("LIFECYCLE_PG_FAULT_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The name of the database of test `name` in this process.
pub fn database_name(name: &str) -> String {
    let hash = crate::rows::stable_hash(name.as_bytes());
    format!("lifecycle_test_{}_{hash:016x}", std::process::id())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |scheme| scheme + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Creates the empty database of test `name` (dropping a leftover of the
/// same name) and returns its URL.
///
/// # Panics
/// When there is no server or it refuses: a test cannot go on.
pub async fn fresh_database(name: &str) -> String {
    let server = server_url().unwrap_or_else(|| panic!("{URL_VAR} is not set"));
    let database = database_name(name);
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"));
    for statement in [
        format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        format!("CREATE DATABASE {database}"),
    ] {
        sqlx::query(&statement)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let _ = admin.close().await;
    with_database(&server, &database)
}

/// Drops the database of test `name`, from any context (a test's cleanup
/// is not async): on a thread of its own with its own runtime.
pub fn drop_database(name: &str) {
    let Some(server) = server_url() else {
        return;
    };
    let database = database_name(name);
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let mut admin = PgConnection::connect(&server).await.ok()?;
            let statement = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            sqlx::query(&statement).execute(&mut admin).await.ok()?;
            admin.close().await.ok()
        })
    })
    .join();
    if !matches!(dropped, Ok(Some(()))) {
        eprintln!("could not drop the test database of {name}: left for the cluster's teardown");
    }
}

/// The command that restarts the test server as a crash would
/// (`pg_ctl restart -m immediate`), when the server is the throwaway
/// cluster `cargo xtask ci` started: it sets `LIFECYCLE_TEST_PG_CTL`
/// (pg_ctl's path), `LIFECYCLE_TEST_PG_DATA` (the data directory) and
/// `LIFECYCLE_TEST_PG_USER` (whom to run it as, when not this user).
pub fn restart_command() -> Option<std::process::Command> {
    let pg_ctl = std::env::var("LIFECYCLE_TEST_PG_CTL").ok()?;
    let data = std::env::var("LIFECYCLE_TEST_PG_DATA").ok()?;
    let mut command = match std::env::var("LIFECYCLE_TEST_PG_USER") {
        Ok(user) => {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", &user, "--", &pg_ctl]);
            c
        }
        Err(_) => std::process::Command::new(&pg_ctl),
    };
    command
        .args(["-D", &data, "-m", "immediate", "-w", "restart"])
        .stdout(std::process::Stdio::null());
    Some(command)
}
