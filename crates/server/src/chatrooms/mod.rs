//! Chatrooms (seed 002 chatroom pages): joins, quits, sends, history and the app server's
//! room calls, on rooms kept in the store ([`crate::store::chatrooms`]), so any node
//! serves any room and nothing but the live connections is held in memory.
//!
//! A member is a user; each of its devices joins on its own (a seat, as with the vendor).
//! Messages go only to the connections in the room: every change is one write job whose
//! pushes leave after the commit, in commit order, to this node's seats ([`seats`]) and
//! to the other nodes' (`--nats-url`). A user whose connections are all gone stays a
//! member for the vendor's 30 s, so the engine's rejoin after a reconnect keeps its place
//! and join time; after that the room's next message removes it.

pub mod seats;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use imsync_protocol::{
    chatroom_event, push, ChatroomBlock, ChatroomEntryChange, ChatroomEvent, ChatroomHistoryResult,
    ChatroomInfo, ChatroomJoinResult, ChatroomMultiLogin, ChatroomUserChange, Message,
};

pub use self::seats::{RoomFrame, RoomSeats, Seat};
use crate::error::ApiError;
use crate::fanout::{encode_push, Delivery};
use crate::registry::Registry;
use crate::store::chatrooms::{self as rooms, Departure, JoinArgs};
use crate::store::{Outcome, Store};

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

/// `ChatroomEvent.destroyed` values.
pub mod destroyed {
    /// The app server destroyed the room.
    pub const MANUAL: i32 = 1;
    /// Nobody spoke or joined for the idle time.
    pub const AUTO: i32 = 2;
}

/// A [`ChatroomEvent`] telling of `user`'s join or quit on one of its devices.
pub fn multi_login(user: &str, status: i32, reason: i32) -> chatroom_event::Kind {
    chatroom_event::Kind::MultiLogin(ChatroomMultiLogin {
        status,
        reason,
        user_id: user.to_owned(),
    })
}

/// Room lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A room without a message or a join for this long is destroyed (the vendor: 1 h).
    pub idle_ms: i64,
    /// History older than this is dropped (the vendor keeps 2 months).
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

fn event(room_id: &str, now: i64, kind: chatroom_event::Kind) -> push::Event {
    push::Event::ChatroomEvent(ChatroomEvent {
        room_id: room_id.to_owned(),
        time: now,
        kind: Some(kind),
    })
}

/// A chatroom event, encoded once for any number of connections.
pub fn event_frame(room_id: &str, now: i64, kind: chatroom_event::Kind) -> Option<Bytes> {
    encode_push(event(room_id, now, kind))
}

/// A push to a room's connections on every node, handed to the fan-out after the commit.
#[derive(Debug, Clone)]
pub struct RoomPush {
    /// The room.
    pub room_id: String,
    /// What its connections get.
    pub event: push::Event,
    /// The connection that caused it (it has the answer).
    pub except_session: Option<String>,
    /// Only these users' connections (empty: everyone's).
    pub to_users: Vec<String>,
    /// Then these users' connections leave the room.
    pub unseat_users: Vec<String>,
    /// Then the room is gone.
    pub close_room: bool,
}

impl RoomPush {
    /// `event` for everyone in the room.
    pub fn all(room_id: &str, event: push::Event) -> RoomPush {
        RoomPush {
            room_id: room_id.to_owned(),
            event,
            except_session: None,
            to_users: Vec::new(),
            unseat_users: Vec::new(),
            close_room: false,
        }
    }

    /// A chatroom event for everyone in the room.
    pub fn event(room_id: &str, now: i64, kind: chatroom_event::Kind) -> RoomPush {
        RoomPush::all(room_id, event(room_id, now, kind))
    }

    /// Encoded, as it travels between nodes.
    pub fn encode(self) -> Option<RoomFrame> {
        Some(RoomFrame {
            frame: encode_push(self.event)?,
            room_id: self.room_id,
            except_session: self.except_session,
            to_users: self.to_users,
            unseat_users: self.unseat_users,
            close_room: self.close_room,
        })
    }
}

fn room(p: RoomPush) -> Delivery {
    Delivery::Room(p)
}

/// Tells `users` (their connections in the room) of their own join or removal. Only
/// them: other members' joins and quits are an opt-in service with the vendor (seed:
/// "如果需要监听聊天室中其他人员的变动，需要开通服务"), and telling everyone would make
/// filling a room of n members cost n² pushes.
fn user_change(room_id: &str, now: i64, users: &[String], kind: i32, count: u32) -> RoomPush {
    let change = ChatroomUserChange {
        users: users.iter().map(|u| (u.clone(), kind)).collect(),
        member_count: count,
    };
    RoomPush {
        to_users: users.to_vec(),
        ..RoomPush::event(room_id, now, chatroom_event::Kind::UserChange(change))
    }
}

/// The entries removed with users that left.
fn entries_removed(d: &Departure, now: i64) -> Option<Delivery> {
    if d.removed_entries.is_empty() {
        return None;
    }
    let change = ChatroomEntryChange {
        updated: Vec::new(),
        removed: d.removed_entries.clone(),
    };
    Some(room(RoomPush::event(
        &d.room_id,
        now,
        chatroom_event::Kind::Entries(change),
    )))
}

/// A message to the room's connections (but the sender's).
pub fn message_push(room_id: &str, message: Message, except_session: Option<&str>) -> Delivery {
    room(RoomPush {
        except_session: except_session.map(str::to_owned),
        ..RoomPush::all(room_id, push::Event::ChatroomMessage(message))
    })
}

/// `user`'s connections other than `except_session`, on every node (the seed's
/// chatroomNotifyMultiLoginSync: "其他端的在线设备").
fn other_devices(
    user: &str,
    except_session: &str,
    room_id: &str,
    now: i64,
    kind: chatroom_event::Kind,
) -> Delivery {
    Delivery::Event {
        user: user.to_owned(),
        except_session: Some(except_session.to_owned()),
        event: event(room_id, now, kind),
    }
}

/// Every room, as this node serves them.
pub struct Chatrooms {
    store: Store,
    registry: Arc<Registry>,
    node_id: String,
    lifetimes: Lifetimes,
    /// Whether a user may be in several rooms (else a join leaves the previous room).
    multiple_rooms: bool,
}

impl Chatrooms {
    /// Rooms in `store`; this node's connections in `registry`.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        node_id: String,
        lifetimes: Lifetimes,
        multiple_rooms: bool,
    ) -> Chatrooms {
        Chatrooms {
            store,
            registry,
            node_id,
            lifetimes,
            multiple_rooms,
        }
    }

    /// How long history is kept.
    pub fn history_ms(&self) -> i64 {
        self.lifetimes.history_ms
    }

    /// Joins `seat` (a connection of `user`) to `room_id`, creating the room when
    /// `create`; a rejoin of a member keeps its join time. The joiner's connections hear
    /// the user change and its other devices the join. Unless several rooms are allowed,
    /// the user first leaves any other room it is in (in the same transaction).
    pub async fn join(
        &self,
        room_id: &str,
        user: &str,
        seat: Seat,
        create: bool,
        count: u32,
        now: i64,
    ) -> Result<ChatroomJoinResult, ApiError> {
        let session = seat.session_id.clone();
        // Seated before the commit: a message committed right after the join reaches it.
        self.registry.rooms.seat(room_id, user, seat);
        let args = JoinArgs {
            room_id: room_id.to_owned(),
            user: user.to_owned(),
            session_id: session.clone(),
            node_id: self.node_id.clone(),
            create,
            count,
            multiple_rooms: self.multiple_rooms,
            now,
            history_ms: self.lifetimes.history_ms,
        };
        let joined = self
            .store
            .write(move |c| {
                let j = rooms::join(c, &args)?;
                let (user, session) = (&args.user, &args.session_id);
                let me = [user.clone()];
                let mut out = Vec::new();
                for left in &j.left_rooms {
                    // Its connections hear they were removed (their engines stop
                    // rejoining), the rest of the room the multi-login quit, as the
                    // vendor tells "the kicked room's members".
                    let id = &left.room_id;
                    let kicked = user_change(id, now, &me, change::KICKED, left.member_count);
                    out.push(room(RoomPush {
                        unseat_users: me.to_vec(),
                        ..kicked
                    }));
                    let quit = multi_login(user, sync::QUIT, sync::REASON_OTHER_ROOM);
                    out.push(room(RoomPush::event(id, now, quit.clone())));
                    out.extend(entries_removed(left, now));
                    out.push(other_devices(user, session, id, now, quit));
                }
                let joined = user_change(&args.room_id, now, &me, change::JOIN, j.member_count);
                out.push(room(joined));
                let kind = multi_login(user, sync::JOIN, 0);
                out.push(other_devices(user, session, &args.room_id, now, kind));
                Ok(Outcome {
                    value: j,
                    deliveries: out,
                })
            })
            .await;
        let joined = match joined {
            Ok(j) => j,
            Err(e) => {
                self.registry.rooms.unseat(room_id, &session);
                return Err(e);
            }
        };
        Ok(ChatroomJoinResult {
            room_id: room_id.to_owned(),
            messages: joined.messages,
            create_time: joined.create_time,
            member_count: joined.member_count,
            join_time: joined.join_time,
        })
    }

    /// quitChatRoom: takes the connection out; the user leaves with its last one (its
    /// auto-delete entries go) and the quitting connection hears it, as the vendor's does.
    pub async fn quit(
        &self,
        room_id: &str,
        user: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        let quitting = self.registry.rooms.unseat(room_id, session_id);
        let (room_id, user, session) = (room_id.to_owned(), user.to_owned(), session_id.to_owned());
        let room_for_change = room_id.clone();
        let quit = self
            .store
            .write(move |c| {
                let q = rooms::quit(c, &room_id, &user, &session)?;
                let mut out = Vec::new();
                if q.seated {
                    let kind = multi_login(&user, sync::QUIT, sync::REASON_OWN);
                    out.push(other_devices(&user, &session, &room_id, now, kind));
                }
                if let Some(left) = &q.left {
                    out.extend(entries_removed(left, now));
                }
                Ok(Outcome {
                    value: q.left.map(|l| (user, l.member_count)),
                    deliveries: out,
                })
            })
            .await?;
        if let (Some(seat), Some((user, count))) = (quitting, quit) {
            let change = ChatroomUserChange {
                users: BTreeMap::from([(user, change::QUIT)]),
                member_count: count,
            };
            let kind = chatroom_event::Kind::UserChange(change);
            if let Some(frame) = event_frame(&room_for_change, now, kind) {
                seat.offer(&frame);
            }
        }
        Ok(())
    }

    /// Sends `message` to the room's connections except the sender's and keeps it in the
    /// history; returns its sent time. The sending connection must be in the room.
    pub async fn send(
        &self,
        room_id: &str,
        user: &str,
        sender_session: &str,
        message: Message,
        now: i64,
    ) -> Result<i64, ApiError> {
        let (room_id, user, session) = (
            room_id.to_owned(),
            user.to_owned(),
            sender_session.to_owned(),
        );
        let history_ms = self.lifetimes.history_ms;
        self.store
            .write(move |c| {
                let sender = Some((user.as_str(), session.as_str()));
                let sent = rooms::send(c, &room_id, sender, message, now, history_ms)?
                    .ok_or_else(|| rooms::not_in_room(&room_id))?;
                let sent_time = sent.message.sent_time;
                let mut out = vec![message_push(&room_id, sent.message, Some(&session))];
                if let Some(d) = &sent.departure {
                    out.extend(entries_removed(d, now));
                }
                Ok(Outcome {
                    value: sent_time,
                    deliveries: out,
                })
            })
            .await
    }

    /// Member count and up to `count` members, earliest joined first (`order` 1) or
    /// latest first (2). Needs the room to exist.
    pub async fn info(
        &self,
        room_id: &str,
        count: u32,
        order: u32,
    ) -> Result<ChatroomInfo, ApiError> {
        let room_id = room_id.to_owned();
        self.store
            .read(move |c| rooms::info(c, &room_id, count, order))
            .await
    }

    /// A page of the room's history for a member.
    pub async fn history(
        &self,
        room_id: &str,
        user: &str,
        timestamp: i64,
        count: u32,
        order: u32,
    ) -> Result<ChatroomHistoryResult, ApiError> {
        let (room_id, user) = (room_id.to_owned(), user.to_owned());
        self.store
            .read(move |c| rooms::history(c, &room_id, &user, timestamp, count, order))
            .await
    }

    /// Ok when `user` is a member of `room_id` (23410 without the room, else 23406).
    pub async fn check_member(&self, room_id: &str, user: &str) -> Result<(), ApiError> {
        let (room_id, user) = (room_id.to_owned(), user.to_owned());
        self.store
            .read(move |c| rooms::check_member(c, &room_id, &user))
            .await
    }

    /// Creates the rooms that do not exist yet (the app server's /chatroom/create).
    pub async fn create(&self, room_ids: Vec<String>, now: i64) -> Result<(), ApiError> {
        self.store
            .write(move |c| Ok(Outcome::quiet(rooms::create(c, &room_ids, now)?)))
            .await
    }

    /// Destroys rooms (the app server's /chatroom/destroy); their members are told and
    /// their entries go.
    pub async fn destroy(&self, room_ids: Vec<String>, now: i64) -> Result<(), ApiError> {
        self.store
            .write(move |c| {
                let gone = rooms::destroy(c, &room_ids)?;
                Ok(Outcome {
                    value: (),
                    deliveries: destroyed_pushes(&gone, now, destroyed::MANUAL),
                })
            })
            .await
    }

    /// Blocks users from a room for `minutes` (the app server's /chatroom/user/block/add):
    /// the room hears the block (the blocked included), they are removed from it, and
    /// their joins answer 23409 until it ends.
    pub async fn block(
        &self,
        room_id: &str,
        user_ids: Vec<String>,
        minutes: u32,
        extra: String,
        now: i64,
    ) -> Result<(), ApiError> {
        let room_id = room_id.to_owned();
        let until = now + i64::from(minutes) * 60_000;
        self.store
            .write(move |c| {
                let (_, left) = rooms::block(c, &room_id, &user_ids, until, now)?;
                let block = chatroom_event::Kind::Block(ChatroomBlock {
                    user_ids: user_ids.clone(),
                    minutes,
                    extra,
                });
                let mut out = vec![room(RoomPush {
                    unseat_users: user_ids,
                    ..RoomPush::event(&room_id, now, block)
                })];
                out.extend(entries_removed(&left, now));
                Ok(Outcome {
                    value: (),
                    deliveries: out,
                })
            })
            .await
    }

    /// Destroys the rooms idle for too long (each tells its members) and removes the
    /// seats of nodes not in `live` (see [`rooms::drop_dead_seats`]); returns how many
    /// rooms went.
    pub async fn sweep(&self, now: i64, live: Option<Vec<String>>) -> Result<usize, ApiError> {
        let idle_before = now - self.lifetimes.idle_ms;
        self.store
            .write(move |c| {
                if let Some(live) = &live {
                    let dropped = rooms::drop_dead_seats(c, live, now)?;
                    if dropped > 0 {
                        tracing::info!(seats = dropped, "chatroom seats of stopped nodes removed");
                    }
                }
                let gone = rooms::sweep(c, idle_before, now)?;
                Ok(Outcome {
                    value: gone.len(),
                    deliveries: destroyed_pushes(&gone, now, destroyed::AUTO),
                })
            })
            .await
    }

    /// Removes the seats this node's id held in a previous run (killed, its connections
    /// never closed), before it serves.
    pub async fn start(&self, now: i64) -> Result<(), ApiError> {
        let node = self.node_id.clone();
        let dropped = self
            .store
            .write(move |c| Ok(Outcome::quiet(rooms::drop_node_seats(c, &node, now)?)))
            .await?;
        if dropped > 0 {
            tracing::info!(
                seats = dropped,
                "chatroom seats of this node's previous run removed"
            );
        }
        Ok(())
    }

    /// A connection ended: it leaves its rooms (its user keeps its place for the grace).
    pub async fn close_session(&self, session_id: &str, now: i64) {
        if !self.registry.rooms.close(session_id) {
            return;
        }
        let session = session_id.to_owned();
        let closed = self
            .store
            .write(move |c| Ok(Outcome::quiet(rooms::close_session(c, &session, now)?)))
            .await;
        if let Err(e) = closed {
            tracing::warn!(code = e.code, msg = %e.msg, "removing a closed connection's chatroom seats failed");
        }
    }

    /// This node's id, as its seats record it.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }
}

fn destroyed_pushes(rooms: &[String], now: i64, why: i32) -> Vec<Delivery> {
    rooms
        .iter()
        .map(|id| {
            room(RoomPush {
                close_room: true,
                ..RoomPush::event(id, now, chatroom_event::Kind::Destroyed(why))
            })
        })
        .collect()
}
