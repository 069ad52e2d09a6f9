//! Parking partitions at their end while others have a backlog.
//!
//! librdkafka fetches all of a broker's partitions in one request, and leaves out those whose
//! queue is full. While the sink works through a backlog the busy partitions' queues are full,
//! so the fetch that would refill them often names only partitions at their end — and some
//! Kafka-protocol brokers (tansu, some proxies) hold such a fetch for its whole
//! `fetch.wait.max.ms` instead of answering with what the other partitions have (Kafka answers
//! as soon as there is data). Measured on the pipeline bench before this: once the smallest of
//! four partitions reached its end, the rest crawled at 800 instead of 4,800 events/s.
//!
//! So a partition at its end is paused ("parked") while another partition has a backlog of at
//! least [`BACKLOG`] records. Parked partitions are watched with one latest-offset lookup
//! (ListOffsets, which no broker holds) every [`PEEK_EVERY`]; a parked partition comes back as
//! soon as its end moves, and all of them come back once no other partition has anything left
//! to read. A partition is parked only when everything fetched of it was handed over (position
//! = high watermark), so pausing it throws nothing away.

use super::context::{SluiceConsumer, SplitQueue};
use super::ends::fetched_high_watermark;
use crate::checkpoint::TopicPartition;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often positions and fetched ends are compared (local calls, no request).
const LOOK_EVERY: Duration = Duration::from_millis(10);
/// How often parked partitions' ends are looked up (one request per broker).
const PEEK_EVERY: Duration = Duration::from_millis(50);
/// Records another partition must have left to read before one at its end is parked: below
/// it, a held fetch costs little and parking would only add a peek's delay.
const BACKLOG: i64 = 1000;
/// The longest a peek may block the source thread.
const PEEK_TIMEOUT: Duration = Duration::from_secs(1);

/// The parked partitions and when they were last looked at.
#[derive(Default)]
pub(super) struct Parking {
    /// Each parked partition and what is known of its end.
    parked: HashMap<TopicPartition, Watch>,
    last_look: Option<Instant>,
    last_peek: Option<Instant>,
}

/// What is known of a parked partition's end.
#[derive(Debug, Clone, Copy)]
struct Watch {
    /// Its end as the last fetch response before parking reported it.
    high: i64,
    /// What the last lookup answered.
    seen: Option<i64>,
}

impl Watch {
    /// Whether a lookup's answer says records were added since the partition was parked.
    /// Kafka answers the end itself, so an answer past `high` means new records. tansu
    /// answers the base offset of the last record batch (at or below the end), so there only
    /// a change between two answers does; records added before the first lookup are then
    /// found when the backlog ends and every parked partition comes back. The first lookup
    /// is not made when parking: it would wait behind the fetch the broker is holding.
    fn moved(&mut self, answer: i64) -> bool {
        let moved = answer > self.high || self.seen.is_some_and(|seen| seen != answer);
        self.seen = Some(answer);
        moved
    }
}

/// What one [`Parking::look`] changed.
#[derive(Debug, Default)]
struct Moves {
    parked: Vec<TopicPartition>,
    resumed: Vec<TopicPartition>,
}

impl Parking {
    /// Parks partitions at their end while another has a backlog, and brings back those whose
    /// end moved or that no backlog keeps parked any more.
    pub(super) fn look(&mut self, consumer: &SluiceConsumer, queues: &[SplitQueue]) {
        let mut moves = Moves::default();
        if queues.len() < 2 || self.last_look.is_some_and(|t| t.elapsed() < LOOK_EVERY) {
            return;
        }
        self.last_look = Some(Instant::now());
        let Ok(positions) = consumer.position() else {
            return;
        };
        // Per unparked partition: its fetched end and the records fetched but not handed
        // over (None: not known yet).
        let state = |tp: &TopicPartition| -> Option<(i64, i64)> {
            let high = fetched_high_watermark(consumer, tp)?;
            match positions.find_partition(&tp.topic, tp.partition)?.offset() {
                Offset::Offset(position) => Some((high, high - position)),
                _ => None,
            }
        };
        let active: Vec<(&TopicPartition, Option<(i64, i64)>)> = queues
            .iter()
            .map(|(tp, _)| tp)
            .filter(|tp| !self.parked.contains_key(*tp))
            .map(|tp| (tp, state(tp)))
            .collect();
        let left = |s: &Option<(i64, i64)>| s.map(|(_, left)| left);
        let backlog = active
            .iter()
            .any(|(_, s)| left(s).is_some_and(|l| l >= BACKLOG));
        let nothing_left = active.iter().all(|(_, s)| left(s).is_some_and(|l| l <= 0));
        if nothing_left && !self.parked.is_empty() {
            moves.resumed = self.parked.drain().map(|(tp, _)| tp).collect();
        } else if backlog {
            for (tp, s) in &active {
                // At or past the end: tansu's fetch responses can put the end at the last
                // record batch's base offset.
                if let Some((high, _)) = s.filter(|(_, left)| *left <= 0) {
                    self.parked
                        .insert((*tp).clone(), Watch { high, seen: None });
                    moves.parked.push((*tp).clone());
                }
            }
            if !moves.parked.is_empty() {
                // The first lookup waits a peek: the broker may still be holding the fetch
                // that named the partition, and the lookup would wait behind it.
                self.last_peek = Some(Instant::now());
            }
        }
        if !self.parked.is_empty() && self.last_peek.is_none_or(|t| t.elapsed() >= PEEK_EVERY) {
            self.last_peek = Some(Instant::now());
            let watched: Vec<TopicPartition> = self.parked.keys().cloned().collect();
            if let Some(ends) = latest(consumer, &watched) {
                for (tp, end) in ends {
                    let Some(watch) = self.parked.get_mut(&tp) else {
                        continue;
                    };
                    if watch.moved(end) {
                        self.parked.remove(&tp);
                        moves.resumed.push(tp);
                    }
                }
            }
        }
        pause(consumer, &moves.parked, true);
        pause(consumer, &moves.resumed, false);
        if !moves.parked.is_empty() || !moves.resumed.is_empty() {
            tracing::debug!(parked = ?moves.parked, resumed = ?moves.resumed, "idle partitions");
        }
    }

    /// Brings every parked partition back (the assignment changed, or the whole consumer was
    /// paused and resumed).
    pub(super) fn release(&mut self, consumer: &SluiceConsumer) {
        let parked: Vec<TopicPartition> = self.parked.drain().map(|(tp, _)| tp).collect();
        pause(consumer, &parked, false);
    }

    /// Forgets the parked partitions without resuming them (the caller paused or resumed the
    /// whole assignment).
    pub(super) fn forget(&mut self) {
        self.parked.clear();
    }
}

/// The latest offset of each partition, as the broker's offset lookup answers it.
fn latest(
    consumer: &SluiceConsumer,
    partitions: &[TopicPartition],
) -> Option<HashMap<TopicPartition, i64>> {
    let mut list = TopicPartitionList::new();
    for tp in partitions {
        list.add_partition_offset(&tp.topic, tp.partition, Offset::End)
            .ok()?;
    }
    // A lookup by timestamp with "latest" as the timestamp: one ListOffsets per broker for
    // all of them (the rdkafka crate's watermark call is one partition per request).
    let answer = consumer.offsets_for_times(list, PEEK_TIMEOUT).ok()?;
    Some(
        answer
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(end) if e.error().is_ok() => Some((
                    TopicPartition {
                        topic: e.topic().to_string(),
                        partition: e.partition(),
                    },
                    end,
                )),
                _ => None,
            })
            .collect(),
    )
}

fn pause(consumer: &SluiceConsumer, partitions: &[TopicPartition], pause: bool) {
    if partitions.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for tp in partitions {
        list.add_partition(&tp.topic, tp.partition);
    }
    let result = if pause {
        consumer.pause(&list)
    } else {
        consumer.resume(&list)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, pause, "parking idle partitions failed");
    }
}

#[cfg(test)]
mod tests {
    use super::Watch;

    #[test]
    fn an_end_past_the_fetched_one_means_new_records() {
        // Kafka answers the end itself: the same end is nothing new, a later one is.
        let mut watch = Watch {
            high: 100,
            seen: None,
        };
        assert!(!watch.moved(100));
        assert!(!watch.moved(100));
        assert!(watch.moved(101));
    }

    #[test]
    fn a_changed_answer_means_new_records_where_the_broker_answers_a_batch_base() {
        // tansu answers the base offset of the last record batch, below the end.
        let mut watch = Watch {
            high: 100,
            seen: None,
        };
        assert!(!watch.moved(90), "the first answer is the reference");
        assert!(!watch.moved(90));
        assert!(watch.moved(100), "a new batch starting at the old end");
    }
}
