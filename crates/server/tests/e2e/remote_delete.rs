//! Deleting messages for the caller only (DeleteMessagesRequest): over real WebSockets, the
//! caller's other device gets the RC:MsgDelNtf push, a device connecting later finds the
//! messages gone from the inbox and from remote history, the peer keeps everything, and a
//! refused request deletes nothing.

use imsync_protocol::{
    codes, delete_messages_request::What, request, response, ConversationType,
    DeleteMessagesRequest, HistoryRequest, InboxEntry, MessageAck, MessageRef, MessageRefs,
    Platform, Response,
};
use serde_json::Value;

use crate::common::*;

fn delete(conv: imsync_protocol::Conversation, items: &[&MessageAck]) -> request::Op {
    request::Op::DeleteMessages(DeleteMessagesRequest {
        conversation: Some(conv),
        what: Some(What::Messages(MessageRefs {
            messages: items
                .iter()
                .map(|a| MessageRef {
                    message_uid: a.message_uid.clone(),
                    sent_time: a.sent_time,
                })
                .collect(),
        })),
    })
}

fn clear(conv: imsync_protocol::Conversation, before: i64) -> request::Op {
    request::Op::DeleteMessages(DeleteMessagesRequest {
        conversation: Some(conv),
        what: Some(What::ClearBefore(before)),
    })
}

fn texts(entries: &[InboxEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.message.as_ref().unwrap().object_name == "RC:TxtMsg")
        .map(entry_text)
        .collect()
}

async fn history_texts(c: &mut Client, conv: imsync_protocol::Conversation) -> Vec<String> {
    let r = c
        .request(request::Op::History(HistoryRequest {
            conversation: Some(conv),
            timestamp: 0,
            count: 100,
            order: 0,
        }))
        .await;
    assert_eq!(r.code, 0, "{}", r.msg);
    let Some(response::Body::History(page)) = r.body else {
        panic!("no history page");
    };
    let mut out: Vec<String> = page
        .messages
        .into_iter()
        .map(|m| {
            serde_json::from_str::<Value>(&m.content).unwrap()["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    out.reverse();
    out
}

fn notice_content(e: &InboxEntry) -> Value {
    let m = e.message.as_ref().unwrap();
    assert_eq!(m.object_name, "RC:MsgDelNtf");
    serde_json::from_str(&m.content).unwrap()
}

#[tokio::test]
async fn a_delete_reaches_the_callers_devices_only_and_never_comes_back() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let mut bob = server.desktop("bob").await;
    let one = alice.send(text(private("bob"), "d1", "one")).await;
    let two = bob.send(text(private("alice"), "d2", "two")).await;
    let three = alice.send(text(private("bob"), "d3", "three")).await;
    for _ in 0..3 {
        alice_web.next_entry().await;
    }
    let r = alice.request(delete(private("bob"), &[&two, &one])).await;
    let ack = expect_ack(r);
    assert!(ack.seq > three.seq);
    // The other device learns it by push, in seq order.
    let pushed = alice_web.next_entry().await;
    assert_eq!(pushed.seq, ack.seq);
    assert_eq!(
        notice_content(&pushed)["messageUIds"],
        serde_json::json!([two.message_uid, one.message_uid])
    );
    assert_eq!(
        pushed.message.as_ref().unwrap().direction,
        imsync_protocol::MessageDirection::Send as i32
    );
    // bob gets nothing and keeps everything.
    assert_eq!(
        texts(&bob.pull_all(0, 100).await),
        vec!["one", "two", "three"]
    );
    assert_eq!(
        history_texts(&mut bob, private("alice")).await,
        vec!["one", "two", "three"]
    );
    // A device of alice's that connects now (empty database: pulls from 0) never sees them.
    let mut alice_phone = server
        .client("alice", Platform::Mobile, "alice-phone")
        .await;
    let all = alice_phone.pull_all(0, 100).await;
    assert_eq!(texts(&all), vec!["three"]);
    assert_eq!(
        history_texts(&mut alice_phone, private("bob")).await,
        vec!["three"]
    );
    // Deleting again: accepted, nothing new.
    let again = expect_ack(alice.request(delete(private("bob"), &[&one])).await);
    assert_eq!(again, MessageAck::default());
    assert_eq!(alice_phone.pull_all(0, 100).await.len(), all.len());
}

#[tokio::test]
async fn clear_history_removes_what_was_sent_before_the_time_for_the_caller_only() {
    let server = Server::start(Opts::default());
    server.create_group("g", &["alice", "bob"]).await;
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let one = alice.send(text(group("g"), "c1", "one")).await;
    let two = bob.send(text(group("g"), "c2", "two")).await;
    alice.send(text(private("bob"), "c3", "private")).await;
    let ack = expect_ack(alice.request(clear(group("g"), two.sent_time)).await);
    assert!(ack.sent_time > two.sent_time);
    let all = alice.pull_all(0, 100).await;
    assert_eq!(texts(&all), vec!["two", "private"], "strictly before");
    let notice = all.iter().rev().find(|e| e.seq == ack.seq).expect("notice");
    assert_eq!(notice_content(notice)["clearBefore"], two.sent_time);
    assert_eq!(history_texts(&mut alice, group("g")).await, vec!["two"]);
    assert_eq!(
        history_texts(&mut bob, group("g")).await,
        vec!["one", "two"]
    );
    // A later message is never covered, even by a time in the future.
    let far = now_ms() + 3_600_000;
    expect_ack(alice.request(clear(group("g"), far)).await);
    let later = bob.send(text(group("g"), "c4", "later")).await;
    assert!(later.sent_time < far);
    assert_eq!(history_texts(&mut alice, group("g")).await, vec!["later"]);
    let _ = one;
}

#[tokio::test]
async fn a_refused_delete_deletes_nothing() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut carol = server.desktop("carol").await;
    let mine = alice.send(text(private("bob"), "x1", "mine")).await;
    let to_carol = alice.send(text(private("carol"), "x2", "to carol")).await;
    let carols = carol
        .send(text(private("dave"), "x3", "carol to dave"))
        .await;
    let before = alice.pull_all(0, 100).await;
    let wrong_time = MessageAck {
        sent_time: mine.sent_time + 1,
        ..mine.clone()
    };
    let unknown = MessageAck {
        message_uid: "NOPE-NOPE-NOPE-NOPE".into(),
        ..mine.clone()
    };
    for op in [
        delete(private("bob"), &[&mine, &to_carol]),
        delete(private("bob"), &[&mine, &unknown]),
        delete(private("bob"), &[&mine, &wrong_time]),
        delete(private("dave"), &[&carols]),
        delete(private("bob"), &[]),
        clear(private("bob"), -1),
        request::Op::DeleteMessages(DeleteMessagesRequest {
            conversation: Some(private("bob")),
            what: None,
        }),
    ] {
        let r: Response = alice.request(op.clone()).await;
        assert_eq!(
            r.code,
            codes::BIZ_ERROR_INVALID_PARAMETER,
            "{op:?}: {}",
            r.msg
        );
    }
    let room = imsync_protocol::Conversation::new(ConversationType::Chatroom, "room");
    assert_eq!(
        alice.request(delete(room, &[&mine])).await.code,
        codes::CONVERSATION_TYPE_NOT_SUPPORT
    );
    assert_eq!(
        alice.pull_all(0, 100).await,
        before,
        "nothing deleted, no notice"
    );
}
