//! Multi-source conflicts found while applying a table's changes: the current row is read,
//! column strategies merge it with the incoming values, and every conflict is recorded in
//! `sluice_conflicts` (resolved by the strategy, or pending review) in the batch transaction.

use super::apply::{KeyState, Writing};
use super::catalog::TableInfo;
use super::db::Tx;
use super::plan::RowChange;
use super::render::{text, Param};
use super::SinkError;
use crate::checkpoint::now_ms;
use crate::event::{Field, Op, Row, Value};
use crate::resolve::conflict::{take_incoming, Winner, Writer};
use crate::resolve::late::record_id;
use std::collections::BTreeMap;

/// Column texts of one side of a conflict (`None` is NULL).
type Texts = BTreeMap<String, Option<String>>;

/// A conflict found by the version loop, before its row values are known.
pub(super) struct Detected<'a> {
    slot: usize,
    change: &'a RowChange,
    winner: Winner,
    /// The row as this batch already wrote it, when it did.
    in_batch: Option<Vec<Field>>,
    current_writer: Writer,
    current_deleted: bool,
}

impl<'a> Detected<'a> {
    pub(super) fn new(
        slot: usize,
        change: &'a RowChange,
        winner: Winner,
        state: &KeyState<'a>,
    ) -> Self {
        Detected {
            slot,
            change,
            winner,
            in_batch: state
                .applied
                .as_ref()
                .map(|(_, values)| values.clone())
                .filter(|v| !v.is_empty()),
            current_writer: state.writer.clone().unwrap_or_default(),
            current_deleted: state.version.is_some_and(|v| v.deleted),
        }
    }
}

fn texts(info: &TableInfo, writing: &Writing<'_>, fields: &[Field]) -> Texts {
    fields
        .iter()
        .filter(|f| f.value != Value::Unavailable)
        .filter_map(|f| {
            let column = info.column(&f.name)?;
            let rendered = text(&f.value, &column.kind, writing.dialect).ok()?;
            Some((f.name.clone(), rendered))
        })
        .collect()
}

fn json(texts: &Texts) -> String {
    serde_json::Value::Object(
        texts
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.clone().map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect(),
    )
    .to_string()
}

/// Resolves the detected conflicts of one table and records them.
pub(super) async fn resolve(
    tx: &mut Tx,
    writing: &Writing<'_>,
    info: &TableInfo,
    states: &mut [KeyState<'_>],
    detected: &[Detected<'_>],
    stats: &mut super::apply::TableStats,
) -> Result<(), SinkError> {
    let policy = writing.policy;
    for d in detected {
        let change = d.change;
        let incoming = texts(info, writing, &change.values);
        let current: Texts = if d.current_deleted {
            Texts::new()
        } else if let Some(row) = &d.in_batch {
            texts(info, writing, row)
        } else {
            let names: Vec<&String> = if change.delete {
                info.columns.iter().map(|c| &c.name).collect()
            } else {
                change.values.iter().map(|f| &f.name).collect()
            };
            let read =
                super::toast::read_old(tx, writing.dialect, info, &change.key, &names, change)
                    .await?;
            let fields: Vec<Field> = read
                .into_iter()
                .map(|(name, value)| Field {
                    name,
                    value,
                    column_type: None,
                    optional: true,
                })
                .collect();
            texts(info, writing, &fields)
        };
        let conflicting: Vec<&String> = incoming
            .iter()
            .filter(|(k, v)| current.get(*k).is_some_and(|c| c != *v))
            .map(|(k, _)| k)
            .collect();
        let pending = d.winner == Winner::Review;
        let mut resolved = if change.delete && d.winner == Winner::Incoming {
            Texts::new()
        } else if d.winner == Winner::Incoming {
            incoming.clone()
        } else {
            current.clone()
        };
        // Column strategies: each column of the written row from its own winner (the
        // resolution is recorded even when a later change of this batch supersedes it).
        let merging = !pending && !policy.fields.is_empty() && !change.delete && !d.current_deleted;
        if merging {
            let mut merged = Texts::new();
            for (column, i) in &incoming {
                let value = match (policy.field_strategy(column), current.get(column)) {
                    (Some(strategy), Some(c)) => {
                        let take = take_incoming(
                            policy,
                            strategy,
                            (&change.writer, i.as_deref()),
                            (&d.current_writer, c.as_deref()),
                        )
                        .unwrap_or(false);
                        if take {
                            i.clone()
                        } else {
                            c.clone()
                        }
                    }
                    _ => i.clone(),
                };
                merged.insert(column.clone(), value);
            }
            if let Some((applied, values)) = states[d.slot].applied.as_mut() {
                if std::ptr::eq(*applied, change) {
                    for field in values.iter_mut() {
                        if let Some(value) = merged.get(&field.name) {
                            if incoming.get(&field.name) != Some(value) {
                                field.value = value.clone().map_or(Value::Null, Value::Text);
                            }
                        }
                    }
                }
            }
            resolved = merged;
        }
        let conflict_type = if change.delete || d.current_deleted {
            "delete_conflict"
        } else if matches!(change.op, Op::Create | Op::Read) {
            "insert_conflict"
        } else {
            "update_conflict"
        };
        let status = if pending { "pending" } else { "resolved" };
        let strategy = policy.strategy.map_or("last_write_wins", |s| s.label());
        let record = record_id(&Row {
            fields: change.key.clone(),
        });
        let c = &change.coordinates;
        tracing::warn!(table = %info.name.label(), record_id = %record, conflict_type, strategy, status,
            incoming_source = ?change.writer.source, current_source = ?d.current_writer.source,
            topic = %c.topic, partition = c.partition, offset = c.offset, "multi-source conflict");
        *stats.conflicts.entry(status).or_default() += 1;
        let now = now_ms();
        let opt_int = |v: Option<i64>| Param::Text(v.map(|n| n.to_string()));
        let fields_json = serde_json::Value::from(
            conflicting
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .to_string();
        tx.execute(
            "INSERT INTO sluice_conflicts (group_id, table_name, record_id, row_key, conflict_type, \
             detected_at_ms, conflicting_fields, current_source, current_ts_ms, current_values, \
             incoming_source, incoming_ts_ms, incoming_values, incoming_op, topic, kafka_partition, \
             kafka_offset, strategy, status, resolved_values, resolved_at_ms, resolved_by) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS BIGINT), $10, $11, CAST($12 AS BIGINT), $13, \
             $14, $15, $16, $17, $18, $19, $20, CAST($21 AS BIGINT), $22)",
            &[
                Param::Text(Some(writing.group.to_string())),
                Param::Text(Some(info.name.label())),
                Param::Text(Some(record)),
                Param::Text(Some(super::apply::key_text(info, &change.key, writing.dialect, change)?)),
                Param::Text(Some(conflict_type.into())),
                Param::Int(now),
                Param::Text(Some(fields_json)),
                Param::Text(d.current_writer.source.clone()),
                opt_int(d.current_writer.ts_ms),
                Param::Text((!d.current_deleted).then(|| json(&current))),
                Param::Text(change.writer.source.clone()),
                opt_int(change.writer.ts_ms),
                Param::Text((!change.delete).then(|| json(&incoming))),
                Param::Text(Some(change.op.code().into())),
                Param::Text(Some(c.topic.clone())),
                Param::Int(c.partition.into()),
                Param::Int(c.offset),
                Param::Text(Some(strategy.into())),
                Param::Text(Some(status.into())),
                Param::Text((!pending).then(|| json(&resolved))),
                opt_int((!pending).then_some(now)),
                Param::Text((!pending).then(|| "system".to_string())),
            ],
        )
        .await
        .map_err(|e| SinkError::db(e, c))?;
    }
    Ok(())
}

/// What an operator takes for a pending conflict.
#[derive(Debug, Clone)]
pub enum Choice {
    /// One side's values as recorded (`current_source` or `incoming_source`).
    Take(String),
    /// These column values, over the current row's.
    Values(serde_json::Map<String, serde_json::Value>),
}

/// A pending conflict as `resolve_pending` needs it.
struct Pending {
    table: String,
    current_source: Option<String>,
    current_values: Option<Texts>,
    incoming_source: Option<String>,
    incoming_values: Option<Texts>,
}

fn texts_of(cell: &Option<String>) -> Option<Texts> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(cell.as_deref()?).ok()?;
    Some(
        object
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                };
                (k, text)
            })
            .collect(),
    )
}

/// Applies an operator's resolution of pending conflict `id` as a versioned write (newer than
/// both sides, owned by the chosen source) and marks the conflict resolved by `by`, in one
/// transaction. Returns the row written (`None`: the key was deleted).
pub(super) async fn resolve_pending(
    tx: &mut Tx,
    writing: &Writing<'_>,
    id: i64,
    choice: &Choice,
    by: &str,
) -> Result<(String, Option<Texts>, super::apply::TableStats), String> {
    let rows = tx
        .query(
            "SELECT table_name, current_source, current_values, incoming_source, incoming_values, status \
             FROM sluice_conflicts WHERE group_id = $1 AND CAST(conflict_id AS TEXT) = $2",
            &[
                Param::Text(Some(writing.group.to_string())),
                Param::Text(Some(id.to_string())),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    let row = rows
        .first()
        .ok_or_else(|| format!("no conflict {id} for this connector"))?;
    if row[5].as_deref() != Some("pending") {
        return Err(format!("conflict {id} is not pending (it is {:?})", row[5]));
    }
    let pending = Pending {
        table: row[0].clone().unwrap_or_default(),
        current_source: row[1].clone(),
        current_values: texts_of(&row[2]),
        incoming_source: row[3].clone(),
        incoming_values: texts_of(&row[4]),
    };
    let (owner, values) = match choice {
        Choice::Take(source) if pending.incoming_source.as_deref() == Some(source.as_str()) => {
            (source.clone(), pending.incoming_values.clone())
        }
        Choice::Take(source) if pending.current_source.as_deref() == Some(source.as_str()) => {
            (source.clone(), pending.current_values.clone())
        }
        Choice::Take(source) => {
            return Err(format!(
                "{source} is neither side of conflict {id} ({:?} vs {:?})",
                pending.current_source, pending.incoming_source
            ))
        }
        Choice::Values(given) => {
            let mut merged = pending
                .current_values
                .clone()
                .or_else(|| pending.incoming_values.clone())
                .unwrap_or_default();
            for (k, v) in texts_of(&Some(serde_json::Value::Object(given.clone()).to_string()))
                .unwrap_or_default()
            {
                merged.insert(k, v);
            }
            (by.to_string(), Some(merged))
        }
    };
    let name = super::ident::TableName::parse(&pending.table, writing.dialect)
        .map_err(|e| e.to_string())?;
    let info = super::catalog::load(tx, &name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("table {} does not exist", pending.table))?;
    // The key from whichever side has values.
    let key_source = values
        .clone()
        .or(pending.current_values.clone())
        .or(pending.incoming_values.clone())
        .unwrap_or_default();
    let field = |name: &String, text: Option<&Option<String>>| Field {
        name: name.clone(),
        value: text.cloned().flatten().map_or(Value::Null, Value::Text),
        column_type: None,
        optional: true,
    };
    let mut key = Vec::with_capacity(info.key.len());
    for k in &info.key {
        let text = key_source
            .get(k)
            .ok_or_else(|| format!("conflict {id} has no value for key column {k}"))?;
        key.push(field(k, Some(text)));
    }
    for column in values.iter().flat_map(|v| v.keys()) {
        if info.column(column).is_none() {
            return Err(format!("table {} has no column {column}", pending.table));
        }
    }
    let now = now_ms();
    let change = RowChange {
        coordinates: crate::event::Coordinates {
            topic: format!("sluice conflicts resolve {id}"),
            partition: 0,
            offset: 0,
        },
        op: Op::Update,
        key,
        values: values
            .iter()
            .flat_map(|v| v.iter().map(|(k, t)| field(k, Some(t))))
            .collect(),
        delete: values.is_none(),
        version: crate::resolve::Version {
            kind: crate::resolve::VersionKind::TimestampOffset,
            hi: now,
            lo: 0,
        },
        old_key: None,
        writer: Writer {
            source: Some(owner),
            ts_ms: Some(now),
        },
    };
    // A plain write: no conflict policy for the operator's own decision.
    let plain = crate::resolve::conflict::ConflictPolicy::default();
    let write = Writing {
        policy: &plain,
        ..*writing
    };
    let ops = [super::plan::TableOp::Row(change)];
    let stats = super::apply::apply_table(tx, &write, &info, &ops)
        .await
        .map_err(|e| e.to_string())?;
    let resolved = values.as_ref().map(json);
    tx.execute(
        "UPDATE sluice_conflicts SET status = 'resolved', resolved_values = $3, \
         resolved_at_ms = $4, resolved_by = $5 WHERE group_id = $1 AND CAST(conflict_id AS TEXT) = $2",
        &[
            Param::Text(Some(writing.group.to_string())),
            Param::Text(Some(id.to_string())),
            Param::Text(resolved),
            Param::Int(now),
            Param::Text(Some(by.to_string())),
        ],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((pending.table, values, stats))
}
