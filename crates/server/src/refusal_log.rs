//! Rate-limited logging of refused and timed-out connections.
//!
//! An attacker decides how often the server refuses something, so logging
//! each refusal would hand them the disk and the log reader's attention.
//! Every [`Reason`] gets at most one line per [`WINDOW`]: the first refusal
//! is logged at once (with the peer address and any detail), later ones in
//! the same window are only counted, and [`RefusalLog::run_flusher`] reports
//! those counts once the window has passed. Each line carries `count=N`, the
//! number of refusals it stands for, so the counts of a reason's lines add
//! up to its refusals.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::log_escape::Escaped;

/// At most one line per reason per window.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Why a connection (or a request on it) was refused or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Over the per-address cap on unauthenticated connections.
    PerIpCap,
    /// Over the total cap on unauthenticated connections.
    TotalCap,
    /// Sent nothing within the idle timeout.
    IdleTimeout,
    /// Did not complete a request head within the header-read timeout.
    HeaderReadTimeout,
    /// A plain HTTP request's body and answer took longer than allowed.
    RequestTimeout,
    /// A WebSocket did not authenticate within the handshake timeout.
    HandshakeTimeout,
    /// `accept` itself failed (e.g. out of file descriptors).
    AcceptError,
    /// An admin call was refused (bad signature, bad parameters, ...).
    AdminRefused,
    /// An unauthenticated HTTP connection was still busy (typically: its
    /// answers not read) past its lifetime and the grace after it.
    LifetimeExceeded,
}

const REASONS: usize = 9;

impl Reason {
    /// The `reason=` tag of its log lines.
    pub fn tag(self) -> &'static str {
        match self {
            Reason::PerIpCap => "per_ip_cap",
            Reason::TotalCap => "total_cap",
            Reason::IdleTimeout => "idle_timeout",
            Reason::HeaderReadTimeout => "header_read_timeout",
            Reason::RequestTimeout => "request_timeout",
            Reason::HandshakeTimeout => "handshake_timeout",
            Reason::AcceptError => "accept_error",
            Reason::AdminRefused => "admin_refused",
            Reason::LifetimeExceeded => "lifetime_exceeded",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Reason::PerIpCap => {
                "connection refused: too many unauthenticated connections from this address"
            }
            Reason::TotalCap => "connection refused: too many unauthenticated connections",
            Reason::IdleTimeout => "connection closed: sent nothing within the idle timeout",
            Reason::HeaderReadTimeout => {
                "connection closed: request head not received within the header-read timeout"
            }
            Reason::RequestTimeout => "request timed out: body or answer took too long (408)",
            Reason::HandshakeTimeout => {
                "websocket closed: no authenticated connect request within the handshake timeout"
            }
            Reason::AcceptError => "accept failed",
            Reason::AdminRefused => "admin call refused",
            Reason::LifetimeExceeded => {
                "connection reset: unauthenticated connection still busy past its lifetime (answers not read)"
            }
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    /// No line before this instant (None: never logged).
    quiet_until: Option<Instant>,
    /// Refusals counted but not yet logged.
    pending: u64,
}

/// What to log now, if anything.
#[derive(Debug, PartialEq, Eq)]
enum Emit {
    /// Log this refusal, standing for `count` (itself and earlier pending ones).
    Now { count: u64 },
    /// Counted; a later line reports it.
    Counted,
}

/// The shared refusal log (one per server).
#[derive(Debug, Default)]
pub struct RefusalLog {
    slots: Mutex<[Slot; REASONS]>,
}

impl RefusalLog {
    /// An empty log.
    pub fn new() -> RefusalLog {
        RefusalLog::default()
    }

    /// Records one refusal; logs it unless its reason was logged less than
    /// [`WINDOW`] ago. `detail` is client-influenced text (escaped here).
    pub fn note(&self, reason: Reason, peer: Option<IpAddr>, detail: Option<&str>) {
        if let Emit::Now { count } = self.note_at(reason, Instant::now()) {
            let peer = peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            match detail {
                Some(d) => tracing::warn!(
                    reason = %reason.tag(),
                    count,
                    %peer,
                    detail = %Escaped(d),
                    "{}",
                    reason.message()
                ),
                None => tracing::warn!(
                    reason = %reason.tag(),
                    count,
                    %peer,
                    "{}",
                    reason.message()
                ),
            }
        }
    }

    fn note_at(&self, reason: Reason, now: Instant) -> Emit {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[reason.index()];
        if slot.quiet_until.is_some_and(|t| now < t) {
            slot.pending += 1;
            return Emit::Counted;
        }
        let count = slot.pending + 1;
        slot.pending = 0;
        slot.quiet_until = Some(now + WINDOW);
        Emit::Now { count }
    }

    /// Reasons whose window has passed with refusals still unreported, and
    /// their counts (resetting them).
    fn due_at(&self, now: Instant) -> Vec<(Reason, u64)> {
        const ALL: [Reason; REASONS] = [
            Reason::PerIpCap,
            Reason::TotalCap,
            Reason::IdleTimeout,
            Reason::HeaderReadTimeout,
            Reason::RequestTimeout,
            Reason::HandshakeTimeout,
            Reason::AcceptError,
            Reason::AdminRefused,
            Reason::LifetimeExceeded,
        ];
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        for reason in ALL {
            let slot = &mut slots[reason.index()];
            if slot.pending > 0 && slot.quiet_until.is_none_or(|t| now >= t) {
                due.push((reason, slot.pending));
                slot.pending = 0;
                slot.quiet_until = Some(now + WINDOW);
            }
        }
        due
    }

    /// Reports the counted refusals once per window, forever (spawn it).
    pub async fn run_flusher(self: Arc<Self>) {
        let mut tick = tokio::time::interval(WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for (reason, count) in self.due_at(Instant::now()) {
                tracing::warn!(
                    reason = %reason.tag(),
                    count,
                    "{} (further ones in the last {}s)",
                    reason.message(),
                    WINDOW.as_secs()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_and_counts_add_up() {
        let log = RefusalLog::new();
        let t0 = Instant::now();
        assert_eq!(log.note_at(Reason::PerIpCap, t0), Emit::Now { count: 1 });
        for i in 0..99 {
            let at = t0 + Duration::from_millis(i * 5);
            assert_eq!(log.note_at(Reason::PerIpCap, at), Emit::Counted);
        }
        // Another reason has its own window.
        assert_eq!(log.note_at(Reason::TotalCap, t0), Emit::Now { count: 1 });
        // Nothing is due inside the window; after it, the 99 counted ones.
        assert!(log.due_at(t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(log.due_at(t0 + WINDOW), vec![(Reason::PerIpCap, 99)]);
        // The flush opened a new window: the next refusal is counted...
        assert_eq!(log.note_at(Reason::PerIpCap, t0 + WINDOW), Emit::Counted);
        // ...and carried by the next line, whichever comes first.
        assert_eq!(
            log.note_at(Reason::PerIpCap, t0 + 2 * WINDOW),
            Emit::Now { count: 2 }
        );
        assert!(log.due_at(t0 + 3 * WINDOW).is_empty());
    }
}
