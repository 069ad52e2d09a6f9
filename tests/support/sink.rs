//! The sink through its library API, without a broker: records decoded as the source hands
//! them over, applied in batch transactions that checkpoint one partition of one topic.

use sluice::checkpoint::{self, Position, TopicPartition};
use sluice::config::ConnectorConfig;
use sluice::decode::{decode, DecodeConfig};
use sluice::event::{ChangeEvent, Decoded, RawRecord};
use sluice::pipeline::transaction::apply;
use sluice::sink::{BatchStats, Sink};

/// The change event of `record` (panics on anything else: the tests build valid changes).
pub fn change(record: &RawRecord) -> ChangeEvent {
    match decode(record, &DecodeConfig::default()).expect("decodes") {
        Decoded::Change(e) => *e,
        other => panic!("not a change: {other:?}"),
    }
}

/// A connector's sink that has claimed partition 0 of `topic`, and what it last committed.
pub struct Target {
    pub sink: Sink,
    pub topic: String,
    pub epoch: i64,
    pub committed: Option<i64>,
}

impl Target {
    /// Opens the sink of `config` and claims partition 0 of `topic` for it.
    pub async fn open(config: &ConnectorConfig, topic: &str) -> Target {
        let sink = Sink::open(config).await.expect("open");
        let tp = TopicPartition {
            topic: topic.into(),
            partition: 0,
        };
        let claims = checkpoint::claim(sink.db(), &config.group_id(), "test", &[tp])
            .await
            .expect("claim");
        Target {
            sink,
            topic: topic.into(),
            epoch: claims[0].epoch,
            committed: None,
        }
    }

    /// Applies `events` as one batch that checkpoints the partition past the last of them.
    pub async fn apply(&mut self, events: &[ChangeEvent]) -> BatchStats {
        let next = events
            .iter()
            .map(|e| e.coordinates.offset)
            .max()
            .unwrap_or(0)
            + 1;
        let position = Position {
            tp: TopicPartition {
                topic: self.topic.clone(),
                partition: 0,
            },
            next_offset: next,
            epoch: self.epoch,
            previous: self.committed,
            watermark_ms: None,
        };
        let stats = apply(&mut self.sink, events, &[position])
            .await
            .expect("apply");
        self.committed = Some(next);
        stats
    }
}
