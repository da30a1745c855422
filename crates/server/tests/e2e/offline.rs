//! Offline delivery: pull after being away (order, no gaps, no duplicates),
//! pushes continuing the sequence, retention.

use std::collections::HashSet;

use crate::common::*;

#[tokio::test]
async fn offline_then_pull_in_order_without_gaps_or_duplicates() {
    let server = Server::start(Opts::default());
    server
        .create_group("team", &["alice", "bob", "carol"])
        .await;
    let mut alice = server.desktop("alice").await;
    let mut carol = server.desktop("carol").await;
    let mut sent = Vec::new();
    for i in 0..40 {
        let ack = if i % 3 == 0 {
            carol
                .send(text(group("team"), &format!("c{i}"), &format!("msg {i}")))
                .await
        } else if i % 3 == 1 {
            alice
                .send(text(private("bob"), &format!("a{i}"), &format!("msg {i}")))
                .await
        } else {
            alice
                .send(text(group("team"), &format!("a{i}"), &format!("msg {i}")))
                .await
        };
        sent.push(ack.message_uid);
    }
    let mut bob = server.desktop("bob").await;
    assert_eq!(bob.ack.inbox_head_seq, 40);
    let entries = bob.pull_all(0, 7).await;
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>(), "gap-free, ordered");
    let uids: Vec<String> = entries
        .iter()
        .map(|e| e.message.as_ref().unwrap().message_uid.clone())
        .collect();
    assert_eq!(uids, sent, "inbox order is send order");
    assert_eq!(
        uids.iter().collect::<HashSet<_>>().len(),
        40,
        "no duplicates"
    );
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(entry_text(e), format!("msg {i}"));
    }
    // Page boundaries: a page ends with has_more until the last one.
    let page = bob.pull(0, 7).await;
    assert_eq!(page.entries.len(), 7);
    assert!(page.has_more);
    assert_eq!(page.head_seq, 40);
    assert_eq!(page.min_seq, 1);
    let tail = bob.pull(35, 7).await;
    assert_eq!(tail.entries.len(), 5);
    assert!(!tail.has_more);
    assert!(bob.pull(40, 7).await.entries.is_empty());

    // Live pushes continue the same sequence.
    let ack = alice.send(text(private("bob"), "live", "now online")).await;
    let e = bob.next_entry().await;
    assert_eq!(e.seq, 41);
    assert_eq!(e.message.unwrap().message_uid, ack.message_uid);
}

#[tokio::test]
async fn pull_limit_defaults_and_caps() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    for i in 0..120 {
        alice
            .send(text(private("bob"), &format!("m{i}"), "x"))
            .await;
    }
    let mut bob = server.desktop("bob").await;
    let page = bob.pull(0, 0).await;
    assert_eq!(
        page.entries.len(),
        imsync_protocol::DEFAULT_PULL_LIMIT as usize
    );
    assert!(page.has_more);
    let page = bob.pull(0, 10_000).await;
    assert_eq!(page.entries.len(), 120, "limit is capped, not refused");
}

#[tokio::test]
async fn large_entries_split_pages_below_the_frame_limit() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let big = "x".repeat(120 * 1024);
    for i in 0..20 {
        alice
            .send(text(private("bob"), &format!("big{i}"), &big))
            .await;
    }
    let mut bob = server.desktop("bob").await;
    let first = bob.pull(0, 100).await;
    assert!(first.has_more, "20 x 120 KB cannot fit one frame");
    assert!(!first.entries.is_empty() && first.entries.len() < 20);
    let all = bob.pull_all(0, 100).await;
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn retention_drops_expired_entries_but_never_reuses_seqs() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    for i in 0..3 {
        alice
            .send(text(private("bob"), &format!("old{i}"), "old"))
            .await;
    }
    drop(alice);
    let mut server = server;
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    // Zero days of retention: the startup sweep removes everything.
    let server = server.restart(Some(Opts {
        offline_days: Some(0),
        ..Opts::default()
    }));
    let mut bob = server.desktop("bob").await;
    assert_eq!(bob.ack.inbox_head_seq, 3, "the head survives retention");
    let page = bob.pull(0, 10).await;
    assert!(page.entries.is_empty());
    assert!(!page.has_more);
    assert_eq!(page.head_seq, 3);
    let mut alice = server.desktop("alice").await;
    alice.send(text(private("bob"), "new", "new")).await;
    let e = bob.next_entry().await;
    assert_eq!(e.seq, 4, "seqs continue after expired entries");
    let page = bob.pull(0, 10).await;
    assert_eq!(page.min_seq, 4);
    assert_eq!(page.entries.len(), 1);
}
