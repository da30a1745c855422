//! Caps on connections that have not authenticated yet.
//!
//! A connection is *unauthenticated* from TCP accept until its WebSocket
//! client's ConnectRequest is accepted, or until an admin call on it has a
//! verified signature, a media call a verified user token, or a file was
//! served on it (a valid file URL); other plain HTTP connections (health,
//! unsigned or badly signed calls) stay unauthenticated until they close. Such
//! connections cost a file descriptor and memory without proving anything,
//! so they are capped per client address and in total, and a connection
//! over a cap is closed at accept instead of queueing: half-open sockets can
//! hold at most the cap, never the whole descriptor table, and never block
//! the listener. Authenticated connections leave the pool
//! ([`Ticket::authenticated`]); WebSocket sessions are bounded by the
//! protocol's heartbeat idle timeout instead, admin connections by the
//! request and header-read (keep-alive idle) timeouts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::refusal_log::Reason;

/// The caps; see the `--max-unauthenticated-*` flags.
#[derive(Debug)]
pub struct ConnLimits {
    /// Per address (IPv6: per /64); 0 = no per-address cap.
    per_ip: usize,
    /// In total.
    total: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_addr: HashMap<IpAddr, usize>,
}

/// The address a connection is counted under. One IPv6 host usually owns a
/// whole /64, so counting single addresses would not cap it at all.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl ConnLimits {
    /// At most `per_ip` unauthenticated connections per address (0 = no
    /// per-address cap) and `total` in all (at least 1).
    pub fn new(per_ip: usize, total: usize) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            per_ip,
            total: total.max(1),
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The total cap.
    pub fn total_cap(&self) -> usize {
        self.total
    }

    /// Admits a just-accepted connection from `ip`, or says which cap it is
    /// over (the caller closes it at once).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Reason> {
        let key = client_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.total {
            return Err(Reason::TotalCap);
        }
        let from_addr = counts.by_addr.get(&key).copied().unwrap_or(0);
        if self.per_ip > 0 && from_addr >= self.per_ip {
            return Err(Reason::PerIpCap);
        }
        counts.total += 1;
        counts.by_addr.insert(key, from_addr + 1);
        Ok(Ticket(Arc::new(TicketInner {
            limits: self.clone(),
            key,
            peer: ip,
            accepted_at: Instant::now(),
            counted: AtomicBool::new(true),
        })))
    }

    /// Unauthenticated connections now.
    pub fn unauthenticated(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_addr.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                counts.by_addr.remove(&key);
            }
        }
    }
}

/// One admitted connection's place in the unauthenticated pool. Clones share
/// the place; it is given back by [`Ticket::authenticated`] or when the last
/// clone is dropped (the connection ended). Handed to request handlers as a
/// request extension.
#[derive(Debug, Clone)]
pub struct Ticket(Arc<TicketInner>);

#[derive(Debug)]
struct TicketInner {
    limits: Arc<ConnLimits>,
    key: IpAddr,
    peer: IpAddr,
    accepted_at: Instant,
    counted: AtomicBool,
}

impl Ticket {
    /// When the TCP connection was accepted (the handshake deadline counts
    /// from here).
    pub fn accepted_at(&self) -> Instant {
        self.0.accepted_at
    }

    /// `after` past accept; None when that is beyond what an [`Instant`]
    /// can hold (no deadline then, rather than a panic on overflow).
    pub fn deadline(&self, after: std::time::Duration) -> Option<Instant> {
        self.0.accepted_at.checked_add(after)
    }

    /// The client's address.
    pub fn peer(&self) -> IpAddr {
        self.0.peer
    }

    /// The connection authenticated: it no longer counts against the caps.
    pub fn authenticated(&self) {
        self.give_back();
    }

    /// The connection is closing: its place is given back now, before the
    /// client can see the close and connect again.
    pub fn closing(&self) {
        self.give_back();
    }

    /// Whether the connection still counts against the caps (it has neither
    /// authenticated nor closed).
    pub fn is_unauthenticated(&self) -> bool {
        self.0.counted.load(Ordering::Acquire)
    }

    fn give_back(&self) {
        if self.0.counted.swap(false, Ordering::AcqRel) {
            self.0.limits.release(self.0.key);
        }
    }
}

impl Drop for TicketInner {
    fn drop(&mut self) {
        if self.counted.swap(false, Ordering::AcqRel) {
            self.limits.release(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_per_address_and_in_total() {
        let limits = ConnLimits::new(2, 3);
        let a1 = limits.admit(ip("10.0.0.1")).unwrap();
        let _a2 = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).unwrap_err(), Reason::PerIpCap);
        let _b1 = limits.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.3")).unwrap_err(), Reason::TotalCap);
        // Authenticating frees the place at once; clones share it.
        let a1_clone = a1.clone();
        a1.authenticated();
        assert_eq!(limits.unauthenticated(), 2);
        let c1 = limits.admit(ip("10.0.0.3")).unwrap();
        drop(a1_clone);
        drop(a1);
        assert_eq!(limits.unauthenticated(), 3);
        // Dropping the last clone frees an unauthenticated place.
        drop(c1);
        assert_eq!(limits.unauthenticated(), 2);
        assert!(limits.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_v4_as_v4() {
        let limits = ConnLimits::new(1, 10);
        let _a = limits.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            limits.admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Reason::PerIpCap
        );
        assert!(limits.admit(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = limits.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            limits.admit(ip("::ffff:192.0.2.7")).unwrap_err(),
            Reason::PerIpCap
        );
    }

    #[test]
    fn deadlines_do_not_overflow() {
        let limits = ConnLimits::new(1, 1);
        let t = limits.admit(ip("10.0.0.1")).unwrap();
        let d = std::time::Duration::from_secs(5);
        assert_eq!(t.deadline(d), Some(t.accepted_at() + d));
        assert_eq!(t.deadline(std::time::Duration::MAX), None);
    }

    #[test]
    fn zero_per_ip_means_only_the_total_cap() {
        let limits = ConnLimits::new(0, 2);
        let _a = limits.admit(ip("10.0.0.1")).unwrap();
        let _b = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).unwrap_err(), Reason::TotalCap);
    }
}
