//! Command-line configuration (ARCHITECTURE.md §4, plus rate limit and
//! offline retention).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// App key used when `--app-key` is not given (development only).
pub const DEV_APP_KEY: &str = "imsync-dev-key";
/// App secret used when `--app-secret` is not given (development only).
pub const DEV_APP_SECRET: &str = "imsync-dev-secret";

/// imsync reference server: the sync protocol over WebSocket at /ws and the
/// signed admin HTTP API, with SQLite storage under --data-dir.
#[derive(Debug, Clone, Parser)]
#[command(name = "imsync-server", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding the SQLite database (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,

    /// App key admin requests must present (App-Key header). Defaults to a
    /// development key, printed with a warning.
    #[arg(long)]
    pub app_key: Option<String>,

    /// Secret signing admin requests and user tokens. Defaults to a
    /// development secret, printed with a warning.
    #[arg(long)]
    pub app_secret: Option<String>,

    /// Messages per second one client connection may send; 0 turns the limit off.
    #[arg(long, default_value_t = 5)]
    pub rate_limit: u32,

    /// Days inbox entries are kept for offline devices; older ones are deleted
    /// (0 keeps entries only until the next retention sweep).
    #[arg(long, default_value_t = 7)]
    pub offline_days: u32,
}

/// The settings the running server uses, with defaults resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The app key.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// Messages per second per connection (0 = unlimited).
    pub rate_limit: u32,
    /// Retention of inbox entries, days.
    pub offline_days: u32,
}

impl Config {
    /// Resolves defaults; returns the settings and whether the development
    /// credentials are in use (the caller warns about them).
    pub fn settings(&self) -> (Settings, bool) {
        let dev = self.app_key.is_none() || self.app_secret.is_none();
        (
            Settings {
                app_key: self.app_key.clone().unwrap_or_else(|| DEV_APP_KEY.into()),
                app_secret: self
                    .app_secret
                    .clone()
                    .unwrap_or_else(|| DEV_APP_SECRET.into()),
                rate_limit: self.rate_limit,
                offline_days: self.offline_days,
            },
            dev,
        )
    }
}
