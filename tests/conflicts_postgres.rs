//! Multi-source conflicts on real components (issue #3): a CRM's topic and a legacy database's
//! topic feed the same PostgreSQL tables through two connectors (`sluice.source.name` crm and
//! legacy), run one after the other by the sluice binary on tansu so the order is scripted.
//! The legacy source's log positions are far below the CRM's, so comparing them across
//! sources (what a plain version guard would do) would skip every legacy change.

mod support;

use serde_json::{json, Value as Json};
use std::time::Duration;
use support::sluice::{command_output, connector_file, publish_keyed, run_to_end, worker_file};
use support::{random_name, Postgres, Tansu};

/// One change: op, id, (email, status, score), source ts_ms, lsn.
type Change = (
    &'static str,
    i64,
    (&'static str, &'static str, i64),
    i64,
    i64,
);

const T: i64 = 1_700_000_000_000;

fn envelope(source: &str, table: &str, change: &Change) -> (String, String) {
    let (op, id, (email, status, score), ts, lsn) = *change;
    let field = |name: &str, t: &str, optional: bool| json!({"field": name, "type": t, "optional": optional});
    let row = |name: &str| {
        json!({"type": "struct", "optional": true, "field": name, "fields": [
        field("id", "int64", false), field("email", "string", true), field("status", "string", true),
        field("score", "int64", true)]})
    };
    let source_schema = json!({"type": "struct", "optional": false, "field": "source", "fields": [
        field("connector", "string", false), field("name", "string", false), field("ts_ms", "int64", false),
        field("table", "string", false), field("lsn", "int64", true)]});
    let image = json!({"id": id, "email": email, "status": status, "score": score});
    let value = json!({
        "schema": {"type": "struct", "optional": false,
            "fields": [row("before"), row("after"), source_schema, field("op", "string", false)]},
        "payload": {"before": null, "after": image, "op": op,
            "source": {"connector": "postgresql", "name": source, "ts_ms": ts, "table": table, "lsn": lsn}}
    });
    let key = json!({"schema": {"type": "struct", "optional": false, "fields": [field("id", "int64", false)]},
        "payload": {"id": id}});
    (key.to_string(), value.to_string())
}

async fn publish(bootstrap: &str, topic: &str, source: &str, table: &str, changes: &[Change]) {
    let records: Vec<(String, String)> = changes
        .iter()
        .map(|change| envelope(source, table, change))
        .collect();
    publish_keyed(bootstrap, topic, &records).await;
}

fn connector(topic: &str, url: &str, source: &str, table: &str, policy: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "topics": topic,
        "connection.url": url,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": table,
        "sluice.source.name": source,
        "sluice.conflict.window.ms": "60000",
        "sluice.conflict.source.priority": "crm,legacy",
    });
    for (k, v) in policy {
        config[*k] = json!(v);
    }
    config
}

async fn rows(url: &str, table: &str) -> Vec<(i64, String, String, i64)> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    sqlx::query_as(&format!(
        "SELECT id, email, status, score FROM \"{table}\" ORDER BY id"
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sources_on_one_table_resolve_by_policy_and_review() {
    let tansu = Tansu::start();
    let url = Postgres::database();
    let jdbc = format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1));
    let prefix = random_name("mx");
    let topic = |name: &str| format!("{prefix}_{name}");
    for name in [
        "crm_customers",
        "legacy_customers",
        "crm_accounts",
        "legacy_accounts",
    ] {
        tansu.create_topic(&topic(name), 1);
    }
    // customers: last write wins for the row; email from the CRM whatever the time; the
    // larger score.
    let field_level = [
        ("sluice.conflict.strategy", "last_write_wins"),
        ("sluice.conflict.field.email", "source_priority"),
        ("sluice.conflict.field.score", "max"),
    ];
    publish(
        &tansu.bootstrap(),
        &topic("crm_customers"),
        "crm",
        "customers",
        &[
            ("c", 1, ("one@crm", "active", 5), T + 1000, 900_000),
            ("c", 2, ("two@crm", "active", 1), T + 1000, 900_100),
        ],
    )
    .await;
    publish(
        &tansu.bootstrap(),
        &topic("legacy_customers"),
        "legacy",
        "customers",
        &[
            // Newer than the CRM's row: legacy wins the row, the CRM keeps the email, max score.
            ("u", 1, ("one@legacy", "closed", 3), T + 1500, 100),
            // Older: the CRM wins the row, yet the larger legacy score is taken.
            ("u", 2, ("two@legacy", "gone", 9), T + 500, 200),
            // A key only legacy has: no conflict.
            ("c", 3, ("three@legacy", "new", 7), T + 2000, 300),
            // Legacy owns row 1 now (it won it): its later change is the same source's, applied.
            ("u", 1, ("later@legacy", "reopened", 1), T + 601_500, 400),
        ],
    )
    .await;
    // accounts: manual review.
    let review = [("sluice.conflict.strategy", "manual_review")];
    publish(
        &tansu.bootstrap(),
        &topic("crm_accounts"),
        "crm",
        "accounts",
        &[("c", 1, ("a@crm", "active", 1), T + 1000, 900_000)],
    )
    .await;
    publish(
        &tansu.bootstrap(),
        &topic("legacy_accounts"),
        "legacy",
        "accounts",
        &[("u", 1, ("b@legacy", "frozen", 2), T + 1200, 100)],
    )
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let worker = worker_file(dir.path(), &tansu.bootstrap());
    let file = |name: &str, source: &str, table: &str, policy: &[(&str, &str)]| {
        connector_file(
            dir.path(),
            &random_name(name),
            connector(&topic(name), &jdbc, source, table, policy),
        )
    };
    let crm = [
        file("crm_customers", "crm", "customers", &field_level),
        file("crm_accounts", "crm", "accounts", &review),
    ];
    let legacy = [
        file("legacy_customers", "legacy", "customers", &field_level),
        file("legacy_accounts", "legacy", "accounts", &review),
    ];
    run_to_end(
        dir.path(),
        &worker,
        &[&crm[0], &crm[1]],
        Duration::from_secs(120),
    );
    run_to_end(
        dir.path(),
        &worker,
        &[&legacy[0], &legacy[1]],
        Duration::from_secs(120),
    );

    assert_eq!(
        rows(&url, "customers").await,
        vec![
            (1, "later@legacy".into(), "reopened".into(), 1),
            (2, "two@crm".into(), "active".into(), 9),
            (3, "three@legacy".into(), "new".into(), 7),
        ]
    );
    // Review: the row keeps the CRM's values until someone resolves it.
    assert_eq!(
        rows(&url, "accounts").await,
        vec![(1, "a@crm".into(), "active".into(), 1)]
    );

    // The conflict reports, in the seed's shape.
    let (code, stdout, stderr) = command_output(&[&"conflicts", &"list", &"--json", &legacy[0]]);
    assert_eq!(code, 0, "{stderr}");
    let list: Json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2, "two conflicts on customers: {list:#?}");
    let first = list
        .iter()
        .find(|c| c["record_id"] == "1")
        .expect("conflict on customer 1");
    for key in [
        "conflict_id",
        "record_id",
        "conflict_type",
        "detected_at",
        "conflicting_fields",
        "sources",
        "resolution",
    ] {
        assert!(first.get(key).is_some(), "no {key}: {first:#}");
    }
    assert_eq!(first["conflict_type"], "update_conflict");
    assert_eq!(first["status"], "resolved");
    assert_eq!(first["resolution"]["strategy"], "last_write_wins");
    assert_eq!(first["resolution"]["resolved_by"], "system");
    assert_eq!(
        first["resolution"]["resolved_values"],
        json!({"id": "1", "email": "one@crm", "status": "closed", "score": "5"})
    );
    assert_eq!(first["sources"][0]["source"], "crm");
    assert_eq!(first["sources"][0]["values"]["email"], "one@crm");
    assert_eq!(first["sources"][1]["source"], "legacy");
    assert_eq!(first["sources"][1]["values"]["email"], "one@legacy");
    let fields: Vec<&str> = first["conflicting_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(fields, ["email", "score", "status"]);

    let (code, stdout, stderr) =
        command_output(&[&"conflicts", &"list", &"--pending", &"--json", &legacy[1]]);
    assert_eq!(code, 0, "{stderr}");
    let pending: Json = serde_json::from_str(&stdout).expect("json");
    let pending = pending.as_array().expect("array");
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert_eq!(pending[0]["resolution"]["strategy"], "manual_review");
    assert_eq!(pending[0]["resolution"]["resolved_values"], Json::Null);
    assert_eq!(pending[0]["sources"][1]["values"]["status"], "frozen");
    let id = pending[0]["conflict_id"].as_str().expect("id").to_string();
    let (code, stdout, _) = command_output(&[&"conflicts", &"show", &id, &"--json", &legacy[1]]);
    assert_eq!(code, 0);
    let shown: Json = serde_json::from_str(&stdout).expect("json");
    assert_eq!(shown["conflict_id"], json!(id));

    // Resolving it: the legacy values are written as a versioned change, the conflict is
    // marked resolved by the operator, and resolving twice is refused.
    let (code, out, err) = command_output(&[
        &"conflicts",
        &"resolve",
        &id,
        &"--take",
        &"nobody",
        &legacy[1],
    ]);
    assert_ne!(code, 0, "an unknown side is refused: {out}");
    assert!(err.contains("neither side"), "{err}");
    let (code, out, err) = command_output(&[
        &"conflicts",
        &"resolve",
        &id,
        &"--take",
        &"legacy",
        &"--by",
        &"ops-alice",
        &legacy[1],
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        rows(&url, "accounts").await,
        vec![(1, "b@legacy".into(), "frozen".into(), 2)]
    );
    let (_, stdout, _) = command_output(&[&"conflicts", &"show", &id, &"--json", &legacy[1]]);
    let shown: Json = serde_json::from_str(&stdout).expect("json");
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["resolution"]["resolved_by"], "ops-alice");
    assert_eq!(shown["resolution"]["resolved_values"]["email"], "b@legacy");
    let (code, _, err) =
        command_output(&[&"conflicts", &"resolve", &id, &"--take", &"crm", &legacy[1]]);
    assert_ne!(code, 0);
    assert!(err.contains("not pending"), "{err}");
    // A CRM change arriving after the resolution, timed within the window of the legacy
    // change that now owns the row, is a new conflict for review, not an overwrite.
    publish(
        &tansu.bootstrap(),
        &topic("crm_accounts"),
        "crm",
        "accounts",
        &[("u", 1, ("stale@crm", "active", 1), T + 1100, 900_100)],
    )
    .await;
    run_to_end(dir.path(), &worker, &[&crm[1]], Duration::from_secs(120));
    assert_eq!(
        rows(&url, "accounts").await,
        vec![(1, "b@legacy".into(), "frozen".into(), 2)]
    );

    // A third connector on customers with another policy is refused, naming both.
    tansu.create_topic(&topic("erp_customers"), 1);
    publish(
        &tansu.bootstrap(),
        &topic("erp_customers"),
        "erp",
        "customers",
        &[("u", 1, ("x@erp", "erp", 0), T + 2000, 10)],
    )
    .await;
    let disagree = file(
        "erp_customers",
        "erp",
        "customers",
        &[("sluice.conflict.strategy", "source_priority")],
    );
    let mut child = support::sluice::spawn_run(dir.path(), &worker, &[&disagree], true, "erp.log");
    let status = support::sluice::wait(
        &mut child,
        Duration::from_secs(120),
        &dir.path().join("erp.log"),
    );
    let log = std::fs::read_to_string(dir.path().join("erp.log")).unwrap_or_default();
    assert!(
        !status.success(),
        "a disagreeing policy must stop the connector:\n{log}"
    );
    let erp_name = disagree
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    assert!(log.contains("table customers: connector"), "{log}");
    assert!(log.contains("conflict.strategy=source_priority"), "{log}");
    assert!(log.contains("conflict.strategy=last_write_wins"), "{log}");
    assert!(log.contains("erp_customers"), "{erp_name}: {log}");
    assert_eq!(
        rows(&url, "customers").await[0].1,
        "later@legacy",
        "nothing written"
    );

    // The status report counts them.
    let (code, stdout, stderr) =
        command_output(&[&"status", &"--json", &"--worker", &worker, &legacy[1]]);
    assert_eq!(code, 0, "{stderr}");
    let status: Json = serde_json::from_str(&stdout).expect("json");
    // Conflicts belong to the connector that met them: legacy met and resolved one...
    assert_eq!(status["statistics"]["conflicts_detected"], 1, "{status:#}");
    assert_eq!(status["statistics"]["conflicts_resolved"], 1);
    // ...and the CRM connector met the later one, which waits.
    let (code, stdout, stderr) =
        command_output(&[&"status", &"--json", &"--worker", &worker, &crm[1]]);
    assert_eq!(code, 0, "{stderr}");
    let status: Json = serde_json::from_str(&stdout).expect("json");
    assert_eq!(status["statistics"]["conflicts_detected"], 1, "{status:#}");
    assert_eq!(status["statistics"]["conflicts_resolved"], 0);
    assert_eq!(status["conflicts"][0]["resolution"], "manual_review");
}
