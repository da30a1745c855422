//! State shared by the HTTP handlers and WebSocket connections.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::chatrooms::Chatrooms;
use crate::config::Settings;
use crate::media::Media;
use crate::presence::Presence;
use crate::refusal_log::RefusalLog;
use crate::registry::Registry;
use crate::store::Store;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Resolved settings (credentials, limits).
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// Online sessions.
    pub registry: Arc<Registry>,
    /// Becomes `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every live connection; the server waits until all are gone.
    pub alive: mpsc::Sender<()>,
    /// Rate-limited log of refused connections and calls.
    pub refusals: Arc<RefusalLog>,
    /// Chatrooms (in the store; this node's connections in the registry).
    pub chatrooms: Arc<Chatrooms>,
    /// Online status: the book of who changed when, and the task's queue.
    pub presence: Arc<Presence>,
    /// Uploaded files: their storage and the per-upload turns.
    pub media: Arc<Media>,
    /// The other nodes of the deployment (`--nats-url`), if any.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}
