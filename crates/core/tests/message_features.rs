//! Message features between users and devices, end to end against the real imsync-server
//! on loopback: unread counts, read-status sync, private and group read receipts, recall,
//! message expansion (and its limits), typing status, custom message types, and the
//! failures every one of these calls owes the app (30002 offline, 33003 naming the
//! argument). Nothing sleeps to order events: tests wait on events or poll with a deadline.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use imsync_core::error::{ImError, ImResult};
use serde_json::{json, Map, Value};
use support::*;

const NOT_CONNECTED: i32 = 30002;
const INVALID: i32 = 33003;
const KV_NOT_SUPPORT: i32 = 34008;
const EXPANSION_LIMIT: i32 = 34010;
const TYPE_NOT_SUPPORTED: i32 = 34201;
const NOT_REGISTERED: i32 = 34021;

fn create_group(server: &Server, id: &str, members: &[&str]) {
    let r = server.admin(
        "/group/create",
        json!({ "groupId": id, "groupName": id, "userIds": members }),
    );
    assert_eq!(r["code"], 200, "{r}");
}

fn system(target: &str) -> Value {
    json!({ "conversationType": 6, "targetId": target })
}

/// A text that @-mentions `users` (mentionedInfo type 2).
fn mention(s: &str, users: &[&str]) -> Value {
    let mut m = text(s);
    m["content"]["mentionedInfo"] = json!({ "type": 2, "userIdList": users });
    m
}

async fn send(c: &Client, conv: Value, msg: Value) -> Value {
    c.engine
        .send_message(conv, msg, Value::Null)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"))
}

fn carries(p: &Value, uid: &Value) -> bool {
    p["messages"]
        .as_array()
        .is_some_and(|a| a.iter().any(|m| &m["messageUId"] == uid))
}

/// The stored copy of message `uid` in `conv`.
async fn stored(c: &Client, conv: Value, uid: &Value) -> Value {
    all_messages(&c.engine, conv)
        .await
        .into_iter()
        .find(|m| &m["messageUId"] == uid)
        .unwrap_or_else(|| panic!("message {uid} is not stored"))
}

/// The stored message with local id `id` in `conv`.
async fn stored_id(c: &Client, conv: Value, id: &Value) -> Value {
    all_messages(&c.engine, conv)
        .await
        .into_iter()
        .find(|m| &m["messageId"] == id)
        .unwrap_or_else(|| panic!("message id {id} is not stored"))
}

async fn count(c: &Client, conv: Value) -> u64 {
    c.engine
        .get_message_count(conv)
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

async fn unread(c: &Client, conv: Value) -> Value {
    c.engine.get_unread_count(conv).await.unwrap()
}

async fn mentions(c: &Client, conv: Value) -> Value {
    c.engine.get_unread_mentioned_count(conv).await.unwrap()
}

async fn total(c: &Client, include_muted: bool, types: Value) -> Value {
    c.engine
        .get_total_unread_count(json!(include_muted), types)
        .await
        .unwrap()
}

/// Asserts a failure with `code`.
#[track_caller]
fn fails(r: ImResult<Value>, code: i32, what: &str) -> ImError {
    match r {
        Ok(v) => panic!("{what}: expected code {code}, got Ok({v})"),
        Err(e) => {
            assert_eq!(e.code, code, "{what}: {e}");
            e
        }
    }
}

/// Asserts a 33003 whose message names `arg`.
#[track_caller]
fn bad_arg(r: ImResult<Value>, arg: &str) {
    let e = fails(r, INVALID, arg);
    assert!(
        e.msg.contains(arg),
        "the 33003 message should name {arg:?}: {:?}",
        e.msg
    );
}

fn bad_receipt_list(r: ImResult<Value>) {
    let e = fails(r, 34206, "messageList");
    assert!(e.msg.contains("messageList"), "{:?}", e.msg);
}

fn events_named(c: &Client, name: &str) -> Vec<Value> {
    c.log
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, p)| p.clone())
        .collect()
}

fn log_len(c: &Client) -> usize {
    c.log.lock().unwrap().len()
}

fn events_since(c: &Client, mark: usize) -> Vec<(String, Value)> {
    c.log.lock().unwrap()[mark..].to_vec()
}

async fn go_offline(c: &mut Client) {
    c.engine.disconnect(json!(false)).await.unwrap();
    c.wait_for("DISCONNECT", |p| p == &json!(2)).await;
}

// ---- unread ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_follow_private_group_and_system_messages_until_cleared() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob", "carol"]);
    let alice = Client::new(&server.url(), "Electron");
    let bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;

    let mut private_sent = Vec::new();
    for i in 0..3 {
        private_sent.push(send(&bob, private("alice"), text(&format!("私聊 {i}"))).await);
    }
    send(&bob, group("team"), text("大家好")).await;
    let at_alice = send(&bob, group("team"), mention("@alice 看一下", &["alice"])).await;
    // An @ of somebody else is an unread message, not a mention, for alice.
    send(&bob, group("team"), mention("@carol 你呢", &["carol"])).await;
    let r = server.admin(
        "/message/system/publish",
        json!({ "fromUserId": "notice", "toUserId": "alice", "objectName": "RC:TxtMsg",
                "content": json!({ "content": "系统通知" }).to_string() }),
    );
    assert_eq!(r["code"], 200, "{r}");
    alice
        .until("every message reaches alice", |e| async move {
            e.get_message_count(private("bob")).await.unwrap() == json!(3)
                && e.get_message_count(group("team")).await.unwrap() == json!(3)
                && e.get_message_count(system("notice")).await.unwrap() == json!(1)
        })
        .await;

    assert_eq!(total(&alice, false, Value::Null).await, 7);
    assert_eq!(total(&alice, false, json!([1])).await, 3);
    assert_eq!(total(&alice, false, json!([3])).await, 3);
    assert_eq!(total(&alice, false, json!([6])).await, 1);
    assert_eq!(total(&alice, false, json!([1, 3])).await, 6);
    assert_eq!(unread(&alice, private("bob")).await, 3);
    assert_eq!(unread(&alice, group("team")).await, 3);
    assert_eq!(unread(&alice, system("notice")).await, 1);
    assert_eq!(unread(&alice, private("nobody")).await, 0);
    assert_eq!(
        mentions(&alice, group("team")).await,
        1,
        "only the @ naming alice is a mention for her"
    );
    assert_eq!(mentions(&alice, private("bob")).await, 0);
    assert_eq!(
        alice.engine.get_all_unread_mentioned_count().await.unwrap(),
        1
    );
    let stored_at = stored(&alice, group("team"), &at_alice["messageUId"]).await;
    assert_eq!(stored_at["isMentioned"], true);

    // The oldest unread message of the private chat.
    let first = stored(&alice, private("bob"), &private_sent[0]["messageUId"]).await;
    assert_eq!(
        alice
            .engine
            .get_first_unread_message_info(private("bob"))
            .await
            .unwrap(),
        json!({ "sentTime": private_sent[0]["sentTime"], "messageUId": private_sent[0]["messageUId"],
                "messageId": first["messageId"] })
    );
    assert_eq!(
        alice
            .engine
            .get_first_unread_message_info(private("nobody"))
            .await
            .unwrap(),
        Value::Null
    );

    // The unread conversation list: private, group and system only.
    let list = alice
        .engine
        .get_unread_conversation_list(Value::Null)
        .await
        .unwrap();
    let mut targets: Vec<(i64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["conversationType"].as_i64().unwrap(),
                c["targetId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            (1, "bob".to_string()),
            (3, "team".to_string()),
            (6, "notice".to_string())
        ]
    );
    let only_private = alice
        .engine
        .get_unread_conversation_list(json!([1]))
        .await
        .unwrap();
    assert_eq!(only_private.as_array().unwrap().len(), 1);
    assert_eq!(only_private[0]["targetId"], "bob");
    assert_eq!(only_private[0]["unreadMessageCount"], 3);
    for t in [2, 4, 5] {
        fails(
            alice
                .engine
                .get_unread_conversation_list(json!([1, t]))
                .await,
            TYPE_NOT_SUPPORTED,
            &format!("getUnreadConversationList([1, {t}])"),
        );
    }

    // A muted conversation leaves the total unless includeMuted.
    alice
        .engine
        .set_conversation_notification_level(group("team"), json!(5))
        .await
        .unwrap();
    assert_eq!(total(&alice, false, Value::Null).await, 4);
    assert_eq!(total(&alice, true, Value::Null).await, 7);

    // Clearing one conversation, then everything.
    alice
        .engine
        .clear_messages_unread_status(private("bob"))
        .await
        .unwrap();
    assert_eq!(unread(&alice, private("bob")).await, 0);
    assert_eq!(
        alice
            .engine
            .get_first_unread_message_info(private("bob"))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(total(&alice, true, Value::Null).await, 4);
    assert_eq!(unread(&alice, group("team")).await, 3, "others untouched");
    alice
        .engine
        .clear_all_messages_unread_status()
        .await
        .unwrap();
    assert_eq!(total(&alice, true, Value::Null).await, 0);
    assert_eq!(mentions(&alice, group("team")).await, 0);
    assert_eq!(
        alice.engine.get_all_unread_mentioned_count().await.unwrap(),
        0
    );
    assert_eq!(
        alice
            .engine
            .get_unread_conversation_list(Value::Null)
            .await
            .unwrap(),
        json!([])
    );
    let read = stored(&alice, private("bob"), &private_sent[2]["messageUId"]).await;
    assert_eq!(read["receivedStatusInfo"]["isRead"], true);

    // Something new counts again, and is the first unread.
    let later = send(&bob, private("alice"), text("还在吗")).await;
    let uid = later["messageUId"].clone();
    alice
        .until("the new message arrives", |e| async move {
            e.get_message_count(private("bob")).await.unwrap() == json!(4)
        })
        .await;
    assert_eq!(unread(&alice, private("bob")).await, 1);
    assert_eq!(
        alice
            .engine
            .get_first_unread_message_info(private("bob"))
            .await
            .unwrap()["messageUId"],
        uid
    );
}

// ---- read-status sync ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_read_status_reads_up_to_the_time_here_and_on_the_other_device() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    alice_web.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(send(&bob, private("alice"), text(&format!("m{i}"))).await);
    }
    for c in [&alice, &alice_web] {
        c.until("three messages", |e| async move {
            e.get_message_count(private("bob")).await.unwrap() == json!(3)
        })
        .await;
        assert_eq!(unread(c, private("bob")).await, 3);
    }

    let upto = sent[1]["sentTime"].clone();
    // Only a CONVERSATION event emitted after the sync counts (earlier ones, from the
    // messages arriving, may also show one unread).
    let seen_before = alice_web.log.lock().unwrap().len();
    assert_eq!(
        alice
            .engine
            .send_sync_read_status_message(private("bob"), upto.clone())
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(
        unread(&alice, private("bob")).await,
        1,
        "read here right away up to the time"
    );
    assert_eq!(
        alice
            .engine
            .get_first_unread_message_info(private("bob"))
            .await
            .unwrap()["messageUId"],
        sent[2]["messageUId"]
    );

    let log = alice_web.log.clone();
    alice_web
        .until("the read sync's CONVERSATION event", move |_| {
            let log = log.clone();
            async move {
                log.lock().unwrap()[seen_before..].iter().any(|(n, p)| {
                    n == "CONVERSATION"
                        && p["conversationList"].as_array().is_some_and(|l| {
                            l.iter()
                                .map(|i| &i["conversation"])
                                .any(|c| c["targetId"] == "bob" && c["unreadMessageCount"] == 1)
                        })
                })
            }
        })
        .await;
    assert_eq!(unread(&alice_web, private("bob")).await, 1);
    assert_eq!(
        alice_web
            .engine
            .get_first_unread_message_info(private("bob"))
            .await
            .unwrap()["messageUId"],
        sent[2]["messageUId"],
        "only what is newer than the time stays unread"
    );
    let read_copy = stored(&alice_web, private("bob"), &sent[1]["messageUId"]).await;
    assert_eq!(read_copy["receivedStatusInfo"]["isRead"], true);

    // The sync is between alice's devices: bob is told nothing.
    let ping = send(&alice, private("bob"), text("ok")).await;
    let uid = ping["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    assert!(events_named(&bob, "READ_RECEIPT_RECEIVED").is_empty());
    for m in &sent {
        assert_eq!(
            stored(&bob, private("alice"), &m["messageUId"]).await["sentStatus"],
            30
        );
    }
}

// ---- private read receipts -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_read_receipt_marks_the_senders_messages_read_up_to_its_time() {
    let server = Server::start();
    let mut alice = Client::new(&server.url(), "Electron");
    let mut alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    alice_web.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(send(&alice, private("bob"), text(&format!("r{i}"))).await);
    }
    let last = sent[2]["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &last)).await;
    bob.until("bob holds all three", |e| async move {
        e.get_message_count(private("alice")).await.unwrap() == json!(3)
    })
    .await;
    alice_web
        .until("alice's web copies", |e| async move {
            e.get_message_count(private("bob")).await.unwrap() == json!(3)
        })
        .await;
    assert_eq!(unread(&bob, private("alice")).await, 3);

    assert_eq!(
        bob.engine
            .send_read_receipt_message(
                json!("alice"),
                sent[1]["messageUId"].clone(),
                sent[1]["sentTime"].clone()
            )
            .await
            .unwrap(),
        Value::Null
    );
    let expected = json!({
        "conversation": { "conversationType": 1, "targetId": "bob", "channelId": "" },
        "messageUid": sent[1]["messageUId"], "sentTime": sent[1]["sentTime"], "sendUserId": "bob",
    });
    for device in [&mut alice, &mut alice_web] {
        let ev = device.wait_for("READ_RECEIPT_RECEIVED", |_| true).await;
        assert_eq!(ev, expected);
        let statuses: Vec<Value> = all_messages(&device.engine, private("bob"))
            .await
            .iter()
            .map(|m| m["sentStatus"].clone())
            .collect();
        assert_eq!(
            statuses,
            vec![json!(50), json!(50), json!(30)],
            "messages up to the receipt's time are READ, later ones stay SENT"
        );
    }
    assert_eq!(
        unread(&bob, private("alice")).await,
        3,
        "sending a receipt does not change the reader's unread count"
    );
}

// ---- group read receipts -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_receipt_request_and_response_update_both_copies() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob"]);
    let mut alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let sent = send(&alice, group("team"), text("请确认收到")).await;
    let uid = sent["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;

    alice
        .engine
        .send_read_receipt_request(json!("team"), uid.clone(), Value::Null)
        .await
        .unwrap();
    let own = stored(&alice, group("team"), &uid).await;
    assert_eq!(own["readReceiptInfo"]["isReceiptRequestMessage"], true);
    assert_eq!(own["readReceiptInfo"]["readCount"], 0);
    assert_eq!(own["readReceiptInfo"]["respondUserIdList"], json!([]));

    let ev = bob.wait_for("MESSAGE_RECEIPT_REQUEST", |_| true).await;
    assert_eq!(
        ev,
        json!({ "conversation": { "conversationType": 3, "targetId": "team", "channelId": "" },
                "messageUid": uid, "senderUserId": "alice" })
    );
    let copy = stored(&bob, group("team"), &uid).await;
    assert_eq!(
        copy["readReceiptInfo"],
        json!({ "isReceiptRequestMessage": true, "hasRespond": false })
    );

    bob.engine
        .send_read_receipt_response_v2(json!("team"), json!({ "alice": [uid] }), Value::Null)
        .await
        .unwrap();
    let copy = stored(&bob, group("team"), &uid).await;
    assert_eq!(copy["readReceiptInfo"]["hasRespond"], true);
    assert_eq!(copy["readReceiptInfo"]["isReceiptRequestMessage"], true);

    let ev = alice.wait_for("MESSAGE_RECEIPT_RESPONSE", |_| true).await;
    assert_eq!(
        ev,
        json!({ "conversation": { "conversationType": 3, "targetId": "team", "channelId": "" },
                "receivedUserId": "bob", "messageUidList": [uid] })
    );
    let own = stored(&alice, group("team"), &uid).await;
    assert_eq!(own["readReceiptInfo"]["respondUserIdList"], json!(["bob"]));
    assert_eq!(own["readReceiptInfo"]["readCount"], 1);
    assert_eq!(own["readReceiptInfo"]["isReceiptRequestMessage"], true);

    // Answering twice does not count the reader twice.
    bob.engine
        .send_read_receipt_response_v2(json!("team"), json!({ "alice": [uid] }), json!(""))
        .await
        .unwrap();
    alice
        .until("the second response arrives", |_| async {
            events_named(&alice, "MESSAGE_RECEIPT_RESPONSE").len() == 2
        })
        .await;
    let own = stored(&alice, group("team"), &uid).await;
    assert_eq!(own["readReceiptInfo"]["respondUserIdList"], json!(["bob"]));
    assert_eq!(own["readReceiptInfo"]["readCount"], 1);

    // An illegal messageList is the seed's 34206, not 33003.
    bad_receipt_list(
        bob.engine
            .send_read_receipt_response_v2(json!("team"), json!({}), Value::Null)
            .await,
    );
    bad_receipt_list(
        bob.engine
            .send_read_receipt_response_v2(json!("team"), json!({ "alice": [] }), Value::Null)
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_pulled_offline_come_after_their_messages() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob"]);
    let mut alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    let alice_token = server.token("alice");
    alice.connect(&alice_token).await;
    // Bob is offline while alice sends and asks for receipts.
    let mut uids = Vec::new();
    for i in 0..3 {
        let m = send(&alice, group("team"), text(&format!("需要回执 {i}"))).await;
        alice
            .engine
            .send_read_receipt_request(json!("team"), m["messageUId"].clone(), Value::Null)
            .await
            .unwrap();
        uids.push(m["messageUId"].clone());
    }
    bob.connect(&server.token("bob")).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    let log = bob.log.lock().unwrap().clone();
    for uid in &uids {
        let message_at = log
            .iter()
            .position(|(n, p)| n == "MESSAGES" && carries(p, uid))
            .unwrap_or_else(|| panic!("no MESSAGES for {uid}"));
        let request_at = log
            .iter()
            .position(|(n, p)| n == "MESSAGE_RECEIPT_REQUEST" && &p["messageUid"] == uid)
            .unwrap_or_else(|| panic!("no MESSAGE_RECEIPT_REQUEST for {uid}"));
        assert!(
            message_at < request_at,
            "the request for {uid} came before its message: {:?}",
            log.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        let copy = stored(&bob, group("team"), uid).await;
        assert_eq!(
            copy["readReceiptInfo"],
            json!({ "isReceiptRequestMessage": true, "hasRespond": false })
        );
    }

    // Alice is offline while bob answers: she gets it on return.
    go_offline(&mut alice).await;
    bob.engine
        .send_read_receipt_response_v2(json!("team"), json!({ "alice": uids }), Value::Null)
        .await
        .unwrap();
    alice.connect(&alice_token).await;
    let ev = alice.wait_for("MESSAGE_RECEIPT_RESPONSE", |_| true).await;
    assert_eq!(ev["receivedUserId"], "bob");
    assert_eq!(ev["messageUidList"], json!(uids));
    for uid in &uids {
        let own = stored(&alice, group("team"), uid).await;
        assert_eq!(own["readReceiptInfo"]["respondUserIdList"], json!(["bob"]));
        assert_eq!(own["readReceiptInfo"]["readCount"], 1);
        assert_eq!(
            stored(&bob, group("team"), uid).await["readReceiptInfo"]["hasRespond"],
            true
        );
    }
}

// ---- recall --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recalling_a_group_mention_fixes_unread_and_mention_counts_everywhere() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob"]);
    let alice = Client::new(&server.url(), "Electron");
    let mut alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    alice_web.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let plain = send(&alice, group("team"), text("第一条")).await;
    let at = send(&alice, group("team"), mention("@bob 这条发错了", &["bob"])).await;
    let uid = at["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    alice_web.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    assert_eq!(unread(&bob, group("team")).await, 2);
    assert_eq!(mentions(&bob, group("team")).await, 1);
    assert_eq!(
        bob.engine.get_all_unread_mentioned_count().await.unwrap(),
        1
    );
    let bob_copy = stored(&bob, group("team"), &uid).await;
    let web_copy = stored(&alice_web, group("team"), &uid).await;

    bad_arg(
        alice
            .engine
            .recall_message(group("team"), json!({ "messageUId": uid }))
            .await,
        "sentTime",
    );
    let recalled = alice
        .engine
        .recall_message(
            group("team"),
            json!({ "messageUId": uid, "sentTime": at["sentTime"] }),
        )
        .await
        .unwrap();
    assert_eq!(recalled["messageType"], "RC:RcNtf");
    assert_eq!(recalled["messageId"], at["messageId"], "replaced in place");
    assert_eq!(count(&alice, group("team")).await, 2);

    let bob_id = bob_copy["messageId"].clone();
    bob.until("bob's copy becomes the notice", |e| {
        let bob_id = bob_id.clone();
        async move {
            let h = e
                .get_history_messages(group("team"), Value::Null)
                .await
                .unwrap();
            h["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["messageId"] == bob_id && m["messageType"] == "RC:RcNtf")
        }
    })
    .await;
    let notice = stored_id(&bob, group("team"), &bob_id).await;
    assert_eq!(notice["content"]["operatorId"], "alice");
    assert_eq!(count(&bob, group("team")).await, 2, "replaced, not added");
    assert_eq!(unread(&bob, group("team")).await, 1);
    assert_eq!(mentions(&bob, group("team")).await, 0);
    assert_eq!(
        bob.engine.get_all_unread_mentioned_count().await.unwrap(),
        0
    );
    assert_eq!(total(&bob, true, Value::Null).await, 1);
    assert_eq!(
        bob.engine
            .get_first_unread_message_info(group("team"))
            .await
            .unwrap()["messageUId"],
        plain["messageUId"]
    );
    let found = bob
        .engine
        .search_messages(
            group("team"),
            json!("发错"),
            json!(0),
            json!(10),
            Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(found["count"], 0, "the recalled text is not searchable");

    let web_id = web_copy["messageId"].clone();
    alice_web
        .until("alice's other device replaces its copy", |e| {
            let web_id = web_id.clone();
            async move {
                let h = e
                    .get_history_messages(group("team"), Value::Null)
                    .await
                    .unwrap();
                h["list"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["messageId"] == web_id && m["messageType"] == "RC:RcNtf")
            }
        })
        .await;
    assert_eq!(count(&alice_web, group("team")).await, 2);
}

// ---- expansion -----------------------------------------------------------------------

fn expansion_of(m: &Value) -> Map<String, Value> {
    m["expansion"].as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expansion_changes_reach_the_peer_and_the_other_device() {
    let server = Server::start();
    let mut alice = Client::new(&server.url(), "Electron");
    let mut alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    alice_web.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let sent = alice
        .engine
        .send_message(
            private("bob"),
            text("投票：午饭吃什么"),
            json!({ "canIncludeExpansion": true, "expansion": { "color": "red" } }),
        )
        .await
        .unwrap();
    let uid = sent["messageUId"].clone();
    assert_eq!(sent["canIncludeExpansion"], true);
    assert_eq!(sent["expansion"], json!({ "color": "red" }));
    for c in [&mut bob, &mut alice_web] {
        let ev = c.wait_for("MESSAGES", |p| carries(p, &uid)).await;
        let m = ev["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["messageUId"] == uid)
            .unwrap()
            .clone();
        assert_eq!(m["canIncludeExpansion"], true);
        assert_eq!(m["expansion"], json!({ "color": "red" }));
    }

    assert_eq!(
        alice
            .engine
            .update_message_expansion(json!({ "color": "blue", "size": "L" }), sent.clone())
            .await
            .unwrap(),
        Value::Null
    );
    let want = json!({ "color": "blue", "size": "L" });
    assert_eq!(
        stored(&alice, private("bob"), &uid).await["expansion"],
        want
    );
    for (c, conv, target) in [
        (&mut bob, private("alice"), "alice"),
        (&mut alice_web, private("bob"), "bob"),
    ] {
        let ev = c
            .wait_for("EXPANSION", |p| p.get("updatedExpansion").is_some())
            .await;
        assert_eq!(
            ev,
            json!({ "updatedExpansion": { "messageUId": uid, "expansion": want,
                        "conversationType": 1, "targetId": target, "channelId": "" },
                    "conversationType": 1, "targetId": target, "channelId": "" })
        );
        assert_eq!(stored(c, conv, &uid).await["expansion"], want);
    }

    // The peer removes a key with its own copy of the message.
    let bob_copy = stored(&bob, private("alice"), &uid).await;
    bob.engine
        .remove_message_expansion_for_key(json!(["color"]), bob_copy)
        .await
        .unwrap();
    assert_eq!(
        stored(&bob, private("alice"), &uid).await["expansion"],
        json!({ "size": "L" })
    );
    for c in [&mut alice, &mut alice_web] {
        let ev = c
            .wait_for("EXPANSION", |p| p.get("deletedExpansion").is_some())
            .await;
        assert_eq!(
            ev,
            json!({ "deletedExpansion": { "messageUId": uid, "deletedKeys": ["color"],
                        "conversationType": 1, "targetId": "bob", "channelId": "" },
                    "conversationType": 1, "targetId": "bob", "channelId": "" })
        );
        assert_eq!(
            stored(c, private("bob"), &uid).await["expansion"],
            json!({ "size": "L" })
        );
    }
    assert!(
        events_named(&alice, "EXPANSION")
            .iter()
            .all(|e| e.get("updatedExpansion").is_none()),
        "the device that made a change is not told about it again: {:?}",
        events_named(&alice, "EXPANSION")
    );

    // Removing the last key leaves no expansion.
    alice
        .engine
        .remove_message_expansion_for_key(json!(["size"]), sent.clone())
        .await
        .unwrap();
    bob.wait_for("EXPANSION", |p| {
        p["deletedExpansion"]["deletedKeys"] == json!(["size"])
    })
    .await;
    assert!(expansion_of(&stored(&bob, private("alice"), &uid).await).is_empty());
    assert!(expansion_of(&stored(&alice, private("bob"), &uid).await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expansion_limits_hold_just_inside_and_fail_just_outside() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let open = json!({ "canIncludeExpansion": true });
    let sent = alice
        .engine
        .send_message(private("bob"), text("kv"), open.clone())
        .await
        .unwrap();
    let uid = sent["messageUId"].clone();
    let update = |exp: Value| alice.engine.update_message_expansion(exp, sent.clone());
    let current = || async { expansion_of(&stored(&alice, private("bob"), &uid).await) };

    // Keys: 1..=32 of [A-Za-z0-9+=_-].
    let k32 = "K".repeat(32);
    update(json!({ k32.clone(): "v" })).await.unwrap();
    update(json!({ "a+b=c_d-e": "v" })).await.unwrap();
    fails(
        update(json!({ "K".repeat(33): "v" })).await,
        EXPANSION_LIMIT,
        "33-character key",
    );
    for bad in ["bad key", "ключ", "a.b", "a/b"] {
        fails(
            update(json!({ bad: "v" })).await,
            EXPANSION_LIMIT,
            &format!("key {bad:?}"),
        );
    }
    // Values: at most 4096 characters (not bytes).
    let v4096 = "界".repeat(4096);
    update(json!({ "big": v4096.clone() })).await.unwrap();
    fails(
        update(json!({ "big": "界".repeat(4097) })).await,
        EXPANSION_LIMIT,
        "4097-character value",
    );
    fails(
        update(json!({ "big2": "x".repeat(4097) })).await,
        EXPANSION_LIMIT,
        "4097-character ascii value",
    );
    // At most 20 keys per call, for setting and for removing.
    let keys = |prefix: &str, n: usize| -> Map<String, Value> {
        (0..n)
            .map(|i| (format!("{prefix}{i}"), json!("v")))
            .collect()
    };
    update(Value::Object(keys("p", 20))).await.unwrap();
    fails(
        update(Value::Object(keys("q", 21))).await,
        EXPANSION_LIMIT,
        "21 keys in one update",
    );
    let names = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    };
    fails(
        alice
            .engine
            .remove_message_expansion_for_key(json!(names("p", 21)), sent.clone())
            .await,
        EXPANSION_LIMIT,
        "21 keys in one removal",
    );
    fails(
        alice
            .engine
            .remove_message_expansion_for_key(json!(["K".repeat(33)]), sent.clone())
            .await,
        EXPANSION_LIMIT,
        "removing a 33-character key",
    );
    alice
        .engine
        .remove_message_expansion_for_key(json!(names("p", 20)), sent.clone())
        .await
        .unwrap();
    let now = current().await;
    let mut want: Vec<&str> = vec![&k32, "a+b=c_d-e", "big"];
    want.sort();
    assert_eq!(
        now.keys().map(String::as_str).collect::<Vec<_>>(),
        want,
        "refused calls changed nothing"
    );
    assert_eq!(now["big"], json!(v4096));

    // At most 300 keys on a message.
    let mut n = now.len();
    let mut batch = 0;
    while n < 300 {
        let take = (300 - n).min(20);
        update(Value::Object(keys(&format!("f{batch}_"), take)))
            .await
            .unwrap();
        n += take;
        batch += 1;
    }
    assert_eq!(current().await.len(), 300);
    fails(
        update(json!({ "one_more": "v" })).await,
        EXPANSION_LIMIT,
        "the 301st key",
    );
    update(json!({ "big": "replaced" }))
        .await
        .expect("changing a key of a full message adds nothing");
    alice
        .engine
        .remove_message_expansion_for_key(json!(["big"]), sent.clone())
        .await
        .unwrap();
    update(json!({ "one_more": "v" }))
        .await
        .expect("a freed slot can be used again");
    let full = current().await;
    assert_eq!(full.len(), 300);
    assert!(!full.contains_key("big"));
    let bob_conv = private("alice");
    let want_full = Value::Object(full);
    let uid2 = uid.clone();
    bob.until("bob's copy holds the same 300 keys", |e| {
        let (want_full, uid2, bob_conv) = (want_full.clone(), uid2.clone(), bob_conv.clone());
        async move {
            all_messages(&e, bob_conv)
                .await
                .iter()
                .any(|m| m["messageUId"] == uid2 && m["expansion"] == want_full)
        }
    })
    .await;

    // A message that does not allow expansion.
    let closed = send(&alice, private("bob"), text("no kv")).await;
    assert_eq!(closed["canIncludeExpansion"], false);
    fails(
        alice
            .engine
            .update_message_expansion(json!({ "a": "1" }), closed.clone())
            .await,
        KV_NOT_SUPPORT,
        "update on a message sent without canIncludeExpansion",
    );
    fails(
        alice
            .engine
            .remove_message_expansion_for_key(json!(["a"]), closed.clone())
            .await,
        KV_NOT_SUPPORT,
        "remove on a message sent without canIncludeExpansion",
    );
    // Even when the message object does not say so, the stored message decides.
    fails(
        alice
            .engine
            .update_message_expansion(
                json!({ "a": "1" }),
                json!({ "messageUId": closed["messageUId"], "conversationType": 1, "targetId": "bob" }),
            )
            .await,
        KV_NOT_SUPPORT,
        "update on a stored message without canIncludeExpansion",
    );
    // Sending with expansion needs canIncludeExpansion, and the limits apply at send.
    for opts in [
        json!({ "expansion": { "a": "1" } }),
        json!({ "canIncludeExpansion": false, "expansion": { "a": "1" } }),
    ] {
        fails(
            alice
                .engine
                .send_message(private("bob"), text("x"), opts.clone())
                .await,
            KV_NOT_SUPPORT,
            &format!("send with {opts}"),
        );
    }
    fails(
        alice
            .engine
            .send_message(
                private("bob"),
                text("x"),
                json!({ "canIncludeExpansion": true, "expansion": keys("s", 21) }),
            )
            .await,
        EXPANSION_LIMIT,
        "send with 21 expansion keys",
    );
    let at_send = alice
        .engine
        .send_message(
            private("bob"),
            text("x"),
            json!({ "canIncludeExpansion": true, "expansion": keys("s", 20) }),
        )
        .await
        .unwrap();
    assert_eq!(expansion_of(&at_send).len(), 20);
}

// ---- typing --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_status_reaches_only_the_online_peer_once_per_window_and_is_never_stored() {
    let interval = Duration::from_millis(400);
    let server = Server::start();
    let alice = Client::with_options(
        &server.url(),
        "Electron",
        Arc::new(tempfile::tempdir().unwrap()),
        json!({ "typingInterval": interval.as_millis() as u64 }),
    );
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    let bob_token = server.token("bob");
    bob.connect(&bob_token).await;
    let typing = || {
        alice
            .engine
            .send_typing_status_message(private("bob"), json!("RC:TxtMsg"))
    };

    let started = Instant::now();
    let first = typing().await.unwrap();
    let second_at = started.elapsed();
    let second = typing().await.unwrap();
    assert_eq!(first["messageType"], "RC:TypSts");
    assert_eq!(first["messageId"], 0, "a status message is not stored");
    if second_at < interval {
        assert_eq!(
            second,
            Value::Null,
            "a call inside the window sends nothing"
        );
    }
    let ev = bob.wait_for("TYPING_STATUS", |_| true).await;
    assert_eq!(
        ev,
        json!({ "status": [{ "conversationType": 1, "targetId": "alice", "channelId": "",
                "list": [{ "userId": "alice", "timestamp": first["sentTime"], "messageType": "RC:TxtMsg" }] }] })
    );

    // After the window it sends again (and calls inside it never did).
    let deadline = Instant::now() + DEADLINE;
    let third = loop {
        let r = typing().await.unwrap();
        if !r.is_null() {
            break r;
        }
        assert!(Instant::now() < deadline, "the typing window never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        started.elapsed() >= interval,
        "sent again after {:?}, inside the {interval:?} window",
        started.elapsed()
    );
    bob.wait_for("TYPING_STATUS", |p| {
        p["status"][0]["list"][0]["timestamp"] == third["sentTime"]
    })
    .await;
    assert_eq!(
        events_named(&bob, "TYPING_STATUS").len(),
        2,
        "throttled calls sent nothing"
    );
    assert_eq!(count(&alice, private("bob")).await, 0);
    assert_eq!(count(&bob, private("alice")).await, 0);
    assert_eq!(total(&bob, true, Value::Null).await, 0);
    assert!(
        events_named(&bob, "MESSAGES").is_empty(),
        "typing is no message"
    );

    // An offline peer never gets it later.
    go_offline(&mut bob).await;
    let deadline = Instant::now() + DEADLINE;
    while typing().await.unwrap().is_null() {
        assert!(Instant::now() < deadline, "the typing window never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = send(&alice, private("bob"), text("刚才在打字")).await;
    let mark = log_len(&bob);
    bob.connect(&bob_token).await;
    let uid = after["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    assert!(
        events_since(&bob, mark)
            .iter()
            .all(|(n, _)| n != "TYPING_STATUS"),
        "typing sent while offline arrived later"
    );
    assert_eq!(count(&bob, private("alice")).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_interval_two_quick_typing_calls_send_one_per_conversation() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob"]);
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let in_group = alice
        .engine
        .send_typing_status_message(group("team"), json!("RC:TxtMsg"))
        .await
        .unwrap();
    assert!(!in_group.is_null());
    assert_eq!(
        alice
            .engine
            .send_typing_status_message(group("team"), json!("RC:TxtMsg"))
            .await
            .unwrap(),
        Value::Null,
        "the second call within 6 s sends nothing"
    );
    let in_private = alice
        .engine
        .send_typing_status_message(private("bob"), json!("RC:VcMsg"))
        .await
        .unwrap();
    assert!(
        !in_private.is_null(),
        "the window is per conversation: another conversation sends"
    );
    fails(
        alice
            .engine
            .send_typing_status_message(system("notice"), json!("RC:TxtMsg"))
            .await,
        TYPE_NOT_SUPPORTED,
        "typing in a system conversation",
    );
    // Pushed in order: once this message is in, every typing status sent before it is too.
    let done = send(&alice, group("team"), text("打完了")).await;
    let uid = done["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    let got = events_named(&bob, "TYPING_STATUS");
    assert_eq!(got.len(), 2, "one per conversation: {got:?}");
    let summary: Vec<(Value, Value, Value, Value)> = got
        .iter()
        .map(|e| {
            let s = &e["status"][0];
            (
                s["conversationType"].clone(),
                s["targetId"].clone(),
                s["list"][0]["userId"].clone(),
                s["list"][0]["messageType"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(3), json!("team"), json!("alice"), json!("RC:TxtMsg")),
            (json!(1), json!("alice"), json!("alice"), json!("RC:VcMsg")),
        ]
    );
    assert_eq!(
        count(&bob, group("team")).await,
        1,
        "only the text is stored"
    );
}

// ---- custom message types --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_types_are_stored_counted_searched_or_only_reported_as_registered() {
    let server = Server::start();
    let alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    for c in [&alice, &bob] {
        let reg = |name: &str, persisted: bool, counted: bool, props: Value, status: bool| {
            c.engine.register_message_type(
                json!(name),
                json!(persisted),
                json!(counted),
                props,
                json!(status),
            )
        };
        reg("App:Card", true, true, json!(["title", "body"]), false)
            .await
            .unwrap();
        reg("App:Quiet", true, false, json!([]), false)
            .await
            .unwrap();
        reg("App:Ping", false, false, json!([]), false)
            .await
            .unwrap();
        reg("App:Live", false, false, json!([]), true)
            .await
            .unwrap();
    }
    alice.connect(&server.token("alice")).await;
    let bob_token = server.token("bob");
    bob.connect(&bob_token).await;
    let custom = |t: &str, content: Value| json!({ "messageType": t, "content": content });

    // Persisted, counted, searchable by its searchProps.
    let card = send(
        &alice,
        private("bob"),
        custom(
            "App:Card",
            json!({ "title": "季度报告 Q3", "body": "请在周五前审阅", "id": 7 }),
        ),
    )
    .await;
    assert!(card["messageId"].as_i64().unwrap() > 0);
    let uid = card["messageUId"].clone();
    let ev = bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    assert_eq!(ev["messages"][0]["messageType"], "App:Card");
    assert!(ev["messages"][0]["messageId"].as_i64().unwrap() > 0);
    assert_eq!(count(&bob, private("alice")).await, 1);
    assert_eq!(unread(&bob, private("alice")).await, 1);
    for keyword in ["报告", "周五", "q3"] {
        let found = bob
            .engine
            .search_messages(
                private("alice"),
                json!(keyword),
                json!(0),
                json!(10),
                Value::Null,
            )
            .await
            .unwrap();
        assert_eq!(found["count"], 1, "search {keyword:?}");
        assert_eq!(found["messages"][0]["messageUId"], uid);
    }

    // Persisted but not counted.
    let quiet = send(
        &alice,
        private("bob"),
        custom("App:Quiet", json!({ "note": "不计未读" })),
    )
    .await;
    assert!(quiet["messageId"].as_i64().unwrap() > 0);
    let uid = quiet["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    assert_eq!(count(&bob, private("alice")).await, 2);
    assert_eq!(unread(&bob, private("alice")).await, 1);
    assert_eq!(
        stored(&bob, private("alice"), &uid).await["isCounted"],
        false
    );

    // Not persisted: reported, never stored.
    let ping = send(
        &alice,
        private("bob"),
        custom("App:Ping", json!({ "n": 1 })),
    )
    .await;
    assert_eq!(ping["messageId"], 0);
    let ev = bob
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["messageType"] == "App:Ping"
        })
        .await;
    assert_eq!(ev["messages"][0]["messageId"], 0);
    assert_eq!(ev["messages"][0]["content"], json!({ "n": 1 }));
    assert_eq!(ev["messages"][0]["senderUserId"], "alice");

    // A status message: only to online devices, never stored.
    let live = send(
        &alice,
        private("bob"),
        custom("App:Live", json!({ "viewers": 12 })),
    )
    .await;
    assert_eq!(live["messageId"], 0);
    let ev = bob
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["messageType"] == "App:Live"
        })
        .await;
    assert_eq!(ev["messages"][0]["messageId"], 0);
    assert_eq!(ev["messages"][0]["isStatusMessage"], true);
    assert_eq!(ev["messages"][0]["content"], json!({ "viewers": 12 }));
    assert_eq!(count(&bob, private("alice")).await, 2);
    assert_eq!(unread(&bob, private("alice")).await, 1);
    assert_eq!(
        count(&alice, private("bob")).await,
        2,
        "card and quiet only"
    );

    go_offline(&mut bob).await;
    send(
        &alice,
        private("bob"),
        custom("App:Live", json!({ "viewers": 13 })),
    )
    .await;
    let card2 = send(
        &alice,
        private("bob"),
        custom("App:Card", json!({ "title": "离线之后" })),
    )
    .await;
    let mark = log_len(&bob);
    bob.connect(&bob_token).await;
    let uid = card2["messageUId"].clone();
    bob.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    bob.wait_for("PULL_OFFLINE_MESSAGE_FINISHED", |_| true)
        .await;
    assert!(
        events_since(&bob, mark).iter().all(|(n, p)| n != "MESSAGES"
            || p["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["messageType"] != "App:Live")),
        "a status message sent while offline arrived later"
    );
    assert_eq!(count(&bob, private("alice")).await, 3);
    assert_eq!(unread(&bob, private("alice")).await, 2);
    let offline_copy = stored(&bob, private("alice"), &uid).await;
    assert_eq!(offline_copy["isOfflineMessage"], true);

    fails(
        alice
            .engine
            .send_message(
                private("bob"),
                custom("App:Unknown", json!({})),
                Value::Null,
            )
            .await,
        NOT_REGISTERED,
        "sending an unregistered type",
    );
    bad_arg(
        alice
            .engine
            .register_message_type(
                json!("App:X"),
                json!("yes"),
                json!(true),
                json!([]),
                json!(false),
            )
            .await,
        "isPersisted",
    );
}

// ---- offline and argument failures ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn these_calls_need_the_connection_and_name_their_bad_arguments() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "bob"]);
    let mut alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    let alice_token = server.token("alice");
    alice.connect(&alice_token).await;
    bob.connect(&server.token("bob")).await;
    let sent = alice
        .engine
        .send_message(
            private("bob"),
            text("kv"),
            json!({ "canIncludeExpansion": true, "expansion": { "a": "1" } }),
        )
        .await
        .unwrap();
    let in_group = send(&alice, group("team"), text("群消息")).await;
    let from_bob = send(&bob, private("alice"), text("未读")).await;
    let from_bob_uid = from_bob["messageUId"].clone();
    alice
        .wait_for("MESSAGES", |p| carries(p, &from_bob_uid))
        .await;
    let (uid, time) = (sent["messageUId"].clone(), sent["sentTime"].clone());
    let guid = in_group["messageUId"].clone();
    let e = &alice.engine;

    // Bad arguments: 33003 naming the argument.
    bad_arg(
        e.send_read_receipt_message(json!(""), uid.clone(), time.clone())
            .await,
        "targetId",
    );
    bad_arg(
        e.send_read_receipt_message(json!("bob"), Value::Null, time.clone())
            .await,
        "messageUId",
    );
    bad_arg(
        e.send_read_receipt_message(json!("bob"), uid.clone(), json!("yesterday"))
            .await,
        "timestamp",
    );
    bad_arg(
        e.send_read_receipt_request(json!(7), guid.clone(), Value::Null)
            .await,
        "targetId",
    );
    bad_arg(
        e.send_read_receipt_request(json!("team"), json!(""), Value::Null)
            .await,
        "messageUId",
    );
    bad_arg(
        e.send_read_receipt_request(json!("team"), guid.clone(), json!(5))
            .await,
        "channelId",
    );
    bad_receipt_list(
        e.send_read_receipt_response_v2(json!("team"), json!("x"), Value::Null)
            .await,
    );
    bad_arg(
        e.send_sync_read_status_message(json!({ "targetId": "bob" }), time.clone())
            .await,
        "conversation.conversationType",
    );
    bad_arg(
        e.send_sync_read_status_message(private("bob"), json!(-1))
            .await,
        "lastMessageSendTime",
    );
    bad_arg(
        e.send_typing_status_message(private("bob"), Value::Null)
            .await,
        "typingContentType",
    );
    bad_arg(
        e.send_typing_status_message(json!("bob"), json!("RC:TxtMsg"))
            .await,
        "conversation",
    );
    bad_arg(
        e.recall_message(private("bob"), json!({ "sentTime": time }))
            .await,
        "messageUId",
    );
    bad_arg(
        e.recall_message(private("bob"), json!("all")).await,
        "options",
    );
    bad_arg(
        e.update_message_expansion(json!(["a"]), sent.clone()).await,
        "expansion",
    );
    bad_arg(
        e.update_message_expansion(json!({ "a": 1 }), sent.clone())
            .await,
        "expansion.a",
    );
    bad_arg(
        e.update_message_expansion(json!({ "a": "2" }), json!({ "conversationType": 1 }))
            .await,
        "messageUId",
    );
    bad_arg(
        e.remove_message_expansion_for_key(json!("a"), sent.clone())
            .await,
        "keys",
    );
    bad_arg(
        e.remove_message_expansion_for_key(json!([]), sent.clone())
            .await,
        "keys",
    );
    bad_arg(
        e.get_unread_count(json!({ "conversationType": 1 })).await,
        "targetId",
    );
    bad_arg(
        e.get_unread_mentioned_count(json!({ "targetId": "team" }))
            .await,
        "conversationType",
    );
    bad_arg(
        e.get_total_unread_count(json!("yes"), Value::Null).await,
        "includeMuted",
    );
    bad_arg(
        e.get_total_unread_count(json!(false), json!("1")).await,
        "conversationTypes",
    );
    bad_arg(
        e.get_unread_conversation_list(json!(["x"])).await,
        "conversationTypes[0]",
    );
    bad_arg(
        e.get_first_unread_message_info(Value::Null).await,
        "conversation",
    );
    bad_arg(
        e.clear_messages_unread_status(json!({ "conversationType": 1, "targetId": "" }))
            .await,
        "targetId",
    );
    // None of that changed anything.
    assert_eq!(unread(&alice, private("bob")).await, 1);
    assert_eq!(
        stored(&alice, private("bob"), &uid).await["expansion"],
        json!({ "a": "1" })
    );

    // Offline: 30002, and nothing changes locally.
    go_offline(&mut alice).await;
    let e = &alice.engine;
    let offline: Vec<(&str, ImResult<Value>)> = vec![
        (
            "sendReadReceiptMessage",
            e.send_read_receipt_message(json!("bob"), uid.clone(), time.clone())
                .await,
        ),
        (
            "sendReadReceiptRequest",
            e.send_read_receipt_request(json!("team"), guid.clone(), Value::Null)
                .await,
        ),
        (
            "sendReadReceiptResponseV2",
            e.send_read_receipt_response_v2(
                json!("team"),
                json!({ "bob": [guid.clone()] }),
                Value::Null,
            )
            .await,
        ),
        (
            "sendSyncReadStatusMessage",
            e.send_sync_read_status_message(private("bob"), from_bob["sentTime"].clone())
                .await,
        ),
        (
            "sendTypingStatusMessage",
            e.send_typing_status_message(private("bob"), json!("RC:TxtMsg"))
                .await,
        ),
        (
            "updateMessageExpansion",
            e.update_message_expansion(json!({ "a": "2" }), sent.clone())
                .await,
        ),
        (
            "removeMessageExpansionForKey",
            e.remove_message_expansion_for_key(json!(["a"]), sent.clone())
                .await,
        ),
        (
            "recallMessage",
            e.recall_message(
                private("bob"),
                json!({ "messageUId": uid, "sentTime": time }),
            )
            .await,
        ),
    ];
    for (what, r) in offline {
        fails(r, NOT_CONNECTED, what);
    }
    assert_eq!(
        unread(&alice, private("bob")).await,
        1,
        "a failed read sync reads nothing"
    );
    let own = stored(&alice, private("bob"), &uid).await;
    assert_eq!(
        own["messageType"], "RC:TxtMsg",
        "a failed recall recalls nothing"
    );
    assert_eq!(own["expansion"], json!({ "a": "1" }));
    let own_group = stored(&alice, group("team"), &guid).await;
    assert!(
        own_group.get("readReceiptInfo").is_none(),
        "a failed receipt request marks nothing: {own_group}"
    );
    // Local reads keep working.
    assert_eq!(total(&alice, false, Value::Null).await, 1);

    // Back online, typing is not held back by the attempt that never went out.
    alice.connect(&alice_token).await;
    let typed = alice
        .engine
        .send_typing_status_message(private("bob"), json!("RC:TxtMsg"))
        .await
        .unwrap();
    assert!(!typed.is_null(), "the failed attempt started no window");
    bob.wait_for("TYPING_STATUS", |p| {
        p["status"][0]["list"][0]["userId"] == "alice"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_stored_is_reported_to_the_other_devices_not_back_to_its_sender() {
    let server = Server::start();
    let mut alice = Client::new(&server.url(), "Electron");
    let mut alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    for c in [&alice, &alice_web, &bob] {
        c.engine
            .register_message_type(
                json!("App:Ping"),
                json!(false),
                json!(false),
                json!([]),
                json!(false),
            )
            .await
            .unwrap();
    }
    alice.connect(&server.token("alice")).await;
    alice_web.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let ping = json!({ "messageType": "App:Ping", "content": { "n": 1 } });
    let sent = alice
        .engine
        .send_message(private("bob"), ping, Value::Null)
        .await
        .unwrap();
    assert_eq!(sent["messageId"], 0, "not stored");
    let is_ping = |p: &Value| {
        p["messages"]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["messageType"] == "App:Ping"))
    };
    bob.wait_for("MESSAGES", is_ping).await;
    let mine = alice_web.wait_for("MESSAGES", is_ping).await;
    assert_eq!(mine["messages"][0]["messageDirection"], 1);
    assert_eq!(mine["messages"][0]["senderUserId"], "alice");
    // Alice's inbox is ordered: once bob's later reply is here, the ping's echo was handled.
    let reply = send(&bob, private("alice"), text("pong")).await;
    let uid = reply["messageUId"].clone();
    alice.wait_for("MESSAGES", |p| carries(p, &uid)).await;
    assert!(
        !events_named(&alice, "MESSAGES").iter().any(is_ping),
        "the sending device got its own ping back"
    );
    assert_eq!(
        count(&alice, private("bob")).await,
        1,
        "only the reply is stored"
    );
}
