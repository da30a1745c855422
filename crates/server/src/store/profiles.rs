//! Hosted user profiles (the vendor's profile hosting, IMLib 5.10.1): one row per user
//! who has ever set one, the owner's visibility, and the view another user gets of it.
//!
//! A user exists once the app server issued a token (`users`) or set a profile; only
//! existing users are answered. The owner sees everything; others see what the owner's
//! visibility allows, or the server's default when it is NOT_SET (`--profile-visibility`;
//! INVISIBLE unless set, as the vendor's AppKey default: name and portrait only).
//! Written against [`Db`], so the same code runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use imsync_protocol::profile_rules::{self, visibility, MAX_EXT_KEYS};
use imsync_protocol::{UpdateProfileRequest, UserProfile};

use super::sql::{Db, Row};
use crate::args;
use crate::error::ApiError;
use crate::fanout::Delivery;
use crate::store::Outcome;
use crate::validate;

/// The visibility a user's NOT_SET stands for unless configured (the vendor's AppKey
/// default).
pub const DEFAULT_VISIBILITY: i32 = visibility::INVISIBLE;

/// Who is reading: the app server (sees all) or a user, with the server's default for
/// owners whose visibility is NOT_SET.
#[derive(Clone, Copy)]
pub enum Viewer<'a> {
    /// The admin API.
    AppServer,
    /// A user.
    User {
        /// The reader's id.
        id: &'a str,
        /// What NOT_SET stands for.
        default_visibility: i32,
    },
}

const COLUMNS: &str = "u.user_id, p.name, p.portrait_uri, p.unique_id, p.email, p.birthday, \
     p.gender, p.location, p.role, p.level, p.ext, p.updated_at, p.visibility";

/// One user's profile by id (also whether the user exists).
pub(crate) const SQL_BY_USER: &str = "SELECT u.user_id, p.name, p.portrait_uri, p.unique_id, \
     p.email, p.birthday, p.gender, p.location, p.role, p.level, p.ext, p.updated_at, \
     p.visibility FROM users u LEFT JOIN user_profiles p ON p.user_id = u.user_id \
     WHERE u.user_id = ?1";
/// The uniqueId search.
pub(crate) const SQL_BY_UNIQUE_ID: &str = "SELECT user_id FROM user_profiles WHERE unique_id = ?1";

/// A stored profile and its owner's visibility.
struct Stored {
    profile: UserProfile,
    visibility: i32,
}

fn from_row(r: &Row<'_>) -> Result<Stored, ApiError> {
    let ext: Option<String> = r.get(10)?;
    let ext: BTreeMap<String, String> = ext
        .and_then(|e| serde_json::from_str(&e).ok())
        .unwrap_or_default();
    Ok(Stored {
        profile: UserProfile {
            user_id: r.get(0)?,
            name: r.get::<Option<String>>(1)?.unwrap_or_default(),
            portrait_uri: r.get::<Option<String>>(2)?.unwrap_or_default(),
            unique_id: r.get::<Option<String>>(3)?.unwrap_or_default(),
            email: r.get::<Option<String>>(4)?.unwrap_or_default(),
            birthday: r.get::<Option<String>>(5)?.unwrap_or_default(),
            gender: r.get::<Option<i32>>(6)?.unwrap_or(0),
            location: r.get::<Option<String>>(7)?.unwrap_or_default(),
            role: r.get::<Option<i32>>(8)?.unwrap_or(0),
            level: r.get::<Option<i32>>(9)?.unwrap_or(0),
            ext,
            updated_time: r.get::<Option<i64>>(11)?.unwrap_or(0),
            restricted: false,
        },
        visibility: r.get::<Option<i32>>(12)?.unwrap_or(visibility::NOT_SET),
    })
}

fn load(db: &dyn Db, user: &str) -> Result<Option<Stored>, ApiError> {
    db.optional(SQL_BY_USER, args![user], from_row)
}

fn unique_id_owner(db: &dyn Db, unique_id: &str) -> Result<Option<String>, ApiError> {
    db.optional(SQL_BY_UNIQUE_ID, args![unique_id], |r| r.get(0))
}

/// What `viewer` may see of a stored profile.
fn view(stored: Stored, viewer: Viewer) -> UserProfile {
    let p = stored.profile;
    let open = match viewer {
        Viewer::AppServer => true,
        Viewer::User { id, .. } if id == p.user_id => true,
        Viewer::User {
            default_visibility, ..
        } => {
            let effective = match stored.visibility {
                visibility::NOT_SET => default_visibility,
                v => v,
            };
            effective == visibility::EVERYONE
        }
    };
    if open {
        return p;
    }
    UserProfile {
        user_id: p.user_id,
        name: p.name,
        portrait_uri: p.portrait_uri,
        restricted: true,
        ..UserProfile::default()
    }
}

/// The caller's own profile; the defaults when it was never set.
pub fn own(db: &dyn Db, user: &str) -> Result<UserProfile, ApiError> {
    Ok(load(db, user)?.map_or_else(
        || UserProfile {
            user_id: user.to_owned(),
            ..UserProfile::default()
        },
        |s| s.profile,
    ))
}

/// The profiles of `ids` as `viewer` may see them, in the order asked, each once; unknown
/// users are left out. `max` bounds the list (clients
/// [`profile_rules::MAX_PROFILE_IDS`], the admin API
/// 100).
pub fn get(
    db: &dyn Db,
    viewer: Viewer,
    ids: &[String],
    max: usize,
) -> Result<Vec<UserProfile>, ApiError> {
    if ids.is_empty() || ids.len() > max {
        return Err(ApiError::invalid(format!(
            "userIds must hold 1..={max} ids"
        )));
    }
    ids.iter().try_for_each(|id| validate::id("userIds", id))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
        if let Some(stored) = load(db, id)? {
            out.push(view(stored, viewer));
        }
    }
    Ok(out)
}

/// The profile whose uniqueId is exactly `unique_id`, as `viewer` may see it.
pub fn search(
    db: &dyn Db,
    viewer: Viewer,
    unique_id: &str,
) -> Result<Option<UserProfile>, ApiError> {
    profile_rules::unique_id("uniqueId", unique_id).map_err(ApiError::invalid)?;
    let Some(owner) = unique_id_owner(db, unique_id)? else {
        return Ok(None);
    };
    Ok(load(db, &owner)?.map(|s| view(s, viewer)))
}

/// Who changes a profile: the owner from one of its sessions, or the app server.
pub enum Editor {
    /// The owner, from this session (its other sessions are told).
    Owner { session: String },
    /// The admin API (every session of the owner is told; may set uniqueId).
    AppServer,
}

/// Applies `req` to `user`'s profile and tells the owner's other sessions. Nothing is
/// written unless every field is within its limits, the extension keys stay within
/// [`MAX_EXT_KEYS`], and a uniqueId is the owner's (client) or nobody else's (app
/// server). `ext_field` names the extension map as the caller spelled it.
pub fn update(
    db: &dyn Db,
    user: &str,
    req: &UpdateProfileRequest,
    ext_field: &str,
    editor: Editor,
    now: i64,
) -> Result<Outcome<UserProfile>, ApiError> {
    profile_rules::check_update(req, ext_field).map_err(ApiError::invalid)?;
    let current = own(db, user)?;
    let mut p = current.clone();
    let unique = match (&editor, &req.unique_id) {
        (_, None) => p.unique_id.clone(),
        (Editor::Owner { .. }, Some(u)) if *u == p.unique_id => u.clone(),
        (Editor::Owner { .. }, Some(_)) => {
            return Err(ApiError::invalid(
                "uniqueId is set by the app server only (send it unchanged or leave it out)",
            ))
        }
        (Editor::AppServer, Some(u)) => {
            let taken = unique_id_owner(db, u)?;
            if taken.is_some_and(|owner| owner != user) {
                return Err(ApiError::invalid(format!(
                    "uniqueId {u:?} belongs to another user"
                )));
            }
            u.clone()
        }
    };
    p.unique_id = unique;
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            field.clone_from(v);
        }
    };
    set(&mut p.name, &req.name);
    set(&mut p.portrait_uri, &req.portrait_uri);
    set(&mut p.email, &req.email);
    set(&mut p.birthday, &req.birthday);
    set(&mut p.location, &req.location);
    p.gender = req.gender.unwrap_or(p.gender);
    p.role = req.role.unwrap_or(p.role);
    p.level = req.level.unwrap_or(p.level);
    for (k, v) in &req.ext {
        if v.is_empty() {
            p.ext.remove(k);
        } else {
            p.ext.insert(k.clone(), v.clone());
        }
    }
    if p.ext.len() > MAX_EXT_KEYS {
        return Err(ApiError::invalid(format!(
            "{ext_field}: a profile holds at most {MAX_EXT_KEYS} extension keys ({} would be set)",
            p.ext.len()
        )));
    }
    p.updated_time = now.max(current.updated_time + 1);
    let ext = serde_json::to_string(&p.ext).map_err(ApiError::internal)?;
    let unique_id = (!p.unique_id.is_empty()).then_some(p.unique_id.as_str());
    db.execute(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
        args![user, now],
    )?;
    db.execute(
        "INSERT INTO user_profiles (user_id, name, portrait_uri, unique_id, email, birthday,
             gender, location, role, level, ext, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(user_id) DO UPDATE SET name = ?2, portrait_uri = ?3, unique_id = ?4,
             email = ?5, birthday = ?6, gender = ?7, location = ?8, role = ?9, level = ?10,
             ext = ?11, updated_at = ?12",
        args![
            user,
            p.name,
            p.portrait_uri,
            unique_id,
            p.email,
            p.birthday,
            p.gender,
            p.location,
            p.role,
            p.level,
            ext,
            p.updated_time
        ],
    )?;
    let except_session = match editor {
        Editor::Owner { session } => Some(session),
        Editor::AppServer => None,
    };
    Ok(Outcome {
        value: p.clone(),
        deliveries: vec![Delivery::OwnProfile {
            user: user.to_owned(),
            except_session,
            profile: p,
        }],
    })
}

/// The owner's visibility (NOT_SET when never set).
pub fn visibility(db: &dyn Db, user: &str) -> Result<i32, ApiError> {
    Ok(load(db, user)?.map_or(visibility::NOT_SET, |s| s.visibility))
}

/// Sets the owner's visibility; returns it.
pub fn set_visibility(db: &dyn Db, user: &str, value: i32, now: i64) -> Result<i32, ApiError> {
    profile_rules::check_visibility(value).map_err(ApiError::invalid)?;
    db.execute(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
        args![user, now],
    )?;
    db.execute(
        "INSERT INTO user_profiles (user_id, visibility) VALUES (?1, ?2)
         ON CONFLICT(user_id) DO UPDATE SET visibility = ?2",
        args![user, value],
    )?;
    Ok(value)
}

/// A page of every user (the admin API's listing), in registration order (`desc`:
/// newest first). `page` counts from 1.
pub fn list(db: &dyn Db, page: u32, size: u32, desc: bool) -> Result<Vec<UserProfile>, ApiError> {
    // Built once per order, so each is one cached statement like every other.
    static SQL: [std::sync::OnceLock<String>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let order = if desc { "DESC" } else { "ASC" };
    let sql: &'static str = SQL[usize::from(desc)].get_or_init(|| {
        format!(
            "SELECT {COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.user_id
             ORDER BY u.created_at {order}, u.user_id {order} LIMIT ?1 OFFSET ?2"
        )
    });
    let offset = i64::from(page.saturating_sub(1)) * i64::from(size);
    db.all(sql, args![size, offset], |r| Ok(from_row(r)?.profile))
}
