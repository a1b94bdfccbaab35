//! Running the binary as a user does, in scratch directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    /// Exit 0, or a failure showing what the command said.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exit `code` with one clear line on stderr, never a panic.
    pub fn fails(self, code: i32, says: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(says),
            "{says:?} not in:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// A scratch directory holding a store, removed afterwards.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let prefix = format!("lifecycle-cli-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }

    pub fn store(&self) -> PathBuf {
        self.dir().join("store")
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `lifecycle --data-dir <store> args...`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, None)
    }

    pub fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Run {
        run_in(&self.store(), args, input)
    }

    /// An initialized store with gpt-4-turbo 1.0.0 (active) and 2.0.0 (inactive).
    pub fn with_models(name: &str) -> Self {
        let scratch = Self::new(name);
        scratch.run(&["init"]).ok();
        for v in ["1.0.0", "2.0.0"] {
            scratch
                .run(&[
                    "register",
                    "--model",
                    "gpt-4-turbo",
                    "--version",
                    v,
                    "--input-price",
                    "0.01",
                    "--output-price",
                    "0.03",
                ])
                .ok();
        }
        scratch.run(&["activate", "gpt-4-turbo", "1.0.0"]).ok();
        scratch
    }
}

pub fn run_in(store: &Path, args: &[&str], input: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("--data-dir")
        .arg(store)
        .args(args)
        .env_remove("LIFECYCLE_DATA")
        .env_remove("LIFECYCLE_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// NDJSON of `n` results for a version: one in `fail_every` failed.
pub fn results(version: &str, n: usize, fail_every: usize, latency: f64) -> String {
    (0..n)
        .map(|i| {
            let ok = fail_every == 0 || i % fail_every != 0;
            format!(
                "{{\"modelId\":\"gpt-4-turbo\",\"version\":\"{version}\",\"success\":{ok},\"latencyMs\":{},\"confidence\":0.9,\"inputTokens\":900,\"outputTokens\":120{}}}\n",
                latency + (i % 50) as f64,
                if ok { "" } else { ",\"errorKind\":\"timeout\"" }
            )
        })
        .collect()
}
