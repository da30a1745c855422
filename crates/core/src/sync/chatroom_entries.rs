//! Chatroom entries (KV, seed 002 "聊天室属性管理"): `setChatRoomEntry`,
//! `forceSetChatRoomEntry`, `setChatRoomEntries`, `getChatRoomEntry`,
//! `getAllChatRoomEntries`, `removeChatRoomEntry`, `forceRemoveChatRoomEntry`,
//! `removeChatRoomEntries`. The server holds them (they outlive this engine's membership),
//! so every call asks it; arguments are checked here first with the server's own rules
//! (`imsync_protocol::chatroom_rules`), so bad input answers the same code offline too.

use imsync_protocol as pb;
use pb::chatroom_rules::{self as rules, RuleError};
use pb::{request, response};
use serde_json::{json, Map, Value};

use super::chatroom::room_id;
use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};

fn rule(r: Result<(), RuleError>) -> ImResult<()> {
    r.map_err(|(code, msg)| ImError::new(code, msg))
}

fn key(v: Option<&Value>, name: &str) -> ImResult<String> {
    let k = args::string(v, name)?.unwrap_or_default();
    rule(rules::key(name, k))?;
    Ok(k.to_owned())
}

fn value(v: Option<&Value>, name: &str) -> ImResult<String> {
    let s = args::string(v, name)?
        .ok_or_else(|| ImError::invalid(format!("{name} is required (a string)")))?;
    rule(rules::value(name, s))?;
    Ok(s.to_owned())
}

fn flag(m: &Map<String, Value>, k: &str, name: &str) -> ImResult<bool> {
    args::boolean(m.get(k), &format!("{name}.{k}"), Some(false))
}

fn extra(m: &Map<String, Value>, name: &str) -> ImResult<String> {
    Ok(args::string(
        m.get("notificationExtra"),
        &format!("{name}.notificationExtra"),
    )?
    .unwrap_or_default()
    .to_owned())
}

impl Engine {
    async fn entries_call(&self, op: request::Op) -> ImResult<pb::ChatroomEntries> {
        match self.call(op).await?.body {
            Some(response::Body::ChatroomEntries(e)) => Ok(e),
            _ => Err(ImError::internal(
                "unexpected answer to a chatroom entry call",
            )),
        }
    }

    async fn set_one(&self, chat_room_id: Value, entry: Value, force: bool) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::object(Some(&entry), "entry")?;
        let e = pb::ChatroomEntry {
            key: key(m.get("key"), "entry.key")?,
            value: value(m.get("value"), "entry.value")?,
            auto_delete: flag(m, "isAutoDelete", "entry")?,
            ..Default::default()
        };
        let op = request::Op::ChatroomSetEntries(pb::ChatroomSetEntriesRequest {
            room_id: room,
            entries: vec![e],
            force,
            send_notification: flag(m, "isSendNotification", "entry")?,
            notification_extra: extra(m, "entry")?,
        });
        self.entries_call(op).await?;
        Ok(Value::Null)
    }

    async fn remove_one(&self, chat_room_id: Value, entry: Value, force: bool) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::object(Some(&entry), "entry")?;
        let op = request::Op::ChatroomRemoveEntries(pb::ChatroomRemoveEntriesRequest {
            room_id: room,
            keys: vec![key(m.get("key"), "entry.key")?],
            force,
            send_notification: flag(m, "isSendNotification", "entry")?,
            notification_extra: extra(m, "entry")?,
        });
        self.entries_call(op).await?;
        Ok(Value::Null)
    }

    /// `setChatRoomEntry(chatRoomId, { key, value, isAutoDelete, isSendNotification,
    /// notificationExtra })`: 23424 when another user set that key.
    pub async fn set_chat_room_entry(&self, chat_room_id: Value, entry: Value) -> ImResult<Value> {
        self.set_one(chat_room_id, entry, false).await
    }

    /// `forceSetChatRoomEntry`: may overwrite another user's entry.
    pub async fn force_set_chat_room_entry(
        &self,
        chat_room_id: Value,
        entry: Value,
    ) -> ImResult<Value> {
        self.set_one(chat_room_id, entry, true).await
    }

    /// `setChatRoomEntries(chatRoomId, { entries: [{ key, value }], isAutoDelete, isForce })`:
    /// 1..=10 entries, applied together or not at all.
    pub async fn set_chat_room_entries(
        &self,
        chat_room_id: Value,
        options: Value,
    ) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::object(Some(&options), "options")?;
        let Some(Value::Array(items)) = m.get("entries") else {
            return Err(ImError::invalid(
                "options.entries is required (an array of { key, value })",
            ));
        };
        rule(rules::batch("options.entries", items.len()))?;
        let auto_delete = flag(m, "isAutoDelete", "options")?;
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let e = args::object(Some(item), &format!("options.entries[{i}]"))?;
            entries.push(pb::ChatroomEntry {
                key: key(e.get("key"), &format!("options.entries[{i}].key"))?,
                value: value(e.get("value"), &format!("options.entries[{i}].value"))?,
                auto_delete,
                ..Default::default()
            });
        }
        let op = request::Op::ChatroomSetEntries(pb::ChatroomSetEntriesRequest {
            room_id: room,
            entries,
            force: flag(m, "isForce", "options")?,
            ..Default::default()
        });
        self.entries_call(op).await?;
        Ok(Value::Null)
    }

    /// `getChatRoomEntry(chatRoomId, key)`: the value; 36004 when the room has no such key.
    pub async fn get_chat_room_entry(
        &self,
        chat_room_id: Value,
        key_arg: Value,
    ) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let k = key(Some(&key_arg), "key")?;
        let op = request::Op::ChatroomGetEntries(pb::ChatroomGetEntriesRequest {
            room_id: room.clone(),
            keys: vec![k.clone()],
        });
        let got = self.entries_call(op).await?;
        match got.entries.into_iter().find(|e| e.key == k) {
            Some(e) => Ok(json!(e.value)),
            None => Err(ImError::new(
                rules::KV_NOT_FOUND,
                format!("chatroom {room} has no entry {k}"),
            )),
        }
    }

    /// `getAllChatRoomEntries(chatRoomId)`: `{ key: value }`.
    pub async fn get_all_chat_room_entries(&self, chat_room_id: Value) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let op = request::Op::ChatroomGetEntries(pb::ChatroomGetEntriesRequest {
            room_id: room,
            keys: Vec::new(),
        });
        let got = self.entries_call(op).await?;
        let map: Map<String, Value> = got
            .entries
            .into_iter()
            .map(|e| (e.key, json!(e.value)))
            .collect();
        Ok(Value::Object(map))
    }

    /// `removeChatRoomEntry(chatRoomId, { key, isSendNotification, notificationExtra })`:
    /// only the user's own entries (23424 otherwise); 23427 when there is no such key.
    pub async fn remove_chat_room_entry(
        &self,
        chat_room_id: Value,
        entry: Value,
    ) -> ImResult<Value> {
        self.remove_one(chat_room_id, entry, false).await
    }

    /// `forceRemoveChatRoomEntry`: may remove another user's entry.
    pub async fn force_remove_chat_room_entry(
        &self,
        chat_room_id: Value,
        entry: Value,
    ) -> ImResult<Value> {
        self.remove_one(chat_room_id, entry, true).await
    }

    /// `removeChatRoomEntries(chatRoomId, { entries: [key, ...] })`: 1..=10 of the user's own
    /// keys, removed together or not at all.
    pub async fn remove_chat_room_entries(
        &self,
        chat_room_id: Value,
        options: Value,
    ) -> ImResult<Value> {
        let room = room_id(&chat_room_id, "chatRoomId")?;
        let m = args::object(Some(&options), "options")?;
        let Some(Value::Array(items)) = m.get("entries") else {
            return Err(ImError::invalid(
                "options.entries is required (an array of keys)",
            ));
        };
        rule(rules::batch("options.entries", items.len()))?;
        let mut keys = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            // The seed's example passes keys; an entry object ({ key }) is accepted too.
            let k = match item {
                Value::Object(o) => o.get("key"),
                other => Some(other),
            };
            keys.push(key(k, &format!("options.entries[{i}]"))?);
        }
        let op = request::Op::ChatroomRemoveEntries(pb::ChatroomRemoveEntriesRequest {
            room_id: room,
            keys,
            ..Default::default()
        });
        self.entries_call(op).await?;
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_answer_the_seed_codes() {
        assert_eq!(
            key(Some(&json!("a b")), "entry.key").unwrap_err().code,
            23412
        );
        assert_eq!(key(Some(&json!(7)), "entry.key").unwrap_err().code, 33003);
        let e = value(Some(&json!("v".repeat(4097))), "entry.value").unwrap_err();
        assert_eq!(e.code, 23412);
        assert!(e.msg.starts_with("entry.value"), "{}", e.msg);
        assert!(value(Some(&json!("v".repeat(4096))), "entry.value").is_ok());
    }
}
