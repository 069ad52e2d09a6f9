//! Planning: which table a change goes to, its key, and the columns it writes.

use super::ident::{IdentError, TableName};
use crate::config::{ConnectorConfig, Dialect, PrimaryKeyMode};
use crate::event::{ChangeEvent, Coordinates, Field, Op, Row, Value};
use crate::resolve::conflict::Writer;
use crate::resolve::{SkipReason, Version};
use std::borrow::Cow;

/// A change to one row, in target terms.
#[derive(Debug, Clone)]
pub struct RowChange<'e> {
    /// Kafka coordinates (for errors and the Kafka primary-key mode).
    pub coordinates: Coordinates,
    /// The source operation.
    pub op: Op,
    /// Key columns and values (empty when the table has no key).
    pub key: Vec<Field>,
    /// Every column to write (key columns included); empty for deletes. Borrowed from the
    /// change event when planning changes nothing (no folded name, no field left out, the key's
    /// values already there): a batch's values are not copied on their way to the target.
    pub values: Cow<'e, [Field]>,
    /// Whether this deletes the key.
    pub delete: bool,
    /// The source version.
    pub version: Version,
    /// The key before a primary-key change (create half), for carrying TOAST columns over.
    pub old_key: Option<Vec<Field>>,
    /// The delete half of a primary-key change: the row's values are kept for the create half.
    pub rekeyed: bool,
    /// The source system and its commit time (multi-source conflicts).
    pub writer: Writer,
    /// Held for review instead of written (a late change under `sluice.late.policy=review`).
    pub review: bool,
}

/// A planned write to one table.
#[derive(Debug, Clone)]
pub enum TableOp<'e> {
    /// A row change.
    Row(RowChange<'e>),
    /// Truncate the table.
    Truncate {
        /// Kafka coordinates.
        coordinates: Coordinates,
        /// The source version of the truncate.
        version: Version,
        /// The source that truncated (its changes alone are compared with the truncate).
        writer: Writer,
    },
}

/// The result of planning one change event.
#[derive(Debug)]
// Skips are rare and short-lived; boxing every planned write would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Planned<'e> {
    /// Write to this table.
    Write(TableName, TableOp<'e>),
    /// Nothing to write; counted with the reason.
    Skip(SkipReason),
}

/// A piece of `collection.name.format`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NamePart {
    /// Text kept as written.
    Text(String),
    /// `${topic}`, dots made underscores.
    Topic,
    /// `${source.<field>}`.
    Source(String),
}

/// The `source` block fields a table-name format's `${source.<field>}` placeholders read.
pub fn source_placeholders(format: &str) -> Vec<String> {
    NamePart::split(format)
        .into_iter()
        .filter_map(|part| match part {
            NamePart::Source(field) => Some(field),
            _ => None,
        })
        .collect()
}

impl NamePart {
    /// Splits a format at its placeholders, once per connector instead of once per change.
    fn split(format: &str) -> Vec<NamePart> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(at) = rest.find("${") {
            let (before, from) = rest.split_at(at);
            text.push_str(before);
            let placeholder = if let Some(after) = from.strip_prefix("${topic}") {
                Some((NamePart::Topic, after))
            } else {
                from.strip_prefix("${source.")
                    .and_then(|f| f.split_once('}'))
                    .map(|(field, after)| (NamePart::Source(field.to_string()), after))
            };
            match placeholder {
                Some((part, after)) => {
                    if !text.is_empty() {
                        parts.push(NamePart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                    rest = after;
                }
                None => {
                    text.push_str("${");
                    rest = &from[2..];
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(NamePart::Text(text));
        }
        parts
    }
}

/// How names are resolved for one connector.
#[derive(Debug, Clone)]
pub struct Planner {
    dialect: Dialect,
    /// `collection.name.format`, split at its placeholders.
    table_name_format: Vec<NamePart>,
    quote_identifiers: bool,
    primary_key_mode: PrimaryKeyMode,
    primary_key_fields: Vec<String>,
    /// `sluice.source.name`, else each event's Debezium `source.name`.
    source_name: Option<String>,
    field_include: Vec<String>,
    field_exclude: Vec<String>,
    delete_enabled: bool,
    truncate_enabled: bool,
}

impl Planner {
    /// From the connector config.
    pub fn new(config: &ConnectorConfig) -> Self {
        Planner {
            dialect: config.target.dialect,
            table_name_format: NamePart::split(&config.table_name_format),
            quote_identifiers: config.quote_identifiers,
            primary_key_mode: config.primary_key_mode,
            primary_key_fields: config.primary_key_fields.clone(),
            source_name: config.conflict.source_name.clone(),
            field_include: config.field_include.clone(),
            field_exclude: config.field_exclude.clone(),
            delete_enabled: config.delete_enabled,
            truncate_enabled: config.truncate_enabled,
        }
    }

    /// The target table of an event: `collection.name.format` with `${topic}` (dots become
    /// underscores, as in Debezium's JDBC sink) and `${source.<field>}` replaced.
    pub fn table_name(&self, event: &ChangeEvent) -> Result<TableName, IdentError> {
        let mut name = String::with_capacity(64);
        let mut missing = false;
        for part in &self.table_name_format {
            match part {
                NamePart::Text(text) => name.push_str(text),
                NamePart::Topic => {
                    name.extend(
                        event
                            .topic()
                            .chars()
                            .map(|c| if c == '.' { '_' } else { c }),
                    )
                }
                NamePart::Source(field) => {
                    match event.source.fields.iter().find(|(f, _)| f == field) {
                        Some((_, value)) => name.push_str(value),
                        None => {
                            missing = true;
                            name.push_str(&format!("${{source.{field}}}"));
                        }
                    }
                }
            }
        }
        // A `${source.<field>}` the event does not carry must not become part of a name.
        if missing {
            return Err(IdentError {
                name,
                reason: "a ${source.<field>} placeholder has no value in this change",
            });
        }
        TableName::parse(&self.fold(&name), self.dialect)
    }

    /// Column and table names are kept as given when quoting; folded to lower case otherwise
    /// (what an unquoted name becomes in PostgreSQL).
    pub fn fold(&self, name: &str) -> String {
        if self.folds_to_itself(name) {
            name.to_string()
        } else {
            name.to_lowercase()
        }
    }

    /// Whether [`Planner::fold`] leaves `name` as it is (checked without building the folded
    /// name: every character its own lower case).
    fn folds_to_itself(&self, name: &str) -> bool {
        self.quote_identifiers || name.chars().flat_map(char::to_lowercase).eq(name.chars())
    }

    fn keep(&self, topic: &str, column: &str) -> bool {
        let listed = |list: &[String]| {
            list.iter()
                .any(|f| f == column || f == &format!("{topic}:{column}"))
        };
        (self.field_include.is_empty() || listed(&self.field_include))
            && !listed(&self.field_exclude)
    }

    fn fields<'e>(&self, topic: &str, row: &'e Row) -> Cow<'e, [Field]> {
        let unchanged = |f: &Field| self.keep(topic, &f.name) && self.folds_to_itself(&f.name);
        if row.fields.iter().all(unchanged) {
            return Cow::Borrowed(&row.fields);
        }
        row.fields
            .iter()
            .filter(|f| self.keep(topic, &f.name))
            .map(|f| Field {
                name: self.fold(&f.name),
                value: f.value.clone(),
                column_type: f.column_type.clone(),
                optional: f.optional,
                default: f.default.clone(),
            })
            .collect()
    }

    /// The source system of a change (`sluice.source.name`, else Debezium's `source.name`)
    /// and its commit time.
    fn writer(&self, event: &ChangeEvent) -> Writer {
        Writer {
            source: self.source_name.clone().or(event.source.name.clone()),
            ts_ms: event.source.ts_ms,
        }
    }

    /// Plans one change event.
    pub fn plan<'e>(&self, event: &'e ChangeEvent) -> Result<Planned<'e>, PlanError> {
        let table = self.table_name(event).map_err(PlanError::Ident)?;
        let version = Version::of(event);
        let coordinates = event.coordinates.clone();
        if event.op == Op::Truncate {
            if !self.truncate_enabled {
                return Ok(Planned::Skip(SkipReason::TruncateDisabled));
            }
            return Ok(Planned::Write(
                table,
                TableOp::Truncate {
                    coordinates,
                    version,
                    writer: self.writer(event),
                },
            ));
        }
        let topic = event.topic();
        let delete = event.op == Op::Delete;
        if delete && !self.delete_enabled {
            return Ok(Planned::Skip(SkipReason::DeleteDisabled));
        }
        let image = if delete {
            event.before.as_ref()
        } else {
            event.after.as_ref()
        };
        let mut values = match image.filter(|_| !delete) {
            Some(row) => self.fields(topic, row),
            None => Cow::default(),
        };
        let key = match self.primary_key_mode {
            PrimaryKeyMode::None => Vec::new(),
            PrimaryKeyMode::RecordKey => {
                // `primary.key.fields` picks key fields (all of them when empty).
                let key: Vec<Field> = event
                    .key
                    .fields
                    .iter()
                    .filter(|f| {
                        self.primary_key_fields.is_empty()
                            || self.primary_key_fields.contains(&f.name)
                    })
                    .map(|f| Field {
                        name: self.fold(&f.name),
                        ..f.clone()
                    })
                    .collect();
                if key.is_empty() {
                    return Err(PlanError::NoKey("the record key is null or empty".into()));
                }
                // A key field without a value (absent from the key payload, or null) would be
                // a NULL key column: refused here, not left to each database (SQLite's
                // INTEGER PRIMARY KEY would even give the row a new id).
                if let Some(f) = key.iter().find(|f| matches!(f.value, Value::Null)) {
                    return Err(PlanError::NoKey(format!(
                        "primary key field {:?} is null",
                        f.name
                    )));
                }
                key
            }
            PrimaryKeyMode::RecordValue => {
                let source = image
                    .or(event.before.as_ref())
                    .ok_or_else(|| PlanError::NoKey("no row image".into()))?;
                self.primary_key_fields
                    .iter()
                    .map(|name| {
                        source
                            .get(name)
                            .map(|f| Field {
                                name: self.fold(&f.name),
                                ..f.clone()
                            })
                            .ok_or_else(|| {
                                PlanError::NoKey(format!("primary key field {name:?} is missing"))
                            })
                    })
                    .collect::<Result<_, _>>()?
            }
            PrimaryKeyMode::Kafka => kafka_key(event.topic(), &coordinates),
        };
        if !delete {
            if image.is_none() {
                return Err(PlanError::NoKey("the change has no after image".into()));
            }
            // Key columns come from the key, as in Kafka Connect's JDBC sinks: a value
            // transform must not make the written key differ from the guarded one.
            // Copied only when a key value is missing from the row or differs from it.
            let agrees = |k: &Field| {
                values
                    .iter()
                    .any(|v| v.name == k.name && v.value == k.value)
            };
            if !key.iter().all(agrees) {
                let owned = values.to_mut();
                for k in key.iter().rev() {
                    match owned.iter_mut().find(|v| v.name == k.name) {
                        Some(v) => v.value = k.value.clone(),
                        None => owned.insert(0, k.clone()),
                    }
                }
            }
        }
        let old_key = match self.primary_key_mode {
            PrimaryKeyMode::RecordKey => event.old_key.as_ref().map(|row| {
                row.fields
                    .iter()
                    .map(|f| Field {
                        name: self.fold(&f.name),
                        ..f.clone()
                    })
                    .collect()
            }),
            _ => None,
        };
        Ok(Planned::Write(
            table,
            TableOp::Row(RowChange {
                coordinates,
                op: event.op,
                key,
                values,
                delete,
                version,
                old_key,
                rekeyed: delete
                    && event.rekeyed
                    && self.primary_key_mode == PrimaryKeyMode::RecordKey,
                writer: self.writer(event),
                review: false,
            }),
        ))
    }
}

/// The `kafka` primary key: the topic as the sink sees it (after transforms, as Kafka
/// Connect's `record.topic()`), partition and offset.
fn kafka_key(topic: &str, c: &Coordinates) -> Vec<Field> {
    use crate::event::ColumnType as T;
    let field = |name: &str, value: Value, t: T| Field {
        name: name.into(),
        value,
        column_type: Some(t),
        optional: false,
        default: None,
    };
    vec![
        field(
            "__connect_topic",
            Value::Text(topic.to_string()),
            T::Text { max_len: None },
        ),
        field(
            "__connect_partition",
            Value::Int(c.partition as i64),
            T::Int32,
        ),
        field("__connect_offset", Value::Int(c.offset), T::Int64),
    ]
}

/// Why a change cannot be planned (permanent).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The target table name is not a valid identifier.
    #[error(transparent)]
    Ident(IdentError),
    /// No primary key can be taken from the change.
    #[error("no primary key: {0}")]
    NoKey(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ColumnType, SourcePosition};

    /// What the pipeline keeps of each change's `source` block for its names.
    #[test]
    fn a_name_format_reads_the_source_fields_of_its_placeholders() {
        assert_eq!(
            source_placeholders("${source.schema}.${topic}_${source.table}"),
            ["schema", "table"]
        );
        assert!(source_placeholders("${topic}").is_empty());
        assert!(source_placeholders("${source.table").is_empty());
    }

    fn field(name: &str, value: Value) -> Field {
        Field {
            name: name.into(),
            value,
            column_type: Some(ColumnType::Int64),
            optional: false,
            default: None,
        }
    }

    fn planner(extra: &str) -> Planner {
        let text = format!(
            r#"{{"name": "p", "config": {{"topics": "t", "connection.url": "jdbc:sqlite:x.db",
            "insert.mode": "upsert", "primary.key.mode": "record_key" {extra}}}}}"#
        );
        Planner::new(&ConnectorConfig::from_json(&text, "p", &|_| None).expect("config"))
    }

    fn change(key: Vec<Field>, after: Vec<Field>) -> ChangeEvent {
        ChangeEvent {
            coordinates: Coordinates {
                topic: "t".into(),
                partition: 0,
                offset: 1,
            },
            op: Op::Update,
            key: Row { fields: key },
            before: None,
            after: Some(Row { fields: after }),
            source: SourcePosition::default(),
            tx: None,
            kafka_timestamp_ms: None,
            old_key: None,
            rekeyed: false,
            ts_ms: None,
            route: None,
        }
    }

    fn row_change(planned: Planned) -> RowChange {
        match planned {
            Planned::Write(_, TableOp::Row(change)) => change,
            other => panic!("expected a row write, got {other:?}"),
        }
    }

    #[test]
    fn collection_name_format_placeholders_are_filled_per_change() {
        let mut event = change(vec![field("id", Value::Int(5))], vec![]);
        event.coordinates.topic = "shop.public.Orders".into();
        event.source.fields = vec![
            ("schema".into(), "public".into()),
            ("table".into(), "orders".into()),
        ];
        let name = |format: &str| {
            planner(&format!(r#", "collection.name.format": {format:?}"#))
                .table_name(&event)
                .map(|t| t.label())
        };
        assert_eq!(name("${topic}").unwrap(), "shop_public_Orders");
        assert_eq!(name("sink_${source.table}").unwrap(), "sink_orders");
        assert_eq!(
            name("${source.table}_${source.table}_a").unwrap(),
            "orders_orders_a"
        );
        assert_eq!(
            name("${source.schema}.${source.table}").unwrap(),
            "public.orders"
        );
        // What is not one of the two placeholders stays as written.
        assert_eq!(name("$${topic}x").unwrap(), "$shop_public_Ordersx");
        let err = name("a_${source.db}_${source.table}").unwrap_err();
        assert_eq!(err.name, "a_${source.db}_orders");
    }

    #[test]
    fn key_columns_are_written_from_the_key() {
        // A value transform (e.g. MaskField on `id`) must not change the written key.
        let event = change(
            vec![field("id", Value::Int(5))],
            vec![field("id", Value::Int(0)), field("n", Value::Int(9))],
        );
        let change = row_change(planner("").plan(&event).expect("plan"));
        assert_eq!(change.values[0].value, Value::Int(5));
        assert_eq!(change.values.len(), 2);
    }

    #[test]
    fn primary_key_fields_pick_key_fields_with_record_key() {
        let event = change(
            vec![field("a", Value::Int(1)), field("b", Value::Int(2))],
            vec![field("a", Value::Int(1)), field("b", Value::Int(2))],
        );
        let all = row_change(planner("").plan(&event).expect("plan"));
        assert_eq!(all.key.len(), 2);
        let picked = row_change(
            planner(r#", "primary.key.fields": "b""#)
                .plan(&event)
                .expect("plan"),
        );
        let names: Vec<&str> = picked.key.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn a_row_planning_leaves_as_it_is_is_borrowed_and_any_change_makes_a_copy() {
        let event = change(
            vec![field("id", Value::Int(5))],
            vec![field("id", Value::Int(5)), field("n", Value::Int(9))],
        );
        let plain = row_change(planner("").plan(&event).expect("plan"));
        assert!(matches!(plain.values, Cow::Borrowed(_)));
        assert_eq!(plain.values[..], event.after.as_ref().unwrap().fields[..]);
        // A field left out, a name folded, a key value differing from the row's or missing
        // from it: each is written from a copy, and the event stays as it was.
        let excluded = row_change(
            planner(r#", "field.exclude.list": "n""#)
                .plan(&event)
                .expect("plan"),
        );
        assert!(matches!(excluded.values, Cow::Owned(_)));
        assert_eq!(excluded.values.len(), 1);
        let upper = change(
            vec![field("id", Value::Int(5))],
            vec![field("id", Value::Int(5)), field("Total", Value::Int(9))],
        );
        let folded = row_change(
            planner(r#", "quote.identifiers": "false""#)
                .plan(&upper)
                .expect("plan"),
        );
        let names: Vec<&str> = folded.values.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "total"]);
        let quoted = row_change(
            planner(r#", "quote.identifiers": "true""#)
                .plan(&upper)
                .expect("plan"),
        );
        assert!(matches!(quoted.values, Cow::Borrowed(_)));
        let masked = change(
            vec![field("id", Value::Int(5))],
            vec![field("id", Value::Int(0)), field("n", Value::Int(9))],
        );
        let rekeyed = row_change(planner("").plan(&masked).expect("plan"));
        assert!(matches!(rekeyed.values, Cow::Owned(_)));
        assert_eq!(rekeyed.values[0].value, Value::Int(5));
        assert_eq!(
            masked.after.as_ref().unwrap().fields[0].value,
            Value::Int(0)
        );
        let keyless_row = change(
            vec![field("id", Value::Int(5))],
            vec![field("n", Value::Int(9))],
        );
        let inserted = row_change(planner("").plan(&keyless_row).expect("plan"));
        let names: Vec<&str> = inserted.values.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "n"]);
    }
}
