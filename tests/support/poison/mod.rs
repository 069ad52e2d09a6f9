//! The poison corpus: bad records at every stage (decode, transform, resolve, write) mixed
//! into a valid Debezium JSON stream (with schemas) of one table, `items`, on one partition.
//!
//! Each bad record names the stage that must refuse it and a piece of the reason. The valid
//! records create, update and delete items with increasing source times, so only the records
//! built to be late are late. [`connector_config`] is the config the stream is meant for.

mod envelope;

use envelope::{decimal_payload, item, key_bytes, row_fields, row_payload, Change, Item, T0};
use serde_json::{json, Map, Value as Json};
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
    fn change(&mut self, op: &'static str, before: Option<&Item>, after: Option<&Item>) -> Change {
        self.clock += 1;
        Change {
            op,
            table: "items".into(),
            ts_ms: T0 + self.clock * 1000,
            lsn: 1_000_000 + self.clock * 100,
            fields: row_fields(),
            before: before.map(row_payload).unwrap_or(Json::Null),
            after: after.map(row_payload).unwrap_or(Json::Null),
        }
    }

    fn good(&mut self, op: &'static str, id: i64, after: Option<Item>) {
        let change = self.change(op, None, after.as_ref());
        self.records.push(Record {
            key: Some(key_bytes(id)),
            value: Some(change.value().to_string().into_bytes()),
            headers: Vec::new(),
            bad: None,
        });
    }

    fn bad(
        &mut self,
        name: &'static str,
        stage: &'static str,
        reason: &'static str,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) {
        self.bad_with(name, stage, reason, key, value, Vec::new(), false);
    }

    #[allow(clippy::too_many_arguments)]
    fn bad_with(
        &mut self,
        name: &'static str,
        stage: &'static str,
        reason: &'static str,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Vec<(String, Option<Vec<u8>>)>,
        postgres_only: bool,
    ) {
        if postgres_only && !self.postgres {
            return;
        }
        self.records.push(Record {
            key,
            value,
            headers,
            bad: Some(Bad {
                name,
                stage,
                reason_contains: reason,
                postgres_only,
            }),
        });
    }

    /// A change of item `id` whose envelope `edit` spoils (after the source clock moved).
    fn spoiled(&mut self, id: i64, edit: impl FnOnce(&mut Change)) -> Vec<u8> {
        let mut change = self.change("c", None, Some(&item(id, "1", "1.00")));
        edit(&mut change);
        change.value().to_string().into_bytes()
    }
}

fn after_field(change: &mut Change) -> &mut Map<String, Json> {
    change.after.as_object_mut().expect("after object")
}

/// The stream: good records interleaved with the poison corpus.
pub fn stream(postgres: bool) -> Vec<Record> {
    let mut b = Builder {
        records: Vec::new(),
        clock: 0,
        postgres,
    };
    let good_value = |b: &mut Builder, id: i64| {
        let c = b.change("c", None, Some(&item(id, "1", "1.00")));
        c.value().to_string().into_bytes()
    };
    let headers = || {
        vec![
            ("trace-id".to_string(), Some(b"abc-123".to_vec())),
            ("empty".to_string(), None),
            ("binary".to_string(), Some(vec![0xff, 0x00, 0xc3, 0x28])),
        ]
    };
    // Bad records first, between and last.
    b.bad_with(
        "value_not_json",
        "decode",
        "malformed json in record value",
        Some(key_bytes(1)),
        Some(b"{\"schema\": oops".to_vec()),
        headers(),
        false,
    );
    for id in 1..=10 {
        b.good(
            "r",
            id,
            Some(item(id, &id.to_string(), &format!("{id}.50"))),
        );
    }
    let v = good_value(&mut b, 101);
    b.bad(
        "key_not_json",
        "decode",
        "malformed json in record key",
        Some(b"{id:101".to_vec()),
        Some(v.clone()),
    );
    b.bad(
        "truncated_value",
        "decode",
        "malformed json",
        Some(key_bytes(102)),
        Some(v[..v.len() / 2].to_vec()),
    );
    b.bad(
        "value_is_an_array",
        "decode",
        "not an object",
        Some(key_bytes(103)),
        Some(b"[1,2,3]".to_vec()),
    );
    b.good("c", 11, Some(item(11, "11", "11.00")));
    b.bad_with(
        "value_not_utf8",
        "decode",
        "malformed json",
        Some(vec![0xff, 0xfe, 0x01]),
        Some(vec![0xff, 0xfe, 0xfd, b'{']),
        headers(),
        false,
    );
    b.bad(
        "confluent_magic_byte",
        "decode",
        "malformed json",
        Some(key_bytes(104)),
        Some(vec![
            0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0x06, b'a', b'b', b'c',
        ]),
    );
    b.bad(
        "empty_value",
        "decode",
        "malformed json",
        Some(key_bytes(105)),
        Some(Vec::new()),
    );
    let no_payload = json!({"schema": {"type": "struct", "fields": []}})
        .to_string()
        .into_bytes();
    b.bad(
        "payload_missing",
        "decode",
        "no `op`",
        Some(key_bytes(106)),
        Some(no_payload),
    );
    b.good("c", 12, Some(item(12, "12", "12.00")));
    let v = b.spoiled(107, |c| c.op = "x");
    b.bad(
        "unknown_op",
        "decode",
        "unknown op",
        Some(key_bytes(107)),
        Some(v),
    );
    let mut v: Json = serde_json::from_slice(&good_value(&mut b, 108)).unwrap();
    v["payload"]["op"] = json!(5);
    b.bad(
        "op_not_a_string",
        "decode",
        "not a string",
        Some(key_bytes(108)),
        Some(v.to_string().into_bytes()),
    );
    let mut v: Json = serde_json::from_slice(&good_value(&mut b, 109)).unwrap();
    v["payload"].as_object_mut().unwrap().remove("op");
    b.bad(
        "op_missing",
        "decode",
        "no `op`",
        Some(key_bytes(109)),
        Some(v.to_string().into_bytes()),
    );
    let v = b.spoiled(110, |c| c.after = Json::Null);
    b.bad(
        "create_without_after",
        "decode",
        "has no `after`",
        Some(key_bytes(110)),
        Some(v),
    );
    b.good("u", 3, Some(item(3, "30", "3.75")));
    let v = b.spoiled(111, |c| {
        after_field(c).insert("id".into(), json!("abc"));
    });
    b.bad(
        "string_in_int32_field",
        "decode",
        "expected an integer",
        Some(key_bytes(111)),
        Some(v),
    );
    let v = b.spoiled(112, |c| {
        after_field(c).insert("id".into(), json!(3_000_000_000_i64));
    });
    b.bad(
        "int32_overflow",
        "decode",
        "does not fit in int32",
        Some(key_bytes(112)),
        Some(v),
    );
    let v = b.spoiled(113, |c| {
        after_field(c).insert("price".into(), json!("***not base64***"));
    });
    b.bad(
        "decimal_bad_base64",
        "decode",
        "after.price",
        Some(key_bytes(113)),
        Some(v),
    );
    let v = b.spoiled(114, |c| {
        c.fields[1] = json!({"type": "int128", "optional": true, "field": "name"});
    });
    b.bad(
        "unknown_schema_type",
        "decode",
        "unknown schema type",
        Some(key_bytes(114)),
        Some(v),
    );
    let mut v: Json = serde_json::from_slice(&good_value(&mut b, 115)).unwrap();
    v["payload"]["source"] = json!("somewhere");
    b.bad(
        "source_not_an_object",
        "decode",
        "source",
        Some(key_bytes(115)),
        Some(v.to_string().into_bytes()),
    );
    let v = b.spoiled(116, |c| c.after = json!("not a row"));
    b.bad(
        "after_not_a_struct",
        "decode",
        "expected a struct object",
        Some(key_bytes(116)),
        Some(v),
    );
    let v = good_value(&mut b, 117);
    let key = json!({"schema": {"type": "struct", "fields": [{"type": "int32", "optional": false, "field": "id"}]},
                     "payload": {"id": "seventeen"}});
    b.bad(
        "key_field_wrong_type",
        "decode",
        "key.id",
        Some(key.to_string().into_bytes()),
        Some(v),
    );
    for id in 13..=20 {
        b.good("c", id, Some(item(id, &id.to_string(), "2.00")));
    }
    // Transform: qty must cast to int32.
    for (name, qty, id) in [
        ("qty_not_a_number", "abc", 201),
        ("qty_with_letters", "12x", 202),
        ("qty_out_of_int32", "3000000000", 203),
    ] {
        let v = b.spoiled(id, |c| {
            after_field(c).insert("qty".into(), json!(qty));
        });
        b.bad(
            name,
            "transform",
            "cannot cast",
            Some(key_bytes(id)),
            Some(v),
        );
    }
    b.good("u", 5, Some(item(5, "55", "5.55")));
    // Resolve: changes far behind the partition's newest source time.
    for (name, id, behind) in [
        ("late_by_an_hour", 301, 3_600_000),
        ("late_by_a_day", 302, 86_400_000),
        ("late_update_of_a_live_row", 4, 120_000),
    ] {
        let v = b.spoiled(id, |c| c.ts_ms -= behind);
        b.bad(
            name,
            "resolve",
            "sluice.late.policy=dead_letter",
            Some(key_bytes(id)),
            Some(v),
        );
    }
    b.good("c", 21, Some(item(21, "21", "21.00")));
    // Write: what the target refuses.
    let v = b.spoiled(401, |c| {
        after_field(c).insert("name".into(), Json::Null);
    });
    b.bad("name_null", "write", "null", Some(key_bytes(401)), Some(v));
    let v = b.spoiled(402, |c| {
        after_field(c).insert("qty".into(), json!("-1"));
    });
    b.bad(
        "qty_check_violation",
        "write",
        "check",
        Some(key_bytes(402)),
        Some(v),
    );
    let v = b.spoiled(403, |c| {
        after_field(c).insert("code".into(), json!("C-1"));
    });
    b.bad(
        "code_unique_violation",
        "write",
        "unique",
        Some(key_bytes(403)),
        Some(v),
    );
    let v = b.spoiled(404, |c| c.table = MISSING_TABLE.into());
    b.bad(
        "missing_table",
        "write",
        "does not exist and schema.evolution=none",
        Some(key_bytes(404)),
        Some(v),
    );
    let v = b.spoiled(405, |c| {
        c.fields
            .push(json!({"type": "string", "optional": true, "field": "color"}));
        after_field(c).insert("color".into(), json!("red"));
    });
    b.bad(
        "missing_column",
        "write",
        "has no column",
        Some(key_bytes(405)),
        Some(v),
    );
    b.good("c", 22, Some(item(22, "22", "22.00")));
    let v = b.spoiled(406, |c| c.table = "x\u{0}y".into());
    b.bad(
        "nul_in_table_name",
        "write",
        "nul byte",
        Some(key_bytes(406)),
        Some(v),
    );
    let v = good_value(&mut b, 407);
    b.bad_with(
        "null_key",
        "write",
        "no primary key",
        None,
        Some(v),
        headers(),
        false,
    );
    let v = b.spoiled(408, |c| c.table = "t".repeat(70));
    b.bad_with(
        "table_name_too_long",
        "write",
        "63-byte",
        Some(key_bytes(408)),
        Some(v),
        Vec::new(),
        true,
    );
    let v = b.spoiled(409, |c| {
        after_field(c).insert("name".into(), json!("far-too-long-a-name"));
    });
    b.bad_with(
        "name_too_long",
        "write",
        "too long",
        Some(key_bytes(409)),
        Some(v),
        Vec::new(),
        true,
    );
    let v = b.spoiled(410, |c| {
        after_field(c).insert("price".into(), decimal_payload("123456.78"));
    });
    b.bad_with(
        "price_numeric_overflow",
        "write",
        "numeric field overflow",
        Some(key_bytes(410)),
        Some(v),
        Vec::new(),
        true,
    );
    let v = b.spoiled(411, |c| {
        c.fields[3] = json!({"type": "string", "optional": true, "field": "price"});
        after_field(c).insert("price".into(), json!("cheap"));
    });
    b.bad_with(
        "price_not_numeric",
        "write",
        "invalid input syntax",
        Some(key_bytes(411)),
        Some(v),
        Vec::new(),
        true,
    );
    for id in 23..=30 {
        b.good("c", id, Some(item(id, &id.to_string(), "3.00")));
    }
    b.good("d", 7, None);
    b.good("u", 8, Some(item(8, "88", "8.80")));
    let v = b.spoiled(412, |c| {
        after_field(c).insert("qty".into(), json!("-5"));
    });
    b.bad(
        "last_record_check_violation",
        "write",
        "check",
        Some(key_bytes(412)),
        Some(v),
    );
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
