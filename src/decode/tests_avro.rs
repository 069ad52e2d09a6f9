//! The AvroConverter path: every Avro record of the recorded corpus (real Debezium output
//! through Confluent's AvroConverter, with the registry it wrote to dumped beside it) decodes
//! to the same change as the JsonConverter record of the same change, types and optionality
//! included; and bad Avro bytes are errors that say why, never panics.

use super::test_support::{record_from_jsonl, run_file};
use super::{decode, AvroConverter, DecodeConfig, DecodeError, Registry, RegistrySettings};
use crate::event::{Decoded, RawRecord};
use base64::Engine as _;
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// A registry client holding every schema of a scenario's registry dump (no HTTP involved).
fn dumped_registry(scenario: &str) -> Arc<Registry> {
    let registry = Registry::new(RegistrySettings {
        urls: vec!["http://127.0.0.1:9".into()],
        basic_auth: None,
        retry_timeout: Some(Duration::ZERO),
        retry_delay_max: Duration::from_millis(10),
    })
    .expect("client");
    let path = run_file(scenario, "default.avro.registry.json");
    let dump: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (id, text) in dump["schemas"].as_object().expect("schemas") {
        registry.preload(id.parse().unwrap(), text.as_str().unwrap());
    }
    Arc::new(registry)
}

fn avro_config(registry: &Arc<Registry>) -> DecodeConfig {
    DecodeConfig {
        key_avro: Some(AvroConverter(registry.clone())),
        value_avro: Some(AvroConverter(registry.clone())),
        ..DecodeConfig::default()
    }
}

/// The records of the Avro run: key and value are base64 of the wire-format bytes.
fn avro_records(scenario: &str) -> Vec<RawRecord> {
    let text = std::fs::read_to_string(run_file(scenario, "default.avro")).unwrap();
    text.lines()
        .map(|line| {
            let mut record = record_from_jsonl(line);
            let unbase64 = |b: Option<Vec<u8>>| {
                b.map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap())
            };
            record.key = unbase64(record.key);
            record.value = unbase64(record.value);
            record
        })
        .collect()
}

fn json_records(scenario: &str) -> Vec<RawRecord> {
    let text = std::fs::read_to_string(run_file(scenario, "default.json-schemas")).unwrap();
    text.lines().map(record_from_jsonl).collect()
}

/// What must agree between the two runs of one workload: everything but the positions and
/// times that differ from one recording to the next.
fn comparable(decoded: Decoded) -> Decoded {
    match decoded {
        Decoded::Change(mut event) => {
            let source = &mut event.source;
            source.lsn = None;
            source.ts_ms = None;
            source.fields.clear();
            event.ts_ms = None;
            event.tx = event.tx.map(|mut tx| {
                tx.id.clear();
                tx
            });
            Decoded::Change(event)
        }
        other => other,
    }
}

#[test]
fn avro_and_json_runs_decode_to_the_same_changes() {
    for scenario in ["inventory", "toast", "types", "evolution"] {
        let registry = dumped_registry(scenario);
        let config = avro_config(&registry);
        let avro = avro_records(scenario);
        let json = json_records(scenario);
        assert_eq!(avro.len(), json.len(), "{scenario}: record counts");
        let mut changes = 0;
        for (i, (a, j)) in avro.iter().zip(&json).enumerate() {
            assert_eq!(a.coordinates, j.coordinates, "{scenario} line {i}");
            let from_avro =
                decode(a, &config).unwrap_or_else(|e| panic!("{scenario} avro line {i}: {e}"));
            let from_json = decode(j, &DecodeConfig::default()).unwrap();
            changes += usize::from(matches!(from_json, Decoded::Change(_)));
            // Compared as debug text, where NaN equals NaN.
            assert_eq!(
                format!("{:?}", comparable(from_avro)),
                format!("{:?}", comparable(from_json)),
                "{scenario} line {i} ({})",
                a.coordinates
            );
        }
        assert!(changes > 10, "{scenario}: only {changes} changes compared");
    }
}

#[test]
fn bad_avro_bytes_are_errors_naming_the_part() {
    let registry = dumped_registry("inventory");
    let config = avro_config(&registry);
    let good = avro_records("inventory")
        .into_iter()
        .find(|r| r.coordinates.topic == "dbserver1.public.customers")
        .unwrap();
    let with_value = |value: Vec<u8>| RawRecord {
        value: Some(value),
        ..good.clone()
    };
    let value = good.value.clone().unwrap();
    let reason = |record: RawRecord| match decode(&record, &config) {
        Err(DecodeError::Avro { part, reason }) => format!("{part}: {reason}"),
        other => panic!("expected an Avro error, got {other:?}"),
    };
    // JSON given to the AvroConverter.
    assert!(reason(with_value(b"{\"op\":\"c\"}".to_vec())).contains("magic byte"));
    // A schema id the registry does not know (never fetched, so not in the cache either).
    let mut unknown = value.clone();
    unknown[1..5].copy_from_slice(&9999u32.to_be_bytes());
    assert!(reason(with_value(unknown)).contains("schema id 9999"));
    // Cut short, and with bytes to spare.
    let text = reason(with_value(value[..value.len() / 2].to_vec()));
    assert!(
        text.starts_with("value: schema id") && text.contains("corrupt"),
        "{text}"
    );
    let mut longer = value.clone();
    longer.extend_from_slice(&[0, 0, 0]);
    assert!(reason(with_value(longer)).contains("3 bytes left"));
    // The key is named as the key.
    let bad_key = RawRecord {
        key: Some(vec![7, 7]),
        ..good.clone()
    };
    assert!(reason(bad_key).starts_with("key: "));
}

#[test]
fn every_truncation_and_bit_flip_of_avro_records_is_an_error_or_a_change() {
    let registry = dumped_registry("types");
    let config = avro_config(&registry);
    for record in avro_records("types").iter().step_by(7).take(12) {
        let Some(value) = record.value.clone() else {
            continue;
        };
        for cut in (5..value.len()).step_by(13) {
            let mut spoiled = record.clone();
            spoiled.value = Some(value[..cut].to_vec());
            let _ = decode(&spoiled, &config);
            let mut flipped = value.clone();
            flipped[cut] ^= 0x5a;
            spoiled.value = Some(flipped);
            let _ = decode(&spoiled, &config);
        }
    }
}
