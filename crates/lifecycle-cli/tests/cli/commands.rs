//! Every command's success path, the `--json` shapes, each exit code, and
//! the bad-input errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

#[test]
fn every_command_but_init_needs_a_store_and_says_how_to_make_one() {
    let scratch = Scratch::new("missing");
    scratch
        .run(&["status"])
        .fails(1, "no store at")
        .fails(1, "lifecycle init");
    let created = scratch.run(&["init", "--json"]).ok().json();
    assert_eq!(created["created"], true);
    let again = scratch.run(&["init", "--json"]).ok().json();
    assert_eq!(again["created"], false);
    scratch.run(&["status"]).ok();
}

/// Outputs land whole or not at all, devices stay devices, an empty
/// directory is not turned into a store, and a lost stdout is an error.
#[test]
fn files_devices_and_lost_output_are_handled_as_a_user_relies_on() {
    let empty = Scratch::new("empty-dir");
    std::fs::create_dir_all(empty.store()).unwrap();
    for command in [
        &["list"][..],
        &["register", "--model", "m", "--version", "1.0.0"],
    ] {
        empty.run(command).fails(1, "the directory is empty");
    }
    assert_eq!(
        std::fs::read_dir(empty.store()).unwrap().count(),
        0,
        "left empty"
    );

    let scratch = Scratch::with_models("devices");
    for args in [
        &["backup", "-o", "/dev/null"][..],
        &["audit", "export", "-o", "/dev/null"],
    ] {
        scratch.run(args).ok();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
    }
    let target = scratch.dir().join("out.ndjson");
    std::fs::write(&target, "previous contents").unwrap();
    scratch
        .run(&["backup", "-o", target.to_str().unwrap()])
        .ok();
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(
        written.starts_with("{\"format\""),
        "{}",
        &written[..written.len().min(80)]
    );
    let leftovers: Vec<_> = std::fs::read_dir(scratch.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    if Path::new("/dev/full").exists() {
        for args in [&["list"][..], &["status"], &["audit", "verify"]] {
            let full = std::fs::File::create("/dev/full").unwrap();
            let run = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
                .arg("--data-dir")
                .arg(scratch.store())
                .args(args)
                .stdout(full)
                .output()
                .unwrap();
            assert_eq!(run.status.code(), Some(1), "{args:?}");
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(stderr.contains("the disk is full"), "{stderr}");
        }
    }
}

#[test]
fn register_list_show_and_route_with_their_json_shapes() {
    let scratch = Scratch::with_models("models");
    let model = scratch.file(
        "model.json",
        r#"{"modelId": "claude-3-haiku", "version": "1.0.0", "provider": "anthropic",
            "capabilities": {"maxContextTokens": 200000, "maxOutputTokens": 4096, "vision": true},
            "costInfo": {"inputPer1k": 0.00025, "outputPer1k": 0.00125, "currency": "USD"},
            "tags": ["fast"]}"#,
    );
    let registered = scratch
        .run(&["register", "--file", model.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(registered["modelId"], "claude-3-haiku");
    assert_eq!(registered["status"], "inactive");
    assert_eq!(registered["displayName"], "claude-3-haiku 1.0.0");
    assert_eq!(registered["capabilities"]["vision"], true);

    let all = scratch.run(&["list", "--json"]).ok().json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let active = scratch
        .run(&["list", "--status", "active", "--json"])
        .ok()
        .json();
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["version"], "1.0.0");
    let anthropic = scratch.run(&["list", "--provider", "anthropic"]).ok();
    assert!(
        anthropic.stdout.contains("claude-3-haiku"),
        "{}",
        anthropic.stdout
    );
    assert!(
        !anthropic.stdout.contains("gpt-4-turbo"),
        "{}",
        anthropic.stdout
    );
    assert!(
        anthropic.stdout.starts_with("MODEL"),
        "a table: {}",
        anthropic.stdout
    );

    let one = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(one["status"], "active");
    assert_eq!(one["costInfo"]["inputPer1k"], "0.01", "exact, as a string");
    let shown = scratch.run(&["show", "gpt-4-turbo", "1.0.0"]).ok();
    assert!(
        shown.stdout.contains("status:     active"),
        "{}",
        shown.stdout
    );

    scratch
        .run(&["canary", "start", "gpt-4-turbo", "2.0.0", "--weight", "30"])
        .ok();
    let mut lanes = std::collections::BTreeMap::new();
    for i in 0..100 {
        let key = format!("user-{i}");
        let routed = scratch
            .run(&["route", "gpt-4-turbo", &key, "--json"])
            .ok()
            .json();
        assert_eq!(routed["key"], key.as_str());
        *lanes
            .entry(routed["lane"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        let again = scratch
            .run(&["route", "gpt-4-turbo", &key, "--json"])
            .ok()
            .json();
        assert_eq!(again["version"], routed["version"], "sticky");
        if i == 10 {
            break;
        }
    }
    assert!(lanes.contains_key("active"), "{lanes:?}");
}

#[test]
fn every_lifecycle_move_from_the_shell() {
    let scratch = Scratch::with_models("moves");
    let s = |args: &[&str]| scratch.run(args).ok().json();
    assert_eq!(
        s(&["testing", "gpt-4-turbo", "2.0.0", "--json"])["status"],
        "testing"
    );
    let canary = s(&[
        "canary",
        "start",
        "gpt-4-turbo",
        "2.0.0",
        "--weight",
        "5",
        "--json",
    ]);
    assert_eq!(
        (canary["status"].clone(), canary["canaryWeight"].clone()),
        ("canary".into(), 5.into())
    );
    assert_eq!(
        s(&["canary", "weight", "gpt-4-turbo", "50", "--json"])["canaryWeight"],
        50
    );
    assert_eq!(
        s(&["canary", "abort", "gpt-4-turbo", "--json"])["status"],
        "inactive"
    );
    scratch
        .run(&["canary", "start", "gpt-4-turbo", "2.0.0"])
        .ok();
    // A canary without results is not promoted; with good ones it is.
    scratch
        .run(&["canary", "promote", "gpt-4-turbo"])
        .fails(3, "no results yet and 1.0.0 is active");
    let tested = results("2.0.0", 60, 0, 300.0);
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&tested))
        .ok();
    assert_eq!(
        s(&["canary", "promote", "gpt-4-turbo", "--json"])["status"],
        "active"
    );
    let old = s(&["show", "gpt-4-turbo", "1.0.0", "--json"]);
    assert_eq!(old["status"], "deprecated");
    let rolled = s(&[
        "rollback",
        "gpt-4-turbo",
        "1.0.0",
        "--reason",
        "p95 regression",
        "--json",
    ]);
    assert_eq!(rolled["status"], "active");
    let two = s(&["show", "gpt-4-turbo", "2.0.0", "--json"]);
    assert!(two["deprecation"]["reason"]
        .as_str()
        .unwrap()
        .contains("p95 regression"));
    assert_eq!(
        s(&["deactivate", "gpt-4-turbo", "1.0.0", "--json"])["status"],
        "inactive"
    );
    scratch.run(&["activate", "gpt-4-turbo", "1.0.0"]).ok();
    // 2.0.0 is deprecated itself: warnings must never send users there.
    let refused = scratch.run(&[
        "deprecate",
        "gpt-4-turbo",
        "1.0.0",
        "--reason",
        "x",
        "--replacement",
        "2.0.0",
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("deprecated itself"),
        "{}",
        refused.stderr
    );
    scratch
        .run(&["register", "--model", "gpt-4-turbo", "--version", "3.0.0"])
        .ok();
    let deprecated = s(&[
        "deprecate",
        "gpt-4-turbo",
        "1.0.0",
        "--reason",
        "end of contract",
        "--replacement",
        "3.0.0",
        "--grace-days",
        "30",
        "--json",
    ]);
    assert_eq!(deprecated["deprecation"]["gracePeriodDays"], 30);
    assert_eq!(deprecated["deprecation"]["replacementVersion"], "3.0.0");
    let warnings = s(&["warnings", "--json"]);
    assert_eq!(warnings.as_array().unwrap().len(), 2);
    let maintained = s(&["maintain", "--json"]);
    assert_eq!(
        maintained["retired"].as_array().unwrap().len(),
        0,
        "nothing past end of life yet"
    );
    assert_eq!(
        s(&["retire", "gpt-4-turbo", "1.0.0", "--json"])["status"],
        "retired"
    );
    let history = s(&["audit", "history", "gpt-4-turbo", "--json"]);
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "deployedToTesting",
        "canaryAborted",
        "canaryPromoted",
        "modelRolledBack",
        "modelRetired",
    ] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    assert_eq!(history[0]["actor"], "cli");
}

#[test]
fn results_are_recorded_evaluated_and_compared_with_gating_exit_codes() {
    let scratch = Scratch::with_models("monitor");
    scratch
        .run(&["evaluate", "gpt-4-turbo", "1.0.0"])
        .fails(3, "more samples needed");
    let good = scratch.file("good.ndjson", &results("1.0.0", 400, 100, 400.0));
    let recorded = scratch
        .run(&["record", "--file", good.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(recorded["recorded"], 400);
    let report = scratch
        .run(&["evaluate", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(report["status"]["status"], "passed");
    assert_eq!(
        report["samples"], 400,
        "the window survives between commands"
    );

    let piped = results("2.0.0", 200, 2, 900.0);
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&piped))
        .ok();
    scratch
        .run(&["evaluate", "gpt-4-turbo", "2.0.0"])
        .fails(3, "failed its evaluation")
        .fails(3, "maximum error rate");
    let judged = scratch.run(&["compare", "gpt-4-turbo", "1.0.0", "2.0.0", "--json"]);
    assert_eq!(judged.code, 3, "a failing verdict gates: {}", judged.stderr);
    assert_eq!(judged.json()["verdict"], "fail");
    let table = scratch.run(&["compare", "gpt-4-turbo", "1.0.0", "2.0.0"]);
    assert_eq!(table.code, 3);
    assert!(table.stdout.contains("ErrorRate"), "{}", table.stdout);
    assert!(
        table.stderr.is_empty(),
        "the verdict is said once: {}",
        table.stderr
    );
    let same = scratch
        .run(&["compare", "gpt-4-turbo", "1.0.0", "1.0.0"])
        .ok();
    assert!(same.stdout.contains(": pass"), "{}", same.stdout);

    scratch
        .run(&[
            "record",
            "gpt-4-turbo",
            "1.0.0",
            "--latency-ms",
            "320",
            "--confidence",
            "0.8",
        ])
        .ok();
    let shown = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(
        shown["metrics"]["sampleCount"], 401,
        "published into the record"
    );
}

#[test]
fn a_bad_result_line_records_nothing_and_names_the_line() {
    let scratch = Scratch::with_models("bad-results");
    let mut lines = results("1.0.0", 5, 0, 300.0);
    lines.push_str(
        "{\"modelId\":\"gpt-4-turbo\",\"version\":\"1.0.0\",\"success\":true,\"latencyMs\":-1}\n",
    );
    let bad = scratch.file("bad.ndjson", &lines);
    scratch
        .run(&["record", "--file", bad.to_str().unwrap()])
        .fails(1, "line 6")
        .fails(1, "latencyMs");
    let unknown = scratch.file("unknown.ndjson", &results("9.9.9", 1, 0, 300.0));
    scratch
        .run(&["record", "--file", unknown.to_str().unwrap()])
        .fails(1, "no version 9.9.9");
    let garbled = scratch.file("garbled.ndjson", "{\"modelId\": \"gpt-4-turbo\",\n");
    scratch
        .run(&["record", "--file", garbled.to_str().unwrap()])
        .fails(1, "line 1");
    scratch
        .run(&["record", "gpt-4-turbo", "1.0.0", "--latency-ms", "-5"])
        .fails(1, "latencyMs");
    let report = scratch.run(&["evaluate", "gpt-4-turbo", "1.0.0", "--json"]);
    assert_eq!(report.code, 3);
    assert_eq!(report.json()["samples"], 0, "nothing was recorded");
}

#[test]
fn the_policy_gate_exits_3_with_the_reason() {
    let scratch = Scratch::with_models("policy");
    let config = scratch.file(
        "config.json",
        r#"{"policy": {"enforcePerformanceThresholds": true}, "evaluation": {"minSamples": 20}}"#,
    );
    let config = config.to_str().unwrap();
    let decision = scratch.run(&[
        "--config",
        config,
        "can-deploy",
        "gpt-4-turbo",
        "2.0.0",
        "--json",
    ]);
    assert_eq!(decision.code, 3, "{}", decision.stderr);
    assert_eq!(decision.json()["approved"], false);
    scratch
        .run(&["--config", config, "activate", "gpt-4-turbo", "2.0.0"])
        .fails(3, "deployment rejected")
        .fails(3, "no results yet and 1.0.0 is active")
        .fails(3, "record 20 results first");
    let good = scratch.file("good.ndjson", &results("2.0.0", 30, 0, 300.0));
    scratch
        .run(&["record", "--file", good.to_str().unwrap()])
        .ok();
    scratch
        .run(&["--config", config, "can-deploy", "gpt-4-turbo", "2.0.0"])
        .ok();
    scratch
        .run(&["--config", config, "activate", "gpt-4-turbo", "2.0.0"])
        .ok();
    let bad_config = scratch.file("bad.json", r#"{"policy": {"enforceEverything": true}}"#);
    scratch
        .run(&["--config", bad_config.to_str().unwrap(), "status"])
        .fails(1, "enforceEverything");
}

#[test]
fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let scratch = Scratch::with_models("errors");
    scratch
        .run(&["register", "--model", "gpt-4-turbo", "--version", "v2"])
        .fails(1, "invalid version \"v2\"")
        .fails(1, "1.0.0");
    let malformed = scratch.file(
        "model.json",
        "{\n  \"modelId\": \"x\",\n  \"version\": 3\n}",
    );
    scratch
        .run(&["register", "--file", malformed.to_str().unwrap()])
        .fails(1, "model.json, line 3, column");
    scratch.run(&["show", "gpt-5", "1.0.0"]).fails(1, "gpt-5");
    scratch
        .run(&["activate", "gpt-4-turbo", "7.0.0"])
        .fails(1, "no version 7.0.0");
    scratch
        .run(&["retire", "gpt-4-turbo", "1.0.0"])
        .fails(1, "illegal transition from active to retired")
        .fails(1, "inactive, deprecated");
    scratch
        .run(&["canary", "weight", "gpt-4-turbo", "150"])
        .fails(2, "150 is out of range; give a whole number from 1 to 99 %");
    scratch
        .run(&["audit", "report", "--from", "last tuesday"])
        .fails(1, "invalid time");
    let unchanged = scratch.run(&["list", "--json"]).ok().json();
    assert_eq!(unchanged.as_array().unwrap().len(), 2);
    assert_eq!(unchanged[0]["status"], "active");
    let usage = scratch.run(&["frobnicate"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let missing = scratch.run(&["activate", "gpt-4-turbo"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

/// The outside test's reproductions: every extreme number is refused at the
/// boundary naming the field and the range, nothing panics, and nothing
/// accepted can make the store unreadable.
#[test]
fn extreme_numbers_are_refused_at_the_boundary_and_the_store_stays_readable() {
    let scratch = Scratch::with_models("extremes");
    scratch
        .run(&[
            "deprecate",
            "gpt-4-turbo",
            "1.0.0",
            "--reason",
            "x",
            "--grace-days",
            "100000000",
        ])
        .fails(2, "from 0 to 3650 days");
    scratch
        .run(&[
            "deprecate",
            "gpt-4-turbo",
            "1.0.0",
            "--reason",
            "x",
            "--grace-days",
            "-5",
        ])
        .fails(2, "-5 is out of range");
    scratch
        .run(&["canary", "start", "gpt-4-turbo", "2.0.0", "--weight", "-1"])
        .fails(2, "-1 is out of range");
    let mut far = serde_json::json!({
        "modelId": "far", "version": "1.0.0", "provider": "openai",
        "capabilities": {"maxContextTokens": 10, "maxOutputTokens": 10},
        "costInfo": {"inputPer1k": "0.01", "outputPer1k": "0.03", "currency": "USD"},
    });
    far["announcedEndOfLife"] = Value::Null;
    far.as_object_mut().unwrap().remove("announcedEndOfLife");
    far["deprecation"] = serde_json::json!({
        "deprecatedAt": "+262142-06-01T00:00:00Z", "reason": "x", "replacementVersion": null,
        "gracePeriodDays": 90, "endOfLife": "+262142-08-30T00:00:00Z",
    });
    let far = scratch.file("far.json", &far.to_string());
    scratch
        .run(&["register", "--file", far.to_str().unwrap()])
        .fails(1, "deprecatedAt");
    for price in ["1e40", "NaN", "-1"] {
        let run = scratch.run(&[
            "register",
            "--model",
            "p",
            "--version",
            "1.0.0",
            "--input-price",
            price,
            "--output-price",
            "0",
        ]);
        assert!(run.code == 1 || run.code == 2, "{price}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    scratch
        .run(&[
            "register",
            "--model",
            "p",
            "--version",
            "1.0.0",
            "--input-price",
            "1e20",
            "--output-price",
            "0",
        ])
        .fails(
            1,
            "costInfo.inputPer1k: 100000000000000000000 is outside 0 to 10000",
        );
    // The highest accepted price, recorded at the largest accepted request:
    // every later command still reads the store.
    scratch
        .run(&[
            "register",
            "--model",
            "p",
            "--version",
            "1.0.0",
            "--input-price",
            "10000",
            "--output-price",
            "10000",
        ])
        .ok();
    scratch
        .run(&[
            "record",
            "p",
            "1.0.0",
            "--latency-ms",
            "86400000",
            "--input-tokens",
            "100000000",
            "--output-tokens",
            "100000000",
        ])
        .ok();
    let two_huge = "{\"modelId\":\"gpt-4-turbo\",\"version\":\"1.0.0\",\"success\":true,\"latencyMs\":1.7e308}\n".repeat(2);
    let huge = scratch.file("huge.ndjson", &two_huge);
    scratch
        .run(&["record", "--file", huge.to_str().unwrap()])
        .fails(1, "huge.ndjson, line 1: invalid latencyMs: 1.7e308");
    let config = scratch.file(
        "window.json",
        r#"{"evaluation":{"evaluationWindowSecs":18446744073709551615}}"#,
    );
    scratch
        .run(&["--config", config.to_str().unwrap(), "status"])
        .fails(1, "evaluationWindowSecs");
    for command in [&["list"][..], &["audit", "verify"], &["status"]] {
        scratch.run(command).ok();
    }
    let backup = scratch.dir().join("extreme.backup");
    scratch
        .run(&["backup", "-o", backup.to_str().unwrap()])
        .ok();
    let shown = scratch.run(&["show", "p", "1.0.0", "--json"]).ok().json();
    assert_eq!(
        shown["metrics"]["totalCost"], "2000000000",
        "exact: 2 x 1e8 tokens at 10000 per 1k"
    );
    let gpt = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert!(
        gpt["metrics"].is_null(),
        "the refused batch recorded nothing: {gpt}"
    );
}

/// A results file is one batch: recorded whole, once. A re-run (after a
/// `kill -9`, or by mistake) is recognised by the content hash, or by
/// `--batch-id`, and records nothing again.
#[test]
fn a_results_file_is_recorded_whole_and_once() {
    let scratch = Scratch::with_models("batches");
    let line = r#"{"modelId":"gpt-4-turbo","version":"1.0.0","success":true,"latencyMs":120}"#;
    let file = scratch.file("batch.ndjson", &format!("{line}\n").repeat(300));
    let path = file.to_str().unwrap();
    let first = scratch
        .run(&["record", "--file", path, "--json"])
        .ok()
        .json();
    assert_eq!(first["recorded"], 300);
    assert_eq!(first["alreadyRecorded"], false);
    assert!(first["batchId"].as_str().unwrap().starts_with("sha256:"));
    let again = scratch
        .run(&["record", "--file", path, "--json"])
        .ok()
        .json();
    assert_eq!(
        (again["recorded"].clone(), again["alreadyRecorded"].clone()),
        (0.into(), true.into())
    );
    assert_eq!(again["batchId"], first["batchId"]);
    let samples = |s: &Scratch| {
        s.run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
            .ok()
            .json()["metrics"]["sampleCount"]
            .clone()
    };
    assert_eq!(samples(&scratch), 300, "counted once");
    let named = ["record", "--file", path, "--batch-id", "nightly-2026-12-01"];
    scratch.run(&named).ok().stdout.contains("Recorded 300");
    let repeat = scratch.run(&named).ok();
    assert!(
        repeat.stdout.contains("recorded already"),
        "{}",
        repeat.stdout
    );
    assert_eq!(samples(&scratch), 600);
}

/// One rule for every JSON input: unknown fields refused, one place per
/// error, empty input, byte order marks and arrays named.
#[test]
fn every_json_input_follows_one_rule() {
    let scratch = Scratch::with_models("json-rule");
    let typo = scratch.file(
        "typo.json",
        r#"{"modelId":"t","version":"1.0.0","provider":"openai","desciption":"x",
            "capabilities":{"maxContextTokens":10,"maxOutputTokens":10}}"#,
    );
    scratch
        .run(&["register", "--file", typo.to_str().unwrap()])
        .fails(1, "unknown field `desciption`");
    let empty = scratch.file("empty.json", "");
    scratch
        .run(&["register", "--file", empty.to_str().unwrap()])
        .fails(1, "empty.json: empty input");
    scratch
        .run_with_input(&["register", "--file", "-"], Some(""))
        .fails(1, "empty input");
    let bom = scratch.file("bom.json", "\u{feff}{}");
    scratch
        .run(&["register", "--file", bom.to_str().unwrap()])
        .fails(1, "byte order mark");
    let array = scratch.file("array.json", "[{}]");
    scratch
        .run(&["register", "--file", array.to_str().unwrap()])
        .fails(1, "expected an object (a model version), found an array");
    let lines = scratch.file("lines.ndjson", "\n{\"modelId\":\"gpt-4-turbo\",\"version\":\"1.0.0\",\"success\":true,\"latencyMs\":5,\"tagz\":1}\n");
    let run = scratch
        .run(&["record", "--file", lines.to_str().unwrap()])
        .fails(1, "lines.ndjson, line 2, column");
    assert_eq!(run.stderr.matches(", line ").count(), 1, "{}", run.stderr);
    let long_id = "x".repeat(10_000);
    let run = scratch
        .run(&["show", &long_id, "1.0.0"])
        .fails(1, "(10000 bytes)");
    assert!(run.stderr.len() < 500, "{}", run.stderr);
    scratch
        .run(&["canary", "promote", "gpt-4-turbo"])
        .fails(1, "lifecycle canary start");
}

#[test]
fn a_store_in_use_corrupted_or_foreign_is_named_as_such() {
    let scratch = Scratch::with_models("stores");
    {
        let _held = lifecycle::store_sled::SledStore::open(scratch.store()).unwrap();
        scratch.run(&["status"]).fails(1, "in use");
    }
    let foreign = scratch.dir().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "my notes").unwrap();
    run_in(&foreign, &["status"], None).fails(1, "not a lifecycle store");

    // Damaged bytes mid-log: every command refuses and no file changes.
    let db = scratch.store().join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(600).step_by(61) {
        *b ^= 0x5A;
    }
    std::fs::write(&db, bytes).unwrap();
    let files = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.clone(), std::fs::read(p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = files(&scratch.store());
    for command in [
        &["status"][..],
        &["list"],
        &["audit", "verify"],
        &["record", "--file", "-"],
    ] {
        scratch.run(command).fails(1, "corrupted");
        assert!(
            files(&scratch.store()) == before,
            "{command:?} changed the store's files"
        );
    }

    std::fs::write(scratch.store().join("db"), vec![0xAB; 100_000]).unwrap();
    std::fs::write(scratch.store().join("conf"), b"not a sled config").unwrap();
    scratch.run(&["status"]).fails(1, "corrupted");
}

#[test]
fn the_audit_log_is_queried_reported_exported_and_verified() {
    let scratch = Scratch::with_models("audit");
    let recent = scratch
        .run(&["audit", "recent", "-n", "2", "--json"])
        .ok()
        .json();
    assert_eq!(recent.as_array().unwrap().len(), 2);
    assert!(
        recent[0]["sequence"].as_u64() > recent[1]["sequence"].as_u64(),
        "newest first"
    );
    assert_eq!(
        scratch.run(&["audit", "critical", "--json"]).ok().json(),
        Value::Array(vec![])
    );
    let report = scratch
        .run(&["audit", "report", "--from", "2000-01-01", "--json"])
        .ok()
        .json();
    assert_eq!(report["chain"]["verified"], true);
    assert_eq!(report["byKind"]["modelRegistered"], 2);
    let file = scratch.dir().join("audit.json");
    let summary = scratch
        .run(&[
            "audit",
            "export",
            "--format",
            "json",
            "-o",
            file.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        exported.as_array().unwrap().len() as u64,
        summary["entries"].as_u64().unwrap()
    );
    let ndjson = scratch.run(&["audit", "export"]).ok();
    assert_eq!(
        ndjson.stdout.lines().count() as u64,
        summary["entries"].as_u64().unwrap()
    );
    let verified = scratch.run(&["audit", "verify", "--json"]).ok().json();
    assert_eq!(verified["entriesChecked"], summary["entries"]);
}

#[test]
fn status_backup_and_restore_round_trip() {
    let scratch = Scratch::with_models("backup");
    let status = scratch.run(&["status", "--json"]).ok().json();
    assert_eq!(status["storeKind"], "sled");
    assert_eq!(status["active"][0]["version"], "1.0.0");
    assert_eq!(status["auditChainVerified"], true);
    let backup = scratch.dir().join("backup.ndjson");
    let written = scratch
        .run(&["backup", "-o", backup.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(written["versions"], 2);
    let elsewhere = scratch.dir().join("restored");
    run_in(&elsewhere, &["restore", backup.to_str().unwrap()], None).ok();
    let restored = run_in(&elsewhere, &["status", "--json"], None).ok().json();
    assert_eq!(restored["active"], status["active"]);
    assert_eq!(restored["auditEntries"], status["auditEntries"]);
    run_in(&elsewhere, &["restore", backup.to_str().unwrap()], None).fails(1, "not empty");

    let text = std::fs::read_to_string(&backup).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = scratch.file(
        "truncated.ndjson",
        &(lines[..lines.len() - 1].join("\n") + "\n"),
    );
    let fresh = scratch.dir().join("fresh");
    run_in(&fresh, &["restore", truncated.to_str().unwrap()], None).fails(1, "truncated");
    let newer = scratch.file(
        "newer.ndjson",
        &text.replacen("\"formatVersion\":3", "\"formatVersion\":9", 1),
    );
    run_in(&fresh, &["restore", newer.to_str().unwrap()], None).fails(1, "newer");
    let empty = run_in(&fresh, &["list", "--json"], None).ok().json();
    assert_eq!(
        empty,
        Value::Array(vec![]),
        "failed restores changed nothing"
    );
}

#[test]
fn litellm_price_maps_are_imported_with_a_summary() {
    let scratch = Scratch::new("litellm");
    scratch.run(&["init"]).ok();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/litellm.json");
    let summary = scratch
        .run(&["import", "litellm", fixture, "--mode", "chat", "--json"])
        .ok()
        .json();
    let registered: Vec<&str> = summary["registered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(registered.contains(&"gpt-4o"), "{summary}");
    assert!(registered.contains(&"bedrock/anthropic.claude-3-sonnet-20240229-v1:0"));
    assert!(
        !registered.contains(&"text-embedding-3-small"),
        "filtered by mode"
    );
    assert_eq!(summary["filteredOut"], 1);
    let skipped: Vec<&str> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["no-limits", "weird model name"]);
    let gpt4o = scratch
        .run(&["show", "gpt-4o", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(gpt4o["provider"], "openai");
    assert_eq!(gpt4o["serving"]["providerModel"], "gpt-4o");
    let bedrock = scratch
        .run(&[
            "show",
            "bedrock/anthropic.claude-3-sonnet-20240229-v1:0",
            "1.0.0",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        bedrock["serving"]["providerModel"], "anthropic.claude-3-sonnet-20240229-v1:0",
        "the key without LiteLLM's provider prefix"
    );
    assert_eq!(gpt4o["capabilities"]["maxContextTokens"], 128_000);
    assert_eq!(gpt4o["capabilities"]["functionCalling"], true);
    assert_eq!(gpt4o["capabilities"]["jsonMode"], true);
    assert_eq!(
        gpt4o["costInfo"]["inputPer1k"], "0.0025",
        "exact, as a string"
    );
    let claude = scratch
        .run(&["show", "claude-3-5-sonnet-20241022", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(claude["status"], "inactive");
    assert!(claude["deprecation"]["endOfLife"]
        .as_str()
        .unwrap()
        .starts_with("2027-10-22"));
    let again = scratch
        .run(&[
            "import",
            "litellm",
            fixture,
            "--provider",
            "openai",
            "--version",
            "1.0.0",
            "--json",
        ])
        .ok()
        .json();
    assert!(again["skipped"].to_string().contains("already"), "{again}");
    let broken = scratch.file("broken.json", "{\n \"gpt-4o\": {\"max_tokens\": }\n}");
    scratch
        .run(&["import", "litellm", broken.to_str().unwrap()])
        .fails(1, "line 2");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let scratch = Scratch::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let script = scratch.run(&["completions", shell]).ok();
        assert!(script.stdout.contains("lifecycle"), "{shell}");
        assert!(script.stdout.contains("canary"), "{shell}");
    }
}

/// `lifecycle audit export | head`: a reader that goes away ends the output
/// quietly, with the status of a process stopped by SIGPIPE, as other tools do.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let scratch = Scratch::new("closed-pipe");
    scratch.run(&["init"]).ok();
    let entries: Vec<String> = (0..2_000)
        .map(|i| {
            format!(r#""model-{i}": {{"litellm_provider": "openai", "max_tokens": 8192, "mode": "chat"}}"#)
        })
        .collect();
    let map = scratch.file("map.json", &format!("{{{}}}", entries.join(",\n")));
    scratch
        .run(&["import", "litellm", map.to_str().unwrap()])
        .ok();
    for args in [
        &["audit", "export"][..],
        &["audit", "export", "--format", "json"][..],
        &["list"][..],
        &["audit", "recent", "-n", "2000"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
            .arg("--data-dir")
            .arg(scratch.store())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(141), "{args:?}");
    }
}

/// Under cron or systemd stdin is at its end (`/dev/null`): `watch` keeps
/// watching until it is told to stop, and stops cleanly on SIGTERM.
#[test]
fn watch_runs_until_interrupted_when_stdin_is_at_its_end() {
    let scratch = Scratch::with_models("watch-daemon");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .arg("--data-dir")
        .arg(scratch.store())
        .args(["watch", "--interval-secs", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "watch ended on its own at the end of stdin"
    );
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM ends it cleanly");
    // It released the store: the next command opens it.
    scratch.run(&["status"]).ok();
}

#[test]
fn watch_records_piped_results_and_reports_alerts_as_they_fire() {
    let scratch = Scratch::with_models("watch");
    let failing = results("1.0.0", 120, 2, 300.0);
    let watched = scratch
        .run_with_input(
            &["watch", "--interval-secs", "1", "--stdin", "--json"],
            Some(&failing),
        )
        .ok();
    let alerts: Vec<Value> = watched
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a["level"] == "critical" && a["version"] == "1.0.0"),
        "{}",
        watched.stdout
    );
    let critical = scratch.run(&["audit", "critical", "--json"]).ok().json();
    assert!(
        !critical.as_array().unwrap().is_empty(),
        "the alert was audited"
    );
    let status = scratch.run(&["status", "--json"]).ok().json();
    assert_eq!(status["alertsFiring"][0]["level"], "critical", "{status}");
    assert_eq!(status["alertsFiring"][0]["version"], "1.0.0");
}

#[test]
fn the_demo_runs_the_whole_story_and_leaves_its_proof_in_the_audit_log() {
    let scratch = Scratch::new("demo");
    let run = scratch.run(&["demo", "--seed", "7", "--json"]).ok();
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let titles: Vec<&str> = events.iter().filter_map(|e| e["title"].as_str()).collect();
    for step in [
        "Canary 2.0.0 at 5 %",
        "Canary 2.0.0 at 50 %",
        "Promote 2.0.0",
        "Critical alert and automatic canary abort",
        "Audit chain verified",
    ] {
        assert!(titles.contains(&step), "{step} not in {titles:?}");
    }
    let summary = &events.last().unwrap()["summary"];
    assert_eq!(summary["chainVerified"], true);
    assert_eq!(summary["canaryAbortedAutomatically"], true);
    assert_eq!(summary["retired"][0], "gpt-4-turbo 1.0.0");
    let dir = summary["dataDir"].as_str().unwrap();
    let history = run_in(
        Path::new(dir),
        &["audit", "history", "gpt-4-turbo", "--json"],
        None,
    )
    .ok()
    .json();
    let aborted = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "canaryAborted")
        .expect("the abort is in the audit log");
    assert_eq!(aborted["actor"], "auto-rollback");
    assert!(aborted["details"]["reason"]
        .as_str()
        .unwrap()
        .contains("critical alert"));
    run_in(Path::new(dir), &["audit", "verify"], None).ok();

    // The same seed tells the same story.
    let again = scratch.run(&["demo", "--seed", "7", "--json"]).ok();
    let strip = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["summary"]["dataDir"] = Value::Null;
                v
            })
            .collect()
    };
    assert_eq!(strip(&again.stdout), strip(&run.stdout));
    let human = scratch.run(&["demo", "--memory"]).ok();
    assert!(
        human.stdout.contains("Audit chain verified"),
        "{}",
        human.stdout
    );
}

#[test]
fn provider_ends_of_life_from_an_imported_catalogue_are_warned_and_acted_on() {
    let scratch = Scratch::new("provider-eol");
    scratch.run(&["init"]).ok();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/litellm.json");
    scratch.run(&["import", "litellm", fixture]).ok();
    // No output limit: registered with the limit unknown, its date kept.
    let gpt4 = scratch
        .run(&["show", "gpt-4-32k", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(gpt4["capabilities"]["maxOutputTokens"], Value::Null);
    assert_eq!(gpt4["deprecation"]["successorModel"], "gpt-4o");

    let warnings = scratch.run(&["warnings", "--json"]).ok().json();
    let of = |model: &str| -> Value {
        warnings
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["modelId"] == model)
            .cloned()
            .unwrap_or_else(|| panic!("no warning for {model}: {warnings}"))
    };
    for past in ["gpt-3.5-turbo-0301", "gpt-4-32k"] {
        let w = of(past);
        assert_eq!(w["source"], "provider", "{w}");
        assert_eq!(w["status"], "inactive", "{w}");
        assert_eq!(w["severity"], "critical", "{w}");
        assert!(w["daysUntilEol"].as_i64().unwrap() < 0, "{w}");
    }
    assert_eq!(of("gpt-4-32k")["successorModel"], "gpt-4o");
    assert!(
        of("claude-3-5-sonnet-20241022")["daysUntilEol"]
            .as_i64()
            .unwrap()
            > 0
    );
    let text = scratch.run(&["warnings"]).ok().stdout;
    assert!(
        text.contains("provider") && text.contains("gpt-4o"),
        "{text}"
    );

    let status = scratch.run(&["status", "--json"]).ok().json();
    assert_eq!(
        status["deprecationWarnings"].as_array().unwrap().len(),
        warnings.as_array().unwrap().len(),
        "{status}"
    );

    // Past its end of life and serving nothing: retired, audited.
    let maintained = scratch.run(&["maintain", "--json"]).ok().json();
    let retired: Vec<&str> = maintained["retired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["modelId"].as_str().unwrap())
        .collect();
    assert_eq!(retired, ["gpt-3.5-turbo-0301", "gpt-4-32k"], "{maintained}");
    let after = scratch.run(&["warnings", "--json"]).ok().json();
    assert!(!after.to_string().contains("gpt-4-32k"), "{after}");
    let history = scratch.run(&["audit", "history", "gpt-4-32k"]).ok().stdout;
    assert!(history.contains("retired"), "{history}");
}

#[test]
fn result_lines_carry_their_own_time_within_bounds() {
    let scratch = Scratch::with_models("event-time");
    let line = |at: &str| {
        format!(
            "{{\"modelId\":\"gpt-4-turbo\",\"version\":\"1.0.0\",\"success\":true,\"latencyMs\":120,\"at\":\"{at}\"}}\n"
        )
    };
    let late = line("2024-01-01T00:00:00Z");
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&late))
        .ok();
    let shown = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(shown["metrics"]["sampleCount"], 1, "{shown}");
    let window = scratch
        .run(&["evaluate", "gpt-4-turbo", "1.0.0", "--json"])
        .json();
    assert_eq!(window["samples"], 1, "the window ends at the newest result");
    let later = line("2024-01-01T00:30:00Z");
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&later))
        .ok();
    let window = scratch
        .run(&["evaluate", "gpt-4-turbo", "1.0.0", "--json"])
        .json();
    assert_eq!(
        window["samples"], 1,
        "30 minutes older than the newest: lifetime only"
    );
    let shown = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(shown["metrics"]["sampleCount"], 2, "{shown}");

    let future = format!("{late}{}", line("2999-01-01T00:00:00Z"));
    let refused = scratch.run_with_input(&["record", "--file", "-"], Some(&future));
    refused.fails(
        1,
        "line 2: at: 2999-01-01T00:00:00Z is more than 60 s ahead",
    );
    let bad = line("yesterday");
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&bad))
        .fails(1, "give an RFC 3339 time");
    let number = bad.replace("\"yesterday\"", "12");
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&number))
        .fails(1, "line 1: at: 12 is not a time");
    let after = scratch
        .run(&["show", "gpt-4-turbo", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(
        after["metrics"]["sampleCount"], 2,
        "refused files record nothing"
    );
}

#[test]
fn help_shows_the_defaults_in_force() {
    let scratch = Scratch::new("help-defaults");
    let config = scratch.file("c.json", r#"{"policy": {"defaultGracePeriodDays": 30}}"#);
    let configured = scratch
        .run(&["--config", config.to_str().unwrap(), "deprecate", "--help"])
        .ok()
        .stdout;
    assert!(configured.contains("30 in force"), "{configured}");
    let default = scratch.run(&["deprecate", "--help"]).ok().stdout;
    assert!(default.contains("90 in force"), "{default}");
    let record = scratch.run(&["record", "--help"]).ok().stdout;
    assert!(record.contains("rateLimited"), "{record}");
    scratch
        .run(&["record", "gpt-4-turbo", "1.0.0"])
        .fails(2, "--latency-ms");
}

/// Colour follows the environment as other CLIs read it: `CLICOLOR_FORCE`
/// colours a pipe, `NO_COLOR` wins over it, JSON is never coloured, and a
/// coloured table lines up as the plain one does.
#[test]
fn colour_follows_no_color_and_clicolor_force() {
    let scratch = Scratch::with_models("colour");
    let list = |env: &[(&str, &str)], json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle"));
        command
            .arg("--data-dir")
            .arg(scratch.store())
            .arg("list")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE");
        if json {
            command.arg("--json");
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let plain = list(&[], false);
    assert!(!plain.contains('\x1b'), "a pipe gets no colour: {plain}");
    let forced = list(&[("CLICOLOR_FORCE", "1")], false);
    assert!(forced.contains("\x1b["), "CLICOLOR_FORCE colours: {forced}");
    let stripped = forced.replace("\x1b[0m", "").replace("\x1b[1m", "");
    let stripped: String = stripped
        .split("\x1b[")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                &part[part.find('m').unwrap() + 1..]
            }
        })
        .collect();
    assert_eq!(stripped, plain, "coloured columns line up as plain ones");
    let refused = list(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false);
    assert!(!refused.contains('\x1b'), "NO_COLOR wins: {refused}");
    let json = list(&[("CLICOLOR_FORCE", "1")], true);
    assert!(!json.contains('\x1b'), "JSON is never coloured: {json}");
}
