//! The upload endpoints: create, append (PATCH), status (HEAD). See the
//! module documentation of [`crate::media`] for the protocol.
//!
//! The offset is what the store holds, never a counter kept beside it: bytes
//! that reached storage before a connection broke count, and a resuming
//! client learns exactly where to continue.

use std::io;
use std::time::Duration;

use axum::body::{BodyDataStream, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::naming::{self, Disposition};
use super::reply::{ok, Refusal};
use super::store::{is_id, new_id, AppendError, Chunks};
use super::turns::Turn;
use super::{authenticate, base_url, header_text, signing};
use crate::clock::now_ms;
use crate::request_deadline::RequestDeadline;
use crate::state::AppState;
use crate::store::media::{self, Described, File, Upload};
use crate::store::Outcome;

/// `POST /media/upload`.
pub async fn create(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    create_upload(&state, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `PATCH /media/upload/<uploadId>`.
pub async fn append(
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
    req: Request,
) -> Response {
    append_bytes(&state, &upload_id, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `HEAD /media/upload/<uploadId>`.
pub async fn status(
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
    req: Request,
) -> Response {
    let (parts, _body) = req.into_parts();
    upload_status(&state, &upload_id, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// A byte count header: digits only.
fn parse_count(name: &str, text: &str) -> Result<u64, Refusal> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::bad(format!(
            "the {name} header must be a whole number of bytes"
        )));
    }
    // All digits but past u64: larger than any limit.
    Ok(t.parse().unwrap_or(u64::MAX))
}

async fn create_upload(state: &AppState, parts: &Parts) -> Result<Response, Refusal> {
    let user = authenticate(state, parts)?;
    // Refused now rather than after the client has sent the whole file.
    base_url(state, &parts.headers)?;
    let headers = &parts.headers;
    let max = state.settings.media.max_file_size;

    let length = match header_text(headers, "X-Upload-Length")? {
        Some(text) => parse_count("X-Upload-Length", text)?,
        None => {
            return Err(Refusal::bad(
                "the X-Upload-Length header is required: the file's size in bytes",
            ))
        }
    };
    if length == 0 {
        return Err(Refusal::bad(
            "X-Upload-Length must be at least 1: empty files are not uploaded",
        ));
    }
    if length > max {
        return Err(Refusal::upload(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("X-Upload-Length {length} is over this server's limit of {max} bytes"),
        ));
    }
    let name = match header_text(headers, "X-Upload-Name")? {
        Some(raw) => naming::decode_name(raw).map_err(Refusal::bad)?,
        None => {
            return Err(Refusal::bad(
                "the X-Upload-Name header is required: the file name, percent-encoded UTF-8",
            ))
        }
    };
    let mime = match header_text(headers, "X-Upload-Type")? {
        Some(raw) => naming::parse_type(raw).map_err(Refusal::bad)?,
        None => imsync_protocol::media_types::from_name(&name).to_owned(),
    };
    let disposition = match header_text(headers, "X-Upload-Disposition")? {
        Some(raw) => Disposition::parse(raw).map_err(Refusal::bad)?,
        None => Disposition::default_for(&mime),
    };

    let id = new_id();
    state
        .media
        .files
        .create_partial(&id)
        .await
        .map_err(|e| Refusal::internal(format!("creating the partial of upload {id}: {e}")))?;
    let upload = Upload {
        id: id.clone(),
        owner: user,
        described: Described {
            name,
            mime,
            disposition: disposition.as_str().to_owned(),
        },
        length,
        created_at: now_ms(),
        file_id: None,
    };
    let stored = state
        .store
        .write(move |c| Ok(Outcome::quiet(media::insert_upload(c, &upload)?)))
        .await;
    if let Err(e) = stored {
        let _ = state.media.files.delete_partial(&id).await;
        return Err(e.into());
    }
    Ok(ok(
        StatusCode::CREATED,
        json!({ "uploadId": id, "offset": 0 }),
    ))
}

/// The upload `id` as `user` may see it: 404 for an unknown id and for
/// another user's (which are not told apart).
async fn owned_upload(state: &AppState, id: &str, user: &str) -> Result<Upload, Refusal> {
    let unknown = || {
        Refusal::upload(
            StatusCode::NOT_FOUND,
            "unknown uploadId (an upload is visible to the user who created it only)",
        )
    };
    if !is_id(id) {
        return Err(unknown());
    }
    let key = id.to_owned();
    let found = state.store.read(move |c| media::upload(c, &key)).await?;
    match found {
        Some(u) if u.owner == user => Ok(u),
        _ => Err(unknown()),
    }
}

/// Bytes the upload holds.
async fn held(state: &AppState, upload: &Upload) -> Result<u64, Refusal> {
    if upload.file_id.is_some() {
        return Ok(upload.length);
    }
    match state.media.files.partial_len(&upload.id).await {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Refusal::upload(
            StatusCode::NOT_FOUND,
            "this upload's bytes are gone (abandoned uploads are deleted after a day); start a new upload",
        )),
        Err(e) => Err(Refusal::internal(format!(
            "reading the length of upload {}: {e}",
            upload.id
        ))),
    }
}

/// Takes the upload's turn, then reads its state afresh (the request that
/// had the turn may have changed it).
async fn take_turn(
    state: &AppState,
    upload_id: &str,
    user: &str,
) -> Result<(Turn, Upload, u64), Refusal> {
    let Some(turn) = state.media.turns.take(upload_id).await else {
        let refusal = Refusal::upload(
            StatusCode::CONFLICT,
            "a newer request on this upload took over",
        );
        // Where it stands as of now (the newer request may still move it).
        let upload = owned_upload(state, upload_id, user).await?;
        return Err(refusal.at(held(state, &upload).await?));
    };
    let upload = owned_upload(state, upload_id, user).await?;
    let held = held(state, &upload).await?;
    Ok((turn, upload, held))
}

/// How the body of a PATCH ended.
enum End {
    /// All of it was appended.
    Whole,
    /// It went past the declared length; the bytes up to it were appended.
    Overflow,
    /// A newer request on the upload interrupted it.
    Interrupted,
    /// No bytes came for the request timeout; what arrived was appended.
    Stalled,
    /// It broke off (connection cut); what arrived was appended.
    Broken(String),
}

/// Time the listener's request deadline is kept beyond the body's own idle
/// timeout, so that the handler, not the listener, ends a stalled upload:
/// it stores what arrived and answers with the offset.
const BACKSTOP: Duration = Duration::from_secs(10);

/// The body of a PATCH as the chunks to append: at most `room` bytes,
/// stopping when a newer request interrupts or the body stalls for `idle`.
/// How it ended is left in `end`.
struct Feed<'a> {
    body: BodyDataStream,
    room: u64,
    end: &'a mut End,
    turn: &'a mut Turn,
    idle: Duration,
    /// The listener's deadline for this request, pushed back as bytes come.
    deadline: Option<RequestDeadline>,
    done: bool,
}

impl<'a> Feed<'a> {
    async fn next(mut self) -> Option<(Bytes, Feed<'a>)> {
        while !self.done {
            if let Some(deadline) = &self.deadline {
                deadline.push_back(self.idle + BACKSTOP);
            }
            let next = tokio::select! {
                () = self.turn.interrupted() => {
                    *self.end = End::Interrupted;
                    return None;
                }
                next = tokio::time::timeout(self.idle, self.body.next()) => next,
            };
            let mut bytes = match next {
                Err(_) => {
                    *self.end = End::Stalled;
                    return None;
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => {
                    *self.end = End::Broken(e.to_string());
                    return None;
                }
                Ok(Some(Ok(bytes))) => bytes,
            };
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() as u64 > self.room {
                // Never beyond the declared length: keep what fits, stop.
                bytes.truncate(self.room as usize);
                *self.end = End::Overflow;
                self.done = true;
                if bytes.is_empty() {
                    return None;
                }
            }
            self.room -= bytes.len() as u64;
            return Some((bytes, self));
        }
        None
    }

    fn into_chunks(self) -> Chunks<'a> {
        Box::pin(futures_util::stream::unfold(self, Feed::next))
    }
}

async fn append_bytes(
    state: &AppState,
    upload_id: &str,
    req: Request,
) -> Result<Response, Refusal> {
    let (parts, body) = req.into_parts();
    let user = authenticate(state, &parts)?;
    // Ownership first: taking the turn interrupts the request holding it.
    owned_upload(state, upload_id, &user).await?;
    let base = base_url(state, &parts.headers)?;
    let offset = match header_text(&parts.headers, "Upload-Offset")? {
        Some(text) => parse_count("Upload-Offset", text)?,
        None => {
            return Err(Refusal::bad(
                "the Upload-Offset header is required: where this body goes (HEAD tells the bytes held)",
            ))
        }
    };
    let content_length = match header_text(&parts.headers, "Content-Length")? {
        Some(text) => Some(parse_count("Content-Length", text)?),
        None => None,
    };

    let (mut turn, upload, held) = take_turn(state, upload_id, &user).await?;
    if offset != held {
        return Err(Refusal::upload(
            StatusCode::CONFLICT,
            format!(
                "Upload-Offset is {offset} but the upload holds {held} bytes: continue from {held}"
            ),
        )
        .at(held));
    }
    if let Some(len) = content_length {
        if offset.saturating_add(len) > upload.length {
            return Err(Refusal::upload(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{len} bytes from offset {offset} pass the upload's X-Upload-Length of {}",
                    upload.length
                ),
            )
            .at(held));
        }
    }

    let mut end = End::Whole;
    let feed = Feed {
        body: body.into_data_stream(),
        room: upload.length.saturating_sub(held),
        end: &mut end,
        turn: &mut turn,
        idle: state.settings.conn.request_timeout,
        deadline: parts.extensions.get::<RequestDeadline>().cloned(),
        done: false,
    };
    let held = if upload.file_id.is_some() {
        // Complete: no room, so any byte is an overflow.
        let mut chunks = feed.into_chunks();
        while chunks.next().await.is_some() {}
        held
    } else {
        let appended = state
            .media
            .files
            .append(upload_id, offset, feed.into_chunks())
            .await;
        match appended {
            Ok(n) => n,
            Err(AppendError::Offset { current }) => {
                // Only if the storage changed outside the turns.
                return Err(Refusal::upload(
                    StatusCode::CONFLICT,
                    format!("the upload holds {current} bytes: continue from {current}"),
                )
                .at(current));
            }
            Err(AppendError::Io(e)) => {
                return Err(Refusal::internal(format!(
                    "appending to upload {upload_id}: {e}"
                )))
            }
        }
    };
    match end {
        End::Whole => {}
        End::Overflow => {
            return Err(Refusal::upload(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body passes the upload's X-Upload-Length of {}; the bytes up to it are kept (PATCH an empty body at {held} to complete)",
                    upload.length
                ),
            )
            .at(held))
        }
        End::Interrupted => {
            return Err(Refusal::upload(
                StatusCode::CONFLICT,
                format!("a newer request on this upload interrupted this one; the upload holds {held} bytes"),
            )
            .at(held))
        }
        End::Stalled => {
            let mut resp = Refusal::upload(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "no body bytes for {:?}; the upload holds {held} bytes: continue from there",
                    state.settings.conn.request_timeout
                ),
            )
            .at(held)
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(resp);
        }
        End::Broken(why) => {
            return Err(Refusal::bad(format!(
                "the request body broke off ({why}); the upload holds {held} bytes: continue from there"
            ))
            .at(held))
        }
    }
    if held < upload.length {
        return Ok(ok(StatusCode::OK, json!({ "offset": held })));
    }
    let file = match &upload.file_id {
        Some(file_id) => {
            let key = file_id.clone();
            state
                .store
                .read(move |c| media::file(c, &key))
                .await?
                .ok_or_else(|| {
                    Refusal::internal(format!(
                        "file {file_id} of upload {upload_id} is not in the store"
                    ))
                })?
        }
        None => finish(state, &upload).await?,
    };
    drop(turn);
    Ok(ok(
        StatusCode::OK,
        json!({ "offset": held, "file": file_json(state, &base, &file) }),
    ))
}

/// Turns the complete partial into a file and records it.
async fn finish(state: &AppState, upload: &Upload) -> Result<File, Refusal> {
    let file = File {
        id: new_id(),
        owner: upload.owner.clone(),
        described: upload.described.clone(),
        size: upload.length,
        created_at: now_ms(),
    };
    state
        .media
        .files
        .finalize(&upload.id, &file.id)
        .await
        .map_err(|e| Refusal::internal(format!("finalizing upload {}: {e}", upload.id)))?;
    let (upload_id, record) = (upload.id.clone(), file.clone());
    let recorded = state
        .store
        .write(move |c| Ok(Outcome::quiet(media::complete(c, &upload_id, &record)?)))
        .await;
    if let Err(e) = recorded {
        // Unrecorded, the file could never be served.
        let _ = state.media.files.delete_file(&file.id).await;
        return Err(e.into());
    }
    Ok(file)
}

fn file_json(state: &AppState, base: &str, file: &File) -> Value {
    let url = signing::file_url(
        base,
        &file.id,
        &file.described.name,
        state.settings.media.file_url_ttl,
        &state.settings.app_secret,
        now_ms(),
    );
    json!({
        "url": url,
        "name": file.described.name,
        "size": file.size,
        "type": file.described.mime,
    })
}

async fn upload_status(
    state: &AppState,
    upload_id: &str,
    parts: &Parts,
) -> Result<Response, Refusal> {
    let user = authenticate(state, parts)?;
    owned_upload(state, upload_id, &user).await?;
    // The turn makes the answer final: no older PATCH is still writing.
    let (turn, upload, held) = take_turn(state, upload_id, &user).await?;
    drop(turn);
    let mut resp = StatusCode::OK.into_response();
    let headers = resp.headers_mut();
    headers.insert("upload-offset", HeaderValue::from(held));
    headers.insert("upload-length", HeaderValue::from(upload.length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
