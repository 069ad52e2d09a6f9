//! The target catalog: what tables and columns exist, and schema evolution (create a missing
//! table from the event schema, add missing columns).

use super::db::Tx;
use super::ident::{Ident, TableName};
use super::render::Param;
use super::sql::{self, ColumnDef};
use super::types::{ddl_type, parse_target_type, TargetColumn};
use crate::config::Dialect;
use crate::event::{ColumnType, Field};

/// A target table as the sink sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    /// The table.
    pub name: TableName,
    /// Columns in table order.
    pub columns: Vec<TargetColumn>,
    /// Primary-key column names.
    pub key: Vec<String>,
}

impl TableInfo {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&TargetColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads a table's columns and key; `None` when the table does not exist.
pub async fn load(tx: &mut Tx, table: &TableName) -> Result<Option<TableInfo>, sqlx::Error> {
    let (columns, key) = match tx {
        Tx::Pg(_) => {
            let schema = table.schema.as_ref().map(|s| s.as_str().to_string());
            let params = [
                Param::Text(schema),
                Param::Text(Some(table.name.as_str().to_string())),
            ];
            let rows = tx
                .query(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
                     CASE WHEN a.attnotnull THEN 't' ELSE 'f' END, \
                     CASE WHEN a.attnum = ANY(i.indkey) THEN 't' ELSE 'f' END \
                     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                     WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 \
                     AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                    &params,
                )
                .await?;
            split(rows)
        }
        Tx::Lite(_) => {
            let params = [Param::Text(Some(table.name.as_str().to_string()))];
            let rows = tx
                .query(
                    "SELECT name, type, CASE WHEN \"notnull\" THEN 't' ELSE 'f' END, \
                     CASE WHEN pk > 0 THEN 't' ELSE 'f' END FROM pragma_table_info($1) ORDER BY cid",
                    &params,
                )
                .await?;
            split(rows)
        }
    };
    if columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(TableInfo {
        name: table.clone(),
        columns,
        key,
    }))
}

fn split(rows: Vec<Vec<Option<String>>>) -> (Vec<TargetColumn>, Vec<String>) {
    let mut columns = Vec::new();
    let mut key = Vec::new();
    for row in rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let name = cell(0);
        if cell(3) == "t" {
            key.push(name.clone());
        }
        let sql_type = cell(1);
        columns.push(TargetColumn {
            name,
            kind: parse_target_type(&sql_type),
            sql_type: if sql_type.is_empty() {
                "TEXT".into()
            } else {
                sql_type
            },
            not_null: cell(2) == "t",
        });
    }
    (columns, key)
}

/// A column the events need, with the type the event schema gives it.
#[derive(Debug, Clone)]
pub struct WantedColumn {
    /// Column name (after identifier folding).
    pub name: String,
    /// Event column type, when the event had a schema.
    pub column_type: Option<ColumnType>,
    /// Whether NULL must be accepted.
    pub optional: bool,
}

impl WantedColumn {
    /// From an event field.
    pub fn from_field(name: String, field: &Field) -> Self {
        WantedColumn {
            name,
            column_type: field.column_type.clone(),
            optional: field.optional,
        }
    }
}

/// Why schema evolution could not make the table fit.
#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    /// The table is missing and may not be created.
    #[error("table {0} does not exist and schema.evolution=none")]
    MissingTable(String),
    /// A column is missing and may not be added.
    #[error("table {table} has no column {column:?} and schema.evolution=none")]
    MissingColumn {
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// A column cannot be created without a type.
    #[error("table {table}: cannot create column {column:?} from a schemaless event (enable schemas or create it)")]
    NoSchema {
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// A hostile or invalid identifier.
    #[error(transparent)]
    Ident(#[from] super::ident::IdentError),
    /// Database error.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn column_def(
    table: &TableName,
    wanted: &WantedColumn,
    dialect: Dialect,
    is_key: bool,
) -> Result<ColumnDef, EvolveError> {
    let column_type = wanted
        .column_type
        .as_ref()
        .ok_or_else(|| EvolveError::NoSchema {
            table: table.label(),
            column: wanted.name.clone(),
        })?;
    Ok(ColumnDef {
        name: Ident::new(&wanted.name, dialect)?,
        sql_type: ddl_type(column_type, dialect),
        not_null: is_key || !wanted.optional,
    })
}

/// Makes the table fit the wanted columns: creates it, or adds missing columns, when allowed.
pub async fn evolve(
    tx: &mut Tx,
    dialect: Dialect,
    table: &TableName,
    existing: Option<TableInfo>,
    wanted: &[WantedColumn],
    key: &[String],
    allowed: bool,
) -> Result<TableInfo, EvolveError> {
    match existing {
        None if !allowed => Err(EvolveError::MissingTable(table.label())),
        None => {
            let defs: Vec<ColumnDef> = wanted
                .iter()
                .map(|w| column_def(table, w, dialect, key.contains(&w.name)))
                .collect::<Result<_, _>>()?;
            let key_idents: Vec<Ident> = key
                .iter()
                .map(|k| Ident::new(k, dialect))
                .collect::<Result<_, _>>()?;
            tx.execute(&sql::create_table(table, &defs, &key_idents), &[])
                .await?;
            tracing::info!(table = %table.label(), columns = defs.len(), "created target table");
            load(tx, table)
                .await?
                .ok_or_else(|| EvolveError::MissingTable(table.label()))
        }
        Some(info) => {
            let missing: Vec<&WantedColumn> = wanted
                .iter()
                .filter(|w| info.column(&w.name).is_none())
                .collect();
            if missing.is_empty() {
                return Ok(info);
            }
            if !allowed {
                return Err(EvolveError::MissingColumn {
                    table: table.label(),
                    column: missing[0].name.clone(),
                });
            }
            for w in missing {
                let def = column_def(table, w, dialect, false)?;
                tx.execute(&sql::add_column(table, &def), &[]).await?;
                tracing::info!(table = %table.label(), column = %w.name, sql_type = %def.sql_type, "added target column");
            }
            load(tx, table)
                .await?
                .ok_or_else(|| EvolveError::MissingTable(table.label()))
        }
    }
}
