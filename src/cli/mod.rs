//! The command line: `sluice [demo]`, `run`, `validate`, `offsets show|reset`, `status`,
//! `conflicts list|show|resolve`, `dlq ...`, `topics apply`, `connectors ...` (a client of a
//! worker's REST API).

mod conflicts;
mod connectors;
pub mod demo;
mod dlq;
mod offsets;
mod run;
mod status;
mod topics;
mod validate;
mod worker;

use crate::config::WorkerConfig;
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// sluice: exactly-once Debezium change-data-capture into SQL databases.
#[derive(Debug, Parser)]
#[command(name = "sluice", version = crate::telemetry::VERSION_LINE)]
pub struct Cli {
    /// The command (none: the demo pipeline on embedded defaults).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log format on stderr: text or json.
    ///
    /// text: one line per event, in colour only when stderr is a terminal and NO_COLOR is
    /// unset; json: one JSON object per line. SLUICE_LOG is the filter (default
    /// info,rdkafka=warn,sqlx=warn).
    #[arg(
        long,
        global = true,
        env = "SLUICE_LOG_FORMAT",
        value_enum,
        default_value_t = crate::telemetry::LogFormat::Text
    )]
    pub log_format: crate::telemetry::LogFormat,
}

/// Worker settings shared by every command that talks to Kafka.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Kafka Connect worker properties file.
    #[arg(long = "worker", value_name = "FILE")]
    pub worker: Option<PathBuf>,
    /// Kafka bootstrap servers (overrides SLUICE_BOOTSTRAP_SERVERS and the worker file).
    #[arg(long)]
    pub bootstrap_servers: Option<String>,
    /// Address for /metrics and /health, e.g. 127.0.0.1:9464.
    #[arg(long)]
    pub metrics_address: Option<String>,
}

impl WorkerArgs {
    /// Loads the worker config: flags > SLUICE_* environment > file > defaults.
    pub fn load(&self) -> Result<WorkerConfig, String> {
        let mut flags = BTreeMap::new();
        if let Some(b) = &self.bootstrap_servers {
            flags.insert("bootstrap.servers".to_string(), b.clone());
        }
        if let Some(m) = &self.metrics_address {
            flags.insert("sluice.metrics.address".to_string(), m.clone());
        }
        let env: Vec<(String, String)> = std::env::vars().collect();
        WorkerConfig::load(
            self.worker.as_deref(),
            &flags,
            &|name| std::env::var(name).ok(),
            &env,
        )
        .map_err(|problems| format!("worker config: {}", problems.join("; ")))
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on embedded defaults (in-process broker, SQLite target).
    Demo,
    /// Run connectors.
    Run(run::RunArgs),
    /// Run a worker like Kafka Connect's distributed mode: the Connect REST API, connectors in
    /// the config topic, tasks shared by the workers of one group.id.
    Worker(worker::WorkerModeArgs),
    /// Check connector configs, connectivity and target tables; exit non-zero listing problems.
    Validate(validate::ValidateArgs),
    /// Show or reset the checkpoint of a connector.
    #[command(subcommand)]
    Offsets(offsets::OffsetsCommand),
    /// The sync status report of connectors, read from their targets.
    Status(status::StatusArgs),
    /// Multi-source conflicts: list, show, resolve.
    #[command(subcommand)]
    Conflicts(conflicts::ConflictsCommand),
    /// Dead letters: list, show, replay.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Manage a worker's connectors through its REST API (Kafka Connect's).
    Connectors(connectors::ConnectorsArgs),
    /// Declarative topics: create, raise partitions, align configs from topics/*.json.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
}

/// Runs the parsed command line; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => demo::run().await,
        Command::Run(args) => run::run(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Validate(args) => validate::run(args).await,
        Command::Offsets(command) => offsets::run(command).await,
        Command::Status(args) => status::run(args).await,
        Command::Conflicts(command) => conflicts::run(command).await,
        Command::Dlq(command) => dlq::run(command).await,
        Command::Connectors(args) => connectors::run(args).await,
        Command::Topics(command) => topics::run(command).await,
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}
