//! Per-connection send rate limit (the vendor's 5 messages per second).
//!
//! A sliding one-second window: a send is allowed when fewer than `limit`
//! sends were accepted in the last second. Refused sends do not count, so a
//! client that backs off gets through as soon as the window moves.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// Sliding-window limiter for one connection.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    accepted: VecDeque<Instant>,
}

impl RateLimiter {
    /// At most `per_second` sends per second; 0 disables the limit.
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            limit: per_second as usize,
            accepted: VecDeque::new(),
        }
    }

    /// Records a send at `now` if allowed; `false` if over the limit.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        while let Some(first) = self.accepted.front() {
            if now.duration_since(*first) >= WINDOW {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if self.accepted.len() >= self.limit {
            return false;
        }
        self.accepted.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_boundaries() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(5);
        for _ in 0..5 {
            assert!(r.try_acquire(t0));
        }
        assert!(!r.try_acquire(t0 + Duration::from_millis(999)));
        assert!(r.try_acquire(t0 + Duration::from_millis(1000)));
        let mut off = RateLimiter::new(0);
        assert!((0..100).all(|_| off.try_acquire(t0)));
    }
}
