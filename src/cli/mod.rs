//! Command line: one file per subcommand; `main.rs` only parses and dispatches.

pub mod check;
pub mod offsets;
pub mod run;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// kmirror: replicate Kafka topics between clusters, MirrorMaker 2 compatible.
#[derive(Debug, Parser)]
#[command(name = "kmirror", version, about, long_about = None)]
pub struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replicate until SIGTERM/SIGINT, then finish in-flight produces, save progress and exit 0.
    Run {
        /// An MM2 properties file (connect-mirror-maker.properties).
        config: PathBuf,
        /// Only run flows whose target is one of these aliases (MM2's --clusters).
        #[arg(long, num_args = 1..)]
        clusters: Vec<String>,
        /// Serve /metrics, /status and /healthz here (or `metrics.addr` in the file).
        #[arg(long)]
        metrics_addr: Option<String>,
    },
    /// Validate a config file and print its flows and effective settings.
    Check {
        /// An MM2 properties file.
        config: PathBuf,
        /// Also connect to the source clusters and list what would be replicated.
        #[arg(long)]
        connect: bool,
    },
    /// Print the offsets consumer groups would resume from on the target, from the flow's
    /// checkpoints (MM2's RemoteClusterUtils.translateOffsets).
    Offsets {
        /// An MM2 properties file.
        config: PathBuf,
        /// Source cluster alias of the flow.
        #[arg(long)]
        source: String,
        /// Target cluster alias of the flow (where the checkpoints and the groups' new home are).
        #[arg(long)]
        target: String,
        /// Only this consumer group.
        #[arg(long)]
        group: Option<String>,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// How far behind each flow is, read from the clusters (no running process needed).
    Status {
        /// An MM2 properties file.
        config: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Sets up `tracing` (RUST_LOG filters; info by default).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
