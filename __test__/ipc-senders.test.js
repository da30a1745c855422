'use strict'
// The typed senders of IMLib 5.x (issue 11) through a window of the test `electron` stand-in:
//  - sendTextMessage(conversation, messageBody, options) sends through the real imsync-server
//    and bob receives it; options mean what they mean for sendMessage (onSendBefore gets the
//    stored message first); a messageBody that is not an object answers 33003 naming it;
//  - the media senders exist as members and answer 35004 naming themselves, without a call
//    reaching the main process (uploads are not served yet).
// No sleeps: every wait ends on an event, a reply or a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { electron, Engine } = h

const APP_KEY = 'ipc-senders-key'
const APP_SECRET = 'ipc-senders-secret'
const MEDIA = ['sendImageMessage', 'sendGIFMessage', 'sendFileMessage', 'sendHQVoiceMessage', 'sendSightMessage', 'sendCombineMessage']

async function startBob(t, server) {
  const dbpath = h.tmpDir('senders-bob')
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: server.url, logOutputLevel: 1 })
  engine.onEvent(() => {})
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const tap = tapOf(engine)
  assert.deepEqual(await h.withDeadline(engine.connect(await server.getToken('bob')), 15000, 'bob connect'), { code: 0, data: { userId: 'bob' } })
  return { engine, tap }
}

test('sendTextMessage from a window reaches bob through imsync-server (secure window and vendor configuration)', async (t) => {
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  h.startService(t, { appkey: APP_KEY, serverUrl: server.url })
  const bob = await startBob(t, server)
  const secure = await h.openWindow()
  const legacy = await h.openLegacyWindow()
  const token = await server.getToken('alice')
  assert.equal((await h.page(secure, `return await imsync.connect(${JSON.stringify(token)})`, 15000)).code, 0)
  for (const [label, win, im] of [
    ['secure window', secure, 'imsync'],
    ['vendor configuration', legacy, 'RongIMLib'],
  ]) {
    const text = `hello bob from the ${label}`
    const r = await h.page(
      win,
      `const before = []
      const r = await ${im}.sendTextMessage({ conversationType: ${im}.ConversationType.PRIVATE, targetId: 'bob' }, { content: ${JSON.stringify(text)}, extra: 'x' }, {
        onSendBefore: (m) => before.push({ messageId: m.messageId, sentStatus: m.sentStatus, content: m.content.content }),
      })
      return { r, before }`,
      15000,
    )
    assert.equal(r.r.code, 0, `${label}: ${JSON.stringify(r.r)}`)
    assert.equal(r.r.data.messageType, 'RC:TxtMsg')
    assert.equal(r.r.data.content.content, text)
    assert.equal(typeof r.r.data.messageUId, 'string')
    assert.equal(r.before.length, 1, 'onSendBefore ran once')
    assert.equal(r.before[0].messageId, r.r.data.messageId, 'with the stored message that was sent')
    assert.equal(r.before[0].sentStatus, 10)
    assert.equal(r.before[0].content, text)
    const got = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === r.r.data.messageUId), `bob gets the ${label} text`, { ms: 10000 })
    const m = got.payload.messages.find((x) => x.messageUId === r.r.data.messageUId)
    assert.equal(m.messageType, 'RC:TxtMsg')
    assert.equal(m.content.content, text)
    assert.equal(m.content.extra, 'x')
    assert.equal(m.senderUserId, 'alice')
  }
  // A messageBody that is not an object: 33003 naming it, nothing sent.
  for (const bad of ['"text"', 'null', '[]', 'undefined']) {
    const r = await h.page(secure, `return await imsync.sendTextMessage({ conversationType: 1, targetId: 'bob' }, ${bad})`)
    assert.equal(r.code, 33003, bad)
    assert.match(r.msg, /messageBody/, bad)
  }
})

test('media senders are members that answer 35004 naming themselves, without reaching the main process', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const invoked = []
  const onInvoke = (wc, channel, args) => invoked.push(args[0])
  electron.__probe.on('invoke', onInvoke)
  t.after(() => electron.__probe.removeListener('invoke', onInvoke))
  for (const [label, open, im] of [
    ['secure window', () => h.openWindow(), 'imsync'],
    ['vendor configuration', () => h.openLegacyWindow(), 'RongIMLib'],
    ['older Electron (exposeInMainWorld)', () => h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } }), 'imsync'],
  ]) {
    const win = await open()
    const before = spy.calls.length
    invoked.length = 0
    const r = await h.page(
      win,
      `const out = {}
      for (const name of ${JSON.stringify(MEDIA)}) {
        const fn = ${im}[name]
        out[name] = { type: typeof fn, own: Object.keys(${im}).includes(name), answer: typeof fn === 'function' ? await fn({ conversationType: 1, targetId: 'bob' }, { file: null }, {}, {}) : null }
      }
      return out`,
    )
    for (const name of MEDIA) {
      assert.equal(r[name].type, 'function', `${label}: ${name}`)
      assert.equal(r[name].own, true, `${label}: ${name} is an explicit member (Object.keys), not the any-method fallback`)
      assert.match(r[name].answer.msg, new RegExp(`\\b${name}\\b`), `${label}: the answer names ${name}`)
      if (name === 'sendCombineMessage') {
        assert.equal(r[name].answer.code, 35004, `${label}: ${name}`)
        assert.match(r[name].answer.msg, /not served/)
      } else {
        // No File/Blob: refused in the window, naming the argument (ipc-media.test.js sends).
        assert.equal(r[name].answer.code, 33003, `${label}: ${name}`)
        assert.match(r[name].answer.msg, /msgBody\.file must be a File or Blob/)
      }
    }
    assert.deepEqual(invoked.filter((m) => m !== undefined && typeof m === 'string' && /^send/.test(m)), [], `${label}: nothing reached the main process`)
    assert.equal(spy.calls.length, before, `${label}: nothing reached the engine`)
  }
  // Outside a renderer too (the module export).
  const api = require('imsync/renderer')
  for (const name of MEDIA) assert.equal((await api[name]()).code, name === 'sendCombineMessage' ? 35004 : 33003, name)
  assert.equal(typeof api.sendTextMessage, 'function')
})

test("Events and ConversationType carry issue 11's names, in the page too", async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const r = await h.page(win, 'return { events: imsync.Events, types: imsync.ConversationType }')
  for (const n of ['PRIVATE_MESSAGE_DELIVERED', 'GROUP_MESSAGE_DELIVERED', 'OFFLINE_SYNC_PROGRESS', 'MESSAGE_BLOCKED']) assert.equal(r.events[n], n)
  assert.equal(r.types.APP_PUBLIC_SERVICE, 7)
  assert.equal(r.types.PUBLIC_SERVICE, 8)
  // An OFFLINE_SYNC_PROGRESS the engine emits reaches a listener as is.
  await h.page(win, `globalThis.progress = []; imsync.addEventListener(imsync.Events.OFFLINE_SYNC_PROGRESS, (p) => progress.push(p)); await imsync.getConnectionStatusAsync()`)
  h.emitEngineEvent(service.engine, 'OFFLINE_SYNC_PROGRESS', { pulled: 200, total: 1000 })
  assert.deepEqual(await h.page(win, 'while (!progress.length) await new Promise((r) => setTimeout(r, 5)); return progress', 5000), [{ pulled: 200, total: 1000 }])
})
