//! Crash test: a child process commits activations across many models and is
//! killed with SIGKILL at a random moment, round after round on the same
//! store. After each kill the store must reopen with every acknowledged
//! commit present, at most one active version per model, and an audit chain
//! that verifies end to end without gaps.
//!
//! The test binary is its own child: run with `LIFECYCLE_CRASH_CHILD` set, the
//! same test commits until killed. `LIFECYCLE_CRASH_ROUNDS` (default 20) and
//! `LIFECYCLE_CRASH_SEED` (default: from the clock, printed) tune a run.
// Test code: a failed expectation panics, helpers included.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, verify_chain, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities,
    ModelCostInfo, ModelId, ModelStatus, ModelVersion, Version,
};
use lifecycle_store::{AuditQuery, Commit, Store, StoreError};
use lifecycle_store_sled::SledStore;

const CHILD_ENV: &str = "LIFECYCLE_CRASH_CHILD";
const TEST_NAME: &str = "acknowledged_commits_survive_sigkill";
const TASKS: usize = 4;
const MODELS_PER_TASK: usize = 10;
const VERSIONS: [&str; 3] = ["1.0.0", "2.0.0", "3.0.0"];

#[test]
fn acknowledged_commits_survive_sigkill() {
    match std::env::var(CHILD_ENV) {
        Ok(dir) => child(Path::new(&dir)),
        Err(_) => parent(),
    }
}

// ---- the child: commits until killed, printing one ACK line per commit ----

fn child(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(SledStore::open(dir).unwrap());
        println!("OPEN");
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for step in 0.. {
                        let model = format!("model-{}", task + TASKS * (step % MODELS_PER_TASK));
                        let ack = advance(&*store, &model).await;
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "{ack}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

fn event(kind: AuditEventKind, model: &ModelId, version: &str) -> AuditEvent {
    AuditEvent::new(
        kind,
        Actor::new("crash-child").unwrap(),
        format!("{kind} {version}"),
        now(),
    )
    .for_version(model.clone(), Version::parse(version).unwrap())
}

/// Registers the model's versions, or activates its next version; returns the ACK line.
async fn advance(store: &dyn Store, model: &str) -> String {
    let id = ModelId::new(model).unwrap();
    loop {
        let state = store.model(&id).await.unwrap();
        let mut commit = Commit::for_model(id.clone(), state.revision);
        let active_after;
        if state.versions.is_empty() {
            for v in VERSIONS {
                let record = ModelVersion::new(
                    id.clone(),
                    Version::parse(v).unwrap(),
                    "openai",
                    ModelCapabilities::new(8_192, 1_024),
                    ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                    now(),
                );
                commit = commit
                    .put(record)
                    .audit(event(AuditEventKind::ModelRegistered, &id, v));
            }
            active_after = "-".to_string();
        } else {
            let current = state
                .versions
                .iter()
                .position(|v| v.status() == ModelStatus::Active);
            let next = current.map_or(0, |i| (i + 1) % VERSIONS.len());
            if let Some(i) = current {
                let mut old = state.versions[i].clone();
                old.deactivate(now()).unwrap();
                commit = commit.put(old);
            }
            let mut target = state.versions[next].clone();
            target.activate(now()).unwrap();
            active_after = target.version.to_string();
            commit =
                commit
                    .put(target)
                    .audit(event(AuditEventKind::ModelActivated, &id, &active_after));
        }
        match store.commit(commit).await {
            Ok(receipt) => {
                let first = receipt.entries.first().unwrap().sequence;
                let last = receipt.entries.last().unwrap().sequence;
                let revision = receipt.revision.unwrap();
                return format!("ACK {model} {revision} {active_after} {first} {last}");
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
}

// ---- the parent: kills the child at random moments and checks the store ----

/// One acknowledged commit, as the child reported it.
#[derive(Debug)]
struct Ack {
    model: ModelId,
    revision: u64,
    active: Option<Version>,
    sequences: std::ops::RangeInclusive<u64>,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let model = ModelId::new(parts.next()?).ok()?;
    let revision = parts.next()?.parse().ok()?;
    let active = match parts.next()? {
        "-" => None,
        v => Some(Version::parse(v).ok()?),
    };
    let first = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    Some(Ack {
        model,
        revision,
        active,
        sequences: first..=last,
    })
}

/// A small xorshift generator: random kill moments, reproducible by seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn parent() {
    let rounds: usize = std::env::var("LIFECYCLE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("LIFECYCLE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) | 1
        });
    println!("crash test: {rounds} rounds, LIFECYCLE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut acknowledged = 0;
    for round in 1..=rounds {
        let acks =
            run_child_until_killed(&dir, Duration::from_millis(5 + rng.below(250)), round == 1);
        acknowledged += acks.len();
        check_store(&dir, &acks, round, seed);
    }
    println!("crash test: {rounds} rounds, {acknowledged} acknowledged commits, all present");
    assert!(
        acknowledged > rounds,
        "the child acknowledged too little to test anything"
    );
}

/// Starts the child, lets it commit for `run_for` after it opened the store,
/// kills it with SIGKILL, and returns the commits it acknowledged.
fn run_child_until_killed(dir: &PathBuf, run_for: Duration, check_in_use: bool) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    loop {
        match received.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.ends_with("OPEN") => break,
            Ok(_) => {}
            Err(e) => panic!("the child did not open the store: {e}"),
        }
    }
    if check_in_use {
        match SledStore::open(dir) {
            Err(StoreError::InUse { .. }) => {}
            other => panic!("a second process opened a store in use: {other:?}"),
        }
    }
    std::thread::sleep(run_for);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    acks.extend(received.try_iter().filter_map(|line| parse_ack(&line)));
    acks
}

/// Reopens the store and checks every promise the child was given.
fn check_store(dir: &Path, acks: &[Ack], round: usize, seed: u64) {
    let context = format!("round {round} (LIFECYCLE_CRASH_SEED={seed})");
    let store = SledStore::open(dir).unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for ack in acks {
            let state = store.model(&ack.model).await.unwrap();
            assert!(
                state.revision >= ack.revision,
                "{context}: {} is at revision {} but {} was acknowledged",
                ack.model,
                state.revision,
                ack.revision
            );
            if state.revision == ack.revision {
                let active = state.active().map(|v| v.version.clone());
                assert_eq!(active, ack.active, "{context}: {}", ack.model);
            }
            for seq in ack.sequences.clone() {
                let entry = store
                    .audit(&AuditQuery::all().sequences(seq..=seq))
                    .await
                    .unwrap();
                assert_eq!(
                    entry.first().and_then(|e| e.event.model_id.clone()),
                    Some(ack.model.clone()),
                    "{context}: acknowledged audit entry {seq} missing"
                );
            }
        }
        for model in store.models().await.unwrap() {
            let state = store.model(&model).await.unwrap();
            let active = state
                .versions
                .iter()
                .filter(|v| v.status() == ModelStatus::Active)
                .count();
            assert!(
                active <= 1,
                "{context}: {model} has {active} active versions"
            );
        }
        let all = store.audit(&AuditQuery::all()).await.unwrap();
        let head = verify_chain(&all, None).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_eq!(store.audit_head().await.unwrap(), head, "{context}: head");
    });
}
