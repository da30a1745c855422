//! Chatroom entries (KV, seed 002 "聊天室属性管理"): at most 100 per room, each owned by
//! the user who last set it. Every call is one write job, so a batch either applies whole
//! or not at all (a refused entry changes nothing, as the seed asks of bad input).

use imsync_protocol::chatroom_rules::{self as rules, MAX_ENTRIES};
use imsync_protocol::ChatroomEntry;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ApiError;

fn read_entry(c: &Connection, room: &str, key: &str) -> Result<Option<ChatroomEntry>, ApiError> {
    Ok(c.prepare_cached(
        "SELECT value, owner, updated_at, auto_delete FROM chatroom_entries
         WHERE room_id = ?1 AND key = ?2",
    )?
    .query_row(params![room, key], |r| {
        Ok(ChatroomEntry {
            key: key.to_owned(),
            value: r.get(0)?,
            owner: r.get(1)?,
            timestamp: r.get(2)?,
            auto_delete: r.get::<_, i64>(3)? != 0,
        })
    })
    .optional()?)
}

fn count(c: &Connection, room: &str) -> Result<usize, ApiError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM chatroom_entries WHERE room_id = ?1",
        [room],
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
    c: &Connection,
    room: &str,
    user: &str,
    entries: &[ChatroomEntry],
    force: bool,
    now: i64,
) -> Result<Vec<ChatroomEntry>, ApiError> {
    let mut added = 0;
    for e in entries {
        match read_entry(c, room, &e.key)? {
            Some(old) if old.owner != user && !force => return Err(not_owner(&e.key, &old.owner)),
            Some(_) => {}
            None => added += 1,
        }
    }
    let existing = count(c, room)?;
    if existing + added > MAX_ENTRIES {
        return Err(ApiError::new(
            rules::KV_EXCEED,
            format!("chatroom {room} holds {existing} entries; {added} more exceed the limit of {MAX_ENTRIES}"),
        ));
    }
    let mut stmt = c.prepare_cached(
        "INSERT INTO chatroom_entries (room_id, key, value, owner, auto_delete, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (room_id, key) DO UPDATE SET value = excluded.value, owner = excluded.owner,
             auto_delete = excluded.auto_delete, updated_at = excluded.updated_at",
    )?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        stmt.execute(params![
            room,
            e.key,
            e.value,
            user,
            e.auto_delete as i64,
            now
        ])?;
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
    c: &Connection,
    room: &str,
    user: &str,
    keys: &[String],
    force: bool,
) -> Result<Vec<String>, ApiError> {
    for k in keys {
        match read_entry(c, room, k)? {
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
    let mut stmt =
        c.prepare_cached("DELETE FROM chatroom_entries WHERE room_id = ?1 AND key = ?2")?;
    for k in keys {
        stmt.execute(params![room, k])?;
    }
    Ok(keys.to_vec())
}

/// The entries of `room` (all of them, or those of `keys` that exist), by key.
pub fn get(c: &Connection, room: &str, keys: &[String]) -> Result<Vec<ChatroomEntry>, ApiError> {
    if !keys.is_empty() {
        let mut out = Vec::new();
        for k in keys {
            out.extend(read_entry(c, room, k)?);
        }
        return Ok(out);
    }
    let mut stmt = c.prepare_cached(
        "SELECT key, value, owner, updated_at, auto_delete FROM chatroom_entries
         WHERE room_id = ?1 ORDER BY key",
    )?;
    let rows = stmt.query_map([room], |r| {
        Ok(ChatroomEntry {
            key: r.get(0)?,
            value: r.get(1)?,
            owner: r.get(2)?,
            timestamp: r.get(3)?,
            auto_delete: r.get::<_, i64>(4)? != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes the auto-delete entries `users` own in `room` (they left it); returns the keys.
pub fn remove_auto(c: &Connection, room: &str, users: &[String]) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    let mut select = c.prepare_cached(
        "SELECT key FROM chatroom_entries WHERE room_id = ?1 AND owner = ?2 AND auto_delete = 1
         ORDER BY key",
    )?;
    for u in users {
        let found: Vec<String> = select
            .query_map(params![room, u], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        keys.extend(found);
    }
    let mut delete =
        c.prepare_cached("DELETE FROM chatroom_entries WHERE room_id = ?1 AND key = ?2")?;
    for k in &keys {
        delete.execute(params![room, k])?;
    }
    Ok(keys)
}

/// Removes every entry of destroyed rooms.
pub fn drop_rooms(c: &Connection, rooms: &[String]) -> Result<(), ApiError> {
    let mut stmt = c.prepare_cached("DELETE FROM chatroom_entries WHERE room_id = ?1")?;
    for r in rooms {
        stmt.execute([r])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE chatroom_entries (room_id TEXT NOT NULL, key TEXT NOT NULL,
             value TEXT NOT NULL, owner TEXT NOT NULL, auto_delete INTEGER NOT NULL,
             updated_at INTEGER NOT NULL, PRIMARY KEY (room_id, key)) WITHOUT ROWID;",
        )
        .unwrap();
        c
    }

    fn entry(key: &str, value: &str, auto_delete: bool) -> ChatroomEntry {
        ChatroomEntry {
            key: key.into(),
            value: value.into(),
            auto_delete,
            ..Default::default()
        }
    }

    #[test]
    fn ownership_limits_and_auto_delete() {
        let c = db();
        set(
            &c,
            "r",
            "alice",
            &[entry("a", "1", true), entry("b", "2", false)],
            false,
            1,
        )
        .unwrap();
        let e = set(&c, "r", "bob", &[entry("a", "x", false)], false, 2).unwrap_err();
        assert_eq!(e.code, rules::KV_OVERWRITE_INVALID);
        set(&c, "r", "bob", &[entry("b", "3", false)], true, 3).unwrap();
        assert_eq!(get(&c, "r", &["b".into()]).unwrap()[0].owner, "bob");
        assert_eq!(
            remove(&c, "r", "alice", &["b".into()], false)
                .unwrap_err()
                .code,
            rules::KV_OVERWRITE_INVALID
        );
        assert_eq!(
            remove(&c, "r", "alice", &["zz".into()], false)
                .unwrap_err()
                .code,
            rules::KEY_NOT_EXIST
        );
        // 100 entries at most, counted before anything is written.
        let many: Vec<ChatroomEntry> = (0..98)
            .map(|i| entry(&format!("k{i}"), "v", false))
            .collect();
        set(&c, "r", "carol", &many, false, 4).unwrap();
        let e = set(&c, "r", "carol", &[entry("x1", "v", false)], false, 5).unwrap_err();
        assert_eq!(e.code, rules::KV_EXCEED);
        assert_eq!(get(&c, "r", &[]).unwrap().len(), 100);
        assert_eq!(
            remove_auto(&c, "r", &["alice".into()]).unwrap(),
            vec!["a".to_string()]
        );
        assert_eq!(get(&c, "r", &[]).unwrap().len(), 99);
        drop_rooms(&c, &["r".into()]).unwrap();
        assert!(get(&c, "r", &[]).unwrap().is_empty());
    }
}
