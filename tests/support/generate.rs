//! A generated Debezium stream for fault tests: one table `items`, creates/updates/deletes
//! over a key space, versions equal to the event's position so every change is unique.

use serde_json::json;
use std::collections::BTreeMap;

/// One generated change: key, op (`c`, `u`, `d`), version (none for deletes).
pub type Change = (i64, &'static str, Option<i64>);

/// A change of table `items` (id, v) from `connector` (the source's `connector`/`name`) at
/// source time `ts` (ms), with no log position: JsonConverter with schemas, key and value. A
/// delete carries the row as `before`; any other op as `after`.
pub fn items_change(
    connector: (&str, &str),
    op: &str,
    id: i64,
    v: Option<i64>,
    ts: Option<i64>,
) -> (String, String) {
    let field = |name: &str, t: &str, optional: bool| json!({"field": name, "type": t, "optional": optional});
    let row = |name: &str| {
        json!({"type": "struct", "optional": true, "field": name,
        "fields": [field("id", "int64", false), field("v", "int64", true)]})
    };
    let source = json!({"type": "struct", "optional": false, "field": "source", "fields": [
        field("connector", "string", false), field("name", "string", false),
        field("ts_ms", "int64", true), field("table", "string", false)]});
    let image = json!({"id": id, "v": v});
    let (before, after) = if op == "d" {
        (image, json!(null))
    } else {
        (json!(null), image)
    };
    let value = json!({
        "schema": {"type": "struct", "optional": false,
            "fields": [row("before"), row("after"), source, field("op", "string", false)]},
        "payload": {"before": before, "after": after, "op": op,
            "source": {"connector": connector.0, "name": connector.1, "ts_ms": ts, "table": "items"}}
    });
    let key = json!({"schema": {"type": "struct", "optional": false, "fields": [field("id", "int64", false)]},
        "payload": {"id": id}});
    (key.to_string(), value.to_string())
}

/// A Debezium envelope (JsonConverter, schemas enabled) for table `items`.
pub fn envelope(op: &str, id: i64, version: Option<i64>, lsn: i64) -> (String, Option<String>) {
    let field = |name: &str, t: &str, optional: bool| json!({"field": name, "type": t, "optional": optional});
    let row_schema = json!({"type": "struct", "optional": true, "name": "gen.public.items.Value",
        "fields": [field("id", "int32", false), field("version", "int32", false), field("payload", "string", true)]});
    let key = json!({"schema": {"type": "struct", "optional": false, "fields": [field("id", "int32", false)]}, "payload": {"id": id}});
    let row = version.map(|v| json!({"id": id, "version": v, "payload": format!("item {id} version {v} {}", "x".repeat(40))}));
    let (before, after) = if op == "d" {
        (Some(json!({"id": id, "version": 0, "payload": null})), None)
    } else {
        (None, row)
    };
    let mut before_schema = row_schema.clone();
    before_schema["field"] = json!("before");
    let mut after_schema = row_schema;
    after_schema["field"] = json!("after");
    let source_schema = json!({"type": "struct", "optional": false, "field": "source", "fields": [
        field("connector", "string", false), field("name", "string", false), field("ts_ms", "int64", false),
        field("db", "string", false), field("schema", "string", false), field("table", "string", false), field("lsn", "int64", true)]});
    let value = json!({
        "schema": {"type": "struct", "optional": false, "fields": [before_schema, after_schema, source_schema, field("op", "string", false), field("ts_ms", "int64", true)]},
        "payload": {"before": before, "after": after, "op": op, "ts_ms": 1_700_000_000_000i64 + lsn,
            "source": {"connector": "postgresql", "name": "gen", "ts_ms": 1_700_000_000_000i64 + lsn, "db": "gen", "schema": "public", "table": "items", "lsn": lsn}}
    });
    (key.to_string(), Some(value.to_string()))
}

/// The generated stream: creates, updates and deletes over `keys` keys, in source order.
pub fn stream(keys: i64, events: usize) -> Vec<Change> {
    let mut state: BTreeMap<i64, i64> = BTreeMap::new();
    let mut seed: u64 = 0x5eed;
    let mut out = Vec::with_capacity(events);
    while out.len() < events {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = ((seed >> 33) % keys as u64) as i64 + 1;
        // Versions are the event's position, so every (id, version) is unique.
        let version = out.len() as i64 + 1;
        match state.get(&id) {
            None => {
                state.insert(id, version);
                out.push((id, "c", Some(version)));
            }
            Some(_) if (seed >> 20).is_multiple_of(10) => {
                state.remove(&id);
                out.push((id, "d", None));
            }
            Some(_) => {
                state.insert(id, version);
                out.push((id, "u", Some(version)));
            }
        }
    }
    out
}

/// The final state (key -> version) and the number of row images (creates and updates) that an
/// append-only audit table must hold once each.
pub fn expected(events: &[Change]) -> (BTreeMap<i64, i64>, i64) {
    let mut state = BTreeMap::new();
    let mut images = 0;
    for (id, _, version) in events {
        match version {
            Some(v) => {
                state.insert(*id, *v);
                images += 1;
            }
            None => {
                state.remove(id);
            }
        }
    }
    (state, images)
}
