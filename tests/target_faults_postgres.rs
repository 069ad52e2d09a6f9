//! What a real PostgreSQL refuses, and how sluice tells a record's fault from the target's:
//! a source column PostgreSQL cannot have (a system column name) is the record's fault and is
//! dead-lettered at once, not retried as if another worker had added it; a table locked by an
//! operator past `lock_timeout` is the target's passing state and is retried, never
//! dead-lettered; a deferred constraint that only fails at COMMIT is traced to its record by
//! the probes. Kafka is librdkafka's mock cluster (these are target faults).

mod support;

use rdkafka::mocking::MockCluster;
use serde_json::{json, Value as Json};
use sluice::config::ConnectorConfig;
use sluice::pipeline::PipelineError;
use std::time::{Duration, Instant};
use support::dlq::dead_letters;
use support::generate::envelope;
use support::sluice::{mock_worker, publish_keyed, run_library};

/// A connector on `topic` writing `items` into `url` with dead letters (`errors.tolerance`
/// as given) and these extra keys.
fn connector(name: &str, topic: &str, url: &str, tolerance: &str, extra: Json) -> ConnectorConfig {
    let mut config = json!({"topics": topic, "connection.url": url, "errors.tolerance": tolerance,
        "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
        "schema.evolution": "basic", "table.name.format": "items"});
    for (k, v) in extra.as_object().expect("object") {
        config[k] = v.clone();
    }
    let doc = json!({"name": name, "config": config});
    ConnectorConfig::from_json(&doc.to_string(), "test", &|_| None).expect("config")
}

/// Publishes `records` to partition 0 of a new mock topic.
async fn publish(cluster: &Cluster, topic: &str, records: &[(String, String)]) {
    cluster.create_topic(topic, 1, 1).expect("topic");
    publish_keyed(&cluster.bootstrap_servers(), topic, records).await;
}

fn create(id: i64) -> (String, String) {
    let (key, value) = envelope("c", id, Some(id), 1000 + id);
    (key, value.expect("value"))
}

/// A create whose row carries one more column, `name`.
fn create_with_column(id: i64, name: &str) -> (String, String) {
    let (key, value) = create(id);
    let mut value: Json = serde_json::from_str(&value).expect("json");
    let fields = value["schema"]["fields"][1]["fields"]
        .as_array_mut()
        .expect("after fields");
    fields.push(json!({"field": name, "type": "int32", "optional": true}));
    value["payload"]["after"][name] = json!(7);
    (key, value.to_string())
}

fn ids(database: &str) -> String {
    support::Postgres::shared().psql(
        database,
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM items",
    )
}

fn database_name(url: &str) -> String {
    url.rsplit('/').next().expect("database").to_string()
}

type Cluster = MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

/// A mock cluster, worker settings for it, and a fresh database (URL, name) set up by `ddl`.
fn setup(ddl: &str) -> (Cluster, sluice::config::WorkerConfig, String, String) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let worker = mock_worker(cluster.bootstrap_servers());
    let url = support::Postgres::database();
    let database = database_name(&url);
    support::Postgres::shared().psql(&database, ddl);
    (cluster, worker, url, database)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_column_name_is_the_records_fault_not_a_race() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let worker = mock_worker(cluster.bootstrap_servers());
    let records = vec![create(1), create_with_column(2, "xmin"), create(3)];

    // errors.tolerance=none: the connector stops at once, naming the record that carries it.
    publish(&cluster, "sys_none", &records).await;
    let url = support::Postgres::database();
    let config = connector("sys-none", "sys_none", &url, "none", json!({}));
    let started = Instant::now();
    let result = run_library(&worker, config).await;
    let Err(PipelineError::BadRecord { offset, reason, .. }) = &result else {
        panic!("expected the record to stop the connector, got {result:?}");
    };
    assert_eq!(*offset, 1, "{reason}");
    assert!(reason.contains("system column"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "retried before stopping"
    );

    // errors.tolerance=all: that record is dead-lettered, the others are applied.
    publish(&cluster, "sys_all", &records).await;
    let url = support::Postgres::database();
    let config = connector("sys-all", "sys_all", &url, "all", json!({}));
    run_library(&worker, config.clone())
        .await
        .expect("the pipeline goes on");
    assert_eq!(ids(&database_name(&url)).trim(), "1,3");
    let letters = dead_letters(&config).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].letter.record.coordinates.offset, 1);
    assert!(
        letters[0].letter.message.contains("system column"),
        "{letters:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_locked_past_lock_timeout_is_retried_not_dead_lettered() {
    let (cluster, worker, url, database) = setup(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, payload TEXT)",
    );
    let pg = support::Postgres::shared();
    // Every session of sluice gives up waiting for a lock after 200 ms (SQLSTATE 55P03).
    pg.psql(
        &database,
        &format!("ALTER DATABASE \"{database}\" SET lock_timeout = '200ms'"),
    );
    let records: Vec<(String, String)> = (1..=30).map(create).collect();
    publish(&cluster, "locked", &records).await;

    // An operator's maintenance holds the table for 4 s.
    let mut holder = std::process::Command::new(support::postgres::pg_bin().join("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port().to_string(),
            "-U",
            "postgres",
            "-d",
            &database,
        ])
        .args([
            "-c",
            "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;",
        ])
        .spawn()
        .expect("psql");
    let locked = Instant::now();
    while pg
        .psql(&database, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'items' AND l.mode = 'AccessExclusiveLock' AND l.granted")
        .trim()
        != "1"
    {
        assert!(locked.elapsed() < Duration::from_secs(10), "the lock was never taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = connector("locked", "locked", &url, "all", json!({}));
    run_library(&worker, config.clone())
        .await
        .expect("retried until the lock was released");
    assert!(holder.wait().expect("psql").success());
    let letters = dead_letters(&config).await;
    assert!(
        letters.is_empty(),
        "dead-lettered while the table was locked: {letters:?}"
    );
    let expected: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    assert_eq!(ids(&database).trim(), expected.join(","));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deferred_constraint_failing_at_commit_is_traced_to_its_record() {
    // `version` must name an existing release; the check waits for COMMIT.
    let (cluster, worker, url, database) = setup(
        "CREATE TABLE releases (version INTEGER PRIMARY KEY); \
         INSERT INTO releases SELECT generate_series(1, 20); \
         DELETE FROM releases WHERE version = 13; \
         CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT, version INTEGER NOT NULL \
           REFERENCES releases DEFERRABLE INITIALLY DEFERRED)",
    );
    let records: Vec<(String, String)> = (1..=20).map(create).collect();
    publish(&cluster, "deferred", &records).await;
    let config = connector("deferred", "deferred", &url, "all", json!({}));
    run_library(&worker, config.clone())
        .await
        .expect("the pipeline goes on");
    let letters = dead_letters(&config).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].letter.record.coordinates.offset, 12, "item 13");
    assert!(
        letters[0].letter.message.contains("foreign key"),
        "{letters:?}"
    );
    let expected: Vec<String> = (1..=20)
        .filter(|i| *i != 13)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(ids(&database).trim(), expected.join(","));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_refusing_every_record_trips_the_ratio_guard_without_probing_them_all() {
    let (cluster, worker, url, database) = setup(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, version INTEGER NOT NULL CHECK (version < 0), \
         payload TEXT)",
    );
    let records: Vec<(String, String)> = (1..=300).map(create).collect();
    publish(&cluster, "refused", &records).await;
    // The first batch must be whole (the guard judges 100 records at least): records that
    // arrived after the 5 ms default linger would start a smaller one.
    let extra = json!({"batch.size": "100", "sluice.batch.linger.ms": "2000",
        "sluice.errors.max.ratio": "0.2"});
    let config = connector("refused", "refused", &url, "all", extra);
    let rollbacks = || {
        let pg = support::Postgres::shared();
        let sql = "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()";
        pg.psql(&database, sql)
            .trim()
            .parse::<i64>()
            .expect("count")
    };
    let before = rollbacks();
    let result = run_library(&worker, config.clone()).await;
    let Err(PipelineError::TooManyErrors(message)) = &result else {
        panic!("expected the ratio guard to stop the connector, got {result:?}");
    };
    assert!(message.contains("violates check constraint"), "{message}");
    // Statistics reach pg_stat_database within a second of a session going idle.
    std::thread::sleep(Duration::from_millis(1500));
    // Every probe is a rolled-back transaction: isolating all 100 records of the first batch
    // takes about 200; the guard trips at the 21st.
    let probes = rollbacks() - before;
    assert!(probes < 80, "{probes} rolled-back transactions");
    assert!(
        dead_letters(&config).await.is_empty(),
        "committed dead letters"
    );
    assert_eq!(ids(&database).trim(), "");
}
