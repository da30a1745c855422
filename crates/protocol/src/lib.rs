//! The imsync wire protocol, shared by the client core and the reference server.
//!
//! * [`proto/imsync.proto`](../proto/imsync.proto) is the documentation: every
//!   message and field is described there. The prost types generated from it
//!   are re-exported at the crate root ([`Frame`], [`Request`], [`Response`],
//!   [`Push`], [`InboxEntry`], ...).
//! * [`encode_frame`] / [`decode_frame`] turn a [`Frame`] into the payload of one
//!   binary WebSocket message and back, enforcing [`MAX_FRAME_BYTES`].
//! * [`codes`] holds the error codes (the vendor SDK's `ErrorCode` numbers) a
//!   [`Response::code`] can carry; [`object_names`] the built-in message types
//!   the server writes itself.
//!
//! # Client flow
//!
//! ```
//! use imsync_protocol::*;
//!
//! // 1. First frame on ws://HOST/ws: connect (the token travels here, never
//! //    in the URL).
//! let hello = Frame::request(1, request::Op::Connect(ConnectRequest {
//!     protocol_version: PROTOCOL_VERSION,
//!     token: "t1....".into(),
//!     device_id: "install-123".into(),
//!     platform: Platform::Desktop as i32,
//!     sdk_version: "imsync/0.1".into(),
//!     reconnect_kick_enable: false,
//! }));
//! let bytes = encode_frame(&hello).unwrap(); // send as one binary message
//!
//! // 2. Every frame received is decoded and dispatched on its kind.
//! let reply = Frame::response(1, Response::ok(response::Body::ConnectAck(ConnectAck {
//!     user_id: "alice".into(),
//!     inbox_head_seq: 3,
//!     ..Default::default()
//! })));
//! let cursor = 0u64; // persisted with the messages it covers
//! match decode_frame(&encode_frame(&reply).unwrap()).unwrap().kind {
//!     Some(frame::Kind::Response(r)) if r.code == codes::SUCCESS => {
//!         if let Some(response::Body::ConnectAck(ack)) = r.body {
//!             // 3. Pull while the server has more than the cursor.
//!             if ack.inbox_head_seq > cursor {
//!                 let pull = Frame::request(2, request::Op::PullInbox(PullInboxRequest {
//!                     after_seq: cursor,
//!                     limit: DEFAULT_PULL_LIMIT,
//!                 }));
//!                 let _ = encode_frame(&pull).unwrap();
//!             }
//!         }
//!     }
//!     Some(frame::Kind::Response(r)) => {
//!         // e.g. codes::RC_CONN_TOKEN_INCORRECT: fatal, see codes::FATAL_CONNECT_CODES
//!         assert!(codes::FATAL_CONNECT_CODES.contains(&r.code));
//!     }
//!     Some(frame::Kind::Push(Push { event: Some(push::Event::Entry(entry)) })) => {
//!         // 4. seq == cursor + 1: apply; <= cursor: duplicate; else pull.
//!         let _ = entry.seq;
//!     }
//!     _ => {}
//! }
//! # let _ = bytes;
//! ```

pub mod chatroom_rules;
mod codec;
pub mod codes;
pub mod media_types;
pub mod object_names;
pub mod presence_rules;
pub mod profile_rules;

/// The generated protobuf types (package `imsync.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/imsync.v1.rs"));
}

pub use codec::{decode_frame, encode_frame, FrameError};
pub use pb::*;
/// The prost version the generated types use (for `prost::Message` methods).
pub use prost;

/// Protocol version spoken by this crate; `ConnectRequest.protocol_version`
/// must equal it (else the server answers 31001).
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest encoded [`Frame`] either side accepts, in bytes (1 MiB). The server
/// closes a connection that sends a larger WebSocket message, and cuts pull
/// pages so its own frames stay below this.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Largest message content (the JSON string), in bytes: 128 KB (else 30016).
pub const MAX_CONTENT_BYTES: usize = 128 * 1024;

/// Path of the WebSocket endpoint on the server's base URL.
pub const WS_PATH: &str = "/ws";

/// How often a client should send [`Ping`], in milliseconds.
pub const HEARTBEAT_INTERVAL_MS: u32 = 15_000;

/// A connection that sends nothing for this long is closed by the server, ms.
pub const IDLE_TIMEOUT_MS: u32 = 45_000;

/// Page size used when `PullInboxRequest.limit` is 0.
pub const DEFAULT_PULL_LIMIT: u32 = 100;

/// Largest page size a pull may ask for.
pub const MAX_PULL_LIMIT: u32 = 500;

/// Expansion limits (vendor values): keys per request, keys per message,
/// key length, value length.
pub const EXPANSION_MAX_KEYS_PER_UPDATE: usize = 20;
/// Total expansion keys a message may hold.
pub const EXPANSION_MAX_KEYS_TOTAL: usize = 300;
/// Longest expansion key, characters.
pub const EXPANSION_MAX_KEY_CHARS: usize = 32;
/// Longest expansion value, characters.
pub const EXPANSION_MAX_VALUE_CHARS: usize = 4096;

/// Whether `key` is a valid expansion key: 1..=32 of `[A-Za-z0-9+=_-]`.
pub fn is_valid_expansion_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= EXPANSION_MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=_-".contains(&b))
}

/// Tags a user may have.
pub const MAX_TAGS_PER_USER: usize = 20;
/// Conversations in one tag operation; also the number a tag keeps.
pub const MAX_CONVERSATIONS_PER_TAG: usize = 1000;
/// Users a blacklist may hold.
pub const MAX_BLACKLIST: usize = 3000;
/// Most messages one DeleteMessagesRequest names (the seed gives no limit; 100 is the
/// history page size).
pub const MAX_DELETE_MESSAGES: usize = 100;

impl Frame {
    /// A client request with correlation id `id` (must be non-zero).
    pub fn request(id: u64, op: request::Op) -> Frame {
        Frame {
            id,
            kind: Some(frame::Kind::Request(Request { op: Some(op) })),
        }
    }

    /// A response to the request `id`.
    pub fn response(id: u64, response: Response) -> Frame {
        Frame {
            id,
            kind: Some(frame::Kind::Response(response)),
        }
    }

    /// A server push (id 0).
    pub fn push(event: push::Event) -> Frame {
        Frame {
            id: 0,
            kind: Some(frame::Kind::Push(Push { event: Some(event) })),
        }
    }

    /// A heartbeat probe.
    pub fn ping(id: u64, timestamp: i64) -> Frame {
        Frame {
            id,
            kind: Some(frame::Kind::Ping(Ping { timestamp })),
        }
    }
}

impl Response {
    /// A success carrying `body`.
    pub fn ok(body: response::Body) -> Response {
        Response {
            code: codes::SUCCESS,
            msg: String::new(),
            body: Some(body),
            moderation: None,
        }
    }

    /// A success without a result.
    pub fn ok_empty() -> Response {
        Response::default()
    }

    /// A failure with one of the [`codes`] and a human-readable detail.
    pub fn error(code: i32, msg: impl Into<String>) -> Response {
        Response {
            code,
            msg: msg.into(),
            body: None,
            moderation: None,
        }
    }

    /// `true` when `code` is 0.
    pub fn is_ok(&self) -> bool {
        self.code == codes::SUCCESS
    }
}

impl Conversation {
    /// A conversation of `kind` with `target_id` on the default channel.
    pub fn new(kind: ConversationType, target_id: impl Into<String>) -> Conversation {
        Conversation {
            r#type: kind as i32,
            target_id: target_id.into(),
            channel_id: String::new(),
        }
    }
}
