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

mod types;

pub use types::*;

use crate::telemetry::{Health, Metrics};
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// A handle on the running worker; cheap to clone.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    metrics: Metrics,
    health: Health,
}

impl Worker {
    /// This worker's id: the `host:port` its REST listener advertises.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The Kafka cluster id the worker's broker reports, once known.
    pub fn kafka_cluster_id(&self) -> Option<String> {
        None
    }

    /// The metrics of every task on this worker.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The health of every task on this worker (liveness and readiness).
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// Every connector's name, sorted.
    pub fn connectors(&self) -> Vec<String> {
        Vec::new()
    }

    /// A connector's config and tasks.
    pub fn info(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// A connector's config as stored (placeholders unresolved).
    pub fn config(&self, name: &str) -> Result<Config, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// Creates a connector (`POST /connectors`): refused if the name exists or the config
    /// is invalid (every problem listed).
    pub async fn create(&self, name: &str, config: Config) -> Result<ConnectorInfo, WorkerError> {
        let _ = config;
        Err(WorkerError::Internal(format!("{name}: not built")))
    }

    /// Creates or replaces a connector's config (`PUT .../config`); `true` when created.
    pub async fn put_config(
        &self,
        name: &str,
        config: Config,
    ) -> Result<(bool, ConnectorInfo), WorkerError> {
        let _ = config;
        Err(WorkerError::NotFound(name.into()))
    }

    /// Changes some keys of a connector's config (`PATCH .../config`; `None` removes a key).
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, WorkerError> {
        let _ = patch;
        Err(WorkerError::NotFound(name.into()))
    }

    /// Deletes a connector: its tasks stop, its config is tombstoned.
    pub async fn delete(&self, name: &str) -> Result<(), WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// Pauses, resumes or stops a connector.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        let _ = target;
        Err(WorkerError::NotFound(name.into()))
    }

    /// Restarts a connector (and its tasks, or only the failed ones); its status after.
    pub async fn restart(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus, WorkerError> {
        let _ = request;
        Err(WorkerError::NotFound(name.into()))
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        let _ = task;
        Err(WorkerError::NotFound(name.into()))
    }

    /// A connector's and its tasks' states.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// A connector's tasks with their configs.
    pub fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// The topics a connector has read since it was created.
    pub fn topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// Validates a config for a connector class, every problem per key (`ConfigInfos`).
    pub fn validate(&self, plugin: &str, config: &Config) -> Result<ConfigInfos, WorkerError> {
        let _ = config;
        Err(WorkerError::BadRequest(format!("{plugin}: not built")))
    }

    /// The plugins sluice accepts: sink connector classes, and with `connectors_only=false`
    /// transforms, predicates and converters.
    pub fn plugins(connectors_only: bool) -> Vec<PluginInfo> {
        let _ = connectors_only;
        Vec::new()
    }

    /// A connector's offsets: its checkpoint in the target.
    pub async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }

    /// Moves a STOPPED connector's checkpoint (target and group), as `sluice offsets reset`.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<(), WorkerError> {
        let _ = offsets;
        Err(WorkerError::NotFound(name.into()))
    }

    /// Resets a STOPPED connector's checkpoint to the beginning of its topics.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        Err(WorkerError::NotFound(name.into()))
    }
}
