'use strict'
// The sync engine through the Electron glue, end to end: the real imsync-server on loopback,
// alice's app = js/main.js hosted in this process (the stand-in `electron`, see
// electron/harness.js) with renderer child processes as windows, bob = a second native Engine
// in this process with his own database. Nothing is injected: every event a window sees was
// emitted by the engine because the server delivered something.
// - The seed's connect and event-listener examples (electron/fixtures-sync, verbatim) run
//   with `RongIMLib` bound to the renderer API object.
// - Two windows share one connection and one database; events fan out to both, identical to
//   the engine's own payload; removeEventListener in one window affects only that window.
// - A window killed while connected disturbs neither the connection nor the other window.
// - service.destroy() while connected closes the session (the server sees alice leave),
//   resolves, is idempotent; a window call afterwards gets a clear failure.
// No sleeps for ordering: every wait ends on an event, a reply or a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const h = require('./electron/harness')
const { startServer: startTestServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { electron, Engine } = h
const seed = require('./electron/fixtures-sync/seed-connect-examples')

const APP_KEY = 'ipc-sync-key'
const APP_SECRET = 'ipc-sync-secret'
const PRIVATE = 1
const byName = Object.fromEntries(seed.map((s) => [s.name, s]))


const hasUid = (uid) => (e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === uid)

// ---- the server --------------------------------------------------------------------------------

const servers = new Map()

/** imsync-server for this test (helpers/server.js), remembered by its URL. */
async function startServer(t) {
  const server = await startTestServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  servers.set(server.url, server)
  return server
}

const admin = (url, route, body) => servers.get(url).admin(route, body)
const getToken = (url, userId) => servers.get(url).getToken(userId)

/** Sessions the server holds right now (GET /health). */
async function serverSessions(url) {
  const json = await (await fetch(`${url}/health`)).json()
  assert.equal(json.code, 200, JSON.stringify(json))
  return json.sessions
}

/** Re-checks `probe()` until it is truthy, failing at the deadline. */
async function until(probe, ms, label) {
  const end = Date.now() + ms
  let last
  for (;;) {
    last = await probe()
    if (last.ok) return last
    if (Date.now() > end) assert.fail(`deadline: ${label} within ${ms} ms (last: ${JSON.stringify(last)})`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// ---- the people ------------------------------------------------------------------------------

/** bob: his own Engine and database in this process, connected to the server. */
async function startBob(t, url, userId = 'bob') {
  const dbpath = h.tmpDir('sync-bob')
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: url, logOutputLevel: 1 })
  engine.onEvent(() => {})
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const r = await h.withDeadline(engine.connect(await getToken(url, userId)), 15000, 'bob connect')
  assert.deepEqual(r, { code: 0, data: { userId } })
  const tap = tapOf(engine)
  await tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'bob PULL_OFFLINE_MESSAGE_FINISHED', { ms: 10000 })
  return {
    engine,
    tap,
    /** Sends a text to `to`; resolves the stored, SENT message. */
    async send(to, content) {
      const sent = await engine.sendMessage({ conversationType: PRIVATE, targetId: to }, { messageType: 'RC:TxtMsg', content: { content } })
      assert.equal(sent.code, 0, `bob's send: ${JSON.stringify(sent)}`)
      assert.equal(typeof sent.data.messageUId, 'string')
      return sent.data
    },
  }
}

/** alice's app: the service (js/main.js) with serverUrl, on a fresh dbpath. */
function startAlice(t, url) {
  const { service, spy, dbpath } = h.startService(t, { appkey: APP_KEY, serverUrl: url })
  return { service, spy, dbpath, tap: tapOf(service.engine) }
}

// Page-side recorder: listeners push { tag, name, payload } and wake the waiters.
const PAGE_RECORDER = `
  globalThis.T = {
    events: [],
    waiters: new Set(),
    record(tag, name) {
      return (payload) => {
        T.events.push({ tag, name, payload })
        for (const w of [...T.waiters]) w()
      }
    },
    wait(pred) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = T.events.find(pred)
          if (hit) {
            T.waiters.delete(check)
            resolve(hit)
          }
        }
        T.waiters.add(check)
        check()
      })
    },
  }
`
/** Page code: waits (with the control call's deadline) for a recorded event of `tag` carrying message `uid`. */
const waitTagged = (win, tag, uid, ms = 10000) =>
  h.page(win, `return await T.wait((e) => e.tag === ${JSON.stringify(tag)} && e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(uid)}))`, ms)

/** Watches this (the main) process for uncaught exceptions and unhandled rejections. */
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

// ---- 1. the seed's examples ---------------------------------------------------------------------

const SEED_RUNNER = `
  globalThis.seedLog = []
  globalThis.seedWaiters = new Set()
  globalThis.seedWait = (pred) => new Promise((resolve) => {
    const check = () => {
      const hit = seedLog.find(pred)
      if (hit) {
        seedWaiters.delete(check)
        resolve(hit)
      }
    }
    seedWaiters.add(check)
    check()
  })
  globalThis.runSeed = async (RongIMLib, name, code) => {
    const tag = (level) => (...args) => {
      seedLog.push({ name, level, args })
      for (const w of [...seedWaiters]) w()
    }
    const console = { log: tag('log'), warn: tag('warn'), error: tag('error'), info: tag('info') }
    // Direct eval inside a function whose parameters are RongIMLib and console: the example's
    // top-level declarations stay inside the eval; its completion value is its promise chain.
    const run = new Function('RongIMLib', 'console', 'return eval(arguments[2])')
    let value
    let threw = null
    try {
      value = run(RongIMLib, console, code)
      if (value && typeof value.then === 'function') value = await value
    } catch (e) {
      threw = String(e && e.message ? e.message : e)
    }
    return { threw, value: typeof value === 'function' ? 'function' : value }
  }
`

// The vendor docs live beside the repository in the project workspace (../shared), not in
// it: a checkout without them skips this one check (the snippets themselves still run).
const SEED_FILE = path.join(h.ROOT, '..', 'shared', 'reference', 'seeds', '002_7c5513e7d30605ec.txt')

test('the example snippets are the seed text, verbatim', { skip: !fs.existsSync(SEED_FILE) && 'the seed docs (../shared) are not beside this checkout' }, () => {
  const lines = fs.readFileSync(SEED_FILE, 'utf8').split('\n')
  for (const ex of seed) assert.equal(ex.code, lines.slice(ex.lines[0] - 1, ex.lines[1]).join('\n'), ex.name)
  assert.equal(seed.length, 6)
})

test("the seed's connect and event-listener examples run unchanged against the real server (secure window and vendor window)", async (t) => {
  const { url } = await startServer(t)
  const alice = startAlice(t, url)
  const bob = await startBob(t, url)
  const token = await getToken(url, 'alice')
  // A secure window (contextIsolation, sandbox; RongIMLib = window.imsync) runs every example,
  // connect included; a vendor-configuration window (RongIMLib global) runs the listeners only.
  const secure = await h.openWindow()
  const vendor = await h.openLegacyWindow()
  const windows = [
    [secure, 'window.imsync'],
    [vendor, 'window.RongIMLib'],
  ]
  const run = (win, rong, name, code = byName[name].code) =>
    h.page(win, `return await runSeed(${rong}, ${JSON.stringify(name)}, ${JSON.stringify(code)})`)
  const logOf = (win) => h.page(win, 'return seedLog.map((l) => [l.name, l.level, ...l.args])')
  const waitLog = (win, pred, ms = 10000) => h.page(win, `return await seedWait(${pred})`, ms)

  for (const [win, rong] of windows) {
    await h.page(win, SEED_RUNNER)
    for (const name of ['init', 'addListener CONNECTING / CONNECTED / MESSAGES', 'addEventListener MESSAGES', 'addEventListener CONNECTING / CONNECTED / DISCONNECT / SUSPEND']) {
      const r = await run(win, rong, name)
      assert.equal(r.threw, null, `${name} threw ${r.threw}`)
    }
    assert.deepEqual((await run(win, rong, 'init')).value, { code: 0 })
    // One call after subscribing: the main process has the subscriptions (one FIFO pipe).
    assert.equal((await h.page(win, `return (await ${rong}.getConnectionStatusAsync()).code`)), 0)
  }

  // connect: the only change to the example is the token placeholder.
  const connectCode = byName.connect.code.replace("'<Your-Token>'", JSON.stringify(token))
  assert.notEqual(connectCode, byName.connect.code)
  const connected = await h.withDeadline(run(secure, 'window.imsync', 'connect', connectCode), 15000, 'the connect example')
  assert.equal(connected.threw, null)
  for (const [win] of windows) {
    // Both windows saw the engine's CONNECTING and CONNECTED through both listener examples.
    await waitLog(win, `(l) => l.args[0] === '连接成功'`)
    await waitLog(win, `(l) => l.args[0] === '已经连接到服务器'`)
    const log = (await logOf(win)).map((l) => l.slice(2).join(' '))
    for (const line of ['正在连接服务器', '正在链接...', '已经连接到服务器', '连接成功']) assert.ok(log.includes(line), `${line} in ${JSON.stringify(log)}`)
  }
  const secureLog = await logOf(secure)
  assert.deepEqual(
    secureLog.filter((l) => l[0] === 'connect'),
    [['connect', 'log', '连接成功，连接用户 id 为: ', 'alice']],
    'the connect example saw res.code === ErrorCode.SUCCESS and res.data.userId',
  )
  assert.equal(alice.service.engine.userId, 'alice')
  const connectCall = alice.spy.calls.find((c) => c.method === 'connect')
  assert.deepEqual(connectCall.args, [token])
  assert.deepEqual(connectCall.result, { code: 0, data: { userId: 'alice' } })

  // bob → alice: both MESSAGES examples log evt.messages, in both windows, as the engine emitted it.
  const first = await bob.send('alice', 'hello from bob')
  const emitted = (await alice.tap.wait(hasUid(first.messageUId), 'alice MESSAGES', { ms: 10000 })).payload
  for (const [win] of windows) {
    const pred = (example) => `(l) => l.name === ${JSON.stringify(example)} && Array.isArray(l.args[0]) && l.args[0].some((m) => m.messageUId === ${JSON.stringify(first.messageUId)})`
    const a = await waitLog(win, pred('addListener CONNECTING / CONNECTED / MESSAGES'))
    const b = await waitLog(win, pred('addEventListener MESSAGES'))
    assert.deepStrictEqual(a.args, [emitted.messages])
    assert.deepStrictEqual(b.args, [emitted.messages])
    const m = emitted.messages.find((x) => x.messageUId === first.messageUId)
    assert.equal(m.senderUserId, 'bob')
    assert.equal(m.messageDirection, 2)
    assert.deepEqual(m.content, { content: 'hello from bob' })
  }

  // The remove example removes every MESSAGES listener in its window (the secure one only):
  // the next message reaches a listener added afterwards (the sentinel), and no example's.
  assert.equal((await run(secure, 'window.imsync', 'removeEventListener / removeEventListeners')).threw, null)
  await h.page(secure, `${PAGE_RECORDER}; imsync.addEventListener(imsync.Events.MESSAGES, T.record('sentinel', 'MESSAGES')); await imsync.getConnectionStatusAsync()`)
  const second = await bob.send('alice', 'second from bob')
  await waitTagged(secure, 'sentinel', second.messageUId)
  const uidIn = (l, uid) => Array.isArray(l[2]) && l[2].some((m) => m.messageUId === uid)
  assert.deepEqual((await logOf(secure)).filter((l) => uidIn(l, second.messageUId)), [], 'no example listener ran in the secure window')
  // The vendor window did not remove anything: both its examples got the second message.
  for (const example of ['addListener CONNECTING / CONNECTED / MESSAGES', 'addEventListener MESSAGES']) {
    await waitLog(vendor, `(l) => l.name === ${JSON.stringify(example)} && Array.isArray(l.args[0]) && l.args[0].some((m) => m.messageUId === ${JSON.stringify(second.messageUId)})`)
  }

  // disconnect (any window): the DISCONNECT example logs the engine's code, 2, in both windows.
  assert.deepEqual(await h.page(vendor, 'return await RongIMLib.disconnect()'), { code: 0 })
  for (const [win] of windows) {
    const l = await waitLog(win, `(l) => l.args[0] === '连接中断，需要业务层进行重连处理 ->'`)
    assert.deepEqual(l.args, ['连接中断，需要业务层进行重连处理 ->', 2])
  }
  assert.deepEqual(await h.page(secure, 'return await imsync.getConnectionStatusAsync()'), { code: 0, data: 2 })
  assert.equal(await h.page(secure, 'return imsync.getConnectionStatus()'), 2, 'synchronous, as in RongIMLib')
  // No example reported a failure.
  for (const [win] of windows) assert.deepEqual((await logOf(win)).filter((l) => l[1] !== 'log'), [])
})

// ---- 2. two windows, one connection, one database -----------------------------------------------

test('two windows share one connection and one database: both receive the message, B reads it, A replies, a removed listener stops only its own window', async (t) => {
  const { url } = await startServer(t)
  const alice = startAlice(t, url)
  const bob = await startBob(t, url)
  const a = await h.openWindow()
  const b = await h.openWindow()
  for (const win of [a, b]) {
    await h.page(
      win,
      `${PAGE_RECORDER}
      globalThis.fn = T.record('fn', 'MESSAGES')
      globalThis.keep = T.record('keep', 'MESSAGES')
      imsync.addEventListener(imsync.Events.MESSAGES, fn)
      imsync.addEventListener(imsync.Events.MESSAGES, keep)
      imsync.addEventListener(imsync.Events.CONVERSATION, T.record('conv', 'CONVERSATION'))
      await imsync.getConnectionStatusAsync()`,
    )
  }
  // Window A connects; window B is on the same connection (status CONNECTED, no second session).
  const token = await getToken(url, 'alice')
  const connected = await h.page(a, `return await imsync.connect(${JSON.stringify(token)})`, 15000)
  assert.deepEqual(connected, { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED', { ms: 10000 })
  assert.deepEqual(await h.page(b, 'return await imsync.getConnectionStatusAsync()'), { code: 0, data: 0 })
  assert.equal(await h.page(b, 'return imsync.getConnectionStatus()'), 0, 'the window that did not connect knows too')
  assert.equal(await serverSessions(url), 2, 'one session for alice (both windows) and one for bob')
  assert.equal(alice.spy.count('connect'), 1)

  // bob → alice: BOTH windows get the MESSAGES event, identical to the engine's own payload.
  const hello = await bob.send('alice', '你好 alice')
  const emitted = (await alice.tap.wait(hasUid(hello.messageUId), 'alice MESSAGES', { ms: 10000 })).payload
  for (const win of [a, b]) {
    const got = await waitTagged(win, 'fn', hello.messageUId)
    assert.deepStrictEqual(got.payload, emitted, 'the window received what the engine emitted')
  }
  const received = emitted.messages.find((m) => m.messageUId === hello.messageUId)
  assert.equal(received.senderUserId, 'bob')
  assert.equal(received.messageDirection, 2)
  assert.equal(received.targetId, 'bob')
  assert.deepEqual(received.content, { content: '你好 alice' })
  assert.equal(typeof received.messageId, 'number')

  // Window B reads it from the shared database.
  const conversation = `{ conversationType: imsync.ConversationType.PRIVATE, targetId: 'bob' }`
  const history = await h.page(b, `return await imsync.getHistoryMessages(${conversation}, { timestamp: 0, count: 20, order: 0 })`)
  assert.equal(history.code, 0, JSON.stringify(history))
  const stored = history.data.list.find((m) => m.messageUId === hello.messageUId)
  assert.ok(stored, `B's history has the message: ${JSON.stringify(history.data.list)}`)
  for (const k of ['messageId', 'messageUId', 'senderUserId', 'messageDirection', 'sentTime', 'messageType', 'content', 'conversationType', 'targetId']) {
    assert.deepStrictEqual(stored[k], received[k], k)
  }

  // Window A replies with sendMessage(new RongIMLib.TextMessage(...)); bob receives it.
  const reply = await h.page(a, `return await imsync.sendMessage(${conversation}, new imsync.TextMessage({ content: 'hi bob, from window A' }))`, 15000)
  assert.equal(reply.code, 0, JSON.stringify(reply))
  assert.equal(reply.data.sentStatus, 30, 'SENT')
  assert.equal(typeof reply.data.messageUId, 'string')
  const atBob = (await bob.tap.wait(hasUid(reply.data.messageUId), 'bob receives the reply', { ms: 10000 })).payload.messages.find((m) => m.messageUId === reply.data.messageUId)
  assert.equal(atBob.senderUserId, 'alice')
  assert.equal(atBob.messageDirection, 2)
  assert.equal(atBob.messageType, 'RC:TxtMsg')
  assert.deepEqual(atBob.content, { content: 'hi bob, from window A' })
  // …and window B sees A's reply in the shared database too.
  const after = await h.page(b, `return (await imsync.getHistoryMessages(${conversation}, { timestamp: 0, count: 20, order: 0 })).data.list.map((m) => m.messageUId)`)
  assert.ok(after.includes(reply.data.messageUId) && after.includes(hello.messageUId), JSON.stringify(after))

  // B removes `fn`: in B only `keep` runs; A still gets both (same dispatch, so no waiting for absence).
  await h.page(b, 'imsync.removeEventListener(imsync.Events.MESSAGES, fn); await imsync.getConnectionStatusAsync()')
  const third = await bob.send('alice', 'third')
  await waitTagged(b, 'keep', third.messageUId)
  await waitTagged(a, 'fn', third.messageUId)
  await waitTagged(a, 'keep', third.messageUId)
  const bFn = await h.page(b, `return T.events.filter((e) => e.tag === 'fn').map((e) => e.payload.messages.map((m) => m.messageUId)).flat()`)
  assert.ok(bFn.includes(hello.messageUId))
  assert.ok(!bFn.includes(third.messageUId), 'the removed listener did not run')

  // B removes its last MESSAGES listener: main stops sending MESSAGES to B; A is unaffected.
  await h.page(b, 'imsync.removeEventListener(imsync.Events.MESSAGES, keep); await imsync.getConnectionStatusAsync()')
  const sends = h.countSends()
  t.after(() => sends.stop())
  const fourth = await bob.send('alice', 'fourth')
  await waitTagged(a, 'fn', fourth.messageUId)
  // The fan-out of one engine event is one synchronous loop over the windows: by now it is done.
  assert.equal(sends.get(a.webContents, 'imsync:event', 'MESSAGES'), 1)
  assert.equal(sends.get(b.webContents, 'imsync:event', 'MESSAGES'), 0)
  // B still gets the CONVERSATION event it listens to (emitted after MESSAGES for the same batch).
  await h.page(b, `return await T.wait((e) => e.tag === 'conv' && e.payload.conversationList.some(({ conversation: c, updatedItems }) => c.latestMessage && c.latestMessage.messageUId === ${JSON.stringify(fourth.messageUId)} && updatedItems.latestMessage.val.messageUId === c.latestMessage.messageUId))`, 10000)
  assert.equal(await h.page(b, `return T.events.filter((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(fourth.messageUId)})).length`), 0)
})

// ---- 3. a window dies while connected -------------------------------------------------------------

test('a window killed while connected disturbs neither the connection nor the other window', async (t) => {
  const problems = watchMainProcess(t)
  const { url } = await startServer(t)
  const alice = startAlice(t, url)
  const bob = await startBob(t, url)
  const a = await h.openWindow()
  const b = await h.openWindow()
  for (const win of [a, b]) {
    await h.page(win, `${PAGE_RECORDER}; imsync.addEventListener(imsync.Events.MESSAGES, T.record('m', 'MESSAGES')); await imsync.getConnectionStatusAsync()`)
  }
  // The window that connected is the one that dies.
  const token = await getToken(url, 'alice')
  assert.deepEqual(await h.page(a, `return await imsync.connect(${JSON.stringify(token)})`, 15000), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED', { ms: 10000 })
  const before = await bob.send('alice', 'before the crash')
  for (const win of [a, b]) await waitTagged(win, 'm', before.messageUId)

  const gone = h.waitForEvent(a.webContents, 'render-process-gone')
  a.webContents.__kill('SIGKILL')
  const [, details] = await gone
  assert.equal(details.reason, 'killed')

  // The connection is untouched: B sees CONNECTED, the server still has alice's one session.
  assert.deepEqual(await h.page(b, 'return await imsync.getConnectionStatusAsync()'), { code: 0, data: 0 })
  assert.equal(await serverSessions(url), 2)
  const sends = h.countSends()
  t.after(() => sends.stop())
  const next = await bob.send('alice', 'after the crash')
  const got = await waitTagged(b, 'm', next.messageUId)
  const emitted = (await alice.tap.wait(hasUid(next.messageUId), 'alice MESSAGES', { ms: 10000 })).payload
  assert.deepStrictEqual(got.payload, emitted)
  assert.equal(sends.get(a.webContents, 'imsync:event', 'MESSAGES'), 0, 'nothing sent to the dead renderer')
  // B can still send on the shared connection.
  const r = await h.page(b, `return await imsync.sendMessage({ conversationType: 1, targetId: 'bob' }, new imsync.TextMessage({ content: 'B carries on' }))`, 15000)
  assert.equal(r.code, 0, JSON.stringify(r))
  await bob.tap.wait(hasUid(r.data.messageUId), 'bob receives B’s message', { ms: 10000 })
  // No engine event reported a drop of the connection.
  assert.deepEqual(
    alice.tap.events.filter((e) => e.name === 'SUSPEND' || e.name === 'DISCONNECT'),
    [],
  )
  assert.equal(alice.spy.count('disconnect'), 0)
  assert.deepEqual(problems, [])
})

// ---- 4. destroy while connected -------------------------------------------------------------------

/** alice connected from a window, bob connected; returns everything for the destroy tests. */
async function connectedApp(t) {
  const { url } = await startServer(t)
  const alice = startAlice(t, url)
  const bob = await startBob(t, url)
  const win = await h.openWindow()
  await h.page(win, `${PAGE_RECORDER}; imsync.addEventListener(imsync.Events.MESSAGES, T.record('m', 'MESSAGES')); await imsync.getConnectionStatusAsync()`)
  const token = await getToken(url, 'alice')
  assert.deepEqual(await h.page(win, `return await imsync.connect(${JSON.stringify(token)})`, 15000), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED', { ms: 10000 })
  const hello = await bob.send('alice', 'hello before destroy')
  await waitTagged(win, 'm', hello.messageUId)
  assert.equal(await serverSessions(url), 2)
  return { url, alice, bob, win }
}

test('service.destroy() while connected: closes the session (the server sees alice leave), resolves, is idempotent', async (t) => {
  const problems = watchMainProcess(t)
  const { url, alice, bob } = await connectedApp(t)
  const { service } = alice
  const d1 = service.destroy()
  const d2 = service.destroy()
  assert.equal(d1, d2, 'the same promise')
  assert.equal(await h.withDeadline(d1, 15000, 'destroy'), undefined)
  await h.withDeadline(service.destroy(), 1000, 'destroy again')
  assert.equal(alice.spy.count('close'), 1, 'the engine was closed once')
  // The engine ended its own session: DISCONNECT(2), the user's manual code.
  await alice.tap.wait((e) => e.name === 'DISCONNECT', 'alice DISCONNECT', { ms: 5000 })
  assert.deepEqual(alice.tap.events.filter((e) => e.name === 'DISCONNECT').map((e) => e.payload), [2])
  assert.equal(service.engine.userId, null, 'the database is closed')
  // The server saw alice's connection close: only bob's session is left.
  await until(
    async () => {
      const sessions = await serverSessions(url)
      return { ok: sessions === 1, sessions }
    },
    5000,
    'the server drops alice’s session',
  )
  // bob is unaffected and can still send to alice (stored for her next connect).
  assert.deepEqual(await bob.engine.getConnectionStatus(), { code: 0, data: 0 })
  await bob.send('alice', 'while alice is away')
  // Nothing reconnects behind the destroyed service.
  assert.equal(await serverSessions(url), 1)
  assert.deepEqual(alice.tap.events.filter((e) => e.name === 'CONNECTING' || e.name === 'CONNECTED').length, 2, 'one CONNECTING and one CONNECTED, from the first connect only')
  assert.equal((await service.call('getConnectionStatus')).code, 35005)
  assert.deepEqual(problems, [])
})

test('after service.destroy(), a window call resolves a clear failure promptly (not a 30 s wait)', async (t) => {
  const { alice, win } = await connectedApp(t)
  await h.withDeadline(alice.service.destroy(), 15000, 'destroy')
  const started = Date.now()
  const r = await h.page(win, 'return await imsync.getConnectionStatusAsync()', 5000)
  assert.equal(r.code, 35005, JSON.stringify(r))
  assert.match(r.msg, /destroy|shut ?down|closed|quit/i, 'the failure says the service is gone')
  assert.ok(Date.now() - started < 5000)
})
