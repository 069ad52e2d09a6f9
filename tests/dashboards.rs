//! `grafana/`: the dashboard and the alert rules against the code and a real Prometheus.
//!
//! - Every metric a panel or a rule names is defined in the catalogue (`src/telemetry`).
//! - The dashboard type-checks against Grafana's own dashboard types (npm `@grafana/schema`,
//!   checked by `tsc`), names the provisioned datasource, and is laid out soundly.
//! - `promtool check rules` and `promtool test rules` pass.
//! - A real Prometheus scrapes a real run (tansu + PostgreSQL: the poison corpus with its dead
//!   letters, late changes and a tombstone, a dead-letter topic the broker refuses, and a
//!   second connector with a version-guard skip, a late change held for review and schema
//!   evolution): every panel query returns series, every rule evaluates, and the injected
//!   faults make their alerts fire.
//!
//! Tools: `$SLUICE_PROMETHEUS_BIN`, `$SLUICE_PROMTOOL_BIN` (else `prometheus`/`promtool` on
//! the PATH) and `$SLUICE_GRAFANA_SCHEMA_DIR` (an npm prefix with `@grafana/schema` and
//! `typescript`); `.ci/test` installs them. Missing, a test fails under `CI=true` and is
//! skipped with a message otherwise.

mod support;

use serde_json::{json, Value as Json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::dlq::publish_records;
use support::sluice::{binary, connector_file, publish_keyed, worker_file};
use support::prometheus::{tool, Prometheus};
use support::{free_port, http_get, poison, random_name, Postgres, Tansu};

const DASHBOARD: &str = "grafana/dashboards/sluice-overview.json";
const DATASOURCES: &str = "grafana/provisioning/datasources/prometheus.yml";
const RULES: &str = "grafana/alerts/sluice-alerts.yml";
const RULE_TESTS: &str = "grafana/alerts/tests";
/// What `$__rate_interval` becomes in the queries (Grafana: at least four scrape intervals).
const RATE_INTERVAL: &str = "2m";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn dashboard() -> Json {
    let text = std::fs::read_to_string(repo(DASHBOARD)).expect("dashboard file");
    serde_json::from_str(&text).expect("dashboard JSON")
}

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// (panel title, refId, expr) of every query of the dashboard.
fn targets(dashboard: &Json) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in panels(dashboard) {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap_or("?").to_string(),
                t["refId"].as_str().unwrap_or("?").to_string(),
                t["expr"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

/// (alert name, expr) of every rule of the rule file: `- alert:` lines and their `expr:`,
/// inline or a `|` block (the only YAML shapes the file uses; promtool checks the rest).
fn rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo(RULES)).expect("rule file");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(at) = block {
            if indent > at && !trimmed.is_empty() {
                let (_, expr) = out.last_mut().expect("an alert before its expr");
                expr.push_str(trimmed);
                expr.push('\n');
                continue;
            }
            block = None;
        }
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some(expr) = trimmed.strip_prefix("expr:") {
            let (_, current) = out.last_mut().expect("an alert before its expr");
            match expr.trim() {
                "|" => block = Some(indent),
                inline => *current = inline.to_string(),
            }
        }
    }
    assert!(out.iter().all(|(_, e)| !e.is_empty()), "{out:?}");
    out
}

/// The `sluice_*` metric names an expression mentions, histogram suffixes taken off.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("sluice_") {
        let start = i + at;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = expr[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .map_or(expr.len(), |n| start + n);
        if boundary {
            let name = &expr[start..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_string());
        }
        i = end;
    }
    names
}

#[test]
fn every_metric_the_dashboard_and_alerts_name_is_in_the_catalogue() {
    let defined: BTreeSet<String> = sluice::telemetry::Metrics::new()
        .families()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let dashboard = dashboard();
    let mut queries: Vec<(String, String)> = targets(&dashboard)
        .into_iter()
        .map(|(title, refid, expr)| (format!("panel {title:?} {refid}"), expr))
        .collect();
    for v in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        let query = v["query"]["query"].as_str().or(v["query"].as_str());
        queries.push((
            format!("variable {}", v["name"]),
            query.unwrap_or("").to_string(),
        ));
    }
    queries.extend(rules().into_iter().map(|(n, e)| (format!("alert {n}"), e)));
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for (who, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{who} names no sluice metric: {expr}");
        for name in names {
            if !defined.contains(&name) {
                unknown.push(format!("{who}: {name}"));
            }
            used.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics the code does not define:\n{}",
        unknown.join("\n")
    );
    // The parser itself: suffixes off, names inside longer words left alone.
    assert_eq!(
        metric_names("rate(sluice_batch_records_bucket{a=\"b\"}[1m]) / x_sluice_y"),
        BTreeSet::from(["sluice_batch_records".to_string()])
    );
    eprintln!(
        "{} queries use {} of {} metrics",
        queries.len(),
        used.len(),
        defined.len()
    );
}

#[test]
fn dashboard_is_sound_and_matches_grafanas_schema() {
    let dashboard = dashboard();
    // The datasource every query names is the provisioned one.
    let provisioned = std::fs::read_to_string(repo(DATASOURCES)).expect("datasources");
    let uids: Vec<&str> = provisioned
        .lines()
        .filter_map(|l| l.trim().strip_prefix("uid:"))
        .map(str::trim)
        .collect();
    assert_eq!(uids.len(), 1, "one provisioned datasource with a fixed uid");
    let uid = uids[0];
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for p in panels(&dashboard) {
        let title = p["title"].as_str().unwrap_or("?");
        if !ids.insert(p["id"].as_i64().expect("numeric panel id")) {
            problems.push(format!("{title}: duplicate id {}", p["id"]));
        }
        let g = &p["gridPos"];
        let (x, w, h) = (g["x"].as_i64(), g["w"].as_i64(), g["h"].as_i64());
        match (x, w, h, g["y"].as_i64()) {
            (Some(x), Some(w), Some(h), Some(_)) if x >= 0 && w > 0 && h > 0 && x + w <= 24 => {}
            _ => problems.push(format!("{title}: gridPos {g}")),
        }
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != uid || p["description"].as_str().is_none_or(str::is_empty) {
            problems.push(format!(
                "{title}: datasource {} or no description",
                p["datasource"]
            ));
        }
        let targets = p["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{title}: no targets"));
        }
        for t in targets {
            if t["datasource"]["uid"] != uid || t["expr"].as_str().is_none_or(str::is_empty) {
                problems.push(format!(
                    "{title}: target {t} without expr or datasource {uid}"
                ));
            }
        }
    }
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["connector", "topic"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Grafana's dashboard types, as its frontend compiles them.
    let Some(dir) = schema_dir() else { return };
    let fine = typecheck(&dir, &dashboard);
    assert!(
        fine.0,
        "the dashboard does not match @grafana/schema's Dashboard:\n{}",
        fine.1
    );
    // The check has teeth: a panel height as text is refused.
    let mut broken = dashboard.clone();
    broken["panels"][1]["gridPos"]["h"] = json!("tall");
    let refused = typecheck(&dir, &broken);
    assert!(
        !refused.0 && refused.1.contains("not assignable to type 'number'"),
        "{}",
        refused.1
    );
}

/// `$SLUICE_GRAFANA_SCHEMA_DIR`: an npm prefix with `@grafana/schema` and `typescript`.
fn schema_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SLUICE_GRAFANA_SCHEMA_DIR").map(PathBuf::from);
    match dir {
        Some(d) if d.join("node_modules/.bin/tsc").is_file() => Some(d),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "SLUICE_GRAFANA_SCHEMA_DIR must hold node_modules with @grafana/schema and typescript under CI; `bash .ci/test` installs them"
        ),
        _ => {
            eprintln!("SKIPPED the schema check: SLUICE_GRAFANA_SCHEMA_DIR unset (npm install --prefix DIR @grafana/schema typescript)");
            None
        }
    }
}

/// Compiles `const d: Dashboard = <dashboard>` with tsc (strict, excess properties refused).
fn typecheck(dir: &Path, dashboard: &Json) -> (bool, String) {
    let work = tempfile::tempdir().expect("tempdir");
    let source = format!(
        "import type {{ Dashboard }} from \"@grafana/schema\";\nexport const dashboard: Dashboard = {};\n",
        serde_json::to_string_pretty(dashboard).expect("json")
    );
    std::fs::write(work.path().join("check.ts"), source).expect("write check.ts");
    std::os::unix::fs::symlink(dir.join("node_modules"), work.path().join("node_modules"))
        .expect("link node_modules");
    let out = Command::new(dir.join("node_modules/.bin/tsc"))
        .args([
            "--noEmit",
            "--strict",
            "--skipLibCheck",
            "--moduleResolution",
            "bundler",
        ])
        .args(["--module", "esnext", "--target", "es2020", "check.ts"])
        .current_dir(work.path())
        .output()
        .expect("run tsc");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn alert_rules_pass_promtool_checks_and_unit_tests() {
    let Some(promtool) = tool(
        "SLUICE_PROMTOOL_BIN",
        "promtool",
        "apt-get install prometheus",
    ) else {
        return;
    };
    let check = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repo(RULES))
        .output()
        .expect("promtool check rules");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let mut tests: Vec<PathBuf> = std::fs::read_dir(repo(RULE_TESTS))
        .expect("rule tests")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no rule tests in {RULE_TESTS}");
    let run = Command::new(&promtool)
        .args(["test", "rules"])
        .args(&tests)
        .output()
        .expect("promtool test rules");
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    // Every alert is exercised by the unit tests.
    let tested: String = tests
        .iter()
        .map(|t| std::fs::read_to_string(t).expect("read"))
        .collect();
    for (alert, _) in rules() {
        assert!(
            tested.contains(&format!("alertname: {alert}")),
            "no unit test for {alert}"
        );
    }
}

/// A panel query as Grafana sends it with every template variable at "All".
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$connector", ".*")
        .replace("$topic", ".*")
}

/// A change on the `review` connector's topic (Debezium JSON with schemas, table `items`).
fn envelope(op: &str, id: i64, v: i64, ts: i64) -> (String, String) {
    let field = |name: &str, t: &str, optional: bool| json!({"field": name, "type": t, "optional": optional});
    let row = |name: &str| {
        json!({"type": "struct", "optional": true, "field": name,
        "fields": [field("id", "int64", false), field("v", "int64", true)]})
    };
    let source = json!({"type": "struct", "optional": false, "field": "source", "fields": [
        field("connector", "string", false), field("name", "string", false),
        field("ts_ms", "int64", true), field("table", "string", false)]});
    let value = json!({
        "schema": {"type": "struct", "optional": false,
            "fields": [row("before"), row("after"), source, field("op", "string", false)]},
        "payload": {"before": null, "after": {"id": id, "v": v}, "op": op,
            "source": {"connector": "postgresql", "name": "review", "ts_ms": ts, "table": "items"}}
    });
    let key = json!({"schema": {"type": "struct", "optional": false, "fields": [field("id", "int64", false)]},
        "payload": {"id": id}});
    (key.to_string(), value.to_string())
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

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_and_rule_evaluates_on_prometheus_scraping_a_real_run() {
    let Some(prometheus_bin) = tool(
        "SLUICE_PROMETHEUS_BIN",
        "prometheus",
        "apt-get install prometheus",
    ) else {
        return;
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let tansu = Tansu::start();
    let url = Postgres::database();
    let database = url.rsplit('/').next().expect("database").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());

    // The poison corpus: dead letters at every stage, late changes dead-lettered, a tombstone;
    // its dead-letter topic refuses every record (larger than the producer's maximum).
    let poison_topic = random_name("poison");
    tansu.create_topic(&poison_topic, 1);
    let stream = poison::stream(true);
    // In two halves, the second once Prometheus has seen the first: a counter's first
    // scraped value is no increase, so its alert needs a second step.
    let (first, second) = stream.split_at(stream.len() / 2);
    publish_records(&tansu.bootstrap(), &poison_topic, first).await;
    Postgres::shared().psql(&database, poison::TABLE_DDL_POSTGRES);
    let poison_name = random_name("poison");
    let mut keys = poison::connector_config(&poison_topic, &url);
    keys["errors.deadletterqueue.topic.name"] = format!("{poison_name}-dlq").into();
    keys["errors.deadletterqueue.topic.replication.factor"] = "1".into();
    keys["producer.override.max.request.size"] = "1000".into();
    let poison_file = connector_file(dir.path(), &poison_name, keys);

    // The review connector: a version-guard skip (an older insert after its update), a change
    // an hour late held for review, and schema evolution creating the table.
    let review_topic = random_name("review");
    let now = (started * 1000.0) as i64;
    let changes = [
        envelope("u", 1, 2, now - 20_000),
        envelope("c", 1, 1, now - 20_500),
        envelope("c", 2, 1, now - 10_000),
        envelope("c", 3, 1, now - 3_600_000),
    ];
    tansu.create_topic(&review_topic, 1);
    publish_keyed(&tansu.bootstrap(), &review_topic, &changes).await;
    let review_name = random_name("review");
    let review_file = connector_file(
        dir.path(),
        &review_name,
        json!({"topics": review_topic, "connection.url": url, "insert.mode": "upsert",
            "primary.key.mode": "record_key", "schema.evolution": "basic",
            "table.name.format": format!("{review_topic}_items"),
            "sluice.late.tolerance.ms": "1000", "sluice.clock.skew.max.ms": "60000",
            "sluice.late.policy": "review", "batch.size": "1"}),
    );

    let port = free_port();
    let mut sluice = support::sluice::Sluice(
        Command::new(binary())
            .args([
                "run",
                "--metrics-address",
                &format!("127.0.0.1:{port}"),
                "--worker",
            ])
            .arg(&worker)
            .arg(&poison_file)
            .arg(&review_file)
            .env("SLUICE_LOG", "info,sqlx=warn")
            .stdout(std::fs::File::create(dir.path().join("run.log")).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("run.err")).expect("log"))
            .spawn()
            .expect("spawn sluice"),
    );
    let prometheus = Prometheus::start(&prometheus_bin, &repo(RULES), port);
    let seen = format!("sluice_dead_letters_total{{connector=\"{poison_name}\"}}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while prometheus.query(&seen).is_empty() {
        let log = support::tail(&dir.path().join("run.log"), 30);
        assert!(Instant::now() < deadline, "no dead letters scraped:\n{log}");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    publish_records(&tansu.bootstrap(), &poison_topic, second).await;

    // Until both connectors applied everything and a dead letter was refused by the broker.
    let bad = stream.iter().filter(|r| r.bad.is_some()).count() as f64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let metrics = loop {
        let log = support::tail(&dir.path().join("run.log"), 30);
        assert!(Instant::now() < deadline, "the run never got there:\n{log}");
        assert!(
            sluice.try_wait().expect("wait").is_none(),
            "sluice exited:\n{log}"
        );
        let m = http_get(port, "/metrics").unwrap_or_default();
        let done = sample(&m, "sluice_dead_letters_total", &[&poison_name]) == Some(bad)
            && sample(&m, "sluice_checkpoint_offset", &[&poison_name]) == Some(stream.len() as f64)
            && sample(&m, "sluice_checkpoint_offset", &[&review_name]) == Some(4.0)
            && sample(
                &m,
                "sluice_dead_letter_publish_failures_total",
                &[&poison_name],
            )
            .is_some_and(|n| n > 0.0)
            && sample(
                &m,
                "sluice_offset_commits_total",
                &[&review_name, "committed"],
            )
            .is_some_and(|n| n > 0.0);
        if done {
            break m;
        }
        std::thread::sleep(Duration::from_millis(500));
    };

    // The new metrics, as the run must have moved them.
    let p: &str = &poison_name;
    let r: &str = &review_name;
    type Check = fn(f64) -> bool;
    let expect: [(&str, Vec<&str>, Check); 11] = [
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
    let targets = targets(&dashboard());
    let deadline = Instant::now() + Duration::from_secs(60);
    let empty = loop {
        let empty: Vec<String> = targets
            .iter()
            .filter(|(_, _, expr)| prometheus.query(&substitute(expr)).is_empty())
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
    eprintln!("{} panel queries returned series", targets.len());

    // Every rule evaluates without error, and the injected faults fire theirs: dead letters
    // (no `for`) at once, the refused dead-letter topic pending its five minutes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let groups = prometheus.api("rules");
        let rules: Vec<&Json> = groups["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        let evaluated = rules.len() == self::rules().len()
            && rules
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z");
        let state = |name: &str| -> Vec<String> {
            rules
                .iter()
                .filter(|r| r["name"] == name)
                .flat_map(|r| r["alerts"].as_array().cloned().unwrap_or_default())
                .filter(|a| a["labels"]["connector"] == p)
                .map(|a| a["state"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let dead = state("SluiceDeadLettering");
        let publish = state("SluiceDeadLetterPublishFailing");
        if evaluated
            && dead.iter().any(|s| s == "firing")
            && publish.iter().any(|s| s == "pending" || s == "firing")
        {
            break;
        }
        let summary: Vec<String> = rules
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}: {}",
                    r["name"], r["health"], r["state"], r["lastError"], r["alerts"]
                )
            })
            .collect();
        assert!(Instant::now() < deadline, "rules:\n{}", summary.join("\n"));
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = sluice.kill();
}
