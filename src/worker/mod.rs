//! The distributed worker behind `sluice worker` (Kafka Connect's distributed mode).
//!
//! Connector configs and target states live in the config topic (`config.storage.topic`, one
//! compacted partition, Connect's `connector-<name>` / `target-state-<name>` records), statuses
//! and the workers' heartbeats in the status topic. Every worker reads both topics to the end
//! and keeps the same view; the started connectors' tasks are spread over the live workers of
//! one `group.id`, each task a pipeline in the connector's consumer group, so Kafka splits the
//! partitions and the fenced checkpoint keeps every change applied exactly once.
//!
//! [`Worker`] is the one handle the REST API (`api/`) and the CLI use: the API only translates
//! HTTP to its operations.

mod assign;
mod control;
mod log;
mod offsets;
mod operations;
mod plugins;
mod reports;
mod settings;
mod tasks;
mod types;
mod view;

pub use offsets::{group_consumer, group_members, move_checkpoint};
pub use operations::SINK_CLASSES;
pub use settings::Settings;
pub use types::*;

use crate::config::WorkerConfig;
use crate::telemetry::{Health, Metrics};
use log::TopicLog;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use view::View;

/// Why a worker operation was refused; the REST API maps each to Connect's status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// No such connector (404).
    #[error("Connector {0} not found")]
    NotFound(String),
    /// No such task of an existing connector (404).
    #[error("Task {0} not found")]
    TaskNotFound(String),
    /// A connector of that name exists (409).
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// The worker group is rebalancing or the config changed under the request (409).
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be applied as it is: an invalid config (every problem listed), an
    /// operation the connector's state forbids, an unknown plugin (400).
    #[error("{0}")]
    BadRequest(String),
    /// The worker could not do it: the broker did not take a write, a target is down (500).
    #[error("{0}")]
    Internal(String),
}

/// Connect's message for a request refused while its workers rebalance.
pub const REBALANCING: &str =
    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)";

/// A handle on the running worker; cheap to clone.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    /// `host:port` of the REST listener as others reach it.
    id: String,
    url: String,
    settings: Settings,
    config: WorkerConfig,
    metrics: Metrics,
    health: Health,
    view: Arc<Mutex<View>>,
    /// Fires whenever either topic brought a record.
    changed: Arc<Notify>,
    configs: TopicLog,
    statuses: TopicLog,
    /// Config writes of this worker, one at a time (a check then a write).
    writes: tokio::sync::Mutex<()>,
    /// Whether the group is rebalancing: the live workers changed and the tasks have not all
    /// been taken up by the workers the new assignment gives them (see `control`).
    rebalancing: std::sync::atomic::AtomicBool,
    cluster_id: Option<String>,
    /// Ends when the control loop has stopped every task and said goodbye.
    done: watch::Receiver<bool>,
}

impl Worker {
    /// Joins the worker group: reads the config and status topics (creating them if missing),
    /// says it is alive, and runs its share of the tasks until `shutdown`. `advertised` is the
    /// `host:port` clients and other workers reach its REST listener at.
    pub async fn start(
        config: WorkerConfig,
        settings: Settings,
        advertised: String,
        metrics: Metrics,
        health: Health,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Worker, WorkerError> {
        let view = Arc::new(Mutex::new(View::default()));
        let changed = Arc::new(Notify::new());
        let apply = |status: bool| -> log::Apply {
            let (view, changed) = (view.clone(), changed.clone());
            Box::new(move |(key, value)| {
                if let Ok(mut v) = view.lock() {
                    if status {
                        v.apply_status(&key, value.as_deref());
                    } else {
                        v.apply_config(&key, value.as_deref());
                    }
                }
                changed.notify_one();
            })
        };
        let configs = TopicLog::open(
            &config,
            &settings.config_topic,
            1,
            settings.config_replication,
            apply(false),
        )
        .await
        .map_err(WorkerError::Internal)?;
        let statuses = TopicLog::open(
            &config,
            &settings.status_topic,
            settings.status_partitions,
            settings.status_replication,
            apply(true),
        )
        .await
        .map_err(WorkerError::Internal)?;
        let cluster_id = control::cluster_id(&config).await;
        let (done_tx, done) = watch::channel(false);
        let inner = Arc::new(Inner {
            url: format!("http://{advertised}"),
            id: advertised,
            settings,
            config,
            metrics,
            health,
            view,
            changed,
            configs,
            statuses,
            writes: tokio::sync::Mutex::new(()),
            rebalancing: std::sync::atomic::AtomicBool::new(false),
            cluster_id,
            done,
        });
        let worker = Worker { inner };
        worker.heartbeat().await?;
        tokio::spawn(control::run(worker.clone(), shutdown, done_tx));
        Ok(worker)
    }

    /// Refuses a change while the group rebalances, as Connect does (409): the request is
    /// safe to repeat once the tasks have moved.
    fn settled(&self) -> Result<(), WorkerError> {
        if self
            .inner
            .rebalancing
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(WorkerError::Conflict(REBALANCING.into()));
        }
        Ok(())
    }

    /// Waits until the worker has stopped its tasks after the shutdown signal.
    pub async fn stopped(&self) {
        let mut done = self.inner.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// This worker's id: the `host:port` its REST listener advertises.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The Kafka cluster id the worker's broker reports, once known.
    pub fn kafka_cluster_id(&self) -> Option<String> {
        self.inner.cluster_id.clone()
    }

    /// The metrics of every task on this worker.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The health of every task on this worker (liveness and readiness).
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    fn view(&self) -> View {
        self.inner
            .view
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}
