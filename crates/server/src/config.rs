//! Command-line configuration (ARCHITECTURE.md §4, plus rate limit, offline
//! retention and the connection limits that keep idle or slow clients from
//! starving the server).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// App key used when `--app-key` is not given (development only).
pub const DEV_APP_KEY: &str = "imsync-dev-key";
/// App secret used when `--app-secret` is not given (development only).
pub const DEV_APP_SECRET: &str = "imsync-dev-secret";

/// imsync reference server: the sync protocol over WebSocket at /ws, the
/// signed admin HTTP API and media uploads and downloads under /media, with
/// SQLite storage and uploaded files under --data-dir.
#[derive(Debug, Clone, Parser)]
#[command(name = "imsync-server", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding the SQLite database (created if missing), and media files
    /// unless --object-store is set.
    #[arg(long)]
    pub data_dir: PathBuf,

    /// Keep all state in this PostgreSQL database instead of SQLite under --data-dir:
    /// postgres://USER:PASS@HOST:PORT/DB. The server creates or migrates its schema at
    /// start; several nodes may share one database.
    #[arg(long, value_name = "URL", value_parser = parse_database_url)]
    pub database_url: Option<String>,

    /// Pass pushes and kicks to the other nodes of the deployment through this NATS
    /// server (nats://HOST:PORT), so a message sent on one node reaches sessions on the
    /// others. Nodes of one deployment share --database-url and --app-key.
    #[arg(long, value_name = "URL")]
    pub nats_url: Option<String>,

    /// This node's name among the others (logs, NATS); default: a random id per start.
    #[arg(long, value_name = "ID", requires = "nats_url")]
    pub node_id: Option<String>,

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

    /// Groups reaching this many members keep their messages once, as one timeline that
    /// each member's inbox copies when they read or while they are online (read fan-out),
    /// instead of one inbox row per member per message. 0 never switches.
    #[arg(long, default_value_t = 1000)]
    pub read_fanout_members: u32,

    /// Most words the admin API's sensitive-word list holds (the vendor's
    /// default is 50; it sells more).
    #[arg(long, default_value_t = crate::moderation::MAX_WORDS)]
    pub max_sensitive_words: usize,

    /// Who sees the profiles of users whose own visibility is NOT_SET (the
    /// vendor's AppKey-level setting): `invisible` (its default: others see
    /// the name and portrait only) or `everyone`.
    #[arg(long, default_value = "invisible", value_parser = parse_visibility)]
    pub profile_visibility: i32,

    /// Let a user be in several chatrooms at once (the vendor's console
    /// switch). Without it, as the vendor's default, joining a room takes the
    /// user (every device) out of the room it was in.
    #[arg(long)]
    pub chatroom_multiple_rooms: bool,

    /// How often clients should ping (told in the ConnectAck). A session that sends
    /// nothing for three intervals is closed, and its device turns offline for the
    /// users subscribed to its online status. Durations as for --idle-timeout.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,

    /// Time a new connection may stay silent before its first byte; it is
    /// then closed. Durations: 500ms, 10s, 2m (a bare number is seconds),
    /// from 1ms to 1 day.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Time to receive a complete HTTP request head, counted from the first
    /// byte (and on keep-alive connections from the previous response).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Time to receive a plain HTTP request's body and answer it; the client
    /// then gets 408 and the connection is closed. A plain HTTP connection
    /// that has not authenticated (no admin call with a valid signature, media
    /// call with a valid token or file served yet) is closed once idle + header-read + request timeouts have passed since
    /// accept: gracefully, then reset 2s later if its answer is still unread.
    /// An upload (PATCH /media/upload/..) with a valid token counts it from
    /// the last body bytes received instead.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Time from TCP accept until a WebSocket client's ConnectRequest has
    /// been authenticated; the connection is then closed.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// Most unauthenticated connections from one address (IPv6: one /64);
    /// more are closed at accept. A connection is unauthenticated until its
    /// WebSocket ConnectRequest is accepted, or its first admin call with a
    /// valid signature (so an app backend's keep-alive pool is not capped);
    /// health checks and unsigned calls count until the connection closes.
    /// 0 = no per-address cap (e.g. behind a reverse proxy).
    #[arg(long, default_value_t = 64)]
    pub max_unauthenticated_per_ip: usize,

    /// Most unauthenticated connections in total; more are closed at accept.
    /// Lowered to half the open-file limit (after a small reserve) when that
    /// is smaller.
    #[arg(long, default_value_t = 1024, value_parser = parse_positive)]
    pub max_unauthenticated_connections: usize,

    /// Largest file an upload may declare (POST /media/upload): bytes, or
    /// with a binary unit: 512KB, 100MB, 2GB (KB = 1024 bytes).
    #[arg(long, default_value = "100MB", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Lifetime of the file URLs an upload returns; such a URL carries
    /// `expires` and `signature` and is refused (403) afterwards. Durations
    /// as for --idle-timeout (at most 1 day). Unset: URLs do not expire.
    #[arg(long, value_parser = parse_duration)]
    pub file_url_ttl: Option<Duration>,

    /// Base of the file URLs an upload returns, as clients reach the server
    /// (e.g. https://im.example.com behind a TLS proxy). Unset: http:// and
    /// the upload request's Host header.
    #[arg(long, value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Where uploaded files live: `s3://BUCKET[/PREFIX]`, an S3-compatible
    /// object store that several server nodes can share (uploads in progress
    /// included). Unset: the local disk under --data-dir. The bucket must
    /// exist; the server checks it answers at startup.
    #[arg(long, value_name = "URL", value_parser = parse_object_store)]
    pub object_store: Option<ObjectStoreUrl>,

    /// Endpoint of the S3-compatible service, e.g. http://127.0.0.1:9000
    /// (MinIO, moto, Ceph...); unset: AWS. http:// is allowed.
    #[arg(long, value_name = "URL", requires = "object_store", value_parser = parse_endpoint)]
    pub s3_endpoint: Option<String>,

    /// Region of the bucket [default: us-east-1].
    #[arg(long, requires = "object_store")]
    pub s3_region: Option<String>,

    /// Access key id for --object-store (else $AWS_ACCESS_KEY_ID).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// Secret access key for --object-store (else $AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
}

/// A parsed `--object-store s3://bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreUrl {
    /// The bucket.
    pub bucket: String,
    /// Key prefix: empty, or ending in `/`.
    pub prefix: String,
}

/// `postgres://` or `postgresql://` URLs only: anything else is refused at start, before
/// a connection is tried.
pub fn parse_database_url(text: &str) -> Result<String, String> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{:?} is not a database URL: use postgres://USER:PASS@HOST:PORT/DB",
            redact_password(text)
        ))
    }
}

/// `text` with the password of a `scheme://user:password@host` URL replaced, for messages.
pub fn redact_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => text.to_owned(),
        },
        None => text.to_owned(),
    }
}

/// `s3://bucket[/prefix]`: a bucket name as S3 allows (3-63 of a-z, 0-9,
/// `.`, `-`) and an optional prefix of plain path segments.
pub fn parse_object_store(text: &str) -> Result<ObjectStoreUrl, String> {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("s3://") else {
        return Err(format!(
            "{text:?} is not an object store URL: only s3://BUCKET[/PREFIX] is supported"
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'));
    if !bucket_ok {
        return Err(format!(
            "{bucket:?} is not an S3 bucket name (3 to 63 characters: a-z, 0-9, '.', '-')"
        ));
    }
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    let segment_ok = |s: &&str| {
        *s != "."
            && *s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    if !segments.iter().all(segment_ok) {
        return Err(format!(
            "{prefix:?} is not a key prefix: path segments of A-Z, a-z, 0-9, '.', '-', '_'"
        ));
    }
    let prefix = segments.iter().map(|s| format!("{s}/")).collect();
    Ok(ObjectStoreUrl {
        bucket: bucket.to_owned(),
        prefix,
    })
}

/// `http://` or `https://` and a `host[:port]`; a trailing `/` is dropped.
fn parse_endpoint(text: &str) -> Result<String, String> {
    parse_public_url(text)
        .map_err(|_| format!("{text:?} is not an endpoint like http://127.0.0.1:9000"))
}

/// `invisible` or `everyone`, as a UserProfileVisibility value.
fn parse_visibility(text: &str) -> Result<i32, String> {
    use imsync_protocol::profile_rules::visibility;
    match text.trim().to_ascii_lowercase().as_str() {
        "invisible" => Ok(visibility::INVISIBLE),
        "everyone" => Ok(visibility::EVERYONE),
        _ => Err(format!(
            "{text:?} is not a profile visibility: invisible or everyone"
        )),
    }
}

/// A count of at least 1.
fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a whole number of at least 1")),
    }
}

/// Parses a byte count: a bare number or one with a binary unit (B, KB/KiB/K,
/// MB/MiB/M, GB/GiB/G, any case); at least 1 byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size like 524288, 512KB or 100MB"
            ))
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 524288, 512KB or 100MB"))?;
    // Lengths are stored as SQLite integers (i64).
    match n.checked_mul(1u64 << shift) {
        Some(0) => Err("a file size limit must be at least 1 byte".into()),
        Some(bytes) if i64::try_from(bytes).is_ok() => Ok(bytes),
        _ => Err(format!("{text:?} is too large")),
    }
}

/// `http://` or `https://`, then `host[:port]`; a trailing `/` is dropped.
/// File URLs are this plus `/media/file/...`, so a path, query or fragment
/// here would make them wrong.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let bad = || {
        format!("{text:?} is not a public URL like https://im.example.com or http://10.0.0.5:8080")
    };
    let authority = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
        .ok_or_else(bad)?;
    if !is_authority(authority) {
        return Err(bad());
    }
    Ok(t.to_owned())
}

/// Whether `text` is a plausible `host[:port]` (a name, IPv4 address or
/// bracketed IPv6 address): nothing that could end the authority of a URL
/// or break out of a header.
pub fn is_authority(text: &str) -> bool {
    let (host_ok, port) = match text.strip_prefix('[') {
        Some(bracketed) => {
            let Some((v6, after)) = bracketed.split_once(']') else {
                return false;
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return false,
                },
            };
            let ok = !v6.is_empty()
                && v6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            (ok, port)
        }
        None => {
            let (host, port) = match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
            (ok, port)
        }
    };
    let port_ok = match port {
        None => true,
        Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
    };
    host_ok && port_ok
}

/// The longest timeout accepted. Longer ones defeat the purpose of a
/// timeout, and deadlines are computed by adding timeouts to the current
/// time, which must not overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `500ms`, `10s`, `2m` or a bare number of seconds; zero is refused
/// (a zero timeout would close every connection, no timeout is what the
/// limits exist to prevent), and so is anything over [`MAX_TIMEOUT`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let too_long = || format!("{text:?} is too long: a timeout is at most 1 day (86400s, 1440m)");
    let n: u64 = match num.parse() {
        Ok(n) => n,
        // All digits but more than u64 holds.
        Err(_) if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(too_long())
        }
        Err(_) => return Err(format!("{text:?} is not a duration like 500ms, 10s or 2m")),
    };
    let d = match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    match d {
        Some(d) if d.is_zero() => Err("a timeout must be greater than zero".into()),
        Some(d) if d <= MAX_TIMEOUT => Ok(d),
        _ => Err(too_long()),
    }
}

/// Connection limits, resolved (see the flags of the same names).
#[derive(Debug, Clone)]
pub struct ConnSettings {
    /// Silence allowed before a connection's first byte.
    pub idle_timeout: Duration,
    /// Time to a complete request head.
    pub header_read_timeout: Duration,
    /// Time for a plain HTTP request's body and answer.
    pub request_timeout: Duration,
    /// Accept to authenticated ConnectRequest.
    pub handshake_timeout: Duration,
    /// Unauthenticated connections per address (0 = no cap).
    pub max_unauthenticated_per_ip: usize,
    /// Unauthenticated connections in total (before fitting the fd limit).
    pub max_unauthenticated_connections: usize,
}

impl ConnSettings {
    /// How long a plain HTTP connection may stay unauthenticated: the time
    /// its first request may take at most (first byte, head, body and
    /// answer). Past it the connection is shut down gracefully, and reset if
    /// that does not finish promptly (an answer the client does not read).
    pub fn unauthenticated_lifetime(&self) -> Duration {
        self.idle_timeout
            .saturating_add(self.header_read_timeout)
            .saturating_add(self.request_timeout)
    }
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
    /// Group size from which a group is one timeline (0 = never).
    pub read_fanout_members: u32,
    /// Size limit of the sensitive-word list.
    pub max_sensitive_words: usize,
    /// Profile visibility standing in for a user's NOT_SET.
    pub profile_visibility: i32,
    /// Whether a user may be in several chatrooms at once.
    pub chatroom_multiple_rooms: bool,
    /// How often clients should ping; three of them without a frame end a session.
    pub heartbeat_interval: Duration,
    /// Connection limits and timeouts.
    pub conn: ConnSettings,
    /// Media uploads and file URLs.
    pub media: MediaSettings,
}

/// Media settings, resolved (see the flags of the same names).
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Largest declared upload length, bytes.
    pub max_file_size: u64,
    /// Lifetime of file URLs; None = they do not expire.
    pub file_url_ttl: Option<Duration>,
    /// Base of file URLs (`http(s)://host[:port]`); None = from the Host header.
    pub public_url: Option<String>,
}

impl Config {
    /// `--node-id`, or a random id for this run.
    pub fn node_id(&self) -> String {
        self.node_id
            .clone()
            .unwrap_or_else(|| format!("node-{:016x}", rand::random::<u64>()))
    }

    /// Parses the command line as [`Parser::try_parse_from`] does, and also
    /// refuses S3 credentials given as flags without --object-store (from
    /// the environment they are fine: AWS variables are often set for other
    /// tools).
    pub fn try_parse_checked<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Config::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let config = Config::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        if config.object_store.is_none() {
            for (id, flag) in [
                ("s3_access_key_id", "--s3-access-key-id"),
                ("s3_secret_access_key", "--s3-secret-access-key"),
            ] {
                if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                    return Err(cmd.error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        format!(
                            "{flag} is for an object store: it needs --object-store s3://BUCKET"
                        ),
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The S3 settings, when --object-store is given: the region defaulted,
    /// the key pair complete or absent.
    pub fn s3_options(&self) -> Result<Option<crate::media::s3::S3Options>, String> {
        let Some(url) = &self.object_store else {
            return Ok(None);
        };
        let credentials = match (&self.s3_access_key_id, &self.s3_secret_access_key) {
            (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(
                    "--s3-access-key-id is given but no secret: pass --s3-secret-access-key (or set AWS_SECRET_ACCESS_KEY)"
                        .into(),
                )
            }
            (None, Some(_)) => {
                return Err(
                    "--s3-secret-access-key is given but no key id: pass --s3-access-key-id (or set AWS_ACCESS_KEY_ID)"
                        .into(),
                )
            }
        };
        Ok(Some(crate::media::s3::S3Options {
            bucket: url.bucket.clone(),
            prefix: url.prefix.clone(),
            endpoint: self.s3_endpoint.clone(),
            region: self
                .s3_region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
            credentials,
        }))
    }

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
                read_fanout_members: self.read_fanout_members,
                max_sensitive_words: self.max_sensitive_words,
                profile_visibility: self.profile_visibility,
                chatroom_multiple_rooms: self.chatroom_multiple_rooms,
                heartbeat_interval: self.heartbeat_interval,
                conn: ConnSettings {
                    idle_timeout: self.idle_timeout,
                    header_read_timeout: self.header_read_timeout,
                    request_timeout: self.request_timeout,
                    handshake_timeout: self.handshake_timeout,
                    max_unauthenticated_per_ip: self.max_unauthenticated_per_ip,
                    max_unauthenticated_connections: self.max_unauthenticated_connections,
                },
                media: MediaSettings {
                    max_file_size: self.max_file_size,
                    file_url_ttl: self.file_url_ttl,
                    public_url: self.public_url.clone(),
                },
            },
            dev,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_postgres_only_and_never_print_a_password() {
        let url = "postgres://imsync:s3cret@10.0.0.5:5432/imsync";
        assert_eq!(parse_database_url(url), Ok(url.to_string()));
        assert!(parse_database_url("postgresql://h/db").is_ok());
        let refused = parse_database_url("mysql://root:s3cret@h/db").unwrap_err();
        assert!(
            refused.contains("postgres://USER:PASS@HOST:PORT/DB"),
            "{refused}"
        );
        assert!(!refused.contains("s3cret"), "{refused}");
        assert!(parse_database_url("/var/lib/imsync.db").is_err());
        assert_eq!(
            redact_password(url),
            "postgres://imsync:***@10.0.0.5:5432/imsync"
        );
        assert_eq!(
            redact_password("nats://10.0.0.5:4222"),
            "nats://10.0.0.5:4222"
        );
        let backend = crate::store::Backend::Postgres(url.into());
        assert!(!format!("{backend:?}").contains("s3cret"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn durations_are_at_most_a_day() {
        assert_eq!(parse_duration("86400s"), Ok(MAX_TIMEOUT));
        assert_eq!(parse_duration("1440m"), Ok(MAX_TIMEOUT));
        assert_eq!(parse_duration("86400000ms"), Ok(MAX_TIMEOUT));
        for long in [
            "86401s",
            "1441m",
            "86400001ms",
            "18446744073709551615",
            "18446744073709551615m",
            "99999999999999999999999s",
        ] {
            let err = parse_duration(long).unwrap_err();
            assert!(err.contains("at most 1 day"), "{long}: {err}");
        }
        // The flags refuse them with that message instead of starting a
        // server whose deadlines overflow.
        let err = Config::try_parse_from([
            "imsync-server",
            "--data-dir",
            "d",
            "--handshake-timeout",
            "18446744073709551615",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("at most 1 day"), "{err}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100MB"), Ok(104_857_600));
        assert_eq!(parse_size("512KB"), Ok(524_288));
        assert_eq!(parse_size("512kib"), Ok(524_288));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("10 MB"), Ok(10 << 20));
        for bad in [
            "0",
            "0MB",
            "MB",
            "-1",
            "1.5MB",
            "10TB",
            "",
            "18446744073709551615GB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let c = Config::parse_from(["imsync-server", "--data-dir", "d"]);
        assert_eq!(c.settings().0.media.max_file_size, 104_857_600);
        assert_eq!(c.settings().0.media.file_url_ttl, None);
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            parse_public_url("https://im.example.com/").as_deref(),
            Ok("https://im.example.com")
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080").as_deref(),
            Ok("http://10.0.0.5:8080")
        );
        assert!(parse_public_url("http://[::1]:80").is_ok());
        for bad in [
            "im.example.com",
            "ftp://x",
            "http://",
            "http://x/path",
            "http://x?q",
            "http://x:port",
            "http://a b",
            "http://[::1",
            "http://u@x",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_store_urls() {
        let url = |t| parse_object_store(t);
        assert_eq!(
            url("s3://media"),
            Ok(ObjectStoreUrl {
                bucket: "media".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            url("s3://my.bucket-1/a/b_c/"),
            Ok(ObjectStoreUrl {
                bucket: "my.bucket-1".into(),
                prefix: "a/b_c/".into()
            })
        );
        assert_eq!(url("s3://media//x").unwrap().prefix, "x/");
        for bad in [
            "media",
            "gs://media",
            "S3://media",
            "s3://",
            "s3://ab",
            "s3://Media",
            "s3://me_dia",
            "s3://media/../x",
            "s3://media/a b",
            "s3://media/a?x",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
        let err = Config::try_parse_checked([
            "imsync-server",
            "--data-dir",
            "d",
            "--object-store",
            "file:///x",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--object-store") && err.contains("s3://"),
            "{err}"
        );
    }

    #[test]
    fn s3_flags_need_an_object_store() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["imsync-server", "--data-dir", "d"];
            args.extend_from_slice(extra);
            Config::try_parse_checked(args)
        };
        for flags in [
            &["--s3-endpoint", "http://127.0.0.1:9000"][..],
            &["--s3-region", "eu-west-1"],
            &["--s3-access-key-id", "k"],
            &["--s3-secret-access-key", "s"],
        ] {
            let err = parse(flags).unwrap_err().to_string();
            assert!(err.contains("--object-store"), "{flags:?}: {err}");
        }
        let c = parse(&[
            "--object-store",
            "s3://media/p",
            "--s3-endpoint",
            "http://127.0.0.1:9000/",
            "--s3-access-key-id",
            "k",
            "--s3-secret-access-key",
            "s",
        ])
        .unwrap();
        let o = c.s3_options().unwrap().unwrap();
        assert_eq!(o.bucket, "media");
        assert_eq!(o.prefix, "p/");
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(o.region, "us-east-1");
        assert_eq!(o.credentials, Some(("k".into(), "s".into())));
        assert!(
            !format!("{o:?}").contains("\"s\""),
            "the secret is not printed"
        );
        assert!(parse(&[
            "--object-store",
            "s3://media",
            "--s3-endpoint",
            "127.0.0.1:9000"
        ])
        .is_err());
        let half = parse(&["--object-store", "s3://media", "--s3-access-key-id", "k"]).unwrap();
        if std::env::var_os("AWS_SECRET_ACCESS_KEY").is_none() {
            assert!(half
                .s3_options()
                .unwrap_err()
                .contains("--s3-secret-access-key"));
        }
        assert!(parse(&[]).unwrap().s3_options().unwrap().is_none());
    }

    #[test]
    fn defaults_parse() {
        let c = Config::parse_from(["imsync-server", "--data-dir", "d"]);
        let (s, _) = c.settings();
        assert_eq!(s.conn.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.conn.max_unauthenticated_per_ip, 64);
        assert!(Config::try_parse_from([
            "imsync-server",
            "--data-dir",
            "d",
            "--max-unauthenticated-connections",
            "0"
        ])
        .is_err());
    }
}
