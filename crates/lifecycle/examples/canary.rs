//! Guide, "Canary": 2.0.0 on 5 % of traffic, then 50 %, judged against the
//! active 1.0.0 at each step, then promoted.
//!
//! Run: `cargo run -p lifecycle --example canary`
#![allow(clippy::print_stdout)]

use lifecycle::*;

/// Routes `n` requests by user key and records a plausible outcome for each.
fn serve(manager: &ModelLifecycleManager, n: u32, from: u32) -> Result<(u32, u32), LifecycleError> {
    let (mut active, mut canary) = (0, 0);
    for i in from..from + n {
        let key = format!("user-{i}");
        let Some(routed) = manager.route("gpt-4-turbo", key.as_bytes())? else {
            continue;
        };
        // Deterministic spread: 300–700 ms, confidence 0.8–0.95.
        let latency = 300.0 + f64::from(i * 37 % 400);
        let outcome = InferenceResult::success(latency)
            .with_tokens(1_000, 150)
            .with_confidence(0.8 + f64::from(i % 16) / 100.0);
        manager.record_inference("gpt-4-turbo", &routed.version.version, &outcome)?;
        match routed.lane {
            Lane::Canary => canary += 1,
            Lane::Active => active += 1,
        }
    }
    Ok((active, canary))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = ModelLifecycleManager::builder().memory().build().await?;
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

    let mut next_user = 0;
    for percent in [5, 50] {
        if percent == 5 {
            manager
                .start_canary(&model, &v2, CanaryWeight::new(percent)?)
                .await?;
        } else {
            manager
                .set_canary_weight(&model, CanaryWeight::new(percent)?)
                .await?;
        }
        let (active, canary) = serve(&manager, 4_000, next_user)?;
        next_user += 4_000;
        let share = f64::from(canary) / f64::from(active + canary) * 100.0;
        let report = manager.compare_versions("gpt-4-turbo", &v1, &v2)?;
        println!(
            "canary at {percent} %: {share:.1} % of requests; {:?}, score {:.0}",
            report.verdict, report.score
        );
        println!("  {}", report.summary);
        assert!(
            (share - f64::from(percent)).abs() < 2.0,
            "routing follows the weight"
        );
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "same behaviour: the canary passes"
        );
    }
    manager.promote_canary(&model).await?;
    let active = manager
        .get_active_model(&model)
        .await?
        .ok_or("no active version")?;
    println!("promoted: {} {} is active", model, active.version);
    assert_eq!(active.version, v2);
    manager.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
