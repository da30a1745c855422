//! Argument checking for calls that arrive as JSON values from JavaScript. Every failure is
//! a 33003 whose message names the argument and the rule, so a developer can fix the call
//! from the message alone.

use serde_json::{Map, Value};

use crate::codes;
use crate::error::{ImError, ImResult};
use crate::model::{conversation_type, ConversationKey, ConversationScope};

pub const MAX_ID_LEN: usize = 64;

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Treats JS `undefined` (absent) and `null` alike.
pub fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

pub fn object<'a>(v: Option<&'a Value>, name: &str) -> ImResult<&'a Map<String, Value>> {
    match present(v) {
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ImError::invalid(format!(
            "{name} must be an object, got {}",
            kind(other)
        ))),
        None => Err(ImError::invalid(format!("{name} is required (an object)"))),
    }
}

pub fn optional_object<'a>(
    v: Option<&'a Value>,
    name: &str,
) -> ImResult<Option<&'a Map<String, Value>>> {
    match present(v) {
        None => Ok(None),
        some => object(some, name).map(Some),
    }
}

pub fn integer(v: Option<&Value>, name: &str) -> ImResult<Option<i64>> {
    match present(v) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                    Ok(Some(f as i64))
                }
                _ => Err(ImError::invalid(format!(
                    "{name} must be an integer, got {n}"
                ))),
            }
        }
        Some(other) => Err(ImError::invalid(format!(
            "{name} must be an integer, got {}",
            kind(other)
        ))),
    }
}

pub fn required_integer(v: Option<&Value>, name: &str) -> ImResult<i64> {
    integer(v, name)?.ok_or_else(|| ImError::invalid(format!("{name} is required (an integer)")))
}

/// An integer in `min..=max`, `default` when absent.
pub fn ranged(
    v: Option<&Value>,
    name: &str,
    min: i64,
    max: i64,
    default: Option<i64>,
) -> ImResult<i64> {
    let got = match (integer(v, name)?, default) {
        (Some(i), _) => i,
        (None, Some(d)) => return Ok(d),
        (None, None) => {
            return Err(ImError::invalid(format!(
                "{name} is required (an integer from {min} to {max})"
            )))
        }
    };
    if got < min || got > max {
        return Err(ImError::invalid(format!(
            "{name} must be an integer from {min} to {max}, got {got}"
        )));
    }
    Ok(got)
}

/// A millisecond timestamp; 0 (and absent, where allowed) means "now" for the paging calls,
/// which the callers map themselves.
pub fn timestamp(v: Option<&Value>, name: &str, default: Option<i64>) -> ImResult<i64> {
    ranged(v, name, 0, i64::MAX / 2, default)
}

pub fn boolean(v: Option<&Value>, name: &str, default: Option<bool>) -> ImResult<bool> {
    match (present(v), default) {
        (Some(Value::Bool(b)), _) => Ok(*b),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(ImError::invalid(format!("{name} is required (a boolean)"))),
        (Some(other), _) => Err(ImError::invalid(format!(
            "{name} must be a boolean, got {}",
            kind(other)
        ))),
    }
}

pub fn string<'a>(v: Option<&'a Value>, name: &str) -> ImResult<Option<&'a str>> {
    match present(v) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ImError::invalid(format!(
            "{name} must be a string, got {}",
            kind(other)
        ))),
    }
}

/// A non-empty identifier (user, group, target id) of at most 64 characters.
pub fn id(v: Option<&Value>, name: &str) -> ImResult<String> {
    match string(v, name)? {
        None => Err(ImError::invalid(format!(
            "{name} is required (a non-empty string)"
        ))),
        Some("") => Err(ImError::invalid(format!(
            "{name} must be a non-empty string"
        ))),
        Some(s) if s.chars().count() > MAX_ID_LEN => Err(ImError::invalid(format!(
            "{name} must be at most {MAX_ID_LEN} characters"
        ))),
        Some(s) => Ok(s.to_string()),
    }
}

pub fn string_array(v: Option<&Value>, name: &str, max: usize) -> ImResult<Option<Vec<String>>> {
    match present(v) {
        None => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > max {
                return Err(ImError::invalid(format!(
                    "{name} must have at most {max} items, got {}",
                    items.len()
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    other => Err(ImError::invalid(format!(
                        "{name}[{i}] must be a non-empty string, got {}",
                        kind(other)
                    ))),
                })
                .collect::<ImResult<Vec<_>>>()
                .map(Some)
        }
        Some(other) => Err(ImError::invalid(format!(
            "{name} must be an array of strings, got {}",
            kind(other)
        ))),
    }
}

pub fn channel(v: Option<&Value>, name: &str) -> ImResult<Option<String>> {
    match present(v) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 20 => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ImError::invalid(format!(
            "{name} must be at most 20 characters"
        ))),
        Some(other) => Err(ImError::invalid(format!(
            "{name} must be a string, got {}",
            kind(other)
        ))),
    }
}

/// Conversation types the local database stores: chatroom messages are never persisted
/// and the Electron solution has no ultra groups (seed §1.1), so both are refused (34201).
pub fn stored_type(t: i64, name: &str) -> ImResult<i64> {
    if !conversation_type::ALL.contains(&t) {
        return Err(ImError::invalid(format!(
            "{name} must be a ConversationType (1 PRIVATE, 2 DISCUSSION, 3 GROUP, 5 CUSTOMER_SERVICE, 6 SYSTEM, 7 APP_PUBLIC_SERVICE, 8 PUBLIC_SERVICE), got {t}"
        )));
    }
    if t == conversation_type::CHATROOM || t == conversation_type::ULTRA_GROUP {
        return Err(ImError::new(
            codes::CONVERSATION_TYPE_NOT_SUPPORT,
            format!("{name} {t} is not supported here: chatroom and ultra group messages are not stored locally"),
        ));
    }
    Ok(t)
}

/// Parses `{ conversationType, targetId, channelId? }`.
pub fn scope_from(m: &Map<String, Value>, name: &str) -> ImResult<ConversationScope> {
    let t = required_integer(
        m.get("conversationType"),
        &format!("{name}.conversationType"),
    )?;
    let t = stored_type(t, &format!("{name}.conversationType"))?;
    Ok(ConversationScope {
        conversation_type: t,
        target_id: id(m.get("targetId"), &format!("{name}.targetId"))?,
        channel_id: channel(m.get("channelId"), &format!("{name}.channelId"))?,
    })
}

pub fn scope(v: Option<&Value>, name: &str) -> ImResult<ConversationScope> {
    scope_from(object(v, name)?, name)
}

/// A conversation with its channel defaulting to the default channel.
pub fn conversation(v: Option<&Value>, name: &str) -> ImResult<ConversationKey> {
    scope(v, name).map(|s| s.exact())
}

/// A search keyword: non-empty, at most 256 characters.
pub fn keyword(v: Option<&Value>, name: &str) -> ImResult<String> {
    match string(v, name)? {
        None => Err(ImError::invalid(format!(
            "{name} is required (a non-empty string)"
        ))),
        Some("") => Err(ImError::invalid(format!(
            "{name} must be a non-empty string"
        ))),
        Some(s) if s.chars().count() > 256 => Err(ImError::invalid(format!(
            "{name} must be at most 256 characters"
        ))),
        Some(s) => Ok(s.to_string()),
    }
}

/// `GetHistoryMessageOption`, shared by the local, remote and continuous history calls.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Paging boundary, ms; 0 = now.
    pub timestamp: i64,
    /// 1..=100, default 20.
    pub count: i64,
    /// 0: before `timestamp`, newest first; 1: after it, oldest first.
    pub order: i64,
}

pub fn paging(v: Option<&Value>, name: &str) -> ImResult<Paging> {
    let m = optional_object(v, name)?;
    let get = |k: &str| m.and_then(|m| m.get(k));
    Ok(Paging {
        timestamp: timestamp(get("timestamp"), &format!("{name}.timestamp"), Some(0))?,
        count: ranged(get("count"), &format!("{name}.count"), 1, 100, Some(20))?,
        order: ranged(get("order"), &format!("{name}.order"), 0, 1, Some(0))?,
    })
}

/// A `conversationTypes` filter: absent or empty means every type in `allowed`; a type
/// outside `allowed` is refused (34201 for a real type the call does not cover).
pub fn conversation_types(v: Option<&Value>, name: &str, allowed: &[i64]) -> ImResult<Vec<i64>> {
    let items = match present(v) {
        None => return Ok(allowed.to_vec()),
        Some(Value::Array(items)) if items.is_empty() => return Ok(allowed.to_vec()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ImError::invalid(format!(
                "{name} must be an array of ConversationType values, got {}",
                kind(other)
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("{name}[{i}]");
        let t = required_integer(Some(item), &field)?;
        if !conversation_type::ALL.contains(&t) {
            return Err(ImError::invalid(format!(
                "{field} must be a ConversationType, got {t}"
            )));
        }
        if !allowed.contains(&t) {
            let list: Vec<String> = allowed.iter().map(i64::to_string).collect();
            return Err(ImError::new(
                codes::CONVERSATION_TYPE_NOT_SUPPORT,
                format!(
                    "{field} {t} is not supported by this call (allowed: {})",
                    list.join(", ")
                ),
            ));
        }
        out.push(t);
    }
    Ok(out)
}

/// A non-empty array of conversations; more than `max` is `over_limit_code` (the tag calls'
/// 34013).
pub fn conversation_list(
    v: Option<&Value>,
    name: &str,
    max: usize,
    over_limit_code: i32,
) -> ImResult<Vec<ConversationKey>> {
    let items = match present(v) {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ImError::invalid(format!(
                "{name} must be an array of conversations, got {}",
                kind(other)
            )))
        }
        None => {
            return Err(ImError::invalid(format!(
                "{name} is required (an array of 1 to {max} conversations)"
            )))
        }
    };
    if items.is_empty() {
        return Err(ImError::invalid(format!(
            "{name} must hold at least one conversation"
        )));
    }
    if items.len() > max {
        return Err(ImError::new(
            over_limit_code,
            format!(
                "{name} holds {} conversations; the limit is {max}",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| conversation(Some(item), &format!("{name}[{i}]")))
        .collect()
}

/// A string of 1 to `max` characters (tag ids and names).
pub fn bounded_string(v: Option<&Value>, name: &str, max: usize) -> ImResult<String> {
    match string(v, name)? {
        None => Err(ImError::invalid(format!(
            "{name} is required (a string of 1 to {max} characters)"
        ))),
        Some(s) if s.is_empty() || s.chars().count() > max => Err(ImError::invalid(format!(
            "{name} must be 1 to {max} characters, got {}",
            s.chars().count()
        ))),
        Some(s) => Ok(s.to_string()),
    }
}
