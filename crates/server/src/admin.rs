//! The admin HTTP API (ARCHITECTURE.md §4): JSON bodies, every call but
//! `/health` signed with `App-Key`, `Nonce`, `Timestamp` and `Signature`
//! headers. Replies are `{"code": 200, ...}` on success, otherwise
//! `{"code": N, "errorMessage": "..."}` with 401 (signature: code 1004),
//! 400 (bad parameters: 1002, or a messaging code such as 30016 or 22406)
//! or 500 (1000). Refused calls are logged, rate-limited and escaped.

use std::convert::Infallible;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use imsync_protocol::{codes, PushConfig};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::now_ms;
use crate::conn_limits::Ticket;
use crate::error::ApiError;
use crate::moderation::{self, filter::Action};
use crate::refusal_log::Reason;
use crate::signature::{self, SignedHeaders};
use crate::state::AppState;
use crate::store::messages::{self, Publish};
use crate::store::{groups, retention, Outcome};
use crate::token;
use crate::validate;

mod chatrooms;
mod profiles;

/// Most recipients (users or groups) in one publish or group call.
const MAX_TARGETS: usize = 1000;

type Reply = (StatusCode, Json<Value>);

/// Admin routes, to be merged into the app router (`state` is the one the
/// app router gets; the refusal logging needs it).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/user/getToken", post(get_token))
        .route("/group/create", post(group_create))
        .route("/group/join", post(group_join))
        .route("/group/quit", post(group_quit))
        .route("/group/dismiss", post(group_dismiss))
        .route("/message/private/publish", post(publish_private))
        .route("/message/group/publish", post(publish_group))
        .route("/message/system/publish", post(publish_system))
        .route("/sensitiveword/add", post(sensitive_word_add))
        .route("/sensitiveword/delete", post(sensitive_word_delete))
        .route(
            "/sensitiveword/batch/delete",
            post(sensitive_word_batch_delete),
        )
        .route("/sensitiveword/list", post(sensitive_word_list))
        .route("/user/profile/set", post(profiles::set))
        .route("/user/profile/batch/query", post(profiles::batch_query))
        .route("/user/profile/query", post(profiles::query))
        .route("/chatroom/create", post(chatrooms::create))
        .route("/chatroom/destroy", post(chatrooms::destroy))
        .route("/chatroom/user/query", post(chatrooms::user_query))
        .route("/chatroom/user/block/add", post(chatrooms::block_add))
        .route_layer(middleware::from_fn_with_state(state, log_refusals))
}

/// Largest error reply read back for the log.
const MAX_LOGGED_REPLY: usize = 64 * 1024;

/// Logs refused calls through the rate-limited refusal log: repeated bad
/// signatures or parameters are worth knowing about, but a client must not
/// be able to flood the log, or forge lines with the text of its request
/// (the detail is escaped there).
async fn log_refusals(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let peer = req.extensions().get::<Ticket>().map(Ticket::peer);
    let resp = next.run(req).await;
    if resp.status().is_success() {
        return resp;
    }
    let status = resp.status().as_u16();
    let (resp, reply) = reply_for_log(resp).await;
    let detail = match reply {
        Some(reply) => format!(
            "{path} {status} {}: {}",
            reply["code"],
            reply["errorMessage"].as_str().unwrap_or("")
        ),
        None => {
            format!("{path} {status} (reply not logged: not JSON or over {MAX_LOGGED_REPLY} bytes)")
        }
    };
    state
        .refusals
        .note(Reason::AdminRefused, peer, Some(&detail));
    resp
}

/// The reply as JSON for the log, and the response to send, its body
/// unchanged. Only a body known to be at most [`MAX_LOGGED_REPLY`] bytes is
/// read; a larger (or unsized) one goes to the client untouched and is not
/// logged.
async fn reply_for_log(resp: Response) -> (Response, Option<Value>) {
    let small = resp
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= MAX_LOGGED_REPLY as u64);
    if !small {
        return (resp, None);
    }
    let (parts, body) = resp.into_parts();
    match axum::body::to_bytes(body, MAX_LOGGED_REPLY).await {
        Ok(bytes) => {
            let reply = serde_json::from_slice(&bytes).ok();
            (Response::from_parts(parts, Body::from(bytes)), reply)
        }
        // The body failed while being read: it would have failed the
        // client's read as well.
        Err(e) => {
            tracing::debug!(error = %crate::log_escape::Escaped(&e), "error reply unreadable");
            (Response::from_parts(parts, Body::empty()), None)
        }
    }
}

fn fail(status: StatusCode, code: i32, msg: impl Into<String>) -> Reply {
    (
        status,
        Json(json!({ "code": code, "errorMessage": msg.into() })),
    )
}

fn from_api(e: ApiError) -> Reply {
    match e.code {
        codes::BIZ_ERROR_INVALID_PARAMETER => fail(StatusCode::BAD_REQUEST, 1002, e.msg),
        codes::UNKNOWN => fail(StatusCode::INTERNAL_SERVER_ERROR, 1000, e.msg),
        code => fail(StatusCode::BAD_REQUEST, code, e.msg),
    }
}

fn ok(mut body: Value) -> Reply {
    body["code"] = json!(200);
    (StatusCode::OK, Json(body))
}

/// Checks the signature headers and burns the nonce (durably, so a replay
/// is refused even after a restart).
async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Reply> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedHeaders {
        app_key: text("App-Key"),
        nonce: text("Nonce"),
        timestamp: text("Timestamp"),
        signature: text("Signature"),
    };
    let now = now_ms();
    let (nonce, ts) = signature::check(
        &state.settings.app_key,
        &state.settings.app_secret,
        signed,
        now,
    )
    .map_err(|e| fail(StatusCode::UNAUTHORIZED, 1004, e.to_string()))?;
    let fresh = state
        .store
        .write(move |c| Ok(Outcome::quiet(retention::record_nonce(c, &nonce, ts, now)?)))
        .await
        .map_err(from_api)?;
    if !fresh {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            1004,
            signature::SignatureError::ReusedNonce.to_string(),
        ));
    }
    Ok(())
}

/// A signed call's headers and its connection's place in the
/// unauthenticated pool ([`Ticket`], absent when not served by the listener).
struct Caller {
    headers: HeaderMap,
    ticket: Option<Ticket>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Infallible> {
        Ok(Caller {
            headers: parts.headers.clone(),
            ticket: parts.extensions.get::<Ticket>().cloned(),
        })
    }
}

/// Signature check, then the JSON body as `T`. A verified signature (fresh
/// nonce included) authenticates the connection: it leaves the
/// unauthenticated pool, so an app backend may keep any number of pooled
/// keep-alive connections to the admin API from one address.
async fn signed_body<T: DeserializeOwned>(
    state: &AppState,
    caller: &Caller,
    body: &Bytes,
) -> Result<T, Reply> {
    authorize(state, &caller.headers).await?;
    if let Some(ticket) = &caller.ticket {
        ticket.authenticated();
    }
    serde_json::from_slice(body)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, 1002, format!("bad JSON body: {e}")))
}

/// One id or a list of ids (the vendor API repeats the field; JSON callers
/// send an array).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn ids(self, field: &str) -> Result<Vec<String>, ApiError> {
        let ids = match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        if ids.is_empty() || ids.len() > MAX_TARGETS {
            return Err(ApiError::invalid(format!(
                "{field} must hold 1..={MAX_TARGETS} ids"
            )));
        }
        ids.iter().try_for_each(|i| validate::id(field, i))?;
        Ok(ids)
    }
}

/// A boolean flag given as `true`/`false` or the vendor's `1`/`0`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

impl Flag {
    fn get(flag: Option<Flag>, default: bool) -> bool {
        match flag {
            None => default,
            Some(Flag::Bool(b)) => b,
            Some(Flag::Int(i)) => i != 0,
        }
    }
}

/// Content given as a JSON string (the vendor's form) or a JSON object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Json(Value),
}

impl Content {
    fn into_string(self) -> Result<String, ApiError> {
        let s = match self {
            Content::Text(s) => s,
            Content::Json(v) => v.to_string(),
        };
        validate::content(&s)?;
        Ok(s)
    }
}

async fn health(State(state): State<AppState>) -> Reply {
    ok(json!({ "status": "ok", "sessions": state.registry.session_count() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetToken {
    user_id: String,
    name: Option<String>,
    portrait_uri: Option<String>,
    /// Unix ms after which the token is refused (31020); absent or 0 = never.
    expires_at: Option<i64>,
}

async fn get_token(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: GetToken = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if let Err(e) = validate::id("userId", &req.user_id) {
        return from_api(e);
    }
    let user = req.user_id.clone();
    let now = now_ms();
    let stored = state
        .store
        .write(move |c| {
            groups::upsert_user(
                c,
                &user,
                req.name.as_deref(),
                req.portrait_uri.as_deref(),
                now,
            )?;
            Ok(Outcome::quiet(()))
        })
        .await;
    if let Err(e) = stored {
        return from_api(e);
    }
    let token = token::issue(
        &state.settings.app_secret,
        &req.user_id,
        req.expires_at.unwrap_or(0),
    );
    ok(json!({ "userId": req.user_id, "token": token }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupMembers {
    group_id: String,
    group_name: Option<String>,
    #[serde(alias = "userIds")]
    user_id: OneOrMany,
}

#[derive(Clone, Copy)]
enum Membership {
    Create,
    Join,
    Quit,
}

async fn group_members(state: AppState, caller: Caller, body: Bytes, op: Membership) -> Reply {
    let req: GroupMembers = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let checked = validate::id("groupId", &req.group_id).and_then(|_| req.user_id.ids("userId"));
    let members = match checked {
        Ok(m) => m,
        Err(e) => return from_api(e),
    };
    let group = req.group_id;
    let name = req.group_name;
    let now = now_ms();
    let read_fanout_members = state.settings.read_fanout_members;
    let result = state
        .store
        .write(move |c| {
            let deliveries = match op {
                Membership::Create | Membership::Join => {
                    let (n, f) = (name.as_deref(), read_fanout_members);
                    groups::create_or_join(c, &group, n, &members, f, now)?;
                    Vec::new()
                }
                Membership::Quit => groups::quit(c, &group, &members, now)?,
            };
            Ok(Outcome {
                value: (),
                deliveries,
            })
        })
        .await;
    match result {
        Ok(()) => ok(json!({})),
        Err(e) => from_api(e),
    }
}

async fn group_create(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    group_members(state, caller, body, Membership::Create).await
}

async fn group_join(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    group_members(state, caller, body, Membership::Join).await
}

async fn group_quit(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    group_members(state, caller, body, Membership::Quit).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupId {
    group_id: String,
}

async fn group_dismiss(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: GroupId = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if let Err(e) = validate::id("groupId", &req.group_id) {
        return from_api(e);
    }
    let result = state
        .store
        .write(move |c| groups::dismiss(c, &req.group_id, now_ms()))
        .await;
    match result {
        Ok(_) => ok(json!({})),
        Err(e) => from_api(e),
    }
}

/// Fields every publish shares.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishCommon {
    from_user_id: String,
    object_name: String,
    content: Content,
    push_content: Option<String>,
    push_data: Option<String>,
    is_persisted: Option<Flag>,
    is_counted: Option<Flag>,
    disable_notification: Option<Flag>,
    is_include_sender: Option<Flag>,
}

impl PublishCommon {
    fn into_publish(self) -> Result<Publish, ApiError> {
        validate::id("fromUserId", &self.from_user_id)?;
        validate::object_name(&self.object_name)?;
        let push_config =
            (self.push_content.is_some() || self.push_data.is_some()).then(|| PushConfig {
                push_content: self.push_content.clone().unwrap_or_default(),
                push_data: self.push_data.clone().unwrap_or_default(),
                ..PushConfig::default()
            });
        Ok(Publish {
            from: self.from_user_id,
            object_name: self.object_name,
            content: self.content.into_string()?,
            is_persisted: Flag::get(self.is_persisted, true),
            is_counted: Flag::get(self.is_counted, true),
            disable_notification: Flag::get(self.disable_notification, false),
            push_config,
            include_sender: Flag::get(self.is_include_sender, false),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrivatePublish {
    #[serde(flatten)]
    common: PublishCommon,
    #[serde(alias = "toUserIds")]
    to_user_id: OneOrMany,
    verify_blacklist: Option<Flag>,
}

async fn publish_private(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: PrivatePublish = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let verify = Flag::get(req.verify_blacklist, false);
    let parsed = req
        .common
        .into_publish()
        .and_then(|p| Ok((p, req.to_user_id.ids("toUserId")?)));
    let (publish, to) = match parsed {
        Ok(x) => x,
        Err(e) => return from_api(e),
    };
    let now = now_ms();
    publish_reply(
        state
            .store
            .write_retrying(move |c| messages::publish_private(c, &publish, &to, verify, now))
            .await,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupPublish {
    #[serde(flatten)]
    common: PublishCommon,
    #[serde(alias = "toGroupIds")]
    to_group_id: OneOrMany,
    directed_user_ids: Option<Vec<String>>,
}

async fn publish_group(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: GroupPublish = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let directed = req.directed_user_ids.unwrap_or_default();
    let parsed = req.common.into_publish().and_then(|p| {
        let groups = req.to_group_id.ids("toGroupId")?;
        if directed.len() > MAX_TARGETS {
            return Err(ApiError::invalid("directedUserIds holds at most 1000 ids"));
        }
        directed
            .iter()
            .try_for_each(|d| validate::id("directedUserIds", d))?;
        Ok((p, groups))
    });
    let (publish, to) = match parsed {
        Ok(x) => x,
        Err(e) => return from_api(e),
    };
    let now = now_ms();
    publish_reply(
        state
            .store
            .write_retrying(move |c| messages::publish_group(c, &publish, &to, &directed, now))
            .await,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SystemPublish {
    #[serde(flatten)]
    common: PublishCommon,
    #[serde(alias = "toUserIds")]
    to_user_id: OneOrMany,
}

async fn publish_system(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: SystemPublish = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let parsed = req
        .common
        .into_publish()
        .and_then(|p| Ok((p, req.to_user_id.ids("toUserId")?)));
    let (publish, to) = match parsed {
        Ok(x) => x,
        Err(e) => return from_api(e),
    };
    let now = now_ms();
    publish_reply(
        state
            .store
            .write(move |c| messages::publish_system(c, &publish, &to, now))
            .await,
    )
}

// The sensitive-word list, as RongCloud's server API keeps it (`/sensitiveword/add`
// with `word` and optional `replaceWord`, `/sensitiveword/delete` with `word`,
// `/sensitiveword/batch/delete` with `words`, `/sensitiveword/list` with optional
// `type`: 0 replace words, 1 block words, 2 all). A word with a `replaceWord` is
// replaced by it, one without is blocked; imsync adds `mode: "replace"` for a word
// masked as "***" without a replacement of its own.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WordAdd {
    word: String,
    replace_word: Option<String>,
    mode: Option<String>,
}

async fn sensitive_word_add(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    let req: WordAdd = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let action = match (req.mode.as_deref(), req.replace_word) {
        (None | Some("replace"), Some(r)) => Action::Replace(r),
        (Some("replace"), None) => Action::Replace(moderation::DEFAULT_MASK.to_owned()),
        (None | Some("block"), None) => Action::Block,
        (Some("block"), Some(_)) => {
            return from_api(ApiError::invalid("a block word takes no replaceWord"))
        }
        (Some(_), _) => {
            return from_api(ApiError::invalid("mode must be \"block\" or \"replace\""))
        }
    };
    let now = now_ms();
    let max = state.settings.max_sensitive_words;
    let result = state
        .store
        .write(move |c| {
            moderation::add(c, &req.word, &action, max, now)?;
            Ok(Outcome::quiet(()))
        })
        .await;
    match result {
        Ok(()) => ok(json!({})),
        Err(e) => from_api(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordDelete {
    word: String,
}

async fn sensitive_word_delete(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Reply {
    let req: WordDelete = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    remove_words(&state, vec![req.word]).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordBatchDelete {
    words: Vec<String>,
}

async fn sensitive_word_batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Reply {
    let req: WordBatchDelete = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let max = state.settings.max_sensitive_words.max(1);
    if req.words.is_empty() || req.words.len() > max {
        return from_api(ApiError::invalid(format!(
            "words must hold 1..={max} words"
        )));
    }
    remove_words(&state, req.words).await
}

/// Removing a word that is not listed is not an error (the result is the same).
async fn remove_words(state: &AppState, words: Vec<String>) -> Reply {
    if let Err(e) = words
        .iter()
        .try_for_each(|w| moderation::validate_word("word", w))
    {
        return from_api(e);
    }
    let result = state
        .store
        .write(move |c| Ok(Outcome::quiet(moderation::remove(c, &words)?)))
        .await;
    match result {
        Ok(removed) => ok(json!({ "removed": removed })),
        Err(e) => from_api(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordList {
    r#type: Option<Value>,
}

async fn sensitive_word_list(State(state): State<AppState>, caller: Caller, body: Bytes) -> Reply {
    // The vendor's list call may come without a body.
    let body = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let req: WordList = match signed_body(&state, &caller, &body).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let kind = match &req.r#type {
        None => 2,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) => s.parse().unwrap_or(-1),
        Some(_) => -1,
    };
    if !(0..=2).contains(&kind) {
        return from_api(ApiError::invalid(
            "type must be 0 (replace words), 1 (block words) or 2 (all)",
        ));
    }
    let words = match state.store.read(|c| moderation::list(c)).await {
        Ok(w) => w,
        Err(e) => return from_api(e),
    };
    let words: Vec<Value> = words
        .into_iter()
        .filter_map(|w| {
            let (t, mode, replace) = match w.action {
                Action::Replace(r) => (0, "replace", r),
                Action::Block => (1, "block", String::new()),
            };
            (kind == 2 || kind == t).then(|| {
                json!({ "type": t.to_string(), "mode": mode, "word": w.word, "replaceWord": replace })
            })
        })
        .collect();
    ok(json!({ "words": words }))
}

fn publish_reply(result: Result<Vec<String>, ApiError>) -> Reply {
    match result {
        Ok(uids) => ok(json!({ "messageUIds": uids })),
        Err(e) => from_api(e),
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    async fn body_of(resp: Response) -> Bytes {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn small_replies_are_logged_and_sent_unchanged() {
        let (status, Json(v)) = fail(StatusCode::BAD_REQUEST, 1002, "bad userId");
        let resp = (status, Json(v.clone())).into_response();
        let (resp, reply) = reply_for_log(resp).await;
        assert_eq!(reply, Some(v.clone()));
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_of(resp).await, serde_json::to_vec(&v).unwrap());
    }

    #[tokio::test]
    async fn large_replies_reach_the_client_whole() {
        let msg = "x".repeat(100 * 1024);
        let resp = fail(StatusCode::BAD_REQUEST, 1002, msg.clone()).into_response();
        let (resp, reply) = reply_for_log(resp).await;
        assert_eq!(reply, None);
        let body: Value = serde_json::from_slice(&body_of(resp).await).unwrap();
        assert_eq!(body["errorMessage"], msg.as_str());
    }
}
