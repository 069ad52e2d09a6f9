//! Every record of the recorded Debezium corpus decodes, with the counts the recorder saw, and
//! the typed (json-schemas) and untyped (json-noschemas) runs agree value by value.

use super::test_support::{corpus_dir, record_from_jsonl};
use super::{decode, DecodeConfig, SourceFields};
use crate::event::{ChangeEvent, Decoded, Row, Value};
use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::Value as Json;
use std::collections::BTreeMap;

const SCENARIOS: [&str; 2] = ["inventory", "toast"];

/// Decodes every line of one run, panicking with the line number on the first error.
fn decode_run(scenario: &str, format: &str) -> Vec<Decoded> {
    let path = corpus_dir(scenario).join(format!("default.{format}.jsonl"));
    let text = std::fs::read_to_string(&path).expect("corpus file");
    let schemas = format == "json-schemas";
    let config = DecodeConfig {
        key_schemas_enable: schemas,
        value_schemas_enable: schemas,
        key_avro: None,
        value_avro: None,
        source_fields: SourceFields::All,
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            decode(&record_from_jsonl(line), &config)
                .unwrap_or_else(|e| panic!("{scenario} {format} line {i}: {e}"))
        })
        .collect()
}

/// The summary's op label of a decoded record (transactions counted together).
fn label(decoded: &Decoded) -> String {
    match decoded {
        Decoded::Change(event) => event.op.code().to_string(),
        Decoded::Tombstone => "tombstone".into(),
        Decoded::NotARow("message") => "m".into(),
        Decoded::NotARow(other) => (*other).to_string(),
    }
}

#[test]
fn every_corpus_record_decodes_with_the_recorded_counts() {
    for scenario in SCENARIOS {
        for format in ["json-schemas", "json-noschemas"] {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for decoded in decode_run(scenario, format) {
                *counts.entry(label(&decoded)).or_default() += 1;
            }
            let summary_path = corpus_dir(scenario).join(format!("default.{format}.summary.json"));
            let summary: Json =
                serde_json::from_str(&std::fs::read_to_string(summary_path).unwrap()).unwrap();
            let mut want: BTreeMap<String, u64> = BTreeMap::new();
            for (op, n) in summary["by_op"].as_object().unwrap() {
                let op = if op.starts_with("tx:") {
                    "transaction"
                } else {
                    op
                };
                *want.entry(op.to_string()).or_default() += n.as_u64().unwrap();
            }
            assert_eq!(counts, want, "{scenario} {format}");
        }
    }
}

#[test]
fn inventory_changes_carry_position_key_and_types() {
    let run = decode_run("inventory", "json-schemas");
    let changes: Vec<&ChangeEvent> = run
        .iter()
        .filter_map(|d| match d {
            Decoded::Change(e) => Some(e.as_ref()),
            _ => None,
        })
        .collect();
    let first = changes[0];
    assert_eq!(first.source.connector.as_deref(), Some("postgresql"));
    assert_eq!(first.source.table.as_deref(), Some("customers"));
    assert!(first.source.snapshot && first.source.lsn.is_some() && first.tx.is_none());
    assert_eq!(
        first.key.get("id").map(|f| &f.value),
        Some(&Value::Int(1001))
    );
    let streamed = changes.iter().find(|e| !e.source.snapshot).unwrap();
    assert!(streamed.tx.is_some());
    assert!(streamed.source.fields.iter().any(|(k, _)| k == "sequence"));
    // orders.order_date is io.debezium.time.Date.
    let order = changes
        .iter()
        .find(|e| e.source.table.as_deref() == Some("orders"))
        .unwrap();
    let date = &order
        .after
        .as_ref()
        .unwrap()
        .get("order_date")
        .unwrap()
        .value;
    assert_eq!(
        date,
        &Value::Date(NaiveDate::from_ymd_opt(2016, 1, 16).unwrap())
    );
    // Truncates have no key and no images.
    let truncate = changes.iter().find(|e| e.op.code() == "t").unwrap();
    assert!(
        truncate.key.fields.is_empty() && truncate.before.is_none() && truncate.after.is_none()
    );
}

#[test]
fn toast_placeholders_become_unavailable_in_both_formats() {
    for format in ["json-schemas", "json-noschemas"] {
        let mut unavailable: BTreeMap<String, u64> = BTreeMap::new();
        for decoded in decode_run("toast", format) {
            let Decoded::Change(event) = decoded else {
                continue;
            };
            for field in event
                .after
                .iter()
                .chain(event.before.iter())
                .flat_map(|r| &r.fields)
            {
                if field.value == Value::Unavailable {
                    *unavailable.entry(field.name.clone()).or_default() += 1;
                }
            }
        }
        // Every large column is reported unavailable at least once, in both formats alike.
        let names: Vec<&str> = unavailable.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["big_bytea", "big_int_arr", "big_jsonb", "big_text"],
            "{format}"
        );
    }
}

#[test]
fn typed_and_untyped_runs_agree() {
    for scenario in SCENARIOS {
        let typed = decode_run(scenario, "json-schemas");
        let untyped = decode_run(scenario, "json-noschemas");
        assert_eq!(typed.len(), untyped.len());
        for (i, (t, u)) in typed.iter().zip(&untyped).enumerate() {
            assert_eq!(label(t), label(u), "{scenario} line {i}");
            if let (Decoded::Change(t), Decoded::Change(u)) = (t, u) {
                let pairs = [(&t.before, &u.before), (&t.after, &u.after)];
                for (tr, ur) in pairs {
                    assert_eq!(tr.is_some(), ur.is_some(), "{scenario} line {i}");
                    if let (Some(tr), Some(ur)) = (tr, ur) {
                        rows_agree(tr, ur, &format!("{scenario} line {i}"));
                    }
                }
                rows_agree(&t.key, &u.key, &format!("{scenario} line {i} key"));
            }
        }
    }
}

fn rows_agree(typed: &Row, untyped: &Row, at: &str) {
    let names = |r: &Row| r.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(typed), names(untyped), "{at}");
    for (t, u) in typed.fields.iter().zip(&untyped.fields) {
        assert!(
            t.column_type.is_some() && u.column_type.is_none(),
            "{at} {}",
            t.name
        );
        let ok = match &u.value {
            Value::Unavailable => t.value == Value::Unavailable,
            Value::Untyped(json) => same(&t.value, json),
            _ => false,
        };
        assert!(ok, "{at} {}: {:?} vs {:?}", t.name, t.value, u.value);
    }
}

/// Whether a typed value means what the schemaless JSON says (for the corpus's types).
fn same(typed: &Value, json: &Json) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    match typed {
        Value::Null => json.is_null(),
        Value::Int(i) => json.as_i64() == Some(*i),
        Value::Float(f) => json.as_f64() == Some(*f),
        Value::Text(s) | Value::Json(s) => json.as_str() == Some(s.as_str()),
        Value::Bytes(b) => json.as_str() == Some(b64.encode(b).as_str()),
        Value::Date(d) => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            json.as_i64() == Some((*d - epoch).num_days())
        }
        Value::Array(items) => json.as_array().is_some_and(|j| {
            j.len() == items.len() && items.iter().zip(j).all(|(t, j)| same(t, j))
        }),
        other => panic!("corpus value type not covered by this check: {other:?}"),
    }
}
