//! The write side of the search index, and the exact search over what it has not indexed
//! yet.
//!
//! Feeding FTS5 in the transaction of every insert made it flush a segment of thousands of
//! tiny doclists per call (about 40 tokens a message, hundreds of thousands of distinct CJK
//! bigrams) and merge them over and over: it was the largest cost of ingest. So a new
//! message's search text goes to the `fts_pending` backlog in the message's own transaction,
//! and the writer moves the backlog into FTS5 in large batches, when it passes
//! [`BATCH`] rows or when the writer has been idle for [`IDLE`]. Searches read the index
//! and the backlog (through [`CONTAINS_FN`], the same folded-substring rule the tokenizer
//! indexes) in one snapshot, so a message is found the moment its insert commits.

use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection};

use super::tokenizer::{escape_text, fold, fold_str};
use crate::error::ImResult;
use crate::message::flag;
use crate::registry::FIELD_SEPARATOR;

/// Rows moved into FTS5 per indexing transaction: large enough that FTS5 writes one
/// segment of long doclists instead of many short ones; small enough that the writer is
/// not held for long and the exact scan of the backlog stays a few ms.
pub const BATCH: usize = 8192;

/// Rows moved into FTS5 between two looks at the writer's queue. A transaction stops early,
/// at a multiple of this, once a write is waiting: an 8,192-row batch holds the writer for
/// about 0.4 s, and a user's send should not wait behind the indexing of a sync burst.
pub const CHUNK: usize = 1024;

/// How long the writer waits for more work before it indexes a smaller backlog.
pub const IDLE: Duration = Duration::from_millis(50);

/// `imsync_contains(text, needle)`: whether one field of the stored search text contains
/// the folded keyword (see [`needle`]).
pub const CONTAINS_FN: &str = "imsync_contains";

/// Writes of at most this many messages go straight into FTS5: one message costs FTS5 no
/// more now than later, and the database then holds no backlog the writer would come back
/// to (a single insert leaves nothing behind to write after it has answered).
pub const DIRECT_MAX: usize = 64;

/// Indexes a message's search text: at once when `direct`, else through the backlog.
pub fn add(conn: &Connection, id: i64, text: &str, direct: bool) -> ImResult<()> {
    let sql = if direct {
        "INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)"
    } else {
        "INSERT INTO fts_pending (id, text) VALUES (?1, ?2)"
    };
    conn.prepare_cached(sql)?.execute(params![id, text])?;
    Ok(())
}

/// Removes a message's search text, wherever it is.
pub fn remove(conn: &Connection, id: i64) -> ImResult<()> {
    let queued = conn
        .prepare_cached("DELETE FROM fts_pending WHERE id = ?1")?
        .execute([id])?;
    if queued == 0 {
        conn.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// Gives a stored message new search text (`None`: none), wherever its old text is;
/// returns its `flags` with `INDEXED` set to match.
pub fn replace(conn: &Connection, id: i64, flags: i64, text: Option<&str>) -> ImResult<i64> {
    if flags & flag::INDEXED != 0 {
        remove(conn, id)?;
    }
    match text {
        Some(text) => {
            add(conn, id, text, true)?;
            Ok(flags | flag::INDEXED)
        }
        None => Ok(flags & !flag::INDEXED),
    }
}

/// Rows waiting to be indexed.
pub fn backlog(conn: &Connection) -> ImResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM fts_pending")?
        .query_row([], |r| r.get(0))?)
}

/// Moves up to `max` of the oldest queued rows into FTS5; runs inside the caller's write
/// transaction. Returns how many moved.
pub fn index_backlog(conn: &Connection, max: usize) -> ImResult<usize> {
    let moved = conn
        .prepare_cached(
            "INSERT INTO messages_fts (rowid, text) \
             SELECT id, text FROM fts_pending ORDER BY id LIMIT ?1",
        )?
        .execute([max as i64])?;
    conn.prepare_cached(
        "DELETE FROM fts_pending WHERE id IN (SELECT id FROM fts_pending ORDER BY id LIMIT ?1)",
    )?
    .execute([max as i64])?;
    Ok(moved)
}

/// The keyword as [`CONTAINS_FN`] compares it: escaped and folded as the index stores text.
pub fn needle(keyword: &str) -> String {
    fold_str(&escape_text(keyword))
}

/// The rule the tokenizer's index answers: some field of `text` (fields are separated by
/// [`FIELD_SEPARATOR`]), case-folded character by character, contains `needle`.
pub fn contains(text: &str, needle: &str) -> bool {
    if needle.is_empty() || needle.contains(FIELD_SEPARATOR) {
        return false;
    }
    let mut field = String::with_capacity(text.len());
    for piece in text.split(FIELD_SEPARATOR) {
        field.clear();
        field.extend(piece.chars().map(fold));
        if field.contains(needle) {
            return true;
        }
    }
    false
}

/// Registers [`CONTAINS_FN`] on a connection that searches.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        CONTAINS_FN,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get_raw(0).as_str_or_null().ok().flatten();
            let needle = ctx.get_raw(1).as_str_or_null().ok().flatten();
            Ok(match (text, needle) {
                (Some(t), Some(n)) => contains(t, n),
                _ => false,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{test_received, NewMessage};
    use crate::store::{search, writes};

    fn text(target: &str, time: i64, words: &str) -> NewMessage {
        NewMessage {
            search_text: Some(words.into()),
            flags: flag::PERSISTED | flag::COUNTED | flag::INDEXED,
            ..test_received(1, target, time, words)
        }
    }

    /// (ids found by a message search in `target`'s conversation, conversations found).
    fn found(conn: &Connection, conv: i64, keyword: &str) -> (Vec<i64>, usize) {
        let f = search::Filter {
            conv_ids: &[conv],
            min_time: 0,
            max_time: i64::MAX,
            types: None,
            sender: None,
        };
        let ids = search::matching_ids(conn, Some(keyword), &f).unwrap();
        let convs = search::conversations_with(conn, keyword, &[], None).unwrap();
        (ids, convs.parse().as_array().unwrap().len())
    }

    #[test]
    fn searches_are_exact_before_during_and_after_indexing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        crate::store::tokenizer::register(&conn).unwrap();
        register(&conn).unwrap();
        crate::store::migrations_for_tests(&mut conn);
        // More than DIRECT_MAX messages: they go through the backlog.
        let mut batch = vec![
            text("a", 1, "Hello 世界"),
            text("a", 2, "second hello"),
            text("b", 3, "世界 news"),
        ];
        batch.extend((0..DIRECT_MAX as i64).map(|i| text("z", 10 + i, "filler")));
        let out = writes::insert(&conn, &batch, None).unwrap();
        let id = |i: usize| match out[i] {
            writes::Outcome::Inserted(id) => id,
            other => panic!("{other:?}"),
        };
        let conv_a = crate::store::conversations::conv_of(id(0));
        let queued = batch.len() as i64;
        assert_eq!(backlog(&conn).unwrap(), queued);
        assert_eq!(found(&conn, conv_a, "HELLO"), (vec![id(1), id(0)], 1));
        assert_eq!(found(&conn, conv_a, "世界").1, 2);

        // One row indexed, two still queued: both halves answer.
        assert_eq!(index_backlog(&conn, 1).unwrap(), 1);
        assert_eq!(backlog(&conn).unwrap(), queued - 1);
        assert_eq!(found(&conn, conv_a, "hello"), (vec![id(1), id(0)], 1));
        assert_eq!(found(&conn, conv_a, "世界"), (vec![id(0)], 2));

        // Removal works on either side.
        remove(&conn, id(0)).unwrap();
        remove(&conn, id(1)).unwrap();
        assert_eq!(found(&conn, conv_a, "hello"), (vec![], 0));
        assert_eq!(index_backlog(&conn, 1000).unwrap(), queued as usize - 2);
        assert_eq!(backlog(&conn).unwrap(), 0);
        // A small write is indexed at once: nothing is left for the writer to do later.
        writes::insert(&conn, &[text("a", 99, "direct words")], None).unwrap();
        assert_eq!(backlog(&conn).unwrap(), 0);
        assert_eq!(found(&conn, conv_a, "DIRECT").0.len(), 1);
        assert_eq!(found(&conn, conv_a, "世界"), (vec![], 1));
        let flags = replace(&conn, id(2), flag::INDEXED, Some("renamed")).unwrap();
        assert_eq!(flags, flag::INDEXED);
        assert_eq!(
            found(&conn, conv_a, "世界").1,
            0,
            "the indexed text is gone"
        );
        assert_eq!(found(&conn, conv_a, "renamed").1, 1);
    }

    #[test]
    fn contains_follows_the_index_rule() {
        let text = format!("Hello 世界{FIELD_SEPARATOR}second FIELD");
        assert!(contains(&text, &needle("hello")));
        assert!(contains(&text, &needle("O 世")));
        assert!(contains(&text, &needle("d f")));
        assert!(!contains(&text, &needle("界s")), "never across fields");
        assert!(!contains(&text, &needle(&FIELD_SEPARATOR.to_string())));
        assert!(!contains(&text, ""));
        let escaped = escape_text("a\0b").into_owned();
        assert!(contains(&escaped, &needle("A\0B")));
    }
}
