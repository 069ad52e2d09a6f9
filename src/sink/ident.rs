//! SQL identifiers: the one type every table and column name goes through.
//!
//! Names come from outside the process (topic names, Debezium field names), so they are never
//! interpolated raw: [`Ident::quoted`] always wraps them in double quotes with embedded quotes
//! doubled, which is valid in both PostgreSQL and SQLite. Names that no quoting can make safe
//! (empty, NUL bytes, longer than the dialect allows) are refused with the reason.

use crate::config::Dialect;
use std::fmt;

/// PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1); refusing
/// them keeps two long names from silently becoming one.
const PG_MAX_IDENT_BYTES: usize = 63;

/// Column names PostgreSQL reserves in every table.
const PG_SYSTEM_COLUMNS: [&str; 6] = ["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// A validated SQL identifier (unquoted form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

/// Why a name cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identifier {name:?} refused: {reason}")]
pub struct IdentError {
    /// The refused name (Debug-printed so control characters stay visible).
    pub name: String,
    /// Why.
    pub reason: &'static str,
}

impl Ident {
    /// Validates a name for the dialect.
    pub fn new(name: &str, dialect: Dialect) -> Result<Self, IdentError> {
        let refuse = |reason| IdentError {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(refuse("empty name"));
        }
        if name.contains('\0') {
            return Err(refuse("contains a NUL byte"));
        }
        if dialect == Dialect::Postgres && name.len() > PG_MAX_IDENT_BYTES {
            return Err(refuse("longer than PostgreSQL's 63-byte limit"));
        }
        Ok(Ident(name.to_string()))
    }

    /// Validates a column name: also refuses PostgreSQL's system column names, which no
    /// table can declare (PostgreSQL answers a duplicate-column error that would otherwise
    /// look like another worker adding the column first).
    pub fn column(name: &str, dialect: Dialect) -> Result<Self, IdentError> {
        if dialect == Dialect::Postgres && PG_SYSTEM_COLUMNS.contains(&name) {
            return Err(IdentError {
                name: name.to_string(),
                reason: "a PostgreSQL system column name (rename it with a transform, e.g. ReplaceField renames)",
            });
        }
        Ident::new(name, dialect)
    }

    /// The name as given, unquoted (for catalog lookups and messages).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for SQL text: `"a""b"` for `a"b`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// A possibly schema-qualified table name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    /// Schema (PostgreSQL); `None` means the connection's default schema.
    pub schema: Option<Ident>,
    /// Table.
    pub name: Ident,
}

impl TableName {
    /// Parses `table` or `schema.table` (SQLite has no schemas: the dot stays in the name).
    pub fn parse(raw: &str, dialect: Dialect) -> Result<Self, IdentError> {
        match raw.split_once('.') {
            Some((schema, name)) if dialect == Dialect::Postgres => Ok(TableName {
                schema: Some(Ident::new(schema, dialect)?),
                name: Ident::new(name, dialect)?,
            }),
            _ => Ok(TableName {
                schema: None,
                name: Ident::new(raw, dialect)?,
            }),
        }
    }

    /// The name for SQL text, each part quoted.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", schema.quoted(), self.name.quoted()),
            None => self.name.quoted(),
        }
    }

    /// A stable display form (`schema.table` or `table`), used as a label and version key.
    pub fn label(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", schema.as_str(), self.name.as_str()),
            None => self.name.as_str().to_string(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_quoted_not_interpolated() {
        let cases = [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\"\"b\""),
            ("x\"; DROP TABLE t; --", "\"x\"\"; DROP TABLE t; --\""),
            ("ünïcødé 表", "\"ünïcødé 表\""),
            ("semi;colon", "\"semi;colon\""),
            ("\"", "\"\"\"\""),
        ];
        for (raw, quoted) in cases {
            assert_eq!(Ident::new(raw, Dialect::Postgres).unwrap().quoted(), quoted);
            assert_eq!(Ident::new(raw, Dialect::Sqlite).unwrap().quoted(), quoted);
        }
    }

    #[test]
    fn unsafe_names_are_refused_with_a_reason() {
        assert_eq!(
            Ident::new("", Dialect::Sqlite).unwrap_err().reason,
            "empty name"
        );
        assert!(Ident::new("a\0b", Dialect::Postgres).is_err());
        let long = "x".repeat(64);
        assert!(Ident::new(&long, Dialect::Postgres).is_err());
        assert!(Ident::new(&long, Dialect::Sqlite).is_ok());
    }

    #[test]
    fn system_column_names_are_refused_as_columns_on_postgres() {
        for name in ["xmin", "ctid", "tableoid", "cmax"] {
            let e = Ident::column(name, Dialect::Postgres).unwrap_err();
            assert!(e.reason.contains("system column"), "{name}: {e}");
            // A table may have the name, SQLite columns too, and case matters when quoted.
            assert!(Ident::new(name, Dialect::Postgres).is_ok());
            assert!(Ident::column(name, Dialect::Sqlite).is_ok());
        }
        assert!(Ident::column("XMIN", Dialect::Postgres).is_ok());
        assert!(Ident::column("xmin_at", Dialect::Postgres).is_ok());
    }

    #[test]
    fn table_names_split_schema_on_postgres_only() {
        let pg = TableName::parse("inv.customers", Dialect::Postgres).unwrap();
        assert_eq!(pg.quoted(), "\"inv\".\"customers\"");
        let lite = TableName::parse("inv.customers", Dialect::Sqlite).unwrap();
        assert_eq!(lite.quoted(), "\"inv.customers\"");
    }
}
