//! Chatrooms (seed 002 chatroom pages): `joinChatRoom`, `joinExistChatRoom`,
//! `quitChatRoom`, `getChatRoomInfo`, `getChatroomHistoryMessages`, sends to type 4 and
//! the `CHATROOM` event.
//!
//! Nothing here touches the database: the seed's Electron table says chatroom messages
//! have no local storage ("消息本地存储 … 聊天室: 不支持"), so they reach the app through
//! MESSAGES only. The rooms this engine joined live in the engine (the main process),
//! which is why every window shares them, and why the engine can rejoin them by itself
//! after a reconnect (the seed's rejoinedRoom).

use std::collections::BTreeMap;

use imsync_protocol as pb;
use pb::chatroom_rules::{self as rules, MAX_INFO_COUNT, MAX_JOIN_COUNT};
use pb::{chatroom_event, request, response};
use serde_json::{json, Value};

use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::{conversation_type, direction, ConversationKey};

/// What the join's `count` 0 means (the seed: "0 表示使用 SDK 默认设置（默认为获取 10 条）").
const DEFAULT_JOIN_COUNT: u32 = 10;

/// A room this engine is in, and how to join it again after a reconnect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joined {
    /// Messages to fetch on a rejoin (the join's count).
    pub count: u32,
    /// Joined with joinChatRoom (the rejoin may create the room again).
    pub create: bool,
}

/// The rooms this engine is in, by id.
pub(crate) type JoinedRooms = std::sync::Mutex<BTreeMap<String, Joined>>;

pub(crate) fn room_id(v: &Value, name: &str) -> ImResult<String> {
    let id = args::string(Some(v), name)?.unwrap_or_default();
    rules::room_id(name, id).map_err(|(code, msg)| ImError::new(code, msg))?;
    Ok(id.to_owned())
}

/// The conversation of a send to a room: `{ conversationType: 4, targetId }` (rooms have
/// no channels).
pub(crate) fn send_target(conversation: &Value) -> ImResult<ConversationKey> {
    let m = args::object(Some(conversation), "conversation")?;
    let target = room_id(
        m.get("targetId").unwrap_or(&Value::Null),
        "conversation.targetId",
    )?;
    if args::string(m.get("channelId"), "conversation.channelId")?.is_some_and(|c| !c.is_empty()) {
        return Err(ImError::invalid(
            "conversation.channelId must be empty for a CHATROOM",
        ));
    }
    Ok(ConversationKey {
        conversation_type: conversation_type::CHATROOM,
        target_id: target,
        channel_id: String::new(),
    })
}

/// `{ count }` of a join: -1 none, 0 or absent the default 10, else 1..=50.
fn join_count(options: &Value) -> ImResult<u32> {
    let m = args::optional_object(Some(options), "options")?;
    let count = args::ranged(
        m.and_then(|m| m.get("count")),
        "options.count",
        -1,
        i64::from(MAX_JOIN_COUNT),
        Some(0),
    )?;
    Ok(match count {
        -1 => 0,
        0 => DEFAULT_JOIN_COUNT,
        n => n as u32,
    })
}

/// A room message as the app receives it: never stored, so `messageId` 0, and the
/// direction seen from this user.
fn message_json(m: &pb::Message, own_id: Option<&str>) -> Value {
    let mut v = super::convert::transient_json(m);
    let dir = if Some(m.sender_user_id.as_str()) == own_id {
        direction::SEND
    } else {
        direction::RECEIVE
    };
    v["messageDirection"] = json!(dir);
    crate::message::add_vendor_spellings(&mut v);
    v
}

impl Engine {
    fn emit_room_messages(&self, messages: &[pb::Message]) {
        if messages.is_empty() {
            return;
        }
        let own = self.user_id();
        let list: Vec<Value> = messages
            .iter()
            .map(|m| message_json(m, own.as_deref()))
            .collect();
        self.emit("MESSAGES", json!({ "messages": list }));
    }

    async fn join(&self, chat_room_id: Value, options: Value, create: bool) -> ImResult<Value> {
        let id = room_id(&chat_room_id, "chatRoomId")?;
        let count = join_count(&options)?;
        let r = self
            .call(request::Op::ChatroomJoin(pb::ChatroomJoinRequest {
                room_id: id.clone(),
                create,
                count,
            }))
            .await?;
        let Some(response::Body::ChatroomJoin(joined)) = r.body else {
            return Err(ImError::internal("unexpected answer to a chatroom join"));
        };
        self.chatrooms
            .lock()
            .unwrap()
            .insert(id, Joined { count, create });
        self.emit_room_messages(&joined.messages);
        // IChatroomJoinResponse (5.8.3); imsync has no chatroom bans yet.
        Ok(json!({
            "createTime": joined.create_time,
            "memberCount": joined.member_count,
            "isAllChatroomBanned": false,
            "isCurrentUserBanned": false,
            "isCurrentChatroomBanned": false,
            "isCurrentChatroomInWhitelist": false,
        }))
    }

    /// `joinChatRoom(chatRoomId, { count })`: creates the room when it does not exist.
    pub async fn join_chat_room(&self, chat_room_id: Value, options: Value) -> ImResult<Value> {
        self.join(chat_room_id, options, true).await
    }

    /// `joinExistChatRoom(chatRoomId, { count })`: 23410 when the room does not exist.
    pub async fn join_exist_chat_room(
        &self,
        chat_room_id: Value,
        options: Value,
    ) -> ImResult<Value> {
        self.join(chat_room_id, options, false).await
    }

    /// `quitChatRoom(chatRoomId)`.
    pub async fn quit_chat_room(&self, chat_room_id: Value) -> ImResult<Value> {
        let id = room_id(&chat_room_id, "chatRoomId")?;
        self.call(request::Op::ChatroomQuit(pb::ChatroomQuitRequest {
            room_id: id.clone(),
        }))
        .await?;
        self.chatrooms.lock().unwrap().remove(&id);
        Ok(Value::Null)
    }

    /// `getChatRoomInfo(chatRoomId, { count 0-20, order 1 asc / 2 desc })`:
    /// `{ userCount, userInfos: [{ id, time }] }`.
    pub async fn get_chat_room_info(&self, chat_room_id: Value, options: Value) -> ImResult<Value> {
        let id = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::optional_object(Some(&options), "options")?;
        let get = |k: &str| m.and_then(|m| m.get(k));
        let count = args::ranged(
            get("count"),
            "options.count",
            0,
            i64::from(MAX_INFO_COUNT),
            Some(0),
        )? as u32;
        let order = args::ranged(get("order"), "options.order", 0, 2, Some(0))? as u32;
        let r = self
            .call(request::Op::ChatroomInfo(pb::ChatroomInfoRequest {
                room_id: id,
                count,
                order,
            }))
            .await?;
        let Some(response::Body::ChatroomInfo(info)) = r.body else {
            return Err(ImError::internal("unexpected answer to getChatRoomInfo"));
        };
        let users: Vec<Value> = info
            .members
            .iter()
            .map(|m| json!({ "id": m.user_id, "time": m.join_time }))
            .collect();
        Ok(json!({ "userCount": info.member_count, "userInfos": users }))
    }

    /// `getChatroomHistoryMessages(chatRoomId, { timestamp, count 1-20, order })`:
    /// `{ list, hasMore }`, oldest first.
    pub async fn get_chatroom_history_messages(
        &self,
        chat_room_id: Value,
        options: Value,
    ) -> ImResult<Value> {
        let id = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::optional_object(Some(&options), "options")?;
        let get = |k: &str| m.and_then(|m| m.get(k));
        let timestamp = args::timestamp(get("timestamp"), "options.timestamp", Some(0))?;
        let count = args::ranged(get("count"), "options.count", 1, 20, Some(20))? as u32;
        let order = args::ranged(get("order"), "options.order", 0, 1, Some(0))? as u32;
        let r = self
            .call(request::Op::ChatroomHistory(pb::ChatroomHistoryRequest {
                room_id: id,
                timestamp,
                count,
                order,
            }))
            .await?;
        let Some(response::Body::ChatroomHistory(h)) = r.body else {
            return Err(ImError::internal(
                "unexpected answer to getChatroomHistoryMessages",
            ));
        };
        let own = self.user_id();
        let list: Vec<Value> = h
            .messages
            .iter()
            .map(|m| message_json(m, own.as_deref()))
            .collect();
        Ok(json!({ "list": list, "hasMore": h.has_more }))
    }

    /// Whether a send names a chatroom (the one conversation type sent but never stored).
    pub(crate) fn is_chatroom_target(conversation: &Value) -> bool {
        conversation
            .get("conversationType")
            .and_then(Value::as_i64)
            .is_some_and(|t| t == conversation_type::CHATROOM)
    }

    /// The rooms to rejoin after a reconnect.
    pub(crate) fn joined_rooms(&self) -> Vec<(String, Joined)> {
        self.chatrooms
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Forgets every room (an explicit disconnect leaves them, as the vendor's does).
    pub(crate) fn forget_rooms(&self) {
        self.chatrooms.lock().unwrap().clear();
    }

    /// The answer to a rejoin: `rejoinedRoom` `{ chatroomId, count }` with the room's
    /// latest messages, or `{ chatroomId, errorCode }` and the room is forgotten.
    pub(crate) fn on_rejoin(&self, room: &str, r: pb::Response) {
        match (r.code, r.body) {
            (0, Some(response::Body::ChatroomJoin(joined))) => {
                let count = self
                    .chatrooms
                    .lock()
                    .unwrap()
                    .get(room)
                    .map_or(0, |j| j.count);
                self.emit(
                    "CHATROOM",
                    json!({ "rejoinedRoom": { "chatroomId": room, "count": count } }),
                );
                self.emit_room_messages(&joined.messages);
            }
            (code, _) => {
                self.chatrooms.lock().unwrap().remove(room);
                let code = if code == 0 { rules::NOT_EXIST } else { code };
                self.emit(
                    "CHATROOM",
                    json!({ "rejoinedRoom": { "chatroomId": room, "errorCode": code } }),
                );
            }
        }
    }

    /// A message pushed to a room this engine is in: MESSAGES only, never the database.
    pub(crate) fn on_chatroom_message(&self, m: &pb::Message) {
        self.emit_room_messages(std::slice::from_ref(m));
    }

    /// A room event, as the seed's `IChatroomListenerData`.
    pub(crate) fn on_chatroom_event(&self, e: pb::ChatroomEvent) {
        let room = e.room_id;
        let own = self.user_id().unwrap_or_default();
        let payload = match e.kind {
            Some(chatroom_event::Kind::UserChange(c)) => {
                if c.users.get(&own).is_some_and(|k| *k != 1) {
                    // Removed by the server (offline rule or a block): nothing to rejoin.
                    self.chatrooms.lock().unwrap().remove(&room);
                }
                json!({ "userChange": { "chatroomId": room, "users": c.users, "memberCount": c.member_count } })
            }
            Some(chatroom_event::Kind::Destroyed(kind)) => {
                self.chatrooms.lock().unwrap().remove(&room);
                let _ = kind;
                json!({ "chatroomDestroyed": room })
            }
            Some(chatroom_event::Kind::Block(b)) => {
                if b.user_ids.contains(&own) {
                    self.chatrooms.lock().unwrap().remove(&room);
                }
                json!({ "chatroomNotifyBlock": {
                    "chatroomId": room, "operateType": 0, "durationTime": b.minutes,
                    "operateTime": e.time, "userIdList": b.user_ids, "extra": b.extra,
                } })
            }
            Some(chatroom_event::Kind::Entries(c)) => {
                let mut entries: Vec<Value> = c
                    .updated
                    .iter()
                    .map(|x| json!({ "key": x.key, "value": x.value, "timestamp": x.timestamp, "type": 1 }))
                    .collect();
                entries.extend(
                    c.removed
                        .iter()
                        .map(|k| json!({ "key": k, "value": "", "timestamp": e.time, "type": 2 })),
                );
                json!({ "updatedEntries": [{ "chatroomId": room, "entries": entries }] })
            }
            Some(chatroom_event::Kind::MultiLogin(m)) => {
                // `reason` is the vendor's and only means something on a quit.
                let mut sync = json!({
                    "chatroomId": room, "status": m.status, "time": e.time, "userId": m.user_id,
                });
                if m.status == 0 {
                    sync["reason"] = json!(m.reason);
                }
                json!({ "chatroomNotifyMultiLoginSync": sync })
            }
            None => return,
        };
        self.emit("CHATROOM", payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_count_maps_the_seed_values() {
        assert_eq!(join_count(&json!({ "count": -1 })).unwrap(), 0);
        assert_eq!(join_count(&json!({ "count": 0 })).unwrap(), 10);
        assert_eq!(join_count(&Value::Null).unwrap(), 10);
        assert_eq!(join_count(&json!({ "count": 50 })).unwrap(), 50);
        for bad in [
            json!({ "count": 51 }),
            json!({ "count": -2 }),
            json!({ "count": "5" }),
        ] {
            let e = join_count(&bad).unwrap_err();
            assert_eq!(e.code, 33003);
            assert!(e.msg.contains("options.count"), "{}", e.msg);
        }
        assert_eq!(room_id(&json!(""), "chatRoomId").unwrap_err().code, 36001);
        assert_eq!(
            room_id(&json!("a b"), "chatRoomId").unwrap_err().code,
            23412
        );
        assert_eq!(room_id(&json!(5), "chatRoomId").unwrap_err().code, 33003);
    }
}
