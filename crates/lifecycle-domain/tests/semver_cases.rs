//! Every shared SemVer case (tests/fixtures/semver) against `Version`.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::collections::HashSet;

use lifecycle_domain::{DomainError, Version};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/semver/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Lines of a TSV file, after its header line if it has one, split on tabs.
fn rows(name: &str, header: bool) -> Vec<Vec<String>> {
    fixture(name)
        .lines()
        .skip(usize::from(header))
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn parse(s: &str) -> Version {
    Version::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

#[test]
fn every_valid_version_parses_and_displays_as_given() {
    let valid = fixture("valid.txt");
    let mut count = 0;
    for line in valid.lines().filter(|l| !l.is_empty()) {
        assert_eq!(parse(line).to_string(), line);
        count += 1;
    }
    assert!(count >= 60, "only {count} cases read");
}

#[test]
fn every_invalid_version_is_a_typed_error() {
    let invalid = fixture("invalid.txt");
    let mut inputs: Vec<String> = invalid.lines().map(str::to_string).collect();
    for row in rows("invalid_with_source.tsv", true) {
        let quoted = &row[0];
        let unquoted = &quoted[1..quoted.len() - 1];
        inputs.push(unquoted.replace("\\0", "\0"));
    }
    assert!(inputs.len() >= 90, "only {} cases read", inputs.len());
    for input in inputs {
        match Version::parse(&input) {
            Err(DomainError::InvalidVersion { input: echoed, .. }) => assert_eq!(echoed, input),
            other => panic!("{input:?} gave {other:?}"),
        }
    }
}

#[test]
fn comparisons_order_by_precedence() {
    let cases = rows("comparisons.tsv", false);
    assert!(cases.len() >= 50);
    for pair in cases {
        let (low, high) = (parse(&pair[0]), parse(&pair[1]));
        assert_eq!(low.cmp(&high), Ordering::Less, "{low} < {high}");
        assert_eq!(high.cmp(&low), Ordering::Greater, "{high} > {low}");
        assert_ne!(low, high);
    }
}

#[test]
fn build_metadata_only_differences_are_the_same_version() {
    let cases = rows("equal_precedence.tsv", true);
    assert!(cases.len() >= 3);
    for pair in cases {
        let (a, b) = (parse(&pair[0]), parse(&pair[1]));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(HashSet::from([a, b]).len(), 1);
    }
}

/// Where implementations disagree we are strict SemVer 2.0.0 with u64 numbers:
/// a leading `v` is refused, numbers beyond u64 are refused, the rest accepted.
#[test]
fn implementation_specific_cases_follow_our_documented_choice() {
    let cases = rows("implementation_specific.tsv", true);
    assert!(cases.len() >= 5);
    for row in cases {
        let input = &row[0];
        let fits_u64 = input
            .split('.')
            .all(|n| n.parse::<u64>().is_ok() || n.starts_with('v'));
        let expected_ok = !input.starts_with('v') && fits_u64;
        assert_eq!(Version::parse(input).is_ok(), expected_ok, "{input}");
    }
}
