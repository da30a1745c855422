//! The IMLib 5.x local calls added for drop-in use (getMessage, setMessageContent, the
//! unread-message calls, the `…ByLevels` totals), public-service conversation types, the
//! vendor's call-specific error codes and field spellings — against a real SQLite file.

use imsync_core::{codes, Engine};
use serde_json::{json, Value};

async fn open(user: &str) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        &json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 1 }),
    )
    .unwrap();
    engine.open(json!(user)).await.unwrap();
    (engine, dir)
}

fn conv(t: i64, target: &str) -> Value {
    json!({ "conversationType": t, "targetId": target })
}

/// Inserts a received text; `mention` makes it an @ of "me".
async fn received(e: &Engine, c: &Value, text: &str, time: i64, mention: bool) -> i64 {
    let mut content = json!({ "content": text });
    if mention {
        content["mentionedInfo"] = json!({ "type": 2, "userIdList": ["me"] });
    }
    let m = json!({ "messageType": "RC:TxtMsg", "content": content, "messageDirection": 2,
                    "senderUserId": "peer", "sentTime": time });
    let r = e
        .insert_message(c.clone(), m, json!({ "isUnread": true }))
        .await
        .unwrap();
    r["messageId"].as_i64().unwrap()
}

#[tokio::test]
async fn get_message_answers_the_stored_message_or_null() {
    let (e, _d) = open("me").await;
    let id = received(&e, &conv(1, "bob"), "hello", 1_000, false).await;
    let m = e.get_message(json!(id)).await.unwrap();
    assert_eq!(m["messageId"], id);
    assert_eq!(m["content"]["content"], "hello");
    // The vendor's spellings beside the corrected ones.
    assert_eq!(m["isPersited"], m["isPersisted"]);
    assert_eq!(m["isOffLineMessage"], m["isOfflineMessage"]);
    assert_eq!(e.get_message(json!(id + 1)).await.unwrap(), Value::Null);
    let bad = e.get_message(json!("x")).await.unwrap_err();
    assert_eq!(bad.code, codes::INVALID_PARAMETER);
    assert!(bad.msg.contains("messageId"), "{}", bad.msg);
}

#[tokio::test]
async fn set_message_content_replaces_content_type_and_search_text() {
    let (e, _d) = open("me").await;
    let c = conv(1, "bob");
    let id = received(&e, &c, "original words", 1_000, false).await;
    e.set_message_content(
        json!(id),
        json!({ "content": "edited 内容" }),
        json!("RC:TxtMsg"),
    )
    .await
    .unwrap();
    let m = e.get_message(json!(id)).await.unwrap();
    assert_eq!(m["content"]["content"], "edited 内容");
    let found = |kw: &'static str| {
        let e = &e;
        let c = c.clone();
        async move {
            e.search_messages(c, json!(kw), json!(0), json!(10), Value::Null)
                .await
                .unwrap()["count"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(found("original").await, 0, "the old text left the index");
    assert_eq!(found("内容").await, 1, "the new text is found");
    // The conversation's latest message is the edited one.
    let conv_row = e.get_conversation(c.clone()).await.unwrap();
    assert_eq!(
        conv_row["latestMessage"]["content"]["content"],
        "edited 内容"
    );
    // A type without search fields takes the message out of the index.
    e.set_message_content(json!(id), json!({ "imageUri": "u" }), json!("RC:ImgMsg"))
        .await
        .unwrap();
    assert_eq!(found("内容").await, 0);
    assert_eq!(
        e.get_message(json!(id)).await.unwrap()["messageType"],
        "RC:ImgMsg"
    );

    // Refusals change nothing.
    let before = e.get_message(json!(id)).await.unwrap();
    for (content, name, code) in [
        (json!("text"), json!("RC:TxtMsg"), codes::INVALID_PARAMETER),
        (
            json!({ "content": "x" }),
            json!("App:Unknown"),
            codes::MESSAGE_NOT_REGISTERED,
        ),
        (
            json!({ "content": "x" }),
            json!("RC:TypSts"),
            codes::INVALID_PARAMETER,
        ),
        (
            json!({ "content": "x".repeat(200_000) }),
            json!("RC:TxtMsg"),
            codes::INVALID_PARAMETER,
        ),
    ] {
        let err = e
            .set_message_content(json!(id), content, name)
            .await
            .unwrap_err();
        assert_eq!(err.code, code, "{}", err.msg);
    }
    let missing = e
        .set_message_content(json!(id + 7), json!({ "content": "x" }), json!("RC:TxtMsg"))
        .await
        .unwrap_err();
    assert_eq!(missing.code, codes::INVALID_PARAMETER);
    assert_eq!(e.get_message(json!(id)).await.unwrap(), before);
}

#[tokio::test]
async fn unread_messages_and_clearing_up_to_a_time() {
    let (e, _d) = open("me").await;
    let g = conv(3, "team");
    let a = received(&e, &g, "a", 1_000, false).await;
    let b = received(&e, &g, "b @me", 2_000, true).await;
    let c = received(&e, &g, "c @me", 3_000, true).await;
    assert_eq!(
        e.get_first_unread_message(g.clone()).await.unwrap()["messageId"],
        a
    );
    let mentioned = e.get_unread_mentioned_messages(g.clone()).await.unwrap();
    let ids: Vec<i64> = mentioned
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![b, c]);

    e.clear_unread_count_by_timestamp(g.clone(), json!(2_000))
        .await
        .unwrap();
    assert_eq!(e.get_unread_count(g.clone()).await.unwrap(), 1);
    assert_eq!(e.get_unread_mentioned_count(g.clone()).await.unwrap(), 1);
    assert_eq!(
        e.get_first_unread_message(g.clone()).await.unwrap()["messageId"],
        c
    );
    assert_eq!(
        e.get_unread_mentioned_messages(g.clone())
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    e.clear_unread_count_by_timestamp(g.clone(), json!(3_000))
        .await
        .unwrap();
    assert_eq!(
        e.get_first_unread_message(g.clone()).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        e.get_unread_mentioned_messages(g.clone()).await.unwrap(),
        json!([])
    );
    // Unknown conversations answer empty; a bad timestamp is refused.
    assert_eq!(
        e.get_first_unread_message(conv(1, "nobody")).await.unwrap(),
        Value::Null
    );
    let err = e
        .clear_unread_count_by_timestamp(g.clone(), json!(-5))
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::INVALID_PARAMETER);
    assert!(err.msg.contains("timestamp"), "{}", err.msg);
}

#[tokio::test]
async fn totals_by_levels_filter_on_notification_level_and_type() {
    let (e, _d) = open("me").await;
    let bob = conv(1, "bob");
    let team = conv(3, "team");
    let news = conv(7, "official");
    received(&e, &bob, "1", 1_000, false).await;
    received(&e, &bob, "2", 1_001, false).await;
    received(&e, &team, "@me", 1_002, true).await;
    received(&e, &news, "n", 1_003, false).await;
    // Levels are set through the sync engine; here, every conversation is at NOT_SET (0).
    let all = e
        .get_total_unread_count_by_levels(Value::Null, json!([]))
        .await
        .unwrap();
    assert_eq!(all, 4);
    assert_eq!(
        e.get_total_unread_count_by_levels(json!([1]), json!([0]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        e.get_total_unread_count_by_levels(json!([1, 3, 7, 8]), json!([5]))
            .await
            .unwrap(),
        0,
        "no conversation is at NOT_MESSAGE_NOTIFICATION"
    );
    assert_eq!(
        e.get_total_unread_mentioned_count_by_levels(json!([3]), json!([0, -1]))
            .await
            .unwrap(),
        1
    );
    // The vendor's example lists ULTRA_GROUP (10): accepted, and nothing of it is stored.
    assert_eq!(
        e.get_total_unread_count_by_levels(json!([1, 3, 10]), json!([1, 2]))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        e.get_total_unread_count_by_levels(json!([1, 3, 10]), json!([]))
            .await
            .unwrap(),
        3
    );
    // The public-service types count like the others (7 APP_PUBLIC_SERVICE, 8 PUBLIC_SERVICE).
    assert_eq!(
        e.get_total_unread_count(json!(false), json!([7, 8]))
            .await
            .unwrap(),
        1
    );
    for (levels, needle) in [(json!([3]), "levels[0]"), (json!("all"), "levels")] {
        let err = e
            .get_total_unread_count_by_levels(Value::Null, levels)
            .await
            .unwrap_err();
        assert_eq!(err.code, codes::INVALID_PARAMETER);
        assert!(err.msg.contains(needle), "{}", err.msg);
    }
}

#[tokio::test]
async fn public_service_types_are_accepted_in_lists_and_stored() {
    let (e, _d) = open("me").await;
    received(&e, &conv(8, "svc"), "hi", 1_000, false).await;
    let list = e
        .get_unread_conversation_list(json!([1, 3, 6, 7, 8]))
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["conversationType"], 8);
    assert!(e
        .get_top_conversation_list(json!([7, 8]), Value::Null)
        .await
        .is_ok());
    // Still refused: a number that is no ConversationType.
    let err = e
        .get_unread_conversation_list(json!([9]))
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::INVALID_PARAMETER);
}

#[tokio::test]
async fn search_props_and_receipt_lists_get_their_vendor_codes() {
    let (e, _d) = open("me").await;
    for (props, status) in [
        (json!("content"), false),
        (json!([""]), false),
        (json!([1]), false),
        (json!(["content"]), true),
    ] {
        let err = e
            .register_message_type(
                json!("App:Custom"),
                json!(true),
                json!(true),
                props.clone(),
                json!(status),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            codes::SEARCH_PROPS_LIMIT_ERROR,
            "{props} -> {}",
            err.msg
        );
        assert!(err.msg.contains("searchProps"), "{}", err.msg);
    }
    e.register_message_type(
        json!("App:Custom"),
        json!(true),
        json!(true),
        json!(["title"]),
        json!(false),
    )
    .await
    .unwrap();
    // A bad receipt list is 34206, before anything needs the connection.
    for list in [
        json!({}),
        json!({ "bob": [] }),
        json!({ "bob": "uid" }),
        json!([]),
    ] {
        let err = e
            .send_read_receipt_response_v2(json!("team"), list.clone(), Value::Null)
            .await
            .unwrap_err();
        assert_eq!(err.code, codes::MSG_LIMIT_ERROR, "{list} -> {}", err.msg);
    }
}

/// A write SQLite refuses for a reason other than damage or a full disk (here a trigger the
/// test adds to the file) answers the call's own vendor code and stores nothing.
#[tokio::test]
async fn storage_failures_answer_the_calls_own_codes() {
    let (e, dir) = open("me").await;
    let c = conv(1, "bob");
    received(&e, &c, "before", 1_000, false).await;
    e.close().await.unwrap();
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|d| d.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .or_else(|| {
            walk(dir.path())
                .into_iter()
                .find(|p| p.extension().is_some_and(|x| x == "db"))
        })
        .expect("the user's database file");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse_messages BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
             CREATE TRIGGER refuse_drafts BEFORE UPDATE OF draft ON conversations BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
             CREATE TRIGGER refuse_hide BEFORE UPDATE OF hidden ON conversations WHEN NEW.hidden = 1 BEGIN SELECT RAISE(ABORT, 'refused by test'); END;",
        )
        .unwrap();
    }
    e.open(json!("me")).await.unwrap();
    let m = json!({ "messageType": "RC:TxtMsg", "content": { "content": "x" } });
    let err = e
        .insert_message(c.clone(), m.clone(), Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::MSG_INSERT_ERROR, "{}", err.msg);
    let mut one = m.clone();
    one["conversationType"] = json!(1);
    one["targetId"] = json!("bob");
    let err = e
        .batch_insert_message(json!([one]), Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::MSG_INSERT_ERROR);
    let err = e
        .save_text_message_draft(c.clone(), json!("draft"))
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::DRAFT_SAVE_ERROR);
    let err = e.remove_conversation(c.clone()).await.unwrap_err();
    assert_eq!(err.code, codes::CONVERSATION_REMOVE_ERROR);
    assert_eq!(
        e.get_message_count(c.clone()).await.unwrap(),
        1,
        "nothing was stored"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
