//! Message expansion: key/values on a message that allowed them at send time
//! (`canIncludeExpansion`), changed by any participant and synced to every copy. The
//! seed's limits are checked before anything is sent: keys 1..=32 of [A-Za-z0-9+=_-],
//! values ≤ 4096 characters, ≤ 20 keys per call, ≤ 300 per message (34010); a message
//! that does not allow expansion, or a conversation type without it, is 34008.

use std::collections::BTreeMap;

use imsync_protocol as pb;
use pb::codes::{EXPANSION_LIMIT_EXCEET, MESSAGE_KV_NOT_SUPPORT};
use pb::request;
use serde_json::{Map, Value};

use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::model::conversation_type::{GROUP, PRIVATE};
use crate::store::notices;

fn limit(msg: String) -> ImError {
    ImError::new(EXPANSION_LIMIT_EXCEET, msg)
}

fn check_key(k: &str, name: &str) -> ImResult<()> {
    if pb::is_valid_expansion_key(k) {
        Ok(())
    } else {
        Err(limit(format!(
            "{name} {k:?} must be 1 to {} characters of A-Z a-z 0-9 + = _ -",
            pb::EXPANSION_MAX_KEY_CHARS
        )))
    }
}

/// Key/values to set, as given to `sendMessage` (`options.expansion`) or
/// `updateMessageExpansion`: at most 20 per call.
pub fn parse_expansion(m: &Map<String, Value>, name: &str) -> ImResult<BTreeMap<String, String>> {
    parse_expansion_up_to(m, name, pb::EXPANSION_MAX_KEYS_PER_UPDATE, "per call")
}

/// The whole expansion of a message being inserted (imported history may carry what
/// several updates set): at most the 300 keys a message can hold, each key and value
/// within the same limits as an update.
pub fn parse_stored_expansion(
    m: &Map<String, Value>,
    name: &str,
) -> ImResult<BTreeMap<String, String>> {
    parse_expansion_up_to(m, name, pb::EXPANSION_MAX_KEYS_TOTAL, "per message")
}

fn parse_expansion_up_to(
    m: &Map<String, Value>,
    name: &str,
    max_keys: usize,
    per: &str,
) -> ImResult<BTreeMap<String, String>> {
    if m.len() > max_keys {
        return Err(limit(format!(
            "{name} has {} keys; at most {max_keys} {per}",
            m.len(),
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in m {
        check_key(k, &format!("{name} key"))?;
        let v = v
            .as_str()
            .ok_or_else(|| ImError::invalid(format!("{name}.{k} must be a string")))?;
        if v.chars().count() > pb::EXPANSION_MAX_VALUE_CHARS {
            return Err(limit(format!(
                "{name}.{k} is {} characters; at most {}",
                v.chars().count(),
                pb::EXPANSION_MAX_VALUE_CHARS
            )));
        }
        out.insert(k.clone(), v.to_string());
    }
    Ok(out)
}

/// The message argument: its messageUId, after checking it may carry expansion.
fn target_message(v: &Value) -> ImResult<String> {
    let m = args::object(Some(v), "message")?;
    let uid = args::id(
        m.get("messageUId").or(m.get("messageUid")),
        "message.messageUId",
    )?;
    let t = args::required_integer(m.get("conversationType"), "message.conversationType")?;
    if t != PRIVATE && t != GROUP {
        return Err(ImError::new(
            MESSAGE_KV_NOT_SUPPORT,
            format!("message.conversationType {t}: expansion exists in PRIVATE (1) and GROUP (3) conversations only"),
        ));
    }
    if m.get("canIncludeExpansion") == Some(&Value::Bool(false)) {
        return Err(ImError::new(
            MESSAGE_KV_NOT_SUPPORT,
            "the message was not sent with canIncludeExpansion: true",
        ));
    }
    Ok(uid)
}

impl Engine {
    /// `updateMessageExpansion(expansion, message)`.
    pub async fn update_message_expansion(
        &self,
        expansion: Value,
        message: Value,
    ) -> ImResult<Value> {
        let set = parse_expansion(args::object(Some(&expansion), "expansion")?, "expansion")?;
        if set.is_empty() {
            return Err(ImError::invalid("expansion must hold at least one key"));
        }
        let uid = target_message(&message)?;
        self.change_expansion(uid, set, Vec::new()).await
    }

    /// `removeMessageExpansionForKey(keyArray, message)`.
    pub async fn remove_message_expansion_for_key(
        &self,
        keys: Value,
        message: Value,
    ) -> ImResult<Value> {
        let keys = args::string_array(Some(&keys), "keys", usize::MAX)?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ImError::invalid("keys is required (an array of 1 to 20 keys)"))?;
        if keys.len() > pb::EXPANSION_MAX_KEYS_PER_UPDATE {
            return Err(limit(format!(
                "keys has {} keys; at most {} per call",
                keys.len(),
                pb::EXPANSION_MAX_KEYS_PER_UPDATE
            )));
        }
        for (i, k) in keys.iter().enumerate() {
            check_key(k, &format!("keys[{i}]"))?;
        }
        let uid = target_message(&message)?;
        self.change_expansion(uid, BTreeMap::new(), keys).await
    }

    /// Asks the server, then applies the change to the stored copy — unless the server's
    /// notice of it came back first (it also goes to this device's inbox, possibly before
    /// the answer, and later notices of other changes may follow it): the notice already
    /// applied it, and applying it again after them would undo theirs. The pending change
    /// is recorded so its notice raises no EXPANSION event on the device that made it.
    async fn change_expansion(
        &self,
        uid: String,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    ) -> ImResult<Value> {
        let db = self.db()?;
        let (u, s, r) = (uid.clone(), set.clone(), remove.clone());
        db.store
            .read(move |c| {
                let Some((_, allowed, current)) = notices::expansion_of(c, &u)? else {
                    return Ok(());
                };
                if !allowed {
                    return Err(ImError::new(
                        MESSAGE_KV_NOT_SUPPORT,
                        "the message was not sent with canIncludeExpansion: true",
                    ));
                }
                let total = current
                    .keys()
                    .filter(|k| !r.contains(k))
                    .chain(s.keys())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                if total > pb::EXPANSION_MAX_KEYS_TOTAL {
                    return Err(limit(format!(
                        "the message would hold {total} expansion keys; at most {}",
                        pb::EXPANSION_MAX_KEYS_TOTAL
                    )));
                }
                Ok(())
            })
            .await?;
        let signature = expansion_signature(&uid, &set, &remove);
        self.own_expansions.push(signature.clone());
        let answer = self
            .call(request::Op::Expansion(pb::ExpansionRequest {
                message_uid: uid.clone(),
                set: set.clone().into_iter().collect(),
                remove: remove.clone(),
            }))
            .await;
        if let Err(e) = answer {
            self.own_expansions.take(&signature);
            return Err(e);
        }
        // On the writer, like the notices, so this check and their applying cannot interleave.
        let own = self.own_expansions.clone();
        db.store
            .write(move |tx| {
                if own.contains(&signature) {
                    notices::apply_expansion(tx, &uid, &set, &remove)?;
                }
                Ok(Value::Null)
            })
            .await
    }
}

/// Identifies one expansion change, as sent and as reported by its notice.
pub(crate) fn expansion_signature(
    uid: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> String {
    serde_json::json!([uid, set, remove]).to_string()
}

/// The signature of the change an EXPANSION event reports.
pub(crate) fn event_signature(event: &Value) -> String {
    let uid = event["updatedExpansion"]["messageUId"]
        .as_str()
        .or(event["deletedExpansion"]["messageUId"].as_str())
        .unwrap_or_default();
    let set: BTreeMap<String, String> =
        serde_json::from_value(event["updatedExpansion"]["expansion"].clone()).unwrap_or_default();
    let remove: Vec<String> =
        serde_json::from_value(event["deletedExpansion"]["deletedKeys"].clone())
            .unwrap_or_default();
    expansion_signature(uid, &set, &remove)
}
