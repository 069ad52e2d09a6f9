//! The `source` block (where the change happened) and the `transaction` block.
//!
//! The source block differs per connector; the fields the resolve stage orders by (PostgreSQL
//! `lsn`, MySQL `file`/`pos`/`row`, `ts_ms`) are lifted out, and the fields the connector
//! reads by name (`${source.<field>}` placeholders, an unwrap's `add.fields`; every field when
//! [`SourceFields::All`]) are also kept as text. Position fields of an unexpected type are left
//! unset rather than failing the record: the version guard then falls back to `ts_ms` and the
//! Kafka offset, as DESIGN.md describes.

use super::object::{Node, Object};
use super::{DecodeError, SourceFields};
use crate::event::{SourcePosition, TxInfo};
use serde_json::Value as Json;

/// The block, if present and not null; `name` names it in the error when it is no object.
fn block<'p>(node: Option<Node<'p>>, name: &str) -> Result<Option<Object<'p>>, DecodeError> {
    match node {
        None => Ok(None),
        Some(node) if node.is_null() => Ok(None),
        Some(node) => node.as_object().map(Some).ok_or_else(|| {
            DecodeError::bad_field(
                name,
                format!("expected an object, got {}", node.type_name()),
            )
        }),
    }
}

/// Reads the `source` block; an absent or null block gives an empty position. Of its fields
/// as text, only those `keep` names.
pub(crate) fn position(
    source: Option<Node<'_>>,
    keep: &SourceFields,
) -> Result<SourcePosition, DecodeError> {
    let Some(object) = block(source, "source")? else {
        return Ok(SourcePosition::default());
    };
    let text = |key: &str| object.get(key).and_then(Node::as_str).map(str::to_string);
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
        snapshot: object.get("snapshot").is_some_and(|s| snapshot(&s.json())),
        fields: object
            .iter()
            .filter(|(k, _)| keep.keeps(k))
            .filter_map(|(k, v)| render(&v.json()).map(|t| (k.to_string(), t)))
            .collect(),
    })
}

/// An integer field, accepting the numeric strings some connectors write.
fn integer(object: Object<'_>, key: &str) -> Option<i64> {
    match object.get(key)? {
        Node::Json(Json::Number(n)) => n.as_i64(),
        Node::Json(Json::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// `snapshot` is an enum string (`true`, `first`, `last`, `incremental`, ..., `false`) in current
/// Debezium and a boolean in old versions; only `false` and null mean streaming.
fn snapshot(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::String(s) => s != "false",
        _ => true,
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
pub(crate) fn transaction(node: Option<Node<'_>>) -> Result<Option<TxInfo>, DecodeError> {
    let Some(object) = block(node, "transaction")? else {
        return Ok(None);
    };
    let id = match object.get("id") {
        Some(Node::Json(Json::String(s))) => s.clone(),
        Some(Node::Json(Json::Number(n))) => n.to_string(),
        _ => {
            return Err(DecodeError::bad_field(
                "transaction.id",
                "missing or not a string",
            ))
        }
    };
    let total_order = object
        .get("total_order")
        .and_then(Node::as_i64)
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
        let p = position(Some(Node::Json(&src)), &SourceFields::All).unwrap();
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
            assert_eq!(snapshot(&v), want, "{v}");
        }
    }

    #[test]
    fn transaction_block() {
        let tx = json!({"id": "748:26459912", "total_order": 3, "data_collection_order": 1});
        let got = transaction(Some(Node::Json(&tx))).unwrap().unwrap();
        assert_eq!((got.id.as_str(), got.total_order), ("748:26459912", 3));
        assert_eq!(transaction(Some(Node::Json(&json!(null)))), Ok(None));
        let err = transaction(Some(Node::Json(&json!({"id": "x"})))).unwrap_err();
        assert!(err.to_string().contains("transaction.total_order"));
        assert!(position(Some(Node::Json(&json!("x"))), &SourceFields::All).is_err());
    }
}
