//! Read state between users and devices: private read receipts, group receipt requests
//! and responses, read-status sync to the own devices, and typing status.

use std::collections::HashMap;
use std::time::Instant;

use imsync_protocol as pb;
use pb::request;
use serde_json::{json, Value};

use super::convert;
use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::conversation_type::{GROUP, PRIVATE};
use crate::model::ConversationKey;
use crate::store::{conversations, inbox, notices};

/// Senders named in one `sendReadReceiptResponseV2`, and messages per sender (the server's
/// limits).
const MAX_RESPONSE_IDS: usize = 1000;

/// When each conversation last sent a typing status (`sendTypingStatusMessage` sends at
/// most one per conversation per `typingInterval`).
#[derive(Default)]
pub(crate) struct TypingThrottle(HashMap<ConversationKey, Instant>);

impl Engine {
    /// `sendReadReceiptMessage(targetId, messageUId, timestamp)`: tells the peer of a private
    /// conversation that its messages up to `timestamp` were read (READ_RECEIPT_RECEIVED
    /// there; its messages become READ). It does not change unread counts here.
    pub async fn send_read_receipt_message(
        &self,
        target_id: Value,
        message_uid: Value,
        timestamp: Value,
    ) -> ImResult<Value> {
        let target = args::id(Some(&target_id), "targetId")?;
        let uid = args::id(Some(&message_uid), "messageUId")?;
        let time = args::timestamp(Some(&timestamp), "timestamp", None)?;
        self.call(request::Op::ReadReceipt(pb::ReadReceiptRequest {
            target_id: target,
            message_uid: uid,
            last_message_send_time: time,
            channel_id: String::new(),
        }))
        .await?;
        Ok(Value::Null)
    }

    /// `sendReadReceiptRequest(targetId, messageUId, channelId?)`: asks the group's members
    /// for receipts of an own message; the message's `readReceiptInfo` starts counting.
    pub async fn send_read_receipt_request(
        &self,
        target_id: Value,
        message_uid: Value,
        channel_id: Value,
    ) -> ImResult<Value> {
        let target = args::id(Some(&target_id), "targetId")?;
        let uid = args::id(Some(&message_uid), "messageUId")?;
        let channel = args::channel(Some(&channel_id), "channelId")?.unwrap_or_default();
        self.call(request::Op::ReceiptRequest(pb::ReceiptRequestRequest {
            target_id: target,
            message_uid: uid.clone(),
            channel_id: channel,
        }))
        .await?;
        self.db()?
            .store
            .write(move |tx| notices::receipt_request_sent(tx, &uid).map(|_| Value::Null))
            .await
    }

    /// `sendReadReceiptResponseV2(targetId, messageList, channelId?)`: answers receipt
    /// requests, `messageList` = `{ [senderUserId]: messageUId[] }` (required on Electron);
    /// those messages' `readReceiptInfo.hasRespond` becomes true.
    pub async fn send_read_receipt_response_v2(
        &self,
        target_id: Value,
        message_list: Value,
        channel_id: Value,
    ) -> ImResult<Value> {
        let target = args::id(Some(&target_id), "targetId")?;
        // An illegal messageList is the seed's 34206 MSG_LIMIT_ERROR, not 33003.
        let (wire, all) = receipt_list(&message_list).map_err(|e| {
            e.recode(
                crate::codes::INVALID_PARAMETER,
                crate::codes::MSG_LIMIT_ERROR,
            )
        })?;
        let channel = args::channel(Some(&channel_id), "channelId")?.unwrap_or_default();
        self.call(request::Op::ReceiptResponse(pb::ReceiptResponseRequest {
            target_id: target,
            message_list: wire,
            channel_id: channel,
        }))
        .await?;
        self.db()?
            .store
            .write(move |tx| notices::receipt_responded(tx, &all).map(|_| Value::Null))
            .await
    }

    /// `sendSyncReadStatusMessage(conversation, lastMessageSendTime)`: the conversation is
    /// read up to that time here and, through RC:SRSMsg, on the user's other devices.
    pub async fn send_sync_read_status_message(
        &self,
        conversation: Value,
        last_message_send_time: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let time = args::timestamp(Some(&last_message_send_time), "lastMessageSendTime", None)?;
        self.call(request::Op::SyncReadStatus(pb::SyncReadStatusRequest {
            conversation: Some(convert::to_wire(&key)),
            last_message_send_time: time,
        }))
        .await?;
        self.db()?
            .store
            .write(move |tx| {
                if let Some(id) = conversations::find_id(tx, &key)? {
                    inbox::mark_read_up_to(tx, id, time)?;
                }
                Ok(Value::Null)
            })
            .await
    }

    /// `sendTypingStatusMessage(conversation, typingContentType)`: an RC:TypSts status
    /// message — never stored, only online devices get it (TYPING_STATUS). At most one per
    /// conversation per 6 s: a call inside that window sends nothing and resolves without
    /// `data`; one that sends resolves the message.
    pub async fn send_typing_status_message(
        &self,
        conversation: Value,
        typing_content_type: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        if key.conversation_type != PRIVATE && key.conversation_type != GROUP {
            return Err(ImError::new(
                crate::codes::CONVERSATION_TYPE_NOT_SUPPORT,
                "typing status is sent in PRIVATE (1) and GROUP (3) conversations only",
            ));
        }
        let kind = args::id(Some(&typing_content_type), "typingContentType")?;
        {
            let now = Instant::now();
            let mut throttle = self.typing.lock().unwrap();
            if let Some(last) = throttle.0.get(&key) {
                if now.duration_since(*last) < self.options().typing_interval {
                    return Ok(Value::Null);
                }
            }
            throttle.0.insert(key.clone(), now);
        }
        let message = json!({
            "messageType": convert::TYPING_STATUS,
            "content": { "typingContentType": kind },
        });
        let sent = self
            .send_message(
                inbox::conversation_json(&key),
                message,
                json!({ "isStatusMessage": true }),
            )
            .await;
        if sent.is_err() {
            // Nothing went out: the next keystroke may try again.
            self.typing.lock().unwrap().0.remove(&key);
        }
        sent
    }
}

/// `sendReadReceiptResponseV2`'s `{ [senderUserId]: messageUId[] }`, as the wire map and
/// the flat list of messageUIds it answers.
fn receipt_list(
    message_list: &Value,
) -> ImResult<(
    std::collections::BTreeMap<String, pb::MessageUidList>,
    Vec<String>,
)> {
    let list = args::object(Some(message_list), "messageList")?;
    if list.is_empty() || list.len() > MAX_RESPONSE_IDS {
        return Err(ImError::invalid(format!(
            "messageList must name 1 to {MAX_RESPONSE_IDS} senders, got {}",
            list.len()
        )));
    }
    let mut wire = std::collections::BTreeMap::new();
    let mut all = Vec::new();
    for (sender, uids) in list {
        let name = format!("messageList.{sender}");
        args::id(Some(&json!(sender)), "messageList key")?;
        let uids = args::string_array(Some(uids), &name, MAX_RESPONSE_IDS)?
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ImError::invalid(format!(
                    "{name} must be an array of 1 to {MAX_RESPONSE_IDS} messageUIds"
                ))
            })?;
        all.extend(uids.iter().cloned());
        wire.insert(sender.clone(), pb::MessageUidList { message_uids: uids });
    }
    Ok((wire, all))
}
