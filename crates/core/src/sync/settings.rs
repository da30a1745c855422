//! Settings the server keeps for the user and syncs to every device: pin and notification
//! level per conversation, tags and conversation-tag links. A change is made on the server
//! (it answers with the new snapshot, applied here at once); the user's other devices hear
//! `settings_changed`, fetch the snapshot and emit CONVERSATION, TAG or CONVERSATION_TAG.

use imsync_protocol as pb;
use pb::{request, response, tag_request};
use serde_json::{json, Value};

use super::convert;
use crate::args;
use crate::conversation_state::{tag_id, MAX_TAG_NAME_CHARS};
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::{notification_level, ConversationKey};
use crate::store::{conversations, settings};

/// The notification levels of the seed: -1, 0, 1, 2, 4, 5.
const LEVELS: [i64; 6] = [-1, 0, 1, 2, 4, 5];
const MAX_TAGS_PER_CONVERSATION: usize = pb::MAX_TAGS_PER_USER;

fn snapshot_from_wire(s: pb::SettingsSnapshot) -> settings::Snapshot {
    settings::Snapshot {
        version: s.version,
        conversations: s
            .conversations
            .into_iter()
            .map(|c| settings::ConversationSetting {
                key: convert::key_of(c.conversation.as_ref()),
                is_top: c.is_top,
                level: c.notification_level as i64,
                updated_time: c.updated_time,
            })
            .collect(),
        tags: s
            .tags
            .into_iter()
            .map(|t| settings::Tag {
                tag_id: t.tag_id,
                name: t.tag_name,
                created_time: t.created_time,
            })
            .collect(),
        links: s
            .tag_links
            .into_iter()
            .map(|l| {
                let k = convert::key_of(l.conversation.as_ref());
                settings::TagLink {
                    tag_id: l.tag_id,
                    key: (k.conversation_type, k.target_id, k.channel_id),
                    is_top: l.is_top,
                    added_time: l.added_time,
                }
            })
            .collect(),
    }
}

fn tag_from(v: &Value, name: &str) -> ImResult<pb::Tag> {
    let m = args::object(Some(v), name)?;
    Ok(pb::Tag {
        tag_id: tag_id(
            m.get("tagId").unwrap_or(&Value::Null),
            &format!("{name}.tagId"),
        )?,
        tag_name: args::bounded_string(
            m.get("tagName"),
            &format!("{name}.tagName"),
            MAX_TAG_NAME_CHARS,
        )?,
        created_time: 0,
    })
}

fn tag_conversations(tag: &Value, list: &Value) -> ImResult<pb::TagConversations> {
    Ok(pb::TagConversations {
        tag_id: tag_id(tag, "tagId")?,
        conversations: args::conversation_list(
            Some(list),
            "conversations",
            pb::MAX_CONVERSATIONS_PER_TAG,
            pb::codes::CONVER_OUT_LIMIT_ERROR,
        )?
        .iter()
        .map(convert::to_wire)
        .collect(),
    })
}

impl Engine {
    pub(crate) async fn settings_version(&self) -> ImResult<u64> {
        self.db()?.store.read(settings::version).await
    }

    /// Forgets the stored settings version, so the next snapshot applies whatever its
    /// version (the server's went backwards: its data was reset or restored).
    pub(crate) async fn forget_settings_version(&self) -> ImResult<()> {
        self.db()?
            .store
            .write(|tx| settings::forget_version(tx))
            .await
    }

    /// Stores a snapshot and reports what changed when another device made the change
    /// (`from_elsewhere`) — or when this device's own change skipped a version, i.e. the
    /// snapshot also carries a change made elsewhere in the meantime that this device has
    /// not reported yet.
    pub(crate) async fn apply_settings(
        &self,
        snap: pb::SettingsSnapshot,
        from_elsewhere: bool,
    ) -> ImResult<()> {
        let snap = snapshot_from_wire(snap);
        let show_empty_top = self.options().enable_sync_empty_top_conversation;
        let (changes, convs, emit) = self
            .db()?
            .store
            .write(move |tx| {
                let emit = from_elsewhere || snap.version > settings::version(tx)? + 1;
                let changes = settings::apply(tx, &snap, show_empty_top)?;
                let convs = conversations::by_ids(tx, &changes.conversations)?;
                Ok((changes, convs, emit))
            })
            .await?;
        if emit {
            if !convs.is_empty() {
                self.emit(
                    "CONVERSATION",
                    super::conversation_event::payload(
                        convs,
                        super::conversation_event::SETTINGS_ITEMS,
                        crate::message::now_ms(),
                    ),
                );
            }
            if changes.tags {
                self.emit("TAG", Value::Null);
            }
            if changes.links {
                self.emit("CONVERSATION_TAG", Value::Null);
            }
        }
        Ok(())
    }

    /// Makes a settings change on the server and applies the snapshot it answers with.
    async fn change_settings(&self, op: request::Op) -> ImResult<Value> {
        let r = self.call(op).await?;
        if let Some(response::Body::Settings(snap)) = r.body {
            self.apply_settings(snap, false).await?;
        }
        Ok(Value::Null)
    }

    async fn conversation_setting(
        &self,
        key: ConversationKey,
        is_top: Option<bool>,
        level: Option<i64>,
    ) -> ImResult<Value> {
        self.change_settings(request::Op::ConversationSettings(
            pb::ConversationSettingsRequest {
                conversation: Some(convert::to_wire(&key)),
                is_top,
                notification_level: level.map(|l| l as i32),
            },
        ))
        .await
    }

    /// `setConversationToTop(conversation, isTop = true, updateOperationTime?)`.
    pub async fn set_conversation_to_top(
        &self,
        conversation: Value,
        is_top: Value,
        update_operation_time: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let top = args::boolean(Some(&is_top), "isTop", Some(true))?;
        // The operation time always moves with a synced change; accepted for the signature.
        args::boolean(
            Some(&update_operation_time),
            "updateOperationTime",
            Some(true),
        )?;
        self.conversation_setting(key, Some(top), None).await
    }

    pub async fn set_conversation_notification_level(
        &self,
        conversation: Value,
        notification_level: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let level = args::required_integer(Some(&notification_level), "notificationLevel")?;
        if !LEVELS.contains(&level) {
            return Err(ImError::invalid(format!(
                "notificationLevel must be a NotificationLevel (-1, 0, 1, 2, 4 or 5), got {level}"
            )));
        }
        self.conversation_setting(key, None, Some(level)).await
    }

    /// The legacy view: 1 (OPEN, do not disturb) sets NOT_MESSAGE_NOTIFICATION, 2 (CLOSE)
    /// sets NOT_SET.
    pub async fn set_conversation_notification_status(
        &self,
        conversation: Value,
        notification_status: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let level = match args::required_integer(Some(&notification_status), "notificationStatus")? {
            1 => notification_level::NOT_MESSAGE_NOTIFICATION,
            2 => notification_level::NOT_SET,
            other => {
                return Err(ImError::invalid(format!(
                    "notificationStatus must be 1 (OPEN: do not disturb) or 2 (CLOSE: notify), got {other}"
                )))
            }
        };
        self.conversation_setting(key, None, Some(level)).await
    }

    async fn tag_op(&self, op: tag_request::Op) -> ImResult<Value> {
        self.change_settings(request::Op::Tag(pb::TagRequest { op: Some(op) }))
            .await
    }

    /// `addTag({ tagId, tagName })`: at most 20 tags (26004), id ≤ 10 and name ≤ 15
    /// characters.
    pub async fn add_tag(&self, tag: Value) -> ImResult<Value> {
        let tag = tag_from(&tag, "tag")?;
        self.tag_op(tag_request::Op::AddTag(tag)).await
    }

    pub async fn update_tag(&self, tag: Value) -> ImResult<Value> {
        let tag = tag_from(&tag, "tag")?;
        self.tag_op(tag_request::Op::UpdateTag(tag)).await
    }

    pub async fn remove_tag(&self, tag_id: Value) -> ImResult<Value> {
        let tag = self::tag_id(&tag_id, "tagId")?;
        self.tag_op(tag_request::Op::RemoveTag(tag)).await
    }

    /// At most 1000 conversations per call (34013); a tag keeps its newest 1000.
    pub async fn add_conversations_to_tag(
        &self,
        tag_id: Value,
        conversations: Value,
    ) -> ImResult<Value> {
        let tc = tag_conversations(&tag_id, &conversations)?;
        self.tag_op(tag_request::Op::AddConversations(tc)).await
    }

    pub async fn remove_conversations_from_tag(
        &self,
        tag_id: Value,
        conversations: Value,
    ) -> ImResult<Value> {
        let tc = tag_conversations(&tag_id, &conversations)?;
        self.tag_op(tag_request::Op::RemoveConversations(tc)).await
    }

    /// The same change as `removeConversationsFromTag`, under the seed's other name.
    pub async fn remove_tag_from_conversations(
        &self,
        tag_id: Value,
        conversations: Value,
    ) -> ImResult<Value> {
        self.remove_conversations_from_tag(tag_id, conversations)
            .await
    }

    pub async fn remove_tags_from_conversation(
        &self,
        conversation: Value,
        tag_ids: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let ids = args::string_array(Some(&tag_ids), "tagIds", MAX_TAGS_PER_CONVERSATION)?
            .filter(|ids| !ids.is_empty())
            .ok_or_else(|| {
                ImError::invalid(format!(
                    "tagIds is required (an array of 1 to {MAX_TAGS_PER_CONVERSATION} tag ids)"
                ))
            })?;
        for (i, id) in ids.iter().enumerate() {
            tag_id(&json!(id), &format!("tagIds[{i}]"))?;
        }
        self.tag_op(tag_request::Op::RemoveTagsFromConversation(
            pb::ConversationTags {
                conversation: Some(convert::to_wire(&key)),
                tag_ids: ids,
            },
        ))
        .await
    }

    pub async fn set_conversation_to_top_in_tag(
        &self,
        tag_id: Value,
        conversation: Value,
        is_top: Value,
    ) -> ImResult<Value> {
        let tag = self::tag_id(&tag_id, "tagId")?;
        let key = args::conversation(Some(&conversation), "conversation")?;
        let top = args::boolean(Some(&is_top), "isTop", None)?;
        self.tag_op(tag_request::Op::SetTopInTag(pb::TagTop {
            tag_id: tag,
            conversation: Some(convert::to_wire(&key)),
            is_top: top,
        }))
        .await
    }
}
