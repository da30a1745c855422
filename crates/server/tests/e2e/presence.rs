//! Online status over the real protocol: a subscriber hears of every platform class of
//! the followed user going on- and offline — a silent device after three heartbeat
//! intervals — its other devices hear of its subscription changes, the queries answer
//! what it follows, profile subscribers hear of profile changes, and refused input
//! (the seed's limits) changes nothing.

use std::time::{Duration, Instant};

use imsync_protocol::{
    push, request, response, Platform, PlatformStatus, Response, SubscribeRequest,
    SubscribedStatus, SubscribedStatusRequest, SubscriptionChanged, SubscriptionListRequest,
    UnsubscribeRequest, UpdateProfileRequest,
};

use crate::common::*;

const HEARTBEAT: Duration = Duration::from_millis(500);
const KEEP: Duration = Duration::from_millis(150);

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn subscribe(t: i32, users: Vec<String>, expiry: i64) -> request::Op {
    request::Op::Subscribe(SubscribeRequest {
        r#type: t,
        user_ids: users,
        expiry,
    })
}

fn statuses(r: Response) -> (Vec<SubscribedStatus>, bool) {
    assert_eq!(r.code, 0, "{}", r.msg);
    match r.body {
        Some(response::Body::SubscribedStatus(l)) => (l.statuses, l.has_more),
        other => panic!("expected statuses, got {other:?}"),
    }
}

/// Which classes are online: (desktop, web, mobile).
fn online(s: &SubscribedStatus) -> (bool, bool, bool) {
    let on = |p: Platform| {
        s.platforms
            .iter()
            .find(|x| x.platform == p as i32)
            .is_some_and(|x: &PlatformStatus| x.online)
    };
    (
        on(Platform::Desktop),
        on(Platform::Web),
        on(Platform::Mobile),
    )
}

fn status_push(p: imsync_protocol::Push) -> SubscribedStatus {
    match p.event {
        Some(push::Event::SubscribedStatus(mut l)) => {
            assert_eq!(l.statuses.len(), 1);
            l.statuses.remove(0)
        }
        other => panic!("expected subscribed_status, got {other:?}"),
    }
}

fn relation_push(p: imsync_protocol::Push) -> SubscriptionChanged {
    match p.event {
        Some(push::Event::SubscriptionChanged(c)) => c,
        other => panic!("expected subscription_changed, got {other:?}"),
    }
}

#[tokio::test]
async fn status_follows_sessions_per_platform_and_a_silent_device_turns_offline() {
    let server = Server::start(Opts {
        extra_args: ids(&["--heartbeat-interval", "500ms"]),
        ..Opts::default()
    });
    let mut bob = server.desktop("bob").await;
    let mut bob_web = server.client("bob", Platform::Web, "bob-web").await;
    assert_eq!(
        bob.ack.heartbeat_interval_ms, 500,
        "the ack tells the interval"
    );

    // Nothing known yet: every class offline, time unknown.
    let (now, _) = statuses(bob.request(subscribe(1, ids(&["alice"]), 600)).await);
    assert_eq!(now.len(), 1);
    assert_eq!((now[0].user_id.as_str(), now[0].expiry), ("alice", 600));
    assert_eq!(online(&now[0]), (false, false, false));
    assert!(now[0].platforms.iter().all(|p| p.updated_time == 0));
    let rel = relation_push(bob_web.push_keeping_alive(&mut [&mut bob], KEEP).await);
    assert_eq!(
        (rel.r#type, rel.operation, rel.user_ids.clone(), rel.expiry),
        (1, 0, ids(&["alice"]), 600)
    );

    let mut alice = server.desktop("alice").await;
    let s = status_push(
        bob.push_keeping_alive(&mut [&mut bob_web, &mut alice], KEEP)
            .await,
    );
    assert_eq!((s.user_id.as_str(), s.r#type), ("alice", 1));
    assert_eq!(online(&s), (true, false, false));
    let alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let went_silent = Instant::now();
    let s = status_push(
        bob.push_keeping_alive(&mut [&mut bob_web, &mut alice], KEEP)
            .await,
    );
    assert_eq!(online(&s), (true, true, false));
    // bob's other device follows alice too (same subscription, every session).
    let s = status_push(
        bob_web
            .push_keeping_alive(&mut [&mut bob, &mut alice], KEEP)
            .await,
    );
    assert_eq!(s.user_id, "alice");

    // alice's web device never says anything again (no goodbye, socket open): offline
    // after three heartbeat intervals, while her desktop stays online.
    let s = status_push(
        bob.push_keeping_alive(&mut [&mut bob_web, &mut alice], KEEP)
            .await,
    );
    assert!(
        went_silent.elapsed() >= HEARTBEAT * 3 - Duration::from_millis(100),
        "offline only after the heartbeat timeout ({:?})",
        went_silent.elapsed()
    );
    assert_eq!(online(&s), (true, false, false));
    let web = &s.platforms[1];
    assert!(web.updated_time > s.platforms[0].updated_time, "{s:?}");
    drop(alice_web);

    // Queries answer only the users bob follows.
    let q = request::Op::SubscribedStatus(SubscribedStatusRequest {
        r#type: 1,
        user_ids: ids(&["carol", "alice"]),
    });
    let (got, _) = statuses(bob.request(q).await);
    assert_eq!(got.len(), 1);
    assert_eq!(online(&got[0]), (true, false, false));
    assert!(got[0].subscribe_time > 0);
    let page = |offset, limit| {
        request::Op::SubscriptionList(SubscriptionListRequest {
            r#type: 1,
            offset,
            limit,
        })
    };
    let (list, more) = statuses(bob.request(page(0, 10)).await);
    assert_eq!((list.len(), more), (1, false));

    // Unsubscribed: the other device hears of it; alice's goodbye reaches carol (who
    // follows her) but not bob.
    let mut carol = server.desktop("carol").await;
    statuses(carol.request(subscribe(1, ids(&["alice"]), 60)).await);
    let r = bob
        .request(request::Op::Unsubscribe(UnsubscribeRequest {
            r#type: 1,
            user_ids: ids(&["alice", "nobody"]),
        }))
        .await;
    assert_eq!(r.code, 0, "{}", r.msg);
    // (bob_web's status pushes since are skipped.)
    let rel = loop {
        let p = bob_web.push_keeping_alive(&mut [&mut bob], KEEP).await;
        if !matches!(p.event, Some(push::Event::SubscribedStatus(_))) {
            break relation_push(p);
        }
    };
    assert_eq!((rel.operation, rel.user_ids), (1, ids(&["alice"])));
    alice.close().await;
    let s = status_push(carol.push_keeping_alive(&mut [&mut bob], KEEP).await);
    assert_eq!(online(&s), (false, false, false));
    assert!(bob.ping_ok().await);
    assert!(
        bob.take_pushes().is_empty(),
        "no status for an unsubscribed user"
    );
    let (list, _) = statuses(bob.request(page(0, 10)).await);
    assert!(list.is_empty());
}

#[tokio::test]
async fn limits_answer_the_seeds_codes_and_change_nothing() {
    let server = Server::start(Opts::default());
    let mut bob = server.desktop("bob").await;
    let many: Vec<String> = (0..1000).map(|i| format!("user{i}")).collect();
    let refused = |r: Response, code: i32, arg: &str| {
        assert_eq!(r.code, code, "{}", r.msg);
        assert!(r.msg.starts_with(arg), "{arg}: {}", r.msg);
    };
    refused(
        bob.request(subscribe(1, many[..201].to_vec(), 600)).await,
        33003,
        "userIds",
    );
    refused(
        bob.request(subscribe(1, vec![], 600)).await,
        33003,
        "userIds",
    );
    refused(
        bob.request(subscribe(1, ids(&["bob"]), 600)).await,
        33003,
        "userIds[0]",
    );
    refused(
        bob.request(subscribe(1, ids(&["a"]), 59)).await,
        33003,
        "expiry",
    );
    refused(
        bob.request(subscribe(1, ids(&["a"]), 2_592_001)).await,
        33003,
        "expiry",
    );
    refused(
        bob.request(subscribe(3, ids(&["a"]), 600)).await,
        33003,
        "type",
    );
    let list = request::Op::SubscriptionList(SubscriptionListRequest {
        r#type: 1,
        offset: 0,
        limit: 1000,
    });
    assert!(statuses(bob.request(list.clone()).await).0.is_empty());

    for chunk in many.chunks(200) {
        statuses(bob.request(subscribe(1, chunk.to_vec(), 2_592_000)).await);
    }
    // Renewing is not growing; one more is refused whole.
    statuses(bob.request(subscribe(1, many[..200].to_vec(), 60)).await);
    let r = bob
        .request(subscribe(1, vec!["user0".into(), "newcomer".into()], 600))
        .await;
    assert_eq!(r.code, 26022, "{}", r.msg);
    let (all, more) = statuses(bob.request(list).await);
    assert_eq!((all.len(), more), (1000, false));
    assert!(all.iter().all(|s| s.user_id != "newcomer"));
    let user0 = all.iter().find(|s| s.user_id == "user0").unwrap();
    assert_eq!(user0.expiry, 60, "the refused call did not renew user0");
    // Another type counts on its own.
    statuses(bob.request(subscribe(2, ids(&["newcomer"]), 600)).await);
}

#[tokio::test]
async fn profile_subscribers_hear_of_profile_changes() {
    let server = Server::start(Opts::default());
    let mut bob = server.desktop("bob").await;
    let mut alice = server.desktop("alice").await;
    let (now, _) = statuses(bob.request(subscribe(2, ids(&["alice"]), 600)).await);
    assert_eq!(
        now[0].profile.as_ref().map(|p| p.user_id.as_str()),
        Some("alice")
    );
    let r = alice
        .request(request::Op::UpdateProfile(UpdateProfileRequest {
            name: Some("Alice".into()),
            email: Some("a@example.com".into()),
            ..Default::default()
        }))
        .await;
    assert_eq!(r.code, 0, "{}", r.msg);
    let s = status_push(bob.next_push().await);
    assert_eq!(s.r#type, 2);
    let p = s.profile.expect("the profile");
    // As other users see it (the default visibility: name and portrait only).
    assert_eq!(
        (p.name.as_str(), p.email.as_str(), p.restricted),
        ("Alice", "", true)
    );
    assert!(s.platforms.is_empty());
}

/// With several nodes (PostgreSQL + NATS): a subscriber hears of the followed user's
/// devices on any node, a node started later learns who is online elsewhere, a profile
/// changed on one node reaches subscribers on another, a user's devices on other nodes
/// hear of its subscription changes, and the users of a SIGKILLed node go offline after
/// three heartbeat intervals while their devices on live nodes stay online.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_profiles_and_subscriptions_cross_nodes() {
    let Some(deployment) = Deployment::start("presence nodes") else {
        return;
    };
    let opts = |node: &str| deployment.node(node, &["--heartbeat-interval", "500ms"]);
    let node_a = Server::start(opts("a"));
    let mut node_b = Server::start(opts("b"));
    let mut alice = node_a.desktop("alice").await;
    let mut alice_web = node_b.client("alice", Platform::Web, "alice-web").await;

    let (now, _) = statuses(alice.request(subscribe(1, ids(&["bob"]), 600)).await);
    assert_eq!(online(&now[0]), (false, false, false));
    statuses(alice.request(subscribe(2, ids(&["bob"]), 600)).await);
    // Her device on the other node hears of both subscriptions.
    for t in [1, 2] {
        let rel = relation_push(alice_web.push_keeping_alive(&mut [&mut alice], KEEP).await);
        assert_eq!((rel.r#type, rel.user_ids), (t, ids(&["bob"])));
    }

    // bob's desktop on node b: alice hears of it on both nodes.
    let mut bob = node_b.desktop("bob").await;
    let s = status_push(
        alice
            .push_keeping_alive(&mut [&mut alice_web, &mut bob], KEEP)
            .await,
    );
    assert_eq!(
        (s.user_id.as_str(), online(&s)),
        ("bob", (true, false, false))
    );
    let s = status_push(
        alice_web
            .push_keeping_alive(&mut [&mut alice, &mut bob], KEEP)
            .await,
    );
    assert_eq!(
        (s.user_id.as_str(), online(&s)),
        ("bob", (true, false, false))
    );
    // Node a now knows bob's desktop on node b: another desktop asking not to kick it is
    // refused there, as on one node.
    let token = node_a.token("bob").await;
    let req = connect_request(&token, "bob-desktop-2", Platform::Desktop, true);
    let refused = Client::connect(&node_a, req).await.err().expect("refused");
    assert_eq!(
        refused.code,
        imsync_protocol::codes::RC_DISCONN_SAME_CLIENT_ON_LINE
    );
    // bob's web device on node a: both classes, one push each.
    let mut bob_web = node_a.client("bob", Platform::Web, "bob-web").await;
    let s = status_push(
        alice
            .push_keeping_alive(&mut [&mut alice_web, &mut bob, &mut bob_web], KEEP)
            .await,
    );
    assert_eq!(online(&s), (true, true, false));

    // A node started now learns who is online on the others.
    let node_c = Server::start(opts("c"));
    let mut carol = node_c.desktop("carol").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, _) = statuses(carol.request(subscribe(1, ids(&["bob"]), 600)).await);
        if online(&got[0]) == (true, true, false) {
            break;
        }
        assert!(Instant::now() < deadline, "node c never learnt: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // bob changes his profile on node b: alice, on node a, is told.
    let r = bob
        .request(request::Op::UpdateProfile(UpdateProfileRequest {
            name: Some("Bob".into()),
            ..Default::default()
        }))
        .await;
    assert_eq!(r.code, 0, "{}", r.msg);
    // (alice_web also got the web status push above; alice's next push is the profile.)
    let s = status_push(
        alice
            .push_keeping_alive(&mut [&mut bob_web, &mut carol], KEEP)
            .await,
    );
    assert_eq!(s.r#type, 2);
    assert_eq!(s.profile.unwrap().name, "Bob");

    // Node b is killed: its sessions never say goodbye. Three heartbeat intervals later
    // bob's desktop is offline everywhere; his web device on node a stays online.
    node_b.kill();
    let killed = Instant::now();
    let s = status_push(
        alice
            .push_keeping_alive(&mut [&mut bob_web, &mut carol], KEEP)
            .await,
    );
    assert_eq!(online(&s), (false, true, false));
    assert!(killed.elapsed() >= HEARTBEAT * 2, "{:?}", killed.elapsed());
    let s = status_push(
        carol
            .push_keeping_alive(&mut [&mut bob_web, &mut alice], KEEP)
            .await,
    );
    assert_eq!(online(&s), (false, true, false));
    // The device whose node died comes back on node a, asking not to kick: nothing holds
    // its class any more (before the death is noticed, its own old session is no
    // obstacle either: presence's unit tests).
    let req = connect_request(&token, "bob-desktop", Platform::Desktop, true);
    assert!(Client::connect(&node_a, req).await.is_ok());
}
