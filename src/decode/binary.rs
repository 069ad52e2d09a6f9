//! Binary payloads: base64 (how JsonConverter writes Connect `bytes`), Debezium's bit strings,
//! and the forms Debezium gives its TOAST placeholder.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value as Json;

/// Debezium's `unavailable.value.placeholder` default: sent instead of an unchanged TOASTed
/// column under REPLICA IDENTITY DEFAULT.
pub(crate) const PLACEHOLDER: &str = "__debezium_unavailable_value";

/// The placeholder as a `bytes` field carries it: its UTF-8 bytes, base64-encoded.
pub(crate) const PLACEHOLDER_BASE64: &str = "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==";

/// Decodes standard padded base64, the only alphabet JsonConverter writes.
pub(crate) fn base64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Whether a payload value is one of the placeholder forms Debezium emits:
/// the string (text, json and other string types), its base64 (when `bytes_allowed`: bytea),
/// an array holding the string, or an integer array of the placeholder's bytes (`int[]`; see
/// the corpus `toast` scenario, where Debezium sent exactly that).
pub(crate) fn is_placeholder(value: &Json, bytes_allowed: bool) -> bool {
    match value {
        Json::String(s) => s == PLACEHOLDER || (bytes_allowed && s == PLACEHOLDER_BASE64),
        Json::Array(items) => {
            items.iter().any(|i| i.as_str() == Some(PLACEHOLDER))
                || (items.len() == PLACEHOLDER.len()
                    && items
                        .iter()
                        .zip(PLACEHOLDER.bytes())
                        .all(|(i, b)| i.as_u64() == Some(u64::from(b))))
        }
        _ => false,
    }
}

/// Renders Debezium `Bits` bytes as a PostgreSQL `bit(n)` text: `length` characters of '0'/'1',
/// most significant first. Debezium sends the bits little-endian (bit 0 = last character, in the
/// lowest bit of the first byte) and may drop trailing zero bytes, so missing bytes read as 0.
/// A set bit beyond `length` would be silently lost, so it is an error.
pub(crate) fn bits_text(bytes: &[u8], length: Option<u32>) -> Result<String, String> {
    let available = bytes.len().saturating_mul(8);
    let length = match length {
        Some(n) => n as usize,
        None => available,
    };
    let bit = |i: usize| bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1);
    if let Some(extra) = (length..available).find(|&i| bit(i)) {
        return Err(format!(
            "bit {extra} is set but the declared length is {length}"
        ));
    }
    Ok((0..length)
        .rev()
        .map(|i| if bit(i) { '1' } else { '0' })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholder_base64_matches_the_string() {
        assert_eq!(base64(PLACEHOLDER_BASE64).unwrap(), PLACEHOLDER.as_bytes());
    }

    #[test]
    fn placeholder_forms() {
        let as_ints: Vec<u8> = PLACEHOLDER.bytes().collect();
        assert!(is_placeholder(&json!(PLACEHOLDER), false));
        assert!(is_placeholder(&json!(PLACEHOLDER_BASE64), true));
        assert!(!is_placeholder(&json!(PLACEHOLDER_BASE64), false));
        assert!(is_placeholder(&json!([PLACEHOLDER]), false));
        assert!(is_placeholder(&json!(as_ints), false));
        assert!(!is_placeholder(&json!(&as_ints[1..]), false));
        assert!(!is_placeholder(&json!([1, 2, 3]), false));
        assert!(!is_placeholder(&json!("value"), true));
    }

    #[test]
    fn bits_table() {
        // (bytes as Debezium sends them, declared length, PostgreSQL bit(n) text)
        let cases: &[(&[u8], Option<u32>, &str)] = &[
            (&[0x01], Some(1), "1"),
            (&[0x00], Some(1), "0"),
            (&[0xA5], Some(8), "10100101"),
            (&[0x01], Some(8), "00000001"),
            // B'1010000001' = 0x281: low byte 0x81, high byte 0x02.
            (&[0x81, 0x02], Some(10), "1010000001"),
            // B'0000000001' with the zero high byte dropped.
            (&[0x01], Some(10), "0000000001"),
            (&[], Some(3), "000"),
            (&[0x81, 0x02], None, "0000001010000001"),
        ];
        for (bytes, length, want) in cases {
            assert_eq!(bits_text(bytes, *length).as_deref(), Ok(*want));
        }
        assert!(bits_text(&[0x04], Some(2)).is_err());
    }
}
