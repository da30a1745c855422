js/native-header.d.ts
/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/** The native engine: one user's local database and, once connected, its sync session. */
export declare class Engine {
  /**
   * Creates the engine. Throws (with `code` 33003 on the error) only for invalid
   * options, since a constructor has no result envelope.
   */
  constructor(options: EngineOptions)
  /** The user whose database is open, or null. */
  get userId(): string | null
  /** r" Opens (creating if needed) the user's local database; no network. */
  open(userId: string): Promise<ImResult<void>>
  /** r" Closes the database after queued work finishes; idempotent. */
  close(): Promise<ImResult<void>>
  registerMessageType(messageType: string, isPersisted: boolean, isCounted: boolean, searchProps?: string[], isStatusMessage?: boolean): Promise<ImResult<void>>
  getHistoryMessages(conversation: IConversationOption, options?: GetHistoryMessageOption): Promise<ImResult<HistoryPage>>
  getHistoryMessagesByMessageTypes(conversation: IConversationOption, options: IGetHistoryMessagesByTypesOption): Promise<ImResult<HistoryPage>>
  getMessagesAroundTimestamp(conversation: IConversationOption, options: IGetMessagesAroundTimestampOption): Promise<ImResult<IAReceivedMessage[]>>
  getMessageCount(conversation: IConversationOption): Promise<ImResult<number>>
  insertMessage(conversation: IConversationOption, message: InsertMessageInput, options?: IInsertOptions): Promise<ImResult<IAReceivedMessage>>
  batchInsertMessage(messages: InsertMessage[], checkDuplicate?: boolean): Promise<ImResult<BatchInsertResult>>
  deleteMessages(messageIds: number[]): Promise<ImResult<void>>
  clearMessages(conversation: IConversationOption): Promise<ImResult<void>>
  deleteMessagesByTimestamp(conversation: IConversationOption, timestamp: number, cleanSpace?: boolean): Promise<ImResult<void>>
  searchMessages(conversation: IConversationOption, keyword: string, startTime: number, count: number, messageTypes?: string[]): Promise<ImResult<SearchResult>>
  searchMessageInTimeRange(conversation: IConversationOption, option: ISearchMessageInTimeRangeOption): Promise<ImResult<SearchResult>>
  searchMessagesByUser(conversation: IConversationOption, userId: string, startTime: number, count: number): Promise<ImResult<SearchResult>>
  searchConversationByContent(keyword: string, messageTypes: string[], channelId?: string): Promise<ImResult<IReceivedConversation[]>>
  getAllConversationList(channelId?: string): Promise<ImResult<IReceivedConversation[]>>
  getConversationList(startTime: number, count: number, channelId?: string, topPriority?: boolean): Promise<ImResult<IReceivedConversation[]>>
  getConversations(conversations: IConversationOption[]): Promise<ImResult<IReceivedConversation[]>>
  setMessageReceivedStatusInfo(messageId: number, receivedStatusInfo: IReceivedStatusInfo): Promise<ImResult<void>>
  setMessageReceivedStatus(messageId: number, receivedStatus: number): Promise<ImResult<void>>
  setMessageSentStatus(messageId: number, sentStatus: number): Promise<ImResult<void>>
  setMessageStatusToRead(conversation: IConversationOption, timestamp: number): Promise<ImResult<void>>
  setCheckDuplicateMessage(enableCheck: boolean): Promise<ImResult<void>>
}
