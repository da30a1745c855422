//! Profile hosting for the app server, under the routes of RongCloud's server API
//! (docs.rongcloud.cn/platform-chat-api/user/user-profiles: `/user/profile/set.json`,
//! `/user/profile/batch/query.json`, `/user/profile/query.json`; imsync drops the `.json`
//! as its other admin routes do, and takes JSON bodies):
//!
//! * `POST /user/profile/set {userId, userProfile?, userExtProfile?}`: `userProfile` holds
//!   any of uniqueId, name, portraitUri, email, birthday, gender, location, role, level;
//!   `userExtProfile` extension keys (an empty value removes one). Each may be a JSON
//!   object or, as the vendor sends them, a string holding one. Only the given fields
//!   change; the owner's online sessions get OWN_USER_PROFILE_CHANGED.
//! * `POST /user/profile/batch/query {userId: id | [ids] (1..=100)}` →
//!   `{userList: [{userId, version, userProfile, userExtProfile}]}`, every field, for
//!   the users that exist.
//! * `POST /user/profile/query {page?, size? (1..=100, default 20), order? (0 oldest
//!   first, 1 newest)}` → `{userList}` over every user, in registration order.

use axum::body::Bytes;
use axum::extract::State;
use imsync_protocol::{UpdateProfileRequest, UserProfile};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{from_api, ok, signed_body, Caller, OneOrMany, Reply};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::profiles::{self, Editor, Viewer};
use crate::validate;

/// Most users in one batch query (the vendor's limit).
const MAX_QUERY_IDS: usize = 100;

/// The vendor's userProfile keys.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fields {
    unique_id: Option<String>,
    name: Option<String>,
    portrait_uri: Option<String>,
    email: Option<String>,
    birthday: Option<String>,
    gender: Option<i64>,
    location: Option<String>,
    role: Option<i64>,
    level: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetProfile {
    user_id: String,
    user_profile: Option<Value>,
    user_ext_profile: Option<Value>,
}

/// A JSON object, or a string holding one (the vendor's form encoding).
fn object(field: &str, v: Option<Value>) -> Result<Option<Value>, ApiError> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => serde_json::from_str(&s)
            .map_err(|e| ApiError::invalid(format!("{field} is not a JSON object: {e}")))?,
        Some(v) => v,
    };
    if v.is_object() {
        Ok(Some(v))
    } else {
        Err(ApiError::invalid(format!("{field} must be a JSON object")))
    }
}

fn number(field: &str, v: Option<i64>) -> Result<Option<i32>, ApiError> {
    v.map(|n| i32::try_from(n).map_err(|_| ApiError::invalid(format!("{field} is out of range"))))
        .transpose()
}

fn parse(req: SetProfile) -> Result<(String, UpdateProfileRequest), ApiError> {
    validate::id("userId", &req.user_id)?;
    let mut update = UpdateProfileRequest::default();
    if let Some(v) = object("userProfile", req.user_profile)? {
        let f: Fields = serde_json::from_value(v)
            .map_err(|e| ApiError::invalid(format!("userProfile: {e}")))?;
        update.unique_id = f.unique_id;
        update.name = f.name;
        update.portrait_uri = f.portrait_uri;
        update.email = f.email;
        update.birthday = f.birthday;
        update.gender = number("gender", f.gender)?;
        update.location = f.location;
        update.role = number("role", f.role)?;
        update.level = number("level", f.level)?;
    }
    if let Some(v) = object("userExtProfile", req.user_ext_profile)? {
        let Value::Object(map) = v else {
            unreachable!("object() returns objects only")
        };
        for (k, v) in map {
            let Value::String(s) = v else {
                return Err(ApiError::invalid(format!(
                    "userExtProfile.{k} must be a string"
                )));
            };
            update.ext.insert(k, s);
        }
    }
    Ok((req.user_id, update))
}

pub(super) async fn set(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: SetProfile = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let (user, update) = match parse(req) {
        Ok(x) => x,
        Err(e) => return from_api(e),
    };
    let now = now_ms();
    let changed = user.clone();
    let result = state
        .store
        .write(move |c| {
            profiles::update(c, &user, &update, "userExtProfile", Editor::AppServer, now)
        })
        .await;
    match result {
        Ok(_) => {
            // USER_PROFILE subscribers hear of it as of a change the user made.
            state
                .presence
                .notify(crate::presence::Change::Profile(changed));
            ok(json!({}))
        }
        Err(e) => from_api(e),
    }
}

/// A profile as the vendor's server API lists it.
fn entry(p: UserProfile) -> Value {
    json!({
        "userId": p.user_id,
        "version": p.updated_time,
        "userProfile": {
            "uniqueId": p.unique_id,
            "name": p.name,
            "portraitUri": p.portrait_uri,
            "email": p.email,
            "birthday": p.birthday,
            "gender": p.gender,
            "location": p.location,
            "role": p.role,
            "level": p.level,
        },
        "userExtProfile": p.ext,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchQuery {
    #[serde(alias = "userIds")]
    user_id: OneOrMany,
}

pub(super) async fn batch_query(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Reply {
    let req: BatchQuery = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let ids = match req.user_id {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    };
    let result = state
        .store
        .read(move |c| profiles::get(c, Viewer::AppServer, &ids, MAX_QUERY_IDS))
        .await;
    match result {
        Ok(list) => ok(json!({ "userList": list.into_iter().map(entry).collect::<Vec<_>>() })),
        Err(e) => from_api(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    page: Option<u32>,
    size: Option<u32>,
    order: Option<u32>,
}

pub(super) async fn query(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let body = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let req: ListQuery = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let page = req.page.unwrap_or(1).max(1);
    let size = req.size.unwrap_or(20);
    if !(1..=MAX_QUERY_IDS as u32).contains(&size) {
        return from_api(ApiError::invalid(format!(
            "size must be 1..={MAX_QUERY_IDS}"
        )));
    }
    let desc = match req.order.unwrap_or(0) {
        0 => false,
        1 => true,
        _ => return from_api(ApiError::invalid("order must be 0 (oldest first) or 1")),
    };
    let result = state
        .store
        .read(move |c| profiles::list(c, page, size, desc))
        .await;
    match result {
        Ok(list) => ok(json!({ "userList": list.into_iter().map(entry).collect::<Vec<_>>() })),
        Err(e) => from_api(e),
    }
}
