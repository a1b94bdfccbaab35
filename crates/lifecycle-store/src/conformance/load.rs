//! Load for an adapter's benchmarks and fault tests: one audited, durable
//! commit after another, as a lifecycle move makes them.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities, ModelCostInfo, ModelId,
    ModelStatus, ModelVersion, Version,
};

use crate::{Commit, CommitReceipt, Store, StoreError};

fn record(model: &ModelId, major: u64, at: DateTime<Utc>) -> ModelVersion {
    ModelVersion::new(
        model.clone(),
        Version::new(major, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        at,
    )
}

fn event(
    kind: AuditEventKind,
    model: &ModelId,
    version: &Version,
    at: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent::new(
        kind,
        Actor::new("load").unwrap(),
        format!("{kind} {version}"),
        at,
    )
    .for_version(model.clone(), version.clone())
}

/// Registers 1.0.0 (active) and 2.0.0 of `model`, a new model.
pub async fn two_versions(store: &dyn Store, model: &ModelId, at: DateTime<Utc>) {
    let mut active = record(model, 1, at);
    active.activate(at).unwrap();
    let commit = Commit::for_model(model.clone(), 0)
        .put(active)
        .put(record(model, 2, at))
        .audit(event(
            AuditEventKind::ModelRegistered,
            model,
            &Version::new(1, 0, 0),
            at,
        ));
    store.commit(commit).await.unwrap();
}

/// One commit: reads `model` and swaps its active version, with the
/// activation's audit entry.
pub async fn swap_active(
    store: &dyn Store,
    model: &ModelId,
    at: DateTime<Utc>,
) -> Result<CommitReceipt, StoreError> {
    let state = store.model(model).await?;
    let mut commit = Commit::for_model(model.clone(), state.revision);
    for v in &state.versions {
        let mut v = v.clone();
        if v.status() == ModelStatus::Active {
            v.deactivate(at).unwrap();
        } else {
            v.activate(at).unwrap();
            commit = commit.audit(event(AuditEventKind::ModelActivated, model, &v.version, at));
        }
        commit = commit.put(v);
    }
    store.commit(commit).await
}

/// Makes `commits` of [`swap_active`] spread over one task per model in
/// `models` (task `t` on `models[t]`, through `stores[t % stores.len()]`),
/// all at once; returns the time `commits` of them take (whole rounds are
/// run, the time is scaled to `commits`): what a bench of concurrent
/// commits measures.
pub async fn swaps_in_parallel(
    stores: &[std::sync::Arc<dyn Store>],
    models: &[ModelId],
    commits: u64,
) -> std::time::Duration {
    let per_task = commits.div_ceil(models.len() as u64).max(1);
    let started = std::time::Instant::now();
    let tasks: Vec<_> = models
        .iter()
        .enumerate()
        .map(|(t, model)| {
            let (store, model) = (stores[t % stores.len()].clone(), model.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let at = lifecycle_domain::chrono::DateTime::<Utc>::from(
                        std::time::SystemTime::now(),
                    );
                    swap_active(&*store, &model, at).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started
        .elapsed()
        .mul_f64(commits as f64 / (per_task * models.len() as u64) as f64)
}
