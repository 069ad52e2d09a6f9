//! The one way a value reaches a statement: a bound parameter, never interpolated SQL.

/// A bound statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text (or NULL), cast by the statement.
    Text(Option<String>),
    /// A binary value (SQLite blobs).
    Blob(Option<Vec<u8>>),
    /// An integer.
    Int(i64),
    /// A PostgreSQL text array (one column of a multi-row statement).
    TextArray(Vec<Option<String>>),
}
