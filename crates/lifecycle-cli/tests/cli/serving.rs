//! A version's serving specification: given at registration (flags or a
//! file), returned by `route` and `show`, kept by backup and restore.

use crate::support::*;

#[test]
fn the_serving_spec_round_trips_through_register_route_backup_and_restore() {
    let scratch = Scratch::new("serving");
    scratch.run(&["init"]).ok();
    scratch
        .run(&[
            "register",
            "--model",
            "support-bot",
            "--version",
            "1.0.0",
            "--provider",
            "azure",
            "--provider-model",
            "gpt-4o-2024-08-06",
            "--endpoint",
            "https://contoso.openai.azure.com/openai/deployments/gpt4o-prod",
            "--param",
            "temperature=0.2",
            "--param",
            "max_tokens=1024",
            "--param",
            "stop=[\"\\n\\n\"]",
            "--param",
            "user=support",
            "--prompt",
            "support-agent@14",
        ])
        .ok();
    let file = scratch.file(
        "v2.json",
        r#"{"modelId": "support-bot", "version": "2.0.0", "provider": "anthropic",
            "capabilities": {"maxContextTokens": 200000, "maxOutputTokens": 8192},
            "serving": {"providerModel": "claude-3-5-sonnet-20241022",
                        "parameters": {"temperature": 0, "top_k": 40},
                        "prompt": {"name": "support-agent", "version": "15"}}}"#,
    );
    scratch
        .run(&["register", "--file", file.to_str().unwrap()])
        .ok();
    // No serving given: the model id is what the provider is asked for.
    scratch
        .run(&["register", "--model", "gpt-4o-mini", "--version", "1.0.0"])
        .ok();
    for (model, version) in [("support-bot", "1.0.0"), ("gpt-4o-mini", "1.0.0")] {
        scratch.run(&["activate", model, version]).ok();
    }

    let routed = scratch
        .run(&["route", "support-bot", "user-1", "--json"])
        .ok()
        .json();
    let serving = &routed["serving"];
    assert_eq!(routed["version"], "1.0.0");
    assert_eq!(routed["provider"], "azure");
    assert_eq!(serving["providerModel"], "gpt-4o-2024-08-06");
    assert_eq!(
        serving["endpoint"],
        "https://contoso.openai.azure.com/openai/deployments/gpt4o-prod"
    );
    assert_eq!(serving["parameters"]["temperature"], 0.2);
    assert_eq!(serving["parameters"]["max_tokens"], 1024);
    assert_eq!(serving["parameters"]["stop"][0], "\n\n");
    assert_eq!(
        serving["parameters"]["user"], "support",
        "not JSON: a string"
    );
    assert_eq!(serving["prompt"]["name"], "support-agent");
    assert_eq!(serving["prompt"]["version"], "14");
    let text = scratch.run(&["route", "support-bot", "user-1"]).ok().stdout;
    assert!(
        text.contains("call azure gpt-4o-2024-08-06 at https://contoso"),
        "{text}"
    );
    let plain = scratch
        .run(&["route", "gpt-4o-mini", "k", "--json"])
        .ok()
        .json();
    assert_eq!(plain["serving"]["providerModel"], "gpt-4o-mini");

    // The canary's own specification reaches the keys routed to it.
    scratch
        .run(&["canary", "start", "support-bot", "2.0.0", "--weight", "99"])
        .ok();
    let to_canary = (0..200)
        .map(|i| {
            scratch
                .run(&["route", "support-bot", &format!("user-{i}"), "--json"])
                .ok()
                .json()
        })
        .find(|r| r["lane"] == "canary")
        .expect("99 % of keys go to the canary");
    assert_eq!(
        to_canary["serving"]["providerModel"],
        "claude-3-5-sonnet-20241022"
    );
    assert_eq!(to_canary["serving"]["parameters"]["top_k"], 40);

    let now_routed = scratch
        .run(&["route", "support-bot", "user-1", "--json"])
        .ok()
        .json();
    let backup = scratch.dir().join("backup.ndjson");
    scratch
        .run(&["backup", "-o", backup.to_str().unwrap()])
        .ok();
    let elsewhere = scratch.dir().join("restored");
    run_in(&elsewhere, &["restore", backup.to_str().unwrap()], None).ok();
    for version in ["1.0.0", "2.0.0"] {
        let before = scratch
            .run(&["show", "support-bot", version, "--json"])
            .ok()
            .json();
        let after = run_in(
            &elsewhere,
            &["show", "support-bot", version, "--json"],
            None,
        )
        .ok()
        .json();
        assert_eq!(after["serving"], before["serving"], "{version}");
    }
    let restored = run_in(
        &elsewhere,
        &["route", "support-bot", "user-1", "--json"],
        None,
    )
    .ok()
    .json();
    assert_eq!(restored, now_routed);
}

#[test]
fn bad_serving_input_is_refused_naming_the_field() {
    let scratch = Scratch::new("serving-bad");
    scratch.run(&["init"]).ok();
    let register = |extra: &[&str]| {
        let mut args = vec!["register", "--model", "m", "--version", "1.0.0"];
        args.extend_from_slice(extra);
        scratch.run(&args)
    };
    register(&["--param", "temperature"]).fails(2, "give NAME=VALUE");
    register(&["--prompt", "support-agent"]).fails(2, "NAME@VERSION");
    register(&["--provider-model", "gpt 4o"]).fails(1, "serving.providerModel");
    let huge = format!("bias={}", "1".repeat(9000));
    register(&["--param", &huge]).fails(1, "serving.parameters");
    let deep = "x=[[[[[1]]]]]";
    register(&["--param", deep]).fails(1, "nests deeper than 4 levels");
    let file = scratch.file(
        "bad.json",
        r#"{"modelId": "m", "version": "1.0.0", "provider": "openai",
            "capabilities": {"maxContextTokens": 1000, "maxOutputTokens": 100},
            "serving": {"providerModel": "x", "temprature": 1}}"#,
    );
    scratch
        .run(&["register", "--file", file.to_str().unwrap()])
        .fails(1, "temprature");
    let listed = scratch.run(&["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing registered");
}
