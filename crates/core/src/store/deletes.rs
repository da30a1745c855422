//! Applying a delete for this user only (`deleteMessages` / `clearHistoryMessages` on any of
//! its devices, RC:MsgDelNtf in its inbox): the same row deletion as the local
//! `electronExtension.deleteMessages` / `deleteMessagesByTimestamp` (conversation counts and
//! latest message kept right), restricted to the notice's conversation. Idempotent.

use rusqlite::{Connection, OptionalExtension};

use super::conversations::{self, conv_of};
use super::writes;
use crate::error::ImResult;
use crate::model::ConversationKey;

/// Deletes the messages of `key` whose uid is in `uids`, or (with `before`) those sent
/// before it. Returns the conversation when a row went.
pub fn apply(
    conn: &Connection,
    key: &ConversationKey,
    uids: &[String],
    before: Option<i64>,
) -> ImResult<Option<i64>> {
    let Some(conv) = conversations::find_id(conn, key)? else {
        return Ok(None);
    };
    let deleted = match before {
        Some(before) => writes::delete_before(conn, conv, Some(before))?,
        None => {
            let mut find = conn.prepare_cached("SELECT id FROM messages WHERE uid = ?1")?;
            let mut ids = Vec::with_capacity(uids.len());
            for uid in uids {
                if let Some(id) = find.query_row([uid], |r| r.get::<_, i64>(0)).optional()? {
                    // A uid of another conversation is not this notice's to delete.
                    if conv_of(id) == conv && !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            writes::delete_ids(conn, conv, &ids)?
        }
    };
    Ok((deleted > 0).then_some(conv))
}
