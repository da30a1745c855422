//! Policies at their boundaries: send rate, content size, frame size.

use std::time::Duration;

use imsync_protocol::{codes, request, Frame, MAX_CONTENT_BYTES, MAX_FRAME_BYTES};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;

#[tokio::test]
async fn rate_limit_allows_exactly_n_per_second() {
    let server = Server::start(Opts {
        rate_limit: Some(5),
        ..Opts::default()
    });
    let mut alice = server.desktop("alice").await;
    // Pipeline 5 sends: all inside the window, all accepted.
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            alice
                .send_request(request::Op::SendMessage(text(
                    private("bob"),
                    &format!("r{i}"),
                    "x",
                )))
                .await,
        );
    }
    // The 6th, in the same second, is refused.
    let sixth = alice
        .send_request(request::Op::SendMessage(text(private("bob"), "r5", "x")))
        .await;
    for id in ids {
        assert_eq!(alice.response_for(id).await.code, 0);
    }
    assert_eq!(
        alice.response_for(sixth).await.code,
        codes::SEND_FREQUENCY_TOO_FAST
    );
    // The refused send stored nothing; once the window has moved a send
    // goes through again (waiting here is the rule under test, not ordering).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ack = alice.send(text(private("bob"), "r5", "x")).await;
    assert_eq!(ack.seq, 6);
    // The limit is per connection: another device of the same user has its own.
    let mut web = server
        .client("alice", imsync_protocol::Platform::Web, "alice-web")
        .await;
    for i in 0..5 {
        web.send(text(private("bob"), &format!("w{i}"), "x")).await;
    }
}

#[tokio::test]
async fn content_limit_is_128k_exactly() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    // A JSON string document of exactly MAX_CONTENT_BYTES bytes.
    let inside = json!("a".repeat(MAX_CONTENT_BYTES - 2)).to_string();
    assert_eq!(inside.len(), MAX_CONTENT_BYTES);
    let mut req = text(private("bob"), "big-ok", "");
    req.content = inside;
    alice.send(req.clone()).await;
    let outside = json!("a".repeat(MAX_CONTENT_BYTES - 1)).to_string();
    assert_eq!(outside.len(), MAX_CONTENT_BYTES + 1);
    req.content = outside;
    req.client_msg_id = "big-no".into();
    assert_eq!(
        alice.try_send(req.clone()).await.code,
        codes::RC_MSG_CONTENT_EXCEED_LIMIT
    );
    req.content = "{not json".into();
    req.client_msg_id = "bad-json".into();
    assert_eq!(
        alice.try_send(req).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
    let mut bob = server.desktop("bob").await;
    assert_eq!(
        bob.pull_all(0, 10).await.len(),
        1,
        "only the in-limit message was stored"
    );
}

#[tokio::test]
async fn oversized_frames_close_only_that_connection() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    // Just inside the frame limit: a frame of exactly MAX_FRAME_BYTES is read
    // (and refused at the application level for its content size).
    let mut req = text(private("bob"), "f1", "");
    req.content = String::new();
    let base = encoded_len(&Frame::request(99, request::Op::SendMessage(req.clone())));
    // Pad inside another field the server validates later (push data).
    let mut padded = req.clone();
    padded.push_config = Some(imsync_protocol::PushConfig {
        push_data: "p".repeat(MAX_FRAME_BYTES - base - 64),
        ..Default::default()
    });
    let mut frame_len = encoded_len(&Frame::request(
        99,
        request::Op::SendMessage(padded.clone()),
    ));
    while frame_len < MAX_FRAME_BYTES {
        padded.push_config.as_mut().unwrap().push_data.push('p');
        frame_len = encoded_len(&Frame::request(
            99,
            request::Op::SendMessage(padded.clone()),
        ));
    }
    assert_eq!(frame_len, MAX_FRAME_BYTES);
    let r = alice.try_send(padded.clone()).await;
    assert_eq!(
        r.code,
        codes::BIZ_ERROR_INVALID_PARAMETER,
        "empty content is not JSON"
    );
    // One byte more: the connection is closed with 1009.
    padded.push_config.as_mut().unwrap().push_data.push('p');
    let bytes = imsync_protocol::prost::Message::encode_to_vec(&Frame::request(
        100,
        request::Op::SendMessage(padded),
    ));
    assert_eq!(bytes.len(), MAX_FRAME_BYTES + 1);
    // The server may close while the frame is still being written.
    alice
        .send_ws_refusable(WsMessage::Binary(bytes.into()))
        .await;
    let (closed, _) = alice.wait_closed().await;
    assert!(
        closed.code == Some(1009) || closed.code.is_none(),
        "too-large frame closes the connection, got {closed:?}"
    );
    // Everyone else is unaffected.
    let mut carol = server.desktop("carol").await;
    carol
        .send(text(private("bob"), "after", "still serving"))
        .await;
    assert_eq!(entry_text(&bob.next_entry().await), "still serving");
}
