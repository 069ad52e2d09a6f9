//! The poison corpus: bad records at every stage (decode, transform, resolve, write) mixed
//! into a valid Debezium JSON stream (with schemas) of one table, `items`, on one partition.
//!
//! Each bad record names the stage that must refuse it and a piece of the reason. The valid
//! records create, update and delete items with increasing source times, so only the records
//! built to be late are late. [`connector_config`] is the config the stream is meant for.

mod envelope;

use envelope::{decimal_payload, item, key_bytes, row_fields, row_payload, Change, Item, T0};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// A record to publish, and what should become of it.
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// `None`: a good record.
    pub bad: Option<Bad>,
}

/// Why a record is bad and where it must be refused.
pub struct Bad {
    pub name: &'static str,
    /// `decode`, `transform`, `resolve` or `write`.
    pub stage: &'static str,
    /// A piece of the reason (case-insensitive).
    pub reason_contains: &'static str,
    /// Only PostgreSQL refuses it (SQLite does not enforce VARCHAR lengths or NUMERIC types).
    pub postgres_only: bool,
}

/// The table a bad record is routed to that does not exist (`sluice dlq replay` tests create
/// it and replay).
pub const MISSING_TABLE: &str = "no_such_table";

/// The target table, created before the run (`schema.evolution=none`).
pub const TABLE_DDL_POSTGRES: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, \
    name VARCHAR(10) NOT NULL, qty INTEGER CHECK (qty >= 0), price NUMERIC(5,2), code TEXT UNIQUE)";
/// The same for SQLite.
pub const TABLE_DDL_SQLITE: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, \
    name VARCHAR(10) NOT NULL, qty INTEGER CHECK (qty >= 0), price NUMERIC(5,2), code TEXT UNIQUE)";

/// The connector config (flat `config` object) the stream is meant for.
pub fn connector_config(topic: &str, url: &str) -> Json {
    json!({
        "topics": topic,
        "connection.url": url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "schema.evolution": "none",
        "table.name.format": "${source.table}",
        "errors.tolerance": "all",
        "transforms": "qtyInt",
        "transforms.qtyInt.type": "org.apache.kafka.connect.transforms.Cast$Value",
        "transforms.qtyInt.spec": "qty:int32",
        "sluice.late.tolerance.ms": "60000",
        "sluice.late.policy": "dead_letter",
    })
}

/// Builds the stream in order, keeping the source clock and the expected rows.
struct Builder {
    records: Vec<Record>,
    clock: i64,
    postgres: bool,
}

impl Builder {
    fn change(&mut self, op: &'static str, after: Option<&Item>) -> Change {
        self.clock += 1;
        Change {
            op,
            table: "items".into(),
            ts_ms: T0 + self.clock * 1000,
            lsn: 1_000_000 + self.clock * 100,
            fields: row_fields(),
            before: Json::Null,
            after: after.map(row_payload).unwrap_or(Json::Null),
        }
    }

    /// A good change (`r`, `c`, `u`) of item `id`.
    fn good(&mut self, op: &'static str, id: i64, after: Item) {
        let value = self
            .change(op, Some(&after))
            .value()
            .to_string()
            .into_bytes();
        self.records.push(Record {
            key: Some(key_bytes(id)),
            value: Some(value),
            headers: Vec::new(),
            bad: None,
        });
    }

    /// A good delete of item `id`.
    fn delete(&mut self, id: i64) {
        let value = self.change("d", None).value().to_string().into_bytes();
        self.records.push(Record {
            key: Some(key_bytes(id)),
            value: Some(value),
            headers: Vec::new(),
            bad: None,
        });
    }

    /// The value of a valid create of item `id` (to spoil or to pair with a bad key).
    fn good_value(&mut self, id: i64) -> Vec<u8> {
        let after = item(id, "1", "1.00");
        self.change("c", Some(&after))
            .value()
            .to_string()
            .into_bytes()
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Vec<(String, Option<Vec<u8>>)>,
        name: &'static str,
        stage: &'static str,
        reason: &'static str,
        postgres_only: bool,
    ) {
        if postgres_only && !self.postgres {
            return;
        }
        let bad = Some(Bad {
            name,
            stage,
            reason_contains: reason,
            postgres_only,
        });
        self.records.push(Record {
            key,
            value,
            headers,
            bad,
        });
    }

    /// A record the decode stage refuses, as raw bytes.
    fn raw(
        &mut self,
        name: &'static str,
        reason: &'static str,
        key: Option<Vec<u8>>,
        value: Vec<u8>,
        headers: Vec<(String, Option<Vec<u8>>)>,
    ) {
        self.push(key, Some(value), headers, name, "decode", reason, false);
    }

    /// A change of item `id` whose envelope `edit` spoils (after the source clock moved).
    fn spoiled(&mut self, id: i64, edit: impl FnOnce(&mut Change)) -> Vec<u8> {
        let mut change = self.change("c", Some(&item(id, "1", "1.00")));
        edit(&mut change);
        change.value().to_string().into_bytes()
    }

    /// A bad change of item `id` (with its key) whose envelope `edit` spoils.
    fn spoil(
        &mut self,
        name: &'static str,
        stage: &'static str,
        reason: &'static str,
        id: i64,
        edit: impl FnOnce(&mut Change),
    ) {
        let value = self.spoiled(id, edit);
        self.push(
            Some(key_bytes(id)),
            Some(value),
            vec![],
            name,
            stage,
            reason,
            false,
        );
    }

    /// A bad decode of item `id` whose envelope JSON `edit` spoils.
    fn envelope(
        &mut self,
        name: &'static str,
        reason: &'static str,
        id: i64,
        edit: impl FnOnce(&mut Json),
    ) {
        let mut value: Json = serde_json::from_slice(&self.good_value(id)).expect("json");
        edit(&mut value);
        self.raw(
            name,
            reason,
            Some(key_bytes(id)),
            value.to_string().into_bytes(),
            vec![],
        );
    }
}

/// The stream: good records interleaved with the poison corpus (bad records first, between
/// the good ones and last).
pub fn stream(postgres: bool) -> Vec<Record> {
    let mut b = Builder {
        records: Vec::new(),
        clock: 0,
        postgres,
    };
    let headers = || {
        vec![
            ("trace-id".to_string(), Some(b"abc-123".to_vec())),
            ("empty".to_string(), None),
            ("binary".to_string(), Some(vec![0xff, 0x00, 0xc3, 0x28])),
        ]
    };
    let malformed = b"{\"schema\": oops".to_vec();
    b.raw(
        "value_not_json",
        "malformed json in record value",
        Some(key_bytes(1)),
        malformed,
        headers(),
    );
    for id in 1..=10 {
        b.good("r", id, item(id, &id.to_string(), &format!("{id}.50")));
    }
    let v = b.good_value(101);
    b.raw(
        "key_not_json",
        "malformed json in record key",
        Some(b"{id:101".to_vec()),
        v.clone(),
        vec![],
    );
    b.raw(
        "truncated_value",
        "malformed json",
        Some(key_bytes(102)),
        v[..v.len() / 2].to_vec(),
        vec![],
    );
    b.raw(
        "value_is_an_array",
        "not an object",
        Some(key_bytes(103)),
        b"[1,2,3]".to_vec(),
        vec![],
    );
    b.good("c", 11, item(11, "11", "11.00"));
    let not_utf8 = vec![0xff, 0xfe, 0xfd, b'{'];
    b.raw(
        "value_not_utf8",
        "malformed json",
        Some(vec![0xff, 0xfe, 0x01]),
        not_utf8,
        headers(),
    );
    let avro = vec![0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0x06, b'a', b'b', b'c'];
    b.raw(
        "confluent_magic_byte",
        "malformed json",
        Some(key_bytes(104)),
        avro,
        vec![],
    );
    b.raw(
        "empty_value",
        "malformed json",
        Some(key_bytes(105)),
        Vec::new(),
        vec![],
    );
    let no_payload = json!({"schema": {"type": "struct", "fields": []}});
    b.raw(
        "payload_missing",
        "no `op`",
        Some(key_bytes(106)),
        no_payload.to_string().into_bytes(),
        vec![],
    );
    b.good("c", 12, item(12, "12", "12.00"));
    b.spoil("unknown_op", "decode", "unknown op", 107, |c| c.op = "x");
    b.envelope("op_not_a_string", "not a string", 108, |v| {
        v["payload"]["op"] = json!(5)
    });
    b.envelope("op_missing", "no `op`", 109, |v| {
        v["payload"].as_object_mut().unwrap().remove("op");
    });
    b.spoil(
        "create_without_after",
        "decode",
        "has no `after`",
        110,
        |c| c.after = Json::Null,
    );
    b.good("u", 3, item(3, "30", "3.75"));
    b.envelope("source_not_an_object", "source", 115, |v| {
        v["payload"]["source"] = json!("x")
    });
    b.spoil(
        "after_not_a_struct",
        "decode",
        "expected a struct object",
        116,
        |c| c.after = json!("not a row"),
    );
    b.spoil(
        "unknown_schema_type",
        "decode",
        "unknown schema type",
        114,
        |c| c.fields[1] = json!({"type": "int128", "optional": true, "field": "name"}),
    );
    let v = b.good_value(117);
    let key = json!({"schema": {"type": "struct", "fields": [{"type": "int32", "optional": false, "field": "id"}]},
                     "payload": {"id": "seventeen"}});
    b.raw(
        "key_field_wrong_type",
        "key.id",
        Some(key.to_string().into_bytes()),
        v,
        vec![],
    );
    // One column of the after image spoiled: (name, stage, reason, id, column, value,
    // PostgreSQL only). Transforms: qty must cast to int32. Writes: what the target refuses.
    let columns: &[(
        &'static str,
        &'static str,
        &'static str,
        i64,
        &str,
        Json,
        bool,
    )] = &[
        (
            "string_in_int32_field",
            "decode",
            "expected an integer",
            111,
            "id",
            json!("abc"),
            false,
        ),
        (
            "int32_overflow",
            "decode",
            "does not fit in int32",
            112,
            "id",
            json!(3_000_000_000_i64),
            false,
        ),
        (
            "decimal_bad_base64",
            "decode",
            "after.price",
            113,
            "price",
            json!("***not base64***"),
            false,
        ),
        (
            "qty_not_a_number",
            "transform",
            "cannot cast",
            201,
            "qty",
            json!("abc"),
            false,
        ),
        (
            "qty_with_letters",
            "transform",
            "cannot cast",
            202,
            "qty",
            json!("12x"),
            false,
        ),
        (
            "qty_out_of_int32",
            "transform",
            "cannot cast",
            203,
            "qty",
            json!("3000000000"),
            false,
        ),
        ("name_null", "write", "null", 401, "name", Json::Null, false),
        (
            "qty_check_violation",
            "write",
            "check",
            402,
            "qty",
            json!("-1"),
            false,
        ),
        (
            "code_unique_violation",
            "write",
            "unique",
            403,
            "code",
            json!("C-1"),
            false,
        ),
        (
            "name_too_long",
            "write",
            "too long",
            409,
            "name",
            json!("far-too-long-a-name"),
            true,
        ),
        (
            "price_numeric_overflow",
            "write",
            "numeric field overflow",
            410,
            "price",
            decimal_payload("123456.78"),
            true,
        ),
    ];
    for (i, (name, stage, reason, id, column, value, postgres_only)) in columns.iter().enumerate() {
        if i % 3 == 0 {
            let id = 13 + (i / 3) as i64;
            b.good("c", id, item(id, &id.to_string(), "2.00"));
        }
        if *postgres_only && !postgres {
            continue;
        }
        let (column, value) = (column.to_string(), value.clone());
        let v = b.spoiled(*id, |c| {
            c.after
                .as_object_mut()
                .expect("after")
                .insert(column, value);
        });
        b.push(
            Some(key_bytes(*id)),
            Some(v),
            vec![],
            name,
            stage,
            reason,
            *postgres_only,
        );
    }
    for id in 17..=20 {
        b.good("c", id, item(id, &id.to_string(), "2.00"));
    }
    b.good("u", 5, item(5, "55", "5.55"));
    // Resolve: changes far behind the partition's newest source time.
    for (name, id, behind) in [
        ("late_by_an_hour", 301, 3_600_000),
        ("late_by_a_day", 302, 86_400_000),
        ("late_update_of_a_live_row", 4, 120_000),
    ] {
        b.spoil(name, "resolve", "sluice.late.policy=dead_letter", id, |c| {
            c.ts_ms -= behind
        });
    }
    b.good("c", 21, item(21, "21", "21.00"));
    b.spoil(
        "missing_table",
        "write",
        "does not exist and schema.evolution=none",
        404,
        |c| c.table = MISSING_TABLE.into(),
    );
    b.spoil("missing_column", "write", "has no column", 405, |c| {
        c.fields
            .push(json!({"type": "string", "optional": true, "field": "color"}));
        c.after["color"] = json!("red");
    });
    b.good("c", 22, item(22, "22", "22.00"));
    b.spoil("nul_in_table_name", "write", "nul byte", 406, |c| {
        c.table = "x\u{0}y".into()
    });
    let v = b.good_value(407);
    b.push(
        None,
        Some(v),
        headers(),
        "null_key",
        "write",
        "no primary key",
        false,
    );
    if postgres {
        b.spoil("table_name_too_long", "write", "63-byte", 408, |c| {
            c.table = "t".repeat(70)
        });
        b.spoil(
            "price_not_numeric",
            "write",
            "invalid input syntax",
            411,
            |c| {
                c.fields[3] = json!({"type": "string", "optional": true, "field": "price"});
                c.after["price"] = json!("cheap");
            },
        );
    }
    for id in 23..=30 {
        b.good("c", id, item(id, &id.to_string(), "3.00"));
    }
    b.delete(7);
    b.good("u", 8, item(8, "88", "8.80"));
    b.spoil("last_record_check_violation", "write", "check", 412, |c| {
        c.after["qty"] = json!("-5")
    });
    b.records
}

/// An item as the test compares it: name, qty, price text, code.
pub type ExpectedRow = (String, Option<i64>, Option<String>, Option<String>);

/// id -> row after the good records of [`stream`].
pub fn expected_rows(postgres: bool) -> BTreeMap<i64, ExpectedRow> {
    let _ = postgres; // The good records are the same on both targets.
    let mut rows = BTreeMap::new();
    let set = |rows: &mut BTreeMap<_, _>, id: i64, qty: i64, price: &str| {
        rows.insert(
            id,
            (
                format!("item-{id}"),
                Some(qty),
                Some(price.to_string()),
                Some(format!("C-{id}")),
            ),
        );
    };
    for id in 1..=10 {
        set(&mut rows, id, id, &format!("{id}.50"));
    }
    set(&mut rows, 11, 11, "11.00");
    set(&mut rows, 12, 12, "12.00");
    set(&mut rows, 3, 30, "3.75");
    for id in 13..=20 {
        set(&mut rows, id, id, "2.00");
    }
    set(&mut rows, 5, 55, "5.55");
    set(&mut rows, 21, 21, "21.00");
    set(&mut rows, 22, 22, "22.00");
    for id in 23..=30 {
        set(&mut rows, id, id, "3.00");
    }
    rows.remove(&7);
    set(&mut rows, 8, 88, "8.80");
    rows
}
