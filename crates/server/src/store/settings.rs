//! Per-user settings kept on the server so every device of the user sees
//! them: blacklist, conversation pin / notification level, tags and
//! conversation-tag links. Conversation and tag changes bump a per-user
//! version that devices compare to decide whether to re-read the snapshot.
//! Written against [`Db`], so the same code runs on SQLite and PostgreSQL.

use imsync_protocol::{
    codes, tag_request, Conversation, ConversationSetting, ConversationType, SettingsSnapshot, Tag,
    TagLink, MAX_BLACKLIST, MAX_CONVERSATIONS_PER_TAG, MAX_TAGS_PER_USER,
};

use super::sql::Db;
use crate::args;
use crate::error::ApiError;
use crate::validate;

/// Notification levels the vendor defines.
const LEVELS: &[i32] = &[-1, 0, 1, 2, 4, 5];

/// Blacklist lookup on every private send.
const SQL_UNTAG: &str = "DELETE FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2 AND conv_type = ?3 AND target = ?4 AND channel = ?5";

pub(crate) const SQL_IS_BLOCKED: &str =
    "SELECT 1 FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2";

/// Whether `owner` has blacklisted `other`.
pub fn is_blocked(db: &dyn Db, owner: &str, other: &str) -> Result<bool, ApiError> {
    db.exists(SQL_IS_BLOCKED, args![owner, other])
}

/// The users `owner` has blacklisted, sorted.
pub fn blacklist(db: &dyn Db, owner: &str) -> Result<Vec<String>, ApiError> {
    db.all(
        "SELECT blocked_id FROM blacklist WHERE user_id = ?1 ORDER BY blocked_id",
        args![owner],
        |r| r.get(0),
    )
}

/// Adds `other` to `owner`'s blacklist (idempotent).
pub fn blacklist_add(db: &dyn Db, owner: &str, other: &str, now: i64) -> Result<(), ApiError> {
    validate::id("userId", other)?;
    if owner == other {
        return Err(ApiError::new(
            codes::BLACK_ADD_ERROR,
            "cannot blacklist yourself",
        ));
    }
    if is_blocked(db, owner, other)? {
        return Ok(());
    }
    let count: i64 = db.one(
        "SELECT COUNT(*) FROM blacklist WHERE user_id = ?1",
        args![owner],
        |r| r.get(0),
    )?;
    if count as usize >= MAX_BLACKLIST {
        return Err(ApiError::new(
            codes::BLACK_ADD_ERROR,
            format!("a blacklist holds at most {MAX_BLACKLIST} users"),
        ));
    }
    db.execute(
        "INSERT INTO blacklist (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)",
        args![owner, other, now],
    )?;
    Ok(())
}

/// Removes `other` from `owner`'s blacklist (idempotent).
pub fn blacklist_remove(db: &dyn Db, owner: &str, other: &str) -> Result<(), ApiError> {
    validate::id("userId", other)?;
    db.execute(
        "DELETE FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2",
        args![owner, other],
    )?;
    Ok(())
}

/// The current settings version of `owner` (0 if never changed).
pub fn version(db: &dyn Db, owner: &str) -> Result<u64, ApiError> {
    Ok(db
        .optional(
            "SELECT version FROM settings_versions WHERE user_id = ?1",
            args![owner],
            |r| r.get::<i64>(0),
        )?
        .unwrap_or(0) as u64)
}

/// Increments and returns the settings version of `owner`.
pub fn bump_version(db: &dyn Db, owner: &str) -> Result<u64, ApiError> {
    let v: i64 = db.one(
        "INSERT INTO settings_versions (user_id, version) VALUES (?1, 1)
         ON CONFLICT(user_id) DO UPDATE SET version = settings_versions.version + 1 RETURNING version",
        args![owner],
        |r| r.get(0),
    )?;
    Ok(v as u64)
}

/// A conversation valid as a settings key: PRIVATE, GROUP or SYSTEM.
fn settings_conversation(c: Option<&Conversation>) -> Result<(i32, String, String), ApiError> {
    let (kind, target, channel) = validate::conversation(c)?;
    match kind {
        ConversationType::Private | ConversationType::Group | ConversationType::System => {
            Ok((kind as i32, target, channel))
        }
        _ => Err(ApiError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            "settings apply to PRIVATE, GROUP and SYSTEM conversations",
        )),
    }
}

/// Applies a pin and/or notification-level change.
pub fn set_conversation(
    db: &dyn Db,
    owner: &str,
    conversation: Option<&Conversation>,
    is_top: Option<bool>,
    level: Option<i32>,
    now: i64,
) -> Result<(), ApiError> {
    let (kind, target, channel) = settings_conversation(conversation)?;
    if is_top.is_none() && level.is_none() {
        return Err(ApiError::invalid("set isTop and/or notificationLevel"));
    }
    if let Some(l) = level {
        if !LEVELS.contains(&l) {
            return Err(ApiError::invalid(
                "notificationLevel must be one of -1, 0, 1, 2, 4, 5",
            ));
        }
    }
    db.execute(
        "INSERT INTO conversation_settings (user_id, conv_type, target, channel, is_top, level, updated_at)
         VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 0), COALESCE(?6, 0), ?7)
         ON CONFLICT(user_id, conv_type, target, channel) DO UPDATE SET
           is_top = COALESCE(?5, conversation_settings.is_top),
           level = COALESCE(?6, conversation_settings.level), updated_at = ?7",
        args![owner, kind, target, channel, is_top, level, now],
    )?;
    Ok(())
}

fn tag_exists(db: &dyn Db, owner: &str, tag_id: &str) -> Result<bool, ApiError> {
    db.exists(
        "SELECT 1 FROM tags WHERE user_id = ?1 AND tag_id = ?2",
        args![owner, tag_id],
    )
}

fn require_tag(db: &dyn Db, owner: &str, tag_id: &str) -> Result<(), ApiError> {
    if tag_exists(db, owner, tag_id)? {
        Ok(())
    } else {
        Err(ApiError::new(
            codes::TAG_NOT_EXIST,
            format!("tag {tag_id:?} does not exist"),
        ))
    }
}

fn check_tag(tag: &Tag) -> Result<(), ApiError> {
    let id_len = tag.tag_id.chars().count();
    if id_len == 0 || id_len > 10 {
        return Err(ApiError::invalid("tagId must be 1..=10 characters"));
    }
    let name_len = tag.tag_name.chars().count();
    if name_len == 0 || name_len > 15 {
        return Err(ApiError::invalid("tagName must be 1..=15 characters"));
    }
    Ok(())
}

fn conversation_batch(list: &[Conversation]) -> Result<Vec<(i32, String, String)>, ApiError> {
    if list.is_empty() {
        return Err(ApiError::invalid("conversations must not be empty"));
    }
    if list.len() > MAX_CONVERSATIONS_PER_TAG {
        return Err(ApiError::new(
            codes::CONVER_OUT_LIMIT_ERROR,
            format!("at most {MAX_CONVERSATIONS_PER_TAG} conversations per operation"),
        ));
    }
    list.iter()
        .map(|c| settings_conversation(Some(c)))
        .collect()
}

/// Applies one tag operation; returns the change kind for the push.
pub fn apply_tag(
    db: &dyn Db,
    owner: &str,
    op: &tag_request::Op,
    now: i64,
) -> Result<&'static str, ApiError> {
    match op {
        tag_request::Op::AddTag(tag) => {
            check_tag(tag)?;
            if tag_exists(db, owner, &tag.tag_id)? {
                return Err(ApiError::new(
                    codes::TAG_EXISTS,
                    format!("tag {:?} exists", tag.tag_id),
                ));
            }
            let count: i64 = db.one(
                "SELECT COUNT(*) FROM tags WHERE user_id = ?1",
                args![owner],
                |r| r.get(0),
            )?;
            if count as usize >= MAX_TAGS_PER_USER {
                return Err(ApiError::new(
                    codes::CONVERSATION_TAG_OVERSIZE,
                    format!("at most {MAX_TAGS_PER_USER} tags"),
                ));
            }
            db.execute(
                "INSERT INTO tags (user_id, tag_id, tag_name, created_at) VALUES (?1, ?2, ?3, ?4)",
                args![owner, tag.tag_id, tag.tag_name, now],
            )?;
            Ok("tag")
        }
        tag_request::Op::UpdateTag(tag) => {
            check_tag(tag)?;
            require_tag(db, owner, &tag.tag_id)?;
            db.execute(
                "UPDATE tags SET tag_name = ?3 WHERE user_id = ?1 AND tag_id = ?2",
                args![owner, tag.tag_id, tag.tag_name],
            )?;
            Ok("tag")
        }
        tag_request::Op::RemoveTag(tag_id) => {
            require_tag(db, owner, tag_id)?;
            db.execute(
                "DELETE FROM tags WHERE user_id = ?1 AND tag_id = ?2",
                args![owner, tag_id],
            )?;
            db.execute(
                "DELETE FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2",
                args![owner, tag_id],
            )?;
            Ok("tag")
        }
        tag_request::Op::AddConversations(tc) => {
            require_tag(db, owner, &tc.tag_id)?;
            let batch = conversation_batch(&tc.conversations)?;
            for (kind, target, channel) in &batch {
                db.execute(
                    "INSERT OR IGNORE INTO conversation_tags (user_id, tag_id, conv_type, target, channel, is_top, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                    args![owner, tc.tag_id, kind, target, channel, now],
                )?;
            }
            // A tag keeps its newest 1000 conversations: the earliest-tagged
            // (lowest rowid; re-adding keeps the original row) go.
            db.execute(
                "DELETE FROM conversation_tags WHERE rowid IN (
                   SELECT rowid FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2
                   ORDER BY rowid DESC LIMIT -1 OFFSET ?3)",
                args![owner, tc.tag_id, MAX_CONVERSATIONS_PER_TAG as i64],
            )?;
            Ok("conversation_tag")
        }
        tag_request::Op::RemoveConversations(tc) => {
            require_tag(db, owner, &tc.tag_id)?;
            let batch = conversation_batch(&tc.conversations)?;
            for (kind, target, channel) in &batch {
                db.execute(SQL_UNTAG, args![owner, tc.tag_id, kind, target, channel])?;
            }
            Ok("conversation_tag")
        }
        tag_request::Op::RemoveTagsFromConversation(ct) => {
            let (kind, target, channel) = settings_conversation(ct.conversation.as_ref())?;
            if ct.tag_ids.is_empty() || ct.tag_ids.len() > MAX_TAGS_PER_USER {
                return Err(ApiError::invalid("tagIds must hold 1..=20 tag ids"));
            }
            for tag_id in &ct.tag_ids {
                db.execute(SQL_UNTAG, args![owner, tag_id, kind, target, channel])?;
            }
            Ok("conversation_tag")
        }
        tag_request::Op::SetTopInTag(top) => {
            require_tag(db, owner, &top.tag_id)?;
            let (kind, target, channel) = settings_conversation(top.conversation.as_ref())?;
            let changed = db.execute(
                "UPDATE conversation_tags SET is_top = ?6 WHERE user_id = ?1 AND tag_id = ?2 AND conv_type = ?3 AND target = ?4 AND channel = ?5",
                args![owner, top.tag_id, kind, target, channel, top.is_top],
            )?;
            if changed == 0 {
                return Err(ApiError::new(
                    codes::NO_TAG_IN_CONVER,
                    "the conversation is not in that tag",
                ));
            }
            Ok("conversation_tag")
        }
    }
}

/// Everything `owner` has configured.
pub fn snapshot(db: &dyn Db, owner: &str) -> Result<SettingsSnapshot, ApiError> {
    let version = version(db, owner)?;
    let conversations = db.all(
        "SELECT conv_type, target, channel, is_top, level, updated_at FROM conversation_settings
         WHERE user_id = ?1 ORDER BY conv_type, target, channel",
        args![owner],
        |r| {
            Ok(ConversationSetting {
                conversation: Some(Conversation {
                    r#type: r.get(0)?,
                    target_id: r.get(1)?,
                    channel_id: r.get(2)?,
                }),
                is_top: r.get(3)?,
                notification_level: r.get(4)?,
                updated_time: r.get(5)?,
            })
        },
    )?;
    let tags = db.all(
        "SELECT tag_id, tag_name, created_at FROM tags WHERE user_id = ?1 ORDER BY created_at, tag_id",
        args![owner],
        |r| {
            Ok(Tag {
                tag_id: r.get(0)?,
                tag_name: r.get(1)?,
                created_time: r.get(2)?,
            })
        },
    )?;
    let tag_links = db.all(
        "SELECT tag_id, conv_type, target, channel, is_top, added_at FROM conversation_tags
         WHERE user_id = ?1 ORDER BY tag_id, rowid",
        args![owner],
        |r| {
            Ok(TagLink {
                tag_id: r.get(0)?,
                conversation: Some(Conversation {
                    r#type: r.get(1)?,
                    target_id: r.get(2)?,
                    channel_id: r.get(3)?,
                }),
                is_top: r.get(4)?,
                added_time: r.get(5)?,
            })
        },
    )?;
    Ok(SettingsSnapshot {
        version,
        conversations,
        tags,
        tag_links,
    })
}
