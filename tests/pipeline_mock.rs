//! In-process broker (librdkafka's mock cluster) + SQLite: the whole pipeline through the
//! library, fast. The demo's connector applied to the recorded corpus must equal the source
//! tables, and two workers of one connector must split the partitions (cooperative rebalance)
//! and still apply every change exactly once. Transforms: a filtered topic is checkpointed but
//! never written; a transform error stops the connector at that record.

mod support;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice::cli::demo::{demo_connector, parse_corpus, publish as publish_corpus};
use sluice::config::{ConnectorConfig, WorkerConfig};
use sluice::pipeline::{self, RunOptions};
use sluice::telemetry::{Health, Metrics};
use sqlx::{Connection, Row, SqliteConnection};
use std::time::Duration;
use support::generate::{envelope, expected, stream};
use support::{corpus_dir, Oracle};

fn worker(bootstrap: String) -> WorkerConfig {
    support::sluice::mock_worker(bootstrap)
}

async fn run(worker: WorkerConfig, config: ConnectorConfig) -> pipeline::Report {
    support::sluice::run_library(&worker, config)
        .await
        .expect("pipeline succeeded")
}

/// Both sides as text; numbers compare by value (SQLite prints 2.0 where PostgreSQL prints 2).
fn same(expected: &Option<String>, actual: &Option<String>) -> bool {
    match (expected, actual) {
        (Some(e), Some(a)) => {
            e == a || matches!((e.parse::<f64>(), a.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        }
        (None, None) => true,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_connector_applies_the_recording_to_sqlite_like_the_source() {
    let (cluster, total) = inventory_cluster().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let config = demo_with(&db, serde_json::json!({}));
    let report = run(worker(cluster.bootstrap_servers()), config).await;
    assert_eq!(report.records, total as u64);

    let oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .expect("sqlite");
    for (name, table) in &oracle.tables {
        let short = name.rsplit('.').next().unwrap_or(name);
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("CAST(\"{}\" AS TEXT)", c.name))
            .collect();
        let order: Vec<String> = table
            .primary_key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        let sql = format!(
            "SELECT {} FROM \"{short}\" ORDER BY {}",
            cols.join(", "),
            order.join(", ")
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&mut conn)
            .await
            .expect("read table");
        assert_eq!(rows.len(), table.rows.len(), "row count of {short}");
        for (row, expected) in rows.iter().zip(&table.rows) {
            for (i, column) in table.columns.iter().enumerate() {
                let actual: Option<String> = row.get(i);
                assert!(
                    same(&expected[i], &actual),
                    "{short}.{}: expected {:?}, got {actual:?}",
                    column.name,
                    expected[i]
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_split_the_partitions_and_apply_exactly_once() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let topic = support::random_name("items");
    cluster.create_topic(&topic, 4, 1).expect("topic");
    let events = stream(300, 8000);
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .expect("producer");
    let mut deliveries = Vec::new();
    for (i, (id, op, version)) in events.iter().enumerate() {
        let (key, value) = envelope(op, *id, *version, 1000 + i as i64);
        let record = FutureRecord::<str, str>::to(&topic)
            .key(&key)
            .partition((*id % 4) as i32);
        let record = match &value {
            Some(v) => record.payload(v.as_str()),
            None => record,
        };
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    for d in deliveries {
        d.await.expect("delivery").expect("delivered");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("jdbc:sqlite:{}", dir.path().join("t.db").display());
    let connector = |name: &str, mode: &str, table: &str| {
        let pk = if mode == "upsert" {
            "record_key"
        } else {
            "none"
        };
        let doc = serde_json::json!({"name": name, "config": {
            "topics": topic, "connection.url": url, "insert.mode": mode, "primary.key.mode": pk,
            "delete.enabled": (mode == "upsert").to_string(), "schema.evolution": "basic",
            "collection.name.format": table, "batch.size": "25"}});
        ConnectorConfig::from_json(&doc.to_string(), name, &|_| None).expect("config")
    };
    let bootstrap = cluster.bootstrap_servers();
    let first = tokio::spawn(run(
        worker(bootstrap.clone()),
        connector("main", "upsert", "${source.table}"),
    ));
    let first_audit = tokio::spawn(run(
        worker(bootstrap.clone()),
        connector("audit", "insert", "${source.table}_audit"),
    ));
    // The second pair joins while the first is applying: partitions are split between them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = tokio::spawn(run(
        worker(bootstrap.clone()),
        connector("main", "upsert", "${source.table}"),
    ));
    let second_audit = tokio::spawn(run(
        worker(bootstrap),
        connector("audit", "insert", "${source.table}_audit"),
    ));
    let reports = [
        first.await.unwrap(),
        second.await.unwrap(),
        first_audit.await.unwrap(),
        second_audit.await.unwrap(),
    ];
    assert!(
        reports[0].records > 0 && reports[1].records > 0,
        "both workers applied records: {} and {}",
        reports[0].records,
        reports[1].records
    );

    let (state, images) = expected(&events);
    let mut conn =
        SqliteConnection::connect(&format!("sqlite:{}", dir.path().join("t.db").display()))
            .await
            .expect("sqlite");
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, version FROM items ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("items");
    assert_eq!(
        rows.into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        state
    );
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT id || ':' || version) FROM items_audit")
            .fetch_one(&mut conn)
            .await
            .expect("audit");
    assert_eq!(
        (total, distinct),
        (images, images),
        "audit rows (total, distinct)"
    );
}

/// The inventory recording on a fresh mock cluster (one partition per topic), and the records.
async fn inventory_cluster() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    usize,
) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let text = std::fs::read_to_string(corpus_dir().join("inventory/default.json-schemas.jsonl"))
        .expect("corpus");
    let records = parse_corpus(&text).expect("corpus parses");
    let mut topics: Vec<&str> = records.iter().map(|r| r.topic.as_str()).collect();
    topics.sort();
    topics.dedup();
    for topic in topics {
        cluster.create_topic(topic, 1, 1).expect("topic");
    }
    publish_corpus(&cluster.bootstrap_servers(), &records)
        .await
        .expect("publish");
    (cluster, records.len())
}

/// The demo connector with extra config keys.
fn demo_with(db: &std::path::Path, extra: serde_json::Value) -> ConnectorConfig {
    let mut doc: serde_json::Value =
        serde_json::from_str(&demo_connector(&db.display().to_string())).expect("demo config");
    for (k, v) in extra.as_object().expect("object") {
        doc["config"][k] = v.clone();
    }
    ConnectorConfig::from_json(&doc.to_string(), "test", &|_| None).expect("config")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_topic_is_checkpointed_but_never_written() {
    let (cluster, total) = inventory_cluster().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("filtered.db");
    let config = demo_with(
        &db,
        serde_json::json!({
            "transforms": "noProducts",
            "transforms.noProducts.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.noProducts.predicate": "isProducts",
            "predicates": "isProducts",
            "predicates.isProducts.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.isProducts.pattern": ".*\\.products",
        }),
    );
    let report = run(worker(cluster.bootstrap_servers()), config).await;
    assert_eq!(report.records, total as u64);
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .expect("sqlite");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sluice_%' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    assert_eq!(tables, ["customers", "orders", "products_on_hand"]);
    // The products topic is checkpointed to its end like every other.
    let (next,): (i64,) = sqlx::query_as(
        "SELECT next_offset FROM sluice_offsets WHERE topic = 'dbserver1.public.products'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("products checkpoint");
    assert!(next > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transform_error_stops_the_connector_at_that_record() {
    let (cluster, _) = inventory_cluster().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cast.db");
    let config = demo_with(
        &db,
        serde_json::json!({
            "transforms": "toInt",
            "transforms.toInt.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.toInt.spec": "first_name:int32",
        }),
    );
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        pipeline::run(
            &worker(cluster.bootstrap_servers()),
            config,
            Metrics::new(),
            Health::default(),
            shutdown,
            RunOptions {
                stop_at_end: true,
                ..Default::default()
            },
        ),
    )
    .await
    .expect("pipeline finished in time");
    let Err(pipeline::PipelineError::BadRecord {
        topic,
        offset,
        key,
        reason,
        ..
    }) = result
    else {
        panic!("expected a bad record, got {result:?}");
    };
    assert_eq!(topic, "dbserver1.public.customers");
    assert!(key.contains("1001"), "{key}");
    assert!(
        reason.starts_with("transform toInt: field first_name: cannot cast"),
        "{reason}"
    );
    // Nothing of that partition is committed at or past the bad record.
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .expect("sqlite");
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT next_offset FROM sluice_offsets WHERE topic = 'dbserver1.public.customers'",
    )
    .fetch_optional(&mut conn)
    .await
    .ok()
    .flatten()
    .flatten();
    assert!(
        next.unwrap_or(0) <= offset,
        "checkpoint {next:?} passed offset {offset}"
    );
}
