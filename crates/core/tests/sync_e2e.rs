//! The sync engine against the real imsync-server on loopback, with faults injected for
//! real: connections cut by a proxy, the server killed and restarted, a client process
//! killed with sends in flight.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use support::*;

fn code_of(v: &Value) -> i64 {
    v.as_i64().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_both_ways_and_a_second_device_syncs() {
    let server = Server::start();
    let mut alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    let mut bob_web = Client::new(&server.url(), "Web");
    assert_eq!(
        alice.connect(&server.token("alice")).await,
        json!({ "userId": "alice" })
    );
    bob.connect(&server.token("bob")).await;
    bob_web.connect(&server.token("bob")).await;
    assert_eq!(
        code_of(&alice.engine.get_connection_status().await.unwrap()),
        0
    );
    assert!(alice
        .names()
        .starts_with(&["CONNECTING".into(), "CONNECTED".into()]));

    let sent = alice
        .engine
        .send_message(private("bob"), text("你好 Bob"), Value::Null)
        .await
        .unwrap();
    assert_eq!(sent["sentStatus"], 30);
    assert!(!sent["messageUId"].as_str().unwrap().is_empty());
    for device in [&mut bob, &mut bob_web] {
        let ev = device
            .wait_for("MESSAGES", |p| {
                p["messages"][0]["content"]["content"] == "你好 Bob"
            })
            .await;
        let m = &ev["messages"][0];
        assert_eq!(m["messageDirection"], 2);
        assert_eq!(m["senderUserId"], "alice");
        assert_eq!(m["targetId"], "alice");
        assert_eq!(m["messageUId"], sent["messageUId"]);
        assert_eq!(m["isOfflineMessage"], false);
    }
    let reply = bob
        .engine
        .send_message(private("alice"), text("hi alice"), Value::Null)
        .await
        .unwrap();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["messageUId"] == reply["messageUId"]
        })
        .await;
    // Bob's own message, sent from his desktop, reaches his web device as SEND.
    let own = bob_web
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["messageUId"] == reply["messageUId"]
        })
        .await;
    assert_eq!(own["messages"][0]["messageDirection"], 1);
    assert_eq!(own["messages"][0]["targetId"], "alice");

    let conv = &alice
        .engine
        .get_conversations(json!([private("bob")]))
        .await
        .unwrap()[0];
    assert_eq!(conv["unreadMessageCount"], 1);
    assert_eq!(conv["latestMessage"]["content"]["content"], "hi alice");
    // The sender's own copy arrives on its own inbox too, but lands on the same row.
    alice
        .until("alice's copies settle", |e| async move {
            e.get_message_count(private("bob")).await.unwrap() == 2
        })
        .await;
    let hist = all_messages(&alice.engine, private("bob")).await;
    assert_eq!(hist.len(), 2);
    let found = alice
        .engine
        .search_messages(
            private("bob"),
            json!("你"),
            json!(0),
            json!(10),
            Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(
        found["count"], 1,
        "received and sent messages are searchable on arrival"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_fan_out_to_every_member() {
    let server = Server::start();
    let r = server.admin(
        "/group/create",
        json!({ "groupId": "team", "groupName": "Team", "userId": ["alice", "bob", "carol"] }),
    );
    assert_eq!(r["code"], 200, "{r}");
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    let mut carol = Client::new(&server.url(), "Electron");
    for (c, u) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        c.connect(&server.token(u)).await;
    }
    let mut msg = text("@all 周会改到三点");
    msg["content"]["mentionedInfo"] = json!({ "type": 1, "userIdList": [] });
    alice
        .engine
        .send_message(group("team"), msg, json!({ "isMentioned": true }))
        .await
        .unwrap();
    for c in [&mut bob, &mut carol] {
        let ev = c
            .wait_for("MESSAGES", |p| p["messages"][0]["targetId"] == "team")
            .await;
        assert_eq!(ev["messages"][0]["isMentioned"], true);
        let conv = &c
            .engine
            .get_conversations(json!([group("team")]))
            .await
            .unwrap()[0];
        assert_eq!(conv["hasMentioned"], true);
        assert_eq!(conv["unreadMessageCount"], 1);
    }
    let outsider = Client::new(&server.url(), "Electron");
    outsider.connect(&server.token("mallory")).await;
    let err = outsider
        .engine
        .send_message(group("team"), text("let me in"), Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.code, 22406);
    assert_eq!(
        err.data.as_ref().unwrap()["sentStatus"],
        20,
        "a refused send is stored as FAILED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_messages_are_pulled_in_order_on_reconnect() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    let bob_token = server.token("bob");
    bob.connect(&bob_token).await;
    bob.engine.disconnect(json!(false)).await.unwrap();
    bob.wait_for("DISCONNECT", |p| p == &json!(2)).await;
    assert_eq!(
        code_of(&bob.engine.get_connection_status().await.unwrap()),
        2
    );
    for i in 0..30 {
        alice
            .engine
            .send_message(private("bob"), text(&format!("offline {i}")), Value::Null)
            .await
            .unwrap();
    }
    // Local calls keep working while disconnected.
    assert_eq!(
        bob.engine
            .get_message_count(private("alice"))
            .await
            .unwrap(),
        0
    );
    bob.connect(&bob_token).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    let hist = all_messages(&bob.engine, private("alice")).await;
    let texts: Vec<String> = hist
        .iter()
        .map(|m| m["content"]["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        (0..30).map(|i| format!("offline {i}")).collect::<Vec<_>>()
    );
    assert!(hist.iter().all(|m| m["isOfflineMessage"] == true));
    let batched = bob
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == "MESSAGES")
        .count();
    assert!(
        batched < 30,
        "offline messages arrive in batches, got {batched} events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_desktop_kicks_the_first_which_stops() {
    let server = Server::start();
    let mut first = Client::new(&server.url(), "Electron");
    first.connect(&server.token("alice")).await;
    let second = Client::new(&server.url(), "Electron");
    second.connect(&server.token("alice")).await;
    first.wait_for("DISCONNECT", |p| p == &json!(31010)).await;
    assert_eq!(
        code_of(&first.engine.get_connection_status().await.unwrap()),
        6
    );
    assert!(
        !first.names().contains(&"SUSPEND".to_string()),
        "a kick is not retried"
    );
    assert_eq!(
        code_of(&second.engine.get_connection_status().await.unwrap()),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_kick_enable_yields_to_the_device_already_online() {
    let server = Server::start();
    let proxy = Proxy::start(server.addr).await;
    let mut first = Client::new(&proxy.url(), "Electron");
    first
        .engine
        .connect(json!(server.token("alice")), json!(true))
        .await
        .unwrap();
    proxy.refuse_new(true);
    proxy.cut();
    first.wait_for("SUSPEND", |_| true).await;
    let second = Client::new(&server.url(), "Electron");
    second.connect(&server.token("alice")).await;
    proxy.refuse_new(false);
    first.wait_for("DISCONNECT", |p| p == &json!(31023)).await;
    assert_eq!(
        code_of(&second.engine.get_connection_status().await.unwrap()),
        0
    );
    assert!(
        !second.names().contains(&"DISCONNECT".to_string()),
        "the online device was not kicked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_ends_in_disconnect_31020() {
    let server = Server::start();
    let proxy = Proxy::start(server.addr).await;
    let expires = imsync_core::message::now_ms() + 1_500;
    let mut alice = Client::new(&proxy.url(), "Electron");
    alice
        .connect(&server.token_expiring("alice", expires))
        .await;
    while imsync_core::message::now_ms() <= expires {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    proxy.cut();
    alice.wait_for("DISCONNECT", |p| p == &json!(31020)).await;
    // A bad token never reaches the network at all.
    let err = Client::new(&server.url(), "Electron")
        .engine
        .connect(json!("garbage"), json!(false))
        .await
        .unwrap_err();
    assert_eq!(err.code, 31004);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_mid_pull_and_restarted_loses_and_repeats_nothing() {
    let mut server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    let bob_token = server.token("bob");
    let total = 1_500;
    // Publish through the admin API: fast, and the same inbox path as client sends.
    for chunk in 0..total / 100 {
        for i in 0..100 {
            let n = chunk * 100 + i;
            let r = server.admin(
                "/message/private/publish",
                json!({ "fromUserId": "alice", "toUserId": "bob", "objectName": "RC:TxtMsg",
                        "content": json!({ "content": format!("m{n}") }).to_string() }),
            );
            assert_eq!(r["code"], 200, "{r}");
        }
    }
    let mut bob = Client::new(&server.url(), "Electron");
    bob.connect(&bob_token).await;
    bob.wait_for("MESSAGES", |_| true).await;
    server.kill();
    server.restart();
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    bob.until("every message", |e| async move {
        e.get_message_count(private("alice")).await.unwrap() == json!(total)
    })
    .await;
    let hist = all_messages(&bob.engine, private("alice")).await;
    let uids: HashSet<&str> = hist
        .iter()
        .map(|m| m["messageUId"].as_str().unwrap())
        .collect();
    assert_eq!(uids.len(), total, "no duplicates");
    let conv = &bob
        .engine
        .get_conversations(json!([private("alice")]))
        .await
        .unwrap()[0];
    assert_eq!(conv["unreadMessageCount"], json!(total));
}

/// Sends `n` messages, resending failures by messageId until each is acknowledged;
/// returns the acknowledged uids in order.
async fn send_all(c: &Client, to: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut uids = Vec::with_capacity(n);
    for i in 0..n {
        let mut options = Value::Null;
        loop {
            match c
                .engine
                .send_message(private(to), text(&format!("{prefix}{i}")), options.clone())
                .await
            {
                Ok(m) => {
                    uids.push(m["messageUId"].as_str().unwrap().to_string());
                    break;
                }
                Err(e) => {
                    let id = e
                        .data
                        .as_ref()
                        .map(|m| m["messageId"].clone())
                        .unwrap_or(Value::Null);
                    assert!(
                        id.as_i64().is_some(),
                        "send failed without a stored message: {e}"
                    );
                    options = json!({ "messageId": id });
                    // Wait for the session to come back before resending.
                    let deadline = std::time::Instant::now() + DEADLINE;
                    while c.engine.connection_status() != imsync_core::sync::Status::Connected {
                        assert!(std::time::Instant::now() < deadline, "never reconnected");
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                }
            }
        }
    }
    uids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cuts_during_a_10000_message_exchange_lose_and_duplicate_nothing() {
    let n: usize = std::env::var("IMSYNC_EXCHANGE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    let server = Server::start();
    let proxy_a = Arc::new(Proxy::start(server.addr).await);
    let proxy_b = Arc::new(Proxy::start(server.addr).await);
    let alice = Arc::new(Client::new(&proxy_a.url(), "Electron"));
    let bob = Arc::new(Client::new(&proxy_b.url(), "Electron"));
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cutter = {
        let (a, b, done) = (proxy_a.clone(), proxy_b.clone(), done.clone());
        tokio::spawn(async move {
            let mut cuts = 0;
            let mut seed: u64 = 0x5EED;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                tokio::time::sleep(std::time::Duration::from_millis(20 + seed % 200)).await;
                if seed.is_multiple_of(2) {
                    a.cut()
                } else {
                    b.cut()
                }
                cuts += 1;
            }
            cuts
        })
    };
    let (a, b) = (alice.clone(), bob.clone());
    let (from_alice, from_bob) = tokio::join!(
        async move { send_all(&a, "bob", "a", n).await },
        async move { send_all(&b, "alice", "b", n).await }
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let cuts = cutter.await.unwrap();
    assert!(cuts >= 3, "the proxy cut only {cuts} times");
    let expected: HashSet<String> = from_alice.iter().chain(&from_bob).cloned().collect();
    assert_eq!(
        expected.len(),
        2 * n,
        "every acknowledged send has its own uid"
    );
    for (c, peer, received_from) in [(&alice, "bob", &from_bob), (&bob, "alice", &from_alice)] {
        c.until("every acknowledged message", |e| async move {
            e.get_message_count(private(peer)).await.unwrap() == json!(2 * n)
        })
        .await;
        let hist = all_messages(&c.engine, private(peer)).await;
        let uids: Vec<&str> = hist
            .iter()
            .map(|m| m["messageUId"].as_str().unwrap())
            .collect();
        let unique: HashSet<&str> = uids.iter().copied().collect();
        assert_eq!(unique.len(), 2 * n, "no duplicates, no gaps");
        assert!(
            unique.iter().all(|u| expected.contains(*u)),
            "only acknowledged messages"
        );
        // Each sender's messages keep their send order.
        let order: Vec<&str> = hist
            .iter()
            .filter(|m| m["messageDirection"] == 2)
            .map(|m| m["messageUId"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            received_from.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(hist
            .iter()
            .all(|m| m["sentStatus"] == 30 || m["messageDirection"] == 2));
        let conv = &c
            .engine
            .get_conversations(json!([private(peer)]))
            .await
            .unwrap()[0];
        assert_eq!(
            conv["unreadMessageCount"],
            json!(n),
            "unread = the peer's messages"
        );
    }
}

/// Child half of the crash test: connects through the given URL and sends until killed,
/// printing `sending i` before each send and `sent i` after its ack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by app_killed_with_sends_in_flight_settles_them_on_restart"]
async fn child_sender() {
    let (Ok(dir), Ok(url), Ok(token)) = (
        std::env::var("CHILD_DIR"),
        std::env::var("CHILD_URL"),
        std::env::var("CHILD_TOKEN"),
    ) else {
        return;
    };
    let engine = imsync_core::Engine::new(
        &json!({ "appkey": APP_KEY, "dbpath": dir, "serverUrl": url, "logOutputLevel": 1 }),
    )
    .unwrap();
    let engine = Arc::new(engine);
    engine.connect(json!(token), json!(false)).await.unwrap();
    for i in 0.. {
        println!("sending {i}");
        let _ = engine
            .send_message(private("bob"), text(&format!("c{i}")), Value::Null)
            .await;
        println!("sent {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_killed_with_sends_in_flight_settles_them_on_restart() {
    let server = Server::start();
    let proxy = Proxy::start(server.addr).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_sender",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("CHILD_DIR", dir.path())
        .env("CHILD_URL", proxy.url())
        .env("CHILD_TOKEN", server.token("alice"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Let some sends complete, then stall the link so the next one hangs in flight.
    while let Some(Ok(line)) = lines.next() {
        if line == "sent 20" {
            proxy.pause(true);
            break;
        }
    }
    // Kill once a send is stored and waiting for its ack (read beside the live child).
    let db = dir.path().join(format!("imsync/{APP_KEY}/alice.db"));
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let sending: i64 = conn
            .query_row(
                "SELECT count(*) FROM messages WHERE sent_status = 10",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if sending > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no send got stuck in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.pause(false);
    proxy.cut();

    let bob = Client::new(&server.url(), "Electron");
    bob.connect(&server.token("bob")).await;
    let alice = Client::with_dir(&server.url(), "Electron", dir.clone());
    alice.connect(&server.token("alice")).await;
    alice
        .until("the outbox settles", |e| async move {
            let h = e
                .get_history_messages(private("bob"), json!({ "count": 100 }))
                .await
                .unwrap();
            h["list"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["sentStatus"] == 30)
        })
        .await;
    let sent = alice
        .engine
        .get_message_count(private("bob"))
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    assert!(
        sent >= 22,
        "the child stored {sent} messages (21 acknowledged + the one in flight)"
    );
    bob.until("bob has each message once", |e| async move {
        e.get_message_count(private("alice")).await.unwrap() == json!(sent)
    })
    .await;
    let hist = all_messages(&bob.engine, private("alice")).await;
    let texts: HashSet<&str> = hist
        .iter()
        .map(|m| m["content"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len() as u64, sent, "no message twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_and_continuous_history_fill_what_the_local_database_lacks() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    for i in 0..30 {
        alice
            .engine
            .send_message(private("bob"), text(&format!("h{i}")), Value::Null)
            .await
            .unwrap();
    }
    bob.wait_for("MESSAGES", |p| {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["content"]["content"] == "h29")
    })
    .await;
    bob.engine.clear_messages(private("alice")).await.unwrap();
    let remote = bob
        .engine
        .get_remote_history_messages(private("alice"), json!({ "count": 10 }))
        .await
        .unwrap();
    let texts: Vec<&str> = remote["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        (20..30).rev().map(|i| format!("h{i}")).collect::<Vec<_>>()
    );
    assert_eq!(remote["hasMore"], true);
    let conv = &bob
        .engine
        .get_conversations(json!([private("alice")]))
        .await
        .unwrap()[0];
    assert_eq!(conv["unreadMessageCount"], 0, "history is not news");
    // Continuous paging: local (the 10 just fetched) first, then the server, no gap.
    let mut seen = Vec::new();
    let mut ts = 0;
    loop {
        let page = bob
            .engine
            .get_continuous_messages(private("alice"), json!({ "timestamp": ts, "count": 7 }))
            .await
            .unwrap();
        for m in page["list"].as_array().unwrap() {
            seen.push(m["content"]["content"].as_str().unwrap().to_string());
        }
        ts = page["timestamp"].as_i64().unwrap();
        if !page["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(
        seen,
        (0..30).rev().map(|i| format!("h{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_messages_with_the_same_text_are_all_kept_whatever_the_duplicate_check() {
    let server = Server::start();
    let mut bob = Client::new(&server.url(), "Electron");
    bob.connect(&server.token("bob")).await;
    let publish = |text: &str| {
        let r = server.admin(
            "/message/private/publish",
            json!({ "fromUserId": "app", "toUserId": "bob", "objectName": "RC:TxtMsg",
                    "content": json!({ "content": text }).to_string() }),
        );
        assert_eq!(r["code"], 200, "{r}");
    };
    // Two publishes that say the same thing are two messages (each its own sentTime).
    publish("reminder: standup");
    publish("reminder: standup");
    publish("marker 1");
    bob.wait_for("MESSAGES", |p| {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["content"]["content"] == "marker 1")
    })
    .await;
    assert_eq!(
        bob.engine.get_message_count(private("app")).await.unwrap(),
        3,
        "nothing dropped with checking on"
    );
    bob.engine
        .set_check_duplicate_message(json!(false))
        .await
        .unwrap();
    publish("reminder: standup");
    publish("marker 2");
    bob.wait_for("MESSAGES", |p| {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["content"]["content"] == "marker 2")
    })
    .await;
    assert_eq!(
        bob.engine.get_message_count(private("app")).await.unwrap(),
        5
    );
    // Client sends carry client ids the server deduplicates: identical texts are all kept.
    bob.engine
        .set_check_duplicate_message(json!(true))
        .await
        .unwrap();
    let alice = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    for _ in 0..3 {
        alice
            .engine
            .send_message(private("bob"), text("ok"), Value::Null)
            .await
            .unwrap();
    }
    bob.until("three oks", |e| async move {
        e.get_message_count(private("alice")).await.unwrap() == json!(3)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_replaces_the_original_everywhere_and_fixes_unread_counts() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    let mut bob_web = Client::new(&server.url(), "Web");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    bob_web.connect(&server.token("bob")).await;
    let sent = alice
        .engine
        .send_message(private("bob"), text("oops, wrong chat"), Value::Null)
        .await
        .unwrap();
    let uid = sent["messageUId"].clone();
    for c in [&mut bob, &mut bob_web] {
        c.wait_for("MESSAGES", |p| p["messages"][0]["messageUId"] == uid)
            .await;
    }
    assert_eq!(
        bob.engine
            .get_conversations(json!([private("alice")]))
            .await
            .unwrap()[0]["unreadMessageCount"],
        1
    );
    // Bob's web device no longer holds the original: the notice is inserted there.
    bob_web
        .engine
        .clear_messages(private("alice"))
        .await
        .unwrap();
    let recalled = alice
        .engine
        .recall_message(
            private("bob"),
            json!({ "messageUId": uid, "sentTime": sent["sentTime"] }),
        )
        .await
        .unwrap();
    assert_eq!(recalled["messageType"], "RC:RcNtf");
    assert_eq!(
        recalled["messageId"], sent["messageId"],
        "replaced in place"
    );
    bob.until("bob sees the notice", |e| async move {
        let h = e
            .get_history_messages(private("alice"), Value::Null)
            .await
            .unwrap();
        h["list"][0]["messageType"] == "RC:RcNtf"
    })
    .await;
    let h = bob
        .engine
        .get_history_messages(private("alice"), Value::Null)
        .await
        .unwrap();
    assert_eq!(
        h["list"].as_array().unwrap().len(),
        1,
        "the original is gone, not kept beside the notice"
    );
    let conv = &bob
        .engine
        .get_conversations(json!([private("alice")]))
        .await
        .unwrap()[0];
    assert_eq!(
        conv["unreadMessageCount"], 0,
        "the recalled message no longer counts as unread"
    );
    let found = bob
        .engine
        .search_messages(
            private("alice"),
            json!("oops"),
            json!(0),
            json!(10),
            Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(found["count"], 0, "a recalled message is not searchable");
    bob_web
        .until("the web device gets an inserted notice", |e| async move {
            let h = e
                .get_history_messages(private("alice"), Value::Null)
                .await
                .unwrap();
            h["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["messageType"] == "RC:RcNtf")
        })
        .await;
    let err = alice
        .engine
        .recall_message(
            private("bob"),
            json!({ "messageUId": "nope", "sentTime": 1 }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 25101);
}
