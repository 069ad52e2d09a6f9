//! Telemetry: the metric catalogue, the `/metrics` + `/health` listener, and what the build
//! says about itself (version, commit, log format).
//!
//! Every metric is defined here, once (names `sluice_<noun>_<unit>[_total]`, bounded labels:
//! connector, topic, partition, table, op, stage, reason, state, task, strategy — never a key
//! or a value).
//! `docs/metrics.md` lists the same catalogue; a unit test keeps the two equal.

mod health;
mod limit;
mod server;
#[cfg(test)]
mod tests;

pub use health::{task_name, Change, ConnectorHealth, ConnectorState, Dependency, Health, Verdict};
pub use limit::LogLimiter;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
pub use server::serve;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The version of this build (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this build was made from (12 hex digits, `-dirty` when tracked files had
/// changes), or `unknown` when it was built without git (see `build.rs`).
pub const COMMIT: &str = env!("SLUICE_GIT_COMMIT");

/// What `sluice --version` prints after the program name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLUICE_GIT_COMMIT"),
    ")"
);

/// Connector states as Kafka Connect names them, the values of `sluice_connector_state`'s
/// `state` label.
pub const CONNECTOR_STATES: [&str; 6] = [
    "UNASSIGNED",
    "RUNNING",
    "RETRYING",
    "PAUSED",
    "STOPPED",
    "FAILED",
];

/// The `stage` labels of `sluice_retries_total` that the pipeline uses, created at zero when a
/// connector starts.
const RETRY_STAGES: [&str; 1] = ["sink"];

/// The `status` labels of `sluice_offset_commits_total`, created at zero when a connector
/// starts.
pub const OFFSET_COMMIT_STATUSES: [&str; 2] = ["committed", "failed"];

/// How log lines are written to stderr (`--log-format`, `SLUICE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colour only when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// One metric family of the catalogue, as `/metrics` announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// Its `# HELP` text.
    pub help: &'static str,
    /// Its `# TYPE`: `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Its label names, in order.
    pub labels: Vec<&'static str>,
}

/// The metric catalogue of one process.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Every family defined below, in definition order: `render` announces those without
    /// samples yet, so a scrape always shows the whole catalogue.
    families: Arc<Vec<Family>>,
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
    /// Multi-source conflicts, per table, status (`resolved`, `pending`) and strategy.
    pub conflicts: IntCounterVec,
    /// Records dead-lettered (committed to `sluice_dead_letters`), per topic and stage.
    pub dead_letters: IntCounterVec,
    /// Dead letters the broker acknowledged on the dead-letter topic.
    pub dead_letters_published: IntCounterVec,
    /// Target tables created, columns added and columns widened by schema evolution.
    pub schema_changes: IntCounterVec,
    /// Each connector's state, one-hot over [`CONNECTOR_STATES`] (see
    /// [`Metrics::set_connector_state`]).
    pub connector_state: IntGaugeVec,
    /// Each task's state, one-hot over [`CONNECTOR_STATES`] (see [`Metrics::set_task_state`]).
    pub task_state: IntGaugeVec,
    /// Partitions assigned to the connector's consumers in this process.
    pub assigned_partitions: IntGaugeVec,
    /// Records read from Kafka and not yet committed to the target.
    pub inflight_records: IntGaugeVec,
    /// When the connector last committed a batch to the target (or started).
    pub last_commit: GaugeVec,
    /// Consumer-group rebalances (assignments and revocations) the connector went through.
    pub rebalances: IntCounterVec,
    /// Group offset commits (the checkpoint mirrored to Kafka), per status.
    pub offset_commits: IntCounterVec,
    /// Dead letters the broker did not acknowledge (left in the outbox, retried).
    pub dead_letter_publish_failures: IntCounterVec,
    /// Now minus the source time of the last change applied, per partition.
    pub lag_seconds: GaugeVec,
    /// Conflicts pending manual review in the target (`sluice_conflicts`).
    pub review_queue: IntGaugeVec,
    /// 1, labelled with this build's version and commit.
    pub build_info: IntGaugeVec,
}

/// Collects the families of the catalogue while `Metrics::new` registers them.
struct Catalogue {
    registry: Registry,
    families: Vec<Family>,
}

impl Catalogue {
    fn add(&mut self, collector: Box<dyn prometheus::core::Collector>, family: Family) {
        self.registry
            .register(collector)
            .expect("metric registered once");
        self.families.push(family);
    }

    fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
    ) -> IntCounterVec {
        let metric =
            IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
        self.add(
            Box::new(metric.clone()),
            family(name, help, "counter", labels),
        );
        metric
    }

    fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
    ) -> IntGaugeVec {
        let metric =
            IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
        self.add(
            Box::new(metric.clone()),
            family(name, help, "gauge", labels),
        );
        metric
    }

    fn float_gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
    ) -> GaugeVec {
        let metric =
            GaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
        self.add(
            Box::new(metric.clone()),
            family(name, help, "gauge", labels),
        );
        metric
    }

    /// A gauge per partition.
    fn partition_gauge(&mut self, name: &'static str, help: &'static str) -> IntGaugeVec {
        self.gauge(name, help, &["connector", "topic", "partition"])
    }

    fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        buckets: Vec<f64>,
        labels: &[&'static str],
    ) -> HistogramVec {
        let metric = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("static metric definition");
        self.add(
            Box::new(metric.clone()),
            family(name, help, "histogram", labels),
        );
        metric
    }
}

fn family(
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    labels: &[&'static str],
) -> Family {
    Family {
        name,
        help,
        kind,
        labels: labels.to_vec(),
    }
}

impl Metrics {
    /// Builds the catalogue in a fresh registry, with the process metrics (Linux) and
    /// `sluice_build_info`.
    pub fn new() -> Self {
        let mut c = Catalogue {
            registry: Registry::new(),
            families: Vec::new(),
        };
        let seconds = prometheus::exponential_buckets(0.0005, 2.0, 16).expect("static buckets");
        let counts = prometheus::exponential_buckets(1.0, 2.0, 14).expect("static buckets");
        let connector = &["connector"];
        let metrics = Metrics {
            records_consumed: c.counter(
                "sluice_records_consumed_total",
                "Kafka records read.",
                &["connector", "topic", "partition"],
            ),
            events_applied: c.counter(
                "sluice_events_applied_total",
                "Row changes written to the target.",
                &["connector", "table", "op"],
            ),
            events_skipped: c.counter(
                "sluice_events_skipped_total",
                "Row changes not written, by reason.",
                &["connector", "table", "reason"],
            ),
            records_ignored: c.counter(
                "sluice_records_ignored_total",
                "Records that are not row changes.",
                &["connector", "topic", "reason"],
            ),
            batch_duration: c.histogram(
                "sluice_batch_duration_seconds",
                "Time to apply one batch, commit included.",
                seconds.clone(),
                connector,
            ),
            commit_duration: c.histogram(
                "sluice_commit_duration_seconds",
                "Time of the target transaction commit.",
                seconds,
                connector,
            ),
            batch_records: c.histogram(
                "sluice_batch_records",
                "Records per applied batch.",
                counts,
                connector,
            ),
            consumer_lag: c.partition_gauge(
                "sluice_consumer_lag_records",
                "High watermark minus consumer position.",
            ),
            checkpoint_offset: c.partition_gauge(
                "sluice_checkpoint_offset",
                "Next offset in the target checkpoint.",
            ),
            fenced_batches: c.counter(
                "sluice_fenced_batches_total",
                "Batches rolled back because another worker owns the partition.",
                connector,
            ),
            retries: c.counter(
                "sluice_retries_total",
                "Retries after a transient error.",
                &["connector", "stage"],
            ),
            late_events: c.counter(
                "sluice_late_events_total",
                "Late or future-dated changes, by kind and the policy that handled them.",
                &["connector", "table", "kind", "policy"],
            ),
            late_delay: c.histogram(
                "sluice_late_delay_seconds",
                "How far a late change was behind its partition's watermark (future: ahead of the clock).",
                vec![1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0],
                &["connector", "table"],
            ),
            conflicts: c.counter(
                "sluice_conflicts_total",
                "Multi-source conflicts, resolved by a strategy or pending review.",
                &["connector", "table", "status", "strategy"],
            ),
            dead_letters: c.counter(
                "sluice_dead_letters_total",
                "Records dead-lettered, by the stage that refused them.",
                &["connector", "topic", "stage"],
            ),
            dead_letters_published: c.counter(
                "sluice_dead_letters_published_total",
                "Dead letters acknowledged by the broker on the dead-letter topic.",
                connector,
            ),
            schema_changes: c.counter(
                "sluice_schema_changes_total",
                "Changes schema evolution made to target tables (create_table, add_column, widen_column).",
                &["connector", "table", "change"],
            ),
            connector_state: c.gauge(
                "sluice_connector_state",
                "1 for the connector's current state, 0 for the others (UNASSIGNED, RUNNING, RETRYING, PAUSED, STOPPED, FAILED).",
                &["connector", "state"],
            ),
            task_state: c.gauge(
                "sluice_task_state",
                "1 for the task's current state, 0 for the others (UNASSIGNED, RUNNING, RETRYING, PAUSED, STOPPED, FAILED).",
                &["connector", "task", "state"],
            ),
            assigned_partitions: c.gauge(
                "sluice_assigned_partitions",
                "Partitions assigned to the connector in this process.",
                connector,
            ),
            inflight_records: c.gauge(
                "sluice_inflight_records",
                "Records read from Kafka and not yet committed to the target.",
                connector,
            ),
            last_commit: c.float_gauge(
                "sluice_last_commit_timestamp_seconds",
                "When the connector last committed a batch to the target (its start until then), seconds since the Unix epoch.",
                connector,
            ),
            rebalances: c.counter(
                "sluice_rebalances_total",
                "Consumer-group rebalance callbacks (assignments and revocations).",
                connector,
            ),
            offset_commits: c.counter(
                "sluice_offset_commits_total",
                "Commits of the checkpoint to the Kafka consumer group, by status (committed, failed).",
                &["connector", "status"],
            ),
            dead_letter_publish_failures: c.counter(
                "sluice_dead_letter_publish_failures_total",
                "Dead letters the broker did not acknowledge on the dead-letter topic (retried).",
                connector,
            ),
            lag_seconds: c.float_gauge(
                "sluice_lag_seconds",
                "Time between the source change (Debezium source.ts_ms) and the commit that applied the partition's last change.",
                &["connector", "topic", "partition"],
            ),
            review_queue: c.gauge(
                "sluice_review_queue_records",
                "Conflicts and late changes pending manual review in sluice_conflicts.",
                connector,
            ),
            build_info: c.gauge(
                "sluice_build_info",
                "1, labelled with the version and git commit of this build.",
                &["version", "commit"],
            ),
            registry: c.registry,
            families: Arc::new(c.families),
        };
        metrics
            .build_info
            .with_label_values(&[VERSION, COMMIT])
            .set(1);
        // CPU seconds, resident and virtual memory, open and maximum fds, start time and
        // threads, read from /proc at each scrape.
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metrics registered once");
        metrics
    }

    /// The families of the catalogue (process metrics aside), in definition order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Creates, at zero, the series a connector has from its start: every family whose only
    /// label is `connector`, the retry stages, and `sluice_connector_state` at UNASSIGNED. A
    /// dashboard then shows 0 rather than no data, and `rate()` sees the first increment.
    pub fn connector_started(&self, connector: &str) {
        self.connector_series(connector);
        self.set_connector_state(connector, "UNASSIGNED");
    }

    /// The zero series of [`Metrics::connector_started`], without touching the state.
    pub fn connector_series(&self, connector: &str) {
        for histogram in [
            &self.batch_duration,
            &self.commit_duration,
            &self.batch_records,
        ] {
            histogram.with_label_values(&[connector]);
        }
        for counter in [
            &self.fenced_batches,
            &self.dead_letters_published,
            &self.rebalances,
            &self.dead_letter_publish_failures,
        ] {
            counter.with_label_values(&[connector]);
        }
        for gauge in [
            &self.assigned_partitions,
            &self.inflight_records,
            &self.review_queue,
        ] {
            gauge.with_label_values(&[connector]);
        }
        for stage in RETRY_STAGES {
            self.retries.with_label_values(&[connector, stage]);
        }
        for status in OFFSET_COMMIT_STATUSES {
            self.offset_commits.with_label_values(&[connector, status]);
        }
    }

    /// An observer for [`Health::with_observer`] that keeps the metrics in step with each
    /// connector's health (`sluice run`: a connector is one task, task 0, unless `tasks.max`
    /// gives it more): a connector registering (UNASSIGNED) gets its zero series
    /// ([`Metrics::connector_started`]), every later change moves `sluice_connector_state` (the
    /// worst of its tasks' states) and the task's `sluice_task_state`. A worker sets both from
    /// its status instead.
    pub fn health_observer(&self) -> impl Fn(health::Change<'_>) + Send + Sync + 'static {
        let metrics = self.clone();
        move |change| {
            match change.connector_state {
                ConnectorState::Unassigned => metrics.connector_started(change.connector),
                other => metrics.set_connector_state(change.connector, other.name()),
            }
            metrics.set_task_state(change.connector, change.task, change.task_state.name());
        }
    }

    /// Sets `sluice_task_state` of task `task` of `connector` one-hot to `state` (one of
    /// [`CONNECTOR_STATES`], in any case); an unknown state changes nothing.
    pub fn set_task_state(&self, connector: &str, task: u32, state: &str) {
        let task = task.to_string();
        one_hot(&self.task_state, &[connector, &task], state);
    }

    /// Removes the state series of a task (`Some`) or connector (`None`) that this worker no
    /// longer reports.
    pub fn forget(&self, connector: &str, task: Option<u32>) {
        for s in CONNECTOR_STATES {
            let _ = match task {
                Some(task) => {
                    let task = task.to_string();
                    self.task_state.remove_label_values(&[connector, &task, s])
                }
                None => self.connector_state.remove_label_values(&[connector, s]),
            };
        }
    }

    /// Sets `sluice_connector_state` of `connector` to 1 for `state` (one of
    /// [`CONNECTOR_STATES`], in any case) and to 0 for every other state. An unknown state
    /// changes nothing and is logged: the label stays bounded.
    pub fn set_connector_state(&self, connector: &str, state: &str) {
        one_hot(&self.connector_state, &[connector], state);
    }

    /// The Prometheus text exposition of every metric. Families without samples yet (a
    /// label set no event has created) are announced with their `# HELP` and `# TYPE` lines,
    /// which the prometheus crate leaves out, so the first scrape shows the whole catalogue.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        // By name, as gather() orders them; gather() leaves out families without samples.
        let mut sections: BTreeMap<String, String> = self
            .registry
            .gather()
            .iter()
            .map(|family| {
                let text = encoder
                    .encode_to_string(std::slice::from_ref(family))
                    .unwrap_or_default();
                (family.name().to_string(), text)
            })
            .collect();
        for family in self.families.iter() {
            sections
                .entry(family.name.to_string())
                .or_insert_with(|| announce(family));
        }
        sections.into_values().collect()
    }
}

/// Sets the series of `gauge` labelled `labels` plus each of [`CONNECTOR_STATES`] to 1 for
/// `state` and 0 for the others. An unknown state changes nothing and is logged: the label
/// stays bounded.
fn one_hot(gauge: &IntGaugeVec, labels: &[&str], state: &str) {
    let Some(current) = CONNECTOR_STATES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(state))
    else {
        tracing::warn!(?labels, state, "unknown state; metric unchanged");
        return;
    };
    for s in CONNECTOR_STATES {
        let mut values = labels.to_vec();
        values.push(s);
        gauge
            .with_label_values(&values)
            .set(i64::from(s == *current));
    }
}

/// The `# HELP` and `# TYPE` lines of a family without samples (escaped as the text format
/// wants: backslash and newline).
fn announce(family: &Family) -> String {
    let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
    format!(
        "# HELP {name} {help}\n# TYPE {name} {kind}\n",
        name = family.name,
        kind = family.kind
    )
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
