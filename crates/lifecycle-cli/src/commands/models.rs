//! Models: register, list, show, every lifecycle move, canaries, routing.

use std::io::Read;

use lifecycle::{
    CanaryWeight, Deployed, Lane, ModelCapabilities, ModelCostInfo, ModelLifecycleManager,
    ModelStatus, ModelVersion, ServingSpec,
};
use serde::Serialize;

use super::{model_id, version};
use crate::args::{CanaryCommand, ForceArgs, ListArgs, RegisterArgs, StatusArg};
use crate::failure::{Failure, Outcome};
use crate::output::{self, figures, time, Output};

pub async fn register(m: &ModelLifecycleManager, args: &RegisterArgs, out: &Output) -> Outcome {
    let record = match &args.file {
        Some(path) => from_json(&read_input(path)?, &path.display().to_string())?,
        None => from_flags(m, args)?,
    };
    let stored = m.register_model(record).await?;
    out.emit(&stored, |out| {
        out.print(&format!(
            "Registered {} {} ({}), {}.",
            stored.model_id,
            stored.version,
            stored.provider,
            out.status(stored.status())
        ));
    })
}

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &std::path::Path) -> Outcome<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::error(format!("cannot read {}: {e}", path.display())))
}

/// A version from JSON in the library's shape; errors give line and column.
fn from_json(text: &str, source: &str) -> Outcome<ModelVersion> {
    crate::input::parse_object(text, source, None, "a model version")
}

fn from_flags(m: &ModelLifecycleManager, args: &RegisterArgs) -> Outcome<ModelVersion> {
    let (Some(model), Some(number)) = (&args.model, &args.version) else {
        return Err(Failure::error("give --model and --version, or --file"));
    };
    let mut capabilities = ModelCapabilities::new(args.context_tokens, args.max_output_tokens);
    capabilities.streaming = args.streaming;
    capabilities.function_calling = args.function_calling;
    capabilities.vision = args.vision;
    capabilities.json_mode = args.json_mode;
    let prices = match (args.input_price, args.output_price) {
        (Some(input), Some(output)) => Some(ModelCostInfo {
            input_per_1k: input,
            output_per_1k: output,
            currency: args.currency.clone(),
        }),
        (None, None) => None,
        _ => return Err(Failure::error(
            "give both --input-price and --output-price, or neither (the price is then unknown)",
        )),
    };
    let mut record = ModelVersion::new(
        model_id(model)?,
        version(number)?,
        args.provider.as_str(),
        capabilities,
        prices,
        m.now(),
    );
    if let Some(name) = &args.display_name {
        record.display_name = name.clone();
    }
    record.description = args.description.clone();
    record.tags = args.tags.iter().cloned().collect();
    record.serving = ServingSpec {
        provider_model: args.provider_model.clone(),
        endpoint: args.endpoint.clone(),
        parameters: args.parameters.iter().cloned().collect(),
        prompt: args.prompt.clone(),
    };
    Ok(record)
}

pub async fn list(m: &ModelLifecycleManager, args: &ListArgs, out: &Output) -> Outcome {
    let mut versions = match &args.model {
        Some(model) => m.get_model_versions(&model_id(model)?).await?,
        None => m.get_all_model_versions().await?,
    };
    versions.retain(|v| {
        args.status.is_none_or(|s| v.status() == status(s))
            && args.provider.as_ref().is_none_or(|p| &v.provider == p)
    });
    out.emit(&versions, |out| version_table(out, &versions))
}

fn status(arg: StatusArg) -> ModelStatus {
    match arg {
        StatusArg::Inactive => ModelStatus::Inactive,
        StatusArg::Testing => ModelStatus::Testing,
        StatusArg::Canary => ModelStatus::Canary,
        StatusArg::Active => ModelStatus::Active,
        StatusArg::Deprecated => ModelStatus::Deprecated,
        StatusArg::Retired => ModelStatus::Retired,
    }
}

fn version_table(out: &Output, versions: &[ModelVersion]) {
    if versions.is_empty() {
        out.print("No versions match.");
        return;
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.model_id.to_string(),
                v.version.to_string(),
                out.status(v.status()),
                v.canary_weight()
                    .map_or_else(String::new, |w| format!("{} %", w.percent())),
                v.provider.clone(),
                v.metrics
                    .as_ref()
                    .map_or_else(String::new, |m| m.sample_count.to_string()),
                time(v.updated_at),
            ]
        })
        .collect();
    let headers = [
        "MODEL", "VERSION", "STATUS", "CANARY", "PROVIDER", "SAMPLES", "UPDATED",
    ];
    out.table(&headers, &rows);
}

pub async fn show(
    m: &ModelLifecycleManager,
    model: &str,
    number: Option<&str>,
    out: &Output,
) -> Outcome {
    let model = model_id(model)?;
    let Some(number) = number else {
        let versions = m.get_model_versions(&model).await?;
        if versions.is_empty() {
            return Err(Failure::error(format!(
                "no model {model}: register a version first (`lifecycle register`)"
            )));
        }
        return out.emit(&versions, |out| version_table(out, &versions));
    };
    let v = m.get_model(&model, &version(number)?).await?;
    out.emit(&v, |out| {
        let mut rows = vec![
            ("model", v.model_id.to_string()),
            ("version", v.version.to_string()),
            ("name", v.display_name.clone()),
            ("status", out.status(v.status())),
            ("provider", v.provider.clone()),
            ("calls", output::serving(&v.provider, &v.resolved_serving())),
            (
                "context",
                format!(
                    "{} tokens in, {} out",
                    v.capabilities.max_context_tokens,
                    v.capabilities
                        .max_output_tokens
                        .map_or_else(|| "unknown".to_string(), |n| n.to_string())
                ),
            ),
            (
                "prices",
                v.cost_info.as_ref().map_or_else(
                    || "unknown".to_string(),
                    |p| {
                        format!(
                            "{} {} / {} per 1k tokens in / out",
                            p.currency, p.input_per_1k, p.output_per_1k
                        )
                    },
                ),
            ),
            ("registered", time(v.created_at)),
            ("updated", time(v.updated_at)),
        ];
        if let Some(w) = v.canary_weight() {
            rows.push(("canary", format!("{} % of traffic", w.percent())));
        }
        if let Some(d) = v.deprecation() {
            let replacement = d
                .replacement_version
                .as_ref()
                .map_or_else(String::new, |r| format!(", use {r}"));
            rows.push((
                "deprecated",
                format!(
                    "{}; end of life {}{replacement}",
                    d.reason,
                    time(d.end_of_life)
                ),
            ));
        }
        if let Some(metrics) = &v.metrics {
            rows.push(("metrics", figures(metrics)));
        }
        for (label, value) in rows {
            out.print(&format!("{:<11} {value}", format!("{label}:")));
        }
    })
}

/// Reports a version after a move.
fn moved(out: &Output, v: &ModelVersion) -> Outcome {
    out.emit(v, |out| {
        out.print(&format!(
            "{} {} is now {}.",
            v.model_id,
            v.version,
            out.status(v.status())
        ));
    })
}

pub async fn testing(m: &ModelLifecycleManager, model: &str, v: &str, out: &Output) -> Outcome {
    let moved_to = m.deploy_to_testing(&model_id(model)?, &version(v)?).await?;
    moved(out, &moved_to)
}

pub async fn activate(
    m: &ModelLifecycleManager,
    model: &str,
    v: &str,
    force: &ForceArgs,
    out: &Output,
) -> Outcome {
    let (model, v) = (model_id(model)?, version(v)?);
    let deployed = match &force.reason {
        Some(reason) if force.force => m.force_activate_model(&model, &v, reason).await?,
        _ => m.activate_model(&model, &v).await?,
    };
    moved_deployed(out, &deployed)
}

/// An activation or promotion: the version moved, with the policy's word
/// on it; when a refusal was overridden, a warning on stderr says so
/// (seen beside JSON too).
fn moved_deployed(out: &Output, deployed: &Deployed) -> Outcome {
    let decision = &deployed.decision;
    if !decision.approved {
        out.warn(&format!(
            "policy overridden (recorded in the audit log): {}",
            decision.reason
        ));
    }
    moved(out, &deployed.version)?;
    if decision.approved && !out.is_json() {
        out.print(&format!("  policy: {}", decision.reason));
        for warning in &decision.warnings {
            out.print(&format!("  warning: {warning}"));
        }
    }
    Ok(())
}

pub async fn deactivate(m: &ModelLifecycleManager, model: &str, v: &str, out: &Output) -> Outcome {
    let moved_to = m.deactivate_model(&model_id(model)?, &version(v)?).await?;
    moved(out, &moved_to)
}

pub async fn retire(m: &ModelLifecycleManager, model: &str, v: &str, out: &Output) -> Outcome {
    let moved_to = m.retire_model(&model_id(model)?, &version(v)?).await?;
    moved(out, &moved_to)
}

pub async fn deprecate(
    m: &ModelLifecycleManager,
    model: &str,
    v: &str,
    reason: &str,
    replacement: Option<&str>,
    grace_days: Option<u32>,
    out: &Output,
) -> Outcome {
    let replacement = replacement.map(version).transpose()?;
    let moved_to = m
        .deprecate_model(
            &model_id(model)?,
            &version(v)?,
            reason,
            replacement.as_ref(),
            grace_days,
        )
        .await?;
    moved(out, &moved_to)
}

pub async fn rollback(
    m: &ModelLifecycleManager,
    model: &str,
    v: &str,
    reason: &str,
    out: &Output,
) -> Outcome {
    let moved_to = m
        .rollback_model(&model_id(model)?, &version(v)?, reason)
        .await?;
    moved(out, &moved_to)
}

pub async fn canary(m: &ModelLifecycleManager, command: &CanaryCommand, out: &Output) -> Outcome {
    let moved_to = match command {
        CanaryCommand::Start {
            model,
            version: v,
            weight,
        } => {
            let weight = CanaryWeight::new(*weight)?;
            m.start_canary(&model_id(model)?, &version(v)?, weight)
                .await?
        }
        CanaryCommand::Weight { model, percent } => {
            let weight = CanaryWeight::new(*percent)?;
            m.set_canary_weight(&model_id(model)?, weight).await?
        }
        CanaryCommand::Promote { model, force } => {
            let model = model_id(model)?;
            let deployed = match &force.reason {
                Some(reason) if force.force => m.force_promote_canary(&model, reason).await?,
                _ => m.promote_canary(&model).await?,
            };
            return moved_deployed(out, &deployed);
        }
        CanaryCommand::Abort { model } => m.abort_canary(&model_id(model)?).await?,
    };
    out.emit(&moved_to, |out| {
        let weight = moved_to
            .canary_weight()
            .map_or_else(String::new, |w| format!(" on {} % of traffic", w.percent()));
        out.print(&format!(
            "{} {} is now {}{weight}.",
            moved_to.model_id,
            moved_to.version,
            out.status(moved_to.status())
        ));
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteAnswer<'a> {
    model_id: String,
    key: String,
    version: String,
    lane: &'static str,
    /// What to call: the provider's model name always set.
    serving: ServingSpec,
    provider: &'a str,
}

pub async fn route(m: &ModelLifecycleManager, model: &str, key: &str, out: &Output) -> Outcome {
    let model = model_id(model)?;
    m.load_model(&model).await?;
    let routed = m.route(model.as_str(), key.as_bytes())?.ok_or_else(|| {
        Failure::error(format!(
            "{model} has no active version or canary to route to: activate one first"
        ))
    })?;
    let answer = RouteAnswer {
        model_id: model.to_string(),
        key: key.to_string(),
        version: routed.version.version.to_string(),
        lane: match routed.lane {
            Lane::Active => "active",
            Lane::Canary => "canary",
        },
        serving: routed.version.resolved_serving(),
        provider: &routed.version.provider,
    };
    out.emit(&answer, |out| {
        out.print(&format!(
            "{} -> {} {} ({})",
            answer.key, answer.model_id, answer.version, answer.lane
        ));
        out.print(&format!(
            "  call {}",
            output::serving(answer.provider, &answer.serving)
        ));
    })
}
