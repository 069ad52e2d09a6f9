//! Real Kafka Connect REST clients from PyPI, unmodified, drive `sluice worker` (tansu, SQLite
//! targets): kafka-connect-py's `kc`, lsst-sqre's `kafkaconnect`, the library's stop, and
//! kafka-connect-healthcheck answering healthy, then unhealthy once a task has FAILED.
//! `.ci/test` installs them in one venv and exports its `bin` as `SLUICE_CONNECT_CLIENTS`.
//! Both command lines exit 0 on an HTTP error (they print it), so every answer is read.

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{random_name, Tansu};

/// The venv's `bin` directory.
fn clients() -> PathBuf {
    let dir = std::env::var_os("SLUICE_CONNECT_CLIENTS").map(PathBuf::from);
    match dir {
        Some(d) if d.join("kc").is_file() => d,
        _ => panic!(
            "SLUICE_CONNECT_CLIENTS must name the bin directory of a venv with kafka-connect-py, \
             kafkaconnect and kafka-connect-healthcheck; run the tests with `bash .ci/test`, \
             which installs them"
        ),
    }
}

/// Runs a client command against the worker at `url`; its stdout, checked for the HTTP
/// errors these clients print instead of failing.
fn run(url: &str, program: &str, args: &[&str]) -> String {
    let out = Command::new(clients().join(program))
        .args(args)
        .env("KAFKA_CONNECT_URL", url)
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && !stdout.contains("Client Error")
            && !stdout.contains("Server Error")
            && !stdout.contains("not found"),
        "{program} {args:?}: {}\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// [`run`], the output read as JSON.
fn run_json(url: &str, program: &str, args: &[&str]) -> Value {
    let out = run(url, program, args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{program} {args:?}: {e}: {out}"))
}

/// Polls `kc status NAME` until every task and the connector are in `state`.
fn until_state(url: &str, name: &str, state: &str) {
    let started = Instant::now();
    loop {
        let status = run_json(url, "kc", &["status", name]);
        let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
        if status["connector"]["state"] == state
            && !tasks.is_empty()
            && tasks.iter().all(|t| t["state"] == state)
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name} not {state}: {status}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn sink(dir: &Path, table_db: &str, topic: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "connection.url": format!("sqlite:{}?mode=rwc", dir.join(table_db).display()),
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
    })
}

fn http_get(port: u16, path: &str) -> Option<(u16, Value)> {
    support::http(port, "GET", path, None)
}

#[test]
fn pypi_connect_clients_drive_the_worker() {
    let tansu = Tansu::start();
    let topic = random_name("orders");
    tansu.create_topic(&topic, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let group = random_name("clients");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, port);
    let _worker = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while http_get(port, "/").is_none_or(|(c, _)| c != 200) {
        assert!(started.elapsed() < Duration::from_secs(60), "worker not up");
        std::thread::sleep(Duration::from_millis(200));
    }

    // kafka-connect-py: its whole command line.
    let info = run_json(&url, "kc", &["info"]);
    assert!(info["version"].is_string(), "{info}");
    let name = "kc-sink";
    let doc = json!({"name": name, "config": sink(dir.path(), "kc.db", &topic)}).to_string();
    let created = run_json(&url, "kc", &["create", "-d", &doc]);
    assert_eq!(created["name"], name, "{created}");
    until_state(&url, name, "RUNNING");
    assert_eq!(run_json(&url, "kc", &["list"]), json!([name]));
    let expanded = run_json(&url, "kc", &["list", "-e", "status"]);
    assert_eq!(
        expanded[name]["status"]["connector"]["state"], "RUNNING",
        "{expanded}"
    );
    assert_eq!(
        run_json(&url, "kc", &["config", name])["topics"],
        topic.as_str()
    );
    assert_eq!(
        run_json(&url, "kc", &["list-tasks", name])[0]["id"]["task"],
        0
    );
    assert_eq!(
        run_json(&url, "kc", &["task-status", name, "0"])["state"],
        "RUNNING"
    );
    let topics = run_json(&url, "kc", &["list-topics", name]);
    assert_eq!(topics[name]["topics"], json!([topic]), "{topics}");
    let plugins = run(&url, "kc", &["list-plugins"]);
    assert!(
        plugins.contains("io.debezium.connector.jdbc.JdbcSinkConnector"),
        "{plugins}"
    );
    run(&url, "kc", &["pause", name]);
    until_state(&url, name, "PAUSED");
    run(&url, "kc", &["resume", name]);
    until_state(&url, name, "RUNNING");
    run(&url, "kc", &["restart", name]);
    run(&url, "kc", &["restart", name, "-i", "-o"]);
    run(&url, "kc", &["restart-task", name, "0"]);
    until_state(&url, name, "RUNNING");
    let mut changed = sink(dir.path(), "kc.db", &topic);
    changed["batch.size"] = "77".into();
    let file = dir.path().join("kc-config.json");
    std::fs::write(&file, changed.to_string()).expect("config file");
    run(
        &url,
        "kc",
        &["update", name, "-f", &file.display().to_string()],
    );
    assert_eq!(run_json(&url, "kc", &["config", name])["batch.size"], "77");
    until_state(&url, name, "RUNNING");

    // The library's stop (the command line has none).
    let stop = format!(
        "from kafka_connect import KafkaConnect; KafkaConnect(url='{url}').stop_connector('{name}')"
    );
    let out = Command::new(clients().join("python"))
        .args(["-c", &stop])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    while run_json(&url, "kc", &["status", name])["connector"]["state"] != "STOPPED" {
        assert!(started.elapsed() < Duration::from_secs(30), "not stopped");
        std::thread::sleep(Duration::from_millis(300));
    }

    // kafkaconnect (lsst-sqre): upload validates, then PUTs the config.
    let other = "upload-sink";
    let file = dir.path().join("upload.json");
    std::fs::write(&file, sink(dir.path(), "upload.db", &topic).to_string()).expect("file");
    let uploaded = run(
        &url,
        "kafkaconnect",
        &["upload", &file.display().to_string(), "--name", other],
    );
    assert!(uploaded.contains(other), "{uploaded}");
    let status: Value =
        serde_json::from_str(&run(&url, "kafkaconnect", &["status", other])).expect("json");
    assert_eq!(status["name"], other, "{status}");
    until_state(&url, other, "RUNNING");
    run(&url, "kafkaconnect", &["pause", other]);
    until_state(&url, other, "PAUSED");
    run(&url, "kafkaconnect", &["resume", other]);
    until_state(&url, other, "RUNNING");
    run(&url, "kafkaconnect", &["restart", other]);
    let tasks = run(&url, "kafkaconnect", &["tasks", other]);
    assert!(tasks.contains(other), "{tasks}");
    let listed = run(&url, "kafkaconnect", &["list"]);
    assert!(listed.contains(other) && listed.contains(name), "{listed}");

    // kafka-connect-healthcheck: healthy with everything running or stopped, unhealthy once
    // a task has FAILED (an SQLite url whose mode SQLite refuses fails at once).
    let health_port = support::free_port();
    let mut health = Command::new(clients().join("kafka-connect-healthcheck"))
        .env("HEALTHCHECK_PORT", health_port.to_string())
        .env("HEALTHCHECK_CONNECT_URL", &url)
        .env("HEALTHCHECK_CONNECT_WORKER_ID", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("healthcheck");
    let answer = |want: u16| {
        let started = Instant::now();
        loop {
            if let Some((code, body)) = http_get(health_port, "/") {
                if code == want {
                    return body;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "healthcheck never {want}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    assert_eq!(answer(200)["healthy"], true);
    let mut broken = sink(dir.path(), "broken.db", &topic);
    broken["connection.url"] = format!(
        "sqlite:{}?mode=bogus",
        dir.path().join("broken.db").display()
    )
    .into();
    run(
        &url,
        "kc",
        &[
            "create",
            "-d",
            &json!({"name": "broken", "config": broken}).to_string(),
        ],
    );
    let unhealthy = answer(503);
    assert_eq!(unhealthy["healthy"], false, "{unhealthy}");
    assert_eq!(unhealthy["failures"][0]["type"], "task", "{unhealthy}");
    assert_eq!(
        unhealthy["failures"][0]["connector"], "broken",
        "{unhealthy}"
    );
    let _ = health.kill();
    let _ = health.wait();

    // Deletes, by both command lines.
    run(&url, "kafkaconnect", &["delete", other]);
    run(&url, "kc", &["delete", name]);
    run(&url, "kc", &["delete", "broken"]);
    assert_eq!(run_json(&url, "kc", &["list"]), json!([]));
}
