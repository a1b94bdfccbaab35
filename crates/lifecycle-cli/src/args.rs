//! The command line: every command, flag and help text (clap derive).

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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

/// The heading global flags are listed under, apart from each command's own.
const GLOBAL: &str = "Global options";
const MODEL: &str = "The model id, e.g. gpt-4-turbo";
const VERSION: &str = "The version, strict SemVer, e.g. 2.0.0";

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
        default_value = "lifecycle-data",
        help_heading = GLOBAL
    )]
    pub data_dir: PathBuf,
    /// A PostgreSQL store instead of the directory:
    /// postgres://user:password@host:5432/database (many processes and
    /// machines at once; the schema is created on first use).
    #[arg(long, global = true, env = "LIFECYCLE_STORE", help_heading = GLOBAL)]
    pub store: Option<String>,
    /// Thresholds and policy, as JSON: {"evaluation": {...}, "policy": {...}}
    /// with the fields of docs/configuration.md (camelCase, e.g. minSamples).
    #[arg(long, global = true, env = "LIFECYCLE_CONFIG", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Use a throwaway in-memory store instead (gone when the command ends).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub memory: bool,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// Who is recorded in the audit log as making changes.
    #[arg(
        long,
        global = true,
        env = "LIFECYCLE_ACTOR",
        default_value = "cli",
        help_heading = GLOBAL
    )]
    pub actor: String,
    /// Log what happens inside (repeat for more detail) to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store in --data-dir (or the schema in --store's database).
    #[command(after_help = "Examples:\n  lifecycle init
  lifecycle --data-dir /var/lib/lifecycle init")]
    Init,
    /// Create or upgrade the schema of the PostgreSQL store --store names,
    /// and nothing else: for operators who apply migrations ahead of a deploy.
    #[command(
        after_help = "Examples:\n  lifecycle --store postgres://lifecycle@db/lifecycle migrate-schema"
    )]
    MigrateSchema,
    /// Register a new version (inactive), from flags or a JSON file.
    #[command(
        after_help = "Examples:\n  lifecycle register --model gpt-4o --version 1.0.0 --provider openai \\
      --provider-model gpt-4o-2024-08-06 --param temperature=0.2 \\
      --input-price 0.0025 --output-price 0.01
  lifecycle register --file version.json"
    )]
    Register(Box<RegisterArgs>),
    /// List versions, optionally filtered.
    #[command(after_help = "Examples:\n  lifecycle list --status active
  lifecycle list --provider anthropic --json")]
    List(ListArgs),
    /// Show a model's versions, or one version in full.
    #[command(after_help = "Examples:\n  lifecycle show gpt-4o
  lifecycle show gpt-4o 1.0.0 --json")]
    Show {
        #[arg(help = MODEL)]
        model: String,
        /// One version to show in full (default: the table of all).
        version: Option<String>,
    },
    /// Move a version into testing.
    #[command(after_help = "Examples:\n  lifecycle testing gpt-4o 1.1.0")]
    Testing {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
    },
    /// Make a version active (the policy is consulted first).
    #[command(after_help = "Examples:\n  lifecycle activate gpt-4o 1.0.0
  lifecycle activate gpt-4o 1.1.0 --force --reason \"INC-4711: 1.0.0 is down\"")]
    Activate {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// Take a version out of service without deprecating it.
    #[command(after_help = "Examples:\n  lifecycle deactivate gpt-4o 1.0.0")]
    Deactivate {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
    },
    /// Run, adjust, promote or abort a canary.
    #[command(
        after_help = "Examples:\n  lifecycle canary start gpt-4o 1.1.0 --weight 5
  lifecycle canary promote gpt-4o"
    )]
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// Deprecate a version: why, what replaces it, how long until end of life.
    #[command(
        after_help = "Examples:\n  lifecycle deprecate gpt-4o 1.0.0 --reason \"superseded\" --replacement 1.1.0 --grace-days 30"
    )]
    Deprecate {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
        /// Why it is deprecated.
        #[arg(long)]
        reason: String,
        /// The version to move to.
        #[arg(long)]
        replacement: Option<String>,
        /// Days until end of life, 0 to 3650 (default: the policy's
        /// defaultGracePeriodDays).
        #[arg(long, allow_negative_numbers = true, value_parser = grace_days)]
        grace_days: Option<u32>,
    },
    /// Retire a version for good.
    #[command(after_help = "Examples:\n  lifecycle retire gpt-4o 0.9.0")]
    Retire {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
    },
    /// Make VERSION active again in place of the current one.
    #[command(
        after_help = "Examples:\n  lifecycle rollback gpt-4o 1.0.0 --reason \"p95 regression in 1.1.0\""
    )]
    Rollback {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "manual rollback")]
        reason: String,
    },
    /// Which version serves a request key (sticky).
    #[command(after_help = "Examples:\n  lifecycle route gpt-4o user-42
  lifecycle route gpt-4o user-42 --json   # with what to call: serving.providerModel, ...")]
    Route {
        #[arg(help = MODEL)]
        model: String,
        /// The request key: the same key always gets the same version (a
        /// user id, a session id), unless weights change.
        key: String,
    },
    /// Record inference results: one from flags, or many from NDJSON.
    #[command(
        after_help = "Examples:\n  lifecycle record gpt-4o 1.0.0 --latency-ms 420 --input-tokens 900 --output-tokens 120
  lifecycle record gpt-4o 1.0.0 --latency-ms 30000 --failed timeout
  lifecycle record --file results.ndjson"
    )]
    Record(RecordArgs),
    /// Judge a version against the thresholds over the rolling window (exit 3 unless passed).
    #[command(after_help = "Examples:\n  lifecycle evaluate gpt-4o 1.1.0 && echo passed")]
    Evaluate {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
    },
    /// Judge CANDIDATE against BASELINE, the way a canary is judged.
    #[command(
        after_help = "Examples:\n  lifecycle compare gpt-4o 1.0.0 1.1.0 || echo \"the canary does not pass\""
    )]
    Compare {
        #[arg(help = MODEL)]
        model: String,
        /// The version judged against, usually the active one.
        baseline: String,
        /// The version judged, usually the canary.
        candidate: String,
    },
    /// Follow alerts live until interrupted (Ctrl-C or SIGTERM); with
    /// --stdin, record results read from stdin meanwhile and stop at its end.
    #[command(after_help = "Examples:\n  lifecycle watch --interval-secs 10
  tail -f results.ndjson | lifecycle watch --stdin --json")]
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
    /// Serve the API over HTTP until Ctrl-C or SIGTERM (docs/server.md).
    #[command(after_help = "Examples:\n  lifecycle serve
  lifecycle --store postgres://lifecycle@db/lifecycle serve --listen 127.0.0.1:8080")]
    Serve {
        /// The address to listen on: loopback only, until the server has access tokens.
        #[arg(long, default_value = "127.0.0.1:7070", env = "LIFECYCLE_LISTEN")]
        listen: std::net::SocketAddr,
    },
    /// Whether the policy allows deploying a version (exit 3 if not).
    #[command(after_help = "Examples:\n  lifecycle can-deploy gpt-4o 1.1.0 --json")]
    CanDeploy {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
    },
    /// Deprecation warnings, most urgent first.
    #[command(after_help = "Examples:\n  lifecycle warnings --json")]
    Warnings,
    /// Retire versions past end of life; list the warnings left.
    #[command(after_help = "Examples:\n  lifecycle maintain   # e.g. daily from cron")]
    Maintain,
    /// Query, report on, export and verify the audit log.
    #[command(after_help = "Examples:\n  lifecycle audit recent -n 5
  lifecycle audit report --from 2026-11-01 --to 2026-12-01
  lifecycle audit verify")]
    #[command(subcommand)]
    Audit(AuditCommand),
    /// What serves what, what fires, the store and the audit chain.
    #[command(after_help = "Examples:\n  lifecycle status --json")]
    Status,
    /// Write a backup of the whole store.
    #[command(after_help = "Examples:\n  lifecycle backup -o lifecycle-2026-12-01.ndjson")]
    Backup {
        /// The file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Restore a backup into an empty store (created if missing).
    #[command(
        after_help = "Examples:\n  lifecycle --data-dir restored restore lifecycle-2026-12-01.ndjson"
    )]
    Restore {
        /// The backup file (written by `lifecycle backup`).
        file: PathBuf,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  lifecycle completions bash > ~/.local/share/bash-completion/completions/lifecycle"
    )]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Register models from other tools' catalogues.
    #[command(subcommand)]
    Import(ImportCommand),
    /// A narrated end-to-end run of the whole system on the embedded store.
    #[command(
        after_help = "Examples:\n  lifecycle demo\n  lifecycle demo --seed 7 --json --memory"
    )]
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
    pub prompt: Option<lifecycle::domain::PromptRef>,
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
    #[command(after_help = "Examples:\n  lifecycle canary start gpt-4o 1.1.0 --weight 5")]
    Start {
        #[arg(help = MODEL)]
        model: String,
        #[arg(help = VERSION)]
        version: String,
        /// Percent of traffic, 1–99 (promote to send all of it).
        #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = percent)]
        weight: u8,
    },
    /// Change the canary's share of traffic.
    #[command(after_help = "Examples:\n  lifecycle canary weight gpt-4o 25")]
    Weight {
        #[arg(help = MODEL)]
        model: String,
        /// Percent of traffic, 1–99.
        #[arg(allow_negative_numbers = true, value_parser = percent)]
        percent: u8,
    },
    /// Make the canary the active version (the policy is consulted first).
    #[command(
        after_help = "Examples:\n  lifecycle canary promote gpt-4o\n  lifecycle canary promote gpt-4o --force --reason \"INC-4711: 1.0.0 is down\""
    )]
    Promote {
        #[arg(help = MODEL)]
        model: String,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// Stop the canary; it goes back to inactive.
    #[command(after_help = "Examples:\n  lifecycle canary abort gpt-4o")]
    Abort {
        #[arg(help = MODEL)]
        model: String,
    },
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
    /// Latency in milliseconds of the request (required for a single result).
    #[arg(long, allow_negative_numbers = true, required_unless_present = "file")]
    pub latency_ms: Option<f64>,
    /// The request failed, of this kind: timeout, rateLimited, serverError,
    /// clientError, invalidResponse, contentFiltered, network or other (the
    /// names of result files; rate-limited and rate_limited work too).
    #[arg(long, value_name = "KIND", value_parser = error_kind)]
    pub failed: Option<lifecycle::ErrorKind>,
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

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Everything recorded about a model, oldest first.
    #[command(after_help = "Examples:\n  lifecycle audit history gpt-4o --json")]
    History {
        #[arg(help = MODEL)]
        model: String,
    },
    /// The most recent entries, newest first.
    #[command(after_help = "Examples:\n  lifecycle audit recent -n 50")]
    Recent {
        /// How many, 1 to 1000000.
        #[arg(short, default_value_t = 20, allow_negative_numbers = true, value_parser = entries)]
        n: usize,
    },
    /// Critical entries, newest first.
    #[command(after_help = "Examples:\n  lifecycle audit critical --json")]
    Critical,
    /// A compliance report of [--from, --to).
    #[command(
        after_help = "Examples:\n  lifecycle audit report --from 2026-11-01 --to 2026-12-01 --json"
    )]
    Report(RangeArgs),
    /// Export entries of [--from, --to) as JSON or NDJSON.
    #[command(
        after_help = "Examples:\n  lifecycle audit export --from 2026-11-01 -o november.ndjson\n  lifecycle audit export --format json | jq length"
    )]
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
    #[command(
        after_help = "Examples:\n  lifecycle audit verify\n  lifecycle audit verify --against head.json --public-key KEY_HEX"
    )]
    Verify {
        /// A checkpoint written by `audit sign` (JSON).
        #[arg(long, requires = "public_key")]
        against: Option<PathBuf>,
        /// The trusted public key that signed it (64 hex digits), or a file holding it.
        #[arg(long, env = "LIFECYCLE_AUDIT_PUBLIC_KEY")]
        public_key: Option<String>,
    },
    /// Sign the chain's current head: recorded in the log and written out to keep elsewhere.
    #[command(after_help = "Examples:\n  lifecycle audit sign --key audit.key -o head.json")]
    Sign {
        /// The signing key file (from `audit keygen`).
        #[arg(long, env = "LIFECYCLE_AUDIT_KEY_FILE")]
        key: PathBuf,
        /// Write the checkpoint here as well as to stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Make a signing key (written with mode 0600) and print its public key.
    #[command(after_help = "Examples:\n  lifecycle audit keygen -o audit.key")]
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
    #[command(
        after_help = "Examples:\n  curl -sO https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json\n  lifecycle import litellm model_prices_and_context_window.json --mode chat"
    )]
    Litellm {
        /// LiteLLM's model_prices_and_context_window.json (`-` for stdin).
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

impl Cli {
    /// Parses the command line, with help that shows the defaults in force:
    /// `--grace-days` names the grace of the configuration `--config` (or
    /// `LIFECYCLE_CONFIG`) points at. Usage errors exit 2, `--help` 0.
    pub fn parse_with_config() -> Self {
        let days = configured_grace_days();
        let command = Cli::command().mut_subcommand("deprecate", |c| {
            c.mut_arg("grace_days", |a| {
                a.help(format!(
                    "Days until end of life, 0 to 3650 (default: the policy's \
                     defaultGracePeriodDays, {days} in force)"
                ))
            })
        });
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The grace period the configuration in force gives: `--config FILE`,
/// `--config=FILE` or `LIFECYCLE_CONFIG`, else the default. An unreadable
/// configuration shows the default here; the command then reports it.
fn configured_grace_days() -> u32 {
    let default = lifecycle::PolicySettings::default().default_grace_period_days;
    let mut args = std::env::args_os().skip(1);
    let mut path = std::env::var_os("LIFECYCLE_CONFIG").map(PathBuf::from);
    while let Some(arg) = args.next() {
        if arg == "--config" {
            path = args.next().map(PathBuf::from);
        } else if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            path = Some(PathBuf::from(value));
        }
    }
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|config| config["policy"]["defaultGracePeriodDays"].as_u64())
        .and_then(|days| u32::try_from(days).ok())
        .unwrap_or(default)
}

/// An exact decimal from the command line (`0.0025`, `2.5e-3`).
fn decimal(text: &str) -> Result<lifecycle::Decimal, String> {
    lifecycle::domain::parse_decimal(text)
}

/// A whole number from `min` to `max`, or a message naming the value and
/// the range: negative numbers reach this check instead of being taken for
/// flags.
fn whole<T: TryFrom<i128>>(text: &str, min: i128, max: i128, unit: &str) -> Result<T, String> {
    let range = || format!("give a whole number from {min} to {max}{unit}");
    let value: i128 = text.trim().parse().map_err(|_| {
        format!(
            "{:?} is not a whole number; {}",
            lifecycle::domain::shorten(text),
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
            lifecycle::domain::shorten(text)
        ));
    };
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((name.to_string(), value))
}

/// `NAME@VERSION`.
fn prompt(text: &str) -> Result<lifecycle::domain::PromptRef, String> {
    match text.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => {
            Ok(lifecycle::domain::PromptRef::new(name, version))
        }
        _ => Err(format!(
            "{:?} is not NAME@VERSION, such as support-agent@14",
            lifecycle::domain::shorten(text)
        )),
    }
}

fn error_kind(text: &str) -> Result<lifecycle::ErrorKind, String> {
    lifecycle::ErrorKind::parse(text).map_err(|e| e.to_string())
}

fn grace_days(text: &str) -> Result<u32, String> {
    whole(
        text,
        0,
        i128::from(lifecycle::domain::MAX_GRACE_DAYS),
        " days",
    )
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
    whole(
        text,
        0,
        i128::from(lifecycle::domain::MAX_TOKENS),
        " tokens",
    )
}

fn token_limit(text: &str) -> Result<u32, String> {
    whole(
        text,
        1,
        i128::from(lifecycle::domain::MAX_TOKENS),
        " tokens",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command a user can run: its help has an example and says what
    /// each positional argument is; global flags stand under their own heading.
    #[test]
    fn every_command_has_an_example_and_described_arguments() {
        fn leaves(command: &clap::Command, path: String, found: &mut Vec<(String, clap::Command)>) {
            let subs: Vec<&clap::Command> = command
                .get_subcommands()
                .filter(|c| c.get_name() != "help")
                .collect();
            if subs.is_empty() {
                found.push((path.clone(), command.clone()));
            }
            for sub in subs {
                leaves(sub, format!("{path} {}", sub.get_name()), found);
            }
        }
        let mut found = Vec::new();
        let mut root = Cli::command();
        root.build();
        leaves(&root, "lifecycle".into(), &mut found);
        assert!(found.len() > 30, "{}", found.len());
        for (path, mut command) in found {
            let help = command.render_long_help().to_string();
            assert!(help.contains("Examples:"), "{path} has no example:\n{help}");
            for arg in command.get_positionals() {
                assert!(
                    arg.get_help().is_some(),
                    "{path}: <{}> is not described",
                    arg.get_id()
                );
            }
            assert!(help.contains("Global options:"), "{path}:\n{help}");
        }
    }

    #[test]
    fn every_error_kind_is_listed_in_the_help_of_failed() {
        let mut command = Cli::command();
        let record = command.find_subcommand_mut("record").unwrap();
        let help = record.render_long_help().to_string();
        for kind in lifecycle::ErrorKind::ALL {
            assert!(
                help.contains(kind.as_str()),
                "{} missing:\n{help}",
                kind.as_str()
            );
        }
    }
}
