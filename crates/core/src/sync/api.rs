//! The connection calls of the API (`connect`, `disconnect`, `getConnectionStatus`,
//! `sendMessage`) and the engine side of the session: applying entries, the outbox.

use std::sync::Arc;

use imsync_protocol as pb;
use pb::{request, response};
use rusqlite::params;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::session::{self, Params, NET_UNAVAILABLE};
use super::{convert, token_user_id, Command, EventSink, Link, Payload, Status};
use crate::args;
use crate::engine::Engine;
use crate::error::{ImError, ImResult};
use crate::message::{now_ms, InsertOptions, Parser};
use crate::model::{conversation_type, direction, sent_status};
use crate::store::{history, inbox, writes};

const BIZ_ERROR_CONNECTING: i32 = 33006;
const CONNECTION_EXIST: i32 = 34001;
const TOKEN_INCORRECT: i32 = 31004;
pub(crate) const SYS_CONVERSATION_NOT_SUPPORT: i32 = 20109;
/// The key in a message's `extra` holding the client id of an earlier, failed send while the
/// media upload of a resend runs without one (media/upload.rs); a resend sends under it.
pub(crate) const SET_ASIDE_CLIENT_ID: &str = "sentClientId";

/// `setCheckDuplicateMessage`: a received message without a sender client id that
/// repeats a stored one from the same sender — same type, content *and* sentTime — is a
/// second copy of one message and dropped. A wider window would drop distinct messages
/// that happen to say the same thing (measured: 269 of 100,000 real publishes at 10 s);
/// nothing is lost instead, and resends of client sends are deduplicated by the server
/// through their client ids.
pub const RECEIVE_DEDUP_WINDOW_MS: i64 = 0;

fn new_client_id() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// The send options of `sendMessage` (and the media senders, which check them before they
/// upload anything), checked, as the request fields they set.
pub(crate) fn send_options(opts: &Map<String, Value>) -> ImResult<pb::SendMessageRequest> {
    let mut req = pb::SendMessageRequest {
        is_status_message: args::boolean(
            opts.get("isStatusMessage"),
            "options.isStatusMessage",
            Some(false),
        )?,
        disable_notification: args::boolean(
            opts.get("disableNotification"),
            "options.disableNotification",
            Some(false),
        )?,
        is_mentioned: args::boolean(opts.get("isMentioned"), "options.isMentioned", Some(false))?,
        can_include_expansion: args::boolean(
            opts.get("canIncludeExpansion"),
            "options.canIncludeExpansion",
            Some(false),
        )?,
        ..Default::default()
    };
    if let Some(ids) = args::string_array(
        opts.get("directionalUserIdList"),
        "options.directionalUserIdList",
        1000,
    )? {
        req.directed_user_ids = ids;
    }
    if let Some(exp) = args::optional_object(opts.get("expansion"), "options.expansion")? {
        let exp = super::expansion::parse_expansion(exp, "options.expansion")?;
        if !exp.is_empty() && !req.can_include_expansion {
            return Err(ImError::new(
                pb::codes::MESSAGE_KV_NOT_SUPPORT,
                "options.expansion needs options.canIncludeExpansion: true",
            ));
        }
        req.expansion = exp.into_iter().collect();
    }
    let push = args::optional_object(opts.get("pushConfig"), "options.pushConfig")?;
    let push_content = args::string(opts.get("pushContent"), "options.pushContent")?;
    let push_data = args::string(opts.get("pushData"), "options.pushData")?;
    if push.is_some() || push_content.is_some() || push_data.is_some() {
        let mut config = match push {
            Some(p) => super::push_config::to_wire(p, "options.pushConfig")?,
            None => pb::PushConfig::default(),
        };
        // The older top-level options win, as they did before pushConfig existed.
        if let Some(c) = push_content {
            config.push_content = c.to_string();
        }
        if let Some(d) = push_data {
            config.push_data = d.to_string();
        }
        req.push_config = Some(config);
    }
    Ok(req)
}

impl Engine {
    /// Registers the receiver of every event; replaces an earlier one.
    pub fn on_event(&self, sink: EventSink) {
        *self.events.write().unwrap() = Some(sink);
    }

    pub(crate) fn emit(&self, name: &str, payload: Value) {
        self.emit_payload(name, Payload::Value(payload));
    }

    fn emit_payload(&self, name: &str, payload: Payload) {
        let sink = self.events.read().unwrap().clone();
        if let Some(sink) = sink {
            sink(name, payload);
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.sync.lock().unwrap().status = Some(status);
    }

    pub fn connection_status(&self) -> Status {
        self.sync.lock().unwrap().status.unwrap_or(Status::Idle)
    }

    pub async fn get_connection_status(&self) -> ImResult<Value> {
        Ok(json!(self.connection_status().code()))
    }

    /// Opens the token's user database first (local calls work offline from then on),
    /// then connects; resolves once the server accepted or refused the first attempt.
    pub async fn connect(
        self: &Arc<Self>,
        token: Value,
        reconnect_kick_enable: Value,
    ) -> ImResult<Value> {
        let token = args::string(Some(&token), "token")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ImError::invalid("token is required (a non-empty string)"))?
            .to_string();
        let kick_enable = args::boolean(
            Some(&reconnect_kick_enable),
            "reconnectKickEnable",
            Some(false),
        )?;
        if self.options().server_urls.is_empty() {
            return Err(ImError::invalid(
                "options.serverUrl is required to connect (e.g. http://127.0.0.1:8080)",
            ));
        }
        let user_id =
            token_user_id(&token).ok_or_else(|| ImError::new(TOKEN_INCORRECT, "token invalid"))?;
        let first = {
            let mut sync = self.sync.lock().unwrap();
            if let Some(link) = &sync.link {
                if !link.task.is_finished() {
                    return Err(match sync.status {
                        Some(Status::Connected) => ImError::new(
                            CONNECTION_EXIST,
                            "already connected: call disconnect() first",
                        ),
                        _ => ImError::new(
                            BIZ_ERROR_CONNECTING,
                            "a connection is being established: call disconnect() first",
                        ),
                    });
                }
            }
            let (first_tx, first_rx) = oneshot::channel();
            let (commands_tx, commands_rx) = mpsc::unbounded_channel();
            let (stop_tx, stop_rx) = watch::channel(false);
            sync.status = Some(Status::Connecting);
            let engine = self.clone();
            // Uploads authenticate with the same token (media/upload.rs).
            self.media.set_token(&token);
            let params = Params { token, kick_enable };
            let task = tokio::spawn(async move {
                // The database must be open before the first frame is applied.
                if let Err(e) = engine.open(json!(user_id)).await {
                    engine.set_status(Status::Disconnected(e.code));
                    let _ = first_tx.send(Err(e));
                    return;
                }
                session::run(engine, params, first_tx, commands_rx, stop_rx).await
            });
            sync.link = Some(Link {
                commands: commands_tx,
                stop: stop_tx,
                task,
            });
            first_rx
        };
        let user = first
            .await
            .unwrap_or_else(|_| Err(ImError::internal("the connection task ended unexpectedly")))?;
        Ok(json!({ "userId": user }))
    }

    /// Ends the session (DISCONNECT(2) is emitted) and, with `closeDB`, closes the
    /// database too. Idempotent.
    pub async fn disconnect(&self, close_db: Value) -> ImResult<Value> {
        let close_db = args::boolean(Some(&close_db), "closeDB", Some(false))?;
        self.stop_session().await;
        self.forget_rooms();
        if close_db {
            self.close().await?;
        }
        Ok(Value::Null)
    }

    pub(crate) async fn stop_session(&self) {
        let link = self.sync.lock().unwrap().link.take();
        if let Some(link) = link {
            let _ = link.stop.send(true);
            let _ = link.task.await;
        }
    }

    /// A request the server must accept: a refusal becomes the error with its code.
    pub(crate) async fn call(&self, op: request::Op) -> ImResult<pb::Response> {
        let r = self.request(op).await?;
        if r.code != 0 {
            return Err(ImError::new(r.code, r.msg));
        }
        Ok(r)
    }

    pub(crate) async fn request(&self, op: request::Op) -> ImResult<pb::Response> {
        let commands = {
            let sync = self.sync.lock().unwrap();
            match (&sync.link, sync.status) {
                (Some(link), Some(Status::Connected)) => link.commands.clone(),
                _ => {
                    return Err(ImError::new(
                        NET_UNAVAILABLE,
                        "not connected: this call needs the server connection (connect first)",
                    ))
                }
            }
        };
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Request { op, reply })
            .map_err(|_| ImError::new(NET_UNAVAILABLE, "not connected"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(ImError::new(NET_UNAVAILABLE, "the connection ended")))
    }

    /// Sends a message: stored first (SENDING, with a local messageId and a client id),
    /// then SENT with the server's messageUId and sentTime, or FAILED with its code (the
    /// failed message comes back in `data`). `options.messageId` resends a stored message
    /// under its original client id, so the server never stores it twice.
    pub async fn send_message(
        &self,
        conversation: Value,
        message: Value,
        options: Value,
    ) -> ImResult<Value> {
        // Chatroom messages are sent but never stored (seed 002), so type 4 is allowed
        // here and nowhere that reads the database.
        let to_chatroom = Self::is_chatroom_target(&conversation);
        let key = if to_chatroom {
            super::chatroom::send_target(&conversation)?
        } else {
            args::conversation(Some(&conversation), "conversation")?
        };
        if key.conversation_type == conversation_type::SYSTEM {
            return Err(ImError::new(
                SYS_CONVERSATION_NOT_SUPPORT,
                "messages cannot be sent to a system conversation",
            ));
        }
        let m = args::object(Some(&message), "message")?;
        let opts = args::optional_object(Some(&options), "options")?
            .cloned()
            .unwrap_or_default();
        let db = self.db()?;
        let object_name = args::id(m.get("messageType"), "message.messageType")?;
        let info = self.registry().require(&object_name)?.clone();
        let content = args::object(m.get("content"), "message.content")?.clone();
        let content_json = Value::Object(content.clone()).to_string();
        if content_json.len() > pb::MAX_CONTENT_BYTES {
            return Err(ImError::new(
                30016,
                format!(
                    "message.content is {} bytes as JSON; the limit is 128 KB",
                    content_json.len()
                ),
            ));
        }
        let mut req = send_options(&opts)?;
        req.conversation = Some(convert::to_wire(&key));
        req.object_name = object_name.clone();
        req.content = content_json;
        req.is_persisted = info.is_persisted;
        req.is_counted = info.is_counted;
        req.is_status_message |= info.is_status;
        if let Some(info) = content.get("mentionedInfo").and_then(Value::as_object) {
            req.is_mentioned = true;
            req.mentioned_info = Some(pb::MentionedInfo {
                r#type: info.get("type").and_then(Value::as_i64).unwrap_or(0) as i32,
                user_ids: info
                    .get("userIdList")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                mentioned_content: info
                    .get("mentionedContent")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            });
        }

        if req.is_status_message || !info.is_persisted || to_chatroom {
            // Not stored anywhere: sent once, reported as sent. A message that is not a
            // status message also comes back through this user's inbox; its client id lets
            // this device recognise it.
            req.client_msg_id = new_client_id();
            // A room's messages never come back to the sending connection.
            let echo = !req.is_status_message && !to_chatroom;
            if echo {
                self.own_transient.push(req.client_msg_id.clone());
            }
            let r = match self.request(request::Op::SendMessage(req.clone())).await {
                Ok(r) if r.code == 0 => r,
                failed => {
                    if echo {
                        self.own_transient.take(&req.client_msg_id);
                    }
                    let r = failed?;
                    return Err(ImError::new(r.code, r.msg));
                }
            };
            let ack = match r.body {
                Some(response::Body::MessageAck(a)) => a,
                _ => pb::MessageAck::default(),
            };
            let mut sent = json!({
                "messageId": 0, "messageUId": ack.message_uid, "sentTime": ack.sent_time,
                "conversationType": key.conversation_type, "targetId": key.target_id, "channelId": key.channel_id,
                "senderUserId": db.user_id, "messageType": object_name, "content": content,
                "messageDirection": direction::SEND, "sentStatus": sent_status::SENT,
                "isPersisted": false, "isCounted": false, "isStatusMessage": req.is_status_message,
                "isOfflineMessage": false,
            });
            crate::message::add_vendor_spellings(&mut sent);
            return Ok(sent);
        }

        // Store first, so the message is in the outbox before a byte leaves.
        // 0 is "not a resend", the vendor's default for options.messageId.
        let resend =
            args::integer(opts.get("messageId"), "options.messageId")?.filter(|&id| id != 0);
        let mut stored = m.clone();
        stored.insert("messageDirection".into(), json!(direction::SEND));
        stored.insert("senderUserId".into(), json!(db.user_id));
        stored.insert("sentStatus".into(), json!(sent_status::SENDING));
        stored.remove("messageUId");
        stored.remove("messageUid");
        stored.remove("sentTime");
        if req.can_include_expansion {
            stored.insert("canIncludeExpansion".into(), json!(true));
            if !req.expansion.is_empty() {
                stored.insert("expansion".into(), json!(req.expansion));
            }
        }
        if !req.directed_user_ids.is_empty() {
            stored.insert("directedUserIds".into(), json!(req.directed_user_ids));
        }
        // The send options that describe the message live on the sender's copy too, as they
        // do when an app stores it first (onSendBefore → insertMessage).
        if req.disable_notification {
            stored.insert("disableNotification".into(), json!(true));
        }
        if req.is_mentioned {
            stored.insert("isMentioned".into(), json!(true));
        }
        // Kept with the sender's copy too: a resend from the outbox carries it again.
        if let Some(p) = &req.push_config {
            stored.insert("pushConfig".into(), super::push_config::to_json(p));
        }
        let parsed = {
            let registry = self.registry();
            let mut p = Parser {
                registry: &registry,
                user_id: &db.user_id,
                now: now_ms(),
            }
            .parse(key.clone(), &stored, "message", &InsertOptions::default())?;
            p.client_id = Some(new_client_id());
            p
        };
        // A resend stores what it sends: the media senders resend their SENDING message
        // with the uploaded file's URL (or the app's own message from onComplete).
        let resent_content = (
            req.content.clone(),
            object_name.clone(),
            crate::registry::search_text(&info, &Value::Object(content.clone())),
        );
        let (id, client_id) = db
            .store
            .write(move |tx| {
                if let Some(id) = resend {
                    let row: Option<(i64, String, Option<String>)> = tx
                        .prepare_cached(&format!(
                            "SELECT direction, coalesce(client_id, json_extract(extra, '$.{SET_ASIDE_CLIENT_ID}')), uid \
                             FROM messages WHERE id = ?1"
                        ))?
                        .query_row([id], |r| {
                            Ok((
                                r.get(0)?,
                                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                                r.get(2)?,
                            ))
                        })
                        .map(Some)
                        .or_else(|e| {
                            if matches!(e, rusqlite::Error::QueryReturnedNoRows) {
                                Ok(None)
                            } else {
                                Err(e)
                            }
                        })?;
                    let Some((dir, client_id, uid)) = row else {
                        return Err(ImError::invalid(format!(
                            "options.messageId {id} does not exist in the local database"
                        )));
                    };
                    if dir != direction::SEND {
                        return Err(ImError::invalid(format!(
                            "options.messageId {id} is not a message this user sent"
                        )));
                    }
                    if uid.is_some() {
                        // Already acknowledged: nothing to resend.
                        return Ok((id, String::new()));
                    }
                    let client_id = if client_id.is_empty() {
                        new_client_id()
                    } else {
                        client_id
                    };
                    let (content, object_name, search) = &resent_content;
                    inbox::replace_content(tx, id, content, search.as_deref())?;
                    tx.execute(
                        &format!(
                            "UPDATE messages SET sent_status = ?2, client_id = ?3, object_name = ?4, \
                             extra = json_remove(extra, '$.{SET_ASIDE_CLIENT_ID}') WHERE id = ?1"
                        ),
                        params![id, sent_status::SENDING, client_id, object_name],
                    )?;
                    return Ok((id, client_id));
                }
                let client_id = parsed.client_id.clone().unwrap_or_default();
                match writes::insert(tx, std::slice::from_ref(&parsed), None)?[0] {
                    writes::Outcome::Inserted(id) => Ok((id, client_id)),
                    writes::Outcome::Duplicate(_) => Err(ImError::internal(
                        "a new message collided with a stored one",
                    )),
                }
            })
            .await
            .map_err(crate::error::storage_failure(
                crate::codes::PROTOCOL_MESSAGE_SAVED_ERROR,
            ))?;
        if client_id.is_empty() {
            return self.stored_message(id).await;
        }
        req.client_msg_id = client_id;
        let answer = self.request(request::Op::SendMessage(req)).await;
        let outcome = match answer {
            Ok(r) if r.code == 0 => match r.body {
                Some(response::Body::MessageAck(ack)) => Ok((ack, r.moderation)),
                _ => Err(ImError::new(
                    session::SOCKET_DISCONNECTED,
                    "send answered without an ack",
                )),
            },
            Ok(r) => Err(ImError::new(r.code, r.msg)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok((ack, moderation)) => {
                let masked = moderation
                    .filter(|m| m.code == pb::codes::SENSITIVE_REPLACE)
                    .and_then(|m| self.masked_text(&object_name, &m.content));
                db.store
                    .write(move |tx| {
                        if let Some((content, text)) = &masked {
                            inbox::replace_content(tx, id, content, text.as_deref())?;
                        }
                        inbox::mark_sent(tx, id, &ack.message_uid, ack.sent_time)
                    })
                    .await?;
                self.stored_message(id).await
            }
            Err(e) => {
                db.store
                    .write(move |tx| {
                        tx.execute(
                            "UPDATE messages SET sent_status = ?2 WHERE id = ?1 AND sent_status = ?3",
                            params![id, sent_status::FAILED, sent_status::SENDING],
                        )?;
                        Ok(())
                    })
                    .await?;
                let message = self.stored_message(id).await.unwrap_or(Value::Null);
                Err(e.with_data(message))
            }
        }
    }

    pub(crate) async fn stored_message(&self, id: i64) -> ImResult<Value> {
        self.db()?
            .store
            .read(move |c| {
                history::by_ids(c, &[id])?
                    .pop()
                    .ok_or_else(|| ImError::internal("message vanished"))
            })
            .await
    }

    pub(crate) fn device_id(&self) -> String {
        self.device_id.get_or_init(|| self.load_device_id()).clone()
    }

    /// The device id: from the options, else generated once and kept under `dbpath`.
    fn load_device_id(&self) -> String {
        if let Some(id) = &self.options().device_id {
            return id.clone();
        }
        let path = self.options().dbpath.join("imsync").join("device-id");
        if let Ok(id) = std::fs::read_to_string(&path) {
            let id = id.trim().to_string();
            if !id.is_empty() {
                return id;
            }
        }
        let id = new_client_id();
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .and_then(|_| std::fs::write(&path, &id));
        id
    }

    pub(crate) async fn read_cursor(&self) -> ImResult<u64> {
        self.db()?.store.read(inbox::cursor).await
    }

    /// Applies delivered entries and moves the cursor in one transaction, then emits
    /// MESSAGES and CONVERSATION for what changed.
    pub(crate) async fn apply_entries(
        &self,
        entries: Vec<pb::InboxEntry>,
        cursor_to: u64,
        offline_through: u64,
    ) -> ImResult<()> {
        let db = self.db()?;
        let now = now_ms();
        let items: Vec<inbox::Apply> = {
            let registry = self.registry();
            entries
                .iter()
                .filter_map(|e| e.message.as_ref().map(|m| (e.seq, m)))
                .filter_map(|(seq, m)| {
                    match convert::to_apply(m, &registry, &db.user_id, seq <= offline_through, now)
                    {
                        // A message this device sent and does not store comes back from
                        // its own inbox: only the user's other devices report it.
                        Some(inbox::Apply::Transient(_))
                            if !m.client_msg_id.is_empty()
                                && self.own_transient.take(&m.client_msg_id) =>
                        {
                            None
                        }
                        other => other,
                    }
                })
                .collect()
        };
        let check = self.check_duplicate();
        let own_expansions = self.own_expansions.clone();
        let (messages, convs, events) = db
            .store
            .write(move |tx| {
                let mut applied = inbox::apply(
                    tx,
                    &items,
                    Some(cursor_to),
                    check.then_some(RECEIVE_DEDUP_WINDOW_MS),
                )?;
                // Decided here, on the writer, where `change_expansion` checks the same record.
                applied.events.retain(|(name, payload)| {
                    *name != "EXPANSION"
                        || !own_expansions.take(&super::expansion::event_signature(payload))
                });
                let (messages, convs) = session::event_payloads(tx, &applied)?;
                Ok((messages, convs, applied.events))
            })
            .await?;
        if let Some(m) = messages {
            self.emit_payload("MESSAGES", Payload::Json(m));
        }
        if let Some(c) = convs {
            self.emit_payload("CONVERSATION", Payload::Json(c));
        }
        // After the messages, so a receipt never reaches the app before its message.
        for (name, payload) in events {
            self.emit(name, payload);
        }
        Ok(())
    }

    pub(crate) fn emit_status_message(&self, m: &pb::Message) {
        if m.object_name == convert::TYPING_STATUS {
            let key = convert::key_of(m.conversation.as_ref());
            let kind = serde_json::from_str::<Value>(&m.content)
                .ok()
                .and_then(|c| c.get("typingContentType").cloned())
                .unwrap_or(Value::Null);
            self.emit(
                "TYPING_STATUS",
                json!({ "status": [{ "conversationType": key.conversation_type, "targetId": key.target_id,
                    "channelId": key.channel_id,
                    "list": [{ "userId": m.sender_user_id, "timestamp": m.sent_time, "messageType": kind }] }] }),
            );
        } else {
            self.emit(
                "MESSAGES",
                json!({ "messages": [convert::transient_json(m)] }),
            );
        }
    }

    /// Messages left SENDING by an earlier run (the app quit mid-send), as requests to
    /// resend under their original client ids.
    pub(crate) async fn outbox_requests(&self) -> ImResult<Vec<(i64, pb::SendMessageRequest)>> {
        self.db()?
            .store
            .read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT m.id, m.client_id, m.object_name, m.content, m.flags, m.extra, c.type, c.target, c.channel \
                     FROM messages m JOIN conversations c ON c.id = m.conv_id \
                     WHERE m.client_id IS NOT NULL AND m.uid IS NULL AND m.sent_status = 10",
                )?;
                // `= 10` written out, so the messages_sending partial index serves it (a
                // bound parameter never implies the index's WHERE: that scanned every message).
                const _: () = assert!(sent_status::SENDING == 10);
                let rows = stmt.query_map([], |r| {
                    let flags: i64 = r.get(4)?;
                    let extra: Option<String> = r.get(5)?;
                    let extra: Map<String, Value> = extra.and_then(|e| serde_json::from_str(&e).ok()).unwrap_or_default();
                    Ok((
                        r.get::<_, i64>(0)?,
                        pb::SendMessageRequest {
                            client_msg_id: r.get(1)?,
                            conversation: Some(pb::Conversation { r#type: r.get(6)?, target_id: r.get(7)?, channel_id: r.get(8)? }),
                            object_name: r.get(2)?,
                            content: r.get(3)?,
                            is_persisted: true,
                            is_counted: flags & crate::message::flag::COUNTED != 0,
                            can_include_expansion: flags & crate::message::flag::CAN_INCLUDE_EXPANSION != 0,
                            directed_user_ids: extra
                                .get("directedUserIds")
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                                .unwrap_or_default(),
                            push_config: extra
                                .get("pushConfig")
                                .and_then(Value::as_object)
                                .and_then(|p| super::push_config::to_wire(p, "pushConfig").ok()),
                            ..Default::default()
                        },
                    ))
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    /// The content the server stored for a message whose sensitive words it masked
    /// (`SendModeration.content`, 21502) and its search text, for the sender's own copy.
    fn masked_text(&self, object_name: &str, content: &str) -> Option<(String, Option<String>)> {
        let value: Value = serde_json::from_str(content).ok()?;
        let registry = self.registry();
        let text = registry
            .get(object_name)
            .and_then(|i| crate::registry::search_text(i, &value));
        Some((content.to_string(), text))
    }

    /// Records the answer to an outbox resend.
    pub(crate) async fn settle_outbox(&self, id: i64, r: pb::Response) {
        let Ok(db) = self.db() else { return };
        let masked = match &r.moderation {
            Some(m) if m.code == pb::codes::SENSITIVE_REPLACE => {
                let object_name = db
                    .store
                    .read(move |c| {
                        Ok(
                            c.prepare_cached("SELECT object_name FROM messages WHERE id = ?1")?
                                .query_row([id], |row| row.get::<_, String>(0))?,
                        )
                    })
                    .await
                    .ok();
                object_name.and_then(|o| self.masked_text(&o, &m.content))
            }
            _ => None,
        };
        let result = db
            .store
            .write(move |tx| match (r.code, r.body) {
                (0, Some(response::Body::MessageAck(ack))) => {
                    if let Some((content, text)) = &masked {
                        inbox::replace_content(tx, id, content, text.as_deref())?;
                    }
                    inbox::mark_sent(tx, id, &ack.message_uid, ack.sent_time)
                }
                _ => {
                    tx.execute(
                        "UPDATE messages SET sent_status = ?2 WHERE id = ?1 AND sent_status = ?3",
                        params![id, sent_status::FAILED, sent_status::SENDING],
                    )?;
                    Ok(())
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "settling an outbox message failed");
        }
    }
}

impl Engine {
    /// One page of the server's history of a conversation (`getRemoteHistoryMessages`).
    /// The messages are also stored locally (as read, idempotently by messageUId), so they
    /// carry local messageIds and later local queries see them.
    pub async fn get_remote_history_messages(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let args::Paging {
            timestamp,
            count,
            order,
        } = args::paging(Some(&options), "options")?;
        let (list, has_more) = self.fetch_remote(key, timestamp, count, order).await?;
        Ok(json!({ "list": list, "hasMore": has_more }))
    }

    async fn fetch_remote(
        &self,
        key: crate::model::ConversationKey,
        timestamp: i64,
        count: i64,
        order: i64,
    ) -> ImResult<(Vec<Value>, bool)> {
        let op = request::Op::History(pb::HistoryRequest {
            conversation: Some(convert::to_wire(&key)),
            timestamp,
            count: count as u32,
            order: order as u32,
        });
        let r = self.call(op).await?;
        let Some(response::Body::History(page)) = r.body else {
            return Err(ImError::new(
                session::SOCKET_DISCONNECTED,
                "history answered without a page",
            ));
        };
        let db = self.db()?;
        let now = now_ms();
        let registry = self.registry();
        let items: Vec<crate::message::NewMessage> = page
            .messages
            .iter()
            .filter_map(
                |m| match convert::to_apply(m, &registry, &db.user_id, false, now) {
                    Some(inbox::Apply::Store(mut n))
                    | Some(inbox::Apply::OwnReplaced(mut n))
                    | Some(inbox::Apply::Recall { notice: mut n, .. }) => {
                        // History is not news: it never adds to the unread count.
                        n.received_status |= crate::model::received_status::READ;
                        Some(n)
                    }
                    _ => None,
                },
            )
            .collect();
        let list =
            db.store
                .write(move |tx| {
                    let ids: Vec<i64> = writes::insert(tx, &items, None)?
                        .into_iter()
                        .filter_map(|o| match o {
                            writes::Outcome::Inserted(id)
                            | writes::Outcome::Duplicate(Some(id)) => Some(id),
                            writes::Outcome::Duplicate(None) => None,
                        })
                        .collect();
                    history::by_ids(tx, &ids)
                })
                .await?;
        Ok((list, page.has_more))
    }

    /// Local history first; when the local database cannot fill the page, the server's
    /// history fills it (stored locally), so the list is contiguous
    /// (`getContinuousMessages`). `timestamp` in the result continues the paging.
    pub async fn get_continuous_messages(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let args::Paging {
            timestamp,
            count,
            order,
        } = args::paging(Some(&options), "options")?;
        let local = self
            .get_history_messages(conversation.clone(), options.clone())
            .await?;
        let mut list = local["list"].as_array().cloned().unwrap_or_default();
        let mut has_more = local["hasMore"].as_bool().unwrap_or(false);
        if (list.len() as i64) < count && self.connection_status() == Status::Connected {
            let (_, remote_more) = self.fetch_remote(key, timestamp, count, order).await?;
            let merged = self.get_history_messages(conversation, options).await?;
            list = merged["list"].as_array().cloned().unwrap_or_default();
            has_more = merged["hasMore"].as_bool().unwrap_or(false) || remote_more;
        }
        let next = list
            .last()
            .and_then(|m| m["sentTime"].as_i64())
            .unwrap_or(timestamp);
        Ok(json!({ "list": list, "hasMore": has_more, "timestamp": next }))
    }
}

impl Engine {
    /// Recalls a message for everyone (`recallMessage(conversation, { messageUId,
    /// sentTime, disableNotification?, pushConfig?, extra?, isDelete? })`). The server
    /// puts an RC:RcNtf notice in every inbox holding the message; this device applies
    /// its own copy of it right away, replacing the original in place.
    pub async fn recall_message(&self, conversation: Value, options: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let m = args::object(Some(&options), "options")?;
        let uid = args::id(
            m.get("messageUId").or(m.get("messageUid")),
            "options.messageUId",
        )?;
        let sent_time = args::required_integer(m.get("sentTime"), "options.sentTime")?;
        let req = pb::RecallRequest {
            message_uid: uid.clone(),
            conversation: Some(convert::to_wire(&key)),
            sent_time,
            is_delete: args::boolean(m.get("isDelete"), "options.isDelete", Some(false))?,
            disable_notification: args::boolean(
                m.get("disableNotification"),
                "options.disableNotification",
                Some(false),
            )?,
            extra: args::string(m.get("extra"), "options.extra")?
                .unwrap_or_default()
                .to_string(),
            push_config: args::optional_object(m.get("pushConfig"), "options.pushConfig")?
                .map(|p| super::push_config::to_wire(p, "options.pushConfig"))
                .transpose()?,
            // The recaller's IUserProfile, relayed inside the notice content as `user`.
            user_json: args::optional_object(m.get("user"), "options.user")?
                .map(|u| Value::Object(u.clone()).to_string())
                .unwrap_or_default(),
        };
        let r = self.call(request::Op::Recall(req)).await?;
        let ack = match r.body {
            Some(response::Body::MessageAck(a)) => a,
            _ => pb::MessageAck::default(),
        };
        let db = self.db()?;
        let user = db.user_id.clone();
        let notice = convert::recall_notice(&key, &user, &uid, &ack, now_ms());
        let id = db
            .store
            .write(move |tx| {
                let applied = inbox::apply(tx, &[notice], None, None)?;
                Ok(applied
                    .changed_messages
                    .first()
                    .or(applied.new_messages.first())
                    .copied())
            })
            .await?;
        match id {
            Some(id) => self.stored_message(id).await,
            None => Ok(Value::Null),
        }
    }
}
