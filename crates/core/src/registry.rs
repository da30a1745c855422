//! The message-type registry: which object names are stored, counted as unread, searchable
//! (and by which content fields), or are status messages. Built-in `RC:*` types are fixed;
//! apps add their own with `registerMessageType`.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{ImError, ImResult};

/// Where the searchable text of a message comes from (seed: text → content, file → name,
/// custom → registered searchProps, reference → its own content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchSource {
    None,
    Fields(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTypeInfo {
    pub is_persisted: bool,
    pub is_counted: bool,
    pub is_status: bool,
    pub search: SearchSource,
    pub builtin: bool,
}

/// Separates the values of several search fields, so a keyword never matches across two
/// fields; the tokenizer treats it as a hard boundary.
pub const FIELD_SEPARATOR: char = '\u{1f}';

fn builtin(persisted: bool, counted: bool, fields: &[&str]) -> MessageTypeInfo {
    MessageTypeInfo {
        is_persisted: persisted,
        is_counted: counted,
        is_status: false,
        search: if fields.is_empty() {
            SearchSource::None
        } else {
            SearchSource::Fields(fields.iter().map(|f| f.to_string()).collect())
        },
        builtin: true,
    }
}

#[derive(Debug, Clone)]
pub struct Registry {
    types: HashMap<String, MessageTypeInfo>,
}

impl Default for Registry {
    fn default() -> Self {
        let mut types = HashMap::new();
        let mut add = |name: &str, info: MessageTypeInfo| {
            types.insert(name.to_string(), info);
        };
        add("RC:TxtMsg", builtin(true, true, &["content"]));
        add("RC:ImgMsg", builtin(true, true, &[]));
        add("RC:FileMsg", builtin(true, true, &["name"]));
        add("RC:HQVCMsg", builtin(true, true, &[]));
        add("RC:VcMsg", builtin(true, true, &[]));
        add("RC:SightMsg", builtin(true, true, &[]));
        add("RC:GIFMsg", builtin(true, true, &[]));
        add("RC:ReferenceMsg", builtin(true, true, &["content"]));
        add("RC:LBSMsg", builtin(true, true, &[]));
        add("RC:ImgTextMsg", builtin(true, true, &[]));
        add("RC:CombineMsg", builtin(true, true, &[]));
        add("RC:CombineV2Msg", builtin(true, true, &[]));
        add("RC:InfoNtf", builtin(true, false, &[]));
        add("RC:GrpNtf", builtin(true, false, &[]));
        add("RC:RcNtf", builtin(true, false, &[]));
        add("RC:ProfileNtf", builtin(true, false, &[]));
        add("RC:CmdNtf", builtin(true, false, &[]));
        add("RC:CmdMsg", builtin(false, false, &[]));
        add("RC:SRSMsg", builtin(false, false, &[]));
        add("RC:ReadNtf", builtin(false, false, &[]));
        add(
            "RC:TypSts",
            MessageTypeInfo {
                is_status: true,
                ..builtin(false, false, &[])
            },
        );
        Self { types }
    }
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&MessageTypeInfo> {
        self.types.get(name)
    }

    /// Looks a type up for storing a message of it; unknown names are refused so a typo in
    /// an object name does not silently create unsearchable, uncounted messages.
    pub fn require(&self, name: &str) -> ImResult<&MessageTypeInfo> {
        self.types.get(name).ok_or_else(|| {
            ImError::new(
                crate::codes::MESSAGE_NOT_REGISTERED,
                format!("messageType '{name}' is not registered: call registerMessageType first"),
            )
        })
    }

    /// Registers a custom type. A status message is never stored nor counted (seed §2.5),
    /// whatever the other flags say.
    pub fn register(
        &mut self,
        name: &str,
        is_persisted: bool,
        is_counted: bool,
        search_props: Vec<String>,
        is_status: bool,
    ) -> ImResult<()> {
        if name.is_empty() || name.len() > 32 {
            return Err(ImError::invalid(
                "messageType must be a string of 1 to 32 characters",
            ));
        }
        if name.starts_with("RC:") {
            return Err(ImError::invalid(format!(
                "messageType '{name}' must not start with 'RC:' (reserved for built-in types)"
            )));
        }
        let info = MessageTypeInfo {
            is_persisted: is_persisted && !is_status,
            is_counted: is_counted && !is_status,
            is_status,
            search: if search_props.is_empty() {
                SearchSource::None
            } else {
                SearchSource::Fields(search_props)
            },
            builtin: false,
        };
        self.types.insert(name.to_string(), info);
        Ok(())
    }

    pub fn custom_types(&self) -> impl Iterator<Item = (&String, &MessageTypeInfo)> {
        self.types.iter().filter(|(_, i)| !i.builtin)
    }
}

/// registerMessageType's `searchProps`: up to 32 non-empty field names, none for a status
/// message (the seed: pass `[]` for one, it is never stored). Any mismatch is the seed's
/// 35022 SEARCH_PROPS_LIMIT_ERROR ("search field does not fit the message"), not 33003.
pub fn search_props(v: &Value, is_status: bool) -> ImResult<Vec<String>> {
    let recode = |e: ImError| {
        e.recode(
            crate::codes::INVALID_PARAMETER,
            crate::codes::SEARCH_PROPS_LIMIT_ERROR,
        )
    };
    let props = crate::args::string_array(Some(v), "searchProps", 32)
        .map_err(recode)?
        .unwrap_or_default();
    let mismatch = |msg: String| ImError::new(crate::codes::SEARCH_PROPS_LIMIT_ERROR, msg);
    if let Some(i) = props.iter().position(|p| p.is_empty() || p.len() > 64) {
        return Err(mismatch(format!(
            "searchProps[{i}] must be a field name of 1 to 64 bytes"
        )));
    }
    if is_status && !props.is_empty() {
        return Err(mismatch(
            "searchProps must be [] for a status message (it is never stored, so never searched)"
                .into(),
        ));
    }
    Ok(props)
}

/// Records a custom type in the database's registry table (kept beside the messages so
/// a database can be inspected without the app that registered its types).
pub fn save(
    conn: &rusqlite::Connection,
    name: &str,
    info: &MessageTypeInfo,
) -> rusqlite::Result<()> {
    let props = match &info.search {
        SearchSource::Fields(f) => serde_json::json!(f),
        SearchSource::None => serde_json::json!([]),
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO message_types (name, persisted, counted, status, search_props) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        name,
        info.is_persisted,
        info.is_counted,
        info.is_status,
        props.to_string()
    ])?;
    Ok(())
}

/// Extracts the text a message is found by. Numbers in custom search fields are indexed in
/// their decimal form; anything else (objects, arrays, null) has no searchable text.
pub fn search_text(info: &MessageTypeInfo, content: &Value) -> Option<String> {
    let SearchSource::Fields(fields) = &info.search else {
        return None;
    };
    let mut out = String::new();
    for field in fields {
        let piece = match content.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => continue,
        };
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(FIELD_SEPARATOR);
        }
        out.push_str(&crate::store::tokenizer::escape_text(&piece));
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_file_reference_and_custom_fields_are_searchable() {
        let mut r = Registry::default();
        let t = r.get("RC:TxtMsg").unwrap();
        assert_eq!(
            search_text(t, &json!({"content": "你好"})).as_deref(),
            Some("你好")
        );
        let f = r.get("RC:FileMsg").unwrap();
        assert_eq!(
            search_text(f, &json!({"name": "a.pdf", "size": 3})).as_deref(),
            Some("a.pdf")
        );
        let q = r.get("RC:ReferenceMsg").unwrap();
        assert_eq!(
            search_text(q, &json!({"content": "re", "referMsg": {"content": "x"}})).as_deref(),
            Some("re")
        );
        assert!(search_text(r.get("RC:ImgMsg").unwrap(), &json!({"content": "b64"})).is_none());
        r.register(
            "s:card",
            true,
            true,
            vec!["title".into(), "n".into()],
            false,
        )
        .unwrap();
        let c = r.get("s:card").unwrap();
        assert_eq!(
            search_text(c, &json!({"title": "hi", "n": 42})).as_deref(),
            Some("hi\u{1f}42")
        );
    }

    #[test]
    fn register_refuses_reserved_names_and_status_is_never_stored() {
        let mut r = Registry::default();
        assert_eq!(
            r.register("RC:Mine", true, true, vec![], false)
                .unwrap_err()
                .code,
            33003
        );
        assert_eq!(
            r.register("", true, true, vec![], false).unwrap_err().code,
            33003
        );
        r.register("s:typing", true, true, vec![], true).unwrap();
        let i = r.get("s:typing").unwrap();
        assert!(i.is_status && !i.is_persisted && !i.is_counted);
        assert_eq!(r.require("nope").unwrap_err().code, 34021);
    }
}
