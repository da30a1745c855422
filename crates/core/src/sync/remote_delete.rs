//! Deleting messages for this user only, everywhere it keeps them (the vendor's
//! `deleteMessages(conversation, messages)` — here `deleteRemoteMessages`, since the Engine's
//! `deleteMessages` is the local-only `electronExtension` call — and
//! `clearHistoryMessages(conversation, timestamp)`): from the server's copy of the user's
//! history, from this device's database, and, through the RC:MsgDelNtf notice the server
//! puts in the user's own inbox, from its other devices (online now or when they next pull).
//! A new device never gets them back: they are no longer in the user's inbox.
//!
//! The calling device applies the delete as soon as the server accepted it (so the call
//! resolves with the rows gone); the notice arrives later in its own inbox like on every
//! other device and applying it again changes nothing — that application moves the cursor
//! in its transaction, as every inbox entry does.

use imsync_protocol as pb;
use pb::{request, response};
use serde_json::Value;

use super::convert;
use crate::args;
use crate::codes;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::conversation_type::{GROUP, PRIVATE, SYSTEM};
use crate::model::ConversationKey;
use crate::store::inbox::{self, Apply};

/// Messages one `deleteRemoteMessages` call may name (the seed gives no limit; the server's).
pub const MAX_REMOTE_DELETE: usize = pb::MAX_DELETE_MESSAGES;

/// The conversation, which must be one the server keeps history of.
fn conversation(v: &Value) -> ImResult<ConversationKey> {
    let key = args::conversation(Some(v), "conversation")?;
    if ![PRIVATE, GROUP, SYSTEM].contains(&key.conversation_type) {
        return Err(ImError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            format!(
                "messages can be deleted from the server in PRIVATE (1), GROUP (3) and SYSTEM (6) conversations only, not type {}",
                key.conversation_type
            ),
        ));
    }
    Ok(key)
}

/// `[{ messageUId, sentTime, messageDirection? }]` (also `messageUid`, and the seed
/// example's string `messageId`) as wire references.
fn message_refs(v: &Value) -> ImResult<Vec<pb::MessageRef>> {
    let items = match args::present(Some(v)) {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_REMOTE_DELETE => a,
        Some(Value::Array(a)) => {
            return Err(ImError::invalid(format!(
                "messages must hold 1 to {MAX_REMOTE_DELETE} items, got {}",
                a.len()
            )))
        }
        _ => {
            return Err(ImError::invalid(format!(
                "messages is required (an array of 1 to {MAX_REMOTE_DELETE} {{ messageUId, sentTime, messageDirection }})"
            )))
        }
    };
    let mut refs: Vec<pb::MessageRef> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = format!("messages[{i}]");
        let m = args::object(Some(item), &name)?;
        let uid = match (
            args::present(m.get("messageUId").or(m.get("messageUid"))),
            m.get("messageId"),
        ) {
            (Some(Value::String(s)), _) => s.clone(),
            // The seed's example names the server uid `messageId` (a string; the local
            // messageId is a number).
            (None, Some(Value::String(s))) => s.clone(),
            _ => String::new(),
        };
        if uid.is_empty() {
            return Err(ImError::invalid(format!(
                "{name}.messageUId must be a non-empty string (the server's message uid)"
            )));
        }
        let sent_time = args::required_integer(m.get("sentTime"), &format!("{name}.sentTime"))?;
        if let Some(d) = args::integer(
            m.get("messageDirection"),
            &format!("{name}.messageDirection"),
        )? {
            if d != 1 && d != 2 {
                return Err(ImError::invalid(format!(
                    "{name}.messageDirection must be 1 (SEND) or 2 (RECEIVE), got {d}"
                )));
            }
        }
        if refs.iter().all(|r| r.message_uid != uid) {
            refs.push(pb::MessageRef {
                message_uid: uid,
                sent_time,
            });
        }
    }
    Ok(refs)
}

/// The Apply of an RC:MsgDelNtf entry. Only a notice of the inbox owner itself counts (the
/// server writes them only into the caller's own inbox and refuses them from clients); any
/// other is a no-op.
pub(crate) fn from_notice(m: &pb::Message, key: ConversationKey, content: &Value) -> Apply {
    let own = m.direction == pb::MessageDirection::Send as i32;
    let uids = content
        .get("messageUIds")
        .and_then(Value::as_array)
        .filter(|_| own)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let before = content
        .get("clearBefore")
        .and_then(Value::as_i64)
        .filter(|_| own);
    Apply::Delete { key, uids, before }
}

impl Engine {
    /// `deleteRemoteMessages(conversation, messages)` (the vendor's top-level
    /// `deleteMessages`): deletes these messages for this user on the server, here and on
    /// its other devices. All of them must be messages of `conversation` (else 33003 and
    /// nothing is deleted anywhere). Needs the connection.
    pub async fn delete_remote_messages(
        &self,
        conversation: Value,
        messages: Value,
    ) -> ImResult<Value> {
        let key = self::conversation(&conversation)?;
        let refs = message_refs(&messages)?;
        let uids: Vec<String> = refs.iter().map(|r| r.message_uid.clone()).collect();
        self.call(request::Op::DeleteMessages(pb::DeleteMessagesRequest {
            conversation: Some(convert::to_wire(&key)),
            what: Some(pb::delete_messages_request::What::Messages(
                pb::MessageRefs { messages: refs },
            )),
        }))
        .await?;
        self.apply_own_delete(key, uids, None).await
    }

    /// `clearHistoryMessages(conversation, timestamp)`: deletes this user's messages of the
    /// conversation sent before `timestamp` (strictly: the seed's "早于该时间戳") on the
    /// server, here and on its other devices. Needs the connection.
    pub async fn clear_history_messages(
        &self,
        conversation: Value,
        timestamp: Value,
    ) -> ImResult<Value> {
        let key = self::conversation(&conversation)?;
        let before = args::timestamp(Some(&timestamp), "timestamp", None)?;
        let r = self
            .call(request::Op::DeleteMessages(pb::DeleteMessagesRequest {
                conversation: Some(convert::to_wire(&key)),
                what: Some(pb::delete_messages_request::What::ClearBefore(before)),
            }))
            .await?;
        // The server caps the cut at its notice's time (messages that arrive later stay);
        // this device uses the same cut as the notice its other devices get.
        let cut = match r.body {
            Some(response::Body::MessageAck(a)) if a.sent_time > 0 => before.min(a.sent_time),
            _ => before,
        };
        self.apply_own_delete(key, Vec::new(), Some(cut)).await
    }

    async fn apply_own_delete(
        &self,
        key: ConversationKey,
        uids: Vec<String>,
        before: Option<i64>,
    ) -> ImResult<Value> {
        let item = Apply::Delete { key, uids, before };
        self.db()?
            .store
            .write(move |tx| {
                inbox::apply(tx, &[item], None, None)?;
                Ok(Value::Null)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn message_refs_accept_the_seed_spellings_and_refuse_bad_items() {
        let refs = message_refs(&json!([
            { "messageUId": "A", "sentTime": 1, "messageDirection": 1 },
            { "messageUid": "B", "sentTime": 2 },
            { "messageId": "C", "sentTime": 3, "messageDirection": 2 },
            { "messageUId": "A", "sentTime": 1 },
        ]))
        .unwrap();
        let got: Vec<(&str, i64)> = refs
            .iter()
            .map(|r| (r.message_uid.as_str(), r.sent_time))
            .collect();
        assert_eq!(got, vec![("A", 1), ("B", 2), ("C", 3)]);
        let many: Vec<Value> = (0..=MAX_REMOTE_DELETE)
            .map(|i| json!({ "messageUId": format!("u{i}"), "sentTime": 1 }))
            .collect();
        for (bad, names) in [
            (json!([]), "messages"),
            (json!(null), "messages"),
            (json!("A"), "messages"),
            (Value::Array(many), "messages"),
            (json!([1]), "messages[0]"),
            (json!([{ "sentTime": 1 }]), "messages[0].messageUId"),
            (
                json!([{ "messageUId": "", "sentTime": 1 }]),
                "messages[0].messageUId",
            ),
            (
                json!([{ "messageUId": 5, "sentTime": 1 }]),
                "messages[0].messageUId",
            ),
            (
                json!([{ "messageId": 5, "sentTime": 1 }]),
                "messages[0].messageUId",
            ),
            (json!([{ "messageUId": "A" }]), "messages[0].sentTime"),
            (
                json!([{ "messageUId": "A", "sentTime": "1" }]),
                "messages[0].sentTime",
            ),
            (
                json!([{ "messageUId": "A", "sentTime": 1 }, { "messageUId": "B", "sentTime": 1, "messageDirection": 3 }]),
                "messages[1].messageDirection",
            ),
        ] {
            let e = message_refs(&bad).expect_err(&bad.to_string());
            assert_eq!(e.code, codes::INVALID_PARAMETER);
            assert!(e.msg.contains(names), "{bad}: {}", e.msg);
        }
    }

    #[test]
    fn only_the_owners_own_notice_deletes() {
        let key = ConversationKey {
            conversation_type: PRIVATE,
            target_id: "bob".into(),
            channel_id: String::new(),
        };
        let content = json!({ "messageUIds": ["A"], "clearBefore": 5 });
        let mut m = pb::Message {
            direction: pb::MessageDirection::Send as i32,
            ..Default::default()
        };
        match from_notice(&m, key.clone(), &content) {
            Apply::Delete { uids, before, .. } => {
                assert_eq!(uids, vec!["A".to_string()]);
                assert_eq!(before, Some(5));
            }
            other => panic!("{other:?}"),
        }
        m.direction = pb::MessageDirection::Receive as i32;
        match from_notice(&m, key, &content) {
            Apply::Delete { uids, before, .. } => {
                assert!(uids.is_empty());
                assert_eq!(before, None);
            }
            other => panic!("{other:?}"),
        }
    }
}
