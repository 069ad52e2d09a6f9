//! `Cast`: change the type of columns (`spec` = `field:type,...`), Kafka Connect's types.

use crate::event::{ColumnType, Row, Value};
use base64::Engine as _;

/// A Connect primitive type a column can be cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl Target {
    pub(super) fn parse(name: &str) -> Option<Target> {
        Some(match name.trim() {
            "int8" => Target::Int8,
            "int16" => Target::Int16,
            "int32" => Target::Int32,
            "int64" => Target::Int64,
            "float32" => Target::Float32,
            "float64" => Target::Float64,
            "boolean" => Target::Boolean,
            "string" => Target::String,
            _ => return None,
        })
    }

    fn column_type(self) -> ColumnType {
        match self {
            Target::Int8 => ColumnType::Int8,
            Target::Int16 => ColumnType::Int16,
            Target::Int32 => ColumnType::Int32,
            Target::Int64 => ColumnType::Int64,
            Target::Float32 => ColumnType::Float32,
            Target::Float64 => ColumnType::Float64,
            Target::Boolean => ColumnType::Bool,
            Target::String => ColumnType::Text { max_len: None },
        }
    }

    /// The integer range of an integer target.
    fn range(self) -> Option<(i64, i64)> {
        match self {
            Target::Int8 => Some((i8::MIN.into(), i8::MAX.into())),
            Target::Int16 => Some((i16::MIN.into(), i16::MAX.into())),
            Target::Int32 => Some((i32::MIN.into(), i32::MAX.into())),
            Target::Int64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }
}

/// The configured casts, by column name.
#[derive(Debug, Clone)]
pub(super) struct Cast {
    pub casts: Vec<(String, Target)>,
}

impl Cast {
    pub(super) fn apply(&self, row: &mut Row) -> Result<(), String> {
        for (name, target) in &self.casts {
            let Some(field) = row.get_mut(name) else {
                continue;
            };
            field.value = cast(&field.value, *target)
                .map_err(|reason| format!("field {name}: cannot cast to {target:?}: {reason}"))?;
            field.column_type = Some(target.column_type());
        }
        Ok(())
    }
}

/// Casts one value. NULL and TOAST placeholders pass unchanged.
/// `true`/`false` text (any case, trimmed) as a boolean.
fn boolean(s: &str) -> Result<Value, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        _ => Err(format!("{s:?} is not a boolean")),
    }
}

fn cast(value: &Value, target: Target) -> Result<Value, String> {
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Decimal(d) | Value::Text(d) => d.trim().parse().ok(),
            Value::Untyped(json) => match &**json {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            },
            _ => None,
        }
    };
    if matches!(value, Value::Null | Value::Unavailable)
        || matches!(value, Value::Untyped(json) if json.is_null())
    {
        return Ok(match value {
            Value::Unavailable => Value::Unavailable,
            _ => Value::Null,
        });
    }
    match target {
        Target::String => text(value).map(Value::Text),
        Target::Boolean => match value {
            Value::Text(s) => boolean(s),
            Value::Untyped(json) if json.is_string() => boolean(json.as_str().unwrap_or_default()),
            other => number(other)
                .map(|n| Value::Bool(n != 0.0))
                .ok_or_else(|| "not a number or boolean".into()),
        },
        Target::Float32 | Target::Float64 => number(value)
            .map(|n| {
                if target == Target::Float32 {
                    Value::Float(f64::from(n as f32))
                } else {
                    Value::Float(n)
                }
            })
            .ok_or_else(|| "not a number".into()),
        int => {
            let (min, max) = int.range().unwrap_or((i64::MIN, i64::MAX));
            let whole = match value {
                Value::Int(i) => Some(*i),
                // Exact: the integer part of the decimal text, not a trip through f64.
                Value::Decimal(s) | Value::Text(s) => integer_part(s.trim()),
                Value::Untyped(json) => match &**json {
                    serde_json::Value::String(s) => integer_part(s.trim()),
                    serde_json::Value::Number(n) => n.as_i64(),
                    _ => None,
                },
                _ => None,
            };
            // Connect casts floats and decimals to integers by truncation.
            let n = match whole {
                Some(n) => n,
                None => {
                    let f = number(value).ok_or("not a number")?.trunc();
                    if !f.is_finite() || f < min as f64 || f > max as f64 {
                        return Err(format!("{f} is out of range"));
                    }
                    f as i64
                }
            };
            if n < min || n > max {
                return Err(format!("{n} is out of range"));
            }
            Ok(Value::Int(n))
        }
    }
}

/// The integer part of plain decimal text (`-12.75` -> -12); `None` for anything else
/// (exponents, garbage, out of i64).
fn integer_part(text: &str) -> Option<i64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match int {
        // `.5`, `-.5`: a fraction alone; an empty or sign-only text is not a number.
        "" | "-" | "+" if !frac.is_empty() => Some(0),
        _ => int.parse().ok(),
    }
}

/// A float as Java's `Double.toString` writes the common cases (`1.0`, not `1`).
fn java_double(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e7 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A value as text, as Connect's Cast writes it (bytes in base64).
fn text(value: &Value) -> Result<String, String> {
    if let Some(s) = value.as_text() {
        return Ok(s.to_string());
    }
    Ok(match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => java_double(*f),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::Date(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        Value::Untyped(json) => json.to_string(),
        Value::Array(_) => return Err("arrays cannot be cast".into()),
        // NULL, the TOAST placeholder (never cast) and the text kinds handled above.
        other => other.as_text().unwrap_or_default().to_string(),
    })
}
