//! What a run applied: per-table counters, printed by `sluice run` and the demo.

use crate::checkpoint::Stored;
use crate::config::ConnectorConfig;
use crate::event::ChangeEvent;
use crate::sink::apply::TableStats;
use crate::sink::BatchStats;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Counters of one connector run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Connector name.
    pub connector: String,
    /// Kafka records read and checkpointed.
    pub records: u64,
    /// Row changes decoded.
    pub changes: u64,
    /// Per target table.
    pub tables: BTreeMap<String, TableStats>,
    /// Changes skipped before reaching a table, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Records dead-lettered, by stage.
    pub dead_letters: BTreeMap<&'static str, u64>,
}

impl Report {
    /// An empty report.
    pub fn new(config: &ConnectorConfig) -> Self {
        Report {
            connector: config.name.clone(),
            ..Default::default()
        }
    }

    /// Adds one batch.
    pub fn add(&mut self, stats: &BatchStats, events: &[ChangeEvent], records: usize) {
        self.records += records as u64;
        self.changes += events.len() as u64;
        for (table, t) in &stats.tables {
            self.tables.entry(table.clone()).or_default().add(t);
        }
        for (reason, n) in &stats.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
    }

    /// Adds another task's report of the same connector.
    pub fn merge(&mut self, other: Report) {
        self.records += other.records;
        self.changes += other.changes;
        for (table, t) in &other.tables {
            self.tables.entry(table.clone()).or_default().add(t);
        }
        for (reason, n) in other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        for (stage, n) in other.dead_letters {
            *self.dead_letters.entry(stage).or_default() += n;
        }
    }

    /// The human-readable report, with the final checkpoint read from the target.
    pub fn render(&self, checkpoint: &[Stored]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "connector {}: {} records read, {} row changes",
            self.connector, self.records, self.changes
        );
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "table", "inserted", "updated", "deleted", "truncated", "skipped"
        );
        for (table, t) in &self.tables {
            let skipped: u64 = t.skipped.values().sum();
            let _ = writeln!(
                out,
                "{table:<32} {:>9} {:>9} {:>9} {:>9} {:>9}",
                t.inserted, t.updated, t.deleted, t.truncated, skipped
            );
        }
        for (reason, n) in &self.skipped {
            let _ = writeln!(out, "skipped before any table ({reason}): {n}");
        }
        for (stage, n) in &self.dead_letters {
            let _ = writeln!(out, "dead-lettered at {stage}: {n}");
        }
        let _ = writeln!(out, "checkpoint (sluice_offsets):");
        for s in checkpoint {
            let next = s
                .next_offset
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  {}/{} next_offset={next} epoch={}",
                s.tp.topic, s.tp.partition, s.epoch
            );
        }
        out
    }
}
