'use strict'
// Drop-in behaviour of the renderer object (issue 11, first slice), across the real process
// boundary of the test `electron` stand-in:
//  - any method name answers: a call imsync does not serve resolves { code: 35004, msg }
//    naming it instead of throwing "is not a function", without breaking what apps do with
//    the object (typeof checks, Object.keys, enums, `await RongIMLib`, JSON.stringify, Symbols).
//  - getConnectionStatus() answers synchronously with ConnectionStatus values only, from the
//    state the main process sends every window ('imsync:state'); getConnectionStatusAsync()
//    is the engine's answer;
//  - getServerTime() is synchronous: Date.now() + the offset main estimates from sentTime;
//  - destroy() releases the window's listeners and subscriptions; calls answer 35005 until init().

const test = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')

const h = require('./electron/harness')
const { electron } = h

const rendererApi = require('imsync/renderer')

/**
 * Page code checking the object `im` (RongIMLib or window.imsync) answers any method name and
 * otherwise looks like the plain API object. Returns a structured-clone-safe report.
 */
const ANY_METHOD_PROBE = `
  const report = {}
  report.unknown = await im.someUnknownCall(1)
  report.unknownExt = await im.electronExtension.someUnknownCall()
  report.typeofUnknown = typeof im.someUnknownCall
  report.sameFunction = im.someUnknownCall === im.someUnknownCall
  report.typeofInit = typeof im.init
  report.typeofSearch = typeof im.electronExtension.searchMessages
  report.then = typeof im.then
  report.thenIn = 'then' in im
  report.extThen = typeof im.electronExtension.then
  // Awaiting the object must not hang: it is not a thenable.
  report.awaited = (await Promise.race([Promise.resolve(im).then((v) => v === im), new Promise((r) => setTimeout(() => r('hung'), 2000))]))
  report.keys = Object.keys(im)
  report.extKeys = Object.keys(im.electronExtension)
  report.unknownInKeys = report.keys.includes('someUnknownCall')
  report.unknownIn = 'someUnknownCall' in im
  report.hasOwn = Object.prototype.hasOwnProperty.call(im, 'someUnknownCall')
  report.json = JSON.stringify(im) === JSON.stringify(Object.assign({}, im))
  report.jsonHasEnums = JSON.parse(JSON.stringify(im)).ConversationType.PRIVATE
  report.private = im.ConversationType.PRIVATE
  report.textType = im.MessageType.TEXT
  report.unknownEnum = typeof im.SomeEnum
  report.symbol = typeof im[Symbol.iterator]
  report.toStringTag = Object.prototype.toString.call(im)
  report.string = String(im)
  report.toJSON = typeof im.toJSON
  report.esModule = typeof im.__esModule
  report.default = typeof im.default
  report.vueRef = typeof im.__v_isRef
  report.known = (await im.electronExtension.getAllConversationList()).code
  return report
`

function checkAnyMethod(r, { unknownAnswers = true } = {}) {
  if (unknownAnswers) {
    assert.equal(r.unknown.code, 35004)
    assert.match(r.unknown.msg, /\bsomeUnknownCall\b/)
    assert.equal(r.unknownExt.code, 35004)
    assert.match(r.unknownExt.msg, /electronExtension\.someUnknownCall\b/)
    assert.equal(r.typeofUnknown, 'function')
    assert.equal(r.sameFunction, true)
  }
  assert.equal(r.typeofInit, 'function')
  assert.equal(r.typeofSearch, 'function')
  assert.equal(r.then, 'undefined')
  assert.equal(r.thenIn, false)
  assert.equal(r.extThen, 'undefined')
  assert.equal(r.awaited, true, 'await RongIMLib resolves the object itself')
  assert.equal(r.unknownInKeys, false)
  assert.equal(r.unknownIn, false)
  assert.equal(r.hasOwn, false)
  assert.ok(r.keys.includes('init') && r.keys.includes('ConversationType') && r.keys.includes('electronExtension'))
  assert.ok(r.extKeys.includes('searchMessages'))
  assert.equal(r.json, true)
  assert.equal(r.jsonHasEnums, 1)
  assert.equal(r.private, 1)
  assert.equal(r.textType, 'RC:TxtMsg')
  assert.equal(r.unknownEnum, 'undefined')
  assert.equal(r.symbol, 'undefined')
  assert.equal(r.toStringTag, '[object Object]')
  assert.equal(r.string, '[object Object]')
  assert.equal(r.toJSON, 'undefined')
  assert.equal(r.esModule, 'undefined')
  assert.equal(r.default, 'undefined')
  assert.equal(r.vueRef, 'undefined')
  assert.equal(r.known, 0)
}

test('the module export answers any method name with 35004 and otherwise is the plain object', async () => {
  const api = rendererApi
  assert.deepEqual(await api.someUnknownCall(1), {
    code: 35004,
    msg: 'imsync: someUnknownCall is not supported by imsync (not an IMLib call it serves)',
  })
  assert.equal((await api.electronExtension.installPlugin()).code, 35004)
  assert.equal(api.someUnknownCall.name, 'someUnknownCall')
  assert.equal(api.then, undefined)
  assert.equal(await api, api)
  assert.equal(api.electronExtension.then, undefined)
  for (const k of ['catch', 'finally', 'toJSON', 'default', 'length', 'nodeType', 'inspect', '__esModule', '__v_isRef', '$$typeof', 'SomeEnum', '', 'a-b', '1x']) {
    assert.equal(api[k], undefined, k)
  }
  assert.equal(api[Symbol.iterator], undefined)
  assert.equal(api[Symbol.toPrimitive], undefined)
  assert.equal(typeof api.toString, 'function', 'Object.prototype members are themselves')
  assert.equal(api.hasOwnProperty, Object.prototype.hasOwnProperty)
  assert.equal(typeof api.init, 'function')
  assert.equal(api.ErrorCode.NOT_SUPPORT, 35004)
  assert.ok(!Object.keys(api).includes('someUnknownCall'))
  assert.equal('someUnknownCall' in api, false)
  assert.equal(JSON.stringify(api), JSON.stringify({ ...api }))
  assert.doesNotThrow(() => util.inspect(api))
  assert.doesNotThrow(() => `${api}`)
  // Outside a renderer the known calls still answer 35005 (no ipcRenderer), unknown ones 35004.
  assert.equal((await api.getTags()).code, 35005)
})

test('a secure window (executeInMainWorld): unknown calls answer 35004 in the page, nothing reaches main', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const names = []
  const onInvoke = (wc, channel, args) => {
    if (wc === win.webContents) names.push(args[0])
  }
  electron.__probe.on('invoke', onInvoke)
  t.after(() => electron.__probe.removeListener('invoke', onInvoke))
  const r = await h.page(win, `const im = imsync\n${ANY_METHOD_PROBE}`)
  checkAnyMethod(r)
  assert.deepEqual(names, ['getAllConversationList'], 'only the known call went to the main process')
  assert.deepEqual(spy.calls.map((c) => c.method), ['open', 'getAllConversationList'])
})

test('the vendor configuration (contextIsolation off): window.RongIMLib answers any method name', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openLegacyWindow()
  checkAnyMethod(await h.page(win, `const im = RongIMLib\n${ANY_METHOD_PROBE}`))
})

test('initContextBridge with contextIsolation off: window[name] answers any method name', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow({ webPreferences: { contextIsolation: false, sandbox: true } })
  checkAnyMethod(await h.page(win, `const im = imsync\n${ANY_METHOD_PROBE}`))
})

test('older Electron (exposeInMainWorld copies own properties): known members work, unknown names are undefined (documented)', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } })
  const r = await h.page(
    win,
    `const im = imsync
    const report = { typeofUnknown: typeof im.someUnknownCall, typeofExt: typeof im.electronExtension.someUnknownCall }
    const probe = await (async () => { ${ANY_METHOD_PROBE.replace(/report\.unknown(Ext)? = await .*\n/g, '')} })()
    return { ...probe, ...report }`,
  )
  assert.equal(r.typeofUnknown, 'undefined')
  assert.equal(r.typeofExt, 'undefined')
  checkAnyMethod(r, { unknownAnswers: false })
})

// ---- getConnectionStatus(): synchronous, ConnectionStatus values only -----------------------

const { startServer } = require('./helpers/server')

/** Every bridge mode a page can get the API object in: [label, open(), name in the page]. */
const MODES = [
  ['secure window (executeInMainWorld)', () => h.openWindow(), 'imsync'],
  ['older Electron (exposeInMainWorld)', () => h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } }), 'imsync'],
  ['vendor configuration (contextIsolation off)', () => h.openLegacyWindow(), 'RongIMLib'],
]

test('getConnectionStatus() answers synchronously from the engine events, with ConnectionStatus values only', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const engine = service.engine
  for (const [label, open, im] of MODES) {
    const win = await open()
    const status = () => h.page(win, `const s = ${im}.getConnectionStatus(); return typeof s === 'number' ? s : 'not a number: ' + typeof s`)
    // The listener sees the new status already (main sends the state before the event).
    await h.page(win, `globalThis.seen = []; ${im}.addEventListener('CONNECTED', () => seen.push(${im}.getConnectionStatus())); await ${im}.getConnectionStatusAsync()`)
    h.emitEngineEvent(engine, 'DISCONNECT', 2)
    assert.equal(await status(), 2, label)
    h.emitEngineEvent(engine, 'CONNECTING', null)
    assert.equal(await status(), 1, label)
    h.emitEngineEvent(engine, 'CONNECTED', null)
    assert.equal(await status(), 0, label)
    assert.deepEqual(await h.page(win, 'return seen'), [0], `${label}: a CONNECTED listener reads 0`)
    h.emitEngineEvent(engine, 'SUSPEND', 30011)
    assert.equal(await status(), 3, `${label}: SUSPEND is NETWORK_UNAVAILABLE`)
    h.emitEngineEvent(engine, 'DISCONNECT', 31010)
    assert.equal(await status(), 6, `${label}: kicked`)
    h.emitEngineEvent(engine, 'DISCONNECT', 31023)
    assert.equal(await status(), 6, `${label}: the other client stays`)
    h.emitEngineEvent(engine, 'DISCONNECT', 31009)
    assert.equal(await status(), 9, `${label}: banned`)
    h.emitEngineEvent(engine, 'DISCONNECT', 31004)
    assert.equal(await status(), 2, `${label}: a token error is DISCONNECTED, never the raw code`)
    assert.equal(service.connectionStatus, 2)
    // The async engine call stays available.
    assert.deepEqual(await h.page(win, `return await ${im}.getConnectionStatusAsync()`), { code: 0, data: 2 })
  }
})

test('a window opened while connected reads CONNECTED at once (initial fetch on load)', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  h.emitEngineEvent(service.engine, 'CONNECTING', null)
  h.emitEngineEvent(service.engine, 'CONNECTED', null)
  for (const [label, open, im] of MODES) {
    const before = spy.calls.length
    const win = await open()
    assert.equal(await h.page(win, `return ${im}.getConnectionStatus()`), 0, label)
    assert.equal(spy.calls.length, before, `${label}: the initial fetch does not call the engine`)
  }
})

test("windows: 'manual': a window registered after it loaded gets the state on imsync:ready", async (t) => {
  const { service } = h.startService(t, { windows: 'manual' })
  await service.open('alice')
  h.emitEngineEvent(service.engine, 'CONNECTED', null)
  const win = await h.openWindow()
  assert.equal(await h.page(win, 'return imsync.getConnectionStatus()'), 2, 'not registered: nothing known yet')
  const ready = h.waitForEvent(electron.__probe, 'send', (wc, ch) => wc === win.webContents && ch === 'imsync:state')
  service.addWindow(win)
  await ready
  assert.equal(await h.page(win, 'return imsync.getConnectionStatus()'), 0)
  await service.destroy()
  assert.equal(electron.ipcMain.listenerCount('imsync:state'), 0, 'destroy() removes the state listener')
})

test('a first connect that fails (no event from the engine) leaves every window DISCONNECTED, not CONNECTING', async (t) => {
  // Nothing listens on port 1: the first attempt fails after CONNECTING.
  const { service, spy } = h.startService(t, { serverUrl: 'http://127.0.0.1:1' })
  const a = await h.openWindow()
  const b = await h.openWindow()
  await h.page(b, `globalThis.saw = []; imsync.addEventListener('CONNECTING', () => saw.push(imsync.getConnectionStatus())); await imsync.getConnectionStatusAsync()`)
  const asked = spy.count('getConnectionStatus')
  const r = await h.page(a, `const r = await imsync.connect('t1.616c696365.0.abcd'); return { r, status: imsync.getConnectionStatus() }`, 20000)
  assert.notEqual(r.r.code, 0)
  assert.equal(r.status, 2, `right when connect answered ${JSON.stringify(r.r)}`)
  assert.deepEqual(await h.page(b, 'return saw'), [1], 'the other window saw CONNECTING')
  assert.equal(await h.page(b, 'return imsync.getConnectionStatus()'), 2)
  assert.equal(service.connectionStatus, 2)
  assert.equal(spy.count('getConnectionStatus'), asked + 1, 'main asked the engine once, after the failed connect')
  // A connect refused before it starts (bad token argument) asks nothing.
  assert.equal((await h.page(a, `return await imsync.connect('')`)).code, 33003)
  assert.equal(spy.count('getConnectionStatus'), asked + 1)
})

// ---- getServerTime() -------------------------------------------------------------------------

/** getServerTime() − Date.now() in the page, ms. */
function pageOffset(win, im = 'imsync') {
  return h.page(win, `const a = Date.now(); const s = ${im}.getServerTime(); const b = Date.now(); return { offset: s - a, span: b - a, type: typeof s }`)
}

test('getServerTime() is synchronous: the local clock until the server stamped something', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  for (const [label, open, im] of MODES) {
    const win = await open()
    const r = await pageOffset(win, im)
    assert.equal(r.type, 'number', label)
    assert.ok(Math.abs(r.offset) <= r.span + 1, `${label}: ${JSON.stringify(r)}`)
  }
  assert.equal(service.serverTimeOffset, 0)
  assert.ok(Math.abs(service.getServerTime() - Date.now()) <= 5)
})

test('getServerTime(): the offset from the sentTime of sends (both bounds) and of live received messages', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const legacy = await h.openLegacyWindow()
  const engine = service.engine
  // The server is 5 s behind this machine: a fresh send's sentTime lies within the call, in
  // server time. (A stand-in for the engine's answer; the real path is tested below.)
  let serverSkew = -5000
  engine.sendMessage = async (conversation, message, options) => ({
    code: 0,
    data: { messageId: 1, messageUId: `U${Date.now()}`, sentTime: Date.now() + serverSkew, options: options || null },
  })
  const send = (w, im, options) => h.page(w, `return await ${im}.sendMessage({ conversationType: 1, targetId: 'bob' }, new ${im}.TextMessage({ content: 'x' }), ${JSON.stringify(options || {})})`)
  assert.equal((await send(win, 'imsync')).code, 0)
  const near = (r, want, label) => assert.ok(Math.abs(r.offset - want) <= r.span + 50, `${label}: ${JSON.stringify(r)} vs ${want}`)
  near(await pageOffset(win), -5000, 'the window that sent')
  near(await pageOffset(legacy, 'RongIMLib'), -5000, 'every window')
  assert.ok(Math.abs(service.serverTimeOffset + 5000) <= 50, String(service.serverTimeOffset))
  // A resend (options.messageId) may answer a send stamped long ago: it only bounds from below.
  serverSkew = -3_600_000
  assert.equal((await send(win, 'imsync', { messageId: 7 })).code, 0)
  near(await pageOffset(win), -5000, 'a stale resend changes nothing')
  // Offline messages were stamped long ago (or ahead, by a clock that ran ahead): ignored.
  h.emitEngineEvent(engine, 'MESSAGES', { messages: [{ messageUId: 'O1', sentTime: Date.now() + 86_400_000, isOfflineMessage: true }] })
  near(await pageOffset(win), -5000, 'offline messages are not samples')
  // A new session (another server node, a corrected clock): live messages say the server is
  // now 2 minutes ahead.
  h.emitEngineEvent(engine, 'CONNECTED', null)
  near(await pageOffset(win), -5000, 'the last estimate stays until a sample')
  h.emitEngineEvent(engine, 'MESSAGES', { messages: [{ messageUId: 'L1', sentTime: Date.now() + 120_000, isOfflineMessage: false }] })
  near(await pageOffset(win), 120_000, 'a live message')
  near(await pageOffset(legacy, 'RongIMLib'), 120_000, 'every window')
  // A window opened now gets the offset on load.
  near(await pageOffset(await h.openWindow()), 120_000, 'a new window')
  // An Engine that knows the server's clock (ConnectAck / Pong server_time) is preferred.
  Object.defineProperty(engine, 'serverTimeOffset', { configurable: true, get: () => 42_000 })
  h.emitEngineEvent(engine, 'CONNECTED', null)
  near(await pageOffset(win), 42_000, "the Engine's own offset")
  assert.equal(service.serverTimeOffset, 42_000)
})

test('getServerTime() against imsync-server on this machine: within the span of the send that stamped it', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: 'dropin-secret' })
  const { service } = h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  const token = await server.getToken('alice')
  assert.deepEqual(await h.page(win, `return await imsync.connect(${JSON.stringify(token)})`, 15000), { code: 0, data: { userId: 'alice' } })
  assert.equal(await h.page(win, 'return imsync.getConnectionStatus()'), 0)
  const r = await h.page(
    win,
    `const t0 = Date.now()
    const sent = await imsync.sendMessage({ conversationType: 1, targetId: 'bob' }, new imsync.TextMessage({ content: 'clock' }))
    const t1 = Date.now()
    return { code: sent.code, sentTime: sent.data && sent.data.sentTime, span: t1 - t0, offset: imsync.getServerTime() - Date.now() }`,
    15000,
  )
  assert.equal(r.code, 0)
  // Same machine: the server's clock is this one, so the estimate is within the send's span.
  assert.ok(Math.abs(r.offset) <= r.span + 2, JSON.stringify(r))
  assert.ok(Math.abs(service.serverTimeOffset) <= r.span + 2)
  await h.page(win, 'await imsync.disconnect()')
  assert.equal(await h.page(win, 'return imsync.getConnectionStatus()'), 2)
})

// ---- destroy() -----------------------------------------------------------------------------

for (const [label, open, im] of MODES) {
  test(`destroy() (${label}): this window's listeners and subscriptions go, calls answer 35005 until init()`, async (t) => {
    const { service, spy } = h.startService(t)
    await service.open('alice')
    const win = await open()
    const other = await h.openWindow()
    const BOB = '{ conversationType: 1, targetId: "bob" }'
    for (const w of [win, other]) {
      const api = w === other ? 'imsync' : im
      await h.page(w, `globalThis.got = []; ${api}.addEventListener('MESSAGES', (e) => got.push(e.n)); await ${api}.electronExtension.getMessageCount(${BOB})`)
    }
    const invoked = []
    const onInvoke = (wc, ch, args) => wc === win.webContents && invoked.push(args[0])
    electron.__probe.on('invoke', onInvoke)
    t.after(() => electron.__probe.removeListener('invoke', onInvoke))
    h.emitEngineEvent(service.engine, 'CONNECTED', null)
    assert.deepEqual(await h.page(win, `return await ${im}.destroy()`), { code: 0 })
    // Calls answer 35005 without reaching the main process; the sync answers keep working.
    const after = await h.page(win, `return { count: await ${im}.electronExtension.getMessageCount(${BOB}), tags: await ${im}.getTags(), status: ${im}.getConnectionStatus(), time: typeof ${im}.getServerTime() }`)
    assert.equal(after.count.code, 35005)
    assert.match(after.count.msg, /destroy/)
    assert.equal(after.tags.code, 35005)
    assert.equal(after.status, 0)
    assert.equal(after.time, 'number')
    assert.deepEqual(invoked, [], 'nothing reached the main process')
    // init() makes it usable again; the listeners stay gone (main no longer sends MESSAGES here).
    assert.deepEqual(await h.page(win, `return await ${im}.init()`), { code: 0 })
    assert.equal((await h.page(win, `return await ${im}.electronExtension.getMessageCount(${BOB})`)).code, 0)
    const sends = h.countSends()
    t.after(() => sends.stop())
    h.emitEngineEvent(service.engine, 'MESSAGES', { n: 1 })
    assert.equal(sends.get(win.webContents, 'imsync:event', 'MESSAGES'), 0, 'unsubscribed')
    assert.equal(sends.get(other.webContents, 'imsync:event', 'MESSAGES'), 1, 'the other window is untouched')
    await h.page(other, `while (!got.length) await new Promise((r) => setTimeout(r, 5)); return got`, 5000)
    // A listener added after init() works (the page's own registry was reset too).
    await h.page(win, `${im}.addEventListener('MESSAGES', (e) => got.push('new ' + e.n)); await ${im}.electronExtension.getMessageCount(${BOB})`)
    h.emitEngineEvent(service.engine, 'MESSAGES', { n: 2 })
    assert.deepEqual(await h.page(win, `while (!got.length) await new Promise((r) => setTimeout(r, 5)); return got`, 5000), ['new 2'])
    assert.equal(spy.count('disconnect'), 0, "destroy() in a window does not end the app's connection")
  })
}
