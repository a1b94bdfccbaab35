//! Benchmark of `ModelRegistry::route`: the per-request hot path (target: under 50 ns).
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, Actor, CanaryWeight, Decimal, ModelCapabilities, ModelCostInfo, ModelId, ModelVersion,
    Succession, Version,
};
use lifecycle_registry::ModelRegistry;
use lifecycle_store::{MemoryStore, SystemClock};

fn route(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = rt.block_on(async {
        let registry = ModelRegistry::open(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            Succession::default(),
            Actor::new("bench").unwrap(),
        )
        .await
        .unwrap();
        // 100 models, each with an active version and a 5 % canary.
        for m in 0..100 {
            let model = ModelId::new(format!("gpt-4-turbo-{m}")).unwrap();
            for v in [1, 2] {
                let record = ModelVersion::new(
                    model.clone(),
                    Version::new(v, 0, 0),
                    "openai",
                    ModelCapabilities::new(128_000, 4_096),
                    ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                    DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH),
                );
                registry.register(record).await.unwrap();
            }
            registry
                .activate(&model, &Version::new(1, 0, 0))
                .await
                .unwrap();
            let weight = CanaryWeight::new(5).unwrap();
            registry
                .start_canary(&model, &Version::new(2, 0, 0), weight)
                .await
                .unwrap();
        }
        registry
    });
    let keys: Vec<String> = (0..1024).map(|i| format!("user-{i:08}")).collect();
    let mut i = 0;
    c.bench_function("route (100 models, 5 % canary)", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let routed = registry.route("gpt-4-turbo-42", keys[i].as_bytes());
            std::hint::black_box(routed)
        });
    });
}

criterion_group!(benches, route);
criterion_main!(benches);
