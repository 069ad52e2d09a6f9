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
        // Source connectors (connectors/debezium-source-*.json) are Debezium's to run, not
        // sluice's: tests/live_debezium.rs checks them against the sinks and runs them.
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let class = doc["config"]["connector.class"]
            .as_str()
            .unwrap_or_default();
        if !class.is_empty() && !crate::worker::SINK_CLASSES.contains(&class) {
            continue;
        }
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
        ConnectorConfig::from_json_with(&text, "test", &|_| None, &worker)
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

fn worker_with(text: &str) -> WorkerConfig {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.properties");
    std::fs::write(&file, text).unwrap();
    WorkerConfig::load(Some(&file), &std::collections::BTreeMap::new(), &env, &[]).expect("worker")
}

fn connector_in(
    worker: &WorkerConfig,
    config: serde_json::Value,
) -> Result<ConnectorConfig, ConfigErrors> {
    let mut config = config;
    config["topics"] = "t".into();
    config["connection.url"] = "sqlite::memory:".into();
    let text = serde_json::json!({"name": "c", "config": config}).to_string();
    ConnectorConfig::from_json_with(&text, "c.json", &env, worker)
}

/// `connector.client.config.override.policy`: All (the default) takes every override, Principal
/// only the principal's keys, None nothing; a refused override names the key and the policy.
#[test]
fn client_overrides_follow_the_workers_policy() {
    let overrides = serde_json::json!({
        "consumer.override.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"c\" password=\"pw\";",
        "consumer.override.security.protocol": "SASL_PLAINTEXT",
        "consumer.override.sasl.mechanism": "PLAIN",
        "consumer.override.auto.offset.reset": "latest",
        "producer.override.acks": "1"});
    let all = connector_in(&WorkerConfig::default(), overrides.clone()).expect("All");
    assert_eq!(all.clients.consumer.len(), 4);
    assert_eq!(all.clients.producer["acks"].expose(), "1");
    let principal = worker_with("connector.client.config.override.policy=Principal\n");
    let err = connector_in(&principal, overrides.clone()).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].starts_with("consumer.override.auto.offset.reset: the 'Principal' policy"),
        "{err}"
    );
    assert!(
        err.problems[1].starts_with("producer.override.acks: the 'Principal' policy"),
        "{err}"
    );
    let mut allowed = overrides.clone();
    allowed
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k.contains("sasl") || k.contains("security"));
    let config = connector_in(&principal, allowed.clone()).expect("principal keys");
    let client = principal.client_config_for(ClientRole::Consumer, &config);
    assert_eq!(client.get("sasl.username"), Some("c"));
    let none = worker_with("connector.client.config.override.policy=None\n");
    let err = connector_in(&none, allowed).unwrap_err();
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(
        err.problems.iter().all(|p| p.contains("the 'None' policy")),
        "{err}"
    );
    assert!(!err.to_string().contains("pw\\\""), "{err}");
}

/// `consumer.override.group.id` names the consumer group (and so the checkpoint), as in Connect.
#[test]
fn a_connector_may_name_its_group() {
    let config = connector_in(
        &WorkerConfig::default(),
        serde_json::json!({"consumer.override.group.id": "legacy-group"}),
    )
    .unwrap();
    assert_eq!(config.group_id(), "legacy-group");
    let plain = connector_in(&WorkerConfig::default(), serde_json::json!({})).unwrap();
    assert_eq!(plain.group_id(), "connect-c");
}

/// A connector's placeholders expand with the worker's providers; an unresolvable one names
/// the key (and provider), and a provided value is shown only as its placeholder.
#[test]
fn connector_placeholders_use_the_workers_providers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "from-dir").unwrap();
    std::fs::write(dir.path().join("size"), "many").unwrap();
    let worker = worker_with(
        "config.providers=directory\n\
         config.providers.directory.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n",
    );
    let d = dir.path().display();
    let config = connector_in(
        &worker,
        serde_json::json!({
            "connection.password": format!("${{directory:{d}:password}}"),
            "connection.username": format!("${{directory:{d}:password}}"),
            "collection.name.format": "${topic}",
            "sluice.source.name": "${env:SLUICE_PG_PASSWORD}"}),
    )
    .unwrap();
    assert_eq!(
        config.password.as_ref().map(|p| p.expose()),
        Some("from-dir")
    );
    assert_eq!(config.table_name_format, "${topic}");
    assert_eq!(
        config.redacted["connection.username"],
        format!("${{directory:{d}:password}}")
    );
    assert_eq!(
        config.redacted["sluice.source.name"],
        "${env:SLUICE_PG_PASSWORD}"
    );
    assert!(!format!("{:?}", config.redacted).contains("from-dir"));
    let err = connector_in(
        &worker,
        serde_json::json!({
            "connection.password": format!("${{directory:{d}:nope}}"),
            "batch.size": format!("${{directory:{d}:size}}"),
            "connection.username": "${secrets:db:user}"}),
    )
    .unwrap_err();
    let all = err.problems.join("\n");
    assert_eq!(err.problems.len(), 3, "{all}");
    assert!(
        all.contains(&format!(
            "connection.password: ${{directory:{d}:nope}}: provider directory: no file nope"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "batch.size: '${{directory:{d}:size}}' is not valid"
        )),
        "{all}"
    );
    assert!(
        all.contains("connection.username: ${secrets:db:user}: unknown config provider 'secrets'"),
        "{all}"
    );
    assert!(!all.contains("many"), "{all}");
    // Without a declaration, ${directory:} is an unknown provider, never the literal text.
    let err = connector_in(
        &WorkerConfig::default(),
        serde_json::json!({"connection.password": format!("${{directory:{d}:password}}")}),
    )
    .unwrap_err();
    assert!(
        err.problems[0].contains("unknown config provider 'directory'"),
        "{err}"
    );
}
