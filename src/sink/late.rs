//! Writing what a batch adds to the report tables, in the batch's transaction (so a retried
//! batch does not count twice): `sluice_late_events` (its late and future-dated changes) and
//! `sluice_table_stats` (what it applied per table).

use super::BatchStats;
use crate::checkpoint::now_ms;
use crate::db::Param;
use crate::db::Tx;
use crate::resolve::late::{LatePolicy, LateRecord};

/// Inserts the batch's flagged changes.
pub async fn record(tx: &mut Tx, group: &str, records: &[LateRecord]) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for r in records {
        let ts = r.timeliness;
        let applied = match tx {
            Tx::Pg(_) => Param::Text(Some((r.policy == LatePolicy::Apply).to_string())),
            Tx::Lite(_) => Param::Int(i64::from(r.policy == LatePolicy::Apply)),
        };
        let cast = match tx {
            Tx::Pg(_) => "CAST($13 AS BOOLEAN)",
            Tx::Lite(_) => "$13",
        };
        tx.execute(
            &format!(
                "INSERT INTO sluice_late_events (group_id, table_name, record_id, topic, \
                 kafka_partition, kafka_offset, kind, event_ts_ms, expected_ts_ms, delay_ms, policy, \
                 detected_at_ms, applied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, {cast})"
            ),
            &[
                Param::Text(Some(group.to_string())),
                Param::Text(Some(r.table.clone())),
                Param::Text(Some(r.record_id.clone())),
                Param::Text(Some(r.coordinates.topic.clone())),
                Param::Int(r.coordinates.partition.into()),
                Param::Int(r.coordinates.offset),
                Param::Text(ts.label().map(String::from)),
                Param::Int(ts.event_ms().unwrap_or(0)),
                Param::Int(ts.expected_ms().unwrap_or(0)),
                Param::Int(ts.delay_ms()),
                Param::Text(Some(r.policy.label().to_string())),
                Param::Int(now),
                applied,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Adds the batch's per-table counts to `sluice_table_stats`.
pub async fn count(tx: &mut Tx, group: &str, stats: &BatchStats) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for (table, t) in &stats.tables {
        let skipped: u64 = t.skipped.values().sum();
        let n = |v: u64| Param::Int(i64::try_from(v).unwrap_or(i64::MAX));
        tx.execute(
            "INSERT INTO sluice_table_stats (group_id, table_name, inserted, updated, deleted, \
             truncated, skipped, first_sync_ms, last_sync_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (group_id, table_name) DO UPDATE SET \
             inserted = sluice_table_stats.inserted + excluded.inserted, \
             updated = sluice_table_stats.updated + excluded.updated, \
             deleted = sluice_table_stats.deleted + excluded.deleted, \
             truncated = sluice_table_stats.truncated + excluded.truncated, \
             skipped = sluice_table_stats.skipped + excluded.skipped, \
             last_sync_ms = excluded.last_sync_ms",
            &[
                Param::Text(Some(group.to_string())),
                Param::Text(Some(table.clone())),
                n(t.inserted),
                n(t.updated),
                n(t.deleted),
                n(t.truncated),
                n(skipped),
                Param::Int(now),
            ],
        )
        .await?;
    }
    Ok(())
}
