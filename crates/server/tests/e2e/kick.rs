//! One session per user per platform class; reconnectKickEnable decides who
//! yields (31010 kicked / 31023 refused).

use imsync_protocol::{codes, push, Platform};

use crate::common::*;

#[tokio::test]
async fn a_new_desktop_kicks_the_old_one_when_kick_enable_is_false() {
    let server = Server::start(Opts::default());
    let mut first = server.client("alice", Platform::Desktop, "pc-1").await;
    let token = server.token("alice").await;
    let mut second = Client::connect(
        &server,
        connect_request(&token, "pc-2", Platform::Desktop, false),
    )
    .await
    .expect("second desktop connects");
    let (closed, pushes) = first.wait_closed().await;
    assert!(
        pushes.iter().any(|p| matches!(
            &p.event,
            Some(push::Event::Kick(k)) if k.code == codes::RC_DISCONN_KICK
        )),
        "kicked session gets a 31010 kick push, got {pushes:?}"
    );
    assert_eq!(closed.code, Some(1008));
    // The new session works and receives.
    let mut bob = server.desktop("bob").await;
    bob.send(text(private("alice"), "k1", "to the new desktop"))
        .await;
    assert_eq!(entry_text(&second.next_entry().await), "to the new desktop");
}

#[tokio::test]
async fn kick_enable_true_is_refused_with_31023_and_leaves_the_online_device_alone() {
    let server = Server::start(Opts::default());
    let mut online = server.client("alice", Platform::Desktop, "pc-1").await;
    let token = server.token("alice").await;
    let refused = Client::connect(
        &server,
        connect_request(&token, "pc-2", Platform::Desktop, true),
    )
    .await;
    assert_eq!(
        refused.err().map(|r| r.code),
        Some(codes::RC_DISCONN_SAME_CLIENT_ON_LINE)
    );
    // The online device is untouched: it still receives.
    let mut bob = server.desktop("bob").await;
    bob.send(text(private("alice"), "k2", "still here")).await;
    assert_eq!(entry_text(&online.next_entry().await), "still here");
    // The same device reconnecting replaces its own stale session even with
    // kick enable set.
    let again = Client::connect(
        &server,
        connect_request(&token, "pc-1", Platform::Desktop, true),
    )
    .await;
    assert!(again.is_ok(), "same device reconnect is allowed");
    let (_, pushes) = online.wait_closed().await;
    assert!(pushes
        .iter()
        .any(|p| matches!(&p.event, Some(push::Event::Kick(_)))));
}

#[tokio::test]
async fn different_platform_classes_coexist() {
    let server = Server::start(Opts::default());
    let token = server.token("alice").await;
    let mut desktop = server.client("alice", Platform::Desktop, "pc").await;
    let mut web = Client::connect(
        &server,
        connect_request(&token, "browser", Platform::Web, true),
    )
    .await
    .expect("web alongside desktop");
    let mut phone = Client::connect(
        &server,
        connect_request(&token, "phone", Platform::Mobile, true),
    )
    .await
    .expect("mobile alongside desktop");
    let mut bob = server.desktop("bob").await;
    bob.send(text(private("alice"), "k3", "everyone")).await;
    for c in [&mut desktop, &mut web, &mut phone] {
        assert_eq!(entry_text(&c.next_entry().await), "everyone");
    }
    let (status, body) = server.health().await;
    assert_eq!(status, 200);
    assert_eq!(body["sessions"], 4);
}
