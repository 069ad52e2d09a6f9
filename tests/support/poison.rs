//! The poison corpus: bad Kafka records for every stage (decode, transform, resolve, write)
//! spread through good ones on partition 0 of one topic, for the dead-letter tests. Keys and
//! values are Debezium JSON with schemas for one table, `items`. [`stream`] gives the records
//! in publish order, each bad one with the stage that must dead-letter it and a piece of its
//! message; [`expected_rows`] the table the good ones leave; [`connector_config`] and the
//! `TABLE_DDL_*` constants the setup they fit. What the cases rely on:
//!
//! - A bad write uses an id no later record touches: the sink compacts a batch per key, and on
//!   a replay the version guard drops an older change, so either could hide it.
//! - Source time rises a second per envelope and the builder keeps the partition's late-data
//!   watermark as `resolve::late::observe` does, so only the records built late are late.
//! - The first and last records are bad, no two bad ones adjacent; about 35% are bad, under the
//!   default `sluice.errors.max.ratio` (0.5, judged from 100 records on).

use base64::Engine as _;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, VecDeque};

/// Where the `missing_table` case goes: absent (the replay test creates it, then replays).
pub const MISSING_TABLE: &str = "no_such_table";

/// `sluice.late.tolerance.ms` of [`connector_config`].
pub const LATE_TOLERANCE_MS: i64 = 60_000;

/// The target table on PostgreSQL, created before the run (`schema.evolution=none`). The
/// catalog reads it back as `integer`, `character varying(10)`, `numeric(5,2)`, `text`.
pub const TABLE_DDL_POSTGRES: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, \
    name VARCHAR(10) NOT NULL, qty INTEGER CHECK (qty >= 0), price NUMERIC(5,2), code TEXT UNIQUE)";

/// The same on SQLite. `id INTEGER PRIMARY KEY` is the rowid, which would make a NULL key a
/// new id: the case `key_field_missing` proves sluice refuses a NULL key field before. SQLite
/// enforces neither VARCHAR lengths nor NUMERIC precision or type: those cases are
/// PostgreSQL-only.
pub const TABLE_DDL_SQLITE: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, \
    name VARCHAR(10) NOT NULL, qty INTEGER CHECK (qty >= 0), price NUMERIC(5,2), code TEXT UNIQUE)";

/// The connector's flat `config` object (the test adds `name`): `qty` comes as text and is cast
/// to int32; changes over a minute behind the partition's newest source time are dead-lettered.
pub fn connector_config(topic: &str, url: &str) -> Json {
    json!({"topics": topic, "connection.url": url, "errors.tolerance": "all",
        "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
        "schema.evolution": "none", "table.name.format": "${source.table}",
        "transforms": "qtyInt", "transforms.qtyInt.spec": "qty:int32",
        "transforms.qtyInt.type": "org.apache.kafka.connect.transforms.Cast$Value",
        "sluice.late.tolerance.ms": LATE_TOLERANCE_MS.to_string(),
        "sluice.late.policy": "dead_letter"})
}

/// One record to publish, in order.
#[derive(Debug, Clone)]
pub struct Record {
    /// Key bytes (`None`: a null key).
    pub key: Option<Vec<u8>>,
    /// Value bytes (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Why it must be dead-lettered; `None` for a good record.
    pub bad: Option<Bad>,
}

/// What must become of a bad record.
#[derive(Debug, Clone)]
pub struct Bad {
    /// The case, unique in the corpus.
    pub name: &'static str,
    /// The stage that refuses it: `decode`, `transform`, `resolve` or `write`.
    pub stage: &'static str,
    /// A piece of the dead letter's message (compare case-insensitively) on the stream's target.
    pub reason_contains: &'static str,
    /// Only PostgreSQL refuses it; such cases are left out of the SQLite stream.
    pub postgres_only: bool,
}

/// A row of `items`: name, qty, price as text (`12.50`; SQLite gives a REAL back) and code.
pub type ExpectedRow = (String, Option<i64>, Option<String>, Option<String>);

/// The stream in publish order, for PostgreSQL (`true`) or SQLite.
pub fn stream(postgres: bool) -> Vec<Record> {
    build(postgres).records
}

/// id -> row once every good record of [`stream`] is applied.
pub fn expected_rows(postgres: bool) -> BTreeMap<i64, ExpectedRow> {
    let mut rows = BTreeMap::new();
    for (id, i) in build(postgres).rows {
        let qty = i.qty.map(|q| q.parse::<i64>().expect("qty"));
        rows.insert(id, (i.name, qty, i.price, i.code));
    }
    rows
}

/// A row of `items` at the source: `qty` is text (the Cast makes it int32), `price` decimal text.
#[derive(Debug, Clone)]
struct Item {
    id: i64,
    name: String,
    qty: Option<String>,
    price: Option<String>,
    code: Option<String>,
}

impl Item {
    /// The first version of item `id` (ids stay below 1000, so prices fit NUMERIC(5,2)).
    fn new(id: i64) -> Item {
        Item {
            id,
            name: format!("item-{id}"),
            qty: Some(id.to_string()),
            price: Some(format!("{id}.{:02}", id * 37 % 100)),
            code: Some(format!("C-{id}")),
        }
    }

    /// Its `n`th update: name, qty and price change; the code stays, so no good rows collide.
    fn updated(&self, n: i64) -> Item {
        Item {
            name: format!("upd{n}-{}", self.id),
            qty: Some((self.id * 10 + n).to_string()),
            price: Some(format!("{}.{:02}", self.id, 99 - n)),
            ..self.clone()
        }
    }

    /// The row image of an envelope payload.
    fn payload(&self) -> Json {
        let price = self.price.as_deref().map(decimal);
        let (name, qty, code) = (&self.name, &self.qty, &self.code);
        json!({"id": self.id, "name": name, "qty": qty, "price": price, "code": code})
    }
}

/// A Connect field schema.
fn field(name: &str, kind: &str, optional: bool) -> Json {
    json!({"type": kind, "optional": optional, "field": name})
}

/// The value schema of an `items` change, as Debezium's PostgreSQL connector writes it.
fn envelope_schema() -> Json {
    let row = |name: &str| {
        json!({"type": "struct", "optional": true, "name": "shop.public.items.Value", "field": name,
            "fields": [field("id", "int32", false), field("name", "string", false),
                field("qty", "string", true),
                {"type": "bytes", "optional": true, "field": "price", "version": 1,
                 "name": "org.apache.kafka.connect.data.Decimal",
                 "parameters": {"scale": "2", "connect.decimal.precision": "5"}},
                field("code", "string", true)]})
    };
    let text = "version connector name snapshot db schema table".split(' ');
    let mut source: Vec<Json> = text.map(|n| field(n, "string", true)).collect();
    source.extend(["ts_ms", "txId", "lsn"].map(|n| field(n, "int64", true)));
    json!({"type": "struct", "optional": false, "name": "shop.public.items.Envelope", "fields": [
        row("before"), row("after"),
        {"type": "struct", "optional": false, "field": "source", "fields": source,
         "name": "io.debezium.connector.postgresql.Source"},
        field("op", "string", false), field("ts_ms", "int64", true),
        {"type": "struct", "optional": true, "field": "transaction", "name": "event.block",
         "fields": [field("id", "string", false), field("total_order", "int64", false)]}]})
}

/// A record key: JsonConverter with schema, a struct of `fields` holding `payload`.
fn key_of(fields: Json, payload: Json) -> Vec<u8> {
    let schema = json!({"type": "struct", "optional": false, "name": "shop.public.items.Key",
                        "fields": fields});
    bytes(&json!({"schema": schema, "payload": payload}))
}

/// The key of item `id`.
fn key(id: i64) -> Vec<u8> {
    key_of(json!([field("id", "int32", false)]), json!({ "id": id }))
}

/// Connect Decimal bytes of `12.50` at scale 2: the shortest two's complement of 1250, base64.
fn decimal(text: &str) -> Json {
    let unscaled: i64 = text.replace('.', "").parse().expect("decimal");
    let be = unscaled.to_be_bytes();
    // Leading bytes that only repeat the sign bit are dropped.
    let sign_only = |&i: &usize| matches!((be[i], be[i + 1] >= 0x80), (0, false) | (0xff, true));
    let skip = (0..7).take_while(sign_only).count();
    Json::String(base64::engine::general_purpose::STANDARD.encode(&be[skip..]))
}

/// A JSON value as record bytes.
fn bytes(value: &Json) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// The field schemas of the `after` image (the second envelope field) in an envelope value.
fn after_schema(value: &mut Json) -> &mut Vec<Json> {
    let after = &mut value["schema"]["fields"][1]["fields"];
    after.as_array_mut().expect("after fields")
}

/// `value` with its `@@` marker replaced by bytes that are not UTF-8.
fn not_utf8(value: Vec<u8>) -> Vec<u8> {
    let at = value.windows(2).position(|w| w == b"@@").expect("marker");
    [&value[..at], &[0xff, 0xfe], &value[at + 2..]].concat()
}

/// Headers some bad records carry (kept byte for byte): text, a null value, non-UTF-8 bytes.
fn headers() -> Vec<(String, Option<Vec<u8>>)> {
    vec![
        ("trace-id".into(), Some(b"poison-7f3a".to_vec())),
        ("null-value".into(), None),
        ("not-utf8".into(), Some(vec![0xff, 0xfe, 0x00, 0xc3, 0x28])),
    ]
}

/// A good record.
enum Good {
    /// `r`, `c` or `u` to this row image (`u` carries the current row as `before`).
    Row(&'static str, Item),
    /// `d` of the row, its current image as `before`.
    Delete(i64),
    /// The tombstone after a delete: a null value, skipped, not an error.
    Tombstone(i64),
    /// A create whose `source.ts_ms` is this many ms behind the watermark, or null (`None`).
    Behind(Item, Option<i64>),
}

/// The good records: a snapshot of items 1-15, creates of 16-70 with an update every fifth
/// create, NULLs, two deletes (one with its tombstone), a create without source time (71) and
/// one exactly on the tolerance edge (72). Items 2, 4, 6, 9 and 12 never change (cases use them).
fn good_plan() -> VecDeque<Good> {
    let mut plan: VecDeque<Good> = (1..=15).map(|id| Good::Row("r", Item::new(id))).collect();
    for id in 16..=70 {
        let mut item = Item::new(id);
        // One NULL each in qty, price and code.
        (item.qty, item.price) = (
            item.qty.filter(|_| id != 27),
            item.price.filter(|_| id != 28),
        );
        item.code = item.code.filter(|_| id != 29);
        plan.push_back(Good::Row("c", item));
        if id % 5 == 0 {
            plan.push_back(Good::Row("u", Item::new(id - 10).updated(1)));
        }
        match id {
            30 => plan.extend([Good::Delete(7), Good::Tombstone(7)]),
            45 => plan.push_back(Good::Behind(Item::new(71), None)),
            55 => plan.push_back(Good::Behind(Item::new(72), Some(LATE_TOLERANCE_MS))),
            60 => plan.push_back(Good::Delete(25)),
            65 => plan.push_back(Good::Row("u", Item::new(3).updated(2))),
            _ => {}
        }
    }
    plan
}

/// The record a case builds: a change envelope it spoils, or bytes in its place.
struct Draft {
    key: Option<Vec<u8>>,
    value: Json,
    /// The value bytes, when they are not the envelope's.
    raw: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Draft {
    fn edit(mut self, f: impl FnOnce(&mut Json)) -> Draft {
        f(&mut self.value);
        self
    }

    fn after(self, column: &str, value: Json) -> Draft {
        self.edit(|v| v["payload"]["after"][column] = value)
    }

    /// Routes the change to table `name` (`source.table`).
    fn table(self, name: &str) -> Draft {
        self.edit(|v| v["payload"]["source"]["table"] = json!(name))
    }

    fn key(mut self, key: Option<Vec<u8>>) -> Draft {
        self.key = key;
        self
    }

    /// The key with the `id` int32 schema and this payload.
    fn id_key(self, payload: Json) -> Draft {
        self.key(Some(key_of(json!([field("id", "int32", false)]), payload)))
    }

    /// The value bytes `f` makes of the envelope's.
    fn raw(mut self, f: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Draft {
        self.raw = Some(f(bytes(&self.value)));
        self
    }

    fn headers(mut self) -> Draft {
        self.headers = headers();
        self
    }
}

/// Builds the stream in order, with the state the cases depend on.
#[derive(Default)]
struct Builder {
    records: Vec<Record>,
    /// Good records still to publish.
    plan: VecDeque<Good>,
    /// The rows the good records published so far leave.
    rows: BTreeMap<i64, Item>,
    /// Envelopes built so far; each is a second and 64 LSN bytes after the previous one.
    tick: i64,
    /// The partition's late-data watermark as sluice keeps it: the newest `source.ts_ms` of the
    /// changes that reached the resolve stage on time (decoded and transformed).
    watermark: i64,
}

impl Builder {
    /// `source.ts_ms` of the last envelope built (one second apart).
    fn now(&self) -> i64 {
        1_700_000_000_000 + self.tick * 1000
    }

    /// A change envelope of `op` with these images, at the next source time and LSN.
    fn envelope(&mut self, op: &str, before: Option<&Item>, after: Option<&Item>) -> Json {
        self.tick += 1;
        let image = |item: Option<&Item>| item.map_or(Json::Null, Item::payload);
        let snapshot = if op == "r" { "true" } else { "false" };
        let source = json!({"version": "2.7.3.Final", "connector": "postgresql", "name": "shop",
            "ts_ms": self.now(), "snapshot": snapshot, "db": "shop", "schema": "public",
            "table": "items", "txId": 900 + self.tick, "lsn": 33_000_000 + self.tick * 64});
        json!({"schema": envelope_schema(), "payload": {"before": image(before),
            "after": image(after), "source": source, "op": op, "ts_ms": self.now() + 7,
            "transaction": null}})
    }

    /// A bad case's change: create fresh item `id` (`c`), or update (`u`) or delete a live one.
    fn change(&mut self, op: &str, id: i64) -> Draft {
        let live = self.rows.get(&id).cloned();
        let value = match (op, live) {
            ("c", _) => self.envelope("c", None, Some(&Item::new(id))),
            ("u", Some(row)) => self.envelope("u", Some(&row), Some(&row.updated(9))),
            (_, row) => self.envelope(op, row.as_ref(), None),
        };
        Draft {
            key: Some(key(id)),
            value,
            raw: None,
            headers: vec![],
        }
    }

    fn create(&mut self, id: i64) -> Draft {
        self.change("c", id)
    }

    /// A valid change whose source time is `behind` ms older than the watermark.
    fn late(&mut self, op: &str, id: i64, behind: i64) -> Draft {
        let ts = self.watermark - behind;
        let draft = self.change(op, id);
        draft.edit(|v| v["payload"]["source"]["ts_ms"] = json!(ts))
    }

    /// Publishes the next `n` good records of the plan (fewer when it runs out).
    fn goods(&mut self, n: usize) {
        let next: Vec<Good> = self.plan.drain(..n.min(self.plan.len())).collect();
        for good in next {
            match good {
                Good::Row(op, item) => {
                    let before = self.rows.get(&item.id).filter(|_| op == "u").cloned();
                    let value = self.envelope(op, before.as_ref(), Some(&item));
                    self.good(key(item.id), Some(value), true);
                    self.rows.insert(item.id, item);
                }
                Good::Delete(id) => {
                    let before = self.rows.remove(&id);
                    let value = self.envelope("d", before.as_ref(), None);
                    self.good(key(id), Some(value), true);
                }
                Good::Tombstone(id) => self.good(key(id), None, false),
                Good::Behind(item, behind) => {
                    let ts = behind.map(|ms| self.watermark - ms);
                    let mut value = self.envelope("c", None, Some(&item));
                    value["payload"]["source"]["ts_ms"] = json!(ts);
                    self.good(key(item.id), Some(value), false);
                    self.rows.insert(item.id, item);
                }
            }
        }
    }

    /// Publishes a good record; a change at the newest source time `moves` the watermark.
    fn good(&mut self, key: Vec<u8>, value: Option<Json>, moves: bool) {
        if moves {
            self.watermark = self.watermark.max(self.now());
        }
        let (key, value) = (Some(key), value.map(|v| bytes(&v)));
        let (headers, bad) = (vec![], None);
        self.records.push(Record {
            key,
            value,
            headers,
            bad,
        });
    }
}

/// A bad case: stage, name, reason (`postgres|sqlite` when the targets word it differently;
/// nothing after `|`: SQLite accepts the record, PostgreSQL-only) and the record it builds.
type Case = (&'static str, &'static str, &'static str, Build);

/// How a case builds its record.
type Build = fn(&mut Builder) -> Draft;

// Pieces of dead-letter messages several cases share.
const NOT_JSON: &str = "malformed JSON in record value";
const KEY_NOT_JSON: &str = "malformed JSON in record key";
const LATE: &str = "late change for table items";

/// The corpus, in order; fresh ids: decode 1xx, transform 2xx, resolve 3xx, write 4xx. The
/// comments name the code that refuses each record (paths under `src/`).
#[rustfmt::skip]
const CASES: &[Case] = &[
    // decode/converter.rs `parse` (serde_json "expected value").
    ("decode", "value_not_json", NOT_JSON,
        |b| b.create(101).raw(|_| b"{\"schema\": oops".to_vec()).headers()),
    // envelope.rs `change` -> `key` -> converter.rs `parse` (keys are read after the images).
    ("decode", "key_not_json", KEY_NOT_JSON, |b| b.create(102).key(Some(b"{id: 102}".to_vec()))),
    // semantic.rs `convert` takes null whatever `optional` says; the NOT NULL refuses it.
    ("write", "name_null", "null value in column \"name\"|NOT NULL constraint failed: items.name",
        |b| b.create(401).after("name", Json::Null)),
    // converter.rs: EOF inside the JSON (the schema prefix cache refuses it too).
    ("decode", "truncated_value", NOT_JSON, |b| b.create(103).raw(|v| v[..v.len() / 2].to_vec())),
    // transform/cast.rs `cast`: neither integer text nor a float.
    ("transform", "qty_not_a_number", "field qty: cannot cast to Int32: not a number",
        |b| b.create(201).after("qty", json!("abc")).headers()),
    ("decode", "value_is_an_array", "value is an array, not an object",
        |b| b.create(104).raw(|_| b"[1,2,3]".to_vec())),
    ("write", "qty_check_violation", "violates check constraint|CHECK constraint failed",
        |b| b.create(402).after("qty", json!("-1"))),
    // No `payload`: converter.rs `split` takes the whole object for it, and it has no `op`.
    ("decode", "payload_missing", "value has no `op`",
        |b| b.create(105).edit(|v| *v = json!({"schema": v["schema"].take()}))),
    // pipeline/mod.rs `timeliness` -> resolve/late.rs `observe`: ts < watermark - tolerance.
    ("resolve", "late_create_an_hour_behind", LATE, |b| b.late("c", 301, 3_600_000).headers()),
    ("decode", "op_missing", "value has no `op`",
        |b| b.create(106).edit(|v| { v["payload"].as_object_mut().map(|p| p.remove("op")); })),
    // Good item 2 (read in the snapshot, never changed) has code C-2. In one batch both rows
    // share a statement (compaction is per key); isolation applies records in order, so this
    // one, the second, is refused.
    ("write", "code_unique_violation",
        "violates unique constraint|UNIQUE constraint failed: items.code",
        |b| b.create(403).after("code", json!("C-2"))),
    ("decode", "op_not_a_string", "`op` is a number, not a string",
        |b| b.create(107).edit(|v| v["payload"]["op"] = json!(5))),
    ("decode", "unknown_op", "unknown op \"x\"",
        |b| b.create(108).edit(|v| v["payload"]["op"] = json!("x"))),
    // sink/sql.rs `cast_type` casts to unbounded varchar; the column refuses (SQLSTATE 22001).
    ("write", "name_too_long", "value too long for type character varying(10)|",
        |b| b.create(404).after("name", json!("name-far-too-long"))),
    // envelope.rs `change`: r, c and u need an `after` image.
    ("decode", "create_without_after", "op \"c\" has no `after` row image",
        |b| b.create(109).edit(|v| v["payload"]["after"] = Json::Null)),
    // Decode ignores `connect.decimal.precision`; numeric(5,2) refuses it (SQLSTATE 22003).
    ("write", "price_numeric_overflow", "numeric field overflow|",
        |b| b.create(405).after("price", decimal("1234.56"))),
    ("decode", "after_not_a_struct", "field after: expected a struct object, got a string",
        |b| b.create(110).edit(|v| v["payload"]["after"] = json!("not a row"))),
    // Applied, it would overwrite item 4 (the next one deletes item 6).
    ("resolve", "late_update_of_a_live_row", LATE, |b| b.late("u", 4, 120_000)),
    ("decode", "string_in_int32_field", "field after.id: expected an integer, got a string",
        |b| b.create(111).after("id", json!("abc"))),
    // Typed text is sent as it is (sink/render.rs `text`): SQLSTATE 22P02. SQLite keeps it.
    ("write", "price_typed_as_string", "invalid input syntax for type numeric|",
        |b| b.create(406).after("price", json!("cheap"))
            .edit(|v| after_schema(v)[3] = field("price", "string", true))),
    ("decode", "int32_overflow", "field after.id: 3000000000 does not fit in int32",
        |b| b.create(112).after("id", json!(3_000_000_000_i64))),
    // Undeclared, so untyped (row.rs `typed`); render.rs `untyped` reads it for numeric(5,2)
    // as a number or Decimal base64, and it is neither: refused before any SQL.
    ("write", "price_untyped_not_a_decimal",
        "column price: decimal is neither a number nor base64",
        |b| b.create(407).after("price", json!("cheap")).edit(|v| { after_schema(v).remove(3); })),
    ("decode", "decimal_bad_base64", "field after.price: invalid base64",
        |b| b.create(113).after("price", json!("***"))),
    // Rust reads 1.5e999 as infinity (cast.rs `number`).
    ("transform", "qty_overflows_a_double", "cannot cast to Int32: inf is out of range",
        |b| b.create(203).after("qty", json!("1.5e999"))),
    ("decode", "unknown_schema_type", "field after.name: unknown schema type `int128`",
        |b| b.create(114).edit(|v| after_schema(v)[1] = field("name", "int128", false))),
    // sink/catalog.rs `evolve` (a create: the sink skips deletes for a missing table).
    ("write", "missing_table", "table no_such_table does not exist",
        |b| b.create(408).table(MISSING_TABLE)),
    ("write", "missing_column", "table items has no column \"color\" and schema.evolution=none",
        |b| b.create(409).after("color", json!("red"))
            .edit(|v| after_schema(v).push(field("color", "string", true)))),
    ("decode", "key_field_wrong_type", "field key.id: expected an integer, got a string",
        |b| b.create(116).id_key(json!({"id": "one-sixteen"}))),
    ("resolve", "late_delete_of_a_live_row", LATE, |b| b.late("d", 6, 86_400_000)),
    ("decode", "source_not_an_object", "field source: expected an object, got a string",
        |b| b.create(117).edit(|v| v["payload"]["source"] = json!("shop"))),
    // sink/ident.rs `Ident::new` (plan.rs `table_name`).
    ("write", "nul_in_table_name", "contains a NUL byte", |b| b.create(410).table("it\u{0}ems")),
    ("decode", "transaction_without_total_order",
        "field transaction.total_order: missing or not an integer",
        |b| b.create(118).edit(|v| v["payload"]["transaction"] = json!({"id": "571:33000000"}))),
    ("transform", "qty_out_of_int32", "cannot cast to Int32: 3000000000 is out of range",
        |b| b.create(204).after("qty", json!("3000000000"))),
    // decode/mod.rs `decode_old_key` (read for creates only).
    ("decode", "old_key_header_not_json", "malformed JSON in record header __debezium.oldkey",
        |b| Draft { headers: vec![("__debezium.oldkey".into(), Some(b"{\"schema\":".to_vec()))],
            ..b.create(119) }),
    ("write", "empty_table_name", "refused: empty name", |b| b.create(411).table("")),
    // serde_json: "invalid unicode code point". The key is not UTF-8 either.
    ("decode", "value_not_utf8", NOT_JSON,
        |b| b.create(120).after("name", json!("@@")).raw(not_utf8).key(Some(vec![0xfe, 0xff]))
            .headers()),
    // ident.rs refuses 70 bytes on PostgreSQL (63 at most); SQLite: a missing table.
    ("write", "table_name_too_long", "longer than PostgreSQL's 63-byte limit|does not exist",
        |b| b.create(412).table(&"t".repeat(70))),
    // Confluent Avro (magic byte, schema id, body) given to the JSON converter.
    ("decode", "confluent_avro_magic_byte", NOT_JSON,
        |b| b.create(121).key(Some(vec![0, 0, 0, 0, 0x29, 0xf0, 0x01]))
            .raw(|_| [&[0, 0, 0, 0, 0x2a, 0x02, 0x0a][..], b"widget"].concat())),
    // Quoted, not refused (ident.rs `quoted`): a missing table.
    ("write", "quote_and_semicolon_in_table_name", "does not exist and schema.evolution=none",
        |b| b.create(413).table("items\"; DROP TABLE items; --")),
    // Empty bytes, not null (a tombstone): serde_json "EOF while parsing a value".
    ("decode", "empty_value", NOT_JSON, |b| b.create(122).raw(|_| vec![])),
    // One ms past the tolerance (the good create exactly on the edge is on time).
    ("resolve", "late_by_1_ms_past_the_tolerance", LATE, |b| b.late("c", 302, 60_001)),
    // plan.rs `table_name` keeps an unresolved placeholder as it is: a missing table.
    ("write", "source_table_null", "placeholder has no value in this change",
        |b| b.create(414).edit(|v| v["payload"]["source"]["table"] = Json::Null)),
    // serde_json "trailing characters" (the schema prefix cache refuses them too).
    ("decode", "trailing_garbage", NOT_JSON,
        |b| b.create(123).raw(|v| [v, b" trailing".to_vec()].concat())),
    // plan.rs `plan` (primary.key.mode=record_key): a Kafka null key.
    ("write", "null_key", "no primary key: the record key is null or empty",
        |b| b.create(415).key(None).headers()),
    ("decode", "key_not_utf8", KEY_NOT_JSON,
        |b| b.create(124)
            .key(Some(not_utf8(br#"{"schema":null,"payload":{"id":"@@"}}"#.to_vec())))),
    // The Cast acts on `before` too (transform/mod.rs `rows`).
    ("transform", "bad_qty_in_the_before_image", "cannot cast to Int32: not a number",
        |b| b.change("u", 9).edit(|v| v["payload"]["before"]["qty"] = json!("seven"))),
    // The required key field is missing: decode makes it NULL (row.rs `typed`).
    ("write", "key_field_missing",
        "primary key field \"id\" is null",
        |b| b.create(417).id_key(json!({}))),
    // Key columns are written (plan.rs `plan`); items has no `pk` (catalog.rs `evolve`).
    ("write", "key_field_not_a_column", "table items has no column \"pk\"",
        |b| b.create(418)
            .key(Some(key_of(json!([field("pk", "int32", false)]), json!({"pk": 418}))))),
    // A field name with a NUL character reaches the message (PostgreSQL text cannot hold
    // NUL: deadletter/store.rs `storable` writes it as \u0000).
    ("decode", "nul_in_field_name", "field after.n\\u0000x: expected an integer, got a string",
        |b| b.create(125).edit(|v| {
            after_schema(v).push(field("n\u{0}x", "int32", true));
            v["payload"]["after"]["n\u{0}x"] = json!("abc");
        })),
    // The last record: an update of live item 12 that the CHECK refuses (12 keeps its row).
    ("write", "check_violation_updating_a_live_row",
        "violates check constraint|CHECK constraint failed",
        |b| b.change("u", 12).after("qty", json!("-3"))),
];

/// Publishes each case after its share of the good records: spread evenly, first and last bad.
fn build(postgres: bool) -> Builder {
    let plan = good_plan();
    let mut b = Builder {
        plan,
        ..Builder::default()
    };
    for (i, &(stage, name, reason, case)) in CASES.iter().enumerate() {
        let left = CASES.len() - i;
        if i > 0 {
            b.goods(((b.plan.len() + left / 2) / left).max(1));
        }
        let (pg, sqlite) = reason.split_once('|').unwrap_or((reason, reason));
        let postgres_only = sqlite.is_empty();
        if postgres_only && !postgres {
            continue;
        }
        let draft = case(&mut b);
        // A bad write passed the resolve stage on time: it moved the watermark.
        if stage == "write" {
            b.watermark = b.watermark.max(b.now());
        }
        let reason_contains = if postgres { pg } else { sqlite };
        let bad = Some(Bad {
            name,
            stage,
            reason_contains,
            postgres_only,
        });
        let value = Some(draft.raw.unwrap_or_else(|| bytes(&draft.value)));
        let (key, headers) = (draft.key, draft.headers);
        b.records.push(Record {
            key,
            value,
            headers,
            bad,
        });
    }
    b
}
