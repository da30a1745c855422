'use strict'
// Compatibility (issue 11): one long call sequence as a RongCloud IMLib 5.x Electron app makes
// it, run unchanged against imsync. alice's app runs in a window process of the test
// `electron` stand-in — once in the vendor's configuration (contextIsolation off,
// `window.RongIMLib` = the renderer object), once in a secure window (contextIsolation,
// sandbox; `RongIMLib = window.imsync`) — with js/main.js serving it in this process and the
// real imsync-server on loopback; bob, and alice's phone (platform 'Web'), are native Engines
// in this process.
//
// The app's order: init → installPlugin (a custom plugin; its context checked) →
// registerMessageType → addEventListener for every event it uses → connect(token) → the
// offline pull of what bob sent while alice was away (OFFLINE_SYNC_PROGRESS,
// PULL_OFFLINE_MESSAGE_FINISHED) → getConversationList({ count, startTime, order }) → history
// (local, remote, continuous) → sendTextMessage / sendMessage (onSendBefore, pushConfig) →
// unread calls → drafts → conversation state (top, level, tags; CONVERSATION items
// { conversation, updatedItems }) → read receipts → typing → expansion → recall → local
// message calls (getMessage, setMessageContent, search, insert, delete) → remote delete
// (deleteMessages / clearHistoryMessages) → delivery events and MESSAGE_BLOCKED →
// getConnectionStatus() / getServerTime() → a call imsync does not serve (35004) →
// disconnect → destroy. Every step asserts the answer's code and data.
//
// Two areas were being added while this test was written; each step asserts them when they
// are there and otherwise records why it is skipped (see `landed` below):
// - remote delete: the Engine methods deleteRemoteMessages / clearHistoryMessages;
// - server moderation and delivery receipts: imsync-server's /sensitiveword/* admin routes
//   (the same change adds PRIVATE/GROUP_MESSAGE_DELIVERED, MESSAGE_BLOCKED and pushConfig
//   carried to recipients).
// No sleeps: every wait ends on an event, a reply, or a poll with a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { Engine } = h

const APP_KEY = 'compat-vendor-key'
const APP_SECRET = 'compat-vendor-secret'
const PRIVATE = 1
const GROUP = 3
const RECEIVE = 2 // MessageDirection.RECEIVE
const BOB = { conversationType: PRIVATE, targetId: 'bob' }
const TEAM = { conversationType: GROUP, targetId: 'team' }
const TO_ALICE = { conversationType: PRIVATE, targetId: 'alice' }

/** Every event the app listens to (the vendor's 5.x demo's list, plus imsync's progress). */
const APP_EVENTS = [
  'CONNECTING',
  'CONNECTED',
  'DISCONNECT',
  'SUSPEND',
  'MESSAGES',
  'CONVERSATION',
  'PULL_OFFLINE_MESSAGE_FINISHED',
  'OFFLINE_SYNC_PROGRESS',
  'READ_RECEIPT_RECEIVED',
  'MESSAGE_RECEIPT_REQUEST',
  'MESSAGE_RECEIPT_RESPONSE',
  'EXPANSION',
  'TYPING_STATUS',
  'TAG',
  'CONVERSATION_TAG',
  'MESSAGE_BLOCKED',
  'PRIVATE_MESSAGE_DELIVERED',
  'GROUP_MESSAGE_DELIVERED',
]

const PUSH_CONFIG = {
  pushTitle: 'alice',
  pushContent: 'sent you a message',
  pushData: '{"route":"chat/alice"}',
  disablePushTitle: false,
  forceShowDetailContent: true,
  templateId: 'tpl-chat',
  iOSConfig: { threadId: 'chat-alice', apnsCollapseId: 'c-1' },
  androidConfig: { notificationId: 'n-1', channelIdHW: 'im' },
}

/** Page code: the app's event log; `E.wait(pred, from)` resolves the first matching entry. */
const EVENT_LOG = `
  globalThis.E = {
    log: [],
    waiters: new Set(),
    poke() { for (const w of [...E.waiters]) w() },
    record(name) { return (payload) => { E.log.push({ name, payload }); E.poke() } },
    wait(pred, from = 0) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = E.log.slice(from).find(pred)
          if (hit) { E.waiters.delete(check); resolve(hit) }
        }
        E.waiters.add(check)
        check()
      })
    },
  }
`

/** A native Engine for bob or for another device of alice, connected, its events tapped. */
async function person(t, server, userId, options = {}) {
  const dbpath = h.tmpDir(`compat-${userId}`)
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: server.url, logOutputLevel: 1, ...options })
  engine.onEvent(() => {})
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const tap = tapOf(engine)
  const r = await h.withDeadline(engine.connect(await server.getToken(userId)), 15000, `${userId} connect`)
  assert.deepEqual(r, { code: 0, data: { userId } })
  await tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', `${userId} offline pull`)
  const p = {
    engine,
    tap,
    async send(conversation, content, options) {
      const r = await engine.sendMessage(conversation, { messageType: 'RC:TxtMsg', content: typeof content === 'string' ? { content } : content }, options)
      assert.equal(r.code, 0, `${userId} send: ${JSON.stringify(r)}`)
      assert.equal(typeof r.data.messageUId, 'string')
      return r.data
    },
    /** Resolves the message `uid` once a MESSAGES event carried it. */
    async received(uid, label) {
      const e = await tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === uid), label, { ms: 15000 })
      return e.payload.messages.find((m) => m.messageUId === uid)
    },
    async history(conversation) {
      const r = await engine.getHistoryMessages(conversation, { timestamp: 0, count: 100, order: 0 })
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data.list
    },
  }
  return p
}

/** Re-checks `probe()` until it is truthy; fails with the last value at the deadline. */
async function until(probe, label, ms = 15000) {
  const end = Date.now() + ms
  let last
  for (;;) {
    last = await probe()
    if (last && last.ok) return last
    if (Date.now() > end) assert.fail(`deadline: ${label} within ${ms} ms (last: ${JSON.stringify(last)})`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** An admin call answering what it answers (status and body), signed. */
async function adminRaw(server, route, body) {
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const headers = {
    'Content-Type': 'application/json',
    'App-Key': APP_KEY,
    Nonce: nonce,
    Timestamp: timestamp,
    Signature: crypto.createHmac('sha256', APP_SECRET).update(nonce + timestamp).digest('hex'),
  }
  const res = await fetch(`${server.url}${route}`, { method: 'POST', headers, body: JSON.stringify(body) })
  const text = await res.text()
  let json = null
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, body: json }
}

/**
 * The windows an app's page may get the API object in: the vendor's configuration (the seed's
 * main.js: contextIsolation off, the preload sets window.RongIMLib) and the secure one
 * (contextIsolation, sandbox; the page binds `const RongIMLib = window.imsync`).
 */
const MODES = [
  ['vendor configuration (contextIsolation off)', () => h.openLegacyWindow(), ''],
  ['secure window (contextIsolation, sandbox)', () => h.openWindow(), 'globalThis.RongIMLib = window.imsync'],
]

for (const [label, openWindow, bind] of MODES) {
  test(`a RongCloud IMLib 5.x app runs unchanged in a ${label}: login with a plugin, every area in app order, events checked`, (t) => vendorApp(t, openWindow, bind))
}

async function vendorApp(t, openWindow, bind) {
  const started = Date.now()
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  await server.admin('/group/create', { groupId: 'team', groupName: 'Team', userId: ['alice', 'bob'] })
  // What is there today (see the file's header).
  const landed = {
    remoteDelete: typeof Engine.prototype.deleteRemoteMessages === 'function' && typeof Engine.prototype.clearHistoryMessages === 'function',
    moderation: (await adminRaw(server, '/sensitiveword/list', {})).status === 200,
  }
  t.diagnostic(`landed: ${JSON.stringify(landed)}`)

  const bob = await person(t, server, 'bob', { typingInterval: 50 })
  assert.deepEqual(await bob.engine.registerMessageType('App:Card', true, true, ['title'], false), { code: 0 })

  // bob writes while alice is away (she has never connected: a first login).
  const away = []
  for (const text of ['away 1', 'away 2', 'away 3']) away.push(await bob.send(TO_ALICE, text))
  const plain = await bob.send(TEAM, 'plain team note')
  const at1 = await bob.send(TEAM, { content: '@alice one', mentionedInfo: { type: 2, userIdList: ['alice'] } })
  const at2 = await bob.send(TEAM, { content: '@alice two', mentionedInfo: { type: 2, userIdList: ['alice'] } })
  const awayUids = [...away, plain, at1, at2].map((m) => m.messageUId)

  // alice's app: js/main.js in this process, its window a renderer process (MODES).
  const { service } = h.startService(t, { appkey: APP_KEY, serverUrl: server.url })
  const win = await openWindow()
  if (bind) await h.page(win, bind)
  const page = (code, ms = 20000) => h.page(win, code, ms)
  /** RongIMLib.<path>(...args) in the page; resolves its envelope. */
  const call = (path, args = [], ms = 20000) => page(`return await RongIMLib.${path}(...${JSON.stringify(args)})`, ms)
  const mark = () => page('return E.log.length')
  /** The first app event from `from` on matching `pred` (page source). */
  const event = (pred, from = 0, ms = 15000) => page(`return await E.wait(${pred}, ${from})`, ms)

  // ---- login ----------------------------------------------------------------------------------

  await t.test('init', async () => {
    assert.deepEqual(await page(`${EVENT_LOG}; return await RongIMLib.init({ appkey: ${JSON.stringify(APP_KEY)} })`), { code: 0 })
  })

  await t.test('installPlugin: a custom plugin gets the runtime, options and a context; its instance comes back', async () => {
    const r = await page(`
      globalThis.PL = { runtime: null, received: [], statuses: [], connects: 0, disconnects: [], destroyed: 0, setups: 0 }
      class AuditClient {
        constructor(context, options) { this.context = context; this.options = options }
        async describe() {
          const c = this.context
          return {
            os: await c.getOSInfo(),
            proc: await c.getProcessInfo(),
            main: await c.getMainProcessInfo(),
            userId: c.getCurrentUserId(),
            appkey: c.getAppkey(),
            status: c.getConnectionStatus(),
            clock: c.getServerTime() - Date.now(),
          }
        }
      }
      const installer = {
        tag: 'compat-audit',
        verify(runtime) {
          PL.runtime = { tag: runtime.tag, socket: runtime.isSupportSocket() }
          return runtime.tag === 'electron'
        },
        setup(context, runtime, options) {
          PL.setups++
          context.onmessage = (m) => { PL.received.push(m.messageUId); E.poke(); return false }
          context.onconnect = () => { PL.connects++; E.poke() }
          context.onconnectionstatuschange = (s) => { PL.statuses.push(s); E.poke() }
          context.ondisconnect = (code) => { PL.disconnects.push(code); E.poke() }
          context.ondestroy = () => { PL.destroyed++ }
          return new AuditClient(context, options)
        },
      }
      globalThis.audit = RongIMLib.installPlugin(installer, { region: 'cn' })
      return {
        isInstance: audit instanceof AuditClient,
        options: audit.options,
        runtime: PL.runtime,
        setups: PL.setups,
        again: RongIMLib.installPlugin(installer) === audit,
        refused: RongIMLib.installPlugin({ tag: 'web-only', verify: (rt) => rt.tag === 'browser', setup: () => 'never' }),
        before: { userId: audit.context.getCurrentUserId(), status: audit.context.getConnectionStatus() },
      }
    `)
    assert.equal(r.isInstance, true, "setup's own object, prototype intact")
    assert.deepEqual(r.options, { region: 'cn' })
    assert.deepEqual(r.runtime, { tag: 'electron', socket: true })
    assert.equal(r.setups, 1)
    assert.equal(r.again, true, 'the same tag again: the first instance, setup not run again')
    assert.equal(r.refused, null, 'verify false → null')
    assert.deepEqual(r.before, { userId: '', status: 2 }, 'before connect: no user, DISCONNECTED')
  })

  await t.test('registerMessageType: the class comes back at once', async () => {
    const r = await page(`
      globalThis.Card = RongIMLib.registerMessageType('App:Card', true, true, ['title'], false)
      const c = new Card({ title: 'Quarterly plan', body: 'numbers inside' })
      return { type: typeof Card, messageType: c.messageType, isPersisted: c.isPersisted, isCounted: c.isCounted, isStatusMessage: c.isStatusMessage, content: c.content }
    `)
    assert.deepEqual(r, { type: 'function', messageType: 'App:Card', isPersisted: true, isCounted: true, isStatusMessage: false, content: { title: 'Quarterly plan', body: 'numbers inside' } })
  })

  await t.test('addEventListener for every event the app uses', async () => {
    const r = await page(`
      const Events = RongIMLib.Events
      const names = ${JSON.stringify(APP_EVENTS)}
      for (const n of names) RongIMLib.addEventListener(Events[n], E.record(n))
      return names.filter((n) => Events[n] !== n)
    `)
    assert.deepEqual(r, [], 'every name is in RongIMLib.Events')
  })

  await t.test('connect(token): CONNECTING, CONNECTED, status 0; the plugin context knows the user', async () => {
    const token = await server.getToken('alice')
    const r = await page(`
      const r = await RongIMLib.connect(${JSON.stringify(token)})
      await E.wait((e) => e.name === 'CONNECTED')
      await new Promise((resolve) => { const c = () => PL.connects > 0 && (E.waiters.delete(c), resolve()); E.waiters.add(c); c() })
      return { r, status: RongIMLib.getConnectionStatus(), order: E.log.map((e) => e.name).filter((n) => n === 'CONNECTING' || n === 'CONNECTED'), info: await audit.describe(), statuses: PL.statuses }
    `)
    assert.deepEqual(r.r, { code: 0, data: { userId: 'alice' } })
    assert.equal(r.status, 0, 'getConnectionStatus() is synchronous and CONNECTED')
    assert.deepEqual(r.order, ['CONNECTING', 'CONNECTED'])
    assert.equal(r.statuses[r.statuses.length - 1], 0, 'the plugin saw the status change')
    assert.equal(r.info.userId, 'alice')
    assert.equal(r.info.appkey, APP_KEY)
    assert.equal(r.info.status, 0)
    assert.equal(r.info.main.pid, process.pid, 'getMainProcessInfo is answered by the main process')
    assert.equal(r.info.proc.pid, win.webContents.getOSProcessId(), "getProcessInfo: this window's renderer")
    assert.equal(r.info.os.platform, process.platform)
    assert.ok(Math.abs(r.info.clock) < 5000, `plugin server clock off by ${r.info.clock} ms`)
  })

  await t.test('the offline pull: OFFLINE_SYNC_PROGRESS, then PULL_OFFLINE_MESSAGE_FINISHED; MESSAGES carry what bob sent', async () => {
    const r = await page(`
      const finished = await E.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED')
      const at = E.log.indexOf(finished)
      const before = E.log.slice(0, at)
      return {
        progress: before.filter((e) => e.name === 'OFFLINE_SYNC_PROGRESS').map((e) => e.payload),
        progressAfter: E.log.slice(at).filter((e) => e.name === 'OFFLINE_SYNC_PROGRESS').length,
        messages: before.filter((e) => e.name === 'MESSAGES').flatMap((e) => e.payload.messages),
        plugin: PL.received.slice(),
      }
    `)
    assert.ok(r.progress.length >= 1, 'OFFLINE_SYNC_PROGRESS before the pull finished')
    const last = r.progress[r.progress.length - 1]
    assert.ok(last.total >= awayUids.length, JSON.stringify(r.progress))
    assert.equal(last.pulled, last.total, 'pulled reaches total')
    assert.equal(r.progressAfter, 0)
    assert.deepEqual(r.messages.map((m) => m.messageUId).sort(), [...awayUids].sort(), 'MESSAGES carried exactly what bob sent while alice was away')
    for (const m of r.messages) {
      assert.equal(m.senderUserId, 'bob')
      assert.equal(m.messageDirection, 2)
      assert.equal(m.isOffLineMessage, true, "the vendor's spelling: an offline message")
      assert.equal(typeof m.messageId, 'number')
    }
    assert.deepEqual([...r.plugin].sort(), [...awayUids].sort(), "the plugin's onmessage saw them too")
  })

  // ---- conversations and history ---------------------------------------------------------------

  await t.test('getConversationList({ count, startTime, order }): newest first, pages by latestMessage.sentTime', async () => {
    const all = await call('getConversationList', [{ count: 10, startTime: 0, order: 0 }])
    assert.equal(all.code, 0, JSON.stringify(all))
    assert.deepEqual(all.data.map((c) => [c.conversationType, c.targetId, c.unreadMessageCount]), [
      [GROUP, 'team', 3],
      [PRIVATE, 'bob', 3],
    ])
    const [team, bobConv] = all.data
    assert.equal(team.latestMessage.content.content, '@alice two')
    assert.equal(team.hasMentioned, true)
    assert.equal(bobConv.latestMessage.content.content, 'away 3')
    assert.equal(bobConv.hasMentioned, false)
    const first = await call('getConversationList', [{ count: 1, startTime: 0, order: 0 }])
    assert.deepEqual(first.data.map((c) => c.targetId), ['team'])
    const next = await call('getConversationList', [{ count: 1, startTime: first.data[0].latestMessage.sentTime, order: 0 }])
    assert.deepEqual(next.data.map((c) => c.targetId), ['bob'])
    const oldest = await call('getConversationList', [{ count: 10, startTime: 0, order: 1 }])
    assert.deepEqual(oldest.data.map((c) => c.targetId), ['bob', 'team'])
    const bad = await call('getConversationList', [{ count: 0 }])
    assert.equal(bad.code, 33003)
    assert.match(bad.msg, /count/)
  })

  await t.test('getHistoryMessages / getRemoteHistoryMessages / getContinuousMessages', async () => {
    const local = await call('getHistoryMessages', [BOB, { timestamp: 0, count: 20, order: 0 }])
    assert.equal(local.code, 0, JSON.stringify(local))
    assert.deepEqual(local.data.list.map((m) => m.content.content), ['away 3', 'away 2', 'away 1'])
    assert.equal(local.data.hasMore, false)
    const paged = await call('getHistoryMessages', [BOB, { timestamp: 0, count: 2, order: 0 }])
    assert.deepEqual(paged.data.list.map((m) => m.content.content), ['away 3', 'away 2'])
    assert.equal(paged.data.hasMore, true)
    const remote = await call('getRemoteHistoryMessages', [BOB, { timestamp: 0, count: 20, order: 0 }])
    assert.equal(remote.code, 0, JSON.stringify(remote))
    assert.deepEqual(remote.data.list.map((m) => m.messageUId), away.map((m) => m.messageUId).reverse())
    assert.deepEqual(remote.data.list.map((m) => m.content.content), ['away 3', 'away 2', 'away 1'])
    const continuous = await call('electronExtension.getContinuousMessages', [BOB, { timestamp: 0, count: 20, order: 0 }])
    assert.equal(continuous.code, 0, JSON.stringify(continuous))
    assert.deepEqual(continuous.data.list.map((m) => m.messageUId).sort(), away.map((m) => m.messageUId).sort())
    assert.equal(typeof continuous.data.timestamp, 'number')
    const types = await call('electronExtension.getHistoryMessagesByMessageTypes', [TEAM, { timestamp: 0, count: 20, order: 0, messageTypes: ['RC:TxtMsg'] }])
    assert.deepEqual(types.data.list.map((m) => m.content.content), ['@alice two', '@alice one', 'plain team note'])
  })

  // ---- sending --------------------------------------------------------------------------------

  let text
  let card
  await t.test('sendTextMessage and sendMessage (custom type) with onSendBefore and pushConfig; bob gets MESSAGES', async () => {
    const r = await page(`
      const before = []
      const onSendBefore = (m) => before.push({ messageId: m.messageId, sentStatus: m.sentStatus, messageType: m.messageType })
      const text = await RongIMLib.sendTextMessage({ conversationType: RongIMLib.ConversationType.PRIVATE, targetId: 'bob' }, { content: 'hi bob 👋', extra: 'e1' }, { onSendBefore, pushConfig: ${JSON.stringify(PUSH_CONFIG)} })
      const card = await RongIMLib.sendMessage({ conversationType: RongIMLib.ConversationType.GROUP, targetId: 'team' }, new Card({ title: 'Quarterly plan', body: 'numbers inside' }), { onSendBefore })
      return { text, card, before }
    `)
    assert.equal(r.text.code, 0, JSON.stringify(r.text))
    assert.equal(r.card.code, 0, JSON.stringify(r.card))
    text = r.text.data
    card = r.card.data
    assert.equal(text.messageType, 'RC:TxtMsg')
    assert.deepEqual(text.content, { content: 'hi bob 👋', extra: 'e1' })
    assert.equal(text.sentStatus, 30)
    assert.equal(text.messageDirection, 1)
    assert.equal(typeof text.messageUId, 'string')
    assert.equal(card.messageType, 'App:Card')
    assert.deepEqual(r.before, [
      { messageId: text.messageId, sentStatus: 10, messageType: 'RC:TxtMsg' },
      { messageId: card.messageId, sentStatus: 10, messageType: 'App:Card' },
    ], 'onSendBefore got each stored message (SENDING) before it was sent')
    const got = await bob.received(text.messageUId, 'bob gets the text')
    assert.deepEqual(got.content, { content: 'hi bob 👋', extra: 'e1' })
    assert.equal(got.senderUserId, 'alice')
    assert.equal(got.sentTime, text.sentTime)
    if (landed.moderation) assert.deepEqual(got.pushConfig, PUSH_CONFIG, 'pushConfig reaches the recipient unchanged')
    else t.diagnostic('pushConfig at the recipient: not asserted (server moderation/push work not landed)')
    const gotCard = await bob.received(card.messageUId, 'bob gets the card')
    assert.equal(gotCard.messageType, 'App:Card')
    assert.deepEqual(gotCard.content, { title: 'Quarterly plan', body: 'numbers inside' })
    assert.deepEqual(gotCard.conversationType, GROUP)
  })

  // ---- unread ---------------------------------------------------------------------------------

  await t.test('unread: totals, per conversation, first unread, @ mentions, clear by timestamp, clear, by levels', async () => {
    const ok = async (path, args, data) => assert.deepEqual(await call(path, args), { code: 0, data }, `${path}(${JSON.stringify(args)})`)
    await ok('getTotalUnreadCount', [], 6)
    await ok('getUnreadCount', [BOB], 3)
    await ok('getUnreadCount', [TEAM], 3)
    const first = await call('getFirstUnreadMessage', [BOB])
    assert.equal(first.code, 0)
    assert.equal(first.data.messageUId, away[0].messageUId)
    assert.equal(first.data.content.content, 'away 1')
    const info = await call('getFirstUnreadMessageInfo', [BOB])
    assert.equal(info.code, 0)
    assert.equal(info.data.sentTime, away[0].sentTime, JSON.stringify(info))
    await ok('getUnreadMentionedCount', [TEAM], 2)
    await ok('getAllUnreadMentionedCount', [], 2)
    const mentioned = await call('getUnreadMentionedMessages', [TEAM])
    assert.equal(mentioned.code, 0)
    assert.deepEqual(mentioned.data.map((m) => m.content.content), ['@alice one', '@alice two'])
    assert.deepEqual(mentioned.data[0].content.mentionedInfo, { type: 2, userIdList: ['alice'] })
    await ok('getTotalUnreadCountByLevels', [[PRIVATE, GROUP], []], 6)
    await ok('getTotalUnreadMentionedCountByLevels', [[GROUP], []], 2)
    const unreadList = await call('getUnreadConversationList', [[PRIVATE, GROUP]])
    assert.deepEqual(unreadList.data.map((c) => c.targetId).sort(), ['bob', 'team'])

    assert.deepEqual(await call('clearUnreadCountByTimestamp', [TEAM, at1.sentTime]), { code: 0 })
    await ok('getUnreadCount', [TEAM], 1)
    assert.deepEqual((await call('getUnreadMentionedMessages', [TEAM])).data.map((m) => m.content.content), ['@alice two'])
    await ok('getUnreadMentionedCount', [TEAM], 1)
    assert.deepEqual(await call('clearMessagesUnreadStatus', [BOB]), { code: 0 })
    await ok('getUnreadCount', [BOB], 0)
    await ok('getTotalUnreadCount', [], 1)
    assert.deepEqual((await call('getFirstUnreadMessage', [BOB])).data, null)
    assert.deepEqual((await call('getUnreadConversationList', [[PRIVATE, GROUP]])).data.map((c) => c.targetId), ['team'])
  })

  await t.test('drafts: save, get, on the conversation, clear', async () => {
    assert.deepEqual(await call('saveTextMessageDraft', [BOB, '草稿 draft ✍']), { code: 0 })
    assert.deepEqual(await call('getTextMessageDraft', [BOB]), { code: 0, data: '草稿 draft ✍' })
    assert.equal((await call('getConversation', [BOB])).data.draft, '草稿 draft ✍')
    assert.deepEqual(await call('clearTextMessageDraft', [BOB]), { code: 0 })
    assert.deepEqual(await call('getTextMessageDraft', [BOB]), { code: 0, data: '' })
  })

  // ---- conversation state: alice's phone is a second device ---------------------------------

  const phone = await person(t, server, 'alice', { platform: 'Web' })

  await t.test('conversation state: top, notification level, tags; CONVERSATION items are { conversation, updatedItems }', async () => {
    // The app pins bob: the phone is told.
    let from = phone.tap.events.length
    assert.deepEqual(await call('setConversationToTop', [BOB, true]), { code: 0 })
    assert.deepEqual((await call('getTopConversationList', [])).data.map((c) => c.targetId), ['bob'])
    assert.equal((await call('getConversation', [BOB])).data.isTop, true)
    await phone.tap.wait((e) => e.name === 'CONVERSATION' && e.payload.conversationList.some((i) => i.conversation.targetId === 'bob' && i.conversation.isTop === true), 'the phone sees the pin', { from })

    // The phone mutes the team: the app gets CONVERSATION with the item shape of IMLib 5.x.
    let m = await mark()
    assert.deepEqual(await phone.engine.setConversationNotificationLevel(TEAM, 5), { code: 0 })
    const ev = await event(`(e) => e.name === 'CONVERSATION' && e.payload.conversationList.some((i) => i.conversation && i.conversation.targetId === 'team' && i.conversation.notificationLevel === 5)`, m)
    for (const item of ev.payload.conversationList) {
      assert.deepEqual(Object.keys(item).sort(), ['conversation', 'updatedItems'], JSON.stringify(item))
    }
    const item = ev.payload.conversationList.find((i) => i.conversation.targetId === 'team')
    assert.equal(item.conversation.conversationType, GROUP)
    assert.equal(item.updatedItems.notificationLevel.val, 5)
    assert.equal(typeof item.updatedItems.notificationLevel.time, 'number')
    assert.deepEqual(await call('getConversationNotificationLevel', [TEAM]), { code: 0, data: 5 })
    assert.deepEqual(await call('getConversationNotificationStatus', [TEAM]), { code: 0, data: 1 })
    assert.deepEqual((await call('getBlockedConversationList', [])).data.map((c) => c.targetId), ['team'])
    assert.deepEqual(await call('getTotalUnreadCountByLevels', [[GROUP], [5]]), { code: 0, data: 1 })
    assert.deepEqual(await call('getTotalUnreadCountByLevels', [[GROUP], [-1, 0]]), { code: 0, data: 0 })

    // Tags from the app: the phone gets TAG and CONVERSATION_TAG.
    from = phone.tap.events.length
    assert.deepEqual(await call('addTag', [{ tagId: 'work', tagName: '工作' }]), { code: 0 })
    await phone.tap.wait((e) => e.name === 'TAG', 'the phone gets TAG', { from })
    from = phone.tap.events.length
    assert.deepEqual(await call('addConversationsToTag', ['work', [TEAM, BOB]]), { code: 0 })
    await phone.tap.wait((e) => e.name === 'CONVERSATION_TAG', 'the phone gets CONVERSATION_TAG', { from })
    assert.deepEqual((await call('getTags', [])).data.map((x) => [x.tagId, x.tagName]), [['work', '工作']])
    assert.deepEqual((await call('getTagsFromConversation', [TEAM])).data.map((x) => x.tagId), ['work'])
    assert.deepEqual(await call('setConversationToTopInTag', ['work', TEAM, true]), { code: 0 })
    const inTag = await call('getConversationsFromTagByPage', ['work', 10, 0])
    assert.deepEqual(inTag.data.map((c) => [c.targetId, c.isTopInTag]).sort(), [['bob', false], ['team', true]])
    assert.deepEqual(await call('getUnreadCountByTag', ['work', true]), { code: 0, data: 1 })
    assert.deepEqual(await call('getUnreadCountByTag', ['work', false]), { code: 0, data: 0 }, 'team is muted')
    // A tag renamed on the phone: TAG in the app, and the new name.
    m = await mark()
    assert.deepEqual(await phone.engine.updateTag({ tagId: 'work', tagName: '工作 2' }), { code: 0 })
    await event(`(e) => e.name === 'TAG'`, m)
    assert.deepEqual((await call('getTags', [])).data.map((x) => x.tagName), ['工作 2'])
    m = await mark()
    assert.deepEqual(await phone.engine.removeConversationsFromTag('work', [BOB]), { code: 0 })
    await event(`(e) => e.name === 'CONVERSATION_TAG'`, m)
    assert.deepEqual((await call('getConversationsFromTagByPage', ['work', 10, 0])).data.map((c) => c.targetId), ['team'])
  })

  // ---- message features with bob --------------------------------------------------------------

  await t.test("read receipts: bob's new message (MESSAGES + CONVERSATION), receipts both ways, group request/response, sync read", async () => {
    let m = await mark()
    const readMe = await bob.send(TO_ALICE, 'read me')
    const conv = await event(`(e) => e.name === 'CONVERSATION' && e.payload.conversationList.some((i) => i.conversation.targetId === 'bob' && i.updatedItems.latestMessage && i.updatedItems.latestMessage.val.messageUId === ${JSON.stringify(readMe.messageUId)})`, m)
    const item = conv.payload.conversationList.find((i) => i.conversation.targetId === 'bob')
    assert.equal(item.conversation.latestMessage.content.content, 'read me')
    assert.equal(item.updatedItems.unreadMessageCount.val, 1)
    assert.equal(item.conversation.isTop, true, 'still pinned')
    const msgs = await event(`(e) => e.name === 'MESSAGES' && e.payload.messages.some((x) => x.messageUId === ${JSON.stringify(readMe.messageUId)})`, m)
    assert.equal(msgs.payload.messages.find((x) => x.messageUId === readMe.messageUId).isOffLineMessage, false)

    let from = bob.tap.events.length
    assert.deepEqual(await call('sendReadReceiptMessage', ['bob', readMe.messageUId, readMe.sentTime]), { code: 0 })
    const receipt = await bob.tap.wait((e) => e.name === 'READ_RECEIPT_RECEIVED', 'bob READ_RECEIPT_RECEIVED', { from })
    assert.equal(receipt.payload.messageUid, readMe.messageUId)
    assert.equal(receipt.payload.sendUserId, 'alice')

    m = await mark()
    assert.deepEqual(await bob.engine.sendReadReceiptMessage('alice', text.messageUId, text.sentTime), { code: 0 })
    const mine = await event(`(e) => e.name === 'READ_RECEIPT_RECEIVED'`, m)
    assert.equal(mine.payload.messageUid, text.messageUId)
    assert.deepEqual(mine.payload.conversation, { conversationType: PRIVATE, targetId: 'bob', channelId: '' })
    assert.equal((await call('getMessage', [text.messageId])).data.sentStatus, 50, 'READ after the receipt')

    from = bob.tap.events.length
    assert.deepEqual(await call('sendReadReceiptRequest', ['team', card.messageUId]), { code: 0 })
    const request = await bob.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_REQUEST', 'bob MESSAGE_RECEIPT_REQUEST', { from })
    assert.deepEqual(request.payload, { conversation: { conversationType: GROUP, targetId: 'team', channelId: '' }, messageUid: card.messageUId, senderUserId: 'alice' })
    m = await mark()
    assert.deepEqual(await bob.engine.sendReadReceiptResponseV2('team', { alice: [card.messageUId] }), { code: 0 })
    const response = await event(`(e) => e.name === 'MESSAGE_RECEIPT_RESPONSE'`, m)
    assert.deepEqual(response.payload, { conversation: { conversationType: GROUP, targetId: 'team', channelId: '' }, receivedUserId: 'bob', messageUidList: [card.messageUId] })

    assert.deepEqual(await call('sendSyncReadStatusMessage', [TEAM, at2.sentTime]), { code: 0 })
    assert.deepEqual(await call('getUnreadCount', [TEAM]), { code: 0, data: 0 })
    await until(async () => {
      const r = await phone.engine.getUnreadCount(TEAM)
      return { ok: r.code === 0 && r.data === 0, r }
    }, "the phone's team unread follows the sync read status")
  })

  await t.test('typing status both ways', async () => {
    const m = await mark()
    const typed = await bob.engine.sendTypingStatusMessage(TO_ALICE, 'RC:TxtMsg')
    assert.equal(typed.code, 0, JSON.stringify(typed))
    const ev = await event(`(e) => e.name === 'TYPING_STATUS'`, m)
    assert.deepEqual(ev.payload.status.map((s) => [s.conversationType, s.targetId, s.list.map((x) => [x.userId, x.messageType])]), [[PRIVATE, 'bob', [['bob', 'RC:TxtMsg']]]])
    const from = bob.tap.events.length
    const mine = await call('sendTypingStatusMessage', [BOB, 'RC:TxtMsg'])
    assert.equal(mine.code, 0, JSON.stringify(mine))
    assert.equal(mine.data.messageType, 'RC:TypSts')
    const atBob = await bob.tap.wait((e) => e.name === 'TYPING_STATUS', 'bob TYPING_STATUS', { from })
    assert.deepEqual(atBob.payload.status.map((s) => [s.targetId, s.list.map((x) => x.userId)]), [['alice', ['alice']]])
  })

  await t.test('message expansion: sent with one, updated by the app, a key removed by bob', async () => {
    const sent = await page(`return await RongIMLib.sendMessage({ conversationType: 1, targetId: 'bob' }, new RongIMLib.TextMessage({ content: 'vote: lunch?' }), { canIncludeExpansion: true, expansion: { state: 'open' } })`)
    assert.equal(sent.code, 0, JSON.stringify(sent))
    assert.equal(sent.data.canIncludeExpansion, true)
    assert.deepEqual(sent.data.expansion, { state: 'open' })
    const atBob = await bob.received(sent.data.messageUId, 'bob gets the expandable message')
    assert.deepEqual(atBob.expansion, { state: 'open' })
    const from = bob.tap.events.length
    assert.deepEqual(await call('updateMessageExpansion', [{ state: 'closed', votes: '3' }, sent.data]), { code: 0 })
    const upd = await bob.tap.wait((e) => e.name === 'EXPANSION' && !!e.payload.updatedExpansion, 'bob EXPANSION', { from })
    assert.equal(upd.payload.updatedExpansion.messageUId, sent.data.messageUId)
    assert.deepEqual(upd.payload.updatedExpansion.expansion, { state: 'closed', votes: '3' })
    const m = await mark()
    assert.deepEqual(await bob.engine.removeMessageExpansionForKey(['votes'], atBob), { code: 0 })
    const del = await event(`(e) => e.name === 'EXPANSION' && !!e.payload.deletedExpansion`, m)
    assert.equal(del.payload.deletedExpansion.messageUId, sent.data.messageUId)
    assert.deepEqual(del.payload.deletedExpansion.deletedKeys, ['votes'])
    assert.deepEqual((await call('getMessage', [sent.data.messageId])).data.expansion, { state: 'closed' })
  })

  await t.test("sendMessage options (disableNotification, isMentioned) are on the sender's copy too, with or without onSendBefore", async () => {
    const r = await page(`
      const send = (text, hook) => RongIMLib.sendMessage(
        { conversationType: RongIMLib.ConversationType.GROUP, targetId: 'team' },
        new RongIMLib.TextMessage({ content: text, mentionedInfo: { type: RongIMLib.MentionedType.SINGAL, userIdList: ['bob'] } }),
        { disableNotification: true, isMentioned: true, ...(hook ? { onSendBefore: () => {} } : {}) },
      )
      return { plain: await send('@bob quiet', false), hooked: await send('@bob quiet (onSendBefore)', true) }
    `)
    for (const [how, sent] of Object.entries(r)) {
      assert.equal(sent.code, 0, `${how}: ${JSON.stringify(sent)}`)
      const atBob = await bob.received(sent.data.messageUId, `bob gets the ${how} send`)
      assert.equal(atBob.disableNotification, true, `${how}: bob's copy`)
      assert.equal(atBob.isMentioned, true, `${how}: bob's copy`)
    }
    // The same call answers the same message whichever way it was made.
    for (const [how, sent] of Object.entries(r)) {
      const stored = (await call('getMessage', [sent.data.messageId])).data
      assert.deepEqual(
        { answer: [sent.data.disableNotification, sent.data.isMentioned], stored: [stored.disableNotification, stored.isMentioned] },
        { answer: [true, true], stored: [true, true] },
        `${how}: the sender's copy keeps options.disableNotification and options.isMentioned`,
      )
    }
  })

  await t.test('recallMessage: the message becomes a recall notice here and at bob', async () => {
    const oops = await call('sendTextMessage', [BOB, { content: 'oops, wrong chat' }])
    assert.equal(oops.code, 0, JSON.stringify(oops))
    await bob.received(oops.data.messageUId, 'bob gets the message to recall')
    const r = await call('recallMessage', [BOB, { messageUId: oops.data.messageUId, sentTime: oops.data.sentTime }])
    assert.equal(r.code, 0, JSON.stringify(r))
    assert.equal(r.data.messageType, 'RC:RcNtf')
    assert.equal(r.data.content.operatorId, 'alice')
    const here = await call('getMessage', [oops.data.messageId])
    assert.equal(here.code, 0)
    assert.equal(here.data.messageType, 'RC:RcNtf', 'replaced in place')
    const local = await call('getHistoryMessages', [BOB, { timestamp: 0, count: 50, order: 0 }])
    assert.ok(!local.data.list.some((m) => m.content && m.content.content === 'oops, wrong chat'))
    const { notice } = await until(async () => {
      const list = await bob.history(TO_ALICE)
      const notice = list.find((m) => m.messageType === 'RC:RcNtf')
      return { ok: !!notice && !list.some((m) => m.content.content === 'oops, wrong chat'), notice, types: list.map((m) => m.messageType) }
    }, 'bob holds the recall notice instead of the message')
    // One notice, one content, on every device: the recaller's stored copy and the answer of
    // recallMessage carry what bob's copy carries (the vendor's RecallNotificationMessage
    // fields: operatorId, recallTime, originalObjectName, …), whichever of the engine's local
    // apply and the server's copy of the notice lands first on alice's device.
    assert.equal(r.data.messageUId, notice.messageUId, 'the same notice')
    assert.equal(notice.content.originalObjectName, 'RC:TxtMsg')
    await until(async () => {
      const stored = (await call('getMessage', [oops.data.messageId])).data
      return { ok: JSON.stringify(stored.content) === JSON.stringify(notice.content), stored: stored.content, bob: notice.content }
    }, "alice's stored notice content becomes bob's", 5000)
    assert.deepEqual(r.data.content, notice.content, "recallMessage answers the notice content bob's device got")
  })

  await t.test('getMessage, electronExtension.setMessageContent, local search, insert, delete', async () => {
    const got = await call('getMessage', [text.messageId])
    assert.equal(got.code, 0)
    assert.equal(got.data.messageUId, text.messageUId)
    assert.equal(got.data.isPersited, true, "the vendor's spelling")
    assert.deepEqual(await call('electronExtension.setMessageContent', [text.messageId, { content: 'hi bob (edited 编辑)' }, 'RC:TxtMsg']), { code: 0 })
    assert.equal((await call('getMessage', [text.messageId])).data.content.content, 'hi bob (edited 编辑)')
    const byWord = await call('electronExtension.searchMessages', [BOB, '编辑', 0, 10])
    assert.equal(byWord.code, 0)
    assert.deepEqual(byWord.data.messages.map((m) => m.messageId), [text.messageId])
    assert.equal(byWord.data.count, 1)
    const custom = await call('electronExtension.searchMessages', [TEAM, 'quarterly', 0, 10])
    assert.deepEqual(custom.data.messages.map((m) => m.messageUId), [card.messageUId], "a custom type is found by its searchProps")
    const inRange = await call('electronExtension.searchMessageInTimeRange', [BOB, { keyword: 'away', startTime: away[0].sentTime, endTime: away[1].sentTime, offset: 0, limit: 10 }])
    assert.equal(inRange.code, 0, JSON.stringify(inRange))
    assert.deepEqual(inRange.data.messages.map((m) => m.content.content).sort(), ['away 1', 'away 2'])
    const byUser = await call('electronExtension.searchMessagesByUser', [TEAM, 'bob', 0, 10])
    assert.equal(byUser.data.count, 3)
    const convs = await call('electronExtension.searchConversationByContent', ['quarterly', []])
    assert.deepEqual(convs.data.map((c) => c.targetId), ['team'])

    const imported = await call('electronExtension.insertMessage', [BOB, { senderUserId: 'bob', messageType: 'RC:TxtMsg', content: { content: 'imported from the old app' }, messageDirection: 2, sentTime: away[0].sentTime - 60000 }])
    assert.equal(imported.code, 0, JSON.stringify(imported))
    assert.equal(imported.data.senderUserId, 'bob')
    const batch = await call('electronExtension.batchInsertMessage', [[
      { conversationType: PRIVATE, targetId: 'bob', senderUserId: 'bob', messageType: 'RC:TxtMsg', content: { content: 'old 1' }, messageDirection: 2, sentTime: away[0].sentTime - 50000, messageUId: 'OLD0-0000-0000-0001' },
      { conversationType: PRIVATE, targetId: 'bob', senderUserId: 'alice', messageType: 'RC:TxtMsg', content: { content: 'old 2' }, messageDirection: 1, sentTime: away[0].sentTime - 40000, messageUId: 'OLD0-0000-0000-0002' },
    ], true])
    assert.deepEqual(batch, { code: 0, data: { inserted: 2, duplicates: 0 } })
    const count = await call('electronExtension.getMessageCount', [BOB])
    assert.equal(count.code, 0)
    const around = await call('electronExtension.getMessagesAroundTimestamp', [BOB, { timestamp: away[0].sentTime - 50000, beforeCount: 1, afterCount: 1 }])
    assert.deepEqual(around.data.map((m) => m.content.content), ['imported from the old app', 'old 1', 'old 2'])
    assert.deepEqual(await call('electronExtension.deleteMessages', [[imported.data.messageId]]), { code: 0 })
    assert.deepEqual(await call('getMessage', [imported.data.messageId]), { code: 0, data: null })
    assert.deepEqual(await call('electronExtension.getMessageCount', [BOB]), { code: 0, data: count.data - 1 })
  })

  // ---- remote delete --------------------------------------------------------------------------

  await t.test(
    'remote delete: deleteMessages(conversation, [{ messageUId, sentTime, messageDirection }]) and clearHistoryMessages, for alice only',
    async (st) => {
      if (!landed.remoteDelete) {
        // Today: the vendor's names answer 35004 naming themselves (no TypeError).
        const del = await call('deleteMessages', [BOB, [{ messageUId: away[0].messageUId, sentTime: away[0].sentTime, messageDirection: 2 }]])
        // (By the renderer object, or by the main process when js/methods.js lists the Engine
        // method before the addon has it.)
        assert.equal(del.code, 35004, JSON.stringify(del))
        assert.match(del.msg, /\bdelete(Remote)?Messages\b/)
        const clr = await call('clearHistoryMessages', [BOB, away[1].sentTime])
        assert.equal(clr.code, 35004, JSON.stringify(clr))
        assert.match(clr.msg, /\bclearHistoryMessages\b/)
        st.skip('the Engine has no deleteRemoteMessages/clearHistoryMessages yet (remote delete not landed): only the 35004 answers were checked')
        return
      }
      const uids = async (path) => {
        const r = await call(path, [BOB, { timestamp: 0, count: 100, order: 0 }])
        assert.equal(r.code, 0, `${path}: ${JSON.stringify(r)}`)
        return r.data.list.map((m) => m.messageUId)
      }
      const del = await call('deleteMessages', [BOB, [{ messageUId: away[0].messageUId, sentTime: away[0].sentTime, messageDirection: RECEIVE }]])
      assert.deepEqual(del, { code: 0 })
      assert.ok(!(await uids('getHistoryMessages')).includes(away[0].messageUId), 'gone here')
      assert.ok(!(await uids('getRemoteHistoryMessages')).includes(away[0].messageUId), 'gone from the server history')
      assert.ok(!(await uids('electronExtension.getContinuousMessages')).includes(away[0].messageUId), 'not refilled')
      assert.ok((await uids('getHistoryMessages')).includes(away[1].messageUId), 'the others stay')
      await until(async () => {
        const list = await phone.history(BOB)
        return { ok: !list.some((m) => m.messageUId === away[0].messageUId) && list.some((m) => m.messageUId === away[1].messageUId) }
      }, 'the phone drops it too')
      assert.ok((await bob.history(TO_ALICE)).some((m) => m.messageUId === away[0].messageUId), 'bob keeps it')

      assert.deepEqual(await call('clearHistoryMessages', [BOB, away[2].sentTime]), { code: 0 })
      for (const path of ['getHistoryMessages', 'getRemoteHistoryMessages', 'electronExtension.getContinuousMessages']) {
        const list = await uids(path)
        assert.ok(!list.includes(away[1].messageUId), `${path}: away 2 is cleared`)
        assert.ok(list.includes(text.messageUId), `${path}: later messages stay`)
      }
      assert.ok((await bob.history(TO_ALICE)).some((m) => m.messageUId === away[1].messageUId), 'bob keeps it')
    },
  )

  // ---- delivery and moderation ----------------------------------------------------------------

  await t.test('PRIVATE_MESSAGE_DELIVERED / GROUP_MESSAGE_DELIVERED for what the app sent; MESSAGE_BLOCKED for a sensitive word', async (st) => {
    if (!landed.moderation) {
      st.skip("imsync-server has no /sensitiveword routes yet (moderation and delivery receipts not landed): delivery events and MESSAGE_BLOCKED not checked")
      return
    }
    const delivered = await event(`(e) => e.name === 'PRIVATE_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === ${JSON.stringify(text.messageUId)})`)
    const d = delivered.payload.find((x) => x.messageUId === text.messageUId)
    assert.equal(d.targetId, 'bob')
    assert.equal(d.conversationType, PRIVATE)
    assert.ok(d.deliveryTime >= text.sentTime)
    const group = await event(`(e) => e.name === 'GROUP_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === ${JSON.stringify(card.messageUId)})`)
    const g = group.payload.find((x) => x.messageUId === card.messageUId)
    assert.equal(g.targetId, 'team')
    assert.equal(g.deliveryCount, 1)
    assert.equal(g.totalCount, 1)

    await server.admin('/sensitiveword/add', { word: 'forbidden' })
    await server.admin('/sensitiveword/add', { word: 'darn', replaceWord: 'd**n' })
    const m = await mark()
    const blocked = await call('sendTextMessage', [BOB, { content: 'a Forbidden word', extra: 'x-9' }])
    assert.equal(blocked.code, 0, `the send itself succeeds, as the vendor's does: ${JSON.stringify(blocked)}`)
    const ev = await event(`(e) => e.name === 'MESSAGE_BLOCKED'`, m)
    assert.equal(ev.payload.blockedMessageUid, blocked.data.messageUId)
    assert.equal(ev.payload.conversationType, PRIVATE)
    assert.equal(ev.payload.targetId, 'bob')
    assert.equal(ev.payload.extra, 'x-9')
    assert.equal(typeof ev.payload.blockType, 'number')
    const masked = await call('sendTextMessage', [BOB, { content: 'darn it' }])
    assert.equal(masked.code, 0)
    assert.equal(masked.data.content.content, 'd**n it')
    const atBob = await bob.received(masked.data.messageUId, 'bob gets the masked text')
    assert.equal(atBob.content.content, 'd**n it')
    assert.ok(!(await bob.history(TO_ALICE)).some((x) => x.messageUId === blocked.data.messageUId), 'the blocked text never reached bob')
  })

  // ---- status, clock, unknown calls, logout -----------------------------------------------------

  await t.test('getConnectionStatus() and getServerTime() are synchronous numbers', async () => {
    const r = await page(`
      const s = RongIMLib.getConnectionStatus()
      const time = RongIMLib.getServerTime()
      return { s, sType: typeof s, tType: typeof time, drift: time - Date.now(), time }
    `)
    assert.deepEqual({ s: r.s, sType: r.sType, tType: r.tType }, { s: 0, sType: 'number', tType: 'number' })
    assert.ok(r.time >= text.sentTime, `getServerTime() ${r.time} is not before a time the server stamped earlier (${text.sentTime})`)
    assert.ok(Math.abs(r.drift) < 5000, `getServerTime() is ${r.drift} ms off the local clock on loopback`)
  })

  await t.test('a vendor call imsync does not serve answers 35004 naming it (no TypeError)', async () => {
    const r = await page(`return { type: typeof RongIMLib.getUltraGroupList, answer: await RongIMLib.getUltraGroupList(), ext: await RongIMLib.electronExtension.getUltraGroupUnreadInfo() }`)
    assert.equal(r.type, 'function')
    assert.equal(r.answer.code, 35004)
    assert.match(r.answer.msg, /getUltraGroupList/)
    assert.equal(r.ext.code, 35004)
    assert.match(r.ext.msg, /electronExtension\.getUltraGroupUnreadInfo/)
  })

  await t.test('disconnect: DISCONNECTED everywhere the app looks', async () => {
    assert.deepEqual(await call('disconnect', []), { code: 0 })
    const r = await page(`
      await new Promise((resolve) => { const c = () => PL.disconnects.length > 0 && PL.statuses[PL.statuses.length - 1] === 2 && (E.waiters.delete(c), resolve()); E.waiters.add(c); c() })
      return { status: RongIMLib.getConnectionStatus(), plugin: audit.context.getConnectionStatus(), disconnects: PL.disconnects.length }
    `)
    assert.deepEqual(r, { status: 2, plugin: 2, disconnects: 1 })
    assert.equal(service.connectionStatus, 2)
    // The database stays readable after a logout.
    assert.equal((await call('getTotalUnreadCount', [])).code, 0)
  })

  await t.test("destroy: the plugin's ondestroy runs; calls answer 35005 until init()", async () => {
    const r = await page(`
      const destroyed = await RongIMLib.destroy()
      const after = await RongIMLib.getConversationList({ count: 10 })
      const reinit = await RongIMLib.init({ appkey: ${JSON.stringify(APP_KEY)} })
      const again = await RongIMLib.getConversationList({ count: 10 })
      return { destroyed, ondestroy: PL.destroyed, after: after.code, reinit, again: again.code, count: again.data && again.data.length }
    `)
    assert.deepEqual(r, { destroyed: { code: 0 }, ondestroy: 1, after: 35005, reinit: { code: 0 }, again: 0, count: 2 })
  })

  t.diagnostic(`sequence run time: ${Date.now() - started} ms`)
}

