//! The plan: what to change so the cluster matches the definitions, computed from the
//! definitions and what the broker holds, with no I/O.
//!
//! Only safe changes are planned: create a missing named topic, raise a partition count, set a
//! declared config. Nothing is ever deleted; a declared config that is absent from a file is
//! left as the broker has it. What Kafka cannot do in place (fewer partitions, another
//! replication factor) or what the definitions contradict themselves on is a [`Refusal`].

use super::{Selector, TopicDefinition, TopicDefinitions};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A topic as the broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualTopic {
    /// Its name.
    pub name: String,
    /// Its partition count.
    pub partitions: i32,
    /// Its replication factor (the replicas of its first partition).
    pub replicas: i16,
    /// Its configs as DescribeConfigs reports them (every key a broker reports; tansu reports
    /// only those that were set).
    pub config: BTreeMap<String, String>,
}

/// One step of the plan, or one thing it will not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create a missing topic (configs included, so a second run finds nothing to set).
    Create {
        /// The topic.
        topic: String,
        /// Its partition count.
        partitions: i32,
        /// Its replication factor; `None`: the broker's default.
        replicas: Option<i16>,
        /// Its configs.
        config: BTreeMap<String, String>,
    },
    /// Add partitions to a topic.
    RaisePartitions {
        /// The topic.
        topic: String,
        /// The count now.
        from: i32,
        /// The count declared.
        to: i32,
    },
    /// Set one config of a topic (an incremental change: no other config is touched).
    SetConfig {
        /// The topic.
        topic: String,
        /// The config key.
        key: String,
        /// Its value now; `None` when the broker reports none.
        from: Option<String>,
        /// The declared value.
        to: String,
    },
    /// Drift that is reported, not changed.
    Refuse {
        /// The topic.
        topic: String,
        /// What and why.
        refusal: Refusal,
    },
    /// A pattern that matches no topic: reported, since a pattern never creates one.
    NoMatch {
        /// The pattern as written.
        pattern: String,
    },
}

/// Drift `topics apply` will not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Fewer partitions than the topic has: Kafka cannot remove partitions.
    LowerPartitions {
        /// The count now.
        from: i32,
        /// The count declared.
        to: i32,
    },
    /// Another replication factor: not a topic config (it takes a partition reassignment).
    ReplicationFactor {
        /// The factor now.
        from: i16,
        /// The factor declared.
        to: i16,
    },
    /// Patterns that match the topic declare different values for one field.
    Conflict {
        /// `partitions`, `replicas` or a config key.
        field: String,
        /// Each pattern and its value.
        values: Vec<(String, String)>,
    },
}

impl Change {
    /// A change to make (create, raise, set), as opposed to a refusal or a note.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Change::Create { .. } | Change::RaisePartitions { .. } | Change::SetConfig { .. }
        )
    }

    /// A refused change.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Change::Refuse { .. })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Create {
                topic,
                partitions,
                replicas,
                config,
            } => {
                write!(f, "create topic {topic} partitions={partitions} rf=")?;
                match replicas {
                    Some(r) => write!(f, "{r}")?,
                    None => f.write_str("default")?,
                }
                for (key, value) in config {
                    write!(f, " {key}={value}")?;
                }
                Ok(())
            }
            Change::RaisePartitions { topic, from, to } => {
                write!(f, "raise partitions {topic} {from} -> {to}")
            }
            Change::SetConfig {
                topic,
                key,
                from,
                to,
            } => {
                let from = from.as_deref().unwrap_or("(unset)");
                write!(f, "set config {topic} {key} {from} -> {to}")
            }
            Change::Refuse { topic, refusal } => match refusal {
                Refusal::LowerPartitions { from, to } => write!(
                    f,
                    "refuse lower partitions {topic} {from} -> {to} (Kafka cannot remove partitions)"
                ),
                Refusal::ReplicationFactor { from, to } => write!(
                    f,
                    "refuse replication factor {topic} {from} -> {to} (not a config: reassign \
                     the partitions, e.g. kafka-reassign-partitions)"
                ),
                Refusal::Conflict { field, values } => {
                    let values: Vec<String> =
                        values.iter().map(|(p, v)| format!("{p} says {v}")).collect();
                    write!(
                        f,
                        "refuse {field} of {topic}: the patterns disagree ({})",
                        values.join(", ")
                    )
                }
            },
            Change::NoMatch { pattern } => write!(
                f,
                "note: pattern {pattern} matches no topic (a pattern never creates topics)"
            ),
        }
    }
}

/// What the definitions ask of one topic, its conflicts apart.
struct Desired {
    partitions: Option<i32>,
    replicas: Option<i16>,
    config: BTreeMap<String, String>,
    conflicts: Vec<Refusal>,
}

/// The plan that aligns `actual` with `definitions`: per topic in name order, creation or
/// partitions first, then the replication check, then configs in key order; notes for
/// patterns that match nothing last.
pub fn plan(definitions: &TopicDefinitions, actual: &[ActualTopic]) -> Vec<Change> {
    let existing: BTreeMap<&str, &ActualTopic> =
        actual.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut names: BTreeSet<&str> = existing
        .keys()
        .copied()
        .filter(|name| definitions.selects(name))
        .collect();
    for definition in &definitions.topics {
        if let Selector::Name(name) = &definition.selector {
            names.insert(name);
        }
    }
    let mut changes = Vec::new();
    for name in &names {
        let desired = desired(definitions, name);
        let refusals = desired
            .conflicts
            .iter()
            .cloned()
            .map(|refusal| Change::Refuse {
                topic: name.to_string(),
                refusal,
            });
        match existing.get(name) {
            // Only a named definition gets here, and a name always declares partitions.
            None => changes.push(Change::Create {
                topic: name.to_string(),
                partitions: desired.partitions.unwrap_or(1),
                replicas: desired.replicas,
                config: desired.config.clone(),
            }),
            Some(topic) => changes.extend(drift(topic, &desired)),
        }
        changes.extend(refusals);
    }
    for definition in &definitions.topics {
        if let Selector::Pattern(p) = &definition.selector {
            if !names.iter().any(|n| definition.selector.selects(n)) {
                changes.push(Change::NoMatch {
                    pattern: p.source.clone(),
                });
            }
        }
    }
    changes
}

/// The differences between an existing topic and what is asked of it.
fn drift(topic: &ActualTopic, desired: &Desired) -> Vec<Change> {
    let name = || topic.name.clone();
    let mut changes = Vec::new();
    match desired.partitions {
        Some(to) if to > topic.partitions => changes.push(Change::RaisePartitions {
            topic: name(),
            from: topic.partitions,
            to,
        }),
        Some(to) if to < topic.partitions => changes.push(Change::Refuse {
            topic: name(),
            refusal: Refusal::LowerPartitions {
                from: topic.partitions,
                to,
            },
        }),
        _ => {}
    }
    if let Some(to) = desired.replicas.filter(|r| *r != topic.replicas) {
        changes.push(Change::Refuse {
            topic: name(),
            refusal: Refusal::ReplicationFactor {
                from: topic.replicas,
                to,
            },
        });
    }
    for (key, to) in &desired.config {
        let from = topic.config.get(key);
        if !from.is_some_and(|from| same_value(key, from, to)) {
            changes.push(Change::SetConfig {
                topic: name(),
                key: key.clone(),
                from: from.cloned(),
                to: to.clone(),
            });
        }
    }
    changes
}

/// Whether a broker's value is the declared one: the same text, except that
/// `cleanup.policy` is a set (`compact,delete` = `delete,compact`).
fn same_value(key: &str, actual: &str, declared: &str) -> bool {
    if key == "cleanup.policy" {
        let set =
            |v: &str| -> BTreeSet<String> { v.split(',').map(|p| p.trim().to_string()).collect() };
        return set(actual) == set(declared);
    }
    actual.trim() == declared.trim()
}

/// Merges what the definitions say of `topic`: its named definition wins field by field;
/// patterns fill the rest, and patterns that disagree on a field leave it alone (a conflict).
fn desired(definitions: &TopicDefinitions, topic: &str) -> Desired {
    let matching: Vec<&TopicDefinition> = definitions
        .topics
        .iter()
        .filter(|d| d.selector.selects(topic))
        .collect();
    let named = matching
        .iter()
        .find(|d| matches!(d.selector, Selector::Name(_)));
    let patterns: Vec<&&TopicDefinition> = matching
        .iter()
        .filter(|d| matches!(d.selector, Selector::Pattern(_)))
        .collect();
    let mut conflicts = Vec::new();
    // One field: the name's value, else the patterns' common value.
    let mut pick = |field: &str, of: &dyn Fn(&TopicDefinition) -> Option<String>| {
        if let Some(value) = named.and_then(|d| of(d)) {
            return Some(value);
        }
        let values: Vec<(String, String)> = patterns
            .iter()
            .filter_map(|d| of(d).map(|v| (d.selector.to_string(), v)))
            .collect();
        let first = values.first()?.1.clone();
        if values.iter().all(|(_, v)| same_value(field, v, &first)) {
            Some(first)
        } else {
            conflicts.push(Refusal::Conflict {
                field: field.to_string(),
                values,
            });
            None
        }
    };
    let partitions =
        pick("partitions", &|d| d.partitions.map(|n| n.to_string())).and_then(|n| n.parse().ok());
    let replicas =
        pick("replicas", &|d| d.replicas.map(|n| n.to_string())).and_then(|n| n.parse().ok());
    let keys: BTreeSet<&String> = matching.iter().flat_map(|d| d.config.keys()).collect();
    let mut config = BTreeMap::new();
    for key in keys {
        if let Some(value) = pick(key, &|d| d.config.get(key).cloned()) {
            config.insert(key.clone(), value);
        }
    }
    Desired {
        partitions,
        replicas,
        config,
        conflicts,
    }
}
