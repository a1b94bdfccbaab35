//! Runs a command: opens the store, does the work through the facade, disposes.

mod audit;
mod import;
mod models;
mod monitor;

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use lifecycle::{
    Actor, EvaluationConfig, Loading, ModelId, ModelLifecycleManager, PolicyConfig, Version,
};
use serde::{Deserialize, Serialize};

use crate::args::{AuditCommand, Cli, Command};
use crate::failure::{Failure, Outcome};
use crate::output::Output;

/// Runs the command line's command.
pub async fn run(cli: &Cli, out: &Output) -> Outcome {
    match &cli.command {
        Command::Completions { shell } => {
            // Into a buffer: clap_complete panics on a failed write (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "lifecycle", &mut script);
            let _ = std::io::stdout().write_all(&script);
            return Ok(());
        }
        Command::Demo(args) => return crate::demo::run(cli, args, out).await,
        Command::Init => return init(cli, out).await,
        Command::MigrateSchema => return migrate_schema(cli, out).await,
        Command::Audit(AuditCommand::Keygen { output }) => return audit::keygen(output, out),
        // Refused before the store is opened (and held).
        Command::Serve { listen } => {
            lifecycle_server::check_listen_address(*listen).map_err(Failure::error)?
        }
        _ => {}
    }
    // Restoring fills a new store; everything else needs an existing one.
    let must_exist = !matches!(cli.command, Command::Restore { .. });
    let manager = open(cli, must_exist).await?;
    let result = dispatch(&manager, cli, out).await;
    let disposed = manager.dispose().await;
    result?;
    disposed.map_err(Failure::from)
}

async fn dispatch(m: &ModelLifecycleManager, cli: &Cli, out: &Output) -> Outcome {
    use Command::*;
    match &cli.command {
        Register(args) => models::register(m, args, out).await,
        List(args) => models::list(m, args, out).await,
        Show { model, version } => models::show(m, model, version.as_deref(), out).await,
        Testing { model, version } => models::testing(m, model, version, out).await,
        Activate {
            model,
            version,
            force,
        } => models::activate(m, model, version, force, out).await,
        Deactivate { model, version } => models::deactivate(m, model, version, out).await,
        Canary(command) => models::canary(m, command, out).await,
        Deprecate {
            model,
            version,
            reason,
            replacement,
            grace_days,
        } => {
            let replacement = replacement.as_deref();
            models::deprecate(m, model, version, reason, replacement, *grace_days, out).await
        }
        Retire { model, version } => models::retire(m, model, version, out).await,
        Rollback {
            model,
            version,
            reason,
        } => models::rollback(m, model, version, reason, out).await,
        Route { model, key } => models::route(m, model, key, out).await,
        Serve { listen } => serve(m, *listen, out).await,
        Record(args) => monitor::record(m, args, out).await,
        Evaluate { model, version } => monitor::evaluate(m, model, version, out).await,
        Compare {
            model,
            baseline,
            candidate,
        } => monitor::compare(m, model, baseline, candidate, out).await,
        Watch {
            interval_secs,
            stdin,
        } => monitor::watch(m, *interval_secs, *stdin, out).await,
        CanDeploy { model, version } => audit::can_deploy(m, model, version, out).await,
        Warnings => audit::warnings(m, out).await,
        Maintain => audit::maintain(m, out).await,
        Audit(command) => audit::audit(m, command, out).await,
        Status => audit::status(m, out).await,
        Backup { output } => audit::backup(m, output, out).await,
        Restore { file } => audit::restore(m, file, out).await,
        Import(command) => import::import(m, command, out).await,
        Init | MigrateSchema | Completions { .. } | Demo(_) => Ok(()),
    }
}

/// The `--config` file: thresholds and policy, each optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    evaluation: EvaluationConfig,
    #[serde(default)]
    policy: PolicyConfig,
}

fn config(cli: &Cli) -> Outcome<Config> {
    let Some(path) = &cli.config else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::error(format!("cannot read config {}: {e}", path.display())))?;
    let source = format!("config {}", path.display());
    crate::input::parse_object(&text, &source, None, "a configuration")
}

/// A command reads only the models it names (`show` on a catalogue of
/// 50,000 models reads one); `watch` checks every model's health, so it
/// holds them all from the start.
fn loading(command: &Command) -> Loading {
    match long_running(command) {
        true => Loading::AtStart,
        false => Loading::OnFirstUse,
    }
}

/// Whether the command runs until it is stopped.
fn long_running(command: &Command) -> bool {
    matches!(command, Command::Watch { .. } | Command::Serve { .. })
}

/// How often the manager reads what other processes commit: only `watch`
/// and `serve` on PostgreSQL run long enough to need it (a sled store has
/// no other writer); woken at once by the store's notifications, polling
/// every second as the backstop.
fn following(cli: &Cli) -> Option<std::time::Duration> {
    (long_running(&cli.command) && cli.store.is_some() && !cli.memory)
        .then_some(std::time::Duration::from_secs(1))
}

/// Serves the API on `listen` until Ctrl-C or SIGTERM.
async fn serve(m: &ModelLifecycleManager, listen: std::net::SocketAddr, out: &Output) -> Outcome {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::error(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener.local_addr()?;
    out.print_now(&format!(
        "Serving the API on http://{bound} ({} store); Ctrl-C or SIGTERM stops it.",
        m.store_kind()
    ));
    let mut terminated = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stopped = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated.recv() => {}
        }
    };
    let handle = m.clone();
    lifecycle_server::serve(listener, handle, stopped).await?;
    Ok(())
}

/// Opens the manager on the store the command line names.
pub async fn open(cli: &Cli, must_exist: bool) -> Outcome<ModelLifecycleManager> {
    let config = config(cli)?;
    let builder = ModelLifecycleManager::builder()
        .actor(Actor::new(&cli.actor)?)
        .evaluation_config(config.evaluation)
        .policy_config(config.policy)
        .change_poll_interval(following(cli))
        .loading(loading(&cli.command));
    // Short-lived commands check health themselves (`evaluate`, `watch`);
    // the server checks in the background, as an application does.
    let builder = match cli.command {
        Command::Serve { .. } => builder,
        _ => builder.alert_check_interval(None),
    };
    let builder = if cli.memory {
        builder.memory()
    } else if let Some(url) = &cli.store {
        builder.postgres(postgres_url(url)?)
    } else {
        // An empty directory (an unmounted mount point, say) is no store:
        // only `init` and `restore` make one.
        let empty =
            || std::fs::read_dir(&cli.data_dir).is_ok_and(|mut entries| entries.next().is_none());
        if must_exist && (!cli.data_dir.exists() || empty()) {
            let what = if cli.data_dir.exists() {
                "the directory is empty"
            } else {
                "it does not exist"
            };
            return Err(Failure::error(format!(
                "no store at {} ({what}): create one with `lifecycle init`, or point --data-dir (LIFECYCLE_DATA) at an existing one",
                cli.data_dir.display()
            )));
        }
        builder.sled(&cli.data_dir)
    };
    Ok(builder.build().await?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Initialized {
    data_dir: String,
    created: bool,
    models: usize,
}

/// `--store`'s value, when it names a store this build can open.
fn postgres_url(url: &str) -> Outcome<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url);
    }
    Err(Failure::error(format!(
        "invalid --store {:?}: write a PostgreSQL URL, postgres://user:password@host:5432/database \
         (or leave --store out for the directory store in --data-dir)",
        lifecycle::domain::shorten(url)
    )))
}

async fn init(cli: &Cli, out: &Output) -> Outcome {
    let existed = !cli.memory && cli.store.is_none() && store_exists(&cli.data_dir);
    let manager = open(cli, false).await?;
    let models = manager.get_models().await;
    manager.dispose().await?;
    let models = models?.len();
    let report = Initialized {
        data_dir: store_name(cli),
        // A database's schema is made on connecting: it is new when empty.
        created: if cli.store.is_some() {
            models == 0
        } else {
            !existed
        },
        models,
    };
    out.emit(&report, |out| {
        if report.created {
            out.print(&format!("Created an empty store in {}.", report.data_dir));
        } else {
            out.print(&format!(
                "A store already exists in {} ({} models); left as it is.",
                report.data_dir, report.models
            ));
        }
    })
}

/// The store the command line names, for people: never a password.
fn store_name(cli: &Cli) -> String {
    if cli.memory {
        return "memory".into();
    }
    match &cli.store {
        Some(url) => lifecycle::store_postgres::without_credentials(url),
        None => cli.data_dir.display().to_string(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SchemaMigrated {
    store: String,
}

/// Connecting applies the schema's migrations; nothing else is done.
async fn migrate_schema(cli: &Cli, out: &Output) -> Outcome {
    let Some(url) = &cli.store else {
        return Err(Failure::error(
            "migrate-schema is for a PostgreSQL store: name it with --store postgres://... (LIFECYCLE_STORE); \
             a directory store needs no migration",
        ));
    };
    let store = lifecycle::store_postgres::PostgresStore::connect(postgres_url(url)?)
        .await
        .map_err(lifecycle::LifecycleError::from)?;
    let report = SchemaMigrated {
        store: store.location().to_string(),
    };
    out.emit(&report, |out| {
        out.print(&format!("The schema of {} is up to date.", report.store));
    })
}

fn store_exists(dir: &Path) -> bool {
    dir.read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
}

pub fn model_id(text: &str) -> Outcome<ModelId> {
    Ok(ModelId::new(text)?)
}

pub fn version(text: &str) -> Outcome<Version> {
    Ok(Version::parse(text)?)
}
