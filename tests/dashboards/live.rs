//! The live half of the dashboard test: a real Prometheus scrapes a real `sluice run` (tansu +
//! PostgreSQL) while the faults of [`faults`] hold; every panel query and every alert
//! expression is evaluated through Prometheus' HTTP API.

use super::faults::{self, change, Feed, Roles};
use super::support::dlq::publish_records;
use super::support::prometheus::{tool, Prometheus};
use super::support::sluice::{binary, connector_file, publish_keyed, worker_file, Sluice};
use super::support::{free_port, http_get, poison, random_name, tail, Postgres, Tansu};
use super::{dashboard, repo, rules, targets, RULES};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What `$__rate_interval` becomes in the queries (Grafana: at least four scrape intervals).
const RATE_INTERVAL: &str = "2m";
/// The target outage lasts at least this long (ten scrapes, two librdkafka statistics).
const MIN_OUTAGE: Duration = Duration::from_secs(10);

/// A panel query as Grafana sends it with every template variable at "All".
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$connector", ".*")
        .replace("$topic", ".*")
}

/// The sum of the samples of `name` whose labels contain every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let values: Vec<f64> = metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name).is_some_and(|r| r.starts_with('{'))
                && labels.iter().all(|want| l.contains(want))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Waits until `expr` returns a series.
fn scraped(prometheus: &Prometheus, expr: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while prometheus.query(expr).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{expr} never scraped:\n{}",
            tail(log, 30)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_and_rule_evaluates_on_prometheus_scraping_a_run_with_faults() {
    let Some(prometheus_bin) = tool(
        "SLUICE_PROMETHEUS_BIN",
        "prometheus",
        "apt-get install prometheus",
    ) else {
        return;
    };
    let test_started = Instant::now();
    let started = faults::now_ms() as f64 / 1000.0;
    let outage_cluster = std::thread::spawn(Postgres::dedicated);
    let tansu = Tansu::start();
    let bootstrap = tansu.bootstrap();
    let url = Postgres::database();
    let database = url.rsplit('/').next().expect("database").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &bootstrap);
    let roles: Roles = ["poison", "review", "outage", "slow", "fail"]
        .into_iter()
        .map(|role| (role, random_name(role)))
        .collect();
    let topics: Roles = roles.keys().map(|&r| (r, random_name(r))).collect();
    for topic in topics.values() {
        tansu.create_topic(topic, 1);
    }
    let file = |role: &str, config| connector_file(dir.path(), &roles[role], config);

    // The poison corpus: dead letters at every stage, late changes dead-lettered, a tombstone;
    // its dead-letter topic refuses every record (larger than the producer's maximum).
    let stream = poison::stream(true);
    // In two halves, the second once Prometheus has seen the first: a counter's first
    // scraped value is no increase, so its alert needs a second step.
    let (first, second) = stream.split_at(stream.len() / 2);
    publish_records(&bootstrap, &topics["poison"], first).await;
    Postgres::shared().psql(&database, poison::TABLE_DDL_POSTGRES);
    let mut keys = poison::connector_config(&topics["poison"], &url);
    keys["errors.deadletterqueue.topic.name"] = format!("{}-dlq", roles["poison"]).into();
    keys["errors.deadletterqueue.topic.replication.factor"] = "1".into();
    keys["producer.override.max.request.size"] = "1000".into();
    let mut files = vec![file("poison", keys)];

    // Review: a version-guard skip (an older insert after its update), a change an hour late
    // held for review, and schema evolution creating the table; published once Prometheus has
    // seen the review queue at zero, so the queue is seen growing.
    let now = (started * 1000.0) as i64;
    let changes = [
        change("u", 1, 2, now - 20_000),
        change("c", 1, 1, now - 20_500),
        change("c", 2, 1, now - 10_000),
        change("c", 3, 1, now - 3_600_000),
    ];
    files.push(file(
        "review",
        json!({"topics": topics["review"], "connection.url": url, "insert.mode": "upsert",
            "primary.key.mode": "record_key", "schema.evolution": "basic",
            "table.name.format": format!("{}_items", topics["review"]),
            "sluice.late.tolerance.ms": "1000", "sluice.clock.skew.max.ms": "60000",
            "sluice.late.policy": "review", "batch.size": "1"}),
    ));

    // Outage: a PostgreSQL cluster of its own, stopped mid-run while records keep arriving.
    let cluster = outage_cluster.join().expect("dedicated cluster");
    let outage_url = cluster.create_database();
    let outage_db = outage_url.rsplit('/').next().expect("database").to_string();
    files.push(file(
        "outage",
        json!({"topics": topics["outage"], "connection.url": outage_url,
            "insert.mode": "upsert", "primary.key.mode": "record_key",
            "schema.evolution": "basic", "table.name.format": "items",
            "errors.retry.delay.max.ms": "1000"}),
    ));

    // Slow: a partition fed 10 records/s whose target writes 4/s (a trigger sleeps per row).
    let slow_table = random_name("slow");
    faults::slow_table(Postgres::shared(), &database, &slow_table, 0.25);
    files.push(file(
        "slow",
        json!({"topics": topics["slow"], "connection.url": url, "insert.mode": "upsert",
            "primary.key.mode": "record_key", "table.name.format": slow_table,
            "batch.size": "4"}),
    ));

    // Fail: a record that is not JSON, with errors.tolerance=none.
    let garbage = [("{\"id\": 1}".to_string(), "not JSON".to_string())];
    publish_keyed(&bootstrap, &topics["fail"], &garbage).await;
    files.push(file(
        "fail",
        json!({"topics": topics["fail"], "connection.url": url, "errors.tolerance": "none",
            "insert.mode": "upsert", "primary.key.mode": "record_key"}),
    ));

    let port = free_port();
    let log = dir.path().join("run.log");
    let mut sluice = Sluice(
        Command::new(binary())
            .args(["run", "--metrics-address", &format!("127.0.0.1:{port}")])
            .arg("--worker")
            .arg(&worker)
            .args(&files)
            .env("SLUICE_LOG", "info,sqlx=warn")
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("run.err")).expect("log"))
            .spawn()
            .expect("spawn sluice"),
    );
    let prometheus = Prometheus::start(&prometheus_bin, &repo(RULES), port);
    let outage_feed = Feed::start(&bootstrap, &topics["outage"], Duration::from_millis(200));
    let slow_feed = Feed::start(&bootstrap, &topics["slow"], Duration::from_millis(100));
    let (p, r) = (roles["poison"].as_str(), roles["review"].as_str());
    scraped(
        &prometheus,
        &format!("sluice_dead_letters_total{{connector=\"{p}\"}}"),
        &log,
    );
    scraped(
        &prometheus,
        &format!("sluice_review_queue_records{{connector=\"{r}\"}}"),
        &log,
    );
    std::thread::sleep(Duration::from_secs(2));
    publish_records(&bootstrap, &topics["poison"], second).await;
    publish_keyed(&bootstrap, &topics["review"], &changes).await;

    // The faults, until Prometheus answered every condition while they held. The outage
    // starts once the connector has committed and librdkafka reported its lag, and ends once
    // its conditions held and it lasted MIN_OUTAGE; the slow partition speeds up once its
    // conditions held.
    let mut pending = faults::conditions(&roles, &rules(), &panel_queries());
    let outage_lag = format!(
        "sluice_consumer_lag_records{{connector=\"{}\"}}",
        roles["outage"]
    );
    let (mut outage, mut outage_feed, mut slow_feed) = (None, Some(outage_feed), Some(slow_feed));
    let mut fed = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let since = test_started.elapsed().as_secs_f64();
        faults::settle(&mut pending, &prometheus, outage.is_some(), since);
        if outage.is_none() && !prometheus.query(&outage_lag).is_empty() {
            cluster.stop();
            outage = Some(Instant::now());
            eprintln!(
                "{:5.1} s: target stopped",
                test_started.elapsed().as_secs_f64()
            );
        }
        let waiting = |role| pending.iter().any(|c| c.role == role);
        if let Some(at) = outage.filter(|at| at.elapsed() >= MIN_OUTAGE && !waiting("outage")) {
            if let Some(feed) = outage_feed.take() {
                cluster.start();
                fed.insert("outage", feed.stop());
                let since = test_started.elapsed().as_secs_f64();
                eprintln!(
                    "{since:5.1} s: target started after {:.1} s",
                    at.elapsed().as_secs_f64()
                );
            }
        }
        if let Some(feed) = slow_feed.take_if(|_| !waiting("slow")) {
            fed.insert("slow", feed.stop());
            faults::speed_up(Postgres::shared(), &database, &slow_table);
            eprintln!(
                "{:5.1} s: slow target sped up",
                test_started.elapsed().as_secs_f64()
            );
        }
        if pending.is_empty() && fed.len() == 2 {
            break;
        }
        let what: Vec<&str> = pending.iter().map(|c| c.what.as_str()).collect();
        assert!(
            Instant::now() < deadline,
            "while the faults held, Prometheus never answered {what:#?}\n{:#?}\n{}",
            pending,
            tail(&log, 30)
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // Until every connector but `fail` applied everything and a dead letter was refused by
    // the broker.
    let bad = stream.iter().filter(|r| r.bad.is_some()).count() as f64;
    let ends = [
        (p, stream.len() as f64),
        (r, 4.0),
        (roles["outage"].as_str(), fed["outage"] as f64),
        (roles["slow"].as_str(), fed["slow"] as f64),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        assert!(
            Instant::now() < deadline,
            "the run never got there:\n{}",
            tail(&log, 30)
        );
        assert!(
            sluice.try_wait().expect("wait").is_none(),
            "sluice exited:\n{}",
            tail(&log, 30)
        );
        let m = http_get(port, "/metrics").unwrap_or_default();
        let done = sample(&m, "sluice_dead_letters_total", &[p]) == Some(bad)
            && ends
                .iter()
                .all(|(c, end)| sample(&m, "sluice_checkpoint_offset", &[c]) == Some(*end))
            && sample(&m, "sluice_dead_letter_publish_failures_total", &[p])
                .is_some_and(|n| n > 0.0)
            && sample(&m, "sluice_offset_commits_total", &[r, "committed"])
                .is_some_and(|n| n > 0.0);
        if done {
            break m;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let count = |pg: &Postgres, db: &str, table: &str| -> i64 {
        let n = pg.psql(db, &format!("SELECT count(*) FROM {table}"));
        n.trim().parse().expect("count")
    };
    assert_eq!(
        count(&cluster, &outage_db, "items"),
        fed["outage"],
        "outage target rows"
    );
    assert_eq!(
        count(Postgres::shared(), &database, &slow_table),
        fed["slow"],
        "slow target rows"
    );

    // The metrics as the run must have moved them.
    let (o, f) = (roles["outage"].as_str(), roles["fail"].as_str());
    type Check = fn(f64) -> bool;
    let expect: [(&str, Vec<&str>, Check); 14] = [
        ("sluice_rebalances_total", vec![p], |v| v >= 1.0),
        ("sluice_assigned_partitions", vec![p], |v| v == 1.0),
        ("sluice_assigned_partitions", vec![r], |v| v == 1.0),
        ("sluice_inflight_records", vec![p], |v| v == 0.0),
        ("sluice_offset_commits_total", vec![p, "committed"], |v| {
            v >= 1.0
        }),
        ("sluice_dead_letter_publish_failures_total", vec![p], |v| {
            v >= 1.0
        }),
        ("sluice_review_queue_records", vec![r], |v| v == 1.0),
        (
            "sluice_conflicts_total",
            vec![r, "late_review", "pending"],
            |v| v == 1.0,
        ),
        (
            "sluice_events_skipped_total",
            vec![r, "stale_version"],
            |v| v == 1.0,
        ),
        ("sluice_task_state", vec![p, "task=\"0\"", "RUNNING"], |v| {
            v == 1.0
        }),
        ("sluice_task_state", vec![r, "task=\"0\""], |v| v == 1.0),
        ("sluice_retries_total", vec![o, "sink"], |v| v >= 1.0),
        ("sluice_connector_state", vec![o, "\"RUNNING\""], |v| {
            v == 1.0
        }),
        (
            "sluice_task_state",
            vec![f, "task=\"0\"", "\"FAILED\""],
            |v| v == 1.0,
        ),
    ];
    for (name, labels, ok) in expect {
        let value = sample(&metrics, name, &labels);
        assert!(
            value.is_some_and(ok),
            "{name} {labels:?} = {value:?}\n{metrics}"
        );
    }
    let last_commit = sample(&metrics, "sluice_last_commit_timestamp_seconds", &[r]);
    assert!(
        last_commit.is_some_and(|t| t >= started),
        "{last_commit:?} before {started}"
    );
    // The last applied change of the review topic is the one an hour late.
    let lag = sample(&metrics, "sluice_lag_seconds", &[r]);
    assert!(
        lag.is_some_and(|s| (3_600.0..3_900.0).contains(&s)),
        "{lag:?}"
    );

    // Every panel query returns series once Prometheus has a few scrapes of the end state.
    let queries = panel_queries();
    let deadline = Instant::now() + Duration::from_secs(30);
    let empty = loop {
        let empty: Vec<String> = queries
            .iter()
            .filter(|(_, _, expr)| prometheus.query(expr).is_empty())
            .map(|(title, refid, expr)| format!("{title} [{refid}]: {expr}"))
            .collect();
        if empty.is_empty() || Instant::now() > deadline {
            break empty;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );
    eprintln!("{} panel queries returned series", queries.len());

    // Every rule evaluates without error.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rules = prometheus.rules();
        let evaluated = rules.len() == self::rules().len()
            && rules
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z");
        if evaluated {
            break;
        }
        let summary: Vec<String> = rules
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}: {}",
                    r["name"], r["health"], r["lastError"], r["alerts"]
                )
            })
            .collect();
        assert!(Instant::now() < deadline, "rules:\n{}", summary.join("\n"));
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = sluice.kill();
    eprintln!(
        "live dashboard test: {:.1} s",
        test_started.elapsed().as_secs_f64()
    );
}

/// (panel title, refId, expr as Grafana sends it) of every panel query.
fn panel_queries() -> Vec<(String, String, String)> {
    let queries = targets(&dashboard()).into_iter();
    queries.map(|(t, r, e)| (t, r, substitute(&e))).collect()
}

#[test]
fn every_alert_is_fired_live_or_exempted_with_a_reason() {
    for (alert, _) in rules() {
        let live = faults::LIVE.iter().any(|(a, _, _)| *a == alert);
        let scaled = faults::SCALED.iter().any(|(a, ..)| *a == alert);
        assert!(
            live || scaled,
            "{alert}: no fault fires it and no exemption names it"
        );
    }
}
