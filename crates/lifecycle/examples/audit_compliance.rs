//! Guide, "Audit and compliance": who changed what, which version served at
//! a past moment, a compliance report, an NDJSON export, and proof that the
//! log was not altered.
//!
//! Run: `cargo run -p lifecycle --example audit_compliance`
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use lifecycle::chrono::Duration;
use lifecycle::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = SystemClock.now();
    let clock = Arc::new(ManualClock::new(start));
    let manager = ModelLifecycleManager::builder()
        .memory()
        .clock(clock.clone())
        .actor(Actor::new("alice@example.com")?)
        .build()
        .await?;
    let model = ModelId::new("gpt-4-turbo")?;
    let (v1, v2) = (Version::parse("1.0.0")?, Version::parse("2.0.0")?);
    for v in [&v1, &v2] {
        let record = ModelVersion::new(
            model.clone(),
            v.clone(),
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            manager.now(),
        );
        manager.register_model(record).await?;
    }
    manager.activate_model(&model, &v1).await?;
    clock.advance(Duration::days(3));
    manager.deploy_to_testing(&model, &v2).await?;
    for _ in 0..60 {
        let tested = InferenceResult::success(480.0).with_confidence(0.9);
        manager.record_inference(model.as_str(), &v2, &tested)?;
    }
    manager.activate_model(&model, &v2).await?;
    clock.advance(Duration::days(1));

    for entry in manager.get_model_history(&model).await? {
        println!(
            "#{:<2} {} {:<20} by {}",
            entry.sequence,
            entry.event.timestamp.format("%Y-%m-%dT%H:%M:%SZ"),
            entry.event.kind.to_string(),
            entry.event.actor
        );
    }
    let served = manager
        .audit_log()
        .active_at(&model, start + Duration::days(1))
        .await?;
    println!("on day 1, {} served {:?}", model, served);

    let report = manager
        .generate_compliance_report(start, clock.now())
        .await?;
    println!(
        "compliance report: {} entries, chain {:?}",
        report.total_entries, report.chain
    );
    let mut export = Vec::new();
    let summary = manager
        .export_audit_log(start, clock.now(), ExportFormat::Ndjson, &mut export)
        .await?;
    println!(
        "exported {} entries, {} bytes of NDJSON",
        summary.entries,
        export.len()
    );
    let verified = manager.audit_log().verify().await?;
    println!("audit chain intact: {}", verified.is_intact());

    assert_eq!(report.total_entries, summary.entries);
    assert_eq!(
        export.iter().filter(|b| **b == b'\n').count() as u64,
        summary.entries
    );
    assert!(verified.is_intact());
    assert!(manager
        .get_model_history(&model)
        .await?
        .iter()
        .all(|e| e.event.actor.as_str() == "alice@example.com"));
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
