//! Hosted user profiles over the real protocol and admin API: a change reaches the
//! owner's other sessions (and all of them for an admin change), visibility decides what
//! others read, uniqueId search, and refused input changes nothing.

use imsync_protocol::{
    push, request, response, GetProfilesRequest, Platform, ProfileVisibilityRequest,
    SearchProfileRequest, UpdateProfileRequest, UserProfile,
};
use serde_json::json;

use crate::common::*;

fn profiles(r: imsync_protocol::Response) -> Vec<UserProfile> {
    assert_eq!(r.code, 0, "{}", r.msg);
    match r.body {
        Some(response::Body::Profiles(list)) => list.profiles,
        other => panic!("expected profiles, got {other:?}"),
    }
}

async fn get(c: &mut Client, ids: &[&str]) -> Vec<UserProfile> {
    let op = request::Op::GetProfiles(GetProfilesRequest {
        user_ids: ids.iter().map(|s| s.to_string()).collect(),
    });
    profiles(c.request(op).await)
}

async fn own_pushed(c: &mut Client) -> UserProfile {
    match c.next_push().await.event {
        Some(push::Event::OwnProfileChanged(p)) => p,
        other => panic!("expected own_profile_changed, got {other:?}"),
    }
}

#[tokio::test]
async fn profile_changes_reach_other_devices_and_respect_visibility() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut alice_web = server.client("alice", Platform::Web, "alice-web").await;
    let mut bob = server.desktop("bob").await;

    let mut update = UpdateProfileRequest {
        name: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        level: Some(3),
        ..Default::default()
    };
    update.ext.insert("team".into(), "blue".into());
    let mine = profiles(alice.request(request::Op::UpdateProfile(update)).await);
    assert_eq!(mine[0].name, "Alice");
    let pushed = own_pushed(&mut alice_web).await;
    assert_eq!((pushed.name.as_str(), pushed.level), ("Alice", 3));

    // NOT_SET -> the default (INVISIBLE): bob reads the name only.
    let seen = get(&mut bob, &["alice", "ghost"]).await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0].restricted);
    assert_eq!(
        (seen[0].name.as_str(), seen[0].email.as_str()),
        ("Alice", "")
    );

    let set = |v| request::Op::ProfileVisibility(ProfileVisibilityRequest { set: Some(v) });
    let r = alice.request(set(2)).await;
    assert_eq!(r.code, 0, "{}", r.msg);
    let seen = get(&mut bob, &["alice"]).await;
    assert_eq!(seen[0].email, "alice@example.com");
    assert_eq!(seen[0].ext.get("team").map(String::as_str), Some("blue"));

    // The app server sets the uniqueId: both of alice's sessions hear of it (the desktop's
    // first push is this one: its own change was not echoed to it).
    let (status, body) = server
        .admin(
            "/user/profile/set",
            json!({ "userId": "alice", "userProfile": "{\"uniqueId\":\"Alice01\",\"role\":9}",
                    "userExtProfile": { "ext_vip": "gold" } }),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (200, json!(200)), "{body}");
    let p = own_pushed(&mut alice).await;
    assert_eq!((p.unique_id.as_str(), p.role), ("Alice01", 9));
    assert_eq!(own_pushed(&mut alice_web).await.unique_id, "Alice01");

    let search = |u: &str| {
        request::Op::SearchProfile(SearchProfileRequest {
            unique_id: u.into(),
        })
    };
    let found = profiles(bob.request(search("Alice01")).await);
    assert_eq!((found[0].user_id.as_str(), found[0].role), ("alice", 9));
    assert!(profiles(bob.request(search("Nobody1")).await).is_empty());

    let (status, body) = server
        .admin(
            "/user/profile/batch/query",
            json!({ "userId": ["alice", "bob"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let list = body["userList"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    assert_eq!(list[0]["userProfile"]["uniqueId"], "Alice01");
    assert_eq!(list[0]["userExtProfile"]["ext_vip"], "gold");
    assert_eq!(list[0]["userExtProfile"]["team"], "blue");

    let (status, body) = server
        .admin("/user/profile/query", json!({ "size": 1, "page": 2 }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userList"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn refused_input_changes_nothing() {
    let server = Server::start(Opts::default());
    let mut alice = server.desktop("alice").await;
    let mut carol = server.desktop("carol").await;
    let _bob = server.token("bob").await;
    let (status, _) = server
        .admin(
            "/user/profile/set",
            json!({ "userId": "bob", "userProfile": { "uniqueId": "Bob01", "name": "Bob" } }),
        )
        .await;
    assert_eq!(status, 200);
    let before = get(&mut alice, &[]).await;

    let refused = [
        UpdateProfileRequest {
            name: Some("n".repeat(33)),
            ..Default::default()
        },
        UpdateProfileRequest {
            unique_id: Some("Taken1".into()),
            ..Default::default()
        },
        UpdateProfileRequest {
            role: Some(101),
            ..Default::default()
        },
        UpdateProfileRequest::default(),
    ];
    for req in refused {
        let r = alice.request(request::Op::UpdateProfile(req)).await;
        assert_eq!(r.code, 33003, "{}", r.msg);
    }
    assert_eq!(get(&mut alice, &[]).await, before);

    let many: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
    let r = carol
        .request(request::Op::GetProfiles(GetProfilesRequest {
            user_ids: many,
        }))
        .await;
    assert_eq!(r.code, 33003, "{}", r.msg);
    let r = carol
        .request(request::Op::ProfileVisibility(ProfileVisibilityRequest {
            set: Some(7),
        }))
        .await;
    assert_eq!(r.code, 33003);
    let r = carol
        .request(request::Op::SearchProfile(SearchProfileRequest {
            unique_id: "no-dash".into(),
        }))
        .await;
    assert_eq!(r.code, 33003);

    // Admin: a taken uniqueId, an unknown field and an out-of-range level are refused.
    for body in [
        json!({ "userId": "alice", "userProfile": { "uniqueId": "Bob01" } }),
        json!({ "userId": "alice", "userProfile": { "nickname": "x" } }),
        json!({ "userId": "alice", "userProfile": { "level": 1000 } }),
        json!({ "userId": "alice", "userExtProfile": { "bad key": "v" } }),
    ] {
        let (status, reply) = server.admin("/user/profile/set", body).await;
        assert_eq!(
            (status, reply["code"].clone()),
            (400, json!(1002)),
            "{reply}"
        );
    }
    assert_eq!(get(&mut alice, &[]).await, before);
    let (_, body) = server
        .admin("/user/profile/batch/query", json!({ "userId": "bob" }))
        .await;
    assert_eq!(body["userList"][0]["userProfile"]["name"], "Bob");
}

#[tokio::test]
async fn the_server_default_decides_for_not_set_owners() {
    let server = Server::start(Opts {
        extra_args: vec!["--profile-visibility".into(), "everyone".into()],
        ..Opts::default()
    });
    let mut alice = server.desktop("alice").await;
    let mut bob = server.desktop("bob").await;
    let update = UpdateProfileRequest {
        email: Some("alice@example.com".into()),
        ..Default::default()
    };
    profiles(alice.request(request::Op::UpdateProfile(update)).await);
    let seen = get(&mut bob, &["alice"]).await;
    assert_eq!(
        (seen[0].email.as_str(), seen[0].restricted),
        ("alice@example.com", false)
    );
    // The owner's own INVISIBLE still wins over the server's default.
    let r = alice
        .request(request::Op::ProfileVisibility(ProfileVisibilityRequest {
            set: Some(1),
        }))
        .await;
    assert_eq!(r.code, 0, "{}", r.msg);
    assert!(get(&mut bob, &["alice"]).await[0].restricted);
}
