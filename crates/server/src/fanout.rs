//! Delivery of committed changes to online sessions.
//!
//! The writer thread hands each committed job's deliveries to one task, in
//! commit order, so a user's inbox pushes leave in seq order. Encoding the
//! frames happens here, not on the writer thread.

use std::sync::Arc;

use axum::body::Bytes;
use imsync_protocol::{
    encode_frame, push, Frame, InboxEntry, Message, SettingsChanged, SubscriptionChanged,
    UserProfile,
};
use tokio::sync::mpsc;

use crate::chatrooms::RoomPush;
use crate::cluster::{Cluster, NodeMessage, NodePush};
use crate::log_escape::Escaped;
use crate::registry::Registry;
use crate::timeline_pump::TimelinePump;

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
    /// `user`'s subscriptions changed; tell the sessions other than the one that made
    /// the change.
    SubscriptionChanged {
        /// The subscriber.
        user: String,
        /// The session that made the change (it has the answer).
        except_session: String,
        /// What changed.
        change: SubscriptionChanged,
    },
    /// A large group's timeline grew: its members online on each node are caught up (by
    /// that node's [`TimelinePump`]), which pushes them their new entries.
    Timeline {
        /// The group.
        group: String,
    },
    /// A push to a chatroom's connections, on every node.
    Room(RoomPush),
    /// Any push to `user`'s sessions (but `except_session`), on every node.
    Event {
        /// Recipient.
        user: String,
        /// The session that caused it, if any.
        except_session: Option<String>,
        /// The push.
        event: push::Event,
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

/// The frame a delivery sends, and to whose sessions.
fn push_of(delivery: Delivery) -> Option<NodePush> {
    let (user, except_session, event) = match delivery {
        Delivery::Timeline { .. } | Delivery::Room(_) => return None,
        Delivery::Event {
            user,
            except_session,
            event,
        } => (user, except_session, event),
        Delivery::Entry { user, entry } => (user, None, push::Event::Entry(entry)),
        Delivery::Status { user, message } => (user, None, push::Event::StatusMessage(message)),
        Delivery::Settings {
            user,
            except_session,
            version,
            kind,
        } => (
            user,
            Some(except_session),
            push::Event::SettingsChanged(SettingsChanged {
                version,
                kind: kind.to_owned(),
            }),
        ),
        Delivery::SubscriptionChanged {
            user,
            except_session,
            change,
        } => (
            user,
            Some(except_session),
            push::Event::SubscriptionChanged(change),
        ),
        Delivery::OwnProfile {
            user,
            except_session,
            profile,
        } => (
            user,
            except_session,
            push::Event::OwnProfileChanged(profile),
        ),
    };
    Some(NodePush {
        user,
        except_session,
        frame: encode_push(event)?,
    })
}

/// Runs until the store (the only sender) is gone. With other nodes, every push also goes
/// to them, one message per committed batch, in commit order.
pub async fn run(
    mut batches: mpsc::UnboundedReceiver<Vec<Delivery>>,
    registry: Arc<Registry>,
    cluster: Option<Arc<Cluster>>,
    pump: Arc<TimelinePump>,
) {
    while let Some(batch) = batches.recv().await {
        deliver_with(&registry, cluster.as_ref(), Some(&pump), batch).await;
    }
}

/// Sends `deliveries` to this node's sessions and, in one message, to the other nodes.
pub async fn deliver(
    registry: &Registry,
    cluster: Option<&Arc<Cluster>>,
    deliveries: Vec<Delivery>,
) {
    deliver_with(registry, cluster, None, deliveries).await
}

/// As [`deliver`]; timeline growth goes to `pump` and to the other nodes' pumps.
async fn deliver_with(
    registry: &Registry,
    cluster: Option<&Arc<Cluster>>,
    pump: Option<&Arc<TimelinePump>>,
    deliveries: Vec<Delivery>,
) {
    let mut others = NodeMessage::default();
    for delivery in deliveries {
        if let Delivery::Timeline { group } = delivery {
            if let Some(pump) = pump {
                pump.grew(&group);
            }
            if cluster.is_some() {
                others.timelines.push(group);
            }
            continue;
        }
        if let Delivery::Room(p) = delivery {
            if let Some(frame) = p.encode() {
                registry.rooms.deliver(&frame);
                if cluster.is_some() {
                    others.rooms.push(frame);
                }
            }
            continue;
        }
        // Alone, a node need not encode an entry for a user it has no session of.
        if let (None, Delivery::Entry { user, .. }) = (cluster, &delivery) {
            if !registry.is_online(user) {
                continue;
            }
        }
        let Some(push) = push_of(delivery) else {
            continue;
        };
        registry.send(&push.user, &push.frame, push.except_session.as_deref());
        if cluster.is_some() {
            others.pushes.push(push);
        }
    }
    if let Some(cluster) = cluster {
        cluster.publish(others).await;
    }
}
