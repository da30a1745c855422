//! Test harness: runs the real `imsync-server` binary on loopback and drives
//! it with a small WebSocket client and a signed admin HTTP client.
//!
//! Nothing here sleeps to order events: every wait is "until this frame (or
//! this exit) arrives, or fail at the deadline".

#![allow(dead_code)]

pub mod moto;
pub mod nats;
pub mod postgres;
pub mod services;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use imsync_protocol::prost::Message as _;
use imsync_protocol::{
    decode_frame, encode_frame, frame, push, request, response, Conversation, ConversationType,
    Frame, InboxEntry, MessageAck, Platform, PullInboxRequest, Push, Request, Response,
    SendMessageRequest, PROTOCOL_VERSION,
};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected event may take.
pub const DEADLINE: Duration = Duration::from_secs(15);

pub const APP_KEY: &str = "test-key";
pub const APP_SECRET: &str = "test-secret";

/// Extra flags for a server run.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// `--rate-limit`; None = 0 (off), so tests are not throttled by accident.
    pub rate_limit: Option<u32>,
    /// `--offline-days`.
    pub offline_days: Option<u32>,
    /// More flags, passed as given (e.g. lowered connection limits).
    pub extra_args: Vec<String>,
    /// Open-file limit (soft and hard) the server process runs under.
    pub nofile: Option<u64>,
}

/// A running server process with its own data directory.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: Arc<TempDir>,
    pub opts: Opts,
    stdout: mpsc::Receiver<String>,
}

impl Server {
    /// Starts a server with a fresh data directory.
    pub fn start(opts: Opts) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Server::spawn(dir, opts)
    }

    fn spawn(dir: Arc<TempDir>, opts: Opts) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imsync-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--app-key", APP_KEY, "--app-secret", APP_SECRET])
            .args(["--rate-limit", &opts.rate_limit.unwrap_or(0).to_string()]);
        if let Some(days) = opts.offline_days {
            cmd.args(["--offline-days", &days.to_string()]);
        }
        cmd.args(&opts.extra_args);
        if let Some(limit) = opts.nofile {
            use std::os::unix::process::CommandExt;
            let rlim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            // SAFETY: setrlimit is async-signal-safe; `rlim` is a plain
            // value copied into the closure; nothing else runs in the child
            // between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = cmd
            .env("IMSYNC_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn imsync-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Every stdout line is forwarded: the first must be the listening
            // line, and tests can check that nothing follows it.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| {
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("server printed no listening line ({e}); its log:\n{log}")
            });
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Server {
            child: Some(child),
            addr,
            dir,
            opts,
            stdout: rx,
        }
    }

    /// Stdout lines printed after the listening line (there must be none).
    pub fn extra_stdout(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit (fails at the deadline).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < until, "server did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait_exit();
    }

    /// Starts a new process on the same data directory (after kill/exit),
    /// optionally with other flags.
    pub fn restart(self, opts: Option<Opts>) -> Server {
        assert!(self.child.is_none(), "stop the server before restarting");
        let opts = opts.unwrap_or_else(|| self.opts.clone());
        Server::spawn(self.dir.clone(), opts)
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A signed admin call.
    pub async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        let (nonce, ts) = fresh_nonce();
        let sig = sign(APP_SECRET, &nonce, &ts);
        self.admin_with(
            path,
            &body,
            &[
                ("App-Key", APP_KEY),
                ("Nonce", &nonce),
                ("Timestamp", &ts),
                ("Signature", &sig),
            ],
        )
        .await
    }

    /// An admin call with exactly these headers.
    pub async fn admin_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        http(self.addr, "POST", path, Some(body), headers).await
    }

    pub async fn health(&self) -> (u16, Value) {
        http(self.addr, "GET", "/health", None, &[]).await
    }

    /// Issues a token for `user` (asserting success).
    pub async fn token(&self, user: &str) -> String {
        let (status, body) = self
            .admin("/user/getToken", json!({ "userId": user }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["userId"], user);
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn create_group(&self, group: &str, members: &[&str]) {
        let (status, body) = self
            .admin(
                "/group/create",
                json!({ "groupId": group, "userIds": members }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Connects `user` on `platform` as device `device` (asserting success).
    pub async fn client(&self, user: &str, platform: Platform, device: &str) -> Client {
        let token = self.token(user).await;
        let req = connect_request(&token, device, platform, false);
        match Client::connect(self, req).await {
            Ok(c) => c,
            Err(r) => panic!("connect failed: {} {}", r.code, r.msg),
        }
    }

    /// A desktop client with device id "<user>-desktop".
    pub async fn desktop(&self, user: &str) -> Client {
        self.client(user, Platform::Desktop, &format!("{user}-desktop"))
            .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A never-repeating nonce and the current timestamp (ms).
pub fn fresh_nonce() -> (String, String) {
    let n = NONCE.fetch_add(1, Ordering::SeqCst);
    let nonce = format!("n{}-{}-{}", std::process::id(), now_ms(), n);
    (nonce, now_ms().to_string())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// hex(HMAC-SHA256(secret, nonce + timestamp)), computed independently of
/// the server's code.
pub fn sign(secret: &str, nonce: &str, ts: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(nonce.as_bytes());
    mac.update(ts.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Minimal HTTP/1.1 client (one request per connection).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let fut = async {
        let mut s = TcpStream::connect(addr).await.expect("connect http");
        s.write_all(req.as_bytes()).await.expect("write http");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read http");
        out
    };
    let raw = tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("http timeout");
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad http response {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

pub fn connect_request(
    token: &str,
    device: &str,
    platform: Platform,
    kick_enable: bool,
) -> Request {
    Request {
        op: Some(request::Op::Connect(imsync_protocol::ConnectRequest {
            protocol_version: PROTOCOL_VERSION,
            token: token.to_owned(),
            device_id: device.to_owned(),
            platform: platform as i32,
            sdk_version: "test/1".into(),
            reconnect_kick_enable: kick_enable,
        })),
    }
}

pub fn private(target: &str) -> Conversation {
    Conversation::new(ConversationType::Private, target)
}

pub fn group(target: &str) -> Conversation {
    Conversation::new(ConversationType::Group, target)
}

/// A persisted, counted text message.
pub fn text(conv: Conversation, client_id: &str, text: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_msg_id: client_id.to_owned(),
        conversation: Some(conv),
        object_name: "RC:TxtMsg".into(),
        content: json!({ "content": text }).to_string(),
        is_persisted: true,
        is_counted: true,
        ..SendMessageRequest::default()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// WebSocket close code (None: no close frame, just EOF/reset).
    pub code: Option<u16>,
    pub reason: String,
}

/// A protocol client over a real WebSocket.
pub struct Client {
    ws: Ws,
    next_id: u64,
    pushes: VecDeque<Push>,
    pub ack: imsync_protocol::ConnectAck,
}

/// Opens a raw WebSocket to the server.
pub async fn raw_ws(server: &Server) -> Ws {
    let connect = tokio_tungstenite::connect_async_with_config(server.ws_url(), None, true);
    let (ws, _) = tokio::time::timeout(DEADLINE, connect)
        .await
        .expect("ws connect timeout")
        .expect("ws connect");
    ws
}

/// Sends one frame on a raw socket.
pub async fn send_frame(ws: &mut Ws, frame: &Frame) {
    ws.send(WsMessage::Binary(encode_frame(frame).unwrap().into()))
        .await
        .expect("send");
}

/// Reads the next protocol frame (skipping ws pings); Err(close) when the
/// connection ends.
pub async fn read_frame(ws: &mut Ws) -> Result<Frame, Closed> {
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("no frame before the deadline");
        match msg {
            Some(Ok(WsMessage::Binary(b))) => {
                return Ok(decode_frame(&b).expect("server frame decodes"))
            }
            Some(Ok(WsMessage::Close(cf))) => {
                return Err(Closed {
                    code: cf.as_ref().map(|c| u16::from(c.code)),
                    reason: cf.map(|c| c.reason.to_string()).unwrap_or_default(),
                })
            }
            Some(Ok(WsMessage::Text(t))) => panic!("server sent a text frame {t}"),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                return Err(Closed {
                    code: None,
                    reason: String::new(),
                })
            }
        }
    }
}

/// Reads until the server closes; returns the close and any pushes seen.
pub async fn read_until_closed(ws: &mut Ws) -> (Closed, Vec<Frame>) {
    let mut frames = Vec::new();
    loop {
        match read_frame(ws).await {
            Ok(f) => frames.push(f),
            Err(c) => return (c, frames),
        }
    }
}

impl Client {
    /// Connects and authenticates; Err carries the server's error response.
    pub async fn connect(server: &Server, req: Request) -> Result<Client, Response> {
        let mut ws = raw_ws(server).await;
        send_frame(
            &mut ws,
            &Frame {
                id: 1,
                kind: Some(frame::Kind::Request(req)),
            },
        )
        .await;
        let frame = read_frame(&mut ws).await.expect("connect response");
        assert_eq!(frame.id, 1);
        let Some(frame::Kind::Response(resp)) = frame.kind else {
            panic!("expected a response, got {frame:?}");
        };
        if resp.code != 0 {
            // The server closes after refusing.
            let (closed, _) = read_until_closed(&mut ws).await;
            assert_eq!(closed.code, Some(1008), "refused connect closes with 1008");
            return Err(resp);
        }
        let Some(response::Body::ConnectAck(ack)) = resp.body else {
            panic!("connect ack missing");
        };
        Ok(Client {
            ws,
            next_id: 2,
            pushes: VecDeque::new(),
            ack,
        })
    }

    /// Sends one request and waits for its response, queueing pushes that
    /// arrive meanwhile.
    pub async fn request(&mut self, op: request::Op) -> Response {
        let id = self.send_request(op).await;
        self.response_for(id).await
    }

    /// Sends a request without waiting; returns its id.
    pub async fn send_request(&mut self, op: request::Op) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        send_frame(&mut self.ws, &Frame::request(id, op)).await;
        id
    }

    /// Waits for the response to request `id`.
    pub async fn response_for(&mut self, id: u64) -> Response {
        loop {
            let frame = read_frame(&mut self.ws)
                .await
                .unwrap_or_else(|c| panic!("connection closed while waiting for {id}: {c:?}"));
            match frame.kind {
                Some(frame::Kind::Response(r)) => {
                    assert_eq!(frame.id, id, "responses arrive in request order");
                    return r;
                }
                Some(frame::Kind::Push(p)) => {
                    assert_eq!(frame.id, 0, "pushes carry id 0");
                    self.pushes.push_back(p);
                }
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Sends a message and returns its ack (asserting success).
    pub async fn send(&mut self, req: SendMessageRequest) -> MessageAck {
        let r = self.request(request::Op::SendMessage(req)).await;
        expect_ack(r)
    }

    /// Sends a message and returns the response as is.
    pub async fn try_send(&mut self, req: SendMessageRequest) -> Response {
        self.request(request::Op::SendMessage(req)).await
    }

    /// The pushes that arrived while waiting for responses, taken.
    pub fn take_pushes(&mut self) -> Vec<Push> {
        self.pushes.drain(..).collect()
    }

    /// The next push (queued or from the wire), failing at the deadline.
    pub async fn next_push(&mut self) -> Push {
        if let Some(p) = self.pushes.pop_front() {
            return p;
        }
        let frame = read_frame(&mut self.ws)
            .await
            .unwrap_or_else(|c| panic!("connection closed while waiting for a push: {c:?}"));
        match frame.kind {
            Some(frame::Kind::Push(p)) => p,
            other => panic!("unexpected frame while waiting for a push: {other:?}"),
        }
    }

    /// The next inbox entry push.
    pub async fn next_entry(&mut self) -> InboxEntry {
        match self.next_push().await.event {
            Some(push::Event::Entry(e)) => e,
            other => panic!("expected an inbox entry push, got {other:?}"),
        }
    }

    /// One pull page.
    pub async fn pull(&mut self, after_seq: u64, limit: u32) -> imsync_protocol::PullInboxResult {
        let r = self
            .request(request::Op::PullInbox(PullInboxRequest {
                after_seq,
                limit,
            }))
            .await;
        assert_eq!(r.code, 0, "pull failed: {}", r.msg);
        match r.body {
            Some(response::Body::PullInbox(p)) => p,
            other => panic!("pull result missing: {other:?}"),
        }
    }

    /// Pulls every page after `after_seq`.
    pub async fn pull_all(&mut self, after_seq: u64, limit: u32) -> Vec<InboxEntry> {
        let mut all = Vec::new();
        let mut cursor = after_seq;
        loop {
            let page = self.pull(cursor, limit).await;
            if let Some(last) = page.entries.last() {
                cursor = last.seq;
            }
            all.extend(page.entries);
            if !page.has_more {
                return all;
            }
        }
    }

    /// Reads until the server closes this connection.
    pub async fn wait_closed(&mut self) -> (Closed, Vec<Push>) {
        let (closed, frames) = read_until_closed(&mut self.ws).await;
        let mut pushes: Vec<Push> = self.pushes.drain(..).collect();
        pushes.extend(frames.into_iter().filter_map(|f| match f.kind {
            Some(frame::Kind::Push(p)) => Some(p),
            _ => None,
        }));
        (closed, pushes)
    }

    /// Sends a hand-built frame and waits for the response with its id.
    pub async fn request_raw(&mut self, frame: Frame) -> Response {
        let id = frame.id;
        send_frame(&mut self.ws, &frame).await;
        self.response_for(id).await
    }

    /// Heartbeat probe: `true` if the server answers this ping, `false` if
    /// the connection is closed instead. Anything else received meanwhile
    /// (e.g. answers to frames that happened to decode) is skipped.
    pub async fn ping_ok(&mut self) -> bool {
        let id = 1_000_000 + self.next_id;
        self.next_id += 1;
        if self
            .ws
            .send(WsMessage::Binary(
                encode_frame(&Frame::ping(id, 1)).unwrap().into(),
            ))
            .await
            .is_err()
        {
            return false;
        }
        loop {
            match read_frame(&mut self.ws).await {
                Ok(Frame {
                    id: got,
                    kind: Some(frame::Kind::Pong(_)),
                }) if got == id => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Sends an arbitrary WebSocket message.
    pub async fn send_ws(&mut self, msg: WsMessage) {
        self.ws.send(msg).await.expect("send");
    }

    /// Sends a message the server may refuse by closing the connection while it is still
    /// being written (the write then fails with a reset, which is the expected outcome).
    pub async fn send_ws_refusable(&mut self, msg: WsMessage) {
        if let Err(e) = self.ws.send(msg).await {
            eprintln!("send ended by the server closing the connection: {e}");
        }
    }

    /// Closes politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

pub fn expect_ack(r: Response) -> MessageAck {
    assert_eq!(r.code, 0, "expected success, got {} {}", r.code, r.msg);
    match r.body {
        Some(response::Body::MessageAck(a)) => a,
        other => panic!("expected a message ack, got {other:?}"),
    }
}

/// The message uids of inbox entries, in their order.
pub fn uids(entries: &[InboxEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.message.as_ref().expect("message").message_uid.clone())
        .collect()
}

/// The `content` text of an RC:TxtMsg entry.
pub fn entry_text(e: &InboxEntry) -> String {
    let m = e.message.as_ref().expect("message");
    let v: Value = serde_json::from_str(&m.content).expect("content json");
    v["content"].as_str().unwrap_or_default().to_owned()
}

/// Size of the encoded frame for `req` (used for the frame limit test).
pub fn encoded_len(frame: &Frame) -> usize {
    frame.encoded_len()
}

/// Data directory path of a server (for tests that inspect files).
pub fn data_dir(server: &Server) -> PathBuf {
    server.dir.path().join("data")
}

impl Server {
    /// Polls the server's log until `pred` holds for it (fails at the
    /// deadline with `what` and the log).
    pub async fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let log = self.log();
            if pred(&log) {
                return log;
            }
            assert!(
                Instant::now() < until,
                "log never showed {what}; log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A TCP connection to `addr` from the loopback address `src` (any of
/// 127.0.0.0/8 works on Linux), so tests can play several client addresses.
pub async fn connect_from(src: &str, addr: SocketAddr) -> TcpStream {
    try_connect_from(src, addr).await.expect("tcp connect")
}

/// [`connect_from`] for a connection the server may refuse: a refused
/// connection is reset at once, and the reset can arrive before the
/// connect has completed on this side (then `Err(ConnectionReset)`).
pub async fn try_connect_from(src: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{src}:0").parse().expect("source address"))
        .expect("bind source address");
    let connected = tokio::time::timeout(DEADLINE, socket.connect(addr))
        .await
        .expect("tcp connect timeout");
    match connected {
        Err(e) if e.kind() != std::io::ErrorKind::ConnectionReset => panic!("tcp connect: {e}"),
        other => other,
    }
}

/// Waits until the server closes `sock` (EOF or reset); returns what the
/// server sent before closing. Fails at the deadline.
pub async fn wait_server_close(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(DEADLINE, sock.read(&mut buf))
            .await
            .expect("the server did not close the connection in time")
        {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// `true` while the server has not closed `sock` (nothing to read yet).
pub fn still_open(sock: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(sock.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// One HTTP/1.1 request from the loopback address `src`; `None` when the
/// server closes the connection without answering (a refused connection).
pub async fn http_from(src: &str, addr: SocketAddr, path: &str) -> Option<u16> {
    let Ok(mut s) = try_connect_from(src, addr).await else {
        return None;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    // A refused connection may already be closed: the write can fail.
    let _ = s.write_all(req.as_bytes()).await;
    let raw = wait_server_close(&mut s).await;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok())
}

impl Client {
    /// The next push, sending a WebSocket ping to this client and to `others` every
    /// `every` while waiting, so a short `--heartbeat-interval` ends only the sessions a
    /// test leaves silent on purpose. Fails at DEADLINE.
    pub async fn push_keeping_alive(
        &mut self,
        others: &mut [&mut Client],
        every: Duration,
    ) -> Push {
        if let Some(p) = self.pushes.pop_front() {
            return p;
        }
        let end = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < end, "no push before the deadline");
            let _ = self.ws.send(WsMessage::Ping(Default::default())).await;
            for o in others.iter_mut() {
                let _ = o.ws.send(WsMessage::Ping(Default::default())).await;
            }
            match tokio::time::timeout(every, self.ws.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(WsMessage::Binary(b)))) => {
                    match decode_frame(&b).expect("server frame decodes").kind {
                        Some(frame::Kind::Push(p)) => return p,
                        other => panic!("unexpected frame while waiting for a push: {other:?}"),
                    }
                }
                Ok(Some(Ok(WsMessage::Close(c)))) => {
                    panic!("closed while waiting for a push: {c:?}")
                }
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!("connection ended while waiting for a push: {other:?}"),
            }
        }
    }
}

/// One PostgreSQL database and one NATS for the nodes of a deployment (both throwaway).
pub struct Deployment {
    _postgres: postgres::Postgres,
    nats: nats::Nats,
    database_url: String,
}

impl Deployment {
    /// Starts both; None (printed) when either is not installed outside CI.
    pub fn start(name: &str) -> Option<Deployment> {
        let pg = postgres::Postgres::start(name)?;
        let nats = nats::Nats::start(name)?;
        let database_url = pg.create_database("deployment");
        Some(Deployment {
            _postgres: pg,
            nats,
            database_url,
        })
    }

    /// The shared database, for tests that look at what the nodes stored.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The flags of node `node_id`, then `extra`.
    pub fn node(&self, node_id: &str, extra: &[&str]) -> Opts {
        let mut args = vec![
            "--database-url".to_string(),
            self.database_url.clone(),
            "--nats-url".to_string(),
            self.nats.url(),
            "--node-id".to_string(),
            node_id.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Opts {
            extra_args: args,
            ..Opts::default()
        }
    }
}
