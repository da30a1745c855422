//! Applying what the server delivers: inbox entries become messages (idempotently, by
//! `messageUId` and by this device's client ids), recalls replace their originals, read
//! sync clears unread counts — and the inbox cursor moves in the same transaction, so a
//! crash can neither lose nor repeat an entry.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::conversations::{self, conv_of};
use super::writes::{self, Outcome};
use super::{meta, notices};
use crate::error::ImResult;
use crate::message::{flag, NewMessage};
use crate::model::{received_status, sent_status, ConversationKey};

const CURSOR_KEY: &str = "inbox_cursor";

/// One delivered item, already converted from the wire.
#[derive(Debug, Clone)]
pub enum Apply {
    /// A message to store (or to match to this device's own outbox row).
    Store(NewMessage),
    /// A recall notice: the message with uid `original` becomes `notice` in place; when it
    /// is not stored, the notice is inserted instead (seed: 5.8.3).
    Recall {
        original: String,
        notice: NewMessage,
    },
    /// The user read `key` up to `time` on another device (RC:SRSMsg).
    ReadUpTo { key: ConversationKey, time: i64 },
    /// The peer read this user's messages in `key` up to `time` (RC:ReadNtf).
    PeerRead {
        key: ConversationKey,
        time: i64,
        uid: String,
        reader: String,
    },
    /// A group member asks for read receipts of its message `uid` (RC:RRReqMsg).
    ReceiptRequest {
        key: ConversationKey,
        uid: String,
        requester: String,
    },
    /// `reader` read this user's messages `uids` (RC:RRRspMsg).
    ReceiptResponse {
        key: ConversationKey,
        reader: String,
        uids: Vec<String>,
    },
    /// The expansion of message `uid` changed (RC:MsgExMsg).
    Expansion {
        key: ConversationKey,
        uid: String,
        put: BTreeMap<String, String>,
        del: Vec<String>,
    },
    /// Delivered but not stored (a type registered as not persisted): only reported.
    Transient(Value),
    /// This user's own message whose content the server's sensitive-word filter masked:
    /// stored as `Store`, and a copy this device already holds takes the masked content.
    OwnReplaced(NewMessage),
    /// A notice that only raises an event (MESSAGE_BLOCKED, delivery receipts).
    Event { name: &'static str, payload: Value },
    /// The user deleted messages of `key` for itself (RC:MsgDelNtf, or its own call):
    /// those with these uids, or with `before`, those sent before it.
    Delete {
        key: ConversationKey,
        uids: Vec<String>,
        before: Option<i64>,
    },
}

/// The `conversation` object of notice events.
pub fn conversation_json(key: &ConversationKey) -> Value {
    json!({ "conversationType": key.conversation_type, "targetId": key.target_id, "channelId": key.channel_id })
}

/// What applying changed: new messages (for the MESSAGES event), touched conversations
/// (for the CONVERSATION event), messages reported but not stored, and the notice events
/// (receipts, expansion) to emit after those, in delivery order.
#[derive(Debug, Default)]
pub struct Applied {
    pub new_messages: Vec<i64>,
    pub changed_messages: Vec<i64>,
    pub conversations: BTreeSet<i64>,
    pub transient: Vec<Value>,
    pub events: Vec<(&'static str, Value)>,
}

pub fn cursor(conn: &Connection) -> ImResult<u64> {
    meta::get_u64(conn, CURSOR_KEY)
}

pub fn set_cursor(conn: &Connection, seq: u64) -> ImResult<()> {
    meta::set_u64(conn, CURSOR_KEY, seq)
}

/// Applies `items` in order and, when given, moves the cursor to `cursor_to`.
pub fn apply(
    conn: &Connection,
    items: &[Apply],
    cursor_to: Option<u64>,
    content_window: Option<i64>,
) -> ImResult<Applied> {
    let mut out = Applied::default();
    let mut pending: Vec<NewMessage> = Vec::new();
    for item in items {
        match item {
            Apply::Store(m) | Apply::OwnReplaced(m) => {
                if let Some(id) = settle_own(conn, m)? {
                    if matches!(item, Apply::OwnReplaced(_)) {
                        replace_content(conn, id, &m.content, m.search_text.as_deref())?;
                    }
                    flush(conn, &mut pending, content_window, &mut out)?;
                    out.changed_messages.push(id);
                    out.conversations.insert(conv_of(id));
                } else {
                    pending.push(m.clone());
                }
            }
            Apply::Recall { original, notice } => {
                flush(conn, &mut pending, content_window, &mut out)?;
                match replace_with_notice(conn, original, notice)? {
                    Some(id) => {
                        out.changed_messages.push(id);
                        out.conversations.insert(conv_of(id));
                    }
                    None => {
                        pending.push(notice.clone());
                        flush(conn, &mut pending, None, &mut out)?;
                    }
                }
            }
            Apply::ReadUpTo { key, time } => {
                flush(conn, &mut pending, content_window, &mut out)?;
                if let Some(conv) = conversations::find_id(conn, key)? {
                    mark_read_up_to(conn, conv, *time)?;
                    out.conversations.insert(conv);
                }
            }
            Apply::Transient(m) => out.transient.push(m.clone()),
            Apply::Delete { key, uids, before } => {
                flush(conn, &mut pending, content_window, &mut out)?;
                if let Some(conv) = super::deletes::apply(conn, key, uids, *before)? {
                    out.conversations.insert(conv);
                }
            }
            notice => {
                flush(conn, &mut pending, content_window, &mut out)?;
                apply_notice(conn, notice, &mut out)?;
            }
        }
    }
    flush(conn, &mut pending, content_window, &mut out)?;
    if let Some(seq) = cursor_to {
        set_cursor(conn, seq)?;
    }
    Ok(out)
}

/// Applies a receipt or expansion notice and queues its event.
fn apply_notice(conn: &Connection, item: &Apply, out: &mut Applied) -> ImResult<()> {
    match item {
        Apply::PeerRead {
            key,
            time,
            uid,
            reader,
        } => {
            if let Some(conv) = conversations::find_id(conn, key)? {
                writes::mark_sent_read(conn, conv, *time)?;
            }
            out.events.push((
                "READ_RECEIPT_RECEIVED",
                json!({ "conversation": conversation_json(key), "messageUid": uid,
                        "sentTime": time, "sendUserId": reader }),
            ));
        }
        Apply::ReceiptRequest {
            key,
            uid,
            requester,
        } => {
            notices::receipt_requested(conn, uid)?;
            out.events.push((
                "MESSAGE_RECEIPT_REQUEST",
                json!({ "conversation": conversation_json(key), "messageUid": uid,
                        "senderUserId": requester }),
            ));
        }
        Apply::ReceiptResponse { key, reader, uids } => {
            notices::receipt_response_received(conn, reader, uids)?;
            out.events.push((
                "MESSAGE_RECEIPT_RESPONSE",
                json!({ "conversation": conversation_json(key), "receivedUserId": reader,
                        "messageUidList": uids }),
            ));
        }
        Apply::Expansion { key, uid, put, del } => {
            // The engine drops the event of a change this device made itself.
            notices::apply_expansion(conn, uid, put, del)?;
            out.events
                .push(("EXPANSION", expansion_event(key, uid, put, del)));
        }
        Apply::Event { name, payload } => out.events.push((name, payload.clone())),
        Apply::Store(_)
        | Apply::OwnReplaced(_)
        | Apply::Recall { .. }
        | Apply::ReadUpTo { .. }
        | Apply::Transient(_)
        | Apply::Delete { .. } => {}
    }
    Ok(())
}

/// The EXPANSION payload: `{ updatedExpansion?, deletedExpansion?, conversationType,
/// targetId, channelId }`.
pub fn expansion_event(
    key: &ConversationKey,
    uid: &str,
    put: &BTreeMap<String, String>,
    del: &[String],
) -> Value {
    // Since 5.9.0 the conversation is in the event and in each part of it.
    let mut ev = conversation_json(key);
    if !put.is_empty() {
        let mut part = conversation_json(key);
        part["messageUId"] = json!(uid);
        part["expansion"] = json!(put);
        ev["updatedExpansion"] = part;
    }
    if !del.is_empty() {
        let mut part = conversation_json(key);
        part["messageUId"] = json!(uid);
        part["deletedKeys"] = json!(del);
        ev["deletedExpansion"] = part;
    }
    ev
}

fn flush(
    conn: &Connection,
    pending: &mut Vec<NewMessage>,
    content_window: Option<i64>,
    out: &mut Applied,
) -> ImResult<()> {
    if pending.is_empty() {
        return Ok(());
    }
    for outcome in writes::insert(conn, pending, content_window)? {
        if let Outcome::Inserted(id) = outcome {
            out.new_messages.push(id);
            out.conversations.insert(conv_of(id));
        }
    }
    pending.clear();
    Ok(())
}

/// A message this device sent comes back (ack lost, or synced from the own inbox): it
/// lands on the outbox row carrying the same client id instead of becoming a copy.
fn settle_own(conn: &Connection, m: &NewMessage) -> ImResult<Option<i64>> {
    let Some(client_id) = &m.client_id else {
        return Ok(None);
    };
    let Some(id) = conn
        .prepare_cached("SELECT id FROM messages WHERE client_id = ?1")?
        .query_row([client_id], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(None);
    };
    mark_sent(conn, id, m.uid.as_deref().unwrap_or_default(), m.sent_time)?;
    Ok(Some(id))
}

/// Gives the stored message `id` the content (and search text) of `m`: the server masked
/// sensitive words of a message this device sent, and every copy must read the same.
pub fn replace_content(
    conn: &Connection,
    id: i64,
    content: &str,
    search_text: Option<&str>,
) -> ImResult<()> {
    let flags: i64 = conn
        .prepare_cached("SELECT flags FROM messages WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let new_flags = super::search_index::replace(conn, id, flags, search_text)?;
    conn.prepare_cached("UPDATE messages SET content = ?2, flags = ?3 WHERE id = ?1")?
        .execute(params![id, content, new_flags])?;
    Ok(())
}

/// Records the server's acknowledgement on an outbox row. A row whose uid is already set
/// keeps it (the ack and the synced copy carry the same one).
pub fn mark_sent(conn: &Connection, id: i64, uid: &str, sent_time: i64) -> ImResult<()> {
    let old_time: i64 = conn
        .prepare_cached("SELECT sent_time FROM messages WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached(
        "UPDATE messages SET uid = COALESCE(uid, NULLIF(?2, '')), sent_time = ?3, \
         sent_status = CASE WHEN sent_status IN (?4, ?5) THEN ?6 ELSE sent_status END WHERE id = ?1",
    )?
    .execute(params![id, uid, sent_time, sent_status::SENDING, sent_status::FAILED, sent_status::SENT])?;
    if old_time != sent_time {
        // The server's time orders the conversation; the latest message may change.
        let mut state = conversations::state(conn, conv_of(id))?;
        conversations::refresh_latest(conn, &mut state)?;
        conversations::save(conn, &state)?;
    }
    Ok(())
}

fn replace_with_notice(
    conn: &Connection,
    original: &str,
    notice: &NewMessage,
) -> ImResult<Option<i64>> {
    let Some((id, unread, mentioned, flags)) = conn
        .prepare_cached("SELECT id, unread, mentioned, flags FROM messages WHERE uid = ?1")?
        .query_row([original], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let flags = super::search_index::replace(conn, id, flags, None)?;
    let new_flags = (flags & !(flag::COUNTED | flag::CAN_INCLUDE_EXPANSION)) | flag::PERSISTED;
    conn.prepare_cached(
        "UPDATE messages SET object_name = ?2, content = ?3, unread = 0, mentioned = 0, flags = ?4, \
         expansion = NULL, received_status = received_status | ?5, extra = ?6 WHERE id = ?1",
    )?
    // The notice's own extras (its pushConfig) replace the original's.
    .execute(params![id, notice.object_name, notice.content, new_flags, received_status::READ, notice.extra])?;
    if unread {
        let mut state = conversations::state(conn, conv_of(id))?;
        state.unread_count -= 1;
        state.mention_count -= mentioned as i64;
        conversations::save(conn, &state)?;
    }
    Ok(Some(id))
}

/// Marks a conversation's received messages up to `time` read and recounts its unread
/// and mention counters from the partial unread index.
pub fn mark_read_up_to(conn: &Connection, conv: i64, time: i64) -> ImResult<()> {
    conn.prepare_cached(
        "UPDATE messages SET unread = 0, received_status = received_status | ?3 \
         WHERE conv_id = ?1 AND unread = 1 AND sent_time <= ?2",
    )?
    .execute(params![conv, time, received_status::READ])?;
    let (unread, mentions): (i64, i64) = conn
        .prepare_cached("SELECT count(*), count(*) FILTER (WHERE mentioned = 1) FROM messages WHERE conv_id = ?1 AND unread = 1")?
        .query_row([conv], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut state = conversations::state(conn, conv)?;
    state.unread_count = unread;
    state.mention_count = mentions;
    conversations::save(conn, &state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(uid: &str, time: i64, text: &str) -> NewMessage {
        NewMessage {
            uid: Some(uid.into()),
            ..crate::message::test_received(1, "app", time, text)
        }
    }

    #[test]
    fn a_second_copy_is_dropped_but_a_second_message_is_kept_and_the_cursor_moves() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        crate::store::tokenizer::register(&conn).unwrap();
        crate::store::migrations_for_tests(&mut conn);
        let items = vec![
            Apply::Store(message("u1", 100, "hi")),
            Apply::Store(message("u2", 100, "hi")), // same message, another uid: a copy
            Apply::Store(message("u3", 101, "hi")), // same words, another message
            Apply::Store(message("u1", 100, "hi")), // redelivery
        ];
        let tx = conn.transaction().unwrap();
        let applied = apply(&tx, &items, Some(7), Some(0)).unwrap();
        assert_eq!(applied.new_messages.len(), 2);
        assert_eq!(cursor(&tx).unwrap(), 7);
        tx.commit().unwrap();
        let applied = apply(&conn, &items, Some(9), None).unwrap();
        assert_eq!(
            applied.new_messages.len(),
            1,
            "without the check the same-time copy is kept"
        );
    }
}
