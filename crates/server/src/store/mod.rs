//! The server's storage, kept off the async workers: a SQLite file by default, or
//! PostgreSQL ([`Backend`]); store code runs on either through [`sql::Db`].
//!
//! All writes of a node go through one connection owned by a dedicated writer thread.
//! On SQLite the thread takes whatever jobs are queued (up to [`MAX_BATCH`]), runs each
//! in its own savepoint inside one `BEGIN IMMEDIATE` transaction and commits
//! once (group commit): a failed job rolls back only its own savepoint. On PostgreSQL,
//! where other nodes write at the same time, each job commits alone. Only
//! after the commit are replies sent and the jobs' deliveries handed to the
//! fan-out, in commit order, so no client is ever told about something that
//! is not durable and inbox pushes leave in seq order.
//!
//! Reads (pulls, settings) use a small pool of read connections inside
//! `spawn_blocking`, each read in one snapshot; WAL (or PostgreSQL's MVCC) lets them run
//! while the writer works.

mod backend;
pub mod chatroom_entries;
pub mod chatrooms;
pub mod deletes;
pub mod delivery;
pub mod groups;
pub mod media;
pub mod messages;
pub mod pg_schema;
pub mod profiles;
pub mod retention;
pub mod schema;
pub mod settings;
pub mod sql;
pub mod subscriptions;
pub mod timeline;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc as tokio_mpsc, oneshot};

pub use self::backend::Backend;
use self::backend::Conn;
use self::sql::Db;

use crate::error::ApiError;
use crate::fanout::Delivery;
use crate::log_escape::Escaped;

/// Runs of a job [`Store::write_retrying`] makes at most.
pub const CONFLICT_ATTEMPTS: u32 = 3;

/// Most jobs committed together on SQLite (PostgreSQL commits each alone: see
/// `writer_loop`).
const MAX_BATCH: usize = 256;
/// Idle read connections kept.
const READ_POOL: usize = 4;

/// What a write job produces: its value for the caller plus the pushes to send
/// once it is committed.
pub struct Outcome<T> {
    /// Returned to the caller.
    pub value: T,
    /// Handed to the fan-out after the commit.
    pub deliveries: Vec<Delivery>,
}

impl<T> Outcome<T> {
    /// An outcome without deliveries.
    pub fn quiet(value: T) -> Outcome<T> {
        Outcome {
            value,
            deliveries: Vec::new(),
        }
    }
}

type Finish = Box<dyn FnOnce(Result<(), ApiError>) -> Vec<Delivery> + Send>;
type Job = Box<dyn FnOnce(&dyn Db) -> (bool, Finish) + Send>;

enum Command {
    Job(Job),
    Stop,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Command>,
    readers: Arc<ReadPool>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

struct ReadPool {
    backend: Backend,
    idle: Mutex<Vec<Conn>>,
}

impl ReadPool {
    /// Closes the idle connections on a thread of their own: PostgreSQL's blocking client
    /// runs a runtime to close, which cannot start on an async worker (where the server
    /// shuts down and where the last handle may be dropped).
    fn close_idle(&self) {
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => return,
        };
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.close_idle();
    }
}

impl Store {
    /// Opens (creating and migrating) `data_dir/imsync-server.db` and starts
    /// the writer thread. Deliveries are sent to `fanout` after each commit.
    pub fn open(
        data_dir: &Path,
        fanout: tokio_mpsc::UnboundedSender<Vec<Delivery>>,
    ) -> Result<Store, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        Self::open_backend(Backend::Sqlite(data_dir.join("imsync-server.db")), fanout)
    }

    /// Opens `backend` (creating or migrating its schema) and starts the writer thread.
    pub fn open_backend(
        backend: Backend,
        fanout: tokio_mpsc::UnboundedSender<Vec<Delivery>>,
    ) -> Result<Store, String> {
        let (tx, rx) = mpsc::channel();
        let (opened_tx, opened) = mpsc::channel();
        let writer_backend = backend.clone();
        // The connection opens on the writer thread: PostgreSQL's blocking client runs a
        // runtime of its own, which cannot start on the async worker calling this.
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || match Conn::open(&writer_backend, true) {
                Ok(conn) => {
                    let _ = opened_tx.send(Ok(()));
                    writer_loop(conn, writer_backend, rx, fanout)
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start writer thread: {e}"))?;
        opened
            .recv()
            .map_err(|_| "the writer thread ended while opening the database".to_string())??;
        Ok(Store {
            jobs: tx,
            readers: Arc::new(ReadPool {
                backend,
                idle: Mutex::new(Vec::new()),
            }),
            writer: Arc::new(Mutex::new(Some(writer))),
        })
    }

    /// Runs `f` in the writer's transaction. Its error rolls back its own
    /// changes only; its value is returned after the commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<Outcome<T>, ApiError> + Send + 'static,
    {
        let (reply, wait) = oneshot::channel();
        let job: Job = Box::new(move |conn: &dyn Db| {
            let result = f(conn);
            let keep = result.is_ok();
            let finish: Finish =
                Box::new(move |commit: Result<(), ApiError>| match (commit, result) {
                    (Ok(()), Ok(outcome)) => {
                        let _ = reply.send(Ok(outcome.value));
                        outcome.deliveries
                    }
                    (Err(e), _) | (Ok(()), Err(e)) => {
                        let _ = reply.send(Err(e));
                        Vec::new()
                    }
                });
            (keep, finish)
        });
        self.jobs
            .send(Command::Job(job))
            .map_err(|_| ApiError::internal("store is closed"))?;
        wait.await
            .map_err(|_| ApiError::internal("writer dropped the job"))?
    }

    /// As [`Store::write`], running `f` again (up to [`CONFLICT_ATTEMPTS`] times in all)
    /// when PostgreSQL aborted it as a conflict with another node's write: an aborted run
    /// kept nothing. For jobs that write to several conversations (an admin publish to many
    /// groups or users), whose row locks cannot all be taken in one sorted order, so two
    /// nodes running such jobs at once may deadlock.
    pub async fn write_retrying<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&dyn Db) -> Result<Outcome<T>, ApiError> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let mut attempt = 1;
        loop {
            let run = f.clone();
            match self.write(move |c| run(c)).await {
                Err(e) if e.conflict && attempt < CONFLICT_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    /// Runs the read-only `f` in one snapshot on a pooled read connection, off the async
    /// workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Db) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let conn = match conn {
                Some(c) => c,
                None => Conn::open(&pool.backend, false).map_err(ApiError::internal)?,
            };
            conn.begin_read()?;
            let result = f(conn.db());
            // A connection whose snapshot did not end cleanly (or was lost) is not reused.
            if conn.end_read(result.is_ok()).is_ok() {
                if let Ok(mut idle) = pool.idle.lock() {
                    if idle.len() < READ_POOL {
                        idle.push(conn);
                    }
                }
            }
            result
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Finishes every job queued so far, then stops the writer and closes the
    /// database (checkpointing the WAL). Later writes fail.
    pub fn shutdown(&self) {
        let _ = self.jobs.send(Command::Stop);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        self.readers.close_idle();
    }
}

fn writer_loop(
    mut conn: Conn,
    backend: Backend,
    jobs: mpsc::Receiver<Command>,
    fanout: tokio_mpsc::UnboundedSender<Vec<Delivery>>,
) {
    // On PostgreSQL each job commits alone. Other nodes write at the same time, and a
    // transaction holding several jobs' row locks (each job's in sorted order, but not
    // across jobs) could deadlock with theirs; PostgreSQL would then abort the whole batch,
    // and jobs cannot be run again. One job's locks are always taken in sorted order.
    let max_batch = match backend {
        Backend::Sqlite(_) => MAX_BATCH,
        Backend::Postgres(_) => 1,
    };
    let mut stopping = false;
    while !stopping {
        let mut batch = match jobs.recv() {
            Ok(Command::Job(job)) => vec![job],
            Ok(Command::Stop) | Err(_) => break,
        };
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(Command::Job(job)) => batch.push(job),
                Ok(Command::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if let Err(e) = conn.begin_write() {
            // A PostgreSQL server that restarted (or a failover) broke the connection:
            // open a new one and try once more.
            let reopened = match &backend {
                Backend::Postgres(_) => Conn::open(&backend, false).ok(),
                Backend::Sqlite(_) => None,
            };
            match reopened {
                Some(c) if c.begin_write().is_ok() => {
                    tracing::warn!(error = %Escaped(&e), "the writer reconnected to the database");
                    conn = c;
                }
                _ => {
                    // Dropping the jobs drops their reply channels: each caller gets an
                    // internal error and nothing was written.
                    tracing::error!(error = %Escaped(&e), jobs = batch.len(), "cannot begin a transaction");
                    continue;
                }
            }
        }
        match (&backend, batch.pop()) {
            (Backend::Postgres(_), Some(job)) => run_alone(&conn, job, &fanout),
            (_, last) => {
                batch.extend(last);
                run_batch(&conn, batch, &fanout)
            }
        }
    }
    conn.close();
}

/// PostgreSQL: one job in the transaction `conn` has begun with its savepoint. RELEASE and
/// COMMIT go in one round trip: if the job went on past a failed statement, RELEASE fails
/// and PostgreSQL skips the COMMIT, so the job is reported failed, never committed.
fn run_alone(conn: &Conn, job: Job, fanout: &tokio_mpsc::UnboundedSender<Vec<Delivery>>) {
    let Ok((keep, finish)) = catch_unwind(AssertUnwindSafe(|| job(conn.db()))) else {
        tracing::error!("a write job panicked; its changes were rolled back");
        let _ = conn.run("ROLLBACK");
        return;
    };
    let commit = if keep {
        let done = conn.run("RELEASE job; COMMIT");
        if done.is_err() {
            let _ = conn.run("ROLLBACK");
        }
        done
    } else {
        // The job's own error is its answer; nothing of it stays.
        let _ = conn.run("ROLLBACK");
        Ok(())
    };
    let deliveries = finish(commit);
    if !deliveries.is_empty() {
        let _ = fanout.send(deliveries);
    }
}

/// Runs a batch in the transaction `conn` has begun, each job in its own savepoint, and
/// commits once.
fn run_batch(conn: &Conn, batch: Vec<Job>, fanout: &tokio_mpsc::UnboundedSender<Vec<Delivery>>) {
    let mut finishes = Vec::with_capacity(batch.len());
    // Savepoint handling that failed leaves the transaction in an unknown state (on
    // PostgreSQL, aborted, where COMMIT quietly rolls back): the batch is rolled back.
    let mut poisoned = false;
    for job in batch {
        if conn.run("SAVEPOINT job").is_err() {
            poisoned = true;
        }
        // A panicking job (a bug) must not take the writer thread, and with
        // it every later write, down: its savepoint is rolled back and its
        // caller, whose reply channel is dropped, gets an internal error.
        let Ok((keep, finish)) = catch_unwind(AssertUnwindSafe(|| job(conn.db()))) else {
            tracing::error!("a write job panicked; its changes were rolled back");
            poisoned |= conn.run("ROLLBACK TO job; RELEASE job").is_err();
            continue;
        };
        let mut own = Ok(());
        if !keep {
            poisoned |= conn.run("ROLLBACK TO job").is_err();
        }
        if conn.run("RELEASE job").is_err() {
            // The job went on past a failed statement (PostgreSQL then refuses every
            // statement until the savepoint is rolled back): undo it, and tell its caller.
            own = Err(ApiError::internal(
                "a statement of the write failed: rolled back",
            ));
            poisoned |= conn.run("ROLLBACK TO job; RELEASE job").is_err();
        }
        finishes.push((finish, own));
    }
    let commit = if poisoned {
        tracing::error!("savepoint handling failed; the batch is rolled back");
        Err(ApiError::internal("the write was rolled back"))
    } else {
        conn.run("COMMIT")
    };
    if commit.is_err() {
        let _ = conn.run("ROLLBACK");
    }
    for (finish, own) in finishes {
        let deliveries = finish(commit.clone().and(own));
        if !deliveries.is_empty() {
            let _ = fanout.send(deliveries);
        }
    }
}

#[cfg(test)]
mod query_plans {
    //! Every hot query must be answered through an index: one full scan in
    //! the send path (a partial index the planner could not use) once cost
    //! a millisecond per message.

    use rusqlite::Connection;

    use super::{messages, schema};

    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let params: Vec<rusqlite::types::Value> = (0..stmt.parameter_count())
            .map(|_| rusqlite::types::Value::Text("x".into()))
            .collect();
        stmt.query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    #[test]
    fn hot_queries_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        for sql in [
            messages::SQL_NEXT_SEQ,
            messages::SQL_MOVE_HEADS,
            messages::SQL_APPEND_PAIRS,
            messages::SQL_HEAD_SEQ,
            messages::SQL_DEDUP,
            messages::SQL_SEQ_OF,
            messages::SQL_MIN_SEQ,
            messages::SQL_LOAD,
            messages::SQL_OWNS,
            messages::SQL_OWNERS,
            messages::SQL_PULL_PAGE,
            messages::SQL_HISTORY_BEFORE,
            messages::SQL_HISTORY_AFTER,
            super::settings::SQL_IS_BLOCKED,
            super::groups::SQL_IS_MEMBER,
            super::groups::SQL_MEMBERS,
            super::delivery::SQL_ACKED,
            super::delivery::SQL_ACK_RANGE,
            super::delivery::SQL_RECIPIENTS,
            super::profiles::SQL_BY_USER,
            super::profiles::SQL_BY_UNIQUE_ID,
            crate::moderation::SQL_BLOCKED_DEDUP,
            super::deletes::SQL_DELETE_ROW,
            super::deletes::SQL_TOMBSTONED,
            super::deletes::SQL_CLEAR,
            super::timeline::SQL_BEHIND,
            super::timeline::SQL_BEHIND_ONE,
            super::timeline::SQL_IS_BEHIND,
            super::timeline::SQL_BEHIND_IN_GROUP,
            super::timeline::SQL_TIMELINE_AFTER,
            super::timeline::SQL_MOVE_CURSORS,
        ] {
            let plan = plan(&conn, sql);
            // Set-based statements read their JSON argument whole (and what is derived
            // from it: `pairs`, `counts`, `moves`); no table may be.
            let of_argument = |step: &str| {
                step.contains("json_each")
                    || step.contains("(subquery-")
                    || ["SCAN pairs", "SCAN counts", "SCAN moves"].contains(&step)
            };
            assert!(
                plan.iter()
                    .all(|step| !step.starts_with("SCAN") || of_argument(step)),
                "full scan in {sql:?}: {plan:?}"
            );
        }
    }
}

#[cfg(test)]
mod reprepare {
    use rusqlite::types::Value;
    use rusqlite::{Connection, StatementStatus};

    use super::schema;

    /// SQLite recompiles some statements whenever a parameter is bound again (a join of
    /// `timeline_cursors` with `group_heads` did: +50% server CPU per 1:1 send). The reads
    /// of every send must keep their plans. (Pages read with `LIMIT ?` are recompiled too,
    /// once per page: the planner uses the limit's value.)
    #[test]
    fn hot_reads_keep_their_plans_when_rebound() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        // Each statement with its parameters' types: t text, i integer.
        for (sql, types) in [
            (super::timeline::SQL_BEHIND_ONE, "t"),
            (super::timeline::SQL_IS_BEHIND, "t"),
            (super::timeline::SQL_BEHIND_IN_GROUP, "t"),
            (super::timeline::SQL_TIMELINE_AFTER, "ti"),
            (super::messages::SQL_DEDUP, "tt"),
            (super::messages::SQL_HEAD_SEQ, "t"),
            (super::settings::SQL_IS_BLOCKED, "tt"),
            (super::groups::SQL_IS_MEMBER, "tt"),
            (crate::moderation::SQL_BLOCKED_DEDUP, "tt"),
        ] {
            let mut reprepared = 0;
            for n in 1..=3i64 {
                let mut stmt = conn.prepare_cached(sql).unwrap();
                assert_eq!(stmt.parameter_count(), types.len(), "{sql}");
                let params: Vec<Value> = types
                    .chars()
                    .map(|t| match t {
                        't' => Value::Text(format!("v{n}")),
                        _ => Value::Integer(n),
                    })
                    .collect();
                let mut rows = stmt.query(rusqlite::params_from_iter(params)).unwrap();
                while rows.next().unwrap().is_some() {}
                drop(rows);
                reprepared = stmt.get_status(StatementStatus::RePrepare);
            }
            assert_eq!(reprepared, 0, "{sql}");
        }
    }
}
