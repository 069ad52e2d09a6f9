//! The resolve stage's connector settings: late-arriving data (`sluice.late.*`,
//! `sluice.clock.skew.max.ms`) and multi-source conflicts (`sluice.source.name`,
//! `sluice.conflict.*`). Every problem names its key, like the rest of the connector config.

use super::values::{list, parse};
use crate::resolve::conflict::{ConflictPolicy, FieldStrategy, Strategy, DEFAULT_WINDOW_MS};
use crate::resolve::late::{LateConfig, LatePolicy};
use std::collections::BTreeMap;

/// The late-data settings.
pub(super) fn late_config(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> LateConfig {
    let millis = |key: &str, problems: &mut Vec<String>| {
        parse(
            map,
            key,
            None,
            problems,
            |s| s.parse::<i64>().ok().filter(|n| *n >= 0).map(Some),
            "milliseconds",
        )
    };
    let policy = parse(
        map,
        "sluice.late.policy",
        LatePolicy::Apply,
        problems,
        |s| match s {
            "apply" => Some(LatePolicy::Apply),
            "drop" => Some(LatePolicy::Drop),
            "review" => Some(LatePolicy::Review),
            "dead_letter" => Some(LatePolicy::DeadLetter),
            _ => None,
        },
        "apply, drop, dead_letter or review",
    );
    LateConfig {
        tolerance_ms: millis("sluice.late.tolerance.ms", problems),
        clock_skew_max_ms: millis("sluice.clock.skew.max.ms", problems),
        policy,
    }
}

/// The multi-source conflict settings; every unknown strategy names its key.
pub(super) fn conflict_policy(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> ConflictPolicy {
    let expected = "last_write_wins, source_priority or manual_review";
    let strategy = map.get("sluice.conflict.strategy").and_then(|raw| {
        let parsed = Strategy::parse(raw);
        if parsed.is_none() {
            problems.push(format!(
                "sluice.conflict.strategy: '{raw}' is not valid (expected {expected})"
            ));
        }
        parsed
    });
    let mut fields = Vec::new();
    for (key, raw) in map.range("sluice.conflict.field.".to_string()..) {
        let Some(column) = key.strip_prefix("sluice.conflict.field.") else {
            break;
        };
        match FieldStrategy::parse(raw) {
            Some(_) if column.is_empty() => {
                problems.push(format!("{key}: name a column after sluice.conflict.field."))
            }
            Some(FieldStrategy::Row(Strategy::ManualReview)) => problems.push(format!(
                "{key}: manual_review applies to whole rows (set sluice.conflict.strategy)"
            )),
            Some(s) => fields.push((column.to_string(), s)),
            None => problems.push(format!(
                "{key}: '{raw}' is not valid (expected {expected}, keep_non_null, max or min)"
            )),
        }
    }
    if strategy.is_none() && !fields.is_empty() {
        problems.push(
            "sluice.conflict.strategy: required with sluice.conflict.field.* (the strategy of the other columns)"
                .into(),
        );
    }
    let priority = list(map, "sluice.conflict.source.priority");
    let needs_priority = strategy == Some(Strategy::SourcePriority)
        || fields
            .iter()
            .any(|(_, s)| *s == FieldStrategy::Row(Strategy::SourcePriority));
    if needs_priority && priority.is_empty() {
        problems.push("sluice.conflict.source.priority: required by source_priority".into());
    }
    ConflictPolicy {
        source_name: map
            .get("sluice.source.name")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        strategy,
        priority,
        window_ms: parse(
            map,
            "sluice.conflict.window.ms",
            DEFAULT_WINDOW_MS,
            problems,
            |s| s.parse().ok().filter(|n: &i64| *n >= 0),
            "milliseconds",
        ),
        fields,
    }
}
