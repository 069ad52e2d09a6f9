//! Struct payloads (`before`, `after`, the record key) into [`Row`]s.
//!
//! With a schema every field is typed and keeps the schema's order. Without one the payload's
//! own order is kept (serde_json `preserve_order`) and values stay [`Value::Untyped`] for the
//! sink to convert with the target column's type; only the TOAST placeholder is recognised,
//! because writing it would corrupt the target.

use super::binary::is_placeholder;
use super::converter::json_type;
use super::schema::{logical, Schema};
use super::DecodeError;
use crate::event::{Field, Row, Value};
use serde_json::{Map, Value as Json};
use std::collections::HashSet;

/// Builds a row from a struct payload, typed when `schema` is given; `path` names it in errors.
pub(crate) fn build(
    schema: Option<Schema<'_>>,
    payload: &Json,
    path: &str,
) -> Result<Row, DecodeError> {
    let Some(object) = payload.as_object() else {
        return Err(DecodeError::bad_field(
            path,
            format!("expected a struct object, got {}", json_type(payload)),
        ));
    };
    match schema {
        Some(schema) if schema.type_name() == "struct" => typed(schema, object, path),
        _ => Ok(untyped(object)),
    }
}

/// Typed row in schema order. A payload field the schema does not declare is kept untyped
/// rather than dropped: losing a column silently is worse than converting it late.
fn typed(schema: Schema<'_>, object: &Map<String, Json>, path: &str) -> Result<Row, DecodeError> {
    let declared = schema.fields(path)?;
    let mut fields = Vec::with_capacity(declared.len());
    for (name, field_schema) in &declared {
        let field_path = format!("{path}.{name}");
        let kind = logical(*field_schema, &field_path)?;
        let payload = object.get(*name).unwrap_or(&Json::Null);
        // A default that does not convert is ignored: it only matters for adding the column.
        let default = field_schema
            .default()
            .and_then(|d| kind.convert(d, &field_path).ok())
            .filter(|d| !matches!(d, Value::Null | Value::Unavailable))
            .map(Box::new);
        fields.push(Field {
            name: (*name).to_string(),
            value: kind.convert(payload, &field_path)?,
            column_type: Some(kind.column_type(&field_path)?),
            optional: field_schema.optional(),
            default,
        });
    }
    let known: HashSet<&str> = declared.iter().map(|(name, _)| *name).collect();
    for (name, value) in object {
        if !known.contains(name.as_str()) {
            fields.push(untyped_field(name, value));
        }
    }
    Ok(Row { fields })
}

/// Schemaless row: every field untyped and nullable.
fn untyped(object: &Map<String, Json>) -> Row {
    Row {
        fields: object.iter().map(|(n, v)| untyped_field(n, v)).collect(),
    }
}

/// A schemaless field. Without a schema a bytea column is indistinguishable from text, so the
/// placeholder's base64 form is recognised too (its text is not a plausible real value).
fn untyped_field(name: &str, value: &Json) -> Field {
    let value = if is_placeholder(value, true) {
        Value::Unavailable
    } else {
        Value::Untyped(value.clone())
    };
    Field {
        name: name.to_string(),
        value,
        column_type: None,
        optional: true,
        default: None,
    }
}
