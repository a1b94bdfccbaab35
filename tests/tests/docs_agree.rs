//! The documents state what the code does: the transition tables in
//! docs/ARCHITECTURE.md and docs/guide.md are the one `ModelStatus` enforces,
//! and docs/configuration.md names every setting with its default.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lifecycle_domain::ModelStatus;

fn doc(name: &str) -> String {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the table whose header starts `| from \ to`: status, then one
/// cell per target status, "yes" where allowed.
fn documented_table(doc: &str) -> Vec<(ModelStatus, Vec<ModelStatus>)> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with("| from \\ to"));
    let header: Vec<ModelStatus> = cells(lines.next().expect("transition table header"))
        .into_iter()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    lines
        .skip(1) // the |---| line
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells = cells(row);
            let from: ModelStatus = cells[0].parse().unwrap();
            let allowed = header
                .iter()
                .zip(&cells[1..])
                .filter(|(_, cell)| *cell == "yes")
                .map(|(to, _)| *to)
                .collect();
            (from, allowed)
        })
        .collect()
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn the_documented_transition_tables_are_the_enforced_one() {
    for name in ["ARCHITECTURE.md", "guide.md"] {
        let table = documented_table(&doc(name));
        let from: Vec<ModelStatus> = table.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            from,
            ModelStatus::ALL,
            "{name}: one row per status, in order"
        );
        for (status, allowed) in table {
            assert_eq!(allowed, status.allowed_targets(), "{name}: row {status}");
        }
    }
}

/// The rows `| JSON name | Rust field | default | meaning |` of the table
/// under `heading` in docs/configuration.md.
fn configuration_table(heading: &str) -> Vec<(String, String, serde_json::Value)> {
    let text = doc("configuration.md");
    text.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip_while(|l| !l.starts_with("| JSON name"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells = cells(row);
            let name = cells[0].trim_matches('`').to_string();
            let field = cells[1].trim_matches('`').to_string();
            let default = serde_json::from_str(&cells[2])
                .unwrap_or_else(|e| panic!("{heading}, {name}: default {:?}: {e}", cells[2]));
            (name, field, default)
        })
        .collect()
}

fn snake_case(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let lower = c.to_ascii_lowercase();
            if c.is_ascii_uppercase() {
                vec!['_', lower]
            } else {
                vec![lower]
            }
        })
        .collect()
}

/// Every setting the code reads is documented, with its name as the JSON
/// reads it, its Rust field and its default; nothing else is documented.
#[test]
fn the_configuration_reference_is_the_code() {
    use lifecycle_domain::{EvaluationSettings, PolicySettings};
    let sections = [
        (
            "## `evaluation`",
            serde_json::to_value(EvaluationSettings::default()).unwrap(),
        ),
        (
            "## `policy`",
            serde_json::to_value(PolicySettings::default()).unwrap(),
        ),
    ];
    for (heading, defaults) in sections {
        let table = configuration_table(heading);
        let defaults = defaults.as_object().unwrap();
        let documented: Vec<&str> = table.iter().map(|(n, _, _)| n.as_str()).collect();
        let mut in_code: Vec<&str> = defaults.keys().map(String::as_str).collect();
        let mut sorted = documented.clone();
        sorted.sort_unstable();
        in_code.sort_unstable();
        assert_eq!(
            sorted, in_code,
            "{heading}: the documented fields are the code's"
        );
        for (name, field, default) in &table {
            assert_eq!(field, &snake_case(name), "{heading}: {name}");
            let actual = &defaults[name];
            let same = match (actual.as_f64(), default.as_f64()) {
                (Some(a), Some(d)) => a == d,
                _ => actual == default,
            };
            assert!(
                same,
                "{heading}: {name} defaults to {actual}, documented {default}"
            );
        }
    }
}

/// The shipped production profile is read as the CLI reads `--config`,
/// and sets every field (a complete example to start from).
#[test]
fn the_production_profile_loads_and_is_complete() {
    use lifecycle_domain::{EvaluationConfig, PolicyConfig};
    let text = doc("examples/production.json");
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut sections: Vec<&String> = raw.as_object().unwrap().keys().collect();
    sections.sort_unstable();
    assert_eq!(sections, ["evaluation", "policy"]);
    let evaluation: EvaluationConfig = serde_json::from_value(raw["evaluation"].clone()).unwrap();
    let policy: PolicyConfig = serde_json::from_value(raw["policy"].clone()).unwrap();
    for (section, defaults) in [
        (
            "evaluation",
            serde_json::to_value(evaluation.settings()).unwrap(),
        ),
        ("policy", serde_json::to_value(policy.settings()).unwrap()),
    ] {
        for key in defaults.as_object().unwrap().keys() {
            assert!(
                raw[section].get(key).is_some(),
                "{section}.{key} is missing from the production profile"
            );
        }
    }
    let policy = policy.settings();
    assert!(policy.enforce_performance_thresholds && policy.require_passing_judge);
    assert!(policy.refuse_marginal_judgement && policy.auto_rollback_on_critical);
    assert!(evaluation.settings().min_samples >= 100);
}
