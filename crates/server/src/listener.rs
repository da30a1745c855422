//! The accept loop and HTTP/1.1 serving of each connection, with the
//! defences against slow-loris clients.
//!
//! `axum::serve` accepts without limit and has no timeouts, so sockets that
//! never finish a request pile up until the process is out of file
//! descriptors; then `accept` fails and nobody, not even `/health`, is
//! served. Here every accepted socket must first get a place in the
//! unauthenticated pool ([`ConnLimits`]) or is closed at once, so the
//! listener never stalls and idle sockets can hold only the pool. Then each
//! phase of a connection has a deadline:
//!
//! * first byte: `--idle-timeout` (a socket that sends nothing);
//! * each request head: `--header-read-timeout` (hyper's, which needs a
//!   timer; it also closes keep-alive connections idle between requests);
//! * each plain request's body and answer: `--request-timeout` (408); an
//!   upload whose token verified counts it from its last body bytes instead
//!   ([`RequestDeadline`]);
//! * the whole time a plain HTTP connection stays unauthenticated: the sum
//!   of those three ([`ConnSettings::unauthenticated_lifetime`]), counted
//!   from accept. The timeouts above bound reading and answering, not
//!   writing: a client that never reads its answers (say, thousands of
//!   pipelined requests) would otherwise keep the server's write pending,
//!   and its place, forever. Past its lifetime the connection is shut down
//!   gracefully (the answer in progress may finish) and [`CLOSE_GRACE`]
//!   later reset. An admin call whose signature verifies (or a media call
//!   whose token does, or a file served) authenticates the connection: it
//!   leaves the pool and this lifetime no longer applies;
//! * a WebSocket's authenticated ConnectRequest: `--handshake-timeout`,
//!   counted from accept and enforced by the WebSocket endpoint, which
//!   receives the connection's [`Ticket`] as a request extension and gives
//!   its place back once authenticated.
//!
//! A connection closed for misbehaving (over a cap, idle, slow head, past
//! its lifetime) is reset (`SO_LINGER` 0), so refusing a flood leaves no
//! TIME_WAIT sockets behind. A closing connection gives its place back
//! before the client can see the close. Every refusal and timeout goes to
//! the rate-limited [`RefusalLog`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tower_service::Service as _;

use crate::config::ConnSettings;
use crate::conn_limits::{ConnLimits, Ticket};
use crate::log_escape::Escaped;
use crate::refusal_log::{Reason, RefusalLog};
use crate::request_deadline::RequestDeadline;

/// Pause after `accept` fails for lack of resources (e.g. EMFILE), so a
/// full descriptor table does not turn the loop into a busy spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Time an unauthenticated connection past its lifetime gets to finish the
/// answer in progress before it is reset.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the accept loop and every connection share.
#[derive(Clone)]
pub struct Gate {
    /// The unauthenticated pool.
    pub limits: Arc<ConnLimits>,
    /// Rate-limited refusal logging.
    pub refusals: Arc<RefusalLog>,
    /// Timeouts.
    pub conn: ConnSettings,
}

/// Accepts until `shutdown` turns true; each admitted connection is served
/// on its own task holding an `alive` sender (the caller waits for them).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    gate: Gate,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (tcp, peer) = tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    gate.refusals
                        .note(Reason::AcceptError, None, Some(&e.to_string()));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let ticket = match gate.limits.admit(peer.ip()) {
            Ok(t) => t,
            Err(reason) => {
                // Closed at once: over a cap, waiting is what the attacker wants.
                reset(tcp);
                gate.refusals.note(reason, Some(peer.ip()), None);
                continue;
            }
        };
        // Small frames must leave at once: without TCP_NODELAY, Nagle's
        // algorithm and delayed ACKs add ~40 ms to a push after a response.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %Escaped(&e), "set_nodelay failed");
        }
        tokio::spawn(connection(
            tcp,
            peer,
            ticket,
            router.clone(),
            gate.clone(),
            shutdown.clone(),
            alive.clone(),
        ));
    }
}

/// Closes `tcp` with a reset (`SO_LINGER` 0) instead of a FIN: nothing is
/// owed to the client, and the server does not keep a TIME_WAIT socket.
fn reset(tcp: TcpStream) {
    if let Err(e) = tcp.set_zero_linger() {
        tracing::debug!(error = %Escaped(&e), "SO_LINGER failed");
    }
    drop(tcp);
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    ticket: Ticket,
    router: Router,
    gate: Gate,
    mut shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    // The first byte, within the idle timeout (peek leaves it for hyper).
    let mut first = [0u8; 1];
    let silent = tokio::select! {
        _ = shutdown.changed() => false,
        peeked = tokio::time::timeout(gate.conn.idle_timeout, tcp.peek(&mut first)) => match peeked {
            Ok(Ok(n)) if n > 0 => {
                return serve_http(tcp, peer, ticket, router, gate, shutdown).await;
            }
            Ok(_) => false,
            Err(_) => true,
        },
    };
    ticket.closing();
    if silent {
        reset(tcp);
        gate.refusals
            .note(Reason::IdleTimeout, Some(peer.ip()), None);
    }
}

/// Serves HTTP/1.1 on a connection that has sent its first byte, until it
/// closes or upgrades to a WebSocket (which then lives on its own task).
async fn serve_http(
    tcp: TcpStream,
    peer: SocketAddr,
    ticket: Ticket,
    router: Router,
    gate: Gate,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = ConnIo::new(tcp, ticket.clone());
    let flags = io.flags.clone();
    let service = ConnService {
        router,
        ticket: ticket.clone(),
        refusals: gate.refusals.clone(),
        request_timeout: gate.conn.request_timeout,
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(gate.conn.header_read_timeout);
    let conn = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = *shutdown.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    // Graceful shutdown at the end of the lifetime, reset at `hard`.
    let mut lifetime = ticket.deadline(gate.conn.unauthenticated_lifetime());
    let mut hard: Option<Instant> = None;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    // Part of a request head, then nothing more: slow-loris.
                    // Without one it is a keep-alive connection gone quiet
                    // after its last answer, closed as usual.
                    if e.is_timeout() && flags.read_since_write.load(Ordering::Acquire) {
                        flags.reset.store(true, Ordering::Release);
                        gate.refusals.note(Reason::HeaderReadTimeout, Some(peer.ip()), None);
                    } else if e.is_timeout() {
                        tracing::debug!(peer = %peer.ip(), "idle keep-alive connection closed");
                    } else {
                        tracing::debug!(error = %Escaped(&e), "connection error");
                    }
                }
                break;
            }
            changed = shutdown.changed(), if !draining => {
                if changed.is_err() || *shutdown.borrow() {
                    // Answer the request in progress, then close.
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = sleep_until(lifetime) => {
                lifetime = None;
                // An authenticated admin connection is no longer bounded.
                if ticket.is_unauthenticated() {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                    hard = Instant::now().checked_add(CLOSE_GRACE);
                }
            }
            () = sleep_until(hard) => {
                hard = None;
                if ticket.is_unauthenticated() {
                    flags.reset.store(true, Ordering::Release);
                    gate.refusals.note(Reason::LifetimeExceeded, Some(peer.ip()), None);
                    break;
                }
            }
        }
    }
}

/// Sleeps until `at`; forever when there is none.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The socket as hyper (and, after an upgrade, the WebSocket) sees it.
/// Gives the connection's place back when it shuts down or is dropped,
/// before the client can see the close (and connect again), and resets
/// instead of closing when told to.
struct ConnIo {
    tcp: TcpStream,
    ticket: Ticket,
    flags: Arc<ConnFlags>,
}

/// Shared between a [`ConnIo`] and the task serving it.
#[derive(Default)]
struct ConnFlags {
    /// Close with a reset (`SO_LINGER` 0) when dropped.
    reset: AtomicBool,
    /// Bytes arrived since the last write (the connection is not just idle
    /// between requests).
    read_since_write: AtomicBool,
}

impl ConnIo {
    fn new(tcp: TcpStream, ticket: Ticket) -> ConnIo {
        ConnIo {
            tcp,
            ticket,
            flags: Arc::default(),
        }
    }

    fn wrote<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(_)) = &polled {
            self.flags.read_since_write.store(false, Ordering::Release);
        }
        polled
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        self.ticket.closing();
        if self.flags.reset.load(Ordering::Acquire) {
            if let Err(e) = self.tcp.set_zero_linger() {
                tracing::debug!(error = %Escaped(&e), "SO_LINGER failed");
            }
        }
        // The socket itself is closed after this, when `tcp` is dropped.
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if buf.filled().len() > before {
                this.flags.read_since_write.store(true, Ordering::Release);
            }
        }
        polled
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.wrote(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.ticket.closing();
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

/// The per-connection service: hands the connection's [`Ticket`] to the
/// handlers and bounds each request's time.
#[derive(Clone)]
struct ConnService {
    router: Router,
    ticket: Ticket,
    refusals: Arc<RefusalLog>,
    request_timeout: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(self.ticket.clone());
        let mut router = self.router.clone();
        let refusals = self.refusals.clone();
        let limit = self.request_timeout;
        let peer = self.ticket.peer();
        // Handlers may push it back (uploads: see RequestDeadline).
        let deadline = RequestDeadline::after(limit);
        req.extensions_mut().insert(deadline.clone());
        Box::pin(async move {
            // A WebSocket upgrade answers at once; its connection then lives
            // on its own task under the handshake timeout.
            let answer = router.call(req);
            tokio::pin!(answer);
            loop {
                tokio::select! {
                    answered = &mut answer => return answered,
                    () = tokio::time::sleep_until(deadline.at()) => {
                        if deadline.passed() {
                            break;
                        }
                    }
                }
            }
            refusals.note(Reason::RequestTimeout, Some(peer), None);
            let mut resp = Response::new(Body::from("request timeout"));
            *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
            resp.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            Ok(resp)
        })
    }
}
