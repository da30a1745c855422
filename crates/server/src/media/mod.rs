//! Media over plain HTTP (ARCHITECTURE.md §10), beside the admin API:
//!
//! * `POST /media/upload` with `X-Imsync-Token` (the user's token, never in
//!   the URL), `X-Upload-Length`, `X-Upload-Name` (percent-encoded) and
//!   optionally `X-Upload-Type` and `X-Upload-Disposition` → 201
//!   `{uploadId, offset: 0}`.
//! * `PATCH /media/upload/<uploadId>` with `Upload-Offset`: appends the
//!   body, streamed to storage → `{offset}`, plus `file: {url, name, size,
//!   type}` once the declared length is reached. A client whose connection
//!   broke asks `HEAD /media/upload/<uploadId>` (`Upload-Offset`,
//!   `Upload-Length`) and continues from there.
//! * `GET`/`HEAD /media/file/<fileId>/<name>`, optionally signed
//!   (`--file-url-ttl`): the file, with single-range support, headers that
//!   let a sandboxed renderer use it as `<img src>`, and nothing a browser
//!   could run on this origin.
//!
//! Bytes live behind [`store::FileStore`] (the local disk,
//! [`local::LocalDisk`], or an S3-compatible bucket several nodes share,
//! [`s3::S3FileStore`]); metadata in the database
//! ([`crate::store::media`]). Refusals are `{code, msg}` ([`reply`]).

pub mod download;
pub mod local;
pub mod naming;
pub mod range;
pub mod reply;
pub mod s3;
pub mod signing;
pub mod store;
pub mod sweep;
pub mod turns;
pub mod upload;

use std::path::Path;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, patch, post};
use axum::Router;

use crate::clock::now_ms;
use crate::conn_limits::Ticket;
use crate::state::AppState;
use crate::token;
use reply::Refusal;
use store::FileStore;
use turns::Turns;

/// The header carrying the user's token.
pub const TOKEN_HEADER: &str = "x-imsync-token";

/// Media storage and the per-upload turns; shared by all requests.
pub struct Media {
    /// Where the bytes are.
    pub files: Arc<dyn FileStore>,
    /// One request at a time per upload.
    pub turns: Turns,
}

impl Media {
    /// Media on the local disk under `<data_dir>/media`.
    pub fn local(data_dir: &Path) -> Result<Media, String> {
        Ok(Media {
            files: Arc::new(local::LocalDisk::open(&data_dir.join("media"))?),
            turns: Turns::default(),
        })
    }

    /// Media in an S3-compatible bucket (checked to answer first).
    pub async fn s3(opts: &s3::S3Options) -> Result<Media, String> {
        Ok(Media {
            files: Arc::new(s3::S3FileStore::open(opts).await?),
            turns: Turns::default(),
        })
    }
}

/// The media routes, to be merged into the app router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/media/upload", post(upload::create))
        .route(
            "/media/upload/{upload_id}",
            patch(upload::append).head(upload::status),
        )
        // `get` answers HEAD too.
        .route("/media/file/{file_id}/{name}", get(download::serve))
}

/// The user whose token the request carries. A verified token takes the
/// connection out of the unauthenticated pool, as a verified admin
/// signature does (an upload may take longer than that pool allows).
pub fn authenticate(state: &AppState, parts: &Parts) -> Result<String, Refusal> {
    let unauthorized = |msg: &str| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            imsync_protocol::codes::RC_CONN_TOKEN_INCORRECT,
            msg,
        )
    };
    let Some(value) = parts.headers.get(TOKEN_HEADER) else {
        return Err(unauthorized(
            "X-Imsync-Token header is required: the user's token, as in ConnectRequest",
        ));
    };
    let token = value
        .to_str()
        .map_err(|_| unauthorized("X-Imsync-Token: token invalid"))?;
    let user = token::verify(&state.settings.app_secret, token, now_ms()).map_err(|e| {
        let mut refusal = Refusal::from(e);
        refusal.msg = format!("X-Imsync-Token: {}", refusal.msg);
        refusal
    })?;
    if let Some(ticket) = parts.extensions.get::<Ticket>() {
        ticket.authenticated();
    }
    Ok(user)
}

/// Where file URLs point: `--public-url`, else `http://` and the Host the
/// client used.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> Result<String, Refusal> {
    if let Some(base) = &state.settings.media.public_url {
        return Ok(base.clone());
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| crate::config::is_authority(h))
        .map(|h| format!("http://{h}"))
        .ok_or_else(|| {
            Refusal::bad(
                "the Host header must be host[:port]: file URLs are built from it (or from the server's --public-url)",
            )
        })
}

/// A header's value as text; None when absent, 400 when not visible ASCII.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Refusal> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Refusal::bad(format!(
                "the {name} header must be visible ASCII (percent-encode anything else)"
            ))
        }),
    }
}
