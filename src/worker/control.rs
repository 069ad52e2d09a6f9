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
use std::sync::atomic::Ordering;
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
        assign::assign(&view.connectors, &self.members(&view))
    }

    /// The live workers, sorted; this one counts itself in even before its own heartbeat is
    /// read back.
    fn members(&self, view: &view::View) -> Vec<String> {
        let session = self.inner.settings.session_timeout.as_millis() as i64;
        let mut members = view.live_members(now_ms(), session);
        if !members.contains(&self.inner.id) {
            members.push(self.inner.id.clone());
            members.sort();
        }
        members
    }
}

/// When the group is rebalancing, as Connect's REST API sees it (its writes answer 409): from
/// the moment this worker sees the live workers change until every connector and task of the
/// new assignment has been reported by the worker it is assigned to, and for at least one
/// heartbeat interval (so every live worker has seen the same members — the others look at
/// the status topic on their own ticks). A new connector or a task restart is not a
/// rebalance; a worker that starts, leaves or dies is. A worker that has just started is
/// rebalancing only until its view's tasks are reported by their owners.
#[derive(Debug, Default)]
struct Rebalance {
    /// The workers of the last assignment every worker had taken up.
    settled: Option<Vec<String>>,
    /// When this worker saw the members it is rebalancing to: (members, since).
    seen: Option<(Vec<String>, Instant)>,
}

impl Rebalance {
    /// Whether a rebalance is under way, given the live workers, the assignment and what the
    /// status topic says.
    fn under_way(
        &mut self,
        members: &[String],
        assignment: &Assignment,
        view: &view::View,
        now: Instant,
        at_least: Duration,
    ) -> bool {
        if self.settled.as_deref() == Some(members) {
            return false;
        }
        let since = match &self.seen {
            Some((seen, since)) if seen == members => *since,
            _ => {
                self.seen = Some((members.to_vec(), now));
                now
            }
        };
        // At start there is no change to wait out: what the status topic says is enough.
        if self.settled.is_some() && now.duration_since(since) < at_least {
            return true;
        }
        let reported = |slot: (String, Option<u32>), owner: &String| {
            view.statuses
                .get(&slot)
                .is_some_and(|r| &r.info.worker_id == owner)
        };
        let taken_up = assignment
            .connectors
            .iter()
            .all(|(name, owner)| reported((name.clone(), None), owner))
            && assignment
                .tasks
                .iter()
                .all(|((name, task), owner)| reported((name.clone(), Some(*task)), owner));
        if taken_up {
            self.settled = Some(members.to_vec());
            self.seen = None;
        }
        !taken_up
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
    let mut rebalance = Rebalance::default();
    let mut last_beat = Instant::now();
    loop {
        if last_beat.elapsed() >= inner.settings.heartbeat {
            last_beat = Instant::now();
            if let Err(e) = worker.heartbeat().await {
                tracing::warn!(error = %e, "heartbeat not written; retrying");
            }
        }
        let view = worker.view();
        let members = worker.members(&view);
        let assignment = assign::assign(&view.connectors, &members);
        let rebalancing = rebalance.under_way(
            &members,
            &assignment,
            &view,
            Instant::now(),
            inner.settings.heartbeat,
        );
        if inner.rebalancing.swap(rebalancing, Ordering::SeqCst) != rebalancing {
            tracing::info!(rebalancing, workers = members.len(), "worker group");
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::types::Config;
    use crate::worker::view::{Connector, Reported, View};

    fn report(view: &mut View, assignment: &Assignment) {
        let slots = assignment
            .connectors
            .iter()
            .map(|(name, owner)| ((name.clone(), None), owner))
            .chain(
                assignment
                    .tasks
                    .iter()
                    .map(|((name, task), owner)| ((name.clone(), Some(*task)), owner)),
            );
        for (slot, owner) in slots {
            let info = StateInfo {
                state: State::Running,
                worker_id: owner.clone(),
                trace: None,
            };
            view.statuses.insert(slot, Reported { info, at_ms: 0 });
        }
    }

    #[test]
    fn a_rebalance_lasts_until_the_new_owners_report() {
        let mut view = View::default();
        view.connectors.insert(
            "c".into(),
            Connector {
                config: Config::from([("tasks.max".to_string(), "4".to_string())]),
                target: TargetState::Started,
                restart: None,
                task_restarts: BTreeMap::new(),
            },
        );
        let beat = Duration::from_secs(3);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let two: Vec<String> = vec!["a:1".into(), "b:1".into()];
        let mut rebalance = Rebalance::default();
        let before = assign::assign(&view.connectors, &two);
        // A worker starting into a cluster whose tasks are not reported yet waits for them.
        assert!(rebalance.under_way(&two, &before, &view, at(0), beat));
        report(&mut view, &before);
        assert!(!rebalance.under_way(&two, &before, &view, at(1), beat));
        // A worker leaves: its tasks are reported by it until the survivor takes them up.
        let one: Vec<String> = vec!["a:1".into()];
        let after = assign::assign(&view.connectors, &one);
        assert!(rebalance.under_way(&one, &after, &view, at(10), beat));
        assert!(
            rebalance.under_way(&one, &after, &view, at(20), beat),
            "not taken up"
        );
        report(&mut view, &after);
        assert!(!rebalance.under_way(&one, &after, &view, at(21), beat));
        // Taken up before this worker noticed: still one heartbeat for the others to see it.
        let back = assign::assign(&view.connectors, &two);
        report(&mut view, &back);
        assert!(rebalance.under_way(&two, &back, &view, at(30), beat));
        assert!(!rebalance.under_way(&two, &back, &view, at(33), beat));
        // A new connector's tasks not yet reported are not a rebalance.
        view.connectors
            .insert("d".into(), view.connectors["c"].clone());
        let more = assign::assign(&view.connectors, &two);
        assert!(!rebalance.under_way(&two, &more, &view, at(34), beat));
    }
}
