//! A compacted Kafka topic read as a log of keyed records (the config and status topics):
//! created if missing, read from the beginning to its end before the worker answers, then
//! followed by a thread; a write returns once this worker has read it back, so every answer
//! after a change reflects it (read-your-writes).

use crate::config::{ClientRole, WorkerConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a write may take to be acknowledged and read back.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One record as read: key and value (`None`: a tombstone).
pub(super) type Record = (String, Option<Vec<u8>>);

/// What the reader hands each record to.
pub(super) type Apply = Box<dyn FnMut(Record) + Send>;

/// A followed topic.
pub(super) struct TopicLog {
    topic: String,
    producer: FutureProducer,
    /// Per partition, the next offset the reader will read.
    read: watch::Receiver<HashMap<i32, i64>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl TopicLog {
    /// Creates `topic` if missing (compacted, `partitions`, `replication`; -1: the broker's
    /// default), reads it to its end through `apply`, and follows it.
    pub(super) async fn open(
        worker: &WorkerConfig,
        topic: &str,
        partitions: i32,
        replication: i32,
        apply: Apply,
    ) -> Result<TopicLog, String> {
        create(worker, topic, partitions, replication).await?;
        let producer: FutureProducer = worker
            .client_config(ClientRole::Producer)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()
            .map_err(|e| format!("{topic}: producer: {e}"))?;
        let mut consumer_config = worker.client_config(ClientRole::Consumer);
        consumer_config
            .set("group.id", format!("sluice-log-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("fetch.wait.max.ms", "100");
        let consumer: BaseConsumer = consumer_config
            .create()
            .map_err(|e| format!("{topic}: consumer: {e}"))?;
        let topic_name = topic.to_string();
        let (consumer, ends) = tokio::task::spawn_blocking(move || {
            let partitions = partitions_of(&consumer, &topic_name)?;
            let mut list = TopicPartitionList::new();
            let mut ends = HashMap::new();
            for p in partitions {
                list.add_partition_offset(&topic_name, p, Offset::Beginning)
                    .map_err(|e| e.to_string())?;
                let (_, high) = consumer
                    .fetch_watermarks(&topic_name, p, Duration::from_secs(10))
                    .map_err(|e| format!("{topic_name}/{p}: end offset: {e}"))?;
                ends.insert(p, high);
            }
            consumer.assign(&list).map_err(|e| e.to_string())?;
            Ok::<_, String>((consumer, ends))
        })
        .await
        .map_err(|e| e.to_string())??;
        let (position, read) = watch::channel(HashMap::new());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("sluice-log-{topic}"))
                .spawn(move || follow(consumer, apply, position, stop))
                .map_err(|e| e.to_string())?
        };
        let log = TopicLog {
            topic: topic.to_string(),
            producer,
            read,
            stop,
            thread: Mutex::new(Some(thread)),
        };
        log.caught_up(&ends).await?;
        Ok(log)
    }

    /// Writes a record and waits until this worker has read it back.
    pub(super) async fn write(&self, key: &str, value: Option<&[u8]>) -> Result<(), String> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        let delivery = self
            .producer
            .send(record, WRITE_TIMEOUT)
            .await
            .map_err(|(e, _)| format!("{}: write of {key}: {e}", self.topic))?;
        let ends = HashMap::from([(delivery.partition, delivery.offset + 1)]);
        self.caught_up(&ends).await
    }

    /// Waits until the reader is at or past `ends` on every partition.
    async fn caught_up(&self, ends: &HashMap<i32, i64>) -> Result<(), String> {
        let mut read = self.read.clone();
        let reached = |at: &HashMap<i32, i64>| {
            ends.iter()
                .all(|(p, end)| *end <= 0 || at.get(p).is_some_and(|n| n >= end))
        };
        let waited = tokio::time::timeout(WRITE_TIMEOUT, read.wait_for(reached))
            .await
            .map(|r| r.map(|_| ()));
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(format!("{}: the reader stopped", self.topic)),
            Err(_) => Err(format!(
                "{}: not read back within {} s",
                self.topic,
                WRITE_TIMEOUT.as_secs()
            )),
        }
    }

    /// Stops following.
    pub(super) fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for TopicLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The reader thread: every record to `apply`, its position to `position`.
fn follow(
    consumer: BaseConsumer,
    mut apply: Apply,
    position: watch::Sender<HashMap<i32, i64>>,
    stop: Arc<AtomicBool>,
) {
    let mut at: HashMap<i32, i64> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        // Partitions that are empty count as read to 0 (their end).
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let key = message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                apply((key, message.payload().map(<[u8]>::to_vec)));
                at.insert(message.partition(), message.offset() + 1);
                position.send_replace(at.clone());
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "reading a worker topic failed; retrying");
            }
            None => {}
        }
    }
}

fn partitions_of(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("{topic}: metadata: {e}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!("{topic}: no partitions"));
    }
    Ok(partitions)
}

async fn create(
    worker: &WorkerConfig,
    topic: &str,
    partitions: i32,
    replication: i32,
) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = worker
        .client_config(ClientRole::Admin)
        .create()
        .map_err(|e| format!("{topic}: admin client: {e}"))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))
        .set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics([&new], &options)
        .await
        .map_err(|e| format!("{topic}: create: {e}"))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(topic, partitions, "created the worker topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(format!("{topic}: create: {code}")),
        }
    }
    Ok(())
}
