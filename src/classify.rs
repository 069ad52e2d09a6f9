//! Error classification, once per foreign library: what to retry, what to dead-letter, and
//! what must stop the connector.
//!
//! Every stage asks this module rather than matching error codes itself, so "transient" means
//! the same thing for the sink, the checkpoint, the dead-letter publisher and the CLI.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How an error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying the same work may succeed (connection lost, deadlock, serialization failure,
    /// operator shutdown, out of resources, broker unavailable, timeouts). Retried with
    /// backoff; never dead-lettered.
    Transient,
    /// The record (or statement) is wrong for this target and will fail again: dead-lettered
    /// with `errors.tolerance=all`, else it stops the connector.
    Permanent,
    /// Not a record's fault and not going away by itself (authentication, privileges, a
    /// missing database): stops the connector whatever the tolerance, so a wrong setup does
    /// not dead-letter every record.
    Fatal,
}

/// Classifies a sqlx error: SQLSTATE classes 08 (connection), 40 (serialization failure,
/// deadlock), 53 (insufficient resources, disk full), 57 (operator intervention, admin
/// shutdown), 58 (system I/O error), 55P03 (lock not available) and 55006 (object in use), SQLite BUSY/LOCKED/IOERR/FULL, and I/O, protocol or pool errors are
/// transient; 28 (authorization), 3D (no such database), 3F (no such schema), 42501
/// (insufficient privilege), XX (internal error) and configuration errors are fatal; the rest
/// (data exceptions 22, integrity violations 23, undefined or invalid objects 42, ...) are
/// permanent.
pub fn sqlx(error: &sqlx::Error) -> ErrorClass {
    match error {
        // A protocol error is a conversation with the server that broke off: a PostgreSQL
        // shutting down (`pg_ctl stop -m immediate`) answered a new connection's SSLRequest
        // with a zero byte ("unexpected response from SSLRequest: 0x00") and failed a
        // connector in the SIGTERM-during-an-outage test instead of letting it retry.
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorClass::Transient,
        sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) => ErrorClass::Fatal,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                return sqlite(code.parse::<i32>().unwrap_or(0));
            }
            sqlstate(&code)
        }
        _ => ErrorClass::Permanent,
    }
}

/// Classifies a PostgreSQL SQLSTATE.
pub fn sqlstate(code: &str) -> ErrorClass {
    let class = code.get(..2).unwrap_or("");
    match class {
        "08" | "40" | "53" | "57" | "58" => ErrorClass::Transient,
        // lock_not_available (lock_timeout, NOWAIT) and object_in_use: an operator's ALTER or
        // VACUUM FULL holds the table; the same batch applies once it is done.
        "55" if matches!(code, "55P03" | "55006") => ErrorClass::Transient,
        "28" | "3D" | "3F" | "XX" => ErrorClass::Fatal,
        _ if code == "42501" => ErrorClass::Fatal,
        _ => ErrorClass::Permanent,
    }
}

/// Classifies an SQLite extended result code by its primary code (the low byte): BUSY (5),
/// LOCKED (6), IOERR (10), FULL (13) are transient; READONLY (8), CANTOPEN (14), AUTH (23)
/// and NOTADB (26) are fatal; the rest (CONSTRAINT, MISMATCH, TOOBIG, ...) permanent.
fn sqlite(code: i32) -> ErrorClass {
    match code & 0xff {
        5 | 6 | 10 | 13 => ErrorClass::Transient,
        8 | 14 | 23 | 26 => ErrorClass::Fatal,
        _ => ErrorClass::Permanent,
    }
}

/// Classifies an rdkafka error: unreachable brokers, timeouts, leadership moves and full
/// queues are transient; authentication and authorization failures are fatal; the rest
/// (message too large, invalid record, unknown topic with auto-creation off) permanent.
pub fn kafka(error: &KafkaError) -> ErrorClass {
    use RDKafkaErrorCode as C;
    let Some(code) = error.rdkafka_error_code() else {
        // Client-side failures without a broker code (canceled, no offset, ...).
        return match error {
            KafkaError::Canceled | KafkaError::PartitionEOF(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        };
    };
    match code {
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::MessageTimedOut
        | C::RequestTimedOut
        | C::OperationTimedOut
        | C::TimedOutQueue
        | C::NetworkException
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::CoordinatorLoadInProgress
        | C::QueueFull
        | C::Resolve
        | C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition
        | C::KafkaStorageError
        | C::PreferredLeaderNotAvailable
        | C::BrokerNotAvailable
        | C::ReplicaNotAvailable
        | C::ConcurrentTransactions
        | C::ThrottlingQuotaExceeded => ErrorClass::Transient,
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed => ErrorClass::Fatal,
        _ => ErrorClass::Permanent,
    }
}

/// What a Kafka error seen by a connector's consumer means for the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTrouble {
    /// The brokers cannot be reached (librdkafka reconnects by itself): retried, logged at
    /// a bounded rate, and readiness fails if it lasts.
    Unreachable,
    /// The cluster refuses sluice (authentication, authorization, a TLS certificate it cannot
    /// verify): it will not pass by itself, so the connector stops with the cause.
    Refused,
    /// A record batch cannot be read (unsupported or corrupt compression, a corrupt record):
    /// librdkafka cannot hand it over, so the partition would wait forever; the connector
    /// stops naming it.
    Unreadable,
    /// Anything else librdkafka reports and recovers from (leader moves, offset resets).
    Passing,
}

/// Classifies a Kafka error of a consumer (its error callback, or a failed poll). `reason`
/// is librdkafka's text, which alone tells a TLS verification failure from a dropped TLS
/// connection (both are `_SSL`).
pub fn kafka_source(error: &KafkaError, reason: &str) -> SourceTrouble {
    use RDKafkaErrorCode as C;
    let code = error.rdkafka_error_code();
    match code {
        Some(C::SSL) => {
            let lower = reason.to_ascii_lowercase();
            if ["certificate", "verify", "handshake", "alert"]
                .iter()
                .any(|w| lower.contains(w))
            {
                SourceTrouble::Refused
            } else {
                SourceTrouble::Unreachable
            }
        }
        Some(
            C::BadCompression
            | C::BadMessage
            | C::NotImplemented
            | C::UnsupportedCompressionType
            | C::InvalidMessage
            | C::InvalidRecord,
        ) => SourceTrouble::Unreadable,
        Some(
            C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::Resolve
            | C::NetworkException
            | C::BrokerNotAvailable
            | C::RequestTimedOut
            | C::OperationTimedOut
            | C::TimedOutQueue
            | C::CoordinatorNotAvailable,
        ) => SourceTrouble::Unreachable,
        _ if kafka(error) == ErrorClass::Fatal => SourceTrouble::Refused,
        _ => SourceTrouble::Passing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_by_class() {
        for (code, class) in [
            ("08006", ErrorClass::Transient), // connection failure
            ("40001", ErrorClass::Transient), // serialization failure
            ("40P01", ErrorClass::Transient), // deadlock
            ("53100", ErrorClass::Transient), // disk full
            ("57P01", ErrorClass::Transient), // admin shutdown
            ("58030", ErrorClass::Transient), // I/O error
            ("55P03", ErrorClass::Transient), // lock not available (lock_timeout)
            ("55006", ErrorClass::Transient), // object in use
            ("55000", ErrorClass::Permanent), // object not in prerequisite state
            ("28P01", ErrorClass::Fatal),     // bad password
            ("3D000", ErrorClass::Fatal),     // no such database
            ("42501", ErrorClass::Fatal),     // insufficient privilege
            ("XX000", ErrorClass::Fatal),     // internal error
            ("23505", ErrorClass::Permanent), // unique violation
            ("23502", ErrorClass::Permanent), // not null
            ("22001", ErrorClass::Permanent), // value too long
            ("22003", ErrorClass::Permanent), // numeric overflow
            ("22P02", ErrorClass::Permanent), // invalid text representation
            ("42703", ErrorClass::Permanent), // undefined column
            ("", ErrorClass::Permanent),
        ] {
            assert_eq!(sqlstate(code), class, "{code}");
        }
    }

    #[test]
    fn sqlite_codes_by_primary_code() {
        assert_eq!(sqlite(5), ErrorClass::Transient); // BUSY
        assert_eq!(sqlite(517), ErrorClass::Transient); // BUSY_SNAPSHOT
        assert_eq!(sqlite(262), ErrorClass::Transient); // LOCKED_SHAREDCACHE
        assert_eq!(sqlite(13), ErrorClass::Transient); // FULL
        assert_eq!(sqlite(8), ErrorClass::Fatal); // READONLY
        assert_eq!(sqlite(2067), ErrorClass::Permanent); // CONSTRAINT_UNIQUE
        assert_eq!(sqlite(1299), ErrorClass::Permanent); // CONSTRAINT_NOTNULL
        assert_eq!(sqlite(275), ErrorClass::Permanent); // CONSTRAINT_CHECK
    }

    #[test]
    fn kafka_codes() {
        let e = |c| KafkaError::MessageProduction(c);
        assert_eq!(
            kafka(&e(RDKafkaErrorCode::AllBrokersDown)),
            ErrorClass::Transient
        );
        assert_eq!(
            kafka(&e(RDKafkaErrorCode::MessageTimedOut)),
            ErrorClass::Transient
        );
        assert_eq!(
            kafka(&e(RDKafkaErrorCode::TopicAuthorizationFailed)),
            ErrorClass::Fatal
        );
        assert_eq!(
            kafka(&e(RDKafkaErrorCode::MessageSizeTooLarge)),
            ErrorClass::Permanent
        );
        assert_eq!(
            kafka(&e(RDKafkaErrorCode::InvalidRecord)),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn kafka_source_troubles() {
        let e = |c| KafkaError::Global(c);
        use SourceTrouble as T;
        for (code, reason, trouble) in [
            (
                RDKafkaErrorCode::AllBrokersDown,
                "3/3 brokers are down",
                T::Unreachable,
            ),
            (
                RDKafkaErrorCode::BrokerTransportFailure,
                "Connection refused",
                T::Unreachable,
            ),
            (
                RDKafkaErrorCode::Authentication,
                "SASL SCRAM authentication failed",
                T::Refused,
            ),
            (RDKafkaErrorCode::TopicAuthorizationFailed, "", T::Refused),
            (RDKafkaErrorCode::GroupAuthorizationFailed, "", T::Refused),
            (
                RDKafkaErrorCode::SSL,
                "SSL handshake failed: certificate verify failed",
                T::Refused,
            ),
            (
                RDKafkaErrorCode::SSL,
                "SSL transport error: Disconnected",
                T::Unreachable,
            ),
            (
                RDKafkaErrorCode::NotImplemented,
                "Unsupported compression codec",
                T::Unreadable,
            ),
            (RDKafkaErrorCode::BadCompression, "", T::Unreadable),
            (RDKafkaErrorCode::NotLeaderForPartition, "", T::Passing),
        ] {
            assert_eq!(kafka_source(&e(code), reason), trouble, "{code:?} {reason}");
        }
        assert_eq!(
            kafka_source(
                &KafkaError::MessageConsumption(RDKafkaErrorCode::BadMessage),
                ""
            ),
            T::Unreadable
        );
    }

    #[test]
    fn sqlx_errors_without_a_database() {
        assert_eq!(sqlx(&sqlx::Error::PoolTimedOut), ErrorClass::Transient);
        assert_eq!(
            sqlx(&sqlx::Error::Io(std::io::Error::other("reset"))),
            ErrorClass::Transient
        );
        assert_eq!(
            sqlx(&sqlx::Error::Configuration("bad url".into())),
            ErrorClass::Fatal
        );
        assert_eq!(
            sqlx(&sqlx::Error::Protocol(
                "unexpected response from SSLRequest: 0x00".into()
            )),
            ErrorClass::Transient
        );
        assert_eq!(sqlx(&sqlx::Error::RowNotFound), ErrorClass::Permanent);
    }
}
