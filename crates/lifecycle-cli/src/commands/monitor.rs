//! Monitoring: record results, evaluate, compare, watch alerts.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};

use lifecycle::evaluator::too_far_ahead;
use lifecycle::evaluator::Class;
use lifecycle::evaluator::MAX_FUTURE_SKEW_MS;
use lifecycle::{
    Alert, ComparisonReport, ErrorKind, EvaluationReport, EvaluationStatus, InferenceResult,
    ModelId, ModelLifecycleManager, ModelStatus, ResultLine, Verdict, Version,
};
use serde::Serialize;

use super::models::read_input;
use super::{model_id, version};
use crate::args::RecordArgs;
use crate::failure::{Failure, Outcome};
use crate::output::{figures, time, Output};

/// A result checked against the registry, ready to record.
struct Checked {
    model_id: ModelId,
    version: Version,
    result: InferenceResult,
}

/// Checks one result: its values, and that its version can take results.
async fn check(
    m: &ModelLifecycleManager,
    known: &mut BTreeMap<(ModelId, Version), ModelStatus>,
    model: &str,
    number: &str,
    result: InferenceResult,
) -> Outcome<Checked> {
    let (model_id, version) = (model_id(model)?, version(number)?);
    result.validate()?;
    // Checked here too, so that the message names the line.
    let now_ms = m.now().timestamp_millis();
    if let Some(at) = result
        .at
        .filter(|at| too_far_ahead(at.timestamp_millis(), now_ms))
    {
        return Err(Failure::error(format!(
            "at: {} is more than {} s ahead of this clock; send the time the request happened, or fix the sender's clock",
            time(at),
            MAX_FUTURE_SKEW_MS / 1_000
        )));
    }
    let key = (model_id.clone(), version.clone());
    let status = match known.get(&key) {
        Some(status) => *status,
        None => {
            let status = m.get_model(&model_id, &version).await?.status();
            known.insert(key, status);
            status
        }
    };
    if status == ModelStatus::Retired {
        return Err(Failure::error(format!(
            "{model_id} {version} is retired and takes no more results"
        )));
    }
    Ok(Checked {
        model_id,
        version,
        result,
    })
}

/// Parses and checks line `number` of `source`; errors name both once.
async fn check_line(
    m: &ModelLifecycleManager,
    known: &mut BTreeMap<(ModelId, Version), ModelStatus>,
    line: &str,
    source: &str,
    number: usize,
) -> Outcome<Checked> {
    let at = |f: Failure| Failure::error(format!("{source}, line {number}: {}", f.message));
    let parsed: ResultLine =
        crate::input::parse_object(line, source, Some(number), "an inference result")?;
    let result = parsed.result().map_err(|why| at(Failure::error(why)))?;
    check(m, known, &parsed.model_id, &parsed.version, result)
        .await
        .map_err(at)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    recorded: u64,
    /// The batch's id (a file's content hash unless --batch-id).
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_id: Option<String>,
    /// The batch had been recorded before: nothing was recorded again.
    already_recorded: bool,
    by_version: Vec<VersionCount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionCount {
    model_id: ModelId,
    version: Version,
    results: u64,
}

pub async fn record(m: &ModelLifecycleManager, args: &RecordArgs, out: &Output) -> Outcome {
    let mut known = BTreeMap::new();
    // Every result is checked before any is recorded: a bad line records nothing.
    let (checked, batch_id) = match (&args.file, &args.model, &args.version) {
        (Some(path), _, _) => {
            let text = read_input(path)?;
            let source = path.display().to_string();
            let mut checked = Vec::new();
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                checked.push(check_line(m, &mut known, line, &source, index + 1).await?);
            }
            let batch_id = match &args.batch_id {
                Some(id) => id.clone(),
                None => content_id(text.as_bytes()),
            };
            (checked, Some(batch_id))
        }
        (None, Some(_), Some(_)) if args.batch_id.is_some() => {
            return Err(Failure::error(
                "--batch-id names the batch of a --file; a single result is not a batch",
            ))
        }
        (None, Some(model), Some(number)) => {
            let result = from_flags(args)?;
            (
                vec![check(m, &mut known, model, number, result).await?],
                None,
            )
        }
        _ => return Err(Failure::error("give MODEL VERSION and flags, or --file")),
    };
    let mut counts: BTreeMap<(ModelId, Version), u64> = BTreeMap::new();
    for c in &checked {
        *counts
            .entry((c.model_id.clone(), c.version.clone()))
            .or_default() += 1;
    }
    let already = match &batch_id {
        // A file is one batch: all of it lands in one atomic write, or none.
        Some(id) => {
            let results: Vec<_> = checked
                .iter()
                .map(|c| (c.model_id.clone(), c.version.clone(), c.result))
                .collect();
            match m.record_batch(&results, id).await {
                Ok(_) => false,
                Err(e) if e.is_batch_recorded() => true,
                Err(e) => {
                    return Err(Failure::error(format!(
                        "nothing from the file was recorded: {e}"
                    )))
                }
            }
        }
        None => {
            for (model_id, _) in counts.keys() {
                m.load_model(model_id).await?;
            }
            for c in &checked {
                m.record_inference(c.model_id.as_str(), &c.version, &c.result)?;
            }
            false
        }
    };
    let report = Recorded {
        recorded: if already { 0 } else { checked.len() as u64 },
        batch_id: batch_id.clone(),
        already_recorded: already,
        by_version: counts
            .into_iter()
            .map(|((model_id, version), results)| VersionCount {
                model_id,
                version,
                results,
            })
            .collect(),
    };
    out.emit(&report, |out| {
        if already {
            out.print(&format!(
                "Batch {} was recorded already; nothing recorded again.",
                batch_id.as_deref().unwrap_or_default()
            ));
            return;
        }
        // A line for people: the first few versions, then how many more
        // (`--json` lists them all).
        const SHOWN: usize = 5;
        let mut parts: Vec<String> = report
            .by_version
            .iter()
            .take(SHOWN)
            .map(|c| format!("{} {}: {}", c.model_id, c.version, c.results))
            .collect();
        let more = report.by_version.len().saturating_sub(SHOWN);
        if more > 0 {
            let noun = if more == 1 { "version" } else { "versions" };
            parts.push(format!("and {more} more {noun}"));
        }
        out.print(&format!(
            "Recorded {} ({}).",
            crate::output::count(report.recorded, "result", "results"),
            parts.join(", ")
        ));
    })
}

/// A batch's id from its content: the same file is the same batch.
fn content_id(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn from_flags(args: &RecordArgs) -> Outcome<InferenceResult> {
    let latency = args
        .latency_ms
        .ok_or_else(|| Failure::usage("give the request's latency: --latency-ms MS"))?;
    let mut result = match args.failed {
        Some(kind) => InferenceResult::failure(kind, latency),
        None => InferenceResult::success(latency),
    };
    result.confidence = args.confidence;
    result.input_tokens = args.input_tokens;
    result.output_tokens = args.output_tokens;
    Ok(result)
}

pub async fn evaluate(m: &ModelLifecycleManager, model: &str, v: &str, out: &Output) -> Outcome {
    let model = model_id(model)?;
    m.load_model(&model).await?;
    let report = m.evaluate_model(model.as_str(), &version(v)?)?;
    out.emit(&report, |out| print_evaluation(out, &report))?;
    match report.status {
        EvaluationStatus::Passed => Ok(()),
        EvaluationStatus::Failed => Err(Failure::rejected(format!(
            "{} {} failed its evaluation: {}",
            report.model_id,
            report.version,
            report
                .violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))),
        EvaluationStatus::InsufficientData { needed } => Err(Failure::rejected(format!(
            "{} {} cannot be judged yet: {needed} more samples needed in the window",
            report.model_id, report.version
        ))),
    }
}

pub fn print_evaluation(out: &Output, report: &EvaluationReport) {
    let verdict = match &report.status {
        EvaluationStatus::Passed => out.good("passed"),
        EvaluationStatus::Failed => out.bad("failed"),
        EvaluationStatus::InsufficientData { needed } => {
            format!("insufficient data ({needed} more samples needed)")
        }
    };
    let m = &report.metrics;
    out.print(&format!(
        "{} {}: {verdict} over the {} s up to {} ({} samples)",
        report.model_id,
        report.version,
        report.window_secs,
        time(report.window_end),
        report.samples
    ));
    out.print(&format!(
        "  {}, confidence {}",
        figures(m),
        m.mean_confidence
            .map_or_else(|| "n/a".to_string(), |c| format!("{c:.2}"))
    ));
    for violation in &report.violations {
        out.print(&format!("  {} {violation}", out.bad("violated:")));
    }
}

pub async fn compare(
    m: &ModelLifecycleManager,
    model: &str,
    baseline: &str,
    candidate: &str,
    out: &Output,
) -> Outcome {
    let model = model_id(model)?;
    m.load_model(&model).await?;
    let report = m.compare_versions(model.as_str(), &version(baseline)?, &version(candidate)?)?;
    out.emit(&report, |out| print_comparison(out, &report))?;
    // A pipeline gates on the exit code: 3 unless the verdict passes.
    let passes = match report.verdict {
        Verdict::Pass => true,
        Verdict::Marginal => !m.policy_config().settings().refuse_marginal_judgement,
        Verdict::Fail | Verdict::NoData => false,
    };
    if passes {
        Ok(())
    } else {
        Err(Failure::rejected_quietly())
    }
}

pub fn print_comparison(out: &Output, report: &ComparisonReport) {
    out.print(&format!(
        "{} {} vs {}: {}, score {:.0}/100",
        report.model_id,
        report.candidate,
        report.baseline,
        format!("{:?}", report.verdict).to_lowercase(),
        report.score
    ));
    let rows: Vec<Vec<String>> = report
        .metrics
        .iter()
        .map(|c| {
            let value = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
            vec![
                format!("{:?}", c.metric),
                value(c.baseline),
                value(c.candidate),
                c.p_value
                    .map_or_else(|| "-".to_string(), |p| format!("{p:.3}")),
                match c.class {
                    Class::Pass => "pass".to_string(),
                    Class::High => "higher".to_string(),
                    Class::Low => "lower".to_string(),
                    Class::NoData { missing } => format!("no data ({missing} more needed)"),
                },
            ]
        })
        .collect();
    out.table(&["METRIC", "BASELINE", "CANDIDATE", "P", "CLASS"], &rows);
    for (side, failures) in [
        ("baseline", &report.baseline_failures),
        ("candidate", &report.candidate_failures),
    ] {
        if !failures.is_empty() {
            out.print(&format!(
                "{side} failures: {}",
                ErrorKind::breakdown(failures)
            ));
        }
    }
    out.print(&report.summary);
}

/// Follows alerts: checks health every `interval_secs` until interrupted
/// (Ctrl-C, SIGTERM). With `from_stdin`, also records the results read from
/// stdin (NDJSON, as `record --file -`) and ends at the end of the input.
pub async fn watch(
    m: &ModelLifecycleManager,
    interval_secs: u64,
    from_stdin: bool,
    out: &Output,
) -> Outcome {
    let (lines, mut incoming) = tokio::sync::mpsc::channel::<String>(1_024);
    let piped = from_stdin;
    if piped {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines.blocking_send(line).is_err() {
                    break;
                }
            }
        });
    } else {
        drop(lines);
        if !out.is_json() && std::io::stdout().is_terminal() {
            out.print_now("Watching alerts (Ctrl-C to stop)...");
        }
    }
    let mut terminated = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut timer = tokio::time::interval(std::time::Duration::from_secs(interval_secs.max(1)));
    let mut known = BTreeMap::new();
    let mut line_number = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminated.recv() => break,
            _ = timer.tick() => report_alerts(m.check_alerts()?, out)?,
            line = incoming.recv(), if piped => match line {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => {
                    line_number += 1;
                    let c = check_line(m, &mut known, &line, "stdin", line_number).await?;
                    m.record_inference(c.model_id.as_str(), &c.version, &c.result)?;
                }
                None => {
                    report_alerts(m.check_alerts()?, out)?;
                    break;
                }
            },
        }
    }
    Ok(())
}

fn report_alerts(alerts: Vec<Alert>, out: &Output) -> Outcome {
    for alert in alerts {
        if out.is_json() {
            out.event(&alert)?;
        } else {
            let level = format!("{:?}", alert.level).to_lowercase();
            let level = match alert.level {
                lifecycle::AlertLevel::Critical => out.bad(&level),
                lifecycle::AlertLevel::Resolved => out.good(&level),
                lifecycle::AlertLevel::Warning => level,
            };
            out.print_now(&format!("{} {level:<8} {}", time(alert.at), alert.message));
        }
    }
    Ok(())
}
