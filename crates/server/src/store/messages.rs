//! Messages and inboxes: storing a message, deciding whose inbox it enters,
//! assigning per-user sequence numbers, and the operations that act on stored
//! messages (recall, expansion, receipts).
//!
//! Every function here runs inside the writer's transaction (or a read
//! transaction for pulls), so "store the message" and "give it a seq in each
//! inbox" are one atomic step: an inbox never has a gap or a seq pointing at
//! nothing. They take [`Db`], so the same code runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use imsync_protocol::prost::Message as _;
use imsync_protocol::{
    codes, object_names, Conversation, ConversationType, InboxEntry, Message, MessageAck,
    MessageDirection, PullInboxResult, PushConfig, DEFAULT_PULL_LIMIT, EXPANSION_MAX_KEYS_TOTAL,
    MAX_FRAME_BYTES, MAX_PULL_LIMIT,
};
use serde_json::json;

use super::sql::Db;
use super::{groups, settings, timeline, Outcome};
use crate::args;
use crate::clock::new_message_uid;
use crate::error::ApiError;
use crate::fanout::Delivery;
use crate::validate::{self, ValidSend};

/// Bytes of a pull page's entries, leaving room for the envelope.
const PULL_PAGE_BUDGET: usize = MAX_FRAME_BYTES - 64 * 1024;

/// Object names the server writes itself; they cannot be recalled or expanded.
const NOTICES: &[&str] = object_names::SERVER_NOTICES;

/// Hot queries, named so a test can check that each one uses an index.
/// From this many rows a write on SQLite is one set-based statement over a JSON argument;
/// below it, one plain statement per row is cheaper (a 1:1 send measured 0.122 ms of
/// server CPU set-based against 0.100 plain), and the sub-journal walk that makes long
/// jobs of plain statements quadratic does not matter yet.
pub(crate) const SET_BASED_FROM: usize = 8;
/// [`append_pairs`] on SQLite, a few rows: the user's next seq.
pub(crate) const SQL_NEXT_SEQ: &str = "INSERT INTO inbox_heads (user_id, last_seq) VALUES (?1, 1)
             ON CONFLICT(user_id) DO UPDATE SET last_seq = inbox_heads.last_seq + 1 RETURNING last_seq";
pub(crate) const SQL_HEAD_SEQ: &str = "SELECT last_seq FROM inbox_heads WHERE user_id = ?1";
/// The `<> ''` term lets SQLite use the partial unique index (it cannot
/// prove a bound parameter non-empty on its own; without it every send
/// scanned the whole messages table).
pub(crate) const SQL_DEDUP: &str = "SELECT id, uid, sent_time FROM messages WHERE sender = ?1 AND client_msg_id = ?2 AND client_msg_id <> ''";
pub(crate) const SQL_SEQ_OF: &str = "SELECT seq FROM inbox WHERE message_id = ?1 AND user_id = ?2";
pub(crate) const SQL_MIN_SEQ: &str = "SELECT MIN(seq) FROM inbox WHERE user_id = ?1";
pub(crate) const SQL_LOAD: &str =
    "SELECT id, body, expansion, recalled_by FROM messages WHERE uid = ?1";
pub(crate) const SQL_OWNS: &str = "SELECT 1 FROM inbox WHERE message_id = ?1 AND user_id = ?2";
pub(crate) const SQL_OWNERS: &str =
    "SELECT DISTINCT user_id FROM inbox WHERE message_id = ?1 ORDER BY user_id";
pub(crate) const SQL_PULL_PAGE: &str =
    "SELECT i.seq, m.body FROM inbox i JOIN messages m ON m.id = i.message_id
             WHERE i.user_id = ?1 AND i.seq > ?2 ORDER BY i.seq LIMIT ?3";

/// [`append_pairs`] on PostgreSQL, in one statement: each user's head moves by their
/// number of entries (heads locked in user order), and the entries take the seqs in between
/// in the order given.
const SQL_APPEND_PAIRS_PG: &str = "WITH pairs AS (
       SELECT u, m, n FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS t(u, m, n)),
     counts AS (SELECT u, count(*) AS c FROM pairs GROUP BY u),
     heads AS (
       INSERT INTO inbox_heads (user_id, last_seq)
       SELECT u, c FROM counts ORDER BY u
       ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_heads.last_seq + EXCLUDED.last_seq
       RETURNING user_id, last_seq)
     INSERT INTO inbox (user_id, seq, message_id, created_at)
     SELECT p.u, h.last_seq - c.c + ROW_NUMBER() OVER (PARTITION BY p.u ORDER BY p.n), p.m, $3
     FROM pairs p JOIN heads h ON h.user_id = p.u JOIN counts c ON c.u = p.u
     RETURNING user_id, message_id, seq";

/// [`append_pairs`] on SQLite, step 1: each user's head moves by their number of entries
/// (`?1`: a JSON array of [user, message id] pairs).
pub(crate) const SQL_MOVE_HEADS: &str = "INSERT INTO inbox_heads (user_id, last_seq)
     SELECT json_extract(value, '$[0]'), count(*) FROM json_each(?1) WHERE true
     GROUP BY 1 ON CONFLICT(user_id) DO UPDATE SET last_seq = inbox_heads.last_seq + excluded.last_seq";
/// Step 2: the entries take the seqs below the new heads, in the order given.
pub(crate) const SQL_APPEND_PAIRS: &str = "INSERT INTO inbox (user_id, seq, message_id, created_at)
     SELECT pairs.u, h.last_seq - counts.n + pairs.k, pairs.m, ?2
     FROM (SELECT json_extract(value, '$[0]') AS u, json_extract(value, '$[1]') AS m,
                  ROW_NUMBER() OVER (PARTITION BY json_extract(value, '$[0]') ORDER BY key) AS k
           FROM json_each(?1)) AS pairs
     JOIN (SELECT json_extract(value, '$[0]') AS u, count(*) AS n FROM json_each(?1) GROUP BY 1)
       AS counts ON counts.u = pairs.u
     JOIN inbox_heads h ON h.user_id = pairs.u
     WHERE true
     RETURNING user_id, message_id, seq";

/// History candidates: the caller's inbox rows of one conversation, in time
/// order (PRIVATE matches both directions of the pair), one batch of `?7` rows
/// before the key (`?5` sent time, `?6` id). Batches with a key rather than one
/// open-ended scan: PostgreSQL sends a query's every row before the first is read,
/// and with a LIMIT both engines sort only the top rows.
pub(crate) const SQL_HISTORY_BEFORE: &str =
    "SELECT m.body, m.sent_time, m.id FROM inbox i JOIN messages m ON m.id = i.message_id
     WHERE i.user_id = ?1 AND m.conv_type = ?2 AND m.channel = ?3
       AND (m.target = ?4 OR (m.conv_type = 1 AND m.sender = ?4 AND m.target = ?1))
       AND (m.sent_time, m.id) < (?5, ?6)
     ORDER BY m.sent_time DESC, m.id DESC LIMIT ?7";
/// As [`SQL_HISTORY_BEFORE`], after the key, oldest first.
pub(crate) const SQL_HISTORY_AFTER: &str =
    "SELECT m.body, m.sent_time, m.id FROM inbox i JOIN messages m ON m.id = i.message_id
     WHERE i.user_id = ?1 AND m.conv_type = ?2 AND m.channel = ?3
       AND (m.target = ?4 OR (m.conv_type = 1 AND m.sender = ?4 AND m.target = ?1))
       AND (m.sent_time, m.id) > (?5, ?6)
     ORDER BY m.sent_time ASC, m.id ASC LIMIT ?7";
/// Most rows one history batch reads; the first batch reads `count + 1`, and each
/// further one (needed only when notices that are not persisted fill a batch) twice
/// the previous.
const HISTORY_MAX_BATCH: i64 = 1024;

/// A stored message row.
pub(crate) struct Stored {
    pub id: i64,
    pub message: Message,
    pub expansion: String,
    pub recalled_by: Option<i64>,
}

fn conv_kind(m: &Message) -> ConversationType {
    m.conversation
        .as_ref()
        .and_then(|c| ConversationType::try_from(c.r#type).ok())
        .unwrap_or(ConversationType::Unspecified)
}

/// `stored` (kept in the sender's view) as `owner` sees it: direction and the
/// private peer as target. The client message id stays on every copy: the
/// sender's devices match it to their outbox, and recipients learn that the
/// server already deduplicated the message (so they need no content dedup).
pub fn view_for(owner: &str, stored: &Message) -> Message {
    let mut m = stored.clone();
    let own = owner == m.sender_user_id;
    m.direction = if own {
        MessageDirection::Send
    } else {
        MessageDirection::Receive
    } as i32;
    if !own && conv_kind(stored) == ConversationType::Private {
        if let Some(c) = m.conversation.as_mut() {
            c.target_id = m.sender_user_id.clone();
        }
    }
    m
}

/// The highest seq ever assigned in `user`'s inbox.
pub fn head_seq(conn: &dyn Db, user: &str) -> Result<u64, ApiError> {
    Ok(conn
        .optional(SQL_HEAD_SEQ, args![user], |r| r.get::<i64>(0))?
        .unwrap_or(0) as u64)
}

/// The send time of a new message of `conv`: the clock, but strictly after the previous
/// message of the same conversation, so clients paging history by timestamp never meet
/// two messages of one conversation at the same millisecond (their order would be
/// ambiguous). On SQLite all writes run on the one writer thread and a map in memory
/// suffices (it spans this run; a restart takes far longer than a millisecond). On
/// PostgreSQL other nodes write the same conversations: the clock is a row, locked until
/// the commit, so the times of one conversation increase in commit order across nodes.
pub(crate) fn conversation_time(
    conn: &dyn Db,
    sender: &str,
    conv: &imsync_protocol::Conversation,
    now: i64,
) -> Result<i64, ApiError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static LAST: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    let key = conversation_key(sender, conv);
    if conn.as_postgres().is_some() {
        return conn.one(SQL_CONVERSATION_CLOCK_PG, args![key, now], |r| r.get(0));
    }
    let mut last = LAST
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let slot = last.entry(key).or_insert(i64::MIN);
    *slot = now.max(*slot + 1);
    Ok(*slot)
}

/// The conversation of a message from `sender` to `conv`, the same from both sides.
fn conversation_key(sender: &str, conv: &imsync_protocol::Conversation) -> String {
    if conv.r#type == imsync_protocol::ConversationType::Private as i32 {
        let (a, b) = if sender <= conv.target_id.as_str() {
            (sender, conv.target_id.as_str())
        } else {
            (conv.target_id.as_str(), sender)
        };
        format!("1\u{1f}{a}\u{1f}{b}\u{1f}{}", conv.channel_id)
    } else {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            conv.r#type, conv.target_id, conv.channel_id
        )
    }
}

/// [`conversation_time`] on PostgreSQL, and whether any of the owners `$3` follows a
/// timeline, in one round trip (most sends have no timeline entries to copy first).
const SQL_CLOCK_AND_TIMELINES_PG: &str = "WITH clock AS (
       INSERT INTO conversation_clocks (conv_key, last_time) VALUES ($1, $2)
       ON CONFLICT (conv_key) DO UPDATE
       SET last_time = GREATEST(conversation_clocks.last_time + 1, EXCLUDED.last_time)
       RETURNING last_time)
     SELECT (SELECT last_time FROM clock),
            EXISTS (SELECT 1 FROM timeline_cursors WHERE user_id = ANY($3::text[]))";

/// [`conversation_time`] on PostgreSQL.
const SQL_CONVERSATION_CLOCK_PG: &str = "INSERT INTO conversation_clocks (conv_key, last_time)
     VALUES (?1, ?2) ON CONFLICT (conv_key) DO UPDATE
     SET last_time = GREATEST(conversation_clocks.last_time + 1, EXCLUDED.last_time)
     RETURNING last_time";

/// Stores `message` (sender's view; uid and time assigned here) and appends
/// it to each owner's inbox. Returns the ack (with the sender's seq if the
/// sender is an owner) and one delivery per owner.
pub(crate) fn append(
    conn: &dyn Db,
    message: Message,
    owners: &[String],
    now: i64,
) -> Result<(MessageAck, Vec<Delivery>), ApiError> {
    let conv = message.conversation.clone().unwrap_or_default();
    if let Some(pg) = conn.as_postgres() {
        let key = conversation_key(&message.sender_user_id, &conv);
        let owned: Vec<&str> = owners.iter().map(String::as_str).collect();
        let (mut time, mut timelines) = (now, true);
        pg.query_native(SQL_CLOCK_AND_TIMELINES_PG, &[&key, &now, &owned], |row| {
            (time, timelines) = (row.try_get(0)?, row.try_get(1)?);
            Ok(())
        })?;
        return append_checked(conn, message, owners, time, timelines);
    }
    let time = conversation_time(conn, &message.sender_user_id, &conv, now)?;
    append_at(conn, message, owners, time)
}

/// As [`append`], with the send time already taken from [`conversation_time`].
pub(crate) fn append_at(
    conn: &dyn Db,
    message: Message,
    owners: &[String],
    now: i64,
) -> Result<(MessageAck, Vec<Delivery>), ApiError> {
    append_checked(conn, message, owners, now, true)
}

/// As [`append_at`]; the owners' pending timeline entries are looked for only when
/// `timelines` (false: none of them follows one).
fn append_checked(
    conn: &dyn Db,
    message: Message,
    owners: &[String],
    now: i64,
    timelines: bool,
) -> Result<(MessageAck, Vec<Delivery>), ApiError> {
    let (id, message) = insert_message(conn, message, now)?;
    let mut ack = MessageAck {
        message_uid: message.message_uid.clone(),
        sent_time: now,
        ..MessageAck::default()
    };
    // Inbox heads are locked in one order (sorted) by every write, so two nodes writing
    // to the same users on PostgreSQL wait for each other instead of deadlocking.
    let sorted: Vec<&str> = owners
        .iter()
        .map(String::as_str)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Owners in large groups first take the timeline entries committed before this
    // message, so every inbox keeps commit order whichever way its entries arrive.
    let mut deliveries = if timelines {
        timeline::catch_up(conn, &sorted, now)?
    } else {
        Vec::new()
    };
    let pairs: Vec<(&str, i64)> = sorted.into_iter().map(|owner| (owner, id)).collect();
    let seqs = append_pairs(conn, &pairs, now)?;
    deliveries.reserve(pairs.len());
    for ((owner, _), seq) in pairs.into_iter().zip(seqs) {
        if owner == message.sender_user_id {
            ack.seq = seq;
        }
        deliveries.push(Delivery::Entry {
            user: owner.to_owned(),
            entry: InboxEntry {
                seq,
                message: Some(view_for(owner, &message)),
            },
        });
    }
    Ok((ack, deliveries))
}

/// Stores `message` (sender's view) with a new uid and send time `time`; returns its row id
/// and the message as stored.
pub(crate) fn insert_message(
    conn: &dyn Db,
    mut message: Message,
    time: i64,
) -> Result<(i64, Message), ApiError> {
    message.message_uid = new_message_uid();
    message.direction = MessageDirection::Unspecified as i32;
    let conv = message.conversation.clone().unwrap_or_default();
    message.sent_time = time;
    let expansion = serde_json::to_string(&message.expansion).map_err(ApiError::internal)?;
    let id: i64 = conn.one(
        "INSERT INTO messages (uid, sender, conv_type, target, channel, sent_time, object_name, client_msg_id, body, expansion)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        args![
            message.message_uid,
            message.sender_user_id,
            conv.r#type,
            conv.target_id,
            conv.channel_id,
            time,
            message.object_name,
            message.client_msg_id,
            message.encode_to_vec(),
            expansion,
        ],
        |r| r.get(0),
    )?;
    Ok((id, message))
}

/// Appends each (user, message id) to that user's inbox, a user's entries in the order
/// given, and returns their seqs in that order. Users must come grouped and sorted (heads
/// are locked in that order). On PostgreSQL in one statement: a round trip per row would
/// cost a 500-member group 1,000 of them.
pub(crate) fn append_pairs(
    conn: &dyn Db,
    pairs: &[(&str, i64)],
    now: i64,
) -> Result<Vec<u64>, ApiError> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut seqs = std::collections::HashMap::with_capacity(pairs.len());
    match conn.as_postgres() {
        Some(pg) => {
            let users: Vec<&str> = pairs.iter().map(|p| p.0).collect();
            let ids: Vec<i64> = pairs.iter().map(|p| p.1).collect();
            pg.query_native(SQL_APPEND_PAIRS_PG, &[&users, &ids, &now], |row| {
                seqs.insert(
                    (row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?),
                    row.try_get::<_, i64>(2)? as u64,
                );
                Ok(())
            })?;
        }
        None if pairs.len() < SET_BASED_FROM => {
            let mut out = Vec::with_capacity(pairs.len());
            for (owner, id) in pairs {
                let seq: i64 = conn.one(SQL_NEXT_SEQ, args![owner], |r| r.get(0))?;
                conn.execute(
                    "INSERT INTO inbox (user_id, seq, message_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                    args![owner, seq, id, now],
                )?;
                out.push(seq as u64);
            }
            return Ok(out);
        }
        None => {
            // Two statements, not two per pair: each statement of a job costs SQLite a
            // walk of the job's in-memory sub-journal when it ends, which made a
            // 5,000-member fan-out quadratic (80% of the writer's time in one profile).
            let json = serde_json::to_string(pairs).map_err(ApiError::internal)?;
            conn.execute(SQL_MOVE_HEADS, args![json])?;
            conn.for_each(SQL_APPEND_PAIRS, args![json, now], &mut |r| {
                seqs.insert(
                    (r.get::<String>(0)?, r.get::<i64>(1)?),
                    r.get::<i64>(2)? as u64,
                );
                Ok(ControlFlow::Continue(()))
            })?;
        }
    }
    pairs
        .iter()
        .map(|(user, id)| {
            seqs.get(&((*user).to_owned(), *id))
                .copied()
                .ok_or_else(|| ApiError::internal(format!("no inbox seq returned for {user}")))
        })
        .collect()
}

/// Who receives a client message from `sender` (including the sender's own
/// inbox): applies the blacklist (405), group membership (22406) and
/// directed delivery.
pub fn route(conn: &dyn Db, sender: &str, send: &ValidSend) -> Result<Vec<String>, ApiError> {
    match send.kind {
        ConversationType::Private => {
            if settings::is_blocked(conn, &send.target, sender)? {
                return Err(ApiError::new(
                    codes::REJECTED_BY_BLACKLIST,
                    "the recipient has blacklisted you",
                ));
            }
            Ok(vec![sender.to_owned(), send.target.clone()])
        }
        ConversationType::Group => {
            if !groups::is_member(conn, &send.target, sender)? {
                return Err(ApiError::new(
                    codes::NOT_IN_GROUP,
                    "you are not in this group",
                ));
            }
            let members = groups::members(conn, &send.target)?;
            let directed = &send.message.directed_user_ids;
            if directed.is_empty() {
                return Ok(members);
            }
            let mut owners = vec![sender.to_owned()];
            owners.extend(
                members
                    .into_iter()
                    .filter(|m| directed.iter().any(|d| d == m)),
            );
            Ok(owners)
        }
        _ => Err(ApiError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            "only PRIVATE and GROUP conversations are supported",
        )),
    }
}

/// The ack of an earlier send with the same (sender, client message id).
fn dedup_lookup(
    conn: &dyn Db,
    sender: &str,
    client_msg_id: &str,
) -> Result<Option<MessageAck>, ApiError> {
    let found = conn.optional(SQL_DEDUP, args![sender, client_msg_id], |r| {
        Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?))
    })?;
    let Some((id, uid, sent_time)) = found else {
        return Ok(None);
    };
    let seq = seq_of(conn, id, sender)?;
    Ok(Some(MessageAck {
        message_uid: uid,
        sent_time,
        seq,
        ..MessageAck::default()
    }))
}

/// `user`'s seq of message `id`, 0 when it is not (or no longer) in their inbox.
fn seq_of(conn: &dyn Db, id: i64, user: &str) -> Result<u64, ApiError> {
    Ok(conn
        .optional(SQL_SEQ_OF, args![id, user], |r| r.get::<i64>(0))?
        .unwrap_or(0) as u64)
}

/// As [`dedup_lookup`], with the stored message (sender's view) when it is still kept.
pub(crate) fn dedup_with_message(
    conn: &dyn Db,
    sender: &str,
    client_msg_id: &str,
) -> Result<Option<(MessageAck, Option<Message>)>, ApiError> {
    let Some(ack) = dedup_lookup(conn, sender, client_msg_id)? else {
        return Ok(None);
    };
    let stored = load(conn, &ack.message_uid)?.map(|s| s.message);
    Ok(Some((ack, stored)))
}

/// A client send: deduplicated on (sender, client message id), routed,
/// stored and appended to every recipient's inbox.
pub fn send(
    conn: &dyn Db,
    sender: &str,
    send: ValidSend,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    if let Some(ack) = dedup_lookup(conn, sender, &send.message.client_msg_id)? {
        return Ok(Outcome::quiet(ack));
    }
    let timeline = send.kind == ConversationType::Group
        && send.message.directed_user_ids.is_empty()
        && timeline::is_timeline(conn, &send.target)?;
    let (ack, deliveries) = if timeline {
        require_member(conn, &send.target, sender)?;
        timeline::append(conn, send.message, &send.target, true, now)?
    } else {
        let owners = route(conn, sender, &send)?;
        append(conn, send.message, &owners, now)?
    };
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

/// Appends `notice` (about message `original`) to every inbox holding `original`; the
/// notice's sender among them only with `sender_copy`. A timeline message's notice goes
/// into the same timeline, so members copy it after the message.
fn append_to_holders(
    conn: &dyn Db,
    notice: Message,
    original: i64,
    sender_copy: bool,
    now: i64,
) -> Result<(MessageAck, Vec<Delivery>), ApiError> {
    if let Some(group) = timeline::group_of(conn, original)? {
        return timeline::append(conn, notice, &group, sender_copy, now);
    }
    let mut owners = owners_of(conn, original)?;
    if !sender_copy {
        owners.retain(|o| *o != notice.sender_user_id);
    }
    append(conn, notice, &owners, now)
}

/// A page of `user`'s inbox after `after_seq`. The caller gives it one snapshot
/// ([`Store::read`](super::Store::read) does), so the entries, head and min agree.
pub fn pull(
    conn: &dyn Db,
    user: &str,
    after_seq: u64,
    limit: u32,
) -> Result<PullInboxResult, ApiError> {
    let limit = match limit {
        0 => DEFAULT_PULL_LIMIT,
        n => n.min(MAX_PULL_LIMIT),
    };
    let head = head_seq(conn, user)?;
    let min: Option<i64> = conn.one(SQL_MIN_SEQ, args![user], |r| r.get(0))?;
    let mut result = PullInboxResult {
        entries: Vec::new(),
        has_more: false,
        head_seq: head,
        min_seq: min.unwrap_or(0) as u64,
    };
    let mut budget = PULL_PAGE_BUDGET;
    conn.for_each(
        SQL_PULL_PAGE,
        args![user, after_seq, i64::from(limit) + 1],
        &mut |row| {
            if result.entries.len() == limit as usize {
                result.has_more = true;
                return Ok(ControlFlow::Break(()));
            }
            let seq: i64 = row.get(0)?;
            let body: Vec<u8> = row.get(1)?;
            let stored = Message::decode(body.as_slice()).map_err(ApiError::internal)?;
            let entry = InboxEntry {
                seq: seq as u64,
                message: Some(view_for(user, &stored)),
            };
            let size = entry.encoded_len() + 8;
            if size > budget && !result.entries.is_empty() {
                result.has_more = true;
                return Ok(ControlFlow::Break(()));
            }
            budget = budget.saturating_sub(size);
            result.entries.push(entry);
            Ok(ControlFlow::Continue(()))
        },
    )?;
    Ok(result)
}

/// Remote history of one conversation from `user`'s inbox: up to `count`
/// persisted messages before (`order` 0, newest first) or after (`order` 1,
/// oldest first) `timestamp` (0 = now).
pub fn history(
    conn: &dyn Db,
    user: &str,
    conversation: Option<&Conversation>,
    timestamp: i64,
    count: u32,
    order: u32,
) -> Result<imsync_protocol::HistoryResult, ApiError> {
    let (kind, target, channel) = validate::conversation(conversation)?;
    if !matches!(
        kind,
        ConversationType::Private | ConversationType::Group | ConversationType::System
    ) {
        return Err(ApiError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            "history covers PRIVATE, GROUP and SYSTEM conversations",
        ));
    }
    if count == 0 || count > 100 {
        return Err(ApiError::invalid("count must be 1..=100"));
    }
    // The key starts just past the timestamp: ids are positive, so (t, 0) excludes
    // time t before it and (t, i64::MAX) excludes it after it.
    let (sql, mut key) = match order {
        // 0 = the latest: no upper bound. Sent times are strictly increasing per
        // conversation (conversation_time), so under a burst they run a few ms ahead of the
        // clock; "before now" would hide the newest messages.
        0 => (
            SQL_HISTORY_BEFORE,
            (if timestamp == 0 { i64::MAX } else { timestamp }, 0),
        ),
        1 => (SQL_HISTORY_AFTER, (timestamp, i64::MAX)),
        _ => return Err(ApiError::invalid("order must be 0 (before) or 1 (after)")),
    };
    let mut result = imsync_protocol::HistoryResult::default();
    let mut batch = i64::from(count) + 1;
    loop {
        let mut read = 0;
        let (after_time, after_id) = key;
        conn.for_each(
            sql,
            args![
                user,
                kind as i32,
                channel,
                target,
                after_time,
                after_id,
                batch
            ],
            &mut |row| {
                read += 1;
                key = (row.get(1)?, row.get(2)?);
                let body: Vec<u8> = row.get(0)?;
                let stored = Message::decode(body.as_slice()).map_err(ApiError::internal)?;
                if !stored.is_persisted {
                    return Ok(ControlFlow::Continue(()));
                }
                if result.messages.len() == count as usize {
                    result.has_more = true;
                    return Ok(ControlFlow::Break(()));
                }
                result.messages.push(view_for(user, &stored));
                Ok(ControlFlow::Continue(()))
            },
        )?;
        if result.has_more || read < batch {
            return Ok(result);
        }
        batch = (batch * 2).min(HISTORY_MAX_BATCH);
    }
}

pub(crate) fn load(conn: &dyn Db, uid: &str) -> Result<Option<Stored>, ApiError> {
    let row = conn.optional(SQL_LOAD, args![uid], |r| {
        Ok((
            r.get::<i64>(0)?,
            r.get::<Vec<u8>>(1)?,
            r.get::<String>(2)?,
            r.get::<Option<i64>>(3)?,
        ))
    })?;
    let Some((id, body, expansion, recalled_by)) = row else {
        return Ok(None);
    };
    let message = Message::decode(body.as_slice()).map_err(ApiError::internal)?;
    Ok(Some(Stored {
        id,
        message,
        expansion,
        recalled_by,
    }))
}

pub(crate) fn owns(conn: &dyn Db, message_id: i64, user: &str) -> Result<bool, ApiError> {
    conn.exists(SQL_OWNS, args![message_id, user])
}

fn owners_of(conn: &dyn Db, message_id: i64) -> Result<Vec<String>, ApiError> {
    conn.all(SQL_OWNERS, args![message_id], |r| r.get(0))
}

/// A server-written notice from `sender` in `conversation` (sender's view).
pub(crate) fn notice(
    sender: &str,
    conversation: Conversation,
    object_name: &str,
    content: serde_json::Value,
    persisted: bool,
    ref_uid: &str,
) -> Message {
    Message {
        sender_user_id: sender.to_owned(),
        conversation: Some(conversation),
        object_name: object_name.to_owned(),
        content: content.to_string(),
        is_persisted: persisted,
        ref_message_uid: ref_uid.to_owned(),
        ..Message::default()
    }
}

/// The parameters of a recall.
pub struct Recall {
    /// Message to recall.
    pub message_uid: String,
    /// Its conversation from the caller's view.
    pub conversation: Option<Conversation>,
    /// Its sent time.
    pub sent_time: i64,
    /// Receivers delete instead of showing a notice.
    pub is_delete: bool,
    /// Silent notice.
    pub disable_notification: bool,
    /// Push configuration of the notice.
    pub push_config: Option<PushConfig>,
    /// Extra data for the notice.
    pub extra: String,
    /// The recaller's profile, a JSON object as text ("" = none), copied into the
    /// notice content as `user` (the vendor's recallMessage `user` option).
    pub user_json: String,
}

/// Recalls a message: every inbox holding it receives an RC:RcNtf entry.
/// Idempotent: a second recall returns the first one's ack.
pub fn recall(
    conn: &dyn Db,
    caller: &str,
    req: Recall,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    let bad = |msg: &str| ApiError::new(codes::RECALL_MESSAGE, msg.to_owned());
    let (kind, target, channel) =
        validate::conversation(req.conversation.as_ref()).map_err(|e| bad(&e.msg))?;
    if kind == ConversationType::System {
        return Err(bad("system messages cannot be recalled"));
    }
    let stored = load(conn, &req.message_uid)?.ok_or_else(|| bad("no such message"))?;
    if !owns(conn, stored.id, caller)? {
        return Err(bad("no such message in your conversations"));
    }
    let view = view_for(caller, &stored.message);
    let conv = view.conversation.clone().unwrap_or_default();
    if conv.r#type != kind as i32 || conv.target_id != target || conv.channel_id != channel {
        return Err(bad("conversation does not match the message"));
    }
    if stored.message.sent_time != req.sent_time {
        return Err(bad("sentTime does not match the message"));
    }
    if NOTICES.contains(&stored.message.object_name.as_str()) {
        return Err(bad("notices cannot be recalled"));
    }
    if let Some(notice_id) = stored.recalled_by {
        let (uid, sent_time, body): (String, i64, Vec<u8>) = conn.one(
            "SELECT uid, sent_time, body FROM messages WHERE id = ?1",
            args![notice_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let content = Message::decode(body.as_slice())
            .map_err(ApiError::internal)?
            .content;
        let seq = seq_of(conn, notice_id, caller)?;
        return Ok(Outcome::quiet(MessageAck {
            message_uid: uid,
            sent_time,
            seq,
            content,
        }));
    }
    let mut content = json!({
        "operatorId": caller,
        "recallTime": now,
        "originalObjectName": stored.message.object_name,
        "originalMessageUId": stored.message.message_uid,
        "originalSentTime": stored.message.sent_time,
        "isDelete": req.is_delete,
    });
    if !req.extra.is_empty() {
        content["extra"] = json!(req.extra);
    }
    if !req.user_json.is_empty() {
        content["user"] = validate::json_object("user", &req.user_json)?;
    }
    validate::push_config(req.push_config.as_ref())?;
    let mut msg = notice(
        caller,
        conv,
        object_names::RECALL_NOTICE,
        content,
        true,
        &stored.message.message_uid,
    );
    msg.disable_notification = req.disable_notification;
    msg.push_config = req.push_config;
    let stored_content = msg.content.clone();
    let (mut ack, deliveries) = append_to_holders(conn, msg, stored.id, true, now)?;
    ack.content = stored_content;
    conn.execute(
        "UPDATE messages SET recalled_by = (SELECT id FROM messages WHERE uid = ?1) WHERE id = ?2",
        args![ack.message_uid, stored.id],
    )?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

/// Private read receipt: an RC:ReadNtf entry in the peer's inbox.
pub fn read_receipt(
    conn: &dyn Db,
    caller: &str,
    peer: &str,
    channel: &str,
    message_uid: &str,
    last_time: i64,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    validate::id("targetId", peer)?;
    validate::channel(channel)?;
    let content = json!({
        "lastMessageSendTime": last_time,
        "messageUId": message_uid,
        "type": 1,
    });
    let conv = Conversation {
        r#type: ConversationType::Private as i32,
        target_id: peer.to_owned(),
        channel_id: channel.to_owned(),
    };
    let msg = notice(
        caller,
        conv,
        object_names::READ_NOTICE,
        content,
        false,
        message_uid,
    );
    let (ack, deliveries) = append(conn, msg, &[peer.to_owned()], now)?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

/// Read-status sync: an RC:SRSMsg entry in the caller's own inbox.
pub fn sync_read_status(
    conn: &dyn Db,
    caller: &str,
    conversation: Option<&Conversation>,
    last_time: i64,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    let conv = validate::kept_conversation(conversation, "read status sync")?;
    let content = json!({ "lastMessageSendTime": last_time });
    let msg = notice(
        caller,
        conv,
        object_names::SYNC_READ_STATUS,
        content,
        false,
        "",
    );
    let (ack, deliveries) = append(conn, msg, &[caller.to_owned()], now)?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

fn require_member(conn: &dyn Db, group: &str, user: &str) -> Result<(), ApiError> {
    validate::id("targetId", group)?;
    if groups::is_member(conn, group, user)? {
        Ok(())
    } else {
        Err(ApiError::new(
            codes::NOT_IN_GROUP,
            "you are not in this group",
        ))
    }
}

/// Group receipt request: an RC:RRReqMsg entry for every other holder of
/// the caller's group message.
pub fn receipt_request(
    conn: &dyn Db,
    caller: &str,
    group: &str,
    channel: &str,
    message_uid: &str,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    require_member(conn, group, caller)?;
    validate::channel(channel)?;
    let stored = load(conn, message_uid)?
        .filter(|s| {
            let c = s.message.conversation.clone().unwrap_or_default();
            s.message.sender_user_id == caller
                && c.r#type == ConversationType::Group as i32
                && c.target_id == group
        })
        .ok_or_else(|| ApiError::invalid("messageUId must be your own message in this group"))?;
    let conv = Conversation {
        r#type: ConversationType::Group as i32,
        target_id: group.to_owned(),
        channel_id: channel.to_owned(),
    };
    let content = json!({ "messageUId": message_uid });
    let msg = notice(
        caller,
        conv,
        object_names::RECEIPT_REQUEST,
        content,
        false,
        message_uid,
    );
    let (ack, deliveries) = append_to_holders(conn, msg, stored.id, false, now)?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

/// Group receipt response: one RC:RRRspMsg entry per original sender named.
pub fn receipt_response(
    conn: &dyn Db,
    caller: &str,
    group: &str,
    channel: &str,
    list: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    require_member(conn, group, caller)?;
    validate::channel(channel)?;
    if list.is_empty() || list.len() > validate::MAX_ID_LIST {
        return Err(ApiError::invalid("messageList must name 1..=1000 senders"));
    }
    let mut first = None;
    let mut deliveries = Vec::new();
    for (sender, uids) in list {
        validate::id("messageList key", sender)?;
        if uids.is_empty() || uids.len() > validate::MAX_ID_LIST {
            return Err(ApiError::invalid(
                "each messageList entry must hold 1..=1000 uids",
            ));
        }
        if sender == caller {
            continue;
        }
        let conv = Conversation {
            r#type: ConversationType::Group as i32,
            target_id: group.to_owned(),
            channel_id: channel.to_owned(),
        };
        let content = json!({ "receiptMessageDic": { sender.clone(): uids } });
        let msg = notice(
            caller,
            conv,
            object_names::RECEIPT_RESPONSE,
            content,
            false,
            "",
        );
        let (ack, mut d) = append(conn, msg, std::slice::from_ref(sender), now)?;
        first.get_or_insert(ack);
        deliveries.append(&mut d);
    }
    Ok(Outcome {
        value: first.unwrap_or_default(),
        deliveries,
    })
}

/// Sets/removes expansion keys; every inbox holding the message receives an
/// RC:MsgExMsg entry.
pub fn expansion(
    conn: &dyn Db,
    caller: &str,
    message_uid: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
    now: i64,
) -> Result<Outcome<MessageAck>, ApiError> {
    if set.is_empty() && remove.is_empty() {
        return Err(ApiError::invalid("set and/or remove expansion keys"));
    }
    validate::expansion(set)?;
    if remove.len() > imsync_protocol::EXPANSION_MAX_KEYS_PER_UPDATE {
        return Err(ApiError::new(
            codes::EXPANSION_LIMIT_EXCEET,
            "at most 20 expansion keys per request",
        ));
    }
    remove.iter().try_for_each(|k| validate::expansion_key(k))?;
    let not_found = || {
        ApiError::new(
            codes::MESSAGE_EXPANDED_ERROR,
            "no such message in your conversations",
        )
    };
    let stored = load(conn, message_uid)?.ok_or_else(not_found)?;
    if !owns(conn, stored.id, caller)? {
        return Err(not_found());
    }
    let kind = conv_kind(&stored.message);
    if !stored.message.can_include_expansion
        || !matches!(kind, ConversationType::Private | ConversationType::Group)
    {
        return Err(ApiError::new(
            codes::MESSAGE_KV_NOT_SUPPORT,
            "the message does not allow expansion",
        ));
    }
    let mut current: BTreeMap<String, String> =
        serde_json::from_str(&stored.expansion).unwrap_or_default();
    for k in remove {
        current.remove(k);
    }
    for (k, v) in set {
        current.insert(k.clone(), v.clone());
    }
    if current.len() > EXPANSION_MAX_KEYS_TOTAL {
        return Err(ApiError::new(
            codes::EXPANSION_LIMIT_EXCEET,
            format!("a message holds at most {EXPANSION_MAX_KEYS_TOTAL} expansion keys"),
        ));
    }
    let json_map = serde_json::to_string(&current).map_err(ApiError::internal)?;
    conn.execute(
        "UPDATE messages SET expansion = ?1 WHERE id = ?2",
        args![json_map, stored.id],
    )?;
    let conv = view_for(caller, &stored.message)
        .conversation
        .unwrap_or_default();
    let content = json!({ "mid": message_uid, "put": set, "del": remove });
    let msg = notice(
        caller,
        conv,
        object_names::EXPANSION_NOTICE,
        content,
        false,
        message_uid,
    );
    let (ack, deliveries) = append_to_holders(conn, msg, stored.id, true, now)?;
    Ok(Outcome {
        value: ack,
        deliveries,
    })
}

/// The parts of an admin publish shared by all recipients.
pub struct Publish {
    /// Sender (a user or system account id).
    pub from: String,
    /// Message type.
    pub object_name: String,
    /// Content JSON.
    pub content: String,
    /// Store on clients.
    pub is_persisted: bool,
    /// Count as unread.
    pub is_counted: bool,
    /// Silent.
    pub disable_notification: bool,
    /// Push configuration.
    pub push_config: Option<PushConfig>,
    /// Also append to the sender's inbox (private and group).
    pub include_sender: bool,
}

impl Publish {
    fn message(&self, kind: ConversationType, target: &str) -> Message {
        Message {
            sender_user_id: self.from.clone(),
            conversation: Some(Conversation {
                r#type: kind as i32,
                target_id: target.to_owned(),
                channel_id: String::new(),
            }),
            object_name: self.object_name.clone(),
            content: self.content.clone(),
            is_persisted: self.is_persisted,
            is_counted: self.is_counted,
            disable_notification: self.disable_notification,
            push_config: self.push_config.clone(),
            ..Message::default()
        }
    }
}

/// Admin private publish: one message per recipient. With
/// `verify_blacklist`, recipients who blocked the sender are skipped (their
/// uid is returned empty).
pub fn publish_private(
    conn: &dyn Db,
    p: &Publish,
    to: &[String],
    verify_blacklist: bool,
    now: i64,
) -> Result<Outcome<Vec<String>>, ApiError> {
    let mut uids = vec![String::new(); to.len()];
    let mut deliveries = Vec::new();
    lock_clocks(conn, p, ConversationType::Private, to)?;
    for (i, user) in in_lock_order(to) {
        if verify_blacklist && settings::is_blocked(conn, user, &p.from)? {
            continue;
        }
        let mut owners = vec![user.clone()];
        if p.include_sender {
            owners.push(p.from.clone());
        }
        let (ack, mut d) = append(
            conn,
            p.message(ConversationType::Private, user),
            &owners,
            now,
        )?;
        uids[i] = ack.message_uid;
        deliveries.append(&mut d);
    }
    Ok(Outcome {
        value: uids,
        deliveries,
    })
}

/// The targets of a publish to several conversations, with their places in the request,
/// in the order their rows are locked: sorted, as every other job locks rows, so two
/// nodes publishing to the same targets wait for each other instead of deadlocking.
fn in_lock_order(targets: &[String]) -> Vec<(usize, &String)> {
    let mut order: Vec<(usize, &String)> = targets.iter().enumerate().collect();
    order.sort_by(|a, b| a.1.cmp(b.1));
    order
}

/// On PostgreSQL, takes the clocks of every conversation a publish to several will write
/// (sorted) before it writes anything. Every job takes its conversation's clock before any
/// other row, so while this job waits for a clock it holds no row a one-conversation job
/// needs: without this, a publish holding the first group's inboxes and waiting for the
/// second group's clock deadlocked with a send to the second group waiting for those
/// inboxes.
fn lock_clocks(
    conn: &dyn Db,
    p: &Publish,
    kind: ConversationType,
    targets: &[String],
) -> Result<(), ApiError> {
    if conn.as_postgres().is_none() || targets.len() < 2 {
        return Ok(());
    }
    let mut keys: Vec<String> = targets
        .iter()
        .map(|t| {
            let conv = p.message(kind, t).conversation.unwrap_or_default();
            conversation_key(&p.from, &conv)
        })
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        conn.execute(
            "INSERT INTO conversation_clocks (conv_key, last_time) VALUES (?1, 0)
             ON CONFLICT (conv_key) DO UPDATE SET last_time = conversation_clocks.last_time",
            args![key],
        )?;
    }
    Ok(())
}

/// Admin group publish: one message per group, to its members (or the
/// directed ones).
pub fn publish_group(
    conn: &dyn Db,
    p: &Publish,
    groups_to: &[String],
    directed: &[String],
    now: i64,
) -> Result<Outcome<Vec<String>>, ApiError> {
    let mut uids = vec![String::new(); groups_to.len()];
    let mut deliveries = Vec::new();
    lock_clocks(conn, p, ConversationType::Group, groups_to)?;
    for (i, group) in in_lock_order(groups_to) {
        if !groups::exists(conn, group)? {
            return Err(ApiError::new(
                codes::NOT_IN_GROUP,
                format!("group {group:?} does not exist"),
            ));
        }
        if directed.is_empty() && timeline::is_timeline(conn, group)? {
            let msg = p.message(ConversationType::Group, group);
            let (ack, mut d) = timeline::append(conn, msg, group, p.include_sender, now)?;
            uids[i] = ack.message_uid;
            deliveries.append(&mut d);
            continue;
        }
        let mut owners: Vec<String> = groups::members(conn, group)?
            .into_iter()
            .filter(|m| directed.is_empty() || directed.contains(m))
            .filter(|m| p.include_sender || *m != p.from)
            .collect();
        if p.include_sender {
            owners.push(p.from.clone());
        }
        let mut msg = p.message(ConversationType::Group, group);
        msg.directed_user_ids = directed.to_vec();
        let (ack, mut d) = append(conn, msg, &owners, now)?;
        uids[i] = ack.message_uid;
        deliveries.append(&mut d);
    }
    Ok(Outcome {
        value: uids,
        deliveries,
    })
}

/// Admin system publish: one SYSTEM message (target = the sender) in every
/// recipient's inbox.
pub fn publish_system(
    conn: &dyn Db,
    p: &Publish,
    to: &[String],
    now: i64,
) -> Result<Outcome<Vec<String>>, ApiError> {
    let msg = p.message(ConversationType::System, &p.from);
    let (ack, deliveries) = append(conn, msg, to, now)?;
    Ok(Outcome {
        value: vec![ack.message_uid],
        deliveries,
    })
}
