//! Column types on the target side: parsed from the catalog, and chosen for new columns.
//!
//! The sink converts every value with the *target* column's type, so schemaless events and
//! typed events land identically, and a value never depends on how the event was encoded.

use crate::config::Dialect;
use crate::event::ColumnType;

/// What a target column holds, as far as value conversion needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetType {
    /// boolean.
    Bool,
    /// Any integer type.
    Int,
    /// real / double precision.
    Float,
    /// numeric / decimal, with its fixed scale when declared.
    Numeric {
        /// Declared scale (`numeric(p,s)`), used to read schemaless Decimal bytes.
        scale: Option<u32>,
    },
    /// Any character type.
    Text,
    /// bytea / blob.
    Bytes,
    /// date.
    Date,
    /// time without zone, with declared fractional precision.
    Time {
        /// Fractional digits (0-6); 6 when undeclared.
        precision: u32,
    },
    /// time with zone.
    TimeTz,
    /// timestamp without zone, with declared fractional precision.
    Timestamp {
        /// Fractional digits (0-6); 6 when undeclared.
        precision: u32,
    },
    /// timestamp with zone.
    TimestampTz,
    /// json / jsonb.
    Json,
    /// uuid.
    Uuid,
    /// bit / bit varying.
    Bits {
        /// The exact length of `bit(n)` (`bit` alone is `bit(1)`), the maximum of
        /// `bit varying(n)`; `None` for an unbounded `bit varying`. Debezium's `Bits` bytes drop
        /// leading zero bits, so a value is padded to this length.
        length: Option<u32>,
    },
    /// interval: Debezium's `MicroDuration` (an integer count of microseconds) is written as
    /// days and time, never as the bare number (which PostgreSQL would read as seconds).
    Interval,
    /// An array of an element type.
    Array(Box<TargetType>),
    /// Anything else: values are passed as text and cast by the database.
    Other,
}

/// A target column: its name, the SQL type text (as the catalog prints it) and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    /// Column name.
    pub name: String,
    /// Type as the catalog prints it (`numeric(10,2)`, `integer[]`); used in casts.
    pub sql_type: String,
    /// Parsed meaning.
    pub kind: TargetType,
    /// Whether NULL is refused.
    pub not_null: bool,
}

fn precision_of(sql: &str) -> u32 {
    length_of(sql).unwrap_or(6)
}

/// The `(n)` of a type, if declared.
fn length_of(sql: &str) -> Option<u32> {
    let open = sql.find('(')?;
    let close = sql[open..].find(')')? + open;
    sql[open + 1..close].trim().parse().ok()
}

/// Parses a PostgreSQL `format_type()` string or a SQLite declared type.
pub fn parse_target_type(sql: &str) -> TargetType {
    let lower = sql.trim().to_ascii_lowercase();
    if let Some(elem) = lower.strip_suffix("[]") {
        return TargetType::Array(Box::new(parse_target_type(elem)));
    }
    let base = lower.split('(').next().unwrap_or("").trim();
    match base {
        "boolean" | "bool" => TargetType::Bool,
        "smallint" | "integer" | "int" | "bigint" | "int2" | "int4" | "int8" | "tinyint"
        | "mediumint" | "serial" | "bigserial" => TargetType::Int,
        "real" | "double precision" | "float" | "double" | "float4" | "float8" => TargetType::Float,
        "numeric" | "decimal" => TargetType::Numeric {
            scale: lower
                .split_once(',')
                .and_then(|(_, s)| s.trim_end_matches(')').trim().parse().ok()),
        },
        "bytea" | "blob" => TargetType::Bytes,
        "date" => TargetType::Date,
        "time with time zone" | "timetz" => TargetType::TimeTz,
        "timestamp with time zone" | "timestamptz" => TargetType::TimestampTz,
        "json" | "jsonb" => TargetType::Json,
        "uuid" => TargetType::Uuid,
        "bit" => TargetType::Bits {
            length: Some(length_of(&lower).unwrap_or(1)),
        },
        "bit varying" | "varbit" => TargetType::Bits {
            length: length_of(&lower),
        },
        // Debezium sends money as a Decimal of scale `money.fraction.digits` (default 2).
        "money" => TargetType::Numeric { scale: Some(2) },
        _ if base.starts_with("interval") => TargetType::Interval,
        "text" | "character varying" | "varchar" | "character" | "char" | "clob" | "xml"
        | "citext" | "name" => TargetType::Text,
        _ if base.starts_with("timestamp") && lower.contains("with time zone") => {
            TargetType::TimestampTz
        }
        _ if base.starts_with("timestamp") || base == "datetime" => TargetType::Timestamp {
            precision: precision_of(&lower),
        },
        _ if base.starts_with("time") && lower.contains("with time zone") => TargetType::TimeTz,
        _ if base.starts_with("time") => TargetType::Time {
            precision: precision_of(&lower),
        },
        _ if base.contains("int") => TargetType::Int,
        _ if base.contains("char") || base.contains("text") => TargetType::Text,
        _ => TargetType::Other,
    }
}

/// The SQL type a new column gets for an event column type (schema evolution).
pub fn ddl_type(column: &ColumnType, dialect: Dialect) -> String {
    use ColumnType as C;
    let pg = dialect == Dialect::Postgres;
    let text = match column {
        C::Bool => {
            if pg {
                "boolean"
            } else {
                "BOOLEAN"
            }
        }
        C::Int8 | C::Int16 => {
            if pg {
                "smallint"
            } else {
                "INTEGER"
            }
        }
        C::Int32 => {
            if pg {
                "integer"
            } else {
                "INTEGER"
            }
        }
        C::Int64 => {
            if pg {
                "bigint"
            } else {
                "INTEGER"
            }
        }
        C::Float32 => {
            if pg {
                "real"
            } else {
                "REAL"
            }
        }
        C::Float64 => {
            if pg {
                "double precision"
            } else {
                "REAL"
            }
        }
        C::Decimal { scale, precision } => {
            return match (pg, precision) {
                (true, Some(p)) if *p >= *scale && *p > 0 => format!("numeric({p},{scale})"),
                (true, _) => "numeric".into(),
                // SQLite has no exact decimal type: TEXT keeps every digit.
                (false, _) => "TEXT".into(),
            };
        }
        C::VariableDecimal => {
            if pg {
                "numeric"
            } else {
                "TEXT"
            }
        }
        // PostgreSQL's varchar limit; Debezium gives text columns a length of 2^31-1.
        C::Text { max_len: Some(n) } if pg && *n <= 10_485_760 => return format!("varchar({n})"),
        C::Text { .. } => {
            if pg {
                "text"
            } else {
                "TEXT"
            }
        }
        C::Bytes => {
            if pg {
                "bytea"
            } else {
                "BLOB"
            }
        }
        C::Date => {
            if pg {
                "date"
            } else {
                "TEXT"
            }
        }
        C::Time => {
            if pg {
                "time(6)"
            } else {
                "TEXT"
            }
        }
        C::TimeTz => {
            if pg {
                "time(6) with time zone"
            } else {
                "TEXT"
            }
        }
        C::Timestamp => {
            if pg {
                "timestamp(6)"
            } else {
                "TEXT"
            }
        }
        C::TimestampTz => {
            if pg {
                "timestamp(6) with time zone"
            } else {
                "TEXT"
            }
        }
        C::Json => {
            if pg {
                "jsonb"
            } else {
                "TEXT"
            }
        }
        C::Uuid => {
            if pg {
                "uuid"
            } else {
                "TEXT"
            }
        }
        C::Bits { length: Some(n) } if pg && *n > 0 => return format!("bit varying({n})"),
        C::Bits { .. } => {
            if pg {
                "bit varying"
            } else {
                "TEXT"
            }
        }
        C::Array(elem) => {
            return if pg {
                format!("{}[]", ddl_type(elem, dialect))
            } else {
                "TEXT".into()
            }
        }
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_types_parse() {
        let cases = [
            ("integer", TargetType::Int),
            ("character varying(255)", TargetType::Text),
            ("numeric(10,2)", TargetType::Numeric { scale: Some(2) }),
            ("numeric", TargetType::Numeric { scale: None }),
            (
                "timestamp(3) without time zone",
                TargetType::Timestamp { precision: 3 },
            ),
            (
                "timestamp without time zone",
                TargetType::Timestamp { precision: 6 },
            ),
            ("timestamp with time zone", TargetType::TimestampTz),
            (
                "time(0) without time zone",
                TargetType::Time { precision: 0 },
            ),
            ("time with time zone", TargetType::TimeTz),
            ("integer[]", TargetType::Array(Box::new(TargetType::Int))),
            ("double precision", TargetType::Float),
            ("jsonb", TargetType::Json),
            ("bit varying(8)", TargetType::Bits { length: Some(8) }),
            ("bit varying", TargetType::Bits { length: None }),
            ("bit(8)", TargetType::Bits { length: Some(8) }),
            ("bit", TargetType::Bits { length: Some(1) }),
            ("interval", TargetType::Interval),
            ("interval day to second(3)", TargetType::Interval),
            ("money", TargetType::Numeric { scale: Some(2) }),
            ("INTEGER", TargetType::Int),
            ("BLOB", TargetType::Bytes),
            ("tsvector", TargetType::Other),
        ];
        for (sql, expected) in cases {
            assert_eq!(parse_target_type(sql), expected, "{sql}");
        }
    }

    #[test]
    fn event_types_map_to_ddl() {
        use ColumnType as C;
        let dec = C::Decimal {
            scale: 2,
            precision: Some(10),
        };
        assert_eq!(ddl_type(&dec, Dialect::Postgres), "numeric(10,2)");
        assert_eq!(ddl_type(&dec, Dialect::Sqlite), "TEXT");
        let arr = C::Array(Box::new(C::Int32));
        assert_eq!(ddl_type(&arr, Dialect::Postgres), "integer[]");
        assert_eq!(
            ddl_type(&C::Text { max_len: Some(255) }, Dialect::Postgres),
            "varchar(255)"
        );
        assert_eq!(ddl_type(&C::Int64, Dialect::Sqlite), "INTEGER");
    }
}
