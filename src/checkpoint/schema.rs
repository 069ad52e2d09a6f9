//! DDL of sluice's internal tables, created on first use and versioned.
//!
//! These tables are part of the public contract (the README documents them): operators query
//! them, and `sluice offsets` edits them. Changing a column means a new schema version and a
//! migration step here.

use crate::config::Dialect;
use crate::sink::db::Db;

/// The current internal schema version.
pub const SCHEMA_VERSION: i64 = 2;

/// The DDL statements of schema version 1 for a dialect.
pub fn ddl(dialect: Dialect) -> Vec<String> {
    let (bool_t, serial) = match dialect {
        Dialect::Postgres => ("BOOLEAN", "BIGSERIAL PRIMARY KEY"),
        Dialect::Sqlite => ("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    };
    vec![
        "CREATE TABLE IF NOT EXISTS sluice_schema_version (\
            component TEXT PRIMARY KEY, version BIGINT NOT NULL)"
            .to_string(),
        // The checkpoint: the next offset to apply per group/topic/partition. `epoch` fences
        // zombies: a worker claims a partition by incrementing it, and every commit requires
        // the epoch it claimed. `mirrored_offset` is what sluice last committed to the Kafka
        // group and `mirror_pending` what it was about to commit, so a group offset that is
        // neither (nor the checkpoint) was set by someone else: a reset with Kafka's tools.
        "CREATE TABLE IF NOT EXISTS sluice_offsets (\
            group_id TEXT NOT NULL, topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, \
            next_offset BIGINT, epoch BIGINT NOT NULL DEFAULT 0, owner TEXT, \
            mirrored_offset BIGINT, mirror_pending BIGINT, updated_at_ms BIGINT NOT NULL, \
            watermark_ms BIGINT, PRIMARY KEY (group_id, topic, kafka_partition))"
            .to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS sluice_offsets_history (\
            id {serial}, group_id TEXT NOT NULL, topic TEXT NOT NULL, \
            kafka_partition INTEGER NOT NULL, old_offset BIGINT, new_offset BIGINT, \
            reason TEXT NOT NULL, changed_at_ms BIGINT NOT NULL)"
        ),
        // Version guard: the source version that last wrote each key of each target table. A
        // deleted key keeps its row (deleted = true) as a tombstone until the retention passes;
        // row_key '' holds a table's last TRUNCATE.
        format!(
            "CREATE TABLE IF NOT EXISTS sluice_row_versions (\
            table_name TEXT NOT NULL, row_key TEXT NOT NULL, version_kind SMALLINT NOT NULL, \
            version_hi BIGINT NOT NULL, version_lo BIGINT NOT NULL, deleted {bool_t} NOT NULL, \
            updated_at_ms BIGINT NOT NULL, PRIMARY KEY (table_name, row_key))"
        ),
    ]
}

/// Version 2: the late-data watermark per partition (`sluice_offsets.watermark_ms`, the newest
/// on-time source time applied), the record of late and future-dated changes, and the
/// per-table counts of what was applied.
fn ddl_v2(dialect: Dialect) -> Vec<String> {
    let (bool_t, serial) = match dialect {
        Dialect::Postgres => ("BOOLEAN", "BIGSERIAL PRIMARY KEY"),
        Dialect::Sqlite => ("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS sluice_late_events (\
            id {serial}, group_id TEXT NOT NULL, table_name TEXT NOT NULL, record_id TEXT NOT NULL, \
            topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, \
            kind TEXT NOT NULL, event_ts_ms BIGINT NOT NULL, expected_ts_ms BIGINT NOT NULL, \
            delay_ms BIGINT NOT NULL, policy TEXT NOT NULL, applied {bool_t} NOT NULL, \
            detected_at_ms BIGINT NOT NULL)"
        ),
        // What each connector applied per table, counted in the batch transactions (so the
        // counts are exact whatever crashes), for `sluice status`.
        "CREATE TABLE IF NOT EXISTS sluice_table_stats (\
            group_id TEXT NOT NULL, table_name TEXT NOT NULL, inserted BIGINT NOT NULL, \
            updated BIGINT NOT NULL, deleted BIGINT NOT NULL, truncated BIGINT NOT NULL, \
            skipped BIGINT NOT NULL, first_sync_ms BIGINT NOT NULL, last_sync_ms BIGINT NOT NULL, \
            PRIMARY KEY (group_id, table_name))"
            .to_string(),
    ]
}

/// Creates the internal tables if missing and records the schema version.
pub async fn ensure(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if let crate::sink::db::Tx::Pg(_) = tx {
        // Serialise concurrent first starts: CREATE TABLE IF NOT EXISTS can race in PostgreSQL.
        tx.execute("SELECT pg_advisory_xact_lock(7412093)", &[])
            .await?;
    }
    for statement in ddl(db.dialect()) {
        tx.execute(&statement, &[]).await?;
    }
    // A version-1 target (created before the column existed) gets it added; a new one has
    // no version row yet and was just created with it.
    let existing = tx
        .query(
            "SELECT CAST(version AS TEXT) FROM sluice_schema_version WHERE component = 'internal'",
            &[],
        )
        .await?
        .first()
        .and_then(|r| r[0].clone())
        .and_then(|v| v.parse::<i64>().ok());
    if existing == Some(1) {
        tx.execute(
            "ALTER TABLE sluice_offsets ADD COLUMN watermark_ms BIGINT",
            &[],
        )
        .await?;
    }
    for statement in ddl_v2(db.dialect()) {
        tx.execute(&statement, &[]).await?;
    }
    tx.execute(
        "INSERT INTO sluice_schema_version (component, version) VALUES ('internal', $1) \
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        &[crate::sink::render::Param::Int(SCHEMA_VERSION)],
    )
    .await?;
    tx.commit().await
}
