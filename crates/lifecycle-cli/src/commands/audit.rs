//! Policy, audit and operations: can-deploy, warnings, maintain, audit,
//! status, backup, restore.

use std::io::{BufReader, BufWriter};
use std::path::Path;

use lifecycle::audit::signing_key;
use lifecycle::audit::verifying_key;
use lifecycle::audit::SignedCheckpoint;
use lifecycle::chrono::{DateTime, NaiveDate, Utc};
use lifecycle::policy::EndOfLifeSource;
use lifecycle::{
    AuditLogEntry, BackupSummary, DeprecationWarning, ExportFormat, ModelLifecycleManager,
    Severity, StatusReport,
};
use serde::Serialize;

use super::{model_id, version};
use crate::args::{AuditCommand, FormatArg, RangeArgs};
use crate::failure::{Failure, Outcome};
use crate::output::{count, time, Output};

pub async fn can_deploy(m: &ModelLifecycleManager, model: &str, v: &str, out: &Output) -> Outcome {
    let decision = m.can_deploy_model(&model_id(model)?, &version(v)?).await?;
    out.emit(&decision, |out| {
        let verdict = if decision.approved {
            out.good("approved")
        } else {
            out.bad("rejected")
        };
        out.print(&format!("{model} {v}: {verdict}: {}", decision.reason));
        for warning in &decision.warnings {
            out.print(&format!("  warning: {warning}"));
        }
        if let Some(instead) = &decision.replacement {
            if !decision
                .reason
                .contains(&format!("deploy {instead} instead"))
            {
                out.print(&format!("  deploy {instead} instead"));
            }
        }
    })?;
    // The verdict is the output: a rejection adds only its exit code.
    if decision.approved {
        Ok(())
    } else {
        Err(Failure::rejected_quietly())
    }
}

pub async fn warnings(m: &ModelLifecycleManager, out: &Output) -> Outcome {
    let warnings = m.get_deprecation_warnings().await?;
    out.emit(&warnings, |out| warning_table(out, &warnings))
}

fn warning_table(out: &Output, warnings: &[DeprecationWarning]) {
    if warnings.is_empty() {
        out.print("No version has an end of life.");
        return;
    }
    let rows: Vec<Vec<String>> = warnings
        .iter()
        .map(|w| {
            vec![
                w.model_id.to_string(),
                w.version.to_string(),
                out.severity(w.severity),
                w.days_until_eol.to_string(),
                time(w.end_of_life),
                w.replacement
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| w.successor_model.as_ref().map(ToString::to_string))
                    .unwrap_or_default(),
                match w.source {
                    EndOfLifeSource::Deprecated => "deprecated".to_string(),
                    EndOfLifeSource::Provider => "provider".to_string(),
                },
                out.status(w.status),
                w.reason.clone(),
            ]
        })
        .collect();
    let headers = [
        "MODEL",
        "VERSION",
        "SEVERITY",
        "DAYS LEFT",
        "END OF LIFE",
        "REPLACEMENT",
        "SOURCE",
        "STATUS",
        "REASON",
    ];
    out.table(&headers, &rows);
}

pub async fn maintain(m: &ModelLifecycleManager, out: &Output) -> Outcome {
    let report = m.run_maintenance().await?;
    out.emit(&report, |out| {
        if let Some(holder) = &report.left_to {
            out.print(&format!(
                "Maintenance is running on {holder}: retirements are left to it."
            ));
        } else if report.retired.is_empty() {
            out.print("Nothing was due for retirement.");
        }
        for r in &report.retired {
            out.print(&format!(
                "Retired {} {} (end of life reached).",
                r.model_id, r.version
            ));
        }
        warning_table(out, &report.warnings);
    })
}

pub async fn audit(m: &ModelLifecycleManager, command: &AuditCommand, out: &Output) -> Outcome {
    match command {
        AuditCommand::History { model } => {
            let entries = m.get_model_history(&model_id(model)?).await?;
            out.emit(&entries, |out| entry_table(out, &entries))
        }
        AuditCommand::Recent { n } => {
            let entries = m.get_recent_audit_entries(*n).await?;
            out.emit(&entries, |out| entry_table(out, &entries))
        }
        AuditCommand::Critical => {
            let entries = m
                .audit_log()
                .critical_entries()
                .await
                .map_err(|e| Failure::error(e.to_string()))?;
            out.emit(&entries, |out| entry_table(out, &entries))
        }
        AuditCommand::Report(range) => {
            let (from, to) = range_of(m, range)?;
            let report = m.generate_compliance_report(from, to).await?;
            out.emit(&report, |out| {
                out.print(&format!(
                    "Compliance report {} to {}: {} entries",
                    time(report.start),
                    time(report.end),
                    report.total_entries
                ));
                for (kind, count) in &report.by_kind {
                    out.print(&format!("  {:<22} {count}", kind.to_string()));
                }
                out.print(&format!(
                    "  critical events: {}, errors: {}, policy violations: {}, policy overrides: {}",
                    report.critical_events.len(),
                    report.errors.len(),
                    report.policy_violations.len(),
                    report.policy_overrides.len()
                ));
                for forced in &report.policy_overrides {
                    out.print(&format!(
                        "  override #{} {} by {}: {}",
                        forced.sequence,
                        time(forced.event.timestamp),
                        forced.event.actor,
                        forced.event.message
                    ));
                }
                let chain = if report.chain.verified {
                    out.good("verified")
                } else {
                    out.bad("BROKEN")
                };
                out.print(&format!("  audit chain: {chain}"));
            })
        }
        AuditCommand::Export {
            range,
            format,
            output,
        } => {
            let (from, to) = range_of(m, range)?;
            let format = match format {
                FormatArg::Json => ExportFormat::Json,
                FormatArg::Ndjson => ExportFormat::Ndjson,
            };
            let Some(path) = output else {
                m.export_audit_log(from, to, format, std::io::stdout().lock())
                    .await?;
                return Ok(());
            };
            let summary = write_atomically(path, |file| async move {
                m.export_audit_log(from, to, format, file).await
            })
            .await?;
            out.emit(&summary, |out| {
                out.print(&format!(
                    "Exported {} entries to {}.",
                    summary.entries,
                    path.display()
                ));
            })
        }
        AuditCommand::Verify {
            against: Some(path),
            public_key: Some(key),
        } => verify_against(m, path, key, out).await,
        AuditCommand::Verify { .. } => {
            let report = m
                .audit_log()
                .verify()
                .await
                .map_err(|e| Failure::error(e.to_string()))?;
            out.emit(&report, |out| {
                if report.is_intact() {
                    out.print(&format!(
                        "Audit chain {}: {} entries checked.",
                        out.good("intact"),
                        report.entries_checked
                    ));
                }
            })?;
            match (&report.broken, &report.state_mismatch) {
                (None, None) => Ok(()),
                (Some(broken), _) => Err(Failure::error(format!(
                    "the audit log was altered: {broken}; restore it from a backup or an export"
                ))),
                (None, Some(mismatch)) => Err(Failure::error(format!(
                    "the store holds state its audit log does not describe: {mismatch}; restore it from a backup"
                ))),
            }
        }
        AuditCommand::Sign { key, output } => sign(m, key, output.as_deref(), out).await,
        AuditCommand::Keygen { .. } => Err(Failure::error("keygen needs no store")),
    }
}

/// A value given inline or as the path of a file holding it.
fn inline_or_file(value: &str) -> Outcome<String> {
    let path = Path::new(value);
    if path.is_file() {
        return std::fs::read_to_string(path)
            .map_err(|e| Failure::error(format!("cannot read {}: {e}", path.display())));
    }
    Ok(value.to_string())
}

async fn verify_against(
    m: &ModelLifecycleManager,
    path: &Path,
    key: &str,
    out: &Output,
) -> Outcome {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::error(format!("cannot read {}: {e}", path.display())))?;
    let checkpoint: SignedCheckpoint = crate::input::parse_object(
        &text,
        &path.display().to_string(),
        None,
        "a signed checkpoint",
    )?;
    let public_key = verifying_key(&inline_or_file(key)?)
        .map_err(|e| Failure::error(format!("--public-key: {e}")))?;
    let found = m
        .audit_log()
        .verify_against(&checkpoint, &public_key)
        .await
        .map_err(|e| Failure::error(e.to_string()))?;
    out.emit(&found, |out| {
        if found.problem.is_none() {
            out.print(&format!(
                "Audit chain {} the signed checkpoint at entry {} ({} entries since).",
                out.good("extends"),
                found.sequence,
                found.entries_since
            ));
        }
    })?;
    match &found.problem {
        None => Ok(()),
        Some(problem) => Err(Failure::error(format!(
            "the audit log does not extend the checkpoint at entry {}: {problem}",
            found.sequence
        ))),
    }
}

async fn sign(
    m: &ModelLifecycleManager,
    key: &Path,
    output: Option<&Path>,
    out: &Output,
) -> Outcome {
    let text = std::fs::read_to_string(key)
        .map_err(|e| Failure::error(format!("cannot read the key {}: {e}", key.display())))?;
    let key = signing_key(&text).map_err(|e| Failure::error(format!("{}: {e}", key.display())))?;
    let Some(checkpoint) = m.sign_audit_head(&key).await? else {
        return Err(Failure::error(
            "the audit log is empty: nothing to sign yet",
        ));
    };
    if let Some(path) = output {
        let json = serde_json::to_vec_pretty(&checkpoint)
            .map_err(|e| Failure::error(format!("cannot encode the checkpoint: {e}")))?;
        write_atomically(path, |mut file| async move {
            std::io::Write::write_all(&mut file, &json)
                .and_then(|()| std::io::Write::flush(&mut file))
                .map_err(|e| {
                    let message = format!("cannot write the checkpoint: {e}");
                    lifecycle::LifecycleError::from(lifecycle::StoreError::backend_from(message, e))
                })
        })
        .await?;
    }
    out.document(&checkpoint)
}

/// Writes a new signing key (mode 0600, never over an existing file) and
/// prints its public key.
pub fn keygen(path: &Path, out: &Output) -> Outcome {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut seed))
        .map_err(|e| Failure::error(format!("cannot read random bytes: {e}")))?;
    let key = lifecycle::audit::SigningKey::from_bytes(&seed);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Failure::error(format!(
                "cannot create {}: {e} (an existing key is never overwritten)",
                path.display()
            ))
        })?;
    writeln!(file, "{}", hex(&seed))
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::error(format!("cannot write {}: {e}", path.display())))?;
    let public = hex(key.verifying_key().as_bytes());
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Made<'a> {
        key_file: String,
        public_key: &'a str,
    }
    out.emit(
        &Made {
            key_file: path.display().to_string(),
            public_key: &public,
        },
        |out| {
            out.print(&format!(
                "Wrote a signing key to {} (keep it outside the store).",
                path.display()
            ));
            out.print(&format!("Public key: {public}"));
        },
    )
}

fn entry_table(out: &Output, entries: &[AuditLogEntry]) {
    if entries.is_empty() {
        out.print("No entries.");
        return;
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let subject = match (&e.event.model_id, &e.event.version) {
                (Some(m), Some(v)) => format!("{m} {v}"),
                (Some(m), None) => m.to_string(),
                _ => String::new(),
            };
            vec![
                e.sequence.to_string(),
                time(e.event.timestamp),
                e.event.kind.to_string(),
                out.severity(e.event.severity),
                e.event.actor.to_string(),
                subject,
                e.event.message.clone(),
            ]
        })
        .collect();
    let headers = [
        "SEQ", "TIME", "KIND", "SEVERITY", "ACTOR", "SUBJECT", "MESSAGE",
    ];
    out.table(&headers, &rows);
}

/// `--from` / `--to` as times; the defaults are the beginning and now.
fn range_of(
    m: &ModelLifecycleManager,
    range: &RangeArgs,
) -> Outcome<(DateTime<Utc>, DateTime<Utc>)> {
    let from = match &range.from {
        Some(text) => parse_time(text)?,
        None => DateTime::<Utc>::UNIX_EPOCH,
    };
    let to = match &range.to {
        Some(text) => parse_time(text)?,
        None => m.now() + lifecycle::chrono::Duration::seconds(1),
    };
    if from >= to {
        return Err(Failure::error(format!(
            "--from {} is not before --to {}",
            time(from),
            time(to)
        )));
    }
    Ok((from, to))
}

/// `2026-11-01` (midnight UTC) or RFC 3339 (`2026-11-01T09:00:00Z`).
fn parse_time(text: &str) -> Outcome<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            Failure::error(format!(
                "invalid time {text:?}: use 2026-11-01 or 2026-11-01T09:00:00Z"
            ))
        })
}

/// Writes a file the way a user can rely on. A regular file (or a new one)
/// is written beside its place, flushed, `fsync`ed and renamed over it, and
/// the directory synced: readers see the old file or the whole new one,
/// never half, and a crash after success loses nothing. Anything else that
/// exists there (`/dev/null`, a pipe, a terminal) is written directly and
/// never replaced. A symbolic link is followed to the file it names.
async fn write_atomically<T, F, Fut>(path: &Path, write: F) -> Outcome<T>
where
    F: FnOnce(BufWriter<std::fs::File>) -> Fut,
    Fut: std::future::Future<Output = Result<T, lifecycle::LifecycleError>>,
{
    let cannot = |what: &str, path: &Path, e: std::io::Error| {
        Failure::error(format!(
            "cannot {what} {}: {}",
            path.display(),
            crate::failure::io_reason(&e)
        ))
    };
    let target = match std::fs::canonicalize(path) {
        Ok(resolved) => resolved,
        Err(_) => path.to_path_buf(),
    };
    if let Ok(meta) = std::fs::metadata(&target) {
        if !meta.is_file() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| cannot("open", &target, e))?;
            return Ok(write(BufWriter::new(file)).await?);
        }
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let partial = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let file = std::fs::File::create(&partial).map_err(|e| cannot("create", &partial, e))?;
    let written = match file.try_clone() {
        Ok(handle) => write(BufWriter::new(handle)).await.map_err(Failure::from),
        Err(e) => Err(cannot("write", &partial, e)),
    };
    let finished = written.and_then(|value| {
        file.sync_all().map_err(|e| cannot("write", &partial, e))?;
        std::fs::rename(&partial, &target).map_err(|e| cannot("move into place", &target, e))?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; a directory that cannot be
            // opened for syncing (some file systems) leaves the file complete.
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(value)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

pub async fn backup(m: &ModelLifecycleManager, path: &Path, out: &Output) -> Outcome {
    let summary = write_atomically(path, |file| async move { m.create_backup(file).await }).await?;
    out.emit(&summary, |out| {
        out.print(&format!(
            "Backed up {}, {}, {} and {} to {}.",
            count(summary.models, "model", "models"),
            count(summary.versions, "version", "versions"),
            count(summary.metrics, "metrics checkpoint", "metrics checkpoints"),
            count(summary.audit_entries, "audit entry", "audit entries"),
            path.display()
        ));
    })
}

pub async fn restore(m: &ModelLifecycleManager, path: &Path, out: &Output) -> Outcome {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::error(format!("cannot read {}: {e}", path.display())))?;
    let summary: BackupSummary = m.restore_backup(BufReader::new(file)).await?;
    out.emit(&summary, |out| {
        out.print(&format!(
            "Restored {}, {}, {} and {}.",
            count(summary.models, "model", "models"),
            count(summary.versions, "version", "versions"),
            count(summary.metrics, "metrics checkpoint", "metrics checkpoints"),
            count(summary.audit_entries, "audit entry", "audit entries")
        ));
    })
}

pub async fn status(m: &ModelLifecycleManager, out: &Output) -> Outcome {
    let view = StatusReport::from(m.get_system_status().await?);
    out.emit(&view, |out| {
        let size = view
            .store_size_bytes
            .map_or_else(String::new, |b| format!(", {} KiB on disk", b / 1024));
        out.print(&format!("store:     {}{size}", view.store_kind));
        let counts: Vec<String> = view
            .versions_by_status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        out.print(&format!(
            "models:    {} ({})",
            view.models,
            if counts.is_empty() {
                "no versions".to_string()
            } else {
                counts.join(", ")
            }
        ));
        for a in &view.active {
            out.print(&format!("serving:   {} {}", a.model_id, a.version));
        }
        for c in &view.canaries {
            out.print(&format!(
                "canary:    {} {} on {} %",
                c.model_id,
                c.version,
                c.weight_percent.unwrap_or(0)
            ));
        }
        for f in &view.alerts_firing {
            out.print(&format!(
                "alert:     {} {} {:?}",
                f.model_id, f.version, f.level
            ));
        }
        let critical = view
            .deprecation_warnings
            .iter()
            .filter(|w| w.severity == Severity::Critical)
            .count();
        out.print(&format!(
            "warnings:  {} with an end of life ({critical} critical; see `lifecycle warnings`)",
            count(
                view.deprecation_warnings.len() as u64,
                "version",
                "versions"
            )
        ));
        let chain = if view.audit_chain_verified {
            out.good("verified")
        } else {
            out.bad("BROKEN")
        };
        out.print(&format!(
            "audit:     {} entries, chain {chain}",
            view.audit_entries
        ));
    })
}
