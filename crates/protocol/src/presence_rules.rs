//! Online-status subscription limits (seed 002 "订阅用户在线状态"), shared by the client
//! (which refuses bad input before anything is sent, so offline too) and the server
//! (which must refuse it from any client).

/// `SubscribeType.ONLINE_STATUS`.
pub const ONLINE_STATUS: i32 = 1;
/// `SubscribeType.USER_PROFILE` (IMLib 5.10.1).
pub const USER_PROFILE: i32 = 2;
/// User ids in one subscribe, unsubscribe or status query.
pub const MAX_IDS_PER_CALL: usize = 200;
/// Users one user may subscribe to, per type (else 26022).
pub const MAX_SUBSCRIBED: usize = 1000;
/// Subscribers one user may have, per type (else 26021).
pub const MAX_SUBSCRIBERS: usize = 5000;
/// Shortest subscription, seconds.
pub const MIN_EXPIRY_SECS: i64 = 60;
/// Longest subscription (30 days), seconds.
pub const MAX_EXPIRY_SECS: i64 = 2_592_000;
/// Page size of `getSubscribeUserList` as the seed allows it.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Page size the server accepts (a client's sync after connect reads everything).
pub const MAX_SERVER_PAGE: u32 = MAX_SUBSCRIBED as u32;
/// Longest user id, characters (the vendor's).
pub const MAX_USER_ID_CHARS: usize = 64;

/// `type` must be ONLINE_STATUS or USER_PROFILE; the error names `arg`.
pub fn subscribe_type(arg: &str, t: i64) -> Result<i32, String> {
    match t {
        1 | 2 => Ok(t as i32),
        _ => Err(format!(
            "{arg} must be SubscribeType.ONLINE_STATUS (1) or USER_PROFILE (2), got {t}"
        )),
    }
}

/// `expiry` in seconds, 60..=2592000.
pub fn expiry(arg: &str, secs: i64) -> Result<i64, String> {
    if (MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "{arg} must be {MIN_EXPIRY_SECS}..={MAX_EXPIRY_SECS} seconds, got {secs}"
        ))
    }
}

/// 1..=200 distinct, non-empty user ids of at most 64 characters, none of them `own`
/// (one cannot subscribe to oneself). Duplicates are an error rather than merged so the
/// caller learns its list is not what it meant.
pub fn user_ids(arg: &str, ids: &[String], own: Option<&str>) -> Result<(), String> {
    if ids.is_empty() || ids.len() > MAX_IDS_PER_CALL {
        return Err(format!(
            "{arg} must hold 1 to {MAX_IDS_PER_CALL} user ids, got {}",
            ids.len()
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || id.chars().count() > MAX_USER_ID_CHARS {
            return Err(format!(
                "{arg}[{i}] must be a user id of 1 to {MAX_USER_ID_CHARS} characters"
            ));
        }
        if Some(id.as_str()) == own {
            return Err(format!(
                "{arg}[{i}] is the current user (one cannot subscribe to oneself)"
            ));
        }
        if !seen.insert(id.as_str()) {
            return Err(format!("{arg}[{i}] repeats {id:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_argument() {
        assert!(subscribe_type("type", 1).is_ok());
        assert!(subscribe_type("type", 3).unwrap_err().starts_with("type"));
        assert!(expiry("expiry", 60).is_ok());
        assert!(expiry("expiry", 2_592_000).is_ok());
        assert!(expiry("expiry", 59).unwrap_err().starts_with("expiry"));
        assert!(expiry("expiry", 2_592_001).is_err());
        let ids: Vec<String> = (0..201).map(|i| format!("u{i}")).collect();
        assert!(user_ids("userIds", &ids[..200], None).is_ok());
        assert!(user_ids("userIds", &ids, None)
            .unwrap_err()
            .starts_with("userIds"));
        assert!(user_ids("userIds", &[], None).is_err());
        let e = user_ids("userIds", &["a".into(), "a".into()], None).unwrap_err();
        assert!(e.starts_with("userIds[1]"), "{e}");
        let e = user_ids("userIds", &["me".into()], Some("me")).unwrap_err();
        assert!(e.starts_with("userIds[0]"), "{e}");
        assert!(user_ids("userIds", &[String::new()], None).is_err());
    }
}
