//! Kafka Connect predicates (`predicates.<name>.type`), which make a transform conditional.

use super::Headers;
use crate::event::ChangeEvent;
use regex::Regex;

/// A configured predicate.
#[derive(Debug, Clone)]
pub(super) enum Predicate {
    /// `TopicNameMatches`: the topic (as earlier transforms left it) matches `pattern` whole.
    TopicNameMatches(Regex),
    /// `RecordIsTombstone`: the record has a null value. Tombstones never reach the
    /// transforms in sluice (they carry no row), so this is false for every change.
    RecordIsTombstone,
    /// `HasHeaderKey`: the record has at least one header with this name.
    HasHeaderKey(String),
}

impl Predicate {
    /// Whether the predicate holds for the change.
    pub(super) fn test(&self, event: &ChangeEvent, headers: Headers<'_>) -> bool {
        match self {
            Predicate::TopicNameMatches(re) => re.is_match(event.topic()),
            Predicate::RecordIsTombstone => false,
            Predicate::HasHeaderKey(name) => headers.iter().any(|(k, _)| k == name),
        }
    }
}
