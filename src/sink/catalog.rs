//! The target catalog: what tables and columns exist, and schema evolution (create a missing
//! table from the event schema, add missing columns).

use super::ident::{Ident, TableName};
use super::sql::{self, ColumnDef};
use super::types::{ddl_type, parse_target_type, TargetColumn};
use crate::config::Dialect;
use crate::db::Param;
use crate::db::Tx;
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

fn split(rows: Vec<crate::db::TextRow>) -> (Vec<TargetColumn>, Vec<String>) {
    let mut columns = Vec::new();
    let mut key = Vec::new();
    for row in rows {
        let row = row.into_cells();
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
    /// The schema's default, for filling existing rows when the column is added.
    pub default: Option<crate::event::Value>,
}

impl WantedColumn {
    /// From an event field.
    pub fn from_field(name: String, field: &Field) -> Self {
        WantedColumn {
            name,
            column_type: field.column_type.clone(),
            optional: field.optional,
            default: field.default.as_deref().cloned(),
        }
    }
}

/// The columns a table's ops write (a batch spanning a schema change takes the wider type),
/// the key columns, and the first row change's coordinates (for errors).
pub fn wanted_columns(
    ops: &[super::plan::TableOp<'_>],
) -> (
    Vec<WantedColumn>,
    Vec<String>,
    Option<crate::event::Coordinates>,
) {
    let mut wanted: Vec<WantedColumn> = Vec::new();
    let mut key: Vec<String> = Vec::new();
    let mut first = None;
    for op in ops {
        let super::plan::TableOp::Row(change) = op else {
            continue;
        };
        first.get_or_insert(change.coordinates.clone());
        if key.is_empty() {
            key = change.key.iter().map(|f| f.name.clone()).collect();
        }
        for field in change.values.iter() {
            match wanted.iter_mut().find(|w| w.name == field.name) {
                None => wanted.push(WantedColumn::from_field(field.name.clone(), field)),
                Some(w) => {
                    if let (Some(have), Some(next)) = (&w.column_type, &field.column_type) {
                        let pg = ddl_type(have, Dialect::Postgres);
                        if have != next
                            && super::evolve::fit(&pg, next) != super::evolve::Fit::Holds
                        {
                            *w = WantedColumn::from_field(field.name.clone(), field);
                        }
                    }
                }
            }
        }
    }
    (wanted, key, first)
}

/// The first change that carries the column an evolution error is about (a batch's first
/// change may not have it).
pub fn blame(
    ops: &[super::plan::TableOp<'_>],
    error: &EvolveError,
) -> Option<crate::event::Coordinates> {
    let column = match error {
        EvolveError::MissingColumn { column, .. }
        | EvolveError::NoSchema { column, .. }
        | EvolveError::Incompatible { column, .. } => column,
        EvolveError::Ident(e) => &e.name,
        // The first change of the table carries the key the table refuses.
        EvolveError::KeyChanged { .. } => {
            return ops.iter().find_map(|op| match op {
                super::plan::TableOp::Row(change) => Some(change.coordinates.clone()),
                _ => None,
            })
        }
        _ => return None,
    };
    ops.iter().find_map(|op| match op {
        super::plan::TableOp::Row(change) if change.values.iter().any(|f| &f.name == column) => {
            Some(change.coordinates.clone())
        }
        _ => None,
    })
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
    /// The events' type of a column cannot be stored in the existing column without loss.
    #[error("table {table}: column {column:?} is {old} and the events now carry {new}; sluice does not narrow or change a column's kind (alter the column, or route the topic to a new table)")]
    Incompatible {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// The column's type in the target.
        old: String,
        /// The type the events need.
        new: String,
    },
    /// The events' key columns are not the table's primary key.
    #[error("table {table}: the primary key changed from ({old}) to ({new}); sluice does not change a table's primary key")]
    KeyChanged {
        /// Table.
        table: String,
        /// The table's primary-key columns.
        old: String,
        /// The events' key columns.
        new: String,
    },
    /// A schema default that cannot be written to the new column.
    #[error("cannot fill the new column with its default: {0}")]
    Default(String),
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
        name: Ident::column(&wanted.name, dialect)?,
        sql_type: ddl_type(column_type, dialect),
        not_null: is_key || !wanted.optional,
        default: None,
    })
}

/// The `DEFAULT` of a required non-key column whose schema has a default, as the source table
/// has it: rows written from changes older than the column (a batch that spans the source's
/// ADD COLUMN, a replay) take it instead of failing the NOT NULL. The value is bound and the
/// database quotes it (`quote_literal` / `quote`); sluice never splices a value into DDL.
async fn default_literal(
    tx: &mut Tx,
    dialect: Dialect,
    wanted: &WantedColumn,
    def: &ColumnDef,
) -> Result<Option<String>, EvolveError> {
    let Some(default) = wanted.default.as_ref().filter(|_| def.not_null) else {
        return Ok(None);
    };
    let target = parse_target_type(&def.sql_type);
    // SQLite would read a quoted hex text as text, not bytes: no default there.
    if dialect == Dialect::Sqlite && target == super::types::TargetType::Bytes {
        return Ok(None);
    }
    let Some(text) = super::render::text(default, &target, dialect)
        .map_err(|e| EvolveError::Default(format!("{}: {e}", wanted.name)))?
    else {
        return Ok(None);
    };
    let quote = match dialect {
        Dialect::Postgres => "SELECT quote_literal(CAST($1 AS TEXT))",
        Dialect::Sqlite => "SELECT quote($1)",
    };
    let rows = tx.query(quote, &[Param::Text(Some(text))]).await?;
    let literal = rows
        .into_iter()
        .next()
        .and_then(|row| row.into_cells().into_iter().next().flatten())
        .ok_or_else(|| EvolveError::Default(format!("{}: no quoted default", wanted.name)))?;
    Ok(Some(match dialect {
        Dialect::Postgres => format!("CAST({literal} AS {})", def.sql_type),
        Dialect::Sqlite => literal,
    }))
}

/// A change schema evolution made to a target table (logged and counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    /// The table.
    pub table: String,
    /// The column (empty for a created table).
    pub column: String,
    /// `create_table`, `add_column` or `widen_column`.
    pub change: &'static str,
}

/// Refuses events whose key columns are not the table's primary key.
fn check_key(info: &TableInfo, key: &[String]) -> Result<(), EvolveError> {
    if key.is_empty() || info.key.is_empty() {
        return Ok(());
    }
    let mut have: Vec<&String> = info.key.iter().collect();
    let mut want: Vec<&String> = key.iter().collect();
    have.sort();
    want.sort();
    if have == want {
        return Ok(());
    }
    Err(EvolveError::KeyChanged {
        table: info.name.label(),
        old: info.key.join(", "),
        new: key.join(", "),
    })
}

/// Widens existing columns whose type cannot hold the events' values; an error for a change
/// no widening can take.
async fn widen(
    tx: &mut Tx,
    info: &TableInfo,
    wanted: &[WantedColumn],
) -> Result<Vec<SchemaChange>, EvolveError> {
    let mut changes = Vec::new();
    for w in wanted {
        let (Some(column), Some(column_type)) = (info.column(&w.name), &w.column_type) else {
            continue;
        };
        match super::evolve::fit(&column.sql_type, column_type) {
            super::evolve::Fit::Holds => {}
            super::evolve::Fit::Widen(sql_type) => {
                let name = Ident::new(&w.name, Dialect::Postgres)?;
                tx.execute(&sql::alter_column_type(&info.name, &name, &sql_type), &[])
                    .await?;
                tracing::info!(table = %info.name.label(), column = %w.name, old_type = %column.sql_type, new_type = %sql_type, change = "widen_column", "schema evolution: widened target column");
                changes.push(SchemaChange {
                    table: info.name.label(),
                    column: w.name.clone(),
                    change: "widen_column",
                });
            }
            super::evolve::Fit::Incompatible => {
                return Err(EvolveError::Incompatible {
                    table: info.name.label(),
                    column: w.name.clone(),
                    old: column.sql_type.clone(),
                    new: ddl_type(column_type, Dialect::Postgres),
                })
            }
        }
    }
    Ok(changes)
}

/// Adds a column to an existing table. A required column with a default keeps the default (so
/// every existing row, and every row written from a change older than the column, has it) and
/// then NOT NULL, as the source did; a required column without one stays nullable, since the
/// old rows have no value.
async fn add_column(
    tx: &mut Tx,
    dialect: Dialect,
    table: &TableName,
    wanted: &WantedColumn,
) -> Result<(), EvolveError> {
    let mut def = column_def(table, wanted, dialect, false)?;
    def.default = default_literal(tx, dialect, wanted, &def).await?;
    // Existing rows take the default as the column is added.
    tx.execute(&sql::add_column(table, &def), &[]).await?;
    let filled = def.default.is_some();
    if filled && dialect == Dialect::Postgres {
        tx.execute(&sql::set_not_null(table, &def.name), &[])
            .await?;
    }
    tracing::info!(table = %table.label(), column = %wanted.name, sql_type = %def.sql_type, filled, change = "add_column", "schema evolution: added target column");
    Ok(())
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
) -> Result<(TableInfo, Vec<SchemaChange>), EvolveError> {
    match existing {
        None if !allowed => Err(EvolveError::MissingTable(table.label())),
        None => {
            let mut defs = Vec::with_capacity(wanted.len());
            for w in wanted {
                let is_key = key.contains(&w.name);
                let mut def = column_def(table, w, dialect, is_key)?;
                if !is_key {
                    def.default = default_literal(tx, dialect, w, &def).await?;
                }
                defs.push(def);
            }
            let key_idents: Vec<Ident> = key
                .iter()
                .map(|k| Ident::new(k, dialect))
                .collect::<Result<_, _>>()?;
            tx.execute(&sql::create_table(table, &defs, &key_idents), &[])
                .await?;
            tracing::info!(table = %table.label(), columns = defs.len(), change = "create_table", "schema evolution: created target table");
            let info = load(tx, table)
                .await?
                .ok_or_else(|| EvolveError::MissingTable(table.label()))?;
            let change = SchemaChange {
                table: table.label(),
                column: String::new(),
                change: "create_table",
            };
            Ok((info, vec![change]))
        }
        Some(info) => {
            let mut changes = Vec::new();
            if allowed {
                check_key(&info, key)?;
                if dialect == Dialect::Postgres {
                    changes.extend(widen(tx, &info, wanted).await?);
                }
            }
            let missing: Vec<&WantedColumn> = wanted
                .iter()
                .filter(|w| info.column(&w.name).is_none())
                .collect();
            if missing.is_empty() && changes.is_empty() {
                return Ok((info, changes));
            }
            if !allowed {
                if let Some(first) = missing.first() {
                    return Err(EvolveError::MissingColumn {
                        table: table.label(),
                        column: first.name.clone(),
                    });
                }
            }
            for w in missing {
                add_column(tx, dialect, table, w).await?;
                changes.push(SchemaChange {
                    table: table.label(),
                    column: w.name.clone(),
                    change: "add_column",
                });
            }
            let info = load(tx, table)
                .await?
                .ok_or_else(|| EvolveError::MissingTable(table.label()))?;
            Ok((info, changes))
        }
    }
}
