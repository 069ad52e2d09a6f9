//! The dead-letter path (`errors.tolerance=all`): a poison corpus of bad records at every
//! stage (decode, transform, resolve, write) mixed into a valid stream. Every bad record is
//! dead-lettered exactly once, with its stage, reason and coordinates, byte for byte; every good
//! record is applied; the checkpoint passes all of them; the dead-letter topic gets each one
//! keyed `topic/partition/offset` with Kafka Connect's headers. On librdkafka's mock cluster +
//! SQLite (fast) and on tansu + PostgreSQL (real components), plus the ratio guard and
//! `sluice dlq replay`.

mod support;

use rdkafka::mocking::MockCluster;
use sluice::config::ConnectorConfig;
use std::time::Duration;
use support::dlq::{
    check_target, check_topic, dead_letters, poison_config, publish_records, reset_to_zero,
};
use support::poison::{self, Record};

#[tokio::test(flavor = "multi_thread")]
async fn poison_corpus_on_the_mock_cluster_and_sqlite() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let topic = "poison.public.items";
    cluster.create_topic(topic, 1, 1).expect("topic");
    // The mock cluster answers no CreateTopics: the dead-letter topic is made here.
    cluster.create_topic("poison-dlq", 1, 1).expect("topic");
    let stream = poison::stream(false);
    publish_records(&cluster.bootstrap_servers(), topic, &stream).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("poison.db");
    let url = format!("sqlite:{}", db.display());
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
            .await
            .expect("sqlite");
        sqlx::raw_sql(poison::TABLE_DDL_SQLITE)
            .execute(&mut conn)
            .await
            .expect("items table");
    }
    let config = poison_config("poison", topic, &url, serde_json::json!({}));
    let worker = support::sluice::mock_worker(cluster.bootstrap_servers());
    let report = support::sluice::run_library(&worker, config.clone())
        .await
        .expect("the pipeline goes on past every bad record");
    let dead: u64 = report.dead_letters.values().sum();
    let bad = stream.iter().filter(|r| r.bad.is_some()).count();
    assert_eq!(dead as usize, bad, "{report:?}");
    check_target(&config, &stream, false).await;
    check_topic(&cluster.bootstrap_servers(), &config, &stream);
    let letters = dead_letters(&config).await;
    assert!(
        letters.iter().all(|l| l.published_at_ms.is_some()),
        "every dead letter marked published"
    );
    // A second run over the same records (a replay by offset reset) doubles nothing: the
    // dead letters count a second failure instead.
    reset_to_zero(&config, topic, stream.len() as i64).await;
    support::sluice::run_library(&worker, config.clone())
        .await
        .expect("second run");
    let again = dead_letters(&config).await;
    assert_eq!(again.len(), letters.len(), "dead letters doubled");
    assert!(again.iter().all(|l| l.failures == 2), "each failed twice");
    // Each failure reaches the dead-letter topic, as Kafka Connect reports every one.
    assert!(
        again.iter().all(|l| l.published_at_ms.is_some()),
        "a repeat failure left unpublished: {again:?}"
    );
    check_topic(&cluster.bootstrap_servers(), &config, &stream);
    let copies = support::dlq::read_topic(&cluster.bootstrap_servers(), "poison-dlq", 2 * bad);
    for letter in &again {
        let c = &letter.letter.record.coordinates;
        let key = format!("{}/{}/{}", c.topic, c.partition, c.offset);
        let n = copies
            .iter()
            .filter(|r| r.key.as_deref() == Some(key.as_bytes()))
            .count();
        assert_eq!(n, 2, "{key}: {n} copies on the dead-letter topic");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_that_dead_letters_everything_stops_before_committing() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let topic = "garbage";
    cluster.create_topic(topic, 1, 1).expect("topic");
    cluster.create_topic("ratio-dlq", 1, 1).expect("topic");
    let garbage: Vec<Record> = (0..300)
        .map(|i| Record {
            key: Some(format!("{{\"id\":{i}}}").into_bytes()),
            value: Some(format!("not json {i}").into_bytes()),
            headers: Vec::new(),
            bad: None,
        })
        .collect();
    publish_records(&cluster.bootstrap_servers(), topic, &garbage).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("ratio.db").display());
    let config = poison_config(
        "ratio",
        topic,
        &url,
        serde_json::json!({"sluice.errors.max.ratio": "0.2", "batch.size": "100", "schema.evolution": "basic"}),
    );
    let worker = support::sluice::mock_worker(cluster.bootstrap_servers());
    let result = support::sluice::run_library(&worker, config.clone()).await;
    let Err(sluice::pipeline::PipelineError::TooManyErrors(message)) = result else {
        panic!("expected the ratio guard to stop the connector, got {result:?}");
    };
    assert!(message.contains("sluice.errors.max.ratio=0.2"), "{message}");
    assert!(message.contains("garbage/0/"), "{message}");
    // Only a first batch too small to judge may have been dead-lettered.
    let dead = dead_letters(&config).await.len();
    assert!(dead < 100, "{dead} dead-lettered before the guard stopped");
}

/// The poison corpus on real components, through the binary: the first run dies (abort, as
/// a kill -9) right after committing a batch with dead letters and before publishing them;
/// the restart publishes them and finishes the stream. Then `sluice dlq` lists them and
/// replays one after a fix, exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn poison_corpus_on_tansu_and_postgresql_with_a_crash_before_publication() {
    use support::sluice::{binary, command_output, connector_file, run_to_end, wait, worker_file};
    let tansu = support::Tansu::start();
    let topic = support::random_name("poison");
    tansu.create_topic(&topic, 1);
    let stream = poison::stream(true);
    publish_records(&tansu.bootstrap(), &topic, &stream).await;
    let url = support::Postgres::database();
    let database = url.rsplit('/').next().expect("database").to_string();
    support::Postgres::shared().psql(&database, poison::TABLE_DDL_POSTGRES);
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let name = support::random_name("poison");
    let mut keys = poison::connector_config(&topic, &url);
    keys["errors.deadletterqueue.topic.name"] = format!("{name}-dlq").into();
    keys["errors.deadletterqueue.topic.replication.factor"] = "1".into();
    let connector = connector_file(dir.path(), &name, keys);
    let config = ConnectorConfig::from_file(&connector).expect("config");
    let dlq = config.dlq_topic.clone().expect("dlq topic");

    let log = dir.path().join("crash.log");
    let mut child = std::process::Command::new(binary())
        .arg("run")
        .arg("--worker")
        .arg(&worker)
        .arg("--stop-at-end")
        .arg(&connector)
        .env("SLUICE_FAILPOINT", "abort-after-dead-letter-commit")
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.path().join("crash.err")).expect("log"))
        .spawn()
        .expect("spawn sluice");
    let status = wait(&mut child, Duration::from_secs(120), &log);
    assert!(!status.success(), "the failpoint did not abort the run");
    let committed = dead_letters(&config).await;
    assert!(
        !committed.is_empty(),
        "no dead letter committed before the crash"
    );
    assert!(
        committed.iter().all(|l| l.published_at_ms.is_none()),
        "published before the crash: {committed:?}"
    );
    assert!(
        support::dlq::read_topic(&tansu.bootstrap(), &dlq, 0).is_empty(),
        "the dead-letter topic got records before the crash"
    );

    // (The first run may have committed the whole stream in its one batch.)
    run_to_end(dir.path(), &worker, &[&connector], Duration::from_secs(180));
    check_target(&config, &stream, true).await;
    check_topic(&tansu.bootstrap(), &config, &stream);
    let letters = dead_letters(&config).await;
    assert!(letters.iter().all(|l| l.published_at_ms.is_some()));

    // `sluice dlq list --json` shows them all, `--from-topic` the topic's copies.
    let (code, listed, err) = command_output(&[&"dlq", &"list", &"--json", &connector]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(letters.len()));
    let (code, from_topic, err) = command_output(&[
        &"dlq",
        &"list",
        &"--json",
        &"--from-topic",
        &"--worker",
        &worker,
        &connector,
    ]);
    assert_eq!(code, 0, "{err}");
    let from_topic: serde_json::Value = serde_json::from_str(&from_topic).expect("json");
    assert!(from_topic.as_array().map(Vec::len).unwrap_or(0) >= letters.len());
    replay_after_a_fix(&config, &connector, &database).await;
    // `sluice status` counts and lists the dead letters still waiting (one was replayed).
    let (code, status, err) =
        command_output(&[&"status", &"--json", &"--worker", &worker, &connector]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&status).expect("json");
    let report = status.as_array().and_then(|a| a.first()).unwrap_or(&status);
    let waiting = letters.len() - 1;
    assert_eq!(report["statistics"]["errors"], waiting, "{report}");
    let listed = report["errors"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(listed, waiting.min(100), "{report}");
    assert!(report["errors"][0]["reason"].is_string(), "{report}");
}

/// `sluice dlq replay` of the dead letter routed to a missing table: it still fails (and says
/// why) before the fix; once the table exists a dry run writes nothing, the replay writes the
/// row and marks the dead letter replayed, and a second replay is refused.
async fn replay_after_a_fix(config: &ConnectorConfig, connector: &std::path::Path, database: &str) {
    use support::sluice::command_output;
    let pg = support::Postgres::shared();
    let letters = dead_letters(config).await;
    let missing = letters
        .iter()
        .find(|l| l.letter.message.contains(poison::MISSING_TABLE))
        .unwrap_or_else(|| panic!("no dead letter for {}: {letters:?}", poison::MISSING_TABLE));
    let id = missing.id.to_string();
    let (code, shown, err) = command_output(&[&"dlq", &"show", &id, &"--json", &connector]);
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["stage"], "write");
    assert_eq!(shown["connect_stage"], "TASK_PUT");
    assert_eq!(shown["offset"], missing.letter.record.coordinates.offset);
    assert!(shown["reason"]
        .as_str()
        .unwrap_or("")
        .contains(poison::MISSING_TABLE));
    assert!(
        shown["value"]
            .as_str()
            .unwrap_or("")
            .contains("\"op\":\"c\""),
        "{shown}"
    );
    let replay = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"dlq", &"replay", &"--id", &id];
        for e in extra {
            args.push(e);
        }
        args.push(&connector);
        command_output(&args)
    };
    let (code, out, _) = replay(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("still failing"), "{out}");
    let count = || {
        pg.psql(
            database,
            &format!("SELECT count(*) FROM {}", poison::MISSING_TABLE),
        )
        .trim()
        .to_string()
    };
    pg.psql(
        database,
        &format!(
            "CREATE TABLE {} (LIKE items INCLUDING ALL)",
            poison::MISSING_TABLE
        ),
    );
    let (code, out, err) = replay(&["--dry-run"]);
    assert_eq!((code, out.contains("would apply")), (0, true), "{out}{err}");
    assert_eq!(count(), "0", "a dry run wrote");
    let (code, out, err) = replay(&[]);
    assert_eq!((code, out.contains("replayed")), (0, true), "{out}{err}");
    assert_eq!(count(), "1");
    let (code, out, _) = replay(&[]);
    assert_eq!((code, out.contains("already replayed")), (0, true), "{out}");
    assert_eq!(count(), "1", "replayed twice");
    let after = dead_letters(config).await;
    let replayed = after
        .iter()
        .find(|l| l.id == missing.id)
        .expect("still listed");
    assert_eq!(replayed.status, "replayed");
    assert_eq!(replayed.failures, 2, "the failed replay was counted");
}

/// Writes to `items` take `seconds` per row, so isolating a refused batch takes long enough
/// to be interrupted.
fn slow_items(database: &str, seconds: f64) {
    support::Postgres::shared().psql(
        database,
        &format!(
            "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$; \
             CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON items FOR EACH ROW \
             EXECUTE FUNCTION slow_row();"
        ),
    );
}

/// A poison run on tansu and PostgreSQL with a slow `items` table, started in the background:
/// returns the broker, the stream, the config, its files and the running child once the
/// connector is isolating the records of a refused batch.
struct SlowPoison {
    tansu: support::Tansu,
    topic: String,
    stream: Vec<Record>,
    config: ConnectorConfig,
    database: String,
    dir: tempfile::TempDir,
    worker: std::path::PathBuf,
    connector: std::path::PathBuf,
}

impl SlowPoison {
    async fn start(grace_ms: u64, extra: serde_json::Value) -> SlowPoison {
        let tansu = support::Tansu::start();
        let topic = support::random_name("poison");
        tansu.create_topic(&topic, 1);
        let stream = poison::stream(true);
        publish_records(&tansu.bootstrap(), &topic, &stream).await;
        let url = support::Postgres::database();
        let database = url.rsplit('/').next().expect("database").to_string();
        support::Postgres::shared().psql(&database, poison::TABLE_DDL_POSTGRES);
        slow_items(&database, 0.003);
        let dir = tempfile::tempdir().expect("tempdir");
        let worker = support::sluice::worker_file(dir.path(), &tansu.bootstrap());
        let mut text = std::fs::read_to_string(&worker).expect("worker");
        text.push_str(&format!("sluice.shutdown.timeout.ms={grace_ms}\n"));
        std::fs::write(&worker, text).expect("worker");
        let name = support::random_name("slow");
        let mut keys = poison::connector_config(&topic, &url);
        keys["errors.deadletterqueue.topic.name"] = format!("{name}-dlq").into();
        keys["errors.deadletterqueue.topic.replication.factor"] = "1".into();
        // The whole stream in one batch: nothing is committed or published before it.
        keys["batch.size"] = "10000".into();
        keys["sluice.batch.linger.ms"] = "2000".into();
        for (k, v) in extra.as_object().expect("object") {
            keys[k] = v.clone();
        }
        let connector = support::sluice::connector_file(dir.path(), &name, keys);
        let config = ConnectorConfig::from_file(&connector).expect("config");
        SlowPoison {
            tansu,
            topic,
            stream,
            config,
            database,
            dir,
            worker,
            connector,
        }
    }

    fn log(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Waits until `log` contains `text`.
    fn wait_for_line(&self, log: &str, text: &str, timeout: Duration) {
        let path = self.log(log);
        let deadline = std::time::Instant::now() + timeout;
        while !std::fs::read_to_string(&path)
            .unwrap_or_default()
            .contains(text)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                support::tail(&path, 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `sluice run` in the background, once it is isolating the records of the refused batch.
    fn spawn_until_isolating(&self, log: &str) -> support::sluice::Sluice {
        let child = support::sluice::spawn_run(
            self.dir.path(),
            &self.worker,
            &[&self.connector],
            false,
            log,
        );
        self.wait_for_line(
            log,
            "isolating the records it refuses",
            Duration::from_secs(120),
        );
        child
    }

    /// SIGTERM to `child`, which must exit 0 within `bound`; returns its log.
    fn terminate_within(
        &self,
        child: &mut support::sluice::Sluice,
        log: &str,
        bound: Duration,
    ) -> String {
        let signalled = std::time::Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        let status = support::sluice::wait(child, Duration::from_secs(90), &self.log(log));
        let took = signalled.elapsed();
        let text = std::fs::read_to_string(self.log(log)).unwrap_or_default();
        assert!(
            took < bound,
            "SIGTERM took {took:?} (bound {bound:?}):\n{text}"
        );
        assert!(status.success(), "exit status {status}:\n{text}");
        text
    }

    /// The table fast again, the stream finished from the checkpoint: every good record
    /// applied and every bad one dead-lettered exactly once, on the target and the topic.
    async fn finish_and_check(&self) {
        support::Postgres::shared().psql(&self.database, "DROP TRIGGER slow ON items");
        support::sluice::run_to_end(
            self.dir.path(),
            &self.worker,
            &[&self.connector],
            Duration::from_secs(180),
        );
        check_target(&self.config, &self.stream, true).await;
        check_topic(&self.tansu.bootstrap(), &self.config, &self.stream);
    }
}

/// SIGTERM while a refused batch is being bisected (each probe is a slow transaction): the
/// connector stops within the grace period, commits nothing of the batch, exits 0; the
/// restart applies the stream exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_bisection_stops_within_the_grace_period() {
    let run = SlowPoison::start(1000, serde_json::json!({})).await;
    let mut child = run.spawn_until_isolating("bisect.log");
    let log = run.terminate_within(&mut child, "bisect.log", Duration::from_secs(4));
    assert!(
        log.contains("stopped without committing the in-flight batch")
            && !log.contains("isolated the records the target refuses"),
        "the bisection was not abandoned:\n{log}"
    );
    assert!(
        dead_letters(&run.config).await.is_empty(),
        "dead letters of the abandoned batch were committed"
    );
    run.finish_and_check().await;
}

/// The broker dies while a batch with bad records is in flight: the batch commits (the target
/// is fine), its dead letters cannot be published, SIGTERM stops the connector within the
/// grace period anyway. With the broker back, the restart publishes them; every dead letter
/// exists once.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_dead_letters_cannot_be_published() {
    let mut run = SlowPoison::start(
        3000,
        serde_json::json!({"producer.override.message.timeout.ms": "2000"}),
    )
    .await;
    let mut child = run.spawn_until_isolating("outage.log");
    run.tansu.stop();
    run.wait_for_line(
        "outage.log",
        "publishing dead letters failed; retrying",
        Duration::from_secs(180),
    );
    let committed = dead_letters(&run.config).await;
    assert!(!committed.is_empty(), "no dead letter committed");
    assert!(committed.iter().all(|l| l.published_at_ms.is_none()));
    let log = run.terminate_within(&mut child, "outage.log", Duration::from_secs(15));
    assert!(
        log.contains("dead letters left unpublished at shutdown"),
        "{log}"
    );
    // The broker back (empty: memory storage), the same records republished at the same
    // offsets; the checkpoint in the target says where to continue.
    run.tansu.restart();
    run.tansu.create_topic(&run.topic, 1);
    publish_records(&run.tansu.bootstrap(), &run.topic, &run.stream).await;
    run.finish_and_check().await;
}
