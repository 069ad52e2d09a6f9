//! Configuration: connector configs (Kafka Connect JSON), worker settings, config providers.
//!
//! Every config is parsed into typed structs; `validate` collects every problem at once and
//! names the key, and secrets are wrapped so they never print.

mod confluent;
mod connector;
mod converters;
mod errors;
pub mod keys;
mod policies;
pub mod providers;
pub mod secret;
mod url;
pub mod worker;

pub use connector::{
    ConfigErrors, ConnectorConfig, ErrorTolerance, InsertMode, PrimaryKeyMode, SchemaEvolution,
    TopicSelection,
};
pub use errors::ErrorsConfig;
pub use secret::Secret;
pub use url::{Dialect, TargetUrl};
pub use worker::WorkerConfig;

#[cfg(test)]
mod tests;
