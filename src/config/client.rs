//! Kafka client settings in librdkafka's terms, from a worker file written for Java clients.
//!
//! A setting reaches librdkafka only in a form librdkafka knows (it refuses unknown names):
//! - Java security keys are translated: `sasl.jaas.config` (see [`super::jaas`]),
//!   `ssl.truststore.*` of type PEM -> `ssl.ca.location` / `ssl.ca.pem`, `ssl.keystore.*` of
//!   type PKCS12 -> `ssl.keystore.location` / `.password`, of type PEM ->
//!   `ssl.certificate.*` + `ssl.key.*`, `ssl.endpoint.identification.algorithm` `""` -> `none`.
//!   Without `ssl.*store.type`, the file name decides (`.pem`/`.crt`/`.cer` PEM, `.p12`/`.pfx`
//!   PKCS12, `.jks` JKS); a keystore of another name is PKCS12 (librdkafka's only keystore
//!   format), a truststore of another name JKS (Java's default). JKS, PKCS12 truststores and
//!   Java callback or engine classes are refused, naming the key and the PEM alternative.
//! - Java client keys with a librdkafka counterpart are renamed (`fetch.max.wait.ms`,
//!   `receive.buffer.bytes`, `max.request.size`, ...); `max.poll.records` bounds sluice's batch;
//!   `group.id` of a connector's consumer names its group; keys that only tune a JVM client
//!   (deserializers, interceptors, metrics reporters, ...) or that sluice owns
//!   (`enable.auto.commit`, `partition.assignment.strategy`: the source needs
//!   cooperative-sticky) have no effect and are listed by `validate`.
//! - Everything else goes through as given, after librdkafka itself accepted name and value.
//!
//! Layers apply in order, later ones winning: the worker's top-level keys, its `consumer.` /
//! `producer.` / `admin.` keys, then a connector's `*.override.` keys.

use super::secret::{is_secret_key, Secret};
use std::collections::BTreeMap;

/// Which Kafka client a configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    /// A connector's consumer (and the consumers of `validate`, `offsets`, `dlq list`).
    Consumer,
    /// The dead-letter producer.
    Producer,
    /// The admin client (dead-letter topic creation).
    Admin,
}

impl ClientRole {
    /// The worker-file prefix of this client's settings (`consumer.`).
    pub fn worker_prefix(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer.",
            ClientRole::Producer => "producer.",
            ClientRole::Admin => "admin.",
        }
    }

    /// The connector-config prefix of this client's overrides (`consumer.override.`).
    pub fn override_prefix(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer.override.",
            ClientRole::Producer => "producer.override.",
            ClientRole::Admin => "admin.override.",
        }
    }
}

/// A client setting value; secret ones never print.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientValue {
    /// An ordinary value.
    Plain(String),
    /// A secret (password, JAAS config, key material, anything a config provider supplied).
    Secret(Secret),
}

impl ClientValue {
    /// A value, secret when the key names a secret.
    pub fn new(key: &str, value: String) -> Self {
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

    fn is_secret(&self) -> bool {
        matches!(self, ClientValue::Secret(_))
    }

    /// The same secrecy for a new value (a translated key keeps its source's secrecy).
    fn with(&self, key: &str, value: String) -> Self {
        if self.is_secret() {
            ClientValue::Secret(Secret::new(value))
        } else {
            ClientValue::new(key, value)
        }
    }
}

/// Settings given under one prefix (`""`, `consumer.`, `consumer.override.`), prefix removed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layer<'a> {
    pub prefix: &'a str,
    pub settings: &'a BTreeMap<String, ClientValue>,
}

/// The layers of one client, in librdkafka's terms.
#[derive(Debug, Default)]
pub(crate) struct Translated {
    /// librdkafka settings.
    pub settings: BTreeMap<String, ClientValue>,
    /// `(key as given, problem naming it)`.
    pub problems: Vec<(String, String)>,
    /// Keys (as given) accepted without effect.
    pub no_effect: Vec<String>,
    /// `max.poll.records`.
    pub max_poll_records: Option<usize>,
    /// `group.id` (meaningful for a connector's consumer).
    pub group_id: Option<String>,
}

/// What a Java client key becomes.
enum Java {
    /// Nothing: it tunes a JVM client, or sluice owns it.
    NoEffect,
    /// The same meaning under librdkafka's name.
    Rename(&'static str),
    /// A socket buffer size: Java's -1 (OS default) is librdkafka's 0.
    Buffer(&'static str),
    /// Java code sluice cannot run; the text says what to use instead.
    Refuse(&'static str),
    /// `max.poll.records`.
    BatchBound,
    /// `group.id`.
    GroupId,
    /// `auto.offset.reset`: Java's `none` is librdkafka's `error`.
    OffsetReset,
}

const CLASSES: &str = "Java classes cannot run in sluice";

fn java_key(role: ClientRole, key: &str) -> Option<Java> {
    let common = match key {
        "interceptor.classes"
        | "metric.reporters"
        | "metrics.num.samples"
        | "metrics.sample.window.ms"
        | "metrics.recording.level"
        | "auto.include.jmx.reporter"
        | "default.api.timeout.ms"
        | "socket.connection.setup.timeout.max.ms"
        | "ssl.protocol"
        | "ssl.enabled.protocols"
        | "ssl.provider"
        | "ssl.keymanager.algorithm"
        | "ssl.trustmanager.algorithm"
        | "ssl.secure.random.implementation"
        | "ssl.client.auth"
        | "sasl.login.refresh.window.factor"
        | "sasl.login.refresh.window.jitter"
        | "sasl.login.refresh.min.period.seconds"
        | "sasl.login.refresh.buffer.seconds"
        | "sasl.login.connect.timeout.ms"
        | "sasl.login.read.timeout.ms"
        | "sasl.login.retry.backoff.ms"
        | "sasl.login.retry.backoff.max.ms"
        | "sasl.kerberos.ticket.renew.window.factor"
        | "sasl.kerberos.ticket.renew.jitter"
        | "sasl.oauthbearer.scope.claim.name"
        | "sasl.oauthbearer.sub.claim.name"
        | "sasl.oauthbearer.jwks.endpoint.url"
        | "sasl.oauthbearer.jwks.endpoint.refresh.ms"
        | "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms"
        | "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms"
        | "sasl.oauthbearer.clock.skew.seconds"
        | "sasl.oauthbearer.expected.audience"
        | "sasl.oauthbearer.expected.issuer"
        | "sasl.oauthbearer.header.urlencode" => Some(Java::NoEffect),
        "receive.buffer.bytes" => Some(Java::Buffer("socket.receive.buffer.bytes")),
        "send.buffer.bytes" => Some(Java::Buffer("socket.send.buffer.bytes")),
        "ssl.engine.factory.class" => Some(Java::Refuse("use librdkafka's ssl.* keys (ssl.ca.location, ssl.certificate.location, ssl.key.location: PEM)")),
        "sasl.client.callback.handler.class" | "sasl.login.class" | "security.providers" => {
            Some(Java::Refuse("use sasl.jaas.config with PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule, or librdkafka's sasl.* keys"))
        }
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match (role, key) {
        (ClientRole::Consumer, "max.poll.records") => Some(Java::BatchBound),
        (ClientRole::Consumer, "group.id") => Some(Java::GroupId),
        (ClientRole::Consumer, "auto.offset.reset") => Some(Java::OffsetReset),
        (ClientRole::Consumer, "fetch.max.wait.ms") => Some(Java::Rename("fetch.wait.max.ms")),
        (ClientRole::Consumer | ClientRole::Admin, "request.timeout.ms") => {
            Some(Java::Rename("socket.timeout.ms"))
        }
        (
            ClientRole::Consumer,
            "key.deserializer"
            | "value.deserializer"
            | "exclude.internal.topics"
            | "enable.auto.commit"
            | "auto.commit.interval.ms"
            | "enable.auto.offset.store"
            | "enable.partition.eof"
            | "partition.assignment.strategy"
            | "internal.leave.group.on.close"
            | "internal.throw.on.fetch.stable.offset.unsupported",
        ) => Some(Java::NoEffect),
        (ClientRole::Producer, "max.request.size") => Some(Java::Rename("message.max.bytes")),
        (
            ClientRole::Producer,
            "key.serializer"
            | "value.serializer"
            | "partitioner.class"
            | "partitioner.ignore.keys"
            | "partitioner.adaptive.partitioning.enable"
            | "partitioner.availability.timeout.ms"
            | "max.block.ms"
            | "buffer.memory"
            | "transactional.id"
            | "compression.gzip.level"
            | "compression.lz4.level"
            | "compression.zstd.level"
            | "metadata.max.idle.ms",
        ) => Some(Java::NoEffect),
        _ => None,
    }
}

/// Translates the layers of one client. Deterministic, so the worker's load and every later
/// client built from the same settings agree.
pub(crate) fn translate(role: ClientRole, layers: &[Layer<'_>]) -> Translated {
    let mut given: BTreeMap<String, (String, ClientValue)> = BTreeMap::new();
    for layer in layers {
        for (key, value) in layer.settings {
            given.insert(
                key.clone(),
                (format!("{}{key}", layer.prefix), value.clone()),
            );
        }
    }
    let mut out = Out::default();
    security::translate(&mut given, &mut out);
    for (key, (shown, value)) in given {
        let raw = value.expose().trim().to_string();
        match java_key(role, &key) {
            None => out.set(&key, &shown, value),
            Some(Java::NoEffect) => out.no_effect.push(shown),
            Some(Java::Rename(to)) => out.set(to, &shown, value.with(to, raw)),
            Some(Java::Buffer(to)) => {
                let bytes = if raw == "-1" { "0".to_string() } else { raw };
                out.set(to, &shown, value.with(to, bytes));
            }
            Some(Java::Refuse(instead)) => out
                .problems
                .push((shown.clone(), format!("{shown}: {CLASSES}; {instead}"))),
            Some(Java::BatchBound) => match raw.parse::<usize>() {
                Ok(n) if n > 0 => out.max_poll_records = Some(n),
                _ => out.problems.push((
                    shown.clone(),
                    format!("{shown}: '{raw}' is not valid (expected a positive integer)"),
                )),
            },
            Some(Java::GroupId) => out.group_id = Some(raw),
            Some(Java::OffsetReset) => {
                let reset = if raw == "none" {
                    "error".to_string()
                } else {
                    raw
                };
                out.set(&key, &shown, value.with(&key, reset));
            }
        }
    }
    out.check(role)
}

/// The translation in progress: librdkafka settings with the key each came from.
#[derive(Default)]
pub(super) struct Out {
    settings: BTreeMap<String, (String, ClientValue)>,
    pub(super) problems: Vec<(String, String)>,
    pub(super) no_effect: Vec<String>,
    max_poll_records: Option<usize>,
    group_id: Option<String>,
}

impl Out {
    /// Sets a librdkafka key; `shown` is the key as given (named in problems).
    pub(super) fn set(&mut self, key: &str, shown: &str, value: ClientValue) {
        let value = if is_secret_key(key) {
            ClientValue::Secret(Secret::new(value.expose()))
        } else {
            value
        };
        self.settings
            .insert(key.to_string(), (shown.to_string(), value));
    }

    pub(super) fn problem(&mut self, shown: &str, message: impl std::fmt::Display) {
        self.problems
            .push((shown.to_string(), format!("{shown}: {message}")));
    }

    /// Asks librdkafka about every setting, one at a time, so each refusal names its key.
    fn check(mut self, role: ClientRole) -> Translated {
        let mut settings = BTreeMap::new();
        for (key, (shown, value)) in std::mem::take(&mut self.settings) {
            match librdkafka_accepts(&key, value.expose()) {
                Ok(()) => {
                    settings.insert(key, value);
                }
                Err(Refusal::Unknown) => self.problem(
                    &shown,
                    format!(
                        "not a {} setting librdkafka or the Java client knows",
                        format!("{role:?}").to_lowercase()
                    ),
                ),
                Err(Refusal::Invalid(_)) if value.is_secret() => {
                    self.problem(&shown, "librdkafka refuses the value")
                }
                Err(Refusal::Invalid(why)) => {
                    self.problem(&shown, format!("librdkafka refuses the value: {why}"))
                }
            }
        }
        Translated {
            settings,
            problems: self.problems,
            no_effect: self.no_effect,
            max_poll_records: self.max_poll_records,
            group_id: self.group_id,
        }
    }
}

enum Refusal {
    Unknown,
    Invalid(String),
}

/// Whether librdkafka takes `key = value` (names and enumerated values; files are read only
/// when a client is created).
fn librdkafka_accepts(key: &str, value: &str) -> Result<(), Refusal> {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaConfRes;
    let mut config = rdkafka::ClientConfig::new();
    config.set(key, value);
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)) => {
            Err(Refusal::Unknown)
        }
        Err(KafkaError::ClientConfig(_, why, ..)) => Err(Refusal::Invalid(why)),
        Err(other) => Err(Refusal::Invalid(other.to_string())),
    }
}

mod security;

#[cfg(test)]
mod tests;
