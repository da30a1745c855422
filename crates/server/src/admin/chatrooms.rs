//! Chatrooms for the app server, under the routes of RongCloud's server API (as its own
//! SDKs call them, e.g. the `rong_cloud` Ruby gem's services/chatroom.rb: `/chatroom/create`,
//! `/chatroom/destroy`, `/chatroom/user/query`, `/chatroom/user/block/add`; imsync drops the
//! `.json` as its other admin routes do, and takes JSON bodies):
//!
//! * `POST /chatroom/create {chatroomId: id | [ids]}` (or the vendor's `chatroom: {id: name}`):
//!   creates the rooms that do not exist.
//! * `POST /chatroom/destroy {chatroomId: id | [ids]}`: members get `chatroomDestroyed`;
//!   the rooms' entries go.
//! * `POST /chatroom/user/query {chatroomId, count (1..=500), order (1 earliest joined
//!   first, 2 latest first)}` → `{total, users: [{id, time}]}` (`time` in Unix ms).
//! * `POST /chatroom/user/block/add {chatroomId, userId: id | [ids], minute (1..=43200),
//!   extra?}`: the users are removed from the room (the room hears `chatroomNotifyBlock`
//!   and the user change) and their joins answer 23409 until the block ends.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use imsync_protocol::chatroom_rules as rules;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{from_api, ok, signed_body, Caller, OneOrMany, Reply};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// Most members one user query lists (the vendor's limit).
const MAX_QUERY_COUNT: u32 = 500;
/// Longest block, in minutes (the vendor's 30 days).
const MAX_BLOCK_MINUTES: u32 = 43_200;

fn room_ids(ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    for id in &ids {
        rules::room_id("chatroomId", id).map_err(|(_, msg)| ApiError::invalid(msg))?;
    }
    Ok(ids)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rooms {
    chatroom_id: Option<OneOrMany>,
    /// The vendor's form: room id -> name (names are not kept).
    chatroom: Option<BTreeMap<String, Value>>,
}

impl Rooms {
    fn ids(self) -> Result<Vec<String>, ApiError> {
        let mut ids = match self.chatroom_id {
            Some(ids) => ids.ids("chatroomId")?,
            None => Vec::new(),
        };
        ids.extend(self.chatroom.unwrap_or_default().into_keys());
        if ids.is_empty() {
            return Err(ApiError::invalid("chatroomId is required"));
        }
        room_ids(ids)
    }
}

pub(super) async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: Rooms = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match req.ids() {
        Ok(ids) => match state.chatrooms.create(ids, now_ms()).await {
            Ok(()) => ok(json!({})),
            Err(e) => from_api(e),
        },
        Err(e) => from_api(e),
    }
}

pub(super) async fn destroy(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: Rooms = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let ids = match req.ids() {
        Ok(ids) => ids,
        Err(e) => return from_api(e),
    };
    match state.chatrooms.destroy(ids, now_ms()).await {
        Ok(()) => ok(json!({})),
        Err(e) => from_api(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserQuery {
    chatroom_id: String,
    count: u32,
    order: Option<u32>,
}

pub(super) async fn user_query(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Reply {
    let req: UserQuery = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let order = req.order.unwrap_or(1);
    let valid = room_ids(vec![req.chatroom_id.clone()]).and_then(|_| {
        if !(1..=MAX_QUERY_COUNT).contains(&req.count) || !(1..=2).contains(&order) {
            return Err(ApiError::invalid(format!(
                "count must be 1..={MAX_QUERY_COUNT} and order 1 or 2"
            )));
        }
        Ok(())
    });
    let checked = match valid {
        Ok(()) => {
            state
                .chatrooms
                .info(&req.chatroom_id, req.count, order)
                .await
        }
        Err(e) => Err(e),
    };
    match checked {
        Ok(info) => ok(json!({
            "total": info.member_count,
            "users": info.members.iter().map(|m| json!({ "id": m.user_id, "time": m.join_time })).collect::<Vec<_>>(),
        })),
        Err(e) => from_api(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BlockAdd {
    chatroom_id: String,
    user_id: OneOrMany,
    minute: u32,
    extra: Option<String>,
    /// The vendor's switch for the notice; imsync always sends it.
    need_notify: Option<Value>,
}

pub(super) async fn block_add(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: BlockAdd = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let _ = req.need_notify;
    let users = match room_ids(vec![req.chatroom_id.clone()]).and_then(|_| {
        if !(1..=MAX_BLOCK_MINUTES).contains(&req.minute) {
            return Err(ApiError::invalid(format!(
                "minute must be 1..={MAX_BLOCK_MINUTES}"
            )));
        }
        req.user_id.ids("userId")
    }) {
        Ok(u) => u,
        Err(e) => return from_api(e),
    };
    let extra = req.extra.unwrap_or_default();
    let blocked = state
        .chatrooms
        .block(&req.chatroom_id, users, req.minute, extra, now_ms())
        .await;
    match blocked {
        Ok(()) => ok(json!({})),
        Err(e) => from_api(e),
    }
}
