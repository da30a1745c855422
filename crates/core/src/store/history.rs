//! Local history queries: pages before or after a time, pages of chosen types, and the
//! messages around a moment.

use rusqlite::{params_from_iter, types::Value as Sql, Connection};
use serde_json::Value;

use crate::error::ImResult;
use crate::json_text::{JsonWriter, RawJson};
use crate::message::{self, now_ms};

const TEXT: &str = "RC:TxtMsg";

/// Time-ordered page of one conversation. `order` 0 returns messages sent before `timestamp`
/// newest first, 1 those after it oldest first (the seed's literal semantics); `timestamp`
/// 0 means now. Returns `(list, hasMore)`.
pub fn page(
    conn: &Connection,
    conv_id: i64,
    timestamp: i64,
    count: i64,
    order: i64,
    types: Option<&[String]>,
) -> ImResult<(Vec<Value>, bool)> {
    let (text, has_more) = page_text(conn, conv_id, timestamp, count, order, types)?;
    match text.parse() {
        Value::Array(list) => Ok((list, has_more)),
        _ => Err(crate::error::ImError::internal(
            "a history page did not parse",
        )),
    }
}

/// [`page`] as a JSON array.
pub fn page_text(
    conn: &Connection,
    conv_id: i64,
    timestamp: i64,
    count: i64,
    order: i64,
    types: Option<&[String]>,
) -> ImResult<(RawJson, bool)> {
    let (cmp, dir, bound) = if order == 0 {
        (
            "<",
            "DESC",
            if timestamp == 0 { i64::MAX } else { timestamp },
        )
    } else {
        (">", "ASC", timestamp)
    };
    let mut params: Vec<Sql> = vec![Sql::Integer(conv_id), Sql::Integer(bound)];
    let type_filter = match types {
        Some(t) if !t.is_empty() => {
            let marks: Vec<String> = (0..t.len()).map(|i| format!("?{}", i + 3)).collect();
            params.extend(t.iter().map(|s| Sql::Text(s.clone())));
            // Lets the planner use the partial type index (which has no text messages).
            let not_text = if t.iter().any(|s| s == TEXT) {
                ""
            } else {
                "AND m.object_name <> 'RC:TxtMsg'"
            };
            format!("AND m.object_name IN ({}) {not_text}", marks.join(", "))
        }
        _ => String::new(),
    };
    params.push(Sql::Integer(count + 1));
    let sql = format!(
        "SELECT {cols} FROM messages m JOIN conversations c ON c.id = m.conv_id \
         WHERE m.conv_id = ?1 AND m.sent_time {cmp} ?2 {type_filter} \
         ORDER BY m.sent_time {dir}, m.id {dir} LIMIT ?{last}",
        cols = message::COLUMNS,
        last = params.len()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut w = JsonWriter::with_capacity(16 * 1024);
    w.begin_array();
    let mut n = 0;
    let mut has_more = false;
    while let Some(r) = rows.next()? {
        if n == count {
            has_more = true;
            break;
        }
        message::write_row(&mut w, r)?;
        n += 1;
    }
    w.end_array();
    Ok((w.finish(), has_more))
}

/// `beforeCount` messages sent before `timestamp`, those sent exactly at it, and
/// `afterCount` after it, oldest first. `timestamp` 0 means now.
pub fn around(
    conn: &Connection,
    conv_id: i64,
    timestamp: i64,
    before: i64,
    after: i64,
) -> ImResult<Vec<Value>> {
    let t = if timestamp == 0 { now_ms() } else { timestamp };
    let select = |tail: &str| {
        format!(
            "SELECT {} FROM messages m JOIN conversations c ON c.id = m.conv_id WHERE m.conv_id = ?1 {tail}",
            message::COLUMNS
        )
    };
    let run = |sql: String, limit: i64| -> ImResult<Vec<Value>> {
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![conv_id, t, limit], message::row_to_json)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    };
    let mut older = run(
        select("AND m.sent_time < ?2 ORDER BY m.sent_time DESC, m.id DESC LIMIT ?3"),
        before,
    )?;
    older.reverse();
    let at = run(
        select("AND m.sent_time = ?2 ORDER BY m.id ASC LIMIT ?3"),
        i64::MAX,
    )?;
    let newer = run(
        select("AND m.sent_time > ?2 ORDER BY m.sent_time ASC, m.id ASC LIMIT ?3"),
        after,
    )?;
    older.extend(at);
    older.extend(newer);
    Ok(older)
}

/// Full messages for ids, in the given order.
pub fn by_ids(conn: &Connection, ids: &[i64]) -> ImResult<Vec<Value>> {
    let mut w = JsonWriter::with_capacity(512 * ids.len() + 2);
    w.begin_array();
    write_by_ids(&mut w, conn, ids)?;
    w.end_array();
    match w.finish().parse() {
        Value::Array(list) => Ok(list),
        _ => Err(crate::error::ImError::internal("messages did not parse")),
    }
}

/// Writes the messages with these ids, in the given order, as array elements.
pub fn write_by_ids(w: &mut JsonWriter, conn: &Connection, ids: &[i64]) -> ImResult<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM messages m JOIN conversations c ON c.id = m.conv_id WHERE m.id = ?1",
        message::COLUMNS
    ))?;
    for id in ids {
        let mut rows = stmt.query([id])?;
        if let Some(r) = rows.next()? {
            message::write_row(w, r)?;
        }
    }
    Ok(())
}
