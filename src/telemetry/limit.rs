//! Log lines at a bounded rate: one line per cause per interval, saying how many were held
//! back, so a broker that stays down does not write forty lines a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Admits one log line per cause per interval.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    /// Per cause: when its last line was admitted, and how many were held back since.
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LogLimiter {
    /// A limiter admitting a cause's line at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        LogLimiter {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(held back since the last line)` when a line for `cause` may be logged now.
    pub fn admit(&self, cause: &str) -> Option<u64> {
        self.admit_at(cause, Instant::now())
    }

    fn admit_at(&self, cause: &str, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().ok()?;
        match seen.get_mut(cause) {
            Some((last, held)) if now.duration_since(*last) < self.interval => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let count = *held;
                *last = now;
                *held = 0;
                Some(count)
            }
            None => {
                seen.insert(cause.to_string(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_cause_per_interval_with_the_count() {
        let limiter = LogLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(limiter.admit_at("down", t0), Some(0));
        for i in 1..=40 {
            assert_eq!(
                limiter.admit_at("down", t0 + Duration::from_millis(i * 25)),
                None
            );
        }
        assert_eq!(
            limiter.admit_at("auth", t0),
            Some(0),
            "causes are counted apart"
        );
        assert_eq!(
            limiter.admit_at("down", t0 + Duration::from_secs(31)),
            Some(40)
        );
        assert_eq!(limiter.admit_at("down", t0 + Duration::from_secs(32)), None);
    }
}
