//! sluice: an exactly-once Debezium change-data-capture sink.
//!
//! The crate follows the data path (see DESIGN.md):
//!
//! - [`event`]: the one [`ChangeEvent`](event::ChangeEvent) type that flows from decode to sink.
//! - [`decode`]: Debezium JSON envelopes into change events.
//! - [`transform`]: Kafka Connect transforms and predicates on change events.
//! - [`worker`]: the distributed worker behind `sluice worker`, one handle for its operations.
//! - [`api`]: Kafka Connect's REST API over that handle (paths, codes and bodies as Connect's).
#![deny(missing_docs)]

pub mod api;
pub mod checkpoint;
pub mod classify;
pub mod cli;
pub mod config;
pub mod db;
pub mod deadletter;
pub mod decode;
pub mod event;
pub mod pipeline;
pub mod report;
pub mod resolve;
pub mod sink;
pub mod source;
pub mod telemetry;
pub mod transform;
pub mod worker;
