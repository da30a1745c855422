//! Large groups as one timeline (`--read-fanout-members`): over the wire, online members
//! get live pushes with their own contiguous seqs, offline members cost no inbox rows until
//! they connect and then pull everything once, in order; across nodes, the timeline's
//! growth reaches the other nodes' members through NATS.

use imsync_protocol::Platform;

use crate::common::*;

fn timeline_from(members: u32) -> Opts {
    Opts {
        extra_args: vec!["--read-fanout-members".into(), members.to_string()],
        ..Opts::default()
    }
}

/// Inbox rows the server's SQLite file holds for `user`.
fn inbox_rows(server: &Server, user: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir(server).join("imsync-server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT count(*) FROM inbox WHERE user_id = ?1",
        [user],
        |r| r.get(0),
    )
    .unwrap()
}

/// Texts of `entries`, checking their seqs run on from `after` without a gap.
fn contiguous_texts(entries: &[imsync_protocol::InboxEntry], after: u64) -> Vec<String> {
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (after + 1..=after + entries.len() as u64).collect();
    assert_eq!(seqs, want, "seqs must run on without a gap");
    entries.iter().map(entry_text).collect()
}

#[tokio::test]
async fn online_members_get_pushes_and_offline_members_pull_once_in_order() {
    let server = Server::start(timeline_from(4));
    let members = ["alice", "bob", "carol", "dave", "erin", "frank"];
    server.create_group("big", &members).await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;

    let mut sent = Vec::new();
    for i in 0..20 {
        let who = if i % 4 == 3 { &mut bob } else { &mut alice };
        let body = format!("m{i}");
        who.send(text(group("big"), &format!("c{i}"), &body)).await;
        sent.push(body);
    }
    // Every member online sees every message, in order, each under the next seq.
    for (name, client) in [("alice", &mut alice), ("bob", &mut bob)] {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            got.push(client.next_entry().await);
        }
        assert_eq!(contiguous_texts(&got, 0), sent, "{name}'s pushes");
    }
    // The offline members' inboxes hold nothing yet: a send wrote no row for them.
    for user in ["carol", "dave", "erin", "frank"] {
        assert_eq!(inbox_rows(&server, user), 0, "{user}");
    }

    // carol connects: her head already counts the timeline, and one pull brings it all.
    let mut carol = server.desktop("carol").await;
    assert_eq!(carol.ack.inbox_head_seq, 20);
    let pulled = carol.pull_all(0, 7).await;
    assert_eq!(contiguous_texts(&pulled, 0), sent);
    assert_eq!(inbox_rows(&server, "carol"), 20);
    // Pulling again copies nothing twice.
    assert!(carol.pull(20, 100).await.entries.is_empty());
    assert_eq!(inbox_rows(&server, "carol"), 20);

    // A message sent now reaches the three online members live.
    alice.send(text(group("big"), "c-last", "last")).await;
    for client in [&mut alice, &mut bob, &mut carol] {
        let e = client.next_entry().await;
        assert_eq!((e.seq, entry_text(&e)), (21, "last".to_string()));
    }
    // dave never connected: still nothing stored for him.
    assert_eq!(inbox_rows(&server, "dave"), 0);
    // History of the group reads from the copied inbox.
    let mut dave = server.client("dave", Platform::Web, "dave-web").await;
    assert_eq!(dave.ack.inbox_head_seq, 21);
    assert_eq!(dave.pull_all(0, 100).await.len(), 21);
}

#[tokio::test]
async fn a_small_group_keeps_one_row_per_member() {
    let server = Server::start(timeline_from(4));
    server
        .create_group("small", &["alice", "bob", "carol"])
        .await;
    let mut alice = server.desktop("alice").await;
    alice.send(text(group("small"), "s1", "hi")).await;
    for user in ["alice", "bob", "carol"] {
        assert_eq!(inbox_rows(&server, user), 1, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_other_nodes_get_timeline_messages_through_nats() {
    let Some(deployment) = Deployment::start("read fan-out nodes") else {
        return;
    };
    let opts = |node: &str| deployment.node(node, &["--read-fanout-members", "3"]);
    let node_a = Server::start(opts("a"));
    let node_b = Server::start(opts("b"));
    node_a
        .create_group("big", &["alice", "bob", "carol", "dave"])
        .await;
    let mut alice = node_a.desktop("alice").await;
    let mut bob = node_b.desktop("bob").await;
    // bob's second device is on node a: both must see the same entries under one seq each.
    let mut bob_web = node_a.client("bob", Platform::Web, "bob-web").await;

    let mut sent = Vec::new();
    for i in 0..30 {
        let (who, body) = if i % 3 == 2 {
            (&mut bob, format!("b{i}"))
        } else {
            (&mut alice, format!("a{i}"))
        };
        who.send(text(group("big"), &format!("c{i}"), &body)).await;
        sent.push(body);
    }
    for (name, client) in [
        ("alice", &mut alice),
        ("bob", &mut bob),
        ("bob-web", &mut bob_web),
    ] {
        // Pushes of two nodes may interleave (the client pulls on a gap, as here).
        let mut got = std::collections::BTreeMap::new();
        while got.len() < sent.len() {
            let e = client.next_entry().await;
            got.insert(e.seq, e);
        }
        let entries: Vec<_> = got.into_values().collect();
        assert_eq!(contiguous_texts(&entries, 0), sent, "{name}");
    }
    // carol was never online: she pulls all 30 from node b.
    let mut carol = node_b.desktop("carol").await;
    assert_eq!(carol.ack.inbox_head_seq, 30);
    assert_eq!(contiguous_texts(&carol.pull_all(0, 100).await, 0), sent);
}
