//! Loopback load generator for imsync-server.
//!
//! Run: `CARGO_TARGET_DIR=... cargo bench -p imsync-server --bench loadgen`
//! (the bench profile is release). It starts the real server binary with
//! `--rate-limit 0` on 127.0.0.1:0 and a temporary data directory, drives it
//! over real WebSockets, and prints a Markdown report on stdout.
//!
//! Phases (sizes are fixed so runs are comparable and bounded):
//!  1. memory: server RSS idle, then with 1000 idle authenticated clients;
//!  2. group fan-out: 500-member group, 200 pipelined messages;
//!  3. group latency: 50 sequential messages, latency to each member;
//!  4. 1:1 throughput: 100 sender->receiver pairs, 200 messages each;
//!  5. 1:1 latency: 1000 sequential send->push samples, unloaded;
//!  6. pull throughput: one inbox of 10 000 entries, pages of 100 and 500,
//!     and 100 clients pulling their 250-entry inboxes concurrently;
//!  7. 5,000-member group (issue 14): 50 pipelined messages for server CPU
//!     per message, then 20 sequential ones for send->push latency, first
//!     with the 1,000 connected users online and 4,000 members offline (with write
//!     fan-out they still get inbox rows; as a timeline they cost nothing until they
//!     connect), then again with all 5,000 online.
//!
//! `LOADGEN_DATABASE=postgres` runs the server on a throwaway PostgreSQL (the e2e
//! harness's: fsync and synchronous_commit off) instead of SQLite, and reports the
//! database processes' CPU over the run next to the node's.
//!
//! `LOADGEN_ONLY=group500,direct,pull,group5000,nodes,chatroom` (any subset, comma
//! separated) picks phases; the memory phase always runs (it opens the
//! 1,000 connections the others use). `LOADGEN_G5K_EXTRA=N` connects N of
//! the 4,000 offline members of phase 7 for its second half (default 4000;
//! 0 skips it). With all 5,000 online the round is 10 + 5 messages unless
//! `LOADGEN_G5K_FULL=1` asks for 50 + 20 like the first round.
//!
//! `LOADGEN_READ_FANOUT=N` passes `--read-fanout-members N` (unset: the server's
//! default, 1,000, so the 5,000-member group is one timeline and the 500-member one is
//! not; 0: no timelines, every group written to each member's inbox).
//!
//! `LOADGEN_NODES=2` (with `LOADGEN_DATABASE=postgres`) also starts NATS and a second
//! node, and phase 8 ("nodes") measures send→push latency to devices on the same node and
//! on the other one.
//!
//! Phase 9 ("chatroom", after phase 8; about 5 s with the defaults, so it also runs when
//! `LOADGEN_ONLY` is unset): `LOADGEN_ROOM_MEMBERS` connections (default 1000; with
//! `LOADGEN_NODES=2` half on each node) join one chatroom, 16 at a time; a sender on the
//! first node sends 5 warm-up messages, then `LOADGEN_ROOM_MESSAGES` (default 100), each
//! once every member got the previous one. It reports the joins' cost, send→push latency
//! over all deliveries (and per node with two), the send ack, and each node's (and
//! PostgreSQL's) CPU per message; then it closes its connections and waits for the nodes
//! to go quiet.

#[path = "../tests/e2e/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{connect_request, group, private, text, Opts, Server};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use imsync_protocol::{
    decode_frame, encode_frame, frame, push, request, response, ChatroomJoinRequest, Conversation,
    ConversationType, Frame, Platform, PullInboxRequest, Response,
};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, WsMessage>;

/// What a connection's reader saw.
enum Event {
    Response(u64, Response),
}

/// Shared delivery bookkeeping: every inbox entry push (and chatroom message push)
/// counted, and for messages carrying an index `i`, the receive instant per delivery;
/// `closed` counts the connections whose reader ended (closed by either side).
#[derive(Default)]
struct Deliveries {
    count: AtomicU64,
    stamps: Mutex<Vec<(u64, Instant)>>,
    record: std::sync::atomic::AtomicBool,
    closed: AtomicU64,
}

/// A load-test connection: a sink for requests, responses on a channel, a
/// reader task counting pushes.
struct Conn {
    sink: Arc<tokio::sync::Mutex<Sink>>,
    responses: mpsc::UnboundedReceiver<Event>,
    next_id: u64,
}

impl Conn {
    async fn open(
        server: &Server,
        token: &str,
        device: &str,
        platform: Platform,
        stats: Arc<Deliveries>,
    ) -> Conn {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(server.ws_url(), None, true)
            .await
            .expect("ws");
        let (mut sink, mut stream) = ws.split();
        let hello = Frame {
            id: 1,
            kind: Some(frame::Kind::Request(connect_request(
                token, device, platform, false,
            ))),
        };
        sink.send(WsMessage::Binary(encode_frame(&hello).unwrap().into()))
            .await
            .unwrap();
        loop {
            match stream.next().await {
                Some(Ok(WsMessage::Binary(b))) => {
                    let f = decode_frame(&b).unwrap();
                    if let Some(frame::Kind::Response(r)) = f.kind {
                        assert_eq!(r.code, 0, "connect failed: {}", r.msg);
                        break;
                    }
                }
                Some(Ok(_)) => continue,
                other => panic!("connect: {other:?}"),
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let WsMessage::Binary(b) = msg else { continue };
                let Ok(f) = decode_frame(&b) else { continue };
                match f.kind {
                    Some(frame::Kind::Response(r)) => {
                        let _ = tx.send(Event::Response(f.id, r));
                    }
                    Some(frame::Kind::Push(p)) => {
                        let message = match p.event {
                            Some(push::Event::Entry(e)) => e.message,
                            Some(push::Event::ChatroomMessage(m)) => Some(m),
                            _ => continue,
                        };
                        let now = Instant::now();
                        stats.count.fetch_add(1, Ordering::Relaxed);
                        if stats.record.load(Ordering::Relaxed) {
                            let m = message.unwrap_or_default();
                            if let Ok(v) = serde_json::from_str::<Value>(&m.content) {
                                if let Some(i) = v["i"].as_u64() {
                                    stats.stamps.lock().unwrap().push((i, now));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            stats.closed.fetch_add(1, Ordering::Relaxed);
        });
        // Heartbeat, as a real client does: the server closes connections
        // that stay silent for IDLE_TIMEOUT_MS.
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        let beat = Arc::downgrade(&sink);
        tokio::spawn(async move {
            let period = Duration::from_millis(imsync_protocol::HEARTBEAT_INTERVAL_MS as u64);
            loop {
                tokio::time::sleep(period).await;
                let Some(sink) = beat.upgrade() else { return };
                let ping = encode_frame(&Frame::ping(u64::MAX, 0)).unwrap();
                if sink
                    .lock()
                    .await
                    .send(WsMessage::Binary(ping.into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Conn {
            sink,
            responses: rx,
            next_id: 2,
        }
    }

    /// Closes the WebSocket (a close frame; the reader ends when the server answers it).
    /// Dropping a `Conn` leaves the socket open until the server's idle timeout.
    async fn close(self) {
        let _ = self.sink.lock().await.close().await;
    }

    async fn send_op(&mut self, op: request::Op) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let bytes = encode_frame(&Frame::request(id, op)).unwrap();
        self.sink
            .lock()
            .await
            .send(WsMessage::Binary(bytes.into()))
            .await
            .unwrap();
        id
    }

    async fn response(&mut self) -> (u64, Response) {
        match tokio::time::timeout(Duration::from_secs(60), self.responses.recv()).await {
            Ok(Some(Event::Response(id, r))) => (id, r),
            other => panic!("no response: {:?}", other.is_ok()),
        }
    }

    /// Sends `n` messages built by `make(i)` keeping `window` in flight;
    /// returns when all are acknowledged.
    async fn pipeline(&mut self, n: usize, window: usize, make: impl Fn(usize) -> request::Op) {
        let mut sent = 0;
        let mut acked = 0;
        while acked < n {
            while sent < n && sent - acked < window {
                self.send_op(make(sent)).await;
                sent += 1;
            }
            let (_, r) = self.response().await;
            assert_eq!(r.code, 0, "send failed: {} {}", r.code, r.msg);
            acked += 1;
        }
    }
}

fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average (other work on the machine skews wall-clock
/// numbers; the CPU-per-message figures are not affected by it).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// All three load averages, for the figures that depend on the machine.
fn load3() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Whether `LOADGEN_ONLY` (unset = everything) selects phase `name`.
fn enabled(name: &str) -> bool {
    match std::env::var("LOADGEN_ONLY") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|p| p.trim() == name),
        _ => true,
    }
}

/// Latency samples (ms, sorted) from recorded stamps and send instants.
fn latencies(stats: &Deliveries, sent_at: &[Instant]) -> Vec<f64> {
    let mut lat: Vec<f64> = stats
        .stamps
        .lock()
        .unwrap()
        .iter()
        .filter(|(i, _)| (*i as usize) < sent_at.len())
        .map(|(i, t)| (*t - sent_at[*i as usize]).as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lat
}

/// One group measurement: `n_pipe` messages with 16 in flight (server CPU
/// from the first send to the last push), then `n_seq` sequential messages,
/// each fully pushed before the next (send→push latency per online member).
#[allow(clippy::too_many_arguments)]
async fn group_round(
    sender: &mut Conn,
    stats: &Deliveries,
    pid: i32,
    gid: &str,
    members: usize,
    online: usize,
    n_pipe: usize,
    n_seq: usize,
    tag: &str,
    timeline: bool,
    line: &mut impl FnMut(String),
) {
    let what = format!("group ({members} members, {online} online)");
    let base = stats.count.load(Ordering::Relaxed);
    let db0 = postgres_cpu_secs();
    let cpu0 = cpu_secs(pid);
    let start = Instant::now();
    sender
        .pipeline(n_pipe, 16, |i| msg(group(gid), format!("{tag}-{i}"), i))
        .await;
    let accepted = start.elapsed();
    let done = wait_count(
        stats,
        base + (n_pipe * online) as u64,
        Duration::from_secs(300),
    )
    .await;
    let cpu = cpu_secs(pid) - cpu0;
    let db_cpu = postgres_cpu_secs() - db0;
    line(format!(
        "| {what}: {n_pipe} messages, 16 in flight | accepted in {:.2} s ({:.1} msg/s), all {} pushes in {:.2} s ({:.0} pushes/s) |",
        accepted.as_secs_f64(),
        n_pipe as f64 / accepted.as_secs_f64(),
        n_pipe * online,
        (done - start).as_secs_f64(),
        (n_pipe * online) as f64 / (done - start).as_secs_f64()
    ));
    let rows = if timeline {
        format!("1 timeline row + {online} inbox rows copied for the online")
    } else {
        format!("{members} inbox rows")
    };
    line(format!(
        "| {what}: server CPU per message ({rows} + {online} pushes) | **{:.1} ms** = {:.1} µs per member → {:.1} msg/s per server core (load {}) |",
        cpu * 1000.0 / n_pipe as f64,
        cpu * 1e6 / (n_pipe * members) as f64,
        n_pipe as f64 / cpu,
        load3()
    ));
    if db_cpu > 0.0 {
        line(format!(
            "| {what}: PostgreSQL CPU per message | **{:.1} ms** |",
            db_cpu * 1000.0 / n_pipe as f64
        ));
    }
    stats.record.store(true, Ordering::Relaxed);
    stats.stamps.lock().unwrap().clear();
    let mut sent_at = Vec::new();
    for i in 0..n_seq {
        let target = stats.count.load(Ordering::Relaxed) + online as u64;
        sent_at.push(Instant::now());
        let id = sender
            .send_op(msg(group(gid), format!("{tag}-l{i}"), i))
            .await;
        let (rid, r) = sender.response().await;
        assert_eq!((rid, r.code), (id, 0));
        wait_count(stats, target, Duration::from_secs(60)).await;
    }
    stats.record.store(false, Ordering::Relaxed);
    let lat = latencies(stats, &sent_at);
    line(format!(
        "| {what}: send→push latency per online member ({n_seq} sequential msgs × {online}) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (load {}) |",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        load3()
    ));
}

/// Send→push latency to devices on the same node and on the other node: 1:1 (500
/// sequential messages to a user on each node) and a 400-member group (200 members on each
/// node, 30 sequential messages). Users x0..x399: even ones on node A, odd ones on node B.
async fn nodes_phase(a: &Server, b: &Server, line: &mut impl FnMut(String)) {
    let users: Vec<String> = (0..400).map(|i| format!("x{i}")).collect();
    let toks = tokens(a, &users).await;
    let (on_a, on_b) = (
        Arc::new(Deliveries::default()),
        Arc::new(Deliveries::default()),
    );
    let mut conns = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let (node, stats) = if i % 2 == 0 { (a, &on_a) } else { (b, &on_b) };
        let device = format!("{u}-pc");
        let c = Conn::open(node, &toks[u], &device, Platform::Desktop, stats.clone());
        conns.push(c.await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    for chunk in refs.chunks(200) {
        a.create_group("gx", chunk).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sender = &mut conns[0];
    for (peer, stats, label) in [("x2", &on_a, "same node"), ("x1", &on_b, "other node")] {
        stats.record.store(true, Ordering::Relaxed);
        stats.stamps.lock().unwrap().clear();
        let mut sent_at = Vec::new();
        for i in 0..500usize {
            // The receiver's push, and (same node) the sender's own copy.
            let want = if stats_is(stats, &on_a) { 2 } else { 1 };
            let target = stats.count.load(Ordering::Relaxed) + want;
            sent_at.push(Instant::now());
            sender
                .send_op(msg(private(peer), format!("{peer}-{i}"), i))
                .await;
            sender.response().await;
            wait_count(stats, target, Duration::from_secs(10)).await;
        }
        stats.record.store(false, Ordering::Relaxed);
        let mut last: HashMap<u64, Instant> = HashMap::new();
        for (i, t) in stats.stamps.lock().unwrap().iter() {
            let e = last.entry(*i).or_insert(*t);
            *e = (*e).max(*t);
        }
        let mut lat: Vec<f64> = last
            .iter()
            .map(|(i, t)| (*t - sent_at[*i as usize]).as_secs_f64() * 1000.0)
            .collect();
        lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
        line(format!(
            "| 1:1 send→push latency, receiver on the {label} (500 sequential) | p50 {:.2} ms, p99 {:.2} ms (load {}) |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            load3()
        ));
    }
    for stats in [&on_a, &on_b] {
        stats.record.store(true, Ordering::Relaxed);
        stats.stamps.lock().unwrap().clear();
    }
    let mut sent_at = Vec::new();
    for i in 0..30usize {
        let (ta, tb) = (
            on_a.count.load(Ordering::Relaxed) + 200,
            on_b.count.load(Ordering::Relaxed) + 200,
        );
        sent_at.push(Instant::now());
        sender.send_op(msg(group("gx"), format!("gx-{i}"), i)).await;
        sender.response().await;
        wait_count(&on_a, ta, Duration::from_secs(30)).await;
        wait_count(&on_b, tb, Duration::from_secs(30)).await;
    }
    for (stats, label) in [(&on_a, "same node"), (&on_b, "other node")] {
        stats.record.store(false, Ordering::Relaxed);
        let lat = latencies(stats, &sent_at);
        line(format!(
            "| group (400 members) send→push latency, 200 members on the {label} (30 msgs) | p50 {:.1} ms, p99 {:.1} ms (load {}) |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            load3()
        ));
    }
    // Closed now (a dropped `Conn` stays open until the server's idle timeout, which
    // would land in a later phase).
    for c in conns {
        c.close().await;
    }
}

fn stats_is(x: &Arc<Deliveries>, y: &Arc<Deliveries>) -> bool {
    Arc::ptr_eq(x, y)
}

/// A positive count from the environment, else `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: a number"))
    })
}

/// Waits (up to 15 s) until the processes use under 10% of a core over 250 ms, so that
/// work left over from connections closing does not land in the next measurement.
async fn settle(pids: &[i32]) {
    let until = Instant::now() + Duration::from_secs(15);
    let used = || pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
    loop {
        let c0 = used();
        tokio::time::sleep(Duration::from_millis(250)).await;
        if used() - c0 < 0.025 || Instant::now() > until {
            return;
        }
    }
}

/// Closes `conns` and waits (up to 30 s) until the server has closed each of them
/// (`closed` counts readers that ended, so pass how many had ended before); returns how
/// many did not close.
async fn close_all(conns: Vec<Conn>, stats: &Deliveries, closed_before: u64) -> u64 {
    let n = conns.len() as u64;
    for c in conns {
        c.close().await;
    }
    let until = Instant::now() + Duration::from_secs(30);
    while stats.closed.load(Ordering::Relaxed) < closed_before + n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (closed_before + n).saturating_sub(stats.closed.load(Ordering::Relaxed))
}

const ROOM: &str = "loadgen-room";

fn room_join() -> request::Op {
    request::Op::ChatroomJoin(ChatroomJoinRequest {
        room_id: ROOM.into(),
        create: true,
        count: 0,
    })
}

/// One room message with index `i`, sent after the previous one reached every member:
/// returns when all `on[k]` members on each node `k` have it, with the send and ack
/// instants.
async fn room_message(
    sender: &mut Conn,
    stats: &[Arc<Deliveries>],
    on: &[usize],
    tag: &str,
    i: usize,
) -> (Instant, Instant) {
    let targets: Vec<u64> = stats
        .iter()
        .zip(on)
        .map(|(s, n)| s.count.load(Ordering::Relaxed) + *n as u64)
        .collect();
    let room = Conversation::new(ConversationType::Chatroom, ROOM);
    let sent = Instant::now();
    let id = sender.send_op(msg(room, format!("{tag}-{i}"), i)).await;
    let (rid, r) = sender.response().await;
    let acked = Instant::now();
    assert_eq!((rid, r.code), (id, 0), "room send failed: {}", r.msg);
    for (s, target) in stats.iter().zip(targets) {
        wait_count(s, target, Duration::from_secs(60)).await;
    }
    (sent, acked)
}

/// Phase 9, chatroom: `LOADGEN_ROOM_MEMBERS` connections (split evenly over the nodes)
/// join one room; a sender on node a sends 5 warm-up messages and then
/// `LOADGEN_ROOM_MESSAGES`, each once every member got the previous one. Reports join
/// cost, send→push latency over all deliveries (and per node), the send ack and each
/// node's CPU per message.
async fn chatroom_phase(nodes: &[&Server], line: &mut impl FnMut(String)) {
    const WARMUP: usize = 5;
    let phase_start = Instant::now();
    let members = env_count("LOADGEN_ROOM_MEMBERS", 1000).max(1);
    let n = env_count("LOADGEN_ROOM_MESSAGES", 100).max(1);
    let a = nodes[0];
    let pids: Vec<i32> = nodes.iter().map(|s| s.pid()).collect();
    let cpus = || pids.iter().map(|p| cpu_secs(*p)).collect::<Vec<f64>>();
    let names = ["a", "b", "c", "d"];
    let stats: Vec<Arc<Deliveries>> = nodes
        .iter()
        .map(|_| Arc::new(Deliveries::default()))
        .collect();
    // Member i is on node i % nodes.len().
    let mut on = vec![0usize; nodes.len()];
    for i in 0..members {
        on[i % nodes.len()] += 1;
    }
    let what = if nodes.len() == 1 {
        format!("chatroom ({members} members)")
    } else {
        let split: Vec<String> = on.iter().map(usize::to_string).collect();
        format!(
            "chatroom ({members} members, {} on nodes {})",
            split.join(" + "),
            names[..nodes.len()].join(" + ")
        )
    };

    // The sender (on node a) creates the room.
    let sender_stats = Arc::new(Deliveries::default());
    let token = a.token("room-sender").await;
    let mut sender = Conn::open(
        a,
        &token,
        "room-sender-pc",
        Platform::Desktop,
        sender_stats.clone(),
    )
    .await;
    sender.send_op(room_join()).await;
    let (_, r) = sender.response().await;
    assert_eq!(r.code, 0, "sender's join failed: {}", r.msg);

    let users: Vec<String> = (0..members).map(|i| format!("r{i}")).collect();
    let toks: Vec<(usize, String)> = futures_util::stream::iter(users.iter().enumerate())
        .map(|(i, u)| async move { (i, a.token(u).await) })
        .buffer_unordered(16)
        .collect()
        .await;
    let opened = Instant::now();
    let conns: Vec<(usize, Conn)> = futures_util::stream::iter(toks)
        .map(|(i, t)| {
            let k = i % nodes.len();
            let (node, stats, user) = (nodes[k], stats[k].clone(), &users[i]);
            async move {
                let device = format!("{user}-pc");
                (
                    k,
                    Conn::open(node, &t, &device, Platform::Desktop, stats).await,
                )
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let connect_secs = opened.elapsed().as_secs_f64();
    let (cpu0, db0) = (cpus(), postgres_cpu_secs());
    let joining = Instant::now();
    let conns: Vec<(usize, Conn)> = futures_util::stream::iter(conns)
        .map(|(k, mut c)| async move {
            c.send_op(room_join()).await;
            let (_, r) = c.response().await;
            assert_eq!(r.code, 0, "join failed: {}", r.msg);
            (k, c)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let join_secs = joining.elapsed().as_secs_f64();
    let (cpu1, db1) = (cpus(), postgres_cpu_secs());
    let per_join: Vec<String> = (0..nodes.len())
        .map(|k| {
            format!(
                "{:.2} ms on node {}",
                (cpu1[k] - cpu0[k]) * 1000.0 / members as f64,
                names[k]
            )
        })
        .collect();
    line(format!(
        "| {what}: connect, then join, 16 at a time | connected in {connect_secs:.1} s; joined in {join_secs:.1} s ({:.0} joins/s); server CPU per join {}{} (load {}) |",
        members as f64 / join_secs,
        per_join.join(", "),
        if db1 > db0 {
            format!(", PostgreSQL {:.2} ms", (db1 - db0) * 1000.0 / members as f64)
        } else {
            String::new()
        },
        load3()
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Background CPU of the idle connections (heartbeats) over 2 s, to tell apart from
    // the per-message figures.
    let c0 = cpus();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<f64> = cpus()
        .iter()
        .zip(&c0)
        .map(|(c1, c0)| (c1 - c0) * 1000.0 / 2.0)
        .collect();

    for w in 0..WARMUP {
        room_message(&mut sender, &stats, &on, "room-warm", w).await;
    }
    for s in &stats {
        s.stamps.lock().unwrap().clear();
        s.record.store(true, Ordering::Relaxed);
    }
    let (cpu0, db0) = (cpus(), postgres_cpu_secs());
    let mut sent_at = Vec::with_capacity(n);
    let mut acks = Vec::with_capacity(n);
    let measuring = Instant::now();
    for i in 0..n {
        let (sent, acked) = room_message(&mut sender, &stats, &on, "room", i).await;
        sent_at.push(sent);
        acks.push((acked - sent).as_secs_f64() * 1000.0);
    }
    let measured_secs = measuring.elapsed().as_secs_f64();
    let (cpu1, db1) = (cpus(), postgres_cpu_secs());
    for s in &stats {
        s.record.store(false, Ordering::Relaxed);
    }

    let per_node: Vec<Vec<f64>> = stats.iter().map(|s| latencies(s, &sent_at)).collect();
    let mut all: Vec<f64> = per_node.iter().flatten().copied().collect();
    all.sort_by(|x, y| x.partial_cmp(y).unwrap());
    if all.len() != n * members {
        // Duplicates or losses (the counts only ever waited for "at least").
        line(format!(
            "| {what}: **deliveries recorded {} ≠ {} expected** | |",
            all.len(),
            n * members
        ));
    }
    let fmt = |lat: &[f64]| {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        )
    };
    line(format!(
        "| {what}: send→push latency over all deliveries ({n} sequential msgs × {members}, after {WARMUP} warm-up) | {} (load {}) |",
        fmt(&all),
        load3()
    ));
    if nodes.len() > 1 {
        for (k, lat) in per_node.iter().enumerate() {
            let whose = if k == 0 {
                "the sender's node"
            } else {
                "the other node"
            };
            line(format!(
                "| {what}: send→push latency, the {} members on node {} ({whose}) | {} |",
                on[k],
                names[k],
                fmt(lat)
            ));
        }
    }
    // Per message: until the last member had it.
    let mut last: HashMap<u64, Instant> = HashMap::new();
    for s in &stats {
        for (i, t) in s.stamps.lock().unwrap().iter() {
            let e = last.entry(*i).or_insert(*t);
            *e = (*e).max(*t);
        }
    }
    let mut fanned: Vec<f64> = last
        .iter()
        .map(|(i, t)| (*t - sent_at[*i as usize]).as_secs_f64() * 1000.0)
        .collect();
    fanned.sort_by(|x, y| x.partial_cmp(y).unwrap());
    acks.sort_by(|x, y| x.partial_cmp(y).unwrap());
    line(format!(
        "| {what}: send→ack (MessageAck); send→last member | ack p50 {:.2} ms, p99 {:.2} ms; last member p50 {:.1} ms, p99 {:.1} ms |",
        percentile(&acks, 0.5),
        percentile(&acks, 0.99),
        percentile(&fanned, 0.5),
        percentile(&fanned, 0.99)
    ));
    let per_msg: Vec<String> = (0..nodes.len())
        .map(|k| {
            let cpu = cpu1[k] - cpu0[k];
            format!(
                "node {} **{:.2} ms** ({:.1} µs per member on it; idle background {:.1} ms/s)",
                names[k],
                cpu * 1000.0 / n as f64,
                cpu * 1e6 / (n * on[k]) as f64,
                idle[k]
            )
        })
        .collect();
    line(format!(
        "| {what}: server CPU per message ({n} msgs in {measured_secs:.1} s) | {}{} (load {}) |",
        per_msg.join(", "),
        if db1 > db0 {
            format!("; PostgreSQL **{:.2} ms**", (db1 - db0) * 1000.0 / n as f64)
        } else {
            String::new()
        },
        load3()
    ));

    // Close everything and let the nodes finish removing the seats.
    let dropped: u64 = stats
        .iter()
        .chain([&sender_stats])
        .map(|s| s.closed.load(Ordering::Relaxed))
        .sum();
    let mut by_node: Vec<Vec<Conn>> = nodes.iter().map(|_| Vec::new()).collect();
    for (k, c) in conns {
        by_node[k].push(c);
    }
    let before = sender_stats.closed.load(Ordering::Relaxed);
    let mut not_closed = close_all(vec![sender], &sender_stats, before).await;
    for (k, conns) in by_node.into_iter().enumerate() {
        let before = stats[k].closed.load(Ordering::Relaxed);
        not_closed += close_all(conns, &stats[k], before).await;
    }
    settle(&pids).await;
    line(format!(
        "| {what}: connections the server closed during the phase; not closed 30 s after our close | {dropped}; {not_closed} (phase took {:.1} s) |",
        phase_start.elapsed().as_secs_f64()
    ));
}

/// CPU seconds of every `postgres` process (the server and its backends) so far; 0 when
/// the run is on SQLite.
fn postgres_cpu_secs() -> f64 {
    if std::env::var("LOADGEN_DATABASE").as_deref() != Ok("postgres") {
        return 0.0;
    }
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "postgres")
                .unwrap_or(false)
        })
        .map(cpu_secs)
        .sum()
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn msg(conv: imsync_protocol::Conversation, id: String, i: usize) -> request::Op {
    let mut req = text(conv, &id, "");
    // ~100 bytes of content, carrying the index for latency matching.
    req.content = json!({ "content": "x".repeat(80), "i": i }).to_string();
    request::Op::SendMessage(req)
}

async fn wait_count(stats: &Deliveries, target: u64, limit: Duration) -> Instant {
    let until = Instant::now() + limit;
    while stats.count.load(Ordering::Relaxed) < target {
        assert!(
            Instant::now() < until,
            "deliveries stalled at {} of {target}",
            stats.count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Instant::now()
}

async fn tokens(server: &Server, users: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for u in users {
        out.insert(u.clone(), server.token(u).await);
    }
    out
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let load_start = loadavg();
    let on_postgres = std::env::var("LOADGEN_DATABASE").as_deref() == Ok("postgres");
    let postgres = on_postgres.then(|| {
        common::postgres::Postgres::start("loadgen").expect("PostgreSQL is not installed")
    });
    let database_url = postgres.as_ref().map(|pg| pg.create_database("loadgen"));
    let mut opts = Opts::default();
    if let Some(url) = &database_url {
        opts.extra_args
            .extend(["--database-url".to_string(), url.clone()]);
    }
    // LOADGEN_NODES=2 (PostgreSQL only): the node joins a NATS with a second node, and the
    // "nodes" phase measures fan-out latency across them.
    let nats = (on_postgres && std::env::var("LOADGEN_NODES").as_deref() == Ok("2"))
        .then(|| common::nats::Nats::start("loadgen").expect("nats-server is not installed"));
    if let Some(nats) = &nats {
        opts.extra_args
            .extend(["--nats-url".to_string(), nats.url()]);
    }
    // Unset: the server's default threshold (1,000 members), so the 500-member group is
    // written to each inbox and the 5,000-member one is a timeline. 0 = never a timeline.
    let read_fanout = std::env::var("LOADGEN_READ_FANOUT").ok();
    if let Some(n) = &read_fanout {
        opts.extra_args
            .extend(["--read-fanout-members".to_string(), n.clone()]);
    }
    let timeline_from: usize = read_fanout
        .as_deref()
        .map_or(1000, |n| n.parse().expect("LOADGEN_READ_FANOUT: a number"));
    let server = Server::start(opts.clone());
    let db_cpu0 = postgres_cpu_secs();
    let pid = server.pid();
    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line("## imsync-server loopback benchmark".into());
    line(format!(
        "\nmachine: {} cores, {}; server and load generator share the machine.\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_else(|| "unknown cpu".into())
    ));

    // 1. Memory per connected client.
    let users: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let toks = tokens(&server, &users).await;
    let rss_idle = rss_kb(pid);
    let stats = Arc::new(Deliveries::default());
    let mut conns = Vec::with_capacity(users.len());
    for u in &users {
        conns.push(
            Conn::open(
                &server,
                &toks[u],
                &format!("{u}-pc"),
                Platform::Desktop,
                stats.clone(),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_1000 = rss_kb(pid);
    line("| metric | value |".into());
    line("|---|---|".into());
    line(format!(
        "| server RSS, idle (after 1000 tokens issued) | {:.1} MiB |",
        rss_idle as f64 / 1024.0
    ));
    line(format!(
        "| server RSS, 1000 idle authenticated clients | {:.1} MiB |",
        rss_1000 as f64 / 1024.0
    ));
    line(format!(
        "| **memory per connected client** | **{:.1} KiB** |",
        (rss_1000.saturating_sub(rss_idle)) as f64 / 1000.0
    ));

    // 2. Group fan-out: 500 members, 200 messages, window 16.
    if enabled("group500") {
        let members: Vec<&str> = users[..500].iter().map(String::as_str).collect();
        for chunk in members.chunks(250) {
            server.create_group("g500", chunk).await;
        }
        let base = stats.count.load(Ordering::Relaxed);
        let n_group = 200usize;
        let cpu0 = cpu_secs(pid);
        let start = Instant::now();
        conns[0]
            .pipeline(n_group, 16, |i| msg(group("g500"), format!("g-{i}"), i))
            .await;
        let accepted = start.elapsed();
        let done = wait_count(
            &stats,
            base + (n_group * 500) as u64,
            Duration::from_secs(300),
        )
        .await;
        let fanned = done - start;
        let cpu_group = cpu_secs(pid) - cpu0;
        line(format!(
            "| group (500 members): messages accepted | {:.0} msg/s ({n_group} in {:.2} s) |",
            n_group as f64 / accepted.as_secs_f64(),
            accepted.as_secs_f64()
        ));
        line(format!(
            "| group (500 members): deliveries pushed | {:.0} deliveries/s ({} in {:.2} s) |",
            (n_group * 500) as f64 / fanned.as_secs_f64(),
            n_group * 500,
            fanned.as_secs_f64()
        ));
        line(format!(
        "| group (500 members): server CPU per message (store + 500 pushes) | **{:.2} ms** = {:.1} µs per delivery → {:.0} msg/s, {:.0} deliveries/s per server core (load {}) |",
        cpu_group * 1000.0 / n_group as f64,
        cpu_group * 1e6 / (n_group * 500) as f64,
        n_group as f64 / cpu_group,
        (n_group * 500) as f64 / cpu_group,
        load3()
    ));

        // 3. Group latency: 50 sequential messages, each fully delivered first.
        stats.record.store(true, Ordering::Relaxed);
        stats.stamps.lock().unwrap().clear();
        let mut sent_at = Vec::new();
        for i in 0..50usize {
            let target = stats.count.load(Ordering::Relaxed) + 500;
            sent_at.push(Instant::now());
            let id = conns[0]
                .send_op(msg(group("g500"), format!("gl-{i}"), i))
                .await;
            let (rid, r) = conns[0].response().await;
            assert_eq!((rid, r.code), (id, 0));
            wait_count(&stats, target, Duration::from_secs(30)).await;
        }
        stats.record.store(false, Ordering::Relaxed);
        let lat = latencies(&stats, &sent_at);
        line(format!(
        "| group send→push latency per member (50 msgs × 500) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (load {}) |",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        load3()
    ));
    }

    // 4. 1:1 throughput: 100 pairs, 200 messages each, window 16.
    let mut senders: Vec<Conn> = conns.drain(500..600).collect();
    if enabled("direct") {
        let pairs = 100usize;
        let per = 200usize;
        let base = stats.count.load(Ordering::Relaxed);
        let cpu0 = cpu_secs(pid);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (k, mut c) in senders.drain(..).enumerate() {
            let to = format!("m{}", 600 + k);
            tasks.push(tokio::spawn(async move {
                c.pipeline(per, 16, |i| msg(private(&to), format!("p{k}-{i}"), i))
                    .await;
                c
            }));
        }
        for t in tasks {
            senders.push(t.await.unwrap());
        }
        let accepted = start.elapsed();
        // Each message is pushed to the receiver and to the sender's own inbox.
        let done = wait_count(
            &stats,
            base + (pairs * per * 2) as u64,
            Duration::from_secs(300),
        )
        .await;
        let cpu_pairs = cpu_secs(pid) - cpu0;
        let total = pairs * per;
        line(format!(
            "| 1:1 (100 pairs): messages accepted | {:.0} msg/s ({total} in {:.2} s) |",
            total as f64 / accepted.as_secs_f64(),
            accepted.as_secs_f64()
        ));
        line(format!(
        "| 1:1 (100 pairs): deliveries pushed (receiver + sender's inbox) | {:.0} deliveries/s |",
        (total * 2) as f64 / (done - start).as_secs_f64()
    ));
        line(format!(
        "| 1:1: server CPU per message (store + ack + 2 pushes) | **{:.3} ms** → {:.0} msg/s per server core (load {}) |",
        cpu_pairs * 1000.0 / total as f64,
        total as f64 / cpu_pairs,
        load3()
    ));

        // 5. 1:1 latency, unloaded: 1000 sequential samples m700 -> m701.
        stats.record.store(true, Ordering::Relaxed);
        stats.stamps.lock().unwrap().clear();
        let mut sent_at = Vec::new();
        // m700's index, after the 100 senders were taken out of `conns`.
        let a_idx = 600;
        for i in 0..1000usize {
            let target = stats.count.load(Ordering::Relaxed) + 2;
            sent_at.push(Instant::now());
            conns[a_idx]
                .send_op(msg(private("m701"), format!("l-{i}"), i))
                .await;
            conns[a_idx].response().await;
            wait_count(&stats, target, Duration::from_secs(10)).await;
        }
        stats.record.store(false, Ordering::Relaxed);
        // Keep only the receiver's deliveries: the later stamp of each pair is
        // not necessarily the receiver's, so take the max per index (the sender's
        // own copy and the receiver's copy are both pushes of the same commit).
        let mut per_index: HashMap<u64, Instant> = HashMap::new();
        for (i, t) in stats.stamps.lock().unwrap().iter() {
            let e = per_index.entry(*i).or_insert(*t);
            if *t > *e {
                *e = *t;
            }
        }
        let mut lat: Vec<f64> = per_index
            .iter()
            .map(|(i, t)| (*t - sent_at[*i as usize]).as_secs_f64() * 1000.0)
            .collect();
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        line(format!(
        "| 1:1 send→push latency (1000 sequential, both copies delivered) | p50 {:.2} ms, p99 {:.2} ms (load {}) |",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        load3()
    ));
    }

    // 8. Across nodes (LOADGEN_NODES=2): latency to devices on the other node. The second
    // node also serves half the chatroom phase's members, and stops after both phases.
    let chatroom = enabled("chatroom");
    let node_b = (nats.is_some() && (enabled("nodes") || chatroom)).then(|| {
        let mut opts_b = opts.clone();
        opts_b
            .extra_args
            .extend(["--node-id".to_string(), "loadgen-b".to_string()]);
        Server::start(opts_b)
    });
    if let (Some(node_b), true) = (&node_b, enabled("nodes")) {
        nodes_phase(&server, node_b, &mut line).await;
    }

    // 9. Chatroom: one room, its members split over the nodes.
    if chatroom {
        let nodes: Vec<&Server> = std::iter::once(&server).chain(&node_b).collect();
        let pids: Vec<i32> = nodes.iter().map(|s| s.pid()).collect();
        settle(&pids).await;
        chatroom_phase(&nodes, &mut line).await;
    }
    drop(node_b);

    // 6. Pull throughput. Fill one inbox with 10 000 entries.
    if enabled("pull") {
        let bulk_token = server.token("bulk").await;
        let base = stats.count.load(Ordering::Relaxed);
        let mut tasks = Vec::new();
        for (k, mut c) in senders.drain(..).enumerate() {
            tasks.push(tokio::spawn(async move {
                c.pipeline(100, 16, |i| msg(private("bulk"), format!("b{k}-{i}"), i))
                    .await;
                c
            }));
        }
        for t in tasks {
            senders.push(t.await.unwrap());
        }
        wait_count(&stats, base + 10_000, Duration::from_secs(300)).await;
        let mut bulk = Conn::open(
            &server,
            &bulk_token,
            "bulk-pc",
            Platform::Desktop,
            stats.clone(),
        )
        .await;
        for limit in [100u32, 500] {
            let cpu0 = cpu_secs(pid);
            let start = Instant::now();
            let mut cursor = 0;
            let mut entries = 0usize;
            let mut bytes = 0usize;
            loop {
                bulk.send_op(request::Op::PullInbox(PullInboxRequest {
                    after_seq: cursor,
                    limit,
                }))
                .await;
                let (_, r) = bulk.response().await;
                let Some(response::Body::PullInbox(p)) = r.body else {
                    panic!("pull")
                };
                bytes += imsync_protocol::prost::Message::encoded_len(&p);
                entries += p.entries.len();
                if let Some(last) = p.entries.last() {
                    cursor = last.seq;
                }
                if !p.has_more {
                    break;
                }
            }
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_secs(pid) - cpu0;
            assert_eq!(entries, 10_000);
            line(format!(
            "| pull, one client, 10 000 entries, pages of {limit} | {:.0} entries/s ({:.1} MB/s, {:.2} s; server CPU {:.1} µs/entry) (load {}) |",
            entries as f64 / secs,
            bytes as f64 / secs / 1e6,
            secs,
            cpu * 1e6 / entries as f64,
            load3()
        ));
        }
        // 100 group members pull their 250-entry inboxes concurrently.
        let start = Instant::now();
        let mut tasks = Vec::new();
        let pullers: Vec<Conn> = conns.drain(0..100).collect();
        let cpu0 = cpu_secs(pid);
        for mut c in pullers {
            tasks.push(tokio::spawn(async move {
                let mut cursor = 0;
                let mut n = 0usize;
                loop {
                    c.send_op(request::Op::PullInbox(PullInboxRequest {
                        after_seq: cursor,
                        limit: 100,
                    }))
                    .await;
                    let (_, r) = c.response().await;
                    let Some(response::Body::PullInbox(p)) = r.body else {
                        panic!("pull")
                    };
                    n += p.entries.len();
                    if let Some(last) = p.entries.last() {
                        cursor = last.seq;
                    }
                    if !p.has_more {
                        return (n, c);
                    }
                }
            }));
        }
        let mut total = 0;
        let mut back = Vec::new();
        for t in tasks {
            let (n, c) = t.await.unwrap();
            total += n;
            back.push(c);
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_secs(pid) - cpu0;
        // The pullers stay connected (they are members of the 5,000 group).
        conns.splice(0..0, back);
        line(format!(
        "| pull, 100 clients concurrently, {total} entries in all | {:.0} entries/s ({secs:.2} s; server CPU {:.1} µs/entry) (load {}) |",
        total as f64 / secs,
        cpu * 1e6 / total.max(1) as f64,
        load3()
    ));
    }

    // 7. 5,000-member group (issue 14). m0..m999 are connected (in `conns`
    // and `senders`); m1000..m4999 are offline members first, then (unless
    // LOADGEN_G5K_EXTRA=0) connected too.
    if enabled("group5000") {
        let all: Vec<String> = (0..5000).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        for chunk in refs.chunks(250) {
            server.create_group("g5000", chunk).await;
        }
        let online = conns.len() + senders.len();
        assert_eq!(online, 1000);
        // conns[0] is m0 (the pullers were put back in order).
        group_round(
            &mut conns[0],
            &stats,
            pid,
            "g5000",
            5000,
            online,
            50,
            20,
            "g5k-a",
            5000 >= timeline_from && timeline_from > 0,
            &mut line,
        )
        .await;
        let extra: usize = std::env::var("LOADGEN_G5K_EXTRA")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000)
            .min(4000);
        if extra > 0 {
            let server = &server;
            let names: Vec<String> = all[1000..1000 + extra].to_vec();
            let opened = Instant::now();
            let connect_cpu0 = cpu_secs(pid);
            let connect_db0 = postgres_cpu_secs();
            let toks: Vec<(String, String)> = futures_util::stream::iter(names)
                .map(|u| async move {
                    let t = server.token(&u).await;
                    (u, t)
                })
                .buffer_unordered(16)
                .collect()
                .await;
            let more: Vec<Conn> = futures_util::stream::iter(toks)
                .map(|(u, t)| {
                    let stats = stats.clone();
                    async move {
                        Conn::open(server, &t, &format!("{u}-pc"), Platform::Desktop, stats).await
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;
            let connect_cpu = cpu_secs(pid) - connect_cpu0;
            let connect_db = postgres_cpu_secs() - connect_db0;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let online = online + more.len();
            // Each returning member's connect copies the 70 messages sent while they were
            // away when the group is a timeline; with write fan-out they were copied then.
            line(format!(
                "| {} offline members come back (token + connect{}) | server CPU {:.2} s ({:.2} ms each), PostgreSQL CPU {:.2} s |",
                more.len(),
                if 5000 >= timeline_from && timeline_from > 0 {
                    ", catching up 70 entries each"
                } else {
                    ""
                },
                connect_cpu,
                connect_cpu * 1000.0 / more.len().max(1) as f64,
                connect_db
            ));
            // All online costs seconds of CPU per message on 2 cores, so by
            // default this round is short; LOADGEN_G5K_FULL=1 runs 50 + 20.
            let (n_pipe, n_seq) = if std::env::var("LOADGEN_G5K_FULL").is_ok() {
                (50, 20)
            } else {
                (10, 5)
            };
            line(format!(
                "| {} more members connected for the second half | in {:.1} s; server RSS {:.1} MiB with {online} clients |",
                more.len(),
                opened.elapsed().as_secs_f64(),
                rss_kb(pid) as f64 / 1024.0
            ));
            // Background cost of the idle connections (heartbeats), so it
            // can be told apart from the per-message figures.
            let cpu0 = cpu_secs(pid);
            tokio::time::sleep(Duration::from_secs(3)).await;
            line(format!(
                "| server CPU while {online} clients idle (heartbeats) | {:.1} ms per second |",
                (cpu_secs(pid) - cpu0) * 1000.0 / 3.0
            ));
            group_round(
                &mut conns[0],
                &stats,
                pid,
                "g5000",
                5000,
                online,
                n_pipe,
                n_seq,
                "g5k-b",
                5000 >= timeline_from && timeline_from > 0,
                &mut line,
            )
            .await;
            drop(more);
        }
    }
    line(format!(
        "| load average (1 min) at start / end | {load_start} / {} |",
        loadavg()
    ));
    line(format!(
        "| server RSS at the end | {:.1} MiB |",
        rss_kb(pid) as f64 / 1024.0
    ));
    if postgres.is_some() {
        line(format!(
            "| PostgreSQL CPU over the whole run (all its processes) | {:.2} s |",
            postgres_cpu_secs() - db_cpu0
        ));
    }
    let db = std::fs::metadata(common::data_dir(&server).join("imsync-server.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    line(format!(
        "| database size at the end (before checkpoint) | {:.1} MiB |",
        db as f64 / 1048576.0
    ));

    if let Ok(path) = std::env::var("LOADGEN_REPORT") {
        let _ = std::fs::write(path, &report);
    }
}
