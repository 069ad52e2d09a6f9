//! What `--stop-at-end` needs from the source thread, told to the pipeline through the record
//! channel (so it arrives after every record it covers):
//!
//! - [`SourceMsg::FetchEnd`]: each partition's high watermark from its first fetch response
//!   after assignment. The offset lookup at assignment can answer less than the real end:
//!   tansu answers the base offset of the last record batch.
//! - [`SourceMsg::Position`]: the consumer's position when it is past the records it handed
//!   over. A transactional producer (Debezium with `exactly.once.support`) ends each
//!   transaction with a marker that takes an offset but is never delivered, so the last
//!   record of a partition is below its end and only the position reaches it.

use super::context::{SluiceConsumer, SplitQueue};
use super::message::{Received, SourceMsg};
use crate::checkpoint::TopicPartition;
use rdkafka::consumer::Consumer;
use rdkafka::Offset;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the positions are read (a local call, no request).
const POSITION_EVERY: Duration = Duration::from_millis(100);

/// Ends and positions of the assigned partitions, and those waiting to be told.
#[derive(Default)]
pub(super) struct EndWatch {
    /// Partitions whose end was looked up since their assignment.
    seen: HashSet<TopicPartition>,
    /// The last position told per partition.
    told: HashMap<TopicPartition, i64>,
    last_check: Option<Instant>,
    /// Ends not yet handed to the pipeline (the channel was full).
    ends: Vec<(TopicPartition, i64)>,
    /// Positions not yet handed to the pipeline, the newest per partition.
    positions: HashMap<TopicPartition, i64>,
}

impl EndWatch {
    /// Takes the end of every split partition that has had a fetch response and no end yet,
    /// and, now and then, the positions of those with no record waiting in `pending` (a
    /// position covers only records already handed over).
    pub(super) fn look(
        &mut self,
        consumer: &SluiceConsumer,
        queues: &[SplitQueue],
        pending: &VecDeque<Received>,
    ) {
        for (tp, _) in queues {
            if self.seen.contains(tp) {
                continue;
            }
            if let Some(high) = fetched_high_watermark(consumer, tp) {
                self.seen.insert(tp.clone());
                self.ends.push((tp.clone(), high));
            }
        }
        if queues.is_empty()
            || self
                .last_check
                .is_some_and(|t| t.elapsed() < POSITION_EVERY)
        {
            return;
        }
        self.last_check = Some(Instant::now());
        let Ok(positions) = consumer.position() else {
            return;
        };
        for (tp, _) in queues {
            let Some(Offset::Offset(position)) = positions
                .find_partition(&tp.topic, tp.partition)
                .map(|e| e.offset())
            else {
                continue;
            };
            let waiting = pending.iter().any(|r| {
                r.coordinates.partition == tp.partition && r.coordinates.topic == tp.topic
            });
            if !waiting && self.told.get(tp).is_none_or(|&told| position > told) {
                self.told.insert(tp.clone(), position);
                self.positions.insert(tp.clone(), position);
            }
        }
    }

    /// A revoked partition's end and position are looked up again when it comes back.
    pub(super) fn forget_unassigned(&mut self, queues: &[SplitQueue]) {
        let assigned = |tp: &TopicPartition| queues.iter().any(|(q, _)| q == tp);
        self.seen.retain(|tp| assigned(tp));
        self.told.retain(|tp, _| assigned(tp));
        self.ends.retain(|(tp, _)| assigned(tp));
        self.positions.retain(|tp, _| assigned(tp));
    }

    /// Hands what is waiting to the pipeline while the channel has room; false once the
    /// pipeline is gone.
    pub(super) fn send(&mut self, tx: &mpsc::Sender<SourceMsg>) -> bool {
        while let Some((tp, high)) = self.ends.last().cloned() {
            match tx.try_send(SourceMsg::FetchEnd(tp, high)) {
                Ok(()) => self.ends.pop(),
                Err(mpsc::error::TrySendError::Full(_)) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            };
        }
        while let Some((tp, position)) = self.positions.iter().next().map(|(t, p)| (t.clone(), *p))
        {
            match tx.try_send(SourceMsg::Position(tp.clone(), position)) {
                Ok(()) => self.positions.remove(&tp),
                Err(mpsc::error::TrySendError::Full(_)) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            };
        }
        true
    }
}

/// A partition's high watermark as the last fetch response reported it (librdkafka's cached
/// value; no request is made), once a fetch response for it has arrived. The rdkafka crate
/// exposes only the offset lookup, which is what some brokers answer wrongly.
pub(super) fn fetched_high_watermark(
    consumer: &SluiceConsumer,
    tp: &TopicPartition,
) -> Option<i64> {
    let topic = std::ffi::CString::new(tp.topic.as_str()).ok()?;
    let (mut low, mut high) = (-1_i64, -1_i64);
    // SAFETY: the client handle lives as long as `consumer`; librdkafka only reads the
    // NUL-terminated topic name and writes the two offsets, under the partition's lock.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            tp.partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}
