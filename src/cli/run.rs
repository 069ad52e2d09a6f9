//! `sluice run`: run connectors until SIGTERM/SIGINT (or `--stop-at-end`).

use super::WorkerArgs;
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::pipeline::{self, Report, RunOptions, Siblings};
use crate::telemetry::{serve, Health, Metrics};
use clap::Args;
use std::path::PathBuf;
use tokio::sync::watch;

/// Arguments of `sluice run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Worker settings.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Stop cleanly once every assigned partition is applied up to the end offsets seen at start.
    #[arg(long)]
    pub stop_at_end: bool,
    /// Connector config files (Kafka Connect JSON).
    #[arg(required = true, value_name = "CONNECTOR.json")]
    pub connectors: Vec<PathBuf>,
}

/// A shutdown signal that fires on SIGTERM or SIGINT.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stop signal received");
        let _ = tx.send(true);
    });
    rx
}

/// Runs connectors with a worker config; returns the exit code.
///
/// A connector with `tasks.max` N > 1 runs as N pipelines, each a consumer of the connector's
/// group with its own target connection and checkpoint rows, the group splitting the
/// partitions among them (as Kafka Connect's standalone worker runs a connector's tasks); their
/// states are kept as `<connector>-<task>` and their reports are added up. With
/// `--stop-at-end` the tasks stop together, once all are at their end (see [`Siblings`]).
pub async fn run_connectors(
    worker: WorkerConfig,
    configs: Vec<ConnectorConfig>,
    options: RunOptions,
    shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    health: Health,
) -> Result<i32, String> {
    let mut connectors = Vec::new();
    for config in configs {
        let tasks = config.tasks_max.max(1);
        let siblings = Siblings::group(tasks);
        let mut handles = Vec::new();
        for (task, sibling) in siblings.into_iter().enumerate() {
            let (worker, metrics, health, shutdown, config) = (
                worker.clone(),
                metrics.clone(),
                health.clone(),
                shutdown.clone(),
                config.clone(),
            );
            let options = RunOptions {
                task: (tasks > 1).then_some(task as u32),
                siblings: (tasks > 1).then_some(sibling),
                ..options.clone()
            };
            // A failing connector is logged (and FAILED in /ready) by the pipeline as it
            // fails; the others keep running, as connectors of one Kafka Connect worker do.
            handles.push(tokio::spawn(async move {
                pipeline::run(&worker, config, metrics, health, shutdown, options).await
            }));
        }
        connectors.push((config, handles));
    }
    let mut code = 0;
    for (config, handles) in connectors {
        let mut report: Option<Report> = None;
        let mut failed = Vec::new();
        for (task, handle) in handles.into_iter().enumerate() {
            match handle.await.map_err(|e| e.to_string())? {
                Ok(done) => match &mut report {
                    Some(report) => report.merge(done),
                    None => report = Some(done),
                },
                Err(e) if config.tasks_max > 1 => failed.push(format!("task {task}: {e}")),
                Err(e) => failed.push(e.to_string()),
            }
        }
        if !failed.is_empty() {
            eprintln!("connector {} failed: {}", config.name, failed.join("; "));
            code = 1;
            continue;
        }
        // The report's checkpoint is a courtesy: a target that is down (a shutdown during an
        // outage) must not hold the exit up (sqlx retries a refused connection until its
        // acquire timeout).
        let read = async {
            let db = crate::db::Db::connect(
                &config.target,
                config.username.as_deref(),
                config.password.as_ref(),
            )
            .await
            .ok()?;
            crate::checkpoint::load(&db, &config.group_id()).await.ok()
        };
        let checkpoint = tokio::time::timeout(std::time::Duration::from_secs(2), read)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        print!("{}", report.unwrap_or_default().render(&checkpoint));
    }
    Ok(code)
}

/// `sluice run`.
pub async fn run(args: RunArgs) -> Result<i32, String> {
    let worker = args.worker.load()?;
    let mut configs = Vec::new();
    for path in &args.connectors {
        configs.push(ConnectorConfig::from_file_with(path, &worker).map_err(|e| e.to_string())?);
    }
    let metrics = Metrics::new();
    let health = Health::new(worker.unreachable_timeout).with_observer(metrics.health_observer());
    if let Some(address) = worker.metrics_address {
        let bound = serve(address, metrics.clone(), health.clone())
            .await
            .map_err(|e| format!("metrics listener {address}: {e}"))?;
        tracing::info!(address = %bound, "serving /metrics and /health");
    }
    let options = RunOptions {
        stop_at_end: args.stop_at_end,
        shutdown_timeout: worker.shutdown_timeout,
        task: None,
        siblings: None,
    };
    run_connectors(worker, configs, options, shutdown_signal(), metrics, health).await
}
