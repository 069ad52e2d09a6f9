//! The operator commands against real components: `validate`, `offsets show|reset` (replay,
//! and a reset made with Kafka's own tools), and a bad record stopping the connector.

mod support;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::PathBuf;
use std::time::Duration;
use support::sluice::{command, connector_file, run_to_end, worker_file};
use support::{corpus_dir, publish_jsonl, random_name, Oracle, Postgres, Tansu};

struct World {
    tansu: Tansu,
    url: String,
    prefix: String,
    dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    name: String,
}

/// The inventory recording on a fresh broker topic set, and a connector for it.
async fn world() -> World {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join("inventory/default.json-schemas.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let name = random_name("sink");
    let connector = connector_file(
        dir.path(),
        &name,
        serde_json::json!({
        "topics": format!("{prefix}.dbserver1.public.customers,{prefix}.dbserver1.public.products"),
        "connection.url": url, "insert.mode": "upsert", "primary.key.mode": "record_key",
        "delete.enabled": "true", "schema.evolution": "basic", "collection.name.format": "${source.table}"}),
    );
    World {
        tansu,
        url,
        prefix,
        dir,
        worker,
        connector,
        name,
    }
}

async fn query(url: &str, sql: &str) -> Vec<(String, i64)> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    sqlx::query_as(sql)
        .fetch_all(&mut conn)
        .await
        .expect("query")
}

fn customers_oracle() -> Oracle {
    let mut oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    oracle
        .tables
        .retain(|name, _| name.ends_with("customers") || name.ends_with("products"));
    oracle
}

fn run(w: &World) -> String {
    run_to_end(
        w.dir.path(),
        &w.worker,
        &[&w.connector],
        Duration::from_secs(120),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_show_and_reset_replay_without_moving_rows_backwards() {
    let w = world().await;
    run(&w);
    let oracle = customers_oracle();
    support::assert_pg_matches(&w.url, &oracle, |n| n.to_string()).await;
    let customers = format!("{}.dbserver1.public.customers", w.prefix);

    let (code, shown) = command(&[&"offsets", &"show", &"--worker", &w.worker, &w.connector]);
    assert_eq!(code, 0, "{shown}");
    let line = shown
        .lines()
        .find(|l| l.contains(&format!("{customers}/0")))
        .unwrap_or_else(|| panic!("no customers row:\n{shown}"));
    let numbers: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert_eq!(
        &numbers[..2],
        ["19", "19"],
        "checkpoint and group offset of customers/0:\n{shown}"
    );

    let (code, plan) = command(&[
        &"offsets",
        &"reset",
        &"--to-earliest",
        &"--dry-run",
        &"--worker",
        &w.worker,
        &w.connector,
    ]);
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains(&format!("{customers}/0: 19 -> 0")), "{plan}");
    let next = query(
        &w.url,
        "SELECT topic, next_offset FROM sluice_offsets WHERE kafka_partition = 0 ORDER BY topic",
    )
    .await;
    assert!(
        next.iter().all(|(_, n)| *n > 0),
        "a dry run changed the checkpoint: {next:?}"
    );

    let (code, out) = command(&[
        &"offsets",
        &"reset",
        &"--to-earliest",
        &"--worker",
        &w.worker,
        &w.connector,
    ]);
    assert_eq!(code, 0, "{out}");
    let next = query(
        &w.url,
        "SELECT topic, next_offset FROM sluice_offsets WHERE kafka_partition = 0 ORDER BY topic",
    )
    .await;
    assert!(
        next.iter().all(|(_, n)| *n == 0),
        "reset did not move the checkpoint: {next:?}"
    );
    let resets = query(&w.url, "SELECT reason, count(*) FROM sluice_offsets_history WHERE reason = 'reset' GROUP BY reason").await;
    assert_eq!(resets, vec![("reset".to_string(), 8)]);

    // Replay from the beginning: older events are skipped by the version guard, the final
    // state is unchanged.
    let log = run(&w);
    assert!(log.contains("records read"), "{log}");
    support::assert_pg_matches(&w.url, &oracle, |n| n.to_string()).await;
    let skipped = log
        .lines()
        .find(|l| l.starts_with("customers"))
        .unwrap_or_default()
        .to_string();
    assert!(
        !skipped.trim_end().ends_with(" 0"),
        "replay skipped no stale change: {skipped}"
    );

    // Explicit offsets.
    let spec = format!("{customers}:0:15");
    let (code, out) = command(&[
        &"offsets",
        &"reset",
        &"--to-offset",
        &spec,
        &"--worker",
        &w.worker,
        &w.connector,
    ]);
    assert_eq!(code, 0, "{out}");
    let next = query(
        &w.url,
        &format!("SELECT topic, COALESCE(next_offset, 0) FROM sluice_offsets WHERE topic = '{customers}' AND kafka_partition = 0"),
    )
    .await;
    assert_eq!(next, vec![(customers.clone(), 15)]);
}

/// Commits a group offset the way Kafka's own tools do (no sluice involved).
fn kafka_tool_reset(bootstrap: &str, group: &str, topic: &str, offset: i64) {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("tpl");
    consumer.commit(&list, CommitMode::Sync).expect("commit");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_made_with_kafka_tools_while_stopped_is_honoured() {
    let w = world().await;
    let customers = format!("{}.dbserver1.public.customers", w.prefix);
    run(&w);
    kafka_tool_reset(
        &w.tansu.bootstrap(),
        &format!("connect-{}", w.name),
        &customers,
        11,
    );
    let log = run(&w);
    assert!(
        log.contains("reset outside sluice"),
        "the external reset was not detected:\n{log}"
    );
    // Offsets 11..19 of customers were read again (products were not reset).
    let report = log
        .lines()
        .find(|l| l.contains("records read"))
        .unwrap_or_default();
    assert!(
        report.contains(": 8 records read"),
        "expected exactly the 8 replayed records: {report}"
    );
    support::assert_pg_matches(&w.url, &customers_oracle(), |n| n.to_string()).await;
    let history = query(
        &w.url,
        "SELECT reason, new_offset FROM sluice_offsets_history WHERE reason = 'external_reset'",
    )
    .await;
    assert_eq!(history, vec![("external_reset".to_string(), 11)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_lists_every_problem_and_accepts_a_good_config() {
    let w = world().await;
    let (code, out) = command(&[&"validate", &"--worker", &w.worker, &w.connector]);
    assert_eq!(code, 0, "{out}");
    let bad = connector_file(
        w.dir.path(),
        "bad",
        serde_json::json!({
        "topics": "no-such-topic", "connection.url": w.url, "insert.mode": "upsert", "primary.key.mode": "record_key",
        "schema.evolution": "none", "bogus.key": "1"}),
    );
    let (code, out) = command(&[&"validate", &"--worker", &w.worker, &bad]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("bogus.key"), "{out}");
    let fixed = connector_file(
        w.dir.path(),
        "fixed",
        serde_json::json!({
        "topics": "no-such-topic", "connection.url": w.url, "insert.mode": "upsert", "primary.key.mode": "record_key",
        "schema.evolution": "none"}),
    );
    let (code, out) = command(&[&"validate", &"--worker", &w.worker, &fixed]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("topic no-such-topic does not exist"), "{out}");
    assert!(
        out.contains("(topic no-such-topic) does not exist and schema.evolution=none"),
        "{out}"
    );
    let unreachable = connector_file(
        w.dir.path(),
        "down",
        serde_json::json!({
        "topics": "x", "connection.url": "postgres://postgres@127.0.0.1:1/nope"}),
    );
    let dead_worker = w.dir.path().join("dead.properties");
    std::fs::write(&dead_worker, "bootstrap.servers=127.0.0.1:1\n").expect("worker");
    let (code, out) = command(&[&"validate", &"--worker", &dead_worker, &unreachable]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broker 127.0.0.1:1 unreachable")
            && out.contains("target database unreachable"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_record_stops_the_connector_naming_it_and_commits_nothing_after_it() {
    let w = world().await;
    let customers = format!("{}.dbserver1.public.customers", w.prefix);
    // Offset 19 of customers: garbage after the recorded events.
    let producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", w.tansu.bootstrap())
        .create()
        .expect("producer");
    let record = rdkafka::producer::FutureRecord::to(&customers)
        .partition(0)
        .key("{\"id\": 77}")
        .payload("{not json");
    producer
        .send(record, Duration::from_secs(10))
        .await
        .expect("send");
    let mut child =
        support::sluice::spawn_run(w.dir.path(), &w.worker, &[&w.connector], true, "bad.log");
    let status = support::sluice::wait(
        &mut child,
        Duration::from_secs(120),
        &w.dir.path().join("bad.log"),
    );
    let log = std::fs::read_to_string(w.dir.path().join("bad.log")).unwrap_or_default();
    assert!(
        !status.success(),
        "a bad record must stop the connector:\n{log}"
    );
    assert!(
        log.contains(&format!("{customers}/0/19"))
            && log.contains("{\"id\": 77}")
            && log.contains("malformed JSON"),
        "error must name topic/partition/offset, key and reason:\n{log}"
    );
    let next = query(
        &w.url,
        &format!("SELECT topic, COALESCE(next_offset, 0) FROM sluice_offsets WHERE topic = '{customers}' AND kafka_partition = 0"),
    )
    .await;
    assert!(
        next.iter().all(|(_, n)| *n <= 19),
        "committed past the bad record: {next:?}"
    );
}

/// Schema version 5 on a target sluice 4 created: the version guard's key columns become
/// bytewise text (`COLLATE "C"`), their rows kept, and opening it again changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_4_target_gets_bytewise_version_keys_and_keeps_its_rows() {
    let url = Postgres::database();
    let db = url.rsplit('/').next().expect("database name").to_string();
    let pg = Postgres::shared();
    // The two tables as version 4 created them (the database's default collation).
    pg.psql(
        &db,
        "CREATE TABLE sluice_row_versions (table_name TEXT NOT NULL, row_key TEXT NOT NULL, \
         version_kind SMALLINT NOT NULL, version_hi BIGINT NOT NULL, version_lo BIGINT NOT NULL, \
         deleted BOOLEAN NOT NULL, updated_at_ms BIGINT NOT NULL, source_name TEXT, \
         source_ts_ms BIGINT, PRIMARY KEY (table_name, row_key)); \
         CREATE TABLE sluice_rekeyed_rows (table_name TEXT NOT NULL, row_key TEXT NOT NULL, \
         row_values TEXT NOT NULL, moved_at_ms BIGINT NOT NULL, PRIMARY KEY (table_name, row_key)); \
         INSERT INTO sluice_row_versions VALUES ('orders', '[\"7\"]', 1, 42, 0, false, 1, 'db1', 5); \
         INSERT INTO sluice_rekeyed_rows VALUES ('orders', '[\"8\"]', '{}', 1)",
    );
    let collations = || {
        pg.psql(
            &db,
            "SELECT table_name || '.' || column_name || '=' || coalesce(collation_name, 'default') \
             FROM information_schema.columns WHERE table_name IN \
             ('sluice_row_versions', 'sluice_rekeyed_rows') AND column_name IN ('table_name', 'row_key') \
             ORDER BY 1",
        )
    };
    assert!(collations().contains("sluice_row_versions.row_key=default"));
    let target = sluice::config::TargetUrl::parse(&url).expect("url");
    for _ in 0..2 {
        let sink_db = sluice::db::Db::connect(&target, None, None)
            .await
            .expect("connect");
        sluice::db::schema::ensure(&sink_db).await.expect("migrate");
        sink_db.close().await;
        assert_eq!(
            collations().lines().collect::<Vec<_>>(),
            [
                "sluice_rekeyed_rows.row_key=C",
                "sluice_rekeyed_rows.table_name=C",
                "sluice_row_versions.row_key=C",
                "sluice_row_versions.table_name=C",
            ]
        );
    }
    // The rows are there, found through the rebuilt primary-key index.
    let found = pg.psql(
        &db,
        "SET enable_seqscan = off; SELECT version_hi FROM sluice_row_versions \
         WHERE table_name = 'orders' AND row_key = '[\"7\"]'; \
         SELECT count(*) FROM sluice_rekeyed_rows WHERE table_name = 'orders'; \
         SELECT version FROM sluice_schema_version",
    );
    assert_eq!(
        found.lines().collect::<Vec<_>>(),
        ["42", "1", &sluice::db::schema::SCHEMA_VERSION.to_string()]
    );
}
