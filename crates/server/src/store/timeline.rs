//! Large groups as one timeline (read fan-out).
//!
//! A group that reaches `--read-fanout-members` members keeps its messages once, in
//! `group_timeline`, numbered `gseq` 1, 2, 3... in commit order (the `group_heads` row is
//! locked by every append until it commits). A send writes the message, one timeline row
//! and the sender's own inbox entry: O(1) rows whatever the group's size.
//!
//! Each member has a cursor: how far the timeline has been copied into their inbox. The
//! copy ([`catch_up`]) happens when the member next reads (connect, pull, history) and,
//! for members online on some node, right after the send (the node's timeline pump), so
//! live pushes carry the member's own inbox seq as before. After a catch-up, the member's
//! inbox is exactly what write fan-out would have built (only the interleaving with other
//! conversations may differ), so every other inbox rule (gap-free seqs, acks, deletes,
//! retention, exactly-once on the client) is unchanged. Members who never come back cost
//! nothing.
//!
//! Locks on PostgreSQL, always in this order within a job: the conversation's clock,
//! cursors (sorted), inbox heads (sorted), a group's head. A catch-up locks the cursors it copies for, so two nodes
//! catching the same user up copy each entry once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use imsync_protocol::prost::Message as _;
use imsync_protocol::{InboxEntry, Message, MessageAck};

use super::messages::{self, view_for};
use super::sql::Db;
use crate::args;
use crate::error::ApiError;
use crate::fanout::Delivery;

/// Cursors of the users in the JSON array `?1` that are behind their group's head
/// (SQLite; the writer is alone). Set-based, as every statement of a long job costs SQLite
/// a walk of the job's in-memory sub-journal when it ends. (The heads are read in
/// correlated subqueries, here and below: SQLite recompiled the join form at every new
/// binding.)
pub(crate) const SQL_BEHIND: &str = "SELECT c.user_id, c.group_id, c.gseq FROM timeline_cursors c
     WHERE c.user_id IN (SELECT value FROM json_each(?1))
       AND c.gseq < (SELECT h.last_gseq FROM group_heads h WHERE h.group_id = c.group_id)
     ORDER BY c.user_id, c.group_id";
/// As [`SQL_BEHIND`] for one user (a few users: see [`messages::SET_BASED_FROM`]).
/// (No ORDER BY: with one, SQLite recompiled it at every binding; the caller sorts.)
pub(crate) const SQL_BEHIND_ONE: &str = "SELECT c.group_id, c.gseq FROM timeline_cursors c
     WHERE c.user_id = ?1
       AND c.gseq < (SELECT h.last_gseq FROM group_heads h WHERE h.group_id = c.group_id)";
/// As [`SQL_BEHIND`], locking the cursors (PostgreSQL: another node may be catching the
/// same user up).
const SQL_BEHIND_PG: &str = "SELECT c.user_id, c.group_id, c.gseq FROM timeline_cursors c
     WHERE c.user_id = ANY($1::text[])
       AND c.gseq < (SELECT h.last_gseq FROM group_heads h WHERE h.group_id = c.group_id)
     ORDER BY c.user_id, c.group_id FOR UPDATE";
/// Whether a user has anything to catch up (one read per connect, pull and history).
pub(crate) const SQL_IS_BEHIND: &str = "SELECT 1 FROM timeline_cursors c
     WHERE c.user_id = ?1
       AND c.gseq < (SELECT h.last_gseq FROM group_heads h WHERE h.group_id = c.group_id)
     LIMIT 1";
/// Members of a group who are behind (the pump keeps the online ones).
pub(crate) const SQL_BEHIND_IN_GROUP: &str = "SELECT c.user_id FROM timeline_cursors c
     WHERE c.group_id = ?1
       AND c.gseq < (SELECT h.last_gseq FROM group_heads h WHERE h.group_id = ?1)";
/// A group's timeline after a cursor, with the messages (in no order, and the bodies in a
/// subquery: SQLite recompiled the join and ordered forms at every binding; the caller
/// sorts). Retention deletes timeline rows before messages, so every body is there.
pub(crate) const SQL_TIMELINE_AFTER: &str = "SELECT t.gseq, t.skip_user, t.message_id,
       (SELECT m.body FROM messages m WHERE m.id = t.message_id)
     FROM group_timeline t WHERE t.group_id = ?1 AND t.gseq > ?2";
const SQL_MOVE_CURSOR: &str =
    "UPDATE timeline_cursors SET gseq = ?3 WHERE user_id = ?1 AND group_id = ?2";
/// Moves cursors to the gseqs in `?1`, a JSON array of [user, group, gseq].
pub(crate) const SQL_MOVE_CURSORS: &str = "UPDATE timeline_cursors SET gseq = moves.g
     FROM (SELECT json_extract(value, '$[0]') AS u, json_extract(value, '$[1]') AS grp,
                  json_extract(value, '$[2]') AS g FROM json_each(?1)) AS moves
     WHERE timeline_cursors.user_id = moves.u AND timeline_cursors.group_id = moves.grp";
const SQL_MOVE_CURSORS_PG: &str = "UPDATE timeline_cursors c SET gseq = v.g
     FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(u, grp, g)
     WHERE c.user_id = v.u AND c.group_id = v.grp";

/// Whether `group` keeps one timeline.
pub fn is_timeline(db: &dyn Db, group: &str) -> Result<bool, ApiError> {
    db.exists(
        "SELECT 1 FROM group_heads WHERE group_id = ?1",
        args![group],
    )
}

/// After `joined` became members of `group`: they get cursors at the timeline's head (a
/// member sees what is sent after joining, as with write fan-out), and a group that has
/// reached `threshold` members (0 = never) becomes a timeline from now on. It stays one:
/// switching back would have to copy every member's pending entries at once.
pub fn after_join(
    db: &dyn Db,
    group: &str,
    joined: &[String],
    threshold: u32,
) -> Result<(), ApiError> {
    if is_timeline(db, group)? {
        for user in joined {
            db.execute(
                "INSERT OR IGNORE INTO timeline_cursors (user_id, group_id, gseq)
                 SELECT ?1, group_id, last_gseq FROM group_heads WHERE group_id = ?2",
                args![user, group],
            )?;
        }
        return Ok(());
    }
    if threshold == 0 {
        return Ok(());
    }
    let members: i64 = db.one(
        "SELECT COUNT(*) FROM group_members WHERE group_id = ?1",
        args![group],
        |r| r.get(0),
    )?;
    if members >= i64::from(threshold) {
        db.execute(
            "INSERT INTO group_heads (group_id, last_gseq) VALUES (?1, 0)",
            args![group],
        )?;
        db.execute(
            "INSERT INTO timeline_cursors (user_id, group_id, gseq)
             SELECT user_id, group_id, 0 FROM group_members WHERE group_id = ?1",
            args![group],
        )?;
    }
    Ok(())
}

/// Before `leaving` stop being members of `group`: what was sent while they were members
/// is copied into their inboxes, then their cursors go.
pub fn before_quit(
    db: &dyn Db,
    group: &str,
    leaving: &[String],
    now: i64,
) -> Result<Vec<Delivery>, ApiError> {
    if !is_timeline(db, group)? {
        return Ok(Vec::new());
    }
    let users: BTreeSet<&str> = leaving.iter().map(String::as_str).collect();
    let deliveries = catch_up(db, &users.into_iter().collect::<Vec<_>>(), now)?;
    for user in leaving {
        db.execute(
            "DELETE FROM timeline_cursors WHERE user_id = ?1 AND group_id = ?2",
            args![user, group],
        )?;
    }
    Ok(deliveries)
}

/// Before `group` is dismissed: every member's pending entries are copied, then the
/// timeline goes (copied messages stay in the inboxes holding them).
pub fn before_dismiss(db: &dyn Db, group: &str, now: i64) -> Result<Vec<Delivery>, ApiError> {
    if !is_timeline(db, group)? {
        return Ok(Vec::new());
    }
    let members: Vec<String> = db.all(
        "SELECT user_id FROM timeline_cursors WHERE group_id = ?1 ORDER BY user_id",
        args![group],
        |r| r.get(0),
    )?;
    // One statement for the cursors: one per member would make a large group's dismiss
    // quadratic on SQLite (see `messages::SET_BASED_FROM`).
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let deliveries = catch_up(db, &members, now)?;
    db.execute(
        "DELETE FROM timeline_cursors WHERE group_id = ?1",
        args![group],
    )?;
    db.execute(
        "DELETE FROM group_timeline WHERE group_id = ?1",
        args![group],
    )?;
    db.execute("DELETE FROM group_heads WHERE group_id = ?1", args![group])?;
    Ok(deliveries)
}

/// Stores `message` once in `group`'s timeline. The sender is never sent it by the copy:
/// with `sender_copy` their inbox gets it at once (the ack carries its seq, as for any
/// send), without it they do not get it at all (an admin publish without the sender).
pub fn append(
    db: &dyn Db,
    message: Message,
    group: &str,
    sender_copy: bool,
    now: i64,
) -> Result<(MessageAck, Vec<Delivery>), ApiError> {
    let sender = message.sender_user_id.clone();
    let conv = message.conversation.clone().unwrap_or_default();
    let time = messages::conversation_time(db, &sender, &conv, now)?;
    // The sender's inbox first takes what came before, so their own message follows it
    // (locks in the order every job keeps: the conversation's clock, cursors, inbox heads,
    // the group's head).
    let mut deliveries = if sender_copy {
        catch_up(db, &[sender.as_str()], now)?
    } else {
        Vec::new()
    };
    let (id, message) = messages::insert_message(db, message, time)?;
    let gseq: i64 = db.one(
        "UPDATE group_heads SET last_gseq = last_gseq + 1 WHERE group_id = ?1 RETURNING last_gseq",
        args![group],
        |r| r.get(0),
    )?;
    db.execute(
        "INSERT INTO group_timeline (group_id, gseq, message_id, skip_user, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        args![group, gseq, id, sender, now],
    )?;
    let mut ack = MessageAck {
        message_uid: message.message_uid.clone(),
        sent_time: time,
        ..MessageAck::default()
    };
    if sender_copy {
        let seqs = messages::append_pairs(db, &[(sender.as_str(), id)], now)?;
        ack.seq = seqs[0];
        deliveries.push(Delivery::Entry {
            user: sender.clone(),
            entry: InboxEntry {
                seq: ack.seq,
                message: Some(view_for(&sender, &message)),
            },
        });
    }
    deliveries.push(Delivery::Timeline {
        group: group.to_owned(),
    });
    Ok((ack, deliveries))
}

/// The timeline group holding message `id`, if it is a timeline message.
pub(crate) fn group_of(db: &dyn Db, id: i64) -> Result<Option<String>, ApiError> {
    db.optional(
        "SELECT group_id FROM group_timeline WHERE message_id = ?1",
        args![id],
        |r| r.get(0),
    )
}

/// Whether `user` has timeline entries not yet in their inbox.
pub fn is_behind(db: &dyn Db, user: &str) -> Result<bool, ApiError> {
    db.exists(SQL_IS_BEHIND, args![user])
}

/// Catches up the members of `groups` who are behind and for whom `wanted` holds (the
/// pump: the users online on this node).
pub fn catch_up_groups(
    db: &dyn Db,
    groups: &BTreeSet<String>,
    wanted: &dyn Fn(&str) -> bool,
    now: i64,
) -> Result<Vec<Delivery>, ApiError> {
    let mut users = BTreeSet::new();
    for group in groups {
        db.for_each(SQL_BEHIND_IN_GROUP, args![group], &mut |r| {
            let user: String = r.get(0)?;
            if wanted(&user) {
                users.insert(user);
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    }
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    catch_up(db, &users, now)
}

/// Whether any of `users` follows a timeline (PostgreSQL).
fn pg_in_any_timeline(pg: &super::sql::PgDb, users: &[&str]) -> Result<bool, ApiError> {
    let mut any = false;
    pg.query_native(SQL_IN_ANY_TIMELINE_PG, &[&users], |row| {
        any = row.try_get(0)?;
        Ok(())
    })?;
    Ok(any)
}

const SQL_IN_ANY_TIMELINE_PG: &str =
    "SELECT EXISTS (SELECT 1 FROM timeline_cursors WHERE user_id = ANY($1::text[]))";

/// A timeline entry to copy.
struct Pending {
    gseq: i64,
    skip_user: String,
    id: i64,
    message: Message,
}

/// Copies into the inboxes of `users` (sorted, distinct) every timeline entry past their
/// cursors, in each group's order (groups interleaved by send time), and moves the
/// cursors in the same transaction. Returns one delivery per copied entry.
pub fn catch_up(db: &dyn Db, users: &[&str], now: i64) -> Result<Vec<Delivery>, ApiError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    // (user, group) -> cursor, for the cursors that are behind.
    let mut cursors: Vec<(String, String, i64)> = Vec::new();
    match db.as_postgres() {
        // Most users are in no large group: one cheap lookup, not the locking query
        // (whose planning cost PostgreSQL 0.2 ms of CPU per 1:1 send).
        Some(pg) if !pg_in_any_timeline(pg, users)? => {}
        Some(pg) => pg.query_native(SQL_BEHIND_PG, &[&users], |row| {
            cursors.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?));
            Ok(())
        })?,
        None if users.len() < messages::SET_BASED_FROM => {
            for user in users {
                db.for_each(SQL_BEHIND_ONE, args![user], &mut |r| {
                    cursors.push(((*user).to_owned(), r.get(0)?, r.get(1)?));
                    Ok(std::ops::ControlFlow::Continue(()))
                })?;
            }
            cursors.sort();
        }
        None => {
            let users = serde_json::to_string(users).map_err(ApiError::internal)?;
            db.for_each(SQL_BEHIND, args![users], &mut |r| {
                cursors.push((r.get(0)?, r.get(1)?, r.get(2)?));
                Ok(std::ops::ControlFlow::Continue(()))
            })?;
        }
    }
    if cursors.is_empty() {
        return Ok(Vec::new());
    }
    // Each group's entries past its lowest cursor, read once.
    let mut lowest: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, group, gseq) in &cursors {
        let low = lowest.entry(group.as_str()).or_insert(*gseq);
        *low = (*low).min(*gseq);
    }
    let mut timelines: HashMap<&str, Vec<Pending>> = HashMap::new();
    for (group, after) in &lowest {
        let mut entries = Vec::new();
        db.for_each(SQL_TIMELINE_AFTER, args![group, after], &mut |r| {
            let body: Vec<u8> = r.get(3)?;
            entries.push(Pending {
                gseq: r.get(0)?,
                skip_user: r.get(1)?,
                id: r.get(2)?,
                message: Message::decode(body.as_slice()).map_err(ApiError::internal)?,
            });
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        entries.sort_unstable_by_key(|p| p.gseq);
        timelines.insert(group, entries);
    }

    // Per user: the entries to copy, in order, and where each cursor ends.
    let mut pairs: Vec<(&str, i64)> = Vec::new();
    let mut copied: Vec<(&str, &Message)> = Vec::new();
    let mut moves: Vec<(&str, &str, i64)> = Vec::new();
    let mut i = 0;
    while i < cursors.len() {
        let user = cursors[i].0.as_str();
        let mut lanes: Vec<&[Pending]> = Vec::new();
        while i < cursors.len() && cursors[i].0 == user {
            let (_, group, gseq) = &cursors[i];
            let entries = timelines.get(group.as_str()).map_or(&[][..], Vec::as_slice);
            let start = entries.partition_point(|p| p.gseq <= *gseq);
            if let Some(last) = entries.last().filter(|_| start < entries.len()) {
                moves.push((user, group.as_str(), last.gseq));
            }
            lanes.push(&entries[start..]);
            i += 1;
        }
        for p in merge_by_time(lanes) {
            if p.skip_user != user {
                pairs.push((user, p.id));
                copied.push((user, &p.message));
            }
        }
    }
    let seqs = messages::append_pairs(db, &pairs, now)?;
    move_cursors(db, &moves)?;
    Ok(copied
        .into_iter()
        .zip(seqs)
        .map(|((user, message), seq)| Delivery::Entry {
            user: user.to_owned(),
            entry: InboxEntry {
                seq,
                message: Some(view_for(user, message)),
            },
        })
        .collect())
}

/// The entries of several groups in one sequence: each group's own order kept, the
/// groups interleaved by send time (ties to the group listed first).
fn merge_by_time(mut lanes: Vec<&[Pending]>) -> Vec<&Pending> {
    let mut out = Vec::with_capacity(lanes.iter().map(|l| l.len()).sum());
    loop {
        let next = lanes
            .iter()
            .enumerate()
            .filter_map(|(k, lane)| lane.first().map(|p| (p.message.sent_time, k)))
            .min();
        let Some((_, k)) = next else {
            return out;
        };
        out.push(&lanes[k][0]);
        lanes[k] = &lanes[k][1..];
    }
}

fn move_cursors(db: &dyn Db, moves: &[(&str, &str, i64)]) -> Result<(), ApiError> {
    match db.as_postgres() {
        Some(pg) => {
            let users: Vec<&str> = moves.iter().map(|m| m.0).collect();
            let groups: Vec<&str> = moves.iter().map(|m| m.1).collect();
            let gseqs: Vec<i64> = moves.iter().map(|m| m.2).collect();
            pg.query_native(SQL_MOVE_CURSORS_PG, &[&users, &groups, &gseqs], |_| Ok(()))
        }
        None if moves.len() < messages::SET_BASED_FROM => {
            for (user, group, gseq) in moves {
                db.execute(SQL_MOVE_CURSOR, args![user, group, gseq])?;
            }
            Ok(())
        }
        None => {
            let moves = serde_json::to_string(moves).map_err(ApiError::internal)?;
            db.execute(SQL_MOVE_CURSORS, args![moves])?;
            Ok(())
        }
    }
}
