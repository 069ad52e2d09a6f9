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
