//! The one error type of the core. Every failure carries a vendor result code so the binding
//! can resolve `{ code, msg }` without interpreting anything.

use crate::codes;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{msg} (code {code})")]
pub struct ImError {
    pub code: i32,
    pub msg: String,
    /// A result that still matters on failure (a failed send resolves the stored message,
    /// marked FAILED, so the app can offer a resend by its messageId).
    pub data: Option<serde_json::Value>,
}

pub type ImResult<T> = Result<T, ImError>;

impl ImError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            data: None,
        }
    }

    /// Bad argument: the message must name the argument and the rule it broke.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMETER, msg)
    }

    pub fn not_open() -> Self {
        Self::new(
            codes::CLIENT_NOT_INIT,
            "no user database is open: call open(userId) or connect(token) first",
        )
    }

    pub fn with_data(self, data: serde_json::Value) -> Self {
        Self {
            data: Some(data),
            ..self
        }
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(codes::MAIN_PROCESS_ERROR, msg)
    }
}

impl From<rusqlite::Error> for ImError {
    fn from(e: rusqlite::Error) -> Self {
        Self::new(codes::DATABASE_ERROR, format!("database error: {e}"))
    }
}

impl From<rusqlite::types::FromSqlError> for ImError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Self::new(codes::DATABASE_ERROR, format!("database error: {e}"))
    }
}
