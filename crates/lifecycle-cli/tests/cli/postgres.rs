//! The CLI on a PostgreSQL store: `--store` (LIFECYCLE_STORE), `init`
//! creating the schema, `migrate-schema`, several CLIs at once on one
//! database (the one-process rule is sled's only), and bad URLs refused.

use std::process::Command;

use lifecycle_store_postgres::testing::{available, drop_database, fresh_database};

use crate::support::*;

/// A fresh database of its own, for one test.
fn database(name: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(fresh_database(name))
}

/// `lifecycle --store <url> args...`, with nothing from the environment.
fn on(url: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("--store")
        .arg(url)
        .args(args)
        .env_remove("LIFECYCLE_DATA")
        .env_remove("LIFECYCLE_STORE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn the_cli_works_on_postgres_and_many_clis_share_one_database() {
    if !available() {
        return;
    }
    let url = database("cli-postgres");
    let created = on(&url, &["init", "--json"]).ok().json();
    assert_eq!(created["created"], true);
    assert!(
        !created["dataDir"].as_str().unwrap().contains("postgres@"),
        "no user or password in what is printed: {created}"
    );
    let migrated = on(&url, &["migrate-schema"]).ok();
    assert!(
        migrated.stdout.contains("up to date"),
        "{}",
        migrated.stdout
    );
    // Eight CLIs at once, each registering its own version: no store lock.
    let register = |v: usize| {
        let url = url.clone();
        std::thread::spawn(move || {
            on(
                &url,
                &[
                    "register",
                    "--model",
                    "gpt-4o",
                    "--version",
                    &format!("{v}.0.0"),
                    "--input-price",
                    "0.0025",
                    "--output-price",
                    "0.01",
                ],
            )
        })
    };
    let runs: Vec<_> = (1..=8).map(register).collect();
    for run in runs {
        run.join().unwrap().ok();
    }
    on(&url, &["activate", "gpt-4o", "1.0.0"]).ok();
    let listed = on(&url, &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 8, "{listed}");
    let status = on(&url, &["status", "--json"]).ok().json();
    assert_eq!(status["storeKind"], "postgres");
    assert_eq!(status["auditChainVerified"], true);
    let verified = on(&url, &["audit", "verify", "--json"]).ok().json();
    assert_eq!(verified["entriesChecked"], 10, "{verified}");
    // A sled store's backup restores into PostgreSQL, chain and all.
    let scratch = Scratch::with_models("to-postgres");
    let backup = scratch.dir().join("backup.ndjson");
    scratch
        .run(&["backup", "--output", backup.to_str().unwrap()])
        .ok();
    let target = database("cli-postgres-restored");
    on(&target, &["restore", backup.to_str().unwrap()]).ok();
    let moved = on(&target, &["audit", "verify", "--json"]).ok().json();
    assert!(
        moved["broken"].is_null() && moved["stateMismatch"].is_null(),
        "{moved}"
    );
    assert_eq!(moved["entriesChecked"], 4, "{moved}");
    let shown = on(&target, &["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(shown["status"], "active", "{shown}");
    drop_database("cli-postgres");
    drop_database("cli-postgres-restored");
}

#[test]
fn a_bad_store_url_is_refused_naming_what_to_write() {
    on("mysql://db/x", &["list"]).fails(1, "write a PostgreSQL URL");
    let unreachable = on("postgres://u:secret@127.0.0.1:1/x", &["list"]);
    let unreachable = unreachable.fails(1, "cannot connect");
    assert!(
        !unreachable.stderr.contains("secret"),
        "{}",
        unreachable.stderr
    );
    // migrate-schema needs a database.
    let scratch = Scratch::new("migrate-sled");
    scratch.run(&["migrate-schema"]).fails(1, "--store");
}

/// `watch` on PostgreSQL follows what other processes commit: a version
/// another CLI registers and activates after `watch` started is watched,
/// and the failures piped to it then raise its alert.
#[test]
fn watch_follows_a_version_another_cli_activates() {
    use std::io::Write;
    use std::process::Stdio;
    if !available() {
        return;
    }
    let url = database("cli-postgres-watch");
    on(&url, &["init"]).ok();
    on(
        &url,
        &[
            "register",
            "--model",
            "gpt-4-turbo",
            "--version",
            "1.0.0",
            "--input-price",
            "0.01",
            "--output-price",
            "0.03",
        ],
    )
    .ok();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("--store")
        .arg(&url)
        .args(["watch", "--interval-secs", "1", "--stdin", "--json"])
        .env_remove("LIFECYCLE_DATA")
        .env_remove("LIFECYCLE_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    on(
        &url,
        &[
            "register",
            "--model",
            "gpt-4-turbo",
            "--version",
            "2.0.0",
            "--input-price",
            "0.01",
            "--output-price",
            "0.03",
        ],
    )
    .ok();
    on(&url, &["activate", "gpt-4-turbo", "2.0.0"]).ok();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut stdin = watch.stdin.take().unwrap();
    stdin
        .write_all(results("2.0.0", 120, 2, 300.0).as_bytes())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    drop(stdin);
    let output = watch.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let alerts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a["level"] == "critical" && a["version"] == "2.0.0"),
        "no alert for the version activated meanwhile: {stdout}"
    );
    drop_database("cli-postgres-watch");
}
