//! What the service harnesses (moto, PostgreSQL, NATS) share: a service that is not
//! installed fails the test under CI (`.ci/run` installs it) and skips it, visibly,
//! elsewhere; free loopback ports; starting again when a port was taken; waiting for a
//! service to answer.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// Whether a test needing `what` runs: true when installed; false (printed) when not and
/// CI is unset; a panic when not and CI is set.
pub fn available(test: &str, what: &str, installed: bool, install: &str) -> bool {
    if installed {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {what} is not installed and CI is set: {install} (.ci/run does)");
    }
    // Straight to stderr: the test harness swallows eprintln! of a passing test, and a
    // skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: {what} not installed ({install})"
    );
    false
}

/// A loopback port free at the time of asking (a service that then fails to bind it is
/// started again by its harness).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls `ready` until it holds, the process has exited (`exited` returns its status) or
/// `within` passes; polling for readiness, not ordering events.
pub fn wait_ready(
    what: &str,
    within: Duration,
    mut exited: impl FnMut() -> Option<String>,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = exited() {
            return Err(format!("{what} exited ({status})"));
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("{what} did not answer within {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a service with `start`, trying again (three times in all) when it fails: a free
/// port can be taken by someone else before the service binds it. Panics with the last
/// error.
pub fn start_with_retries<T>(
    test: &str,
    what: &str,
    mut start: impl FnMut() -> Result<T, String>,
) -> T {
    let mut last = String::new();
    for _ in 0..3 {
        match start() {
            Ok(service) => return service,
            Err(e) => last = e,
        }
    }
    panic!("{test}: {what} did not start: {last}");
}
