//! What the source thread tells the pipeline.

use crate::checkpoint::{Claim, TopicPartition};
use crate::event::RawRecord;
use std::sync::mpsc as std_mpsc;

/// A message from the source thread, in order.
#[derive(Debug)]
pub enum SourceMsg {
    /// A record.
    Record(RawRecord),
    /// Partitions were claimed; records of them follow. `end_offsets` are the high watermarks
    /// at assignment (for `--stop-at-end`).
    Assigned {
        /// The claims (epoch and start position).
        claims: Vec<Claim>,
        /// High watermark per partition at assignment.
        end_offsets: Vec<(TopicPartition, i64)>,
    },
    /// Partitions are being revoked: commit what is held of them, then acknowledge.
    Revoked(Vec<TopicPartition>, std_mpsc::Sender<()>),
    /// The source cannot go on (e.g. the target was unreachable during a rebalance).
    Fatal(String),
}
