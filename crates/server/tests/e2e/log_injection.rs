//! Client-supplied strings cannot forge log lines: every one that reaches
//! the log is escaped.

use imsync_protocol::{request, Platform};
use serde_json::json;

use crate::common::*;

fn assert_no_forged_line(log: &str) {
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("FORGED"),
            "forged log line {line:?}\n{log}"
        );
    }
}

#[tokio::test]
async fn client_strings_are_escaped_in_the_log() {
    let server = Server::start(Opts::default());
    let token = server.token("alice").await;
    let mut req = connect_request(
        &token,
        "dev\nFORGED line from deviceId",
        Platform::Desktop,
        false,
    );
    if let Some(request::Op::Connect(c)) = req.op.as_mut() {
        c.sdk_version = "sdk/1\nFORGED line from sdkVersion\r\nFORGED crlf\u{1b}[2J".into();
    }
    let _client = Client::connect(&server, req)
        .await
        .unwrap_or_else(|r| panic!("connect refused: {} {}", r.code, r.msg));
    let log = server
        .wait_log("the connect line", |l| l.contains("line from sdkVersion"))
        .await;
    assert_no_forged_line(&log);
    assert!(!log.contains('\u{1b}'), "no raw escape sequence\n{log}");
    assert!(
        log.contains(r"\nFORGED line from sdkVersion\r\nFORGED crlf"),
        "the sdk version is logged escaped\n{log}"
    );

    // Admin calls with newlines in their fields: refused, logged escaped.
    let (status, _) = server
        .admin(
            "/user/getToken",
            json!({ "userId": "bob\nFORGED line from userId" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .admin(
            "/message/private/publish",
            json!({
                "fromUserId": "alice",
                "toUserId": ["bob"],
                "objectName": "RC:TxtMsg\nFORGED line from objectName",
                "content": "{\"content\":\"x\"}"
            }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &json!({ "userId": "bob" }),
            &[("App-Key", "wrong-key")],
        )
        .await;
    assert_eq!(status, 401);
    let log = server
        .wait_log("the admin refusal", |l| l.contains("admin call refused"))
        .await;
    assert_no_forged_line(&log);
}
