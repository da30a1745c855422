//! The engine: one per app, holding the open user database and the message-type registry.
//! Every API method takes its positional arguments as JSON values (as they arrive from
//! JavaScript), checks them completely, then runs on the database threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use crate::args;
use crate::codes;
use crate::error::{storage_failure, ImError, ImResult};
use crate::json_text::RawJson;
use crate::message::{self, InsertOptions, Parser};
use crate::model::{conversation_type, ConversationKey};
use crate::options::EngineOptions;
use crate::registry::{self, MessageTypeInfo, Registry};
use crate::store::conversations::{self, conv_of, MAX_CONVERSATIONS};
use crate::store::search::{self, Filter};
use crate::store::writes::{self, Outcome};
use crate::store::{history, Store};

pub const MAX_BATCH: usize = 500;
pub const MAX_HISTORY_COUNT: i64 = 100;
pub const MAX_CONVERSATION_PAGE: i64 = 1000;
pub const MAX_GET_CONVERSATIONS: usize = 100;
pub const MAX_DELETE_IDS: usize = 1000;

pub(crate) struct OpenDb {
    pub user_id: String,
    pub store: Store,
}

pub struct Engine {
    options: EngineOptions,
    /// Copy-on-write: readers take a cheap snapshot, registration swaps in a new one.
    registry: RwLock<Arc<Registry>>,
    db: RwLock<Option<Arc<OpenDb>>>,
    pub(crate) events: RwLock<Option<crate::sync::EventSink>>,
    pub(crate) sync: std::sync::Mutex<crate::sync::SyncState>,
    pub(crate) device_id: once_cell::sync::OnceCell<String>,
    /// Serialises open/close so two overlapping calls cannot both open a database.
    lifecycle: tokio::sync::Mutex<()>,
    check_duplicate: AtomicBool,
    pub(crate) typing: std::sync::Mutex<crate::sync::TypingThrottle>,
    pub(crate) own_expansions: crate::sync::PendingEchoes,
    pub(crate) own_transient: crate::sync::PendingEchoes,
    /// The SQLCipher key user databases are opened with: `encryptionKey`, then whatever
    /// `rekey` / `encryptDatabase` last set.
    encryption_key: std::sync::Mutex<Option<crate::options::EncryptionKey>>,
    /// The user whose `open` failed because the file is damaged beyond opening, with that
    /// answer: calls answer it (not "not open") and `recoverDatabase()` knows the user.
    damaged_open: std::sync::Mutex<Option<(String, ImError)>>,
    /// Server clock minus local clock (ms) from the last ConnectAck or Pong, or
    /// [`NO_SERVER_TIME`]: what `getServerTime()` adds to `Date.now()`.
    server_offset: std::sync::atomic::AtomicI64,
    /// Index into `serverUrl` of the server last connected to (or being tried): where
    /// uploads go, and where the next connect attempt starts from.
    server_at: std::sync::atomic::AtomicUsize,
    /// The chatrooms this engine is in (rejoined after a reconnect; windows share them).
    pub(crate) chatrooms: crate::sync::chatroom::JoinedRooms,
    /// Media uploads and downloads in flight, and the token uploads authenticate with.
    pub(crate) media: crate::media::MediaState,
}

/// `server_offset` before the server was ever heard.
const NO_SERVER_TIME: i64 = i64::MIN;

pub(crate) fn message_id(v: Option<&Value>, name: &str) -> ImResult<i64> {
    let id = args::required_integer(v, name)?;
    if id <= 0 || conv_of(id) == 0 || conv_of(id) > MAX_CONVERSATIONS {
        return Err(ImError::invalid(format!(
            "{name} {id} is not a local message id"
        )));
    }
    Ok(id)
}

pub(crate) fn no_such_message(name: &str, id: i64) -> ImError {
    ImError::invalid(format!("{name} {id} does not exist in the local database"))
}

impl Engine {
    pub fn new(options: &Value) -> ImResult<Self> {
        let options = EngineOptions::parse(options)?;
        crate::logging::init(&options.dbpath, options.log_level);
        let encryption_key = std::sync::Mutex::new(options.encryption_key.clone());
        Ok(Self {
            encryption_key,
            options,
            registry: RwLock::new(Arc::new(Registry::default())),
            db: RwLock::new(None),
            events: RwLock::new(None),
            sync: std::sync::Mutex::new(Default::default()),
            device_id: once_cell::sync::OnceCell::new(),
            lifecycle: tokio::sync::Mutex::new(()),
            check_duplicate: AtomicBool::new(true),
            typing: Default::default(),
            own_expansions: Default::default(),
            own_transient: Default::default(),
            damaged_open: Default::default(),
            server_offset: std::sync::atomic::AtomicI64::new(NO_SERVER_TIME),
            server_at: std::sync::atomic::AtomicUsize::new(0),
            chatrooms: Default::default(),
            media: Default::default(),
        })
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    pub(crate) fn db(&self) -> ImResult<Arc<OpenDb>> {
        if let Some(db) = self.db.read().unwrap().clone() {
            return Ok(db);
        }
        Err(match &*self.damaged_open.lock().unwrap() {
            Some((_, damaged)) => damaged.clone(),
            None => ImError::not_open(),
        })
    }

    /// The user whose database is open, if any.
    pub fn user_id(&self) -> Option<String> {
        self.db.read().unwrap().as_ref().map(|d| d.user_id.clone())
    }

    /// Opens (creating if needed) the user's database. Opening the already open user is a
    /// no-op; opening another user closes the current one first.
    pub async fn open(&self, user_id: Value) -> ImResult<Value> {
        let user_id = args::id(Some(&user_id), "userId")?;
        let _guard = self.lifecycle.lock().await;
        if let Some(db) = self.db.read().unwrap().clone() {
            if db.user_id == user_id {
                // A damaged database stays open for its reads, but opening it is no success.
                return match db.store.is_damaged() {
                    true => Err(db.store.damage_error()),
                    false => Ok(Value::Null),
                };
            }
        }
        self.close_locked().await;
        self.open_locked(user_id).await
    }

    /// `open` under the lifecycle lock, with nothing open. A database found damaged stays
    /// open (reads of what is intact work, writes answer 33201) and the open answers 33201;
    /// one too damaged to open is remembered for `recoverDatabase()`. A database on a full
    /// disk opens read-only and the open succeeds.
    async fn open_locked(&self, user_id: String) -> ImResult<Value> {
        match self.open_store_locked(user_id.clone()).await {
            Err(e)
                if e.code == crate::codes::DATABASE_CORRUPT
                    && self.options.recover_corrupt_database =>
            {
                // `recoverCorruptDatabase`: what recoverDatabase() would do, right away.
                self.close_locked().await;
                let path = self.options.database_file(&user_id);
                let moved = crate::store::recovery::move_aside(&path)?;
                tracing::warn!(from = %path.display(), to = %moved.display(), error = %e, "recoverCorruptDatabase: the damaged database was moved aside; opening a fresh one");
                self.open_store_locked(user_id).await
            }
            other => other,
        }
    }

    async fn open_store_locked(&self, user_id: String) -> ImResult<Value> {
        let path = self.options.database_file(&user_id);
        check_writable(&self.options.dbpath, &path)?;
        let key = self.encryption_key.lock().unwrap().clone();
        let store = match Store::open(path.clone(), key).await {
            Ok(store) => store,
            Err(e) => {
                if e.code == crate::codes::DATABASE_CORRUPT {
                    *self.damaged_open.lock().unwrap() = Some((user_id, e.clone()));
                }
                return Err(e);
            }
        };
        let customs: Vec<(String, MessageTypeInfo)> = self
            .registry()
            .custom_types()
            .map(|(name, info)| (name.clone(), info.clone()))
            .collect();
        let saved = if store.is_damaged() {
            Err(store.damage_error())
        } else {
            store
                .write(move |tx| {
                    for (name, info) in &customs {
                        registry::save(tx, name, info)?;
                    }
                    crate::media::fail_interrupted_uploads(tx)?;
                    Ok(())
                })
                .await
        };
        match saved {
            Ok(()) => {}
            // The registrations stay in memory; they are saved with the next registration
            // or open that can write.
            Err(e) if e.code == crate::codes::DATABASE_DISK_FULL => {
                tracing::warn!(error = %e, "opened read-only: message types not saved")
            }
            Err(e) if e.code == crate::codes::DATABASE_CORRUPT => {
                tracing::error!(path = %path.display(), error = %e, "user database opened damaged");
                *self.db.write().unwrap() = Some(Arc::new(OpenDb { user_id, store }));
                return Err(e);
            }
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        }
        tracing::info!(path = %path.display(), "user database opened");
        *self.db.write().unwrap() = Some(Arc::new(OpenDb { user_id, store }));
        Ok(Value::Null)
    }

    /// `recoverDatabase(userId?)`: replaces a damaged database with a fresh one. Ends any
    /// connection, closes the database, moves the file and its `-wal`/`-shm` aside as
    /// `<name>.db.corrupt-<unix ms>` (with `-wal`/`-shm` after that name, so SQLite tools
    /// opening the moved copy still see its WAL; nothing is deleted), then opens a fresh
    /// empty database for the user. The inbox cursor lives in the database, so the next
    /// `connect()` pulls the user's messages from the server again.
    ///
    /// `userId` defaults to the open user, else the one whose `open` failed as damaged. A
    /// database not known to be damaged is checked in full first (`PRAGMA quick_check`,
    /// seconds on a large one) and left alone when intact: this call never sets aside a
    /// healthy database. Resolves `{ userId, movedTo }` (the moved database file).
    /// Main-process only.
    pub async fn recover_database(&self, user_id: Value) -> ImResult<Value> {
        let requested = match &user_id {
            Value::Null => None,
            v => Some(args::id(Some(v), "userId")?),
        };
        let open_user = self.user_id();
        let failed_user = self
            .damaged_open
            .lock()
            .unwrap()
            .as_ref()
            .map(|(u, _)| u.clone());
        let user = requested
            .or_else(|| open_user.clone())
            .or(failed_user.clone())
            .ok_or_else(|| {
                ImError::new(
                    crate::codes::CLIENT_NOT_INIT,
                    "recoverDatabase: no user database is open or failed to open: pass userId",
                )
            })?;
        // The session writes into the database and holds its inbox cursor in memory: it must
        // end before the file goes (and may itself be waiting for the lifecycle lock).
        self.stop_session().await;
        let _guard = self.lifecycle.lock().await;
        let path = self.options.database_file(&user);
        let key = self.encryption_key.lock().unwrap().clone();
        let open = self.db.read().unwrap().clone();
        let known = match &open {
            Some(db) if db.user_id == user => {
                db.store.is_damaged() || db.store.full_check().await?.is_some()
            }
            _ if failed_user.as_deref() == Some(user.as_str()) => true,
            _ => {
                let check_path = path.clone();
                let check_key = key.clone();
                tokio::task::spawn_blocking(move || {
                    crate::store::recovery::check(&check_path, check_key.as_ref())
                })
                .await
                .map_err(|e| ImError::internal(format!("database check failed: {e}")))??
            }
        };
        if !known {
            return Err(ImError::new(
                crate::codes::DATABASE_NOTHING_TO_RECOVER,
                format!(
                    "recoverDatabase: the database of user {user} is not damaged (a full check \
                     found no problem); nothing was moved"
                ),
            ));
        }
        self.close_locked().await;
        let moved = crate::store::recovery::move_aside(&path)?;
        tracing::warn!(from = %path.display(), to = %moved.display(), "damaged database moved aside; starting a fresh one");
        self.open_locked(user.clone()).await?;
        Ok(json!({ "userId": user, "movedTo": moved.to_string_lossy() }))
    }

    async fn close_locked(&self) {
        self.damaged_open.lock().unwrap().take();
        let db = self.db.write().unwrap().take();
        if let Some(db) = db {
            db.store.close().await;
            tracing::info!("user database closed");
        }
    }

    /// Ends any session, then closes the database after queued work finishes. Idempotent.
    pub async fn close(&self) -> ImResult<Value> {
        self.stop_session().await;
        let _guard = self.lifecycle.lock().await;
        self.close_locked().await;
        Ok(Value::Null)
    }

    /// `rekey(newKey)`: changes the key of the open, encrypted database in place; later opens
    /// by this engine use `newKey` (the app must keep it and pass it as `encryptionKey` on the
    /// next start). Main-process only: never on the renderer's allow-list.
    pub async fn rekey(&self, new_key: Value) -> ImResult<Value> {
        let key = crate::options::EncryptionKey::parse(Some(&new_key), "newKey")?
            .ok_or_else(|| ImError::invalid("newKey is required (a non-empty string)"))?;
        // Serialised with open/close and the other key call: their reader parking must not
        // interleave.
        let _guard = self.lifecycle.lock().await;
        let db = self.db()?;
        // Rewrites every page: never on a damaged file; on a full disk, 33202.
        db.store.ensure_writable().await?;
        db.store.rekey(key.clone()).await?;
        *self.encryption_key.lock().unwrap() = Some(key);
        tracing::info!("database key changed");
        Ok(Value::Null)
    }

    /// `encryptDatabase(key)`: turns the open plain database into a SQLCipher database keyed
    /// with `key`, keeping all its data; later opens need `encryptionKey: key`.
    /// Main-process only: never on the renderer's allow-list.
    pub async fn encrypt_database(&self, key: Value) -> ImResult<Value> {
        let key = crate::options::EncryptionKey::parse(Some(&key), "key")?
            .ok_or_else(|| ImError::invalid("key is required (a non-empty string)"))?;
        let _guard = self.lifecycle.lock().await;
        let db = self.db()?;
        // Rewrites every page: never on a damaged file; on a full disk, 33202.
        db.store.ensure_writable().await?;
        match db.store.encrypt(key.clone()).await {
            Ok(()) => {
                *self.encryption_key.lock().unwrap() = Some(key);
                tracing::info!("database encrypted");
                Ok(Value::Null)
            }
            Err(failure) => {
                if failure.replaced {
                    *self.encryption_key.lock().unwrap() = Some(key);
                }
                if failure.unusable {
                    tracing::error!(error = %failure.error, "encrypting the database failed; it is closed");
                    self.close_locked().await;
                }
                Err(failure.error)
            }
        }
    }

    pub async fn register_message_type(
        &self,
        message_type: Value,
        is_persisted: Value,
        is_counted: Value,
        search_props: Value,
        is_status_message: Value,
    ) -> ImResult<Value> {
        let name = args::string(Some(&message_type), "messageType")?
            .ok_or_else(|| ImError::invalid("messageType is required (a string)"))?
            .to_string();
        let persisted = args::boolean(Some(&is_persisted), "isPersisted", None)?;
        let counted = args::boolean(Some(&is_counted), "isCounted", None)?;
        let status = args::boolean(Some(&is_status_message), "isStatusMessage", Some(false))?;
        let props = registry::search_props(&search_props, status)?;
        {
            let mut slot = self.registry.write().unwrap();
            let mut next = (**slot).clone();
            next.register(&name, persisted, counted, props.clone(), status)?;
            *slot = Arc::new(next);
        }
        if let Ok(db) = self.db() {
            let info = self
                .registry()
                .get(&name)
                .cloned()
                .expect("just registered");
            db.store
                .write(move |tx| Ok(registry::save(tx, &name, &info)?))
                .await?;
        }
        Ok(Value::Null)
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().unwrap().clone()
    }

    // ---- history -------------------------------------------------------------------

    async fn history_page(
        &self,
        conversation: ConversationKey,
        opts: &Value,
        types: Option<Vec<String>>,
    ) -> ImResult<RawJson> {
        let args::Paging {
            timestamp,
            count,
            order,
        } = args::paging(Some(opts), "options")?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let Some(conv_id) = conversations::find_id(c, &conversation)? else {
                    return Ok(RawJson(r#"{"list":[],"hasMore":false}"#.into()));
                };
                let (list, has_more) =
                    history::page_text(c, conv_id, timestamp, count, order, types.as_deref())?;
                Ok(RawJson(format!(
                    r#"{{"list":{},"hasMore":{has_more}}}"#,
                    list.0
                )))
            })
            .await
    }

    pub async fn get_history_messages(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<Value> {
        Ok(self
            .get_history_messages_text(conversation, options)
            .await?
            .parse())
    }

    /// [`Self::get_history_messages`] as JSON text (what the binding hands to JavaScript).
    pub async fn get_history_messages_text(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<RawJson> {
        let conversation = args::conversation(Some(&conversation), "conversation")?;
        self.history_page(conversation, &options, None).await
    }

    pub async fn get_history_messages_by_message_types(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<Value> {
        Ok(self
            .get_history_messages_by_message_types_text(conversation, options)
            .await?
            .parse())
    }

    pub async fn get_history_messages_by_message_types_text(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<RawJson> {
        let conversation = args::conversation(Some(&conversation), "conversation")?;
        let m = args::object(Some(&options), "options")?;
        let types = args::string_array(m.get("messageTypes"), "options.messageTypes", 100)?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ImError::invalid(
                    "options.messageTypes is required (a non-empty array of message types)",
                )
            })?;
        self.history_page(conversation, &options, Some(types)).await
    }

    pub async fn get_messages_around_timestamp(
        &self,
        conversation: Value,
        options: Value,
    ) -> ImResult<Value> {
        let conversation = args::conversation(Some(&conversation), "conversation")?;
        let m = args::object(Some(&options), "options")?;
        let timestamp = args::timestamp(m.get("timestamp"), "options.timestamp", Some(0))?;
        let before = args::ranged(
            m.get("beforeCount"),
            "options.beforeCount",
            0,
            MAX_HISTORY_COUNT,
            Some(0),
        )?;
        let after = args::ranged(
            m.get("afterCount"),
            "options.afterCount",
            0,
            MAX_HISTORY_COUNT,
            Some(0),
        )?;
        let db = self.db()?;
        db.store
            .read(move |c| match conversations::find_id(c, &conversation)? {
                None => Ok(json!([])),
                Some(id) => Ok(Value::Array(history::around(
                    c, id, timestamp, before, after,
                )?)),
            })
            .await
    }

    pub async fn get_message_count(&self, conversation: Value) -> ImResult<Value> {
        let conversation = args::conversation(Some(&conversation), "conversation")?;
        let db = self.db()?;
        db.store
            .read(move |c| match conversations::find_id(c, &conversation)? {
                None => Ok(json!(0)),
                Some(id) => Ok(json!(conversations::state(c, id)?.message_count)),
            })
            .await
    }

    /// Feeds every message not yet in the search index to it now (see
    /// `store::search_index`; the database does it on its own when idle). Not on the JS
    /// API: tests and benchmarks use it to search a known state of the index.
    pub async fn index_search_backlog(&self) -> ImResult<usize> {
        self.db()?.store.index_search_backlog().await
    }

    // ---- insert --------------------------------------------------------------------

    pub async fn insert_message(
        &self,
        conversation: Value,
        message: Value,
        options: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let m = args::object(Some(&message), "message")?;
        let opts = InsertOptions::parse(Some(&options), "options")?;
        let db = self.db()?;
        let parsed = {
            let registry = self.registry.read().unwrap();
            Parser {
                registry: &registry,
                user_id: &db.user_id,
                now: message::now_ms(),
            }
            .parse(key, m, "message", &opts)?
        };
        db.store
            .write(move |tx| {
                let outcome = writes::insert(tx, std::slice::from_ref(&parsed), None)?;
                let id = match outcome[0] {
                    Outcome::Inserted(id) | Outcome::Duplicate(Some(id)) => id,
                    Outcome::Duplicate(None) => {
                        return Err(ImError::internal("duplicate without a stored copy"))
                    }
                };
                history::by_ids(tx, &[id])?
                    .pop()
                    .ok_or_else(|| ImError::internal("inserted message vanished"))
            })
            .await
            .map_err(storage_failure(codes::MSG_INSERT_ERROR))
    }

    pub async fn batch_insert_message(
        &self,
        messages: Value,
        check_duplicate: Value,
    ) -> ImResult<Value> {
        let items = match args::present(Some(&messages)) {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ImError::invalid("messages must be an array")),
            None => {
                return Err(ImError::invalid(
                    "messages is required (an array of 1 to 500 messages)",
                ))
            }
        };
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(ImError::invalid(format!(
                "messages must hold 1 to {MAX_BATCH} messages, got {}",
                items.len()
            )));
        }
        let check = args::boolean(Some(&check_duplicate), "checkDuplicate", Some(false))?;
        let db = self.db()?;
        let now = message::now_ms();
        let parsed = {
            let registry = self.registry.read().unwrap();
            let parser = Parser {
                registry: &registry,
                user_id: &db.user_id,
                now,
            };
            let opts = InsertOptions::default();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let name = format!("messages[{i}]");
                    let m = args::object(Some(item), &name)?;
                    let key = args::scope_from(m, &name)?.exact();
                    // The seed's example gives each element a string `messageId` as its
                    // unique value; it plays the role of the server id for dedup.
                    let mut owned;
                    let m = match (
                        m.get("messageId"),
                        m.get("messageUId").or(m.get("messageUid")),
                    ) {
                        (Some(Value::String(uid)), None) => {
                            owned = m.clone();
                            owned.insert("messageUId".into(), Value::String(uid.clone()));
                            &owned
                        }
                        _ => m,
                    };
                    parser.parse(key, m, &name, &opts)
                })
                .collect::<ImResult<Vec<_>>>()?
        };
        db.store
            .write(move |tx| {
                let outcomes = writes::insert(tx, &parsed, check.then_some(0))?;
                let inserted = outcomes
                    .iter()
                    .filter(|o| matches!(o, Outcome::Inserted(_)))
                    .count();
                Ok(json!({ "inserted": inserted, "duplicates": outcomes.len() - inserted }))
            })
            .await
            .map_err(storage_failure(codes::MSG_INSERT_ERROR))
    }

    // ---- delete --------------------------------------------------------------------

    pub async fn delete_messages(&self, message_ids: Value) -> ImResult<Value> {
        let ids = match args::present(Some(&message_ids)) {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_DELETE_IDS => a
                .iter()
                .enumerate()
                .map(|(i, v)| message_id(Some(v), &format!("messageIds[{i}]")))
                .collect::<ImResult<Vec<_>>>()?,
            Some(Value::Array(a)) => {
                return Err(ImError::invalid(format!(
                    "messageIds must hold 1 to {MAX_DELETE_IDS} ids, got {}",
                    a.len()
                )))
            }
            _ => {
                return Err(ImError::invalid(
                    "messageIds is required (an array of local message ids)",
                ))
            }
        };
        let conv = conv_of(ids[0]);
        if let Some(i) = ids.iter().position(|id| conv_of(*id) != conv) {
            return Err(ImError::invalid(format!(
                "messageIds must all belong to one conversation: messageIds[{i}] ({}) is in another conversation than messageIds[0] ({})",
                ids[i], ids[0]
            )));
        }
        let db = self.db()?;
        db.store
            .write(move |tx| {
                if conversations::exists(tx, conv)? {
                    writes::delete_ids(tx, conv, &ids)?;
                }
                Ok(Value::Null)
            })
            .await
    }

    pub async fn clear_messages(&self, conversation: Value) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        self.delete_where(key, None, false).await
    }

    pub async fn delete_messages_by_timestamp(
        &self,
        conversation: Value,
        timestamp: Value,
        clean_space: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let before = args::timestamp(Some(&timestamp), "timestamp", None)?;
        let clean = args::boolean(Some(&clean_space), "cleanSpace", Some(false))?;
        self.delete_where(key, Some(before), clean).await
    }

    async fn delete_where(
        &self,
        key: ConversationKey,
        before: Option<i64>,
        clean: bool,
    ) -> ImResult<Value> {
        let db = self.db()?;
        db.store
            .write(move |tx| {
                if let Some(id) = conversations::find_id(tx, &key)? {
                    writes::delete_before(tx, id, before)?;
                }
                Ok(Value::Null)
            })
            .await?;
        if clean {
            db.store.reclaim_space_in_background();
        }
        Ok(Value::Null)
    }

    // ---- search --------------------------------------------------------------------

    fn search_types(v: Option<&Value>, name: &str) -> ImResult<Option<Vec<String>>> {
        args::string_array(v, name, 100)
    }

    pub async fn search_messages(
        &self,
        conversation: Value,
        keyword: Value,
        start_time: Value,
        count: Value,
        message_types: Value,
    ) -> ImResult<Value> {
        Ok(self
            .search_messages_text(conversation, keyword, start_time, count, message_types)
            .await?
            .parse())
    }

    pub async fn search_messages_text(
        &self,
        conversation: Value,
        keyword: Value,
        start_time: Value,
        count: Value,
        message_types: Value,
    ) -> ImResult<RawJson> {
        let scope = args::scope(Some(&conversation), "conversation")?;
        let keyword = args::keyword(Some(&keyword), "keyword")?;
        let start = args::timestamp(Some(&start_time), "startTime", Some(0))?;
        let count = args::ranged(Some(&count), "count", 1, MAX_HISTORY_COUNT, None)?;
        let types =
            Self::search_types(Some(&message_types), "messageTypes")?.filter(|t| !t.is_empty());
        let db = self.db()?;
        db.store
            .read(move |c| {
                let ids = conversations::scope_ids(c, &scope)?;
                let f = Filter {
                    conv_ids: &ids,
                    min_time: 0,
                    max_time: if start == 0 { i64::MAX } else { start - 1 },
                    types: types.as_deref(),
                    sender: None,
                };
                search::page(c, Some(&keyword), &f, 0, count as usize)
            })
            .await
    }

    pub async fn search_message_in_time_range(
        &self,
        conversation: Value,
        option: Value,
    ) -> ImResult<Value> {
        Ok(self
            .search_message_in_time_range_text(conversation, option)
            .await?
            .parse())
    }

    pub async fn search_message_in_time_range_text(
        &self,
        conversation: Value,
        option: Value,
    ) -> ImResult<RawJson> {
        let mut scope = args::scope(Some(&conversation), "conversation")?;
        scope.channel_id = None; // the seed: searches every channel of the conversation
        let m = args::object(Some(&option), "option")?;
        let keyword = args::keyword(m.get("keyword"), "option.keyword")?;
        let start = args::timestamp(m.get("startTime"), "option.startTime", None)?;
        let end = args::timestamp(m.get("endTime"), "option.endTime", None)?;
        if end < start {
            return Err(ImError::invalid(format!(
                "option.endTime ({end}) must not be before option.startTime ({start})"
            )));
        }
        let offset = args::ranged(
            m.get("offset"),
            "option.offset",
            0,
            i64::from(u32::MAX),
            Some(0),
        )?;
        let limit = args::ranged(
            m.get("limit"),
            "option.limit",
            1,
            MAX_HISTORY_COUNT,
            Some(5),
        )?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let ids = conversations::scope_ids(c, &scope)?;
                let f = Filter {
                    conv_ids: &ids,
                    min_time: start,
                    max_time: end,
                    types: None,
                    sender: None,
                };
                search::page(c, Some(&keyword), &f, offset as usize, limit as usize)
            })
            .await
    }

    pub async fn search_messages_by_user(
        &self,
        conversation: Value,
        user_id: Value,
        start_time: Value,
        count: Value,
    ) -> ImResult<Value> {
        Ok(self
            .search_messages_by_user_text(conversation, user_id, start_time, count)
            .await?
            .parse())
    }

    pub async fn search_messages_by_user_text(
        &self,
        conversation: Value,
        user_id: Value,
        start_time: Value,
        count: Value,
    ) -> ImResult<RawJson> {
        let scope = args::scope(Some(&conversation), "conversation")?;
        if scope.conversation_type != conversation_type::PRIVATE
            && scope.conversation_type != conversation_type::GROUP
        {
            return Err(ImError::new(
                crate::codes::CONVERSATION_TYPE_NOT_SUPPORT,
                "conversation.conversationType must be PRIVATE (1) or GROUP (3) for searchMessagesByUser",
            ));
        }
        let user = args::id(Some(&user_id), "userId")?;
        let start = args::timestamp(Some(&start_time), "startTime", Some(0))?;
        let count = args::ranged(Some(&count), "count", 1, MAX_HISTORY_COUNT, None)?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let ids = conversations::scope_ids(c, &scope)?;
                let f = Filter {
                    conv_ids: &ids,
                    min_time: 0,
                    max_time: if start == 0 { i64::MAX } else { start - 1 },
                    types: None,
                    sender: Some(&user),
                };
                search::page(c, None, &f, 0, count as usize)
            })
            .await
    }

    pub async fn search_conversation_by_content(
        &self,
        keyword: Value,
        message_types: Value,
        channel_id: Value,
    ) -> ImResult<Value> {
        Ok(self
            .search_conversation_by_content_text(keyword, message_types, channel_id)
            .await?
            .parse())
    }

    pub async fn search_conversation_by_content_text(
        &self,
        keyword: Value,
        message_types: Value,
        channel_id: Value,
    ) -> ImResult<RawJson> {
        let keyword = args::keyword(Some(&keyword), "keyword")?;
        let types = Self::search_types(Some(&message_types), "messageTypes")?.ok_or_else(|| {
            ImError::invalid("messageTypes is required (an array of message types)")
        })?;
        let channel = args::channel(Some(&channel_id), "channelId")?;
        let db = self.db()?;
        db.store
            .read(move |c| search::conversations_with(c, &keyword, &types, channel.as_deref()))
            .await
    }

    // ---- conversations -------------------------------------------------------------

    pub async fn get_all_conversation_list(&self, channel_id: Value) -> ImResult<Value> {
        Ok(self
            .get_all_conversation_list_text(channel_id)
            .await?
            .parse())
    }

    pub async fn get_all_conversation_list_text(&self, channel_id: Value) -> ImResult<RawJson> {
        let channel = args::channel(Some(&channel_id), "channelId")?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let list = match channel {
                    None => conversations::query_text(
                        c,
                        &conversations::select_sql(
                            "WHERE c.hidden = 0 ORDER BY c.sort_time DESC, c.id DESC",
                        ),
                        [],
                    )?,
                    Some(ch) => conversations::query_text(
                        c,
                        &conversations::select_sql(
                            "WHERE c.channel = ?1 AND c.hidden = 0 ORDER BY c.sort_time DESC, c.id DESC",
                        ),
                        [ch],
                    )?,
                };
                Ok(list)
            })
            .await
    }

    pub async fn get_conversation_list(
        &self,
        start_time: Value,
        count: Value,
        channel_id: Value,
        top_priority: Value,
    ) -> ImResult<Value> {
        Ok(self
            .get_conversation_list_text(start_time, count, channel_id, top_priority)
            .await?
            .parse())
    }

    pub async fn get_conversation_list_text(
        &self,
        start_time: Value,
        count: Value,
        channel_id: Value,
        top_priority: Value,
    ) -> ImResult<RawJson> {
        let start = args::timestamp(Some(&start_time), "startTime", None)?;
        let count = args::ranged(Some(&count), "count", 1, MAX_CONVERSATION_PAGE, None)?;
        let channel = args::channel(Some(&channel_id), "channelId")?;
        let top = args::boolean(Some(&top_priority), "topPriority", Some(false))?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let bound = if start == 0 { i64::MAX } else { start };
                let order = if top {
                    "c.is_top DESC, c.sort_time DESC, c.id DESC"
                } else {
                    "c.sort_time DESC, c.id DESC"
                };
                let channel_filter = if channel.is_some() {
                    "AND c.channel = ?3"
                } else {
                    ""
                };
                let sql = conversations::select_sql(&format!(
                    "WHERE c.sort_time < ?1 AND c.hidden = 0 {channel_filter} ORDER BY {order} LIMIT ?2"
                ));
                match channel {
                    Some(ch) => {
                        conversations::query_text(c, &sql, rusqlite::params![bound, count, ch])
                    }
                    None => conversations::query_text(c, &sql, rusqlite::params![bound, count]),
                }
            })
            .await
    }

    pub async fn get_conversations(&self, list: Value) -> ImResult<Value> {
        let items = match args::present(Some(&list)) {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_GET_CONVERSATIONS => a,
            Some(Value::Array(a)) => {
                return Err(ImError::invalid(format!(
                    "conversations must hold 1 to {MAX_GET_CONVERSATIONS} conversations, got {}",
                    a.len()
                )))
            }
            _ => {
                return Err(ImError::invalid(
                    "conversations is required (an array of conversations)",
                ))
            }
        };
        let keys = items
            .iter()
            .enumerate()
            .map(|(i, v)| args::conversation(Some(v), &format!("conversations[{i}]")))
            .collect::<ImResult<Vec<_>>>()?;
        let db = self.db()?;
        db.store
            .read(move |c| {
                let mut ids = Vec::new();
                for key in &keys {
                    ids.extend(conversations::find_id(c, key)?);
                }
                Ok(Value::Array(conversations::by_ids(c, &ids)?))
            })
            .await
    }

    // ---- status --------------------------------------------------------------------

    pub async fn set_message_received_status_info(
        &self,
        message_id: Value,
        info: Value,
    ) -> ImResult<Value> {
        let id = message_id_arg(&message_id)?;
        let bits = message::parse_received_status_info(Some(&info), "receivedStatusInfo")?;
        self.set_received(id, bits).await
    }

    pub async fn set_message_received_status(
        &self,
        message_id: Value,
        status: Value,
    ) -> ImResult<Value> {
        let id = message_id_arg(&message_id)?;
        let bits = message::parse_received_status(Some(&status), "receivedStatus")?;
        self.set_received(id, bits).await
    }

    async fn set_received(&self, id: i64, bits: i64) -> ImResult<Value> {
        let db = self.db()?;
        db.store
            .write(move |tx| {
                if !writes::set_received_status(tx, id, bits)? {
                    return Err(no_such_message("messageId", id));
                }
                Ok(Value::Null)
            })
            .await
    }

    pub async fn set_message_sent_status(
        &self,
        message_id: Value,
        status: Value,
    ) -> ImResult<Value> {
        let id = message_id_arg(&message_id)?;
        let status = message::parse_sent_status(Some(&status), "sentStatus")?;
        let db = self.db()?;
        db.store
            .write(move |tx| {
                if !writes::set_sent_status(tx, id, status)? {
                    return Err(no_such_message("messageId", id));
                }
                Ok(Value::Null)
            })
            .await
    }

    pub async fn set_message_status_to_read(
        &self,
        conversation: Value,
        timestamp: Value,
    ) -> ImResult<Value> {
        let key = args::conversation(Some(&conversation), "conversation")?;
        let ts = args::timestamp(Some(&timestamp), "timestamp", None)?;
        self.change_conversation(key, move |tx, id| {
            writes::mark_sent_read(tx, id, ts).map(|_| ())
        })
        .await
    }

    /// Runs `change` on a stored conversation's row in one write transaction. A conversation
    /// not stored here has nothing to change, so the call succeeds doing nothing.
    pub(crate) async fn change_conversation<F>(
        &self,
        key: ConversationKey,
        change: F,
    ) -> ImResult<Value>
    where
        F: FnOnce(&rusqlite::Transaction, i64) -> ImResult<()> + Send + 'static,
    {
        self.db()?
            .store
            .write(move |tx| {
                if let Some(id) = conversations::find_id(tx, &key)? {
                    change(tx, id)?;
                }
                Ok(Value::Null)
            })
            .await
    }

    pub async fn set_check_duplicate_message(&self, enable: Value) -> ImResult<Value> {
        let enable = args::boolean(Some(&enable), "enableCheck", None)?;
        self.check_duplicate.store(enable, Ordering::Relaxed);
        Ok(Value::Null)
    }

    /// Whether received messages are checked for duplicate content (the receive pipeline
    /// reads it; `setCheckDuplicateMessage`).
    pub fn check_duplicate(&self) -> bool {
        self.check_duplicate.load(Ordering::Relaxed)
    }

    /// The server's clock minus this machine's, in ms, as last measured (None before the
    /// first connect).
    pub fn server_time_offset(&self) -> Option<i64> {
        match self.server_offset.load(Ordering::Relaxed) {
            NO_SERVER_TIME => None,
            offset => Some(offset),
        }
    }

    /// Records the server's `server_time` answering a frame sent at local `sent_at`: the
    /// server read its clock somewhere in the round trip, so its midpoint is the best
    /// estimate (error at most half the round trip).
    /// The `serverUrl` entry the engine is (or was last) connected to; `None` when the
    /// options name no server.
    pub(crate) fn current_server(&self) -> Option<&str> {
        let urls = &self.options.server_urls;
        (!urls.is_empty())
            .then(|| urls[self.server_at.load(Ordering::Relaxed) % urls.len()].as_str())
    }

    /// The position in `serverUrl` a connect attempt starts from.
    pub(crate) fn server_index(&self) -> usize {
        self.server_at.load(Ordering::Relaxed)
    }

    /// Remembers which `serverUrl` entry answered.
    pub(crate) fn set_server_index(&self, at: usize) {
        self.server_at.store(at, Ordering::Relaxed);
    }

    pub(crate) fn note_server_time(&self, sent_at: i64, server_time: i64) {
        if server_time <= 0 || sent_at <= 0 {
            return;
        }
        let now = message::now_ms();
        let offset = server_time - (sent_at + now) / 2;
        self.server_offset.store(offset, Ordering::Relaxed);
    }
}

fn message_id_arg(v: &Value) -> ImResult<i64> {
    message_id(Some(v), "messageId")
}

/// Fails early, with the path in the message, when `dbpath` cannot hold a database.
fn check_writable(dbpath: &std::path::Path, file: &std::path::Path) -> ImResult<()> {
    let dir = file.parent().unwrap_or(dbpath);
    std::fs::create_dir_all(dir)
        .and_then(|_| {
            let probe = dir.join(".imsync-write-probe");
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(&probe)
        })
        .map_err(|e| {
            ImError::invalid(format!(
                "options.dbpath {} is not writable: {e}",
                dbpath.display()
            ))
        })
}
