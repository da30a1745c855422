//! The error every operation returns: a protocol error code plus a detail.

use crate::log_escape::Escaped;
use imsync_protocol::codes;

/// A refused or failed operation, carried to the client as `Response{code, msg}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct ApiError {
    /// One of `imsync_protocol::codes`.
    pub code: i32,
    /// Human-readable detail.
    pub msg: String,
    /// PostgreSQL aborted the write as a conflict with another node's (a deadlock or a
    /// serialization failure): nothing of it was kept, and running it again may succeed.
    pub conflict: bool,
}

impl ApiError {
    /// An error with `code` and `msg`.
    pub fn new(code: i32, msg: impl Into<String>) -> ApiError {
        ApiError {
            code,
            msg: msg.into(),
            conflict: false,
        }
    }

    /// 33003 naming the bad argument and the rule it broke.
    pub fn invalid(msg: impl Into<String>) -> ApiError {
        ApiError::new(codes::BIZ_ERROR_INVALID_PARAMETER, msg)
    }

    /// A server-side failure; the detail is logged, the client sees -2.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(detail = %Escaped(&detail), "internal error");
        ApiError::new(codes::UNKNOWN, "internal server error")
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(format!("sqlite: {e}"))
    }
}

impl From<postgres::Error> for ApiError {
    fn from(e: postgres::Error) -> ApiError {
        // The error's Display is only "db error"; the server's message says what failed.
        use postgres::error::SqlState;
        match e.as_db_error() {
            Some(db)
                if *db.code() == SqlState::T_R_DEADLOCK_DETECTED
                    || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                tracing::warn!(detail = %Escaped(db.message()), "a write conflicted with another node's; rolled back");
                ApiError {
                    conflict: true,
                    ..ApiError::new(
                        codes::UNKNOWN,
                        "the write conflicted with another one and was rolled back; try again",
                    )
                }
            }
            Some(db) => ApiError::internal(format!(
                "postgres: {} ({}): {}",
                db.message(),
                db.code().code(),
                db.detail().unwrap_or("")
            )),
            None => ApiError::internal(format!("postgres: {e}")),
        }
    }
}
