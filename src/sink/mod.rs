//! Sink: the rows of a batch, written in the batch transaction `pipeline::transaction` owns —
//! each table's changes in batch order, compacted to one statement per column set, behind the
//! version guard, with conflicts and schema evolution — plus the sink's own records of them
//! (late changes, per-table counts). It never begins, commits or rolls back a transaction.

pub mod apply;
pub mod catalog;
pub mod conflicts;
mod evolve;
pub mod ident;
mod late;
pub mod plan;
pub mod render;
pub mod sql;
mod toast;
pub mod types;
pub mod versions;

use crate::checkpoint::{self, CheckpointError};
use crate::classify::ErrorClass;
use crate::config::{ConnectorConfig, InsertMode, SchemaEvolution};
use crate::db::{self, Db};
use crate::event::{ChangeEvent, Coordinates};
use crate::resolve::late::LateRecord;
use apply::TableStats;
use catalog::{TableInfo, WantedColumn};
use ident::TableName;
use plan::{Planned, Planner, TableOp};
use std::collections::{BTreeMap, HashMap};

/// A sink failure, classified once: retry, fence, or a bad record.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The partition belongs to another worker now; the batch was rolled back.
    #[error(transparent)]
    Fenced(CheckpointError),
    /// The database is unreachable or asked for a retry (connection lost, deadlock,
    /// serialization failure, shutdown, out of resources). The batch was rolled back.
    #[error("transient database error (will retry): {0}")]
    Transient(sqlx::Error),
    /// A record cannot be written to this target; retrying will not help.
    #[error("record {coordinates}: {reason}")]
    Record {
        /// The record.
        coordinates: Coordinates,
        /// Why.
        reason: String,
    },
    /// Two connectors writing one table disagree on its conflict or late-data policy.
    #[error("{0}")]
    Policy(String),
    /// The target refuses this connector whatever the record (authentication, privileges,
    /// a missing database): not a record's fault, so never dead-lettered.
    #[error("database error that no retry or dead letter can fix: {0}")]
    Fatal(sqlx::Error),
    /// A dead letter being replayed was replayed (or is being replayed) by someone else.
    #[error("dead letter {0} is not waiting for a replay any more")]
    Replayed(i64),
    /// A permanent database error that is not tied to one known record.
    #[error("database error at {coordinates}: {source}")]
    Permanent {
        /// A record of the failed statement.
        coordinates: Coordinates,
        /// The error.
        source: sqlx::Error,
    },
}

impl SinkError {
    fn record(change: &plan::RowChange<'_>, reason: String) -> Self {
        SinkError::Record {
            coordinates: change.coordinates.clone(),
            reason,
        }
    }

    /// Classifies a database error from a statement of the batch.
    pub fn db(error: sqlx::Error, coordinates: &Coordinates) -> Self {
        match crate::classify::sqlx(&error) {
            ErrorClass::Transient => SinkError::Transient(error),
            ErrorClass::Fatal => SinkError::Fatal(error),
            ErrorClass::Permanent => SinkError::Permanent {
                coordinates: coordinates.clone(),
                source: error,
            },
        }
    }

    /// Whether retrying the same batch may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Transient(_))
    }

    /// Whether the error may be caused by one record of the batch (so isolating and
    /// dead-lettering that record lets the rest commit).
    pub fn is_record_error(&self) -> bool {
        matches!(self, SinkError::Record { .. } | SinkError::Permanent { .. })
    }
}

impl From<sqlx::Error> for SinkError {
    fn from(error: sqlx::Error) -> Self {
        SinkError::db(
            error,
            &Coordinates {
                topic: String::new(),
                partition: -1,
                offset: -1,
            },
        )
    }
}

impl From<CheckpointError> for SinkError {
    fn from(error: CheckpointError) -> Self {
        match error {
            CheckpointError::Db(e) => e.into(),
            fenced => SinkError::Fenced(fenced),
        }
    }
}

/// Whether a database error is transient (see [`crate::classify::sqlx`]).
pub fn is_transient(error: &sqlx::Error) -> bool {
    crate::classify::sqlx(error) == ErrorClass::Transient
}

/// Counters of one applied batch, per table.
#[derive(Debug, Default, Clone)]
pub struct BatchStats {
    /// Per target table.
    pub tables: BTreeMap<String, TableStats>,
    /// Changes skipped before reaching a table (deletes/truncates disabled).
    pub skipped: BTreeMap<&'static str, u64>,
    /// What schema evolution changed in target tables.
    pub schema_changes: Vec<catalog::SchemaChange>,
}

/// A batch's changes planned per table, ready for [`Sink::write_rows`].
#[derive(Debug, Default)]
pub struct Prepared<'e>(Vec<(TableName, Vec<TableOp<'e>>)>);

/// The sink of one connector.
pub struct Sink {
    db: Db,
    planner: Planner,
    group: String,
    insert_mode: InsertMode,
    evolution: SchemaEvolution,
    tombstone_retention_ms: i64,
    history_retention_ms: i64,
    conflict: crate::resolve::conflict::ConflictPolicy,
    /// The connector's name and its table policy as text (see [`Sink::check_policy`]).
    connector: String,
    policy: String,
    /// Tables whose policy agreement was checked in a committed batch.
    policy_checked: std::collections::HashSet<TableName>,
    tables: HashMap<TableName, TableInfo>,
}

impl Sink {
    /// Opens the target and creates the internal tables.
    pub async fn open(config: &ConnectorConfig) -> Result<Self, sqlx::Error> {
        let db = Db::connect(
            &config.target,
            config.username.as_deref(),
            config.password.as_ref(),
        )
        .await?;
        crate::db::schema::ensure(&db).await?;
        Ok(Sink {
            db,
            planner: Planner::new(config),
            group: config.group_id(),
            insert_mode: config.insert_mode,
            evolution: config.schema_evolution,
            tombstone_retention_ms: config.tombstone_retention_ms,
            history_retention_ms: config.history_retention_ms,
            conflict: config.conflict.clone(),
            connector: config.name.clone(),
            policy: conflicts::policy_text(config),
            policy_checked: Default::default(),
            tables: HashMap::new(),
        })
    }

    /// The target table a change goes to, as text (for metric labels and reports); the
    /// topic when the name is not a valid identifier (the batch will say why).
    pub fn table_label(&self, event: &ChangeEvent) -> String {
        self.planner
            .table_name(event)
            .map(|t| t.label())
            .unwrap_or_else(|_| event.topic().to_string())
    }

    /// Resolves pending conflict `id` as an operator chose (`sluice conflicts resolve`): the
    /// chosen values are written as a versioned change and the conflict is marked resolved by
    /// `by`, in one transaction. Returns the table and the row written (`None`: deleted).
    pub async fn resolve_conflict(
        &mut self,
        id: i64,
        choice: &conflicts::Choice,
        by: &str,
    ) -> Result<(String, Option<BTreeMap<String, Option<String>>>), String> {
        let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
        let writing = apply::Writing {
            dialect: self.db.dialect(),
            mode: self.insert_mode,
            policy: &self.conflict,
            group: &self.group,
        };
        match conflicts::resolve_pending(&mut tx, &writing, id, choice, by).await {
            Ok((table, row, table_stats)) => {
                let mut stats = BatchStats::default();
                stats.tables.insert(table.clone(), table_stats);
                late::count(&mut tx, &self.group, &stats)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                Ok((table, row))
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The database handle (checkpoint claims and reads use it too).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Plans every change; a change that cannot be planned is a bad record.
    fn plan<'e>(
        &self,
        events: &'e [ChangeEvent],
        stats: &mut BatchStats,
    ) -> Result<Vec<(TableName, Vec<TableOp<'e>>)>, SinkError> {
        let mut order: Vec<(TableName, Vec<TableOp<'e>>)> = Vec::new();
        for event in events {
            match self.planner.plan(event) {
                Ok(Planned::Skip(reason)) => *stats.skipped.entry(reason.label()).or_default() += 1,
                Ok(Planned::Write(table, op)) => {
                    match order.iter_mut().find(|(t, _)| *t == table) {
                        Some((_, ops)) => ops.push(op),
                        None => order.push((table, vec![op])),
                    }
                }
                Err(e) => {
                    return Err(SinkError::Record {
                        coordinates: event.coordinates.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(order)
    }

    /// Plans a batch's changes for [`Sink::write_rows`]: one list of operations per table in
    /// batch order; the changes the late policy holds for review (`review`) are marked.
    pub fn prepare<'e>(
        &self,
        events: &'e [ChangeEvent],
        review: &std::collections::HashSet<&Coordinates>,
        stats: &mut BatchStats,
    ) -> Result<Prepared<'e>, SinkError> {
        let mut planned = self.plan(events, stats)?;
        if !review.is_empty() {
            for (_, ops) in &mut planned {
                for op in ops {
                    if let TableOp::Row(change) = op {
                        change.review = review.contains(&change.coordinates);
                    }
                }
            }
        }
        Ok(Prepared(planned))
    }

    /// Writes the prepared rows in `tx`: each table's changes in batch order, the version
    /// guard, conflicts and schema evolution. The transaction is the caller's.
    pub async fn write_rows(
        &mut self,
        tx: &mut db::Tx,
        prepared: &Prepared<'_>,
        stats: &mut BatchStats,
    ) -> Result<(), SinkError> {
        self.apply_tables(tx, &prepared.0, stats).await
    }

    /// Records the batch's late and future-dated changes in `sluice_late_events`.
    pub async fn record_late(&self, tx: &mut db::Tx, late: &[LateRecord]) -> Result<(), SinkError> {
        if late.is_empty() {
            return Ok(());
        }
        late::record(tx, &self.group, late)
            .await
            .map_err(SinkError::from)
    }

    /// Adds the batch's per-table counts to `sluice_table_stats`.
    pub async fn record_counts(
        &self,
        tx: &mut db::Tx,
        stats: &BatchStats,
    ) -> Result<(), SinkError> {
        late::count(tx, &self.group, stats)
            .await
            .map_err(SinkError::from)
    }

    /// The consumer group whose checkpoint this sink's target holds.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The connector's name.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Forgets cached table definitions and policy checks (their DDL was rolled back): the
    /// transaction's owner calls it whenever a batch transaction does not commit.
    pub fn forget_catalog(&mut self) {
        self.tables.clear();
        self.policy_checked.clear();
    }

    async fn apply_tables(
        &mut self,
        tx: &mut db::Tx,
        planned: &[(TableName, Vec<TableOp<'_>>)],
        stats: &mut BatchStats,
    ) -> Result<(), SinkError> {
        let dialect = self.db.dialect();
        for (table, ops) in planned {
            let writes_rows = ops
                .iter()
                .any(|op| matches!(op, TableOp::Row(c) if !c.delete));
            if !writes_rows
                && !self.tables.contains_key(table)
                && catalog::load(tx, table).await?.is_none()
            {
                // Only deletes and truncates for a table that does not exist (yet): nothing to
                // remove, and no schema to create it from.
                let entry = stats.tables.entry(table.label()).or_default();
                *entry.skipped.entry("no_table").or_default() += ops.len() as u64;
                continue;
            }
            if !self.policy_checked.contains(table) {
                self.check_policy(tx, table).await?;
                self.policy_checked.insert(table.clone());
            }
            let info = self
                .table_for(tx, table, ops, &mut stats.schema_changes)
                .await?;
            let writing = apply::Writing {
                dialect,
                mode: self.insert_mode,
                policy: &self.conflict,
                group: &self.group,
            };
            let table_stats = apply::apply_table(tx, &writing, &info, ops).await?;
            stats
                .tables
                .entry(table.label())
                .or_default()
                .add(&table_stats);
        }
        Ok(())
    }

    /// Registers this connector's policy for `table` and refuses to write when another
    /// connector registered a different one: two connectors sharing a table must resolve its
    /// conflicts and late data alike, or each would undo the other's decisions.
    async fn check_policy(&self, tx: &mut db::Tx, table: &TableName) -> Result<(), SinkError> {
        let label = table.label();
        let others = tx
            .query(
                "SELECT connector, policy FROM sluice_table_policies \
                 WHERE table_name = $1 AND group_id <> $2",
                &[
                    crate::db::Param::Text(Some(label.clone())),
                    crate::db::Param::Text(Some(self.group.clone())),
                ],
            )
            .await?;
        for row in others {
            if row.text("policy") != Some(self.policy.as_str()) {
                return Err(SinkError::Policy(format!(
                    "table {label}: connector {} applies policy [{}] but connector {} applies [{}]; \
                     connectors writing one table must agree on its sluice.conflict.* and sluice.late.* settings",
                    self.connector,
                    self.policy,
                    row.text("connector").unwrap_or_default(),
                    row.text("policy").unwrap_or_default(),
                )));
            }
        }
        tx.execute(
            "INSERT INTO sluice_table_policies (table_name, group_id, connector, policy, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (table_name, group_id) DO UPDATE SET \
             connector = excluded.connector, policy = excluded.policy, updated_at_ms = excluded.updated_at_ms",
            &[
                crate::db::Param::Text(Some(label)),
                crate::db::Param::Text(Some(self.group.clone())),
                crate::db::Param::Text(Some(self.connector.clone())),
                crate::db::Param::Text(Some(self.policy.clone())),
                crate::db::Param::Int(checkpoint::now_ms()),
            ],
        )
        .await?;
        Ok(())
    }

    /// The table, created or evolved so every column the ops write exists.
    async fn table_for(
        &mut self,
        tx: &mut db::Tx,
        table: &TableName,
        ops: &[TableOp<'_>],
        schema_changes: &mut Vec<catalog::SchemaChange>,
    ) -> Result<TableInfo, SinkError> {
        let (wanted, key, first) = catalog::wanted_columns(ops);
        let cached = self.tables.get(table).cloned();
        if let Some(info) = &cached {
            let basic_pg = self.evolution == SchemaEvolution::Basic
                && self.db.dialect() == crate::config::Dialect::Postgres;
            let fits = |w: &WantedColumn| match (info.column(&w.name), &w.column_type) {
                (None, _) => false,
                (Some(c), Some(t)) if basic_pg => evolve::fit(&c.sql_type, t) == evolve::Fit::Holds,
                (Some(_), _) => true,
            };
            if wanted.iter().all(fits) {
                return Ok(info.clone());
            }
        }
        let coordinates = first.or_else(|| match ops.first() {
            Some(TableOp::Truncate { coordinates, .. }) => Some(coordinates.clone()),
            _ => None,
        });
        let existing = catalog::load(tx, table).await?;
        let (info, changes) = catalog::evolve(
            tx,
            self.db.dialect(),
            table,
            existing,
            &wanted,
            &key,
            self.evolution == SchemaEvolution::Basic,
        )
        .await
        .map_err(|e| match e {
            catalog::EvolveError::Db(db) => {
                // Another worker created the table or added the column first (duplicate
                // table, duplicate column, or pg_type's unique index): retrying sees it.
                let code = db
                    .as_database_error()
                    .and_then(|d| d.code())
                    .map(|c| c.to_string());
                if matches!(code.as_deref(), Some("42P07" | "42701" | "23505")) {
                    SinkError::Transient(db)
                } else {
                    SinkError::from(db)
                }
            }
            // A change the table cannot follow (a narrowing, a change of kind, another
            // primary key) is that record's fault like any write error: dead-lettered under
            // errors.tolerance=all (isolation finds it; the ratio guard stops a flood), and
            // it stops the connector under none, naming table, column and both types.
            other => SinkError::Record {
                coordinates: catalog::blame(ops, &other)
                    .or(coordinates.clone())
                    .unwrap_or(Coordinates {
                        topic: String::new(),
                        partition: -1,
                        offset: -1,
                    }),
                reason: other.to_string(),
            },
        })?;
        schema_changes.extend(changes);
        self.tables.insert(table.clone(), info.clone());
        Ok(info)
    }

    /// Deletes version tombstones past the retention, and the rows re-keyed deletes kept for a
    /// create that never came (run now and then, not per batch).
    pub async fn purge_tombstones(&self) -> Result<u64, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let n = versions::purge_tombstones(&mut tx, self.tombstone_retention_ms).await?
            + toast::purge_kept(&mut tx, self.tombstone_retention_ms).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// How many conflicts (late reviews included) wait for an operator's resolution.
    pub async fn pending_reviews(&self) -> Result<i64, sqlx::Error> {
        let rows = self
            .db
            .query(
                "SELECT CAST(COUNT(*) AS TEXT) AS pending FROM sluice_conflicts \
                 WHERE group_id = $1 AND status = 'pending'",
                &[crate::db::Param::Text(Some(self.group.clone()))],
            )
            .await?;
        Ok(rows.first().and_then(|r| r.int("pending")).unwrap_or(0))
    }

    /// Deletes per-batch checkpoint history past its retention; resets are kept.
    pub async fn purge_history(&self) -> Result<u64, sqlx::Error> {
        checkpoint::purge_history(&self.db, self.history_retention_ms).await
    }
}
