//! A second connection that copies WAL frames back into the database file while the writer
//! goes on writing.
//!
//! At a million messages a 500-message commit appends about 1,900 WAL frames, and copying
//! them back (the checkpoint) cost the writer more than FTS5 did (BENCHMARKS.md, issue 13).
//! A PASSIVE checkpoint takes no write lock, so it can run on its own thread beside the
//! writer's commits. The writer still runs the last, short checkpoint itself: only a
//! checkpoint that has copied every frame lets the next commit restart the WAL from the
//! start, and with commits arriving all the time only the writer, between two of its jobs,
//! sees a moment with no new frame. With this thread keeping up, that last step copies one
//! or two commits' frames instead of 64 MiB.
//!
//! Only plain databases get one. A SQLCipher key can change under an open connection
//! (`rekey`, `encryptDatabase`), and a connection left with the old key must not touch the
//! file; encrypted databases checkpoint on the writer as before.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use rusqlite::Connection;

use super::health::Health;
use crate::error::ImResult;

/// Shared by the writer thread and the store (which stops it before replacing the file).
#[derive(Default)]
pub(super) struct Checkpointer {
    running: Mutex<Option<Running>>,
    /// Held for the length of any checkpoint, the writer's or the thread's: two PASSIVE
    /// checkpoints at once make the second one give up (busy) rather than wait.
    copying: Mutex<()>,
    /// Rounds the thread has completed without an error (tests wait on it).
    rounds: AtomicU64,
}

struct Running {
    poke: Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the thread with its own connection; without one (it could not open) the writer
    /// simply does all the checkpointing, as for an encrypted database.
    pub(super) fn start(self: &Arc<Self>, path: &Path, health: Arc<Health>) {
        // At most one thread: a second start replaces (and first ends) the first.
        self.stop();
        let conn = match open(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint thread: the writer checkpoints");
                return;
            }
        };
        // One pending poke is enough: a round copies everything committed before it starts.
        let (poke, pokes) = crossbeam_channel::bounded::<()>(1);
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("imsync-db-checkpoint".into())
            .spawn(move || {
                yield_to_the_app();
                while pokes.recv().is_ok() {
                    let _copying = me.lock();
                    match passive(&conn, &health) {
                        Ok(()) => {
                            me.rounds.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            tracing::warn!(error = %health.note(e), "background checkpoint failed")
                        }
                    }
                }
            });
        match spawned {
            Ok(thread) => *self.running.lock().unwrap() = Some(Running { poke, thread }),
            Err(e) => tracing::warn!(error = %e, "no checkpoint thread: the writer checkpoints"),
        }
    }

    /// Asks for a round unless one is already pending; never blocks the writer.
    pub(super) fn poke(&self) {
        if let Some(r) = self.running.lock().unwrap().as_ref() {
            // Full: a round is already pending, which will copy this commit too.
            let _ = r.poke.try_send(());
        }
    }

    #[cfg(test)]
    pub(super) fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    pub(super) fn is_running(&self) -> bool {
        self.running.lock().unwrap().is_some()
    }

    /// Waits for the round in progress, if any, and closes the connection, so that nothing
    /// but the writer has the file open (before it is replaced, or at close).
    pub(super) fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some(Running { poke, thread }) = running {
            drop(poke);
            let _ = thread.join();
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.copying.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// For the writer's own checkpoint: None while a background round is copying (the
    /// writer goes on with its jobs and tries again after the next one, rather than wait
    /// for a copy of up to 64 MiB).
    pub(super) fn try_lock(&self) -> Option<MutexGuard<'_, ()>> {
        match self.copying.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// Runs this thread at a lower priority: on two cores the copying competed with the app's
/// JS thread, and the event loop's delay matters more than when a checkpoint ends.
#[cfg(target_os = "linux")]
fn yield_to_the_app() {
    // On Linux the nice value is per thread, and `who` 0 is the calling thread.
    // SAFETY: a plain system call with no pointers; a failure only leaves the priority as
    // it was.
    let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if done != 0 {
        tracing::debug!("the checkpoint thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_the_app() {}

/// A writable connection (checkpoints write the database file) that never checkpoints on
/// close: the writer's final checkpoint, after this one is gone, is the one that truncates.
fn open(path: &Path) -> ImResult<Connection> {
    let conn = super::open_connection(path, false, None)?;
    super::no_checkpoint_on_close(&conn, true)?;
    conn.pragma_update(None, "query_only", false)?;
    Ok(conn)
}

/// One PASSIVE checkpoint: copies what no reader still needs, never waits for a lock.
pub(super) fn passive(conn: &Connection, health: &Health) -> ImResult<()> {
    health.refuse_write()?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::Store;

    /// Commits about 8 MB of WAL in one job and waits (with a deadline) for rounds.
    async fn big_commit_then_rounds(store: &Store) -> u64 {
        Store::run(Store::sender(&store.writer).unwrap(), |conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS filler (b BLOB); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO filler SELECT randomblob(4000) FROM n;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.checkpointer.rounds() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store.checkpointer.rounds()
    }

    #[tokio::test]
    async fn a_plain_database_copies_wal_frames_on_the_checkpoint_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("p.db"), None).await.unwrap();
        assert!(store.checkpointer.is_running());
        assert!(
            big_commit_then_rounds(&store).await > 0,
            "no background round ran"
        );
        store.close().await;
        assert!(!store.checkpointer.is_running(), "close stops the thread");
        let wal = std::fs::metadata(dir.path().join("p.db-wal")).map(|m| m.len());
        assert!(
            matches!(wal, Ok(0) | Err(_)),
            "close still truncates the WAL: {wal:?}"
        );
    }

    #[tokio::test]
    async fn an_encrypted_database_has_no_checkpoint_thread() {
        let dir = tempfile::tempdir().unwrap();
        let raw = serde_json::json!(format!("x'{}'", "ab".repeat(32)));
        let key = crate::options::EncryptionKey::parse(Some(&raw), "key").unwrap();
        let store = Store::open(dir.path().join("e.db"), key).await.unwrap();
        assert!(
            !store.checkpointer.is_running(),
            "a key can change under it"
        );
        store.close().await;
    }
}
