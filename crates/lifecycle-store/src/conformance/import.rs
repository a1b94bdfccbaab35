//! Cases: importing a whole store image (what backups restore).

use std::sync::Arc;

use lifecycle_domain::{verify_chain, AuditEventKind, AuditHash, Severity};

use super::fixtures::*;
use super::metrics::snapshot;
use crate::{AuditQuery, Commit, MemoryStore, Store, StoreError, StoreImage};

/// A source store with two models, a pruned and extended audit log and
/// metrics checkpoints; returns its image.
async fn source_image() -> StoreImage {
    let source = MemoryStore::new();
    register(&source, "a", &["1.0.0", "2.0.0"]).await;
    register(&source, "b", &["0.9.0"]).await;
    activate(&source, "a", "1.0.0").await;
    activate(&source, "a", "2.0.0").await;
    source.prune_audit(2).await.unwrap();
    let warning =
        event(AuditEventKind::ThresholdViolated, "b", "0.9.0", 50).with_severity(Severity::Warning);
    source
        .commit(Commit::audit_only().audit(warning))
        .await
        .unwrap();
    source
        .save_metrics(snapshot("a", "2.0.0", 500, 60))
        .await
        .unwrap();
    StoreImage::read(&source).await.unwrap()
}

pub async fn an_imported_image_reads_back_whole_and_carries_on(store: Arc<dyn Store>) {
    let image = source_image().await;
    image.check().unwrap();
    assert_eq!(image.audit_checkpoint.map(|c| c.head.sequence), Some(2));
    store.import(image.clone()).await.unwrap();
    assert_eq!(StoreImage::read(&*store).await.unwrap(), image);
    let kept = store.audit(&AuditQuery::all()).await.unwrap();
    verify_chain(&kept, image.audit_checkpoint.map(|c| c.head)).unwrap();
    assert_eq!(
        store
            .audit(&AuditQuery::all().model(id("b")))
            .await
            .unwrap(),
        image
            .audit
            .iter()
            .filter(|e| e.event.model_id == Some(id("b")))
            .cloned()
            .collect::<Vec<_>>(),
        "indexes are built for imported entries"
    );
    let warned = AuditQuery::all().min_severity(Severity::Warning);
    assert_eq!(store.audit(&warned).await.unwrap().len(), 1);
    // The store carries on where the image ended: revisions and the chain.
    let a = store.model(&id("a")).await.unwrap();
    let next = Commit::for_model(id("a"), a.revision).audit(event(
        AuditEventKind::DeploymentDecision,
        "a",
        "2.0.0",
        70,
    ));
    let receipt = store.commit(next).await.unwrap();
    let head = store.audit_head().await.unwrap().unwrap();
    assert_eq!(
        receipt.entries[0].sequence,
        kept.last().unwrap().sequence + 1
    );
    assert_eq!(receipt.entries[0].prev_hash, kept.last().unwrap().hash);
    assert_eq!(head, receipt.entries[0].head());
}

pub async fn import_into_a_store_with_data_is_refused(store: Arc<dyn Store>) {
    register(&*store, "z", &["1.0.0"]).await;
    let before = StoreImage::read(&*store).await.unwrap();
    let err = store.import(source_image().await).await.unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty { .. }), "{err}");
    assert_eq!(StoreImage::read(&*store).await.unwrap(), before);
}

pub async fn inconsistent_images_are_refused_and_write_nothing(store: Arc<dyn Store>) {
    let good = source_image().await;
    let mut altered = good.clone();
    altered.audit[0].event.message.push_str(" (edited)");
    let mut duplicated = good.clone();
    duplicated.models.push(good.models[0].clone());
    let mut orphan_metrics = good.clone();
    orphan_metrics
        .metrics
        .push(snapshot("ghost", "1.0.0", 10, 1));
    let mut unlinked = good.clone();
    unlinked.audit[0].prev_hash = AuditHash::GENESIS;
    let mut two_active = good.clone();
    two_active.models[0].versions = vec![
        in_status("a", "1.0.0", lifecycle_domain::ModelStatus::Active),
        in_status("a", "2.0.0", lifecycle_domain::ModelStatus::Active),
    ];
    for (what, image) in [
        ("an altered entry", altered),
        ("a model twice", duplicated),
        ("metrics of an unknown version", orphan_metrics),
        ("a broken link", unlinked),
        ("two active versions", two_active),
    ] {
        let err = store.import(image).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidImage { .. } | StoreError::TwoInStatus { .. }
            ),
            "{what}: {err}"
        );
        assert_eq!(
            StoreImage::read(&*store).await.unwrap(),
            StoreImage::default(),
            "{what} wrote something"
        );
    }
    store.import(good).await.unwrap();
}
