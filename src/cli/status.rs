//! `sluice status [--json] CONNECTOR.json...`: the sync status report of each connector, read
//! from its target (what the batch transactions recorded) and, for lag, from the broker.
//!
//! The report itself is `report::status` (the seed spec's "Sync Status Report" shape), which the
//! worker's `GET /connectors/{name}/sluice/status` answers too.

use super::offsets::{admin, open_target};
use super::WorkerArgs;
use crate::checkpoint;
use crate::config::ConnectorConfig;
use crate::report::status::{lag, report};
use clap::Args;
use serde_json::Value as Json;
use std::path::PathBuf;

/// Arguments of `sluice status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Print the report as JSON (one object, or an array for several connectors).
    #[arg(long)]
    pub json: bool,
    /// Connector configs.
    #[arg(required = true)]
    pub connectors: Vec<PathBuf>,
}

/// Runs `sluice status`.
pub async fn run(args: StatusArgs) -> Result<i32, String> {
    let worker = args.worker.load()?;
    let mut reports = Vec::new();
    for path in &args.connectors {
        let config = ConnectorConfig::from_file(path).map_err(|e| e.to_string())?;
        let db = open_target(&config).await?;
        let lag = {
            let stored = checkpoint::load(&db, &config.group_id())
                .await
                .map_err(|e| format!("target: {e}"))?;
            let consumer = admin(&worker, &config);
            tokio::task::spawn_blocking(move || lag(&consumer?, &stored))
                .await
                .map_err(|e| e.to_string())?
        };
        let report = report(&db, &config, lag)
            .await
            .map_err(|e| format!("target: {e}"))?;
        db.close().await;
        reports.push(report);
    }
    if args.json {
        let out = match reports.len() {
            1 => reports.remove(0),
            _ => Json::Array(reports),
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for r in &reports {
            print_text(r);
        }
    }
    Ok(0)
}

fn print_text(r: &Json) {
    let m = &r["metadata"];
    let s = &r["statistics"];
    println!(
        "{} [{}]  processed {}  inserted {}  updated {}  deleted {}  skipped {}  late {}",
        m["sync_id"].as_str().unwrap_or(""),
        m["status"].as_str().unwrap_or(""),
        s["records_processed"],
        s["records_inserted"],
        s["records_updated"],
        s["records_deleted"],
        s["records_skipped"],
        s["late_arriving"],
    );
    for t in r["tables"].as_array().into_iter().flatten() {
        println!(
            "  {:<40} processed {:>8}  inserted {:>8}  updated {:>8}  deleted {:>8}  last {}",
            t["table"].as_str().unwrap_or(""),
            t["records_processed"],
            t["records_inserted"],
            t["records_updated"],
            t["records_deleted"],
            t["last_sync_timestamp"].as_str().unwrap_or("-"),
        );
    }
    for w in r["warnings"].as_array().into_iter().flatten() {
        println!("  warning: {}", w.as_str().unwrap_or(""));
    }
}
