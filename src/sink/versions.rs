//! Reading and writing `sluice_row_versions` (the version guard's memory) in a batch.

use crate::checkpoint::now_ms;
use crate::db::Param;
use crate::db::Tx;
use crate::resolve::conflict::Writer;
use crate::resolve::{StoredVersion, Version, VersionKind};
use std::collections::HashMap;

/// The row key that holds a table's last truncate.
pub const TRUNCATE_KEY: &str = "";

/// A stored version and the source that wrote it.
pub type Stored = (StoredVersion, Writer);

/// The stored versions of a PostgreSQL table's keys (`$1` the table, `$2` the keys).
///
/// One primary-key probe per key, whatever the statistics say: a LATERAL subquery
/// with LIMIT 1 leaves the planner nothing but the index. Both earlier forms let the
/// cached generic plan, made while the table was small and not yet analyzed, read
/// every version row of the table and hash them: `row_key = ANY($2)` (150 ms per
/// 1000-key batch at 9k rows), then a plain join on the unnested keys (9 ms per batch
/// on average over the pipeline bench's 1M events, 57 ms per batch at 211k rows until
/// autovacuum analyzed the table; this form: 3 ms at any size).
pub const LOAD_PG: &str = "SELECT v.row_key, CAST(v.version_kind AS TEXT) AS version_kind, CAST(v.version_hi AS TEXT) AS version_hi, \
     CAST(v.version_lo AS TEXT) AS version_lo, CASE WHEN v.deleted THEN 't' ELSE 'f' END AS deleted, \
     v.source_name, CAST(v.source_ts_ms AS TEXT) AS source_ts_ms FROM UNNEST($2::text[]) AS k(row_key) \
     CROSS JOIN LATERAL (SELECT * FROM sluice_row_versions r \
     WHERE r.table_name = $1 AND r.row_key = k.row_key LIMIT 1) AS v";

/// Loads the stored versions of `keys` (and the truncate marker) of one table.
pub async fn load(
    tx: &mut Tx,
    table: &str,
    keys: &[String],
) -> Result<HashMap<String, Stored>, sqlx::Error> {
    let mut out = HashMap::new();
    let select = "SELECT row_key, CAST(version_kind AS TEXT) AS version_kind, CAST(version_hi AS TEXT) AS version_hi, CAST(version_lo AS TEXT) AS version_lo, \
                  CASE WHEN deleted THEN 't' ELSE 'f' END AS deleted, source_name, CAST(source_ts_ms AS TEXT) AS source_ts_ms \
                  FROM sluice_row_versions WHERE table_name = $1 AND ";
    let mut wanted: Vec<Option<String>> = keys.iter().cloned().map(Some).collect();
    wanted.push(Some(TRUNCATE_KEY.into()));
    let rows = match tx {
        Tx::Pg(_) => {
            tx.query(
                LOAD_PG,
                &[Param::Text(Some(table.into())), Param::TextArray(wanted)],
            )
            .await?
        }
        Tx::Lite(_) => {
            let mut rows = Vec::new();
            for chunk in wanted.chunks(super::sql::SQLITE_MAX_PARAMS / 2) {
                let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                let mut params = vec![Param::Text(Some(table.into()))];
                params.extend(chunk.iter().cloned().map(Param::Text));
                rows.extend(
                    tx.query(
                        &format!("{select} row_key IN ({})", marks.join(", ")),
                        &params,
                    )
                    .await?,
                );
            }
            rows
        }
    };
    for row in rows {
        let (Some(key), Some(kind), Some(hi), Some(lo)) = (
            row.string("row_key"),
            row.int("version_kind").and_then(VersionKind::from_code),
            row.int("version_hi"),
            row.int("version_lo"),
        ) else {
            continue;
        };
        let deleted = row.text("deleted") == Some("t");
        let writer = Writer {
            source: row.string("source_name"),
            ts_ms: row.int("source_ts_ms"),
        };
        out.insert(
            key,
            (
                StoredVersion {
                    version: Version { kind, hi, lo },
                    deleted,
                },
                writer,
            ),
        );
    }
    Ok(out)
}

/// A version to store: row key, version, the source that wrote it.
pub type Entry = (String, StoredVersion, Writer);

/// Upserts the versions that a batch applied to one table, with their writers.
pub async fn store(tx: &mut Tx, table: &str, entries: &[Entry]) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let conflict =
        "ON CONFLICT (table_name, row_key) DO UPDATE SET version_kind = excluded.version_kind, \
                    version_hi = excluded.version_hi, version_lo = excluded.version_lo, \
                    deleted = excluded.deleted, updated_at_ms = excluded.updated_at_ms, \
                    source_name = excluded.source_name, source_ts_ms = excluded.source_ts_ms";
    let cols =
        "(table_name, row_key, version_kind, version_hi, version_lo, deleted, updated_at_ms, \
                source_name, source_ts_ms)";
    match tx {
        Tx::Pg(_) => {
            let params = upsert_params(table, entries.iter(), now);
            tx.execute(
                &format!(
                    "INSERT INTO sluice_row_versions {cols} SELECT $1, u.k, CAST(u.kind AS SMALLINT), CAST(u.hi AS BIGINT), \
                     CAST(u.lo AS BIGINT), CAST(u.del AS BOOLEAN), $7, u.src, CAST(u.ts AS BIGINT) \
                     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[]) \
                     AS u(k, kind, hi, lo, del, src, ts) {conflict}"
                ),
                &params,
            )
            .await?;
        }
        Tx::Lite(_) => {
            for chunk in entries.chunks(super::sql::SQLITE_MAX_PARAMS / 9) {
                let rows: Vec<&str> = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()];
                let mut params = Vec::with_capacity(chunk.len() * 9);
                for (key, stored, writer) in chunk {
                    params.extend([
                        Param::Text(Some(table.into())),
                        Param::Text(Some(key.clone())),
                        Param::Int(stored.version.kind as i64),
                        Param::Int(stored.version.hi),
                        Param::Int(stored.version.lo),
                        Param::Int(stored.deleted as i64),
                        Param::Int(now),
                        Param::Text(writer.source.clone()),
                        Param::Text(writer.ts_ms.map(|t| t.to_string())),
                    ]);
                }
                tx.execute(
                    &format!(
                        "INSERT INTO sluice_row_versions {cols} VALUES {} {conflict}",
                        rows.join(", ")
                    ),
                    &params,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The PostgreSQL parameters of a version upsert: `$1` the table, `$2`–`$6` each entry's key,
/// clock, position and delete flag, `$7` the time, `$8`, `$9` its writer (one text array each).
fn upsert_params<'e>(
    table: &str,
    entries: impl Iterator<Item = &'e Entry> + Clone,
    now: i64,
) -> Vec<Param> {
    let column =
        |f: &dyn Fn(&Entry) -> Option<String>| Param::TextArray(entries.clone().map(f).collect());
    vec![
        Param::Text(Some(table.into())),
        column(&|e| Some(e.0.clone())),
        column(&|e| Some((e.1.version.kind as i64).to_string())),
        column(&|e| Some(e.1.version.hi.to_string())),
        column(&|e| Some(e.1.version.lo.to_string())),
        column(&|e| Some(e.1.deleted.to_string())),
        Param::Int(now),
        column(&|e| e.2.source.clone()),
        column(&|e| e.2.ts_ms.map(|t| t.to_string())),
    ]
}

/// [`store_guarded`]'s statement (`$1`–`$9` as [`upsert_params`] lays them out; `$10`, `$11`
/// each key's oldest version in the batch).
const STORE_GUARDED_PG: &str = "WITH truncated AS MATERIALIZED (SELECT version_kind, version_hi, version_lo, source_name \
     FROM sluice_row_versions WHERE table_name = $1 AND row_key = '') \
     INSERT INTO sluice_row_versions AS r (table_name, row_key, version_kind, version_hi, version_lo, \
     deleted, updated_at_ms, source_name, source_ts_ms) \
     SELECT $1, u.k, CAST(u.kind AS SMALLINT), CAST(u.hi AS BIGINT), CAST(u.lo AS BIGINT), \
     CAST(u.del AS BOOLEAN), $7, u.src, CAST(u.ts AS BIGINT) \
     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[], \
     $10::text[], $11::text[]) AS u(k, kind, hi, lo, del, src, ts, least_hi, least_lo) \
     WHERE NOT EXISTS (SELECT 1 FROM truncated t WHERE t.version_kind = CAST(u.kind AS SMALLINT) \
     AND (t.source_name IS NULL OR u.src IS NULL OR t.source_name = u.src) \
     AND (t.version_hi, t.version_lo) > (CAST(u.least_hi AS BIGINT), CAST(u.least_lo AS BIGINT))) \
     ON CONFLICT (table_name, row_key) DO UPDATE SET version_kind = excluded.version_kind, \
     version_hi = excluded.version_hi, version_lo = excluded.version_lo, deleted = excluded.deleted, \
     updated_at_ms = excluded.updated_at_ms, source_name = excluded.source_name, \
     source_ts_ms = excluded.source_ts_ms \
     WHERE NOT r.deleted \
     AND (r.source_name IS NULL OR excluded.source_name IS NULL OR r.source_name = excluded.source_name) \
     AND (r.version_kind <> excluded.version_kind \
     OR (r.version_hi, r.version_lo) <= (excluded.version_hi, excluded.version_lo)) \
     RETURNING r.row_key, CASE WHEN r.xmax = 0 THEN 't' ELSE 'f' END AS fresh";

/// A version to write before the stored one is read (PostgreSQL): see [`store_guarded`].
#[derive(Debug, Clone)]
pub struct Guarded {
    /// The row key, the version the key ends the batch at (also its first change's version:
    /// no later change moved it) and the source that wrote it (every change of the key in the
    /// batch is this source's).
    pub entry: Entry,
    /// The oldest version among the key's changes in the batch (for the truncate check).
    pub least: Version,
}

/// Writes the versions of keys whose stored version cannot change what the batch does to them,
/// and says which keys those were, each with whether it existed before (`true`: a live stored
/// version was updated; `false`: no version was stored).
///
/// A key is written only when the version guard would apply its first change against what is
/// stored, and from there on the batch decides alone: no version, or a live one that is not
/// newer than the change and was not written by another named source (a row whose writer is
/// unrecorded may be adopted rather than compared, `Decision::Newer`, which applies the change
/// all the same), and no truncate of that source newer than any of its changes. Every other
/// key (a newer stored version, a tombstone, another source's row, a truncate in the way) is
/// left untouched and not returned: the caller reads and decides those as before. One
/// statement instead of a version lookup and an upsert per key, and the same decisions.
///
/// `xmax = 0` tells a fresh row from an updated one: `ON CONFLICT DO UPDATE` locks the row
/// before updating it, and the new row version keeps that lock's transaction id. PostgreSQL
/// does not document this; `tests/version_guard_postgres.rs` compares the inserted / updated
/// counts with SQLite's after every batch.
pub async fn store_guarded(
    tx: &mut Tx,
    table: &str,
    entries: &[Guarded],
) -> Result<HashMap<String, bool>, sqlx::Error> {
    if entries.is_empty() {
        return Ok(HashMap::new());
    }
    let mut params = upsert_params(table, entries.iter().map(|g| &g.entry), now_ms());
    let least = |f: fn(&Version) -> i64| {
        Param::TextArray(
            entries
                .iter()
                .map(|g| Some(f(&g.least).to_string()))
                .collect(),
        )
    };
    params.extend([least(|v| v.hi), least(|v| v.lo)]);
    let rows = tx.query(STORE_GUARDED_PG, &params).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Some((row.string("row_key")?, row.text("fresh") == Some("f"))))
        .collect())
}

/// Forgets every version of a table (after a truncate), keeping only the truncate marker.
pub async fn clear(tx: &mut Tx, table: &str) -> Result<(), sqlx::Error> {
    tx.execute(
        "DELETE FROM sluice_row_versions WHERE table_name = $1",
        &[Param::Text(Some(table.into()))],
    )
    .await?;
    Ok(())
}

/// Deletes version tombstones older than the retention.
pub async fn purge_tombstones(tx: &mut Tx, retention_ms: i64) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - retention_ms;
    let deleted_true = match tx {
        Tx::Pg(_) => "deleted",
        Tx::Lite(_) => "deleted = 1",
    };
    tx.execute(
        &format!("DELETE FROM sluice_row_versions WHERE {deleted_true} AND row_key <> '' AND updated_at_ms < $1"),
        &[Param::Int(cutoff)],
    )
    .await
}
