//! Dead letters as operators read them: where the record came from, why it failed, its bytes
//! (text when UTF-8, else base64) and its life in `sluice_dead_letters`.

use crate::deadletter::store::Stored;
use crate::deadletter::DeadLetter;
use serde_json::{json, Value as Json};

/// Bytes as text when they are UTF-8, else as `{"base64": ...}`.
pub fn bytes_json(bytes: &Option<Vec<u8>>) -> Json {
    use base64::Engine;
    match bytes {
        None => Json::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => Json::String(text.to_string()),
            Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) }),
        },
    }
}

/// A dead letter: the record's coordinates, stage, reason, bytes and headers.
pub fn letter_json(l: &DeadLetter) -> Json {
    let c = &l.record.coordinates;
    json!({
        "topic": c.topic,
        "partition": c.partition,
        "offset": c.offset,
        "stage": l.stage.label(),
        "connect_stage": l.stage.connect_name(),
        "class_name": l.class_name,
        "exception_class": l.exception_class,
        "reason": l.message,
        "detail": l.detail,
        "key": bytes_json(&l.record.key),
        "value": bytes_json(&l.record.value),
        "headers": l.record.headers.iter().map(|(k, v)| json!([k, bytes_json(v)])).collect::<Vec<_>>(),
        "timestamp": super::iso_ms(l.record.timestamp_ms),
    })
}

/// A stored dead letter: [`letter_json`] with its id, status, failures and times.
pub fn to_json(s: &Stored) -> Json {
    let mut report = letter_json(&s.letter);
    report["id"] = json!(s.id);
    report["status"] = json!(s.status);
    report["failures"] = json!(s.failures);
    report["first_failed_at"] = super::iso_ms(Some(s.created_at_ms));
    report["published_at"] = super::iso_ms(s.published_at_ms);
    report["replayed_at"] = super::iso_ms(s.replayed_at_ms);
    report
}
