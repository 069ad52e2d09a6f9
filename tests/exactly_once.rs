//! Exactly-once under faults: a generated Debezium stream on a real broker (tansu) applied to a
//! real PostgreSQL by the sluice binary, which is killed with SIGKILL at random points and
//! restarted. The same body runs with faults off and on; both must end with the target equal to
//! the expected state and an append-only audit table holding every source change exactly once.

mod support;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::generate::{envelope, expected, stream, Change};
use support::sluice::{connector_file, spawn_run, wait, worker_file, Sluice};
use support::{random_name, Postgres, Tansu};

const PARTITIONS: i32 = 4;

/// Publishes events; `first` is the stream position of `events[0]` (its source lsn base).
async fn publish(bootstrap: &str, topic: &str, events: &[Change], first: usize) {
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    // send_result enqueues synchronously, so records keep the source order per partition.
    let mut pending = Vec::with_capacity(events.len());
    for (i, (id, op, version)) in events.iter().enumerate() {
        let (key, value) = envelope(op, *id, *version, 1000 + (first + i) as i64);
        let partition = (*id % PARTITIONS as i64) as i32;
        let mut record = FutureRecord::<str, str>::to(topic)
            .key(&key)
            .partition(partition);
        if let Some(v) = &value {
            record = record.payload(v);
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((e, back)) => {
                    assert!(
                        matches!(
                            e,
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull
                            )
                        ),
                        "produce: {e}"
                    );
                    record = back;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
    }
    for delivery in pending {
        delivery.await.expect("delivery future").expect("delivered");
    }
}

/// Records checkpointed so far by each connector's group (sum of its next offsets).
async fn checkpointed_per_group(url: &str) -> BTreeMap<String, i64> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('sluice_offsets')::text")
        .fetch_one(&mut conn)
        .await
        .expect("regclass");
    if exists.is_none() {
        return BTreeMap::new();
    }
    sqlx::query_as::<_, (String, i64)>(
        "SELECT group_id, CAST(coalesce(sum(next_offset), 0) AS BIGINT) FROM sluice_offsets \
         GROUP BY group_id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("sum")
    .into_iter()
    .collect()
}

/// Records checkpointed so far by both connectors (sum of next offsets in the target).
async fn checkpointed(url: &str) -> i64 {
    checkpointed_per_group(url).await.values().sum()
}

/// A published stream, a target database, and the main + audit connector files.
struct Setup {
    tansu: Tansu,
    events: Vec<Change>,
    url: String,
    dir: tempfile::TempDir,
    worker: PathBuf,
    names: (String, String),
}

impl Setup {
    async fn new() -> Setup {
        Self::with_stream(6000, 6000).await
    }

    /// Generates the stream and publishes its first `published` events.
    async fn with_stream(total: usize, published: usize) -> Setup {
        Self::with_stream_on(total, published, Postgres::database()).await
    }

    /// [`Setup::with_stream`] with the target database `url`.
    async fn with_stream_on(total: usize, published: usize, url: String) -> Setup {
        let tansu = Tansu::start();
        let topic = random_name("items");
        tansu.create_topic(&topic, PARTITIONS);
        let events = stream(400, total);
        publish(&tansu.bootstrap(), &topic, &events[..published], 0).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let worker = worker_file(dir.path(), &tansu.bootstrap());
        Setup {
            events,
            url,
            worker,
            names: (random_name("main"), random_name("audit")),
            dir,
            tansu,
        }
        .with_topic(topic)
    }

    fn with_topic(self, topic: String) -> Setup {
        std::fs::write(self.dir.path().join("topic"), topic).expect("topic file");
        self
    }

    /// Writes the two connectors into `sub` with the given batch settings; returns their paths.
    fn connectors(&self, sub: &str, batch: (&str, &str), linger_ms: &str) -> (PathBuf, PathBuf) {
        self.connectors_with(sub, batch, linger_ms, json!({}))
    }

    /// [`Setup::connectors`] with `extra` keys in both.
    fn connectors_with(
        &self,
        sub: &str,
        batch: (&str, &str),
        linger_ms: &str,
        extra: serde_json::Value,
    ) -> (PathBuf, PathBuf) {
        let dir = self.dir.path().join(sub);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let topic = std::fs::read_to_string(self.dir.path().join("topic")).expect("topic");
        let jdbc = format!(
            "jdbc:{}",
            self.url.replacen("postgres://", "postgresql://", 1)
        );
        let with_extra = |mut config: serde_json::Value| {
            for (k, v) in extra.as_object().expect("object") {
                config[k] = v.clone();
            }
            config
        };
        let main = connector_file(
            &dir,
            &self.names.0,
            with_extra(json!({
            "topics": topic, "connection.url": jdbc, "insert.mode": "upsert", "primary.key.mode": "record_key",
            "delete.enabled": "true", "schema.evolution": "basic", "collection.name.format": "${source.table}",
            "batch.size": batch.0, "sluice.batch.linger.ms": linger_ms})),
        );
        let audit = connector_file(
            &dir,
            &self.names.1,
            with_extra(json!({
            "topics": topic, "connection.url": jdbc, "insert.mode": "insert", "primary.key.mode": "none",
            "schema.evolution": "basic", "collection.name.format": "${source.table}_audit",
            "batch.size": batch.1, "sluice.batch.linger.ms": linger_ms})),
        );
        (main, audit)
    }

    /// The target equals the expected state and the audit table holds every change once.
    async fn verify(&self, what: &str) {
        let (expected, audit_expected) = expected(&self.events);
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
            .await
            .expect("connect");
        let rows: Vec<(i32, i32)> = sqlx::query_as("SELECT id, version FROM items ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("read items");
        let actual: BTreeMap<i64, i64> = rows
            .into_iter()
            .map(|(i, v)| (i as i64, v as i64))
            .collect();
        assert_eq!(
            actual, expected,
            "target differs from the expected state ({what})"
        );
        let (total, distinct): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT (id, version)) FROM items_audit")
                .fetch_one(&mut conn)
                .await
                .expect("read audit");
        assert_eq!(
            distinct, audit_expected,
            "audit table misses source changes ({what})"
        );
        assert_eq!(
            total, audit_expected,
            "audit table holds duplicates ({what})"
        );
    }
}

async fn exactly_once_body(kills: usize) {
    let setup = Setup::with_stream(40_000, 40_000).await;
    let (main, audit) = setup.connectors("run", ("40", "30"), "100");
    let dir = setup.dir.path();
    let total = setup.events.len() as i64 * 2;
    let mut seed: u64 = 42;
    let mut progress = Vec::new();
    for round in 0..kills {
        let mut child = spawn_run(
            dir,
            &setup.worker,
            &[&main, &audit],
            true,
            &format!("kill{round}.log"),
        );
        // The kill point is set by progress, not by time, so it lands mid-stream however fast
        // the machine is: both connectors must have committed in this run (past the group
        // join: a member killed while the group rebalances stalls tansu's group coordinator),
        // and the records checkpointed must pass a random share of what is left; then a random
        // delay puts the kill anywhere in the batch cycle.
        let start = checkpointed_per_group(&setup.url).await;
        let before: i64 = start.values().sum();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let share = 0.15 + ((seed >> 33) % 1000) as f64 / 1000.0 * 0.25;
        let target = before + ((total - before) as f64 * share) as i64;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let now = checkpointed_per_group(&setup.url).await;
            let every_group_moved = [&setup.names.0, &setup.names.1].iter().all(|name| {
                let group = format!("connect-{name}");
                now.get(&group).copied().unwrap_or(0) > start.get(&group).copied().unwrap_or(0)
            });
            if every_group_moved && now.values().sum::<i64>() >= target {
                break;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "round {round}: sluice exited ({status}) before the kill point:\n{}",
                    support::tail(&dir.join(format!("kill{round}.log")), 40)
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: no progress to {target} records in 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis((seed >> 20) % 300)).await;
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        progress.push(checkpointed(&setup.url).await);
    }
    if kills > 0 {
        // The kills must land mid-stream: some progress, but not the end, before the last one.
        let total = setup.events.len() as i64 * 2;
        assert!(
            progress.iter().any(|p| *p > 0 && *p < total),
            "no kill landed mid-stream: {progress:?} of {total}"
        );
        eprintln!(
            "checkpointed records (both connectors) after each kill: {progress:?} of {total}"
        );
    }
    let mut child = spawn_run(dir, &setup.worker, &[&main, &audit], true, "final.log");
    let status = wait(&mut child, Duration::from_secs(180), &dir.join("final.log"));
    assert!(
        status.success(),
        "final run failed:\n{}",
        support::tail(&dir.join("final.log"), 60)
    );
    setup.verify(&format!("after {kills} kills")).await;
}

/// Waits until `cond` holds, polling; panics with `what` after `timeout`.
async fn wait_until<F: std::future::Future<Output = bool>>(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + timeout;
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_once_without_faults() {
    exactly_once_body(0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_once_with_repeated_sigkill() {
    exactly_once_body(3).await;
}

/// A zombie: worker A holds an uncommitted batch (long linger) when it is frozen with SIGSTOP
/// past its session timeout; worker B takes the partitions over and claims them (epoch bump).
/// When A is thawed, its late commit must be refused by the fence (A exits with "fenced") and
/// nothing may be lost or doubled.
#[tokio::test(flavor = "multi_thread")]
async fn zombie_commit_is_fenced_and_nothing_is_doubled() {
    let setup = Setup::with_stream(6000, 3000).await;
    let dir = setup.dir.path();
    let topic = std::fs::read_to_string(dir.join("topic")).expect("topic");
    // A commits a partial batch only after 8 s of linger, so it can be frozen holding records
    // (4 s was not always enough: with another test beside it on 2 cores, publishing the second
    // half and the 1.5 s wait below took longer, and A committed before it was frozen).
    let (a_main, a_audit) = setup.connectors("a", ("100000", "100000"), "8000");
    let (b_main, b_audit) = setup.connectors("b", ("200", "200"), "100");
    let mut a = spawn_run(dir, &setup.worker, &[&a_main, &a_audit], false, "a.log");
    let url = setup.url.clone();
    wait_until(
        Duration::from_secs(60),
        "worker A's commit of the first half",
        || {
            let url = url.clone();
            async move { checkpointed(&url).await >= 6000 }
        },
    )
    .await;
    // The second half reaches A, which lingers on it; freeze A inside that linger.
    publish(
        &setup.tansu.bootstrap(),
        &topic,
        &setup.events[3000..],
        3000,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a_pid = a.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &a_pid])
        .status()
        .expect("kill")
        .success());
    let frozen_at = checkpointed(&setup.url).await;
    assert_eq!(
        frozen_at, 6000,
        "A committed the second half before it was frozen; the test proves nothing"
    );
    let mut b = spawn_run(dir, &setup.worker, &[&b_main, &b_audit], true, "b.log");
    let b_log = dir.join("b.log");
    // B is assigned once A's 6 s session has expired.
    wait_until(Duration::from_secs(60), "worker B's assignment", || {
        let log = std::fs::read_to_string(&b_log).unwrap_or_default();
        async move { log.contains("partition assigned") }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &a_pid])
        .status()
        .expect("kill")
        .success());
    let a_status = wait(&mut a, Duration::from_secs(60), &dir.join("a.log"));
    let a_log = std::fs::read_to_string(dir.join("a.log")).unwrap_or_default();
    assert!(
        !a_status.success(),
        "the zombie must not finish cleanly; log:\n{}",
        support::tail(&dir.join("a.log"), 40)
    );
    assert!(
        a_log.contains("fenced"),
        "the zombie's commit was not fenced; log:\n{}",
        support::tail(&dir.join("a.log"), 40)
    );
    let b_status = wait(&mut b, Duration::from_secs(180), &b_log);
    assert!(
        b_status.success(),
        "worker B failed:\n{}",
        support::tail(&b_log, 60)
    );
    setup.verify("after a fenced zombie").await;
}

/// SIGTERM while a batch is lingering in memory: the batch is committed, the process leaves
/// the group and exits 0, long before the linger would have flushed it.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_commits_the_in_flight_batch_and_exits_zero() {
    let setup = Setup::new().await;
    let dir = setup.dir.path();
    let (main, audit) = setup.connectors("t", ("100000", "100000"), "60000");
    let mut child = spawn_run(dir, &setup.worker, &[&main, &audit], false, "term.log");
    let log = dir.join("term.log");
    wait_until(Duration::from_secs(60), "assignment", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        async move { text.matches("partition assigned").count() >= 2 * PARTITIONS as usize }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        checkpointed(&setup.url).await,
        0,
        "nothing may be committed before the linger ends"
    );
    let pid = child.id().to_string();
    let sent = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = wait(&mut child, Duration::from_secs(30), &log);
    assert!(
        status.success(),
        "SIGTERM must exit 0; log:\n{}",
        support::tail(&log, 40)
    );
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "shutdown took {:?}",
        sent.elapsed()
    );
    // Nothing was committed before the signal; what the lingering batch held is now.
    let committed = checkpointed(&setup.url).await;
    assert!(
        committed > 0,
        "the in-flight batch was not committed at SIGTERM"
    );
    // The rest (if the source had not received everything yet) by a normal run.
    let mut rest = spawn_run(dir, &setup.worker, &[&main, &audit], true, "rest.log");
    let status = wait(&mut rest, Duration::from_secs(120), &dir.join("rest.log"));
    assert!(
        status.success(),
        "{}",
        support::tail(&dir.join("rest.log"), 40)
    );
    setup.verify("after SIGTERM").await;
}

/// Waits (up to 4 minutes) until both connectors checkpointed at least `records` records;
/// fails at once, with its exit status and log, when the run ends before that.
async fn wait_for_progress(child: &mut Sluice, log: &Path, url: &str, records: i64) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if checkpointed(url).await >= records {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            // It may have committed the last batch and stopped at the end since the look.
            assert!(
                checkpointed(url).await >= records,
                "sluice exited ({status}) before {records} records were checkpointed; log:\n{}",
                support::tail(log, 60)
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {records} records checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Worker file of `setup` with `/health` on a free port; returns the port.
fn with_health(setup: &Setup) -> u16 {
    let port = support::free_port();
    let mut text = std::fs::read_to_string(&setup.worker).expect("worker file");
    text.push_str(&format!("sluice.metrics.address=127.0.0.1:{port}\n"));
    std::fs::write(&setup.worker, text).expect("worker file");
    port
}

/// Dead letters in the target (none may come from an outage).
async fn dead_letter_count(url: &str) -> i64 {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    sqlx::query_scalar("SELECT count(*) FROM sluice_dead_letters")
        .fetch_one(&mut conn)
        .await
        .expect("dead letters")
}

/// PostgreSQL stops mid-run for 20 s (connections dropped as in a crash) and comes back: the
/// connectors (with `errors.tolerance=all`) retry, report `retrying` on /health, resume by
/// themselves, and end with every change applied once and nothing dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_outage_is_retried_without_loss_doubles_or_dead_letters() {
    let pg = Postgres::dedicated();
    let url = pg.create_database();
    let setup = Setup::with_stream_on(20_000, 20_000, url.clone()).await;
    let port = with_health(&setup);
    let (main, audit) = setup.connectors_with(
        "outage",
        ("40", "30"),
        "100",
        json!({"errors.tolerance": "all"}),
    );
    let dir = setup.dir.path();
    let mut child = spawn_run(dir, &setup.worker, &[&main, &audit], true, "outage.log");
    wait_for_progress(&mut child, &dir.join("outage.log"), &url, 1).await;
    pg.stop();
    let stopped = std::time::Instant::now();
    let mut states = Vec::new();
    while stopped.elapsed() < Duration::from_secs(20) {
        if let Some(body) = support::http_get(port, "/health") {
            states.push(body);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    pg.start();
    assert!(
        states.iter().any(|s| s.contains("RETRYING")),
        "/health never said RETRYING during the outage: {states:?}"
    );
    let status = wait(
        &mut child,
        Duration::from_secs(240),
        &dir.join("outage.log"),
    );
    assert!(
        status.success(),
        "the run did not survive the outage:\n{}",
        support::tail(&dir.join("outage.log"), 60)
    );
    setup.verify("after a 20 s target outage").await;
    assert_eq!(
        dead_letter_count(&url).await,
        0,
        "an outage dead-lettered records"
    );
}

/// The broker dies mid-run and a new one starts on the same port 10 s later (tansu keeps
/// topics in memory: the topic is recreated and the same records published again, so offsets
/// match). The connectors reconnect, rejoin their group, resume from the target checkpoint and
/// end with every change applied once and nothing dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn a_broker_outage_is_retried_without_loss_doubles_or_dead_letters() {
    let mut setup = Setup::with_stream(20_000, 20_000).await;
    let (main, audit) = setup.connectors_with(
        "broker",
        ("40", "30"),
        "100",
        json!({"errors.tolerance": "all"}),
    );
    let dir = setup.dir.path().to_path_buf();
    // Not --stop-at-end: the end offsets a reassignment sees may come before the republish.
    let mut child = spawn_run(&dir, &setup.worker, &[&main, &audit], false, "broker.log");
    let url = setup.url.clone();
    let log = dir.join("broker.log");
    wait_for_progress(&mut child, &log, &url, 1).await;
    setup.tansu.stop();
    let total = setup.events.len() as i64 * 2;
    let at_stop = checkpointed(&url).await;
    assert!(
        at_stop < total,
        "the broker stopped after the end: {at_stop} of {total}"
    );
    eprintln!("checkpointed when the broker stopped: {at_stop} of {total}");
    std::thread::sleep(Duration::from_secs(10));
    setup.tansu.restart();
    let topic = std::fs::read_to_string(dir.join("topic")).expect("topic");
    setup.tansu.create_topic(&topic, PARTITIONS);
    publish(&setup.tansu.bootstrap(), &topic, &setup.events, 0).await;
    wait_for_progress(&mut child, &log, &url, total).await;
    // SIGTERM: drain, commit, leave the group, exit 0.
    let pid = child.0.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let status = wait(&mut child, Duration::from_secs(60), &dir.join("broker.log"));
    assert!(
        status.success(),
        "the run did not survive the broker outage:\n{}",
        support::tail(&dir.join("broker.log"), 60)
    );
    setup.verify("after a broker outage").await;
    assert_eq!(
        dead_letter_count(&url).await,
        0,
        "an outage dead-lettered records"
    );
}

/// SIGTERM while PostgreSQL is stopped and the connectors retry: sluice stops within the
/// documented bound (`sluice.shutdown.timeout.ms`, here 2 s, plus leaving the group and
/// closing the clients) instead of waiting for the target, and commits nothing half-done;
/// once PostgreSQL is back a restart applies every change exactly once (both the upsert and
/// the audit connector).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_target_outage_stops_in_bounded_time_and_restart_is_exactly_once() {
    let pg = Postgres::dedicated();
    let url = pg.create_database();
    let setup = Setup::with_stream_on(20_000, 20_000, url.clone()).await;
    let mut text = std::fs::read_to_string(&setup.worker).expect("worker file");
    text.push_str("sluice.shutdown.timeout.ms=2000\n");
    std::fs::write(&setup.worker, text).expect("worker file");
    let (main, audit) = setup.connectors_with("term", ("40", "30"), "100", json!({}));
    let dir = setup.dir.path();
    let log = dir.join("term.log");
    let mut child = spawn_run(dir, &setup.worker, &[&main, &audit], false, "term.log");
    wait_for_progress(&mut child, &log, &url, 1).await;
    pg.stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("target unavailable; retrying")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no retry during the outage:\n{}",
            support::tail(&log, 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let signalled = std::time::Instant::now();
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = wait(&mut child, Duration::from_secs(60), &log);
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "SIGTERM during an outage took {took:?}; log:\n{}",
        support::tail(&log, 40)
    );
    assert!(
        status.success(),
        "SIGTERM must exit 0 (nothing half-done); log:\n{}",
        support::tail(&log, 40)
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("stopped without committing the in-flight batch"),
        "the abandoned batch was not reported:\n{}",
        support::tail(&log, 40)
    );
    pg.start();
    let mut rest = spawn_run(dir, &setup.worker, &[&main, &audit], true, "rest.log");
    let status = wait(&mut rest, Duration::from_secs(180), &dir.join("rest.log"));
    assert!(
        status.success(),
        "{}",
        support::tail(&dir.join("rest.log"), 40)
    );
    setup.verify("after SIGTERM during a target outage").await;
}

/// The task states of connector `name` as worker `port` reports them: (state, worker id).
fn task_states(port: u16, name: &str) -> Vec<(String, String)> {
    support::http(port, "GET", &format!("/connectors/{name}/status"), None)
        .and_then(|(code, body)| (code == 200).then_some(body))
        .and_then(|body| body["tasks"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["state"].as_str().unwrap_or("").to_string(),
                t["worker_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Scale-out: three `sluice worker`s of one group run both connectors (`tasks.max=4` over
/// four partitions, created over REST); one is killed with SIGKILL mid-stream. Its tasks move
/// to the others within the session timeout, the stream finishes, and the target holds every
/// change exactly once (the upsert table equal to the expected state, the audit table every
/// change once); then a fourth worker joins and is given tasks.
#[tokio::test(flavor = "multi_thread")]
async fn three_workers_share_the_connectors_and_one_is_killed() {
    let setup = Setup::with_stream(40_000, 40_000).await;
    let extra = json!({"tasks.max": "4", "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector"});
    let (main, audit) = setup.connectors_with("scale", ("40", "30"), "100", extra);
    let dir = setup.dir.path();
    let group = random_name("workers");
    let bootstrap = setup.tansu.bootstrap();
    let start = |n: usize| {
        let sub = dir.join(format!("w{n}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let port = support::free_port();
        let file = support::sluice::worker_mode_file(&sub, &bootstrap, &group, port);
        let child = support::sluice::spawn_worker(&sub, &file, "worker.log");
        let started = std::time::Instant::now();
        while support::http(port, "GET", "/", None).is_none_or(|(c, _)| c != 200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "worker {n} not up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        (port, child)
    };
    let mut workers: Vec<(u16, support::sluice::Sluice)> = (1..=3).map(start).collect();
    let front = workers[0].0;
    for file in [&main, &audit] {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("connector")).expect("json");
        // The workers that just joined are a rebalance: 409 until every worker has seen them,
        // and clients retry, as they do with Connect.
        let started = Instant::now();
        loop {
            let (code, body) =
                support::http(front, "POST", "/connectors", Some(&doc)).expect("answer");
            if code == 409 && started.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            assert_eq!(code, 201, "{body}");
            break;
        }
    }
    let names = [setup.names.0.clone(), setup.names.1.clone()];
    let all_running = |port: u16, live: &[String]| {
        names.iter().all(|name| {
            let states = task_states(port, name);
            states.len() == 4
                && states
                    .iter()
                    .all(|(s, w)| s == "RUNNING" && live.contains(w))
        })
    };
    let ids: Vec<String> = workers
        .iter()
        .map(|(p, _)| format!("127.0.0.1:{p}"))
        .collect();
    wait_until(Duration::from_secs(60), "every task running", || {
        let ok = all_running(front, &ids);
        async move { ok }
    })
    .await;
    // The tasks are spread: no worker runs all four of a connector's tasks.
    for name in &names {
        let states = task_states(front, name);
        let busiest = ids
            .iter()
            .map(|id| states.iter().filter(|(_, w)| w == id).count())
            .max()
            .unwrap_or(0);
        assert!(busiest <= 2, "{name}: {states:?}");
    }
    // Mid-stream, once both groups have committed (past the group join): SIGKILL the worker
    // running the most tasks, other than the one the requests go to.
    let url = setup.url.clone();
    let total = setup.events.len() as i64 * 2;
    wait_until(Duration::from_secs(120), "progress before the kill", || {
        let url = url.clone();
        let names = names.clone();
        async move {
            let now = checkpointed_per_group(&url).await;
            names
                .iter()
                .all(|n| now.get(&format!("connect-{n}")).copied().unwrap_or(0) > 0)
                && now.values().sum::<i64>() >= total / 5
        }
    })
    .await;
    let load = |id: &String| -> usize {
        names
            .iter()
            .map(|n| {
                task_states(front, n)
                    .iter()
                    .filter(|(_, w)| w == id)
                    .count()
            })
            .sum()
    };
    let victim = (1..ids.len())
        .max_by_key(|i| load(&ids[*i]))
        .expect("a worker");
    assert!(load(&ids[victim]) > 0, "the victim runs no task");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &workers[victim].1.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = workers[victim].1.wait();
    let live: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, id)| id.clone())
        .collect();
    // While its tasks move, a change is refused with Connect's 409 and error body; once they
    // run on the survivors it is taken (a resume of a running connector changes nothing).
    let resume = format!("/connectors/{}/resume", names[0]);
    let mut refused = None;
    let started = Instant::now();
    while !all_running(front, &live) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the killed worker's tasks did not move"
        );
        let (code, body) = support::http(front, "PUT", &resume, None).expect("answer");
        match code {
            202 => {}
            409 => refused = Some(body),
            _ => panic!("resume during the rebalance: {code} {body}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = refused.expect("no 409 while the killed worker's tasks moved");
    assert_eq!(refused["error_code"], 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("rebalance")),
        "{refused}"
    );
    // ... and taken within a few heartbeats of the tasks running (every worker has then seen
    // the new members).
    let settled = Instant::now();
    loop {
        let (code, body) = support::http(front, "PUT", &resume, None).expect("answer");
        if code == 202 {
            break;
        }
        assert!(
            code == 409 && settled.elapsed() < Duration::from_secs(5),
            "after the rebalance: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_until(Duration::from_secs(180), "the whole stream applied", || {
        let url = url.clone();
        async move { checkpointed(&url).await >= total }
    })
    .await;
    setup.verify("three workers, one killed").await;
    // A fourth worker joins and is given tasks. (Only once the stream is applied: tansu keeps
    // a consumer that leaves during a rebalance — tasks moving to a newcomer — and then never
    // completes that group's rebalance, where Kafka would drop the member.)
    let (port4, child4) = start(4);
    workers.push((port4, child4));
    let mut live = live;
    live.push(format!("127.0.0.1:{port4}"));
    let newcomer = live.last().cloned().expect("id");
    wait_until(Duration::from_secs(60), "tasks on the new worker", || {
        let ok = all_running(front, &live)
            && names
                .iter()
                .any(|n| task_states(front, n).iter().any(|(_, w)| *w == newcomer));
        async move { ok }
    })
    .await;
    // The survivors leave cleanly (the killed one was reaped above).
    for (i, (_, child)) in workers.iter_mut().enumerate() {
        if i != victim {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }
}

/// The batch checkpoint on PostgreSQL (two statements for any number of partitions): every
/// partition of a batch moves with its history row; a retry of a batch whose COMMIT answer was
/// lost is recognised; a stale epoch or a checkpoint moved by someone else is fenced, and then
/// none of the batch's partitions move, even those that matched.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_checkpoint_moves_all_its_partitions_or_none() {
    use sluice::checkpoint::{self, CheckpointError, Position, TopicPartition};
    let url = Postgres::database();
    let target = sluice::config::TargetUrl::parse(&url).expect("url");
    let db = sluice::db::Db::connect(&target, None, None)
        .await
        .expect("db");
    sluice::db::schema::ensure(&db).await.expect("schema");
    let group = "connect-fence";
    let tps: Vec<TopicPartition> = [("b", 0), ("a", 2), ("a", 1)]
        .iter()
        .map(|(t, p)| TopicPartition {
            topic: t.to_string(),
            partition: *p,
        })
        .collect();
    let claims = checkpoint::claim(&db, group, "test", &tps)
        .await
        .expect("claim");
    let position = |i: usize, previous: Option<i64>, next: i64| Position {
        tp: tps[i].clone(),
        next_offset: next,
        epoch: claims[i].epoch,
        previous,
        watermark_ms: Some(7),
    };
    let commit = |positions: Vec<Position>| {
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.expect("begin");
            let result = checkpoint::commit(&mut tx, group, &positions).await;
            match result {
                Ok(()) => tx.commit().await.expect("commit"),
                Err(_) => tx.rollback().await.expect("rollback"),
            }
            result
        }
    };
    let offsets = || async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        let rows: Vec<(String, i32, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT topic, kafka_partition, next_offset, watermark_ms FROM sluice_offsets \
             WHERE group_id = 'connect-fence' ORDER BY topic, kafka_partition",
        )
        .fetch_all(&mut conn)
        .await
        .expect("offsets");
        let history: Vec<(String, i32, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT topic, kafka_partition, old_offset, new_offset FROM sluice_offsets_history \
             WHERE group_id = 'connect-fence' AND reason = 'commit' ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await
        .expect("history");
        (rows, history)
    };
    // First batch: all three partitions move, each with a history row.
    commit(vec![
        position(0, None, 10),
        position(1, None, 5),
        position(2, None, 3),
    ])
    .await
    .expect("first batch");
    let (rows, history) = offsets().await;
    assert_eq!(
        rows,
        vec![
            ("a".into(), 1, Some(3), Some(7)),
            ("a".into(), 2, Some(5), Some(7)),
            ("b".into(), 0, Some(10), Some(7)),
        ]
    );
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(
        history.contains(&("b".into(), 0, None, Some(10))),
        "{history:?}"
    );
    // Its retry (the COMMIT answer was lost): already committed, nothing moves.
    let retry = commit(vec![
        position(0, None, 10),
        position(1, None, 5),
        position(2, None, 3),
    ])
    .await;
    assert!(
        matches!(retry, Err(CheckpointError::AlreadyCommitted { .. })),
        "{retry:?}"
    );
    // A batch where one partition's checkpoint was moved by someone else: fenced, and the
    // partitions that matched do not move either.
    let moved_elsewhere = commit(vec![
        position(0, Some(10), 20),
        position(1, Some(4), 9),
        position(2, Some(3), 8),
    ])
    .await;
    assert!(
        matches!(&moved_elsewhere, Err(CheckpointError::Fenced { topic, partition: 2, .. }) if topic == "a"),
        "{moved_elsewhere:?}"
    );
    // A stale epoch: another worker claimed the partition since.
    checkpoint::claim(&db, group, "other", &tps[..1])
        .await
        .expect("claim again");
    let stale = commit(vec![position(0, Some(10), 20)]).await;
    assert!(
        matches!(&stale, Err(CheckpointError::Fenced { topic, partition: 0, .. }) if topic == "b"),
        "{stale:?}"
    );
    let (after, history_after) = offsets().await;
    assert_eq!(after, rows, "a refused batch moved a checkpoint");
    assert_eq!(history_after, history);
    // The current owner's batch moves it.
    let owner = checkpoint::claim(&db, group, "third", &tps[..1])
        .await
        .expect("claim");
    commit(vec![Position {
        epoch: owner[0].epoch,
        ..position(0, Some(10), 20)
    }])
    .await
    .expect("the owner's batch");
    let (rows, history) = offsets().await;
    assert_eq!(rows[2], ("b".into(), 0, Some(20), Some(7)));
    assert_eq!(history.last(), Some(&("b".into(), 0, Some(10), Some(20))));
}
