//! `import litellm`: registers models from LiteLLM's public price and
//! context map; the mapping is `lifecycle::litellm`'s.

use lifecycle::litellm::{read_litellm, LiteLlmEntry, LiteLlmFilter};
use lifecycle::{LifecycleError, ModelLifecycleManager};
use serde::Serialize;

use super::models::read_input;
use super::version;
use crate::args::ImportCommand;
use crate::failure::{Failure, Outcome};
use crate::output::Output;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    registered: Vec<String>,
    skipped: Vec<Skipped>,
    /// Entries the --provider / --mode filters left out.
    filtered_out: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skipped {
    name: String,
    reason: String,
}

pub async fn import(m: &ModelLifecycleManager, command: &ImportCommand, out: &Output) -> Outcome {
    let ImportCommand::Litellm {
        file,
        provider,
        mode,
        version: number,
    } = command;
    let number = version(number)?;
    let filter = LiteLlmFilter {
        provider: provider.as_deref(),
        mode: mode.as_deref(),
    };
    let entries = read_litellm(&read_input(file)?, filter, &number, m.now())
        .map_err(|e| Failure::error(format!("{}: {e}", file.display())))?;
    let mut report = Imported {
        registered: Vec::new(),
        skipped: Vec::new(),
        filtered_out: 0,
    };
    let mut records = Vec::new();
    for entry in entries {
        match entry {
            LiteLlmEntry::FilteredOut => report.filtered_out += 1,
            LiteLlmEntry::Skipped { name, reason } => report.skipped.push(Skipped { name, reason }),
            LiteLlmEntry::Version(record) => records.push(*record),
        }
    }
    let names: Vec<String> = records.iter().map(|r| r.model_id.to_string()).collect();
    for (name, registered) in names.into_iter().zip(m.register_models(records).await) {
        match registered {
            Ok(_) => report.registered.push(name),
            Err(LifecycleError::Registry(e)) => report.skipped.push(Skipped {
                name,
                reason: e.to_string(),
            }),
            Err(e) => return Err(e.into()),
        }
    }
    out.emit(&report, |out| {
        out.print(&format!(
            "Registered {} models at version {number}; skipped {}; {} left out by the filters.",
            report.registered.len(),
            report.skipped.len(),
            report.filtered_out
        ));
        for s in &report.skipped {
            out.print(&format!("  skipped {}: {}", s.name, s.reason));
        }
    })
}
