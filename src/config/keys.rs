//! The config keys a connector may use, and how unknown keys are judged.
//!
//! A Debezium JDBC sink connector config must work unchanged, so every key that connector
//! documents is known here. Keys that only make sense inside a JVM (Hibernate, c3p0 pools) are
//! accepted and reported as having no effect; anything else is an error naming the key.

/// Keys sluice reads and honours.
pub const SUPPORTED: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "topics",
    "topics.regex",
    "connection.url",
    "connection.username",
    "connection.password",
    "insert.mode",
    "primary.key.mode",
    "primary.key.fields",
    "delete.enabled",
    "truncate.enabled",
    "schema.evolution",
    "collection.name.format",
    "table.name.format",
    "field.include.list",
    "field.exclude.list",
    "quote.identifiers",
    "batch.size",
    "errors.tolerance",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "errors.deadletterqueue.context.headers.enable",
    "errors.log.enable",
    "errors.log.include.messages",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "transforms",
    "predicates",
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
    "header.converter",
    "key.converter.schema.registry.url",
    "value.converter.schema.registry.url",
];

/// sluice's own keys (the `sluice.` prefix).
pub const SLUICE: &[&str] = &[
    "sluice.batch.linger.ms",
    "sluice.clock.skew.max.ms",
    "sluice.connection.sslcert",
    "sluice.connection.sslkey",
    "sluice.connection.sslmode",
    "sluice.connection.sslrootcert",
    "sluice.conflict.source.priority",
    "sluice.conflict.strategy",
    "sluice.conflict.window.ms",
    "sluice.delete.tombstone.retention.ms",
    "sluice.errors.max.ratio",
    "sluice.errors.window.records",
    "sluice.late.policy",
    "sluice.late.tolerance.ms",
    "sluice.max.inflight.records",
    "sluice.offsets.history.retention.ms",
    "sluice.source.name",
];

/// Keys of the Debezium JDBC sink that configure its JVM internals; accepted, without effect.
pub const NO_EFFECT: &[&str] = &[
    "connection.provider",
    "connection.pool.min_size",
    "connection.pool.max_size",
    "connection.pool.acquire_increment",
    "connection.pool.timeout",
    "connection.restart.on.errors",
    "database.time_zone",
    "use.time.zone",
    "use.reduction.buffer",
    "column.naming.strategy",
    "collection.naming.strategy",
    "table.naming.strategy",
    "dialect.postgres.postgis.schema",
    "dialect.sqlserver.identity.insert",
    "flush.max.retries",
    "flush.retry.delay.ms",
    "postgres.postgis.schema",
];

/// Prefixes whose keys belong to another component (transform and predicate settings are
/// validated with their transform; converter sub-settings by the converter).
pub const PREFIXES: &[&str] = &[
    "transforms.",
    "predicates.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "hibernate.",
    "sluice.conflict.field.",
    // Kafka client overrides, judged with the worker's override policy (`overrides.rs`).
    "consumer.override.",
    "producer.override.",
    "admin.override.",
];

/// How a key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Read and honoured.
    Supported,
    /// Accepted for compatibility; it changes nothing in sluice.
    NoEffect,
    /// Not a key sluice or the Debezium JDBC sink knows.
    Unknown,
}

/// Classifies a config key.
pub fn classify(key: &str) -> KeyKind {
    if SUPPORTED.contains(&key) || SLUICE.contains(&key) || super::confluent::is_translated(key) {
        KeyKind::Supported
    } else if NO_EFFECT.contains(&key)
        || key.starts_with("hibernate.")
        || super::confluent::NO_EFFECT.contains(&key)
    {
        KeyKind::NoEffect
    } else if PREFIXES.iter().any(|p| key.starts_with(p)) {
        KeyKind::Supported
    } else {
        KeyKind::Unknown
    }
}
