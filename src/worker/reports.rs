//! sluice's own reports of a connector, read from its target (`report::*`, the same ones
//! `sluice status`, `sluice conflicts list` and `sluice dlq list` print): the routes under
//! `/connectors/{name}/sluice/`.

use super::offsets::open;
use super::{Worker, WorkerError};
use crate::checkpoint;
use crate::deadletter::store::{self, Filter};
use crate::report;
use rdkafka::consumer::BaseConsumer;
use serde_json::Value as Json;

impl Worker {
    /// The sync status report (the seed's shape); lag from the broker, or a warning.
    pub async fn sluice_status(&self, name: &str) -> Result<Json, WorkerError> {
        let config = self.loaded(name)?;
        let db = open(&config).await?;
        let stored = checkpoint::load(&db, &config.group_id()).await;
        let lag = match stored {
            Ok(stored) => {
                let consumer = crate::source::consumer_config(&self.inner.config, &config)
                    .create::<BaseConsumer>()
                    .map_err(|e| format!("kafka client: {e}"));
                tokio::task::spawn_blocking(move || report::status::lag(&consumer?, &stored))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
            }
            Err(e) => Err(format!("checkpoint: {e}")),
        };
        let answer = report::status::report(&db, &config, lag).await;
        db.close().await;
        answer.map_err(|e| WorkerError::Internal(format!("target: {e}")))
    }

    /// The conflict reports, newest first; only those waiting for review when `pending`.
    pub async fn conflicts(&self, name: &str, pending: bool) -> Result<Vec<Json>, WorkerError> {
        let config = self.loaded(name)?;
        let db = open(&config).await?;
        let answer = report::conflicts::reports(&db, &config.group_id(), None, pending).await;
        db.close().await;
        answer.map_err(|e| WorkerError::Internal(format!("target: {e}")))
    }

    /// The dead letters kept in the target, as `sluice dlq list --json` prints them.
    pub async fn dead_letters(&self, name: &str, filter: Filter) -> Result<Vec<Json>, WorkerError> {
        let config = self.loaded(name)?;
        let db = open(&config).await?;
        let answer = store::list(&db, &config.group_id(), &filter).await;
        db.close().await;
        answer
            .map(|letters| letters.iter().map(report::dead_letters::to_json).collect())
            .map_err(|e| WorkerError::Internal(e.to_string()))
    }
}
