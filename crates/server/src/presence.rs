//! Online status (seed 002 "订阅用户在线状态"): a user's status is derived from its
//! sessions in the [`Registry`], one entry per platform class. Every change of a user's
//! sessions (connect, goodbye, dropped socket, heartbeat timeout, kick) reaches one task,
//! in order, which notes the time of each class that went on- or offline and pushes the
//! user's status once to every session of its live subscribers. A change that leaves the
//! classes as they were (a device replacing its own stale session) pushes nothing.
//!
//! The same task pushes profile changes to USER_PROFILE subscribers, so one user's
//! notifications leave in the order they happened.
//!
//! Times live in memory: after a restart a class that never changed reads
//! `updated_time` 0 (unknown), and everyone is offline until they reconnect.
//!
//! With other nodes (`--nats-url`), a user's status is the union of their classes on every
//! node: each node publishes its own users' classes when they change, keeps the other
//! nodes' (replaced when a node starts, dropped when it falls silent for three heartbeat
//! intervals: SIGKILLed), and pushes changes of the union to its own sessions of the
//! subscribers. Every node sees the same changes, so every subscriber hears each once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use imsync_protocol::presence_rules::{ONLINE_STATUS, USER_PROFILE};
use imsync_protocol::{push, Platform, PlatformStatus, SubscribedStatus, SubscribedStatusList};
use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::cluster::{Cluster, NodeMessage, NodePush};
use crate::fanout::encode_push;
use crate::log_escape::Escaped;
use crate::registry::Registry;
use crate::store::{profiles, subscriptions, Store};

/// The platform classes a status lists, in enum order.
pub const CLASSES: [Platform; 3] = [Platform::Desktop, Platform::Web, Platform::Mobile];

/// What the task is told.
#[derive(Debug)]
pub enum Change {
    /// The user's sessions on this node changed.
    Sessions(String),
    /// The user's classes on another node changed (or that node was found gone).
    Remote(String),
    /// The user's profile changed.
    Profile(String),
}

/// What another node last said about its users.
struct NodeBook {
    last_heard: Instant,
    /// Users online there, with their device id per class there ("" = none).
    online: HashMap<String, [String; 3]>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Book {
    online: [bool; 3],
    changed: [i64; 3],
}

/// Last known status per user, the other nodes' users, and the queue to the task.
pub struct Presence {
    book: Mutex<HashMap<String, Book>>,
    nodes: Mutex<HashMap<String, NodeBook>>,
    tx: mpsc::UnboundedSender<Change>,
}

/// Which of the three classes `platforms` covers.
pub fn flags(platforms: &[Platform]) -> [bool; 3] {
    CLASSES.map(|c| platforms.contains(&c))
}

impl Presence {
    /// A presence book and the receiver [`run`] consumes.
    pub fn new() -> (Arc<Presence>, mpsc::UnboundedReceiver<Change>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let p = Presence {
            book: Mutex::new(HashMap::new()),
            nodes: Mutex::new(HashMap::new()),
            tx,
        };
        (Arc::new(p), rx)
    }

    /// Queues `change` for the task (never blocks: called under no lock, from the
    /// registry and from handlers).
    pub fn notify(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// Records the classes `user` is online on; whether any of them changed.
    fn record(&self, user: &str, online: [bool; 3], now: i64) -> Option<Book> {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        let entry = book.entry(user.to_owned()).or_default();
        if entry.online == online {
            return None;
        }
        for ((was, is), at) in entry.online.iter().zip(online).zip(&mut entry.changed) {
            if *was != is {
                *at = now;
            }
        }
        entry.online = online;
        Some(*entry)
    }

    /// The classes `user` is online on: this node's sessions and the other nodes'.
    fn union(&self, registry: &Registry, user: &str) -> [bool; 3] {
        let mut online = flags(&registry.platforms(user));
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        for there in nodes.values().filter_map(|n| n.online.get(user)) {
            for (on, device) in online.iter_mut().zip(there) {
                *on |= !device.is_empty();
            }
        }
        online
    }

    /// Whether another node holds a session of `user` on `platform`'s class from a device
    /// other than `device` (a connect with reconnect_kick_enable is then refused, as on
    /// one node).
    pub fn held_elsewhere(&self, user: &str, platform: Platform, device: &str) -> bool {
        let Some(class) = CLASSES.iter().position(|c| *c == platform) else {
            return false;
        };
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .values()
            .filter_map(|n| n.online.get(user))
            .any(|there| !there[class].is_empty() && there[class] != device)
    }

    /// Notes that `node` was heard from (any message counts as a heartbeat).
    pub fn heard_from(&self, node: &str) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .entry(node.to_owned())
            .or_insert_with(|| NodeBook {
                last_heard: Instant::now(),
                online: HashMap::new(),
            })
            .last_heard = Instant::now();
    }

    /// `node` says `user` has sessions there from `devices` (all "": none any more).
    pub fn remote(&self, node: &str, user: &str, devices: [String; 3]) {
        {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            let Some(book) = nodes.get_mut(node) else {
                return;
            };
            if devices.iter().all(String::is_empty) {
                book.online.remove(user);
            } else {
                book.online.insert(user.to_owned(), devices);
            }
        }
        self.notify(Change::Remote(user.to_owned()));
    }

    /// Forgets what `node` said (it restarted: it has no sessions yet).
    pub fn forget(&self, node: &str) {
        let gone = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            nodes.remove(node).map(|b| b.online).unwrap_or_default()
        };
        for user in gone.into_keys() {
            self.notify(Change::Remote(user));
        }
        self.heard_from(node);
    }

    /// The other nodes heard from (and not expired).
    pub fn live_nodes(&self) -> Vec<String> {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.keys().cloned().collect()
    }

    /// Forgets the nodes not heard from since `since` (killed, or cut off): their users
    /// go offline here.
    pub fn expire(&self, since: Instant) {
        let gone: Vec<(String, NodeBook)> = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            let dead: Vec<String> = nodes
                .iter()
                .filter(|(_, b)| b.last_heard < since)
                .map(|(n, _)| n.clone())
                .collect();
            dead.into_iter()
                .filter_map(|n| nodes.remove_entry(&n))
                .collect()
        };
        for (node, book) in gone {
            tracing::warn!(node = %Escaped(&node), users = book.online.len(), "a node fell silent; its users are offline");
            for user in book.online.into_keys() {
                self.notify(Change::Remote(user));
            }
        }
    }

    /// `user`'s online status now: who is online from the sessions (so a query right
    /// after a connect already sees it), when each class changed from the book.
    pub fn online_status(&self, registry: &Registry, user: &str) -> Vec<PlatformStatus> {
        let online = self.union(registry, user);
        let changed = self
            .book
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .map(|b| b.changed)
            .unwrap_or_default();
        platforms(online, changed)
    }
}

fn platforms(online: [bool; 3], changed: [i64; 3]) -> Vec<PlatformStatus> {
    CLASSES
        .iter()
        .enumerate()
        .map(|(i, c)| PlatformStatus {
            platform: *c as i32,
            online: online[i],
            updated_time: changed[i],
        })
        .collect()
}

/// Pushes `status` to the subscribers' sessions on this node and, with `everywhere`, on
/// the other nodes too (a profile change is seen on one node; a status change on all).
async fn push_to_subscribers(
    store: &Store,
    registry: &Registry,
    cluster: Option<&Arc<Cluster>>,
    everywhere: bool,
    kind: i32,
    status: SubscribedStatus,
) {
    let target = status.user_id.clone();
    let now = now_ms();
    let subs = match store
        .read(move |c| subscriptions::subscribers(c, &target, kind, now))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %Escaped(&e), "reading subscribers failed; status not pushed");
            return;
        }
    };
    if subs.is_empty() {
        return;
    }
    let event = push::Event::SubscribedStatus(SubscribedStatusList {
        statuses: vec![status],
        has_more: false,
    });
    if let Some(frame) = encode_push(event) {
        for s in &subs {
            registry.send(s, &frame, None);
        }
        if let (Some(cluster), true) = (cluster, everywhere) {
            let pushes = subs
                .into_iter()
                .map(|user| NodePush {
                    user,
                    except_session: None,
                    frame: frame.clone(),
                })
                .collect();
            cluster
                .publish(NodeMessage {
                    pushes,
                    ..Default::default()
                })
                .await;
        }
    }
}

/// Records `user`'s status from every node and, if a class changed, pushes it to the
/// subscribers' sessions on this node (each node does the same for its own).
async fn status_changed(
    presence: &Presence,
    registry: &Registry,
    store: &Store,
    cluster: Option<&Arc<Cluster>>,
    user: String,
) {
    let online = presence.union(registry, &user);
    let Some(book) = presence.record(&user, online, now_ms()) else {
        return;
    };
    let status = SubscribedStatus {
        user_id: user,
        r#type: ONLINE_STATUS,
        platforms: platforms(book.online, book.changed),
        ..Default::default()
    };
    push_to_subscribers(store, registry, cluster, false, ONLINE_STATUS, status).await;
}

/// The task: runs until every sender (the [`Presence`] itself) is gone.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<Change>,
    presence: Arc<Presence>,
    registry: Arc<Registry>,
    store: Store,
    cluster: Option<Arc<Cluster>>,
    default_visibility: i32,
) {
    let cluster = cluster.as_ref();
    while let Some(change) = rx.recv().await {
        match change {
            Change::Sessions(user) => {
                // The other nodes learn this node's part first.
                if let Some(cluster) = cluster {
                    let here = registry.devices(&user, &CLASSES);
                    cluster.publish_presence(&user, here).await;
                }
                status_changed(&presence, &registry, &store, cluster, user).await;
            }
            Change::Remote(user) => {
                status_changed(&presence, &registry, &store, cluster, user).await;
            }
            Change::Profile(user) => {
                let id = user.clone();
                // As any other user sees it: a viewer that is not the owner.
                let seen = store
                    .read(move |c| {
                        let viewer = profiles::Viewer::User {
                            id: "",
                            default_visibility,
                        };
                        profiles::get(c, viewer, std::slice::from_ref(&id), 1)
                    })
                    .await;
                let profile = match seen {
                    Ok(mut list) if !list.is_empty() => list.swap_remove(0),
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %Escaped(&e), "reading a profile failed; not pushed");
                        continue;
                    }
                };
                let status = SubscribedStatus {
                    user_id: user,
                    r#type: USER_PROFILE,
                    profile: Some(profile),
                    ..Default::default()
                };
                push_to_subscribers(&store, &registry, cluster, true, USER_PROFILE, status).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_nodes_session_refuses_only_another_device_of_its_class() {
        let (p, _rx) = Presence::new();
        p.heard_from("b");
        let on_b = ["bob-pc".to_string(), String::new(), String::new()];
        p.remote("b", "bob", on_b);
        assert!(p.held_elsewhere("bob", Platform::Desktop, "bob-pc-2"));
        assert!(
            !p.held_elsewhere("bob", Platform::Desktop, "bob-pc"),
            "same device"
        );
        assert!(
            !p.held_elsewhere("bob", Platform::Web, "bob-web"),
            "other class"
        );
        assert!(!p.held_elsewhere("alice", Platform::Desktop, "x"));
        // Node b falls silent: nothing is held there any more.
        p.expire(Instant::now() + std::time::Duration::from_secs(1));
        assert!(!p.held_elsewhere("bob", Platform::Desktop, "bob-pc-2"));
        // Nor by a node never heard from (a stray message after its expiry).
        p.remote("b", "bob", ["x".into(), String::new(), String::new()]);
        assert!(!p.held_elsewhere("bob", Platform::Desktop, "y"));
    }

    #[test]
    fn only_a_change_of_classes_is_recorded() {
        let (p, _rx) = Presence::new();
        let b = p.record("alice", [true, false, false], 10).unwrap();
        assert_eq!(b.changed, [10, 0, 0]);
        assert!(p.record("alice", [true, false, false], 20).is_none());
        let b = p.record("alice", [true, true, false], 30).unwrap();
        assert_eq!(b.changed, [10, 30, 0]);
        let b = p.record("alice", [false, true, false], 40).unwrap();
        assert_eq!((b.online, b.changed), ([false, true, false], [40, 30, 0]));
    }
}
