//! `lifecycle demo`: the whole system at work on the embedded store, in
//! simulated time, narrated step by step (or as NDJSON events with `--json`).
//!
//! register 1.0.0 and 2.0.0 → test and activate 1.0.0 → traffic through the
//! router → canary 2.0.0 at 5 % then 50 %, judged at each step → promote
//! (1.0.0 deprecated, 90 days' grace) → canary 2.1.0 that regresses →
//! critical alert → automatic abort → deprecation warnings as the clock
//! advances → retirement → compliance report → audit chain verified.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use lifecycle::chrono::{DateTime, Duration, TimeZone, Utc};
use lifecycle::{
    dec, Actor, AuditEventKind, CanaryWeight, Clock, ComparisonReport, Decimal, EvaluationSettings,
    Lane, ManualClock, ModelCapabilities, ModelCostInfo, ModelId, ModelLifecycleManager,
    ModelStatus, ModelVersion, PolicyConfig, PolicySettings, Version,
};
use serde::Serialize;
use serde_json::json;

use crate::args::{Cli, DemoArgs};
use crate::failure::{Failure, Outcome};
use crate::output::{time, Output};

mod traffic;

use traffic::Traffic;

const MODEL: &str = "gpt-4-turbo";

/// Tells the story: numbered steps in words, or NDJSON events.
struct Narrator<'a> {
    out: &'a Output,
    step: u32,
}

impl Narrator<'_> {
    fn step(&mut self, title: &str, lines: &[String], data: serde_json::Value) -> Outcome {
        self.step += 1;
        if self.out.is_json() {
            return self.out.event(&json!({
                "event": "step", "step": self.step, "title": title, "data": data,
            }));
        }
        self.out.print("");
        self.out
            .print(&self.out.bold(&format!("{:>2}. {title}", self.step)));
        for line in lines {
            self.out.print(&format!("    {line}"));
        }
        Ok(())
    }
}

/// The demo's state: manager, clock, traffic source, what happened.
struct Demo {
    manager: ModelLifecycleManager,
    clock: Arc<ManualClock>,
    traffic: Traffic,
    model: ModelId,
    served: BTreeMap<Version, u64>,
    next_user: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    data_dir: Option<String>,
    seed: u64,
    versions: Vec<VersionSummary>,
    audit_entries: u64,
    chain_verified: bool,
    canary_aborted_automatically: bool,
    retired: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionSummary {
    version: String,
    status: ModelStatus,
    requests: u64,
    error_rate: f64,
    p95_latency_ms: Option<f64>,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn demo_dir(cli: &Cli, seed: u64) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    cli.data_dir.join(format!("demo-{seed}-{stamp}"))
}

pub async fn run(cli: &Cli, args: &DemoArgs, out: &Output) -> Outcome {
    let clock = Arc::new(ManualClock::new(start()));
    // The safe defaults, and a cost limit.
    let policy = PolicyConfig::new(PolicySettings {
        max_cost_per_request: Some(dec!(0.10)),
        ..PolicySettings::default()
    })?;
    let evaluation = lifecycle::EvaluationConfig::new(EvaluationSettings {
        min_samples: 100,
        max_latency_ms: 4_000.0,
        ..EvaluationSettings::default()
    })?;
    let builder = ModelLifecycleManager::builder()
        .clock(clock.clone())
        .policy_config(policy)
        .evaluation_config(evaluation)
        .actor(Actor::new(&cli.actor)?)
        .alert_check_interval(None);
    let dir = (!cli.memory).then(|| demo_dir(cli, args.seed));
    let builder = match &dir {
        Some(dir) => builder.sled(dir),
        None => builder.memory(),
    };
    let manager = builder.build().await?;
    let mut demo = Demo {
        manager,
        clock,
        traffic: Traffic::seeded(args.seed),
        model: ModelId::new(MODEL)?,
        served: BTreeMap::new(),
        next_user: 0,
    };
    let mut narrator = Narrator { out, step: 0 };
    if !out.is_json() {
        let place = dir.as_ref().map_or_else(
            || "in memory".to_string(),
            |d| format!("in {}", d.display()),
        );
        out.print(&format!(
            "lifecycle demo (seed {}): a model's releases, simulated from {}, stored {place}.",
            args.seed,
            time(start())
        ));
    }
    let result = demo.tell(&mut narrator, args.seed, dir.as_ref()).await;
    let disposed = demo.manager.dispose().await;
    result?;
    disposed.map_err(Failure::from)
}

impl Demo {
    fn v(major: u64, minor: u64) -> Version {
        Version::new(major, minor, 0)
    }

    async fn register(&self, version: Version) -> Outcome {
        let record = ModelVersion::new(
            self.model.clone(),
            version,
            "openai",
            ModelCapabilities::new(128_000, 4_096),
            ModelCostInfo::usd(dec!(0.01), dec!(0.03)),
            self.clock.now(),
        );
        self.manager.register_model(record).await?;
        Ok(())
    }

    /// Routes `n` requests of distinct users and records each outcome.
    fn traffic(&mut self, n: u64, out: &Output) -> Outcome<(u64, u64)> {
        let (mut active, mut canary) = (0, 0);
        let show = !out.is_json() && std::io::stderr().is_terminal();
        for i in 0..n {
            let key = format!("user-{}", self.next_user);
            self.next_user += 1;
            let routed = self.manager.route(MODEL, key.as_bytes())?.ok_or_else(|| {
                Failure::error("the demo model has nothing serving: this is a bug in the demo")
            })?;
            let version = routed.version.version.clone();
            let outcome = self.traffic.outcome(&version);
            self.manager.record_inference(MODEL, &version, &outcome)?;
            *self.served.entry(version).or_default() += 1;
            match routed.lane {
                Lane::Active => active += 1,
                Lane::Canary => canary += 1,
            }
            if show && (i + 1) % 2_000 == 0 {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r    traffic: {:>6} of {n} requests", i + 1);
            }
            // A minute of simulated time per 1,000 requests.
            if (i + 1) % 1_000 == 0 {
                self.clock.advance(Duration::minutes(1));
            }
        }
        if show {
            eprint!("\r{}\r", " ".repeat(40));
        }
        Ok((active, canary))
    }

    /// Sends test traffic straight to a version in testing.
    fn test_traffic(&mut self, version: &Version, n: u64) -> Outcome {
        for _ in 0..n {
            let outcome = self.traffic.outcome(version);
            self.manager.record_inference(MODEL, version, &outcome)?;
        }
        Ok(())
    }

    fn judged(report: &ComparisonReport) -> Vec<String> {
        let mut lines = vec![format!(
            "judge: {:?}, score {:.0}/100 — {}",
            report.verdict, report.score, report.summary
        )];
        for m in &report.metrics {
            lines.push(format!(
                "  {:<22} {}",
                format!("{:?}", m.metric),
                m.explanation
            ));
        }
        lines
    }

    /// The story, one step after another.
    async fn tell(&mut self, n: &mut Narrator<'_>, seed: u64, dir: Option<&PathBuf>) -> Outcome {
        self.register_two(n).await?;
        self.test_and_activate(n).await?;
        self.production_traffic(n).await?;
        self.canary(n).await?;
        self.promote(n).await?;
        self.regressing_canary(n).await?;
        self.automatic_abort(n).await?;
        let retired = self.end_of_life(n).await?;
        let auto = self.compliance(n).await?;
        let verified = self.verify(n).await?;
        self.summarize(n, seed, dir, retired, auto, verified).await
    }

    /// Registers 1.0.0 and 2.0.0.
    async fn register_two(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v1 = Self::v(1, 0);
        let v2 = Self::v(2, 0);
        self.register(v1.clone()).await?;
        self.register(v2.clone()).await?;
        n.step(
            "Register gpt-4-turbo 1.0.0 and 2.0.0",
            &[
                "both inactive; every change from here on is an audited, hash-chained commit"
                    .into(),
            ],
            json!({"registered": ["1.0.0", "2.0.0"]}),
        )?;
        Ok(())
    }

    /// Tests 1.0.0 and activates it.
    async fn test_and_activate(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v1 = Self::v(1, 0);
        let m = self.manager.clone();
        let model = self.model.clone();
        m.deploy_to_testing(&model, &v1).await?;
        self.test_traffic(&v1, 300)?;
        let report = m.evaluate_model(MODEL, &v1)?;
        m.activate_model(&model, &v1).await?;
        n.step(
            "Test and activate 1.0.0",
            &[
                format!(
                    "300 test requests: {:?}, p95 {}, error rate {:.1} %",
                    report.status,
                    crate::output::ms(report.metrics.p95_latency_ms),
                    report.metrics.error_rate() * 100.0
                ),
                "activated: the policy judged its results against the thresholds".into(),
            ],
            json!({"evaluation": report}),
        )?;
        Ok(())
    }

    /// Production traffic on 1.0.0; swapping in 2.0.0 at once is refused.
    async fn production_traffic(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v2 = Self::v(2, 0);
        let m = self.manager.clone();
        let model = self.model.clone();
        let (active, _) = self.traffic(5_000, n.out)?;
        let refused = m.activate_model(&model, &v2).await.err();
        n.step(
            "Production traffic through the router",
            &[
                format!("{active} requests, each routed by a sticky user key to 1.0.0"),
                format!(
                    "activating 2.0.0 in its place at once: refused — {}",
                    refused
                        .as_ref()
                        .map_or_else(|| "approved".into(), ToString::to_string)
                ),
                "so 2.0.0 goes out as a canary".into(),
            ],
            json!({"requests": active, "directSwapRefused": refused.is_some()}),
        )?;
        Ok(())
    }

    /// 2.0.0 as a canary at 5 % then 50 %, judged at each step.
    async fn canary(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v1 = Self::v(1, 0);
        let v2 = Self::v(2, 0);
        let m = self.manager.clone();
        let model = self.model.clone();
        for percent in [5u8, 50] {
            if percent == 5 {
                m.start_canary(&model, &v2, CanaryWeight::new(percent)?)
                    .await?;
            } else {
                m.set_canary_weight(&model, CanaryWeight::new(percent)?)
                    .await?;
            }
            let (active, canary) = self.traffic(8_000, n.out)?;
            let report = m.compare_versions(MODEL, &v1, &v2)?;
            let mut lines = vec![format!(
                "{canary} of {} requests went to 2.0.0 ({:.1} %)",
                active + canary,
                canary as f64 * 100.0 / (active + canary) as f64
            )];
            lines.extend(Self::judged(&report));
            n.step(
                &format!("Canary 2.0.0 at {percent} %"),
                &lines,
                json!({"weight": percent, "active": active, "canary": canary, "comparison": report}),
            )?;
        }
        Ok(())
    }

    /// Promotes 2.0.0; 1.0.0 is deprecated.
    async fn promote(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v1 = Self::v(1, 0);
        let m = self.manager.clone();
        let model = self.model.clone();
        m.promote_canary(&model).await?;
        let old = m.get_model(&model, &v1).await?;
        let eol = old.deprecation().map(|d| d.end_of_life);
        n.step(
            "Promote 2.0.0",
            &[
                "the policy approved it: the thresholds and the judge pass on the canary's window"
                    .into(),
                format!(
                    "1.0.0 is {}, end of life {} (90 days' grace), replacement 2.0.0",
                    old.status(),
                    eol.map_or_else(String::new, time)
                ),
            ],
            json!({"active": "2.0.0", "deprecated": "1.0.0", "endOfLife": eol}),
        )?;
        Ok(())
    }

    /// A 2.1.0 canary that regresses.
    async fn regressing_canary(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v2 = Self::v(2, 0);
        let v21 = Self::v(2, 1);
        let m = self.manager.clone();
        let model = self.model.clone();
        self.clock.advance(Duration::minutes(15));
        self.register(v21.clone()).await?;
        m.start_canary(&model, &v21, CanaryWeight::new(10)?).await?;
        let (_, canary) = self.traffic(6_000, n.out)?;
        let report = m.compare_versions(MODEL, &v2, &v21)?;
        let mut lines = vec![format!("{canary} requests went to 2.1.0")];
        lines.extend(Self::judged(&report));
        n.step(
            "Canary 2.1.0 at 10 % — it regresses",
            &lines,
            json!({"canary": canary, "comparison": report}),
        )?;
        Ok(())
    }

    /// The critical alert, and the canary aborted automatically.
    async fn automatic_abort(&mut self, n: &mut Narrator<'_>) -> Outcome {
        let v21 = Self::v(2, 1);
        let m = self.manager.clone();
        let model = self.model.clone();
        let alerts = m.check_alerts()?;
        let critical: Vec<_> = alerts
            .iter()
            .filter(|a| a.version == v21 && a.level == lifecycle::AlertLevel::Critical)
            .collect();
        let mut aborted = false;
        for _ in 0..200 {
            if m.get_model(&model, &v21).await?.status() == ModelStatus::Inactive {
                aborted = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut lines: Vec<String> = critical
            .iter()
            .map(|a| format!("critical alert: {}", a.message))
            .collect();
        lines.push(if aborted {
            "automatic rollback: the canary was aborted by `auto-rollback`; 2.0.0 serves everyone"
                .into()
        } else {
            "the canary was NOT aborted".into()
        });
        n.step(
            "Critical alert and automatic canary abort",
            &lines,
            json!({"alerts": alerts, "canaryAborted": aborted}),
        )?;
        if !aborted {
            return Err(Failure::error(
                "the regressing canary was not aborted automatically",
            ));
        }
        Ok(())
    }

    /// Deprecation warnings as the clock advances, then retirement; returns what was retired.
    async fn end_of_life(&mut self, n: &mut Narrator<'_>) -> Outcome<Vec<String>> {
        let m = self.manager.clone();
        let promoted_at = self.clock.now();
        let mut lines = Vec::new();
        let mut seen = Vec::new();
        for days in [30, 65, 85] {
            self.clock.set(promoted_at + Duration::days(days));
            for w in m.get_deprecation_warnings().await? {
                lines.push(format!(
                    "day {days:>2}: {} {} — {}, {} days to end of life",
                    w.model_id, w.version, w.severity, w.days_until_eol
                ));
                seen.push(json!({"day": days, "warning": w}));
            }
        }
        self.clock.set(promoted_at + Duration::days(91));
        let maintenance = m.run_maintenance().await?;
        let retired: Vec<String> = maintenance
            .retired
            .iter()
            .map(|r| format!("{} {}", r.model_id, r.version))
            .collect();
        lines.push(format!(
            "day 91: maintenance retired {}",
            retired.join(", ")
        ));
        n.step(
            "Deprecation warnings as the clock advances, then retirement",
            &lines,
            json!({"warnings": seen, "retired": retired}),
        )?;
        Ok(retired)
    }

    /// The compliance report; returns whether the abort was automatic.
    async fn compliance(&mut self, n: &mut Narrator<'_>) -> Outcome<bool> {
        let m = self.manager.clone();
        let model = self.model.clone();
        let report = m
            .generate_compliance_report(start(), self.clock.now() + Duration::seconds(1))
            .await?;
        let history = m.get_model_history(&model).await?;
        let auto = history.iter().any(|e| {
            e.event.kind == AuditEventKind::CanaryAborted
                && e.event.actor.as_str() == "auto-rollback"
        });
        let mut lines = vec![format!("{} audit entries", report.total_entries)];
        for (kind, count) in &report.by_kind {
            lines.push(format!("  {:<20} {count}", kind.to_string()));
        }
        lines.push(format!("critical events: {}", report.critical_events.len()));
        n.step("Compliance report", &lines, json!({"report": report}))?;
        Ok(auto)
    }

    /// Verifies the audit chain.
    async fn verify(&mut self, n: &mut Narrator<'_>) -> Outcome<lifecycle::audit::VerifyReport> {
        let m = self.manager.clone();
        let verified = m
            .audit_log()
            .verify()
            .await
            .map_err(|e| Failure::error(e.to_string()))?;
        n.step(
            "Audit chain verified",
            &[format!(
                "{} entries re-hashed and linked: {}",
                verified.entries_checked,
                if verified.is_intact() {
                    "intact"
                } else {
                    "BROKEN"
                }
            )],
            json!({"verify": verified}),
        )?;
        Ok(verified)
    }

    /// The summary table (or event), and the demo's own verdict.
    async fn summarize(
        &mut self,
        n: &mut Narrator<'_>,
        seed: u64,
        dir: Option<&PathBuf>,
        retired: Vec<String>,
        auto: bool,
        verified: lifecycle::audit::VerifyReport,
    ) -> Outcome {
        let m = self.manager.clone();
        let model = self.model.clone();
        let mut versions = Vec::new();
        for v in m.get_model_versions(&model).await? {
            let metrics = m.evaluator().lifetime_metrics(MODEL, &v.version)?;
            versions.push(VersionSummary {
                version: v.version.to_string(),
                status: v.status(),
                requests: metrics.sample_count,
                error_rate: metrics.error_rate(),
                p95_latency_ms: metrics.p95_latency_ms,
            });
        }
        let summary = Summary {
            data_dir: dir.map(|d| d.display().to_string()),
            seed,
            versions,
            audit_entries: verified.entries_checked,
            chain_verified: verified.is_intact(),
            canary_aborted_automatically: auto,
            retired,
        };
        if n.out.is_json() {
            n.out
                .event(&json!({"event": "summary", "summary": summary}))?;
        } else {
            n.out.print("");
            let rows: Vec<Vec<String>> = summary
                .versions
                .iter()
                .map(|v| {
                    vec![
                        v.version.clone(),
                        n.out.status(v.status),
                        v.requests.to_string(),
                        format!("{:.2} %", v.error_rate * 100.0),
                        crate::output::ms(v.p95_latency_ms),
                    ]
                })
                .collect();
            n.out
                .table(&["VERSION", "STATUS", "REQUESTS", "ERRORS", "P95"], &rows);
            n.out.print("");
            if let Some(dir) = &summary.data_dir {
                n.out.print(&format!(
                    "Explore it: lifecycle --data-dir {dir} audit history {MODEL}"
                ));
            }
        }
        if !(summary.chain_verified && auto) {
            return Err(Failure::error(
                "the demo did not end as it should: see above",
            ));
        }
        Ok(())
    }
}
