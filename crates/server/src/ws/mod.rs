//! The WebSocket endpoint: one task per connection.
//!
//! A connection first authenticates (the token travels inside the connect
//! frame, never in the URL), then its reader loop handles requests one at a
//! time, in arrival order, while a writer task drains the connection's
//! outbound queue (responses and pushes) to the socket. Anything malformed
//! closes only this connection.
//!
//! Until it has authenticated, a connection holds a place in the
//! unauthenticated pool ([`Ticket`]) and must send its ConnectRequest
//! within the handshake timeout, counted from TCP accept; once the session
//! is registered the place is given back, and from then on the heartbeat
//! idle timeout applies.

pub mod chatroom;
mod handlers;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::response::Response as HttpResponse;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use imsync_protocol::{
    codes, decode_frame, encode_frame, frame, push, request, ConnectAck, ConnectRequest, Frame,
    FrameError, Kick, Platform, Pong, Response, HEARTBEAT_INTERVAL_MS, IDLE_TIMEOUT_MS,
    MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, Notify};
use tokio::time::{timeout, timeout_at, Instant};

use crate::clock::{new_session_id, now_ms};
use crate::conn_limits::Ticket;
use crate::error::ApiError;
use crate::fanout::encode_push;
use crate::log_escape::Escaped;
use crate::rate_limit::RateLimiter;
use crate::refusal_log::Reason;
use crate::registry::{Outbound, SessionHandle, OUTBOUND_QUEUE};
use crate::state::AppState;
use crate::store::{messages, settings};
use crate::token;

/// While shutting down: stop once the client has been quiet this long.
const DRAIN_IDLE: Duration = Duration::from_millis(200);
/// While shutting down: stop draining after this long regardless.
const DRAIN_MAX: Duration = Duration::from_secs(5);
/// Time the writer gets to flush and close before it is abandoned.
const WRITER_GRACE: Duration = Duration::from_secs(2);

/// WebSocket close codes used by the server.
mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const UNSUPPORTED: u16 = 1003;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

type Sink = SplitSink<WebSocket, WsMessage>;
type Stream = SplitStream<WebSocket>;

/// An authenticated connection.
pub struct Session {
    /// The user.
    pub user_id: String,
    /// This connection's id.
    pub session_id: String,
    /// Send-rate limiter.
    pub rate: RateLimiter,
    tx: mpsc::Sender<Outbound>,
    kill: Arc<Notify>,
}

/// Socket read buffer per connection. The WebSocket layer's default (128
/// KiB) dominated the memory of an idle connection; frames are small, and
/// large ones simply take a few more reads.
const READ_BUFFER: usize = 8 * 1024;

/// `GET /ws`: upgrades to a WebSocket limited to [`MAX_FRAME_BYTES`] messages.
pub async fn endpoint(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Extension(ticket): Extension<Ticket>,
) -> HttpResponse {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER)
        // Bursts are coalesced up to this size before a write.
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| connection(socket, state, ticket))
}

async fn connection(socket: WebSocket, state: AppState, ticket: Ticket) {
    // Keeps the server's shutdown waiting until this connection is done.
    let _alive = state.alive.clone();
    let (mut sink, mut stream) = socket.split();
    let Some((session, outbound)) = authenticate(&mut sink, &mut stream, &state, &ticket).await
    else {
        let _ = timeout(WRITER_GRACE, sink.close()).await;
        return;
    };
    // Authenticated: no longer counted against the unauthenticated caps.
    ticket.authenticated();
    drop(ticket);
    serve(session, outbound, sink, stream, state).await;
}

fn close_message(code: u16, reason: &str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn encode(frame: &Frame) -> Option<axum::body::Bytes> {
    match encode_frame(frame) {
        Ok(b) => Some(b.into()),
        Err(e) => {
            tracing::error!(error = %Escaped(&e), "response not encodable");
            None
        }
    }
}

/// The close a decode failure deserves.
fn decode_close(e: &FrameError) -> (u16, String) {
    match e {
        FrameError::TooLarge { .. } => (close_code::TOO_BIG, "frame too large".into()),
        FrameError::Decode(_) => (close_code::PROTOCOL, "undecodable frame".into()),
    }
}

async fn send_direct(sink: &mut Sink, frame: &Frame) -> bool {
    match encode(frame) {
        Some(b) => timeout(WRITER_GRACE, sink.send(WsMessage::Binary(b)))
            .await
            .is_ok_and(|r| r.is_ok()),
        None => false,
    }
}

async fn refuse(sink: &mut Sink, id: u64, err: ApiError) {
    let _ = send_direct(
        sink,
        &Frame::response(id, Response::error(err.code, err.msg)),
    )
    .await;
    send_close(sink, close_code::POLICY, &err.code.to_string()).await;
}

/// Waits for the connect request (until the handshake deadline); answers
/// it, and on success returns the session and its (already registered)
/// outbound queue.
///
/// Every write before authentication is bounded ([`WRITER_GRACE`]), and the
/// wait as a whole ends [`WRITER_GRACE`] after the handshake deadline at the
/// latest: a client that never reads would otherwise keep a write, and its
/// place in the unauthenticated pool, pending forever.
async fn authenticate(
    sink: &mut Sink,
    stream: &mut Stream,
    state: &AppState,
    ticket: &Ticket,
) -> Option<(Session, mpsc::Receiver<Outbound>)> {
    let deadline = ticket.deadline(state.settings.conn.handshake_timeout);
    let mut timed_out = false;
    let waited = wait_connect(sink, stream, state, ticket, deadline, &mut timed_out);
    let (id, req) = match deadline.and_then(|d| d.checked_add(WRITER_GRACE)) {
        Some(last) => match timeout_at(last, waited).await {
            Ok(got) => got?,
            Err(_) => {
                if !timed_out {
                    state
                        .refusals
                        .note(Reason::HandshakeTimeout, Some(ticket.peer()), None);
                }
                return None;
            }
        },
        None => waited.await?,
    };
    // Bounded too: one database read and one write under WRITER_GRACE (not
    // cancelled midway, which would leave the session registered).
    match connect(state, req).await {
        Ok((session, rx, ack)) => {
            let ok = Frame::response(
                id,
                Response::ok(imsync_protocol::response::Body::ConnectAck(ack)),
            );
            if send_direct(sink, &ok).await {
                Some((session, rx))
            } else {
                state
                    .registry
                    .unregister(&session.user_id, &session.session_id);
                None
            }
        }
        Err(err) => {
            refuse(sink, id, err).await;
            None
        }
    }
}

/// Sends a close frame, giving up after [`WRITER_GRACE`].
async fn send_close(sink: &mut Sink, code: u16, reason: &str) {
    let _ = timeout(WRITER_GRACE, sink.send(close_message(code, reason))).await;
}

/// Reads until the connect request (its frame id and the request), closing
/// the connection on anything else but pings, or at `deadline` (then
/// logged, and `timed_out` set).
async fn wait_connect(
    sink: &mut Sink,
    stream: &mut Stream,
    state: &AppState,
    ticket: &Ticket,
    deadline: Option<Instant>,
    timed_out: &mut bool,
) -> Option<(u64, ConnectRequest)> {
    loop {
        // Checked here too: a client that always has a frame ready would
        // never let a timeout see its deadline.
        let next = match deadline {
            Some(d) if Instant::now() >= d => Err(()),
            Some(d) => timeout_at(d, stream.next()).await.map_err(|_| ()),
            None => Ok(stream.next().await),
        };
        let msg = match next {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return None,
            Err(()) => {
                *timed_out = true;
                state
                    .refusals
                    .note(Reason::HandshakeTimeout, Some(ticket.peer()), None);
                send_close(sink, close_code::POLICY, "connect request timeout").await;
                return None;
            }
        };
        let bytes = match msg {
            WsMessage::Binary(b) => b,
            WsMessage::Text(_) => {
                send_close(sink, close_code::UNSUPPORTED, "binary frames only").await;
                return None;
            }
            WsMessage::Close(_) => return None,
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        let frame = match decode_frame(&bytes) {
            Ok(f) => f,
            Err(e) => {
                let (code, reason) = decode_close(&e);
                send_close(sink, code, &reason).await;
                return None;
            }
        };
        match frame.kind {
            Some(frame::Kind::Ping(p)) => {
                let pong = Frame {
                    id: frame.id,
                    kind: Some(frame::Kind::Pong(Pong {
                        timestamp: p.timestamp,
                        server_time: now_ms(),
                    })),
                };
                if !send_direct(sink, &pong).await {
                    return None;
                }
            }
            Some(frame::Kind::Request(imsync_protocol::Request {
                op: Some(request::Op::Connect(req)),
            })) if frame.id != 0 => return Some((frame.id, req)),
            Some(frame::Kind::Request(_)) if frame.id != 0 => {
                let err = ApiError::new(codes::RC_NET_CHANNEL_INVALID, "connect first");
                refuse(sink, frame.id, err).await;
                return None;
            }
            _ => {
                send_close(sink, close_code::PROTOCOL, "expected a connect request").await;
                return None;
            }
        }
    }
}

/// Verifies the connect request and registers the session.
async fn connect(
    state: &AppState,
    req: ConnectRequest,
) -> Result<(Session, mpsc::Receiver<Outbound>, ConnectAck), ApiError> {
    if req.protocol_version != PROTOCOL_VERSION {
        return Err(ApiError::new(
            codes::RC_CONN_PROTO_VERSION_ERROR,
            format!("protocol version {PROTOCOL_VERSION} required"),
        ));
    }
    let user_id = token::verify(&state.settings.app_secret, &req.token, now_ms())?;
    let platform = Platform::try_from(req.platform)
        .ok()
        .filter(|p| *p != Platform::Unspecified);
    let device_ok = !req.device_id.is_empty() && req.device_id.chars().count() <= 128;
    let (Some(platform), true) = (platform, device_ok) else {
        return Err(ApiError::new(
            codes::RC_CONN_IDENTIFIER_REJECTED,
            "deviceId must be 1..=128 characters and platform DESKTOP, WEB or MOBILE",
        ));
    };
    let session_id = new_session_id();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let kill = Arc::new(Notify::new());
    let handle = SessionHandle {
        session_id: session_id.clone(),
        device_id: req.device_id.clone(),
        platform,
        tx: tx.clone(),
        kill: kill.clone(),
    };
    let kick = encode_push(push::Event::Kick(Kick {
        code: codes::RC_DISCONN_KICK,
        reason: "another device of the same platform class connected".into(),
    }))
    .unwrap_or_default();
    // Registered before the head is read: an entry committed after the read
    // is pushed, one committed before it is counted in the head; the pushes
    // wait in the queue until the ack has been written.
    // Another node's session of this class, from another device, refuses the connect as a
    // local one would (as far as this node has heard: a device connecting on two nodes
    // within the same moment may get both through, and the later one kicks the other).
    if req.reconnect_kick_enable
        && state
            .presence
            .held_elsewhere(&user_id, platform, &req.device_id)
    {
        return Err(ApiError::new(
            codes::RC_DISCONN_SAME_CLIENT_ON_LINE,
            "another device of this platform class is online",
        ));
    }
    state
        .registry
        .register(&user_id, handle, req.reconnect_kick_enable, kick.clone())?;
    if let Some(cluster) = &state.cluster {
        // The same platform class on other nodes is replaced too.
        let kick = crate::cluster::NodeKick {
            user: user_id.clone(),
            platform: platform as i32,
            session_id: session_id.clone(),
            frame: kick,
        };
        cluster
            .publish(crate::cluster::NodeMessage {
                kicks: vec![kick],
                ..Default::default()
            })
            .await;
    }
    let user = user_id.clone();
    // The head must count the user's pending large-group entries, or the client would see
    // nothing to pull.
    let heads = match crate::timeline_pump::catch_up_user(&state.store, &user_id).await {
        Ok(()) => {
            state
                .store
                .read(move |c| Ok((messages::head_seq(c, &user)?, settings::version(c, &user)?)))
                .await
        }
        Err(e) => Err(e),
    };
    let (head, settings_version) = match heads {
        Ok(h) => h,
        Err(e) => {
            state.registry.unregister(&user_id, &session_id);
            return Err(e);
        }
    };
    tracing::info!(
        user = %Escaped(&user_id),
        session = %session_id,
        platform = ?platform,
        device = %Escaped(&req.device_id),
        sdk = %Escaped(&req.sdk_version),
        "connected"
    );
    let ack = ConnectAck {
        user_id: user_id.clone(),
        server_time: now_ms(),
        session_id: session_id.clone(),
        protocol_version: PROTOCOL_VERSION,
        inbox_head_seq: head,
        settings_version,
        heartbeat_interval_ms: u32::try_from(state.settings.heartbeat_interval.as_millis())
            .unwrap_or(HEARTBEAT_INTERVAL_MS),
    };
    Ok((
        Session {
            user_id,
            session_id,
            rate: RateLimiter::new(state.settings.rate_limit),
            tx,
            kill,
        },
        rx,
        ack,
    ))
}

/// Drains the outbound queue to the socket, writing everything already
/// queued before flushing once (one syscall for a burst of pushes). Ends the
/// connection (via `kill`) when the socket fails, after a kick, or after a
/// close.
async fn write_loop(mut sink: Sink, mut rx: mpsc::Receiver<Outbound>, kill: Arc<Notify>) {
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            let (msg, last) = match out {
                Outbound::Frame(bytes) => (WsMessage::Binary(bytes), false),
                Outbound::Kick(bytes) => {
                    let _ = sink.feed(WsMessage::Binary(bytes)).await;
                    (close_message(close_code::POLICY, "kicked"), true)
                }
                Outbound::Close(code, reason) => (close_message(code, &reason), true),
            };
            if sink.feed(msg).await.is_err() {
                break 'outer;
            }
            if last {
                let _ = sink.flush().await;
                break 'outer;
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    kill.notify_one();
}

/// What the reader does after one WebSocket message.
enum Next {
    Continue,
    Close(u16, String),
    End,
}

async fn serve(
    mut session: Session,
    outbound: mpsc::Receiver<Outbound>,
    sink: Sink,
    mut stream: Stream,
    state: AppState,
) {
    let writer = tokio::spawn(write_loop(sink, outbound, session.kill.clone()));
    let mut shutdown = state.shutdown.clone();
    let mut draining: Option<Instant> = (*shutdown.borrow()).then(Instant::now);
    let kill = session.kill.clone();
    // IDLE_TIMEOUT_MS is three default heartbeat intervals: a dead device (no goodbye,
    // no socket close) ends here, and its online status with it.
    let idle = state.settings.heartbeat_interval * (IDLE_TIMEOUT_MS / HEARTBEAT_INTERVAL_MS);
    let mut close: Option<(u16, String)> = None;
    loop {
        if let Some(since) = draining {
            if since.elapsed() > DRAIN_MAX {
                break;
            }
        }
        let wait = if draining.is_some() { DRAIN_IDLE } else { idle };
        tokio::select! {
            biased;
            _ = kill.notified() => break,
            changed = shutdown.changed(), if draining.is_none() => {
                if changed.is_err() || *shutdown.borrow() {
                    draining = Some(Instant::now());
                }
            }
            msg = timeout(wait, stream.next()) => {
                let next = match msg {
                    Err(_) if draining.is_some() => Next::End,
                    Err(_) => Next::Close(close_code::NORMAL, "idle timeout".into()),
                    Ok(None) => Next::End,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(session = %session.session_id, error = %Escaped(&e), "websocket error");
                        Next::Close(close_code::TOO_BIG, "read error or frame too large".into())
                    }
                    Ok(Some(Ok(m))) => on_message(&state, &mut session, m).await,
                };
                match next {
                    Next::Continue => {}
                    Next::End => break,
                    Next::Close(code, reason) => {
                        close = Some((code, reason));
                        break;
                    }
                }
            }
        }
    }
    if draining.is_some() && close.is_none() {
        close = Some((close_code::GOING_AWAY, "server shutting down".into()));
    }
    state
        .registry
        .unregister(&session.user_id, &session.session_id);
    state
        .chatrooms
        .close_session(&session.session_id, now_ms())
        .await;
    if let Some((code, reason)) = close {
        let _ = session.tx.try_send(Outbound::Close(code, reason));
    }
    let Session { tx, .. } = session;
    drop(tx);
    let mut writer = writer;
    if timeout(WRITER_GRACE, &mut writer).await.is_err() {
        writer.abort();
    }
}

async fn on_message(state: &AppState, session: &mut Session, msg: WsMessage) -> Next {
    let bytes = match msg {
        WsMessage::Binary(b) => b,
        WsMessage::Text(_) => {
            return Next::Close(close_code::UNSUPPORTED, "binary frames only".into())
        }
        WsMessage::Close(_) => return Next::End,
        // Protocol-level ping/pong are answered by the WebSocket layer.
        WsMessage::Ping(_) | WsMessage::Pong(_) => return Next::Continue,
    };
    let frame = match decode_frame(&bytes) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(session = %session.session_id, error = %Escaped(&e), "bad frame");
            let (code, reason) = decode_close(&e);
            return Next::Close(code, reason);
        }
    };
    let reply = match frame.kind {
        Some(frame::Kind::Ping(p)) => Frame {
            id: frame.id,
            kind: Some(frame::Kind::Pong(Pong {
                timestamp: p.timestamp,
                server_time: now_ms(),
            })),
        },
        Some(frame::Kind::Request(req)) => {
            if frame.id == 0 {
                return Next::Close(close_code::PROTOCOL, "request id must be non-zero".into());
            }
            let response = handlers::handle(state, session, req.op).await;
            Frame::response(frame.id, response)
        }
        // Pongs, stray responses/pushes and kinds from a newer protocol carry
        // nothing the server must act on.
        _ => return Next::Continue,
    };
    let Some(bytes) = encode(&reply).or_else(|| {
        encode(&Frame::response(
            frame.id,
            Response::error(codes::UNKNOWN, "response too large"),
        ))
    }) else {
        return Next::Close(close_code::PROTOCOL, "internal encoding failure".into());
    };
    if session.tx.send(Outbound::Frame(bytes)).await.is_err() {
        return Next::End;
    }
    Next::Continue
}
