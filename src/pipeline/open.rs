//! Opening the target at start: retried while it is busy or unreachable, abandoned on
//! shutdown.

use super::{PipelineError, Stop};
use crate::config::ConnectorConfig;
use crate::sink::Sink;
use crate::telemetry::{ConnectorHealth, Dependency};
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// Opens the target, retrying while it is busy or unreachable for a while (several workers
/// starting at once on one SQLite file contend for its creation and WAL switch).
pub(super) async fn open_sink(
    config: &ConnectorConfig,
    health: &ConnectorHealth,
    stop: &Stop,
) -> Result<Sink, PipelineError> {
    let mut delays = ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(10)
        .build();
    loop {
        match Sink::open(config).await {
            Ok(sink) => {
                health.reachable(Dependency::Target);
                return Ok(sink);
            }
            Err(e) => {
                let retry = crate::sink::is_transient(&e) || sqlite_cantopen(&e);
                match delays.next() {
                    Some(delay) if retry => {
                        tracing::warn!(error = %e, delay_ms = delay.as_millis() as u64, "target not ready; retrying");
                        health.unreachable(Dependency::Target, &e.to_string());
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = stop.asked() => return Err(PipelineError::Interrupted),
                        }
                    }
                    _ => return Err(PipelineError::Target(e.to_string())),
                }
            }
        }
    }
}

/// SQLITE_CANTOPEN (low byte 14): another worker is creating the same file right now.
fn sqlite_cantopen(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .filter(|db| db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
        .and_then(|db| db.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 14)
}
