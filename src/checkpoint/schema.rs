//! DDL of sluice's internal tables, created on first use and versioned.
//!
//! These tables are part of the public contract (the README documents them): operators query
//! them, and `sluice offsets` edits them. Changing a column means a new schema version and a
//! migration step here.

use crate::config::Dialect;
use crate::sink::db::Db;

/// The current internal schema version.
pub const SCHEMA_VERSION: i64 = 1;

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
            PRIMARY KEY (group_id, topic, kafka_partition))"
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
    tx.execute(
        "INSERT INTO sluice_schema_version (component, version) VALUES ('internal', $1) \
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        &[crate::sink::render::Param::Int(SCHEMA_VERSION)],
    )
    .await?;
    tx.commit().await
}
