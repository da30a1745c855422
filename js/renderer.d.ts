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
  type IUserProfileInfo = import('./types').IUserProfileInfo
  type UserProfileVisibilityValue = import('./types').UserProfileVisibilityValue
  type ISubscribeUserStatusInfo = import('./types').ISubscribeUserStatusInfo
  type ISubscribeRelationInfo = import('./types').ISubscribeRelationInfo
  type SubscribeTypeValue = import('./types').SubscribeTypeValue
  type IChatroomJoinResponse = import('./types').IChatroomJoinResponse
  type IChatroomInfo = import('./types').IChatroomInfo
  type IChatroomHistory = import('./types').IChatroomHistory
  type IMediaInput = import('./types').IMediaInput
  type IUploadedFileInfo = import('./types').IUploadedFileInfo
  type IMediaProgress = import('./types').IMediaProgress

  /** The media senders' msgBody (the seed's ISendFileMessageOptions and its kin). */
  interface IMediaMessageBody {
    file: Blob
    user?: { id: string; name?: string; portraitUri?: string; extra?: string }
    extra?: string
    /** Seconds (HQ voice, sight). */
    duration?: number
    /** A sight message's Base64 cover. */
    thumbnail?: string
  }

  /** The seed's IUploadHooks. */
  interface IUploadHooks {
    onProgress?: (progress: number) => void
    /** May return a message (e.g. a registered custom type) to send instead. */
    onComplete?: (fileInfo: IUploadedFileInfo) => void | BaseMessage | { messageType: string; content: Record<string, any> } | Promise<unknown>
  }

  /** The seed's IUploadMessageOption. */
  type IUploadMessageOption = ISendMessageOptions & {
    contentDisposition?: 'inline' | 'attachment'
    onSendBefore?: (message: IAReceivedMessage) => void
  }

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
    | 'PRIVATE_MESSAGE_DELIVERED'
    | 'GROUP_MESSAGE_DELIVERED'
    | 'OFFLINE_SYNC_PROGRESS'

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
    /**
     * IMLib 5.x's IUpdatedConversation items: the conversation after the change, and in
     * `updatedItems` what the change may have touched (message: latestMessage,
     * unreadMessageCount, hasMentioned, mentionedInfo; settings: isTop, notificationLevel,
     * notificationStatus), each `{ time, val }`.
     */
    CONVERSATION: {
      conversationList: Array<{
        conversation: { conversationType: number; targetId: string; channelId?: string; [key: string]: any }
        updatedItems: Record<string, { time: number; val: any }>
      }>
    }
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
    /** imsync's own: while a large offline backlog is pulled (first login), `pulled` of `total` so far. */
    OFFLINE_SYNC_PROGRESS: { pulled: number; total: number }
    /** The server did not deliver a message of this user's (sensitive word); see README. */
    MESSAGE_BLOCKED: import('./types').IBlockedMessageInfo
    /** A recipient's device stored these private messages of this user. */
    PRIVATE_MESSAGE_DELIVERED: import('./types').IPrivateMessageDeliveredInfo[]
    /** How many group members' devices stored these group messages of this user. */
    GROUP_MESSAGE_DELIVERED: import('./types').IGroupMessageDeliveredStatusInfo[]
    /** The own profile after a change made on another device or by the app server. */
    OWN_USER_PROFILE_CHANGED: IUserProfileInfo
    /** Followed users whose status changed (or is known when they were subscribed to). */
    SUBSCRIBED_USER_STATUS_CHANGE: ISubscribeUserStatusInfo[]
    /** The user's subscriptions changed on another of its devices. */
    SUBSCRIBED_RELATION_CHANGE: ISubscribeRelationInfo[]
    /** After each connect, per type, once the statuses of every live subscription were reported. */
    SYNC_SUBSCRIBED_USER_STATUS_FINISHED: { subscribeType: SubscribeTypeValue }
    /** Chatroom changes: one of the fields per event. */
    CHATROOM: import('./types').IChatroomListenerData
  }

  // ---- plugins (RongIMLib.installPlugin) ----------------------------------------------------

  /**
   * The IRuntime a plugin's verify/setup get. The vendor's runtime also carries its transport
   * hooks (storage, HTTP, sockets); imsync's transport is in the main process, so only the
   * descriptive part exists here.
   */
  interface IRuntime {
    readonly tag: 'electron'
    readonly platform: 'electron'
    readonly isElectron: true
    readonly isFromUniapp: false
    readonly useNavi: boolean
    readonly connectPlatform: string
    isSupportSocket(): boolean
    readonly [key: string]: unknown
  }

  /** getOSInfo(): the main process's OS facts (Node's os module; never host or user names). */
  interface OSInfo {
    platform: string
    arch: string
    type: string
    release: string
    version: string
    cpuCount: number
    cpuModel: string
    totalmem: number
    freemem: number
    uptime: number
  }

  /** A few numbers of Electron's ProcessMetric (app.getAppMetrics()), when available. */
  interface ProcessMetrics {
    creationTime?: number
    cpu: { percentCPUUsage?: number; idleWakeupsPerSecond?: number }
    memory: { workingSetSize?: number; peakWorkingSetSize?: number; privateBytes?: number }
  }

  /** getProcessInfo(): the calling window's renderer process, as the main process sees it. */
  interface ProcessInfo {
    type: 'renderer'
    pid: number | null
    webContentsId: number
    metrics: ProcessMetrics | null
  }

  /** getMainProcessInfo(): the main process. */
  interface MainProcessInfo {
    type: 'browser'
    pid: number
    platform: string
    arch: string
    versions: { node?: string; electron?: string; chrome?: string; v8?: string }
    uptime: number
    memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }
    cpuUsage: { user: number; system: number }
    metrics: ProcessMetrics | null
    app: { name: string; version: string } | null
  }

  /**
   * The context setup(context, …) gets. Set the hooks on it (`context.onmessage = fn`); each
   * subscribes this window to its events once set, and destroy() calls ondestroy and
   * uninstalls the plugin.
   */
  interface PluginContext {
    getAppkey(): string
    /** The user whose database is open ('' before connect/open). */
    getCurrentUserId(): string
    /** The same as getCurrentUserId. */
    getCurrentId(): string
    getConnectionStatus(): ConnectionStatusValue
    getServerTime(): number
    /** RongIMLib's form. */
    sendMessage(conversation: IConversationOption, message: BaseMessage | { messageType: string; content: Record<string, any> }, options?: ISendMessageOptions): Promise<ImResult<IAReceivedMessage>>
    /** The vendor engine context's form: the object's other fields are sendMessage's options. */
    sendMessage(
      conversationType: number,
      targetId: string,
      message: ISendMessageOptions & { messageType: string; content: Record<string, any>; isPersited?: boolean; isPersisted?: boolean; isCounted?: boolean; isStatusMessage?: boolean; channelId?: string },
    ): Promise<ImResult<IAReceivedMessage>>
    registerMessageType<T = any>(messageType: string, isPersisted: boolean, isCounted: boolean, searchProps?: string[], isStatusMessage?: boolean): MessageClass<T>
    /** Resolves null when the main process cannot answer. */
    getOSInfo(): Promise<OSInfo | null>
    getProcessInfo(): Promise<ProcessInfo | null>
    getMainProcessInfo(): Promise<MainProcessInfo | null>
    /** Any event, as RongIMLib.addEventListener; removed on destroy(). */
    addEventListener<K extends keyof EventPayloads>(name: K, listener: Listener<EventPayloads[K]>): () => void
    addEventListener(name: string, listener: Listener): () => void
    /** Each received message, before the app's listeners; returning `true` keeps it from the app's MESSAGES. */
    onmessage?: ((message: IAReceivedMessage) => unknown) | null
    onconnectionstatuschange?: ((status: ConnectionStatusValue) => void) | null
    onconnecting?: (() => void) | null
    onconnect?: (() => void) | null
    /** An ErrorCode. */
    onsuspend?: ((code: number) => void) | null
    /** An ErrorCode. */
    ondisconnect?: ((code: number) => void) | null
    ondestroy?: (() => void) | null
  }

  /** What installPlugin takes: the IMLib 5.x IPluginGenerator. */
  interface IPluginGenerator<T, O = any> {
    /** One instance per tag: installing a tag again returns the first instance. */
    tag: string
    verify(runtime: IRuntime): boolean
    setup(context: PluginContext, runtime: IRuntime, options?: O): T
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
    /** Replaces a stored message's content and type (its search text follows). */
    setMessageContent(messageId: number, content: Record<string, any>, objectName: string): Promise<ImResult<void>>
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

    /**
     * RongIMLib.installPlugin: calls installer.verify(runtime), then
     * installer.setup(context, runtime, options), and returns what setup returned (as is: it
     * runs in the calling world). null when verify says no, when verify or setup throws
     * (logged), or for something that is not an installer. A tag installed already returns
     * the first instance. With Electron < 35 and contextIsolation on (exposeInMainWorld), the
     * instance and the context are copies across the bridge: hooks set on the context are
     * not seen there; use contextIsolation off or Electron >= 35 for plugins with hooks.
     */
    installPlugin<T, O = any>(installer: IPluginGenerator<T, O>, options?: O): T | null

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
    /** RongIMLib.sendTextMessage: a TextMessage through sendMessage (same options, onSendBefore included). */
    sendTextMessage(
      conversation: IConversationOption,
      messageBody: TextContent,
      options?: ISendMessageOptions & { onSendBefore?: (message: IAReceivedMessage) => void },
    ): Promise<ImResult<IAReceivedMessage>>
    /**
     * The media senders (seed 002): upload `msgBody.file` (a File or Blob) through the main
     * process, then send the message with the file's URL. `hooks.onProgress(percent)` runs at
     * least once per whole percent; `hooks.onComplete(fileInfo)` may return another message to
     * send instead. A failed upload answers 34011 with the stored FAILED message in `data`;
     * resend it with `sendMediaMessage(conversation, { messageType }, { messageId })`.
     */
    sendImageMessage(conversation: IConversationOption, msgBody: IMediaMessageBody, hooks?: IUploadHooks, options?: IUploadMessageOption): Promise<ImResult<IAReceivedMessage>>
    /** See sendImageMessage; content: remoteUrl, width, height, gifDataSize. */
    sendGIFMessage(conversation: IConversationOption, msgBody: IMediaMessageBody, hooks?: IUploadHooks, options?: IUploadMessageOption): Promise<ImResult<IAReceivedMessage>>
    /** See sendImageMessage; content: fileUrl, name, size, type (the extension). */
    sendFileMessage(conversation: IConversationOption, msgBody: IMediaMessageBody, hooks?: IUploadHooks, options?: IUploadMessageOption): Promise<ImResult<IAReceivedMessage>>
    /** See sendImageMessage; `msgBody.duration` (above 0, at most 60 s) is required; content: remoteUrl, duration, type. */
    sendHQVoiceMessage(conversation: IConversationOption, msgBody: IMediaMessageBody & { duration: number }, hooks?: IUploadHooks, options?: IUploadMessageOption): Promise<ImResult<IAReceivedMessage>>
    /** See sendImageMessage; `msgBody.duration` is required, `msgBody.thumbnail` is the Base64 cover; content: sightUrl, content, duration, size, name. */
    sendSightMessage(conversation: IConversationOption, msgBody: IMediaMessageBody & { duration: number }, hooks?: IUploadHooks, options?: IUploadMessageOption): Promise<ImResult<IAReceivedMessage>>
    /** Not served: the seed documents no contract for it; answers 35004 naming itself. */
    sendCombineMessage(conversation: IConversationOption, messageBody: unknown, hooks?: unknown, options?: unknown, extra?: unknown): Promise<ImResult<never>>
    /** Upload and send a file the main process can read by path (the senders above use it in two steps). */
    sendMediaMessage(conversation: IConversationOption, media: IMediaInput, options?: ISendMessageOptions): Promise<ImResult<IAReceivedMessage>>
    /** Step one of a media send: store (SENDING) and upload; then sendMessage(..., { messageId }). */
    uploadMediaMessage(conversation: IConversationOption, media: IMediaInput, options?: ISendMessageOptions): Promise<ImResult<{ message: IAReceivedMessage; fileInfo: IUploadedFileInfo }>>
    /**
     * Download a media message's file to `<dbpath>/media/<userId>/` (resumable, MEDIA_PROGRESS
     * events); records `localPath` on the message. A failure answers 33210; calling again resumes.
     */
    downloadMediaMessage(messageId: number, options?: { transferId?: string }): Promise<ImResult<{ localPath: string; message: IAReceivedMessage }>>
    /** Stop the uploads and downloads of a local message (number) or one transfer (its id); resolves how many stopped. */
    cancelMediaTransfer(target: number | string): Promise<ImResult<number>>
    recallMessage(conversation: IConversationOption, options: RecallOptions): Promise<ImResult<IAReceivedMessage>>
    /**
     * Remote delete (for the caller only: the server's history, this database, the user's
     * other devices). Served by the Engine's deleteRemoteMessages (js/methods.js RENAMED);
     * electronExtension.deleteMessages stays the local delete by ids.
     */
    deleteMessages(conversation: IConversationOption, messages: Array<{ messageUId: string; sentTime: number; messageDirection: number }>): Promise<ImResult<void>>
    /** Remote delete of the conversation's messages up to `timestamp` (for the caller only). */
    clearHistoryMessages(conversation: IConversationOption, timestamp: number): Promise<ImResult<void>>
    /** Local history (on Electron, getHistoryMessages reads the local database). */
    getHistoryMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage>>
    getRemoteHistoryMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage>>

    /**
     * RongIMLib.getConversationList from the local database: order 0 (default) answers
     * conversations earlier than startTime (0 = now) newest first, order 1 those later than
     * startTime (0 = from the oldest) oldest first; count 1–1000 (default 300). Page on with
     * the last item's latestMessage.sentTime. Called with no argument: every conversation
     * (the vendor's Electron behaviour).
     */
    getConversationList(options?: { count?: number; startTime?: number; order?: 0 | 1; channelId?: string }): Promise<ImResult<IReceivedConversation[]>>
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
    /** The oldest unread message itself, or null. */
    getFirstUnreadMessage(conversation: IConversationOption): Promise<ImResult<IAReceivedMessage | null>>
    /** Unread messages that @ this user, oldest first (at most 100). */
    getUnreadMentionedMessages(conversation: IConversationOption): Promise<ImResult<IAReceivedMessage[]>>
    /** Marks read the received messages sent at or before `timestamp` (local). */
    clearUnreadCountByTimestamp(conversation: IConversationOption, timestamp: number): Promise<ImResult<void>>
    /** Unread total of conversations whose NotificationLevel is in `levels` (empty = any). */
    getTotalUnreadCountByLevels(conversationTypes?: number[], levels?: number[]): Promise<ImResult<number>>
    getTotalUnreadMentionedCountByLevels(conversationTypes?: number[], levels?: number[]): Promise<ImResult<number>>
    /** A stored message by local id, or null. */
    getMessage(messageId: number): Promise<ImResult<IAReceivedMessage | null>>
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

    /** Hosted profiles (need the connection). Only the given fields change. */
    updateMyUserProfile(profile: IUserProfileInfo): Promise<ImResult<void>>
    getMyUserProfile(): Promise<ImResult<IUserProfileInfo>>
    /** 1-20 user ids; users without a profile on the server are left out. */
    getUserProfiles(userIds: string[]): Promise<ImResult<IUserProfileInfo[]>>
    updateMyUserProfileVisibility(visibility: UserProfileVisibilityValue): Promise<ImResult<void>>
    getMyUserProfileVisibility(): Promise<ImResult<UserProfileVisibilityValue>>
    /** `data` is null when nobody has that uniqueId. */
    searchUserProfileByUniqueId(uniqueId: string): Promise<ImResult<IUserProfileInfo | null>>
    /**
     * Online-status subscriptions (need the connection): 1-200 ids per call, expiry 60-2592000
     * s; at most 1000 followed users per type (26022) and 5000 followers per user (26021).
     */
    subscribeUserStatus(userIds: string[], type: SubscribeTypeValue, expiry: number): Promise<ImResult<void>>
    unSubscribeUserStatus(userIds: string[], type: SubscribeTypeValue): Promise<ImResult<void>>
    /** The statuses of the users among `userIds` this user follows. */
    getSubscribeUserStatus(type: SubscribeTypeValue, userIds: string[]): Promise<ImResult<ISubscribeUserStatusInfo[]>>
    /** pageSize 1-200; offset = what the earlier pages returned (oldest subscriptions first). */
    getSubscribeUserList(type: SubscribeTypeValue, pageSize: number, offset?: number): Promise<ImResult<ISubscribeUserStatusInfo[]>>

    /**
     * Chatrooms (need the connection). Room messages arrive through MESSAGES and are never
     * stored locally; `count` is the number of latest messages delivered on join (-1 none,
     * 0 the default 10, at most 50). The engine rejoins its rooms after a reconnect
     * (CHATROOM `rejoinedRoom`); every window shares its rooms.
     */
    joinChatRoom(chatRoomId: string, options?: { count?: number }): Promise<ImResult<IChatroomJoinResponse>>
    /** 23410 when the room does not exist. */
    joinExistChatRoom(chatRoomId: string, options?: { count?: number }): Promise<ImResult<IChatroomJoinResponse>>
    quitChatRoom(chatRoomId: string): Promise<ImResult<void>>
    /** count 0-20 members; order 1 earliest joined first, 2 latest first. */
    getChatRoomInfo(chatRoomId: string, options?: { count?: number; order?: number }): Promise<ImResult<IChatroomInfo>>
    /** count 1-20; order 0 before `timestamp` (0 = now), 1 after it; oldest first. */
    getChatroomHistoryMessages(chatRoomId: string, options?: { timestamp?: number; count?: number; order?: number }): Promise<ImResult<IChatroomHistory>>
    /**
     * Chatroom entries (KV; members only): at most 100 per room, key 1-128 characters of
     * A-Z a-z 0-9 + = - _, value up to 4096 characters, 1-10 per batch (23429). A set or remove
     * of another user's entry needs the force variant (23424); a batch applies whole or not at all.
     */
    setChatRoomEntry(chatRoomId: string, entry: import('./types').IChatroomEntry): Promise<ImResult<void>>
    forceSetChatRoomEntry(chatRoomId: string, entry: import('./types').IChatroomEntry): Promise<ImResult<void>>
    setChatRoomEntries(chatRoomId: string, options: { entries: Array<{ key: string; value: string }>; isAutoDelete?: boolean; isForce?: boolean }): Promise<ImResult<void>>
    /** 36004 when the room has no such key. */
    getChatRoomEntry(chatRoomId: string, key: string): Promise<ImResult<string>>
    getAllChatRoomEntries(chatRoomId: string): Promise<ImResult<Record<string, string>>>
    removeChatRoomEntry(chatRoomId: string, entry: import('./types').IRemoveChatroomEntry): Promise<ImResult<void>>
    forceRemoveChatRoomEntry(chatRoomId: string, entry: import('./types').IRemoveChatroomEntry): Promise<ImResult<void>>
    removeChatRoomEntries(chatRoomId: string, options: { entries: string[] }): Promise<ImResult<void>>

    readonly electronExtension: ElectronExtension

    readonly ConversationType: {
      readonly PRIVATE: 1
      readonly DISCUSSION: 2
      readonly GROUP: 3
      readonly CHATROOM: 4
      readonly CUSTOMER_SERVICE: 5
      readonly SYSTEM: 6
      readonly APP_PUBLIC_SERVICE: 7
      readonly PUBLIC_SERVICE: 8
      readonly ULTRA_GROUP: 10
      readonly RTC_ROOM: 12
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
    readonly UserProfileVisibility: { readonly NOT_SET: 0; readonly INVISIBLE: 1; readonly EVERYONE: 2 }
    readonly UserGender: { readonly UNKNOWN: 0; readonly MALE: 1; readonly FEMALE: 2 }
    readonly SubscribeType: { readonly ONLINE_STATUS: 1; readonly USER_PROFILE: 2 }
    readonly SubscribeOperationType: { readonly SUBSCRIBE: 0; readonly UNSUBSCRIBE: 1 }
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
