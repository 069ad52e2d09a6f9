//! TOAST columns across a primary-key change.
//!
//! PostgreSQL does not log unchanged out-of-line (TOAST) values, so when an UPDATE changes a
//! primary key under REPLICA IDENTITY DEFAULT, Debezium emits a delete of the old key (with a
//! `__debezium.newkey` header) and a create of the new key (with `__debezium.oldkey`) whose
//! unchanged large columns hold the placeholder. The values still exist: in the old key's row
//! in this batch, or in the target while the delete has not been applied. When the delete is
//! applied before the create arrives (a batch ended between them, or the process restarted),
//! the deleted row is kept in `sluice_rekeyed_rows`, in the delete's transaction, until the
//! create takes its values (or the tombstone retention passes).

use super::apply::{key_text, KeyState};
use super::catalog::TableInfo;
use super::render::{render, text};
use super::sql;
use super::types::TargetType;
use super::SinkError;
use crate::checkpoint::now_ms;
use crate::config::Dialect;
use crate::db::{Param, Tx};
use crate::event::{Field, Value};
use std::collections::{HashMap, HashSet};

/// A column of a stored row as text, as `CAST(... AS TEXT)` reads it (SQLite bytes as hex);
/// `None` is SQL NULL.
type Cell = (String, Option<String>);

/// Fills placeholders in re-keyed rows from the old key's values: the old key's row in this
/// batch, else in the target, else the row its delete kept in `sluice_rekeyed_rows`. Returns
/// the old keys the batch's re-keyed creates referred to (their deletes need keep nothing).
pub(super) async fn carry_over(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    states: &mut [KeyState<'_>],
    index: &HashMap<String, usize>,
) -> Result<HashSet<String>, SinkError> {
    let mut referred = HashSet::new();
    for i in 0..states.len() {
        let Some((change, values)) = &states[i].applied else {
            continue;
        };
        let change = *change;
        let Some(old_key) = change.old_key.as_deref().filter(|_| !change.delete) else {
            continue;
        };
        let old_text = key_text(info, old_key, dialect, change)?;
        referred.insert(old_text.clone());
        let missing: Vec<String> = values
            .iter()
            .filter(|f| f.value == Value::Unavailable)
            .map(|f| f.name.clone())
            .collect();
        if missing.is_empty() {
            // Nothing to carry: a row its delete kept is not needed any more.
            take_kept(tx, info, &old_text, change).await?;
            continue;
        }
        let mut found: Vec<(String, Value)> = Vec::new();
        if let Some(row) = index
            .get(&old_text)
            .and_then(|j| states[*j].last_row.as_ref())
        {
            for name in &missing {
                if let Some(f) = row
                    .iter()
                    .find(|f| &f.name == name && f.value != Value::Unavailable)
                {
                    found.push((name.clone(), f.value.clone()));
                }
            }
        }
        let still: Vec<&String> = missing
            .iter()
            .filter(|m| !found.iter().any(|(n, _)| n == *m))
            .collect();
        if !still.is_empty() {
            let cells = match read_cells(tx, dialect, info, old_key, &still, change).await? {
                Some(cells) => Some(cells),
                None => take_kept(tx, info, &old_text, change).await?,
            };
            for (name, cell) in cells.unwrap_or_default() {
                if let Some(column) = info.column(&name).filter(|_| still.contains(&&name)) {
                    found.push((name, cell_value(cell, dialect, &column.kind)));
                }
            }
        }
        if let Some((_, values)) = states[i].applied.as_mut() {
            for field in values.to_mut().iter_mut() {
                if let Some((_, value)) = found.iter().find(|(n, _)| *n == field.name) {
                    field.value = value.clone();
                }
            }
        }
    }
    Ok(referred)
}

/// Keeps the rows that this batch's re-keyed deletes remove (before they are deleted), unless
/// the batch already holds the create that needs them (`referred`).
pub(super) async fn keep_rekeyed(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    states: &[KeyState<'_>],
    referred: &HashSet<String>,
) -> Result<(), SinkError> {
    let names: Vec<&String> = info
        .columns
        .iter()
        .map(|c| &c.name)
        .filter(|n| !info.key.contains(n))
        .collect();
    for state in states {
        let Some((change, _)) = &state.applied else {
            continue;
        };
        if !change.delete || !change.rekeyed || referred.contains(&state.key_text) {
            continue;
        }
        let mut cells = read_cells(tx, dialect, info, &change.key, &names, change)
            .await?
            .unwrap_or_default();
        // Values this batch wrote before the delete are newer than the target's.
        for field in state.last_row.iter().flat_map(|row| row.iter()) {
            let Some(column) = info.column(&field.name) else {
                continue;
            };
            if field.value == Value::Unavailable || info.key.contains(&column.name) {
                continue;
            }
            let rendered = text(&field.value, &column.kind, dialect)
                .map_err(|e| SinkError::record(change, format!("column {}: {e}", column.name)))?;
            match cells.iter_mut().find(|(n, _)| *n == column.name) {
                Some(cell) => cell.1 = rendered,
                None => cells.push((column.name.clone(), rendered)),
            }
        }
        if cells.is_empty() {
            continue;
        }
        let row: serde_json::Map<String, serde_json::Value> = cells
            .into_iter()
            .map(|(name, cell)| (name, cell.map_or(serde_json::Value::Null, Into::into)))
            .collect();
        tx.execute(
            "INSERT INTO sluice_rekeyed_rows (table_name, row_key, row_values, moved_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (table_name, row_key) DO UPDATE \
             SET row_values = excluded.row_values, moved_at_ms = excluded.moved_at_ms",
            &[
                Param::Text(Some(info.name.label())),
                Param::Text(Some(state.key_text.clone())),
                Param::Text(Some(serde_json::Value::Object(row).to_string())),
                Param::Int(now_ms()),
            ],
        )
        .await
        .map_err(|e| SinkError::db(e, &change.coordinates))?;
    }
    Ok(())
}

/// Takes (reads and removes) the row a re-keyed delete kept for `old_text`.
async fn take_kept(
    tx: &mut Tx,
    info: &TableInfo,
    old_text: &str,
    change: &super::plan::RowChange<'_>,
) -> Result<Option<Vec<Cell>>, SinkError> {
    let rows = tx
        .query(
            "DELETE FROM sluice_rekeyed_rows WHERE table_name = $1 AND row_key = $2 \
             RETURNING row_values",
            &[
                Param::Text(Some(info.name.label())),
                Param::Text(Some(old_text.to_string())),
            ],
        )
        .await
        .map_err(|e| SinkError::db(e, &change.coordinates))?;
    let Some(text) = rows
        .into_iter()
        .next()
        .and_then(|row| row.into_cells().into_iter().next().flatten())
    else {
        return Ok(None);
    };
    let row: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| {
            SinkError::record(
                change,
                format!(
                    "sluice_rekeyed_rows holds no JSON object for {} {old_text}: {e}",
                    info.name.label()
                ),
            )
        })?;
    Ok(Some(
        row.into_iter()
            .map(|(name, v)| (name, v.as_str().map(str::to_string)))
            .collect(),
    ))
}

/// Forgets the kept rows of a table (after a truncate).
pub(super) async fn forget_table(tx: &mut Tx, table: &str) -> Result<(), sqlx::Error> {
    tx.execute(
        "DELETE FROM sluice_rekeyed_rows WHERE table_name = $1",
        &[Param::Text(Some(table.into()))],
    )
    .await?;
    Ok(())
}

/// Deletes kept rows older than the retention (a create that never came).
pub(super) async fn purge_kept(tx: &mut Tx, retention_ms: i64) -> Result<u64, sqlx::Error> {
    tx.execute(
        "DELETE FROM sluice_rekeyed_rows WHERE moved_at_ms < $1",
        &[Param::Int(now_ms() - retention_ms)],
    )
    .await
}

/// Reads columns of the old key's row from the target, as values the renderer accepts.
pub(super) async fn read_old(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    old_key: &[Field],
    names: &[&String],
    change: &super::plan::RowChange<'_>,
) -> Result<Vec<(String, Value)>, SinkError> {
    let cells = read_cells(tx, dialect, info, old_key, names, change).await?;
    Ok(cells
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, cell)| {
            let kind = &info.column(&name)?.kind;
            let value = cell_value(cell, dialect, kind);
            Some((name, value))
        })
        .collect())
}

/// A stored cell as a value the renderer accepts.
fn cell_value(cell: Option<String>, dialect: Dialect, kind: &TargetType) -> Value {
    match (cell, dialect, kind) {
        (None, _, _) => Value::Null,
        (Some(hex), Dialect::Sqlite, TargetType::Bytes) => Value::Bytes(
            (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
        ),
        (Some(text), _, _) => Value::Text(text),
    }
}

/// Reads columns of a key's row from the target as text; `None` when the row is not there.
async fn read_cells(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    key: &[Field],
    names: &[&String],
    change: &super::plan::RowChange<'_>,
) -> Result<Option<Vec<Cell>>, SinkError> {
    let columns: Vec<_> = names.iter().filter_map(|n| info.column(n)).collect();
    let key_columns: Vec<_> = info.key.iter().filter_map(|k| info.column(k)).collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let statement = sql::select_by_key(dialect, &info.name, &columns, &key_columns)
        .map_err(|e| SinkError::record(change, e.to_string()))?;
    let mut params = Vec::with_capacity(key_columns.len());
    for column in &key_columns {
        let field = key.iter().find(|f| f.name == column.name).ok_or_else(|| {
            SinkError::record(change, format!("key lacks column {}", column.name))
        })?;
        params.push(
            render(&field.value, &column.kind, dialect, &column.name)
                .map_err(|e| SinkError::record(change, e.to_string()))?,
        );
    }
    let rows = tx
        .query(&statement, &params)
        .await
        .map_err(|e| SinkError::db(e, &change.coordinates))?;
    Ok(rows.into_iter().next().map(|row| {
        columns
            .iter()
            .zip(row.into_cells())
            .map(|(column, cell)| (column.name.clone(), cell))
            .collect()
    }))
}
