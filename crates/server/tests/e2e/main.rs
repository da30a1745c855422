//! End-to-end tests: the real `imsync-server` binary on loopback, driven over
//! real WebSockets and HTTP. One test binary (one link) with a module per
//! area; the shared harness lives in `common/`.

mod common;

mod admin_api;
mod auth;
mod chatroom;
mod delivery;
mod file_store;
mod kick;
mod limits;
mod log_injection;
mod malformed;
mod media;
mod moderation;
mod offline;
mod operations;
mod persistence;
mod postgres_mode;
mod presence;
mod profiles;
mod read_fanout;
mod remote_delete;
mod services;
mod slowloris;
mod store_backends;
