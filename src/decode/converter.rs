//! Kafka Connect's JsonConverter layer: bytes to JSON, and the optional
//! `{"schema": ..., "payload": ...}` wrapper it adds when `schemas.enable=true`.
//!
//! The configured setting is followed, but leniently in both directions: connectors are often
//! misconfigured on exactly this switch, and the wrapper is unambiguous enough to recognise.

use super::object::{Node, Payload};
use super::schema::Schema;
use super::DecodeError;
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Distinct schemas kept per decoding thread before the cache starts over.
const SCHEMA_CACHE_LIMIT: usize = 1024;

/// Record prefixes (`{"schema":<schema>`) remembered per decoding thread for [`Parsed::new`]'s
/// fast path; a few, since one thread decodes keys and values of several tables in turn.
const PREFIX_CACHE_LIMIT: usize = 8;

thread_local! {
    /// Parsed Connect schemas by their JSON text. With `schemas.enable=true` every record
    /// repeats its schema (often 4 KB of a 5 KB record), and a topic has few distinct ones, so
    /// each is parsed once instead of once per record.
    static SCHEMAS: RefCell<HashMap<Box<str>, Arc<Json>>> = RefCell::new(HashMap::new());

    /// The exact bytes that opened recent wrapped records up to the end of their schema, with
    /// that schema parsed. A record starting with the same bytes has the same schema, so only
    /// its payload needs parsing: a byte comparison instead of scanning and hashing the schema
    /// text of every record. Most recently used first.
    static PREFIXES: RefCell<Vec<Prefix>> = const { RefCell::new(Vec::new()) };
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
pub(crate) enum Parsed<'b> {
    /// A JsonConverter wrapper.
    Wrapped {
        /// The schema, shared with every record that has the same schema text.
        schema: Arc<Json>,
        /// The payload (read flat from the record bytes, see `object`).
        payload: Payload<'b>,
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

impl<'b> Parsed<'b> {
    /// Parses record bytes, following [`split`]'s rules for the wrapper.
    pub(crate) fn new(
        bytes: &'b [u8],
        part: &'static str,
        schemas_enable: bool,
    ) -> Result<Parsed<'b>, DecodeError> {
        if let Some(parsed) = Parsed::known_prefix(bytes, schemas_enable) {
            return Ok(parsed);
        }
        if let Ok(wrapper) = serde_json::from_slice::<Wrapper<'b>>(bytes) {
            let malformed = |e: serde_json::Error| DecodeError::MalformedJson {
                part,
                reason: e.to_string(),
            };
            let schema = cached_schema(wrapper.schema.get()).map_err(malformed)?;
            let is_struct = Schema::new(&schema).is_some_and(|s| s.type_name() == "struct");
            if schemas_enable || is_struct {
                let mut reader = serde_json::Deserializer::from_str(wrapper.payload.get());
                let payload = Payload::read(&mut reader).map_err(malformed)?;
                remember_prefix(bytes, &wrapper, &schema, is_struct);
                return Ok(Parsed::Wrapped { schema, payload });
            }
        }
        parse(bytes, part).map(Parsed::Whole)
    }

    /// The fast path: `bytes` open with a remembered prefix (so the schema is known and valid)
    /// and the rest is exactly `,"payload":<JSON>}`. `None` sends the record down the full
    /// path, which also produces any error, so the fast path never decides what is malformed.
    fn known_prefix(bytes: &'b [u8], schemas_enable: bool) -> Option<Parsed<'b>> {
        let (len, schema) = PREFIXES.with(|cache| {
            let mut cache = cache.borrow_mut();
            let hit = cache.iter().position(|p| bytes.starts_with(&p.bytes))?;
            cache[..=hit].rotate_right(1);
            let p = &cache[0];
            (schemas_enable || p.is_struct).then(|| (p.bytes.len(), p.schema.clone()))
        })?;
        let payload = payload_after_schema(&bytes[len..])?;
        Some(Parsed::Wrapped { schema, payload })
    }

    /// The schema and payload, as [`split`] gives them.
    pub(crate) fn part(&self, schemas_enable: bool) -> Part<'_> {
        match self {
            Parsed::Wrapped { schema, payload } => Part {
                schema: Schema::new(schema),
                document: Some(schema),
                payload: payload.node(),
            },
            Parsed::Whole(json) => split(json, schemas_enable),
        }
    }
}

/// An entry of [`PREFIXES`].
struct Prefix {
    /// The record's bytes up to the end of its schema.
    bytes: Box<[u8]>,
    /// That schema, parsed.
    schema: Arc<Json>,
    /// Whether it is a Connect struct schema (unwrapped even with `schemas.enable=false`).
    is_struct: bool,
}

/// Remembers where `wrapper`'s schema ends in `bytes` when the schema comes first, so the next
/// record with the same opening bytes takes [`Parsed::known_prefix`].
fn remember_prefix(bytes: &[u8], wrapper: &Wrapper<'_>, schema: &Arc<Json>, is_struct: bool) {
    let offset =
        |raw: &RawValue| (raw.get().as_ptr() as usize).checked_sub(bytes.as_ptr() as usize);
    let (Some(schema_at), Some(payload_at)) = (offset(wrapper.schema), offset(wrapper.payload))
    else {
        return;
    };
    let end = schema_at + wrapper.schema.get().len();
    if payload_at < end || end > bytes.len() {
        return;
    }
    PREFIXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= PREFIX_CACHE_LIMIT {
            cache.pop();
        }
        cache.insert(
            0,
            Prefix {
                bytes: bytes[..end].into(),
                schema: schema.clone(),
                is_struct,
            },
        );
    });
}

/// `b` without its leading JSON whitespace.
fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &b[n..]
}

/// Parses `,"payload":<JSON>}` (JSON whitespace allowed between tokens) into the payload;
/// `None` for anything else, including a key written with escapes.
fn payload_after_schema(rest: &[u8]) -> Option<Payload<'_>> {
    let rest = skip_ws(rest).strip_prefix(b",")?;
    let rest = skip_ws(rest).strip_prefix(b"\"payload\"")?;
    let rest = skip_ws(rest).strip_prefix(b":")?;
    let json = rest.trim_ascii_end().strip_suffix(b"}")?;
    let mut reader = serde_json::Deserializer::from_slice(json);
    let payload = Payload::read(&mut reader).ok()?;
    reader.end().ok()?;
    Some(payload)
}

/// One converted part of a record (key or value): its payload and, when present, its schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part<'a> {
    /// The Connect schema of the payload, when the record carried one.
    pub schema: Option<Schema<'a>>,
    /// The shared document `schema` lives in, when it is cached (what is derived from the
    /// schema can then be cached too).
    pub document: Option<&'a Arc<Json>>,
    /// The payload itself (the bare JSON when there is no wrapper).
    pub payload: Node<'a>,
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
        document: None,
        payload: Node::Json(json),
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
        return Part {
            schema,
            document: None,
            payload: Node::Json(payload),
        };
    }
    match schema {
        Some(s) if s.type_name() == "struct" => Part {
            schema: Some(s),
            document: None,
            payload: Node::Json(payload),
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
        assert_eq!(*p.payload.json(), json!(5));
        assert_eq!(p.schema.map(|s| s.type_name()), Some("int32"));
    }

    #[test]
    fn enabled_but_bare_payload_is_lenient() {
        let j = json!({"before": null, "after": {"id": 1}, "op": "c"});
        let p = split(&j, true);
        assert!(p.schema.is_none());
        assert_eq!(*p.payload.json(), j);
    }

    #[test]
    fn disabled_but_struct_wrapper_uses_schema() {
        let j = json!({"schema": {"type": "struct", "fields": []}, "payload": {"op": "c"}});
        let p = split(&j, false);
        assert!(p.schema.is_some());
        assert_eq!(*p.payload.json(), json!({"op": "c"}));
        // A non-struct schema is not taken as a wrapper when schemas are disabled.
        let j = json!({"schema": "x", "payload": 1});
        assert_eq!(*split(&j, false).payload.json(), j);
    }

    /// The schema's type and the payload [`Parsed::new`] gives for `bytes`.
    fn parsed(bytes: &str, schemas_enable: bool) -> Result<(Option<String>, Json), DecodeError> {
        let p = Parsed::new(bytes.as_bytes(), "value", schemas_enable)?;
        let part = p.part(schemas_enable);
        let schema = part.schema.map(|s| s.type_name().to_string());
        Ok((schema, part.payload.json().into_owned()))
    }

    #[test]
    fn known_prefix_gives_what_the_full_parse_gives() {
        PREFIXES.with(|c| c.borrow_mut().clear());
        let schema = r#"{"type":"struct","fields":[{"field":"id","type":"int32"}]}"#;
        let first = format!(r#"{{"schema":{schema},"payload":{{"id":1}}}}"#);
        let (s, p) = parsed(&first, true).unwrap();
        assert_eq!(s.as_deref(), Some("struct"));
        assert_eq!(p, json!({"id": 1}));
        assert_eq!(PREFIXES.with(|c| c.borrow().len()), 1);
        // Same opening bytes, other payloads and spacing: the fast path, same answers.
        for (text, want) in [
            (
                format!(r#"{{"schema":{schema},"payload":{{"id":2}}}}"#),
                json!({"id": 2}),
            ),
            (
                format!("{{\"schema\":{schema} ,\n\"payload\" : [1, 2] }}\n"),
                json!([1, 2]),
            ),
            (
                format!(r#"{{"schema":{schema},"payload":null}}"#),
                Json::Null,
            ),
        ] {
            let fast = Parsed::known_prefix(text.as_bytes(), true).expect("fast path taken");
            assert!(
                matches!(&fast, Parsed::Wrapped { payload, .. } if *payload.node().json() == want)
            );
            assert_eq!(parsed(&text, true).unwrap().1, want);
        }
    }

    #[test]
    fn known_prefix_leaves_everything_else_to_the_full_parse() {
        PREFIXES.with(|c| c.borrow_mut().clear());
        let schema = r#"{"type":"int32"}"#;
        parsed(&format!(r#"{{"schema":{schema},"payload":1}}"#), true).unwrap();
        let malformed = [
            format!(r#"{{"schema":{schema},"payload":1}}x"#),
            format!(r#"{{"schema":{schema},"payload":1,"extra":2}}"#),
            format!(r#"{{"schema":{schema},"payload":{{"id":}}}}"#),
            format!(r#"{{"schema":{schema}}}"#),
        ];
        for text in &malformed {
            assert!(
                Parsed::known_prefix(text.as_bytes(), true).is_none(),
                "{text}"
            );
        }
        // Trailing garbage and broken payloads are still errors; an extra field makes the whole
        // JSON a bare payload, as before.
        assert!(parsed(&malformed[0], true).is_err());
        assert!(parsed(&malformed[2], true).is_err());
        let (s, p) = parsed(&malformed[1], true).unwrap();
        assert!(s.is_none());
        assert_eq!(p["extra"], json!(2));
        // An escaped key is valid JSON the fast path does not read; the full parse does.
        let escaped = format!(r#"{{"schema":{schema},"pay\u006coad":7}}"#);
        assert!(Parsed::known_prefix(escaped.as_bytes(), true).is_none());
        assert_eq!(parsed(&escaped, true).unwrap().1, json!(7));
        // A non-struct schema remembered with schemas enabled is not unwrapped when disabled.
        let other = format!(r#"{{"schema":{schema},"payload":3}}"#);
        assert!(Parsed::known_prefix(other.as_bytes(), false).is_none());
        let (s, p) = parsed(&other, false).unwrap();
        assert!(s.is_none());
        assert_eq!(p, serde_json::from_str::<Json>(&other).unwrap());
    }

    #[test]
    fn payload_before_schema_is_not_remembered() {
        PREFIXES.with(|c| c.borrow_mut().clear());
        let text = r#"{"payload":{"id":1},"schema":{"type":"struct","fields":[]}}"#;
        assert_eq!(parsed(text, true).unwrap().1, json!({"id": 1}));
        assert_eq!(PREFIXES.with(|c| c.borrow().len()), 0);
    }

    #[test]
    fn null_schema_means_schemaless() {
        let j = json!({"schema": null, "payload": {"id": 1}});
        let p = split(&j, true);
        assert!(p.schema.is_none());
        assert_eq!(*p.payload.json(), json!({"id": 1}));
    }
}
