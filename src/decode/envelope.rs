//! The Debezium envelope: which kind of record a value is, and the change event it becomes.
//!
//! A Debezium topic carries more than row changes. Each kind is recognised from the payload's
//! own shape (and the schema name when there is one), because topic names are configurable and
//! the schema may be absent:
//!
//! | payload                               | result                        |
//! |---------------------------------------|-------------------------------|
//! | `op` in r, c, u, d, t                 | [`Decoded::Change`]           |
//! | `op` = m (logical decoding message)   | `NotARow("message")`          |
//! | `status` + `id`, no `op`              | `NotARow("transaction")`      |
//! | only `ts_ms`, or Heartbeat schema     | `NotARow("heartbeat")`        |
//! | `ddl` / `tableChanges` / `databaseName` | `NotARow("schema_change")`  |

use super::converter::Part;
use super::object::{Node, Object};
use super::{row, source, DecodeConfig, DecodeError};
use crate::event::{ChangeEvent, Decoded, Op, RawRecord, Row};

/// Debezium's default heartbeat topic prefix (`topic.heartbeat.prefix`).
const HEARTBEAT_TOPIC_PREFIX: &str = "__debezium-heartbeat";

/// Schema name of Debezium heartbeat values.
const HEARTBEAT_SCHEMA: &str = "io.debezium.connector.common.Heartbeat";

/// Whether a topic is a Debezium heartbeat topic.
pub(crate) fn is_heartbeat_topic(topic: &str) -> bool {
    topic.starts_with(HEARTBEAT_TOPIC_PREFIX)
}

/// Decodes a record whose value JSON has been parsed and unwrapped.
pub(crate) fn decode_value(
    record: &RawRecord,
    value: Part<'_>,
    config: &DecodeConfig,
) -> Result<Decoded, DecodeError> {
    // JsonConverter's form of a null value; treated like a Kafka null.
    if value.payload.is_null() {
        return Ok(Decoded::Tombstone);
    }
    let Some(object) = value.payload.as_object() else {
        return Err(DecodeError::NotAnEnvelope(format!(
            "value is {}, not an object",
            value.payload.type_name()
        )));
    };
    let op = match object.get("op") {
        Some(op) => op.as_str().ok_or_else(|| {
            DecodeError::NotAnEnvelope(format!("`op` is {}, not a string", op.type_name()))
        })?,
        None => return classify_without_op(value, object).map(Decoded::NotARow),
    };
    let op = match op {
        "r" => Op::Read,
        "c" => Op::Create,
        "u" => Op::Update,
        "d" => Op::Delete,
        "t" => Op::Truncate,
        "m" => return Ok(Decoded::NotARow("message")),
        other => return Err(DecodeError::NotAnEnvelope(format!("unknown op {other:?}"))),
    };
    let event = change(record, value, object, op, config)?;
    Ok(Decoded::Change(Box::new(event)))
}

/// Names the kind of a value that has no `op`, or says why it is not an envelope.
fn classify_without_op(value: Part<'_>, object: Object<'_>) -> Result<&'static str, DecodeError> {
    let schema_name = value.schema.and_then(|s| s.name()).unwrap_or("");
    let has = |key: &str| object.contains_key(key);
    if schema_name == HEARTBEAT_SCHEMA || (object.len() == 1 && has("ts_ms")) {
        Ok("heartbeat")
    } else if has("status") && has("id") {
        Ok("transaction")
    } else if has("ddl") || has("tableChanges") || has("databaseName") {
        Ok("schema_change")
    } else {
        Err(DecodeError::NotAnEnvelope(
            "value has no `op` and is not a transaction, heartbeat or schema change record".into(),
        ))
    }
}

/// Builds the change event of a row change or truncate.
fn change(
    record: &RawRecord,
    value: Part<'_>,
    object: Object<'_>,
    op: Op,
    config: &DecodeConfig,
) -> Result<ChangeEvent, DecodeError> {
    let before = image(value, object, "before")?;
    let after = image(value, object, "after")?;
    if matches!(op, Op::Read | Op::Create | Op::Update) && after.is_none() {
        return Err(DecodeError::NotAnEnvelope(format!(
            "op {:?} has no `after` row image",
            op.code()
        )));
    }
    Ok(ChangeEvent {
        coordinates: record.coordinates.clone(),
        op,
        key: key(record, config)?,
        before,
        after,
        source: source::position(object.get("source"), &config.source_fields)?,
        tx: source::transaction(object.get("transaction"))?,
        kafka_timestamp_ms: record.timestamp_ms,
        // Only the create half of a primary-key change carries the old key.
        old_key: if op == Op::Create {
            super::decode_old_key(record, config)?
        } else {
            None
        },
        rekeyed: op == Op::Delete && super::has_new_key(record),
        ts_ms: object.get("ts_ms").and_then(Node::as_i64),
        route: None,
    })
}

/// A `before` or `after` image: `None` when absent or null, typed when the envelope schema
/// declares it.
fn image(value: Part<'_>, object: Object<'_>, name: &str) -> Result<Option<Row>, DecodeError> {
    match object.get(name) {
        None => Ok(None),
        Some(payload) if payload.is_null() => Ok(None),
        Some(payload) => {
            let schema = value.schema.and_then(|s| s.field(name));
            row::build(schema, value.document, payload, name).map(Some)
        }
    }
}

/// The record key as a row: empty for a null key (truncates, keyless tables).
fn key(record: &RawRecord, config: &DecodeConfig) -> Result<Row, DecodeError> {
    let Some(bytes) = record.key.as_deref() else {
        return Ok(Row::default());
    };
    let parsed = config.convert(bytes, true)?;
    let part = parsed.part(config.key_schemas_enable);
    if part.payload.is_null() {
        return Ok(Row::default());
    }
    row::build(part.schema, part.document, part.payload, "key")
}
