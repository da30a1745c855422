// Types of `require('imsync/renderer')`: the preload module (js/renderer.js). Its export IS the
// API object, so `const RongIMLib = require('imsync/renderer')` type-checks the vendor's
// Electron examples; the page gets the same object as `window.imsync` (initContextBridge).
declare namespace imsync {
  // The shared types (js/types.d.ts), under this namespace too.
  type ImResult<T = void> = import('./types').ImResult<T>
  type BatchInsertResult = import('./types').BatchInsertResult
  type GetHistoryMessageOption = import('./types').GetHistoryMessageOption
  type HistoryPage = import('./types').HistoryPage
  type IAReceivedMessage = import('./types').IAReceivedMessage
  type IConversationOption = import('./types').IConversationOption
  type IGetHistoryMessagesByTypesOption = import('./types').IGetHistoryMessagesByTypesOption
  type IGetMessagesAroundTimestampOption = import('./types').IGetMessagesAroundTimestampOption
  type IInsertOptions = import('./types').IInsertOptions
  type InsertMessage = import('./types').InsertMessage
  type InsertMessageInput = import('./types').InsertMessageInput
  type IReceivedConversation = import('./types').IReceivedConversation
  type IReceivedStatusInfo = import('./types').IReceivedStatusInfo
  type ISearchMessageInTimeRangeOption = import('./types').ISearchMessageInTimeRangeOption
  type ISendMessageOptions = import('./types').ISendMessageOptions
  type SearchResult = import('./types').SearchResult
  type ConversationTagInfo = import('./types').ConversationTagInfo
  type FirstUnreadMessageInfo = import('./types').FirstUnreadMessageInfo
  type TagInfo = import('./types').TagInfo
  type ConnectionStatusValue = import('./types').ConnectionStatusValue

  /** A message object: RongIMLib's BaseMessage (what the message classes construct). */
  interface BaseMessage<T = any> {
    messageType: string
    content: T
    isPersisted: boolean
    isCounted: boolean
    isStatusMessage: boolean
  }

  /** A message class: `new TextMessage({ content })`; callable without `new` too. */
  interface MessageClass<T = any> {
    new (content: T): BaseMessage<T>
    (content: T): BaseMessage<T>
    readonly messageType: string
  }

  interface TextContent {
    content: string
    mentionedInfo?: { type: 1 | 2; userIdList?: string[]; mentionedContent?: string }
    user?: { id: string; name?: string; portraitUri?: string; extra?: string }
    extra?: string
    [key: string]: unknown
  }

  /** The event names; each value is its own name. */
  type EventName =
    | 'CONNECTING'
    | 'CONNECTED'
    | 'DISCONNECT'
    | 'SUSPEND'
    | 'MESSAGES'
    | 'READ_RECEIPT_RECEIVED'
    | 'MESSAGE_RECEIPT_REQUEST'
    | 'MESSAGE_RECEIPT_RESPONSE'
    | 'CONVERSATION'
    | 'CHATROOM'
    | 'EXPANSION'
    | 'PULL_OFFLINE_MESSAGE_FINISHED'
    | 'TAG'
    | 'CONVERSATION_TAG'
    | 'TYPING_STATUS'
    | 'MESSAGE_BLOCKED'
    | 'ULTRA_GROUP_ENABLE'
    | 'OPERATE_STATUS'
    | 'ULTRA_GROUP_MESSAGE_EXPANSION_UPDATED'
    | 'ULTRA_GROUP_MESSAGE_MODIFIED'
    | 'ULTRA_GROUP_MESSAGE_RECALLED'
    | 'ULTRA_GROUP_CHANNEL_TYPE_CHANGE'
    | 'ULTRA_GROUP_CHANNEL_DELETE'
    | 'ULTRA_GROUP_CHANNEL_USER_KICKED'
    | 'SUBSCRIBED_USER_STATUS_CHANGE'
    | 'SUBSCRIBED_RELATION_CHANGE'
    | 'SYNC_SUBSCRIBED_USER_STATUS_FINISHED'
    | 'OWN_USER_PROFILE_CHANGED'
    | 'USER_GROUP_STATUS'

  /** Payloads of the events the seed documents (others: `any`). */
  interface EventPayloads {
    CONNECTING: void
    CONNECTED: void
    /** An ErrorCode. */
    DISCONNECT: number
    /** An ErrorCode. */
    SUSPEND: number
    MESSAGES: { messages: IAReceivedMessage[] }
    /** The peer read the messages up to `sentTime` (they are now READ, 50, in the database). */
    READ_RECEIPT_RECEIVED: { conversation: Required<IConversationOption>; messageUid: string; sentTime: number; sendUserId: string }
    MESSAGE_RECEIPT_REQUEST: { conversation: Required<IConversationOption>; messageUid: string; senderUserId: string }
    MESSAGE_RECEIPT_RESPONSE: { conversation: Required<IConversationOption>; receivedUserId: string; messageUidList: string[] }
    CONVERSATION: { conversationList: Array<{ conversationType: number; targetId: string; channelId?: string; [key: string]: any }> }
    EXPANSION: {
      updatedExpansion?: { messageUId: string; expansion: Record<string, string>; conversationType: number; targetId: string; channelId: string }
      deletedExpansion?: { messageUId: string; deletedKeys: string[]; conversationType: number; targetId: string; channelId: string }
      conversationType: number
      targetId: string
      channelId: string
    }
    PULL_OFFLINE_MESSAGE_FINISHED: void
    TAG: void
    CONVERSATION_TAG: void
    TYPING_STATUS: { status: Array<{ targetId: string; conversationType: number; channelId: string; list: Array<{ userId: string; timestamp: number; messageType: string }> }> }
  }

  type Listener<T = any> = (this: any, payload: T) => void

  /** The local-database calls of the Electron solution. */
  interface ElectronExtension {
    getHistoryMessagesByMessageTypes(conversation: IConversationOption, options: IGetHistoryMessagesByTypesOption): Promise<ImResult<HistoryPage>>
    getMessagesAroundTimestamp(conversation: IConversationOption, options: IGetMessagesAroundTimestampOption): Promise<ImResult<IAReceivedMessage[]>>
    getContinuousMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage & { timestamp: number }>>
    getMessageCount(conversation: IConversationOption): Promise<ImResult<number>>
    insertMessage(conversation: IConversationOption, message: InsertMessageInput | BaseMessage, options?: IInsertOptions): Promise<ImResult<IAReceivedMessage>>
    batchInsertMessage(messages: InsertMessage[], checkDuplicate?: boolean): Promise<ImResult<BatchInsertResult>>
    clearMessages(conversation: IConversationOption): Promise<ImResult<void>>
    deleteMessagesByTimestamp(conversation: IConversationOption, timestamp: number, cleanSpace?: boolean): Promise<ImResult<void>>
    deleteMessages(messageIds: number[]): Promise<ImResult<void>>
    searchMessages(conversation: IConversationOption, keyword: string, startTime: number, count: number, messageTypes?: string[]): Promise<ImResult<SearchResult>>
    searchMessageInTimeRange(conversation: IConversationOption, option: ISearchMessageInTimeRangeOption): Promise<ImResult<SearchResult>>
    searchMessagesByUser(conversation: IConversationOption, userId: string, startTime: number, count: number): Promise<ImResult<SearchResult>>
    searchConversationByContent(keyword: string, messageTypes: string[], channelId?: string): Promise<ImResult<IReceivedConversation[]>>
    getAllConversationList(channelId?: string): Promise<ImResult<IReceivedConversation[]>>
    getConversationList(startTime: number, count: number, channelId?: string, topPriority?: boolean): Promise<ImResult<IReceivedConversation[]>>
    getConversations(conversations: IConversationOption[]): Promise<ImResult<IReceivedConversation[]>>
    setMessageReceivedStatusInfo(messageId: number, receivedStatusInfo?: IReceivedStatusInfo): Promise<ImResult<void>>
    setMessageReceivedStatus(messageId: number, receivedStatus: number): Promise<ImResult<void>>
    setMessageSentStatus(messageId: number, sentStatus: number): Promise<ImResult<void>>
    setMessageStatusToRead(conversation: IConversationOption, timestamp: number): Promise<ImResult<void>>
    setCheckDuplicateMessage(enableCheck: boolean): Promise<ImResult<void>>
  }

  /** What addTag / updateTag take. */
  interface TagInput {
    /** 1 to 10 characters. */
    tagId: string
    /** 1 to 15 characters. */
    tagName: string
  }

  interface RecallOptions {
    messageUId?: string
    messageUid?: string
    sentTime: number
    user?: { id: string; name?: string; portraitUri?: string; extra?: string }
    disableNotification?: boolean
    pushConfig?: Record<string, unknown>
    extra?: string
    isDelete?: boolean
  }

  /**
   * The API object: RongIMLib-compatible (ARCHITECTURE.md §4). At run time it (and its
   * `electronExtension`) also answers any other lowerCamelCase method name with a promise of
   * `{ code: 35004, msg }` naming the call (not typed here, so TypeScript still flags typos);
   * `then` stays undefined: the object is not a thenable.
   */
  interface Api {
    /**
     * RongIMLib.init: the main process initialized imsync already; resolves at once. After
     * destroy() it makes this window's object usable again.
     */
    init(options?: { appkey?: string; [key: string]: unknown }): Promise<ImResult<void>>
    /**
     * RongIMLib.destroy: removes this window's event listeners and subscriptions; later calls
     * answer 35005 until init(). Does not disconnect: the connection is the app's (every
     * window shares it); call disconnect() for that.
     */
    destroy(): Promise<ImResult<void>>
    /** Opens a user's local database without any network (local-only apps). */
    open(userId: string): Promise<ImResult<void>>
    connect(token: string, reconnectKickEnable?: boolean): Promise<ImResult<{ userId: string }>>
    disconnect(closeDB?: boolean): Promise<ImResult<void>>
    /**
     * The ConnectionStatus now, synchronously as in RongIMLib (kept in the window from the
     * main process's state; never an ErrorCode).
     */
    getConnectionStatus(): ConnectionStatusValue
    /** imsync: the engine's own answer over IPC (`data` a ConnectionStatus value). */
    getConnectionStatusAsync(): Promise<ImResult<ConnectionStatusValue>>
    /** The server-corrected clock in ms, synchronously as in RongIMLib (Date.now() + the offset main estimated). */
    getServerTime(): number

    addEventListener<K extends keyof EventPayloads>(name: K, listener: Listener<EventPayloads[K]>, target?: unknown): () => void
    addEventListener(name: string, listener: Listener, target?: unknown): () => void
    /** Alias of addEventListener (the seed uses both). */
    addListener<K extends keyof EventPayloads>(name: K, listener: Listener<EventPayloads[K]>, target?: unknown): () => void
    addListener(name: string, listener: Listener, target?: unknown): () => void
    onceEventListener<K extends keyof EventPayloads>(name: K, listener: Listener<EventPayloads[K]>, target?: unknown): () => void
    onceEventListener(name: string, listener: Listener, target?: unknown): () => void
    removeEventListener(name: string, listener: Listener): void
    removeEventListeners(name: string): void

    /** Returns the message class at once; the registration reaches the main process before later calls. */
    registerMessageType<T = any>(messageType: string, isPersisted: boolean, isCounted: boolean, searchProps?: string[], isStatusMessage?: boolean): MessageClass<T>

    /**
     * Sends a message. `options.onSendBefore` (kept in the renderer) gets the stored message,
     * with its messageId, before it is sent.
     */
    sendMessage(
      conversation: IConversationOption,
      message: BaseMessage | { messageType: string; content: Record<string, any> },
      options?: ISendMessageOptions & { onSendBefore?: (message: IAReceivedMessage) => void },
    ): Promise<ImResult<IAReceivedMessage>>
    recallMessage(conversation: IConversationOption, options: RecallOptions): Promise<ImResult<IAReceivedMessage>>
    /** Local history (on Electron, getHistoryMessages reads the local database). */
    getHistoryMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage>>
    getRemoteHistoryMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage>>

    getConversation(conversation: IConversationOption): Promise<ImResult<IReceivedConversation | null>>
    removeConversation(conversation: IConversationOption): Promise<ImResult<void>>
    getTopConversationList(conversationTypes?: number[], channelId?: string): Promise<ImResult<IReceivedConversation[]>>
    getUnreadConversationList(conversationTypes?: number[]): Promise<ImResult<IReceivedConversation[]>>
    getTotalUnreadCount(includeMuted?: boolean, conversationTypes?: number[]): Promise<ImResult<number>>
    getUnreadCount(conversation: IConversationOption): Promise<ImResult<number>>
    getUnreadMentionedCount(conversation: IConversationOption): Promise<ImResult<number>>
    getAllUnreadMentionedCount(): Promise<ImResult<number>>
    clearMessagesUnreadStatus(conversation: IConversationOption): Promise<ImResult<void>>
    clearAllMessagesUnreadStatus(): Promise<ImResult<void>>
    getFirstUnreadMessageInfo(conversation: IConversationOption): Promise<ImResult<FirstUnreadMessageInfo | null>>
    saveTextMessageDraft(conversation: IConversationOption, draft: string): Promise<ImResult<void>>
    getTextMessageDraft(conversation: IConversationOption): Promise<ImResult<string>>
    clearTextMessageDraft(conversation: IConversationOption): Promise<ImResult<void>>
    setConversationToTop(conversation: IConversationOption, isTop?: boolean, updateOperationTime?: boolean): Promise<ImResult<void>>
    setConversationNotificationLevel(conversation: IConversationOption, notificationLevel: number): Promise<ImResult<void>>
    getConversationNotificationLevel(conversation: IConversationOption): Promise<ImResult<number>>
    setConversationNotificationStatus(conversation: IConversationOption, notificationStatus: number): Promise<ImResult<void>>
    getConversationNotificationStatus(conversation: IConversationOption): Promise<ImResult<number>>
    /** Conversations with a muting notification level (level > 0). */
    getBlockedConversationList(): Promise<ImResult<IReceivedConversation[]>>

    addTag(tag: TagInput): Promise<ImResult<void>>
    removeTag(tagId: string): Promise<ImResult<void>>
    updateTag(tag: TagInput): Promise<ImResult<void>>
    getTags(): Promise<ImResult<TagInfo[]>>
    getTagsFromConversation(conversation: IConversationOption): Promise<ImResult<ConversationTagInfo[]>>
    addConversationsToTag(tagId: string, conversations: IConversationOption[]): Promise<ImResult<void>>
    removeConversationsFromTag(tagId: string, conversations: IConversationOption[]): Promise<ImResult<void>>
    removeTagsFromConversation(conversation: IConversationOption, tagIds: string[]): Promise<ImResult<void>>
    removeTagFromConversations(tagId: string, conversations: IConversationOption[]): Promise<ImResult<void>>
    getConversationsFromTagByPage(tagId: string, count: number, startTime: number): Promise<ImResult<Array<IReceivedConversation & { isTopInTag: boolean }>>>
    getUnreadCountByTag(tagId: string, containMuted: boolean): Promise<ImResult<number>>
    setConversationToTopInTag(tagId: string, conversation: IConversationOption, isTop: boolean): Promise<ImResult<void>>

    addToBlacklist(userId: string): Promise<ImResult<void>>
    removeFromBlacklist(userId: string): Promise<ImResult<void>>
    getBlacklist(): Promise<ImResult<string[]>>
    /** 0 = in the blacklist, 1 = not (`BlacklistStatus`). */
    getBlacklistStatus(userId: string): Promise<ImResult<0 | 1>>

    /** Resolves the sent status message, or no `data` when throttled (one per conversation per 6 s). */
    sendTypingStatusMessage(conversation: IConversationOption, typingContentType: string): Promise<ImResult<IAReceivedMessage | null>>
    sendReadReceiptMessage(targetId: string, messageUId: string, timestamp: number): Promise<ImResult<void>>
    sendReadReceiptRequest(targetId: string, messageUId: string, channelId?: string): Promise<ImResult<void>>
    sendReadReceiptResponseV2(targetId: string, messageList?: Record<string, string[]>, channelId?: string): Promise<ImResult<void>>
    sendSyncReadStatusMessage(conversation: IConversationOption, lastMessageSendTime: number): Promise<ImResult<void>>
    updateMessageExpansion(expansion: Record<string, string>, message: IAReceivedMessage): Promise<ImResult<void>>
    removeMessageExpansionForKey(keys: string[], message: IAReceivedMessage): Promise<ImResult<void>>

    readonly electronExtension: ElectronExtension

    readonly ConversationType: {
      readonly PRIVATE: 1
      readonly DISCUSSION: 2
      readonly GROUP: 3
      readonly CHATROOM: 4
      readonly CUSTOMER_SERVICE: 5
      readonly SYSTEM: 6
      readonly ULTRA_GROUP: 10
    }
    readonly MessageType: {
      readonly TEXT: 'RC:TxtMsg'
      readonly IMAGE: 'RC:ImgMsg'
      readonly FILE: 'RC:FileMsg'
      readonly HQ_VOICE: 'RC:HQVCMsg'
      readonly SIGHT: 'RC:SightMsg'
      readonly GIF: 'RC:GIFMsg'
      readonly REFERENCE: 'RC:ReferenceMsg'
      readonly LOCATION: 'RC:LBSMsg'
      readonly RICH_CONTENT: 'RC:ImgTextMsg'
      readonly INFORMATION_NOTIFICATION: 'RC:InfoNtf'
      readonly COMMAND: 'RC:CmdMsg'
      readonly GROUP_NOTIFICATION: 'RC:GrpNtf'
      readonly TYPING_STATUS: 'RC:TypSts'
      readonly RECALL_NOTIFICATION: 'RC:RcNtf'
      readonly SYNC_READ_STATUS: 'RC:SRSMsg'
      readonly READ_RECEIPT: 'RC:ReadNtf'
    }
    readonly MessageDirection: { readonly SEND: 1; readonly RECEIVE: 2 }
    readonly SentStatus: {
      readonly SENDING: 10
      readonly FAILED: 20
      readonly SENT: 30
      readonly RECEIVED: 40
      readonly READ: 50
      readonly DESTROYED: 60
      readonly CANCELED: 70
    }
    /** Bit flags. */
    readonly ReceivedStatus: {
      readonly UNREAD: 0
      readonly READ: 1
      readonly LISTENED: 2
      readonly DOWNLOADED: 4
      readonly RETRIEVED: 8
      readonly MULTIPLE_RECEIVE: 16
    }
    readonly NotificationLevel: {
      readonly ALL_MESSAGE: -1
      readonly NOT_SET: 0
      readonly AT_MESSAGE_NOTIFICATION: 1
      readonly AT_USER_NOTIFICATION: 2
      readonly AT_GROUP_ALL_USER_NOTIFICATION: 4
      readonly NOT_MESSAGE_NOTIFICATION: 5
    }
    /** Legacy two-value view of NotificationLevel: OPEN = do not disturb. */
    readonly NotificationStatus: { readonly OPEN: 1; readonly CLOSE: 2 }
    readonly BlacklistStatus: { readonly IN_BLACK_LIST: 0; readonly NOT_IN_BLACK_LIST: 1 }
    readonly ConnectionStatus: {
      readonly CONNECTED: 0
      readonly CONNECTING: 1
      readonly DISCONNECTED: 2
      readonly NETWORK_UNAVAILABLE: 3
      readonly SOCKET_ERROR: 4
      readonly KICKED_OFFLINE_BY_OTHER_CLIENT: 6
      readonly BLOCKED: 9
      readonly DOMAIN_INCORRECT: 12
    }
    readonly MentionedType: { readonly ALL: 1; readonly SINGAL: 2 }
    /** Result codes (the seed's ErrorCode table), e.g. SUCCESS 0, BIZ_ERROR_INVALID_PARAMETER 33003. */
    readonly ErrorCode: { readonly SUCCESS: 0; readonly BIZ_ERROR_INVALID_PARAMETER: 33003; readonly NOT_SUPPORT: 35004; readonly MAIN_PROCESS_ERROR: 35005; readonly DATABASE_CORRUPT: 33201; readonly DATABASE_DISK_FULL: 33202; readonly DATABASE_KEY_INVALID: 33203; readonly DATABASE_NOTHING_TO_RECOVER: 33204; readonly DATABASE_NOT_ENCRYPTED: 33205; readonly DATABASE_ALREADY_ENCRYPTED: 33206 } & { readonly [name: string]: number }
    readonly Events: { readonly [K in EventName]: K }

    readonly BaseMessage: {
      new <T = any>(messageType: string, content: T, isPersisted?: boolean, isCounted?: boolean, isStatusMessage?: boolean): BaseMessage<T>
      <T = any>(messageType: string, content: T, isPersisted?: boolean, isCounted?: boolean, isStatusMessage?: boolean): BaseMessage<T>
    }
    readonly TextMessage: MessageClass<TextContent>
    readonly ImageMessage: MessageClass<{ content: string; imageUri: string; [key: string]: unknown }>
    readonly FileMessage: MessageClass<{ name: string; size: number; type: string; fileUrl: string; [key: string]: unknown }>
    readonly HQVoiceMessage: MessageClass<{ remoteUrl: string; duration: number; type?: string; [key: string]: unknown }>
    readonly SightMessage: MessageClass<{ sightUrl: string; content: string; duration: number; size: number; name: string; [key: string]: unknown }>
    readonly GIFMessage: MessageClass<{ gifDataSize: number; remoteUrl: string; width: number; height: number; [key: string]: unknown }>
    readonly ReferenceMessage: MessageClass<{ referMsgUserId: string; referMsg: any; content: string; objName: string; referMsgUid?: string; [key: string]: unknown }>
    readonly LocationMessage: MessageClass<{ longitude: number; latitude: number; poi: string; content: string; [key: string]: unknown }>
    readonly RichContentMessage: MessageClass<{ title: string; content: string; imageUri: string; url: string; [key: string]: unknown }>
    readonly InformationNotificationMessage: MessageClass<{ message: string; extra?: string; [key: string]: unknown }>
    readonly CommandMessage: MessageClass<{ name: string; data: string; [key: string]: unknown }>
    readonly GroupNotificationMessage: MessageClass<{ operatorUserId: string; operation: string; data: any; message: string; extra?: string; [key: string]: unknown }>

    /**
     * Exposes this API to the page as `window[name]` (functions and enums only) — call it in
     * the preload when contextIsolation is on. With contextIsolation off it sets window[name].
     */
    initContextBridge(name?: string): void
  }
}

declare const imsync: imsync.Api
export = imsync
