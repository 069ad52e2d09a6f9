//! Source: the Kafka consumer group, on its own thread.
//!
//! One thread owns the librdkafka consumer and polls it; records go to the pipeline through a
//! bounded channel, in partition order. When the channel is full the thread pauses its
//! partitions (memory stays bounded whatever the backlog) and keeps polling so the group
//! session stays alive. Rebalances run on this thread too: an assignment claims the partitions
//! in the target (bumping their fencing epoch) and starts each one at the target's checkpoint;
//! a revocation waits until the pipeline has committed what it holds of those partitions.

mod context;
mod ends;
mod idle;
mod message;
mod trouble;
mod wake;

pub use context::{SluiceConsumer, SourceContext};
pub use message::{Decoder, Received, RecordError, SourceMsg};
pub use trouble::Trouble;

use crate::checkpoint::TopicPartition;
use crate::config::{ClientRole, ConnectorConfig, TopicSelection, WorkerConfig};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// librdkafka settings of the sink's consumer: the worker's client settings and the
/// connector's `consumer.override.*` ([`WorkerConfig::client_config_for`]), sluice's defaults
/// where neither set a key, then the settings the exactly-once design owns.
pub fn consumer_config(worker: &WorkerConfig, connector: &ConnectorConfig) -> ClientConfig {
    let mut config = worker.client_config_for(ClientRole::Consumer, connector);
    let defaults = [
        ("auto.offset.reset", "earliest".to_string()),
        ("statistics.interval.ms", "5000".to_string()),
        // Bound librdkafka's prefetch so memory stays small whatever the backlog. Each
        // partition has its own queue (see `run`), so this is per assigned partition. A fetch
        // response stays allocated until every message in it is consumed, so one slow
        // partition pins the responses its queue spans: 512 KB instead of 2 MB took 12 MB off
        // the pipeline bench's peak RSS at the same rate (`benches/pipeline/main.rs`).
        ("queued.max.messages.kbytes", "512".to_string()),
        // How long a partition whose queue is full waits before librdkafka looks again. With
        // the small queue above a fetch overfills it, so every fetch of a busy partition is
        // followed by this wait: librdkafka's default 1 s throttles a consumer slower than the
        // broker to a few MB/s, and 10 ms still capped one partition at ~45k records/s of
        // 5 KB, below what the sink applies (a stream of one busy partition, the usual
        // Debezium topic, ran at 30k events/s instead of 38k on the pipeline bench). The
        // wait only runs while the sink is behind.
        ("fetch.queue.backoff.ms", "1".to_string()),
        // A fetch response is held whole in memory until every message in it is consumed, and
        // librdkafka's default allows 50 MB. 2 MB responses (512 KB per partition) took the
        // pipeline bench's peak RSS from 74 to 61 MB at the same rate; librdkafka refuses a
        // `fetch.max.bytes` below `message.max.bytes`, so a worker raising that raises this.
        ("fetch.max.bytes", fetch_max_bytes(&config).to_string()),
        ("max.partition.fetch.bytes", "524288".to_string()),
        // How long a broker may hold a fetch with nothing new. Kafka answers as soon as a
        // record arrives, so there this only sets how often an idle consumer asks (10 times
        // a second instead of twice). Brokers that hold a fetch for its whole wait whenever a
        // partition in it is at its end (tansu) stall the other partitions that long: on the
        // pipeline bench the default 500 ms gave 16k events/s, 100 ms 25k, with partitions
        // at their end parked (`idle.rs`) either way.
        ("fetch.wait.max.ms", "100".to_string()),
        // How long the group waits for a silent member before its partitions move: Kafka's
        // default before 3.0 (KIP-735 raised it to 45 s) and the Connect worker group's.
        // librdkafka heartbeats from its own thread, so a long batch does not delay them; a
        // process killed mid-batch gives its partitions up after 10 s instead of 45. Brokers
        // that hold a new group's first join for half this timeout (tansu) start a connector
        // in 5 s instead of 23 (the pipeline bench's start-up).
        ("session.timeout.ms", "10000".to_string()),
        ("client.id", format!("sluice-{}", connector.name)),
    ];
    for (key, value) in defaults {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    // Offsets are committed with the target transaction; the group commit is a mirror. The
    // source handles incremental (cooperative) rebalances and no end-of-partition events.
    config
        .set("group.id", connector.group_id())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.partition.eof", "false");
    config
}

/// The sink's consumer for `context`, with [`consumer_config`]'s settings. Its main queue
/// wakes an idle source thread when it gets something (see `wake.rs`); each partition queue
/// gets the same callback where it is split (`SourceContext`).
pub fn consumer(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    context: SourceContext,
) -> rdkafka::error::KafkaResult<SluiceConsumer> {
    let mut consumer: SluiceConsumer =
        consumer_config(worker, connector).create_with_context(context)?;
    let wake = consumer.context().wake();
    consumer.set_nonempty_callback(move || wake.notify());
    Ok(consumer)
}

/// The consumer's default `fetch.max.bytes`: 2 MB, or `message.max.bytes` when larger.
fn fetch_max_bytes(config: &ClientConfig) -> u64 {
    const FETCH_MAX_BYTES: u64 = 2 * 1024 * 1024;
    config
        .get("message.max.bytes")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(FETCH_MAX_BYTES, |max| max.max(FETCH_MAX_BYTES))
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

/// A consumed message as a [`RawRecord`](crate::event::RawRecord): key, value, headers (in
/// order, null values kept) and timestamp, copied byte for byte.
pub fn to_raw(message: &rdkafka::message::BorrowedMessage<'_>) -> crate::event::RawRecord {
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

/// Records taken from one partition queue before the next partition gets its turn.
const PER_PARTITION_TURN: usize = 64;

/// The longest an idle source thread waits before serving the main queue again (a queue's
/// callback ends the wait as soon as anything arrives).
const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Runs the poll loop until `stop` is set. Records and rebalance notices go to `tx`.
///
/// Each assigned partition has its own librdkafka queue (see
/// [`SourceContext::take_queue_changes`]); records are taken from them only while the channel
/// has room, so a slow sink leaves them in librdkafka, whose prefetch is bounded per partition.
/// The main queue is polled all the time for rebalances and errors. It can also hold records a
/// partition fetched before its queue was split; those come first, so partition queues are
/// read only once the main queue has been seen empty after the last split.
pub fn run(
    consumer: Arc<SluiceConsumer>,
    tx: mpsc::Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
    max_pending: usize,
    decoder: Decoder,
) {
    let mut queues: Vec<context::SplitQueue> = Vec::new();
    let mut turn = 0usize;
    // Records from the main queue that did not fit into the channel yet.
    let mut pending: VecDeque<Received> = VecDeque::new();
    let mut paused = false;
    let mut settling = false;
    let mut ends = ends::EndWatch::default();
    let mut parking = idle::Parking::default();
    let wake = consumer.context().wake();
    // The main queue gave something last time: more may be behind it (its callback fires only
    // when it goes from empty to non-empty).
    let mut main_busy = false;
    while !stop.load(Ordering::SeqCst) {
        if !ends.send(&tx) {
            return;
        }
        if let Some(fatal) = consumer.context().trouble().take_fatal() {
            return stop_with(&tx, fatal);
        }
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
        // Only records that reach the main queue can pile up here (a partition without its
        // own queue): pause those partitions while the backlog is full.
        let flip = if paused {
            pending.is_empty()
        } else {
            pending.len() >= max_pending.max(1)
        };
        if flip {
            set_paused(&consumer, !paused);
            paused = !paused;
            // Pausing or resuming the whole assignment covers the parked partitions too.
            parking.forget();
        }
        let mut moved = 0;
        if !settling && pending.is_empty() && !queues.is_empty() {
            moved = match take_from_queues(
                &queues,
                &mut turn,
                &tx,
                &decoder,
                consumer.context().trouble(),
            ) {
                Ok(moved) => moved,
                Err(fatal) => return stop_with(&tx, fatal),
            };
        }
        // Wait only when there was nothing to move (or no room to move it to). With nothing
        // to move, every queue is empty: the first record or event to reach any of them ends
        // the wait (see `wake.rs`). Without room, the wait is for the pipeline.
        let wait = if moved > 0 || main_busy {
            Duration::ZERO
        } else if pending.is_empty() && tx.capacity() > 0 {
            wake.wait(IDLE_WAIT);
            Duration::ZERO
        } else {
            Duration::from_millis(5)
        };
        let rebalances = consumer.context().rebalance_count();
        let polled = consumer.poll(wait);
        main_busy = polled.is_some() || consumer.context().rebalance_count() != rebalances;
        match polled {
            // Empty, and not because a rebalance callback ended the poll early.
            None if consumer.context().rebalance_count() == rebalances => settling = false,
            None => {}
            Some(Ok(message)) => match decoder.receive(to_raw(&message)) {
                Ok(record) => pending.push_back(record),
                Err(fatal) => return stop_with(&tx, fatal),
            },
            Some(Err(e)) => consumer
                .context()
                .trouble()
                .report(&e, &e.to_string(), None),
        }
        // A rebalance during the poll: queues of revoked partitions go (with what they held),
        // and so do their records still here; new partitions bring their queues.
        if consumer.context().take_queue_changes(&mut queues) {
            settling = true;
            ends.forget_unassigned(&queues);
            parking.release(&consumer);
        }
        ends.look(&consumer, &queues, &pending);
        if !paused {
            parking.look(&consumer, &queues);
        }
        consumer.context().drop_revoked(&mut pending);
    }
    // Queues hold the consumer: none may stay behind in the context.
    consumer.context().take_queue_changes(&mut queues);
}

/// Ends the source thread because a record could not be decoded for a reason that is not the
/// record's (the schema registry refused the credentials or stayed unreachable). Nothing is
/// said when the connector is stopping anyway (empty reason) or the pipeline is gone.
fn stop_with(tx: &mpsc::Sender<SourceMsg>, reason: String) {
    if !reason.is_empty() {
        let _ = tx.blocking_send(SourceMsg::Fatal(reason));
    }
}

/// Moves records from the partition queues into the channel while it has room, a turn of up
/// to [`PER_PARTITION_TURN`] records per partition. Returns how many were moved (an empty
/// error when the pipeline is gone), or why the source must stop.
fn take_from_queues(
    queues: &[context::SplitQueue],
    turn: &mut usize,
    tx: &mpsc::Sender<SourceMsg>,
    decoder: &Decoder,
    trouble: &Trouble,
) -> Result<usize, String> {
    let mut moved = 0;
    for _ in 0..queues.len() {
        *turn = (*turn + 1) % queues.len();
        let (tp, queue) = &queues[*turn];
        for _ in 0..PER_PARTITION_TURN {
            let Ok(permit) = tx.try_reserve() else {
                return if tx.is_closed() {
                    Err(String::new())
                } else {
                    Ok(moved)
                };
            };
            match queue.poll(Duration::ZERO) {
                None => break,
                Some(Ok(message)) => {
                    let record = decoder.receive(to_raw(&message))?;
                    permit.send(SourceMsg::Record(Box::new(record)));
                    moved += 1;
                }
                Some(Err(e)) => {
                    trouble.report(&e, &e.to_string(), Some(tp));
                    break;
                }
            }
        }
    }
    Ok(moved)
}

fn set_paused(consumer: &SluiceConsumer, pause: bool) {
    if let Ok(assignment) = consumer.assignment() {
        let result = if pause {
            consumer.pause(&assignment)
        } else {
            consumer.resume(&assignment)
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "pause/resume failed");
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::config::RDKafkaLogLevel;
    use rdkafka::consumer::BaseConsumer;
    use std::collections::BTreeMap;

    fn consumer_for(flags: &[(&str, &str)]) -> ClientConfig {
        let flags: BTreeMap<String, String> = flags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let worker = WorkerConfig::load(None, &flags, &|_| None, &[]).expect("worker");
        let connector = ConnectorConfig::from_json(
            r#"{"name":"c","config":{"topics":"t","connection.url":"sqlite::memory:"}}"#,
            "test",
            &|_| None,
        )
        .expect("connector");
        consumer_config(&worker, &connector)
    }

    #[test]
    fn a_full_partition_queue_is_looked_at_again_after_a_millisecond_unless_set() {
        assert_eq!(consumer_for(&[]).get("fetch.queue.backoff.ms"), Some("1"));
        let config = consumer_for(&[("consumer.fetch.queue.backoff.ms", "1000")]);
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("1000"));
    }

    #[test]
    fn the_session_timeout_is_ten_seconds_unless_set() {
        assert_eq!(consumer_for(&[]).get("session.timeout.ms"), Some("10000"));
        let config = consumer_for(&[("consumer.session.timeout.ms", "45000")]);
        assert_eq!(config.get("session.timeout.ms"), Some("45000"));
        // The heartbeat default (3 s) stays below a third of it: librdkafka accepts it.
        let consumer: Result<BaseConsumer, _> = consumer_for(&[]).create();
        assert!(consumer.is_ok(), "{:?}", consumer.err());
    }

    /// What a client built from the worker's settings hands its context.
    #[derive(Default)]
    struct Lines(std::sync::Mutex<Vec<String>>);

    impl rdkafka::ClientContext for Lines {
        fn log(&self, _: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{facility}: {message}"));
        }
    }

    impl rdkafka::consumer::ConsumerContext for Lines {}

    /// The lines a consumer built from `config` hands its context in its first 300 ms
    /// subscribed to a topic (log lines travel on the main queue: polling serves them).
    fn client_lines(config: &rdkafka::ClientConfig) -> Vec<String> {
        let consumer: BaseConsumer<Lines> = config
            .create_with_context(Lines::default())
            .expect("consumer");
        consumer.subscribe(&["t"]).expect("subscribe");
        let until = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < until {
            let _ = consumer.poll(Duration::from_millis(20));
        }
        let lines = consumer.context().0.lock().unwrap().clone();
        lines
    }

    /// librdkafka drops its lines below its own log level before any callback sees them
    /// (the rdkafka crate would set it to errors only: sluice installs no `log` logger). The
    /// client's warnings always reach sluice's log; its debug lines (`consumer.debug=cgrp`)
    /// once it runs, when `SLUICE_LOG` shows the client's target at debug.
    #[test]
    fn the_clients_warnings_always_and_its_debug_lines_on_demand_reach_the_log() {
        let config = consumer_for(&[("consumer.debug", "cgrp")]);
        assert!(matches!(config.log_level, RDKafkaLogLevel::Warning));
        let lines = client_lines(&config);
        assert!(
            !lines.iter().any(|l| l.starts_with("SUBSCRIBE")),
            "{lines:?}"
        );

        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("warn,sluice::kafka=debug")
            .with_writer(std::io::sink)
            .finish();
        let lines = tracing::subscriber::with_default(subscriber, || {
            client_lines(&consumer_for(&[("consumer.debug", "cgrp")]))
        });
        assert!(
            lines.iter().any(|l| l.starts_with("SUBSCRIBE")),
            "{lines:?}"
        );
    }

    #[test]
    fn fetch_responses_are_small_unless_messages_may_be_larger() {
        let config = consumer_for(&[]);
        assert_eq!(config.get("fetch.max.bytes"), Some("2097152"));
        assert_eq!(config.get("max.partition.fetch.bytes"), Some("524288"));
        // librdkafka refuses a fetch.max.bytes below message.max.bytes: a worker raising the
        // message size must still get a consumer.
        let config = consumer_for(&[("consumer.message.max.bytes", "5000000")]);
        assert_eq!(config.get("fetch.max.bytes"), Some("5000000"));
        let consumer: Result<BaseConsumer, _> = config.create();
        assert!(consumer.is_ok(), "{:?}", consumer.err());
    }

    /// Worker settings, then the connector's overrides, then sluice's defaults where neither
    /// set a key; the keys exactly-once depends on are sluice's whatever is configured.
    #[test]
    fn overrides_then_defaults_then_owned_keys() {
        let flags: BTreeMap<String, String> = [
            ("consumer.fetch.max.bytes", "1000000"),
            ("consumer.max.partition.fetch.bytes", "100000"),
            ("consumer.enable.auto.commit", "true"),
            ("client.id", "worker-id"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let worker = WorkerConfig::load(None, &flags, &|_| None, &[]).expect("worker");
        let connector = ConnectorConfig::from_json_with(
            r#"{"name":"c","config":{"topics":"t","connection.url":"sqlite::memory:",
                "consumer.override.max.partition.fetch.bytes":"200000",
                "consumer.override.group.id":"g",
                "consumer.override.partition.assignment.strategy":"org.apache.kafka.clients.consumer.RangeAssignor"}}"#,
            "test",
            &|_| None,
            &worker,
        )
        .expect("connector");
        let config = consumer_config(&worker, &connector);
        for (key, value) in [
            ("fetch.max.bytes", "1000000"),
            ("max.partition.fetch.bytes", "200000"),
            ("client.id", "worker-id"),
            ("queued.max.messages.kbytes", "512"),
            ("fetch.wait.max.ms", "100"),
            ("group.id", "g"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("partition.assignment.strategy", "cooperative-sticky"),
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
    }
}
