//! What a committed batch changes outside the target: the report, the counters, the positions
//! and watermarks the next batch starts from, the mirror to the Kafka group, and the published
//! dead letters.

use super::{dead, Running};
use crate::checkpoint::Position;
use crate::deadletter::DeadLetter;
use crate::event::ChangeEvent;
use crate::resolve::late::{LatePolicy, LateRecord};
use crate::sink::BatchStats;

impl Running {
    /// After a batch committed with `stats`: counts what it applied, moves the positions on
    /// and mirrors them.
    pub(super) async fn committed(
        &mut self,
        stats: &BatchStats,
        events: &[ChangeEvent],
        late: &[LateRecord],
        positions: Vec<Position>,
        count: usize,
    ) {
        self.report.add(stats, events, count);
        // Counted once committed (a fenced batch is counted by the partition's next owner).
        for l in late {
            let kind = l.timeliness.label().unwrap_or("late");
            self.metrics
                .late_events
                .with_label_values(&[&self.config.name, &l.table, kind, l.policy.label()])
                .inc();
            self.metrics
                .late_delay
                .with_label_values(&[&self.config.name, &l.table])
                .observe(l.timeliness.delay_ms() as f64 / 1000.0);
        }
        for p in &positions {
            self.watermarks.insert(p.tp.clone(), p.watermark_ms);
            self.next.insert(p.tp.clone(), p.next_offset);
            self.stored.insert(p.tp.clone(), Some(p.next_offset));
            self.metrics
                .checkpoint_offset
                .with_label_values(&[&self.config.name, &p.tp.topic, &p.tp.partition.to_string()])
                .set(p.next_offset);
        }
        // A change held for review adds to the review queue: counted again now.
        let mut reviews = late.iter().any(|l| l.policy == LatePolicy::Review);
        for (table, t) in &stats.tables {
            for (op, n) in [
                ("insert", t.inserted),
                ("update", t.updated),
                ("delete", t.deleted),
                ("truncate", t.truncated),
            ] {
                if n > 0 {
                    self.metrics
                        .events_applied
                        .with_label_values(&[&self.config.name, table, op])
                        .inc_by(n);
                }
            }
            for ((status, strategy), n) in &t.conflicts {
                reviews |= *status == "pending";
                self.metrics
                    .conflicts
                    .with_label_values(&[
                        self.config.name.as_str(),
                        table.as_str(),
                        status,
                        strategy,
                    ])
                    .inc_by(*n);
            }
            for (reason, n) in &t.skipped {
                self.metrics
                    .events_skipped
                    .with_label_values(&[self.config.name.as_str(), table.as_str(), reason])
                    .inc_by(*n);
            }
        }
        for change in &stats.schema_changes {
            self.metrics
                .schema_changes
                .with_label_values(&[
                    self.config.name.as_str(),
                    change.table.as_str(),
                    change.change,
                ])
                .inc();
        }
        self.mirror.send(positions);
        if reviews {
            self.count_reviews().await;
        }
    }

    /// After a commit: counts, logs and publishes the batch's dead letters.
    pub(super) fn dead_lettered(&mut self, letters: &[DeadLetter], records: usize) {
        self.ratio.add(records, letters.len());
        if letters.is_empty() {
            return;
        }
        if std::env::var("SLUICE_FAILPOINT").as_deref() == Ok("abort-after-dead-letter-commit") {
            // A crash between the commit and the publication (tests of the outbox).
            std::process::abort();
        }
        for l in letters {
            let stage = l.stage.label();
            self.metrics
                .dead_letters
                .with_label_values(&[&self.config.name, &l.record.coordinates.topic, stage])
                .inc();
            *self.report.dead_letters.entry(stage).or_default() += 1;
        }
        tracing::warn!(
            count = letters.len(),
            first = %letters[0].record.coordinates,
            reason = %letters[0].message,
            "records dead-lettered"
        );
        dead::log(&self.config.errors, letters);
        if let Some(publisher) = &self.publisher {
            publisher.wake();
        }
    }
}
