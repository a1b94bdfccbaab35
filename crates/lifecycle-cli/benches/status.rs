//! `lifecycle status` on a populated store, as an operator runs it: process
//! start, store open, evaluator restore, the status (which re-verifies the
//! whole audit chain), dispose. 20 models × 5 versions, 10,000 audit entries.
// Bench code: a failed setup step panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lifecycle::*;

fn populate(dir: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = ModelLifecycleManager::builder()
            .sled(dir)
            .build()
            .await
            .unwrap();
        for i in 0..20 {
            let id = ModelId::new(format!("model-{i}")).unwrap();
            for major in 1..=5 {
                let v = ModelVersion::new(
                    id.clone(),
                    Version::new(major, 0, 0),
                    "openai",
                    ModelCapabilities::new(128_000, 4_096),
                    ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
                    m.now(),
                );
                m.register_model(v).await.unwrap();
            }
            m.activate_model(&id, &Version::new(1, 0, 0)).await.unwrap();
            for _ in 0..500 {
                let ok = InferenceResult::success(420.0).with_tokens(900, 120);
                m.record_inference(id.as_str(), &Version::new(1, 0, 0), &ok)
                    .unwrap();
            }
            m.start_canary(&id, &Version::new(2, 0, 0), CanaryWeight::new(5).unwrap())
                .await
                .unwrap();
        }
        while m.get_recent_audit_entries(1).await.unwrap()[0].sequence < 10_000 {
            m.can_deploy_model(&ModelId::new("model-0").unwrap(), &Version::new(2, 0, 0))
                .await
                .unwrap();
        }
        m.dispose().await.unwrap();
    });
}

fn status(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("lifecycle-bench-status-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    populate(&dir);
    let mut group = c.benchmark_group("cli");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("status (100 versions, 10k audit entries)", |b| {
        b.iter(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_lifecycle"))
                .arg("--data-dir")
                .arg(&dir)
                .arg("status")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, status);
criterion_main!(benches);
