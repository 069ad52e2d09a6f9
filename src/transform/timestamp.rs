//! `TimestampConverter`: convert one column between a string (Java `SimpleDateFormat`
//! pattern), a unix count, a Date, a Time and a Timestamp, in UTC as Kafka Connect does.

use crate::event::{ColumnType, Row, Value};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// What the column becomes (`target.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetType {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl TargetType {
    pub(super) fn parse(name: &str) -> Option<TargetType> {
        Some(match name.trim() {
            "string" => TargetType::String,
            "unix" => TargetType::Unix,
            "Date" => TargetType::Date,
            "Time" => TargetType::Time,
            "Timestamp" => TargetType::Timestamp,
            _ => return None,
        })
    }
}

/// `unix.precision`: the unit of unix counts, read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

impl Precision {
    pub(super) fn parse(name: &str) -> Option<Precision> {
        Some(match name.trim() {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Millis,
            "microseconds" => Precision::Micros,
            "nanoseconds" => Precision::Nanos,
            _ => return None,
        })
    }

    fn to_datetime(self, count: i64) -> Option<NaiveDateTime> {
        let t = match self {
            Precision::Seconds => DateTime::from_timestamp(count, 0),
            Precision::Millis => DateTime::from_timestamp_millis(count),
            Precision::Micros => DateTime::from_timestamp_micros(count),
            Precision::Nanos => Some(DateTime::from_timestamp_nanos(count)),
        };
        t.map(|t| t.naive_utc())
    }

    fn count(self, t: NaiveDateTime) -> Option<i64> {
        let utc = t.and_utc();
        match self {
            Precision::Seconds => Some(utc.timestamp()),
            Precision::Millis => Some(utc.timestamp_millis()),
            Precision::Micros => Some(utc.timestamp_micros()),
            Precision::Nanos => utc.timestamp_nanos_opt(),
        }
    }
}

/// A configured converter for one column.
#[derive(Debug, Clone)]
pub(super) struct Converter {
    pub field: String,
    pub target: TargetType,
    /// The pattern in chrono's syntax, translated from `format`: for reading, and for
    /// writing (where `X` is always `Z`, as Java writes UTC).
    pub format: Option<(String, String)>,
    pub precision: Precision,
}

impl Converter {
    pub(super) fn apply(&self, row: &mut Row) -> Result<(), String> {
        let Some(field) = row.get_mut(&self.field) else {
            return Ok(());
        };
        if matches!(field.value, Value::Null | Value::Unavailable) {
            field.column_type = Some(self.column_type());
            return Ok(());
        }
        let instant = self
            .instant(&field.value)
            .map_err(|e| format!("field {}: {e}", self.field))?;
        field.value = self
            .output(instant)
            .ok_or_else(|| format!("field {}: {instant} cannot be written", self.field))?;
        field.column_type = Some(self.column_type());
        Ok(())
    }

    fn column_type(&self) -> ColumnType {
        match self.target {
            TargetType::String => ColumnType::Text { max_len: None },
            TargetType::Unix => ColumnType::Int64,
            TargetType::Date => ColumnType::Date,
            TargetType::Time => ColumnType::Time,
            TargetType::Timestamp => ColumnType::Timestamp,
        }
    }

    /// The value as a UTC instant.
    fn instant(&self, value: &Value) -> Result<NaiveDateTime, String> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        match value {
            Value::Timestamp(t) => Ok(*t),
            Value::Date(d) => Ok(d.and_time(NaiveTime::MIN)),
            Value::Time(t) => Ok(epoch.and_time(*t)),
            Value::TimestampTz(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.naive_utc())
                .map_err(|e| format!("{s:?}: {e}")),
            Value::Int(n) => self
                .precision
                .to_datetime(*n)
                .ok_or_else(|| format!("{n} is out of range")),
            Value::Untyped(json) if json.is_number() => json
                .as_i64()
                .and_then(|n| self.precision.to_datetime(n))
                .ok_or_else(|| format!("{json} is not a unix time")),
            Value::Text(s) => self.parse(s),
            Value::Untyped(json) if json.is_string() => {
                self.parse(json.as_str().unwrap_or_default())
            }
            other => Err(format!("a {} is not a timestamp", kind(other))),
        }
    }

    fn parse(&self, text: &str) -> Result<NaiveDateTime, String> {
        let Some((format, _)) = &self.format else {
            return Err("a string needs `format` to be read".into());
        };
        // Java's `X` reads `Z` for UTC; chrono's offsets do not.
        let zoned;
        let text = match text.strip_suffix('Z') {
            Some(rest) if format.ends_with("%:z") => {
                zoned = format!("{rest}+00:00");
                zoned.as_str()
            }
            Some(rest) if format.ends_with("%z") => {
                zoned = format!("{rest}+0000");
                zoned.as_str()
            }
            _ => text,
        };
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.naive_utc());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t);
        }
        // A pattern with only a date or only a time: the other part is the epoch's.
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        NaiveDate::parse_from_str(text, format)
            .map(|d| d.and_time(NaiveTime::MIN))
            .or_else(|_| NaiveTime::parse_from_str(text, format).map(|t| epoch.and_time(t)))
            .map_err(|e| format!("{text:?} does not match the format: {e}"))
    }

    fn output(&self, t: NaiveDateTime) -> Option<Value> {
        Some(match self.target {
            TargetType::String => {
                let (_, format) = self.format.as_ref()?;
                Value::Text(t.and_utc().format(format).to_string())
            }
            TargetType::Unix => Value::Int(self.precision.count(t)?),
            TargetType::Date => Value::Date(t.date()),
            TargetType::Time => Value::Time(t.time()),
            TargetType::Timestamp => Value::Timestamp(t),
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "boolean",
        Value::Float(_) => "float",
        Value::Decimal(_) => "decimal",
        Value::Bytes(_) => "bytes value",
        Value::Array(_) => "array",
        Value::Json(_) => "JSON value",
        _ => "value of this type",
    }
}

/// Translates a Java `SimpleDateFormat` pattern into chrono's format syntax, for reading and
/// for writing.
pub(super) fn java_formats(pattern: &str) -> Result<(String, String), String> {
    let read = java_format(pattern)?;
    // Always UTC: Java writes `X` as `Z`.
    let write = read.replace("%:z", "Z");
    let write = if pattern.contains('X') {
        write.replace("%z", "Z")
    } else {
        write
    };
    Ok((read, write))
}

/// Translates a Java `SimpleDateFormat` pattern into chrono's format syntax.
pub(super) fn java_format(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // 'quoted text', with '' for a quote inside or outside quotes.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quote".into()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('%') => {
                        out.push_str("%%");
                        i += 1;
                    }
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let item = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            // Java's S is a count of milliseconds; only SSS reads as a fraction.
            ('S', 3) => "%3f",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('a', _) => "%p",
            ('D', _) => "%j",
            ('Z', _) => "%z",
            ('X', 1 | 2) => "%z",
            ('X', _) => "%:z",
            _ => {
                return Err(format!(
                    "pattern letter {} is not supported",
                    c.to_string().repeat(run)
                ))
            }
        };
        out.push_str(item);
        i += run;
    }
    Ok(out)
}
