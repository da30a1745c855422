//! Delivery of committed changes to online sessions.
//!
//! The writer thread hands each committed job's deliveries to one task, in
//! commit order, so a user's inbox pushes leave in seq order. Encoding the
//! frames happens here, not on the writer thread.

use std::sync::Arc;

use axum::body::Bytes;
use imsync_protocol::{
    encode_frame, push, Frame, InboxEntry, Message, SettingsChanged, UserProfile,
};
use tokio::sync::mpsc;

use crate::log_escape::Escaped;
use crate::registry::Registry;

/// One push for one user's online sessions.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A new entry in `user`'s inbox.
    Entry {
        /// Inbox owner.
        user: String,
        /// The entry, in the owner's view.
        entry: InboxEntry,
    },
    /// A status message (not stored) for `user`'s online sessions.
    Status {
        /// Recipient.
        user: String,
        /// The message, in the recipient's view.
        message: Message,
    },
    /// `user`'s settings changed; tell the sessions other than the one that
    /// made the change.
    Settings {
        /// Owner of the settings.
        user: String,
        /// The session that made the change (it already has the result).
        except_session: String,
        /// New settings version.
        version: u64,
        /// "conversation", "tag" or "conversation_tag".
        kind: &'static str,
    },
    /// `user`'s own profile changed: tell its sessions (all of them when the app server
    /// changed it, else those other than the one that made the change).
    OwnProfile {
        /// Owner of the profile.
        user: String,
        /// The session that made the change, if a session did.
        except_session: Option<String>,
        /// The whole profile after the change.
        profile: UserProfile,
    },
}

/// Encodes a push frame; pushes are bounded by construction (pull-sized
/// entries), so failure means a bug, which is logged and skipped.
pub fn encode_push(event: push::Event) -> Option<Bytes> {
    match encode_frame(&Frame::push(event)) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %Escaped(&e), "push frame not encodable");
            None
        }
    }
}

/// Sends one delivery to the user's online sessions.
pub fn deliver(registry: &Registry, delivery: Delivery) {
    match delivery {
        Delivery::Entry { user, entry } => {
            if registry.is_online(&user) {
                if let Some(frame) = encode_push(push::Event::Entry(entry)) {
                    registry.send(&user, &frame, None);
                }
            }
        }
        Delivery::Status { user, message } => {
            if let Some(frame) = encode_push(push::Event::StatusMessage(message)) {
                registry.send(&user, &frame, None);
            }
        }
        Delivery::Settings {
            user,
            except_session,
            version,
            kind,
        } => {
            let event = push::Event::SettingsChanged(SettingsChanged {
                version,
                kind: kind.to_owned(),
            });
            if let Some(frame) = encode_push(event) {
                registry.send(&user, &frame, Some(&except_session));
            }
        }
        Delivery::OwnProfile {
            user,
            except_session,
            profile,
        } => {
            if let Some(frame) = encode_push(push::Event::OwnProfileChanged(profile)) {
                registry.send(&user, &frame, except_session.as_deref());
            }
        }
    }
}

/// Runs until the store (the only sender) is gone.
pub async fn run(mut batches: mpsc::UnboundedReceiver<Vec<Delivery>>, registry: Arc<Registry>) {
    while let Some(batch) = batches.recv().await {
        for delivery in batch {
            deliver(&registry, delivery);
        }
    }
}
