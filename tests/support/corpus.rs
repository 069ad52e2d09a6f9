//! Publishing a Debezium corpus run (`<scenario>/events/<run>.jsonl`) to a real broker.
//!
//! Each JSONL line is `{"topic","partition","offset","key","value","headers"}` where key/value
//! are the converter's output strings (JSON runs) or base64 of its bytes (Avro runs), `null`
//! for a null key / a tombstone value, and headers map name -> string.

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How to publish a corpus file.
#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    /// Partitions of the target topics. With 1 (or less) every record goes to partition 0,
    /// exactly as recorded. With N > 1 a keyed record goes to `murmur2(key) % N` — what Kafka's
    /// Java default partitioner (Kafka Connect, so Debezium) does, so every key keeps its order
    /// — and a record with a null key (TRUNCATE, tables without a primary key) to partition 0.
    pub partitions: i32,
    /// Key and value are base64 (Avro runs). [`publish_jsonl`] sets this when the file name
    /// contains `.avro.`.
    pub base64: bool,
    /// Published in one transaction, as Debezium does with `exactly.once.support`: the commit
    /// marker takes the last offset of each partition and is never delivered.
    pub transactional: bool,
    /// More producer settings (`compression.type`, `security.protocol`, `ssl.ca.location`).
    pub client: Vec<(String, String)>,
}

/// What was published.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Records per (renamed) topic.
    pub per_topic: BTreeMap<String, usize>,
    /// `(topic, partition, offset)` of every record, in file order (line i -> `records[i]`).
    pub records: Vec<(String, i32, i64)>,
}

impl Published {
    pub fn total(&self) -> usize {
        self.records.len()
    }
}

/// Publish a corpus JSONL file (`.jsonl`, or `.jsonl.gz` through `gzip -dc`) to `bootstrap`
/// with an idempotent producer, preserving key, value (null = tombstone), headers and the
/// order of records per topic; every topic name goes through `topic_rename` (e.g. to make it
/// unique per test). Waits for every delivery; panics on any failure. Topics must exist unless
/// the broker auto-creates them (tansu does, with 4 partitions).
pub async fn publish_jsonl(
    bootstrap: &str,
    path: impl AsRef<Path>,
    topic_rename: impl Fn(&str) -> String,
    partitions: i32,
) -> Published {
    let path = path.as_ref();
    let base64 = path
        .file_name()
        .map(|n| n.to_string_lossy().contains(".avro."))
        .unwrap_or(false);
    publish_jsonl_with(
        bootstrap,
        path,
        topic_rename,
        &PublishOptions {
            partitions,
            base64,
            ..Default::default()
        },
    )
    .await
}

/// [`publish_jsonl`] with explicit options.
pub async fn publish_jsonl_with(
    bootstrap: &str,
    path: impl AsRef<Path>,
    topic_rename: impl Fn(&str) -> String,
    opts: &PublishOptions,
) -> Published {
    let path = path.as_ref();
    let text = read_corpus_file(path);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000");
    if opts.transactional {
        config.set("transactional.id", super::random_name("corpus-tx"));
    }
    for (key, value) in &opts.client {
        config.set(key, value);
    }
    let producer: FutureProducer = config.create().expect("create producer");
    if opts.transactional {
        producer
            .init_transactions(Duration::from_secs(30))
            .expect("init transactions");
        producer.begin_transaction().expect("begin transaction");
    }

    let mut pending = Vec::new();
    let mut published = Published::default();
    for (lineno, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let where_ = || format!("{}:{}", path.display(), lineno + 1);
        let rec: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: bad JSON: {e}", where_()));
        let topic = topic_rename(
            rec["topic"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no topic", where_())),
        );
        let key = field_bytes(&rec["key"], opts.base64, &where_);
        let value = field_bytes(&rec["value"], opts.base64, &where_);
        let mut headers = OwnedHeaders::new();
        if let Some(h) = rec["headers"].as_object() {
            for (name, v) in h {
                headers = headers.insert(Header {
                    key: name,
                    value: v.as_str().map(str::as_bytes),
                });
            }
        }
        let partition = match (&key, opts.partitions) {
            (Some(k), n) if n > 1 => (murmur2(k) & 0x7fff_ffff) as i32 % n,
            _ => 0,
        };
        let mut record = FutureRecord::<[u8], [u8]>::to(&topic)
            .partition(partition)
            .headers(headers);
        if let Some(k) = &key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &value {
            record = record.payload(v.as_slice());
        }
        // librdkafka copies the record, so the borrows end here. Retry while its queue is full.
        let fut = loop {
            match producer.send_result(record) {
                Ok(f) => break f,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((e, _)) => panic!("{}: produce to {topic}: {e}", where_()),
            }
        };
        *published.per_topic.entry(topic.clone()).or_default() += 1;
        pending.push((topic, fut, where_()));
    }
    for (topic, fut, at) in pending {
        match fut.await {
            Ok(Ok(d)) => published.records.push((topic, d.partition, d.offset)),
            Ok(Err((e, _))) => panic!("{at}: delivery to {topic} failed: {e}"),
            Err(_) => panic!("{at}: delivery to {topic} canceled"),
        }
    }
    if opts.transactional {
        producer
            .commit_transaction(Duration::from_secs(30))
            .expect("commit transaction");
    }
    published
}

fn read_corpus_file(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "gz") {
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("gzip -dc {}: {e}", path.display()));
        assert!(out.status.success(), "gzip -dc {} failed", path.display());
        String::from_utf8(out.stdout).expect("corpus is UTF-8")
    } else {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read corpus file {}: {e}", path.display()))
    }
}

fn field_bytes(v: &serde_json::Value, base64: bool, at: &dyn Fn() -> String) -> Option<Vec<u8>> {
    use base64::Engine as _;
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if base64 => Some(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_else(|e| panic!("{}: bad base64: {e}", at())),
        ),
        serde_json::Value::String(s) => Some(s.clone().into_bytes()),
        other => panic!("{}: key/value must be a string or null, got {other}", at()),
    }
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), as used by the Java
/// default partitioner: `partition = (murmur2(key) & 0x7fffffff) % partitions`.
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}
