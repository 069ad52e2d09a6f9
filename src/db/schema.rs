//! DDL of sluice's internal tables, created on first use and versioned.
//!
//! These tables are part of the public contract (the README documents them): operators query
//! them, and `sluice offsets` edits them. Changing a column means a new schema version and a
//! migration step here.

use super::Db;
use crate::config::Dialect;

/// The current internal schema version.
pub const SCHEMA_VERSION: i64 = 5;

/// The column types of the internal tables that differ between dialects.
struct Types {
    bool_t: &'static str,
    bytes: &'static str,
    serial: &'static str,
    /// The text of the keys the version guard looks up per change (table names, row keys).
    /// PostgreSQL compares them bytewise (`COLLATE "C"`): the database's default collation
    /// would compare every key of every index descent with its locale's rules, for an order
    /// nothing reads. SQLite compares text bytewise already.
    key_t: &'static str,
}

fn types(dialect: Dialect) -> Types {
    match dialect {
        Dialect::Postgres => Types {
            bool_t: "BOOLEAN",
            bytes: "BYTEA",
            serial: "BIGSERIAL PRIMARY KEY",
            key_t: "TEXT COLLATE \"C\"",
        },
        Dialect::Sqlite => Types {
            bool_t: "INTEGER",
            bytes: "BLOB",
            serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
            key_t: "TEXT",
        },
    }
}

/// The DDL statements of schema version 1 for a dialect.
pub fn ddl(dialect: Dialect) -> Vec<String> {
    let Types {
        bool_t,
        serial,
        key_t,
        ..
    } = types(dialect);
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
            table_name {key_t} NOT NULL, row_key {key_t} NOT NULL, version_kind SMALLINT NOT NULL, \
            version_hi BIGINT NOT NULL, version_lo BIGINT NOT NULL, deleted {bool_t} NOT NULL, \
            updated_at_ms BIGINT NOT NULL, source_name TEXT, source_ts_ms BIGINT, \
            PRIMARY KEY (table_name, row_key))"
        ),
    ]
}

/// Version 2: the late-data watermark per partition (`sluice_offsets.watermark_ms`, the newest
/// on-time source time applied), the record of late and future-dated changes, and the
/// per-table counts of what was applied.
fn ddl_v2(dialect: Dialect) -> Vec<String> {
    let Types { bool_t, serial, .. } = types(dialect);
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
        // Multi-source conflicts, resolved by a strategy or waiting for review (status
        // 'pending'); values are JSON objects of column texts. The incoming change's version
        // is kept so a manual resolution can be applied as a versioned write.
        format!(
            "CREATE TABLE IF NOT EXISTS sluice_conflicts (\
            conflict_id {serial}, group_id TEXT NOT NULL, table_name TEXT NOT NULL, \
            record_id TEXT NOT NULL, row_key TEXT NOT NULL, conflict_type TEXT NOT NULL, \
            detected_at_ms BIGINT NOT NULL, conflicting_fields TEXT NOT NULL, \
            current_source TEXT, current_ts_ms BIGINT, current_values TEXT, \
            incoming_source TEXT, incoming_ts_ms BIGINT, incoming_values TEXT, incoming_op TEXT NOT NULL, \
            incoming_version_kind BIGINT NOT NULL, incoming_version_hi BIGINT NOT NULL, \
            incoming_version_lo BIGINT NOT NULL, \
            topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, \
            strategy TEXT NOT NULL, status TEXT NOT NULL, resolved_values TEXT, \
            resolved_at_ms BIGINT, resolved_by TEXT)"
        ),
        // The conflict and late-data policy each connector (group) applies to each table it
        // writes: connectors sharing a table must agree on it.
        "CREATE TABLE IF NOT EXISTS sluice_table_policies (\
            table_name TEXT NOT NULL, group_id TEXT NOT NULL, connector TEXT NOT NULL, \
            policy TEXT NOT NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (table_name, group_id))"
            .to_string(),
    ]
}

/// Version 3: dead letters, one row per failed record, written in the batch transaction that
/// checkpoints past it; `published_at_ms` is set once the record reached the dead-letter topic.
fn ddl_v3(dialect: Dialect) -> Vec<String> {
    let Types { bytes, serial, .. } = types(dialect);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS sluice_dead_letters (\
            id {serial}, group_id TEXT NOT NULL, connector TEXT NOT NULL, topic TEXT NOT NULL, \
            kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, \
            record_key {bytes}, record_value {bytes}, record_headers TEXT NOT NULL, \
            record_timestamp_ms BIGINT, stage TEXT NOT NULL, connect_stage TEXT NOT NULL, \
            class_name TEXT NOT NULL, exception_class TEXT NOT NULL, \
            exception_message TEXT NOT NULL, exception_detail TEXT, status TEXT NOT NULL, \
            failures BIGINT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, \
            published_at_ms BIGINT, replayed_at_ms BIGINT, \
            UNIQUE (group_id, topic, kafka_partition, kafka_offset))"
        ),
        "CREATE INDEX IF NOT EXISTS sluice_dead_letters_unpublished \
            ON sluice_dead_letters (group_id, published_at_ms)"
            .to_string(),
    ]
}

/// Version 4: the rows that the delete half of a primary-key change removed, kept until the
/// create half (which may come in a later batch) takes the unchanged TOAST values it lacks.
fn ddl_v4(dialect: Dialect) -> Vec<String> {
    let key_t = types(dialect).key_t;
    vec![format!(
        "CREATE TABLE IF NOT EXISTS sluice_rekeyed_rows (\
        table_name {key_t} NOT NULL, row_key {key_t} NOT NULL, row_values TEXT NOT NULL, \
        moved_at_ms BIGINT NOT NULL, PRIMARY KEY (table_name, row_key))"
    )]
}

/// Version 5 (PostgreSQL): the version guard's keys compared bytewise. Tables created before
/// get their key columns' collation changed (PostgreSQL rebuilds their primary-key index,
/// once).
async fn bytewise_keys(tx: &mut crate::db::Tx) -> Result<(), sqlx::Error> {
    for table in ["sluice_row_versions", "sluice_rekeyed_rows"] {
        let rows = tx
            .query(
                "SELECT CAST(column_name AS TEXT) AS column_name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 AND column_name IN ('table_name', 'row_key') \
                 AND collation_name IS DISTINCT FROM 'C'",
                &[crate::db::Param::Text(Some(table.into()))],
            )
            .await?;
        if rows.is_empty() {
            continue;
        }
        tx.execute(
            &format!(
                "ALTER TABLE {table} ALTER COLUMN table_name TYPE TEXT COLLATE \"C\", \
                 ALTER COLUMN row_key TYPE TEXT COLLATE \"C\""
            ),
            &[],
        )
        .await?;
    }
    Ok(())
}

/// Adds a column to an internal table unless it is there (names are constants of this file).
async fn add_column_if_missing(
    tx: &mut crate::db::Tx,
    table: &str,
    column: &str,
    sql_type: &str,
) -> Result<(), sqlx::Error> {
    let exists = match tx {
        crate::db::Tx::Pg(_) => {
            tx.query(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() \
                 AND table_name = $1 AND column_name = $2",
                &[
                    crate::db::Param::Text(Some(table.into())),
                    crate::db::Param::Text(Some(column.into())),
                ],
            )
            .await?
        }
        crate::db::Tx::Lite(_) => {
            tx.query(
                "SELECT name FROM pragma_table_info($1) WHERE name = $2",
                &[
                    crate::db::Param::Text(Some(table.into())),
                    crate::db::Param::Text(Some(column.into())),
                ],
            )
            .await?
        }
    };
    if exists.is_empty() {
        tx.execute(
            &format!("ALTER TABLE {table} ADD COLUMN {column} {sql_type}"),
            &[],
        )
        .await?;
    }
    Ok(())
}

/// Creates the internal tables if missing and records the schema version.
pub async fn ensure(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if let crate::db::Tx::Pg(_) = tx {
        // Serialise concurrent first starts: CREATE TABLE IF NOT EXISTS can race in PostgreSQL.
        tx.execute("SELECT pg_advisory_xact_lock(7412093)", &[])
            .await?;
    }
    for statement in ddl(db.dialect()) {
        tx.execute(&statement, &[]).await?;
    }
    // A version-1 target (created before these columns existed) gets them added; a new one
    // was just created with them.
    for (table, column, sql_type) in [
        ("sluice_offsets", "watermark_ms", "BIGINT"),
        ("sluice_row_versions", "source_name", "TEXT"),
        ("sluice_row_versions", "source_ts_ms", "BIGINT"),
    ] {
        add_column_if_missing(&mut tx, table, column, sql_type).await?;
    }
    for statement in ddl_v2(db.dialect())
        .into_iter()
        .chain(ddl_v3(db.dialect()))
        .chain(ddl_v4(db.dialect()))
    {
        tx.execute(&statement, &[]).await?;
    }
    if let crate::db::Tx::Pg(_) = tx {
        bytewise_keys(&mut tx).await?;
    }
    tx.execute(
        "INSERT INTO sluice_schema_version (component, version) VALUES ('internal', $1) \
         ON CONFLICT (component) DO UPDATE SET version = excluded.version \
         WHERE sluice_schema_version.version < excluded.version",
        &[crate::db::Param::Int(SCHEMA_VERSION)],
    )
    .await?;
    tx.commit().await
}
