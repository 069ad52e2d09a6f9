//! The reports operators read, from a connector's target: the sync status report, the
//! conflicts and the dead letters. `sluice status|conflicts|dlq` print them and the worker's
//! `/connectors/{name}/sluice/...` routes answer them, so both say the same thing. Above the
//! checkpoint, the sink's database handle and the dead-letter store it reads; below `worker/`,
//! `api/` and `cli/`.

pub mod conflicts;
pub mod dead_letters;
pub mod status;

/// Milliseconds since the epoch as an RFC 3339 UTC time (`null` when absent).
pub fn iso_ms(ms: Option<i64>) -> serde_json::Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(serde_json::Value::Null)
}
