//! Connect's offsets endpoints (KIP-875) on sluice's checkpoint: a sink connector's offsets
//! are the next offsets of its checkpoint in the target. Altering or resetting them needs the
//! connector STOPPED and its group empty, and moves the checkpoint the way
//! `sluice offsets reset` does ([`move_checkpoint`]): in the target (epoch bumped, history
//! written) and in the Kafka group.

use super::types::*;
use super::{Worker, WorkerError};
use crate::checkpoint::{self, TopicPartition};
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::db::Db;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Moves a stopped connector's checkpoint to `targets`, in the target (one transaction, the
/// epoch bumped so a zombie is fenced, every change in the history) and then in the group.
/// The group's commit may fail (a broker that still lists a departed member refuses it): the
/// target then remembers what the group holds, so the next assignment starts from the new
/// checkpoint instead of taking the group's old offset for an operator's reset, and the
/// connector's first commit moves the group.
pub async fn move_checkpoint(
    db: &Db,
    consumer: BaseConsumer,
    group: &str,
    targets: &[(TopicPartition, i64)],
    reason: &str,
) -> Result<(), String> {
    let mut list = TopicPartitionList::new();
    for (tp, offset) in targets {
        list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
            .map_err(|e| e.to_string())?;
    }
    let asked = list.clone();
    let (consumer, held) = tokio::task::spawn_blocking(move || {
        let held = consumer.committed_offsets(asked, TIMEOUT);
        (consumer, held)
    })
    .await
    .map_err(|e| e.to_string())?;
    let held: HashMap<TopicPartition, i64> = held
        .map_err(|e| format!("the Kafka group's offsets: {e}"))?
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((
                TopicPartition {
                    topic: e.topic().to_string(),
                    partition: e.partition(),
                },
                o,
            )),
            _ => None,
        })
        .collect();
    checkpoint::reset_holding(db, group, targets, &held, reason)
        .await
        .map_err(|e| format!("target: {e}"))?;
    let committed = tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = committed {
        tracing::warn!(group, error = %e, "the target checkpoint moved; the Kafka group keeps its old offsets until the connector's first commit");
    }
    Ok(())
}

/// The members of the connector's group that hold partitions now. A member still joining (or
/// one a broker keeps listed after it left mid-join, as tansu does) holds none and cannot
/// commit: the reset's epoch bump fences whatever it might do later anyway.
pub fn group_members(consumer: &BaseConsumer, group: &str) -> usize {
    consumer
        .fetch_group_list(Some(group), TIMEOUT)
        .map(|l| {
            l.groups()
                .iter()
                .flat_map(|g| g.members())
                .filter(|m| m.assignment().is_some_and(holds_partitions))
                .count()
        })
        .unwrap_or(0)
}

/// Whether a consumer-protocol assignment (version: i16, topics: i32 count, ...) names any
/// topic; an empty or unreadable one names none.
fn holds_partitions(assignment: &[u8]) -> bool {
    assignment
        .get(2..6)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .is_some_and(|count| i32::from_be_bytes(count) > 0)
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
        let wanted: Vec<(TopicPartition, Option<i64>)> =
            offsets.offsets.into_iter().map(requested).collect();
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
            .map(|o| (requested(o).0, None))
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
        self.settled()?;
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
    pub(super) fn loaded(&self, name: &str) -> Result<ConnectorConfig, WorkerError> {
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

/// A partition and the offset asked for it (`None`: its beginning).
fn requested(o: PartitionOffset) -> (TopicPartition, Option<i64>) {
    (
        TopicPartition {
            topic: o.partition.kafka_topic,
            partition: o.partition.kafka_partition,
        },
        o.offset.map(|v| v.kafka_offset),
    )
}

pub(super) async fn open(config: &ConnectorConfig) -> Result<Db, WorkerError> {
    let db = Db::connect(
        &config.target,
        config.username.as_deref(),
        config.password.as_ref(),
    )
    .await
    .map_err(|e| WorkerError::Internal(format!("target: {e}")))?;
    crate::db::schema::ensure(&db)
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

#[cfg(test)]
mod tests {
    #[test]
    fn an_assignment_holds_partitions_when_it_names_a_topic() {
        // version 0, one topic "t" with partition 0, no user data
        let one = [
            0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(super::holds_partitions(&one));
        assert!(!super::holds_partitions(&[0, 0, 0, 0, 0, 0]));
        assert!(!super::holds_partitions(&[]));
        assert!(!super::holds_partitions(&[0, 1]));
    }
}
