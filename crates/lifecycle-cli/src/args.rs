//! The command line: every command, flag and help text (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (bad input, unknown model or version, illegal transition, store problems)
  2  usage (unknown command or flag, missing argument)
  3  a policy rejection or a failed judgement: `can-deploy`, `activate`,
     `canary promote` rejected by the policy; `evaluate` not passed;
     `compare` not passed (fail or no data; marginal with
     policy.refuseMarginalJudgement)

Output: tables for people; `--json` prints one JSON document per command
(NDJSON events for `watch` and `demo`), field names in camelCase.";

/// Model lifecycle management from the shell: register model versions,
/// roll them out behind canaries, record and judge how they perform,
/// retire them on schedule, and prove who changed what.
#[derive(Debug, Parser)]
#[command(name = "lifecycle", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The store's directory (created by `lifecycle init`).
    #[arg(
        long,
        global = true,
        env = "LIFECYCLE_DATA",
        default_value = "lifecycle-data"
    )]
    pub data_dir: PathBuf,
    /// Thresholds and policy, as JSON: {"evaluation": {...}, "policy": {...}}
    /// with the fields of EvaluationSettings and PolicySettings (docs/guide.md).
    #[arg(long, global = true, env = "LIFECYCLE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Use a throwaway in-memory store instead (gone when the command ends).
    #[arg(long, global = true)]
    pub memory: bool,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is recorded in the audit log as making changes.
    #[arg(long, global = true, env = "LIFECYCLE_ACTOR", default_value = "cli")]
    pub actor: String,
    /// Log what happens inside (repeat for more detail) to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store in --data-dir.
    Init,
    /// Register a new version (inactive), from flags or a JSON file.
    Register(Box<RegisterArgs>),
    /// List versions, optionally filtered.
    List(ListArgs),
    /// Show a model's versions, or one version in full.
    Show {
        model: String,
        version: Option<String>,
    },
    /// Move a version into testing.
    Testing { model: String, version: String },
    /// Make a version active (the policy is consulted first).
    Activate {
        model: String,
        version: String,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// Take a version out of service without deprecating it.
    Deactivate { model: String, version: String },
    /// Run, adjust, promote or abort a canary.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// Deprecate a version: why, what replaces it, how long until end of life.
    Deprecate {
        model: String,
        version: String,
        /// Why it is deprecated.
        #[arg(long)]
        reason: String,
        /// The version to move to.
        #[arg(long)]
        replacement: Option<String>,
        /// Days until end of life, 0 to 3650 (the policy's default, 90, if not given).
        #[arg(long, allow_negative_numbers = true, value_parser = grace_days)]
        grace_days: Option<u32>,
    },
    /// Retire a version for good.
    Retire { model: String, version: String },
    /// Make VERSION active again in place of the current one.
    Rollback {
        model: String,
        version: String,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "manual rollback")]
        reason: String,
    },
    /// Which version serves a request key (sticky).
    Route { model: String, key: String },
    /// Record inference results: one from flags, or many from NDJSON.
    Record(RecordArgs),
    /// Judge a version against the thresholds over the rolling window (exit 3 unless passed).
    Evaluate { model: String, version: String },
    /// Judge CANDIDATE against BASELINE, the way a canary is judged.
    Compare {
        model: String,
        baseline: String,
        candidate: String,
    },
    /// Follow alerts live until interrupted (Ctrl-C or SIGTERM); with
    /// --stdin, record results read from stdin meanwhile and stop at its end.
    Watch {
        /// Seconds between health checks, 1 to 86400.
        #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = seconds)]
        interval_secs: u64,
        /// Record the results piped on stdin (NDJSON lines, as `record
        /// --file -`) and stop at the end of the input. Without it, stdin is
        /// not read: `watch` runs until interrupted, under cron or systemd too.
        #[arg(long)]
        stdin: bool,
    },
    /// Whether the policy allows deploying a version (exit 3 if not).
    CanDeploy { model: String, version: String },
    /// Deprecation warnings, most urgent first.
    Warnings,
    /// Retire versions past end of life; list the warnings left.
    Maintain,
    /// Query, report on, export and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// What serves what, what fires, the store and the audit chain.
    Status,
    /// Write a backup of the whole store.
    Backup {
        /// The file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Restore a backup into an empty store (created if missing).
    Restore { file: PathBuf },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// Register models from other tools' catalogues.
    #[command(subcommand)]
    Import(ImportCommand),
    /// A narrated end-to-end run of the whole system on the embedded store.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// A JSON file in the library's `ModelVersion` shape (`-` for stdin).
    #[arg(long, conflicts_with_all = ["model", "version"])]
    pub file: Option<PathBuf>,
    /// The model id, e.g. gpt-4-turbo.
    #[arg(long, required_unless_present = "file")]
    pub model: Option<String>,
    /// The version, strict SemVer (1.0.0).
    #[arg(long, required_unless_present = "file")]
    pub version: Option<String>,
    /// Who serves it: openai, anthropic, azure, self-hosted...
    #[arg(long, default_value = "openai")]
    pub provider: String,
    /// Context window in tokens.
    #[arg(long, default_value_t = 128_000, allow_negative_numbers = true, value_parser = token_limit)]
    pub context_tokens: u32,
    /// Most completion tokens per request.
    #[arg(long, default_value_t = 4_096, allow_negative_numbers = true, value_parser = token_limit)]
    pub max_output_tokens: u32,
    /// Price of 1,000 prompt tokens, an exact decimal; without both prices
    /// the price is unknown (never taken as free).
    #[arg(long, value_parser = decimal)]
    pub input_price: Option<lifecycle::Decimal>,
    /// Price of 1,000 completion tokens.
    #[arg(long, value_parser = decimal)]
    pub output_price: Option<lifecycle::Decimal>,
    /// ISO currency code of the prices.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// A name for people.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// A label (repeat for more).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// It can stream.
    #[arg(long)]
    pub streaming: bool,
    /// It can call functions / tools.
    #[arg(long)]
    pub function_calling: bool,
    /// It accepts images.
    #[arg(long)]
    pub vision: bool,
    /// It has a JSON output mode.
    #[arg(long)]
    pub json_mode: bool,
    /// The model name the provider's API takes, e.g. gpt-4o-2024-08-06
    /// (default: the model id). Fixed at registration: a change is a new version.
    #[arg(
        long,
        help_heading = "Serving (what `route` tells the application to call)"
    )]
    pub provider_model: Option<String>,
    /// The endpoint URL or deployment name to call, when not the provider's default.
    #[arg(
        long,
        help_heading = "Serving (what `route` tells the application to call)"
    )]
    pub endpoint: Option<String>,
    /// A request parameter sent with every call, NAME=VALUE; VALUE is JSON
    /// when it parses as JSON (0.2, true, ["\n"]), else a string. Repeat for more.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parameter,
        help_heading = "Serving (what `route` tells the application to call)")]
    pub parameters: Vec<(String, serde_json::Value)>,
    /// The system prompt this version ships with, NAME@VERSION (support-agent@14).
    #[arg(long, value_name = "NAME@VERSION", value_parser = prompt,
        help_heading = "Serving (what `route` tells the application to call)")]
    pub prompt: Option<lifecycle::PromptRef>,
}

/// The emergency override of a policy refusal.
#[derive(Debug, Args)]
pub struct ForceArgs {
    /// Deploy even if the policy refuses (an emergency): recorded in the
    /// audit log at warning severity with --reason and what was refused.
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the policy is overridden (required with --force).
    #[arg(long, requires = "force")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only versions in this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
}

/// A lifecycle status, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Inactive,
    Testing,
    Canary,
    Active,
    Deprecated,
    Retired,
}

#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Start VERSION as the canary on --weight percent of traffic.
    Start {
        model: String,
        version: String,
        /// Percent of traffic, 1–99 (promote to send all of it).
        #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = percent)]
        weight: u8,
    },
    /// Change the canary's share of traffic.
    Weight {
        model: String,
        /// Percent of traffic, 1–99.
        #[arg(allow_negative_numbers = true, value_parser = percent)]
        percent: u8,
    },
    /// Make the canary the active version (the policy is consulted first).
    Promote {
        model: String,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// Stop the canary; it goes back to inactive.
    Abort { model: String },
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// An NDJSON file of results (`-` for stdin); one object per line:
    /// {"modelId":"gpt-4-turbo","version":"1.0.0","success":true,"latencyMs":420,
    /// "confidence":0.9,"inputTokens":900,"outputTokens":120,"errorKind":null}
    /// The whole file is one batch: checked first, then recorded all or
    /// nothing in one write, and only once (a re-run says so and records
    /// nothing again).
    #[arg(long, conflicts_with_all = ["model", "version"])]
    pub file: Option<PathBuf>,
    /// The batch's id (default: the SHA-256 of the file's content).
    #[arg(long, requires = "file")]
    pub batch_id: Option<String>,
    /// The model of a single result.
    #[arg(required_unless_present = "file")]
    pub model: Option<String>,
    /// The version of a single result.
    #[arg(required_unless_present = "file")]
    pub version: Option<String>,
    /// Latency in milliseconds.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub latency_ms: f64,
    /// The request failed, of this kind.
    #[arg(long, value_enum)]
    pub failed: Option<ErrorKindArg>,
    /// The model's confidence, 0–1.
    #[arg(long, allow_negative_numbers = true)]
    pub confidence: Option<f64>,
    /// Prompt tokens.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = tokens)]
    pub input_tokens: u32,
    /// Completion tokens.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = tokens)]
    pub output_tokens: u32,
}

/// Why a request failed, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ErrorKindArg {
    Timeout,
    RateLimited,
    ServerError,
    ClientError,
    InvalidResponse,
    ContentFiltered,
    Network,
    Other,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Everything recorded about a model, oldest first.
    History { model: String },
    /// The most recent entries, newest first.
    Recent {
        /// How many, 1 to 1000000.
        #[arg(short, default_value_t = 20, allow_negative_numbers = true, value_parser = entries)]
        n: usize,
    },
    /// Critical entries, newest first.
    Critical,
    /// A compliance report of [--from, --to).
    Report(RangeArgs),
    /// Export entries of [--from, --to) as JSON or NDJSON.
    Export {
        #[command(flatten)]
        range: RangeArgs,
        /// json (one array) or ndjson (one entry per line).
        #[arg(long, value_enum, default_value_t = FormatArg::Ndjson)]
        format: FormatArg,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check every entry's hash and link, and that the stored state is what
    /// the entries describe; with --against, that the chain extends a signed
    /// checkpoint kept outside the store.
    Verify {
        /// A checkpoint written by `audit sign` (JSON).
        #[arg(long, requires = "public_key")]
        against: Option<PathBuf>,
        /// The trusted public key that signed it (64 hex digits), or a file holding it.
        #[arg(long, env = "LIFECYCLE_AUDIT_PUBLIC_KEY")]
        public_key: Option<String>,
    },
    /// Sign the chain's current head: recorded in the log and written out to keep elsewhere.
    Sign {
        /// The signing key file (from `audit keygen`).
        #[arg(long, env = "LIFECYCLE_AUDIT_KEY_FILE")]
        key: PathBuf,
        /// Write the checkpoint here as well as to stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Make a signing key (written with mode 0600) and print its public key.
    Keygen {
        /// Where to write the key; never overwritten.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// Start, inclusive: 2026-11-01 or 2026-11-01T09:00:00Z (default: 1970-01-01).
    #[arg(long)]
    pub from: Option<String>,
    /// End, exclusive: same forms (default: now).
    #[arg(long)]
    pub to: Option<String>,
}

/// An export format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Json,
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Register models from LiteLLM's model_prices_and_context_window.json.
    Litellm {
        file: PathBuf,
        /// Only entries of this provider (litellm_provider).
        #[arg(long)]
        provider: Option<String>,
        /// Only entries of this mode (chat, embedding, completion...).
        #[arg(long)]
        mode: Option<String>,
        /// The version registered for each model.
        #[arg(long, default_value = "1.0.0")]
        version: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulated traffic: the same seed, the same run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// An exact decimal from the command line (`0.0025`, `2.5e-3`).
fn decimal(text: &str) -> Result<lifecycle::Decimal, String> {
    lifecycle::parse_decimal(text)
}

/// A whole number from `min` to `max`, or a message naming the value and
/// the range: negative numbers reach this check instead of being taken for
/// flags.
fn whole<T: TryFrom<i128>>(text: &str, min: i128, max: i128, unit: &str) -> Result<T, String> {
    let range = || format!("give a whole number from {min} to {max}{unit}");
    let value: i128 = text.trim().parse().map_err(|_| {
        format!(
            "{:?} is not a whole number; {}",
            lifecycle::shorten(text),
            range()
        )
    })?;
    if !(min..=max).contains(&value) {
        return Err(format!("{value} is out of range; {}", range()));
    }
    T::try_from(value).map_err(|_| range())
}

/// `NAME=VALUE`, the value taken as JSON when it is JSON.
fn parameter(text: &str) -> Result<(String, serde_json::Value), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "{:?} has no '='; give NAME=VALUE, such as temperature=0.2",
            lifecycle::shorten(text)
        ));
    };
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((name.to_string(), value))
}

/// `NAME@VERSION`.
fn prompt(text: &str) -> Result<lifecycle::PromptRef, String> {
    match text.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => {
            Ok(lifecycle::PromptRef::new(name, version))
        }
        _ => Err(format!(
            "{:?} is not NAME@VERSION, such as support-agent@14",
            lifecycle::shorten(text)
        )),
    }
}

fn grace_days(text: &str) -> Result<u32, String> {
    whole(text, 0, i128::from(lifecycle::MAX_GRACE_DAYS), " days")
}

fn percent(text: &str) -> Result<u8, String> {
    whole(
        text,
        1,
        99,
        " % (promote the canary to send it all traffic)",
    )
}

fn seconds(text: &str) -> Result<u64, String> {
    whole(text, 1, 86_400, " seconds")
}

fn entries(text: &str) -> Result<usize, String> {
    whole(text, 1, 1_000_000, " entries")
}

fn tokens(text: &str) -> Result<u32, String> {
    whole(text, 0, i128::from(lifecycle::MAX_TOKENS), " tokens")
}

fn token_limit(text: &str) -> Result<u32, String> {
    whole(text, 1, i128::from(lifecycle::MAX_TOKENS), " tokens")
}
