//! The sync status report of one connector (the seed spec's "Sync Status Report": metadata,
//! statistics, tables, conflicts, late_arriving_data, checkpoint, errors, warnings; see
//! `../shared/seed-004-output-shapes.md`), read from what the batch transactions recorded in
//! its target and, for lag, from the broker.

use crate::checkpoint::{self, TopicPartition};
use crate::config::ConnectorConfig;
use crate::db::Db;
use crate::db::{Param, TextRow};
use rdkafka::consumer::Consumer;
use serde_json::{json, Value as Json};
use std::time::Duration;

/// Late changes listed in a report at most (the newest); the statistics count all.
const LATE_LISTED: i64 = 100;

/// One table's counts from `sluice_table_stats`.
struct TableRow {
    table: String,
    inserted: i64,
    updated: i64,
    deleted: i64,
    truncated: i64,
    skipped: i64,
    first_sync_ms: i64,
    last_sync_ms: i64,
}

/// Records behind the broker's end per partition, from the checkpoint; an error when the
/// broker cannot be asked.
pub fn lag(
    consumer: &rdkafka::consumer::BaseConsumer,
    stored: &[checkpoint::Stored],
) -> Result<Vec<(TopicPartition, i64)>, String> {
    stored
        .iter()
        .map(|s| {
            let (_, high) = consumer
                .fetch_watermarks(&s.tp.topic, s.tp.partition, Duration::from_secs(10))
                .map_err(|e| format!("{}/{}: {e}", s.tp.topic, s.tp.partition))?;
            Ok((s.tp.clone(), (high - s.next_offset.unwrap_or(0)).max(0)))
        })
        .collect()
}

fn iso(ms: i64) -> Json {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(Json::Null)
}

/// A counter or time column of a row (0 when NULL).
fn num(row: &TextRow, column: &str) -> i64 {
    row.int(column).unwrap_or(0)
}

async fn tables(db: &Db, group: &str) -> Result<Vec<TableRow>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT table_name, CAST(inserted AS TEXT) AS inserted, CAST(updated AS TEXT) AS updated, CAST(deleted AS TEXT) AS deleted, \
             CAST(truncated AS TEXT) AS truncated, CAST(skipped AS TEXT) AS skipped, CAST(first_sync_ms AS TEXT) AS first_sync_ms, \
             CAST(last_sync_ms AS TEXT) AS last_sync_ms FROM sluice_table_stats WHERE group_id = $1 ORDER BY table_name",
            &[Param::Text(Some(group.to_string()))],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TableRow {
            table: r.string("table_name").unwrap_or_default(),
            inserted: num(r, "inserted"),
            updated: num(r, "updated"),
            deleted: num(r, "deleted"),
            truncated: num(r, "truncated"),
            skipped: num(r, "skipped"),
            first_sync_ms: num(r, "first_sync_ms"),
            last_sync_ms: num(r, "last_sync_ms"),
        })
        .collect())
}

/// The newest late changes and how many there are in all.
async fn late(db: &Db, group: &str) -> Result<(Vec<Json>, i64), sqlx::Error> {
    let group = Param::Text(Some(group.to_string()));
    let rows = db
        .query(
            "SELECT record_id, table_name, kind, CAST(event_ts_ms AS TEXT) AS event_ts_ms, CAST(expected_ts_ms AS TEXT) AS expected_ts_ms, \
             CAST(delay_ms AS TEXT) AS delay_ms, policy, CASE WHEN applied THEN 't' ELSE 'f' END AS applied, topic, \
             CAST(kafka_partition AS TEXT) AS kafka_partition, CAST(kafka_offset AS TEXT) AS kafka_offset FROM sluice_late_events \
             WHERE group_id = $1 ORDER BY id DESC LIMIT $2",
            &[group.clone(), Param::Int(LATE_LISTED)],
        )
        .await?;
    let total = db
        .query(
            "SELECT CAST(count(*) AS TEXT) AS n FROM sluice_late_events WHERE group_id = $1",
            &[group],
        )
        .await?
        .first()
        .map(|r| num(r, "n"))
        .unwrap_or(0);
    let listed = rows
        .iter()
        .map(|r| {
            json!({
                "record_id": r.text("record_id"),
                "table": r.text("table_name"),
                "kind": r.text("kind"),
                // For a future-dated change the expected time is the clock it ran ahead of.
                "expected_timestamp": iso(num(r, "expected_ts_ms")),
                "actual_timestamp": iso(num(r, "event_ts_ms")),
                "delay_seconds": num(r, "delay_ms") / 1000,
                "handled": true,
                "policy": r.text("policy"),
                "applied": r.text("applied") == Some("t"),
                "topic": r.text("topic"),
                "partition": num(r, "kafka_partition"),
                "offset": num(r, "kafka_offset"),
            })
        })
        .collect();
    Ok((listed, total))
}

/// The status report of one connector from its target; `lag` from [`lag`] (an error: the
/// broker could not be asked, said in the warnings).
pub async fn report(
    db: &Db,
    config: &ConnectorConfig,
    lag: Result<Vec<(TopicPartition, i64)>, String>,
) -> Result<Json, sqlx::Error> {
    let group = config.group_id();
    let tables = tables(db, &group).await?;
    let (late_listed, late_total) = late(db, &group).await?;
    let stored = checkpoint::load(db, &group).await?;
    let conflicts = super::conflicts::reports(db, &group, None, false).await?;
    let pending = conflicts.iter().filter(|c| c["pending"] == true).count();
    let (dead_waiting, dead_unpublished) = crate::deadletter::store::counts(db, &group).await?;
    // The waiting dead letters, newest last (the first 100; `sluice dlq list` has them all).
    let waiting = crate::deadletter::store::Filter {
        waiting: true,
        limit: Some(100),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    let letters = crate::deadletter::store::list(db, &group, &waiting)
        .await
        .unwrap_or_else(|e| {
            warnings.push(format!("dead letters unreadable: {e}"));
            Vec::new()
        });
    let errors: Vec<Json> = letters
        .iter()
        .map(|d| {
            let c = &d.letter.record.coordinates;
            json!({
                "dead_letter_id": d.id,
                "topic": c.topic,
                "partition": c.partition,
                "offset": c.offset,
                "stage": d.letter.stage.label(),
                "reason": d.letter.message,
                "failures": d.failures,
                "first_failed_at": iso(d.created_at_ms),
                "published": d.published_at_ms.is_some(),
            })
        })
        .collect();
    if dead_unpublished > 0 && config.dlq_topic.is_some() {
        warnings.push(format!(
            "{dead_unpublished} dead letters not published to the dead-letter topic yet"
        ));
    }
    let behind: Option<i64> = match &lag {
        Ok(l) => Some(l.iter().map(|(_, n)| n).sum()),
        Err(e) => {
            warnings.push(format!("broker not reachable, lag unknown: {e}"));
            None
        }
    };
    let status = match behind {
        Some(0) if !stored.is_empty() => "completed",
        _ => "partial",
    };
    if let Some(n) = behind.filter(|n| *n > 0) {
        warnings.push(format!("{n} records not applied yet"));
    }
    if pending > 0 {
        warnings.push(format!(
            "{pending} conflicts wait for review (sluice conflicts list --pending)"
        ));
    }
    if late_total > 0 {
        warnings.push(format!(
            "{late_total} changes arrived late or future-dated (policy {})",
            config.late.policy.label()
        ));
    }
    let sum = |f: fn(&TableRow) -> i64| tables.iter().map(f).sum::<i64>();
    let processed = |t: &TableRow| t.inserted + t.updated + t.deleted + t.truncated + t.skipped;
    let started = tables.iter().map(|t| t.first_sync_ms).min();
    let last = tables.iter().map(|t| t.last_sync_ms).max();
    let table_status = if status == "completed" {
        "completed"
    } else {
        "in_progress"
    };
    Ok(json!({
        "metadata": {
            "sync_id": config.name,
            "source": source_name(config),
            "destination": config.redacted.get("connection.url"),
            "started_at": started.map(iso),
            "completed_at": last.map(iso),
            "duration_seconds": started.zip(last).map(|(s, l)| (l - s) / 1000),
            "status": status,
        },
        "statistics": {
            "records_processed": sum(processed),
            "records_inserted": sum(|t| t.inserted),
            "records_updated": sum(|t| t.updated),
            "records_deleted": sum(|t| t.deleted),
            "records_skipped": sum(|t| t.skipped),
            "conflicts_detected": conflicts.len(),
            "conflicts_resolved": conflicts.len() - pending,
            "conflicts_pending": pending,
            "late_arriving": late_total,
            "errors": dead_waiting,
        },
        "tables": tables.iter().map(|t| json!({
            "table": t.table,
            "records_processed": processed(t),
            "records_inserted": t.inserted,
            "records_updated": t.updated,
            "records_deleted": t.deleted,
            "records_skipped": t.skipped,
            "last_sync_timestamp": iso(t.last_sync_ms),
            "status": table_status,
        })).collect::<Vec<_>>(),
        // The status report's own conflict shape (seed): one entry per conflict.
        "conflicts": conflicts.iter().map(|c| json!({
            "record_id": c["record_id"],
            "conflict_type": c["conflict_type"],
            "fields": c["conflicting_fields"],
            "source_values": {
                c["sources"][0]["source"].as_str().unwrap_or("current"): c["sources"][0]["values"],
                c["sources"][1]["source"].as_str().unwrap_or("incoming"): c["sources"][1]["values"],
            },
            "resolution": c["resolution"]["strategy"],
            "resolved_value": c["resolution"]["resolved_values"],
            "resolved_at": c["resolution"]["resolved_at"],
            "conflict_id": c["conflict_id"],
            "status": c["status"],
            "table": c["table"],
        })).collect::<Vec<_>>(),
        "late_arriving_data": late_listed,
        "checkpoint": {
            "last_sync_timestamp": last.map(iso),
            "processed_record_ids": [],
            "high_water_mark": stored.iter().filter_map(|s| s.watermark_ms).max().map(iso),
            "state_version": format!("{}.0", crate::db::schema::SCHEMA_VERSION),
            "partitions": stored.iter().map(|s| json!({
                "topic": s.tp.topic,
                "partition": s.tp.partition,
                "next_offset": s.next_offset,
                "lag": lag.as_ref().ok().and_then(|l| l.iter().find(|(tp, _)| *tp == s.tp).map(|(_, n)| *n)),
            })).collect::<Vec<_>>(),
        },
        "errors": errors,
        "warnings": warnings,
    }))
}

/// `sluice.source.name`, else what the connector reads.
fn source_name(config: &ConnectorConfig) -> String {
    config
        .redacted
        .get("sluice.source.name")
        .cloned()
        .unwrap_or_else(|| match &config.topics {
            crate::config::TopicSelection::List(l) => l.join(","),
            crate::config::TopicSelection::Regex(r) => r.as_str().to_string(),
        })
}
