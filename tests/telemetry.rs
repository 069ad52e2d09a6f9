//! `/metrics` and `/health` of a running connector (real broker and PostgreSQL).

mod support;

use std::time::{Duration, Instant};
use support::sluice::{connector_file, wait, worker_file};
use support::{corpus_dir, free_port, publish_jsonl, random_name, Postgres, Tansu};

/// A plain HTTP/1.0 GET on loopback; returns the body.
fn get(port: u16, path: &str) -> Option<String> {
    support::http_get(port, path)
}

fn sample(metrics: &str, name: &str, label: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_report_a_running_connector() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let prefix = random_name("t");
    publish_jsonl(
        &tansu.bootstrap(),
        corpus_dir().join("inventory/default.json-schemas.jsonl"),
        |t| format!("{prefix}.{t}"),
        1,
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let connector = connector_file(
        dir.path(),
        "metrics",
        serde_json::json!({
        "topics.regex": format!("{prefix}\\..*"), "connection.url": url, "connection.password": "s3cret-pw",
        "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true", "truncate.enabled": "true",
        "schema.evolution": "basic", "collection.name.format": "${source.table}"}),
    );
    let port = free_port();
    let log = dir.path().join("metrics.log");
    let mut child = support::sluice::Sluice(
        std::process::Command::new(support::sluice::binary())
            .args([
                "run",
                "--metrics-address",
                &format!("127.0.0.1:{port}"),
                "--worker",
            ])
            .arg(&worker)
            .arg(&connector)
            .env("SLUICE_LOG", "info,sqlx=warn")
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("metrics.err")).expect("log"))
            .spawn()
            .expect("spawn"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        assert!(
            Instant::now() < deadline,
            "metrics never showed the applied corpus"
        );
        if let Some(m) = get(port, "/metrics") {
            if sample(&m, "sluice_checkpoint_offset", "customers") >= 19.0 {
                break m;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        sample(&metrics, "sluice_records_consumed_total", "topic=\""),
        171.0,
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "sluice_records_ignored_total",
            "reason=\"tombstone\""
        ) >= 11.0,
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "sluice_batch_duration_seconds_count",
            "connector=\"metrics\""
        ) >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_checkpoint_offset{connector=\"metrics\""),
        "{metrics}"
    );
    assert!(!metrics.contains("s3cret-pw"), "a secret reached /metrics");
    // Consumer lag comes from librdkafka's statistics, every 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lag = loop {
        let m = get(port, "/metrics").unwrap_or_default();
        if let Some(line) = m
            .lines()
            .find(|l| l.starts_with("sluice_consumer_lag_records{") && l.contains("customers"))
        {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no consumer lag metric:\n{m}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        lag.ends_with(" 0"),
        "a caught-up connector has no lag: {lag}"
    );
    let health = get(port, "/health").expect("health");
    assert!(health.contains("\"status\":\"UP\""), "{health}");
    let ready = get(port, "/ready").expect("ready");
    assert!(ready.contains("\"state\":\"RUNNING\""), "{ready}");
    let metrics = get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("sluice_connector_state{connector=\"metrics\",state=\"RUNNING\"} 1"),
        "{metrics}"
    );
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success());
    let status = wait(&mut child, Duration::from_secs(30), &log);
    assert!(status.success());
    let logs = std::fs::read_to_string(dir.path().join("metrics.err")).unwrap_or_default()
        + &std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logs.contains("s3cret-pw"), "a secret reached the logs");
}
