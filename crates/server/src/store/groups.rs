//! Users and groups. Group membership is managed by the admin API only (as
//! with the vendor); clients only read it through routing.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ApiError;

/// Membership check on every group send.
pub(crate) const SQL_IS_MEMBER: &str =
    "SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2";
/// Group fan-out list.
pub(crate) const SQL_MEMBERS: &str =
    "SELECT user_id FROM group_members WHERE group_id = ?1 ORDER BY user_id";

/// Records that `user_id` exists (first token issue); later calls update the
/// profile fields when given.
pub fn upsert_user(
    conn: &Connection,
    user_id: &str,
    name: Option<&str>,
    portrait: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO users (user_id, name, portrait, created_at) VALUES (?1, COALESCE(?2, ''), COALESCE(?3, ''), ?4)
         ON CONFLICT(user_id) DO UPDATE SET name = COALESCE(?2, name), portrait = COALESCE(?3, portrait)",
        params![user_id, name, portrait, now],
    )?;
    Ok(())
}

/// Creates the group if needed and adds `members` (already members stay,
/// keeping their join time).
pub fn create_or_join(
    conn: &Connection,
    group_id: &str,
    name: Option<&str>,
    members: &[String],
    now: i64,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO groups (group_id, name, created_at) VALUES (?1, COALESCE(?2, ''), ?3)
         ON CONFLICT(group_id) DO UPDATE SET name = COALESCE(?2, name)",
        params![group_id, name, now],
    )?;
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_members (group_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
    )?;
    for m in members {
        add.execute(params![group_id, m, now])?;
    }
    Ok(())
}

/// Removes `members` from the group.
pub fn quit(conn: &Connection, group_id: &str, members: &[String]) -> Result<(), ApiError> {
    let mut del =
        conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?;
    for m in members {
        del.execute(params![group_id, m])?;
    }
    Ok(())
}

/// Deletes the group and its memberships; returns whether it existed.
pub fn dismiss(conn: &Connection, group_id: &str) -> Result<bool, ApiError> {
    conn.execute("DELETE FROM group_members WHERE group_id = ?1", [group_id])?;
    Ok(conn.execute("DELETE FROM groups WHERE group_id = ?1", [group_id])? > 0)
}

/// Whether the group exists.
pub fn exists(conn: &Connection, group_id: &str) -> Result<bool, ApiError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM groups WHERE group_id = ?1",
            [group_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Whether `user_id` is a member of `group_id`.
pub fn is_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached(SQL_IS_MEMBER)?
        .query_row(params![group_id, user_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The members of `group_id`, sorted.
pub fn members(conn: &Connection, group_id: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = conn.prepare_cached(SQL_MEMBERS)?;
    let rows = stmt.query_map([group_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
