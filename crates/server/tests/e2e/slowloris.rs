//! Slow-loris: connections that never finish their request (or never
//! authenticate) must neither exhaust the server's file descriptors nor
//! block the listener; they are closed after the (here lowered) timeouts,
//! and refusals are logged, rate-limited.

use std::time::{Duration, Instant};

use imsync_protocol::Platform;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The `count=N` of every refusal line logged for `reason`.
fn refusal_counts(log: &str, reason: &str) -> Vec<u64> {
    let tag = format!("reason={reason}");
    log.lines()
        .filter(|l| l.split_whitespace().any(|w| w == tag))
        .map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("count="))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("refusal line without a count: {l}"))
        })
        .collect()
}

#[tokio::test]
async fn half_open_sockets_cannot_starve_the_server() {
    const PER_IP: usize = 8;
    const ATTACK: usize = 150;
    // Long enough for the real client below to be served while the attack
    // is still on, on a loaded machine too.
    let timeout = Duration::from_secs(6);
    // Fewer file descriptors than the attacker opens sockets.
    let server = Server::start(Opts {
        nofile: Some(96),
        extra_args: args(&[
            "--max-unauthenticated-per-ip",
            "8",
            "--max-unauthenticated-connections",
            "24",
            "--idle-timeout",
            "6s",
            "--header-read-timeout",
            "6s",
        ]),
        ..Opts::default()
    });
    // The attacker (another address): half of the sockets send nothing,
    // half an unfinished request head.
    let burst = Instant::now();
    let mut attack = Vec::new();
    for i in 0..ATTACK {
        // Refused sockets are reset, possibly before the connect completes.
        let Ok(mut s) = try_connect_from("127.0.0.2", server.addr).await else {
            continue;
        };
        if i % 2 == 1 {
            // Refused sockets may already be closed.
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
        }
        attack.push((Instant::now(), s));
    }
    let burst = burst.elapsed();

    // While they are open the server answers and serves a real client.
    assert_eq!(server.health().await.0, 200, "{}", server.log());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    alice
        .send(text(private("bob"), "m1", "through the siege"))
        .await;
    assert_eq!(entry_text(&bob.next_entry().await), "through the siege");
    let admitted: Vec<usize> = (0..attack.len())
        .filter(|&i| still_open(&attack[i].1))
        .collect();
    assert!(
        !admitted.is_empty(),
        "the attack was still on while the client was served"
    );
    assert!(
        admitted.len() <= PER_IP,
        "at most {PER_IP} unauthenticated connections per address, {} open",
        admitted.len()
    );

    // Refusals are logged, at most one line per second with the count of
    // those it stands for.
    let least = (ATTACK - 2 * PER_IP) as u64;
    let log = server
        .wait_log("the per-address refusals, counted", |l| {
            refusal_counts(l, "per_ip_cap").iter().sum::<u64>() >= least
        })
        .await;
    let lines = refusal_counts(&log, "per_ip_cap").len() as u64;
    assert!(
        lines <= burst.as_secs() + 3,
        "{lines} refusal lines for a {burst:?} burst: not rate-limited\n{log}"
    );

    // The half-open sockets are closed after the timeout, not before.
    for &i in &admitted {
        let (opened, sock) = &mut attack[i];
        wait_server_close(sock).await;
        assert!(
            opened.elapsed() >= timeout - Duration::from_millis(300),
            "socket {i} closed after {:?}, before the timeout",
            opened.elapsed()
        );
    }
    for (_, sock) in &mut attack {
        wait_server_close(sock).await;
    }
    server
        .wait_log("idle and header-read timeouts", |l| {
            !refusal_counts(l, "idle_timeout").is_empty()
                && !refusal_counts(l, "header_read_timeout").is_empty()
        })
        .await;
    // Their slots are free again: the attacker's address is served (once
    // the server has processed the closes it sent).
    assert!(
        served_again_within("127.0.0.2", server.addr, "/health", DEADLINE)
            .await
            .is_some(),
        "{}",
        server.log()
    );
    assert!(alice.ping_ok().await);
}

#[tokio::test]
async fn authenticated_sessions_leave_the_unauthenticated_pool() {
    const TOTAL: usize = 3;
    let server = Server::start(Opts {
        extra_args: args(&[
            "--max-unauthenticated-per-ip",
            "2",
            "--max-unauthenticated-connections",
            "3",
            // The silent sockets must outlast the checks made while they
            // fill the pool, on a loaded machine too.
            "--idle-timeout",
            "5s",
            "--header-read-timeout",
            "5s",
        ]),
        ..Opts::default()
    });
    // Twice the total cap of sessions from one address: each stops counting
    // once it has authenticated.
    let mut clients = Vec::new();
    for i in 0..2 * TOTAL {
        clients.push(server.desktop(&format!("u{i}")).await);
    }
    // Silent sockets from other addresses fill the pool...
    let mut attack = Vec::new();
    for i in 0..=TOTAL {
        // The last one is over the total cap: refused, maybe at connect.
        if let Ok(s) = try_connect_from(&format!("127.0.0.{}", i + 2), server.addr).await {
            attack.push(s);
        }
    }
    // ...so a new connection is closed at once,
    assert_eq!(
        http_from("127.0.0.1", server.addr, "/health").await,
        None,
        "over the total cap a new connection is refused\n{}",
        server.log()
    );
    server
        .wait_log("the total-cap refusal", |l| {
            !refusal_counts(l, "total_cap").is_empty()
        })
        .await;
    // while every session keeps working, heartbeats included.
    let (first, rest) = clients.split_at_mut(1);
    first[0]
        .send(text(private("u1"), "m1", "sessions unaffected"))
        .await;
    assert_eq!(
        entry_text(&rest[0].next_entry().await),
        "sessions unaffected"
    );
    for c in &mut clients {
        assert!(c.ping_ok().await);
    }
    // Once the idle timeout has closed the silent sockets, new connections
    // are accepted again.
    for sock in &mut attack {
        wait_server_close(sock).await;
    }
    assert!(
        served_again_within("127.0.0.1", server.addr, "/health", DEADLINE)
            .await
            .is_some(),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn unauthenticated_websockets_and_stalled_bodies_time_out() {
    let server = Server::start(Opts {
        // Short, but with room for the real client's getToken and connect
        // on a loaded machine running a debug server.
        extra_args: args(&["--handshake-timeout", "3s", "--request-timeout", "3s"]),
        ..Opts::default()
    });
    let mut session = server.desktop("alice").await;
    // Upgraded, but never sends its ConnectRequest.
    let mut silent = raw_ws(&server).await;
    let opened = Instant::now();
    let (closed, frames) = read_until_closed(&mut silent).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert!(opened.elapsed() < Duration::from_secs(3 + 5), "{closed:?}");
    server
        .wait_log("the handshake timeout", |l| {
            !refusal_counts(l, "handshake_timeout").is_empty()
        })
        .await;
    // The authenticated session, older than the handshake timeout, stays.
    assert!(session.ping_ok().await);

    // A request whose body never arrives is answered 408 and closed.
    let mut s = connect_from("127.0.0.1", server.addr).await;
    s.write_all(
        b"POST /user/getToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"userId\"",
    )
    .await
    .unwrap();
    let reply = wait_server_close(&mut s).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    server
        .wait_log("the request timeout", |l| {
            !refusal_counts(l, "request_timeout").is_empty()
        })
        .await;
    // Everything else is still served.
    let mut web = server.client("alice", Platform::Web, "alice-web").await;
    web.send(text(private("alice"), "w1", "still here")).await;
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0);
}

/// A socket from `src` whose receive buffer is as small as the kernel
/// allows, so that the server's answers pile up unread on its side.
async fn connect_small_window(src: &str, addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("SO_RCVBUF");
    socket
        .bind(format!("{src}:0").parse().expect("source address"))
        .expect("bind source address");
    tokio::time::timeout(DEADLINE, socket.connect(addr))
        .await
        .expect("tcp connect timeout")
        .expect("tcp connect")
}

/// Polls `path` from `src` until it is answered 200 (a refused connection
/// is closed unanswered) or `within` has passed; how long that took.
async fn served_again_within(
    src: &str,
    addr: std::net::SocketAddr,
    path: &str,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if http_from(src, addr, path).await == Some(200) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The place an unauthenticated connection holds is bounded in time even
/// when the server is stuck writing to it: 40,000 pipelined requests whose
/// answers are never read (the server's send buffer fills and stays full).
#[tokio::test]
async fn a_client_that_never_reads_its_answers_loses_its_place() {
    let server = Server::start(Opts {
        extra_args: args(&[
            "--max-unauthenticated-per-ip",
            "1",
            "--idle-timeout",
            "2s",
            "--header-read-timeout",
            "2s",
            "--request-timeout",
            "2s",
        ]),
        ..Opts::default()
    });
    const SRC: &str = "127.0.0.21";
    let mut stuck = connect_small_window(SRC, server.addr).await;
    let pipelined = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".repeat(40_000);
    // Until the server stops reading (or closes the connection).
    let _ = tokio::time::timeout(Duration::from_secs(3), stuck.write_all(&pipelined)).await;
    assert!(
        still_open(&stuck),
        "the server closed before its answers stalled"
    );
    // Its place (the only one for this address) is given back: the server
    // closes it at the latest idle + header-read + request timeouts after
    // accept plus a short grace for the answer in progress (here 8 s).
    let took = served_again_within(SRC, server.addr, "/health", Duration::from_secs(25)).await;
    assert!(
        took.is_some(),
        "a connection that never reads held its place for 25 s\n{}",
        server.log()
    );
    wait_server_close(&mut stuck).await;
    server
        .wait_log("the lifetime close", |l| {
            !refusal_counts(l, "lifetime_exceeded").is_empty()
        })
        .await;
}

/// A masked WebSocket frame as a client sends it.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Before authenticating, a WebSocket cannot hold its place by making the
/// server's writes stall: pings whose pongs fill the server's send buffer
/// (never read), then a Text frame, which the server answers with a close.
#[tokio::test]
async fn an_unauthenticated_websocket_that_never_reads_loses_its_place() {
    let server = Server::start(Opts {
        extra_args: args(&[
            "--max-unauthenticated-per-ip",
            "1",
            "--handshake-timeout",
            "5s",
        ]),
        ..Opts::default()
    });
    const SRC: &str = "127.0.0.22";
    let mut s = connect_small_window(SRC, server.addr).await;
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut byte))
            .await
            .expect("upgrade answer")
            .unwrap();
        assert_eq!(n, 1, "closed during the upgrade: {head:?}");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    let pings = client_frame(0x9, &[b'p'; 125]).repeat(30_000);
    let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(&pings)).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        s.write_all(&client_frame(0x1, b"hi")),
    )
    .await;
    // The place is free again once the server has given up writing, well
    // within the handshake timeout plus the write grace; without a bound
    // on those writes it is held until the client leaves.
    let took = served_again_within(SRC, server.addr, "/health", Duration::from_secs(25)).await;
    assert!(
        took.is_some(),
        "an unauthenticated WebSocket that never reads held its place for 25 s\n{}",
        server.log()
    );
    wait_server_close(&mut s).await;
}

/// A connection over a cap is reset, not closed with a FIN: under attack,
/// closing first would leave the server a TIME_WAIT per refusal.
#[tokio::test]
async fn refused_connections_are_reset() {
    let server = Server::start(Opts {
        extra_args: args(&["--max-unauthenticated-per-ip", "1"]),
        ..Opts::default()
    });
    const SRC: &str = "127.0.0.23";
    // Accepted in order: the first holds the address's one place.
    let held = connect_from(SRC, server.addr).await;
    // The reset may arrive before the connect has completed here.
    let read = match try_connect_from(SRC, server.addr).await {
        Ok(mut refused) => {
            let mut buf = [0u8; 16];
            tokio::time::timeout(DEADLINE, refused.read(&mut buf))
                .await
                .expect("the refused connection was not closed")
        }
        Err(e) => Err(e),
    };
    assert!(
        matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    assert!(still_open(&held));
}

/// One request on a kept-alive connection; the status and JSON body.
async fn keep_alive_call(
    s: &mut tokio::net::TcpStream,
    method: &str,
    path: &str,
    body: &serde_json::Value,
    signed: bool,
) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let (nonce, ts) = fresh_nonce();
    let sig = sign(if signed { APP_SECRET } else { "wrong" }, &nonce, &ts);
    req.push_str(&format!(
        "App-Key: {APP_KEY}\r\nNonce: {nonce}\r\nTimestamp: {ts}\r\nSignature: {sig}\r\n\r\n{body}"
    ));
    let exchange = async {
        s.write_all(req.as_bytes()).await?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                    let json = serde_json::from_slice(&got[end + 4..end + 4 + len])
                        .unwrap_or(serde_json::Value::Null);
                    return Ok::<_, std::io::Error>((status, json));
                }
            }
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("keep-alive call timed out")
        .unwrap_or_else(|e| panic!("{path} on a kept-alive connection: {e}"))
}

/// An app backend's pool of keep-alive connections to the admin API is not
/// capped as unauthenticated: a verified signature takes the connection out
/// of the pool (and out of the unauthenticated lifetime); unsigned or
/// badly signed calls do not.
#[tokio::test]
async fn signed_admin_connections_leave_the_unauthenticated_pool() {
    let server = Server::start(Opts {
        extra_args: args(&[
            "--max-unauthenticated-per-ip",
            "2",
            "--idle-timeout",
            "1s",
            "--header-read-timeout",
            "4s",
            "--request-timeout",
            "3s",
        ]),
        ..Opts::default()
    });
    const SRC: &str = "127.0.0.24";
    let token = serde_json::json!({ "userId": "pooled" });
    // Twice the per-address cap of signed keep-alive connections.
    let mut pool = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from(SRC, server.addr).await;
        let (status, body) = keep_alive_call(&mut s, "POST", "/user/getToken", &token, true).await;
        assert_eq!(status, 200, "{body}\n{}", server.log());
        pool.push(s);
    }
    // A badly signed call and a health check stay unauthenticated: they
    // fill the address's two places, and the next connection is refused.
    let mut bad = connect_from(SRC, server.addr).await;
    let (status, _) = keep_alive_call(&mut bad, "POST", "/user/getToken", &token, false).await;
    assert_eq!(status, 401);
    let mut health = connect_from(SRC, server.addr).await;
    let (status, _) =
        keep_alive_call(&mut health, "GET", "/health", &serde_json::json!({}), false).await;
    assert_eq!(status, 200);
    assert_eq!(http_from(SRC, server.addr, "/health").await, None);
    // The pooled connections outlive the unauthenticated lifetime (1 + 4 +
    // 3 s) while in use, kept alive with gaps below the header-read timeout.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(9) {
        for s in &mut pool {
            let (status, body) = keep_alive_call(s, "POST", "/user/getToken", &token, true).await;
            assert_eq!(status, 200, "{body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The unauthenticated ones were closed at the end of theirs.
    wait_server_close(&mut bad).await;
    wait_server_close(&mut health).await;
    // A pooled connection left idle after its answer is closed after the
    // header-read timeout like any keep-alive connection: a plain close, not
    // the reset a slow request head gets, and no refusal logged.
    let mut idle = pool.pop().unwrap();
    let mut buf = [0u8; 64];
    let end = tokio::time::timeout(DEADLINE, idle.read(&mut buf))
        .await
        .expect("the idle keep-alive connection was not closed");
    assert!(matches!(end, Ok(0)), "{end:?}");
    assert!(
        refusal_counts(&server.log(), "header_read_timeout").is_empty(),
        "{}",
        server.log()
    );
}
