//! Connect's offsets endpoints (KIP-875) on sluice's checkpoint: a sink connector's offsets
//! are the next offsets of its checkpoint in the target. Altering or resetting them needs the
//! connector STOPPED and its group empty, and moves the checkpoint the way
//! `sluice offsets reset` does ([`move_checkpoint`]): in the target (epoch bumped, history
//! written) and in the Kafka group.

use super::types::*;
use super::{Worker, WorkerError};
use crate::checkpoint::{self, TopicPartition};
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::sink::db::Db;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Moves a stopped connector's checkpoint to `targets`, in the target (one transaction, the
/// epoch bumped so a zombie is fenced, every change in the history) and then in the group.
pub async fn move_checkpoint(
    db: &Db,
    consumer: BaseConsumer,
    group: &str,
    targets: &[(TopicPartition, i64)],
    reason: &str,
) -> Result<(), String> {
    checkpoint::reset(db, group, targets, reason)
        .await
        .map_err(|e| format!("target: {e}"))?;
    let mut list = TopicPartitionList::new();
    for (tp, offset) in targets {
        list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
            .map_err(|e| e.to_string())?;
    }
    tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            format!("the target checkpoint moved, but committing to the Kafka group failed: {e}")
        })
}

/// The number of members the connector's group has now.
pub fn group_members(consumer: &BaseConsumer, group: &str) -> usize {
    consumer
        .fetch_group_list(Some(group), TIMEOUT)
        .map(|l| l.groups().iter().map(|g| g.members().len()).sum::<usize>())
        .unwrap_or(0)
}

impl Worker {
    /// A connector's offsets: its checkpoint in the target.
    pub async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, WorkerError> {
        let config = self.loaded(name)?;
        let db = open(&config).await?;
        let stored = checkpoint::load(&db, &config.group_id()).await;
        db.close().await;
        let stored = stored.map_err(|e| WorkerError::Internal(format!("target: {e}")))?;
        Ok(ConnectorOffsets {
            offsets: stored
                .into_iter()
                .filter_map(|s| {
                    Some(PartitionOffset {
                        partition: OffsetPartition {
                            kafka_topic: s.tp.topic,
                            kafka_partition: s.tp.partition,
                        },
                        offset: Some(OffsetValue {
                            kafka_offset: s.next_offset?,
                        }),
                    })
                })
                .collect(),
        })
    }

    /// Moves a STOPPED connector's checkpoint: each partition to its offset, or to the
    /// beginning of the partition where the offset is `null`.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<(), WorkerError> {
        if offsets.offsets.is_empty() {
            return Err(WorkerError::BadRequest(
                "the request names no partition offsets".into(),
            ));
        }
        let wanted: Vec<(TopicPartition, Option<i64>)> = offsets
            .offsets
            .into_iter()
            .map(|o| {
                (
                    TopicPartition {
                        topic: o.partition.kafka_topic,
                        partition: o.partition.kafka_partition,
                    },
                    o.offset.map(|v| v.kafka_offset),
                )
            })
            .collect();
        if let Some((tp, _)) = wanted.iter().find(|(_, o)| o.is_some_and(|o| o < 0)) {
            return Err(WorkerError::BadRequest(format!(
                "{}/{}: offsets must be at least 0",
                tp.topic, tp.partition
            )));
        }
        self.move_stopped(name, wanted, "rest: alter offsets").await
    }

    /// Resets a STOPPED connector's checkpoint to the beginning of every partition it has.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        let current = self.offsets(name).await?;
        let wanted = current
            .offsets
            .into_iter()
            .map(|o| {
                (
                    TopicPartition {
                        topic: o.partition.kafka_topic,
                        partition: o.partition.kafka_partition,
                    },
                    None,
                )
            })
            .collect();
        self.move_stopped(name, wanted, "rest: reset offsets").await
    }

    async fn move_stopped(
        &self,
        name: &str,
        wanted: Vec<(TopicPartition, Option<i64>)>,
        reason: &str,
    ) -> Result<(), WorkerError> {
        let config = self.loaded(name)?;
        if self.view().connectors.get(name).map(|c| c.target) != Some(TargetState::Stopped) {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        let consumer = crate::source::consumer_config(&self.inner.config, &config)
            .create::<BaseConsumer>()
            .map_err(|e| WorkerError::Internal(format!("kafka client: {e}")))?;
        let group = config.group_id();
        let (consumer, planned) = tokio::task::spawn_blocking({
            let group = group.clone();
            move || {
                let members = group_members(&consumer, &group);
                let planned: Result<Vec<(TopicPartition, i64)>, String> = if members > 0 {
                    Err(format!(
                        "group {group} still has {members} active member(s); try again once its \
                         tasks have stopped"
                    ))
                } else {
                    wanted
                        .into_iter()
                        .map(|(tp, offset)| match offset {
                            Some(o) => Ok((tp, o)),
                            None => consumer
                                .fetch_watermarks(&tp.topic, tp.partition, TIMEOUT)
                                .map(|(low, _)| (tp.clone(), low))
                                .map_err(|e| format!("{}/{}: {e}", tp.topic, tp.partition)),
                        })
                        .collect()
                };
                (consumer, planned)
            }
        })
        .await
        .map_err(|e| WorkerError::Internal(e.to_string()))?;
        let targets = planned.map_err(WorkerError::Conflict)?;
        let db = open(&config).await?;
        let moved = move_checkpoint(&db, consumer, &group, &targets, reason).await;
        db.close().await;
        moved.map_err(WorkerError::Internal)
    }

    /// A connector's config loaded (placeholders resolved) for talking to its target.
    fn loaded(&self, name: &str) -> Result<ConnectorConfig, WorkerError> {
        let config = self.config(name)?;
        let doc = serde_json::json!({"name": name, "config": config}).to_string();
        ConnectorConfig::from_json_with(
            &doc,
            "the config topic",
            &|k| std::env::var(k).ok(),
            &self.inner.config,
        )
        .map_err(|e| WorkerError::BadRequest(e.problems.join("; ")))
    }
}

async fn open(config: &ConnectorConfig) -> Result<Db, WorkerError> {
    let db = Db::connect(
        &config.target,
        config.username.as_deref(),
        config.password.as_ref(),
    )
    .await
    .map_err(|e| WorkerError::Internal(format!("target: {e}")))?;
    checkpoint::schema::ensure(&db)
        .await
        .map_err(|e| WorkerError::Internal(format!("target: {e}")))?;
    Ok(db)
}

/// For `WorkerConfig`-only callers (the CLI): the connector's group consumer.
pub fn group_consumer(
    worker: &WorkerConfig,
    config: &ConnectorConfig,
) -> Result<BaseConsumer, String> {
    crate::source::consumer_config(worker, config)
        .create()
        .map_err(|e| format!("kafka client: {e}"))
}
