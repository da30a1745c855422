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
use crate::chatrooms::{event_frame, multi_login, sync, Seat};
use crate::clock::{new_message_uid, now_ms};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{chatroom_entries, Outcome};
use crate::validate;

/// How often idle rooms are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Destroys idle rooms until the server stops.
pub async fn sweep_rooms(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    // Ends at the shutdown signal: `state` holds a liveness sender, and the server waits
    // (up to its grace period) for every one of them to go before it stops.
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let gone = state.chatrooms.sweep(now_ms());
        if !gone.is_empty() {
            tracing::info!(rooms = gone.len(), "idle chatrooms destroyed");
            if let Err(e) = drop_entries(&state, gone).await {
                tracing::warn!(code = e.code, msg = %e.msg, "dropping destroyed rooms' entries failed");
            }
        }
    }
}

/// The entries of destroyed rooms go with them (the seed: "聊天室销毁后，聊天室中的自定义属性同时销毁").
pub async fn drop_entries(state: &AppState, rooms: Vec<String>) -> Result<(), ApiError> {
    state
        .store
        .write(move |c| Ok(Outcome::quiet(chatroom_entries::drop_rooms(c, &rooms)?)))
        .await
}

/// Users left `room_id`: their auto-delete entries go, and the room hears of it.
pub async fn after_leave(
    state: &AppState,
    room_id: &str,
    users: Vec<String>,
) -> Result<(), ApiError> {
    if users.is_empty() {
        return Ok(());
    }
    let room = room_id.to_owned();
    let removed = state
        .store
        .write(move |c| {
            Ok(Outcome::quiet(chatroom_entries::remove_auto(
                c, &room, &users,
            )?))
        })
        .await?;
    if !removed.is_empty() {
        let change = ChatroomEntryChange {
            updated: Vec::new(),
            removed,
        };
        state.chatrooms.notify(
            room_id,
            now_ms(),
            chatroom_event::Kind::Entries(change),
            None,
        );
    }
    Ok(())
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

/// joinChatRoom / joinExistChatRoom (and the engine's rejoin). The user's other devices
/// hear the join; a room the user left for this one loses its auto-delete entries.
pub async fn join(
    state: &AppState,
    session: &Session,
    req: ChatroomJoinRequest,
) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    let count = at_most("count", req.count, MAX_JOIN_COUNT)?;
    let now = now_ms();
    let joined = state.chatrooms.join(
        &req.room_id,
        &session.user_id,
        seat(session),
        req.create,
        count,
        now,
    )?;
    let user = &session.user_id;
    for left in joined.left_rooms {
        let kind = multi_login(user, sync::QUIT, sync::REASON_OTHER_ROOM);
        tell_other_devices(state, session, &left, now, kind);
        after_leave(state, &left, vec![user.clone()]).await?;
    }
    let kind = multi_login(user, sync::JOIN, 0);
    tell_other_devices(state, session, &req.room_id, now, kind);
    Ok(Body::ChatroomJoin(joined.result))
}

/// Tells the session's user's other devices (the seed's chatroomNotifyMultiLoginSync: "其他端的在线设备").
fn tell_other_devices(
    state: &AppState,
    session: &Session,
    room_id: &str,
    now: i64,
    kind: chatroom_event::Kind,
) {
    if let Some(frame) = event_frame(room_id, now, kind) {
        state
            .registry
            .send(&session.user_id, &frame, Some(&session.session_id));
    }
}

/// quitChatRoom: the user's auto-delete entries go when its last connection leaves; its
/// other devices hear the quit.
pub async fn quit(
    state: &AppState,
    session: &Session,
    req: ChatroomQuitRequest,
) -> Result<(), ApiError> {
    room("chatRoomId", &req.room_id)?;
    let now = now_ms();
    let left = state
        .chatrooms
        .quit(&req.room_id, &session.user_id, &session.session_id, now);
    if left.seated {
        let kind = multi_login(&session.user_id, sync::QUIT, sync::REASON_OWN);
        tell_other_devices(state, session, &req.room_id, now, kind);
    }
    after_leave(state, &req.room_id, left.users).await
}

/// getChatRoomInfo.
pub fn info(state: &AppState, req: ChatroomInfoRequest) -> Result<Body, ApiError> {
    room("chatRoomId", &req.room_id)?;
    let count = at_most("options.count", req.count, MAX_INFO_COUNT)?;
    if req.order > 2 {
        return Err(ApiError::invalid("options.order must be 0, 1 or 2"));
    }
    Ok(Body::ChatroomInfo(state.chatrooms.info(
        &req.room_id,
        count,
        req.order,
    )?))
}

/// getChatroomHistoryMessages.
pub fn history(
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
    Ok(Body::ChatroomHistory(state.chatrooms.history(
        &req.room_id,
        &session.user_id,
        req.timestamp,
        req.count,
        req.order,
    )?))
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
    let (sent_time, left) = state.chatrooms.send(
        &room_id,
        &session.user_id,
        &session.session_id,
        valid.message,
        now,
    )?;
    after_leave(state, &room_id, left.users).await?;
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

/// setChatRoomEntry / forceSetChatRoomEntry / setChatRoomEntries.
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
    state.chatrooms.check_member(&req.room_id, &user)?;
    let now = now_ms();
    let (room_id, entries, force) = (req.room_id.clone(), req.entries, req.force);
    let owner = user.clone();
    let stored = state
        .store
        .write(move |c| {
            Ok(Outcome::quiet(chatroom_entries::set(
                c, &room_id, &owner, &entries, force, now,
            )?))
        })
        .await?;
    let change = ChatroomEntryChange {
        updated: stored.clone(),
        removed: Vec::new(),
    };
    state.chatrooms.notify(
        &req.room_id,
        now,
        chatroom_event::Kind::Entries(change),
        None,
    );
    if req.send_notification {
        for e in &stored {
            let notice = kv_notice(
                &req.room_id,
                &user,
                1,
                &e.key,
                &e.value,
                &req.notification_extra,
            );
            state.chatrooms.post(&req.room_id, notice, now);
        }
    }
    Ok(Body::ChatroomEntries(ChatroomEntries {
        room_id: req.room_id,
        entries: stored,
    }))
}

/// removeChatRoomEntry / forceRemoveChatRoomEntry / removeChatRoomEntries.
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
    state.chatrooms.check_member(&req.room_id, &user)?;
    let now = now_ms();
    let (room_id, keys, force) = (req.room_id.clone(), req.keys, req.force);
    let owner = user.clone();
    let removed = state
        .store
        .write(move |c| {
            Ok(Outcome::quiet(chatroom_entries::remove(
                c, &room_id, &owner, &keys, force,
            )?))
        })
        .await?;
    let change = ChatroomEntryChange {
        updated: Vec::new(),
        removed: removed.clone(),
    };
    state.chatrooms.notify(
        &req.room_id,
        now,
        chatroom_event::Kind::Entries(change),
        None,
    );
    if req.send_notification {
        for k in &removed {
            let notice = kv_notice(&req.room_id, &user, 2, k, "", &req.notification_extra);
            state.chatrooms.post(&req.room_id, notice, now);
        }
    }
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
    state
        .chatrooms
        .check_member(&req.room_id, &session.user_id)?;
    let (room_id, keys) = (req.room_id.clone(), req.keys);
    let entries = state
        .store
        .read(move |c| chatroom_entries::get(c, &room_id, &keys))
        .await?;
    Ok(Body::ChatroomEntries(ChatroomEntries {
        room_id: req.room_id,
        entries,
    }))
}
