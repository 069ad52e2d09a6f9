//! Declarative topic definitions (`topics/*.json`, read by `sluice topics apply`) and the plan
//! that aligns a cluster with them.
//!
//! A file is `{"topics": [...]}`; each entry names one topic (`name`) or every existing topic
//! matching a regular expression (`pattern`), with `partitions`, `replicas` and a `config`
//! map of topic configs, in the spirit of Strimzi's `KafkaTopic` spec. Loading collects every
//! problem of every file at once ([`parse`]); planning is a pure function of the definitions
//! and what the broker holds ([`plan`]), so it is tested without a broker.

mod parse;
pub mod plan;
#[cfg(test)]
mod tests;

pub use parse::load;
pub use plan::{plan, ActualTopic, Change, Refusal};

use regex::Regex;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Which topics a definition is about.
#[derive(Debug, Clone)]
pub enum Selector {
    /// One topic, created when missing.
    Name(String),
    /// Every existing topic whose whole name matches (Java's `Matcher.matches`, as
    /// `topics.regex`); never creates a topic. Internal topics (`__*`) are never matched.
    Pattern(TopicPattern),
}

/// A topic pattern: the expression as written and its compiled, anchored form.
#[derive(Debug, Clone)]
pub struct TopicPattern {
    /// As written in the file.
    pub source: String,
    /// `^(?:source)$`.
    regex: Regex,
}

impl TopicPattern {
    /// Compiles `source`, anchored at both ends.
    pub fn new(source: &str) -> Result<TopicPattern, regex::Error> {
        // Compiled alone first, so an error points into the pattern as written.
        Regex::new(source)?;
        Ok(TopicPattern {
            source: source.to_string(),
            regex: Regex::new(&format!("^(?:{source})$"))?,
        })
    }
}

impl Selector {
    /// Whether this selector is about `topic`.
    pub fn selects(&self, topic: &str) -> bool {
        match self {
            Selector::Name(name) => name == topic,
            Selector::Pattern(p) => !topic.starts_with("__") && p.regex.is_match(topic),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Name(name) => f.write_str(name),
            Selector::Pattern(p) => write!(f, "pattern {}", p.source),
        }
    }
}

/// One topic definition, as declared.
#[derive(Debug, Clone)]
pub struct TopicDefinition {
    /// The topic, or the pattern of topics.
    pub selector: Selector,
    /// The partition count (required for a name: it is what a topic is created with).
    pub partitions: Option<i32>,
    /// The replication factor; `None`: the broker's `default.replication.factor`, not checked.
    pub replicas: Option<i16>,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...), values as Kafka takes them.
    pub config: BTreeMap<String, String>,
    /// The file it came from (for messages).
    pub file: PathBuf,
}

/// Every definition of a directory, names unique, patterns unique.
#[derive(Debug, Clone, Default)]
pub struct TopicDefinitions {
    /// In file order, files sorted by name.
    pub topics: Vec<TopicDefinition>,
}

impl TopicDefinitions {
    /// Whether any definition is about `topic` (which topics' configs to ask the broker for).
    pub fn selects(&self, topic: &str) -> bool {
        self.topics.iter().any(|d| d.selector.selects(topic))
    }
}

/// One problem of a definition file: the file, the field (a path such as
/// `topics[2].partitions`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or directory) at fault.
    pub file: PathBuf,
    /// Where in it; empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.reason
            )
        }
    }
}

/// Why the definitions could not be loaded: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid topic definitions:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct DefinitionErrors(pub Vec<Problem>);
