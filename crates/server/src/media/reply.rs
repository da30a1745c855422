//! Media answers: `{"code": 0, ...}` on success; otherwise the HTTP status
//! says what kind of refusal, and the body `{"code": N, "msg": "..."}` the
//! protocol code and which header or argument is at fault.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use imsync_protocol::codes;
use serde_json::{json, Value};

use crate::error::ApiError;

/// The vendor's UPLOAD_FAIL: an upload refused for its state or size
/// (unknown upload, wrong offset, over the limit).
pub const UPLOAD_FAIL: i32 = 34011;

/// A refused media request.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Protocol code.
    pub code: i32,
    /// What is wrong, naming the header or argument.
    pub msg: String,
    /// The bytes an upload holds, for answers a client resumes from.
    pub offset: Option<u64>,
}

impl Refusal {
    /// A refusal with `status`, `code` and `msg`.
    pub fn new(status: StatusCode, code: i32, msg: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            msg: msg.into(),
            offset: None,
        }
    }

    /// 400, invalid argument.
    pub fn bad(msg: impl Into<String>) -> Refusal {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            codes::BIZ_ERROR_INVALID_PARAMETER,
            msg,
        )
    }

    /// An upload refusal (UPLOAD_FAIL) with `status`.
    pub fn upload(status: StatusCode, msg: impl Into<String>) -> Refusal {
        Refusal::new(status, UPLOAD_FAIL, msg)
    }

    /// 500; the detail is logged, not shown.
    pub fn internal(detail: impl std::fmt::Display) -> Refusal {
        ApiError::internal(detail).into()
    }

    /// Adds the upload's current offset to the answer.
    pub fn at(mut self, offset: u64) -> Refusal {
        self.offset = Some(offset);
        self
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        let status = match e.code {
            codes::RC_CONN_TOKEN_INCORRECT | codes::RC_CONN_TOKEN_EXPIRED => {
                StatusCode::UNAUTHORIZED
            }
            codes::UNKNOWN => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Refusal::new(status, e.code, e.msg)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "msg": self.msg });
        if let Some(offset) = self.offset {
            body["offset"] = json!(offset);
        }
        (self.status, Json(body)).into_response()
    }
}

/// A success: `body` with `"code": 0`.
pub fn ok(status: StatusCode, mut body: Value) -> Response {
    body["code"] = json!(codes::SUCCESS);
    (status, Json(body)).into_response()
}
