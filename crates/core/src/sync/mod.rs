//! The sync engine: one WebSocket session per signed-in user to imsync-server, the inbox
//! cursor kept in the database, the persisted outbox, heartbeat and reconnect.

pub(crate) mod api;
mod blacklist;
pub(crate) mod chatroom;
mod chatroom_entries;
pub mod conversation_event;
pub mod convert;
mod delivery;
pub mod expansion;
mod presence;
mod profiles;
mod push_config;
mod receipts;
mod remote_delete;
mod session;
mod settings;

use std::sync::Arc;

use imsync_protocol as pb;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::ImError;
pub(crate) use receipts::TypingThrottle;

/// Receives every event: its name (as in the SDK's `Events`) and its payload.
pub type EventSink = Arc<dyn Fn(&str, Payload) + Send + Sync>;

/// An event payload: a value, or JSON text already written (the MESSAGES and CONVERSATION
/// payloads of applied entries, built straight from the rows).
#[derive(Debug, Clone)]
pub enum Payload {
    Value(Value),
    Json(crate::json_text::RawJson),
}

impl Payload {
    pub fn into_value(self) -> Value {
        match self {
            Payload::Value(v) => v,
            Payload::Json(j) => j.parse(),
        }
    }

    pub fn into_json(self) -> String {
        match self {
            Payload::Value(v) => serde_json::to_string(&v).unwrap_or_else(|_| "null".into()),
            Payload::Json(j) => j.0,
        }
    }
}

/// Things this device sent whose echo from the server has not come back yet (expansion
/// changes, messages that are not stored): the echo is recognised and not reported to the
/// device that made it. Bounded, so an echo lost with its connection cannot pin memory.
#[derive(Clone, Default)]
pub(crate) struct PendingEchoes(Arc<std::sync::Mutex<std::collections::VecDeque<String>>>);

impl PendingEchoes {
    const MAX: usize = 256;

    pub fn push(&self, s: String) {
        let mut q = self.0.lock().unwrap();
        if q.len() >= Self::MAX {
            q.pop_front();
        }
        q.push_back(s);
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.lock().unwrap().iter().any(|x| x == s)
    }

    /// Forgets one occurrence of `s`; whether there was one.
    pub fn take(&self, s: &str) -> bool {
        let mut q = self.0.lock().unwrap();
        match q.iter().position(|x| x == s) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Where the connection is; `getConnectionStatus` reports it with the SDK's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Idle,
    Connecting,
    Connected,
    /// Dropped abnormally; retrying. Carries the reason code.
    Suspended(i32),
    /// Stopped: by `disconnect` (code 2) or a fatal code (kicked, token invalid, …).
    Disconnected(i32),
}

impl Status {
    /// The SDK's ConnectionStatus: 0 connected, 1 connecting, 2 disconnected by the user,
    /// 3 network unavailable (retrying), 6 kicked, 9 banned, 31004/31020-style codes for
    /// other fatal stops.
    pub fn code(self) -> i64 {
        match self {
            Status::Connected => 0,
            Status::Connecting => 1,
            Status::Idle | Status::Disconnected(2) => 2,
            Status::Suspended(_) => 3,
            Status::Disconnected(31010) | Status::Disconnected(31023) => 6,
            Status::Disconnected(31009) => 9,
            Status::Disconnected(code) => code as i64,
        }
    }
}

pub(crate) enum Command {
    Request {
        op: pb::request::Op,
        reply: oneshot::Sender<Result<pb::Response, ImError>>,
    },
}

/// A running session task.
pub(crate) struct Link {
    pub commands: mpsc::UnboundedSender<Command>,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub(crate) struct SyncState {
    pub status: Option<Status>,
    pub link: Option<Link>,
}

/// Codes after which retrying cannot help: the session ends with DISCONNECT(code). A
/// damaged database (33201) is one: every retry would pull and fail again until the app
/// calls `recoverDatabase()` and connects anew. A full disk (33202) is not: a retry after
/// space was freed succeeds.
pub fn is_fatal(code: i32) -> bool {
    matches!(
        code,
        31001
            | 31002
            | 31004
            | 31005
            | 31008
            | 31009
            | 31010
            | 31011
            | 31020
            | 31021
            | 31023
            | 31027
            | 31028
            | 31029
            | 33003
            | crate::codes::DATABASE_CORRUPT
    )
}

/// Reads the user id out of an imsync-server token (`t1.<hex user id>.<expiry>.<mac>`)
/// so the user's database can open before any network; the server verifies the token.
pub fn token_user_id(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (Some("t1"), Some(hex), Some(_), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok().filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_user_id_reads_the_hex_user() {
        assert_eq!(
            token_user_id("t1.616c696365.0.abcd").as_deref(),
            Some("alice")
        );
        for bad in [
            "",
            "t1.zz.0.a",
            "t2.61.0.a",
            "t1..0.a",
            "t1.6.0.a",
            "t1.61.0",
        ] {
            assert_eq!(token_user_id(bad), None, "{bad}");
        }
    }
}
