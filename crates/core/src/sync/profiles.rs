//! User profile hosting (seed 002, IMLib 5.10.1): `updateMyUserProfile`,
//! `getMyUserProfile`, `getUserProfiles`, `updateMyUserProfileVisibility`,
//! `getMyUserProfileVisibility`, `searchUserProfileByUniqueId` and the
//! `OWN_USER_PROFILE_CHANGED` event. Profiles are the server's data and another user or
//! the app server may change them at any time, so every call asks the server (and needs
//! the connection, answering 30002 without it) rather than a local copy that could be
//! stale. Arguments are checked here first, with the server's own rules
//! (`imsync_protocol::profile_rules`), so bad input answers 33003 offline too.
//!
//! The extension map is `userExtProfile` in the seed's field table and `extraProfile` in
//! its example and the vendor's own apps: either is accepted, and results carry both.

use imsync_protocol as pb;
use pb::profile_rules::{self, MAX_PROFILE_IDS};
use pb::{request, response};
use serde_json::{json, Map, Value};

use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};

const EXT_NAMES: [&str; 2] = ["extraProfile", "userExtProfile"];

/// An `IUserProfileInfo`: every field for an open profile; `userId`, `name` and
/// `portraitUri` only when the owner's visibility hides the rest from the caller.
pub(crate) fn to_json(p: &pb::UserProfile) -> Value {
    if p.restricted {
        return json!({ "userId": p.user_id, "name": p.name, "portraitUri": p.portrait_uri });
    }
    json!({
        "userId": p.user_id,
        "name": p.name,
        "portraitUri": p.portrait_uri,
        "uniqueId": p.unique_id,
        "email": p.email,
        "birthday": p.birthday,
        "gender": p.gender,
        "location": p.location,
        "role": p.role,
        "level": p.level,
        "extraProfile": p.ext,
        "userExtProfile": p.ext,
    })
}

fn text(m: &Map<String, Value>, key: &str) -> ImResult<Option<String>> {
    Ok(args::string(m.get(key), &format!("profile.{key}"))?.map(str::to_owned))
}

fn number(m: &Map<String, Value>, key: &str, max: i64) -> ImResult<Option<i32>> {
    match args::present(m.get(key)) {
        None => Ok(None),
        v => Ok(Some(
            args::ranged(v, &format!("profile.{key}"), 0, max, None)? as i32,
        )),
    }
}

/// The update an `IUserProfileInfo` asks for (absent and null fields stay unchanged).
fn update_request(profile: &Value, own_id: Option<&str>) -> ImResult<pb::UpdateProfileRequest> {
    let m = args::object(Some(profile), "profile")?;
    for key in m.keys() {
        const KNOWN: [&str; 12] = [
            "userId",
            "name",
            "portraitUri",
            "uniqueId",
            "email",
            "birthday",
            "gender",
            "location",
            "role",
            "level",
            "extraProfile",
            "userExtProfile",
        ];
        if !KNOWN.contains(&key.as_str()) {
            return Err(ImError::invalid(format!(
                "profile.{key} is not a profile field (IUserProfileInfo: {})",
                KNOWN.join(", ")
            )));
        }
    }
    if let Some(id) = text(m, "userId")? {
        if Some(id.as_str()) != own_id {
            return Err(ImError::invalid(
                "profile.userId, when given, must be the current user's id",
            ));
        }
    }
    let exts: Vec<&str> = EXT_NAMES
        .into_iter()
        .filter(|k| args::present(m.get(*k)).is_some())
        .collect();
    // A profile read back carries both spellings: equal, they are one map.
    if exts.len() > 1 && m.get(EXT_NAMES[0]) != m.get(EXT_NAMES[1]) {
        return Err(ImError::invalid(
            "profile: extraProfile and userExtProfile differ (give one of them)",
        ));
    }
    let ext_field = exts.first().copied().unwrap_or(EXT_NAMES[0]);
    let mut req = pb::UpdateProfileRequest {
        name: text(m, "name")?,
        portrait_uri: text(m, "portraitUri")?,
        email: text(m, "email")?,
        birthday: text(m, "birthday")?,
        gender: number(m, "gender", 2)?,
        location: text(m, "location")?,
        role: number(m, "role", 100)?,
        level: number(m, "level", 100)?,
        unique_id: text(m, "uniqueId")?,
        ..Default::default()
    };
    if let Some(ext) = args::optional_object(m.get(ext_field), &format!("profile.{ext_field}"))? {
        for (k, v) in ext {
            let Value::String(s) = v else {
                return Err(ImError::invalid(format!(
                    "profile.{ext_field}.{k} must be a string"
                )));
            };
            req.ext.insert(k.clone(), s.clone());
        }
    }
    // The shared rules name fields bare ("name ..."); here they are the profile's.
    profile_rules::check_update(&req, &format!("profile.{ext_field}")).map_err(|e| {
        ImError::invalid(if e.starts_with("profile") {
            e
        } else {
            format!("profile.{e}")
        })
    })?;
    Ok(req)
}

impl Engine {
    async fn profile_call(&self, op: request::Op) -> ImResult<response::Body> {
        self.call(op)
            .await?
            .body
            .ok_or_else(|| ImError::internal("the server answered a profile call without a body"))
    }

    async fn profiles(&self, user_ids: Vec<String>) -> ImResult<Vec<pb::UserProfile>> {
        match self
            .profile_call(request::Op::GetProfiles(pb::GetProfilesRequest {
                user_ids,
            }))
            .await?
        {
            response::Body::Profiles(list) => Ok(list.profiles),
            _ => Err(ImError::internal("unexpected answer to a profile read")),
        }
    }

    async fn visibility(&self, set: Option<i32>) -> ImResult<Value> {
        let op = request::Op::ProfileVisibility(pb::ProfileVisibilityRequest { set });
        match self.profile_call(op).await? {
            response::Body::ProfileVisibility(v) => Ok(json!(v.visibility)),
            _ => Err(ImError::internal("unexpected answer to a visibility call")),
        }
    }

    /// `updateMyUserProfile(profile)`: only the given fields change; the user's other
    /// devices get OWN_USER_PROFILE_CHANGED.
    pub async fn update_my_user_profile(&self, profile: Value) -> ImResult<Value> {
        let req = update_request(&profile, self.user_id().as_deref())?;
        self.profile_call(request::Op::UpdateProfile(req)).await?;
        Ok(Value::Null)
    }

    /// `getMyUserProfile()`: every field of the own profile (defaults if never set).
    pub async fn get_my_user_profile(&self) -> ImResult<Value> {
        let list = self.profiles(Vec::new()).await?;
        let mine = list
            .first()
            .ok_or_else(|| ImError::internal("the server answered no own profile"))?;
        Ok(to_json(mine))
    }

    /// `getUserProfiles(userIds)`: 1..=20 ids; the profiles of the users that exist, as
    /// their owners' visibility lets this user see them.
    pub async fn get_user_profiles(&self, user_ids: Value) -> ImResult<Value> {
        let ids =
            args::string_array(Some(&user_ids), "userIds", MAX_PROFILE_IDS)?.ok_or_else(|| {
                ImError::invalid(format!(
                    "userIds is required (an array of 1 to {MAX_PROFILE_IDS} user ids)"
                ))
            })?;
        if ids.is_empty() {
            return Err(ImError::invalid(format!(
                "userIds must hold 1 to {MAX_PROFILE_IDS} user ids"
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            args::id(Some(&json!(id)), &format!("userIds[{i}]"))?;
        }
        let list = self.profiles(ids).await?;
        Ok(Value::Array(list.iter().map(to_json).collect()))
    }

    /// `updateMyUserProfileVisibility(visibility)`: 0 NOT_SET, 1 INVISIBLE, 2 EVERYONE.
    pub async fn update_my_user_profile_visibility(&self, visibility: Value) -> ImResult<Value> {
        let v = args::ranged(Some(&visibility), "visibility", 0, 2, None)? as i32;
        self.visibility(Some(v)).await?;
        Ok(Value::Null)
    }

    /// `getMyUserProfileVisibility()`.
    pub async fn get_my_user_profile_visibility(&self) -> ImResult<Value> {
        self.visibility(None).await
    }

    /// `searchUserProfileByUniqueId(uniqueId)`: the profile (as its owner's visibility
    /// allows) or null when nobody has that uniqueId.
    pub async fn search_user_profile_by_unique_id(&self, unique_id: Value) -> ImResult<Value> {
        let u = args::string(Some(&unique_id), "uniqueId")?
            .ok_or_else(|| ImError::invalid("uniqueId is required (a string)"))?;
        profile_rules::unique_id("uniqueId", u).map_err(ImError::invalid)?;
        let op = request::Op::SearchProfile(pb::SearchProfileRequest {
            unique_id: u.to_owned(),
        });
        match self.profile_call(op).await? {
            response::Body::Profiles(list) => {
                Ok(list.profiles.first().map_or(Value::Null, to_json))
            }
            _ => Err(ImError::internal("unexpected answer to a profile search")),
        }
    }

    /// A push: the own profile changed on another device or through the app server.
    pub(crate) fn emit_own_profile_changed(&self, profile: &pb::UserProfile) {
        self.emit("OWN_USER_PROFILE_CHANGED", to_json(profile));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_name_the_bad_field_and_accept_either_ext_spelling() {
        let ok = update_request(
            &json!({ "name": "A", "gender": 1, "userExtProfile": { "k1": "v" }, "email": null }),
            Some("alice"),
        )
        .unwrap();
        assert_eq!(ok.name.as_deref(), Some("A"));
        assert_eq!(ok.email, None);
        assert_eq!(ok.ext.get("k1").map(String::as_str), Some("v"));
        for (bad, field) in [
            (json!({ "name": "x".repeat(33) }), "profile.name"),
            (json!({ "role": 101 }), "profile.role"),
            (json!({ "gender": 3 }), "profile.gender"),
            (json!({ "nickname": "x" }), "profile.nickname"),
            (json!({ "userId": "bob", "name": "x" }), "profile.userId"),
            (
                json!({ "extraProfile": { "a-b": "v" } }),
                "profile.extraProfile",
            ),
            (
                json!({ "extraProfile": {}, "userExtProfile": { "a": "b" } }),
                "profile",
            ),
            (json!({}), "profile"),
            (json!("name"), "profile"),
        ] {
            let e = update_request(&bad, Some("alice")).unwrap_err();
            assert_eq!(e.code, 33003);
            assert!(e.msg.starts_with(field), "{field}: {}", e.msg);
        }
    }
}
