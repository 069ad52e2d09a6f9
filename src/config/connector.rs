//! The connector config: a Kafka Connect `{"name": ..., "config": {...}}` document, typed.

use super::errors::{errors_config, ErrorsConfig};
use super::keys::{classify, KeyKind};
use super::overrides::ConnectorClients;
use super::policies::{conflict_policy, late_config};
use super::secret::{is_secret_key, Secret};
use super::url::TargetUrl;
use super::values::{list, parse, parse_bool};
use super::worker::{converter_side, WorkerConfig};
use crate::decode::DecodeConfig;
use crate::resolve::conflict::ConflictPolicy;
use crate::resolve::late::LateConfig;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

/// `insert.mode`: how a change becomes a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Plain INSERT (append-only; used for audit tables).
    Insert,
    /// INSERT, or UPDATE when the key exists.
    Upsert,
    /// UPDATE only; changes to missing keys do nothing.
    Update,
}

/// `primary.key.mode`: where the target primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryKeyMode {
    /// No key: rows are appended (only `insert.mode=insert` makes sense).
    None,
    /// The Kafka coordinates (`__connect_topic`, `__connect_partition`, `__connect_offset`).
    Kafka,
    /// The record key struct.
    RecordKey,
    /// Fields of the record value (`primary.key.fields`).
    RecordValue,
}

/// `schema.evolution`: whether sluice may create and alter target tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaEvolution {
    /// Tables must exist with every column the events carry.
    None,
    /// Create missing tables and add missing columns.
    Basic,
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTolerance {
    /// The first bad record stops the connector; nothing after it is committed.
    None,
    /// Bad records go to the dead-letter path and processing continues.
    All,
}

/// Which topics the connector consumes.
#[derive(Debug, Clone)]
pub enum TopicSelection {
    /// `topics`: an explicit list.
    List(Vec<String>),
    /// `topics.regex`: every topic matching, now and later.
    Regex(Regex),
}

/// A validated connector config.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Connector name; the consumer group is `connect-<name>`.
    pub name: String,
    /// Topics to consume.
    pub topics: TopicSelection,
    /// Target database.
    pub target: TargetUrl,
    /// `connection.username`, when given apart from the URL.
    pub username: Option<String>,
    /// `connection.password`.
    pub password: Option<Secret>,
    /// `insert.mode`.
    pub insert_mode: InsertMode,
    /// `primary.key.mode`.
    pub primary_key_mode: PrimaryKeyMode,
    /// `primary.key.fields`.
    pub primary_key_fields: Vec<String>,
    /// `delete.enabled`.
    pub delete_enabled: bool,
    /// `truncate.enabled`.
    pub truncate_enabled: bool,
    /// `schema.evolution`.
    pub schema_evolution: SchemaEvolution,
    /// `collection.name.format` (or the older `table.name.format`).
    pub table_name_format: String,
    /// `quote.identifiers`: keep the source's case in target names when true; fold otherwise.
    pub quote_identifiers: bool,
    /// `field.include.list` (column names; empty = all).
    pub field_include: Vec<String>,
    /// `field.exclude.list`.
    pub field_exclude: Vec<String>,
    /// `tasks.max`: how many pipelines (each a consumer of the connector's group with its own
    /// target connection) run the connector; the group splits the partitions among them.
    pub tasks_max: usize,
    /// `batch.size`: records per target transaction at most, bounded by `max_poll_records`.
    pub batch_size: usize,
    /// `max.poll.records` of the connector's consumer (`consumer.override.max.poll.records`,
    /// else the worker's `consumer.max.poll.records`): `batch_size` is already at most this,
    /// as a Connect sink's `put` gets at most one poll's records.
    pub max_poll_records: Option<usize>,
    /// `consumer.override.*`, `producer.override.*`, `admin.override.*` (allowed by the
    /// worker's policy), applied by [`WorkerConfig::client_config_for`].
    pub clients: ConnectorClients,
    /// `sluice.batch.linger.ms`: how long a partial batch waits for more records.
    pub linger_ms: u64,
    /// `sluice.max.inflight.records`: decoded records waiting for a batch, at most.
    pub max_inflight: usize,
    /// `sluice.delete.tombstone.retention.ms`: how long a delete's version tombstone is kept.
    pub tombstone_retention_ms: i64,
    /// `sluice.offsets.history.retention.ms`: how long per-batch checkpoint history is kept
    /// (resets are kept for good).
    pub history_retention_ms: i64,
    /// `errors.tolerance`.
    pub errors_tolerance: ErrorTolerance,
    /// `errors.deadletterqueue.topic.name`.
    pub dlq_topic: Option<String>,
    /// The other `errors.*` settings and `sluice.errors.*`.
    pub errors: ErrorsConfig,
    /// Key and value converter settings.
    pub decode: DecodeConfig,
    /// `transforms` and `predicates`: the transform chain, in order.
    pub transforms: crate::transform::Chain,
    /// `sluice.late.tolerance.ms`, `sluice.clock.skew.max.ms`, `sluice.late.policy`.
    pub late: LateConfig,
    /// `sluice.source.name` and `sluice.conflict.*`.
    pub conflict: ConflictPolicy,
    /// Keys given that have no effect in sluice (reported by `validate`).
    pub no_effect_keys: Vec<String>,
    /// The expanded flat config, secrets redacted, for display.
    pub redacted: BTreeMap<String, String>,
}

/// Default `batch.size` of the Debezium JDBC sink.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// Default linger of a partial batch: how long it waits for records that have not arrived
/// (those already waiting always join it, up to `batch.size`). Measured on the pipeline
/// bench at a steady 10k records/s (`SLUICE_BENCH_LATENCY`): 100 ms gave p50 96 / p99 156 ms
/// from send to checkpoint, 5 ms p50 76 / p99 131, at the same catch-up rate.
pub const DEFAULT_LINGER_MS: u64 = 5;
/// Default version-tombstone retention: 7 days.
pub const DEFAULT_TOMBSTONE_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// Default retention of per-batch checkpoint history: 7 days.
pub const DEFAULT_HISTORY_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// Every problem found in a connector config, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("connector config {source_name}: {}", problems.join("; "))]
pub struct ConfigErrors {
    /// The file (or other source) the config came from.
    pub source_name: String,
    /// One line per problem.
    pub problems: Vec<String>,
}

impl ConnectorConfig {
    /// Reads and validates a connector JSON file, expanding `${env:}` and `${file:}` from the
    /// process environment (no worker: no declared providers, default override policy).
    pub fn from_file(path: &Path) -> Result<Self, ConfigErrors> {
        Self::from_file_with(path, &WorkerConfig::default())
    }

    /// [`ConnectorConfig::from_file`] in a worker: its converter settings as defaults
    /// ([`WorkerConfig::converters`]), its config providers, its client override policy and
    /// its `consumer.max.poll.records`.
    pub fn from_file_with(path: &Path, worker: &WorkerConfig) -> Result<Self, ConfigErrors> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            source_name: source_name.clone(),
            problems: vec![format!("cannot read: {e}")],
        })?;
        Self::from_json_with(
            &text,
            &source_name,
            &|name| std::env::var(name).ok(),
            worker,
        )
    }

    /// Parses and validates a connector JSON document (`{"name","config"}` or a flat map).
    pub fn from_json(
        text: &str,
        source_name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigErrors> {
        Self::from_json_with(text, source_name, env, &WorkerConfig::default())
    }

    /// [`ConnectorConfig::from_json`] in a worker. Its converter settings are defaults: a side
    /// (`key` or `value`) whose `<side>.converter` the connector does not set takes the
    /// worker's `<side>.converter` and `<side>.converter.*` keys, under the connector's own
    /// sub-keys. A connector that sets its converter uses only its own sub-keys, as in Connect.
    /// Placeholders expand with the worker's config providers; a value a provider supplied is
    /// shown (in `redacted` and in problems) as its placeholder.
    pub fn from_json_with(
        text: &str,
        source_name: &str,
        env: &dyn Fn(&str) -> Option<String>,
        worker: &WorkerConfig,
    ) -> Result<Self, ConfigErrors> {
        let fail = |problems: Vec<String>| ConfigErrors {
            source_name: source_name.to_string(),
            problems,
        };
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| fail(vec![format!("not JSON: {e}")]))?;
        let (name, flat) = flatten(&doc).map_err(|p| fail(vec![p]))?;
        let mut problems = Vec::new();
        let (mut expanded, provided) = worker.providers.expand_all(flat, env, &mut problems);
        if let Some(name) = name {
            expanded.entry("name".into()).or_insert(name);
        }
        for side in ["key.converter", "value.converter"] {
            if expanded.contains_key(side) {
                continue;
            }
            for (key, value) in &worker.converters {
                if converter_side(key) == Some(side) {
                    expanded
                        .entry(key.clone())
                        .or_insert_with(|| value.expose().to_string());
                }
            }
        }
        super::confluent::translate(&mut expanded, &mut problems);
        let mut config = build(&expanded, &mut problems);
        if let Some(config) = config.as_mut() {
            super::overrides::apply(config, &expanded, &provided, worker, &mut problems);
            provided.show_raw(&mut config.redacted);
        }
        provided.hide(&mut problems);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(fail(problems)),
        }
    }
}

/// Turns the document into the connector name and its flat string map.
fn flatten(doc: &serde_json::Value) -> Result<(Option<String>, BTreeMap<String, String>), String> {
    let obj = doc
        .as_object()
        .ok_or("the document must be a JSON object")?;
    let (name, config) = match obj.get("config") {
        Some(config) => (
            obj.get("name").and_then(|n| n.as_str()).map(String::from),
            config,
        ),
        None => (None, doc),
    };
    let config = config
        .as_object()
        .ok_or("\"config\" must be a JSON object")?;
    let mut flat = BTreeMap::new();
    for (key, value) in config {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
            _ => {
                return Err(format!(
                    "{key}: values must be strings, numbers or booleans"
                ))
            }
        };
        flat.insert(key.clone(), text);
    }
    Ok((name, flat))
}

fn build(map: &BTreeMap<String, String>, problems: &mut Vec<String>) -> Option<ConnectorConfig> {
    let mut no_effect_keys = Vec::new();
    for key in map.keys() {
        match classify(key) {
            KeyKind::Supported => {}
            KeyKind::NoEffect => no_effect_keys.push(key.clone()),
            KeyKind::Unknown => problems.push(format!("{key}: unknown config key")),
        }
    }
    let name = map.get("name").cloned().unwrap_or_default();
    if name.trim().is_empty() {
        problems.push("name: the connector needs a name".into());
    }
    let topics = topic_selection(map, problems);
    let mut target = match map.get("connection.url") {
        Some(url) => TargetUrl::parse(url)
            .map_err(|e| problems.push(format!("connection.url: {e}")))
            .ok(),
        None => {
            problems.push("connection.url: required".into());
            None
        }
    };
    // `sluice.connection.sslmode` etc. win over the url's own parameters.
    for param in ["sslmode", "sslrootcert", "sslcert", "sslkey"] {
        let key = format!("sluice.connection.{param}");
        if let (Some(value), Some(target)) = (map.get(&key), target.as_mut()) {
            if let Err(e) = target.set_param(param, value) {
                problems.push(format!("{key}: {e}"));
            }
        }
    }
    if let Some(target) = &target {
        no_effect_keys.extend(
            target
                .ignored
                .iter()
                .map(|p| format!("connection.url parameter {p}")),
        );
    }
    let insert_mode = parse(
        map,
        "insert.mode",
        InsertMode::Insert,
        problems,
        |s| match s {
            "insert" => Some(InsertMode::Insert),
            "upsert" => Some(InsertMode::Upsert),
            "update" => Some(InsertMode::Update),
            _ => None,
        },
        "insert, upsert or update",
    );
    let primary_key_mode = parse(
        map,
        "primary.key.mode",
        PrimaryKeyMode::None,
        problems,
        |s| match s {
            "none" => Some(PrimaryKeyMode::None),
            "kafka" => Some(PrimaryKeyMode::Kafka),
            "record_key" => Some(PrimaryKeyMode::RecordKey),
            "record_value" => Some(PrimaryKeyMode::RecordValue),
            _ => None,
        },
        "none, kafka, record_key or record_value",
    );
    let schema_evolution = parse(
        map,
        "schema.evolution",
        SchemaEvolution::None,
        problems,
        |s| match s {
            "none" => Some(SchemaEvolution::None),
            "basic" => Some(SchemaEvolution::Basic),
            _ => None,
        },
        "none or basic",
    );
    let errors_tolerance = parse(
        map,
        "errors.tolerance",
        ErrorTolerance::None,
        problems,
        |s| match s {
            "none" => Some(ErrorTolerance::None),
            "all" => Some(ErrorTolerance::All),
            _ => None,
        },
        "none or all",
    );
    let delete_enabled = parse(
        map,
        "delete.enabled",
        false,
        problems,
        parse_bool,
        "true or false",
    );
    let truncate_enabled = parse(
        map,
        "truncate.enabled",
        false,
        problems,
        parse_bool,
        "true or false",
    );
    let quote_identifiers = parse(
        map,
        "quote.identifiers",
        true,
        problems,
        parse_bool,
        "true or false",
    );
    let tasks_max = parse(
        map,
        "tasks.max",
        1,
        problems,
        |s| s.parse().ok().filter(|n| *n > 0),
        "a positive integer",
    );
    let batch_size = parse(
        map,
        "batch.size",
        DEFAULT_BATCH_SIZE,
        problems,
        |s| s.parse().ok().filter(|n| *n > 0),
        "a positive integer",
    );
    let linger_ms = parse(
        map,
        "sluice.batch.linger.ms",
        DEFAULT_LINGER_MS,
        problems,
        |s| s.parse().ok(),
        "milliseconds",
    );
    let max_inflight = parse(
        map,
        "sluice.max.inflight.records",
        batch_size,
        problems,
        |s| s.parse().ok().filter(|n| *n > 0),
        "a positive integer",
    );
    let tombstone_retention_ms = parse(
        map,
        "sluice.delete.tombstone.retention.ms",
        DEFAULT_TOMBSTONE_RETENTION_MS,
        problems,
        |s| s.parse().ok().filter(|n| *n >= 0),
        "milliseconds",
    );
    let history_retention_ms = parse(
        map,
        "sluice.offsets.history.retention.ms",
        DEFAULT_HISTORY_RETENTION_MS,
        problems,
        |s| s.parse().ok().filter(|n| *n >= 0),
        "milliseconds",
    );
    let transforms = crate::transform::parse_chain(map, problems, &mut no_effect_keys);
    let late = late_config(map, problems);
    let errors = errors_config(map, problems);
    let decode = super::converters::decode_config(map, &errors, problems, &mut no_effect_keys);
    let conflict = conflict_policy(map, problems);
    let primary_key_fields = list(map, "primary.key.fields");
    if primary_key_mode == PrimaryKeyMode::RecordValue && primary_key_fields.is_empty() {
        problems.push("primary.key.fields: required when primary.key.mode=record_value".into());
    }
    if delete_enabled && primary_key_mode != PrimaryKeyMode::RecordKey {
        problems.push("delete.enabled: requires primary.key.mode=record_key".into());
    }
    if insert_mode != InsertMode::Insert && primary_key_mode == PrimaryKeyMode::None {
        problems.push(
            format!("insert.mode: {insert_mode:?} needs a primary key (primary.key.mode is none)")
                .to_lowercase(),
        );
    }
    let table_name_format = map
        .get("collection.name.format")
        .or_else(|| map.get("table.name.format"))
        .cloned()
        .unwrap_or_else(|| "${topic}".into());
    let redacted = map
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret_key(k) {
                "[redacted]".to_string()
            } else {
                redact_url(k, v)
            };
            (k.clone(), shown)
        })
        .collect();
    Some(ConnectorConfig {
        name,
        topics: topics?,
        target: target?,
        username: map.get("connection.username").cloned(),
        password: map.get("connection.password").map(Secret::new),
        insert_mode,
        primary_key_mode,
        primary_key_fields,
        delete_enabled,
        truncate_enabled,
        schema_evolution,
        table_name_format,
        quote_identifiers,
        field_include: list(map, "field.include.list"),
        field_exclude: list(map, "field.exclude.list"),
        tasks_max,
        batch_size,
        max_poll_records: None,
        clients: ConnectorClients::default(),
        linger_ms,
        max_inflight,
        tombstone_retention_ms,
        history_retention_ms,
        errors_tolerance,
        dlq_topic: map
            .get("errors.deadletterqueue.topic.name")
            .cloned()
            .filter(|s| !s.is_empty()),
        errors,
        decode,
        transforms,
        late,
        conflict,
        no_effect_keys,
        redacted,
    })
}

fn redact_url(key: &str, value: &str) -> String {
    if key == "connection.url" {
        TargetUrl::redact(value)
    } else if key.ends_with("schema.registry.url") {
        value
            .split(',')
            .map(|url| crate::decode::strip_user_info(url.trim()).0)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        value.to_string()
    }
}

fn topic_selection(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<TopicSelection> {
    match (map.get("topics"), map.get("topics.regex")) {
        (Some(_), Some(_)) => {
            problems.push("topics, topics.regex: give one of them, not both".into());
            None
        }
        (Some(_), None) => {
            let topics = list(map, "topics");
            if topics.is_empty() {
                problems.push("topics: the list is empty".into());
            }
            Some(TopicSelection::List(topics))
        }
        (None, Some(pattern)) => match Regex::new(&format!("^(?:{pattern})$")) {
            Ok(re) => Some(TopicSelection::Regex(re)),
            Err(e) => {
                problems.push(format!("topics.regex: invalid pattern: {e}"));
                None
            }
        },
        (None, None) => {
            problems.push("topics: one of topics or topics.regex is required".into());
            None
        }
    }
}

impl ConnectorConfig {
    /// The Kafka consumer group, named as Kafka Connect names a sink's group.
    /// `consumer.override.group.id` replaces it, as in Connect.
    pub fn group_id(&self) -> String {
        self.clients
            .group_id
            .clone()
            .unwrap_or_else(|| format!("connect-{}", self.name))
    }
}
