//! Value conversion: an event [`Value`] becomes a bound parameter for one target column.
//!
//! Values are bound as text (PostgreSQL casts them to the column type in the statement; SQLite
//! applies column affinity) except binary data on SQLite, which is bound as a blob. Rendering
//! goes through the target column's type, so typed and schemaless events give the same rows.

use super::types::TargetType;
use crate::config::Dialect;
use crate::db::Param;
use crate::event::Value;
use base64::Engine;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// Why a value does not fit its column. Permanent: the record is bad for this target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct RenderError {
    /// Target column.
    pub column: String,
    /// What does not fit.
    pub reason: String,
}

/// Converts a value for a column of type `target`. `Value::Unavailable` must be filtered out
/// before (it is never written).
pub fn render(
    value: &Value,
    target: &TargetType,
    dialect: Dialect,
    column: &str,
) -> Result<Param, RenderError> {
    let fail = |reason: String| RenderError {
        column: column.to_string(),
        reason,
    };
    if let (Dialect::Sqlite, TargetType::Bytes) = (dialect, target) {
        return match value {
            Value::Null => Ok(Param::Blob(None)),
            Value::Bytes(b) => Ok(Param::Blob(Some(b.clone()))),
            Value::Untyped(json) if json.is_string() => base64::engine::general_purpose::STANDARD
                .decode(json.as_str().unwrap_or_default())
                .map(|b| Param::Blob(Some(b)))
                .map_err(|e| fail(format!("invalid base64: {e}"))),
            other => Ok(Param::Blob(
                text(other, target, dialect)
                    .map_err(fail)?
                    .map(String::into_bytes),
            )),
        };
    }
    text(value, target, dialect).map(Param::Text).map_err(fail)
}

/// The text form of a value for the target type; `None` is SQL NULL.
pub fn text(
    value: &Value,
    target: &TargetType,
    dialect: Dialect,
) -> Result<Option<String>, String> {
    let rendered = match value {
        Value::Null => return Ok(None),
        Value::Unavailable => return Err("the TOAST placeholder cannot be written".into()),
        Value::Bool(b) => match target {
            TargetType::Int => (*b as i64).to_string(),
            // Debezium sends bit(1) as a Connect boolean.
            TargetType::Bits { .. } => if *b { "1" } else { "0" }.to_string(),
            _ if dialect == Dialect::Sqlite => (*b as i64).to_string(),
            _ => b.to_string(),
        },
        Value::Int(i) => match target {
            TargetType::Bool => (*i != 0).to_string(),
            TargetType::Interval => interval_text(*i),
            _ => i.to_string(),
        },
        Value::Float(f) if dialect == Dialect::Sqlite && !f.is_finite() => {
            return Err(format!(
                "SQLite cannot hold the float {} (a REAL column has no NaN or infinity)",
                float_text(*f)
            ))
        }
        Value::Float(f) => float_text(*f),
        Value::Infinite { negative } => {
            let text = if *negative { "-infinity" } else { "infinity" };
            if dialect == Dialect::Sqlite {
                return Err(format!(
                    "SQLite cannot hold PostgreSQL's {text} date or timestamp"
                ));
            }
            text.to_string()
        }
        Value::TimestampTz(s) => zoned_text(s),
        Value::Decimal(s)
        | Value::Text(s)
        | Value::TimeTz(s)
        | Value::Json(s)
        | Value::Uuid(s)
        | Value::Bits(s) => s.clone(),
        Value::Bytes(b) => bytes_text(b, dialect),
        Value::Date(d) => date_text(*d),
        Value::Time(t) => t.format("%H:%M:%S%.f").to_string(),
        Value::Timestamp(ts) => timestamp_text(*ts),
        Value::Array(items) => array_text(items, target, dialect)?,
        Value::Untyped(json) => return untyped(json, target, dialect),
    };
    Ok(Some(rendered))
}

/// Debezium's `MicroDuration` (microseconds; a month counted as 30.4375 days) as PostgreSQL
/// interval input: days and time, both carrying the sign (`-3 days -04:05:06.000001`), which
/// PostgreSQL prints back the same way. A bare number would be read as seconds.
fn interval_text(micros: i64) -> String {
    const MICROS_PER_DAY: u64 = 86_400_000_000;
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let days = abs / MICROS_PER_DAY;
    let rest = abs % MICROS_PER_DAY;
    let secs = rest / 1_000_000;
    format!(
        "{sign}{days} days {sign}{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rest % 1_000_000
    )
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{f:?}")
    }
}

fn bytes_text(bytes: &[u8], dialect: Dialect) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match dialect {
        Dialect::Postgres => format!("\\x{hex}"),
        Dialect::Sqlite => hex,
    }
}

/// ISO date; years before 1 AD in PostgreSQL's `BC` form (ISO year 0 is 1 BC).
fn date_text(date: NaiveDate) -> String {
    if date.year() > 0 {
        // Not `%Y`: chrono signs years past 9999 (`+12345`), which PostgreSQL refuses.
        format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
    } else {
        format!(
            "{:04}-{:02}-{:02} BC",
            1 - date.year(),
            date.month(),
            date.day()
        )
    }
}

/// Debezium's ZonedTimestamp text as PostgreSQL reads it: ISO 8601's signed years (`+10000-`,
/// `-0043-` for 44 BC, year 0 being 1 BC) become an unsigned year, with ` BC` before 1 AD.
fn zoned_text(iso: &str) -> String {
    let (sign, rest) = match iso.as_bytes().first() {
        Some(b'+') => (1, &iso[1..]),
        Some(b'-') => (-1, &iso[1..]),
        _ => return iso.to_string(),
    };
    match rest.split_once('-').map(|(y, r)| (y.parse::<i64>(), r)) {
        Some((Ok(year), r)) if sign > 0 => format!("{year:04}-{r}"),
        Some((Ok(year), r)) => format!("{:04}-{r} BC", year + 1),
        _ => iso.to_string(),
    }
}

fn timestamp_text(ts: NaiveDateTime) -> String {
    let time = ts.time().format("%H:%M:%S%.f");
    let date = ts.date();
    if date.year() > 0 {
        format!("{} {time}", date_text(date))
    } else {
        format!(
            "{:04}-{:02}-{:02} {time} BC",
            1 - date.year(),
            date.month(),
            date.day()
        )
    }
}

fn array_text(items: &[Value], target: &TargetType, dialect: Dialect) -> Result<String, String> {
    let elem = match target {
        TargetType::Array(elem) => elem.as_ref(),
        _ => &TargetType::Other,
    };
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        parts.push(text(item, elem, dialect)?);
    }
    Ok(match dialect {
        Dialect::Postgres => {
            let quoted: Vec<String> = parts
                .into_iter()
                .map(|p| match p {
                    None => "NULL".into(),
                    Some(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                })
                .collect();
            format!("{{{}}}", quoted.join(","))
        }
        Dialect::Sqlite => serde_json::Value::Array(
            parts
                .into_iter()
                .map(|p| {
                    p.map(serde_json::Value::String)
                        .unwrap_or(serde_json::Value::Null)
                })
                .collect(),
        )
        .to_string(),
    })
}

/// Converts a schemaless JSON value by what the target column holds, reading Debezium's
/// encodings: dates as epoch days, times and timestamps as epoch units (adaptive precision:
/// milliseconds for precision 0-3, microseconds above), bytes as base64.
fn untyped(
    json: &serde_json::Value,
    target: &TargetType,
    dialect: Dialect,
) -> Result<Option<String>, String> {
    use serde_json::Value as J;
    let typed = match (json, target) {
        (J::Null, _) => return Ok(None),
        (J::Number(n), TargetType::Date) => {
            let days = n.as_i64().ok_or("date must be an integer day count")?;
            match crate::decode::date_infinity(days) {
                Some(negative) => Value::Infinite { negative },
                None => Value::Date(epoch_date(days)?),
            }
        }
        (J::Number(n), TargetType::Timestamp { precision }) => {
            let raw = n.as_i64().ok_or("timestamp must be an integer")?;
            if let Some(infinity) = crate::decode::timestamp_infinity(raw, *precision <= 3) {
                let negative = infinity.starts_with('-');
                return text(&Value::Infinite { negative }, target, dialect);
            }
            let micros = if *precision <= 3 {
                raw.checked_mul(1000).ok_or("timestamp out of range")?
            } else {
                raw
            };
            Value::Timestamp(
                DateTime::from_timestamp_micros(micros)
                    .ok_or("timestamp out of range")?
                    .naive_utc(),
            )
        }
        (J::Number(n), TargetType::Time { precision }) => {
            let raw = n.as_i64().ok_or("time must be an integer")?;
            let micros = if *precision <= 3 {
                raw.checked_mul(1000).ok_or("time out of range")?
            } else {
                raw
            };
            // PostgreSQL's 24:00:00 arrives as exactly one day.
            if micros == 86_400_000_000 {
                return Ok(Some("24:00:00".into()));
            }
            if !(0..86_400_000_000).contains(&micros) {
                return Err(format!("time of day {raw} is out of range"));
            }
            Value::Time(NaiveTime::MIN + Duration::microseconds(micros))
        }
        (J::Number(n), TargetType::Interval) => Value::Int(
            n.as_i64()
                .ok_or("interval must be an integer count of microseconds")?,
        ),
        (J::String(s), TargetType::Bits { length }) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("bits are not base64: {e}"))?;
            Value::Bits(crate::decode::bits_text(&bytes, *length)?)
        }
        (J::String(s), TargetType::Bytes) => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("invalid base64: {e}"))?,
        ),
        (J::String(s), TargetType::Numeric { scale: Some(scale) }) if !looks_numeric(s) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("decimal is neither a number nor base64: {e}"))?;
            Value::Decimal(crate::decode::from_unscaled_bytes(&bytes, *scale as i32)?)
        }
        (J::Object(map), TargetType::Numeric { .. }) => {
            let scale = map
                .get("scale")
                .and_then(J::as_u64)
                .ok_or("variable-scale decimal without scale")?;
            let value = map
                .get("value")
                .and_then(J::as_str)
                .ok_or("variable-scale decimal without value")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| format!("invalid base64: {e}"))?;
            Value::Decimal(crate::decode::from_unscaled_bytes(&bytes, scale as i32)?)
        }
        (J::Array(items), _) => Value::Array(
            items
                .iter()
                .map(|item| Value::Untyped(Box::new(item.clone())))
                .collect(),
        ),
        (J::Bool(b), _) => Value::Bool(*b),
        (J::String(s), TargetType::TimestampTz) => match s.as_str() {
            "infinity" => Value::Infinite { negative: false },
            "-infinity" => Value::Infinite { negative: true },
            _ => Value::TimestampTz(s.clone()),
        },
        (J::String(s), _) => Value::Text(s.clone()),
        (J::Number(n), _) => Value::Decimal(n.to_string()),
        (J::Object(_), _) => Value::Json(json.to_string()),
    };
    text(&typed, target, dialect)
}

fn looks_numeric(s: &str) -> bool {
    !s.is_empty() && s.parse::<f64>().is_ok()
}

fn epoch_date(days: i64) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(Duration::try_days(days)?))
        .ok_or_else(|| format!("date {days} days from the epoch is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pg(value: Value, target: TargetType) -> Option<String> {
        text(&value, &target, Dialect::Postgres).unwrap()
    }

    #[test]
    fn zoned_timestamps_with_signed_years() {
        // As the corpus `edge` scenario recorded them.
        assert_eq!(
            zoned_text("-0043-03-15T12:00:00.000000Z"),
            "0044-03-15T12:00:00.000000Z BC"
        );
        assert_eq!(
            zoned_text("+10000-01-01T00:00:00.000000Z"),
            "10000-01-01T00:00:00.000000Z"
        );
        assert_eq!(zoned_text("2024-01-15T10:00:00Z"), "2024-01-15T10:00:00Z");
    }

    #[test]
    fn sqlite_refuses_what_it_cannot_hold() {
        let lite = |v: Value| text(&v, &TargetType::Text, Dialect::Sqlite);
        let err = lite(Value::Infinite { negative: true }).unwrap_err();
        assert!(err.contains("-infinity"), "{err}");
        assert!(lite(Value::Float(f64::NAN)).unwrap_err().contains("NaN"));
        assert!(lite(Value::Float(f64::INFINITY)).is_err());
        assert_eq!(lite(Value::Float(-0.5)).unwrap().as_deref(), Some("-0.5"));
        assert_eq!(
            text(
                &Value::Infinite { negative: false },
                &TargetType::Date,
                Dialect::Postgres
            )
            .unwrap()
            .as_deref(),
            Some("infinity")
        );
    }

    #[test]
    fn typed_values_render_exactly() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(pg(Value::Date(d), TargetType::Date).unwrap(), "2024-03-01");
        let bc = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        assert_eq!(
            pg(Value::Date(bc), TargetType::Date).unwrap(),
            "0001-01-01 BC"
        );
        assert_eq!(pg(Value::Float(1.5), TargetType::Float).unwrap(), "1.5");
        assert_eq!(
            pg(Value::Float(f64::NEG_INFINITY), TargetType::Float).unwrap(),
            "-Infinity"
        );
        assert_eq!(
            pg(Value::Bytes(vec![0, 255]), TargetType::Bytes).unwrap(),
            "\\x00ff"
        );
        let arr = Value::Array(vec![Value::Int(1), Value::Null, Value::Text("a\"b".into())]);
        assert_eq!(
            pg(arr, TargetType::Array(Box::new(TargetType::Text))).unwrap(),
            "{\"1\",NULL,\"a\\\"b\"}"
        );
        assert_eq!(pg(Value::Null, TargetType::Int), None);
        assert!(text(&Value::Unavailable, &TargetType::Text, Dialect::Postgres).is_err());
    }

    #[test]
    fn intervals_are_days_and_time_not_seconds() {
        let iv = |micros: i64| pg(Value::Int(micros), TargetType::Interval).unwrap();
        // Values of the corpus `types` scenario.
        assert_eq!(iv(273_906_789_000), "3 days 04:05:06.789000");
        assert_eq!(iv(-273_906_000_001), "-3 days -04:05:06.000001");
        assert_eq!(iv(-1), "-0 days -00:00:00.000001");
        assert_eq!(iv(0), "0 days 00:00:00.000000");
        assert_eq!(iv(644_245_095_600_000_000), "7456540 days 11:00:00.000000");
        assert_eq!(iv(i64::MIN), "-106751991 days -04:00:54.775808");
        assert_eq!(
            pg(
                Value::untyped(json!(273_906_789_000_i64)),
                TargetType::Interval
            )
            .unwrap(),
            "3 days 04:05:06.789000"
        );
        // interval.handling.mode=string: ISO 8601 text, which PostgreSQL reads as is.
        assert_eq!(
            pg(
                Value::Text("P1Y2M3DT4H5M6.78S".into()),
                TargetType::Interval
            )
            .unwrap(),
            "P1Y2M3DT4H5M6.78S"
        );
    }

    #[test]
    fn bits_money_and_special_times() {
        let bit1 = TargetType::Bits { length: Some(1) };
        assert_eq!(pg(Value::Bool(true), bit1.clone()).unwrap(), "1");
        assert_eq!(pg(Value::untyped(json!(false)), bit1).unwrap(), "0");
        let bit8 = TargetType::Bits { length: Some(8) };
        assert_eq!(
            pg(Value::untyped(json!("pQ==")), bit8.clone()).unwrap(),
            "10100101"
        );
        // B'00000000': Debezium sends no bytes at all.
        assert_eq!(pg(Value::untyped(json!("")), bit8).unwrap(), "00000000");
        assert_eq!(
            pg(
                Value::untyped(json!("DQ==")),
                TargetType::Bits { length: None }
            )
            .unwrap(),
            "00001101"
        );
        // money: Decimal bytes of scale 2 (92233720368547758.07 = 0x7fffffffffffffff).
        let money = super::super::types::parse_target_type("money");
        assert_eq!(
            pg(Value::untyped(json!("f/////////8=")), money.clone()).unwrap(),
            "92233720368547758.07"
        );
        assert_eq!(pg(Value::untyped(json!("AeJA")), money).unwrap(), "1234.56");
        // 24:00:00 (one day) and the JDBC infinity sentinels, schemaless.
        let t6 = TargetType::Time { precision: 6 };
        assert_eq!(
            pg(Value::untyped(json!(86_400_000_000_i64)), t6.clone()).unwrap(),
            "24:00:00"
        );
        assert_eq!(
            pg(
                Value::untyped(json!(86_400_000)),
                TargetType::Time { precision: 0 }
            )
            .unwrap(),
            "24:00:00"
        );
        assert!(text(
            &Value::untyped(json!(86_400_000_001_i64)),
            &t6,
            Dialect::Postgres
        )
        .is_err());
        assert!(text(&Value::untyped(json!(-1)), &t6, Dialect::Postgres).is_err());
        let ts = |p: u32, raw: i64| {
            pg(
                Value::untyped(json!(raw)),
                TargetType::Timestamp { precision: p },
            )
            .unwrap()
        };
        assert_eq!(ts(0, 9_223_372_036_825_200), "infinity");
        assert_eq!(ts(3, -9_223_372_036_832_400), "-infinity");
        assert_eq!(ts(6, 9_223_372_036_825_200_000), "infinity");
        assert_eq!(ts(6, -9_223_372_036_832_400_000), "-infinity");
        // Dates as either Debezium path sends the infinities, and past year 9999.
        let date = |days: i64| {
            text(
                &Value::untyped(json!(days)),
                &TargetType::Date,
                Dialect::Postgres,
            )
            .unwrap()
            .unwrap()
        };
        assert_eq!(date(-622_191_234), "infinity");
        assert_eq!(date(-2_147_472_691), "-infinity");
        assert_eq!(date(3_789_548), "12345-06-07");
        // BC timestamp (0044-03-15 12:00:00.001 BC as milliseconds).
        assert_eq!(ts(3, -63_517_780_799_999), "0044-03-15 12:00:00.001 BC");
        // 0044-03-15 BC as streaming sends it (the JDBC snapshot sends -703383, i.e. 44 AD).
        assert_eq!(
            pg(Value::untyped(json!(-735_160)), TargetType::Date).unwrap(),
            "0044-03-15 BC"
        );
    }

    #[test]
    fn schemaless_values_follow_the_target_type() {
        let u = Value::untyped;
        assert_eq!(pg(u(json!(19783)), TargetType::Date).unwrap(), "2024-03-01");
        assert_eq!(pg(u(json!(-1)), TargetType::Date).unwrap(), "1969-12-31");
        assert_eq!(
            pg(u(json!(1_000)), TargetType::Timestamp { precision: 3 }).unwrap(),
            "1970-01-01 00:00:01"
        );
        assert_eq!(
            pg(u(json!(1_500_000)), TargetType::Timestamp { precision: 6 }).unwrap(),
            "1970-01-01 00:00:01.500"
        );
        assert_eq!(pg(u(json!("AP8=")), TargetType::Bytes).unwrap(), "\\x00ff");
        // 12345 unscaled at scale 2 (bytes 0x30 0x39).
        assert_eq!(
            pg(u(json!("MDk=")), TargetType::Numeric { scale: Some(2) }).unwrap(),
            "123.45"
        );
        assert_eq!(
            pg(
                u(json!({"scale": 1, "value": "MDk="})),
                TargetType::Numeric { scale: None }
            )
            .unwrap(),
            "1234.5"
        );
        assert_eq!(
            pg(u(json!("12.5")), TargetType::Numeric { scale: Some(2) }).unwrap(),
            "12.5"
        );
        assert_eq!(
            pg(
                u(json!([1, 2])),
                TargetType::Array(Box::new(TargetType::Int))
            )
            .unwrap(),
            "{\"1\",\"2\"}"
        );
        assert_eq!(
            pg(u(json!({"a": 1})), TargetType::Json).unwrap(),
            "{\"a\":1}"
        );
        assert!(text(
            &u(json!("not base64!")),
            &TargetType::Bytes,
            Dialect::Postgres
        )
        .is_err());
        let blob = render(&u(json!("AP8=")), &TargetType::Bytes, Dialect::Sqlite, "c").unwrap();
        assert_eq!(blob, Param::Blob(Some(vec![0, 255])));
    }
}
