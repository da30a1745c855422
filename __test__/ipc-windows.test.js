'use strict'
// Many windows, one engine (ARCHITECTURE.md §2): two renderer child processes share the
// service's connection and database; a change made from one is visible to the other;
// engine events fan out to every window that subscribed (and only to those); listeners
// behave like RongIMLib's (add / once / remove / removeAll) in every preload configuration;
// a window that dies — even mid-call — harms neither the main process nor the other window.

const test = require('node:test')
const assert = require('node:assert/strict')

const h = require('./electron/harness')
const { electron } = h

const BOB = "{ conversationType: 1, targetId: 'bob' }"

/** Watches this process for uncaught exceptions and unhandled rejections during a test. */
function watchMainProcess(t) {
  const problems = []
  const onError = (e) => problems.push(e)
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  t.after(() => {
    process.removeListener('uncaughtException', onError)
    process.removeListener('unhandledRejection', onError)
  })
  return problems
}

test('two windows share one engine: a change made from one is visible to the other', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const a = await h.openWindow()
  const b = await h.openWindow()
  const inserted = await h.page(a, `return await imsync.electronExtension.insertMessage(${BOB}, new imsync.TextMessage({ content: 'from window A' }))`)
  assert.equal(inserted.code, 0)
  const seen = await h.page(b, `return await imsync.getHistoryMessages(${BOB}, { count: 10 })`)
  assert.deepStrictEqual(seen.data.list, [inserted.data])
  const convs = await h.page(b, `return await imsync.electronExtension.getAllConversationList()`)
  assert.equal(convs.data.length, 1)
  assert.deepStrictEqual(convs.data[0].latestMessage, inserted.data)
  // B deletes; A sees it gone.
  assert.equal((await h.page(b, `return (await imsync.electronExtension.deleteMessages([${inserted.data.messageId}])).code`)), 0)
  assert.equal((await h.page(a, `return (await imsync.electronExtension.getMessageCount(${BOB})).data`)), 0)
  // Both write at once: nothing lost, nothing doubled.
  const writes = `
    const ps = []
    for (let i = 0; i < 40; i++) ps.push(imsync.electronExtension.insertMessage(${BOB}, { messageType: 'RC:TxtMsg', content: { content: WHO + ' ' + i } }))
    return (await Promise.all(ps)).map((r) => r.code)
  `
  const [ca, cb] = await Promise.all([h.page(a, `const WHO = 'A';${writes}`), h.page(b, `const WHO = 'B';${writes}`)])
  assert.ok([...ca, ...cb].every((c) => c === 0))
  assert.equal((await h.page(a, `return (await imsync.electronExtension.getMessageCount(${BOB})).data`)), 80)
  assert.equal((await h.page(b, `return (await imsync.electronExtension.searchMessages(${BOB}, 'A ', 0, 100)).data.count`)), 40)
  // One engine served both windows.
  assert.equal(new Set(spy.calls.map((c) => c.method)).has('insertMessage'), true)
})

test('engine events reach every window subscribed to them, and only those', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const a = await h.openWindow()
  const b = await h.openWindow()
  const legacy = await h.openLegacyWindow()
  await h.page(a, `imsync.addEventListener(imsync.Events.MESSAGES, (e) => console.log('A MESSAGES', JSON.stringify(e)))`)
  await h.page(b, `imsync.addEventListener(imsync.Events.CONVERSATION, (e) => console.log('B CONVERSATION', e.conversationList.length))`)
  await h.page(legacy, `RongIMLib.addListener(RongIMLib.Events.MESSAGES, (e) => console.log('L MESSAGES', e.messages.length))`)
  // One call per window after subscribing: main has processed the subscription (FIFO pipe).
  for (const w of [a, b]) await h.page(w, `await imsync.electronExtension.getMessageCount(${BOB})`)
  await h.page(legacy, `await RongIMLib.electronExtension.getMessageCount(${BOB})`)
  const sends = h.countSends()
  t.after(() => sends.stop())
  const payload = { messages: [{ messageType: 'RC:TxtMsg', content: { content: '你好' }, messageUId: 'U1', sentTime: 1 }] }
  h.emitEngineEvent(service.engine, 'MESSAGES', payload)
  h.emitEngineEvent(service.engine, 'CONVERSATION', { conversationList: [{}, {}] })
  h.emitEngineEvent(service.engine, 'TAG', undefined)
  assert.equal(sends.get(a.webContents, 'imsync:event', 'MESSAGES'), 1)
  assert.equal(sends.get(a.webContents, 'imsync:event', 'CONVERSATION'), 0)
  assert.equal(sends.get(b.webContents, 'imsync:event', 'MESSAGES'), 0)
  assert.equal(sends.get(b.webContents, 'imsync:event', 'CONVERSATION'), 1)
  assert.equal(sends.get(legacy.webContents, 'imsync:event', 'MESSAGES'), 1)
  for (const w of [a, b, legacy]) assert.equal(sends.get(w.webContents, 'imsync:event', 'TAG'), 0)
  const got = await a.webContents.__waitForConsole((e) => e.text.startsWith('A MESSAGES'))
  assert.deepEqual(JSON.parse(got.text.slice('A MESSAGES '.length)), payload)
  await b.webContents.__waitForConsole((e) => e.text === 'B CONVERSATION 2')
  await legacy.webContents.__waitForConsole((e) => e.text === 'L MESSAGES 1')
})

/**
 * The RongIMLib listener contract, run in the page: once, remove by identity, remove all,
 * the returned remover, a throwing listener. Every step ends with a sentinel event so that
 * "nothing happened" is observed without waiting for time to pass.
 */
async function listenerContract(t, win, api, { identity }) {
  const { service } = h.startService(t)
  await service.open('alice')
  const w = await win()
  await h.page(
    w,
    `
    const im = ${api}
    globalThis.log = []
    globalThis.im = im
    globalThis.listener = (e) => log.push('listener ' + e.n)
    globalThis.other = (e) => log.push('other ' + e.n)
    im.addEventListener('MESSAGES', listener)
    im.addEventListener('MESSAGES', other)
    im.onceEventListener('MESSAGES', (e) => log.push('once ' + e.n))
    im.addEventListener('MESSAGES', () => { throw new Error('listener failure') })
    globalThis.offThis = im.addEventListener('MESSAGES', function (e) { log.push('ctx ' + this.tag + ' ' + e.n) }, { tag: 'T' })
    im.addEventListener('PULL_OFFLINE_MESSAGE_FINISHED', () => {
      log.push('sentinel')
      if (globalThis.onSentinel) globalThis.onSentinel()
    })
    await im.electronExtension.getMessageCount(${BOB})
  `,
  )
  const step = async (n, code) => {
    if (code) await h.page(w, `${code}; await im.electronExtension.getMessageCount(${BOB})`)
    h.emitEngineEvent(service.engine, 'MESSAGES', { n })
    h.emitEngineEvent(service.engine, 'PULL_OFFLINE_MESSAGE_FINISHED', undefined)
    const log = await h.page(w, `
      if (log[log.length - 1] !== 'sentinel') await new Promise((r) => (globalThis.onSentinel = r))
      globalThis.onSentinel = null
      const out = log.slice(0, -1); log.length = 0; return out
    `)
    return log
  }
  // The third argument of addEventListener is the listener's `this` (RongIMLib's target);
  // a function called through a bridge proxy has no `this`.
  const ctx = identity ? 'T' : 'undefined'
  assert.deepEqual(await step(1), ['listener 1', 'other 1', 'once 1', `ctx ${ctx} 1`])
  assert.deepEqual(await step(2), ['listener 2', 'other 2', `ctx ${ctx} 2`], 'once ran once; a throwing listener stops no one')
  await w.webContents.__waitForConsole((e) => e.level === 'error' && /listener failure/.test(e.text))
  assert.deepEqual(await step(3, 'offThis()'), ['listener 3', 'other 3'], 'the returned remover')
  if (identity) assert.deepEqual(await step(4, `im.removeEventListener('MESSAGES', listener)`), ['other 4'], 'remove by identity')
  assert.deepEqual(await step(5, `im.removeEventListeners('MESSAGES')`), [], 'remove all')
  // With no MESSAGES listener left, this window is no longer subscribed to MESSAGES.
  const sends = h.countSends()
  h.emitEngineEvent(service.engine, 'MESSAGES', { n: 6 })
  sends.stop()
  assert.equal(sends.get(w.webContents, 'imsync:event', 'MESSAGES'), 0)
}

test('listeners behave like RongIMLib: isolated page world (Electron >= 35 executeInMainWorld)', (t) =>
  listenerContract(t, () => h.openWindow(), 'imsync', { identity: true }))

test('listeners behave like RongIMLib: vendor configuration (contextIsolation off)', (t) =>
  listenerContract(t, () => h.openLegacyWindow(), 'RongIMLib', { identity: true }))

test('listeners through exposeInMainWorld only (older Electron): remover and removeAll work', (t) =>
  // Functions crossing contextBridge arrive as new proxies each time, so remove-by-identity
  // cannot match there (documented in js/renderer.js); the rest of the contract holds.
  listenerContract(t, () => h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } }), 'imsync', { identity: false }))

test('a window killed mid-call does not hurt the main process or the other window', async (t) => {
  const problems = watchMainProcess(t)
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const a = await h.openWindow()
  const b = await h.openWindow()
  for (const w of [a, b]) {
    await h.page(w, `imsync.addEventListener('MESSAGES', (e) => console.log('got', e.messages.length)); await imsync.electronExtension.getMessageCount(${BOB})`)
  }
  // A's call is inside the engine (held at the spy's gate) when A is SIGKILLed.
  const gate = h.deferred()
  spy.gates.searchMessages = gate.promise
  const entered = new Promise((resolve) => (spy.entered.searchMessages = resolve))
  await h.page(a, `globalThis.p = imsync.electronExtension.searchMessages(${BOB}, 'x', 0, 10); return true`)
  await entered
  const gone = h.waitForEvent(a.webContents, 'render-process-gone')
  a.webContents.__kill('SIGKILL')
  const [, details] = await gone
  assert.equal(details.reason, 'killed')
  gate.resolve()
  const record = spy.calls.find((c) => c.method === 'searchMessages')
  assert.equal((await record.promise).code, 0, 'the engine finished the dead window’s call')
  // The other window is served; events reach it and are no longer sent to the dead one.
  assert.equal((await h.page(b, `return (await imsync.electronExtension.insertMessage(${BOB}, new imsync.TextMessage({ content: 'still here' }))).code`)), 0)
  const sends = h.countSends()
  t.after(() => sends.stop())
  h.emitEngineEvent(service.engine, 'MESSAGES', { messages: [1, 2] })
  assert.equal(sends.get(a.webContents, 'imsync:event', 'MESSAGES'), 0)
  assert.equal(sends.get(b.webContents, 'imsync:event', 'MESSAGES'), 1)
  await b.webContents.__waitForConsole((e) => e.text === 'got 2')
  assert.equal(service.hasWindow(a), true, 'a crashed renderer keeps its window; a reload serves it again')
  // The crashed window reloads: a new renderer process, served again.
  a.webContents.reload()
  await a.webContents.__whenReady()
  assert.equal((await h.page(a, `return (await imsync.electronExtension.getMessageCount(${BOB})).data`)), 1)
  assert.deepEqual(problems, [])
})

test('a window killed with many calls in flight: every call that reached the engine completes; the other window sees a consistent database', async (t) => {
  const problems = watchMainProcess(t)
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const a = await h.openWindow()
  const b = await h.openWindow()
  const firstArrived = h.waitForEvent(electron.__probe, 'invoke', (wc, ch) => wc === a.webContents && ch === 'imsync:call')
  await h.page(a, `
    for (let i = 0; i < 300; i++) imsync.electronExtension.insertMessage(${BOB}, { messageType: 'RC:TxtMsg', content: { content: 'burst ' + i } })
    return true
  `)
  await firstArrived
  a.webContents.__kill('SIGKILL')
  await a.webContents.__whenExited()
  const inserts = spy.calls.filter((c) => c.method === 'insertMessage')
  assert.ok(inserts.length >= 1)
  const results = await Promise.all(inserts.map((c) => c.promise))
  assert.ok(results.every((r) => r.code === 0))
  const count = await h.page(b, `return (await imsync.electronExtension.getMessageCount(${BOB})).data`)
  const counted = spy.calls.filter((c) => c.method === 'insertMessage').length
  assert.equal(count, counted, 'the database holds exactly the inserts that reached the engine')
  const history = await h.page(b, `return (await imsync.getHistoryMessages(${BOB}, { count: 100 })).data.list.length`)
  assert.equal(history, Math.min(100, count))
  assert.deepEqual(problems, [])
})

test('a closed window is forgotten: no events, no errors; the other window carries on', async (t) => {
  const problems = watchMainProcess(t)
  const { service } = h.startService(t)
  await service.open('alice')
  const a = await h.openWindow()
  const b = await h.openWindow()
  for (const w of [a, b]) {
    await h.page(w, `imsync.addEventListener('CONVERSATION', () => console.log('conv')); await imsync.electronExtension.getMessageCount(${BOB})`)
  }
  const closed = h.waitForEvent(a, 'closed')
  a.close()
  await closed
  assert.equal(service.hasWindow(a), false)
  const sends = h.countSends()
  t.after(() => sends.stop())
  h.emitEngineEvent(service.engine, 'CONVERSATION', { conversationList: [] })
  assert.equal(sends.get(b.webContents, 'imsync:event', 'CONVERSATION'), 1)
  assert.equal(sends.get(a.webContents, 'imsync:event', 'CONVERSATION'), 0)
  await b.webContents.__waitForConsole((e) => e.text === 'conv')
  assert.equal((await h.page(b, `return (await imsync.electronExtension.getAllConversationList()).code`)), 0)
  assert.deepEqual(problems, [])
})
