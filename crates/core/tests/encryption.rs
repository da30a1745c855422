//! The encrypted local database (`encryptionKey`, `rekey`, `encryptDatabase`) against real
//! files: what is on disk, what a wrong key leaves behind, and that every answer is the same
//! as on a plain database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imsync_core::Engine;
use rusqlite::Connection;
use serde_json::{json, Value};

const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";
const USER: &str = "me";

fn engine(dir: &Path, key: Option<&str>) -> Engine {
    let mut o = json!({ "appkey": "app", "dbpath": dir.to_str().unwrap(), "logOutputLevel": 1 });
    if let Some(k) = key {
        o["encryptionKey"] = json!(k);
    }
    Engine::new(&o).unwrap()
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join("imsync").join("app").join(format!("{USER}.db"))
}

fn conv(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

/// A few conversations of text, CJK included (the custom tokenizer's 1- and 2-character
/// queries), some unread.
async fn fill(e: &Engine, n: i64) {
    let words = [
        "hello world",
        "你好世界",
        "会议纪要 明天",
        "lunch at noon",
        "数据库加密",
    ];
    let batch: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "conversationType": 1,
                "targetId": format!("u{}", i % 4),
                "messageType": "RC:TxtMsg",
                "content": { "content": format!("{} #{i}", words[i as usize % words.len()]) },
                "messageDirection": if i % 3 == 0 { 1 } else { 2 },
                "receivedStatus": 0,
                "senderUserId": if i % 3 == 0 { USER.to_string() } else { format!("u{}", i % 4) },
                "sentTime": 1_700_000_000_000i64 + i * 1000,
                "messageUId": format!("UID-{i}"),
            })
        })
        .collect();
    let r = e
        .batch_insert_message(json!(batch), json!(false))
        .await
        .unwrap();
    assert_eq!(r["inserted"], n);
    e.save_text_message_draft(conv("u1"), json!("draft text"))
        .await
        .unwrap();
}

/// Every answer a user could see, for comparing a database before and after a change.
async fn answers(e: &Engine) -> Value {
    let mut searches = Vec::new();
    for kw in [
        "hello",
        "你",
        "世界",
        "纪要",
        "加密",
        "noon",
        "#1",
        "nothing-like-this",
    ] {
        for target in ["u0", "u1", "u2", "u3"] {
            searches.push(
                e.search_messages(conv(target), json!(kw), json!(0), json!(100), Value::Null)
                    .await
                    .unwrap(),
            );
        }
        searches.push(
            e.search_conversation_by_content(json!(kw), json!([]), Value::Null)
                .await
                .unwrap(),
        );
    }
    json!({
        "searches": searches,
        "conversations": e.get_all_conversation_list(Value::Null).await.unwrap(),
        "history": e.get_history_messages(conv("u2"), json!({ "count": 100, "timestamp": 0 })).await.unwrap(),
        "unread": e.get_total_unread_count(Value::Null, Value::Null).await.unwrap(),
        "draft": e.get_text_message_draft(conv("u1")).await.unwrap(),
    })
}

/// Every row of every table (FTS shadow tables and `meta`, where the inbox cursor lives,
/// included) and the schema version, read with rusqlite.
fn dump(conn: &Connection) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out = BTreeMap::new();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND rootpage > 0 ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1"))
            .unwrap();
        let cols = stmt.column_count();
        let rows: Vec<Vec<String>> = stmt
            .query_map([], |r| (0..cols).map(|i| r.get_ref(i).map(show)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(t, rows);
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    out.insert("user_version".into(), vec![vec![version.to_string()]]);
    out
}

fn show(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("{b:02x?}"),
    }
}

fn open_raw(path: &Path, key: Option<&str>) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    if let Some(k) = key {
        c.pragma_update(None, "key", k)?;
    }
    c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(c)
}

fn header(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()[..16].to_vec()
}

/// Every file under `dir` with its bytes (the log lives one level up, outside it).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn encrypted_file_has_no_sqlite_header_and_opens_only_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = "correct horse battery staple";
    let e = engine(dir.path(), Some(key));
    e.open(json!(USER)).await.unwrap();
    fill(&e, 60).await;
    let before = answers(&e).await;
    // FTS5 and the custom tokenizer work under SQLCipher: a 1-character CJK query finds it.
    let found = e
        .search_messages(conv("u1"), json!("你"), json!(0), json!(100), Value::Null)
        .await
        .unwrap();
    assert!(found["count"].as_i64().unwrap() > 0, "{found}");
    e.close().await.unwrap();

    let path = db_file(dir.path());
    assert_ne!(
        header(&path),
        PLAIN_HEADER,
        "the file must not be a readable SQLite file"
    );
    let err = open_raw(&path, None).unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase),
        "{err}"
    );
    let err = open_raw(&path, Some("another key")).unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase),
        "{err}"
    );
    let raw = open_raw(&path, Some(key)).unwrap();
    let n: i64 = raw
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 60);
    drop(raw);

    let again = engine(dir.path(), Some(key));
    again.open(json!(USER)).await.unwrap();
    assert_eq!(answers(&again).await, before);
    again.close().await.unwrap();
}

#[tokio::test]
async fn raw_hex_keys_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = format!("x'{}'", "2d".repeat(32));
    let e = engine(dir.path(), Some(&key));
    e.open(json!(USER)).await.unwrap();
    fill(&e, 10).await;
    e.close().await.unwrap();
    assert_ne!(header(&db_file(dir.path())), PLAIN_HEADER);
    assert!(open_raw(&db_file(dir.path()), Some(&key)).is_ok());
    // The same bytes as a passphrase are a different key.
    assert!(open_raw(&db_file(dir.path()), Some(&"2d".repeat(32))).is_err());
}

#[tokio::test]
async fn a_plain_database_is_an_ordinary_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), None);
    e.open(json!(USER)).await.unwrap();
    fill(&e, 20).await;
    e.close().await.unwrap();
    let path = db_file(dir.path());
    assert_eq!(header(&path), PLAIN_HEADER);
    let raw = open_raw(&path, None).unwrap();
    let n: i64 = raw
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 20);
}

#[tokio::test]
async fn wrong_missing_or_unneeded_keys_answer_33203_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), Some("key A"));
    e.open(json!(USER)).await.unwrap();
    fill(&e, 30).await;
    e.close().await.unwrap();
    let folder = db_file(dir.path()).parent().unwrap().to_path_buf();
    let before = snapshot(&folder);

    for (key, hint) in [(Some("key B"), "wrong"), (None, "encrypted")] {
        let e = engine(dir.path(), key);
        let err = e.open(json!(USER)).await.unwrap_err();
        assert_eq!(err.code, 33203, "{err:?}");
        assert!(err.msg.contains(hint), "{}", err.msg);
        assert!(e.user_id().is_none());
        assert_eq!(
            snapshot(&folder),
            before,
            "the files changed after a {hint} key"
        );
    }

    // A key for a plain database.
    let plain = tempfile::tempdir().unwrap();
    let e = engine(plain.path(), None);
    e.open(json!(USER)).await.unwrap();
    fill(&e, 5).await;
    e.close().await.unwrap();
    let plain_folder = db_file(plain.path()).parent().unwrap().to_path_buf();
    let plain_before = snapshot(&plain_folder);
    let e = engine(plain.path(), Some("key A"));
    let err = e.open(json!(USER)).await.unwrap_err();
    assert_eq!(err.code, 33203, "{err:?}");
    assert!(err.msg.contains("not encrypted"), "{}", err.msg);
    assert_eq!(snapshot(&plain_folder), plain_before);
}

#[tokio::test]
async fn a_wrong_key_does_not_checkpoint_a_crash_wal_into_the_file() {
    // A crash leaves committed pages in the -wal: copy the files while the connection that
    // wrote them is still open (it has not checkpointed), as a killed process would leave them.
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), Some("key A"));
    e.open(json!(USER)).await.unwrap();
    fill(&e, 10).await;
    e.close().await.unwrap();
    let path = db_file(dir.path());
    let writer = open_raw(&path, Some("key A")).unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute(
            "INSERT INTO meta (key, value) VALUES ('crash-test', 'in the wal')",
            [],
        )
        .unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let crashed_db = db_file(crashed.path());
    std::fs::create_dir_all(crashed_db.parent().unwrap()).unwrap();
    std::fs::copy(&path, &crashed_db).unwrap();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the test needs a non-empty WAL"
    );
    std::fs::copy(&wal, format!("{}-wal", crashed_db.display())).unwrap();
    drop(writer);

    let db_before = std::fs::read(&crashed_db).unwrap();
    let wal_before = std::fs::read(format!("{}-wal", crashed_db.display())).unwrap();
    let e = engine(crashed.path(), Some("key B"));
    assert_eq!(e.open(json!(USER)).await.unwrap_err().code, 33203);
    drop(e);
    assert_eq!(
        std::fs::read(&crashed_db).unwrap(),
        db_before,
        "the database file changed"
    );
    assert_eq!(
        std::fs::read(format!("{}-wal", crashed_db.display())).unwrap(),
        wal_before,
        "the WAL changed"
    );
    // The right key still finds the crash's last commit.
    let raw = open_raw(&crashed_db, Some("key A")).unwrap();
    let v: String = raw
        .query_row("SELECT value FROM meta WHERE key = 'crash-test'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, "in the wal");
}

#[tokio::test]
async fn rekey_changes_the_key_in_place_and_every_call_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), Some("old key"));
    e.open(json!(USER)).await.unwrap();
    fill(&e, 40).await;
    let before = answers(&e).await;

    // Reads racing the rekey wait for it instead of failing.
    let racing = async {
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(
                e.search_messages(conv("u1"), json!("你"), json!(0), json!(100), Value::Null)
                    .await,
            );
        }
        out
    };
    let (rekeyed, raced) = tokio::join!(e.rekey(json!("new key")), racing);
    rekeyed.unwrap();
    for r in raced {
        r.unwrap();
    }
    // Both readers and the writer work with the new key.
    let (a, b, c) = tokio::join!(answers(&e), answers(&e), answers(&e));
    assert_eq!(a, before);
    assert_eq!(b, before);
    assert_eq!(c, before);
    e.insert_message(
        conv("u9"),
        json!({ "messageType": "RC:TxtMsg", "content": { "content": "after rekey 密钥" }, "messageDirection": 2, "sentTime": 1_800_000_000_000i64 }),
        Value::Null,
    )
    .await
    .unwrap();
    let found = e
        .search_messages(conv("u9"), json!("密钥"), json!(0), json!(10), Value::Null)
        .await
        .unwrap();
    assert_eq!(found["count"], 1);
    e.close().await.unwrap();

    let path = db_file(dir.path());
    assert!(
        open_raw(&path, Some("old key")).is_err(),
        "the old key still opens the file"
    );
    assert!(open_raw(&path, Some("new key")).is_ok());
    let old = engine(dir.path(), Some("old key"));
    assert_eq!(old.open(json!(USER)).await.unwrap_err().code, 33203);
    let new = engine(dir.path(), Some("new key"));
    new.open(json!(USER)).await.unwrap();
    let found = new
        .search_messages(conv("u9"), json!("密钥"), json!(0), json!(10), Value::Null)
        .await
        .unwrap();
    assert_eq!(found["count"], 1);

    // The engine reopens with the key it rekeyed to.
    new.rekey(json!("third key")).await.unwrap();
    new.close().await.unwrap();
    new.open(json!(USER)).await.unwrap();
    assert_eq!(new.get_message_count(conv("u9")).await.unwrap(), 1);
    new.close().await.unwrap();
}

#[tokio::test]
async fn encrypt_database_keeps_every_row_and_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), None);
    e.open(json!(USER)).await.unwrap();
    fill(&e, 200).await;
    // Delete some, so the FTS index has deletions to carry over too.
    e.delete_messages_by_timestamp(conv("u3"), json!(1_700_000_050_000i64), json!(false))
        .await
        .unwrap();
    e.close().await.unwrap();
    let path = db_file(dir.path());
    {
        // An inbox cursor, as a sync would have left it.
        let raw = open_raw(&path, None).unwrap();
        raw.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('inbox_cursor', '4242')",
            [],
        )
        .unwrap();
    }
    let rows_before = dump(&open_raw(&path, None).unwrap());
    e.open(json!(USER)).await.unwrap();
    let before = answers(&e).await;

    e.encrypt_database(json!("migrated key")).await.unwrap();
    assert_eq!(
        answers(&e).await,
        before,
        "answers changed after encryptDatabase"
    );
    // Writes go on, into the encrypted file.
    e.insert_message(
        conv("u0"),
        json!({ "messageType": "RC:TxtMsg", "content": { "content": "written encrypted 秘密" }, "messageDirection": 2, "sentTime": 1_800_000_000_000i64 }),
        Value::Null,
    )
    .await
    .unwrap();
    assert_eq!(
        e.search_messages(conv("u0"), json!("秘密"), json!(0), json!(10), Value::Null)
            .await
            .unwrap()["count"],
        1
    );
    // A second encryptDatabase is refused: rekey is the call for an encrypted database.
    assert_eq!(
        e.encrypt_database(json!("other")).await.unwrap_err().code,
        33206
    );
    e.close().await.unwrap();

    assert_ne!(header(&path), PLAIN_HEADER);
    let leftovers: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != &format!("{USER}.db"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert!(open_raw(&path, None).is_err());
    let raw = open_raw(&path, Some("migrated key")).unwrap();
    let rows_after = dump(&raw);
    drop(raw);
    // The cursor and every message are kept (plus the one written after the migration).
    assert_eq!(rows_after["meta"], rows_before["meta"]);
    assert!(
        rows_after["meta"].iter().any(|r| r[1].contains("4242")),
        "{:?}",
        rows_after["meta"]
    );
    let kept: Vec<_> = rows_after["messages"]
        .iter()
        .filter(|r| !r[5].contains("written encrypted"))
        .cloned()
        .collect();
    assert_eq!(kept.len() + 1, rows_after["messages"].len());
    assert_eq!(kept.len(), rows_before["messages"].len());
    assert!(kept == rows_before["messages"], "a message changed");
    assert_eq!(rows_after["user_version"], rows_before["user_version"]);

    // The next open needs the key.
    let plain = engine(dir.path(), None);
    assert_eq!(plain.open(json!(USER)).await.unwrap_err().code, 33203);
    let keyed = engine(dir.path(), Some("migrated key"));
    keyed.open(json!(USER)).await.unwrap();
    assert_eq!(
        keyed
            .search_messages(conv("u0"), json!("秘密"), json!(0), json!(10), Value::Null)
            .await
            .unwrap()["count"],
        1
    );
    keyed.close().await.unwrap();
}

#[tokio::test]
async fn encrypt_database_copies_the_fts_index_byte_for_byte() {
    // Compared right after the migration, before any new write touches the index.
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), None);
    e.open(json!(USER)).await.unwrap();
    fill(&e, 120).await;
    e.close().await.unwrap();
    let path = db_file(dir.path());
    let before = dump(&open_raw(&path, None).unwrap());
    e.open(json!(USER)).await.unwrap();
    e.encrypt_database(json!("k")).await.unwrap();
    e.close().await.unwrap();
    assert_eq!(dump(&open_raw(&path, Some("k")).unwrap()), before);
}

#[tokio::test]
async fn key_calls_check_their_argument_and_the_database_state() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), None);
    assert_eq!(e.rekey(json!("k")).await.unwrap_err().code, 33001);
    assert_eq!(
        e.encrypt_database(json!("k")).await.unwrap_err().code,
        33001
    );
    e.open(json!(USER)).await.unwrap();
    for bad in [json!(""), json!(null), json!(42), json!("x'abc'")] {
        assert_eq!(e.rekey(bad.clone()).await.unwrap_err().code, 33003, "{bad}");
        assert_eq!(
            e.encrypt_database(bad.clone()).await.unwrap_err().code,
            33003,
            "{bad}"
        );
    }
    let err = e.rekey(json!("k")).await.unwrap_err();
    assert_eq!(err.code, 33205);
    assert!(err.msg.contains("not encrypted"), "{}", err.msg);
    e.close().await.unwrap();
    assert_eq!(header(&db_file(dir.path())), PLAIN_HEADER);

    for bad in [json!(""), json!(7), json!("x'00'"), json!("a\u{0}b")] {
        let o = json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "encryptionKey": bad });
        let err = Engine::new(&o).err().expect("refused");
        assert_eq!(err.code, 33003);
        assert!(err.msg.contains("options.encryptionKey"), "{}", err.msg);
    }
}
