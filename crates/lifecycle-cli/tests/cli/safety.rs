//! The safe defaults, as a user meets them: a failing canary is not
//! promoted, the judge gates, a critical alert aborts a canary, and the
//! emergency override is explicit and audited.

use serde_json::Value;

use crate::support::*;

/// gpt-4-turbo 1.0.0 active with good results, 2.0.0 a canary with `canary` results.
fn with_canary(name: &str, canary: &str) -> Scratch {
    let scratch = Scratch::with_models(name);
    scratch
        .run(&["canary", "start", "gpt-4-turbo", "2.0.0", "--weight", "10"])
        .ok();
    let baseline = results("1.0.0", 300, 0, 400.0);
    scratch
        .run_with_input(
            &["record", "--file", "-"],
            Some(&format!("{baseline}{canary}")),
        )
        .ok();
    scratch
}

/// The last audit entry of `kind` about gpt-4-turbo.
fn last_entry(scratch: &Scratch, kind: &str) -> Value {
    let history = scratch
        .run(&["audit", "history", "gpt-4-turbo", "--json"])
        .ok()
        .json();
    history
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry in {history}"))
        .clone()
}

fn active_version(scratch: &Scratch) -> Value {
    let status = scratch.run(&["status", "--json"]).ok().json();
    status["active"][0]["version"].clone()
}

#[test]
fn a_canary_failing_its_thresholds_is_not_promoted_and_the_override_is_audited() {
    // One request in six fails: 17 % errors.
    let scratch = with_canary("safety-thresholds", &results("2.0.0", 300, 6, 400.0));
    let refused = scratch
        .run(&["canary", "promote", "gpt-4-turbo"])
        .fails(3, "deployment rejected")
        .fails(3, "maximum error rate");
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert_eq!(active_version(&scratch), "1.0.0", "nothing changed");
    let verdict = scratch.run(&["can-deploy", "gpt-4-turbo", "2.0.0"]);
    assert_eq!(verdict.code, 3);
    assert!(verdict.stdout.contains("rejected"), "{}", verdict.stdout);
    assert!(
        !verdict.stdout.contains("approved"),
        "one verdict: {}",
        verdict.stdout
    );
    assert!(verdict.stderr.is_empty(), "said once: {}", verdict.stderr);

    // The override needs its reason, and records it with what it overrode.
    scratch
        .run(&["canary", "promote", "gpt-4-turbo", "--force"])
        .fails(2, "--reason");
    scratch
        .run(&[
            "canary",
            "promote",
            "gpt-4-turbo",
            "--force",
            "--reason",
            " ",
        ])
        .fails(1, "reason");
    let forced = scratch
        .run(&[
            "--actor",
            "oncall-ana",
            "canary",
            "promote",
            "gpt-4-turbo",
            "--force",
            "--reason",
            "INC-4711: 1.0.0 is down at the provider",
        ])
        .ok();
    assert!(
        forced.stdout.contains("2.0.0 is now active"),
        "{}",
        forced.stdout
    );
    assert!(
        forced
            .stderr
            .contains("policy overridden (recorded in the audit log)"),
        "{}",
        forced.stderr
    );
    assert_eq!(active_version(&scratch), "2.0.0");
    let event = last_entry(&scratch, "canaryPromoted");
    assert_eq!(event["actor"], "oncall-ana");
    assert_eq!(event["severity"], "warning");
    assert_eq!(
        event["details"]["override"],
        "INC-4711: 1.0.0 is down at the provider"
    );
    assert!(
        event["details"]["refused"]
            .as_str()
            .unwrap()
            .contains("maximum error rate"),
        "{event}"
    );
    let report = scratch.run(&["audit", "report"]).ok().stdout;
    assert!(report.contains("overriding the policy"), "{report}");
}

#[test]
fn a_canary_the_judge_fails_is_not_promoted_though_it_meets_the_thresholds() {
    // No errors and well under the latency limit, but 60 % slower than 1.0.0.
    let scratch = with_canary("safety-judge", &results("2.0.0", 300, 0, 640.0));
    scratch.run(&["evaluate", "gpt-4-turbo", "2.0.0"]).ok();
    scratch
        .run(&["canary", "promote", "gpt-4-turbo"])
        .fails(
            3,
            "the canary judge gives gpt-4-turbo 2.0.0 fail against 1.0.0",
        )
        .fails(3, "latency");
    assert_eq!(active_version(&scratch), "1.0.0");
    let decision = scratch
        .run(&["can-deploy", "gpt-4-turbo", "2.0.0", "--json"])
        .json();
    assert_eq!(decision["approved"], false);

    // Turned off in the configuration, the judge only warns.
    let lenient = scratch.file(
        "lenient.json",
        r#"{"policy": {"requirePassingJudge": false}}"#,
    );
    let lenient = lenient.to_str().unwrap();
    let approved = scratch
        .run(&["--config", lenient, "can-deploy", "gpt-4-turbo", "2.0.0"])
        .ok();
    assert!(
        approved.stdout.contains("approved")
            && approved.stdout.contains("requirePassingJudge is off"),
        "{}",
        approved.stdout
    );
    scratch
        .run(&["--config", lenient, "canary", "promote", "gpt-4-turbo"])
        .ok();
    assert_eq!(active_version(&scratch), "2.0.0");
}

#[test]
fn a_critical_alert_aborts_the_canary_by_default() {
    let scratch = with_canary("safety-abort", "");
    let failing = results("2.0.0", 120, 2, 300.0);
    scratch
        .run_with_input(
            &["watch", "--interval-secs", "1", "--stdin", "--json"],
            Some(&failing),
        )
        .ok();
    let two = scratch
        .run(&["show", "gpt-4-turbo", "2.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(two["status"], "inactive", "aborted: {two}");
    let aborted = last_entry(&scratch, "canaryAborted");
    assert_eq!(aborted["actor"], "auto-rollback");
    assert_eq!(active_version(&scratch), "1.0.0");
}

/// A rejection says what to deploy instead once, on one stream.
#[test]
fn a_rejection_names_its_replacement_once() {
    let scratch = Scratch::with_models("safety-once");
    let tested = results("2.0.0", 60, 0, 300.0);
    scratch
        .run_with_input(&["record", "--file", "-"], Some(&tested))
        .ok();
    scratch.run(&["activate", "gpt-4-turbo", "2.0.0"]).ok();
    for args in [
        &["activate", "gpt-4-turbo", "1.0.0"][..],
        &["can-deploy", "gpt-4-turbo", "1.0.0"][..],
    ] {
        let refused = scratch.run(args);
        assert_eq!(refused.code, 3, "{args:?}");
        let said = format!("{}{}", refused.stdout, refused.stderr);
        assert_eq!(
            said.matches("deploy 2.0.0 instead").count(),
            1,
            "{args:?}:\n{said}"
        );
    }
}
