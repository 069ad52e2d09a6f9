//! What every worker knows of the cluster, built from the config and status topics' records
//! (Kafka Connect's keys where Connect has one):
//!
//! | topic  | key                              | value                                        |
//! |--------|----------------------------------|----------------------------------------------|
//! | config | `connector-<name>`               | `{"properties": {...}}`; a tombstone deletes |
//! | config | `target-state-<name>`            | `{"state": "STARTED"/"PAUSED"/"STOPPED"}`    |
//! | config | `restart-<name>`                 | `{"at_ms", "include_tasks", "only_failed"}`  |
//! | config | `restart-task-<name>-<id>`       | `{"at_ms"}`                                  |
//! | status | `status-connector-<name>`        | `{"state", "trace", "worker_id", "at_ms"}`   |
//! | status | `status-task-<name>-<id>`        | the same                                     |
//! | status | `worker-<id>`                    | `{"at_ms", "url"}`: a heartbeat; a tombstone leaves |

use super::types::{Config, StateInfo, TargetState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One connector as configured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Connector {
    pub config: Config,
    pub target: TargetState,
    /// The newest restart request: when, and what it covers.
    pub restart: Option<Restart>,
    /// Per task, the newest restart request's time.
    pub task_restarts: BTreeMap<u32, i64>,
}

/// A restart request as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Restart {
    pub at_ms: i64,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// A reported state, with when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Reported {
    #[serde(flatten)]
    pub info: StateInfo,
    pub at_ms: i64,
}

/// A worker's newest heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Heartbeat {
    pub at_ms: i64,
    pub url: String,
}

/// The cluster as read from both topics.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct View {
    pub connectors: BTreeMap<String, Connector>,
    /// Target states recorded before (or without) their connector's config.
    targets: BTreeMap<String, TargetState>,
    /// `(connector, None)` for the connector itself, `(connector, Some(task))` for a task.
    pub statuses: BTreeMap<(String, Option<u32>), Reported>,
    pub members: BTreeMap<String, Heartbeat>,
}

#[derive(Serialize, Deserialize)]
struct Properties {
    properties: Config,
}

#[derive(Serialize, Deserialize)]
struct Target {
    state: TargetState,
}

#[derive(Serialize, Deserialize)]
struct TaskRestart {
    at_ms: i64,
}

/// A config-topic record for a connector's config.
pub(super) fn config_record(name: &str, config: &Config) -> (String, Vec<u8>) {
    let value = serde_json::to_vec(&Properties {
        properties: config.clone(),
    })
    .unwrap_or_default();
    (format!("connector-{name}"), value)
}

/// A config-topic record for a connector's target state.
pub(super) fn target_record(name: &str, state: TargetState) -> (String, Vec<u8>) {
    let value = serde_json::to_vec(&Target { state }).unwrap_or_default();
    (format!("target-state-{name}"), value)
}

/// A config-topic record asking for a connector's restart.
pub(super) fn restart_record(name: &str, restart: Restart) -> (String, Vec<u8>) {
    (
        format!("restart-{name}"),
        serde_json::to_vec(&restart).unwrap_or_default(),
    )
}

/// A config-topic record asking for a task's restart.
pub(super) fn task_restart_record(name: &str, task: u32, at_ms: i64) -> (String, Vec<u8>) {
    (
        format!("restart-task-{name}-{task}"),
        serde_json::to_vec(&TaskRestart { at_ms }).unwrap_or_default(),
    )
}

/// A status-topic record for a connector (`task: None`) or a task.
pub(super) fn status_record(
    name: &str,
    task: Option<u32>,
    reported: &Reported,
) -> (String, Vec<u8>) {
    let key = match task {
        None => format!("status-connector-{name}"),
        Some(t) => format!("status-task-{name}-{t}"),
    };
    (key, serde_json::to_vec(reported).unwrap_or_default())
}

/// A status-topic heartbeat of worker `id`.
pub(super) fn heartbeat_record(id: &str, beat: &Heartbeat) -> (String, Vec<u8>) {
    (
        format!("worker-{id}"),
        serde_json::to_vec(beat).unwrap_or_default(),
    )
}

/// The key of worker `id`'s heartbeats (its tombstone says it left).
pub(super) fn heartbeat_key(id: &str) -> String {
    format!("worker-{id}")
}

/// Splits `<name>-<id>` into the name and the task number.
fn name_and_task(rest: &str) -> Option<(&str, u32)> {
    let (name, task) = rest.rsplit_once('-')?;
    Some((name, task.parse().ok()?))
}

impl View {
    /// Applies a config-topic record. Records it cannot read are logged and skipped (another
    /// tool may write the topic too).
    pub(super) fn apply_config(&mut self, key: &str, value: Option<&[u8]>) {
        let parsed = if let Some(name) = key.strip_prefix("connector-") {
            match value {
                None => {
                    self.connectors.remove(name);
                    self.targets.remove(name);
                    Ok(())
                }
                Some(v) => serde_json::from_slice::<Properties>(v).map(|p| {
                    let target = self
                        .targets
                        .get(name)
                        .copied()
                        .unwrap_or(TargetState::Started);
                    let entry = self
                        .connectors
                        .entry(name.to_string())
                        .or_insert(Connector {
                            config: Config::new(),
                            target,
                            restart: None,
                            task_restarts: BTreeMap::new(),
                        });
                    entry.config = p.properties;
                }),
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            match value {
                None => {
                    self.targets.remove(name);
                    Ok(())
                }
                Some(v) => serde_json::from_slice::<Target>(v).map(|t| {
                    self.targets.insert(name.to_string(), t.state);
                    if let Some(c) = self.connectors.get_mut(name) {
                        c.target = t.state;
                    }
                }),
            }
        } else if let Some(rest) = key.strip_prefix("restart-task-") {
            match (name_and_task(rest), value) {
                (Some((name, task)), Some(v)) => {
                    serde_json::from_slice::<TaskRestart>(v).map(|r| {
                        if let Some(c) = self.connectors.get_mut(name) {
                            c.task_restarts.insert(task, r.at_ms);
                        }
                    })
                }
                _ => Ok(()),
            }
        } else if let Some(name) = key.strip_prefix("restart-") {
            match value {
                Some(v) => serde_json::from_slice::<Restart>(v).map(|r| {
                    if let Some(c) = self.connectors.get_mut(name) {
                        c.restart = Some(r);
                    }
                }),
                None => Ok(()),
            }
        } else {
            // Connect's task and commit records, or keys of newer versions: not ours.
            Ok(())
        };
        if let Err(e) = parsed {
            tracing::warn!(key, error = %e, "unreadable config-topic record skipped");
        }
    }

    /// Applies a status-topic record.
    pub(super) fn apply_status(&mut self, key: &str, value: Option<&[u8]>) {
        let target = if let Some(name) = key.strip_prefix("status-connector-") {
            Some((name.to_string(), None))
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            name_and_task(rest).map(|(n, t)| (n.to_string(), Some(t)))
        } else if let Some(id) = key.strip_prefix("worker-") {
            match value.map(serde_json::from_slice::<Heartbeat>) {
                None => {
                    self.members.remove(id);
                }
                Some(Ok(beat)) => {
                    self.members.insert(id.to_string(), beat);
                }
                Some(Err(e)) => tracing::warn!(key, error = %e, "unreadable heartbeat skipped"),
            }
            None
        } else {
            None
        };
        let Some(slot) = target else { return };
        match value.map(serde_json::from_slice::<Reported>) {
            None => {
                self.statuses.remove(&slot);
            }
            Some(Ok(reported)) => {
                self.statuses.insert(slot, reported);
            }
            Some(Err(e)) => tracing::warn!(key, error = %e, "unreadable status record skipped"),
        }
    }

    /// The workers heard from within `session_ms` of `now_ms`, sorted.
    pub(super) fn live_members(&self, now_ms: i64, session_ms: i64) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, beat)| now_ms - beat.at_ms < session_ms)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::types::State;

    #[test]
    fn config_records_build_the_connectors() {
        let mut view = View::default();
        let config = Config::from([("topics".to_string(), "a".to_string())]);
        // A target state read before its config still applies.
        let (k, v) = target_record("orders-sink", TargetState::Paused);
        view.apply_config(&k, Some(&v));
        let (k, v) = config_record("orders-sink", &config);
        view.apply_config(&k, Some(&v));
        let c = &view.connectors["orders-sink"];
        assert_eq!(
            (c.config.clone(), c.target),
            (config.clone(), TargetState::Paused)
        );
        let (k, v) = task_restart_record("orders-sink", 12, 99);
        view.apply_config(&k, Some(&v));
        let restart = Restart {
            at_ms: 100,
            include_tasks: true,
            only_failed: false,
        };
        let (k, v) = restart_record("orders-sink", restart);
        view.apply_config(&k, Some(&v));
        let c = &view.connectors["orders-sink"];
        assert_eq!(c.task_restarts.get(&12), Some(&99));
        assert_eq!(c.restart, Some(restart));
        view.apply_config("connector-orders-sink", None);
        assert!(view.connectors.is_empty());
        // Garbage and foreign records are skipped, not fatal.
        view.apply_config("connector-x", Some(b"not json"));
        view.apply_config("task-x-0", Some(b"{}"));
        assert!(view.connectors.is_empty());
    }

    #[test]
    fn status_records_and_heartbeats() {
        let mut view = View::default();
        let reported = Reported {
            info: StateInfo {
                state: State::Running,
                worker_id: "w1:8083".into(),
                trace: None,
            },
            at_ms: 5,
        };
        let (k, v) = status_record("a-b", Some(3), &reported);
        view.apply_status(&k, Some(&v));
        assert_eq!(
            view.statuses.get(&("a-b".to_string(), Some(3))),
            Some(&reported)
        );
        let (k, v) = heartbeat_record(
            "w1:8083",
            &Heartbeat {
                at_ms: 1000,
                url: "http://w1:8083".into(),
            },
        );
        view.apply_status(&k, Some(&v));
        let (k, v) = heartbeat_record(
            "w2:8083",
            &Heartbeat {
                at_ms: 5000,
                url: "http://w2:8083".into(),
            },
        );
        view.apply_status(&k, Some(&v));
        assert_eq!(
            view.live_members(11_500, 10_000),
            vec!["w2:8083".to_string()]
        );
        view.apply_status(&heartbeat_key("w2:8083"), None);
        assert!(view.live_members(11_500, 10_000).is_empty());
    }
}
