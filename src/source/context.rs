//! The consumer context: rebalance handling (claim, start at the checkpoint, drain on revoke)
//! and librdkafka statistics (consumer lag).

use super::message::{Received, SourceMsg};
use super::trouble::Trouble;
use super::wake::Wake;
use crate::checkpoint::{self, Claim, TopicPartition};
use crate::db::Db;
use crate::telemetry::{ConnectorHealth, Metrics};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a rebalance waits for the pipeline to commit what it holds of revoked partitions.
const REVOKE_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Broker round-trips made during a rebalance.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// State the rebalance callbacks need.
pub struct SourceContext {
    runtime: tokio::runtime::Handle,
    db: Db,
    group: String,
    owner: String,
    connector: String,
    tx: mpsc::Sender<SourceMsg>,
    metrics: Metrics,
    revoked: Mutex<HashSet<TopicPartition>>,
    /// The consumer this context belongs to, for splitting partition queues on assignment.
    consumer: OnceLock<Weak<BaseConsumer<SourceContext>>>,
    /// Queues split since the source thread last took them.
    split: Mutex<Vec<(TopicPartition, PartitionQueue<SourceContext>)>>,
    /// Rebalance callbacks served so far: a poll that served one may return nothing while
    /// records are still queued behind it.
    rebalances: AtomicU64,
    /// Kafka errors: what stops the connector, what readiness shows.
    trouble: Trouble,
    /// Set when the pipeline stops: a claim waiting for the target gives up.
    stop: Arc<AtomicBool>,
    /// Notified by every queue of the consumer when it gets something (see [`Wake`]).
    wake: Arc<Wake>,
}

/// The consumer type of a source.
pub type SluiceConsumer = BaseConsumer<SourceContext>;

/// A partition's own message queue (see [`SourceContext::take_queue_changes`]).
pub type SplitQueue = (TopicPartition, PartitionQueue<SourceContext>);

impl SourceContext {
    /// A context for one connector's consumer.
    pub fn new(
        runtime: tokio::runtime::Handle,
        db: Db,
        group: String,
        tx: mpsc::Sender<SourceMsg>,
        metrics: Metrics,
        health: ConnectorHealth,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let connector = health.connector().to_string();
        SourceContext {
            runtime,
            db,
            group,
            // Who claims: this process and this consumer.
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()),
            connector,
            tx,
            metrics,
            revoked: Mutex::new(HashSet::new()),
            consumer: OnceLock::new(),
            split: Mutex::new(Vec::new()),
            rebalances: AtomicU64::new(0),
            trouble: Trouble::new(health),
            stop,
            wake: Arc::new(Wake::default()),
        }
    }

    /// What the consumer's queues notify when they get something: the main queue's callback
    /// is set where the consumer is created, each partition queue's where it is split.
    pub(super) fn wake(&self) -> Arc<Wake> {
        self.wake.clone()
    }

    /// The consumer's Kafka trouble (see [`Trouble`]).
    pub fn trouble(&self) -> &Trouble {
        &self.trouble
    }

    /// How many rebalance callbacks have run (see [`SourceContext::rebalances`]).
    pub fn rebalance_count(&self) -> u64 {
        self.rebalances.load(Ordering::SeqCst)
    }

    /// Tells the context its consumer, once created, so assignments can split partition queues.
    pub fn set_consumer(&self, consumer: &Arc<BaseConsumer<SourceContext>>) {
        let _ = self.consumer.set(Arc::downgrade(consumer));
    }

    /// Gives each assigned partition its own queue. Fetched records then wait in librdkafka,
    /// per partition, until the source thread asks for them, and librdkafka stops fetching a
    /// partition whose queue is full (`queued.max.messages.kbytes`): backpressure without
    /// pausing, which would throw away what was already fetched and fetch it again.
    fn split_queues(&self, tpl: &TopicPartitionList) {
        let Some(consumer) = self.consumer.get().and_then(Weak::upgrade) else {
            return;
        };
        let queues = Self::partitions(tpl).into_iter().filter_map(|tp| {
            let queue = consumer.split_partition_queue(&tp.topic, tp.partition);
            if queue.is_none() {
                tracing::warn!(topic = %tp.topic, partition = tp.partition, "no partition queue; its records come through the main queue");
            }
            queue.map(|mut q| {
                let wake = self.wake.clone();
                q.set_nonempty_callback(move || wake.notify());
                (tp, q)
            })
        });
        if let Ok(mut split) = self.split.lock() {
            split.extend(queues);
        }
    }

    /// Brings the source thread's partition queues up to date: drops those of revoked
    /// partitions, adds (or replaces) those split since the last call. Returns whether any
    /// were added: records fetched before the split may still be in the main queue then.
    pub fn take_queue_changes(&self, queues: &mut Vec<SplitQueue>) -> bool {
        if let Ok(revoked) = self.revoked.lock() {
            if !revoked.is_empty() {
                queues.retain(|(tp, _)| !revoked.contains(tp));
            }
        }
        let Ok(mut split) = self.split.lock() else {
            return false;
        };
        let added = !split.is_empty();
        for (tp, queue) in split.drain(..) {
            queues.retain(|(t, _)| *t != tp);
            queues.push((tp, queue));
        }
        added
    }

    /// Removes records of revoked partitions that were polled but not handed over yet.
    pub fn drop_revoked(&self, pending: &mut VecDeque<Received>) {
        let Ok(revoked) = self.revoked.lock() else {
            return;
        };
        if revoked.is_empty() {
            return;
        }
        pending.retain(|r| {
            !revoked.contains(&TopicPartition {
                topic: r.coordinates.topic.clone(),
                partition: r.coordinates.partition,
            })
        });
    }

    fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
        tpl.elements()
            .iter()
            .map(|e| TopicPartition {
                topic: e.topic().to_string(),
                partition: e.partition(),
            })
            .collect()
    }

    /// Claims the partitions in the target, with retries while the target is unreachable;
    /// gives up at once when the pipeline stops (a SIGTERM during a target outage must not
    /// wait for the claim: another task or process leaving hands this one partitions then).
    fn claim(&self, tps: &[TopicPartition]) -> Result<Vec<Claim>, String> {
        let mut delay = Duration::from_millis(200);
        let mut last = String::new();
        let stopping = || async {
            while !self.stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        for _ in 0..12 {
            let attempt = self.runtime.block_on(async {
                tokio::select! {
                    claimed = checkpoint::claim(&self.db, &self.group, &self.owner, tps) => Some(claimed),
                    () = stopping() => None,
                }
            });
            match attempt {
                Some(Ok(claims)) => return Ok(claims),
                Some(Err(e)) => {
                    last = e.to_string();
                    tracing::warn!(error = %last, "claiming partitions failed; retrying");
                    let wait = self.runtime.block_on(async {
                        tokio::select! {
                            () = tokio::time::sleep(delay) => true,
                            () = stopping() => false,
                        }
                    });
                    if !wait {
                        break;
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                None => break,
            }
        }
        if self.stop.load(Ordering::SeqCst) {
            return Err(format!("stopping: partitions not claimed ({last})"));
        }
        Err(format!("cannot claim partitions in the target: {last}"))
    }

    fn on_assign(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
    ) -> Result<(), String> {
        let tps = Self::partitions(tpl);
        if let Ok(mut revoked) = self.revoked.lock() {
            for tp in &tps {
                revoked.remove(tp);
            }
        }
        let claims = self.claim(&tps)?;
        let committed = consumer.committed_offsets(tpl.clone(), BROKER_TIMEOUT).ok();
        let mut started = Vec::with_capacity(claims.len());
        let mut end_offsets = Vec::with_capacity(claims.len());
        for mut claim in claims {
            let group_offset = committed
                .as_ref()
                .and_then(|c| c.find_partition(&claim.tp.topic, claim.tp.partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(n) => Some(n),
                    _ => None,
                });
            let start = start_offset(&claim, group_offset);
            if let (Some(new), true) = (
                start,
                start != claim.next_offset && claim.next_offset.is_some(),
            ) {
                let recorded = self.runtime.block_on(checkpoint::record_external_reset(
                    &self.db,
                    &self.group,
                    &claim.tp,
                    claim.epoch,
                    claim.next_offset,
                    new,
                ));
                match recorded {
                    Ok(()) => {
                        // A reset clears the late-data watermark: a replay is not late.
                        claim.stored_offset = Some(new);
                        claim.watermark_ms = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "moving the checkpoint to the external reset failed")
                    }
                }
            }
            if let Some(n) = start {
                tpl.set_partition_offset(&claim.tp.topic, claim.tp.partition, Offset::Offset(n))
                    .map_err(|e| e.to_string())?;
            }
            tracing::info!(topic = %claim.tp.topic, partition = claim.tp.partition, epoch = claim.epoch, start = ?start, "partition assigned");
            claim.next_offset = start;
            let high = match consumer.fetch_watermarks(
                &claim.tp.topic,
                claim.tp.partition,
                BROKER_TIMEOUT,
            ) {
                Ok((_, high)) => high,
                Err(e) => {
                    tracing::warn!(topic = %claim.tp.topic, partition = claim.tp.partition, error = %e, "no end offset at assignment");
                    -1
                }
            };
            tracing::info!(topic = %claim.tp.topic, partition = claim.tp.partition, end = high, "end offset at assignment");
            end_offsets.push((claim.tp.clone(), high));
            started.push(claim);
        }
        self.tx
            .blocking_send(SourceMsg::Assigned {
                claims: started,
                end_offsets,
            })
            .map_err(|_| "pipeline stopped".to_string())
    }

    fn on_revoke(&self, tpl: &TopicPartitionList) {
        let tps = Self::partitions(tpl);
        tracing::info!(partitions = tps.len(), "partitions revoked; draining");
        if let Ok(mut revoked) = self.revoked.lock() {
            revoked.extend(tps.iter().cloned());
        }
        let (ack_tx, ack_rx) = std_mpsc::channel();
        if self
            .tx
            .blocking_send(SourceMsg::Revoked(tps, ack_tx))
            .is_ok()
            && ack_rx.recv_timeout(REVOKE_DRAIN_TIMEOUT).is_err()
        {
            tracing::warn!("pipeline did not drain revoked partitions in time; the fence protects the checkpoint");
        }
    }
}

/// Where an assigned partition starts: the target checkpoint, unless the Kafka group's offset
/// is one sluice never committed (not the checkpoint, not what it mirrored, not what it was
/// about to mirror): then someone reset it with Kafka's tools while sluice was stopped, and
/// the operator's reset wins. Without a checkpoint, the group's offset (or earliest).
pub fn start_offset(claim: &Claim, group_offset: Option<i64>) -> Option<i64> {
    let ours =
        |group: i64| Some(group) == claim.mirrored_offset || Some(group) == claim.mirror_pending;
    match (claim.next_offset, group_offset, claim.mirrored_offset) {
        (Some(next), Some(group), Some(_)) if group != next && !ours(group) => {
            tracing::warn!(topic = %claim.tp.topic, partition = claim.tp.partition, checkpoint = next, group, "group offset was reset outside sluice; honouring it");
            Some(group)
        }
        (Some(next), _, _) => Some(next),
        (None, group, _) => group,
    }
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.trouble.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.trouble.report(&error, reason, None);
    }

    fn stats(&self, statistics: Statistics) {
        // Learned brokers (node id >= 0; bootstrap entries are -1) in state UP.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.trouble.brokers_up(up);
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[&self.connector, &topic, &partition.to_string()])
                        .set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        self.metrics
            .rebalances
            .with_label_values(&[&self.connector])
            .inc();
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned = match self.on_assign(consumer, tpl) {
                    Ok(()) if cooperative => {
                        consumer.incremental_assign(tpl).map_err(|e| e.to_string())
                    }
                    Ok(()) => consumer.assign(tpl).map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                // After assigning: assigning forwards the partitions to the main queue again.
                if assigned.is_ok() {
                    self.split_queues(tpl);
                }
                assigned
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.on_revoke(tpl);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
                .map_err(|e| e.to_string())
            }
            other => {
                let _ = consumer.unassign();
                Err(format!("rebalance error: {other:?}"))
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "rebalance failed");
            let _ = self.tx.blocking_send(SourceMsg::Fatal(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(next: Option<i64>, mirrored: Option<i64>) -> Claim {
        pending(next, mirrored, mirrored)
    }

    fn pending(next: Option<i64>, mirrored: Option<i64>, pending: Option<i64>) -> Claim {
        Claim {
            tp: TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            next_offset: next,
            epoch: 1,
            mirrored_offset: mirrored,
            mirror_pending: pending,
            stored_offset: next,
            watermark_ms: None,
        }
    }

    #[test]
    fn start_offset_table() {
        let cases = [
            (
                "crash between the group commit and its record, checkpoint ahead",
                pending(Some(20), Some(8), Some(10)),
                Some(10),
                Some(20),
            ),
            (
                "crash before the group commit, checkpoint ahead",
                pending(Some(20), Some(8), Some(10)),
                Some(8),
                Some(20),
            ),
            (
                "reset with Kafka tools after an interrupted mirror",
                pending(Some(20), Some(8), Some(10)),
                Some(3),
                Some(3),
            ),
            (
                "fresh group, no checkpoint: earliest",
                claim(None, None),
                None,
                None,
            ),
            (
                "no checkpoint, group offset exists",
                claim(None, None),
                Some(7),
                Some(7),
            ),
            (
                "checkpoint wins over a lagging mirror",
                claim(Some(10), Some(8)),
                Some(8),
                Some(10),
            ),
            (
                "crash between Kafka commit and recording it",
                claim(Some(10), Some(8)),
                Some(10),
                Some(10),
            ),
            (
                "reset with Kafka tools while stopped",
                claim(Some(10), Some(10)),
                Some(3),
                Some(3),
            ),
            (
                "reset forward with Kafka tools",
                claim(Some(10), Some(10)),
                Some(50),
                Some(50),
            ),
            (
                "never mirrored: checkpoint",
                claim(Some(10), None),
                Some(3),
                Some(10),
            ),
        ];
        for (name, claim, group, expected) in cases {
            assert_eq!(start_offset(&claim, group), expected, "{name}");
        }
    }
}
