//! Reading `transforms.*` and `predicates.*` from a connector config into a [`Chain`].
//!
//! Every problem names its key, like the rest of the connector config: an unknown transform
//! type, a missing or bad option, an option the transform does not have, a predicate that is
//! not declared.

use super::cast::{Cast, Target};
use super::fields::{java_replacement, Insert, Inserted, Mask, Replace, Route};
use super::predicate::Predicate;
use super::timestamp::{java_formats, Converter, Precision, TargetType};
use super::unwrap::{AddField, DeleteMode, Unwrap};
use super::{Chain, Part, Step, Transform};
use regex::Regex;
use std::collections::BTreeMap;

const CONNECT: &str = "org.apache.kafka.connect.transforms.";
const UNWRAP: &str = "io.debezium.transforms.ExtractNewRecordState";

/// Options every transform has.
const COMMON: &[&str] = &["type", "predicate", "negate"];

/// Debezium unwrap options that only shape Kafka records sluice never produces (headers,
/// tombstone records, schema defaults): accepted, with no effect on the tables.
const UNWRAP_NO_EFFECT: &[&str] = &[
    "drop.tombstones",
    "add.headers",
    "add.headers.prefix",
    "replace.null.with.default",
];

/// Reads the transform chain. Problems are appended to `problems`; keys that are accepted but
/// change nothing are appended to `no_effect`.
pub fn parse_chain(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
    no_effect: &mut Vec<String>,
) -> Chain {
    let aliases = list(map.get("transforms").map(String::as_str).unwrap_or(""));
    let predicates = parse_predicates(map, problems);
    for key in map.keys() {
        if let Some(rest) = key.strip_prefix("transforms.") {
            let alias = rest.split('.').next().unwrap_or("");
            if !aliases.iter().any(|a| a == alias) {
                problems.push(format!("{key}: {alias} is not listed in transforms"));
            }
        }
    }
    let mut steps = Vec::new();
    for alias in aliases {
        let options = Options {
            map,
            prefix: format!("transforms.{alias}."),
        };
        let Some(class) = options.get("type") else {
            problems.push(format!("transforms.{alias}.type: required"));
            continue;
        };
        let mut local = Vec::new();
        let (transform, known, ignored) = build(class, &options, &mut local);
        if let Some(known) = known {
            for key in options.keys() {
                if ignored.contains(&key) {
                    no_effect.push(options.key(key));
                } else if !known.contains(&key) && !COMMON.contains(&key) {
                    local.push(format!("{}: {class} has no option {key}", options.key(key)));
                }
            }
        }
        let predicate = options.get("predicate").and_then(|name| {
            let found = predicates.get(name).cloned();
            if found.is_none() {
                local.push(format!(
                    "{}: predicate {name} is not declared in predicates",
                    options.key("predicate")
                ));
            }
            found
        });
        let negate = match options.get("negate") {
            None => false,
            Some(v) => match v.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    local.push(format!(
                        "{}: '{v}' is not true or false",
                        options.key("negate")
                    ));
                    false
                }
            },
        };
        if options.get("negate").is_some() && options.get("predicate").is_none() {
            local.push(format!("{}: needs a predicate", options.key("negate")));
        }
        if local.is_empty() {
            if let Some(transform) = transform {
                steps.push(Step {
                    alias: alias.clone(),
                    class: class.to_string(),
                    transform,
                    predicate: predicate.map(|p| (p, negate)),
                });
            }
        }
        problems.extend(local);
    }
    Chain { steps }
}

/// The options of one transform or predicate (`transforms.<alias>.<option>`).
struct Options<'a> {
    map: &'a BTreeMap<String, String>,
    prefix: String,
}

impl Options<'_> {
    fn get(&self, option: &str) -> Option<&str> {
        self.map.get(&self.key(option)).map(String::as_str)
    }

    fn key(&self, option: &str) -> String {
        format!("{}{option}", self.prefix)
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.map
            .keys()
            .filter_map(|k| k.strip_prefix(self.prefix.as_str()))
    }

    fn required(&self, option: &str, problems: &mut Vec<String>) -> Option<&str> {
        let value = self.get(option).filter(|v| !v.trim().is_empty());
        if value.is_none() {
            problems.push(format!("{}: required", self.key(option)));
        }
        value
    }

    fn list(&self, option: &str) -> Vec<String> {
        list(self.get(option).unwrap_or(""))
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `Name$Key` / `Name$Value` into the name and part.
fn part_of(class: &str) -> (&str, Option<Part>) {
    match class.rsplit_once('$') {
        Some((name, "Key")) => (name, Some(Part::Key)),
        Some((name, "Value")) => (name, Some(Part::Value)),
        _ => (class, None),
    }
}

type Built = (
    Option<Transform>,
    Option<&'static [&'static str]>,
    &'static [&'static str],
);

/// The transform of `class`, the options it knows, and the options it accepts without effect.
/// A `None` option list means the class was refused (the problem is recorded).
fn build(class: &str, o: &Options<'_>, problems: &mut Vec<String>) -> Built {
    let type_key = o.key("type");
    let (name, part) = part_of(class);
    let short = name.strip_prefix(CONNECT);
    let needs_part = |problems: &mut Vec<String>| {
        if part.is_none() {
            problems.push(format!("{type_key}: use {class}$Key or {class}$Value"));
        }
        part
    };
    match (short, class) {
        (Some("RegexRouter"), _) => {
            let regex = o.required("regex", problems).and_then(|r| {
                Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| problems.push(format!("{}: invalid pattern: {e}", o.key("regex"))))
                    .ok()
            });
            let replacement = o.required("replacement", problems).map(java_replacement);
            let route = regex
                .zip(replacement)
                .map(|(regex, replacement)| Transform::Route(Route { regex, replacement }));
            (route, Some(&["regex", "replacement"]), &[])
        }
        (Some("ReplaceField"), _) => {
            let part = needs_part(problems);
            let mut renames = Vec::new();
            for pair in o.list("renames") {
                match pair.split_once(':') {
                    Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                        renames.push((from.trim().to_string(), to.trim().to_string()))
                    }
                    _ => problems.push(format!("{}: '{pair}' is not old:new", o.key("renames"))),
                }
            }
            let include = [o.list("include"), o.list("whitelist")].concat();
            let exclude = [o.list("exclude"), o.list("blacklist")].concat();
            let replace = Replace {
                include,
                exclude,
                renames,
            };
            (
                part.map(|p| Transform::Replace(p, replace)),
                Some(&["include", "exclude", "renames", "whitelist", "blacklist"]),
                &[],
            )
        }
        (Some("MaskField"), _) => {
            let part = needs_part(problems);
            let fields = o.list("fields");
            if fields.is_empty() {
                problems.push(format!("{}: required", o.key("fields")));
            }
            let mask = Mask {
                fields,
                replacement: o.get("replacement").map(String::from),
            };
            (
                part.map(|p| Transform::Mask(p, mask)),
                Some(&["fields", "replacement"]),
                &[],
            )
        }
        (Some("InsertField"), _) => {
            let part = needs_part(problems);
            let mut spec = |option: &str| {
                let raw = o.get(option)?;
                let parsed = Inserted::parse(raw);
                if parsed.is_none() {
                    problems.push(format!("{}: '{raw}' is not a field name", o.key(option)));
                }
                parsed
            };
            let mut insert = Insert {
                topic: spec("topic.field"),
                partition: spec("partition.field"),
                offset: spec("offset.field"),
                timestamp: spec("timestamp.field"),
                static_field: None,
            };
            if let Some(field) = spec("static.field") {
                match o.get("static.value") {
                    Some(value) => insert.static_field = Some((field, value.to_string())),
                    None => problems.push(format!(
                        "{}: required with static.field",
                        o.key("static.value")
                    )),
                }
            }
            (
                part.map(|p| Transform::Insert(p, insert)),
                Some(&[
                    "topic.field",
                    "partition.field",
                    "offset.field",
                    "timestamp.field",
                    "static.field",
                    "static.value",
                ]),
                &[],
            )
        }
        (Some("ValueToKey"), _) => {
            let fields = o.list("fields");
            if fields.is_empty() {
                problems.push(format!("{}: required", o.key("fields")));
            }
            (Some(Transform::ValueToKey(fields)), Some(&["fields"]), &[])
        }
        (Some("Cast"), _) => {
            let part = needs_part(problems);
            let mut casts = Vec::new();
            for item in o.list("spec") {
                match item.split_once(':').map(|(f, t)| (f.trim(), Target::parse(t))) {
                    Some((field, Some(target))) if !field.is_empty() => {
                        casts.push((field.to_string(), target))
                    }
                    _ => problems.push(format!(
                        "{}: '{item}' is not field:type (types: int8, int16, int32, int64, float32, float64, boolean, string; a whole-row cast does not apply to a table row)",
                        o.key("spec")
                    )),
                }
            }
            if o.get("spec").is_none() {
                problems.push(format!("{}: required", o.key("spec")));
            }
            (
                part.map(|p| Transform::Cast(p, Cast { casts })),
                Some(&["spec"]),
                &["replace.null.with.default"],
            )
        }
        (Some("TimestampConverter"), _) => {
            let part = needs_part(problems);
            (
                timestamp_converter(o, problems)
                    .and_then(|c| part.map(|p| Transform::Timestamp(p, c))),
                Some(&["field", "target.type", "format", "unix.precision"]),
                &["replace.null.with.default"],
            )
        }
        (Some("Filter"), _) => (Some(Transform::Filter), Some(&[]), &[]),
        (Some("ExtractField"), _) => {
            let field = o.get("field").unwrap_or("");
            if part != Some(Part::Value) || field.trim() != "after" {
                problems.push(format!(
                    "{type_key}: only ExtractField$Value with field=after (the row state) can feed a table"
                ));
            }
            let unwrap = Unwrap {
                deletes: DeleteMode::Delete,
                tombstone_deletes: false,
                add_fields: Vec::new(),
                route_by_field: None,
            };
            (Some(Transform::Unwrap(unwrap)), Some(&["field"]), &[])
        }
        (Some("HoistField"), _) => {
            problems.push(format!(
                "{type_key}: {class} wraps the row in a struct, which a table sink cannot write"
            ));
            (None, None, &[])
        }
        (_, UNWRAP) => (
            unwrap(o, problems).map(Transform::Unwrap),
            Some(&[
                "delete.tombstone.handling.mode",
                "delete.handling.mode",
                "add.fields",
                "add.fields.prefix",
                "route.by.field",
            ]),
            UNWRAP_NO_EFFECT,
        ),
        _ => {
            problems.push(format!("{type_key}: unknown transform type {class}"));
            (None, None, &[])
        }
    }
}

fn timestamp_converter(o: &Options<'_>, problems: &mut Vec<String>) -> Option<Converter> {
    let field = o.get("field").filter(|f| !f.trim().is_empty());
    if field.is_none() {
        problems.push(format!(
            "{}: required (a table row is converted one column at a time)",
            o.key("field")
        ));
    }
    let target = o.required("target.type", problems).and_then(|t| {
        let parsed = TargetType::parse(t);
        if parsed.is_none() {
            problems.push(format!(
                "{}: '{t}' is not string, unix, Date, Time or Timestamp",
                o.key("target.type")
            ));
        }
        parsed
    });
    let format = match o.get("format").filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => match java_formats(f) {
            Ok(f) => Some(f),
            Err(e) => {
                problems.push(format!("{}: {e}", o.key("format")));
                return None;
            }
        },
    };
    if target == Some(TargetType::String) && format.is_none() {
        problems.push(format!(
            "{}: required when target.type=string",
            o.key("format")
        ));
    }
    let precision = match o.get("unix.precision") {
        None => Precision::Millis,
        Some(p) => Precision::parse(p).or_else(|| {
            problems.push(format!(
                "{}: '{p}' is not seconds, milliseconds, microseconds or nanoseconds",
                o.key("unix.precision")
            ));
            None
        })?,
    };
    Some(Converter {
        field: field?.trim().to_string(),
        target: target?,
        format,
        precision,
    })
}

fn unwrap(o: &Options<'_>, problems: &mut Vec<String>) -> Option<Unwrap> {
    let mode = |option: &str, problems: &mut Vec<String>| {
        let raw = o.get(option)?;
        let parsed = DeleteMode::parse(raw);
        if parsed.is_none() {
            problems.push(format!(
                "{}: '{raw}' is not drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone",
                o.key(option)
            ));
        }
        parsed
    };
    let current = mode("delete.tombstone.handling.mode", problems);
    let legacy = mode("delete.handling.mode", problems);
    // Whether the tombstone after each delete stays in the stream (with a rewrite).
    let keeps_tombstone = match (current, legacy) {
        (Some(m), _) => m == DeleteMode::RewriteWithTombstone,
        (None, Some(DeleteMode::Rewrite)) => {
            o.get("drop.tombstones").map(str::trim) == Some("false")
        }
        _ => false,
    };
    let deletes = match current.or(legacy).unwrap_or(DeleteMode::Delete) {
        DeleteMode::RewriteWithTombstone => DeleteMode::Rewrite,
        other => other,
    };
    let delete_enabled = o.map.get("delete.enabled").map(|v| v.trim()) == Some("true");
    let prefix = o.get("add.fields.prefix").unwrap_or("__");
    let mut add_fields = Vec::new();
    for spec in o.list("add.fields") {
        match AddField::parse(&spec, prefix) {
            Some(field) => add_fields.push(field),
            None => problems.push(format!("{}: '{spec}' is not a field", o.key("add.fields"))),
        }
    }
    Some(Unwrap {
        deletes,
        tombstone_deletes: keeps_tombstone && delete_enabled,
        add_fields,
        route_by_field: o
            .get("route.by.field")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(String::from),
    })
}

/// Reads `predicates` and `predicates.<name>.*`.
fn parse_predicates(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Predicate> {
    const PREDICATES: &str = "org.apache.kafka.connect.transforms.predicates.";
    let names = list(map.get("predicates").map(String::as_str).unwrap_or(""));
    for key in map.keys() {
        if let Some(rest) = key.strip_prefix("predicates.") {
            let name = rest.split('.').next().unwrap_or("");
            if !names.iter().any(|n| n == name) {
                problems.push(format!("{key}: {name} is not listed in predicates"));
            }
        }
    }
    let mut out = BTreeMap::new();
    for name in names {
        let o = Options {
            map,
            prefix: format!("predicates.{name}."),
        };
        let Some(class) = o.required("type", problems) else {
            continue;
        };
        let (predicate, known): (Option<Predicate>, &[&str]) = match class.strip_prefix(PREDICATES)
        {
            Some("TopicNameMatches") => (
                o.required("pattern", problems).and_then(|p| {
                    Regex::new(&format!("^(?:{p})$"))
                        .map_err(|e| {
                            problems.push(format!("{}: invalid pattern: {e}", o.key("pattern")))
                        })
                        .ok()
                        .map(Predicate::TopicNameMatches)
                }),
                &["pattern"],
            ),
            Some("RecordIsTombstone") => (Some(Predicate::RecordIsTombstone), &[]),
            Some("HasHeaderKey") => (
                o.required("name", problems)
                    .map(|n| Predicate::HasHeaderKey(n.to_string())),
                &["name"],
            ),
            _ => {
                problems.push(format!("{}: unknown predicate type {class}", o.key("type")));
                continue;
            }
        };
        for key in o.keys() {
            if key != "type" && !known.contains(&key) {
                problems.push(format!("{}: {class} has no option {key}", o.key(key)));
            }
        }
        if let Some(p) = predicate {
            out.insert(name, p);
        }
    }
    out
}
