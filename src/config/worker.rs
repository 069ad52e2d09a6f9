//! Worker settings: the Kafka cluster and the process's listeners.
//!
//! Sources, highest precedence first: command-line flags, `SLUICE_*` environment variables, a
//! Kafka Connect worker properties file, defaults. Client keys (`security.protocol`, `sasl.*`,
//! `ssl.*`, and `consumer.*` / `producer.*` overrides) are handed to librdkafka, translating the
//! Java client's `sasl.jaas.config` into librdkafka's `sasl.username` / `sasl.password`.

use super::providers::{expand, read_properties};
use super::secret::{is_secret_key, Secret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

/// Default broker list when nothing is configured.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Validated worker settings.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// Client settings shared by consumer and producer (security, SASL, SSL), librdkafka names.
    pub client: BTreeMap<String, ClientValue>,
    /// `consumer.*` overrides, prefix removed.
    pub consumer: BTreeMap<String, ClientValue>,
    /// `producer.*` overrides, prefix removed.
    pub producer: BTreeMap<String, ClientValue>,
    /// Address of the `/metrics` and `/health` listener (`sluice.metrics.address`); none = off.
    pub metrics_address: Option<SocketAddr>,
    /// `key.converter` / `value.converter` and their `.`-sub-keys: defaults for every connector
    /// that does not set its own converter (as a Kafka Connect worker applies them).
    pub converters: BTreeMap<String, ClientValue>,
}

/// A client setting value; secret ones never print.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientValue {
    /// An ordinary value.
    Plain(String),
    /// A secret (password, JAAS config, key material).
    Secret(Secret),
}

impl ClientValue {
    fn new(key: &str, value: String) -> Self {
        if is_secret_key(key) {
            ClientValue::Secret(Secret::new(value))
        } else {
            ClientValue::Plain(value)
        }
    }

    /// The value to hand to librdkafka.
    pub fn expose(&self) -> &str {
        match self {
            ClientValue::Plain(v) => v,
            ClientValue::Secret(s) => s.expose(),
        }
    }
}

/// Worker keys that are Kafka Connect's and mean nothing to sluice; accepted silently so a
/// worker file can be shared with a Connect worker.
const CONNECT_ONLY: &[&str] = &[
    "group.id",
    "offset.storage.file.filename",
    "offset.flush.interval.ms",
    "plugin.path",
    "config.storage.topic",
    "offset.storage.topic",
    "status.storage.topic",
    "listeners",
    "rest.port",
    "rest.advertised.host.name",
];

impl WorkerConfig {
    /// Builds the worker settings from flags (already parsed), the environment and a file.
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
                merged.insert(key, value.clone());
            }
        }
        merged.extend(flags.clone());
        let mut worker = WorkerConfig {
            bootstrap_servers: DEFAULT_BOOTSTRAP.into(),
            ..Default::default()
        };
        for (key, raw) in merged {
            let value = match expand(&raw, env) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{key}: {e}"));
                    continue;
                }
            };
            worker.apply(&key, value, &mut problems);
        }
        if problems.is_empty() {
            Ok(worker)
        } else {
            Err(problems)
        }
    }

    fn apply(&mut self, key: &str, value: String, problems: &mut Vec<String>) {
        if key == "bootstrap.servers" {
            self.bootstrap_servers = value;
        } else if key == "sluice.metrics.address" {
            match value.parse() {
                Ok(addr) => self.metrics_address = Some(addr),
                Err(_) if value.is_empty() || value == "off" => self.metrics_address = None,
                Err(_) => problems.push(format!("{key}: '{value}' is not host:port")),
            }
        } else if let Some(rest) = key.strip_prefix("consumer.") {
            insert_client(&mut self.consumer, rest, value, problems);
        } else if let Some(rest) = key.strip_prefix("producer.") {
            insert_client(&mut self.producer, rest, value, problems);
        } else if is_client_key(key) {
            insert_client(&mut self.client, key, value, problems);
        } else if converter_side(key).is_some() {
            self.converters
                .insert(key.to_string(), ClientValue::new(key, value));
        } else if !CONNECT_ONLY.contains(&key) {
            problems.push(format!("{key}: unknown worker key"));
        }
    }
}

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

/// Puts a client setting in librdkafka's terms, or records why it cannot be.
fn insert_client(
    map: &mut BTreeMap<String, ClientValue>,
    key: &str,
    value: String,
    problems: &mut Vec<String>,
) {
    if key == "sasl.jaas.config" {
        match jaas_credentials(&value) {
            Some((user, password)) => {
                map.insert("sasl.username".into(), ClientValue::Plain(user));
                map.insert("sasl.password".into(), ClientValue::Secret(Secret::new(password)));
            }
            None => problems.push(format!("{key}: only PlainLoginModule/ScramLoginModule with username and password is supported")),
        }
    } else if key.ends_with(".truststore.location") || key.ends_with(".keystore.location") {
        problems.push(format!("{key}: Java keystores are not read; use ssl.ca.location / ssl.certificate.location (PEM)"));
    } else {
        map.insert(key.into(), ClientValue::new(key, value));
    }
}

/// Takes `username="..." password="..."` out of a JAAS login module line.
fn jaas_credentials(jaas: &str) -> Option<(String, String)> {
    let field = |name: &str| {
        let start = jaas.find(&format!("{name}=\""))? + name.len() + 2;
        let end = jaas[start..].find('"')? + start;
        Some(jaas[start..end].to_string())
    };
    Some((field("username")?, field("password")?))
}

/// `SLUICE_BOOTSTRAP_SERVERS` -> `bootstrap.servers`; other `SLUICE_*` names map the same way.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("SLUICE_")?;
    match rest {
        "BOOTSTRAP_SERVERS" => Some("bootstrap.servers".into()),
        "METRICS_ADDRESS" => Some("sluice.metrics.address".into()),
        "SECURITY_PROTOCOL" => Some("security.protocol".into()),
        "SASL_MECHANISM" => Some("sasl.mechanism".into()),
        "SASL_USERNAME" => Some("sasl.username".into()),
        "SASL_PASSWORD" => Some("sasl.password".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=file:1\nsluice.metrics.address=127.0.0.1:1\nplugin.path=/x\n",
        )
        .unwrap();
        let env = vec![("SLUICE_BOOTSTRAP_SERVERS".to_string(), "env:2".to_string())];
        let w = WorkerConfig::load(Some(&file), &BTreeMap::new(), &no_env, &env).unwrap();
        assert_eq!(w.bootstrap_servers, "env:2");
        assert_eq!(w.metrics_address, Some("127.0.0.1:1".parse().unwrap()));
        let flags = BTreeMap::from([("bootstrap.servers".to_string(), "flag:3".to_string())]);
        let w = WorkerConfig::load(Some(&file), &flags, &no_env, &env).unwrap();
        assert_eq!(w.bootstrap_servers, "flag:3");
        let w = WorkerConfig::load(None, &BTreeMap::new(), &no_env, &[]).unwrap();
        assert_eq!(w.bootstrap_servers, DEFAULT_BOOTSTRAP);
    }

    #[test]
    fn client_keys_and_jaas_translation() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.properties");
        std::fs::write(
            &file,
            "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n\
             sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"bob\" password=\"pw\";\n\
             consumer.fetch.max.bytes=1000\nbogus.key=1\nssl.truststore.location=/x.jks\n",
        )
        .unwrap();
        let problems = WorkerConfig::load(Some(&file), &BTreeMap::new(), &no_env, &[]).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("bogus.key")));
        std::fs::write(&file, "sasl.jaas.config=x required username=\"bob\" password=\"pw\";\nconsumer.fetch.max.bytes=1000\n").unwrap();
        let w = WorkerConfig::load(Some(&file), &BTreeMap::new(), &no_env, &[]).unwrap();
        assert_eq!(w.client["sasl.username"].expose(), "bob");
        assert!(!format!("{w:?}").contains("pw"));
        assert_eq!(w.consumer["fetch.max.bytes"].expose(), "1000");
    }
}
