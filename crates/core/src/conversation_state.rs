//! The local half of the conversation-state API: unread counts, conversation lookups,
//! drafts and reads of the synced settings (pin, level, tags). Everything here answers
//! from the user's database, connected or not; changes to synced settings go through the
//! server (see `sync::settings`).

use serde_json::{json, Value};

use crate::args;
use crate::codes;
use crate::engine::{Engine, MAX_CONVERSATION_PAGE};
use crate::error::{storage_failure, ImError, ImResult};
use crate::message::MAX_CONTENT_BYTES;
use crate::model::conversation_type::{
    APP_PUBLIC_SERVICE, CUSTOMER_SERVICE, DISCUSSION, GROUP, PRIVATE, PUBLIC_SERVICE, SYSTEM,
};
use crate::store::conversations::{self, notification_status};
use crate::store::{settings, unread};

/// Types that keep unread counts: everything stored locally (chatroom and ultra group
/// messages are not).
pub(crate) const COUNTED_TYPES: [i64; 7] = [
    PRIVATE,
    DISCUSSION,
    GROUP,
    CUSTOMER_SERVICE,
    SYSTEM,
    APP_PUBLIC_SERVICE,
    PUBLIC_SERVICE,
];
/// `getUnreadConversationList`: private, group and system (seed 5.7.0), and the two
/// public-service types, which the vendor's type lists accept too.
const UNREAD_LIST_TYPES: [i64; 5] = [PRIVATE, GROUP, SYSTEM, APP_PUBLIC_SERVICE, PUBLIC_SERVICE];
pub const MAX_TAG_ID_CHARS: usize = 10;
pub const MAX_TAG_NAME_CHARS: usize = 15;
pub const TAG_NOT_EXIST: i32 = 33100;

pub fn tag_id(v: &Value, name: &str) -> ImResult<String> {
    args::bounded_string(Some(v), name, MAX_TAG_ID_CHARS)
}

fn no_such_tag(tag: &str) -> ImError {
    ImError::new(TAG_NOT_EXIST, format!("tag {tag:?} does not exist"))
}

impl Engine {
    /// `getConversation`: the conversation, also when it is not in the list (removed, or
    /// known only from a setting); null when nothing is stored for it.
    pub async fn get_conversation(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| match conversations::find_id(c, &key)? {
                Some(id) => Ok(conversations::by_ids(c, &[id])?
                    .pop()
                    .unwrap_or(Value::Null)),
                None => Ok(Value::Null),
            })
            .await
            .map_err(storage_failure(codes::CONVERSATION_GET_ERROR))
    }

    /// `removeConversation`: takes the conversation out of the list, its unread count and
    /// draft with it. Its messages stay (the seed keeps clearing history a separate call);
    /// a new message brings it back.
    pub async fn remove_conversation(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.change_conversation(key, |tx, id| {
            unread::clear(tx, id)?;
            tx.prepare_cached("UPDATE conversations SET hidden = 1, draft = '' WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
        .await
        .map_err(storage_failure(codes::CONVERSATION_REMOVE_ERROR))
    }

    /// `getTopConversationList(conversationTypes?, channelId?)`: pinned conversations,
    /// newest first.
    pub async fn get_top_conversation_list(
        &self,
        conversation_types: Value,
        channel_id: Value,
    ) -> ImResult<Value> {
        let types = args::conversation_types(
            Some(&conversation_types),
            "conversationTypes",
            &COUNTED_TYPES,
        )?;
        let channel = args::channel(Some(&channel_id), "channelId")?;
        self.conversation_query(format!(
            "WHERE c.is_top = 1 AND c.hidden = 0 AND c.type IN ({}) {} ORDER BY c.sort_time DESC, c.id DESC",
            join(&types),
            if channel.is_some() { "AND c.channel = ?1" } else { "" }
        ), channel)
        .await
    }

    /// `getBlockedConversationList`: conversations with a muting notification level
    /// (level > 0, as the seed defines it since 5.7.2).
    pub async fn get_blocked_conversation_list(&self) -> ImResult<Value> {
        self.conversation_query(
            "WHERE c.level > 0 AND c.hidden = 0 ORDER BY c.sort_time DESC, c.id DESC".into(),
            None,
        )
        .await
    }

    async fn conversation_query(&self, tail: String, param: Option<String>) -> ImResult<Value> {
        self.db()?
            .store
            .read(move |c| {
                let sql = conversations::select_sql(&tail);
                let list = match param {
                    Some(p) => conversations::query(c, &sql, [p])?,
                    None => conversations::query(c, &sql, [])?,
                };
                Ok(Value::Array(list))
            })
            .await
    }

    pub async fn get_unread_conversation_list(&self, conversation_types: Value) -> ImResult<Value> {
        let types = args::conversation_types(
            Some(&conversation_types),
            "conversationTypes",
            &UNREAD_LIST_TYPES,
        )?;
        self.db()?
            .store
            .read(move |c| Ok(Value::Array(unread::conversations_with_unread(c, &types)?)))
            .await
    }

    /// `getTotalUnreadCount(includeMuted = false, conversationTypes?)`.
    pub async fn get_total_unread_count(
        &self,
        include_muted: Value,
        conversation_types: Value,
    ) -> ImResult<Value> {
        let muted = args::boolean(Some(&include_muted), "includeMuted", Some(false))?;
        let types = args::conversation_types(
            Some(&conversation_types),
            "conversationTypes",
            &COUNTED_TYPES,
        )?;
        self.db()?
            .store
            .read(move |c| Ok(json!(unread::total(c, muted, &types)?)))
            .await
    }

    pub async fn get_unread_count(&self, conversation: Value) -> ImResult<Value> {
        self.conversation_counts(conversation)
            .await
            .map(|(u, _)| json!(u))
    }

    pub async fn get_unread_mentioned_count(&self, conversation: Value) -> ImResult<Value> {
        self.conversation_counts(conversation)
            .await
            .map(|(_, m)| json!(m))
    }

    async fn conversation_counts(&self, conversation: Value) -> ImResult<(i64, i64)> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| unread::of(c, conversations::find_id(c, &key)?))
            .await
    }

    pub async fn get_all_unread_mentioned_count(&self) -> ImResult<Value> {
        self.db()?
            .store
            .read(|c| Ok(json!(unread::all_mentions(c)?)))
            .await
    }

    /// Local only, as in the seed; `sendSyncReadStatusMessage` tells the other devices.
    pub async fn clear_messages_unread_status(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.change_conversation(key, |tx, id| unread::clear(tx, id))
            .await
    }

    pub async fn clear_all_messages_unread_status(&self) -> ImResult<Value> {
        self.db()?
            .store
            .write(|tx| unread::clear_all(tx).map(|_| Value::Null))
            .await
    }

    /// `getFirstUnreadMessageInfo`: `{ sentTime, messageUId, messageId }` of the oldest
    /// unread message, or null.
    pub async fn get_first_unread_message_info(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| match conversations::find_id(c, &key)? {
                Some(id) => unread::first(c, id),
                None => Ok(Value::Null),
            })
            .await
    }

    // ---- drafts ------------------------------------------------------------------------

    /// `saveTextMessageDraft`: kept on the conversation (created, and shown, if needed),
    /// which reports it as `draft`. Local to this device.
    pub async fn save_text_message_draft(
        &self,
        conversation: Value,
        draft: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let draft = args::string(Some(&draft), "draft")?
            .ok_or_else(|| ImError::invalid("draft is required (a string)"))?
            .to_string();
        if draft.len() > MAX_CONTENT_BYTES {
            return Err(ImError::invalid(format!(
                "draft is {} bytes; the limit is {MAX_CONTENT_BYTES} (128 KB)",
                draft.len()
            )));
        }
        self.set_draft(key, draft)
            .await
            .map_err(storage_failure(codes::DRAFT_SAVE_ERROR))
    }

    pub async fn clear_text_message_draft(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.set_draft(key, String::new())
            .await
            .map_err(storage_failure(codes::DRAFT_REMOVE_ERROR))
    }

    async fn set_draft(
        &self,
        key: crate::model::ConversationKey,
        draft: String,
    ) -> ImResult<Value> {
        self.db()?
            .store
            .write(move |tx| {
                let id = match (conversations::find_id(tx, &key)?, draft.is_empty()) {
                    (Some(id), _) => id,
                    (None, true) => return Ok(Value::Null),
                    (None, false) => conversations::get_or_create(tx, &key)?.id,
                };
                tx.prepare_cached(
                    "UPDATE conversations SET draft = ?2, operation_time = ?3, \
                     hidden = CASE WHEN ?2 <> '' THEN 0 ELSE hidden END WHERE id = ?1",
                )?
                .execute(rusqlite::params![
                    id,
                    draft,
                    crate::message::now_ms()
                ])?;
                Ok(Value::Null)
            })
            .await
    }

    pub async fn get_text_message_draft(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| {
                let draft: Option<String> = c
                    .prepare_cached(
                        "SELECT draft FROM conversations WHERE type = ?1 AND target = ?2 AND channel = ?3",
                    )?
                    .query_row(
                        rusqlite::params![key.conversation_type, key.target_id, key.channel_id],
                        |r| r.get(0),
                    )
                    .ok();
                Ok(json!(draft.unwrap_or_default()))
            })
            .await
            .map_err(storage_failure(codes::DRAFT_GET_ERROR))
    }

    // ---- synced settings, read locally --------------------------------------------------

    pub async fn get_conversation_notification_level(
        &self,
        conversation: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| Ok(json!(settings::of_conversation(c, &key)?.1)))
            .await
    }

    /// The legacy two-value view of the level: 1 = do not disturb, 2 = notify.
    pub async fn get_conversation_notification_status(
        &self,
        conversation: Value,
    ) -> ImResult<Value> {
        let level = self
            .get_conversation_notification_level(conversation)
            .await?;
        Ok(json!(notification_status(level.as_i64().unwrap_or(0))))
    }

    pub async fn get_tags(&self) -> ImResult<Value> {
        self.db()?
            .store
            .read(|c| Ok(Value::Array(settings::tags(c)?)))
            .await
    }

    pub async fn get_tags_from_conversation(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| Ok(Value::Array(settings::tags_of(c, &key)?)))
            .await
    }

    /// `getConversationsFromTagByPage(tagId, count, startTime)`: the tag's conversations
    /// stored here, newest first, sorted before `startTime` (0 = now); each with
    /// `isTopInTag`.
    pub async fn get_conversations_from_tag_by_page(
        &self,
        tag_id: Value,
        count: Value,
        start_time: Value,
    ) -> ImResult<Value> {
        let tag = self::tag_id(&tag_id, "tagId")?;
        let count = args::ranged(Some(&count), "count", 1, MAX_CONVERSATION_PAGE, None)?;
        let start = args::timestamp(Some(&start_time), "startTime", Some(0))?;
        let before = if start == 0 { i64::MAX } else { start };
        self.db()?
            .store
            .read(move |c| {
                if !settings::tag_exists(c, &tag)? {
                    return Err(no_such_tag(&tag));
                }
                Ok(Value::Array(settings::conversations_in_tag(
                    c, &tag, before, count,
                )?))
            })
            .await
    }

    pub async fn get_unread_count_by_tag(
        &self,
        tag_id: Value,
        contain_muted: Value,
    ) -> ImResult<Value> {
        let tag = self::tag_id(&tag_id, "tagId")?;
        let muted = args::boolean(Some(&contain_muted), "containMuted", Some(false))?;
        self.db()?
            .store
            .read(move |c| {
                if !settings::tag_exists(c, &tag)? {
                    return Err(no_such_tag(&tag));
                }
                Ok(json!(settings::unread_in_tag(c, &tag, muted)?))
            })
            .await
    }
}

fn join(types: &[i64]) -> String {
    types
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
