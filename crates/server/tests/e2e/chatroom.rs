//! Chatrooms over the real protocol: joins create rooms (or answer 23410 for
//! joinExistChatRoom), messages reach the connections in the room and nobody else, a
//! join returns the latest `count` messages, history pages, quit, and bad input answers
//! the seed's codes and changes nothing.

use imsync_protocol::{
    chatroom_event, push, request, response, ChatroomEntry, ChatroomEntryChange,
    ChatroomGetEntriesRequest, ChatroomHistoryRequest, ChatroomInfoRequest, ChatroomJoinRequest,
    ChatroomQuitRequest, ChatroomRemoveEntriesRequest, ChatroomSetEntriesRequest, Conversation,
    ConversationType, Message, Platform, Push, Response,
};

use serde_json::json;

use crate::common::*;

fn join(room: &str, create: bool, count: u32) -> request::Op {
    request::Op::ChatroomJoin(ChatroomJoinRequest {
        room_id: room.into(),
        create,
        count,
    })
}

fn room(id: &str) -> Conversation {
    Conversation::new(ConversationType::Chatroom, id)
}

fn ok(r: &Response) {
    assert_eq!(r.code, 0, "{}", r.msg);
}

fn room_message(p: Push) -> Message {
    match p.event {
        Some(push::Event::ChatroomMessage(m)) => m,
        other => panic!("expected a chatroom message, got {other:?}"),
    }
}

/// The next push that is a room message, skipping room events.
async fn next_room_message(c: &mut Client) -> Message {
    loop {
        let p = c.next_push().await;
        if !matches!(p.event, Some(push::Event::ChatroomEvent(_))) {
            return room_message(p);
        }
    }
}

async fn info(c: &mut Client, room: &str, count: u32, order: u32) -> Response {
    c.request(request::Op::ChatroomInfo(ChatroomInfoRequest {
        room_id: room.into(),
        count,
        order,
    }))
    .await
}

#[tokio::test]
async fn room_messages_reach_members_only_and_joins_get_the_latest() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut carol = server.desktop("carol").await;

    // joinExistChatRoom on a room nobody created: 23410, and still no room.
    let r = alice.request(join("live1", false, 10)).await;
    assert_eq!(r.code, 23410, "{}", r.msg);
    assert_eq!(info(&mut alice, "live1", 0, 0).await.code, 23410);

    ok(&alice.request(join("live1", true, 10)).await);
    let r = bob.request(join("live1", false, 10)).await;
    ok(&r);
    let Some(response::Body::ChatroomJoin(j)) = r.body else {
        panic!("no join result")
    };
    assert_eq!((j.member_count, j.messages.len()), (2, 0));
    // Each hears their own join only (other members' are the vendor's opt-in service).
    for (c, user, members) in [(&mut alice, "alice", 1), (&mut bob, "bob", 2)] {
        match c.next_push().await.event {
            Some(push::Event::ChatroomEvent(e)) => match e.kind {
                Some(chatroom_event::Kind::UserChange(c)) => {
                    assert_eq!(c.users.len(), 1, "{c:?}");
                    assert_eq!(c.users.get(user), Some(&1), "{c:?}");
                    assert_eq!(c.member_count, members);
                }
                other => panic!("expected a user change, got {other:?}"),
            },
            other => panic!("expected a room event, got {other:?}"),
        }
    }

    // Not in the room: 23406, nothing delivered.
    let r = carol.try_send(text(room("live1"), "c1", "hi")).await;
    assert_eq!(r.code, 23406, "{}", r.msg);

    for i in 0..3 {
        expect_ack(
            alice
                .try_send(text(room("live1"), &format!("a{i}"), &format!("m{i}")))
                .await,
        );
    }
    for i in 0..3 {
        let m = next_room_message(&mut bob).await;
        assert_eq!(m.content, format!("{{\"content\":\"m{i}\"}}"));
        assert_eq!(m.sender_user_id, "alice");
        assert_eq!(
            m.conversation.unwrap().r#type,
            ConversationType::Chatroom as i32
        );
    }
    // Nothing in any inbox: room messages are not stored for anyone.
    assert!(bob.pull_all(0, 100).await.is_empty());
    assert!(alice.pull_all(0, 100).await.is_empty());
    // The sender's connection does not get its own messages back; carol got nothing
    // (her request's answer comes after anything queued before it).
    ok(&info(&mut carol, "live1", 0, 0).await);
    assert!(carol.take_pushes().is_empty());
    assert!(alice
        .take_pushes()
        .iter()
        .all(|p| !matches!(p.event, Some(push::Event::ChatroomMessage(_)))));

    // carol joins with count 2: the latest two, oldest first.
    let r = carol.request(join("live1", false, 2)).await;
    ok(&r);
    let Some(response::Body::ChatroomJoin(j)) = r.body else {
        panic!("no join result")
    };
    let texts: Vec<&str> = j.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["{\"content\":\"m1\"}", "{\"content\":\"m2\"}"]);
    assert_eq!(j.member_count, 3);

    // Info: members in join order, or reversed.
    let r = info(&mut carol, "live1", 2, 2).await;
    let Some(response::Body::ChatroomInfo(i)) = r.body else {
        panic!("no info")
    };
    assert_eq!(i.member_count, 3);
    let ids: Vec<&str> = i.members.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(ids, ["carol", "bob"]);

    // History: the newest two, then the one before them.
    let page = |timestamp, count, order| {
        request::Op::ChatroomHistory(ChatroomHistoryRequest {
            room_id: "live1".into(),
            timestamp,
            count,
            order,
        })
    };
    let r = carol.request(page(0, 2, 0)).await;
    let Some(response::Body::ChatroomHistory(h)) = r.body else {
        panic!("no history: {}", r.msg)
    };
    assert!(h.has_more);
    assert_eq!(h.messages.len(), 2);
    let r = carol.request(page(h.messages[0].sent_time, 20, 0)).await;
    let Some(response::Body::ChatroomHistory(h)) = r.body else {
        panic!("no history")
    };
    assert_eq!(
        (h.messages.len(), h.has_more, h.messages[0].content.as_str()),
        (1, false, "{\"content\":\"m0\"}")
    );

    // Bad input: the seed's codes, nothing changes.
    for (op, code) in [
        (join("", true, 1), 36001),
        (join("bad room", true, 1), 23412),
        (join("live2", true, 51), 33003),
        (page(0, 21, 0), 33003),
    ] {
        let r = bob.request(op).await;
        assert_eq!(r.code, code, "{}", r.msg);
    }
    let r = info(&mut bob, "live2", 0, 0).await;
    assert_eq!(r.code, 23410, "the refused join created nothing");

    // bob quits: the others hear it, his sends answer 23406, his history too.
    ok(&bob
        .request(request::Op::ChatroomQuit(ChatroomQuitRequest {
            room_id: "live1".into(),
        }))
        .await);
    let r = bob.try_send(text(room("live1"), "b1", "late")).await;
    assert_eq!(r.code, 23406);
    assert_eq!(bob.request(page(0, 5, 0)).await.code, 23406);
    let r = info(&mut alice, "live1", 0, 0).await;
    let Some(response::Body::ChatroomInfo(i)) = r.body else {
        panic!("no info")
    };
    assert_eq!(i.member_count, 2);
    expect_ack(carol.try_send(text(room("live1"), "c2", "after")).await);
    assert_eq!(
        next_room_message(&mut alice).await.content,
        "{\"content\":\"after\"}"
    );
    ok(&info(&mut bob, "live1", 0, 0).await);
    assert!(bob
        .take_pushes()
        .iter()
        .all(|p| !matches!(p.event, Some(push::Event::ChatroomMessage(_)))));
}

fn set(room: &str, entries: &[(&str, &str, bool)], force: bool) -> request::Op {
    request::Op::ChatroomSetEntries(ChatroomSetEntriesRequest {
        room_id: room.into(),
        entries: entries
            .iter()
            .map(|(k, v, auto)| ChatroomEntry {
                key: k.to_string(),
                value: v.to_string(),
                auto_delete: *auto,
                ..Default::default()
            })
            .collect(),
        force,
        ..Default::default()
    })
}

async fn entries(c: &mut Client, room: &str) -> Vec<(String, String, String)> {
    let r = c
        .request(request::Op::ChatroomGetEntries(ChatroomGetEntriesRequest {
            room_id: room.into(),
            keys: Vec::new(),
        }))
        .await;
    ok(&r);
    let Some(response::Body::ChatroomEntries(e)) = r.body else {
        panic!("no entries")
    };
    e.entries
        .into_iter()
        .map(|e| (e.key, e.value, e.owner))
        .collect()
}

/// The next entry change pushed to `c`, skipping other room events.
async fn next_entry_change(c: &mut Client) -> ChatroomEntryChange {
    loop {
        if let Some(push::Event::ChatroomEvent(e)) = c.next_push().await.event {
            if let Some(chatroom_event::Kind::Entries(change)) = e.kind {
                return change;
            }
        }
    }
}

#[tokio::test]
async fn entries_have_owners_limits_and_go_with_their_owner() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let mut carol = server.desktop("carol").await;
    ok(&alice.request(join("kv", true, 0)).await);
    ok(&bob.request(join("kv", false, 0)).await);

    // Not a member: 23406; members set and read.
    let r = carol
        .request(set("kv", &[("seat1", "c", false)], false))
        .await;
    assert_eq!(r.code, 23406, "{}", r.msg);
    ok(&alice
        .request(set(
            "kv",
            &[("seat1", "alice", true), ("title", "live", false)],
            false,
        ))
        .await);
    let change = next_entry_change(&mut bob).await;
    assert_eq!(change.updated.len(), 2);
    assert_eq!(
        entries(&mut bob, "kv").await,
        [
            ("seat1".into(), "alice".into(), "alice".into()),
            ("title".into(), "live".into(), "alice".into())
        ]
    );

    // Ownership: bob's plain set and remove of alice's key answer 23424; forced ones work.
    let r = bob
        .request(set("kv", &[("seat1", "bob", false)], false))
        .await;
    assert_eq!(r.code, 23424, "{}", r.msg);
    let remove = |keys: &[&str], force| {
        request::Op::ChatroomRemoveEntries(ChatroomRemoveEntriesRequest {
            room_id: "kv".into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            force,
            ..Default::default()
        })
    };
    assert_eq!(bob.request(remove(&["title"], false)).await.code, 23424);
    assert_eq!(bob.request(remove(&["nope"], true)).await.code, 23427);
    ok(&bob
        .request(set("kv", &[("title", "bob's", false)], true))
        .await);

    // Limits: a batch of 11 (23429), a bad key or an oversized value (23412), more than 100
    // entries (23423): each refused whole.
    let eleven: Vec<(String, String, bool)> = (0..11)
        .map(|i| (format!("k{i}"), "v".into(), false))
        .collect();
    let eleven: Vec<(&str, &str, bool)> = eleven
        .iter()
        .map(|(k, v, a)| (k.as_str(), v.as_str(), *a))
        .collect();
    assert_eq!(alice.request(set("kv", &eleven, false)).await.code, 23429);
    let big = "v".repeat(4097);
    assert_eq!(
        alice
            .request(set(
                "kv",
                &[("ok", "1", false), ("big", &big, false)],
                false
            ))
            .await
            .code,
        23412
    );
    assert_eq!(
        alice
            .request(set("kv", &[("bad key", "1", false)], false))
            .await
            .code,
        23412
    );
    for batch in 0..9 {
        let keys: Vec<String> = (0..10).map(|i| format!("b{batch}_{i}")).collect();
        let list: Vec<(&str, &str, bool)> = keys.iter().map(|k| (k.as_str(), "v", false)).collect();
        ok(&alice.request(set("kv", &list, false)).await);
    }
    assert_eq!(entries(&mut alice, "kv").await.len(), 92);
    let keys: Vec<String> = (0..9).map(|i| format!("last{i}")).collect();
    let list: Vec<(&str, &str, bool)> = keys.iter().map(|k| (k.as_str(), "v", false)).collect();
    let r = alice.request(set("kv", &list, false)).await;
    assert_eq!(r.code, 23423, "{}", r.msg);
    assert_eq!(
        entries(&mut alice, "kv").await.len(),
        92,
        "the refused batch wrote nothing"
    );

    // alice quits: her auto-delete entry goes and bob hears it; the rest stay.
    ok(&alice
        .request(request::Op::ChatroomQuit(ChatroomQuitRequest {
            room_id: "kv".into(),
        }))
        .await);
    // Earlier sets' changes may still be on their way; the quit's is the first removal.
    let removed = loop {
        let change = next_entry_change(&mut bob).await;
        if !change.removed.is_empty() {
            break change.removed;
        }
    };
    assert_eq!(removed, ["seat1"]);
    let left = entries(&mut bob, "kv").await;
    assert_eq!(left.len(), 91);
    assert!(left.iter().all(|(k, _, _)| k != "seat1"));
}

/// The next room event of `c` (skipping room messages).
async fn next_room_event(c: &mut Client) -> chatroom_event::Kind {
    loop {
        if let Some(push::Event::ChatroomEvent(e)) = c.next_push().await.event {
            if let Some(kind) = e.kind {
                return kind;
            }
        }
    }
}

#[tokio::test]
async fn the_app_server_creates_queries_blocks_and_destroys_rooms() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;

    let (status, body) = server
        .admin("/chatroom/create", json!({ "chatroomId": ["hall", "den"] }))
        .await;
    assert_eq!((status, body["code"].clone()), (200, json!(200)), "{body}");
    ok(&alice.request(join("hall", false, 0)).await);
    ok(&bob.request(join("hall", false, 0)).await);
    ok(&alice
        .request(set("hall", &[("topic", "x", false)], false))
        .await);

    let (_, body) = server
        .admin(
            "/chatroom/user/query",
            json!({ "chatroomId": "hall", "count": 10, "order": 2 }),
        )
        .await;
    assert_eq!(body["total"], json!(2), "{body}");
    let ids: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bob", "alice"]);
    let (status, body) = server
        .admin(
            "/chatroom/user/query",
            json!({ "chatroomId": "hall", "count": 501 }),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!(1002)), "{body}");

    // Block bob for 5 minutes: he hears it, leaves the room, and cannot join again.
    let (_, body) = server
        .admin(
            "/chatroom/user/block/add",
            json!({ "chatroomId": "hall", "userId": ["bob"], "minute": 5, "extra": "spam" }),
        )
        .await;
    assert_eq!(body["code"], json!(200), "{body}");
    let block = loop {
        if let chatroom_event::Kind::Block(b) = next_room_event(&mut bob).await {
            break b;
        }
    };
    assert_eq!(
        (block.user_ids, block.minutes, block.extra.as_str()),
        (vec!["bob".to_string()], 5, "spam")
    );
    let r = bob.request(join("hall", false, 0)).await;
    assert_eq!(r.code, 23409, "{}", r.msg);
    assert_eq!(
        bob.try_send(text(room("hall"), "b1", "hi")).await.code,
        23406
    );
    let r = info(&mut alice, "hall", 0, 0).await;
    let Some(response::Body::ChatroomInfo(i)) = r.body else {
        panic!("no info")
    };
    assert_eq!(i.member_count, 1);

    // Destroy: alice hears it, the room and its entries are gone.
    let (_, body) = server
        .admin("/chatroom/destroy", json!({ "chatroomId": "hall" }))
        .await;
    assert_eq!(body["code"], json!(200), "{body}");
    loop {
        if let chatroom_event::Kind::Destroyed(kind) = next_room_event(&mut alice).await {
            assert_eq!(kind, 1);
            break;
        }
    }
    assert_eq!(info(&mut alice, "hall", 0, 0).await.code, 23410);
    ok(&alice.request(join("hall", true, 0)).await);
    assert!(entries(&mut alice, "hall").await.is_empty());
}

/// The next multi-login notice of `c` (skipping other pushes).
async fn next_multi_login(c: &mut Client) -> (String, i32, i32, String) {
    loop {
        if let Some(push::Event::ChatroomEvent(e)) = c.next_push().await.event {
            if let Some(chatroom_event::Kind::MultiLogin(m)) = e.kind {
                return (e.room_id, m.status, m.reason, m.user_id);
            }
        }
    }
}

#[tokio::test]
async fn a_users_other_devices_hear_its_joins_and_one_room_per_user_by_default() {
    let server = Server::start(Opts::default());
    let mut desk = server.desktop("alice").await;
    let mut phone = server
        .client("alice", Platform::Mobile, "alice-phone")
        .await;
    let mut bob = server.desktop("bob").await;

    ok(&bob.request(join("r1", true, 0)).await);
    ok(&desk.request(join("r1", true, 0)).await);
    ok(&desk
        .request(set("r1", &[("seat", "alice", true)], false))
        .await);
    // The phone (not in the room) hears the desktop's join; bob hears nothing of it.
    assert_eq!(
        next_multi_login(&mut phone).await,
        ("r1".into(), 1, 0, "alice".into())
    );

    // Joining r2 takes alice out of r1: the desktop hears it was removed, the phone hears
    // the quit (reason 2, another room) and the join, r1's members hear the quit, and her
    // auto-delete entry in r1 goes.
    ok(&desk.request(join("r2", true, 0)).await);
    loop {
        if let chatroom_event::Kind::UserChange(c) = next_room_event(&mut desk).await {
            if c.users.get("alice") == Some(&3) {
                break;
            }
        }
    }
    assert_eq!(
        next_multi_login(&mut phone).await,
        ("r1".into(), 0, 2, "alice".into())
    );
    assert_eq!(
        next_multi_login(&mut phone).await,
        ("r2".into(), 1, 0, "alice".into())
    );
    assert_eq!(
        next_multi_login(&mut bob).await,
        ("r1".into(), 0, 2, "alice".into())
    );
    assert!(entries(&mut bob, "r1").await.is_empty());
    let r = info(&mut bob, "r1", 10, 1).await;
    let Some(response::Body::ChatroomInfo(i)) = r.body else {
        panic!("no info")
    };
    assert_eq!(i.member_count, 1, "{i:?}");
    assert_eq!(
        desk.try_send(text(room("r1"), "a1", "hi")).await.code,
        23406
    );

    // A joinExistChatRoom that fails leaves her where she is.
    assert_eq!(desk.request(join("nowhere", false, 0)).await.code, 23410);
    expect_ack(desk.try_send(text(room("r2"), "a2", "still here")).await);

    // Her own quit: the phone hears reason 1; a quit of a room she is not in says nothing.
    ok(&desk
        .request(request::Op::ChatroomQuit(ChatroomQuitRequest {
            room_id: "r2".into(),
        }))
        .await);
    assert_eq!(
        next_multi_login(&mut phone).await,
        ("r2".into(), 0, 1, "alice".into())
    );
    ok(&desk
        .request(request::Op::ChatroomQuit(ChatroomQuitRequest {
            room_id: "r2".into(),
        }))
        .await);
    ok(&info(&mut phone, "r2", 0, 0).await);
    assert!(phone.take_pushes().is_empty());
}

#[tokio::test]
async fn several_rooms_per_user_when_the_server_allows_it() {
    let server = Server::start(Opts {
        extra_args: vec!["--chatroom-multiple-rooms".into()],
        ..Opts::default()
    });
    let mut alice = server.desktop("alice").await;
    ok(&alice.request(join("r1", true, 0)).await);
    ok(&alice.request(join("r2", true, 0)).await);
    expect_ack(alice.try_send(text(room("r1"), "a1", "one")).await);
    expect_ack(alice.try_send(text(room("r2"), "a2", "two")).await);
}

fn text_of(m: &Message) -> String {
    let v: serde_json::Value = serde_json::from_str(&m.content).unwrap();
    v["content"].as_str().unwrap().to_owned()
}

/// Polls `sql` (a count) on the deployment's database until it is `want`, pinging
/// `keep` so their connections do not idle out meanwhile.
async fn wait_count(url: &str, sql: &'static str, want: i64, keep: &mut [&mut Client]) {
    use imsync_server::store::sql::{Db, PgDb};
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // The PostgreSQL client blocks: off the runtime's async threads.
        let n: i64 = tokio::task::block_in_place(|| {
            let db = PgDb::connect(url).unwrap();
            (&db as &dyn Db).one(sql, &[], |r| r.get(0)).unwrap()
        });
        if n == want {
            return;
        }
        assert!(std::time::Instant::now() < end, "{sql}: {n}, not {want}");
        for c in keep.iter_mut() {
            assert!(c.ping_ok().await, "connection lost while waiting");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Rooms live in PostgreSQL and their pushes cross nodes through NATS: members on two
/// nodes hear each other, joins and history on one node see what was sent on another,
/// one room per user holds across nodes, the app server's calls on any node reach every
/// member, and a SIGKILLed node's seats are removed by the others (its users keep their
/// place for the grace and rejoin with their join time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_span_nodes_and_outlive_a_killed_one() {
    let Some(deployment) = Deployment::start("chatrooms across nodes") else {
        return;
    };
    let opts = |node: &str| deployment.node(node, &["--heartbeat-interval", "1s"]);
    let node_a = Server::start(opts("a"));
    let mut node_b = Server::start(opts("b"));
    let db = deployment.database_url();
    let mut alice = node_a.desktop("alice").await;
    let mut bob = node_b.desktop("bob").await;

    ok(&alice.request(join("live", true, 0)).await);
    let r = bob.request(join("live", false, 0)).await;
    let Some(response::Body::ChatroomJoin(bob_joined)) = r.body else {
        panic!("bob did not join on node b: {}", r.msg)
    };
    assert_eq!(bob_joined.member_count, 2);
    for i in 0..10 {
        alice
            .send(text(room("live"), &format!("a{i}"), &format!("a{i}")))
            .await;
    }
    for i in 0..10 {
        assert_eq!(text_of(&next_room_message(&mut bob).await), format!("a{i}"));
    }
    bob.send(text(room("live"), "b0", "b0")).await;
    assert_eq!(text_of(&next_room_message(&mut alice).await), "b0");

    // A join on node b gets the latest messages, whichever node took them; history has
    // them all in order, with strictly increasing sent times.
    let mut carol = node_b.desktop("carol").await;
    let r = carol.request(join("live", false, 3)).await;
    let Some(response::Body::ChatroomJoin(j)) = r.body else {
        panic!("carol did not join: {}", r.msg)
    };
    let texts: Vec<String> = j.messages.iter().map(text_of).collect();
    assert_eq!(texts, ["a8", "a9", "b0"]);
    let r = carol
        .request(request::Op::ChatroomHistory(ChatroomHistoryRequest {
            room_id: "live".into(),
            timestamp: 0,
            count: 20,
            order: 0,
        }))
        .await;
    let Some(response::Body::ChatroomHistory(h)) = r.body else {
        panic!("no history: {}", r.msg)
    };
    let texts: Vec<String> = h.messages.iter().map(text_of).collect();
    let mut sent: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    sent.push("b0".into());
    assert_eq!(texts, sent);
    assert!(h
        .messages
        .windows(2)
        .all(|w| w[0].sent_time < w[1].sent_time));
    let r = info(&mut alice, "live", 10, 1).await;
    let Some(response::Body::ChatroomInfo(i)) = r.body else {
        panic!("no info")
    };
    let ids: Vec<&str> = i.members.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!((i.member_count, ids), (3, vec!["alice", "bob", "carol"]));

    // One room per user across nodes: alice's phone joins another room on node b, so
    // her desktop on node a is taken out of "live" and bob hears why.
    let mut phone = node_b
        .client("alice", Platform::Mobile, "alice-phone")
        .await;
    ok(&phone.request(join("other", true, 0)).await);
    loop {
        if let chatroom_event::Kind::UserChange(c) = next_room_event(&mut alice).await {
            assert_eq!(c.users.get("alice"), Some(&3), "{c:?}");
            break;
        }
    }
    assert_eq!(
        next_multi_login(&mut bob).await,
        ("live".to_string(), 0, 2, "alice".to_string())
    );
    assert_eq!(
        alice
            .try_send(text(room("live"), "a-late", "late"))
            .await
            .code,
        23406
    );

    // The app server, on node a, blocks carol (node b): she hears it.
    let (_, body) = node_a
        .admin(
            "/chatroom/user/block/add",
            json!({ "chatroomId": "live", "userId": "carol", "minute": 1 }),
        )
        .await;
    assert_eq!(body["code"], json!(200), "{body}");
    loop {
        if let chatroom_event::Kind::Block(b) = next_room_event(&mut carol).await {
            assert_eq!(b.user_ids, ["carol"]);
            break;
        }
    }

    // Node b is killed with bob seated: node a removes its seats once it has not heard
    // from it for three heartbeats, and bob's grace starts.
    drop((bob, carol, phone));
    node_b.kill();
    wait_count(
        db,
        "SELECT COUNT(*) FROM chatroom_seats WHERE node_id = 'b'",
        0,
        &mut [&mut alice],
    )
    .await;
    wait_count(
        db,
        "SELECT COUNT(*) FROM chatroom_members
         WHERE room_id = 'live' AND user_id = 'bob' AND offline_since IS NOT NULL",
        1,
        &mut [&mut alice],
    )
    .await;
    // Back within the grace, bob keeps his place and join time.
    let node_b = node_b.restart(None);
    let mut bob = node_b.desktop("bob").await;
    let r = bob.request(join("live", false, 0)).await;
    let Some(response::Body::ChatroomJoin(again)) = r.body else {
        panic!("bob did not rejoin: {}", r.msg)
    };
    assert_eq!(again.join_time, bob_joined.join_time);

    // Destroyed on node a: bob hears it on node b.
    let (_, body) = node_a
        .admin("/chatroom/destroy", json!({ "chatroomId": "live" }))
        .await;
    assert_eq!(body["code"], json!(200), "{body}");
    loop {
        if let chatroom_event::Kind::Destroyed(kind) = next_room_event(&mut bob).await {
            assert_eq!(kind, 1);
            break;
        }
    }
}
