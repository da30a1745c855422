//! Hosted user profiles (the vendor's profile hosting, IMLib 5.10.1): one row per user
//! who has ever set one, the owner's visibility, and the view another user gets of it.
//!
//! A user exists once the app server issued a token (`users`) or set a profile; only
//! existing users are answered. The owner sees everything; others see what the owner's
//! visibility allows, or the server's default when it is NOT_SET (`--profile-visibility`;
//! INVISIBLE unless set, as the vendor's AppKey default: name and portrait only).

use std::collections::BTreeMap;

use imsync_protocol::profile_rules::{self, visibility, MAX_EXT_KEYS};
use imsync_protocol::{UpdateProfileRequest, UserProfile};
use rusqlite::{params, Connection, OptionalExtension, Row};

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

fn from_row(r: &Row) -> rusqlite::Result<Stored> {
    let ext: Option<String> = r.get(10)?;
    let ext: BTreeMap<String, String> = ext
        .and_then(|e| serde_json::from_str(&e).ok())
        .unwrap_or_default();
    Ok(Stored {
        profile: UserProfile {
            user_id: r.get(0)?,
            name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            portrait_uri: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            unique_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            email: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            birthday: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            gender: r.get::<_, Option<i32>>(6)?.unwrap_or(0),
            location: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            role: r.get::<_, Option<i32>>(8)?.unwrap_or(0),
            level: r.get::<_, Option<i32>>(9)?.unwrap_or(0),
            ext,
            updated_time: r.get::<_, Option<i64>>(11)?.unwrap_or(0),
            restricted: false,
        },
        visibility: r.get::<_, Option<i32>>(12)?.unwrap_or(visibility::NOT_SET),
    })
}

fn load(conn: &Connection, user: &str) -> Result<Option<Stored>, ApiError> {
    Ok(conn
        .prepare_cached(SQL_BY_USER)?
        .query_row([user], from_row)
        .optional()?)
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
pub fn own(conn: &Connection, user: &str) -> Result<UserProfile, ApiError> {
    Ok(load(conn, user)?.map_or_else(
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
    conn: &Connection,
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
        if let Some(stored) = load(conn, id)? {
            out.push(view(stored, viewer));
        }
    }
    Ok(out)
}

/// The profile whose uniqueId is exactly `unique_id`, as `viewer` may see it.
pub fn search(
    conn: &Connection,
    viewer: Viewer,
    unique_id: &str,
) -> Result<Option<UserProfile>, ApiError> {
    profile_rules::unique_id("uniqueId", unique_id).map_err(ApiError::invalid)?;
    let owner: Option<String> = conn
        .prepare_cached(SQL_BY_UNIQUE_ID)?
        .query_row([unique_id], |r| r.get(0))
        .optional()?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    Ok(load(conn, &owner)?.map(|s| view(s, viewer)))
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
    conn: &Connection,
    user: &str,
    req: &UpdateProfileRequest,
    ext_field: &str,
    editor: Editor,
    now: i64,
) -> Result<Outcome<UserProfile>, ApiError> {
    profile_rules::check_update(req, ext_field).map_err(ApiError::invalid)?;
    let current = own(conn, user)?;
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
            let taken: Option<String> = conn
                .prepare_cached(SQL_BY_UNIQUE_ID)?
                .query_row([u], |r| r.get(0))
                .optional()?;
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
    conn.execute(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
        params![user, now],
    )?;
    conn.execute(
        "INSERT INTO user_profiles (user_id, name, portrait_uri, unique_id, email, birthday,
             gender, location, role, level, ext, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(user_id) DO UPDATE SET name = ?2, portrait_uri = ?3, unique_id = ?4,
             email = ?5, birthday = ?6, gender = ?7, location = ?8, role = ?9, level = ?10,
             ext = ?11, updated_at = ?12",
        params![
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
pub fn visibility(conn: &Connection, user: &str) -> Result<i32, ApiError> {
    Ok(load(conn, user)?.map_or(visibility::NOT_SET, |s| s.visibility))
}

/// Sets the owner's visibility; returns it.
pub fn set_visibility(
    conn: &Connection,
    user: &str,
    value: i32,
    now: i64,
) -> Result<i32, ApiError> {
    profile_rules::check_visibility(value).map_err(ApiError::invalid)?;
    conn.execute(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
        params![user, now],
    )?;
    conn.execute(
        "INSERT INTO user_profiles (user_id, visibility) VALUES (?1, ?2)
         ON CONFLICT(user_id) DO UPDATE SET visibility = ?2",
        params![user, value],
    )?;
    Ok(value)
}

/// A page of every user (the admin API's listing), in registration order (`desc`:
/// newest first). `page` counts from 1.
pub fn list(
    conn: &Connection,
    page: u32,
    size: u32,
    desc: bool,
) -> Result<Vec<UserProfile>, ApiError> {
    let order = if desc { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.user_id
         ORDER BY u.created_at {order}, u.user_id {order} LIMIT ?1 OFFSET ?2"
    );
    let offset = i64::from(page.saturating_sub(1)) * i64::from(size);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![size, offset], from_row)?;
    Ok(rows
        .map(|r| r.map(|s| s.profile))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;
    use imsync_protocol::codes;
    use imsync_protocol::profile_rules::MAX_PROFILE_IDS;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        for u in ["alice", "bob", "carol"] {
            conn.execute(
                "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
                [u],
            )
            .unwrap();
        }
        (dir, conn)
    }

    fn reader(id: &str) -> Viewer<'_> {
        Viewer::User {
            id,
            default_visibility: DEFAULT_VISIBILITY,
        }
    }

    fn get_for(conn: &Connection, id: &str, ids: &[String]) -> Result<Vec<UserProfile>, ApiError> {
        get(conn, reader(id), ids, MAX_PROFILE_IDS)
    }

    fn owner(session: &str) -> Editor {
        Editor::Owner {
            session: session.into(),
        }
    }

    fn full() -> UpdateProfileRequest {
        let mut req = UpdateProfileRequest {
            name: Some("Alice".into()),
            portrait_uri: Some("https://p/a.png".into()),
            email: Some("a@example.com".into()),
            birthday: Some("2000-01-01".into()),
            gender: Some(2),
            location: Some("Berlin".into()),
            role: Some(7),
            level: Some(100),
            ..Default::default()
        };
        req.ext.insert("ext_team".into(), "blue".into());
        req
    }

    fn row_count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM user_profiles", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn visibility_decides_what_others_see() {
        let (_d, conn) = db();
        let out = update(&conn, "alice", &full(), "extraProfile", owner("s1"), 10).unwrap();
        assert_eq!(out.value.name, "Alice");
        match &out.deliveries[..] {
            [Delivery::OwnProfile {
                user,
                except_session,
                profile,
            }] => {
                assert_eq!(user, "alice");
                assert_eq!(except_session.as_deref(), Some("s1"));
                assert_eq!(profile.email, "a@example.com");
            }
            other => panic!("unexpected deliveries {other:?}"),
        }
        let ids = vec![
            "alice".to_string(),
            "nobody".to_string(),
            "alice".to_string(),
        ];
        // NOT_SET: the default (INVISIBLE) applies: name and portrait only.
        let seen = get_for(&conn, "bob", &ids).unwrap();
        assert_eq!(
            seen.len(),
            1,
            "unknown users are left out, repeats answered once"
        );
        assert!(seen[0].restricted);
        assert_eq!(
            (seen[0].name.as_str(), seen[0].email.as_str(), seen[0].role),
            ("Alice", "", 0)
        );
        // A server configured with `--profile-visibility everyone` opens NOT_SET profiles.
        let open_default = Viewer::User {
            id: "bob",
            default_visibility: visibility::EVERYONE,
        };
        assert!(!get(&conn, open_default, &ids, MAX_PROFILE_IDS).unwrap()[0].restricted);
        set_visibility(&conn, "alice", visibility::EVERYONE, 11).unwrap();
        let seen = get_for(&conn, "bob", &ids).unwrap();
        assert!(!seen[0].restricted);
        assert_eq!(
            seen[0].ext.get("ext_team").map(String::as_str),
            Some("blue")
        );
        set_visibility(&conn, "alice", visibility::INVISIBLE, 12).unwrap();
        assert!(get_for(&conn, "carol", &ids).unwrap()[0].restricted);
        // The owner always sees everything.
        assert!(!get_for(&conn, "alice", &ids).unwrap()[0].restricted);
        assert_eq!(visibility(&conn, "alice").unwrap(), visibility::INVISIBLE);
        assert_eq!(visibility(&conn, "bob").unwrap(), visibility::NOT_SET);
        // Setting the visibility kept the profile.
        assert_eq!(own(&conn, "alice").unwrap().level, 100);
    }

    #[test]
    fn bad_input_changes_nothing() {
        let (_d, conn) = db();
        update(&conn, "alice", &full(), "extraProfile", owner("s1"), 10).unwrap();
        let before = own(&conn, "alice").unwrap();
        let long_name = UpdateProfileRequest {
            name: Some("n".repeat(33)),
            ..Default::default()
        };
        let mut too_many = UpdateProfileRequest::default();
        for i in 0..20 {
            too_many.ext.insert(format!("k{i}"), "v".into());
        }
        let unique = UpdateProfileRequest {
            unique_id: Some("Mine01".into()),
            ..Default::default()
        };
        for (req, field) in [
            (long_name, "name"),
            (too_many, "extraProfile"),
            (unique, "uniqueId"),
            (UpdateProfileRequest::default(), "profile"),
        ] {
            let e = update(&conn, "alice", &req, "extraProfile", owner("s1"), 20)
                .err()
                .unwrap();
            assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER);
            assert!(e.msg.contains(field), "{field}: {}", e.msg);
        }
        assert_eq!(own(&conn, "alice").unwrap(), before);
        let e = set_visibility(&conn, "alice", 3, 20).err().unwrap();
        assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER);
        let ids: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
        assert!(get_for(&conn, "bob", &ids).is_err());
        assert!(get_for(&conn, "bob", &[]).is_err());
        assert!(search(&conn, reader("bob"), "not-alnum").is_err());
    }

    #[test]
    fn unique_ids_belong_to_one_user_and_are_searchable() {
        let (_d, conn) = db();
        let set = |u: &str| UpdateProfileRequest {
            unique_id: Some(u.into()),
            name: Some("x".into()),
            ..Default::default()
        };
        update(&conn, "alice", &set("Alice01"), "ext", Editor::AppServer, 1).unwrap();
        let e = update(&conn, "bob", &set("Alice01"), "ext", Editor::AppServer, 2)
            .err()
            .unwrap();
        assert!(e.msg.contains("another user"), "{}", e.msg);
        assert_eq!(row_count(&conn), 1, "bob's refused profile was not written");
        // The owner may send its uniqueId back unchanged.
        update(&conn, "alice", &set("Alice01"), "ext", owner("s"), 3).unwrap();
        let found = search(&conn, reader("bob"), "Alice01").unwrap().unwrap();
        assert_eq!((found.user_id.as_str(), found.restricted), ("alice", true));
        assert_eq!(found.unique_id, "", "a restricted view hides the uniqueId");
        assert_eq!(search(&conn, reader("bob"), "Nobody").unwrap(), None);
        // An empty extension value removes the key; the app server sees everything.
        let mut ext = UpdateProfileRequest::default();
        ext.ext.insert("a".into(), "1".into());
        update(&conn, "alice", &ext, "ext", Editor::AppServer, 4).unwrap();
        ext.ext.insert("a".into(), String::new());
        update(&conn, "alice", &ext, "ext", Editor::AppServer, 5).unwrap();
        let all = get(&conn, Viewer::AppServer, &["alice".into()], 100).unwrap();
        assert_eq!(
            (all[0].unique_id.as_str(), all[0].ext.len()),
            ("Alice01", 0)
        );
        assert!(all[0].updated_time >= 5);
    }
}
