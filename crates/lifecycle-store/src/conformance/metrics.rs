//! Cases: metrics checkpoints.

use std::sync::Arc;

use lifecycle_domain::ModelPerformanceMetrics;

use super::fixtures::*;
use crate::{MetricsSnapshot, Store, StoreError};

pub fn snapshot(model: &str, v: &str, samples: u64, secs: i64) -> MetricsSnapshot {
    MetricsSnapshot {
        replica: String::new(),
        model_id: id(model),
        version: ver(v),
        taken_at: at(secs),
        metrics: ModelPerformanceMetrics {
            sample_count: samples,
            success_count: samples - 1,
            failure_count: 1,
            mean_latency_ms: Some(420.5),
            p50_latency_ms: Some(400.0),
            p95_latency_ms: Some(900.25),
            p99_latency_ms: Some(1500.0),
            latency_quantiles: Default::default(),
            failures_by_kind: Default::default(),
            mean_confidence: Some(0.875),
            total_input_tokens: samples * 800,
            total_output_tokens: samples * 120,
            total_cost: Some(lifecycle_domain::Decimal::new(125, 1)),
            updated_at: at(secs),
        },
        state: vec![0, 1, 2, 255, samples as u8],
    }
}

pub async fn snapshots_round_trip_and_replace(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0", "2.0.0"]).await;
    let first = snapshot("m", "1.0.0", 100, 10);
    store.save_metrics(first.clone()).await.unwrap();
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![first]
    );
    assert_eq!(
        store.metrics(&id("m"), &ver("2.0.0")).await.unwrap(),
        Vec::<MetricsSnapshot>::new()
    );
    let later = snapshot("m", "1.0.0", 200, 20);
    store.save_metrics(later.clone()).await.unwrap();
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0+build")).await.unwrap(),
        vec![later],
        "replaced, and found under any build metadata"
    );
    assert_eq!(
        store.model(&id("m")).await.unwrap().revision,
        1,
        "checkpoints do not bump the revision"
    );
}

pub async fn snapshots_need_a_registered_version(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    for (model, v) in [("m", "9.9.9"), ("unknown", "1.0.0")] {
        match store.save_metrics(snapshot(model, v, 10, 0)).await {
            Err(StoreError::UnknownVersion { model_id, version }) => {
                assert_eq!((model_id, version), (id(model), ver(v)));
            }
            other => panic!("{model} {v}: {other:?}"),
        }
        assert_eq!(
            store.metrics(&id(model), &ver(v)).await.unwrap(),
            Vec::<MetricsSnapshot>::new()
        );
    }
    let mut inconsistent = snapshot("m", "1.0.0", 10, 0);
    inconsistent.metrics.sample_count = 3;
    assert!(matches!(
        store.save_metrics(inconsistent).await,
        Err(StoreError::Domain(_))
    ));
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        Vec::<MetricsSnapshot>::new()
    );
}

pub async fn batches_land_whole_and_once(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0", "2.0.0"]).await;
    assert!(!store.batch_recorded("b1").await.unwrap());
    let (one, two) = (
        snapshot("m", "1.0.0", 100, 10),
        snapshot("m", "2.0.0", 50, 10),
    );
    store
        .save_metrics_batch(vec![one.clone(), two.clone()], "b1")
        .await
        .unwrap();
    assert!(store.batch_recorded("b1").await.unwrap());
    assert!(!store.batch_recorded("b2").await.unwrap());
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![one.clone()]
    );
    assert_eq!(
        store.metrics(&id("m"), &ver("2.0.0")).await.unwrap(),
        vec![two]
    );
    match store
        .save_metrics_batch(vec![snapshot("m", "1.0.0", 999, 20)], "b1")
        .await
    {
        Err(StoreError::BatchRecorded { batch_id }) => assert_eq!(batch_id, "b1"),
        other => panic!("a repeated batch: {other:?}"),
    }
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![one],
        "a repeated batch writes nothing"
    );
    assert_eq!(store.model(&id("m")).await.unwrap().revision, 1);
}

pub async fn a_batch_with_a_bad_snapshot_writes_nothing(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let good = snapshot("m", "1.0.0", 10, 0);
    let mut inconsistent = snapshot("m", "1.0.0", 10, 0);
    inconsistent.metrics.sample_count = 3;
    for (bad, expected) in [
        (snapshot("m", "9.9.9", 10, 0), "unknown version"),
        (inconsistent, "invalid metrics"),
    ] {
        let outcome = store.save_metrics_batch(vec![good.clone(), bad], "b").await;
        assert!(
            matches!(
                outcome,
                Err(StoreError::UnknownVersion { .. } | StoreError::Domain(_))
            ),
            "{expected}: {outcome:?}"
        );
        assert_eq!(
            store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
            Vec::<MetricsSnapshot>::new(),
            "{expected}"
        );
        assert!(!store.batch_recorded("b").await.unwrap(), "{expected}");
    }
}

pub async fn all_metrics_reads_every_checkpoint_once(store: Arc<dyn Store>) {
    assert!(store.all_metrics().await.unwrap().is_empty());
    register(&*store, "m", &["1.0.0", "2.0.0", "3.0.0"]).await;
    register(&*store, "n", &["1.0.0"]).await;
    let batched = (
        snapshot("m", "1.0.0", 100, 10),
        snapshot("n", "1.0.0", 40, 10),
    );
    store
        .save_metrics_batch(vec![batched.0.clone(), batched.1.clone()], "b1")
        .await
        .unwrap();
    store
        .save_metrics(snapshot("m", "2.0.0", 20, 10))
        .await
        .unwrap();
    let replaced = snapshot("m", "2.0.0", 30, 20);
    store.save_metrics(replaced.clone()).await.unwrap();
    let mut all = store.all_metrics().await.unwrap();
    all.sort_by(|a, b| (&a.model_id, &a.version).cmp(&(&b.model_id, &b.version)));
    assert_eq!(
        all,
        vec![batched.0, replaced, batched.1],
        "each saved checkpoint, the last of each version, and nothing else (no batch marks)"
    );
}

/// `snapshot` as `replica` saved it.
pub fn of_replica(replica: &str, samples: u64, secs: i64) -> MetricsSnapshot {
    MetricsSnapshot {
        replica: replica.to_string(),
        ..snapshot("m", "1.0.0", samples, secs)
    }
}

pub async fn each_replica_keeps_its_own_checkpoint(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0", "1.0.1"]).await;
    let merged = of_replica("", 100, 10);
    let (a, b) = (of_replica("a", 20, 11), of_replica("b", 30, 12));
    for saved in [&b, &merged, &a] {
        store.save_metrics(saved.clone()).await.unwrap();
    }
    let a_later = of_replica("a", 25, 13);
    store.save_metrics(a_later.clone()).await.unwrap();
    store
        .save_metrics(snapshot("m", "1.0.1", 7, 14))
        .await
        .unwrap();
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![merged.clone(), a_later.clone(), b.clone()],
        "the merged part first, then by replica; a replica replaces only its own"
    );
    let mut all = store.all_metrics().await.unwrap();
    all.retain(|s| s.version == ver("1.0.0"));
    all.sort_by(|x, y| x.replica.cmp(&y.replica));
    assert_eq!(all, vec![merged, a_later, b]);
    assert_eq!(store.model(&id("m")).await.unwrap().revision, 1);
}

pub async fn a_fold_replaces_the_merged_part_only_if_unchanged(store: Arc<dyn Store>) {
    register(&*store, "m", &["1.0.0"]).await;
    let (a, b) = (of_replica("a", 20, 11), of_replica("b", 30, 12));
    store.save_metrics(a.clone()).await.unwrap();
    store.save_metrics(b.clone()).await.unwrap();
    let first = of_replica("a", 20, 13);
    assert!(store.fold_metrics(first.clone(), None, "a").await.unwrap());
    let merged = MetricsSnapshot {
        replica: String::new(),
        ..first
    };
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![merged.clone(), b.clone()],
        "a's checkpoint moved into the merged part"
    );
    // b read the store before a folded: its fold is refused, and changes nothing.
    let stale = of_replica("", 30, 14);
    assert!(!store.fold_metrics(stale, None, "b").await.unwrap());
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![merged.clone(), b.clone()]
    );
    let both = of_replica("", 50, 15);
    assert!(store
        .fold_metrics(both.clone(), Some(merged.state.clone()), "b")
        .await
        .unwrap());
    assert_eq!(
        store.metrics(&id("m"), &ver("1.0.0")).await.unwrap(),
        vec![both]
    );
    match store
        .fold_metrics(snapshot("m", "9.9.9", 1, 16), None, "a")
        .await
    {
        Err(StoreError::UnknownVersion { version, .. }) => assert_eq!(version, ver("9.9.9")),
        other => panic!("a fold for an unknown version: {other:?}"),
    }
}
