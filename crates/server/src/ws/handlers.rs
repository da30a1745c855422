//! One function per request type: validate, apply the policy, touch the
//! store, shape the response.

use std::collections::BTreeMap;
use std::time::Instant;

use imsync_protocol::profile_rules::MAX_PROFILE_IDS;
use imsync_protocol::{
    blacklist_request, codes, request, response::Body, BlacklistResult, PullInboxResult, Response,
    SendMessageRequest, SendModeration,
};

use super::{subscriptions, Session};
use crate::clock::{new_message_uid, now_ms};
use crate::error::ApiError;
use crate::fanout::{deliver, Delivery};
use crate::moderation;
use crate::state::AppState;
use crate::store::{deletes, delivery, messages, profiles, settings, timeline, Outcome, Store};
use crate::timeline_pump::catch_up_user;
use crate::validate;

/// Answers one request of an authenticated session.
pub async fn handle(state: &AppState, session: &mut Session, op: Option<request::Op>) -> Response {
    let result = match op {
        None => Err(ApiError::new(codes::NOT_SUPPORT, "unknown request type")),
        // A send's response may also say what the sensitive-word filter did.
        Some(request::Op::SendMessage(req)) => {
            return match send_message(state, session, req).await {
                Ok((body, moderation)) => {
                    let mut r = Response::ok(body);
                    r.moderation = moderation;
                    r
                }
                Err(e) => Response::error(e.code, e.msg),
            }
        }
        Some(op) => dispatch(state, session, op).await,
    };
    match result {
        Ok(Some(body)) => Response::ok(body),
        Ok(None) => Response::ok_empty(),
        Err(e) => Response::error(e.code, e.msg),
    }
}

/// A page of `user`'s inbox, after copying their pending large-group entries (checked in
/// the same snapshot as the page, so a user without any costs no extra read).
async fn pull(
    store: &Store,
    user: String,
    after_seq: u64,
    limit: u32,
) -> Result<PullInboxResult, ApiError> {
    let u = user.clone();
    let page = store
        .read(move |c| {
            if timeline::is_behind(c, &u)? {
                return Ok(None);
            }
            messages::pull(c, &u, after_seq, limit).map(Some)
        })
        .await?;
    if let Some(page) = page {
        return Ok(page);
    }
    catch_up_user(store, &user).await?;
    store
        .read(move |c| messages::pull(c, &user, after_seq, limit))
        .await
}

async fn dispatch(
    state: &AppState,
    session: &mut Session,
    op: request::Op,
) -> Result<Option<Body>, ApiError> {
    let user = session.user_id.clone();
    let now = now_ms();
    let store = &state.store;
    match op {
        request::Op::Connect(_) => Err(ApiError::new(
            codes::RC_CONNECTION_EXIST,
            "this connection is already authenticated",
        )),
        request::Op::SendMessage(req) => Ok(Some(send_message(state, session, req).await?.0)),
        request::Op::PullInbox(req) => {
            let page = pull(store, user, req.after_seq, req.limit).await?;
            Ok(Some(Body::PullInbox(page)))
        }
        request::Op::Recall(req) => {
            let recall = messages::Recall {
                message_uid: req.message_uid,
                conversation: req.conversation,
                sent_time: req.sent_time,
                is_delete: req.is_delete,
                disable_notification: req.disable_notification,
                push_config: req.push_config,
                extra: req.extra,
                user_json: req.user_json,
            };
            let ack = store
                .write(move |c| messages::recall(c, &user, recall, now))
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::ReadReceipt(req) => {
            let ack = store
                .write(move |c| {
                    messages::read_receipt(
                        c,
                        &user,
                        &req.target_id,
                        &req.channel_id,
                        &req.message_uid,
                        req.last_message_send_time,
                        now,
                    )
                })
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::ReceiptRequest(req) => {
            let ack = store
                .write(move |c| {
                    messages::receipt_request(
                        c,
                        &user,
                        &req.target_id,
                        &req.channel_id,
                        &req.message_uid,
                        now,
                    )
                })
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::ReceiptResponse(req) => {
            let list: BTreeMap<String, Vec<String>> = req
                .message_list
                .into_iter()
                .map(|(k, v)| (k, v.message_uids))
                .collect();
            let ack = store
                .write(move |c| {
                    messages::receipt_response(
                        c,
                        &user,
                        &req.target_id,
                        &req.channel_id,
                        &list,
                        now,
                    )
                })
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::SyncReadStatus(req) => {
            let ack = store
                .write(move |c| {
                    messages::sync_read_status(
                        c,
                        &user,
                        req.conversation.as_ref(),
                        req.last_message_send_time,
                        now,
                    )
                })
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::Expansion(req) => {
            let ack = store
                .write(move |c| {
                    messages::expansion(c, &user, &req.message_uid, &req.set, &req.remove, now)
                })
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::ConversationSettings(req) => {
            let except = session.session_id.clone();
            let snapshot = store
                .write(move |c| {
                    settings::set_conversation(
                        c,
                        &user,
                        req.conversation.as_ref(),
                        req.is_top,
                        req.notification_level,
                        now,
                    )?;
                    settings_changed(c, user, except, "conversation")
                })
                .await?;
            Ok(Some(Body::Settings(snapshot)))
        }
        request::Op::Tag(req) => {
            let op = req
                .op
                .ok_or_else(|| ApiError::invalid("tag request needs an operation"))?;
            let except = session.session_id.clone();
            let snapshot = store
                .write(move |c| {
                    let kind = settings::apply_tag(c, &user, &op, now)?;
                    settings_changed(c, user, except, kind)
                })
                .await?;
            Ok(Some(Body::Settings(snapshot)))
        }
        request::Op::Blacklist(req) => {
            let op = req
                .op
                .ok_or_else(|| ApiError::invalid("blacklist request needs an operation"))?;
            let user_ids = match op {
                blacklist_request::Op::List(_) => {
                    store.read(move |c| settings::blacklist(c, &user)).await?
                }
                blacklist_request::Op::Add(other) => {
                    store
                        .write(move |c| {
                            settings::blacklist_add(c, &user, &other, now)?;
                            Ok(Outcome::quiet(settings::blacklist(c, &user)?))
                        })
                        .await?
                }
                blacklist_request::Op::Remove(other) => {
                    store
                        .write(move |c| {
                            settings::blacklist_remove(c, &user, &other)?;
                            Ok(Outcome::quiet(settings::blacklist(c, &user)?))
                        })
                        .await?
                }
            };
            Ok(Some(Body::Blacklist(BlacklistResult { user_ids })))
        }
        request::Op::History(req) => {
            catch_up_user(store, &user).await?;
            let page = store
                .read(move |c| {
                    messages::history(
                        c,
                        &user,
                        req.conversation.as_ref(),
                        req.timestamp,
                        req.count,
                        req.order,
                    )
                })
                .await?;
            Ok(Some(Body::History(page)))
        }
        request::Op::AckInbox(req) => {
            store
                .write(move |c| delivery::ack(c, &user, req.seq, now))
                .await?;
            Ok(None)
        }
        request::Op::UpdateProfile(req) => {
            let editor = profiles::Editor::Owner {
                session: session.session_id.clone(),
            };
            let profile = store
                .write(move |c| profiles::update(c, &user, &req, "extraProfile", editor, now))
                .await?;
            state
                .presence
                .notify(crate::presence::Change::Profile(session.user_id.clone()));
            Ok(Some(profile_list(vec![profile])))
        }
        request::Op::GetProfiles(req) => {
            let default_visibility = state.settings.profile_visibility;
            let list = store
                .read(move |c| {
                    if req.user_ids.is_empty() {
                        return Ok(vec![profiles::own(c, &user)?]);
                    }
                    let viewer = profiles::Viewer::User {
                        id: &user,
                        default_visibility,
                    };
                    profiles::get(c, viewer, &req.user_ids, MAX_PROFILE_IDS)
                })
                .await?;
            Ok(Some(profile_list(list)))
        }
        request::Op::ProfileVisibility(req) => {
            let visibility = match req.set {
                Some(v) => {
                    store
                        .write(move |c| {
                            Ok(Outcome::quiet(profiles::set_visibility(c, &user, v, now)?))
                        })
                        .await?
                }
                None => store.read(move |c| profiles::visibility(c, &user)).await?,
            };
            Ok(Some(Body::ProfileVisibility(
                imsync_protocol::ProfileVisibility { visibility },
            )))
        }
        request::Op::SearchProfile(req) => {
            let default_visibility = state.settings.profile_visibility;
            let found = store
                .read(move |c| {
                    let viewer = profiles::Viewer::User {
                        id: &user,
                        default_visibility,
                    };
                    profiles::search(c, viewer, &req.unique_id)
                })
                .await?;
            Ok(Some(profile_list(found.into_iter().collect())))
        }
        request::Op::ChatroomJoin(req) => {
            Ok(Some(super::chatroom::join(state, session, req).await?))
        }
        request::Op::ChatroomQuit(req) => {
            super::chatroom::quit(state, session, req).await?;
            Ok(None)
        }
        request::Op::ChatroomInfo(req) => Ok(Some(super::chatroom::info(state, req).await?)),
        request::Op::ChatroomHistory(req) => {
            Ok(Some(super::chatroom::history(state, session, req).await?))
        }
        request::Op::ChatroomSetEntries(req) => Ok(Some(
            super::chatroom::set_entries(state, session, req).await?,
        )),
        request::Op::ChatroomRemoveEntries(req) => Ok(Some(
            super::chatroom::remove_entries(state, session, req).await?,
        )),
        request::Op::ChatroomGetEntries(req) => Ok(Some(
            super::chatroom::get_entries(state, session, req).await?,
        )),
        request::Op::Subscribe(req) => {
            Ok(Some(subscriptions::subscribe(state, session, req).await?))
        }
        request::Op::Unsubscribe(req) => {
            subscriptions::unsubscribe(state, session, req).await?;
            Ok(None)
        }
        request::Op::SubscribedStatus(req) => {
            Ok(Some(subscriptions::status(state, session, req).await?))
        }
        request::Op::SubscriptionList(req) => {
            Ok(Some(subscriptions::page(state, session, req).await?))
        }
        request::Op::DeleteMessages(req) => {
            let ack = store
                .write(move |c| deletes::delete(c, &user, req.conversation.as_ref(), req.what, now))
                .await?;
            Ok(Some(Body::MessageAck(ack)))
        }
        request::Op::GetSettings(_) => {
            let snapshot = store.read(move |c| settings::snapshot(c, &user)).await?;
            Ok(Some(Body::Settings(snapshot)))
        }
    }
}

fn profile_list(profiles: Vec<imsync_protocol::UserProfile>) -> Body {
    Body::Profiles(imsync_protocol::ProfileList { profiles })
}

/// Bumps the settings version and tells the user's other sessions.
fn settings_changed(
    c: &dyn crate::store::sql::Db,
    user: String,
    except_session: String,
    kind: &'static str,
) -> Result<Outcome<imsync_protocol::SettingsSnapshot>, ApiError> {
    let version = settings::bump_version(c, &user)?;
    let snapshot = settings::snapshot(c, &user)?;
    Ok(Outcome {
        value: snapshot,
        deliveries: vec![Delivery::Settings {
            user,
            except_session,
            version,
            kind,
        }],
    })
}

async fn send_message(
    state: &AppState,
    session: &mut Session,
    req: SendMessageRequest,
) -> Result<(Body, Option<SendModeration>), ApiError> {
    let to_chatroom = req
        .conversation
        .as_ref()
        .is_some_and(|c| c.r#type == imsync_protocol::ConversationType::Chatroom as i32);
    if to_chatroom {
        return Ok((super::chatroom::send(state, session, req).await?, None));
    }
    let valid = validate::send(&session.user_id, &req)?;
    if !session.rate.try_acquire(Instant::now()) {
        return Err(ApiError::new(
            codes::SEND_FREQUENCY_TOO_FAST,
            format!("at most {} messages per second", state.settings.rate_limit),
        ));
    }
    let user = session.user_id.clone();
    let now = now_ms();
    if valid.message.is_status_message {
        // Online devices only, nothing stored: route with a read, push now.
        let route_user = user.clone();
        let route_valid = valid.clone();
        let recipients = state
            .store
            .read(move |c| messages::route(c, &route_user, &route_valid))
            .await?;
        let mut message = valid.message;
        message.message_uid = new_message_uid();
        message.sent_time = now;
        message.client_msg_id.clear();
        let statuses = recipients
            .iter()
            .filter(|r| **r != user)
            .map(|r| Delivery::Status {
                user: r.clone(),
                message: messages::view_for(r, &message),
            })
            .collect();
        deliver(&state.registry, state.cluster.as_ref(), statuses).await;
        return Ok((
            Body::MessageAck(imsync_protocol::MessageAck {
                message_uid: message.message_uid,
                sent_time: now,
                ..Default::default()
            }),
            None,
        ));
    }
    let (ack, moderation) = state
        .store
        .write(move |c| moderation::send(c, &user, valid, now))
        .await?;
    Ok((Body::MessageAck(ack), moderation))
}
