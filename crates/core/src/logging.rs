//! Logging at `logOutputLevel` to stderr and to a size-capped file under `dbpath`. The
//! subscriber is process-wide (tracing has one), so the first engine picks the file and
//! each engine's level applies from its creation on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use once_cell::sync::OnceCell;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Registry;

/// The log file is rotated to `imsync.log.1` past this size, so at most twice this is kept.
pub const MAX_LOG_BYTES: u64 = 4 * 1024 * 1024;

static RELOAD: OnceCell<reload::Handle<LevelFilter, Registry>> = OnceCell::new();

pub fn level_filter(level: u8) -> LevelFilter {
    match level {
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    }
}

/// A file that is opened lazily (so creating an engine does no disk I/O on the caller's
/// thread) and rotated when it grows past [`MAX_LOG_BYTES`].
struct CappedFile {
    path: PathBuf,
    file: Option<(File, u64)>,
}

impl CappedFile {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self
            .file
            .as_ref()
            .is_some_and(|(_, len)| *len + buf.len() as u64 > MAX_LOG_BYTES)
        {
            self.file = None;
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let len = f.metadata()?.len();
            self.file = Some((f, len));
        }
        let (f, len) = self.file.as_mut().expect("opened above");
        f.write_all(buf)?;
        *len += buf.len() as u64;
        Ok(())
    }
}

struct FileWriter(&'static Mutex<CappedFile>);

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Logging must never fail a call: a full disk only loses log lines.
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the subscriber on first use and applies `level` (1 ERROR … 4 DEBUG).
pub fn init(dbpath: &std::path::Path, level: u8) {
    if let Some(handle) = RELOAD.get() {
        let _ = handle.modify(|f| *f = level_filter(level));
        return;
    }
    let file: &'static Mutex<CappedFile> = Box::leak(Box::new(Mutex::new(CappedFile {
        path: dbpath.join("imsync").join("imsync.log"),
        file: None,
    })));
    let (filter, handle) = reload::Layer::new(level_filter(level));
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(false)
                .with_writer(move || FileWriter(file)),
        );
    if subscriber.try_init().is_ok() {
        let _ = RELOAD.set(handle);
    }
}
