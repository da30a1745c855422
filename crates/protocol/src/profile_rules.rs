//! The limits of hosted user profiles (seed 002, "用户信息托管", and the vendor's server
//! API), checked by the client before a request leaves and by the server again before
//! anything is stored: one copy of the rules, so both answer the same 33003 message.
//! Lengths count characters, as the vendor documents them.

use crate::UpdateProfileRequest;

/// Most user ids in one `getUserProfiles` call.
pub const MAX_PROFILE_IDS: usize = 20;
/// Most extension keys a profile holds.
pub const MAX_EXT_KEYS: usize = 20;
/// Longest extension key.
pub const MAX_EXT_KEY_CHARS: usize = 32;
/// Longest extension value.
pub const MAX_EXT_VALUE_CHARS: usize = 256;
/// Longest uniqueId.
pub const MAX_UNIQUE_ID_CHARS: usize = 32;

/// `UserProfileVisibility` values (the vendor's numbers).
pub mod visibility {
    /// The server's default applies.
    pub const NOT_SET: i32 = 0;
    /// Others see the name and portrait only.
    pub const INVISIBLE: i32 = 1;
    /// Everyone sees every field.
    pub const EVERYONE: i32 = 2;
}

fn text(field: &str, value: Option<&String>, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(format!("{field} must be at most {max} characters"))
        }
        _ => Ok(()),
    }
}

fn range(field: &str, value: Option<i32>, max: i32) -> Result<(), String> {
    match value {
        Some(v) if !(0..=max).contains(&v) => Err(format!("{field} must be 0..={max}")),
        _ => Ok(()),
    }
}

/// Checks a uniqueId: 1..=32 ASCII letters and digits.
pub fn unique_id(field: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_UNIQUE_ID_CHARS
        && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} must be 1..={MAX_UNIQUE_ID_CHARS} characters of [A-Za-z0-9]"
        ))
    }
}

/// Checks one extension key and value. The seed allows letters and digits; `_` is also
/// accepted because the vendor's server API requires an `ext_` prefix.
pub fn ext_entry(field: &str, key: &str, value: &str) -> Result<(), String> {
    let key_ok = !key.is_empty()
        && key.len() <= MAX_EXT_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !key_ok {
        return Err(format!(
            "{field} keys must be 1..={MAX_EXT_KEY_CHARS} characters of [A-Za-z0-9_] (got {key:?})"
        ));
    }
    if value.chars().count() > MAX_EXT_VALUE_CHARS {
        return Err(format!(
            "{field}.{key} must be at most {MAX_EXT_VALUE_CHARS} characters"
        ));
    }
    Ok(())
}

/// Checks every field an update carries (the total number of extension keys after the
/// update is the store's to check: it depends on the keys already set). `ext_field` names
/// the extension map as the caller spelled it.
pub fn check_update(req: &UpdateProfileRequest, ext_field: &str) -> Result<(), String> {
    let fields = [
        &req.name,
        &req.portrait_uri,
        &req.email,
        &req.birthday,
        &req.location,
    ];
    let numbers = [req.gender, req.role, req.level];
    if fields.iter().all(|f| f.is_none())
        && numbers.iter().all(Option::is_none)
        && req.ext.is_empty()
        && req.unique_id.is_none()
    {
        return Err("profile must carry at least one field to change".into());
    }
    text("name", req.name.as_ref(), 32)?;
    text("portraitUri", req.portrait_uri.as_ref(), 128)?;
    text("email", req.email.as_ref(), 128)?;
    text("birthday", req.birthday.as_ref(), 32)?;
    text("location", req.location.as_ref(), 32)?;
    range("gender", req.gender, 2)?;
    range("role", req.role, 100)?;
    range("level", req.level, 100)?;
    if let Some(u) = &req.unique_id {
        if !u.is_empty() {
            unique_id("uniqueId", u)?;
        }
    }
    if req.ext.len() > MAX_EXT_KEYS {
        return Err(format!("{ext_field} holds at most {MAX_EXT_KEYS} keys"));
    }
    req.ext
        .iter()
        .try_for_each(|(k, v)| ext_entry(ext_field, k, v))
}

/// Checks a visibility value a user may set.
pub fn check_visibility(value: i32) -> Result<(), String> {
    if (visibility::NOT_SET..=visibility::EVERYONE).contains(&value) {
        Ok(())
    } else {
        Err("visibility must be 0 (NOT_SET), 1 (INVISIBLE) or 2 (EVERYONE)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_and_name_the_field() {
        let ok = UpdateProfileRequest {
            name: Some("名".repeat(32)),
            role: Some(100),
            ..Default::default()
        };
        assert_eq!(check_update(&ok, "extraProfile"), Ok(()));
        let long = UpdateProfileRequest {
            name: Some("a".repeat(33)),
            ..Default::default()
        };
        assert!(check_update(&long, "x").unwrap_err().starts_with("name "));
        let role = UpdateProfileRequest {
            level: Some(101),
            ..Default::default()
        };
        assert!(check_update(&role, "x").unwrap_err().starts_with("level "));
        let mut ext = UpdateProfileRequest::default();
        ext.ext.insert("bad-key".into(), "v".into());
        assert!(check_update(&ext, "extraProfile")
            .unwrap_err()
            .starts_with("extraProfile keys"));
        assert!(unique_id("uniqueId", "abc_1").is_err());
        assert!(unique_id("uniqueId", &"a".repeat(33)).is_err());
        assert!(unique_id("uniqueId", "Alice01").is_ok());
        assert!(check_visibility(3).is_err());
    }
}
