//! Schema evolution of existing columns (`schema.evolution=basic`, PostgreSQL): whether a
//! column's type can hold what the events now carry, can be widened without loss, or cannot
//! take the change at all.
//!
//! Only type families whose order is unambiguous are judged: integers, exact numerics,
//! floats, character types and booleans. Anything else (an operator's `inet`, `interval` or
//! enum column fed by a string) is left as it is; the write itself says whether it fits.

use super::types::ddl_type;
use crate::config::Dialect;
use crate::event::ColumnType;

/// What an existing column needs for the events' type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// The column holds every value of the events' type.
    Holds,
    /// `ALTER COLUMN ... TYPE` this type holds both the old and the new values.
    Widen(String),
    /// Writing would lose or refuse values and no widening fixes it: a narrowing or a change
    /// of kind.
    Incompatible,
}

/// A column type reduced to what ordering needs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    /// Integer with its decimal digits (5, 10, 19).
    Int(u32),
    /// `numeric(p,s)`; `None` for an unbounded `numeric`.
    Numeric(Option<(u32, u32)>),
    /// Float with its bits.
    Float(u32),
    /// Character type; `None` length for text / unbounded varchar.
    Text {
        fixed: bool,
        len: Option<u32>,
    },
    Bool,
    Other,
}

fn int_digits(column: &ColumnType) -> Option<u32> {
    Some(match column {
        ColumnType::Int8 | ColumnType::Int16 => 5,
        ColumnType::Int32 => 10,
        ColumnType::Int64 => 19,
        _ => return None,
    })
}

fn of_event(column: &ColumnType) -> Family {
    if let Some(digits) = int_digits(column) {
        return Family::Int(digits);
    }
    match column {
        ColumnType::Decimal {
            scale,
            precision: Some(p),
        } if *p >= *scale && *p > 0 => Family::Numeric(Some((*p, *scale))),
        ColumnType::Decimal { .. } | ColumnType::VariableDecimal => Family::Numeric(None),
        ColumnType::Float32 => Family::Float(32),
        ColumnType::Float64 => Family::Float(64),
        ColumnType::Text { max_len } => Family::Text {
            fixed: false,
            len: *max_len,
        },
        ColumnType::Bool => Family::Bool,
        _ => Family::Other,
    }
}

/// Reads a PostgreSQL `format_type()` string.
fn of_target(sql: &str) -> Family {
    let lower = sql.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')')),
        None => (lower.as_str(), ""),
    };
    let numbers: Vec<u32> = args
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    // format_type() names, and the aliases sluice's own DDL uses.
    match base {
        "smallint" | "int2" => Family::Int(5),
        "integer" | "int" | "int4" => Family::Int(10),
        "bigint" | "int8" => Family::Int(19),
        "numeric" | "decimal" => match numbers.as_slice() {
            [p, s] => Family::Numeric(Some((*p, *s))),
            [p] => Family::Numeric(Some((*p, 0))),
            _ => Family::Numeric(None),
        },
        "real" | "float4" => Family::Float(32),
        "double precision" | "float8" => Family::Float(64),
        "text" => Family::Text {
            fixed: false,
            len: None,
        },
        "character varying" | "varchar" => Family::Text {
            fixed: false,
            len: numbers.first().copied(),
        },
        "character" | "char" | "bpchar" => Family::Text {
            fixed: true,
            len: Some(numbers.first().copied().unwrap_or(1)),
        },
        "boolean" | "bool" => Family::Bool,
        _ => Family::Other,
    }
}

/// Whether a column of PostgreSQL type `existing` can take values of the events' `wanted`
/// type, and how it must change if not.
pub fn fit(existing: &str, wanted: &ColumnType) -> Fit {
    use Family as F;
    let widen = |t: String| Fit::Widen(t);
    match (of_target(existing), of_event(wanted)) {
        (_, F::Other) | (F::Other, _) => Fit::Holds,
        (F::Int(have), F::Int(need)) if need > have => widen(ddl_type(wanted, Dialect::Postgres)),
        (F::Int(_), F::Int(_)) => Fit::Holds,
        // Exact numerics: keep enough integer digits and enough scale for both.
        (F::Numeric(None), F::Int(_) | F::Numeric(_)) => Fit::Holds,
        (F::Numeric(Some(_)), F::Numeric(None)) => widen("numeric".into()),
        (F::Numeric(Some((p, s))), F::Int(digits)) => {
            if p.saturating_sub(s) >= digits {
                Fit::Holds
            } else {
                widen(format!("numeric({},{s})", digits + s))
            }
        }
        (F::Numeric(Some((p, s))), F::Numeric(Some((p2, s2)))) => {
            let whole = p.saturating_sub(s).max(p2.saturating_sub(s2));
            let scale = s.max(s2);
            if whole + scale == p && scale == s {
                Fit::Holds
            } else {
                widen(format!("numeric({},{scale})", whole + scale))
            }
        }
        (F::Int(digits), F::Numeric(Some((p2, 0)))) if p2 <= digits => Fit::Holds,
        (F::Int(_), F::Numeric(_)) => Fit::Incompatible,
        (F::Float(have), F::Float(need)) if need > have => widen("double precision".into()),
        (F::Float(_), F::Float(_)) => Fit::Holds,
        // Integers up to 2^24 / 2^53 are exact in a float.
        (F::Float(bits), F::Int(digits)) if (bits == 64 && digits <= 10) || digits <= 5 => {
            Fit::Holds
        }
        // Any value has a text form; a longer text needs a longer column.
        (F::Text { len: None, .. }, _) => Fit::Holds,
        (
            F::Text {
                fixed,
                len: Some(n),
            },
            F::Text { len: Some(m), .. },
        ) if m > n => {
            let kind = if fixed {
                "character"
            } else {
                "character varying"
            };
            widen(format!("{kind}({m})"))
        }
        (F::Text { len: Some(_), .. }, F::Text { len: None, .. }) => widen("text".into()),
        (F::Text { .. }, F::Text { .. }) => Fit::Holds,
        (F::Bool, F::Bool) => Fit::Holds,
        _ => Fit::Incompatible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType as C;

    fn dec(precision: u32, scale: u32) -> ColumnType {
        C::Decimal {
            scale,
            precision: Some(precision),
        }
    }

    #[test]
    fn widening_and_narrowing() {
        let cases: &[(&str, ColumnType, Fit)] = &[
            ("integer", C::Int64, Fit::Widen("bigint".into())),
            ("smallint", C::Int32, Fit::Widen("integer".into())),
            ("bigint", C::Int32, Fit::Holds),
            ("integer", C::Int32, Fit::Holds),
            (
                "numeric(8,2)",
                dec(12, 2),
                Fit::Widen("numeric(12,2)".into()),
            ),
            (
                "numeric(8,2)",
                dec(8, 4),
                Fit::Widen("numeric(10,4)".into()),
            ),
            ("numeric(12,2)", dec(8, 2), Fit::Holds),
            (
                "numeric(8,2)",
                C::VariableDecimal,
                Fit::Widen("numeric".into()),
            ),
            ("numeric", dec(30, 9), Fit::Holds),
            ("numeric(8,2)", C::Int64, Fit::Widen("numeric(21,2)".into())),
            ("numeric(20,0)", C::Int64, Fit::Holds),
            (
                "character varying(20)",
                C::Text { max_len: Some(40) },
                Fit::Widen("character varying(40)".into()),
            ),
            (
                "character varying(40)",
                C::Text { max_len: Some(20) },
                Fit::Holds,
            ),
            (
                "character varying(20)",
                C::Text { max_len: None },
                Fit::Widen("text".into()),
            ),
            (
                "character(2)",
                C::Text { max_len: Some(3) },
                Fit::Widen("character(3)".into()),
            ),
            ("text", C::Int64, Fit::Holds),
            (
                "varchar(20)",
                C::Text { max_len: Some(40) },
                Fit::Widen("character varying(40)".into()),
            ),
            ("real", C::Float64, Fit::Widen("double precision".into())),
            ("double precision", C::Int32, Fit::Holds),
            ("integer", C::Text { max_len: None }, Fit::Incompatible),
            ("integer", dec(10, 2), Fit::Incompatible),
            ("bigint", C::Float64, Fit::Incompatible),
            ("numeric(8,2)", C::Text { max_len: None }, Fit::Incompatible),
            ("boolean", C::Int32, Fit::Incompatible),
            ("real", C::Int64, Fit::Incompatible),
            // Not judged: the operator chose the type.
            ("inet", C::Text { max_len: None }, Fit::Holds),
            ("interval", C::Int64, Fit::Holds),
            ("integer", C::Date, Fit::Holds),
        ];
        for (existing, wanted, want) in cases {
            assert_eq!(&fit(existing, wanted), want, "{existing} <- {wanted:?}");
        }
    }
}
