//! Debezium's `ExtractNewRecordState` ("unwrap") for configs written for Confluent's JDBC
//! sink, and Connect's `ExtractField$Value` with `field=after`.
//!
//! A sluice change event is already the row state, so unwrapping keeps the row. What remains
//! of the transform is what it does to deletes and the metadata columns it adds.

use crate::event::{ChangeEvent, ColumnType, Field, Op, Row, Value};

/// `delete.tombstone.handling.mode` (or the older `delete.handling.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeleteMode {
    /// `tombstone` (default), `delete-to-tombstone`, older `none`: the delete reaches the
    /// sink as a delete (applied when `delete.enabled`).
    Delete,
    /// `drop`: deletes are dropped; the target keeps the row.
    Drop,
    /// `rewrite`: a delete becomes an upsert of its last row state with `__deleted` =
    /// `true` (a soft delete); other changes get `__deleted` = `false`.
    Rewrite,
    /// `rewrite-with-tombstone`: as `rewrite`, and the tombstone after the delete is kept
    /// (read at config time into [`Unwrap::tombstone_deletes`]).
    RewriteWithTombstone,
}

impl DeleteMode {
    pub(super) fn parse(name: &str) -> Option<DeleteMode> {
        Some(match name.trim() {
            "tombstone" | "delete-to-tombstone" | "none" => DeleteMode::Delete,
            "drop" => DeleteMode::Drop,
            "rewrite" => DeleteMode::Rewrite,
            "rewrite-with-tombstone" => DeleteMode::RewriteWithTombstone,
            _ => return None,
        })
    }
}

/// One `add.fields` entry: `[struct.]field[:NEW_NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AddField {
    /// `source` or `transaction`, when given.
    pub scope: Option<String>,
    pub field: String,
    /// The column name: prefix + the new name, else prefix + `[struct_]field`.
    pub column: String,
}

impl AddField {
    pub(super) fn parse(spec: &str, prefix: &str) -> Option<AddField> {
        let (path, rename) = match spec.split_once(':') {
            Some((path, name)) => (path.trim(), Some(name.trim())),
            None => (spec.trim(), None),
        };
        let (scope, field) = match path.split_once('.') {
            Some((scope, field)) => (Some(scope.to_string()), field.to_string()),
            None => (None, path.to_string()),
        };
        if field.is_empty() || rename.is_some_and(str::is_empty) {
            return None;
        }
        let column = match (rename, &scope) {
            (Some(name), _) => format!("{prefix}{name}"),
            (None, Some(scope)) => format!("{prefix}{scope}_{field}"),
            (None, None) => format!("{prefix}{field}"),
        };
        Some(AddField {
            scope,
            field,
            column,
        })
    }

    /// What of the change this field reads.
    fn reads(&self) -> Reads<'_> {
        match (self.scope.as_deref(), self.field.as_str()) {
            (None, "op") => Reads::Op,
            (None, "ts_ms") => Reads::TsMs,
            // `id` and `total_order` without a struct are the transaction's, as in Debezium.
            (None | Some("transaction"), "id") => Reads::TxId,
            (None | Some("transaction"), "total_order") => Reads::TxOrder,
            (None | Some("source"), field) => Reads::Source(field),
            _ => Reads::Nothing,
        }
    }

    /// The value of this field for `event`, `None` when the event does not have it.
    fn value(&self, event: &ChangeEvent) -> Option<(Value, ColumnType)> {
        let text = |s: String| Some((Value::Text(s), ColumnType::Text { max_len: None }));
        let int = |n: i64| Some((Value::Int(n), ColumnType::Int64));
        match self.reads() {
            Reads::Op => text(event.op.code().to_string()),
            Reads::TsMs => event.ts_ms.and_then(int),
            Reads::TxId => event.tx.as_ref().and_then(|t| text(t.id.clone())),
            Reads::TxOrder => event.tx.as_ref().and_then(|t| int(t.total_order)),
            Reads::Source(field) => {
                let raw = event
                    .source
                    .fields
                    .iter()
                    .find(|(name, _)| name == field)
                    .map(|(_, v)| v.clone())?;
                // Debezium's numeric source fields stay numbers (lsn, ts_ms, pos, ...).
                match raw.parse::<i64>() {
                    Ok(n) if NUMERIC_SOURCE_FIELDS.contains(&field) => int(n),
                    _ => text(raw),
                }
            }
            Reads::Nothing => None,
        }
    }
}

/// What an `add.fields` entry reads of a change.
enum Reads<'a> {
    Op,
    TsMs,
    TxId,
    TxOrder,
    /// A field of the `source` block, by name.
    Source(&'a str),
    Nothing,
}

/// Source block fields Debezium declares as integers.
const NUMERIC_SOURCE_FIELDS: &[&str] = &[
    "ts_ms",
    "ts_us",
    "ts_ns",
    "lsn",
    "txId",
    "xmin",
    "pos",
    "row",
    "server_id",
    "thread",
    "event_serial_no",
    "scn",
    "commit_scn",
];

/// The configured unwrap.
#[derive(Debug, Clone)]
pub(super) struct Unwrap {
    pub deletes: DeleteMode,
    /// With `rewrite`: whether the tombstone that follows each delete is kept
    /// (`rewrite-with-tombstone`, or `drop.tombstones=false`) and the sink deletes on
    /// tombstones (`delete.enabled`). Kafka Connect then soft-deletes and at once deletes the
    /// row; sluice deletes it.
    pub tombstone_deletes: bool,
    pub add_fields: Vec<AddField>,
    /// `route.by.field`: the topic becomes this column's value (of `after`, or `before` for
    /// a delete), so `${topic}` names the table after it.
    pub route_by_field: Option<String>,
}

/// The soft-delete column `rewrite` adds.
const DELETED: &str = "__deleted";

impl Unwrap {
    /// The `source` block fields `add.fields` reads.
    pub(super) fn source_fields(&self) -> impl Iterator<Item = String> + '_ {
        self.add_fields.iter().filter_map(|f| match f.reads() {
            Reads::Source(field) => Some(field.to_string()),
            _ => None,
        })
    }

    pub(super) fn apply(&self, mut event: ChangeEvent) -> Option<ChangeEvent> {
        if event.op == Op::Truncate {
            return Some(event);
        }
        let delete = event.op == Op::Delete;
        if let Some(column) = &self.route_by_field {
            let row = if delete { &event.before } else { &event.after };
            let topic = row
                .as_ref()
                .and_then(|r| r.get(column))
                .and_then(|f| match &f.value {
                    Value::Text(s) => Some(s.clone()),
                    Value::Untyped(json) => json.as_str().map(str::to_string),
                    _ => None,
                });
            if let Some(topic) = topic {
                event.route = Some(topic);
            }
        }
        if delete && self.deletes == DeleteMode::Drop {
            return None;
        }
        // Metadata comes from the change as Debezium sent it (a rewritten delete keeps op d).
        let added: Vec<Field> = self
            .add_fields
            .iter()
            .filter_map(|f| {
                f.value(&event).map(|(value, t)| Field {
                    name: f.column.clone(),
                    value,
                    column_type: Some(t),
                    optional: true,
                    default: None,
                })
            })
            .chain((self.deletes == DeleteMode::Rewrite).then(|| Field {
                name: DELETED.into(),
                value: Value::Text(delete.to_string()),
                column_type: Some(ColumnType::Text { max_len: None }),
                optional: true,
                default: None,
            }))
            .collect();
        if delete && self.deletes == DeleteMode::Rewrite && !self.tombstone_deletes {
            // The last state of the row (Debezium's `before`), as an update.
            let row = event.before.clone().unwrap_or_else(|| event.key.clone());
            event.after = Some(row);
            event.op = Op::Update;
        }
        if let Some(after) = event.after.as_mut() {
            add(after, &added);
        }
        Some(event)
    }
}

/// Adds the fields, replacing a column of the same name (as Debezium does).
fn add(row: &mut Row, fields: &[Field]) {
    for field in fields {
        match row.get_mut(&field.name) {
            Some(existing) => *existing = field.clone(),
            None => row.fields.push(field.clone()),
        }
    }
}
