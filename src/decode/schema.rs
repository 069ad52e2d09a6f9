//! Kafka Connect schemas (as JsonConverter writes them) and the logical type each one means.
//!
//! A field's meaning comes from its semantic `name` first (Debezium and Connect logical types)
//! and its primitive `type` second. [`Logical`] is computed once per field and drives both the
//! [`ColumnType`] and the value conversion, so the two can never disagree.

use super::DecodeError;
use crate::event::ColumnType;
use serde_json::{Map, Value as Json};

/// A borrowed Connect schema object (`{"type": ..., "optional": ..., "name": ..., ...}`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema<'a>(&'a Map<String, Json>);

impl<'a> Schema<'a> {
    /// Wraps a schema; `None` when the JSON is not an object (e.g. `"schema": null`).
    pub(crate) fn new(json: &'a Json) -> Option<Self> {
        json.as_object().map(Schema)
    }

    /// Where this schema object lives: with the document that holds it kept alive, an identity
    /// for caching what is derived from it.
    pub(crate) fn address(self) -> usize {
        std::ptr::from_ref(self.0) as usize
    }

    /// The primitive type (`int32`, `struct`, ...), empty when absent.
    pub(crate) fn type_name(self) -> &'a str {
        self.0.get("type").and_then(Json::as_str).unwrap_or("")
    }

    /// The semantic name (`io.debezium.time.Date`, ...), if any.
    pub(crate) fn name(self) -> Option<&'a str> {
        self.0.get("name").and_then(Json::as_str)
    }

    /// Whether the field is nullable; Connect's default is required.
    pub(crate) fn optional(self) -> bool {
        self.0
            .get("optional")
            .and_then(Json::as_bool)
            .unwrap_or(false)
    }

    /// The declared default value (JsonConverter writes it in the payload's encoding).
    pub(crate) fn default(self) -> Option<&'a Json> {
        self.0.get("default").filter(|d| !d.is_null())
    }

    /// A schema parameter; Connect parameters are always strings.
    pub(crate) fn parameter(self, key: &str) -> Option<&'a str> {
        self.0.get("parameters")?.get(key)?.as_str()
    }

    /// The element schema of an array.
    pub(crate) fn items(self) -> Option<Schema<'a>> {
        self.0.get("items").and_then(Schema::new)
    }

    /// The named fields of a struct schema, in order. `path` names the struct in errors.
    pub(crate) fn fields(self, path: &str) -> Result<Vec<(&'a str, Schema<'a>)>, DecodeError> {
        let Some(list) = self.0.get("fields").and_then(Json::as_array) else {
            return Err(DecodeError::bad_field(
                path,
                "struct schema has no `fields` list",
            ));
        };
        list.iter()
            .map(|f| {
                let name = f.get("field").and_then(Json::as_str);
                match (name, Schema::new(f)) {
                    (Some(name), Some(schema)) => Ok((name, schema)),
                    _ => Err(DecodeError::bad_field(
                        path,
                        "struct schema field without a name",
                    )),
                }
            })
            .collect()
    }

    /// The schema of one named field of a struct schema.
    pub(crate) fn field(self, name: &str) -> Option<Schema<'a>> {
        self.0
            .get("fields")?
            .as_array()?
            .iter()
            .find(|f| f.get("field").and_then(Json::as_str) == Some(name))
            .and_then(Schema::new)
    }
}

/// Time unit of an integer temporal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
}

/// What a field's payload means, after semantic names are resolved.
#[derive(Debug, Clone)]
pub(crate) enum Logical {
    /// Integer of the given width in bits (8, 16, 32, 64).
    Int(u8),
    /// Connect `float`.
    Float32,
    /// Connect `double`.
    Float64,
    /// Connect `boolean`.
    Bool,
    /// Connect `string` and string-typed semantics (Enum, Xml, Interval, ...).
    Text(Option<u32>),
    /// Connect `bytes` (base64 in JSON).
    Bytes,
    /// `org.apache.kafka.connect.data.Decimal`.
    Decimal {
        /// `parameters.scale`.
        scale: i32,
        /// `parameters."connect.decimal.precision"`.
        precision: Option<u32>,
    },
    /// `io.debezium.data.VariableScaleDecimal`.
    VariableDecimal,
    /// Days since the epoch.
    Date,
    /// Time of day as an integer count of `Unit`.
    Time(Unit),
    /// Timestamp as an integer count of `Unit` since the epoch.
    Timestamp(Unit),
    /// `io.debezium.time.ZonedTimestamp` (ISO string).
    TimestampTz,
    /// `io.debezium.time.ZonedTime` (ISO string).
    TimeTz,
    /// `io.debezium.data.Json` (a string holding the document).
    Json,
    /// `io.debezium.data.Uuid`.
    Uuid,
    /// `io.debezium.data.Bits`, with `parameters.length`.
    Bits(Option<u32>),
    /// Connect `array` of elements of this logical type.
    Array(Box<Logical>),
    /// Maps, geometries and other structs: kept as a JSON document.
    Document,
}

/// Resolves a field schema to its logical type; `path` names the field in errors.
pub(crate) fn logical(schema: Schema<'_>, path: &str) -> Result<Logical, DecodeError> {
    let by_name = match schema.name().unwrap_or("") {
        "org.apache.kafka.connect.data.Decimal" => Some(decimal(schema, path)?),
        "io.debezium.data.VariableScaleDecimal" => Some(Logical::VariableDecimal),
        "org.apache.kafka.connect.data.Date" | "io.debezium.time.Date" => Some(Logical::Date),
        "org.apache.kafka.connect.data.Time" | "io.debezium.time.Time" => {
            Some(Logical::Time(Unit::Millis))
        }
        "io.debezium.time.MicroTime" => Some(Logical::Time(Unit::Micros)),
        "io.debezium.time.NanoTime" => Some(Logical::Time(Unit::Nanos)),
        "org.apache.kafka.connect.data.Timestamp" | "io.debezium.time.Timestamp" => {
            Some(Logical::Timestamp(Unit::Millis))
        }
        "io.debezium.time.MicroTimestamp" => Some(Logical::Timestamp(Unit::Micros)),
        "io.debezium.time.NanoTimestamp" => Some(Logical::Timestamp(Unit::Nanos)),
        "io.debezium.time.ZonedTimestamp" => Some(Logical::TimestampTz),
        "io.debezium.time.ZonedTime" => Some(Logical::TimeTz),
        "io.debezium.data.Json" => Some(Logical::Json),
        "io.debezium.data.Uuid" => Some(Logical::Uuid),
        "io.debezium.data.Bits" => Some(Logical::Bits(u32_param(schema, "length", path)?)),
        // Everything else (Enum, EnumSet, Xml, Year, MicroDuration, Interval, geometry, ...)
        // is represented faithfully by its primitive type.
        _ => None,
    };
    if let Some(found) = by_name {
        return Ok(found);
    }
    Ok(match schema.type_name() {
        "int8" => Logical::Int(8),
        "int16" => Logical::Int(16),
        "int32" => Logical::Int(32),
        "int64" => Logical::Int(64),
        "float" | "float32" => Logical::Float32,
        "double" | "float64" => Logical::Float64,
        "boolean" => Logical::Bool,
        // Only set when the connector propagates source column types.
        "string" => Logical::Text(u32_param(schema, "__debezium.source.column.length", path)?),
        "bytes" => Logical::Bytes,
        "array" => match schema.items() {
            Some(items) => Logical::Array(Box::new(logical(items, &format!("{path}[]"))?)),
            None => return Err(DecodeError::bad_field(path, "array schema without `items`")),
        },
        "map" | "struct" => Logical::Document,
        other => {
            return Err(DecodeError::bad_field(
                path,
                format!("unknown schema type `{other}`"),
            ));
        }
    })
}

/// The Decimal logical type; its scale is mandatory because the bytes mean nothing without it.
fn decimal(schema: Schema<'_>, path: &str) -> Result<Logical, DecodeError> {
    let scale = schema
        .parameter("scale")
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| DecodeError::bad_field(path, "Decimal schema without an integer `scale`"))?;
    let precision = u32_param(schema, "connect.decimal.precision", path)?;
    Ok(Logical::Decimal { scale, precision })
}

/// An optional unsigned integer parameter; present but unparsable is an error.
fn u32_param(schema: Schema<'_>, key: &str, path: &str) -> Result<Option<u32>, DecodeError> {
    match schema.parameter(key) {
        None => Ok(None),
        Some(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
            DecodeError::bad_field(
                path,
                format!("schema parameter `{key}` is not a count: {text:?}"),
            )
        }),
    }
}

impl Logical {
    /// The column type this logical type creates in a target table.
    pub(crate) fn column_type(&self, path: &str) -> Result<ColumnType, DecodeError> {
        Ok(match *self {
            Logical::Int(8) => ColumnType::Int8,
            Logical::Int(16) => ColumnType::Int16,
            Logical::Int(32) => ColumnType::Int32,
            Logical::Int(_) => ColumnType::Int64,
            Logical::Float32 => ColumnType::Float32,
            Logical::Float64 => ColumnType::Float64,
            Logical::Bool => ColumnType::Bool,
            Logical::Text(max_len) => ColumnType::Text { max_len },
            Logical::Bytes => ColumnType::Bytes,
            // A negative scale (allowed by Connect) stores whole numbers: scale 0 holds them.
            Logical::Decimal { scale, precision } => ColumnType::Decimal {
                scale: u32::try_from(scale).unwrap_or(0),
                precision,
            },
            Logical::VariableDecimal => ColumnType::VariableDecimal,
            Logical::Date => ColumnType::Date,
            Logical::Time(_) => ColumnType::Time,
            Logical::Timestamp(_) => ColumnType::Timestamp,
            Logical::TimestampTz => ColumnType::TimestampTz,
            Logical::TimeTz => ColumnType::TimeTz,
            Logical::Json | Logical::Document => ColumnType::Json,
            Logical::Uuid => ColumnType::Uuid,
            Logical::Bits(length) => ColumnType::Bits { length },
            Logical::Array(ref items) => {
                ColumnType::Array(Box::new(items.column_type(&format!("{path}[]"))?))
            }
        })
    }
}
