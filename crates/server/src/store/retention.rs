//! Offline retention: inbox entries and large groups' timeline entries older than
//! `--offline-days` are deleted, then the messages nothing refers to any more. Work is done in bounded
//! chunks, each its own write job, so a large sweep never stalls sends.
//! Also prunes admin nonces that can no longer be replayed (their timestamp
//! is outside the signature window anyway).
//!
//! Written against [`Db`], so the same code runs on SQLite and PostgreSQL.

use super::sql::Db;
use crate::args;
use crate::error::ApiError;
use crate::signature::MAX_SKEW_MS;

/// Rows deleted per job.
pub const CHUNK: i64 = 5_000;

/// Deletes up to [`CHUNK`] expired inbox entries and unreferenced messages
/// sent before `cutoff_ms`; returns how many rows went (0 = done).
pub fn sweep_chunk(db: &dyn Db, cutoff_ms: i64) -> Result<usize, ApiError> {
    // `inbox` is WITHOUT ROWID, so delete by key.
    let entries = db.execute(
        "DELETE FROM inbox WHERE (user_id, seq) IN
           (SELECT user_id, seq FROM inbox WHERE created_at < ?1 LIMIT ?2)",
        args![cutoff_ms, CHUNK],
    )?;
    // Large groups' timelines expire as inboxes do: a member back after the retention
    // period starts past what expired, as with write fan-out.
    let timeline = db.execute(
        "DELETE FROM group_timeline WHERE (group_id, gseq) IN
           (SELECT group_id, gseq FROM group_timeline WHERE created_at < ?1 LIMIT ?2)",
        args![cutoff_ms, CHUNK],
    )?;
    let messages = db.execute(
        "DELETE FROM messages WHERE id IN (
           SELECT m.id FROM messages m WHERE m.sent_time < ?1
             AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.message_id = m.id)
             AND NOT EXISTS (SELECT 1 FROM group_timeline t WHERE t.message_id = m.id)
           LIMIT ?2)",
        args![cutoff_ms, CHUNK],
    )?;
    // Blocked sends are remembered for resends only; no resend comes after retention.
    let blocked = db.execute(
        "DELETE FROM blocked_sends WHERE (sender, client_msg_id) IN
           (SELECT sender, client_msg_id FROM blocked_sends WHERE sent_time < ?1 LIMIT ?2)",
        args![cutoff_ms, CHUNK],
    )?;

    // Tombstones of deleted messages go with the retention of the messages they name.
    let tombstones = db.execute(
        "DELETE FROM deleted_messages WHERE (user_id, message_id) IN
           (SELECT user_id, message_id FROM deleted_messages WHERE sent_time < ?1 LIMIT ?2)",
        args![cutoff_ms, CHUNK],
    )?;
    Ok(entries + timeline + messages + blocked + tombstones)
}

/// Records an admin nonce; `false` if it was already used.
pub fn record_nonce(db: &dyn Db, nonce: &str, ts: i64, now: i64) -> Result<bool, ApiError> {
    db.execute(
        "DELETE FROM admin_nonces WHERE ts < ?1",
        args![now - 2 * MAX_SKEW_MS],
    )?;
    let inserted = db.execute(
        "INSERT OR IGNORE INTO admin_nonces (nonce, ts) VALUES (?1, ?2)",
        args![nonce, ts],
    )?;
    Ok(inserted == 1)
}
