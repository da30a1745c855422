//! Delivery receipts: a recipient's device tells the server how far it has stored its
//! inbox (`AckInboxRequest`, sent after the entries and the cursor were committed
//! together, so "acked" means exactly "stored"). The first device of a user to store a
//! message makes it delivered, and its sender's inbox receives an `imsync:DlvNtf` entry
//! (the sender may be offline: the inbox keeps the receipt until it connects, and every
//! device of the sender hears of it).
//!
//! Event payloads follow the names the brief gives for IMLib 5.x's
//! PRIVATE_MESSAGE_DELIVERED (`messageUId`, `deliveryTime`, `targetId`, `channelId`) and
//! GROUP_MESSAGE_DELIVERED (plus `deliveryCount`, `totalCount`); the public IMLib pages
//! reachable from here do not document them (the seed is silent).

use std::collections::BTreeMap;

use imsync_protocol::prost::Message as _;
use imsync_protocol::{object_names, Conversation, ConversationType, Message};
use serde_json::{json, Value};

use super::messages::{self, append, notice};
use super::sql::Db;
use super::timeline;
use super::Outcome;
use crate::args;
use crate::error::ApiError;

pub(crate) const SQL_ACKED: &str = "SELECT acked_seq FROM delivery_acks WHERE user_id = ?1";
pub(crate) const SQL_ACK_RANGE: &str =
    "SELECT m.id, m.body FROM inbox i JOIN messages m ON m.id = i.message_id
     WHERE i.user_id = ?1 AND i.seq > ?2 AND i.seq <= ?3 ORDER BY i.seq";
pub(crate) const SQL_RECIPIENTS: &str =
    "SELECT COUNT(*) FROM inbox WHERE message_id = ?1 AND user_id <> ?2";
const SQL_TIMELINE_RECIPIENTS: &str =
    "SELECT COUNT(*) FROM timeline_cursors WHERE group_id = ?1 AND user_id <> ?2";

/// Whether a stored message earns its sender a receipt: client sends (admin publishes
/// have no client id) of PRIVATE and GROUP messages that recipients store, not the
/// server's notices, and not the recipient's own messages.
fn receipted(m: &Message, recipient: &str) -> bool {
    let kind = m
        .conversation
        .as_ref()
        .map(|c| c.r#type)
        .unwrap_or_default();
    m.sender_user_id != recipient
        && !m.client_msg_id.is_empty()
        && m.is_persisted
        && (kind == ConversationType::Private as i32 || kind == ConversationType::Group as i32)
        && !object_names::SERVER_NOTICES.contains(&m.object_name.as_str())
}

/// `user` has stored its inbox up to `seq`: receipts for the messages newly covered,
/// one notice per (sender, conversation).
pub fn ack(conn: &dyn Db, user: &str, seq: u64, now: i64) -> Result<Outcome<()>, ApiError> {
    let seq = seq.min(messages::head_seq(conn, user)?);
    let before = conn
        .optional(SQL_ACKED, args![user], |r| r.get::<i64>(0))?
        .unwrap_or(0) as u64;
    if seq <= before {
        return Ok(Outcome::quiet(()));
    }
    conn.execute(
        "INSERT INTO delivery_acks (user_id, acked_seq) VALUES (?1, ?2)
         ON CONFLICT(user_id) DO UPDATE SET acked_seq = excluded.acked_seq",
        args![user, seq],
    )?;
    // Receipts per (sender, conversation type, target in the sender's view, channel).
    let mut receipts: BTreeMap<(String, i32, String, String), Vec<Value>> = BTreeMap::new();
    let covered: Vec<(i64, Vec<u8>)> = conn.all(SQL_ACK_RANGE, args![user, before, seq], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    for (id, body) in covered {
        let m = Message::decode(body.as_slice()).map_err(ApiError::internal)?;
        if !receipted(&m, user) {
            continue;
        }
        let conv = m.conversation.clone().unwrap_or_default();
        let (target, item) = if conv.r#type == ConversationType::Private as i32 {
            (
                user.to_owned(),
                json!({ "messageUId": m.message_uid, "deliveryTime": now }),
            )
        } else {
            let delivered: i64 = conn.one(
                "UPDATE messages SET delivered = delivered + 1 WHERE id = ?1 RETURNING delivered",
                args![id],
                |r| r.get(0),
            )?;
            // A large group's message is copied into inboxes as members read: its
            // recipients are the members (other than the sender), not the copies so far.
            let total: i64 = match timeline::group_of(conn, id)? {
                Some(group) => conn.one(
                    SQL_TIMELINE_RECIPIENTS,
                    args![group, m.sender_user_id],
                    |r| r.get(0),
                )?,
                None => conn.one(SQL_RECIPIENTS, args![id, m.sender_user_id], |r| r.get(0))?,
            };
            (
                conv.target_id.clone(),
                json!({ "messageUId": m.message_uid, "deliveryTime": now,
                        "deliveryCount": delivered, "totalCount": total }),
            )
        };
        receipts
            .entry((
                m.sender_user_id.clone(),
                conv.r#type,
                target,
                conv.channel_id,
            ))
            .or_default()
            .push(item);
    }
    let mut deliveries = Vec::new();
    for ((sender, kind, target, channel), list) in receipts {
        // Written by the recipient, in its own view: for PRIVATE the target is the
        // original sender, so the sender sees the recipient as the target.
        let conv = Conversation {
            r#type: kind,
            target_id: if kind == ConversationType::Private as i32 {
                sender.clone()
            } else {
                target
            },
            channel_id: channel,
        };
        let msg = notice(
            user,
            conv,
            object_names::DELIVERY_NOTICE,
            json!({ "list": list }),
            false,
            "",
        );
        let (_, mut d) = append(conn, msg, &[sender], now)?;
        deliveries.append(&mut d);
    }
    Ok(Outcome {
        value: (),
        deliveries,
    })
}
