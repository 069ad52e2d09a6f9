//! What the worker answers with, in Kafka Connect's REST shapes (Apache Kafka's
//! `org.apache.kafka.connect.runtime.rest.entities`): the REST API serialises these as they are.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A connector's flat config, as stored: placeholders (`${file:...}`) are never resolved here.
pub type Config = BTreeMap<String, String>;

/// What an operator asked a connector to be (Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Running its tasks.
    Started,
    /// Tasks stopped, kept assigned; `resume` starts them again.
    Paused,
    /// Tasks removed; offsets may be altered or reset.
    Stopped,
}

/// A connector or task state as Connect names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not (yet) running on any worker.
    Unassigned,
    /// Running.
    Running,
    /// Paused by an operator.
    Paused,
    /// Stopped by an operator.
    Stopped,
    /// Retrying a transient failure, `trace` says which (sluice's own state; a Connect task
    /// would say RUNNING).
    Retrying,
    /// Failed; `trace` says why.
    Failed,
    /// About to be restarted: only in the answer to a restart (Connect's KIP-745 plan).
    Restarting,
}

impl State {
    /// The name Connect (and `sluice_connector_state`'s `state` label) uses.
    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Retrying => "RETRYING",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
        }
    }
}

/// `{"connector": name, "task": id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskId {
    /// The connector.
    pub connector: String,
    /// The task number, from 0.
    pub task: u32,
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// The connector's name.
    pub name: String,
    /// Its config as stored.
    pub config: Config,
    /// Its tasks.
    pub tasks: Vec<TaskId>,
    /// Always `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The state of a connector or of one task, with the worker that reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateInfo {
    /// The state.
    pub state: State,
    /// The worker running it (`host:port` of its REST listener).
    pub worker_id: String,
    /// Why it failed (FAILED) or what it is retrying (RESTARTING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One task's state in a status answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    /// The task number.
    pub id: u32,
    /// Its state.
    #[serde(flatten)]
    pub info: StateInfo,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    /// The connector's name.
    pub name: String,
    /// The connector's own state.
    pub connector: StateInfo,
    /// Its tasks' states.
    pub tasks: Vec<TaskState>,
    /// Always `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /connectors/{name}/tasks` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task.
    pub id: TaskId,
    /// Its config (the connector's, as every sluice task runs the same config).
    pub config: Config,
}

/// What `POST /connectors/{name}/restart` restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartRequest {
    /// Restart the tasks too (`includeTasks`).
    pub include_tasks: bool,
    /// Only what is FAILED (`onlyFailed`).
    pub only_failed: bool,
}

/// The Kafka partition of a sink connector's offset (`{"kafka_topic":..,"kafka_partition":..}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetPartition {
    /// The topic.
    pub kafka_topic: String,
    /// The partition.
    pub kafka_partition: i32,
}

/// The offset of a sink connector (`{"kafka_offset": n}`): the next record to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetValue {
    /// The next offset to apply.
    pub kafka_offset: i64,
}

/// One partition's offset; `offset: null` in a PATCH resets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// Where.
    pub partition: OffsetPartition,
    /// The offset, or `None` to reset.
    pub offset: Option<OffsetValue>,
}

/// `GET|PATCH /connectors/{name}/offsets`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectorOffsets {
    /// Every partition's offset.
    pub offsets: Vec<PartitionOffset>,
}

/// `GET /connector-plugins` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The Java class name sluice accepts for it.
    #[serde(rename = "class")]
    pub class: String,
    /// `sink`, `transformation`, `predicate`, `converter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sluice's version.
    pub version: String,
}

/// `PUT /connector-plugins/{plugin}/config/validate`: Connect's `ConfigInfos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfos {
    /// The connector class validated.
    pub name: String,
    /// How many problems in all.
    pub error_count: usize,
    /// Config groups (sluice has one: `Common`).
    pub groups: Vec<String>,
    /// One entry per key given, plus one per missing required key.
    pub configs: Vec<ConfigInfo>,
}

/// One key of a validation answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// The key's definition.
    pub definition: ConfigKeyInfo,
    /// The value given and its problems.
    pub value: ConfigValueInfo,
}

/// Connect's `ConfigKeyInfo` (what sluice knows of a key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKeyInfo {
    /// The key.
    pub name: String,
    /// `STRING`, `INT`, `BOOLEAN`, `PASSWORD`, `LIST`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the connector cannot run without it.
    pub required: bool,
    /// The default, if any.
    pub default_value: Option<String>,
    /// `HIGH`, `MEDIUM`, `LOW`.
    pub importance: String,
    /// What it does.
    pub documentation: String,
    /// Its group.
    pub group: String,
    /// `NONE`, `SHORT`, `MEDIUM`, `LONG`.
    pub width: String,
    /// A display name.
    pub display_name: String,
    /// Keys whose meaning depends on it.
    pub dependents: Vec<String>,
    /// Its place in the group.
    pub order: i32,
}

/// Connect's `ConfigValueInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigValueInfo {
    /// The key.
    pub name: String,
    /// The value given (a password key's value is hidden).
    pub value: Option<String>,
    /// Values sluice would accept, where it has a closed list.
    pub recommended_values: Vec<String>,
    /// Every problem with it.
    pub errors: Vec<String>,
    /// Always true.
    pub visible: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_connects() {
        let status = ConnectorStatus {
            name: "s".into(),
            connector: StateInfo {
                state: State::Running,
                worker_id: "127.0.0.1:8083".into(),
                trace: None,
            },
            tasks: vec![TaskState {
                id: 0,
                info: StateInfo {
                    state: State::Failed,
                    worker_id: "127.0.0.1:8083".into(),
                    trace: Some("boom".into()),
                },
            }],
            kind: "sink".into(),
        };
        assert_eq!(
            serde_json::to_value(&status).expect("json"),
            serde_json::json!({"name": "s", "type": "sink",
                "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
                "tasks": [{"id": 0, "state": "FAILED", "worker_id": "127.0.0.1:8083", "trace": "boom"}]})
        );
        let offsets: ConnectorOffsets = serde_json::from_value(serde_json::json!({"offsets": [
            {"partition": {"kafka_topic": "t", "kafka_partition": 2}, "offset": {"kafka_offset": 7}},
            {"partition": {"kafka_topic": "t", "kafka_partition": 3}, "offset": null}]}))
        .expect("offsets");
        assert_eq!(
            offsets.offsets[0].offset,
            Some(OffsetValue { kafka_offset: 7 })
        );
        assert_eq!(offsets.offsets[1].offset, None);
    }
}
