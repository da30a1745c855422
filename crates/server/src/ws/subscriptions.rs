//! Subscription requests (see crate::presence for how statuses reach subscribers).
//! A subscribe answers the newly subscribed users' current status, so the caller needs
//! no second round trip; the user's other sessions hear of every change to its
//! subscriptions (SUBSCRIBED_RELATION_CHANGE on their side).

use imsync_protocol::presence_rules::{self as rules, ONLINE_STATUS};
use imsync_protocol::{
    response::Body, SubscribeRequest, SubscribedStatus, SubscribedStatusList,
    SubscribedStatusRequest, SubscriptionChanged, SubscriptionListRequest, UnsubscribeRequest,
};

use super::Session;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::fanout::Delivery;
use crate::state::AppState;
use crate::store::profiles::{self, Viewer};
use crate::store::subscriptions::{self, Subscription};
use crate::store::Outcome;

/// Operation values of [`SubscriptionChanged`].
const SUBSCRIBED: i32 = 0;
const UNSUBSCRIBED: i32 = 1;

fn kind(t: i32) -> Result<i32, ApiError> {
    rules::subscribe_type("type", i64::from(t)).map_err(ApiError::invalid)
}

/// The push telling `session`'s user's other sessions (on any node) of a change of their
/// subscriptions, sent after the commit.
fn tell_other_sessions(user: &str, session_id: &str, change: SubscriptionChanged) -> Vec<Delivery> {
    if change.user_ids.is_empty() {
        return Vec::new();
    }
    vec![Delivery::SubscriptionChanged {
        user: user.to_owned(),
        except_session: session_id.to_owned(),
        change,
    }]
}

/// The statuses of `subs` as the subscriber sees them: online status from the sessions,
/// profiles as any other user sees them.
async fn statuses(
    state: &AppState,
    kind: i32,
    subs: Vec<Subscription>,
) -> Result<Vec<SubscribedStatus>, ApiError> {
    let mut out: Vec<SubscribedStatus> = subs
        .iter()
        .map(|s| SubscribedStatus {
            user_id: s.target.clone(),
            r#type: kind,
            subscribe_time: s.subscribed_at,
            expiry: s.expiry_secs,
            ..Default::default()
        })
        .collect();
    if kind == ONLINE_STATUS {
        for s in &mut out {
            s.platforms = state.presence.online_status(&state.registry, &s.user_id);
        }
        return Ok(out);
    }
    let ids: Vec<String> = subs.into_iter().map(|s| s.target).collect();
    let default_visibility = state.settings.profile_visibility;
    let found = state
        .store
        .read(move |c| {
            let mut all = Vec::new();
            for chunk in ids.chunks(rules::MAX_IDS_PER_CALL) {
                let viewer = Viewer::User {
                    id: "",
                    default_visibility,
                };
                all.extend(profiles::get(c, viewer, chunk, rules::MAX_IDS_PER_CALL)?);
            }
            Ok(all)
        })
        .await?;
    for s in &mut out {
        s.profile = found.iter().find(|p| p.user_id == s.user_id).cloned();
    }
    Ok(out)
}

fn list(statuses: Vec<SubscribedStatus>, has_more: bool) -> Body {
    Body::SubscribedStatus(SubscribedStatusList { statuses, has_more })
}

/// `subscribeUserStatus`.
pub async fn subscribe(
    state: &AppState,
    session: &Session,
    req: SubscribeRequest,
) -> Result<Body, ApiError> {
    let kind = kind(req.r#type)?;
    rules::user_ids("userIds", &req.user_ids, Some(&session.user_id)).map_err(ApiError::invalid)?;
    let expiry = rules::expiry("expiry", req.expiry).map_err(ApiError::invalid)?;
    let user = session.user_id.clone();
    let now = now_ms();
    let ids = req.user_ids;
    let told = tell_other_sessions(
        &session.user_id,
        &session.session_id,
        SubscriptionChanged {
            r#type: kind,
            operation: SUBSCRIBED,
            user_ids: ids.clone(),
            subscribe_time: now,
            expiry,
        },
    );
    let subs = state
        .store
        .write(move |c| {
            subscriptions::subscribe(c, &user, kind, &ids, expiry, now)?;
            Ok(Outcome {
                value: subscriptions::get(c, &user, kind, &ids, now)?,
                deliveries: told,
            })
        })
        .await?;
    Ok(list(statuses(state, kind, subs).await?, false))
}

/// `unSubscribeUserStatus`.
pub async fn unsubscribe(
    state: &AppState,
    session: &Session,
    req: UnsubscribeRequest,
) -> Result<(), ApiError> {
    let kind = kind(req.r#type)?;
    rules::user_ids("userIds", &req.user_ids, None).map_err(ApiError::invalid)?;
    let user = session.user_id.clone();
    let now = now_ms();
    let session_id = session.session_id.clone();
    state
        .store
        .write(move |c| {
            let removed = subscriptions::unsubscribe(c, &user, kind, &req.user_ids, now)?;
            let change = SubscriptionChanged {
                r#type: kind,
                operation: UNSUBSCRIBED,
                user_ids: removed,
                ..Default::default()
            };
            Ok(Outcome {
                value: (),
                deliveries: tell_other_sessions(&user, &session_id, change),
            })
        })
        .await?;
    Ok(())
}

/// `getSubscribeUserStatus`: users the caller does not (or no longer) follow are left out.
pub async fn status(
    state: &AppState,
    session: &Session,
    req: SubscribedStatusRequest,
) -> Result<Body, ApiError> {
    let kind = kind(req.r#type)?;
    rules::user_ids("userIds", &req.user_ids, None).map_err(ApiError::invalid)?;
    let user = session.user_id.clone();
    let now = now_ms();
    let subs = state
        .store
        .read(move |c| subscriptions::get(c, &user, kind, &req.user_ids, now))
        .await?;
    Ok(list(statuses(state, kind, subs).await?, false))
}

/// `getSubscribeUserList` (and the client's sync after connect).
pub async fn page(
    state: &AppState,
    session: &Session,
    req: SubscriptionListRequest,
) -> Result<Body, ApiError> {
    let kind = kind(req.r#type)?;
    if req.limit == 0 || req.limit > rules::MAX_SERVER_PAGE {
        return Err(ApiError::invalid(format!(
            "limit must be 1..={}",
            rules::MAX_SERVER_PAGE
        )));
    }
    let user = session.user_id.clone();
    let now = now_ms();
    let (subs, more) = state
        .store
        .read(move |c| subscriptions::list(c, &user, kind, req.offset, req.limit, now))
        .await?;
    Ok(list(statuses(state, kind, subs).await?, more))
}
