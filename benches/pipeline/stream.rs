//! The generated stream and its Debezium JSON records, published to the broker.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    C,
    U,
    D,
}

/// One source change. `seq` is its position (1-based) and the `version` column it writes;
/// `image` is the seq of the row image it carries (its own for c/u, the last write for d).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) op: Op,
    pub(crate) id: i64,
    pub(crate) seq: i64,
    pub(crate) image: i64,
}

pub(crate) struct Rng(pub(crate) u64);

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

pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// ~70% creates of new keys, ~25% updates and ~5% deletes of random live keys; with `hot`
/// keys, creates only while fewer keys than that are live, otherwise 25 updates to 5 deletes
/// of random live keys, each delete refilled by a create (an update-heavy table: about 71 %
/// updates, 14 % deletes, 15 % creates).
pub(crate) fn generate(n: usize, hot: Option<usize>) -> Vec<Event> {
    let mut rng = Rng(0x5eed_2024);
    let mut live: Vec<i64> = Vec::new();
    let mut last: Vec<i64> = vec![0]; // last write's seq per id; ids are 1, 2, ...
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let seq = i as i64 + 1;
        let r = match hot {
            Some(keys) if live.len() < keys => 0,
            Some(_) => 70 + rng.below(30),
            None => rng.below(100),
        };
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
pub(crate) fn final_state(events: &[Event]) -> BTreeMap<i64, i64> {
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
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) account_id: i32,
    pub(crate) quantity: i16,
    /// numeric(12,2), unscaled.
    pub(crate) amount: i64,
    /// numeric(10,4), unscaled.
    pub(crate) price: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) description: String,
    pub(crate) status: &'static str,
    pub(crate) active: bool,
    pub(crate) verified: Option<bool>,
    /// timestamp, µs since the Unix epoch.
    pub(crate) created_at: i64,
    /// timestamptz, µs since the Unix epoch.
    pub(crate) updated_at: i64,
    pub(crate) version: i64,
    pub(crate) note: Option<String>,
}

pub(crate) const FIRST: [&str; 16] = [
    "Anne", "Bruno", "Chiara", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Marek", "Nora", "Oskar", "Priya",
];
pub(crate) const LAST: [&str; 16] = [
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
pub(crate) const WORDS: [&str; 24] = [
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
pub(crate) const STATUS: [&str; 5] = ["new", "paid", "packed", "shipped", "delivered"];

pub(crate) fn row(id: i64, seq: i64) -> Row {
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

pub(crate) fn row_fields() -> Json {
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

pub(crate) fn envelope_schema() -> String {
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
pub(crate) fn decimal_bytes(v: i64) -> Vec<u8> {
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

pub(crate) fn zoned(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub(crate) fn row_json(r: &Row) -> Json {
    let b64 = |v: i64| base64::engine::general_purpose::STANDARD.encode(decimal_bytes(v));
    json!({"id": r.id, "account_id": r.account_id, "quantity": r.quantity,
        "amount": b64(r.amount), "price": b64(r.price), "name": r.name, "email": r.email,
        "description": r.description, "status": r.status, "active": r.active,
        "verified": r.verified, "created_at": r.created_at, "updated_at": zoned(r.updated_at),
        "version": r.version, "note": r.note})
}

/// A produced record: the bytes, its partition, and (after delivery) its offset.
pub(crate) struct Record {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

/// How keys are spread over the partitions.
#[derive(Clone, Debug)]
pub(crate) enum Partitioning {
    /// Kafka's default partitioner (murmur2 of the key), as Kafka Connect's producer does:
    /// about equal partitions.
    Keyed,
    /// Each key to a partition with these weights (per cent, one per partition), still one
    /// partition per key so its events stay in order: the partitions end at different times.
    Skewed(Vec<u32>),
}

impl Partitioning {
    /// The partition of a record with this (serialised) key.
    pub(crate) fn partition(&self, key: &[u8]) -> i32 {
        let hash = support::corpus::murmur2(key) & 0x7fff_ffff;
        match self {
            Partitioning::Keyed => hash as i32 % PARTITIONS,
            Partitioning::Skewed(weights) => {
                let total: u32 = weights.iter().sum();
                let mut point = hash % total;
                for (p, w) in weights.iter().enumerate() {
                    if point < *w {
                        return p as i32;
                    }
                    point -= w;
                }
                PARTITIONS - 1
            }
        }
    }
}

pub(crate) fn record(schema: &str, index: usize, e: &Event, parts: &Partitioning) -> Record {
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
    let partition = parts.partition(&key);
    Record {
        key,
        value,
        partition,
        offset: -1,
    }
}

pub(crate) fn debezium_headers() -> OwnedHeaders {
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
pub(crate) async fn publish(bootstrap: &str, topic: &str, records: &mut [Record]) {
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
