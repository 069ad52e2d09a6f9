//! The worker's control loop: heartbeats, the assignment every worker computes alike, the
//! local tasks kept in step with it, and the statuses this worker owns written to the status
//! topic when they change. On shutdown: every task stopped (each within the grace period),
//! its status UNASSIGNED, and a tombstone for the heartbeat so the others take over at once.

use super::assign::{self, Assignment};
use super::tasks::Tasks;
use super::types::{State, StateInfo, TargetState};
use super::view::{self, Heartbeat, Reported};
use super::{Worker, WorkerError};
use crate::checkpoint::now_ms;
use crate::config::{ClientRole, WorkerConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the loop looks again without a change (state changes of local tasks).
const TICK: Duration = Duration::from_millis(500);

impl Worker {
    /// Writes this worker's heartbeat.
    pub(super) async fn heartbeat(&self) -> Result<(), WorkerError> {
        let beat = Heartbeat {
            at_ms: now_ms(),
            url: self.inner.url.clone(),
        };
        let (key, value) = view::heartbeat_record(&self.inner.id, &beat);
        self.inner
            .statuses
            .write(&key, Some(&value))
            .await
            .map_err(WorkerError::Internal)
    }

    /// The assignment as this worker sees the cluster now.
    pub(super) fn assignment(&self) -> Assignment {
        let view = self.view();
        let session = self.inner.settings.session_timeout.as_millis() as i64;
        let mut members = view.live_members(now_ms(), session);
        // This worker counts itself in even before its own heartbeat is read back.
        if !members.contains(&self.inner.id) {
            members.push(self.inner.id.clone());
            members.sort();
        }
        assign::assign(&view.connectors, &members)
    }
}

/// Runs until `shutdown`, then stops every task and leaves.
pub(super) async fn run(
    worker: Worker,
    mut shutdown: watch::Receiver<bool>,
    done: watch::Sender<bool>,
) {
    let inner = &worker.inner;
    let mut tasks = Tasks::new(
        inner.config.clone(),
        inner.metrics.clone(),
        inner.health.clone(),
    );
    let mut reported: BTreeMap<(String, Option<u32>), StateInfo> = BTreeMap::new();
    let mut last_beat = Instant::now();
    loop {
        if last_beat.elapsed() >= inner.settings.heartbeat {
            last_beat = Instant::now();
            if let Err(e) = worker.heartbeat().await {
                tracing::warn!(error = %e, "heartbeat not written; retrying");
            }
        }
        let view = worker.view();
        let assignment = worker.assignment();
        tasks
            .reconcile(&view, &assignment, &inner.id, now_ms())
            .await;
        let mut states: BTreeMap<(String, Option<u32>), StateInfo> = tasks
            .states(&inner.id)
            .into_iter()
            .map(|((name, task), info)| ((name, Some(task)), info))
            .collect();
        for (name, owner) in &assignment.connectors {
            if owner != &inner.id {
                continue;
            }
            let Some(connector) = view.connectors.get(name) else {
                continue;
            };
            let state = match connector.target {
                TargetState::Started => State::Running,
                TargetState::Paused => State::Paused,
                TargetState::Stopped => State::Stopped,
            };
            states.insert(
                (name.clone(), None),
                StateInfo {
                    state,
                    worker_id: inner.id.clone(),
                    trace: None,
                },
            );
        }
        // Paused tasks assigned here are not running: they say PAUSED.
        for ((name, task), owner) in &assignment.tasks {
            if owner == &inner.id
                && view
                    .connectors
                    .get(name)
                    .is_some_and(|c| c.target == TargetState::Paused)
            {
                states.insert(
                    (name.clone(), Some(*task)),
                    StateInfo {
                        state: State::Paused,
                        worker_id: inner.id.clone(),
                        trace: None,
                    },
                );
            }
        }
        for (slot, info) in &states {
            match slot.1 {
                Some(task) => inner
                    .metrics
                    .set_task_state(&slot.0, task, info.state.name()),
                None => inner
                    .metrics
                    .set_connector_state(&slot.0, info.state.name()),
            }
            let written = view.statuses.get(slot).map(|r| &r.info);
            if (reported.get(slot) != Some(info) || written != Some(info))
                && write_status(&worker, slot, info.clone()).await.is_ok()
            {
                reported.insert(slot.clone(), info.clone());
            }
        }
        for (name, task) in reported.keys().filter(|slot| !states.contains_key(*slot)) {
            inner.metrics.forget(name, *task);
        }
        reported.retain(|slot, _| states.contains_key(slot));
        tokio::select! {
            _ = inner.changed.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    tracing::info!("stopping this worker's tasks");
    let here: Vec<(String, u32)> = tasks.states(&inner.id).into_keys().collect();
    tasks.stop_all().await;
    for (name, task) in here {
        let info = StateInfo {
            state: State::Unassigned,
            worker_id: inner.id.clone(),
            trace: None,
        };
        let _ = write_status(&worker, &(name, Some(task)), info).await;
    }
    let _ = inner
        .statuses
        .write(&view::heartbeat_key(&inner.id), None)
        .await;
    inner.configs.close();
    inner.statuses.close();
    let _ = done.send(true);
}

async fn write_status(
    worker: &Worker,
    slot: &(String, Option<u32>),
    info: StateInfo,
) -> Result<(), String> {
    let reported = Reported {
        info,
        at_ms: now_ms(),
    };
    let (key, value) = view::status_record(&slot.0, slot.1, &reported);
    let result = worker.inner.statuses.write(&key, Some(&value)).await;
    if let Err(e) = &result {
        tracing::warn!(key, error = %e, "status not written; retrying");
    }
    result
}

/// The Kafka cluster id, for `GET /` (none when the broker does not say).
pub(super) async fn cluster_id(config: &WorkerConfig) -> Option<String> {
    let client = config.client_config(ClientRole::Consumer);
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client.create().ok()?;
        consumer.client().fetch_cluster_id(Duration::from_secs(5))
    })
    .await
    .ok()
    .flatten()
}
