//! The audit hash chain: sealing, verification, and that any changed byte is caught.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789)
}

fn event(i: i64) -> AuditEvent {
    AuditEvent::new(
        AuditEventKind::ALL[i as usize % AuditEventKind::ALL.len()],
        Actor::new("alice").unwrap(),
        format!("step {i}"),
        t0() + Duration::seconds(i),
    )
    .for_version(
        ModelId::new("gpt-4-turbo").unwrap(),
        Version::parse("2.0.0+build.7").unwrap(),
    )
    .with_detail("weight", 5 * i)
    .with_detail("reason", "canary")
}

/// A chain of `n` entries sealed one after another.
fn chain(n: i64) -> Vec<AuditLogEntry> {
    let mut entries: Vec<AuditLogEntry> = Vec::new();
    for i in 0..n {
        let (sequence, prev) = ChainHead::next(entries.last().map(AuditLogEntry::head));
        entries.push(event(i).seal(sequence, prev));
    }
    entries
}

#[test]
fn a_sealed_chain_verifies_and_returns_its_head() {
    let entries = chain(6);
    assert_eq!(entries[0].sequence, 1);
    assert_eq!(entries[0].prev_hash, AuditHash::GENESIS);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].sequence, pair[0].sequence + 1);
    }
    let head = verify_chain(&entries, None).unwrap();
    assert_eq!(head, Some(entries[5].head()));
    // Verifying a tail from its anchor works too.
    assert_eq!(
        verify_chain(&entries[3..], Some(entries[2].head())).unwrap(),
        head
    );
    assert_eq!(verify_chain([], None).unwrap(), None);
}

#[test]
fn the_hash_is_deterministic_and_depends_on_the_previous_hash() {
    let a = event(1).seal(1, AuditHash::GENESIS);
    let b = event(1).seal(1, AuditHash::GENESIS);
    assert_eq!(a.hash, b.hash);
    let c = event(1).seal(1, a.hash);
    assert_ne!(a.hash, c.hash);
}

#[test]
fn any_changed_byte_of_a_stored_entry_breaks_verification() {
    let entries = chain(5);
    let target = 2;
    let json = serde_json::to_string(&entries[target]).unwrap();
    let mut checked = 0;
    for at in 0..json.len() {
        let original = json.as_bytes()[at];
        let replacement = match original {
            b'0'..=b'8' => original + 1,
            b'9' => b'0',
            b'a'..=b'y' | b'A'..=b'Y' => original + 1,
            b'z' => b'a',
            b'Z' => b'A',
            _ => continue,
        };
        let mut bytes = json.clone().into_bytes();
        bytes[at] = replacement;
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let Ok(altered) = serde_json::from_str::<AuditLogEntry>(&text) else {
            continue;
        };
        if altered == entries[target] {
            continue;
        }
        let mut tampered = entries.clone();
        tampered[target] = altered;
        let err = verify_chain(&tampered, None).unwrap_err();
        assert!(
            err.sequence == 3 || err.sequence == 4,
            "byte {at} of {json}: broken at {}",
            err.sequence
        );
        checked += 1;
    }
    assert!(checked > 200, "only {checked} mutations parsed");
}

#[test]
fn each_kind_of_break_is_reported_at_its_entry() {
    let entries = chain(4);

    let mut altered = entries.clone();
    altered[1].event.message = "rewritten".into();
    let err = verify_chain(&altered, None).unwrap_err();
    assert_eq!(err.sequence, 2);
    assert!(
        matches!(err.problem, ChainProblem::ContentAltered { .. }),
        "{err}"
    );

    let mut removed = entries.clone();
    removed.remove(2);
    let err = verify_chain(&removed, None).unwrap_err();
    assert_eq!(err.problem, ChainProblem::SequenceGap { expected: 3 });

    // An entry re-sealed after an edit has a valid hash but breaks the next link.
    let mut resealed = entries.clone();
    let mut edited = resealed[1].event.clone();
    edited.actor = Actor::new("mallory").unwrap();
    resealed[1] = edited.seal(2, resealed[0].hash);
    let err = verify_chain(&resealed, None).unwrap_err();
    assert_eq!(err.sequence, 3);
    assert!(matches!(err.problem, ChainProblem::LinkBroken { .. }));
    assert!(err
        .to_string()
        .starts_with("audit chain broken at sequence 3: link broken"));
}

#[test]
fn entries_serialize_flat_in_camel_case_with_hex_hashes() {
    let entry = &chain(1)[0];
    let value: serde_json::Value = serde_json::to_value(entry).unwrap();
    assert_eq!(value["sequence"], 1);
    assert_eq!(value["kind"], "modelRegistered");
    assert_eq!(value["modelId"], "gpt-4-turbo");
    assert_eq!(value["severity"], "info");
    assert_eq!(value["prevHash"], "0".repeat(64));
    assert_eq!(value["hash"].as_str().unwrap().len(), 64);
    assert!(serde_json::from_str::<AuditHash>("\"xyz\"").is_err());
    // 64 characters that are not 64 hex digits: signs, spaces, one digit short.
    for bad in [
        "+0".repeat(32),
        " 0".repeat(32),
        "0".repeat(63),
        "é".repeat(32),
    ] {
        let quoted = format!("{bad:?}");
        assert!(
            serde_json::from_str::<AuditHash>(&quoted).is_err(),
            "{bad:?} must be refused"
        );
    }
    let hash = entry.hash;
    let round: AuditHash = serde_json::from_value(serde_json::json!(hash.to_string())).unwrap();
    assert_eq!(round, hash);
}

#[test]
fn events_validate_model_presence_and_message() {
    let mut orphan = event(0);
    orphan.model_id = None;
    assert!(orphan
        .validate()
        .unwrap_err()
        .to_string()
        .contains("audit.modelId"));
    let mut blank = event(0);
    blank.message = " ".into();
    assert!(blank.validate().is_err());
    assert!(event(0).validate().is_ok());
    assert_eq!(
        AuditEventKind::ModelRolledBack.default_severity(),
        Severity::Warning
    );
    assert!(Severity::Critical > Severity::Error && Severity::Warning > Severity::Info);
}

/// The details other crates read are written and read through typed
/// methods, stored as the text every existing entry holds: an entry
/// written by hand with those keys reads the same, and hashes the same.
#[test]
fn typed_details_read_back_and_keep_the_stored_text() {
    let typed = event(1)
        .with_status(ModelStatus::Canary)
        .with_weight(25)
        .with_replacement(&Version::parse("3.1.0").unwrap())
        .with_reason("latency regression")
        .with_approval(false);
    assert_eq!(typed.status(), Some(ModelStatus::Canary));
    assert_eq!(typed.weight(), Some(25));
    assert_eq!(typed.replacement(), Some(Version::parse("3.1.0").unwrap()));
    assert_eq!(typed.reason(), Some("latency regression"));
    assert_eq!(typed.approved(), Some(false));
    let by_hand = event(1)
        .with_detail("status", "canary")
        .with_detail("weight", "25")
        .with_detail("replacement", "3.1.0")
        .with_detail("reason", "latency regression")
        .with_detail("approved", "false");
    assert_eq!(
        typed.clone().seal(1, AuditHash::GENESIS).hash,
        by_hand.seal(1, AuditHash::GENESIS).hash
    );

    let garbled = event(1)
        .with_detail("status", "serving")
        .with_detail("weight", "250%")
        .with_detail("replacement", "v3")
        .with_detail("approved", "maybe");
    assert_eq!(
        (
            garbled.status(),
            garbled.weight(),
            garbled.replacement(),
            garbled.approved()
        ),
        (None, None, None, None),
        "a value that does not parse reads as absent"
    );
    assert_eq!(
        AuditEvent::new(AuditEventKind::Error, Actor::new("a").unwrap(), "m", t0()).reason(),
        None
    );
}
