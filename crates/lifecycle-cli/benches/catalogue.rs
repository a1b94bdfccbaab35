//! Read commands of the `lifecycle` binary on a real-sized catalogue, as a
//! user runs them (process start, store open, command, close): 5,000 models
//! against a one-model store in the same run, and `show` at 500 / 5,000 /
//! 50,000 models for the startup curve. A tenth of the models have an active
//! version with results recorded; the rest are registered only, as after an
//! import of LiteLLM's map.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use lifecycle::*;

/// Where a bench's store is: a directory, or a PostgreSQL database.
enum Place {
    Dir(PathBuf),
    Database(String),
}

impl Place {
    /// The CLI's arguments naming the store.
    fn args(&self) -> [&OsStr; 2] {
        match self {
            Self::Dir(dir) => ["--data-dir".as_ref(), dir.as_os_str()],
            Self::Database(url) => ["--store".as_ref(), url.as_ref()],
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn catalogue(place: &Place, models: usize) {
    runtime().block_on(async {
        let builder = ModelLifecycleManager::builder();
        let builder = match place {
            Place::Dir(dir) => builder.sled(dir),
            Place::Database(url) => builder.postgres(url),
        };
        let m = builder.build().await.unwrap();
        let versions: Vec<ModelVersion> = (0..models)
            .map(|i| {
                ModelVersion::new(
                    ModelId::new(format!("provider-{}/model-{i}", i % 40)).unwrap(),
                    Version::new(1, 0, 0),
                    ["openai", "anthropic", "bedrock", "vertex_ai"][i % 4],
                    ModelCapabilities::new(128_000, 4_096),
                    ModelCostInfo::usd(dec!(0.0025), dec!(0.01)),
                    m.now(),
                )
            })
            .collect();
        for result in m.register_models(versions).await {
            result.unwrap();
        }
        for i in (0..models).step_by(10) {
            let id = ModelId::new(format!("provider-{}/model-{i}", i % 40)).unwrap();
            m.activate_model(&id, &Version::new(1, 0, 0)).await.unwrap();
            let ok = InferenceResult::success(420.0).with_tokens(900, 120);
            for _ in 0..20 {
                m.record_inference(id.as_str(), &Version::new(1, 0, 0), &ok)
                    .unwrap();
            }
        }
        m.dispose().await.unwrap();
    });
}

fn run(place: &Place, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
        .args(place.args())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn store(models: usize) -> Place {
    let dir = std::env::temp_dir().join(format!(
        "lifecycle-bench-catalogue-{}-{models}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let place = Place::Dir(dir);
    catalogue(&place, models);
    place
}

/// A fresh database named after `name` on the server the PostgreSQL
/// benches use, if one is set (`cargo xtask bench` starts one).
fn database(name: &str) -> Option<Place> {
    lifecycle_store_postgres::testing::server_url()?;
    let url = runtime().block_on(lifecycle_store_postgres::testing::fresh_database(name));
    Some(Place::Database(url))
}

fn remove(place: Place, name: &str) {
    match place {
        Place::Dir(dir) => {
            let _ = std::fs::remove_dir_all(dir);
        }
        Place::Database(_) => lifecycle_store_postgres::testing::drop_database(name),
    }
}

const COMMANDS: [(&str, &[&str]); 5] = [
    ("list", &["list"]),
    ("show", &["show", "provider-0/model-0", "1.0.0"]),
    ("route", &["route", "provider-0/model-0", "user-1"]),
    ("status", &["status"]),
    ("audit recent", &["audit", "recent"]),
];

fn commands(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    place: &Place,
    label: &str,
) {
    for (name, args) in COMMANDS {
        group.bench_function(format!("{name} ({label})"), |b| b.iter(|| run(place, args)));
    }
}

/// A map in LiteLLM's format with `entries` chat models, a tenth of them
/// with an announced end of life and a successor.
fn litellm_map(entries: usize) -> String {
    let mut map = serde_json::Map::new();
    for i in 0..entries {
        let context = [8_192, 32_768, 128_000, 200_000][i % 4];
        let output = [4_096, 8_192, 16_384][i % 3];
        let input_price = [1e-7, 5e-7, 2.5e-6, 3e-6][i % 4];
        let output_price = [4e-7, 1e-6, 1e-5, 1.5e-5][i % 4];
        let provider = ["openai", "anthropic", "bedrock", "vertex_ai"][i % 4];
        let mut entry = serde_json::json!({
            "max_input_tokens": context,
            "max_output_tokens": output,
            "input_cost_per_token": input_price,
            "output_cost_per_token": output_price,
            "litellm_provider": provider,
            "mode": "chat",
        });
        if i % 10 == 0 {
            entry["deprecation_date"] = "2027-06-30".into();
            entry["successor_model"] = format!("model-{}", i + 1).into();
        }
        map.insert(format!("model-{i}"), entry);
    }
    serde_json::Value::Object(map).to_string()
}

fn bench(c: &mut Criterion) {
    let map = std::env::temp_dir().join(format!(
        "lifecycle-bench-litellm-{}.json",
        std::process::id()
    ));
    std::fs::write(&map, litellm_map(5_000)).unwrap();
    let map_arg = map.to_str().unwrap();
    let target = Place::Dir(
        std::env::temp_dir().join(format!("lifecycle-bench-import-{}", std::process::id())),
    );
    let mut import = c.benchmark_group("catalogue import");
    import
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    import.bench_function("import litellm (5000 entries, new store)", |b| {
        b.iter(|| {
            if let Place::Dir(dir) = &target {
                let _ = std::fs::remove_dir_all(dir);
            }
            run(&target, &["init"]);
            run(&target, &["import", "litellm", map_arg]);
        })
    });
    remove(target, "");
    const IMPORT_DB: &str = "bench-cli-import";
    if let Some(target) = database(IMPORT_DB) {
        import.bench_function(
            "import litellm (5000 entries, new PostgreSQL database)",
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let target = database(IMPORT_DB).unwrap();
                        let started = Instant::now();
                        run(&target, &["init"]);
                        run(&target, &["import", "litellm", map_arg]);
                        total += started.elapsed();
                    }
                    total
                })
            },
        );
        remove(target, IMPORT_DB);
    }
    import.finish();
    let _ = std::fs::remove_file(&map);

    let one = store(1);
    let five_thousand = store(5_000);
    let mut group = c.benchmark_group("catalogue");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    commands(&mut group, &one, "1 models");
    commands(&mut group, &five_thousand, "5000 models");
    for models in [500, 50_000] {
        let place = store(models);
        group.bench_function(format!("show ({models} models)"), |b| {
            b.iter(|| run(&place, COMMANDS[1].1))
        });
        remove(place, "");
    }
    const CATALOGUE_DB: &str = "bench-cli-catalogue";
    if let Some(place) = database(CATALOGUE_DB) {
        catalogue(&place, 5_000);
        commands(&mut group, &place, "5000 models, PostgreSQL");
        remove(place, CATALOGUE_DB);
    }
    group.finish();
    remove(one, "");
    remove(five_thousand, "");
}

criterion_group!(benches, bench);
criterion_main!(benches);
