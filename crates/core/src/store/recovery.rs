//! `recoverDatabase()`'s file work: checking a database nobody has open, and moving a
//! damaged one aside so a fresh one can take its place. Nothing here deletes anything: the
//! moved files keep whatever can still be rescued from them (local-only messages, drafts).

use std::path::{Path, PathBuf};

use super::health;
use crate::codes;
use crate::error::{ImError, ImResult};
use crate::options::EncryptionKey;

/// The files SQLite keeps beside a database, moved along with it.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether the database at `path` (not open in this engine) is damaged: a full
/// `quick_check` on a connection that writes nothing. Blocking; seconds on a large file.
pub fn check(path: &Path, key: Option<&EncryptionKey>) -> ImResult<bool> {
    if !path.exists() {
        return Err(ImError::new(
            codes::DATABASE_NOTHING_TO_RECOVER,
            format!(
                "recoverDatabase: there is no database {}: nothing to recover",
                path.display()
            ),
        ));
    }
    match health::open_read_only(path, key) {
        Ok(conn) => Ok(health::full_check(&conn)?.is_some()),
        Err(e) if e.code == codes::DATABASE_CORRUPT => Ok(true),
        Err(e) => Err(e),
    }
}

/// Moves the (closed) database at `path` and its `-wal`/`-shm`/`-journal` to
/// `<path>.corrupt-<unix ms>` (+ the same suffixes, so SQLite tools opening the moved copy
/// still find its WAL). The database file goes first and the sidecars after it; if a
/// sidecar cannot be moved, everything moved is put back and nothing has changed: a fresh
/// database must never start beside the old one's WAL, which SQLite would replay into it.
/// Returns the moved database file.
pub fn move_aside(path: &Path) -> ImResult<PathBuf> {
    let mut stamp = crate::message::now_ms();
    let target = loop {
        let t = with_suffix(path, &format!(".corrupt-{stamp}"));
        let taken = std::iter::once(String::new())
            .chain(SIDECARS.iter().map(|s| s.to_string()))
            .any(|s| with_suffix(&t, &s).exists());
        if !taken {
            break t;
        }
        stamp += 1;
    };
    let cannot = |from: &Path, e: std::io::Error| {
        ImError::new(
            codes::DATABASE_ERROR,
            format!(
                "recoverDatabase: cannot move {} aside: {e}; nothing was changed",
                from.display()
            ),
        )
    };
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    for suffix in std::iter::once("").chain(SIDECARS) {
        let from = with_suffix(path, suffix);
        let to = with_suffix(&target, suffix);
        match std::fs::rename(&from, &to) {
            Ok(()) => moved.push((from, to)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                for (back_to, back_from) in moved.iter().rev() {
                    if let Err(undo) = std::fs::rename(back_from, back_to) {
                        tracing::error!(from = %back_from.display(), to = %back_to.display(), error = %undo, "could not put a moved database file back");
                    }
                }
                return Err(cannot(&from, e));
            }
        }
    }
    if moved.is_empty() {
        return Err(ImError::new(
            codes::DATABASE_NOTHING_TO_RECOVER,
            format!(
                "recoverDatabase: there is no database {}: nothing to recover",
                path.display()
            ),
        ));
    }
    sync_dir(path);
    Ok(target)
}

/// Makes the renames durable before a fresh database is created under the old name.
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot sync the database directory");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
