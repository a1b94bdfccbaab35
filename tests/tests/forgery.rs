//! A forger who rewrites a backup and recomputes every hash, count and
//! checksum: restore refuses whenever the records are not what the audit
//! log describes, and `audit verify` does the same for a live store.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use lifecycle::audit::signing_key;
use lifecycle::chrono::{TimeZone, Utc};
use lifecycle::domain::AuditEvent;
use lifecycle::domain::ChainHead;
use lifecycle::store::MemoryStore;
use lifecycle::store::StoreImage;
use lifecycle::*;
use lifecycle_store::Commit;
use serde_json::Value;
use sha2::{Digest, Sha256};

async fn manager(store: Arc<dyn Store>) -> ModelLifecycleManager {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap(),
    ));
    ModelLifecycleManager::builder()
        .store(store)
        .clock(clock)
        .alert_check_interval(None)
        .build()
        .await
        .unwrap()
}

/// A backup of gpt 1.0.0 registered and activated: its lines as JSON.
async fn honest_backup() -> Vec<Value> {
    let m = manager(Arc::new(MemoryStore::new())).await;
    let gpt = ModelId::new("gpt").unwrap();
    let record = ModelVersion::new(
        gpt.clone(),
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(8_192, 1_024),
        None,
        m.now(),
    );
    m.register_model(record).await.unwrap();
    m.activate_model(&gpt, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let mut bytes = Vec::new();
    m.create_backup(&mut bytes).await.unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What a forger does after editing: renumbers and re-seals every audit
/// entry, recounts, and recomputes the checksum, so that only the meaning
/// of the content can give the edit away.
fn reseal(mut lines: Vec<Value>) -> Vec<u8> {
    lines.retain(|l| l.get("end").is_none());
    let mut head = None;
    let mut counts = (0u64, 0u64, 0u64, 0u64);
    for line in &mut lines {
        if let Some(audit) = line.get_mut("audit") {
            let entry: AuditLogEntry = serde_json::from_value(audit.clone()).unwrap();
            let (sequence, prev) = ChainHead::next(head);
            let sealed = entry.event.seal(sequence, prev);
            head = Some(sealed.head());
            *audit = serde_json::to_value(&sealed).unwrap();
            counts.3 += 1;
        } else if let Some(model) = line.get("model") {
            counts.0 += 1;
            counts.1 += model["versions"].as_array().unwrap().len() as u64;
        } else if line.get("metrics").is_some() {
            counts.2 += 1;
        }
    }
    let mut text = String::new();
    for line in &lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let sha: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let end = serde_json::json!({"end": {"models": counts.0, "versions": counts.1,
        "metrics": counts.2, "auditEntries": counts.3, "sha256": sha}});
    text.push_str(&end.to_string());
    text.push('\n');
    text.into_bytes()
}

fn audit_positions(lines: &[Value]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| lines[i].get("audit").is_some())
        .collect()
}

#[tokio::test]
async fn forged_backups_with_recomputed_hashes_are_refused_and_change_nothing() {
    let honest = honest_backup().await;
    let audits = audit_positions(&honest);
    let last = *audits.last().unwrap();
    assert_eq!(honest[last]["audit"]["kind"], "modelActivated");

    let mut truncated = honest.clone();
    truncated.remove(last);

    let mut edited = honest.clone();
    edited[last]["audit"]["details"]["status"] = "inactive".into();

    let mut swapped = honest.clone();
    swapped.swap(audits[0], last);

    let mut status_without_entry = honest.clone();
    let model = honest
        .iter()
        .position(|l| l.get("model").is_some())
        .unwrap();
    status_without_entry[model]["model"]["versions"][0]["status"] = "testing".into();

    let mut unregistered = honest.clone();
    let mut extra = honest[model]["model"]["versions"][0].clone();
    extra["version"] = "9.0.0".into();
    extra["status"] = "inactive".into();
    unregistered[model]["model"]["versions"]
        .as_array_mut()
        .unwrap()
        .push(extra);

    for (what, lines) in [
        ("a truncated tail", truncated),
        ("an edited entry", edited),
        ("two entries swapped", swapped),
        ("a status changed without an entry", status_without_entry),
        ("a version no entry registered", unregistered),
    ] {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let target = manager(store.clone()).await;
        let err = target.restore_backup(&reseal(lines)[..]).await.unwrap_err();
        assert!(
            err.to_string().contains("disagree with its audit log"),
            "{what}: {err}"
        );
        assert_eq!(
            StoreImage::read(&*store).await.unwrap(),
            StoreImage::default(),
            "{what}: nothing restored"
        );
    }
    // The resealing itself is faithful: the honest lines restore.
    let target = manager(Arc::new(MemoryStore::new())).await;
    target.restore_backup(&reseal(honest)[..]).await.unwrap();
    assert!(target.audit_log().verify().await.unwrap().is_intact());
}

/// A write that reaches the store without describing itself (as a tool
/// editing the files would) is found by `verify`.
#[tokio::test]
async fn verify_finds_state_the_audit_log_does_not_describe() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let m = manager(store.clone()).await;
    let gpt = ModelId::new("gpt").unwrap();
    for major in [1, 2] {
        let record = ModelVersion::new(
            gpt.clone(),
            Version::new(major, 0, 0),
            "openai",
            ModelCapabilities::new(8_192, 1_024),
            None,
            m.now(),
        );
        m.register_model(record).await.unwrap();
    }
    assert!(m.audit_log().verify().await.unwrap().is_intact());
    let state = store.model(&gpt).await.unwrap();
    let mut sneaky = state.versions[1].clone();
    sneaky.activate(m.now()).unwrap();
    let commit = Commit::for_model(gpt.clone(), state.revision)
        .put(sneaky)
        .audit(AuditEvent::new(
            AuditEventKind::MetricsUpdated,
            Actor::new("someone").unwrap(),
            "nothing to see",
            m.now(),
        ));
    store.commit(commit).await.unwrap();
    let report = m.audit_log().verify().await.unwrap();
    assert!(report.broken.is_none(), "the chain itself is intact");
    assert!(!report.is_intact());
    let mismatch = report.state_mismatch.unwrap();
    assert!(
        mismatch.contains("gpt 2.0.0 is stored as active but the audit log says inactive"),
        "{mismatch}"
    );
}

/// A forger who rewrites the log with every hash recomputed, in ways the
/// state replay cannot see (a message edited, the tail cut), is caught by a
/// signed checkpoint kept outside the store; a forged checkpoint is caught
/// by its signature.
#[tokio::test]
async fn a_signed_checkpoint_kept_outside_catches_rewrites_the_state_cannot_show() {
    let lines = honest_backup().await;
    let source = manager(Arc::new(MemoryStore::new())).await;
    source.restore_backup(&reseal(lines)[..]).await.unwrap();
    let key = signing_key(&"7".repeat(64)).unwrap();
    let public = key.verifying_key();
    // A model-less entry before the signed head, so that cutting the tail
    // below it leaves the state intact.
    source.sign_audit_head(&key).await.unwrap();
    let checkpoint = source.sign_audit_head(&key).await.unwrap().unwrap();
    // One more entry after the checkpoint: the chain goes on.
    source.sign_audit_head(&key).await.unwrap();
    let log = source.audit_log();
    let honest = log.verify_against(&checkpoint, &public).await.unwrap();
    assert_eq!(honest.problem, None);
    assert_eq!(honest.entries_since, 2);

    let mut bytes = Vec::new();
    source.create_backup(&mut bytes).await.unwrap();
    let lines: Vec<Value> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let audits = audit_positions(&lines);
    let mut edited = lines.clone();
    edited[audits[0]]["audit"]["message"] = "nothing happened here".into();
    let mut cut = lines.clone();
    for at in audits[audits.len() - 3..].iter().rev() {
        cut.remove(*at);
    }
    for (what, forged, says) in [
        ("an edited message", edited, "the log was rewritten"),
        ("a cut tail", cut, "it was truncated"),
    ] {
        let target = manager(Arc::new(MemoryStore::new())).await;
        target.restore_backup(&reseal(forged)[..]).await.unwrap();
        let report = target.audit_log().verify().await.unwrap();
        assert!(
            report.is_intact(),
            "{what}: invisible to the chain and the state"
        );
        let found = target
            .audit_log()
            .verify_against(&checkpoint, &public)
            .await
            .unwrap();
        let problem = found.problem.unwrap_or_default();
        assert!(problem.contains(says), "{what}: {problem}");
    }

    let mut moved = checkpoint.clone();
    moved.sequence -= 1;
    let other = signing_key(&"8".repeat(64)).unwrap().verifying_key();
    for (what, forged, key) in [
        ("a moved checkpoint", moved, public),
        ("another key", checkpoint.clone(), other),
    ] {
        let found = log.verify_against(&forged, &key).await.unwrap();
        assert!(
            found.problem.unwrap_or_default().contains("signature"),
            "{what}"
        );
    }
}
