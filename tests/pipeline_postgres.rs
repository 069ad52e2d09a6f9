//! Real components: recorded Debezium events published to a real Kafka-protocol broker (tansu),
//! applied by the sluice binary to a real PostgreSQL, compared with the source tables' oracle.

mod support;

use std::time::Duration;
use support::sluice::{connector_file, jdbc, recording_connector, run_to_end, worker_file};
use support::{
    avro_converter_keys, corpus_dir, publish_jsonl, publish_jsonl_with, random_name, Oracle,
    Postgres, PublishOptions, RegistryFixture, Tansu,
};

/// The credentials the registry fixture of Avro runs demands.
const REGISTRY_AUTH: &str = "sluice:s3cret";

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
    apply_recording_with(scenario, file, schemas, Variant::default()).await
}

/// How [`apply_recording_with`] differs from the plain run.
#[derive(Default, Clone, Copy)]
struct Variant {
    /// Published in one transaction.
    transactional: bool,
    /// An Avro run's converter settings are in the worker file, not the connector's.
    converters_in_worker: bool,
    /// The whole recording in one batch. The TOAST recordings change a primary key: in one
    /// batch the create takes the unchanged TOAST values from the delete's row in the batch
    /// (the path these runs prove); across batches from the row the delete kept
    /// (`a_primary_key_change_split_across_runs_keeps_the_toast_values`).
    one_batch: bool,
}

/// The TOAST recordings' variant (see [`Variant::one_batch`]).
const ONE_BATCH: Variant = Variant {
    transactional: false,
    converters_in_worker: false,
    one_batch: true,
};

/// [`apply_recording`] with a [`Variant`].
async fn apply_recording_with(
    scenario: &str,
    file: &str,
    schemas: bool,
    variant: Variant,
) -> (String, Oracle) {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join(scenario).join(file);
    let options = PublishOptions {
        partitions: 1,
        base64: file.contains(".avro."),
        transactional: variant.transactional,
        ..Default::default()
    };
    publish_jsonl_with(
        &tansu.bootstrap(),
        &events,
        |t| format!("{prefix}.{t}"),
        &options,
    )
    .await;
    let oracle = Oracle::load(corpus_dir().join(scenario).join("oracle/final.json"));
    if !schemas {
        create_tables(&url, &oracle).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    // An Avro run is read through a registry that holds the recording's schemas and demands
    // basic auth.
    let registry = file.contains(".avro.").then(|| {
        let dump = corpus_dir()
            .join(scenario)
            .join(file.replace(".jsonl", ".registry.json"));
        RegistryFixture::with_dump(&dump, Some(REGISTRY_AUTH))
    });
    let mut config = recording_connector(&prefix, &jdbc(&url), schemas);
    config["batch.size"] = if variant.one_batch { "1000" } else { "40" }.into();
    if variant.one_batch {
        config["sluice.batch.linger.ms"] = "3000".into();
    }
    if let Some(registry) = &registry {
        let keys = avro_converter_keys(&registry.url(), Some(REGISTRY_AUTH));
        if variant.converters_in_worker {
            let mut text = std::fs::read_to_string(&worker).expect("worker file");
            for (k, v) in keys {
                text.push_str(&format!("{k}={v}\n"));
            }
            std::fs::write(&worker, text).expect("worker file");
        } else {
            for (k, v) in keys {
                config[k] = v.into();
            }
        }
    }
    let connector = connector_file(dir.path(), &random_name("sink"), config);
    let log = run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    assert!(
        log.contains("records read"),
        "no report in the output:\n{log}"
    );
    // tansu answers the offset lookup with the last batch's base offset: the real ends came
    // from fetch responses (the oracle check below proves nothing was left behind).
    assert!(
        log.contains("confirmed by fetch responses"),
        "--stop-at-end did not learn the ends from fetch responses:\n{log}"
    );
    if let Some(registry) = &registry {
        assert!(
            !log.contains("s3cret"),
            "the registry password reached the log"
        );
        // Each schema is fetched once, however many records use it.
        let lookups = registry.schema_lookups();
        assert!((1..=20).contains(&lookups), "{lookups} schema lookups");
    }
    (url, oracle)
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_with_schemas_equals_the_source_tables() {
    let (url, oracle) = apply_recording("inventory", "default.json-schemas.jsonl", true).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

/// Debezium with `exactly.once.support` publishes in transactions: the commit marker takes the
/// last offset of each topic and is never delivered. `--stop-at-end` must still stop (it used
/// to wait forever one offset short of the end) with every change applied.
#[tokio::test(flavor = "multi_thread")]
async fn inventory_published_in_a_transaction_stops_at_the_end() {
    let variant = Variant {
        transactional: true,
        ..Variant::default()
    };
    let (url, oracle) =
        apply_recording_with("inventory", "default.json-schemas.jsonl", true, variant).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_without_schemas_into_existing_tables_equals_the_source_tables() {
    let (url, oracle) = apply_recording("inventory", "default.json-noschemas.jsonl", false).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

/// Debezium's AvroConverter output, read through a registry with basic auth, gives the same
/// tables as the source.
#[tokio::test(flavor = "multi_thread")]
async fn inventory_from_avro_equals_the_source_tables() {
    let (url, oracle) = apply_recording("inventory", "default.avro.jsonl", true).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

/// The AvroConverter set in the worker file only (as a Kafka Connect worker sets it for every
/// connector): the connector, which names no converter, reads Avro through the registry.
#[tokio::test(flavor = "multi_thread")]
async fn worker_level_avro_converter_applies_to_the_connector() {
    let variant = Variant {
        converters_in_worker: true,
        ..Variant::default()
    };
    let (url, oracle) =
        apply_recording_with("inventory", "default.avro.jsonl", true, variant).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn toast_from_avro_keeps_the_stored_values() {
    let (url, oracle) = apply_recording_with("toast", "default.avro.jsonl", true, ONE_BATCH).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn toast_placeholders_keep_the_stored_values() {
    // Includes a primary-key change under REPLICA IDENTITY DEFAULT whose new row arrives with
    // placeholders: the unchanged TOAST columns are carried over from the old key's row.
    let (url, oracle) =
        apply_recording_with("toast", "default.json-schemas.jsonl", true, ONE_BATCH).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn toast_without_schemas_into_existing_tables_equals_the_source_tables() {
    let (url, oracle) =
        apply_recording_with("toast", "default.json-noschemas.jsonl", false, ONE_BATCH).await;
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

/// A primary-key change whose delete and create land in different batches, here different runs
/// of the binary: each run stops right before the create of a primary-key change (the TOAST
/// recording has one per table), so the delete of the old key commits in one process and the
/// create of the new key, whose unchanged TOAST columns are placeholders, comes to the next.
/// The new rows must still equal the source's, and nothing kept may outlive its create.
#[tokio::test(flavor = "multi_thread")]
async fn a_primary_key_change_split_across_runs_keeps_the_toast_values() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let text = std::fs::read_to_string(corpus_dir().join("toast/default.json-schemas.jsonl"))
        .expect("toast recording");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // Cut before every create that names the key it replaced.
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    for line in &lines {
        let record: serde_json::Value = serde_json::from_str(line).expect("recorded line");
        if record["headers"].get("__debezium.oldkey").is_some() {
            parts.push(Vec::new());
        }
        parts.last_mut().expect("a part").push(line);
    }
    assert_eq!(parts.len(), 3, "the recording changes one key per table");
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        &random_name("sink"),
        recording_connector(&prefix, &jdbc(&url), true),
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    for (i, part) in parts.iter().enumerate() {
        let file = dir.path().join(format!("part-{i}.jsonl"));
        std::fs::write(&file, part.join("\n")).expect("write part");
        publish_jsonl_with(
            &tansu.bootstrap(),
            &file,
            |t| format!("{prefix}.{t}"),
            &PublishOptions::default(),
        )
        .await;
        run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
        let kept: Vec<(String, String)> =
            sqlx::query_as("SELECT table_name, row_key FROM sluice_rekeyed_rows ORDER BY 1")
                .fetch_all(&mut conn)
                .await
                .expect("kept rows");
        // Each run but the last ends right after a delete of a changed key: its row is kept
        // until the create comes, and taken by it.
        let expected: Vec<(String, String)> = match i {
            0 => vec![("toast_default".into(), r#"["2"]"#.into())],
            1 => vec![("toast_full".into(), r#"["2"]"#.into())],
            _ => vec![],
        };
        assert_eq!(kept, expected, "kept rows after run {i}");
    }
    let oracle = Oracle::load(corpus_dir().join("toast/oracle/final.json"));
    support::assert_pg_matches(&url, &oracle, |name| name.to_string()).await;
}

/// A config written for Confluent's JDBC sink, pasted unchanged: `pk.mode`, `auto.create`,
/// `table.name.format`, Debezium's `ExtractNewRecordState` with soft deletes, a RegexRouter
/// choosing the table, a MaskField and an InsertField. The live rows (`__deleted = 'false'`)
/// equal the source tables with the masked column emptied; deleted keys stay as soft deletes.
#[tokio::test(flavor = "multi_thread")]
async fn a_confluent_style_config_with_transforms_applies_them() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    let events = corpus_dir().join("inventory/default.json-schemas.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let mut oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        &random_name("confluent"),
        serde_json::json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics.regex": format!("{prefix}\\..*"),
            "connection.url": jdbc(&url),
            "pk.mode": "record_key",
            "insert.mode": "upsert",
            "auto.create": "true",
            "auto.evolve": "true",
            "truncate.enabled": "true",
            "table.name.format": "${topic}",
            "batch.size": "40",
            "transforms": "unwrap,route,mask,origin",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.drop.tombstones": "false",
            "transforms.unwrap.delete.handling.mode": "rewrite",
            "transforms.unwrap.add.fields": "op,table",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": ".*\\.public\\.(.*)",
            "transforms.route.replacement": "copy_$1",
            "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
            "transforms.mask.fields": "email",
            "transforms.origin.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.origin.static.field": "origin",
            "transforms.origin.static.value": "crm",
        }),
    );
    let log = run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    assert!(
        log.contains("records read"),
        "no report in the output:\n{log}"
    );

    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    let customers = oracle
        .tables
        .get_mut("public.customers")
        .expect("customers");
    let email = customers.column_names().iter().position(|c| *c == "email");
    for row in &mut customers.rows {
        row[email.expect("email column")] = Some(String::new());
    }
    let mut soft_deleted_rows = 0;
    for name in oracle.tables.keys() {
        let short = name.rsplit('.').next().unwrap_or(name);
        let view = format!(
            "CREATE VIEW \"live_{short}\" AS SELECT * FROM \"copy_{short}\" WHERE \"__deleted\" = 'false'"
        );
        sqlx::raw_sql(&view).execute(&mut conn).await.expect(&view);
        let (soft_deleted, other_table, origins): (i64, i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*) FILTER (WHERE \"__deleted\" = 'true'), \
             count(*) FILTER (WHERE \"__table\" IS DISTINCT FROM $1), \
             count(*) FILTER (WHERE origin IS DISTINCT FROM 'crm') FROM \"copy_{short}\""
        ))
        .bind(short)
        .fetch_one(&mut conn)
        .await
        .expect("metadata columns");
        soft_deleted_rows += soft_deleted;
        assert_eq!(
            (other_table, origins),
            (0, 0),
            "{short}: __table and origin on every row"
        );
    }
    // Some deletes of the recording are not followed by a truncate of their table.
    assert!(soft_deleted_rows > 0, "deleted keys stay as soft deletes");
    let (unrouted,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%dbserver1%'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("tables");
    assert_eq!(unrouted, 0, "every topic is routed to its copy_ table");
    support::assert_pg_matches(&url, &oracle, |name| {
        format!("live_{}", name.rsplit('.').next().unwrap_or(name))
    })
    .await;
}

/// Publishes `(key, value)` pairs to one partition of `topic`, in order.
async fn publish_to(bootstrap: &str, topic: &str, partition: i32, records: Vec<(String, String)>) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut sends = Vec::with_capacity(records.len());
    for (key, value) in &records {
        let record = FutureRecord::to(topic)
            .partition(partition)
            .key(key)
            .payload(value);
        sends.push(
            producer
                .send_result(record)
                .unwrap_or_else(|(e, _)| panic!("queue for {topic}: {e}")),
        );
    }
    for sent in sends {
        sent.await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("publish to {topic}: {e}"));
    }
}

/// Issue #18: while one partition works through a backlog, a partition at its end is paused
/// ("parked": tansu holds any fetch that names it for the whole `fetch.wait.max.ms`, stalling
/// the busy one), and records that reach it meanwhile are still applied without waiting for the
/// backlog to end (a latest-offset lookup notices them). The worker file names the broker only
/// (the defaults a user gets); a trigger sleeping per row keeps partition 1 busy.
#[tokio::test(flavor = "multi_thread")]
async fn a_partition_at_its_end_is_parked_and_its_new_records_still_arrive() {
    const BACKLOG: i64 = 6000;
    let tansu = Tansu::start();
    let pg = Postgres::shared();
    let url = pg.create_database();
    let db = url.rsplit('/').next().expect("database name").to_string();
    pg.psql(
        &db,
        "CREATE TABLE items (id bigint PRIMARY KEY, v bigint);
         CREATE FUNCTION items_slow() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF NEW.id > 1000 THEN PERFORM pg_sleep(0.001); END IF; RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON items
           FOR EACH ROW EXECUTE FUNCTION items_slow();",
    );
    let topic = random_name("parked");
    tansu.create_topic(&topic, 2);
    let change = |id: i64| {
        support::generate::items_change(("postgresql", "gen"), "c", id, Some(id), Some(1))
    };
    let bootstrap = tansu.bootstrap();
    let publish = |partition: i32, ids: std::ops::RangeInclusive<i64>| {
        publish_to(&bootstrap, &topic, partition, ids.map(change).collect())
    };
    publish(0, 1..=5).await;
    publish(1, 1001..=1000 + BACKLOG).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!("bootstrap.servers={bootstrap}\nconsumer.session.timeout.ms=6000\n"),
    )
    .expect("worker file");
    let connector = connector_file(
        dir.path(),
        &random_name("sink"),
        serde_json::json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "topics": topic,
            "connection.url": url,
            "insert.mode": "upsert",
            "primary.key.mode": "record_key",
            "table.name.format": "items",
            "batch.size": "200",
            // Parking happens among the partitions of one consumer: one task holds them all.
            "tasks.max": "1",
        }),
    );
    let mut sluice = support::sluice::spawn_run_with_env(
        dir.path(),
        &worker,
        &[&connector],
        false,
        "run.log",
        &[("SLUICE_LOG", "info,sqlx=warn,sluice::source::idle=debug")],
    );
    let log = dir.path().join("run.log");
    let count = |filter: &str| -> i64 {
        pg.psql(&db, &format!("SELECT count(*) FROM items WHERE {filter}"))
            .trim()
            .parse()
            .expect("count")
    };
    let until = |what: &str, done: &dyn Fn() -> bool, within: Duration| {
        let deadline = std::time::Instant::now() + within;
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what} within {within:?}; log:\n{}",
                support::tail(&log, 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until(
        "partition 0 applied",
        &|| count("id <= 5") == 5,
        Duration::from_secs(60),
    );
    until(
        "partition 0 parked",
        &|| {
            std::fs::read_to_string(&log).is_ok_and(|l| {
                l.lines().any(|l| {
                    l.contains("idle partitions") && l.contains("partition: 0 }] resumed=[]")
                })
            })
        },
        Duration::from_secs(10),
    );
    // Past the first lookup of the parked partition (50 ms), so its answer is the reference.
    std::thread::sleep(Duration::from_millis(500));
    let busy = count("id > 1000");
    assert!(
        busy < BACKLOG,
        "partition 1 was done before the test could publish"
    );
    publish(0, 6..=10).await;
    until(
        "the new records of partition 0 applied",
        &|| count("id <= 10") == 10,
        Duration::from_secs(30),
    );
    let behind = count("id > 1000");
    assert!(
        behind < BACKLOG,
        "partition 0's new records waited for partition 1's backlog to end"
    );
    until(
        "the backlog applied",
        &|| count("id > 1000") == BACKLOG,
        Duration::from_secs(120),
    );
    let _ = sluice.kill();
    println!("partition 1 had {busy} of {BACKLOG} rows when partition 0 got new records, {behind} when they were applied");
}

/// Issue #18: `tasks.max` in `sluice run` runs that many pipelines in the connector's group,
/// each with its own target connection: the partitions are split among them, every record is
/// applied and counted once, and with `--stop-at-end` the tasks stop together once all are at
/// their end, the one the group gives nothing (more tasks than partitions) included.
#[tokio::test(flavor = "multi_thread")]
async fn tasks_max_splits_the_partitions_among_pipelines_and_stops_at_the_end() {
    const PER_PARTITION: i64 = 300;
    let tansu = Tansu::start();
    let pg = Postgres::shared();
    let url = pg.create_database();
    let db = url.rsplit('/').next().expect("database name").to_string();
    let topic = random_name("tasks");
    tansu.create_topic(&topic, 3);
    let bootstrap = tansu.bootstrap();
    for partition in 0..3 {
        let first = i64::from(partition) * PER_PARTITION + 1;
        let records = (first..first + PER_PARTITION)
            .map(|id| {
                support::generate::items_change(("postgresql", "gen"), "c", id, Some(id), Some(1))
            })
            .collect();
        publish_to(&bootstrap, &topic, partition, records).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &bootstrap);
    let name = random_name("tasks");
    let connector = connector_file(
        dir.path(),
        &name,
        serde_json::json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "tasks.max": "4",
            "topics": topic,
            "connection.url": url,
            "insert.mode": "upsert",
            "primary.key.mode": "record_key",
            "table.name.format": "items",
            "schema.evolution": "basic",
            "batch.size": "50",
        }),
    );
    let log = run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(180));
    let rows: i64 = pg
        .psql(&db, "SELECT count(*) FROM items")
        .trim()
        .parse()
        .expect("count");
    assert_eq!(rows, 3 * PER_PARTITION);
    // Which task took which partition, from the assignment lines (each names its task).
    let mut holders: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for line in log.lines().filter(|l| l.contains("partition assigned")) {
        let task = line
            .split("task{name=")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_else(|| panic!("an assignment line names no task: {line}"));
        let partition = line
            .split("partition=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("partition")
            .to_string();
        holders
            .entry(task.to_string())
            .or_default()
            .insert(partition);
    }
    println!("partitions by task: {holders:?}");
    // The tasks stop together: none leaves while the others wait for a rebalance that hands
    // them its partitions (on tansu it may never complete).
    let lines: Vec<&str> = log.lines().collect();
    let first_stop = lines
        .iter()
        .position(|l| l.contains("; stopping"))
        .expect("a stop line");
    assert!(
        !lines[first_stop..]
            .iter()
            .any(|l| l.contains("partition assigned")),
        "partitions moved after a task stopped:\n{log}"
    );
    assert!(
        holders.len() >= 2,
        "the partitions were not split among tasks: {holders:?}\n{log}"
    );
    assert!(
        holders.keys().all(|t| t.starts_with(&format!("{name}-"))),
        "{holders:?}"
    );
    // One report for the connector, every record counted once.
    assert!(
        log.contains(&format!(
            "connector {name}: {} records read",
            3 * PER_PARTITION
        )),
        "{log}"
    );
    let next: Vec<String> = pg
        .psql(
            &db,
            "SELECT next_offset FROM sluice_offsets ORDER BY kafka_partition",
        )
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        next,
        vec![PER_PARTITION.to_string(); 3],
        "checkpoint per partition"
    );
}

/// Issue #18: the version guard's lookup probes the primary key of `sluice_row_versions` once
/// per key even under a generic plan cached while the table was small and never analyzed (what
/// a connector's prepared statement gets on a new target). The plain join it replaced hashed
/// every version row of the table under such a plan: 9 ms per 1000-key batch on average over
/// the pipeline bench's 1M events, 57 ms at 211k rows.
#[test]
fn the_version_lookup_probes_the_index_under_a_plan_made_on_an_empty_table() {
    let pg = Postgres::shared();
    let url = pg.create_database();
    let db = url.rsplit('/').next().expect("database name");
    let ddl = sluice::db::schema::ddl(sluice::config::Dialect::Postgres).join(";\n");
    pg.psql(db, &ddl);
    pg.psql(
        db,
        "ALTER TABLE sluice_row_versions SET (autovacuum_enabled = false)",
    );
    // An array literal of 1000 keys as sluice writes them (`["1"]`): EXECUTE takes no subquery.
    let keys = format!(
        "'{{{}}}'",
        (1..=1000)
            .map(|n| format!(r#""[\"{n}\"]""#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let out = pg.psql(
        db,
        &format!(
            "SET plan_cache_mode = force_generic_plan;
             PREPARE load(text, text[]) AS {};
             EXECUTE load('public.orders', {keys});
             INSERT INTO sluice_row_versions SELECT 'public.orders', '[\"' || g || '\"]', 1, g, 0, false, 0, 'src', 5
               FROM generate_series(1, 200000) AS g;
             SELECT 'PLAN';
             EXPLAIN (FORMAT JSON) EXECUTE load('public.orders', {keys});",
            sluice::sink::versions::LOAD_PG
        ),
    );
    let plan = out.split_once("PLAN").expect("plan marker").1;
    let plan: serde_json::Value = serde_json::from_str(plan.trim()).expect("EXPLAIN JSON");
    fn nodes(node: &serde_json::Value, out: &mut Vec<(String, String)>) {
        out.push((
            node["Node Type"].as_str().unwrap_or_default().to_string(),
            node["Relation Name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
        for child in node["Plans"].as_array().into_iter().flatten() {
            nodes(child, out);
        }
    }
    let mut found = Vec::new();
    nodes(&plan[0]["Plan"], &mut found);
    let versions: Vec<&str> = found
        .iter()
        .filter(|(_, relation)| relation == "sluice_row_versions")
        .map(|(kind, _)| kind.as_str())
        .collect();
    assert!(
        !versions.is_empty()
            && versions
                .iter()
                .all(|kind| matches!(*kind, "Index Scan" | "Index Only Scan")),
        "the lookup reads sluice_row_versions other than by index probes: {found:?}"
    );
    assert!(
        found.iter().all(|(kind, _)| kind != "Hash Join"),
        "{found:?}"
    );
}
