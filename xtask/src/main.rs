//! `cargo xtask`: the project's automation, runnable on any machine with cargo.
//!
//! - `cargo xtask ci`: exactly what CI runs (format check, clippy with
//!   warnings denied, every test and doc test — the PostgreSQL ones on a
//!   throwaway cluster it starts, see `postgres.rs` — the rustdoc build with
//!   warnings denied, and a 15-second smoke run of every fuzz target).
//! - `cargo xtask bench`: every criterion benchmark of the workspace, and
//!   `docs/benchmarks.md` written from the results.
//! - `cargo xtask stress [--rounds N]`: the sled crash test (N SIGKILL
//!   rounds, default 300), the concurrency stress test, sized large, and
//!   20 rounds of each PostgreSQL fault (restart under load, process killed).
//! - `cargo xtask fuzz [--seconds N]`: every cargo-fuzz target for N seconds
//!   (default 60), on the stable toolchain (`RUSTC_BOOTSTRAP=1`), installing
//!   cargo-fuzz first when it is missing.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

mod postgres;
mod report;
#[cfg(test)]
mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: cargo xtask <ci|bench|stress [--rounds N]>
  ci      format check, clippy (warnings denied), all tests and doc tests, the
          rustdoc build (warnings denied),
          a 15 s smoke run of every fuzz target (LIFECYCLE_FUZZ_SMOKE_SECS)
  bench   run every criterion benchmark in the workspace and write
          docs/benchmarks.md (figures, targets, machine); --report-only
          rewrites it from the last run's results
  stress  the sled crash test for N rounds (default 300, a few minutes), the
          concurrency stress test at 25 times its CI size, and 20 rounds of each
          PostgreSQL fault (restart under load, process killed), in release mode
  fuzz    every fuzz target for N seconds each (default 60), on this stable
          toolchain; installs cargo-fuzz if missing (see fuzz/README.md)";

/// Rounds of each PostgreSQL fault test (a restart under load, a process
/// killed mid-commit) in `cargo xtask stress`.
const PG_FAULT_ROUNDS: &str = "20";

/// Crash rounds of `cargo xtask stress` unless `--rounds` says otherwise.
const STRESS_ROUNDS: &str = "300";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps: &[&[&str]] = match args.first().map(String::as_str) {
        Some("ci") => &[
            &["fmt", "--all", "--check"],
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &["test", "--workspace", "--locked"],
            // Rustdoc of every library, its warnings (broken links...) denied.
            &[
                "doc",
                "--workspace",
                "--no-deps",
                "--lib",
                "--locked",
                "--config",
                "build.rustdocflags=[\"-D\", \"warnings\"]",
            ],
        ],
        Some("bench") if !has_benches() => {
            println!(
                "No criterion benches in the workspace yet (crates/*/benches/): nothing to run."
            );
            return ExitCode::SUCCESS;
        }
        Some("bench") => return bench(args.get(1).is_some_and(|a| a == "--report-only")),
        Some("fuzz") => {
            let seconds = match args.get(1..) {
                Some([flag, n]) if flag == "--seconds" && n.parse::<u64>().is_ok() => n.clone(),
                Some([]) | None => "60".to_string(),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            };
            return fuzz(&seconds);
        }
        Some("stress") => {
            let rounds = match args.get(1..) {
                Some([flag, n]) if flag == "--rounds" && n.parse::<u64>().is_ok() => n.clone(),
                Some([]) | None => STRESS_ROUNDS.to_string(),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            };
            // Read by the crash and stress tests themselves.
            std::env::set_var("LIFECYCLE_CRASH_ROUNDS", &rounds);
            std::env::set_var("LIFECYCLE_STRESS_ROUNDS", "1000");
            std::env::set_var("LIFECYCLE_PG_FAULT_ROUNDS", PG_FAULT_ROUNDS);
            &[
                &[
                    "test",
                    "--release",
                    "--locked",
                    "-p",
                    "lifecycle-store-sled",
                    "--test",
                    "crash",
                ],
                &[
                    "test",
                    "--release",
                    "--locked",
                    "-p",
                    "lifecycle-tests",
                    "--test",
                    "stress",
                ],
                &[
                    "test",
                    "--release",
                    "--locked",
                    "-p",
                    "lifecycle-store-postgres",
                    "--test",
                    "restart",
                ],
                &[
                    "test",
                    "--release",
                    "--locked",
                    "-p",
                    "lifecycle-tests",
                    "--test",
                    "replicas",
                    "killed",
                ],
            ]
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The PostgreSQL tests' server, for as long as the steps run.
    let needs_postgres = matches!(args.first().map(String::as_str), Some("ci" | "stress"));
    let _cluster = match needs_postgres.then(postgres::provide).transpose() {
        Ok(cluster) => cluster.flatten(),
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut tally = Tally::default();
    for step in steps {
        match cargo(step) {
            Ok((counted, _)) => tally.add(counted),
            Err(message) => {
                eprintln!("xtask: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    if args.first().is_some_and(|a| a == "ci") {
        // A bounded smoke run of every fuzz target (the long runs are
        // `cargo xtask fuzz`): keeps them building and finds shallow crashes.
        let seconds = std::env::var("LIFECYCLE_FUZZ_SMOKE_SECS").unwrap_or_else(|_| "15".into());
        if fuzz(&seconds) != ExitCode::SUCCESS {
            return ExitCode::FAILURE;
        }
    }
    if tally.passed + tally.failed > 0 {
        // One closing line for the whole run: cargo's own last line is that
        // of whichever crate ran last, often one without tests.
        println!("xtask: {} passed, {} failed", tally.passed, tally.failed);
    }
    ExitCode::SUCCESS
}

/// Tests counted from cargo's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Reads `test result: ok. 28 passed; 0 failed; ...`; other lines count nothing.
    fn of_line(line: &str) -> Tally {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return Tally::default();
        };
        let count = |label: &str| {
            rest.split(';')
                .filter_map(|part| part.trim().strip_suffix(label))
                .filter_map(|n| n.rsplit(' ').next()?.parse::<u64>().ok())
                .sum()
        };
        Tally {
            passed: count(" passed"),
            failed: count(" failed"),
        }
    }
}

/// Runs every criterion bench, then writes `docs/benchmarks.md` from the
/// estimates and the lines the benches print.
fn bench(report_only: bool) -> ExitCode {
    let root = workspace_root();
    let criterion = root.join("target/criterion");
    // What the benches print that the report quotes, kept for --report-only.
    let printed_file = criterion.join("printed.txt");
    let printed = if report_only {
        std::fs::read_to_string(&printed_file)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    } else {
        // Old results of benches that no longer exist must not reach the report.
        let _ = std::fs::remove_dir_all(&criterion);
        // The PostgreSQL store's benches run on a throwaway cluster, beside
        // pgbench on the same server.
        let cluster = match postgres::provide() {
            Ok(cluster) => cluster,
            Err(message) => {
                eprintln!("xtask: {message}");
                return ExitCode::FAILURE;
            }
        };
        // Where criterion writes: it asks `cargo metadata` otherwise, and
        // falls back to each crate's own directory when that fails.
        std::env::set_var("CARGO_TARGET_DIR", root.join("target"));
        let lines = match cargo(&["bench", "--workspace", "--bench", "*", "--locked"]) {
            Ok((_, lines)) => lines,
            Err(message) => {
                eprintln!("xtask: {message}");
                return ExitCode::FAILURE;
            }
        };
        let noted = [
            "memory per tracked version",
            "on disk:",
            "export of",
            "backup of",
            "compare of",
            "propagation of",
            "cpu per commit",
        ];
        let mut printed: Vec<String> = lines
            .into_iter()
            .filter(|line| noted.iter().any(|n| line.starts_with(n)))
            .collect();
        if let Some(cluster) = &cluster {
            match (cluster.pgbench(1), cluster.pgbench(16)) {
                (Ok(one), Ok(sixteen)) => printed.push(format!(
                    "pgbench -N on the same server: {one:.0} tps with 1 client, {sixteen:.0} tps with 16 \
                     ({:.1}x): the server's own rate and how far it shares flushes",
                    sixteen / one
                )),
                (Err(e), _) | (_, Err(e)) => eprintln!("xtask: pgbench: {e}"),
            }
        }
        let _ = std::fs::write(&printed_file, printed.join("\n"));
        printed
    };
    let figures = report::read_figures(&criterion);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let text = report::render(&figures, &printed, &report::machine(), &date);
    let path = root.join("docs/benchmarks.md");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("xtask: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!(
        "xtask: {} figures written to docs/benchmarks.md",
        figures.len()
    );
    ExitCode::SUCCESS
}

/// Runs `cargo <args>` at the workspace root, echoing its output, counting
/// the tests it reports and keeping its lines; fails on a non-zero exit.
fn cargo(args: &[&str]) -> Result<(Tally, Vec<String>), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let mut tally = Tally::default();
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            tally.add(Tally::of_line(&line));
            lines.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for {cargo}: {e}"))?;
    if status.success() {
        Ok((tally, lines))
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Runs every target in `fuzz/fuzz_targets/` for `seconds` with cargo-fuzz.
fn fuzz(seconds: &str) -> ExitCode {
    let root = workspace_root();
    // cargo-fuzz passes nightly flags (-Zsanitizer); the stable compiler
    // accepts them with RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed.
    std::env::set_var("RUSTC_BOOTSTRAP", "1");
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        println!("$ cargo install cargo-fuzz --locked");
        let install = Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .status();
        if !install.is_ok_and(|s| s.success()) {
            eprintln!("xtask: cannot install cargo-fuzz from crates.io");
            return ExitCode::FAILURE;
        }
    }
    let mut targets: Vec<String> = std::fs::read_dir(root.join("fuzz/fuzz_targets"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.path().file_stem()?.to_str().map(String::from))
        .collect();
    targets.sort();
    let mut summary = Vec::new();
    for target in &targets {
        // The corpus grows under target/ (not committed); seeds come from fuzz/seeds/.
        let corpus = root.join("target/fuzz-corpus").join(target);
        let seeds = root.join("fuzz/seeds").join(target);
        if std::fs::create_dir_all(&corpus).is_err() {
            eprintln!("xtask: cannot create {}", corpus.display());
            return ExitCode::FAILURE;
        }
        let mut args = vec![
            "fuzz".to_string(),
            "run".into(),
            "--release".into(),
            target.clone(),
            corpus.display().to_string(),
        ];
        if seeds.is_dir() {
            args.push(seeds.display().to_string());
        }
        args.extend([
            "--".into(),
            format!("-max_total_time={seconds}"),
            "-print_final_stats=1".into(),
        ]);
        println!("$ cargo {}", args.join(" "));
        let run = Command::new("cargo")
            .args(&args)
            .current_dir(&root)
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = run else {
            eprintln!("xtask: cannot run cargo fuzz");
            return ExitCode::FAILURE;
        };
        let mut last = (String::new(), String::new());
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" DONE ") || line.contains("#") && line.contains("cov:") {
                    last.0 = line.clone();
                }
                if line.starts_with("stat::number_of_executed_units") {
                    last.1 = line.clone();
                }
                eprintln!("{line}");
            }
        }
        if !child.wait().is_ok_and(|s| s.success()) {
            let artifacts = root.join("fuzz/artifacts").join(target);
            if artifacts.read_dir().is_ok_and(|mut d| d.next().is_some()) {
                eprintln!("xtask: fuzz target {target} failed; its crashing input is in fuzz/artifacts/{target}/");
            } else {
                eprintln!("xtask: fuzz target {target} failed before finding a crash (it did not build or start; see above)");
            }
            return ExitCode::FAILURE;
        }
        summary.push(format!("{target}: {} | {}", last.1, last.0));
    }
    println!(
        "xtask: {} fuzz targets ran {seconds} s each without a crash",
        targets.len()
    );
    for line in summary {
        println!("  {line}");
    }
    ExitCode::SUCCESS
}

/// Whether any crate has a `benches/` folder (cargo refuses `--bench '*'` without one).
fn has_benches() -> bool {
    let crates = std::fs::read_dir(workspace_root().join("crates"));
    crates
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| entry.path().join("benches").is_dir())
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn test_result_lines_are_counted() {
        let line = "test result: FAILED. 28 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(
            Tally::of_line(line),
            Tally {
                passed: 28,
                failed: 2
            }
        );
        assert_eq!(Tally::of_line("running 3 tests"), Tally::default());
        assert_eq!(Tally::of_line("test a ... ok"), Tally::default());
    }
}
