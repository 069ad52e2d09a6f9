//! The operations of the REST API and the CLI: reads answer from this worker's view of the
//! topics; writes go to the config topic (every worker then acts on them) and return once
//! this worker has read them back.

use super::assign;
use super::types::*;
use super::view::{self, Restart};
use super::{Worker, WorkerError};
use crate::checkpoint::now_ms;
use crate::config::ConnectorConfig;
use std::collections::BTreeMap;

/// The sink connector classes sluice runs (Debezium's and Confluent's JDBC sinks).
pub const SINK_CLASSES: &[&str] = &[
    "io.debezium.connector.jdbc.JdbcSinkConnector",
    "io.confluent.connect.jdbc.JdbcSinkConnector",
];

impl Worker {
    /// Every connector's name, sorted.
    pub fn connectors(&self) -> Vec<String> {
        self.view().connectors.into_keys().collect()
    }

    /// A connector's config and tasks.
    pub fn info(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        let view = self.view();
        let connector = view
            .connectors
            .get(name)
            .ok_or_else(|| WorkerError::NotFound(name.into()))?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: connector.config.clone(),
            tasks: (0..assign::task_count(connector))
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: "sink".into(),
        })
    }

    /// A connector's config as stored (placeholders unresolved).
    pub fn config(&self, name: &str) -> Result<Config, WorkerError> {
        self.info(name).map(|i| i.config)
    }

    /// Creates a connector (`POST /connectors`): refused if the name exists or the config
    /// is invalid (every problem listed).
    pub async fn create(&self, name: &str, config: Config) -> Result<ConnectorInfo, WorkerError> {
        self.create_in(name, config, TargetState::Started).await
    }

    /// [`Worker::create`] in a first state (KIP-980's `initial_state`): a PAUSED or STOPPED
    /// connector's target state is written before its config, so no task ever starts.
    pub async fn create_in(
        &self,
        name: &str,
        config: Config,
        target: TargetState,
    ) -> Result<ConnectorInfo, WorkerError> {
        let config = self.checked(name, config)?;
        let _one = self.inner.writes.lock().await;
        if self.view().connectors.contains_key(name) {
            return Err(WorkerError::AlreadyExists(name.into()));
        }
        if target != TargetState::Started {
            let (key, value) = view::target_record(name, target);
            self.write(&key, &value).await?;
        }
        self.write_config(name, &config).await?;
        self.info(name)
    }

    /// Creates or replaces a connector's config (`PUT .../config`); `true` when created.
    pub async fn put_config(
        &self,
        name: &str,
        config: Config,
    ) -> Result<(bool, ConnectorInfo), WorkerError> {
        let config = self.checked(name, config)?;
        let _one = self.inner.writes.lock().await;
        let created = !self.view().connectors.contains_key(name);
        self.write_config(name, &config).await?;
        Ok((created, self.info(name)?))
    }

    /// Changes some keys of a connector's config (`PATCH .../config`; `None` removes a key).
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, WorkerError> {
        let _one = self.inner.writes.lock().await;
        let mut config = self.config(name)?;
        for (key, value) in patch {
            match value {
                Some(v) => config.insert(key, v),
                None => config.remove(&key),
            };
        }
        let config = self.checked(name, config)?;
        self.write_config(name, &config).await?;
        self.info(name)
    }

    /// Deletes a connector: its tasks stop, its config is tombstoned.
    pub async fn delete(&self, name: &str) -> Result<(), WorkerError> {
        let _one = self.inner.writes.lock().await;
        self.info(name)?;
        let configs = &self.inner.configs;
        configs
            .write(&format!("target-state-{name}"), None)
            .await
            .and(configs.write(&format!("connector-{name}"), None).await)
            .map_err(WorkerError::Internal)
    }

    /// Pauses, resumes or stops a connector.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        let _one = self.inner.writes.lock().await;
        self.info(name)?;
        let (key, value) = view::target_record(name, target);
        self.write(&key, &value).await
    }

    /// Restarts a connector (and its tasks, or only the failed ones). The answer is Connect's
    /// restart plan: the status before, what is being restarted marked RESTARTING.
    pub async fn restart(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus, WorkerError> {
        let mut plan = self.status(name)?;
        let restart = Restart {
            at_ms: now_ms(),
            include_tasks: request.include_tasks,
            only_failed: request.only_failed,
        };
        let (key, value) = view::restart_record(name, restart);
        self.write(&key, &value).await?;
        let restarting = |info: &mut StateInfo| {
            if !request.only_failed || info.state == State::Failed {
                info.state = State::Restarting;
            }
        };
        restarting(&mut plan.connector);
        if request.include_tasks {
            plan.tasks.iter_mut().for_each(|t| restarting(&mut t.info));
        }
        Ok(plan)
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        self.task_of(name, task)?;
        let (key, value) = view::task_restart_record(name, task, now_ms());
        self.write(&key, &value).await
    }

    /// A connector's and its tasks' states. A state reported by a worker that has left is
    /// UNASSIGNED until the task's new worker reports.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus, WorkerError> {
        let info = self.info(name)?;
        let view = self.view();
        let assignment = self.assignment();
        let session = self.inner.settings.session_timeout.as_millis() as i64;
        let live = view.live_members(now_ms(), session);
        let state_of = |slot: (String, Option<u32>), owner: Option<&String>| match view
            .statuses
            .get(&slot)
        {
            Some(r) if live.contains(&r.info.worker_id) || r.info.worker_id == self.inner.id => {
                r.info.clone()
            }
            _ => StateInfo {
                state: State::Unassigned,
                worker_id: owner.cloned().unwrap_or_default(),
                trace: None,
            },
        };
        Ok(ConnectorStatus {
            name: name.to_string(),
            connector: state_of((name.to_string(), None), assignment.connectors.get(name)),
            tasks: info
                .tasks
                .iter()
                .map(|t| TaskState {
                    id: t.task,
                    info: state_of(
                        (name.to_string(), Some(t.task)),
                        assignment.tasks.get(&(name.to_string(), t.task)),
                    ),
                })
                .collect(),
            kind: "sink".into(),
        })
    }

    /// One task's state.
    pub fn task_status(&self, name: &str, task: u32) -> Result<TaskState, WorkerError> {
        self.status(name)?
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .ok_or_else(|| WorkerError::TaskNotFound(format!("{name}-{task}")))
    }

    /// A connector's tasks with their configs.
    pub fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>, WorkerError> {
        let info = self.info(name)?;
        Ok(info
            .tasks
            .into_iter()
            .map(|id| TaskInfo {
                id,
                config: info.config.clone(),
            })
            .collect())
    }

    /// The topics a connector reads (its `topics` list; a `topics.regex` connector names the
    /// pattern's matches only once it has been assigned them, which this answer leaves out).
    pub fn topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        Ok(crate::config::list(&self.config(name)?, "topics"))
    }

    fn task_of(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        let info = self.info(name)?;
        if info.tasks.iter().any(|t| t.task == task) {
            Ok(())
        } else {
            Err(WorkerError::TaskNotFound(format!("{name}-{task}")))
        }
    }

    /// The config with its name checked, loaded as `sluice run` would load it: every
    /// problem at once.
    fn checked(&self, name: &str, mut config: Config) -> Result<Config, WorkerError> {
        if name.trim().is_empty() || name.contains('/') {
            return Err(WorkerError::BadRequest(format!(
                "connector name '{name}' is not valid (empty, or contains '/')"
            )));
        }
        match config.get("name") {
            Some(n) if n != name => {
                return Err(WorkerError::BadRequest(format!(
                    "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
                )))
            }
            _ => {
                config.insert("name".into(), name.to_string());
            }
        }
        let problems = self.problems(&config);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(WorkerError::BadRequest(format!(
                "Connector configuration is invalid and contains the following {} error(s):\n{}\n\
                 You can also find the above list of errors at the endpoint \
                 `/connector-plugins/{{connectorType}}/config/validate`",
                problems.len(),
                problems.join("\n")
            )))
        }
    }

    /// Every problem of a config, as `validate` finds them (without connecting anywhere).
    pub(super) fn problems(&self, config: &Config) -> Vec<String> {
        let mut problems = Vec::new();
        match config.get("connector.class") {
            None => problems.push("connector.class: Missing required configuration".to_string()),
            Some(class)
                if !SINK_CLASSES
                    .iter()
                    .any(|c| c == class || c.ends_with(&format!(".{class}"))) =>
            {
                problems.push(format!(
                    "connector.class: {class} is not a sink sluice runs (one of {})",
                    SINK_CLASSES.join(", ")
                ))
            }
            Some(_) => {}
        }
        if let Some(t) = config.get("tasks.max") {
            if !t.trim().parse::<u32>().is_ok_and(|n| n >= 1) {
                problems.push(format!("tasks.max: '{t}' is not a number of at least 1"));
            }
        }
        let name = config.get("name").cloned().unwrap_or_default();
        let doc = serde_json::json!({"name": name, "config": config}).to_string();
        if let Err(e) = ConnectorConfig::from_json_with(
            &doc,
            "the request",
            &|k| std::env::var(k).ok(),
            &self.inner.config,
        ) {
            problems.extend(e.problems);
        }
        problems
    }

    async fn write_config(&self, name: &str, config: &Config) -> Result<(), WorkerError> {
        let (key, value) = view::config_record(name, config);
        self.write(&key, &value).await
    }

    /// Every change of a connector goes through here: refused while the group rebalances.
    async fn write(&self, key: &str, value: &[u8]) -> Result<(), WorkerError> {
        self.settled()?;
        self.inner
            .configs
            .write(key, Some(value))
            .await
            .map_err(WorkerError::Internal)
    }
}
