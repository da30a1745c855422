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

use axum::body::Bytes;
use futures_util::StreamExt;
use imsync_protocol::prost::Message as _;
use imsync_protocol::Platform;

use crate::log_escape::Escaped;
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
        tokio::spawn(async move {
            while let Some(m) = messages.next().await {
                match NodeMessage::decode(m.payload) {
                    Ok(msg) if msg.origin != own => apply(&registry, &pump, msg),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %Escaped(&e), "undecodable message from another node")
                    }
                }
            }
        });
        Ok(cluster)
    }

    /// Sends `msg` to the other nodes. A failure is logged, not returned: the inbox
    /// holds what the pushes carry.
    pub async fn publish(&self, mut msg: NodeMessage) {
        if msg.pushes.is_empty() && msg.kicks.is_empty() && msg.timelines.is_empty() {
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
fn apply(registry: &Registry, pump: &TimelinePump, msg: NodeMessage) {
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
}
