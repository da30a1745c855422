//! Unread and mention counts. The per-conversation counters are kept by every write in
//! the same transaction; the sums here read only conversations that have something unread
//! (a partial covering index), so they cost what is unread, not what is stored.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{conversations, inbox};
use crate::error::ImResult;
use crate::model::conversation_type;

/// Levels that mean "notify": ALL_MESSAGE and NOT_SET. Everything else is muted
/// (`getBlockedConversationList` lists level > 0 since 5.7.2).
pub const UNMUTED_LEVELS: &str = "(-1, 0)";

/// `IN (...)` of validated conversation types.
fn type_list(types: &[i64]) -> String {
    let list: Vec<String> = types.iter().map(i64::to_string).collect();
    format!("({})", list.join(", "))
}

/// `getTotalUnreadCount`: the sum over visible conversations of `types`.
pub fn total(conn: &Connection, include_muted: bool, types: &[i64]) -> ImResult<i64> {
    let muted = if include_muted {
        String::new()
    } else {
        format!("AND level IN {UNMUTED_LEVELS}")
    };
    Ok(conn
        .prepare_cached(&format!(
            "SELECT coalesce(sum(unread_count), 0) FROM conversations \
             WHERE unread_count > 0 AND hidden = 0 AND type IN {} {muted}",
            type_list(types)
        ))?
        .query_row([], |r| r.get(0))?)
}

/// `getAllUnreadMentionedCount`: unread @-messages of (normal) groups.
pub fn all_mentions(conn: &Connection) -> ImResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(mention_count), 0) FROM conversations \
             WHERE unread_count > 0 AND hidden = 0 AND type = ?1",
        )?
        .query_row([conversation_type::GROUP], |r| r.get(0))?)
}

/// The unread and mention counters of one conversation (0 when unknown).
pub fn of(conn: &Connection, conv: Option<i64>) -> ImResult<(i64, i64)> {
    let Some(id) = conv else { return Ok((0, 0)) };
    let s = conversations::state(conn, id)?;
    Ok((s.unread_count, s.mention_count))
}

/// Marks every received message of a conversation read.
pub fn clear(conn: &Connection, conv: i64) -> ImResult<()> {
    inbox::mark_read_up_to(conn, conv, i64::MAX)
}

/// Marks everything read; returns the conversations that changed.
pub fn clear_all(conn: &Connection) -> ImResult<Vec<i64>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM conversations WHERE unread_count > 0")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        clear(conn, *id)?;
    }
    Ok(ids)
}

/// `getFirstUnreadMessageInfo`: the oldest unread message, or null.
pub fn first(conn: &Connection, conv: i64) -> ImResult<Value> {
    Ok(conn
        .prepare_cached(
            "SELECT sent_time, coalesce(uid, ''), id FROM messages \
             WHERE conv_id = ?1 AND unread = 1 ORDER BY sent_time, id LIMIT 1",
        )?
        .query_row(params![conv], |r| {
            Ok(json!({
                "sentTime": r.get::<_, i64>(0)?,
                "messageUId": r.get::<_, String>(1)?,
                "messageId": r.get::<_, i64>(2)?,
            }))
        })
        .optional()?
        .unwrap_or(Value::Null))
}

/// `getUnreadConversationList`: visible conversations of `types` with unread messages,
/// newest first.
pub fn conversations_with_unread(conn: &Connection, types: &[i64]) -> ImResult<Vec<Value>> {
    conversations::query(
        conn,
        &conversations::select_sql(&format!(
            "WHERE c.unread_count > 0 AND c.hidden = 0 AND c.type IN {} \
             ORDER BY c.sort_time DESC, c.id DESC",
            type_list(types)
        )),
        [],
    )
}
