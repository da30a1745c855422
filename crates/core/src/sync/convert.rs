//! Between the wire and the store: inbox entries into [`Apply`] items, API sends into
//! `SendMessageRequest`s.

use imsync_protocol as pb;
use serde_json::{json, Map, Value};

use crate::message::{flag, mentions, NewMessage};
use crate::model::{direction, received_status, sent_status, ConversationKey};
use crate::registry::{search_text, Registry};
use crate::store::inbox::Apply;

pub use pb::object_names::{
    EXPANSION_NOTICE, READ_NOTICE as READ_NOTIFY, RECALL_NOTICE as RECALL, RECEIPT_REQUEST,
    RECEIPT_RESPONSE, SYNC_READ_STATUS, TYPING_STATUS,
};

pub fn key_of(c: Option<&pb::Conversation>) -> ConversationKey {
    let c = c.cloned().unwrap_or_default();
    ConversationKey {
        conversation_type: c.r#type as i64,
        target_id: c.target_id,
        channel_id: c.channel_id,
    }
}

pub fn to_wire(key: &ConversationKey) -> pb::Conversation {
    pb::Conversation {
        r#type: key.conversation_type as i32,
        target_id: key.target_id.clone(),
        channel_id: key.channel_id.clone(),
    }
}

fn mentioned_info_json(m: &pb::MentionedInfo) -> Value {
    json!({ "type": m.r#type, "userIdList": m.user_ids, "mentionedContent": m.mentioned_content })
}

/// Converts one delivered message into what the store applies, or None for what is not
/// stored (status messages, types registered as not persisted).
pub fn to_apply(
    m: &pb::Message,
    registry: &Registry,
    user_id: &str,
    offline: bool,
    now: i64,
) -> Option<Apply> {
    let key = key_of(m.conversation.as_ref());
    let mut content: Value = serde_json::from_str(&m.content).unwrap_or_else(|_| json!({}));
    if let Some(notice) = notice(m, &key, &content) {
        return Some(notice);
    }
    if m.is_status_message {
        return None;
    }
    let info = registry.get(&m.object_name);
    // The receiver's registration decides; for a type it does not know, the sender's flags.
    if !info.map(|i| i.is_persisted).unwrap_or(m.is_persisted) {
        let mut transient = transient_json(m);
        transient["isOfflineMessage"] = json!(offline);
        crate::message::add_vendor_spellings(&mut transient);
        return Some(Apply::Transient(transient));
    }
    if let (Some(mi), Some(obj)) = (&m.mentioned_info, content.as_object_mut()) {
        obj.entry("mentionedInfo")
            .or_insert_with(|| mentioned_info_json(mi));
    }
    let dir = if m.direction == pb::MessageDirection::Send as i32 {
        direction::SEND
    } else {
        direction::RECEIVE
    };
    let counted = info.map(|i| i.is_counted).unwrap_or(m.is_counted);
    // An @ names its users: the sender's flag says only that someone was mentioned.
    let mentioned = dir == direction::RECEIVE
        && if content.get("mentionedInfo").is_some() {
            mentions(&content, user_id)
        } else {
            m.is_mentioned
        };
    let mut flags = flag::PERSISTED;
    if counted {
        flags |= flag::COUNTED;
    }
    if offline {
        flags |= flag::OFFLINE;
    }
    if m.disable_notification {
        flags |= flag::DISABLE_NOTIFICATION;
    }
    if m.can_include_expansion {
        flags |= flag::CAN_INCLUDE_EXPANSION;
    }
    let text = info.and_then(|i| search_text(i, &content));
    if text.is_some() {
        flags |= flag::INDEXED;
    }
    let mut extra = Map::new();
    if !m.directed_user_ids.is_empty() {
        extra.insert("directedUserIds".into(), json!(m.directed_user_ids));
    }
    if let Some(p) = &m.push_config {
        extra.insert("pushConfig".into(), super::push_config::to_json(p));
    }
    let message = NewMessage {
        key,
        uid: (!m.message_uid.is_empty()).then(|| m.message_uid.clone()),
        sender: m.sender_user_id.clone(),
        object_name: m.object_name.clone(),
        content: content.to_string(),
        direction: dir,
        sent_time: m.sent_time,
        received_time: now,
        sent_status: sent_status::SENT,
        received_status: if dir == direction::SEND {
            received_status::READ
        } else {
            received_status::UNREAD
        },
        mentioned,
        flags,
        expansion: (m.can_include_expansion && !m.expansion.is_empty())
            .then(|| json!(m.expansion).to_string()),
        extra: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
        search_text: text,
        client_id: (dir == direction::SEND && !m.client_msg_id.is_empty())
            .then(|| m.client_msg_id.clone()),
        server_deduped: !m.client_msg_id.is_empty(),
    };
    if m.object_name == RECALL && !m.ref_message_uid.is_empty() {
        return Some(Apply::Recall {
            original: m.ref_message_uid.clone(),
            notice: message,
        });
    }
    if m.content_replaced && dir == direction::SEND {
        return Some(Apply::OwnReplaced(message));
    }
    Some(Apply::Store(message))
}

/// The server's notices that are not messages: read sync and receipts, expansion changes.
fn notice(m: &pb::Message, key: &ConversationKey, content: &Value) -> Option<Apply> {
    let text = |field: &str| {
        content
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let uid = || {
        if m.ref_message_uid.is_empty() {
            text("messageUId")
        } else {
            m.ref_message_uid.clone()
        }
    };
    let time = || {
        content
            .get("lastMessageSendTime")
            .and_then(Value::as_i64)
            .unwrap_or(m.sent_time)
    };
    let key = key.clone();
    Some(match m.object_name.as_str() {
        SYNC_READ_STATUS => Apply::ReadUpTo { key, time: time() },
        READ_NOTIFY => Apply::PeerRead {
            key,
            time: time(),
            uid: uid(),
            reader: m.sender_user_id.clone(),
        },
        RECEIPT_REQUEST => Apply::ReceiptRequest {
            key,
            uid: uid(),
            requester: m.sender_user_id.clone(),
        },
        RECEIPT_RESPONSE => Apply::ReceiptResponse {
            key,
            reader: m.sender_user_id.clone(),
            uids: content
                .get("receiptMessageDic")
                .and_then(Value::as_object)
                .map(|d| {
                    d.values()
                        .filter_map(Value::as_array)
                        .flatten()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        },
        pb::object_names::DELETE_NOTICE => super::remote_delete::from_notice(m, key, content),
        EXPANSION_NOTICE => Apply::Expansion {
            key,
            uid: if text("mid").is_empty() {
                uid()
            } else {
                text("mid")
            },
            put: content
                .get("put")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .unwrap_or_default(),
            del: content
                .get("del")
                .and_then(|d| serde_json::from_value(d.clone()).ok())
                .unwrap_or_default(),
        },
        _ => return super::delivery::notice_event(m, &key, content),
    })
}

/// The API form of a message that is delivered but not stored (status messages, types
/// registered as not persisted).
pub fn transient_json(m: &pb::Message) -> Value {
    let key = key_of(m.conversation.as_ref());
    json!({
        "messageId": 0,
        "messageUId": m.message_uid,
        "conversationType": key.conversation_type,
        "targetId": key.target_id,
        "channelId": key.channel_id,
        "senderUserId": m.sender_user_id,
        "messageType": m.object_name,
        "content": serde_json::from_str::<Value>(&m.content).unwrap_or(Value::Null),
        "sentTime": m.sent_time,
        "messageDirection": m.direction,
        "isPersisted": m.is_persisted,
        "isCounted": m.is_counted,
        "isStatusMessage": m.is_status_message,
        "isOfflineMessage": false,
        "isPersited": m.is_persisted,
        "isOffLineMessage": false,
        "disableNotification": m.disable_notification,
        "directedUserIds": m.directed_user_ids,
    })
}

/// The notice a recall leaves on the recalling device, the same as the server's copy
/// that arrives later (applying either is idempotent).
pub fn recall_notice(
    key: &ConversationKey,
    user: &str,
    original: &str,
    ack: &pb::MessageAck,
    now: i64,
) -> Apply {
    // The server's own content when it sent it (every other inbox gets that one); an older
    // server's answer has none, and this stand-in is replaced when its notice arrives.
    let content = if ack.content.is_empty() {
        json!({ "operatorId": user, "recallTime": ack.sent_time, "messageUId": original })
            .to_string()
    } else {
        ack.content.clone()
    };
    Apply::Recall {
        original: original.to_string(),
        notice: NewMessage {
            key: key.clone(),
            uid: (!ack.message_uid.is_empty()).then(|| ack.message_uid.clone()),
            sender: user.to_string(),
            object_name: RECALL.to_string(),
            content,
            direction: direction::SEND,
            sent_time: ack.sent_time,
            received_time: now,
            sent_status: sent_status::SENT,
            received_status: received_status::READ,
            mentioned: false,
            flags: flag::PERSISTED,
            expansion: None,
            extra: None,
            search_text: None,
            client_id: None,
            server_deduped: true,
        },
    }
}
