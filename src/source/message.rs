//! What the source thread tells the pipeline.

use crate::checkpoint::{Claim, TopicPartition};
use crate::decode::DecodeError;
use crate::event::{Coordinates, Decoded, RawRecord};
use std::sync::mpsc as std_mpsc;

/// A message from the source thread, in order.
#[derive(Debug)]
pub enum SourceMsg {
    /// A record, decoded on the source thread (so decoding overlaps the sink's writes).
    Record(Box<Received>),
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

/// A record as the pipeline gets it: decoded, with what an error message needs of the original.
#[derive(Debug)]
pub struct Received {
    /// Topic, partition and offset.
    pub coordinates: Coordinates,
    /// The record key as text (lossy UTF-8), or `null`, for error messages.
    pub key_text: String,
    /// The decoded record, or why it could not be decoded.
    pub decoded: Result<Decoded, DecodeError>,
}

impl Received {
    /// Decodes a raw record; the raw bytes are dropped afterwards.
    pub fn decode(record: &RawRecord, config: &crate::decode::DecodeConfig) -> Self {
        Received {
            coordinates: record.coordinates.clone(),
            key_text: record
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_else(|| "null".into()),
            decoded: crate::decode::decode(record, config),
        }
    }
}
