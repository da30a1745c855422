//! `serverUrl` as a list of nodes: the engine connects to the first that answers and, when
//! its node dies, carries on with another node of the same deployment — against real
//! imsync-server processes on loopback.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use serde_json::{json, Value};
use support::*;

/// A loopback address nothing listens on (bound, then released): connecting is refused.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn client(urls: &[String]) -> Client {
    Client::with_options(
        "",
        "Electron",
        Arc::new(tempfile::tempdir().unwrap()),
        json!({ "serverUrl": urls }),
    )
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["content"]["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_skips_nodes_that_do_not_answer() {
    let server = Server::start();
    let dead = format!("http://{}", free_addr());
    let mut alice = client(&[dead.clone(), server.url()]);
    let bob = client(&[dead, server.url()]);
    assert_eq!(
        alice.connect(&server.token("alice")).await,
        json!({ "userId": "alice" })
    );
    bob.connect(&server.token("bob")).await;
    bob.engine
        .send_message(
            private("alice"),
            text("through the second node"),
            Value::Null,
        )
        .await
        .unwrap();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["content"]["content"] == "through the second node"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_fails_with_socket_error_when_no_node_answers() {
    let a = format!("http://{}", free_addr());
    let b = format!("http://{}", free_addr());
    let alice = client(&[a, b.clone()]);
    let token = Server::start().token("alice");
    let err = alice
        .engine
        .connect(json!(token), json!(false))
        .await
        .unwrap_err();
    assert_eq!(err.code, 30010, "{err}");
    // The last node tried is the one named.
    assert!(err.msg.contains(&b), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_the_answer_of_every_node() {
    let server = Server::start();
    let alice = client(&[server.url(), format!("http://{}", free_addr())]);
    let expired = server.token_expiring("alice", 1);
    let err = alice
        .engine
        .connect(json!(expired), json!(false))
        .await
        .unwrap_err();
    // The first node's refusal, not the second node's socket error.
    assert_ne!(err.code, 30010, "{err}");
    assert!(imsync_core::sync::is_fatal(err.code), "{err}");
}

/// Node A dies (SIGKILL); node B serves the same data on another address. Both users'
/// engines move to B by themselves and nothing is lost or doubled across the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_node_is_replaced_by_the_next_one() {
    let mut a = Server::start();
    let b_addr = free_addr();
    let urls = [a.url(), format!("http://{b_addr}")];
    let mut alice = client(&urls);
    let mut bob = client(&urls);
    alice.connect(&a.token("alice")).await;
    bob.connect(&a.token("bob")).await;
    bob.engine
        .send_message(private("alice"), text("before"), Value::Null)
        .await
        .unwrap();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["content"]["content"] == "before"
        })
        .await;

    a.kill();
    for c in [&mut alice, &mut bob] {
        c.wait_for("SUSPEND", |_| true).await;
    }
    let b = Server::start_on(a.dir.clone(), b_addr);
    for c in [&mut alice, &mut bob] {
        c.wait_for("CONNECTED", |_| true).await;
    }
    bob.engine
        .send_message(private("alice"), text("after"), Value::Null)
        .await
        .unwrap();
    alice
        .wait_for("MESSAGES", |p| {
            p["messages"][0]["content"]["content"] == "after"
        })
        .await;
    let got = all_messages(&alice.engine, private("bob")).await;
    assert_eq!(texts(&got), ["before", "after"]);
    drop(b);
}

#[tokio::test]
async fn bad_server_lists_are_refused_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let base = json!({ "appkey": APP_KEY, "dbpath": dir.path().to_str().unwrap() });
    let refused = |server: Value| {
        let mut o = base.clone();
        o["serverUrl"] = server;
        imsync_core::Engine::new(&o).err().map(|e| (e.code, e.msg))
    };
    let cases = [
        (json!([]), "options.serverUrl"),
        (json!(["http://a:1", 5]), "options.serverUrl[1]"),
        (json!(["http://a:1", "ws://b:2"]), "options.serverUrl[1]"),
        (json!(["http://a:1", ""]), "options.serverUrl[1]"),
        (json!(vec!["http://a:1"; 17]), "at most 16"),
        (json!(42), "options.serverUrl"),
        (json!("ftp://x"), "options.serverUrl must be"),
    ];
    for (value, named) in cases {
        let (code, message) = refused(value.clone()).unwrap_or_else(|| panic!("{value} accepted"));
        assert_eq!(code, 33003, "{value}: {message}");
        assert!(message.contains(named), "{value}: {message}");
    }
    assert!(refused(json!(["http://a:1/", "https://b"])).is_none());
    assert!(refused(json!("http://a:1")).is_none());
}
