//! The documents state what the code does: the transition tables in
//! docs/ARCHITECTURE.md and docs/guide.md are the one `ModelStatus` enforces.
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
