//! The two engines a [`Store`](super::Store) runs on: a SQLite file (the embedded default)
//! or a PostgreSQL database (`--database-url`, the scale-out mode). Store code only sees
//! [`Db`]; what differs is how a connection opens, how its transactions begin, and how it
//! closes.

use std::path::PathBuf;

use rusqlite::Connection;

use super::sql::{Db, PgDb};
use super::{pg_schema, schema};
use crate::error::ApiError;

/// Where the server keeps its state.
#[derive(Clone)]
pub enum Backend {
    /// This SQLite file (created and migrated at start).
    Sqlite(PathBuf),
    /// This PostgreSQL URL (`postgres://USER:PASS@HOST:PORT/DB`; schema migrated at start).
    Postgres(String),
}

/// Never prints a PostgreSQL URL's password.
impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Backend::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&crate::config::redact_password(url))
                .finish(),
        }
    }
}

/// One open connection of either engine.
pub(super) enum Conn {
    Sqlite(Connection),
    /// Boxed: a PostgreSQL client is several times the size of a SQLite handle.
    Pg(Box<PgDb>),
}

impl Conn {
    /// Opens a connection; the writer's also creates or migrates the schema.
    pub fn open(backend: &Backend, writer: bool) -> Result<Conn, String> {
        match backend {
            Backend::Sqlite(path) => {
                let mut conn = Connection::open(path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                schema::prepare(&mut conn, writer)?;
                Ok(Conn::Sqlite(conn))
            }
            Backend::Postgres(url) => {
                let db = PgDb::connect(url)?;
                if writer {
                    pg_schema::migrate(&db)?;
                }
                Ok(Conn::Pg(Box::new(db)))
            }
        }
    }

    pub fn db(&self) -> &dyn Db {
        match self {
            Conn::Sqlite(c) => c,
            Conn::Pg(db) => &**db,
        }
    }

    /// Runs statements that return nothing (transaction control).
    pub fn run(&self, sql: &str) -> Result<(), ApiError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(db) => db.batch(sql),
        }
    }

    /// Starts the writer's transaction. SQLite takes its write lock now, so a busy database
    /// fails here rather than at the first write of some job. PostgreSQL runs one job per
    /// transaction, and its savepoint starts in the same round trip.
    pub fn begin_write(&self) -> Result<(), ApiError> {
        self.run(match self {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Pg(_) => "BEGIN; SAVEPOINT job",
        })
    }

    /// Starts a read-only snapshot: every statement of the read sees the same data (a
    /// pull's entries, head and min agree).
    pub fn begin_read(&self) -> Result<(), ApiError> {
        self.run(match self {
            Conn::Sqlite(_) => "BEGIN",
            Conn::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        })
    }

    /// Ends a read snapshot. A failed read leaves PostgreSQL's transaction aborted, which
    /// COMMIT would also end, but ROLLBACK says what happened.
    pub fn end_read(&self, ok: bool) -> Result<(), ApiError> {
        self.run(if ok { "COMMIT" } else { "ROLLBACK" })
    }

    /// Closes the writer's connection: SQLite folds its WAL back into the file.
    pub fn close(self) {
        match self {
            Conn::Sqlite(conn) => {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(error = %crate::log_escape::Escaped(&e), "final WAL checkpoint failed");
                }
                if let Err((_, e)) = conn.close() {
                    tracing::warn!(error = %crate::log_escape::Escaped(&e), "closing the database failed");
                }
            }
            Conn::Pg(db) => drop(db),
        }
    }
}
