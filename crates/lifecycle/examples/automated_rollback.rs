//! Guide, "Automated rollback": with `auto_rollback_on_critical` (on by
//! default), a release whose requests start failing is rolled back to the
//! last version that met its thresholds, as actor `auto-rollback`, with the
//! alert in the audit log.
//!
//! Run: `cargo run -p lifecycle --example automated_rollback`
#![allow(clippy::print_stdout)]

use lifecycle::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The background task checks every version's health every second.
    let manager = ModelLifecycleManager::builder().memory().build().await?;
    let model = ModelId::new("gpt-4o")?;
    let (v1, v2) = (Version::parse("1.0.0")?, Version::parse("1.1.0")?);
    for v in [&v1, &v2] {
        let record = ModelVersion::new(
            model.clone(),
            v.clone(),
            "openai",
            ModelCapabilities::new(128_000, 16_384),
            ModelCostInfo::usd(dec!(0.0025), dec!(0.01)),
            manager.now(),
        );
        manager.register_model(record).await?;
    }
    manager.activate_model(&model, &v1).await?;
    for _ in 0..200 {
        manager.record_inference("gpt-4o", &v1, &InferenceResult::success(650.0))?;
    }
    // 1.1.0 passes its tests...
    manager.deploy_to_testing(&model, &v2).await?;
    for _ in 0..60 {
        manager.record_inference("gpt-4o", &v2, &InferenceResult::success(640.0))?;
    }
    manager.activate_model(&model, &v2).await?;
    println!("1.1.0 released; its requests start timing out");
    for _ in 0..100 {
        manager.record_inference(
            "gpt-4o",
            &v2,
            &InferenceResult::failure(ErrorKind::Timeout, 30_000.0),
        )?;
    }

    let mut active = v2.clone();
    for _ in 0..100 {
        active = manager
            .get_active_model(&model)
            .await?
            .ok_or("no active version")?
            .version;
        if active == v1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let history = manager.get_model_history(&model).await?;
    let rollback = history
        .iter()
        .find(|e| e.event.kind == AuditEventKind::ModelRolledBack)
        .ok_or("no rollback in the audit log")?;
    println!(
        "{} by {}: {}",
        rollback.event.kind, rollback.event.actor, rollback.event.details["reason"]
    );
    assert_eq!(active, v1, "traffic is back on 1.0.0");
    assert_eq!(rollback.event.actor.as_str(), "auto-rollback");
    assert_eq!(
        manager.get_model(&model, &v2).await?.status(),
        ModelStatus::Deprecated
    );
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
