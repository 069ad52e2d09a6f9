//! A connector's own client settings: `consumer.override.*`, `producer.override.*` and
//! `admin.override.*`, as Kafka Connect applies them over the worker's `consumer.*` /
//! `producer.*` / `admin.*` settings, subject to the worker's
//! `connector.client.config.override.policy`.

use super::client::{translate, ClientRole, ClientValue, Layer};
use super::providers::Provided;
use super::worker::WorkerConfig;
use super::ConnectorConfig;
use std::collections::BTreeMap;

/// `connector.client.config.override.policy`: which client settings a connector may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverridePolicy {
    /// No override is allowed.
    None,
    /// Only `sasl.jaas.config`, `sasl.mechanism` and `security.protocol` (the principal), as in
    /// Connect's `PrincipalConnectorClientConfigOverridePolicy`.
    Principal,
    /// Every setting (Connect's default since 3.0).
    #[default]
    All,
}

impl OverridePolicy {
    /// Reads Connect's alias (`None`, `Principal`, `All`) or class name.
    pub fn parse(value: &str) -> Option<Self> {
        let name = value.trim().rsplit('.').next().unwrap_or_default();
        let name = name
            .strip_suffix("ConnectorClientConfigOverridePolicy")
            .unwrap_or(name);
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(OverridePolicy::None),
            "principal" => Some(OverridePolicy::Principal),
            "all" => Some(OverridePolicy::All),
            _ => None,
        }
    }

    /// Whether a connector may override `key` (prefix removed).
    pub fn allows(self, key: &str) -> bool {
        match self {
            OverridePolicy::None => false,
            OverridePolicy::Principal => {
                matches!(
                    key,
                    "sasl.jaas.config" | "sasl.mechanism" | "security.protocol"
                )
            }
            OverridePolicy::All => true,
        }
    }

    /// Connect's name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
            OverridePolicy::All => "All",
        }
    }
}

/// A connector's client overrides, prefix removed, as given (translated when a client is made).
#[derive(Debug, Clone, Default)]
pub struct ConnectorClients {
    /// `consumer.override.*`.
    pub consumer: BTreeMap<String, ClientValue>,
    /// `producer.override.*` (the dead-letter producer).
    pub producer: BTreeMap<String, ClientValue>,
    /// `admin.override.*` (the admin client creating the dead-letter topic).
    pub admin: BTreeMap<String, ClientValue>,
    /// `consumer.override.group.id`: the consumer group (and checkpoint group) instead of
    /// `connect-<name>`.
    pub group_id: Option<String>,
}

impl ConnectorClients {
    /// The overrides of one client.
    pub fn of(&self, role: ClientRole) -> &BTreeMap<String, ClientValue> {
        match role {
            ClientRole::Consumer => &self.consumer,
            ClientRole::Producer => &self.producer,
            ClientRole::Admin => &self.admin,
        }
    }
}

/// Sets a connector's client overrides from its expanded config, and bounds its batch by
/// `max.poll.records` (the override's, or else the worker's), as a Connect sink's `put` gets at
/// most one poll's records.
pub(super) fn apply(
    config: &mut ConnectorConfig,
    map: &BTreeMap<String, String>,
    provided: &Provided,
    worker: &WorkerConfig,
    problems: &mut Vec<String>,
) {
    let (clients, max_poll_records) =
        connector_clients(map, provided, worker, problems, &mut config.no_effect_keys);
    config.batch_size = config
        .batch_size
        .min(max_poll_records.unwrap_or(usize::MAX));
    config.max_poll_records = max_poll_records;
    config.clients = clients;
}

/// Reads the overrides of a connector's expanded config: the policy decides which may be
/// given, then each client's worker settings and overrides are translated together so that a
/// problem of an override is found now, naming its key. Returns the overrides and the
/// consumer's `max.poll.records`.
fn connector_clients(
    map: &BTreeMap<String, String>,
    provided: &Provided,
    worker: &WorkerConfig,
    problems: &mut Vec<String>,
    no_effect: &mut Vec<String>,
) -> (ConnectorClients, Option<usize>) {
    let mut clients = ConnectorClients::default();
    let mut max_poll_records = worker.max_poll_records;
    for role in [
        ClientRole::Consumer,
        ClientRole::Producer,
        ClientRole::Admin,
    ] {
        let prefix = role.override_prefix();
        let mut given = BTreeMap::new();
        for (key, value) in map.range(prefix.to_string()..) {
            let Some(sub) = key.strip_prefix(prefix) else {
                break;
            };
            if !worker.override_policy.allows(sub) {
                problems.push(format!(
                    "{key}: the '{}' policy (the worker's connector.client.config.override.policy) does not allow '{sub}' to be overridden in the connector configuration",
                    worker.override_policy.name()
                ));
                continue;
            }
            let value = if provided.contains(key) {
                ClientValue::Secret(super::Secret::new(value.clone()))
            } else {
                ClientValue::new(sub, value.clone())
            };
            given.insert(sub.to_string(), value);
        }
        if given.is_empty() {
            continue;
        }
        let mut layers = worker.layers(role);
        layers.push(Layer {
            prefix,
            settings: &given,
        });
        let translated = translate(role, &layers);
        problems.extend(
            translated
                .problems
                .into_iter()
                .filter(|(shown, _)| shown.starts_with(prefix))
                .map(|(_, problem)| problem),
        );
        no_effect.extend(
            translated
                .no_effect
                .into_iter()
                .filter(|shown| shown.starts_with(prefix)),
        );
        if role == ClientRole::Consumer {
            max_poll_records = translated.max_poll_records;
            clients.group_id = given
                .get("group.id")
                .map(|v| v.expose().trim().to_string())
                .filter(|g| !g.is_empty());
        }
        match role {
            ClientRole::Consumer => clients.consumer = given,
            ClientRole::Producer => clients.producer = given,
            ClientRole::Admin => clients.admin = given,
        }
    }
    (clients, max_poll_records)
}
