//! The pipeline benchmark (issue #2): N generated Debezium JSON change events (JsonConverter
//! with schemas, a 15-column `orders` table, ~70% c / 25% u / 5% d, 4 partitions keyed like
//! Kafka Connect) are published to a real tansu broker, then measured in one run:
//!
//! 1. **raw consume**: one librdkafka consumer (sluice's prefetch setting) reading all N records
//!    of the topic with manual assignment (no group join): records/s and MB/s. A second pass
//!    also turns every record into sluice's `RawRecord` and decodes it with `sluice::decode`
//!    (consume + decode, one thread).
//! 2. **raw binary COPY** into the same PostgreSQL, stream built beforehand (only the COPY
//!    itself is timed), each into a fresh table with the column types sluice creates:
//!    the final rows (one row per live key, table with a primary key, one COPY); every event's
//!    row image (after for c/u, before for d; N rows, no key, one COPY; this is the per-event
//!    ceiling); and the N rows again in one COPY per `batch.size` rows (one transaction each).
//! 3. **sluice end-to-end**: `sluice run --stop-at-end` with an upsert / record_key /
//!    delete.enabled / schema.evolution=basic connector, per batch size: events/s from spawn to
//!    exit (and "steady", from the first applied batch seen on /metrics to exit), peak RSS
//!    (VmHWM from /proc/<pid>/status, polled every 20 ms), CPU seconds, and the target checked
//!    (row count and sum of versions equal the generated final state).
//! 4. **in process** (where the time goes): the same records decoded with `sluice::decode` and
//!    applied with `sluice::sink::Sink::apply_batch` (partitions claimed with
//!    `sluice::checkpoint::claim`) in batches of `batch.size`, without Kafka; PostgreSQL logs
//!    every statement's duration for that database (`log_min_duration_statement = 0`), summed
//!    per statement kind, so SQL time on the server is separated from client time.
//!
//! Targets (issue #2): sluice events/s >= 0.8 x min(raw consume records/s, COPY of every
//! event's row rows/s), and peak RSS <= 64 MB. A table and one JSON line (`{"bench":"pipeline"
//! ...}`) are printed.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench --bench pipeline`. Environment:
//! `SLUICE_BENCH_EVENTS` (200000), `SLUICE_BENCH_BATCH_SIZES` (`1000,5000`),
//! `SLUICE_BENCH_CONSUMER_PROPS` / `SLUICE_BENCH_CONNECTOR_PROPS` (`key=value,...` added to the
//! worker file as `consumer.<key>` / to the connector config),
//! `SLUICE_BENCH_IN_PROCESS` (`1`; `0` skips part 4), `SLUICE_BENCH_LOG` (the child's
//! `SLUICE_LOG`, default `info`), `SLUICE_BENCH_KEEP_LOG` (set: the child's log is copied to
//! `$TMPDIR/sluice-bench-run-<batch>.log`), `SLUICE_BENCH_BIN` (the sluice binary; default the one cargo
//! builds for this bench, `CARGO_BIN_EXE_sluice`, i.e. `<target>/release/sluice` under
//! `cargo bench`). Broker and PostgreSQL come from the test harness (`SLUICE_TANSU_BIN`,
//! `SLUICE_PG_BIN`, or what `bash .ci/test` installs).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs as a smoke test: 1000
//! events, batch size 250, every part, no target check.

#[path = "../tests/support/mod.rs"]
mod support;

use base64::Engine as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{random_name, Postgres, Tansu};

const PARTITIONS: i32 = 4;
const TABLE: &str = "orders";
const RATIO_TARGET: f64 = 0.8;
const RSS_TARGET_MB: f64 = 64.0;

// ------------------------------------------------------------------------------------------
// Settings

struct Settings {
    events: usize,
    batch_sizes: Vec<usize>,
    in_process: bool,
    child_log: String,
    /// Extra librdkafka consumer properties for the bench's consumers and for sluice's
    /// (written as `consumer.<key>=<value>` into the worker file), e.g.
    /// `fetch.queue.backoff.ms=10`.
    consumer_props: Vec<(String, String)>,
    /// Extra connector keys for sluice's runs, e.g. `sluice.max.inflight.records=1000`.
    connector_props: Vec<(String, String)>,
    /// `cargo bench` (targets checked) rather than the `cargo test` smoke run.
    bench: bool,
}

/// `key=value` pairs separated by commas or spaces, from the variable `name`.
fn props(text: Option<String>, name: &str) -> Vec<(String, String)> {
    text.unwrap_or_default()
        .split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: key=value,..."));
            (k.to_string(), v.to_string())
        })
        .collect()
}

impl Settings {
    fn from_env() -> Settings {
        let bench = std::env::args().any(|a| a == "--bench");
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let events = var("SLUICE_BENCH_EVENTS")
            .map(|v| {
                v.trim()
                    .parse()
                    .expect("SLUICE_BENCH_EVENTS must be a number")
            })
            .unwrap_or(if bench { 200_000 } else { 1000 });
        let batch_sizes = var("SLUICE_BENCH_BATCH_SIZES")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().parse().expect("SLUICE_BENCH_BATCH_SIZES: numbers"))
                    .collect()
            })
            .unwrap_or(if bench { vec![1000, 5000] } else { vec![250] });
        Settings {
            events,
            batch_sizes,
            in_process: var("SLUICE_BENCH_IN_PROCESS").is_none_or(|v| v != "0"),
            child_log: var("SLUICE_BENCH_LOG").unwrap_or_else(|| "info".into()),
            consumer_props: props(
                var("SLUICE_BENCH_CONSUMER_PROPS"),
                "SLUICE_BENCH_CONSUMER_PROPS",
            ),
            connector_props: props(
                var("SLUICE_BENCH_CONNECTOR_PROPS"),
                "SLUICE_BENCH_CONNECTOR_PROPS",
            ),
            bench,
        }
    }
}

// ------------------------------------------------------------------------------------------
// The generated stream

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    C,
    U,
    D,
}

/// One source change. `seq` is its position (1-based) and the `version` column it writes;
/// `image` is the seq of the row image it carries (its own for c/u, the last write for d).
#[derive(Clone, Copy, Debug)]
struct Event {
    op: Op,
    id: i64,
    seq: i64,
    image: i64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// ~70% creates of new keys, ~25% updates and ~5% deletes of random live keys.
fn generate(n: usize) -> Vec<Event> {
    let mut rng = Rng(0x5eed_2024);
    let mut live: Vec<i64> = Vec::new();
    let mut last: Vec<i64> = vec![0]; // last write's seq per id; ids are 1, 2, ...
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let seq = i as i64 + 1;
        let r = rng.below(100);
        if r < 70 || live.is_empty() {
            let id = last.len() as i64;
            last.push(seq);
            live.push(id);
            out.push(Event {
                op: Op::C,
                id,
                seq,
                image: seq,
            });
        } else if r < 95 {
            let id = live[rng.below(live.len())];
            last[id as usize] = seq;
            out.push(Event {
                op: Op::U,
                id,
                seq,
                image: seq,
            });
        } else {
            let id = live.swap_remove(rng.below(live.len()));
            out.push(Event {
                op: Op::D,
                id,
                seq,
                image: last[id as usize],
            });
        }
    }
    out
}

/// The final state: id -> version (seq of its last write), for live keys.
fn final_state(events: &[Event]) -> BTreeMap<i64, i64> {
    let mut state = BTreeMap::new();
    for e in events {
        match e.op {
            Op::D => {
                state.remove(&e.id);
            }
            _ => {
                state.insert(e.id, e.seq);
            }
        }
    }
    state
}

/// One row of `orders` (15 columns).
struct Row {
    id: i64,
    account_id: i32,
    quantity: i16,
    /// numeric(12,2), unscaled.
    amount: i64,
    /// numeric(10,4), unscaled.
    price: i64,
    name: String,
    email: String,
    description: String,
    status: &'static str,
    active: bool,
    verified: Option<bool>,
    /// timestamp, µs since the Unix epoch.
    created_at: i64,
    /// timestamptz, µs since the Unix epoch.
    updated_at: i64,
    version: i64,
    note: Option<String>,
}

const FIRST: [&str; 16] = [
    "Anne", "Bruno", "Chiara", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Marek", "Nora", "Oskar", "Priya",
];
const LAST: [&str; 16] = [
    "Kretchmar",
    "Silva",
    "Rossi",
    "Ivanov",
    "Novak",
    "Haddad",
    "Berg",
    "Tanaka",
    "Garcia",
    "Weber",
    "Yilmaz",
    "Fischer",
    "Kowalski",
    "Lind",
    "Meyer",
    "Sharma",
];
const WORDS: [&str; 24] = [
    "express",
    "delivery",
    "gift",
    "wrapped",
    "fragile",
    "bulk",
    "order",
    "customer",
    "requested",
    "weekend",
    "priority",
    "standard",
    "insured",
    "return",
    "pickup",
    "warehouse",
    "north",
    "south",
    "discount",
    "applied",
    "invoice",
    "pending",
    "backorder",
    "partial",
];
const STATUS: [&str; 5] = ["new", "paid", "packed", "shipped", "delivered"];

fn row(id: i64, seq: i64) -> Row {
    let h = mix((id as u64).wrapping_mul(0x1000_0000_01b3) ^ (seq as u64));
    let first = FIRST[(h & 15) as usize];
    let last = LAST[((h >> 4) & 15) as usize];
    let words = 9 + (h >> 8) % 6;
    let mut description = String::with_capacity(100);
    for w in 0..words {
        if w > 0 {
            description.push(' ');
        }
        description.push_str(WORDS[(mix(h ^ w) % WORDS.len() as u64) as usize]);
    }
    let amount = ((h >> 12) % 2_000_000_000) as i64 * if h.is_multiple_of(17) { -1 } else { 1 };
    Row {
        id,
        account_id: ((h >> 20) % 1_000_000) as i32,
        quantity: ((h >> 40) % 1000) as i16,
        amount,
        price: ((h >> 24) % 99_999_999) as i64,
        name: format!("{first} {last}"),
        email: format!(
            "{}.{}{id}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        description,
        status: STATUS[(seq % 5) as usize],
        active: h & 1 == 0,
        verified: if h.is_multiple_of(7) {
            None
        } else {
            Some(h & 2 == 0)
        },
        created_at: 1_600_000_000_000_000 + id * 1_000_003,
        updated_at: 1_700_000_000_000_000 + seq * 997_001,
        version: seq,
        note: h
            .is_multiple_of(3)
            .then(|| format!("note for order {id}, revision {seq}")),
    }
}

// ------------------------------------------------------------------------------------------
// Debezium JSON (JsonConverter, schemas enabled), shaped like Debezium 3.6 for PostgreSQL

fn row_fields() -> Json {
    let decimal = |field: &str, scale: u32, precision: u32| {
        json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
            "version": 1, "parameters": {"scale": scale.to_string(),
            "connect.decimal.precision": precision.to_string()}, "field": field})
    };
    json!([
        {"type": "int64", "optional": false, "default": 0, "field": "id"},
        {"type": "int32", "optional": true, "field": "account_id"},
        {"type": "int16", "optional": true, "field": "quantity"},
        decimal("amount", 2, 12),
        decimal("price", 4, 10),
        {"type": "string", "optional": false, "field": "name"},
        {"type": "string", "optional": true, "field": "email"},
        {"type": "string", "optional": true, "field": "description"},
        {"type": "string", "optional": false, "field": "status"},
        {"type": "boolean", "optional": false, "default": true, "field": "active"},
        {"type": "boolean", "optional": true, "field": "verified"},
        {"type": "int64", "optional": false, "name": "io.debezium.time.MicroTimestamp", "version": 1, "field": "created_at"},
        {"type": "string", "optional": true, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "updated_at"},
        {"type": "int64", "optional": false, "field": "version"},
        {"type": "string", "optional": true, "field": "note"}
    ])
}

fn envelope_schema() -> String {
    let f = |t: &str, optional: bool, field: &str| json!({"type": t, "optional": optional, "field": field});
    let value = |field: &str| {
        json!({"type": "struct", "fields": row_fields(), "optional": true,
            "name": "bench.public.orders.Value", "field": field})
    };
    let source = json!({"type": "struct", "fields": [
        f("string", false, "version"), f("string", false, "connector"), f("string", false, "name"),
        f("int64", false, "ts_ms"),
        {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
         "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
         "default": "false", "field": "snapshot"},
        f("string", false, "db"), f("string", true, "sequence"), f("int64", true, "ts_us"),
        f("int64", true, "ts_ns"), f("string", false, "schema"), f("string", false, "table"),
        f("int64", true, "txId"), f("int64", true, "lsn"), f("int64", true, "xmin"),
        f("string", true, "origin"), f("int64", true, "origin_lsn")],
        "optional": false, "name": "io.debezium.connector.postgresql.Source", "version": 1, "field": "source"});
    let transaction = json!({"type": "struct", "fields": [f("string", false, "id"),
        f("int64", false, "total_order"), f("int64", false, "data_collection_order")],
        "optional": true, "name": "event.block", "version": 1, "field": "transaction"});
    json!({"type": "struct", "fields": [value("before"), value("after"), source, transaction,
        f("string", false, "op"), f("int64", true, "ts_ms"), f("int64", true, "ts_us"), f("int64", true, "ts_ns")],
        "optional": false, "name": "bench.public.orders.Envelope", "version": 2})
    .to_string()
}

/// Minimal big-endian two's complement, as Connect's Decimal writes the unscaled value.
fn decimal_bytes(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (cur, next) = (b[start], b[start + 1]);
        if (cur == 0x00 && next & 0x80 == 0) || (cur == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

fn zoned(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn row_json(r: &Row) -> Json {
    let b64 = |v: i64| base64::engine::general_purpose::STANDARD.encode(decimal_bytes(v));
    json!({"id": r.id, "account_id": r.account_id, "quantity": r.quantity,
        "amount": b64(r.amount), "price": b64(r.price), "name": r.name, "email": r.email,
        "description": r.description, "status": r.status, "active": r.active,
        "verified": r.verified, "created_at": r.created_at, "updated_at": zoned(r.updated_at),
        "version": r.version, "note": r.note})
}

/// A produced record: the bytes, its partition, and (after delivery) its offset.
struct Record {
    key: Vec<u8>,
    value: Vec<u8>,
    partition: i32,
    offset: i64,
}

fn record(schema: &str, index: usize, e: &Event) -> Record {
    let lsn = 30_000_000 + index as i64 * 152;
    let tx_id = 1000 + index as i64 / 4;
    let ts_ms = 1_700_000_000_000 + index as i64;
    let image = row_json(&row(e.id, e.image));
    let (before, after) = match e.op {
        Op::D => (image, Json::Null),
        _ => (Json::Null, image),
    };
    let op = match e.op {
        Op::C => "c",
        Op::U => "u",
        Op::D => "d",
    };
    let payload = json!({"before": before, "after": after,
        "source": {"version": "3.6.3.Final", "connector": "postgresql", "name": "bench",
            "ts_ms": ts_ms, "snapshot": "false", "db": "shop",
            "sequence": format!("[\"{}\",\"{lsn}\"]", lsn - 152), "ts_us": ts_ms * 1000,
            "ts_ns": ts_ms * 1_000_000, "schema": "public", "table": TABLE, "txId": tx_id,
            "lsn": lsn, "xmin": null, "origin": null, "origin_lsn": null},
        "transaction": {"id": format!("{tx_id}:{lsn}"), "total_order": index % 4 + 1,
            "data_collection_order": index % 4 + 1},
        "op": op, "ts_ms": ts_ms + 3, "ts_us": (ts_ms + 3) * 1000, "ts_ns": (ts_ms + 3) * 1_000_000});
    let key = json!({"schema": {"type": "struct", "fields": [{"type": "int64", "optional": false,
        "default": 0, "field": "id"}], "optional": false, "name": "bench.public.orders.Key"},
        "payload": {"id": e.id}})
    .to_string()
    .into_bytes();
    let value = format!("{{\"schema\":{schema},\"payload\":{payload}}}").into_bytes();
    let partition = (support::corpus::murmur2(&key) & 0x7fff_ffff) as i32 % PARTITIONS;
    Record {
        key,
        value,
        partition,
        offset: -1,
    }
}

fn debezium_headers() -> OwnedHeaders {
    let h = |v: &str| {
        format!("{{\"schema\":{{\"type\":\"string\",\"optional\":false}},\"payload\":\"{v}\"}}")
    };
    let mut headers = OwnedHeaders::new();
    for (k, v) in [
        ("__debezium.context.connectorLogicalName", h("bench")),
        ("__debezium.context.taskId", h("0")),
        ("__debezium.context.connectorName", h("postgresql")),
        (
            "__debezium.context.runId",
            h("01a2015a-802e-7b94-91ad-8325457510c3"),
        ),
    ] {
        headers = headers.insert(Header {
            key: k,
            value: Some(v.as_bytes()),
        });
    }
    headers
}

/// Publishes every record (idempotent producer), in order, and fills in the offsets.
async fn publish(bootstrap: &str, topic: &str, records: &mut [Record]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("message.timeout.ms", "300000")
        .create()
        .expect("producer");
    let headers = debezium_headers();
    let mut pending = Vec::with_capacity(records.len());
    for r in records.iter() {
        let mut rec = FutureRecord::<[u8], [u8]>::to(topic)
            .key(&r.key)
            .payload(&r.value)
            .partition(r.partition)
            .headers(headers.clone());
        loop {
            match producer.send_result(rec) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    rec = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    for (r, delivery) in records.iter_mut().zip(pending) {
        let delivered = delivery.await.expect("delivery").expect("delivered");
        assert_eq!(delivered.partition, r.partition);
        r.offset = delivered.offset;
    }
}

// ------------------------------------------------------------------------------------------
// 1. raw consume

#[derive(Default)]
struct Consumed {
    records: usize,
    bytes: usize,
    secs: f64,
    decoded: usize,
}

/// Reads every record of the topic with manual assignment (no group join), optionally
/// converting each to sluice's `RawRecord` and decoding it.
fn raw_consume(s: &Settings, bootstrap: &str, topic: &str, want: usize, decode: bool) -> Consumed {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", random_name("bench_raw"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // One queue for the 4 partitions: 4x sluice's per-partition bound (src/source/mod.rs)
        // would be 2048; 8192 never holds this consumer back, so the ceiling is not lowered.
        .set("queued.max.messages.kbytes", "8192");
    if decode {
        // librdkafka waits fetch.queue.backoff.ms (1 s by default) before fetching again once
        // the 8 MB queue was full, which throttles any consumer slower than the broker to
        // ~8 MB/s; this pass is about decode cost, so it fetches again after 10 ms.
        config.set("fetch.queue.backoff.ms", "10");
    }
    for (k, v) in &s.consumer_props {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    let decode_config = sluice::decode::DecodeConfig::default();
    let mut out = Consumed::default();
    let started = Instant::now();
    consumer.assign(&tpl).expect("assign");
    let deadline = started + Duration::from_secs(900);
    while out.records < want {
        assert!(
            Instant::now() < deadline,
            "raw consume: {} of {want}",
            out.records
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = message.expect("consume");
        out.records += 1;
        out.bytes += m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
        if decode {
            let raw = sluice::source::to_raw(&m);
            if let Ok(sluice::event::Decoded::Change(_)) =
                sluice::decode::decode(&raw, &decode_config)
            {
                out.decoded += 1;
            }
        }
    }
    out.secs = started.elapsed().as_secs_f64();
    out
}

// ------------------------------------------------------------------------------------------
// 2. raw binary COPY

const COLUMNS: &str = "id, account_id, quantity, amount, price, name, email, description, \
                       status, active, verified, created_at, updated_at, version, note";

/// The column types sluice's schema.evolution=basic creates for this schema.
fn create_table(name: &str, primary_key: bool) -> String {
    format!(
        "CREATE TABLE {name} (id bigint {pk}, account_id integer, quantity smallint, \
         amount numeric(12,2), price numeric(10,4), name text NOT NULL, email text, \
         description text, status text NOT NULL, active boolean NOT NULL, verified boolean, \
         created_at timestamp NOT NULL, updated_at timestamptz, version bigint NOT NULL, note text)",
        pk = if primary_key {
            "PRIMARY KEY"
        } else {
            "NOT NULL"
        }
    )
}

const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

struct CopyWriter(Vec<u8>);

impl CopyWriter {
    fn new() -> CopyWriter {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyWriter(buf)
    }
    fn field(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.field(s.as_bytes()),
            None => self.null(),
        }
    }
    /// numeric in PostgreSQL's binary form (base-10000 digits); `scale` <= 4.
    fn numeric(&mut self, unscaled: i64, scale: u32) {
        let p = 10u64.pow(scale);
        let abs = unscaled.unsigned_abs();
        let mut int = abs / p;
        let frac = (abs % p) * 10u64.pow(4 - scale);
        let mut digits: Vec<i16> = Vec::new();
        while int > 0 {
            digits.push((int % 10_000) as i16);
            int /= 10_000;
        }
        digits.reverse();
        let mut weight = digits.len() as i16 - 1;
        digits.push(frac as i16);
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        let sign: u16 = if unscaled < 0 && !digits.is_empty() {
            0x4000
        } else {
            0
        };
        let mut b = Vec::with_capacity(8 + 2 * digits.len());
        b.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        b.extend_from_slice(&weight.to_be_bytes());
        b.extend_from_slice(&sign.to_be_bytes());
        b.extend_from_slice(&(scale as i16).to_be_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        self.field(&b);
    }
    fn row(&mut self, r: &Row) {
        self.0.extend_from_slice(&15i16.to_be_bytes());
        self.field(&r.id.to_be_bytes());
        self.field(&r.account_id.to_be_bytes());
        self.field(&r.quantity.to_be_bytes());
        self.numeric(r.amount, 2);
        self.numeric(r.price, 4);
        self.text(Some(&r.name));
        self.text(Some(&r.email));
        self.text(Some(&r.description));
        self.text(Some(r.status));
        self.field(&[r.active as u8]);
        match r.verified {
            Some(v) => self.field(&[v as u8]),
            None => self.null(),
        }
        self.field(&(r.created_at - PG_EPOCH_MICROS).to_be_bytes());
        self.field(&(r.updated_at - PG_EPOCH_MICROS).to_be_bytes());
        self.field(&r.version.to_be_bytes());
        self.text(r.note.as_deref());
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

fn copy_stream<'a>(rows: impl Iterator<Item = &'a (i64, i64)>) -> Vec<u8> {
    let mut w = CopyWriter::new();
    for (id, seq) in rows {
        w.row(&row(*id, *seq));
    }
    w.finish()
}

struct Copied {
    rows: u64,
    secs: f64,
}

/// Runs the prepared COPY streams one after the other (each its own transaction); only the
/// COPY statements are timed.
async fn copy_in(url: &str, table: &str, streams: &[Vec<u8>]) -> Copied {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let statement = format!("COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)");
    let started = Instant::now();
    let mut rows = 0;
    for stream in streams {
        let mut copy = conn.copy_in_raw(&statement).await.expect("COPY");
        for chunk in stream.chunks(1 << 20) {
            copy.send(chunk).await.expect("COPY data");
        }
        rows += copy.finish().await.expect("COPY finish");
    }
    let secs = started.elapsed().as_secs_f64();
    conn.close().await.ok();
    Copied { rows, secs }
}

// ------------------------------------------------------------------------------------------
// 3. sluice end-to-end

#[derive(Default)]
struct Metrics(HashMap<String, f64>);

impl Metrics {
    /// Sums every series of each metric family member (`name` without labels).
    fn parse(text: &str) -> Metrics {
        let mut m = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = series.split('{').next().unwrap_or(series);
            if let Ok(v) = value.parse::<f64>() {
                *m.entry(name.to_string()).or_insert(0.0) += v;
            }
        }
        Metrics(m)
    }
    fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }
}

fn scrape(port: u16) -> Option<Metrics> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.")
        .then_some(())
        .filter(|_| head.contains(" 200 "))?;
    Some(Metrics::parse(body))
}

fn proc_status_kb(pid: u32, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in ticks.
fn proc_cpu_ticks(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
}

/// (busy, total) jiffies of the whole machine.
fn machine_cpu() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

struct SluiceRun {
    batch_size: usize,
    secs: f64,
    steady_secs: f64,
    steady_events: f64,
    peak_rss_mb: f64,
    cpu_secs: f64,
    machine_busy: f64,
    batches: f64,
    batch_secs: f64,
    commit_secs: f64,
    /// statement kind -> (count, ms on the server)
    server: BTreeMap<String, (u64, f64)>,
    verified: bool,
    detail: String,
}

fn sluice_binary() -> std::path::PathBuf {
    match std::env::var_os("SLUICE_BENCH_BIN") {
        Some(p) => p.into(),
        None => support::sluice::binary(),
    }
}

fn connector_config(topic: &str, url: &str, batch: usize, extra: &[(String, String)]) -> Json {
    let jdbc = format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1));
    let mut config = json!({"topics": topic, "connection.url": jdbc, "insert.mode": "upsert",
        "primary.key.mode": "record_key", "delete.enabled": "true", "schema.evolution": "basic",
        "collection.name.format": "${source.table}", "batch.size": batch.to_string()});
    for (k, v) in extra {
        config[k] = Json::String(v.clone());
    }
    config
}

async fn verify(url: &str, expected: &BTreeMap<i64, i64>) -> (bool, String) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let (count, sum): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT count(*), CAST(sum(version) AS BIGINT) FROM {TABLE}"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap_or((-1, None));
    conn.close().await.ok();
    let want_sum: i64 = expected.values().sum();
    let ok = count == expected.len() as i64 && sum.unwrap_or(0) == want_sum;
    (
        ok,
        format!(
            "rows {count} (want {}), sum(version) {} (want {want_sum})",
            expected.len(),
            sum.unwrap_or(0)
        ),
    )
}

fn run_sluice(
    rt: &tokio::runtime::Runtime,
    s: &Settings,
    bootstrap: &str,
    topic: &str,
    batch: usize,
    expected: &BTreeMap<i64, i64>,
) -> SluiceRun {
    let url = Postgres::database();
    log_statement_durations(&url);
    let log_start = pg_log_len();
    let dir = support::scratch_dir("sluice-bench");
    let worker = support::sluice::worker_file(&dir, bootstrap);
    if !s.consumer_props.is_empty() {
        let mut text = std::fs::read_to_string(&worker).expect("worker file");
        for (k, v) in &s.consumer_props {
            text.push_str(&format!("consumer.{k}={v}\n"));
        }
        std::fs::write(&worker, text).expect("worker file");
    }
    let connector = support::sluice::connector_file(
        &dir,
        &random_name("bench"),
        connector_config(topic, &url, batch, &s.connector_props),
    );
    let port = support::free_port();
    let log = dir.join("run.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let ticks = clock_ticks();
    let cpu0 = machine_cpu();
    let started = Instant::now();
    let mut child = Command::new(sluice_binary())
        .arg("run")
        .arg("--worker")
        .arg(&worker)
        .arg("--stop-at-end")
        .arg(&connector)
        .env("SLUICE_LOG", &s.child_log)
        .env("SLUICE_METRICS_ADDRESS", format!("127.0.0.1:{port}"))
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", sluice_binary().display()));
    let pid = child.id();
    let (mut peak_kb, mut cpu_ticks) = (0f64, 0f64);
    let mut last = Metrics::default();
    let mut first_progress: Option<(Instant, f64)> = None;
    let mut last_scrape = Instant::now() - Duration::from_secs(1);
    let deadline = started + Duration::from_secs(1800);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let Some(kb) = proc_status_kb(pid, "VmHWM:") {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(t) = proc_cpu_ticks(pid) {
            cpu_ticks = t;
        }
        if last_scrape.elapsed() >= Duration::from_millis(250) {
            last_scrape = Instant::now();
            if let Some(m) = scrape(port) {
                let consumed = m.get("sluice_records_consumed_total");
                if first_progress.is_none() && consumed > 0.0 {
                    first_progress = Some((Instant::now(), consumed));
                }
                last = m;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sluice did not finish; log:\n{}", support::tail(&log, 40));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = machine_cpu();
    assert!(
        status.success(),
        "sluice run failed ({status}); log:\n{}",
        support::tail(&log, 60)
    );
    let n = s.events as f64;
    let (steady_secs, steady_events) = match first_progress {
        Some((at, consumed)) => (at.elapsed().as_secs_f64(), n - consumed),
        None => (secs, n),
    };
    std::thread::sleep(Duration::from_millis(300));
    let pg_log = pg_log_since(log_start);
    if std::env::var_os("SLUICE_BENCH_EXPLAIN").is_some() {
        let path = std::env::temp_dir().join(format!("sluice-bench-pg-{batch}.log"));
        std::fs::write(&path, &pg_log).expect("write PostgreSQL log slice");
        eprintln!("PostgreSQL log of the run (with plans): {}", path.display());
    }
    let server = parse_pg_durations(&pg_log);
    let (verified, detail) = rt.block_on(verify(&url, expected));
    if std::env::var_os("SLUICE_BENCH_KEEP_LOG").is_some() {
        let path = std::env::temp_dir().join(format!("sluice-bench-run-{batch}.log"));
        std::fs::copy(&log, &path).expect("copy the run log");
        eprintln!("sluice log of the run: {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    SluiceRun {
        batch_size: batch,
        secs,
        steady_secs,
        steady_events,
        peak_rss_mb: peak_kb / 1024.0,
        cpu_secs: cpu_ticks / ticks,
        machine_busy: (cpu1.0 - cpu0.0) / (cpu1.1 - cpu0.1).max(1.0),
        batches: last.get("sluice_batch_duration_seconds_count"),
        batch_secs: last.get("sluice_batch_duration_seconds_sum"),
        commit_secs: last.get("sluice_commit_duration_seconds_sum"),
        server,
        verified,
        detail,
    }
}

// ------------------------------------------------------------------------------------------
// 4. in process: decode and Sink::apply_batch without Kafka, SQL time from PostgreSQL's log

struct InProcess {
    batch_size: usize,
    decode_secs: f64,
    apply_secs: f64,
    /// statement kind -> (count, ms on the server)
    server: BTreeMap<String, (u64, f64)>,
    verified: bool,
}

fn statement_kind(sql: &str) -> String {
    let s = sql.trim_start();
    let verb = s
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let table = [
        "sluice_offsets_history",
        "sluice_offsets",
        "sluice_row_versions",
        "sluice_schema_version",
        TABLE,
    ]
    .into_iter()
    .find(|t| s.contains(t))
    .unwrap_or("-");
    format!("{verb} {table}")
}

/// Makes PostgreSQL log every statement's duration for the database of `url` (new sessions);
/// with `SLUICE_BENCH_EXPLAIN=<ms>` also the plan of every statement slower than that
/// (auto_explain, with actual row counts).
fn log_statement_durations(url: &str) {
    let db = support::quote_ident(url.rsplit('/').next().expect("database in URL"));
    let pg = Postgres::shared();
    pg.psql(
        "postgres",
        &format!("ALTER DATABASE {db} SET log_min_duration_statement = 0"),
    );
    if let Ok(ms) = std::env::var("SLUICE_BENCH_EXPLAIN") {
        for setting in [
            "session_preload_libraries = 'auto_explain'".to_string(),
            format!("auto_explain.log_min_duration = {}", ms.trim()),
            "auto_explain.log_analyze = on".to_string(),
        ] {
            pg.psql("postgres", &format!("ALTER DATABASE {db} SET {setting}"));
        }
    }
}

/// The shared cluster's log from byte `start` on.
fn pg_log_since(start: u64) -> String {
    let log = std::fs::read(Postgres::shared().log_path()).unwrap_or_default();
    String::from_utf8_lossy(&log[(start as usize).min(log.len())..]).into_owned()
}

fn pg_log_len() -> u64 {
    std::fs::metadata(Postgres::shared().log_path())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Table rows for the server-side SQL time per statement kind, largest first.
fn server_rows(table: &mut Vec<(String, String, String)>, server: &BTreeMap<String, (u64, f64)>) {
    let mut kinds: Vec<(&String, &(u64, f64))> = server.iter().collect();
    kinds.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    for (kind, (count, ms)) in kinds.iter().take(7) {
        table.push((
            format!("    SQL {kind}"),
            format!("{count:>10} stmts"),
            format!("{:.2} s on the server (parse+bind+execute)", ms / 1000.0),
        ));
    }
}

fn server_json(server: &BTreeMap<String, (u64, f64)>) -> Json {
    server
        .iter()
        .map(|(k, (c, ms))| (k.clone(), json!({"count": c, "ms": ms})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Sums `duration: X ms  <phase> <name>: <sql>` lines of a PostgreSQL log slice.
fn parse_pg_durations(text: &str) -> BTreeMap<String, (u64, f64)> {
    let mut out: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.split("duration: ").nth(1) else {
            continue;
        };
        let Some((ms, tail)) = rest.split_once(" ms") else {
            continue;
        };
        let Ok(ms) = ms.trim().parse::<f64>() else {
            continue;
        };
        let tail = tail.trim_start();
        if tail.starts_with("plan:") {
            continue; // auto_explain's line; the statement's own line has the same duration
        }
        // "statement: SQL" | "parse <name>: SQL" | "bind <name>: SQL" | "execute <name>: SQL";
        // the phases of one statement kind are summed.
        let sql = tail.split_once(": ").map_or(tail, |(_, sql)| sql);
        let key = statement_kind(sql);
        let e = out.entry(key).or_default();
        e.0 += 1;
        e.1 += ms;
    }
    out
}

async fn in_process(
    topic: &str,
    records: &[Record],
    batch: usize,
    expected: &BTreeMap<i64, i64>,
) -> InProcess {
    use sluice::checkpoint::{claim, Position, TopicPartition};
    let url = Postgres::database();
    log_statement_durations(&url);
    let doc =
        json!({"name": random_name("inproc"), "config": connector_config(topic, &url, batch, &[])});
    let config = sluice::config::ConnectorConfig::from_json(&doc.to_string(), "bench", &|_| None)
        .expect("connector config");
    let log_start = pg_log_len();
    let mut sink = sluice::sink::Sink::open(&config).await.expect("sink");
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition {
            topic: topic.to_string(),
            partition: p,
        })
        .collect();
    let claims = claim(sink.db(), &config.group_id(), "bench", &tps)
        .await
        .expect("claim");
    let epochs: HashMap<i32, i64> = claims.iter().map(|c| (c.tp.partition, c.epoch)).collect();
    // What the target checkpoint holds per partition: each commit's `previous`.
    let mut committed: HashMap<i32, i64> = HashMap::new();
    let (mut decode_secs, mut apply_secs) = (0f64, 0f64);
    for chunk in records.chunks(batch) {
        let t = Instant::now();
        let mut events = Vec::with_capacity(chunk.len());
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in chunk {
            let raw = sluice::event::RawRecord {
                coordinates: sluice::event::Coordinates {
                    topic: topic.to_string(),
                    partition: r.partition,
                    offset: r.offset,
                },
                key: Some(r.key.clone()),
                value: Some(r.value.clone()),
                headers: Vec::new(),
                timestamp_ms: None,
            };
            match sluice::decode::decode(&raw, &config.decode).expect("decode") {
                sluice::event::Decoded::Change(e) => events.push(*e),
                other => panic!("not a change: {other:?}"),
            }
            next.insert(r.partition, r.offset + 1);
        }
        decode_secs += t.elapsed().as_secs_f64();
        let positions: Vec<Position> = next
            .into_iter()
            .map(|(p, o)| Position {
                tp: TopicPartition {
                    topic: topic.to_string(),
                    partition: p,
                },
                next_offset: o,
                epoch: epochs[&p],
                previous: committed.get(&p).copied(),
                watermark_ms: None,
            })
            .collect();
        committed.extend(positions.iter().map(|p| (p.tp.partition, p.next_offset)));
        let t = Instant::now();
        sink.apply_batch(&events, &positions).await.expect("apply");
        apply_secs += t.elapsed().as_secs_f64();
    }
    sink.db().close().await;
    // Give the server a moment to flush its log.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let slice = pg_log_since(log_start);
    let (verified, _) = verify(&url, expected).await;
    InProcess {
        batch_size: batch,
        decode_secs,
        apply_secs,
        server: parse_pg_durations(&slice),
        verified,
    }
}

// ------------------------------------------------------------------------------------------

fn main() {
    let s = Settings::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n = s.events;
    eprintln!(
        "pipeline bench: {n} events, batch sizes {:?}, sluice binary {}",
        s.batch_sizes,
        sluice_binary().display()
    );
    assert!(
        sluice_binary().is_file(),
        "no sluice binary at {} (cargo bench builds it; or set SLUICE_BENCH_BIN)",
        sluice_binary().display()
    );

    // Generate and publish.
    let t = Instant::now();
    let events = generate(n);
    let expected = final_state(&events);
    let schema = envelope_schema();
    let mut records: Vec<Record> = events
        .iter()
        .enumerate()
        .map(|(i, e)| record(&schema, i, e))
        .collect();
    let mix = |op: Op| events.iter().filter(|e| e.op == op).count();
    let (c, u, d) = (mix(Op::C), mix(Op::U), mix(Op::D));
    let bytes: usize = records.iter().map(|r| r.key.len() + r.value.len()).sum();
    eprintln!(
        "generated {n} events (c {c} / u {u} / d {d}), {:.1} MB, in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let tansu = Tansu::start();
    let topic = random_name("bench_orders");
    tansu.create_topic(&topic, PARTITIONS);
    let t = Instant::now();
    rt.block_on(publish(&tansu.bootstrap(), &topic, &mut records));
    let publish_secs = t.elapsed().as_secs_f64();
    eprintln!("published in {publish_secs:.1} s");

    // 1. raw consume (and consume + decode).
    let consumed = raw_consume(&s, &tansu.bootstrap(), &topic, n, false);
    eprintln!("raw consume: {:.1} s", consumed.secs);
    let consumed_decoded = raw_consume(&s, &tansu.bootstrap(), &topic, n, true);
    assert_eq!(consumed_decoded.decoded, n, "every record decodes");
    eprintln!("consume + decode: {:.1} s", consumed_decoded.secs);

    // 2. raw binary COPY.
    let final_rows: Vec<(i64, i64)> = expected.iter().map(|(k, v)| (*k, *v)).collect();
    let event_rows: Vec<(i64, i64)> = events.iter().map(|e| (e.id, e.image)).collect();
    let copy_batch = s.batch_sizes[0];
    let (copy_final, copy_all, copy_batched) = rt.block_on(async {
        let url = Postgres::database();
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        for sql in [
            create_table("copy_final", true),
            create_table("copy_events", false),
            create_table("copy_batched", false),
        ] {
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect("DDL");
        }
        conn.close().await.ok();
        let f = copy_in(&url, "copy_final", &[copy_stream(final_rows.iter())]).await;
        let a = copy_in(&url, "copy_events", &[copy_stream(event_rows.iter())]).await;
        let batched: Vec<Vec<u8>> = event_rows
            .chunks(copy_batch)
            .map(|c| copy_stream(c.iter()))
            .collect();
        let b = copy_in(&url, "copy_batched", &batched).await;
        (f, a, b)
    });
    assert_eq!(copy_final.rows as usize, final_rows.len());
    assert_eq!(copy_all.rows as usize, n);
    eprintln!(
        "COPY: final rows {:.2} s, all events {:.2} s, per batch {:.2} s",
        copy_final.secs, copy_all.secs, copy_batched.secs
    );

    // 3. sluice end-to-end.
    let mut runs = Vec::new();
    for &batch in &s.batch_sizes {
        let r = run_sluice(&rt, &s, &tansu.bootstrap(), &topic, batch, &expected);
        eprintln!(
            "sluice batch.size={batch}: {:.1} s, peak RSS {:.1} MB, {}",
            r.secs, r.peak_rss_mb, r.detail
        );
        assert!(r.verified, "sluice's target differs: {}", r.detail);
        runs.push(r);
    }

    // 4. in process.
    let mut inproc = Vec::new();
    if s.in_process {
        for &batch in &s.batch_sizes {
            let r = rt.block_on(in_process(&topic, &records, batch, &expected));
            assert!(r.verified, "in-process apply: target differs");
            eprintln!(
                "in process batch.size={batch}: decode {:.1} s, apply {:.1} s",
                r.decode_secs, r.apply_secs
            );
            inproc.push(r);
        }
    }
    drop(tansu);

    // Report.
    let rate = |count: f64, secs: f64| count / secs.max(1e-9);
    let consume_rps = rate(n as f64, consumed.secs);
    let copy_events_rps = rate(n as f64, copy_all.secs);
    let ceiling = consume_rps.min(copy_events_rps);
    let mb = bytes as f64 / 1e6;
    let mut table = vec![
        (
            "publish (idempotent producer)".to_string(),
            format!("{:>10.0} rec/s", rate(n as f64, publish_secs)),
            format!("{publish_secs:.2} s, {:.1} MB/s", mb / publish_secs),
        ),
        (
            "raw consume".into(),
            format!("{consume_rps:>10.0} rec/s"),
            format!(
                "{:.2} s, {:.1} MB/s",
                consumed.secs,
                consumed.bytes as f64 / 1e6 / consumed.secs
            ),
        ),
        (
            "consume + sluice decode (1 thread)".into(),
            format!("{:>10.0} rec/s", rate(n as f64, consumed_decoded.secs)),
            format!("{:.2} s", consumed_decoded.secs),
        ),
        (
            format!("COPY final rows ({} rows, PK)", final_rows.len()),
            format!(
                "{:>10.0} rows/s",
                rate(copy_final.rows as f64, copy_final.secs)
            ),
            format!("{:.2} s", copy_final.secs),
        ),
        (
            format!("COPY every event's row ({n} rows)"),
            format!("{copy_events_rps:>10.0} rows/s"),
            format!("{:.2} s", copy_all.secs),
        ),
        (
            format!("COPY every event's row, {copy_batch}/COPY"),
            format!("{:>10.0} rows/s", rate(n as f64, copy_batched.secs)),
            format!("{:.2} s", copy_batched.secs),
        ),
        (
            "ceiling = min(consume, COPY events)".into(),
            format!("{ceiling:>10.0} ev/s"),
            String::new(),
        ),
    ];
    let mut json_runs = Vec::new();
    for r in &runs {
        let eps = rate(n as f64, r.secs);
        let ratio = eps / ceiling;
        let (rate_ok, rss_ok) = (ratio >= RATIO_TARGET, r.peak_rss_mb <= RSS_TARGET_MB);
        table.push((
            format!("sluice e2e batch.size={}", r.batch_size),
            format!("{eps:>10.0} ev/s"),
            format!(
                "{:.2} s, steady {:.0} ev/s, ratio {ratio:.2} ({}), peak RSS {:.1} MB ({}), \
                 CPU {:.1} s, machine busy {:.0}%",
                r.secs,
                rate(r.steady_events, r.steady_secs),
                if rate_ok { "met" } else { "MISSED" },
                r.peak_rss_mb,
                if rss_ok { "met" } else { "MISSED" },
                r.cpu_secs,
                r.machine_busy * 100.0
            ),
        ));
        let server_ms: f64 = r.server.values().map(|v| v.1).sum();
        table.push((
            "  (from /metrics)".into(),
            String::new(),
            format!(
                "{:.0} batches, decode+apply {:.2} s (apply_batch {:.2} s, of it SQL on the \
                 server {:.2} s), startup {:.2} s, rest {:.2} s",
                r.batches,
                r.batch_secs,
                r.commit_secs,
                server_ms / 1000.0,
                r.secs - r.steady_secs,
                r.secs - r.batch_secs - (r.secs - r.steady_secs)
            ),
        ));
        server_rows(&mut table, &r.server);
        json_runs.push(
            json!({"batch_size": r.batch_size, "secs": r.secs, "events_per_s": eps,
            "steady_events_per_s": rate(r.steady_events, r.steady_secs),
            "startup_secs": r.secs - r.steady_secs, "peak_rss_mb": r.peak_rss_mb,
            "cpu_secs": r.cpu_secs, "machine_busy": r.machine_busy, "batches": r.batches,
            "batch_duration_secs": r.batch_secs, "commit_duration_secs": r.commit_secs,
            "server_sql_secs": server_ms / 1000.0, "server_ms_by_statement": server_json(&r.server),
            "ratio": ratio, "rate_target_met": rate_ok, "rss_target_met": rss_ok,
            "verified": r.verified}),
        );
    }
    let mut json_inproc = Vec::new();
    for r in &inproc {
        let server_ms: f64 = r.server.values().map(|v| v.1).sum();
        table.push((
            format!("in process batch.size={}", r.batch_size),
            format!(
                "{:>10.0} ev/s",
                rate(n as f64, r.decode_secs + r.apply_secs)
            ),
            format!(
                "decode {:.2} s ({:.0} ev/s), apply_batch {:.2} s ({:.0} ev/s), of it SQL on \
                 the server {:.2} s",
                r.decode_secs,
                rate(n as f64, r.decode_secs),
                r.apply_secs,
                rate(n as f64, r.apply_secs),
                server_ms / 1000.0
            ),
        ));
        server_rows(&mut table, &r.server);
        json_inproc.push(json!({"batch_size": r.batch_size, "decode_secs": r.decode_secs,
            "decode_events_per_s": rate(n as f64, r.decode_secs), "apply_secs": r.apply_secs,
            "apply_events_per_s": rate(n as f64, r.apply_secs), "server_sql_secs": server_ms / 1000.0,
            "server_ms_by_statement": server_json(&r.server)}));
    }
    println!();
    println!(
        "sluice pipeline benchmark: {n} events (c {c} / u {u} / d {d}), {PARTITIONS} partitions, \
         {:.1} MB of JSON, {} final rows",
        mb,
        final_rows.len()
    );
    let w0 = table.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (a, b, c) in &table {
        println!("  {a:<w0$}  {b:>16}  {c}");
    }
    let best = runs
        .iter()
        .map(|r| rate(n as f64, r.secs))
        .fold(0.0, f64::max);
    let report = json!({"bench": "pipeline", "events": n, "partitions": PARTITIONS,
        "mix": {"c": c, "u": u, "d": d}, "final_rows": final_rows.len(), "bytes": bytes,
        "publish": {"secs": publish_secs, "records_per_s": rate(n as f64, publish_secs)},
        "raw_consume": {"records": consumed.records, "bytes": consumed.bytes, "secs": consumed.secs,
            "records_per_s": consume_rps, "mb_per_s": consumed.bytes as f64 / 1e6 / consumed.secs},
        "consume_decode": {"secs": consumed_decoded.secs, "records_per_s": rate(n as f64, consumed_decoded.secs)},
        "copy_final_rows": {"rows": copy_final.rows, "secs": copy_final.secs, "rows_per_s": rate(copy_final.rows as f64, copy_final.secs)},
        "copy_all_events": {"rows": copy_all.rows, "secs": copy_all.secs, "rows_per_s": copy_events_rps},
        "copy_per_batch": {"batch_size": copy_batch, "rows": copy_batched.rows, "secs": copy_batched.secs, "rows_per_s": rate(copy_batched.rows as f64, copy_batched.secs)},
        "ceiling_events_per_s": ceiling,
        "consumer_props": s.consumer_props.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "connector_props": s.connector_props.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "sluice": json_runs, "in_process": json_inproc,
        "best_ratio": best / ceiling,
        "targets": {"ratio": RATIO_TARGET, "rss_mb": RSS_TARGET_MB,
            "rate_met": best / ceiling >= RATIO_TARGET,
            "rss_met": runs.iter().all(|r| r.peak_rss_mb <= RSS_TARGET_MB)}});
    println!("{report}");
    if !s.bench {
        eprintln!(
            "(smoke run under cargo test: targets not checked; run `cargo bench --bench pipeline`)"
        );
    }
}
