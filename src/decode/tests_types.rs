//! The corpus `types` scenario (every common PostgreSQL type, edge values, five recorded runs)
//! decodes completely, the special values come out as PostgreSQL accepts them, and the
//! `__debezium.oldkey` header of primary-key changes decodes in every recorded scenario.

use super::test_support::{corpus_dir, record, record_from_jsonl, run_file};
use super::{
    decode, decode_old_key, DecodeConfig, DecodeError, SourceFields, NEW_KEY_HEADER, OLD_KEY_HEADER,
};
use crate::event::{ChangeEvent, Decoded, RawRecord, Row, Value};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The JSON runs of `types` (the Avro run is not JSON).
const TYPES_RUNS: [&str; 4] = [
    "default.json-schemas",
    "default.json-noschemas",
    "decimal-string.json-schemas",
    "time-connect.json-schemas",
];

fn config(schemas: bool) -> DecodeConfig {
    DecodeConfig {
        key_schemas_enable: schemas,
        value_schemas_enable: schemas,
        key_avro: None,
        value_avro: None,
        source_fields: SourceFields::All,
    }
}

fn records(scenario: &str, run: &str) -> Vec<RawRecord> {
    let text = std::fs::read_to_string(run_file(scenario, run)).expect("corpus file");
    text.lines().map(record_from_jsonl).collect()
}

fn decode_all(run: &str) -> Vec<Decoded> {
    let schemas = !run.contains("noschemas");
    records("types", run)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            decode(r, &config(schemas)).unwrap_or_else(|e| panic!("types {run} line {i}: {e}"))
        })
        .collect()
}

fn changes(decoded: &[Decoded]) -> Vec<&ChangeEvent> {
    decoded
        .iter()
        .filter_map(|d| match d {
            Decoded::Change(e) => Some(e.as_ref()),
            _ => None,
        })
        .collect()
}

/// The last image of row `id` of `table` in a run (after image, or before image of a delete).
fn after<'a>(events: &[&'a ChangeEvent], table: &str, id: i64) -> &'a Row {
    events
        .iter()
        .rev()
        .filter(|e| e.source.table.as_deref() == Some(table))
        .filter_map(|e| e.after.as_ref())
        .find(|r| {
            matches!(r.get("id").map(|f| &f.value), Some(Value::Int(i)) if *i == id)
                || matches!(r.get("id").map(|f| &f.value), Some(Value::Untyped(j)) if j.as_i64() == Some(id))
        })
        .unwrap_or_else(|| panic!("no row {id} in {table}"))
}

fn value<'a>(row: &'a Row, column: &str) -> &'a Value {
    &row.get(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .value
}

#[test]
fn every_types_record_decodes_with_the_recorded_counts() {
    for run in TYPES_RUNS {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for decoded in decode_all(run) {
            let label = match &decoded {
                Decoded::Change(event) => event.op.code().to_string(),
                Decoded::Tombstone => "tombstone".into(),
                Decoded::NotARow("message") => "m".into(),
                Decoded::NotARow(other) => (*other).to_string(),
            };
            *counts.entry(label).or_default() += 1;
        }
        let summary = corpus_dir("types").join(format!("events/{run}.summary.json"));
        let summary: Json =
            serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for (op, n) in summary["by_op"].as_object().unwrap() {
            let op = if op.starts_with("tx:") {
                "transaction"
            } else {
                op
            };
            *want.entry(op.to_string()).or_default() += n.as_u64().unwrap();
        }
        assert_eq!(counts, want, "{run}");
    }
}

#[test]
fn special_values_decode_to_what_postgresql_accepts() {
    let decoded = decode_all("default.json-schemas");
    let events = changes(&decoded);
    for id in [8, 108] {
        let row = after(&events, "types_default", id);
        assert_eq!(value(row, "c_ts0"), &Value::Infinite { negative: false });
        assert_eq!(value(row, "c_ts3"), &Value::Infinite { negative: true });
        assert_eq!(value(row, "c_ts6"), &Value::Infinite { negative: true });
        assert_eq!(value(row, "c_time6"), &Value::Text("24:00:00".into()));
        assert_eq!(value(row, "c_tstz"), &Value::Infinite { negative: false });
        assert!(matches!(value(row, "c_real"), Value::Float(f) if f.is_nan()));
        assert_eq!(value(row, "c_double"), &Value::Float(f64::NEG_INFINITY));
    }
    let row = after(&events, "types_default", 109);
    assert_eq!(value(row, "c_ts6"), &Value::Infinite { negative: false });
    assert_eq!(value(row, "c_ts0"), &Value::Infinite { negative: true });
    assert_eq!(value(row, "c_time0"), &Value::Text("24:00:00".into()));
    // Edge values of row 104 (maximum / unicode), streamed.
    let row = after(&events, "types_default", 104);
    assert_eq!(value(row, "c_bigint"), &Value::Int(i64::MAX));
    assert_eq!(
        value(row, "c_numeric_wide"),
        &Value::Decimal("9999999999999999999999999999999999999999.99999".into())
    );
    assert_eq!(
        value(row, "c_numeric_var"),
        &Value::Decimal("123456789012345678901234567890123456789012345.678901234567890123".into())
    );
    assert_eq!(
        value(row, "c_money"),
        &Value::Decimal("92233720368547758.07".into())
    );
    assert_eq!(value(row, "c_bit1"), &Value::Bool(true));
    assert_eq!(value(row, "c_bit8"), &Value::Bits("11111111".into()));
    assert_eq!(
        value(row, "c_interval"),
        &Value::Int(644_245_095_600_000_000)
    );
    assert_eq!(
        value(row, "c_varchar"),
        &Value::Text("ÄÖÜ 日本語 😀".into())
    );
    // Row 103 (minimum): all-zero bits arrive as no bytes and are padded to the length.
    let row = after(&events, "types_default", 103);
    assert_eq!(value(row, "c_bit8"), &Value::Null); // nulled by the workload
    let decoded_r = decode_all("default.json-schemas");
    let snapshot = changes(&decoded_r)
        .into_iter()
        .filter(|e| e.source.snapshot)
        .collect::<Vec<_>>();
    let row3 = after(&snapshot, "types_default", 3);
    assert_eq!(value(row3, "c_bit8"), &Value::Bits("00000000".into()));
    assert_eq!(value(row3, "c_bigint"), &Value::Int(i64::MIN));
    // BC: 0044-03-15 12:00:00.001 BC (timestamp(3)) is year -43 in chrono's proleptic calendar.
    let row205 = after(&events, "types_default", 205);
    match value(row205, "c_ts3") {
        Value::Timestamp(ts) => assert_eq!(ts.to_string(), "-0043-03-15 12:00:00.001"),
        other => panic!("c_ts3: {other:?}"),
    }
}

/// The old keys of every primary-key change in the recorded scenarios: (scenario, run,
/// line, old key JSON) found by reading the header text directly.
fn header_cases() -> Vec<(&'static str, &'static str, usize, RawRecord)> {
    let mut out = Vec::new();
    for (scenario, runs) in [
        (
            "inventory",
            &["default.json-schemas", "default.json-noschemas"][..],
        ),
        (
            "toast",
            &["default.json-schemas", "default.json-noschemas"][..],
        ),
        (
            "types",
            &[
                "default.json-schemas",
                "default.json-noschemas",
                "time-connect.json-schemas",
            ][..],
        ),
    ] {
        for run in runs {
            for (i, r) in records(scenario, run).into_iter().enumerate() {
                if r.headers.iter().any(|(n, _)| n == OLD_KEY_HEADER) {
                    out.push((scenario, *run, i, r));
                }
            }
        }
    }
    out
}

#[test]
fn old_key_header_decodes_on_every_recorded_primary_key_change() {
    let cases = header_cases();
    // inventory: 3 key changes; toast: 2; types: 2 (per run).
    let per_run: BTreeMap<(&str, &str), usize> =
        cases.iter().fold(BTreeMap::new(), |mut m, (s, r, _, _)| {
            *m.entry((*s, *r)).or_default() += 1;
            m
        });
    assert_eq!(per_run[&("inventory", "default.json-schemas")], 3);
    assert_eq!(per_run[&("toast", "default.json-noschemas")], 2);
    assert_eq!(per_run[&("types", "default.json-schemas")], 2);
    for (scenario, run, line, record) in &cases {
        let schemas = run.contains("json-schemas");
        let old = decode_old_key(record, &config(schemas))
            .unwrap_or_else(|e| panic!("{scenario} {run} line {line}: {e}"))
            .unwrap_or_else(|| panic!("{scenario} {run} line {line}: no old key"));
        // The header's key has the same columns as the record key, with other values.
        let Decoded::Change(event) = decode(record, &config(schemas)).unwrap() else {
            panic!("{scenario} {run} line {line}: not a change");
        };
        assert_eq!(event.op.code(), "c", "{scenario} {run} line {line}");
        let names = |r: &Row| r.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&old),
            names(&event.key),
            "{scenario} {run} line {line}"
        );
        assert_ne!(old, event.key, "{scenario} {run} line {line}");
        // The header is typed exactly when the key is.
        assert_eq!(
            old.fields[0].column_type.is_some(),
            schemas,
            "{scenario} {run} line {line}"
        );
    }
    // The types scenario's key change is 5 -> 205 on both tables.
    for (scenario, run, line, record) in &cases {
        if *scenario != "types" {
            continue;
        }
        let old = decode_old_key(record, &config(run.contains("json-schemas")))
            .unwrap()
            .unwrap();
        let id = &old.get("id").unwrap().value;
        assert!(
            id == &Value::Int(5) || id == &Value::untyped(json!(5)),
            "{run} line {line}: {id:?}"
        );
    }
    // Every other record has no old key.
    for (scenario, run) in [
        ("inventory", "default.json-schemas"),
        ("types", "default.json-noschemas"),
    ] {
        let schemas = run.contains("json-schemas");
        for r in records(scenario, run) {
            if !r.headers.iter().any(|(n, _)| n == OLD_KEY_HEADER) {
                assert_eq!(decode_old_key(&r, &config(schemas)), Ok(None));
            }
        }
    }
}

/// The delete half of every recorded primary-key change (`__debezium.newkey`) decodes as a
/// re-keyed delete; no other record does (its tombstone is not a change).
#[test]
fn new_key_header_marks_the_delete_half_of_every_recorded_primary_key_change() {
    for (scenario, run) in [
        ("inventory", "default.json-schemas"),
        ("toast", "default.json-noschemas"),
        ("types", "default.json-schemas"),
    ] {
        let schemas = !run.contains("noschemas");
        let (mut rekeyed, mut creates) = (0, 0);
        for r in records(scenario, run) {
            let header = r.headers.iter().any(|(n, _)| n == NEW_KEY_HEADER);
            let Ok(Decoded::Change(event)) = decode(&r, &config(schemas)) else {
                continue;
            };
            assert_eq!(
                event.rekeyed,
                header && event.op.code() == "d",
                "{scenario} {run} {:?}",
                r.coordinates
            );
            rekeyed += usize::from(event.rekeyed);
            creates += usize::from(event.old_key.is_some());
        }
        assert!(rekeyed > 0, "{scenario} {run}: no re-keyed delete");
        assert_eq!(
            rekeyed, creates,
            "{scenario} {run}: deletes and creates pair up"
        );
    }
}

#[test]
fn old_key_header_edge_cases() {
    let with_header = |value: Option<&str>| {
        let mut r = record("dbserver1.public.t", Some(r#"{"id":2}"#), None);
        r.headers
            .push((OLD_KEY_HEADER.into(), value.map(|v| v.as_bytes().to_vec())));
        r
    };
    let cfg = config(false);
    assert_eq!(decode_old_key(&with_header(None), &cfg), Ok(None));
    assert_eq!(decode_old_key(&with_header(Some("null")), &cfg), Ok(None));
    // JsonConverter with schemas writes a null header as {"schema":null,"payload":null}.
    assert_eq!(
        decode_old_key(
            &with_header(Some(r#"{"schema":null,"payload":null}"#)),
            &config(true)
        ),
        Ok(None)
    );
    assert!(matches!(
        decode_old_key(&with_header(Some("{not json")), &cfg),
        Err(DecodeError::MalformedJson { .. })
    ));
    assert!(matches!(
        decode_old_key(&with_header(Some("42")), &cfg),
        Err(DecodeError::BadField { .. })
    ));
    // A schema-wrapped header is unwrapped even when the key converter has schemas off
    // (the header converter is configured separately).
    let wrapped = r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false},"payload":{"id":7}}"#;
    let row = decode_old_key(&with_header(Some(wrapped)), &cfg)
        .unwrap()
        .unwrap();
    assert_eq!(row.get("id").unwrap().value, Value::Int(7));
    // The last header of that name wins.
    let mut r = with_header(Some(r#"{"id":1}"#));
    r.headers
        .push((OLD_KEY_HEADER.into(), Some(br#"{"id":3}"#.to_vec())));
    let row = decode_old_key(&r, &cfg).unwrap().unwrap();
    assert_eq!(row.get("id").unwrap().value, Value::untyped(json!(3)));
}
