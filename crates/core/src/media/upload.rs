//! The vendor's media senders (seed 002 "语法糖", L4160-4380): the file is streamed from disk
//! to the server off the JS thread, the message is stored first (SENDING, with its
//! thumbnail and the file's local path) so the UI can show it while it uploads, and then it
//! is sent under the same local id with the file's URL. A failed or cancelled upload leaves
//! it FAILED with 34011 (UPLOAD_FAIL); sending it again with `options.messageId` uploads again.
//!
//! Two steps so the renderer can run the seed's `onComplete(fileInfo)` hook between them (it
//! may return another message to send): `uploadMediaMessage` stores and uploads, then
//! `sendMessage(..., { messageId })` sends. `sendMediaMessage` does both.

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Map, Value};

use super::content::{self, Prepared};
use super::transfer::{self, Progress, UploadRequest};
use crate::args;
use crate::codes::UPLOAD_FAIL;
use crate::engine::{message_id, no_such_message, Engine};
use crate::error::{ImError, ImResult};
use crate::message::{now_ms, InsertOptions, Parser};
use crate::model::{conversation_type, direction, sent_status};
use crate::store::{inbox, writes};
use crate::sync::Payload;

/// A finished upload.
struct Uploaded {
    /// The local message (0 for a chatroom, whose messages are not stored).
    message_id: i64,
    object_name: String,
    content: Map<String, Value>,
    message: Value,
    file_info: Value,
}

/// A fresh transfer id when the caller gave none.
pub(crate) fn new_transfer_id() -> String {
    format!(
        "t{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// The send options kept on the stored copy while it uploads (the same ones sendMessage
/// keeps, so the message looks the same before and after).
fn stored_options(opts: &Map<String, Value>, stored: &mut Map<String, Value>) {
    for key in [
        "disableNotification",
        "isMentioned",
        "pushConfig",
        "canIncludeExpansion",
        "expansion",
    ] {
        if let Some(v) = opts.get(key) {
            stored.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = opts.get("directionalUserIdList") {
        stored.insert("directedUserIds".into(), v.clone());
    }
}

/// The progress reporter of one transfer: `MEDIA_PROGRESS` events
/// `{ transferId, messageId, direction, progress (0-100), done, total }`.
pub(crate) fn progress_events(
    engine: &Engine,
    transfer_id: &str,
    message_id: i64,
    dir: &'static str,
) -> Progress {
    let sink = engine.events.read().unwrap().clone();
    let transfer_id = transfer_id.to_owned();
    std::sync::Arc::new(move |done: u64, total: u64| {
        if let Some(sink) = &sink {
            let progress = (done * 100).checked_div(total).unwrap_or(100);
            sink(
                "MEDIA_PROGRESS",
                Payload::Value(json!({
                    "transferId": transfer_id, "messageId": message_id, "direction": dir,
                    "progress": progress, "done": done, "total": total,
                })),
            );
        }
    })
}

impl Engine {
    /// `uploadMediaMessage(conversation, media, options)`: stores the message (SENDING) and
    /// uploads its file; resolves `{ message, fileInfo: { url, name, size, type } }`. The
    /// caller then sends it with `sendMessage(..., { messageId })`.
    pub async fn upload_media_message(
        &self,
        conversation: Value,
        media: Value,
        options: Value,
    ) -> ImResult<Value> {
        let up = self.upload_media(&conversation, &media, &options).await?;
        Ok(json!({ "message": up.message, "fileInfo": up.file_info }))
    }

    /// `sendMediaMessage(conversation, media, options)`: upload, then send.
    pub async fn send_media_message(
        &self,
        conversation: Value,
        media: Value,
        options: Value,
    ) -> ImResult<Value> {
        let up = self.upload_media(&conversation, &media, &options).await?;
        let mut opts = args::optional_object(Some(&options), "options")?
            .cloned()
            .unwrap_or_default();
        if up.message_id != 0 {
            opts.insert("messageId".into(), json!(up.message_id));
        }
        let message = json!({ "messageType": up.object_name, "content": up.content });
        self.send_message(conversation, message, Value::Object(opts))
            .await
    }

    /// `cancelMediaTransfer(messageIdOrTransferId)`: stops the uploads and downloads of a
    /// local message (a number) or of one transfer (its id); resolves how many it stopped.
    pub async fn cancel_media_transfer(&self, target: Value) -> ImResult<Value> {
        let n = match &target {
            Value::String(t) => self.media.cancel(Some(t), 0),
            Value::Number(_) => self
                .media
                .cancel(None, message_id(Some(&target), "target")?),
            other => {
                return Err(ImError::invalid(format!(
                "target must be a local messageId (number) or a transferId (string), got {other}"
            )))
            }
        };
        Ok(json!(n))
    }

    async fn upload_media(
        &self,
        conversation: &Value,
        media: &Value,
        options: &Value,
    ) -> ImResult<Uploaded> {
        let to_chatroom = Self::is_chatroom_target(conversation);
        let key = if to_chatroom {
            crate::sync::chatroom::send_target(conversation)?
        } else {
            args::conversation(Some(conversation), "conversation")?
        };
        if key.conversation_type == conversation_type::SYSTEM {
            return Err(ImError::new(
                crate::sync::api::SYS_CONVERSATION_NOT_SUPPORT,
                "messages cannot be sent to a system conversation",
            ));
        }
        let opts = args::optional_object(Some(options), "options")?
            .cloned()
            .unwrap_or_default();
        // The send that follows the upload checks them too; checked now, a mistake in them
        // costs no upload and leaves no message SENDING that the send then refuses.
        if crate::sync::api::send_options(&opts)?.is_status_message && !to_chatroom {
            return Err(ImError::invalid(
                "options.isStatusMessage cannot be true for a media message: a status message is not stored, and a media message is stored while it uploads",
            ));
        }
        let resend =
            args::integer(opts.get("messageId"), "options.messageId")?.filter(|&id| id != 0);
        if resend.is_some() && to_chatroom {
            return Err(ImError::invalid(
                "options.messageId cannot resend to a chatroom: chatroom messages are not stored",
            ));
        }
        let media = content::parse(media, resend.is_some())?;
        let db = self.db()?;
        self.registry().require(&media.object_name)?;
        let previous_path = match resend {
            Some(id) => self.resend_source(id).await?,
            None => None,
        };
        let path = match (&media.path, previous_path) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => PathBuf::from(p),
            (None, None) => {
                return Err(ImError::invalid(format!(
                    "media.path is required: message {} has no local file to upload again",
                    resend.unwrap_or_default()
                )))
            }
        };
        let size = content::check_file(&path)?;
        let transfer_id = media.transfer_id.clone().unwrap_or_else(new_transfer_id);
        let Some(registration) = self.media.register(&transfer_id, resend.unwrap_or(0)) else {
            return Err(ImError::invalid(format!(
                "transfer {transfer_id} (or message {}) is already uploading",
                resend.unwrap_or_default()
            )));
        };
        let prepared = {
            let (media, path) = (media.clone(), path.clone());
            tokio::task::spawn_blocking(move || content::prepare(&media, &path, size))
                .await
                .map_err(|e| ImError::internal(format!("preparing the media message: {e}")))??
        };

        let local_path = path.to_string_lossy().into_owned();
        let id = if to_chatroom {
            0
        } else {
            let mut stored = Map::new();
            stored_options(&opts, &mut stored);
            stored.insert("messageType".into(), json!(media.object_name));
            stored.insert("content".into(), Value::Object(prepared.content.clone()));
            stored.insert("messageDirection".into(), json!(direction::SEND));
            stored.insert("senderUserId".into(), json!(db.user_id));
            stored.insert("sentStatus".into(), json!(sent_status::SENDING));
            stored.insert("localPath".into(), json!(local_path));
            self.store_uploading(key.clone(), stored, resend, &prepared)
                .await?
        };
        self.media.set_message(&transfer_id, id);

        let failed = |e: String| async move {
            if id != 0 {
                self.mark_upload_failed(id).await;
            }
            let message = if id != 0 {
                self.stored_message(id).await.unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            ImError::new(UPLOAD_FAIL, e).with_data(message)
        };
        let (Some(server), Some(token)) = (
            self.current_server().map(str::to_string),
            self.media.token(),
        ) else {
            return Err(failed(
                "upload failed: not connected (uploads use the server and token of connect())"
                    .into(),
            )
            .await);
        };
        let progress = progress_events(self, &transfer_id, id, "upload");
        let request = UploadRequest {
            server: &server,
            token: &token,
            path: &path,
            name: &prepared.name,
            mime: &prepared.mime,
            disposition: Some(&prepared.disposition),
        };
        let done = match transfer::upload(request, progress, &registration.cancel).await {
            Ok(done) => done,
            Err(e) => {
                return Err(failed(format!("upload of '{}' failed: {e}", prepared.name)).await)
            }
        };
        drop(registration);

        let mut content = prepared.content;
        content.insert(media.kind.url_field().into(), json!(done.url));
        let message = if id != 0 {
            self.set_uploaded_content(id, &media.object_name, &content)
                .await?;
            self.stored_message(id).await?
        } else {
            json!({
                "messageId": 0, "messageType": media.object_name, "content": content,
                "conversationType": key.conversation_type, "targetId": key.target_id,
                "channelId": key.channel_id, "senderUserId": db.user_id,
                "messageDirection": direction::SEND, "sentStatus": sent_status::SENDING,
            })
        };
        Ok(Uploaded {
            message_id: id,
            object_name: media.object_name,
            content,
            message,
            file_info: json!({
                "url": done.url, "name": done.name, "size": done.size, "type": done.mime,
            }),
        })
    }

    /// Checks that `id` is this user's unsent message, not being sent right now, and returns
    /// its local file, if any.
    async fn resend_source(&self, id: i64) -> ImResult<Option<String>> {
        let row = self
            .db()?
            .store
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT direction, uid, json_extract(extra, '$.localPath'), sent_status FROM messages WHERE id = ?1",
                )?
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?)
            })
            .await?;
        let Some((dir, uid, path, status)) = row else {
            return Err(no_such_message("options.messageId", id));
        };
        // SENDING: a send (or the outbox) has it in flight; uploading again would replace its
        // content under that send and then mark it FAILED. (An upload in flight is refused
        // by the transfer registry; one the app quit in the middle of is FAILED at open.)
        if uid.is_none() && status == sent_status::SENDING {
            return Err(ImError::invalid(format!(
                "options.messageId {id} is being sent (SENDING); send it again once it has FAILED"
            )));
        }
        if dir != direction::SEND {
            return Err(ImError::invalid(format!(
                "options.messageId {id} is not a message this user sent"
            )));
        }
        if uid.is_some() {
            return Err(ImError::invalid(format!(
                "options.messageId {id} was already sent; there is nothing to upload again"
            )));
        }
        Ok(path)
    }

    /// Stores the message being uploaded (or turns the resent one back to SENDING with its
    /// new content), without a client id: the outbox resends only messages that have one,
    /// and this one has no URL yet. A resent message whose earlier send failed had one; it
    /// is set aside in `extra` ([`crate::sync::api::SET_ASIDE_CLIENT_ID`]) until the message
    /// is sent, so that send still carries it (the server keeps one copy if the earlier
    /// attempt reached it), while a reconnect or a restart mid-upload no longer finds a
    /// SENDING message with a client id and an empty URL for the outbox to send.
    async fn store_uploading(
        &self,
        key: crate::model::ConversationKey,
        stored: Map<String, Value>,
        resend: Option<i64>,
        prepared: &Prepared,
    ) -> ImResult<i64> {
        let db = self.db()?;
        let parsed = {
            let registry = self.registry();
            Parser {
                registry: &registry,
                user_id: &db.user_id,
                now: now_ms(),
            }
            .parse(key, &stored, "media", &InsertOptions::default())?
        };
        let content = Value::Object(prepared.content.clone()).to_string();
        let object_name = parsed.object_name.clone();
        let local_path = stored
            .get("localPath")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        db.store
            .write(move |tx| {
                if let Some(id) = resend {
                    inbox::replace_content(tx, id, &content, None)?;
                    // Every expression reads the row as it was: the client id is set aside
                    // before it is cleared.
                    tx.execute(
                        &format!(
                            "UPDATE messages SET sent_status = ?2, object_name = ?3, client_id = NULL, \
                             extra = CASE WHEN client_id IS NULL \
                               THEN json_set(coalesce(extra, '{{}}'), '$.localPath', ?4) \
                               ELSE json_set(coalesce(extra, '{{}}'), '$.localPath', ?4, '$.{}', client_id) END \
                             WHERE id = ?1",
                            crate::sync::api::SET_ASIDE_CLIENT_ID
                        ),
                        params![id, sent_status::SENDING, object_name, local_path],
                    )?;
                    return Ok(id);
                }
                match writes::insert(tx, std::slice::from_ref(&parsed), None)?[0] {
                    writes::Outcome::Inserted(id) => Ok(id),
                    writes::Outcome::Duplicate(_) => Err(ImError::internal(
                        "a new message collided with a stored one",
                    )),
                }
            })
            .await
            .map_err(crate::error::storage_failure(
                crate::codes::PROTOCOL_MESSAGE_SAVED_ERROR,
            ))
    }

    async fn set_uploaded_content(
        &self,
        id: i64,
        object_name: &str,
        content: &Map<String, Value>,
    ) -> ImResult<()> {
        let search = self
            .registry()
            .get(object_name)
            .and_then(|info| crate::registry::search_text(info, &Value::Object(content.clone())));
        let text = Value::Object(content.clone()).to_string();
        self.db()?
            .store
            .write(move |tx| inbox::replace_content(tx, id, &text, search.as_deref()))
            .await
    }

    async fn mark_upload_failed(&self, id: i64) {
        let Ok(db) = self.db() else { return };
        let _ = db
            .store
            .write(move |tx| {
                tx.execute(
                    "UPDATE messages SET sent_status = ?2 WHERE id = ?1 AND sent_status = ?3",
                    params![id, sent_status::FAILED, sent_status::SENDING],
                )?;
                Ok(())
            })
            .await;
    }
}

/// Uploads the app quit in the middle of: their messages were left SENDING without a client
/// id (which the outbox needs to resend) and never will finish; they failed (resend them with
/// `options.messageId`). Run when a database opens; reads the `messages_sending` index only.
pub(crate) fn fail_interrupted_uploads(tx: &rusqlite::Connection) -> ImResult<usize> {
    // `sent_status = 10` written out: SQLite uses a partial index only when the query's
    // WHERE implies the index's, which a bound parameter never does; with `?` this scanned
    // the whole message table at every open (and a damaged page anywhere in it made the
    // open itself fail with 33201).
    const _: () = assert!(sent_status::SENDING == 10);
    Ok(tx
        .prepare_cached(
            "UPDATE messages SET sent_status = ?1 WHERE sent_status = 10 AND client_id IS NULL \
             AND uid IS NULL AND direction = ?2 AND json_extract(extra, '$.localPath') IS NOT NULL",
        )?
        .execute(params![sent_status::FAILED, direction::SEND])?)
}
