//! Table-driven tests of every Connect/Debezium semantic type, through the public [`decode`]
//! entry point with hand-written events (one `after` column each).

use super::binary::{PLACEHOLDER, PLACEHOLDER_BASE64};
use super::test_support::record;
use super::{decode, DecodeConfig, DecodeError};
use crate::event::{ColumnType, Decoded, Field, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{json, Value as Json};

/// Decodes a `c` event whose `after` image has one column `col` with `schema` and `payload`.
fn typed(schema: Json, payload: Json) -> Result<Field, DecodeError> {
    let mut column = schema;
    column["field"] = json!("col");
    let value = json!({
        "schema": {"type": "struct", "name": "t.Envelope", "fields": [
            {"type": "struct", "optional": true, "field": "after", "fields": [column]},
            {"type": "string", "field": "op"}]},
        "payload": {"op": "c", "after": {"col": payload}, "source": {"ts_ms": 1}}});
    let rec = record("t", None, Some(&value.to_string()));
    match decode(&rec, &DecodeConfig::default())? {
        Decoded::Change(event) => Ok(event.after.unwrap().fields.remove(0)),
        other => panic!("not a change: {other:?}"),
    }
}

fn named(type_name: &str, name: &str) -> Json {
    json!({"type": type_name, "name": name, "optional": true})
}

fn decimal_schema(scale: i32, precision: Option<u32>) -> Json {
    let mut params = json!({"scale": scale.to_string()});
    if let Some(p) = precision {
        params["connect.decimal.precision"] = json!(p.to_string());
    }
    json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": params})
}

fn bits_schema(length: u32) -> Json {
    json!({"type": "bytes", "name": "io.debezium.data.Bits",
           "parameters": {"length": length.to_string()}})
}

fn ts(text: &str) -> Value {
    Value::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap())
}

fn time(text: &str) -> Value {
    Value::Time(NaiveTime::parse_from_str(text, "%H:%M:%S%.f").unwrap())
}

fn date(text: &str) -> Value {
    Value::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
}

type Case = (Json, Json, Value, ColumnType);

/// Decodes every case and checks value, column type and `optional`.
fn check(cases: Vec<Case>) {
    for (schema, payload, want_value, want_type) in cases {
        let at = format!("{schema} / {payload}");
        let optional = schema["optional"].as_bool().unwrap_or(false);
        let field = typed(schema, payload).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(field.value, want_value, "{at}");
        assert_eq!(field.column_type, Some(want_type), "{at}");
        assert_eq!(field.optional, optional, "{at}");
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

const TEXT: ColumnType = ColumnType::Text { max_len: None };

#[test]
#[rustfmt::skip]
fn primitive_types() {
    let int32_array = json!({"type": "array", "items": {"type": "int32", "optional": true}});
    check(vec![
        (json!({"type": "int8"}), json!(-128), Value::Int(-128), ColumnType::Int8),
        (json!({"type": "int16"}), json!(32767), Value::Int(32767), ColumnType::Int16),
        (json!({"type": "int32", "optional": true}), json!(-5), Value::Int(-5), ColumnType::Int32),
        (json!({"type": "int64"}), json!(i64::MIN), Value::Int(i64::MIN), ColumnType::Int64),
        (json!({"type": "float"}), json!(1.5), Value::Float(1.5), ColumnType::Float32),
        (json!({"type": "double"}), json!(2.75), Value::Float(2.75), ColumnType::Float64),
        (json!({"type": "double"}), json!("-Infinity"), Value::Float(f64::NEG_INFINITY), ColumnType::Float64),
        (json!({"type": "boolean"}), json!(true), Value::Bool(true), ColumnType::Bool),
        (json!({"type": "string"}), json!("héllo"), text("héllo"), TEXT),
        // decimal.handling.mode=string and =double: the string and the double stay as they are.
        (json!({"type": "string"}), json!("12.340"), text("12.340"), TEXT),
        (json!({"type": "double"}), json!(12.34), Value::Float(12.34), ColumnType::Float64),
        (json!({"type": "bytes"}), json!("AAH/"), Value::Bytes(vec![0, 1, 255]), ColumnType::Bytes),
        (int32_array, json!([1, null, 3]), Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
            ColumnType::Array(Box::new(ColumnType::Int32))),
        (json!({"type": "string", "parameters": {"__debezium.source.column.length": "12"}}), json!("x"),
            text("x"), ColumnType::Text { max_len: Some(12) }),
    ]);
}

#[test]
#[rustfmt::skip]
fn decimals() {
    let forty_nines = "AB1jKfHDXKS/q7n1YP//////"; // 10^40 - 1, unscaled
    let dec = |s: &str| Value::Decimal(s.to_string());
    let fixed = |scale, precision| ColumnType::Decimal { scale, precision };
    let variable = json!({"type": "struct", "name": "io.debezium.data.VariableScaleDecimal",
        "fields": [{"type": "int32", "field": "scale"}, {"type": "bytes", "field": "value"}]});
    check(vec![
        (decimal_schema(2, Some(10)), json!("BNI="), dec("12.34"), fixed(2, Some(10))),
        (decimal_schema(2, None), json!("+y4="), dec("-12.34"), fixed(2, None)),
        (decimal_schema(3, None), json!("AA=="), dec("0.000"), fixed(3, None)),
        (decimal_schema(0, None), json!(forty_nines), dec(&"9".repeat(40)), fixed(0, None)),
        (decimal_schema(5, None), json!(forty_nines), dec(&format!("{}.{}", "9".repeat(35), "9".repeat(5))), fixed(5, None)),
        // decimal.format=NUMERIC
        (decimal_schema(2, None), json!(12.5), dec("12.50"), fixed(2, None)),
        (variable.clone(), json!({"scale": 3, "value": "/w=="}), dec("-0.001"), ColumnType::VariableDecimal),
        (variable, json!({"scale": 0, "value": forty_nines}), dec(&"9".repeat(40)), ColumnType::VariableDecimal),
    ]);
}

#[test]
#[rustfmt::skip]
fn temporal_types() {
    check(vec![
        (named("int32", "io.debezium.time.Date"), json!(-1), date("1969-12-31"), ColumnType::Date),
        (named("int32", "org.apache.kafka.connect.data.Date"), json!(16816), date("2016-01-16"), ColumnType::Date),
        (named("int32", "org.apache.kafka.connect.data.Time"), json!(3_600_001), time("01:00:00.001"), ColumnType::Time),
        (named("int32", "io.debezium.time.Time"), json!(59_000), time("00:00:59"), ColumnType::Time),
        (named("int64", "io.debezium.time.MicroTime"), json!(45_296_789_012_i64), time("12:34:56.789012"), ColumnType::Time),
        (named("int64", "io.debezium.time.NanoTime"), json!(1), time("00:00:00.000000001"), ColumnType::Time),
        (named("int64", "org.apache.kafka.connect.data.Timestamp"), json!(-1), ts("1969-12-31 23:59:59.999"), ColumnType::Timestamp),
        (named("int64", "io.debezium.time.Timestamp"), json!(1_000), ts("1970-01-01 00:00:01"), ColumnType::Timestamp),
        (named("int64", "io.debezium.time.MicroTimestamp"), json!(-2_208_988_800_000_000_i64), ts("1900-01-01 00:00:00"), ColumnType::Timestamp),
        (named("int64", "io.debezium.time.NanoTimestamp"), json!(-1), ts("1969-12-31 23:59:59.999999999"), ColumnType::Timestamp),
        (named("string", "io.debezium.time.ZonedTimestamp"), json!("2024-01-15T10:00:00Z"),
            Value::TimestampTz("2024-01-15T10:00:00Z".into()), ColumnType::TimestampTz),
        (named("string", "io.debezium.time.ZonedTime"), json!("10:15:30Z"), Value::TimeTz("10:15:30Z".into()), ColumnType::TimeTz),
        (named("int32", "io.debezium.time.Year"), json!(2024), Value::Int(2024), ColumnType::Int32),
        (named("int64", "io.debezium.time.MicroDuration"), json!(90_000_000), Value::Int(90_000_000), ColumnType::Int64),
        (named("string", "io.debezium.time.Interval"), json!("P1DT2H"), text("P1DT2H"), TEXT),
    ]);
}

#[test]
#[rustfmt::skip]
fn string_bits_and_struct_semantics() {
    let uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    let point = json!({"type": "struct", "name": "io.debezium.data.geometry.Point",
        "fields": [{"type": "double", "field": "x"}, {"type": "double", "field": "y"}]});
    let map = json!({"type": "map", "keys": {"type": "string"}, "values": {"type": "string"}});
    check(vec![
        (named("string", "io.debezium.data.Json"), json!("{\"a\": 1}"), Value::Json("{\"a\": 1}".into()), ColumnType::Json),
        (named("string", "io.debezium.data.Uuid"), json!(uuid), Value::Uuid(uuid.into()), ColumnType::Uuid),
        (named("string", "io.debezium.data.Enum"), json!("red"), text("red"), TEXT),
        (named("string", "io.debezium.data.EnumSet"), json!("a,b"), text("a,b"), TEXT),
        (named("string", "io.debezium.data.Xml"), json!("<a/>"), text("<a/>"), TEXT),
        // Bits: little-endian bytes, exactly `length` characters, most significant first.
        (bits_schema(1), json!("AQ=="), Value::Bits("1".into()), ColumnType::Bits { length: Some(1) }),
        (bits_schema(8), json!("pQ=="), Value::Bits("10100101".into()), ColumnType::Bits { length: Some(8) }),
        (bits_schema(10), json!("gQI="), Value::Bits("1010000001".into()), ColumnType::Bits { length: Some(10) }),
        (bits_schema(10), json!("AQ=="), Value::Bits("0000000001".into()), ColumnType::Bits { length: Some(10) }),
        // Structs without a dedicated type stay JSON documents.
        (point, json!({"x": 1.5, "y": -2}), Value::Json("{\"x\":1.5,\"y\":-2}".into()), ColumnType::Json),
        (map, json!({"k": "v"}), Value::Json("{\"k\":\"v\"}".into()), ColumnType::Json),
    ]);
}

#[test]
fn unavailable_placeholder_forms() {
    let placeholder_ints: Vec<u8> = PLACEHOLDER.bytes().collect();
    let int_array = json!({"type": "array", "items": {"type": "int32", "optional": true}});
    let (text, b64) = (json!(PLACEHOLDER), json!(PLACEHOLDER_BASE64));
    let cases = [
        (json!({"type": "string"}), text.clone()),
        (named("string", "io.debezium.data.Json"), text),
        (json!({"type": "bytes"}), b64.clone()),
        (decimal_schema(2, None), b64),
        (int_array.clone(), json!(placeholder_ints)),
        (int_array, json!([PLACEHOLDER])),
    ];
    for (schema, payload) in cases {
        let field = typed(schema.clone(), payload).unwrap();
        assert_eq!(field.value, Value::Unavailable, "{schema}");
        assert!(field.column_type.is_some());
    }
    // The base64 text in a string column is a real value.
    let field = typed(json!({"type": "string"}), json!(PLACEHOLDER_BASE64)).unwrap();
    assert!(matches!(field.value, Value::Text(_)));
}

#[test]
fn wrong_payloads_name_the_field() {
    let cases = [
        (json!({"type": "int32"}), json!("5"), "expected an integer"),
        (json!({"type": "int8"}), json!(300), "does not fit in int8"),
        (json!({"type": "int32"}), json!(1.5), "expected an integer"),
        (json!({"type": "boolean"}), json!(1), "expected a boolean"),
        (json!({"type": "string"}), json!(5), "expected a string"),
        (
            json!({"type": "bytes"}),
            json!("not base64!"),
            "invalid base64",
        ),
        (
            json!({"type": "array", "items": {"type": "int32"}}),
            json!(5),
            "expected an array",
        ),
        (json!({"type": "array"}), json!([]), "without `items`"),
        (json!({"type": "decimal"}), json!(1), "unknown schema type"),
        (
            json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal"}),
            json!("AA=="),
            "scale",
        ),
        (decimal_schema(2, None), json!(""), "no bytes"),
        (
            named("int32", "io.debezium.time.Date"),
            json!(i64::MAX),
            "out of range",
        ),
        (
            named("int64", "io.debezium.time.MicroTime"),
            json!(-1),
            "out of range",
        ),
        (
            named("string", "io.debezium.data.Uuid"),
            json!("nope"),
            "invalid uuid",
        ),
        (bits_schema(2), json!("BA=="), "declared length"),
        (
            json!({"type": "struct", "name": "io.debezium.data.VariableScaleDecimal", "fields": []}),
            json!({"value": "AQ=="}),
            "scale",
        ),
    ];
    for (schema, payload, reason) in cases {
        let err = typed(schema.clone(), payload).unwrap_err();
        let DecodeError::BadField { field, reason: got } = &err else {
            panic!("{schema}: wrong error {err:?}");
        };
        assert!(field.starts_with("after.col"), "{schema}: {field}");
        assert!(got.contains(reason), "{schema}: {got}");
    }
}

#[test]
fn null_is_accepted_for_every_type() {
    for schema in [
        json!({"type": "int32"}),
        decimal_schema(2, None),
        bits_schema(3),
    ] {
        assert_eq!(typed(schema, Json::Null).unwrap().value, Value::Null);
    }
}
