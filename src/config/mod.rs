//! Configuration: connector configs (Kafka Connect JSON), worker settings, config providers,
//! Kafka client settings.
//!
//! Every config is parsed into typed structs; `validate` collects every problem at once and
//! names the key, and secrets are wrapped so they never print.

pub mod client;
mod confluent;
mod connector;
mod converters;
mod errors;
mod jaas;
pub mod keys;
mod overrides;
mod policies;
pub mod properties;
pub mod providers;
pub mod secret;
pub mod topics;
mod url;
mod values;

pub(crate) use values::list;
pub mod worker;
mod worker_keys;

pub use client::{ClientRole, ClientValue};
pub use connector::{
    ConfigErrors, ConnectorConfig, ErrorTolerance, InsertMode, PrimaryKeyMode, SchemaEvolution,
    TopicSelection,
};
pub use converters::{JSON_CONVERTER, STRING_CONVERTER};
pub use errors::ErrorsConfig;
pub use overrides::{ConnectorClients, OverridePolicy};
pub use providers::Providers;
pub use secret::Secret;
pub use url::{Dialect, TargetUrl};
pub use worker::WorkerConfig;

#[cfg(test)]
mod tests;
