//! The tasks this worker runs: each a pipeline (`pipeline::run`) with its own stop signal,
//! started, stopped and restarted so that what runs here follows the assignment, the configs,
//! the target states and the restart requests in the view.

use super::assign::Assignment;
use super::types::{State, StateInfo, TargetState};
use super::view::View;
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::pipeline::{self, RunOptions};
use crate::telemetry::{ConnectorState, Health, Metrics};
use std::collections::BTreeMap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A task this worker runs (or ran: a failed pipeline stays here until restarted).
struct Task {
    config: super::types::Config,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
    started_ms: i64,
}

/// The tasks of this worker.
pub(super) struct Tasks {
    worker: WorkerConfig,
    metrics: Metrics,
    health: Health,
    running: BTreeMap<(String, u32), Task>,
}

/// The health-registry name of a task.
pub(super) fn label(connector: &str, task: u32) -> String {
    crate::telemetry::task_name(connector, task)
}

impl Tasks {
    pub(super) fn new(worker: WorkerConfig, metrics: Metrics, health: Health) -> Self {
        Tasks {
            worker,
            metrics,
            health,
            running: BTreeMap::new(),
        }
    }

    /// Makes what runs here match `view` and `assignment` for worker `me`.
    pub(super) async fn reconcile(
        &mut self,
        view: &View,
        assignment: &Assignment,
        me: &str,
        now_ms: i64,
    ) {
        let mut wanted: BTreeMap<(String, u32), &super::view::Connector> = BTreeMap::new();
        for ((name, task), worker) in &assignment.tasks {
            if worker != me {
                continue;
            }
            if let Some(c) = view.connectors.get(name) {
                if c.target == TargetState::Started {
                    wanted.insert((name.clone(), *task), c);
                }
            }
        }
        // Stop what is no longer wanted here, or whose config changed, or that was asked to
        // restart: all told at once, so a connector's tasks leave its group together.
        let keys: Vec<(String, u32)> = self.running.keys().cloned().collect();
        let mut stopping = Vec::new();
        for key in keys {
            let Some(task) = self.running.get(&key) else {
                continue;
            };
            let keep = match wanted.get(&key) {
                None => false,
                Some(c) => c.config == task.config && !restart_asked(c, &key, task, &self.health),
            };
            if !keep {
                if let Some(task) = self.running.remove(&key) {
                    let _ = task.stop.send(true);
                    stopping.push((key, task));
                }
            }
        }
        for (key, task) in stopping {
            let _ = task.handle.await;
            tracing::info!(connector = %key.0, task = key.1, "task stopped");
            self.health.remove(&label(&key.0, key.1));
        }
        for (key, connector) in wanted {
            if self.running.contains_key(&key) {
                continue;
            }
            let task = self.start(&key.0, key.1, &connector.config, now_ms);
            self.running.insert(key, task);
        }
    }

    /// Starts one task; a config that does not load is a FAILED task with the problems.
    fn start(&self, name: &str, task: u32, config: &super::types::Config, now_ms: i64) -> Task {
        let (stop, shutdown) = watch::channel(false);
        // The worker sets the states (from what it reports); the zero series come from here.
        self.metrics.connector_series(name);
        let doc = serde_json::json!({"name": name, "config": config}).to_string();
        let loaded = ConnectorConfig::from_json_with(
            &doc,
            "the config topic",
            &|k| std::env::var(k).ok(),
            &self.worker,
        );
        let handle = match loaded {
            Err(e) => {
                self.health
                    .task(name, task)
                    .set(ConnectorState::Failed, Some(e.problems.join("; ")));
                tokio::spawn(async {})
            }
            Ok(connector) => {
                let (worker, metrics, health) = (
                    self.worker.clone(),
                    self.metrics.clone(),
                    self.health.clone(),
                );
                let options = RunOptions {
                    stop_at_end: false,
                    shutdown_timeout: worker.shutdown_timeout,
                    task: Some(task),
                    // The worker runs each task by itself; it is never stopped at the end.
                    siblings: None,
                };
                tracing::info!(connector = name, task, "starting task");
                tokio::spawn(async move {
                    // The pipeline logs its failure and leaves FAILED in the health registry.
                    let _ =
                        pipeline::run(&worker, connector, metrics, health, shutdown, options).await;
                })
            }
        };
        Task {
            config: config.clone(),
            stop,
            handle,
            started_ms: now_ms,
        }
    }

    /// Every task's state here, as the status topic reports it.
    pub(super) fn states(&self, me: &str) -> BTreeMap<(String, u32), StateInfo> {
        self.running
            .keys()
            .map(|(name, task)| {
                let (state, trace) = self
                    .health
                    .state(&label(name, *task))
                    .map(|(s, cause)| (state_of(s), cause))
                    .unwrap_or((State::Unassigned, None));
                (
                    (name.clone(), *task),
                    StateInfo {
                        state,
                        worker_id: me.to_string(),
                        trace,
                    },
                )
            })
            .collect()
    }

    /// Stops every task (each gets the shutdown grace period).
    pub(super) async fn stop_all(&mut self) {
        let running = std::mem::take(&mut self.running);
        // Told all first, so they wind down together.
        for task in running.values() {
            let _ = task.stop.send(true);
        }
        for (_, task) in running {
            let _ = task.handle.await;
        }
    }
}

/// Whether a restart request newer than the task's start covers it.
fn restart_asked(
    connector: &super::view::Connector,
    key: &(String, u32),
    task: &Task,
    health: &Health,
) -> bool {
    if connector
        .task_restarts
        .get(&key.1)
        .is_some_and(|at| *at > task.started_ms)
    {
        return true;
    }
    let Some(restart) = connector.restart else {
        return false;
    };
    if restart.at_ms <= task.started_ms || !restart.include_tasks {
        return false;
    }
    !restart.only_failed
        || matches!(
            health.state(&label(&key.0, key.1)),
            Some((ConnectorState::Failed, _))
        )
}

/// A pipeline's health state as Connect names it.
pub(super) fn state_of(state: ConnectorState) -> State {
    match state {
        ConnectorState::Unassigned => State::Unassigned,
        ConnectorState::Running => State::Running,
        ConnectorState::Retrying => State::Retrying,
        ConnectorState::Stopped => State::Stopped,
        ConnectorState::Failed => State::Failed,
    }
}
