//! `sluice_dead_letters`: dead letters in the target, written in their batch's transaction.
//!
//! One row per record (`UNIQUE (group_id, topic, kafka_partition, kafka_offset)`): a record
//! that fails again (after an offset reset, or a replay that still fails) updates its row and
//! counts the failure instead of adding a second one. Key and value are stored as the bytes
//! that came from Kafka; headers as a JSON array of `[name, base64 value or null]`.

use super::{DeadLetter, Stage};
use crate::checkpoint::now_ms;
use crate::config::Dialect;
use crate::db::Param;
use crate::db::{Db, TextRow, Tx};
use crate::event::{Coordinates, RawRecord};
use base64::Engine;

/// A dead letter as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Row id (what `sluice dlq show|replay` take).
    pub id: i64,
    /// The record and why it failed (the latest failure).
    pub letter: DeadLetter,
    /// `dead` (waiting), or `replayed` (applied by `sluice dlq replay`).
    pub status: String,
    /// How many times the record failed.
    pub failures: i64,
    /// First failure.
    pub created_at_ms: i64,
    /// When it reached the dead-letter topic (`None`: not yet, or no topic configured).
    pub published_at_ms: Option<i64>,
    /// When it was replayed.
    pub replayed_at_ms: Option<i64>,
}

/// Which dead letters to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these ids.
    pub ids: Vec<i64>,
    /// Only those still waiting (`status = 'dead'`).
    pub waiting: bool,
    /// Only those not published to the topic yet.
    pub unpublished: bool,
    /// Only this stage (`decode`, `transform`, `resolve`, `write`).
    pub stage: Option<String>,
    /// At most this many, oldest first.
    pub limit: Option<i64>,
}

fn headers_json(headers: &[(String, Option<Vec<u8>>)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let list: Vec<serde_json::Value> = headers
        .iter()
        .map(|(k, v)| serde_json::json!([k, v.as_ref().map(|v| b64.encode(v))]))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Why stored dead letters could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The target did not answer the query.
    #[error("target: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored row cannot be turned back into its record (edited by hand, or corrupt).
    #[error("dead letter {id}: {reason}")]
    Corrupt {
        /// The row's id (0 when the id itself is unreadable).
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Record headers in order, a header's value possibly null.
type Headers = Vec<(String, Option<Vec<u8>>)>;

fn parse_headers(text: &str) -> Result<Headers, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let list: Vec<(String, Option<String>)> =
        serde_json::from_str(text).map_err(|e| format!("record_headers: {e}"))?;
    list.into_iter()
        .map(|(k, v)| match v {
            None => Ok((k, None)),
            Some(v) => b64
                .decode(v)
                .map(|b| (k, Some(b)))
                .map_err(|e| format!("record_headers: {e}")),
        })
        .collect()
}

fn parse_stage(label: &str, connect: Option<&str>) -> Stage {
    match (label, connect) {
        ("decode", Some("KEY_CONVERTER")) => Stage::KeyConverter,
        ("decode", _) => Stage::ValueConverter,
        ("transform", _) => Stage::Transform,
        ("resolve", _) => Stage::Resolve,
        _ => Stage::Write,
    }
}

/// Text as PostgreSQL can store it: a NUL character (PostgreSQL text cannot hold one, and a
/// field name or value in an error message may carry it) is written as `\u0000`.
fn storable(text: &str) -> String {
    text.replace('\0', "\\u0000")
}

/// Which rows a repeat failure may update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The pipeline: a record failing again (after an offset reset) is waiting again, whatever
    /// happened to its row before, and goes to the dead-letter topic again (as Kafka Connect
    /// reports every failure).
    Always,
    /// `sluice dlq replay`: only a row still waiting; one that another replay marked
    /// `replayed` meanwhile stays so. The operator sees the reason; it is not republished.
    IfWaiting,
}

/// Records `letters` in the batch's transaction `tx` (see the module doc for repeats). A
/// repeat failure counts one more failure and takes the new reason (see [`Repeat`]). Returns
/// how many rows were written (with [`Repeat::IfWaiting`], fewer than `letters` when another
/// replay got there first).
pub async fn insert(
    tx: &mut Tx,
    group: &str,
    connector: &str,
    letters: &[DeadLetter],
    repeat: Repeat,
) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let (republish, only_waiting) = match repeat {
        Repeat::Always => (", published_at_ms = NULL", ""),
        Repeat::IfWaiting => ("", " WHERE sluice_dead_letters.status = 'dead'"),
    };
    let mut written = 0;
    for l in letters {
        let c = &l.record.coordinates;
        written += tx.execute(&format!(
            "INSERT INTO sluice_dead_letters (group_id, connector, topic, kafka_partition, \
             kafka_offset, record_key, record_value, record_headers, record_timestamp_ms, stage, \
             connect_stage, class_name, exception_class, exception_message, exception_detail, \
             status, failures, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS BIGINT), $10, $11, $12, $13, $14, $15, \
             'dead', 1, $16, $16) \
             ON CONFLICT (group_id, topic, kafka_partition, kafka_offset) DO UPDATE SET \
             stage = excluded.stage, connect_stage = excluded.connect_stage, \
             class_name = excluded.class_name, exception_class = excluded.exception_class, \
             exception_message = excluded.exception_message, \
             exception_detail = excluded.exception_detail, status = 'dead', \
             failures = sluice_dead_letters.failures + 1, \
             updated_at_ms = excluded.updated_at_ms{republish}{only_waiting}"),
            &[
                Param::Text(Some(group.into())),
                Param::Text(Some(storable(connector))),
                Param::Text(Some(storable(&c.topic))),
                Param::Int(c.partition.into()),
                Param::Int(c.offset),
                Param::Blob(l.record.key.clone()),
                Param::Blob(l.record.value.clone()),
                Param::Text(Some(headers_json(&l.record.headers))),
                match l.record.timestamp_ms {
                    Some(ts) => Param::Int(ts),
                    None => Param::Text(None),
                },
                Param::Text(Some(l.stage.label().into())),
                Param::Text(Some(l.stage.connect_name().into())),
                Param::Text(Some(storable(&l.class_name))),
                Param::Text(Some(storable(&l.exception_class))),
                Param::Text(Some(storable(&l.message))),
                Param::Text(l.detail.as_deref().map(storable)),
                Param::Int(now),
            ],
        )
        .await?;
    }
    Ok(written)
}

/// The SELECT of every column, as text (blobs as hex), for a dialect.
fn select(dialect: Dialect) -> String {
    let hex = |column: &str| match dialect {
        Dialect::Postgres => format!("encode({column}, 'hex')"),
        // hex(NULL) is '' in SQLite.
        Dialect::Sqlite => format!("CASE WHEN {column} IS NULL THEN NULL ELSE hex({column}) END"),
    };
    format!(
        "SELECT CAST(id AS TEXT) AS id, topic, CAST(kafka_partition AS TEXT) AS kafka_partition, \
         CAST(kafka_offset AS TEXT) AS kafka_offset, {} AS record_key, {} AS record_value, record_headers, CAST(record_timestamp_ms AS TEXT) AS record_timestamp_ms, \
         stage, connect_stage, class_name, exception_class, exception_message, exception_detail, \
         status, CAST(failures AS TEXT) AS failures, CAST(created_at_ms AS TEXT) AS created_at_ms, \
         CAST(published_at_ms AS TEXT) AS published_at_ms, CAST(replayed_at_ms AS TEXT) AS replayed_at_ms FROM sluice_dead_letters",
        hex("record_key"),
        hex("record_value"),
    )
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("odd hex length".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn parse_row(row: &TextRow) -> Result<Stored, StoreError> {
    let text = |column: &str| row.string(column);
    let int = |column: &str| row.int(column);
    let bytes = |column: &str| text(column).map(|t| unhex(&t)).transpose();
    let id = int("id").ok_or(StoreError::Corrupt {
        id: 0,
        reason: "no id".into(),
    })?;
    let corrupt = |reason: String| StoreError::Corrupt { id, reason };
    Ok(Stored {
        id,
        letter: DeadLetter {
            record: RawRecord {
                coordinates: Coordinates {
                    topic: text("topic").unwrap_or_default(),
                    partition: int("kafka_partition").unwrap_or(-1) as i32,
                    offset: int("kafka_offset").unwrap_or(-1),
                },
                key: bytes("record_key").map_err(|e| corrupt(format!("key: {e}")))?,
                value: bytes("record_value").map_err(|e| corrupt(format!("value: {e}")))?,
                headers: parse_headers(&text("record_headers").unwrap_or_else(|| "[]".into()))
                    .map_err(corrupt)?,
                timestamp_ms: int("record_timestamp_ms"),
            },
            stage: parse_stage(
                &text("stage").unwrap_or_default(),
                text("connect_stage").as_deref(),
            ),
            class_name: text("class_name").unwrap_or_default(),
            exception_class: text("exception_class").unwrap_or_default(),
            message: text("exception_message").unwrap_or_default(),
            detail: text("exception_detail"),
        },
        status: text("status").unwrap_or_default(),
        failures: int("failures").unwrap_or(0),
        created_at_ms: int("created_at_ms").unwrap_or(0),
        published_at_ms: int("published_at_ms"),
        replayed_at_ms: int("replayed_at_ms"),
    })
}

/// Reads the dead letters of `group` chosen by `filter`, oldest first.
pub async fn list(db: &Db, group: &str, filter: &Filter) -> Result<Vec<Stored>, StoreError> {
    let mut sql = select(db.dialect());
    sql.push_str(" WHERE group_id = $1");
    let mut params = vec![Param::Text(Some(group.into()))];
    if filter.waiting {
        sql.push_str(" AND status = 'dead'");
    }
    if filter.unpublished {
        sql.push_str(" AND published_at_ms IS NULL");
    }
    if let Some(stage) = &filter.stage {
        params.push(Param::Text(Some(stage.clone())));
        sql.push_str(&format!(" AND stage = ${}", params.len()));
    }
    if !filter.ids.is_empty() {
        let mut marks = Vec::new();
        for id in &filter.ids {
            params.push(Param::Int(*id));
            marks.push(format!("${}", params.len()));
        }
        sql.push_str(&format!(" AND id IN ({})", marks.join(", ")));
    }
    sql.push_str(" ORDER BY id");
    if let Some(limit) = filter.limit {
        params.push(Param::Int(limit));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
    }
    let rows = db.query(&sql, &params).await?;
    rows.iter().map(parse_row).collect()
}

/// Marks dead letters as published to the topic.
pub async fn mark_published(db: &Db, ids: &[i64]) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for id in ids {
        db.execute(
            "UPDATE sluice_dead_letters SET published_at_ms = $1 WHERE id = $2",
            &[Param::Int(now), Param::Int(*id)],
        )
        .await?;
    }
    Ok(())
}

/// Marks dead letter `id` replayed in the transaction that applies it. `false`: it is not
/// waiting any more (replayed by someone else meanwhile).
pub async fn mark_replayed(tx: &mut Tx, group: &str, id: i64) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let n = tx
        .execute(
            "UPDATE sluice_dead_letters SET status = 'replayed', replayed_at_ms = $1, \
             updated_at_ms = $1 WHERE id = $2 AND group_id = $3 AND status = 'dead'",
            &[
                Param::Int(now),
                Param::Int(id),
                Param::Text(Some(group.into())),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// How many dead letters of `group` are waiting, and how many are not published yet.
pub async fn counts(db: &Db, group: &str) -> Result<(i64, i64), sqlx::Error> {
    let rows = db
        .query(
            "SELECT CAST(COUNT(*) AS TEXT) AS waiting, \
             CAST(COALESCE(SUM(CASE WHEN published_at_ms IS NULL THEN 1 ELSE 0 END), 0) AS TEXT) \
             AS unpublished FROM sluice_dead_letters WHERE group_id = $1 AND status = 'dead'",
            &[Param::Text(Some(group.into()))],
        )
        .await?;
    let get = |column: &str| rows.first().and_then(|r| r.int(column)).unwrap_or(0);
    Ok((get("waiting"), get("unpublished")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_byte_for_byte() {
        let headers = vec![
            ("a".to_string(), Some(vec![0u8, 0xff, 0xc3, 0x28])),
            ("null".to_string(), None),
            ("empty".to_string(), Some(vec![])),
        ];
        assert_eq!(parse_headers(&headers_json(&headers)).unwrap(), headers);
        assert!(parse_headers("[[\"a\", \"***\"]]").is_err());
    }

    #[test]
    fn hex_decodes_and_refuses_garbage() {
        assert_eq!(unhex("00ffC328").unwrap(), vec![0, 0xff, 0xc3, 0x28]);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
