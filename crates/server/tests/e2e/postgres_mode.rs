//! `--database-url`: the whole server on PostgreSQL instead of SQLite. Real processes on
//! loopback: a throwaway PostgreSQL cluster and `imsync-server` nodes sharing it.

use std::collections::HashSet;

use imsync_protocol::Platform;

use crate::common::postgres::Postgres;
use crate::common::*;

fn on_postgres(url: &str) -> Opts {
    Opts {
        extra_args: vec!["--database-url".into(), url.into()],
        ..Opts::default()
    }
}

#[tokio::test]
async fn a_node_on_postgres_loses_nothing_acknowledged_across_sigkill() {
    let Some(pg) = Postgres::start("postgres mode sigkill") else {
        return;
    };
    let url = pg.create_database("node");
    let mut server = Server::start(on_postgres(&url));
    server
        .create_group("team", &["alice", "bob", "carol"])
        .await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut acked = Vec::new();
    for i in 0..30u32 {
        let conv = if i.is_multiple_of(2) {
            private("bob")
        } else {
            group("team")
        };
        let ack = alice
            .send(text(conv, &format!("k{i}"), &format!("n{i}")))
            .await;
        acked.push(ack.message_uid);
    }
    // Live pushes on the node, in seq order.
    for (i, uid) in acked.iter().enumerate() {
        let entry = bob.next_entry().await;
        assert_eq!(entry.seq, i as u64 + 1);
        assert_eq!(&entry.message.unwrap().message_uid, uid);
    }
    server.kill();
    let server = server.restart(None);
    assert!(
        !server.dir.path().join("data/imsync-server.db").exists(),
        "no SQLite database next to PostgreSQL"
    );
    // A new device pulls every message once, in order, from the restarted node.
    let mut bob_web = server.client("bob", Platform::Web, "bob-web").await;
    assert_eq!(bob_web.ack.inbox_head_seq, 30);
    let inbox = bob_web.pull_all(0, 7).await;
    assert_eq!(uids(&inbox), acked);
    // Dedup and groups survive: the same client id answers the first ack.
    let mut alice = server.desktop("alice").await;
    let again = alice.send(text(private("bob"), "k0", "n0")).await;
    assert_eq!(again.message_uid, acked[0]);
    let count = pg.psql("node", "SELECT count(*) FROM messages").unwrap();
    assert_eq!(count, "30", "the rows are in PostgreSQL");
    // A clean stop closes its database connections without a panic.
    let mut server = server;
    server.signal(libc::SIGTERM);
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}\n{}", server.log());
}

/// `n` messages from `client`, every third to the group "team" and the rest to `peer`,
/// under client ids `{prefix}{i}`; their uids in send order.
async fn send_many(client: &mut Client, prefix: &str, peer: &str, n: usize) -> Vec<String> {
    let mut uids = Vec::with_capacity(n);
    for i in 0..n {
        let conv = if i.is_multiple_of(3) {
            group("team")
        } else {
            private(peer)
        };
        let id = format!("{prefix}{i}");
        uids.push(client.send(text(conv, &id, &id)).await.message_uid);
    }
    uids
}

/// Two nodes on one database: users on different nodes write to each other at the same
/// time (each node's writer locks the same inbox heads); every inbox ends gap-free with
/// every message exactly once, and either node serves any user's pull.
#[tokio::test]
async fn two_nodes_share_one_database() {
    let Some(pg) = Postgres::start("postgres mode two nodes") else {
        return;
    };
    let url = pg.create_database("shared");
    let node_a = Server::start(on_postgres(&url));
    let node_b = Server::start(on_postgres(&url));
    node_a
        .create_group("team", &["alice", "bob", "carol"])
        .await;
    let mut alice = node_a.desktop("alice").await;
    let mut bob = node_b.desktop("bob").await;
    const EACH: usize = 60;
    let alice_sends = send_many(&mut alice, "a", "bob", EACH);
    let bob_sends = send_many(&mut bob, "b", "alice", EACH);
    let (from_alice, from_bob) = tokio::join!(alice_sends, bob_sends);
    let all: HashSet<String> = from_alice.iter().chain(&from_bob).cloned().collect();
    assert_eq!(all.len(), 2 * EACH, "every send stored once");

    // Each user, on the node they are not connected to, pulls a gap-free inbox holding
    // every message of theirs once; each sender's own messages keep their send order.
    for (user, node, expected) in [
        ("alice", &node_b, 2 * EACH),
        ("bob", &node_a, 2 * EACH),
        ("carol", &node_a, 2 * (EACH / 3)),
    ] {
        let mut device = node
            .client(user, Platform::Web, &format!("{user}-web"))
            .await;
        let inbox = device.pull_all(0, 50).await;
        let seqs: Vec<u64> = inbox.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=expected as u64).collect::<Vec<_>>(),
            "{user}: gap-free"
        );
        let uids: Vec<&String> = inbox
            .iter()
            .map(|e| &e.message.as_ref().unwrap().message_uid)
            .collect();
        assert_eq!(
            uids.iter().collect::<HashSet<_>>().len(),
            expected,
            "{user}: no duplicates"
        );
        for sent in [&from_alice, &from_bob] {
            let order: Vec<&String> = uids.iter().copied().filter(|u| sent.contains(u)).collect();
            let want: Vec<&String> = sent.iter().filter(|u| order.contains(u)).collect();
            assert_eq!(order, want, "{user}: a sender's messages in send order");
        }
    }
}

/// Nodes on one PostgreSQL and one NATS: a message sent on one node is pushed live to
/// sessions on another, status messages (never stored) cross too, and a second desktop of
/// a user on another node replaces the first.
#[tokio::test]
async fn nodes_on_nats_push_and_kick_across_nodes() {
    use imsync_protocol::{codes, push};

    let Some(deployment) = Deployment::start("nats nodes") else {
        return;
    };
    let node_a = Server::start(deployment.node("a", &[]));
    let node_b = Server::start(deployment.node("b", &[]));
    node_a
        .create_group("team", &["alice", "bob", "carol"])
        .await;
    let mut alice = node_a.desktop("alice").await;
    let mut bob = node_b.desktop("bob").await;
    let mut carol = node_b.client("carol", Platform::Web, "carol-web").await;

    alice.send(text(private("bob"), "x1", "a to b")).await;
    assert_eq!(entry_text(&bob.next_entry().await), "a to b");
    assert_eq!(
        entry_text(&alice.next_entry().await),
        "a to b",
        "her own copy"
    );
    bob.send(text(group("team"), "x2", "b to team")).await;
    assert_eq!(entry_text(&alice.next_entry().await), "b to team");
    // carol is on bob's node: the group message reached her there, as before.
    assert_eq!(entry_text(&carol.next_entry().await), "b to team");
    // A status message is stored nowhere: only the push can carry it across.
    let mut typing = text(private("alice"), "t1", "typing");
    typing.object_name = "RC:TypSts".into();
    typing.is_status_message = true;
    typing.is_persisted = false;
    bob.send(typing).await;
    let status = alice.next_push().await;
    assert!(
        matches!(&status.event, Some(push::Event::StatusMessage(m)) if m.object_name == "RC:TypSts"),
        "{status:?}"
    );

    // bob's second desktop connects to node a: his desktop on node b is replaced.
    let mut bob_pc2 = node_a.client("bob", Platform::Desktop, "bob-pc-2").await;
    let (closed, pushes) = bob.wait_closed().await;
    assert!(
        pushes.iter().any(|p| matches!(
            &p.event,
            Some(push::Event::Kick(k)) if k.code == codes::RC_DISCONN_KICK
        )),
        "the session on the other node is kicked, got {pushes:?}"
    );
    assert_eq!(closed.code, Some(1008));
    alice
        .send(text(private("bob"), "x3", "to the new pc"))
        .await;
    assert_eq!(entry_text(&bob_pc2.next_entry().await), "to the new pc");
    // carol's web session on node b was not touched.
    alice.send(text(private("carol"), "x4", "still here")).await;
    assert_eq!(entry_text(&carol.next_entry().await), "still here");
}

/// The multi-node run: 3 nodes on one PostgreSQL and one NATS, 3,000 messages
/// (private, and to a 50-member group) sent through all three, while node 3 is SIGKILLed —
/// with a send in flight — and restarted, twice. Nothing acknowledged is lost, the
/// in-flight send resent to another node is stored once, a device that lived through the
/// kills ends with every message once and in order (its pushes, then a pull from its
/// cursor, as the client does), and new devices pull full histories from any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_while_one_is_killed_and_restarted_twice() {
    three_nodes_with_kills("three nodes", 0).await;
}

/// The same run with the 50-member group as one timeline (read fan-out): its messages
/// reach the watcher's inbox by catch-ups (the pump of whichever node it is on, or the
/// private messages to it), across the kills, still once each and in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_with_the_group_as_one_timeline() {
    three_nodes_with_kills("three nodes timeline", 20).await;
}

async fn three_nodes_with_kills(name: &str, read_fanout_members: u32) {
    use imsync_protocol::{push, request, InboxEntry, Push};

    const TOTAL: usize = 3_000;
    let Some(pg) = Postgres::start(name) else {
        return;
    };
    let Some(nats) = crate::common::nats::Nats::start(name) else {
        return;
    };
    let url = pg.create_database("three");
    let opts = Opts {
        extra_args: vec![
            "--database-url".into(),
            url,
            "--nats-url".into(),
            nats.url(),
            "--read-fanout-members".into(),
            read_fanout_members.to_string(),
        ],
        ..Opts::default()
    };
    // Node 3 is taken out (None) while it is down.
    let mut nodes: Vec<Option<Server>> =
        (0..3).map(|_| Some(Server::start(opts.clone()))).collect();
    fn at(nodes: &[Option<Server>], i: usize) -> &Server {
        nodes[i].as_ref().expect("node is up")
    }
    let members: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    let member_refs: Vec<&str> = members.iter().map(String::as_str).collect();
    at(&nodes, 0).create_group("big", &member_refs).await;
    let mut senders = Vec::new();
    for s in 0..3 {
        senders.push(
            at(&nodes, s)
                .client(&format!("u{s}"), Platform::Desktop, &format!("u{s}-pc"))
                .await,
        );
    }
    // u3 receives every message: each private one is to u3, and u3 is in the group.
    let watcher = at(&nodes, 2).client("u3", Platform::Web, "u3-web").await;
    let collect = |mut c: Client| tokio::spawn(async move { c.wait_closed().await.1 });
    let mut phases = vec![collect(watcher)];

    let conv = |i: usize| {
        if i.is_multiple_of(2) {
            group("big")
        } else {
            private("u3")
        }
    };
    let mut to_u3: Vec<String> = Vec::with_capacity(TOTAL);
    let mut to_group: Vec<String> = Vec::new();
    for i in 0..TOTAL {
        let s = i % 3;
        let req = text(conv(i), &format!("m{i}"), &format!("message {i}"));
        let ack = if i == 1_000 || i == 2_000 {
            // In flight on node 3 when it dies: sent, never answered.
            senders[2]
                .send_request(request::Op::SendMessage(req.clone()))
                .await;
            nodes[2].as_mut().unwrap().kill();
            // The sender resends on another node under the same client id.
            senders[2] = at(&nodes, 0).client("u2", Platform::Desktop, "u2-pc").await;
            let ack = senders[2].send(req).await;
            let dead = nodes[2].take().unwrap();
            nodes[2] = Some(dead.restart(None));
            senders[2] = at(&nodes, 2).client("u2", Platform::Desktop, "u2-pc").await;
            if i == 1_000 {
                // The watcher lost node 3: it reconnects to node 1 and pulls what it
                // missed after its cursor (below), then goes on live there.
                let w = at(&nodes, 0).client("u3", Platform::Web, "u3-web").await;
                phases.push(collect(w));
            }
            ack
        } else {
            senders[s].send(req).await
        };
        to_u3.push(ack.message_uid.clone());
        if i.is_multiple_of(2) {
            to_group.push(ack.message_uid);
        }
    }
    // A second web device of u3 on node 2 replaces the watcher (a kick across nodes),
    // which ends its last phase.
    let mut fresh = at(&nodes, 1).client("u3", Platform::Web, "u3-web-2").await;
    let mut entries: Vec<InboxEntry> = Vec::new();
    for phase in phases {
        let pushes: Vec<Push> = phase.await.unwrap();
        entries.extend(pushes.into_iter().filter_map(|p| match p.event {
            Some(push::Event::Entry(e)) => Some(e),
            _ => None,
        }));
    }
    // As the client applies them: the next seq is taken, an old one skipped, and a gap
    // ends the pushes' use (a pull from the cursor brings the rest).
    let mut applied: Vec<String> = Vec::new();
    let mut cursor = 0;
    for e in entries {
        if e.seq == cursor + 1 {
            cursor = e.seq;
            applied.push(e.message.unwrap().message_uid);
        } else if e.seq > cursor + 1 {
            for pulled in fresh.pull_all(cursor, 200).await {
                if pulled.seq > cursor {
                    cursor = pulled.seq;
                    applied.push(pulled.message.unwrap().message_uid);
                }
            }
        }
    }
    for pulled in fresh.pull_all(cursor, 200).await {
        assert!(pulled.seq > cursor, "a pull after the cursor");
        applied.push(pulled.message.unwrap().message_uid);
    }
    assert_eq!(applied.len(), TOTAL, "every message once");
    assert_eq!(applied, to_u3, "in order");
    // New devices pull full histories from other nodes.
    assert_eq!(uids(&fresh.pull_all(0, 500).await), to_u3);
    let mut member = at(&nodes, 2).client("u49", Platform::Web, "u49-web").await;
    assert_eq!(
        uids(&member.pull_all(0, 500).await),
        to_group,
        "a group member's inbox on the restarted node"
    );
}

/// Two nodes, 16 users sending at once with requests in flight, each to every other user
/// and to their group, so each node's writer sees many jobs at a time whose row locks
/// (inbox heads) overlap the other node's in every order. Every send is acknowledged — a
/// deadlock between the nodes' transactions would fail a whole batch — and every inbox ends
/// gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_nodes_never_fail_a_send() {
    use imsync_protocol::request;

    let Some(pg) = Postgres::start("two writers") else {
        return;
    };
    let url = pg.create_database("writers");
    let nodes = [
        Server::start(on_postgres(&url)),
        Server::start(on_postgres(&url)),
    ];
    let users: Vec<String> = (0..16).map(|i| format!("w{i:02}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    nodes[0].create_group("all", &refs).await;
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = nodes[i % 2].desktop(user).await;
        let peers: Vec<String> = users.iter().filter(|u| *u != user).cloned().collect();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            // All requests first, then the answers: many jobs reach the writer together.
            let mut ids = Vec::new();
            for round in 0..3 {
                for (k, peer) in peers.iter().enumerate() {
                    let conv = if k % 5 == 0 {
                        group("all")
                    } else {
                        private(peer)
                    };
                    let id = format!("{user}-{round}-{k}");
                    let op = request::Op::SendMessage(text(conv, &id, &id));
                    ids.push(client.send_request(op).await);
                }
            }
            for id in ids {
                let r = client.response_for(id).await;
                assert_eq!(r.code, 0, "{user}: send {id} failed: {} {}", r.code, r.msg);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, user) in users.iter().enumerate() {
        let mut device = nodes[(i + 1) % 2]
            .client(user, Platform::Web, &format!("{user}-web"))
            .await;
        let inbox = device.pull_all(0, 500).await;
        let seqs: Vec<u64> = inbox.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=inbox.len() as u64).collect::<Vec<_>>(),
            "{user}: gap-free"
        );
        assert_eq!(device.ack.inbox_head_seq, inbox.len() as u64);
    }
}

/// Two nodes take sends of one conversation at the same moments: every message still gets
/// its own send time, in the order the conversation stored them (a history page by
/// timestamp never meets two at the same millisecond).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_conversation_on_two_nodes_keeps_strictly_increasing_send_times() {
    let Some(pg) = Postgres::start("clock nodes") else {
        return;
    };
    let url = pg.create_database("clock");
    let node_a = Server::start(on_postgres(&url));
    let node_b = Server::start(on_postgres(&url));
    let mut alice = node_a.desktop("alice").await;
    let mut bob = node_b.desktop("bob").await;
    async fn chat(client: &mut Client, prefix: &str, peer: &str) {
        for i in 0..150 {
            let id = format!("{prefix}{i}");
            client.send(text(private(peer), &id, &id)).await;
        }
    }
    tokio::join!(chat(&mut alice, "a", "bob"), chat(&mut bob, "b", "alice"));
    let entries = alice.pull_all(0, 500).await;
    assert_eq!(entries.len(), 300);
    let mut times: Vec<i64> = entries
        .iter()
        .map(|e| e.message.as_ref().unwrap().sent_time)
        .collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), 300, "two messages share a send time");
}
