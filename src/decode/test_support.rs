//! Test helpers: corpus JSONL lines and hand-written envelopes as [`RawRecord`]s.

use crate::event::{Coordinates, RawRecord};
use serde_json::Value as Json;
use std::path::PathBuf;

/// Directory of the recorded Debezium corpus copied into the crate.
pub(crate) fn corpus_dir(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus")
        .join(scenario)
}

/// A run's file (`<run>.jsonl`, `<run>.registry.json`, ...): `types` keeps the corpus layout
/// (`events/`), older scenarios are flat.
pub(crate) fn run_file(scenario: &str, file: &str) -> PathBuf {
    let file = if file.ends_with(".json") || file.ends_with(".jsonl") {
        file.to_string()
    } else {
        format!("{file}.jsonl")
    };
    let dir = corpus_dir(scenario);
    let nested = dir.join("events").join(&file);
    if nested.is_file() {
        nested
    } else {
        dir.join(file)
    }
}

/// One corpus line (`{"topic", "partition", "offset", "key", "value", "headers"}`, key and
/// value being the converter's output strings) as the record Kafka would have delivered.
pub(crate) fn record_from_jsonl(line: &str) -> RawRecord {
    let json: Json = serde_json::from_str(line).expect("corpus line is JSON");
    let bytes = |field: &str| json[field].as_str().map(|s| s.as_bytes().to_vec());
    let headers = json["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(|s| s.as_bytes().to_vec())))
                .collect()
        })
        .unwrap_or_default();
    RawRecord {
        coordinates: Coordinates {
            topic: json["topic"].as_str().expect("topic").to_string(),
            partition: json["partition"].as_i64().unwrap_or(0) as i32,
            offset: json["offset"].as_i64().unwrap_or(0),
        },
        key: bytes("key"),
        value: bytes("value"),
        headers,
        timestamp_ms: None,
    }
}

/// A record on `topic` with the given key and value JSON text (`None` = Kafka null).
pub(crate) fn record(topic: &str, key: Option<&str>, value: Option<&str>) -> RawRecord {
    RawRecord {
        coordinates: Coordinates {
            topic: topic.to_string(),
            partition: 0,
            offset: 7,
        },
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp_ms: Some(1_700_000_000_000),
    }
}
