'use strict'
// IPC security of the Electron bridge (ARCHITECTURE.md §7), across a real process boundary:
// only allow-listed method names with array arguments, only from the top frame of a window
// registered with the service, the page sees functions and enums only (never ipcRenderer),
// the renderer module runs in a sandboxed preload requiring nothing but 'electron', and
// destroy() is clean and idempotent. Refused calls never reach the engine (a spy on it).

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const h = require('./electron/harness')
const { electron, Engine } = h

/** Raw invoke from the preload world, bypassing the API object. */
function rawInvoke(win, method, args) {
  return h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:call', ${method}, ${args})`)
}

test('a method name outside the allow-list or non-array arguments: 33003, the engine untouched', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const before = spy.calls.length
  const names = [
    "'close'",
    "'constructor'",
    "'__proto__'",
    "'onEvent'",
    "'toString'",
    "'hasOwnProperty'",
    "'valueOf'",
    "'userId'",
    "'then'",
    "'init'",
    "'addEventListener'",
    "''",
    "'open '",
    "'Open'",
    "'electronExtension.insertMessage'",
    '42',
    'null',
    'undefined',
    "{ toString: 'open', valueOf: 'open' }",
    "['open']",
  ]
  for (const n of names) {
    const r = await rawInvoke(win, n, '[]')
    assert.equal(r.code, 33003, `${n}: ${JSON.stringify(r)}`)
    assert.match(r.msg, /not an imsync API method/)
  }
  for (const a of ["'x'", '{ 0: 1, length: 1 }', 'undefined', 'null', '7']) {
    const r = await rawInvoke(win, "'getAllConversationList'", a)
    assert.equal(r.code, 33003, `${a}: ${JSON.stringify(r)}`)
    assert.match(r.msg, /arguments of getAllConversationList must be an array/)
  }
  assert.equal(spy.calls.length, before, 'nothing reached the engine')
  // The engine is intact: close was not called.
  assert.equal(service.engine.userId, 'alice')
  assert.deepEqual(await rawInvoke(win, "'getAllConversationList'", '[]'), { code: 0, data: [] })
})

test('a webContents that is not a registered window is refused, and gets no events', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const view = await h.openWindow({ view: true }) // a WebContentsView: not a BrowserWindow
  assert.equal(service.hasWindow(win), true)
  assert.equal(service.hasWindow(view), false)
  const before = spy.calls.length
  const r = await h.page(view, `return await imsync.electronExtension.getAllConversationList()`)
  assert.equal(r.code, 35005)
  assert.match(r.msg, /refused.*not the top frame of a window registered/)
  const raw = await rawInvoke(view, "'close'", '[]')
  assert.equal(raw.code, 35005, 'the sender check comes first: an unregistered sender learns nothing')
  assert.equal(spy.calls.length, before)
  // Both subscribe; an engine event reaches the window and not the view.
  await h.page(win, `imsync.addEventListener('MESSAGES', (e) => console.log('win got', e.messages.length))`)
  await h.page(view, `imsync.addEventListener('MESSAGES', (e) => console.log('view got', e.messages.length))`)
  // A call after the subscribe guarantees main has processed it (one ordered pipe).
  await h.page(win, `await imsync.electronExtension.getMessageCount({ conversationType: 1, targetId: 'x' })`)
  await h.page(view, `await imsync.electronExtension.getMessageCount({ conversationType: 1, targetId: 'x' })`)
  const sends = h.countSends()
  t.after(() => sends.stop())
  h.emitEngineEvent(service.engine, 'MESSAGES', { messages: [] })
  assert.equal(sends.get(win.webContents, 'imsync:event', 'MESSAGES'), 1)
  assert.equal(sends.get(view.webContents, 'imsync:event', 'MESSAGES'), 0)
  await win.webContents.__waitForConsole((e) => e.text === 'win got 0')
})

test('a sub-frame of a registered window is refused', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const framed = await h.openWindow({ webPreferences: { __imsyncTestFrame: 'sub' } })
  assert.equal(service.hasWindow(framed), true)
  const before = spy.calls.length
  const r = await h.page(framed, `return await imsync.electronExtension.getAllConversationList()`)
  assert.equal(r.code, 35005)
  assert.equal(spy.calls.length, before)
})

test("windows: 'manual' registers only what addWindow() is given; validateSender adds an app check", async (t) => {
  const { service, spy } = h.startService(t, {
    windows: 'manual',
    validateSender: (event) => event.senderFrame.url.startsWith('app://chat/'),
  })
  await service.open('alice')
  const win = await h.openWindow()
  await win.loadURL('app://chat/index.html')
  assert.equal(service.windowMode, 'manual')
  assert.equal(service.hasWindow(win), false, 'not registered by creation')
  const before = spy.calls.length
  assert.equal((await h.page(win, `return await imsync.electronExtension.getAllConversationList()`)).code, 35005)
  // A listener added while unregistered is subscribed once the window is registered.
  await h.page(win, `imsync.addEventListener('CONVERSATION', (e) => console.log('conv', e.conversationList.length))`)
  assert.equal(spy.calls.length, before)
  const ready = h.waitForEvent(electron.__probe, 'send', (wc, ch) => wc === win.webContents && ch === 'imsync:ready')
  service.addWindow(win)
  await ready
  assert.equal((await h.page(win, `return await imsync.electronExtension.getAllConversationList()`)).code, 0)
  h.emitEngineEvent(service.engine, 'CONVERSATION', { conversationList: [] })
  await win.webContents.__waitForConsole((e) => e.text === 'conv 0')
  // validateSender: the same window on another origin is refused.
  await win.loadURL('https://evil.example/')
  assert.equal((await h.page(win, `return await imsync.electronExtension.getAllConversationList()`)).code, 35005)
  await win.loadURL('app://chat/index.html')
  service.removeWindow(win)
  assert.equal((await h.page(win, `return await imsync.electronExtension.getAllConversationList()`)).code, 35005)
  assert.equal(spy.count('getAllConversationList'), 1)
})

test('the page gets functions and enums only: no ipcRenderer, no require, no process', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  // Electron >= 35 (the page-world API via executeInMainWorld), older Electron
  // (exposeInMainWorld), and executeInMainWorld failing (falls back to exposeInMainWorld).
  for (const webPreferences of [{}, { __imsyncTestNoExecuteInMainWorld: true }, { __imsyncTestBrokenExecuteInMainWorld: true }]) {
    const win = await h.openWindow({ webPreferences })
    const r = await h.page(
      win,
      `
      const kinds = new Set()
      const walk = (v, depth) => {
        if (typeof v === 'function') { kinds.add('function'); return }
        if (v === null || typeof v !== 'object') { kinds.add(typeof v); return }
        if (depth > 3) { kinds.add('deep'); return }
        for (const k of Object.keys(v)) walk(v[k], depth + 1)
      }
      walk(imsync, 0)
      const desc = Object.getOwnPropertyDescriptor(window, 'imsync')
      return {
        kinds: [...kinds].sort(),
        keys: Object.keys(imsync),
        require: typeof require, process: typeof process, ipcRenderer: typeof ipcRenderer, electron: typeof electron,
        writable: desc.writable, configurable: desc.configurable,
      }
    `,
    )
    assert.deepEqual(r.kinds, ['function', 'number', 'string'])
    for (const k of ['ipcRenderer', 'invoke', 'send', 'initContextBridge', 'require']) assert.ok(!r.keys.includes(k), k)
    assert.equal(r.require, 'undefined')
    assert.equal(r.process, 'undefined')
    assert.equal(r.ipcRenderer, 'undefined')
    assert.equal(r.electron, 'undefined')
    assert.equal(r.writable, false)
    assert.equal(r.configurable, false)
    assert.equal(await h.page(win, `return (await imsync.electronExtension.getAllConversationList()).code`), 0)
    if (webPreferences.__imsyncTestBrokenExecuteInMainWorld) {
      await win.webContents.__waitForConsole((e) => e.level === 'warn' && /executeInMainWorld failed/.test(e.text))
    }
  }
})

test('the renderer module runs in a sandboxed preload that can require nothing but electron', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  // Control: the stand-in's sandbox refuses a preload that requires a file.
  const refused = await h.openWindow({ preload: path.join(h.FIXTURES, 'preload-forbidden.js'), allowPreloadError: true })
  assert.match(refused.__ready.preloadError.message, /module not found: \.\/preload-legacy\.js/)
  // The unbundled fixture preload requires 'imsync/renderer': refused in a sandbox too.
  const unbundled = await h.openWindow({ preload: path.join(h.FIXTURES, 'preload.js'), allowPreloadError: true })
  assert.match(unbundled.__ready.preloadError.message, /module not found: imsync\/renderer/)
  // The bundled one (js/renderer.js inlined) works: it needs only 'electron'.
  const win = await h.openWindow()
  assert.equal(win.__ready.sandbox, true)
  assert.equal(win.__ready.contextIsolation, true)
  assert.equal((await h.page(win, `return (await imsync.electronExtension.getAllConversationList()).code`)), 0)
})

test('destroy(): answers waiting calls, lets calls inside the engine finish, closes, idempotent', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const log = []
  // A call inside the engine (held at its gate) and a call waiting for an open in flight.
  const searchGate = h.deferred()
  const openGate = h.deferred()
  spy.gates.searchMessages = searchGate.promise
  const enteredSearch = new Promise((resolve) => (spy.entered.searchMessages = resolve))
  await h.page(win, `globalThis.search = imsync.electronExtension.searchMessages({ conversationType: 1, targetId: 'bob' }, 'x', 0, 10)`)
  await enteredSearch
  spy.gates.open = openGate.promise
  const reopening = service.open('alice')
  const waiting = h.waitForEvent(electron.__probe, 'invoke', (wc, ch, args) => ch === 'imsync:call' && args[0] === 'getMessageCount')
  await h.page(win, `globalThis.waiting = imsync.electronExtension.getMessageCount({ conversationType: 1, targetId: 'bob' })`)
  await waiting

  const d1 = service.destroy()
  const d2 = service.destroy()
  assert.equal(d1, d2, 'the same promise')
  assert.equal(service.destroyed, true)
  d1.then(() => log.push('destroyed'))
  // Handler and listeners are gone at once.
  assert.deepEqual(electron.ipcMain.__handlerChannels, [])
  assert.equal(electron.ipcMain.listenerCount('imsync:subscribe'), 0)
  assert.equal(electron.ipcMain.listenerCount('imsync:unsubscribe'), 0)
  assert.equal(electron.app.listenerCount('browser-window-created'), 0)
  // The waiting call is answered 35005 without reaching the engine.
  const waited = await h.page(win, `return await globalThis.waiting`)
  assert.equal(waited.code, 35005)
  assert.match(waited.msg, /destroyed/)
  assert.equal(spy.count('getMessageCount'), 0)
  // destroy waits for the calls inside the engine; they keep their own result.
  searchGate.resolve()
  openGate.resolve()
  const searched = await h.page(win, `return await globalThis.search`)
  assert.equal(searched.code, 0)
  log.push('search answered')
  assert.equal((await reopening).code, 0)
  await d1
  assert.deepEqual(log, ['search answered', 'destroyed'])
  assert.equal(spy.count('close'), 1, 'the engine was closed once')
  assert.equal(service.engine.userId, null)
  assert.deepEqual(await Engine.prototype.getAllConversationList.call(service.engine), {
    code: 33001,
    msg: 'no user database is open: call open(userId) or connect(token) first',
  })
  // Idempotent after the fact too; main-process calls answer 35005.
  await service.destroy()
  assert.equal(spy.count('close'), 1)
  assert.equal((await service.call('getAllConversationList')).code, 35005)
  // The app can create a new service afterwards (one handler again).
  const again = h.startService(t)
  assert.deepEqual(electron.ipcMain.__handlerChannels, ['imsync:call', 'imsync:info', 'imsync:media-stage'])
  await again.service.destroy()
})
