//! The service harnesses the scale-out tests stand on (issue 14): each starts the real
//! program on a free loopback port in a temporary directory and stops it again.

use crate::common::nats::{Nats, RawClient};
use crate::common::postgres::Postgres;

#[test]
fn a_throwaway_postgres_takes_sql_in_its_own_database_and_is_gone_after_drop() {
    let Some(pg) = Postgres::start("postgres harness") else {
        return;
    };
    let url = pg.create_database("imsync_harness");
    assert!(url.ends_with("/imsync_harness"), "{url}");
    pg.psql(
        "imsync_harness",
        "CREATE TABLE t (id BIGINT PRIMARY KEY, body BYTEA NOT NULL)",
    )
    .unwrap();
    pg.psql(
        "imsync_harness",
        "INSERT INTO t VALUES (1, '\\x0102'), (2, '\\x03') ON CONFLICT (id) DO NOTHING",
    )
    .unwrap();
    assert_eq!(
        pg.psql("imsync_harness", "SELECT sum(length(body)) FROM t")
            .unwrap(),
        "3"
    );
    let err = pg
        .psql("imsync_harness", "INSERT INTO t VALUES (1, '\\x00')")
        .unwrap_err();
    assert!(err.contains("duplicate key"), "{err}");
    let port = pg.port;
    drop(pg);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after drop"
    );
}

#[test]
fn a_throwaway_nats_carries_a_message_between_two_connections() {
    let Some(nats) = Nats::start("nats harness") else {
        return;
    };
    assert!(nats.url().starts_with("nats://127.0.0.1:"));
    let mut node2 = RawClient::connect(nats.addr).unwrap();
    node2.subscribe("imsync.deliver.bob", 1).unwrap();
    let mut node1 = RawClient::connect(nats.addr).unwrap();
    node1
        .publish("imsync.deliver.bob", b"hello from node 1")
        .unwrap();
    let (subject, payload) = node2.next_message().unwrap();
    assert_eq!(subject, "imsync.deliver.bob");
    assert_eq!(payload, b"hello from node 1");
    let addr = nats.addr;
    drop(nats);
    assert!(
        RawClient::connect(addr).is_err(),
        "the server still answers after drop"
    );
}
