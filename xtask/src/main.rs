//! `cargo xtask`: the project's automation, runnable on any machine with cargo.
//!
//! - `cargo xtask ci`: exactly what CI runs (format check, clippy with
//!   warnings denied, every test and doc test).
//! - `cargo xtask bench`: every criterion benchmark of the workspace.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

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
    for step in steps {
        if let Err(message) = cargo(step) {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs `cargo <args>` at the workspace root, failing on a non-zero exit.
fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
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
