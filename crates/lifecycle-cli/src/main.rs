//! `lifecycle`: model lifecycle management from the shell. See `lifecycle --help`.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod demo;
mod failure;
mod input;
mod output;

use std::process::ExitCode;

use crate::args::Cli;
use crate::output::Output;

fn main() -> ExitCode {
    // Usage errors exit 2 with clap's message; --help and --version exit 0.
    let cli = Cli::parse_with_config();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return failure::Failure::error(format!("cannot start: {e}")).report(),
    };
    let out = Output::new(cli.json);
    let outcome = runtime.block_on(commands::run(&cli, &out));
    let lost = out.finish();
    match (outcome, lost) {
        (Err(failure), _) => failure.report(),
        // A reader that went away (`| head`) ends the output quietly, with
        // the status of a process stopped by SIGPIPE, as other tools do.
        (Ok(()), Some(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(failure::CLOSED_PIPE)
        }
        (Ok(()), Some(e)) => failure::Failure::error(format!(
            "cannot write the output: {}",
            failure::io_reason(&e)
        ))
        .report(),
        (Ok(()), None) => ExitCode::SUCCESS,
    }
}

/// Logs to stderr: errors only (commands report for themselves), or info
/// (`-v`), or debug (`-vv`) and beyond.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing_subscriber::filter::LevelFilter::ERROR,
        1 => tracing_subscriber::filter::LevelFilter::INFO,
        2 => tracing_subscriber::filter::LevelFilter::DEBUG,
        _ => tracing_subscriber::filter::LevelFilter::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
