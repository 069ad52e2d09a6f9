//! `sluice worker`: a worker like Kafka Connect's distributed mode — the Connect REST API on
//! `listeners`, connectors in the config topic, the tasks shared by every worker of `group.id`.

use super::run::shutdown_signal;
use super::WorkerArgs;
use crate::api::{self, Auth, Listener};
use crate::telemetry::{Health, Metrics};
use crate::worker::{Settings, Worker};
use clap::Args;

/// Arguments of `sluice worker`.
#[derive(Debug, Args)]
pub struct WorkerModeArgs {
    /// Worker settings (a `connect-distributed.properties` file).
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// The host other workers and clients reach this one at when the listener binds every
/// interface: the machine's host name (a pod's name on Kubernetes).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `sluice worker`: serves until SIGTERM/SIGINT, then stops its tasks (each within
/// `sluice.shutdown.timeout.ms`) and leaves the group.
pub async fn run(args: WorkerModeArgs) -> Result<i32, String> {
    let config = args.worker.load()?;
    let settings = Settings::from_worker(&config)
        .map_err(|problems| format!("worker config: {}", problems.join("; ")))?;
    let listener =
        Listener::parse(&settings.listeners).map_err(|e| format!("worker config: {e}"))?;
    let auth = Auth::from_worker(&config).map_err(|e| format!("worker config: {e}"))?;
    let host = match settings.advertised_host.clone() {
        Some(h) => h,
        None if matches!(listener.host.as_str(), "0.0.0.0" | "::") => host_name(),
        None => listener.host.clone(),
    };
    let advertised = format!(
        "{host}:{}",
        settings.advertised_port.unwrap_or(listener.port)
    );
    let metrics = Metrics::new();
    // No observer: the worker sets the connector and task state gauges from its status.
    let health = Health::new(config.unreachable_timeout);
    let shutdown = shutdown_signal();
    let worker = Worker::start(config, settings, advertised, metrics, health, shutdown)
        .await
        .map_err(|e| format!("worker: {e}"))?;
    let bound = api::serve(&listener, worker.clone(), auth)
        .await
        .map_err(|e| format!("REST listener {listener}: {e}"))?;
    tracing::info!(address = %bound, worker_id = worker.id(), "worker started");
    worker.stopped().await;
    Ok(0)
}
