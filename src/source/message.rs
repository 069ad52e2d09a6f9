//! What the source thread tells the pipeline.

use crate::checkpoint::{Claim, TopicPartition};
use crate::decode::{DecodeConfig, DecodeError};
use crate::event::{Coordinates, Decoded, RawRecord};
use crate::transform::{Chain, TransformError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

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
    /// A partition's high watermark as the first fetch response after its assignment reported
    /// it (for `--stop-at-end`: some brokers' offset lookups answer less than the real end).
    FetchEnd(TopicPartition, i64),
    /// The consumer's position in a partition: every record below it has been handed over
    /// (for `--stop-at-end`: transaction markers take offsets but are never delivered).
    Position(TopicPartition, i64),
    /// Partitions are being revoked: commit what is held of them, then acknowledge.
    Revoked(Vec<TopicPartition>, std_mpsc::Sender<()>),
    /// The source cannot go on (e.g. the target was unreachable during a rebalance).
    Fatal(String),
}

/// Why a record cannot become a change, by the stage that refused it.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The converter or the Debezium envelope.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// A transform (the error names it).
    #[error(transparent)]
    Transform(#[from] TransformError),
}

/// A record as the pipeline gets it: decoded and transformed, with what an error message
/// needs of the original.
#[derive(Debug)]
pub struct Received {
    /// Topic, partition and offset.
    pub coordinates: Coordinates,
    /// The record key as text (lossy UTF-8), or `null`, for error messages.
    pub key_text: String,
    /// The decoded record, or why it could not be decoded or transformed.
    pub decoded: Result<Decoded, RecordError>,
    /// The record as it came, kept for the dead-letter path (`errors.tolerance=all`, or when
    /// it failed to decode or transform).
    pub raw: Option<Box<RawRecord>>,
}

impl Received {
    /// Decodes a raw record and runs the transforms on it. The raw record is kept when
    /// `keep_raw` is set or it failed, and dropped otherwise. A change a transform drops
    /// becomes [`Decoded::NotARow`]`("filtered")`, so its offset is still checkpointed.
    pub fn decode(
        record: RawRecord,
        config: &DecodeConfig,
        transforms: &Chain,
        keep_raw: bool,
    ) -> Self {
        let decoded = match crate::decode::decode(&record, config) {
            Ok(Decoded::Change(event)) if !transforms.is_empty() => {
                match transforms.apply(*event, &record.headers) {
                    Ok(Some(event)) => Ok(Decoded::Change(Box::new(event))),
                    Ok(None) => Ok(Decoded::NotARow("filtered")),
                    Err(e) => Err(e.into()),
                }
            }
            other => other.map_err(RecordError::from),
        };
        Received {
            coordinates: record.coordinates.clone(),
            key_text: record
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_else(|| "null".into()),
            raw: (keep_raw || decoded.is_err()).then(|| Box::new(record)),
            decoded,
        }
    }
}

/// What the source thread decodes records with: the converters, the transforms, whether raw
/// records are kept, and (for the AvroConverter) the runtime that fetches registry schemas.
pub struct Decoder {
    /// Converter settings.
    pub config: DecodeConfig,
    /// The transform chain.
    pub transforms: Chain,
    /// Keep every raw record (it may be dead-lettered whole).
    pub keep_raw: bool,
    /// The runtime that registry lookups run on; the source thread blocks on them.
    pub runtime: tokio::runtime::Handle,
    /// Set when the connector stops; a registry outage is then no longer waited out.
    pub stop: Arc<AtomicBool>,
}

impl Decoder {
    /// Decodes a record, first fetching the registry schemas it needs (waiting out an
    /// unreachable registry). `Err` when the connector must stop; an empty message when it is
    /// already stopping.
    pub fn receive(&self, record: RawRecord) -> Result<Received, String> {
        if self.config.uses_registry() {
            let fetched = self
                .runtime
                .block_on(self.config.fetch_schemas(&record, &self.stop));
            if let Err(reason) = fetched {
                if self.stop.load(Ordering::SeqCst) {
                    return Err(String::new());
                }
                return Err(format!("{}: {reason}", record.coordinates));
            }
        }
        Ok(Received::decode(
            record,
            &self.config,
            &self.transforms,
            self.keep_raw,
        ))
    }
}
