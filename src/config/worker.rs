//! Worker settings: the Kafka cluster, its clients and the process's listeners.
//!
//! Sources, highest precedence first: command-line flags, `SLUICE_*` environment variables, a
//! Kafka Connect worker properties file (Kafka's stock `connect-distributed.properties` and
//! `connect-standalone.properties` load as they are), defaults. Client keys (top-level
//! `security.protocol`, `sasl.*`, `ssl.*`, `client.id`, and `consumer.*` / `producer.*` /
//! `admin.*`) become librdkafka settings through [`WorkerConfig::client_config`] (see
//! [`super::client`] for how Java keys translate). Keys that only configure a Java worker
//! (plugins, internal topics, the REST listener, metrics reporters...) are accepted and listed
//! in [`WorkerConfig::no_effect_keys`]. `config.providers` declares the config providers whose
//! placeholders expand here and in connector configs.

use super::client::{translate, ClientRole, Layer};
use super::overrides::OverridePolicy;
use super::properties::read_properties;
use super::providers::Providers;
use super::secret::Secret;
use super::ConnectorConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use super::client::ClientValue;

/// Default broker list when nothing is configured.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";
/// Default of `sluice.health.unreachable.timeout.ms`.
pub const DEFAULT_UNREACHABLE_TIMEOUT: Duration = Duration::from_millis(60_000);
/// Default of `sluice.shutdown.timeout.ms`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(10_000);

/// Validated worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// Top-level client settings of every client (`security.protocol`, `sasl.*`, `ssl.*`,
    /// `client.id`), as given: Java or librdkafka names.
    pub client: BTreeMap<String, ClientValue>,
    /// `consumer.*` settings, prefix removed, as given.
    pub consumer: BTreeMap<String, ClientValue>,
    /// `producer.*` settings, prefix removed, as given.
    pub producer: BTreeMap<String, ClientValue>,
    /// `admin.*` settings, prefix removed, as given.
    pub admin: BTreeMap<String, ClientValue>,
    /// Address of the `/metrics` and `/health` listener (`sluice.metrics.address`); none = off.
    pub metrics_address: Option<SocketAddr>,
    /// `key.converter` / `value.converter` and their `.`-sub-keys: defaults for every connector
    /// that does not set its own converter (as a Kafka Connect worker applies them).
    pub converters: BTreeMap<String, ClientValue>,
    /// `config.providers`: the config providers of this worker and its connectors.
    pub providers: Providers,
    /// `connector.client.config.override.policy` (default `All`, as in Connect 3.0+).
    pub override_policy: OverridePolicy,
    /// `consumer.max.poll.records`: every connector's batch is at most this many records
    /// (a connector's `consumer.override.max.poll.records` replaces it).
    pub max_poll_records: Option<usize>,
    /// `sluice.health.unreachable.timeout.ms` (default 60000, env
    /// `SLUICE_HEALTH_UNREACHABLE_TIMEOUT_MS`): how long a connector may be cut off from its
    /// broker or its target before readiness (`/ready`) fails.
    pub unreachable_timeout: Duration,
    /// `sluice.shutdown.timeout.ms` (default 10000, env `SLUICE_SHUTDOWN_TIMEOUT_MS`): after
    /// SIGTERM/SIGINT, how long committing the in-flight batch may take before the process
    /// gives it up (uncommitted, so a restart applies it again exactly once).
    pub shutdown_timeout: Duration,
    /// Keys given that have no effect in sluice (reported by `validate`).
    pub no_effect_keys: Vec<String>,
    /// The values of the Java-worker keys (`group.id`, `config.storage.topic`, `listeners`,
    /// ...): no effect for `sluice run`, the distributed settings of `sluice worker`.
    pub distributed: BTreeMap<String, String>,
    /// `sluice.rest.basic.auth.file`: `sluice worker`'s REST users, a properties file of
    /// `user=password` lines (the format of Connect's `PropertyFileLoginModule`).
    pub rest_basic_auth_file: Option<std::path::PathBuf>,
    /// `sluice.rest.bearer.token`: a token `sluice worker`'s REST API accepts
    /// (`Authorization: Bearer ...`), usually from a config provider.
    pub rest_bearer_token: Option<Secret>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            bootstrap_servers: DEFAULT_BOOTSTRAP.into(),
            client: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            admin: BTreeMap::new(),
            metrics_address: None,
            converters: BTreeMap::new(),
            providers: Providers::default(),
            override_policy: OverridePolicy::default(),
            max_poll_records: None,
            unreachable_timeout: DEFAULT_UNREACHABLE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            no_effect_keys: Vec::new(),
            distributed: BTreeMap::new(),
            rest_basic_auth_file: None,
            rest_bearer_token: None,
        }
    }
}

impl WorkerConfig {
    /// Builds the worker settings from flags (already parsed), the environment and a file.
    /// Every problem is returned at once, each naming its key.
    pub fn load(
        file: Option<&Path>,
        flags: &BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
        env_vars: &[(String, String)],
    ) -> Result<Self, Vec<String>> {
        let mut merged = BTreeMap::new();
        let mut problems = Vec::new();
        if let Some(path) = file {
            match read_properties(path) {
                Ok(props) => merged.extend(props),
                Err(e) => problems.push(e),
            }
        }
        for (name, value) in env_vars {
            if let Some(key) = env_key(name) {
                merged.insert(key.to_string(), value.clone());
            }
        }
        merged.extend(flags.clone());
        let mut worker = WorkerConfig {
            providers: Providers::declare(&merged, &mut problems),
            ..Default::default()
        };
        for (key, raw) in merged {
            // Connect does not expand the providers' own settings.
            if key == "config.providers" || key.starts_with("config.providers.") {
                continue;
            }
            match worker.providers.expand(&raw, env) {
                Ok(expanded) => {
                    let value = expanded.value.trim().to_string();
                    let before = problems.len();
                    worker.apply(&key, value.clone(), expanded.from_provider, &mut problems);
                    if expanded.from_provider {
                        let mut provided = super::providers::Provided::default();
                        provided.insert(&key, &value, &raw);
                        provided.hide(&mut problems[before..]);
                    }
                }
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        worker.check_clients(&mut problems);
        if problems.is_empty() {
            Ok(worker)
        } else {
            Err(problems)
        }
    }

    fn apply(&mut self, key: &str, value: String, secret: bool, problems: &mut Vec<String>) {
        let client_value = |key: &str, value: String| {
            if secret {
                ClientValue::Secret(Secret::new(value))
            } else {
                ClientValue::new(key, value)
            }
        };
        let millis = |value: &str, problems: &mut Vec<String>| match value.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => {
                problems.push(format!(
                    "{key}: '{value}' is not valid (expected milliseconds above 0)"
                ));
                None
            }
        };
        match key {
            "bootstrap.servers" => self.bootstrap_servers = value,
            "sluice.metrics.address" => match value.parse() {
                Ok(addr) => self.metrics_address = Some(addr),
                Err(_) if value.is_empty() || value == "off" => self.metrics_address = None,
                Err(_) => problems.push(format!("{key}: '{value}' is not host:port")),
            },
            "sluice.health.unreachable.timeout.ms" => {
                if let Some(d) = millis(&value, problems) {
                    self.unreachable_timeout = d;
                }
            }
            "sluice.shutdown.timeout.ms" => {
                if let Some(d) = millis(&value, problems) {
                    self.shutdown_timeout = d;
                }
            }
            "sluice.rest.basic.auth.file" => {
                self.rest_basic_auth_file = (!value.is_empty()).then(|| value.into())
            }
            "sluice.rest.bearer.token" => {
                self.rest_bearer_token = (!value.is_empty()).then(|| Secret::new(value))
            }
            "connector.client.config.override.policy" => match OverridePolicy::parse(&value) {
                Some(policy) => self.override_policy = policy,
                None => problems.push(format!(
                    "{key}: '{value}' is not valid (expected None, Principal or All)"
                )),
            },
            _ if super::worker_keys::java_worker_only(key) => {
                self.no_effect_keys.push(key.to_string());
                self.distributed.insert(key.to_string(), value);
            }
            _ if converter_side(key).is_some() => {
                self.converters
                    .insert(key.to_string(), client_value(key, value));
            }
            _ => {
                let role = [
                    ClientRole::Consumer,
                    ClientRole::Producer,
                    ClientRole::Admin,
                ]
                .into_iter()
                .find_map(|role| Some(role).zip(key.strip_prefix(role.worker_prefix())));
                match role {
                    Some((role, rest)) => {
                        let value = client_value(rest, value);
                        self.role_mut(role).insert(rest.to_string(), value);
                    }
                    None if is_client_key(key) => {
                        self.client
                            .insert(key.to_string(), client_value(key, value));
                    }
                    None => problems.push(format!("{key}: unknown worker key")),
                }
            }
        }
    }

    /// Translates each client's settings once, for their problems, the keys without effect
    /// and `max.poll.records`.
    fn check_clients(&mut self, problems: &mut Vec<String>) {
        let mut seen = BTreeSet::new();
        let mut no_effect = BTreeSet::new();
        for role in [
            ClientRole::Consumer,
            ClientRole::Producer,
            ClientRole::Admin,
        ] {
            let translated = translate(role, &self.layers(role));
            for (_, problem) in translated.problems {
                if seen.insert(problem.clone()) {
                    problems.push(problem);
                }
            }
            no_effect.extend(translated.no_effect);
            if role == ClientRole::Consumer {
                self.max_poll_records = translated.max_poll_records;
                if translated.group_id.is_some() {
                    problems.push("consumer.group.id: each connector has its own group (connect-<name>); set another one in the connector with consumer.override.group.id".into());
                }
            }
        }
        self.no_effect_keys.extend(no_effect);
    }

    fn role_mut(&mut self, role: ClientRole) -> &mut BTreeMap<String, ClientValue> {
        match role {
            ClientRole::Consumer => &mut self.consumer,
            ClientRole::Producer => &mut self.producer,
            ClientRole::Admin => &mut self.admin,
        }
    }

    /// The worker's settings of one client: the top-level ones, then the client's own.
    pub(crate) fn layers(&self, role: ClientRole) -> Vec<Layer<'_>> {
        let own = match role {
            ClientRole::Consumer => &self.consumer,
            ClientRole::Producer => &self.producer,
            ClientRole::Admin => &self.admin,
        };
        vec![
            Layer {
                prefix: "",
                settings: &self.client,
            },
            Layer {
                prefix: role.worker_prefix(),
                settings: own,
            },
        ]
    }

    /// The librdkafka configuration of a client of this worker: `bootstrap.servers`, then the
    /// security and other settings of every client, then the role's own (`consumer.*`...), all
    /// in librdkafka's terms. Callers add their defaults where the worker set nothing
    /// (`ClientConfig::get`) and the settings they own.
    pub fn client_config(&self, role: ClientRole) -> ClientConfig {
        self.build(role, &self.layers(role))
    }

    /// [`WorkerConfig::client_config`] with a connector's overrides on top
    /// (`consumer.override.*`, ...), as Connect applies them.
    pub fn client_config_for(&self, role: ClientRole, connector: &ConnectorConfig) -> ClientConfig {
        let mut layers = self.layers(role);
        layers.push(Layer {
            prefix: role.override_prefix(),
            settings: connector.clients.of(role),
        });
        self.build(role, &layers)
    }

    fn build(&self, role: ClientRole, layers: &[Layer<'_>]) -> ClientConfig {
        let translated = translate(role, layers);
        // Reported when the worker and the connector were loaded; only a config built by
        // hand (tests) can get here with problems.
        for (key, problem) in &translated.problems {
            tracing::warn!(key = %key, problem = %problem, "client setting left out");
        }
        let mut config = ClientConfig::new();
        config.set_log_level(librdkafka_log_level());
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in &translated.settings {
            config.set(key, value.expose());
        }
        config
    }
}

/// The level below which librdkafka drops its own log lines before any callback sees them.
/// The rdkafka crate derives it from the `log` crate's logger, which sluice does not install
/// (logs go through `tracing`), so it would be `Error`: the client's warnings lost, and a
/// `consumer.debug=cgrp` traced nowhere. It follows sluice's filter instead: debug lines when
/// `SLUICE_LOG` lets the source's client log through at debug, warnings and worse otherwise.
pub fn librdkafka_log_level() -> RDKafkaLogLevel {
    if tracing::enabled!(target: CLIENT_LOG_TARGET, tracing::Level::DEBUG) {
        RDKafkaLogLevel::Debug
    } else {
        RDKafkaLogLevel::Warning
    }
}

/// The `tracing` target a Kafka client's own log lines are written under.
pub const CLIENT_LOG_TARGET: &str = "sluice::kafka";

/// The converter side a key configures: `key.converter` or `value.converter` for the key
/// itself or one of its sub-keys (`value.converter.schemas.enable`), `None` for other keys.
pub(super) fn converter_side(key: &str) -> Option<&'static str> {
    ["key.converter", "value.converter"]
        .into_iter()
        .find(|side| {
            key.strip_prefix(side)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
}

fn is_client_key(key: &str) -> bool {
    key == "security.protocol"
        || key.starts_with("sasl.")
        || key.starts_with("ssl.")
        || key == "client.id"
}

/// `SLUICE_BOOTSTRAP_SERVERS` -> `bootstrap.servers`, and the other `SLUICE_*` names.
fn env_key(name: &str) -> Option<&'static str> {
    Some(match name.strip_prefix("SLUICE_")? {
        "BOOTSTRAP_SERVERS" => "bootstrap.servers",
        "METRICS_ADDRESS" => "sluice.metrics.address",
        "SECURITY_PROTOCOL" => "security.protocol",
        "SASL_MECHANISM" => "sasl.mechanism",
        "SASL_USERNAME" => "sasl.username",
        "SASL_PASSWORD" => "sasl.password",
        "HEALTH_UNREACHABLE_TIMEOUT_MS" => "sluice.health.unreachable.timeout.ms",
        "SHUTDOWN_TIMEOUT_MS" => "sluice.shutdown.timeout.ms",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
