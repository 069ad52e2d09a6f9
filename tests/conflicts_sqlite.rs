//! Multi-source conflict edge cases through the sink's library API on SQLite (fast): two
//! connectors (sources `crm` and `legacy`, far-apart LSNs) share table `people`.

mod support;

use serde_json::json;
use sluice::config::ConnectorConfig;
use sluice::event::{ChangeEvent, Coordinates, RawRecord};
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
    support::sink::change(&record)
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

/// The shared file with one sink per source (`None`: the unnamed source of old rows).
struct People {
    _dir: tempfile::TempDir,
    path: String,
    sinks: Vec<(Option<&'static str>, Sink)>,
}

impl People {
    async fn new(sources: &[Option<&'static str>]) -> People {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("people.db").display().to_string();
        let mut sinks = Vec::new();
        for source in sources {
            sinks.push((*source, sink(&path, *source).await));
        }
        People {
            _dir: dir,
            path,
            sinks,
        }
    }

    /// Applies one change from `source`, as its own batch.
    async fn write(
        &mut self,
        source: Option<&str>,
        op: &str,
        id: i64,
        row: (&str, i64),
        ts: i64,
        lsn: i64,
    ) {
        let change = event(source, op, id, row, ts, lsn);
        let (_, sink) = self
            .sinks
            .iter_mut()
            .find(|(s, _)| *s == source)
            .expect("a sink for that source");
        sluice::pipeline::transaction::apply(sink, &[change], &[])
            .await
            .expect("apply");
    }

    async fn connect(&self) -> SqliteConnection {
        SqliteConnection::connect(&format!("sqlite:{}", self.path))
            .await
            .expect("sqlite")
    }

    async fn rows(&self) -> Vec<(i64, String, i64)> {
        sqlx::query_as("SELECT id, email, score FROM people ORDER BY id")
            .fetch_all(&mut self.connect().await)
            .await
            .expect("rows")
    }

    async fn conflicts(&self) -> usize {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM sluice_conflicts")
            .fetch_one(&mut self.connect().await)
            .await
            .expect("conflicts");
        n as usize
    }
}

const CRM: Option<&str> = Some("crm");
const LEGACY: Option<&str> = Some("legacy");

#[tokio::test]
async fn the_loser_of_a_merged_row_meets_the_owner_again() {
    let mut t = People::new(&[CRM, LEGACY]).await;
    t.write(CRM, "c", 1, ("a@crm", 5), 1000, 900_000).await;
    // Older than the CRM's row: the CRM keeps the row; the larger score would be taken.
    t.write(LEGACY, "u", 1, ("b@legacy", 3), 500, 100).await;
    assert_eq!(t.rows().await, vec![(1, "a@crm".into(), 5)]);
    // Legacy's next change is still another source's: a conflict again, not an overwrite.
    t.write(LEGACY, "u", 1, ("c@legacy", 9), 800, 200).await;
    assert_eq!(t.rows().await, vec![(1, "a@crm".into(), 9)]);
    assert_eq!(t.conflicts().await, 2);
}

#[tokio::test]
async fn a_column_strategy_never_brings_a_deleted_row_back() {
    let mut t = People::new(&[CRM, LEGACY]).await;
    t.write(CRM, "c", 2, ("a@crm", 1), 1000, 900_000).await;
    t.write(CRM, "d", 2, ("a@crm", 1), 1100, 900_100).await;
    t.write(LEGACY, "u", 2, ("b@legacy", 9), 900, 100).await;
    assert_eq!(t.rows().await, vec![]);
    assert_eq!(t.conflicts().await, 1);
}

#[tokio::test]
async fn one_sources_truncate_is_not_compared_with_anothers_changes() {
    let mut t = People::new(&[CRM, LEGACY]).await;
    t.write(CRM, "c", 1, ("a@crm", 1), 1000, 900_000).await;
    t.write(CRM, "t", 0, ("", 0), 1100, 900_100).await;
    // A far lower LSN from another source, minutes later: applied.
    t.write(LEGACY, "c", 3, ("c@legacy", 3), 500_000, 100).await;
    assert_eq!(t.rows().await, vec![(3, "c@legacy".into(), 3)]);
}

#[tokio::test]
async fn rows_written_before_sources_were_recorded_are_adopted() {
    let mut t = People::new(&[None, LEGACY]).await;
    t.write(None, "c", 4, ("old@db", 1), 1000, 900_000).await;
    // Its LSN says nothing about the unnamed source's: not skipped as stale.
    t.write(LEGACY, "u", 4, ("new@legacy", 2), 2000, 100).await;
    assert_eq!(t.rows().await, vec![(4, "new@legacy".into(), 2)]);
    assert_eq!(t.conflicts().await, 0);
}
