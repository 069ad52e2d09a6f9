//! Multi-source conflict edge cases through the sink's library API on SQLite (fast): two
//! connectors (sources `crm` and `legacy`, far-apart LSNs) share table `people`.

use serde_json::json;
use sluice::config::ConnectorConfig;
use sluice::decode::{decode, DecodeConfig};
use sluice::event::{ChangeEvent, Coordinates, Decoded, RawRecord};
use sluice::sink::Sink;
use sqlx::{Connection, SqliteConnection};

/// A Debezium change of `people` (id, email, score) from `source` (`None`: no source name).
fn event(
    source: Option<&str>,
    op: &str,
    id: i64,
    row: (&str, i64),
    ts: i64,
    lsn: i64,
) -> ChangeEvent {
    let field = |name: &str, t: &str, optional: bool| json!({"field": name, "type": t, "optional": optional});
    let image = |name: &str| {
        json!({"type": "struct", "optional": true, "field": name, "fields": [
        field("id", "int64", false), field("email", "string", true), field("score", "int64", true)]})
    };
    let source_schema = json!({"type": "struct", "optional": false, "field": "source", "fields": [
        field("name", "string", true), field("ts_ms", "int64", false), field("table", "string", false),
        field("lsn", "int64", true)]});
    let values = json!({"id": id, "email": row.0, "score": row.1});
    let (before, after) = match op {
        "d" => (values, json!(null)),
        "t" => (json!(null), json!(null)),
        _ => (json!(null), values),
    };
    let value = json!({
        "schema": {"type": "struct", "optional": false,
            "fields": [image("before"), image("after"), source_schema, field("op", "string", false)]},
        "payload": {"before": before, "after": after, "op": op,
            "source": {"name": source, "ts_ms": ts, "table": "people", "lsn": lsn}}
    });
    let key = (op != "t").then(|| {
        json!({"schema": {"type": "struct", "optional": false, "fields": [field("id", "int64", false)]},
            "payload": {"id": id}})
        .to_string()
        .into_bytes()
    });
    let record = RawRecord {
        coordinates: Coordinates {
            topic: format!("t.{}", source.unwrap_or("old")),
            partition: 0,
            offset: lsn,
        },
        key,
        value: Some(value.to_string().into_bytes()),
        headers: Vec::new(),
        timestamp_ms: None,
    };
    match decode(&record, &DecodeConfig::default()).expect("decodes") {
        Decoded::Change(e) => *e,
        other => panic!("not a change: {other:?}"),
    }
}

/// A sink for one source on the shared file; `source: None` leaves sources unrecorded.
async fn sink(path: &str, source: Option<&str>) -> Sink {
    let mut config = json!({"topics": "t", "connection.url": format!("sqlite:{path}"),
        "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
        "truncate.enabled": "true", "schema.evolution": "basic", "collection.name.format": "people",
        "sluice.conflict.window.ms": "60000", "sluice.conflict.source.priority": "crm,legacy"});
    if let Some(source) = source {
        config["sluice.source.name"] = json!(source);
        config["sluice.conflict.strategy"] = json!("last_write_wins");
        config["sluice.conflict.field.score"] = json!("max");
    }
    // Without a source this is `legacy` before it recorded sources (same connector).
    let name = source.unwrap_or("legacy");
    let doc = json!({"name": name, "config": config});
    let config = ConnectorConfig::from_json(&doc.to_string(), name, &|_| None).expect("config");
    Sink::open(&config).await.expect("open")
}

async fn apply(sink: &mut Sink, events: &[ChangeEvent]) {
    sink.apply_batch(events, &[]).await.expect("apply");
}

async fn rows(path: &str) -> Vec<(i64, String, i64)> {
    let mut conn = SqliteConnection::connect(&format!("sqlite:{path}"))
        .await
        .expect("sqlite");
    sqlx::query_as("SELECT id, email, score FROM people ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("rows")
}

async fn conflicts(path: &str) -> usize {
    let mut conn = SqliteConnection::connect(&format!("sqlite:{path}"))
        .await
        .expect("sqlite");
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM sluice_conflicts")
        .fetch_one(&mut conn)
        .await
        .expect("conflicts");
    n as usize
}

fn file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("people.db").display().to_string();
    (dir, path)
}

#[tokio::test]
async fn the_loser_of_a_merged_row_meets_the_owner_again() {
    let (_dir, path) = file();
    let (mut crm, mut legacy) = (
        sink(&path, Some("crm")).await,
        sink(&path, Some("legacy")).await,
    );
    apply(
        &mut crm,
        &[event(Some("crm"), "c", 1, ("a@crm", 5), 1000, 900_000)],
    )
    .await;
    // Older than the CRM's row: the CRM keeps the row; the larger score would be taken.
    apply(
        &mut legacy,
        &[event(Some("legacy"), "u", 1, ("b@legacy", 3), 500, 100)],
    )
    .await;
    assert_eq!(rows(&path).await, vec![(1, "a@crm".into(), 5)]);
    // Legacy's next change is still another source's: a conflict again, not an overwrite.
    apply(
        &mut legacy,
        &[event(Some("legacy"), "u", 1, ("c@legacy", 9), 800, 200)],
    )
    .await;
    assert_eq!(rows(&path).await, vec![(1, "a@crm".into(), 9)]);
    assert_eq!(conflicts(&path).await, 2);
}

#[tokio::test]
async fn a_column_strategy_never_brings_a_deleted_row_back() {
    let (_dir, path) = file();
    let (mut crm, mut legacy) = (
        sink(&path, Some("crm")).await,
        sink(&path, Some("legacy")).await,
    );
    apply(
        &mut crm,
        &[event(Some("crm"), "c", 2, ("a@crm", 1), 1000, 900_000)],
    )
    .await;
    apply(
        &mut crm,
        &[event(Some("crm"), "d", 2, ("a@crm", 1), 1100, 900_100)],
    )
    .await;
    apply(
        &mut legacy,
        &[event(Some("legacy"), "u", 2, ("b@legacy", 9), 900, 100)],
    )
    .await;
    assert_eq!(rows(&path).await, vec![]);
    assert_eq!(conflicts(&path).await, 1);
}

#[tokio::test]
async fn one_sources_truncate_is_not_compared_with_anothers_changes() {
    let (_dir, path) = file();
    let (mut crm, mut legacy) = (
        sink(&path, Some("crm")).await,
        sink(&path, Some("legacy")).await,
    );
    apply(
        &mut crm,
        &[event(Some("crm"), "c", 1, ("a@crm", 1), 1000, 900_000)],
    )
    .await;
    apply(
        &mut crm,
        &[event(Some("crm"), "t", 0, ("", 0), 1100, 900_100)],
    )
    .await;
    // A far lower LSN from another source, minutes later: applied.
    apply(
        &mut legacy,
        &[event(Some("legacy"), "c", 3, ("c@legacy", 3), 500_000, 100)],
    )
    .await;
    assert_eq!(rows(&path).await, vec![(3, "c@legacy".into(), 3)]);
}

#[tokio::test]
async fn rows_written_before_sources_were_recorded_are_adopted() {
    let (_dir, path) = file();
    let mut old = sink(&path, None).await;
    apply(
        &mut old,
        &[event(None, "c", 4, ("old@db", 1), 1000, 900_000)],
    )
    .await;
    let mut legacy = sink(&path, Some("legacy")).await;
    // Its LSN says nothing about the unnamed source's: not skipped as stale.
    apply(
        &mut legacy,
        &[event(Some("legacy"), "u", 4, ("new@legacy", 2), 2000, 100)],
    )
    .await;
    assert_eq!(rows(&path).await, vec![(4, "new@legacy".into(), 2)]);
    assert_eq!(conflicts(&path).await, 0);
}
