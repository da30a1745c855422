'use strict'
// The methods a renderer may call through 'imsync:call' (ARCHITECTURE.md §4, §10 "Methods
// list"): the ONE list. js/main.js allow-lists exactly these; js/renderer.js forwards exactly
// these. Requires nothing, so a sandboxed preload can bundle it with js/renderer.js
// (examples/electron-app/build-preload.js inlines relative requires; so does any bundler).
//
// Main-process-only Engine calls (rekey, encryptDatabase, recoverDatabase), lifecycle
// (close) and the event hook (onEvent) are deliberately NOT here: no window can reach them.
// Each name is the Engine method of the same name, called with the same positional arguments.

/** electronExtension.* (the Electron solution's local-database calls). */
const EXTENSION_METHODS = Object.freeze([
  'getHistoryMessagesByMessageTypes',
  'getMessagesAroundTimestamp',
  'getContinuousMessages',
  'getMessageCount',
  'insertMessage',
  'batchInsertMessage',
  'clearMessages',
  'deleteMessagesByTimestamp',
  'deleteMessages',
  'searchMessages',
  'searchMessageInTimeRange',
  'searchMessagesByUser',
  'searchConversationByContent',
  'getAllConversationList',
  'getConversationList',
  'getConversations',
  'setMessageReceivedStatusInfo',
  'setMessageReceivedStatus',
  'setMessageSentStatus',
  'setMessageStatusToRead',
  'setCheckDuplicateMessage',
  'setMessageContent',
])

/**
 * Top-level IMLib calls forwarded to the Engine, plus `open` for local-only apps. init and the
 * event-listener calls are answered in the renderer itself.
 */
const IMLIB_METHODS = Object.freeze([
  'open',
  'connect',
  'disconnect',
  'getConnectionStatus',
  'registerMessageType',
  'sendMessage',
  'recallMessage',
  'getHistoryMessages',
  'getRemoteHistoryMessages',
  'getConversation',
  'removeConversation',
  'getTopConversationList',
  'getUnreadConversationList',
  'getTotalUnreadCount',
  'getUnreadCount',
  'getUnreadMentionedCount',
  'getAllUnreadMentionedCount',
  'clearMessagesUnreadStatus',
  'clearAllMessagesUnreadStatus',
  'getFirstUnreadMessageInfo',
  'getFirstUnreadMessage',
  'getUnreadMentionedMessages',
  'clearUnreadCountByTimestamp',
  'getTotalUnreadCountByLevels',
  'getTotalUnreadMentionedCountByLevels',
  'getMessage',
  'saveTextMessageDraft',
  'getTextMessageDraft',
  'clearTextMessageDraft',
  'setConversationToTop',
  'setConversationNotificationLevel',
  'getConversationNotificationLevel',
  'setConversationNotificationStatus',
  'getConversationNotificationStatus',
  'getBlockedConversationList',
  'addTag',
  'removeTag',
  'updateTag',
  'getTags',
  'getTagsFromConversation',
  'addConversationsToTag',
  'removeConversationsFromTag',
  'removeTagsFromConversation',
  'removeTagFromConversations',
  'getConversationsFromTagByPage',
  'getUnreadCountByTag',
  'setConversationToTopInTag',
  'addToBlacklist',
  'removeFromBlacklist',
  'getBlacklist',
  'getBlacklistStatus',
  'sendTypingStatusMessage',
  'sendReadReceiptMessage',
  'sendReadReceiptRequest',
  'sendReadReceiptResponseV2',
  'sendSyncReadStatusMessage',
  'updateMessageExpansion',
  'removeMessageExpansionForKey',
  'updateMyUserProfile',
  'getMyUserProfile',
  'getUserProfiles',
  'updateMyUserProfileVisibility',
  'getMyUserProfileVisibility',
  'searchUserProfileByUniqueId',
  'subscribeUserStatus',
  'unSubscribeUserStatus',
  'getSubscribeUserStatus',
  'getSubscribeUserList',
  'joinChatRoom',
  'joinExistChatRoom',
  'quitChatRoom',
  'getChatRoomInfo',
  'getChatroomHistoryMessages',
  'setChatRoomEntry',
  'forceSetChatRoomEntry',
  'setChatRoomEntries',
  'getChatRoomEntry',
  'getAllChatRoomEntries',
  'removeChatRoomEntry',
  'forceRemoveChatRoomEntry',
  'removeChatRoomEntries',
  'deleteRemoteMessages',
  'clearHistoryMessages',
  'uploadMediaMessage',
  'sendMediaMessage',
  'downloadMediaMessage',
  'cancelMediaTransfer',
])

/** Every method name a renderer may call: the allow-list. */
const METHODS = Object.freeze([...IMLIB_METHODS, ...EXTENSION_METHODS])

/**
 * Top-level API members whose vendor name differs from the Engine method that serves them:
 * member name -> Engine method (an IMLIB_METHODS name). The IPC call carries the Engine name,
 * so main's allow-list needs nothing from this map; the renderer names the member after the
 * key. Top-level `deleteMessages(conversation, [{ messageUId, sentTime, messageDirection }])`
 * is the vendor's remote delete; `electronExtension.deleteMessages(messageIds)` stays the
 * local delete by ids, hence the Engine's distinct name. A member whose Engine method is not
 * listed (yet) answers 35004 like any call the renderer does not serve.
 */
const RENAMED = Object.freeze({ deleteMessages: 'deleteRemoteMessages' })

module.exports = { EXTENSION_METHODS, IMLIB_METHODS, METHODS, RENAMED }
