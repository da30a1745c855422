// Shared types of the imsync API: what the native Engine, the main-process service and the
// renderer API object accept and resolve. Field names and numbers follow the vendor SDK
// (RongCloud IMLib 5.x + electronExtension) so existing app code type-checks unchanged.

/** Every call resolves this; `code === 0` is success. Expected failures never reject. */
export interface ImResult<T = void> {
  code: number
  msg?: string
  /**
   * The result. Absent when there is none: void calls, and calls whose answer is "nothing"
   * (`getConversation` of an unknown conversation, `getFirstUnreadMessageInfo` with nothing
   * unread, a throttled `sendTypingStatusMessage`) — test it with `== null`.
   */
  data?: T
}

export interface EngineOptions {
  /** Required. */
  appkey: string
  /** Where the per-user databases live (default: Electron userData, else the cwd). */
  dbpath?: string
  /** 1 ERROR, 2 WARN (default), 3 INFO, 4 DEBUG. */
  logOutputLevel?: 1 | 2 | 3 | 4
  /**
   * Whether a conversation pinned on another device but holding no messages here appears in
   * the conversation lists (default false: it appears with its first message).
   */
  enableSyncEmptyTopConversation?: boolean
  /**
   * imsync-server base URL, e.g. `http://127.0.0.1:8080`, or a list of up to 16 equivalent
   * nodes of one deployment (the vendor's `navigators`). A connect tries them in turn and
   * keeps the first that answers; after a lost connection the engine starts with the next
   * one. A server that refuses the user (bad token, banned…) ends the attempt.
   */
  serverUrl?: string | string[]
  /** `'Electron'` (default), `'Web'`, `'Android'`, … */
  platform?: string
  deviceId?: string
  /** Pause between reconnect attempts, ms (default 5000, the seed's). */
  reconnectInterval?: number
  /** Heartbeat period, ms (default: the server's, 15000). */
  heartbeatInterval?: number
  /** `sendTypingStatusMessage` sends at most one per conversation per this period, ms (default 6000). */
  typingInterval?: number
  /**
   * Encrypts the user database with SQLCipher (AES-256, per-page HMAC). A passphrase (SQLCipher
   * derives the key with PBKDF2-HMAC-SHA512, 256,000 iterations — about that much CPU on every
   * open) or a raw 256-bit key written `x'<64 hex digits>'`, which skips the derivation. At most
   * 1024 bytes. A wrong key, a missing key for an encrypted database, or a key for a plain one
   * fails `open`/`connect` with 33203 (DATABASE_KEY_INVALID) and changes nothing on disk.
   * Never logged. An existing plain database is migrated with `encryptDatabase(key)`.
   */
  encryptionKey?: string
  /**
   * Default false. When true, a user database found damaged when it opens (which would answer
   * 33201, DATABASE_CORRUPT) is moved aside as `<userId>.db.corrupt-<unix ms>` and replaced by
   * a fresh one right away, as `recoverDatabase()` does; the next connect() refills it from
   * the server. Local-only data stays in the moved file only.
   */
  recoverCorruptDatabase?: boolean
  /**
   * Origins (`http://host:port`) media files are downloaded from (downloadMediaMessage); a
   * message's file URL on any other origin answers 33003 and nothing is fetched. Default: the
   * origins of `serverUrl`; add the server's `--public-url` when clients reach it elsewhere.
   */
  mediaOrigins?: string[]
}

export interface IConversationOption {
  conversationType: number
  targetId: string
  /** '' is the default channel. Search calls treat an omitted channel as "all channels". */
  channelId?: string
}

export interface GetHistoryMessageOption {
  /** Paging boundary in ms; 0 (default) = now. */
  timestamp?: number
  /** 1–100, default 20. */
  count?: number
  /** 0 (default): sent before `timestamp`, newest first. 1: sent after it, oldest first. */
  order?: 0 | 1
}

export interface IGetHistoryMessagesByTypesOption extends GetHistoryMessageOption {
  messageTypes: string[]
}

export interface IGetMessagesAroundTimestampOption {
  /** 0 = now. */
  timestamp: number
  /** 0–100. */
  beforeCount: number
  /** 0–100. */
  afterCount: number
}

export interface ISearchMessageInTimeRangeOption {
  keyword: string
  startTime: number
  endTime: number
  /** Default 0. */
  offset?: number
  /** 1–100, default 5. */
  limit?: number
}

export interface IReceivedStatusInfo {
  isRead?: boolean
  isListened?: boolean
  isDownload?: boolean
  isRetrieved?: boolean
}

export interface MentionedInfo {
  /** 1 = @all, 2 = @ the users in `userIdList`. */
  type: 1 | 2
  userIdList?: string[]
  mentionedContent?: string
}

/**
 * Mobile push configuration (seed: IPushConfig). Carried to the server, stored with the
 * message and delivered to recipients unchanged; the vendor objects `iOSConfig` and
 * `androidConfig` come back exactly as given, whatever keys they hold. At most 128 KB.
 */
export interface IPushConfig {
  pushTitle?: string
  pushContent?: string
  pushData?: string
  disablePushTitle?: boolean
  forceShowDetailContent?: boolean
  templateId?: string
  iOSConfig?: {
    threadId?: string
    apnsCollapseId?: string
    category?: string
    richMediaUri?: string
    interruptionLevel?: string
    [key: string]: unknown
  }
  androidConfig?: {
    notificationId?: string
    channelIdMi?: string
    channelIdHW?: string
    channelIdOPPO?: string
    typeVivo?: string
    categoryVivo?: string
    categoryHW?: string
    importanceHW?: string
    imageUrlHW?: string
    miLargeIconUrl?: string
    googleConfig?: Record<string, unknown>
    [key: string]: unknown
  }
}

/**
 * `MESSAGE_BLOCKED` payload: a message this user sent was blocked by the server's
 * sensitive-word filter and reached no one (the send itself succeeded).
 */
export interface IBlockedMessageInfo {
  /** 1 GLOBAL, 2 CUSTOM (the app's word list: imsync's filter), 3 THIRD_PARTY. */
  blockType: 1 | 2 | 3
  blockedMessageUid: string
  conversationType: number
  targetId: string
  channelId: string
  /** The blocked message's `content.extra`, when it had one. */
  extra?: string
  /** 0 MSG_ORIGINAL, 1 MSG_EXPANSION, 2 MSG_MODIFY. */
  sourceType: 0 | 1 | 2
  sourceContent: string
}

/** `PRIVATE_MESSAGE_DELIVERED` payload element: the peer's device stored the message. */
export interface IPrivateMessageDeliveredInfo {
  messageUId: string
  /** Server time the recipient's device reported it stored, Unix ms. */
  deliveryTime: number
  conversationType: 1
  targetId: string
  channelId: string
}

/** `GROUP_MESSAGE_DELIVERED` payload element: another member's device stored the message. */
export interface IGroupMessageDeliveredStatusInfo {
  messageUId: string
  deliveryTime: number
  /** Members whose devices have stored it so far. */
  deliveryCount: number
  /** Members who received it (the sender excluded). */
  totalCount: number
  conversationType: 3
  targetId: string
  channelId: string
}

/**
 * Group read-receipt state of a message. A member's copy of a message whose receipts were
 * requested has `isReceiptRequestMessage: true` and `hasRespond` (false until
 * `sendReadReceiptResponseV2` names it); the sender's copy counts the members who read it.
 */
export interface IReadReceiptInfo {
  isReceiptRequestMessage?: boolean
  hasRespond?: boolean
  /** Sender's copy: the members who answered, in the order they did. */
  respondUserIdList?: string[]
  /** Sender's copy: `respondUserIdList.length`. */
  readCount?: number
  [key: string]: unknown
}

/** `getTags()` element. */
export interface TagInfo {
  /** 1 to 10 characters. */
  tagId: string
  /** 1 to 15 characters. */
  tagName: string
  createdTime: number
  /** Conversations linked to the tag (also those not stored on this device). */
  conversationCount: number
}

/** `getTagsFromConversation()` element. */
export interface ConversationTagInfo {
  tagId: string
  tagName: string
  createdTime: number
  /** Pinned within this tag (`setConversationToTopInTag`). */
  isTop: boolean
}

/** `getFirstUnreadMessageInfo()` result. */
export interface FirstUnreadMessageInfo {
  sentTime: number
  messageUId: string
  messageId: number
}

/** A stored message. */
export interface IAReceivedMessage {
  /** Local id, unique in this database. */
  messageId: number
  /** The server's id; '' for messages only inserted locally. */
  messageUId: string
  conversationType: number
  targetId: string
  channelId: string
  senderUserId: string
  /** Object name, e.g. 'RC:TxtMsg'. */
  messageType: string
  content: Record<string, any>
  sentTime: number
  receivedTime: number
  /** 1 SEND, 2 RECEIVE. */
  messageDirection: 1 | 2
  /** 10 SENDING, 20 FAILED, 30 SENT, 40 RECEIVED, 50 READ, 60 DESTROYED, 70 CANCELED. */
  sentStatus: number
  /** Bit flags: 1 READ, 2 LISTENED, 4 DOWNLOADED, 8 RETRIEVED, 16 MULTIPLE_RECEIVE. */
  receivedStatus: number
  receivedStatusInfo: Required<IReceivedStatusInfo>
  isPersisted: boolean
  /** `isPersisted` as IMLib 5.x spells it (both are present). */
  isPersited: boolean
  isCounted: boolean
  isStatusMessage: boolean
  isMentioned: boolean
  isOfflineMessage: boolean
  /** `isOfflineMessage` as IMLib 5.x spells it (both are present). */
  isOffLineMessage: boolean
  disableNotification: boolean
  canIncludeExpansion: boolean
  expansion: Record<string, string> | null
  directedUserIds: string[]
  pushConfig?: IPushConfig
  readReceiptInfo?: IReadReceiptInfo
  /** A media message's file on this device (the sender's file, or downloadMediaMessage's copy); never sent to the server. */
  localPath?: string
}

/** What `insertMessage` accepts: a BaseMessage-like `{ messageType, content }` or a full message. */
export interface InsertMessageInput {
  messageType: string
  content: Record<string, any>
  /** Default: the open user for SEND, the peer for a received private message. */
  senderUserId?: string
  /** 1 SEND (default) or 2 RECEIVE. */
  messageDirection?: 1 | 2
  /** Kept as given (default: now), so imported history keeps its order. */
  sentTime?: number
  receivedTime?: number
  messageUId?: string
  messageUid?: string
  sentStatus?: number
  receivedStatus?: number
  receivedStatusInfo?: IReceivedStatusInfo
  isMentioned?: boolean
  isOfflineMessage?: boolean
  /** The vendor's spelling of `isOfflineMessage`. */
  isOffLineMessage?: boolean
  disableNotification?: boolean
  canIncludeExpansion?: boolean
  expansion?: Record<string, string>
  directedUserIds?: string[]
  pushConfig?: IPushConfig
  readReceiptInfo?: IReadReceiptInfo
}

export interface IInsertOptions {
  /** A received message counts as unread only when true (default false: imported history is read). */
  isUnread?: boolean
  /** Replaces the text the message is found by in search. */
  searchContent?: string
}

/** An element of `batchInsertMessage`: the message plus its conversation. */
export interface InsertMessage extends Omit<InsertMessageInput, never> {
  conversationType: number
  targetId: string
  channelId?: string
  /** A string `messageId` is the message's unique value (dedup key), like `messageUId`. */
  messageId?: string
}

export interface BatchInsertResult {
  inserted: number
  /** Skipped because already stored (same messageUId, or same content with checkDuplicate). */
  duplicates: number
}

export interface HistoryPage {
  list: IAReceivedMessage[]
  hasMore: boolean
}

/**
 * One message of `deleteRemoteMessages(conversation, messages)` (the vendor's top-level
 * `deleteMessages`): the server's uid (`messageUId`; `messageUid` and the seed example's
 * string `messageId` are accepted too) and its `sentTime`, which must match the server's.
 * 1 to 100 per call, all of `conversation`.
 */
export interface IDeleteRemoteMessage {
  messageUId?: string
  messageUid?: string
  /** The seed example's spelling of the uid (a string; a number is a local id and refused). */
  messageId?: string
  sentTime: number
  /** 1 SEND or 2 RECEIVE; informative. */
  messageDirection?: number
}

export interface SearchResult {
  /** Newest first. */
  messages: IAReceivedMessage[]
  /** Total matches. */
  count: number
}

export interface IReceivedConversation {
  conversationType: number
  targetId: string
  channelId: string
  unreadMessageCount: number
  latestMessage: IAReceivedMessage | null
  hasMentioned: boolean
  mentionedInfo: MentionedInfo | null
  isTop: boolean
  /** −1, 0, 1, 2, 4, 5. */
  notificationLevel: number
  /** Legacy view of the level: 1 do-not-disturb, 2 notify. */
  notificationStatus: number
  draft: string
  /** sentTime of the newest unread message, 0 when none. */
  lastUnreadTime: number
  /** Time of the last local change to the conversation. */
  operationTime: number
  /** The time the conversation list is sorted by (its latest message's sentTime). */
  sortTime: number
}

/** `sendMessage` options (the SDK's ISendMessageOptions). */
export interface ISendMessageOptions {
  disableNotification?: boolean
  pushContent?: string
  pushData?: string
  /** @-message in a group; the mention list is `content.mentionedInfo`. */
  isMentioned?: boolean
  /** A directed group message reaches only these members. */
  directionalUserIdList?: string[]
  canIncludeExpansion?: boolean
  expansion?: Record<string, string>
  pushConfig?: IPushConfig
  /** Resend a stored (failed) message under its original client id: never duplicated. */
  messageId?: number
  isStatusMessage?: boolean
}

/**
 * What the media calls take (issue 12): the file to send, by absolute path (renderers pass a
 * File/Blob to the vendor's senders; the main process stages it to disk when Electron has no
 * path for it).
 */
export interface IMediaInput {
  messageType: 'RC:ImgMsg' | 'RC:GIFMsg' | 'RC:FileMsg' | 'RC:HQVCMsg' | 'RC:SightMsg'
  /** Absolute path; may be omitted on a resend (`options.messageId`), which reuses the message's `localPath`. */
  path?: string
  /** The name the server keeps and downloads are saved under; default: the path's file name. */
  name?: string
  /** Default: guessed from the name's extension. */
  mimeType?: string
  /** How the file URL opens in a browser; default inline for images, GIF, voice and video, attachment for files. */
  contentDisposition?: 'inline' | 'attachment'
  /**
   * Content fields given by the app: `user`, `extra`; `duration` (seconds; required for
   * RC:HQVCMsg (≤ 60) and RC:SightMsg); `content` (a sight's Base64 cover, or an image's own
   * thumbnail instead of the one made from the file).
   */
  content?: Record<string, any>
  /** Names the transfer in MEDIA_PROGRESS events and cancelMediaTransfer (1-64 of [A-Za-z0-9_-]). */
  transferId?: string
}

/** What a finished upload tells (the seed's onComplete(fileInfo)). */
export interface IUploadedFileInfo {
  url: string
  name: string
  size: number
  /** MIME type. */
  type: string
}

/** The MEDIA_PROGRESS event: an upload or download moving (at least once per whole percent). */
export interface IMediaProgress {
  transferId: string
  /** The local message (0 for a chatroom upload, which is not stored). */
  messageId: number
  direction: 'upload' | 'download'
  /** 0-100. */
  progress: number
  done: number
  total: number
}

/**
 * ConnectionStatus (the seed's table): 0 connected, 1 connecting, 2 disconnected, 3 network
 * unavailable (retrying), 4 socket error, 6 kicked by another client, 9 banned, 12 domain error.
 */
export type ConnectionStatusValue = 0 | 1 | 2 | 3 | 4 | 6 | 9 | 12

/**
 * What the main process sends a window as 'imsync:state' (and keeps on the service): what
 * RongIMLib answers synchronously in the window.
 */
export interface ImsyncState {
  connectionStatus: ConnectionStatusValue
  /** Server time − local time, ms: getServerTime() is Date.now() + serverTimeOffset. */
  serverTimeOffset: number
}

/**
 * A hosted user profile (IMLib 5.10.1's IUserProfileInfo; seed 002 "用户信息托管"). Limits
 * (characters): name 32, portraitUri 128, email 128, birthday 32, location 32; gender 0
 * unknown / 1 male / 2 female; role and level 0-100; at most 20 extension keys (key 1-32 of
 * [A-Za-z0-9_], value 256). uniqueId is set by the app server only. The extension map is
 * `userExtProfile` in the seed's table and `extraProfile` in its example: either is
 * accepted, results carry both. Another user's profile whose owner's visibility hides it
 * carries only userId, name and portraitUri.
 */
export interface IUserProfileInfo {
  userId?: string
  name?: string
  portraitUri?: string
  uniqueId?: string
  email?: string
  birthday?: string
  gender?: 0 | 1 | 2
  location?: string
  role?: number
  level?: number
  extraProfile?: Record<string, string>
  userExtProfile?: Record<string, string>
}

/**
 * UserProfileVisibility: 0 NOT_SET (the server's default: INVISIBLE unless imsync-server runs
 * with --profile-visibility everyone), 1 INVISIBLE, 2 EVERYONE.
 */
export type UserProfileVisibilityValue = 0 | 1 | 2

/**
 * SubscribeType (seed 002): 1 ONLINE_STATUS, 2 USER_PROFILE (IMLib 5.10.1).
 */
export type SubscribeTypeValue = 1 | 2

/** One platform class of a followed user (1 desktop, 2 web, 3 mobile). */
export interface IPlatformOnlineStatus {
  platform: 1 | 2 | 3
  isOnline: boolean
  /** When it last went online or offline, ms (0: unknown since the server started). */
  updateTime: number
}

/**
 * A followed user's status (SUBSCRIBED_USER_STATUS_CHANGE carries an array of them;
 * getSubscribeUserStatus and getSubscribeUserList answer arrays). ONLINE_STATUS: `details`
 * lists every platform class; USER_PROFILE: `userProfile` as other users see it, `details`
 * empty. `subscribeTime` (ms) and `expiry` (s) describe the caller's subscription where
 * the answer concerns it (not in pushed changes).
 */
export interface ISubscribeUserStatusInfo {
  userId: string
  subscribeType: SubscribeTypeValue
  details: IPlatformOnlineStatus[]
  userProfile?: IUserProfileInfo
  subscribeTime?: number
  expiry?: number
}

/**
 * The user's subscriptions changed on another of its devices (SUBSCRIBED_RELATION_CHANGE
 * carries an array). operationType 0 SUBSCRIBE (or renewed), 1 UNSUBSCRIBE.
 */
export interface ISubscribeRelationInfo {
  subscribeType: SubscribeTypeValue
  operationType: 0 | 1
  userIds: string[]
  subscribeTime?: number
  expiry?: number
}

/** What a chatroom join answers (IChatroomJoinResponse, IMLib 5.8.3). */
export interface IChatroomJoinResponse {
  createTime: number
  memberCount: number
  isAllChatroomBanned: boolean
  isCurrentUserBanned: boolean
  isCurrentChatroomBanned: boolean
  isCurrentChatroomInWhitelist: boolean
}

/** getChatRoomInfo's result: the member count and up to `count` members with their join times. */
export interface IChatroomInfo {
  userCount: number
  userInfos: Array<{ id: string; time: number }>
}

/** getChatroomHistoryMessages's result, oldest first. */
export interface IChatroomHistory {
  list: IAReceivedMessage[]
  hasMore: boolean
}

/** A chatroom entry as CHATROOM `updatedEntries` reports it (`type` 1 UPDATE, 2 DELETE). */
export interface IChatroomEntryChange {
  key: string
  value: string
  timestamp: number
  type: 1 | 2
}

/** The CHATROOM event (seed 002 IChatroomListenerData); one field per event. */
export interface IChatroomListenerData {
  /** The engine rejoined a room after a reconnect: `count` on success, else `errorCode`. */
  rejoinedRoom?: { chatroomId: string; count: number } | { chatroomId: string; errorCode: number }
  updatedEntries?: Array<{ chatroomId: string; entries: IChatroomEntryChange[] }>
  /** users: userId -> 1 joined, 2 quit, 3 removed (offline rule or blocked). */
  userChange?: { chatroomId: string; users: Record<string, 1 | 2 | 3>; memberCount: number }
  /** The id of a room this user was in that was destroyed. */
  chatroomDestroyed?: string
  /**
   * This user joined (status 1) or quit (status 0) a room on another device; `reason` on a
   * quit: 1 the user quit, 2 it joined another room (one room per user, the server's default;
   * the room's members hear that one too, with `userId` naming who left).
   */
  chatroomNotifyMultiLoginSync?: { chatroomId: string; status: 0 | 1; reason?: 1 | 2; time: number; userId: string }
  chatroomNotifyBlock?: { chatroomId: string; operateType: number; durationTime: number; operateTime: number; userIdList: string[]; extra: string }
}

/** What setChatRoomEntry / forceSetChatRoomEntry take (seed 002). */
export interface IChatroomEntry {
  key: string
  value: string
  /** Removed when this user leaves the room. */
  isAutoDelete?: boolean
  /** Also send an RC:chrmKVNotiMsg message to the room. */
  isSendNotification?: boolean
  notificationExtra?: string
}

/** What removeChatRoomEntry / forceRemoveChatRoomEntry take (seed 002). */
export interface IRemoveChatroomEntry {
  key: string
  isSendNotification?: boolean
  notificationExtra?: string
}
