//! The unread calls around the counters: the first unread message and the unread
//! @-messages themselves, clearing up to a time, and totals filtered by notification level.
//! Seed 002 lists the `…ByLevels` pair as Web-only (5.5.1, L6103-6175) and is silent on the
//! others; imsync serves them from the local database with the vendor's IMLib 5.x
//! signatures (its public docs), since apps written for the Web build call them too.

use rusqlite::params;
use serde_json::{json, Value};

use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::conversation_type;
use crate::store::{conversations, history, inbox, unread};

/// How many unread @-messages `getUnreadMentionedMessages` returns (the oldest first), so
/// one call cannot serialize a whole conversation.
pub const MAX_UNREAD_MENTIONED: i64 = 100;

/// NotificationLevel values (seed §2.27).
const LEVELS: [i64; 6] = [-1, 0, 1, 2, 4, 5];

/// The `…ByLevels` pair takes every conversation type: the vendor's own example lists
/// ULTRA_GROUP. Chatroom and ultra-group conversations are never stored here, so they add 0.
const BY_LEVELS_TYPES: [i64; 9] = [
    conversation_type::PRIVATE,
    conversation_type::DISCUSSION,
    conversation_type::GROUP,
    conversation_type::CHATROOM,
    conversation_type::CUSTOMER_SERVICE,
    conversation_type::SYSTEM,
    conversation_type::APP_PUBLIC_SERVICE,
    conversation_type::PUBLIC_SERVICE,
    conversation_type::ULTRA_GROUP,
];

/// Which counter a `…ByLevels` total sums.
#[derive(Clone, Copy)]
enum Counter {
    Unread,
    Mentions,
}

impl Engine {
    /// `getFirstUnreadMessage(conversation)`: the oldest unread message, or null.
    pub async fn get_first_unread_message(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| {
                let Some(conv) = conversations::find_id(c, &key)? else {
                    return Ok(Value::Null);
                };
                match unread::first(c, conv)?
                    .get("messageId")
                    .and_then(Value::as_i64)
                {
                    Some(id) => Ok(history::by_ids(c, &[id])?.pop().unwrap_or(Value::Null)),
                    None => Ok(Value::Null),
                }
            })
            .await
    }

    /// `getUnreadMentionedMessages(conversation)`: the unread messages that @ this user,
    /// oldest first, at most [`MAX_UNREAD_MENTIONED`].
    pub async fn get_unread_mentioned_messages(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.db()?
            .store
            .read(move |c| {
                let Some(conv) = conversations::find_id(c, &key)? else {
                    return Ok(json!([]));
                };
                let ids: Vec<i64> = c
                    .prepare_cached(
                        "SELECT id FROM messages WHERE conv_id = ?1 AND unread = 1 AND mentioned = 1 \
                         ORDER BY sent_time, id LIMIT ?2",
                    )?
                    .query_map(params![conv, MAX_UNREAD_MENTIONED], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(Value::Array(history::by_ids(c, &ids)?))
            })
            .await
    }

    /// `clearUnreadCountByTimestamp(conversation, timestamp)`: marks read the received
    /// messages sent at or before `timestamp`; later ones stay unread. Local, like
    /// `clearMessagesUnreadStatus` (`sendSyncReadStatusMessage` tells the other devices).
    pub async fn clear_unread_count_by_timestamp(
        &self,
        conversation: Value,
        timestamp: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let ts = args::timestamp(Some(&timestamp), "timestamp", None)?;
        self.change_conversation(key, move |tx, conv| inbox::mark_read_up_to(tx, conv, ts))
            .await
    }

    /// `getTotalUnreadCountByLevels(conversationTypes, levels)`: unread messages of the
    /// listed conversations whose notification level is in `levels` (empty = any).
    pub async fn get_total_unread_count_by_levels(
        &self,
        conversation_types: Value,
        levels: Value,
    ) -> ImResult<Value> {
        self.total_by_levels(conversation_types, levels, Counter::Unread)
            .await
    }

    /// `getTotalUnreadMentionedCountByLevels(conversationTypes, levels)`: the same for
    /// unread @-messages.
    pub async fn get_total_unread_mentioned_count_by_levels(
        &self,
        conversation_types: Value,
        levels: Value,
    ) -> ImResult<Value> {
        self.total_by_levels(conversation_types, levels, Counter::Mentions)
            .await
    }

    async fn total_by_levels(
        &self,
        conversation_types: Value,
        levels: Value,
        counter: Counter,
    ) -> ImResult<Value> {
        let types = args::conversation_types(
            Some(&conversation_types),
            "conversationTypes",
            &BY_LEVELS_TYPES,
        )?;
        let levels = notification_levels(&levels)?;
        let column = match counter {
            Counter::Unread => "unread_count",
            Counter::Mentions => "mention_count",
        };
        let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        // Both lists are validated integers, so they are safe to inline.
        let sql = format!(
            "SELECT coalesce(sum({column}), 0) FROM conversations \
             WHERE hidden = 0 AND {column} > 0 AND type IN ({}) AND level IN ({})",
            join(&types),
            join(&levels)
        );
        self.db()?
            .store
            .read(move |c| {
                Ok(json!(c
                    .prepare_cached(&sql)?
                    .query_row([], |r| r.get::<_, i64>(0))?))
            })
            .await
    }
}

/// A list of NotificationLevel values; missing or empty means every level.
fn notification_levels(v: &Value) -> ImResult<Vec<i64>> {
    let items = match args::present(Some(v)) {
        None => return Ok(LEVELS.to_vec()),
        Some(Value::Array(a)) if a.is_empty() => return Ok(LEVELS.to_vec()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(ImError::invalid(
                "levels must be an array of NotificationLevel values (-1, 0, 1, 2, 4, 5)",
            ))
        }
    };
    if items.len() > LEVELS.len() * 4 {
        return Err(ImError::invalid(format!(
            "levels must hold at most {} values, got {}",
            LEVELS.len() * 4,
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = format!("levels[{i}]");
            let level = args::required_integer(Some(item), &name)?;
            if !LEVELS.contains(&level) {
                return Err(ImError::invalid(format!(
                    "{name} must be a NotificationLevel (-1, 0, 1, 2, 4, 5), got {level}"
                )));
            }
            Ok(level)
        })
        .collect()
}
