//! Parse tests: every file in `connectors/`, and every problem reported at once.

use super::*;
use std::path::Path;

fn env(name: &str) -> Option<String> {
    (name == "SLUICE_PG_PASSWORD").then(|| "pw-from-env".to_string())
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
        "transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"}}"#;
    let err = ConnectorConfig::from_json(text, "t.json", &env).unwrap_err();
    let all = err.problems.join("\n");
    for key in [
        "insert.mode",
        "batch.size",
        "frobnicate",
        "delete.enabled",
        "transforms.unwrap.type",
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
