//! Operations on messages and settings: resend dedup, blacklist, recall,
//! receipts, read-status sync, expansion, conversation settings and tags.

use std::collections::BTreeMap;

use imsync_protocol::{
    blacklist_request, codes, push, request, response, tag_request, BlacklistRequest,
    ConversationSettingsRequest, ConversationType, ExpansionRequest, MessageDirection,
    MessageUidList, Platform, ReadReceiptRequest, RecallRequest, ReceiptRequestRequest,
    ReceiptResponseRequest, Response, SettingsSnapshot, SyncReadStatusRequest, Tag,
    TagConversations, TagRequest, TagTop,
};
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn resend_with_the_same_client_id_returns_the_original_ack() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let first = alice.send(text(private("bob"), "same-id", "once")).await;
    let again = alice.send(text(private("bob"), "same-id", "once")).await;
    assert_eq!(first, again, "identical ack: uid, sentTime, seq");
    // Also from another connection (e.g. after a reconnect) and with other
    // content: the id decides.
    let mut alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let third = alice_web
        .send(text(private("bob"), "same-id", "changed"))
        .await;
    assert_eq!(first, third);
    // Another sender may use the same client id.
    let mut carol = server.desktop("carol").await;
    let carols = carol.send(text(private("bob"), "same-id", "carol's")).await;
    assert_ne!(carols.message_uid, first.message_uid);
    let mut bob = server.desktop("bob").await;
    let inbox = bob.pull_all(0, 10).await;
    assert_eq!(inbox.len(), 2, "one message per (sender, client id)");
    let alice_inbox = alice.pull_all(0, 10).await;
    assert_eq!(alice_inbox.len(), 1);
}

fn blacklist(op: blacklist_request::Op) -> request::Op {
    request::Op::Blacklist(BlacklistRequest { op: Some(op) })
}

fn blacklist_ids(r: Response) -> Vec<String> {
    assert_eq!(r.code, 0, "{}", r.msg);
    match r.body {
        Some(response::Body::Blacklist(b)) => b.user_ids,
        other => panic!("expected blacklist, got {other:?}"),
    }
}

#[tokio::test]
async fn blacklist_is_one_way() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let ids = blacklist_ids(
        bob.request(blacklist(blacklist_request::Op::Add("alice".into())))
            .await,
    );
    assert_eq!(ids, vec!["alice".to_string()]);
    assert_eq!(
        alice
            .try_send(text(private("bob"), "b1", "blocked?"))
            .await
            .code,
        codes::REJECTED_BY_BLACKLIST
    );
    // bob can still message alice.
    bob.send(text(private("alice"), "b2", "I can write")).await;
    // Group messages are not affected by the private blacklist.
    server.create_group("gb", &["alice", "bob"]).await;
    alice.send(text(group("gb"), "b3", "group ok")).await;
    // Listing, self-add, removal.
    assert_eq!(
        blacklist_ids(
            bob.request(blacklist(blacklist_request::Op::List(true)))
                .await
        ),
        vec!["alice".to_string()]
    );
    assert_eq!(
        bob.request(blacklist(blacklist_request::Op::Add("bob".into())))
            .await
            .code,
        codes::BLACK_ADD_ERROR
    );
    let ids = blacklist_ids(
        bob.request(blacklist(blacklist_request::Op::Remove("alice".into())))
            .await,
    );
    assert!(ids.is_empty());
    alice.send(text(private("bob"), "b4", "unblocked")).await;
    // bob received: b3 (group), b4; his own b2 as SEND.
    let inbox = bob.pull_all(0, 10).await;
    let texts: Vec<String> = inbox.iter().map(entry_text).collect();
    assert_eq!(texts, vec!["I can write", "group ok", "unblocked"]);
}

fn recall_req(uid: &str, conv: imsync_protocol::Conversation, sent_time: i64) -> request::Op {
    request::Op::Recall(RecallRequest {
        message_uid: uid.into(),
        conversation: Some(conv),
        sent_time,
        ..RecallRequest::default()
    })
}

#[tokio::test]
async fn recall_puts_a_notice_in_every_inbox_and_checks_its_input() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let mut bob = server.desktop("bob").await;
    let mut carol = server.desktop("carol").await;
    let ack = alice.send(text(private("bob"), "r1", "oops")).await;
    bob.next_entry().await;
    alice_web.next_entry().await;

    // Bad input: 25101.
    for op in [
        recall_req("NOPE-NOPE-NOPE-NOPE", private("bob"), ack.sent_time),
        recall_req(&ack.message_uid, private("bob"), ack.sent_time + 1),
        recall_req(&ack.message_uid, private("carol"), ack.sent_time),
        recall_req(&ack.message_uid, group("bob"), ack.sent_time),
        recall_req(
            &ack.message_uid,
            imsync_protocol::Conversation::new(ConversationType::System, "bob"),
            ack.sent_time,
        ),
    ] {
        assert_eq!(alice.request(op).await.code, codes::RECALL_MESSAGE);
    }
    // A stranger cannot recall it.
    assert_eq!(
        carol
            .request(recall_req(
                &ack.message_uid,
                private("alice"),
                ack.sent_time
            ))
            .await
            .code,
        codes::RECALL_MESSAGE
    );

    let notice_ack = expect_ack(
        alice
            .request(recall_req(&ack.message_uid, private("bob"), ack.sent_time))
            .await,
    );
    for (c, dir, target) in [
        (&mut bob, MessageDirection::Receive, "alice"),
        (&mut alice_web, MessageDirection::Send, "bob"),
    ] {
        let e = c.next_entry().await;
        let m = e.message.unwrap();
        assert_eq!(m.object_name, "RC:RcNtf");
        assert_eq!(m.ref_message_uid, ack.message_uid);
        assert_eq!(m.message_uid, notice_ack.message_uid);
        assert_eq!(m.direction, dir as i32);
        assert_eq!(m.conversation.unwrap().target_id, target);
        let content: Value = serde_json::from_str(&m.content).unwrap();
        assert_eq!(content["originalMessageUId"], ack.message_uid.as_str());
        assert_eq!(content["operatorId"], "alice");
        assert_eq!(content["originalObjectName"], "RC:TxtMsg");
    }
    // Recalling again returns the same notice, and writes nothing new.
    let again = expect_ack(
        alice
            .request(recall_req(&ack.message_uid, private("bob"), ack.sent_time))
            .await,
    );
    assert_eq!(again, notice_ack);
    // The notice itself cannot be recalled.
    assert_eq!(
        alice
            .request(recall_req(
                &notice_ack.message_uid,
                private("bob"),
                notice_ack.sent_time
            ))
            .await
            .code,
        codes::RECALL_MESSAGE
    );
    assert_eq!(bob.pull_all(0, 10).await.len(), 2);

    // Group: every member who got the message gets the notice; the peer in
    // the group may recall (the vendor default lets anyone recall).
    server.create_group("gr", &["alice", "bob", "carol"]).await;
    let g = alice.send(text(group("gr"), "r2", "group oops")).await;
    let notice = expect_ack(
        bob.request(recall_req(&g.message_uid, group("gr"), g.sent_time))
            .await,
    );
    let carol_inbox = carol.pull_all(0, 10).await;
    let last = carol_inbox.last().unwrap().message.as_ref().unwrap();
    assert_eq!(last.message_uid, notice.message_uid);
    assert_eq!(last.ref_message_uid, g.message_uid);
    assert_eq!(last.sender_user_id, "bob");
}

#[tokio::test]
async fn receipts_and_read_status_sync() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut bob_web = server.client("bob", Platform::Web, "bob-web").await;
    let ack = alice.send(text(private("bob"), "m1", "read me")).await;
    alice.next_entry().await;
    bob.next_entry().await;
    bob_web.next_entry().await;

    // Private receipt: alice gets RC:ReadNtf.
    expect_ack(
        bob.request(request::Op::ReadReceipt(ReadReceiptRequest {
            target_id: "alice".into(),
            message_uid: ack.message_uid.clone(),
            last_message_send_time: ack.sent_time,
            channel_id: String::new(),
        }))
        .await,
    );
    let e = alice.next_entry().await;
    let m = e.message.unwrap();
    assert_eq!(m.object_name, "RC:ReadNtf");
    assert_eq!(m.ref_message_uid, ack.message_uid);
    assert_eq!(m.sender_user_id, "bob");
    assert_eq!(m.conversation.unwrap().target_id, "bob");
    assert!(!m.is_persisted);

    // Sync read status: only bob's own devices.
    expect_ack(
        bob.request(request::Op::SyncReadStatus(SyncReadStatusRequest {
            conversation: Some(private("alice")),
            last_message_send_time: ack.sent_time,
        }))
        .await,
    );
    let e = bob_web.next_entry().await;
    let m = e.message.unwrap();
    assert_eq!(m.object_name, "RC:SRSMsg");
    assert_eq!(m.direction, MessageDirection::Send as i32);
    assert_eq!(m.conversation.unwrap().target_id, "alice");
    let content: Value = serde_json::from_str(&m.content).unwrap();
    assert_eq!(content["lastMessageSendTime"], ack.sent_time);

    // Group receipts: request to members, response back to the sender.
    server.create_group("gr", &["alice", "bob", "carol"]).await;
    let g = alice.send(text(group("gr"), "g1", "please ack")).await;
    let r = bob
        .request(request::Op::ReceiptRequest(ReceiptRequestRequest {
            target_id: "gr".into(),
            message_uid: g.message_uid.clone(),
            channel_id: String::new(),
        }))
        .await;
    assert_eq!(
        r.code,
        codes::BIZ_ERROR_INVALID_PARAMETER,
        "only the sender may ask"
    );
    let r = server
        .desktop("mallory")
        .await
        .request(request::Op::ReceiptRequest(ReceiptRequestRequest {
            target_id: "gr".into(),
            message_uid: g.message_uid.clone(),
            channel_id: String::new(),
        }))
        .await;
    assert_eq!(r.code, codes::NOT_IN_GROUP);
    expect_ack(
        alice
            .request(request::Op::ReceiptRequest(ReceiptRequestRequest {
                target_id: "gr".into(),
                message_uid: g.message_uid.clone(),
                channel_id: String::new(),
            }))
            .await,
    );
    let mut carol = server.desktop("carol").await;
    let carol_inbox = carol.pull_all(0, 10).await;
    let req_entry = carol_inbox.last().unwrap().message.as_ref().unwrap();
    assert_eq!(req_entry.object_name, "RC:RRReqMsg");
    assert_eq!(req_entry.ref_message_uid, g.message_uid);

    let mut list = BTreeMap::new();
    list.insert(
        "alice".to_string(),
        MessageUidList {
            message_uids: vec![g.message_uid.clone()],
        },
    );
    expect_ack(
        carol
            .request(request::Op::ReceiptResponse(ReceiptResponseRequest {
                target_id: "gr".into(),
                message_list: list,
                channel_id: String::new(),
            }))
            .await,
    );
    let alice_inbox = alice.pull_all(0, 100).await;
    let rsp = alice_inbox.last().unwrap().message.as_ref().unwrap();
    assert_eq!(rsp.object_name, "RC:RRRspMsg");
    assert_eq!(rsp.sender_user_id, "carol");
    let content: Value = serde_json::from_str(&rsp.content).unwrap();
    assert_eq!(
        content["receiptMessageDic"]["alice"][0],
        g.message_uid.as_str()
    );
}

fn expansion(uid: &str, set: &[(&str, &str)], remove: &[&str]) -> request::Op {
    request::Op::Expansion(ExpansionRequest {
        message_uid: uid.into(),
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        remove: remove.iter().map(|k| k.to_string()).collect(),
    })
}

#[tokio::test]
async fn expansion_updates_reach_every_holder_and_respect_limits() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut carol = server.desktop("carol").await;
    let mut req = text(private("bob"), "e1", "expandable");
    req.can_include_expansion = true;
    req.expansion.insert("likes".into(), "0".into());
    let ack = alice.send(req).await;
    let plain = alice.send(text(private("bob"), "e2", "plain")).await;
    let first = bob.next_entry().await.message.unwrap();
    assert!(first.can_include_expansion);
    assert_eq!(first.expansion.get("likes").map(String::as_str), Some("0"));
    bob.next_entry().await;

    expect_ack(
        bob.request(expansion(&ack.message_uid, &[("likes", "1")], &[]))
            .await,
    );
    let notice = bob.next_entry().await.message.unwrap();
    assert_eq!(notice.object_name, "RC:MsgExMsg");
    assert_eq!(notice.ref_message_uid, ack.message_uid);
    let content: Value = serde_json::from_str(&notice.content).unwrap();
    assert_eq!(content["put"]["likes"], "1");
    let alice_side = alice.pull_all(0, 10).await;
    assert_eq!(
        alice_side
            .last()
            .unwrap()
            .message
            .as_ref()
            .unwrap()
            .object_name,
        "RC:MsgExMsg"
    );

    assert_eq!(
        bob.request(expansion(&plain.message_uid, &[("k", "v")], &[]))
            .await
            .code,
        codes::MESSAGE_KV_NOT_SUPPORT
    );
    assert_eq!(
        carol
            .request(expansion(&ack.message_uid, &[("k", "v")], &[]))
            .await
            .code,
        codes::MESSAGE_EXPANDED_ERROR
    );
    let too_many: Vec<(String, String)> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    let too_many_ref: Vec<(&str, &str)> = too_many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        bob.request(expansion(&ack.message_uid, &too_many_ref, &[]))
            .await
            .code,
        codes::EXPANSION_LIMIT_EXCEET
    );
    assert_eq!(
        bob.request(expansion(&ack.message_uid, &[("bad key!", "v")], &[]))
            .await
            .code,
        codes::EXPANSION_LIMIT_EXCEET
    );
    let long_value = "v".repeat(4097);
    assert_eq!(
        bob.request(expansion(&ack.message_uid, &[("k", &long_value)], &[]))
            .await
            .code,
        codes::EXPANSION_LIMIT_EXCEET
    );
    expect_ack(
        bob.request(expansion(&ack.message_uid, &[], &["likes"]))
            .await,
    );
    let removal = bob.next_entry().await.message.unwrap();
    let content: Value = serde_json::from_str(&removal.content).unwrap();
    assert_eq!(content["del"][0], "likes");
}

fn settings(r: Response) -> SettingsSnapshot {
    assert_eq!(r.code, 0, "{}", r.msg);
    match r.body {
        Some(response::Body::Settings(s)) => s,
        other => panic!("expected settings, got {other:?}"),
    }
}

fn tag(op: tag_request::Op) -> request::Op {
    request::Op::Tag(TagRequest { op: Some(op) })
}

#[tokio::test]
async fn conversation_settings_and_tags_sync_across_devices() {
    let server = Server::start(Opts::default());
    let mut desk = server.desktop("alice").await;
    let mut web = server.client("alice", Platform::Web, "alice-web").await;
    assert_eq!(desk.ack.settings_version, 0);

    let snap = settings(
        desk.request(request::Op::ConversationSettings(
            ConversationSettingsRequest {
                conversation: Some(private("bob")),
                is_top: Some(true),
                notification_level: Some(5),
            },
        ))
        .await,
    );
    assert_eq!(snap.version, 1);
    assert_eq!(snap.conversations.len(), 1);
    assert!(snap.conversations[0].is_top);
    assert_eq!(snap.conversations[0].notification_level, 5);
    match web.next_push().await.event {
        Some(push::Event::SettingsChanged(c)) => {
            assert_eq!(c.version, 1);
            assert_eq!(c.kind, "conversation");
        }
        other => panic!("expected settings_changed, got {other:?}"),
    }
    // Only the level changes; top stays.
    let snap = settings(
        web.request(request::Op::ConversationSettings(
            ConversationSettingsRequest {
                conversation: Some(private("bob")),
                is_top: None,
                notification_level: Some(-1),
            },
        ))
        .await,
    );
    assert!(snap.conversations[0].is_top);
    assert_eq!(snap.conversations[0].notification_level, -1);
    assert_eq!(
        web.request(request::Op::ConversationSettings(
            ConversationSettingsRequest {
                conversation: Some(private("bob")),
                is_top: None,
                notification_level: Some(3),
            }
        ))
        .await
        .code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );

    // Tags.
    let add = |id: &str, name: &str| {
        tag(tag_request::Op::AddTag(Tag {
            tag_id: id.into(),
            tag_name: name.into(),
            created_time: 0,
        }))
    };
    settings(desk.request(add("work", "Work")).await);
    assert_eq!(
        desk.request(add("work", "Again")).await.code,
        codes::TAG_EXISTS
    );
    assert_eq!(
        desk.request(add("toolongtagid", "x")).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
    for i in 1..20 {
        settings(desk.request(add(&format!("t{i}"), "n")).await);
    }
    assert_eq!(
        desk.request(add("t20", "n")).await.code,
        codes::CONVERSATION_TAG_OVERSIZE
    );
    assert_eq!(
        desk.request(tag(tag_request::Op::RemoveTag("missing".into())))
            .await
            .code,
        codes::TAG_NOT_EXIST
    );
    let snap = settings(
        desk.request(tag(tag_request::Op::AddConversations(TagConversations {
            tag_id: "work".into(),
            conversations: vec![private("bob"), group("g1")],
        })))
        .await,
    );
    assert_eq!(snap.tag_links.len(), 2);
    assert_eq!(
        desk.request(tag(tag_request::Op::SetTopInTag(TagTop {
            tag_id: "work".into(),
            conversation: Some(private("carol")),
            is_top: true,
        })))
        .await
        .code,
        codes::NO_TAG_IN_CONVER
    );
    let snap = settings(
        desk.request(tag(tag_request::Op::SetTopInTag(TagTop {
            tag_id: "work".into(),
            conversation: Some(private("bob")),
            is_top: true,
        })))
        .await,
    );
    assert!(snap.tag_links.iter().any(|l| l.is_top));
    let too_many: Vec<_> = (0..1001).map(|i| private(&format!("u{i}"))).collect();
    assert_eq!(
        desk.request(tag(tag_request::Op::AddConversations(TagConversations {
            tag_id: "work".into(),
            conversations: too_many,
        })))
        .await
        .code,
        codes::CONVER_OUT_LIMIT_ERROR
    );
    // The other device reads the same snapshot.
    let snap_web = settings(
        web.request(request::Op::GetSettings(Default::default()))
            .await,
    );
    assert_eq!(snap_web.tags.len(), 20);
    assert_eq!(snap_web.tag_links.len(), 2);
    assert_eq!(snap_web.version, snap.version);
    // And a new connection learns the version at connect.
    let later = server
        .client("alice", Platform::Mobile, "alice-phone")
        .await;
    assert_eq!(later.ack.settings_version, snap.version);
}

fn history(
    conv: imsync_protocol::Conversation,
    timestamp: i64,
    count: u32,
    order: u32,
) -> request::Op {
    request::Op::History(imsync_protocol::HistoryRequest {
        conversation: Some(conv),
        timestamp,
        count,
        order,
    })
}

fn history_page(r: Response) -> imsync_protocol::HistoryResult {
    assert_eq!(r.code, 0, "{}", r.msg);
    match r.body {
        Some(response::Body::History(h)) => h,
        other => panic!("expected history, got {other:?}"),
    }
}

#[tokio::test]
async fn remote_history_returns_persisted_messages_of_one_conversation() {
    let server = Server::start(Opts::default());
    server.create_group("gh", &["alice", "bob"]).await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let a1 = alice.send(text(private("bob"), "h1", "a1")).await;
    let b1 = bob.send(text(private("alice"), "h2", "b1")).await;
    let mut cmd = text(private("bob"), "h3", "not stored");
    cmd.is_persisted = false;
    alice.send(cmd).await;
    alice.send(text(group("gh"), "h4", "group")).await;
    let a2 = alice.send(text(private("bob"), "h5", "a2")).await;
    // A third party's conversation with bob never shows up in alice's history.
    server
        .desktop("carol")
        .await
        .send(text(private("bob"), "h6", "c1"))
        .await;

    let all = history_page(bob.request(history(private("alice"), 0, 100, 0)).await);
    let uids: Vec<&str> = all
        .messages
        .iter()
        .map(|m| m.message_uid.as_str())
        .collect();
    assert_eq!(
        uids,
        vec![
            a2.message_uid.as_str(),
            b1.message_uid.as_str(),
            a1.message_uid.as_str()
        ]
    );
    assert!(!all.has_more);
    assert_eq!(
        all.messages[1].direction,
        MessageDirection::Send as i32,
        "bob's own message"
    );
    assert_eq!(
        all.messages[0].conversation.as_ref().unwrap().target_id,
        "alice"
    );

    let page = history_page(bob.request(history(private("alice"), 0, 2, 0)).await);
    assert_eq!(page.messages.len(), 2);
    assert!(page.has_more);
    let oldest_first = history_page(
        bob.request(history(private("alice"), a1.sent_time - 1, 100, 1))
            .await,
    );
    assert_eq!(
        oldest_first.messages.first().unwrap().message_uid,
        a1.message_uid
    );
    assert_eq!(
        oldest_first.messages.last().unwrap().message_uid,
        a2.message_uid
    );
    let before = history_page(
        bob.request(history(private("alice"), a2.sent_time, 100, 0))
            .await,
    );
    assert!(before.messages.iter().all(|m| m.sent_time < a2.sent_time));

    let group_history = history_page(bob.request(history(group("gh"), 0, 10, 0)).await);
    assert_eq!(group_history.messages.len(), 1);
    assert_eq!(
        bob.request(history(private("alice"), 0, 0, 0)).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
    assert_eq!(
        bob.request(history(private("alice"), 0, 101, 0)).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
    assert_eq!(
        bob.request(history(private("alice"), 0, 10, 2)).await.code,
        codes::BIZ_ERROR_INVALID_PARAMETER
    );
    let room = imsync_protocol::Conversation::new(ConversationType::Chatroom, "r");
    assert_eq!(
        bob.request(history(room, 0, 10, 0)).await.code,
        codes::CONVERSATION_TYPE_NOT_SUPPORT
    );
}

#[tokio::test]
async fn clients_cannot_send_the_notices_the_server_writes() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    for (i, name) in imsync_protocol::object_names::SERVER_NOTICES
        .iter()
        .enumerate()
    {
        let mut req = text(private("bob"), &format!("forged-{i}"), "x");
        req.object_name = (*name).to_string();
        req.content = r#"{"mid":"someone-else","put":{"k":"v"}}"#.into();
        let r = alice.try_send(req).await;
        assert_eq!(r.code, codes::BIZ_ERROR_INVALID_PARAMETER, "{name}");
        assert!(r.msg.contains(name), "{}", r.msg);
    }
    // An ordinary type still goes through.
    alice.send(text(private("bob"), "real", "hello")).await;
}
