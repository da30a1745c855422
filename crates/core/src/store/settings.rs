//! The user's synced settings — pin and notification level per conversation, tags and
//! conversation-tag links — as the server's versioned snapshot has them. Applying a
//! snapshot is a diff against what is stored, so the events name only what changed.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{conversations, meta};
use crate::error::ImResult;
use crate::model::ConversationKey;

const VERSION_KEY: &str = "settings_version";

/// Pin and level of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSetting {
    pub key: ConversationKey,
    pub is_top: bool,
    pub level: i64,
    pub updated_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub tag_id: String,
    pub name: String,
    pub created_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagLink {
    pub tag_id: String,
    pub key: (i64, String, String),
    pub is_top: bool,
    pub added_time: i64,
}

/// Everything the server holds for the user, at one version.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: u64,
    pub conversations: Vec<ConversationSetting>,
    pub tags: Vec<Tag>,
    pub links: Vec<TagLink>,
}

/// What applying a snapshot changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// Visible conversations whose pin or level changed (for the CONVERSATION event).
    pub conversations: Vec<i64>,
    pub tags: bool,
    pub links: bool,
}

pub fn version(conn: &Connection) -> ImResult<u64> {
    meta::get_u64(conn, VERSION_KEY)
}

pub fn forget_version(conn: &Connection) -> ImResult<()> {
    meta::set_u64(conn, VERSION_KEY, 0)
}

/// Brings the local copy to `snap`. An older snapshot than the stored one (answers can
/// cross on the wire) changes nothing. `show_empty_top` is `enableSyncEmptyTopConversation`:
/// whether a pinned conversation with no messages here appears in the list.
pub fn apply(conn: &Connection, snap: &Snapshot, show_empty_top: bool) -> ImResult<Changes> {
    let mut out = Changes::default();
    if snap.version < version(conn)? {
        return Ok(out);
    }
    apply_conversations(conn, &snap.conversations, show_empty_top, &mut out)?;
    out.tags = replace_tags(conn, &snap.tags)?;
    out.links = replace_links(conn, &snap.links)?;
    meta::set_u64(conn, VERSION_KEY, snap.version)?;
    Ok(out)
}

fn apply_conversations(
    conn: &Connection,
    settings: &[ConversationSetting],
    show_empty_top: bool,
    out: &mut Changes,
) -> ImResult<()> {
    let wanted: HashMap<&ConversationKey, &ConversationSetting> =
        settings.iter().map(|s| (&s.key, s)).collect();
    // Conversations configured here but no longer on the server go back to the defaults.
    let configured: Vec<(i64, ConversationKey)> = conn
        .prepare_cached(
            "SELECT id, type, target, channel FROM conversations WHERE is_top <> 0 OR level <> 0",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                ConversationKey {
                    conversation_type: r.get(1)?,
                    target_id: r.get(2)?,
                    channel_id: r.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let now = crate::message::now_ms();
    for (id, key) in configured {
        if !wanted.contains_key(&key) {
            set(conn, id, false, 0, now, out)?;
        }
    }
    for s in settings {
        let id = match conversations::find_id(conn, &s.key)? {
            Some(id) => id,
            None => {
                // Known only from its setting: out of the lists until it has a message.
                let id = conversations::get_or_create(conn, &s.key)?.id;
                conn.prepare_cached(
                    "UPDATE conversations SET hidden = 1, sort_time = ?2 WHERE id = ?1",
                )?
                .execute(params![id, s.updated_time])?;
                id
            }
        };
        if s.is_top && show_empty_top {
            // enableSyncEmptyTopConversation: a conversation pinned elsewhere is listed even
            // before its first message here — when the pin is new, so one the user removed
            // here stays removed through later snapshots.
            conn.prepare_cached(
                "UPDATE conversations SET hidden = 0 WHERE id = ?1 AND message_count = 0 AND is_top = 0",
            )?
            .execute([id])?;
        }
        set(conn, id, s.is_top, s.level, s.updated_time, out)?;
    }
    Ok(())
}

fn set(
    conn: &Connection,
    id: i64,
    is_top: bool,
    level: i64,
    time: i64,
    out: &mut Changes,
) -> ImResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE conversations SET is_top = ?2, level = ?3, operation_time = ?4 \
             WHERE id = ?1 AND (is_top <> ?2 OR level <> ?3)",
        )?
        .execute(params![id, is_top, level, time])?;
    let hidden: bool = conn
        .prepare_cached("SELECT hidden FROM conversations WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    if changed > 0 && !hidden {
        out.conversations.push(id);
    }
    Ok(())
}

fn replace_tags(conn: &Connection, tags: &[Tag]) -> ImResult<bool> {
    let current: BTreeSet<Tag> = conn
        .prepare_cached("SELECT tag_id, name, created_time FROM tags")?
        .query_map([], |r| {
            Ok(Tag {
                tag_id: r.get(0)?,
                name: r.get(1)?,
                created_time: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let wanted: BTreeSet<Tag> = tags.iter().cloned().collect();
    if current == wanted {
        return Ok(false);
    }
    conn.execute("DELETE FROM tags", [])?;
    let mut put =
        conn.prepare_cached("INSERT INTO tags (tag_id, name, created_time) VALUES (?1, ?2, ?3)")?;
    for t in &wanted {
        put.execute(params![t.tag_id, t.name, t.created_time])?;
    }
    Ok(true)
}

fn replace_links(conn: &Connection, links: &[TagLink]) -> ImResult<bool> {
    let current: BTreeSet<TagLink> = conn
        .prepare_cached(
            "SELECT tag_id, type, target, channel, is_top, added_time FROM conversation_tags",
        )?
        .query_map([], |r| {
            Ok(TagLink {
                tag_id: r.get(0)?,
                key: (r.get(1)?, r.get(2)?, r.get(3)?),
                is_top: r.get(4)?,
                added_time: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let wanted: BTreeSet<TagLink> = links.iter().cloned().collect();
    if current == wanted {
        return Ok(false);
    }
    conn.execute("DELETE FROM conversation_tags", [])?;
    let mut put = conn.prepare_cached(
        "INSERT OR REPLACE INTO conversation_tags (tag_id, type, target, channel, is_top, added_time) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for l in &wanted {
        put.execute(params![
            l.tag_id,
            l.key.0,
            l.key.1,
            l.key.2,
            l.is_top,
            l.added_time
        ])?;
    }
    Ok(true)
}

// ---- reads ---------------------------------------------------------------------------

pub fn tag_exists(conn: &Connection, tag_id: &str) -> ImResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tags WHERE tag_id = ?1")?
        .query_row([tag_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// `getTags`: every tag with the number of conversations it holds, oldest first.
pub fn tags(conn: &Connection) -> ImResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.tag_id, t.name, t.created_time, \
         (SELECT count(*) FROM conversation_tags l WHERE l.tag_id = t.tag_id) \
         FROM tags t ORDER BY t.created_time, t.tag_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(json!({
            "tagId": r.get::<_, String>(0)?,
            "tagName": r.get::<_, String>(1)?,
            "createdTime": r.get::<_, i64>(2)?,
            "conversationCount": r.get::<_, i64>(3)?,
        }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `getTagsFromConversation`: the tags linked to one conversation.
pub fn tags_of(conn: &Connection, key: &ConversationKey) -> ImResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.tag_id, t.name, t.created_time, l.is_top FROM conversation_tags l \
         JOIN tags t ON t.tag_id = l.tag_id \
         WHERE l.type = ?1 AND l.target = ?2 AND l.channel = ?3 ORDER BY t.created_time, t.tag_id",
    )?;
    let rows = stmt.query_map(
        params![key.conversation_type, key.target_id, key.channel_id],
        |r| {
            Ok(json!({
                "tagId": r.get::<_, String>(0)?,
                "tagName": r.get::<_, String>(1)?,
                "createdTime": r.get::<_, i64>(2)?,
                "isTop": r.get::<_, bool>(3)?,
            }))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const IN_TAG: &str = "JOIN conversation_tags l ON l.type = c.type AND l.target = c.target \
     AND l.channel = c.channel AND l.tag_id = ?1";

/// `getConversationsFromTagByPage`: the tag's conversations stored here, newest first,
/// before `before` (exclusive); each carries `isTopInTag`. Pinned ones are not moved to
/// the front: with a time cursor that would skip or repeat conversations across pages, so
/// the app sorts by `isTopInTag` itself.
pub fn conversations_in_tag(
    conn: &Connection,
    tag_id: &str,
    before: i64,
    count: i64,
) -> ImResult<Vec<Value>> {
    let sql = conversations::select_sql(&format!(
        "{IN_TAG} WHERE c.sort_time < ?2 AND c.hidden = 0 \
         ORDER BY c.sort_time DESC, c.id DESC LIMIT ?3"
    ));
    let mut list = conversations::query(conn, &sql, params![tag_id, before, count])?;
    let mut top = conn.prepare_cached(
        "SELECT is_top FROM conversation_tags WHERE tag_id = ?1 AND type = ?2 AND target = ?3 AND channel = ?4",
    )?;
    for c in &mut list {
        let is_top: bool = top.query_row(
            params![
                tag_id,
                c["conversationType"].as_i64(),
                c["targetId"].as_str(),
                c["channelId"].as_str()
            ],
            |r| r.get(0),
        )?;
        c["isTopInTag"] = json!(is_top);
    }
    Ok(list)
}

/// `getUnreadCountByTag`: unread messages of the tag's conversations; muted ones
/// (a notification level other than -1 and 0) only with `with_muted`.
pub fn unread_in_tag(conn: &Connection, tag_id: &str, with_muted: bool) -> ImResult<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT coalesce(sum(c.unread_count), 0) FROM conversations c {IN_TAG} \
             WHERE c.hidden = 0 AND (?2 OR c.level IN (-1, 0))"
        ))?
        .query_row(params![tag_id, with_muted], |r| r.get(0))?)
}

/// The stored pin and level of a conversation (defaults when it is unknown).
pub fn of_conversation(conn: &Connection, key: &ConversationKey) -> ImResult<(bool, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT is_top, level FROM conversations WHERE type = ?1 AND target = ?2 AND channel = ?3",
        )?
        .query_row(
            params![key.conversation_type, key.target_id, key.channel_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((false, 0)))
}
