//! A local S3-compatible server for the object-store tests: moto's server
//! (`pip install 'moto[server]'`), started on a free loopback port in a
//! temporary directory and killed when the guard drops. Never a remote
//! service.
//!
//! Without moto the tests fail under CI (env `CI` set: `.ci/run` installs
//! it) and are skipped visibly elsewhere (`services::available`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// Time moto gets to answer after it is started.
const STARTUP: Duration = Duration::from_secs(60);

/// Credentials moto accepts (it checks none).
pub const ACCESS_KEY_ID: &str = "imsync-test-key";
pub const SECRET_ACCESS_KEY: &str = "imsync-test-secret";

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

fn moto_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Moto {
    /// Starts moto; None (after printing that the test is skipped) when it
    /// is not installed outside CI. Under CI a missing moto fails the test.
    pub fn start(test: &str) -> Option<Moto> {
        if !super::services::available(test, "moto", moto_installed(), "pip install 'moto[server]'")
        {
            return None;
        }
        Some(super::services::start_with_retries(
            test,
            "moto",
            Moto::try_start,
        ))
    }

    fn try_start() -> Result<Moto, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = super::services::free_port().map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("moto.log")).map_err(|e| e.to_string())?;
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn python3 -m moto.server: {e}"))?;
        let mut moto = Moto {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let addr = moto.addr;
        let waited = super::services::wait_ready(
            "moto",
            STARTUP,
            || moto.child.try_wait().ok().flatten().map(|s| s.to_string()),
            || matches!(http(addr, "GET", "/"), Ok((200, _))),
        );
        match waited {
            Ok(()) => Ok(moto),
            Err(e) => Err(format!("{e}: {}", moto.log())),
        }
    }

    /// moto's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Server flags storing media in `url` (`s3://bucket[/prefix]`) here.
    pub fn server_args(&self, url: &str) -> Vec<String> {
        [
            "--object-store",
            url,
            "--s3-endpoint",
            &self.endpoint(),
            "--s3-access-key-id",
            ACCESS_KEY_ID,
            "--s3-secret-access-key",
            SECRET_ACCESS_KEY,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// CreateBucket (`PUT /<bucket>`; moto checks no signature).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{bucket}"))
            .unwrap_or_else(|e| panic!("CreateBucket {bucket}: {e}"));
        assert_eq!(status, 200, "CreateBucket {bucket}: {body}");
    }

    /// Keys in `bucket` under `prefix` (ListObjectsV2, first page).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, body) = self
            .request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"))
            .expect("ListObjectsV2");
        assert_eq!(status, 200, "ListObjectsV2: {body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        http(self.addr, method, path)
    }
}

/// One HTTP/1.1 request with an empty body: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        addr
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
