//! Synced settings end to end against the real imsync-server: pin and notification level,
//! tags and conversation-tag links, the blacklist. A change made on one device is applied
//! there at once and reaches the user's other devices (CONVERSATION / TAG /
//! CONVERSATION_TAG), live or on their next connect. Nothing sleeps to order anything:
//! every wait is on an event or a polled local state, with a deadline.

mod support;

use std::sync::Arc;

use imsync_core::{Engine, ImError, ImResult};
use serde_json::{json, Value};
use support::*;

const NET_UNAVAILABLE: i32 = 30002;
const INVALID: i32 = 33003;
const TAG_OVERSIZE: i32 = 26004;
const TAG_NOT_EXIST: i32 = 33100;
const TAG_EXISTS: i32 = 33101;
const NO_TAG_IN_CONVER: i32 = 33102;
const CONVER_OUT_LIMIT: i32 = 34013;
const REJECTED_BY_BLACKLIST: i32 = 405;
const BLACK_ADD_ERROR: i32 = 37001;

// ---- helpers ---------------------------------------------------------------------------

fn publish(server: &Server, from: &str, to: &str, s: &str) {
    let r = server.admin(
        "/message/private/publish",
        json!({ "fromUserId": from, "toUserId": to, "objectName": "RC:TxtMsg",
                "content": json!({ "content": s }).to_string() }),
    );
    assert_eq!(r["code"], 200, "{r}");
}

fn publish_to_group(server: &Server, from: &str, group: &str, s: &str) {
    let r = server.admin(
        "/message/group/publish",
        json!({ "fromUserId": from, "toGroupId": group, "objectName": "RC:TxtMsg",
                "content": json!({ "content": s }).to_string() }),
    );
    assert_eq!(r["code"], 200, "{r}");
}

fn create_group(server: &Server, group: &str, members: &[&str]) {
    let r = server.admin(
        "/group/create",
        json!({ "groupId": group, "groupName": group, "userId": members }),
    );
    assert_eq!(r["code"], 200, "{r}");
}

/// The call failed with `code`, and its message names `naming` (when not empty).
#[track_caller]
fn refused(r: ImResult<Value>, code: i32, naming: &str) -> ImError {
    let e = match r {
        Ok(v) => panic!("expected code {code} naming {naming:?}, got success {v}"),
        Err(e) => e,
    };
    assert_eq!(e.code, code, "{e}");
    assert!(
        e.msg.contains(naming),
        "{e}: the message should name {naming:?}"
    );
    e
}

fn targets(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|c| c["targetId"].as_str().unwrap().to_string())
        .collect()
}

fn tag_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|t| t["tagId"].as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn entry<'a>(list: &'a Value, target: &str) -> &'a Value {
    // A conversation list, or a CONVERSATION event's items ({ conversation, updatedItems }).
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i.get("conversation").unwrap_or(i))
        .find(|c| c["targetId"] == target)
        .unwrap_or_else(|| panic!("{target} not in {list}"))
}

/// A CONVERSATION payload that reports `target` in a state `check` accepts.
fn reports(p: &Value, target: &str, check: impl Fn(&Value) -> bool) -> bool {
    p["conversationList"].as_array().is_some_and(|l| {
        l.iter()
            .map(|i| &i["conversation"])
            .any(|c| c["targetId"] == target && check(c))
    })
}

/// The settings events (CONVERSATION, TAG, CONVERSATION_TAG) logged from index `from` on.
fn settings_events(c: &Client, from: usize) -> Vec<(String, Value)> {
    c.log.lock().unwrap()[from..]
        .iter()
        .filter(|(n, _)| n == "CONVERSATION" || n == "TAG" || n == "CONVERSATION_TAG")
        .cloned()
        .collect()
}

fn count_named(c: &Client, name: &str) -> usize {
    c.log
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .count()
}

fn mark(c: &Client) -> usize {
    c.log.lock().unwrap().len()
}

async fn total_unread(e: &Engine, include_muted: bool) -> i64 {
    e.get_total_unread_count(json!(include_muted), Value::Null)
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

async fn wait_unread(c: &Client, n: i64) {
    c.until(&format!("{n} unread messages"), |e| async move {
        total_unread(&e, true).await == n
    })
    .await;
}

async fn top_list(e: &Engine) -> Vec<String> {
    targets(
        &e.get_top_conversation_list(Value::Null, Value::Null)
            .await
            .unwrap(),
    )
}

async fn listed(e: &Engine) -> Vec<String> {
    targets(
        &e.get_conversation_list(json!(0), json!(100), Value::Null, json!(false))
            .await
            .unwrap(),
    )
}

async fn level(e: &Engine, conv: Value) -> i64 {
    e.get_conversation_notification_level(conv)
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

async fn status(e: &Engine, conv: Value) -> i64 {
    e.get_conversation_notification_status(conv)
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

async fn tags_of(e: &Engine, conv: Value) -> Value {
    e.get_tags_from_conversation(conv).await.unwrap()
}

fn tag(id: &str, name: &str) -> Value {
    json!({ "tagId": id, "tagName": name })
}

/// A received, unread text stored locally with a chosen send time.
async fn insert_unread(e: &Engine, target: &str, sent_time: i64) {
    e.insert_message(
        private(target),
        json!({ "messageType": "RC:TxtMsg", "content": { "content": format!("from {target}") },
                "messageDirection": 2, "sentTime": sent_time }),
        json!({ "isUnread": true }),
    )
    .await
    .unwrap();
}

fn fresh_dir() -> Arc<tempfile::TempDir> {
    Arc::new(tempfile::tempdir().unwrap())
}

// ---- pin and notification level -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_and_level_reach_the_other_device_and_drive_unread_and_blocked_lists() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "carol"]);
    let token = server.token("alice");
    let mut a = Client::new(&server.url(), "Electron");
    let mut b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    for i in 0..2 {
        publish(&server, "bob", "alice", &format!("bob {i}"));
    }
    for i in 0..3 {
        publish(&server, "carol", "alice", &format!("carol {i}"));
    }
    publish_to_group(&server, "carol", "team", "team 0");
    for d in [&a, &b] {
        wait_unread(d, 6).await;
        assert_eq!(total_unread(&d.engine, false).await, 6, "nothing muted yet");
        assert!(d
            .engine
            .get_blocked_conversation_list()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        a.engine.get_conversation(private("nobody")).await.unwrap(),
        Value::Null,
        "unknown conversation"
    );
    let a_mark = mark(&a);
    let b_mark = mark(&b);

    // Pin on A: applied on A at once, reported to B with the right state.
    assert_eq!(
        a.engine
            .set_conversation_to_top(private("bob"), json!(true), json!(true))
            .await
            .unwrap(),
        Value::Null
    );
    let bob_on_a = a.engine.get_conversation(private("bob")).await.unwrap();
    assert_eq!(
        bob_on_a["isTop"], true,
        "applied on the changing device at once"
    );
    assert_eq!(top_list(&a.engine).await, ["bob"]);
    let ev = b
        .wait_for("CONVERSATION", |p| {
            reports(p, "bob", |c| c["isTop"] == true)
        })
        .await;
    let list: Vec<&Value> = ev["conversationList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["conversation"])
        .collect();
    assert_eq!(list.len(), 1, "only the changed conversation: {ev}");
    assert_eq!(list[0]["conversationType"], 1);
    assert_eq!(list[0]["notificationLevel"], 0);
    assert_eq!(list[0]["unreadMessageCount"], 2);
    assert_eq!(list[0]["latestMessage"]["content"]["content"], "bob 1");

    // Mute carol (level 5) on A.
    a.engine
        .set_conversation_notification_level(private("carol"), json!(5))
        .await
        .unwrap();
    assert_eq!(level(&a.engine, private("carol")).await, 5);
    let ev = b
        .wait_for("CONVERSATION", |p| {
            reports(p, "carol", |c| c["notificationLevel"] == 5)
        })
        .await;
    let list: Vec<&Value> = ev["conversationList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["conversation"])
        .collect();
    assert_eq!(list.len(), 1, "only the changed conversation: {ev}");
    assert_eq!(list[0]["isTop"], false);
    assert_eq!(
        list[0]["notificationStatus"], 1,
        "legacy view: do not disturb"
    );
    assert_eq!(list[0]["unreadMessageCount"], 3);

    // A made both changes: it heard nothing about them (fence: a round trip on A).
    a.engine.get_blacklist().await.unwrap();
    for (name, p) in settings_events(&a, a_mark) {
        assert!(
            !(name == "CONVERSATION"
                && (reports(&p, "bob", |c| c["isTop"] == true)
                    || reports(&p, "carol", |c| c["notificationLevel"] == 5))),
            "the changing device got its own change back: {name} {p}"
        );
    }

    for d in [&a, &b] {
        let e = &d.engine;
        assert_eq!(total_unread(e, false).await, 3, "carol's 3 are muted");
        assert_eq!(total_unread(e, true).await, 6);
        assert_eq!(
            e.get_total_unread_count(json!(false), json!([1]))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            e.get_total_unread_count(json!(true), json!([1]))
                .await
                .unwrap(),
            5
        );
        assert_eq!(
            e.get_total_unread_count(json!(false), json!([3]))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            targets(&e.get_blocked_conversation_list().await.unwrap()),
            ["carol"]
        );
        assert_eq!(top_list(e).await, ["bob"]);
        assert!(e
            .get_top_conversation_list(json!([3]), Value::Null)
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(
            targets(
                &e.get_top_conversation_list(json!([1]), json!(""))
                    .await
                    .unwrap()
            ),
            ["bob"]
        );
        let first = e
            .get_conversation_list(json!(0), json!(10), Value::Null, json!(true))
            .await
            .unwrap();
        assert_eq!(
            targets(&first)[0],
            "bob",
            "topPriority puts the pinned first"
        );
        assert_eq!(level(e, private("carol")).await, 5);
        assert_eq!(status(e, private("carol")).await, 1);
        assert_eq!(level(e, private("bob")).await, 0);
        assert_eq!(status(e, private("bob")).await, 2);
    }

    // The other way round: B sets the group to @-messages only (level 1, muted too).
    b.engine
        .set_conversation_notification_level(group("team"), json!(1))
        .await
        .unwrap();
    let ev = a
        .wait_for("CONVERSATION", |p| {
            reports(p, "team", |c| c["notificationLevel"] == 1)
        })
        .await;
    assert_eq!(
        entry(&ev["conversationList"], "team")["conversationType"],
        3
    );
    for d in [&a, &b] {
        let mut blocked = targets(&d.engine.get_blocked_conversation_list().await.unwrap());
        blocked.sort();
        assert_eq!(blocked, ["carol", "team"]);
        assert_eq!(total_unread(&d.engine, false).await, 2);
        assert_eq!(status(&d.engine, group("team")).await, 1);
    }
    // ALL_MESSAGE (-1) is not muted.
    a.engine
        .set_conversation_notification_level(group("team"), json!(-1))
        .await
        .unwrap();
    b.wait_for("CONVERSATION", |p| {
        reports(p, "team", |c| c["notificationLevel"] == -1)
    })
    .await;
    for d in [&a, &b] {
        assert_eq!(
            targets(&d.engine.get_blocked_conversation_list().await.unwrap()),
            ["carol"]
        );
        assert_eq!(total_unread(&d.engine, false).await, 3);
        assert_eq!(status(&d.engine, group("team")).await, 2);
    }

    // The legacy status view, set on B: 1 = do not disturb (level 5), 2 = notify (level 0).
    b.engine
        .set_conversation_notification_status(private("bob"), json!(1))
        .await
        .unwrap();
    let ev = a
        .wait_for("CONVERSATION", |p| {
            reports(p, "bob", |c| c["notificationLevel"] == 5)
        })
        .await;
    let bob = entry(&ev["conversationList"], "bob");
    assert_eq!(bob["notificationStatus"], 1);
    assert_eq!(bob["isTop"], true, "a level change keeps the pin");
    for d in [&a, &b] {
        assert_eq!(status(&d.engine, private("bob")).await, 1);
        assert_eq!(level(&d.engine, private("bob")).await, 5);
        assert_eq!(
            total_unread(&d.engine, false).await,
            1,
            "only team's 1 left"
        );
    }
    b.engine
        .set_conversation_notification_status(private("bob"), json!(2))
        .await
        .unwrap();
    a.wait_for("CONVERSATION", |p| {
        reports(p, "bob", |c| {
            c["notificationLevel"] == 0 && c["notificationStatus"] == 2
        })
    })
    .await;
    for d in [&a, &b] {
        assert_eq!(status(&d.engine, private("bob")).await, 2);
        assert_eq!(level(&d.engine, private("bob")).await, 0);
    }

    // Unpin from B.
    b.engine
        .set_conversation_to_top(private("bob"), json!(false), json!(true))
        .await
        .unwrap();
    a.wait_for("CONVERSATION", |p| {
        reports(p, "bob", |c| c["isTop"] == false)
    })
    .await;
    for d in [&a, &b] {
        assert!(top_list(&d.engine).await.is_empty());
    }
    // B made the level-1, status and unpin changes: none came back to it.
    a.engine.get_blacklist().await.unwrap();
    b.engine.get_blacklist().await.unwrap();
    for (name, p) in settings_events(&b, b_mark) {
        assert!(
            !(name == "CONVERSATION"
                && (reports(&p, "team", |c| c["notificationLevel"] == 1)
                    || reports(&p, "bob", |c| c["notificationLevel"] == 5))),
            "the changing device got its own change back: {name} {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_offline_during_changes_catches_up_on_reconnect() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let mut b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    publish(&server, "bob", "alice", "hi from bob");
    publish(&server, "carol", "alice", "hi from carol");
    wait_unread(&a, 2).await;
    wait_unread(&b, 2).await;
    a.engine
        .set_conversation_to_top(private("carol"), json!(true), Value::Null)
        .await
        .unwrap();
    b.wait_for("CONVERSATION", |p| {
        reports(p, "carol", |c| c["isTop"] == true)
    })
    .await;

    b.engine.disconnect(json!(false)).await.unwrap();
    b.wait_for("DISCONNECT", |_| true).await;
    a.engine
        .set_conversation_to_top(private("bob"), json!(true), Value::Null)
        .await
        .unwrap();
    a.engine
        .set_conversation_to_top(private("carol"), json!(false), Value::Null)
        .await
        .unwrap();
    a.engine
        .set_conversation_notification_level(private("bob"), json!(2))
        .await
        .unwrap();
    a.engine.add_tag(tag("work", "Work")).await.unwrap();
    a.engine
        .add_conversations_to_tag(json!("work"), json!([private("bob")]))
        .await
        .unwrap();
    // Still the old state on B while it is away.
    assert_eq!(top_list(&b.engine).await, ["carol"]);
    assert!(b
        .engine
        .get_tags()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());

    b.connect(&token).await;
    let ev = b
        .wait_for("CONVERSATION", |p| {
            reports(p, "bob", |c| {
                c["isTop"] == true && c["notificationLevel"] == 2
            })
        })
        .await;
    assert!(
        reports(&ev, "carol", |c| c["isTop"] == false),
        "the catch-up reports every changed conversation at once: {ev}"
    );
    assert_eq!(b.wait_for("TAG", |_| true).await, Value::Null);
    assert_eq!(b.wait_for("CONVERSATION_TAG", |_| true).await, Value::Null);
    assert_eq!(top_list(&b.engine).await, ["bob"]);
    assert_eq!(level(&b.engine, private("bob")).await, 2);
    assert_eq!(
        b.engine.get_tags().await.unwrap(),
        a.engine.get_tags().await.unwrap()
    );
    assert_eq!(tag_ids(&tags_of(&b.engine, private("bob")).await), ["work"]);
    assert_eq!(
        targets(&b.engine.get_blocked_conversation_list().await.unwrap()),
        ["bob"],
        "level 2 mutes"
    );

    // A device that never ran before gets the whole state on its first connect.
    let fresh = Client::new(&server.url(), "Android");
    fresh.connect(&token).await;
    let want_tags = a.engine.get_tags().await.unwrap();
    fresh
        .until("the new device holds the settings", |e| {
            let want_tags = want_tags.clone();
            async move {
                top_list(&e).await == ["bob"]
                    && level(&e, private("bob")).await == 2
                    && e.get_tags().await.unwrap() == want_tags
                    && tag_ids(&tags_of(&e, private("bob")).await) == ["work"]
            }
        })
        .await;
    assert_eq!(
        fresh
            .engine
            .get_conversation(private("carol"))
            .await
            .unwrap()["isTop"],
        false
    );
}

// ---- enableSyncEmptyTopConversation ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_pinned_conversations_are_listed_only_when_enabled() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    a.connect(&token).await;
    // Pinned before either B device ever connected: they catch up on their first connect.
    a.engine
        .set_conversation_to_top(private("dave"), json!(true), Value::Null)
        .await
        .unwrap();
    a.engine.add_tag(tag("t1", "first")).await.unwrap();

    let mut on = Client::with_options(
        &server.url(),
        "Web",
        fresh_dir(),
        json!({ "enableSyncEmptyTopConversation": true }),
    );
    on.connect(&token).await;
    let ev = on
        .wait_for("CONVERSATION", |p| {
            reports(p, "dave", |c| c["isTop"] == true)
        })
        .await;
    assert_eq!(
        entry(&ev["conversationList"], "dave")["latestMessage"],
        Value::Null
    );
    on.wait_for("TAG", |_| true).await;
    assert!(listed(&on.engine).await.contains(&"dave".to_string()));
    assert_eq!(top_list(&on.engine).await, ["dave"]);

    let mut off = Client::with_options(
        &server.url(),
        "Android",
        fresh_dir(),
        json!({ "enableSyncEmptyTopConversation": false }),
    );
    let off_mark = mark(&off);
    off.connect(&token).await;
    off.wait_for("TAG", |_| true).await;
    assert!(
        !listed(&off.engine).await.contains(&"dave".to_string()),
        "an empty pinned conversation stays out of the list when the option is off"
    );
    assert!(top_list(&off.engine).await.is_empty());
    assert_eq!(
        off.engine.get_conversation(private("dave")).await.unwrap()["isTop"],
        true,
        "the setting itself is known"
    );

    // Live: pinned while both are online.
    a.engine
        .set_conversation_to_top(private("erin"), json!(true), Value::Null)
        .await
        .unwrap();
    on.wait_for("CONVERSATION", |p| {
        reports(p, "erin", |c| c["isTop"] == true)
    })
    .await;
    let mut on_top = top_list(&on.engine).await;
    on_top.sort();
    assert_eq!(on_top, ["dave", "erin"]);
    a.engine.add_tag(tag("t2", "fence")).await.unwrap();
    off.wait_for("TAG", |_| true).await;
    on.wait_for("TAG", |_| true).await;
    assert!(!listed(&off.engine).await.contains(&"erin".to_string()));
    assert!(top_list(&off.engine).await.is_empty());
    for (name, p) in settings_events(&off, off_mark) {
        assert!(
            !(name == "CONVERSATION"
                && (reports(&p, "dave", |_| true) || reports(&p, "erin", |_| true))),
            "an empty pinned conversation was reported with the option off: {p}"
        );
    }

    // A message brings it in, already pinned.
    publish(&server, "dave", "alice", "hello from dave");
    let ev = off
        .wait_for("CONVERSATION", |p| reports(p, "dave", |_| true))
        .await;
    let dave = entry(&ev["conversationList"], "dave");
    assert_eq!(dave["isTop"], true, "{dave}");
    assert_eq!(dave["unreadMessageCount"], 1);
    assert!(listed(&off.engine).await.contains(&"dave".to_string()));
    assert_eq!(top_list(&off.engine).await, ["dave"]);
    let first = off
        .engine
        .get_conversation_list(json!(0), json!(10), Value::Null, json!(true))
        .await
        .unwrap();
    assert_eq!(targets(&first)[0], "dave");
    on.until("dave's message on the enabled device", |e| async move {
        e.get_conversation(private("dave")).await.unwrap()["latestMessage"]["content"]["content"]
            == "hello from dave"
    })
    .await;
    assert_eq!(
        on.engine.get_conversation(private("dave")).await.unwrap()["isTop"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinning_a_listed_empty_conversation_elsewhere_is_reported() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let mut on = Client::with_options(
        &server.url(),
        "Web",
        fresh_dir(),
        json!({ "enableSyncEmptyTopConversation": true }),
    );
    a.connect(&token).await;
    on.connect(&token).await;
    a.engine
        .set_conversation_to_top(private("erin"), json!(true), Value::Null)
        .await
        .unwrap();
    on.wait_for("CONVERSATION", |p| {
        reports(p, "erin", |c| c["isTop"] == true)
    })
    .await;
    assert_eq!(top_list(&on.engine).await, ["erin"]);
    let m = mark(&on);

    a.engine
        .set_conversation_to_top(private("erin"), json!(false), Value::Null)
        .await
        .unwrap();
    a.engine.add_tag(tag("fence", "fence")).await.unwrap();
    on.wait_for("TAG", |_| true).await;
    assert!(
        top_list(&on.engine).await.is_empty(),
        "erin is no longer pinned"
    );
    let reported = settings_events(&on, m)
        .iter()
        .any(|(n, p)| n == "CONVERSATION" && reports(p, "erin", |c| c["isTop"] == false));
    assert!(
        reported,
        "the app showed erin pinned and was never told it was unpinned; events: {:?}",
        settings_events(&on, m)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_only_conversation_stays_listed_when_its_settings_sync() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let mut b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    b.engine
        .save_text_message_draft(private("gina"), json!("half a thought"))
        .await
        .unwrap();
    assert!(listed(&b.engine).await.contains(&"gina".to_string()));
    let m = mark(&b);

    a.engine
        .set_conversation_notification_level(private("gina"), json!(5))
        .await
        .unwrap();
    a.engine.add_tag(tag("fence", "fence")).await.unwrap();
    b.wait_for("TAG", |_| true).await;
    assert_eq!(level(&b.engine, private("gina")).await, 5);
    assert!(
        listed(&b.engine).await.contains(&"gina".to_string()),
        "muting elsewhere removed the draft conversation from the list"
    );
    assert!(
        settings_events(&b, m).iter().any(
            |(n, p)| n == "CONVERSATION" && reports(p, "gina", |c| c["notificationLevel"] == 5)
        ),
        "the level change of a listed conversation was not reported: {:?}",
        settings_events(&b, m)
    );
    assert_eq!(
        b.engine
            .get_text_message_draft(private("gina"))
            .await
            .unwrap(),
        "half a thought"
    );
}

// ---- tags ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_lifecycle_reaches_the_other_device_as_tag_and_conversation_tag_events() {
    let server = Server::start();
    create_group(&server, "team", &["alice", "carol"]);
    let token = server.token("alice");
    let mut a = Client::new(&server.url(), "Electron");
    let mut b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    publish(&server, "bob", "alice", "b");
    publish(&server, "carol", "alice", "c");
    publish_to_group(&server, "carol", "team", "t");
    wait_unread(&a, 3).await;
    wait_unread(&b, 3).await;
    let (bob, carol, team) = (private("bob"), private("carol"), group("team"));

    // 1. addTag on A.
    assert_eq!(
        a.engine.add_tag(tag("work", "工作")).await.unwrap(),
        Value::Null
    );
    let tags = a.engine.get_tags().await.unwrap();
    assert_eq!(tag_ids(&tags), ["work"]);
    assert_eq!(tags[0]["tagName"], "工作");
    assert_eq!(tags[0]["conversationCount"], 0);
    let created = tags[0]["createdTime"].as_i64().unwrap();
    assert!(created > 0);
    assert_eq!(b.wait_for("TAG", |_| true).await, Value::Null);
    assert_eq!(b.engine.get_tags().await.unwrap(), tags);

    // 2. Three conversations into it.
    a.engine
        .add_conversations_to_tag(json!("work"), json!([bob, carol, team]))
        .await
        .unwrap();
    assert_eq!(
        a.engine.get_tags().await.unwrap()[0]["conversationCount"],
        3
    );
    assert_eq!(b.wait_for("CONVERSATION_TAG", |_| true).await, Value::Null);
    assert_eq!(
        b.engine.get_tags().await.unwrap()[0]["conversationCount"],
        3
    );
    assert_eq!(
        tags_of(&b.engine, bob.clone()).await,
        json!([{ "tagId": "work", "tagName": "工作", "createdTime": created, "isTop": false }])
    );
    assert_eq!(tag_ids(&tags_of(&b.engine, team.clone()).await), ["work"]);

    // 3-4. B adds a tag and links carol to it; A hears.
    b.engine.add_tag(tag("home", "Home")).await.unwrap();
    a.wait_for("TAG", |_| true).await;
    assert_eq!(
        tag_ids(&a.engine.get_tags().await.unwrap()),
        ["work", "home"]
    );
    b.engine
        .add_conversations_to_tag(json!("home"), json!([carol]))
        .await
        .unwrap();
    a.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(
        tag_ids(&tags_of(&a.engine, carol.clone()).await),
        ["work", "home"],
        "a conversation can carry several tags"
    );

    // 5. Rename: name changes everywhere, creation time does not.
    a.engine.update_tag(tag("work", "Work 2")).await.unwrap();
    b.wait_for("TAG", |_| true).await;
    let t = &tags_of(&b.engine, bob.clone()).await[0];
    assert_eq!(t["tagName"], "Work 2");
    assert_eq!(t["createdTime"], created);

    // 6. Pin carol inside the tag: separate from the global pin.
    a.engine
        .set_conversation_to_top_in_tag(json!("work"), carol.clone(), json!(true))
        .await
        .unwrap();
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    let ct = tags_of(&b.engine, carol.clone()).await;
    assert_eq!(ct[0]["tagId"], "work");
    assert_eq!(ct[0]["isTop"], true);
    assert_eq!(ct[1]["tagId"], "home");
    assert_eq!(ct[1]["isTop"], false);
    assert_eq!(
        b.engine.get_conversation(carol.clone()).await.unwrap()["isTop"],
        false
    );
    let page = b
        .engine
        .get_conversations_from_tag_by_page(json!("work"), json!(10), json!(0))
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 3);
    let pinned: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isTopInTag"] == true)
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(pinned, ["carol"], "only carol is pinned in the tag");

    // 7-9. The three ways to unlink.
    a.engine
        .remove_conversations_from_tag(json!("work"), json!([team]))
        .await
        .unwrap();
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(tags_of(&b.engine, team.clone()).await, json!([]));
    assert_eq!(
        b.engine.get_tags().await.unwrap()[0]["conversationCount"],
        2
    );
    assert!(
        b.engine.get_conversation(team.clone()).await.unwrap()["latestMessage"].is_object(),
        "unlinking never deletes conversation data"
    );

    a.engine
        .remove_tag_from_conversations(json!("work"), json!([bob]))
        .await
        .unwrap();
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(tags_of(&b.engine, bob.clone()).await, json!([]));
    assert_eq!(
        b.engine.get_tags().await.unwrap()[0]["conversationCount"],
        1
    );

    a.engine
        .remove_tags_from_conversation(carol.clone(), json!(["work", "home"]))
        .await
        .unwrap();
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(tags_of(&b.engine, carol.clone()).await, json!([]));
    let bt = b.engine.get_tags().await.unwrap();
    assert_eq!(bt[0]["conversationCount"], 0);
    assert_eq!(bt[1]["conversationCount"], 0);

    // 10. Removing a tag takes its links with it: both events.
    a.engine
        .add_conversations_to_tag(json!("home"), json!([bob]))
        .await
        .unwrap();
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(tag_ids(&tags_of(&b.engine, bob.clone()).await), ["home"]);
    a.engine.remove_tag(json!("home")).await.unwrap();
    assert_eq!(tag_ids(&a.engine.get_tags().await.unwrap()), ["work"]);
    b.wait_for("TAG", |_| true).await;
    b.wait_for("CONVERSATION_TAG", |_| true).await;
    assert_eq!(tag_ids(&b.engine.get_tags().await.unwrap()), ["work"]);
    assert_eq!(tags_of(&b.engine, bob.clone()).await, json!([]));

    // 11. Refusals, none of which changes anything.
    let before = a.engine.get_tags().await.unwrap();
    refused(a.engine.add_tag(tag("work", "again")).await, TAG_EXISTS, "");
    refused(a.engine.remove_tag(json!("home")).await, TAG_NOT_EXIST, "");
    refused(
        a.engine.update_tag(tag("home", "x")).await,
        TAG_NOT_EXIST,
        "",
    );
    refused(
        a.engine
            .add_conversations_to_tag(json!("home"), json!([bob]))
            .await,
        TAG_NOT_EXIST,
        "",
    );
    refused(
        a.engine
            .set_conversation_to_top_in_tag(json!("work"), bob.clone(), json!(true))
            .await,
        NO_TAG_IN_CONVER,
        "",
    );
    refused(
        a.engine
            .set_conversation_to_top_in_tag(json!("home"), bob.clone(), json!(true))
            .await,
        TAG_NOT_EXIST,
        "",
    );
    refused(
        a.engine
            .get_conversations_from_tag_by_page(json!("home"), json!(10), json!(0))
            .await,
        TAG_NOT_EXIST,
        "",
    );
    refused(
        a.engine
            .get_unread_count_by_tag(json!("home"), json!(true))
            .await,
        TAG_NOT_EXIST,
        "",
    );
    assert_eq!(a.engine.get_tags().await.unwrap(), before);
    assert_eq!(
        a.engine.get_tags().await.unwrap()[0]["tagName"],
        "Work 2",
        "the refused addTag did not rename"
    );

    // 12. Fence: B removes the last tag, A hears it. Then count every settings event: each
    // device heard exactly the other's changes, once each.
    b.engine.remove_tag(json!("work")).await.unwrap();
    a.wait_for("TAG", |_| true).await;
    assert!(a
        .engine
        .get_tags()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    a.engine.get_blacklist().await.unwrap();
    b.engine.get_blacklist().await.unwrap();
    assert_eq!(
        count_named(&a, "TAG"),
        2,
        "B's addTag and removeTag: {:?}",
        a.names()
    );
    assert_eq!(count_named(&a, "CONVERSATION_TAG"), 1, "{:?}", a.names());
    assert_eq!(
        count_named(&b, "TAG"),
        3,
        "A's add, update, remove: {:?}",
        b.names()
    );
    assert_eq!(count_named(&b, "CONVERSATION_TAG"), 7, "{:?}", b.names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_limits_hold_just_inside_and_fail_just_outside() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    let e = &a.engine;

    // Lengths, counted in characters: id 10 in / 11 out, name 15 in / 16 out.
    refused(
        e.add_tag(tag("abcdefghijk", "x")).await,
        INVALID,
        "tag.tagId",
    );
    refused(
        e.add_tag(tag("一二三四五六七八九十百", "x")).await,
        INVALID,
        "tag.tagId",
    );
    refused(
        e.add_tag(tag("ok", "0123456789abcdef")).await,
        INVALID,
        "tag.tagName",
    );
    refused(
        e.add_tag(tag("ok", "一二三四五六七八九十一二三四五六"))
            .await,
        INVALID,
        "tag.tagName",
    );
    refused(e.add_tag(tag("", "x")).await, INVALID, "tag.tagId");
    refused(e.add_tag(tag("ok", "")).await, INVALID, "tag.tagName");
    assert!(e.get_tags().await.unwrap().as_array().unwrap().is_empty());
    e.add_tag(tag("abcdefghij", "一二三四五六七八九十一二三四五"))
        .await
        .unwrap();
    e.add_tag(tag("一二三四五六七八九十", "0123456789abcde"))
        .await
        .unwrap();
    refused(
        e.update_tag(tag("abcdefghij", "0123456789abcdef")).await,
        INVALID,
        "tag.tagName",
    );
    assert_eq!(
        e.get_tags().await.unwrap()[0]["tagName"],
        "一二三四五六七八九十一二三四五"
    );
    e.update_tag(tag("abcdefghij", "fifteen chars!!"))
        .await
        .unwrap();
    assert_eq!(e.get_tags().await.unwrap()[0]["tagName"], "fifteen chars!!");

    // 20 tags in, the 21st out.
    for i in 0..17 {
        e.add_tag(tag(&format!("t{i:02}"), &format!("tag {i}")))
            .await
            .unwrap();
    }
    e.add_tag(tag("big", "Big")).await.unwrap();
    assert_eq!(e.get_tags().await.unwrap().as_array().unwrap().len(), 20);
    refused(
        e.add_tag(tag("t20", "one too many")).await,
        TAG_OVERSIZE,
        "",
    );
    let all: Vec<String> = tag_ids(&e.get_tags().await.unwrap());
    assert_eq!(all.len(), 20);
    assert!(!all.contains(&"t20".to_string()));

    // removeTagsFromConversation: 20 ids in, 21 out.
    let multi = private("multi");
    for id in &all {
        e.add_conversations_to_tag(json!(id), json!([multi]))
            .await
            .unwrap();
    }
    assert_eq!(
        tags_of(e, multi.clone()).await.as_array().unwrap().len(),
        20
    );
    let mut too_many = all.clone();
    too_many.push("t99".into());
    refused(
        e.remove_tags_from_conversation(multi.clone(), json!(too_many))
            .await,
        INVALID,
        "tagIds",
    );
    assert_eq!(
        tags_of(e, multi.clone()).await.as_array().unwrap().len(),
        20
    );
    e.remove_tags_from_conversation(multi.clone(), json!(all))
        .await
        .unwrap();
    assert_eq!(tags_of(e, multi.clone()).await, json!([]));

    // 1000 conversations per call in, 1001 out; empty out.
    let users = |from: usize, to: usize| -> Value {
        json!((from..to)
            .map(|i| private(&format!("u{i:04}")))
            .collect::<Vec<_>>())
    };
    refused(
        e.add_conversations_to_tag(json!("big"), json!([])).await,
        INVALID,
        "conversations",
    );
    e.add_conversations_to_tag(json!("big"), users(0, 1000))
        .await
        .unwrap();
    let count_of = |tags: &Value, id: &str| -> i64 {
        tags.as_array()
            .unwrap()
            .iter()
            .find(|t| t["tagId"] == id)
            .unwrap()["conversationCount"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count_of(&e.get_tags().await.unwrap(), "big"), 1000);
    refused(
        e.add_conversations_to_tag(json!("big"), users(1000, 2001))
            .await,
        CONVER_OUT_LIMIT,
        "",
    );
    refused(
        e.remove_conversations_from_tag(json!("big"), users(0, 1001))
            .await,
        CONVER_OUT_LIMIT,
        "",
    );
    assert_eq!(count_of(&e.get_tags().await.unwrap(), "big"), 1000);
    assert_eq!(tags_of(e, private("u1000")).await, json!([]));
    assert_eq!(tag_ids(&tags_of(e, private("u0000")).await), ["big"]);
    // Only conversations stored here are listed by tag: none of the 1000 is.
    assert_eq!(
        e.get_conversations_from_tag_by_page(json!("big"), json!(1000), json!(0))
            .await
            .unwrap(),
        json!([])
    );

    // Past 1000 a tag keeps its newest: the earliest-tagged go.
    e.add_conversations_to_tag(json!("big"), users(1000, 1001))
        .await
        .unwrap();
    assert_eq!(count_of(&e.get_tags().await.unwrap(), "big"), 1000);
    assert_eq!(
        tags_of(e, private("u0000")).await,
        json!([]),
        "earliest evicted"
    );
    assert_eq!(tag_ids(&tags_of(e, private("u0001")).await), ["big"]);
    assert_eq!(tag_ids(&tags_of(e, private("u1000")).await), ["big"]);
    e.add_conversations_to_tag(json!("big"), users(1001, 1004))
        .await
        .unwrap();
    assert_eq!(count_of(&e.get_tags().await.unwrap(), "big"), 1000);
    for gone in ["u0001", "u0002", "u0003"] {
        assert_eq!(tags_of(e, private(gone)).await, json!([]), "{gone}");
    }
    for kept in ["u0004", "u0999", "u1003"] {
        assert_eq!(tag_ids(&tags_of(e, private(kept)).await), ["big"], "{kept}");
    }

    // Back under 20 tags, one more fits again.
    e.remove_tag(json!("t00")).await.unwrap();
    e.add_tag(tag("t20", "fits now")).await.unwrap();
    assert_eq!(e.get_tags().await.unwrap().as_array().unwrap().len(), 20);

    // The other device ends with exactly the same tags, counts and links.
    let want = e.get_tags().await.unwrap();
    b.until("B converges on A's tags", |be| {
        let want = want.clone();
        async move { be.get_tags().await.unwrap() == want }
    })
    .await;
    for (conv, want) in [
        ("u0000", 0),
        ("u0003", 0),
        ("u0004", 1),
        ("u1003", 1),
        ("multi", 0),
    ] {
        assert_eq!(
            tags_of(&b.engine, private(conv))
                .await
                .as_array()
                .unwrap()
                .len(),
            want,
            "{conv} on B"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_by_tag_page_newest_first_with_tag_pins_first_and_count_unread() {
    let server = Server::start();
    let a = Client::new(&server.url(), "Electron");
    a.connect(&server.token("alice")).await;
    let e = &a.engine;
    let base = imsync_core::message::now_ms() - 3_600_000;
    // p0 (oldest) .. p5 (newest), one unread each; "other" is newer but not tagged;
    // "ghost" is tagged but has nothing stored here.
    for i in 0..6 {
        insert_unread(e, &format!("p{i}"), base + i * 1000).await;
    }
    insert_unread(e, "other", base + 10_000).await;
    e.add_tag(tag("pg", "paging")).await.unwrap();
    e.add_tag(tag("empty", "no one")).await.unwrap();
    let mut members: Vec<Value> = (0..6).map(|i| private(&format!("p{i}"))).collect();
    members.push(private("ghost"));
    e.add_conversations_to_tag(json!("pg"), json!(members))
        .await
        .unwrap();

    // Paging by the last item's sortTime visits every stored member once, newest first.
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let page = e
            .get_conversations_from_tag_by_page(json!("pg"), json!(2), json!(start))
            .await
            .unwrap();
        let list = page.as_array().unwrap();
        if list.is_empty() {
            break;
        }
        assert!(list.len() <= 2);
        for c in list {
            assert_eq!(c["isTopInTag"], false, "{c}");
            assert_eq!(c["sortTime"], c["latestMessage"]["sentTime"], "{c}");
        }
        seen.extend(targets(&page));
        start = list.last().unwrap()["sortTime"].as_i64().unwrap();
        assert!(seen.len() <= 6, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, ["p5", "p4", "p3", "p2", "p1", "p0"]);
    let first = e
        .get_conversations_from_tag_by_page(json!("pg"), json!(1000), json!(0))
        .await
        .unwrap();
    assert_eq!(targets(&first), ["p5", "p4", "p3", "p2", "p1", "p0"]);
    assert_eq!(
        e.get_conversations_from_tag_by_page(json!("empty"), json!(10), json!(0))
            .await
            .unwrap(),
        json!([])
    );

    // Pinned in the tag: flagged (the order stays newest first, so paging is exact), and
    // not pinned globally.
    e.set_conversation_to_top_in_tag(json!("pg"), private("p1"), json!(true))
        .await
        .unwrap();
    let page = e
        .get_conversations_from_tag_by_page(json!("pg"), json!(6), json!(0))
        .await
        .unwrap();
    assert_eq!(targets(&page), ["p5", "p4", "p3", "p2", "p1", "p0"]);
    assert_eq!(page[4]["isTopInTag"], true);
    assert_eq!(page[4]["isTop"], false, "the tag pin is not the global pin");
    assert!(page
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["targetId"] != "p1")
        .all(|c| c["isTopInTag"] == false));
    assert!(top_list(e).await.is_empty());
    assert_eq!(tags_of(e, private("p1")).await[0]["isTop"], true);
    refused(
        e.set_conversation_to_top_in_tag(json!("pg"), private("other"), json!(true))
            .await,
        NO_TAG_IN_CONVER,
        "",
    );
    e.set_conversation_to_top_in_tag(json!("pg"), private("p1"), json!(false))
        .await
        .unwrap();
    let page = e
        .get_conversations_from_tag_by_page(json!("pg"), json!(3), json!(0))
        .await
        .unwrap();
    assert_eq!(targets(&page), ["p5", "p4", "p3"]);
    assert!(page
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["isTopInTag"] == false));

    // Unread by tag: 6 stored members with one unread each; ghost adds nothing, other is
    // not in the tag.
    let by_tag = |muted: bool| async move {
        e.get_unread_count_by_tag(json!("pg"), json!(muted))
            .await
            .unwrap()
            .as_i64()
            .unwrap()
    };
    assert_eq!(by_tag(false).await, 6);
    assert_eq!(by_tag(true).await, 6);
    e.set_conversation_notification_level(private("p2"), json!(5))
        .await
        .unwrap();
    e.set_conversation_notification_level(private("p3"), json!(1))
        .await
        .unwrap();
    e.set_conversation_notification_level(private("p4"), json!(-1))
        .await
        .unwrap();
    e.set_conversation_notification_level(private("other"), json!(5))
        .await
        .unwrap();
    assert_eq!(
        by_tag(false).await,
        4,
        "p2 (level 5) and p3 (level 1) are muted"
    );
    assert_eq!(by_tag(true).await, 6);
    e.clear_messages_unread_status(private("p0")).await.unwrap();
    e.clear_messages_unread_status(private("p2")).await.unwrap();
    assert_eq!(by_tag(false).await, 3);
    assert_eq!(by_tag(true).await, 4);
    assert_eq!(
        e.get_unread_count_by_tag(json!("empty"), json!(true))
            .await
            .unwrap(),
        0
    );
    assert_eq!(total_unread(e, true).await, 5, "p1, p3, p4, p5 and other");
    assert_eq!(total_unread(e, false).await, 3, "p1, p4, p5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_a_tag_with_a_tag_pinned_conversation_visits_each_conversation_once() {
    let server = Server::start();
    let a = Client::new(&server.url(), "Electron");
    a.connect(&server.token("alice")).await;
    let e = &a.engine;
    let base = imsync_core::message::now_ms() - 3_600_000;
    let mut members = Vec::new();
    for i in 0..6 {
        insert_unread(e, &format!("p{i}"), base + i * 1000).await;
        members.push(private(&format!("p{i}")));
    }
    e.add_tag(tag("pg", "paging")).await.unwrap();
    e.add_conversations_to_tag(json!("pg"), json!(members))
        .await
        .unwrap();
    e.set_conversation_to_top_in_tag(json!("pg"), private("p1"), json!(true))
        .await
        .unwrap();
    // Page the way the API offers: the next startTime is the last item's sortTime.
    for count in [1, 2] {
        let mut seen: Vec<String> = Vec::new();
        let mut start = 0;
        for _ in 0..20 {
            let page = e
                .get_conversations_from_tag_by_page(json!("pg"), json!(count), json!(start))
                .await
                .unwrap();
            let list = page.as_array().unwrap();
            if list.is_empty() {
                break;
            }
            seen.extend(targets(&page));
            start = list.last().unwrap()["sortTime"].as_i64().unwrap();
        }
        assert_eq!(seen, ["p5", "p4", "p3", "p2", "p1", "p0"], "newest first");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            (sorted.len(), seen.len()),
            (6, 6),
            "pages of {count} should list each of the 6 conversations once, got {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_on_two_devices_converge_to_the_server_state() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    let now = imsync_core::message::now_ms();
    for d in [&a, &b] {
        for i in 0..10 {
            insert_unread(&d.engine, &format!("c{i}"), now - 10_000 + i).await;
        }
    }
    let (ea, eb) = (a.engine.clone(), b.engine.clone());
    let on_a = async move {
        for i in 0..10 {
            ea.set_conversation_to_top(private(&format!("c{i}")), json!(i % 2 == 0), Value::Null)
                .await
                .unwrap();
            ea.add_tag(tag(&format!("a{i}"), "from a")).await.unwrap();
        }
        ea.add_conversations_to_tag(json!("a0"), json!([private("c1"), private("c2")]))
            .await
            .unwrap();
    };
    let on_b = async move {
        for i in 0..10 {
            eb.set_conversation_notification_level(private(&format!("c{i}")), json!(5))
                .await
                .unwrap();
            eb.add_tag(tag(&format!("b{i}"), "from b")).await.unwrap();
        }
    };
    tokio::join!(on_a, on_b);

    let expected = |e: Arc<Engine>| async move {
        let tags = e.get_tags().await.unwrap();
        let mut ids = tag_ids(&tags);
        ids.sort();
        let mut want: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
        want.extend((0..10).map(|i| format!("b{i}")));
        want.sort();
        let mut ok = ids == want;
        for i in 0..10 {
            let c = e.get_conversation(private(&format!("c{i}"))).await.unwrap();
            ok &= c["isTop"] == (i % 2 == 0) && c["notificationLevel"] == 5;
        }
        ok && tag_ids(&tags_of(&e, private("c2")).await) == ["a0"]
    };
    a.until("A converges", expected).await;
    b.until("B converges", expected).await;
    assert_eq!(
        a.engine.get_tags().await.unwrap(),
        b.engine.get_tags().await.unwrap()
    );
    let mut a_top = top_list(&a.engine).await;
    let mut b_top = top_list(&b.engine).await;
    a_top.sort();
    b_top.sort();
    assert_eq!(a_top, ["c0", "c2", "c4", "c6", "c8"]);
    assert_eq!(a_top, b_top);
    assert_eq!(total_unread(&a.engine, false).await, 0, "all ten muted");
    assert_eq!(total_unread(&b.engine, true).await, 10);
}

// ---- blacklist -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blacklist_blocks_one_way_with_405_and_removal_restores_delivery() {
    let server = Server::start();
    let alice_token = server.token("alice");
    let mut alice = Client::new(&server.url(), "Electron");
    let mut alice_web = Client::new(&server.url(), "Web");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&alice_token).await;
    alice_web.connect(&alice_token).await;
    bob.connect(&server.token("bob")).await;

    assert_eq!(alice.engine.get_blacklist().await.unwrap(), json!([]));
    assert_eq!(
        alice
            .engine
            .get_blacklist_status(json!("bob"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        alice.engine.add_to_blacklist(json!("zoe")).await.unwrap(),
        Value::Null
    );
    alice.engine.add_to_blacklist(json!("bob")).await.unwrap();
    alice.engine.add_to_blacklist(json!("bob")).await.unwrap();
    for d in [&alice, &alice_web] {
        assert_eq!(
            d.engine.get_blacklist().await.unwrap(),
            json!(["bob", "zoe"]),
            "sorted, once each, the same on every device"
        );
        assert_eq!(
            d.engine.get_blacklist_status(json!("bob")).await.unwrap(),
            0
        );
        assert_eq!(
            d.engine.get_blacklist_status(json!("carol")).await.unwrap(),
            1
        );
    }
    assert_eq!(bob.engine.get_blacklist().await.unwrap(), json!([]));
    assert_eq!(
        bob.engine
            .get_blacklist_status(json!("alice"))
            .await
            .unwrap(),
        1
    );
    refused(
        alice.engine.add_to_blacklist(json!("alice")).await,
        BLACK_ADD_ERROR,
        "",
    );

    // bob -> alice: refused, stored FAILED on bob's side.
    let e = refused(
        bob.engine
            .send_message(private("alice"), text("can you hear me"), Value::Null)
            .await,
        REJECTED_BY_BLACKLIST,
        "",
    );
    assert_eq!(e.data.as_ref().unwrap()["sentStatus"], 20);
    // alice -> bob: still delivered (one-way).
    let sent = alice
        .engine
        .send_message(private("bob"), text("I can still talk"), Value::Null)
        .await
        .unwrap();
    assert_eq!(sent["sentStatus"], 30);
    bob.wait_for("MESSAGES", |p| {
        p["messages"][0]["messageUId"] == sent["messageUId"]
    })
    .await;
    // Fence: carol's later message reaches alice's devices after anything bob's could have.
    publish(&server, "carol", "alice", "fence");
    for d in [&mut alice, &mut alice_web] {
        d.wait_for("MESSAGES", |p| {
            p["messages"][0]["content"]["content"] == "fence"
        })
        .await;
        let from_bob = all_messages(&d.engine, private("bob")).await;
        assert!(
            from_bob.iter().all(|m| m["senderUserId"] != "bob"),
            "a blocked message arrived: {from_bob:?}"
        );
    }

    // Removal restores delivery.
    assert_eq!(
        alice
            .engine
            .remove_from_blacklist(json!("bob"))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(alice.engine.get_blacklist().await.unwrap(), json!(["zoe"]));
    assert_eq!(
        alice_web
            .engine
            .get_blacklist_status(json!("bob"))
            .await
            .unwrap(),
        1
    );
    let back = bob
        .engine
        .send_message(private("alice"), text("back again"), Value::Null)
        .await
        .unwrap();
    assert_eq!(back["sentStatus"], 30);
    for d in [&mut alice, &mut alice_web] {
        let ev = d
            .wait_for("MESSAGES", |p| {
                p["messages"][0]["messageUId"] == back["messageUId"]
            })
            .await;
        assert_eq!(ev["messages"][0]["senderUserId"], "bob");
    }

    // The other direction: bob blocks alice; now only bob can talk.
    bob.engine.add_to_blacklist(json!("alice")).await.unwrap();
    assert_eq!(
        bob.engine
            .get_blacklist_status(json!("alice"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        alice
            .engine
            .get_blacklist_status(json!("bob"))
            .await
            .unwrap(),
        1,
        "bob's list is not alice's"
    );
    let e = refused(
        alice
            .engine
            .send_message(private("bob"), text("blocked now"), Value::Null)
            .await,
        REJECTED_BY_BLACKLIST,
        "",
    );
    assert_eq!(e.data.as_ref().unwrap()["sentStatus"], 20);
    let ok = bob
        .engine
        .send_message(private("alice"), text("still mine to say"), Value::Null)
        .await
        .unwrap();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["messageUId"] == ok["messageUId"]
        })
        .await;
    bob.engine
        .remove_from_blacklist(json!("alice"))
        .await
        .unwrap();
    let again = alice
        .engine
        .send_message(private("bob"), text("and we are fine"), Value::Null)
        .await
        .unwrap();
    bob.wait_for("MESSAGES", |p| {
        p["messages"][0]["messageUId"] == again["messageUId"]
    })
    .await;
}

// ---- refusals --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_backed_calls_while_disconnected_fail_with_30002_and_change_nothing() {
    let server = Server::start();
    let token = server.token("alice");
    let mut a = Client::new(&server.url(), "Electron");
    a.connect(&token).await;
    let e = a.engine.clone();
    insert_unread(&e, "bob", imsync_core::message::now_ms() - 1000).await;
    insert_unread(&e, "carol", imsync_core::message::now_ms() - 500).await;
    e.set_conversation_to_top(private("bob"), json!(true), Value::Null)
        .await
        .unwrap();
    e.add_tag(tag("keep", "Keep")).await.unwrap();
    e.add_conversations_to_tag(json!("keep"), json!([private("bob")]))
        .await
        .unwrap();
    e.add_to_blacklist(json!("mallory")).await.unwrap();
    let tags_before = e.get_tags().await.unwrap();
    let bob_before = e.get_conversation(private("bob")).await.unwrap();
    let carol_before = e.get_conversation(private("carol")).await.unwrap();

    e.disconnect(json!(false)).await.unwrap();
    a.wait_for("DISCONNECT", |_| true).await;
    let (bob, carol) = (private("bob"), private("carol"));
    let calls: Vec<(&str, ImResult<Value>)> = vec![
        (
            "setConversationToTop",
            e.set_conversation_to_top(carol.clone(), json!(true), Value::Null)
                .await,
        ),
        (
            "unpin",
            e.set_conversation_to_top(bob.clone(), json!(false), Value::Null)
                .await,
        ),
        (
            "setConversationNotificationLevel",
            e.set_conversation_notification_level(bob.clone(), json!(5))
                .await,
        ),
        (
            "setConversationNotificationStatus",
            e.set_conversation_notification_status(carol.clone(), json!(1))
                .await,
        ),
        ("addTag", e.add_tag(tag("new", "New")).await),
        ("updateTag", e.update_tag(tag("keep", "Renamed")).await),
        ("removeTag", e.remove_tag(json!("keep")).await),
        (
            "addConversationsToTag",
            e.add_conversations_to_tag(json!("keep"), json!([carol]))
                .await,
        ),
        (
            "removeConversationsFromTag",
            e.remove_conversations_from_tag(json!("keep"), json!([bob]))
                .await,
        ),
        (
            "removeTagFromConversations",
            e.remove_tag_from_conversations(json!("keep"), json!([bob]))
                .await,
        ),
        (
            "removeTagsFromConversation",
            e.remove_tags_from_conversation(bob.clone(), json!(["keep"]))
                .await,
        ),
        (
            "setConversationToTopInTag",
            e.set_conversation_to_top_in_tag(json!("keep"), bob.clone(), json!(true))
                .await,
        ),
        ("addToBlacklist", e.add_to_blacklist(json!("trent")).await),
        (
            "removeFromBlacklist",
            e.remove_from_blacklist(json!("mallory")).await,
        ),
        ("getBlacklist", e.get_blacklist().await),
        (
            "getBlacklistStatus",
            e.get_blacklist_status(json!("mallory")).await,
        ),
    ];
    for (name, r) in calls {
        match r {
            Err(err) => assert_eq!(err.code, NET_UNAVAILABLE, "{name}: {err}"),
            Ok(v) => panic!("{name} succeeded while disconnected: {v}"),
        }
    }
    // Local reads keep answering, with nothing changed.
    assert_eq!(e.get_tags().await.unwrap(), tags_before);
    assert_eq!(
        e.get_conversation(private("bob")).await.unwrap(),
        bob_before
    );
    assert_eq!(
        e.get_conversation(private("carol")).await.unwrap(),
        carol_before
    );
    assert_eq!(top_list(&e).await, ["bob"]);
    assert_eq!(tag_ids(&tags_of(&e, private("bob")).await), ["keep"]);
    assert_eq!(status(&e, private("carol")).await, 2);

    // An engine that only opened its database has no connection either.
    let local = Client::new(&server.url(), "Web");
    local.engine.open(json!("alice")).await.unwrap();
    refused(
        local.engine.add_tag(tag("x", "x")).await,
        NET_UNAVAILABLE,
        "",
    );
    refused(local.engine.get_blacklist().await, NET_UNAVAILABLE, "");
    assert_eq!(local.engine.get_tags().await.unwrap(), json!([]));
    local.engine.close().await.unwrap();

    // Nothing reached the server: a fresh device, and A on reconnect, see the old state.
    a.connect(&token).await;
    assert_eq!(e.get_blacklist().await.unwrap(), json!(["mallory"]));
    let fresh = Client::new(&server.url(), "Web");
    fresh.connect(&token).await;
    let want = tags_before.clone();
    fresh
        .until("the fresh device holds the settings", |fe| {
            let want = want.clone();
            async move {
                fe.get_tags().await.unwrap() == want
                    && tag_ids(&tags_of(&fe, private("bob")).await) == ["keep"]
                    && fe.get_conversation(private("bob")).await.unwrap()["isTop"] == true
            }
        })
        .await;
    assert_eq!(fresh.engine.get_tags().await.unwrap()[0]["tagName"], "Keep");
    assert_eq!(level(&fresh.engine, private("bob")).await, 0);
    assert_eq!(level(&fresh.engine, private("carol")).await, 0);
    assert_eq!(tags_of(&fresh.engine, private("carol")).await, json!([]));
    assert_eq!(
        fresh.engine.get_blacklist().await.unwrap(),
        json!(["mallory"])
    );
    assert_eq!(e.get_tags().await.unwrap(), tags_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_fail_with_33003_naming_the_argument_and_change_nothing() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let mut b = Client::new(&server.url(), "Web");
    a.connect(&token).await;
    b.connect(&token).await;
    let e = a.engine.clone();
    insert_unread(&e, "bob", imsync_core::message::now_ms() - 1000).await;
    e.add_tag(tag("work", "Work")).await.unwrap();
    e.add_conversations_to_tag(json!("work"), json!([private("bob")]))
        .await
        .unwrap();
    e.add_to_blacklist(json!("mallory")).await.unwrap();
    b.wait_for("TAG", |_| true).await;
    b.wait_for("CONVERSATION_TAG", |_| true).await;

    async fn state(e: &Engine) -> Value {
        json!({
            "tags": e.get_tags().await.unwrap(),
            "bobTags": e.get_tags_from_conversation(private("bob")).await.unwrap(),
            "bob": e.get_conversation(private("bob")).await.unwrap(),
            "top": e.get_top_conversation_list(Value::Null, Value::Null).await.unwrap(),
            "blocked": e.get_blocked_conversation_list().await.unwrap(),
            "blacklist": e.get_blacklist().await.unwrap(),
        })
    }
    let before = state(&e).await;
    let b_before = b.engine.get_tags().await.unwrap();
    let b_mark = mark(&b);

    let bob = private("bob");
    let cases: Vec<(&str, ImResult<Value>)> = vec![
        (
            "isTop",
            e.set_conversation_to_top(bob.clone(), json!("yes"), Value::Null)
                .await,
        ),
        (
            "updateOperationTime",
            e.set_conversation_to_top(bob.clone(), json!(true), json!(1))
                .await,
        ),
        (
            "conversation.targetId",
            e.set_conversation_to_top(json!({ "conversationType": 1 }), json!(true), Value::Null)
                .await,
        ),
        (
            "conversation.conversationType",
            e.set_conversation_to_top(
                json!({ "conversationType": 99, "targetId": "bob" }),
                json!(true),
                Value::Null,
            )
            .await,
        ),
        (
            "conversation",
            e.set_conversation_to_top(json!("bob"), json!(true), Value::Null)
                .await,
        ),
        (
            "notificationLevel",
            e.set_conversation_notification_level(bob.clone(), json!(3))
                .await,
        ),
        (
            "notificationLevel",
            e.set_conversation_notification_level(bob.clone(), json!(6))
                .await,
        ),
        (
            "notificationLevel",
            e.set_conversation_notification_level(bob.clone(), json!("5"))
                .await,
        ),
        (
            "notificationLevel",
            e.set_conversation_notification_level(bob.clone(), Value::Null)
                .await,
        ),
        (
            "notificationStatus",
            e.set_conversation_notification_status(bob.clone(), json!(0))
                .await,
        ),
        (
            "notificationStatus",
            e.set_conversation_notification_status(bob.clone(), json!(3))
                .await,
        ),
        ("tag", e.add_tag(Value::Null).await),
        ("tag.tagName", e.add_tag(json!({ "tagId": "ok" })).await),
        (
            "tag.tagId",
            e.add_tag(json!({ "tagId": 7, "tagName": "seven" })).await,
        ),
        ("tag.tagName", e.update_tag(tag("work", "")).await),
        (
            "tag.tagName",
            e.update_tag(tag("work", "0123456789abcdef")).await,
        ),
        ("tagId", e.remove_tag(json!("")).await),
        ("tagId", e.remove_tag(json!("abcdefghijk")).await),
        (
            "conversations",
            e.add_conversations_to_tag(json!("work"), json!([])).await,
        ),
        (
            "conversations",
            e.add_conversations_to_tag(json!("work"), json!({})).await,
        ),
        (
            "conversations[1].targetId",
            e.add_conversations_to_tag(
                json!("work"),
                json!([private("carol"), { "conversationType": 1 }]),
            )
            .await,
        ),
        (
            "tagId",
            e.add_conversations_to_tag(json!("abcdefghijk"), json!([private("carol")]))
                .await,
        ),
        (
            "conversations",
            e.remove_conversations_from_tag(json!("work"), json!([]))
                .await,
        ),
        (
            "conversations",
            e.remove_tag_from_conversations(json!("work"), Value::Null)
                .await,
        ),
        (
            "tagIds",
            e.remove_tags_from_conversation(bob.clone(), json!([]))
                .await,
        ),
        (
            "tagIds",
            e.remove_tags_from_conversation(bob.clone(), json!("work"))
                .await,
        ),
        (
            "tagIds[1]",
            e.remove_tags_from_conversation(bob.clone(), json!(["work", ""]))
                .await,
        ),
        (
            "tagIds[1]",
            e.remove_tags_from_conversation(bob.clone(), json!(["work", "abcdefghijk"]))
                .await,
        ),
        (
            "isTop",
            e.set_conversation_to_top_in_tag(json!("work"), bob.clone(), Value::Null)
                .await,
        ),
        (
            "isTop",
            e.set_conversation_to_top_in_tag(json!("work"), bob.clone(), json!(1))
                .await,
        ),
        (
            "tagId",
            e.set_conversation_to_top_in_tag(json!(""), bob.clone(), json!(true))
                .await,
        ),
        (
            "count",
            e.get_conversations_from_tag_by_page(json!("work"), json!(0), json!(0))
                .await,
        ),
        (
            "count",
            e.get_conversations_from_tag_by_page(json!("work"), json!(1001), json!(0))
                .await,
        ),
        (
            "startTime",
            e.get_conversations_from_tag_by_page(json!("work"), json!(10), json!(-1))
                .await,
        ),
        (
            "containMuted",
            e.get_unread_count_by_tag(json!("work"), json!("yes")).await,
        ),
        (
            "tagId",
            e.get_unread_count_by_tag(json!(5), json!(true)).await,
        ),
        (
            "includeMuted",
            e.get_total_unread_count(json!("yes"), Value::Null).await,
        ),
        (
            "conversationTypes[0]",
            e.get_top_conversation_list(json!([99]), Value::Null).await,
        ),
        (
            "channelId",
            e.get_top_conversation_list(Value::Null, json!(5)).await,
        ),
        (
            "conversation",
            e.get_conversation_notification_level(json!("bob")).await,
        ),
        (
            "conversation.targetId",
            e.get_tags_from_conversation(json!({ "conversationType": 1, "targetId": "" }))
                .await,
        ),
        ("userId", e.add_to_blacklist(json!("")).await),
        ("userId", e.add_to_blacklist(json!("x".repeat(65))).await),
        ("userId", e.remove_from_blacklist(Value::Null).await),
        ("userId", e.get_blacklist_status(json!(5)).await),
    ];
    for (arg, r) in cases {
        match r {
            Err(err) => {
                assert_eq!(err.code, INVALID, "{arg}: {err}");
                assert!(err.msg.contains(arg), "{err}: should name {arg:?}");
            }
            Ok(v) => panic!("a bad {arg} was accepted: {v}"),
        }
    }
    assert_eq!(state(&e).await, before, "a refused call changed something");

    // Fence: one real change; B heard that one and nothing before it.
    e.add_tag(tag("fence", "fence")).await.unwrap();
    b.wait_for("TAG", |_| true).await;
    let heard: Vec<String> = settings_events(&b, b_mark)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(heard, ["TAG"], "B heard of refused calls");
    let mut want = b_before.as_array().unwrap().clone();
    want.push(e.get_tags().await.unwrap()[1].clone());
    assert_eq!(b.engine.get_tags().await.unwrap(), json!(want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_conversation_stays_out_of_the_lists_and_events_through_later_syncs() {
    let server = Server::start();
    let token = server.token("alice");
    let a = Client::new(&server.url(), "Electron");
    let mut on = Client::with_options(
        &server.url(),
        "Web",
        fresh_dir(),
        json!({ "enableSyncEmptyTopConversation": true }),
    );
    a.connect(&token).await;
    on.connect(&token).await;
    // An empty conversation pinned elsewhere is listed here, then removed here.
    a.engine
        .set_conversation_to_top(private("erin"), json!(true), Value::Null)
        .await
        .unwrap();
    on.wait_for("CONVERSATION", |p| {
        reports(p, "erin", |c| c["isTop"] == true)
    })
    .await;
    on.engine
        .remove_conversation(private("erin"))
        .await
        .unwrap();
    assert!(listed(&on.engine).await.is_empty());
    // A conversation with messages, removed here, then read on the other device.
    publish(&server, "frank", "alice", "hello");
    on.until("frank's message", |e| async move {
        e.get_unread_count(private("frank")).await.unwrap() == json!(1)
    })
    .await;
    on.engine
        .remove_conversation(private("frank"))
        .await
        .unwrap();
    let m = mark(&on);
    // Unrelated synced changes and a read sync of the removed conversation.
    a.until("frank's message on A", |e| async move {
        e.get_message_count(private("frank")).await.unwrap() == json!(1)
    })
    .await;
    let sent = a.engine.get_conversation(private("frank")).await.unwrap()["latestMessage"]
        ["sentTime"]
        .clone();
    a.engine
        .send_sync_read_status_message(private("frank"), sent)
        .await
        .unwrap();
    a.engine.add_tag(tag("later", "later")).await.unwrap();
    on.wait_for("TAG", |_| true).await;
    assert!(
        listed(&on.engine).await.is_empty(),
        "both stay removed: {:?}",
        listed(&on.engine).await
    );
    let shown: Vec<_> = settings_events(&on, m)
        .into_iter()
        .filter(|(n, p)| {
            n == "CONVERSATION" && (reports(p, "erin", |_| true) || reports(p, "frank", |_| true))
        })
        .collect();
    assert!(
        shown.is_empty(),
        "removed conversations reported: {shown:?}"
    );
    // A new message brings one back, with an event.
    publish(&server, "frank", "alice", "again");
    on.wait_for("CONVERSATION", |p| reports(p, "frank", |_| true))
        .await;
    assert_eq!(listed(&on.engine).await, ["frank"]);
}
