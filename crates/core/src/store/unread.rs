//! Unread and mention counts. The per-conversation counters are kept by every write in
//! the same transaction, and the totals over all conversations by triggers on those rows
//! (migration 2), so no count walks the conversations.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{conversations, inbox};
use crate::error::ImResult;
use crate::model::conversation_type;

/// `IN (...)` of validated conversation types.
fn type_list(types: &[i64]) -> String {
    let list: Vec<String> = types.iter().map(i64::to_string).collect();
    format!("({})", list.join(", "))
}

/// `getTotalUnreadCount`: the sum over listed conversations of `types`, read from the
/// trigger-kept totals.
pub fn total(conn: &Connection, include_muted: bool, types: &[i64]) -> ImResult<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT coalesce(sum(unread), 0) FROM unread_totals WHERE type IN {} AND (muted = 0 OR ?1)",
            type_list(types)
        ))?
        .query_row([include_muted], |r| r.get(0))?)
}

/// `getAllUnreadMentionedCount`: unread @-messages of (normal) groups.
pub fn all_mentions(conn: &Connection) -> ImResult<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(sum(mentions), 0) FROM unread_totals WHERE type = ?1")?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::NewMessage;
    use crate::model::ConversationKey;
    use crate::store::writes;

    fn received(t: i64, target: &str, time: i64, mentioned: bool) -> NewMessage {
        NewMessage {
            mentioned,
            ..crate::message::test_received(t, target, time, "x")
        }
    }

    /// The trigger-kept totals against a sum over every conversation row.
    fn check(conn: &Connection) {
        for types in [&[1i64, 2, 3, 5, 6][..], &[1], &[3, 6]] {
            for muted in [false, true] {
                let brute: i64 = conn
                    .query_row(
                        &format!(
                            "SELECT coalesce(sum(unread_count), 0) FROM conversations WHERE hidden = 0 \
                             AND type IN {} AND (?1 OR level IN (-1, 0))",
                            type_list(types)
                        ),
                        [muted],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(
                    total(conn, muted, types).unwrap(),
                    brute,
                    "{types:?} {muted}"
                );
            }
        }
        let mentions: i64 = conn
            .query_row(
                "SELECT coalesce(sum(mention_count), 0) FROM conversations WHERE hidden = 0 AND type = 3",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(all_mentions(conn).unwrap(), mentions);
    }

    #[test]
    fn totals_follow_inserts_reads_levels_hiding_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        crate::store::tokenizer::register(&conn).unwrap();
        crate::store::migrations_for_tests(&mut conn);
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for step in 0..400i64 {
            let t = [1, 3, 6][next(3) as usize];
            let target = format!("c{}", next(12));
            match next(6) {
                0..=2 => {
                    writes::insert(
                        &conn,
                        &[received(t, &target, step, t == 3 && next(3) == 0)],
                        None,
                    )
                    .unwrap();
                }
                3 => {
                    conn.execute(
                        "UPDATE conversations SET level = ?1 WHERE target = ?2",
                        rusqlite::params![[-1, 0, 1, 2, 4, 5][next(6) as usize], target],
                    )
                    .unwrap();
                }
                4 => {
                    if let Some(id) = conversations::find_id(
                        &conn,
                        &ConversationKey {
                            conversation_type: t,
                            target_id: target.clone(),
                            channel_id: String::new(),
                        },
                    )
                    .unwrap()
                    {
                        if next(2) == 0 {
                            clear(&conn, id).unwrap();
                        } else {
                            inbox::mark_read_up_to(&conn, id, step - 5).unwrap();
                        }
                    }
                }
                _ => {
                    conn.execute(
                        "UPDATE conversations SET hidden = ?1 WHERE target = ?2",
                        rusqlite::params![next(2) as i64, target],
                    )
                    .unwrap();
                }
            }
            check(&conn);
        }
        clear_all(&conn).unwrap();
        check(&conn);
        assert_eq!(total(&conn, true, &[1, 2, 3, 5, 6]).unwrap(), 0);
    }
}
