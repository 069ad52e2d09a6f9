//! How a connector's run is asked for ([`RunOptions`]) and how it ends when it fails
//! ([`PipelineError`]).

use super::end::Siblings;
use crate::event::Coordinates;
use std::time::Duration;

/// Why a connector stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A record that cannot be applied, with `errors.tolerance=none`.
    #[error("bad record at {topic}/{partition}/{offset} (key {key}): {reason}")]
    BadRecord {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// The record key as text (lossy UTF-8), or `null`.
        key: String,
        /// Why.
        reason: String,
    },
    /// Another worker owns a partition this one was applying; its batch was rolled back.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The target database failed permanently.
    #[error("target database: {0}")]
    Target(String),
    /// Kafka client setup or the source thread failed.
    #[error("kafka: {0}")]
    Kafka(String),
    /// Too many records would be dead-lettered (`sluice.errors.max.ratio`).
    #[error("too many dead letters: {0}")]
    TooManyErrors(String),
    /// Shutdown came while a batch could not be committed (the target down, a retry
    /// waiting); nothing of it was committed, so a restart applies it again.
    #[error("stopped before the in-flight batch could be committed")]
    Interrupted,
}

/// Options of `sluice run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop once every assigned partition is applied up to its end offset at assignment.
    pub stop_at_end: bool,
    /// After SIGTERM, how long a batch being applied may still take to commit; retries stop
    /// at once (`sluice.shutdown.timeout.ms`).
    pub shutdown_timeout: Duration,
    /// The task it runs, when the connector runs several (a worker's tasks, `sluice run` with
    /// `tasks.max` > 1): its health is kept per task and its log lines name it.
    pub task: Option<u32>,
    /// The other tasks of the connector in this process (`sluice run` with `tasks.max` > 1).
    pub siblings: Option<Siblings>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            stop_at_end: false,
            shutdown_timeout: Duration::from_secs(10),
            task: None,
            siblings: None,
        }
    }
}

/// The error that names a record the connector cannot apply (`errors.tolerance=none`).
pub(super) fn bad_record(coordinates: &Coordinates, key: &str, reason: String) -> PipelineError {
    PipelineError::BadRecord {
        topic: coordinates.topic.clone(),
        partition: coordinates.partition,
        offset: coordinates.offset,
        key: key.to_string(),
        reason,
    }
}
