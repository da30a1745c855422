// Compile-only check of js/main.d.ts and js/renderer.d.ts (`npx tsc -p tsconfig.json`):
// the vendor's Electron examples and the main-process setup type-check against them.
import RongIMLib = require('../../js/renderer')
import init = require('../../js/main')

export async function rendererExamples(): Promise<void> {
  await RongIMLib.init({ appkey: '<Your-App-Key>' })
  const Events = RongIMLib.Events
  const off = RongIMLib.addEventListener(Events.MESSAGES, (evt) => {
    const first: string | undefined = evt.messages[0]?.messageUId
    void first
  })
  RongIMLib.addListener(Events.DISCONNECT, (code) => {
    const n: number = code
    void n
  })
  off()
  const listener = (evt: { messages: RongIMLib.IAReceivedMessage[] }) => console.log(evt.messages)
  RongIMLib.addEventListener(Events.MESSAGES, listener)
  RongIMLib.removeEventListener(Events.MESSAGES, listener)
  RongIMLib.removeEventListeners(Events.MESSAGES)

  const conversation = { conversationType: RongIMLib.ConversationType.PRIVATE, targetId: '<目标用户Id>' }
  const res = await RongIMLib.getHistoryMessages(conversation, { timestamp: 0, count: 20, order: 0 })
  if (res.code === 0 && res.data) console.log(res.data.list, res.data.hasMore)
  const inserted = await RongIMLib.electronExtension.insertMessage(conversation, {
    senderUserId: '<userId>',
    messageType: RongIMLib.MessageType.TEXT,
    content: { content: '插入一条消息' },
    messageDirection: RongIMLib.MessageDirection.SEND,
  })
  if (inserted.code === RongIMLib.ErrorCode.SUCCESS && inserted.data) {
    const id: number = inserted.data.messageId
    await RongIMLib.electronExtension.setMessageReceivedStatus(id, RongIMLib.ReceivedStatus.READ)
    await RongIMLib.electronExtension.setMessageSentStatus(id, RongIMLib.SentStatus.SENT)
    await RongIMLib.electronExtension.deleteMessages([id])
  }
  await RongIMLib.electronExtension.insertMessage(conversation, new RongIMLib.TextMessage({ content: 'hi' }))
  const found = await RongIMLib.electronExtension.searchMessages({ ...conversation, channelId: '' }, '搜索关键字', Date.now(), 10)
  if (found.data) console.log(found.data.count, found.data.messages.length)
  const PersonMessage = RongIMLib.registerMessageType<{ name: string; age: number }>('s:person', true, true, [], false)
  await RongIMLib.sendMessage(conversation, new PersonMessage({ name: 'a', age: 1 }), {
    isMentioned: false,
    onSendBefore: (message) => console.log(message.messageId),
  })
  const list = await RongIMLib.electronExtension.getConversationList(0, 10)
  if (list.data) console.log(list.data.map((c) => c.targetId))
  const connected = await RongIMLib.connect('<Your-Token>')
  if (connected.code === RongIMLib.ErrorCode.SUCCESS && connected.data) console.log(connected.data.userId)
  const status: 0 | 1 | 2 | 3 | 4 | 6 | 9 | 12 = RongIMLib.getConnectionStatus()
  if (status === RongIMLib.ConnectionStatus.CONNECTED) console.log('connected')
  const fetched = await RongIMLib.getConnectionStatusAsync()
  if (fetched.code === 0 && fetched.data !== undefined) console.log(fetched.data)
  const now: number = RongIMLib.getServerTime()
  void now
  await RongIMLib.destroy()
  RongIMLib.initContextBridge()
  RongIMLib.initContextBridge('imsync')
}

export function mainProcess(app: { on(event: string, fn: (...a: any[]) => void): void }): void {
  const service = init({ appkey: '<appkey>', dbpath: '/tmp/x', logOutputLevel: 2, enableSyncEmptyTopConversation: false })
  const same: init.ImsyncService = init.init({ appkey: 'k', windows: 'manual', validateSender: (e) => !!e.senderFrame && e.senderFrame.url.startsWith('app://') })
  same.addWindow({ webContents: { id: 1, send() {} } })
  const m: init.MethodName = init.METHODS[0]
  void service.call(m, [])
  void service.open('alice')
  const engine: init.Engine = service.engine
  void engine.userId
  const status: number = service.connectionStatus
  const serverNow: number = service.getServerTime() + 0 * service.serverTimeOffset + 0 * status
  void serverNow
  const stateChannel: 'imsync:state' = init.CHANNELS.state
  void stateChannel
  app.on('before-quit', () => {
    void service.destroy()
  })
}
