//! `GET`/`HEAD /media/file/<fileId>/<name>`: a finished file, streamed from
//! storage, whole or one byte range.
//!
//! The answer is made for `<img>`/`<video>` in a sandboxed renderer on
//! another origin (`Cross-Origin-Resource-Policy: cross-origin`) and so that
//! nothing in it runs on this origin when opened directly: the stored type
//! is sent with `nosniff`, and every type a browser would render as a
//! document gets a sandboxing `Content-Security-Policy`. The name in the
//! path is for people and save dialogs; only the id selects the file.

use std::io;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use imsync_protocol::codes;

use super::naming;
use super::range::{self, Ranged};
use super::reply::Refusal;
use super::signing;
use super::store::is_id;
use crate::clock::now_ms;
use crate::conn_limits::Ticket;
use crate::log_escape::Escaped;
use crate::state::AppState;
use crate::store::media;

/// How long a browser may keep a file whose URL does not expire (files
/// never change under their id).
const IMMUTABLE_MAX_AGE: i64 = 365 * 86_400;

/// `GET`/`HEAD /media/file/<fileId>/<name>`.
pub async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    // Read from the raw path: an id is plain hex, and a name segment that
    // does not decode must not hide the file.
    let file_id = parts
        .uri
        .path()
        .strip_prefix("/media/file/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_owned();
    serve_file(&state, &file_id, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn not_found() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        codes::BIZ_ERROR_INVALID_PARAMETER,
        "no file with this fileId",
    )
}

async fn serve_file(state: &AppState, file_id: &str, parts: &Parts) -> Result<Response, Refusal> {
    let now_s = now_ms() / 1000;
    // Checked before the id is looked up: without a valid signature nobody
    // learns whether a file exists.
    let max_age = match state.settings.media.file_url_ttl {
        Some(_) => {
            let (expires, signature) = signing::query_params(parts.uri.query());
            signing::check(
                &state.settings.app_secret,
                file_id,
                expires,
                signature,
                now_s,
            )
            .map_err(|e| {
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    codes::BIZ_ERROR_INVALID_PARAMETER,
                    e.to_string(),
                )
            })?;
            // check() parsed it.
            expires
                .and_then(|e| e.parse::<i64>().ok())
                .map_or(0, |e| e - now_s)
        }
        None => IMMUTABLE_MAX_AGE,
    };
    if !is_id(file_id) {
        return Err(not_found());
    }
    let key = file_id.to_owned();
    let file = state
        .store
        .read(move |c| media::file(c, &key))
        .await?
        .ok_or_else(not_found)?;
    let size = file.size;
    let range_header = parts
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, start, len) = match range::parse(range_header, size) {
        Ranged::Full => (StatusCode::OK, 0, size),
        Ranged::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let mut resp = Refusal::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                codes::BIZ_ERROR_INVALID_PARAMETER,
                format!("the Range is outside the file's {size} bytes"),
            )
            .into_response();
            put(
                resp.headers_mut(),
                header::CONTENT_RANGE,
                format!("bytes */{size}"),
            );
            put(resp.headers_mut(), header::ACCEPT_RANGES, "bytes".into());
            return Ok(resp);
        }
    };

    let body = if parts.method == Method::HEAD {
        Body::empty()
    } else {
        match state.media.files.read_range(file_id, start, len).await {
            Ok(stream) => Body::from_stream(stream),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(file = %Escaped(&file_id), "file recorded but missing from storage");
                return Err(not_found());
            }
            Err(e) => {
                return Err(Refusal::internal(format!("opening file {file_id}: {e}")));
            }
        }
    };
    // A valid file URL is a credential of sorts: a long download (a video
    // played at its own pace) must not be cut at the unauthenticated
    // connections' lifetime.
    if let Some(ticket) = parts.extensions.get::<Ticket>() {
        ticket.authenticated();
    }

    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    put(h, header::CONTENT_LENGTH, len.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        put(
            h,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    put(h, header::ACCEPT_RANGES, "bytes".into());
    put(h, header::CONTENT_TYPE, file.described.mime.clone());
    put(
        h,
        header::CONTENT_DISPOSITION,
        naming::content_disposition(&file.described.disposition, &file.described.name),
    );
    put(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    put(h, "cross-origin-resource-policy", "cross-origin".into());
    put(
        h,
        header::CACHE_CONTROL,
        format!("private, max-age={}", max_age.max(0)),
    );
    // Chrome's PDF viewer does not run in a sandboxed document; a PDF runs
    // no script of this origin anyway.
    if file.described.mime != "application/pdf" {
        put(
            h,
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox".into(),
        );
    }
    Ok(resp)
}

/// Sets a header whose value the server built; one that is not a valid
/// header value (it cannot be: the inputs were checked) is left out.
fn put<K: header::IntoHeaderName>(headers: &mut HeaderMap, name: K, value: String) {
    match HeaderValue::try_from(value) {
        Ok(v) => {
            headers.insert(name, v);
        }
        Err(e) => tracing::error!(error = %e, "a media header value was not valid"),
    }
}
