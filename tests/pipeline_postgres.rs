//! Real components: recorded Debezium events published to a real Kafka-protocol broker (tansu),
//! applied by the sluice binary to a real PostgreSQL, compared with the source tables' oracle.

mod support;

use std::time::Duration;
use support::sluice::{connector_file, run_to_end, worker_file};
use support::{corpus_dir, publish_jsonl, random_name, Oracle, Postgres, Tansu};

/// Creates the oracle's tables (columns, types, primary key; no foreign keys) in the target, as
/// an operator does before running a sink on schemaless events.
async fn create_tables(url: &str, oracle: &Oracle) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    for (name, table) in &oracle.tables {
        let short = name.rsplit('.').next().unwrap_or(name);
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("\"{}\" {}", c.name, c.type_))
            .collect();
        let pk: Vec<String> = table
            .primary_key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        let sql = format!(
            "CREATE TABLE \"{short}\" ({}, PRIMARY KEY ({}))",
            cols.join(", "),
            pk.join(", ")
        );
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .expect("create table");
    }
}

/// Publishes one recorded run, applies it with `sluice run --stop-at-end`, and returns the
/// target URL and the oracle of the scenario's final checkpoint.
async fn apply_recording(scenario: &str, file: &str, schemas: bool) -> (String, Oracle) {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join(scenario).join(file);
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let oracle = Oracle::load(corpus_dir().join(scenario).join("oracle/final.json"));
    if !schemas {
        create_tables(&url, &oracle).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        &random_name("sink"),
        serde_json::json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "topics.regex": format!("{prefix}\\..*"),
            "connection.url": format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1)),
            "insert.mode": "upsert",
            "primary.key.mode": "record_key",
            "delete.enabled": "true",
            "truncate.enabled": "true",
            "schema.evolution": if schemas { "basic" } else { "none" },
            "collection.name.format": "${source.table}",
            "key.converter.schemas.enable": schemas.to_string(),
            "value.converter.schemas.enable": schemas.to_string(),
            "batch.size": "40",
        }),
    );
    let log = run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    assert!(
        log.contains("records read"),
        "no report in the output:\n{log}"
    );
    (url, oracle)
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_with_schemas_equals_the_source_tables() {
    let (url, oracle) = apply_recording("inventory", "default.json-schemas.jsonl", true).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_without_schemas_into_existing_tables_equals_the_source_tables() {
    let (url, oracle) = apply_recording("inventory", "default.json-noschemas.jsonl", false).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn toast_placeholders_keep_the_stored_values() {
    // Includes a primary-key change under REPLICA IDENTITY DEFAULT whose new row arrives with
    // placeholders: the unchanged TOAST columns are carried over from the old key's row.
    let (url, oracle) = apply_recording("toast", "default.json-schemas.jsonl", true).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn toast_without_schemas_into_existing_tables_equals_the_source_tables() {
    let (url, oracle) = apply_recording("toast", "default.json-noschemas.jsonl", false).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}
