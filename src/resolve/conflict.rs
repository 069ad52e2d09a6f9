//! Multi-source conflicts: two or more connectors (source systems) writing the same target
//! table and key.
//!
//! Versions of different sources are not comparable (two databases' LSNs say nothing about
//! each other), so every stored version remembers which source wrote it and that source's
//! commit time. A change from another source than the stored writer is ordered by source time;
//! when the two times are within `sluice.conflict.window.ms` and `sluice.conflict.strategy` is
//! set, it is a conflict, resolved by the strategy (and per column by
//! `sluice.conflict.field.<column>`), recorded in `sluice_conflicts`, logged and counted.

use std::cmp::Ordering;

/// A row-level strategy (`sluice.conflict.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The newer source time wins; a tie goes to the higher-priority source.
    LastWriteWins,
    /// The higher-priority source (`sluice.conflict.source.priority`) wins; a tie (neither
    /// listed, or the same rank) goes to the newer source time.
    SourcePriority,
    /// Nobody wins: the row keeps its value and the conflict waits in `sluice_conflicts` for
    /// `sluice conflicts resolve`.
    ManualReview,
}

impl Strategy {
    /// The config value, also the `strategy` of a resolution.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::LastWriteWins => "last_write_wins",
            Strategy::SourcePriority => "source_priority",
            Strategy::ManualReview => "manual_review",
        }
    }

    /// Parses a config value.
    pub fn parse(text: &str) -> Option<Strategy> {
        Some(match text.trim() {
            "last_write_wins" => Strategy::LastWriteWins,
            "source_priority" => Strategy::SourcePriority,
            "manual_review" => Strategy::ManualReview,
            _ => return None,
        })
    }
}

/// A column-level strategy (`sluice.conflict.field.<column>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStrategy {
    /// One of the row-level strategies, for this column.
    Row(Strategy),
    /// The incoming value unless it is NULL.
    KeepNonNull,
    /// The larger value (numbers compared as numbers, anything else as text).
    Max,
    /// The smaller value.
    Min,
}

impl FieldStrategy {
    /// Parses a config value.
    pub fn parse(text: &str) -> Option<FieldStrategy> {
        Some(match text.trim() {
            "keep_non_null" => FieldStrategy::KeepNonNull,
            "max" => FieldStrategy::Max,
            "min" => FieldStrategy::Min,
            other => FieldStrategy::Row(Strategy::parse(other)?),
        })
    }

    /// The config value.
    pub fn label(self) -> &'static str {
        match self {
            FieldStrategy::Row(s) => s.label(),
            FieldStrategy::KeepNonNull => "keep_non_null",
            FieldStrategy::Max => "max",
            FieldStrategy::Min => "min",
        }
    }
}

/// A connector's conflict settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictPolicy {
    /// `sluice.source.name`: the source system this connector reads; `None`: each event's
    /// Debezium `source.name`.
    pub source_name: Option<String>,
    /// `sluice.conflict.strategy`; `None`: no conflict detection (other sources' changes are
    /// ordered by source time, and nothing is recorded).
    pub strategy: Option<Strategy>,
    /// `sluice.conflict.source.priority`, highest first.
    pub priority: Vec<String>,
    /// `sluice.conflict.window.ms`: how close two sources' times must be to conflict.
    pub window_ms: i64,
    /// `sluice.conflict.field.<column>`.
    pub fields: Vec<(String, FieldStrategy)>,
}

/// Default `sluice.conflict.window.ms`: 5 minutes.
pub const DEFAULT_WINDOW_MS: i64 = 300_000;

/// Who wrote a version: the source system and its commit time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    /// Source system name.
    pub source: Option<String>,
    /// Source commit time, ms.
    pub ts_ms: Option<i64>,
}

/// Which side a resolution keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The incoming change is applied.
    Incoming,
    /// The row keeps its current value.
    Current,
    /// Nobody yet: manual review.
    Review,
}

/// What happens to a change to a key another source wrote last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Same source (or no writer known): the version guard decides.
    SameSource,
    /// Another source, outside the window (or detection off): newer in source time.
    Newer,
    /// Another source, outside the window (or detection off): older in source time.
    Older,
    /// A conflict, resolved at row level.
    Conflict(Winner),
}

impl ConflictPolicy {
    /// Rank of a source in the priority list (0 is highest); unlisted sources rank last.
    fn rank(&self, source: Option<&str>) -> usize {
        source
            .and_then(|s| self.priority.iter().position(|p| p == s))
            .unwrap_or(usize::MAX)
    }

    /// The winner under `strategy` between an incoming and a current writer.
    pub fn winner(&self, strategy: Strategy, incoming: &Writer, current: &Writer) -> Winner {
        let by_time = || match incoming.ts_ms.cmp(&current.ts_ms) {
            Ordering::Less => Winner::Current,
            Ordering::Greater | Ordering::Equal => Winner::Incoming,
        };
        let by_rank = || {
            let (i, c) = (
                self.rank(incoming.source.as_deref()),
                self.rank(current.source.as_deref()),
            );
            match i.cmp(&c) {
                Ordering::Less => Some(Winner::Incoming),
                Ordering::Greater => Some(Winner::Current),
                Ordering::Equal => None,
            }
        };
        match strategy {
            Strategy::ManualReview => Winner::Review,
            Strategy::SourcePriority => by_rank().unwrap_or_else(by_time),
            Strategy::LastWriteWins => match incoming.ts_ms.cmp(&current.ts_ms) {
                Ordering::Equal => by_rank().unwrap_or(Winner::Incoming),
                _ => by_time(),
            },
        }
    }

    /// Decides a change from `incoming` to a key last written by `current`.
    pub fn decide(&self, incoming: &Writer, current: Option<&Writer>) -> Decision {
        let Some(current) = current else {
            return Decision::SameSource;
        };
        match (&incoming.source, &current.source) {
            (Some(a), Some(b)) if a != b => {}
            // A row written before sources were recorded: with conflict detection on, its
            // version may be another source's, so it is not compared; the change adopts it.
            (Some(_), None) if self.strategy.is_some() => return Decision::Newer,
            _ => return Decision::SameSource,
        }
        let within = match (incoming.ts_ms, current.ts_ms) {
            (Some(a), Some(b)) => a.abs_diff(b) <= self.window_ms.unsigned_abs(),
            // Without both times nothing says they are apart.
            _ => true,
        };
        match self.strategy {
            Some(strategy) if within => {
                Decision::Conflict(self.winner(strategy, incoming, current))
            }
            _ => match incoming.ts_ms.cmp(&current.ts_ms) {
                Ordering::Less => Decision::Older,
                _ => Decision::Newer,
            },
        }
    }

    /// The strategy for one column: its own, else the row's.
    pub fn field_strategy(&self, column: &str) -> Option<FieldStrategy> {
        self.fields
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, s)| *s)
            .or(self.strategy.map(FieldStrategy::Row))
    }
}

/// Picks one column's value in a conflict: `true` takes the incoming value. Values are the
/// columns' text (`None` is NULL). `None` when the column needs manual review.
pub fn take_incoming(
    policy: &ConflictPolicy,
    strategy: FieldStrategy,
    incoming: (&Writer, Option<&str>),
    current: (&Writer, Option<&str>),
) -> Option<bool> {
    let compare = |a: &str, b: &str| match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    };
    Some(match strategy {
        FieldStrategy::Row(s) => match policy.winner(s, incoming.0, current.0) {
            Winner::Incoming => true,
            Winner::Current => false,
            Winner::Review => return None,
        },
        FieldStrategy::KeepNonNull => incoming.1.is_some() || current.1.is_none(),
        FieldStrategy::Max | FieldStrategy::Min => match (incoming.1, current.1) {
            (Some(i), Some(c)) => {
                let order = compare(i, c);
                if strategy == FieldStrategy::Max {
                    order != Ordering::Less
                } else {
                    order != Ordering::Greater
                }
            }
            // NULL never wins a comparison.
            (Some(_), None) => true,
            (None, _) => false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(source: &str, ts: i64) -> Writer {
        Writer {
            source: Some(source.into()),
            ts_ms: Some(ts),
        }
    }

    fn policy(strategy: Option<Strategy>) -> ConflictPolicy {
        ConflictPolicy {
            source_name: None,
            strategy,
            priority: vec!["crm".into(), "legacy".into()],
            window_ms: 1000,
            fields: vec![
                ("email".into(), FieldStrategy::Row(Strategy::SourcePriority)),
                ("score".into(), FieldStrategy::Max),
            ],
        }
    }

    #[test]
    fn decide_table() {
        use Decision::*;
        use Strategy::*;
        use Winner::*;
        type Case = (
            &'static str,
            Option<Strategy>,
            Writer,
            Option<Writer>,
            Decision,
        );
        let cases: &[Case] = &[
            (
                "new key",
                Some(LastWriteWins),
                w("crm", 10),
                None,
                SameSource,
            ),
            (
                "same source",
                Some(LastWriteWins),
                w("crm", 10),
                Some(w("crm", 50)),
                SameSource,
            ),
            (
                "row of unknown source, detection on",
                Some(LastWriteWins),
                w("crm", 10),
                Some(Writer::default()),
                Newer,
            ),
            (
                "row of unknown source, detection off",
                None,
                w("crm", 10),
                Some(Writer::default()),
                SameSource,
            ),
            (
                "other source, newer, no strategy",
                None,
                w("crm", 10_000),
                Some(w("legacy", 10)),
                Newer,
            ),
            (
                "other source, older, no strategy",
                None,
                w("crm", 10),
                Some(w("legacy", 10_000)),
                Older,
            ),
            (
                "outside the window: ordered by time",
                Some(ManualReview),
                w("crm", 5000),
                Some(w("legacy", 10)),
                Newer,
            ),
            (
                "lww: newer wins",
                Some(LastWriteWins),
                w("legacy", 900),
                Some(w("crm", 100)),
                Conflict(Incoming),
            ),
            (
                "lww: older loses",
                Some(LastWriteWins),
                w("crm", 100),
                Some(w("legacy", 900)),
                Conflict(Current),
            ),
            (
                "lww: tie to priority",
                Some(LastWriteWins),
                w("legacy", 100),
                Some(w("crm", 100)),
                Conflict(Current),
            ),
            (
                "lww: tie, incoming priority",
                Some(LastWriteWins),
                w("crm", 100),
                Some(w("legacy", 100)),
                Conflict(Incoming),
            ),
            (
                "priority: crm beats newer legacy",
                Some(SourcePriority),
                w("crm", 100),
                Some(w("legacy", 900)),
                Conflict(Incoming),
            ),
            (
                "priority: legacy loses to crm",
                Some(SourcePriority),
                w("legacy", 900),
                Some(w("crm", 100)),
                Conflict(Current),
            ),
            (
                "priority: unlisted ranks last",
                Some(SourcePriority),
                w("erp", 900),
                Some(w("legacy", 100)),
                Conflict(Current),
            ),
            (
                "priority: both unlisted, by time",
                Some(SourcePriority),
                w("erp", 900),
                Some(w("shop", 100)),
                Conflict(Incoming),
            ),
            (
                "review",
                Some(ManualReview),
                w("crm", 100),
                Some(w("legacy", 200)),
                Conflict(Review),
            ),
            (
                "no times: within",
                Some(LastWriteWins),
                Writer {
                    source: Some("crm".into()),
                    ts_ms: None,
                },
                Some(w("legacy", 5)),
                Conflict(Current),
            ),
        ];
        for (name, strategy, incoming, current, want) in cases {
            assert_eq!(
                policy(*strategy).decide(incoming, current.as_ref()),
                *want,
                "{name}"
            );
        }
    }

    #[test]
    fn field_strategies() {
        let p = policy(Some(Strategy::LastWriteWins));
        let (crm, legacy) = (w("crm", 100), w("legacy", 900));
        // email: CRM wins even though legacy is newer; other columns: the table's strategy.
        let email = p.field_strategy("email").unwrap();
        assert_eq!(
            take_incoming(&p, email, (&crm, Some("a")), (&legacy, Some("b"))),
            Some(true)
        );
        let status = p.field_strategy("status").unwrap();
        assert_eq!(
            take_incoming(&p, status, (&crm, Some("a")), (&legacy, Some("b"))),
            Some(false)
        );
        let score = p.field_strategy("score").unwrap();
        let cases = [
            (Some("10"), Some("9"), true),
            (Some("9"), Some("10"), false),
            (Some("9.5"), Some("10"), false),
            (None, Some("1"), false),
            (Some("1"), None, true),
        ];
        for (i, c, want) in cases {
            assert_eq!(
                take_incoming(&p, score, (&crm, i), (&legacy, c)),
                Some(want),
                "max {i:?} {c:?}"
            );
        }
        let min = FieldStrategy::Min;
        assert_eq!(
            take_incoming(&p, min, (&crm, Some("2")), (&legacy, Some("10"))),
            Some(true)
        );
        let keep = FieldStrategy::KeepNonNull;
        assert_eq!(
            take_incoming(&p, keep, (&crm, None), (&legacy, Some("x"))),
            Some(false)
        );
        assert_eq!(
            take_incoming(&p, keep, (&crm, Some("y")), (&legacy, Some("x"))),
            Some(true)
        );
        let review = FieldStrategy::Row(Strategy::ManualReview);
        assert_eq!(
            take_incoming(&p, review, (&crm, Some("y")), (&legacy, Some("x"))),
            None
        );
        for text in [
            "last_write_wins",
            "source_priority",
            "manual_review",
            "keep_non_null",
            "max",
            "min",
        ] {
            assert_eq!(
                FieldStrategy::parse(text).map(FieldStrategy::label),
                Some(text)
            );
        }
        assert!(FieldStrategy::parse("newest").is_none());
    }
}
