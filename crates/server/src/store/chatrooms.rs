//! Chatrooms in the store (seed 002 chatroom pages): rooms, members, seats, history and
//! blocks, on either engine, so any node serves any room and a restart keeps them.
//! [`crate::chatrooms`] wraps these in write jobs and fans out what they changed.
//!
//! Every statement that changes a room first updates its `chatrooms` row: on PostgreSQL
//! that row lock orders a join, a send, a destroy and the idle sweep of one room between
//! nodes (a sweep re-checks idleness after a join it waited on, and finds the room busy).

use imsync_protocol::chatroom_rules as rules;
use imsync_protocol::prost::Message as _;
use imsync_protocol::{ChatroomHistoryResult, ChatroomInfo, ChatroomMember, Message};

use super::chatroom_entries;
use super::sql::Db;
use crate::args;
use crate::error::ApiError;

/// How long a member whose connections are all gone keeps its place (the vendor's
/// offline-member rule: 30 s), so the engine's rejoin after a reconnect keeps its join
/// time; after that the room's next message removes it.
pub const OFFLINE_GRACE_MS: i64 = 30_000;
/// Most messages a room keeps for joins and history.
pub const HISTORY_MESSAGES: i64 = 1000;

pub(crate) fn not_in_room(room_id: &str) -> ApiError {
    ApiError::new(rules::NOT_IN_CHATROOM, format!("not in chatroom {room_id}"))
}

pub(crate) fn no_room(room_id: &str) -> ApiError {
    ApiError::new(
        rules::NOT_EXIST,
        format!("chatroom {room_id} does not exist"),
    )
}

/// Marks the room active at `now` (and locks its row); its create time, if it exists.
fn touch(db: &dyn Db, room: &str, now: i64) -> Result<Option<i64>, ApiError> {
    db.optional(
        "UPDATE chatrooms SET last_active = ?2 WHERE room_id = ?1 RETURNING create_time",
        args![room, now],
        |r| r.get(0),
    )
}

fn member_count(db: &dyn Db, room: &str) -> Result<u32, ApiError> {
    let n: i64 = db.one(
        "SELECT COUNT(*) FROM chatroom_members WHERE room_id = ?1",
        args![room],
        |r| r.get(0),
    )?;
    Ok(n as u32)
}

fn is_member(db: &dyn Db, room: &str, user: &str) -> Result<bool, ApiError> {
    db.exists(
        "SELECT 1 FROM chatroom_members WHERE room_id = ?1 AND user_id = ?2",
        args![room, user],
    )
}

fn room_exists(db: &dyn Db, room: &str) -> Result<bool, ApiError> {
    db.exists("SELECT 1 FROM chatrooms WHERE room_id = ?1", args![room])
}

fn decode(bytes: Vec<u8>) -> Result<Message, ApiError> {
    Message::decode(bytes.as_slice())
        .map_err(|e| ApiError::internal(format!("stored chatroom message: {e}")))
}

/// A user taken out of a room: the room's members left, and the auto-delete entries of
/// the user that went with it.
#[derive(Debug, Clone, Default)]
pub struct Departure {
    /// The room.
    pub room_id: String,
    /// Members left in it.
    pub member_count: u32,
    /// Keys of the entries removed with the user.
    pub removed_entries: Vec<String>,
}

/// Removes `users` from `room` (members and seats) with their auto-delete entries;
/// returns those that were members.
fn remove_members(db: &dyn Db, room: &str, users: &[String]) -> Result<Vec<String>, ApiError> {
    let mut gone = Vec::new();
    for u in users {
        db.execute(
            "DELETE FROM chatroom_seats WHERE room_id = ?1 AND user_id = ?2",
            args![room, u],
        )?;
        let n = db.execute(
            "DELETE FROM chatroom_members WHERE room_id = ?1 AND user_id = ?2",
            args![room, u],
        )?;
        if n > 0 {
            gone.push(u.clone());
        }
    }
    Ok(gone)
}

fn leave(db: &dyn Db, room: &str, users: &[String]) -> Result<(Vec<String>, Departure), ApiError> {
    let gone = remove_members(db, room, users)?;
    let removed_entries = chatroom_entries::remove_auto(db, room, &gone)?;
    let departure = Departure {
        room_id: room.to_owned(),
        member_count: member_count(db, room)?,
        removed_entries,
    };
    Ok((gone, departure))
}

/// Drops history older than `history_ms` and beyond the newest [`HISTORY_MESSAGES`].
fn trim_history(db: &dyn Db, room: &str, now: i64, history_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "DELETE FROM chatroom_history WHERE room_id = ?1 AND sent_time < ?2",
        args![room, now.saturating_sub(history_ms)],
    )?;
    db.execute(
        "DELETE FROM chatroom_history WHERE room_id = ?1 AND sent_time <= (
             SELECT sent_time FROM chatroom_history WHERE room_id = ?1
             ORDER BY sent_time DESC LIMIT 1 OFFSET ?2)",
        args![room, HISTORY_MESSAGES],
    )?;
    Ok(())
}

/// A join, as asked.
#[derive(Debug, Clone)]
pub struct JoinArgs {
    pub room_id: String,
    pub user: String,
    /// The joining connection, and the node holding it.
    pub session_id: String,
    pub node_id: String,
    /// Create the room when it does not exist (joinChatRoom), else 23410.
    pub create: bool,
    /// Latest messages to return.
    pub count: u32,
    /// Whether a user may be in several rooms (else it leaves the others).
    pub multiple_rooms: bool,
    pub now: i64,
    pub history_ms: i64,
}

/// What a join did.
#[derive(Debug, Clone)]
pub struct Joined {
    pub create_time: i64,
    pub join_time: i64,
    pub member_count: u32,
    /// The latest `count` messages, oldest first.
    pub messages: Vec<Message>,
    /// Rooms the user left for this one (one room per user).
    pub left_rooms: Vec<Departure>,
}

/// Seats the connection in the room, creating it when asked; a rejoin of a member keeps
/// its join time. Blocked users get 23409.
pub fn join(db: &dyn Db, a: &JoinArgs) -> Result<Joined, ApiError> {
    let room = a.room_id.as_str();
    let blocked: Option<i64> = db.optional(
        "SELECT until FROM chatroom_blocks WHERE room_id = ?1 AND user_id = ?2 AND until > ?3",
        args![room, a.user, a.now],
        |r| r.get(0),
    )?;
    if let Some(until) = blocked {
        return Err(ApiError::new(
            rules::USER_KICKED,
            format!("blocked from chatroom {room} until {until}"),
        ));
    }
    if !a.multiple_rooms && db.as_postgres().is_some() {
        // Two joins of one user (two devices, two nodes) each leave the other's room: on
        // PostgreSQL they would lock each other's member rows in opposite orders. One
        // user's joins take turns instead (SQLite has one writer anyway).
        db.exists(
            "SELECT 1 FROM (SELECT pg_advisory_xact_lock(2, hashtext(?1))) AS turn",
            args![a.user],
        )?;
    }
    let create_time = match touch(db, room, a.now)? {
        Some(t) => t,
        None if !a.create => return Err(no_room(room)),
        None => {
            db.execute(
                "INSERT INTO chatrooms (room_id, create_time, last_active, last_sent)
                 VALUES (?1, ?2, ?2, 0) ON CONFLICT (room_id) DO NOTHING",
                args![room, a.now],
            )?;
            touch(db, room, a.now)?.ok_or_else(|| no_room(room))?
        }
    };
    let mut left_rooms = Vec::new();
    if !a.multiple_rooms {
        let others: Vec<String> = db.all(
            "SELECT room_id FROM chatroom_members WHERE user_id = ?1 AND room_id <> ?2
             ORDER BY room_id",
            args![a.user, room],
            |r| r.get(0),
        )?;
        let me = [a.user.clone()];
        for other in others {
            left_rooms.push(leave(db, &other, &me)?.1);
        }
    }
    db.execute(
        "INSERT INTO chatroom_members (room_id, user_id, join_time, offline_since)
         VALUES (?1, ?2, ?3, NULL)
         ON CONFLICT (room_id, user_id) DO UPDATE SET offline_since = NULL",
        args![room, a.user, a.now],
    )?;
    db.execute(
        "INSERT INTO chatroom_seats (room_id, session_id, user_id, node_id) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (room_id, session_id) DO UPDATE SET user_id = excluded.user_id,
             node_id = excluded.node_id",
        args![room, a.session_id, a.user, a.node_id],
    )?;
    let join_time: i64 = db.one(
        "SELECT join_time FROM chatroom_members WHERE room_id = ?1 AND user_id = ?2",
        args![room, a.user],
        |r| r.get(0),
    )?;
    trim_history(db, room, a.now, a.history_ms)?;
    let mut messages = db.all(
        "SELECT message FROM chatroom_history WHERE room_id = ?1 ORDER BY sent_time DESC LIMIT ?2",
        args![room, a.count],
        |r| decode(r.get(0)?),
    )?;
    messages.reverse();
    Ok(Joined {
        create_time,
        join_time,
        member_count: member_count(db, room)?,
        messages,
        left_rooms,
    })
}

/// What a quit did.
#[derive(Debug, Clone, Default)]
pub struct Quit {
    /// Whether the connection was in the room.
    pub seated: bool,
    /// The user left (it was its last connection there).
    pub left: Option<Departure>,
}

/// Takes connection `session_id` out of the room; the user leaves with its last one.
/// Quitting a room one is not in succeeds (as the vendor's).
pub fn quit(db: &dyn Db, room: &str, user: &str, session_id: &str) -> Result<Quit, ApiError> {
    let seated = db.execute(
        "DELETE FROM chatroom_seats WHERE room_id = ?1 AND session_id = ?2",
        args![room, session_id],
    )? > 0;
    let still_seated = db.exists(
        "SELECT 1 FROM chatroom_seats WHERE room_id = ?1 AND user_id = ?2",
        args![room, user],
    )?;
    if still_seated || !is_member(db, room, user)? {
        return Ok(Quit { seated, left: None });
    }
    let (_, departure) = leave(db, room, &[user.to_owned()])?;
    Ok(Quit {
        seated,
        left: Some(departure),
    })
}

/// What a send did.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message as stored, with its sent time.
    pub message: Message,
    /// Members removed by the offline rule, with their entries.
    pub departure: Option<Departure>,
}

/// Stamps `message` with a sent time strictly after the room's last and keeps it. With
/// `sender` (user, connection), the connection must be in the room and members offline
/// past the grace go first; without, the room need only exist (None if it does not).
pub fn send(
    db: &dyn Db,
    room: &str,
    sender: Option<(&str, &str)>,
    mut message: Message,
    now: i64,
    history_ms: i64,
) -> Result<Option<Sent>, ApiError> {
    let sent_time: Option<i64> = db.optional(
        "UPDATE chatrooms SET last_active = ?2,
             last_sent = CASE WHEN ?2 > last_sent THEN ?2 ELSE last_sent + 1 END
         WHERE room_id = ?1 RETURNING last_sent",
        args![room, now],
        |r| r.get(0),
    )?;
    let mut departure = None;
    if let Some((user, session_id)) = sender {
        let seated = sent_time.is_some()
            && db.exists(
                "SELECT 1 FROM chatroom_seats WHERE room_id = ?1 AND session_id = ?2 AND user_id = ?3",
                args![room, session_id, user],
            )?;
        if !seated {
            return Err(not_in_room(room));
        }
        let offline: Vec<String> = db.all(
            "SELECT user_id FROM chatroom_members
             WHERE room_id = ?1 AND offline_since IS NOT NULL AND offline_since <= ?2
             ORDER BY user_id",
            args![room, now - OFFLINE_GRACE_MS],
            |r| r.get(0),
        )?;
        if !offline.is_empty() {
            departure = Some(leave(db, room, &offline)?.1);
        }
    }
    let Some(sent_time) = sent_time else {
        return Ok(None);
    };
    message.sent_time = sent_time;
    db.execute(
        "INSERT INTO chatroom_history (room_id, sent_time, message) VALUES (?1, ?2, ?3)",
        args![room, sent_time, message.encode_to_vec()],
    )?;
    trim_history(db, room, now, history_ms)?;
    Ok(Some(Sent { message, departure }))
}

/// Member count and up to `count` members, earliest joined first (`order` 1) or latest
/// first (2). Needs the room to exist.
pub fn info(db: &dyn Db, room: &str, count: u32, order: u32) -> Result<ChatroomInfo, ApiError> {
    if !room_exists(db, room)? {
        return Err(no_room(room));
    }
    let member = |r: &super::sql::Row<'_>| {
        Ok(ChatroomMember {
            user_id: r.get(0)?,
            join_time: r.get(1)?,
        })
    };
    let members = if order == 2 {
        db.all(
            "SELECT user_id, join_time FROM chatroom_members WHERE room_id = ?1
             ORDER BY join_time DESC, user_id DESC LIMIT ?2",
            args![room, count],
            member,
        )?
    } else {
        db.all(
            "SELECT user_id, join_time FROM chatroom_members WHERE room_id = ?1
             ORDER BY join_time, user_id LIMIT ?2",
            args![room, count],
            member,
        )?
    };
    Ok(ChatroomInfo {
        member_count: member_count(db, room)?,
        members,
    })
}

/// A page of the room's history for a member: before `timestamp` (order 0; 0 = now) or
/// after it (order 1), oldest first either way.
pub fn history(
    db: &dyn Db,
    room: &str,
    user: &str,
    timestamp: i64,
    count: u32,
    order: u32,
) -> Result<ChatroomHistoryResult, ApiError> {
    if !is_member(db, room, user)? {
        return Err(not_in_room(room));
    }
    let count = count.clamp(1, rules::MAX_HISTORY_COUNT) as usize;
    let page = count as i64 + 1;
    let mut messages = if order == 1 {
        db.all(
            "SELECT message FROM chatroom_history WHERE room_id = ?1 AND sent_time > ?2
             ORDER BY sent_time LIMIT ?3",
            args![room, timestamp, page],
            |r| decode(r.get(0)?),
        )?
    } else {
        let before = if timestamp == 0 { i64::MAX } else { timestamp };
        db.all(
            "SELECT message FROM chatroom_history WHERE room_id = ?1 AND sent_time < ?2
             ORDER BY sent_time DESC LIMIT ?3",
            args![room, before, page],
            |r| decode(r.get(0)?),
        )?
    };
    let has_more = messages.len() > count;
    messages.truncate(count);
    if order != 1 {
        messages.reverse();
    }
    Ok(ChatroomHistoryResult { messages, has_more })
}

/// Ok when `user` is a member of `room` (23410 without the room, else 23406).
pub fn check_member(db: &dyn Db, room: &str, user: &str) -> Result<(), ApiError> {
    if is_member(db, room, user)? {
        return Ok(());
    }
    if room_exists(db, room)? {
        Err(not_in_room(room))
    } else {
        Err(no_room(room))
    }
}

/// Creates the rooms that do not exist yet.
pub fn create(db: &dyn Db, rooms: &[String], now: i64) -> Result<(), ApiError> {
    for r in rooms {
        db.execute(
            "INSERT INTO chatrooms (room_id, create_time, last_active, last_sent)
             VALUES (?1, ?2, ?2, 0) ON CONFLICT (room_id) DO NOTHING",
            args![r, now],
        )?;
    }
    Ok(())
}

/// Removes what a room holds: members, seats, history and entries (the seed: "聊天室销毁后，
/// 聊天室中的自定义属性同时销毁").
fn clear(db: &dyn Db, room: &str) -> Result<(), ApiError> {
    db.execute("DELETE FROM chatroom_seats WHERE room_id = ?1", args![room])?;
    db.execute(
        "DELETE FROM chatroom_members WHERE room_id = ?1",
        args![room],
    )?;
    db.execute(
        "DELETE FROM chatroom_history WHERE room_id = ?1",
        args![room],
    )?;
    chatroom_entries::drop_rooms(db, &[room.to_owned()])
}

/// Destroys rooms; returns those that existed. Entries go even for a room that does not
/// exist (any more).
pub fn destroy(db: &dyn Db, rooms: &[String]) -> Result<Vec<String>, ApiError> {
    let mut gone = Vec::new();
    for r in rooms {
        if db.execute("DELETE FROM chatrooms WHERE room_id = ?1", args![r])? > 0 {
            gone.push(r.clone());
        }
        clear(db, r)?;
    }
    Ok(gone)
}

/// Destroys the rooms without a message or a join since `idle_before`; returns them.
/// Expired blocks go too.
pub fn sweep(db: &dyn Db, idle_before: i64, now: i64) -> Result<Vec<String>, ApiError> {
    let idle: Vec<String> = db.all(
        "DELETE FROM chatrooms WHERE last_active <= ?1 RETURNING room_id",
        args![idle_before],
        |r| r.get(0),
    )?;
    for r in &idle {
        clear(db, r)?;
    }
    db.execute("DELETE FROM chatroom_blocks WHERE until <= ?1", args![now])?;
    Ok(idle)
}

/// Blocks `users` from the room until `until`, removing them; returns the departure
/// (None when none of them was a member). Needs the room to exist.
pub fn block(
    db: &dyn Db,
    room: &str,
    users: &[String],
    until: i64,
    now: i64,
) -> Result<(Vec<String>, Departure), ApiError> {
    if touch(db, room, now)?.is_none() {
        return Err(no_room(room));
    }
    for u in users {
        db.execute(
            "INSERT INTO chatroom_blocks (room_id, user_id, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until",
            args![room, u, until],
        )?;
    }
    leave(db, room, users)
}

/// A connection closed: its seats go, and members left without one start their grace.
/// Returns the rooms it was in.
pub fn close_session(db: &dyn Db, session_id: &str, now: i64) -> Result<Vec<String>, ApiError> {
    let seats = remove_seats(
        db,
        "DELETE FROM chatroom_seats WHERE session_id = ?1 RETURNING room_id, user_id",
        session_id,
        now,
    )?;
    Ok(seats.into_iter().map(|(room, _)| room).collect())
}

/// Runs `delete` (seats matching `key`, returning their room and user); members left
/// without a seat start their grace at `now`. Returns the (room, user) of each seat.
fn remove_seats(
    db: &dyn Db,
    delete: &'static str,
    key: &str,
    now: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    let seats: Vec<(String, String)> =
        db.all(delete, args![key], |r| Ok((r.get(0)?, r.get(1)?)))?;
    for (room, user) in &seats {
        mark_offline(db, room, user, now)?;
    }
    Ok(seats)
}

fn mark_offline(db: &dyn Db, room: &str, user: &str, now: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE chatroom_members SET offline_since = ?3
         WHERE room_id = ?1 AND user_id = ?2 AND offline_since IS NULL
           AND NOT EXISTS (SELECT 1 FROM chatroom_seats WHERE room_id = ?1 AND user_id = ?2)",
        args![room, user, now],
    )?;
    Ok(())
}

/// Removes the seats held by nodes not in `live` (killed, or stopped without closing
/// their connections); returns how many went.
pub fn drop_dead_seats(db: &dyn Db, live: &[String], now: i64) -> Result<usize, ApiError> {
    let nodes: Vec<String> = db.all(
        "SELECT DISTINCT node_id FROM chatroom_seats ORDER BY node_id",
        &[],
        |r| r.get(0),
    )?;
    let mut dropped = 0;
    for node in nodes.iter().filter(|n| !live.contains(n)) {
        dropped += drop_node_seats(db, node, now)?;
    }
    Ok(dropped)
}

/// Removes the seats held by `node` (a node starting: whatever its id held before is
/// from a previous run); returns how many went.
pub fn drop_node_seats(db: &dyn Db, node: &str, now: i64) -> Result<usize, ApiError> {
    let seats = remove_seats(
        db,
        "DELETE FROM chatroom_seats WHERE node_id = ?1 RETURNING room_id, user_id",
        node,
        now,
    )?;
    Ok(seats.len())
}

/// Number of rooms (tests).
pub fn room_count(db: &dyn Db) -> Result<usize, ApiError> {
    let n: i64 = db.one("SELECT COUNT(*) FROM chatrooms", &[], |r| r.get(0))?;
    Ok(n as usize)
}
