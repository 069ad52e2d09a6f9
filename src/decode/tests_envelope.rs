//! Envelope-level tests: record kinds, schemaless events, converter leniency and malformed input.

use super::test_support::record;
use super::{decode, DecodeConfig, DecodeError, SourceFields};
use crate::event::{Decoded, Op, Value};
use serde_json::json;

const NO_SCHEMAS: DecodeConfig = DecodeConfig {
    key_schemas_enable: false,
    value_schemas_enable: false,
    key_avro: None,
    value_avro: None,
    source_fields: SourceFields::All,
};

fn run(topic: &str, key: Option<&str>, value: Option<&str>) -> Result<Decoded, DecodeError> {
    decode(&record(topic, key, value), &NO_SCHEMAS)
}

fn value_of(v: serde_json::Value) -> Result<Decoded, DecodeError> {
    run("db.public.t", Some(r#"{"id": 1}"#), Some(&v.to_string()))
}

#[test]
fn record_kinds() {
    let cases = [
        (
            json!({"op": "m", "message": {"prefix": "p"}}),
            Decoded::NotARow("message"),
        ),
        (
            json!({"status": "BEGIN", "id": "1:2", "event_count": null}),
            Decoded::NotARow("transaction"),
        ),
        (
            json!({"status": "END", "id": "1:2", "event_count": 3}),
            Decoded::NotARow("transaction"),
        ),
        (json!({"ts_ms": 1}), Decoded::NotARow("heartbeat")),
        (
            json!({"source": {}, "ddl": "CREATE TABLE t ()", "tableChanges": []}),
            Decoded::NotARow("schema_change"),
        ),
        (
            json!({"source": {}, "databaseName": "inventory", "ts_ms": 1}),
            Decoded::NotARow("schema_change"),
        ),
        (json!(null), Decoded::Tombstone),
    ];
    for (value, want) in cases {
        assert_eq!(value_of(value.clone()), Ok(want), "{value}");
    }
    assert_eq!(run("t", None, None), Ok(Decoded::Tombstone));
    // Heartbeats by topic and by schema name.
    let hb = run(
        "__debezium-heartbeat.db",
        Some(r#"{"serverName":"db"}"#),
        Some("{}"),
    );
    assert_eq!(hb, Ok(Decoded::NotARow("heartbeat")));
    let with_schema = json!({"schema": {"type": "struct", "name": "io.debezium.connector.common.Heartbeat",
        "fields": [{"type": "int64", "field": "ts_ms"}]}, "payload": {"ts_ms": 5}});
    let rec = record("hb", None, Some(&with_schema.to_string()));
    assert_eq!(
        decode(&rec, &DecodeConfig::default()),
        Ok(Decoded::NotARow("heartbeat"))
    );
}

#[test]
fn schemaless_change() {
    let value = json!({"before": null,
        "after": {"id": 1, "name": "x", "big": "__debezium_unavailable_value",
                  "raw": "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==", "n": {"scale": 2, "value": "AQ=="}},
        "source": {"connector": "postgresql", "name": "db", "lsn": 42, "ts_ms": 9, "snapshot": "false",
                   "schema": "public", "table": "t", "xmin": null},
        "transaction": {"id": "5:42", "total_order": 2, "data_collection_order": 1},
        "op": "u", "ts_ms": 10});
    let Ok(Decoded::Change(event)) = value_of(value) else {
        panic!("not a change")
    };
    assert_eq!(event.op, Op::Update);
    assert_eq!(event.coordinates.offset, 7);
    assert_eq!(event.kafka_timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(event.key.fields[0].value, Value::untyped(json!(1)));
    let after = event.after.unwrap();
    let value = |n: &str| after.get(n).unwrap().value.clone();
    assert_eq!(value("name"), Value::untyped(json!("x")));
    assert_eq!(value("big"), Value::Unavailable);
    assert_eq!(value("raw"), Value::Unavailable);
    assert_eq!(
        value("n"),
        Value::untyped(json!({"scale": 2, "value": "AQ=="}))
    );
    assert!(after
        .fields
        .iter()
        .all(|f| f.optional && f.column_type.is_none()));
    assert_eq!(event.source.lsn, Some(42));
    assert!(!event.source.snapshot);
    assert!(event.source.fields.contains(&("table".into(), "t".into())));
    assert!(!event.source.fields.iter().any(|(k, _)| k == "xmin"));
    assert_eq!(
        event.tx.map(|t| (t.id, t.total_order)),
        Some(("5:42".into(), 2))
    );
}

#[test]
fn lenient_converter_settings() {
    let bare = json!({"after": {"id": 1}, "op": "c"}).to_string();
    // Schemas enabled but bare payload: decoded untyped.
    let Ok(Decoded::Change(e)) = decode(&record("t", None, Some(&bare)), &DecodeConfig::default())
    else {
        panic!()
    };
    assert_eq!(e.after.unwrap().fields[0].value, Value::untyped(json!(1)));
    // Schemas disabled but a struct wrapper: decoded typed, key too.
    let key = json!({"schema": {"type": "struct", "fields": [{"type": "int32", "field": "id"}]},
                     "payload": {"id": 1}})
    .to_string();
    let wrapped = json!({"schema": {"type": "struct", "fields": [
            {"type": "struct", "field": "after", "fields": [{"type": "int32", "field": "id"}]}]},
        "payload": {"after": {"id": 1}, "op": "c"}})
    .to_string();
    let Ok(Decoded::Change(e)) = run("t", Some(&key), Some(&wrapped)) else {
        panic!()
    };
    assert_eq!(e.after.unwrap().fields[0].value, Value::Int(1));
    assert_eq!(e.key.fields[0].value, Value::Int(1));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let not_envelope = |r: Result<Decoded, DecodeError>, what: &str| match r {
        Err(DecodeError::NotAnEnvelope(m)) => assert!(m.contains(what), "{m}"),
        other => panic!("{what}: {other:?}"),
    };
    assert!(matches!(
        run("t", None, Some("{not json")),
        Err(DecodeError::MalformedJson { part: "value", .. })
    ));
    assert!(matches!(
        run("t", Some("{"), Some(r#"{"op":"d","before":{"id":1}}"#)),
        Err(DecodeError::MalformedJson { part: "key", .. })
    ));
    not_envelope(run("t", None, Some("[1,2]")), "an array");
    not_envelope(run("t", None, Some("\"c\"")), "a string");
    not_envelope(value_of(json!({"op": "x", "after": {}})), "unknown op");
    not_envelope(value_of(json!({"op": 1})), "`op` is a number");
    not_envelope(value_of(json!({"op": "c", "after": null})), "no `after`");
    not_envelope(value_of(json!({"op": "u"})), "no `after`");
    not_envelope(value_of(json!({"foo": 1, "bar": 2})), "no `op`");
    // A non-struct key is a field error on `key`.
    let bad_key = run("t", Some("5"), Some(r#"{"op":"d","before":{"id":1}}"#));
    assert!(matches!(bad_key, Err(DecodeError::BadField { field, .. }) if field == "key"));
    let bad_after = value_of(json!({"op": "c", "after": [1]}));
    assert!(matches!(bad_after, Err(DecodeError::BadField { field, .. }) if field == "after"));
    let bad_source = value_of(json!({"op": "c", "after": {}, "source": 3}));
    assert!(matches!(bad_source, Err(DecodeError::BadField { field, .. }) if field == "source"));
}

#[test]
fn deletes_and_truncates() {
    let Ok(Decoded::Change(d)) = value_of(json!({"op": "d", "before": {"id": 1}, "after": null}))
    else {
        panic!()
    };
    assert!(d.after.is_none() && d.before.is_some());
    let Ok(Decoded::Change(t)) = run("t", None, Some(r#"{"op":"t","before":null,"after":null}"#))
    else {
        panic!()
    };
    assert_eq!(t.op, Op::Truncate);
    assert!(t.key.fields.is_empty());
    // A JSON null key (not a Kafka null) is an empty key too.
    let Ok(Decoded::Change(t)) = run("t", Some("null"), Some(r#"{"op":"t"}"#)) else {
        panic!()
    };
    assert!(t.key.fields.is_empty());
}

#[test]
fn a_block_that_is_a_number_is_named_in_the_error() {
    let schema = r#"{"type":"struct","fields":[]}"#;
    for (payload, want) in [
        (
            r#"{"op":"c","after":5}"#,
            "after: expected a struct object, got a number",
        ),
        (
            r#"{"op":"c","after":{"id":1},"source":7.5}"#,
            "source: expected an object, got a number",
        ),
        (
            r#"{"op":"c","after":{"id":1},"transaction":1}"#,
            "transaction: expected an object, got a number",
        ),
        (r#"{"op":5}"#, "`op` is a number, not a string"),
        ("12", "value is a number, not an object"),
    ] {
        let value = format!(r#"{{"schema":{schema},"payload":{payload}}}"#);
        let record = record("db.public.t", None, Some(&value));
        // Twice: the second record takes the remembered-schema path.
        for _ in 0..2 {
            let err = decode(&record, &DecodeConfig::default()).unwrap_err();
            assert!(err.to_string().contains(want), "{payload}: {err}");
        }
    }
}
