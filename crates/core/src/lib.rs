//! imsync-core: the IM client core behind the `imsync` Node addon — the per-user message
//! database, local search and the client API, as plain async Rust with no napi in it, so
//! everything is testable with `cargo test`.

pub mod args;
pub mod codes;
pub mod conversation_state;
pub mod engine;
pub mod error;
pub mod json_text;
pub mod logging;
pub mod media;
pub mod message;
pub mod model;
pub mod options;
pub mod registry;
pub mod store;
pub mod stored_message;
pub mod sync;
pub mod unread_queries;

pub use engine::Engine;
pub use error::{ImError, ImResult};
