//! Keys of a Kafka Connect worker file that only configure a Java worker: its plugins, its
//! internal topics and their group, its REST server, its own clients and metrics. A worker
//! file shared with Connect (or Kafka's stock `connect-distributed.properties` /
//! `connect-standalone.properties`) loads in sluice; `validate` lists these as having no effect.
//! Taken from Connect's `WorkerConfig`, `DistributedConfig`, `StandaloneConfig` and
//! `RestServerConfig` (Kafka 3.x-4.x), plus keys older stock files still carry.

/// Exact keys.
const KEYS: &[&str] = &[
    // WorkerConfig
    "header.converter",
    "task.shutdown.graceful.timeout.ms",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "plugin.path",
    "plugin.discovery",
    "metrics.sample.window.ms",
    "metrics.num.samples",
    "metrics.recording.level",
    "metric.reporters",
    "auto.include.jmx.reporter",
    "topic.tracking.enable",
    "topic.tracking.allow.reset",
    "topic.creation.enable",
    "client.dns.lookup",
    // DistributedConfig: the worker group and its own clients
    "group.id",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "rebalance.timeout.ms",
    "metadata.recovery.strategy",
    "metadata.recovery.rebootstrap.trigger.ms",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "connect.protocol",
    "scheduled.rebalance.max.delay.ms",
    "inter.worker.key.generation.algorithm",
    "inter.worker.key.size",
    "inter.worker.key.ttl.ms",
    "inter.worker.signature.algorithm",
    "inter.worker.verification.algorithms",
    "exactly.once.source.support",
    "metadata.max.age.ms",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "request.timeout.ms",
    "connections.max.idle.ms",
    // StandaloneConfig
    "offset.storage.file.filename",
    // RestServerConfig
    "listeners",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "admin.listeners",
    "rest.extension.classes",
    "response.http.headers.config",
    // Removed in Kafka 3.0, still in older stock files
    "rest.host.name",
    "rest.port",
    "internal.key.converter",
    "internal.value.converter",
];

/// Prefixes: the internal topics' settings (`offset.storage.topic`, `.replication.factor`,
/// `.partitions`, topic configs), the REST listeners' TLS, metrics context labels, and the
/// removed internal converters' sub-keys.
const PREFIXES: &[&str] = &[
    "offset.storage.",
    "config.storage.",
    "status.storage.",
    "listeners.https.",
    "admin.listeners.https.",
    "metrics.context.",
    "internal.key.converter.",
    "internal.value.converter.",
];

/// Whether a worker key only configures a Java worker.
pub(super) fn java_worker_only(key: &str) -> bool {
    KEYS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}
