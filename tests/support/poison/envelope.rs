//! The Debezium JSON envelopes of the poison stream: the `items` row schema, keys, decimals.

use serde_json::{json, Value as Json};

/// Source time of the first change.
pub const T0: i64 = 1_700_000_000_000;

/// An item row image: id, name, qty (a string at the source), price (decimal text), code.
#[derive(Clone)]
pub struct Item {
    pub id: i64,
    pub name: Option<String>,
    pub qty: Option<String>,
    pub price: Option<String>,
    pub code: Option<String>,
}

pub fn item(id: i64, qty: &str, price: &str) -> Item {
    Item {
        id,
        name: Some(format!("item-{id}")),
        qty: Some(qty.into()),
        price: Some(price.into()),
        code: Some(format!("C-{id}")),
    }
}

fn decimal_schema(field: &str) -> Json {
    json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
           "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "5"}, "field": field})
}

/// The row schema of `items` as Debezium writes it.
pub fn row_fields() -> Vec<Json> {
    vec![
        json!({"type": "int32", "optional": false, "field": "id"}),
        json!({"type": "string", "optional": true, "field": "name"}),
        json!({"type": "string", "optional": true, "field": "qty"}),
        decimal_schema("price"),
        json!({"type": "string", "optional": true, "field": "code"}),
    ]
}

/// Connect Decimal bytes (the shortest big-endian two's complement of the unscaled value),
/// base64.
pub fn decimal_payload(text: &str) -> Json {
    use base64::Engine;
    let unscaled: i64 = text.replace('.', "").parse().expect("decimal text");
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    Json::String(base64::engine::general_purpose::STANDARD.encode(&bytes[start..]))
}

pub fn row_payload(i: &Item) -> Json {
    json!({
        "id": i.id,
        "name": i.name,
        "qty": i.qty,
        "price": i.price.as_deref().map(decimal_payload),
        "code": i.code,
    })
}

pub fn key_bytes(id: i64) -> Vec<u8> {
    json!({
        "schema": {"type": "struct", "optional": false, "name": "poison.public.items.Key",
                   "fields": [{"type": "int32", "optional": false, "field": "id"}]},
        "payload": {"id": id},
    })
    .to_string()
    .into_bytes()
}

/// A change envelope: `fields` is the row schema, `before`/`after` the images (JSON).
pub struct Change {
    pub op: &'static str,
    pub table: String,
    pub ts_ms: i64,
    pub lsn: i64,
    pub fields: Vec<Json>,
    pub before: Json,
    pub after: Json,
}

impl Change {
    pub fn value(&self) -> Json {
        let row = |name: &str| {
            json!({"type": "struct", "optional": true, "name": "poison.public.items.Value",
                   "fields": self.fields, "field": name})
        };
        json!({
            "schema": {"type": "struct", "optional": false, "name": "poison.public.items.Envelope",
                "fields": [row("before"), row("after"),
                    {"type": "struct", "optional": false, "name": "io.debezium.connector.postgresql.Source", "field": "source",
                     "fields": [{"type": "string", "optional": false, "field": "name"},
                                {"type": "int64", "optional": false, "field": "ts_ms"},
                                {"type": "string", "optional": false, "field": "table"},
                                {"type": "int64", "optional": true, "field": "lsn"}]},
                    {"type": "string", "optional": false, "field": "op"},
                    {"type": "int64", "optional": true, "field": "ts_ms"}]},
            "payload": {
                "before": self.before, "after": self.after,
                "source": {"version": "3.6.3.Final", "connector": "postgresql", "name": "poison",
                           "ts_ms": self.ts_ms, "snapshot": "false", "db": "shop", "schema": "public",
                           "table": self.table, "lsn": self.lsn},
                "op": self.op, "ts_ms": self.ts_ms + 5,
            },
        })
    }
}
