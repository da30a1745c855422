//! Messages as the API sees them (`IAReceivedMessage`) and as the store keeps them. Input
//! is checked completely before anything is written, so a bad message changes nothing.

use serde_json::{json, Map, Value};

use crate::args;
use crate::error::{ImError, ImResult};
use crate::json_text::JsonWriter;
use crate::model::{conversation_type, direction, received_status, sent_status, ConversationKey};
use crate::registry::{search_text, Registry};

/// Largest serialized content accepted, as the server enforces (seed: 128 KB, 30016).
pub const MAX_CONTENT_BYTES: usize = 128 * 1024;

pub mod flag {
    pub const PERSISTED: i64 = 1;
    pub const COUNTED: i64 = 2;
    pub const STATUS: i64 = 4;
    pub const OFFLINE: i64 = 8;
    pub const DISABLE_NOTIFICATION: i64 = 16;
    pub const CAN_INCLUDE_EXPANSION: i64 = 32;
    /// The message has a row in the search index (so deletes know to remove it).
    pub const INDEXED: i64 = 64;
}

/// A message ready to be written.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub key: ConversationKey,
    pub uid: Option<String>,
    pub sender: String,
    pub object_name: String,
    pub content: String,
    pub direction: i64,
    pub sent_time: i64,
    pub received_time: i64,
    pub sent_status: i64,
    pub received_status: i64,
    pub mentioned: bool,
    pub flags: i64,
    pub expansion: Option<String>,
    pub extra: Option<String>,
    pub search_text: Option<String>,
    /// Set on messages this device sends: the id the server deduplicates resends by.
    pub client_id: Option<String>,
    /// The sender's client already made resends of it impossible to confuse (it came
    /// with a client id the server deduplicated), so no content check is needed.
    pub server_deduped: bool,
}

impl NewMessage {
    /// Whether it counts toward its conversation's unread count.
    pub fn unread(&self) -> bool {
        self.direction == direction::RECEIVE
            && self.flags & flag::COUNTED != 0
            && self.received_status & received_status::READ == 0
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How a message being inserted is read; `IInsertOptions`.
#[derive(Debug, Clone, Default)]
pub struct InsertOptions {
    /// Received messages count as unread only when asked: imported history is read.
    pub is_unread: bool,
    /// Replaces the text the message is found by.
    pub search_content: Option<String>,
}

impl InsertOptions {
    pub fn parse(v: Option<&Value>, name: &str) -> ImResult<Self> {
        let Some(m) = args::optional_object(v, name)? else {
            return Ok(Self::default());
        };
        Ok(Self {
            is_unread: args::boolean(m.get("isUnread"), &format!("{name}.isUnread"), Some(false))?,
            search_content: match args::string(m.get("searchContent"), &format!("{name}.searchContent"))? {
                Some(s) if s.len() > MAX_CONTENT_BYTES => {
                    return Err(ImError::invalid(format!(
                        "{name}.searchContent is {} bytes; the limit is {MAX_CONTENT_BYTES} (128 KB, as for content)",
                        s.len()
                    )))
                }
                s => s.map(str::to_string),
            },
        })
    }
}

fn received_status_info(m: &Map<String, Value>, name: &str) -> ImResult<i64> {
    let mut bits = 0;
    for (field, bit) in [
        ("isRead", received_status::READ),
        ("isListened", received_status::LISTENED),
        ("isDownload", received_status::DOWNLOADED),
        ("isRetrieved", received_status::RETRIEVED),
    ] {
        if args::boolean(m.get(field), &format!("{name}.{field}"), Some(false))? {
            bits |= bit;
        }
    }
    Ok(bits)
}

pub fn parse_received_status_info(v: Option<&Value>, name: &str) -> ImResult<i64> {
    received_status_info(args::object(v, name)?, name)
}

pub fn parse_received_status(v: Option<&Value>, name: &str) -> ImResult<i64> {
    args::ranged(v, name, 0, received_status::MASK, None)
}

pub fn parse_sent_status(v: Option<&Value>, name: &str) -> ImResult<i64> {
    let s = args::required_integer(v, name)?;
    if !sent_status::ALL.contains(&s) {
        return Err(ImError::invalid(format!(
            "{name} must be a SentStatus (10, 20, 30, 40, 50, 60 or 70), got {s}"
        )));
    }
    Ok(s)
}

/// Whether a received message mentions `user_id`: @all (type 1) or @ the user (type 2).
pub fn mentions(content: &Value, user_id: &str) -> bool {
    let Some(info) = content.get("mentionedInfo") else {
        return false;
    };
    match info.get("type").and_then(Value::as_i64) {
        Some(1) => true,
        Some(2) => info
            .get("userIdList")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(user_id))),
        _ => false,
    }
}

/// Everything needed to turn an API message object into a [`NewMessage`].
pub struct Parser<'a> {
    pub registry: &'a Registry,
    pub user_id: &'a str,
    pub now: i64,
}

impl Parser<'_> {
    pub fn parse(
        &self,
        key: ConversationKey,
        m: &Map<String, Value>,
        name: &str,
        options: &InsertOptions,
    ) -> ImResult<NewMessage> {
        let field = |f: &str| format!("{name}.{f}");
        let object_name = args::id(m.get("messageType"), &field("messageType"))?;
        let info = self.registry.require(&object_name)?;
        if !info.is_persisted {
            return Err(ImError::invalid(format!(
                "{} '{object_name}' is not a stored message type (isPersisted false or a status message), so it cannot be inserted",
                field("messageType")
            )));
        }
        let content_value = match args::present(m.get("content")) {
            Some(v @ Value::Object(_)) => v,
            Some(_) => {
                return Err(ImError::invalid(format!(
                    "{} must be an object",
                    field("content")
                )))
            }
            None => {
                return Err(ImError::invalid(format!(
                    "{} is required (an object)",
                    field("content")
                )))
            }
        };
        let content = content_value.to_string();
        if content.len() > MAX_CONTENT_BYTES {
            return Err(ImError::invalid(format!(
                "{} is {} bytes as JSON; the limit is {MAX_CONTENT_BYTES}",
                field("content"),
                content.len()
            )));
        }
        let dir = args::ranged(
            m.get("messageDirection"),
            &field("messageDirection"),
            1,
            2,
            Some(direction::SEND),
        )?;
        let sender = match args::present(m.get("senderUserId")) {
            Some(v) => args::id(Some(v), &field("senderUserId"))?,
            None if dir == direction::SEND => self.user_id.to_string(),
            None if key.conversation_type == conversation_type::PRIVATE => key.target_id.clone(),
            None => {
                return Err(ImError::invalid(format!(
                    "{} is required for a received message outside a private conversation",
                    field("senderUserId")
                )))
            }
        };
        let uid = match args::present(m.get("messageUId")).or(args::present(m.get("messageUid"))) {
            Some(v) => Some(args::id(Some(v), &field("messageUId"))?),
            None => None,
        };
        let sent_time = args::timestamp(m.get("sentTime"), &field("sentTime"), Some(0))?;
        let sent_time = if sent_time == 0 { self.now } else { sent_time };
        let received_time =
            args::timestamp(m.get("receivedTime"), &field("receivedTime"), Some(0))?;
        let received_time = if received_time == 0 {
            self.now
        } else {
            received_time
        };
        let sent_status = match args::present(m.get("sentStatus")) {
            Some(v) => parse_sent_status(Some(v), &field("sentStatus"))?,
            None => sent_status::SENT,
        };
        let received = if let Some(v) = args::present(m.get("receivedStatusInfo")) {
            received_status_info(
                args::object(Some(v), &field("receivedStatusInfo"))?,
                &field("receivedStatusInfo"),
            )?
        } else if let Some(v) = args::present(m.get("receivedStatus")) {
            parse_received_status(Some(v), &field("receivedStatus"))?
        } else if dir == direction::RECEIVE && options.is_unread {
            received_status::UNREAD
        } else {
            received_status::READ
        };
        let mentioned = match args::present(m.get("isMentioned")) {
            Some(v) => args::boolean(Some(v), &field("isMentioned"), None)?,
            None => dir == direction::RECEIVE && mentions(content_value, self.user_id),
        };
        let can_expand = args::boolean(
            m.get("canIncludeExpansion"),
            &field("canIncludeExpansion"),
            Some(false),
        )?;
        let expansion = match args::optional_object(m.get("expansion"), &field("expansion"))? {
            None => None,
            Some(_) if !can_expand => {
                return Err(ImError::invalid(format!(
                    "{} needs {} to be true",
                    field("expansion"),
                    field("canIncludeExpansion")
                )))
            }
            Some(exp) => {
                let exp = crate::sync::expansion::parse_stored_expansion(exp, &field("expansion"))?;
                Some(json!(exp).to_string())
            }
        };
        let mut extra = Map::new();
        if let Some(ids) =
            args::string_array(m.get("directedUserIds"), &field("directedUserIds"), 1000)?
        {
            if !ids.is_empty() {
                extra.insert("directedUserIds".into(), json!(ids));
            }
        }
        if let Some(p) = args::optional_object(m.get("pushConfig"), &field("pushConfig"))? {
            extra.insert("pushConfig".into(), Value::Object(p.clone()));
        }
        if let Some(r) = args::optional_object(m.get("readReceiptInfo"), &field("readReceiptInfo"))?
        {
            extra.insert("readReceiptInfo".into(), Value::Object(r.clone()));
        }
        // A media message's file on this device (sent from it, or downloaded): local only,
        // never part of the content that goes to the server.
        if let Some(p) = args::string(m.get("localPath"), &field("localPath"))? {
            if !p.is_empty() {
                extra.insert("localPath".into(), json!(p));
            }
        }
        let extra = (!extra.is_empty()).then(|| Value::Object(extra).to_string());
        if let Some(e) = extra.as_ref().filter(|e| e.len() > MAX_CONTENT_BYTES) {
            return Err(ImError::invalid(format!(
                "{} and {} are {} bytes as JSON; the limit is {MAX_CONTENT_BYTES} (128 KB)",
                field("pushConfig"),
                field("readReceiptInfo"),
                e.len()
            )));
        }
        let mut flags = flag::PERSISTED;
        if info.is_counted {
            flags |= flag::COUNTED;
        }
        let offline = match args::present(m.get("isOfflineMessage")) {
            Some(v) => Some(v),
            None => args::present(m.get("isOffLineMessage")),
        };
        if args::boolean(offline, &field("isOfflineMessage"), Some(false))? {
            flags |= flag::OFFLINE;
        }
        if args::boolean(
            m.get("disableNotification"),
            &field("disableNotification"),
            Some(false),
        )? {
            flags |= flag::DISABLE_NOTIFICATION;
        }
        if can_expand {
            flags |= flag::CAN_INCLUDE_EXPANSION;
        }
        let search_text = match &options.search_content {
            Some(s) if !s.is_empty() => Some(crate::store::tokenizer::escape_text(s).into_owned()),
            Some(_) => None,
            None => search_text(info, content_value),
        };
        if search_text.is_some() {
            flags |= flag::INDEXED;
        }
        Ok(NewMessage {
            key,
            uid,
            sender,
            object_name,
            content,
            direction: dir,
            sent_time,
            received_time,
            sent_status,
            received_status: received,
            mentioned,
            flags,
            expansion,
            extra,
            search_text,
            client_id: None,
            server_deduped: false,
        })
    }
}

/// A received, counted text message from `target` for store unit tests.
#[cfg(test)]
pub(crate) fn test_received(kind: i64, target: &str, time: i64, text: &str) -> NewMessage {
    NewMessage {
        key: ConversationKey {
            conversation_type: kind,
            target_id: target.into(),
            channel_id: String::new(),
        },
        uid: None,
        sender: target.into(),
        object_name: "RC:TxtMsg".into(),
        content: json!({ "content": text }).to_string(),
        direction: direction::RECEIVE,
        sent_time: time,
        received_time: time,
        sent_status: sent_status::SENT,
        received_status: received_status::UNREAD,
        mentioned: false,
        flags: flag::PERSISTED | flag::COUNTED,
        expansion: None,
        extra: None,
        search_text: None,
        client_id: None,
        server_deduped: false,
    }
}

/// Adds the vendor's spellings (`isPersited`, `isOffLineMessage`; see [`write_row`]) to a
/// message object built as a value (messages that are not stored).
pub fn add_vendor_spellings(message: &mut Value) {
    let Some(obj) = message.as_object_mut() else {
        return;
    };
    for (ours, vendor) in [
        ("isPersisted", "isPersited"),
        ("isOfflineMessage", "isOffLineMessage"),
    ] {
        if let Some(v) = obj.get(ours).cloned() {
            obj.insert(vendor.to_string(), v);
        }
    }
}

/// The columns every message query selects, in the order [`row_to_json`] reads them.
pub const COLUMNS: &str = "m.id, m.uid, m.sender, m.object_name, m.content, m.direction, m.sent_time, \
     m.received_time, m.sent_status, m.received_status, m.mentioned, m.flags, m.expansion, m.extra, \
     c.type, c.target, c.channel";

/// Converts one row selected with [`COLUMNS`] into the API's message object.
pub fn row_to_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let mut w = JsonWriter::with_capacity(512);
    write_row(&mut w, r)?;
    Ok(w.finish().parse())
}

/// Writes one row selected with [`COLUMNS`] as the API's message object (`IAReceivedMessage`).
pub fn write_row(w: &mut JsonWriter, r: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
    let flags: i64 = r.get(11)?;
    let received: i64 = r.get(9)?;
    let extra: Option<Map<String, Value>> = r
        .get_ref(13)?
        .as_str_or_null()?
        .and_then(|e| serde_json::from_str(e).ok());
    let extra_field = |k: &str| extra.as_ref().and_then(|e| e.get(k));
    w.begin_object();
    w.key("canIncludeExpansion")
        .bool(flags & flag::CAN_INCLUDE_EXPANSION != 0);
    w.key("channelId").str(r.get_ref(16)?.as_str()?);
    w.key("content").raw(Some(r.get_ref(4)?.as_str()?));
    w.key("conversationType").int(r.get(14)?);
    w.key("directedUserIds");
    match extra_field("directedUserIds") {
        Some(v) => w.value(v),
        None => w.begin_array().end_array(),
    };
    w.key("disableNotification")
        .bool(flags & flag::DISABLE_NOTIFICATION != 0);
    w.key("expansion").raw(r.get_ref(12)?.as_str_or_null()?);
    w.key("isCounted").bool(flags & flag::COUNTED != 0);
    w.key("isMentioned").bool(r.get::<_, i64>(10)? != 0);
    // Both spellings: IMLib 5.x's message objects spell these `isOffLineMessage` and
    // `isPersited` (its IAReceivedMessage typings); imsync's docs use the corrected ones.
    w.key("isOffLineMessage").bool(flags & flag::OFFLINE != 0);
    w.key("isOfflineMessage").bool(flags & flag::OFFLINE != 0);
    w.key("isPersisted").bool(flags & flag::PERSISTED != 0);
    w.key("isPersited").bool(flags & flag::PERSISTED != 0);
    w.key("isStatusMessage").bool(flags & flag::STATUS != 0);
    if let Some(p) = extra_field("localPath") {
        w.key("localPath").value(p);
    }
    w.key("messageDirection").int(r.get(5)?);
    w.key("messageId").int(r.get(0)?);
    w.key("messageType").str(r.get_ref(3)?.as_str()?);
    w.key("messageUId")
        .str(r.get_ref(1)?.as_str_or_null()?.unwrap_or_default());
    for key in ["pushConfig", "readReceiptInfo"] {
        if let Some(v) = extra_field(key) {
            w.key(key).value(v);
        }
    }
    w.key("receivedStatus").int(received);
    w.key("receivedStatusInfo")
        .begin_object()
        .key("isDownload")
        .bool(received & received_status::DOWNLOADED != 0)
        .key("isListened")
        .bool(received & received_status::LISTENED != 0)
        .key("isRead")
        .bool(received & received_status::READ != 0)
        .key("isRetrieved")
        .bool(received & received_status::RETRIEVED != 0)
        .end_object();
    w.key("receivedTime").int(r.get(7)?);
    w.key("senderUserId").str(r.get_ref(2)?.as_str()?);
    w.key("sentStatus").int(r.get(8)?);
    w.key("sentTime").int(r.get(6)?);
    w.key("targetId").str(r.get_ref(15)?.as_str()?);
    w.end_object();
    Ok(())
}
