//! The README's tour, run as a new user runs it: every `$ lifecycle ...`
//! line of the block under "A five-minute tour" is run in a fresh
//! directory, and what it prints (stdout, then stderr) must be what the
//! README shows, times, dates and sizes on disk masked. So the README
//! cannot go stale: change the output, and this test names the line.

use std::path::Path;
use std::process::Command;

use crate::support::Scratch;

/// The tour: each command with the lines the README shows after it.
fn tour(readme: &str) -> Vec<(String, Vec<String>)> {
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("## A five-minute tour"))
        .skip_while(|l| *l != "```text")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(!block.is_empty(), "no tour block in the README");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in block {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command.to_string(), Vec::new())),
            None => steps
                .last_mut()
                .expect("the block starts with a command")
                .1
                .push(line.to_string()),
        }
    }
    steps
}

/// Splits a command line as a shell would for these commands: words, and
/// double-quoted strings.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Runs one tour line in `dir`: `lifecycle ARGS`, optionally followed by
/// `; echo "exit $?"`.
fn run(dir: &Path, command: &str) -> Vec<String> {
    let (command, echo_exit) = match command.strip_suffix("; echo \"exit $?\"") {
        Some(command) => (command, true),
        None => (command, false),
    };
    let args = words(command);
    assert_eq!(args[0], "lifecycle", "{command}: tour lines run lifecycle");
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(&args[1..])
        .current_dir(dir)
        .env_remove("LIFECYCLE_DATA")
        .env_remove("LIFECYCLE_CONFIG")
        .env_remove("LIFECYCLE_ACTOR")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .map(str::to_string)
        .collect();
    let code = output.status.code().unwrap_or(-1);
    if echo_exit {
        lines.push(format!("exit {code}"));
    } else {
        assert_eq!(code, 0, "{command}:\n{}", lines.join("\n"));
    }
    lines
}

/// The line with what differs from run to run masked: times
/// (`2026-12-02T02:18:29Z`), dates, and the store's size on disk.
fn masked(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let digits =
        |at: usize, n: usize| (at..at + n).all(|j| chars.get(j).is_some_and(char::is_ascii_digit));
    while i < chars.len() {
        let is_date = digits(i, 4)
            && chars.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && chars.get(i + 7) == Some(&'-')
            && digits(i + 8, 2);
        if is_date {
            let mut end = i + 10;
            if chars.get(end) == Some(&'T') {
                end += 1;
                while end < chars.len()
                    && (chars[end].is_ascii_digit() || ":.".contains(chars[end]))
                {
                    end += 1;
                }
                if chars.get(end) == Some(&'Z') {
                    end += 1;
                }
            }
            out.push_str(&"#".repeat(end - i));
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    match out.find(" KiB on disk") {
        Some(at) => {
            let start = out[..at].rfind(' ').map_or(0, |s| s + 1);
            format!(
                "{}# KiB on disk{}",
                &out[..start],
                &out[at + " KiB on disk".len()..]
            )
        }
        None => out,
    }
}

#[test]
fn the_readme_tour_prints_what_the_readme_shows() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let scratch = Scratch::new("tour");
    let examples = scratch.dir().join("docs/examples");
    std::fs::create_dir_all(&examples).unwrap();
    std::fs::copy(
        format!("{root}/docs/examples/results.ndjson"),
        examples.join("results.ndjson"),
    )
    .unwrap();
    let steps = tour(&readme);
    assert!(steps.len() >= 10, "{} steps", steps.len());
    let mut transcript = String::new();
    let mut differences = Vec::new();
    for (command, shown) in &steps {
        let printed = run(scratch.dir(), command);
        transcript.push_str(&format!("$ {command}\n"));
        for line in &printed {
            transcript.push_str(line);
            transcript.push('\n');
        }
        let shown: Vec<String> = shown.iter().map(|l| masked(l)).collect();
        let printed: Vec<String> = printed.iter().map(|l| masked(l)).collect();
        if shown != printed {
            differences.push(command.clone());
        }
    }
    assert!(
        differences.is_empty(),
        "the README shows other output for {differences:?}; this run printed:\n{transcript}"
    );
}

#[test]
fn masking_hides_only_what_differs_between_runs() {
    assert_eq!(
        masked("1    2026-12-02T02:18:29Z  modelRegistered"),
        "1    ####################  modelRegistered"
    );
    assert_eq!(
        masked("at 2026-11-30T10:00:00.500Z."),
        "at ########################."
    );
    assert_eq!(masked("end of life 2027-03-01"), "end of life ##########");
    assert_eq!(
        masked("store:     sled, 511 KiB on disk"),
        "store:     sled, # KiB on disk"
    );
    assert_eq!(masked("latency p50 698 ms"), "latency p50 698 ms");
    assert_eq!(
        words(r#"lifecycle rollback m 1.0.0 --reason "p95 up""#).len(),
        6
    );
}
