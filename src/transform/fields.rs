//! Transforms that route the record or reshape its columns: RegexRouter, ReplaceField,
//! MaskField, InsertField and ValueToKey.

use crate::event::{ChangeEvent, ColumnType, Field, Row, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use regex::Regex;

/// `RegexRouter`: a topic that matches `regex` whole is renamed to `replacement`.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub regex: Regex,
    /// The replacement in Rust's syntax (`${1}`), translated from Java's (`$1`).
    pub replacement: String,
}

impl Route {
    /// The new topic name, or `None` when the topic does not match.
    pub(super) fn rename(&self, topic: &str) -> Option<String> {
        self.regex.is_match(topic).then(|| {
            self.regex
                .replace(topic, self.replacement.as_str())
                .into_owned()
        })
    }
}

/// Translates a `java.util.regex` replacement (`$1`, `${name}`, `\$`) into Rust's syntax.
pub(super) fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 4);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                // Java reads one digit (more only while the group exists); one is the common
                // case and what `$10` means for fewer than ten groups.
                out.push_str("${");
                out.push(chars.next().unwrap_or('0'));
                out.push('}');
            }
            '$' => out.push('$'),
            c => out.push(c),
        }
    }
    out
}

/// `ReplaceField`: keep (`include`), drop (`exclude`) and rename (`renames`) columns.
#[derive(Debug, Clone, Default)]
pub(super) struct Replace {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub renames: Vec<(String, String)>,
}

impl Replace {
    pub(super) fn apply(&self, row: &mut Row) {
        row.fields.retain(|f| {
            (self.include.is_empty() || self.include.contains(&f.name))
                && !self.exclude.contains(&f.name)
        });
        for field in &mut row.fields {
            if let Some((_, to)) = self.renames.iter().find(|(from, _)| *from == field.name) {
                field.name = to.clone();
            }
        }
    }
}

/// `MaskField`: the listed columns get their type's empty value, or `replacement`.
#[derive(Debug, Clone)]
pub(super) struct Mask {
    pub fields: Vec<String>,
    pub replacement: Option<String>,
}

impl Mask {
    pub(super) fn apply(&self, row: &mut Row) -> Result<(), String> {
        for field in row
            .fields
            .iter_mut()
            .filter(|f| self.fields.contains(&f.name))
        {
            field.value = match &self.replacement {
                None => empty(&field.value),
                Some(r) => replaced(&field.value, r)
                    .ok_or_else(|| format!("field {}: cannot mask with {r:?}", field.name))?,
            };
        }
        Ok(())
    }
}

/// The value Kafka Connect's MaskField puts in place of `value`: zero, empty or the epoch.
/// NULL stays NULL, and a TOAST placeholder stays one (its value never leaves the target).
fn empty(value: &Value) -> Value {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match value {
        Value::Null | Value::Unavailable => value.clone(),
        Value::Bool(_) => Value::Bool(false),
        Value::Int(_) => Value::Int(0),
        Value::Float(_) => Value::Float(0.0),
        Value::Decimal(_) => Value::Decimal("0".into()),
        Value::Text(_) => Value::Text(String::new()),
        Value::Bytes(_) => Value::Bytes(Vec::new()),
        Value::Date(_) => Value::Date(epoch),
        Value::Time(_) => Value::Time(NaiveTime::MIN),
        Value::TimeTz(_) => Value::TimeTz("00:00:00Z".into()),
        Value::Timestamp(_) => Value::Timestamp(NaiveDateTime::new(epoch, NaiveTime::MIN)),
        Value::TimestampTz(_) => Value::TimestampTz("1970-01-01T00:00:00Z".into()),
        // A date or a timestamp: the epoch at midnight reads as either.
        Value::Infinite { .. } => Value::Timestamp(NaiveDateTime::new(epoch, NaiveTime::MIN)),
        Value::Json(_) => Value::Json("null".into()),
        Value::Uuid(_) => Value::Uuid("00000000-0000-0000-0000-000000000000".into()),
        Value::Bits(b) => Value::Bits("0".repeat(b.len())),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Untyped(json) => Value::Untyped(Box::new(match &**json {
            serde_json::Value::Bool(_) => serde_json::Value::Bool(false),
            serde_json::Value::Number(_) => serde_json::Value::from(0),
            serde_json::Value::String(_) => serde_json::Value::String(String::new()),
            serde_json::Value::Array(_) => serde_json::Value::Array(Vec::new()),
            serde_json::Value::Object(_) => serde_json::Value::Object(Default::default()),
            serde_json::Value::Null => serde_json::Value::Null,
        })),
    }
}

/// `replacement` as a value of `value`'s type: only numbers and text can be replaced, as in
/// Kafka Connect. `None` when the type cannot take it.
fn replaced(value: &Value, replacement: &str) -> Option<Value> {
    Some(match value {
        Value::Null | Value::Unavailable => value.clone(),
        Value::Int(_) => Value::Int(replacement.trim().parse().ok()?),
        Value::Float(_) => Value::Float(replacement.trim().parse().ok()?),
        Value::Decimal(_) => {
            let text = replacement.trim();
            text.parse::<f64>().ok()?;
            Value::Decimal(text.to_string())
        }
        Value::Text(_) => Value::Text(replacement.to_string()),
        Value::Untyped(json) if json.is_string() => {
            Value::Untyped(Box::new(serde_json::Value::String(replacement.to_string())))
        }
        Value::Untyped(json) if json.is_number() => {
            Value::Untyped(Box::new(serde_json::from_str(replacement.trim()).ok()?))
        }
        _ => return None,
    })
}

/// A column name from an InsertField option: `name`, `name!` (required) or `name?`.
#[derive(Debug, Clone)]
pub(super) struct Inserted {
    pub name: String,
    pub optional: bool,
}

impl Inserted {
    pub(super) fn parse(spec: &str) -> Option<Inserted> {
        let spec = spec.trim();
        let (name, optional) = match spec.strip_suffix('!') {
            Some(name) => (name, false),
            None => (spec.strip_suffix('?').unwrap_or(spec), true),
        };
        (!name.is_empty()).then(|| Inserted {
            name: name.to_string(),
            optional,
        })
    }
}

/// `InsertField`: columns holding the record's topic, partition, offset or timestamp, or a
/// static value.
#[derive(Debug, Clone, Default)]
pub(super) struct Insert {
    pub topic: Option<Inserted>,
    pub partition: Option<Inserted>,
    pub offset: Option<Inserted>,
    pub timestamp: Option<Inserted>,
    pub static_field: Option<(Inserted, String)>,
}

impl Insert {
    /// The fields to add for this record.
    pub(super) fn values(&self, event: &ChangeEvent) -> Vec<(Inserted, Value, ColumnType)> {
        let c = &event.coordinates;
        let timestamp = event
            .kafka_timestamp_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| Value::Timestamp(t.naive_utc()))
            .unwrap_or(Value::Null);
        let text = ColumnType::Text { max_len: None };
        [
            (
                &self.topic,
                Value::Text(event.topic().to_string()),
                text.clone(),
            ),
            (
                &self.partition,
                Value::Int(c.partition.into()),
                ColumnType::Int32,
            ),
            (&self.offset, Value::Int(c.offset), ColumnType::Int64),
            (&self.timestamp, timestamp, ColumnType::Timestamp),
        ]
        .into_iter()
        .filter_map(|(spec, value, t)| spec.clone().map(|s| (s, value, t)))
        .chain(
            self.static_field
                .iter()
                .map(|(s, v)| (s.clone(), Value::Text(v.clone()), text.clone())),
        )
        .collect()
    }

    pub(super) fn apply(
        &self,
        row: &mut Row,
        values: &[(Inserted, Value, ColumnType)],
    ) -> Result<(), String> {
        for (spec, value, column_type) in values {
            if row.get(&spec.name).is_some() {
                return Err(format!("field {} already exists in the row", spec.name));
            }
            if !spec.optional && *value == Value::Null {
                return Err(format!("required field {} has no value", spec.name));
            }
            row.fields.push(Field {
                name: spec.name.clone(),
                value: value.clone(),
                column_type: Some(column_type.clone()),
                optional: spec.optional,
                default: None,
            });
        }
        Ok(())
    }
}

/// `ValueToKey`: the key becomes the listed columns of the row (the `after` image, or
/// `before` for a delete). The old key of a primary-key change is dropped: it has the
/// source's key shape, not this one.
pub(super) fn value_to_key(event: &mut ChangeEvent, fields: &[String]) -> Result<(), String> {
    let Some(row) = event.after.as_ref().or(event.before.as_ref()) else {
        // A truncate has no row and no key.
        return Ok(());
    };
    let key = fields
        .iter()
        .map(|name| {
            row.get(name)
                .cloned()
                .ok_or_else(|| format!("field {name} is not in the row"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    event.key = Row { fields: key };
    // The key is no longer Debezium's: neither half of a primary-key change can find the other.
    event.old_key = None;
    event.rekeyed = false;
    Ok(())
}
