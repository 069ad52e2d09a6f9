//! Checkpoint: the committed offset of every partition, kept in the target database.
//!
//! The offsets of a batch are written in the same transaction as its rows, so the target's
//! `sluice_offsets` row is the one source of truth for "where to resume". Each write is fenced
//! by the epoch the worker got when it claimed the partition: a worker that lost the partition
//! (a zombie) finds the epoch moved on, its update touches no row, and its transaction is
//! rolled back.

use crate::db::Param;
use crate::db::{Db, Tx};
use std::collections::HashMap;

/// A topic-partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// What a worker holds after claiming a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The partition.
    pub tp: TopicPartition,
    /// Next offset to apply, when a checkpoint exists.
    pub next_offset: Option<i64>,
    /// The fencing epoch every commit must present.
    pub epoch: i64,
    /// What sluice last mirrored to the Kafka group.
    pub mirrored_offset: Option<i64>,
    /// What sluice was about to mirror (set before the group commit, so a crash between the
    /// two is not mistaken for an operator's reset).
    pub mirror_pending: Option<i64>,
    /// What the target checkpoint holds after the claim (the first commit's `previous`).
    pub stored_offset: Option<i64>,
    /// The partition's late-data watermark (newest on-time source time applied).
    pub watermark_ms: Option<i64>,
}

/// One partition's new position in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The partition.
    pub tp: TopicPartition,
    /// Next offset to apply (last applied + 1).
    pub next_offset: i64,
    /// The epoch of the claim.
    pub epoch: i64,
    /// The checkpoint this commit replaces (what the worker last saw there; `None` when the
    /// target had none). Checking it makes a retry after an unclear COMMIT safe.
    pub previous: Option<i64>,
    /// The partition's late-data watermark after this batch.
    pub watermark_ms: Option<i64>,
}

/// Checkpoint failures.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The partition was claimed by another worker since this one claimed it.
    #[error("checkpoint for {topic}/{partition} is fenced: another worker owns it now (epoch {epoch} is stale)")]
    Fenced {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The stale epoch.
        epoch: i64,
    },
    /// The batch was committed already: a COMMIT whose answer was lost did succeed, and this
    /// is its retry. Nothing is applied again.
    #[error("checkpoint for {topic}/{partition} already holds this batch")]
    AlreadyCommitted {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// Database error.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The current time in ms since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tp_params(group: &str, tp: &TopicPartition) -> Vec<Param> {
    vec![
        Param::Text(Some(group.to_string())),
        Param::Text(Some(tp.topic.clone())),
        Param::Int(tp.partition as i64),
    ]
}

/// Claims partitions for `owner`: bumps each partition's epoch and returns the checkpoint.
pub async fn claim(
    db: &Db,
    group: &str,
    owner: &str,
    tps: &[TopicPartition],
) -> Result<Vec<Claim>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut claims = Vec::with_capacity(tps.len());
    for tp in tps {
        let mut params = tp_params(group, tp);
        params.push(Param::Int(now_ms()));
        tx.execute(
            "INSERT INTO sluice_offsets (group_id, topic, kafka_partition, epoch, updated_at_ms) \
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (group_id, topic, kafka_partition) DO NOTHING",
            &params,
        )
        .await?;
        params.pop();
        params.push(Param::Text(Some(owner.to_string())));
        let rows = tx
            .query(
                "UPDATE sluice_offsets SET epoch = epoch + 1, owner = $4 \
                 WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 \
                 RETURNING CAST(next_offset AS TEXT) AS next_offset, CAST(epoch AS TEXT) AS epoch, CAST(mirrored_offset AS TEXT) AS mirrored_offset, \
                 CAST(mirror_pending AS TEXT) AS mirror_pending, CAST(watermark_ms AS TEXT) AS watermark_ms",
                &params,
            )
            .await?;
        let row = rows.first().ok_or_else(|| sqlx::Error::RowNotFound)?;
        claims.push(Claim {
            tp: tp.clone(),
            next_offset: row.int("next_offset"),
            epoch: row.int("epoch").unwrap_or(0),
            mirrored_offset: row.int("mirrored_offset"),
            mirror_pending: row.int("mirror_pending"),
            stored_offset: row.int("next_offset"),
            watermark_ms: row.int("watermark_ms"),
        });
    }
    tx.commit().await?;
    Ok(claims)
}

/// Writes new positions inside the batch transaction, fenced by epoch. Must run first in the
/// transaction so the row lock orders it against concurrent claims.
pub async fn commit(
    tx: &mut Tx,
    group: &str,
    positions: &[Position],
) -> Result<(), CheckpointError> {
    if matches!(tx, Tx::Pg(_)) {
        return commit_pg(tx, group, positions).await;
    }
    let now = now_ms();
    for p in positions {
        let mut params = tp_params(group, &p.tp);
        params.extend([
            Param::Int(p.next_offset),
            Param::Int(p.epoch),
            Param::Int(now),
            // Always text: one statement text must bind one parameter type (a prepared
            // statement typed by an earlier NULL would misread a binary integer).
            Param::Text(p.previous.map(|n| n.to_string())),
            Param::Text(p.watermark_ms.map(|n| n.to_string())),
        ]);
        let rows = tx
            .query(
                "UPDATE sluice_offsets SET next_offset = $4, updated_at_ms = $6, \
                 watermark_ms = CAST($8 AS BIGINT) \
                 WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND epoch = $5 \
                 AND next_offset IS CAST($7 AS BIGINT) RETURNING CAST(next_offset AS TEXT) AS next_offset",
                &params,
            )
            .await?;
        if rows.is_empty() {
            return Err(refused(tx, group, p).await?);
        }
        record_history(tx, group, &p.tp, p.previous, Some(p.next_offset), "commit").await?;
    }
    Ok(())
}

/// [`commit`] on PostgreSQL, in two statements whatever the number of partitions: the batch's
/// checkpoint rows are locked in partition order (`FOR UPDATE`, the order every writer of
/// `sluice_offsets` locks in) and checked against the claimed epoch and the previous offset
/// here, then all of them are moved and their history rows written in one statement. A row
/// locked by this transaction cannot change before it ends, so the check holds for the write.
async fn commit_pg(
    tx: &mut Tx,
    group: &str,
    positions: &[Position],
) -> Result<(), CheckpointError> {
    if positions.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&Position> = positions.iter().collect();
    sorted.sort_by(|a, b| a.tp.cmp(&b.tp));
    let column = |f: &dyn Fn(&Position) -> Option<String>| {
        Param::TextArray(sorted.iter().map(|p| f(p)).collect())
    };
    let topics = column(&|p| Some(p.tp.topic.clone()));
    let partitions = column(&|p| Some(p.tp.partition.to_string()));
    let rows = tx
        .query(
            "SELECT o.topic, CAST(o.kafka_partition AS TEXT) AS kafka_partition, \
             CAST(o.next_offset AS TEXT) AS next_offset, CAST(o.epoch AS TEXT) AS epoch \
             FROM sluice_offsets o \
             JOIN UNNEST($2::text[], $3::text[]) AS p(topic, kafka_partition) \
             ON o.topic = p.topic AND o.kafka_partition = CAST(p.kafka_partition AS INTEGER) \
             WHERE o.group_id = $1 \
             ORDER BY o.topic, o.kafka_partition FOR UPDATE OF o",
            &[
                Param::Text(Some(group.to_string())),
                topics.clone(),
                partitions.clone(),
            ],
        )
        .await?;
    // (topic, partition) → (next offset, epoch) as stored.
    type Stored<'r> = HashMap<(&'r str, i64), (Option<i64>, Option<i64>)>;
    let stored: Stored = rows
        .iter()
        .filter_map(|r| {
            let topic = r.text("topic")?;
            let partition = r.int("kafka_partition")?;
            Some(((topic, partition), (r.int("next_offset"), r.int("epoch"))))
        })
        .collect();
    for p in &sorted {
        let current = stored
            .get(&(p.tp.topic.as_str(), p.tp.partition as i64))
            .copied();
        if !moves_from(p, current) {
            return Err(refusal(p, current));
        }
    }
    let moved = tx
        .execute(
            "WITH p AS (SELECT topic, CAST(kafka_partition AS INTEGER) AS kafka_partition, \
             CAST(next_offset AS BIGINT) AS next_offset, CAST(previous AS BIGINT) AS previous, \
             CAST(watermark_ms AS BIGINT) AS watermark_ms \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             AS u(topic, kafka_partition, next_offset, previous, watermark_ms)), \
             moved AS (UPDATE sluice_offsets o SET next_offset = p.next_offset, \
             updated_at_ms = $7, watermark_ms = p.watermark_ms FROM p \
             WHERE o.group_id = $1 AND o.topic = p.topic AND o.kafka_partition = p.kafka_partition \
             RETURNING o.topic, o.kafka_partition) \
             INSERT INTO sluice_offsets_history (group_id, topic, kafka_partition, old_offset, \
             new_offset, reason, changed_at_ms) \
             SELECT $1, p.topic, p.kafka_partition, p.previous, p.next_offset, 'commit', $7 \
             FROM p JOIN moved m ON m.topic = p.topic AND m.kafka_partition = p.kafka_partition",
            &[
                Param::Text(Some(group.to_string())),
                topics,
                partitions,
                column(&|p| Some(p.next_offset.to_string())),
                column(&|p| p.previous.map(|n| n.to_string())),
                column(&|p| p.watermark_ms.map(|n| n.to_string())),
                Param::Int(now_ms()),
            ],
        )
        .await?;
    // Every row was locked and checked above; anything else is a broken invariant.
    if moved != sorted.len() as u64 {
        return Err(CheckpointError::Fenced {
            topic: sorted[0].tp.topic.clone(),
            partition: sorted[0].tp.partition,
            epoch: sorted[0].epoch,
        });
    }
    Ok(())
}

/// Why a checkpoint update matched no row: this batch is there already, or another worker
/// owns the partition (or moved its checkpoint).
async fn refused(tx: &mut Tx, group: &str, p: &Position) -> Result<CheckpointError, sqlx::Error> {
    let rows = tx
        .query(
            "SELECT CAST(next_offset AS TEXT) AS next_offset, CAST(epoch AS TEXT) AS epoch FROM sluice_offsets \
             WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3",
            &tp_params(group, &p.tp),
        )
        .await?;
    let current = rows.first().map(|r| (r.int("next_offset"), r.int("epoch")));
    Ok(refusal(p, current))
}

/// Whether a checkpoint stored as `current` (next offset, epoch) is the one `p` moves from:
/// this worker's claim, and the offset its batch started at.
fn moves_from(p: &Position, current: Option<(Option<i64>, Option<i64>)>) -> bool {
    matches!(current, Some((next, Some(epoch))) if epoch == p.epoch && next == p.previous)
}

/// Why `p` cannot move a checkpoint stored as `current`: it holds this batch already (its
/// COMMIT answer was lost), or another worker owns the partition or moved it.
fn refusal(p: &Position, current: Option<(Option<i64>, Option<i64>)>) -> CheckpointError {
    match current {
        Some((Some(next), Some(epoch))) if epoch == p.epoch && next == p.next_offset => {
            CheckpointError::AlreadyCommitted {
                topic: p.tp.topic.clone(),
                partition: p.tp.partition,
            }
        }
        _ => CheckpointError::Fenced {
            topic: p.tp.topic.clone(),
            partition: p.tp.partition,
            epoch: p.epoch,
        },
    }
}

/// Appends a row to `sluice_offsets_history`.
pub async fn record_history(
    tx: &mut Tx,
    group: &str,
    tp: &TopicPartition,
    old: Option<i64>,
    new: Option<i64>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let mut params = tp_params(group, tp);
    params.extend([
        // Always text, for the same reason as in `commit`.
        Param::Text(old.map(|n| n.to_string())),
        Param::Text(new.map(|n| n.to_string())),
        Param::Text(Some(reason.to_string())),
        Param::Int(now_ms()),
    ]);
    tx.execute(
        "INSERT INTO sluice_offsets_history (group_id, topic, kafka_partition, old_offset, new_offset, reason, changed_at_ms) \
         VALUES ($1, $2, $3, CAST($4 AS BIGINT), CAST($5 AS BIGINT), $6, $7)",
        &params,
    )
    .await?;
    Ok(())
}

/// Deletes `commit` rows of `sluice_offsets_history` older than the retention (one is written
/// per partition per batch); resets and external resets are kept.
pub async fn purge_history(db: &Db, retention_ms: i64) -> Result<u64, sqlx::Error> {
    db.execute(
        "DELETE FROM sluice_offsets_history WHERE reason = 'commit' AND changed_at_ms < $1",
        &[Param::Int(now_ms() - retention_ms)],
    )
    .await
}

/// Takes a start position from the Kafka group instead of the checkpoint (an operator reset
/// the group with Kafka's tools while sluice was stopped): the checkpoint moves there too, so
/// the reset is honoured once, not again after every restart, and the history records it.
/// Like every reset it clears the late-data watermark: a replay is not late data.
pub async fn record_external_reset(
    db: &Db,
    group: &str,
    tp: &TopicPartition,
    epoch: i64,
    old: Option<i64>,
    new: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut params = tp_params(group, tp);
    params.extend([Param::Int(new), Param::Int(epoch)]);
    tx.execute(
        "UPDATE sluice_offsets SET next_offset = $4, mirrored_offset = $4, mirror_pending = $4, \
         watermark_ms = NULL WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND epoch = $5",
        &params,
    )
    .await?;
    record_history(&mut tx, group, tp, old, Some(new), "external_reset").await?;
    tx.commit().await
}

/// Which mirror column an update sets.
#[derive(Debug, Clone, Copy)]
pub enum MirrorStep {
    /// Before the group commit: the offset about to be committed.
    Intent,
    /// After the group commit succeeded.
    Done,
}

/// Records a step of mirroring positions to the Kafka group; returns the positions whose epoch
/// still matches (a partition claimed by another worker since must not be mirrored).
pub async fn record_mirror(
    db: &Db,
    group: &str,
    positions: &[Position],
    step: MirrorStep,
) -> Result<Vec<Position>, sqlx::Error> {
    let column = match step {
        MirrorStep::Intent => "mirror_pending",
        MirrorStep::Done => "mirrored_offset",
    };
    let mut tx = db.begin().await?;
    let mut owned = Vec::with_capacity(positions.len());
    for p in positions {
        let mut params = tp_params(group, &p.tp);
        params.extend([Param::Int(p.next_offset), Param::Int(p.epoch)]);
        let updated = tx
            .execute(
                &format!(
                    "UPDATE sluice_offsets SET {column} = $4 \
                     WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND epoch = $5"
                ),
                &params,
            )
            .await?;
        if updated > 0 {
            owned.push(p.clone());
        }
    }
    tx.commit().await?;
    Ok(owned)
}

/// A checkpoint row as `offsets show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The partition.
    pub tp: TopicPartition,
    /// Next offset to apply.
    pub next_offset: Option<i64>,
    /// Fencing epoch.
    pub epoch: i64,
    /// Last owner.
    pub owner: Option<String>,
    /// Last mirrored offset.
    pub mirrored_offset: Option<i64>,
    /// Late-data watermark.
    pub watermark_ms: Option<i64>,
}

/// Every checkpoint row of a group.
pub async fn load(db: &Db, group: &str) -> Result<Vec<Stored>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT topic, CAST(kafka_partition AS TEXT) AS kafka_partition, CAST(next_offset AS TEXT) AS next_offset, CAST(epoch AS TEXT) AS epoch, owner, \
             CAST(mirrored_offset AS TEXT) AS mirrored_offset, CAST(watermark_ms AS TEXT) AS watermark_ms FROM sluice_offsets \
             WHERE group_id = $1 ORDER BY topic, kafka_partition",
            &[Param::Text(Some(group.to_string()))],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Stored {
            tp: TopicPartition {
                topic: r.string("topic").unwrap_or_default(),
                partition: r.int("kafka_partition").unwrap_or(0) as i32,
            },
            next_offset: r.int("next_offset"),
            epoch: r.int("epoch").unwrap_or(0),
            owner: r.string("owner"),
            mirrored_offset: r.int("mirrored_offset"),
            watermark_ms: r.int("watermark_ms"),
        })
        .collect())
}

/// Moves checkpoints (an operator's reset): sets `next_offset`, bumps the epoch (fencing any
/// worker still running), and records the change in the history. The mirror columns say what
/// the Kafka group may hold afterwards — the new offset once it is committed there, or still
/// what it held (`group_held`, from before the reset) — so that neither is mistaken at the
/// next assignment for a reset made with Kafka's tools.
pub async fn reset(
    db: &Db,
    group: &str,
    targets: &[(TopicPartition, i64)],
    reason: &str,
) -> Result<(), sqlx::Error> {
    reset_holding(db, group, targets, &HashMap::new(), reason).await
}

/// [`reset`] where the group still holds `group_held` (per partition) until it is committed.
pub async fn reset_holding(
    db: &Db,
    group: &str,
    targets: &[(TopicPartition, i64)],
    group_held: &HashMap<TopicPartition, i64>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let existing = load(db, group).await?;
    let mut tx = db.begin().await?;
    for (tp, offset) in targets {
        let old = existing
            .iter()
            .find(|s| &s.tp == tp)
            .and_then(|s| s.next_offset);
        let mut params = tp_params(group, tp);
        let held = group_held.get(tp).copied().unwrap_or(*offset);
        params.extend([Param::Int(*offset), Param::Int(now_ms()), Param::Int(held)]);
        tx.execute(
            "INSERT INTO sluice_offsets (group_id, topic, kafka_partition, next_offset, epoch, mirrored_offset, mirror_pending, updated_at_ms) \
             VALUES ($1, $2, $3, $4, 1, $6, $4, $5) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE \
             SET next_offset = excluded.next_offset, mirrored_offset = excluded.mirrored_offset, \
             mirror_pending = excluded.mirror_pending, watermark_ms = NULL, \
             epoch = sluice_offsets.epoch + 1, updated_at_ms = excluded.updated_at_ms",
            &params,
        )
        .await?;
        record_history(&mut tx, group, tp, old, Some(*offset), reason).await?;
    }
    tx.commit().await
}
