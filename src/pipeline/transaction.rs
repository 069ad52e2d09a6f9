//! The batch transaction, in one place: what makes a batch apply exactly once or not at all.
//!
//! One target transaction per batch, step by step:
//! 1. **fence and checkpoint**: the batch's positions are written with a fenced update of
//!    `sluice_offsets` first — it orders this transaction against a rebalance's claim (a
//!    zombie finds the epoch moved and its update touches no row), and a batch whose COMMIT
//!    answer was lost is found already committed and not applied again;
//! 2. **replays**: the dead letters this batch replays are marked (refused when someone else
//!    replayed them meanwhile);
//! 3. **rows**: the sink writes each table's changes behind the version guard, with conflicts
//!    and schema evolution;
//! 4. **late changes** and 5. **dead letters** are recorded beside them;
//! 6. **counts**: the per-table statistics;
//! 7. **commit** — or, for a probe (isolating bad records by bisection, `resilient.rs`), the
//!    deferred constraints checked and everything rolled back.
//!
//! Whatever does not commit is rolled back whole, and the sink forgets the table definitions
//! whose DDL went with it. Nothing else in sluice begins or commits a batch transaction.

use crate::checkpoint::{self, CheckpointError, Position};
use crate::config::Dialect;
use crate::deadletter::{self, DeadLetter};
use crate::event::{ChangeEvent, Coordinates};
use crate::resolve::late::{LatePolicy, LateRecord};
use crate::sink::{BatchStats, Sink, SinkError};
use std::collections::HashSet;

/// What one target transaction applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Batch<'a> {
    /// The changes, in order.
    pub events: &'a [ChangeEvent],
    /// The checkpoint positions the batch moves to (fenced).
    pub positions: &'a [Position],
    /// Its late and future-dated changes, recorded in `sluice_late_events`.
    pub late: &'a [LateRecord],
    /// Its dead letters, recorded in `sluice_dead_letters`.
    pub dead_letters: &'a [DeadLetter],
    /// Dead letters this transaction replays (marked `replayed`; refused when they are not
    /// waiting any more).
    pub replayed: &'a [i64],
}

/// Whether the transaction commits or only probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Commit it.
    Commit,
    /// Roll it back after checking what COMMIT would check: does the batch apply?
    Probe,
}

/// Runs `batch` in one transaction of `sink`'s target (see the module's steps).
pub async fn run(
    sink: &mut Sink,
    batch: &Batch<'_>,
    ending: Ending,
) -> Result<BatchStats, SinkError> {
    let mut stats = BatchStats::default();
    let review: HashSet<&Coordinates> = batch
        .late
        .iter()
        .filter(|l| l.policy == LatePolicy::Review)
        .map(|l| &l.coordinates)
        .collect();
    let prepared = sink.prepare(batch.events, &review, &mut stats)?;
    let mut tx = sink.db().begin().await?;
    // 1. Fence and checkpoint.
    match checkpoint::commit(&mut tx, sink.group(), batch.positions).await {
        Ok(()) => {}
        Err(CheckpointError::AlreadyCommitted { topic, partition }) => {
            tracing::info!(%topic, partition, "batch already committed (its COMMIT answer was lost); not applying it again");
            let _ = tx.rollback().await;
            return Ok(stats);
        }
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e.into());
        }
    }
    let done: Result<(), SinkError> = async {
        // 2. Replays.
        for id in batch.replayed {
            if !deadletter::store::mark_replayed(&mut tx, sink.group(), *id).await? {
                return Err(SinkError::Replayed(*id));
            }
        }
        // 3. Rows.
        sink.write_rows(&mut tx, &prepared, &mut stats).await?;
        // 4. Late changes.
        sink.record_late(&mut tx, batch.late).await?;
        // 5. Dead letters.
        if !batch.dead_letters.is_empty() {
            deadletter::store::insert(
                &mut tx,
                sink.group(),
                sink.connector(),
                batch.dead_letters,
                deadletter::store::Repeat::Always,
            )
            .await?;
        }
        // 6. Counts.
        sink.record_counts(&mut tx, &stats).await
    }
    .await;
    // 7. Commit, or end the probe.
    match (done, ending) {
        (Ok(()), Ending::Commit) => match tx.commit().await {
            Ok(()) => Ok(stats),
            Err(e) => {
                // DDL of this batch was rolled back with it.
                sink.forget_catalog();
                Err(e.into())
            }
        },
        (Ok(()), Ending::Probe) => {
            // A probe ends before COMMIT, where deferred constraints would be checked:
            // checking them now makes the probe fail exactly when the commit would.
            let deferred = match sink.db().dialect() {
                Dialect::Postgres => tx.execute("SET CONSTRAINTS ALL IMMEDIATE", &[]).await,
                _ => Ok(0),
            };
            sink.forget_catalog();
            let _ = tx.rollback().await;
            deferred.map(|_| stats).map_err(SinkError::from)
        }
        (Err(e), _) => {
            // The catalog cache may hold DDL that is being rolled back.
            sink.forget_catalog();
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Applies and commits `events` with their checkpoint `positions` (tests, benches, tools).
pub async fn apply(
    sink: &mut Sink,
    events: &[ChangeEvent],
    positions: &[Position],
) -> Result<BatchStats, SinkError> {
    let batch = Batch {
        events,
        positions,
        ..Batch::default()
    };
    run(sink, &batch, Ending::Commit).await
}
