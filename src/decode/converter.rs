//! Kafka Connect's JsonConverter layer: bytes to JSON, and the optional
//! `{"schema": ..., "payload": ...}` wrapper it adds when `schemas.enable=true`.
//!
//! The configured setting is followed, but leniently in both directions: connectors are often
//! misconfigured on exactly this switch, and the wrapper is unambiguous enough to recognise.

use super::schema::Schema;
use super::DecodeError;
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Distinct schemas kept per decoding thread before the cache starts over.
const SCHEMA_CACHE_LIMIT: usize = 1024;

thread_local! {
    /// Parsed Connect schemas by their JSON text. With `schemas.enable=true` every record
    /// repeats its schema (often 4 KB of a 5 KB record), and a topic has few distinct ones, so
    /// each is parsed once instead of once per record.
    static SCHEMAS: RefCell<HashMap<Box<str>, Arc<Json>>> = RefCell::new(HashMap::new());
}

fn cached_schema(text: &str) -> Result<Arc<Json>, serde_json::Error> {
    if let Some(hit) = SCHEMAS.with(|c| c.borrow().get(text).cloned()) {
        return Ok(hit);
    }
    let parsed = Arc::new(serde_json::from_str::<Json>(text)?);
    SCHEMAS.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= SCHEMA_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.into(), parsed.clone());
    });
    Ok(parsed)
}

/// A record value parsed for decoding: the `{schema, payload}` wrapper split without building
/// the schema again (see [`SCHEMAS`]), or the whole JSON when there is no wrapper.
pub(crate) enum Parsed {
    /// A JsonConverter wrapper.
    Wrapped {
        /// The schema, shared with every record that has the same schema text.
        schema: Arc<Json>,
        /// The payload.
        payload: Json,
    },
    /// Anything else (bare payload, or a wrapper that is to be taken as a bare payload).
    Whole(Json),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapper<'a> {
    #[serde(borrow)]
    schema: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
}

impl Parsed {
    /// Parses record bytes, following [`split`]'s rules for the wrapper.
    pub(crate) fn new(
        bytes: &[u8],
        part: &'static str,
        schemas_enable: bool,
    ) -> Result<Parsed, DecodeError> {
        if let Ok(wrapper) = serde_json::from_slice::<Wrapper<'_>>(bytes) {
            let malformed = |e: serde_json::Error| DecodeError::MalformedJson {
                part,
                reason: e.to_string(),
            };
            let schema = cached_schema(wrapper.schema.get()).map_err(malformed)?;
            let is_struct = Schema::new(&schema).is_some_and(|s| s.type_name() == "struct");
            if schemas_enable || is_struct {
                let payload = serde_json::from_str(wrapper.payload.get()).map_err(malformed)?;
                return Ok(Parsed::Wrapped { schema, payload });
            }
        }
        parse(bytes, part).map(Parsed::Whole)
    }

    /// The schema and payload, as [`split`] gives them.
    pub(crate) fn part(&self, schemas_enable: bool) -> Part<'_> {
        match self {
            Parsed::Wrapped { schema, payload } => Part {
                schema: Schema::new(schema),
                payload,
            },
            Parsed::Whole(json) => split(json, schemas_enable),
        }
    }
}

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
