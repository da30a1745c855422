// Types of `require('imsync')`: the main-process entry point (js/main.js).
import type { ConnectionStatusValue, EngineOptions, ImResult } from './types'
import type { Engine as NativeEngine } from '../index'

/**
 * `init(options)`: creates the imsync service (one Engine, the `imsync:call` IPC handler,
 * the event fan-out). Also the module's default export, like the vendor's `RCInit`.
 * Throws (a TypeError with `code` 33003) only for invalid options.
 */
declare function init(options: init.InitOptions): init.ImsyncService

declare namespace init {
  /** The part of an Electron webContents the service uses. */
  interface WebContentsLike {
    readonly id: number
    send(channel: string, ...args: any[]): void
    isDestroyed?(): boolean
    once?(event: string, listener: (...args: any[]) => void): unknown
    on?(event: string, listener: (...args: any[]) => void): unknown
    removeListener?(event: string, listener: (...args: any[]) => void): unknown
    readonly mainFrame?: WebFrameLike
  }

  /** The part of an Electron WebFrameMain the sender check uses. */
  interface WebFrameLike {
    readonly url: string
    readonly origin?: string
    readonly parent: WebFrameLike | null
    readonly routingId: number
    readonly processId: number
  }

  /** The part of an Electron BrowserWindow the service uses. */
  interface BrowserWindowLike {
    readonly webContents: WebContentsLike
  }

  /** The IPC event of a renderer message (IpcMainInvokeEvent / IpcMainEvent). */
  interface IpcSenderEvent {
    readonly sender: WebContentsLike
    readonly senderFrame?: WebFrameLike | null
    readonly processId?: number
    readonly frameId?: number
  }

  type ExtensionMethodName =
    | 'getHistoryMessagesByMessageTypes'
    | 'getMessagesAroundTimestamp'
    | 'getContinuousMessages'
    | 'getMessageCount'
    | 'insertMessage'
    | 'batchInsertMessage'
    | 'clearMessages'
    | 'deleteMessagesByTimestamp'
    | 'deleteMessages'
    | 'searchMessages'
    | 'searchMessageInTimeRange'
    | 'searchMessagesByUser'
    | 'searchConversationByContent'
    | 'getAllConversationList'
    | 'getConversationList'
    | 'getConversations'
    | 'setMessageReceivedStatusInfo'
    | 'setMessageReceivedStatus'
    | 'setMessageSentStatus'
    | 'setMessageStatusToRead'
    | 'setCheckDuplicateMessage'
    | 'setMessageContent'

  type ImlibMethodName =
    | 'open'
    | 'connect'
    | 'disconnect'
    | 'getConnectionStatus'
    | 'registerMessageType'
    | 'sendMessage'
    | 'recallMessage'
    | 'getHistoryMessages'
    | 'getRemoteHistoryMessages'
    | 'getConversation'
    | 'removeConversation'
    | 'getTopConversationList'
    | 'getUnreadConversationList'
    | 'getTotalUnreadCount'
    | 'getUnreadCount'
    | 'getUnreadMentionedCount'
    | 'getAllUnreadMentionedCount'
    | 'clearMessagesUnreadStatus'
    | 'clearAllMessagesUnreadStatus'
    | 'getFirstUnreadMessageInfo'
    | 'getFirstUnreadMessage'
    | 'getUnreadMentionedMessages'
    | 'clearUnreadCountByTimestamp'
    | 'getTotalUnreadCountByLevels'
    | 'getTotalUnreadMentionedCountByLevels'
    | 'getMessage'
    | 'saveTextMessageDraft'
    | 'getTextMessageDraft'
    | 'clearTextMessageDraft'
    | 'setConversationToTop'
    | 'setConversationNotificationLevel'
    | 'getConversationNotificationLevel'
    | 'setConversationNotificationStatus'
    | 'getConversationNotificationStatus'
    | 'getBlockedConversationList'
    | 'addTag'
    | 'removeTag'
    | 'updateTag'
    | 'getTags'
    | 'getTagsFromConversation'
    | 'addConversationsToTag'
    | 'removeConversationsFromTag'
    | 'removeTagsFromConversation'
    | 'removeTagFromConversations'
    | 'getConversationsFromTagByPage'
    | 'getUnreadCountByTag'
    | 'setConversationToTopInTag'
    | 'addToBlacklist'
    | 'removeFromBlacklist'
    | 'getBlacklist'
    | 'getBlacklistStatus'
    | 'sendTypingStatusMessage'
    | 'sendReadReceiptMessage'
    | 'sendReadReceiptRequest'
    | 'sendReadReceiptResponseV2'
    | 'sendSyncReadStatusMessage'
    | 'updateMessageExpansion'
    | 'removeMessageExpansionForKey'
    | 'updateMyUserProfile'
    | 'getMyUserProfile'
    | 'getUserProfiles'
    | 'updateMyUserProfileVisibility'
    | 'getMyUserProfileVisibility'
    | 'searchUserProfileByUniqueId'
    | 'subscribeUserStatus'
    | 'unSubscribeUserStatus'
    | 'getSubscribeUserStatus'
    | 'getSubscribeUserList'
    | 'joinChatRoom'
    | 'joinExistChatRoom'
    | 'quitChatRoom'
    | 'getChatRoomInfo'
    | 'getChatroomHistoryMessages'
    | 'setChatRoomEntry'
    | 'forceSetChatRoomEntry'
    | 'setChatRoomEntries'
    | 'getChatRoomEntry'
    | 'getAllChatRoomEntries'
    | 'removeChatRoomEntry'
    | 'forceRemoveChatRoomEntry'
    | 'removeChatRoomEntries'
    | 'deleteRemoteMessages'
    | 'clearHistoryMessages'
    | 'uploadMediaMessage'
    | 'sendMediaMessage'
    | 'downloadMediaMessage'
    | 'cancelMediaTransfer'

  /** The Engine options plus how windows are registered. */
  interface InitOptions extends EngineOptions {
    /**
     * 'auto' (default): every BrowserWindow that exists at init() or is created later
     * (app 'browser-window-created') is registered. 'manual': only what addWindow() gets.
     */
    windows?: 'auto' | 'manual'
    /** An extra check of each renderer message (after the registered-window check). */
    validateSender?: (event: IpcSenderEvent) => boolean
    /**
     * Which files a window may send by path (uploadMediaMessage / sendMediaMessage and the
     * media senders; on a resend by `options.messageId`, the message's `localPath`). Always
     * refused: relative paths and anything inside `dbpath` but the open user's media folder.
     * Return true to allow `path`: absolute, with symlinks resolved (the file that would be
     * read).
     */
    mediaPathFilter?: (path: string, webContents: unknown) => boolean
  }

  /** Every method name a renderer may call through `imsync:call`. */
  type MethodName = ImlibMethodName | ExtensionMethodName

  interface ImsyncService {
    /** The native Engine, for main-process code that calls it directly. */
    readonly engine: NativeEngine
    /** True once destroy() was called. */
    readonly destroyed: boolean
    readonly windowMode: 'auto' | 'manual'
    /**
     * The connection's ConnectionStatus, from the engine's CONNECTING / CONNECTED / SUSPEND /
     * DISCONNECT events (and the engine's answer after a first connect that failed): what
     * getConnectionStatus() answers synchronously in every window.
     */
    readonly connectionStatus: ConnectionStatusValue
    /**
     * Server time − local time, ms: the Engine's `serverTimeOffset` when it has one, else an
     * estimate from the sentTime the server stamped on this app's sends (between the call's
     * start and answer) and on live received messages; 0 before any.
     */
    readonly serverTimeOffset: number
    /** The server-corrected clock, ms (what getServerTime() answers in a window). */
    getServerTime(): number
    /** Registers a window (or webContents): its top frame may call imsync and get events. */
    addWindow(win: BrowserWindowLike | WebContentsLike): this
    /** Unregisters a window (or webContents). */
    removeWindow(win: BrowserWindowLike | WebContentsLike): this
    hasWindow(win: BrowserWindowLike | WebContentsLike): boolean
    /** A main-process call with the renderer's rules: allow-list, open gate, envelopes. */
    call(method: MethodName, args?: unknown[]): Promise<ImResult<any>>
    /** Opens `userId`'s local database (local-only apps; connect() opens it by itself). */
    open(userId: string): Promise<ImResult<void>>
    /**
     * Changes the key of the open encrypted database in place (`PRAGMA rekey`); calls keep
     * working throughout. Later opens by this service use `newKey`: keep it and pass it as
     * `encryptionKey` on the next start. 33205 if the database is not encrypted; 33001 if
     * none is open. Main process only: a window calling it through `imsync:call` is refused.
     */
    rekey(newKey: string): Promise<ImResult<void>>
    /**
     * Migrates the open plain database to a SQLCipher database keyed with `key`, keeping
     * every message, conversation, cursor and the search index; the next open needs
     * `encryptionKey: key`. 33206 if it is already encrypted (use rekey). Main process only.
     */
    encryptDatabase(key: string): Promise<ImResult<void>>
    /**
     * Replaces a damaged user database (calls answered 33201, DATABASE_CORRUPT, or a
     * DISCONNECT event with 33201) with a fresh one: ends the connection, closes the
     * database, moves `<user>.db` and its `-wal`/`-shm` aside as `<user>.db.corrupt-<unix ms>`
     * (nothing is deleted: local-only messages and drafts can still be rescued from them),
     * then opens a fresh empty database for the user. Call `connect()` again afterwards: the
     * fresh database starts from the beginning of the user's inbox, so the server's copy of
     * the messages is pulled again. `userId` defaults to the open user, else the user whose
     * open failed with 33201. A database not known to be damaged is checked in full first
     * and left alone if intact (33204, as when there is no database). Resolves `{ userId, movedTo }` (the moved file).
     * Main process only: a window calling it through `imsync:call` is refused.
     */
    recoverDatabase(userId?: string): Promise<ImResult<{ userId: string; movedTo: string }>>
    /**
     * Removes the IPC handler and listeners, answers waiting calls (35005), lets calls inside
     * the engine finish, disconnects and closes the engine. Idempotent: the same promise.
     */
    destroy(): Promise<void>
  }

  /** init itself (`require('imsync').init === require('imsync')`). */
  const init: (options: InitOptions) => ImsyncService

  /** The allow-list: every method name a renderer may call. */
  const METHODS: readonly MethodName[]
  /** The top-level IMLib calls forwarded to the Engine (plus `open`). */
  const IMLIB_METHODS: readonly ImlibMethodName[]
  /** The electronExtension calls. */
  const EXTENSION_METHODS: readonly ExtensionMethodName[]
  /** The IPC channel names. */
  const CHANNELS: {
    readonly call: 'imsync:call'
    readonly event: 'imsync:event'
    readonly subscribe: 'imsync:subscribe'
    readonly unsubscribe: 'imsync:unsubscribe'
    readonly ready: 'imsync:ready'
    /** main → window: `ImsyncState` when it changes; window → main: a request for it. */
    readonly state: 'imsync:state'
    /** window → main (invoke): read-only facts for plugin contexts; kind 'os', 'process' or 'mainProcess'. */
    readonly info: 'imsync:info'
  }
  /** The native Engine class (`require('imsync/native').Engine`). */
  const Engine: typeof NativeEngine
  type Engine = NativeEngine
  /** The service class init() instantiates. */
  const ImsyncService: new (options: InitOptions, electron: object | null, engineClass: typeof NativeEngine) => ImsyncService
}

export = init
