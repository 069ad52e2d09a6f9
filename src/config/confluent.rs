//! Keys of Confluent's JDBC sink (`io.confluent.connect.jdbc.JdbcSinkConnector`), read as their
//! Debezium JDBC sink equivalents, so configs written for it (usually with Debezium's
//! `ExtractNewRecordState`) can be pasted unchanged.

use std::collections::BTreeMap;

/// Confluent key -> Debezium JDBC sink key, for keys whose values mean the same.
const RENAMED: &[(&str, &str)] = &[
    ("pk.mode", "primary.key.mode"),
    ("pk.fields", "primary.key.fields"),
    ("connection.user", "connection.username"),
    ("fields.whitelist", "field.include.list"),
];

/// Confluent keys that [`translate`] turns into sluice settings.
const TRANSLATED: &[&str] = &["auto.create", "auto.evolve", "quote.sql.identifiers"];

/// Confluent keys that tune its JVM internals or retries (sluice retries transient errors
/// itself); accepted, without effect.
pub const NO_EFFECT: &[&str] = &[
    "db.timezone",
    "dialect.name",
    "max.retries",
    "retry.backoff.ms",
    "table.types",
    "connection.attempts",
    "connection.backoff.ms",
];

/// Rewrites Confluent keys in place: renamed keys move to the Debezium name (unless that is
/// given too, which is then a problem), `auto.create`/`auto.evolve` become
/// `schema.evolution`, `quote.sql.identifiers` becomes `quote.identifiers`. The Confluent
/// keys stay in the map so `validate` can list them as translated.
pub fn translate(map: &mut BTreeMap<String, String>, problems: &mut Vec<String>) {
    for (from, to) in RENAMED {
        if let Some(value) = map.get(*from).cloned() {
            if map.contains_key(*to) {
                problems.push(format!("{from}: give {from} or {to}, not both"));
            } else {
                map.insert(to.to_string(), value);
            }
        }
    }
    let yes = |key: &str| map.get(key).is_some_and(|v| v.trim() == "true");
    if !map.contains_key("schema.evolution")
        && (map.contains_key("auto.create") || map.contains_key("auto.evolve"))
    {
        let evolve = if yes("auto.create") || yes("auto.evolve") {
            "basic"
        } else {
            "none"
        };
        map.insert("schema.evolution".into(), evolve.into());
    }
    let quote = map
        .get("quote.sql.identifiers")
        .map(|v| v.trim().to_string());
    if let (Some(quote), false) = (quote, map.contains_key("quote.identifiers")) {
        map.insert("quote.identifiers".into(), (quote != "never").to_string());
    }
}

/// Whether `key` is a Confluent key that [`translate`] reads.
pub fn is_translated(key: &str) -> bool {
    RENAMED.iter().any(|(from, _)| *from == key) || TRANSLATED.contains(&key)
}
