//! Malformed input closes only the offending connection, never the server.

use imsync_protocol::{codes, frame, request, Frame, Request};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;

#[tokio::test]
async fn garbage_text_and_zero_ids_close_the_connection_only() {
    let server = Server::start(Opts::default());
    let mut bob = server.desktop("bob").await;

    let mut a = server.desktop("a1").await;
    a.send_ws(WsMessage::Binary(vec![0xff, 0xff, 0xff, 0xff, 0x0f].into()))
        .await;
    assert_eq!(a.wait_closed().await.0.code, Some(1002));

    let mut b = server
        .client("a2", imsync_protocol::Platform::Desktop, "x")
        .await;
    b.send_ws(WsMessage::Text("hello".into())).await;
    assert_eq!(b.wait_closed().await.0.code, Some(1003));

    let mut c = server
        .client("a3", imsync_protocol::Platform::Desktop, "x")
        .await;
    let zero = Frame::request(0, request::Op::GetSettings(Default::default()));
    c.send_ws(WsMessage::Binary(
        imsync_protocol::encode_frame(&zero).unwrap().into(),
    ))
    .await;
    assert_eq!(c.wait_closed().await.0.code, Some(1002));

    // Before authentication too.
    let mut raw = raw_ws(&server).await;
    raw_send(&mut raw, vec![0x0a, 0xff]).await;
    assert_eq!(read_until_closed(&mut raw).await.0.code, Some(1002));

    // An empty request (a newer client's unknown op) is answered with 35004
    // and the connection stays usable.
    let mut d = server.desktop("a4").await;
    let r = d
        .request_raw(Frame {
            id: 5,
            kind: Some(frame::Kind::Request(Request { op: None })),
        })
        .await;
    assert_eq!(r.code, codes::NOT_SUPPORT);
    d.send(text(private("bob"), "ok", "fine")).await;

    assert_eq!(entry_text(&bob.next_entry().await), "fine");
    assert_eq!(server.health().await.0, 200);
}

async fn raw_send(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    bytes: Vec<u8>,
) {
    use futures_util::SinkExt;
    ws.send(WsMessage::Binary(bytes.into()))
        .await
        .expect("send");
}

/// A bounded fuzz run against the live server: random byte strings, each
/// on an authenticated connection. The server may answer, ignore or close
/// that connection, but must keep serving everyone else.
#[tokio::test]
async fn random_frames_never_take_the_server_down() {
    let server = Server::start(Opts::default());
    // Deterministic seed: a failure reproduces on every run.
    let mut runner = TestRunner::deterministic();
    let mut inputs = Vec::new();
    let strategy = proptest::collection::vec(any::<u8>(), 0..512);
    for _ in 0..48 {
        inputs.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    let mut conn = server.desktop("fuzz").await;
    for bytes in inputs {
        conn.send_ws(WsMessage::Binary(bytes.into())).await;
        // Probe: either the connection answers a ping (it survived) or it
        // was closed; then reconnect.
        if !conn.ping_ok().await {
            conn = server.desktop("fuzz").await;
        }
    }
    let mut bob = server.desktop("bob").await;
    let mut alice = server.desktop("alice").await;
    alice
        .send(text(private("bob"), "after-fuzz", "alive"))
        .await;
    assert_eq!(entry_text(&bob.next_entry().await), "alive");
}
