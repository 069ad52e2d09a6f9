//! Per-connector health as Kafka Connect names it, and what `/health` and `/ready` answer.
//!
//! Each connector reports its state (UNASSIGNED while starting, RUNNING, RETRYING with the
//! cause, FAILED with the error, STOPPED) and whether its broker and its target can be
//! reached; a connector that runs several tasks reports per task, and its state is the worst
//! of theirs (FAILED, RETRYING, UNASSIGNED, RUNNING, STOPPED, in that order). Readiness fails
//! while any connector is FAILED or still starting, or has been cut off from its broker or
//! target for longer than `sluice.health.unreachable.timeout.ms`;
//! liveness fails only when no connector can make progress (every one FAILED).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A connector's state, with Kafka Connect's names (plus RETRYING, sluice's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorState {
    /// Configured, not yet consuming.
    Unassigned,
    /// Consuming and applying.
    Running,
    /// Retrying a transient failure (the cause is kept).
    Retrying,
    /// Stopped cleanly (shutdown or `--stop-at-end`).
    Stopped,
    /// Stopped by an error (the error is kept).
    Failed,
}

impl ConnectorState {
    /// How bad the state is when a connector's tasks are summed up: the worst one names it.
    fn severity(self) -> u8 {
        match self {
            ConnectorState::Stopped => 0,
            ConnectorState::Running => 1,
            ConnectorState::Unassigned => 2,
            ConnectorState::Retrying => 3,
            ConnectorState::Failed => 4,
        }
    }

    /// Every state, for the one-hot `sluice_connector_state` gauge.
    pub const ALL: [ConnectorState; 5] = [
        ConnectorState::Unassigned,
        ConnectorState::Running,
        ConnectorState::Retrying,
        ConnectorState::Stopped,
        ConnectorState::Failed,
    ];

    /// The Kafka Connect name.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorState::Unassigned => "UNASSIGNED",
            ConnectorState::Running => "RUNNING",
            ConnectorState::Retrying => "RETRYING",
            ConnectorState::Stopped => "STOPPED",
            ConnectorState::Failed => "FAILED",
        }
    }
}

/// Which dependency a connector cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dependency {
    /// The Kafka brokers.
    Broker,
    /// The target database.
    Target,
}

impl Dependency {
    fn name(self) -> &'static str {
        match self {
            Dependency::Broker => "broker",
            Dependency::Target => "target",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The connector and task id, for a task of a connector that runs several.
    task: Option<(String, u32)>,
    state: ConnectorState,
    /// The RETRYING cause or the FAILED error.
    cause: Option<String>,
    /// Since when, and why, a dependency cannot be reached.
    unreachable: BTreeMap<Dependency, (Instant, String)>,
}

/// What an [`Observer`] is told when a state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change<'a> {
    /// The connector.
    pub connector: &'a str,
    /// The task whose state changed (0 for a connector without tasks).
    pub task: u32,
    /// That task's state.
    pub task_state: ConnectorState,
    /// The connector's state: the worst of its tasks'.
    pub connector_state: ConnectorState,
}

/// Called whenever a state changes (the metrics gauges).
type Observer = Arc<dyn Fn(Change<'_>) + Send + Sync>;

/// The health of every connector of the process. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    entries: Arc<Mutex<BTreeMap<String, Entry>>>,
    unreachable_timeout: Duration,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("unreachable_timeout", &self.unreachable_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new(Duration::from_secs(60))
    }
}

/// What `/health` or `/ready` answers: ok or not, and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// 200 when true, 503 when false.
    pub ok: bool,
    /// `{"status": ..., "connectors": {name: {state, cause, unreachable}}}`.
    pub body: Value,
}

impl Health {
    /// Health whose readiness fails once a dependency has been unreachable for `timeout`.
    pub fn new(unreachable_timeout: Duration) -> Self {
        Health {
            entries: Arc::default(),
            unreachable_timeout,
            observer: None,
        }
    }

    /// Calls `observer` on every state change (to keep a gauge in step).
    pub fn with_observer(mut self, observer: impl Fn(Change<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The handle one connector reports through; registers it as UNASSIGNED.
    pub fn connector(&self, name: &str) -> ConnectorHealth {
        let handle = ConnectorHealth {
            health: self.clone(),
            name: name.to_string(),
            task: None,
        };
        handle.set(ConnectorState::Unassigned, None);
        handle
    }

    /// The handle task `task` of `connector` reports through, kept as `<connector>-<task>` and
    /// shown under its connector; registers it as UNASSIGNED.
    pub fn task(&self, connector: &str, task: u32) -> ConnectorHealth {
        let handle = ConnectorHealth {
            health: self.clone(),
            name: task_name(connector, task),
            task: Some((connector.to_string(), task)),
        };
        handle.set(ConnectorState::Unassigned, None);
        handle
    }

    /// Forgets a connector or task (a worker's task that moved elsewhere or was deleted).
    pub fn remove(&self, connector: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(connector);
        }
    }

    /// A connector's current state and cause.
    pub fn state(&self, connector: &str) -> Option<(ConnectorState, Option<String>)> {
        let entries = self.entries.lock().ok()?;
        entries.get(connector).map(|e| (e.state, e.cause.clone()))
    }

    /// Liveness: fails only when there are connectors and every one of them has FAILED.
    pub fn liveness(&self) -> Verdict {
        let entries = self.snapshot();
        let dead =
            !entries.is_empty() && entries.values().all(|e| e.state == ConnectorState::Failed);
        self.verdict(&entries, !dead, Instant::now())
    }

    /// Readiness: fails while any connector is starting or FAILED, or has been cut off from
    /// its broker or target for longer than the timeout.
    pub fn readiness(&self) -> Verdict {
        self.readiness_at(Instant::now())
    }

    fn readiness_at(&self, now: Instant) -> Verdict {
        let entries = self.snapshot();
        let ready = entries.values().all(|e| {
            !matches!(e.state, ConnectorState::Failed | ConnectorState::Unassigned)
                && e.unreachable
                    .values()
                    .all(|(since, _)| now.duration_since(*since) < self.unreachable_timeout)
        });
        self.verdict(&entries, ready, now)
    }

    fn snapshot(&self) -> BTreeMap<String, Entry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn verdict(&self, entries: &BTreeMap<String, Entry>, ok: bool, now: Instant) -> Verdict {
        let unreachable = |e: &Entry| -> serde_json::Map<String, Value> {
            e.unreachable
                .iter()
                .map(|(dep, (since, cause))| {
                    let seconds = now.duration_since(*since).as_secs();
                    (
                        dep.name().to_string(),
                        json!({"cause": cause, "for_seconds": seconds}),
                    )
                })
                .collect()
        };
        let describe = |e: &Entry| json!({"state": e.state.name(), "cause": e.cause, "unreachable": unreachable(e)});
        let mut connectors = serde_json::Map::new();
        let mut tasks: BTreeMap<&str, Vec<(u32, &Entry)>> = BTreeMap::new();
        for (name, e) in entries {
            match &e.task {
                None => {
                    connectors.insert(name.clone(), describe(e));
                }
                Some((connector, task)) => tasks.entry(connector).or_default().push((*task, e)),
            }
        }
        // A connector with tasks: the worst task's state and cause, every dependency a task
        // cannot reach (the longest outage), and each task as it is.
        for (connector, mut list) in tasks {
            list.sort_by_key(|(task, _)| *task);
            let worst = list
                .iter()
                .map(|(_, e)| e)
                .max_by_key(|e| e.state.severity())
                .expect("a listed connector has a task");
            let mut merged = Entry {
                task: None,
                state: worst.state,
                cause: worst.cause.clone(),
                unreachable: BTreeMap::new(),
            };
            for (_, e) in &list {
                for (dep, (since, cause)) in &e.unreachable {
                    let slot = merged
                        .unreachable
                        .entry(*dep)
                        .or_insert((*since, cause.clone()));
                    if *since < slot.0 {
                        *slot = (*since, cause.clone());
                    }
                }
            }
            let mut body = describe(&merged);
            body["tasks"] = list
                .iter()
                .map(|(task, e)| (task.to_string(), describe(e)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            connectors.insert(connector.to_string(), body);
        }
        let status = if ok { "UP" } else { "DOWN" };
        Verdict {
            ok,
            body: json!({"status": status, "connectors": connectors}),
        }
    }
}

/// One connector's view of [`Health`]: what the pipeline, the source and the sink report.
#[derive(Clone, Debug)]
pub struct ConnectorHealth {
    health: Health,
    name: String,
    /// The connector and task id of a task.
    task: Option<(String, u32)>,
}

/// The name a task's state is kept under: `<connector>-<task>`.
pub fn task_name(connector: &str, task: u32) -> String {
    format!("{connector}-{task}")
}

impl ConnectorHealth {
    /// Sets the state; `cause` is the RETRYING cause or the FAILED error.
    pub fn set(&self, state: ConnectorState, cause: Option<String>) {
        let overall = {
            let Ok(mut entries) = self.health.entries.lock() else {
                return;
            };
            let changed = match entries.get_mut(&self.name) {
                Some(entry) => {
                    let changed = entry.state != state;
                    entry.state = state;
                    entry.cause = cause;
                    changed
                }
                None => {
                    let entry = Entry {
                        task: self.task.clone(),
                        state,
                        cause,
                        unreachable: BTreeMap::new(),
                    };
                    entries.insert(self.name.clone(), entry);
                    true
                }
            };
            // The connector's state, over its tasks.
            changed.then(|| match &self.task {
                None => state,
                Some((connector, _)) => entries
                    .values()
                    .filter(|e| e.task.as_ref().is_some_and(|(c, _)| c == connector))
                    .map(|e| e.state)
                    .max_by_key(|s| s.severity())
                    .unwrap_or(state),
            })
        };
        if let (Some(connector_state), Some(observer)) = (overall, &self.health.observer) {
            let (connector, task) = match &self.task {
                Some((connector, task)) => (connector.as_str(), *task),
                None => (self.name.as_str(), 0),
            };
            observer(Change {
                connector,
                task,
                task_state: state,
                connector_state,
            });
        }
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connector it reports for (a task's connector): what metrics are labelled with.
    pub fn connector(&self) -> &str {
        self.task.as_ref().map_or(&self.name, |(c, _)| c)
    }

    /// RUNNING again after a retry (a no-op unless RETRYING: FAILED and STOPPED stay).
    pub fn recovered(&self) {
        if self.state() == Some(ConnectorState::Retrying) {
            self.set(ConnectorState::Running, None);
        }
    }

    /// The connector's current state.
    pub fn state(&self) -> Option<ConnectorState> {
        self.health.state(&self.name).map(|(s, _)| s)
    }

    /// `dependency` cannot be reached (the first call starts the clock readiness checks).
    pub fn unreachable(&self, dependency: Dependency, cause: &str) {
        if let Ok(mut entries) = self.health.entries.lock() {
            if let Some(entry) = entries.get_mut(&self.name) {
                entry
                    .unreachable
                    .entry(dependency)
                    .and_modify(|(_, c)| *c = cause.to_string())
                    .or_insert((Instant::now(), cause.to_string()));
            }
        }
    }

    /// `dependency` answers again.
    pub fn reachable(&self, dependency: Dependency) {
        if let Ok(mut entries) = self.health.entries.lock() {
            if let Some(entry) = entries.get_mut(&self.name) {
                entry.unreachable.remove(&dependency);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_fails_on_a_failed_connector_and_liveness_only_when_all_failed() {
        let health = Health::default();
        let a = health.connector("a");
        let b = health.connector("b");
        assert!(!health.readiness().ok, "starting connectors are not ready");
        a.set(ConnectorState::Running, None);
        b.set(ConnectorState::Running, None);
        assert!(health.readiness().ok);
        b.set(
            ConnectorState::Failed,
            Some("password authentication failed".into()),
        );
        let ready = health.readiness();
        assert!(!ready.ok);
        assert_eq!(ready.body["connectors"]["b"]["state"], "FAILED");
        assert_eq!(
            ready.body["connectors"]["b"]["cause"],
            "password authentication failed"
        );
        assert!(health.liveness().ok, "one connector still makes progress");
        a.set(ConnectorState::Failed, Some("x".into()));
        assert!(!health.liveness().ok);
    }

    #[test]
    fn an_unreachable_dependency_fails_readiness_after_the_timeout() {
        let health = Health::new(Duration::from_secs(5));
        let a = health.connector("a");
        a.set(ConnectorState::Running, None);
        a.unreachable(Dependency::Broker, "all brokers down");
        let now = Instant::now();
        assert!(health.readiness_at(now).ok, "within the timeout");
        let later = health.readiness_at(now + Duration::from_secs(6));
        assert!(!later.ok);
        assert_eq!(
            later.body["connectors"]["a"]["unreachable"]["broker"]["cause"],
            "all brokers down"
        );
        a.reachable(Dependency::Broker);
        assert!(health.readiness_at(now + Duration::from_secs(6)).ok);
    }

    /// A connector with tasks is one entry of `/health`, in its worst task's state, with every
    /// task under `tasks`; readiness and liveness judge the tasks.
    #[test]
    fn a_connectors_tasks_show_under_it_in_the_worst_tasks_state() {
        let health = Health::new(Duration::from_secs(5));
        let t0 = health.task("orders", 0);
        let t1 = health.task("orders", 1);
        let other = health.connector("other");
        other.set(ConnectorState::Running, None);
        t0.set(ConnectorState::Running, None);
        let body = health.readiness().body;
        assert_eq!(
            body["connectors"]["orders"]["state"], "UNASSIGNED",
            "{body}"
        );
        assert_eq!(
            body["connectors"]["orders"]["tasks"]["0"]["state"],
            "RUNNING"
        );
        assert_eq!(
            body["connectors"]["orders"]["tasks"]["1"]["state"],
            "UNASSIGNED"
        );
        assert!(body["connectors"].get("orders-0").is_none(), "{body}");
        assert!(body["connectors"]["other"].get("tasks").is_none(), "{body}");
        t1.set(ConnectorState::Running, None);
        assert!(health.readiness().ok);
        let now = Instant::now();
        t1.unreachable(Dependency::Target, "connection refused");
        t1.set(ConnectorState::Retrying, Some("connection refused".into()));
        let later = health.readiness_at(now + Duration::from_secs(6));
        assert!(!later.ok, "a task cut off from its target too long");
        let orders = &later.body["connectors"]["orders"];
        assert_eq!(orders["state"], "RETRYING");
        assert_eq!(orders["cause"], "connection refused");
        assert_eq!(
            orders["unreachable"]["target"]["cause"],
            "connection refused"
        );
        assert_eq!(orders["tasks"]["0"]["unreachable"], json!({}));
        t0.set(ConnectorState::Failed, Some("bad".into()));
        assert_eq!(
            health.readiness().body["connectors"]["orders"]["state"],
            "FAILED"
        );
        assert!(health.liveness().ok, "one task still makes progress");
        t1.set(ConnectorState::Failed, Some("bad".into()));
        other.set(ConnectorState::Failed, Some("bad".into()));
        assert!(!health.liveness().ok);
        assert_eq!(t1.connector(), "orders");
        assert_eq!(t1.name(), "orders-1");
    }

    #[test]
    fn state_changes_reach_the_observer_and_recovery_leaves_final_states() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let health = Health::default().with_observer(move |c: Change<'_>| {
            log.lock()
                .unwrap()
                .push(format!("{}:{}", c.connector, c.task_state.name()));
        });
        let a = health.connector("a");
        a.set(ConnectorState::Retrying, Some("db down".into()));
        a.recovered();
        a.set(ConnectorState::Failed, Some("bad".into()));
        a.recovered();
        assert_eq!(a.state(), Some(ConnectorState::Failed));
        assert_eq!(
            *seen.lock().unwrap(),
            vec!["a:UNASSIGNED", "a:RETRYING", "a:RUNNING", "a:FAILED"]
        );
    }
}
