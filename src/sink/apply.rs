//! Applying one table's changes of a batch: version guard, compaction, multi-row statements.

use super::catalog::TableInfo;
use super::plan::{RowChange, TableOp};
use super::render::{render, text};
use super::sql::{self, WriteKind, SQLITE_MAX_PARAMS};
use super::versions;
use super::SinkError;
use crate::config::{Dialect, InsertMode};
use crate::db::Param;
use crate::db::Tx;
use crate::event::{Field, Value};
use crate::resolve::conflict::{ConflictPolicy, Decision, Winner, Writer};
use crate::resolve::{self, guard, Outcome, SkipReason, StoredVersion};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// What one table's share of a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// Keys written that did not exist before.
    pub inserted: u64,
    /// Keys written that existed before.
    pub updated: u64,
    /// Keys deleted.
    pub deleted: u64,
    /// Truncates applied.
    pub truncated: u64,
    /// Changes skipped, by reason label.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Multi-source conflicts, by status (`resolved`, `pending`).
    pub conflicts: BTreeMap<(&'static str, &'static str), u64>,
}

impl TableStats {
    /// Adds another share of the same table's counts (another batch, another task).
    pub fn add(&mut self, other: &TableStats) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.truncated += other.truncated;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        for (key, n) in &other.conflicts {
            *self.conflicts.entry(*key).or_default() += n;
        }
    }

    fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.label()).or_default() += 1;
    }
}

/// The final state of one key after the batch's changes to it.
pub(super) struct KeyState<'a> {
    pub(super) key_text: String,
    /// The newest version known for the key: stored, or applied earlier in this batch.
    pub(super) version: Option<StoredVersion>,
    /// The source that wrote that version.
    pub(super) writer: Option<Writer>,
    existed: bool,
    /// The last applied change and its merged row image (empty for a delete); borrowed from
    /// the change unless a TOAST placeholder or a conflict strategy changed it.
    pub(super) applied: Option<(&'a RowChange<'a>, Cow<'a, [Field]>)>,
    /// The last row image applied in this batch, kept across a later delete (a primary-key
    /// change may need its values).
    pub(super) last_row: Option<Cow<'a, [Field]>>,
}

/// How a batch writes to its tables: the dialect, `insert.mode`, and the multi-source conflict
/// policy of the connector (`group`).
pub struct Writing<'a> {
    /// Target dialect.
    pub dialect: Dialect,
    /// `insert.mode`.
    pub mode: InsertMode,
    /// Conflict settings.
    pub policy: &'a ConflictPolicy,
    /// The connector's group (conflict records belong to it).
    pub group: &'a str,
}

/// Applies one table's operations, in order.
pub async fn apply_table(
    tx: &mut Tx,
    writing: &Writing<'_>,
    info: &TableInfo,
    ops: &[TableOp<'_>],
) -> Result<TableStats, SinkError> {
    let dialect = writing.dialect;
    let mut stats = TableStats::default();
    let label = info.name.label();
    // Segments between truncates are compacted independently.
    let mut segment: Vec<&RowChange> = Vec::new();
    for op in ops {
        match op {
            TableOp::Row(change) => segment.push(change),
            TableOp::Truncate {
                coordinates,
                version,
                writer,
            } => {
                apply_rows(tx, writing, info, &segment, &mut stats).await?;
                segment.clear();
                let stored = versions::load(tx, &label, &[]).await?;
                let previous = stored
                    .get(versions::TRUNCATE_KEY)
                    .filter(|(_, w)| same_source(w, writer))
                    .map(|(v, _)| &v.version);
                if guard(version, None, previous) != Outcome::Apply {
                    stats.skip(SkipReason::BeforeTruncate);
                    continue;
                }
                tx.execute(&sql::truncate(dialect, &info.name), &[])
                    .await
                    .map_err(|e| SinkError::db(e, coordinates))?;
                versions::clear(tx, &label).await?;
                super::toast::forget_table(tx, &label).await?;
                versions::store(
                    tx,
                    &label,
                    &[(
                        versions::TRUNCATE_KEY.into(),
                        StoredVersion {
                            version: *version,
                            deleted: true,
                        },
                        writer.clone(),
                    )],
                )
                .await?;
                stats.truncated += 1;
            }
        }
    }
    apply_rows(tx, writing, info, &segment, &mut stats).await?;
    Ok(stats)
}

pub(super) fn key_text(
    info: &TableInfo,
    key: &[Field],
    dialect: Dialect,
    change: &RowChange<'_>,
) -> Result<String, SinkError> {
    let mut parts = Vec::with_capacity(key.len());
    for field in key {
        let column = info.column(&field.name).ok_or_else(|| {
            SinkError::record(
                change,
                format!(
                    "key column {:?} missing in {}",
                    field.name,
                    info.name.label()
                ),
            )
        })?;
        let rendered = text(&field.value, &column.kind, dialect)
            .map_err(|e| SinkError::record(change, format!("key column {}: {e}", field.name)))?;
        parts.push(serde_json::Value::from(rendered));
    }
    Ok(serde_json::Value::Array(parts).to_string())
}

async fn apply_rows(
    tx: &mut Tx,
    writing: &Writing<'_>,
    info: &TableInfo,
    changes: &[&RowChange<'_>],
    stats: &mut TableStats,
) -> Result<(), SinkError> {
    let (dialect, mode, policy) = (writing.dialect, writing.mode, writing.policy);
    if changes.is_empty() {
        return Ok(());
    }
    if mode == InsertMode::Insert || info.key.is_empty() {
        // Append-only: every change is its own row; there is no key to guard.
        // Without a key there is no row to review against: a held change is not written.
        let rows: Vec<&RowChange> = changes
            .iter()
            .copied()
            .filter(|c| !c.delete && !c.review)
            .collect();
        for _ in changes.iter().filter(|c| c.review) {
            stats.skip(SkipReason::ConflictReview);
        }
        write_groups(
            tx,
            dialect,
            info,
            &rows
                .iter()
                .map(|c| (*c, Cow::Borrowed(&c.values[..])))
                .collect::<Vec<_>>(),
            WriteKind::Insert,
            mode,
        )
        .await?;
        stats.inserted += rows.len() as u64;
        return Ok(());
    }
    let label = info.name.label();
    let mut keyed = Vec::with_capacity(changes.len());
    for change in changes {
        keyed.push((key_text(info, &change.key, dialect, change)?, *change));
    }
    // PostgreSQL: the keys whose stored version cannot change what the batch does to them have
    // their versions written first, in one statement, and are not read (see `guarded`).
    let written = match dialect {
        Dialect::Postgres => {
            let entries = guarded(&keyed, policy);
            versions::store_guarded(tx, &label, &entries).await?
        }
        Dialect::Sqlite => HashMap::new(),
    };
    let mut key_list: Vec<String> = keyed
        .iter()
        .filter(|(k, _)| !written.contains_key(k))
        .map(|(k, _)| k.clone())
        .collect();
    key_list.sort();
    key_list.dedup();
    let stored = if key_list.is_empty() {
        HashMap::new()
    } else {
        versions::load(tx, &label, &key_list).await?
    };
    let truncate = stored.get(versions::TRUNCATE_KEY).cloned();
    let mut states: Vec<KeyState> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut conflicts: Vec<super::conflicts::Detected> = Vec::new();
    for (key_text, change) in keyed {
        let slot = *index.entry(key_text.clone()).or_insert_with(|| {
            let prior = stored.get(&key_text).cloned();
            let existed = written.get(&key_text).copied().unwrap_or(false);
            states.push(KeyState {
                key_text,
                version: prior.as_ref().map(|p| p.0),
                writer: prior.as_ref().map(|p| p.1.clone()),
                existed: existed || prior.is_some_and(|p| !p.0.deleted),
                applied: None,
                last_row: None,
            });
            states.len() - 1
        });
        let state = &mut states[slot];
        // Versions of another source say nothing about this one's: source time orders them,
        // and within the conflict window the policy decides (`resolve::decide`).
        let decision = policy.decide(&change.writer, state.writer.as_ref());
        // A truncate's version belongs to the source that truncated: only that source's
        // changes are compared with it.
        let truncated = truncate
            .as_ref()
            .filter(|(_, w)| same_source(w, &change.writer))
            .map(|(v, _)| &v.version);
        let current_deleted = state.version.is_some_and(|v| v.deleted);
        // Column strategies may take some of the incoming values even when the row's current
        // writer wins (never into a deleted row, never as a delete).
        let merging = !policy.fields.is_empty()
            && decision == Decision::Conflict(Winner::Current)
            && !change.delete
            && !current_deleted;
        let outcome = resolve::decide(
            change.review,
            decision,
            merging,
            &change.version,
            state.version.as_ref(),
            truncated,
        );
        // Held changes and conflicts are recorded with the row as it is (a late change held
        // for review as a conflict the reviewer settles).
        if change.review {
            conflicts.push(super::conflicts::Detected::new(
                slot,
                change,
                Winner::Review,
                state,
            ));
        } else if let Decision::Conflict(winner) = decision {
            conflicts.push(super::conflicts::Detected::new(slot, change, winner, state));
        }
        // When the current writer won the row and only some columns were taken, the row and
        // its version stay the current writer's.
        let keeps_owner = decision == Decision::Conflict(Winner::Current);
        match outcome {
            Outcome::Drop(reason) => stats.skip(reason),
            Outcome::Review => stats.skip(SkipReason::ConflictReview),
            // The decision table dead-letters nothing at this point; were it to, the record is
            // refused like one the target cannot take, and the pipeline dead-letters it.
            Outcome::DeadLetter => {
                return Err(SinkError::Record {
                    coordinates: change.coordinates.clone(),
                    reason: "dead-lettered by the resolve stage".into(),
                })
            }
            Outcome::Apply => {
                if !keeps_owner {
                    state.writer = Some(change.writer.clone());
                    state.version = Some(StoredVersion {
                        version: change.version,
                        deleted: change.delete,
                    });
                }
                let values = if change.delete {
                    Cow::Borrowed(&[][..])
                } else {
                    merge(state.applied.take().map(|(_, v)| v), &change.values)
                };
                if !change.delete {
                    state.last_row = Some(values.clone());
                }
                state.applied = Some((change, values));
            }
        }
    }
    super::conflicts::resolve(tx, writing, info, &mut states, &conflicts, stats).await?;
    let referred = super::toast::carry_over(tx, dialect, info, &mut states, &index).await?;
    super::toast::keep_rekeyed(tx, dialect, info, &states, &referred).await?;
    let applied: Vec<&KeyState> = states.iter().filter(|s| s.applied.is_some()).collect();
    // The versions the guarded statement did not write, before the rows and in key order: every
    // writer of the table locks a key's version row before its row (concurrent connectors on
    // one table would otherwise wait on each other in opposite orders).
    let mut entries: Vec<(String, StoredVersion, Writer)> = applied
        .iter()
        .filter(|s| !written.contains_key(&s.key_text))
        .filter_map(|s| {
            Some((
                s.key_text.clone(),
                s.version?,
                s.writer.clone().unwrap_or_default(),
            ))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    versions::store(tx, &label, &entries).await?;
    let deletes: Vec<&RowChange> = applied
        .iter()
        .filter_map(|s| {
            s.applied
                .as_ref()
                .filter(|(c, _)| c.delete)
                .map(|(c, _)| *c)
        })
        .collect();
    delete_keys(tx, dialect, info, &deletes).await?;
    stats.deleted += deletes.len() as u64;
    let mut rows = Vec::new();
    for s in &applied {
        if let Some((change, values)) = s.applied.as_ref().filter(|(c, _)| !c.delete) {
            if s.existed {
                stats.updated += 1
            } else {
                stats.inserted += 1
            }
            rows.push((*change, values.clone()));
        }
    }
    write_groups(tx, dialect, info, &rows, WriteKind::Upsert, mode).await?;
    Ok(())
}

/// The keys of a table's batch whose version can be written before the stored one is read
/// (`versions::store_guarded`, which writes a key only where the stored version and the
/// table's last truncate let its first change apply).
///
/// A key qualifies when every change to it in the batch comes from one source and one clock,
/// none is held for review, and the version it ends the batch at is its first change's. Then,
/// once the first change applies, every later decision for the key compares changes of the
/// batch with each other only, and is the one the loop in [`apply_rows`] makes with the stored
/// version in hand: a change older than what is stored is also older than the first change.
fn guarded(keyed: &[(String, &RowChange<'_>)], policy: &ConflictPolicy) -> Vec<versions::Guarded> {
    // The changes in key order (the order rows are locked in), each key's in batch order.
    let mut order: Vec<usize> = (0..keyed.len()).collect();
    order.sort_by(|&a, &b| keyed[a].0.cmp(&keyed[b].0));
    order
        .chunk_by(|&a, &b| keyed[a].0 == keyed[b].0)
        .filter_map(|run| {
            let changes = run.iter().map(|&i| keyed[i].1);
            let (key, first) = &keyed[*run.first()?];
            if changes.clone().any(|c| {
                c.review
                    || c.writer.source != first.writer.source
                    || c.version.kind != first.version.kind
            }) {
                return None;
            }
            let mut current: Option<(StoredVersion, &Writer)> = None;
            for change in changes.clone() {
                let decision = policy.decide(&change.writer, current.map(|(_, w)| w));
                if decision != Decision::SameSource {
                    return None;
                }
                let previous = current.as_ref().map(|(v, _)| v);
                if resolve::decide(false, decision, false, &change.version, previous, None)
                    == Outcome::Apply
                {
                    let version = StoredVersion {
                        version: change.version,
                        deleted: change.delete,
                    };
                    current = Some((version, &change.writer));
                }
            }
            let (version, writer) = current?;
            let least = changes.map(|c| c.version).min_by_key(|v| (v.hi, v.lo))?;
            (version.version == first.version).then(|| versions::Guarded {
                entry: (key.clone(), version, writer.clone()),
                least,
            })
        })
        .collect()
}

/// Whether two writers are the same source for version comparison (an unrecorded source
/// matches any: versions written before sources were recorded compare as before).
fn same_source(a: &Writer, b: &Writer) -> bool {
    match (&a.source, &b.source) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// Folds a later row image into an earlier one: Debezium's TOAST placeholder keeps the earlier
/// value (or, with no earlier value in the batch, the target's current one).
fn merge<'a>(previous: Option<Cow<'a, [Field]>>, next: &'a [Field]) -> Cow<'a, [Field]> {
    let Some(previous) = previous.filter(|p| !p.is_empty()) else {
        return Cow::Borrowed(next);
    };
    if !next.iter().any(|f| f.value == Value::Unavailable) {
        return Cow::Borrowed(next);
    }
    next.iter()
        .map(
            |field| match (&field.value, previous.iter().find(|p| p.name == field.name)) {
                (Value::Unavailable, Some(earlier)) => earlier.clone(),
                _ => field.clone(),
            },
        )
        .collect()
}

async fn delete_keys(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    keys: &[&RowChange<'_>],
) -> Result<(), SinkError> {
    let Some(any) = keys.first().copied() else {
        return Ok(());
    };
    let key_columns: Vec<_> = info.key.iter().filter_map(|k| info.column(k)).collect();
    let per_chunk = match dialect {
        Dialect::Postgres => keys.len(),
        Dialect::Sqlite => (SQLITE_MAX_PARAMS / key_columns.len().max(1)).max(1),
    };
    for chunk in keys.chunks(per_chunk) {
        let statement = sql::delete(dialect, &info.name, &key_columns, chunk.len())
            .map_err(|e| SinkError::record(any, e.to_string()))?;
        let mut matrix: Vec<Vec<Param>> = Vec::new();
        for change in chunk {
            let mut row = Vec::new();
            for column in &key_columns {
                let field = change
                    .key
                    .iter()
                    .find(|f| f.name == column.name)
                    .ok_or_else(|| {
                        SinkError::record(any, format!("key column {} missing", column.name))
                    })?;
                row.push(
                    render(&field.value, &column.kind, dialect, &column.name)
                        .map_err(|e| SinkError::record(any, e.to_string()))?,
                );
            }
            matrix.push(row);
        }
        tx.execute(&statement, &bind(dialect, matrix))
            .await
            .map_err(|e| SinkError::db(e, &any.coordinates))?;
    }
    Ok(())
}

/// Lays rows of parameters out for a statement: PostgreSQL gets one text array per column,
/// SQLite the rows one after the other.
fn bind(dialect: Dialect, matrix: Vec<Vec<Param>>) -> Vec<Param> {
    match dialect {
        Dialect::Sqlite => matrix.into_iter().flatten().collect(),
        Dialect::Postgres => {
            let width = matrix.first().map(Vec::len).unwrap_or(0);
            let mut columns: Vec<Vec<Option<String>>> =
                vec![Vec::with_capacity(matrix.len()); width];
            for row in matrix {
                for (i, param) in row.into_iter().enumerate() {
                    columns[i].push(match param {
                        Param::Text(t) => t,
                        Param::Int(n) => Some(n.to_string()),
                        Param::Blob(b) => b.map(|b| b.iter().map(|x| format!("{x:02x}")).collect()),
                        Param::TextArray(_) => None,
                    });
                }
            }
            columns.into_iter().map(Param::TextArray).collect()
        }
    }
}

/// Writes rows, grouped by the set of columns they carry (rows with TOAST placeholders leave
/// those columns out, so the target keeps its values).
async fn write_groups(
    tx: &mut Tx,
    dialect: Dialect,
    info: &TableInfo,
    rows: &[(&RowChange<'_>, Cow<'_, [Field]>)],
    kind: WriteKind,
    mode: InsertMode,
) -> Result<(), SinkError> {
    let position: HashMap<&str, usize> = info
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    // Key: the indexes (in table order) of the columns present; value: each row's values for
    // them, in that order.
    type Group<'r> = Vec<(&'r RowChange<'r>, Vec<&'r Value>)>;
    let mut groups: BTreeMap<Vec<usize>, Group> = BTreeMap::new();
    for (change, fields) in rows {
        let mut present: Vec<(usize, &Value)> = Vec::with_capacity(fields.len());
        for field in fields.iter().filter(|f| f.value != Value::Unavailable) {
            let Some(&i) = position.get(field.name.as_str()) else {
                return Err(SinkError::record(
                    change,
                    format!("table {} has no column {:?}", info.name.label(), field.name),
                ));
            };
            present.push((i, &field.value));
        }
        present.sort_by_key(|(i, _)| *i);
        present.dedup_by_key(|(i, _)| *i);
        let (indexes, values): (Vec<usize>, Vec<&Value>) = present.into_iter().unzip();
        groups.entry(indexes).or_default().push((*change, values));
    }
    for (indexes, rows) in groups {
        let columns: Vec<_> = indexes.iter().map(|i| &info.columns[*i]).collect();
        let update_only = mode == InsertMode::Update;
        let per_chunk = match (dialect, update_only) {
            (Dialect::Sqlite, true) => 1,
            (Dialect::Sqlite, false) => (SQLITE_MAX_PARAMS / columns.len().max(1)).max(1),
            (Dialect::Postgres, _) => rows.len(),
        };
        for chunk in rows.chunks(per_chunk) {
            let statement = if update_only {
                sql::update(dialect, &info.name, &columns, &info.key)
            } else {
                sql::insert(dialect, &info.name, &columns, &info.key, kind, chunk.len())
            }
            .map_err(|e| SinkError::record(chunk[0].0, e.to_string()))?;
            let mut matrix = Vec::with_capacity(chunk.len());
            for (change, values) in chunk {
                let mut row = Vec::with_capacity(columns.len());
                for (column, value) in columns.iter().zip(values) {
                    row.push(
                        render(value, &column.kind, dialect, &column.name)
                            .map_err(|e| SinkError::record(change, e.to_string()))?,
                    );
                }
                matrix.push(row);
            }
            tx.execute(&statement, &bind(dialect, matrix))
                .await
                .map_err(|e| SinkError::db(e, &chunk[0].0.coordinates))?;
        }
    }
    Ok(())
}
