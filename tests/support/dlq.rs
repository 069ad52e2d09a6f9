//! Helpers of the dead-letter tests: publishing and reading records with headers, and the
//! checks of a poison run (target and dead-letter topic).

use super::poison::{self, Record};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice::config::ConnectorConfig;
use sluice::deadletter::store::{self, Filter, Stored};
use sluice::sink::Sink;
use std::collections::BTreeMap;
use std::time::Duration;

/// Publishes records to partition 0 in order (keys, values and headers as given).
pub async fn publish_records(bootstrap: &str, topic: &str, records: &[Record]) {
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for r in records {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).partition(0).headers(headers);
        if let Some(k) = &r.key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            record = record.payload(v.as_slice());
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("publish to {topic}: {e}"));
    }
}

/// A record of the dead-letter topic.
#[derive(Debug)]
pub struct DlqRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl DlqRecord {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// Every record of `topic` (all partitions), waiting up to a minute for at least `at_least`.
pub fn read_topic(bootstrap: &str, topic: &str, at_least: usize) -> Vec<DlqRecord> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", super::random_name("dlq-reader"))
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "false")
        .create()
        .expect("consumer");
    let mut list = rdkafka::TopicPartitionList::new();
    let partitions = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map(|m| {
            m.topics()
                .iter()
                .map(|t| t.partitions().len())
                .sum::<usize>()
        })
        .unwrap_or(0);
    for p in 0..partitions.max(1) {
        list.add_partition_offset(topic, p as i32, rdkafka::Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let raw = sluice::source::to_raw(&m);
                out.push(DlqRecord {
                    key: raw.key,
                    value: raw.value,
                    headers: raw.headers,
                })
            }
            Some(Err(_)) => std::thread::sleep(Duration::from_millis(200)),
            // Empty polls after a few seconds: the end (the assignment has taken effect).
            None if out.len() >= at_least && started.elapsed() > Duration::from_secs(3) => break,
            None => {}
        }
    }
    out
}

/// The connector config of the poison test, with a dead-letter topic and overrides.
pub fn poison_config(
    name: &str,
    topic: &str,
    url: &str,
    extra: serde_json::Value,
) -> ConnectorConfig {
    let mut config = poison::connector_config(topic, url);
    config["errors.deadletterqueue.topic.name"] = format!("{name}-dlq").into();
    config["errors.deadletterqueue.topic.replication.factor"] = "1".into();
    config["errors.log.enable"] = "true".into();
    for (k, v) in extra.as_object().expect("object") {
        config[k] = v.clone();
    }
    let doc = serde_json::json!({"name": name, "config": config});
    ConnectorConfig::from_json(&doc.to_string(), "test", &|_| None).expect("poison config")
}

/// The dead letters of a connector's target, oldest first.
pub async fn dead_letters(config: &ConnectorConfig) -> Vec<Stored> {
    let sink = Sink::open(config).await.expect("target");
    let letters = store::list(sink.db(), &config.group_id(), &Filter::default())
        .await
        .expect("dead letters");
    sink.db().close().await;
    letters
}

/// `items` as id -> (name, qty, price, code) texts.
pub async fn items(config: &ConnectorConfig) -> BTreeMap<i64, Vec<Option<String>>> {
    let sink = Sink::open(config).await.expect("target");
    let rows = sink
        .db()
        .query(
            "SELECT CAST(id AS TEXT), name, CAST(qty AS TEXT), CAST(price AS TEXT), code \
             FROM items ORDER BY id",
            &[],
        )
        .await
        .expect("items");
    sink.db().close().await;
    rows.into_iter()
        .map(|r| {
            let cells = r.into_cells();
            (
                cells[0].as_deref().unwrap().parse().unwrap(),
                cells[1..].to_vec(),
            )
        })
        .collect()
}

/// Checks the target after a poison run: the dead letters, the applied rows, the checkpoint.
pub async fn check_target(config: &ConnectorConfig, stream: &[Record], postgres: bool) {
    let topic = match &config.topics {
        sluice::config::TopicSelection::List(t) => t[0].clone(),
        _ => unreachable!(),
    };
    let letters = dead_letters(config).await;
    let bad: Vec<(usize, &Record)> = stream
        .iter()
        .enumerate()
        .filter(|(_, r)| r.bad.is_some())
        .collect();
    let mut problems = Vec::new();
    for (offset, record) in &bad {
        let b = record.bad.as_ref().unwrap();
        let found: Vec<&Stored> = letters
            .iter()
            .filter(|l| l.letter.record.coordinates.offset == *offset as i64)
            .collect();
        let [l] = found.as_slice() else {
            problems.push(format!(
                "{} (offset {offset}): {} dead letters",
                b.name,
                found.len()
            ));
            continue;
        };
        let r = &l.letter.record;
        if l.letter.stage.label() != b.stage {
            problems.push(format!(
                "{} (offset {offset}): stage {} (expected {}): {}",
                b.name,
                l.letter.stage.label(),
                b.stage,
                l.letter.message
            ));
        }
        if !l
            .letter
            .message
            .to_lowercase()
            .contains(&b.reason_contains.to_lowercase())
        {
            problems.push(format!(
                "{} (offset {offset}): reason {:?} lacks {:?}",
                b.name, l.letter.message, b.reason_contains
            ));
        }
        if (r.coordinates.topic.as_str(), r.coordinates.partition) != (topic.as_str(), 0)
            || r.key != record.key
            || r.value != record.value
            || r.headers != record.headers
            || r.timestamp_ms.is_none()
            || l.failures != 1
            || l.status != "dead"
        {
            problems.push(format!(
                "{} (offset {offset}): record not kept as sent: {l:?}",
                b.name
            ));
        }
    }
    for l in &letters {
        let offset = l.letter.record.coordinates.offset as usize;
        if stream.get(offset).is_none_or(|r| r.bad.is_none()) {
            problems.push(format!(
                "a good record was dead-lettered: offset {offset}: {} {}",
                l.letter.stage.label(),
                l.letter.message
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every good record applied.
    let expected = poison::expected_rows(postgres);
    let actual = items(config).await;
    let same = |e: &Option<String>, a: &Option<String>| match (e, a) {
        (Some(e), Some(a)) => {
            e == a || matches!((e.parse::<f64>(), a.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        }
        (None, None) => true,
        _ => false,
    };
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "item ids"
    );
    for (id, (name, qty, price, code)) in &expected {
        let row = &actual[id];
        let want = [
            Some(name.clone()),
            qty.map(|q| q.to_string()),
            price.clone(),
            code.clone(),
        ];
        assert!(
            want.iter().zip(row).all(|(e, a)| same(e, a)),
            "item {id}: expected {want:?}, got {row:?}"
        );
    }
    // The checkpoint passed every record.
    let sink = Sink::open(config).await.expect("target");
    let stored = sluice::checkpoint::load(sink.db(), &config.group_id())
        .await
        .expect("checkpoint");
    sink.db().close().await;
    let next = stored
        .iter()
        .find(|s| s.tp.topic == topic)
        .and_then(|s| s.next_offset);
    assert_eq!(next, Some(stream.len() as i64), "checkpoint");
}

/// Checks the dead-letter topic: every dead letter at least once, keyed by its coordinates,
/// value byte for byte, with Connect's context headers.
pub fn check_topic(bootstrap: &str, config: &ConnectorConfig, stream: &[Record]) {
    let bad: Vec<usize> = (0..stream.len())
        .filter(|i| stream[*i].bad.is_some())
        .collect();
    let dlq = config.dlq_topic.clone().expect("dlq topic");
    let records = read_topic(bootstrap, &dlq, bad.len());
    let topic = match &config.topics {
        sluice::config::TopicSelection::List(t) => t[0].clone(),
        _ => unreachable!(),
    };
    for offset in &bad {
        let key = format!("{topic}/0/{offset}");
        let found: Vec<&DlqRecord> = records
            .iter()
            .filter(|r| r.key.as_deref() == Some(key.as_bytes()))
            .collect();
        let sent = &stream[*offset];
        let name = sent.bad.as_ref().unwrap().name;
        let r = found
            .first()
            .unwrap_or_else(|| panic!("{name} ({key}) is not on {dlq}"));
        assert_eq!(r.value, sent.value, "{name}: value");
        assert_eq!(
            r.header("__connect.errors.topic").as_deref(),
            Some(topic.as_str())
        );
        assert_eq!(
            r.header("__connect.errors.offset"),
            Some(offset.to_string())
        );
        assert_eq!(
            r.header("__connect.errors.connector.name").as_deref(),
            Some(config.name.as_str())
        );
        assert!(
            r.header("__connect.errors.stage").is_some(),
            "{name}: stage"
        );
        assert!(r.header("__connect.errors.exception.message").is_some());
        // The original headers come first, unchanged; the original key is kept too.
        assert_eq!(
            &r.headers[..sent.headers.len()],
            sent.headers.as_slice(),
            "{name}"
        );
        let original_key = r
            .headers
            .iter()
            .find(|(k, _)| k == "__sluice.original.key")
            .and_then(|(_, v)| v.clone());
        assert_eq!(original_key, sent.key, "{name}: original key");
    }
    // Nothing else is there.
    let keys: std::collections::BTreeSet<Vec<u8>> =
        records.iter().filter_map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), bad.len(), "distinct dead-letter keys");
}

/// Moves the connector's checkpoint of partition 0 back to 0 in the target only (the Kafka
/// group keeps `group_offset`, recorded as sluice's own mirror so it is not taken for an
/// operator's reset): the next run replays the partition.
pub async fn reset_to_zero(config: &ConnectorConfig, topic: &str, group_offset: i64) {
    let sink = Sink::open(config).await.expect("target");
    let tp = sluice::checkpoint::TopicPartition {
        topic: topic.into(),
        partition: 0,
    };
    sluice::checkpoint::reset(sink.db(), &config.group_id(), &[(tp, 0)], "test replay")
        .await
        .expect("reset");
    sink.db()
        .execute(
            "UPDATE sluice_offsets SET mirrored_offset = $1, mirror_pending = $1",
            &[sluice::db::Param::Int(group_offset)],
        )
        .await
        .expect("mirror");
    sink.db().close().await;
}
