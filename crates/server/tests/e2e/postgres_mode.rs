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
    for i in 0..30 {
        let conv = if i % 2 == 0 {
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
    let uids: Vec<String> = inbox
        .iter()
        .map(|e| e.message.as_ref().unwrap().message_uid.clone())
        .collect();
    assert_eq!(uids, acked);
    // Dedup and groups survive: the same client id answers the first ack.
    let mut alice = server.desktop("alice").await;
    let again = alice.send(text(private("bob"), "k0", "n0")).await;
    assert_eq!(again.message_uid, acked[0]);
    let count = pg.psql("node", "SELECT count(*) FROM messages").unwrap();
    assert_eq!(count, "30", "the rows are in PostgreSQL");
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
    let alice_sends = async {
        let mut uids = Vec::new();
        for i in 0..EACH {
            let conv = if i % 3 == 0 {
                group("team")
            } else {
                private("bob")
            };
            let ack = alice
                .send(text(conv, &format!("a{i}"), &format!("a{i}")))
                .await;
            uids.push(ack.message_uid);
        }
        uids
    };
    let bob_sends = async {
        let mut uids = Vec::new();
        for i in 0..EACH {
            let conv = if i % 3 == 0 {
                group("team")
            } else {
                private("alice")
            };
            let ack = bob
                .send(text(conv, &format!("b{i}"), &format!("b{i}")))
                .await;
            uids.push(ack.message_uid);
        }
        uids
    };
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
