//! The running connector: source thread -> decode -> resolve/sink -> mirror, with one shutdown.
//!
//! Records are batched (up to `batch.size`, or what arrived within the linger time); each batch
//! is decoded, planned and applied in one target transaction together with its checkpoint.
//! Transient target errors are retried with exponential backoff and jitter (the source pauses
//! meanwhile, because the channel fills); a bad record stops the connector
//! (`errors.tolerance=none`) with an error naming topic, partition, offset, key and reason.

mod committed;
mod dead;
mod end;
mod gauges;
mod mirror;
mod open;
mod outcome;
mod report;
mod resilient;
mod stop;
pub mod transaction;

pub use dead::{from_record_error as dead_letter_for, from_write as write_dead_letter};
pub use report::Report;

use crate::checkpoint::{Claim, Position, TopicPartition};
use crate::config::{ConnectorConfig, ErrorTolerance, WorkerConfig};
use crate::deadletter::publish::Publisher;
use crate::deadletter::DeadLetter;
use crate::decode::SourceFields;
use crate::event::{ChangeEvent, Decoded, RawRecord};
use crate::resolve::late::{self, LatePolicy, LateRecord};
use crate::resolve::Outcome;
use crate::sink::Sink;
use crate::source::{self, Received, SluiceConsumer, SourceContext, SourceMsg};
use crate::telemetry::{ConnectorHealth, ConnectorState, Health, Metrics};
pub use end::Siblings;
use open::open_sink;
use outcome::bad_record;
pub use outcome::{PipelineError, RunOptions};
use rdkafka::consumer::Consumer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stop::Stop;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

struct Running {
    config: ConnectorConfig,
    sink: Sink,
    consumer: Arc<SluiceConsumer>,
    metrics: Metrics,
    health: ConnectorHealth,
    /// SIGTERM/SIGINT: retries stop, work in flight gets the grace period.
    stop: Stop,
    claims: HashMap<TopicPartition, Claim>,
    next: HashMap<TopicPartition, i64>,
    /// What the target checkpoint holds per partition (each commit's `previous`).
    stored: HashMap<TopicPartition, Option<i64>>,
    /// Where `--stop-at-end` stops.
    ends: end::Ends,
    /// Late-data watermark per partition, as committed (see `resolve::late`).
    watermarks: HashMap<TopicPartition, Option<i64>>,
    batch: Vec<Received>,
    report: Report,
    mirror: mirror::Mirror,
    /// Publishes committed dead letters to `errors.deadletterqueue.topic.name`.
    publisher: Option<Publisher>,
    /// The dead-letter ratio guard.
    ratio: dead::Ratio,
    /// This task's part of the connector's summed gauges.
    shares: gauges::Shares,
}

/// What the pipeline keeps of a change's record: its key for error messages, and the record
/// itself when it may have to be dead-lettered.
pub(crate) struct Origin {
    key_text: String,
    raw: Option<Box<RawRecord>>,
}

/// Runs one connector until shutdown, `--stop-at-end`, or a fatal error; its state in
/// `health` follows (FAILED with the error, logged at once; STOPPED otherwise). A shutdown
/// that abandons an uncommitted batch is a clean stop: the batch is applied on restart.
pub async fn run(
    worker: &WorkerConfig,
    config: ConnectorConfig,
    metrics: Metrics,
    health: Health,
    shutdown: watch::Receiver<bool>,
    options: RunOptions,
) -> Result<Report, PipelineError> {
    let name = config.name.clone();
    let health = match options.task {
        Some(task) => health.task(&name, task),
        None => health.connector(&name),
    };
    // A task's lines name it (a worker's tasks, `sluice run` with `tasks.max` > 1).
    let span = match options.task {
        Some(_) => tracing::info_span!("task", name = %health.name()),
        None => tracing::Span::none(),
    };
    let siblings = options.siblings.clone();
    let result = run_connector(worker, config, metrics, health.clone(), shutdown, options)
        .instrument(span)
        .await;
    if let Some(siblings) = siblings {
        siblings.stopped();
    }
    let result = match result {
        Err(PipelineError::Interrupted) => {
            tracing::warn!(connector = %name, "stopped without committing the in-flight batch; a restart applies it");
            Ok(None)
        }
        other => other.map(Some),
    };
    match &result {
        Ok(_) => health.set(ConnectorState::Stopped, None),
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "connector failed");
            health.set(ConnectorState::Failed, Some(e.to_string()));
        }
    }
    result.map(Option::unwrap_or_default)
}

async fn run_connector(
    worker: &WorkerConfig,
    config: ConnectorConfig,
    metrics: Metrics,
    health: ConnectorHealth,
    shutdown: watch::Receiver<bool>,
    options: RunOptions,
) -> Result<Report, PipelineError> {
    let stop_signal = Stop::new(shutdown, options.shutdown_timeout);
    let sink = open_sink(&config, &health, &stop_signal).await?;
    // Started before consuming, so dead letters a crash left unpublished go out first.
    let publisher = Publisher::start(worker, &config, sink.db().clone(), metrics.clone())
        .await
        .map_err(PipelineError::Kafka)?;
    // `sluice.max.inflight.records` bounds the decoded records waiting for a batch; what is
    // fetched beyond them waits undecoded in librdkafka's per-partition queues.
    let (tx, mut rx) = mpsc::channel(config.max_inflight.max(1));
    // Set when the pipeline stops: the source thread ends, a claim in a rebalance gives up.
    let stop = Arc::new(AtomicBool::new(false));
    let context = SourceContext::new(
        tokio::runtime::Handle::current(),
        sink.db().clone(),
        config.group_id(),
        tx.clone(),
        metrics.clone(),
        health.clone(),
        stop.clone(),
    );
    let consumer: Arc<SluiceConsumer> = Arc::new(
        source::consumer(worker, &config, context)
            .map_err(|e| PipelineError::Kafka(e.to_string()))?,
    );
    consumer.context().set_consumer(&consumer);
    let topics = source::subscription(&config.topics);
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topic_refs)
        .map_err(|e| PipelineError::Kafka(e.to_string()))?;
    let thread = {
        let (consumer, stop) = (consumer.clone(), stop.clone());
        // Records that come through the main queue (before a partition's queue is split, or
        // when it cannot be) before those partitions are paused.
        let max = (config.max_inflight / 4).max(1);
        // Of the `source` block's fields, only those a name or a transform reads are kept.
        let mut decode = config.decode.clone();
        let mut named = crate::sink::plan::source_placeholders(&config.table_name_format);
        named.extend(config.transforms.source_fields());
        decode.source_fields = SourceFields::Named(named);
        let decoder = source::Decoder {
            config: decode,
            transforms: config.transforms.clone(),
            // Any record may have to be dead-lettered whole.
            keep_raw: config.errors_tolerance == ErrorTolerance::All
                || config.late.policy == LatePolicy::DeadLetter,
            runtime: tokio::runtime::Handle::current(),
            stop: stop.clone(),
        };
        let span = tracing::Span::current();
        std::thread::Builder::new()
            .name("sluice-source".into())
            .spawn(move || span.in_scope(|| source::run(consumer, tx, stop, max, decoder)))
            .map_err(|e| PipelineError::Kafka(e.to_string()))?
    };
    let (consumer_for_mirror, db_for_mirror, group_for_mirror) =
        (consumer.clone(), sink.db().clone(), config.group_id());
    let (metrics_for_mirror, name_for_mirror) = (metrics.clone(), config.name.clone());
    let mut running = Running {
        report: Report::new(&config),
        ratio: dead::Ratio::new(&config.errors),
        publisher,
        config,
        sink,
        consumer,
        metrics,
        health,
        stop: stop_signal,
        claims: HashMap::new(),
        next: HashMap::new(),
        stored: HashMap::new(),
        ends: end::Ends::default(),
        watermarks: HashMap::new(),
        batch: Vec::new(),
        mirror: mirror::Mirror::start(
            consumer_for_mirror,
            db_for_mirror,
            group_for_mirror,
            metrics_for_mirror,
            name_for_mirror,
        ),
        shares: gauges::Shares::default(),
    };
    running.health.set(ConnectorState::Running, None);
    running.started_gauges();
    let result = match running.main_loop(&mut rx, &options).await {
        Err(PipelineError::Interrupted) => {
            tracing::warn!("stopped without committing the in-flight batch; a restart applies it");
            Ok(())
        }
        other => other,
    };
    // Leave the group from a blocking thread: closing runs the revoke callback, which must not
    // run inside the async runtime. The channel is closed first so it does not wait for us.
    stop.store(true, Ordering::SeqCst);
    drop(rx);
    running.release_shares();
    let Running {
        consumer,
        sink,
        report,
        mirror,
        publisher,
        stop: stop_signal,
        ..
    } = running;
    mirror.finish().await;
    if let Some(publisher) = publisher {
        // After a signal, what is left of the grace period; at the end of the stream, all of it.
        publisher.finish(stop_signal.grace_left()).await;
    }
    let _ = tokio::task::spawn_blocking(move || {
        let _ = thread.join();
        drop(consumer);
    })
    .await;
    sink.db().close().await;
    result.map(|()| report)
}

impl Running {
    /// With `--stop-at-end`: whether to stop now, and how the end is known.
    fn at_end(&self, options: &RunOptions) -> Option<&'static str> {
        if !options.stop_at_end {
            return None;
        }
        let reached = self
            .batch
            .is_empty()
            .then(|| self.ends.reached(self.claims.keys(), &self.next))
            .flatten();
        let Some(siblings) = &options.siblings else {
            return reached;
        };
        // A task that holds no partition has nothing to wait for (whether its old ones, or
        // ones the group is handing it, are taken up is for the siblings to judge).
        let idle = self.batch.is_empty() && self.claims.is_empty();
        siblings
            .at_end(reached.is_some() || idle, reached.is_some())
            .then_some(reached.unwrap_or("every task of the connector at its end"))
    }

    async fn main_loop(
        &mut self,
        rx: &mut mpsc::Receiver<SourceMsg>,
        options: &RunOptions,
    ) -> Result<(), PipelineError> {
        let linger = Duration::from_millis(self.config.linger_ms);
        let mut deadline: Option<Instant> = None;
        let mut last_purge = Instant::now();
        loop {
            if let Some(ends) = self.at_end(options) {
                tracing::info!(
                    ends,
                    "every assigned partition is applied up to its end offset; stopping"
                );
                return Ok(());
            }
            // Records already waiting are taken one after the other, without a timer and a
            // select per record, and go into the batch even when its linger is over: the
            // linger bounds the wait for records that have not arrived, so a partial batch is
            // written as soon as nothing more is waiting once it has passed.
            let queued = if self.stop.requested() {
                None
            } else {
                rx.try_recv().ok()
            };
            // `None`: the wait ended without a message.
            let message = match queued {
                Some(message) => {
                    // Yield now and then, as a receive would.
                    tokio::task::consume_budget().await;
                    Some(Some(message))
                }
                None => {
                    let wait = deadline
                        .map(|d| d.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::from_millis(200));
                    tokio::select! {
                        message = rx.recv() => Some(message),
                        _ = tokio::time::sleep(wait) => {
                            if deadline.is_some_and(|d| d <= Instant::now()) {
                                self.flush().await?;
                                deadline = None;
                            }
                            None
                        }
                        _ = self.stop.asked() => {
                            tracing::info!("shutdown requested; committing the in-flight batch");
                            return self.flush().await;
                        }
                    }
                }
            };
            if let Some(message) = message {
                match message {
                    Some(SourceMsg::Record(record)) => {
                        self.ends.record();
                        self.batch.push(*record);
                        deadline.get_or_insert_with(|| Instant::now() + linger);
                        if self.batch.len() >= self.config.batch_size {
                            self.flush().await?;
                            deadline = None;
                        }
                    }
                    Some(SourceMsg::Assigned {
                        claims,
                        end_offsets,
                    }) => {
                        if let Some(siblings) = &options.siblings {
                            siblings.assigned(claims.iter().map(|c| &c.tp));
                        }
                        for claim in claims {
                            self.stored.insert(claim.tp.clone(), claim.stored_offset);
                            self.watermarks.insert(claim.tp.clone(), claim.watermark_ms);
                            if let Some(n) = claim.next_offset {
                                self.next.insert(claim.tp.clone(), n);
                            }
                            self.claims.insert(claim.tp.clone(), claim);
                        }
                        self.ends.assigned(end_offsets);
                    }
                    Some(SourceMsg::FetchEnd(tp, high)) => {
                        if self.claims.contains_key(&tp) {
                            self.ends.fetched(tp, high);
                        }
                    }
                    Some(SourceMsg::Position(tp, position)) => {
                        if self.claims.contains_key(&tp) {
                            self.ends.position(tp, position);
                        }
                    }
                    Some(SourceMsg::Revoked(tps, ack)) => {
                        self.flush().await?;
                        // The group must not get a late commit of a partition after its new
                        // owner's.
                        self.mirror.barrier().await;
                        deadline = None;
                        for tp in tps {
                            if let Some(siblings) = &options.siblings {
                                siblings.revoked(&tp);
                            }
                            self.claims.remove(&tp);
                            self.ends.revoked(&tp);
                            self.watermarks.remove(&tp);
                        }
                        let _ = ack.send(());
                    }
                    Some(SourceMsg::Fatal(reason)) => return Err(PipelineError::Kafka(reason)),
                    None => return Err(PipelineError::Kafka("the source thread stopped".into())),
                }
            }
            self.update_shares(rx.len());
            if self.shares.review_counted.elapsed() >= gauges::REVIEW_REFRESH {
                self.count_reviews().await;
            }
            if last_purge.elapsed() > Duration::from_secs(600) {
                last_purge = Instant::now();
                if let Err(e) = self.sink.purge_tombstones().await {
                    tracing::warn!(error = %e, "purging version tombstones failed");
                }
                if let Err(e) = self.sink.purge_history().await {
                    tracing::warn!(error = %e, "purging checkpoint history failed");
                }
            }
        }
    }

    /// Checks a change against its partition's late-data `watermark` (moving it when on
    /// time) and returns what the late-data policy makes of it (`resolve::late::decide`). A
    /// late or future-dated change is counted, logged and recorded.
    fn timeliness(
        &self,
        event: &ChangeEvent,
        watermark: &mut Option<i64>,
        now: i64,
        late: &mut Vec<LateRecord>,
    ) -> Outcome {
        let config = &self.config.late;
        let timeliness = late::observe(config, late::source_time(event), watermark, now);
        let Some(kind) = timeliness.label() else {
            return Outcome::Apply;
        };
        let table = self.sink.table_label(event);
        let policy = config.policy;
        let c = &event.coordinates;
        tracing::warn!(topic = %c.topic, partition = c.partition, offset = c.offset, table = %table, kind, delay_ms = timeliness.delay_ms(), policy = policy.label(), "change outside the late-data tolerance");
        late.push(LateRecord {
            table,
            record_id: late::record_id(&event.key),
            coordinates: event.coordinates.clone(),
            timeliness,
            policy,
        });
        late::decide(policy, timeliness)
    }

    /// Decodes, applies and checkpoints the batch; mirrors the offsets to Kafka afterwards.
    async fn flush(&mut self) -> Result<(), PipelineError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let records = std::mem::take(&mut self.batch);
        let count = records.len();
        // Where every change came from, for naming or dead-lettering a record the sink refuses.
        let mut origins: Vec<Origin> = Vec::with_capacity(count);
        let mut dead_letters: Vec<DeadLetter> = Vec::new();
        let mut positions: HashMap<TopicPartition, Position> = HashMap::new();
        let mut events: Vec<ChangeEvent> = Vec::with_capacity(count);
        let name = self.config.name.clone();
        // Watermarks as this batch moves them; kept only once it commits.
        let mut watermarks: HashMap<TopicPartition, Option<i64>> = HashMap::new();
        let mut late: Vec<LateRecord> = Vec::new();
        let now = crate::checkpoint::now_ms();
        // Records read per partition, counted once per batch.
        let mut consumed: HashMap<TopicPartition, u64> = HashMap::new();
        for record in records {
            let tp = TopicPartition {
                topic: record.coordinates.topic.clone(),
                partition: record.coordinates.partition,
            };
            let Some(claim) = self.claims.get(&tp) else {
                continue;
            };
            // A record from before the claimed start (left over from an earlier assignment).
            // Or a record already in this batch (fetched again after a quick revoke/re-assign).
            let taken = positions
                .get(&tp)
                .map(|p| p.next_offset)
                .or(self.next.get(&tp).copied());
            if taken.is_some_and(|n| record.coordinates.offset < n) {
                continue;
            }
            *consumed.entry(tp.clone()).or_default() += 1;
            positions.insert(
                tp.clone(),
                Position {
                    tp: tp.clone(),
                    next_offset: record.coordinates.offset + 1,
                    epoch: claim.epoch,
                    previous: self.stored.get(&tp).copied().flatten(),
                    watermark_ms: None,
                },
            );
            match record.decoded {
                Ok(Decoded::Change(event)) => {
                    let watermark = watermarks
                        .entry(tp.clone())
                        .or_insert_with(|| self.watermarks.get(&tp).copied().flatten());
                    match self.timeliness(&event, watermark, now, &mut late) {
                        // A change held for review goes on: the sink records it instead of
                        // writing it.
                        Outcome::Apply | Outcome::Review => {}
                        Outcome::Drop(_) => continue,
                        Outcome::DeadLetter => {
                            if let (Some(raw), Some(l)) = (record.raw, late.last()) {
                                dead_letters.push(dead::from_late(*raw, l));
                            }
                            continue;
                        }
                    }
                    let event = *event;
                    origins.push(Origin {
                        key_text: record.key_text,
                        raw: record.raw,
                    });
                    events.push(event);
                }
                Ok(Decoded::Tombstone) => self
                    .metrics
                    .records_ignored
                    .with_label_values(&[&name, &tp.topic, "tombstone"])
                    .inc(),
                Ok(Decoded::NotARow(reason)) => self
                    .metrics
                    .records_ignored
                    .with_label_values(&[&name, &tp.topic, reason])
                    .inc(),
                Err(e) => match (self.config.errors_tolerance, record.raw) {
                    (ErrorTolerance::All, Some(raw)) => {
                        dead_letters.push(dead::from_record_error(*raw, &e, &self.config))
                    }
                    _ => {
                        return Err(bad_record(
                            &record.coordinates,
                            &record.key_text,
                            e.to_string(),
                        ))
                    }
                },
            }
        }
        for (tp, n) in &consumed {
            self.metrics
                .records_consumed
                .with_label_values(&[&name, &tp.topic, &tp.partition.to_string()])
                .inc_by(*n);
        }
        // Sorted, so every writer of sluice_offsets locks its rows in the same order.
        let mut positions: Vec<Position> = positions.into_values().collect();
        positions.sort_by(|a, b| a.tp.cmp(&b.tp));
        for p in &mut positions {
            p.watermark_ms = match watermarks.get(&p.tp) {
                Some(w) => *w,
                None => self.watermarks.get(&p.tp).copied().flatten(),
            };
        }
        if positions.is_empty() {
            return Ok(());
        }
        let extras = resilient::Extras {
            positions: &positions,
            late: &late,
        };
        let stats = self
            .apply_resilient(&mut events, &mut origins, &extras, &mut dead_letters, count)
            .await?;
        self.dead_lettered(&dead_letters, count);
        self.committed_gauges(&events);
        tracing::debug!(
            records = count,
            partitions = positions.len(),
            ms = started.elapsed().as_millis() as u64,
            "batch committed"
        );
        self.metrics
            .batch_duration
            .with_label_values(&[&name])
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .batch_records
            .with_label_values(&[&name])
            .observe(count as f64);
        self.committed(&stats, &events, &late, positions, count)
            .await;
        Ok(())
    }
}
