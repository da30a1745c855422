//! Harness for the sync tests: the real `imsync-server` binary on loopback, a signed admin
//! client, engines whose events can be awaited with deadlines, and a TCP proxy that cuts
//! connections for real. Nothing sleeps to order events.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use imsync_core::Engine;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const APP_KEY: &str = "sync-test-key";
pub const APP_SECRET: &str = "sync-test-secret";
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Installs a rustls crypto provider for this test process. Workspace builds give core's
/// reqwest the server's TLS features (rustls, no provider), and reqwest panics when it builds a
/// client without one; the addon's own build has no TLS, so only tests need this.
pub fn tls_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Err only when a provider is installed already, which is what this wants.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The server binary, built on demand when the test runs alone (`cargo test -p imsync-core`).
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    let bin = dir.join(format!("imsync-server{}", std::env::consts::EXE_SUFFIX));
    // `cargo test --workspace` has built it already; building it again with this
    // package's feature set would recompile shared dependencies for minutes.
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        if bin.exists() {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "imsync-server",
                "--bin",
                "imsync-server",
            ])
            .status()
            .expect("cargo build imsync-server");
        assert!(status.success(), "building imsync-server failed");
    });
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    nonce: AtomicU64,
}

impl Server {
    pub fn start() -> Server {
        tls_provider();
        Self::spawn(
            Arc::new(tempfile::tempdir().unwrap()),
            "127.0.0.1:0".parse().unwrap(),
        )
    }

    /// A second server process on the data of an earlier one (which must be stopped first),
    /// listening on `listen`: another node of the same deployment.
    pub fn start_on(dir: Arc<tempfile::TempDir>, listen: SocketAddr) -> Server {
        tls_provider();
        Self::spawn(dir, listen)
    }

    fn spawn(dir: Arc<tempfile::TempDir>, listen: SocketAddr) -> Server {
        let mut child = Command::new(server_binary())
            .args(["--listen", &listen.to_string(), "--data-dir"])
            .arg(dir.path())
            .args([
                "--app-key",
                APP_KEY,
                "--app-secret",
                APP_SECRET,
                "--rate-limit",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start imsync-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        Server {
            child: Some(child),
            addr: addr.parse().unwrap(),
            dir,
            nonce: AtomicU64::new(1),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same address and data.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + DEADLINE;
        loop {
            // The port may linger for a moment after the kill.
            if std::net::TcpListener::bind(self.addr).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "port {} never freed", self.addr);
            std::thread::yield_now();
        }
        let again = Self::spawn(self.dir.clone(), self.addr);
        let mut again = again;
        self.child = again.child.take();
    }

    /// A signed admin call; returns the JSON body.
    pub fn admin(&self, path: &str, body: Value) -> Value {
        let nonce = format!(
            "n{}-{}",
            std::process::id(),
            self.nonce.fetch_add(1, Ordering::Relaxed)
        );
        let ts = imsync_core::message::now_ms().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
        mac.update(nonce.as_bytes());
        mac.update(ts.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        let body = body.to_string();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nApp-Key: {APP_KEY}\r\nNonce: {nonce}\r\n\
             Timestamp: {ts}\r\nSignature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
        // Chunked or not, the JSON object is the part between the outer braces.
        let start = body
            .find('{')
            .unwrap_or_else(|| panic!("no JSON in {resp}"));
        let end = body.rfind('}').unwrap();
        serde_json::from_str(&body[start..=end]).unwrap()
    }

    pub fn token(&self, user: &str) -> String {
        self.token_expiring(user, 0)
    }

    pub fn token_expiring(&self, user: &str, expires_at: i64) -> String {
        let r = self.admin(
            "/user/getToken",
            json!({ "userId": user, "expiresAt": expires_at }),
        );
        r["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {r}"))
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub type Events = mpsc::UnboundedReceiver<(String, Value)>;

/// An engine with its own database directory and an awaitable event stream.
pub struct Client {
    pub engine: Arc<Engine>,
    pub events: Events,
    pub dir: Arc<tempfile::TempDir>,
    pub log: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Client {
    pub fn new(server_url: &str, platform: &str) -> Client {
        Self::with_dir(server_url, platform, Arc::new(tempfile::tempdir().unwrap()))
    }

    pub fn with_dir(server_url: &str, platform: &str, dir: Arc<tempfile::TempDir>) -> Client {
        Self::with_options(server_url, platform, dir, json!({}))
    }

    /// A client whose engine options add (or override) `extra`, e.g.
    /// `{"enableSyncEmptyTopConversation": true}` or `{"typingInterval": 300}`.
    pub fn with_options(
        server_url: &str,
        platform: &str,
        dir: Arc<tempfile::TempDir>,
        extra: Value,
    ) -> Client {
        let mut options = json!({
            "appkey": APP_KEY, "dbpath": dir.path().to_str().unwrap(), "serverUrl": server_url,
            "platform": platform, "logOutputLevel": 1, "reconnectInterval": 50, "heartbeatInterval": 1000,
        });
        if let (Some(o), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        let engine = Arc::new(Engine::new(&options).unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        engine.on_event(Arc::new(
            move |name: &str, payload: imsync_core::sync::Payload| {
                let payload = payload.into_value();
                l.lock().unwrap().push((name.to_string(), payload.clone()));
                let _ = tx.send((name.to_string(), payload));
            },
        ));
        Client {
            engine,
            events: rx,
            dir,
            log,
        }
    }

    pub async fn connect(&self, token: &str) -> Value {
        self.engine
            .connect(json!(token), json!(false))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// Waits for an event named `name` whose payload satisfies `pred`.
    pub async fn wait_for(&mut self, name: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((n, p))) if n == name && pred(&p) => return p,
                Ok(Some(_)) => {}
                Ok(None) => panic!("event stream closed while waiting for {name}"),
                Err(_) => panic!(
                    "no {name} event within {DEADLINE:?}; saw {:?}",
                    self.names()
                ),
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Polls `check` (a local query) until it holds.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut(Arc<Engine>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + DEADLINE;
        while !check(self.engine.clone()).await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn private(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

pub fn group(target: &str) -> Value {
    json!({ "conversationType": 3, "targetId": target })
}

pub fn text(s: &str) -> Value {
    json!({ "messageType": "RC:TxtMsg", "content": { "content": s } })
}

/// Every message of a conversation, oldest first, read by paging on (sentTime, id).
pub async fn all_messages(e: &Engine, conv: Value) -> Vec<Value> {
    let count = e
        .get_message_count(conv.clone())
        .await
        .unwrap()
        .as_u64()
        .unwrap() as usize;
    let mut out: Vec<Value> = Vec::new();
    let mut ts = 0;
    while out.len() < count {
        let page = e
            .get_history_messages(
                conv.clone(),
                json!({ "timestamp": ts, "count": 100, "order": 1 }),
            )
            .await
            .unwrap();
        let list = page["list"].as_array().unwrap().clone();
        if list.is_empty() {
            break;
        }
        ts = list.last().unwrap()["sentTime"].as_i64().unwrap();
        for m in list {
            if !out.iter().any(|o| o["messageId"] == m["messageId"]) {
                out.push(m);
            }
        }
        // Messages sharing the boundary time were all in this page or come with the next
        // strictly-later page only if the page was cut inside them; re-read around it.
        let same = e
            .get_messages_around_timestamp(
                conv.clone(),
                json!({ "timestamp": ts, "beforeCount": 0, "afterCount": 0 }),
            )
            .await
            .unwrap();
        for m in same.as_array().unwrap() {
            if !out.iter().any(|o| o["messageId"] == m["messageId"]) {
                out.push(m.clone());
            }
        }
    }
    out.sort_by_key(|m| {
        (
            m["sentTime"].as_i64().unwrap(),
            m["messageId"].as_i64().unwrap(),
        )
    });
    out
}

/// A TCP proxy in front of the server whose connections can be cut at will.
pub struct Proxy {
    pub addr: SocketAddr,
    cut: Arc<tokio::sync::Notify>,
    generation: Arc<AtomicU64>,
    refuse: Arc<AtomicBool>,
    paused: tokio::sync::watch::Sender<bool>,
}

/// Copies one direction, holding bytes back while paused (a stalled link, not a cut one).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut paused: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(tokio::sync::Notify::new());
        let generation = Arc::new(AtomicU64::new(0));
        let refuse = Arc::new(AtomicBool::new(false));
        let (paused, paused_rx) = tokio::sync::watch::channel(false);
        let (c, g, r) = (cut.clone(), generation.clone(), refuse.clone());
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if r.load(Ordering::Relaxed) {
                    drop(inbound);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                // Small frames must not wait on Nagle's algorithm in either hop.
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let my_gen = g.load(Ordering::Relaxed);
                let (c, g, p) = (c.clone(), g.clone(), paused_rx.clone());
                tokio::spawn(async move {
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    let pipe = async {
                        tokio::select! {
                            _ = pump(ri, wo, p.clone()) => {},
                            _ = pump(ro, wi, p) => {},
                        }
                    };
                    let cut = async {
                        while g.load(Ordering::Relaxed) == my_gen {
                            c.notified().await;
                        }
                    };
                    tokio::select! { _ = pipe => {}, _ = cut => {} }
                });
            }
        });
        Proxy {
            addr,
            cut,
            generation,
            refuse,
            paused,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every connection open now (both directions, mid-frame if need be).
    pub fn cut(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.cut.notify_waiters();
    }

    /// Stalls (or resumes) every connection: bytes are held, nothing is closed.
    pub fn pause(&self, paused: bool) {
        let _ = self.paused.send(paused);
    }

    pub fn refuse_new(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::Relaxed);
    }
}
