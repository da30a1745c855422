'use strict'
// RongIMLib.installPlugin (issue 11) through the real process boundary of the test `electron`
// stand-in: a plugin is installed in a window's page world, as an app does right after init()
// (the seed's translate plugin, the vendor's 5.x Electron demo). Checked in every world a page
// can get the API object in that runs plugins in the page's own world: a secure window
// (contextBridge.executeInMainWorld) and the vendor configuration (contextIsolation off).
//  - the contract: verify false → null; setup's return value (a class instance, methods
//    intact) comes back synchronously; a repeated tag gives the first instance; a throwing
//    verify/setup is logged and gives null without breaking later calls;
//  - the context: getOSInfo / getProcessInfo / getMainProcessInfo answered by the main
//    process (this test process), getCurrentUserId / getAppkey / getConnectionStatus from
//    the state main sends; hooks (onmessage, onconnect, onconnectionstatuschange,
//    ondisconnect, ondestroy) fed by what the real imsync-server delivers; context.sendMessage
//    sends through the server to bob (both call forms).
// No sleeps: every wait ends on an event, a reply or a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { Engine } = h

const APP_KEY = 'ipc-plugin-key'
const APP_SECRET = 'ipc-plugin-secret'

/** The worlds a page runs plugins in: [label, open(), the API object's name in the page]. */
const MODES = [
  ['secure window (executeInMainWorld)', () => h.openWindow(), 'imsync'],
  ['vendor configuration (contextIsolation off)', () => h.openLegacyWindow(), 'RongIMLib'],
]

/** Page code: the contract's corner cases with API object `im`; returns a report. */
const CONTRACT = (im) => `
  const im = ${im}
  const report = {}
  let runtimeSeen = null
  report.refused = im.installPlugin({ tag: 'no', verify: (rt) => { runtimeSeen = rt; return false }, setup() { throw new Error('setup must not run') } })
  report.runtime = { tag: runtimeSeen.tag, platform: runtimeSeen.platform, socket: runtimeSeen.isSupportSocket() }
  class Client {
    constructor(context, options) { this.context = context; this.options = options }
    hello() { return 'hello ' + this.options.who }
  }
  let setups = 0
  const installer = { tag: 'demo', verify: () => true, setup: (context, runtime, options) => { setups++; return new Client(context, options) } }
  const client = im.installPlugin(installer, { who: 'page' })
  report.instanceOf = client instanceof Client
  report.hello = client.hello()
  report.contextCalls = ['getOSInfo', 'getProcessInfo', 'getMainProcessInfo', 'sendMessage', 'getCurrentUserId', 'getAppkey', 'getConnectionStatus', 'getServerTime'].filter((k) => typeof client.context[k] !== 'function')
  report.again = im.installPlugin({ tag: 'demo', verify: () => true, setup: () => 'second' }) === client
  report.setups = setups
  report.throwingSetup = im.installPlugin({ tag: 'boom', verify: () => true, setup() { throw new Error('boom in setup') } })
  report.throwingVerify = im.installPlugin({ tag: 'boom2', verify() { throw new Error('boom in verify') }, setup: () => 'never' })
  report.notInstaller = im.installPlugin(null)
  report.noVerify = im.installPlugin({ tag: 'nv', setup: () => 'x' })
  // The tag whose setup threw installs later (only a successful install holds its tag).
  report.retried = im.installPlugin({ tag: 'boom', verify: () => true, setup: () => 'fixed' })
  // An async setup that rejects is what installPlugin returns; it is logged, not unhandled.
  const rejecting = im.installPlugin({ tag: 'async', verify: () => true, setup: async () => { throw new Error('async boom') } })
  report.rejects = await rejecting.then(() => 'resolved', (e) => 'rejected: ' + e.message)
  report.untagged = im.installPlugin({ verify: () => true, setup: () => 1 }) + im.installPlugin({ verify: () => true, setup: () => 2 })
  report.stillWorks = (await im.getTags()).code
  return report
`

for (const [label, open, im] of MODES) {
  test(`installPlugin (${label}): verify, setup's instance, a repeated tag, throwing plugins`, async (t) => {
    const { service } = h.startService(t)
    assert.equal((await service.open('alice')).code, 0)
    const win = await open()
    const r = await h.page(win, CONTRACT(im))
    assert.equal(r.refused, null, 'verify false → null, setup not called')
    assert.deepEqual(r.runtime, { tag: 'electron', platform: 'electron', socket: true })
    assert.equal(r.instanceOf, true, "setup's own object comes back (not a copy)")
    assert.equal(r.hello, 'hello page', 'options reach setup; prototype methods work')
    assert.deepEqual(r.contextCalls, [], 'the context offers these calls')
    assert.equal(r.again, true, 'a repeated tag gives the first instance')
    assert.equal(r.setups, 1, 'and does not run setup again')
    assert.equal(r.throwingSetup, null)
    assert.equal(r.throwingVerify, null)
    assert.equal(r.notInstaller, null)
    assert.equal(r.noVerify, null)
    assert.equal(r.retried, 'fixed')
    assert.equal(r.rejects, 'rejected: async boom')
    assert.equal(r.untagged, 3, 'untagged plugins are not taken for one another')
    assert.equal(r.stillWorks, 0, 'the API object works after plugins threw')
    const errors = () => win.webContents.__console.filter((c) => c.level === 'error').map((c) => c.text)
    await win.webContents.__waitForConsole((c) => c.level === 'error' && /async boom/.test(c.text), { timeoutMs: 5000 })
    for (const what of [/"boom".*setup/, /"boom2".*verify/, /installer must be/, /"async".*rejected/]) {
      assert.ok(errors().some((e) => what.test(e)), `logged: ${what} in ${JSON.stringify(errors())}`)
    }
    assert.ok(win.webContents.__console.some((c) => c.level === 'warn' && /"demo" is installed already/.test(c.text)))
  })
}

test('older Electron (exposeInMainWorld): installPlugin exists and answers verify/null (documented: the instance is a copy)', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } })
  const r = await h.page(
    win,
    `return {
      refused: imsync.installPlugin({ tag: 'no', verify: () => false, setup: () => 1 }),
      value: imsync.installPlugin({ tag: 'yes', verify: () => true, setup: (context) => ({ n: 7, calls: typeof context.getOSInfo }) }),
    }`,
  )
  assert.equal(r.refused, null)
  assert.deepEqual(r.value, { n: 7, calls: 'function' })
})

// ---- the context against imsync-server -------------------------------------------------------

/** bob: his own Engine and database in this process, connected to the server. */
async function startBob(t, server) {
  const dbpath = h.tmpDir('plugin-bob')
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: server.url, logOutputLevel: 1 })
  engine.onEvent(() => {})
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const tap = tapOf(engine)
  const r = await h.withDeadline(engine.connect(await server.getToken('bob')), 15000, 'bob connect')
  assert.deepEqual(r, { code: 0, data: { userId: 'bob' } })
  await tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'bob PULL_OFFLINE_MESSAGE_FINISHED', { ms: 10000 })
  return { engine, tap }
}

/** Page code: installs the probe plugin; its hooks record into globalThis.P. */
const PROBE_PLUGIN = (im) => `
  const im = ${im}
  globalThis.P = {
    messages: [], statuses: [], connects: 0, disconnects: [], destroyed: 0, waiters: new Set(),
    poke() { for (const w of [...P.waiters]) w() },
    until(pred) {
      return new Promise((resolve) => {
        const check = () => { const v = pred(); if (v) { P.waiters.delete(check); resolve(v) } }
        P.waiters.add(check)
        check()
      })
    },
  }
  class Probe {
    constructor(context) { this.context = context }
  }
  globalThis.probe = im.installPlugin({
    tag: 'probe',
    verify: (runtime) => runtime.tag === 'electron',
    setup(context, runtime, options) {
      context.onmessage = (message) => { P.messages.push(message); P.poke() }
      context.onconnectionstatuschange = (status) => { P.statuses.push(status); P.poke() }
      context.onconnect = () => { P.connects++; P.poke() }
      context.ondisconnect = (code) => { P.disconnects.push(code); P.poke() }
      // A plugin may still call the API while it is torn down.
      context.ondestroy = () => { P.destroyed++; P.lastInfo = context.getMainProcessInfo() }
      return new Probe(context)
    },
  })
  return probe instanceof Probe
`

test('a plugin context in a window: main-process info, state, hooks fed by imsync-server, sendMessage to bob', async (t) => {
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  const { service } = h.startService(t, { appkey: APP_KEY, serverUrl: server.url })
  const bob = await startBob(t, server)
  const windows = []
  for (const [label, open, im] of MODES) {
    const win = await open()
    assert.equal(await h.page(win, PROBE_PLUGIN(im)), true, label)
    windows.push({ label, win, im })
  }
  // Installed before connecting, as apps do; the first window connects for the app.
  const token = await server.getToken('alice')
  assert.deepEqual(await h.page(windows[0].win, `return await ${windows[0].im}.connect(${JSON.stringify(token)})`, 15000), { code: 0, data: { userId: 'alice' } })

  for (const { label, win } of windows) {
    await h.page(win, 'return await P.until(() => P.connects > 0 && P.statuses.includes(0))', 10000)
    const r = await h.page(
      win,
      `const c = probe.context
      return {
        os: await c.getOSInfo(),
        proc: await c.getProcessInfo(),
        main: await c.getMainProcessInfo(),
        userId: c.getCurrentUserId(),
        appkey: c.getAppkey(),
        status: c.getConnectionStatus(),
        time: c.getServerTime() - Date.now(),
      }`,
    )
    // Answered by the main process: this test process.
    assert.equal(r.os.platform, os.platform(), label)
    assert.equal(r.os.arch, os.arch())
    assert.equal(r.os.totalmem, os.totalmem())
    assert.equal(r.os.cpuCount, os.cpus().length)
    assert.equal('hostname' in r.os, false, 'no host name')
    assert.equal(r.main.pid, process.pid, label)
    assert.equal(r.main.type, 'browser')
    assert.equal(r.main.versions.node, process.versions.node)
    assert.equal(typeof r.main.memory.rss, 'number')
    assert.equal(r.proc.type, 'renderer')
    assert.equal(r.proc.pid, win.webContents.getOSProcessId(), `${label}: the calling window's renderer process`)
    assert.notEqual(r.proc.pid, process.pid)
    assert.equal(r.proc.webContentsId, win.webContents.id)
    assert.equal(r.userId, 'alice', label)
    assert.equal(r.appkey, APP_KEY)
    assert.equal(r.status, 0)
    assert.ok(Math.abs(r.time) < 5000, `server time ${r.time}`)
  }

  // bob writes: every window's plugin hook gets the message.
  const sent = await bob.engine.sendMessage({ conversationType: 1, targetId: 'alice' }, { messageType: 'RC:TxtMsg', content: { content: 'to the plugin' } })
  assert.equal(sent.code, 0)
  for (const { label, win } of windows) {
    const m = await h.page(win, `return await P.until(() => P.messages.find((m) => m.messageUId === ${JSON.stringify(sent.data.messageUId)}))`, 10000)
    assert.equal(m.content.content, 'to the plugin', label)
    assert.equal(m.senderUserId, 'bob')
  }

  // An onmessage hook that answers true keeps that message from the app's MESSAGES listeners
  // (bob's 'secret'), the next one reaches them; plugins in other windows are unaffected.
  for (const { win, im } of windows) {
    await h.page(
      win,
      `globalThis.A = { seen: [], kept: [] }
      ${im}.addEventListener('MESSAGES', (e) => { for (const m of e.messages) A.seen.push(m.content.content); P.poke() })
      ${im}.installPlugin({ tag: 'filter', verify: () => true, setup(context) {
        context.onmessage = (m) => { if (m.content.content === 'secret') { A.kept.push(m.messageUId); return true } return false }
      } })
      await ${im}.getConnectionStatusAsync()`,
    )
  }
  const secret = await bob.engine.sendMessage({ conversationType: 1, targetId: 'alice' }, { messageType: 'RC:TxtMsg', content: { content: 'secret' } })
  const open = await bob.engine.sendMessage({ conversationType: 1, targetId: 'alice' }, { messageType: 'RC:TxtMsg', content: { content: 'public' } })
  assert.equal(secret.code + open.code, 0)
  for (const { label, win } of windows) {
    const r = await h.page(win, `await P.until(() => A.seen.includes('public')); return { seen: A.seen, kept: A.kept, probe: P.messages.map((m) => m.content.content) }`, 10000)
    assert.deepEqual(r.seen, ['public'], `${label}: the app's listener did not get the consumed message`)
    assert.deepEqual(r.kept, [secret.data.messageUId])
    assert.ok(r.probe.includes('secret') && r.probe.includes('public'), `${label}: every plugin's hook saw both`)
  }

  // context.sendMessage, RongIMLib's form and the engine context's form, reach bob.
  for (const { label, win, im } of windows) {
    for (const [form, call] of [
      ['imlib', `probe.context.sendMessage({ conversationType: 1, targetId: 'bob' }, new ${im}.TextMessage({ content: 'from ${label} (imlib form)' }))`],
      ['engine', `probe.context.sendMessage(1, 'bob', { messageType: 'RC:TxtMsg', content: { content: 'from ${label} (engine form)' } })`],
    ]) {
      const r = await h.page(win, `return await ${call}`, 15000)
      assert.equal(r.code, 0, `${label} ${form}: ${JSON.stringify(r)}`)
      assert.equal(typeof r.data.messageUId, 'string')
      const got = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === r.data.messageUId), `bob gets the ${label} ${form} send`, { ms: 10000 })
      const m = got.payload.messages.find((x) => x.messageUId === r.data.messageUId)
      assert.equal(m.content.content, `from ${label} (${form} form)`)
      assert.equal(m.senderUserId, 'alice')
    }
  }

  // Disconnect: ondisconnect and the status change reach the hooks.
  assert.equal((await h.page(windows[0].win, `return await ${windows[0].im}.disconnect()`, 15000)).code, 0)
  for (const { label, win } of windows) {
    const s = await h.page(win, 'return await P.until(() => P.disconnects.length && P.statuses[P.statuses.length - 1] === 2 && P.statuses)', 10000)
    assert.equal(s[s.length - 1], 2, label)
  }

  // destroy() in a window calls ondestroy and uninstalls there: the tag installs anew.
  for (const { label, win, im } of windows) {
    const r = await h.page(
      win,
      `await ${im}.destroy()
      const destroyed = P.destroyed
      const lastPid = (await P.lastInfo).pid
      await ${im}.init()
      const again = ${im}.installPlugin({ tag: 'probe', verify: () => true, setup: () => 'fresh' })
      return { destroyed, lastPid, again }`,
    )
    assert.deepEqual(r, { destroyed: 1, lastPid: process.pid, again: 'fresh' }, label)
  }
  assert.equal(service.connectionStatus, 2)
})

test("'imsync:info' answers registered windows only, and only the three kinds", async (t) => {
  const { service } = h.startService(t, { windows: 'manual' })
  await service.open('alice')
  const win = await h.openWindow()
  const ask = (kind) => h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:info', ${JSON.stringify(kind)})`)
  assert.equal((await ask('os')).code, 35005, 'not registered: refused')
  service.addWindow(win)
  assert.equal((await ask('os')).code, 0)
  const bad = await ask('env')
  assert.equal(bad.code, 33003)
  assert.match(bad.msg, /"env"/)
  await service.destroy()
  assert.equal(h.electron.ipcMain._handlers.has('imsync:info'), false, 'destroy() removes the handler')
})
