//! Publishes committed dead letters to the dead-letter topic, at least once.
//!
//! The table is the outbox: a row is published only after its batch committed, and marked
//! published only after the broker acknowledged it, so a crash or a broker outage in between
//! publishes it again later (consumers dedupe on the key, `topic/partition/offset`). The task
//! wakes after each batch that dead-lettered something, and every few seconds to retry what a
//! broker outage left behind.

use super::store::{self, Filter};
use crate::config::{ClientRole, ConnectorConfig, WorkerConfig};
use crate::db::Db;
use crate::telemetry::Metrics;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Dead letters published per round, at most.
const ROUND: i64 = 500;
/// How often unpublished dead letters are looked for without a wake-up.
const IDLE: Duration = Duration::from_secs(5);

/// The running publisher of one connector.
pub struct Publisher {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

struct Task {
    producer: FutureProducer,
    db: Db,
    topic: String,
    group: String,
    connector: String,
    context_headers: bool,
    metrics: Metrics,
}

/// librdkafka settings of the dead-letter producer; worker `producer.*` overrides come last.
fn producer_config(worker: &WorkerConfig, connector: &ConnectorConfig) -> ClientConfig {
    let mut config = worker.client_config_for(ClientRole::Producer, connector);
    let defaults = [
        ("enable.idempotence", "true".to_string()),
        ("acks", "all".to_string()),
        // A round that cannot be delivered in time is retried by the next round.
        ("message.timeout.ms", "30000".to_string()),
        ("client.id", format!("sluice-{}-dlq", connector.name)),
    ];
    for (key, value) in defaults {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    config
}

/// Creates the dead-letter topic unless it exists (one partition, the configured replication
/// factor). A failure is logged: publication keeps retrying, nothing is lost meanwhile.
async fn ensure_topic(worker: &WorkerConfig, connector: &ConnectorConfig, topic: &str) {
    let config = worker.client_config_for(ClientRole::Admin, connector);
    // Listing first (blocking, so off the runtime): creating an existing topic costs a round
    // trip, and brokers without CreateTopics (librdkafka's mock cluster) only time out.
    let name = topic.to_string();
    let listed = tokio::task::spawn_blocking(move || {
        let admin: AdminClient<DefaultClientContext> = config.create()?;
        let exists = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|m| m.topics().iter().any(|t| t.name() == name))
            .unwrap_or(false);
        Ok::<_, rdkafka::error::KafkaError>((admin, exists))
    })
    .await;
    let admin = match listed {
        Ok(Ok((_, true))) => return,
        Ok(Ok((admin, false))) => admin,
        Ok(Err(e)) => {
            tracing::error!(error = %e, topic, "cannot create an admin client for the dead-letter topic");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, topic, "listing topics failed");
            return;
        }
    };
    let new = NewTopic::new(
        topic,
        1,
        TopicReplication::Fixed(connector.errors.dlq_replication_factor.into()),
    );
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    match admin.create_topics([&new], &options).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(_) => tracing::info!(topic, "created the dead-letter topic"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((_, code)) => tracing::error!(
                        topic,
                        error = %code,
                        replication_factor = connector.errors.dlq_replication_factor,
                        "cannot create the dead-letter topic (errors.deadletterqueue.topic.replication.factor?); dead letters stay in sluice_dead_letters until it exists"
                    ),
                }
            }
        }
        Err(e) => tracing::warn!(topic, error = %e, "cannot create the dead-letter topic yet"),
    }
}

impl Publisher {
    /// Starts publishing to `errors.deadletterqueue.topic.name`; `None` when it is not set
    /// (dead letters then stay in the table only).
    pub async fn start(
        worker: &WorkerConfig,
        connector: &ConnectorConfig,
        db: Db,
        metrics: Metrics,
    ) -> Result<Option<Publisher>, String> {
        let Some(topic) = connector.dlq_topic.clone() else {
            return Ok(None);
        };
        ensure_topic(worker, connector, &topic).await;
        let producer: FutureProducer = producer_config(worker, connector)
            .create()
            .map_err(|e| format!("dead-letter producer: {e}"))?;
        let task = Task {
            producer,
            db,
            topic,
            group: connector.group_id(),
            connector: connector.name.clone(),
            context_headers: connector.errors.context_headers,
            metrics,
        };
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(task.run(wake.clone(), stopped));
        Ok(Some(Publisher { wake, stop, task }))
    }

    /// A batch with dead letters committed: publish them now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes what is pending (for up to `grace`), then stops. What is left is published
    /// by the next start.
    pub async fn finish(self, grace: Duration) {
        let _ = self.stop.send(true);
        self.wake.notify_one();
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            tracing::warn!(
                "dead letters left unpublished at shutdown; the next start publishes them"
            );
        }
    }
}

/// Why a round of publishing failed.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    /// Reading the dead letters or marking them published.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The broker refused or never acknowledged every one of them.
    #[error("{0}")]
    Broker(String),
}

impl Task {
    async fn run(self, wake: Arc<Notify>, stopped: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            let stopping = *stopped.borrow();
            let published = self.round().await;
            let idle = match published {
                Ok(n) if n > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    if stopping {
                        return;
                    }
                    IDLE
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, topic = %self.topic, "publishing dead letters failed; retrying");
                    if stopping {
                        return;
                    }
                    // Exponential, capped (librdkafka already waited message.timeout.ms).
                    Duration::from_millis(200u64 << failures.min(6))
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
    }

    /// Publishes one round of unpublished dead letters; returns how many were published.
    async fn round(&self) -> Result<usize, PublishError> {
        let filter = Filter {
            unpublished: true,
            limit: Some(ROUND),
            ..Filter::default()
        };
        let letters = store::list(&self.db, &self.group, &filter).await?;
        if letters.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = letters.iter().map(|s| s.letter.dlq_key()).collect();
        let mut sends = Vec::with_capacity(letters.len());
        for (stored, key) in letters.iter().zip(&keys) {
            let l = &stored.letter;
            let mut headers = OwnedHeaders::new();
            for (name, value) in l.dlq_headers(&self.connector, self.context_headers) {
                headers = headers.insert(Header {
                    key: &name,
                    value: value.as_deref(),
                });
            }
            let mut record = FutureRecord::to(&self.topic).key(key).headers(headers);
            if let Some(value) = &l.record.value {
                record = record.payload(value);
            }
            if let Some(ts) = l.record.timestamp_ms {
                record = record.timestamp(ts);
            }
            sends.push((stored.id, self.producer.send_result(record)));
        }
        let mut published = Vec::new();
        let mut error = None;
        let mut failed = 0;
        for (id, send) in sends {
            let failure = match send {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(_)) => {
                        published.push(id);
                        continue;
                    }
                    Ok(Err((e, _))) => e.to_string(),
                    Err(_) => "delivery canceled".into(),
                },
                Err((e, _)) => e.to_string(),
            };
            failed += 1;
            error = Some(failure);
        }
        self.metrics
            .dead_letter_publish_failures
            .with_label_values(&[&self.connector])
            .inc_by(failed);
        store::mark_published(&self.db, &published)
            .await
            .map_err(store::StoreError::from)?;
        self.metrics
            .dead_letters_published
            .with_label_values(&[&self.connector])
            .inc_by(published.len() as u64);
        match error {
            Some(e) if published.is_empty() => Err(PublishError::Broker(e)),
            _ => Ok(published.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dead-letter producer gets the worker's security, its `producer.*` settings and the
    /// connector's `producer.override.*`, with sluice's defaults only where none is set.
    #[test]
    fn producer_settings_come_from_the_worker_and_the_connector() {
        let flags = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/ca.pem"),
            ("producer.acks", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let worker = WorkerConfig::load(None, &flags, &|_| None, &[]).expect("worker");
        let connector = ConnectorConfig::from_json_with(
            r#"{"name":"c","config":{"topics":"t","connection.url":"sqlite::memory:",
                "producer.override.message.timeout.ms":"5000"}}"#,
            "test",
            &|_| None,
            &worker,
        )
        .expect("connector");
        let config = producer_config(&worker, &connector);
        for (key, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
            ("ssl.ca.location", "/ca.pem"),
            ("acks", "1"),
            ("message.timeout.ms", "5000"),
            ("enable.idempotence", "true"),
            ("client.id", "sluice-c-dlq"),
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
    }
}
