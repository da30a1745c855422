//! Chatroom requests of a session: join, quit, info, history, sends to a room, and the
//! sweep that destroys idle rooms. Rooms live in [`crate::chatrooms`].

use std::time::{Duration, Instant};

use imsync_protocol::chatroom_rules::{
    self as rules, MAX_HISTORY_COUNT, MAX_INFO_COUNT, MAX_JOIN_COUNT,
};
use imsync_protocol::{
    chatroom_event, codes, response::Body, ChatroomEntries, ChatroomEntry, ChatroomEntryChange,
    ChatroomGetEntriesRequest, ChatroomHistoryRequest, ChatroomInfoRequest, ChatroomJoinRequest,
    ChatroomQuitRequest, ChatroomRemoveEntriesRequest, ChatroomSetEntriesRequest, Conversation,
    ConversationType, Message, MessageAck, MessageDirection, SendMessageRequest,
};

use super::Session;
use crate::chatrooms::{message_push, RoomPush, Seat};
use crate::clock::{new_message_uid, now_ms};
use crate::error::ApiError;
use crate::fanout::Delivery;
use crate::state::AppState;
use crate::store::chatrooms as rooms;
use crate::store::sql::Db;
use crate::store::{chatroom_entries, Outcome};
use crate::validate;

/// How often idle rooms (and seats of stopped nodes) are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Destroys idle rooms until the server stops, and removes the seats of nodes gone for
/// good (killed ones never close their connections). Alone, a node does that once, at
/// start: any seat not its own is from an earlier run. With other nodes, it removes the
/// seats of those not heard from for three heartbeat intervals, at most once per three
/// intervals (it reads every seat's node) and only once it has been up that long (before,
/// it may not have heard from every live node yet).
pub async fn sweep_rooms(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    let patience = state.settings.heartbeat_interval * 3;
    let mut seats_checked: Option<Instant> = None;
    let started = Instant::now();
    // Ends at the shutdown signal: `state` holds a liveness sender, and the server waits
    // (up to its grace period) for every one of them to go before it stops.
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let own = state.chatrooms.node_id().to_owned();
        let due = match (&state.cluster, seats_checked) {
            (None, checked) => checked.is_none(),
            (Some(_), None) => started.elapsed() >= patience,
            (Some(_), Some(at)) => at.elapsed() >= patience,
        };
        let live = due.then(|| {
            seats_checked = Some(Instant::now());
            let mut live = state.presence.live_nodes();
            live.push(own);
            live
        });
        match state.chatrooms.sweep(now_ms(), live).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rooms = n, "idle chatrooms destroyed"),
            Err(e) => {
                tracing::warn!(code = e.code, msg = %e.msg, "sweeping chatrooms failed")
            }
        }
    }
}

fn room(field: &str, id: &str) -> Result<(), ApiError> {
    rules::room_id(field, id).map_err(|(code, msg)| ApiError::new(code, msg))
}

fn at_most(field: &str, v: u32, max: u32) -> Result<u32, ApiError> {
    if v > max {
        return Err(ApiError::invalid(format!("{field} must be 0..={max}")));
    }
    Ok(v)
}

fn seat(session: &Session) -> Seat {
    Seat {
        session_id: session.session_id.clone(),
        tx: session.tx.downgrade(),
        kill: session.kill.clone(),
    }
}

/// joinChatRoom / joinExistChatRoom (and the engine's rejoin).
pub async fn join(
    state: &AppState,
    session: &Session,
    req: ChatroomJoinRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    let count = at_most("count", req.count, MAX_JOIN_COUNT)?;
    let joined = state
        .chatrooms
        .join(
            &req.room_id,
            &session.user_id,
            seat(session),
            req.create,
            count,
            now_ms(),
        )
        .await?;
    Ok(Body::ChatroomJoin(joined))
}

/// quitChatRoom.
pub async fn quit(
    state: &AppState,
    session: &Session,
    req: ChatroomQuitRequest,
) -> Result<(), ApiError> {
    room("chatRoomId", &req.room_id)?;
    state
        .chatrooms
        .quit(
            &req.room_id,
            &session.user_id,
            &session.session_id,
            now_ms(),
        )
        .await
}

/// getChatRoomInfo.
pub async fn info(state: &AppState, req: ChatroomInfoRequest) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    let count = at_most("options.count", req.count, MAX_INFO_COUNT)?;
    if req.order > 2 {
        return Err(ApiError::invalid("options.order must be 0, 1 or 2"));
    }
    let info = state.chatrooms.info(&req.room_id, count, req.order).await?;
    Ok(Body::ChatroomInfo(info))
}

/// getChatroomHistoryMessages.
pub async fn history(
    state: &AppState,
    session: &Session,
    req: ChatroomHistoryRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    if req.count == 0 || req.count > MAX_HISTORY_COUNT {
        return Err(ApiError::invalid(format!(
            "options.count must be 1..={MAX_HISTORY_COUNT}"
        )));
    }
    if req.order > 1 || req.timestamp < 0 {
        return Err(ApiError::invalid(
            "options.order must be 0 or 1 and options.timestamp >= 0",
        ));
    }
    let page = state
        .chatrooms
        .history(
            &req.room_id,
            &session.user_id,
            req.timestamp,
            req.count,
            req.order,
        )
        .await?;
    Ok(Body::ChatroomHistory(page))
}

/// A message to a chatroom: validated as a group message would be, stamped, pushed to
/// the room's other connections and kept in its history; never stored in an inbox.
pub async fn send(
    state: &AppState,
    session: &mut Session,
    mut req: SendMessageRequest,
) -> Result<Body, ApiError> {
    let room_id = req
        .conversation
        .as_ref()
        .map(|c| c.target_id.clone())
        .unwrap_or_default();
    room("conversation.targetId", &room_id)?;
    if !req.directed_user_ids.is_empty() {
        return Err(ApiError::invalid(
            "directedUserIds is not allowed in a CHATROOM",
        ));
    }
    if req.can_include_expansion || !req.expansion.is_empty() {
        return Err(ApiError::new(
            codes::MESSAGE_KV_NOT_SUPPORT,
            "chatroom messages cannot carry an expansion",
        ));
    }
    if let Some(c) = req.conversation.as_mut() {
        c.r#type = ConversationType::Group as i32;
    }
    let mut valid = validate::send(&session.user_id, &req)?;
    if !session.rate.try_acquire(Instant::now()) {
        return Err(ApiError::new(
            codes::SEND_FREQUENCY_TOO_FAST,
            format!("at most {} messages per second", state.settings.rate_limit),
        ));
    }
    let now = now_ms();
    let message = &mut valid.message;
    if let Some(c) = message.conversation.as_mut() {
        c.r#type = ConversationType::Chatroom as i32;
    }
    message.message_uid = new_message_uid();
    message.client_msg_id.clear();
    // Received direction for everyone it reaches.
    message.direction = imsync_protocol::MessageDirection::Receive as i32;
    let message_uid = message.message_uid.clone();
    let sent_time = state
        .chatrooms
        .send(
            &room_id,
            &session.user_id,
            &session.session_id,
            valid.message,
            now,
        )
        .await?;
    let ack = MessageAck {
        message_uid,
        sent_time,
        ..Default::default()
    };
    Ok(Body::MessageAck(ack))
}

fn rule(r: Result<(), rules::RuleError>) -> Result<(), ApiError> {
    r.map_err(|(code, msg)| ApiError::new(code, msg))
}

/// The RC:chrmKVNotiMsg a set or remove asked for (`type` 1 set, 2 remove), from `user`.
fn kv_notice(room_id: &str, user: &str, kind: i32, key: &str, value: &str, extra: &str) -> Message {
    let content = serde_json::json!({ "type": kind, "key": key, "value": value, "extra": extra });
    Message {
        message_uid: new_message_uid(),
        sender_user_id: user.to_owned(),
        conversation: Some(Conversation {
            r#type: ConversationType::Chatroom as i32,
            target_id: room_id.to_owned(),
            channel_id: String::new(),
        }),
        object_name: "RC:chrmKVNotiMsg".into(),
        content: content.to_string(),
        direction: MessageDirection::Receive as i32,
        is_persisted: false,
        is_counted: false,
        ..Default::default()
    }
}

/// The room hears the change of its entries and, when asked, one RC:chrmKVNotiMsg per
/// entry (kept in its history), all in the write that made the change.
fn entries_changed(
    c: &dyn Db,
    room_id: &str,
    change: ChatroomEntryChange,
    notices: Vec<Message>,
    now: i64,
    history_ms: i64,
) -> Result<Vec<Delivery>, ApiError> {
    let kind = chatroom_event::Kind::Entries(change);
    let mut out = vec![Delivery::Room(RoomPush::event(room_id, now, kind))];
    for notice in notices {
        if let Some(sent) = rooms::send(c, room_id, None, notice, now, history_ms)? {
            out.push(message_push(room_id, sent.message, None));
        }
    }
    Ok(out)
}

/// setChatRoomEntry / forceSetChatRoomEntry / setChatRoomEntries (members only).
pub async fn set_entries(
    state: &AppState,
    session: &Session,
    req: ChatroomSetEntriesRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    rule(rules::batch("options.entries", req.entries.len()))?;
    for (i, e) in req.entries.iter().enumerate() {
        rule(rules::key(&format!("entries[{i}].key"), &e.key))?;
        rule(rules::value(&format!("entries[{i}].value"), &e.value))?;
    }
    let user = session.user_id.clone();
    let now = now_ms();
    let history_ms = state.chatrooms.history_ms();
    let room_id = req.room_id.clone();
    let stored = state
        .store
        .write(move |c| {
            rooms::check_member(c, &room_id, &user)?;
            let stored = chatroom_entries::set(c, &room_id, &user, &req.entries, req.force, now)?;
            let notices = match req.send_notification {
                true => stored
                    .iter()
                    .map(|e| {
                        let extra = &req.notification_extra;
                        kv_notice(&room_id, &user, 1, &e.key, &e.value, extra)
                    })
                    .collect(),
                false => Vec::new(),
            };
            let change = ChatroomEntryChange {
                updated: stored.clone(),
                removed: Vec::new(),
            };
            let deliveries = entries_changed(c, &room_id, change, notices, now, history_ms)?;
            Ok(Outcome {
                value: stored,
                deliveries,
            })
        })
        .await?;
    Ok(Body::ChatroomEntries(ChatroomEntries {
        room_id: req.room_id,
        entries: stored,
    }))
}

/// removeChatRoomEntry / forceRemoveChatRoomEntry / removeChatRoomEntries (members only).
pub async fn remove_entries(
    state: &AppState,
    session: &Session,
    req: ChatroomRemoveEntriesRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    rule(rules::batch("options.entries", req.keys.len()))?;
    for (i, k) in req.keys.iter().enumerate() {
        rule(rules::key(&format!("entries[{i}]"), k))?;
    }
    let user = session.user_id.clone();
    let now = now_ms();
    let history_ms = state.chatrooms.history_ms();
    let room_id = req.room_id.clone();
    let removed = state
        .store
        .write(move |c| {
            rooms::check_member(c, &room_id, &user)?;
            let removed = chatroom_entries::remove(c, &room_id, &user, &req.keys, req.force)?;
            let notices = match req.send_notification {
                true => removed
                    .iter()
                    .map(|k| kv_notice(&room_id, &user, 2, k, "", &req.notification_extra))
                    .collect(),
                false => Vec::new(),
            };
            let change = ChatroomEntryChange {
                updated: Vec::new(),
                removed: removed.clone(),
            };
            let deliveries = entries_changed(c, &room_id, change, notices, now, history_ms)?;
            Ok(Outcome {
                value: removed,
                deliveries,
            })
        })
        .await?;
    let entries = removed
        .into_iter()
        .map(|key| ChatroomEntry {
            key,
            timestamp: now,
            ..Default::default()
        })
        .collect();
    Ok(Body::ChatroomEntries(ChatroomEntries {
        room_id: req.room_id,
        entries,
    }))
}

/// getChatRoomEntry / getAllChatRoomEntries (members only).
pub async fn get_entries(
    state: &AppState,
    session: &Session,
    req: ChatroomGetEntriesRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    if req.keys.len() > rules::MAX_ENTRIES {
        return Err(ApiError::invalid(format!(
            "keys: at most {} per call",
            rules::MAX_ENTRIES
        )));
    }
    for (i, k) in req.keys.iter().enumerate() {
        rule(rules::key(&format!("keys[{i}]"), k))?;
    }
    let (room_id, keys) = (req.room_id.clone(), req.keys);
    let user = session.user_id.clone();
    let entries = state
        .store
        .read(move |c| {
            rooms::check_member(c, &room_id, &user)?;
            chatroom_entries::get(c, &room_id, &keys)
        })
        .await?;
    Ok(Body::ChatroomEntries(ChatroomEntries {
        room_id: req.room_id,
        entries,
    }))
}
