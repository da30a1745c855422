//! Input rules for client requests and admin calls. Every failure names the
//! argument and the rule (33003 unless the seed gives the rule its own code).

use std::collections::BTreeMap;

use imsync_protocol::prost::Message as _;
use imsync_protocol::{
    codes, Conversation, ConversationType, MentionedInfo, Message, SendMessageRequest,
    EXPANSION_MAX_KEYS_PER_UPDATE, EXPANSION_MAX_KEY_CHARS, EXPANSION_MAX_VALUE_CHARS,
    MAX_CONTENT_BYTES,
};

use crate::error::ApiError;

/// Largest stored message (encoded), so every inbox entry fits in one frame.
pub const MAX_STORED_MESSAGE_BYTES: usize = 512 * 1024;
/// Most user ids in a mention or directed list.
pub const MAX_ID_LIST: usize = 1000;

/// A user, group or device-independent id: 1..=64 characters from
/// `[A-Za-z0-9_=@.+:|-]` (the vendor's id alphabet, plus a few separators).
pub fn id(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_=@.+:|-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be 1..=64 characters of [A-Za-z0-9_=@.+:|-]"
        )))
    }
}

/// A channel id: empty (default channel) or 1..=64 id characters.
pub fn channel(value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        Ok(())
    } else {
        id("channelId", value)
    }
}

/// A conversation in a request: its type, target and channel.
/// A conversation whose messages the server keeps per user (PRIVATE, GROUP, SYSTEM), in
/// canonical form; any other type is 34201, `what` saying which operation refused it.
pub fn kept_conversation(c: Option<&Conversation>, what: &str) -> Result<Conversation, ApiError> {
    let (kind, target, channel) = conversation(c)?;
    if !matches!(
        kind,
        ConversationType::Private | ConversationType::Group | ConversationType::System
    ) {
        return Err(ApiError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            format!("{what} applies to PRIVATE, GROUP and SYSTEM conversations only"),
        ));
    }
    Ok(Conversation {
        r#type: kind as i32,
        target_id: target,
        channel_id: channel,
    })
}

pub fn conversation(
    c: Option<&Conversation>,
) -> Result<(ConversationType, String, String), ApiError> {
    let c = c.ok_or_else(|| ApiError::invalid("conversation is required"))?;
    let kind = ConversationType::try_from(c.r#type)
        .ok()
        .filter(|k| *k != ConversationType::Unspecified)
        .ok_or_else(|| ApiError::invalid("conversation.type must be a known ConversationType"))?;
    id("conversation.targetId", &c.target_id)?;
    channel(&c.channel_id)?;
    Ok((kind, c.target_id.clone(), c.channel_id.clone()))
}

/// A conversation a client may address with its own messages: PRIVATE or
/// GROUP (SYSTEM 20109, others 34201).
pub fn sendable_conversation(
    c: Option<&Conversation>,
) -> Result<(ConversationType, String, String), ApiError> {
    let (kind, target, channel) = conversation(c)?;
    match kind {
        ConversationType::Private | ConversationType::Group => Ok((kind, target, channel)),
        ConversationType::System => Err(ApiError::new(
            codes::SYS_CONVERSATION_NOT_SUPPORT_MESSAGE,
            "clients cannot send into a system conversation",
        )),
        _ => Err(ApiError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            "only PRIVATE and GROUP conversations are supported",
        )),
    }
}

/// Message type name: 1..=32 printable characters.
pub fn object_name(value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.chars().count() <= 32
        && value.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "objectName must be 1..=32 printable characters",
        ))
    }
}

/// Message content: a JSON document of at most 128 KB (30016).
pub fn content(value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::new(
            codes::RC_MSG_CONTENT_EXCEED_LIMIT,
            format!(
                "content is {} bytes; the limit is {MAX_CONTENT_BYTES}",
                value.len()
            ),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(value)
        .map_err(|e| ApiError::invalid(format!("content must be a JSON document: {e}")))?;
    Ok(())
}

/// Expansion key/values (34010 on any limit).
pub fn expansion(map: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let limit = |msg: String| ApiError::new(codes::EXPANSION_LIMIT_EXCEET, msg);
    if map.len() > EXPANSION_MAX_KEYS_PER_UPDATE {
        return Err(limit(format!(
            "at most {EXPANSION_MAX_KEYS_PER_UPDATE} expansion keys per request"
        )));
    }
    for (k, v) in map {
        expansion_key(k)?;
        if v.chars().count() > EXPANSION_MAX_VALUE_CHARS {
            return Err(limit(format!(
                "expansion value of {k} exceeds {EXPANSION_MAX_VALUE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

/// An expansion key: 1..=32 of `[A-Za-z0-9+=_-]`.
pub fn expansion_key(k: &str) -> Result<(), ApiError> {
    if imsync_protocol::is_valid_expansion_key(k) {
        Ok(())
    } else {
        Err(ApiError::new(
            codes::EXPANSION_LIMIT_EXCEET,
            format!("expansion key {k:?} must be 1..={EXPANSION_MAX_KEY_CHARS} of [A-Za-z0-9+=_-]"),
        ))
    }
}

fn id_list(field: &str, ids: &[String]) -> Result<(), ApiError> {
    if ids.len() > MAX_ID_LIST {
        return Err(ApiError::invalid(format!(
            "{field} holds at most {MAX_ID_LIST} ids"
        )));
    }
    ids.iter().try_for_each(|u| id(field, u))
}

/// A validated send: the message in the sender's view (uid and time not yet
/// assigned) and its routing facts.
#[derive(Debug, Clone)]
pub struct ValidSend {
    /// PRIVATE or GROUP.
    pub kind: ConversationType,
    /// Peer or group id.
    pub target: String,
    /// The message to store (sender's view).
    pub message: Message,
}

/// A push configuration is relayed as given, up to 128 KB encoded (30016 above), the
/// content limit.
pub fn push_config(p: Option<&imsync_protocol::PushConfig>) -> Result<(), ApiError> {
    match p {
        Some(p) if p.encoded_len() > MAX_CONTENT_BYTES => Err(ApiError::new(
            codes::RC_MSG_CONTENT_EXCEED_LIMIT,
            format!(
                "pushConfig is {} bytes; the limit is {MAX_CONTENT_BYTES}",
                p.encoded_len()
            ),
        )),
        _ => Ok(()),
    }
}

/// `text` as a JSON object of at most 128 KB (33003 naming `field` otherwise).
pub fn json_object(field: &str, text: &str) -> Result<serde_json::Value, ApiError> {
    if text.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::new(
            codes::RC_MSG_CONTENT_EXCEED_LIMIT,
            format!(
                "{field} is {} bytes; the limit is {MAX_CONTENT_BYTES}",
                text.len()
            ),
        ));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(ApiError::invalid(format!("{field} must be a JSON object"))),
    }
}

/// Validates a client send by `sender`.
pub fn send(sender: &str, req: &SendMessageRequest) -> Result<ValidSend, ApiError> {
    let (kind, target, channel) = sendable_conversation(req.conversation.as_ref())?;
    if req.client_msg_id.is_empty() || req.client_msg_id.chars().count() > 64 {
        return Err(ApiError::invalid("clientMsgId must be 1..=64 characters"));
    }
    object_name(&req.object_name)?;
    if imsync_protocol::object_names::SERVER_NOTICES.contains(&req.object_name.as_str()) {
        return Err(ApiError::invalid(format!(
            "objectName {} is written by the server only",
            req.object_name
        )));
    }
    content(&req.content)?;
    if let Some(MentionedInfo {
        r#type, user_ids, ..
    }) = &req.mentioned_info
    {
        if *r#type != 1 && *r#type != 2 {
            return Err(ApiError::invalid(
                "mentionedInfo.type must be 1 (all) or 2 (users)",
            ));
        }
        id_list("mentionedInfo.userIdList", user_ids)?;
    }
    if !req.directed_user_ids.is_empty() && kind != ConversationType::Group {
        return Err(ApiError::invalid(
            "directedUserIds is only allowed in GROUP conversations",
        ));
    }
    id_list("directedUserIds", &req.directed_user_ids)?;
    if !req.expansion.is_empty() && !req.can_include_expansion {
        return Err(ApiError::new(
            codes::MESSAGE_KV_NOT_SUPPORT,
            "expansion requires canIncludeExpansion",
        ));
    }
    expansion(&req.expansion)?;
    push_config(req.push_config.as_ref())?;
    let message = Message {
        message_uid: String::new(),
        sender_user_id: sender.to_owned(),
        conversation: Some(Conversation {
            r#type: kind as i32,
            target_id: target.clone(),
            channel_id: channel,
        }),
        sent_time: 0,
        object_name: req.object_name.clone(),
        content: req.content.clone(),
        direction: 0,
        is_persisted: req.is_persisted,
        is_counted: req.is_counted,
        is_status_message: req.is_status_message,
        disable_notification: req.disable_notification,
        is_mentioned: req.is_mentioned,
        mentioned_info: req.mentioned_info.clone(),
        directed_user_ids: req.directed_user_ids.clone(),
        push_config: req.push_config.clone(),
        can_include_expansion: req.can_include_expansion,
        expansion: req.expansion.clone(),
        client_msg_id: req.client_msg_id.clone(),
        ref_message_uid: String::new(),
        content_replaced: false,
    };
    // uid (19) + time (~10) + direction are added later: keep headroom.
    if message.encoded_len() + 64 > MAX_STORED_MESSAGE_BYTES {
        return Err(ApiError::new(
            codes::RC_MSG_CONTENT_EXCEED_LIMIT,
            format!("message exceeds {MAX_STORED_MESSAGE_BYTES} bytes in total"),
        ));
    }
    Ok(ValidSend {
        kind,
        target,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_limit_is_exactly_128k() {
        let inside = format!("\"{}\"", "a".repeat(MAX_CONTENT_BYTES - 2));
        assert_eq!(inside.len(), MAX_CONTENT_BYTES);
        assert!(content(&inside).is_ok());
        let outside = format!("\"{}\"", "a".repeat(MAX_CONTENT_BYTES - 1));
        assert_eq!(
            content(&outside).unwrap_err().code,
            codes::RC_MSG_CONTENT_EXCEED_LIMIT
        );
        assert_eq!(
            content("{not json").unwrap_err().code,
            codes::BIZ_ERROR_INVALID_PARAMETER
        );
    }

    #[test]
    fn ids() {
        assert!(id("userId", "alice_1@x.y").is_ok());
        assert!(id("userId", "").is_err());
        assert!(id("userId", "has space").is_err());
        assert!(id("userId", &"a".repeat(65)).is_err());
    }
}
