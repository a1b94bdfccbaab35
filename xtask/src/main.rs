//! `cargo xtask`: the project's automation, runnable on any machine with cargo.
//!
//! - `cargo xtask ci`: exactly what CI runs (format check, clippy with
//!   warnings denied, every test and doc test).
//! - `cargo xtask bench`: every criterion benchmark of the workspace.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

#[cfg(test)]
mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: cargo xtask <ci|bench>
  ci     format check, clippy (warnings denied), all tests and doc tests
  bench  run every criterion benchmark in the workspace";

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
        ],
        Some("bench") if !has_benches() => {
            println!(
                "No criterion benches in the workspace yet (crates/*/benches/): nothing to run."
            );
            return ExitCode::SUCCESS;
        }
        Some("bench") => &[&["bench", "--workspace", "--bench", "*", "--locked"]],
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut tally = Tally::default();
    for step in steps {
        match cargo(step) {
            Ok(counted) => tally.add(counted),
            Err(message) => {
                eprintln!("xtask: {message}");
                return ExitCode::FAILURE;
            }
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

/// Runs `cargo <args>` at the workspace root, echoing its output and counting
/// the tests it reports; fails on a non-zero exit.
fn cargo(args: &[&str]) -> Result<Tally, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let mut tally = Tally::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            tally.add(Tally::of_line(&line));
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for {cargo}: {e}"))?;
    if status.success() {
        Ok(tally)
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
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
