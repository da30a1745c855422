//! Online-status (and profile) subscriptions: who follows whom, of which type, until
//! when. Rows outlive their expiry until the subscriber next subscribes (which clears
//! its own expired rows); every read ignores them, so an expired subscription neither
//! counts against the limits nor notifies.

use imsync_protocol::codes;
use imsync_protocol::presence_rules::{MAX_SUBSCRIBED, MAX_SUBSCRIBERS};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ApiError;

/// One live subscription as its subscriber sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The user followed.
    pub target: String,
    /// When it was made or last renewed, Unix ms.
    pub subscribed_at: i64,
    /// Its duration, seconds.
    pub expiry_secs: i64,
}

fn live(
    conn: &Connection,
    user: &str,
    kind: i32,
    target: &str,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM user_subscriptions
              WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3 AND expires_at > ?4",
        )?
        .query_row(params![user, kind, target, now], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Subscribes `user` to `targets` for `expiry_secs` (renewing those already followed).
/// Refuses the whole call, changing nothing, when it would take `user` past
/// [`MAX_SUBSCRIBED`] (26022) or a target past [`MAX_SUBSCRIBERS`] (26021, naming the
/// targets). Arguments are the caller's to check.
pub fn subscribe(
    conn: &Connection,
    user: &str,
    kind: i32,
    targets: &[String],
    expiry_secs: i64,
    now: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "DELETE FROM user_subscriptions WHERE subscriber = ?1 AND expires_at <= ?2",
    )?
    .execute(params![user, now])?;
    let mut fresh = Vec::new();
    for t in targets {
        if !live(conn, user, kind, t, now)? {
            fresh.push(t.as_str());
        }
    }
    let have: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM user_subscriptions
              WHERE subscriber = ?1 AND sub_type = ?2 AND expires_at > ?3",
        )?
        .query_row(params![user, kind, now], |r| r.get(0))?;
    if have as usize + fresh.len() > MAX_SUBSCRIBED {
        return Err(ApiError::new(
            codes::RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT,
            format!(
                "userIds: subscribing to {} more users would exceed {MAX_SUBSCRIBED} subscribed users ({have} now)",
                fresh.len()
            ),
        ));
    }
    let mut full = Vec::new();
    for t in &fresh {
        let n: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM user_subscriptions
                  WHERE target = ?1 AND sub_type = ?2 AND expires_at > ?3",
            )?
            .query_row(params![t, kind, now], |r| r.get(0))?;
        if n as usize >= MAX_SUBSCRIBERS {
            full.push(*t);
        }
    }
    if !full.is_empty() {
        return Err(ApiError::new(
            codes::RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT,
            format!(
                "userIds: already followed by {MAX_SUBSCRIBERS} users: {}",
                full.join(", ")
            ),
        ));
    }
    let expires_at = now.saturating_add(expiry_secs.saturating_mul(1000));
    let mut upsert = conn.prepare_cached(
        "INSERT INTO user_subscriptions (subscriber, sub_type, target, subscribed_at, expiry_secs, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (subscriber, sub_type, target) DO UPDATE SET
           subscribed_at = excluded.subscribed_at, expiry_secs = excluded.expiry_secs,
           expires_at = excluded.expires_at",
    )?;
    for t in targets {
        upsert.execute(params![user, kind, t, now, expiry_secs, expires_at])?;
    }
    Ok(())
}

/// Removes `user`'s subscriptions to `targets`; returns those that were live.
pub fn unsubscribe(
    conn: &Connection,
    user: &str,
    kind: i32,
    targets: &[String],
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let mut removed = Vec::new();
    let mut del = conn.prepare_cached(
        "DELETE FROM user_subscriptions WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3
         RETURNING expires_at",
    )?;
    for t in targets {
        let gone: Option<i64> = del
            .query_row(params![user, kind, t], |r| r.get(0))
            .optional()?;
        if gone.is_some_and(|at| at > now) {
            removed.push(t.clone());
        }
    }
    Ok(removed)
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        target: r.get(0)?,
        subscribed_at: r.get(1)?,
        expiry_secs: r.get(2)?,
    })
}

/// `user`'s live subscriptions among `targets`, in the order asked.
pub fn get(
    conn: &Connection,
    user: &str,
    kind: i32,
    targets: &[String],
    now: i64,
) -> Result<Vec<Subscription>, ApiError> {
    let mut q = conn.prepare_cached(
        "SELECT target, subscribed_at, expiry_secs FROM user_subscriptions
          WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3 AND expires_at > ?4",
    )?;
    let mut out = Vec::new();
    for t in targets {
        if let Some(s) = q.query_row(params![user, kind, t, now], row).optional()? {
            out.push(s);
        }
    }
    Ok(out)
}

/// A page of `user`'s live subscriptions, oldest first, and whether more follow.
pub fn list(
    conn: &Connection,
    user: &str,
    kind: i32,
    offset: u32,
    limit: u32,
    now: i64,
) -> Result<(Vec<Subscription>, bool), ApiError> {
    let mut q = conn.prepare_cached(
        "SELECT target, subscribed_at, expiry_secs FROM user_subscriptions
          WHERE subscriber = ?1 AND sub_type = ?2 AND expires_at > ?3
          ORDER BY subscribed_at, target LIMIT ?4 OFFSET ?5",
    )?;
    let mut page = q
        .query_map(
            params![user, kind, now, i64::from(limit) + 1, i64::from(offset)],
            row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    Ok((page, more))
}

/// Users with a live subscription of `kind` to `target`.
pub fn subscribers(
    conn: &Connection,
    target: &str,
    kind: i32,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let mut q = conn.prepare_cached(
        "SELECT subscriber FROM user_subscriptions
          WHERE target = ?1 AND sub_type = ?2 AND expires_at > ?3",
    )?;
    let out = q
        .query_map(params![target, kind, now], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut c, true).unwrap();
        (dir, c)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subscribe_renew_list_expire_and_unsubscribe() {
        let (_dir, c) = db();
        subscribe(&c, "bob", 1, &ids(&["alice", "carol"]), 60, 1_000).unwrap();
        assert_eq!(subscribers(&c, "alice", 1, 1_000).unwrap(), ids(&["bob"]));
        assert!(subscribers(&c, "alice", 2, 1_000).unwrap().is_empty());
        let (page, more) = list(&c, "bob", 1, 0, 1, 1_000).unwrap();
        assert_eq!((page[0].target.as_str(), more), ("alice", true));
        // Expired: neither listed nor notified.
        assert!(subscribers(&c, "alice", 1, 61_000).unwrap().is_empty());
        assert!(get(&c, "bob", 1, &ids(&["alice"]), 61_000)
            .unwrap()
            .is_empty());
        // Renewed.
        subscribe(&c, "bob", 1, &ids(&["alice"]), 120, 50_000).unwrap();
        let got = get(&c, "bob", 1, &ids(&["carol", "alice"]), 61_000).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].subscribed_at, got[0].expiry_secs), (50_000, 120));
        assert_eq!(
            unsubscribe(&c, "bob", 1, &ids(&["alice", "x"]), 61_000).unwrap(),
            ids(&["alice"])
        );
        assert!(subscribers(&c, "alice", 1, 61_000).unwrap().is_empty());
    }

    #[test]
    fn limits_refuse_the_whole_call() {
        let (_dir, c) = db();
        let many: Vec<String> = (0..MAX_SUBSCRIBED).map(|i| format!("u{i}")).collect();
        for chunk in many.chunks(200) {
            subscribe(&c, "bob", 1, chunk, 600, 1).unwrap();
        }
        // Renewing is not growing.
        subscribe(&c, "bob", 1, &many[..200], 600, 2).unwrap();
        let e = subscribe(&c, "bob", 1, &ids(&["u0", "new"]), 600, 3).unwrap_err();
        assert_eq!(e.code, codes::RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT);
        assert!(get(&c, "bob", 1, &ids(&["new"]), 3).unwrap().is_empty());
        // Another type has its own count.
        subscribe(&c, "bob", 2, &ids(&["new"]), 600, 3).unwrap();

        for i in 0..MAX_SUBSCRIBERS {
            subscribe(&c, &format!("fan{i}"), 1, &ids(&["star"]), 600, 1).unwrap();
        }
        let e = subscribe(&c, "carol", 1, &ids(&["dave", "star"]), 600, 2).unwrap_err();
        assert_eq!(e.code, codes::RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT);
        assert!(e.msg.contains("star"), "{}", e.msg);
        assert!(
            get(&c, "carol", 1, &ids(&["dave"]), 2).unwrap().is_empty(),
            "nothing changed"
        );
    }
}
