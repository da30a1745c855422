//! Connect/auth: success and every failure code.

use imsync_protocol::{codes, frame, request, Frame, Platform, Request};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn connect_success_returns_user_session_and_heads() {
    let server = Server::start(Opts::default());
    let client = server.desktop("alice").await;
    assert_eq!(client.ack.user_id, "alice");
    assert_eq!(
        client.ack.protocol_version,
        imsync_protocol::PROTOCOL_VERSION
    );
    assert!(!client.ack.session_id.is_empty());
    assert_eq!(client.ack.inbox_head_seq, 0);
    assert!((client.ack.server_time - now_ms()).abs() < 60_000);
    assert!(client.ack.heartbeat_interval_ms > 0);
    let other = server.client("alice", Platform::Web, "alice-web").await;
    assert_ne!(other.ack.session_id, client.ack.session_id);
}

async fn refused(server: &Server, req: Request) -> i32 {
    match Client::connect(server, req).await {
        Ok(_) => panic!("connect unexpectedly succeeded"),
        Err(r) => r.code,
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_with_31004() {
    let server = Server::start(Opts::default());
    let good = server.token("alice").await;
    let forged_user = good.replacen(&hex::encode("alice"), &hex::encode("mallory"), 1);
    for token in [
        "",
        "garbage",
        "t1.00.0.00",
        forged_user.as_str(),
        &good[..good.len() - 2],
    ] {
        let code = refused(
            &server,
            connect_request(token, "d1", Platform::Desktop, false),
        )
        .await;
        assert_eq!(code, codes::RC_CONN_TOKEN_INCORRECT, "token {token:?}");
    }
    // A well-formed token signed with another secret is invalid here.
    let foreign = {
        use hmac::{Hmac, Mac};
        let payload = format!("t1.{}.0", hex::encode("alice"));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"another-secret").unwrap();
        mac.update(b"imsync-token\0");
        mac.update(payload.as_bytes());
        format!("{payload}.{}", hex::encode(mac.finalize().into_bytes()))
    };
    let code = refused(
        &server,
        connect_request(&foreign, "d1", Platform::Desktop, false),
    )
    .await;
    assert_eq!(code, codes::RC_CONN_TOKEN_INCORRECT);
}

#[tokio::test]
async fn expired_token_is_refused_with_31020_and_future_expiry_works() {
    let server = Server::start(Opts::default());
    let (status, body) = server
        .admin(
            "/user/getToken",
            json!({ "userId": "bob", "expiresAt": now_ms() - 1 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expired = body["token"].as_str().unwrap();
    let code = refused(
        &server,
        connect_request(expired, "d1", Platform::Desktop, false),
    )
    .await;
    assert_eq!(code, codes::RC_CONN_TOKEN_EXPIRED);

    let (_, body) = server
        .admin(
            "/user/getToken",
            json!({ "userId": "bob", "expiresAt": now_ms() + 3_600_000 }),
        )
        .await;
    let valid = body["token"].as_str().unwrap();
    let client = Client::connect(
        &server,
        connect_request(valid, "d1", Platform::Desktop, false),
    )
    .await
    .expect("unexpired token connects");
    assert_eq!(client.ack.user_id, "bob");
}

#[tokio::test]
async fn wrong_protocol_version_is_31001_and_bad_identity_is_31002() {
    let server = Server::start(Opts::default());
    let token = server.token("carol").await;
    let mut req = connect_request(&token, "d1", Platform::Desktop, false);
    if let Some(request::Op::Connect(c)) = req.op.as_mut() {
        c.protocol_version = 99;
    }
    assert_eq!(
        refused(&server, req).await,
        codes::RC_CONN_PROTO_VERSION_ERROR
    );

    let no_device = connect_request(&token, "", Platform::Desktop, false);
    assert_eq!(
        refused(&server, no_device).await,
        codes::RC_CONN_IDENTIFIER_REJECTED
    );
    let long_device = connect_request(&token, &"d".repeat(129), Platform::Desktop, false);
    assert_eq!(
        refused(&server, long_device).await,
        codes::RC_CONN_IDENTIFIER_REJECTED
    );
    let no_platform = connect_request(&token, "d1", Platform::Unspecified, false);
    assert_eq!(
        refused(&server, no_platform).await,
        codes::RC_CONN_IDENTIFIER_REJECTED
    );
}

#[tokio::test]
async fn requests_before_connect_get_30001_and_a_second_connect_34001() {
    let server = Server::start(Opts::default());
    let mut ws = raw_ws(&server).await;
    // A ping is answered even before authentication.
    send_frame(&mut ws, &Frame::ping(7, 123)).await;
    let pong = read_frame(&mut ws).await.expect("pong");
    assert_eq!(pong.id, 7);
    match pong.kind {
        Some(frame::Kind::Pong(p)) => assert_eq!(p.timestamp, 123),
        other => panic!("expected pong, got {other:?}"),
    }
    send_frame(
        &mut ws,
        &Frame::request(
            1,
            request::Op::SendMessage(text(private("bob"), "c1", "hi")),
        ),
    )
    .await;
    let resp = read_frame(&mut ws).await.expect("response");
    match resp.kind {
        Some(frame::Kind::Response(r)) => assert_eq!(r.code, codes::RC_NET_CHANNEL_INVALID),
        other => panic!("expected a response, got {other:?}"),
    }
    let (closed, _) = read_until_closed(&mut ws).await;
    assert_eq!(closed.code, Some(1008));

    let mut client = server.desktop("dave").await;
    let token = server.token("dave").await;
    let again = connect_request(&token, "dave-desktop", Platform::Desktop, false);
    let r = client.request(again.op.unwrap()).await;
    assert_eq!(r.code, codes::RC_CONNECTION_EXIST);
    // Heartbeat after connect.
    let r = client
        .request(request::Op::GetSettings(Default::default()))
        .await;
    assert_eq!(r.code, 0);
}
