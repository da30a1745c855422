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
    /// SQLite's extended result code, for errors that came from SQLite (see
    /// [`ImError::sqlite_code`]).
    sqlite: Option<i32>,
}

pub type ImResult<T> = Result<T, ImError>;

impl ImError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            data: None,
            sqlite: None,
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

    /// The same error under `to` when its code is `from`: the vendor's table gives some
    /// calls their own code for a bad argument or a failed write (a draft that could not be
    /// saved is 35015, a message that could not be stored on insert 33008), while damage and
    /// a full disk keep theirs, since the app must react to those the same way everywhere.
    pub fn recode(self, from: i32, to: i32) -> Self {
        if self.code == from {
            Self { code: to, ..self }
        } else {
            self
        }
    }
}

/// Recodes a database failure (33002) as the call's own vendor code.
pub fn storage_failure(to: i32) -> impl Fn(ImError) -> ImError {
    move |e| e.recode(codes::DATABASE_ERROR, to)
}

impl ImError {
    /// SQLite's extended result code, when this error came from SQLite. The store decides
    /// from it whether the writer failed for lack of space or a failing disk (read-only
    /// fallback) rather than for a reason no fallback helps with.
    pub fn sqlite_code(&self) -> Option<i32> {
        self.sqlite
    }
}

/// The vendor code of a SQLite failure, by its extended result code: damage and a full
/// disk get imsync's own codes, because an app must react to them differently from any
/// other database error (recover, or free space); everything else stays 33002.
fn database_code(e: &rusqlite::Error) -> i32 {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => codes::DATABASE_CORRUPT,
        Some(ErrorCode::DiskFull) => codes::DATABASE_DISK_FULL,
        _ => codes::DATABASE_ERROR,
    }
}

impl From<rusqlite::Error> for ImError {
    fn from(e: rusqlite::Error) -> Self {
        let code = database_code(&e);
        let what = match code {
            codes::DATABASE_CORRUPT => "the database file is damaged",
            codes::DATABASE_DISK_FULL => "the disk is full",
            _ => "database error",
        };
        let sqlite = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
            _ => None,
        };
        Self {
            sqlite,
            ..Self::new(code, format!("{what}: {e}"))
        }
    }
}

impl From<rusqlite::types::FromSqlError> for ImError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Self::new(codes::DATABASE_ERROR, format!("database error: {e}"))
    }
}
