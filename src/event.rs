//! The one change type that flows from decode to sink.
//!
//! A Kafka record is decoded once into a [`ChangeEvent`]; transforms, the resolve stage and the
//! sink all work on this type, never on re-serialised JSON. Values keep their exact meaning
//! (decimals as canonical text, temporal types as calendar values) so that no stage has to guess.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use std::fmt;

/// Where a record came from in Kafka: the coordinates every error and dead letter names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinates {
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// Kafka offset of the record.
    pub offset: i64,
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

/// A record as it arrived from Kafka, before decoding. Bytes are kept as they came so a dead
/// letter can carry them unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Topic, partition and offset.
    pub coordinates: Coordinates,
    /// Record key bytes (`None` for a null key).
    pub key: Option<Vec<u8>>,
    /// Record value bytes (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Record headers in order; a header may have a null value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Record timestamp in milliseconds since the epoch, when the broker gave one.
    pub timestamp_ms: Option<i64>,
}

/// The Debezium operation of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `r`: a snapshot read.
    Read,
    /// `c`: an insert.
    Create,
    /// `u`: an update.
    Update,
    /// `d`: a delete.
    Delete,
    /// `t`: a truncate of the whole table.
    Truncate,
}

impl Op {
    /// The Debezium one-letter code, also used as the `op` metric label.
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// A column type as the event schema (or the target catalog) describes it. Used to create and
/// evolve target tables and to convert schemaless values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Boolean.
    Bool,
    /// 8-bit integer (Connect int8).
    Int8,
    /// 16-bit integer.
    Int16,
    /// 32-bit integer.
    Int32,
    /// 64-bit integer.
    Int64,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// Exact decimal with a fixed scale (`org.apache.kafka.connect.data.Decimal`).
    Decimal {
        /// Digits after the point.
        scale: u32,
        /// Total digits, when the source said (`connect.decimal.precision`).
        precision: Option<u32>,
    },
    /// Exact decimal whose scale varies per value (`io.debezium.data.VariableScaleDecimal`).
    VariableDecimal,
    /// Text, with a maximum length when the source said.
    Text {
        /// Maximum length in characters, when known.
        max_len: Option<u32>,
    },
    /// Binary data.
    Bytes,
    /// Calendar date.
    Date,
    /// Time of day without zone.
    Time,
    /// Time of day with a zone offset.
    TimeTz,
    /// Timestamp without zone.
    Timestamp,
    /// Timestamp with zone.
    TimestampTz,
    /// JSON document.
    Json,
    /// UUID.
    Uuid,
    /// Bit string of a given length.
    Bits {
        /// Number of bits, when known.
        length: Option<u32>,
    },
    /// Array of an element type.
    Array(Box<ColumnType>),
}

/// One column value. Decode produces typed values when the event carries a schema, and
/// [`Value::Untyped`] when it does not; the sink converts untyped values with the target
/// column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Any integer type.
    Int(i64),
    /// Any floating type.
    Float(f64),
    /// Exact decimal as canonical text (`-12.340`), never rounded through a float.
    Decimal(String),
    /// Text (also Enum, Xml and other string-typed semantics).
    Text(String),
    /// Binary.
    Bytes(Vec<u8>),
    /// Date.
    Date(NaiveDate),
    /// Time of day (nanosecond precision).
    Time(NaiveTime),
    /// Time with zone, as ISO text with offset (`10:15:30Z`).
    TimeTz(String),
    /// Timestamp without zone (nanosecond precision).
    Timestamp(NaiveDateTime),
    /// Timestamp with zone, as ISO text with offset (`2024-01-15T10:00:00Z`).
    TimestampTz(String),
    /// JSON document text.
    Json(String),
    /// UUID text.
    Uuid(String),
    /// Bit string as '0'/'1' characters, most significant first.
    Bits(String),
    /// Array.
    Array(Vec<Value>),
    /// PostgreSQL's `infinity` (or, when `negative`, `-infinity`) date or timestamp. SQLite
    /// cannot hold it: such a record is dead-lettered there, never clamped.
    Infinite {
        /// `-infinity`.
        negative: bool,
    },
    /// Debezium's TOAST placeholder: the source did not send this column, so the target keeps
    /// its current value. Never written.
    Unavailable,
    /// A value from a schemaless event; its meaning comes from the target column type. Boxed:
    /// `serde_json::Value` is twice the size of every other variant, and a value of every
    /// column of every change is held until its batch commits.
    Untyped(Box<serde_json::Value>),
}

impl Value {
    /// A value from a schemaless event.
    pub fn untyped(json: serde_json::Value) -> Value {
        Value::Untyped(Box::new(json))
    }

    /// The text of a value that is held as text (decimals, strings, zoned times, JSON, UUIDs,
    /// bit strings, schemaless strings); `None` for every other kind.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Decimal(s)
            | Value::Text(s)
            | Value::TimeTz(s)
            | Value::TimestampTz(s)
            | Value::Json(s)
            | Value::Uuid(s)
            | Value::Bits(s) => Some(s),
            Value::Untyped(json) => json.as_str(),
            _ => None,
        }
    }
}

/// A named column value of a row image.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Column name as the source gave it.
    pub name: String,
    /// The value.
    pub value: Value,
    /// The column type, when the event carried a schema.
    pub column_type: Option<ColumnType>,
    /// Whether the schema marked the field optional (nullable).
    pub optional: bool,
    /// The schema's default value, when it declares one (a column added with
    /// `NOT NULL DEFAULT` at the source gets the same default in the target).
    pub default: Option<Box<Value>>,
}

/// A row image (Debezium `before`/`after`, or the key struct), fields in schema order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// The fields, in the order the source gave them.
    pub fields: Vec<Field>,
}

impl Row {
    /// The field with this name.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Mutable access to the field with this name.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Field> {
        self.fields.iter_mut().find(|f| f.name == name)
    }
}

/// The position of the change in its source database, used to order writes to the same key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourcePosition {
    /// Debezium `source.name` (the connector's logical name / topic prefix).
    pub name: Option<String>,
    /// Debezium `source.connector` (`postgresql`, `mysql`, ...).
    pub connector: Option<String>,
    /// Source database.
    pub db: Option<String>,
    /// Source schema, when the database has schemas.
    pub schema: Option<String>,
    /// Source table.
    pub table: Option<String>,
    /// PostgreSQL log sequence number of the change.
    pub lsn: Option<i64>,
    /// MySQL binlog file name.
    pub binlog_file: Option<String>,
    /// MySQL binlog position.
    pub binlog_pos: Option<i64>,
    /// MySQL row within the binlog event.
    pub binlog_row: Option<i64>,
    /// Source commit time in ms since the epoch.
    pub ts_ms: Option<i64>,
    /// Whether this is a snapshot read.
    pub snapshot: bool,
    /// `source` fields as text, for `${source.<field>}` table name placeholders and an
    /// unwrap's `add.fields`: in the pipeline only those the connector reads
    /// ([`crate::decode::SourceFields`]), elsewhere every field.
    pub fields: Vec<(String, String)>,
}

/// The source transaction a change belongs to (Debezium `transaction` block).
#[derive(Debug, Clone, PartialEq)]
pub struct TxInfo {
    /// Transaction id as Debezium gives it.
    pub id: String,
    /// Position of the event in its transaction.
    pub total_order: i64,
}

/// A decoded change to one row (or a whole-table truncate).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// Where the record came from in Kafka.
    pub coordinates: Coordinates,
    /// The operation.
    pub op: Op,
    /// The key struct (primary key of the source row); empty for truncates and keyless tables.
    pub key: Row,
    /// Row image before the change (deletes, and updates under REPLICA IDENTITY FULL).
    pub before: Option<Row>,
    /// Row image after the change (reads, creates, updates).
    pub after: Option<Row>,
    /// Source position and identity.
    pub source: SourcePosition,
    /// Transaction block, when the source provides transaction metadata.
    pub tx: Option<TxInfo>,
    /// Kafka record timestamp in ms, when the broker gave one.
    pub kafka_timestamp_ms: Option<i64>,
    /// For the create half of a primary-key change: the key the row had before
    /// (`__debezium.oldkey` header), so unchanged TOAST columns can be carried over.
    pub old_key: Option<Row>,
    /// For the delete half of a primary-key change (`__debezium.newkey` header): the sink keeps
    /// the deleted row's values until the create half (with [`ChangeEvent::old_key`]) arrives.
    pub rekeyed: bool,
    /// The envelope's `ts_ms`: when Debezium processed the change.
    pub ts_ms: Option<i64>,
    /// The topic name transforms gave the record (RegexRouter, `route.by.field`), when they
    /// renamed it; table names and `${topic}` use [`ChangeEvent::topic`].
    pub route: Option<String>,
}

impl ChangeEvent {
    /// The record's topic as the sink sees it: after transforms renamed it, else the Kafka
    /// topic it was read from. Offsets always use [`ChangeEvent::coordinates`].
    pub fn topic(&self) -> &str {
        self.route.as_deref().unwrap_or(&self.coordinates.topic)
    }
}

/// What a record decodes to: a change to apply, or a record that is never written as a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A row change or truncate.
    Change(Box<ChangeEvent>),
    /// A Kafka tombstone (null value) that follows a Debezium delete; nothing to apply.
    Tombstone,
    /// A record that is not a row change: logical decoding message (`m`), heartbeat,
    /// schema-change or transaction-metadata record. The reason is the metric label.
    NotARow(&'static str),
}
