//! One stored message by its local id: `getMessage` and `electronExtension.setMessageContent`
//! (IMLib 5.x Electron; seed 002 is silent on both, so they follow the vendor's public 5.x
//! docs: getMessage resolves the message, setMessageContent replaces its content and type).

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::args;
use crate::engine::{message_id, no_such_message, Engine};
use crate::error::{ImError, ImResult};
use crate::message::{flag, MAX_CONTENT_BYTES};
use crate::registry::search_text;
use crate::store::{history, search_index};

impl Engine {
    /// `getMessage(messageId)`: the stored message, or null when no message has this id.
    pub async fn get_message(&self, message_id: Value) -> ImResult<Value> {
        let id = self::message_id(Some(&message_id), "messageId")?;
        self.db()?
            .store
            .read(move |c| Ok(history::by_ids(c, &[id])?.pop().unwrap_or(Value::Null)))
            .await
    }

    /// `setMessageContent(messageId, content, objectName)`: replaces a stored message's
    /// content and type in one transaction, and its search text with the new type's (an
    /// insert's custom `searchContent` does not survive it). Unread state is kept: the
    /// message was counted when it arrived. The conversation's latestMessage follows, since
    /// it is read from the message itself.
    pub async fn set_message_content(
        &self,
        message_id: Value,
        content: Value,
        object_name: Value,
    ) -> ImResult<Value> {
        let id = self::message_id(Some(&message_id), "messageId")?;
        let content = match args::present(Some(&content)) {
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(ImError::invalid("content must be an object")),
            None => return Err(ImError::invalid("content is required (an object)")),
        };
        let text = content.to_string();
        if text.len() > MAX_CONTENT_BYTES {
            return Err(ImError::invalid(format!(
                "content is {} bytes as JSON; the limit is {MAX_CONTENT_BYTES} (128 KB)",
                text.len()
            )));
        }
        let name = args::id(Some(&object_name), "objectName")?;
        let info = self.registry().require(&name)?.clone();
        if !info.is_persisted {
            return Err(ImError::invalid(format!(
                "objectName '{name}' is not a stored message type (isPersisted false or a status message)"
            )));
        }
        let search = search_text(&info, &content);
        self.db()?
            .store
            .write(move |tx| {
                let flags: i64 = tx
                    .prepare_cached("SELECT flags FROM messages WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| no_such_message("messageId", id))?;
                let mut next =
                    search_index::replace(tx, id, flags, search.as_deref())? & !flag::COUNTED;
                if info.is_counted {
                    next |= flag::COUNTED;
                }
                tx.prepare_cached(
                    "UPDATE messages SET content = ?2, object_name = ?3, flags = ?4 WHERE id = ?1",
                )?
                .execute(params![id, text, name, next])?;
                Ok(Value::Null)
            })
            .await
    }
}
