//! Reading typed values out of a flat config map: what the connector config and its parts
//! (errors, converters, policies) share.

use std::collections::BTreeMap;

/// Reads a typed value, recording a problem naming the key when it does not parse.
pub(super) fn parse<T>(
    map: &BTreeMap<String, String>,
    key: &str,
    default: T,
    problems: &mut Vec<String>,
    parser: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> T {
    match map.get(key) {
        None => default,
        Some(raw) => parser(raw.trim()).unwrap_or_else(|| {
            problems.push(format!("{key}: '{raw}' is not valid (expected {expected})"));
            default
        }),
    }
}

/// `true` or `false`, in any case.
pub(super) fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A comma-separated list, items trimmed, empty ones dropped.
pub(crate) fn list(map: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    map.get(key)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
