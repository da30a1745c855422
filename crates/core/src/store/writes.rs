//! Message writes. Each function runs inside the caller's write transaction and keeps the
//! conversation rows and the search index in step with the messages it touches.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use super::conversations::{self, conv_of, ConvState, SEQ_BITS};
use super::search_index;
use crate::error::{ImError, ImResult};
use crate::message::{flag, NewMessage};
use crate::model::{direction, received_status, sent_status, ConversationKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Inserted(i64),
    /// Already stored; carries the stored message's id when it is known.
    Duplicate(Option<i64>),
}

/// Inserts messages in order. A known `messageUId` is never stored twice. With a
/// `content_window` (ms), a message identical in conversation, sender, type and content
/// to one stored within that many ms of its sentTime is dropped too — the only way to
/// recognise resends from senders the server could not deduplicate (0 = same time, for
/// imports). Messages marked `server_deduped` are exempt: two identical "ok"s are two.
pub fn insert(
    conn: &Connection,
    messages: &[NewMessage],
    content_window: Option<i64>,
) -> ImResult<Vec<Outcome>> {
    let mut states: HashMap<ConversationKey, ConvState> = HashMap::new();
    let mut seen_uids: HashSet<&str> = HashSet::new();
    let mut seen_content: HashSet<(i64, i64, &str, &str, &str)> = HashSet::new();
    let window = content_window.unwrap_or(0);
    let mut out = Vec::with_capacity(messages.len());
    let direct = messages.len() <= search_index::DIRECT_MAX;
    let mut find_uid = conn.prepare_cached("SELECT id FROM messages WHERE uid = ?1")?;
    let mut find_same = conn.prepare_cached(
        "SELECT id FROM messages WHERE conv_id = ?1 AND sent_time BETWEEN ?2 - ?6 AND ?2 + ?6 \
         AND sender = ?3 AND object_name = ?4 AND content = ?5 LIMIT 1",
    )?;
    let mut put = conn.prepare_cached(
        "INSERT INTO messages (id, conv_id, uid, sender, object_name, content, direction, sent_time, \
         received_time, sent_status, received_status, unread, mentioned, flags, expansion, extra, client_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;

    for m in messages {
        if let Some(uid) = m.uid.as_deref() {
            if !seen_uids.insert(uid) {
                out.push(Outcome::Duplicate(None));
                continue;
            }
            if let Some(id) = find_uid.query_row([uid], |r| r.get(0)).optional()? {
                out.push(Outcome::Duplicate(Some(id)));
                continue;
            }
        }
        if !states.contains_key(&m.key) {
            states.insert(m.key.clone(), conversations::get_or_create(conn, &m.key)?);
        }
        let state = states.get_mut(&m.key).expect("inserted above");
        if content_window.is_some() && !m.server_deduped {
            let fingerprint = (
                state.id,
                if window == 0 { m.sent_time } else { 0 },
                m.sender.as_str(),
                m.object_name.as_str(),
                m.content.as_str(),
            );
            if !seen_content.insert(fingerprint) {
                out.push(Outcome::Duplicate(None));
                continue;
            }
            let same = find_same
                .query_row(
                    params![
                        state.id,
                        m.sent_time,
                        m.sender,
                        m.object_name,
                        m.content,
                        window
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = same {
                out.push(Outcome::Duplicate(Some(id)));
                continue;
            }
        }
        if state.next_seq >= 1 << SEQ_BITS {
            return Err(ImError::new(
                crate::codes::DATABASE_ERROR,
                "conversation holds the maximum number of messages",
            ));
        }
        let id = (state.id << SEQ_BITS) | state.next_seq;
        state.next_seq += 1;
        let unread = m.unread();
        let mentioned_unread = unread && m.mentioned;
        put.execute(params![
            id,
            state.id,
            m.uid,
            m.sender,
            m.object_name,
            m.content,
            m.direction,
            m.sent_time,
            m.received_time,
            m.sent_status,
            m.received_status,
            unread,
            m.mentioned,
            m.flags,
            m.expansion,
            m.extra,
            m.client_id,
        ])?;
        if let Some(text) = &m.search_text {
            search_index::add(conn, id, text, direct)?;
        }
        state.message_count += 1;
        state.hidden = false;
        state.unread_count += unread as i64;
        state.mention_count += mentioned_unread as i64;
        if state.latest_id.is_none()
            || (m.sent_time, id) >= (state.latest_time, state.latest_id.unwrap_or(0))
        {
            state.latest_id = Some(id);
            state.latest_time = m.sent_time;
            state.sort_time = m.sent_time;
        }
        out.push(Outcome::Inserted(id));
    }
    for s in states.values() {
        conversations::save(conn, s)?;
    }
    Ok(out)
}

/// Deletes messages of one conversation by id (ids of other conversations are the caller's
/// error to catch); ids that do not exist are skipped. Returns how many were deleted.
pub fn delete_ids(conn: &Connection, conv_id: i64, ids: &[i64]) -> ImResult<usize> {
    let mut state = conversations::state(conn, conv_id)?;
    let mut get =
        conn.prepare_cached("SELECT unread, mentioned, flags FROM messages WHERE id = ?1")?;
    let mut del = conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
    let mut deleted = 0;
    let mut latest_gone = false;
    for &id in ids {
        debug_assert_eq!(conv_of(id), conv_id);
        let Some((unread, mentioned, flags)) = get
            .query_row([id], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()?
        else {
            continue;
        };
        del.execute([id])?;
        if flags & flag::INDEXED != 0 {
            search_index::remove(conn, id)?;
        }
        deleted += 1;
        state.message_count -= 1;
        state.unread_count -= unread as i64;
        state.mention_count -= (unread && mentioned) as i64;
        latest_gone |= state.latest_id == Some(id);
    }
    if deleted > 0 {
        if latest_gone {
            conversations::refresh_latest(conn, &mut state)?;
        }
        conversations::save(conn, &state)?;
    }
    Ok(deleted)
}

/// Deletes the messages of a conversation sent before `before` (all of them for `None`).
pub fn delete_before(conn: &Connection, conv_id: i64, before: Option<i64>) -> ImResult<usize> {
    let ids: Vec<i64> = {
        let mut stmt =
            conn.prepare_cached("SELECT id FROM messages WHERE conv_id = ?1 AND sent_time < ?2")?;
        let rows = stmt.query_map(params![conv_id, before.unwrap_or(i64::MAX)], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    delete_ids(conn, conv_id, &ids)
}

/// Sets a message's received-status bits, moving the conversation's unread and mention
/// counts with it. Returns false when the message does not exist.
pub fn set_received_status(conn: &Connection, id: i64, bits: i64) -> ImResult<bool> {
    let Some((dir, flags, unread, mentioned)) = conn
        .prepare_cached("SELECT direction, flags, unread, mentioned FROM messages WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .optional()?
    else {
        return Ok(false);
    };
    let now_unread = dir == direction::RECEIVE
        && flags & flag::COUNTED != 0
        && bits & received_status::READ == 0;
    conn.prepare_cached("UPDATE messages SET received_status = ?2, unread = ?3 WHERE id = ?1")?
        .execute(params![id, bits, now_unread])?;
    if now_unread != unread {
        let mut state = conversations::state(conn, conv_of(id))?;
        let delta = if now_unread { 1 } else { -1 };
        state.unread_count += delta;
        if mentioned {
            state.mention_count += delta;
        }
        conversations::save(conn, &state)?;
    }
    Ok(true)
}

pub fn set_sent_status(conn: &Connection, id: i64, status: i64) -> ImResult<bool> {
    let n = conn
        .prepare_cached("UPDATE messages SET sent_status = ?2 WHERE id = ?1")?
        .execute(params![id, status])?;
    Ok(n > 0)
}

/// Marks the user's own sent messages up to `timestamp` as read by the peer (the private
/// read-receipt flow). Messages still sending or failed keep their status.
pub fn mark_sent_read(conn: &Connection, conv_id: i64, timestamp: i64) -> ImResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET sent_status = ?3 WHERE conv_id = ?1 AND sent_time <= ?2 \
             AND direction = ?4 AND sent_status IN (?5, ?6)",
        )?
        .execute(params![
            conv_id,
            timestamp,
            sent_status::READ,
            direction::SEND,
            sent_status::SENT,
            sent_status::RECEIVED
        ])?)
}
