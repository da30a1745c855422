//! A media upload the app quit in the middle of leaves its message SENDING without a client
//! id; the next open turns it FAILED (so the app can resend it), and leaves alone SENDING
//! messages of the outbox (with a client id) and ones an app inserted without a local file.

use imsync_core::Engine;
use serde_json::{json, Value};

fn engine(dir: &std::path::Path) -> Engine {
    Engine::new(&json!({ "appkey": "app", "dbpath": dir.to_str().unwrap(), "logOutputLevel": 1 }))
        .unwrap()
}

fn sending(local_path: Option<&str>) -> Value {
    let mut m = json!({
        "messageType": "RC:FileMsg",
        "content": { "name": "a.pdf", "size": 3, "type": "pdf", "fileUrl": "" },
        "messageDirection": 1,
        "sentStatus": 10,
    });
    if let Some(p) = local_path {
        m["localPath"] = json!(p);
    }
    m
}

#[tokio::test]
async fn an_interrupted_upload_is_failed_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let conv = json!({ "conversationType": 1, "targetId": "bob" });
    let (upload, plain) = {
        let e = engine(dir.path());
        e.open(json!("alice")).await.unwrap();
        let upload = e
            .insert_message(conv.clone(), sending(Some("/tmp/a.pdf")), Value::Null)
            .await
            .unwrap()["messageId"]
            .as_i64()
            .unwrap();
        let plain = e
            .insert_message(conv.clone(), sending(None), Value::Null)
            .await
            .unwrap()["messageId"]
            .as_i64()
            .unwrap();
        let m = e.get_message(json!(upload)).await.unwrap();
        assert_eq!(
            (m["sentStatus"].as_i64(), m["localPath"].as_str()),
            (Some(10), Some("/tmp/a.pdf"))
        );
        e.close().await.unwrap();
        (upload, plain)
    };
    let e = engine(dir.path());
    e.open(json!("alice")).await.unwrap();
    let status = |m: Value| m["sentStatus"].as_i64();
    assert_eq!(
        status(e.get_message(json!(upload)).await.unwrap()),
        Some(20)
    );
    assert_eq!(status(e.get_message(json!(plain)).await.unwrap()), Some(10));
}

/// A message being sent (SENDING, e.g. the outbox's) is not uploaded again over it: the
/// resend answers 33003 naming options.messageId and leaves the message as it was.
#[tokio::test]
async fn a_sending_message_is_not_uploaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let conv = json!({ "conversationType": 1, "targetId": "bob" });
    let file = dir.path().join("a.pdf");
    std::fs::write(&file, b"pdf").unwrap();
    let e = engine(dir.path());
    e.open(json!("alice")).await.unwrap();
    let id = e
        .insert_message(
            conv.clone(),
            sending(Some(file.to_str().unwrap())),
            Value::Null,
        )
        .await
        .unwrap()["messageId"]
        .as_i64()
        .unwrap();
    let before = e.get_message(json!(id)).await.unwrap();
    let err = e
        .upload_media_message(
            conv,
            json!({ "messageType": "RC:FileMsg" }),
            json!({ "messageId": id }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 33003, "{}", err.msg);
    assert!(err.msg.contains("options.messageId"), "{}", err.msg);
    assert_eq!(e.get_message(json!(id)).await.unwrap(), before);
}

/// Send options the send after the upload would refuse are refused before anything is
/// stored or uploaded (they used to be found only after the upload, leaving the message
/// SENDING for the rest of the session): each answers its code naming the option.
#[tokio::test]
async fn bad_send_options_are_refused_before_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let conv = json!({ "conversationType": 1, "targetId": "bob" });
    let file = dir.path().join("a.pdf");
    std::fs::write(&file, b"pdf").unwrap();
    let e = engine(dir.path());
    e.open(json!("alice")).await.unwrap();
    let media = json!({ "messageType": "RC:FileMsg", "path": file.to_str().unwrap() });
    for (options, code, says) in [
        (
            json!({ "isStatusMessage": "yes" }),
            33003,
            "options.isStatusMessage",
        ),
        (
            json!({ "isStatusMessage": true }),
            33003,
            "options.isStatusMessage",
        ),
        (
            json!({ "expansion": { "k": "v" } }),
            34008,
            "options.expansion",
        ),
        (
            json!({ "directionalUserIdList": [1] }),
            33003,
            "options.directionalUserIdList",
        ),
        (json!({ "pushConfig": 5 }), 33003, "options.pushConfig"),
    ] {
        for upload in [true, false] {
            let err = if upload {
                e.upload_media_message(conv.clone(), media.clone(), options.clone())
                    .await
            } else {
                e.send_media_message(conv.clone(), media.clone(), options.clone())
                    .await
            }
            .unwrap_err();
            assert_eq!(err.code, code, "{options}: {}", err.msg);
            assert!(err.msg.contains(says), "{options}: {}", err.msg);
        }
    }
    let stored = e
        .get_history_messages(conv, json!({ "count": 10 }))
        .await
        .unwrap();
    assert_eq!(stored["list"], json!([]), "nothing stored");
}
