//! Kafka Connect's JsonConverter layer: bytes to JSON, and the optional
//! `{"schema": ..., "payload": ...}` wrapper it adds when `schemas.enable=true`.
//!
//! The configured setting is followed, but leniently in both directions: connectors are often
//! misconfigured on exactly this switch, and the wrapper is unambiguous enough to recognise.

use super::schema::Schema;
use super::DecodeError;
use serde_json::Value as Json;

/// One converted part of a record (key or value): its payload and, when present, its schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part<'a> {
    /// The Connect schema of the payload, when the record carried one.
    pub schema: Option<Schema<'a>>,
    /// The payload JSON itself (the bare JSON when there is no wrapper).
    pub payload: &'a Json,
}

/// Parses record bytes as JSON; `part` (`key` or `value`) names the culprit in the error.
pub(crate) fn parse(bytes: &[u8], part: &'static str) -> Result<Json, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::MalformedJson {
        part,
        reason: e.to_string(),
    })
}

/// Separates schema and payload.
///
/// With `schemas_enable`, an object that is not exactly `{schema, payload}` is taken as a bare
/// payload. Without it, an exact `{schema, payload}` object whose schema is a Connect struct
/// schema is still unwrapped, since no Debezium payload has that shape.
pub(crate) fn split(json: &Json, schemas_enable: bool) -> Part<'_> {
    let bare = Part {
        schema: None,
        payload: json,
    };
    let Some(object) = json.as_object() else {
        return bare;
    };
    if object.len() != 2 {
        return bare;
    }
    let (Some(schema), Some(payload)) = (object.get("schema"), object.get("payload")) else {
        return bare;
    };
    let schema = Schema::new(schema);
    if schemas_enable {
        // `"schema": null` is what JsonConverter writes for a schemaless value.
        return Part { schema, payload };
    }
    match schema {
        Some(s) if s.type_name() == "struct" => Part {
            schema: Some(s),
            payload,
        },
        _ => bare,
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrapper_is_unwrapped_when_enabled() {
        let j = json!({"schema": {"type": "int32"}, "payload": 5});
        let p = split(&j, true);
        assert_eq!(p.payload, &json!(5));
        assert_eq!(p.schema.map(|s| s.type_name()), Some("int32"));
    }

    #[test]
    fn enabled_but_bare_payload_is_lenient() {
        let j = json!({"before": null, "after": {"id": 1}, "op": "c"});
        let p = split(&j, true);
        assert!(p.schema.is_none());
        assert_eq!(p.payload, &j);
    }

    #[test]
    fn disabled_but_struct_wrapper_uses_schema() {
        let j = json!({"schema": {"type": "struct", "fields": []}, "payload": {"op": "c"}});
        let p = split(&j, false);
        assert!(p.schema.is_some());
        assert_eq!(p.payload, &json!({"op": "c"}));
        // A non-struct schema is not taken as a wrapper when schemas are disabled.
        let j = json!({"schema": "x", "payload": 1});
        assert_eq!(split(&j, false).payload, &j);
    }

    #[test]
    fn null_schema_means_schemaless() {
        let j = json!({"schema": null, "payload": {"id": 1}});
        let p = split(&j, true);
        assert!(p.schema.is_none());
        assert_eq!(p.payload, &json!({"id": 1}));
    }
}
