//! The connections of this node in each room: where a room's pushes go on this node.
//! The database says who is a member; this map only reaches the connections, and every
//! node keeps its own (room pushes travel between nodes, see [`crate::cluster`]).
//!
//! Seats hold a weak handle on their connection's queue: a room must not keep a closed
//! connection's writer alive; the connection removes its seats when it ends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::registry::Outbound;

/// A connection's place in a room.
#[derive(Clone)]
pub struct Seat {
    /// The connection.
    pub session_id: String,
    /// Its queue, weakly.
    pub tx: mpsc::WeakSender<Outbound>,
    /// Stops the connection when its queue overflows.
    pub kill: Arc<Notify>,
}

impl Seat {
    /// Queues `frame`; a connection too slow to take it is closed.
    pub fn offer(&self, frame: &Bytes) {
        if let Some(tx) = self.tx.upgrade() {
            if tx.try_send(Outbound::Frame(frame.clone())).is_err() && !tx.is_closed() {
                tracing::warn!(session = %self.session_id, "outbound queue full; closing the connection");
                self.kill.notify_one();
            }
        }
    }
}

/// One push to a room's connections, as it travels between nodes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RoomFrame {
    #[prost(string, tag = "1")]
    pub room_id: String,
    #[prost(bytes = "bytes", tag = "2")]
    pub frame: Bytes,
    /// The connection that caused it (it has the answer), if any.
    #[prost(string, optional, tag = "3")]
    pub except_session: Option<String>,
    /// Only these users' connections (none: everyone's).
    #[prost(string, repeated, tag = "4")]
    pub to_users: Vec<String>,
    /// Then these users' connections leave the room.
    #[prost(string, repeated, tag = "5")]
    pub unseat_users: Vec<String>,
    /// Then the room is gone.
    #[prost(bool, tag = "6")]
    pub close_room: bool,
}

struct Seated {
    user: String,
    seat: Seat,
}

#[derive(Default)]
struct Map {
    rooms: HashMap<String, Vec<Seated>>,
    /// Rooms of each connection, so a closing one finds its seats.
    by_session: HashMap<String, HashSet<String>>,
}

impl Map {
    fn remove(&mut self, room_id: &str, keep: impl Fn(&Seated) -> bool) {
        let Some(seats) = self.rooms.get_mut(room_id) else {
            return;
        };
        let by_session = &mut self.by_session;
        seats.retain(|s| {
            let k = keep(s);
            if !k {
                if let Some(rooms) = by_session.get_mut(&s.seat.session_id) {
                    rooms.remove(room_id);
                    if rooms.is_empty() {
                        by_session.remove(&s.seat.session_id);
                    }
                }
            }
            k
        });
        if seats.is_empty() {
            self.rooms.remove(room_id);
        }
    }
}

/// Every seat on this node.
#[derive(Default)]
pub struct RoomSeats {
    map: Mutex<Map>,
}

impl RoomSeats {
    fn lock(&self) -> MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seats `seat` (a connection of `user`) in the room, replacing its earlier seat.
    pub fn seat(&self, room_id: &str, user: &str, seat: Seat) {
        let mut map = self.lock();
        let session = seat.session_id.clone();
        map.remove(room_id, |s| s.seat.session_id != session);
        map.rooms
            .entry(room_id.to_owned())
            .or_default()
            .push(Seated {
                user: user.to_owned(),
                seat,
            });
        map.by_session
            .entry(session)
            .or_default()
            .insert(room_id.to_owned());
    }

    /// Takes connection `session_id` out of the room; its seat, if it had one.
    pub fn unseat(&self, room_id: &str, session_id: &str) -> Option<Seat> {
        let mut map = self.lock();
        let seat = map
            .rooms
            .get(room_id)?
            .iter()
            .find(|s| s.seat.session_id == session_id)
            .map(|s| s.seat.clone());
        map.remove(room_id, |s| s.seat.session_id != session_id);
        seat
    }

    /// Takes a closing connection out of every room; whether it was in any.
    pub fn close(&self, session_id: &str) -> bool {
        let mut map = self.lock();
        let Some(rooms) = map.by_session.remove(session_id) else {
            return false;
        };
        for room in &rooms {
            map.remove(room, |s| s.seat.session_id != session_id);
        }
        true
    }

    /// Delivers `f` to the room's connections here, then applies its removals.
    pub fn deliver(&self, f: &RoomFrame) {
        let mut map = self.lock();
        if let Some(seats) = map.rooms.get(&f.room_id) {
            for s in seats {
                let wanted = f.to_users.is_empty() || f.to_users.contains(&s.user);
                if wanted && f.except_session.as_deref() != Some(s.seat.session_id.as_str()) {
                    s.seat.offer(&f.frame);
                }
            }
        }
        if f.close_room {
            map.remove(&f.room_id, |_| false);
        } else if !f.unseat_users.is_empty() {
            map.remove(&f.room_id, |s| !f.unseat_users.contains(&s.user));
        }
    }

    /// Connections seated here (tests).
    pub fn len(&self) -> usize {
        self.lock().rooms.values().map(Vec::len).sum()
    }

    /// Whether no connection is seated here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(session: &str) -> (Seat, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(8);
        let seat = Seat {
            session_id: session.into(),
            tx: tx.downgrade(),
            kill: Arc::new(Notify::new()),
        };
        std::mem::forget(tx);
        (seat, rx)
    }

    fn frames(rx: &mut mpsc::Receiver<Outbound>) -> usize {
        let mut n = 0;
        while let Ok(Outbound::Frame(_)) = rx.try_recv() {
            n += 1;
        }
        n
    }

    #[test]
    fn frames_reach_the_chosen_seats_then_removals_apply() {
        let seats = RoomSeats::default();
        let (a1, mut ra1) = seat("a1");
        let (a2, mut ra2) = seat("a2");
        let (b1, mut rb1) = seat("b1");
        seats.seat("r", "a", a1);
        seats.seat("r", "a", a2);
        seats.seat("r", "b", b1.clone());
        seats.seat("r", "b", b1);
        assert_eq!(seats.len(), 3, "a connection has one seat per room");
        let frame = |to: &[&str], unseat: &[&str], except: Option<&str>| RoomFrame {
            room_id: "r".into(),
            frame: Bytes::from_static(b"x"),
            except_session: except.map(str::to_owned),
            to_users: to.iter().map(|s| s.to_string()).collect(),
            unseat_users: unseat.iter().map(|s| s.to_string()).collect(),
            close_room: false,
        };
        seats.deliver(&frame(&[], &[], Some("a1")));
        assert_eq!(
            (frames(&mut ra1), frames(&mut ra2), frames(&mut rb1)),
            (0, 1, 1)
        );
        seats.deliver(&frame(&["a"], &["a"], None));
        assert_eq!(
            (frames(&mut ra1), frames(&mut ra2), frames(&mut rb1)),
            (1, 1, 0)
        );
        assert_eq!(seats.len(), 1, "a's seats went after the frame");
        assert!(!seats.close("a1"), "a1 was unseated already");
        assert!(seats.close("b1"));
        assert!(seats.is_empty());
    }
}
