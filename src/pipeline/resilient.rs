//! Applying a batch whatever fails: transient errors are retried with exponential backoff and
//! jitter (for `errors.retry.timeout`, capped at `errors.retry.delay.max.ms`); with
//! `errors.tolerance=all` a batch the target refuses is bisected, so only the records that
//! fail on their own are dead-lettered and the rest commit.

use super::transaction::{self, Batch, Ending};
use super::{bad_record, dead, Origin, PipelineError, Running};
use crate::checkpoint::Position;
use crate::config::ErrorTolerance;
use crate::deadletter::DeadLetter;
use crate::event::ChangeEvent;
use crate::resolve::late::LateRecord;
use crate::sink::{BatchStats, SinkError};
use crate::telemetry::{ConnectorState, Dependency};
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::{Duration, Instant};

/// Waits between retries of one piece of work, and says when to give up.
struct Retry {
    delays: backon::ExponentialBackoff,
    started: Instant,
    timeout: Option<Duration>,
    max: Duration,
}

impl Retry {
    fn new(running: &Running) -> Self {
        let errors = &running.config.errors;
        Retry {
            delays: ExponentialBuilder::default()
                .with_jitter()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(errors.retry_delay_max)
                .without_max_times()
                .build(),
            started: Instant::now(),
            timeout: errors.retry_timeout,
            max: errors.retry_delay_max,
        }
    }

    /// Sleeps before the next attempt; an error once `errors.retry.timeout` has passed, and
    /// [`PipelineError::Interrupted`] as soon as shutdown is asked for.
    async fn wait(&mut self, running: &Running, error: &SinkError) -> Result<(), PipelineError> {
        if running.stop.requested() {
            return Err(PipelineError::Interrupted);
        }
        if self.timeout.is_some_and(|t| self.started.elapsed() >= t) {
            return Err(PipelineError::Target(format!(
                "still failing after errors.retry.timeout ({} ms): {error}",
                self.timeout.unwrap_or_default().as_millis()
            )));
        }
        let delay = self.delays.next().unwrap_or(self.max);
        tracing::warn!(error = %error, delay_ms = delay.as_millis() as u64, "target unavailable; retrying the batch");
        running
            .metrics
            .retries
            .with_label_values(&[&running.config.name, "sink"])
            .inc();
        let cause = error.to_string();
        running
            .health
            .set(ConnectorState::Retrying, Some(cause.clone()));
        // Any transient failure counts: readiness fails only once it lasts past the timeout.
        running.health.unreachable(Dependency::Target, &cause);
        tokio::select! {
            _ = tokio::time::sleep(delay) => Ok(()),
            _ = running.stop.asked() => Err(PipelineError::Interrupted),
        }
    }
}

/// What a batch commits besides its rows.
pub(super) struct Extras<'a> {
    pub positions: &'a [Position],
    pub late: &'a [LateRecord],
}

impl Running {
    /// Applies one attempt of `events` (committed or, as a probe, rolled back), retrying
    /// transient errors. `Ok(Err(e))`: the target refused the batch for a reason that may be a
    /// record's; every other failure stops the connector.
    async fn attempt(
        &mut self,
        events: &[ChangeEvent],
        extras: &Extras<'_>,
        dead_letters: &[DeadLetter],
        ending: Ending,
    ) -> Result<Result<BatchStats, SinkError>, PipelineError> {
        let mut retry = Retry::new(self);
        loop {
            let batch = Batch {
                events,
                positions: extras.positions,
                late: extras.late,
                dead_letters,
                replayed: &[],
            };
            let started = Instant::now();
            let stop = self.stop.clone();
            // After SIGTERM a batch being applied gets what is left of the grace period, then
            // is dropped (rolled back, never half-committed: its checkpoint is in the same
            // transaction).
            let applied = tokio::select! {
                applied = transaction::run(&mut self.sink, &batch, ending) => applied,
                _ = stop.grace_over() => return Err(PipelineError::Interrupted),
            };
            match applied {
                Ok(stats) => {
                    if ending == Ending::Commit {
                        self.metrics
                            .commit_duration
                            .with_label_values(&[&self.config.name])
                            .observe(started.elapsed().as_secs_f64());
                    }
                    self.health.reachable(Dependency::Target);
                    self.health.recovered();
                    return Ok(Ok(stats));
                }
                Err(e) if e.is_transient() => retry.wait(self, &e).await?,
                Err(SinkError::Fenced(e)) => {
                    self.metrics
                        .fenced_batches
                        .with_label_values(&[&self.config.name])
                        .inc();
                    return Err(PipelineError::Fenced(e.to_string()));
                }
                Err(e) if e.is_record_error() => return Ok(Err(e)),
                Err(e) => return Err(PipelineError::Target(e.to_string())),
            }
        }
    }

    /// Applies and commits the batch. A refused batch stops the connector with
    /// `errors.tolerance=none`; with `all`, its bad records are isolated and dead-lettered
    /// (moved from `events` to `dead_letters`) and the rest commits.
    pub(super) async fn apply_resilient(
        &mut self,
        events: &mut Vec<ChangeEvent>,
        origins: &mut Vec<Origin>,
        extras: &Extras<'_>,
        dead_letters: &mut Vec<DeadLetter>,
        records: usize,
    ) -> Result<BatchStats, PipelineError> {
        // Isolation that finds no bad record: the failure was not reproduced by the probes
        // (a passing state of the target). The batch is tried once more before stopping.
        let mut unexplained = 0;
        loop {
            self.check_ratio(records, dead_letters)?;
            let error = match self
                .attempt(events, extras, dead_letters, Ending::Commit)
                .await?
            {
                Ok(stats) => return Ok(stats),
                Err(e) => e,
            };
            if self.config.errors_tolerance == ErrorTolerance::None {
                return Err(self.refused(&error, events, origins));
            }
            tracing::info!(error = %error, records = events.len(), "the target refused the batch; isolating the records it refuses");
            // The probes roll back, so bisecting can be abandoned at any point: after SIGTERM
            // it gets what is left of the grace period, however many probes that is.
            let stop = self.stop.clone();
            let bad = tokio::select! {
                bad = self.isolate(events, extras, dead_letters, &error, records) => bad?,
                _ = stop.grace_over() => return Err(PipelineError::Interrupted),
            };
            if bad.is_empty() {
                unexplained += 1;
                if unexplained == 1 {
                    tracing::warn!(error = %error, "the target refused the batch but every probe of its records applies; trying the batch again");
                    continue;
                }
                // Every part applies alone but not the whole: not a record's fault.
                return Err(PipelineError::Target(format!(
                    "the batch fails as a whole but each of its records applies; stopping: {error}"
                )));
            }
            for (i, error) in bad.into_iter().rev() {
                let event = events.remove(i);
                let origin = origins.remove(i);
                let table = self.sink.table_label(&event);
                let Some(raw) = origin.raw else {
                    return Err(self.refused(&error, std::slice::from_ref(&event), &[origin]));
                };
                dead_letters.push(dead::from_write(*raw, table, &error));
            }
            dead_letters.sort_by(|a, b| a.record.coordinates.cmp(&b.record.coordinates));
        }
    }

    /// Stops before committing when this batch would push the dead-letter ratio past
    /// `sluice.errors.max.ratio`: a wrong config must not dead-letter a whole topic.
    fn check_ratio(
        &self,
        records: usize,
        dead_letters: &[DeadLetter],
    ) -> Result<(), PipelineError> {
        let Some(ratio) = self.ratio.exceeded(records, dead_letters.len()) else {
            return Ok(());
        };
        let first = &dead_letters[0];
        Err(PipelineError::TooManyErrors(format!(
            "{} of the batch's {records} records would be dead-lettered, a ratio of {ratio:.2} over the \
             last sluice.errors.window.records={} records, above sluice.errors.max.ratio={}; nothing of \
             this batch was committed. First: {} at stage {}: {}",
            dead_letters.len(),
            self.config.errors.window,
            self.config.errors.max_ratio,
            first.record.coordinates,
            first.stage.label(),
            first.message,
        )))
    }

    /// The error that stops the connector for a refused batch, naming the record when the
    /// error names one.
    fn refused(
        &self,
        error: &SinkError,
        events: &[ChangeEvent],
        origins: &[Origin],
    ) -> PipelineError {
        match error {
            SinkError::Record {
                coordinates,
                reason,
            } => {
                let key = events
                    .iter()
                    .zip(origins)
                    .find(|(e, _)| e.coordinates == *coordinates)
                    .map(|(_, o)| o.key_text.as_str())
                    .unwrap_or("unknown");
                bad_record(coordinates, key, reason.clone())
            }
            other => PipelineError::Target(other.to_string()),
        }
    }

    /// Finds the records of a refused batch that fail on their own: probes (rolled-back
    /// attempts) of a growing good prefix plus the next half of what is left, bisecting what
    /// fails down to single records. Returns their indexes with their errors, in order; stops
    /// early once those trip the ratio guard (`sluice.errors.max.ratio`).
    async fn isolate(
        &mut self,
        events: &[ChangeEvent],
        extras: &Extras<'_>,
        dead_letters: &[DeadLetter],
        first_error: &SinkError,
        records: usize,
    ) -> Result<Vec<(usize, SinkError)>, PipelineError> {
        let mut bad = Vec::new();
        // Without any row the batch must apply, or it is not a record's fault. Even a batch of
        // one record is probed: its failure may have been a passing state of the target.
        if let Err(e) = self
            .attempt(&[], extras, dead_letters, Ending::Probe)
            .await?
        {
            return Err(PipelineError::Target(format!(
                "the target refuses the batch without any of its records: {e} (the batch failed with: {first_error})"
            )));
        }
        let started = Instant::now();
        let mut probes = 0usize;
        let mut good: Vec<usize> = Vec::new();
        let mid = events.len() / 2;
        let mut stack = vec![mid..events.len(), 0..mid];
        while let Some(range) = stack.pop() {
            if range.is_empty() {
                continue;
            }
            let candidate: Vec<ChangeEvent> = good
                .iter()
                .copied()
                .chain(range.clone())
                .map(|i| events[i].clone())
                .collect();
            probes += 1;
            match self
                .attempt(&candidate, extras, dead_letters, Ending::Probe)
                .await?
            {
                Ok(_) => good.extend(range),
                Err(e) if range.len() == 1 => {
                    bad.push((range.start, e));
                    // Enough bad records to trip the ratio guard: the caller stops before
                    // committing, so probing the rest would only cost transactions.
                    if self
                        .ratio
                        .exceeded(records, dead_letters.len() + bad.len())
                        .is_some()
                    {
                        break;
                    }
                }
                Err(_) => {
                    let mid = range.start + range.len() / 2;
                    stack.push(mid..range.end);
                    stack.push(range.start..mid);
                }
            }
        }
        tracing::info!(
            records = events.len(),
            bad = bad.len(),
            probes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "isolated the records the target refuses"
        );
        Ok(bad)
    }
}
