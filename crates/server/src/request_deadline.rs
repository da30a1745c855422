//! A plain HTTP request's deadline, which a handler receiving a long body may
//! push back.
//!
//! `--request-timeout` bounds a request's body and answer: the defence
//! against clients that trickle a body forever. An upload's body is
//! legitimately long (100 MB on a slow uplink takes minutes), so the upload
//! handler, once the caller's token has verified, pushes the deadline back
//! each time body bytes arrive: for an upload the timeout counts from the
//! last bytes received rather than from the request head.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Shared between the listener, which answers 408 once it passes, and the
/// handler (a request extension).
#[derive(Debug, Clone)]
pub struct RequestDeadline(Arc<Mutex<Instant>>);

/// Far enough away to mean "never" without overflowing an [`Instant`].
const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);

fn from_now(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

impl RequestDeadline {
    /// A deadline `after` from now.
    pub fn after(after: Duration) -> RequestDeadline {
        RequestDeadline(Arc::new(Mutex::new(from_now(after))))
    }

    /// The deadline now.
    pub fn at(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the deadline to `after` from now, unless it is already later.
    pub fn push_back(&self, after: Duration) {
        let wanted = from_now(after);
        let mut at = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if wanted > *at {
            *at = wanted;
        }
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_back_never_earlier() {
        let d = RequestDeadline::after(Duration::from_secs(60));
        let first = d.at();
        d.push_back(Duration::from_secs(1));
        assert_eq!(d.at(), first);
        d.push_back(Duration::from_secs(120));
        assert!(d.at() > first);
        assert!(!d.passed());
        assert!(RequestDeadline::after(Duration::ZERO).passed());
    }
}
