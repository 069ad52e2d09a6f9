//! The connector's gauges: partitions assigned, records in flight, the last commit, how far
//! behind its source each partition's last applied change was, and the review queue.
//!
//! A worker may run several tasks of one connector in a process, all under the same
//! `connector` label: the assigned and in-flight gauges are moved by each task's own change
//! (never set), so the series is the sum of the tasks.

use super::Running;
use crate::checkpoint::TopicPartition;
use crate::event::ChangeEvent;
use crate::resolve::late;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the review queue is counted again without a batch that added to it (an
/// operator resolves conflicts with `sluice conflicts` from another process).
pub(super) const REVIEW_REFRESH: Duration = Duration::from_secs(10);

/// What this task added to the summed gauges, taken back when it stops.
#[derive(Debug)]
pub(super) struct Shares {
    assigned: i64,
    inflight: i64,
    /// The two summed gauges of this connector (looked up once: they move with every record).
    series: Option<(prometheus::IntGauge, prometheus::IntGauge)>,
    /// When the review queue was last counted.
    pub(super) review_counted: Instant,
}

impl Default for Shares {
    fn default() -> Self {
        Shares {
            assigned: 0,
            inflight: 0,
            series: None,
            // Counted at the first chance.
            review_counted: Instant::now() - REVIEW_REFRESH,
        }
    }
}

fn now_seconds() -> f64 {
    crate::checkpoint::now_ms() as f64 / 1000.0
}

impl Running {
    /// The connector started: its last-commit clock starts now (so "no commit for N minutes"
    /// also covers a connector that never committed).
    pub(super) fn started_gauges(&self) {
        self.metrics
            .last_commit
            .with_label_values(&[&self.config.name])
            .set(now_seconds());
    }

    /// Brings this task's shares of `sluice_assigned_partitions` and
    /// `sluice_inflight_records` (the batch plus `queued` messages not yet taken) up to date.
    pub(super) fn update_shares(&mut self, queued: usize) {
        let assigned = self.claims.len() as i64;
        let inflight = (self.batch.len() + queued) as i64;
        let name = &self.config.name;
        let metrics = &self.metrics;
        let (assigned_gauge, inflight_gauge) = self.shares.series.get_or_insert_with(|| {
            (
                metrics.assigned_partitions.with_label_values(&[name]),
                metrics.inflight_records.with_label_values(&[name]),
            )
        });
        assigned_gauge.add(assigned - self.shares.assigned);
        inflight_gauge.add(inflight - self.shares.inflight);
        self.shares.assigned = assigned;
        self.shares.inflight = inflight;
    }

    /// Takes this task's shares back (it stops).
    pub(super) fn release_shares(&mut self) {
        self.claims.clear();
        self.batch.clear();
        self.update_shares(0);
    }

    /// A batch committed: the last-commit time, and per partition how far its last applied
    /// change was behind its source (Debezium's `source.ts_ms`; changes without one say
    /// nothing).
    pub(super) fn committed_gauges(&self, events: &[ChangeEvent]) {
        let name = &self.config.name;
        let now = now_seconds();
        self.metrics.last_commit.with_label_values(&[name]).set(now);
        let mut last: HashMap<TopicPartition, (i64, i64)> = HashMap::new();
        for event in events {
            let Some(ts) = late::source_time(event) else {
                continue;
            };
            let c = &event.coordinates;
            let tp = TopicPartition {
                topic: c.topic.clone(),
                partition: c.partition,
            };
            let entry = last.entry(tp).or_insert((c.offset, ts));
            if c.offset >= entry.0 {
                *entry = (c.offset, ts);
            }
        }
        for (tp, (_, ts)) in last {
            self.metrics
                .lag_seconds
                .with_label_values(&[name, &tp.topic, &tp.partition.to_string()])
                .set((now - ts as f64 / 1000.0).max(0.0));
        }
    }

    /// Counts the conflicts pending review into `sluice_review_queue_records`; a failure
    /// leaves the gauge as it was (counted again at the next refresh).
    pub(super) async fn count_reviews(&mut self) {
        self.shares.review_counted = Instant::now();
        match self.sink.pending_reviews().await {
            Ok(n) => self
                .metrics
                .review_queue
                .with_label_values(&[&self.config.name])
                .set(n),
            Err(e) => tracing::warn!(error = %e, "counting the conflicts pending review failed"),
        }
    }
}
