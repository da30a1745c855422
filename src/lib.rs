//! The napi binding of imsync: argument conversion and result envelopes only. Every method
//! converts its JavaScript arguments to one JSON text on the JS thread, parses it and hands
//! the values to `imsync-core` on the tokio runtime and resolves `{ code, msg?, data? }`; it
//! never throws or rejects for an expected failure, and no panic crosses into JavaScript.

mod envelope;
mod js_args;

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::Value;

use envelope::{run, run_text, JsonText, NullData};
use js_args::args_or_invalid;

/// The native engine: one user's local database and, once connected, its sync session.
#[napi]
pub struct Engine {
    core: Arc<imsync_core::Engine>,
}

macro_rules! api {
    ($( $name:ident ( $($arg:ident),* ) $(as $text:ident)? [$ts_args:literal] -> $ts_ret:literal; )*) => {
        #[napi]
        impl Engine {
            $(
                #[napi(ts_args_type = $ts_args, ts_return_type = $ts_ret)]
                pub fn $name<'e>(&self, env: &'e Env, $($arg: Unknown<'e>),*) -> Result<PromiseRaw<'e, JsonText>> {
                    let core = self.core.clone();
                    match args_or_invalid(&[$((stringify!($arg), $arg)),*]) {
                        Ok(args) => dispatch!(env, core, args, $name $(as $text)?, $ts_ret; $($arg),*),
                        Err(invalid) => run(env, NullData::Omitted, async move { Err(invalid) }),
                    }
                }
            )*
        }
    };
}

/// Calls the core method; `as name_text` calls its JSON-text twin instead (the pages of
/// messages and conversations, which skip building `serde_json::Value`s).
/// A method declared to resolve `X | null` answers `data: null` when it finds nothing.
/// The arguments' JSON text is parsed in the task, off the JS thread.
macro_rules! dispatch {
    ($env:ident, $core:ident, $args:ident, $name:ident, $ts_ret:literal; $($arg:ident),*) => {
        run($env, null_data($ts_ret), async move {
            #[allow(unused_mut, unused_variables)]
            let mut values = $args.into_values()?.into_iter();
            $core.$name($({ let _ = stringify!($arg); values.next().unwrap_or(Value::Null) }),*).await
        })
    };
    ($env:ident, $core:ident, $args:ident, $name:ident as $text:ident, $ts_ret:literal; $($arg:ident),*) => {
        run_text($env, async move {
            #[allow(unused_mut, unused_variables)]
            let mut values = $args.into_values()?.into_iter();
            $core.$text($({ let _ = stringify!($arg); values.next().unwrap_or(Value::Null) }),*).await
        })
    };
}

/// Lookups whose declared result is `X | null` keep a `null` result as `data: null`.
fn null_data(ts_return: &str) -> NullData {
    if ts_return.contains("| null>") {
        NullData::Kept
    } else {
        NullData::Omitted
    }
}

#[napi]
impl Engine {
    /// Creates the engine. Throws (with `code` 33003 on the error) only for invalid
    /// options, since a constructor has no result envelope.
    #[napi(constructor, ts_args_type = "options: EngineOptions")]
    pub fn new(options: Unknown) -> Result<Self> {
        let invalid = |e: imsync_core::ImError| {
            Error::new(Status::InvalidArg, format!("{} (code {})", e.msg, e.code))
        };
        let options = js_args::to_json(options, "options").map_err(invalid)?;
        imsync_core::Engine::new(&options)
            .map(|core| Self {
                core: Arc::new(core),
            })
            .map_err(invalid)
    }

    /// The user whose database is open, or null.
    #[napi(getter)]
    pub fn user_id(&self) -> Option<String> {
        self.core.user_id()
    }

    /// The server's clock minus this machine's (ms), from the last connect or heartbeat;
    /// null before the first connect. `getServerTime()` is `Date.now()` plus this.
    #[napi(getter)]
    pub fn server_time_offset(&self) -> Option<i64> {
        self.core.server_time_offset()
    }

    /// Receives every event (`CONNECTED`, `MESSAGES`, …) as `(name, payload)`. Events are
    /// queued to the JS thread without blocking the engine, and the subscription does not
    /// keep Node alive. A later call replaces the callback.
    #[napi(ts_args_type = "callback: (name: string, payload: any) => void")]
    pub fn on_event(&self, callback: Function<'_, FnArgs<(String, JsonText)>, ()>) -> Result<()> {
        let tsfn = callback
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        self.core.on_event(Arc::new(
            move |name: &str, payload: imsync_core::sync::Payload| {
                let _ = tsfn.call(
                    (name.to_string(), JsonText(payload.into_json())).into(),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            },
        ));
        Ok(())
    }
}

api! {
    // open: opens (creating if needed) the user's local database; no network.
    open(user_id) ["userId: string"] -> "Promise<ImResult<void>>";
    connect(token, reconnect_kick_enable) ["token: string, reconnectKickEnable?: boolean"]
        -> "Promise<ImResult<{ userId: string }>>";
    disconnect(close_db) ["closeDB?: boolean"] -> "Promise<ImResult<void>>";
    recall_message(conversation, options)
        ["conversation: IConversationOption, options: { messageUId: string, sentTime: number, disableNotification?: boolean, isDelete?: boolean, extra?: string, pushConfig?: IPushConfig, user?: { id: string, name?: string, portraitUri?: string, extra?: string } }"]
        -> "Promise<ImResult<IAReceivedMessage>>";
    get_remote_history_messages(conversation, options)
        ["conversation: IConversationOption, options?: GetHistoryMessageOption"]
        -> "Promise<ImResult<HistoryPage>>";
    get_continuous_messages(conversation, options)
        ["conversation: IConversationOption, options?: GetHistoryMessageOption"]
        -> "Promise<ImResult<HistoryPage & { timestamp: number }>>";
    get_connection_status() [""] -> "Promise<ImResult<number>>";
    send_message(conversation, message, options)
        ["conversation: IConversationOption, message: { messageType: string, content: Record<string, any> }, options?: ISendMessageOptions"]
        -> "Promise<ImResult<IAReceivedMessage>>";
    // Media (issue 12): the file is streamed from disk to imsync-server off the JS thread.
    send_media_message(conversation, media, options)
        ["conversation: IConversationOption, media: IMediaInput, options?: ISendMessageOptions"]
        -> "Promise<ImResult<IAReceivedMessage>>";
    upload_media_message(conversation, media, options)
        ["conversation: IConversationOption, media: IMediaInput, options?: ISendMessageOptions"]
        -> "Promise<ImResult<{ message: IAReceivedMessage, fileInfo: IUploadedFileInfo }>>";
    download_media_message(message_id, options)
        ["messageId: number, options?: { transferId?: string }"]
        -> "Promise<ImResult<{ localPath: string, message: IAReceivedMessage }>>";
    cancel_media_transfer(target)
        ["target: number | string"] -> "Promise<ImResult<number>>";
    // close: closes the database after queued work finishes; idempotent.
    close() [""] -> "Promise<ImResult<void>>";
    // Key management of the encrypted database (`encryptionKey`). Main process only: they
    // are on the Engine and on `service`, never on the renderer's allow-list (js/main.js).
    // rekey: changes the key of the open encrypted database in place.
    rekey(new_key) ["newKey: string"] -> "Promise<ImResult<void>>";
    // encrypt_database: migrates the open plain database to an encrypted one (all data kept).
    encrypt_database(key) ["key: string"] -> "Promise<ImResult<void>>";
    // recover_database: after 33201 (damaged database), moves the file and its -wal/-shm aside
    // (never deleted) and opens a fresh one the next connect refills from the server. Main
    // process only, like the key calls.
    recover_database(user_id) ["userId?: string"]
        -> "Promise<ImResult<{ userId: string, movedTo: string }>>";
    register_message_type(message_type, is_persisted, is_counted, search_props, is_status_message)
        ["messageType: string, isPersisted: boolean, isCounted: boolean, searchProps?: string[], isStatusMessage?: boolean"]
        -> "Promise<ImResult<void>>";
    get_history_messages(conversation, options) as get_history_messages_text
        ["conversation: IConversationOption, options?: GetHistoryMessageOption"]
        -> "Promise<ImResult<HistoryPage>>";
    get_history_messages_by_message_types(conversation, options) as get_history_messages_by_message_types_text
        ["conversation: IConversationOption, options: IGetHistoryMessagesByTypesOption"]
        -> "Promise<ImResult<HistoryPage>>";
    get_messages_around_timestamp(conversation, options)
        ["conversation: IConversationOption, options: IGetMessagesAroundTimestampOption"]
        -> "Promise<ImResult<IAReceivedMessage[]>>";
    get_message_count(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<number>>";
    insert_message(conversation, message, options)
        ["conversation: IConversationOption, message: InsertMessageInput, options?: IInsertOptions"]
        -> "Promise<ImResult<IAReceivedMessage>>";
    batch_insert_message(messages, check_duplicate)
        ["messages: InsertMessage[], checkDuplicate?: boolean"]
        -> "Promise<ImResult<BatchInsertResult>>";
    delete_messages(message_ids) ["messageIds: number[]"] -> "Promise<ImResult<void>>";
    clear_messages(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<void>>";
    delete_messages_by_timestamp(conversation, timestamp, clean_space)
        ["conversation: IConversationOption, timestamp: number, cleanSpace?: boolean"]
        -> "Promise<ImResult<void>>";
    search_messages(conversation, keyword, start_time, count, message_types) as search_messages_text
        ["conversation: IConversationOption, keyword: string, startTime: number, count: number, messageTypes?: string[]"]
        -> "Promise<ImResult<SearchResult>>";
    search_message_in_time_range(conversation, option) as search_message_in_time_range_text
        ["conversation: IConversationOption, option: ISearchMessageInTimeRangeOption"]
        -> "Promise<ImResult<SearchResult>>";
    search_messages_by_user(conversation, user_id, start_time, count) as search_messages_by_user_text
        ["conversation: IConversationOption, userId: string, startTime: number, count: number"]
        -> "Promise<ImResult<SearchResult>>";
    search_conversation_by_content(keyword, message_types, channel_id) as search_conversation_by_content_text
        ["keyword: string, messageTypes: string[], channelId?: string"]
        -> "Promise<ImResult<IReceivedConversation[]>>";
    get_all_conversation_list(channel_id) as get_all_conversation_list_text ["channelId?: string"] -> "Promise<ImResult<IReceivedConversation[]>>";
    get_conversation_list(start_time, count, channel_id, top_priority) as get_conversation_list_text
        ["startTime: number, count: number, channelId?: string, topPriority?: boolean"]
        -> "Promise<ImResult<IReceivedConversation[]>>";
    get_conversations(conversations) ["conversations: IConversationOption[]"]
        -> "Promise<ImResult<IReceivedConversation[]>>";
    set_message_received_status_info(message_id, received_status_info)
        ["messageId: number, receivedStatusInfo: IReceivedStatusInfo"] -> "Promise<ImResult<void>>";
    set_message_received_status(message_id, received_status)
        ["messageId: number, receivedStatus: number"] -> "Promise<ImResult<void>>";
    set_message_sent_status(message_id, sent_status)
        ["messageId: number, sentStatus: number"] -> "Promise<ImResult<void>>";
    set_message_status_to_read(conversation, timestamp)
        ["conversation: IConversationOption, timestamp: number"] -> "Promise<ImResult<void>>";
    set_check_duplicate_message(enable_check) ["enableCheck: boolean"] -> "Promise<ImResult<void>>";
    // One stored message by local id (crates/core/src/stored_message.rs).
    get_message(message_id) ["messageId: number"] -> "Promise<ImResult<IAReceivedMessage | null>>";
    set_message_content(message_id, content, object_name)
        ["messageId: number, content: Record<string, any>, objectName: string"]
        -> "Promise<ImResult<void>>";
    // Unread messages and level-filtered totals (crates/core/src/unread_queries.rs).
    get_first_unread_message(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<IAReceivedMessage | null>>";
    get_unread_mentioned_messages(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<IAReceivedMessage[]>>";
    clear_unread_count_by_timestamp(conversation, timestamp)
        ["conversation: IConversationOption, timestamp: number"] -> "Promise<ImResult<void>>";
    get_total_unread_count_by_levels(conversation_types, levels)
        ["conversationTypes?: number[], levels?: number[]"] -> "Promise<ImResult<number>>";
    get_total_unread_mentioned_count_by_levels(conversation_types, levels)
        ["conversationTypes?: number[], levels?: number[]"] -> "Promise<ImResult<number>>";

    // Conversation state (local reads).
    get_conversation(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<IReceivedConversation | null>>";
    remove_conversation(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<void>>";
    get_top_conversation_list(conversation_types, channel_id)
        ["conversationTypes?: number[], channelId?: string"] -> "Promise<ImResult<IReceivedConversation[]>>";
    get_unread_conversation_list(conversation_types) ["conversationTypes?: number[]"]
        -> "Promise<ImResult<IReceivedConversation[]>>";
    get_blocked_conversation_list() [""] -> "Promise<ImResult<IReceivedConversation[]>>";
    get_total_unread_count(include_muted, conversation_types)
        ["includeMuted?: boolean, conversationTypes?: number[]"] -> "Promise<ImResult<number>>";
    get_unread_count(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<number>>";
    get_unread_mentioned_count(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<number>>";
    get_all_unread_mentioned_count() [""] -> "Promise<ImResult<number>>";
    clear_messages_unread_status(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<void>>";
    clear_all_messages_unread_status() [""] -> "Promise<ImResult<void>>";
    get_first_unread_message_info(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<FirstUnreadMessageInfo | null>>";
    save_text_message_draft(conversation, draft) ["conversation: IConversationOption, draft: string"]
        -> "Promise<ImResult<void>>";
    get_text_message_draft(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<string>>";
    clear_text_message_draft(conversation) ["conversation: IConversationOption"] -> "Promise<ImResult<void>>";
    get_conversation_notification_level(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<number>>";
    get_conversation_notification_status(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<number>>";
    get_tags() [""] -> "Promise<ImResult<TagInfo[]>>";
    get_tags_from_conversation(conversation) ["conversation: IConversationOption"]
        -> "Promise<ImResult<ConversationTagInfo[]>>";
    get_conversations_from_tag_by_page(tag_id, count, start_time)
        ["tagId: string, count: number, startTime: number"]
        -> "Promise<ImResult<Array<IReceivedConversation & { isTopInTag: boolean }>>>";
    get_unread_count_by_tag(tag_id, contain_muted) ["tagId: string, containMuted: boolean"]
        -> "Promise<ImResult<number>>";

    // Synced settings (need the connection).
    set_conversation_to_top(conversation, is_top, update_operation_time)
        ["conversation: IConversationOption, isTop?: boolean, updateOperationTime?: boolean"]
        -> "Promise<ImResult<void>>";
    set_conversation_notification_level(conversation, notification_level)
        ["conversation: IConversationOption, notificationLevel: number"] -> "Promise<ImResult<void>>";
    set_conversation_notification_status(conversation, notification_status)
        ["conversation: IConversationOption, notificationStatus: number"] -> "Promise<ImResult<void>>";
    add_tag(tag) ["tag: { tagId: string, tagName: string }"] -> "Promise<ImResult<void>>";
    update_tag(tag) ["tag: { tagId: string, tagName: string }"] -> "Promise<ImResult<void>>";
    remove_tag(tag_id) ["tagId: string"] -> "Promise<ImResult<void>>";
    add_conversations_to_tag(tag_id, conversations)
        ["tagId: string, conversations: IConversationOption[]"] -> "Promise<ImResult<void>>";
    remove_conversations_from_tag(tag_id, conversations)
        ["tagId: string, conversations: IConversationOption[]"] -> "Promise<ImResult<void>>";
    remove_tag_from_conversations(tag_id, conversations)
        ["tagId: string, conversations: IConversationOption[]"] -> "Promise<ImResult<void>>";
    remove_tags_from_conversation(conversation, tag_ids)
        ["conversation: IConversationOption, tagIds: string[]"] -> "Promise<ImResult<void>>";
    set_conversation_to_top_in_tag(tag_id, conversation, is_top)
        ["tagId: string, conversation: IConversationOption, isTop: boolean"] -> "Promise<ImResult<void>>";

    // Blacklist, receipts, read sync, typing, expansion (need the connection).
    add_to_blacklist(user_id) ["userId: string"] -> "Promise<ImResult<void>>";
    remove_from_blacklist(user_id) ["userId: string"] -> "Promise<ImResult<void>>";
    get_blacklist() [""] -> "Promise<ImResult<string[]>>";
    get_blacklist_status(user_id) ["userId: string"] -> "Promise<ImResult<number>>";
    send_read_receipt_message(target_id, message_u_id, timestamp)
        ["targetId: string, messageUId: string, timestamp: number"] -> "Promise<ImResult<void>>";
    send_read_receipt_request(target_id, message_u_id, channel_id)
        ["targetId: string, messageUId: string, channelId?: string"] -> "Promise<ImResult<void>>";
    send_read_receipt_response_v2(target_id, message_list, channel_id)
        ["targetId: string, messageList: Record<string, string[]>, channelId?: string"]
        -> "Promise<ImResult<void>>";
    // Delete for this user only: server, this database, the user's other devices (need
    // the connection). The renderer's top-level deleteMessages maps to delete_remote_messages.
    delete_remote_messages(conversation, messages)
        ["conversation: IConversationOption, messages: Array<{ messageUId?: string, messageUid?: string, messageId?: string, sentTime: number, messageDirection?: number }>"]
        -> "Promise<ImResult<void>>";
    clear_history_messages(conversation, timestamp)
        ["conversation: IConversationOption, timestamp: number"] -> "Promise<ImResult<void>>";
    send_sync_read_status_message(conversation, last_message_send_time)
        ["conversation: IConversationOption, lastMessageSendTime: number"] -> "Promise<ImResult<void>>";
    send_typing_status_message(conversation, typing_content_type)
        ["conversation: IConversationOption, typingContentType: string"]
        -> "Promise<ImResult<IAReceivedMessage | null>>";
    update_message_expansion(expansion, message)
        ["expansion: Record<string, string>, message: IAReceivedMessage"] -> "Promise<ImResult<void>>";
    remove_message_expansion_for_key(keys, message)
        ["keys: string[], message: IAReceivedMessage"] -> "Promise<ImResult<void>>";

    // Hosted user profiles (crates/core/src/sync/profiles.rs; need the connection).
    update_my_user_profile(profile) ["profile: IUserProfileInfo"] -> "Promise<ImResult<void>>";
    get_my_user_profile() [""] -> "Promise<ImResult<IUserProfileInfo>>";
    get_user_profiles(user_ids) ["userIds: string[]"] -> "Promise<ImResult<IUserProfileInfo[]>>";
    update_my_user_profile_visibility(visibility) ["visibility: number"] -> "Promise<ImResult<void>>";
    get_my_user_profile_visibility() [""] -> "Promise<ImResult<number>>";
    search_user_profile_by_unique_id(unique_id) ["uniqueId: string"]
        -> "Promise<ImResult<IUserProfileInfo | null>>";

    // Online-status subscriptions (crates/core/src/sync/presence.rs; need the connection).
    subscribe_user_status(user_ids, subscribe_type, expiry)
        ["userIds: string[], type: number, expiry: number"] -> "Promise<ImResult<void>>";
    un_subscribe_user_status(user_ids, subscribe_type) ["userIds: string[], type: number"]
        -> "Promise<ImResult<void>>";
    get_subscribe_user_status(subscribe_type, user_ids) ["type: number, userIds: string[]"]
        -> "Promise<ImResult<ISubscribeUserStatusInfo[]>>";
    get_subscribe_user_list(subscribe_type, page_size, offset)
        ["type: number, pageSize: number, offset?: number"]
        -> "Promise<ImResult<ISubscribeUserStatusInfo[]>>";

    // Chatrooms (crates/core/src/sync/chatroom.rs; need the connection; nothing stored).
    join_chat_room(chat_room_id, options) ["chatRoomId: string, options?: { count?: number }"]
        -> "Promise<ImResult<IChatroomJoinResponse>>";
    join_exist_chat_room(chat_room_id, options) ["chatRoomId: string, options?: { count?: number }"]
        -> "Promise<ImResult<IChatroomJoinResponse>>";
    quit_chat_room(chat_room_id) ["chatRoomId: string"] -> "Promise<ImResult<void>>";
    get_chat_room_info(chat_room_id, options)
        ["chatRoomId: string, options?: { count?: number; order?: number }"]
        -> "Promise<ImResult<IChatroomInfo>>";
    get_chatroom_history_messages(chat_room_id, options)
        ["chatRoomId: string, options?: { timestamp?: number; count?: number; order?: number }"]
        -> "Promise<ImResult<IChatroomHistory>>";
    set_chat_room_entry(chat_room_id, entry) ["chatRoomId: string, entry: IChatroomEntry"]
        -> "Promise<ImResult<void>>";
    force_set_chat_room_entry(chat_room_id, entry) ["chatRoomId: string, entry: IChatroomEntry"]
        -> "Promise<ImResult<void>>";
    set_chat_room_entries(chat_room_id, options)
        ["chatRoomId: string, options: { entries: Array<{ key: string; value: string }>; isAutoDelete?: boolean; isForce?: boolean }"]
        -> "Promise<ImResult<void>>";
    get_chat_room_entry(chat_room_id, key) ["chatRoomId: string, key: string"]
        -> "Promise<ImResult<string>>";
    get_all_chat_room_entries(chat_room_id) ["chatRoomId: string"]
        -> "Promise<ImResult<Record<string, string>>>";
    remove_chat_room_entry(chat_room_id, entry) ["chatRoomId: string, entry: IRemoveChatroomEntry"]
        -> "Promise<ImResult<void>>";
    force_remove_chat_room_entry(chat_room_id, entry) ["chatRoomId: string, entry: IRemoveChatroomEntry"]
        -> "Promise<ImResult<void>>";
    remove_chat_room_entries(chat_room_id, options) ["chatRoomId: string, options: { entries: string[] }"]
        -> "Promise<ImResult<void>>";
}
