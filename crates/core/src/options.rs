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
    pub server_url: Option<String>,
    pub platform: String,
    pub device_id: Option<String>,
    /// Pause between reconnect attempts (the seed's 5 s; `reconnectInterval` ms, for tests).
    pub reconnect_interval: std::time::Duration,
    /// Heartbeat period (`heartbeatInterval` ms); by default the server's.
    pub heartbeat_interval: Option<std::time::Duration>,
    /// At most one typing status per conversation per this period (the seed's 6 s;
    /// `typingInterval` ms, for tests).
    pub typing_interval: std::time::Duration,
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
        let server_url = match args::string(m.get("serverUrl"), "options.serverUrl")? {
            None => None,
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                return Err(ImError::invalid(format!(
                    "options.serverUrl must be an http:// or https:// URL, got '{u}'"
                )))
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
            server_url,
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
        })
    }
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
