//! Multi-source conflicts found while applying a table's changes: the current row is read,
//! column strategies merge it with the incoming values, and every conflict is recorded in
//! `sluice_conflicts` (resolved by the strategy, or pending review) in the batch transaction.

use super::apply::{KeyState, Writing};
use super::catalog::TableInfo;
use super::plan::RowChange;
use super::render::text;
use super::SinkError;
use crate::checkpoint::now_ms;
use crate::db::Param;
use crate::db::Tx;
use crate::event::{Field, Op, Row, Value};
use crate::resolve::conflict::{take_incoming, Winner, Writer};
use crate::resolve::late::record_id;
use std::collections::BTreeMap;

/// Column texts of one side of a conflict (`None` is NULL).
type Texts = BTreeMap<String, Option<String>>;

/// A conflict found by the version loop, before its row values are known.
pub(super) struct Detected<'a> {
    slot: usize,
    change: &'a RowChange<'a>,
    winner: Winner,
    /// The row as this batch already wrote it, when it did.
    in_batch: Option<Vec<Field>>,
    current_writer: Writer,
    current_deleted: bool,
}

impl<'a> Detected<'a> {
    pub(super) fn new(
        slot: usize,
        change: &'a RowChange<'a>,
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
                .map(|(_, values)| values.to_vec())
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
                    default: None,
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
                    for field in values.to_mut().iter_mut() {
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
        let conflict_type = if change.review {
            "late_arrival"
        } else if change.delete || d.current_deleted {
            "delete_conflict"
        } else if matches!(change.op, Op::Create | Op::Read) {
            "insert_conflict"
        } else {
            "update_conflict"
        };
        let status = if pending { "pending" } else { "resolved" };
        let strategy = if change.review {
            "late_review"
        } else {
            policy.strategy.map_or("last_write_wins", |s| s.label())
        };
        let record = record_id(&Row {
            fields: change.key.clone(),
        });
        let c = &change.coordinates;
        tracing::warn!(table = %info.name.label(), record_id = %record, conflict_type, strategy, status,
            incoming_source = ?change.writer.source, current_source = ?d.current_writer.source,
            topic = %c.topic, partition = c.partition, offset = c.offset, "conflict recorded");
        *stats.conflicts.entry((status, strategy)).or_default() += 1;
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
             kafka_offset, strategy, status, resolved_values, resolved_at_ms, resolved_by, \
             incoming_version_kind, incoming_version_hi, incoming_version_lo) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS BIGINT), $10, $11, CAST($12 AS BIGINT), $13, \
             $14, $15, $16, $17, $18, $19, $20, CAST($21 AS BIGINT), $22, $23, $24, $25)",
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
                Param::Int(change.version.kind as i64),
                Param::Int(change.version.hi),
                Param::Int(change.version.lo),
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
    /// One side's values as recorded: its source name, or `current` / `incoming`.
    Take(String),
    /// These column values, over the current row's.
    Values(serde_json::Map<String, serde_json::Value>),
}

/// A pending conflict as `resolve_pending` needs it.
struct Pending {
    table: String,
    row_key: String,
    detected_at_ms: i64,
    current_source: Option<String>,
    current_values: Option<Texts>,
    incoming: Writer,
    incoming_values: Option<Texts>,
    incoming_version: crate::resolve::Version,
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

/// Applies an operator's resolution of pending conflict `id` and marks it resolved by `by`,
/// in one transaction. Taking the current side writes nothing (the row holds it); taking the
/// incoming side, or given values, writes them as the held change would have been written:
/// its version and source, so that source's older changes stay older. Refused when the row
/// changed after the conflict was detected (the choice would be made on stale values).
/// Returns the table and the values now in the row (`None`: deleted).
pub(super) async fn resolve_pending(
    tx: &mut Tx,
    writing: &Writing<'_>,
    id: i64,
    choice: &Choice,
    by: &str,
) -> Result<(String, Option<Texts>, super::apply::TableStats), String> {
    let err = |e: sqlx::Error| e.to_string();
    let group = Param::Text(Some(writing.group.to_string()));
    let id_text = Param::Text(Some(id.to_string()));
    let rows = tx
        .query(
            "SELECT table_name, row_key, CAST(detected_at_ms AS TEXT) AS detected_at_ms, current_source, current_values, \
             incoming_source, CAST(incoming_ts_ms AS TEXT) AS incoming_ts_ms, incoming_values, \
             CAST(incoming_version_kind AS TEXT) AS incoming_version_kind, CAST(incoming_version_hi AS TEXT) AS incoming_version_hi, \
             CAST(incoming_version_lo AS TEXT) AS incoming_version_lo, status \
             FROM sluice_conflicts WHERE group_id = $1 AND CAST(conflict_id AS TEXT) = $2",
            &[group.clone(), id_text.clone()],
        )
        .await
        .map_err(err)?;
    let row = rows
        .first()
        .ok_or_else(|| format!("no conflict {id} for this connector"))?;
    if row.text("status") != Some("pending") {
        return Err(format!(
            "conflict {id} is not pending (it is {:?})",
            row.text("status")
        ));
    }
    let num = |column: &str| row.int(column);
    let pending = Pending {
        table: row.string("table_name").unwrap_or_default(),
        row_key: row.string("row_key").unwrap_or_default(),
        detected_at_ms: num("detected_at_ms").unwrap_or(0),
        current_source: row.string("current_source"),
        current_values: texts_of(&row.string("current_values")),
        incoming: Writer {
            source: row.string("incoming_source"),
            ts_ms: num("incoming_ts_ms"),
        },
        incoming_values: texts_of(&row.string("incoming_values")),
        incoming_version: crate::resolve::Version {
            kind: num("incoming_version_kind")
                .and_then(crate::resolve::VersionKind::from_code)
                .ok_or_else(|| format!("conflict {id} has no valid incoming version"))?,
            hi: num("incoming_version_hi").unwrap_or(0),
            lo: num("incoming_version_lo").unwrap_or(0),
        },
    };
    let table = Param::Text(Some(pending.table.clone()));
    let row_key = Param::Text(Some(pending.row_key.clone()));
    let changed = tx
        .query(
            "SELECT CAST(updated_at_ms AS TEXT) AS updated_at_ms FROM sluice_row_versions \
             WHERE table_name = $1 AND row_key = $2",
            &[table.clone(), row_key.clone()],
        )
        .await
        .map_err(err)?
        .first()
        .and_then(|r| r.int("updated_at_ms"))
        .is_some_and(|updated| updated > pending.detected_at_ms);
    if changed {
        return Err(format!(
            "the row of conflict {id} changed after the conflict was detected; check it with \
             `sluice conflicts show {id}` and the table, then resolve with --values"
        ));
    }
    let (write, values) = match choice {
        // `current` / `incoming` name the sides when both are one source (late changes).
        Choice::Take(side) if side == "incoming" => (true, pending.incoming_values.clone()),
        Choice::Take(side) if side == "current" => (false, pending.current_values.clone()),
        Choice::Take(source) if pending.current_source.as_deref() == Some(source.as_str()) => {
            (false, pending.current_values.clone())
        }
        Choice::Take(source) if pending.incoming.source.as_deref() == Some(source.as_str()) => {
            (true, pending.incoming_values.clone())
        }
        Choice::Take(source) => {
            return Err(format!(
                "{source} is neither side of conflict {id} ({:?} vs {:?})",
                pending.current_source, pending.incoming.source
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
            (true, Some(merged))
        }
    };
    let mut stats = super::apply::TableStats::default();
    if write {
        stats = write_resolution(tx, writing, &pending, values.as_ref()).await?;
    }
    let affected = tx
        .execute(
            "UPDATE sluice_conflicts SET status = 'resolved', resolved_values = $3, \
             resolved_at_ms = $4, resolved_by = $5 \
             WHERE group_id = $1 AND CAST(conflict_id AS TEXT) = $2 AND status = 'pending'",
            &[
                group,
                id_text,
                Param::Text(values.as_ref().map(json)),
                Param::Int(now_ms()),
                Param::Text(Some(by.to_string())),
            ],
        )
        .await
        .map_err(err)?;
    if affected != 1 {
        return Err(format!("conflict {id} was resolved meanwhile"));
    }
    Ok((pending.table, values, stats))
}

/// Writes a resolution's values (`None`: deletes the key) as the held incoming change.
async fn write_resolution(
    tx: &mut Tx,
    writing: &Writing<'_>,
    pending: &Pending,
    values: Option<&Texts>,
) -> Result<super::apply::TableStats, String> {
    let name = super::ident::TableName::parse(&pending.table, writing.dialect)
        .map_err(|e| e.to_string())?;
    let info = super::catalog::load(tx, &name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("table {} does not exist", pending.table))?;
    // The key as the conflict recorded it (a JSON array of the key columns' texts).
    let key_texts: Vec<Option<String>> =
        serde_json::from_str(&pending.row_key).map_err(|e| format!("row key: {e}"))?;
    if key_texts.len() != info.key.len() {
        return Err(format!(
            "row key {} does not fit the key of {}",
            pending.row_key, pending.table
        ));
    }
    let field = |name: &String, text: Option<String>| Field {
        name: name.clone(),
        value: text.map_or(Value::Null, Value::Text),
        column_type: None,
        optional: true,
        default: None,
    };
    let key: Vec<Field> = info
        .key
        .iter()
        .zip(key_texts)
        .map(|(k, t)| field(k, t))
        .collect();
    let mut row: Vec<Field> = Vec::new();
    for (column, text) in values.into_iter().flatten() {
        if info.column(column).is_none() {
            return Err(format!("table {} has no column {column}", pending.table));
        }
        // Key columns come from the key.
        if !info.key.contains(column) {
            row.push(field(column, text.clone()));
        }
    }
    let change = RowChange {
        coordinates: crate::event::Coordinates {
            topic: "sluice conflicts resolve".into(),
            partition: 0,
            offset: 0,
        },
        op: Op::Update,
        values: key.iter().cloned().chain(row).collect::<Vec<_>>().into(),
        key,
        delete: values.is_none(),
        version: pending.incoming_version,
        old_key: None,
        rekeyed: false,
        writer: pending.incoming.clone(),
        review: false,
    };
    // The operator decided: no version or policy stands against it.
    tx.execute(
        "DELETE FROM sluice_row_versions WHERE table_name = $1 AND row_key = $2",
        &[
            Param::Text(Some(pending.table.clone())),
            Param::Text(Some(pending.row_key.clone())),
        ],
    )
    .await
    .map_err(|e| e.to_string())?;
    let plain = crate::resolve::conflict::ConflictPolicy::default();
    let write = Writing {
        policy: &plain,
        ..*writing
    };
    let ops = [super::plan::TableOp::Row(change)];
    super::apply::apply_table(tx, &write, &info, &ops)
        .await
        .map_err(|e| e.to_string())
}

/// A connector's table policy as text: what connectors sharing a table must agree on
/// (`sluice.source.name` may differ: it is who they are, not how they resolve).
pub(super) fn policy_text(config: &crate::config::ConnectorConfig) -> String {
    let c = &config.conflict;
    let mut fields: Vec<String> = c
        .fields
        .iter()
        .map(|(column, s)| format!("{column}={}", s.label()))
        .collect();
    fields.sort();
    let l = &config.late;
    let ms = |v: Option<i64>| v.map_or("off".to_string(), |n| n.to_string());
    // Without a strategy the window, priorities and column strategies do nothing.
    let conflict = match c.strategy {
        None => "conflict.strategy=none".to_string(),
        Some(s) => format!(
            "conflict.strategy={}; conflict.source.priority={}; conflict.window.ms={}; conflict.field=[{}]",
            s.label(),
            c.priority.join(","),
            c.window_ms,
            fields.join(","),
        ),
    };
    format!(
        "{conflict}; late.policy={}; late.tolerance.ms={}; clock.skew.max.ms={}",
        l.policy.label(),
        ms(l.tolerance_ms),
        ms(l.clock_skew_max_ms),
    )
}
