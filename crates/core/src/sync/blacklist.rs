//! The blacklist (Electron only in the seed): one-way — a blacklisted user's private
//! messages to this user fail with 405 on the server; this user can still message them.
//! Kept on the server only, so these calls need the connection.

use imsync_protocol as pb;
use pb::{blacklist_request, request, response};
use serde_json::{json, Value};

use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};

/// `getBlacklistStatus` values, as the native SDK numbers them.
pub const IN_BLACKLIST: i64 = 0;
pub const NOT_IN_BLACKLIST: i64 = 1;

const BLACK_ADD_ERROR: i32 = 37001;
const BLACK_GETSTATUS_ERROR: i32 = 37002;
const BLACK_REMOVE_ERROR: i32 = 37003;

impl Engine {
    /// One blacklist operation; a refusal keeps the server's code unless it is a plain
    /// parameter error, which becomes the call's own blacklist code (37001-37003).
    async fn blacklist(&self, op: blacklist_request::Op, code: i32) -> ImResult<Vec<String>> {
        let r = self
            .request(request::Op::Blacklist(pb::BlacklistRequest {
                op: Some(op),
            }))
            .await?;
        match (r.code, r.body) {
            (0, Some(response::Body::Blacklist(list))) => Ok(list.user_ids),
            (0, _) => Ok(Vec::new()),
            (pb::codes::BIZ_ERROR_INVALID_PARAMETER, _) => Err(ImError::new(code, r.msg)),
            (c, _) => Err(ImError::new(c, r.msg)),
        }
    }

    pub async fn add_to_blacklist(&self, user_id: Value) -> ImResult<Value> {
        let user = args::id(Some(&user_id), "userId")?;
        if self.user_id().as_deref() == Some(user.as_str()) {
            return Err(ImError::new(
                BLACK_ADD_ERROR,
                "userId cannot be the current user",
            ));
        }
        self.blacklist(blacklist_request::Op::Add(user), BLACK_ADD_ERROR)
            .await?;
        Ok(Value::Null)
    }

    pub async fn remove_from_blacklist(&self, user_id: Value) -> ImResult<Value> {
        let user = args::id(Some(&user_id), "userId")?;
        self.blacklist(blacklist_request::Op::Remove(user), BLACK_REMOVE_ERROR)
            .await?;
        Ok(Value::Null)
    }

    /// The blacklisted user ids, sorted.
    pub async fn get_blacklist(&self) -> ImResult<Value> {
        let list = self
            .blacklist(blacklist_request::Op::List(true), BLACK_GETSTATUS_ERROR)
            .await?;
        Ok(json!(list))
    }

    /// `getBlacklistStatus(userId)`: 0 = in the blacklist, 1 = not (the native SDK's
    /// BlacklistStatus values).
    pub async fn get_blacklist_status(&self, user_id: Value) -> ImResult<Value> {
        let user = args::id(Some(&user_id), "userId")?;
        let list = self
            .blacklist(blacklist_request::Op::List(true), BLACK_GETSTATUS_ERROR)
            .await?;
        Ok(json!(if list.contains(&user) {
            IN_BLACKLIST
        } else {
            NOT_IN_BLACKLIST
        }))
    }
}
