//! `sluice topics apply DIR [--dry-run]`: aligns a cluster's topics with the definitions in
//! `topics/` (see [`crate::config::topics`]), Terraform-like: the plan first, then the safe
//! changes. Never deletes a topic, never lowers a partition count, never touches a config the
//! definitions do not declare.
//!
//! Exit codes: 0 when the cluster matches (or was made to match, or `--dry-run` found only
//! safe changes); 1 on an error (invalid definitions, broker unreachable, a change the broker
//! rejected); 3 when the plan holds a refused change (after the safe ones were applied). 2 stays
//! clap's usage error.

mod broker;
mod incremental;

use super::WorkerArgs;
use crate::config::topics::{self, DefinitionErrors};
use broker::{Broker, BrokerError};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Exit code when the plan holds a refused change.
pub const EXIT_REFUSED: i32 = 3;

/// `sluice topics` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create missing topics, raise partitions and align declared configs; print the plan and
    /// the drift. Never deletes topics or lowers partitions (exit 3 on such a refused change).
    Apply(ApplyArgs),
}

/// Arguments of `sluice topics apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Kafka worker settings (bootstrap.servers, security, admin.* client settings).
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// A directory of topic definition files (*.json), or one file.
    pub path: PathBuf,
}

/// Why `topics apply` stopped before its plan.
#[derive(Debug, thiserror::Error)]
enum TopicsError {
    #[error(transparent)]
    Definitions(#[from] DefinitionErrors),
    #[error("{0}")]
    Worker(String),
    #[error("broker {servers}: {source}")]
    Broker {
        servers: String,
        #[source]
        source: BrokerError,
    },
}

/// Runs a `sluice topics` command; returns the exit code.
pub async fn run(command: TopicsCommand) -> Result<i32, String> {
    match command {
        TopicsCommand::Apply(args) => apply(args).await.map_err(|e| e.to_string()),
    }
}

async fn apply(args: ApplyArgs) -> Result<i32, TopicsError> {
    let definitions = topics::load(&args.path)?;
    let worker = args.worker.load().map_err(TopicsError::Worker)?;
    let at_broker = |source| TopicsError::Broker {
        servers: worker.bootstrap_servers.clone(),
        source,
    };
    let broker = Broker::connect(&worker).map_err(at_broker)?;
    let actual = broker.topics(&definitions).await.map_err(at_broker)?;
    let plan = topics::plan(&definitions, &actual);
    let to_change = plan.iter().filter(|c| c.is_change()).count();
    let refused = plan.iter().filter(|c| c.is_refusal()).count();
    println!(
        "plan: {} definition(s) from {}, {} against {}",
        definitions.topics.len(),
        args.path.display(),
        if args.dry_run { "dry run" } else { "applying" },
        worker.bootstrap_servers
    );
    for change in &plan {
        println!("  {change}");
    }
    let code = if refused > 0 { EXIT_REFUSED } else { 0 };
    if to_change == 0 {
        println!("nothing to change{}", refused_note(refused));
        return Ok(code);
    }
    if args.dry_run {
        println!(
            "dry run: {to_change} change(s) not made{}",
            refused_note(refused)
        );
        return Ok(code);
    }
    let outcomes = broker.apply(&plan).await;
    let mut failed = 0;
    for (change, outcome) in plan.iter().zip(&outcomes) {
        if let Err(e) = outcome {
            failed += 1;
            eprintln!("failed: {change}: {e}");
        }
    }
    println!(
        "applied {} of {to_change} change(s){}",
        to_change - failed,
        refused_note(refused)
    );
    Ok(if failed > 0 { 1 } else { code })
}

fn refused_note(refused: usize) -> String {
    if refused == 0 {
        String::new()
    } else {
        format!("; {refused} refused (exit {EXIT_REFUSED})")
    }
}
