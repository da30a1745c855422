//! Conversation rows: created on first use and kept right, in the same transaction, by
//! every write that changes a conversation's messages.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::error::{ImError, ImResult};
use crate::json_text::{JsonWriter, RawJson};
use crate::message::{self, now_ms};
use crate::model::{notification_level, ConversationKey, ConversationScope};

/// Message ids are `conversation id << 32 | per-conversation sequence`, so one
/// conversation's messages are one contiguous id range: its rows sit together in the table
/// (history pages read neighbouring pages) and the search index can be restricted to a
/// conversation with a rowid range instead of a join.
pub const SEQ_BITS: u32 = 32;
/// Keeps every id below 2^53, so JavaScript numbers represent it exactly.
pub const MAX_CONVERSATIONS: i64 = (1 << (53 - SEQ_BITS)) - 1;

pub fn id_range(conv_id: i64) -> (i64, i64) {
    (
        conv_id << SEQ_BITS,
        (conv_id << SEQ_BITS) | ((1 << SEQ_BITS) - 1),
    )
}

pub fn conv_of(message_id: i64) -> i64 {
    message_id >> SEQ_BITS
}

/// The counters of one conversation while a write transaction changes them.
#[derive(Debug, Clone)]
pub struct ConvState {
    pub id: i64,
    pub next_seq: i64,
    pub message_count: i64,
    pub latest_id: Option<i64>,
    pub latest_time: i64,
    pub sort_time: i64,
    pub unread_count: i64,
    pub mention_count: i64,
    /// Out of the conversation list (removed, or known only from a synced setting).
    pub hidden: bool,
}

const STATE_COLUMNS: &str =
    "id, next_seq, message_count, latest_id, latest_time, sort_time, unread_count, mention_count, hidden";

fn state_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConvState> {
    Ok(ConvState {
        id: r.get(0)?,
        next_seq: r.get(1)?,
        message_count: r.get(2)?,
        latest_id: r.get(3)?,
        latest_time: r.get(4)?,
        sort_time: r.get(5)?,
        unread_count: r.get(6)?,
        mention_count: r.get(7)?,
        hidden: r.get(8)?,
    })
}

pub fn find_id(conn: &Connection, key: &ConversationKey) -> ImResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM conversations WHERE type = ?1 AND target = ?2 AND channel = ?3",
        )?
        .query_row(
            params![key.conversation_type, key.target_id, key.channel_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The conversations a scope covers: one, or every channel of a target when the scope
/// leaves the channel open.
pub fn scope_ids(conn: &Connection, scope: &ConversationScope) -> ImResult<Vec<i64>> {
    match &scope.channel_id {
        Some(_) => Ok(find_id(conn, &scope.exact())?.into_iter().collect()),
        None => {
            let mut stmt = conn
                .prepare_cached("SELECT id FROM conversations WHERE type = ?1 AND target = ?2")?;
            let ids = stmt
                .query_map(params![scope.conversation_type, scope.target_id], |r| {
                    r.get(0)
                })?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            Ok(ids)
        }
    }
}

pub fn state(conn: &Connection, id: i64) -> ImResult<ConvState> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM conversations WHERE id = ?1"
        ))?
        .query_row([id], state_from_row)?)
}

pub fn get_or_create(conn: &Connection, key: &ConversationKey) -> ImResult<ConvState> {
    if let Some(s) = conn
        .prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM conversations WHERE type = ?1 AND target = ?2 AND channel = ?3"
        ))?
        .query_row(params![key.conversation_type, key.target_id, key.channel_id], state_from_row)
        .optional()?
    {
        return Ok(s);
    }
    let now = now_ms();
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO conversations (type, target, channel, sort_time, operation_time) \
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
        )?
        .query_row(
            params![key.conversation_type, key.target_id, key.channel_id, now],
            |r| r.get(0),
        )?;
    if id > MAX_CONVERSATIONS {
        return Err(ImError::new(
            crate::codes::DATABASE_ERROR,
            format!("the database holds the maximum of {MAX_CONVERSATIONS} conversations"),
        ));
    }
    Ok(ConvState {
        id,
        next_seq: 1,
        message_count: 0,
        latest_id: None,
        latest_time: 0,
        sort_time: now,
        unread_count: 0,
        mention_count: 0,
        hidden: false,
    })
}

pub fn save(conn: &Connection, s: &ConvState) -> ImResult<()> {
    conn.prepare_cached(
        "UPDATE conversations SET next_seq = ?2, message_count = ?3, latest_id = ?4, latest_time = ?5, \
         sort_time = ?6, unread_count = ?7, mention_count = ?8, operation_time = ?9, hidden = ?10 \
         WHERE id = ?1",
    )?
    .execute(params![
        s.id,
        s.next_seq,
        s.message_count,
        s.latest_id,
        s.latest_time,
        s.sort_time,
        s.unread_count,
        s.mention_count,
        now_ms(),
        s.hidden
    ])?;
    Ok(())
}

/// Re-reads the newest message after deletes may have removed it.
pub fn refresh_latest(conn: &Connection, s: &mut ConvState) -> ImResult<()> {
    let latest: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, sent_time FROM messages WHERE conv_id = ?1 ORDER BY sent_time DESC, id DESC LIMIT 1",
        )?
        .query_row([s.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match latest {
        Some((id, t)) => {
            s.latest_id = Some(id);
            s.latest_time = t;
            s.sort_time = t;
        }
        None => {
            s.latest_id = None;
            s.latest_time = 0;
        }
    }
    Ok(())
}

/// The select list of a conversation query: message columns of the latest message (all
/// NULL when there is none), then the conversation's own.
pub fn select_sql(tail: &str) -> String {
    format!(
        "SELECT {cols}, c.id, c.unread_count, c.mention_count, c.is_top, c.level, c.draft, \
         c.operation_time, c.sort_time, c.type, c.target, c.channel, \
         (SELECT max(u.sent_time) FROM messages u WHERE u.conv_id = c.id AND u.unread = 1) \
         FROM conversations c LEFT JOIN messages m ON m.id = c.latest_id {tail}",
        cols = message::COLUMNS
    )
}

/// The legacy two-value view of a notification level: 1 = do not disturb, 2 = notify.
pub fn notification_status(level: i64) -> i64 {
    if level == notification_level::NOT_SET || level == notification_level::ALL_MESSAGE {
        2
    } else {
        1
    }
}

/// Converts a row selected with [`select_sql`] into an `IReceivedConversation`.
pub fn row_to_json(conn: &Connection, r: &rusqlite::Row<'_>) -> ImResult<Value> {
    let mut w = JsonWriter::with_capacity(1024);
    write_row(&mut w, conn, r)?;
    Ok(w.finish().parse())
}

/// Writes a row selected with [`select_sql`] as an `IReceivedConversation`.
pub fn write_row(w: &mut JsonWriter, conn: &Connection, r: &rusqlite::Row<'_>) -> ImResult<()> {
    let base = 17;
    let conv_id: i64 = r.get(base)?;
    let mention_count: i64 = r.get(base + 2)?;
    let level: i64 = r.get(base + 4)?;
    w.begin_object();
    w.key("channelId").str(r.get_ref(base + 10)?.as_str()?);
    w.key("conversationType").int(r.get(base + 8)?);
    w.key("draft").str(r.get_ref(base + 5)?.as_str()?);
    w.key("hasMentioned").bool(mention_count > 0);
    w.key("isTop").bool(r.get::<_, i64>(base + 3)? != 0);
    w.key("lastUnreadTime")
        .int(r.get::<_, Option<i64>>(base + 11)?.unwrap_or(0));
    w.key("latestMessage");
    match r.get::<_, Option<i64>>(0)? {
        Some(_) => message::write_row(w, r)?,
        None => {
            w.null();
        }
    }
    w.key("mentionedInfo");
    if mention_count > 0 {
        let info = conn
            .prepare_cached(
                "SELECT content FROM messages WHERE conv_id = ?1 AND unread = 1 AND mentioned = 1 \
                 ORDER BY sent_time DESC LIMIT 1",
            )?
            .query_row([conv_id], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|c| serde_json::from_str::<Value>(&c).ok())
            .and_then(|c| c.get("mentionedInfo").cloned())
            .unwrap_or(Value::Null);
        w.value(&info);
    } else {
        w.null();
    }
    w.key("notificationLevel").int(level);
    w.key("notificationStatus").int(notification_status(level));
    w.key("operationTime").int(r.get(base + 6)?);
    w.key("sortTime").int(r.get(base + 7)?);
    w.key("targetId").str(r.get_ref(base + 9)?.as_str()?);
    w.key("unreadMessageCount").int(r.get(base + 1)?);
    w.end_object();
    Ok(())
}

/// Runs a conversation query built with [`select_sql`].
pub fn query(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> ImResult<Vec<Value>> {
    match query_text(conn, sql, params)?.parse() {
        Value::Array(list) => Ok(list),
        _ => Err(crate::error::ImError::internal(
            "a conversation page did not parse",
        )),
    }
}

/// Runs a conversation query built with [`select_sql`]; the answer as a JSON array.
pub fn query_text(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> ImResult<RawJson> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut w = JsonWriter::with_capacity(16 * 1024);
    w.begin_array();
    while let Some(r) = rows.next()? {
        write_row(&mut w, conn, r)?;
    }
    w.end_array();
    Ok(w.finish())
}

pub fn by_ids(conn: &Connection, ids: &[i64]) -> ImResult<Vec<Value>> {
    match by_ids_text(conn, ids, false)?.parse() {
        Value::Array(list) => Ok(list),
        _ => Err(ImError::internal("conversations did not parse")),
    }
}

/// The conversations with these ids, in the given order, as a JSON array; with
/// `listed_only`, those in the lists (not removed).
pub fn by_ids_text(conn: &Connection, ids: &[i64], listed_only: bool) -> ImResult<RawJson> {
    let mut stmt = conn.prepare_cached(&select_sql(if listed_only {
        "WHERE c.id = ?1 AND c.hidden = 0"
    } else {
        "WHERE c.id = ?1"
    }))?;
    let mut w = JsonWriter::with_capacity(1024 * ids.len() + 2);
    w.begin_array();
    for id in ids {
        let mut rows = stmt.query([id])?;
        if let Some(r) = rows.next()? {
            write_row(&mut w, conn, r)?;
        }
    }
    w.end_array();
    Ok(w.finish())
}

/// The conversations with these ids, most recent first (ties by id), as a JSON array; one
/// statement however many ids.
pub fn by_ids_newest_first_text(conn: &Connection, ids: &[i64]) -> ImResult<RawJson> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    query_text(
        conn,
        &select_sql(
            "WHERE c.id IN (SELECT value FROM json_each(?1)) ORDER BY c.sort_time DESC, c.id",
        ),
        [ids],
    )
}

pub fn exists(conn: &Connection, id: i64) -> ImResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM conversations WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}
