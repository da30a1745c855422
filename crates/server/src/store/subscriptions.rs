//! Online-status (and profile) subscriptions: who follows whom, of which type, until
//! when. Rows outlive their expiry until the subscriber next subscribes (which clears
//! its own expired rows); every read ignores them, so an expired subscription neither
//! counts against the limits nor notifies. Written against [`Db`], so the same code runs
//! on SQLite and PostgreSQL.

use imsync_protocol::codes;
use imsync_protocol::presence_rules::{MAX_SUBSCRIBED, MAX_SUBSCRIBERS};

use super::sql::{Db, Row};
use crate::args;
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

fn live(db: &dyn Db, user: &str, kind: i32, target: &str, now: i64) -> Result<bool, ApiError> {
    db.exists(
        "SELECT 1 FROM user_subscriptions
          WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3 AND expires_at > ?4",
        args![user, kind, target, now],
    )
}

/// Subscribes `user` to `targets` for `expiry_secs` (renewing those already followed).
/// Refuses the whole call, changing nothing, when it would take `user` past
/// [`MAX_SUBSCRIBED`] (26022) or a target past [`MAX_SUBSCRIBERS`] (26021, naming the
/// targets). Arguments are the caller's to check.
pub fn subscribe(
    db: &dyn Db,
    user: &str,
    kind: i32,
    targets: &[String],
    expiry_secs: i64,
    now: i64,
) -> Result<(), ApiError> {
    db.execute(
        "DELETE FROM user_subscriptions WHERE subscriber = ?1 AND expires_at <= ?2",
        args![user, now],
    )?;
    let mut fresh = Vec::new();
    for t in targets {
        if !live(db, user, kind, t, now)? {
            fresh.push(t.as_str());
        }
    }
    let have: i64 = db.one(
        "SELECT COUNT(*) FROM user_subscriptions
          WHERE subscriber = ?1 AND sub_type = ?2 AND expires_at > ?3",
        args![user, kind, now],
        |r| r.get(0),
    )?;
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
        let n: i64 = db.one(
            "SELECT COUNT(*) FROM user_subscriptions
              WHERE target = ?1 AND sub_type = ?2 AND expires_at > ?3",
            args![t, kind, now],
            |r| r.get(0),
        )?;
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
    for t in targets {
        db.execute(
            "INSERT INTO user_subscriptions (subscriber, sub_type, target, subscribed_at, expiry_secs, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (subscriber, sub_type, target) DO UPDATE SET
               subscribed_at = excluded.subscribed_at, expiry_secs = excluded.expiry_secs,
               expires_at = excluded.expires_at",
            args![user, kind, t, now, expiry_secs, expires_at],
        )?;
    }
    Ok(())
}

/// Removes `user`'s subscriptions to `targets`; returns those that were live.
pub fn unsubscribe(
    db: &dyn Db,
    user: &str,
    kind: i32,
    targets: &[String],
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let mut removed = Vec::new();
    for t in targets {
        let gone: Option<i64> = db.optional(
            "DELETE FROM user_subscriptions WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3
             RETURNING expires_at",
            args![user, kind, t],
            |r| r.get(0),
        )?;
        if gone.is_some_and(|at| at > now) {
            removed.push(t.clone());
        }
    }
    Ok(removed)
}

fn row(r: &Row<'_>) -> Result<Subscription, ApiError> {
    Ok(Subscription {
        target: r.get(0)?,
        subscribed_at: r.get(1)?,
        expiry_secs: r.get(2)?,
    })
}

/// `user`'s live subscriptions among `targets`, in the order asked.
pub fn get(
    db: &dyn Db,
    user: &str,
    kind: i32,
    targets: &[String],
    now: i64,
) -> Result<Vec<Subscription>, ApiError> {
    let mut out = Vec::new();
    for t in targets {
        out.extend(db.optional(
            "SELECT target, subscribed_at, expiry_secs FROM user_subscriptions
              WHERE subscriber = ?1 AND sub_type = ?2 AND target = ?3 AND expires_at > ?4",
            args![user, kind, t, now],
            row,
        )?);
    }
    Ok(out)
}

/// A page of `user`'s live subscriptions, oldest first, and whether more follow.
pub fn list(
    db: &dyn Db,
    user: &str,
    kind: i32,
    offset: u32,
    limit: u32,
    now: i64,
) -> Result<(Vec<Subscription>, bool), ApiError> {
    let mut page = db.all(
        "SELECT target, subscribed_at, expiry_secs FROM user_subscriptions
          WHERE subscriber = ?1 AND sub_type = ?2 AND expires_at > ?3
          ORDER BY subscribed_at, target LIMIT ?4 OFFSET ?5",
        args![user, kind, now, i64::from(limit) + 1, i64::from(offset)],
        row,
    )?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    Ok((page, more))
}

/// Users with a live subscription of `kind` to `target`.
pub fn subscribers(
    db: &dyn Db,
    target: &str,
    kind: i32,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    db.all(
        "SELECT subscriber FROM user_subscriptions
          WHERE target = ?1 AND sub_type = ?2 AND expires_at > ?3",
        args![target, kind, now],
        |r| r.get(0),
    )
}
