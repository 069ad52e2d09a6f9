//! The sink through its library API on SQLite (fast, hermetic): version tombstones stop an older
//! event from resurrecting a deleted key until the retention passes, and hostile table and
//! column names are quoted, never interpolated.

mod support;

use serde_json::json;
use sluice::checkpoint::{self, Position, TopicPartition};
use sluice::config::ConnectorConfig;
use sluice::event::{ChangeEvent, Coordinates, RawRecord};
use sluice::pipeline::transaction::apply;
use sluice::sink::Sink;
use sqlx::{Connection, SqliteConnection};

const TOPIC: &str = "db.public.t";

/// A schemaful Debezium event for table `table` with columns (id int32, `column` string).
fn event(
    table: &str,
    column: &str,
    op: &str,
    id: i64,
    text: Option<&str>,
    lsn: i64,
    offset: i64,
) -> ChangeEvent {
    event_with_headers(table, column, op, id, text, lsn, offset, Vec::new())
}

/// [`event`] with record headers (name, JSON text).
#[allow(clippy::too_many_arguments)]
fn event_with_headers(
    table: &str,
    column: &str,
    op: &str,
    id: i64,
    text: Option<&str>,
    lsn: i64,
    offset: i64,
    headers: Vec<(&str, serde_json::Value)>,
) -> ChangeEvent {
    let field = |name: &str, t: &str| json!({"field": name, "type": t, "optional": name != "id"});
    let row_schema = |f: &str| json!({"type": "struct", "optional": true, "field": f, "fields": [field("id", "int32"), field(column, "string")]});
    let row = text.map(|t| json!({"id": id, column: t}));
    let (before, after) = if op == "d" {
        (Some(json!({"id": id, column: null})), None)
    } else {
        (None, row)
    };
    let value = json!({
        "schema": {"type": "struct", "fields": [row_schema("before"), row_schema("after"),
            {"type": "struct", "field": "source", "fields": [field("table", "string"), field("lsn", "int64")]},
            field("op", "string")]},
        "payload": {"before": before, "after": after, "op": op, "source": {"table": table, "lsn": lsn}}
    });
    let key = json!({"schema": {"type": "struct", "fields": [field("id", "int32")]}, "payload": {"id": id}});
    let record = RawRecord {
        coordinates: Coordinates {
            topic: TOPIC.into(),
            partition: 0,
            offset,
        },
        key: Some(key.to_string().into_bytes()),
        value: Some(value.to_string().into_bytes()),
        headers: headers
            .into_iter()
            .map(|(name, v)| (name.to_string(), Some(v.to_string().into_bytes())))
            .collect(),
        timestamp_ms: None,
    };
    support::sink::change(&record)
}

/// A SQLite target through the sink (`Deref`s to it), with the file to read rows back from.
struct Target {
    _dir: tempfile::TempDir,
    path: String,
    target: support::sink::Target,
}

impl std::ops::Deref for Target {
    type Target = support::sink::Target;
    fn deref(&self) -> &Self::Target {
        &self.target
    }
}

impl std::ops::DerefMut for Target {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.target
    }
}

async fn target(retention_ms: i64) -> Target {
    target_with(retention_ms, "upsert").await
}

/// A target with `insert.mode` `mode` (`insert`: append-only, no key).
async fn target_with(retention_ms: i64, mode: &str) -> Target {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db").display().to_string();
    let (key_mode, deletes) = if mode == "insert" {
        ("none", "false")
    } else {
        ("record_key", "true")
    };
    let config = json!({"name": "s", "config": {"topics": TOPIC, "connection.url": format!("sqlite:{path}"),
        "insert.mode": mode, "primary.key.mode": key_mode, "delete.enabled": deletes,
        "schema.evolution": "basic", "collection.name.format": "${source.table}",
        "sluice.delete.tombstone.retention.ms": retention_ms.to_string(),
        "sluice.offsets.history.retention.ms": retention_ms.to_string()}});
    let config = ConnectorConfig::from_json(&config.to_string(), "t", &|_| None).expect("config");
    Target {
        _dir: dir,
        path,
        target: support::sink::Target::open(&config, TOPIC).await,
    }
}

impl Target {
    async fn rows(&self, table: &str, column: &str) -> Vec<(i64, Option<String>)> {
        let mut conn = SqliteConnection::connect(&format!("sqlite:{}", self.path))
            .await
            .expect("sqlite");
        let sql = format!(
            "SELECT id, \"{}\" FROM \"{}\" ORDER BY id",
            column.replace('"', "\"\""),
            table.replace('"', "\"\"")
        );
        sqlx::query_as(&sql)
            .fetch_all(&mut conn)
            .await
            .expect("read")
    }
}

#[tokio::test]
async fn a_version_tombstone_stops_an_older_event_from_resurrecting_a_key() {
    let mut t = target(3_600_000).await;
    t.apply(&[
        event("t", "v", "c", 1, Some("created"), 100, 0),
        event("t", "v", "c", 2, Some("two"), 101, 1),
    ])
    .await;
    t.apply(&[event("t", "v", "d", 1, None, 300, 2)]).await;
    // A late update from before the delete (a replay, or an out-of-order source).
    t.apply(&[event("t", "v", "u", 1, Some("stale update"), 200, 3)])
        .await;
    assert_eq!(
        t.rows("t", "v").await,
        vec![(2, Some("two".into()))],
        "the deleted key came back"
    );
    // Newer than the delete: an undelete is applied.
    t.apply(&[event("t", "v", "c", 1, Some("re-created"), 400, 4)])
        .await;
    assert_eq!(
        t.rows("t", "v").await,
        vec![(1, Some("re-created".into())), (2, Some("two".into()))]
    );
    // Equal version: re-applied (a replay after a fixed transform rewrites rows).
    t.apply(&[event("t", "v", "u", 2, Some("rewritten"), 101, 5)])
        .await;
    assert_eq!(t.rows("t", "v").await[1], (2, Some("rewritten".into())));
}

#[tokio::test]
async fn tombstones_past_the_retention_are_purged() {
    let mut t = target(0).await;
    t.apply(&[event("t", "v", "c", 1, Some("x"), 100, 0)]).await;
    t.apply(&[event("t", "v", "d", 1, None, 300, 1)]).await;
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(t.sink.purge_tombstones().await.expect("purge"), 1);
    // With the tombstone gone, nothing remembers the delete: an old event applies again. This
    // is what the retention bounds.
    t.apply(&[event("t", "v", "u", 1, Some("old"), 200, 2)])
        .await;
    assert_eq!(t.rows("t", "v").await, vec![(1, Some("old".into()))]);
}

/// Debezium's TOAST placeholder in an update keeps the column's value: the value an earlier
/// change of the same batch wrote (the batch compacts them into one row), else the target's.
#[tokio::test]
async fn a_toast_placeholder_takes_the_value_an_earlier_change_of_the_same_batch_wrote() {
    let mut t = target(0).await;
    let placeholder = Some("__debezium_unavailable_value");
    t.apply(&[
        event("t", "v", "c", 5, Some("first"), 100, 0),
        event("t", "v", "u", 5, placeholder, 101, 1),
        event("t", "v", "c", 6, Some("six"), 102, 2),
        event("t", "v", "u", 6, Some("six, updated"), 103, 3),
    ])
    .await;
    assert_eq!(
        t.rows("t", "v").await,
        vec![(5, Some("first".into())), (6, Some("six, updated".into()))]
    );
    // Across batches the placeholder keeps what the target holds.
    t.apply(&[
        event("t", "v", "u", 5, Some("second"), 200, 4),
        event("t", "v", "u", 5, placeholder, 201, 5),
    ])
    .await;
    t.apply(&[event("t", "v", "u", 5, placeholder, 300, 6)])
        .await;
    assert_eq!(t.rows("t", "v").await[0], (5, Some("second".into())));
}

/// A primary-key change (2 -> 20) whose delete and create come in different batches: the
/// create's TOAST placeholder takes the value of the row the delete removed (kept in
/// `sluice_rekeyed_rows` until then); a kept row whose create never comes is purged with the
/// tombstones.
#[tokio::test]
async fn a_primary_key_change_across_batches_keeps_the_unchanged_toast_value() {
    let mut t = target(0).await;
    let key = |id: i64| json!({"schema": {"type": "struct", "fields": [{"field": "id", "type": "int32", "optional": false}]}, "payload": {"id": id}});
    t.apply(&[
        event("t", "v", "c", 2, Some("large value"), 100, 0),
        event("t", "v", "c", 3, Some("another"), 101, 1),
    ])
    .await;
    // Debezium's two halves of a primary-key change: (op, key, value, lsn, offset, header, the
    // other key).
    let rekey = |op, id, text, lsn, offset, header, other: i64| {
        event_with_headers(
            "t",
            "v",
            op,
            id,
            text,
            lsn,
            offset,
            vec![(header, key(other))],
        )
    };
    t.apply(&[rekey("d", 2, None, 200, 2, "__debezium.newkey", 20)])
        .await;
    assert_eq!(t.rows("t", "v").await, vec![(3, Some("another".into()))]);
    let placeholder = Some("__debezium_unavailable_value");
    t.apply(&[rekey("c", 20, placeholder, 200, 3, "__debezium.oldkey", 2)])
        .await;
    assert_eq!(
        t.rows("t", "v").await,
        vec![
            (3, Some("another".into())),
            (20, Some("large value".into()))
        ]
    );
    // The create took the kept row; a delete whose create never comes keeps one until the
    // retention (0 here) passes.
    t.apply(&[rekey("d", 3, None, 300, 4, "__debezium.newkey", 30)])
        .await;
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", t.path))
        .await
        .expect("sqlite");
    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT row_key, row_values FROM sluice_rekeyed_rows")
            .fetch_all(&mut conn)
            .await
            .expect("kept rows");
    assert_eq!(
        kept,
        vec![(r#"["3"]"#.to_string(), r#"{"v":"another"}"#.to_string())]
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    // Two version tombstones and the kept row.
    assert_eq!(t.sink.purge_tombstones().await.expect("purge"), 3);
}

#[tokio::test]
async fn hostile_table_and_column_names_are_quoted() {
    let mut t = target(3_600_000).await;
    let table = "x\"; DROP TABLE sluice_offsets; --";
    let column = "v'); DELETE FROM sluice_offsets; --\"";
    t.apply(&[event(
        table,
        column,
        "c",
        1,
        Some("it's \"fine\"; --"),
        100,
        0,
    )])
    .await;
    assert_eq!(
        t.rows(table, column).await,
        vec![(1, Some("it's \"fine\"; --".into()))]
    );
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", t.path))
        .await
        .expect("sqlite");
    let offsets: i64 = sqlx::query_scalar("SELECT count(*) FROM sluice_offsets")
        .fetch_one(&mut conn)
        .await
        .expect("offsets survive");
    assert_eq!(offsets, 1);
}

#[tokio::test]
async fn per_batch_checkpoint_history_is_purged_but_resets_are_kept() {
    let mut t = target(0).await;
    t.apply(&[event("t", "v", "c", 1, Some("x"), 100, 0)]).await;
    t.apply(&[event("t", "v", "c", 2, Some("y"), 101, 1)]).await;
    let tp = TopicPartition {
        topic: TOPIC.into(),
        partition: 0,
    };
    checkpoint::reset(t.sink.db(), "connect-s", &[(tp, 0)], "reset")
        .await
        .expect("reset");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        t.sink.purge_history().await.expect("purge"),
        2,
        "one commit row per batch"
    );
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", t.path))
        .await
        .expect("sqlite");
    let left: Vec<String> = sqlx::query_scalar("SELECT reason FROM sluice_offsets_history")
        .fetch_all(&mut conn)
        .await
        .expect("history");
    assert_eq!(left, vec!["reset".to_string()]);
}

/// A COMMIT whose answer is lost (connection dropped after the server committed) is retried
/// with the same positions: the checkpoint already holds the batch, so it is not applied twice,
/// even into an append-only table.
#[tokio::test]
async fn a_retried_batch_that_was_already_committed_is_not_applied_twice() {
    let mut t = target_with(3_600_000, "insert").await;
    let batch = [
        event("t", "v", "c", 1, Some("a"), 100, 0),
        event("t", "v", "u", 1, Some("b"), 101, 1),
    ];
    t.apply(&batch).await;
    // The retry: same positions, same `previous` as the first attempt.
    t.committed = None;
    t.apply(&batch).await;
    assert_eq!(
        t.rows("t", "v").await.len(),
        2,
        "the retried batch was applied again"
    );
    // A checkpoint moved by someone else is not mistaken for our own commit: fenced.
    t.committed = Some(1);
    let next = Position {
        tp: TopicPartition {
            topic: TOPIC.into(),
            partition: 0,
        },
        next_offset: 3,
        epoch: t.epoch,
        previous: Some(1),
        watermark_ms: None,
    };
    let err = apply(
        &mut t.sink,
        &[event("t", "v", "u", 1, Some("c"), 102, 2)],
        &[next],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, sluice::sink::SinkError::Fenced(_)), "{err}");
}

/// Deletes (and truncates) for a table that was never created are no-ops, not a failed
/// CREATE TABLE without columns.
#[tokio::test]
async fn deletes_for_a_table_that_does_not_exist_are_skipped() {
    let mut t = target(3_600_000).await;
    t.apply(&[event("gone", "v", "d", 1, None, 100, 0)]).await;
    t.apply(&[event("t", "v", "c", 2, Some("y"), 101, 1)]).await;
    assert_eq!(t.rows("t", "v").await, vec![(2, Some("y".into()))]);
}

/// A target created by schema version 1 (before the late-data watermark) is migrated in place
/// when sluice opens it: the checkpoint it holds stays, the new column and table appear.
#[tokio::test]
async fn a_version_1_target_is_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db").display().to_string();
    let url = format!("sqlite:{path}?mode=rwc");
    let mut conn = SqliteConnection::connect(&url).await.expect("sqlite");
    for sql in [
        "CREATE TABLE sluice_schema_version (component TEXT PRIMARY KEY, version BIGINT NOT NULL)",
        "INSERT INTO sluice_schema_version VALUES ('internal', 1)",
        "CREATE TABLE sluice_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL, \
         kafka_partition INTEGER NOT NULL, next_offset BIGINT, epoch BIGINT NOT NULL DEFAULT 0, \
         owner TEXT, mirrored_offset BIGINT, mirror_pending BIGINT, updated_at_ms BIGINT NOT NULL, \
         PRIMARY KEY (group_id, topic, kafka_partition))",
        "INSERT INTO sluice_offsets (group_id, topic, kafka_partition, next_offset, epoch, updated_at_ms) \
         VALUES ('connect-s', 'db.public.t', 0, 42, 3, 0)",
    ] {
        sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
    }
    let config = json!({"name": "s", "config": {"topics": TOPIC, "connection.url": format!("sqlite:{path}")}});
    let config = ConnectorConfig::from_json(&config.to_string(), "t", &|_| None).expect("config");
    let sink = Sink::open(&config).await.expect("open migrates");
    let claims = checkpoint::claim(
        sink.db(),
        &config.group_id(),
        "test",
        &[TopicPartition {
            topic: TOPIC.into(),
            partition: 0,
        }],
    )
    .await
    .expect("claim");
    assert_eq!(
        (claims[0].next_offset, claims[0].watermark_ms),
        (Some(42), None)
    );
    let (version,): (i64,) = sqlx::query_as("SELECT version FROM sluice_schema_version")
        .fetch_one(&mut conn)
        .await
        .expect("version");
    assert_eq!(version, sluice::db::schema::SCHEMA_VERSION);
    for table in [
        "sluice_late_events",
        "sluice_dead_letters",
        "sluice_rekeyed_rows",
    ] {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect(table);
        assert_eq!(n, 0, "{table}");
    }
    // Opening again does not try to add the column twice.
    Sink::open(&config).await.expect("reopen");
}
