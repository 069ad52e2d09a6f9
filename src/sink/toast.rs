//! TOAST columns across a primary-key change.
//!
//! PostgreSQL does not log unchanged out-of-line (TOAST) values, so when an UPDATE changes a
//! primary key under REPLICA IDENTITY DEFAULT, Debezium emits a delete of the old key and a
//! create of the new key whose unchanged large columns hold the placeholder. The values still
//! exist: in the old key's row in the target (or in this batch). They are carried over before
//! the old row is deleted, so the new row is complete.

use super::apply::{key_text, KeyState};
use super::catalog::TableInfo;
use super::render::render;
use super::sql;
use super::types::TargetType;
use super::SinkError;
use crate::config::Dialect;
use crate::db::Tx;
use crate::event::{Field, Value};
use std::collections::HashMap;

/// Fills placeholders in re-keyed rows from the old key's values.
pub(super) async fn carry_over(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    states: &mut [KeyState<'_>],
    index: &HashMap<String, usize>,
) -> Result<(), SinkError> {
    for i in 0..states.len() {
        let Some((change, values)) = &states[i].applied else {
            continue;
        };
        let (change, missing) = match &change.old_key {
            Some(_) if !change.delete => {
                let missing: Vec<String> = values
                    .iter()
                    .filter(|f| f.value == Value::Unavailable)
                    .map(|f| f.name.clone())
                    .collect();
                (*change, missing)
            }
            _ => continue,
        };
        if missing.is_empty() {
            continue;
        }
        let old_key = change.old_key.as_deref().unwrap_or_default();
        let old_text = key_text(info, old_key, dialect, change)?;
        // The old key's row from this batch, else from the target.
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
            found.extend(read_old(tx, dialect, info, old_key, &still, change).await?);
        }
        if let Some((_, values)) = states[i].applied.as_mut() {
            for field in values.to_mut().iter_mut() {
                if let Some((_, value)) = found.iter().find(|(n, _)| *n == field.name) {
                    field.value = value.clone();
                }
            }
        }
    }
    Ok(())
}

/// Reads columns of the old key's row from the target, as values the renderer accepts.
pub(super) async fn read_old(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    old_key: &[Field],
    names: &[&String],
    change: &super::plan::RowChange,
) -> Result<Vec<(String, Value)>, SinkError> {
    let columns: Vec<_> = names.iter().filter_map(|n| info.column(n)).collect();
    let key_columns: Vec<_> = info.key.iter().filter_map(|k| info.column(k)).collect();
    let statement =
        sql::select_by_key(dialect, &info.name, &columns, &key_columns).map_err(|e| {
            SinkError::Record {
                coordinates: change.coordinates.clone(),
                reason: e.to_string(),
            }
        })?;
    let mut params = Vec::with_capacity(key_columns.len());
    for column in &key_columns {
        let field = old_key
            .iter()
            .find(|f| f.name == column.name)
            .ok_or_else(|| SinkError::Record {
                coordinates: change.coordinates.clone(),
                reason: format!("old key lacks column {}", column.name),
            })?;
        params.push(
            render(&field.value, &column.kind, dialect, &column.name).map_err(|e| {
                SinkError::Record {
                    coordinates: change.coordinates.clone(),
                    reason: e.to_string(),
                }
            })?,
        );
    }
    let rows = tx
        .query(&statement, &params)
        .await
        .map_err(|e| SinkError::db(e, &change.coordinates))?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(Vec::new());
    };
    Ok(columns
        .iter()
        .zip(row.into_cells())
        .map(|(column, cell)| {
            let value = match (cell, dialect, &column.kind) {
                (None, _, _) => Value::Null,
                (Some(hex), Dialect::Sqlite, TargetType::Bytes) => Value::Bytes(
                    (0..hex.len() / 2)
                        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                        .collect(),
                ),
                (Some(text), _, _) => Value::Text(text),
            };
            (column.name.clone(), value)
        })
        .collect())
}
