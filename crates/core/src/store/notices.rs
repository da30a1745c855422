//! Notices that change a stored message without being messages themselves: group read
//! receipts (`readReceiptInfo`) and expansion key/values.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use crate::error::ImResult;

fn load_json(text: Option<String>) -> Map<String, Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Rewrites the `readReceiptInfo` of the message `uid` with `f`; returns its id when the
/// message is stored and the info changed.
fn update_receipt(
    conn: &Connection,
    uid: &str,
    f: impl FnOnce(&mut Map<String, Value>),
) -> ImResult<Option<i64>> {
    let Some((id, extra)) = conn
        .prepare_cached("SELECT id, extra FROM messages WHERE uid = ?1")?
        .query_row([uid], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))
        .optional()?
    else {
        return Ok(None);
    };
    let mut extra = load_json(extra);
    let before = extra.get("readReceiptInfo").cloned();
    let mut info = before
        .as_ref()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    f(&mut info);
    let after = Value::Object(info);
    if before.as_ref() == Some(&after) {
        return Ok(None);
    }
    extra.insert("readReceiptInfo".into(), after);
    conn.prepare_cached("UPDATE messages SET extra = ?2 WHERE id = ?1")?
        .execute(params![id, Value::Object(extra).to_string()])?;
    Ok(Some(id))
}

/// A member received a receipt request for `uid`: it now awaits this user's response.
pub fn receipt_requested(conn: &Connection, uid: &str) -> ImResult<Option<i64>> {
    update_receipt(conn, uid, |info| {
        info.insert("isReceiptRequestMessage".into(), json!(true));
        info.entry("hasRespond").or_insert(json!(false));
    })
}

/// The sender asked for receipts of its own message `uid`.
pub fn receipt_request_sent(conn: &Connection, uid: &str) -> ImResult<Option<i64>> {
    update_receipt(conn, uid, |info| {
        info.insert("isReceiptRequestMessage".into(), json!(true));
        info.entry("respondUserIdList").or_insert(json!([]));
        info.entry("readCount").or_insert(json!(0));
    })
}

/// This user answered the requests for `uids`.
pub fn receipt_responded(conn: &Connection, uids: &[String]) -> ImResult<()> {
    for uid in uids {
        update_receipt(conn, uid, |info| {
            info.insert("hasRespond".into(), json!(true));
        })?;
    }
    Ok(())
}

/// `reader` read the sender's messages `uids`: it joins their `respondUserIdList`.
pub fn receipt_response_received(conn: &Connection, reader: &str, uids: &[String]) -> ImResult<()> {
    for uid in uids {
        update_receipt(conn, uid, |info| {
            info.insert("isReceiptRequestMessage".into(), json!(true));
            let list = info
                .entry("respondUserIdList")
                .or_insert(json!([]))
                .as_array_mut();
            if let Some(list) = list {
                if !list.iter().any(|v| v.as_str() == Some(reader)) {
                    list.push(json!(reader));
                }
                let n = list.len();
                info.insert("readCount".into(), json!(n));
            }
        })?;
    }
    Ok(())
}

/// A stored message's expansion: its id, whether it allows expansion, its key/values.
pub type StoredExpansion = (i64, bool, BTreeMap<String, String>);

pub fn expansion_of(conn: &Connection, uid: &str) -> ImResult<Option<StoredExpansion>> {
    Ok(conn
        .prepare_cached("SELECT id, flags, expansion FROM messages WHERE uid = ?1")?
        .query_row([uid], |r| {
            let flags: i64 = r.get(1)?;
            let exp: Option<String> = r.get(2)?;
            Ok((
                r.get::<_, i64>(0)?,
                flags & crate::message::flag::CAN_INCLUDE_EXPANSION != 0,
                exp.and_then(|e| serde_json::from_str(&e).ok())
                    .unwrap_or_default(),
            ))
        })
        .optional()?)
}

/// Sets and removes expansion keys of the stored message `uid`: None when it is not
/// stored, else whether its expansion changed.
pub fn apply_expansion(
    conn: &Connection,
    uid: &str,
    put: &BTreeMap<String, String>,
    del: &[String],
) -> ImResult<Option<bool>> {
    let Some((id, _, mut current)) = expansion_of(conn, uid)? else {
        return Ok(None);
    };
    let before = current.clone();
    for k in del {
        current.remove(k);
    }
    for (k, v) in put {
        current.insert(k.clone(), v.clone());
    }
    if current == before {
        return Ok(Some(false));
    }
    set_expansion(conn, id, &current)?;
    Ok(Some(true))
}

/// Replaces a message's expansion (NULL when empty).
pub fn set_expansion(conn: &Connection, id: i64, map: &BTreeMap<String, String>) -> ImResult<()> {
    let text = (!map.is_empty()).then(|| json!(map).to_string());
    conn.prepare_cached("UPDATE messages SET expansion = ?2 WHERE id = ?1")?
        .execute(params![id, text])?;
    Ok(())
}
