//! What the consumer's Kafka errors mean for the connector (see [`classify::kafka_source`]):
//! an unreachable cluster is retried by librdkafka and shows in readiness; a refusal
//! (credentials, ACLs, an unverifiable certificate) or a record batch that cannot be read
//! stops the connector with the cause. Every such line is logged at a bounded rate.

use crate::checkpoint::TopicPartition;
use crate::classify::{self, SourceTrouble};
use crate::config::worker::CLIENT_LOG_TARGET;
use crate::telemetry::{ConnectorHealth, Dependency, LogLimiter};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use std::sync::Mutex;
use std::time::Duration;

/// How often one cause may be logged.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// The Kafka trouble of one connector's consumer.
#[derive(Debug)]
pub struct Trouble {
    health: ConnectorHealth,
    /// Why the source must stop, once known; taken by the source thread.
    fatal: Mutex<Option<String>>,
    limiter: LogLimiter,
}

impl Trouble {
    /// Trouble reported to `health`.
    pub fn new(health: ConnectorHealth) -> Self {
        Trouble {
            health,
            fatal: Mutex::new(None),
            limiter: LogLimiter::new(LOG_INTERVAL),
        }
    }

    /// An error from librdkafka's error callback or a failed poll (`partition`: the queue it
    /// came from, when known).
    pub fn report(&self, error: &KafkaError, reason: &str, partition: Option<&TopicPartition>) {
        let code = error
            .rdkafka_error_code()
            .map(|c| format!("{c:?}"))
            .unwrap_or_else(|| "client".into());
        match classify::kafka_source(error, reason) {
            SourceTrouble::Refused => self.stop(format!(
                "the Kafka cluster refused the connection ({code}): {reason}; check security.protocol, \
                 the SASL credentials, the TLS trust settings and the ACLs"
            )),
            SourceTrouble::Unreadable => {
                let place = partition
                    .map(|tp| format!("{}/{}", tp.topic, tp.partition))
                    .unwrap_or_else(|| "a partition".into());
                self.stop(format!(
                    "cannot read records of {place} ({code}): {reason}; the consumer cannot hand them over, so \
                     the partition would never advance"
                ))
            }
            SourceTrouble::Unreachable => {
                self.health.unreachable(Dependency::Broker, reason);
                if let Some(held) = self.limiter.admit(&code) {
                    tracing::warn!(code, error = reason, repeated = held, "kafka unreachable; reconnecting");
                }
            }
            SourceTrouble::Passing => {
                if let Some(held) = self.limiter.admit(&code) {
                    tracing::warn!(code, error = reason, repeated = held, "kafka client error");
                }
            }
        }
    }

    /// What librdkafka's statistics say: whether any broker connection is up.
    pub fn brokers_up(&self, up: bool) {
        if up {
            self.health.reachable(Dependency::Broker);
        } else {
            self.health
                .unreachable(Dependency::Broker, "no connection to any broker");
        }
    }

    /// A log line of librdkafka's own, at a bounded rate per facility.
    pub fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if (level as i32) > (RDKafkaLogLevel::Warning as i32) {
            tracing::debug!(target: CLIENT_LOG_TARGET, facility, "{message}");
        } else if let Some(held) = self.limiter.admit(&format!("log:{facility}")) {
            tracing::warn!(target: CLIENT_LOG_TARGET, facility, repeated = held, "librdkafka: {message}");
        }
    }

    /// Why the source must stop, if it must (taken once).
    pub fn take_fatal(&self) -> Option<String> {
        self.fatal.lock().ok()?.take()
    }

    fn stop(&self, reason: String) {
        if let Ok(mut fatal) = self.fatal.lock() {
            if fatal.is_none() {
                tracing::error!(error = %reason, "kafka trouble stops the connector");
                *fatal = Some(reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{ConnectorState, Health};
    use rdkafka::error::RDKafkaErrorCode;

    #[test]
    fn refusals_stop_and_outages_show_in_readiness() {
        let health = Health::new(Duration::ZERO);
        let handle = health.connector("c");
        handle.set(ConnectorState::Running, None);
        let trouble = Trouble::new(handle);
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        trouble.report(&down, "1/1 brokers are down", None);
        assert!(trouble.take_fatal().is_none(), "an outage is retried");
        assert!(!health.readiness().ok);
        trouble.brokers_up(true);
        assert!(health.readiness().ok);
        let auth = KafkaError::Global(RDKafkaErrorCode::Authentication);
        trouble.report(&auth, "SASL authentication error: unknown-user", None);
        let fatal = trouble.take_fatal().expect("a refusal stops");
        assert!(
            fatal.contains("unknown-user") && fatal.contains("Authentication"),
            "{fatal}"
        );
        let codec = KafkaError::MessageConsumption(RDKafkaErrorCode::NotImplemented);
        let tp = TopicPartition {
            topic: "t".into(),
            partition: 3,
        };
        trouble.report(&codec, "Unsupported compression codec", Some(&tp));
        assert!(trouble.take_fatal().expect("unreadable").contains("t/3"));
    }
}
