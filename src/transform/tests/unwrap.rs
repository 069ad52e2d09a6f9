//! Debezium's ExtractNewRecordState: delete modes, added fields, routing.

use super::*;

#[test]
fn extract_new_record_state_modes() {
    const U: &str = "io.debezium.transforms.ExtractNewRecordState";
    // Default (tombstone): a delete stays a delete; nothing is added.
    let default = one(U, &[]);
    let out = run(&default, delete()).unwrap();
    assert_eq!(out.op, Op::Delete);
    assert_eq!(run(&default, create()).unwrap().after, create().after);
    for legacy in ["none", "tombstone", "delete-to-tombstone"] {
        assert_eq!(
            run(&one(U, &[("delete.handling.mode", legacy)]), delete())
                .unwrap()
                .op,
            Op::Delete
        );
    }
    // drop: deletes never reach the table.
    let drop = one(U, &[("delete.tombstone.handling.mode", "drop")]);
    assert!(run(&drop, delete()).is_none());
    assert!(run(&drop, create()).is_some());
    // rewrite: a soft delete, as an update of the last row state.
    let rewrite = one(
        U,
        &[
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "false"),
        ],
    );
    let out = run(&rewrite, delete()).unwrap();
    assert_eq!(out.op, Op::Update);
    let after = out.after.unwrap();
    assert_eq!(
        value(&after, "email"),
        Some(&Value::Text("a@example.com".into()))
    );
    assert_eq!(
        value(&after, "__deleted"),
        Some(&Value::Text("true".into()))
    );
    let created = run(&rewrite, create()).unwrap().after.unwrap();
    assert_eq!(
        value(&created, "__deleted"),
        Some(&Value::Text("false".into()))
    );
    // Added fields describe the change Debezium sent: a rewritten delete keeps op d.
    let with_op = one(
        U,
        &[("delete.handling.mode", "rewrite"), ("add.fields", "op")],
    );
    let after = run(&with_op, delete()).unwrap().after.unwrap();
    assert_eq!(value(&after, "__op"), Some(&Value::Text("d".into())));
    // A rewrite that keeps the tombstone, into a sink that deletes on tombstones: Kafka
    // Connect soft-deletes and then deletes the row, so the delete stays a delete.
    for options in [
        &[("delete.tombstone.handling.mode", "rewrite-with-tombstone")][..],
        &[
            ("delete.handling.mode", "rewrite"),
            ("drop.tombstones", "false"),
        ][..],
    ] {
        let mut pairs = vec![
            ("transforms", "t"),
            ("transforms.t.type", U),
            ("delete.enabled", "true"),
        ];
        let keys: Vec<(String, &str)> = options
            .iter()
            .map(|(k, v)| (format!("transforms.t.{k}"), *v))
            .collect();
        pairs.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
        let chain = chain_of(&pairs);
        assert_eq!(run(&chain, delete()).unwrap().op, Op::Delete, "{options:?}");
        let created = run(&chain, create()).unwrap().after.unwrap();
        assert_eq!(
            value(&created, "__deleted"),
            Some(&Value::Text("false".into()))
        );
        // Without delete.enabled the soft-deleted row is what remains.
        pairs.retain(|(k, _)| *k != "delete.enabled");
        assert_eq!(run(&chain_of(&pairs), delete()).unwrap().op, Op::Update);
    }
    // The new option wins over the legacy one.
    let both = one(
        U,
        &[
            ("delete.handling.mode", "rewrite"),
            ("delete.tombstone.handling.mode", "drop"),
        ],
    );
    assert!(run(&both, delete()).is_none());
}

#[test]
fn extract_new_record_state_add_fields_and_route() {
    const U: &str = "io.debezium.transforms.ExtractNewRecordState";
    let chain = one(
        U,
        &[
            (
                "add.fields",
                "op,table,lsn,source.ts_ms,ts_ms:EVENT_TS,transaction.id,total_order,missing",
            ),
            ("route.by.field", "email"),
        ],
    );
    let out = run(&chain, create()).unwrap();
    assert_eq!(out.topic(), "a@example.com");
    let after = out.after.unwrap();
    let expected = [
        ("__op", Value::Text("c".into())),
        ("__table", Value::Text("customers".into())),
        ("__lsn", Value::Int(123)),
        ("__source_ts_ms", Value::Int(1_700_000_000_000)),
        ("__EVENT_TS", Value::Int(1_700_000_001_000)),
        ("__transaction_id", Value::Text("571:123".into())),
        ("__total_order", Value::Int(3)),
    ];
    for (name, want) in expected {
        assert_eq!(value(&after, name), Some(&want), "{name}");
    }
    assert!(after.get("__missing").is_none());
    let prefixed = one(U, &[("add.fields", "op"), ("add.fields.prefix", "cdc_")]);
    assert!(run(&prefixed, create())
        .unwrap()
        .after
        .unwrap()
        .get("cdc_op")
        .is_some());
}

/// The pipeline decodes of a change's `source` block only the fields its names and transforms
/// read as text: an unwrap adds the same columns from a change decoded with just the fields
/// it asks for as from one decoded whole.
#[test]
fn an_unwrap_adds_the_same_columns_from_a_change_decoded_with_only_its_source_fields() {
    use crate::decode::{decode, DecodeConfig, SourceFields};
    use crate::event::{Decoded, RawRecord};
    const U: &str = "io.debezium.transforms.ExtractNewRecordState";
    let chain = one(
        U,
        &[(
            "add.fields",
            "op,table,lsn,source.ts_ms,ts_ms:EVENT_TS,transaction.id,version,db",
        )],
    );
    assert_eq!(
        chain.source_fields(),
        ["table", "lsn", "ts_ms", "version", "db"]
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus/inventory/default.json-schemas.jsonl");
    let text = std::fs::read_to_string(path).expect("corpus");
    let line: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .find(|l: &serde_json::Value| {
            l["value"]
                .as_str()
                .is_some_and(|v| v.contains("\"op\":\"u\""))
        })
        .expect("an update in the corpus");
    let bytes = |part: &str| line[part].as_str().map(|s| s.as_bytes().to_vec());
    let record = RawRecord {
        coordinates: Coordinates {
            topic: line["topic"].as_str().expect("topic").into(),
            partition: 0,
            offset: line["offset"].as_i64().expect("offset"),
        },
        key: bytes("key"),
        value: bytes("value"),
        headers: Vec::new(),
        timestamp_ms: None,
    };
    let decoded = |source_fields: SourceFields| {
        let config = DecodeConfig {
            source_fields,
            ..DecodeConfig::default()
        };
        match decode(&record, &config) {
            Ok(Decoded::Change(event)) => *event,
            other => panic!("not a change: {other:?}"),
        }
    };
    let whole = decoded(SourceFields::All);
    let narrowed = decoded(SourceFields::Named(chain.source_fields()));
    let names = |e: &ChangeEvent| -> Vec<String> {
        e.source.fields.iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(names(&narrowed), ["version", "ts_ms", "db", "table", "lsn"]);
    assert!(names(&whole).len() > names(&narrowed).len());
    // The typed position is whole either way (the version guard orders by it).
    assert_eq!(narrowed.source.lsn, whole.source.lsn);
    assert_eq!(narrowed.source.ts_ms, whole.source.ts_ms);
    let (whole, narrowed) = (run(&chain, whole).unwrap(), run(&chain, narrowed).unwrap());
    assert_eq!(narrowed.after, whole.after);
    assert_eq!(
        value(narrowed.after.as_ref().unwrap(), "__db"),
        Some(&Value::Text("inventory".into()))
    );
}
