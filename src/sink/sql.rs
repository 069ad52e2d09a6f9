//! SQL text for the sink's statements, per dialect. Pure functions, golden-tested.
//!
//! PostgreSQL statements bind one text array per column and `UNNEST` them, so one statement
//! (with a stable text the server can cache) writes a whole batch; each value is cast to the
//! column's catalog type. SQLite statements use multi-row `VALUES` lists.

use super::ident::{Ident, TableName};
use super::types::TargetColumn;
use crate::config::Dialect;

/// SQLite's bound-parameter limit is 32766; stay below it with margin.
pub const SQLITE_MAX_PARAMS: usize = 30_000;

fn cast_list(columns: &[&TargetColumn]) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST(u.c{i} AS {})", cast_type(&c.sql_type)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The type to cast a text value to before it is assigned to a column of `sql_type`. An
/// explicit cast to `character varying(n)` or `character(n)` silently truncates (SQL
/// standard), so those cast to their unbounded form and the assignment to the column refuses
/// a value that is too long (SQLSTATE 22001) instead of losing its end.
fn cast_type(sql_type: &str) -> std::borrow::Cow<'_, str> {
    let (base, array) = match sql_type.strip_suffix("[]") {
        Some(base) => (base, "[]"),
        None => (sql_type, ""),
    };
    let bounded = |prefix: &str| {
        base.strip_prefix(prefix)
            .is_some_and(|rest| rest.ends_with(')'))
    };
    if bounded("character varying(") {
        format!("character varying{array}").into()
    } else if bounded("character(") {
        format!("bpchar{array}").into()
    } else {
        sql_type.into()
    }
}

fn unnest(columns: &[&TargetColumn]) -> String {
    let arrays: Vec<String> = (1..=columns.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    format!("UNNEST({}) AS u({})", arrays.join(", "), aliases.join(", "))
}

fn names(columns: &[&TargetColumn], dialect: Dialect) -> Result<String, super::ident::IdentError> {
    let quoted: Result<Vec<String>, _> = columns
        .iter()
        .map(|c| Ident::new(&c.name, dialect).map(|i| i.quoted()))
        .collect();
    Ok(quoted?.join(", "))
}

fn sqlite_values(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Plain insert.
    Insert,
    /// Insert or update on key conflict.
    Upsert,
}

/// INSERT (or upsert) of `rows` rows into `columns`; `key` names the primary-key columns.
pub fn insert(
    dialect: Dialect,
    table: &TableName,
    columns: &[&TargetColumn],
    key: &[String],
    kind: WriteKind,
    rows: usize,
) -> Result<String, super::ident::IdentError> {
    let column_list = names(columns, dialect)?;
    let mut sql = match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO {table} ({column_list}) SELECT {} FROM {}",
            cast_list(columns),
            unnest(columns)
        ),
        Dialect::Sqlite => format!(
            "INSERT INTO {table} ({column_list}) VALUES {}",
            sqlite_values(columns.len(), rows)
        ),
    };
    if kind == WriteKind::Upsert {
        let key_idents: Result<Vec<Ident>, _> =
            key.iter().map(|k| Ident::new(k, dialect)).collect();
        let key_idents = key_idents?;
        let key_list: Vec<String> = key_idents.iter().map(Ident::quoted).collect();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !key.contains(&c.name))
            .map(|c| {
                Ident::new(&c.name, dialect)
                    .map(|i| format!("{} = excluded.{}", i.quoted(), i.quoted()))
            })
            .collect::<Result<_, _>>()?;
        if updates.is_empty() {
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO NOTHING",
                key_list.join(", ")
            ));
        } else {
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                key_list.join(", "),
                updates.join(", ")
            ));
        }
    }
    Ok(sql)
}

/// UPDATE of existing rows by key (`insert.mode=update`); SQLite gets a one-row statement.
pub fn update(
    dialect: Dialect,
    table: &TableName,
    columns: &[&TargetColumn],
    key: &[String],
) -> Result<String, super::ident::IdentError> {
    let mut sets = Vec::new();
    let mut conds = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let name = Ident::new(&c.name, dialect)?.quoted();
        let value = match dialect {
            Dialect::Postgres => format!("CAST(u.c{i} AS {})", c.sql_type),
            Dialect::Sqlite => format!("?{}", i + 1),
        };
        if key.contains(&c.name) {
            let lhs = if dialect == Dialect::Postgres {
                format!("t.{name}")
            } else {
                name
            };
            conds.push(format!("{lhs} = {value}"));
        } else {
            sets.push(format!("{name} = {value}"));
        }
    }
    Ok(match dialect {
        Dialect::Postgres => format!(
            "UPDATE {table} AS t SET {} FROM {} WHERE {}",
            sets.join(", "),
            unnest(columns),
            conds.join(" AND ")
        ),
        Dialect::Sqlite => format!(
            "UPDATE {table} SET {} WHERE {}",
            sets.join(", "),
            conds.join(" AND ")
        ),
    })
}

/// DELETE of `rows` keys.
pub fn delete(
    dialect: Dialect,
    table: &TableName,
    key: &[&TargetColumn],
    rows: usize,
) -> Result<String, super::ident::IdentError> {
    let key_names: Vec<String> = key
        .iter()
        .map(|c| Ident::new(&c.name, dialect).map(|i| i.quoted()))
        .collect::<Result<_, _>>()?;
    Ok(match dialect {
        Dialect::Postgres => {
            let conds: Vec<String> = key_names
                .iter()
                .zip(key)
                .enumerate()
                .map(|(i, (name, c))| format!("t.{name} = CAST(u.c{i} AS {})", c.sql_type))
                .collect();
            format!(
                "DELETE FROM {table} AS t USING {} WHERE {}",
                unnest(key),
                conds.join(" AND ")
            )
        }
        Dialect::Sqlite if key.len() == 1 => {
            format!(
                "DELETE FROM {table} WHERE {} IN ({})",
                key_names[0],
                vec!["?"; rows].join(", ")
            )
        }
        Dialect::Sqlite => format!(
            "DELETE FROM {table} WHERE ({}) IN (VALUES {})",
            key_names.join(", "),
            sqlite_values(key.len(), rows)
        ),
    })
}

/// SELECT of some columns of one row by key, every column as text (SQLite blobs as hex).
pub fn select_by_key(
    dialect: Dialect,
    table: &TableName,
    columns: &[&TargetColumn],
    key: &[&TargetColumn],
) -> Result<String, super::ident::IdentError> {
    let mut selected = Vec::with_capacity(columns.len());
    for c in columns {
        let name = Ident::new(&c.name, dialect)?.quoted();
        selected.push(match (dialect, &c.kind) {
            (Dialect::Sqlite, super::types::TargetType::Bytes) => format!("hex({name})"),
            _ => format!("CAST({name} AS TEXT)"),
        });
    }
    let mut conds = Vec::with_capacity(key.len());
    for (i, k) in key.iter().enumerate() {
        let name = Ident::new(&k.name, dialect)?.quoted();
        conds.push(match dialect {
            Dialect::Postgres => format!("{name} = CAST(${} AS {})", i + 1, k.sql_type),
            Dialect::Sqlite => format!("{name} = ?{}", i + 1),
        });
    }
    Ok(format!(
        "SELECT {} FROM {table} WHERE {}",
        selected.join(", "),
        conds.join(" AND ")
    ))
}

/// TRUNCATE (SQLite: DELETE of every row).
pub fn truncate(dialect: Dialect, table: &TableName) -> String {
    match dialect {
        Dialect::Postgres => format!("TRUNCATE TABLE {table}"),
        Dialect::Sqlite => format!("DELETE FROM {table}"),
    }
}

/// A column definition for CREATE TABLE / ALTER TABLE.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// Column name.
    pub name: Ident,
    /// SQL type (from [`super::types::ddl_type`]).
    pub sql_type: String,
    /// NOT NULL.
    pub not_null: bool,
    /// `DEFAULT` expression: a literal the database itself quoted (see
    /// `catalog::default_literal`), never text sluice put together.
    pub default: Option<String>,
}

/// ` DEFAULT ...` and ` NOT NULL` of a column definition.
fn constraints(default: Option<&str>, not_null: bool) -> String {
    let default = default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
    let not_null = if not_null { " NOT NULL" } else { "" };
    format!("{default}{not_null}")
}

/// CREATE TABLE with a primary key (none when `key` is empty).
pub fn create_table(table: &TableName, columns: &[ColumnDef], key: &[Ident]) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            let constraints = constraints(c.default.as_deref(), c.not_null);
            format!("{} {}{constraints}", c.name.quoted(), c.sql_type)
        })
        .collect();
    if !key.is_empty() {
        let key_list: Vec<String> = key.iter().map(Ident::quoted).collect();
        parts.push(format!("PRIMARY KEY ({})", key_list.join(", ")));
    }
    format!("CREATE TABLE IF NOT EXISTS {table} ({})", parts.join(", "))
}

/// ALTER TABLE ADD COLUMN, nullable (NOT NULL comes after, once existing rows have a value),
/// with the column's default: existing rows take it.
pub fn add_column(table: &TableName, column: &ColumnDef) -> String {
    format!(
        "ALTER TABLE {table} ADD COLUMN {} {}{}",
        column.name.quoted(),
        column.sql_type,
        constraints(column.default.as_deref(), false)
    )
}

/// `ALTER TABLE t ALTER COLUMN c TYPE <type>` (PostgreSQL; the type is one sluice chose).
pub fn alter_column_type(table: &TableName, column: &Ident, sql_type: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN {} TYPE {sql_type}",
        column.quoted()
    )
}

/// `ALTER TABLE t ALTER COLUMN c SET NOT NULL` (PostgreSQL).
pub fn set_not_null(table: &TableName, column: &Ident) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL",
        column.quoted()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_character_types_are_not_cast_to_their_length() {
        for (column, cast) in [
            ("character varying(10)", "character varying"),
            ("character varying(10)[]", "character varying[]"),
            ("character(3)", "bpchar"),
            ("character varying", "character varying"),
            ("numeric(5,2)", "numeric(5,2)"),
            ("bit(4)", "bit(4)"),
            ("text", "text"),
        ] {
            assert_eq!(cast_type(column), cast, "{column}");
        }
    }
    use crate::sink::types::parse_target_type;

    fn col(name: &str, sql_type: &str) -> TargetColumn {
        TargetColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            kind: parse_target_type(sql_type),
            not_null: false,
        }
    }

    /// Every statement shape for one dialect, in one text (compared with a golden file).
    fn render_all(dialect: Dialect) -> String {
        let table = TableName::parse("inv.order\"s", dialect).unwrap();
        let (id, region, note) = (
            col("id", "integer"),
            col("region", "text"),
            col("no;te", "numeric(10,2)"),
        );
        let cols = [&id, &region, &note];
        let key = vec!["id".to_string(), "region".to_string()];
        let defs = vec![
            ColumnDef {
                name: Ident::new("id", dialect).unwrap(),
                sql_type: "integer".into(),
                not_null: true,
                default: None,
            },
            ColumnDef {
                name: Ident::new("ünï\"code", dialect).unwrap(),
                sql_type: "text".into(),
                not_null: false,
                default: None,
            },
        ];
        [
            insert(dialect, &table, &cols, &key, WriteKind::Upsert, 2).unwrap(),
            insert(dialect, &table, &cols, &key, WriteKind::Insert, 2).unwrap(),
            insert(dialect, &table, &[&id, &region], &key, WriteKind::Upsert, 1).unwrap(),
            update(dialect, &table, &cols, &key).unwrap(),
            delete(dialect, &table, &[&id], 3).unwrap(),
            delete(dialect, &table, &[&id, &region], 2).unwrap(),
            truncate(dialect, &table),
            select_by_key(dialect, &table, &[&region, &note], &[&id]).unwrap(),
            create_table(&table, &defs, &[defs[0].name.clone()]),
            add_column(&table, &defs[1]),
        ]
        .join(";\n")
            + ";\n"
    }

    fn golden(dialect: Dialect, file: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/sink/testdata")
            .join(file);
        let actual = render_all(dialect);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            actual, expected,
            "SQL for {dialect} differs from {file} (UPDATE_GOLDEN=1 rewrites it)"
        );
    }

    #[test]
    fn postgres_sql_matches_golden_file() {
        golden(Dialect::Postgres, "postgres.sql");
    }

    #[test]
    fn sqlite_sql_matches_golden_file() {
        golden(Dialect::Sqlite, "sqlite.sql");
    }
}
