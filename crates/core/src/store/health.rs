//! What the store can still do when the file or the disk under it fails.
//!
//! Two states besides healthy:
//!
//! - **Damaged** (sticky): SQLite reported corruption (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) on
//!   any connection, at open (see [`probe`]) or later. Every write is refused with
//!   `DATABASE_CORRUPT` before it reaches SQLite, so nothing written on top of a broken page
//!   can spread the damage, and closing skips the checkpoint so the file and its WAL stay
//!   exactly as they were for `recoverDatabase()` to move aside. Reads keep working where
//!   the pages they touch are intact.
//! - **Read-only** (disk full): the writer could not start (`SQLITE_FULL`, or an I/O error
//!   such as growing the `-shm` on a full disk). Every connection is then opened read-only
//!   with `readonly_shm=1` ([`open_read_only`]): when no other connection holds the
//!   wal-index, SQLite reads the WAL into private memory instead of needing a writable
//!   `-shm`, so reads see every committed transaction (`immutable=1` would not: it ignores
//!   the WAL). Writes answer `DATABASE_DISK_FULL`; each write first retries starting the
//!   writer, so writes work again as soon as space is freed, without reopening.
//!
//! Measured on a database of 1M messages in 10,000 conversations (549 MB, the benchmark's
//! size): a full `PRAGMA quick_check` takes 14 s, far too slow for every open, while checking
//! every table except the message table and its search index takes 10-18 ms, nearly all of
//! it the conversation table (~1 µs per conversation). So [`probe`] checks those
//! completely, touches the big trees' edges, and corruption elsewhere is caught as SQLite
//! reports it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::{configure, encryption, migrations};
use crate::codes;
use crate::error::{ImError, ImResult};
use crate::options::EncryptionKey;

const HEALTHY: u8 = 0;
const READ_ONLY: u8 = 1;
const DAMAGED: u8 = 2;

/// Shared by the store handle and its threads: checked before every write job runs, set on
/// the thread that saw the error (so the next queued job already sees it).
pub(super) struct Health {
    state: AtomicU8,
    /// The SQLite error behind the current state, quoted in every refusal.
    cause: Mutex<String>,
    pub(super) path: PathBuf,
}

impl Health {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            state: AtomicU8::new(HEALTHY),
            cause: Mutex::new(String::new()),
            path,
        }
    }

    pub(super) fn is_damaged(&self) -> bool {
        self.state.load(Ordering::Acquire) == DAMAGED
    }

    pub(super) fn is_read_only(&self) -> bool {
        self.state.load(Ordering::Acquire) == READ_ONLY
    }

    /// Damage outranks a full disk and is never cleared: only a fresh file ends it.
    pub(super) fn mark_damaged(&self, cause: &str) {
        let mut c = self.cause.lock().unwrap();
        if self.state.swap(DAMAGED, Ordering::AcqRel) != DAMAGED {
            *c = cause.to_string();
            tracing::error!(path = %self.path.display(), cause, "the database is damaged; writes are refused until recoverDatabase()");
        }
    }

    pub(super) fn mark_read_only(&self, cause: &str) {
        let mut c = self.cause.lock().unwrap();
        if self
            .state
            .compare_exchange(HEALTHY, READ_ONLY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            *c = cause.to_string();
            tracing::warn!(path = %self.path.display(), cause, "the database is open read-only: the writer cannot start (disk full?)");
        }
    }

    pub(super) fn mark_writable(&self) {
        if self
            .state
            .compare_exchange(READ_ONLY, HEALTHY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::info!(path = %self.path.display(), "the database writer started again; writes work");
        }
    }

    fn cause(&self) -> String {
        self.cause.lock().unwrap().clone()
    }

    /// The answer to every write on a damaged database, and to reads that hit the damage.
    pub(super) fn damage_error(&self) -> ImError {
        damaged(&self.path, &self.cause())
    }

    /// The answer to every write while the writer cannot start.
    pub(super) fn read_only_error(&self) -> ImError {
        read_only(&self.path, &self.cause())
    }

    /// Looks at an error a job returned: corruption marks the store damaged (and gets the
    /// message that says how to recover); a full disk gets the message that says nothing was
    /// written.
    pub(super) fn note(&self, e: ImError) -> ImError {
        match e.code {
            codes::DATABASE_CORRUPT => {
                self.mark_damaged(&e.msg);
                self.damage_error()
            }
            codes::DATABASE_DISK_FULL => ImError::new(
                codes::DATABASE_DISK_FULL,
                format!(
                    "the disk holding the database {} is full ({}): nothing was written; free \
                     disk space and retry",
                    self.path.display(),
                    e.msg
                ),
            ),
            _ => e,
        }
    }
}

fn damaged(path: &Path, cause: &str) -> ImError {
    ImError::new(
        codes::DATABASE_CORRUPT,
        format!(
            "the local database {} is damaged ({cause}): writes are refused so the damage does \
             not spread, reads of undamaged data still work. Call recoverDatabase() to move the \
             damaged file aside (kept as {}.corrupt-<time>) and start a fresh database; the next \
             connect() refills it from the server (local-only messages and drafts stay in the \
             moved file)",
            path.display(),
            path.file_name().unwrap_or_default().to_string_lossy(),
        ),
    )
}

fn read_only(path: &Path, cause: &str) -> ImError {
    ImError::new(
        codes::DATABASE_DISK_FULL,
        format!(
            "the database {} is open read-only because it cannot be written ({cause}; the disk \
             is full or failing): reads work, writes are refused until disk space is freed \
             (every write retries)",
            path.display()
        ),
    )
}

/// Whether the writer failed to start for want of space or a working disk (`SQLITE_FULL`,
/// `SQLITE_IOERR_*`), the failures a read-only open can still serve reads through.
pub(super) fn cannot_write(e: &ImError) -> bool {
    const SQLITE_IOERR: i32 = 10;
    const SQLITE_FULL: i32 = 13;
    e.code == codes::DATABASE_DISK_FULL
        || matches!(
            e.sqlite_code().map(|c| c & 0xff),
            Some(SQLITE_IOERR | SQLITE_FULL)
        )
}

/// A `file:` URI for `path` with `query`: every byte outside the unreserved set is
/// percent-encoded, so `?`, `#` and `%` in a directory name cannot end the path.
fn file_uri(path: &Path, query: &str) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut uri = String::from("file:");
    if !text.starts_with('/') {
        // A Windows drive path (C:/…) needs the empty authority: file:///C:/…
        uri.push_str("///");
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    uri
}

/// Opens a connection that never writes to the file, its WAL or its `-shm`: for the
/// read-only state, and for `recoverDatabase`'s check of a file nobody may change.
/// `readonly_shm` needs an `-shm` file to exist; an empty one is created if missing (what
/// SQLite itself would create, costing no disk blocks).
pub(super) fn open_read_only(path: &Path, key: Option<&EncryptionKey>) -> ImResult<Connection> {
    encryption::check_file(path, key)?;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(PathBuf::from(shm))
        .map_err(|e| {
            ImError::new(
                codes::DATABASE_DISK_FULL,
                format!(
                    "cannot open the database {} even read-only: {e}",
                    path.display()
                ),
            )
        })?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(file_uri(path, "mode=ro&readonly_shm=1"), flags)
        .map_err(|e| {
            ImError::new(
                codes::DATABASE_ERROR,
                format!("cannot open database {} read-only: {e}", path.display()),
            )
        })?;
    encryption::apply_key(&conn, path, key)?;
    migrations::refuse_newer(&conn)?;
    // A database the writer has not created or upgraded yet cannot answer this build's
    // queries, and read-only it never will be.
    let version = migrations::user_version(&conn)?;
    if version != migrations::LATEST {
        return Err(ImError::new(
            codes::DATABASE_DISK_FULL,
            format!(
                "the database {} needs {} before it can be used, and that needs disk space",
                path.display(),
                if version == 0 {
                    "creating"
                } else {
                    "an upgrade"
                }
            ),
        ));
    }
    configure(&conn, false)?;
    Ok(conn)
}

/// Tables whose size grows with the number of messages: probed at their edges only.
fn is_large(table: &str) -> bool {
    table == "messages" || table.starts_with("messages_fts")
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The open-time integrity probe (see the module comment for its cost): every table but the
/// message table and its search index gets a `quick_check` (b-tree structure, free-list and
/// pointer-map entries of its pages, its indexes); the large ones have their first and last
/// rows read, so a garbage root or edge page is found too. `Err` (33201) names the problem.
pub(super) fn probe(conn: &Connection) -> ImResult<()> {
    let tables: Vec<(String, bool)> = conn
        .prepare(
            "SELECT name, sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema \
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (table, without_rowid) in tables {
        if is_large(&table) {
            conn.query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1)",
                    quote(&table)
                ),
                [],
                |r| r.get::<_, i64>(0),
            )?;
            if !without_rowid {
                conn.query_row(
                    &format!("SELECT max(rowid) FROM {}", quote(&table)),
                    [],
                    |r| r.get::<_, Option<i64>>(0),
                )?;
            }
            continue;
        }
        let sql = format!("PRAGMA quick_check('{}')", table.replace('\'', "''"));
        let problems: Vec<String> = conn
            .prepare(&sql)?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        if problems.iter().any(|p| p != "ok") {
            return Err(ImError::new(
                codes::DATABASE_CORRUPT,
                format!(
                    "the database file is damaged: table {table}: {}",
                    problems.join("; ")
                ),
            ));
        }
    }
    Ok(())
}

/// A full `PRAGMA quick_check` (seconds on a large database): `Some(problem)` when the file
/// is damaged. Only for `recoverDatabase` on a database not already known to be damaged.
pub(super) fn full_check(conn: &Connection) -> ImResult<Option<String>> {
    let rows: Result<Vec<String>, _> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect());
    match rows {
        Ok(rows) if rows.iter().all(|r| r == "ok") => Ok(None),
        Ok(rows) => Ok(Some(rows.join("; "))),
        Err(e) => {
            let e = ImError::from(e);
            if e.code == codes::DATABASE_CORRUPT {
                Ok(Some(e.msg))
            } else {
                Err(e)
            }
        }
    }
}

/// The answer when the writer could not start and read-only failed too.
pub(super) fn unreadable(path: &Path, writer: &ImError, read_only: &ImError) -> ImError {
    if matches!(
        read_only.code,
        codes::DATABASE_CORRUPT | codes::DATABASE_KEY_INVALID
    ) {
        return read_only.clone();
    }
    ImError::new(
        codes::DATABASE_DISK_FULL,
        format!(
            "cannot open the database {}: it cannot be written ({}; the disk is full or \
             failing) and not opened read-only either ({})",
            path.display(),
            writer.msg,
            read_only.msg
        ),
    )
}

impl Health {
    /// `Err` with the refusal when no write may run now.
    pub(super) fn refuse_write(&self) -> ImResult<()> {
        match self.state.load(Ordering::Acquire) {
            DAMAGED => Err(self.damage_error()),
            READ_ONLY => Err(self.read_only_error()),
            _ => Ok(()),
        }
    }

    /// A failed restart of the writer: damage found on the way counts; otherwise the store
    /// stays read-only and the write gets the read-only answer.
    fn restart_failed(&self, e: ImError) -> ImError {
        tracing::debug!(error = %e, "the database writer still cannot start");
        match e.code {
            codes::DATABASE_CORRUPT => self.note(e),
            _ if cannot_write(&e) => self.read_only_error(),
            _ => e,
        }
    }
}

impl super::Store {
    /// Whether SQLite reported corruption on this database: writes are refused until
    /// `recoverDatabase()` replaces the file.
    pub fn is_damaged(&self) -> bool {
        self.health.is_damaged()
    }

    /// Whether the database is open read-only because the writer cannot start (disk full).
    pub fn is_read_only(&self) -> bool {
        self.health.is_read_only()
    }

    /// The 33201 answer for this database (meaningful once [`Self::is_damaged`]).
    pub fn damage_error(&self) -> ImError {
        self.health.damage_error()
    }

    /// A full `quick_check` on a reader: `Some(problem)` when the file is damaged (which
    /// also marks the store damaged). Seconds on a large database.
    pub async fn full_check(&self) -> ImResult<Option<String>> {
        let found = self.read(full_check).await?;
        if let Some(problem) = &found {
            self.health.mark_damaged(problem);
        }
        Ok(found)
    }

    /// Runs [`probe`] once the connections are up: damage marks the store damaged (the open
    /// itself succeeds, so reads of what is intact keep working); any other failure closes it.
    pub(super) async fn probe_at_open(&self) -> ImResult<()> {
        let found = Self::run(Self::sender(&self.writer)?, |conn| Ok(probe(conn))).await?;
        match found {
            Ok(()) => Ok(()),
            Err(e) if e.code == codes::DATABASE_CORRUPT => {
                self.health.mark_damaged(&e.msg);
                Ok(())
            }
            Err(e) => {
                self.close().await;
                Err(e)
            }
        }
    }

    /// Before a write: refuses it on a damaged database; while read-only, tries to start the
    /// writer first (so a write after space was freed just works).
    pub(super) async fn writable(&self) -> ImResult<()> {
        if !self.health.is_read_only() {
            return self.health.refuse_write();
        }
        let key = self.read_only_key.lock().await;
        if !self.health.is_read_only() {
            // Another write restarted it while this one waited.
            return self.health.refuse_write();
        }
        self.restart_writer(key.clone())
            .await
            .map_err(|e| self.health.restart_failed(e))?;
        self.health.mark_writable();
        Ok(())
    }

    /// Tries to start the writer. Every read-only connection is closed first, readers and
    /// the writer thread's own: measured, while any `readonly_shm` connection that found no
    /// live wal-index is open, a new writable connection can read but every write answers
    /// "attempt to write a readonly database", even with space free again. So: each reader
    /// gets a job that closes its connection and holds its thread at a barrier (so every
    /// reader has one, and the reads queued before have finished); the writer thread then
    /// opens a writable connection and proves it can take the write lock; the readers then
    /// reopen, normally if the writer started, read-only again if not. Reads arriving
    /// meanwhile wait in the queue for those few milliseconds.
    async fn restart_writer(&self, key: Option<EncryptionKey>) -> ImResult<()> {
        use std::sync::mpsc;
        let path = self.health.path.clone();
        let readers = Self::sender(&self.readers)?;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(super::READERS));
        let mut parked = Vec::with_capacity(super::READERS);
        let mut commands = Vec::with_capacity(super::READERS);
        let mut reopened = Vec::with_capacity(super::READERS);
        for _ in 0..super::READERS {
            let (closed, closed_rx) = tokio::sync::oneshot::channel::<()>();
            let (command, command_rx) = mpsc::channel::<bool>();
            let (done, done_rx) = tokio::sync::oneshot::channel::<ImResult<()>>();
            let (barrier, path, key) = (barrier.clone(), path.clone(), key.clone());
            let job: super::Job = Box::new(move |conn: &mut Connection| {
                close(conn);
                barrier.wait();
                let _ = closed.send(());
                // No answer (the restarting call went away) counts as "not started".
                let writer_started = command_rx.recv().unwrap_or(false);
                let _ = done.send(reopen_reader(conn, &path, key.as_ref(), writer_started));
            });
            readers.send(job).map_err(|_| ImError::not_open())?;
            parked.push(closed_rx);
            commands.push(command);
            reopened.push(done_rx);
        }
        for p in parked {
            p.await
                .map_err(|_| ImError::internal("a database reader thread stopped"))?;
        }
        let writer_path = path.clone();
        let started = Self::run(Self::sender(&self.writer)?, move |conn| {
            close(conn);
            match start_writer(&writer_path, key.as_ref()) {
                Ok(fresh) => {
                    *conn = fresh;
                    Ok(())
                }
                Err(e) => {
                    match open_read_only(&writer_path, key.as_ref()) {
                        Ok(ro) => *conn = ro,
                        Err(ro) => {
                            tracing::error!(error = %ro, "the database writer thread cannot reopen read-only")
                        }
                    }
                    Err(e)
                }
            }
        })
        .await;
        for c in commands {
            let _ = c.send(started.is_ok());
        }
        for r in reopened {
            if let Err(e) = r
                .await
                .unwrap_or_else(|_| Err(ImError::internal("a database reader thread stopped")))
            {
                tracing::error!(error = %e, "a database reader could not reopen");
            }
        }
        started
    }
}

/// Closes a worker's connection (an in-memory one takes its place until it reopens).
fn close(conn: &mut Connection) {
    if let Ok(memory) = Connection::open_in_memory() {
        *conn = memory;
    }
}

/// The writer's connection, once it can write: schema current, write lock obtainable.
fn start_writer(path: &Path, key: Option<&EncryptionKey>) -> ImResult<Connection> {
    let mut conn = super::open_connection(path, true, key)?;
    let ready = migrations::migrate(&mut conn)
        .and_then(|()| Ok(conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?));
    if let Err(e) = ready {
        // Dropped here: no checkpoint-on-close into a file that may be damaged.
        let _ = super::no_checkpoint_on_close(&conn, true);
        return Err(e);
    }
    Ok(conn)
}

/// A reader's connection after a restart attempt: normal once the writer runs (falling back
/// to read-only, which works beside a live writer), read-only again otherwise.
fn reopen_reader(
    conn: &mut Connection,
    path: &Path,
    key: Option<&EncryptionKey>,
    writer_started: bool,
) -> ImResult<()> {
    let fresh = if writer_started {
        super::open_connection(path, false, key).or_else(|_| open_read_only(path, key))
    } else {
        open_read_only(path, key)
    }?;
    *conn = fresh;
    Ok(())
}

impl super::Store {
    /// For callers that write outside [`super::Store::write`] (rekey, encryptDatabase): the
    /// same refusal on a damaged database, and the same writer restart while read-only.
    pub async fn ensure_writable(&self) -> ImResult<()> {
        self.writable().await
    }
}
