//! Users and groups. Group membership is managed by the admin API only (as
//! with the vendor); clients only read it through routing.
//!
//! Written against [`Db`], so the same code runs on SQLite and PostgreSQL.

use super::sql::Db;
use super::{timeline, Outcome};
use crate::args;
use crate::error::ApiError;
use crate::fanout::Delivery;

/// Membership check on every group send.
pub(crate) const SQL_IS_MEMBER: &str =
    "SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2";
/// Group fan-out list.
pub(crate) const SQL_MEMBERS: &str =
    "SELECT user_id FROM group_members WHERE group_id = ?1 ORDER BY user_id";

/// Records that `user_id` exists (first token issue); later calls update the
/// profile fields when given.
pub fn upsert_user(
    db: &dyn Db,
    user_id: &str,
    name: Option<&str>,
    portrait: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO users (user_id, name, portrait, created_at) VALUES (?1, COALESCE(?2, ''), COALESCE(?3, ''), ?4)
         ON CONFLICT(user_id) DO UPDATE SET name = COALESCE(?2, users.name), portrait = COALESCE(?3, users.portrait)",
        args![user_id, name, portrait, now],
    )?;
    Ok(())
}

/// Creates the group if needed and adds `members` (already members stay,
/// keeping their join time). A group reaching `read_fanout_members` becomes one timeline
/// ([`timeline::after_join`]).
pub fn create_or_join(
    db: &dyn Db,
    group_id: &str,
    name: Option<&str>,
    members: &[String],
    read_fanout_members: u32,
    now: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO groups (group_id, name, created_at) VALUES (?1, COALESCE(?2, ''), ?3)
         ON CONFLICT(group_id) DO UPDATE SET name = COALESCE(?2, groups.name)",
        args![group_id, name, now],
    )?;
    for m in members {
        db.execute(
            "INSERT OR IGNORE INTO group_members (group_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
            args![group_id, m, now],
        )?;
    }
    timeline::after_join(db, group_id, members, read_fanout_members)
}

/// Removes `members` from the group (after copying what they were sent while members).
pub fn quit(
    db: &dyn Db,
    group_id: &str,
    members: &[String],
    now: i64,
) -> Result<Vec<Delivery>, ApiError> {
    let deliveries = timeline::before_quit(db, group_id, members, now)?;
    for m in members {
        db.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
            args![group_id, m],
        )?;
    }
    Ok(deliveries)
}

/// Deletes the group and its memberships; returns whether it existed.
pub fn dismiss(db: &dyn Db, group_id: &str, now: i64) -> Result<Outcome<bool>, ApiError> {
    let deliveries = timeline::before_dismiss(db, group_id, now)?;
    db.execute(
        "DELETE FROM group_members WHERE group_id = ?1",
        args![group_id],
    )?;
    let existed = db.execute("DELETE FROM groups WHERE group_id = ?1", args![group_id])? > 0;
    Ok(Outcome {
        value: existed,
        deliveries,
    })
}

/// Whether the group exists.
pub fn exists(db: &dyn Db, group_id: &str) -> Result<bool, ApiError> {
    db.exists("SELECT 1 FROM groups WHERE group_id = ?1", args![group_id])
}

/// Whether `user_id` is a member of `group_id`.
pub fn is_member(db: &dyn Db, group_id: &str, user_id: &str) -> Result<bool, ApiError> {
    db.exists(SQL_IS_MEMBER, args![group_id, user_id])
}

/// The members of `group_id`, sorted.
pub fn members(db: &dyn Db, group_id: &str) -> Result<Vec<String>, ApiError> {
    db.all(SQL_MEMBERS, args![group_id], |r| r.get(0))
}
