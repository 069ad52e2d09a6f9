//! The dead-letter path: records that cannot be applied for a permanent reason, kept whole.
//!
//! A dead letter is written to `sluice_dead_letters` in the transaction of its batch, together
//! with the checkpoint that moves past it, so it is recorded exactly once whatever crashes
//! ([`store`]). The [`publish`] task then copies every unpublished row to the dead-letter topic
//! (at least once, keyed `topic/partition/offset`, with Kafka Connect's `__connect.errors.*`
//! headers) and marks it published; rows left unpublished by a crash are published after the
//! restart.

pub mod publish;
pub mod store;

use crate::event::RawRecord;

/// The stage that refused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The key converter (malformed key).
    KeyConverter,
    /// The value converter or the Debezium envelope.
    ValueConverter,
    /// A transform.
    Transform,
    /// The resolve stage (a late change under `sluice.late.policy=dead_letter`).
    Resolve,
    /// Planning or writing the change to the target.
    Write,
}

impl Stage {
    /// sluice's name (the `stage` column and metric label): decode, transform, resolve, write.
    pub fn label(self) -> &'static str {
        match self {
            Stage::KeyConverter | Stage::ValueConverter => "decode",
            Stage::Transform => "transform",
            Stage::Resolve => "resolve",
            Stage::Write => "write",
        }
    }

    /// Kafka Connect's name for the stage (`__connect.errors.stage`). Connect has no resolve
    /// stage: a sink task's own decisions are `TASK_PUT` there.
    pub fn connect_name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transform => "TRANSFORMATION",
            Stage::Resolve | Stage::Write => "TASK_PUT",
        }
    }
}

/// A record that cannot be applied, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The record as it came from Kafka, byte for byte.
    pub record: RawRecord,
    /// Where it failed.
    pub stage: Stage,
    /// What refused it (`__connect.errors.class.name`): the converter class, the transform's
    /// type, `sluice.resolve.late`, or the target table.
    pub class_name: String,
    /// The kind of error (`__connect.errors.exception.class.name`), e.g. `DecodeError`,
    /// `TransformError`, `LateArrival`, `SQLSTATE 23505`.
    pub exception_class: String,
    /// The error message.
    pub message: String,
    /// More detail where there is some (the database's full error report).
    pub detail: Option<String>,
}

/// Kafka Connect's dead-letter context headers.
pub mod headers {
    /// Original topic.
    pub const TOPIC: &str = "__connect.errors.topic";
    /// Original partition.
    pub const PARTITION: &str = "__connect.errors.partition";
    /// Original offset.
    pub const OFFSET: &str = "__connect.errors.offset";
    /// Connector name.
    pub const CONNECTOR: &str = "__connect.errors.connector.name";
    /// Task id (sluice runs one task per connector: `0`).
    pub const TASK: &str = "__connect.errors.task.id";
    /// Stage.
    pub const STAGE: &str = "__connect.errors.stage";
    /// What refused the record.
    pub const CLASS: &str = "__connect.errors.class.name";
    /// Kind of error.
    pub const EXCEPTION_CLASS: &str = "__connect.errors.exception.class.name";
    /// Error message.
    pub const EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
    /// Error detail.
    pub const EXCEPTION_STACKTRACE: &str = "__connect.errors.exception.stacktrace";
    /// The original record key (the dead-letter record's own key is `topic/partition/offset`).
    pub const ORIGINAL_KEY: &str = "__sluice.original.key";
}

impl DeadLetter {
    /// The dead-letter record's key: `topic/partition/offset`, so consumers can dedupe.
    pub fn dlq_key(&self) -> String {
        self.record.coordinates.to_string()
    }

    /// The headers of the dead-letter record: the original headers unchanged, the original key
    /// (when there was one) and, with `context`, Connect's `__connect.errors.*` headers.
    pub fn dlq_headers(&self, connector: &str, context: bool) -> Vec<(String, Option<Vec<u8>>)> {
        let mut out = self.record.headers.clone();
        if let Some(key) = &self.record.key {
            out.push((headers::ORIGINAL_KEY.into(), Some(key.clone())));
        }
        if context {
            let c = &self.record.coordinates;
            let mut add = |name: &str, value: String| {
                out.push((name.to_string(), Some(value.into_bytes())));
            };
            add(headers::TOPIC, c.topic.clone());
            add(headers::PARTITION, c.partition.to_string());
            add(headers::OFFSET, c.offset.to_string());
            add(headers::CONNECTOR, connector.to_string());
            add(headers::TASK, "0".into());
            add(headers::STAGE, self.stage.connect_name().into());
            add(headers::CLASS, self.class_name.clone());
            add(headers::EXCEPTION_CLASS, self.exception_class.clone());
            add(headers::EXCEPTION_MESSAGE, self.message.clone());
            if let Some(detail) = &self.detail {
                add(headers::EXCEPTION_STACKTRACE, detail.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Coordinates;

    fn letter() -> DeadLetter {
        DeadLetter {
            record: RawRecord {
                coordinates: Coordinates {
                    topic: "db.public.items".into(),
                    partition: 2,
                    offset: 41,
                },
                key: Some(vec![0xff, 0x00, b'k']),
                value: Some(b"{not json".to_vec()),
                headers: vec![("trace".into(), Some(vec![0xc3, 0x28])), ("n".into(), None)],
                timestamp_ms: Some(1_700_000_000_000),
            },
            stage: Stage::ValueConverter,
            class_name: "org.apache.kafka.connect.json.JsonConverter".into(),
            exception_class: "DecodeError".into(),
            message: "malformed JSON in record value: EOF".into(),
            detail: None,
        }
    }

    #[test]
    fn the_dead_letter_record_keeps_the_original_and_adds_connect_headers() {
        let l = letter();
        assert_eq!(l.dlq_key(), "db.public.items/2/41");
        let headers = l.dlq_headers("inventory", true);
        // Originals first, unchanged (a non-UTF-8 value and a null value included).
        assert_eq!(headers[0], ("trace".into(), Some(vec![0xc3, 0x28])));
        assert_eq!(headers[1], ("n".into(), None));
        assert_eq!(
            headers[2],
            (headers::ORIGINAL_KEY.into(), Some(vec![0xff, 0x00, b'k']))
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.clone())
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(get(headers::TOPIC).as_deref(), Some("db.public.items"));
        assert_eq!(get(headers::PARTITION).as_deref(), Some("2"));
        assert_eq!(get(headers::OFFSET).as_deref(), Some("41"));
        assert_eq!(get(headers::CONNECTOR).as_deref(), Some("inventory"));
        assert_eq!(get(headers::STAGE).as_deref(), Some("VALUE_CONVERTER"));
        assert_eq!(
            get(headers::EXCEPTION_CLASS).as_deref(),
            Some("DecodeError")
        );
        assert_eq!(get(headers::EXCEPTION_STACKTRACE), None);
    }

    #[test]
    fn without_context_only_the_original_headers_and_key_are_sent() {
        let headers = letter().dlq_headers("inventory", false);
        assert_eq!(headers.len(), 3);
        assert!(headers.iter().all(|(k, _)| !k.starts_with("__connect.")));
    }
}
