//! The key never reaches the log file, at DEBUG level, through open, rekey, encryptDatabase
//! and failed opens. Its own test binary: the log subscriber is process-wide and the first
//! engine of a process picks the log file.

use imsync_core::Engine;
use serde_json::{json, Value};

#[tokio::test]
async fn keys_never_reach_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        "first-secret-7f3a9c",
        "second-secret-b81e44",
        "wrong-secret-0c5d21",
        "migrated-secret-9e6f02",
    ];
    let engine = |key: Option<&str>| {
        let mut o =
            json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 4 });
        if let Some(k) = key {
            o["encryptionKey"] = json!(k);
        }
        Engine::new(&o).unwrap()
    };

    let e = engine(Some(keys[0]));
    // The options' Debug form (what a `?options` field would log) hides the key too.
    assert!(!format!("{:?}", e.options()).contains(keys[0]));
    e.open(json!("alice")).await.unwrap();
    e.insert_message(
        json!({ "conversationType": 1, "targetId": "bob" }),
        json!({ "messageType": "RC:TxtMsg", "content": { "content": "hi" } }),
        Value::Null,
    )
    .await
    .unwrap();
    e.rekey(json!(keys[1])).await.unwrap();
    e.close().await.unwrap();

    let wrong = engine(Some(keys[2]));
    assert_eq!(wrong.open(json!("alice")).await.unwrap_err().code, 33203);

    let plain = engine(None);
    plain.open(json!("carol")).await.unwrap();
    plain.encrypt_database(json!(keys[3])).await.unwrap();
    plain.close().await.unwrap();

    let log = std::fs::read_to_string(dir.path().join("imsync").join("imsync.log")).unwrap();
    // The log was written at DEBUG level through these calls, so the check below means something.
    for line in [
        "user database opened",
        "database key changed",
        "database encrypted",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    for key in keys {
        assert!(!log.contains(key), "the log contains a key:\n{log}");
    }
}
