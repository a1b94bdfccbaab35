//! Guide, "Quick start": a manager on the durable sled store, one version
//! registered and activated, a request routed, its outcome recorded and judged.
//!
//! Run: `cargo run -p lifecycle --example quick_start`
#![allow(clippy::print_stdout)]

use lifecycle::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("lifecycle-quick-start-{}", std::process::id()));
    let manager = ModelLifecycleManager::builder()
        .sled(&dir)
        .actor(Actor::new("deploy-bot")?)
        .build()
        .await?;
    let model = ModelId::new("gpt-4-turbo")?;
    let v1 = Version::parse("1.0.0")?;
    let record = ModelVersion::new(
        model.clone(),
        v1.clone(),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        manager.now(),
    );
    manager.register_model(record).await?;
    manager.activate_model(&model, &v1).await?;

    // In the request path: which version serves this user, then how it went.
    let routed = manager
        .route("gpt-4-turbo", b"user-42")?
        .ok_or("no version serves gpt-4-turbo")?;
    println!("user-42 is served by {} {}", model, routed.version.version);
    let outcome = InferenceResult::success(512.0).with_tokens(1_200, 180);
    manager.record_inference("gpt-4-turbo", &routed.version.version, &outcome)?;

    let report = manager.evaluate_model("gpt-4-turbo", &v1)?;
    println!(
        "evaluation: {:?} after {} sample(s)",
        report.status, report.samples
    );
    assert_eq!(routed.version.version, v1);
    assert_eq!(report.samples, 1);
    assert!(matches!(
        report.status,
        EvaluationStatus::InsufficientData { needed: 49 }
    ));

    manager.dispose().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
