//! A throwaway NATS server for the multi-node tests: Debian's `nats-server` on a free
//! loopback port, its files in a temporary directory, killed when the guard drops.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::services;

/// Time the server gets to accept connections after it is started.
const STARTUP: Duration = Duration::from_secs(30);

/// A running NATS server; killed on drop.
pub struct Nats {
    child: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|p| p.join("nats-server"))
            .find(|p| p.exists())
    });
    // Debian puts it in /usr/sbin, which a non-root PATH may lack.
    on_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/nats-server");
        sbin.exists().then_some(sbin)
    })
}

impl Nats {
    /// Starts a server; None (printed) when nats-server is not installed outside CI.
    /// Under CI a missing nats-server fails the test.
    pub fn start(test: &str) -> Option<Nats> {
        let bin = binary();
        if !services::available(
            test,
            "nats-server",
            bin.is_some(),
            "apt-get install nats-server",
        ) {
            return None;
        }
        let bin = bin.unwrap();
        Some(services::start_with_retries(test, "nats-server", || {
            Nats::try_start(&bin)
        }))
    }

    fn try_start(bin: &PathBuf) -> Result<Nats, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = services::free_port().map_err(|e| e.to_string())?;
        let log = dir.path().join("nats.log");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-l"])
            .arg(&log)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn nats-server: {e}"))?;
        let mut nats = Nats {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let addr = nats.addr;
        let waited = services::wait_ready(
            "nats-server",
            STARTUP,
            || nats.child.try_wait().ok().flatten().map(|s| s.to_string()),
            || RawClient::connect(addr).is_ok(),
        );
        match waited {
            Ok(()) => Ok(nats),
            Err(e) => Err(format!("{e}: {}", nats.log())),
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The NATS text protocol over one TCP connection, enough for tests to watch subjects.
pub struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawClient {
    /// Connects, reads the server's INFO, and completes the handshake (PING answered).
    pub fn connect(addr: SocketAddr) -> std::io::Result<RawClient> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut c = RawClient {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        let info = c.line()?;
        if !info.starts_with("INFO ") {
            return Err(std::io::Error::other(format!(
                "expected INFO, got {info:?}"
            )));
        }
        c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")?;
        c.expect("PONG")?;
        Ok(c)
    }

    fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(text.as_bytes())
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        Ok(line.trim_end().to_string())
    }

    fn expect(&mut self, want: &str) -> std::io::Result<()> {
        let got = self.line()?;
        if got == want {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "expected {want}, got {got:?}"
            )))
        }
    }

    /// Subscribes to `subject`; returns once the server has it (a PING round trip).
    pub fn subscribe(&mut self, subject: &str, sid: u32) -> std::io::Result<()> {
        self.send(&format!("SUB {subject} {sid}\r\nPING\r\n"))?;
        self.expect("PONG")
    }

    pub fn publish(&mut self, subject: &str, payload: &[u8]) -> std::io::Result<()> {
        self.send(&format!("PUB {subject} {}\r\n", payload.len()))?;
        self.writer.write_all(payload)?;
        self.send("\r\nPING\r\n")?;
        self.expect("PONG")
    }

    /// The next message: (subject, payload); PINGs from the server are answered.
    pub fn next_message(&mut self) -> std::io::Result<(String, Vec<u8>)> {
        loop {
            let line = self.line()?;
            if line == "PING" {
                self.send("PONG\r\n")?;
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"MSG") || parts.len() < 4 {
                return Err(std::io::Error::other(format!("expected MSG, got {line:?}")));
            }
            let len: usize = parts[parts.len() - 1]
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad MSG line {line:?}")))?;
            let mut payload = vec![0; len + 2];
            std::io::Read::read_exact(&mut self.reader, &mut payload)?;
            payload.truncate(len);
            return Ok((parts[1].to_string(), payload));
        }
    }
}
