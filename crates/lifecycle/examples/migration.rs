//! Guide, "Migration from manual management": the models a team tracked by
//! hand in a config file are registered, what was in production is made
//! active, code asks the router instead of a hard-coded name, and the new
//! store is backed up and restored elsewhere.
//!
//! Run: `cargo run -p lifecycle --example migration`
#![allow(clippy::print_stdout)]

use lifecycle::domain::parse_decimal;
use lifecycle::*;
use serde::Deserialize;

/// One entry of the hand-kept config being migrated.
#[derive(Deserialize)]
struct Manual {
    model: String,
    version: String,
    provider: String,
    input_per_1k: f64,
    output_per_1k: f64,
    in_production: bool,
}

const MANUAL_CONFIG: &str = r#"[
  {"model": "gpt-4-turbo", "version": "1.0.0", "provider": "openai",
   "input_per_1k": 0.01, "output_per_1k": 0.03, "in_production": false},
  {"model": "gpt-4-turbo", "version": "1.1.0", "provider": "openai",
   "input_per_1k": 0.01, "output_per_1k": 0.03, "in_production": true},
  {"model": "claude-3-haiku", "version": "1.0.0", "provider": "anthropic",
   "input_per_1k": 0.00025, "output_per_1k": 0.00125, "in_production": true}
]"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = ModelLifecycleManager::builder()
        .memory()
        .actor(Actor::new("migration")?)
        .build()
        .await?;
    let entries: Vec<Manual> = serde_json::from_str(MANUAL_CONFIG)?;
    for entry in &entries {
        let model = ModelId::new(&entry.model)?;
        let version = Version::parse(&entry.version)?;
        // A JSON number's shortest text is the decimal the file wrote.
        let prices = ModelCostInfo::usd(
            parse_decimal(&entry.input_per_1k.to_string())?,
            parse_decimal(&entry.output_per_1k.to_string())?,
        );
        let record = ModelVersion::new(
            model.clone(),
            version.clone(),
            entry.provider.as_str(),
            ModelCapabilities::new(128_000, 4_096),
            prices,
            manager.now(),
        );
        manager.register_model(record).await?;
        if entry.in_production {
            manager.activate_model(&model, &version).await?;
        }
    }
    // Before: `let model = "gpt-4-turbo-1.1.0";` in the code. After:
    let routed = manager
        .route("gpt-4-turbo", b"request-1")?
        .ok_or("no active gpt-4-turbo")?;
    println!("gpt-4-turbo requests go to {}", routed.version.version);
    assert_eq!(routed.version.version, Version::parse("1.1.0")?);
    let active = manager.get_active_models().await?;
    assert_eq!(active.len(), 2);

    // Move the registry to its permanent home: backup, restore into an empty store.
    let mut backup = Vec::new();
    let written = manager.create_backup(&mut backup).await?;
    let production = ModelLifecycleManager::builder().memory().build().await?;
    let restored = production.restore_backup(&backup[..]).await?;
    println!(
        "backup: {} models, {} versions, {} audit entries",
        written.models, written.versions, written.audit_entries
    );
    assert_eq!(restored, written);
    assert_eq!(production.get_active_models().await?.len(), 2);
    assert!(production.audit_log().verify().await?.is_intact());
    manager.dispose().await?;
    production.dispose().await?;
    Ok(())
}

/// `cargo test` runs the example, so what it asserts is checked in CI.
#[test]
fn example_runs() -> Result<(), Box<dyn std::error::Error>> {
    main()
}
