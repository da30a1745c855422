//! Nodes of one deployment (`--nats-url`) pass each other what their own sessions cannot
//! see: the pushes of every commit, for users whose sessions are on other nodes, and kicks,
//! for a user's second device of one platform class connecting to another node.
//!
//! Every node publishes, in commit order, one message per committed batch on the
//! deployment's subject and applies the other nodes' messages to its own sessions. NATS
//! keeps one publisher's order, so one node's pushes reach a user in seq order; pushes
//! of two nodes may interleave, and the client pulls on any gap (the inbox in the shared
//! database is the truth, pushes only save a round trip). A node that misses messages
//! (NATS down, a slow consumer) loses nothing either: its clients pull on their next gap
//! or reconnect.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::StreamExt;
use imsync_protocol::prost::Message as _;
use imsync_protocol::Platform;

use crate::chatrooms::RoomFrame;
use crate::log_escape::Escaped;
use crate::presence::Presence;
use crate::registry::Registry;
use crate::timeline_pump::TimelinePump;

/// What one node tells the others, once per committed batch (or per kick).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeMessage {
    /// The sending node's id: a node skips its own messages.
    #[prost(string, tag = "1")]
    pub origin: String,
    /// Encoded push frames for users' sessions.
    #[prost(message, repeated, tag = "2")]
    pub pushes: Vec<NodePush>,
    /// Sessions to replace.
    #[prost(message, repeated, tag = "3")]
    pub kicks: Vec<NodeKick>,
    /// Large groups whose timelines grew: each node catches up its online members.
    #[prost(string, repeated, tag = "4")]
    pub timelines: Vec<String>,
    /// Users' sessions on the sending node, after a change (or, answering a hello, every
    /// user online there).
    #[prost(message, repeated, tag = "5")]
    pub presences: Vec<NodePresence>,
    /// The sending node has just started: forget what it said before, and tell it who is
    /// online here.
    #[prost(bool, tag = "6")]
    pub hello: bool,
    /// The sending node is alive (every heartbeat interval; any message counts).
    #[prost(bool, tag = "7")]
    pub heartbeat: bool,
    /// Pushes to chatrooms' connections.
    #[prost(message, repeated, tag = "8")]
    pub rooms: Vec<RoomFrame>,
}

/// `user`'s sessions on the sending node: the device id per platform class (desktop, web,
/// mobile; "" = none; all "" = no session there any more).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodePresence {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(string, repeated, tag = "2")]
    pub devices: Vec<String>,
}

/// Users per presence message when a node tells a new one who is online.
const SNAPSHOT_CHUNK: usize = 2_000;

fn devices_of(p: &NodePresence) -> [String; 3] {
    [0, 1, 2].map(|i| p.devices.get(i).cloned().unwrap_or_default())
}

/// One push frame for `user`'s sessions, except one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodePush {
    #[prost(string, tag = "1")]
    pub user: String,
    /// The session that made the change (it has the result already), if any.
    #[prost(string, optional, tag = "2")]
    pub except_session: Option<String>,
    #[prost(bytes = "bytes", tag = "3")]
    pub frame: Bytes,
}

/// `user` connected a session of `platform` on another node: sessions of that platform
/// class here are replaced (sent `frame`, the kick push, then closed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeKick {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(int32, tag = "2")]
    pub platform: i32,
    /// The new session, which is not on this node.
    #[prost(string, tag = "3")]
    pub session_id: String,
    #[prost(bytes = "bytes", tag = "4")]
    pub frame: Bytes,
}

/// This node's connection to the others.
pub struct Cluster {
    client: async_nats::Client,
    subject: String,
    node_id: String,
}

impl Cluster {
    /// Connects to NATS and subscribes to the deployment's subject before returning, so
    /// nothing published after the node starts serving is missed. Deployments are told
    /// apart by app key: several may share one NATS.
    pub async fn start(
        url: &str,
        node_id: &str,
        app_key: &str,
        registry: Arc<Registry>,
        pump: Arc<TimelinePump>,
        presence: Arc<Presence>,
        heartbeat: Duration,
    ) -> Result<Arc<Cluster>, String> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("imsync-server {node_id}"))
            .connect(url)
            .await
            .map_err(|e| {
                let url = crate::config::redact_password(url);
                format!("cannot connect to NATS at {url}: {e}")
            })?;
        let hex: String = app_key.bytes().map(|b| format!("{b:02x}")).collect();
        let subject = format!("imsync.{hex}.nodes");
        let mut messages = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
        // The subscription is registered with the server once a round trip has passed.
        client
            .flush()
            .await
            .map_err(|e| format!("NATS did not answer: {e}"))?;
        let cluster = Arc::new(Cluster {
            client,
            subject,
            node_id: node_id.to_owned(),
        });
        let own = cluster.node_id.clone();
        let me = cluster.clone();
        let alive = presence.clone();
        tokio::spawn(async move {
            while let Some(m) = messages.next().await {
                match NodeMessage::decode(m.payload) {
                    Ok(msg) if msg.origin != own => {
                        let hello = msg.hello;
                        apply(&registry, &pump, &presence, msg);
                        if hello {
                            me.tell_who_is_online(&registry).await;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %Escaped(&e), "undecodable message from another node")
                    }
                }
            }
        });
        cluster
            .publish(NodeMessage {
                hello: true,
                ..Default::default()
            })
            .await;
        // A node silent for three heartbeat intervals is taken for gone, as a device is.
        let beat = Arc::downgrade(&cluster);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(heartbeat);
            loop {
                tick.tick().await;
                let Some(cluster) = beat.upgrade() else {
                    return;
                };
                cluster
                    .publish(NodeMessage {
                        heartbeat: true,
                        ..Default::default()
                    })
                    .await;
                if let Some(since) = std::time::Instant::now().checked_sub(heartbeat * 3) {
                    alive.expire(since);
                }
            }
        });
        Ok(cluster)
    }

    /// Tells the other nodes `user`'s sessions on this node.
    pub async fn publish_presence(&self, user: &str, devices: [String; 3]) {
        let presence = NodePresence {
            user: user.to_owned(),
            devices: devices.to_vec(),
        };
        self.publish(NodeMessage {
            presences: vec![presence],
            ..Default::default()
        })
        .await;
    }

    /// Answers a new node's hello: every user online here, with their sessions.
    async fn tell_who_is_online(&self, registry: &Registry) {
        let all: Vec<NodePresence> = registry
            .snapshot(&crate::presence::CLASSES)
            .into_iter()
            .map(|(user, devices)| NodePresence {
                user,
                devices: devices.to_vec(),
            })
            .collect();
        for chunk in all.chunks(SNAPSHOT_CHUNK) {
            self.publish(NodeMessage {
                presences: chunk.to_vec(),
                ..Default::default()
            })
            .await;
        }
    }

    /// Sends `msg` to the other nodes. A failure is logged, not returned: the inbox
    /// holds what the pushes carry.
    pub async fn publish(&self, mut msg: NodeMessage) {
        let empty = msg.pushes.is_empty()
            && msg.kicks.is_empty()
            && msg.timelines.is_empty()
            && msg.presences.is_empty()
            && msg.rooms.is_empty();
        if empty && !msg.hello && !msg.heartbeat {
            return;
        }
        msg.origin = self.node_id.clone();
        let payload = Bytes::from(msg.encode_to_vec());
        if let Err(e) = self.client.publish(self.subject.clone(), payload).await {
            tracing::warn!(error = %Escaped(&e), "publishing to the other nodes failed");
        }
    }
}

/// Applies another node's message to this node's sessions.
fn apply(registry: &Registry, pump: &TimelinePump, presence: &Presence, msg: NodeMessage) {
    if msg.hello {
        presence.forget(&msg.origin);
    } else {
        presence.heard_from(&msg.origin);
    }
    for p in &msg.presences {
        presence.remote(&msg.origin, &p.user, devices_of(p));
    }
    for group in &msg.timelines {
        pump.grew(group);
    }
    for kick in msg.kicks {
        if let Ok(platform) = Platform::try_from(kick.platform) {
            registry.kick_platform(&kick.user, platform, &kick.session_id, kick.frame);
        }
    }
    for push in msg.pushes {
        registry.send(&push.user, &push.frame, push.except_session.as_deref());
    }
    for frame in &msg.rooms {
        registry.rooms.deliver(frame);
    }
}
