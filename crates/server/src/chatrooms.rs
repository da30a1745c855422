//! Chatrooms (seed 002 chatroom pages): rooms, members and recent history in memory.
//!
//! Rooms are live things: a member is a connection (each of a user's devices joins on its
//! own, as with the vendor), messages go only to the connections in the room, and nothing
//! survives a restart but the entries (KV, in the database). Keeping this out of the
//! database keeps a 2,000-member fan-out to one lock and one encode.
//!
//! Seats hold a weak handle on their connection's queue: a closed connection leaves its
//! seat dead without anyone telling the room, and the room notices at the next send. A
//! user whose seats are all dead stays a member for [`OFFLINE_GRACE_MS`] (the vendor's
//! 30 s), so the engine's rejoin after a reconnect keeps its place and join time; after
//! that the next message removes it (the vendor's offline-member rule).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use imsync_protocol::chatroom_rules::{self as rules, MAX_HISTORY_COUNT};
use imsync_protocol::{
    chatroom_event, push, ChatroomBlock, ChatroomEvent, ChatroomHistoryResult, ChatroomInfo,
    ChatroomJoinResult, ChatroomMember, ChatroomMultiLogin, ChatroomUserChange, Message,
};
use tokio::sync::{mpsc, Notify};

use crate::error::ApiError;
use crate::fanout::encode_push;
use crate::registry::Outbound;

/// How long a member whose connections are all gone keeps its place (the vendor's
/// offline-member rule: 30 s).
pub const OFFLINE_GRACE_MS: i64 = 30_000;
/// Most messages a room keeps for joins and history (memory stays bounded per room).
pub const HISTORY_MESSAGES: usize = 1000;

/// `ChatroomUserChange` values (the vendor's ChatroomUserChangeType).
pub mod change {
    /// Joined.
    pub const JOIN: i32 = 1;
    /// Quit.
    pub const QUIT: i32 = 2;
    /// Removed (offline too long, or blocked).
    pub const KICKED: i32 = 3;
}

/// `ChatroomMultiLogin` values (the vendor's ChatRoomSyncStatus and its quit reasons).
pub mod sync {
    /// The user quit the room.
    pub const QUIT: i32 = 0;
    /// The user joined the room.
    pub const JOIN: i32 = 1;
    /// A quit the user asked for.
    pub const REASON_OWN: i32 = 1;
    /// A quit because the user joined another room (one room per user).
    pub const REASON_OTHER_ROOM: i32 = 2;
}

/// A [`ChatroomEvent`] telling of `user`'s join or quit on one of its devices.
pub fn multi_login(user: &str, status: i32, reason: i32) -> chatroom_event::Kind {
    chatroom_event::Kind::MultiLogin(ChatroomMultiLogin {
        status,
        reason,
        user_id: user.to_owned(),
    })
}

/// `ChatroomEvent.destroyed` values.
pub mod destroyed {
    /// The app server destroyed the room.
    pub const MANUAL: i32 = 1;
    /// Nobody spoke or joined for the idle time.
    pub const AUTO: i32 = 2;
}

/// Room lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A room without a message or a join for this long is destroyed (the vendor: 1 h).
    pub idle_ms: i64,
    /// History older than this is dropped (the vendor keeps 2 months in its cloud
    /// storage; here the room's memory, which ends with the room anyway).
    pub history_ms: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            idle_ms: 3_600_000,
            history_ms: 60 * 86_400_000,
        }
    }
}

/// A connection's place in a room.
#[derive(Clone)]
pub struct Seat {
    /// The connection.
    pub session_id: String,
    /// Its queue, weakly: a room must not keep a closed connection's writer alive.
    pub tx: mpsc::WeakSender<Outbound>,
    /// Stops the connection when its queue overflows.
    pub kill: Arc<Notify>,
}

impl Seat {
    fn live(&self) -> bool {
        self.tx.upgrade().is_some_and(|tx| !tx.is_closed())
    }

    fn offer(&self, frame: &Bytes) {
        if let Some(tx) = self.tx.upgrade() {
            if tx.try_send(Outbound::Frame(frame.clone())).is_err() && !tx.is_closed() {
                tracing::warn!(session = %self.session_id, "outbound queue full; closing the connection");
                self.kill.notify_one();
            }
        }
    }
}

struct Member {
    join_time: i64,
    seats: Vec<Seat>,
    offline_since: Option<i64>,
}

struct Room {
    create_time: i64,
    last_active: i64,
    members: HashMap<String, Member>,
    history: VecDeque<Message>,
}

impl Room {
    fn new(now: i64) -> Room {
        Room {
            create_time: now,
            last_active: now,
            members: HashMap::new(),
            history: VecDeque::new(),
        }
    }

    fn seats(&self) -> impl Iterator<Item = &Seat> {
        self.members.values().flat_map(|m| m.seats.iter())
    }

    fn broadcast(&self, frame: &Bytes, except_session: Option<&str>) {
        for s in self.seats() {
            if Some(s.session_id.as_str()) != except_session {
                s.offer(frame);
            }
        }
    }

    fn event(&self, room_id: &str, now: i64, kind: chatroom_event::Kind) {
        if let Some(frame) = event_frame(room_id, now, kind) {
            self.broadcast(&frame, None);
        }
    }

    /// Tells the users in `users` (their connections still in the room) of their own join
    /// or removal. Only them: other members' joins and quits are an opt-in service with the
    /// vendor (seed: "如果需要监听聊天室中其他人员的变动，需要开通服务"), and telling
    /// everyone would make filling a room of n members cost n² pushes.
    fn user_change(&self, room_id: &str, now: i64, users: BTreeMap<String, i32>) {
        let seats: Vec<&Seat> = users
            .keys()
            .filter_map(|u| self.members.get(u))
            .flat_map(|m| m.seats.iter())
            .collect();
        if seats.is_empty() {
            return;
        }
        let change = ChatroomUserChange {
            users,
            member_count: self.members.len() as u32,
        };
        if let Some(frame) = event_frame(room_id, now, chatroom_event::Kind::UserChange(change)) {
            for s in seats {
                s.offer(&frame);
            }
        }
    }

    /// Takes `user` out because it joined another room: its connections hear that they
    /// were removed (their engines stop rejoining) and the rest of the room hears the
    /// multi-login quit, as the vendor tells "the kicked room's members".
    fn leave_for_other_room(&mut self, room_id: &str, user: &str, now: i64) {
        let Some(member) = self.members.remove(user) else {
            return;
        };
        let change = ChatroomUserChange {
            users: BTreeMap::from([(user.to_owned(), change::KICKED)]),
            member_count: self.members.len() as u32,
        };
        if let Some(frame) = event_frame(room_id, now, chatroom_event::Kind::UserChange(change)) {
            for s in &member.seats {
                s.offer(&frame);
            }
        }
        let kind = multi_login(user, sync::QUIT, sync::REASON_OTHER_ROOM);
        self.event(room_id, now, kind);
    }

    /// Applies the offline-member rule; returns the users it removed.
    fn drop_offline(&mut self, now: i64) -> Vec<String> {
        let mut gone = Vec::new();
        for (user, m) in self.members.iter_mut() {
            m.seats.retain(Seat::live);
            if m.seats.is_empty() {
                let since = *m.offline_since.get_or_insert(now);
                if now - since >= OFFLINE_GRACE_MS {
                    gone.push(user.clone());
                }
            } else {
                m.offline_since = None;
            }
        }
        for u in &gone {
            self.members.remove(u);
        }
        gone
    }

    /// Stamps, fans out and keeps a message; sent times are strictly increasing within a
    /// room, so history paging by time never skips one.
    fn publish(
        &mut self,
        mut message: Message,
        except_session: Option<&str>,
        now: i64,
        history_ms: i64,
    ) -> i64 {
        self.last_active = now;
        let sent_time = self
            .history
            .back()
            .map_or(now, |last| now.max(last.sent_time + 1));
        message.sent_time = sent_time;
        if let Some(frame) = encode_push(push::Event::ChatroomMessage(message.clone())) {
            self.broadcast(&frame, except_session);
        }
        self.history.push_back(message);
        self.trim_history(now, history_ms);
        sent_time
    }

    fn trim_history(&mut self, now: i64, history_ms: i64) {
        while self.history.len() > HISTORY_MESSAGES
            || self
                .history
                .front()
                .is_some_and(|m| now - m.sent_time > history_ms)
        {
            self.history.pop_front();
        }
    }
}

/// A chatroom event, encoded once for any number of connections.
pub fn event_frame(room_id: &str, now: i64, kind: chatroom_event::Kind) -> Option<Bytes> {
    encode_push(push::Event::ChatroomEvent(ChatroomEvent {
        room_id: room_id.to_owned(),
        time: now,
        kind: Some(kind),
    }))
}

/// What a quit or removal left behind: the users who are no longer members (their
/// auto-delete entries go).
#[derive(Debug, Default)]
pub struct Left {
    /// Users that left the room.
    pub users: Vec<String>,
    /// Whether the quitting connection was in the room (its user's other devices hear it).
    pub seated: bool,
}

/// A join's answer, and the rooms the user was taken out of to make it (one room per user).
#[derive(Debug)]
pub struct Joined {
    /// What the joining connection gets.
    pub result: ChatroomJoinResult,
    /// Rooms the user left for this one.
    pub left_rooms: Vec<String>,
}

/// Every room of this server.
pub struct Chatrooms {
    rooms: Mutex<HashMap<String, Room>>,
    /// (room, user) -> blocked until, Unix ms.
    blocked: Mutex<HashMap<(String, String), i64>>,
    lifetimes: Lifetimes,
    /// Whether a user may be in several rooms (else a join leaves the previous room).
    multiple_rooms: bool,
}

fn not_in_room(room_id: &str) -> ApiError {
    ApiError::new(rules::NOT_IN_CHATROOM, format!("not in chatroom {room_id}"))
}

fn no_room(room_id: &str) -> ApiError {
    ApiError::new(
        rules::NOT_EXIST,
        format!("chatroom {room_id} does not exist"),
    )
}

impl Chatrooms {
    /// No rooms yet.
    pub fn new(lifetimes: Lifetimes, multiple_rooms: bool) -> Chatrooms {
        Chatrooms {
            rooms: Mutex::new(HashMap::new()),
            blocked: Mutex::new(HashMap::new()),
            lifetimes,
            multiple_rooms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Destroys the rooms idle for too long (each tells its members); returns their ids.
    pub fn sweep(&self, now: i64) -> Vec<String> {
        let mut rooms = self.lock();
        let idle: Vec<String> = rooms
            .iter()
            .filter(|(_, r)| now - r.last_active >= self.lifetimes.idle_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            if let Some(room) = rooms.remove(id) {
                room.event(id, now, chatroom_event::Kind::Destroyed(destroyed::AUTO));
            }
        }
        idle
    }

    /// Whether `room_id` exists.
    pub fn exists(&self, room_id: &str) -> bool {
        self.lock().contains_key(room_id)
    }

    fn blocked_until(&self, room_id: &str, user: &str, now: i64) -> Option<i64> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
        blocked.get(&(room_id.to_owned(), user.to_owned())).copied()
    }

    /// Joins `seat` (a connection of `user`) to `room_id`, creating the room when
    /// `create`; a rejoin of a member keeps its join time. The joiner's connections hear
    /// the user change. Unless several rooms are allowed, the user first leaves any
    /// other room it is in (only once the join is known to succeed).
    pub fn join(
        &self,
        room_id: &str,
        user: &str,
        seat: Seat,
        create: bool,
        count: u32,
        now: i64,
    ) -> Result<Joined, ApiError> {
        if let Some(until) = self.blocked_until(room_id, user, now) {
            return Err(ApiError::new(
                rules::USER_KICKED,
                format!("blocked from chatroom {room_id} until {until}"),
            ));
        }
        let mut rooms = self.lock();
        if !rooms.contains_key(room_id) {
            if !create {
                return Err(no_room(room_id));
            }
            rooms.insert(room_id.to_owned(), Room::new(now));
        }
        let mut left_rooms = Vec::new();
        if !self.multiple_rooms {
            for (id, other) in rooms.iter_mut() {
                if id != room_id && other.members.contains_key(user) {
                    other.leave_for_other_room(id, user, now);
                    left_rooms.push(id.clone());
                }
            }
        }
        let room = rooms.get_mut(room_id).ok_or_else(|| no_room(room_id))?;
        room.last_active = now;
        let member = room.members.entry(user.to_owned()).or_insert(Member {
            join_time: now,
            seats: Vec::new(),
            offline_since: None,
        });
        member
            .seats
            .retain(|s| s.live() && s.session_id != seat.session_id);
        member.seats.push(seat);
        member.offline_since = None;
        let join_time = member.join_time;
        room.trim_history(now, self.lifetimes.history_ms);
        let skip = room.history.len().saturating_sub(count as usize);
        let messages = room.history.iter().skip(skip).cloned().collect();
        room.user_change(
            room_id,
            now,
            BTreeMap::from([(user.to_owned(), change::JOIN)]),
        );
        Ok(Joined {
            result: ChatroomJoinResult {
                room_id: room_id.to_owned(),
                messages,
                create_time: room.create_time,
                member_count: room.members.len() as u32,
                join_time,
            },
            left_rooms,
        })
    }

    /// Takes the connection `session_id` out of the room; the user leaves when none of
    /// its connections remains. Quitting a room one is not in succeeds (as the vendor's).
    pub fn quit(&self, room_id: &str, user: &str, session_id: &str, now: i64) -> Left {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_id) else {
            return Left::default();
        };
        let Some(member) = room.members.get_mut(user) else {
            return Left::default();
        };
        let quitting: Vec<Seat> = member
            .seats
            .iter()
            .filter(|s| s.session_id == session_id)
            .cloned()
            .collect();
        member
            .seats
            .retain(|s| s.session_id != session_id && s.live());
        let seated = !quitting.is_empty();
        if !member.seats.is_empty() {
            return Left {
                users: Vec::new(),
                seated,
            };
        }
        room.members.remove(user);
        // The quitting connection hears its own quit, as the vendor's does.
        let change = ChatroomUserChange {
            users: BTreeMap::from([(user.to_owned(), change::QUIT)]),
            member_count: room.members.len() as u32,
        };
        if let Some(frame) = event_frame(room_id, now, chatroom_event::Kind::UserChange(change)) {
            for s in &quitting {
                s.offer(&frame);
            }
        }
        Left {
            users: vec![user.to_owned()],
            seated,
        }
    }

    /// Fans `message` out to the room's connections except the sender's and keeps it in
    /// the history; returns its sent time. `sender_session` must be in the room.
    pub fn send(
        &self,
        room_id: &str,
        user: &str,
        sender_session: &str,
        message: Message,
        now: i64,
    ) -> Result<(i64, Left), ApiError> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(room_id).ok_or_else(|| not_in_room(room_id))?;
        let seated = room
            .members
            .get(user)
            .is_some_and(|m| m.seats.iter().any(|s| s.session_id == sender_session));
        if !seated {
            return Err(not_in_room(room_id));
        }
        let gone = room.drop_offline(now);
        if !gone.is_empty() {
            let users = gone.iter().map(|u| (u.clone(), change::KICKED)).collect();
            room.user_change(room_id, now, users);
        }
        let sent_time = room.publish(
            message,
            Some(sender_session),
            now,
            self.lifetimes.history_ms,
        );
        Ok((
            sent_time,
            Left {
                users: gone,
                seated: true,
            },
        ))
    }

    /// Publishes a message the server wrote (an entry notice) to everyone in the room.
    pub fn post(&self, room_id: &str, message: Message, now: i64) {
        if let Some(room) = self.lock().get_mut(room_id) {
            room.publish(message, None, now, self.lifetimes.history_ms);
        }
    }

    /// Member count and up to `count` members, earliest joined first (`order` 1) or
    /// latest first (2). Needs the room to exist.
    pub fn info(&self, room_id: &str, count: u32, order: u32) -> Result<ChatroomInfo, ApiError> {
        let rooms = self.lock();
        let room = rooms.get(room_id).ok_or_else(|| no_room(room_id))?;
        let mut members: Vec<ChatroomMember> = room
            .members
            .iter()
            .map(|(u, m)| ChatroomMember {
                user_id: u.clone(),
                join_time: m.join_time,
            })
            .collect();
        members.sort_by(|a, b| (a.join_time, &a.user_id).cmp(&(b.join_time, &b.user_id)));
        if order == 2 {
            members.reverse();
        }
        members.truncate(count as usize);
        Ok(ChatroomInfo {
            member_count: room.members.len() as u32,
            members,
        })
    }

    /// A page of the room's history for a member: before `timestamp` (order 0; 0 = now)
    /// or after it (order 1), oldest first either way.
    pub fn history(
        &self,
        room_id: &str,
        user: &str,
        timestamp: i64,
        count: u32,
        order: u32,
    ) -> Result<ChatroomHistoryResult, ApiError> {
        let rooms = self.lock();
        let room = rooms.get(room_id).ok_or_else(|| not_in_room(room_id))?;
        if !room.members.contains_key(user) {
            return Err(not_in_room(room_id));
        }
        let count = count.clamp(1, MAX_HISTORY_COUNT) as usize;
        let (messages, has_more) = if order == 1 {
            let after: Vec<&Message> = room
                .history
                .iter()
                .filter(|m| m.sent_time > timestamp)
                .collect();
            let has_more = after.len() > count;
            (after.into_iter().take(count).cloned().collect(), has_more)
        } else {
            let before: Vec<&Message> = room
                .history
                .iter()
                .filter(|m| timestamp == 0 || m.sent_time < timestamp)
                .collect();
            let skip = before.len().saturating_sub(count);
            (
                before.into_iter().skip(skip).cloned().collect::<Vec<_>>(),
                skip > 0,
            )
        };
        Ok(ChatroomHistoryResult { messages, has_more })
    }

    /// Ok when `user` is a member of `room_id` (23410 without the room, else 23406).
    pub fn check_member(&self, room_id: &str, user: &str) -> Result<(), ApiError> {
        let rooms = self.lock();
        let room = rooms.get(room_id).ok_or_else(|| no_room(room_id))?;
        if !room.members.contains_key(user) {
            return Err(not_in_room(room_id));
        }
        Ok(())
    }

    /// Whether `user` is a member of `room_id`.
    pub fn is_member(&self, room_id: &str, user: &str) -> bool {
        self.lock()
            .get(room_id)
            .is_some_and(|r| r.members.contains_key(user))
    }

    /// Tells every connection in the room (`except_session` aside).
    pub fn notify(
        &self,
        room_id: &str,
        now: i64,
        kind: chatroom_event::Kind,
        except_session: Option<&str>,
    ) {
        let rooms = self.lock();
        if let Some(room) = rooms.get(room_id) {
            if let Some(frame) = event_frame(room_id, now, kind) {
                room.broadcast(&frame, except_session);
            }
        }
    }

    /// Creates the rooms that do not exist yet (the app server's /chatroom/create).
    pub fn create(&self, room_ids: &[String], now: i64) {
        let mut rooms = self.lock();
        for id in room_ids {
            rooms.entry(id.clone()).or_insert_with(|| Room::new(now));
        }
    }

    /// Destroys rooms (the app server's /chatroom/destroy); their members are told.
    /// Returns the ids that existed.
    pub fn destroy(&self, room_ids: &[String], now: i64) -> Vec<String> {
        let mut rooms = self.lock();
        let mut gone = Vec::new();
        for id in room_ids {
            if let Some(room) = rooms.remove(id) {
                room.event(id, now, chatroom_event::Kind::Destroyed(destroyed::MANUAL));
                gone.push(id.clone());
            }
        }
        gone
    }

    /// Blocks users from a room for `minutes` (the app server's /chatroom/user/block/add):
    /// they are removed from it, the room hears the block, and joins answer 23409 until
    /// it ends.
    pub fn block(
        &self,
        room_id: &str,
        user_ids: &[String],
        minutes: u32,
        extra: &str,
        now: i64,
    ) -> Result<Left, ApiError> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(room_id).ok_or_else(|| no_room(room_id))?;
        {
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            for u in user_ids {
                blocked.insert(
                    (room_id.to_owned(), u.clone()),
                    now + i64::from(minutes) * 60_000,
                );
            }
        }
        // Everyone, the blocked included, hears it before they are taken out.
        room.event(
            room_id,
            now,
            chatroom_event::Kind::Block(ChatroomBlock {
                user_ids: user_ids.to_vec(),
                minutes,
                extra: extra.to_owned(),
            }),
        );
        let mut left = Vec::new();
        for u in user_ids {
            if room.members.remove(u).is_some() {
                left.push(u.clone());
            }
        }
        if !left.is_empty() {
            let users = left.iter().map(|u| (u.clone(), change::KICKED)).collect();
            room.user_change(room_id, now, users);
        }
        Ok(Left {
            users: left,
            seated: false,
        })
    }

    /// Number of rooms (admin and tests).
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }
}
