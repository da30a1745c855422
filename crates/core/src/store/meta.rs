//! Small named values kept in the database itself (the inbox cursor, the settings version),
//! so they move in the same transaction as the data they describe.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ImResult;

/// A stored number; 0 when unset.
pub fn get_u64(conn: &Connection, key: &str) -> ImResult<u64> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub fn set_u64(conn: &Connection, key: &str, value: u64) -> ImResult<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute(params![key, value.to_string()])?;
    Ok(())
}
