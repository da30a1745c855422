//! What the session reports beside messages, against the real imsync-server:
//! `OFFLINE_SYNC_PROGRESS { pulled, total }` per page of an offline pull, and the server clock.

mod support;

use serde_json::json;
use support::{private, Client, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_reports_its_progress_page_by_page() {
    let server = Server::start();
    let bob_token = server.token("bob");
    let total = 1_200u64;
    for n in 0..total {
        let r = server.admin(
            "/message/private/publish",
            json!({ "fromUserId": "alice", "toUserId": "bob", "objectName": "RC:TxtMsg",
                    "content": json!({ "content": format!("m{n}") }).to_string() }),
        );
        assert_eq!(r["code"], 200, "{r}");
    }
    let mut bob = Client::new(&server.url(), "Electron");
    bob.connect(&bob_token).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    let log = bob.log.lock().unwrap().clone();
    let finished = log
        .iter()
        .position(|(n, _)| n == "PULL_OFFLINE_MESSAGE_FINISHED")
        .unwrap();
    let progress: Vec<(usize, u64, u64)> = log
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| n == "OFFLINE_SYNC_PROGRESS")
        .map(|(i, (_, p))| {
            (
                i,
                p["pulled"].as_u64().unwrap(),
                p["total"].as_u64().unwrap(),
            )
        })
        .collect();
    // Pages of 500: 500, 1000, 1200.
    assert!(progress.len() >= 3, "one event per page: {progress:?}");
    assert!(progress.iter().all(|&(_, _, t)| t == total), "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].1 < w[1].1),
        "pulled grows: {progress:?}"
    );
    assert_eq!(progress.last().unwrap().1, total, "ends at the total");
    assert!(
        progress.iter().all(|&(i, _, _)| i < finished),
        "all before PULL_OFFLINE_MESSAGE_FINISHED"
    );
    assert_eq!(
        bob.engine
            .get_message_count(private("alice"))
            .await
            .unwrap(),
        json!(total)
    );

    // Nothing pending at the next login: no progress to report.
    bob.engine.disconnect(json!(false)).await.unwrap();
    let seen = bob.log.lock().unwrap().len();
    bob.connect(&bob_token).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    assert!(!bob.log.lock().unwrap()[seen..]
        .iter()
        .any(|(n, _)| n == "OFFLINE_SYNC_PROGRESS"));
}

/// The server's clock as the engine measures it (ConnectAck, then every Pong): unknown
/// before the first connect; on this machine the offset is within a round trip of zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_clock_offset_comes_from_the_connect_ack() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    assert_eq!(alice.engine.server_time_offset(), None);
    let t0 = std::time::Instant::now();
    alice.connect(&server.token("alice")).await;
    let span = t0.elapsed().as_millis() as i64;
    let offset = alice
        .engine
        .server_time_offset()
        .expect("measured at connect");
    assert!(
        offset.abs() <= span + 2,
        "offset {offset} ms, connect took {span} ms"
    );
    alice.engine.disconnect(json!(false)).await.unwrap();
    assert_eq!(
        alice.engine.server_time_offset(),
        Some(offset),
        "kept after disconnect"
    );
}
