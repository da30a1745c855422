// Compile-only check (`npx tsc -p tsconfig.json`) of the issue-11 calls in js/renderer.d.ts:
// a vendor-style plugin (the seed's RCTranslate usage shape), the typed senders and the
// top-level getConversationList as an IMLib 5.x app writes them.
import RongIMLib = require('../../js/renderer')

class TranslateClient {
  constructor(private readonly context: RongIMLib.PluginContext, private readonly key: string) {}
  isSupport(): boolean {
    return this.context.getConnectionStatus() === 0 && this.key !== ''
  }
}

const installer: RongIMLib.IPluginGenerator<TranslateClient, { key: string }> = {
  tag: 'RCTranslate',
  verify: (runtime) => runtime.tag === 'electron' && runtime.isSupportSocket(),
  setup(context, _runtime, options) {
    context.onmessage = (message) => {
      const uid: string = message.messageUId
      void uid
    }
    context.onconnectionstatuschange = (status) => {
      const s: number = status
      void s
    }
    context.ondisconnect = (code) => void code
    const off = context.addEventListener(RongIMLib.Events.OFFLINE_SYNC_PROGRESS, (p) => {
      const done: boolean = p.pulled >= p.total
      void done
    })
    off()
    return new TranslateClient(context, options ? options.key : '')
  },
}

export async function dropinExamples(): Promise<void> {
  const client: TranslateClient | null = RongIMLib.installPlugin(installer, { key: 'k' })
  if (client) void client.isSupport()
  RongIMLib.installPlugin({
    tag: 'apm',
    verify: () => true,
    async setup(context) {
      const os = await context.getOSInfo()
      const proc = await context.getProcessInfo()
      const main = await context.getMainProcessInfo()
      if (os && proc && main) console.log(os.platform, proc.pid, main.versions.electron)
      const sent = await context.sendMessage(1, 'bob', { messageType: 'RC:TxtMsg', content: { content: 'hi' } })
      void sent
    },
  })
  const conversation = { conversationType: RongIMLib.ConversationType.PRIVATE, targetId: 'bob' }
  const r = await RongIMLib.sendTextMessage(conversation, { content: 'hello' }, { onSendBefore: (m) => console.log(m.messageId) })
  if (r.code === 0 && r.data) console.log(r.data.messageUId)
  const file = new Blob(['png bytes'], { type: 'image/png' })
  const image = await RongIMLib.sendImageMessage(conversation, { file }, { onProgress: (p) => console.log(p), onComplete: (info) => console.log(info.url) }, { contentDisposition: 'inline' })
  if (image.code === 0 && image.data) console.log(image.data.content.imageUri)
  const page = await RongIMLib.getConversationList({ count: 10, startTime: 0, order: 0 })
  if (page.code === 0 && page.data) console.log(page.data.map((c) => c.latestMessage))
  await RongIMLib.getConversationList()
  await RongIMLib.deleteMessages(conversation, [{ messageUId: 'U', sentTime: 1, messageDirection: RongIMLib.MessageDirection.SEND }])
  await RongIMLib.clearHistoryMessages(conversation, Date.now())
  const types: number[] = [RongIMLib.ConversationType.APP_PUBLIC_SERVICE, RongIMLib.ConversationType.PUBLIC_SERVICE]
  void types
  RongIMLib.addEventListener(RongIMLib.Events.PRIVATE_MESSAGE_DELIVERED, (e) => console.log(e))
  RongIMLib.addEventListener(RongIMLib.Events.GROUP_MESSAGE_DELIVERED, (e) => console.log(e))
}
