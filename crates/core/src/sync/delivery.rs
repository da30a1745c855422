//! The notices of the server's moderation and delivery receipts, turned into events for
//! the sender (see imsync.proto: `imsync:BlkNtf`, `imsync:DlvNtf`). Neither is stored:
//! they only report on messages of this user.
//!
//! MESSAGE_BLOCKED carries the vendor's `IBlockedMessageInfo` as the server wrote it (seed
//! 002 "敏感信息拦截回调"). PRIVATE_MESSAGE_DELIVERED and GROUP_MESSAGE_DELIVERED carry
//! an array, one element per message the recipient's device stored, with the fields the
//! brief names for IMLib 5.x's IPrivateMessageDeliveredInfo (`messageUId`,
//! `deliveryTime`, `targetId`, `channelId`) and IGroupMessageDeliveredStatusInfo (plus
//! `deliveryCount`, `totalCount`), and `conversationType`; the seed is silent on them.

use imsync_protocol as pb;
use serde_json::{json, Value};

use crate::model::ConversationKey;
use crate::store::inbox::Apply;

/// Whether the server sends a delivery receipt for `m` once this device stored it (the
/// server's rule, imsync.proto AckInboxRequest): someone else's client send of a PRIVATE
/// or GROUP message that is stored, not one of the server's notices.
pub fn earns_receipt(m: &pb::Message) -> bool {
    let kind = m
        .conversation
        .as_ref()
        .map(|c| c.r#type)
        .unwrap_or_default();
    m.direction == pb::MessageDirection::Receive as i32
        && !m.client_msg_id.is_empty()
        && m.is_persisted
        && (kind == pb::ConversationType::Private as i32
            || kind == pb::ConversationType::Group as i32)
        && !pb::object_names::SERVER_NOTICES.contains(&m.object_name.as_str())
}

/// The event a moderation or delivery notice raises, or None for other messages.
pub fn notice_event(m: &pb::Message, key: &ConversationKey, content: &Value) -> Option<Apply> {
    match m.object_name.as_str() {
        pb::object_names::BLOCKED_NOTICE => Some(Apply::Event {
            name: "MESSAGE_BLOCKED",
            payload: content.clone(),
        }),
        pb::object_names::DELIVERY_NOTICE => {
            let group = key.conversation_type == pb::ConversationType::Group as i64;
            let list: Vec<Value> = content
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(|item| {
                    let mut info = json!({
                        "messageUId": item.get("messageUId").cloned().unwrap_or(Value::Null),
                        "deliveryTime": item.get("deliveryTime").cloned().unwrap_or(Value::Null),
                        "conversationType": key.conversation_type,
                        "targetId": key.target_id,
                        "channelId": key.channel_id,
                    });
                    if group {
                        for k in ["deliveryCount", "totalCount"] {
                            info[k] = item.get(k).cloned().unwrap_or(json!(0));
                        }
                    }
                    info
                })
                .collect();
            Some(Apply::Event {
                name: if group {
                    "GROUP_MESSAGE_DELIVERED"
                } else {
                    "PRIVATE_MESSAGE_DELIVERED"
                },
                payload: Value::Array(list),
            })
        }
        _ => None,
    }
}
