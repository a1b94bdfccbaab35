//! Guide, "Deployment workflow": register → testing → active, then a new
//! version, tested with results, replaces it and the old one is deprecated
//! with a grace period.
//!
//! Run: `cargo run -p lifecycle --example deployment_workflow`
#![allow(clippy::print_stdout)]

use lifecycle::*;

fn openai(
    model: &ModelId,
    version: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ModelVersion, DomainError> {
    Ok(ModelVersion::new(
        model.clone(),
        Version::parse(version)?,
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
        now,
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = ModelLifecycleManager::builder().memory().build().await?;
    let model = ModelId::new("gpt-4-turbo")?;
    let (v1, v2) = (Version::parse("1.0.0")?, Version::parse("2.0.0")?);
    manager
        .register_model(openai(&model, "1.0.0", manager.now())?)
        .await?;
    manager
        .register_model(openai(&model, "2.0.0", manager.now())?)
        .await?;

    manager.deploy_to_testing(&model, &v1).await?;
    manager.activate_model(&model, &v1).await?;
    println!(
        "1.0.0 is {}",
        manager.get_model(&model, &v1).await?.status()
    );

    // A new release is tested first: the policy refuses to replace a
    // serving version with one that has no results.
    let refused = manager.activate_model(&model, &v2).await;
    assert!(matches!(refused, Err(LifecycleError::Rejected(_))));
    manager.deploy_to_testing(&model, &v2).await?;
    for _ in 0..60 {
        let tested = InferenceResult::success(420.0).with_confidence(0.9);
        manager.record_inference("gpt-4-turbo", &v2, &tested)?;
    }
    // Activating it deprecates the old one (policy default, 90 days).
    manager.activate_model(&model, &v2).await?;
    let old = manager.get_model(&model, &v1).await?;
    let deprecation = old.deprecation().ok_or("1.0.0 should be deprecated")?;
    println!(
        "2.0.0 is active; 1.0.0 is {} until {} ({})",
        old.status(),
        deprecation.end_of_life.date_naive(),
        deprecation.reason
    );
    assert_eq!(
        manager.get_active_model(&model).await?.map(|a| a.version),
        Some(v2.clone())
    );
    assert_eq!(old.status(), ModelStatus::Deprecated);
    assert_eq!(deprecation.replacement_version, Some(v2));

    // An illegal move is a typed error naming the allowed ones; nothing changes.
    let Err(err) = manager
        .retire_model(&model, &Version::parse("2.0.0")?)
        .await
    else {
        return Err("retiring an active version must be refused".into());
    };
    println!("retiring the active version: {err}");
    assert!(err.to_string().contains("deprecated"));
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
