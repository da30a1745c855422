//! One signed-in user's session task: connect and authenticate, pull the inbox from the
//! persisted cursor, apply pushes (pulling again on any gap), answer API requests,
//! heartbeat, and on loss SUSPEND and retry — or DISCONNECT on a fatal code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use imsync_protocol as pb;
use pb::{frame, push, request, response};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{is_fatal, Command, Status};
use crate::engine::Engine;
use crate::error::ImError;
use crate::json_text::{JsonWriter, RawJson};
use crate::message::now_ms;
use crate::store::{conversations, history, inbox};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const SOCKET_NOT_CREATED: i32 = 30010;
pub const SOCKET_DISCONNECTED: i32 = 30011;
pub const PONG_TIMEOUT: i32 = 30013;
pub const NET_UNAVAILABLE: i32 = 30002;
pub const RESPONSE_TIMEOUT: i32 = 30003;
pub const CONN_ACK_TIMEOUT: i32 = 31000;
pub const SERVER_RESET: i32 = 32054;
pub const ACTIVE_DISCONNECT: i32 = 2;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const PULL_LIMIT: u32 = 500;

pub(crate) struct Params {
    pub token: String,
    pub kick_enable: bool,
}

fn net(code: i32, what: impl std::fmt::Display) -> ImError {
    ImError::new(code, what.to_string())
}

fn ws_url(server: &str) -> String {
    let rest = server.strip_prefix("http://").map(|r| format!("ws://{r}"));
    let rest = rest.or_else(|| {
        server
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
    });
    format!(
        "{}{}",
        rest.unwrap_or_else(|| server.to_string()),
        pb::WS_PATH
    )
}

fn platform(name: &str) -> pb::Platform {
    match name.to_ascii_lowercase().as_str() {
        "web" => pb::Platform::Web,
        "android" | "ios" | "mobile" | "harmonyos" => pb::Platform::Mobile,
        _ => pb::Platform::Desktop,
    }
}

fn encode(frame: &pb::Frame) -> Ws {
    Ws::Binary(pb::encode_frame(frame).unwrap_or_default().into())
}

/// Whether a failed connect says nothing about the user, only that this server could not
/// be reached or did not answer, so another `serverUrl` entry is worth trying.
fn unreachable(code: i32) -> bool {
    matches!(
        code,
        SOCKET_NOT_CREATED | SOCKET_DISCONNECTED | CONN_ACK_TIMEOUT
    )
}

/// Connects to the first `serverUrl` entry that answers, trying each once from `start`
/// (wrapping around), and remembers which one it was. A server that answers with a refusal
/// (bad token, banned user…) ends the attempt: every node of a deployment would say the same.
async fn connect(
    engine: &Engine,
    params: &Params,
    reconnecting: bool,
    start: usize,
) -> Result<(Socket, pb::ConnectAck), ImError> {
    let urls = &engine.options().server_urls;
    if urls.is_empty() {
        return Err(ImError::invalid("options.serverUrl is required to connect"));
    }
    let mut last = None;
    for step in 0..urls.len() {
        let at = (start + step) % urls.len();
        match connect_to(engine, &urls[at], params, reconnecting).await {
            Ok(done) => {
                engine.set_server_index(at);
                return Ok(done);
            }
            Err(e) if unreachable(e.code) => {
                tracing::warn!(server = %urls[at], code = e.code, "server unreachable; trying the next serverUrl entry");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| net(SOCKET_NOT_CREATED, "no server answered")))
}

/// Opens the WebSocket to `server` and authenticates. On a reconnect the user's
/// `reconnectKickEnable` applies (seed: it decides who yields when reconnecting); the
/// first connect always takes the session.
async fn connect_to(
    engine: &Engine,
    server: &str,
    params: &Params,
    reconnecting: bool,
) -> Result<(Socket, pb::ConnectAck), ImError> {
    let opts = engine.options();
    let handshake = async {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url(server), None, true)
            .await
            .map_err(|e| net(SOCKET_NOT_CREATED, format!("cannot reach {server}: {e}")))?;
        let req = pb::ConnectRequest {
            protocol_version: pb::PROTOCOL_VERSION,
            token: params.token.clone(),
            device_id: engine.device_id(),
            platform: platform(&opts.platform) as i32,
            sdk_version: concat!("imsync-", env!("CARGO_PKG_VERSION")).into(),
            reconnect_kick_enable: reconnecting && params.kick_enable,
        };
        let sent_at = now_ms();
        ws.send(encode(&pb::Frame::request(1, request::Op::Connect(req))))
            .await
            .map_err(|e| net(SOCKET_DISCONNECTED, e))?;
        while let Some(msg) = ws.next().await {
            let Ws::Binary(bytes) = msg.map_err(|e| net(SOCKET_DISCONNECTED, e))? else {
                continue;
            };
            let Ok(frame) = pb::decode_frame(&bytes) else {
                continue;
            };
            if let Some(frame::Kind::Response(r)) = frame.kind {
                if r.code != 0 {
                    return Err(ImError::new(
                        r.code,
                        if r.msg.is_empty() {
                            "connect refused".into()
                        } else {
                            r.msg
                        },
                    ));
                }
                return match r.body {
                    Some(response::Body::ConnectAck(ack)) => {
                        engine.note_server_time(sent_at, ack.server_time);
                        Ok((ws, ack))
                    }
                    _ => Err(net(SOCKET_DISCONNECTED, "connect answered without an ack")),
                };
            }
        }
        Err(net(SOCKET_DISCONNECTED, "connection closed during connect"))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .unwrap_or_else(|_| Err(net(CONN_ACK_TIMEOUT, "no connect answer in time")))
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// The session task. Reports the first connect's outcome through `first`.
pub(crate) async fn run(
    engine: Arc<Engine>,
    params: Params,
    first: oneshot::Sender<Result<String, ImError>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = Some(first);
    // Where the next attempt starts in `serverUrl`: the server last connected to, or after a
    // lost connection the one after it, since a node that just dropped is the likeliest dead.
    let mut start = engine.server_index();
    loop {
        engine.set_status(Status::Connecting);
        engine.emit("CONNECTING", Value::Null);
        let outcome = tokio::select! {
            r = connect(&engine, &params, first.is_none(), start) => r,
            _ = stopped(&mut stop) => Err(ImError::new(ACTIVE_DISCONNECT, "disconnected")),
        };
        let code = match outcome {
            Ok((ws, ack)) => {
                engine.set_status(Status::Connected);
                engine.emit("CONNECTED", Value::Null);
                if let Some(f) = first.take() {
                    let _ = f.send(Ok(ack.user_id.clone()));
                }
                let hb = engine
                    .options()
                    .heartbeat_interval
                    .unwrap_or(Duration::from_millis(if ack.heartbeat_interval_ms > 0 {
                        ack.heartbeat_interval_ms as u64
                    } else {
                        pb::HEARTBEAT_INTERVAL_MS as u64
                    }));
                let mut live = Live::new(engine.clone(), ws, hb, &ack);
                let code = live.run(&mut commands, &mut stop).await;
                start = engine.server_index() + 1;
                code
            }
            Err(e) => {
                if let Some(f) = first.take() {
                    engine.set_status(Status::Disconnected(e.code));
                    let _ = f.send(Err(e));
                    return;
                }
                e.code
            }
        };
        if code == ACTIVE_DISCONNECT || *stop.borrow() {
            engine.set_status(Status::Disconnected(ACTIVE_DISCONNECT));
            engine.emit("DISCONNECT", json!(ACTIVE_DISCONNECT));
            return;
        }
        if is_fatal(code) {
            engine.set_status(Status::Disconnected(code));
            engine.emit("DISCONNECT", json!(code));
            return;
        }
        engine.set_status(Status::Suspended(code));
        engine.emit("SUSPEND", json!(code));
        let base = engine.options().reconnect_interval.as_millis() as u64;
        let jitter = if base >= 5 {
            rand::random_range(0..=base / 5)
        } else {
            0
        };
        let wait = tokio::time::sleep(Duration::from_millis(base - base / 10 + jitter));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                _ = stopped(&mut stop) => {
                    engine.set_status(Status::Disconnected(ACTIVE_DISCONNECT));
                    engine.emit("DISCONNECT", json!(ACTIVE_DISCONNECT));
                    return;
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Request { reply, .. }) => {
                        let _ = reply.send(Err(net(NET_UNAVAILABLE, "not connected: the connection is being re-established")));
                    }
                    None => return,
                },
            }
        }
    }
}

enum Pending {
    Api(oneshot::Sender<Result<pb::Response, ImError>>),
    Pull,
    /// A message left SENDING by an earlier run, resent with its client id.
    Outbox(i64),
    /// The settings snapshot, after another device changed it.
    Settings,
    /// An inbox ack (delivery receipts); its answer carries nothing.
    Ack,
    /// The engine joining a chatroom again after a reconnect.
    Rejoin(String),
}

struct Live {
    engine: Arc<Engine>,
    ws: Socket,
    pending: HashMap<u64, (Pending, Instant)>,
    next_id: u64,
    cursor: u64,
    /// Highest seq pushed while a pull was running: pull again if the pull ends below it.
    seen: u64,
    pulling: bool,
    offline_done: bool,
    heartbeat: Duration,
    last_heard: Instant,
    /// The inbox head at connect: entries up to it arrived while this device was away,
    /// which is what `isOfflineMessage` means (send times can run ahead of the clock).
    offline_through: u64,
    /// The cursor when the offline pull began: `OFFLINE_SYNC_PROGRESS` counts from it.
    offline_from: u64,
    /// The server's settings version at connect.
    settings_version: u64,
}

impl Live {
    fn new(engine: Arc<Engine>, ws: Socket, heartbeat: Duration, ack: &pb::ConnectAck) -> Self {
        Self {
            engine,
            ws,
            pending: HashMap::new(),
            next_id: 2,
            cursor: 0,
            seen: 0,
            pulling: false,
            offline_done: false,
            heartbeat,
            last_heard: Instant::now(),
            offline_through: ack.inbox_head_seq,
            offline_from: 0,
            settings_version: ack.settings_version,
        }
    }

    async fn fetch_settings(&mut self) -> Result<(), i32> {
        self.send(
            request::Op::GetSettings(pb::GetSettingsRequest {}),
            Pending::Settings,
        )
        .await
    }

    fn fail_pending(&mut self, code: i32) {
        for (_, (p, _)) in self.pending.drain() {
            if let Pending::Api(reply) = p {
                let _ = reply.send(Err(net(
                    code,
                    "the connection was lost before the server answered",
                )));
            }
        }
    }

    async fn send(&mut self, op: request::Op, pending: Pending) -> Result<(), i32> {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, (pending, Instant::now()));
        self.ws
            .send(encode(&pb::Frame::request(id, op)))
            .await
            .map_err(|_| SOCKET_DISCONNECTED)
    }

    async fn pull(&mut self) -> Result<(), i32> {
        self.pulling = true;
        let op = request::Op::PullInbox(pb::PullInboxRequest {
            after_seq: self.cursor,
            limit: PULL_LIMIT,
        });
        self.send(op, Pending::Pull).await
    }

    /// Runs until the connection is lost (returns its code) or `stop` (returns 2).
    async fn run(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        stop: &mut watch::Receiver<bool>,
    ) -> i32 {
        let code = self.serve(commands, stop).await;
        self.fail_pending(if code == ACTIVE_DISCONNECT {
            ACTIVE_DISCONNECT
        } else {
            SOCKET_DISCONNECTED
        });
        let _ = self.ws.close(None).now_or_never();
        code
    }

    async fn serve(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        stop: &mut watch::Receiver<bool>,
    ) -> i32 {
        match self.engine.read_cursor().await {
            Ok(c) => {
                self.cursor = c;
                self.seen = c;
                self.offline_from = c;
            }
            Err(e) => return e.code,
        }
        if let Err(code) = self.pull().await {
            return code;
        }
        // Settings changed while this device was away (or never fetched): catch up.
        match self.engine.settings_version().await {
            Ok(v) if v == self.settings_version => {}
            Ok(v) => {
                if v > self.settings_version {
                    if let Err(e) = self.engine.forget_settings_version().await {
                        return e.code;
                    }
                }
                if let Err(code) = self.fetch_settings().await {
                    return code;
                }
            }
            Err(e) => return e.code,
        }
        // The seed: after a reconnect the SDK rejoins its chatrooms by itself.
        for (room, joined) in self.engine.joined_rooms() {
            let op = request::Op::ChatroomJoin(pb::ChatroomJoinRequest {
                room_id: room.clone(),
                create: joined.create,
                count: joined.count,
            });
            if let Err(code) = self.send(op, Pending::Rejoin(room)).await {
                return code;
            }
        }
        let mut ticker = tokio::time::interval(self.heartbeat);
        ticker.tick().await;
        loop {
            tokio::select! {
                msg = self.ws.next() => {
                    let Some(Ok(msg)) = msg else { return SOCKET_DISCONNECTED };
                    self.last_heard = Instant::now();
                    let bytes = match msg {
                        Ws::Binary(b) => b,
                        Ws::Close(Some(c)) if u16::from(c.code) == 1001 => return SERVER_RESET,
                        Ws::Close(_) => return SOCKET_DISCONNECTED,
                        _ => continue,
                    };
                    let Ok(frame) = pb::decode_frame(&bytes) else { continue };
                    if let Err(code) = self.on_frame(frame).await {
                        return code;
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Request { op, reply }) => {
                        if let Err(code) = self.send(op, Pending::Api(reply)).await {
                            return code;
                        }
                    }
                    None => return ACTIVE_DISCONNECT,
                },
                _ = ticker.tick() => {
                    if self.last_heard.elapsed() > self.heartbeat * 2 + self.heartbeat / 2 {
                        return PONG_TIMEOUT;
                    }
                    let timeout = self.heartbeat * 2;
                    let expired: Vec<u64> =
                        self.pending.iter().filter(|(_, (_, t))| t.elapsed() > timeout).map(|(id, _)| *id).collect();
                    for id in expired {
                        match self.pending.remove(&id) {
                            Some((Pending::Api(reply), _)) => {
                                let _ = reply.send(Err(net(RESPONSE_TIMEOUT, "the server did not answer in time")));
                            }
                            // A pull or resend that never answers means a dead link.
                            Some(_) => return RESPONSE_TIMEOUT,
                            None => {}
                        }
                    }
                    let ping = pb::Frame::ping(0, now_ms());
                    if self.ws.send(encode(&ping)).await.is_err() {
                        return SOCKET_DISCONNECTED;
                    }
                }
                _ = stopped(stop) => return ACTIVE_DISCONNECT,
            }
        }
    }

    async fn on_frame(&mut self, frame: pb::Frame) -> Result<(), i32> {
        match frame.kind {
            Some(frame::Kind::Response(r)) => {
                let Some((pending, _)) = self.pending.remove(&frame.id) else {
                    return Ok(());
                };
                match pending {
                    Pending::Api(reply) => {
                        let _ = reply.send(Ok(r));
                    }
                    Pending::Pull => self.on_pull(r).await?,
                    Pending::Outbox(id) => self.engine.settle_outbox(id, r).await,
                    // A server without delivery receipts answers 35004: nothing to do.
                    Pending::Ack => {}
                    Pending::Rejoin(room) => self.engine.on_rejoin(&room, r),
                    Pending::Settings => match r.body {
                        Some(response::Body::Settings(snap)) if r.code == 0 => {
                            if let Err(e) = self.engine.apply_settings(snap, true).await {
                                tracing::warn!(error = %e, "applying synced settings failed");
                            }
                        }
                        _ => {
                            tracing::warn!(code = r.code, msg = %r.msg, "fetching settings failed")
                        }
                    },
                }
            }
            Some(frame::Kind::Push(p)) => match p.event {
                Some(push::Event::Entry(entry)) => self.on_entries(vec![entry]).await?,
                Some(push::Event::StatusMessage(m)) => self.engine.emit_status_message(&m),
                Some(push::Event::Kick(k)) => return Err(if k.code != 0 { k.code } else { 31010 }),
                Some(push::Event::SettingsChanged(_)) => self.fetch_settings().await?,
                Some(push::Event::OwnProfileChanged(p)) => self.engine.emit_own_profile_changed(&p),
                Some(push::Event::SubscribedStatus(l)) => self.engine.emit_subscribed_status(&l),
                Some(push::Event::SubscriptionChanged(c)) => {
                    self.engine.emit_subscription_changed(&c)
                }
                Some(push::Event::ChatroomMessage(m)) => self.engine.on_chatroom_message(&m),
                Some(push::Event::ChatroomEvent(e)) => self.engine.on_chatroom_event(e),
                None => {}
            },
            Some(frame::Kind::Ping(p)) => {
                let pong = pb::Frame {
                    id: frame.id,
                    kind: Some(frame::Kind::Pong(pb::Pong {
                        timestamp: p.timestamp,
                        server_time: now_ms(),
                    })),
                };
                self.ws
                    .send(encode(&pong))
                    .await
                    .map_err(|_| SOCKET_DISCONNECTED)?;
            }
            Some(frame::Kind::Pong(p)) => self.engine.note_server_time(p.timestamp, p.server_time),
            Some(frame::Kind::Request(_)) | None => {}
        }
        Ok(())
    }

    async fn on_pull(&mut self, r: pb::Response) -> Result<(), i32> {
        if r.code != 0 {
            return Err(r.code);
        }
        let Some(response::Body::PullInbox(page)) = r.body else {
            return Err(SOCKET_DISCONNECTED);
        };
        let last = page.entries.last().map(|e| e.seq).unwrap_or(self.cursor);
        // Entries past the server's retention are gone: move on to what it still has.
        let to = if page.entries.is_empty() && !page.has_more {
            page.head_seq.max(self.cursor)
        } else {
            last
        };
        let offline_through = if self.offline_done {
            0
        } else {
            self.offline_through
        };
        self.apply(page.entries, to, offline_through).await?;
        if !self.offline_done {
            self.report_offline_progress();
        }
        if page.has_more {
            return self.pull().await;
        }
        self.pulling = false;
        if !self.offline_done {
            self.offline_done = true;
            self.engine
                .emit("PULL_OFFLINE_MESSAGE_FINISHED", Value::Null);
            tokio::spawn(self.engine.clone().sync_subscriptions());
            self.resend_outbox().await?;
        }
        if self.seen > self.cursor {
            return self.pull().await;
        }
        Ok(())
    }

    /// `OFFLINE_SYNC_PROGRESS { pulled, total }` after each page of the offline pull (imsync's
    /// own event; the vendor only has PULL_OFFLINE_MESSAGE_FINISHED), so an app can show a
    /// progress bar on a first login with a large backlog. Inbox seqs are gap-free per user,
    /// so `total` is exact but for entries the server's retention already dropped; `pulled`
    /// reaches `total` when the pull ends either way.
    fn report_offline_progress(&self) {
        let total = self.offline_through.saturating_sub(self.offline_from);
        if total == 0 {
            return;
        }
        let pulled = self
            .cursor
            .min(self.offline_through)
            .saturating_sub(self.offline_from);
        self.engine.emit(
            "OFFLINE_SYNC_PROGRESS",
            json!({ "pulled": pulled, "total": total }),
        );
    }

    /// Applies pushed entries, with any others already waiting on the socket, in one
    /// transaction; a gap in the sequence triggers a pull instead.
    async fn on_entries(&mut self, mut entries: Vec<pb::InboxEntry>) -> Result<(), i32> {
        while entries.len() < PULL_LIMIT as usize {
            let Some(Some(Ok(Ws::Binary(bytes)))) = self.ws.next().now_or_never() else {
                break;
            };
            match pb::decode_frame(&bytes) {
                Ok(pb::Frame {
                    kind:
                        Some(frame::Kind::Push(pb::Push {
                            event: Some(push::Event::Entry(e)),
                        })),
                    ..
                }) => entries.push(e),
                Ok(other) => Box::pin(self.on_frame(other)).await?,
                Err(_) => {}
            }
        }
        self.seen = self
            .seen
            .max(entries.iter().map(|e| e.seq).max().unwrap_or(0));
        if self.pulling {
            return Ok(());
        }
        let mut run = Vec::new();
        let mut next = self.cursor + 1;
        for e in entries {
            if e.seq < next {
                continue;
            }
            if e.seq > next {
                // A gap: what is missing (and what follows) comes with a pull.
                let to = next - 1;
                if !run.is_empty() {
                    self.apply(run, to, 0).await?;
                }
                return self.pull().await;
            }
            next += 1;
            run.push(e);
        }
        if !run.is_empty() {
            self.apply(run, next - 1, 0).await?;
        }
        Ok(())
    }

    async fn apply(
        &mut self,
        entries: Vec<pb::InboxEntry>,
        cursor_to: u64,
        offline_through: u64,
    ) -> Result<(), i32> {
        let statuses: Vec<pb::Message> = entries
            .iter()
            .filter_map(|e| e.message.clone())
            .filter(|m| m.is_status_message)
            .collect();
        let receipted = entries
            .iter()
            .filter_map(|e| e.message.as_ref())
            .any(super::delivery::earns_receipt);
        match self
            .engine
            .apply_entries(entries, cursor_to, offline_through)
            .await
        {
            Ok(()) => {
                // Only a batch holding something the server receipts is worth an ack
                // (not the receipts themselves); the next ack covers what is skipped.
                let moved = cursor_to > self.cursor && receipted;
                self.cursor = cursor_to;
                self.seen = self.seen.max(cursor_to);
                if moved {
                    // Committed with the cursor: the entries are now stored on this
                    // device, which is what the senders' delivery receipts report.
                    let ack = request::Op::AckInbox(pb::AckInboxRequest { seq: cursor_to });
                    self.send(ack, Pending::Ack).await?;
                }
                for m in statuses {
                    self.engine.emit_status_message(&m);
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "applying inbox entries failed; reconnecting to retry");
                Err(e.code)
            }
        }
    }

    async fn resend_outbox(&mut self) -> Result<(), i32> {
        let Ok(rows) = self.engine.outbox_requests().await else {
            return Ok(());
        };
        for (id, req) in rows {
            self.send(request::Op::SendMessage(req), Pending::Outbox(id))
                .await?;
        }
        Ok(())
    }
}

/// Builds the MESSAGES and CONVERSATION payloads of what an apply changed, as JSON text
/// (read in the same transaction, so events never show a half-applied state): stored
/// messages first, then those delivered but not stored.
pub(crate) fn event_payloads(
    conn: &rusqlite::Connection,
    applied: &inbox::Applied,
) -> crate::error::ImResult<(Option<RawJson>, Option<RawJson>)> {
    let messages = if applied.new_messages.is_empty() && applied.transient.is_empty() {
        None
    } else {
        let mut w = JsonWriter::with_capacity(512 * applied.new_messages.len() + 64);
        w.begin_object().key("messages").begin_array();
        history::write_by_ids(&mut w, conn, &applied.new_messages)?;
        for m in &applied.transient {
            w.value(m);
        }
        w.end_array().end_object();
        Some(w.finish())
    };
    let convs = if applied.conversations.is_empty() {
        None
    } else {
        let ids: Vec<i64> = applied.conversations.iter().copied().collect();
        // A removed conversation stays out of the app's view until a message brings it back.
        let list = conversations::by_ids_text(conn, &ids, true)?;
        Some(super::conversation_event::payload_text(
            &list,
            super::conversation_event::MESSAGE_ITEMS,
            crate::message::now_ms(),
        ))
    };
    Ok((messages, convs))
}
