//! The distributed worker's settings, from the Kafka Connect keys of the worker file
//! (`connect-distributed.properties`), with Connect's defaults where Connect has one.

use crate::config::WorkerConfig;
use std::time::Duration;

/// What `sluice worker` reads from the worker file beyond the client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `group.id`: the workers that share connectors.
    pub group_id: String,
    /// `config.storage.topic` (one compacted partition).
    pub config_topic: String,
    /// `config.storage.replication.factor` (-1: the broker's default).
    pub config_replication: i32,
    /// `status.storage.topic` (compacted).
    pub status_topic: String,
    /// `status.storage.replication.factor`.
    pub status_replication: i32,
    /// `status.storage.partitions`.
    pub status_partitions: i32,
    /// `listeners`: where the REST API listens.
    pub listeners: String,
    /// `rest.advertised.host.name` / `rest.advertised.port`: how other workers and clients
    /// reach this one (the worker id); the listener's own when unset.
    pub advertised_host: Option<String>,
    /// See [`Settings::advertised_host`].
    pub advertised_port: Option<u16>,
    /// `heartbeat.interval.ms`: how often this worker says it is alive.
    pub heartbeat: Duration,
    /// `session.timeout.ms`: a worker silent this long has left; its tasks move.
    pub session_timeout: Duration,
}

impl Settings {
    /// Reads the settings; every problem at once, each naming its key.
    pub fn from_worker(worker: &WorkerConfig) -> Result<Settings, Vec<String>> {
        let keys = &worker.distributed;
        let mut problems = Vec::new();
        let text = |key: &str, default: &str| {
            keys.get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let mut number = |key: &str, default: i64, min: i64| -> i64 {
            match keys.get(key).map(|v| v.trim().parse::<i64>()) {
                None => default,
                Some(Ok(n)) if n >= min => n,
                Some(_) => {
                    problems.push(format!("{key}: expected a whole number from {min}"));
                    default
                }
            }
        };
        let replication = |n: i64| i32::try_from(n).unwrap_or(-1);
        let config_replication = replication(number("config.storage.replication.factor", -1, -1));
        let status_replication = replication(number("status.storage.replication.factor", -1, -1));
        let status_partitions = number("status.storage.partitions", 5, 1).min(1000) as i32;
        let heartbeat = Duration::from_millis(number("heartbeat.interval.ms", 3000, 1) as u64);
        let session_timeout = Duration::from_millis(number("session.timeout.ms", 10000, 1) as u64);
        let advertised_port = match keys.get("rest.advertised.port").map(|p| p.trim().parse()) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                problems.push("rest.advertised.port: expected a port number".into());
                None
            }
        };
        if session_timeout <= heartbeat {
            problems.push(format!(
                "session.timeout.ms ({}) must be above heartbeat.interval.ms ({})",
                session_timeout.as_millis(),
                heartbeat.as_millis()
            ));
        }
        let settings = Settings {
            group_id: text("group.id", "connect-cluster"),
            config_topic: text("config.storage.topic", "connect-configs"),
            config_replication,
            status_topic: text("status.storage.topic", "connect-status"),
            status_replication,
            status_partitions,
            listeners: text("listeners", "http://127.0.0.1:8083"),
            advertised_host: keys
                .get("rest.advertised.host.name")
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty()),
            advertised_port,
            heartbeat,
            session_timeout,
        };
        if settings.config_topic == settings.status_topic {
            problems.push(
                "config.storage.topic and status.storage.topic must be different topics".into(),
            );
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(text: &str) -> WorkerConfig {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.properties");
        std::fs::write(&path, text).expect("write");
        WorkerConfig::load(Some(&path), &Default::default(), &|_| None, &[]).expect("worker")
    }

    #[test]
    fn connects_keys_and_defaults() {
        let s = Settings::from_worker(&worker(
            "group.id=sluice\nconfig.storage.topic=c\nconfig.storage.replication.factor=1\n\
             status.storage.topic=s\nstatus.storage.partitions=3\nlisteners=http://0.0.0.0:18083\n\
             rest.advertised.host.name=worker-1\nrest.advertised.port=8083\n",
        ))
        .expect("settings");
        assert_eq!(s.group_id, "sluice");
        assert_eq!((s.config_topic.as_str(), s.config_replication), ("c", 1));
        assert_eq!((s.status_topic.as_str(), s.status_partitions), ("s", 3));
        assert_eq!(s.status_replication, -1);
        assert_eq!(s.listeners, "http://0.0.0.0:18083");
        assert_eq!(s.advertised_host.as_deref(), Some("worker-1"));
        assert_eq!(s.advertised_port, Some(8083));
        let d = Settings::from_worker(&WorkerConfig::default()).expect("defaults");
        assert_eq!(d.group_id, "connect-cluster");
        assert_eq!(d.listeners, "http://127.0.0.1:8083");
        assert_eq!(d.session_timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_problem_names_its_key() {
        let problems = Settings::from_worker(&worker(
            "status.storage.partitions=0\nheartbeat.interval.ms=20000\nrest.advertised.port=x\n\
             config.storage.topic=same\nstatus.storage.topic=same\n",
        ))
        .expect_err("problems");
        let text = problems.join("\n");
        for key in [
            "status.storage.partitions",
            "session.timeout.ms",
            "rest.advertised.port",
            "config.storage.topic",
        ] {
            assert!(text.contains(key), "{key} not named in:\n{text}");
        }
    }
}
