//! `sluice conflicts list|show ID [--json] CONNECTOR.json...`: the multi-source conflicts a
//! connector's target recorded, and `resolve ID --take SOURCE|--values JSON CONNECTOR.json`
//! for those waiting for review. Reports follow the seed spec's "Conflict Resolution Report" shape
//! (`conflict_id`, `record_id`, `conflict_type`, `detected_at`, `conflicting_fields`,
//! `sources[]`, `resolution{strategy, resolved_values, resolved_at, resolved_by}`).

use super::offsets::open_target;
use crate::config::ConnectorConfig;
use clap::{Args, Subcommand};
use serde_json::Value as Json;
use std::path::PathBuf;

/// `sluice conflicts` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Every conflict of the connectors (newest first).
    List(ListArgs),
    /// One conflict.
    Show(ShowArgs),
    /// Resolve a pending conflict: the chosen values are written as a normal versioned change.
    Resolve(ResolveArgs),
}

/// Arguments of `sluice conflicts resolve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("choice").required(true).args(["take", "values"])))]
pub struct ResolveArgs {
    /// The conflict id.
    pub id: i64,
    /// Take this source's values (one of the two sides).
    #[arg(long, value_name = "SOURCE")]
    pub take: Option<String>,
    /// Write these column values (a JSON object) over the current row's.
    #[arg(long, value_name = "JSON")]
    pub values: Option<String>,
    /// Who resolves it (recorded as resolved_by; default $USER, else "operator").
    #[arg(long)]
    pub by: Option<String>,
    /// The connector config whose target holds the conflict.
    pub connector: PathBuf,
}

/// Arguments of `sluice conflicts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (an array of conflict reports).
    #[arg(long)]
    pub json: bool,
    /// Only conflicts waiting for review.
    #[arg(long)]
    pub pending: bool,
    /// Connector configs.
    #[arg(required = true)]
    pub connectors: Vec<PathBuf>,
}

/// Arguments of `sluice conflicts show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The conflict id (as `list` prints it).
    pub id: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Connector configs.
    #[arg(required = true)]
    pub connectors: Vec<PathBuf>,
}

/// Runs a conflicts subcommand.
pub async fn run(command: ConflictsCommand) -> Result<i32, String> {
    match command {
        ConflictsCommand::List(args) => {
            let mut all = Vec::new();
            for path in &args.connectors {
                all.extend(read(path, None, args.pending).await?);
            }
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&Json::Array(all)).unwrap_or_default()
                );
            } else {
                for c in &all {
                    print_line(c);
                }
            }
            Ok(0)
        }
        ConflictsCommand::Resolve(args) => resolve(args).await,
        ConflictsCommand::Show(args) => {
            for path in &args.connectors {
                if let Some(c) = read(path, Some(args.id), false).await?.pop() {
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
                    } else {
                        print_line(&c);
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&c["sources"]).unwrap_or_default()
                        );
                    }
                    return Ok(0);
                }
            }
            Err(format!(
                "no conflict {} in these connectors' targets",
                args.id
            ))
        }
    }
}

/// Conflicts of one connector (`id`: just that one), newest first.
async fn read(path: &std::path::Path, id: Option<i64>, pending: bool) -> Result<Vec<Json>, String> {
    let config = ConnectorConfig::from_file(path).map_err(|e| e.to_string())?;
    let db = open_target(&config).await?;
    let result = crate::report::conflicts::reports(&db, &config.group_id(), id, pending).await;
    db.close().await;
    result.map_err(|e| format!("target: {e}"))
}

async fn resolve(args: ResolveArgs) -> Result<i32, String> {
    use crate::sink::conflicts::Choice;
    let choice = match (&args.take, &args.values) {
        (Some(source), _) => Choice::Take(source.clone()),
        (None, Some(text)) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(map)) => Choice::Values(map),
            _ => return Err(format!("--values: not a JSON object: {text}")),
        },
        (None, None) => return Err("give --take SOURCE or --values JSON".into()),
    };
    let by = args
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    let config = ConnectorConfig::from_file(&args.connector).map_err(|e| e.to_string())?;
    let mut sink = crate::sink::Sink::open(&config)
        .await
        .map_err(|e| format!("target: {e}"))?;
    let result = sink.resolve_conflict(args.id, &choice, &by).await;
    sink.db().close().await;
    let (table, row) = result?;
    match row {
        Some(values) => println!(
            "conflict {} resolved by {by}: {table} row written {}",
            args.id,
            serde_json::to_string(&values).unwrap_or_default()
        ),
        None => println!("conflict {} resolved by {by}: {table} row deleted", args.id),
    }
    Ok(0)
}

fn print_line(c: &Json) {
    let s = |v: &Json| v.as_str().unwrap_or("-").to_string();
    println!(
        "{:>6}  {:<9} {:<16} {:<24} record {:<12} {} vs {}  [{}]",
        s(&c["conflict_id"]),
        s(&c["status"]),
        s(&c["conflict_type"]),
        s(&c["table"]),
        s(&c["record_id"]),
        s(&c["sources"][0]["source"]),
        s(&c["sources"][1]["source"]),
        s(&c["resolution"]["strategy"]),
    );
}
