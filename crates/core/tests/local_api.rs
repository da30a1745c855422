//! Every local call of the engine against a real SQLite file.

use imsync_core::Engine;
use serde_json::{json, Value};

struct Fixture {
    engine: Engine,
    dir: tempfile::TempDir,
}

async fn open(user: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        &json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 1 }),
    )
    .unwrap();
    engine.open(json!(user)).await.unwrap();
    Fixture { engine, dir }
}

fn conv(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

fn text(s: &str, dir: i64, t: i64) -> Value {
    json!({ "messageType": "RC:TxtMsg", "content": { "content": s }, "messageDirection": dir, "sentTime": t })
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_i64().unwrap())
        .collect()
}

fn contents(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["content"].as_str().unwrap().to_string())
        .collect()
}

async fn insert_texts(e: &Engine, target: &str, items: &[(&str, i64)]) {
    let batch: Vec<Value> = items
        .iter()
        .map(|(s, t)| {
            let mut m = text(s, 2, *t);
            m["conversationType"] = json!(1);
            m["targetId"] = json!(target);
            m
        })
        .collect();
    let r = e
        .batch_insert_message(json!(batch), json!(false))
        .await
        .unwrap();
    assert_eq!(r["inserted"], items.len());
}

#[tokio::test]
async fn calls_before_open_get_33001() {
    let dir = tempfile::tempdir().unwrap();
    let e =
        Engine::new(&json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap() })).unwrap();
    let err = e
        .get_history_messages(conv("bob"), Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.code, 33001);
    assert!(e.close().await.is_ok());
}

#[tokio::test]
async fn history_pages_in_both_orders_with_has_more() {
    let f = open("alice").await;
    let e = &f.engine;
    insert_texts(e, "bob", &[("a", 100), ("b", 200), ("c", 300), ("d", 400)]).await;
    let r = e
        .get_history_messages(conv("bob"), json!({ "count": 2 }))
        .await
        .unwrap();
    assert_eq!(contents(&r["list"]), ["d", "c"]);
    assert_eq!(r["hasMore"], true);
    let r = e
        .get_history_messages(conv("bob"), json!({ "timestamp": 300, "count": 5 }))
        .await
        .unwrap();
    assert_eq!(contents(&r["list"]), ["b", "a"]);
    assert_eq!(r["hasMore"], false);
    let r = e
        .get_history_messages(
            conv("bob"),
            json!({ "timestamp": 100, "count": 2, "order": 1 }),
        )
        .await
        .unwrap();
    assert_eq!(contents(&r["list"]), ["b", "c"]);
    assert_eq!(r["hasMore"], true);
    let none = e
        .get_history_messages(conv("nobody"), Value::Null)
        .await
        .unwrap();
    assert_eq!(none, json!({ "list": [], "hasMore": false }));
    for bad in [
        json!({ "count": 0 }),
        json!({ "count": 101 }),
        json!({ "order": 2 }),
        json!({ "timestamp": "x" }),
    ] {
        let err = e
            .get_history_messages(conv("bob"), bad.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code, 33003, "{bad}");
        assert!(err.msg.starts_with("options."), "{}", err.msg);
    }
}

#[tokio::test]
async fn history_by_types_around_and_count() {
    let f = open("alice").await;
    let e = &f.engine;
    insert_texts(e, "bob", &[("a", 100), ("b", 200), ("c", 300)]).await;
    let file = json!({ "messageType": "RC:FileMsg", "content": { "name": "report.pdf", "size": 1, "type": "pdf", "fileUrl": "u" }, "sentTime": 250 });
    e.insert_message(conv("bob"), file, Value::Null)
        .await
        .unwrap();
    let r = e
        .get_history_messages_by_message_types(
            conv("bob"),
            json!({ "count": 10, "messageTypes": ["RC:FileMsg"] }),
        )
        .await
        .unwrap();
    assert_eq!(r["list"].as_array().unwrap().len(), 1);
    assert_eq!(r["list"][0]["content"]["name"], "report.pdf");
    let err = e
        .get_history_messages_by_message_types(conv("bob"), json!({ "count": 10 }))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    let around = e
        .get_messages_around_timestamp(
            conv("bob"),
            json!({ "timestamp": 200, "beforeCount": 1, "afterCount": 1 }),
        )
        .await
        .unwrap();
    let times: Vec<i64> = around
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sentTime"].as_i64().unwrap())
        .collect();
    assert_eq!(times, [100, 200, 250]);
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 4);
    assert_eq!(e.get_message_count(conv("nobody")).await.unwrap(), 0);
}

#[tokio::test]
async fn insert_keeps_fields_and_is_idempotent_by_uid() {
    let f = open("alice").await;
    let e = &f.engine;
    let m = e
        .insert_message(
            conv("bob"),
            json!({ "messageType": "RC:TxtMsg", "content": { "content": "hi" } }),
            Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(m["senderUserId"], "alice");
    assert_eq!(m["messageDirection"], 1);
    assert_eq!(m["sentStatus"], 30);
    let mut r = text("yo", 2, 1234);
    r["messageUId"] = json!("UID-1");
    let a = e
        .insert_message(conv("bob"), r.clone(), json!({ "isUnread": true }))
        .await
        .unwrap();
    assert_eq!(a["senderUserId"], "bob");
    assert_eq!(a["sentTime"], 1234);
    assert_eq!(a["receivedStatusInfo"]["isRead"], false);
    let b = e
        .insert_message(conv("bob"), r, json!({ "isUnread": true }))
        .await
        .unwrap();
    assert_eq!(a["messageId"], b["messageId"]);
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 2);
    let c = e.get_conversations(json!([conv("bob")])).await.unwrap();
    assert_eq!(c[0]["unreadMessageCount"], 1);
    // Expansion only with canIncludeExpansion; chatroom refused with 34201.
    let bad = json!({ "messageType": "RC:TxtMsg", "content": { "content": "x" }, "expansion": { "k": "v" } });
    assert_eq!(
        e.insert_message(conv("bob"), bad, Value::Null)
            .await
            .unwrap_err()
            .code,
        33003
    );
    let room = json!({ "conversationType": 4, "targetId": "room" });
    assert_eq!(
        e.insert_message(room, text("x", 1, 0), Value::Null)
            .await
            .unwrap_err()
            .code,
        34201
    );
    let unknown = json!({ "messageType": "app:Nope", "content": {} });
    assert_eq!(
        e.insert_message(conv("bob"), unknown, Value::Null)
            .await
            .unwrap_err()
            .code,
        34021
    );
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 2);
}

#[tokio::test]
async fn batch_insert_is_all_or_nothing_and_dedups() {
    let f = open("alice").await;
    let e = &f.engine;
    let mut batch: Vec<Value> = (0..10)
        .map(|i| json!({ "conversationType": 3, "targetId": "g1", "senderUserId": "bob", "messageType": "RC:TxtMsg",
                         "content": { "content": format!("m{i}") }, "messageDirection": 2, "sentTime": 1000 + i }))
        .collect();
    batch[7]["content"] = json!("not an object");
    let err = e
        .batch_insert_message(json!(batch), json!(false))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert!(err.msg.contains("messages[7]"), "{}", err.msg);
    assert_eq!(
        e.get_all_conversation_list(Value::Null).await.unwrap(),
        json!([])
    );
    batch[7]["content"] = json!({ "content": "m7" });
    batch[3]["messageId"] = json!("unique-3");
    let r = e
        .batch_insert_message(json!(batch.clone()), json!(true))
        .await
        .unwrap();
    assert_eq!(r, json!({ "inserted": 10, "duplicates": 0 }));
    let r = e
        .batch_insert_message(json!(batch), json!(true))
        .await
        .unwrap();
    assert_eq!(r, json!({ "inserted": 0, "duplicates": 10 }));
    let g = json!({ "conversationType": 3, "targetId": "g1" });
    let list = e.get_conversations(json!([g])).await.unwrap();
    assert_eq!(list[0]["latestMessage"]["content"]["content"], "m9");
    let too_many: Vec<Value> = (0..501).map(|_| json!({})).collect();
    assert_eq!(
        e.batch_insert_message(json!(too_many), json!(false))
            .await
            .unwrap_err()
            .code,
        33003
    );
    assert_eq!(
        e.batch_insert_message(json!([]), json!(false))
            .await
            .unwrap_err()
            .code,
        33003
    );
    assert_eq!(e.get_message_count(g).await.unwrap(), 10);
}

#[tokio::test]
async fn deletes_keep_conversations_right() {
    let f = open("alice").await;
    let e = &f.engine;
    insert_texts(e, "bob", &[("a", 100), ("b", 200), ("c", 300), ("d", 400)]).await;
    insert_texts(e, "carol", &[("x", 100)]).await;
    let all = e
        .get_history_messages(conv("bob"), Value::Null)
        .await
        .unwrap();
    let bob_ids = ids(&all["list"]);
    let carol = e
        .get_history_messages(conv("carol"), Value::Null)
        .await
        .unwrap();
    let carol_id = ids(&carol["list"])[0];
    let err = e
        .delete_messages(json!([bob_ids[0], carol_id]))
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003);
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 4);
    e.delete_messages(json!([bob_ids[0]])).await.unwrap(); // newest: "d"
    let c = e.get_conversations(json!([conv("bob")])).await.unwrap();
    assert_eq!(c[0]["latestMessage"]["content"]["content"], "c");
    e.delete_messages_by_timestamp(conv("bob"), json!(200), json!(false))
        .await
        .unwrap();
    let left = e
        .get_history_messages(conv("bob"), Value::Null)
        .await
        .unwrap();
    assert_eq!(contents(&left["list"]), ["c", "b"]);
    e.clear_messages(conv("bob")).await.unwrap();
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 0);
    let c = e.get_conversations(json!([conv("bob")])).await.unwrap();
    assert_eq!(c[0]["latestMessage"], Value::Null);
    assert_eq!(
        e.search_messages(conv("bob"), json!("c"), json!(0), json!(10), Value::Null)
            .await
            .unwrap()["count"],
        0
    );
}

#[tokio::test]
async fn clean_space_shrinks_the_file_in_the_background() {
    let f = open("alice").await;
    let e = &f.engine;
    let filler = "数据".repeat(200);
    for b in 0..10 {
        let batch: Vec<Value> = (0..500)
            .map(|i| json!({ "conversationType": 1, "targetId": "bob", "messageType": "RC:TxtMsg",
                             "content": { "content": format!("{filler}{b}-{i}") }, "sentTime": 1 + b * 1000 + i }))
            .collect();
        e.batch_insert_message(json!(batch), json!(false))
            .await
            .unwrap();
    }
    let db = f.dir.path().join("imsync/app/alice.db");
    e.close().await.unwrap(); // checkpoints the WAL into the file
    let before = std::fs::metadata(&db).unwrap().len();
    e.open(json!("alice")).await.unwrap();
    e.delete_messages_by_timestamp(conv("bob"), json!(i64::MAX / 4), json!(true))
        .await
        .unwrap();
    // Other calls keep answering while the reclaim runs.
    assert_eq!(e.get_message_count(conv("bob")).await.unwrap(), 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = std::fs::metadata(&db).unwrap().len();
        if now < before / 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "file did not shrink: {before} -> {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn search_calls_and_their_filters() {
    let f = open("alice").await;
    let e = &f.engine;
    insert_texts(
        e,
        "bob",
        &[
            ("你好世界", 100),
            ("Hello World", 200),
            ("世界和平", 300),
            ("hello again", 400),
        ],
    )
    .await;
    let ch = json!({ "conversationType": 1, "targetId": "bob", "channelId": "work" });
    e.insert_message(ch.clone(), text("世界 in work", 1, 500), Value::Null)
        .await
        .unwrap();
    let r = e
        .search_messages(conv("bob"), json!("世界"), json!(0), json!(10), Value::Null)
        .await
        .unwrap();
    assert_eq!(r["count"], 3, "channel omitted searches every channel");
    assert_eq!(
        contents(&r["messages"]),
        ["世界 in work", "世界和平", "你好世界"]
    );
    let r = e
        .search_messages(ch.clone(), json!("世界"), json!(0), json!(10), Value::Null)
        .await
        .unwrap();
    assert_eq!(r["count"], 1);
    let r = e
        .search_messages(
            conv("bob"),
            json!("世界"),
            json!(300),
            json!(1),
            Value::Null,
        )
        .await
        .unwrap();
    assert_eq!(contents(&r["messages"]), ["你好世界"]);
    let r = e
        .search_messages(
            conv("bob"),
            json!("HELLO"),
            json!(0),
            json!(10),
            json!(["RC:FileMsg"]),
        )
        .await
        .unwrap();
    assert_eq!(r["count"], 0);
    let r = e
        .search_message_in_time_range(
            conv("bob"),
            json!({ "keyword": "l", "startTime": 200, "endTime": 400, "offset": 1, "limit": 1 }),
        )
        .await
        .unwrap();
    assert_eq!(r["count"], 2);
    assert_eq!(contents(&r["messages"]), ["Hello World"]);
    let r = e
        .search_messages_by_user(conv("bob"), json!("bob"), json!(0), json!(2))
        .await
        .unwrap();
    assert_eq!(r["count"], 4);
    assert_eq!(contents(&r["messages"]), ["hello again", "世界和平"]);
    let sys = json!({ "conversationType": 6, "targetId": "sys" });
    assert_eq!(
        e.search_messages_by_user(sys, json!("bob"), json!(0), json!(2))
            .await
            .unwrap_err()
            .code,
        34201
    );
    let convs = e
        .search_conversation_by_content(json!("和平"), json!(["RC:TxtMsg"]), Value::Null)
        .await
        .unwrap();
    assert_eq!(convs.as_array().unwrap().len(), 1);
    let convs = e
        .search_conversation_by_content(json!("work"), json!([]), json!("work"))
        .await
        .unwrap();
    assert_eq!(convs[0]["channelId"], "work");
    let convs = e
        .search_conversation_by_content(json!("work"), json!([]), json!(""))
        .await
        .unwrap();
    assert_eq!(convs, json!([]));
    for kw in ["\"", "*", "NEAR(", "AND", "-", "OR 1", "a\"b"] {
        let r = e
            .search_messages(conv("bob"), json!(kw), json!(0), json!(10), Value::Null)
            .await
            .unwrap();
        assert_eq!(r["count"], 0, "{kw}");
    }
    assert_eq!(
        e.search_messages(conv("bob"), json!(""), json!(0), json!(10), Value::Null)
            .await
            .unwrap_err()
            .code,
        33003
    );
    assert_eq!(
        e.search_messages(conv("bob"), json!("x"), json!(0), json!(0), Value::Null)
            .await
            .unwrap_err()
            .code,
        33003
    );
}

#[tokio::test]
async fn custom_types_file_and_reference_messages_are_searchable_by_their_fields() {
    let f = open("alice").await;
    let e = &f.engine;
    e.register_message_type(
        json!("app:card"),
        json!(true),
        json!(true),
        json!(["title", "code"]),
        json!(false),
    )
    .await
    .unwrap();
    assert_eq!(
        e.register_message_type(
            json!("RC:Mine"),
            json!(true),
            json!(true),
            json!([]),
            json!(false)
        )
        .await
        .unwrap_err()
        .code,
        33003
    );
    let put = |t: &str, c: Value| json!({ "messageType": t, "content": c });
    e.insert_message(
        conv("bob"),
        put(
            "app:card",
            json!({ "title": "季度报告", "code": 42, "body": "hidden" }),
        ),
        Value::Null,
    )
    .await
    .unwrap();
    e.insert_message(
        conv("bob"),
        put("RC:FileMsg", json!({ "name": "预算.xlsx", "size": 1 })),
        Value::Null,
    )
    .await
    .unwrap();
    e.insert_message(
        conv("bob"),
        put(
            "RC:ReferenceMsg",
            json!({ "content": "同意", "referMsg": { "content": "quoted" } }),
        ),
        Value::Null,
    )
    .await
    .unwrap();
    e.insert_message(
        conv("bob"),
        put("RC:ImgMsg", json!({ "content": "报告", "imageUri": "u" })),
        Value::Null,
    )
    .await
    .unwrap();
    let count = |kw: &'static str| async move {
        e.search_messages(conv("bob"), json!(kw), json!(0), json!(10), Value::Null)
            .await
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count("报告").await, 1);
    assert_eq!(count("42").await, 1);
    assert_eq!(count("hidden").await, 0);
    assert_eq!(count("xlsx").await, 1);
    assert_eq!(count("同意").await, 1);
    assert_eq!(count("quoted").await, 0);
}

#[tokio::test]
async fn conversation_lists_pages_channels_and_top_priority() {
    let f = open("alice").await;
    let e = &f.engine;
    for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
        insert_texts(e, t, &[("x", 100 * (i as i64 + 1))]).await;
    }
    let ch = json!({ "conversationType": 1, "targetId": "a", "channelId": "work" });
    e.insert_message(ch, text("w", 1, 50), Value::Null)
        .await
        .unwrap();
    let all = e.get_all_conversation_list(Value::Null).await.unwrap();
    let targets: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["d", "c", "b", "a", "a"]);
    assert_eq!(
        e.get_all_conversation_list(json!("work"))
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let page = e
        .get_conversation_list(json!(0), json!(2), Value::Null, Value::Null)
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let next = e
        .get_conversation_list(json!(300), json!(10), json!(""), json!(false))
        .await
        .unwrap();
    let targets: Vec<&str> = next
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["b", "a"]);
    let got = e
        .get_conversations(json!([conv("c"), conv("zzz"), conv("a")]))
        .await
        .unwrap();
    let targets: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["targetId"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["c", "a"]);
    let many: Vec<Value> = (0..101).map(|i| conv(&format!("u{i}"))).collect();
    assert_eq!(
        e.get_conversations(json!(many)).await.unwrap_err().code,
        33003
    );
    assert_eq!(
        e.get_conversation_list(json!(0), json!(0), Value::Null, Value::Null)
            .await
            .unwrap_err()
            .code,
        33003
    );
}

#[tokio::test]
async fn statuses_move_unread_and_mentions() {
    let f = open("alice").await;
    let e = &f.engine;
    let g = json!({ "conversationType": 3, "targetId": "g" });
    let mention = json!({ "messageType": "RC:TxtMsg", "senderUserId": "bob", "messageDirection": 2, "sentTime": 100,
                          "content": { "content": "@alice", "mentionedInfo": { "type": 2, "userIdList": ["alice"] } } });
    let m = e
        .insert_message(g.clone(), mention, json!({ "isUnread": true }))
        .await
        .unwrap();
    assert_eq!(m["isMentioned"], true);
    let c = &e.get_conversations(json!([g.clone()])).await.unwrap()[0];
    assert_eq!(c["unreadMessageCount"], 1);
    assert_eq!(c["hasMentioned"], true);
    assert_eq!(c["mentionedInfo"]["type"], 2);
    assert_eq!(c["lastUnreadTime"], 100);
    let id = m["messageId"].clone();
    e.set_message_received_status_info(id.clone(), json!({ "isRead": true, "isListened": true }))
        .await
        .unwrap();
    let c = &e.get_conversations(json!([g.clone()])).await.unwrap()[0];
    assert_eq!(c["unreadMessageCount"], 0);
    assert_eq!(c["hasMentioned"], false);
    e.set_message_received_status(id.clone(), json!(0))
        .await
        .unwrap();
    assert_eq!(
        e.get_conversations(json!([g.clone()])).await.unwrap()[0]["unreadMessageCount"],
        1
    );
    assert_eq!(
        e.set_message_received_status(id.clone(), json!(32))
            .await
            .unwrap_err()
            .code,
        33003
    );
    assert_eq!(
        e.set_message_received_status(json!((999i64 << 32) | 1), json!(1))
            .await
            .unwrap_err()
            .code,
        33003
    );

    let own = e
        .insert_message(conv("bob"), text("mine", 1, 100), Value::Null)
        .await
        .unwrap();
    let later = e
        .insert_message(conv("bob"), text("later", 1, 300), Value::Null)
        .await
        .unwrap();
    e.set_message_sent_status(own["messageId"].clone(), json!(20))
        .await
        .unwrap();
    e.set_message_sent_status(own["messageId"].clone(), json!(30))
        .await
        .unwrap();
    assert_eq!(
        e.set_message_sent_status(own["messageId"].clone(), json!(31))
            .await
            .unwrap_err()
            .code,
        33003
    );
    e.set_message_status_to_read(conv("bob"), json!(200))
        .await
        .unwrap();
    let h = e
        .get_history_messages(conv("bob"), Value::Null)
        .await
        .unwrap();
    let status: Vec<i64> = h["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sentStatus"].as_i64().unwrap())
        .collect();
    assert_eq!(status, [30, 50]);
    assert_eq!(h["list"][0]["messageId"], later["messageId"]);
    e.set_check_duplicate_message(json!(false)).await.unwrap();
    assert!(!e.check_duplicate());
    assert_eq!(
        e.set_check_duplicate_message(json!("no"))
            .await
            .unwrap_err()
            .code,
        33003
    );
}

#[tokio::test]
async fn bad_dbpath_and_newer_database_are_refused_without_damage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let e = Engine::new(&json!({ "appkey": "app", "dbpath": file.join("sub").to_str().unwrap() }))
        .unwrap();
    let err = e.open(json!("alice")).await.unwrap_err();
    assert_eq!(err.code, 33003);
    assert!(err.msg.contains("dbpath"), "{}", err.msg);

    let f = open("alice").await;
    f.engine.close().await.unwrap();
    let db = f.dir.path().join("imsync/app/alice.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let bytes = std::fs::read(&db).unwrap();
    let err = f.engine.open(json!("alice")).await.unwrap_err();
    assert_eq!(err.code, 33002);
    assert!(err.msg.contains("newer"), "{}", err.msg);
    let after = std::fs::read(&db).unwrap();
    let changed: Vec<usize> = (0..bytes.len().min(after.len()))
        .filter(|&i| bytes[i] != after[i])
        .take(8)
        .collect();
    assert!(
        after.len() == bytes.len() && changed.is_empty(),
        "a newer database must not be touched: bytes {changed:?} changed"
    );
    assert!(Engine::new(&json!({ "dbpath": "/tmp" })).is_err());
    assert_eq!(
        Engine::new(&json!({ "appkey": "k", "logOutputLevel": 9 }))
            .err()
            .unwrap()
            .code,
        33003
    );
}
