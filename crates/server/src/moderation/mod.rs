//! The server-side sensitive-word filter (seed 002 "内容审核概述" and "敏感信息拦截回调",
//! seed-inventory §2.26): the admin keeps a list of at most [`MAX_WORDS`] words, each
//! blocking or replacing; client sends of `RC:TxtMsg` are checked on their `content`
//! text (the vendor's default: text messages only, client sends only — admin publishes
//! are not filtered).
//!
//! A blocked message is stored nowhere and reaches no one. The send still succeeds for
//! the sender, as the vendor's does (its sender learns of the block only through the
//! MESSAGE_BLOCKED listener): the ack carries a message uid and `moderation.code`
//! 21501, and the sender's inbox receives an `imsync:BlkNtf` entry holding the vendor's
//! `IBlockedMessageInfo`, so every device of the sender hears of it, even one that was
//! offline. A replaced message is stored and delivered masked, the sender's copy too
//! (`Message.content_replaced`; the ack's `moderation` carries the masked content).

pub mod filter;

use std::sync::{Arc, Mutex, OnceLock};

use imsync_protocol::{
    codes, object_names, Conversation, MessageAck, SendModeration, MAX_CONTENT_BYTES,
};
use serde_json::{json, Value};

use self::filter::{fold, Action, Filter, Verdict, Word};
use crate::args;
use crate::clock::new_message_uid;
use crate::error::ApiError;
use crate::store::sql::Db;
use crate::store::{messages, Outcome};
use crate::validate::ValidSend;

/// Most words in the list by default (the vendor's default limit, seed 002 "默认最多设置
/// 50 个敏感词"); `--max-sensitive-words` changes it.
pub const MAX_WORDS: usize = 50;
/// Longest word or replacement, in characters (the vendor's server API limit).
pub const MAX_WORD_CHARS: usize = 32;
/// What a replace word without its own replacement becomes.
pub const DEFAULT_MASK: &str = "***";
/// The vendor's MessageBlockType CUSTOM: the app's own word list (imsync has no
/// built-in global list, so blocks are never GLOBAL).
const BLOCK_TYPE_CUSTOM: i32 = 2;
/// The vendor's MessageBlockSourceType MSG_ORIGINAL: the message as sent.
const SOURCE_ORIGINAL: i32 = 0;

pub(crate) const SQL_WORDS: &str =
    "SELECT word, replace_word FROM sensitive_words ORDER BY created_at, folded";
pub(crate) const SQL_BLOCKED_DEDUP: &str =
    "SELECT uid, sent_time FROM blocked_sends WHERE sender = ?1 AND client_msg_id = ?2";

/// Checks a word (or replacement) given to the admin API.
pub fn validate_word(field: &str, word: &str) -> Result<(), ApiError> {
    let n = word.chars().count();
    if n == 0 || n > MAX_WORD_CHARS || word.trim().is_empty() || word.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!(
            "{field} must be 1..={MAX_WORD_CHARS} characters, not only spaces, without control characters"
        )));
    }
    Ok(())
}

/// The word list, oldest first.
pub fn list(conn: &dyn Db) -> Result<Vec<Word>, ApiError> {
    conn.all(SQL_WORDS, &[], |r| {
        let word: String = r.get(0)?;
        let replace: Option<String> = r.get(1)?;
        Ok(Word {
            word,
            action: replace.map_or(Action::Block, Action::Replace),
        })
    })
}

/// Adds `word`, or changes the action of a word already listed (in any letter case;
/// that does not count against the limit).
pub fn add(
    conn: &dyn Db,
    word: &str,
    action: &Action,
    max_words: usize,
    now: i64,
) -> Result<(), ApiError> {
    validate_word("word", word)?;
    if let Action::Replace(r) = action {
        validate_word("replaceWord", r)?;
    }
    let folded = fold(word);
    let exists = conn.exists(
        "SELECT 1 FROM sensitive_words WHERE folded = ?1",
        args![folded],
    )?;
    // The list is shown in the order words were added: two adds within one
    // millisecond still get distinct, increasing times.
    let mut added_at = now;
    if !exists {
        let (count, last): (i64, i64) = conn.one(
            "SELECT COUNT(*), COALESCE(MAX(created_at), 0) FROM sensitive_words",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count as usize >= max_words {
            return Err(ApiError::invalid(format!(
                "at most {max_words} sensitive words; remove one first"
            )));
        }
        added_at = now.max(last + 1);
    }
    let replace = match action {
        Action::Block => None,
        Action::Replace(r) => Some(r.as_str()),
    };
    conn.execute(
        "INSERT INTO sensitive_words (folded, word, replace_word, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(folded) DO UPDATE SET word = excluded.word, replace_word = excluded.replace_word",
        args![folded, word, replace, added_at],
    )?;
    Ok(())
}

/// Removes words (matched in any letter case); returns how many were listed.
pub fn remove(conn: &dyn Db, words: &[String]) -> Result<usize, ApiError> {
    let mut removed = 0;
    for w in words {
        removed += conn.execute(
            "DELETE FROM sensitive_words WHERE folded = ?1",
            args![fold(w)],
        )?;
    }
    Ok(removed)
}

/// The compiled filter of the words now in the database. The list is read in the
/// caller's transaction (so a send sees exactly the committed list) and compiled again
/// only when it changed.
fn current(conn: &dyn Db) -> Result<Arc<Filter>, ApiError> {
    static CACHE: OnceLock<Mutex<Option<Arc<Filter>>>> = OnceLock::new();
    let words = list(conn)?;
    let cache = CACHE.get_or_init(Default::default);
    let mut slot = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = slot.as_ref().filter(|f| f.words() == words.as_slice()) {
        return Ok(f.clone());
    }
    let f = Arc::new(Filter::new(words));
    *slot = Some(f.clone());
    Ok(f)
}

/// What the filter makes of a message: only `RC:TxtMsg` with a text `content` is
/// looked at; the masked content is the whole content JSON with its text replaced.
fn check(conn: &dyn Db, send: &ValidSend) -> Result<Option<(Verdict, String)>, ApiError> {
    let m = &send.message;
    if m.object_name != object_names::TEXT || m.is_status_message {
        return Ok(None);
    }
    let filter = current(conn)?;
    if filter.is_empty() {
        return Ok(None);
    }
    let Ok(mut content) = serde_json::from_str::<Value>(&m.content) else {
        return Ok(None);
    };
    let Some(text) = content.get("content").and_then(Value::as_str) else {
        return Ok(None);
    };
    Ok(match filter.check(text) {
        Verdict::Clean => None,
        Verdict::Blocked => Some((Verdict::Blocked, String::new())),
        Verdict::Replaced(masked) => {
            content["content"] = Value::String(masked.clone());
            let json = content.to_string();
            if json.len() > MAX_CONTENT_BYTES {
                return Err(ApiError::new(
                    codes::RC_MSG_CONTENT_EXCEED_LIMIT,
                    "content is above 128 KB once its sensitive words are replaced",
                ));
            }
            Some((Verdict::Replaced(masked), json))
        }
    })
}

/// A client send through the filter: the ack plus what the filter did.
pub fn send(
    conn: &dyn Db,
    sender: &str,
    mut send: ValidSend,
    now: i64,
) -> Result<Outcome<(MessageAck, Option<SendModeration>)>, ApiError> {
    let client_msg_id = send.message.client_msg_id.clone();
    // A resend of a blocked message answers as the first send did and tells no one again.
    if let Some((message_uid, sent_time)) =
        conn.optional(SQL_BLOCKED_DEDUP, args![sender, client_msg_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
    {
        let ack = MessageAck {
            message_uid,
            sent_time,
            ..MessageAck::default()
        };
        return Ok(Outcome::quiet((ack, Some(blocked()))));
    }
    if let Some((ack, stored)) = messages::dedup_with_message(conn, sender, &client_msg_id)? {
        let moderation = stored
            .filter(|m| m.content_replaced)
            .map(|m| replaced(m.content));
        return Ok(Outcome::quiet((ack, moderation)));
    }
    match check(conn, &send)? {
        None => {
            let out = messages::send(conn, sender, send, now)?;
            Ok(Outcome {
                value: (out.value, None),
                deliveries: out.deliveries,
            })
        }
        Some((Verdict::Replaced(_), content)) => {
            send.message.content = content.clone();
            send.message.content_replaced = true;
            let out = messages::send(conn, sender, send, now)?;
            Ok(Outcome {
                value: (out.value, Some(replaced(content))),
                deliveries: out.deliveries,
            })
        }
        Some(_) => block(conn, sender, &send, now),
    }
}

fn blocked() -> SendModeration {
    SendModeration {
        code: codes::SENSITIVE_SHIELD,
        content: String::new(),
    }
}

fn replaced(content: String) -> SendModeration {
    SendModeration {
        code: codes::SENSITIVE_REPLACE,
        content,
    }
}

/// A blocked send: routed first (a blacklist or membership refusal still answers as
/// usual), then remembered for deduplication without its content, and reported to the
/// sender's inbox only.
fn block(
    conn: &dyn Db,
    sender: &str,
    send: &ValidSend,
    now: i64,
) -> Result<Outcome<(MessageAck, Option<SendModeration>)>, ApiError> {
    messages::route(conn, sender, send)?;
    let uid = new_message_uid();
    let m = &send.message;
    conn.execute(
        "INSERT INTO blocked_sends (sender, client_msg_id, uid, sent_time) VALUES (?1, ?2, ?3, ?4)",
        args![sender, m.client_msg_id, uid, now],
    )?;
    let conv: Conversation = m.conversation.clone().unwrap_or_default();
    // IBlockedMessageInfo (seed 002 "敏感信息拦截回调"): extra is the blocked message's
    // extra (5.3.3); sourceContent only means something for ultra groups.
    let mut info = json!({
        "blockType": BLOCK_TYPE_CUSTOM,
        "blockedMessageUid": uid,
        "conversationType": conv.r#type,
        "targetId": conv.target_id,
        "channelId": conv.channel_id,
        "sourceType": SOURCE_ORIGINAL,
        "sourceContent": "",
    });
    if let Some(extra) = serde_json::from_str::<Value>(&m.content)
        .ok()
        .and_then(|c| c.get("extra").and_then(Value::as_str).map(str::to_owned))
    {
        info["extra"] = json!(extra);
    }
    let notice = messages::notice(
        sender,
        conv,
        object_names::BLOCKED_NOTICE,
        info,
        false,
        &uid,
    );
    let (_, deliveries) = messages::append(conn, notice, &[sender.to_owned()], now)?;
    Ok(Outcome {
        value: (
            MessageAck {
                message_uid: uid,
                sent_time: now,
                ..MessageAck::default()
            },
            Some(blocked()),
        ),
        deliveries,
    })
}

#[cfg(test)]
mod tests {
    use imsync_protocol::{ConversationType, InboxEntry, SendMessageRequest};
    use rusqlite::Connection;

    use super::*;
    use crate::fanout::Delivery;
    use crate::store::{delivery, groups, schema};
    use crate::validate;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        (dir, conn)
    }

    fn text_send(
        sender: &str,
        kind: ConversationType,
        to: &str,
        id: &str,
        text: &str,
    ) -> ValidSend {
        let req = SendMessageRequest {
            client_msg_id: id.into(),
            conversation: Some(Conversation {
                r#type: kind as i32,
                target_id: to.into(),
                channel_id: String::new(),
            }),
            object_name: "RC:TxtMsg".into(),
            content: json!({ "content": text, "extra": "e" }).to_string(),
            is_persisted: true,
            is_counted: true,
            ..Default::default()
        };
        validate::send(sender, &req).unwrap()
    }

    fn entries(deliveries: &[Delivery]) -> Vec<(String, InboxEntry)> {
        deliveries
            .iter()
            .filter_map(|d| match d {
                Delivery::Entry { user, entry } => Some((user.clone(), entry.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn words_added_in_one_millisecond_list_in_the_order_added() {
        let (_d, c) = db();
        for w in ["zeta", "Alpha", "mid"] {
            add(&c, w, &Action::Block, MAX_WORDS, 7).unwrap();
        }
        let words: Vec<_> = list(&c).unwrap().into_iter().map(|w| w.word).collect();
        assert_eq!(words, ["zeta", "Alpha", "mid"]);
    }

    #[test]
    fn words_are_added_listed_and_removed_case_insensitively_up_to_the_limit() {
        let (_d, c) = db();
        add(&c, "Bad", &Action::Block, MAX_WORDS, 1).unwrap();
        add(&c, "赌博", &Action::Replace("**".into()), MAX_WORDS, 2).unwrap();
        add(&c, "bAD", &Action::Replace("#".into()), MAX_WORDS, 3).unwrap();
        let words = list(&c).unwrap();
        assert_eq!(words.len(), 2, "one word whatever its case");
        assert_eq!(words[0].word, "bAD");
        assert_eq!(words[0].action, Action::Replace("#".into()));
        assert_eq!(
            add(&c, "", &Action::Block, MAX_WORDS, 4).unwrap_err().code,
            codes::BIZ_ERROR_INVALID_PARAMETER
        );
        let long = "x".repeat(MAX_WORD_CHARS + 1);
        assert!(add(&c, &long, &Action::Block, MAX_WORDS, 4).is_err());
        assert!(add(&c, "ok", &Action::Replace(" ".into()), MAX_WORDS, 4).is_err());
        for i in 2..MAX_WORDS {
            add(
                &c,
                &format!("w{i}"),
                &Action::Block,
                MAX_WORDS,
                10 + i as i64,
            )
            .unwrap();
        }
        assert_eq!(list(&c).unwrap().len(), MAX_WORDS);
        let e = add(&c, "one-more", &Action::Block, MAX_WORDS, 100).unwrap_err();
        assert!(e.msg.contains("at most 50"), "{}", e.msg);
        // Changing a listed word is not adding one.
        add(&c, "W2", &Action::Replace("*".into()), MAX_WORDS, 101).unwrap();
        assert_eq!(remove(&c, &["BAD".into(), "nope".into()]).unwrap(), 1);
        add(&c, "one-more", &Action::Block, MAX_WORDS, 102).unwrap();
        assert_eq!(list(&c).unwrap().len(), MAX_WORDS);
        // --max-sensitive-words raises (or lowers) the limit.
        add(&c, "fifty-one", &Action::Block, MAX_WORDS + 1, 103).unwrap();
        assert!(add(&c, "fifty-two", &Action::Block, MAX_WORDS + 1, 104).is_err());
    }

    #[test]
    fn blocked_sends_reach_only_the_senders_notice_and_dedupe() {
        let (_d, c) = db();
        add(&c, "spam", &Action::Block, MAX_WORDS, 1).unwrap();
        let out = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c1", "SPAM!"),
            10,
        )
        .unwrap();
        let (ack, moderation) = out.value;
        assert_eq!(moderation.unwrap().code, codes::SENSITIVE_SHIELD);
        assert_eq!(ack.seq, 0, "not in the sender's inbox");
        let got = entries(&out.deliveries);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "alice");
        let m = got[0].1.message.clone().unwrap();
        assert_eq!(m.object_name, object_names::BLOCKED_NOTICE);
        let info: Value = serde_json::from_str(&m.content).unwrap();
        assert_eq!(info["blockedMessageUid"], json!(ack.message_uid));
        assert_eq!(info["blockType"], json!(2));
        assert_eq!(info["targetId"], json!("bob"));
        assert_eq!(info["extra"], json!("e"));
        let stored: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE object_name = 'RC:TxtMsg'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 0, "the blocked text is stored nowhere");
        assert_eq!(messages::head_seq(&c, "bob").unwrap(), 0);
        // A resend answers the same and tells no one again.
        let again = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c1", "SPAM!"),
            11,
        )
        .unwrap();
        assert_eq!(again.value.0, ack);
        assert!(again.deliveries.is_empty());
        // A blacklist refusal still wins.
        crate::store::settings::blacklist_add(&c, "bob", "alice", 12).unwrap();
        let refused = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c2", "spam"),
            13,
        );
        assert_eq!(
            refused.err().map(|e| e.code),
            Some(codes::REJECTED_BY_BLACKLIST)
        );
    }

    #[test]
    fn replaced_sends_are_stored_masked_for_everyone() {
        let (_d, c) = db();
        add(
            &c,
            "darn",
            &Action::Replace(DEFAULT_MASK.into()),
            MAX_WORDS,
            1,
        )
        .unwrap();
        let out = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c1", "Darn it"),
            10,
        )
        .unwrap();
        let moderation = out.value.1.unwrap();
        assert_eq!(moderation.code, codes::SENSITIVE_REPLACE);
        let masked: Value = serde_json::from_str(&moderation.content).unwrap();
        assert_eq!(masked, json!({ "content": "*** it", "extra": "e" }));
        for (user, entry) in entries(&out.deliveries) {
            let m = entry.message.unwrap();
            assert!(m.content_replaced, "{user}");
            assert_eq!(
                serde_json::from_str::<Value>(&m.content).unwrap(),
                masked,
                "{user}"
            );
        }
        // A resend learns the same.
        let again = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c1", "Darn it"),
            11,
        )
        .unwrap();
        assert_eq!(again.value.1, Some(moderation));
        // Clean text passes untouched.
        let clean = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "c3", "fine"),
            12,
        )
        .unwrap();
        assert_eq!(clean.value.1, None);
    }

    #[test]
    fn acks_receipt_each_message_once_to_its_sender() {
        let (_d, c) = db();
        let members = ["alice".to_string(), "bob".into(), "carol".into()];
        groups::create_or_join(&c, "g1", None, &members, 0, 1).unwrap();
        send(
            &c,
            "alice",
            text_send("alice", ConversationType::Private, "bob", "p1", "hi"),
            10,
        )
        .unwrap();
        let g = send(
            &c,
            "alice",
            text_send("alice", ConversationType::Group, "g1", "g1", "all"),
            11,
        )
        .unwrap();
        let group_uid = g.value.0.message_uid;
        // bob stored both.
        let head = messages::head_seq(&c, "bob").unwrap();
        let out = delivery::ack(&c, "bob", head + 5, 20).unwrap();
        let got = entries(&out.deliveries);
        assert_eq!(got.len(), 2, "one notice per conversation");
        assert!(got.iter().all(|(u, _)| u == "alice"));
        let group_notice = got
            .iter()
            .map(|(_, e)| e.message.clone().unwrap())
            .find(|m| m.conversation.as_ref().unwrap().r#type == ConversationType::Group as i32)
            .unwrap();
        let content: Value = serde_json::from_str(&group_notice.content).unwrap();
        assert_eq!(content["list"][0]["messageUId"], json!(group_uid));
        assert_eq!(content["list"][0]["deliveryCount"], json!(1));
        assert_eq!(content["list"][0]["totalCount"], json!(2));
        let private_notice = got
            .iter()
            .map(|(_, e)| e.message.clone().unwrap())
            .find(|m| m.conversation.as_ref().unwrap().r#type == ConversationType::Private as i32)
            .unwrap();
        assert_eq!(
            private_notice.conversation.unwrap().target_id,
            "bob",
            "alice's view"
        );
        // Acking again (or less) receipts nothing.
        assert!(delivery::ack(&c, "bob", head, 21)
            .unwrap()
            .deliveries
            .is_empty());
        // alice acking her own inbox (her copies, the notices) receipts nothing.
        let alice_head = messages::head_seq(&c, "alice").unwrap();
        assert!(delivery::ack(&c, "alice", alice_head, 22)
            .unwrap()
            .deliveries
            .is_empty());
        // carol makes it two of two.
        let out = delivery::ack(&c, "carol", 100, 23).unwrap();
        let (_, e) = &entries(&out.deliveries)[0];
        let content: Value = serde_json::from_str(&e.message.as_ref().unwrap().content).unwrap();
        assert_eq!(content["list"][0]["deliveryCount"], json!(2));
    }
}
