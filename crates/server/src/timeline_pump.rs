//! Live delivery for large groups (read fan-out, [`crate::store::timeline`]): when a
//! group's timeline grows, this node copies the new entries into the inboxes of the
//! members online here, so their devices get pushes with their own inbox seqs, as for any
//! other message. Members offline cost nothing until they connect.
//!
//! Growth notices from this node's commits and from the other nodes arrive on one queue.
//! One catch-up job runs at a time, for every group that grew meanwhile: under load one
//! job copies many messages for many members, so its cost per message falls.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::log_escape::Escaped;
use crate::registry::Registry;
use crate::store::{timeline, Outcome, Store};

/// Up to this many users online here, a round looks up their cursors rather than walking
/// the grown groups' (whose members who are behind include every offline one: a
/// 100,000-member group would cost 100,000 index entries per round).
const LOOK_UP_AT_MOST: usize = 2_000;

/// The queue of groups whose timelines grew.
pub struct TimelinePump {
    tx: mpsc::UnboundedSender<String>,
}

impl TimelinePump {
    /// A pump and the receiver [`run`] consumes.
    pub fn new() -> (Arc<TimelinePump>, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(TimelinePump { tx }), rx)
    }

    /// Notes that `group`'s timeline grew (never blocks).
    pub fn grew(&self, group: &str) {
        let _ = self.tx.send(group.to_owned());
    }
}

/// Runs until every [`TimelinePump`] handle is gone.
pub async fn run(
    mut grown: mpsc::UnboundedReceiver<String>,
    store: Store,
    registry: Arc<Registry>,
) {
    while let Some(first) = grown.recv().await {
        let mut groups = BTreeSet::from([first]);
        while let Ok(group) = grown.try_recv() {
            groups.insert(group);
        }
        // Few users here: look their cursors up (one lookup each, whatever the groups'
        // sizes); many: walk the grown groups' cursors that are behind, keeping the online.
        let few = registry.users_up_to(LOOK_UP_AT_MOST);
        let registry = registry.clone();
        let result = store
            .write(move |c| {
                let deliveries = match &few {
                    Some(users) => {
                        let users: Vec<&str> = users.iter().map(String::as_str).collect();
                        timeline::catch_up(c, &users, now_ms())?
                    }
                    None => {
                        let online = |user: &str| registry.is_online(user);
                        timeline::catch_up_groups(c, &groups, &online, now_ms())?
                    }
                };
                Ok(Outcome {
                    value: (),
                    deliveries,
                })
            })
            .await;
        // The entries stay in the timeline: the members get them on their next pull.
        if let Err(e) = result {
            tracing::warn!(error = %Escaped(&e.msg), "catching up online members failed");
        }
    }
}

/// Copies `user`'s pending timeline entries into their inbox, so the reads that follow
/// (connect's head, pulls, history) see them. Nothing is pushed: the reading session
/// pulls them, and the user's other sessions, online, were kept caught up by the pumps
/// (one that was not sees a gap at its next push and pulls). A member back after a week
/// may have thousands of entries, more than a session's outbound queue holds.
pub async fn catch_up_user(store: &Store, user: &str) -> Result<(), crate::error::ApiError> {
    let u = user.to_owned();
    if !store.read(move |c| timeline::is_behind(c, &u)).await? {
        return Ok(());
    }
    let u = user.to_owned();
    store
        .write(move |c| {
            timeline::catch_up(c, &[u.as_str()], now_ms())?;
            Ok(Outcome::quiet(()))
        })
        .await
}
