//! The `CONVERSATION` event's payload as IMLib 5.x shapes it: `{ conversationList }` whose
//! items are `{ conversation, updatedItems }` (the vendor's `IUpdatedConversation`, from
//! its public 5.x typings; seed 002 is silent), not bare conversations. `updatedItems` names
//! what the change that raised the event may have touched, each as `{ time, val }` with the
//! conversation's value after it, so a list UI can patch a row without a lookup.

use serde_json::{json, Map, Value};

use crate::json_text::RawJson;

/// What a received or sent message changes on its conversation.
pub const MESSAGE_ITEMS: &[&str] = &[
    "latestMessage",
    "unreadMessageCount",
    "hasMentioned",
    "mentionedInfo",
];
/// What a synced settings change (pin, notification level) changes.
pub const SETTINGS_ITEMS: &[&str] = &["isTop", "notificationLevel", "notificationStatus"];

/// Wraps each conversation of `conversations` with the `items` it reports as updated at
/// `time` (ms).
pub fn payload(conversations: Vec<Value>, items: &[&str], time: i64) -> Value {
    let list: Vec<Value> = conversations
        .into_iter()
        .map(|conversation| {
            let mut updated = Map::new();
            for &item in items {
                if let Some(val) = conversation.get(item) {
                    updated.insert(item.to_string(), json!({ "time": time, "val": val }));
                }
            }
            json!({ "conversation": conversation, "updatedItems": updated })
        })
        .collect();
    json!({ "conversationList": list })
}

/// [`payload`] of a JSON array text of conversations (what the store writes).
pub fn payload_text(conversations: &RawJson, items: &[&str], time: i64) -> RawJson {
    let list = match serde_json::from_str::<Value>(&conversations.0) {
        Ok(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    RawJson(payload(list, items, time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_wrap_each_conversation_with_the_listed_values() {
        let conv = json!({ "targetId": "bob", "isTop": true, "notificationLevel": 5, "unreadMessageCount": 2 });
        let p = payload(vec![conv.clone()], SETTINGS_ITEMS, 42);
        let item = &p["conversationList"][0];
        assert_eq!(item["conversation"], conv);
        assert_eq!(
            item["updatedItems"]["isTop"],
            json!({ "time": 42, "val": true })
        );
        assert_eq!(item["updatedItems"]["notificationLevel"]["val"], 5);
        // A field the conversation does not carry is not reported.
        assert!(item["updatedItems"].get("notificationStatus").is_none());
        assert!(item["updatedItems"].get("unreadMessageCount").is_none());
    }

    #[test]
    fn text_form_matches_the_value_form() {
        let text = RawJson(r#"[{"targetId":"a","unreadMessageCount":1}]"#.into());
        let v: Value = serde_json::from_str(&payload_text(&text, MESSAGE_ITEMS, 7).0).unwrap();
        assert_eq!(v["conversationList"][0]["conversation"]["targetId"], "a");
        assert_eq!(
            v["conversationList"][0]["updatedItems"]["unreadMessageCount"],
            json!({ "time": 7, "val": 1 })
        );
    }
}
