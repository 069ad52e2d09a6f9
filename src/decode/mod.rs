//! Decode: Debezium envelopes (Kafka Connect JSON, with or without schemas) into one
//! [`ChangeEvent`](crate::event::ChangeEvent).
//!
//! The entry point is [`decode`]. It never panics on input: anything it cannot understand is a
//! [`DecodeError`] naming the reason, which the pipeline turns into a stop or a dead letter.
//!
//! The work is split along the layers of the format, outermost first:
//!
//! - `converter`: bytes -> JSON, and the JsonConverter `{"schema", "payload"}` wrapper.
//! - `object`: the payload's objects read flat from the record bytes (no map built per record),
//!   read through one view with the maps of the other paths.
//! - `envelope`: what kind of record this is (change, tombstone, message, transaction,
//!   heartbeat, schema change) and the [`ChangeEvent`](crate::event::ChangeEvent) it becomes.
//! - `source`: the `source` and `transaction` blocks.
//! - `row`: a `before`/`after`/key struct into a [`Row`](crate::event::Row), through a layout
//!   made once per struct schema.
//! - `schema`: a Connect field schema into its logical type and [`ColumnType`](crate::event::ColumnType).
//! - `semantic`, `temporal`, `decimal`, `binary`: one payload value into a typed
//!   [`Value`](crate::event::Value).

mod avro;
mod binary;
mod converter;
mod decimal;
mod envelope;
mod object;
mod registry;
mod row;
mod schema;
mod semantic;
mod source;
mod temporal;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_avro;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_envelope;
#[cfg(test)]
mod tests_semantic;
#[cfg(test)]
mod tests_types;

use crate::event::{Decoded, RawRecord, Row};
pub use registry::{strip_user_info, Registry, RegistrySettings, AVRO_CONVERTER};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Confluent's AvroConverter for the key or the value: the registry its schema ids refer to.
#[derive(Debug, Clone)]
pub struct AvroConverter(pub Arc<Registry>);

impl PartialEq for AvroConverter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AvroConverter {}

/// How the record's key and value were serialised (the connector's converter settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeConfig {
    /// `key.converter.schemas.enable` (Kafka Connect's default is true).
    pub key_schemas_enable: bool,
    /// `value.converter.schemas.enable` (Kafka Connect's default is true).
    pub value_schemas_enable: bool,
    /// `key.converter=io.confluent.connect.avro.AvroConverter`; JsonConverter when `None`.
    pub key_avro: Option<AvroConverter>,
    /// `value.converter=io.confluent.connect.avro.AvroConverter`; JsonConverter when `None`.
    pub value_avro: Option<AvroConverter>,
    /// Which `source` block fields are kept as text ([`SourcePosition::fields`]).
    pub source_fields: SourceFields,
}

/// The `source` block fields a connector reads as text: a `${source.<field>}` table-name
/// placeholder or an unwrap's `add.fields`. Keeping only those saves a string pair per field
/// per record (13 of them, 26 of a decoded change's 43 allocations, in Debezium's PostgreSQL
/// events).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourceFields {
    /// Every field (tools that show an event whole, and tests).
    #[default]
    All,
    /// Only these.
    Named(Vec<String>),
}

impl SourceFields {
    /// Whether the field `name` is kept.
    pub fn keeps(&self, name: &str) -> bool {
        match self {
            SourceFields::All => true,
            SourceFields::Named(names) => names.iter().any(|n| n == name),
        }
    }
}

impl DecodeConfig {
    /// Fetches the writer schemas `record` needs from the schema registry, if any (only the
    /// AvroConverter has a registry), so [`decode`] can then run without waiting. An
    /// unreachable registry is retried; `Err` means the connector must stop (refused
    /// credentials, `errors.retry.timeout` passed, or `stop` set meanwhile).
    pub async fn fetch_schemas(&self, record: &RawRecord, stop: &AtomicBool) -> Result<(), String> {
        let parts = [
            (&self.key_avro, record.key.as_deref()),
            (&self.value_avro, record.value.as_deref()),
        ];
        for (converter, bytes) in parts {
            if let (Some(AvroConverter(registry)), Some(bytes)) = (converter, bytes) {
                if let Some(id) = registry.needs(bytes) {
                    registry.fetch(id, stop).await?;
                }
            }
        }
        Ok(())
    }

    /// The converter class of the key or the value, as Kafka Connect names it.
    pub fn converter_class(&self, key: bool) -> &'static str {
        let avro = if key {
            &self.key_avro
        } else {
            &self.value_avro
        };
        if avro.is_some() {
            AVRO_CONVERTER
        } else {
            "org.apache.kafka.connect.json.JsonConverter"
        }
    }

    /// Whether any part is read with the AvroConverter (so records may need a registry).
    pub fn uses_registry(&self) -> bool {
        self.key_avro.is_some() || self.value_avro.is_some()
    }

    /// Converts the key or value bytes: Avro with its registry, else JSON.
    fn convert<'b>(
        &self,
        bytes: &'b [u8],
        key: bool,
    ) -> Result<converter::Parsed<'b>, DecodeError> {
        let (part, avro, schemas_enable) = if key {
            ("key", &self.key_avro, self.key_schemas_enable)
        } else {
            ("value", &self.value_avro, self.value_schemas_enable)
        };
        match avro {
            Some(AvroConverter(registry)) => registry.parse(bytes, part),
            None => converter::Parsed::new(bytes, part, schemas_enable),
        }
    }
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            key_schemas_enable: true,
            value_schemas_enable: true,
            key_avro: None,
            value_avro: None,
            source_fields: SourceFields::All,
        }
    }
}

/// Why a record could not be decoded. Every variant is permanent: retrying cannot fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// The bytes are not JSON.
    #[error("malformed JSON in record {part}: {reason}")]
    MalformedJson {
        /// `key` or `value`.
        part: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The bytes are not Avro in the Confluent wire format, name a schema id the registry does
    /// not have, or do not match their schema.
    #[error("Avro {part}: {reason}")]
    Avro {
        /// `key` or `value`.
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The JSON is not a Debezium envelope or misses a required part.
    #[error("not a Debezium change event: {0}")]
    NotAnEnvelope(String),
    /// A field's value does not match its declared schema.
    #[error("field {field}: {reason}")]
    BadField {
        /// Field name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::BadField`]; `field` is a dotted path such as `after.price`.
    pub(crate) fn bad_field(field: &str, reason: impl Into<String>) -> Self {
        DecodeError::BadField {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Decodes one Kafka record carrying a Debezium change event.
///
/// The value decides what the record is; the key is parsed only for row changes, because
/// transaction, message and heartbeat keys have their own shapes and are never applied.
pub fn decode(record: &RawRecord, config: &DecodeConfig) -> Result<Decoded, DecodeError> {
    // Heartbeat topics carry no row data whatever their payload looks like.
    if envelope::is_heartbeat_topic(&record.coordinates.topic) {
        return Ok(Decoded::NotARow("heartbeat"));
    }
    let Some(bytes) = record.value.as_deref() else {
        return Ok(Decoded::Tombstone);
    };
    let parsed = config.convert(bytes, false)?;
    let value = parsed.part(config.value_schemas_enable);
    envelope::decode_value(record, value, config)
}

/// The record header Debezium adds to the create event of a primary-key change: the row's key
/// before the change, as the header converter wrote it.
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// The record header Debezium adds to the delete event (and its tombstone) of a primary-key
/// change: the row's key after the change.
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";

/// Whether a record carries a non-null [`NEW_KEY_HEADER`]: the delete half of a primary-key
/// change, whose row the create half may still need.
pub fn has_new_key(record: &RawRecord) -> bool {
    record
        .headers
        .iter()
        .rev()
        .find(|(name, _)| name == NEW_KEY_HEADER)
        .is_some_and(|(_, value)| value.as_deref().is_some_and(|v| v != b"null"))
}

/// Decodes the [`OLD_KEY_HEADER`] header of a record into the old key's row.
///
/// Debezium turns an update of a primary key into a delete of the old key and a create of the
/// new one; the create carries the old key in this header (JsonConverter text, with or without
/// the `{"schema", "payload"}` wrapper, following `key.converter.schemas.enable` leniently like
/// the key itself). `Ok(None)` when the header is absent or null; a header that is present but
/// not a key struct is an error.
pub fn decode_old_key(
    record: &RawRecord,
    config: &DecodeConfig,
) -> Result<Option<Row>, DecodeError> {
    // Header names are not unique in Kafka; the last one wins, as in Connect's `lastWithName`.
    let Some((_, value)) = record
        .headers
        .iter()
        .rev()
        .find(|(name, _)| name == OLD_KEY_HEADER)
    else {
        return Ok(None);
    };
    let Some(bytes) = value.as_deref() else {
        return Ok(None);
    };
    let json = converter::parse(bytes, "header __debezium.oldkey")?;
    let part = converter::split(&json, config.key_schemas_enable);
    if part.payload.is_null() {
        return Ok(None);
    }
    row::build(part.schema, part.document, part.payload, OLD_KEY_HEADER).map(Some)
}

/// Exact decimal text of a big-endian two's complement unscaled value (Connect `Decimal`
/// bytes) at `scale`; the sink uses it for schemaless decimals.
pub(crate) use decimal::from_unscaled_bytes;

/// Debezium `Bits` bytes as a PostgreSQL bit string of `length` characters; the sink uses it
/// for schemaless bit columns.
pub(crate) use binary::bits_text;

/// `Some(negative)` when a day count is PostgreSQL's `infinity` / `-infinity` date as Debezium
/// sends it; the sink uses it for schemaless dates.
pub(crate) use temporal::date_infinity;

/// `Some("infinity" | "-infinity")` when an epoch count of a timestamp without zone is one of
/// PostgreSQL's infinities as Debezium sends them (`millis`: a count of milliseconds, else of
/// microseconds); the sink uses it for schemaless timestamps.
pub(crate) fn timestamp_infinity(count: i64, millis: bool) -> Option<&'static str> {
    let unit = if millis {
        schema::Unit::Millis
    } else {
        schema::Unit::Micros
    };
    temporal::infinity(count, unit)
}
