//! A throwaway PostgreSQL for the database tests: `initdb` into a temporary directory and
//! `postgres` on a free loopback port (no system service, no Unix socket outside the
//! directory), stopped when the guard drops. The binaries come from Debian's `postgresql`
//! package (`/usr/lib/postgresql/<version>/bin`), `PG_BIN`, or `PATH`.
//!
//! PostgreSQL refuses to run as root; as root (CI) the cluster belongs to the `postgres`
//! user the package creates. Durability settings are off (`fsync`, `synchronous_commit`):
//! the tests kill imsync nodes, never the database server.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::services;

/// Time the server gets to accept connections after it is started.
const STARTUP: Duration = Duration::from_secs(60);
/// The superuser `initdb` creates (trust authentication, loopback only).
pub const USER: &str = "imsync";

/// A running PostgreSQL server; stopped (and its directory removed) on drop.
pub struct Postgres {
    child: Child,
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
}

/// The directory holding `initdb`, `postgres`, `createdb` and `psql`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, newest)) = versions.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|p| p.join("initdb").exists() && p.join("postgres").exists())
    })
}

/// The `postgres` account's uid and gid, to run as when the tests run as root.
fn postgres_account() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("id {flag} postgres: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root and there is no `postgres` user to run PostgreSQL as".to_string()
            })
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

impl Postgres {
    /// Starts a fresh cluster; None (printed) when PostgreSQL is not installed outside CI.
    /// Under CI a missing PostgreSQL fails the test.
    pub fn start(test: &str) -> Option<Postgres> {
        let bin = bin_dir();
        if !services::available(
            test,
            "PostgreSQL",
            bin.is_some(),
            "apt-get install postgresql",
        ) {
            return None;
        }
        let bin = bin.unwrap();
        Some(services::start_with_retries(test, "PostgreSQL", || {
            Postgres::try_start(&bin)
        }))
    }

    fn try_start(bin: &Path) -> Result<Postgres, String> {
        let account = postgres_account()?;
        // As root, under /tmp: the postgres account must reach the directory (not so under
        // /root), and the socket path must stay within the ~107 bytes Unix allows.
        let dir = match account {
            Some(_) => tempfile::tempdir_in("/tmp"),
            None => tempfile::tempdir(),
        }
        .map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
        }
        let as_owner = |program: &str| {
            let mut c = Command::new(bin.join(program));
            if let Some((uid, gid)) = account {
                c.uid(uid).gid(gid);
            }
            c.current_dir(dir.path()).stdin(Stdio::null());
            c
        };
        let data = dir.path().join("data");
        let init = as_owner("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !init.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        let port = services::free_port().map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("postgres.log")).map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
        }
        let child = as_owner("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200"])
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn postgres: {e}"))?;
        let mut pg = Postgres {
            child,
            port,
            bin: bin.to_path_buf(),
            dir,
        };
        let isready = pg.bin.join("pg_isready");
        let waited = services::wait_ready(
            "postgres",
            STARTUP,
            || pg.child.try_wait().ok().flatten().map(|s| s.to_string()),
            || {
                Command::new(&isready)
                    .args([
                        "-q",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "-U",
                        USER,
                        "-d",
                        "postgres",
                    ])
                    .status()
                    .is_ok_and(|s| s.success())
            },
        );
        match waited {
            Ok(()) => Ok(pg),
            Err(e) => Err(format!("{e}: {}", pg.log())),
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Creates database `name` and returns its URL (`postgres://imsync@127.0.0.1:PORT/name`).
    pub fn create_database(&self, name: &str) -> String {
        let out = self
            .client("createdb")
            .arg(name)
            .output()
            .expect("createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    /// A client program of the installation, pointed at this server.
    fn client(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER]);
        c
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` with `psql` in database `name`; its unaligned, tuples-only output.
    pub fn psql(&self, name: &str, sql: &str) -> Result<String, String> {
        let out = self
            .client("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", name])
            .args(["-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (the data is thrown away with the directory).
        // SAFETY: a signal to our own child, which has not been reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGQUIT);
        }
        let _ = self.child.wait();
    }
}
