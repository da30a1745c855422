//! The per-user SQLite database: one writer connection on its own thread and a small pool
//! of reader threads. Callers hand them closures and await the answer, so no database work
//! ever runs on the JS thread or blocks a tokio worker, and every write is serialised
//! through one connection in `BEGIN IMMEDIATE` transactions.

mod checkpointer;
pub mod conversations;
pub mod deletes;
pub mod encryption;
mod health;
pub mod history;
pub mod inbox;
mod meta;
mod migrations;
pub mod notices;
pub mod recovery;
pub mod search;
pub mod search_index;
pub mod settings;
pub mod tokenizer;
pub mod unread;
pub mod writes;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::codes;
use crate::error::{ImError, ImResult};

pub use migrations::LATEST as SCHEMA_VERSION;

#[cfg(test)]
pub(crate) fn migrations_for_tests(conn: &mut Connection) {
    migrations::migrate(conn).expect("migrate");
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

const READERS: usize = 2;

pub struct Store {
    /// Set by `close`, so background work stops requeueing itself and closing is prompt.
    closing: Arc<AtomicBool>,
    writer: Mutex<Option<Sender<Job>>>,
    readers: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The file and its SQLCipher key (None: a plain database), for rekey / encrypt.
    keying: encryption::Keying,
    /// Damaged or read-only (disk full); see `health.rs`.
    health: Arc<health::Health>,
    /// Copies WAL frames back beside the writer (plain databases only).
    checkpointer: Arc<checkpointer::Checkpointer>,
    /// The key the writer restarts with after a read-only open (read-only is only ever
    /// entered at open, and no rekey runs while read-only: it needs the writer). The lock
    /// serialises the restart attempts of concurrent writes.
    read_only_key: tokio::sync::Mutex<Option<crate::options::EncryptionKey>>,
}

fn configure(conn: &Connection, writer: bool) -> ImResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if writer {
        // auto_vacuum must be chosen before the first table exists; on an existing file
        // this is a no-op.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ImError::new(
                codes::DATABASE_ERROR,
                format!("could not enable WAL (got {mode})"),
            ));
        }
    } else {
        conn.pragma_update(None, "query_only", true)?;
    }
    // Keeps cached statements compiled: without the query-planner stability guarantee,
    // SQLite re-prepares a statement with a bound LIMIT or `= ?` every time it comes back
    // from the cache (measured: 3 µs → 38 µs per conversation lookup). imsync never runs
    // ANALYZE, so a fixed plan loses nothing.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    tokenizer::register(conn)?;
    search_index::register(conn)?;
    Ok(())
}

fn open_connection(
    path: &Path,
    writer: bool,
    key: Option<&crate::options::EncryptionKey>,
) -> ImResult<Connection> {
    // A key that cannot fit the file (set for a plain one, missing for an encrypted one) is
    // refused before the file is opened at all.
    encryption::check_file(path, key)?;
    // Checked before any pragma that could write, so a newer database is left untouched.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let side_files = SideFiles::before_open(path);
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        ImError::new(
            codes::DATABASE_ERROR,
            format!("cannot open database {}: {e}", path.display()),
        )
    })?;
    let ready = (|| {
        // The key is the first statement: nothing can read the file before it.
        encryption::apply_key(&conn, path, key)?;
        // Until the connection is ready, closing it must not checkpoint: one that fails here
        // on a damaged file leaves the file and its WAL as they are (for recoverDatabase).
        no_checkpoint_on_close(&conn, true)?;
        migrations::refuse_newer(&conn)?;
        configure(&conn, writer)?;
        no_checkpoint_on_close(&conn, false)
    })();
    match ready {
        Ok(()) => Ok(conn),
        Err(e) => {
            drop(conn);
            side_files.remove_created_empty();
            Err(e)
        }
    }
}

/// Which of a database's `-wal` / `-shm` files existed before a connection opened it. A
/// connection that is refused (a newer schema, a wrong key, a damaged file) closes without
/// a checkpoint, which leaves behind the empty WAL and the index it created; those — and
/// only those — are removed again, so a refused open leaves the folder as it found it.
struct SideFiles {
    wal: (PathBuf, bool),
    shm: (PathBuf, bool),
}

impl SideFiles {
    fn before_open(path: &Path) -> Self {
        let side = |suffix: &str| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            let existed = p.exists();
            (p, existed)
        };
        Self {
            wal: side("-wal"),
            shm: side("-shm"),
        }
    }

    fn remove_created_empty(&self) {
        let (wal, wal_existed) = &self.wal;
        if *wal_existed {
            return;
        }
        match std::fs::metadata(wal) {
            Ok(m) if m.len() == 0 => {
                let _ = std::fs::remove_file(wal);
            }
            Ok(_) => return,
            Err(_) => {}
        }
        let (shm, shm_existed) = &self.shm;
        if !*shm_existed {
            let _ = std::fs::remove_file(shm);
        }
    }
}

fn no_checkpoint_on_close(conn: &Connection, on: bool) -> ImResult<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        on,
    )?;
    Ok(())
}

/// `read_only`: open with `health::open_read_only` (the writer could not start).
/// `checkpointer`: given to the writer only.
#[allow(clippy::too_many_arguments)]
fn spawn_worker(
    name: String,
    path: PathBuf,
    writer: bool,
    read_only: bool,
    key: Option<crate::options::EncryptionKey>,
    jobs: Receiver<Job>,
    ready: oneshot::Sender<ImResult<()>>,
    health: Arc<health::Health>,
    checkpointer: Option<Arc<checkpointer::Checkpointer>>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let opened = if read_only {
            health::open_read_only(&path, key.as_ref())
        } else {
            open_connection(&path, writer, key.as_ref()).and_then(|mut c| {
                if writer {
                    if let Err(e) = migrations::migrate(&mut c) {
                        // Dropped below: no checkpoint into a file that may be damaged.
                        let _ = no_checkpoint_on_close(&c, true);
                        return Err(e);
                    }
                }
                Ok(c)
            })
        };
        let mut conn = match opened {
            Ok(c) => {
                let _ = ready.send(Ok(()));
                c
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        match checkpointer {
            Some(ckpt) if writer && !read_only => {
                if key.is_none() {
                    ckpt.start(&path, health.clone());
                }
                writer_loop(&mut conn, &jobs, &health, &ckpt);
                // Its connection is gone before the final checkpoint below.
                ckpt.stop();
            }
            _ => {
                while let Ok(job) = jobs.recv() {
                    run_job(&mut conn, job);
                }
            }
        }
        if health.is_damaged() {
            // Nothing may copy the WAL into a damaged file (closing the last connection
            // would): recoverDatabase moves both aside exactly as they are.
            let _ = no_checkpoint_on_close(&conn, true);
        } else if writer && !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            // Leave a compact WAL behind so the next open is fast.
            let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        }
    })
}

/// A panicking job only loses its own answer (its caller gets 35005); the connection and
/// the thread carry on.
fn run_job(conn: &mut Connection, job: Job) {
    if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
        tracing::error!("a database job panicked; its caller gets an error");
    }
}

/// WAL pages after which the idle writer checkpoints.
const CHECKPOINT_IDLE_PAGES: i32 = 1000;
/// WAL pages (64 MiB at 4 KiB) after which the writer checkpoints between two jobs, idle or
/// not.
const CHECKPOINT_BUSY_PAGES: i32 = 16_384;

/// The writer runs its jobs in order and does the upkeep between them, never inside a
/// job's commit:
/// - it feeds the search backlog to FTS5 (see `search_index`): a full batch as soon as one
///   has built up, a partial one once no job has come for `search_index::IDLE`;
/// - it checkpoints the WAL. SQLite's automatic checkpoint runs inside the commit that
///   passes 1,000 pages, and a 500-message insert scattered over hundreds of conversations
///   dirties more pages than that, so every such commit paid a checkpoint (and its fsyncs)
///   for pages the next commit dirties again. Checkpointing when idle, or past
///   [`CHECKPOINT_BUSY_PAGES`], copies each hot page once per many commits.
///
/// With the checkpoint thread running (see `checkpointer`), the writer pokes it after each
/// commit that leaves [`CHECKPOINT_IDLE_PAGES`] in the WAL, and its own checkpoints only
/// copy what the thread has not yet copied.
///
/// A job waits for at most one batch or one checkpoint.
fn writer_loop(
    conn: &mut Connection,
    jobs: &Receiver<Job>,
    health: &health::Health,
    ckpt: &checkpointer::Checkpointer,
) {
    use crossbeam_channel::RecvTimeoutError;
    use std::sync::atomic::AtomicI32;
    let wal_pages = Arc::new(AtomicI32::new(0));
    let seen = wal_pages.clone();
    // Replaces SQLite's automatic checkpoint (which is itself a WAL hook).
    if let Err(e) = conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
        seen.store(pages, Ordering::Relaxed);
        Ok(())
    })) {
        tracing::warn!(error = %e, "no WAL hook: SQLite checkpoints in the commit");
    }
    let checkpoint = |conn: &Connection| {
        let Some(_copying) = ckpt.try_lock() else {
            // A background round is copying; `wal_pages` stays, so this comes again.
            return;
        };
        match checkpointer::passive(conn, health) {
            // Restarted by the next commit when every frame was copied; otherwise tried again.
            Ok(()) => wal_pages.store(0, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %health.note(e), "checkpoint failed"),
        }
    };
    let mut backlog = search_index::backlog(conn).unwrap_or(0);
    loop {
        let pages = wal_pages.load(Ordering::Relaxed);
        if pages >= CHECKPOINT_BUSY_PAGES {
            checkpoint(conn);
        }
        let job = if backlog > 0 || pages >= CHECKPOINT_IDLE_PAGES {
            match jobs.recv_timeout(search_index::IDLE) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => break,
            }
        };
        match job {
            Some(job) => {
                let changes = conn.total_changes();
                run_job(conn, job);
                if conn.total_changes() != changes {
                    if wal_pages.load(Ordering::Relaxed) >= CHECKPOINT_IDLE_PAGES {
                        ckpt.poke();
                    }
                    backlog = search_index::backlog(conn).unwrap_or(0);
                    if backlog >= search_index::BATCH as i64 {
                        backlog = index_step(conn, health, jobs);
                    }
                }
            }
            None => {
                while backlog > 0 && jobs.is_empty() {
                    backlog = index_step(conn, health, jobs);
                }
                if jobs.is_empty() && wal_pages.load(Ordering::Relaxed) >= CHECKPOINT_IDLE_PAGES {
                    checkpoint(conn);
                }
            }
        }
    }
}

/// Indexes up to one batch of the backlog in its own transaction, in chunks, stopping
/// after the chunk during which a job arrived; returns the backlog left (0 after a failure:
/// the next write looks again).
fn index_step(conn: &mut Connection, health: &health::Health, jobs: &Receiver<Job>) -> i64 {
    let mut step = || -> ImResult<i64> {
        health.refuse_write()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut moved = 0;
        while moved < search_index::BATCH {
            let n = search_index::index_backlog(&tx, search_index::CHUNK)?;
            moved += n;
            if n < search_index::CHUNK || !jobs.is_empty() {
                break;
            }
        }
        let left = search_index::backlog(&tx)?;
        tx.commit()?;
        Ok(left)
    };
    match step() {
        Ok(left) => left,
        Err(e) => {
            tracing::warn!(error = %health.note(e), "indexing the search backlog failed");
            0
        }
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`. Runs off the
    /// caller's thread; resolves once the writer and every reader are ready.
    /// `key`: the SQLCipher key (`encryptionKey`), applied first on every connection.
    pub async fn open(
        path: PathBuf,
        key: Option<crate::options::EncryptionKey>,
    ) -> ImResult<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ImError::invalid(format!("dbpath {} is not writable: {e}", dir.display()))
            })?;
        }
        let (wtx, wrx) = crossbeam_channel::unbounded::<Job>();
        let (rtx, rrx) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::new();
        let spawn_err =
            |e: std::io::Error| ImError::internal(format!("cannot start database thread: {e}"));

        let health = Arc::new(health::Health::new(path.clone()));
        let checkpointer = Arc::new(checkpointer::Checkpointer::default());
        // The writer thread, with a writable connection or (disk full) a read-only one.
        let spawn_writer = |read_only: bool, ready_tx| {
            spawn_worker(
                "imsync-db-writer".into(),
                path.clone(),
                true,
                read_only,
                key.clone(),
                wrx.clone(),
                ready_tx,
                health.clone(),
                Some(checkpointer.clone()),
            )
            .map_err(spawn_err)
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        threads.push(spawn_writer(false, ready_tx)?);
        let mut writer_ready = ready_rx
            .await
            .unwrap_or_else(|_| Err(ImError::internal("database writer thread died")));
        // A full (or failing) disk keeps the writer from starting: serve reads read-only,
        // with the writer thread holding a read-only connection until a write restarts it.
        let read_only = matches!(&writer_ready, Err(e) if health::cannot_write(e));
        if let Err(cause) = writer_ready.as_ref().map_err(Clone::clone) {
            if read_only {
                health.mark_read_only(&cause.msg);
                let (ready_tx, ready_rx) = oneshot::channel();
                threads.push(spawn_writer(true, ready_tx)?);
                writer_ready = ready_rx
                    .await
                    .unwrap_or_else(|_| Err(ImError::internal("database writer thread died")))
                    .map_err(|ro| health::unreadable(&path, &cause, &ro));
            }
        }
        if let Err(e) = writer_ready {
            drop(wtx);
            for t in threads {
                let _ = t.join();
            }
            return Err(health.note(e));
        }
        let store = Store {
            closing: Arc::new(AtomicBool::new(false)),
            writer: Mutex::new(Some(wtx)),
            readers: Mutex::new(Some(rtx)),
            threads: Mutex::new(threads),
            keying: encryption::Keying::new(path.clone(), key.clone()),
            health,
            checkpointer,
            read_only_key: tokio::sync::Mutex::new(key.clone()),
        };
        for i in 0..READERS {
            let (ready_tx, ready_rx) = oneshot::channel();
            let handle = spawn_worker(
                format!("imsync-db-reader-{i}"),
                path.clone(),
                false,
                read_only,
                key.clone(),
                rrx.clone(),
                ready_tx,
                store.health.clone(),
                None,
            )
            .map_err(spawn_err)?;
            store.threads.lock().unwrap().push(handle);
            if let Err(e) = ready_rx
                .await
                .unwrap_or_else(|_| Err(ImError::internal("database reader thread died")))
            {
                // Noted first: a damaged file must not be checkpointed into by the close.
                let e = store.health.note(e);
                store.close().await;
                return Err(e);
            }
        }
        store.probe_at_open().await?;
        Ok(store)
    }

    fn sender(slot: &Mutex<Option<Sender<Job>>>) -> ImResult<Sender<Job>> {
        slot.lock().unwrap().clone().ok_or_else(ImError::not_open)
    }

    async fn run<R, F>(tx: Sender<Job>, f: F) -> ImResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> ImResult<R> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        tx.send(Box::new(move |conn: &mut Connection| {
            let _ = done.send(f(conn));
        }))
        .map_err(|_| ImError::not_open())?;
        answer
            .await
            .unwrap_or_else(|_| Err(ImError::internal("internal error in the database thread")))
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the writer: it commits when `f`
    /// returns Ok and rolls back (changing nothing) when it returns an error.
    pub async fn write<R, F>(&self, f: F) -> ImResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction) -> ImResult<R> + Send + 'static,
    {
        self.writable().await?;
        let health = self.health.clone();
        Self::run(Self::sender(&self.writer)?, move |conn| {
            // Checked again here: damage seen by a job queued before this one counts.
            health.refuse_write()?;
            let transaction = || {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            };
            transaction().map_err(|e| health.note(e))
        })
        .await
    }

    /// Runs `f` on a reader connection (a consistent WAL snapshot per statement).
    pub async fn read<R, F>(&self, f: F) -> ImResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> ImResult<R> + Send + 'static,
    {
        let health = self.health.clone();
        Self::run(Self::sender(&self.readers)?, move |conn| {
            f(conn).map_err(|e| health.note(e))
        })
        .await
    }

    /// Indexes the whole search backlog now and returns how many rows it held. The writer
    /// does this on its own in the background; tests and benchmarks call it to search a
    /// known state of the index.
    pub async fn index_search_backlog(&self) -> ImResult<usize> {
        self.write(|tx| search_index::index_backlog(tx, usize::MAX >> 1))
            .await
    }

    /// Reclaims the free pages left by deletes, a few hundred pages per writer job so other
    /// calls interleave with it instead of waiting for one long VACUUM (the vendor's
    /// `cleanSpace` blocks the process; this never does).
    pub fn reclaim_space_in_background(&self) {
        let Ok(tx) = Self::sender(&self.writer) else {
            return;
        };
        let again = tx.clone();
        let closing = self.closing.clone();
        let health = self.health.clone();
        let _ = tx.send(Box::new(move |conn: &mut Connection| {
            reclaim_step(conn, again, closing, health, 0)
        }));
    }

    /// Stops the threads after they drain queued work. Idempotent.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.writer.lock().unwrap().take();
        self.readers.lock().unwrap().take();
        let threads: Vec<_> = std::mem::take(&mut *self.threads.lock().unwrap());
        if threads.is_empty() {
            return;
        }
        let (done, joined) = oneshot::channel();
        std::thread::spawn(move || {
            for t in threads {
                let _ = t.join();
            }
            let _ = done.send(());
        });
        let _ = joined.await;
    }
}

/// One step of background space reclaim: first let FTS5 merge away deleted index entries,
/// then hand free pages back to the file system; requeues itself until nothing is left.
fn reclaim_step(
    conn: &mut Connection,
    tx: Sender<Job>,
    closing: Arc<AtomicBool>,
    health: Arc<health::Health>,
    merges: u32,
) {
    if closing.load(Ordering::Relaxed) || health.refuse_write().is_err() {
        return;
    }
    let step = || -> ImResult<bool> {
        if merges < 64 {
            let before = conn.total_changes();
            conn.execute(
                "INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', 200)",
                [],
            )?;
            if conn.total_changes() - before > 1 {
                return Ok(true);
            }
        }
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if free == 0 {
            return Ok(false);
        }
        // Each step of this pragma frees one page: run it to completion.
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum(512)")?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        drop(vacuum);
        let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
        Ok(true)
    };
    match step() {
        Ok(true) => {
            let again = tx.clone();
            let _ = tx.send(Box::new(move |c: &mut Connection| {
                reclaim_step(c, again, closing, health, merges + 1)
            }));
        }
        Ok(false) => tracing::debug!("disk space reclaimed"),
        Err(e) => tracing::warn!(error = %health.note(e), "reclaiming disk space stopped"),
    }
}

#[cfg(test)]
mod index_step_tests {
    use super::*;

    #[test]
    fn a_waiting_job_cuts_an_indexing_batch_after_one_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        tokenizer::register(&conn).unwrap();
        search_index::register(&conn).unwrap();
        migrations_for_tests(&mut conn);
        let queued = 3 * search_index::CHUNK as i64;
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO fts_pending (id, text) SELECT i, 'word ' || i FROM n",
            [queued],
        )
        .unwrap();
        let health = health::Health::new(dir.path().join("t.db"));
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();

        tx.send(Box::new(|_: &mut Connection| {})).unwrap();
        let left = index_step(&mut conn, &health, &rx);
        assert_eq!(
            left,
            queued - search_index::CHUNK as i64,
            "one chunk, then the job"
        );

        drop(rx.try_recv().unwrap());
        assert_eq!(
            index_step(&mut conn, &health, &rx),
            0,
            "nobody waits: the rest"
        );
        let indexed: i64 = conn
            .query_row(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'word'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexed, queued);
    }
}
