//! `init(options)` / `new Engine(options)`: checked once, with the defaults of
//! ARCHITECTURE.md §4.

use std::path::PathBuf;

use serde_json::Value;

use crate::args;
use crate::error::{ImError, ImResult};

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub appkey: String,
    pub dbpath: PathBuf,
    /// 1 ERROR, 2 WARN, 3 INFO, 4 DEBUG.
    pub log_level: u8,
    pub enable_sync_empty_top_conversation: bool,
    /// `serverUrl`: one URL or a list of equivalent ones (the vendor's `navigators`: nodes of
    /// one deployment). Empty when not set. A connect tries them in turn; after a lost
    /// connection the engine starts at the next one, so a dead node is not retried first.
    pub server_urls: Vec<String>,
    pub platform: String,
    pub device_id: Option<String>,
    /// Pause between reconnect attempts (the seed's 5 s; `reconnectInterval` ms, for tests).
    pub reconnect_interval: std::time::Duration,
    /// Heartbeat period (`heartbeatInterval` ms); by default the server's.
    pub heartbeat_interval: Option<std::time::Duration>,
    /// At most one typing status per conversation per this period (the seed's 6 s;
    /// `typingInterval` ms, for tests).
    pub typing_interval: std::time::Duration,
    /// `encryptionKey`: when set, every user database this engine opens is a SQLCipher
    /// database keyed with it. Its `Debug` is redacted, so printing the options never shows it.
    pub encryption_key: Option<EncryptionKey>,
    /// `recoverCorruptDatabase` (default false): a database found damaged when it opens is
    /// moved aside and replaced by a fresh one at once, as `recoverDatabase()` would, so the
    /// app never sees 33201 at open; off by default because local-only data (inserted
    /// messages, drafts) then leaves the app's view without it being asked.
    pub recover_corrupt_database: bool,
    /// `mediaOrigins`: the origins (`http://host:port`) media files are downloaded from. A
    /// message's file URL comes from whoever sent it; without this list the main process
    /// would fetch any address a message names (an internal service included). Default: the
    /// origins of the `serverUrl` entries (add the server's `--public-url` when it differs).
    pub media_origins: Vec<String>,
}

/// The longest `encryptionKey` accepted, in bytes: far beyond any passphrase, short enough
/// that a hostile value cannot make every connection open hash megabytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A SQLCipher key: either a passphrase (SQLCipher 4 derives the page key from it with
/// PBKDF2-HMAC-SHA512, 256,000 iterations, and the file's random salt) or a raw 256-bit key
/// written `x'<64 hex digits>'` (optionally followed by 32 hex digits of salt), which skips
/// the derivation — SQLCipher's own convention for `PRAGMA key`.
///
/// The text is reachable only through [`EncryptionKey::expose`] and never through `Debug` or
/// `Display`, so no `tracing` field, error message or `{:?}` of the options can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(String);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

impl EncryptionKey {
    /// Checks a key argument (`name` is its name in messages). Absent or null is `None`.
    /// Messages never quote the value: a rejected key is still somebody's secret.
    pub fn parse(v: Option<&Value>, name: &str) -> ImResult<Option<Self>> {
        let Some(s) = args::string(v, name)? else {
            return Ok(None);
        };
        if s.is_empty() {
            // SQLCipher treats an empty key as "no key": the database would silently stay plain.
            return Err(ImError::invalid(format!(
                "{name} must be a non-empty string (a passphrase, or a raw key x'<64 hex digits>')"
            )));
        }
        if s.len() > MAX_KEY_BYTES {
            return Err(ImError::invalid(format!(
                "{name} must be at most {MAX_KEY_BYTES} bytes"
            )));
        }
        if s.contains('\0') {
            return Err(ImError::invalid(format!(
                "{name} must not contain NUL characters"
            )));
        }
        let raw_like = s.starts_with("x'") || s.starts_with("X'");
        if raw_like && !is_raw_key(s) {
            // SQLCipher would take a malformed raw key as a passphrase without a word; the
            // app meant a raw key, so say so instead of encrypting with something else.
            return Err(ImError::invalid(format!(
                "{name} starts with x' but is not a raw key: expected x'<64 hex digits>' \
                 (or 96 with the salt)"
            )));
        }
        Ok(Some(Self(s.to_string())))
    }

    /// The key text, for `PRAGMA key` / `ATTACH … KEY` only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether this is a raw key (`x'…'`), which SQLCipher uses without derivation.
    pub(crate) fn is_raw(&self) -> bool {
        is_raw_key(&self.0)
    }

    /// The raw form SQLCipher takes for a derived key and the file's salt:
    /// `x'<64 hex digits of key><32 hex digits of salt>'`.
    pub(crate) fn raw_with_salt(key: &[u8; 32], salt: &[u8; 16]) -> Self {
        let mut s = String::with_capacity(2 + 96 + 1);
        s.push_str("x'");
        for b in key.iter().chain(salt.iter()) {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\'');
        Self(s)
    }
}

/// The most `serverUrl` entries accepted: a deployment's nodes behind one app, not a list
/// that would make one connect attempt take minutes.
pub const MAX_SERVER_URLS: usize = 16;

/// `serverUrl`: a URL or a non-empty list of them, each http(s), without a trailing `/`.
fn server_urls(v: Option<&Value>) -> ImResult<Vec<String>> {
    const NAME: &str = "options.serverUrl";
    let (list, listed) = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(u)) => (vec![u.clone()], false),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ImError::invalid(format!(
                "{NAME} must be a URL or a non-empty array of URLs, got an empty array"
            )))
        }
        Some(Value::Array(_)) => (
            args::string_array(v, NAME, MAX_SERVER_URLS)?.unwrap_or_default(),
            true,
        ),
        Some(other) => {
            return Err(ImError::invalid(format!(
                "{NAME} must be a URL string or an array of them, got {}",
                args::kind(other)
            )))
        }
    };
    let mut urls = Vec::with_capacity(list.len());
    for (i, u) in list.into_iter().enumerate() {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            let at = if listed {
                format!("{NAME}[{i}]")
            } else {
                NAME.to_string()
            };
            return Err(ImError::invalid(format!(
                "{at} must be an http:// or https:// URL, got '{u}'"
            )));
        }
        urls.push(u.trim_end_matches('/').to_string());
    }
    Ok(urls)
}

/// `x'…'` with 64 (key) or 96 (key + salt) hex digits: what SQLCipher takes as a raw key.
fn is_raw_key(s: &str) -> bool {
    let Some(hex) = s.get(2..).and_then(|rest| rest.strip_suffix('\'')) else {
        return false;
    };
    (hex.len() == 64 || hex.len() == 96) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

impl EngineOptions {
    pub fn parse(v: &Value) -> ImResult<Self> {
        let m = args::object(Some(v), "options")?;
        let appkey = args::id(m.get("appkey"), "options.appkey")?;
        let dbpath = match args::string(m.get("dbpath"), "options.dbpath")? {
            Some("") => return Err(ImError::invalid("options.dbpath must be a non-empty path")),
            Some(p) => PathBuf::from(p),
            None => std::env::current_dir().map_err(|e| {
                ImError::invalid(format!(
                    "options.dbpath is not set and the working directory is unusable: {e}"
                ))
            })?,
        };
        let server_urls = server_urls(m.get("serverUrl"))?;
        let media_origins = match args::string_array(m.get("mediaOrigins"), "options.mediaOrigins", 16)? {
            Some(list) => list
                .iter()
                .map(|o| {
                    origin_of(o).ok_or_else(|| {
                        ImError::invalid(format!(
                            "options.mediaOrigins entries must be http(s) origins like http://host:8080, got '{o}'"
                        ))
                    })
                })
                .collect::<ImResult<Vec<_>>>()?,
            None => {
                let mut origins: Vec<String> = Vec::new();
                for o in server_urls.iter().filter_map(|u| origin_of(u)) {
                    if !origins.contains(&o) {
                        origins.push(o);
                    }
                }
                origins
            }
        };
        let platform = args::string(m.get("platform"), "options.platform")?
            .unwrap_or("Electron")
            .to_string();
        Ok(Self {
            appkey,
            dbpath,
            log_level: args::ranged(
                m.get("logOutputLevel"),
                "options.logOutputLevel",
                1,
                4,
                Some(2),
            )? as u8,
            enable_sync_empty_top_conversation: args::boolean(
                m.get("enableSyncEmptyTopConversation"),
                "options.enableSyncEmptyTopConversation",
                Some(false),
            )?,
            server_urls,
            platform,
            device_id: args::string(m.get("deviceId"), "options.deviceId")?.map(str::to_string),
            reconnect_interval: std::time::Duration::from_millis(args::ranged(
                m.get("reconnectInterval"),
                "options.reconnectInterval",
                1,
                600_000,
                Some(5_000),
            )? as u64),
            heartbeat_interval: args::integer(
                m.get("heartbeatInterval"),
                "options.heartbeatInterval",
            )?
            .map(|ms| ms.clamp(50, 600_000))
            .map(|ms| std::time::Duration::from_millis(ms as u64)),
            typing_interval: std::time::Duration::from_millis(args::ranged(
                m.get("typingInterval"),
                "options.typingInterval",
                0,
                600_000,
                Some(6_000),
            )? as u64),
            encryption_key: EncryptionKey::parse(m.get("encryptionKey"), "options.encryptionKey")?,
            recover_corrupt_database: args::boolean(
                m.get("recoverCorruptDatabase"),
                "options.recoverCorruptDatabase",
                Some(false),
            )?,
            media_origins,
        })
    }
}

/// The origin (`scheme://host[:port]`, lowercase, default ports dropped) of an http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// File-name-safe form of an app key or user id: kept as is when it only has
/// `[A-Za-z0-9_-]`, else hex-encoded behind an `x`, so two ids never share a file.
pub fn file_safe(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_string()
    } else {
        let mut out = String::from("x");
        for b in s.bytes() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl EngineOptions {
    /// One database file per (appkey, user) under `dbpath`.
    pub fn database_file(&self, user_id: &str) -> PathBuf {
        self.dbpath
            .join("imsync")
            .join(file_safe(&self.appkey))
            .join(format!("{}.db", file_safe(user_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(key: Value) -> ImResult<EngineOptions> {
        EngineOptions::parse(&json!({ "appkey": "a", "dbpath": "/tmp/x", "encryptionKey": key }))
    }

    #[test]
    fn debug_of_the_options_never_shows_the_key() {
        let o = parse(json!("s3cret-passphrase")).unwrap();
        let shown = format!("{o:?} {o:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("EncryptionKey(<redacted>)"), "{shown}");
        assert_eq!(o.encryption_key.unwrap().expose(), "s3cret-passphrase");
    }

    #[test]
    fn keys_are_checked_without_quoting_them() {
        assert!(parse(Value::Null).unwrap().encryption_key.is_none());
        let raw = format!("x'{}'", "aB".repeat(32));
        assert!(parse(json!(raw)).is_ok());
        assert!(parse(json!(format!("X'{}'", "0".repeat(96)))).is_ok());
        for bad in [
            json!(""),
            json!(12),
            json!("x'not hex'"),
            json!(format!("x'{}'", "0".repeat(63))),
            json!("nul\u{0}inside"),
            json!("k".repeat(MAX_KEY_BYTES + 1)),
        ] {
            let e = parse(bad.clone()).expect_err("refused");
            assert_eq!(e.code, crate::codes::INVALID_PARAMETER);
            assert!(e.msg.starts_with("options.encryptionKey"), "{}", e.msg);
            assert!(
                !e.msg.contains("not hex") && !e.msg.contains("kkkk"),
                "{}",
                e.msg
            );
        }
    }
}
