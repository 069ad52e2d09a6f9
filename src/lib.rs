//! sluice: an exactly-once Debezium change-data-capture sink.
//!
//! The modules in the order a change travels through them (DESIGN.md's data path); each one
//! imports only modules listed after it, or the floors at the end.
//!
//! 1. [`cli`] — the command line: `run`, `worker`, `connectors`, `offsets`, `status`, `dlq`,
//!    `conflicts`, `topics`, `validate`, the demo.
//! 2. [`api`] — Kafka Connect's REST API: it only translates HTTP to [`worker`] operations.
//! 3. [`worker`] — the distributed worker: configs and statuses in Kafka topics, the tasks
//!    shared by the workers of one group, each task a [`pipeline`].
//! 4. [`report`] — what operators read from a target: the status report, conflicts, dead
//!    letters (used by the CLI and the REST routes).
//! 5. [`pipeline`] — one connector's run: consume, decode, batch, resolve, and the batch
//!    transaction (`pipeline::transaction`, the one place a batch commits), retries, the
//!    isolation of bad records, the mirror of offsets to Kafka.
//! 6. [`source`] — the Kafka consumer: the group, the fenced claims at assignment, the
//!    records of a partition in order.
//! 7. [`decode`] — Debezium envelopes (JSON, Avro with a registry) into a
//!    [`ChangeEvent`](event::ChangeEvent).
//! 8. [`transform`] — Kafka Connect transforms and predicates on change events.
//! 9. [`sink`] — the rows of a batch written into the transaction it is given: compaction,
//!    schema evolution, conflicts recorded; each change carried out as [`resolve`] decides.
//! 10. [`resolve`] — the decision for each change, one closed [`resolve::Outcome`]: the
//!     late-data policy, the source policy of multi-source conflicts, the version guard
//!     (pure: it reads nothing; the pipeline and the sink hand it what they know).
//! 11. [`deadletter`] — dead letters stored with the batch, published to the topic after.
//! 12. [`checkpoint`] — `sluice_offsets`: the fenced checkpoint a batch commits with its rows.
//!
//! One exception left: the sink's value rendering uses [`decode`]'s helpers for Debezium's
//! semantic values (infinite dates, bits, unscaled decimals), which belong in [`event`].
//!
//! Floors every layer may use: [`db`] (the only holder of a target connection: `Db`, `Tx`,
//! bound `Param`s, the internal tables' DDL), [`event`] (the change event), [`config`]
//! (connector and worker settings), [`classify`] (which errors are transient), [`telemetry`]
//! (metrics, health, logs).
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
