'use strict'
// The Electron bridge across a real process boundary (ARCHITECTURE.md §2, §4, §8): the
// imsync service (js/main.js) runs in this process with the test `electron` stand-in; each
// window is a child process (fork, serialization: 'advanced') running the sandboxed,
// context-isolated preload (js/renderer.js bundled), and page code runs in the page world
// with only `window.imsync`. The engine is the real addon with a real SQLite file; a spy
// records what the Engine itself resolved, so results are compared with it exactly.

const test = require('node:test')
const assert = require('node:assert/strict')

const h = require('./electron/harness')
const { Engine, electron } = h

const mainModule = require('imsync')
const rendererApi = require('imsync/renderer') // outside a renderer: enums and shape only

/** Main-process-only Engine calls: the database key and recovery (no window may reach them). */
const MAIN_ONLY = ['rekey', 'encryptDatabase', 'recoverDatabase']

/** Engine methods a renderer reaches (everything but lifecycle, the event hook and MAIN_ONLY). */
function engineApiMethods() {
  return Object.getOwnPropertyNames(Engine.prototype).filter((n) => {
    if (['constructor', 'close', 'onEvent', ...MAIN_ONLY].includes(n)) return false
    const d = Object.getOwnPropertyDescriptor(Engine.prototype, n)
    return typeof d.value === 'function'
  })
}

/** The local (no network) calls: electronExtension.*, getHistoryMessages, open, registerMessageType. */
function localEngineMethods() {
  const local = new Set([...mainModule.EXTENSION_METHODS, 'getHistoryMessages', 'open', 'registerMessageType'])
  return engineApiMethods().filter((m) => local.has(m))
}

test('the renderer API carries the vendor enums with the exact values of ARCHITECTURE.md §4', () => {
  const api = rendererApi
  assert.deepEqual({ ...api.ConversationType }, {
    PRIVATE: 1,
    DISCUSSION: 2,
    GROUP: 3,
    CHATROOM: 4,
    CUSTOMER_SERVICE: 5,
    SYSTEM: 6,
    // issue 11: the vendor's public-service types and the RTC room (seed changelog).
    APP_PUBLIC_SERVICE: 7,
    PUBLIC_SERVICE: 8,
    ULTRA_GROUP: 10,
    RTC_ROOM: 12,
  })
  assert.deepEqual({ ...api.MessageDirection }, { SEND: 1, RECEIVE: 2 })
  assert.deepEqual({ ...api.SentStatus }, { SENDING: 10, FAILED: 20, SENT: 30, RECEIVED: 40, READ: 50, DESTROYED: 60, CANCELED: 70 })
  assert.deepEqual({ ...api.ReceivedStatus }, { UNREAD: 0, READ: 1, LISTENED: 2, DOWNLOADED: 4, RETRIEVED: 8, MULTIPLE_RECEIVE: 16 })
  assert.deepEqual({ ...api.NotificationLevel }, {
    ALL_MESSAGE: -1,
    NOT_SET: 0,
    AT_MESSAGE_NOTIFICATION: 1,
    AT_USER_NOTIFICATION: 2,
    AT_GROUP_ALL_USER_NOTIFICATION: 4,
    NOT_MESSAGE_NOTIFICATION: 5,
  })
  const objectNames = ['RC:TxtMsg', 'RC:ImgMsg', 'RC:FileMsg', 'RC:HQVCMsg', 'RC:SightMsg', 'RC:GIFMsg', 'RC:ReferenceMsg', 'RC:LBSMsg', 'RC:ImgTextMsg', 'RC:InfoNtf', 'RC:CmdMsg', 'RC:GrpNtf', 'RC:TypSts', 'RC:RcNtf', 'RC:SRSMsg', 'RC:ReadNtf']
  assert.deepEqual(Object.values(api.MessageType).sort(), [...objectNames].sort())
  assert.equal(api.MessageType.TEXT, 'RC:TxtMsg')
  // ErrorCode: the seed's table (the codes imsync itself resolves among them).
  for (const [k, v] of Object.entries({
    SUCCESS: 0,
    TIMEOUT: -1,
    REJECTED_BY_BLACKLIST: 405,
    RC_DISCONN_KICK: 31010,
    RC_DISCONN_SAME_CLIENT_ON_LINE: 31023,
    RC_CONN_TOKEN_INCORRECT: 31004,
    BIZ_ERROR_CLIENT_NOT_INIT: 33001,
    BIZ_ERROR_DATABASE_ERROR: 33002,
    BIZ_ERROR_INVALID_PARAMETER: 33003,
    MESSAGE_NOT_REGISTERED: 34021,
    CONVERSATION_TYPE_NOT_SUPPORT: 34201,
    NOT_SUPPORT: 35004,
    MAIN_PROCESS_ERROR: 35005,
    SEARCH_PROPS_LIMIT_ERROR: 35022,
  })) {
    assert.equal(api.ErrorCode[k], v, `ErrorCode.${k}`)
  }
  for (const v of Object.values(api.ErrorCode)) assert.equal(typeof v, 'number')
  // Events: value === name (the names the Engine emits).
  for (const [k, v] of Object.entries(api.Events)) assert.equal(v, k)
  for (const n of ['CONNECTING', 'CONNECTED', 'DISCONNECT', 'SUSPEND', 'MESSAGES', 'READ_RECEIPT_RECEIVED', 'CONVERSATION', 'EXPANSION', 'PULL_OFFLINE_MESSAGE_FINISHED', 'TAG', 'CONVERSATION_TAG', 'TYPING_STATUS']) {
    assert.equal(api.Events[n], n)
  }
})

test('the allow-list of the main process and the methods the renderer forwards are the same list', () => {
  const { top, electronExtension } = rendererApi.__imsyncMethods
  assert.deepEqual([...top], [...mainModule.IMLIB_METHODS])
  assert.deepEqual([...electronExtension], [...mainModule.EXTENSION_METHODS])
  assert.deepEqual([...mainModule.METHODS].sort(), [...top, ...electronExtension].sort())
  assert.equal(new Set(mainModule.METHODS).size, mainModule.METHODS.length, 'no duplicates')
  for (const m of top) assert.equal(typeof rendererApi[m], 'function', m)
  for (const m of electronExtension) assert.equal(typeof rendererApi.electronExtension[m], 'function', m)
  // Every method of the native Engine a renderer may use is allow-listed; lifecycle is not.
  for (const m of engineApiMethods()) assert.ok(mainModule.METHODS.includes(m), `${m} allow-listed`)
  for (const m of MAIN_ONLY) assert.equal(typeof Engine.prototype[m], 'function', `${m} is on the Engine`)
  for (const m of ['close', 'constructor', 'onEvent', '__proto__', 'init', 'addEventListener', ...MAIN_ONLY]) {
    assert.ok(!mainModule.METHODS.includes(m), `${m} not allow-listed`)
  }
  // The module's default export is init, like the vendor's RCInit.
  assert.equal(typeof mainModule, 'function')
  assert.equal(mainModule.init, mainModule)
  assert.equal(mainModule.Engine, Engine)
})

test('every local API method called through the bridge resolves exactly what the Engine resolved', async (t) => {
  const { service, spy } = h.startService(t)
  const win = await h.openWindow()
  const before = spy.calls.length
  const out = await h.page(
    win,
    `
    const im = imsync
    const E = im.electronExtension
    const bob = { conversationType: im.ConversationType.PRIVATE, targetId: 'bob' }
    const carol = { conversationType: im.ConversationType.PRIVATE, targetId: 'carol' }
    const grp = { conversationType: im.ConversationType.GROUP, targetId: 'g1', channelId: '' }
    const T0 = 1700000000000
    const out = []
    const rec = async (method, p) => {
      const result = await p
      out.push({ method, result })
      return result
    }
    await rec('open', im.open('alice'))
    const Card = im.registerMessageType('app:card', true, true, ['title'], false)
    await rec('setCheckDuplicateMessage', E.setCheckDuplicateMessage(true))
    const m1 = (await rec('insertMessage', E.insertMessage(bob, { senderUserId: 'bob', messageType: im.MessageType.TEXT, content: { content: '你好 alice' }, messageDirection: im.MessageDirection.RECEIVE, sentTime: T0 + 1000 }, { isUnread: true }))).data
    const m2 = (await rec('insertMessage', E.insertMessage(bob, new im.TextMessage({ content: 'hello bob' })))).data
    const m3 = (await rec('insertMessage', E.insertMessage(bob, { messageType: im.MessageType.FILE, content: { name: 'report.pdf', size: 10, type: 'pdf', fileUrl: 'https://files.example/r.pdf' }, sentTime: T0 + 2000 }))).data
    await rec('insertMessage', E.insertMessage(grp, new Card({ title: 'Quarterly card', body: 'numbers' })))
    await rec('batchInsertMessage', E.batchInsertMessage([
      { ...grp, senderUserId: 'dave', messageType: 'RC:TxtMsg', content: { content: 'group one' }, messageDirection: 2, sentTime: T0 + 1000, messageId: 'u-1' },
      { ...grp, senderUserId: 'erin', messageType: 'RC:TxtMsg', content: { content: 'group two' }, messageDirection: 2, sentTime: T0 + 3000, messageId: 'u-2' },
      { ...carol, senderUserId: 'carol', messageType: 'RC:TxtMsg', content: { content: 'hello from carol' }, messageDirection: 2, sentTime: T0 + 500, messageId: 'u-3' },
    ], false))
    await rec('getHistoryMessages', im.getHistoryMessages(bob, { timestamp: 0, count: 20, order: 0 }))
    await rec('getHistoryMessagesByMessageTypes', E.getHistoryMessagesByMessageTypes(bob, { timestamp: 0, count: 20, order: 0, messageTypes: ['RC:FileMsg'] }))
    // Not connected: the local part answers, with the paging timestamp.
    await rec('getContinuousMessages', E.getContinuousMessages(bob, { timestamp: 0, count: 20, order: 0 }))
    await rec('getMessagesAroundTimestamp', E.getMessagesAroundTimestamp(bob, { timestamp: T0 + 1000, beforeCount: 5, afterCount: 5 }))
    await rec('getMessageCount', E.getMessageCount(bob))
    await rec('searchMessages', E.searchMessages(bob, 'hello', 0, 10))
    await rec('searchMessages', E.searchMessages(grp, 'Quarterly', 0, 10, ['app:card']))
    await rec('searchMessageInTimeRange', E.searchMessageInTimeRange(bob, { keyword: 'alice', startTime: 0, endTime: T0 + 5000, offset: 0, limit: 5 }))
    await rec('searchMessagesByUser', E.searchMessagesByUser(grp, 'erin', 0, 10))
    await rec('searchConversationByContent', E.searchConversationByContent('hello', ['RC:TxtMsg']))
    await rec('getAllConversationList', E.getAllConversationList())
    await rec('getConversationList', E.getConversationList(0, 10, undefined, true))
    await rec('getConversations', E.getConversations([bob, grp]))
    await rec('setMessageReceivedStatusInfo', E.setMessageReceivedStatusInfo(m1.messageId, { isRead: true, isListened: true }))
    await rec('setMessageReceivedStatus', E.setMessageReceivedStatus(m1.messageId, im.ReceivedStatus.READ))
    await rec('setMessageSentStatus', E.setMessageSentStatus(m2.messageId, im.SentStatus.FAILED))
    await rec('setMessageStatusToRead', E.setMessageStatusToRead(bob, T0 + 3000))
    await rec('setMessageContent', E.setMessageContent(m2.messageId, { content: 'hello bob, edited' }, im.MessageType.TEXT))
    await rec('getHistoryMessages', im.getHistoryMessages(bob))
    await rec('deleteMessages', E.deleteMessages([m3.messageId]))
    await rec('deleteMessagesByTimestamp', E.deleteMessagesByTimestamp(grp, T0 + 1500, false))
    await rec('clearMessages', E.clearMessages(carol))
    await rec('getHistoryMessages', im.getHistoryMessages(bob, { count: 0 }))
    await rec('searchMessages', E.searchMessages(bob, 42, 0, 10))
    await rec('getAllConversationList', E.getAllConversationList())
    return { out, m1: m1.messageId }
  `,
  )
  const bridged = spy.calls.slice(before)
  // registerMessageType resolves nothing visible to the page; it reached the engine first.
  assert.equal(bridged[1].method, 'registerMessageType')
  assert.deepEqual(bridged[1].args, ['app:card', true, true, ['title'], false])
  assert.equal(bridged[1].result.code, 0)
  const visible = bridged.filter((c) => c.method !== 'registerMessageType')
  assert.equal(visible.length, out.out.length)
  for (let i = 0; i < visible.length; i++) {
    assert.equal(visible[i].method, out.out[i].method, `call ${i}`)
    assert.ok(visible[i].settled)
    // What the page got is exactly what the Engine resolved (after structured clone).
    assert.deepStrictEqual(out.out[i].result, visible[i].result, `call ${i} (${visible[i].method})`)
  }
  // Sanity of the scenario itself: successes where expected, and the Engine's own refusals.
  const codes = out.out.map((r) => r.result.code)
  assert.deepEqual(codes.slice(0, -3), codes.slice(0, -3).map(() => 0), JSON.stringify(out.out.filter((r) => r.result.code)))
  assert.equal(out.out.at(-3).result.code, 33003)
  assert.equal(out.out.at(-2).result.code, 33003)
  assert.match(out.out.at(-3).result.msg, /count/)
  const card = out.out.find((r, i) => i > 10 && r.method === 'searchMessages').result.data
  assert.equal(card.count, 1, 'the custom type is searchable by its registered searchProps')
  // Every local Engine method was reached through the bridge at least once.
  const reached = new Set(bridged.map((c) => c.method))
  assert.ok(localEngineMethods().length >= 23, String(localEngineMethods()))
  for (const m of localEngineMethods()) assert.ok(reached.has(m), `${m} was called through the bridge`)
  // A read-only call through the bridge and the same call on the Engine directly agree.
  const reads = await h.page(
    win,
    `
    const E = imsync.electronExtension
    const bob = { conversationType: 1, targetId: 'bob' }
    return [
      await imsync.getHistoryMessages(bob, { count: 50 }),
      await E.getAllConversationList(),
      await E.getConversationList(0, 100),
      await E.searchMessages(bob, 'a', 0, 100),
      await E.getMessageCount(bob),
      await E.getMessagesAroundTimestamp(bob, { timestamp: 0, beforeCount: 10, afterCount: 0 }),
      await E.searchConversationByContent('o', ['RC:TxtMsg']),
    ]
  `,
  )
  const c = { conversationType: 1, targetId: 'bob' }
  const direct = [
    await Engine.prototype.getHistoryMessages.call(service.engine, c, { count: 50 }),
    await Engine.prototype.getAllConversationList.call(service.engine),
    await Engine.prototype.getConversationList.call(service.engine, 0, 100),
    await Engine.prototype.searchMessages.call(service.engine, c, 'a', 0, 100),
    await Engine.prototype.getMessageCount.call(service.engine, c),
    await Engine.prototype.getMessagesAroundTimestamp.call(service.engine, c, { timestamp: 0, beforeCount: 10, afterCount: 0 }),
    await Engine.prototype.searchConversationByContent.call(service.engine, 'o', ['RC:TxtMsg']),
  ]
  assert.deepStrictEqual(reads, JSON.parse(JSON.stringify(direct)))
  assert.deepStrictEqual(reads, direct)
})

test('a method the Engine does not have resolves 35004 "not supported yet: <name>" without touching it', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const ext = new Set(mainModule.EXTENSION_METHODS)
  const missing = mainModule.METHODS.filter((m) => typeof Engine.prototype[m] !== 'function')
  // Shadow one that exists too, so the path is covered whatever the Engine has grown.
  service.engine.getTags = undefined
  service.engine.getMessageCount = undefined
  const names = [...new Set([...missing, 'getTags', 'getMessageCount'])]
  const before = spy.calls.length
  const results = await h.page(
    win,
    `
    const names = ${JSON.stringify(names)}
    const ext = ${JSON.stringify([...ext])}
    const out = {}
    for (const n of names) out[n] = await (ext.includes(n) ? imsync.electronExtension[n] : imsync[n])()
    return out
  `,
  )
  for (const n of names) {
    assert.deepEqual(results[n], { code: 35004, msg: `not supported yet: ${n}` }, n)
  }
  assert.equal(spy.calls.length, before, 'nothing reached the engine')
})

test('a throw or rejection inside the main process resolves 35005; a bare value becomes an envelope', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  service.engine.getMessageCount = () => {
    throw new Error('boom in main')
  }
  service.engine.getAllConversationList = () => Promise.reject(new Error('rejected in main'))
  service.engine.getConversations = () => Promise.resolve([1, 2])
  const r = await h.page(
    win,
    `
    const E = imsync.electronExtension
    return [await E.getMessageCount({ conversationType: 1, targetId: 'x' }), await E.getAllConversationList(), await E.getConversations([])]
  `,
  )
  assert.equal(r[0].code, 35005)
  assert.match(r[0].msg, /getMessageCount.*boom in main/)
  assert.equal(r[1].code, 35005)
  assert.match(r[1].msg, /rejected in main/)
  assert.deepEqual(r[2], { code: 0, data: [1, 2] })
})

test('arguments that cannot cross the process boundary resolve 33003 in the renderer; nothing reaches the engine', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const before = spy.calls.length
  const r = await h.page(
    win,
    `
    const c = { conversationType: 1, targetId: 'bob' }
    return await imsync.electronExtension.insertMessage(c, { messageType: 'RC:TxtMsg', content: { content: 'x' }, onSendBefore: () => 1 })
  `,
  )
  assert.equal(r.code, 33003)
  assert.match(r.msg, /insertMessage/)
  assert.equal(spy.calls.length, before)
})

test('registerMessageType returns a message class at once and registers the type before later calls', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const r = await h.page(
    win,
    `
    const c = { conversationType: 1, targetId: 'zed' }
    const PersonMessage = imsync.registerMessageType('s:person', true, true, ['name'], false)
    const a = new PersonMessage({ name: 'Ann Lee', age: 18 })
    const b = PersonMessage({ name: 'Bo', age: 3 })
    // No await between the registration and the insert: the insert waits for it.
    const inserted = await imsync.electronExtension.insertMessage(c, a)
    const found = await imsync.electronExtension.searchMessages(c, 'ann', 0, 10)
    const Status = imsync.registerMessageType('s:status', false, false, [], true)
    const bad = imsync.registerMessageType('RC:Nope', true, true, [], false)
    const after = await imsync.electronExtension.getMessageCount(c)
    return { a, b, inserted, found, status: new Status({}), bad: new bad({ x: 1 }), after }
  `,
  )
  assert.deepEqual(r.a, { messageType: 's:person', content: { name: 'Ann Lee', age: 18 }, isPersisted: true, isCounted: true, isStatusMessage: false })
  assert.equal(r.b.messageType, 's:person')
  assert.equal(r.inserted.code, 0, JSON.stringify(r.inserted))
  assert.equal(r.inserted.data.messageType, 's:person')
  assert.equal(r.found.data.count, 1)
  assert.deepEqual(r.status, { messageType: 's:status', content: {}, isPersisted: false, isCounted: false, isStatusMessage: true })
  const order = spy.calls.map((c) => c.method)
  assert.ok(order.indexOf('registerMessageType') < order.indexOf('insertMessage'))
  // The refused registration ('RC:' prefix) is reported in the renderer's console.
  const reg = spy.calls.filter((c) => c.method === 'registerMessageType')
  assert.equal(reg.length, 3)
  assert.notEqual(reg[2].result.code, 0)
  await win.webContents.__waitForConsole((e) => e.level === 'error' && /registerMessageType\("RC:Nope"\) failed/.test(e.text))
})

test('calls made before init() wait for the main process; calls during an open wait for the open', async (t) => {
  const invoked = (method) =>
    h.waitForEvent(electron.__probe, 'invoke', (wc, ch, args) => ch === 'imsync:call' && args[0] === method)
  // The window (and its call) come before the service exists.
  t.after(() => electron.__reset())
  const win = await h.openWindow()
  let reached = invoked('getAllConversationList')
  await h.page(
    win,
    `
    globalThis.early = { settled: false }
    globalThis.early.p = imsync.electronExtension.getAllConversationList().then((r) => { globalThis.early.settled = true; return r })
  `,
  )
  // The call reached the main process and could not be answered: no handler yet.
  await reached
  assert.equal(await h.page(win, 'return globalThis.early.settled'), false)

  const gate = h.deferred()
  reached = invoked('getAllConversationList')
  const { service, spy } = h.startService(t)
  spy.gates.open = gate.promise
  const opened = service.open('alice')
  // The early call is retried now (init sent 'imsync:ready') and waits for the open; so
  // does a later one.
  await reached
  reached = invoked('getMessageCount')
  await h.page(win, `globalThis.later = imsync.electronExtension.getMessageCount({ conversationType: 1, targetId: 'x' })`)
  await reached
  assert.deepEqual(
    spy.calls.map((c) => c.method),
    ['open'],
    'nothing else reached the engine while open was in flight',
  )
  gate.resolve()
  assert.equal((await opened).code, 0)
  const [early, later] = await h.page(win, 'return [await globalThis.early.p, await globalThis.later]')
  assert.deepEqual(early, { code: 0, data: [] })
  assert.deepEqual(later, { code: 0, data: 0 })
  assert.deepEqual(spy.calls.map((c) => c.method).sort(), ['getAllConversationList', 'getMessageCount', 'open'])
})

test('init(): dbpath defaults to app.getPath("userData"); invalid options throw 33003', async (t) => {
  const dir = h.tmpDir('userdata')
  electron.app.setPath('userData', dir)
  const init = require('imsync')
  const service = init({ appkey: h.APPKEY, logOutputLevel: 1 })
  t.after(async () => {
    await service.destroy()
    await electron.__reset()
  })
  assert.equal((await service.open('alice')).code, 0)
  // One service per app: a second init() while this one lives is refused, this one unharmed.
  assert.throws(() => init({ appkey: h.APPKEY, dbpath: dir }), /already registered: one service per app/)
  assert.deepEqual(await service.call('getAllConversationList'), { code: 0, data: [] })
  const fs = require('node:fs')
  const files = fs.readdirSync(dir, { recursive: true }).map(String)
  assert.ok(files.some((f) => f.endsWith('alice.db')), `database under userData: ${files}`)
  await service.destroy()
  for (const bad of [undefined, null, 'key', {}, { appkey: '' }, { appkey: h.APPKEY, windows: 'all' }, { appkey: h.APPKEY, validateSender: 1 }]) {
    assert.throws(
      () => init(bad),
      (e) => {
        assert.ok(/33003|options/.test(String(e.message)) || e.code === 33003, e.message)
        return true
      },
      JSON.stringify(bad),
    )
  }
  assert.deepEqual(electron.ipcMain.__handlerChannels, [], 'a failed init registers nothing')
})

test('during a connect that waits for the server, local calls go on; its real events reach the window; destroy() ends it', async (t) => {
  // A server that accepts TCP connections and never answers: connect opens the database,
  // emits CONNECTING, and waits.
  const net = require('node:net')
  const sockets = new Set()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const { service, spy } = h.startService(t, { serverUrl: `http://127.0.0.1:${server.address().port}` })
  const win = await h.openWindow()
  await h.page(
    win,
    `
    globalThis.sawConnecting = new Promise((resolve) => imsync.onceEventListener(imsync.Events.CONNECTING, (p) => resolve(['CONNECTING', p])))
    globalThis.connecting = imsync.connect('t1.616c696365.0.abcd')
    globalThis.connectDone = false
    connecting.then(() => { connectDone = true })
  `,
  )
  const local = await h.page(win, `return await imsync.electronExtension.getAllConversationList()`)
  assert.deepEqual(local, { code: 0, data: [] }, 'the local call was served while connect waits for the server')
  assert.equal(await h.page(win, 'return connectDone'), false)
  assert.equal(service.engine.userId, 'alice')
  const status = await h.page(win, `return await imsync.getConnectionStatusAsync()`)
  assert.deepEqual(status, { code: 0, data: rendererApi.ConnectionStatus.CONNECTING })
  assert.equal(await h.page(win, 'return imsync.getConnectionStatus()'), rendererApi.ConnectionStatus.CONNECTING, 'synchronous, as in RongIMLib')
  // The engine's own CONNECTING event (its real onEvent) reached the window.
  assert.deepEqual(await h.page(win, 'return await sawConnecting', 10000), ['CONNECTING', null])
  // destroy(): disconnect first, so the pending connect resolves with its own result.
  await service.destroy()
  const connected = await h.page(win, 'return await connecting')
  assert.notEqual(connected.code, 0)
  assert.equal(spy.calls.find((c) => c.method === 'connect').result.code, connected.code)
  assert.equal(service.engine.userId, null)
})

test('sendMessage with onSendBefore: the callback gets the stored message (its messageId), which is sent once', async (t) => {
  const { service, spy } = h.startService(t, { serverUrl: 'http://127.0.0.1:1' })
  await service.open('alice')
  for (const webPreferences of [{}, { __imsyncTestNoExecuteInMainWorld: true }]) {
    const win = await h.openWindow({ webPreferences })
    const r = await h.page(
      win,
      `
      const c = { conversationType: imsync.ConversationType.PRIVATE, targetId: 'bob' }
      const before = []
      const result = await imsync.sendMessage(c, new imsync.TextMessage({ content: 'hi bob' }), {
        onSendBefore: (message) => before.push(message),
      })
      const plain = await imsync.sendMessage(c, new imsync.TextMessage({ content: 'no hook' }))
      const history = await imsync.getHistoryMessages(c, { count: 10 })
      await imsync.electronExtension.clearMessages(c)
      return { before, result, plain, history }
    `,
    )
    // Not connected: the Engine's own failure, with the message it stored (FAILED).
    assert.notEqual(r.result.code, 0)
    assert.equal(r.before.length, 1)
    assert.equal(r.before[0].sentStatus, 10)
    assert.equal(r.before[0].content.content, 'hi bob')
    assert.equal(r.result.data.messageId, r.before[0].messageId, 'the stored message is the one sent')
    assert.equal(r.result.data.sentStatus, 20)
    assert.equal(r.plain.code, r.result.code)
    assert.deepEqual(
      r.history.data.list.map((m) => [m.content.content, m.sentStatus]),
      [
        ['no hook', 20],
        ['hi bob', 20],
      ],
      'each message stored once',
    )
  }
  const sends = spy.calls.filter((c) => c.method === 'sendMessage')
  assert.equal(sends.length, 4)
  assert.equal(typeof sends[0].args[2].messageId, 'number')
  assert.ok(!('onSendBefore' in sends[0].args[2]))
})
