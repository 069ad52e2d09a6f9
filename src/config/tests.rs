//! Parse tests: every file in `connectors/`, and every problem reported at once.

use super::*;
use std::path::Path;

fn env(name: &str) -> Option<String> {
    match name {
        "SLUICE_PG_PASSWORD" => Some("pw-from-env".to_string()),
        "SLUICE_REGISTRY_USER_INFO" => Some("registry:pw-from-env".to_string()),
        _ => None,
    }
}

#[test]
fn every_shipped_connector_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let config = ConnectorConfig::from_json(&text, &path.display().to_string(), &env)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!config.name.is_empty());
        assert!(
            !format!("{config:?}").contains("pw-from-env"),
            "secret leaked in Debug"
        );
        seen += 1;
    }
    assert!(seen >= 2, "expected connector files in {}", dir.display());
}

#[test]
fn every_problem_is_reported_at_once_and_names_its_key() {
    let text = r#"{"name": "x", "config": {"topics": "a", "connection.url": "jdbc:postgresql://h/db",
        "insert.mode": "merge", "batch.size": "-1", "frobnicate": "1", "delete.enabled": "true",
        "transforms": "magic", "transforms.magic.type": "com.acme.Magic"}}"#;
    let err = ConnectorConfig::from_json(text, "t.json", &env).unwrap_err();
    let all = err.problems.join("\n");
    for key in [
        "insert.mode",
        "batch.size",
        "frobnicate",
        "delete.enabled",
        "transforms.magic.type",
    ] {
        assert!(all.contains(key), "no problem names {key}:\n{all}");
    }
    assert_eq!(err.problems.len(), 5, "{all}");
}

#[test]
fn a_debezium_jdbc_sink_config_works_unchanged() {
    let text = r#"{"name": "jdbc-sink", "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector", "tasks.max": "1",
        "connection.url": "jdbc:postgresql://localhost:5432/db", "connection.username": "u",
        "connection.password": "secret", "insert.mode": "upsert", "delete.enabled": "true",
        "primary.key.mode": "record_key", "schema.evolution": "basic", "use.time.zone": "UTC",
        "topics": "server1.public.t", "collection.name.format": "${topic}", "hibernate.c3p0.max_size": "5"}}"#;
    let config = ConnectorConfig::from_json(text, "t.json", &env).unwrap();
    assert_eq!(config.group_id(), "connect-jdbc-sink");
    assert_eq!(config.insert_mode, InsertMode::Upsert);
    assert_eq!(
        config.no_effect_keys,
        vec![
            "hibernate.c3p0.max_size".to_string(),
            "use.time.zone".to_string()
        ]
    );
    assert_eq!(config.redacted["connection.password"], "[redacted]");
}

#[test]
fn a_confluent_jdbc_sink_config_is_translated() {
    let text = r#"{"name": "c", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": "jdbc:postgresql://localhost:5432/db", "connection.user": "u",
        "topics": "a", "pk.mode": "record_key", "pk.fields": "id", "insert.mode": "upsert",
        "delete.enabled": "true", "auto.create": "true", "auto.evolve": "false",
        "quote.sql.identifiers": "never", "db.timezone": "UTC", "fields.whitelist": "id,name",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.drop.tombstones": "false",
        "transforms.unwrap.delete.handling.mode": "rewrite"}}"#;
    let config = ConnectorConfig::from_json(text, "c.json", &env).unwrap();
    assert_eq!(config.primary_key_mode, PrimaryKeyMode::RecordKey);
    assert_eq!(config.primary_key_fields, ["id"]);
    assert_eq!(config.username.as_deref(), Some("u"));
    assert_eq!(config.schema_evolution, SchemaEvolution::Basic);
    assert!(!config.quote_identifiers);
    assert_eq!(config.field_include, ["id", "name"]);
    assert!(!config.transforms.is_empty());
    for key in ["db.timezone", "transforms.unwrap.drop.tombstones"] {
        assert!(config.no_effect_keys.iter().any(|k| k == key), "{key}");
    }
    // Both names of one setting is a problem; both auto.* false means no evolution.
    let both = text.replace(
        r#""pk.fields": "id","#,
        r#""pk.fields": "id", "primary.key.mode": "kafka","#,
    );
    let err = ConnectorConfig::from_json(&both, "c.json", &env).unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.starts_with("pk.mode: give pk.mode or primary.key.mode")),
        "{err}"
    );
    let off = text.replace(r#""auto.create": "true""#, r#""auto.create": "false""#);
    let config = ConnectorConfig::from_json(&off, "c.json", &env).unwrap();
    assert_eq!(config.schema_evolution, SchemaEvolution::None);
}

#[test]
fn late_data_settings() {
    let with = |extra: &str| {
        let text = format!(
            r#"{{"name": "l", "config": {{"topics": "a", "connection.url": "jdbc:sqlite:x.db" {extra}}}}}"#
        );
        ConnectorConfig::from_json(&text, "l.json", &env)
    };
    let off = with("").unwrap().late;
    assert_eq!((off.tolerance_ms, off.clock_skew_max_ms), (None, None));
    let on = with(r#", "sluice.late.tolerance.ms": "5000", "sluice.clock.skew.max.ms": "0", "sluice.late.policy": "drop""#)
        .unwrap()
        .late;
    assert_eq!(
        (on.tolerance_ms, on.clock_skew_max_ms),
        (Some(5000), Some(0))
    );
    assert_eq!(on.policy, crate::resolve::late::LatePolicy::Drop);
    let dead = with(r#", "sluice.late.policy": "dead_letter""#)
        .unwrap()
        .late;
    assert_eq!(dead.policy, crate::resolve::late::LatePolicy::DeadLetter);
    for (extra, key) in [
        (
            r#", "sluice.late.policy": "dead_lettter""#,
            "sluice.late.policy",
        ),
        (
            r#", "sluice.late.tolerance.ms": "-1""#,
            "sluice.late.tolerance.ms",
        ),
    ] {
        let err = with(extra).unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.starts_with(key)),
            "{extra}: {err}"
        );
    }
}

#[test]
fn conflict_settings() {
    let with = |extra: &str| {
        let text = format!(
            r#"{{"name": "c", "config": {{"topics": "a", "connection.url": "jdbc:sqlite:x.db" {extra}}}}}"#
        );
        ConnectorConfig::from_json(&text, "c.json", &env)
    };
    let off = with("").unwrap().conflict;
    assert_eq!((off.strategy, off.source_name), (None, None));
    let on = with(
        r#", "sluice.source.name": "crm", "sluice.conflict.strategy": "last_write_wins",
        "sluice.conflict.source.priority": "crm, legacy", "sluice.conflict.window.ms": "1000",
        "sluice.conflict.field.email": "source_priority", "sluice.conflict.field.score": "max""#,
    )
    .unwrap()
    .conflict;
    assert_eq!(on.source_name.as_deref(), Some("crm"));
    assert_eq!(on.priority, ["crm", "legacy"]);
    assert_eq!(on.window_ms, 1000);
    assert_eq!(on.fields.len(), 2);
    for (extra, key) in [
        (
            r#", "sluice.conflict.strategy": "newest""#,
            "sluice.conflict.strategy",
        ),
        (
            r#", "sluice.conflict.strategy": "last_write_wins", "sluice.conflict.field.email": "loudest""#,
            "sluice.conflict.field.email",
        ),
        (
            r#", "sluice.conflict.strategy": "last_write_wins", "sluice.conflict.field.email": "manual_review""#,
            "sluice.conflict.field.email",
        ),
        (
            r#", "sluice.conflict.field.email": "max""#,
            "sluice.conflict.strategy",
        ),
        (
            r#", "sluice.conflict.strategy": "source_priority""#,
            "sluice.conflict.source.priority",
        ),
        (
            r#", "sluice.conflict.window.ms": "soon""#,
            "sluice.conflict.window.ms",
        ),
    ] {
        let err = with(extra).unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.starts_with(key)),
            "{extra}: {err}"
        );
    }
}

/// A worker file's converters are the defaults of every connector that sets none, as in a
/// Kafka Connect worker.
#[test]
fn worker_converters_are_connector_defaults() {
    let flags = std::collections::BTreeMap::from([
        (
            "value.converter".to_string(),
            "io.confluent.connect.avro.AvroConverter".to_string(),
        ),
        (
            "value.converter.schema.registry.url".to_string(),
            "http://registry:8081".to_string(),
        ),
        (
            "key.converter".to_string(),
            "org.apache.kafka.connect.json.JsonConverter".to_string(),
        ),
        (
            "key.converter.schemas.enable".to_string(),
            "false".to_string(),
        ),
    ]);
    let worker = WorkerConfig::load(None, &flags, &|_| None, &[]).expect("worker");
    let connector = |config: serde_json::Value| {
        let text = serde_json::json!({"name": "c", "config": config}).to_string();
        ConnectorConfig::from_json_with(&text, "test", &|_| None, &worker.converters)
    };
    let base = serde_json::json!({"topics": "t", "connection.url": "sqlite::memory:"});
    // Nothing set in the connector: the worker's converters and their settings.
    let config = connector(base.clone()).expect("connector");
    assert!(config.decode.value_avro.is_some());
    assert!(config.decode.key_avro.is_none());
    assert!(!config.decode.key_schemas_enable);
    // The connector's own sub-key wins over the worker's.
    let mut own = base.clone();
    own["key.converter.schemas.enable"] = "true".into();
    assert!(connector(own).expect("connector").decode.key_schemas_enable);
    // A connector with its own converter takes none of the worker's settings for that side.
    let mut json = base.clone();
    json["value.converter"] = "org.apache.kafka.connect.json.JsonConverter".into();
    let config = connector(json).expect("connector");
    assert!(config.decode.value_avro.is_none());
    assert!(config.decode.value_schemas_enable);
    // Without a worker, the connector keeps JsonConverter with schemas.
    let plain = ConnectorConfig::from_json(
        &serde_json::json!({"name": "c", "config": base}).to_string(),
        "test",
        &|_| None,
    )
    .expect("connector");
    assert!(plain.decode.value_avro.is_none() && plain.decode.key_schemas_enable);
}
