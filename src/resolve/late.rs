//! Late-arriving and future-dated changes.
//!
//! Each partition has a watermark: the newest source time (`source.ts_ms`) seen in it, kept
//! with the checkpoint so it survives restarts. A change older than the watermark minus
//! `sluice.late.tolerance.ms` is late; one newer than the wall clock plus
//! `sluice.clock.skew.max.ms` is future-dated and does not move the watermark (one bad clock
//! must not make every later change look late). Both are counted, logged with their
//! coordinates, recorded in `sluice_late_events`, and handled by `sluice.late.policy`.
//!
//! Whatever the policy, the version guard still decides whether an applied change may
//! overwrite the row, so a late change never moves a row backwards.

use crate::event::{ChangeEvent, Row, Value};

/// `sluice.late.policy`: what happens to a late or future-dated change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatePolicy {
    /// Apply it (still version-guarded); it is only flagged.
    Apply,
    /// Do not apply it.
    Drop,
    /// Do not apply it; record it in `sluice_conflicts` as pending (`late_arrival`) for
    /// `sluice conflicts resolve`.
    Review,
    /// Do not apply it; dead-letter the record (stage `resolve`), like a record that cannot
    /// be applied.
    DeadLetter,
}

impl LatePolicy {
    /// The config value and metric label.
    pub fn label(self) -> &'static str {
        match self {
            LatePolicy::Apply => "apply",
            LatePolicy::Drop => "drop",
            LatePolicy::Review => "review",
            LatePolicy::DeadLetter => "dead_letter",
        }
    }
}

/// The late-data settings of a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateConfig {
    /// `sluice.late.tolerance.ms`; `None` turns lateness detection off.
    pub tolerance_ms: Option<i64>,
    /// `sluice.clock.skew.max.ms`; `None` turns future detection off.
    pub clock_skew_max_ms: Option<i64>,
    /// `sluice.late.policy`.
    pub policy: LatePolicy,
}

impl Default for LateConfig {
    fn default() -> Self {
        LateConfig {
            tolerance_ms: None,
            clock_skew_max_ms: None,
            policy: LatePolicy::Apply,
        }
    }
}

/// How a change's source time relates to its partition's watermark and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    /// Within tolerance (or detection is off).
    OnTime,
    /// Older than the watermark by more than the tolerance.
    Late {
        /// Source time of the change.
        ts_ms: i64,
        /// The watermark it was compared with.
        watermark_ms: i64,
    },
    /// Newer than the clock by more than the allowed skew.
    Future {
        /// Source time of the change.
        ts_ms: i64,
        /// The wall clock when it was seen.
        now_ms: i64,
    },
    /// No usable source time (null, zero or negative): ordered by source position, then by
    /// the partition's watermark and Kafka offset.
    Unknown,
}

impl Timeliness {
    /// The metric label of a flagged change.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Timeliness::Late { .. } => Some("late"),
            Timeliness::Future { .. } => Some("future"),
            Timeliness::OnTime | Timeliness::Unknown => None,
        }
    }

    /// How far the change is from where it was expected, in ms (late: behind the
    /// watermark; future: ahead of the clock).
    pub fn delay_ms(self) -> i64 {
        match self {
            Timeliness::Late {
                ts_ms,
                watermark_ms,
            } => watermark_ms - ts_ms,
            Timeliness::Future { ts_ms, now_ms } => ts_ms - now_ms,
            Timeliness::OnTime | Timeliness::Unknown => 0,
        }
    }

    /// The change's own source time, when flagged.
    pub fn event_ms(self) -> Option<i64> {
        match self {
            Timeliness::Late { ts_ms, .. } | Timeliness::Future { ts_ms, .. } => Some(ts_ms),
            Timeliness::OnTime | Timeliness::Unknown => None,
        }
    }

    /// The time the change was expected at (the watermark, or the clock).
    pub fn expected_ms(self) -> Option<i64> {
        match self {
            Timeliness::Late { watermark_ms, .. } => Some(watermark_ms),
            Timeliness::Future { now_ms, .. } => Some(now_ms),
            Timeliness::OnTime | Timeliness::Unknown => None,
        }
    }
}

/// A flagged change as `sluice_late_events` records it (written in the batch transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct LateRecord {
    /// Target table the change was for.
    pub table: String,
    /// The key, as [`record_id`] writes it.
    pub record_id: String,
    /// Kafka coordinates.
    pub coordinates: crate::event::Coordinates,
    /// How it was flagged (never `OnTime` or `Unknown`).
    pub timeliness: Timeliness,
    /// The policy that handled it.
    pub policy: LatePolicy,
}

/// What the late-data policy makes of a change: on time (or undetectable) changes and those
/// the policy applies go on (still version-guarded); the others are dropped, held for review
/// or dead-lettered.
pub fn decide(policy: LatePolicy, timeliness: Timeliness) -> super::Outcome {
    use super::{Outcome, SkipReason};
    if timeliness.label().is_none() {
        return Outcome::Apply;
    }
    match policy {
        LatePolicy::Apply => Outcome::Apply,
        LatePolicy::Drop => Outcome::Drop(SkipReason::Late),
        LatePolicy::Review => Outcome::Review,
        LatePolicy::DeadLetter => Outcome::DeadLetter,
    }
}

/// A usable source time: present and after the epoch.
pub fn source_time(event: &ChangeEvent) -> Option<i64> {
    event.source.ts_ms.filter(|t| *t > 0)
}

/// Classifies one change and moves the partition's `watermark` past it when it is on time.
pub fn observe(
    config: &LateConfig,
    ts_ms: Option<i64>,
    watermark: &mut Option<i64>,
    now_ms: i64,
) -> Timeliness {
    let Some(ts_ms) = ts_ms.filter(|t| *t > 0) else {
        return Timeliness::Unknown;
    };
    if let Some(skew) = config.clock_skew_max_ms {
        if ts_ms > now_ms.saturating_add(skew) {
            return Timeliness::Future { ts_ms, now_ms };
        }
    }
    if let (Some(tolerance), Some(w)) = (config.tolerance_ms, *watermark) {
        if ts_ms < w.saturating_sub(tolerance) {
            return Timeliness::Late {
                ts_ms,
                watermark_ms: w,
            };
        }
    }
    *watermark = Some(watermark.map_or(ts_ms, |w| w.max(ts_ms)));
    Timeliness::OnTime
}

/// The key of a change as report text: the value of a one-column key, else a JSON object.
pub fn record_id(key: &Row) -> String {
    let text = |v: &Value| match v.as_text() {
        Some(s) => s.to_string(),
        None => match v {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Date(d) => d.to_string(),
            Value::Time(t) => t.to_string(),
            Value::Timestamp(t) => t.to_string(),
            Value::Untyped(j) => j.to_string(),
            other => format!("{other:?}"),
        },
    };
    match key.fields.as_slice() {
        [only] => text(&only.value),
        fields => serde_json::Value::Object(
            fields
                .iter()
                .map(|f| (f.name.clone(), serde_json::Value::String(text(&f.value))))
                .collect(),
        )
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn config(tolerance: Option<i64>, skew: Option<i64>) -> LateConfig {
        LateConfig {
            tolerance_ms: tolerance,
            clock_skew_max_ms: skew,
            policy: LatePolicy::Apply,
        }
    }

    #[test]
    fn observe_table() {
        // name, config, timestamps in order, expected classification of the last, watermark after
        type Case = (
            &'static str,
            LateConfig,
            &'static [Option<i64>],
            Timeliness,
            Option<i64>,
        );
        let on = config(Some(1000), Some(60_000));
        let cases: &[Case] = &[
            (
                "first change sets the watermark",
                on,
                &[Some(NOW)],
                Timeliness::OnTime,
                Some(NOW),
            ),
            (
                "in order",
                on,
                &[Some(NOW - 10), Some(NOW)],
                Timeliness::OnTime,
                Some(NOW),
            ),
            (
                "out of order within tolerance",
                on,
                &[Some(NOW), Some(NOW - 1000)],
                Timeliness::OnTime,
                Some(NOW),
            ),
            (
                "older than watermark - tolerance",
                on,
                &[Some(NOW), Some(NOW - 1001)],
                Timeliness::Late {
                    ts_ms: NOW - 1001,
                    watermark_ms: NOW,
                },
                Some(NOW),
            ),
            (
                "duplicate timestamps",
                on,
                &[Some(NOW), Some(NOW)],
                Timeliness::OnTime,
                Some(NOW),
            ),
            (
                "future beyond the skew does not move the watermark",
                on,
                &[Some(NOW - 5), Some(NOW + 60_001)],
                Timeliness::Future {
                    ts_ms: NOW + 60_001,
                    now_ms: NOW,
                },
                Some(NOW - 5),
            ),
            (
                "future within the skew is on time",
                on,
                &[Some(NOW + 60_000)],
                Timeliness::OnTime,
                Some(NOW + 60_000),
            ),
            (
                "null timestamp",
                on,
                &[Some(NOW), None],
                Timeliness::Unknown,
                Some(NOW),
            ),
            (
                "invalid timestamp",
                on,
                &[Some(NOW), Some(-5)],
                Timeliness::Unknown,
                Some(NOW),
            ),
            (
                "detection off",
                config(None, None),
                &[Some(NOW), Some(1), Some(NOW * 2)],
                Timeliness::OnTime,
                Some(NOW * 2),
            ),
        ];
        for (name, config, stamps, expected, watermark_after) in cases {
            let mut watermark = None;
            let mut last = Timeliness::OnTime;
            for ts in *stamps {
                last = observe(config, *ts, &mut watermark, NOW);
            }
            assert_eq!(last, *expected, "{name}");
            assert_eq!(watermark, *watermark_after, "{name}: watermark");
        }
    }

    #[test]
    fn delay_and_expected_time() {
        let late = Timeliness::Late {
            ts_ms: 100,
            watermark_ms: 4100,
        };
        assert_eq!(
            (late.delay_ms(), late.expected_ms(), late.label()),
            (4000, Some(4100), Some("late"))
        );
        let future = Timeliness::Future {
            ts_ms: 9000,
            now_ms: 1000,
        };
        assert_eq!((future.delay_ms(), future.label()), (8000, Some("future")));
    }

    #[test]
    fn record_ids() {
        let field = |name: &str, value: Value| crate::event::Field {
            name: name.into(),
            value,
            column_type: None,
            optional: false,
            default: None,
        };
        let one = Row {
            fields: vec![field("id", Value::Int(1001))],
        };
        assert_eq!(record_id(&one), "1001");
        let two = Row {
            fields: vec![
                field("a", Value::Text("x".into())),
                field("b", Value::Int(2)),
            ],
        };
        assert_eq!(record_id(&two), r#"{"a":"x","b":"2"}"#);
    }
}
