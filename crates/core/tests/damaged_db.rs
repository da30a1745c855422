//! A database file damaged on disk (pages overwritten with garbage, as a failing disk or a
//! stray writer would): once SQLite reports corruption every write is refused with 33201
//! and changes no byte of the file or its WAL; reads answer 33201 or still work;
//! `recover_database` moves the files aside and a fresh database works — and, against the
//! real imsync-server, refills from the server on the next connect.

mod support;

use std::path::{Path, PathBuf};

use imsync_core::Engine;
use serde_json::{json, Value};

const DAMAGED: i32 = 33201;

fn options(dir: &Path) -> Value {
    json!({ "appkey": "app", "dbpath": dir.to_str().unwrap(), "logOutputLevel": 1 })
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join("imsync").join("app").join("me.db")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn conv(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

fn text(s: &str) -> Value {
    json!({ "messageType": "RC:TxtMsg", "content": { "content": s } })
}

const T0: i64 = 1_700_000_000_000;

/// A closed database of `n` text messages over 20 conversations; returns a message id.
async fn build(dir: &Path, n: i64) -> i64 {
    let e = Engine::new(&options(dir)).unwrap();
    e.open(json!("me")).await.unwrap();
    let first = e
        .insert_message(conv("u0"), text("first"), Value::Null)
        .await
        .unwrap()["messageId"]
        .as_i64()
        .unwrap();
    for b in 0..n / 500 {
        let batch: Vec<Value> = (0..500)
            .map(|i| {
                let k = b * 500 + i;
                json!({
                    "conversationType": 1, "targetId": format!("u{}", k % 20),
                    "messageType": "RC:TxtMsg", "messageDirection": 2, "sentTime": T0 + k,
                    "content": { "content": format!("message {k} MARK{k:06}END") },
                })
            })
            .collect();
        e.batch_insert_message(json!(batch), json!(false))
            .await
            .unwrap();
    }
    e.close().await.unwrap();
    first
}

fn page_size(file: &Path) -> usize {
    let head = std::fs::read(file).unwrap();
    // An encrypted (SQLCipher) file keeps no plain header: its first 16 bytes are the salt and
    // the page size field is ciphertext, which read as a size smashed a random range (at times
    // inside page 1, which then fails the key check). SQLCipher's page size is 4096.
    if &head[..16] != b"SQLite format 3\0" {
        return 4096;
    }
    match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65536,
        n => n as usize,
    }
}

/// Overwrites `count` pages from page `first` (1-based) with deterministic garbage.
fn smash(file: &Path, first: usize, count: usize) {
    let size = page_size(file);
    let mut bytes = std::fs::read(file).unwrap();
    let mut x: u32 = 0x9e37_79b9;
    for b in &mut bytes[(first - 1) * size..(first - 1 + count) * size] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    std::fs::write(file, bytes).unwrap();
}

/// The database file and its WAL, byte for byte.
fn files(file: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        std::fs::read(file).unwrap(),
        std::fs::read(with_suffix(file, "-wal")).ok(),
    )
}

fn assert_damaged(r: Result<Value, imsync_core::ImError>, what: &str) {
    let e = r.expect_err(&format!("{what} must be refused on a damaged database"));
    assert_eq!(e.code, DAMAGED, "{what}: {e:?}");
    assert!(
        e.msg.contains("damaged") && e.msg.contains("recoverDatabase()"),
        "{what}: the message must say what happened and how to recover: {}",
        e.msg
    );
}

/// Every local write the engine offers, each refused with 33201 and leaving the database
/// file and its WAL byte-identical.
async fn assert_writes_refused(e: &Engine, file: &Path, message_id: i64) {
    let before = files(file);
    macro_rules! refused {
        ($what:literal, $call:expr) => {{
            assert_damaged($call.await, $what);
            assert!(
                files(file) == before,
                "{} changed the database files",
                $what
            );
        }};
    }
    refused!(
        "insertMessage",
        e.insert_message(conv("u1"), text("new"), Value::Null)
    );
    refused!(
        "insertMessage (new conversation)",
        e.insert_message(conv("nobody-yet"), text("new"), Value::Null)
    );
    refused!(
        "batchInsertMessage",
        e.batch_insert_message(
            json!([{ "conversationType": 1, "targetId": "u2", "messageType": "RC:TxtMsg",
                     "content": { "content": "b" }, "messageDirection": 2, "sentTime": T0 }]),
            json!(false)
        )
    );
    // A registration is kept in memory either way (so it is saved into the fresh database
    // after recovery); it is refused when it would be written into the damaged one.
    let registered = e
        .register_message_type(
            json!("App:Custom"),
            json!(true),
            json!(true),
            Value::Null,
            Value::Null,
        )
        .await;
    if e.user_id().is_some() {
        assert_damaged(registered, "registerMessageType");
    } else {
        registered.expect("registering with no database open");
    }
    assert!(
        files(file) == before,
        "registerMessageType changed the database files"
    );
    refused!(
        "setMessageSentStatus",
        e.set_message_sent_status(json!(message_id), json!(50))
    );
    refused!(
        "setMessageReceivedStatus",
        e.set_message_received_status(json!(message_id), json!(1))
    );
    refused!("deleteMessages", e.delete_messages(json!([message_id])));
    refused!("clearMessages", e.clear_messages(conv("u3")));
    refused!(
        "deleteMessagesByTimestamp",
        e.delete_messages_by_timestamp(conv("u4"), json!(T0 + 1000), json!(true))
    );
    refused!(
        "saveTextMessageDraft",
        e.save_text_message_draft(conv("u5"), json!("draft"))
    );
    refused!(
        "clearMessagesUnreadStatus",
        e.clear_messages_unread_status(conv("u6"))
    );
    refused!(
        "clearAllMessagesUnreadStatus",
        e.clear_all_messages_unread_status()
    );
    refused!("removeConversation", e.remove_conversation(conv("u7")));
    refused!("rekey", e.rekey(json!(format!("x'{}'", "cd".repeat(32)))));
    refused!("encryptDatabase", e.encrypt_database(json!("a passphrase")));
}

/// Reads answer 33201 or work; never the old generic 33002.
async fn assert_reads_damaged_or_working(e: &Engine) {
    let results = vec![
        (
            "getHistoryMessages",
            e.get_history_messages(conv("u1"), json!({ "count": 20 }))
                .await,
        ),
        ("getMessageCount", e.get_message_count(conv("u1")).await),
        (
            "getConversationList",
            e.get_conversation_list(json!(0), json!(50), Value::Null, Value::Null)
                .await,
        ),
        (
            "getTotalUnreadCount",
            e.get_total_unread_count(Value::Null, Value::Null).await,
        ),
        (
            "searchMessages",
            e.search_messages(conv("u1"), json!("MARK"), json!(0), json!(5), Value::Null)
                .await,
        ),
        ("getConversation", e.get_conversation(conv("u1")).await),
    ];
    for (what, r) in results {
        if let Err(err) = r {
            assert_eq!(err.code, DAMAGED, "{what}: {err:?}");
        }
    }
}

/// The case: pages 2–4 overwritten in a closed database of a few thousand messages.
/// Opening finds it (the open-time probe) and answers 33201; writes are refused without
/// changing a byte; closing and reopening keeps it so; `recover_database` (here after a
/// fresh engine's open failed) moves the files aside and a fresh database works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_pages_refuse_every_write_until_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    let message_id = build(dir.path(), 4000).await;
    smash(&file, 2, 3);
    let damaged_bytes = std::fs::read(&file).unwrap();

    let e = Engine::new(&options(dir.path())).unwrap();
    assert_damaged(e.open(json!("me")).await, "open");
    assert_eq!(std::fs::read(&file).unwrap(), damaged_bytes, "open wrote");
    // A second open of the same user answers the same, it is no success.
    assert_damaged(e.open(json!("me")).await, "open again");
    assert_writes_refused(&e, &file, message_id).await;
    assert_reads_damaged_or_working(&e).await;
    assert_writes_refused(&e, &file, message_id).await;
    let (_, wal_before_close) = files(&file);
    e.close().await.unwrap();
    // Closing checkpointed nothing into the damaged file and left the WAL as it was.
    assert_eq!(std::fs::read(&file).unwrap(), damaged_bytes, "close wrote");
    assert_eq!(files(&file).1, wal_before_close, "close changed the WAL");

    // A fresh engine (the app restarted): the same answers.
    let e = Engine::new(&options(dir.path())).unwrap();
    assert_damaged(e.open(json!("me")).await, "open after restart");
    assert_writes_refused(&e, &file, message_id).await;
    let (db_before, wal_before) = files(&file);

    let r = e.recover_database(Value::Null).await.unwrap();
    assert_eq!(r["userId"], "me");
    let moved = PathBuf::from(r["movedTo"].as_str().unwrap());
    let name = moved.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("me.db.corrupt-") && name["me.db.corrupt-".len()..].parse::<i64>().is_ok(),
        "moved to {name}"
    );
    assert_eq!(moved.parent(), file.parent());
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        db_before,
        "the moved file is the damaged one"
    );
    assert_eq!(
        std::fs::read(with_suffix(&moved, "-wal")).ok(),
        wal_before,
        "its WAL moved along"
    );

    // The fresh database is open and works.
    assert_eq!(e.user_id().as_deref(), Some("me"));
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(0));
    let m = e
        .insert_message(conv("u1"), text("after recovery"), Value::Null)
        .await
        .unwrap();
    assert!(m["messageId"].as_i64().unwrap() > 0);
    e.register_message_type(
        json!("App:Custom"),
        json!(true),
        json!(true),
        Value::Null,
        Value::Null,
    )
    .await
    .unwrap();
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(1));
    e.close().await.unwrap();
    let again = Engine::new(&options(dir.path())).unwrap();
    again.open(json!("me")).await.unwrap();
    assert_eq!(again.get_message_count(conv("u1")).await.unwrap(), json!(1));
    again.close().await.unwrap();
    assert!(moved.exists(), "the damaged file is never deleted");
}

/// Damage the open-time probe does not look at (one page in the middle of the message
/// table): the open succeeds, and the first read that meets the damage — on a reader
/// connection — stops every later write, including ones that touch no damaged page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_met_by_a_read_stops_all_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    let message_id = build(dir.path(), 4000).await;
    // The page holding message 2001's text (conversation u1: 2001 % 20 == 1).
    let bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"MARK002001END")
        .expect("the marker is in the file");
    let page = at / page_size(&file) + 1;
    smash(&file, page, 1);

    let e = Engine::new(&options(dir.path())).unwrap();
    e.open(json!("me")).await.unwrap();
    // Walk the conversation's history until the damaged page is met.
    let mut met = None;
    let mut ts = 0;
    for _ in 0..100 {
        match e
            .get_history_messages(
                conv("u1"),
                json!({ "timestamp": ts, "count": 100, "order": 1 }),
            )
            .await
        {
            Ok(page) => {
                let list = page["list"].as_array().unwrap().clone();
                if list.is_empty() {
                    break;
                }
                ts = list.last().unwrap()["sentTime"].as_i64().unwrap();
            }
            Err(err) => {
                met = Some(err);
                break;
            }
        }
    }
    let met = met.expect("reading the conversation meets the damaged page");
    assert_eq!(met.code, DAMAGED, "{met:?}");
    assert!(met.msg.contains("recoverDatabase()"), "{}", met.msg);
    assert_writes_refused(&e, &file, message_id).await;
    assert_reads_damaged_or_working(&e).await;
    // Another conversation on intact pages still reads.
    e.get_message_count(conv("u2")).await.unwrap();
    let r = e.recover_database(Value::Null).await.unwrap();
    assert!(PathBuf::from(r["movedTo"].as_str().unwrap()).exists());
    e.insert_message(conv("u1"), text("fresh"), Value::Null)
        .await
        .unwrap();
    e.close().await.unwrap();
}

/// A schema page overwritten: the database cannot even be opened. The engine remembers the
/// user, every call answers 33201 (not "not open"), and `recover_database` still works.
#[tokio::test]
async fn recovery_works_when_open_itself_failed() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    build(dir.path(), 500).await;
    // Page 1 after the 100-byte file header: the root of the schema table.
    let mut bytes = std::fs::read(&file).unwrap();
    for (i, b) in bytes[100..page_size(&file)].iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    std::fs::write(&file, &bytes).unwrap();

    let e = Engine::new(&options(dir.path())).unwrap();
    assert_damaged(e.open(json!("me")).await, "open");
    assert_eq!(e.user_id(), None);
    assert_damaged(
        e.insert_message(conv("u1"), text("x"), Value::Null).await,
        "insertMessage",
    );
    assert_damaged(e.get_message_count(conv("u1")).await, "getMessageCount");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    let r = e.recover_database(Value::Null).await.unwrap();
    assert_eq!(r["userId"], "me");
    assert_eq!(
        std::fs::read(r["movedTo"].as_str().unwrap()).unwrap(),
        bytes
    );
    assert_eq!(e.user_id().as_deref(), Some("me"));
    e.insert_message(conv("u1"), text("x"), Value::Null)
        .await
        .unwrap();
    e.close().await.unwrap();

    // With userId, from an engine that never tried to open it.
    build(dir.path(), 0).await;
    std::fs::write(&file, &bytes).unwrap();
    let _ = std::fs::remove_file(with_suffix(&file, "-wal"));
    let e = Engine::new(&options(dir.path())).unwrap();
    let r = e.recover_database(json!("me")).await.unwrap();
    assert_eq!(
        std::fs::read(r["movedTo"].as_str().unwrap()).unwrap(),
        bytes
    );
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(0));
    e.close().await.unwrap();
}

/// recover_database never sets aside a healthy database.
#[tokio::test]
async fn recovery_refuses_a_healthy_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    build(dir.path(), 500).await;
    let e = Engine::new(&options(dir.path())).unwrap();
    e.open(json!("me")).await.unwrap();
    let err = e.recover_database(Value::Null).await.unwrap_err();
    assert_eq!(err.code, 33204, "{err:?}");
    assert!(err.msg.contains("not damaged"), "{}", err.msg);
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(25));
    e.insert_message(conv("u1"), text("still writable"), Value::Null)
        .await
        .unwrap();
    e.close().await.unwrap();
    let siblings: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
}

/// End to end against the real imsync-server: messages received, the closed database
/// damaged, connect answers 33201, recover_database, connect again: the messages are back
/// (the inbox cursor lived in the damaged file, so the fresh one pulls from the start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovered_database_refills_from_the_server() {
    use support::*;
    let server = Server::start();
    let mut alice = Client::new(&server.url(), "Electron");
    let mut bob = Client::new(&server.url(), "Electron");
    alice.connect(&server.token("alice")).await;
    bob.connect(&server.token("bob")).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let m = bob
            .engine
            .send_message(
                private("alice"),
                support::text(&format!("hello {i}")),
                Value::Null,
            )
            .await
            .unwrap();
        sent.push(m["messageUId"].as_str().unwrap().to_string());
    }
    let last = sent.last().unwrap().clone();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"]
                .as_array()
                .is_some_and(|l| l.iter().any(|m| m["messageUId"] == last.as_str()))
        })
        .await;
    let uids = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            .map(|m| m["messageUId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        uids(all_messages(&alice.engine, private("bob")).await),
        sent
    );
    alice.engine.disconnect(json!(true)).await.unwrap();

    let file = alice
        .dir
        .path()
        .join("imsync")
        .join(APP_KEY)
        .join("alice.db");
    smash(&file, 2, 3);
    let err = alice
        .engine
        .connect(json!(server.token("alice")), json!(false))
        .await
        .unwrap_err();
    assert_eq!(err.code, DAMAGED, "{err:?}");
    assert_damaged(
        alice
            .engine
            .insert_message(private("bob"), support::text("x"), Value::Null)
            .await,
        "insertMessage",
    );

    let r = alice.engine.recover_database(Value::Null).await.unwrap();
    assert_eq!(r["userId"], "alice");
    assert!(PathBuf::from(r["movedTo"].as_str().unwrap()).exists());
    assert_eq!(
        alice
            .engine
            .get_message_count(private("bob"))
            .await
            .unwrap(),
        json!(0)
    );
    alice.connect(&server.token("alice")).await;
    alice
        .until("the messages pulled again", |e| async move {
            e.get_message_count(private("bob")).await.ok() == Some(json!(5))
        })
        .await;
    assert_eq!(
        uids(all_messages(&alice.engine, private("bob")).await),
        sent
    );
    // And it is a working database again: a send is stored and delivered.
    let back = alice
        .engine
        .send_message(private("bob"), support::text("I'm back"), Value::Null)
        .await
        .unwrap();
    bob.wait_for("MESSAGES", |p| {
        p["messages"][0]["messageUId"] == back["messageUId"]
    })
    .await;
    alice.engine.close().await.unwrap();
    bob.engine.close().await.unwrap();
}

/// `recoverCorruptDatabase: true`: the damaged database found at open is moved aside and a
/// fresh one opened at once; the open succeeds.
#[tokio::test]
async fn the_recover_option_replaces_a_damaged_database_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    build(dir.path(), 1000).await;
    smash(&file, 2, 3);
    let damaged = std::fs::read(&file).unwrap();
    let mut opts = options(dir.path());
    opts["recoverCorruptDatabase"] = json!(true);
    let e = Engine::new(&opts).unwrap();
    e.open(json!("me"))
        .await
        .expect("the open replaces the damaged database");
    let moved: Vec<PathBuf> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("me.db.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(std::fs::read(&moved[0]).unwrap(), damaged);
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(0));
    e.insert_message(conv("u1"), text("fresh"), Value::Null)
        .await
        .unwrap();
    e.close().await.unwrap();

    // Off by default, and a healthy database is never moved with it on.
    let e = Engine::new(&opts).unwrap();
    e.open(json!("me")).await.unwrap();
    assert_eq!(e.get_message_count(conv("u1")).await.unwrap(), json!(1));
    e.close().await.unwrap();
    let err = Engine::new(&json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "recoverCorruptDatabase": "yes" }))
        .err()
        .expect("a non-boolean option is refused");
    assert_eq!(err.code, 33003);
}

/// An encrypted (SQLCipher) database with damaged pages: the page check fails as
/// corruption, so the same rules hold — 33201, writes refused byte-identically, recovery.
#[tokio::test]
async fn a_damaged_encrypted_database_is_refused_and_recovered_alike() {
    let dir = tempfile::tempdir().unwrap();
    let file = db_file(dir.path());
    let mut opts = options(dir.path());
    // A raw key: no key derivation, so the test stays fast.
    opts["encryptionKey"] = json!(format!("x'{}'", "ab".repeat(32)));
    let e = Engine::new(&opts).unwrap();
    e.open(json!("me")).await.unwrap();
    for b in 0..2 {
        let batch: Vec<Value> = (b * 500..b * 500 + 500)
            .map(|k| {
                json!({ "conversationType": 1, "targetId": format!("u{}", k % 20), "messageType": "RC:TxtMsg",
                        "messageDirection": 2, "sentTime": T0 + k, "content": { "content": format!("m {k}") } })
            })
            .collect();
        e.batch_insert_message(json!(batch), json!(false))
            .await
            .unwrap();
    }
    let id = e
        .insert_message(conv("u1"), text("mine"), Value::Null)
        .await
        .unwrap()["messageId"]
        .as_i64()
        .unwrap();
    e.close().await.unwrap();
    smash(&file, 2, 3);

    let e = Engine::new(&opts).unwrap();
    assert_damaged(e.open(json!("me")).await, "open");
    assert_writes_refused(&e, &file, id).await;
    assert_reads_damaged_or_working(&e).await;
    let r = e.recover_database(Value::Null).await.unwrap();
    assert!(PathBuf::from(r["movedTo"].as_str().unwrap()).exists());
    e.insert_message(conv("u1"), text("fresh"), Value::Null)
        .await
        .unwrap();
    e.close().await.unwrap();
    // The fresh database is encrypted with the same key.
    assert_ne!(&std::fs::read(&file).unwrap()[..16], b"SQLite format 3\0");
}
