//! The pipeline's side of the dead-letter path: turning each stage's error into a
//! [`DeadLetter`], logging it as `errors.log.*` asks, and the ratio guard that stops a
//! connector whose config dead-letters everything.

use crate::config::{ConnectorConfig, ErrorsConfig};
use crate::deadletter::{DeadLetter, Stage};
use crate::decode::DecodeError;
use crate::event::RawRecord;
use crate::resolve::late::LateRecord;
use crate::sink::SinkError;
use crate::source::RecordError;
use std::collections::VecDeque;

/// A dead letter for a record that failed to decode or transform.
pub fn from_record_error(
    raw: RawRecord,
    error: &RecordError,
    config: &ConnectorConfig,
) -> DeadLetter {
    let (stage, class_name, exception_class) = match error {
        RecordError::Decode(e) => {
            let key = match e {
                DecodeError::MalformedJson { part, .. } | DecodeError::Avro { part, .. } => {
                    *part == "key"
                }
                DecodeError::BadField { field, .. } => field == "key" || field.starts_with("key."),
                DecodeError::NotAnEnvelope(_) => false,
            };
            let stage = if key {
                Stage::KeyConverter
            } else {
                Stage::ValueConverter
            };
            let class = config.decode.converter_class(stage == Stage::KeyConverter);
            (stage, class.to_string(), "DecodeError")
        }
        RecordError::Transform(e) => (
            Stage::Transform,
            config
                .transforms
                .class_of(&e.alias)
                .unwrap_or(&e.alias)
                .to_string(),
            "TransformError",
        ),
    };
    DeadLetter {
        record: raw,
        stage,
        class_name,
        exception_class: exception_class.into(),
        message: error.to_string(),
        detail: None,
    }
}

/// A dead letter for a change the late-data policy dead-letters.
pub fn from_late(raw: RawRecord, late: &LateRecord) -> DeadLetter {
    let kind = late.timeliness.label().unwrap_or("late");
    DeadLetter {
        record: raw,
        stage: Stage::Resolve,
        class_name: "sluice.late.policy".into(),
        exception_class: "LateArrival".into(),
        message: format!(
            "{kind} change for table {} ({} ms outside the tolerance); sluice.late.policy=dead_letter",
            late.table,
            late.timeliness.delay_ms()
        ),
        detail: None,
    }
}

/// A dead letter for a change the target refused on its own.
pub fn from_write(raw: RawRecord, table: String, error: &SinkError) -> DeadLetter {
    let (exception_class, detail) = match error {
        SinkError::Permanent { source, .. } => {
            let code = source
                .as_database_error()
                .and_then(|d| d.code())
                .map(|c| format!("SQLSTATE {c}"));
            (
                code.unwrap_or_else(|| "DatabaseError".into()),
                Some(format!("{source:?}")),
            )
        }
        _ => ("WriteError".into(), None),
    };
    let message = match error {
        // The statement's coordinates are one of its rows', not necessarily this record's.
        SinkError::Permanent { source, .. } => source.to_string(),
        SinkError::Record { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    DeadLetter {
        record: raw,
        stage: Stage::Write,
        class_name: table,
        exception_class,
        message,
        detail,
    }
}

/// Logs dead letters as `errors.log.enable` / `errors.log.include.messages` ask: one line per
/// record with its coordinates, stage and reason (and its key and value, at most 1 KiB each).
pub fn log(errors: &ErrorsConfig, letters: &[DeadLetter]) {
    if !errors.log {
        return;
    }
    let text = |bytes: &Option<Vec<u8>>| match bytes {
        None => "null".to_string(),
        Some(b) => {
            let s = String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned();
            if b.len() > 1024 {
                format!("{s}…")
            } else {
                s
            }
        }
    };
    for l in letters {
        let c = &l.record.coordinates;
        if errors.log_messages {
            tracing::error!(topic = %c.topic, partition = c.partition, offset = c.offset, stage = l.stage.label(), reason = %l.message, key = %text(&l.record.key), value = %text(&l.record.value), "record dead-lettered");
        } else {
            tracing::error!(topic = %c.topic, partition = c.partition, offset = c.offset, stage = l.stage.label(), reason = %l.message, "record dead-lettered");
        }
    }
}

/// The dead-letter share of the last `window` records.
#[derive(Debug)]
pub struct Ratio {
    max: f64,
    window: usize,
    /// Per record, oldest first: whether it was dead-lettered (at most `window`).
    outcomes: VecDeque<bool>,
}

/// Below this many records in the window the ratio is not judged.
const MIN_SAMPLE: usize = 100;

impl Ratio {
    /// A guard for `sluice.errors.max.ratio` over `sluice.errors.window.records`.
    pub fn new(errors: &ErrorsConfig) -> Self {
        Ratio {
            max: errors.max_ratio,
            window: errors.window,
            outcomes: VecDeque::new(),
        }
    }

    /// The ratio the window would have with a batch of `records` records of which `dead`
    /// are dead-lettered, when it is over the maximum (and judged: enough records seen).
    pub fn exceeded(&self, records: usize, dead: usize) -> Option<f64> {
        if dead == 0 || self.max >= 1.0 {
            return None;
        }
        let (total, dead_total) = if records >= self.window {
            (records, dead)
        } else {
            let keep = (self.window - records).min(self.outcomes.len());
            let kept = self
                .outcomes
                .iter()
                .rev()
                .take(keep)
                .filter(|d| **d)
                .count();
            (keep + records, kept + dead)
        };
        if total < MIN_SAMPLE.min(self.window) {
            return None;
        }
        let ratio = dead_total as f64 / total as f64;
        (ratio > self.max).then_some(ratio)
    }

    /// Records a committed batch.
    pub fn add(&mut self, records: usize, dead: usize) {
        for i in 0..records {
            self.outcomes.push_back(i < dead);
        }
        while self.outcomes.len() > self.window {
            self.outcomes.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(max: f64, window: usize) -> Ratio {
        Ratio::new(&ErrorsConfig {
            max_ratio: max,
            window,
            ..ErrorsConfig::default()
        })
    }

    #[test]
    fn a_batch_of_only_dead_letters_is_over_the_ratio() {
        let r = ratio(0.5, 1000);
        assert_eq!(r.exceeded(500, 500), Some(1.0));
        assert_eq!(r.exceeded(500, 250), None);
        assert_eq!(r.exceeded(500, 0), None);
    }

    #[test]
    fn the_window_slides_and_small_samples_are_not_judged() {
        let mut r = ratio(0.5, 200);
        // 50 records, all bad: too few to judge.
        assert_eq!(r.exceeded(50, 50), None);
        r.add(50, 50);
        // 50 bad + 60 more of which 10 bad: 60/110.
        assert!(r.exceeded(60, 10).is_some());
        // Mostly good records push the bad ones out of the window.
        r.add(200, 0);
        assert_eq!(r.exceeded(50, 20), None);
        assert!(r.exceeded(10, 10).is_none());
        // A ratio of 1 never stops.
        assert_eq!(ratio(1.0, 10).exceeded(10, 10), None);
    }
}
