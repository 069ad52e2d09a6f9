//! Late-arriving and out-of-order changes (issue #3): one topic per case, events timed only by
//! `source.ts_ms` (no log position, so the timestamp-then-offset order is what guards them),
//! applied once through the library on the in-process broker + SQLite and once by the sluice
//! binary on tansu + PostgreSQL. Each case states the final rows and the changes flagged in
//! `sluice_late_events`; `sluice status` then reports them in the seed's JSON shape.

mod support;

use serde_json::json;
use sluice::config::ConnectorConfig;
use std::time::Duration;
use support::sluice::{command_output, connector_file, publish_keyed, run_to_end, worker_file};
use support::{random_name, Postgres, Tansu};

/// One change: op, key, value column (`None` for deletes), source ts_ms (`None`: absent).
type Change = (&'static str, i64, Option<i64>, Option<i64>);

/// A case: name, changes in Kafka order, final rows (id, v), flagged changes (kind, applied).
struct Case {
    name: &'static str,
    changes: Vec<Change>,
    rows: Vec<(i64, i64)>,
    flagged: Vec<(&'static str, bool)>,
}

/// Tolerance and clock skew every case runs with.
const TOLERANCE_MS: i64 = 1000;
const SKEW_MS: i64 = 60_000;

fn cases(base: i64, now: i64, policy: &str) -> Vec<Case> {
    let s = |secs: i64| Some(base + secs * 1000);
    // `drop` and `review` both keep the change out of the table.
    let dropping = policy != "apply";
    let mut cases = vec![
        Case {
            name: "update_before_insert",
            changes: vec![("u", 1, Some(2), s(2)), ("c", 1, Some(1), s(1))],
            rows: vec![(1, 2)],
            flagged: vec![],
        },
        Case {
            name: "delete_after_newer_update",
            changes: vec![
                ("c", 1, Some(1), s(1)),
                ("u", 1, Some(2), s(3)),
                ("d", 1, None, s(2)),
            ],
            rows: vec![(1, 2)],
            flagged: vec![],
        },
        Case {
            name: "undelete",
            changes: vec![
                ("c", 1, Some(1), s(1)),
                ("d", 1, None, s(2)),
                ("c", 1, Some(3), s(3)),
            ],
            rows: vec![(1, 3)],
            flagged: vec![],
        },
        Case {
            name: "duplicate_timestamps",
            changes: vec![
                ("c", 1, Some(1), s(1)),
                ("u", 1, Some(2), s(1)),
                ("u", 1, Some(3), s(1)),
            ],
            rows: vec![(1, 3)],
            flagged: vec![],
        },
        Case {
            name: "null_and_invalid_timestamps",
            // Without a source time a change is ordered at the watermark, then by offset.
            changes: vec![
                ("c", 1, Some(1), s(1)),
                ("u", 1, Some(2), None),
                ("u", 1, Some(3), Some(-1)),
            ],
            rows: vec![(1, 3)],
            flagged: vec![],
        },
        Case {
            name: "late_new_key",
            // Key 2 arrives 10 s behind the watermark: flagged, then the policy decides.
            changes: vec![("c", 1, Some(1), s(10)), ("c", 2, Some(5), s(0))],
            rows: if dropping {
                vec![(1, 1)]
            } else {
                vec![(1, 1), (2, 5)]
            },
            flagged: vec![("late", !dropping)],
        },
        Case {
            name: "late_stale_update",
            // Late and older than the row: flagged, and the version guard skips it anyway.
            changes: vec![("c", 1, Some(1), s(10)), ("u", 1, Some(9), s(5))],
            rows: vec![(1, 1)],
            flagged: vec![("late", !dropping)],
        },
        Case {
            name: "future_timestamp",
            // An hour ahead of the clock: flagged, and it does not move the watermark, so the
            // change after it (half a second behind the first) is on time.
            changes: vec![
                ("c", 1, Some(1), s(0)),
                ("c", 2, Some(2), Some(now + 3_600_000)),
                ("c", 3, Some(3), Some(base - 500)),
            ],
            rows: if dropping {
                vec![(1, 1), (3, 3)]
            } else {
                vec![(1, 1), (2, 2), (3, 3)]
            },
            flagged: vec![("future", !dropping)],
        },
    ];
    for case in &mut cases {
        case.rows.sort();
    }
    cases
}

/// A Debezium envelope (schemas enabled) for table `items` whose source has no log position.
fn envelope(op: &str, id: i64, v: Option<i64>, ts: Option<i64>) -> (String, String) {
    support::generate::items_change(("sqlserver", "late"), op, id, v, ts)
}

/// Publishes every case to its own topic (`<prefix>_<case>`, one partition, in order).
async fn publish(bootstrap: &str, prefix: &str, cases: &[Case]) {
    for case in cases {
        let records: Vec<(String, String)> = case
            .changes
            .iter()
            .map(|(op, id, v, ts)| envelope(op, *id, *v, *ts))
            .collect();
        publish_keyed(bootstrap, &format!("{prefix}_{}", case.name), &records).await;
    }
}

fn connector(prefix: &str, url: &str, policy: &str) -> serde_json::Value {
    json!({
        "topics.regex": format!("{prefix}_.*"),
        "connection.url": url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "schema.evolution": "basic",
        "collection.name.format": "${topic}",
        "sluice.late.tolerance.ms": TOLERANCE_MS.to_string(),
        "sluice.clock.skew.max.ms": SKEW_MS.to_string(),
        "sluice.late.policy": policy,
        "batch.size": "2",
    })
}

/// What a target holds: rows per table and flagged changes per topic (kind, applied).
struct Seen {
    rows: Vec<(i64, i64)>,
    flagged: Vec<(String, bool)>,
}

/// What a target (a SQLite or PostgreSQL connection) holds for the case on `topic`: the same
/// queries on either, which a function generic over sqlx's databases would only obscure.
macro_rules! seen {
    ($conn:ident, $topic:ident) => {{
        let rows: Vec<(i64, i64)> =
            sqlx::query_as(&format!("SELECT id, v FROM \"{}\" ORDER BY id", $topic))
                .fetch_all(&mut $conn)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", $topic));
        let flagged: Vec<(String, bool)> = sqlx::query_as(
            "SELECT kind, applied FROM sluice_late_events WHERE topic = $1 ORDER BY kafka_offset",
        )
        .bind(&$topic)
        .fetch_all(&mut $conn)
        .await
        .expect("late events");
        Seen { rows, flagged }
    }};
}

fn check(case: &Case, seen: Seen) {
    assert_eq!(seen.rows, case.rows, "{}: rows", case.name);
    let want: Vec<(String, bool)> = case
        .flagged
        .iter()
        .map(|(k, a)| (k.to_string(), *a))
        .collect();
    assert_eq!(seen.flagged, want, "{}: flagged changes", case.name);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_order_and_late_changes_on_the_mock_broker_and_sqlite() {
    for policy in ["apply", "drop", "review"] {
        let now = now_ms();
        let cases = cases(now - 3_600_000, now, policy);
        let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        let prefix = format!("late_{policy}");
        for case in &cases {
            cluster
                .create_topic(&format!("{prefix}_{}", case.name), 1, 1)
                .expect("topic");
        }
        publish(&cluster.bootstrap_servers(), &prefix, &cases).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("late.db");
        let mut doc = connector(&prefix, &format!("jdbc:sqlite:{}", db.display()), policy);
        doc["name"] = json!(random_name("late"));
        let config = ConnectorConfig::from_json(
            &json!({"name": doc["name"], "config": doc}).to_string(),
            "late",
            &|_| None,
        )
        .expect("config");
        let config_for_review = config.clone();
        let worker = support::sluice::mock_worker(cluster.bootstrap_servers());
        support::sluice::run_library(&worker, config)
            .await
            .expect("pipeline succeeded");
        let url = format!("sqlite:{}", db.display());
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("sqlite");
        for case in &cases {
            let topic = format!("{prefix}_{}", case.name);
            let seen = seen!(conn, topic);
            // Under review each flagged change waits in sluice_conflicts.
            let (held,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM sluice_conflicts WHERE topic = $1 \
                 AND conflict_type = 'late_arrival' AND status = 'pending'",
            )
            .bind(&topic)
            .fetch_one(&mut conn)
            .await
            .expect("conflicts");
            let want = if policy == "review" {
                case.flagged.len()
            } else {
                0
            };
            assert_eq!(held as usize, want, "{}: held for review", case.name);
            check(case, seen);
        }
        if policy == "review" {
            // Taking the held change writes it, as a versioned change of its own source.
            let (id,): (i64,) =
                sqlx::query_as("SELECT conflict_id FROM sluice_conflicts WHERE topic = $1")
                    .bind(format!("{prefix}_late_new_key"))
                    .fetch_one(&mut conn)
                    .await
                    .expect("held change");
            let mut sink = sluice::sink::Sink::open(&config_for_review)
                .await
                .expect("sink");
            let take = sluice::sink::conflicts::Choice::Take("incoming".into());
            sink.resolve_conflict(id, &take, "test")
                .await
                .expect("resolve");
            let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, v FROM \"{prefix}_late_new_key\" ORDER BY id"
            ))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
            assert_eq!(rows, vec![(1, 1), (2, 5)]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn late_changes_are_dropped_on_tansu_and_postgresql() {
    let now = now_ms();
    let cases = cases(now - 3_600_000, now, "drop");
    let tansu = Tansu::start();
    let prefix = random_name("late");
    for case in &cases {
        tansu.create_topic(&format!("{prefix}_{}", case.name), 1);
    }
    publish(&tansu.bootstrap(), &prefix, &cases).await;
    let url = Postgres::database();
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let jdbc = format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1));
    let file = connector_file(
        dir.path(),
        &random_name("late"),
        connector(&prefix, &jdbc, "drop"),
    );
    run_to_end(dir.path(), &worker, &[&file], Duration::from_secs(120));
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    for case in &cases {
        let topic = format!("{prefix}_{}", case.name);
        check(case, seen!(conn, topic));
    }
    // The watermark is kept with the checkpoint.
    let (watermarks,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM sluice_offsets WHERE topic LIKE $1 AND watermark_ms IS NOT NULL",
    )
    .bind(format!("{prefix}_%"))
    .fetch_one(&mut conn)
    .await
    .expect("watermarks");
    assert_eq!(watermarks, cases.len() as i64);

    // `sluice status --json`: the seed's report shape, with what the batches recorded.
    let (code, stdout, stderr) =
        command_output(&[&"status", &"--json", &"--worker", &worker, &file]);
    assert_eq!(code, 0, "sluice status failed: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{stdout}"));
    for key in [
        "metadata",
        "statistics",
        "tables",
        "conflicts",
        "late_arriving_data",
        "checkpoint",
        "errors",
        "warnings",
    ] {
        assert!(report.get(key).is_some(), "no {key} in {report:#}");
    }
    assert_eq!(report["metadata"]["status"], "completed", "{report:#}");
    let tables = report["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), cases.len(), "{report:#}");
    // Distinct keys, so batching cannot compact them: two inserts (the future one dropped).
    let future = tables
        .iter()
        .find(|t| t["table"] == format!("{prefix}_future_timestamp"))
        .expect("future_timestamp table");
    assert_eq!(
        (
            &future["records_inserted"],
            &future["records_updated"],
            &future["records_deleted"]
        ),
        (&json!(2), &json!(0), &json!(0)),
        "{future:#}"
    );
    let flagged: usize = cases.iter().map(|c| c.flagged.len()).sum();
    assert_eq!(report["statistics"]["late_arriving"], json!(flagged));
    let late = report["late_arriving_data"].as_array().expect("late list");
    let new_key = late
        .iter()
        .find(|l| l["topic"] == format!("{prefix}_late_new_key"))
        .expect("late new key listed");
    assert_eq!(
        (
            &new_key["record_id"],
            &new_key["kind"],
            &new_key["applied"],
            &new_key["delay_seconds"]
        ),
        (&json!("2"), &json!("late"), &json!(false), &json!(10)),
        "{new_key:#}"
    );
    let partitions = report["checkpoint"]["partitions"]
        .as_array()
        .expect("partitions");
    for case in &cases {
        let p = partitions
            .iter()
            .find(|p| p["topic"] == format!("{prefix}_{}", case.name))
            .expect("checkpoint of every case");
        assert_eq!(p["next_offset"], json!(case.changes.len()), "{}", case.name);
    }
    let (code, text) = support::sluice::command(&[&"status", &"--worker", &worker, &file]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("[completed]"), "{text}");
}
