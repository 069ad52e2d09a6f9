//! Faults of the AvroConverter path, with real components (tansu, PostgreSQL, the sluice
//! binary) and the registry fixture:
//!
//! * the registry is down when sluice starts: it retries with backoff, applies nothing, and
//!   once the registry is back applies everything exactly as the source tables;
//! * bad Avro records among the good ones (JSON given to the AvroConverter, a schema id the
//!   registry does not have, a cut-off payload) go to the dead-letter path with the reason;
//! * refused registry credentials stop the connector with a clear error, no secret printed.

mod support;

use rdkafka::consumer::{BaseConsumer, Consumer};
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use support::poison::Record;
use support::sluice::{connector_file, run_until_applied, spawn_run, wait, worker_file};
use support::{
    avro_converter_keys, corpus_dir, publish_jsonl, random_name, Oracle, Postgres, RegistryFixture,
    Tansu,
};

const AUTH: &str = "sluice:s3cret";

fn connector(prefix: &str, url: &str, registry: &str, auth: &str) -> serde_json::Value {
    let mut config = serde_json::json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics.regex": format!("{prefix}\\.dbserver1\\.public\\..*"),
        "connection.url": url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "truncate.enabled": "true",
        "schema.evolution": "basic",
        "collection.name.format": "${source.table}",
        "batch.size": "40",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": format!("{prefix}-dlq"),
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.retry.delay.max.ms": "1000",
    });
    for (k, v) in avro_converter_keys(registry, Some(auth)) {
        config[k] = v.into();
    }
    config
}

/// Three bad records for the customers topic, made from a good one: JSON instead of Avro, an
/// unknown schema id, and a payload cut in half.
fn poison(good_key: &[u8], good_value: &[u8]) -> Vec<Record> {
    let record = |value: Vec<u8>| Record {
        key: Some(good_key.to_vec()),
        value: Some(value),
        headers: Vec::new(),
        bad: None,
    };
    let mut unknown = good_value.to_vec();
    unknown[1..5].copy_from_slice(&4242u32.to_be_bytes());
    vec![
        record(br#"{"schema":null,"payload":{"op":"c"}}"#.to_vec()),
        record(unknown),
        record(good_value[..good_value.len() / 2].to_vec()),
    ]
}

/// The first record of a topic (key, value), read back from the broker.
fn first_record(bootstrap: &str, topic: &str) -> (Vec<u8>, Vec<u8>) {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", random_name("peek"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            use rdkafka::Message;
            return (m.key().unwrap().to_vec(), m.payload().unwrap().to_vec());
        }
    }
    panic!("no record on {topic}");
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_outage_is_waited_out_and_bad_avro_is_dead_lettered() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join("inventory/default.avro.jsonl");
    let published =
        publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let customers = format!("{prefix}.dbserver1.public.customers");
    let (key, value) = first_record(&tansu.bootstrap(), &customers);
    support::dlq::publish_records(&tansu.bootstrap(), &customers, &poison(&key, &value)).await;
    let mut ends = support::sluice::ends(&published, |t| t.contains(".public."));
    *ends.get_mut(&(customers.clone(), 0)).expect("customers") += 3;

    let registry = RegistryFixture::with_dump(
        &corpus_dir().join("inventory/default.avro.registry.json"),
        Some(AUTH),
    );
    registry.set_down(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        &random_name("avro"),
        connector(&prefix, &url, &registry.url(), AUTH),
    );
    // Bring the registry back once sluice has asked it a few times (and been refused).
    let watcher = std::thread::spawn({
        let shared = std::sync::Arc::new(registry);
        let handle = shared.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while handle.requests() < 4 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let asked_while_down = handle.requests();
            std::thread::sleep(Duration::from_secs(2));
            handle.set_down(false);
            (asked_while_down, shared)
        }
    });
    let log = run_until_applied(dir.path(), &worker, &[&connector], &url, &ends).await;
    let (asked_while_down, registry) = watcher.join().expect("watcher");
    assert!(
        asked_while_down >= 4,
        "sluice asked the registry {asked_while_down} times"
    );
    assert!(
        log.contains("schema registry unavailable; retrying"),
        "no retry in the log:\n{log}"
    );
    assert!(
        !log.contains("s3cret"),
        "the registry password reached the log"
    );
    assert!(registry.schema_lookups() <= 20, "schemas are cached");

    let oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let letters: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT kafka_offset, stage, class_name, exception_message FROM sluice_dead_letters \
         WHERE topic = $1 ORDER BY kafka_offset",
    )
    .bind(&customers)
    .fetch_all(&mut conn)
    .await
    .expect("dead letters");
    let first_bad = ends[&(customers.clone(), 0)] - 3;
    assert_eq!(
        letters.iter().map(|l| l.0).collect::<Vec<_>>(),
        [first_bad, first_bad + 1, first_bad + 2],
        "{letters:?}"
    );
    for (_, stage, class, _) in &letters {
        assert_eq!(stage, "decode");
        assert_eq!(class, "io.confluent.connect.avro.AvroConverter");
    }
    assert!(letters[0].3.contains("magic byte"), "{letters:?}");
    assert!(
        letters[1]
            .3
            .contains("schema id 4242 is not in the schema registry"),
        "{letters:?}"
    );
    assert!(letters[2].3.contains("corrupt"), "{letters:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_registry_credentials_stop_the_connector() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join("inventory/default.avro.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let registry = RegistryFixture::with_dump(
        &corpus_dir().join("inventory/default.avro.registry.json"),
        Some(AUTH),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        &random_name("avro"),
        connector(&prefix, &url, &registry.url(), "sluice:wr0ng-pa55"),
    );
    let mut child = spawn_run(dir.path(), &worker, &[&connector], true, "run.log");
    let log_path = dir.path().join("run.log");
    let status = wait(&mut child, Duration::from_secs(90), &log_path);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!status.success(), "sluice exited 0:\n{log}");
    assert!(
        log.contains("schema registry refused the credentials"),
        "no clear error:\n{log}"
    );
    assert!(!log.contains("wr0ng-pa55"), "the password reached the log");
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let letters: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM sluice_dead_letters")
        .fetch_one(&mut conn)
        .await
        .ok();
    assert!(
        letters.unwrap_or(0) == 0,
        "refused credentials are not the records' fault"
    );
}
