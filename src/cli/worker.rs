//! `sluice worker`: a worker like Kafka Connect's distributed mode — the Connect REST API on
//! `listeners`, connectors in the config topic, the tasks shared by every worker of `group.id`.

use super::run::shutdown_signal;
use super::WorkerArgs;
use crate::api::{self, Auth, Listener, RestTls};
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
    let listeners =
        Listener::parse_all(&settings.listeners).map_err(|e| format!("worker config: {e}"))?;
    let tls = if listeners.iter().any(|l| l.https) {
        let tls = RestTls::from_worker(&config).map_err(|e| format!("worker config: {e}"))?;
        Some(tls.ok_or_else(|| {
            format!(
                "worker config: listeners={} has an https listener: set \
                 listeners.https.ssl.keystore.location (or ssl.keystore.location)",
                settings.listeners
            )
        })?)
    } else {
        None
    };
    let auth = Auth::from_worker(&config).map_err(|e| format!("worker config: {e}"))?;
    // Connect advertises the first listener of `rest.advertised.listener`'s protocol.
    let wanted = config
        .distributed
        .get("rest.advertised.listener")
        .map(|p| p.trim().eq_ignore_ascii_case("https"));
    let listener = wanted
        .and_then(|https| listeners.iter().find(|l| l.https == https))
        .unwrap_or(&listeners[0]);
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
    let mut bound = Vec::new();
    for listener in &listeners {
        let address = api::serve(listener, tls.as_ref(), worker.clone(), auth.clone())
            .await
            .map_err(|e| format!("REST listener {listener}: {e}"))?;
        bound.push(address);
    }
    tracing::info!(addresses = ?bound, worker_id = worker.id(), "worker started");
    worker.stopped().await;
    Ok(0)
}
