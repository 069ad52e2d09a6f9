//! Live end-to-end with real Debezium: nothing recorded, every component real.
//!
//! A source PostgreSQL (`wal_level=logical`, `compose/source-db/01-inventory.sql`) is captured by
//! Debezium 3.6.3's PostgreSQL connector, run from `connectors/debezium-source-inventory.json` —
//! the file compose registers on its Debezium worker — with host and port substituted and its
//! `${directory:/run/secrets:...}` password read from a scratch directory, by
//! `tests/debezium/EmbeddedDebezium.java`, which publishes to tansu with the converters of the
//! compose Debezium worker. `sluice worker`, started from compose's worker file
//! (`compose/sluice/worker.properties`, see [`worker_file`] for what is substituted), gets
//! `connectors/inventory-postgres.json` over its REST API and applies the topics to a target
//! PostgreSQL. While it applies, the source takes `tests/debezium/workload.sql`: inserts,
//! updates, deletes, a multi-table transaction, a primary key change, `ALTER TABLE ... ADD
//! COLUMN` with rows using the column, and a TRUNCATE. Once sluice's offsets
//! (GET /connectors/NAME/offsets) reach the end offsets Debezium produced up to its end marker,
//! every source table must equal its target table, row by row and column by column, with
//! nothing dead-lettered.
//!
//! `compose/live-local.sh` is the same run for a user, from the machine's binaries.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{check_pg_matches, debezium, http, read_pg_tables, Postgres, Tansu};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn connector(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The source config, as compose registers it on its Debezium worker.
const SOURCE: &str = "connectors/debezium-source-inventory.json";
/// Its password: a compose secret (`/run/secrets/NAME`, one file per secret, as in a Kubernetes
/// Secret volume) read by Connect's `DirectoryConfigProvider`. The test puts the file in a
/// scratch directory and points the placeholder there.
const SECRETS: &str = "/run/secrets";
const PASSWORD: &str = "${directory:/run/secrets:source-db-password}";
/// The converter keys a Debezium worker chooses for its connectors.
const CONVERTER_KEYS: [&str; 4] = [
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
];

/// The source config is the one the sink config was written for: its topics are the sink's, it
/// leaves the converters to the worker (compose's Avro variant switches them there;
/// tests/deploy_files.rs checks the worker's are the sink's), it emits the truncates the sink
/// applies, and every topic it writes is defined in `topics/`.
#[test]
fn the_debezium_source_config_feeds_the_sink_config() {
    let source = connector(SOURCE);
    let sink = connector("connectors/inventory-postgres.json");
    let (src, snk) = (&source["config"], &sink["config"]);
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    assert_eq!(source["name"], "debezium-source-inventory");
    assert_eq!(
        text(src, "connector.class"),
        "io.debezium.connector.postgresql.PostgresConnector"
    );
    assert_eq!(text(src, "plugin.name"), "pgoutput");
    assert_eq!(text(src, "database.password"), PASSWORD);
    for key in CONVERTER_KEYS {
        assert!(src.get(key).is_none(), "{SOURCE}: {key} is the worker's");
    }
    // Debezium skips truncates unless told not to; the sink applies them.
    assert_eq!(text(snk, "truncate.enabled"), "true");
    assert_eq!(text(src, "skipped.operations"), "none");
    let sink_topics =
        regex::Regex::new(&format!("^(?:{})$", text(snk, "topics.regex"))).expect("topics.regex");
    let defined = std::fs::read_to_string(repo("topics/inventory.json")).expect("topics/");
    let defined: Value = serde_json::from_str(&defined).expect("topics/inventory.json");
    let tables = text(src, "table.include.list");
    assert!(!tables.is_empty());
    for table in tables.split(',') {
        let topic = format!("{}.{}", text(src, "topic.prefix"), table.trim());
        assert!(sink_topics.is_match(&topic), "{topic} is not a sink topic");
        assert!(
            defined["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["name"] == topic.as_str()),
            "{topic} is not defined in topics/inventory.json"
        );
    }
}

/// Compose's sluice worker file (`compose/sluice/worker.properties`) for this machine. Changed:
/// - `bootstrap.servers` and `listeners`: the compose host names (`kafka`, every interface) are
///   this run's tansu and a free loopback port;
/// - `/run/secrets` (compose's secret mount, the directory provider's `allowed.paths`): `secrets`;
/// - the test-speed settings tansu needs (as in tests/support/sluice.rs `worker_file` and
///   `worker_mode_file`): a consumer session of 6 s with 500 ms heartbeats and a worker group
///   session of 4 s (tansu joins slowly with the defaults), and `consumer.fetch.wait.max.ms=100`
///   (tansu holds a fetch for the whole wait whenever a partition is at its end, so the last
///   records of a topic would trickle in at 500 ms per fetch).
///
/// Every other key (group, config and status topics, shutdown bound, providers) is compose's.
fn worker_file(dir: &Path, bootstrap: &str, rest: u16, secrets: &Path) -> PathBuf {
    let compose = std::fs::read_to_string(repo("compose/sluice/worker.properties"))
        .expect("compose/sluice/worker.properties");
    let mut replaced: BTreeMap<&str, String> = BTreeMap::from([
        ("bootstrap.servers", bootstrap.to_string()),
        ("listeners", format!("http://127.0.0.1:{rest}")),
        ("consumer.session.timeout.ms", "6000".to_string()),
        ("consumer.heartbeat.interval.ms", "500".to_string()),
        ("consumer.fetch.wait.max.ms", "100".to_string()),
        ("session.timeout.ms", "4000".to_string()),
        ("heartbeat.interval.ms", "500".to_string()),
    ]);
    for key in ["bootstrap.servers", "listeners"] {
        let set = compose
            .lines()
            .any(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key));
        assert!(set, "compose/sluice/worker.properties sets no {key}");
    }
    let mut text = String::new();
    for line in compose.lines() {
        let local = line.replace(SECRETS, &secrets.display().to_string());
        match local.split_once('=') {
            Some((key, _)) if !local.starts_with('#') && replaced.contains_key(key.trim()) => {
                let value = replaced.remove(key.trim()).expect("key");
                text.push_str(&format!("{}={value}\n", key.trim()));
            }
            _ => text.push_str(&format!("{local}\n")),
        }
    }
    text.push_str("\n# test speed on tansu (tests/live_debezium.rs)\n");
    for (key, value) in replaced {
        text.push_str(&format!("{key}={value}\n"));
    }
    let path = dir.join("worker.properties");
    std::fs::write(&path, text).expect("write worker file");
    path
}

/// `tests/debezium/workload.sql` split at its `-- step:` lines: (name, SQL).
fn workload_steps() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo("tests/debezium/workload.sql")).expect("workload");
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- step:") {
            steps.push((name.trim().to_string(), String::new()));
        } else if let Some((_, sql)) = steps.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    steps
}

/// Polls `GET path` until `ok` holds; panics with the last answer and the worker's log.
fn until(
    port: u16,
    path: &str,
    within: Duration,
    log: &Path,
    ok: impl Fn(u16, &Value) -> bool,
) -> Value {
    support::http_until(port, path, within, "the worker", Some(log), ok)
}

/// sluice's next offset per (topic, partition), from Connect's offsets body.
fn offsets(body: &Value) -> BTreeMap<(String, i32), i64> {
    body["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let topic = o["partition"]["kafka_topic"].as_str()?.to_string();
            let partition = o["partition"]["kafka_partition"].as_i64()? as i32;
            Some(((topic, partition), o["offset"]["kafka_offset"].as_i64()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debezium_captures_a_live_workload_and_the_sluice_worker_replicates_it_exactly() {
    let Some(tools) = debezium::tools() else {
        return;
    };
    let started = Instant::now();
    let compiling = std::thread::spawn(move || tools.compile());
    let dir = tempfile::tempdir().expect("tempdir");

    let source = Postgres::dedicated();
    let target = Postgres::dedicated();
    for pg in [&source, &target] {
        pg.psql("postgres", "CREATE DATABASE inventory");
    }
    let schema =
        std::fs::read_to_string(repo("compose/source-db/01-inventory.sql")).expect("schema");
    source.psql("inventory", &schema);
    let tansu = Tansu::start();
    let (code, out) = support::sluice::command(&[
        &"topics",
        &"apply",
        &repo("topics"),
        &"--bootstrap-servers",
        &tansu.bootstrap(),
    ]);
    assert_eq!(code, 0, "sluice topics apply topics/: {out}");

    // The secrets compose mounts at /run/secrets, here a scratch directory. DirectoryConfigProvider
    // reads a whole file: no trailing newline (compose/secrets/ has none either).
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("secrets dir");
    std::fs::write(secrets.join("source-db-password"), "unused-with-trust-auth").expect("secret");

    // sluice worker, and the sink connector posted as a user would (connection.url substituted).
    let rest = support::free_port();
    let worker = worker_file(dir.path(), &tansu.bootstrap(), rest, &secrets);
    let log = dir.path().join("worker.log");
    let _worker = support::sluice::spawn_worker_with_env(
        dir.path(),
        &worker,
        "worker.log",
        &[("SLUICE_PG_PASSWORD", "unused-with-trust-auth")],
    );
    until(rest, "/", Duration::from_secs(30), &log, |c, _| c == 200);
    let mut sink = connector("connectors/inventory-postgres.json");
    let name = sink["name"].as_str().expect("name").to_string();
    sink["config"]["connection.url"] = json!(format!(
        "jdbc:postgresql://127.0.0.1:{}/inventory",
        target.port()
    ));
    let posted = Instant::now();
    let created = loop {
        let answer = http(rest, "POST", "/connectors", Some(&sink)).expect("answer");
        // 409 while the worker group settles after start, as Connect answers; clients retry.
        if answer.0 != 409 || posted.elapsed() > Duration::from_secs(30) {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(created.0, 201, "POST /connectors: {}", created.1);

    // Debezium, from the shipped source config: only its secrets directory is rewritten, host and
    // port are overrides; the converters are those of compose's Debezium worker, which are the
    // sink's (tests/deploy_files.rs checks them).
    let shipped = std::fs::read_to_string(repo(SOURCE)).expect("source config");
    assert!(shipped.contains(PASSWORD), "the password placeholder moved");
    let source_config = dir.path().join("debezium-source-inventory.json");
    let local = shipped.replace(SECRETS, &secrets.display().to_string());
    std::fs::write(&source_config, local).expect("source config");
    let mut overrides = vec![
        ("database.hostname", "127.0.0.1".to_string()),
        ("database.port", source.port().to_string()),
    ];
    for key in CONVERTER_KEYS {
        let value = sink["config"][key].as_str().expect("sink converter");
        overrides.push((key, value.to_string()));
    }
    let compiled = compiling.join().expect("javac");
    let mut debezium = compiled.start(&source_config, &tansu.bootstrap(), &overrides);
    // The password came from the secret file through DirectoryConfigProvider (the source's trust
    // auth would accept the placeholder left as it is, so this line is the proof).
    debezium.wait_for_line(
        "[debezium] resolved by config providers: database.password",
        Duration::from_secs(30),
    );
    debezium.wait_for_line("[debezium] snapshot complete", Duration::from_secs(60));
    eprintln!("snapshot published after {:?}", started.elapsed());

    // The workload, step by step, while sluice applies. After the schema change the target's
    // customers must catch up with the added column before the source goes on (the truncate and
    // the rows after it): sluice evolves the table mid-stream, not at the end.
    let source_url = source.url("inventory");
    let target_url = target.url("inventory");
    for (step, sql) in workload_steps() {
        source.psql("inventory", &sql);
        let applied = offsets(
            &http(rest, "GET", &format!("/connectors/{name}/offsets"), None)
                .map(|(_, body)| body)
                .unwrap_or_default(),
        );
        eprintln!("workload step `{step}` applied to the source; sluice's offsets {applied:?}");
        if step == "schema change" {
            let customers = vec!["public.customers".to_string()];
            let expected = read_pg_tables(&source_url, "after the schema change", &customers).await;
            let deadline = Instant::now() + Duration::from_secs(30);
            while let Err(diff) = check_pg_matches(&target_url, &expected, |n| n.to_string()).await
            {
                assert!(
                    Instant::now() < deadline,
                    "customers not caught up after the schema change:\n{diff}\nworker log:\n{}",
                    support::tail(&log, 40)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            eprintln!("target customers caught up with the added column mid-workload");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ends = debezium.marker("done", Duration::from_secs(30));
    let table_ends: BTreeMap<(String, i32), i64> = ends
        .into_iter()
        .filter(|((topic, _), _)| topic.starts_with("dbserver1.public."))
        .collect();
    assert_eq!(table_ends.len(), 4, "a topic per table: {table_ends:?}");

    // Caught up: sluice's checkpoint covers every record Debezium produced.
    let caught_up = until(
        rest,
        &format!("/connectors/{name}/offsets"),
        Duration::from_secs(45),
        &log,
        |c, body| {
            let got = offsets(body);
            c == 200
                && table_ends
                    .iter()
                    .all(|(tp, end)| got.get(tp).is_some_and(|n| n >= end))
        },
    );
    assert_eq!(
        offsets(&caught_up),
        table_ends,
        "sluice read past Debezium's end?"
    );
    eprintln!(
        "sluice caught up after {:?}: {table_ends:?}",
        started.elapsed()
    );

    // Every table, every row, every column.
    let tables: Vec<String> = source
        .psql(
            "inventory",
            "SELECT 'public.' || tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(tables.len(), 4, "{tables:?}");
    let expected = read_pg_tables(&source_url, "source at the end of the workload", &tables).await;
    let customers = expected.table("public.customers");
    assert!(
        customers.column_names().contains(&"phone"),
        "the schema change reached the source"
    );
    assert_eq!(
        expected.table("public.orders").rows.len(),
        2,
        "orders after the truncate"
    );
    if let Err(diff) = check_pg_matches(&target_url, &expected, |n| n.to_string()).await {
        panic!(
            "the target differs from the source:\n{diff}\nworker log:\n{}\nDebezium log:\n{}",
            support::tail(&log, 40),
            support::tail(debezium.log(), 40)
        );
    }
    let dead: i64 = target
        .psql("inventory", "SELECT count(*) FROM sluice_dead_letters")
        .trim()
        .parse()
        .expect("count");
    assert_eq!(
        dead,
        0,
        "records dead-lettered; worker log:\n{}",
        support::tail(&log, 40)
    );
    eprintln!(
        "target equals source: {} rows in {} tables, after {:?}",
        expected
            .tables
            .values()
            .map(|t| t.rows.len())
            .sum::<usize>(),
        expected.tables.len(),
        started.elapsed()
    );
}
