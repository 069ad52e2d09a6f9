//! Committed progress over time, and the rate of the first and the second half of the events
//! from it (issue #18: a stream whose partitions end at different times must not slow down).

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `(seconds since the run started, records committed)`, in time order.
pub(crate) type Samples = Vec<(f64, f64)>;

/// The first sample with a commit in it: `(seconds, records committed)`.
pub(crate) fn first_commit(samples: &[(f64, f64)]) -> Option<(f64, f64)> {
    samples.iter().copied().find(|s| s.1 > 0.0)
}

/// The rates of the two halves of the events, by committed progress.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Halves {
    /// When the first commit was seen, and how many records it held.
    pub(crate) first_commit_secs: f64,
    pub(crate) first_commit_records: f64,
    /// When at least half the records were committed, and how many.
    pub(crate) half_secs: f64,
    pub(crate) half_records: f64,
    /// When every record was committed.
    pub(crate) end_secs: f64,
    /// Records/s from the first commit to the half, and from the half to the end.
    pub(crate) first_rate: f64,
    pub(crate) second_rate: f64,
}

impl Halves {
    /// From samples of committed progress up to `n` records; `None` if it never reached `n`
    /// or the samples cannot tell the halves apart (a few commits in all: the smoke run).
    pub(crate) fn from_samples(samples: &[(f64, f64)], n: f64) -> Option<Halves> {
        let first = first_commit(samples)?;
        let half = samples.iter().find(|s| s.1 * 2.0 >= n)?;
        let end = samples.iter().find(|s| s.1 >= n)?;
        if half.0 <= first.0 || end.0 <= half.0 {
            return None;
        }
        let rate = |records: f64, secs: f64| records / secs.max(1e-9);
        Some(Halves {
            first_commit_secs: first.0,
            first_commit_records: first.1,
            half_secs: half.0,
            half_records: half.1,
            end_secs: end.0,
            first_rate: rate(half.1 - first.1, half.0 - first.0),
            second_rate: rate(n - half.1, end.0 - half.0),
        })
    }

    /// Second half's rate / first half's (the target is >= 0.9).
    pub(crate) fn ratio(&self) -> f64 {
        self.second_rate / self.first_rate.max(1e-9)
    }

    pub(crate) fn json(&self) -> Json {
        json!({"first_commit_secs": self.first_commit_secs,
            "first_commit_records": self.first_commit_records, "half_secs": self.half_secs,
            "half_records": self.half_records, "end_secs": self.end_secs,
            "first_half_events_per_s": self.first_rate,
            "second_half_events_per_s": self.second_rate, "second_over_first": self.ratio()})
    }
}

/// Samples `sum(next_offset)` of sluice's checkpoint table (`sluice_offsets`) in the target
/// every 100 ms: the records sluice has committed, as the topic's offsets start at 0 and
/// hold no control records. Before sluice creates the table the sum reads as 0.
pub(crate) struct CheckpointSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Samples>,
}

impl CheckpointSampler {
    pub(crate) fn start(rt: &tokio::runtime::Runtime, url: &str, started: Instant) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, flag) = (url.to_string(), stop.clone());
        let task = rt.spawn(async move {
            let mut conn = PgConnection::connect(&url)
                .await
                .expect("connect the sampler");
            // Not in the statement log that the server-side SQL time is summed from.
            sqlx::query("SET log_min_duration_statement = -1")
                .execute(&mut conn)
                .await
                .expect("quiet the sampler");
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                let committed: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(sum(next_offset) AS BIGINT) FROM sluice_offsets",
                )
                .fetch_one(&mut conn)
                .await
                .unwrap_or(None);
                let at = started.elapsed().as_secs_f64();
                samples.push((at, committed.unwrap_or(0) as f64));
            }
            conn.close().await.ok();
            samples
        });
        CheckpointSampler { stop, task }
    }

    /// Stops sampling (after one more sample) and returns the samples.
    pub(crate) fn finish(self, rt: &tokio::runtime::Runtime) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        rt.block_on(self.task).expect("sampler task")
    }
}
