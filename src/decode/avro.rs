//! Confluent's AvroConverter layer: wire-format bytes to the same Connect schema and payload
//! JSON that JsonConverter would have produced, so one envelope decoder serves both formats.
//!
//! The translation follows Confluent's `AvroData.toConnectSchema`: a union of `null` and one
//! type is that type made optional; `connect.name`, `connect.parameters` and `connect.type`
//! carry the Connect schema name, parameters and narrow integer types; Avro logical types
//! without a Connect name map to Connect's Decimal, Date, Time and Timestamp. Payloads take
//! JsonConverter's encoding (bytes as base64, non-finite doubles as Jackson's strings), so the
//! semantic decoding that follows is the one the JSON path has been tested with.

use apache_avro::types::Value as Avro;
use base64::Engine as _;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

/// The Confluent wire format's first byte.
pub(crate) const MAGIC: u8 = 0;

/// Splits Confluent wire-format bytes into the schema id and the Avro body.
pub(crate) fn split_wire(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    match bytes {
        [MAGIC, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [MAGIC, ..] => Err(format!(
            "{} bytes are too short for the Confluent wire format (magic byte, 4-byte schema id)",
            bytes.len()
        )),
        [] => Err("empty bytes are not in the Confluent wire format".into()),
        [first, ..] => Err(format!(
            "first byte is {first:#04x}, not the Confluent magic byte 0x00{}",
            if *first == b'{' {
                " (this looks like JSON: is the converter JsonConverter?)"
            } else {
                ""
            }
        )),
    }
}

/// Translates an Avro schema (its JSON) into the Connect schema JSON that JsonConverter writes.
pub(crate) fn connect_schema(avro: &Json) -> Result<Json, String> {
    let mut names = Names::default();
    names.collect(avro, "");
    names.convert(avro, "", 0)
}

/// Named Avro types by full name, for references by name.
#[derive(Default)]
struct Names<'a> {
    defined: HashMap<String, (&'a Json, String)>,
}

/// Deeper nesting than this is refused (a reference cycle, or a hostile schema).
const MAX_DEPTH: usize = 64;

impl<'a> Names<'a> {
    /// Registers every named type (record, enum, fixed) under its full name.
    fn collect(&mut self, schema: &'a Json, namespace: &str) {
        match schema {
            Json::Array(branches) => branches.iter().for_each(|b| self.collect(b, namespace)),
            Json::Object(object) => {
                let mut inner = namespace.to_string();
                if let Some(name) = object.get("name").and_then(Json::as_str) {
                    if matches!(type_of(object), "record" | "enum" | "fixed") {
                        let full = full_name(name, object, namespace);
                        inner = full.rsplit_once('.').map(|(ns, _)| ns).unwrap_or("").into();
                        self.defined.insert(full, (schema, inner.clone()));
                    }
                }
                if let Some(fields) = object.get("fields").and_then(Json::as_array) {
                    for field in fields {
                        if let Some(t) = field.get("type") {
                            self.collect(t, &inner);
                        }
                    }
                }
                for key in ["items", "values"] {
                    if let Some(t) = object.get(key) {
                        self.collect(t, &inner);
                    }
                }
                if let Some(t @ (Json::Object(_) | Json::Array(_))) = object.get("type") {
                    self.collect(t, &inner);
                }
            }
            _ => {}
        }
    }

    /// The Connect schema of one Avro schema node.
    fn convert(&self, schema: &Json, namespace: &str, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err("Avro schema nests too deep (a recursive type?)".into());
        }
        match schema {
            Json::String(name) => self.named_or_primitive(name, namespace, depth),
            Json::Array(branches) => self.union(branches, namespace, depth),
            Json::Object(object) => self.complex(object, namespace, depth),
            other => Err(format!("not an Avro schema: {other}")),
        }
    }

    fn named_or_primitive(
        &self,
        name: &str,
        namespace: &str,
        depth: usize,
    ) -> Result<Json, String> {
        if let Some(primitive) = primitive(name) {
            return Ok(json!({ "type": primitive, "optional": false }));
        }
        let full = if name.contains('.') || namespace.is_empty() {
            name.to_string()
        } else {
            format!("{namespace}.{name}")
        };
        let (definition, inner) = self
            .defined
            .get(&full)
            .or_else(|| self.defined.get(name))
            .ok_or_else(|| format!("Avro schema refers to unknown type {name:?}"))?;
        self.convert(definition, inner, depth + 1)
    }

    /// `["null", T]` (either order) is an optional T; other unions have no Connect form that
    /// Debezium produces.
    fn union(&self, branches: &[Json], namespace: &str, depth: usize) -> Result<Json, String> {
        let is_null = |b: &Json| b.as_str() == Some("null");
        let others: Vec<&Json> = branches.iter().filter(|b| !is_null(b)).collect();
        match others.as_slice() {
            [single] => {
                let mut converted = self.convert(single, namespace, depth + 1)?;
                if others.len() < branches.len() {
                    converted["optional"] = Json::Bool(true);
                }
                Ok(converted)
            }
            _ => Err(format!(
                "Avro union of {} non-null types has no Connect schema",
                others.len()
            )),
        }
    }

    fn complex(
        &self,
        object: &Map<String, Json>,
        namespace: &str,
        depth: usize,
    ) -> Result<Json, String> {
        let avro_type = object.get("type");
        // `{"type": {...}}` or `{"type": ["null", ...]}` wrap another schema.
        if let Some(inner @ (Json::Object(_) | Json::Array(_))) = avro_type {
            return self.convert(inner, namespace, depth + 1);
        }
        let kind = type_of(object);
        let mut out = Map::new();
        let connect_type = match kind {
            "record" => {
                let full = full_name(
                    object.get("name").and_then(Json::as_str).unwrap_or(""),
                    object,
                    namespace,
                );
                let inner = full.rsplit_once('.').map(|(ns, _)| ns).unwrap_or("");
                let mut fields = Vec::new();
                for field in object
                    .get("fields")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = field
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or("Avro record field without a name")?;
                    let t = field
                        .get("type")
                        .ok_or_else(|| format!("Avro field {name:?} without a type"))?;
                    let mut converted = self.convert(t, inner, depth + 1)?;
                    if let Some(default) = field.get("default").filter(|d| !d.is_null()) {
                        converted["default"] = connect_default(default, &converted);
                    }
                    converted["field"] = Json::String(name.into());
                    fields.push(converted);
                }
                out.insert("fields".into(), Json::Array(fields));
                out.insert("name".into(), Json::String(full));
                "struct"
            }
            "array" => {
                let items = object.get("items").ok_or("Avro array without items")?;
                out.insert("items".into(), self.convert(items, namespace, depth + 1)?);
                "array"
            }
            "map" => {
                let values = object.get("values").ok_or("Avro map without values")?;
                out.insert(
                    "keys".into(),
                    json!({ "type": "string", "optional": false }),
                );
                out.insert("values".into(), self.convert(values, namespace, depth + 1)?);
                "map"
            }
            "enum" => "string",
            "fixed" => "bytes",
            "int" => object
                .get("connect.type")
                .and_then(Json::as_str)
                .filter(|narrow| matches!(*narrow, "int8" | "int16"))
                .unwrap_or("int32"),
            primitive_name => primitive(primitive_name)
                .ok_or_else(|| format!("unknown Avro type {primitive_name:?}"))?,
        };
        out.insert("type".into(), Json::String(connect_type.into()));
        out.insert("optional".into(), Json::Bool(false));
        if let Some(name) = object.get("connect.name").and_then(Json::as_str) {
            out.insert("name".into(), Json::String(name.into()));
        } else if let Some(logical) = logical_name(object) {
            out.insert("name".into(), Json::String(logical.into()));
        }
        let mut parameters = match object.get("connect.parameters") {
            Some(Json::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        if object.get("logicalType").and_then(Json::as_str) == Some("decimal") {
            // Connect keeps the scale (and precision) as string parameters.
            if let Some(scale) = object.get("scale").and_then(Json::as_i64) {
                parameters
                    .entry("scale")
                    .or_insert_with(|| Json::String(scale.to_string()));
            } else {
                parameters
                    .entry("scale")
                    .or_insert_with(|| Json::String("0".into()));
            }
        }
        if !parameters.is_empty() {
            out.insert("parameters".into(), Json::Object(parameters));
        }
        Ok(Json::Object(out))
    }
}

/// An Avro field default in JsonConverter's encoding: Avro writes bytes defaults as a string
/// of ISO-8859-1 characters, JSON as base64.
fn connect_default(default: &Json, connect: &Json) -> Json {
    match (connect["type"].as_str(), default.as_str()) {
        (Some("bytes"), Some(chars)) => {
            let bytes: Vec<u8> = chars.chars().map(|c| c as u32 as u8).collect();
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        _ => default.clone(),
    }
}

/// The `type` of a schema object (`record`, `int`, ...).
fn type_of(object: &Map<String, Json>) -> &str {
    object.get("type").and_then(Json::as_str).unwrap_or("")
}

/// The full name of a named type: `namespace.name`, the namespace being its own, the one in a
/// dotted name, or the enclosing one.
fn full_name(name: &str, object: &Map<String, Json>, enclosing: &str) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    match object.get("namespace").and_then(Json::as_str) {
        Some("") => name.to_string(),
        Some(ns) => format!("{ns}.{name}"),
        None if enclosing.is_empty() => name.to_string(),
        None => format!("{enclosing}.{name}"),
    }
}

/// The Connect type of an Avro primitive type name.
fn primitive(name: &str) -> Option<&'static str> {
    Some(match name {
        "boolean" => "boolean",
        "int" => "int32",
        "long" => "int64",
        "float" => "float",
        "double" => "double",
        "bytes" => "bytes",
        "string" => "string",
        // A bare `null` only appears inside unions, which handle it.
        _ => return None,
    })
}

/// The Connect (or Debezium) logical name of an Avro logical type, when the schema has no
/// `connect.name` (a schema written by a plain Avro producer).
fn logical_name(object: &Map<String, Json>) -> Option<&'static str> {
    Some(match object.get("logicalType").and_then(Json::as_str)? {
        "decimal" => "org.apache.kafka.connect.data.Decimal",
        "date" => "org.apache.kafka.connect.data.Date",
        "time-millis" => "org.apache.kafka.connect.data.Time",
        "time-micros" => "io.debezium.time.MicroTime",
        "timestamp-millis" => "org.apache.kafka.connect.data.Timestamp",
        "timestamp-micros" => "io.debezium.time.MicroTimestamp",
        "timestamp-nanos" => "io.debezium.time.NanoTimestamp",
        "uuid" => "io.debezium.data.Uuid",
        _ => return None,
    })
}

/// An Avro value as JsonConverter would have written its Connect value.
pub(crate) fn payload(value: &Avro) -> Result<Json, String> {
    let base64 = |b: &[u8]| Json::String(base64::engine::general_purpose::STANDARD.encode(b));
    Ok(match value {
        Avro::Null => Json::Null,
        Avro::Boolean(b) => Json::Bool(*b),
        Avro::Int(n) | Avro::Date(n) | Avro::TimeMillis(n) => Json::from(*n),
        Avro::Long(n)
        | Avro::TimeMicros(n)
        | Avro::TimestampMillis(n)
        | Avro::TimestampMicros(n)
        | Avro::TimestampNanos(n)
        | Avro::LocalTimestampMillis(n)
        | Avro::LocalTimestampMicros(n)
        | Avro::LocalTimestampNanos(n) => Json::from(*n),
        // Through the shortest text of the f32, as Jackson writes a float.
        Avro::Float(f) => float(f.to_string().parse().unwrap_or(f64::NAN)),
        Avro::Double(f) => float(*f),
        Avro::Bytes(b) | Avro::Fixed(_, b) => base64(b),
        Avro::String(s) | Avro::Enum(_, s) => Json::String(s.clone()),
        Avro::Uuid(u) => Json::String(u.to_string()),
        Avro::Decimal(d) => {
            base64(&Vec::<u8>::try_from(d).map_err(|e| format!("Avro decimal: {e}"))?)
        }
        Avro::BigDecimal(d) => Json::String(d.to_string()),
        Avro::Union(_, inner) => payload(inner)?,
        Avro::Array(items) => Json::Array(items.iter().map(payload).collect::<Result<_, _>>()?),
        Avro::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), payload(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Avro::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), payload(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Avro::Duration(_) => return Err("Avro duration has no Connect value".into()),
    })
}

/// A double as Jackson writes it: a number, or `NaN` / `Infinity` / `-Infinity` as strings.
fn float(f: f64) -> Json {
    match serde_json::Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_checked() {
        assert_eq!(split_wire(&[0, 0, 0, 1, 2, 9]), Ok((258, &[9u8][..])));
        assert_eq!(split_wire(&[0, 0, 0, 0, 7]), Ok((7, &[][..])));
        assert!(split_wire(&[0, 0, 1]).unwrap_err().contains("too short"));
        assert!(split_wire(b"{\"a\":1}")
            .unwrap_err()
            .contains("JsonConverter"));
        assert!(split_wire(&[1, 0, 0, 0, 7]).unwrap_err().contains("0x01"));
        assert!(split_wire(&[]).unwrap_err().contains("empty"));
    }

    #[test]
    fn optional_unions_names_and_references() {
        let avro: Json = serde_json::from_str(
            r#"{"type":"record","name":"Envelope","namespace":"db.t","fields":[
              {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
                {"name":"id","type":"int"},
                {"name":"small","type":["null",{"type":"int","connect.type":"int16"}],"default":null},
                {"name":"price","type":{"type":"bytes","scale":2,"precision":8,"logicalType":"decimal",
                   "connect.name":"org.apache.kafka.connect.data.Decimal",
                   "connect.parameters":{"scale":"2","connect.decimal.precision":"8"}}},
                {"name":"d","type":{"type":"int","logicalType":"date"}},
                {"name":"tags","type":{"type":"array","items":["null","string"]}}
              ],"connect.name":"db.t.Value"}],"default":null},
              {"name":"after","type":["null","Value"],"default":null},
              {"name":"snap","type":[{"type":"string","connect.name":"io.debezium.data.Enum"},"null"]}
            ]}"#,
        )
        .unwrap();
        let connect = connect_schema(&avro).unwrap();
        assert_eq!(connect["type"], "struct");
        assert_eq!(connect["name"], "db.t.Envelope");
        let before = &connect["fields"][0];
        assert_eq!(before["field"], "before");
        assert_eq!(before["optional"], true);
        assert_eq!(before["name"], "db.t.Value");
        let after = &connect["fields"][1];
        assert_eq!(
            after["fields"], before["fields"],
            "a reference by name is the same type"
        );
        let fields = before["fields"].as_array().unwrap();
        assert_eq!(
            fields[0],
            json!({"type":"int32","optional":false,"field":"id"})
        );
        assert_eq!(fields[1]["type"], "int16");
        assert_eq!(fields[1]["optional"], true);
        assert_eq!(fields[2]["name"], "org.apache.kafka.connect.data.Decimal");
        assert_eq!(fields[2]["parameters"]["connect.decimal.precision"], "8");
        assert_eq!(fields[3]["name"], "org.apache.kafka.connect.data.Date");
        assert_eq!(fields[4]["items"]["optional"], true);
        assert_eq!(connect["fields"][2]["optional"], true);
        assert_eq!(connect["fields"][2]["name"], "io.debezium.data.Enum");
    }

    #[test]
    fn bad_schemas_are_errors_not_panics() {
        for bad in [
            r#"{"type":"record","name":"R","fields":[{"name":"x","type":"Missing"}]}"#,
            r#"["int","string"]"#,
            r#"{"type":"record","name":"R","fields":[{"name":"x","type":"R"}]}"#,
            r#"{"type":"what"}"#,
            r#"42"#,
        ] {
            let json: Json = serde_json::from_str(bad).unwrap();
            assert!(connect_schema(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn payload_follows_json_converter() {
        let value = Avro::Record(vec![
            ("b".into(), Avro::Bytes(vec![0, 255])),
            ("f".into(), Avro::Float(0.1)),
            ("nan".into(), Avro::Double(f64::NAN)),
            ("inf".into(), Avro::Double(f64::NEG_INFINITY)),
            ("u".into(), Avro::Union(1, Box::new(Avro::Long(-5)))),
            ("e".into(), Avro::Enum(0, "ok".into())),
        ]);
        assert_eq!(
            payload(&value).unwrap(),
            json!({"b": "AP8=", "f": 0.1, "nan": "NaN", "inf": "-Infinity", "u": -5, "e": "ok"})
        );
    }
}
