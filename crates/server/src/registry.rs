//! Online sessions: who is connected, on which platform class, and the
//! queue that carries frames to each connection.
//!
//! The registry enforces one session per (user, platform class). A new
//! connection either replaces the existing one (which is kicked with 31010)
//! or, when it asked for `reconnect_kick_enable`, is refused with 31023. A
//! reconnect of the same device always replaces its own (presumably stale)
//! session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use imsync_protocol::{codes, Platform};
use tokio::sync::{mpsc, Notify};

use crate::error::ApiError;
use crate::log_escape::Escaped;

/// Frames queued per connection before it counts as too slow and is closed
/// (the client reconnects and pulls what it missed).
pub const OUTBOUND_QUEUE: usize = 1024;

/// Something for a connection's writer task to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send this encoded frame.
    Frame(Bytes),
    /// Send a kick push (the encoded frame), then close.
    Kick(Bytes),
    /// Close the WebSocket with this code and reason.
    Close(u16, String),
}

/// A connection as the registry knows it.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Unique id of the connection.
    pub session_id: String,
    /// The client's device id.
    pub device_id: String,
    /// The platform class slot it occupies.
    pub platform: Platform,
    /// Its outbound queue.
    pub tx: mpsc::Sender<Outbound>,
    /// Wakes its reader to stop (kicked, too slow, closed).
    pub kill: Arc<Notify>,
}

impl SessionHandle {
    /// Queues `frame`; a full queue means the client cannot keep up, so the
    /// connection is closed instead of growing memory or silently dropping.
    fn offer(&self, frame: Bytes) {
        if self.tx.try_send(Outbound::Frame(frame)).is_err() {
            tracing::warn!(session = %self.session_id, "outbound queue full; closing the connection");
            self.kill.notify_one();
        }
    }
}

/// Told the user id whenever a user's set of sessions changed (online status derives
/// from it); it must not block.
pub type Watcher = Box<dyn Fn(&str) + Send + Sync>;

/// All online sessions by user.
#[derive(Default)]
pub struct Registry {
    users: Mutex<HashMap<String, Vec<SessionHandle>>>,
    /// This node's connections in chatrooms.
    pub rooms: crate::chatrooms::RoomSeats,
    watcher: std::sync::OnceLock<Watcher>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Installs the watcher of session changes (once; later calls are ignored).
    pub fn watch(&self, watcher: Watcher) {
        let _ = self.watcher.set(watcher);
    }

    fn changed(&self, user: &str) {
        if let Some(w) = self.watcher.get() {
            w(user);
        }
    }

    /// The platform classes `user` has a session of, in enum order.
    pub fn platforms(&self, user: &str) -> Vec<Platform> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Platform> = users
            .get(user)
            .map(|s| s.iter().map(|h| h.platform).collect())
            .unwrap_or_default();
        out.sort_by_key(|p| *p as i32);
        out.dedup();
        out
    }

    /// The device id of `user`'s session of each platform class (`classes` order; "" =
    /// none), as other nodes are told.
    pub fn devices(&self, user: &str, classes: &[Platform; 3]) -> [String; 3] {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = users.get(user).map(Vec::as_slice).unwrap_or_default();
        classes.map(|c| {
            sessions
                .iter()
                .find(|s| s.platform == c)
                .map(|s| s.device_id.clone())
                .unwrap_or_default()
        })
    }

    /// The users with a session here, sorted, or None when there are more than `limit`.
    pub fn users_up_to(&self, limit: usize) -> Option<Vec<String>> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if users.len() > limit {
            return None;
        }
        let mut out: Vec<String> = users.keys().cloned().collect();
        drop(users);
        out.sort_unstable();
        Some(out)
    }

    /// Every user with a session here, with [`Registry::devices`].
    pub fn snapshot(&self, classes: &[Platform; 3]) -> Vec<(String, [String; 3])> {
        let users: Vec<String> = {
            let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            users.keys().cloned().collect()
        };
        users
            .into_iter()
            .map(|u| {
                let devices = self.devices(&u, classes);
                (u, devices)
            })
            .collect()
    }

    /// Registers `handle` for `user`, applying the one-session-per-platform
    /// policy. `kick_frame` is the encoded kick push for a replaced session.
    pub fn register(
        &self,
        user: &str,
        handle: SessionHandle,
        reconnect_kick_enable: bool,
        kick_frame: Bytes,
    ) -> Result<(), ApiError> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = users.entry(user.to_owned()).or_default();
        if let Some(pos) = sessions.iter().position(|s| s.platform == handle.platform) {
            let same_device = sessions[pos].device_id == handle.device_id;
            if !same_device && reconnect_kick_enable {
                return Err(ApiError::new(
                    codes::RC_DISCONN_SAME_CLIENT_ON_LINE,
                    "another device of this platform class is online",
                ));
            }
            let old = sessions.remove(pos);
            tracing::info!(user = %Escaped(user), old = %old.session_id, new = %handle.session_id, "session replaced (kick)");
            if old.tx.try_send(Outbound::Kick(kick_frame)).is_err() {
                old.kill.notify_one();
            }
        }
        sessions.push(handle);
        drop(users);
        self.changed(user);
        Ok(())
    }

    /// Another node registered session `new_session` of `user` on `platform`: this node's
    /// sessions of that platform class are replaced, as [`Registry::register`] replaces
    /// its own (sent `kick_frame`, then closed).
    pub fn kick_platform(
        &self,
        user: &str,
        platform: Platform,
        new_session: &str,
        kick_frame: Bytes,
    ) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sessions) = users.get_mut(user) else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = sessions
            .drain(..)
            .partition(|s| s.platform == platform && s.session_id != new_session);
        *sessions = kept;
        if sessions.is_empty() {
            users.remove(user);
        }
        drop(users);
        for old in &gone {
            tracing::info!(user = %Escaped(user), old = %old.session_id, new = %new_session, "session replaced on another node (kick)");
            if old.tx.try_send(Outbound::Kick(kick_frame.clone())).is_err() {
                old.kill.notify_one();
            }
        }
        if !gone.is_empty() {
            self.changed(user);
        }
    }

    /// Removes the session `session_id` of `user` if it is still registered.
    pub fn unregister(&self, user: &str, session_id: &str) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let mut removed = false;
        if let Some(sessions) = users.get_mut(user) {
            let before = sessions.len();
            sessions.retain(|s| s.session_id != session_id);
            removed = sessions.len() != before;
            if sessions.is_empty() {
                users.remove(user);
            }
        }
        drop(users);
        if removed {
            self.changed(user);
        }
    }

    /// Queues `frame` to every session of `user` except `except_session`.
    pub fn send(&self, user: &str, frame: &Bytes, except_session: Option<&str>) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sessions) = users.get(user) {
            for s in sessions {
                if Some(s.session_id.as_str()) != except_session {
                    s.offer(frame.clone());
                }
            }
        }
    }

    /// Whether `user` has at least one session online.
    pub fn is_online(&self, user: &str) -> bool {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.contains_key(user)
    }

    /// Number of sessions online.
    pub fn session_count(&self) -> usize {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.values().map(Vec::len).sum()
    }
}
