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
//! * each plain request's body and answer: `--request-timeout` (408);
//! * a WebSocket's authenticated ConnectRequest: `--handshake-timeout`,
//!   counted from accept and enforced by the WebSocket endpoint, which
//!   receives the connection's [`Ticket`] as a request extension and gives
//!   its place back once authenticated.
//!
//! Every refusal and timeout goes to the rate-limited [`RefusalLog`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower_service::Service as _;

use crate::config::ConnSettings;
use crate::conn_limits::{ConnLimits, Ticket};
use crate::log_escape::Escaped;
use crate::refusal_log::{Reason, RefusalLog};

/// Pause after `accept` fails for lack of resources (e.g. EMFILE), so a
/// full descriptor table does not turn the loop into a busy spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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
                drop(tcp);
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
    tokio::select! {
        _ = shutdown.changed() => return,
        peeked = tokio::time::timeout(gate.conn.idle_timeout, tcp.peek(&mut first)) => match peeked {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return,
            Err(_) => {
                gate.refusals.note(Reason::IdleTimeout, Some(peer.ip()), None);
                return;
            }
        },
    }

    let service = ConnService {
        router,
        ticket,
        refusals: gate.refusals.clone(),
        request_timeout: gate.conn.request_timeout,
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(gate.conn.header_read_timeout);
    let conn = http
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = *shutdown.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    if e.is_timeout() {
                        gate.refusals.note(Reason::HeaderReadTimeout, Some(peer.ip()), None);
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
        }
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
        Box::pin(async move {
            // A WebSocket upgrade answers at once; its connection then lives
            // on its own task under the handshake timeout.
            match tokio::time::timeout(limit, router.call(req)).await {
                Ok(answered) => answered,
                Err(_) => {
                    refusals.note(Reason::RequestTimeout, Some(peer), None);
                    let mut resp = Response::new(Body::from("request timeout"));
                    *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
                    resp.headers_mut().insert(
                        header::CONNECTION,
                        header::HeaderValue::from_static("close"),
                    );
                    Ok(resp)
                }
            }
        })
    }
}
