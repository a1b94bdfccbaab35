//! A manager built with `Loading::OnFirstUse` reads each model when a call
//! first names it: what it answers, records and saves is what a manager that
//! read everything at start would, and nothing another process saved is
//! lost or counted twice.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use lifecycle::chrono::{DateTime, Utc};
use lifecycle::*;

fn model(i: usize) -> ModelId {
    ModelId::new(format!("model-{i}")).unwrap()
}

fn v1() -> Version {
    Version::new(1, 0, 0)
}

fn record(i: usize, now: DateTime<Utc>) -> ModelVersion {
    ModelVersion::new(
        model(i),
        v1(),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.0025), dec!(0.01)),
        now,
    )
}

async fn manager(dir: &Path, loading: Loading) -> ModelLifecycleManager {
    ModelLifecycleManager::builder()
        .sled(dir)
        .alert_check_interval(None)
        .change_poll_interval(None)
        .loading(loading)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_loaded_on_first_use_answers_as_if_loaded_at_start() {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    let dir = store.as_path();
    let ok = InferenceResult::success(250.0).with_tokens(500, 80);

    // A catalogue of three models; model-1 active with 30 results saved.
    let first = manager(dir, Loading::AtStart).await;
    for i in 0..3 {
        first.register_model(record(i, first.now())).await.unwrap();
    }
    first.activate_model(&model(1), &v1()).await.unwrap();
    for _ in 0..30 {
        first.record_inference("model-1", &v1(), &ok).unwrap();
    }
    first.dispose().await.unwrap();

    let lazy = manager(dir, Loading::OnFirstUse).await;
    assert!(
        lazy.route("model-1", b"user-1").unwrap().is_none(),
        "nothing is read before a call names it"
    );
    assert!(lazy.record_inference("model-1", &v1(), &ok).is_err());
    lazy.load_model(&model(1)).await.unwrap();
    let routed = lazy.route("model-1", b"user-1").unwrap().unwrap();
    assert_eq!(routed.version.version, v1());
    let shown = lazy.get_model(&model(1), &v1()).await.unwrap();
    assert_eq!(
        shown.metrics.map(|m| m.sample_count),
        Some(30),
        "its saved statistics come with it"
    );
    for _ in 0..5 {
        lazy.record_inference("model-1", &v1(), &ok).unwrap();
    }
    // An async call loads the model it names by itself.
    lazy.deploy_to_testing(&model(2), &v1()).await.unwrap();
    let all = lazy.get_all_model_versions().await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter()
            .find(|v| v.model_id == model(1))
            .unwrap()
            .metrics
            .as_ref()
            .map(|m| m.sample_count),
        Some(35),
        "loading everything later keeps what was recorded since, once"
    );
    let status = lazy.get_system_status().await.unwrap();
    assert_eq!(status.models, 3);
    assert_eq!(status.active, vec![(model(1), v1())]);
    lazy.dispose().await.unwrap();

    let again = manager(dir, Loading::AtStart).await;
    let saved = again.get_model(&model(1), &v1()).await.unwrap();
    assert_eq!(saved.metrics.map(|m| m.sample_count), Some(35));
    assert_eq!(
        again.get_model(&model(2), &v1()).await.unwrap().status(),
        ModelStatus::Testing
    );
    again.dispose().await.unwrap();
}

/// What a catalogue-wide call answers and about which version, minus the
/// time each figure was read at.
fn catalogue_view(versions: &[ModelVersion]) -> Vec<(ModelId, Version, ModelStatus, String)> {
    versions
        .iter()
        .map(|v| {
            let metrics = v.metrics.as_ref().map(|m| {
                let mut m = m.clone();
                m.updated_at = DateTime::<Utc>::UNIX_EPOCH;
                m
            });
            (
                v.model_id.clone(),
                v.version.clone(),
                v.status(),
                format!("{metrics:?}"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_read_on_first_use_answers_from_checkpoints_and_loads_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    let dir = store.as_path();
    let first = manager(dir, Loading::AtStart).await;
    for i in 0..4 {
        first.register_model(record(i, first.now())).await.unwrap();
    }
    // model-1 serves well; model-2 fails every request: its alert fires.
    for i in [1, 2] {
        first.activate_model(&model(i), &v1()).await.unwrap();
    }
    for n in 0..60 {
        let ok = InferenceResult::success(200.0 + n as f64).with_tokens(500, 80);
        first.record_inference("model-1", &v1(), &ok).unwrap();
        let failed = InferenceResult::failure(ErrorKind::ServerError, 900.0);
        first.record_inference("model-2", &v1(), &failed).unwrap();
    }
    assert!(!first.check_alerts().unwrap().is_empty());
    first.dispose().await.unwrap();

    let eager = manager(dir, Loading::AtStart).await;
    let expected_versions = catalogue_view(&eager.get_all_model_versions().await.unwrap());
    let expected_status = eager.get_system_status().await.unwrap();
    eager.dispose().await.unwrap();
    assert_eq!(
        expected_status.alerts_firing.len(),
        1,
        "{:?}",
        expected_status.alerts_firing
    );

    let lazy = manager(dir, Loading::OnFirstUse).await;
    let versions = lazy.get_all_model_versions().await.unwrap();
    assert_eq!(catalogue_view(&versions), expected_versions);
    let status = lazy.get_system_status().await.unwrap();
    assert_eq!(status.alerts_firing, expected_status.alerts_firing);
    assert_eq!(
        status.versions_by_status,
        expected_status.versions_by_status
    );
    assert_eq!(status.active, expected_status.active);
    assert!(
        lazy.route("model-1", b"user-1").unwrap().is_none(),
        "answering about the catalogue loaded none of it"
    );
    // A model loaded since is answered from memory: with what it recorded
    // after its checkpoint.
    lazy.load_model(&model(1)).await.unwrap();
    let ok = InferenceResult::success(210.0).with_tokens(500, 80);
    lazy.record_inference("model-1", &v1(), &ok).unwrap();
    let versions = lazy.get_all_model_versions().await.unwrap();
    let one = versions.iter().find(|v| v.model_id == model(1)).unwrap();
    assert_eq!(one.metrics.as_ref().map(|m| m.sample_count), Some(61));
    lazy.dispose().await.unwrap();
}
