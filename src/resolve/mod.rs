//! Resolve: decide what happens to each change before it reaches the sink.
//!
//! The decision is a closed [`Outcome`] — apply, drop (with the reason counted), hold for
//! review, or dead-letter — and the whole decision table is here: the late-data policy
//! ([`late::decide`]), then for each key the source policy and the version guard ([`decide`]).
//! The sink only carries the outcome out. The version guard is the rule every write passes: a
//! change older than what the target already holds for its key is skipped (and counted), so
//! replays and late events never move a row backwards; an equal version is applied again, so a
//! replay after a fixed transform rewrites rows.

pub mod conflict;
pub mod late;
pub mod version;

use std::cmp::Ordering;
pub use version::{Version, VersionKind};

/// What the target holds for a key (from `sluice_row_versions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredVersion {
    /// The version that last wrote (or deleted) the key.
    pub version: Version,
    /// Whether that write was a delete (a version tombstone).
    pub deleted: bool,
}

/// Why a change was not applied; the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Older than the version the target holds for the key.
    Stale,
    /// Older than the table's last truncate.
    BeforeTruncate,
    /// A delete, and `delete.enabled` is false.
    DeleteDisabled,
    /// A truncate, and `truncate.enabled` is false.
    TruncateDisabled,
    /// Lost a multi-source conflict: the row keeps the other source's value.
    ConflictLost,
    /// A multi-source conflict waiting for manual review.
    ConflictReview,
    /// Late or future-dated, and `sluice.late.policy=drop`.
    Late,
}

impl SkipReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::Stale => "stale_version",
            SkipReason::BeforeTruncate => "before_truncate",
            SkipReason::DeleteDisabled => "delete_disabled",
            SkipReason::TruncateDisabled => "truncate_disabled",
            SkipReason::ConflictLost => "conflict_lost",
            SkipReason::ConflictReview => "conflict_review",
            SkipReason::Late => "late",
        }
    }
}

/// The decision for one change: the one answer that leaves the resolve stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Write it.
    Apply,
    /// Do not write it; counted with the reason.
    Drop(SkipReason),
    /// Do not write it; record it, with the row as it is, for an operator's review
    /// (`sluice_conflicts`, pending; `sluice conflicts resolve`).
    Review,
    /// Do not write it; dead-letter the record (stage `resolve`).
    DeadLetter,
}

/// The decision table for one change to a key whose late-data outcome let it through:
/// `held` — the late policy holds it for review; `decision` — how its source relates to the
/// key's current writer; `merging` — the current writer won a conflict but column strategies
/// take some incoming values; then the version guard against the key's `current` version and
/// the table's last truncate by the same source.
pub fn decide(
    held: bool,
    decision: conflict::Decision,
    merging: bool,
    version: &Version,
    current: Option<&StoredVersion>,
    truncated: Option<&Version>,
) -> Outcome {
    use conflict::{Decision, Winner};
    if held {
        return Outcome::Review;
    }
    match decision {
        Decision::SameSource => guard(version, current, truncated),
        Decision::Newer => guard(version, None, truncated),
        Decision::Older => Outcome::Drop(SkipReason::Stale),
        Decision::Conflict(Winner::Incoming) => guard(version, None, truncated),
        Decision::Conflict(Winner::Current) if merging => guard(version, None, truncated),
        Decision::Conflict(Winner::Review) => Outcome::Review,
        Decision::Conflict(Winner::Current) => Outcome::Drop(SkipReason::ConflictLost),
    }
}

/// The version guard for one change to a key.
///
/// `current` is the newest version seen for the key (stored, or applied earlier in the same
/// batch); `truncated` is the table's last truncate version.
pub fn guard(
    version: &Version,
    current: Option<&StoredVersion>,
    truncated: Option<&Version>,
) -> Outcome {
    if let Some(t) = truncated {
        if version.compare(t) == Some(Ordering::Less) {
            return Outcome::Drop(SkipReason::BeforeTruncate);
        }
    }
    match current.and_then(|c| version.compare(&c.version)) {
        Some(Ordering::Less) => Outcome::Drop(SkipReason::Stale),
        _ => Outcome::Apply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(n: i64) -> Version {
        Version {
            kind: VersionKind::PgLsn,
            hi: n,
            lo: 0,
        }
    }

    /// name, event version, stored version, truncate version, expected outcome.
    type Case = (
        &'static str,
        Version,
        Option<StoredVersion>,
        Option<Version>,
        Outcome,
    );

    #[test]
    fn guard_table() {
        let live = |n| StoredVersion {
            version: lsn(n),
            deleted: false,
        };
        let tomb = |n| StoredVersion {
            version: lsn(n),
            deleted: true,
        };
        let fallback = Version {
            kind: VersionKind::TimestampOffset,
            hi: 1,
            lo: 1,
        };
        let cases: &[Case] = &[
            ("new key", lsn(5), None, None, Outcome::Apply),
            ("newer", lsn(6), Some(live(5)), None, Outcome::Apply),
            (
                "equal re-applies",
                lsn(5),
                Some(live(5)),
                None,
                Outcome::Apply,
            ),
            (
                "older skipped",
                lsn(4),
                Some(live(5)),
                None,
                Outcome::Drop(SkipReason::Stale),
            ),
            (
                "older than tombstone",
                lsn(4),
                Some(tomb(5)),
                None,
                Outcome::Drop(SkipReason::Stale),
            ),
            (
                "newer than tombstone",
                lsn(6),
                Some(tomb(5)),
                None,
                Outcome::Apply,
            ),
            (
                "before truncate",
                lsn(4),
                None,
                Some(lsn(5)),
                Outcome::Drop(SkipReason::BeforeTruncate),
            ),
            ("after truncate", lsn(6), None, Some(lsn(5)), Outcome::Apply),
            (
                "other clock applies",
                fallback,
                Some(live(5)),
                None,
                Outcome::Apply,
            ),
        ];
        for (name, version, current, truncated, expected) in cases {
            assert_eq!(
                guard(version, current.as_ref(), truncated.as_ref()),
                *expected,
                "{name}"
            );
        }
    }

    #[test]
    fn mysql_and_fallback_versions_order() {
        let a = Version {
            kind: VersionKind::MysqlBinlog,
            hi: 3,
            lo: 10 << 16,
        };
        let b = Version {
            kind: VersionKind::MysqlBinlog,
            hi: 4,
            lo: 0,
        };
        assert_eq!(a.compare(&b), Some(Ordering::Less));
        assert_eq!(a.compare(&lsn(1)), None);
    }

    #[test]
    fn the_decision_table() {
        use conflict::{Decision, Winner};
        let (v, older) = (lsn(5), lsn(3));
        let current = Some(StoredVersion {
            version: lsn(4),
            deleted: false,
        });
        let newer = StoredVersion {
            version: lsn(9),
            deleted: false,
        };
        let decide_for =
            |held, decision, merging| decide(held, decision, merging, &v, current.as_ref(), None);
        assert_eq!(
            decide_for(true, Decision::SameSource, false),
            Outcome::Review
        );
        assert_eq!(
            decide_for(false, Decision::SameSource, false),
            Outcome::Apply
        );
        assert_eq!(
            decide(false, Decision::SameSource, false, &v, Some(&newer), None),
            Outcome::Drop(SkipReason::Stale)
        );
        // Another source's newer change is not compared with this key's version ...
        assert_eq!(
            decide(false, Decision::Newer, false, &v, Some(&newer), None),
            Outcome::Apply
        );
        // ... but with the truncate of its own source.
        assert_eq!(
            decide(false, Decision::Newer, false, &older, None, Some(&v)),
            Outcome::Drop(SkipReason::BeforeTruncate)
        );
        assert_eq!(
            decide_for(false, Decision::Older, false),
            Outcome::Drop(SkipReason::Stale)
        );
        let conflict = |w| Decision::Conflict(w);
        assert_eq!(
            decide_for(false, conflict(Winner::Incoming), false),
            Outcome::Apply
        );
        assert_eq!(
            decide_for(false, conflict(Winner::Review), false),
            Outcome::Review
        );
        assert_eq!(
            decide_for(false, conflict(Winner::Current), false),
            Outcome::Drop(SkipReason::ConflictLost)
        );
        assert_eq!(
            decide_for(false, conflict(Winner::Current), true),
            Outcome::Apply
        );
    }
}
