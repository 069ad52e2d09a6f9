//! Part 1: raw consume (the Kafka ceiling).

use super::*;

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
