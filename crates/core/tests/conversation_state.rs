//! The local conversation-state calls (unread counts, drafts, removal, lookups, synced
//! settings read locally) against a real SQLite file, without a server.

use imsync_core::Engine;
use serde_json::{json, Value};

async fn open() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        &json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 1 }),
    )
    .unwrap();
    engine.open(json!("me")).await.unwrap();
    (engine, dir)
}

fn private(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

fn group(target: &str) -> Value {
    json!({ "conversationType": 3, "targetId": target })
}

/// A received message, unread unless `read`; `mention` @-mentions the user.
async fn receive(e: &Engine, conv: &Value, from: &str, t: i64, mention: bool, read: bool) -> Value {
    let mut content = json!({ "content": format!("m{t}") });
    if mention {
        content["mentionedInfo"] = json!({ "type": 2, "userIdList": ["me"] });
    }
    let m = json!({ "messageType": "RC:TxtMsg", "content": content, "messageDirection": 2,
                    "senderUserId": from, "sentTime": t, "messageUId": format!("{from}-{t}") });
    e.insert_message(conv.clone(), m, json!({ "isUnread": !read }))
        .await
        .unwrap()
}

async fn n(v: impl std::future::Future<Output = imsync_core::ImResult<Value>>) -> i64 {
    v.await.unwrap().as_i64().unwrap()
}

#[tokio::test]
async fn unread_counts_follow_every_write_and_clear() {
    let (e, _dir) = open().await;
    let (a, b, g) = (private("a"), private("b"), group("g"));
    for t in 1..=3 {
        receive(&e, &a, "a", t, false, false).await;
    }
    receive(&e, &a, "a", 4, false, true).await; // imported as read
    receive(&e, &b, "b", 10, false, false).await;
    receive(&e, &g, "x", 20, true, false).await;
    receive(&e, &g, "y", 21, false, false).await;

    assert_eq!(
        n(e.get_total_unread_count(json!(null), json!(null))).await,
        6
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(false), json!([1]))).await,
        4
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(false), json!([3, 6]))).await,
        2
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(false), json!([]))).await,
        6
    );
    assert_eq!(n(e.get_unread_count(a.clone())).await, 3);
    assert_eq!(n(e.get_unread_count(private("nobody"))).await, 0);
    assert_eq!(n(e.get_unread_mentioned_count(g.clone())).await, 1);
    assert_eq!(n(e.get_all_unread_mentioned_count()).await, 1);

    let first = e.get_first_unread_message_info(a.clone()).await.unwrap();
    assert_eq!(first["sentTime"], 1);
    assert_eq!(first["messageUId"], "a-1");
    let list = e.get_unread_conversation_list(json!([1])).await.unwrap();
    let targets: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["b", "a"], "newest first, private only");

    e.clear_messages_unread_status(a.clone()).await.unwrap();
    assert_eq!(n(e.get_unread_count(a.clone())).await, 0);
    assert_eq!(
        e.get_first_unread_message_info(a.clone()).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(true), json!(null))).await,
        3
    );
    // The read state is on the messages too, not only on the counter.
    let page = e
        .get_history_messages(a.clone(), json!({ "count": 10 }))
        .await
        .unwrap();
    assert!(page["list"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["receivedStatusInfo"]["isRead"] == true));

    e.clear_all_messages_unread_status().await.unwrap();
    assert_eq!(
        n(e.get_total_unread_count(json!(true), json!(null))).await,
        0
    );
    assert_eq!(n(e.get_all_unread_mentioned_count()).await, 0);
    assert_eq!(
        e.get_unread_conversation_list(json!(null)).await.unwrap(),
        json!([])
    );
    // Deleting an unread message takes it out of the count.
    let m = receive(&e, &b, "b", 30, false, false).await;
    assert_eq!(n(e.get_unread_count(b.clone())).await, 1);
    e.delete_messages(json!([m["messageId"]])).await.unwrap();
    assert_eq!(n(e.get_unread_count(b.clone())).await, 0);
}

#[tokio::test]
async fn unsupported_types_and_bad_arguments_are_refused_and_change_nothing() {
    let (e, _dir) = open().await;
    receive(&e, &private("a"), "a", 1, false, false).await;
    let code = |r: imsync_core::ImResult<Value>| r.unwrap_err().code;
    assert_eq!(
        code(e.get_total_unread_count(json!(false), json!([4])).await),
        34201
    );
    assert_eq!(
        code(e.get_total_unread_count(json!(false), json!([10])).await),
        34201
    );
    assert_eq!(
        code(e.get_unread_conversation_list(json!([2])).await),
        34201
    );
    let err = e
        .get_total_unread_count(json!("yes"), json!(null))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert!(err.msg.contains("includeMuted"), "{}", err.msg);
    let err = e
        .get_total_unread_count(json!(false), json!([1, 99]))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert!(err.msg.contains("conversationTypes[1]"), "{}", err.msg);
    let err = e
        .clear_messages_unread_status(json!({ "conversationType": 1 }))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert!(err.msg.contains("conversation.targetId"), "{}", err.msg);
    let err = e
        .save_text_message_draft(private("a"), json!(42))
        .await
        .unwrap_err();
    assert!(
        err.code == 33003 && err.msg.contains("draft"),
        "{}",
        err.msg
    );
    let err = e
        .get_conversations_from_tag_by_page(json!("abcdefghijk"), json!(10), json!(0))
        .await
        .unwrap_err();
    assert!(
        err.code == 33003 && err.msg.contains("tagId"),
        "{}",
        err.msg
    );
    assert_eq!(
        code(e.get_unread_count_by_tag(json!("none"), json!(false)).await),
        33100
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(true), json!(null))).await,
        1
    );
    assert_eq!(
        e.get_text_message_draft(private("a")).await.unwrap(),
        json!("")
    );
}

#[tokio::test]
async fn drafts_live_on_the_conversation_up_to_128_kb() {
    let (e, _dir) = open().await;
    let a = private("a");
    assert_eq!(e.get_text_message_draft(a.clone()).await.unwrap(), "");
    // Clearing a draft of an unknown conversation creates nothing.
    e.clear_text_message_draft(a.clone()).await.unwrap();
    assert_eq!(e.get_conversation(a.clone()).await.unwrap(), Value::Null);

    e.save_text_message_draft(a.clone(), json!("写到一半 ✍"))
        .await
        .unwrap();
    assert_eq!(
        e.get_text_message_draft(a.clone()).await.unwrap(),
        "写到一半 ✍"
    );
    let c = e.get_conversation(a.clone()).await.unwrap();
    assert_eq!(c["draft"], "写到一半 ✍");
    let list = e
        .get_conversation_list(json!(0), json!(10), json!(null), json!(null))
        .await
        .unwrap();
    assert_eq!(
        list[0]["draft"], "写到一半 ✍",
        "a draft shows its conversation"
    );

    let limit = 128 * 1024;
    let just_inside = "x".repeat(limit);
    e.save_text_message_draft(a.clone(), json!(just_inside))
        .await
        .unwrap();
    let err = e
        .save_text_message_draft(a.clone(), json!("x".repeat(limit + 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert_eq!(
        e.get_text_message_draft(a.clone())
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .len(),
        limit,
        "the refused draft changed nothing"
    );
    e.clear_text_message_draft(a.clone()).await.unwrap();
    assert_eq!(e.get_text_message_draft(a.clone()).await.unwrap(), "");
}

#[tokio::test]
async fn a_removed_conversation_leaves_the_lists_and_comes_back_with_a_new_message() {
    let (e, _dir) = open().await;
    let (a, b) = (private("a"), private("b"));
    receive(&e, &a, "a", 1, false, false).await;
    receive(&e, &a, "a", 2, false, false).await;
    receive(&e, &b, "b", 3, false, false).await;
    e.save_text_message_draft(a.clone(), json!("draft"))
        .await
        .unwrap();

    e.remove_conversation(a.clone()).await.unwrap();
    let list = e
        .get_conversation_list(json!(0), json!(10), json!(null), json!(null))
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["targetId"], "b");
    assert_eq!(
        e.get_all_conversation_list(json!(null))
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        n(e.get_total_unread_count(json!(true), json!(null))).await,
        1
    );
    // Still there for a direct lookup, with its messages; unread and draft went with it.
    let c = e.get_conversation(a.clone()).await.unwrap();
    assert_eq!(c["unreadMessageCount"], 0);
    assert_eq!(c["draft"], "");
    assert_eq!(n(e.get_message_count(a.clone())).await, 2);

    receive(&e, &a, "a", 4, false, false).await;
    let list = e
        .get_conversation_list(json!(0), json!(10), json!(null), json!(null))
        .await
        .unwrap();
    let targets: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["a", "b"]);
    assert_eq!(list[0]["unreadMessageCount"], 1);
    assert_eq!(n(e.get_message_count(a.clone())).await, 3, "history kept");

    // Removing an unknown conversation is a no-op, not an error.
    e.remove_conversation(private("nobody")).await.unwrap();
    assert_eq!(
        e.get_conversation(private("nobody")).await.unwrap(),
        Value::Null
    );
}

#[tokio::test]
async fn settings_read_locally_default_when_nothing_is_synced() {
    let (e, _dir) = open().await;
    let a = private("a");
    receive(&e, &a, "a", 1, false, false).await;
    assert_eq!(
        e.get_conversation_notification_level(a.clone())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        e.get_conversation_notification_status(a.clone())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        e.get_top_conversation_list(json!(null), json!(null))
            .await
            .unwrap(),
        json!([])
    );
    assert_eq!(e.get_blocked_conversation_list().await.unwrap(), json!([]));
    assert_eq!(e.get_tags().await.unwrap(), json!([]));
    assert_eq!(
        e.get_tags_from_conversation(a.clone()).await.unwrap(),
        json!([])
    );
    // Changing a synced setting needs the server.
    let err = e
        .set_conversation_to_top(a.clone(), json!(true), json!(null))
        .await
        .unwrap_err();
    assert_eq!(err.code, 30002);
    let err = e
        .set_conversation_notification_level(a.clone(), json!(3))
        .await
        .unwrap_err();
    assert!(
        err.code == 33003 && err.msg.contains("notificationLevel"),
        "{}",
        err.msg
    );
}
