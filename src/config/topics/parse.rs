//! Reading definition files: JSON, every problem of every file at once, each naming the file
//! and the field (`topics[1].config.retention.ms`).

use super::{DefinitionErrors, Problem, Selector, TopicDefinition, TopicDefinitions, TopicPattern};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The fields of one topic entry.
const TOPIC_FIELDS: &str = "name, pattern, partitions, replicas, config, description";
/// Kafka's limit on a topic name's length.
const MAX_NAME: usize = 249;
/// The most partitions a definition may ask for (a typo guard, far above any real topic).
const MAX_PARTITIONS: i64 = 100_000;

/// Loads `path`: one definition file, or every `*.json` file of a directory (not its
/// subdirectories), in name order. Other files (a README) are ignored.
pub fn load(path: &Path) -> Result<TopicDefinitions, DefinitionErrors> {
    let mut problems = Vec::new();
    let whole = |reason: String| Problem {
        file: path.to_path_buf(),
        field: String::new(),
        reason,
    };
    let files = if path.is_dir() {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
                    .collect();
                files.sort();
                if files.is_empty() {
                    problems.push(whole("no *.json topic definition file in it".into()));
                }
                files
            }
            Err(e) => {
                problems.push(whole(format!("cannot read the directory: {e}")));
                Vec::new()
            }
        }
    } else {
        vec![path.to_path_buf()]
    };
    let mut definitions = TopicDefinitions::default();
    for file in files {
        let mut file_problems = FileProblems {
            file: &file,
            problems: &mut problems,
        };
        match std::fs::read_to_string(&file) {
            Err(e) => file_problems.push("", format!("cannot read: {e}")),
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Err(e) => file_problems.push("", format!("not valid JSON: {e}")),
                Ok(doc) => parse_file(&doc, &mut file_problems, &mut definitions.topics),
            },
        }
    }
    check_unique(&definitions.topics, &mut problems);
    if problems.is_empty() {
        Ok(definitions)
    } else {
        Err(DefinitionErrors(problems))
    }
}

/// Problems of one file.
struct FileProblems<'a> {
    file: &'a Path,
    problems: &'a mut Vec<Problem>,
}

impl FileProblems<'_> {
    fn push(&mut self, field: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            field: field.to_string(),
            reason: reason.into(),
        });
    }
}

fn parse_file(doc: &Value, problems: &mut FileProblems<'_>, out: &mut Vec<TopicDefinition>) {
    let Some(root) = doc.as_object() else {
        problems.push("", "expected an object {\"topics\": [...]}");
        return;
    };
    for key in root.keys() {
        if key != "topics" && key != "description" {
            problems.push(key, "unknown field (expected topics, description)");
        }
    }
    check_description(root, "", problems);
    let Some(topics) = root.get("topics") else {
        problems.push("topics", "missing (the list of topic definitions)");
        return;
    };
    let Some(topics) = topics.as_array() else {
        problems.push("topics", "expected a list of topic definitions");
        return;
    };
    for (i, entry) in topics.iter().enumerate() {
        let at = format!("topics[{i}]");
        if let Some(definition) = parse_topic(entry, &at, problems) {
            out.push(definition);
        }
    }
}

fn check_description(object: &Map<String, Value>, at: &str, problems: &mut FileProblems<'_>) {
    if object.get("description").is_some_and(|d| !d.is_string()) {
        problems.push(&join(at, "description"), "expected a string");
    }
}

fn join(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_string()
    } else {
        format!("{at}.{field}")
    }
}

/// One entry; `None` when it has a problem (already recorded).
fn parse_topic(
    entry: &Value,
    at: &str,
    problems: &mut FileProblems<'_>,
) -> Option<TopicDefinition> {
    let Some(object) = entry.as_object() else {
        problems.push(at, "expected an object with name or pattern");
        return None;
    };
    let before = problems.problems.len();
    for key in object.keys() {
        if !TOPIC_FIELDS.split(", ").any(|f| f == key) {
            problems.push(
                &join(at, key),
                format!("unknown field (expected {TOPIC_FIELDS})"),
            );
        }
    }
    check_description(object, at, problems);
    let selector = match (object.get("name"), object.get("pattern")) {
        (Some(_), Some(_)) => {
            problems.push(&join(at, "pattern"), "give name or pattern, not both");
            None
        }
        (None, None) => {
            problems.push(at, "missing name (one topic) or pattern (existing topics)");
            None
        }
        (Some(name), None) => topic_name(name, &join(at, "name"), problems).map(Selector::Name),
        (None, Some(pattern)) => match pattern.as_str() {
            None => {
                problems.push(
                    &join(at, "pattern"),
                    "expected a string (a regular expression)",
                );
                None
            }
            Some(source) => match TopicPattern::new(source) {
                Ok(p) => Some(Selector::Pattern(p)),
                Err(e) => {
                    // The last line of regex's multi-line message is the reason.
                    let text = e.to_string();
                    let reason = text
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("error: ");
                    problems.push(
                        &join(at, "pattern"),
                        format!("not a regular expression ({reason}): {source:?}"),
                    );
                    None
                }
            },
        },
    };
    let partitions = match object.get("partitions") {
        None => {
            if matches!(selector, Some(Selector::Name(_))) {
                problems.push(
                    &join(at, "partitions"),
                    "missing (a named topic is created with it)",
                );
            }
            None
        }
        Some(v) => {
            whole_number(v, 1, MAX_PARTITIONS, &join(at, "partitions"), problems).map(|n| n as i32)
        }
    };
    let replicas = object.get("replicas").and_then(|v| {
        whole_number(v, 1, i16::MAX.into(), &join(at, "replicas"), problems).map(|n| n as i16)
    });
    let config = match object.get("config") {
        None => BTreeMap::new(),
        Some(v) => configs(v, &join(at, "config"), problems),
    };
    if problems.problems.len() > before {
        return None;
    }
    Some(TopicDefinition {
        selector: selector?,
        partitions,
        replicas,
        config,
        file: problems.file.to_path_buf(),
    })
}

/// A legal Kafka topic name: `[a-zA-Z0-9._-]`, at most 249 characters, not `.` or `..`.
fn topic_name(value: &Value, at: &str, problems: &mut FileProblems<'_>) -> Option<String> {
    let Some(name) = value.as_str() else {
        problems.push(at, "expected a string");
        return None;
    };
    let legal = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name == "." || name == ".." || name.len() > MAX_NAME || !legal {
        problems.push(
            at,
            format!(
                "{name:?} is not a legal topic name (letters, digits, '.', '_', '-'; at most \
                 {MAX_NAME} characters; not '.' or '..')"
            ),
        );
        return None;
    }
    Some(name.to_string())
}

fn whole_number(
    value: &Value,
    min: i64,
    max: i64,
    at: &str,
    problems: &mut FileProblems<'_>,
) -> Option<i64> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(
                at,
                format!("expected a whole number from {min} to {max}, got {value}"),
            );
            None
        }
    }
}

/// The `config` map: keys as Kafka names them, values strings, numbers or booleans (written
/// as Kafka takes them). A few keys are checked here so a typo fails before the broker.
fn configs(value: &Value, at: &str, problems: &mut FileProblems<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(map) = value.as_object() else {
        problems.push(at, "expected an object of topic configs");
        return out;
    };
    for (key, value) in map {
        let field = join(at, key);
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                problems.push(&field, "expected a string, number or boolean");
                continue;
            }
        };
        if let Some(reason) = config_problem(key, &text) {
            problems.push(&field, reason);
            continue;
        }
        out.insert(key.clone(), text);
    }
    out
}

/// What is wrong with one config entry, if anything.
fn config_problem(key: &str, value: &str) -> Option<String> {
    let legal_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !legal_key {
        return Some("not a topic config name (lower case, digits, '.', '_', '-')".into());
    }
    if matches!(
        key,
        "partitions" | "num.partitions" | "replicas" | "replication.factor"
    ) {
        return Some("not a topic config: use the partitions / replicas fields".into());
    }
    if key == "cleanup.policy" {
        let ok = !value.is_empty()
            && value
                .split(',')
                .all(|p| matches!(p.trim(), "delete" | "compact"));
        return (!ok).then(|| format!("expected delete, compact or compact,delete, got {value:?}"));
    }
    let numeric = key.ends_with(".ms") || key.ends_with(".bytes");
    if numeric && value.parse::<i64>().map_or(true, |n| n < -1) {
        return Some(format!(
            "expected a whole number (-1 or more), got {value:?}"
        ));
    }
    None
}

/// A topic named twice, or a pattern written twice, is a problem naming both places.
fn check_unique(topics: &[TopicDefinition], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for definition in topics {
        let (key, what) = match &definition.selector {
            Selector::Name(n) => (format!("name:{n}"), format!("topic {n}")),
            Selector::Pattern(p) => (
                format!("pattern:{}", p.source),
                format!("pattern {}", p.source),
            ),
        };
        if let Some(first) = seen.get(&key) {
            problems.push(Problem {
                file: definition.file.clone(),
                field: String::new(),
                reason: format!("{what} is defined twice (also in {})", first.display()),
            });
        } else {
            seen.insert(key, &definition.file);
        }
    }
}
