//! Local search. Keywords are matched through the `imsync` FTS5 index (exact,
//! case-insensitive substrings of any length); filters and ordering run on the normal
//! indexes. A conversation is a rowid range of the index (see `conversations::id_range`),
//! so per-conversation search never visits other conversations' matches.

use std::collections::{HashMap, HashSet};

use rusqlite::{params_from_iter, types::Value as Sql, Connection, OptionalExtension};
use serde_json::Value;

use super::conversations::{self, conv_of, id_range};
use super::history;
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

/// Matching message ids, newest first (sentTime, then id, descending).
pub fn matching_ids(
    conn: &Connection,
    keyword: Option<&str>,
    f: &Filter<'_>,
) -> ImResult<Vec<i64>> {
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
            ]);
            let n = params.len();
            sql.push_str(&format!(
                " AND m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?{} AND rowid BETWEEN ?{} AND ?{})",
                n - 2,
                n - 1,
                n
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
/// types (all searchable types when empty) and channel (all when `None`), most recent first.
pub fn conversations_with(
    conn: &Connection,
    keyword: &str,
    types: &[String],
    channel: Option<&str>,
) -> ImResult<Vec<Value>> {
    let expr = match_expression(keyword);
    let mut scan = conn.prepare_cached(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid >= ?2 ORDER BY rowid",
    )?;
    let mut type_of = conn.prepare_cached("SELECT object_name FROM messages WHERE id = ?1")?;
    let mut channel_of = conn.prepare_cached("SELECT channel FROM conversations WHERE id = ?1")?;
    let type_set: HashSet<&str> = types.iter().map(String::as_str).collect();
    let mut channel_ok: HashMap<i64, bool> = HashMap::new();
    let mut found: Vec<i64> = Vec::new();
    let mut found_set: HashSet<i64> = HashSet::new();
    let mut from = 0i64;
    'restart: loop {
        let mut rows = scan.query(rusqlite::params![expr, from])?;
        let mut run_of_found = 0;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let conv = conv_of(id);
            if found_set.contains(&conv) {
                run_of_found += 1;
                if run_of_found >= SKIP_AFTER {
                    from = id_range(conv).1 + 1;
                    continue 'restart;
                }
                continue;
            }
            run_of_found = 0;
            let ok_channel = match channel {
                None => true,
                Some(want) => *match channel_ok.get(&conv) {
                    Some(ok) => ok,
                    None => {
                        let ch: Option<String> =
                            channel_of.query_row([conv], |r| r.get(0)).optional()?;
                        channel_ok
                            .entry(conv)
                            .or_insert(ch.as_deref() == Some(want))
                    }
                },
            };
            if !ok_channel {
                continue;
            }
            if !type_set.is_empty() {
                let t: Option<String> = type_of.query_row([id], |r| r.get(0)).optional()?;
                if !t.is_some_and(|t| type_set.contains(t.as_str())) {
                    continue;
                }
            }
            found_set.insert(conv);
            found.push(conv);
        }
        break;
    }
    let mut list = conversations::by_ids(conn, &found)?;
    list.sort_by_key(|c| std::cmp::Reverse(c.get("sortTime").and_then(Value::as_i64).unwrap_or(0)));
    Ok(list)
}
