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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use imsync_protocol::presence_rules::{ONLINE_STATUS, USER_PROFILE};
use imsync_protocol::{push, Platform, PlatformStatus, SubscribedStatus, SubscribedStatusList};
use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::fanout::encode_push;
use crate::log_escape::Escaped;
use crate::registry::Registry;
use crate::store::{profiles, subscriptions, Store};

/// The platform classes a status lists, in enum order.
const CLASSES: [Platform; 3] = [Platform::Desktop, Platform::Web, Platform::Mobile];

/// What the task is told.
#[derive(Debug)]
pub enum Change {
    /// The user's sessions changed.
    Sessions(String),
    /// The user's profile changed.
    Profile(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Book {
    online: [bool; 3],
    changed: [i64; 3],
}

/// Last known status per user, and the queue to the task.
pub struct Presence {
    book: Mutex<HashMap<String, Book>>,
    tx: mpsc::UnboundedSender<Change>,
}

fn flags(platforms: &[Platform]) -> [bool; 3] {
    CLASSES.map(|c| platforms.contains(&c))
}

impl Presence {
    /// A presence book and the receiver [`run`] consumes.
    pub fn new() -> (Arc<Presence>, mpsc::UnboundedReceiver<Change>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let p = Presence {
            book: Mutex::new(HashMap::new()),
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

    /// `user`'s online status now: who is online from the registry (so a query right
    /// after a connect already sees it), when each class changed from the book.
    pub fn online_status(&self, registry: &Registry, user: &str) -> Vec<PlatformStatus> {
        let online = flags(&registry.platforms(user));
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

async fn push_to_subscribers(
    store: &Store,
    registry: &Registry,
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
    }
}

/// The task: runs until every sender (the [`Presence`] itself) is gone.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<Change>,
    presence: Arc<Presence>,
    registry: Arc<Registry>,
    store: Store,
    default_visibility: i32,
) {
    while let Some(change) = rx.recv().await {
        match change {
            Change::Sessions(user) => {
                let online = flags(&registry.platforms(&user));
                let Some(book) = presence.record(&user, online, now_ms()) else {
                    continue;
                };
                let status = SubscribedStatus {
                    user_id: user,
                    r#type: ONLINE_STATUS,
                    platforms: platforms(book.online, book.changed),
                    ..Default::default()
                };
                push_to_subscribers(&store, &registry, ONLINE_STATUS, status).await;
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
                push_to_subscribers(&store, &registry, USER_PROFILE, status).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
