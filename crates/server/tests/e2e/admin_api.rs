//! Admin API signature checks: bad signatures, wrong key, stale timestamps,
//! reused nonces (also across a restart), missing headers.

use serde_json::json;

use crate::common::*;

fn headers<'a>(key: &'a str, nonce: &'a str, ts: &'a str, sig: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("App-Key", key),
        ("Nonce", nonce),
        ("Timestamp", ts),
        ("Signature", sig),
    ]
}

#[tokio::test]
async fn signatures_are_checked() {
    let server = Server::start(Opts::default());
    let body = json!({ "userId": "alice" });
    let (nonce, ts) = fresh_nonce();

    // Signed with the wrong secret.
    let bad = sign("not-the-secret", &nonce, &ts);
    let (status, reply) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &ts, &bad),
        )
        .await;
    assert_eq!(
        (status, reply["code"].clone()),
        (401, json!(1004)),
        "{reply}"
    );

    // Right signature, wrong app key.
    let good = sign(APP_SECRET, &nonce, &ts);
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers("other-key", &nonce, &ts, &good),
        )
        .await;
    assert_eq!(status, 401);

    // Signature over a different timestamp than the one sent.
    let other_ts = (now_ms() - 1000).to_string();
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &other_ts, &good),
        )
        .await;
    assert_eq!(status, 401);

    // Missing header.
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &[("App-Key", APP_KEY), ("Nonce", &nonce), ("Timestamp", &ts)],
        )
        .await;
    assert_eq!(status, 401);

    // The refused attempts did not burn the nonce: the correct call works.
    let (status, reply) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &ts, &good),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply["token"]
            .as_str()
            .is_some_and(|t| !t.contains("alice")),
        "token is opaque"
    );

    // Replay of the same nonce is refused.
    let (status, reply) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &ts, &good),
        )
        .await;
    assert_eq!(status, 401, "{reply}");
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_at_five_minutes() {
    let server = Server::start(Opts::default());
    let body = json!({ "userId": "alice" });
    let now = now_ms();
    for (offset, expect) in [
        (-5 * 60 * 1000 - 5_000, 401),
        (5 * 60 * 1000 + 5_000, 401),
        (-5 * 60 * 1000 + 30_000, 200),
        (5 * 60 * 1000 - 30_000, 200),
    ] {
        let (nonce, _) = fresh_nonce();
        let ts = (now + offset).to_string();
        let sig = sign(APP_SECRET, &nonce, &ts);
        let (status, reply) = server
            .admin_with(
                "/user/getToken",
                &body,
                &headers(APP_KEY, &nonce, &ts, &sig),
            )
            .await;
        assert_eq!(status, expect, "offset {offset}: {reply}");
    }
    let (nonce, _) = fresh_nonce();
    let sig = sign(APP_SECRET, &nonce, "yesterday");
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, "yesterday", &sig),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn nonces_stay_used_across_a_restart_and_health_is_open() {
    let server = Server::start(Opts::default());
    let body = json!({ "userId": "alice" });
    let (nonce, ts) = fresh_nonce();
    let sig = sign(APP_SECRET, &nonce, &ts);
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &ts, &sig),
        )
        .await;
    assert_eq!(status, 200);
    let mut server = server;
    server.kill();
    let server = server.restart(None);
    let (status, _) = server
        .admin_with(
            "/user/getToken",
            &body,
            &headers(APP_KEY, &nonce, &ts, &sig),
        )
        .await;
    assert_eq!(status, 401, "a replay after restart is still refused");
    let (status, reply) = server.health().await;
    assert_eq!((status, reply["code"].clone()), (200, json!(200)));
    // Bad parameters are 400/1002, bad JSON too.
    let (status, reply) = server
        .admin("/user/getToken", json!({ "userId": "" }))
        .await;
    assert_eq!((status, reply["code"].clone()), (400, json!(1002)));
    let (status, _) = server
        .admin("/group/create", json!({ "groupId": "g" }))
        .await;
    assert_eq!(status, 400);
}
