//! Guide, "Monitoring with alerts": a subscriber receives a critical alert
//! when the error rate breaks its threshold within the rolling window, and a
//! resolution once the window is healthy again — one alert per change, not
//! one per request.
//!
//! Run: `cargo run -p lifecycle --example monitoring_alerts`
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use lifecycle::chrono::Duration;
use lifecycle::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A manual clock moves the window on demand; alerts are checked by hand here.
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let manager = ModelLifecycleManager::builder()
        .memory()
        .clock(clock.clone())
        .alert_check_interval(None)
        .build()
        .await?;
    let mut alerts = manager.evaluator().subscribe_alerts();
    let model = ModelId::new("claude-3-sonnet")?;
    let v1 = Version::parse("1.0.0")?;
    let record = ModelVersion::new(
        model.clone(),
        v1.clone(),
        "anthropic",
        ModelCapabilities::new(200_000, 4_096),
        ModelCostInfo::usd(dec!(0.003), dec!(0.015)),
        manager.now(),
    );
    manager.register_model(record).await?;
    manager.activate_model(&model, &v1).await?;

    let ok = InferenceResult::success(800.0).with_confidence(0.9);
    let failed = InferenceResult::failure(ErrorKind::RateLimited, 120.0);
    for i in 0..400 {
        // A burst of rate limiting: one request in five fails.
        let outcome = if i % 5 == 0 { &failed } else { &ok };
        manager.record_inference("claude-3-sonnet", &v1, outcome)?;
    }
    manager.check_alerts()?;
    manager.check_alerts()?; // unchanged health: no second alert
    let critical = alerts.recv().await?;
    println!("{:?}: {}", critical.level, critical.message);
    assert_eq!(critical.level, AlertLevel::Critical);
    assert_eq!(critical.threshold, Some(Threshold::MaxErrorRate));
    assert!(alerts.try_recv().is_err(), "one alert per change of health");

    // Ten minutes later the burst has left the window.
    clock.advance(Duration::minutes(11));
    for _ in 0..100 {
        manager.record_inference("claude-3-sonnet", &v1, &ok)?;
    }
    manager.check_alerts()?;
    let resolved = alerts.recv().await?;
    println!("{:?}: {}", resolved.level, resolved.message);
    assert_eq!(resolved.level, AlertLevel::Resolved);
    let failures = manager.evaluator().failures("claude-3-sonnet", &v1)?;
    println!("lifetime failures by kind: {:?}", failures.by_kind);
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
