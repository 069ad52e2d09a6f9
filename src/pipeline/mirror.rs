//! Mirroring the checkpoint to the Kafka consumer group, off the batch path.
//!
//! The target holds the checkpoint; the group's committed offsets are a copy for lag tools and
//! for detecting resets made with Kafka's own tools. A synchronous group commit per batch costs
//! a broker round trip (170 ms per batch on tansu), so commits run on their own task, in order,
//! at most once per [`MIN_INTERVAL`], coalescing whatever positions piled up meanwhile. A
//! barrier waits until everything sent before it is mirrored (before partitions are revoked,
//! and at shutdown), without waiting for the interval.

use crate::checkpoint::{self, MirrorStep, Position, TopicPartition};
use crate::db::Db;
use crate::source::{self, SluiceConsumer};
use crate::telemetry::Metrics;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The least time between two group commits: the group's offsets are a copy for lag tools,
/// and each mirror costs a broker round trip plus two checkpoint updates per partition.
const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

enum Msg {
    Positions(Vec<Position>),
    Barrier(oneshot::Sender<()>),
}

/// Handle of the mirror task.
pub struct Mirror {
    tx: mpsc::UnboundedSender<Msg>,
    task: tokio::task::JoinHandle<()>,
}

impl Mirror {
    /// Starts the task; each group commit is counted in `sluice_offset_commits_total` of
    /// `connector`.
    pub fn start(
        consumer: Arc<SluiceConsumer>,
        db: Db,
        group: String,
        metrics: Metrics,
        connector: String,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut last = tokio::time::Instant::now() - MIN_INTERVAL;
            while let Some(first) = rx.recv().await {
                let mut merged: BTreeMap<TopicPartition, Position> = BTreeMap::new();
                let mut barriers = Vec::new();
                let mut next = Some(first);
                // Gather until the interval since the last mirror has passed (a barrier ends
                // the wait at once): one commit covers everything gathered.
                let due = last + MIN_INTERVAL;
                while let Some(msg) = next {
                    match msg {
                        Msg::Positions(ps) => {
                            merged.extend(ps.into_iter().map(|p| (p.tp.clone(), p)))
                        }
                        Msg::Barrier(done) => barriers.push(done),
                    }
                    next = match rx.try_recv() {
                        Ok(msg) => Some(msg),
                        Err(_) if barriers.is_empty() => {
                            tokio::time::timeout_at(due, rx.recv()).await.ok().flatten()
                        }
                        Err(_) => None,
                    };
                }
                last = tokio::time::Instant::now();
                if !merged.is_empty() {
                    let positions = merged.into_values().collect();
                    if let Some(committed) = mirror_once(&consumer, &db, &group, positions).await {
                        let status = if committed { "committed" } else { "failed" };
                        metrics
                            .offset_commits
                            .with_label_values(&[&connector, status])
                            .inc();
                    }
                }
                for done in barriers {
                    let _ = done.send(());
                }
            }
        });
        Mirror { tx, task }
    }

    /// Queues positions that were committed to the target.
    pub fn send(&self, positions: Vec<Position>) {
        let _ = self.tx.send(Msg::Positions(positions));
    }

    /// Waits until everything queued before is mirrored.
    pub async fn barrier(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Barrier(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Mirrors what is queued, then stops the task.
    pub async fn finish(self) {
        self.barrier().await;
        drop(self.tx);
        let _ = self.task.await;
    }
}

/// One group commit, then the record of it in the target; failures only warn (the target
/// checkpoint is the truth). Whether the group commit succeeded; `None` when nothing was
/// committed (no partition still owned, or the intent could not be recorded).
async fn mirror_once(
    consumer: &Arc<SluiceConsumer>,
    db: &Db,
    group: &str,
    positions: Vec<Position>,
) -> Option<bool> {
    // The intent first: a crash between the group commit and its record must not look like
    // an operator's reset at the next assignment. Only partitions still owned are mirrored.
    let owned = match checkpoint::record_mirror(db, group, &positions, MirrorStep::Intent).await {
        Ok(owned) if owned.is_empty() => return None,
        Ok(owned) => owned,
        Err(e) => {
            tracing::warn!(error = %e, "recording the mirror intent failed; not mirroring");
            return None;
        }
    };
    let consumer = consumer.clone();
    let list: Vec<(TopicPartition, i64)> = owned
        .iter()
        .map(|p| (p.tp.clone(), p.next_offset))
        .collect();
    match tokio::task::spawn_blocking(move || source::mirror(&consumer, &list)).await {
        Ok(Ok(())) => {
            if let Err(e) = checkpoint::record_mirror(db, group, &owned, MirrorStep::Done).await {
                tracing::warn!(error = %e, "recording the mirrored offsets failed");
            }
            Some(true)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "mirroring offsets to the Kafka group failed");
            Some(false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "mirror task failed");
            Some(false)
        }
    }
}
