//! One payload value plus its logical type into a typed [`Value`].
//!
//! The payload must have the JSON shape its schema promises; a mismatch is a
//! [`DecodeError::BadField`] naming the field path, never a guess. Two things are accepted
//! whatever the schema says: `null` (Debezium fills non-optional columns it could not read with
//! null or a default) and the TOAST placeholder, which becomes [`Value::Unavailable`].

use super::binary::{self, is_placeholder};
use super::converter::json_type;
use super::decimal;
use super::schema::Logical;
use super::temporal;
use super::DecodeError;
use crate::event::Value;
use serde_json::Value as Json;

impl Logical {
    /// Converts `payload` to the value this logical type means; `path` names it in errors.
    pub(crate) fn convert(&self, payload: &Json, path: &str) -> Result<Value, DecodeError> {
        if payload.is_null() {
            return Ok(Value::Null);
        }
        // Any bytes-encoded type may carry the placeholder's bytes (a TOASTed numeric, too).
        let bytes_allowed = matches!(
            self,
            Logical::Bytes | Logical::Decimal { .. } | Logical::Bits(_)
        );
        if is_placeholder(payload, bytes_allowed) {
            return Ok(Value::Unavailable);
        }
        let expected = |what: &str| {
            DecodeError::bad_field(path, format!("expected {what}, got {}", json_type(payload)))
        };
        let fail = |reason: String| DecodeError::bad_field(path, reason);
        let int = || payload.as_i64().ok_or_else(|| expected("an integer"));
        let text = || payload.as_str().ok_or_else(|| expected("a string"));
        let bytes = || text().and_then(|t| binary::base64(t).map_err(fail));
        Ok(match *self {
            Logical::Int(bits) => Value::Int(check_width(int()?, bits).map_err(fail)?),
            Logical::Float32 | Logical::Float64 => {
                Value::Float(float(payload).ok_or_else(|| expected("a number"))?)
            }
            Logical::Bool => Value::Bool(payload.as_bool().ok_or_else(|| expected("a boolean"))?),
            Logical::Text(_) => Value::Text(text()?.to_string()),
            Logical::Bytes => Value::Bytes(bytes()?),
            Logical::Decimal { scale, .. } => Value::Decimal(match payload {
                // decimal.format=NUMERIC writes the number itself.
                Json::Number(n) => {
                    decimal::from_number_text(&n.to_string(), scale).map_err(fail)?
                }
                _ => decimal::from_unscaled_bytes(&bytes()?, scale).map_err(fail)?,
            }),
            Logical::VariableDecimal => Value::Decimal(variable_decimal(payload, path)?),
            Logical::Date => temporal::date(int()?).map_err(fail)?,
            Logical::Time(unit) => temporal::time(int()?, unit).map_err(fail)?,
            Logical::Timestamp(unit) => temporal::timestamp(int()?, unit).map_err(fail)?,
            // Debezium passes PostgreSQL's infinities through as text.
            Logical::TimestampTz => match text()? {
                "infinity" => Value::Infinite { negative: false },
                "-infinity" => Value::Infinite { negative: true },
                zoned => Value::TimestampTz(zoned.to_string()),
            },
            Logical::TimeTz => Value::TimeTz(text()?.to_string()),
            Logical::Json => Value::Json(match payload {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            }),
            Logical::Uuid => {
                let t = text()?;
                uuid::Uuid::parse_str(t).map_err(|e| fail(format!("invalid uuid {t:?}: {e}")))?;
                Value::Uuid(t.to_string())
            }
            Logical::Bits(length) => {
                Value::Bits(binary::bits_text(&bytes()?, length).map_err(fail)?)
            }
            Logical::Array(ref element) => {
                let elements = payload.as_array().ok_or_else(|| expected("an array"))?;
                let element_path = format!("{path}[]");
                let values = elements
                    .iter()
                    .map(|e| element.convert(e, &element_path))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::Array(values)
            }
            Logical::Document => Value::Json(payload.to_string()),
        })
    }
}

/// Range-checks an integer against its declared width (int8/16/32), so a corrupt payload does
/// not reach the target as a value the column cannot hold.
fn check_width(value: i64, bits: u8) -> Result<i64, String> {
    let fits = match bits {
        8 => i8::try_from(value).is_ok(),
        16 => i16::try_from(value).is_ok(),
        32 => i32::try_from(value).is_ok(),
        _ => true,
    };
    if fits {
        Ok(value)
    } else {
        Err(format!("{value} does not fit in int{bits}"))
    }
}

/// A float, including the strings Jackson writes for non-finite doubles.
fn float(payload: &Json) -> Option<f64> {
    match payload {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// `io.debezium.data.VariableScaleDecimal`: `{"scale": int32, "value": base64 unscaled}`.
fn variable_decimal(payload: &Json, path: &str) -> Result<String, DecodeError> {
    let scale = payload
        .get("scale")
        .and_then(Json::as_i64)
        .and_then(|s| i32::try_from(s).ok())
        .ok_or_else(|| {
            DecodeError::bad_field(path, "VariableScaleDecimal without an int32 `scale`")
        })?;
    let value = payload.get("value").and_then(Json::as_str).ok_or_else(|| {
        DecodeError::bad_field(path, "VariableScaleDecimal without a base64 `value`")
    })?;
    let bytes = binary::base64(value).map_err(|e| DecodeError::bad_field(path, e))?;
    decimal::from_unscaled_bytes(&bytes, scale).map_err(|e| DecodeError::bad_field(path, e))
}
