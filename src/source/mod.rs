//! Source: the Kafka consumer group, on its own thread.
//!
//! One thread owns the librdkafka consumer and polls it; records go to the pipeline through a
//! bounded channel, in partition order. When the channel is full the thread pauses its
//! partitions (memory stays bounded whatever the backlog) and keeps polling so the group
//! session stays alive. Rebalances run on this thread too: an assignment claims the partitions
//! in the target (bumping their fencing epoch) and starts each one at the target's checkpoint;
//! a revocation waits until the pipeline has committed what it holds of those partitions.

mod context;
mod message;

pub use context::SourceContext;
pub use message::{Received, SourceMsg};

use crate::checkpoint::TopicPartition;
use crate::config::{ConnectorConfig, TopicSelection, WorkerConfig};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The consumer type of a source.
pub type SluiceConsumer = BaseConsumer<SourceContext>;

/// librdkafka settings of the sink's consumer; worker `consumer.*` overrides come after them.
pub fn consumer_config(worker: &WorkerConfig, connector: &ConnectorConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &worker.bootstrap_servers)
        .set("group.id", connector.group_id())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "5000")
        // Bound librdkafka's prefetch so memory stays small whatever the backlog.
        .set("queued.max.messages.kbytes", "8192")
        // With the small queue above, librdkafka's default 1 s backoff when the queue is full
        // throttles a consumer slower than the broker to ~8 MB/s.
        .set("fetch.queue.backoff.ms", "20")
        // A fetch response is held whole in memory; librdkafka's default allows 50 MB.
        .set("fetch.max.bytes", "8388608")
        .set("client.id", format!("sluice-{}", connector.name));
    for (key, value) in worker.client.iter().chain(worker.consumer.iter()) {
        config.set(key, value.expose());
    }
    config
}

/// The subscription pattern list for librdkafka (`^` marks a regex).
pub fn subscription(selection: &TopicSelection) -> Vec<String> {
    match selection {
        TopicSelection::List(topics) => topics.clone(),
        // librdkafka's regex engine has no `(?:`: hand it the user's pattern, anchored.
        TopicSelection::Regex(re) => {
            let pattern = re.as_str();
            let inner = pattern
                .strip_prefix("^(?:")
                .and_then(|p| p.strip_suffix(")$"))
                .unwrap_or(pattern);
            vec![format!("^{inner}$")]
        }
    }
}

fn to_raw(message: &rdkafka::message::BorrowedMessage<'_>) -> crate::event::RawRecord {
    let headers = message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    crate::event::RawRecord {
        coordinates: crate::event::Coordinates {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
        },
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
        timestamp_ms: message.timestamp().to_millis(),
    }
}

/// Runs the poll loop until `stop` is set. Records and rebalance notices go to `tx`.
pub fn run(
    consumer: Arc<SluiceConsumer>,
    tx: mpsc::Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
    max_pending: usize,
    decode: crate::decode::DecodeConfig,
) {
    let mut pending: VecDeque<Received> = VecDeque::new();
    let mut paused = false;
    while !stop.load(Ordering::SeqCst) {
        // Hand over what is waiting first; the channel's capacity is the backpressure.
        while let Some(record) = pending.pop_front() {
            match tx.try_send(SourceMsg::Record(Box::new(record))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(SourceMsg::Record(r))) => {
                    pending.push_front(*r);
                    break;
                }
                Err(_) => return,
            }
        }
        // Pause when the backlog is full, resume only once it has drained: without the
        // hysteresis every record at the boundary would flip the fetcher off and on.
        let flip = if paused {
            pending.is_empty()
        } else {
            pending.len() >= max_pending.max(1)
        };
        if flip {
            if let Ok(assignment) = consumer.assignment() {
                let result = if paused {
                    consumer.resume(&assignment)
                } else {
                    consumer.pause(&assignment)
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "pause/resume failed");
                }
            }
            paused = !paused;
        }
        match consumer.poll(Duration::from_millis(if pending.is_empty() {
            100
        } else {
            5
        })) {
            None => {}
            Some(Ok(message)) => pending.push_back(Received::decode(&to_raw(&message), &decode)),
            Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer error"),
        }
        // A revocation during the poll: what is still here of those partitions is not ours.
        consumer.context().drop_revoked(&mut pending);
    }
}

/// Commits offsets to the Kafka group (the mirror of the target checkpoint, for lag tools).
pub fn mirror(
    consumer: &SluiceConsumer,
    positions: &[(TopicPartition, i64)],
) -> rdkafka::error::KafkaResult<()> {
    let mut list = TopicPartitionList::new();
    for (tp, offset) in positions {
        list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))?;
    }
    consumer.commit(&list, CommitMode::Sync)
}
