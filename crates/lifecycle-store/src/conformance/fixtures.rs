//! Values and steps the conformance cases share.

use lifecycle_domain::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities, ModelCostInfo,
    ModelDeprecationInfo, ModelId, ModelStatus, ModelVersion, Version,
};

use crate::{Commit, CommitReceipt, Store, StoreError};

/// The suite's fixed start of time.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// `t0` plus `secs` seconds.
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

pub fn id(name: &str) -> ModelId {
    ModelId::new(name).unwrap()
}

pub fn ver(v: &str) -> Version {
    Version::parse(v).unwrap()
}

/// An inactive version record.
pub fn record(model: &str, v: &str) -> ModelVersion {
    ModelVersion::new(
        id(model),
        ver(v),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        t0(),
    )
}

/// An event about a version, at `t0 + secs`.
pub fn event(kind: AuditEventKind, model: &str, v: &str, secs: i64) -> AuditEvent {
    AuditEvent::new(
        kind,
        Actor::new("conformance").unwrap(),
        format!("{kind} {model} {v}"),
        at(secs),
    )
    .for_version(id(model), ver(v))
}

/// Registers versions of a new model in one commit, each with its audit event.
pub async fn register(store: &dyn Store, model: &str, versions: &[&str]) -> CommitReceipt {
    let revision = store.model(&id(model)).await.unwrap().revision;
    let mut commit = Commit::for_model(id(model), revision);
    for v in versions {
        commit =
            commit
                .put(record(model, v))
                .audit(event(AuditEventKind::ModelRegistered, model, v, 0));
    }
    store.commit(commit).await.unwrap()
}

/// Makes `v` the active version, deactivating the current one, as a service
/// would: read, change, commit; on a conflict, read again. Returns the receipt.
pub async fn activate(store: &dyn Store, model: &str, v: &str) -> CommitReceipt {
    for _ in 0..10_000 {
        let state = store.model(&id(model)).await.unwrap();
        let mut commit = Commit::for_model(id(model), state.revision);
        if let Some(current) = state.active() {
            if current.version == ver(v) {
                panic!("{model} {v} is already active");
            }
            let mut current = current.clone();
            current.deactivate(at(1)).unwrap();
            commit = commit.put(current);
        }
        let mut target = state.version(&ver(v)).unwrap().clone();
        target.activate(at(1)).unwrap();
        commit = commit
            .put(target)
            .audit(event(AuditEventKind::ModelActivated, model, v, 1));
        match store.commit(commit).await {
            Ok(receipt) => return receipt,
            Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
            Err(other) => panic!("activating {model} {v}: {other}"),
        }
    }
    panic!("activating {model} {v}: still conflicting after 10000 tries")
}

/// A version record moved to `status` along legal moves.
pub fn in_status(model: &str, v: &str, status: ModelStatus) -> ModelVersion {
    let mut r = record(model, v);
    match status {
        ModelStatus::Inactive => {}
        ModelStatus::Testing => r.deploy_to_testing(t0()).unwrap(),
        ModelStatus::Canary => r
            .start_canary(lifecycle_domain::CanaryWeight::new(5).unwrap(), t0())
            .unwrap(),
        ModelStatus::Active => r.activate(t0()).unwrap(),
        ModelStatus::Deprecated => {
            r.activate(t0()).unwrap();
            let info = ModelDeprecationInfo::new("old", None, 90, t0()).unwrap();
            r.deprecate(info, t0()).unwrap();
        }
        ModelStatus::Retired => r.retire(t0()).unwrap(),
    }
    r
}
