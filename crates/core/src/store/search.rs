//! Local search. Keywords are matched through the `imsync` FTS5 index (exact,
//! case-insensitive substrings of any length); filters and ordering run on the normal
//! indexes. A conversation is a rowid range of the index (see `conversations::id_range`),
//! so per-conversation search never visits other conversations' matches.

use std::collections::{HashMap, HashSet};

use rusqlite::{params_from_iter, types::Value as Sql, Connection, OptionalExtension};

use super::conversations::{self, conv_of, id_range};
use super::history;
use super::search_index;
use super::tokenizer::match_expression;
use crate::error::ImResult;
use crate::json_text::{JsonWriter, RawJson};

/// What a message search is restricted to besides its keyword.
pub struct Filter<'a> {
    pub conv_ids: &'a [i64],
    /// Inclusive bounds on sentTime.
    pub min_time: i64,
    pub max_time: i64,
    pub types: Option<&'a [String]>,
    pub sender: Option<&'a str>,
}

/// A read transaction unless the caller holds one: a search runs several statements (per
/// conversation, index and backlog, then the page), and the writer may move rows from the
/// backlog into the index between two of them; one snapshot sees every row exactly once.
fn snapshot(conn: &Connection) -> ImResult<Option<rusqlite::Transaction<'_>>> {
    Ok(if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    })
}

/// Matching message ids, newest first (sentTime, then id, descending).
pub fn matching_ids(
    conn: &Connection,
    keyword: Option<&str>,
    f: &Filter<'_>,
) -> ImResult<Vec<i64>> {
    let _snapshot = snapshot(conn)?;
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &conv_id in f.conv_ids {
        let mut params: Vec<Sql> = vec![
            Sql::Integer(conv_id),
            Sql::Integer(f.min_time),
            Sql::Integer(f.max_time),
        ];
        let mut sql = String::from(
            "SELECT m.id, m.sent_time FROM messages m WHERE m.conv_id = ?1 AND m.sent_time BETWEEN ?2 AND ?3",
        );
        if let Some(kw) = keyword {
            let (lo, hi) = id_range(conv_id);
            params.extend([
                Sql::Text(match_expression(kw)),
                Sql::Integer(lo),
                Sql::Integer(hi),
                Sql::Text(search_index::needle(kw)),
            ]);
            let n = params.len();
            // The index, and the backlog it has not taken in yet (see search_index.rs).
            sql.push_str(&format!(
                " AND m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?{} AND rowid BETWEEN ?{lo} AND ?{hi} \
                 UNION ALL SELECT id FROM fts_pending WHERE id BETWEEN ?{lo} AND ?{hi} AND {}(text, ?{n}))",
                n - 3,
                search_index::CONTAINS_FN,
                lo = n - 2,
                hi = n - 1,
            ));
        }
        if let Some(sender) = f.sender {
            params.push(Sql::Text(sender.to_string()));
            sql.push_str(&format!(" AND m.sender = ?{}", params.len()));
        }
        if let Some(types) = f.types.filter(|t| !t.is_empty()) {
            let first = params.len() + 1;
            params.extend(types.iter().map(|t| Sql::Text(t.clone())));
            let marks: Vec<String> = (first..first + types.len())
                .map(|i| format!("?{i}"))
                .collect();
            sql.push_str(&format!(" AND m.object_name IN ({})", marks.join(", ")));
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| Ok((r.get(1)?, r.get(0)?)))?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out.into_iter().map(|(_, id)| id).collect())
}

/// One page of a search as the API's `{ messages, count }` (count = total matches),
/// written as JSON text.
pub fn page(
    conn: &Connection,
    keyword: Option<&str>,
    f: &Filter<'_>,
    offset: usize,
    limit: usize,
) -> ImResult<RawJson> {
    let _snapshot = snapshot(conn)?;
    let ids = matching_ids(conn, keyword, f)?;
    let page: Vec<i64> = ids.iter().skip(offset).take(limit).copied().collect();
    let mut w = JsonWriter::with_capacity(512 * page.len() + 64);
    w.begin_object().key("messages").begin_array();
    history::write_by_ids(&mut w, conn, &page)?;
    w.end_array()
        .key("count")
        .int(ids.len() as i64)
        .end_object();
    Ok(w.finish())
}

/// After this many matches in a row from conversations already found, the scan jumps past
/// the current conversation's id range instead of reading the rest of its matches.
const SKIP_AFTER: usize = 16;

/// Conversations holding at least one message that contains `keyword`, of the given
/// types (all searchable types when empty) and channel (all when `None`), most recent first,
/// as a JSON array: a frequent keyword finds hundreds of conversations, and building them
/// as values only to serialize them again cost as much as finding them.
pub fn conversations_with(
    conn: &Connection,
    keyword: &str,
    types: &[String],
    channel: Option<&str>,
) -> ImResult<RawJson> {
    let _snapshot = snapshot(conn)?;
    let mut finder = ConversationFinder {
        type_of: conn.prepare_cached("SELECT object_name FROM messages WHERE id = ?1")?,
        channel_of: conn.prepare_cached("SELECT channel FROM conversations WHERE id = ?1")?,
        types: types.iter().map(String::as_str).collect(),
        channel,
        channel_ok: HashMap::new(),
        found: Vec::new(),
        found_set: HashSet::new(),
    };
    // The backlog first (a few thousand rows at most), then the index.
    let mut backlog = conn.prepare_cached(&format!(
        "SELECT id FROM fts_pending WHERE {}(text, ?1)",
        search_index::CONTAINS_FN
    ))?;
    let mut rows = backlog.query([search_index::needle(keyword)])?;
    while let Some(r) = rows.next()? {
        let id = r.get(0)?;
        if !finder.has(conv_of(id)) {
            finder.consider(id)?;
        }
    }
    let expr = match_expression(keyword);
    let mut scan = conn.prepare_cached(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid >= ?2 ORDER BY rowid",
    )?;
    let mut from = 0i64;
    'restart: loop {
        let mut rows = scan.query(rusqlite::params![expr, from])?;
        let mut run_of_found = 0;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let conv = conv_of(id);
            if finder.has(conv) {
                run_of_found += 1;
                if run_of_found >= SKIP_AFTER {
                    from = id_range(conv).1 + 1;
                    continue 'restart;
                }
                continue;
            }
            run_of_found = 0;
            finder.consider(id)?;
        }
        break;
    }
    conversations::by_ids_newest_first_text(conn, &finder.found)
}

/// The conversations a keyword search has found so far, and the checks a match must pass.
struct ConversationFinder<'c, 'a> {
    type_of: rusqlite::CachedStatement<'c>,
    channel_of: rusqlite::CachedStatement<'c>,
    types: HashSet<&'a str>,
    channel: Option<&'a str>,
    channel_ok: HashMap<i64, bool>,
    found: Vec<i64>,
    found_set: HashSet<i64>,
}

impl ConversationFinder<'_, '_> {
    fn has(&self, conv: i64) -> bool {
        self.found_set.contains(&conv)
    }

    /// Adds the conversation of matching message `id` when the message passes the filters.
    fn consider(&mut self, id: i64) -> ImResult<()> {
        let conv = conv_of(id);
        if let Some(want) = self.channel {
            let ok = match self.channel_ok.get(&conv) {
                Some(ok) => *ok,
                None => {
                    let ch: Option<String> =
                        self.channel_of.query_row([conv], |r| r.get(0)).optional()?;
                    *self
                        .channel_ok
                        .entry(conv)
                        .or_insert(ch.as_deref() == Some(want))
                }
            };
            if !ok {
                return Ok(());
            }
        }
        if !self.types.is_empty() {
            let t: Option<String> = self.type_of.query_row([id], |r| r.get(0)).optional()?;
            if !t.is_some_and(|t| self.types.contains(t.as_str())) {
                return Ok(());
            }
        }
        self.found_set.insert(conv);
        self.found.push(conv);
        Ok(())
    }
}
