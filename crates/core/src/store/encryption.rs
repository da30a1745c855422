//! SQLCipher keys of the user database (`EngineOptions.encryptionKey`), `rekey` and
//! `encryptDatabase`.
//!
//! How a key is applied: every connection (the writer and each reader) runs `PRAGMA key`
//! as its first statement after `sqlite3_open`, then reads `sqlite_schema` — the first read of
//! page 1, which SQLCipher can only decrypt with the right key — before anything else (the
//! schema-version check, WAL setup, migrations) touches the file. The key text is passed as
//! a quoted SQL string literal, so it is either a passphrase (SQLCipher 4: PBKDF2-HMAC-SHA512,
//! 256,000 iterations, per-file random salt) or a raw key `x'<64 hex digits>'` that skips the
//! derivation (see [`EncryptionKey`]). Unkeyed connections run nothing here: a plain database
//! opens exactly as with stock SQLite.
//!
//! A wrong or missing key is answered `DATABASE_KEY_INVALID` (33203) without changing a byte:
//! the file's first 16 bytes decide what can be tried (`SQLite format 3\0` is plain; anything
//! else is encrypted, since SQLCipher starts the file with its random salt), and a keyed
//! connection disables checkpoint-on-close until the key is proven, so even a WAL left by a
//! crash is never copied into the file by a connection holding the wrong key.
//!
//! Changing keys while calls run: the store parks both reader threads on a job of their own
//! (so no read is half-way when pages change key), the writer does the work between other
//! writes, and the readers then reopen with the new key. Calls that arrive meanwhile simply
//! wait in the queues, so every call keeps working across a rekey.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode};
use tokio::sync::oneshot;

use super::{migrations, open_connection, Job, Store, READERS};
use crate::codes;
use crate::error::{ImError, ImResult};
use crate::options::EncryptionKey;

/// The first 16 bytes of every plain SQLite database. SQLCipher writes its salt there instead.
pub const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What is at the database path before a connection opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// No file, or an empty one: a new database (encrypted when a key is set).
    New,
    /// A plain SQLite database.
    Plain,
    /// Anything else: a SQLCipher database (or a file that is not a database at all).
    Encrypted,
}

/// Reads the header of the file at `path` (without opening it as a database).
pub fn file_kind(path: &Path) -> ImResult<FileKind> {
    let mut head = Vec::with_capacity(16);
    match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileKind::New),
        Err(e) => return Err(cannot_read(path, e)),
        Ok(f) => {
            f.take(16)
                .read_to_end(&mut head)
                .map_err(|e| cannot_read(path, e))?;
        }
    }
    Ok(if head.is_empty() {
        FileKind::New
    } else if head == PLAIN_HEADER {
        FileKind::Plain
    } else {
        FileKind::Encrypted
    })
}

fn cannot_read(path: &Path, e: std::io::Error) -> ImError {
    ImError::new(
        codes::DATABASE_ERROR,
        format!("cannot read database {}: {e}", path.display()),
    )
}

fn key_invalid(msg: String) -> ImError {
    ImError::new(codes::DATABASE_KEY_INVALID, msg)
}

/// Refuses, before anything opens the file, the combinations no key can fix: a key for a
/// plain database, or no key for an encrypted one.
pub(super) fn check_file(path: &Path, key: Option<&EncryptionKey>) -> ImResult<()> {
    match (file_kind(path)?, key) {
        (FileKind::Plain, Some(_)) => Err(key_invalid(format!(
            "the database {} is not encrypted, but encryptionKey is set: open it without \
             encryptionKey (encryptDatabase(key) encrypts it); nothing was changed",
            path.display()
        ))),
        (FileKind::Encrypted, None) => Err(key_invalid(format!(
            "the database {} is encrypted (or is not a SQLite database): set encryptionKey \
             to its key; nothing was changed",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// SQLCipher 4's default key derivation: PBKDF2-HMAC-SHA512 over the passphrase and the
/// file's 16-byte salt, 256,000 iterations, a 32-byte key.
const KDF_ITERATIONS: i32 = 256_000;

/// The last passphrase derived, with the salt it was derived for and the result.
struct Derived {
    passphrase: EncryptionKey,
    salt: [u8; 16],
    raw: EncryptionKey,
}

/// One derivation per database open instead of one per connection: the writer and both
/// readers would each spend the full PBKDF2 run (measured: about 0.4 s each on the benchmark
/// machine under load), so the first connection derives the key once, here, exactly as
/// SQLCipher would, and every connection is keyed with the raw key and salt. Kept in memory
/// only, like the passphrase the engine already holds.
static DERIVED: Mutex<Option<Derived>> = Mutex::new(None);

/// How many derivations ran (a test checks that an open derives once).
static DERIVATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn derive(passphrase: &str, salt: &[u8; 16]) -> ImResult<[u8; 32]> {
    let mut out = [0u8; 32];
    let len = std::os::raw::c_int::try_from(passphrase.len())
        .map_err(|_| ImError::invalid("the encryption key is too long"))?;
    DERIVATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: every pointer comes from a live slice with its exact length; EVP_sha512 returns
    // a static digest description. This is the OpenSSL that SQLCipher itself links.
    let ok = unsafe {
        openssl_sys::PKCS5_PBKDF2_HMAC(
            passphrase.as_ptr().cast(),
            len,
            salt.as_ptr(),
            salt.len() as std::os::raw::c_int,
            KDF_ITERATIONS,
            openssl_sys::EVP_sha512(),
            out.len() as std::os::raw::c_int,
            out.as_mut_ptr(),
        )
    };
    if ok != 1 {
        return Err(ImError::internal(
            "deriving the database key failed (OpenSSL)",
        ));
    }
    Ok(out)
}

/// The first 16 bytes of an existing encrypted file: SQLCipher's salt.
fn salt_of(path: &Path) -> ImResult<Option<[u8; 16]>> {
    if file_kind(path)? != FileKind::Encrypted {
        return Ok(None);
    }
    let mut salt = [0u8; 16];
    let mut f = File::open(path).map_err(|e| cannot_read(path, e))?;
    Ok(f.read_exact(&mut salt).ok().map(|_| salt))
}

/// The key to give SQLCipher for `path`: a passphrase becomes the raw key derived for the
/// file's salt (derived once, then reused by the other connections); a raw key, or a
/// passphrase for a new file (SQLCipher picks its salt), is used as it is.
fn connection_key(path: &Path, key: &EncryptionKey) -> ImResult<EncryptionKey> {
    if key.is_raw() {
        return Ok(key.clone());
    }
    let Some(salt) = salt_of(path)? else {
        return Ok(key.clone());
    };
    if let Some(d) = DERIVED.lock().unwrap().as_ref() {
        if d.salt == salt && &d.passphrase == key {
            return Ok(d.raw.clone());
        }
    }
    let raw = EncryptionKey::raw_with_salt(&derive(key.expose(), &salt)?, &salt);
    *DERIVED.lock().unwrap() = Some(Derived {
        passphrase: key.clone(),
        salt,
        raw: raw.clone(),
    });
    Ok(raw)
}

/// Keys a just-opened connection and proves the key by reading the schema. Must be the first
/// statement on the connection. No-op without a key.
pub(super) fn apply_key(
    conn: &Connection,
    path: &Path,
    key: Option<&EncryptionKey>,
) -> ImResult<()> {
    let Some(key) = key else {
        return Ok(());
    };
    let key = &connection_key(path, key)?;
    // SQLCipher logs a failed page HMAC (every wrong key) to stderr; the caller gets the
    // same fact as 33203, so the host's console stays clean. (A process-wide setting.)
    conn.pragma_update(None, "cipher_log_level", "NONE")?;
    // Until the key is proven, closing must not checkpoint a crash's WAL into the file.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.pragma_update(None, "key", key.expose())?;
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Err(key_invalid(format!(
                "the database {} cannot be decrypted with this encryptionKey: the key is \
                 wrong; nothing was changed",
                path.display()
            )))
        }
        Err(e) => return Err(e.into()),
    }
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
    Ok(())
}

/// The store's file and its current key (changed by rekey / encrypt).
pub(super) struct Keying {
    path: PathBuf,
    key: Mutex<Option<EncryptionKey>>,
}

impl Keying {
    pub(super) fn new(path: PathBuf, key: Option<EncryptionKey>) -> Self {
        Self {
            path,
            key: Mutex::new(key),
        }
    }

    fn key(&self) -> Option<EncryptionKey> {
        self.key.lock().unwrap().clone()
    }
}

/// What a parked reader is told to do next.
enum ReaderCmd {
    /// Close the connection (so the file can be replaced); `fallback` is reopened if the
    /// coordinator goes away before saying more.
    Close {
        fallback: Option<EncryptionKey>,
        done: mpsc::Sender<()>,
    },
    /// Open a fresh connection with this key and carry on.
    Reopen {
        key: Option<EncryptionKey>,
        done: mpsc::Sender<ImResult<()>>,
    },
    /// Nothing changed: carry on with the same connection.
    Resume,
}

/// Both reader threads, each blocked inside a job of ours until told what to do. Dropping it
/// resumes them (reopening with the fallback key if they were closed).
struct ParkedReaders {
    path: PathBuf,
    cmds: Vec<mpsc::Sender<ReaderCmd>>,
}

/// The body of a parking job, run on a reader thread.
fn park(
    conn: &mut Connection,
    path: &Path,
    parked: oneshot::Sender<()>,
    cmds: mpsc::Receiver<ReaderCmd>,
) {
    // A reader blocked here takes no other job, so READERS parking jobs land on READERS
    // different threads.
    let _ = parked.send(());
    let mut closed: Option<Option<EncryptionKey>> = None;
    loop {
        match cmds.recv() {
            Ok(ReaderCmd::Close { fallback, done }) => {
                if let Ok(memory) = Connection::open_in_memory() {
                    *conn = memory;
                }
                closed = Some(fallback);
                let _ = done.send(());
            }
            Ok(ReaderCmd::Reopen { key, done }) => {
                let _ = done.send(reopen(conn, path, key.as_ref()));
                return;
            }
            Ok(ReaderCmd::Resume) => return,
            Err(_) => {
                if let Some(fallback) = closed {
                    let _ = reopen(conn, path, fallback.as_ref());
                }
                return;
            }
        }
    }
}

fn reopen(conn: &mut Connection, path: &Path, key: Option<&EncryptionKey>) -> ImResult<()> {
    *conn = open_connection(path, false, key)?;
    Ok(())
}

impl ParkedReaders {
    /// Tells every reader to close its connection; returns once all have.
    fn close_all(&self, fallback: Option<&EncryptionKey>) {
        let (done, acks) = mpsc::channel();
        for c in &self.cmds {
            let _ = c.send(ReaderCmd::Close {
                fallback: fallback.cloned(),
                done: done.clone(),
            });
        }
        drop(done);
        while acks.recv().is_ok() {}
    }

    /// Reopens every reader with `key`; the first failure is returned.
    fn reopen_all(mut self, key: Option<&EncryptionKey>) -> ImResult<()> {
        let (done, acks) = mpsc::channel();
        for c in self.cmds.drain(..) {
            let _ = c.send(ReaderCmd::Reopen {
                key: key.cloned(),
                done: done.clone(),
            });
        }
        drop(done);
        let mut first = Ok(());
        while let Ok(r) = acks.recv() {
            if first.is_ok() {
                first = r;
            }
        }
        first.map_err(|e| {
            ImError::new(
                e.code,
                format!(
                    "a database reader could not reopen {}: {}",
                    self.path.display(),
                    e.msg
                ),
            )
        })
    }
}

impl Drop for ParkedReaders {
    fn drop(&mut self) {
        for c in self.cmds.drain(..) {
            let _ = c.send(ReaderCmd::Resume);
        }
    }
}

/// A failed `encrypt`.
pub struct EncryptFailure {
    pub error: ImError,
    /// The encrypted file replaced the plain one: it now opens only with the key.
    pub replaced: bool,
    /// Some connection could not be reopened: the engine must close the store rather than
    /// serve calls from it.
    pub unusable: bool,
}

impl Store {
    /// Whether the open database is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.keying.key.lock().unwrap().is_some()
    }

    /// Blocks both readers inside jobs of ours once the reads queued before have finished.
    async fn park_readers(&self) -> ImResult<ParkedReaders> {
        let tx = Self::sender(&self.readers)?;
        let mut parked = ParkedReaders {
            path: self.keying.path.clone(),
            cmds: Vec::with_capacity(READERS),
        };
        let mut waits = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let (ptx, prx) = oneshot::channel();
            let (ctx, crx) = mpsc::channel();
            let path = self.keying.path.clone();
            let job: Job = Box::new(move |conn: &mut Connection| park(conn, &path, ptx, crx));
            tx.send(job).map_err(|_| ImError::not_open())?;
            parked.cmds.push(ctx);
            waits.push(prx);
        }
        for w in waits {
            w.await
                .map_err(|_| ImError::internal("a database reader thread stopped"))?;
        }
        Ok(parked)
    }

    /// Changes the key of the (encrypted) open database in place: `PRAGMA rekey` on the
    /// writer, a checkpoint so the file itself carries only new-key pages, then the readers
    /// reopen with the new key.
    pub async fn rekey(&self, new_key: EncryptionKey) -> ImResult<()> {
        if self.keying.key().is_none() {
            return Err(ImError::new(
                codes::DATABASE_NOT_ENCRYPTED,
                "rekey: the open database is not encrypted; encryptDatabase(key) encrypts it",
            ));
        }
        let parked = self.park_readers().await?;
        let key = new_key.clone();
        let path = self.keying.path.clone();
        Self::run(Self::sender(&self.writer)?, move |conn| {
            checkpoint(conn)?;
            // rekey keeps the file's salt, so the key is derived here once (as the raw key
            // and salt) and the readers reopening below reuse it instead of deriving again.
            let raw = connection_key(&path, &key)?;
            conn.pragma_update(None, "rekey", raw.expose())?;
            checkpoint(conn)
        })
        .await?;
        *self.keying.key.lock().unwrap() = Some(new_key.clone());
        parked.reopen_all(Some(&new_key))
    }

    /// Replaces the open plain database with an encrypted copy keyed with `key`
    /// (`sqlcipher_export` into a temporary file beside it, fsync, rename over the original,
    /// reopen): every table — messages, conversations, cursors, settings, the FTS index —
    /// and the schema version are kept.
    pub async fn encrypt(&self, key: EncryptionKey) -> Result<(), EncryptFailure> {
        let fail = |error| EncryptFailure {
            error,
            replaced: false,
            unusable: false,
        };
        if self.keying.key().is_some() {
            return Err(fail(ImError::new(
                codes::DATABASE_ALREADY_ENCRYPTED,
                "encryptDatabase: the open database is already encrypted; rekey(newKey) changes its key",
            )));
        }
        let writer = Self::sender(&self.writer).map_err(fail)?;
        let parked = self.park_readers().await.map_err(fail)?;
        let path = self.keying.path.clone();
        let job_key = key.clone();
        let (ckpt, health) = (self.checkpointer.clone(), self.health.clone());
        let outcome = Self::run(writer, move |conn| {
            // Every connection to the plain file closes before it is replaced, this one too;
            // an encrypted database has none (see `checkpointer`).
            let background = ckpt.is_running();
            ckpt.stop();
            let outcome = encrypt_on_writer(conn, &path, &job_key, parked);
            if background && matches!(&outcome, Err(f) if !f.replaced && !f.unusable) {
                ckpt.start(&path, health);
            }
            Ok(outcome)
        })
        .await
        .unwrap_or_else(|error| {
            Err(EncryptFailure {
                error,
                replaced: false,
                unusable: true,
            })
        });
        // The file on disk says whether it was replaced, whatever went wrong after.
        let replaced = matches!(file_kind(&self.keying.path), Ok(FileKind::Encrypted));
        if replaced {
            *self.keying.key.lock().unwrap() = Some(key);
        }
        outcome.map_err(|f| EncryptFailure { replaced, ..f })
    }
}

fn checkpoint(conn: &Connection) -> ImResult<()> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy != 0 {
        return Err(ImError::new(
            codes::DATABASE_ERROR,
            "the database is busy (another process has it open): try again",
        ));
    }
    Ok(())
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The temporary encrypted copy, beside the database so the final rename stays on one file
/// system (and so is atomic).
pub fn encrypting_path(path: &Path) -> PathBuf {
    sidecar(path, ".encrypting")
}

const EXPORT_SCHEMA: &str = "imsync_encrypted";

/// Writes the encrypted copy and fsyncs it. The original is not changed.
fn export(conn: &Connection, tmp: &Path, key: &EncryptionKey) -> ImResult<()> {
    for stale in [tmp.to_path_buf(), sidecar(tmp, "-journal")] {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ImError::new(
                    codes::DATABASE_ERROR,
                    format!("cannot remove {}: {e}", stale.display()),
                ))
            }
            _ => {}
        }
    }
    let version = migrations::user_version(conn)?;
    let tmp_text = tmp
        .to_str()
        .ok_or_else(|| ImError::internal("the database path is not valid UTF-8"))?;
    // Bound parameters: the key never appears in SQL text (or in an error message about it).
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {EXPORT_SCHEMA} KEY ?2"),
        rusqlite::params![tmp_text, key.expose()],
    )?;
    let copied = (|| -> ImResult<()> {
        // Chosen before the first table exists, as for a new plain database.
        conn.pragma_update(Some(EXPORT_SCHEMA), "auto_vacuum", "INCREMENTAL")?;
        conn.query_row(
            &format!("SELECT sqlcipher_export('{EXPORT_SCHEMA}')"),
            [],
            |_| Ok(()),
        )?;
        // sqlcipher_export copies tables and schema, not the header's user_version, which is
        // the migration number.
        conn.pragma_update(Some(EXPORT_SCHEMA), "user_version", version)?;
        Ok(())
    })();
    let detached = conn.execute(&format!("DETACH DATABASE {EXPORT_SCHEMA}"), []);
    copied?;
    detached?;
    File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| {
        ImError::new(
            codes::DATABASE_ERROR,
            format!("cannot sync {}: {e}", tmp.display()),
        )
    })
}

/// Runs on the writer thread with both readers parked. Before the rename any failure leaves
/// the plain database open and unchanged; after it, the encrypted file is the database.
fn encrypt_on_writer(
    conn: &mut Connection,
    path: &Path,
    key: &EncryptionKey,
    parked: ParkedReaders,
) -> Result<(), EncryptFailure> {
    let tmp = encrypting_path(path);
    let kept = |error: ImError| {
        let _ = std::fs::remove_file(&tmp);
        EncryptFailure {
            error,
            replaced: false,
            unusable: false,
        }
    };
    export(conn, &tmp, key).map_err(kept)?;

    // Every connection to the old file closes before it is replaced: the last one to close
    // checkpoints and deletes the -wal and -shm by name, which must not happen to the new
    // file's.
    parked.close_all(None);
    let restore = |conn: &mut Connection, parked: ParkedReaders, error: ImError| {
        let _ = std::fs::remove_file(&tmp);
        let unusable = match open_connection(path, true, None) {
            Ok(c) => {
                *conn = c;
                parked.reopen_all(None).is_err()
            }
            Err(_) => true,
        };
        Err(EncryptFailure {
            error,
            replaced: false,
            unusable,
        })
    };
    let memory = match Connection::open_in_memory() {
        Ok(m) => m,
        Err(e) => return restore(conn, parked, e.into()),
    };
    let old = std::mem::replace(conn, memory);
    if let Err((_, e)) = old.close() {
        return restore(conn, parked, e.into());
    }
    let wal = sidecar(path, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        // Not checkpointed (another process has the database open): its frames belong to
        // the plain file and must not be replayed onto the encrypted one.
        return restore(
            conn,
            parked,
            ImError::new(
                codes::DATABASE_ERROR,
                "the database is in use by another process: nothing was changed",
            ),
        );
    }
    for side in [wal, sidecar(path, "-shm")] {
        let _ = std::fs::remove_file(side);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        return restore(
            conn,
            parked,
            ImError::new(
                codes::DATABASE_ERROR,
                format!("cannot replace {}: {e}", path.display()),
            ),
        );
    }
    if let Some(dir) = path.parent() {
        // The rename itself must survive a power cut.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    let unusable = |error: ImError| EncryptFailure {
        error: ImError::new(
            error.code,
            format!(
                "the database was encrypted but could not be reopened ({}); open it again \
                 with encryptionKey",
                error.msg
            ),
        ),
        replaced: true,
        unusable: true,
    };
    *conn = open_connection(path, true, Some(key)).map_err(unusable)?;
    parked.reopen_all(Some(key)).map_err(unusable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn a_passphrase_is_derived_once_per_open_the_way_sqlcipher_derives_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let pass = "unit-test passphrase";
        let key = EncryptionKey::parse(Some(&serde_json::json!(pass)), "k")
            .unwrap()
            .unwrap();
        Store::open(path.clone(), Some(key.clone()))
            .await
            .unwrap()
            .close()
            .await;

        // SQLCipher's own derivation of the passphrase opens the file the readers keyed with
        // the raw key derived here: the two derivations agree.
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "key", pass).unwrap();
        let tables: i64 = c
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert!(tables > 0);
        drop(c);

        // A fresh open derives once for its three connections.
        *DERIVED.lock().unwrap() = None;
        let before = DERIVATIONS.load(Ordering::Relaxed);
        let store = Store::open(path.clone(), Some(key.clone())).await.unwrap();
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0);
        store.close().await;
        assert_eq!(DERIVATIONS.load(Ordering::Relaxed) - before, 1);

        // rekey derives the new passphrase once too (the writer's rekey and both readers),
        // and SQLCipher's own derivation of the new passphrase opens the result.
        let store = Store::open(path.clone(), Some(key.clone())).await.unwrap();
        let new_pass = "rotated passphrase";
        let new_key = EncryptionKey::parse(Some(&serde_json::json!(new_pass)), "k")
            .unwrap()
            .unwrap();
        let before = DERIVATIONS.load(Ordering::Relaxed);
        store.rekey(new_key).await.unwrap();
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(DERIVATIONS.load(Ordering::Relaxed) - before, 1);
        store.close().await;
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "key", new_pass).unwrap();
        assert!(c
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r
                .get::<_, i64>(0))
            .is_ok());
        drop(c);

        // A wrong passphrase derives a wrong raw key, which SQLCipher refuses: 33203.
        let wrong = EncryptionKey::parse(Some(&serde_json::json!("not it")), "k")
            .unwrap()
            .unwrap();
        let err = Store::open(path, Some(wrong)).await.err().expect("refused");
        assert_eq!(err.code, codes::DATABASE_KEY_INVALID);
    }
}
