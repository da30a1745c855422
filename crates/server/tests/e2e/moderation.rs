//! The sensitive-word filter and delivery receipts over the wire: the admin
//! routes (signed like every admin call), a blocked send that reaches no one
//! but its sender's notice, a masked send, and AckInbox turning into the
//! sender's receipt.

use imsync_protocol::{
    codes, object_names, request, response, AckInboxRequest, ConversationType, MessageDirection,
};
use serde_json::{json, Value};

use crate::common::*;

fn content_of(e: &imsync_protocol::InboxEntry) -> Value {
    serde_json::from_str(&e.message.as_ref().unwrap().content).unwrap()
}

#[tokio::test]
async fn sensitive_word_routes_are_signed_and_validated() {
    let server = Server::start(Opts::default());
    let (status, body) = server
        .admin("/sensitiveword/add", json!({ "word": "Spam" }))
        .await;
    assert_eq!((status, body["code"].clone()), (200, json!(200)), "{body}");
    let (status, _) = server
        .admin(
            "/sensitiveword/add",
            json!({ "word": "darn", "replaceWord": "d**n" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = server.admin("/sensitiveword/list", json!({})).await;
    assert_eq!(
        list["words"],
        json!([
            { "type": "1", "mode": "block", "word": "Spam", "replaceWord": "" },
            { "type": "0", "mode": "replace", "word": "darn", "replaceWord": "d**n" },
        ])
    );
    // Unsigned, badly signed, or replayed: 401 / 1004, nothing changes.
    let (status, body) = server
        .admin_with(
            "/sensitiveword/add",
            &json!({ "word": "x" }),
            &[("App-Key", APP_KEY)],
        )
        .await;
    assert_eq!((status, body["code"].clone()), (401, json!(1004)));
    let (nonce, ts) = fresh_nonce();
    let sig = sign(APP_SECRET, &nonce, &ts);
    let headers = [
        ("App-Key", APP_KEY),
        ("Nonce", nonce.as_str()),
        ("Timestamp", ts.as_str()),
        ("Signature", sig.as_str()),
    ];
    let (status, _) = server
        .admin_with(
            "/sensitiveword/delete",
            &json!({ "word": "spam" }),
            &headers,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .admin_with("/sensitiveword/add", &json!({ "word": "y" }), &headers)
        .await;
    assert_eq!((status, body["code"].clone()), (401, json!(1004)), "replay");
    // Bad parameters: 400 / 1002 naming the field.
    for (body, field) in [
        (json!({ "word": "" }), "word"),
        (json!({ "word": "a", "replaceWord": "" }), "replaceWord"),
        (json!({ "word": "a", "extra": 1 }), "extra"),
    ] {
        let (status, reply) = server.admin("/sensitiveword/add", body).await;
        assert_eq!((status, reply["code"].clone()), (400, json!(1002)));
        assert!(
            reply["errorMessage"].as_str().unwrap().contains(field),
            "{reply}"
        );
    }
    let (status, _) = server
        .admin("/sensitiveword/batch/delete", json!({ "words": [] }))
        .await;
    assert_eq!(status, 400);
    let (_, list) = server
        .admin("/sensitiveword/list", json!({ "type": 1 }))
        .await;
    assert_eq!(list["words"], json!([]));
}

#[tokio::test]
async fn blocked_and_masked_sends_and_delivery_receipts() {
    let server = Server::start(Opts::default());
    for body in [
        json!({ "word": "spam" }),
        json!({ "word": "darn", "mode": "replace" }),
    ] {
        assert_eq!(server.admin("/sensitiveword/add", body).await.0, 200);
    }
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;

    // Blocked: a successful send with moderation 21501; only alice's inbox hears.
    let r = alice
        .try_send(text(private("bob"), "b1", "buy SPAM now"))
        .await;
    assert_eq!(r.code, 0);
    assert_eq!(r.moderation.as_ref().unwrap().code, codes::SENSITIVE_SHIELD);
    let Some(response::Body::MessageAck(blocked)) = r.body else {
        panic!("no ack")
    };
    assert_eq!(blocked.seq, 0);
    let notice = alice.next_entry().await;
    let m = notice.message.as_ref().unwrap();
    assert_eq!(m.object_name, object_names::BLOCKED_NOTICE);
    assert!(!m.is_persisted);
    assert_eq!(
        content_of(&notice)["blockedMessageUid"],
        json!(blocked.message_uid)
    );
    // A resend with the same client id: the same answer, no second notice.
    let again = alice
        .try_send(text(private("bob"), "b1", "buy SPAM now"))
        .await;
    assert_eq!(
        again.body,
        Some(response::Body::MessageAck(blocked.clone()))
    );

    // Masked: delivered to both with content_replaced.
    let r = alice.try_send(text(private("bob"), "m1", "darn it")).await;
    assert_eq!(
        r.moderation.as_ref().unwrap().code,
        codes::SENSITIVE_REPLACE
    );
    let masked = expect_ack(r);
    let got = bob.next_entry().await;
    assert_eq!(
        got.seq, 1,
        "bob's first entry: the blocked send never reached him"
    );
    assert_eq!(content_of(&got)["content"], json!("*** it"));
    assert!(got.message.as_ref().unwrap().content_replaced);
    let own = alice.next_entry().await;
    assert_eq!(
        own.message.as_ref().unwrap().message_uid,
        masked.message_uid
    );
    assert_eq!(content_of(&own)["content"], json!("*** it"));

    // bob stores it and acks: alice gets one receipt, in her view.
    let r = bob
        .request(request::Op::AckInbox(AckInboxRequest { seq: got.seq }))
        .await;
    assert_eq!((r.code, r.body), (0, None));
    let receipt = alice.next_entry().await;
    let m = receipt.message.as_ref().unwrap();
    assert_eq!(m.object_name, object_names::DELIVERY_NOTICE);
    assert_eq!(m.direction, MessageDirection::Receive as i32);
    let conv = m.conversation.as_ref().unwrap();
    assert_eq!(
        (conv.r#type, conv.target_id.as_str()),
        (ConversationType::Private as i32, "bob")
    );
    let list = &content_of(&receipt)["list"];
    assert_eq!(list[0]["messageUId"], json!(masked.message_uid));
    // Acking again, or past the head, receipts nothing new: the next entry alice
    // gets is the next message's.
    bob.request(request::Op::AckInbox(AckInboxRequest { seq: 99 }))
        .await;
    let later = bob.send(text(private("alice"), "x1", "hi")).await;
    let next = alice.next_entry().await;
    assert_eq!(
        next.message.as_ref().unwrap().message_uid,
        later.message_uid
    );
}
