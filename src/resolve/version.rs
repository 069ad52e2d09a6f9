//! Source versions: an order on the changes to one key, taken from the source's log position.

use crate::event::ChangeEvent;
use std::cmp::Ordering;

/// Which clock a version comes from; versions of different kinds are not comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionKind {
    /// PostgreSQL LSN.
    PgLsn = 1,
    /// MySQL binlog file / position / row.
    MysqlBinlog = 2,
    /// Fallback: source ts_ms, then Kafka offset.
    TimestampOffset = 3,
    /// No log position and no usable source time: the Kafka offset alone. Not comparable
    /// with timed versions, so such a change is applied in partition order.
    KafkaOffset = 4,
}

impl VersionKind {
    /// From the stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(VersionKind::PgLsn),
            2 => Some(VersionKind::MysqlBinlog),
            3 => Some(VersionKind::TimestampOffset),
            4 => Some(VersionKind::KafkaOffset),
            _ => None,
        }
    }
}

/// The source version of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// The clock.
    pub kind: VersionKind,
    /// Major component (lsn; binlog file sequence; ts_ms).
    pub hi: i64,
    /// Minor component (0; position * 2^16 + row; Kafka offset).
    pub lo: i64,
}

impl Version {
    /// The version of an event: the PostgreSQL lsn, the MySQL binlog coordinates, or the
    /// source timestamp with the Kafka offset as tie-break.
    pub fn of(event: &ChangeEvent) -> Version {
        let source = &event.source;
        if let Some(lsn) = source.lsn {
            return Version {
                kind: VersionKind::PgLsn,
                hi: lsn,
                lo: 0,
            };
        }
        if let (Some(file), Some(pos)) = (&source.binlog_file, source.binlog_pos) {
            // mysql-bin.000042 -> 42: binlog files are numbered in order.
            let seq = file
                .rsplit('.')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let row = source.binlog_row.unwrap_or(0).clamp(0, 0xffff);
            return Version {
                kind: VersionKind::MysqlBinlog,
                hi: seq,
                lo: pos.max(0).saturating_mul(1 << 16).saturating_add(row),
            };
        }
        match source.ts_ms.filter(|t| *t > 0) {
            Some(ts) => Version {
                kind: VersionKind::TimestampOffset,
                hi: ts,
                lo: event.coordinates.offset,
            },
            None => Version {
                kind: VersionKind::KafkaOffset,
                hi: 0,
                lo: event.coordinates.offset,
            },
        }
    }

    /// Compares with another version of the same kind; `None` when the kinds differ.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        (self.kind == other.kind).then(|| (self.hi, self.lo).cmp(&(other.hi, other.lo)))
    }
}
