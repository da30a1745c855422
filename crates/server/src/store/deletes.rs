//! Deleting messages for one user only (the vendor's `deleteMessages` and
//! `clearHistoryMessages`): the messages leave that user's inbox — so pulls, remote
//! history and a new device never return them, while the other participants keep theirs —
//! and an RC:MsgDelNtf notice in the user's own inbox tells its other devices (online now,
//! or whenever they next pull) to delete them locally too.
//!
//! All of it runs in one write job: a refused item rolls the job back, so a request either
//! deletes everything it names or nothing.

use imsync_protocol::{
    delete_messages_request::What, object_names, Conversation, MessageAck, MessageRef,
    MAX_DELETE_MESSAGES,
};
use serde_json::json;

use super::messages::{self, Stored};
use super::sql::Db;
use super::Outcome;
use crate::args;
use crate::error::ApiError;
use crate::validate;

/// The caller's inbox row of one message (by the `inbox_by_message` index).
pub(crate) const SQL_DELETE_ROW: &str = "DELETE FROM inbox WHERE user_id = ?1
     AND seq IN (SELECT seq FROM inbox WHERE message_id = ?2 AND user_id = ?1)";
pub(crate) const SQL_TOMBSTONED: &str =
    "SELECT 1 FROM deleted_messages WHERE user_id = ?1 AND message_id = ?2";
/// The caller's inbox rows of one conversation sent before a time (PRIVATE matches both
/// directions of the pair, as remote history does).
pub(crate) const SQL_CLEAR: &str = "DELETE FROM inbox WHERE user_id = ?1 AND seq IN (
       SELECT i.seq FROM inbox i JOIN messages m ON m.id = i.message_id
       WHERE i.user_id = ?1 AND m.conv_type = ?2 AND m.channel = ?3
         AND (m.target = ?4 OR (m.conv_type = 1 AND m.sender = ?4 AND m.target = ?1))
         AND m.sent_time < ?5)";

/// Answers a DeleteMessagesRequest of `caller`.
pub fn delete(
    conn: &dyn Db,
    caller: &str,
    conversation: Option<&Conversation>,
    what: Option<What>,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    let conv = validate::kept_conversation(conversation, "deleting messages")?;
    match what {
        Some(What::Messages(list)) => by_uid(conn, caller, conv, &list.messages, now),
        Some(What::ClearBefore(before)) => clear(conn, caller, conv, before, now),
        None => Err(ApiError::invalid(
            "name the messages to delete or a clearBefore time",
        )),
    }
}

/// One caller inbox row to remove, and the uid the caller's devices delete for it.
struct Gone {
    id: i64,
    uid: String,
    sent_time: i64,
}

fn by_uid(
    conn: &dyn Db,
    caller: &str,
    conv: Conversation,
    refs: &[MessageRef],
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    if refs.is_empty() || refs.len() > MAX_DELETE_MESSAGES {
        return Err(ApiError::invalid(format!(
            "messages must hold 1 to {MAX_DELETE_MESSAGES} items, got {}",
            refs.len()
        )));
    }
    let mut gone: Vec<Gone> = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        if r.message_uid.is_empty() || r.message_uid.len() > 64 {
            return Err(ApiError::invalid(format!(
                "messages[{i}].messageUId must be 1..=64 characters"
            )));
        }
        let foreign = |why: &str| {
            ApiError::invalid(format!(
                "messages[{i}].messageUId {:?} is not a message of this conversation: {why}; nothing was deleted",
                r.message_uid
            ))
        };
        let stored =
            messages::load(conn, &r.message_uid)?.ok_or_else(|| foreign("no such message"))?;
        let view = messages::view_for(caller, &stored.message);
        if view.conversation.as_ref() != Some(&conv) {
            return Err(foreign("it belongs to another conversation"));
        }
        let name = stored.message.object_name.as_str();
        if name != object_names::RECALL_NOTICE && object_names::SERVER_NOTICES.contains(&name) {
            return Err(foreign("server notices cannot be deleted"));
        }
        if stored.message.sent_time != r.sent_time {
            return Err(foreign("sentTime does not match"));
        }
        let owned = messages::owns(conn, stored.id, caller)?;
        if !owned && !tombstoned(conn, caller, stored.id)? {
            return Err(foreign("not in your conversations"));
        }
        if owned {
            push_gone(&mut gone, &stored);
        }
        // A recall notice stands in for the message it recalled (the client keeps the
        // original's uid on it): both go, whichever of the two was named.
        for other in related(conn, &stored)? {
            if messages::owns(conn, other.id, caller)? {
                push_gone(&mut gone, &other);
            }
        }
    }
    if gone.is_empty() {
        // Everything named was deleted before: nothing to do, nothing to tell.
        return Ok(Outcome::quiet(MessageAck::default()));
    }
    for g in &gone {
        conn.execute(SQL_DELETE_ROW, args![caller, g.id])?;
        conn.execute(
            "INSERT OR IGNORE INTO deleted_messages (user_id, message_id, sent_time) VALUES (?1, ?2, ?3)",
            args![caller, g.id, g.sent_time],
        )?;
    }
    let uids: Vec<&str> = gone.iter().map(|g| g.uid.as_str()).collect();
    notify(
        conn,
        caller,
        conv,
        json!({ "messageUIds": uids }),
        None,
        now,
    )
}

fn push_gone(gone: &mut Vec<Gone>, s: &Stored) {
    if gone.iter().all(|g| g.id != s.id) {
        gone.push(Gone {
            id: s.id,
            uid: s.message.message_uid.clone(),
            sent_time: s.message.sent_time,
        });
    }
}

/// The recall notice of a recalled message, or the message a recall notice recalled.
fn related(conn: &dyn Db, s: &Stored) -> Result<Vec<Stored>, ApiError> {
    let mut out = Vec::new();
    if let Some(notice_id) = s.recalled_by {
        let uid: Option<String> = conn.optional(
            "SELECT uid FROM messages WHERE id = ?1",
            args![notice_id],
            |r| r.get(0),
        )?;
        if let Some(n) = uid.map(|u| messages::load(conn, &u)).transpose()?.flatten() {
            out.push(n);
        }
    }
    if s.message.object_name == object_names::RECALL_NOTICE && !s.message.ref_message_uid.is_empty()
    {
        if let Some(original) = messages::load(conn, &s.message.ref_message_uid)? {
            out.push(original);
        }
    }
    Ok(out)
}

fn tombstoned(conn: &dyn Db, user: &str, message_id: i64) -> Result<bool, ApiError> {
    conn.exists(SQL_TOMBSTONED, args![user, message_id])
}

fn clear(
    conn: &dyn Db,
    caller: &str,
    conv: Conversation,
    before: i64,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    if before < 0 {
        return Err(ApiError::invalid("clearBefore must be a time >= 0"));
    }
    // The notice's own time is later than every message of the conversation stored so
    // far; capping the cut there keeps messages that arrive after the notice out of it on
    // every device, whatever time the client named.
    // Large-group entries not yet copied into the caller's inbox are copied first, or those
    // sent before the cut would arrive after it, uncleared.
    let copied = super::timeline::catch_up(conn, &[caller], now)?;
    let time = messages::conversation_time(conn, caller, &conv, now)?;
    let cut = before.min(time);
    conn.execute(
        SQL_CLEAR,
        args![caller, conv.r#type, conv.channel_id, conv.target_id, cut],
    )?;
    let mut outcome = notify(
        conn,
        caller,
        conv,
        json!({ "clearBefore": cut }),
        Some(time),
        now,
    )?;
    outcome.deliveries.splice(0..0, copied);
    Ok(outcome)
}

/// Appends the RC:MsgDelNtf notice to the caller's own inbox.
fn notify(
    conn: &dyn Db,
    caller: &str,
    conv: Conversation,
    content: serde_json::Value,
    time: Option<i64>,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    let time = match time {
        Some(t) => t,
        None => messages::conversation_time(conn, caller, &conv, now)?,
    };
    let msg = messages::notice(
        caller,
        conv,
        object_names::DELETE_NOTICE,
        content,
        false,
        "",
    );
    let (ack, deliveries) = messages::append_at(conn, msg, &[caller.to_owned()], time)?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

#[cfg(test)]
mod tests {
    use imsync_protocol::{
        codes, ConversationType, InboxEntry, Message, MessageRefs, SendMessageRequest,
    };
    use rusqlite::Connection;
    use serde_json::Value;

    use super::*;
    use crate::store::schema;

    const T: i64 = 1_700_000_000_000;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        (dir, conn)
    }

    fn private(target: &str) -> Conversation {
        Conversation {
            r#type: ConversationType::Private as i32,
            target_id: target.into(),
            channel_id: String::new(),
        }
    }

    fn send(conn: &Connection, from: &str, conv: Conversation, text: &str, now: i64) -> MessageAck {
        let req = SendMessageRequest {
            client_msg_id: format!("{from}-{text}"),
            conversation: Some(conv),
            object_name: "RC:TxtMsg".into(),
            content: json!({ "content": text }).to_string(),
            is_persisted: true,
            is_counted: true,
            ..Default::default()
        };
        let valid = validate::send(from, &req).unwrap();
        messages::send(conn, from, valid, now).unwrap().value
    }

    fn inbox(conn: &Connection, user: &str) -> Vec<InboxEntry> {
        messages::pull(conn, user, 0, 500).unwrap().entries
    }

    fn texts(entries: &[InboxEntry]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| e.message.as_ref())
            .filter(|m| m.object_name == "RC:TxtMsg")
            .map(|m| {
                serde_json::from_str::<Value>(&m.content).unwrap()["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    fn history_texts(conn: &Connection, user: &str, peer: &str) -> Vec<String> {
        let page = messages::history(conn, user, Some(&private(peer)), 0, 100, 0).unwrap();
        let entries: Vec<InboxEntry> = page
            .messages
            .into_iter()
            .map(|m| InboxEntry {
                seq: 0,
                message: Some(m),
            })
            .collect();
        let mut t = texts(&entries);
        t.reverse();
        t
    }

    fn refs(items: &[(&str, i64)]) -> Option<What> {
        Some(What::Messages(MessageRefs {
            messages: items
                .iter()
                .map(|(uid, t)| MessageRef {
                    message_uid: (*uid).into(),
                    sent_time: *t,
                })
                .collect(),
        }))
    }

    fn last_notice(entries: &[InboxEntry]) -> Message {
        entries
            .iter()
            .rev()
            .filter_map(|e| e.message.clone())
            .find(|m| m.object_name == object_names::DELETE_NOTICE)
            .expect("a delete notice")
    }

    #[test]
    fn deleting_by_uid_removes_the_callers_copy_only_and_leaves_a_notice() {
        let (_d, conn) = db();
        let a1 = send(&conn, "alice", private("bob"), "one", T);
        let a2 = send(&conn, "alice", private("bob"), "two", T + 1);
        let b3 = send(&conn, "bob", private("alice"), "three", T + 2);
        let out = delete(
            &conn,
            "alice",
            Some(&private("bob")),
            refs(&[
                (a2.message_uid.as_str(), a2.sent_time),
                (b3.message_uid.as_str(), b3.sent_time),
            ]),
            T + 10,
        )
        .unwrap();
        assert!(out.value.seq > 0, "the notice has a seq in alice's inbox");
        assert_eq!(
            out.deliveries.len(),
            1,
            "only alice's own inbox gets the notice"
        );
        let alice = inbox(&conn, "alice");
        assert_eq!(texts(&alice), vec!["one"]);
        let notice = last_notice(&alice);
        assert_eq!(
            notice.direction,
            imsync_protocol::MessageDirection::Send as i32
        );
        assert!(!notice.is_persisted);
        let content: Value = serde_json::from_str(&notice.content).unwrap();
        assert_eq!(
            content["messageUIds"],
            json!([a2.message_uid, b3.message_uid])
        );
        assert_eq!(history_texts(&conn, "alice", "bob"), vec!["one"]);
        // bob keeps everything.
        assert_eq!(texts(&inbox(&conn, "bob")), vec!["one", "two", "three"]);
        assert_eq!(
            history_texts(&conn, "bob", "alice"),
            vec!["one", "two", "three"]
        );
        // Deleting again is a no-op: no second notice.
        let again = delete(
            &conn,
            "alice",
            Some(&private("bob")),
            refs(&[(a2.message_uid.as_str(), a2.sent_time)]),
            T + 20,
        )
        .unwrap();
        assert_eq!(again.value, MessageAck::default());
        assert!(again.deliveries.is_empty());
        let _ = a1;
    }

    #[test]
    fn a_bad_or_foreign_item_refuses_the_whole_request() {
        let (_d, conn) = db();
        let a1 = send(&conn, "alice", private("bob"), "one", T);
        let c1 = send(&conn, "alice", private("carol"), "to carol", T + 1);
        let d1 = send(&conn, "dave", private("erin"), "not alice's", T + 2);
        let before = inbox(&conn, "alice").len();
        let good = (a1.message_uid.as_str(), a1.sent_time);
        for (what, expect) in [
            (
                refs(&[good, (c1.message_uid.as_str(), c1.sent_time)]),
                "another conversation",
            ),
            (refs(&[good, ("NO-SUCH-UID", 1)]), "no such message"),
            (
                refs(&[good, (a1.message_uid.as_str(), a1.sent_time + 1)]),
                "sentTime",
            ),
            (refs(&[good, ("", 1)]), "messageUId"),
            (refs(&[]), "1 to 100"),
            (None, "clearBefore"),
        ] {
            let e = match delete(&conn, "alice", Some(&private("bob")), what, T + 9) {
                Err(e) => e,
                Ok(_) => panic!("accepted a request that should fail with {expect:?}"),
            };
            assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER, "{}", e.msg);
            assert!(e.msg.contains(expect), "{}", e.msg);
        }
        // dave's message in dave's conversation with erin: alice never had it.
        let e = delete(
            &conn,
            "alice",
            Some(&private("dave")),
            refs(&[(d1.message_uid.as_str(), d1.sent_time)]),
            T + 9,
        )
        .err()
        .expect("refused");
        assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER);
        let too_many: Vec<(String, i64)> = (0..=MAX_DELETE_MESSAGES)
            .map(|_| (a1.message_uid.clone(), a1.sent_time))
            .collect();
        let too_many: Vec<(&str, i64)> = too_many.iter().map(|(u, t)| (u.as_str(), *t)).collect();
        assert!(delete(&conn, "alice", Some(&private("bob")), refs(&too_many), T).is_err());
        let room = Conversation {
            r#type: ConversationType::Chatroom as i32,
            ..private("room")
        };
        let e = delete(&conn, "alice", Some(&room), refs(&[good]), T)
            .err()
            .expect("refused");
        assert_eq!(e.code, codes::CONVERSATION_TYPE_NOT_SUPPORT);
        // The error paths ran before any write (the write job's savepoint would also roll
        // them back): alice's inbox is untouched.
        assert_eq!(inbox(&conn, "alice").len(), before);
    }

    #[test]
    fn clear_removes_the_callers_messages_before_the_time_and_caps_the_cut() {
        let (_d, conn) = db();
        let m1 = send(&conn, "alice", private("bob"), "one", T);
        let m2 = send(&conn, "bob", private("alice"), "two", T + 1);
        send(
            &conn,
            "alice",
            private("carol"),
            "other conversation",
            T + 2,
        );
        let out = delete(
            &conn,
            "alice",
            Some(&private("bob")),
            Some(What::ClearBefore(m2.sent_time)),
            T + 5,
        )
        .unwrap();
        assert_eq!(
            history_texts(&conn, "alice", "bob"),
            vec!["two"],
            "strictly before"
        );
        let alice = inbox(&conn, "alice");
        assert_eq!(texts(&alice), vec!["two", "other conversation"]);
        let content: Value = serde_json::from_str(&last_notice(&alice).content).unwrap();
        assert_eq!(content["clearBefore"], json!(m2.sent_time));
        assert!(out.value.sent_time > m2.sent_time);
        // A time in the future is capped at the notice: a later message survives.
        let far = T + 1_000_000_000;
        let out = delete(
            &conn,
            "alice",
            Some(&private("bob")),
            Some(What::ClearBefore(far)),
            T + 6,
        )
        .unwrap();
        let content: Value =
            serde_json::from_str(&last_notice(&inbox(&conn, "alice")).content).unwrap();
        assert_eq!(content["clearBefore"], json!(out.value.sent_time));
        let later = send(&conn, "bob", private("alice"), "later", T + 7);
        assert!(later.sent_time < far);
        assert_eq!(history_texts(&conn, "alice", "bob"), vec!["later"]);
        assert_eq!(
            history_texts(&conn, "bob", "alice"),
            vec!["one", "two", "later"]
        );
        assert!(delete(
            &conn,
            "alice",
            Some(&private("bob")),
            Some(What::ClearBefore(-1)),
            T
        )
        .is_err());
        let _ = m1;
    }

    #[test]
    fn deleting_a_recalled_message_takes_its_recall_notice_too() {
        let (_d, conn) = db();
        let m = send(&conn, "bob", private("alice"), "oops", T);
        let recall = messages::recall(
            &conn,
            "bob",
            messages::Recall {
                message_uid: m.message_uid.clone(),
                conversation: Some(private("alice")),
                sent_time: m.sent_time,
                is_delete: false,
                disable_notification: false,
                push_config: None,
                extra: String::new(),
                user_json: String::new(),
            },
            T + 1,
        )
        .unwrap()
        .value;
        delete(
            &conn,
            "alice",
            Some(&private("bob")),
            refs(&[(m.message_uid.as_str(), m.sent_time)]),
            T + 2,
        )
        .unwrap();
        let alice = inbox(&conn, "alice");
        assert!(
            alice.iter().all(|e| {
                let msg = e.message.as_ref().unwrap();
                msg.message_uid != m.message_uid && msg.message_uid != recall.message_uid
            }),
            "neither the message nor its recall notice is left: {alice:?}"
        );
        let content: Value = serde_json::from_str(&last_notice(&alice).content).unwrap();
        assert_eq!(
            content["messageUIds"],
            json!([m.message_uid, recall.message_uid])
        );
        // bob still has both.
        assert_eq!(inbox(&conn, "bob").len(), 2);
    }
}
