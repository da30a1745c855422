//! Chatroom entries (KV, seed 002 "聊天室属性管理"): at most 100 per room, each owned by
//! the user who last set it. Every call is one write job, so a batch either applies whole
//! or not at all (a refused entry changes nothing, as the seed asks of bad input).
//! Written against [`Db`], so the same code runs on SQLite and PostgreSQL.

use imsync_protocol::chatroom_rules::{self as rules, MAX_ENTRIES};
use imsync_protocol::ChatroomEntry;

use super::sql::{Db, Row};
use crate::args;
use crate::error::ApiError;

fn read_entry(db: &dyn Db, room: &str, key: &str) -> Result<Option<ChatroomEntry>, ApiError> {
    db.optional(
        "SELECT key, value, owner, updated_at, auto_delete FROM chatroom_entries
         WHERE room_id = ?1 AND key = ?2",
        args![room, key],
        entry_from_row,
    )
}

fn entry_from_row(r: &Row<'_>) -> Result<ChatroomEntry, ApiError> {
    Ok(ChatroomEntry {
        key: r.get(0)?,
        value: r.get(1)?,
        owner: r.get(2)?,
        timestamp: r.get(3)?,
        auto_delete: r.get(4)?,
    })
}

fn count(db: &dyn Db, room: &str) -> Result<usize, ApiError> {
    let n: i64 = db.one(
        "SELECT COUNT(*) FROM chatroom_entries WHERE room_id = ?1",
        args![room],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

fn not_owner(key: &str, owner: &str) -> ApiError {
    ApiError::new(
        rules::KV_OVERWRITE_INVALID,
        format!("entry {key} belongs to {owner}; only a forced call may change it"),
    )
}

/// Sets `entries` (validated) for `user`; returns them as stored.
pub fn set(
    db: &dyn Db,
    room: &str,
    user: &str,
    entries: &[ChatroomEntry],
    force: bool,
    now: i64,
) -> Result<Vec<ChatroomEntry>, ApiError> {
    let mut added = 0;
    for e in entries {
        match read_entry(db, room, &e.key)? {
            Some(old) if old.owner != user && !force => return Err(not_owner(&e.key, &old.owner)),
            Some(_) => {}
            None => added += 1,
        }
    }
    let existing = count(db, room)?;
    if existing + added > MAX_ENTRIES {
        return Err(ApiError::new(
            rules::KV_EXCEED,
            format!("chatroom {room} holds {existing} entries; {added} more exceed the limit of {MAX_ENTRIES}"),
        ));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        db.execute(
            "INSERT INTO chatroom_entries (room_id, key, value, owner, auto_delete, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (room_id, key) DO UPDATE SET value = excluded.value, owner = excluded.owner,
                 auto_delete = excluded.auto_delete, updated_at = excluded.updated_at",
            args![room, e.key, e.value, user, e.auto_delete, now],
        )?;
        out.push(ChatroomEntry {
            key: e.key.clone(),
            value: e.value.clone(),
            owner: user.to_owned(),
            timestamp: now,
            auto_delete: e.auto_delete,
        });
    }
    Ok(out)
}

/// Removes `keys` for `user` (23427 for a missing key, 23424 for another user's unless
/// `force`); returns the removed keys.
pub fn remove(
    db: &dyn Db,
    room: &str,
    user: &str,
    keys: &[String],
    force: bool,
) -> Result<Vec<String>, ApiError> {
    for k in keys {
        match read_entry(db, room, k)? {
            None => {
                return Err(ApiError::new(
                    rules::KEY_NOT_EXIST,
                    format!("chatroom {room} has no entry {k}"),
                ))
            }
            Some(old) if old.owner != user && !force => return Err(not_owner(k, &old.owner)),
            Some(_) => {}
        }
    }
    for k in keys {
        delete(db, room, k)?;
    }
    Ok(keys.to_vec())
}

fn delete(db: &dyn Db, room: &str, key: &str) -> Result<(), ApiError> {
    db.execute(
        "DELETE FROM chatroom_entries WHERE room_id = ?1 AND key = ?2",
        args![room, key],
    )?;
    Ok(())
}

/// The entries of `room` (all of them, or those of `keys` that exist), by key.
pub fn get(db: &dyn Db, room: &str, keys: &[String]) -> Result<Vec<ChatroomEntry>, ApiError> {
    if !keys.is_empty() {
        let mut out = Vec::new();
        for k in keys {
            out.extend(read_entry(db, room, k)?);
        }
        return Ok(out);
    }
    db.all(
        "SELECT key, value, owner, updated_at, auto_delete FROM chatroom_entries
         WHERE room_id = ?1 ORDER BY key",
        args![room],
        entry_from_row,
    )
}

/// Removes the auto-delete entries `users` own in `room` (they left it); returns the keys.
pub fn remove_auto(db: &dyn Db, room: &str, users: &[String]) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    for u in users {
        keys.extend(db.all(
            "SELECT key FROM chatroom_entries WHERE room_id = ?1 AND owner = ?2 AND auto_delete = 1
             ORDER BY key",
            args![room, u],
            |r| r.get::<String>(0),
        )?);
    }
    for k in &keys {
        delete(db, room, k)?;
    }
    Ok(keys)
}

/// Removes every entry of destroyed rooms.
pub fn drop_rooms(db: &dyn Db, rooms: &[String]) -> Result<(), ApiError> {
    for r in rooms {
        db.execute("DELETE FROM chatroom_entries WHERE room_id = ?1", args![r])?;
    }
    Ok(())
}
