//! Error handling settings: Kafka Connect's `errors.*` keys with their meanings, and sluice's
//! dead-letter ratio guard (`sluice.errors.*`). Every problem names its key.

use super::values::{parse, parse_bool};
use std::collections::BTreeMap;
use std::time::Duration;

/// How errors are retried, logged and dead-lettered (besides `errors.tolerance` and the topic
/// name, which [`super::ConnectorConfig`] holds).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorsConfig {
    /// `errors.deadletterqueue.topic.replication.factor` (Connect's default: 3).
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`: add the `__connect.errors.*` headers.
    /// sluice's default is `true` (Connect's is `false`): the headers are part of its contract.
    pub context_headers: bool,
    /// `errors.log.enable`: log every dead letter with its coordinates and reason.
    pub log: bool,
    /// `errors.log.include.messages`: the log line also shows the record's key and value.
    pub log_messages: bool,
    /// `errors.retry.timeout`: how long one batch's transient errors are retried before the
    /// connector stops. `None` (`-1`, or Connect's default `0`): until they clear, as Connect
    /// redelivers a sink's retriable failures.
    pub retry_timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`: the longest wait between two retries.
    pub retry_delay_max: Duration,
    /// `sluice.errors.max.ratio`: the connector stops (before committing) when more than
    /// this share of the last `window` records would be dead-lettered.
    pub max_ratio: f64,
    /// `sluice.errors.window.records`: the sliding window of the ratio, in records.
    pub window: usize,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig {
            dlq_replication_factor: 3,
            context_headers: true,
            log: false,
            log_messages: false,
            retry_timeout: None,
            retry_delay_max: Duration::from_millis(60_000),
            max_ratio: 0.5,
            window: 1000,
        }
    }
}

pub(super) fn errors_config(
    map: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> ErrorsConfig {
    let d = ErrorsConfig::default();
    let flag = |key: &str, default: bool, problems: &mut Vec<String>| {
        parse(map, key, default, problems, parse_bool, "true or false")
    };
    ErrorsConfig {
        dlq_replication_factor: parse(
            map,
            "errors.deadletterqueue.topic.replication.factor",
            d.dlq_replication_factor,
            problems,
            |s| s.parse::<i16>().ok().filter(|n| *n >= 1 || *n == -1),
            "a replication factor of 1 or more, or -1 for the broker default",
        ),
        context_headers: flag(
            "errors.deadletterqueue.context.headers.enable",
            d.context_headers,
            problems,
        ),
        log: flag("errors.log.enable", d.log, problems),
        log_messages: flag("errors.log.include.messages", d.log_messages, problems),
        retry_timeout: parse(
            map,
            "errors.retry.timeout",
            d.retry_timeout,
            problems,
            |s| match s.parse::<i64>().ok()? {
                -1 | 0 => Some(None),
                n if n > 0 => Some(Some(Duration::from_millis(n as u64))),
                _ => None,
            },
            "milliseconds, or -1 (0) to retry until the error clears",
        ),
        retry_delay_max: parse(
            map,
            "errors.retry.delay.max.ms",
            d.retry_delay_max,
            problems,
            |s| {
                s.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_millis)
            },
            "milliseconds above 0",
        ),
        max_ratio: parse(
            map,
            "sluice.errors.max.ratio",
            d.max_ratio,
            problems,
            |s| s.parse::<f64>().ok().filter(|r| *r > 0.0 && *r <= 1.0),
            "a ratio above 0 and at most 1 (1 never stops)",
        ),
        window: parse(
            map,
            "sluice.errors.window.records",
            d.window,
            problems,
            |s| s.parse::<usize>().ok().filter(|n| *n >= 1),
            "a record count of 1 or more",
        ),
    }
}
