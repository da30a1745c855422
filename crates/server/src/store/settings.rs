//! Per-user settings kept on the server so every device of the user sees
//! them: blacklist, conversation pin / notification level, tags and
//! conversation-tag links. Conversation and tag changes bump a per-user
//! version that devices compare to decide whether to re-read the snapshot.

use imsync_protocol::{
    codes, tag_request, Conversation, ConversationSetting, ConversationType, SettingsSnapshot, Tag,
    TagLink, MAX_BLACKLIST, MAX_CONVERSATIONS_PER_TAG, MAX_TAGS_PER_USER,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ApiError;
use crate::validate;

/// Notification levels the vendor defines.
const LEVELS: &[i32] = &[-1, 0, 1, 2, 4, 5];

/// Blacklist lookup on every private send.
pub(crate) const SQL_IS_BLOCKED: &str =
    "SELECT 1 FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2";

/// Whether `owner` has blacklisted `other`.
pub fn is_blocked(conn: &Connection, owner: &str, other: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached(SQL_IS_BLOCKED)?
        .query_row(params![owner, other], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The users `owner` has blacklisted, sorted.
pub fn blacklist(conn: &Connection, owner: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT blocked_id FROM blacklist WHERE user_id = ?1 ORDER BY blocked_id",
    )?;
    let rows = stmt.query_map([owner], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds `other` to `owner`'s blacklist (idempotent).
pub fn blacklist_add(
    conn: &Connection,
    owner: &str,
    other: &str,
    now: i64,
) -> Result<(), ApiError> {
    validate::id("userId", other)?;
    if owner == other {
        return Err(ApiError::new(
            codes::BLACK_ADD_ERROR,
            "cannot blacklist yourself",
        ));
    }
    if is_blocked(conn, owner, other)? {
        return Ok(());
    }
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM blacklist WHERE user_id = ?1",
        [owner],
        |r| r.get(0),
    )?;
    if count as usize >= MAX_BLACKLIST {
        return Err(ApiError::new(
            codes::BLACK_ADD_ERROR,
            format!("a blacklist holds at most {MAX_BLACKLIST} users"),
        ));
    }
    conn.execute(
        "INSERT INTO blacklist (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)",
        params![owner, other, now],
    )?;
    Ok(())
}

/// Removes `other` from `owner`'s blacklist (idempotent).
pub fn blacklist_remove(conn: &Connection, owner: &str, other: &str) -> Result<(), ApiError> {
    validate::id("userId", other)?;
    conn.execute(
        "DELETE FROM blacklist WHERE user_id = ?1 AND blocked_id = ?2",
        params![owner, other],
    )?;
    Ok(())
}

/// The current settings version of `owner` (0 if never changed).
pub fn version(conn: &Connection, owner: &str) -> Result<u64, ApiError> {
    Ok(conn
        .prepare_cached("SELECT version FROM settings_versions WHERE user_id = ?1")?
        .query_row([owner], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64)
}

/// Increments and returns the settings version of `owner`.
pub fn bump_version(conn: &Connection, owner: &str) -> Result<u64, ApiError> {
    let v: i64 = conn.query_row(
        "INSERT INTO settings_versions (user_id, version) VALUES (?1, 1)
         ON CONFLICT(user_id) DO UPDATE SET version = version + 1 RETURNING version",
        [owner],
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
    conn: &Connection,
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
    conn.execute(
        "INSERT INTO conversation_settings (user_id, conv_type, target, channel, is_top, level, updated_at)
         VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 0), COALESCE(?6, 0), ?7)
         ON CONFLICT(user_id, conv_type, target, channel) DO UPDATE SET
           is_top = COALESCE(?5, is_top), level = COALESCE(?6, level), updated_at = ?7",
        params![owner, kind, target, channel, is_top, level, now],
    )?;
    Ok(())
}

fn tag_exists(conn: &Connection, owner: &str, tag_id: &str) -> Result<bool, ApiError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM tags WHERE user_id = ?1 AND tag_id = ?2",
            params![owner, tag_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn require_tag(conn: &Connection, owner: &str, tag_id: &str) -> Result<(), ApiError> {
    if tag_exists(conn, owner, tag_id)? {
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
    conn: &Connection,
    owner: &str,
    op: &tag_request::Op,
    now: i64,
) -> Result<&'static str, ApiError> {
    match op {
        tag_request::Op::AddTag(tag) => {
            check_tag(tag)?;
            if tag_exists(conn, owner, &tag.tag_id)? {
                return Err(ApiError::new(
                    codes::TAG_EXISTS,
                    format!("tag {:?} exists", tag.tag_id),
                ));
            }
            let count: i64 = conn.query_row(
                "SELECT COUNT(*) FROM tags WHERE user_id = ?1",
                [owner],
                |r| r.get(0),
            )?;
            if count as usize >= MAX_TAGS_PER_USER {
                return Err(ApiError::new(
                    codes::CONVERSATION_TAG_OVERSIZE,
                    format!("at most {MAX_TAGS_PER_USER} tags"),
                ));
            }
            conn.execute(
                "INSERT INTO tags (user_id, tag_id, tag_name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![owner, tag.tag_id, tag.tag_name, now],
            )?;
            Ok("tag")
        }
        tag_request::Op::UpdateTag(tag) => {
            check_tag(tag)?;
            require_tag(conn, owner, &tag.tag_id)?;
            conn.execute(
                "UPDATE tags SET tag_name = ?3 WHERE user_id = ?1 AND tag_id = ?2",
                params![owner, tag.tag_id, tag.tag_name],
            )?;
            Ok("tag")
        }
        tag_request::Op::RemoveTag(tag_id) => {
            require_tag(conn, owner, tag_id)?;
            conn.execute(
                "DELETE FROM tags WHERE user_id = ?1 AND tag_id = ?2",
                params![owner, tag_id],
            )?;
            conn.execute(
                "DELETE FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2",
                params![owner, tag_id],
            )?;
            Ok("tag")
        }
        tag_request::Op::AddConversations(tc) => {
            require_tag(conn, owner, &tc.tag_id)?;
            let batch = conversation_batch(&tc.conversations)?;
            let mut add = conn.prepare_cached(
                "INSERT OR IGNORE INTO conversation_tags (user_id, tag_id, conv_type, target, channel, is_top, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            )?;
            for (kind, target, channel) in &batch {
                add.execute(params![owner, tc.tag_id, kind, target, channel, now])?;
            }
            // A tag keeps its newest 1000 conversations: the earliest-tagged
            // (lowest rowid; re-adding keeps the original row) go.
            conn.execute(
                "DELETE FROM conversation_tags WHERE rowid IN (
                   SELECT rowid FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2
                   ORDER BY rowid DESC LIMIT -1 OFFSET ?3)",
                params![owner, tc.tag_id, MAX_CONVERSATIONS_PER_TAG as i64],
            )?;
            Ok("conversation_tag")
        }
        tag_request::Op::RemoveConversations(tc) => {
            require_tag(conn, owner, &tc.tag_id)?;
            let batch = conversation_batch(&tc.conversations)?;
            let mut del = conn.prepare_cached(
                "DELETE FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2 AND conv_type = ?3 AND target = ?4 AND channel = ?5",
            )?;
            for (kind, target, channel) in &batch {
                del.execute(params![owner, tc.tag_id, kind, target, channel])?;
            }
            Ok("conversation_tag")
        }
        tag_request::Op::RemoveTagsFromConversation(ct) => {
            let (kind, target, channel) = settings_conversation(ct.conversation.as_ref())?;
            if ct.tag_ids.is_empty() || ct.tag_ids.len() > MAX_TAGS_PER_USER {
                return Err(ApiError::invalid("tagIds must hold 1..=20 tag ids"));
            }
            let mut del = conn.prepare_cached(
                "DELETE FROM conversation_tags WHERE user_id = ?1 AND tag_id = ?2 AND conv_type = ?3 AND target = ?4 AND channel = ?5",
            )?;
            for tag_id in &ct.tag_ids {
                del.execute(params![owner, tag_id, kind, target, channel])?;
            }
            Ok("conversation_tag")
        }
        tag_request::Op::SetTopInTag(top) => {
            require_tag(conn, owner, &top.tag_id)?;
            let (kind, target, channel) = settings_conversation(top.conversation.as_ref())?;
            let changed = conn.execute(
                "UPDATE conversation_tags SET is_top = ?6 WHERE user_id = ?1 AND tag_id = ?2 AND conv_type = ?3 AND target = ?4 AND channel = ?5",
                params![owner, top.tag_id, kind, target, channel, top.is_top],
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
pub fn snapshot(conn: &Connection, owner: &str) -> Result<SettingsSnapshot, ApiError> {
    let version = version(conn, owner)?;
    let mut stmt = conn.prepare_cached(
        "SELECT conv_type, target, channel, is_top, level, updated_at FROM conversation_settings
         WHERE user_id = ?1 ORDER BY conv_type, target, channel",
    )?;
    let conversations = stmt
        .query_map([owner], |r| {
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT tag_id, tag_name, created_at FROM tags WHERE user_id = ?1 ORDER BY created_at, tag_id",
    )?;
    let tags = stmt
        .query_map([owner], |r| {
            Ok(Tag {
                tag_id: r.get(0)?,
                tag_name: r.get(1)?,
                created_time: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT tag_id, conv_type, target, channel, is_top, added_at FROM conversation_tags
         WHERE user_id = ?1 ORDER BY tag_id, rowid",
    )?;
    let tag_links = stmt
        .query_map([owner], |r| {
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SettingsSnapshot {
        version,
        conversations,
        tags,
        tag_links,
    })
}
