//! The `source` block (where the change happened) and the `transaction` block.
//!
//! The source block differs per connector; the fields the resolve stage orders by (PostgreSQL
//! `lsn`, MySQL `file`/`pos`/`row`, `ts_ms`) are lifted out, and every field is also kept as
//! text for `${source.<field>}` placeholders. Position fields of an unexpected type are left
//! unset rather than failing the record: the version guard then falls back to `ts_ms` and the
//! Kafka offset, as DESIGN.md describes.

use super::converter::json_type;
use super::DecodeError;
use crate::event::{SourcePosition, TxInfo};
use serde_json::{Map, Value as Json};

/// Reads the `source` block; an absent or null block gives an empty position.
pub(crate) fn position(source: Option<&Json>) -> Result<SourcePosition, DecodeError> {
    let object = match source {
        None | Some(Json::Null) => return Ok(SourcePosition::default()),
        Some(Json::Object(object)) => object,
        Some(other) => {
            return Err(DecodeError::bad_field(
                "source",
                format!("expected an object, got {}", json_type(other)),
            ))
        }
    };
    let text = |key: &str| object.get(key).and_then(Json::as_str).map(str::to_string);
    Ok(SourcePosition {
        name: text("name"),
        connector: text("connector"),
        db: text("db"),
        schema: text("schema"),
        table: text("table"),
        lsn: integer(object, "lsn"),
        binlog_file: text("file"),
        binlog_pos: integer(object, "pos"),
        binlog_row: integer(object, "row"),
        ts_ms: integer(object, "ts_ms"),
        snapshot: snapshot(object.get("snapshot")),
        fields: object
            .iter()
            .filter_map(|(k, v)| render(v).map(|t| (k.clone(), t)))
            .collect(),
    })
}

/// An integer field, accepting the numeric strings some connectors write.
fn integer(object: &Map<String, Json>, key: &str) -> Option<i64> {
    match object.get(key)? {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `snapshot` is an enum string (`true`, `first`, `last`, `incremental`, ..., `false`) in current
/// Debezium and a boolean in old versions; only `false` and null mean streaming.
fn snapshot(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s != "false",
        Some(_) => true,
    }
}

/// A source field as placeholder text. Null fields are left out, so a placeholder naming one
/// is reported as missing instead of silently becoming an empty name.
fn render(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        // With arbitrary_precision this is the number exactly as it was written.
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Reads the `transaction` block (`provide.transaction.metadata=true`); absent or null is
/// `None`, a block without a usable `id` or `total_order` is an error.
pub(crate) fn transaction(block: Option<&Json>) -> Result<Option<TxInfo>, DecodeError> {
    let object = match block {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Object(object)) => object,
        Some(other) => {
            return Err(DecodeError::bad_field(
                "transaction",
                format!("expected an object, got {}", json_type(other)),
            ))
        }
    };
    let id = match object.get("id") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => {
            return Err(DecodeError::bad_field(
                "transaction.id",
                "missing or not a string",
            ))
        }
    };
    let total_order = object
        .get("total_order")
        .and_then(Json::as_i64)
        .ok_or_else(|| {
            DecodeError::bad_field("transaction.total_order", "missing or not an integer")
        })?;
    Ok(Some(TxInfo { id, total_order }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mysql_position_and_fields() {
        let src = json!({"connector": "mysql", "name": "db1", "file": "binlog.000003",
            "pos": 154, "row": 2, "ts_ms": 1700000000000_i64, "snapshot": "false",
            "gtid": null, "server_id": 223344, "flag": true});
        let p = position(Some(&src)).unwrap();
        assert_eq!(p.binlog_file.as_deref(), Some("binlog.000003"));
        assert_eq!(
            (p.binlog_pos, p.binlog_row, p.lsn),
            (Some(154), Some(2), None)
        );
        assert!(!p.snapshot);
        let names: Vec<&str> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!names.contains(&"gtid"));
        assert!(p.fields.contains(&("server_id".into(), "223344".into())));
        assert!(p.fields.contains(&("flag".into(), "true".into())));
    }

    #[test]
    fn snapshot_flag_forms() {
        for (v, want) in [
            (json!("true"), true),
            (json!("first"), true),
            (json!("last"), true),
            (json!("incremental"), true),
            (json!("false"), false),
            (json!(null), false),
            (json!(true), true),
            (json!(false), false),
        ] {
            assert_eq!(snapshot(Some(&v)), want, "{v}");
        }
    }

    #[test]
    fn transaction_block() {
        let tx = json!({"id": "748:26459912", "total_order": 3, "data_collection_order": 1});
        let got = transaction(Some(&tx)).unwrap().unwrap();
        assert_eq!((got.id.as_str(), got.total_order), ("748:26459912", 3));
        assert_eq!(transaction(Some(&json!(null))), Ok(None));
        let err = transaction(Some(&json!({"id": "x"}))).unwrap_err();
        assert!(err.to_string().contains("transaction.total_order"));
        assert!(position(Some(&json!("x"))).is_err());
    }
}
