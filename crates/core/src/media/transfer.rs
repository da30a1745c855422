//! Streaming HTTP upload and download of media files against imsync-server, run on the
//! engine's tokio runtime so the JS thread never waits on the network or the disk.
//!
//! Files go from disk to socket (and back) in bounded chunks: a 100 MB video is never held
//! in memory. A connection that fails mid-transfer is not a failed transfer: the upload asks
//! the server how far it got (HEAD) and the download asks for the rest (Range), a few times
//! with a short growing pause, so a flaky network costs a retry rather than the whole file.
//! A refusal by the server (bad token, file too large, expired link) is final and reported
//! with the server's own code and message.

use std::fmt;
use std::future::Future;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::stream::{self, Stream};
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

/// (bytes done, bytes total); called at most once per whole percent of progress (and always
/// at 100, only once the transfer is complete), from the transfer task — for an upload, the
/// task of its HTTP connection, which pulls the file from disk. Never on the JS thread.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Attempts in a row that may fail on the network before the transfer gives up; an attempt
/// that moved the file forward starts the count again, so a long transfer over a flaky
/// network is not lost to failures spread over its whole length.
const ATTEMPTS: u32 = 5;
/// The pause after the n-th failure is n times this: short, as a dropped connection on a
/// working network recovers at once, yet growing, so a server that is restarting gets time.
const BACKOFF: Duration = Duration::from_millis(250);
/// The most read from disk per chunk of an upload body: the memory an upload holds.
const CHUNK: u64 = 256 * 1024;
/// The least per disk read or write, so a small file is not moved a few bytes at a time
/// for the sake of its percents.
const MIN_STEP: u64 = 4 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that moves no byte for this long is taken for dead and retried: the OS may
/// take many minutes to notice a peer that vanished (a laptop lid closed on Wi-Fi).
const STALL: Duration = Duration::from_secs(60);
/// How much of a response body is read for a refusal's message or a JSON answer.
const MAX_ANSWER: usize = 64 * 1024;
const TOKEN_HEADER: &str = "X-Imsync-Token";

/// A cancel switch shared with the caller (clone = same switch).
#[derive(Clone, Default)]
pub struct Cancel(Arc<Switch>);

#[derive(Default)]
struct Switch {
    on: AtomicBool,
    /// Wakes a transfer waiting on the network, so a cancel does not wait for the next byte.
    wake: Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.0.on.store(true, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.on.load(Ordering::SeqCst)
    }

    /// Resolves once the switch is thrown (at once if it already was).
    async fn cancelled(&self) {
        let woken = self.0.wake.notified();
        tokio::pin!(woken);
        // Registered before the flag is read, so a cancel between the two is not missed.
        woken.as_mut().enable();
        if self.is_cancelled() {
            return;
        }
        woken.await;
    }

    /// `work`, unless the switch is thrown first: then `work` is dropped on the spot, and
    /// with it any request it had in flight.
    async fn or_cancel<T>(&self, work: impl Future<Output = T>) -> Result<T, TransferError> {
        tokio::select! {
            biased;
            () = self.cancelled() => Err(TransferError::Cancelled),
            done = work => Ok(done),
        }
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cancel").field(&self.is_cancelled()).finish()
    }
}

/// What to upload, and where.
pub struct UploadRequest<'a> {
    /// HTTP base, e.g. "http://127.0.0.1:8080", no trailing slash.
    pub server: &'a str,
    pub token: &'a str,
    pub path: &'a Path,
    pub name: &'a str,
    pub mime: &'a str,
    pub disposition: Option<&'a str>,
}

/// The file as the server stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    /// Absolute: a server answering with a path gets the server's base put in front, since
    /// the URL goes into a message that other clients download from.
    pub url: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the transfer was cancelled")]
    Cancelled,
    /// The server refused: its HTTP status and its `{code, msg}` (the status stands in for
    /// the code when the answer carried none).
    #[error("the media server refused the transfer: {msg} (HTTP {status}, code {code})")]
    Refused { status: u16, code: i64, msg: String },
    /// A local file problem; the message names the file.
    #[error("{0}")]
    File(String),
    /// The connection failed on every attempt, or the server answered something
    /// unintelligible.
    #[error("the media server could not be reached: {0}")]
    Network(String),
}

/// How an attempt went wrong: worth another attempt, or final.
enum Failure {
    Retry(String),
    Stop(TransferError),
}

impl From<TransferError> for Failure {
    fn from(e: TransferError) -> Self {
        Failure::Stop(e)
    }
}

/// Counts failed attempts in a row and pauses between them.
#[derive(Default)]
struct Retry {
    failures: u32,
}

impl Retry {
    /// Counts a failed attempt and waits before the next (a cancel ends the wait); once the
    /// attempts are used up, the last failure is the transfer's.
    async fn failed(&mut self, why: String, cancel: &Cancel) -> Result<(), TransferError> {
        self.failures += 1;
        if self.failures >= ATTEMPTS {
            return Err(TransferError::Network(format!(
                "{why} (gave up after {ATTEMPTS} attempts)"
            )));
        }
        cancel
            .or_cancel(tokio::time::sleep(BACKOFF * self.failures))
            .await
    }

    fn progressed(&mut self) {
        self.failures = 0;
    }
}

/// Reports progress by whole percents. 100 is held back for [`Meter::finish`], called when
/// the transfer is really complete (the server confirmed the upload, the download is in
/// place): bytes handed to the socket are not yet a delivered file.
struct Meter {
    progress: Progress,
    total: u64,
    last: Mutex<Option<u8>>,
}

impl Meter {
    fn new(progress: Progress, total: u64) -> Self {
        Self {
            progress,
            total,
            last: Mutex::new(None),
        }
    }

    fn advance(&self, done: u64) {
        if done < self.total {
            self.report(done, percent(done, self.total));
        }
    }

    fn finish(&self) {
        self.report(self.total, 100);
    }

    fn report(&self, done: u64, percent: u8) {
        // Held during the call, so reports cannot overtake one another.
        let mut last = lock(&self.last);
        if last.is_some_and(|last| percent <= last) {
            return;
        }
        *last = Some(percent);
        (self.progress)(done, self.total);
    }
}

/// How many bytes to move from `done` on: up to the next whole percent, so that every
/// percent gets its report (a chunk spanning several would skip some), within
/// [`MIN_STEP`]..=`max` and never past the end.
fn step(done: u64, total: u64, max: u64) -> u64 {
    let next = u128::from(percent(done, total)) + 1;
    // The first byte count that reaches percent `next`.
    let boundary = (next * u128::from(total)).div_ceil(100);
    let to_boundary = u64::try_from(boundary.saturating_sub(u128::from(done))).unwrap_or(max);
    to_boundary
        .clamp(MIN_STEP, max.max(MIN_STEP))
        .min(total.saturating_sub(done))
}

fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return 100;
    }
    (u128::from(done.min(total)) * 100 / u128::from(total)) as u8
}

/// A lock that survives a panic in a progress callback: the data it guards stays valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When bytes last moved, for the upload's stall watchdog.
struct Watch(Mutex<Instant>);

impl Watch {
    fn new() -> Self {
        Self(Mutex::new(Instant::now()))
    }

    fn touch(&self) {
        *lock(&self.0) = Instant::now();
    }

    /// Resolves once no byte has moved for [`STALL`].
    async fn stalled(&self) {
        loop {
            let due = *lock(&self.0) + STALL;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// One client per transfer: a client's pooled connections belong to the runtime that made
/// them, and the engine's runtime is not the only one (tests run their own). No proxy, like
/// the WebSocket connection to the same server.
fn client(read_timeout: bool) -> Result<Client, TransferError> {
    let builder = Client::builder()
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("imsync/", env!("CARGO_PKG_VERSION")));
    // Only for downloads: reqwest's read timeout also runs while a request body is being
    // sent, which would cut off any upload that takes longer than it.
    let builder = if read_timeout {
        builder.read_timeout(STALL)
    } else {
        builder
    };
    builder
        .build()
        .map_err(|e| TransferError::Network(format!("cannot start the HTTP client: {e}")))
}

/// reqwest's own message ("error sending request") hides the cause; the chain names it
/// (connection refused, reset by peer, timed out).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A request that could not be made at all (a malformed URL or header) will not work on a
/// second try either; anything else on the way is the network's fault.
fn failure(e: reqwest::Error) -> Failure {
    if e.is_builder() {
        Failure::Stop(TransferError::Network(describe(&e)))
    } else {
        Failure::Retry(describe(&e))
    }
}

fn unexpected(what: impl fmt::Display) -> TransferError {
    TransferError::Network(format!(
        "the media server sent an unexpected answer: {what}"
    ))
}

/// Up to `limit` bytes of a response body; a cancel ends the read at once.
async fn read_body(mut resp: Response, limit: usize, cancel: &Cancel) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while body.len() < limit {
        match cancel.or_cancel(resp.chunk()).await? {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(failure(e)),
        }
    }
    body.truncate(limit);
    Ok(body)
}

async fn read_json(resp: Response, cancel: &Cancel) -> Result<Value, Failure> {
    let body = read_body(resp, MAX_ANSWER, cancel).await?;
    serde_json::from_slice(&body).map_err(|e| Failure::Stop(unexpected(format!("not JSON ({e})"))))
}

/// The server's refusal as the transfer's error: its `{code, msg}` when the body has them.
async fn refusal(resp: Response, cancel: &Cancel) -> TransferError {
    let status = resp.status();
    let body = match read_body(resp, MAX_ANSWER, cancel).await {
        Ok(body) => body,
        Err(Failure::Stop(TransferError::Cancelled)) => return TransferError::Cancelled,
        // The status alone still says what happened.
        Err(_) => Vec::new(),
    };
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    TransferError::Refused {
        status: status.as_u16(),
        code: answer["code"]
            .as_i64()
            .unwrap_or_else(|| i64::from(status.as_u16())),
        msg: answer["msg"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase()),
    }
}

// ---------------------------------------------------------------------------------------
// Upload

/// Everything an upload attempt needs.
struct Upload<'a> {
    req: UploadRequest<'a>,
    base: &'a str,
    client: Client,
    total: u64,
    meter: Arc<Meter>,
    cancel: &'a Cancel,
}

/// Where the server stands after a PATCH.
enum Sent {
    /// The upload is complete: the server's `file` object.
    Done(Value),
    /// The server holds this many bytes (a 200 short of the end, or a 409 resynchronising).
    At(u64),
}

/// Uploads the file at `req.path` (create, then the bytes streamed from disk, resumed where
/// the server stands after a cut connection) and returns the file the server stored.
pub async fn upload(
    req: UploadRequest<'_>,
    progress: Progress,
    cancel: &Cancel,
) -> Result<Uploaded, TransferError> {
    let total = first_look(req.path).await?;
    for (what, value) in [("type", Some(req.mime)), ("disposition", req.disposition)] {
        if let Some(value) = value {
            if HeaderValue::from_str(value).is_err() {
                return Err(TransferError::File(format!(
                    "cannot upload {}: the {what} {value:?} is not a valid header value",
                    req.path.display()
                )));
            }
        }
    }
    let up = Upload {
        base: req.server.trim_end_matches('/'),
        req,
        client: client(false)?,
        total,
        meter: Arc::new(Meter::new(progress, total)),
        cancel,
    };
    up.meter.advance(0);
    let mut retry = Retry::default();
    let (id, mut offset) = loop {
        match create(&up).await {
            Ok(created) => break created,
            Err(Failure::Retry(why)) => retry.failed(why, cancel).await?,
            Err(Failure::Stop(e)) => return Err(e),
        }
    };
    let mut resync = false;
    loop {
        if cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        if resync {
            match head(&up, &id).await {
                Ok(at) => {
                    if at > offset {
                        retry.progressed();
                    }
                    offset = at;
                    resync = false;
                }
                Err(Failure::Retry(why)) => {
                    retry.failed(why, cancel).await?;
                    continue;
                }
                Err(Failure::Stop(e)) => return Err(e),
            }
        }
        same_file(up.req.path, total).await?;
        match patch(&up, &id, offset).await {
            Ok(Sent::Done(file)) => {
                let uploaded = uploaded(&up, &file)?;
                up.meter.finish();
                return Ok(uploaded);
            }
            Ok(Sent::At(at)) => {
                if at > offset {
                    retry.progressed();
                } else {
                    retry
                        .failed(format!("the server stayed at byte {at} of {total}"), cancel)
                        .await?;
                }
                offset = at;
            }
            Err(Failure::Retry(why)) => {
                retry.failed(why, cancel).await?;
                resync = true;
            }
            Err(Failure::Stop(e)) => return Err(e),
        }
    }
}

/// The checks before anything is sent: the file must exist, be a regular non-empty file,
/// and be readable. Returns its length.
async fn first_look(path: &Path) -> Result<u64, TransferError> {
    let len = file_len(path).await?;
    if len == 0 {
        return Err(TransferError::File(format!(
            "cannot upload {}: the file is empty",
            path.display()
        )));
    }
    File::open(path).await.map_err(|e| {
        TransferError::File(format!(
            "cannot upload {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    Ok(len)
}

async fn file_len(path: &Path) -> Result<u64, TransferError> {
    let meta = tokio::fs::metadata(path).await.map_err(|e| {
        TransferError::File(if e.kind() == std::io::ErrorKind::NotFound {
            format!("cannot upload {}: the file does not exist", path.display())
        } else {
            format!("cannot upload {}: {e}", path.display())
        })
    })?;
    if meta.is_dir() {
        return Err(TransferError::File(format!(
            "cannot upload {}: it is a directory, not a file",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(TransferError::File(format!(
            "cannot upload {}: not a regular file",
            path.display()
        )));
    }
    Ok(meta.len())
}

/// Before each attempt: a file that changed length since the upload began would make the
/// server's copy a mix of two files, so nothing more is sent.
async fn same_file(path: &Path, total: u64) -> Result<(), TransferError> {
    let len = file_len(path).await?;
    if len != total {
        return Err(TransferError::File(format!(
            "cannot upload {}: the file changed while it was being uploaded (it was {total} \
             bytes, it is now {len})",
            path.display()
        )));
    }
    Ok(())
}

/// POST /media/upload: the server's upload id and the offset to start from.
async fn create(up: &Upload<'_>) -> Result<(String, u64), Failure> {
    let mut request = up
        .client
        .post(format!("{}/media/upload", up.base))
        .timeout(STALL)
        .header(TOKEN_HEADER, up.req.token)
        .header("X-Upload-Length", up.total)
        .header("X-Upload-Name", percent_encode(up.req.name))
        .header("X-Upload-Type", up.req.mime)
        .header(CONTENT_LENGTH, 0);
    if let Some(disposition) = up.req.disposition {
        request = request.header("X-Upload-Disposition", disposition);
    }
    let resp = up
        .cancel
        .or_cancel(request.send())
        .await?
        .map_err(failure)?;
    if !resp.status().is_success() {
        return Err(Failure::Stop(refusal(resp, up.cancel).await));
    }
    let answer = read_json(resp, up.cancel).await?;
    let id = answer["uploadId"].as_str().unwrap_or_default();
    // It goes into the URL path of every later request.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Failure::Stop(unexpected(format!(
            "upload id {:?}",
            answer["uploadId"]
        ))));
    }
    let offset = answer["offset"].as_u64().unwrap_or(0);
    if offset > up.total {
        return Err(Failure::Stop(unexpected(format!(
            "offset {offset} of {}",
            up.total
        ))));
    }
    Ok((id.to_string(), offset))
}

/// HEAD /media/upload/<id>: how many bytes the server holds, after a failed attempt.
async fn head(up: &Upload<'_>, id: &str) -> Result<u64, Failure> {
    let request = up
        .client
        .head(format!("{}/media/upload/{id}", up.base))
        .timeout(STALL)
        .header(TOKEN_HEADER, up.req.token);
    let resp = up
        .cancel
        .or_cancel(request.send())
        .await?
        .map_err(failure)?;
    match resp.status() {
        StatusCode::OK => {}
        // Another request on the upload (an older attempt still winding down on the
        // server) has the upload's turn: asking again settles it.
        StatusCode::CONFLICT => {
            return Err(Failure::Retry(
                "the server was still busy with the previous attempt".into(),
            ))
        }
        _ => return Err(Failure::Stop(refusal(resp, up.cancel).await)),
    }
    let offset = resp
        .headers()
        .get("Upload-Offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| Failure::Stop(unexpected("no Upload-Offset in the HEAD answer")))?;
    if offset > up.total {
        return Err(Failure::Stop(unexpected(format!(
            "offset {offset} of {}",
            up.total
        ))));
    }
    Ok(offset)
}

/// PATCH /media/upload/<id>: the file from `offset` to its end, streamed from disk.
async fn patch(up: &Upload<'_>, id: &str, offset: u64) -> Result<Sent, Failure> {
    let path = up.req.path;
    let mut file = File::open(path).await.map_err(|e| {
        TransferError::File(format!(
            "cannot upload {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    file.seek(SeekFrom::Start(offset)).await.map_err(|e| {
        TransferError::File(format!(
            "cannot upload {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    // Why the body stream stopped, when it was the file's fault or a cancel (reqwest only
    // reports "body error").
    let fault = Arc::new(Mutex::new(None));
    let watch = Arc::new(Watch::new());
    let body = reqwest::Body::wrap_stream(body_stream(Sending {
        file,
        path: path.to_path_buf(),
        at: offset,
        total: up.total,
        meter: up.meter.clone(),
        cancel: up.cancel.clone(),
        fault: fault.clone(),
        watch: watch.clone(),
    }));
    let send = up
        .client
        .patch(format!("{}/media/upload/{id}", up.base))
        .header(TOKEN_HEADER, up.req.token)
        .header("Upload-Offset", offset)
        // Set by hand: a streamed body has no length of its own, and the server wants it.
        .header(CONTENT_LENGTH, up.total - offset)
        .body(body)
        .send();
    let sent = tokio::select! {
        biased;
        () = up.cancel.cancelled() => return Err(Failure::Stop(TransferError::Cancelled)),
        () = watch.stalled() => {
            return Err(Failure::Retry(format!("no progress for {} s", STALL.as_secs())))
        }
        sent = send => sent,
    };
    if let Some(fault) = lock(&fault).take() {
        return Err(Failure::Stop(fault));
    }
    let resp = sent.map_err(failure)?;
    match resp.status() {
        StatusCode::OK => {
            let answer = read_json(resp, up.cancel).await?;
            let at = answer["offset"]
                .as_u64()
                .filter(|&at| at <= up.total)
                .ok_or_else(|| Failure::Stop(unexpected(format!("offset {}", answer["offset"]))))?;
            if at == up.total {
                if answer["file"].is_object() {
                    return Ok(Sent::Done(answer["file"].clone()));
                }
                return Err(Failure::Stop(unexpected(
                    "a complete upload without its file",
                )));
            }
            Ok(Sent::At(at))
        }
        StatusCode::CONFLICT => {
            let answer = read_json(resp, up.cancel).await?;
            answer["offset"]
                .as_u64()
                .filter(|&at| at <= up.total)
                .map(Sent::At)
                .ok_or_else(|| Failure::Stop(unexpected(format!("offset {}", answer["offset"]))))
        }
        _ => Err(Failure::Stop(refusal(resp, up.cancel).await)),
    }
}

/// The state of an upload body being read from disk.
struct Sending {
    file: File,
    path: PathBuf,
    at: u64,
    total: u64,
    meter: Arc<Meter>,
    cancel: Cancel,
    fault: Arc<Mutex<Option<TransferError>>>,
    watch: Arc<Watch>,
}

impl Sending {
    /// Ends the body with `e` as the reason the caller sees.
    fn fail(&self, e: TransferError) -> std::io::Error {
        let text = e.to_string();
        *lock(&self.fault) = Some(e);
        std::io::Error::other(text)
    }
}

/// The file from the current offset to its end, one chunk at a time: the socket pulls the
/// next chunk only when it has sent the previous one, so memory stays at one chunk.
fn body_stream(
    sending: Sending,
) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    stream::try_unfold(sending, |mut s| async move {
        if s.at >= s.total {
            return Ok(None);
        }
        if s.cancel.is_cancelled() {
            return Err(s.fail(TransferError::Cancelled));
        }
        let want = step(s.at, s.total, CHUNK) as usize;
        let mut chunk = vec![0; want];
        let read = match s.file.read(&mut chunk).await {
            Ok(0) => {
                let e = TransferError::File(format!(
                    "cannot upload {}: the file got shorter while it was being uploaded",
                    s.path.display()
                ));
                return Err(s.fail(e));
            }
            Ok(read) => read,
            Err(e) => {
                let e = TransferError::File(format!(
                    "cannot upload {}: reading it failed: {e}",
                    s.path.display()
                ));
                return Err(s.fail(e));
            }
        };
        chunk.truncate(read);
        s.at += read as u64;
        s.watch.touch();
        s.meter.advance(s.at);
        Ok(Some((chunk, s)))
    })
}

/// The server's `file` object as [`Uploaded`].
fn uploaded(up: &Upload<'_>, file: &Value) -> Result<Uploaded, TransferError> {
    let text = |key: &str| {
        file[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| unexpected(format!("file.{key} missing")))
    };
    let url = text("url")?;
    Ok(Uploaded {
        url: if url.starts_with('/') {
            format!("{}{url}", up.base)
        } else {
            url
        },
        name: text("name")?,
        size: file["size"]
            .as_u64()
            .ok_or_else(|| unexpected("file.size missing"))?,
        mime: text("type")?,
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any UTF-8 name fits
/// in a header.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Download

/// Everything a download attempt needs.
struct Download<'a> {
    url: &'a str,
    part: PathBuf,
    client: Client,
    progress: Progress,
    cancel: &'a Cancel,
}

/// Downloads `url` into `dest` through `dest` + ".part" (resumes an existing .part with an
/// HTTP Range request; restarts from 0 if the server ignores Range), renamed to `dest` when
/// complete; returns the size.
pub async fn download(
    url: &str,
    dest: &Path,
    progress: Progress,
    cancel: &Cancel,
) -> Result<u64, TransferError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "http" => {}
        Ok(_) => {
            return Err(TransferError::Network(format!(
                "cannot download {url}: only http:// URLs are supported"
            )))
        }
        Err(e) => {
            return Err(TransferError::Network(format!(
                "cannot download {url:?}: not a valid URL ({e})"
            )))
        }
    }
    if tokio::fs::metadata(dest).await.is_ok_and(|m| m.is_dir()) {
        return Err(TransferError::File(format!(
            "cannot save the download to {}: it is a directory",
            dest.display()
        )));
    }
    let dl = Download {
        url,
        part: part_path(dest),
        client: client(true)?,
        progress,
        cancel,
    };
    let mut retry = Retry::default();
    let mut meter = None;
    loop {
        if cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        let have = part_len(&dl.part).await?;
        let outcome = fetch(&dl, have, &mut meter).await;
        // An attempt that added to the .part was worth it, however it ended.
        if part_len(&dl.part).await? > have {
            retry.progressed();
        }
        match outcome {
            Ok(Some(size)) => {
                tokio::fs::rename(&dl.part, dest).await.map_err(|e| {
                    TransferError::File(format!(
                        "cannot save the download to {}: {e}",
                        dest.display()
                    ))
                })?;
                meter
                    .get_or_insert_with(|| Meter::new(dl.progress.clone(), size))
                    .finish();
                return Ok(size);
            }
            // The server sent a part of what is missing: ask for the rest.
            Ok(None) => {}
            Err(Failure::Retry(why)) => retry.failed(why, cancel).await?,
            Err(Failure::Stop(e)) => return Err(e),
        }
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    PathBuf::from(part)
}

async fn part_len(part: &Path) -> Result<u64, TransferError> {
    match tokio::fs::metadata(part).await {
        Ok(meta) if meta.is_file() => Ok(meta.len()),
        Ok(_) => Err(TransferError::File(format!(
            "cannot download to {}: something that is not a file is in the way",
            part.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(TransferError::File(format!(
            "cannot download to {}: {e}",
            part.display()
        ))),
    }
}

fn write_error(part: &Path, e: std::io::Error) -> TransferError {
    TransferError::File(format!("cannot write {}: {e}", part.display()))
}

/// Empties the .part when what it holds cannot be continued.
async fn restart(part: &Path) -> Result<(), TransferError> {
    File::create(part)
        .await
        .map(drop)
        .map_err(|e| write_error(part, e))
}

/// A Content-Range header: `bytes first-last/total`, or `bytes */total` on a 416.
#[derive(Debug, PartialEq)]
enum ContentRange {
    Bytes { first: u64, last: u64, total: u64 },
    Unsatisfied { total: u64 },
}

fn content_range(resp: &Response) -> Option<ContentRange> {
    parse_content_range(resp.headers().get(CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let total = total.trim().parse().ok()?;
    if range.trim() == "*" {
        return Some(ContentRange::Unsatisfied { total });
    }
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last && last < total).then_some(ContentRange::Bytes { first, last, total })
}

/// One GET: appends what it receives to the .part. Some(size) when the file is complete,
/// None when the server sent less than the rest (a partial range) and more is to be asked.
async fn fetch(
    dl: &Download<'_>,
    have: u64,
    meter: &mut Option<Meter>,
) -> Result<Option<u64>, Failure> {
    let mut request = dl.client.get(dl.url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let resp = dl
        .cancel
        .or_cancel(request.send())
        .await?
        .map_err(failure)?;
    let (start, end, total) = match resp.status() {
        // The whole file: a first request, or a server that ignores Range.
        StatusCode::OK => {
            let total = resp.content_length();
            (0, total, total)
        }
        StatusCode::PARTIAL_CONTENT => match content_range(&resp) {
            Some(ContentRange::Bytes { first, last, total }) if first == have => {
                (have, Some(last + 1), Some(total))
            }
            other => {
                restart(&dl.part).await?;
                return Err(Failure::Retry(format!(
                    "the server answered a resumed download with the range {other:?}; starting over"
                )));
            }
        },
        StatusCode::RANGE_NOT_SATISFIABLE => {
            if let Some(ContentRange::Unsatisfied { total }) = content_range(&resp) {
                // A previous call got every byte but could not rename the .part.
                if total == have {
                    return Ok(Some(have));
                }
            }
            restart(&dl.part).await?;
            return Err(Failure::Retry(format!(
                "the server has no byte {have} of the file any more; starting over"
            )));
        }
        _ => return Err(Failure::Stop(refusal(resp, dl.cancel).await)),
    };
    if let Some(total) = total {
        match meter {
            // The file on the server is not the one the .part began as.
            Some(m) if m.total != total && start > 0 => {
                restart(&dl.part).await?;
                return Err(Failure::Retry(
                    "the file changed on the server; starting over".into(),
                ));
            }
            Some(m) if m.total == total => {}
            _ => *meter = Some(Meter::new(dl.progress.clone(), total)),
        }
    }
    let opened = if start == 0 {
        File::create(&dl.part).await
    } else {
        OpenOptions::new().append(true).open(&dl.part).await
    };
    let mut file = opened.map_err(|e| write_error(&dl.part, e))?;
    let received = receive(dl, resp, &mut file, start, end, meter.as_ref()).await;
    // Written bytes reach the disk before anything else happens, so the .part a later
    // call resumes from holds exactly what was counted.
    let flushed = file.flush().await.map_err(|e| write_error(&dl.part, e));
    let done = received?;
    flushed?;
    if let Some(end) = end {
        if done < end {
            return Err(Failure::Retry(format!(
                "the connection closed after byte {done} of {end}"
            )));
        }
    }
    match total {
        Some(total) if done < total => Ok(None),
        _ => {
            file.sync_all()
                .await
                .map_err(|e| write_error(&dl.part, e))?;
            Ok(Some(done))
        }
    }
}

/// Copies the response body to the .part; returns the offset reached.
async fn receive(
    dl: &Download<'_>,
    mut resp: Response,
    file: &mut File,
    start: u64,
    end: Option<u64>,
    meter: Option<&Meter>,
) -> Result<u64, Failure> {
    let mut done = start;
    if let Some(meter) = meter {
        meter.advance(done);
    }
    loop {
        let chunk = match dl.cancel.or_cancel(resp.chunk()).await? {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(done),
            Err(e) => return Err(failure(e)),
        };
        if end.is_some_and(|end| done + chunk.len() as u64 > end) {
            return Err(Failure::Stop(unexpected("more bytes than announced")));
        }
        // Written a percent at a time: the network hands over chunks of several.
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if dl.cancel.is_cancelled() {
                return Err(Failure::Stop(TransferError::Cancelled));
            }
            let take = match meter {
                Some(m) => step(done, m.total, rest.len() as u64).max(1) as usize,
                None => rest.len(),
            }
            .min(rest.len());
            file.write_all(&rest[..take])
                .await
                .map_err(|e| write_error(&dl.part, e))?;
            done += take as u64;
            rest = &rest[take..];
            if let Some(meter) = meter {
                meter.advance(done);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_end_on_percent_boundaries() {
        let total = 5 * 1024 * 1024;
        let (mut done, mut steps, mut percents) = (0, 0, vec![0]);
        while done < total {
            done += step(done, total, CHUNK);
            steps += 1;
            percents.push(percent(done, total));
        }
        assert_eq!(done, total);
        assert_eq!(steps, 100);
        assert_eq!(percents, (0..=100).collect::<Vec<u8>>());
        // Small files move at least MIN_STEP at a time; large ones at most `max`.
        assert_eq!(step(0, 1000, CHUNK), 1000);
        assert_eq!(step(0, 100_000, CHUNK), MIN_STEP);
        assert_eq!(step(0, 1 << 40, CHUNK), CHUNK);
        assert_eq!(step(total, total, CHUNK), 0);
    }

    #[test]
    fn percents() {
        assert_eq!(percent(0, 200), 0);
        assert_eq!(percent(1, 200), 0);
        assert_eq!(percent(2, 200), 1);
        assert_eq!(percent(200, 200), 100);
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
    }

    #[test]
    fn meter_reports_each_percent_once_and_holds_100_for_finish() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let meter = Meter::new(
            Arc::new(move |done, total| seen.lock().unwrap().push((done, total))),
            1000,
        );
        for done in (0..=1000).step_by(3) {
            meter.advance(done);
        }
        // Going back (a resumed transfer) reports nothing until it passes the last percent.
        meter.advance(10);
        meter.advance(1000);
        assert_eq!(calls.lock().unwrap().len(), 100, "0..=99");
        meter.finish();
        meter.finish();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 101);
        assert_eq!(*calls.last().unwrap(), (1000, 1000));
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "{calls:?}");
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 10-19/20"),
            Some(ContentRange::Bytes {
                first: 10,
                last: 19,
                total: 20
            })
        );
        assert_eq!(
            parse_content_range("bytes */20"),
            Some(ContentRange::Unsatisfied { total: 20 })
        );
        assert_eq!(parse_content_range("bytes 10-20/20"), None);
        assert_eq!(parse_content_range("bytes 19-10/20"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes 0-1/*"), None);
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(percent_encode("a b.txt"), "a%20b.txt");
        assert_eq!(percent_encode("照片.jpg"), "%E7%85%A7%E7%89%87.jpg");
        assert_eq!(percent_encode("x/y%\r\n"), "x%2Fy%25%0D%0A");
    }

    #[test]
    fn part_is_beside_the_destination() {
        assert_eq!(
            part_path(Path::new("/a/b.jpg")),
            PathBuf::from("/a/b.jpg.part")
        );
    }

    #[tokio::test]
    async fn cancel_wakes_a_waiting_transfer() {
        let cancel = Cancel::default();
        let waiting = {
            let cancel = cancel.clone();
            tokio::spawn(async move { cancel.or_cancel(std::future::pending::<()>()).await })
        };
        tokio::task::yield_now().await;
        cancel.cancel();
        assert!(matches!(
            waiting.await.unwrap(),
            Err(TransferError::Cancelled)
        ));
        // Thrown before anyone waits: resolves at once too.
        assert!(cancel
            .or_cancel(std::future::pending::<()>())
            .await
            .is_err());
        assert!(Cancel::default().or_cancel(async { 7 }).await.is_ok());
    }
}
