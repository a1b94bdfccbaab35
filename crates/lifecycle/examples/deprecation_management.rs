//! Guide, "Deprecation management": a deprecated version with a replacement
//! and a grace period; warnings grow more urgent as its end of life nears;
//! callers pinning a range are told; maintenance retires it when the day comes.
//!
//! Run: `cargo run -p lifecycle --example deprecation_management`
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
        .build()
        .await?;
    let model = ModelId::new("text-embedding")?;
    let (v2, v3) = (Version::parse("2.4.0")?, Version::parse("3.0.0")?);
    for v in [&v2, &v3] {
        let record = ModelVersion::new(
            model.clone(),
            v.clone(),
            "openai",
            ModelCapabilities::new(8_191, 1),
            ModelCostInfo::usd(dec!(0.0001), dec!(0.0)),
            manager.now(),
        );
        manager.register_model(record).await?;
    }
    manager.activate_model(&model, &v2).await?;
    // Announce the end of 2.4.0 with 45 days' grace, then switch traffic to 3.0.0.
    let why = "3.0.0 embeddings are better and cheaper";
    manager
        .deprecate_model(&model, &v2, why, Some(&v3), Some(45))
        .await?;
    manager.activate_model(&model, &v3).await?;

    // A caller pinned to ^2 still gets 2.4.0, with a notice.
    let resolved = manager.resolve("text-embedding", "^2")?;
    let notice = resolved.deprecation.ok_or("2.4.0 should carry a notice")?;
    println!(
        "^2 resolves to {} — deprecated, {} days left, move to {:?}",
        resolved.version.version,
        notice.days_until_eol,
        notice.replacement.map(|r| r.to_string())
    );
    assert_eq!(resolved.version.version, v2);

    let mut severities = Vec::new();
    for days in [0, 20, 40] {
        clock.set(start + Duration::days(days));
        let warnings = manager.get_deprecation_warnings().await?;
        let w = warnings.first().ok_or("a warning for 2.4.0")?;
        println!(
            "day {days:>2}: {:?}, {} days until end of life",
            w.severity, w.days_until_eol
        );
        severities.push(w.severity);
    }
    assert_eq!(
        severities,
        [Severity::Info, Severity::Warning, Severity::Critical]
    );

    clock.set(start + Duration::days(46));
    let report = manager.run_maintenance().await?;
    println!("maintenance retired {:?}", report.retired);
    assert_eq!(
        report.retired,
        [RetiredVersion {
            model_id: model.clone(),
            version: v2.clone()
        }]
    );
    assert_eq!(
        manager.get_model(&model, &v2).await?.status(),
        ModelStatus::Retired
    );
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
