//! The `kmirror` binary: parse the command line, set up logging, dispatch,
//! and turn errors into exit codes with a one-line hint.

use clap::Parser;
use kmirror::cli::{Cli, Command, init_tracing};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        match &cli.command {
            Command::Run {
                config,
                clusters,
                metrics_addr,
            } => kmirror::cli::run::run(config, clusters, metrics_addr.as_deref()).await,
            Command::Check { config, connect } => kmirror::cli::check::run(config, *connect).await,
            Command::Status { config, json } => kmirror::cli::status::run(config, *json).await,
            Command::Offsets {
                config,
                source,
                target,
                group,
                json,
            } => kmirror::cli::offsets::run(config, source, target, group.as_deref(), *json).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if format!("{e:#}").contains("Connection refused") {
                eprintln!("hint: is the cluster running and bootstrap.servers right?");
            }
            std::process::ExitCode::from(2)
        }
    }
}
