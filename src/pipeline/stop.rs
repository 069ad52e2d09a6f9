//! One connector's view of SIGTERM/SIGINT: waits stop at once, work in flight gets one grace
//! period (`sluice.shutdown.timeout.ms`) counted from when the connector first saw the signal,
//! however many steps (an apply, the probes of a bisection, publishing dead letters) use it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The shutdown signal with its grace period.
#[derive(Debug, Clone)]
pub(super) struct Stop {
    signal: watch::Receiver<bool>,
    grace: Duration,
    /// When this connector first saw the signal: the grace period runs from here.
    seen: Arc<OnceLock<Instant>>,
}

impl Stop {
    pub(super) fn new(signal: watch::Receiver<bool>, grace: Duration) -> Self {
        Stop {
            signal,
            grace,
            seen: Arc::new(OnceLock::new()),
        }
    }

    /// Whether shutdown has been asked for.
    pub(super) fn requested(&self) -> bool {
        let asked = *self.signal.borrow();
        if asked {
            self.seen.get_or_init(Instant::now);
        }
        asked
    }

    /// Resolves once shutdown is asked for (at once if it already was).
    pub(super) async fn asked(&self) {
        let mut signal = self.signal.clone();
        // An error means the sender is gone: no shutdown can come any more.
        if signal.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
        self.seen.get_or_init(Instant::now);
    }

    /// Resolves once the grace period after the signal is over: what is still running then is
    /// abandoned (rolled back; a restart does it again).
    pub(super) async fn grace_over(&self) {
        self.asked().await;
        let seen = *self.seen.get_or_init(Instant::now);
        tokio::time::sleep_until(seen + self.grace).await;
    }

    /// What is left of the grace period (all of it before the signal).
    pub(super) fn grace_left(&self) -> Duration {
        match self.seen.get() {
            Some(seen) => (*seen + self.grace).saturating_duration_since(Instant::now()),
            None => self.grace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_period_is_counted_once_from_the_signal() {
        let (tx, rx) = watch::channel(false);
        let stop = Stop::new(rx, Duration::from_secs(10));
        assert!(!stop.requested());
        assert_eq!(stop.grace_left(), Duration::from_secs(10));
        tx.send(true).expect("send");
        let started = Instant::now();
        stop.asked().await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        // A second step after the first used 4 s gets only what is left.
        stop.clone().grace_over().await;
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert_eq!(stop.grace_left(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_signal_nothing_resolves() {
        let (tx, rx) = watch::channel(false);
        let stop = Stop::new(rx, Duration::from_secs(1));
        let waited = tokio::time::timeout(Duration::from_secs(60), stop.grace_over()).await;
        assert!(waited.is_err());
        drop(tx);
        let waited = tokio::time::timeout(Duration::from_secs(60), stop.asked()).await;
        assert!(waited.is_err(), "a dropped sender is not a shutdown");
    }
}
