//! Waking the source thread when records arrive.
//!
//! The source thread reads each partition from its own librdkafka queue, and serves the
//! consumer's main queue (rebalances, errors, records of partitions without a queue of their
//! own) in between. Waiting on the main queue alone, a record that reached a partition queue
//! waited out the whole idle wait (10 ms) before it was read. Every queue now calls
//! [`Wake::notify`] when it goes from empty to non-empty (librdkafka's queue event callback), and
//! an idle source thread waits on the [`Wake`] instead.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A flag set by the queues' callbacks, waited on by the source thread. A notification that
/// comes before the wait is not lost: the flag stays set until the next wait takes it.
#[derive(Debug, Default)]
pub struct Wake {
    ready: Mutex<bool>,
    cond: Condvar,
}

impl Wake {
    /// Called by librdkafka (any of its threads) when a queue gets its first event: must not
    /// block, and does not call librdkafka.
    pub fn notify(&self) {
        if let Ok(mut ready) = self.ready.lock() {
            *ready = true;
            self.cond.notify_one();
        }
    }

    /// Waits until a queue got something since the last wait, or `timeout` passed. Returns
    /// whether it was woken.
    pub fn wait(&self, timeout: Duration) -> bool {
        let Ok(ready) = self.ready.lock() else {
            std::thread::sleep(timeout);
            return false;
        };
        let Ok((mut ready, _)) = self
            .cond
            .wait_timeout_while(ready, timeout, |ready| !*ready)
        else {
            return false;
        };
        std::mem::take(&mut *ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_notification_before_the_wait_is_kept_and_taken_once() {
        let wake = Wake::default();
        wake.notify();
        assert!(wake.wait(Duration::from_secs(5)));
        // Taken: the next wait runs its course.
        let started = Instant::now();
        assert!(!wake.wait(Duration::from_millis(20)));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_notification_from_another_thread_ends_the_wait() {
        let wake = Arc::new(Wake::default());
        let notifier = wake.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            notifier.notify();
        });
        // Far longer than the notifier takes: woken, not timed out.
        assert!(wake.wait(Duration::from_secs(60)));
        thread.join().expect("notifier");
    }
}
