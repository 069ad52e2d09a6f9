//! Real components for a production setup: PostgreSQL that accepts only TLS, Kafka over TLS
//! (tansu behind stunnel), Kafka over SASL_SSL with SCRAM logins that succeed (tansu built with
//! libsql storage, which stores users) and one with a wrong password, compressed topics,
//! PostgreSQL's edge values as a real Debezium recorded them, per-connector health with a wrong
//! password, and a broker that refuses every login.

mod support;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::sluice::{
    command, connector_file, jdbc, recording_connector, run_to_end, spawn_run, spawn_run_with_env,
    wait, worker_file,
};
use support::tls::{Certs, Stunnel};
use support::{
    avro_converter_keys, corpus_dir, publish_jsonl, publish_jsonl_with, random_name, Oracle,
    Postgres, PublishOptions, RegistryFixture, Tansu,
};

/// A JDBC sink connector for a corpus scenario published under `prefix`.
fn sink_config(prefix: &str, url: &str, schemas: bool) -> Value {
    let mut config = recording_connector(prefix, url, schemas);
    config["batch.size"] = "40".into();
    config
}

/// Publishes the inventory recording with schemas under a fresh prefix, to topics of one
/// partition it creates first; returns the prefix.
async fn publish_inventory(bootstrap: &str, client: Vec<(String, String)>) -> String {
    let prefix = random_name("t");
    let events = support::corpus_events("inventory", "default.json-schemas.jsonl");
    let text = std::fs::read_to_string(&events).expect("inventory recording");
    let topics: BTreeSet<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|record| Some(format!("{prefix}.{}", record["topic"].as_str()?)))
        .collect();
    create_topics(bootstrap, &client, topics).await;
    let options = PublishOptions {
        partitions: 1,
        client,
        ..Default::default()
    };
    publish_jsonl_with(bootstrap, &events, |t| format!("{prefix}.{t}"), &options).await;
    prefix
}

/// Creates topics of one partition as an admin client with `client` settings. tansu's SASL
/// build creates no topic on first use; the PyPI build does, with 4 partitions.
async fn create_topics(
    bootstrap: &str,
    client: &[(String, String)],
    names: impl IntoIterator<Item = String>,
) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap, client)
        .create()
        .expect("admin client");
    let names: Vec<String> = names.into_iter().collect();
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|name| NewTopic::new(name, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&topics, &options)
        .await
        .unwrap_or_else(|e| panic!("create topics {names:?}: {e}"));
    for result in results {
        result.unwrap_or_else(|(topic, e)| panic!("create topic {topic}: {e}"));
    }
}

fn inventory_oracle() -> Oracle {
    Oracle::load(corpus_dir().join("inventory/oracle/final.json"))
}

/// PostgreSQL with `ssl=on` whose pg_hba.conf accepts TCP only over TLS: the inventory
/// recording applies with `sslmode=require`, and with `ssl=true` (pgjdbc: verify-full)
/// against the test CA; a plain connection, and verification against the wrong CA, are
/// refused by `validate` with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_that_accepts_only_tls() {
    let certs = Certs::generate();
    let pg = Postgres::dedicated();
    pg.require_tls(&certs.cert, &certs.key);
    let tansu = Tansu::start();
    let prefix = publish_inventory(&tansu.bootstrap(), Vec::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let ca = certs.ca.display().to_string();
    for (name, params) in [
        ("require", "sslmode=require".to_string()),
        ("verify", format!("ssl=true&sslrootcert={ca}")),
    ] {
        let url = pg.create_database();
        let config = sink_config(&prefix, &format!("{}?{params}", jdbc(&url)), true);
        let connector = connector_file(dir.path(), &random_name(name), config);
        run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
        let tls_url = format!("{url}?sslmode=require");
        support::assert_pg_matches(&tls_url, &inventory_oracle(), |n| n.to_string()).await;
    }
    // Refused: no TLS at all, and a server certificate the configured CA did not sign.
    let url = pg.create_database();
    for (params, expect) in [
        ("sslmode=disable".to_string(), "no encryption"),
        (
            format!(
                "sslmode=verify-full&sslrootcert={}",
                certs.other_ca.display()
            ),
            "certificate verify failed",
        ),
    ] {
        let config = sink_config(&prefix, &format!("{}?{params}", jdbc(&url)), true);
        let connector = connector_file(dir.path(), &random_name("refused"), config);
        let (code, out) = command(&[&"validate", &"--worker", &worker, &connector]);
        assert_ne!(code, 0, "validate accepted {params}:\n{out}");
        assert!(
            out.contains("connection.url") && out.contains(expect),
            "validate did not name the TLS failure ({expect}) for {params}:\n{out}"
        );
    }
}

/// The worker's client settings for TLS to the broker through stunnel.
fn tls_client(certs: &Certs) -> Vec<(String, String)> {
    vec![
        ("security.protocol".into(), "SSL".into()),
        ("ssl.ca.location".into(), certs.ca.display().to_string()),
    ]
}

/// A client of `bootstrap` with more settings (`security.protocol`, `ssl.*`, `sasl.*`).
fn client_config(bootstrap: &str, client: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (k, v) in client {
        config.set(k, v);
    }
    config
}

/// The record of the dead-letter tests: valid JSON key, a value that is not JSON.
const POISON: &[u8] = b"this is not JSON";

/// Publishes [`POISON`] to `topic`, a new topic.
async fn publish_poison(bootstrap: &str, client: &[(String, String)], topic: &str) {
    create_topics(bootstrap, client, [topic.to_string()]).await;
    let producer: rdkafka::producer::FutureProducer =
        client_config(bootstrap, client).create().expect("producer");
    producer
        .send(
            rdkafka::producer::FutureRecord::to(topic)
                .key("{\"id\": 1}")
                .payload(POISON),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("publish the poison record to {topic}: {e}"));
}

/// The inventory connector, with [`POISON`] on `{prefix}.poison` dead-lettered to `dlq`.
fn dead_lettering_config(prefix: &str, url: &str, dlq: &str) -> Value {
    let mut config = sink_config(prefix, &jdbc(url), true);
    config["errors.tolerance"] = "all".into();
    config["errors.deadletterqueue.topic.name"] = dlq.into();
    config
}

/// Reads the first record of `dlq` as a client with `client` settings and checks it is
/// [`POISON`] from `{prefix}.poison`; `stunnel`'s log explains a TLS failure.
fn assert_poison_dead_lettered(
    bootstrap: &str,
    client: &[(String, String)],
    dlq: &str,
    prefix: &str,
    stunnel: &Stunnel,
) {
    let consumer: BaseConsumer = client_config(bootstrap, client)
        .set("group.id", random_name("read-dlq"))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[dlq]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    let letter = loop {
        assert!(
            Instant::now() < deadline,
            "no dead letter on {dlq}; stunnel:\n{}",
            stunnel.log()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            break m.detach();
        }
    };
    let topic_header = letter
        .headers()
        .and_then(|h| {
            h.iter()
                .find(|h| h.key == "__connect.errors.topic")
                .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
        })
        .unwrap_or_default();
    assert_eq!(topic_header, format!("{prefix}.poison"));
    assert_eq!(letter.payload(), Some(POISON));
}

/// Kafka over TLS: tansu advertises only the TLS port of a stunnel in front of it. The
/// recording is published over TLS and applied with `security.protocol=SSL` and the test CA;
/// a record that cannot be decoded is dead-lettered and the dead-letter producer publishes it
/// over TLS too.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_over_tls_applies_and_dead_letters() {
    let certs = Certs::generate();
    let tls_port = Stunnel::free_port();
    let tansu = Tansu::start_advertising(tls_port);
    let stunnel = Stunnel::start(tls_port, tansu.port(), &certs);
    let bootstrap = format!("127.0.0.1:{tls_port}");
    let client = tls_client(&certs);
    let prefix = publish_inventory(&bootstrap, client.clone()).await;
    publish_poison(&bootstrap, &client, &format!("{prefix}.poison")).await;
    let url = Postgres::database();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &bootstrap);
    let mut text = std::fs::read_to_string(&worker).expect("worker");
    text.push_str(&format!(
        "security.protocol=SSL\nssl.ca.location={}\n",
        certs.ca.display()
    ));
    std::fs::write(&worker, text).expect("worker");
    let dlq = random_name("dlq");
    let config = dead_lettering_config(&prefix, &url, &dlq);
    let connector = connector_file(dir.path(), &random_name("tls"), config);
    let log = run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    support::assert_pg_matches(&url, &inventory_oracle(), |n| n.to_string()).await;
    assert!(log.contains("records dead-lettered"), "{log}");
    // The dead letter came out over TLS.
    assert_poison_dead_lettered(&bootstrap, &client, &dlq, &prefix, &stunnel);

    // `validate` names a TLS failure with its reason: the broker's certificate is not signed
    // by the CA the worker trusts.
    let stranger = Certs::generate();
    let untrusting = dir.path().join("untrusting.properties");
    std::fs::write(
        &untrusting,
        std::fs::read_to_string(&worker).expect("worker").replace(
            &certs.ca.display().to_string(),
            &stranger.ca.display().to_string(),
        ),
    )
    .expect("worker");
    let (code, out, err) =
        support::sluice::command_output(&[&"validate", &"--worker", &untrusting, &connector]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("bootstrap.servers") && out.contains("certificate verify failed"),
        "validate does not give the TLS failure's reason:\n{out}{err}"
    );
}

/// The recording published once per compression codec (gzip, snappy, lz4, zstd): each
/// applies and equals the source tables.
#[tokio::test(flavor = "multi_thread")]
async fn compressed_topics_are_read_with_every_codec() {
    let tansu = Tansu::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let mut connectors = Vec::new();
    let mut urls = Vec::new();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let client = vec![("compression.type".to_string(), codec.to_string())];
        let prefix = publish_inventory(&tansu.bootstrap(), client).await;
        let url = Postgres::database();
        let config = sink_config(&prefix, &jdbc(&url), true);
        connectors.push(connector_file(
            dir.path(),
            &format!("{codec}-{}", random_name("c")),
            config,
        ));
        urls.push((codec, url));
    }
    let paths: Vec<&Path> = connectors.iter().map(|p| p.as_path()).collect();
    run_to_end(dir.path(), &worker, &paths, Duration::from_secs(180));
    for (codec, url) in urls {
        if let Err(diff) =
            support::check_pg_matches(&url, &inventory_oracle(), |n| n.to_string()).await
        {
            panic!("{codec}: target differs from the source tables:\n{diff}");
        }
    }
}

/// The `edge` oracle as Debezium could carry it: numeric NaN/±Infinity arrive as null
/// (Debezium's precise decimal mode refuses them, with a WARN), and the snapshot path loses
/// the era of BC dates (0044-03-15 BC arrives as 44 AD; streaming is right).
fn edge_oracle_as_carried() -> Oracle {
    let mut oracle = Oracle::load(corpus_dir().join("edge/oracle/final.json"));
    let table = oracle
        .tables
        .get_mut("public.edge_values")
        .expect("edge table");
    let index = |name: &str| {
        table
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (id, date) = (index("id"), index("c_date"));
    let numerics = [index("c_numeric"), index("c_numeric_10_2")];
    for row in &mut table.rows {
        for i in numerics {
            if matches!(row[i].as_deref(), Some("NaN" | "Infinity" | "-Infinity")) {
                row[i] = None;
            }
        }
        let snapshot = row[id]
            .as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v < 100);
        if let (true, Some(d)) = (snapshot, row[date].as_deref()) {
            if let Some(ad) = d.strip_suffix(" BC") {
                row[date] = Some(ad.to_string());
            }
        }
    }
    oracle
}

/// PostgreSQL's edge values as a real Debezium 3.6.3 recorded them (±infinity dates and
/// timestamps in both paths, BC, year 10000+, NaN and ±Infinity floats, empty arrays and
/// arrays with NULLs), JSON with and without schemas and Avro: every cell Debezium carried
/// lands equal in PostgreSQL.
#[tokio::test(flavor = "multi_thread")]
async fn edge_values_land_as_debezium_carried_them() {
    let tansu = Tansu::start();
    let ddl = std::fs::read_to_string(corpus_dir().join("edge/sql/ddl.sql")).expect("ddl");
    let expected = edge_oracle_as_carried();
    for run in [
        "default.json-schemas",
        "default.json-noschemas",
        "default.avro",
    ] {
        let prefix = random_name("t");
        let avro = run.ends_with("avro");
        let options = PublishOptions {
            partitions: 1,
            base64: avro,
            ..Default::default()
        };
        let events = corpus_dir().join(format!("edge/events/{run}.jsonl"));
        publish_jsonl_with(
            &tansu.bootstrap(),
            &events,
            |t| format!("{prefix}.{t}"),
            &options,
        )
        .await;
        let url = Postgres::database();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        sqlx::raw_sql(&ddl).execute(&mut conn).await.expect("ddl");
        let dir = tempfile::tempdir().expect("tempdir");
        let worker = worker_file(dir.path(), &tansu.bootstrap());
        let mut config = sink_config(&prefix, &jdbc(&url), !run.contains("noschemas"));
        config["schema.evolution"] = "none".into();
        let registry = avro.then(|| {
            RegistryFixture::with_dump(
                &corpus_dir().join(format!("edge/events/{run}.registry.json")),
                None,
            )
        });
        if let Some(registry) = &registry {
            for (k, v) in avro_converter_keys(&registry.url(), None) {
                config[k] = v.into();
            }
        }
        let connector = connector_file(dir.path(), &random_name("edge"), config);
        run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
        if let Err(diff) = support::check_pg_matches(&url, &expected, |n| n.to_string()).await {
            panic!("{run}: the edge values differ from the source:\n{diff}");
        }
    }
}

/// SQLite holds no infinite dates or timestamps and no NaN/±Infinity floats: with
/// `errors.tolerance=all` those records are dead-lettered naming the column and the value,
/// never clamped, and the rest applies.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_dead_letters_the_edge_values_it_cannot_hold() {
    let tansu = Tansu::start();
    let prefix = random_name("t");
    let events = corpus_dir().join("edge/events/default.json-schemas.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("edge.db");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let mut config = sink_config(&prefix, &format!("jdbc:sqlite:{}", db.display()), true);
    config["errors.tolerance"] = "all".into();
    config["sluice.errors.max.ratio"] = "1".into();
    let connector = connector_file(dir.path(), &random_name("lite"), config);
    run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite:{}", db.display()))
            .await
            .expect("open sqlite");
    let letters: Vec<(i64, String)> = sqlx::query_as(
        "SELECT kafka_offset, exception_message FROM sluice_dead_letters ORDER BY kafka_offset",
    )
    .fetch_all(&mut conn)
    .await
    .expect("dead letters");
    assert!(!letters.is_empty(), "nothing was dead-lettered");
    for (offset, message) in &letters {
        assert!(
            message.contains("SQLite cannot hold") && message.contains("column c_"),
            "offset {offset}: {message}"
        );
    }
    assert!(
        letters.iter().any(|(_, m)| m.contains("infinity"))
            && letters.iter().any(|(_, m)| m.contains("NaN")),
        "{letters:?}"
    );
    // Rows without such values applied: the ordinary row of the snapshot and the all-NULL one.
    let labels: Vec<(i64,)> = sqlx::query_as("SELECT id FROM edge_values WHERE id IN (2, 102)")
        .fetch_all(&mut conn)
        .await
        .expect("rows");
    assert_eq!(labels.len(), 2, "the rows SQLite can hold were not applied");
}

/// Reads `/ready` and its status line.
fn ready(port: u16) -> Option<(u16, Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()?;
    Some((code, body))
}

/// Two connectors in one process, one with a wrong database password: readiness is 503
/// within 10 s naming the failed connector and its error, the failure is logged at once (not
/// when the process exits), the other connector applies everything, and the exit code says
/// a connector failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_connector_with_a_wrong_password_fails_alone_and_readiness_says_so() {
    let pg = Postgres::dedicated();
    pg.require_password("app", "right-password");
    let good_url = pg.create_database();
    let bad_url = pg.create_database();
    let tansu = Tansu::start();
    let prefix = publish_inventory(&tansu.bootstrap(), Vec::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let port = support::free_port();
    let mut text = std::fs::read_to_string(&worker).expect("worker");
    text.push_str(&format!("sluice.metrics.address=127.0.0.1:{port}\n"));
    std::fs::write(&worker, text).expect("worker");
    let good = connector_file(
        dir.path(),
        "good",
        sink_config(&prefix, &jdbc(&good_url), true),
    );
    let mut bad_config = sink_config(&prefix, &jdbc(&bad_url), true);
    bad_config["connection.username"] = "app".into();
    bad_config["connection.password"] = "wrong-password".into();
    let bad = connector_file(dir.path(), "bad", bad_config);
    let started = Instant::now();
    let mut child = spawn_run(dir.path(), &worker, &[&good, &bad], true, "run.log");
    let log = dir.path().join("run.log");
    let verdict = loop {
        if let Some((503, body)) = ready(port) {
            if body["connectors"]["bad"]["state"] == "FAILED" {
                break body;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "readiness did not fail within 10 s; log:\n{}",
            support::tail(&log, 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let cause = verdict["connectors"]["bad"]["cause"]
        .as_str()
        .unwrap_or_default();
    assert!(
        cause.contains("password authentication failed"),
        "{verdict}"
    );
    assert!(
        !cause.contains("wrong-password"),
        "the password leaked: {verdict}"
    );
    let so_far = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        so_far.contains("connector failed") && so_far.contains("bad"),
        "the failure was not logged at once:\n{so_far}"
    );
    let status = wait(&mut child, Duration::from_secs(120), &log);
    assert_eq!(status.code(), Some(1), "{}", support::tail(&log, 40));
    support::assert_pg_matches(&good_url, &inventory_oracle(), |n| n.to_string()).await;
    assert!(!std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("wrong-password"));
}

/// `sluice run` of `connector` with `worker` (and `env`) on a broker that refuses the login:
/// it exits 1 naming the refusal and the broker's `cause`, and never prints `password`.
/// Returns the log.
fn run_refused(
    dir: &Path,
    worker: &Path,
    connector: &Path,
    env: &[(&str, &str)],
    cause: &str,
    password: &str,
) -> String {
    let mut child = spawn_run_with_env(dir, worker, &[connector], true, "run.log", env);
    let log = dir.join("run.log");
    let status = wait(&mut child, Duration::from_secs(60), &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("refused the connection") && text.contains(cause),
        "the refusal ({cause}) was not named:\n{text}"
    );
    assert!(!text.contains(password), "the password leaked:\n{text}");
    text
}

/// A broker that refuses the login (tansu with `--authentication`: this build stores no
/// users, so SCRAM answers `unknown-user`): the connector stops FAILED with the cause at
/// once instead of warning in a loop.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_kafka_login_fails_the_connector_with_the_cause() {
    let tansu = Tansu::start_authenticating();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let mut text = std::fs::read_to_string(&worker).expect("worker");
    text.push_str(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"alice-secret\";\n",
    );
    std::fs::write(&worker, text).expect("worker");
    let url = Postgres::database();
    let connector = connector_file(dir.path(), "login", sink_config("t", &jdbc(&url), true));
    let text = run_refused(
        dir.path(),
        &worker,
        &connector,
        &[],
        "unknown-user",
        "alice-secret",
    );
    let warnings = text.lines().filter(|l| l.contains("WARN")).count();
    assert!(warnings < 20, "{warnings} warning lines:\n{text}");
}

/// The SCRAM user of the SASL tests.
const KAFKA_USER: &str = "sluice";
/// Its password.
const KAFKA_PASSWORD: &str = "scram-5e1c-secret";
/// A password that is not its own.
const WRONG_PASSWORD: &str = "stale-7a2f-secret";

/// An MSK-style listener: tansu that stores SCRAM users (`$SLUICE_TANSU_SASL_BIN`), with
/// [`KAFKA_USER`] stored, behind stunnel and advertising only the TLS port.
struct SaslSsl {
    certs: Certs,
    /// Runs while this lives.
    _tansu: Tansu,
    stunnel: Stunnel,
    /// The TLS port, for `bootstrap.servers`.
    bootstrap: String,
}

impl SaslSsl {
    fn start() -> SaslSsl {
        let certs = Certs::generate();
        let tls_port = Stunnel::free_port();
        let tansu = Tansu::start_scram(Some(tls_port), &[(KAFKA_USER, KAFKA_PASSWORD)]);
        let stunnel = Stunnel::start(tls_port, tansu.port(), &certs);
        SaslSsl {
            certs,
            _tansu: tansu,
            stunnel,
            bootstrap: format!("127.0.0.1:{tls_port}"),
        }
    }

    /// librdkafka's settings for SASL_SSL as [`KAFKA_USER`] with `mechanism`.
    fn client(&self, mechanism: &str, password: &str) -> Vec<(String, String)> {
        let ca = self.certs.ca.display().to_string();
        [
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", &ca),
            ("sasl.mechanism", mechanism),
            ("sasl.username", KAFKA_USER),
            ("sasl.password", password),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// `tests/data/workers/connect-distributed-sasl-ssl.properties` as it is, but for what
    /// differs here: `bootstrap.servers`, the CA, and `/run/secrets` (a directory `<name>-secrets`
    /// laid out as a mounted Kubernetes secret, `kafka/password` holding `password`). The user
    /// comes from `KAFKA_USER` in sluice's environment.
    fn msk_worker(&self, dir: &Path, name: &str, password: &str) -> PathBuf {
        let secrets = dir.join(format!("{name}-secrets"));
        std::fs::create_dir_all(secrets.join("kafka")).expect("secret dir");
        std::fs::write(secrets.join("kafka/password"), password).expect("password file");
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/workers/connect-distributed-sasl-ssl.properties");
        let text = std::fs::read_to_string(&file).expect("MSK-style worker file");
        for place in ["bootstrap.servers=", "/etc/kafka/ca.pem", "/run/secrets"] {
            assert!(text.contains(place), "{} has no {place}", file.display());
        }
        let text = text
            .lines()
            .map(|line| {
                if line.starts_with("bootstrap.servers=") {
                    format!("bootstrap.servers={}", self.bootstrap)
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace("/etc/kafka/ca.pem", &self.certs.ca.display().to_string())
            .replace("/run/secrets", &secrets.display().to_string());
        let worker = dir.join(format!("{name}.properties"));
        std::fs::write(&worker, text).expect("worker");
        worker
    }
}

/// A successful SASL login on a real broker: the repository's MSK-style worker file
/// (SASL_SSL, SCRAM-SHA-512 from `sasl.jaas.config`, the user from the environment, the
/// password from a mounted secret) applies the recording, published over SASL_SSL, and its
/// dead-letter producer logs in to publish a poison record's dead letter. Then SCRAM-SHA-256
/// with librdkafka's own keys applies one table.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_over_sasl_ssl_with_scram_applies_and_dead_letters() {
    let kafka = SaslSsl::start();
    let client = kafka.client("SCRAM-SHA-512", KAFKA_PASSWORD);
    let prefix = publish_inventory(&kafka.bootstrap, client.clone()).await;
    publish_poison(&kafka.bootstrap, &client, &format!("{prefix}.poison")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = kafka.msk_worker(dir.path(), "msk", KAFKA_PASSWORD);
    let url = Postgres::database();
    let dlq = random_name("dlq");
    let config = dead_lettering_config(&prefix, &url, &dlq);
    let connector = connector_file(dir.path(), &random_name("sasl"), config);
    let env = [("KAFKA_USER", KAFKA_USER)];
    let mut child = spawn_run_with_env(dir.path(), &worker, &[&connector], true, "run.log", &env);
    let log = dir.path().join("run.log");
    let status = wait(&mut child, Duration::from_secs(180), &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "sluice run failed ({status}):\n{text}");
    support::assert_pg_matches(&url, &inventory_oracle(), |n| n.to_string()).await;
    assert!(text.contains("records dead-lettered"), "{text}");
    assert!(
        !text.contains(KAFKA_PASSWORD),
        "the password leaked:\n{text}"
    );
    assert_poison_dead_lettered(&kafka.bootstrap, &client, &dlq, &prefix, &kafka.stunnel);

    // SCRAM-SHA-256, with `sasl.username` and `sasl.password`: the customers table applies.
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &kafka.bootstrap);
    let mut text = std::fs::read_to_string(&worker).expect("worker");
    for (k, v) in kafka.client("SCRAM-SHA-256", KAFKA_PASSWORD) {
        text.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(&worker, text).expect("worker");
    let url = Postgres::database();
    let mut config = sink_config(&prefix, &jdbc(&url), true);
    config["topics.regex"] = format!("{prefix}\\.dbserver1\\.public\\.customers").into();
    let connector = connector_file(dir.path(), &random_name("sha256"), config);
    run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(120));
    let mut customers = inventory_oracle();
    customers
        .tables
        .retain(|name, _| name == "public.customers");
    support::assert_pg_matches(&url, &customers, |n| n.to_string()).await;
}

/// The MSK-style worker file with a wrong password in the mounted secret: `sluice run` stops
/// the connector FAILED naming the broker's refusal (`invalid-proof`) and exits 1, and
/// `validate` says why under `bootstrap.servers`; the password is never printed. The right
/// password passes `validate`.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_kafka_password_is_refused_by_run_and_validate() {
    let kafka = SaslSsl::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = kafka.msk_worker(dir.path(), "wrong", WRONG_PASSWORD);
    let url = Postgres::database();
    let connector = connector_file(dir.path(), "login", sink_config("t", &jdbc(&url), true));
    let env = [("KAFKA_USER", KAFKA_USER)];
    run_refused(
        dir.path(),
        &wrong,
        &connector,
        &env,
        "invalid-proof",
        WRONG_PASSWORD,
    );

    let validate = |worker: &Path| {
        let (code, out, err) = support::sluice::command_output_with_env(
            &[&"validate", &"--worker", &worker, &connector],
            &env,
        );
        assert!(!out.contains(WRONG_PASSWORD) && !err.contains(WRONG_PASSWORD));
        (code, format!("{out}{err}"))
    };
    let (code, out) = validate(&wrong);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("bootstrap.servers") && out.contains("invalid-proof"),
        "validate does not give the login failure's reason:\n{out}"
    );
    let right = kafka.msk_worker(dir.path(), "right", KAFKA_PASSWORD);
    let (code, out) = validate(&right);
    assert_eq!(code, 0, "{out}");
}

/// The broker dies: readiness turns 503 within the configured time
/// (`sluice.health.unreachable.timeout.ms=2000`) naming the broker, and 200 again once a
/// broker answers on the same port; the connector itself keeps retrying (RUNNING).
#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_the_broker() {
    let mut tansu = Tansu::start();
    let prefix = publish_inventory(&tansu.bootstrap(), Vec::new()).await;
    let url = Postgres::database();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let port = support::free_port();
    let mut text = std::fs::read_to_string(&worker).expect("worker");
    text.push_str(&format!(
        "sluice.metrics.address=127.0.0.1:{port}\nsluice.health.unreachable.timeout.ms=2000\n"
    ));
    std::fs::write(&worker, text).expect("worker");
    let connector = connector_file(
        dir.path(),
        "follow",
        sink_config(&prefix, &jdbc(&url), true),
    );
    let mut child = spawn_run(dir.path(), &worker, &[&connector], false, "run.log");
    let log = dir.path().join("run.log");
    let until = |want: u16, within: Duration, what: &str| {
        let started = Instant::now();
        loop {
            if let Some((code, body)) = ready(port) {
                if code == want {
                    return (started.elapsed(), body);
                }
            }
            assert!(
                started.elapsed() < within,
                "{what} not within {within:?}; log:\n{}",
                support::tail(&log, 30)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    until(200, Duration::from_secs(60), "ready while the broker runs");
    tansu.stop();
    let (_, body) = until(503, Duration::from_secs(15), "503 after the broker died");
    assert!(
        body["connectors"]["follow"]["unreachable"]["broker"].is_object(),
        "the broker is not named: {body}"
    );
    assert_eq!(body["connectors"]["follow"]["state"], "RUNNING", "{body}");
    tansu.restart();
    until(
        200,
        Duration::from_secs(30),
        "ready again after the broker returned",
    );
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    wait(&mut child, Duration::from_secs(60), &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // Each consumer (each task, with `tasks.max` > 1) logs the outage a few times, not per retry.
    let mut per_task: std::collections::BTreeMap<&str, usize> = Default::default();
    for line in text.lines().filter(|l| l.contains("kafka unreachable")) {
        let task = line
            .split_once("task{name=")
            .map_or("", |(_, rest)| rest.split('}').next().unwrap_or(""));
        *per_task.entry(task).or_default() += 1;
    }
    assert!(
        per_task.values().all(|n| *n <= 4),
        "{per_task:?} lines:\n{text}"
    );
}
