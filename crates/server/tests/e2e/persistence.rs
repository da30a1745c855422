//! Durability: a kill or restart between send and pull loses nothing that
//! was acknowledged; SIGTERM answers in-flight requests and exits cleanly.

use std::collections::HashSet;

use imsync_protocol::request;

use crate::common::*;

#[tokio::test]
async fn sigkill_between_send_and_pull_loses_nothing_acknowledged() {
    let mut server = Server::start(Opts::default());
    server.create_group("team", &["alice", "bob"]).await;
    let mut alice = server.desktop("alice").await;
    let mut acked = Vec::new();
    for i in 0..25 {
        let conv = if i % 2 == 0 {
            private("bob")
        } else {
            group("team")
        };
        acked.push(
            alice
                .send(text(conv, &format!("k{i}"), &format!("n{i}")))
                .await
                .message_uid,
        );
    }
    server.kill();
    let server = server.restart(None);
    let mut bob = server.desktop("bob").await;
    assert_eq!(bob.ack.inbox_head_seq, 25);
    let inbox = bob.pull_all(0, 10).await;
    assert_eq!(uids(&inbox), acked);
    // Dedup survives the restart too.
    let mut alice = server.desktop("alice").await;
    let again = alice.send(text(private("bob"), "k0", "n0")).await;
    assert_eq!(again.message_uid, acked[0]);
    // Groups and tokens survive (the token is stateless, the group is stored).
    alice
        .send(text(group("team"), "after", "after restart"))
        .await;
    assert_eq!(entry_text(&bob.next_entry().await), "after restart");
}

#[tokio::test]
async fn sigterm_answers_in_flight_requests_and_loses_nothing() {
    let mut server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            alice
                .send_request(request::Op::SendMessage(text(
                    private("bob"),
                    &format!("t{i}"),
                    &format!("n{i}"),
                )))
                .await,
        );
    }
    // The frames are written to the socket; now ask the server to stop.
    server.signal(libc::SIGTERM);
    let mut acked = Vec::new();
    for id in ids {
        let r = alice.response_for(id).await;
        acked.push(expect_ack(r).message_uid);
    }
    let (closed, _) = alice.wait_closed().await;
    assert_eq!(closed.code, Some(1001), "going away after answering");
    let status = server.wait_exit();
    assert!(
        status.success(),
        "clean exit, got {status:?}\n{}",
        server.log()
    );
    assert!(
        server.extra_stdout().is_empty(),
        "stdout carries only the listening line"
    );

    let server = server.restart(None);
    let mut bob = server.desktop("bob").await;
    let inbox = bob.pull_all(0, 100).await;
    let uids: Vec<String> = inbox
        .iter()
        .map(|e| e.message.as_ref().unwrap().message_uid.clone())
        .collect();
    assert_eq!(uids, acked, "every answered send is stored, in order");
    assert_eq!(uids.iter().collect::<HashSet<_>>().len(), 30);
}

#[tokio::test]
async fn sigterm_with_idle_connections_exits_promptly() {
    let mut server = Server::start(Opts::default());
    let mut a = server.desktop("alice").await;
    let mut b = server.desktop("bob").await;
    server.signal(libc::SIGTERM);
    assert_eq!(a.wait_closed().await.0.code, Some(1001));
    assert_eq!(b.wait_closed().await.0.code, Some(1001));
    assert!(server.wait_exit().success());
}

/// With its last connection gone the server stops at once, not after the 10 s grace period
/// (a background task holding a liveness handle once kept every stop waiting for it).
#[tokio::test]
async fn sigterm_with_no_connection_left_exits_at_once() {
    let mut server = Server::start(Opts::default());
    let alice = server.desktop("alice").await;
    drop(alice);
    let started = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_exit();
    assert!(status.success(), "clean exit, got {status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped after {:?}\n{}",
        started.elapsed(),
        server.log()
    );
}
