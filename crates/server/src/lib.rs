//! imsync-server: the reference server of the imsync sync protocol.
//!
//! The binary (`src/main.rs`) only parses the command line and calls
//! [`server::run`]. The modules are named for what they do:
//!
//! * [`config`]: command-line flags.
//! * [`server`]: startup, the listening line, graceful shutdown.
//! * [`listener`], [`conn_limits`], [`fd_limit`], [`request_deadline`]: the
//!   accept loop and the slow-loris defences (caps on unauthenticated
//!   connections, timeouts).
//! * [`refusal_log`], [`log_escape`]: rate-limited refusal logging; client
//!   text escaped in every log line.
//! * [`ws`]: the WebSocket endpoint: authentication and request handling.
//! * [`admin`]: the signed admin HTTP API.
//! * [`media`]: file uploads (user token) and downloads (unguessable,
//!   optionally expiring URLs), bytes behind a storage trait.
//! * [`moderation`]: the sensitive-word filter applied to client sends.
//! * [`store`]: SQLite storage (writer thread + read pool), messages,
//!   inboxes, groups, settings, retention.
//! * [`registry`] and [`fanout`]: online sessions and pushes to them.
//! * [`token`], [`signature`]: user tokens and admin signatures.
//! * [`validate`], [`rate_limit`]: input rules and the send rate limit.

pub mod admin;
pub mod chatrooms;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod conn_limits;
pub mod error;
pub mod fanout;
pub mod fd_limit;
pub mod listener;
pub mod log_escape;
pub mod media;
pub mod moderation;
pub mod presence;
pub mod rate_limit;
pub mod refusal_log;
pub mod registry;
pub mod request_deadline;
pub mod server;
pub mod signature;
pub mod state;
pub mod store;
pub mod timeline_pump;
pub mod token;
pub mod validate;
pub mod ws;
