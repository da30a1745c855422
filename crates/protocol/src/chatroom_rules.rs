//! Chatroom limits and codes (seed 002 chatroom pages and error-code table), checked by
//! the client before a request leaves and by the server again: one copy of the rules, so
//! both answer the same code and message.

/// Not in the room (NOT_IN_CHATROOM).
pub const NOT_IN_CHATROOM: i32 = 23406;
/// Blocked from the room (RC_CHATROOM_USER_KICKED).
pub const USER_KICKED: i32 = 23409;
/// No such room (RC_CHATROOM_NOT_EXIST).
pub const NOT_EXIST: i32 = 23410;
/// A chatroom argument is invalid (RC_CHATROOM_PARAMETER_INVALID).
pub const PARAMETER_INVALID: i32 = 23412;
/// More than [`MAX_ENTRIES`] entries in the room (CHATROOM_KV_EXCEED).
pub const KV_EXCEED: i32 = 23423;
/// The entry belongs to another user (CHATROOM_KV_OVERWRITE_INVALID).
pub const KV_OVERWRITE_INVALID: i32 = 23424;
/// No such entry (CHATROOM_KEY_NOT_EXIST).
pub const KEY_NOT_EXIST: i32 = 23427;
/// More than [`MAX_ENTRIES_PER_CALL`] entries in one call (CHATROOM_KV_STORE_OUT_LIMIT).
pub const KV_OUT_LIMIT: i32 = 23429;
/// The room id is empty (CHATROOM_ID_ISNULL).
pub const ID_IS_NULL: i32 = 36001;
/// No such entry, as the client's getChatRoomEntry answers it (CHATROOM_KV_NOT_FOUND).
pub const KV_NOT_FOUND: i32 = 36004;

/// Longest room id (the vendor's server API limit).
pub const MAX_ROOM_ID_CHARS: usize = 64;
/// Most entries a room holds.
pub const MAX_ENTRIES: usize = 100;
/// Most entries one set or remove call touches.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Longest key.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest value.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Most messages a join returns.
pub const MAX_JOIN_COUNT: u32 = 50;
/// Most members `getChatRoomInfo` lists.
pub const MAX_INFO_COUNT: u32 = 20;
/// Most messages one history page holds.
pub const MAX_HISTORY_COUNT: u32 = 20;

/// A failed rule: the code to answer and a message naming the argument.
pub type RuleError = (i32, String);

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '+' | '.')
}

/// A room id: 1..=64 characters of `[A-Za-z0-9_=+.-]`; empty is 36001.
pub fn room_id(field: &str, id: &str) -> Result<(), RuleError> {
    if id.is_empty() {
        return Err((ID_IS_NULL, format!("{field} is empty")));
    }
    if id.chars().count() > MAX_ROOM_ID_CHARS || !id.chars().all(id_char) {
        return Err((
            PARAMETER_INVALID,
            format!("{field} must be 1..={MAX_ROOM_ID_CHARS} characters of A-Z a-z 0-9 _ - = + ."),
        ));
    }
    Ok(())
}

/// An entry key: 1..=128 characters of `[A-Za-z0-9+=_-]` (the seed's set).
pub fn key(field: &str, key: &str) -> Result<(), RuleError> {
    let ok = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '=' | '-' | '_'));
    if !ok {
        return Err((
            PARAMETER_INVALID,
            format!("{field} must be 1..={MAX_KEY_CHARS} characters of A-Z a-z 0-9 + = - _"),
        ));
    }
    Ok(())
}

/// An entry value: up to 4096 characters.
pub fn value(field: &str, value: &str) -> Result<(), RuleError> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err((
            PARAMETER_INVALID,
            format!("{field} must be at most {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The number of entries in one set or remove call: 1..=10.
pub fn batch(field: &str, n: usize) -> Result<(), RuleError> {
    if n == 0 {
        return Err((PARAMETER_INVALID, format!("{field} is empty")));
    }
    if n > MAX_ENTRIES_PER_CALL {
        return Err((
            KV_OUT_LIMIT,
            format!("{field} holds {n} entries; at most {MAX_ENTRIES_PER_CALL} per call"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_answer_the_seed_codes() {
        assert_eq!(room_id("chatRoomId", "").unwrap_err().0, ID_IS_NULL);
        assert_eq!(
            room_id("chatRoomId", "a b").unwrap_err().0,
            PARAMETER_INVALID
        );
        assert!(room_id("chatRoomId", &"r".repeat(64)).is_ok());
        assert!(room_id("chatRoomId", &"r".repeat(65)).is_err());
        assert!(key("key", "a+b=c-d_E9").is_ok());
        assert!(key("key", "a.b").is_err());
        assert!(key("key", &"k".repeat(129)).is_err());
        assert!(value("value", &"v".repeat(4096)).is_ok());
        assert_eq!(
            value("value", &"v".repeat(4097)).unwrap_err().0,
            PARAMETER_INVALID
        );
        assert_eq!(batch("entries", 11).unwrap_err().0, KV_OUT_LIMIT);
        assert!(batch("entries", 10).is_ok());
    }
}
