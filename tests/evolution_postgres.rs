//! Schema evolution with real components: the corpus `evolution` scenario (real Debezium output
//! of a table altered mid-stream: ADD COLUMN, ADD COLUMN NOT NULL DEFAULT, integer to bigint,
//! numeric(8,2) to numeric(12,2), varchar(20) to varchar(40)) applied by one `sluice run`,
//! without restart, to PostgreSQL with `schema.evolution=basic`; and the changes sluice must
//! refuse (a column's kind, the primary key): with `errors.tolerance=none` they stop the
//! connector with an error naming them, with `all` the records are dead-lettered with the
//! reason while the other tables keep applying.

mod support;

use sqlx::{Connection, PgConnection};
use std::time::Duration;
use support::sluice::{connector_file, run_until_applied, spawn_run, wait, worker_file};
use support::{
    avro_converter_keys, corpus_dir, publish_jsonl, random_name, Oracle, Postgres, RegistryFixture,
    Tansu,
};

fn scenario() -> std::path::PathBuf {
    corpus_dir().join("evolution")
}

fn connector(prefix: &str, url: &str) -> serde_json::Value {
    serde_json::json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics": format!("{prefix}.dbserver1.public.items"),
        "connection.url": url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "schema.evolution": "basic",
        "collection.name.format": "${source.table}",
        "batch.size": "3",
    })
}

/// Applies one recorded run with a single `sluice run`; returns the target URL and the log.
async fn apply(run: &str) -> (String, String) {
    apply_with(run, serde_json::json!({})).await
}

/// [`apply`] with more connector settings.
async fn apply_with(run: &str, settings: serde_json::Value) -> (String, String) {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = scenario().join(format!("events/{run}.jsonl"));
    let published =
        publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let registry = run.ends_with(".avro").then(|| {
        RegistryFixture::with_dump(
            &scenario().join(format!("events/{run}.registry.json")),
            None,
        )
    });
    let mut config = connector(&prefix, &url);
    for (k, v) in settings.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    if let Some(registry) = &registry {
        for (k, v) in avro_converter_keys(&registry.url(), None) {
            config[k] = v.into();
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(dir.path(), &random_name("evolve"), config);
    let ends = support::sluice::ends(&published, |t| t.ends_with(".items"));
    let log = run_until_applied(dir.path(), &worker, &[&connector], &url, &ends).await;
    (url, log)
}

/// The target's column types of `items`, as `name type [not null]`.
async fn columns(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query_scalar(
        "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
         FROM pg_attribute a WHERE a.attrelid = 'public.items'::regclass \
         AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns")
}

fn assert_evolution_logged(log: &str) {
    // The log may be coloured.
    let log = &regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(log, "");
    for change in ["create_table", "add_column", "widen_column"] {
        assert!(
            log.contains(&format!("change=\"{change}\""))
                || log.contains(&format!("change={change}")),
            "no {change} in the log:\n{log}"
        );
    }
    assert!(
        log.contains("old_type=integer") && log.contains("new_type=bigint"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn columns_added_and_widened_mid_stream_equal_the_source() {
    // `propagate` carries the source column types, so the varchar length is known too.
    let (url, log) = apply("propagate.json-schemas").await;
    let oracle = Oracle::load(scenario().join("oracle/final.json"));
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
    assert_eq!(
        columns(&url).await,
        [
            "id integer not null",
            "name character varying(40) not null",
            "qty bigint",
            "price numeric(12,2)",
            "note text",
            "active boolean not null",
        ]
    );
    assert_evolution_logged(&log);
}

/// The whole stream in one batch: changes from before `ADD COLUMN active NOT NULL DEFAULT true`
/// (which lack the column) meet changes after it, so the table is created with, or given, the
/// required column before the older changes are written. They must get the column's default,
/// as the source's rows did, and never fail on the NOT NULL. (A batch that straddles the ALTER
/// happens whenever records arrive together: the linger cuts batches by timing.)
#[tokio::test(flavor = "multi_thread")]
async fn changes_from_before_a_required_column_in_its_batch_get_its_default() {
    let (url, _) = apply_with(
        "propagate.json-schemas",
        serde_json::json!({"batch.size": "1000", "sluice.batch.linger.ms": "3000"}),
    )
    .await;
    let oracle = Oracle::load(scenario().join("oracle/final.json"));
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
    assert!(
        columns(&url)
            .await
            .contains(&"active boolean not null".to_string()),
        "{:?}",
        columns(&url).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_schema_versions_mid_stream_equal_the_source() {
    // Five value schema ids in one stream, each fetched from the registry when first seen.
    let (url, log) = apply("default.avro").await;
    let oracle = Oracle::load(scenario().join("oracle/final.json"));
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
    let columns = columns(&url).await;
    assert!(columns.contains(&"qty bigint".to_string()), "{columns:?}");
    assert!(
        columns.contains(&"price numeric(12,2)".to_string()),
        "{columns:?}"
    );
    assert!(
        columns.contains(&"active boolean not null".to_string()),
        "{columns:?}"
    );
    assert_evolution_logged(&log);
}

/// Runs the default JSON recording against a target where `items` already exists as `ddl`
/// says; sluice must stop with an error containing every `expected` text.
async fn refused(ddl: &str, expected: &[&str]) {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(ddl).execute(&mut conn).await.expect("ddl");
    let prefix = random_name("t");
    let events = scenario().join("events/default.json-schemas.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let mut config = connector(&prefix, &url);
    config["errors.tolerance"] = "none".into();
    let connector = connector_file(dir.path(), &random_name("refuse"), config);
    let mut child = spawn_run(dir.path(), &worker, &[&connector], true, "run.log");
    let log_path = dir.path().join("run.log");
    let status = wait(&mut child, Duration::from_secs(90), &log_path);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!status.success(), "sluice exited 0:\n{log}");
    for text in expected {
        assert!(log.contains(text), "no {text:?} in the log:\n{log}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(
        rows, 0,
        "nothing may be written into a table that cannot follow"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_kind_or_of_primary_key_stops_the_connector_under_tolerance_none() {
    refused(
        "CREATE TABLE items (id integer PRIMARY KEY, name integer, qty integer, price numeric(8,2))",
        &["table items: column \"name\" is integer and the events now carry text"],
    )
    .await;
    refused(
        "CREATE TABLE items (id integer, name varchar(20), qty integer, price numeric(8,2), \
         PRIMARY KEY (id, name))",
        &["table items: the primary key changed from (id, name) to (id)"],
    )
    .await;
}

/// `errors.tolerance=all`: the inventory recording against a target whose `customers` table
/// has another primary key (id, email). Every customers record is dead-lettered with the
/// reason, and every other table equals the source.
#[tokio::test(flavor = "multi_thread")]
async fn records_whose_key_differs_from_the_tables_are_dead_lettered_under_tolerance_all() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE customers (id integer, first_name varchar(255), last_name varchar(255), \
         email varchar(255), PRIMARY KEY (id, email))",
    )
    .execute(&mut conn)
    .await
    .expect("ddl");
    let prefix = random_name("t");
    let events = support::corpus_events("inventory", "default.json-schemas.jsonl");
    let published =
        publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let mut config = connector(&prefix, &url);
    config.as_object_mut().expect("object").remove("topics");
    config["topics.regex"] = format!("{prefix}\\..*").into();
    config["truncate.enabled"] = "true".into();
    config["batch.size"] = "40".into();
    config["errors.tolerance"] = "all".into();
    config["sluice.errors.max.ratio"] = "0.9".into();
    let connector = connector_file(dir.path(), &random_name("key"), config);
    let ends = support::sluice::ends(&published, |_| true);
    run_until_applied(dir.path(), &worker, &[&connector], &url, &ends).await;
    let letters: Vec<(String, String)> =
        sqlx::query_as("SELECT topic, exception_message FROM sluice_dead_letters")
            .fetch_all(&mut conn)
            .await
            .expect("dead letters");
    let customers = published
        .per_topic
        .iter()
        .find(|(t, _)| t.ends_with(".customers"))
        .map(|(_, n)| *n)
        .expect("customers topic");
    assert!(!letters.is_empty(), "nothing was dead-lettered");
    for (topic, message) in &letters {
        assert!(topic.ends_with(".customers"), "{topic}: {message}");
        assert!(
            message.contains("the primary key changed from (id, email) to (id)"),
            "{message}"
        );
    }
    assert!(letters.len() <= customers);
    let mut oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    oracle.tables.remove("public.customers");
    support::assert_pg_matches(&url, &oracle, |n| n.to_string()).await;
}
