//! Telemetry: the metric catalogue, and the `/metrics` + `/health` listener.
//!
//! Every metric is defined here, once (names `sluice_<noun>_<unit>[_total]`, bounded labels:
//! connector, topic, partition, table, op, reason — never a key or a value).

mod health;
mod limit;
mod server;

pub use health::{ConnectorHealth, ConnectorState, Dependency, Health, Verdict};
pub use limit::LogLimiter;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
pub use server::serve;

/// The metric catalogue of one process.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Records read from Kafka.
    pub records_consumed: IntCounterVec,
    /// Row changes written, per table and op.
    pub events_applied: IntCounterVec,
    /// Row changes skipped (version guard, disabled deletes), per table and reason.
    pub events_skipped: IntCounterVec,
    /// Records that are not row changes (tombstones, messages, transaction metadata).
    pub records_ignored: IntCounterVec,
    /// Time to apply a batch (plan, write, commit).
    pub batch_duration: HistogramVec,
    /// Time of the target COMMIT alone.
    pub commit_duration: HistogramVec,
    /// Records per batch.
    pub batch_records: HistogramVec,
    /// Consumer lag per partition (high watermark minus position), from librdkafka statistics.
    pub consumer_lag: IntGaugeVec,
    /// Next offset in the target checkpoint per partition.
    pub checkpoint_offset: IntGaugeVec,
    /// Batches refused by the checkpoint fence.
    pub fenced_batches: IntCounterVec,
    /// Retries after a transient error, per stage.
    pub retries: IntCounterVec,
    /// Late and future-dated changes, per table, kind and the policy that handled them.
    pub late_events: IntCounterVec,
    /// How far late changes were behind their partition's watermark (future-dated ones:
    /// ahead of the clock), per table.
    pub late_delay: HistogramVec,
    /// Multi-source conflicts, per table and status (`resolved`, `pending`).
    pub conflicts: IntCounterVec,
    /// Records dead-lettered (committed to `sluice_dead_letters`), per topic and stage.
    pub dead_letters: IntCounterVec,
    /// Dead letters the broker acknowledged on the dead-letter topic.
    pub dead_letters_published: IntCounterVec,
    /// Target tables created, columns added and columns widened by schema evolution.
    pub schema_changes: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric =
        IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> HistogramVec {
    labelled_histogram(registry, name, help, buckets, &["connector"])
}

fn labelled_histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
) -> HistogramVec {
    let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("static metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), &["connector", "topic", "partition"])
        .expect("static metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

impl Metrics {
    /// Builds the catalogue in a fresh registry.
    pub fn new() -> Self {
        let r = Registry::new();
        let seconds = prometheus::exponential_buckets(0.0005, 2.0, 16).expect("static buckets");
        let counts = prometheus::exponential_buckets(1.0, 2.0, 14).expect("static buckets");
        Metrics {
            records_consumed: counter(
                &r,
                "sluice_records_consumed_total",
                "Kafka records read.",
                &["connector", "topic", "partition"],
            ),
            events_applied: counter(
                &r,
                "sluice_events_applied_total",
                "Row changes written to the target.",
                &["connector", "table", "op"],
            ),
            events_skipped: counter(
                &r,
                "sluice_events_skipped_total",
                "Row changes not written, by reason.",
                &["connector", "table", "reason"],
            ),
            records_ignored: counter(
                &r,
                "sluice_records_ignored_total",
                "Records that are not row changes.",
                &["connector", "topic", "reason"],
            ),
            batch_duration: histogram(
                &r,
                "sluice_batch_duration_seconds",
                "Time to apply one batch, commit included.",
                seconds.clone(),
            ),
            commit_duration: histogram(
                &r,
                "sluice_commit_duration_seconds",
                "Time of the target transaction commit.",
                seconds,
            ),
            batch_records: histogram(
                &r,
                "sluice_batch_records",
                "Records per applied batch.",
                counts,
            ),
            consumer_lag: gauge(
                &r,
                "sluice_consumer_lag_records",
                "High watermark minus consumer position.",
            ),
            checkpoint_offset: gauge(
                &r,
                "sluice_checkpoint_offset",
                "Next offset in the target checkpoint.",
            ),
            fenced_batches: counter(
                &r,
                "sluice_fenced_batches_total",
                "Batches rolled back because another worker owns the partition.",
                &["connector"],
            ),
            retries: counter(
                &r,
                "sluice_retries_total",
                "Retries after a transient error.",
                &["connector", "stage"],
            ),
            late_events: counter(
                &r,
                "sluice_late_events_total",
                "Late or future-dated changes, by kind and the policy that handled them.",
                &["connector", "table", "kind", "policy"],
            ),
            late_delay: labelled_histogram(
                &r,
                "sluice_late_delay_seconds",
                "How far a late change was behind its partition's watermark (future: ahead of the clock).",
                vec![1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0],
                &["connector", "table"],
            ),
            conflicts: counter(
                &r,
                "sluice_conflicts_total",
                "Multi-source conflicts, resolved by a strategy or pending review.",
                &["connector", "table", "status"],
            ),
            dead_letters: counter(
                &r,
                "sluice_dead_letters_total",
                "Records dead-lettered, by the stage that refused them.",
                &["connector", "topic", "stage"],
            ),
            dead_letters_published: counter(
                &r,
                "sluice_dead_letters_published_total",
                "Dead letters acknowledged by the broker on the dead-letter topic.",
                &["connector"],
            ),
            schema_changes: counter(
                &r,
                "sluice_schema_changes_total",
                "Changes schema evolution made to target tables (create_table, add_column, widen_column).",
                &["connector", "table", "change"],
            ),
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
