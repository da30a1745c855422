//! Online-status subscriptions (seed 002 "订阅用户在线状态", IMLib 5.9.8; the profile
//! type from 5.10.1): `subscribeUserStatus`, `unSubscribeUserStatus`,
//! `getSubscribeUserStatus`, `getSubscribeUserList` and the events
//! `SUBSCRIBED_USER_STATUS_CHANGE`, `SUBSCRIBED_RELATION_CHANGE` and
//! `SYNC_SUBSCRIBED_USER_STATUS_FINISHED`. Subscriptions and statuses are the server's
//! (statuses derive from the followed users' sessions there), so every call asks it and
//! needs the connection (30002 without it); arguments are checked first with the
//! server's own rules (`imsync_protocol::presence_rules`), so bad input answers 33003
//! offline too and nothing is sent.
//!
//! The seed names the payload types but not their fields; they are:
//! - `ISubscribeUserStatusInfo { userId, subscribeType, details, userProfile?,
//!   subscribeTime?, expiry? }`, `details` one `{ platform, isOnline, updateTime }` per
//!   platform class (1 desktop, 2 web, 3 mobile) for ONLINE_STATUS, empty for
//!   USER_PROFILE (whose `userProfile` is the profile as other users see it).
//!   SUBSCRIBED_USER_STATUS_CHANGE carries an array of them, as the vendor's mobile
//!   SDKs do (`onEventChange(List<SubscribeInfoEvent>)`).
//! - `ISubscribeRelationInfo { subscribeType, operationType (0 subscribe, 1 unsubscribe),
//!   userIds, subscribeTime, expiry }`; SUBSCRIBED_RELATION_CHANGE carries an array.
//! - SYNC_SUBSCRIBED_USER_STATUS_FINISHED `{ subscribeType }`, once per type after each
//!   connect, when the statuses of every live subscription have been reported.

use std::sync::Arc;

use imsync_protocol as pb;
use pb::presence_rules::{self as rules, ONLINE_STATUS, USER_PROFILE};
use pb::{request, response};
use serde_json::{json, Value};

use super::profiles;
use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};

fn info(s: &pb::SubscribedStatus) -> Value {
    let details: Vec<Value> = s
        .platforms
        .iter()
        .map(|p| json!({ "platform": p.platform, "isOnline": p.online, "updateTime": p.updated_time }))
        .collect();
    let mut v = json!({ "userId": s.user_id, "subscribeType": s.r#type, "details": details });
    if let Some(p) = &s.profile {
        v["userProfile"] = profiles::to_json(p);
    }
    if s.subscribe_time > 0 {
        v["subscribeTime"] = json!(s.subscribe_time);
        v["expiry"] = json!(s.expiry);
    }
    v
}

fn kind(v: &Value) -> ImResult<i32> {
    let t = args::required_integer(Some(v), "type")?;
    rules::subscribe_type("type", t).map_err(ImError::invalid)
}

fn checked_ids(v: &Value, own: Option<&str>) -> ImResult<Vec<String>> {
    let ids = match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ImError::invalid(format!("userIds[{i}] must be a string"))),
            })
            .collect::<ImResult<Vec<_>>>()?,
        _ => {
            return Err(ImError::invalid(format!(
                "userIds is required (an array of 1 to {} user ids)",
                rules::MAX_IDS_PER_CALL
            )))
        }
    };
    rules::user_ids("userIds", &ids, own).map_err(ImError::invalid)?;
    Ok(ids)
}

impl Engine {
    async fn statuses(&self, op: request::Op) -> ImResult<pb::SubscribedStatusList> {
        match self.call(op).await?.body {
            Some(response::Body::SubscribedStatus(list)) => Ok(list),
            _ => Err(ImError::internal(
                "the server answered a subscription call without statuses",
            )),
        }
    }

    /// `subscribeUserStatus(userIds, type, expiry)`: 1..=200 ids, expiry 60..=2592000 s.
    /// The users already online (or whose status is known) are reported at once by
    /// SUBSCRIBED_USER_STATUS_CHANGE, as the vendor does on a first subscribe.
    pub async fn subscribe_user_status(
        &self,
        user_ids: Value,
        kind_v: Value,
        expiry: Value,
    ) -> ImResult<Value> {
        let own = self.user_id();
        let ids = checked_ids(&user_ids, own.as_deref())?;
        let t = kind(&kind_v)?;
        let expiry = args::required_integer(Some(&expiry), "expiry")?;
        rules::expiry("expiry", expiry).map_err(ImError::invalid)?;
        let list = self
            .statuses(request::Op::Subscribe(pb::SubscribeRequest {
                r#type: t,
                user_ids: ids,
                expiry,
            }))
            .await?;
        let known: Vec<Value> = list
            .statuses
            .iter()
            .filter(|s| {
                s.profile.is_some() || s.platforms.iter().any(|p| p.online || p.updated_time > 0)
            })
            .map(info)
            .collect();
        if !known.is_empty() {
            self.emit("SUBSCRIBED_USER_STATUS_CHANGE", Value::Array(known));
        }
        Ok(Value::Null)
    }

    /// `unSubscribeUserStatus(userIds, type)`.
    pub async fn un_subscribe_user_status(
        &self,
        user_ids: Value,
        kind_v: Value,
    ) -> ImResult<Value> {
        let ids = checked_ids(&user_ids, None)?;
        let t = kind(&kind_v)?;
        self.call(request::Op::Unsubscribe(pb::UnsubscribeRequest {
            r#type: t,
            user_ids: ids,
        }))
        .await?;
        Ok(Value::Null)
    }

    /// `getSubscribeUserStatus(type, userIds)`: the statuses of the users among `userIds`
    /// this user subscribes to.
    pub async fn get_subscribe_user_status(
        &self,
        kind_v: Value,
        user_ids: Value,
    ) -> ImResult<Value> {
        let t = kind(&kind_v)?;
        let ids = checked_ids(&user_ids, None)?;
        let list = self
            .statuses(request::Op::SubscribedStatus(pb::SubscribedStatusRequest {
                r#type: t,
                user_ids: ids,
            }))
            .await?;
        Ok(Value::Array(list.statuses.iter().map(info).collect()))
    }

    /// `getSubscribeUserList(type, pageSize, offset)`: pageSize 1..=200, offset the number
    /// of subscriptions the earlier pages returned (oldest first).
    pub async fn get_subscribe_user_list(
        &self,
        kind_v: Value,
        page_size: Value,
        offset: Value,
    ) -> ImResult<Value> {
        let t = kind(&kind_v)?;
        let limit = args::ranged(
            Some(&page_size),
            "pageSize",
            1,
            rules::MAX_PAGE_SIZE.into(),
            None,
        )?;
        let offset = args::ranged(Some(&offset), "offset", 0, u32::MAX.into(), Some(0))?;
        let list = self
            .statuses(request::Op::SubscriptionList(pb::SubscriptionListRequest {
                r#type: t,
                offset: offset as u32,
                limit: limit as u32,
            }))
            .await?;
        Ok(Value::Array(list.statuses.iter().map(info).collect()))
    }

    /// A push: subscribed users' status changed.
    pub(crate) fn emit_subscribed_status(&self, list: &pb::SubscribedStatusList) {
        if list.statuses.is_empty() {
            return;
        }
        self.emit(
            "SUBSCRIBED_USER_STATUS_CHANGE",
            Value::Array(list.statuses.iter().map(info).collect()),
        );
    }

    /// A push: this user's subscriptions changed on another device.
    pub(crate) fn emit_subscription_changed(&self, c: &pb::SubscriptionChanged) {
        let mut v = json!({
            "subscribeType": c.r#type,
            "operationType": c.operation,
            "userIds": c.user_ids,
        });
        if c.subscribe_time > 0 {
            v["subscribeTime"] = json!(c.subscribe_time);
            v["expiry"] = json!(c.expiry);
        }
        self.emit("SUBSCRIBED_RELATION_CHANGE", json!([v]));
    }

    /// After each connect: reports the status of every live subscription, then
    /// SYNC_SUBSCRIBED_USER_STATUS_FINISHED, type by type. Runs beside the session (its
    /// requests go through the session like any API call), so the inbox pull never
    /// waits for it. A server without subscriptions (35004) ends it quietly.
    pub(crate) async fn sync_subscriptions(self: Arc<Self>) {
        for t in [ONLINE_STATUS, USER_PROFILE] {
            let mut offset = 0u32;
            loop {
                let op = request::Op::SubscriptionList(pb::SubscriptionListRequest {
                    r#type: t,
                    offset,
                    limit: rules::MAX_SERVER_PAGE,
                });
                let page = match self.statuses(op).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::info!(code = e.code, msg = %e.msg, "subscription sync stopped");
                        return;
                    }
                };
                offset += page.statuses.len() as u32;
                self.emit_subscribed_status(&page);
                if !page.has_more || page.statuses.is_empty() {
                    break;
                }
            }
            self.emit(
                "SYNC_SUBSCRIBED_USER_STATUS_FINISHED",
                json!({ "subscribeType": t }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_name_themselves() {
        for (v, name) in [
            (json!("alice"), "userIds"),
            (json!([]), "userIds"),
            (json!(["a", 1]), "userIds[1]"),
            (json!(["a", "a"]), "userIds[1]"),
            (json!(["me"]), "userIds[0]"),
        ] {
            let e = checked_ids(&v, Some("me")).unwrap_err();
            assert_eq!(e.code, 33003);
            assert!(e.msg.starts_with(name), "{name}: {}", e.msg);
        }
        let many: Vec<String> = (0..201).map(|i| i.to_string()).collect();
        assert!(checked_ids(&json!(many), None).is_err());
        assert!(kind(&json!(3)).unwrap_err().msg.starts_with("type"));
        assert!(kind(&json!("1")).is_err());
        assert_eq!(kind(&json!(2)).unwrap(), 2);
    }

    #[test]
    fn status_json() {
        let s = pb::SubscribedStatus {
            user_id: "alice".into(),
            r#type: 1,
            platforms: vec![pb::PlatformStatus {
                platform: 1,
                online: true,
                updated_time: 5,
            }],
            ..Default::default()
        };
        assert_eq!(
            info(&s),
            json!({ "userId": "alice", "subscribeType": 1,
                    "details": [{ "platform": 1, "isOnline": true, "updateTime": 5 }] })
        );
    }
}
