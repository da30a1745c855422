//! Routing: private, group (directed too) and system delivery to several
//! devices; status messages online only and never stored.

use imsync_protocol::{codes, push, ConversationType, MessageDirection, Platform};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn private_message_reaches_every_device_of_both_parties() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let mut bob_desktop = server.desktop("bob").await;
    let mut bob_web = server.client("bob", Platform::Web, "bob-web").await;
    let mut bob_mobile = server.client("bob", Platform::Mobile, "bob-phone").await;

    let ack = alice.send(text(private("bob"), "m1", "hello bob")).await;
    assert!(!ack.message_uid.is_empty());
    assert_eq!(ack.seq, 1, "the sender's own inbox gets the message");

    for bob in [&mut bob_desktop, &mut bob_web, &mut bob_mobile] {
        let e = bob.next_entry().await;
        assert_eq!(e.seq, 1);
        let m = e.message.as_ref().unwrap();
        assert_eq!(m.message_uid, ack.message_uid);
        assert_eq!(m.sent_time, ack.sent_time);
        assert_eq!(m.sender_user_id, "alice");
        let conv = m.conversation.as_ref().unwrap();
        assert_eq!(conv.r#type, ConversationType::Private as i32);
        assert_eq!(conv.target_id, "alice", "receiver sees the peer as target");
        assert_eq!(m.direction, MessageDirection::Receive as i32);
        assert!(
            !m.client_msg_id.is_empty(),
            "recipients see the client id: the server deduplicated this message"
        );
        assert!(m.is_persisted && m.is_counted);
        assert_eq!(entry_text(&e), "hello bob");
    }
    // The sender's devices (including the sending one) get the SEND copy.
    for me in [&mut alice, &mut alice_web] {
        let e = me.next_entry().await;
        assert_eq!(e.seq, 1);
        let m = e.message.as_ref().unwrap();
        assert_eq!(m.message_uid, ack.message_uid);
        assert_eq!(m.direction, MessageDirection::Send as i32);
        assert_eq!(m.conversation.as_ref().unwrap().target_id, "bob");
        assert_eq!(m.client_msg_id, "m1");
    }
}

#[tokio::test]
async fn group_message_reaches_members_and_refuses_non_members() {
    let server = Server::start(Opts::default());
    server.create_group("g1", &["alice", "bob", "carol"]).await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut bob_phone = server.client("bob", Platform::Mobile, "bob-phone").await;
    let mut carol = server.client("carol", Platform::Web, "carol-web").await;
    let mut mallory = server.desktop("mallory").await;

    let ack = alice.send(text(group("g1"), "g-1", "hi group")).await;
    for c in [&mut bob, &mut bob_phone, &mut carol] {
        let e = c.next_entry().await;
        let m = e.message.unwrap();
        assert_eq!(m.message_uid, ack.message_uid);
        assert_eq!(m.conversation.unwrap().target_id, "g1");
        assert_eq!(m.direction, MessageDirection::Receive as i32);
    }
    let own = alice.next_entry().await;
    assert_eq!(
        own.message.unwrap().direction,
        MessageDirection::Send as i32
    );

    let r = mallory
        .try_send(text(group("g1"), "x-1", "let me in"))
        .await;
    assert_eq!(r.code, codes::NOT_IN_GROUP);
    let r = mallory
        .try_send(text(group("nope"), "x-2", "no group"))
        .await;
    assert_eq!(r.code, codes::NOT_IN_GROUP);

    // Quitting stops delivery; the quitter cannot send either.
    let (status, _) = server
        .admin(
            "/group/quit",
            json!({ "groupId": "g1", "userIds": ["carol"] }),
        )
        .await;
    assert_eq!(status, 200);
    let r = carol
        .try_send(text(group("g1"), "c-1", "still here?"))
        .await;
    assert_eq!(r.code, codes::NOT_IN_GROUP);
    let second = alice
        .send(text(group("g1"), "g-2", "after carol left"))
        .await;
    assert_eq!(
        bob.next_entry().await.message.unwrap().message_uid,
        second.message_uid
    );
    let carol_inbox = carol.pull_all(0, 100).await;
    assert_eq!(
        carol_inbox.len(),
        1,
        "carol only has the message from before she quit"
    );
}

#[tokio::test]
async fn directed_group_message_reaches_only_its_targets() {
    let server = Server::start(Opts::default());
    server
        .create_group("g2", &["alice", "bob", "carol", "dave"])
        .await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut carol = server.desktop("carol").await;
    let mut req = text(group("g2"), "d-1", "just for bob");
    req.directed_user_ids = vec!["bob".into(), "outsider".into()];
    let ack = alice.send(req).await;
    let e = bob.next_entry().await;
    let m = e.message.unwrap();
    assert_eq!(m.message_uid, ack.message_uid);
    assert_eq!(
        m.directed_user_ids,
        vec!["bob".to_string(), "outsider".to_string()]
    );
    // Then a normal message: carol's first entry must be that one.
    let ack2 = alice.send(text(group("g2"), "d-2", "for everyone")).await;
    let first_for_carol = carol.next_entry().await;
    assert_eq!(first_for_carol.seq, 1);
    assert_eq!(
        first_for_carol.message.unwrap().message_uid,
        ack2.message_uid
    );
    // dave (offline) and the outsider got nothing of the directed message.
    let mut dave = server.desktop("dave").await;
    assert_eq!(dave.ack.inbox_head_seq, 1);
    let inbox = dave.pull_all(0, 10).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].message.as_ref().unwrap().message_uid,
        ack2.message_uid
    );
    let outsider = server.desktop("outsider").await;
    assert_eq!(outsider.ack.inbox_head_seq, 0);
    // Private messages cannot be directed.
    let mut bad = text(private("bob"), "d-3", "x");
    bad.directed_user_ids = vec!["bob".into()];
    assert_eq!(
        alice.try_send(bad).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
}

#[tokio::test]
async fn system_messages_are_publish_only_and_reach_every_device() {
    let server = Server::start(Opts::default());
    let mut bob = server.desktop("bob").await;
    let mut bob_web = server.client("bob", Platform::Web, "bob-web").await;
    let mut carol = server
        .client("carol", Platform::Mobile, "carol-phone")
        .await;
    let (status, body) = server
        .admin(
            "/message/system/publish",
            json!({
                "fromUserId": "__system__",
                "toUserId": ["bob", "carol"],
                "objectName": "RC:TxtMsg",
                "content": { "content": "maintenance tonight" },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let uid = body["messageUIds"][0].as_str().unwrap().to_owned();
    for c in [&mut bob, &mut bob_web, &mut carol] {
        let e = c.next_entry().await;
        let m = e.message.as_ref().unwrap();
        assert_eq!(m.message_uid, uid);
        let conv = m.conversation.as_ref().unwrap();
        assert_eq!(conv.r#type, ConversationType::System as i32);
        assert_eq!(conv.target_id, "__system__");
        assert_eq!(m.sender_user_id, "__system__");
        assert_eq!(m.direction, MessageDirection::Receive as i32);
        assert_eq!(entry_text(&e), "maintenance tonight");
    }
    // Clients cannot send into a system conversation, nor other types.
    let sys = imsync_protocol::Conversation::new(ConversationType::System, "__system__");
    assert_eq!(
        bob.try_send(text(sys, "s1", "reply")).await.code,
        codes::SYS_CONVERSATION_NOT_SUPPORT_MESSAGE
    );
    // A chatroom takes sends from its members only; bob never joined "room".
    let room = imsync_protocol::Conversation::new(ConversationType::Chatroom, "room");
    assert_eq!(
        bob.try_send(text(room, "s2", "hi")).await.code,
        imsync_protocol::chatroom_rules::NOT_IN_CHATROOM
    );
}

#[tokio::test]
async fn admin_private_and_group_publish_deliver() {
    let server = Server::start(Opts::default());
    server.create_group("g3", &["ops", "bob"]).await;
    let mut bob = server.desktop("bob").await;
    let (status, body) = server
        .admin(
            "/message/private/publish",
            json!({
                "fromUserId": "ops",
                "toUserId": "bob",
                "objectName": "RC:TxtMsg",
                "content": "{\"content\":\"from the server api\"}",
                "isIncludeSender": 1,
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let e = bob.next_entry().await;
    assert_eq!(entry_text(&e), "from the server api");
    assert_eq!(e.message.unwrap().conversation.unwrap().target_id, "ops");
    let ops = server.desktop("ops").await;
    assert_eq!(
        ops.ack.inbox_head_seq, 1,
        "isIncludeSender puts it in the sender's inbox"
    );

    let (status, body) = server
        .admin(
            "/message/group/publish",
            json!({
                "fromUserId": "ops",
                "toGroupId": ["g3"],
                "objectName": "RC:TxtMsg",
                "content": { "content": "group notice" },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let e = bob.next_entry().await;
    assert_eq!(entry_text(&e), "group notice");
    assert_eq!(e.message.unwrap().conversation.unwrap().target_id, "g3");
    // Bad content is refused.
    let (status, body) = server
        .admin(
            "/message/private/publish",
            json!({ "fromUserId": "ops", "toUserId": "bob", "objectName": "RC:TxtMsg", "content": "{oops" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 1002);
}

#[tokio::test]
async fn status_messages_reach_online_devices_only_and_are_never_stored() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut bob_phone = server.client("bob", Platform::Mobile, "bob-phone").await;
    let mut typing = text(private("bob"), "t-1", "");
    typing.object_name = "RC:TypSts".into();
    typing.content = json!({ "typingContentType": "RC:TxtMsg" }).to_string();
    typing.is_status_message = true;
    typing.is_persisted = false;
    typing.is_counted = false;
    let ack = alice.send(typing.clone()).await;
    assert_eq!(ack.seq, 0, "status messages get no inbox seq");
    for b in [&mut bob, &mut bob_phone] {
        match b.next_push().await.event {
            Some(push::Event::StatusMessage(m)) => {
                assert_eq!(m.object_name, "RC:TypSts");
                assert_eq!(m.sender_user_id, "alice");
                assert!(m.is_status_message);
                assert_eq!(m.conversation.unwrap().target_id, "alice");
            }
            other => panic!("expected a status push, got {other:?}"),
        }
    }
    // Nothing stored: a real message after it is seq 1 everywhere.
    let ack2 = alice.send(text(private("bob"), "t-2", "real")).await;
    assert_eq!(ack2.seq, 1);
    assert_eq!(bob.next_entry().await.seq, 1);
    // An offline device (carol, never connected) never sees status messages.
    server.create_group("g4", &["alice", "carol"]).await;
    let mut group_typing = typing.clone();
    group_typing.conversation = Some(group("g4"));
    group_typing.client_msg_id = "t-3".into();
    alice.send(group_typing).await;
    let mut carol = server.desktop("carol").await;
    assert_eq!(carol.ack.inbox_head_seq, 0);
    assert!(carol.pull_all(0, 10).await.is_empty());
    // Status messages honour the blacklist too.
    let r = bob
        .request(imsync_protocol::request::Op::Blacklist(
            imsync_protocol::BlacklistRequest {
                op: Some(imsync_protocol::blacklist_request::Op::Add("alice".into())),
            },
        ))
        .await;
    assert_eq!(r.code, 0);
    typing.client_msg_id = "t-4".into();
    assert_eq!(
        alice.try_send(typing).await.code,
        codes::REJECTED_BY_BLACKLIST
    );
}
