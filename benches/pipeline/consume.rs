//! Part 1: raw consume (the Kafka ceiling).

use super::*;
use rdkafka::message::Headers as _;

#[derive(Default)]
pub(crate) struct Consumed {
    pub(crate) records: usize,
    pub(crate) bytes: usize,
    pub(crate) secs: f64,
    pub(crate) decoded: usize,
}

/// Reads every record of the topic with manual assignment (no group join), optionally
/// converting each to sluice's `RawRecord` and decoding it.
pub(crate) fn raw_consume(
    s: &Settings,
    bootstrap: &str,
    topic: &str,
    want: usize,
    decode: bool,
) -> Consumed {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", random_name("bench_raw"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // One queue for the 4 partitions: 4x sluice's per-partition bound (src/source/mod.rs)
        // would be 2048; 8192 never holds this consumer back, so the ceiling is not lowered.
        .set("queued.max.messages.kbytes", "8192");
    if decode {
        // librdkafka waits fetch.queue.backoff.ms (1 s by default) before fetching again once
        // the 8 MB queue was full, which throttles any consumer slower than the broker to
        // ~8 MB/s; this pass is about decode cost, so it fetches again after 10 ms.
        config.set("fetch.queue.backoff.ms", "10");
    }
    for (k, v) in &s.consumer_props {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    let decode_config = sluice::decode::DecodeConfig::default();
    let mut out = Consumed::default();
    let started = Instant::now();
    consumer.assign(&tpl).expect("assign");
    let deadline = started + Duration::from_secs(900);
    while out.records < want {
        assert!(
            Instant::now() < deadline,
            "raw consume: {} of {want}",
            out.records
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = message.expect("consume");
        out.records += 1;
        out.bytes += m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
        if decode {
            let raw = sluice::source::to_raw(&m);
            if let Ok(sluice::event::Decoded::Change(_)) =
                sluice::decode::decode(&raw, &decode_config)
            {
                out.decoded += 1;
            }
        }
    }
    out.secs = started.elapsed().as_secs_f64();
    out
}

/// Part 1a: decode cost alone, without Kafka.
pub(crate) struct DecodeCost {
    pub(crate) records: usize,
    /// `sluice::decode` per record (key and value into a change event).
    pub(crate) decode_us: f64,
    /// The baseline: `serde_json::from_slice::<Value>` of the same key and value bytes, as any
    /// JSON sink (the script's `json.loads`) does at least.
    pub(crate) parse_us: f64,
}

/// Decodes the first `SAMPLE` generated records in memory, three rounds each, timed against a
/// plain JSON parse of the same bytes, alternating so both see the same machine state.
pub(crate) fn decode_cost(records: &[Record], topic: &str) -> DecodeCost {
    const SAMPLE: usize = 50_000;
    const ROUNDS: usize = 3;
    let headers: Vec<(String, Option<Vec<u8>>)> = debezium_headers()
        .iter()
        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
        .collect();
    let raws: Vec<sluice::event::RawRecord> = records
        .iter()
        .take(SAMPLE)
        .enumerate()
        .map(|(i, r)| sluice::event::RawRecord {
            coordinates: sluice::event::Coordinates {
                topic: topic.to_string(),
                partition: r.partition,
                offset: i as i64,
            },
            key: Some(r.key.clone()),
            value: Some(r.value.clone()),
            headers: headers.clone(),
            timestamp_ms: Some(1_700_000_000_000 + i as i64),
        })
        .collect();
    let config = sluice::decode::DecodeConfig::default();
    let (mut decode, mut parse) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for raw in &raws {
            let decoded = sluice::decode::decode(raw, &config).expect("bench records decode");
            assert!(matches!(decoded, sluice::event::Decoded::Change(_)));
        }
        decode += t.elapsed();
        let t = Instant::now();
        for raw in &raws {
            for bytes in [&raw.key, &raw.value].into_iter().flatten() {
                let json: Json = serde_json::from_slice(bytes).expect("bench records are JSON");
                std::hint::black_box(json);
            }
        }
        parse += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (raws.len() * ROUNDS) as f64;
    DecodeCost {
        records: raws.len(),
        decode_us: per(decode),
        parse_us: per(parse),
    }
}
