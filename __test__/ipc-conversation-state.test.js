'use strict'
// Conversation state (issue 6) through the Electron glue, end to end: the real imsync-server on
// loopback; alice's app = js/main.js hosted in this process (the stand-in `electron`, see
// electron/harness.js) with a renderer child process as its window; other people and devices
// are native Engines in this process, each with its own database.
// 1. Every issue-6 method is callable from the window and answers exactly what the Engine
//    answers: the very envelope the service's engine returned for that call (spied), the same
//    envelope as a direct call on the service's engine for reads, and the same envelope as a
//    direct call on a second Engine (carol, driven through the same steps) for writes and
//    server-backed calls — 33003 for a bad argument (the message names it) and 30002 before
//    connect included. Nothing answers 35004.
// 2. Multi-device: alice's second device (platform 'Web') pins, mutes, tags and reads; the
//    window gets CONVERSATION / TAG / CONVERSATION_TAG and its reads show the change.
// 3. bob: read receipt (window → bob), typing and expansion (bob → window), group receipt
//    request / response.
// 4. Every event a window received equals, in order, the payload the engine emitted.
// 5. EXPANSION as the seed has it: the conversation inside updatedExpansion / deletedExpansion
//    (5.9.0), and no EXPANSION for the window's own change (bob and alice's other device get it).
// No sleeps for ordering: every wait ends on an event, a reply or a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer: startTestServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { Engine } = h

const APP_KEY = 'ipc-state-key'
const APP_SECRET = 'ipc-state-secret'
const PRIVATE = 1
const GROUP = 3
const GROUP_ID = 'team'

/** The issue-6 API: each must be RongIMLib.<name>, forwarded to Engine.<name>. */
const ISSUE6_METHODS = [
  'getConversation',
  'removeConversation',
  'getTopConversationList',
  'getUnreadConversationList',
  'getTotalUnreadCount',
  'getUnreadCount',
  'getUnreadMentionedCount',
  'getAllUnreadMentionedCount',
  'clearMessagesUnreadStatus',
  'clearAllMessagesUnreadStatus',
  'getFirstUnreadMessageInfo',
  'saveTextMessageDraft',
  'getTextMessageDraft',
  'clearTextMessageDraft',
  'setConversationToTop',
  'setConversationNotificationLevel',
  'getConversationNotificationLevel',
  'setConversationNotificationStatus',
  'getConversationNotificationStatus',
  'getBlockedConversationList',
  'addTag',
  'removeTag',
  'updateTag',
  'getTags',
  'addConversationsToTag',
  'removeConversationsFromTag',
  'removeTagsFromConversation',
  'removeTagFromConversations',
  'getTagsFromConversation',
  'getConversationsFromTagByPage',
  'getUnreadCountByTag',
  'setConversationToTopInTag',
  'addToBlacklist',
  'removeFromBlacklist',
  'getBlacklist',
  'getBlacklistStatus',
  'sendTypingStatusMessage',
  'sendReadReceiptMessage',
  'sendReadReceiptRequest',
  'sendReadReceiptResponseV2',
  'sendSyncReadStatusMessage',
  'updateMessageExpansion',
  'removeMessageExpansionForKey',
]

/** The events of issue 6 (plus MESSAGES, which carries what they refer to). */
const STATE_EVENTS = ['CONVERSATION', 'TAG', 'CONVERSATION_TAG', 'READ_RECEIPT_RECEIVED', 'MESSAGE_RECEIPT_REQUEST', 'MESSAGE_RECEIPT_RESPONSE', 'EXPANSION', 'TYPING_STATUS', 'MESSAGES']


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

// ---- the people --------------------------------------------------------------------------------

/** A native Engine (another user, or another device of alice) with its own database. */
async function nativeUser(t, url, userId, { connect = true, ...options } = {}) {
  const dbpath = h.tmpDir(`state-${userId}`)
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: url, logOutputLevel: 1, ...options })
  engine.onEvent(() => {})
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const user = { userId, engine, tap: tapOf(engine), connect: () => connectNative(user, url) }
  if (connect) await user.connect()
  return user
}

async function connectNative(user, url) {
  const from = user.tap.events.length
  const r = await h.withDeadline(user.engine.connect(await getToken(url, user.userId)), 15000, `${user.userId} connect`)
  assert.deepEqual(r, { code: 0, data: { userId: user.userId } })
  await user.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', `${user.userId} PULL_OFFLINE_MESSAGE_FINISHED`, { from })
}

/** Sends as a native user; resolves the stored, SENT message. */
async function sendAs(user, conversation, content, options) {
  const message = { messageType: 'RC:TxtMsg', content: typeof content === 'string' ? { content } : content }
  const r = await user.engine.sendMessage(conversation, message, options)
  assert.equal(r.code, 0, `${user.userId}'s send: ${JSON.stringify(r)}`)
  assert.equal(typeof r.data.messageUId, 'string')
  return r.data
}

/** alice's app: the service (js/main.js) on a fresh dbpath, and one secure window listening to STATE_EVENTS. */
async function startApp(t, url, options = {}) {
  const { service, spy } = h.startService(t, { appkey: APP_KEY, serverUrl: url, ...options })
  const win = await h.openWindow()
  await h.page(win, `${PAGE_RECORDER}; for (const n of ${JSON.stringify(STATE_EVENTS)}) imsync.addEventListener(n, T.record(n)); await imsync.getConnectionStatusAsync()`)
  return { userId: 'alice', service, spy, win, tap: tapOf(service.engine) }
}

// Page-side recorder: one listener per event name pushes { name, payload } and wakes waiters.
const PAGE_RECORDER = `
  globalThis.T = {
    events: [],
    waiters: new Set(),
    record(name) {
      return (payload) => {
        T.events.push({ name, payload })
        for (const w of [...T.waiters]) w()
      }
    },
    wait(pred, from = 0) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = T.events.slice(from).find(pred)
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

/** The listed keys of `o` (absent keys left out). */
const pick = (o, ...keys) => Object.fromEntries(keys.filter((k) => o && k in o).map((k) => [k, o[k]]))

/** Page: how many events the window has recorded so far. */
const windowMark = (win) => h.page(win, 'return T.events.length')

/** Page: the first event from index `from` on for which `predSource` (page code) is true. */
const windowWait = (win, predSource, from = 0, ms = 10000) => h.page(win, `return await T.wait(${predSource}, ${from})`, ms)

/** Calls RongIMLib[method](...args) in the window's page world; resolves its envelope. */
function call(win, method, args = []) {
  return h.page(win, `return await imsync[${JSON.stringify(method)}](...${JSON.stringify(args)})`, 15000)
}

/**
 * Calls `method` in alice's window and checks that the answer is exactly what the service's
 * engine resolved for that call, with the arguments the page passed.
 */
async function viaWindow(app, method, args = []) {
  const before = app.spy.calls.length
  const answer = await call(app.win, method, args)
  const calls = app.spy.calls.slice(before).filter((c) => c.method === method)
  assert.equal(calls.length, 1, `${method}: one engine call per window call (got ${calls.length})`)
  const [record] = calls
  assert.ok(record.settled, `${method}: the engine call settled before the window had its answer`)
  assert.deepStrictEqual(record.args, args, `${method}: the engine got the page's arguments`)
  assert.deepStrictEqual(answer, record.result, `${method}: the window's answer is the engine's own envelope`)
  assert.ok(answer && typeof answer.code === 'number', `${method}: an envelope: ${JSON.stringify(answer)}`)
  assert.notEqual(answer.code, 35004, `${method} answered 35004 (not supported): ${JSON.stringify(answer)}`)
  return answer
}

/**
 * The test's two events logs (window and engine) for `names`: waits until the window has seen
 * as many as the engine emitted, then requires them equal, in order (structured clone keeps
 * every payload as the engine built it).
 */
async function assertWindowSawEngineEvents(app, names = STATE_EVENTS) {
  const emitted = app.tap.events.filter((e) => names.includes(e.name))
  const n = emitted.length
  const seen = await h.withDeadline(
    (async () => {
      await h.page(app.win, `return await new Promise((resolve) => { const check = () => { if (T.events.filter((e) => ${JSON.stringify(names)}.includes(e.name)).length >= ${n}) { T.waiters.delete(check); resolve() } }; T.waiters.add(check); check() })`, 10000)
      return h.page(app.win, `return T.events.filter((e) => ${JSON.stringify(names)}.includes(e.name))`)
    })(),
    12000,
    `the window receives the engine's ${n} events`,
  )
  assert.deepStrictEqual(
    seen.slice(0, n).map((e) => e.name),
    emitted.map((e) => e.name),
    'the window got the engine events, in order',
  )
  for (let i = 0; i < n; i++) assert.deepStrictEqual(seen[i].payload, emitted[i].payload, `event #${i} ${emitted[i].name}: the window's payload equals the engine's`)
  return emitted
}

// ---- 1. every method: the bridge answers what the Engine answers -----------------------------------

const bobConv = { conversationType: PRIVATE, targetId: 'bob' }
const teamConv = { conversationType: GROUP, targetId: GROUP_ID }
const fakeMessage = { conversationType: PRIVATE, targetId: 'bob', messageUId: 'BAD0-0000-0000-0000', canIncludeExpansion: true, messageType: 'RC:TxtMsg', content: { content: 'x' } }

/** One bad argument per method that takes one; the answer must be 33003 (or the call's own vendor code) naming `names`. */
const BAD_ARGUMENTS = [
  ['getConversation', ['bob'], /conversation/],
  ['removeConversation', [{ conversationType: PRIVATE }], /conversation\.targetId/],
  ['getTopConversationList', ['1'], /conversationTypes/],
  ['getUnreadConversationList', [{}], /conversationTypes/],
  ['getTotalUnreadCount', ['yes'], /includeMuted/],
  ['getTotalUnreadCount', [true, 'x'], /conversationTypes/],
  ['getUnreadCount', [null], /conversation/],
  ['getUnreadMentionedCount', [42], /conversation/],
  ['clearMessagesUnreadStatus', [{ conversationType: 'x', targetId: 'bob' }], /conversation\.conversationType/],
  ['getFirstUnreadMessageInfo', [[]], /conversation/],
  ['saveTextMessageDraft', [bobConv, 42], /draft/],
  ['getTextMessageDraft', [{ conversationType: PRIVATE, targetId: '' }], /conversation\.targetId/],
  ['clearTextMessageDraft', ['x'], /conversation/],
  ['setConversationToTop', [bobConv, 'yes'], /isTop/],
  ['setConversationNotificationLevel', [bobConv, 3], /notificationLevel/],
  ['getConversationNotificationLevel', [{ targetId: 'bob' }], /conversation\.conversationType/],
  ['setConversationNotificationStatus', [bobConv, 3], /notificationStatus/],
  ['getConversationNotificationStatus', ['bob'], /conversation/],
  ['addTag', [{ tagId: 'abcdefghijk', tagName: 'x' }], /tag\.tagId/],
  ['addTag', ['work'], /tag/],
  ['removeTag', [42], /tagId/],
  ['updateTag', [{ tagId: 'work', tagName: 'x'.repeat(16) }], /tag\.tagName/],
  ['addConversationsToTag', ['work', 'x'], /conversations/],
  ['removeConversationsFromTag', ['', [bobConv]], /tagId/],
  ['removeTagsFromConversation', [bobConv, []], /tagIds/],
  ['removeTagFromConversations', ['work', [{ conversationType: PRIVATE }]], /conversations\[0\]/],
  ['getTagsFromConversation', [7], /conversation/],
  ['getConversationsFromTagByPage', ['work', 0, 0], /count/],
  ['getUnreadCountByTag', ['work', 'x'], /containMuted/],
  ['setConversationToTopInTag', ['work', bobConv], /isTop/],
  ['addToBlacklist', [42], /userId/],
  ['removeFromBlacklist', [''], /userId/],
  ['getBlacklistStatus', [null], /userId/],
  ['sendTypingStatusMessage', [bobConv, 42], /typingContentType/],
  ['sendReadReceiptMessage', ['bob', 'UID', 'x'], /timestamp/],
  ['sendReadReceiptRequest', [GROUP_ID, 42], /messageUId/],
  // An illegal messageList has the seed's own code, 34206 (MSG_LIMIT_ERROR), not 33003.
  ['sendReadReceiptResponseV2', [GROUP_ID, {}], /messageList/, 34206],
  ['sendSyncReadStatusMessage', [bobConv, 'x'], /lastMessageSendTime/],
  ['updateMessageExpansion', ['x', fakeMessage], /expansion/],
  ['removeMessageExpansionForKey', [[], fakeMessage], /keys/],
]

/** Calls that need the server: before connect each must answer 30002. */
const SERVER_BACKED = [
  ['setConversationToTop', [bobConv, true]],
  ['setConversationNotificationLevel', [bobConv, 5]],
  ['setConversationNotificationStatus', [bobConv, 1]],
  ['addTag', [{ tagId: 'work', tagName: 'Work' }]],
  ['updateTag', [{ tagId: 'work', tagName: 'Work 2' }]],
  ['removeTag', ['work']],
  ['addConversationsToTag', ['work', [bobConv]]],
  ['removeConversationsFromTag', ['work', [bobConv]]],
  ['removeTagsFromConversation', [bobConv, ['work']]],
  ['removeTagFromConversations', ['work', [bobConv]]],
  ['setConversationToTopInTag', ['work', bobConv, true]],
  ['addToBlacklist', ['dave']],
  ['removeFromBlacklist', ['dave']],
  ['getBlacklist', []],
  ['getBlacklistStatus', ['dave']],
  ['sendTypingStatusMessage', [bobConv, 'RC:TxtMsg']],
  ['sendReadReceiptMessage', ['bob', 'BAD0-0000-0000-0000', 1700000000000]],
  ['sendReadReceiptRequest', [GROUP_ID, 'BAD0-0000-0000-0000']],
  ['sendReadReceiptResponseV2', [GROUP_ID, { bob: ['BAD0-0000-0000-0000'] }]],
  ['sendSyncReadStatusMessage', [bobConv, 1700000000000]],
  ['updateMessageExpansion', [{ k1: 'v1' }, fakeMessage]],
  ['removeMessageExpansionForKey', [['k1'], fakeMessage]],
]

/** Local reads: answered from the database, connected or not. */
const LOCAL_READS = [
  ['getConversation', [bobConv]],
  ['getTopConversationList', []],
  ['getTopConversationList', [[PRIVATE, GROUP]]],
  ['getUnreadConversationList', []],
  ['getUnreadConversationList', [[GROUP]]],
  ['getTotalUnreadCount', []],
  ['getTotalUnreadCount', [true]],
  ['getTotalUnreadCount', [false, [PRIVATE]]],
  ['getUnreadCount', [bobConv]],
  ['getUnreadCount', [teamConv]],
  ['getUnreadMentionedCount', [teamConv]],
  ['getAllUnreadMentionedCount', []],
  ['getFirstUnreadMessageInfo', [bobConv]],
  ['getFirstUnreadMessageInfo', [teamConv]],
  ['getTextMessageDraft', [bobConv]],
  ['getConversationNotificationLevel', [teamConv]],
  ['getConversationNotificationStatus', [teamConv]],
  ['getBlockedConversationList', []],
  ['getTags', []],
  ['getTagsFromConversation', [bobConv]],
  ['getConversation', [teamConv]],
]

/** The local reads whose answer is the same for two users in the same kind of state. */
const PORTABLE_READS = new Set(['getTotalUnreadCount', 'getUnreadCount', 'getUnreadMentionedCount', 'getAllUnreadMentionedCount', 'getTextMessageDraft', 'getConversationNotificationLevel', 'getConversationNotificationStatus'])

test("every issue-6 method called from a window answers exactly what the Engine answers (33003 naming the argument, 30002 before connect, no 35004)", async (t) => {
  const { url } = await startServer(t)
  await admin(url, '/group/create', { groupId: GROUP_ID, groupName: 'Team', userId: ['alice', 'bob', 'carol'] })
  // alice: the app and its window. carol: a native Engine driven through the same steps, so
  // both are always in the same kind of state (typingInterval long, to see the throttle).
  const alice = await startApp(t, url, { typingInterval: 60000 })
  const carol = await nativeUser(t, url, 'carol', { connect: false, typingInterval: 60000 })
  const { win } = alice

  // Every issue-6 method is on the page's API object, a function, and on the allow-list.
  const { IMLIB_METHODS } = require('../js/main.js')
  assert.deepEqual(ISSUE6_METHODS.filter((m) => !IMLIB_METHODS.includes(m)), [], 'js/main.js allow-list')
  assert.deepEqual(await h.page(win, `return ${JSON.stringify(ISSUE6_METHODS)}.filter((m) => typeof imsync[m] !== 'function')`), [], 'RongIMLib.<name> in the window')
  assert.deepEqual(ISSUE6_METHODS.filter((m) => typeof Engine.prototype[m] !== 'function'), [], 'Engine.<name>')

  /** alice's window and carol's engine, same call: the same envelope. */
  const both = async (method, args, { argsFor, normalize = (x) => x } = {}) => {
    const a = await viaWindow(alice, method, argsFor ? argsFor(alice) : args)
    const c = await carol.engine[method](...(argsFor ? argsFor(carol) : args))
    assert.deepStrictEqual(normalize(a, alice), normalize(c, carol), `${method}(${JSON.stringify(args)}): the window (alice) answers as the Engine (carol) does`)
    return a
  }
  /** alice's window and a direct call on the service's own engine: the same envelope. */
  const read = async (method, args) => {
    const a = await viaWindow(alice, method, args)
    const direct = await alice.service.engine[method](...args)
    assert.deepStrictEqual(a, direct, `${method}(${JSON.stringify(args)}): the window's answer equals a direct call on the service's engine`)
    return a
  }

  // ---- offline: the databases open, no connection -------------------------------------------
  assert.deepEqual(await call(win, 'open', ['alice']), { code: 0 })
  assert.deepEqual(await carol.engine.open('carol'), { code: 0 })

  for (const [method, args, names, code = 33003] of BAD_ARGUMENTS) {
    const r = await both(method, args)
    assert.equal(r.code, code, `${method}(${JSON.stringify(args)}): ${JSON.stringify(r)}`)
    assert.match(r.msg, names, `${method}: the message names the argument`)
  }
  for (const [method, args] of SERVER_BACKED) {
    const r = await both(method, args)
    assert.equal(r.code, 30002, `${method} before connect: ${JSON.stringify(r)}`)
  }
  // Local reads work offline and agree with the engine (and between two empty databases).
  for (const [method, args] of LOCAL_READS) {
    const r = await read(method, args)
    assert.equal(r.code, 0, `${method} offline: ${JSON.stringify(r)}`)
    assert.deepStrictEqual(r, await carol.engine[method](...args), `${method}: two empty databases answer alike`)
  }
  // Local writes work offline too.
  for (const [method, args] of [
    ['saveTextMessageDraft', [bobConv, 'offline draft']],
    ['clearTextMessageDraft', [bobConv]],
    ['clearMessagesUnreadStatus', [bobConv]],
    ['clearAllMessagesUnreadStatus', []],
    ['removeConversation', [bobConv]],
  ]) {
    assert.equal((await both(method, args)).code, 0, method)
  }

  // ---- connected: the same kind of state for alice and carol ----------------------------------
  const token = await getToken(url, 'alice')
  assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED')
  await carol.connect()
  const bob = await nativeUser(t, url, 'bob')

  // bob → each: a private message that allows expansion and a group @all; each sends the group
  // one own message (for the receipt request) and receives the other's.
  const from = { alice: {}, carol: {} }
  for (const who of [alice, carol]) {
    const p = await sendAs(bob, { conversationType: PRIVATE, targetId: who.userId }, `hi ${who.userId}`, { canIncludeExpansion: true })
    from[who.userId].bobPrivate = (await who.tap.wait(hasUid(p.messageUId), `${who.userId} gets bob's message`)).payload.messages.find((m) => m.messageUId === p.messageUId)
  }
  const atAll = await sendAs(bob, teamConv, { content: '@all 周会', mentionedInfo: { type: 1, userIdList: [] } })
  for (const who of [alice, carol]) from[who.userId].bobGroup = (await who.tap.wait(hasUid(atAll.messageUId), `${who.userId} gets bob's @all`)).payload.messages.find((m) => m.messageUId === atAll.messageUId)
  const aliceGroup = await viaWindow(alice, 'sendMessage', [teamConv, { messageType: 'RC:TxtMsg', content: { content: 'from alice' } }])
  assert.equal(aliceGroup.code, 0, JSON.stringify(aliceGroup))
  const carolGroup = await sendAs(carol, teamConv, 'from carol')
  await carol.tap.wait(hasUid(aliceGroup.data.messageUId), "carol gets alice's group message")
  await alice.tap.wait(hasUid(carolGroup.messageUId), "alice gets carol's group message")
  from.alice.ownGroup = aliceGroup.data
  from.carol.ownGroup = carolGroup
  from.alice.otherGroup = carolGroup
  from.carol.otherGroup = aliceGroup.data
  const other = { alice: 'carol', carol: 'alice' }

  // Counts agree between the two users (same kind of state) and with the engine.
  for (const [method, args] of LOCAL_READS) {
    const r = await read(method, args)
    assert.equal(r.code, 0, `${method}: ${JSON.stringify(r)}`)
    if (PORTABLE_READS.has(method)) assert.deepStrictEqual(r, await carol.engine[method](...args), `${method}(${JSON.stringify(args)}): alice and carol alike`)
  }
  assert.equal((await read('getUnreadCount', [bobConv])).data, 1)
  assert.equal((await read('getUnreadMentionedCount', [teamConv])).data, 1)
  assert.equal((await read('getTotalUnreadCount', [])).data, 3, 'bob private, bob @all, carol')
  const first = await read('getFirstUnreadMessageInfo', [bobConv])
  assert.equal(first.data.messageUId, from.alice.bobPrivate.messageUId)

  // Drafts.
  assert.deepEqual(await both('saveTextMessageDraft', [bobConv, '草稿 draft 🙂']), { code: 0 })
  assert.deepEqual(await read('getTextMessageDraft', [bobConv]), { code: 0, data: '草稿 draft 🙂' })
  assert.equal((await read('getConversation', [bobConv])).data.draft, '草稿 draft 🙂')
  assert.deepEqual(await both('clearTextMessageDraft', [bobConv]), { code: 0 })
  assert.deepEqual(await read('getTextMessageDraft', [bobConv]), { code: 0, data: '' })

  // Pin, level, status.
  assert.deepEqual(await both('setConversationToTop', [bobConv, true]), { code: 0 })
  assert.deepEqual((await read('getTopConversationList', [])).data.map((c) => c.targetId), ['bob'])
  assert.equal((await read('getConversation', [bobConv])).data.isTop, true)
  assert.deepEqual(await both('setConversationToTop', [bobConv]), { code: 0 }, 'isTop defaults to true')
  assert.deepEqual(await both('setConversationNotificationLevel', [teamConv, 5]), { code: 0 })
  assert.deepEqual(await read('getConversationNotificationLevel', [teamConv]), { code: 0, data: 5 })
  assert.deepEqual(await read('getConversationNotificationStatus', [teamConv]), { code: 0, data: 1 })
  assert.deepEqual((await read('getBlockedConversationList', [])).data.map((c) => c.targetId), [GROUP_ID])
  assert.equal((await both('getTotalUnreadCount', [false])).data, 1, 'the muted group is left out')
  assert.equal((await both('getTotalUnreadCount', [true])).data, 3)
  assert.deepEqual(await both('setConversationNotificationStatus', [bobConv, 1]), { code: 0 })
  assert.deepEqual(await both('getConversationNotificationLevel', [bobConv]), { code: 0, data: 5 })
  assert.deepEqual(await both('setConversationNotificationStatus', [bobConv, 2]), { code: 0 })
  assert.deepEqual(await both('getConversationNotificationStatus', [bobConv]), { code: 0, data: 2 })

  // Tags.
  assert.deepEqual(await both('addTag', [{ tagId: 'work', tagName: '工作' }]), { code: 0 })
  const again = await both('addTag', [{ tagId: 'work', tagName: '工作' }])
  assert.equal(again.code, 33101, `an existing tag: ${JSON.stringify(again)}`)
  assert.deepEqual(await both('updateTag', [{ tagId: 'work', tagName: 'Work' }]), { code: 0 })
  assert.deepEqual(await both('addTag', [{ tagId: 'tmp', tagName: 'Tmp' }]), { code: 0 })
  assert.deepEqual(await both('removeTag', ['tmp']), { code: 0 })
  const tags = await read('getTags', [])
  assert.deepEqual(tags.data.map((x) => [x.tagId, x.tagName]), [['work', 'Work']])
  assert.deepEqual(await both('addConversationsToTag', ['work', [bobConv, teamConv]]), { code: 0 })
  assert.deepEqual((await read('getTagsFromConversation', [bobConv])).data.map((x) => x.tagId), ['work'])
  assert.deepEqual(await both('setConversationToTopInTag', ['work', teamConv, true]), { code: 0 })
  const page = await read('getConversationsFromTagByPage', ['work', 10, 0])
  assert.deepEqual(page.data.map((c) => [c.targetId, c.isTopInTag]), [[GROUP_ID, true], ['bob', false]])
  assert.deepEqual(await both('getUnreadCountByTag', ['work', false]), { code: 0, data: 1 })
  assert.deepEqual(await both('getUnreadCountByTag', ['work', true]), { code: 0, data: 3 })
  for (const method of ['getConversationsFromTagByPage', 'getUnreadCountByTag']) {
    const args = method === 'getUnreadCountByTag' ? ['nope', false] : ['nope', 10, 0]
    const r = await both(method, args)
    assert.equal(r.code, 33100, `${method} of a missing tag: ${JSON.stringify(r)}`)
  }
  assert.deepEqual(await both('removeConversationsFromTag', ['work', [teamConv]]), { code: 0 })
  assert.deepEqual(await both('removeTagFromConversations', ['work', [bobConv]]), { code: 0 })
  assert.deepEqual((await read('getConversationsFromTagByPage', ['work', 10, 0])).data, [])
  assert.deepEqual(await both('addConversationsToTag', ['work', [bobConv]]), { code: 0 })
  assert.deepEqual(await both('removeTagsFromConversation', [bobConv, ['work']]), { code: 0 })
  assert.deepEqual(await both('getTagsFromConversation', [bobConv]), { code: 0, data: [] })

  // Blacklist (server-side).
  assert.deepEqual(await both('addToBlacklist', ['dave']), { code: 0 })
  assert.deepEqual(await both('getBlacklist', []), { code: 0, data: ['dave'] })
  assert.deepEqual(await both('getBlacklistStatus', ['dave']), { code: 0, data: 0 })
  assert.deepEqual(await both('getBlacklistStatus', ['bob']), { code: 0, data: 1 })
  assert.deepEqual(await both('removeFromBlacklist', ['dave']), { code: 0 })
  assert.deepEqual(await both('getBlacklist', []), { code: 0, data: [] })
  const self = await both('addToBlacklist', null, { argsFor: (who) => [who.userId] })
  assert.equal(self.code, 37001, `blacklisting oneself: ${JSON.stringify(self)}`)

  // Typing: the first sends (the status message), the next inside typingInterval sends nothing.
  const sameMessage = (r, who) => {
    if (!r || !r.data) return r
    const d = { ...r.data }
    for (const k of ['messageUId', 'sentTime', 'receivedTime']) if (k in d) d[k] = typeof d[k]
    if (d.senderUserId === who.userId) d.senderUserId = '<me>'
    return { ...r, data: d }
  }
  const typing = await both('sendTypingStatusMessage', [bobConv, 'RC:TxtMsg'], { normalize: sameMessage })
  assert.equal(typing.code, 0, JSON.stringify(typing))
  assert.equal(typing.data.messageType, 'RC:TypSts')
  // Throttled: nothing sent, `data: null` (its declared result is `IAReceivedMessage | null`).
  const throttled = await both('sendTypingStatusMessage', [bobConv, 'RC:TxtMsg'])
  assert.deepEqual(throttled, { code: 0, data: null }, `throttled: nothing sent: ${JSON.stringify(throttled)}`)
  const typingGroupOnly = await both('sendTypingStatusMessage', [{ conversationType: 6, targetId: 'sys' }, 'RC:TxtMsg'])
  assert.equal(typingGroupOnly.code, 34201, JSON.stringify(typingGroupOnly))

  // Read state.
  assert.deepEqual(await both('sendReadReceiptMessage', null, { argsFor: (who) => ['bob', from[who.userId].bobPrivate.messageUId, from[who.userId].bobPrivate.sentTime] }), { code: 0 })
  assert.deepEqual(await both('sendSyncReadStatusMessage', null, { argsFor: (who) => [bobConv, from[who.userId].bobPrivate.sentTime] }), { code: 0 })
  assert.deepEqual(await read('getUnreadCount', [bobConv]), { code: 0, data: 0 })
  const none = await read('getFirstUnreadMessageInfo', [bobConv])
  assert.deepEqual(none, { code: 0, data: null }, `no unread message: ${JSON.stringify(none)}`)
  // Group receipts: each asks for receipts of its own message, then answers the other's.
  const aliceRequests = alice.tap.events.length
  const carolRequests = carol.tap.events.length
  assert.deepEqual(await both('sendReadReceiptRequest', null, { argsFor: (who) => [GROUP_ID, from[who.userId].ownGroup.messageUId] }), { code: 0 })
  await alice.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_REQUEST' && e.payload.messageUid === carolGroup.messageUId, "alice gets carol's receipt request", { from: aliceRequests })
  await carol.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_REQUEST' && e.payload.messageUid === aliceGroup.data.messageUId, "carol gets alice's receipt request", { from: carolRequests })
  const aliceResponses = alice.tap.events.length
  const carolResponses = carol.tap.events.length
  assert.deepEqual(await both('sendReadReceiptResponseV2', null, { argsFor: (who) => [GROUP_ID, { [other[who.userId]]: [from[who.userId].otherGroup.messageUId] }] }), { code: 0 })
  await alice.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_RESPONSE' && e.payload.messageUidList.includes(aliceGroup.data.messageUId), "alice gets carol's response", { from: aliceResponses })
  await carol.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_RESPONSE' && e.payload.messageUidList.includes(carolGroup.messageUId), "carol gets alice's response", { from: carolResponses })
  const notMine = await both('sendReadReceiptRequest', null, { argsFor: (who) => [GROUP_ID, from[who.userId].otherGroup.messageUId] })
  assert.notEqual(notMine.code, 0, `a receipt request for someone else's message is refused: ${JSON.stringify(notMine)}`)

  // Expansion on bob's message (it allowed expansion), and on one that did not.
  assert.deepEqual(await both('updateMessageExpansion', null, { argsFor: (who) => [{ k1: 'v1', k2: '值' }, from[who.userId].bobPrivate] }), { code: 0 })
  assert.deepEqual(await both('removeMessageExpansionForKey', null, { argsFor: (who) => [['k1'], from[who.userId].bobPrivate] }), { code: 0 })
  const noExpansion = await both('updateMessageExpansion', null, { argsFor: (who) => [{ k1: 'v1' }, from[who.userId].bobGroup] })
  assert.equal(noExpansion.code, 34008, JSON.stringify(noExpansion))

  // Clearing and removing.
  assert.deepEqual(await both('clearMessagesUnreadStatus', [teamConv]), { code: 0 })
  assert.deepEqual(await read('getUnreadCount', [teamConv]), { code: 0, data: 0 })
  assert.deepEqual(await read('getUnreadMentionedCount', [teamConv]), { code: 0, data: 0 })
  assert.deepEqual(await both('clearAllMessagesUnreadStatus', []), { code: 0 })
  assert.deepEqual(await read('getTotalUnreadCount', [true]), { code: 0, data: 0 })
  assert.deepEqual(await read('getUnreadConversationList', []), { code: 0, data: [] })
  assert.deepEqual(await both('removeConversation', [bobConv]), { code: 0 })
  const all = await h.page(win, 'return await imsync.electronExtension.getAllConversationList()')
  assert.ok(!all.data.some((c) => c.targetId === 'bob'), 'the removed conversation left the list')
  await read('getConversation', [bobConv])

  // Every answer through the window was the engine's; nothing was "not supported".
  for (const c of alice.spy.calls) assert.notEqual(c.result && c.result.code, 35004, `${c.method} answered 35004`)
  // And whatever the engine emitted on the way reached the window unchanged.
  await assertWindowSawEngineEvents(alice)
})

// ---- 2. multi-device through the bridge -----------------------------------------------------------

test("alice's second device pins, mutes, tags and reads: the window gets CONVERSATION / TAG / CONVERSATION_TAG and its reads follow", async (t) => {
  const { url } = await startServer(t)
  const alice = await startApp(t, url)
  const { win } = alice
  const token = await getToken(url, 'alice')
  assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED')
  const device2 = await nativeUser(t, url, 'alice', { platform: 'Web' })
  const bob = await nativeUser(t, url, 'bob')

  // bob → alice: both of alice's devices have the conversation, 1 unread.
  const hello = await sendAs(bob, { conversationType: PRIVATE, targetId: 'alice' }, 'hello alice')
  await alice.tap.wait(hasUid(hello.messageUId), "the app gets bob's message")
  await device2.tap.wait(hasUid(hello.messageUId), "device 2 gets bob's message")
  await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(hello.messageUId)})`)
  assert.deepEqual(await viaWindow(alice, 'getUnreadCount', [bobConv]), { code: 0, data: 1 })

  const conversationEvent = async (label, pred, action) => {
    const mark = await windowMark(win)
    const r = await action()
    assert.deepEqual(r, { code: 0 }, `${label} on device 2`)
    // IMLib 5.x items: { conversation, updatedItems }.
    const ev = await windowWait(win, `(e) => e.name === 'CONVERSATION' && e.payload.conversationList.some((i) => (${pred})(i.conversation))`, mark)
    return ev.payload.conversationList.map((i) => i.conversation).find(eval(pred))
  }

  // Pin on device 2 → CONVERSATION with isTop in the window; its reads follow.
  const pinned = await conversationEvent('setConversationToTop', `(c) => c.targetId === 'bob' && c.conversationType === 1 && c.isTop === true`, () => device2.engine.setConversationToTop(bobConv, true))
  assert.equal(pinned.isTop, true)
  assert.deepEqual((await viaWindow(alice, 'getTopConversationList', [])).data.map((c) => c.targetId), ['bob'])
  assert.equal((await viaWindow(alice, 'getConversation', [bobConv])).data.isTop, true)

  // Level on device 2 → CONVERSATION with notificationLevel in the window.
  const muted = await conversationEvent('setConversationNotificationLevel', `(c) => c.targetId === 'bob' && c.notificationLevel === 5`, () => device2.engine.setConversationNotificationLevel(bobConv, 5))
  assert.equal(muted.notificationLevel, 5)
  assert.equal(muted.isTop, true, 'still pinned')
  assert.deepEqual(await viaWindow(alice, 'getConversationNotificationLevel', [bobConv]), { code: 0, data: 5 })
  assert.deepEqual(await viaWindow(alice, 'getConversationNotificationStatus', [bobConv]), { code: 0, data: 1 })
  assert.deepEqual((await viaWindow(alice, 'getBlockedConversationList', [])).data.map((c) => c.targetId), ['bob'])

  // addTag on device 2 → TAG in the window; getTags in the window shows it.
  let mark = await windowMark(win)
  assert.deepEqual(await device2.engine.addTag({ tagId: 'fam', tagName: '家人' }), { code: 0 })
  await windowWait(win, `(e) => e.name === 'TAG'`, mark)
  assert.deepEqual((await viaWindow(alice, 'getTags', [])).data.map((x) => [x.tagId, x.tagName]), [['fam', '家人']])
  // …and linking a conversation → CONVERSATION_TAG; the window sees the link.
  mark = await windowMark(win)
  assert.deepEqual(await device2.engine.addConversationsToTag('fam', [bobConv]), { code: 0 })
  await windowWait(win, `(e) => e.name === 'CONVERSATION_TAG'`, mark)
  assert.deepEqual((await viaWindow(alice, 'getTagsFromConversation', [bobConv])).data.map((x) => x.tagId), ['fam'])
  assert.deepEqual((await viaWindow(alice, 'getConversationsFromTagByPage', ['fam', 10, 0])).data.map((c) => c.targetId), ['bob'])

  // sendSyncReadStatusMessage on device 2 → the window's unread count for bob drops to 0.
  assert.deepEqual(await device2.engine.getUnreadCount(bobConv), { code: 0, data: 1 })
  const read = await conversationEvent('sendSyncReadStatusMessage', `(c) => c.targetId === 'bob' && c.unreadMessageCount === 0`, () => device2.engine.sendSyncReadStatusMessage(bobConv, hello.sentTime))
  assert.equal(read.unreadMessageCount, 0)
  assert.deepEqual(await viaWindow(alice, 'getUnreadCount', [bobConv]), { code: 0, data: 0 })
  assert.deepEqual(await viaWindow(alice, 'getTotalUnreadCount', [true]), { code: 0, data: 0 })
  assert.deepEqual(await device2.engine.getUnreadCount(bobConv), { code: 0, data: 0 })

  // The window's changes reach device 2 the same way (the other direction, through the bridge).
  const d2mark = device2.tap.events.length
  assert.deepEqual(await viaWindow(alice, 'setConversationToTop', [bobConv, false]), { code: 0 })
  await device2.tap.wait((e) => e.name === 'CONVERSATION' && e.payload.conversationList.some(({ conversation: c }) => c.targetId === 'bob' && c.isTop === false), 'device 2 sees the unpin', { from: d2mark })

  // Every event of these kinds the engine emitted reached the window unchanged, in order.
  const emitted = await assertWindowSawEngineEvents(alice)
  for (const name of ['CONVERSATION', 'TAG', 'CONVERSATION_TAG']) assert.ok(emitted.some((e) => e.name === name), `the engine emitted ${name}`)
})

// ---- 3. receipts, typing, expansion between users ---------------------------------------------------

test('bob and alice: read receipt from the window reaches bob; bob typing and expansion reach the window; group receipts both ways', async (t) => {
  const { url } = await startServer(t)
  await admin(url, '/group/create', { groupId: GROUP_ID, groupName: 'Team', userId: ['alice', 'bob'] })
  const alice = await startApp(t, url)
  const { win } = alice
  const token = await getToken(url, 'alice')
  assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED')
  const bob = await nativeUser(t, url, 'bob', { typingInterval: 50 })
  const toAlice = { conversationType: PRIVATE, targetId: 'alice' }

  // bob → alice; the window sends the read receipt → bob gets READ_RECEIPT_RECEIVED.
  const hello = await sendAs(bob, toAlice, 'read me')
  await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(hello.messageUId)})`)
  let bobMark = bob.tap.events.length
  assert.deepEqual(await viaWindow(alice, 'sendReadReceiptMessage', ['bob', hello.messageUId, hello.sentTime]), { code: 0 })
  const receipt = await bob.tap.wait((e) => e.name === 'READ_RECEIPT_RECEIVED', 'bob READ_RECEIPT_RECEIVED', { from: bobMark })
  assert.deepEqual(receipt.payload.conversation, { conversationType: PRIVATE, targetId: 'alice', channelId: '' })
  assert.equal(receipt.payload.messageUid, hello.messageUId)
  assert.equal(receipt.payload.sentTime, hello.sentTime)
  assert.equal(receipt.payload.sendUserId, 'alice')
  const atBob = await bob.engine.getHistoryMessages(toAlice, { timestamp: 0, count: 10, order: 0 })
  assert.equal(atBob.data.list.find((m) => m.messageUId === hello.messageUId).sentStatus, 50, "bob's message is READ")

  // bob types → TYPING_STATUS in the window.
  let mark = await windowMark(win)
  const typed = await bob.engine.sendTypingStatusMessage(toAlice, 'RC:TxtMsg')
  assert.equal(typed.code, 0, JSON.stringify(typed))
  assert.ok(typed.data, 'the first typing status is sent')
  const typing = await windowWait(win, `(e) => e.name === 'TYPING_STATUS'`, mark)
  assert.equal(typing.payload.status.length, 1)
  const status = typing.payload.status[0]
  assert.equal(status.conversationType, PRIVATE)
  assert.equal(status.targetId, 'bob')
  assert.deepEqual(status.list.map((x) => [x.userId, x.messageType]), [['bob', 'RC:TxtMsg']])
  // Typing is not stored: alice's history has no RC:TypSts.
  const history = await viaWindow(alice, 'getHistoryMessages', [bobConv, { timestamp: 0, count: 20, order: 0 }])
  assert.deepEqual(history.data.list.filter((m) => m.messageType === 'RC:TypSts'), [])

  // bob sends with canIncludeExpansion, then updates and removes a key → EXPANSION in the window.
  const ext = await sendAs(bob, toAlice, 'expand me', { canIncludeExpansion: true, expansion: { a: '1' } })
  const got = await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(ext.messageUId)})`)
  const received = got.payload.messages.find((m) => m.messageUId === ext.messageUId)
  assert.equal(received.canIncludeExpansion, true)
  assert.deepEqual(received.expansion, { a: '1' })
  mark = await windowMark(win)
  assert.deepEqual(await bob.engine.updateMessageExpansion({ b: '二' }, ext), { code: 0 })
  const updated = await windowWait(win, `(e) => e.name === 'EXPANSION' && !!e.payload.updatedExpansion`, mark)
  assert.deepEqual(pick(updated.payload.updatedExpansion, 'messageUId', 'expansion'), { messageUId: ext.messageUId, expansion: { b: '二' } })
  mark = await windowMark(win)
  assert.deepEqual(await bob.engine.removeMessageExpansionForKey(['a'], ext), { code: 0 })
  const deleted = await windowWait(win, `(e) => e.name === 'EXPANSION' && !!e.payload.deletedExpansion`, mark)
  assert.deepEqual(pick(deleted.payload.deletedExpansion, 'messageUId', 'deletedKeys'), { messageUId: ext.messageUId, deletedKeys: ['a'] })
  const stored = await viaWindow(alice, 'getHistoryMessages', [bobConv, { timestamp: 0, count: 20, order: 0 }])
  assert.deepEqual(stored.data.list.find((m) => m.messageUId === ext.messageUId).expansion, { b: '二' }, "alice's stored copy follows")
  // The window changes it; bob gets EXPANSION for each change.
  bobMark = bob.tap.events.length
  mark = await windowMark(win)
  const aliceCopy = stored.data.list.find((m) => m.messageUId === ext.messageUId)
  assert.deepEqual(await viaWindow(alice, 'updateMessageExpansion', [{ c: '3' }, aliceCopy]), { code: 0 })
  assert.deepEqual(await viaWindow(alice, 'removeMessageExpansionForKey', [['b'], aliceCopy]), { code: 0 })
  const atBobExp = await bob.tap.wait((e) => e.name === 'EXPANSION' && !!e.payload.updatedExpansion, 'bob EXPANSION (update)', { from: bobMark })
  assert.deepEqual(pick(atBobExp.payload.updatedExpansion, 'messageUId', 'expansion'), { messageUId: ext.messageUId, expansion: { c: '3' } })
  const atBobDel = await bob.tap.wait((e) => e.name === 'EXPANSION' && !!e.payload.deletedExpansion, 'bob EXPANSION (delete)', { from: bobMark })
  assert.deepEqual(pick(atBobDel.payload.deletedExpansion, 'messageUId', 'deletedKeys'), { messageUId: ext.messageUId, deletedKeys: ['b'] })
  const finalCopy = (await viaWindow(alice, 'getHistoryMessages', [bobConv, { timestamp: 0, count: 20, order: 0 }])).data.list.find((m) => m.messageUId === ext.messageUId)
  assert.deepEqual(finalCopy.expansion, { c: '3' }, "alice's stored copy has the window's changes")
  // Blacklist from the window: bob's private messages to alice fail with 405 until removed.
  assert.deepEqual(await viaWindow(alice, 'addToBlacklist', ['bob']), { code: 0 })
  assert.deepEqual(await viaWindow(alice, 'getBlacklistStatus', ['bob']), { code: 0, data: 0 })
  const refused = await bob.engine.sendMessage(toAlice, { messageType: 'RC:TxtMsg', content: { content: 'blocked' } })
  assert.equal(refused.code, 405, JSON.stringify(refused))
  assert.equal(refused.data.sentStatus, 20, 'FAILED')
  assert.deepEqual(await viaWindow(alice, 'removeFromBlacklist', ['bob']), { code: 0 })
  assert.deepEqual(await viaWindow(alice, 'getBlacklist', []), { code: 0, data: [] })
  await sendAs(bob, toAlice, 'unblocked')

  // The window types → bob gets TYPING_STATUS.
  bobMark = bob.tap.events.length
  const windowTyping = await viaWindow(alice, 'sendTypingStatusMessage', [bobConv, 'RC:VcMsg'])
  assert.equal(windowTyping.code, 0, JSON.stringify(windowTyping))
  const bobTyping = await bob.tap.wait((e) => e.name === 'TYPING_STATUS', 'bob TYPING_STATUS', { from: bobMark })
  assert.deepEqual(bobTyping.payload.status.map((s) => [s.targetId, s.list.map((x) => [x.userId, x.messageType])]), [['alice', [['alice', 'RC:VcMsg']]]])
  // The app's engine keeps the default typingInterval (6 s): a second status for the same
  // conversation right away sends nothing; another conversation is throttled on its own.
  const again = await viaWindow(alice, 'sendTypingStatusMessage', [bobConv, 'RC:VcMsg'])
  assert.equal(again.code, 0, JSON.stringify(again))
  assert.equal(again.data ?? null, null, `throttled by the default typingInterval: ${JSON.stringify(again)}`)
  const inGroup = await viaWindow(alice, 'sendTypingStatusMessage', [teamConv, 'RC:TxtMsg'])
  assert.equal(inGroup.code, 0, JSON.stringify(inGroup))
  assert.equal(inGroup.data && inGroup.data.messageType, 'RC:TypSts', `another conversation is not throttled: ${JSON.stringify(inGroup)}`)

  // Group: bob asks for receipts of his message → MESSAGE_RECEIPT_REQUEST in the window; the
  // window answers → bob gets MESSAGE_RECEIPT_RESPONSE.
  const grp = await sendAs(bob, teamConv, 'receipt please')
  await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(grp.messageUId)})`)
  mark = await windowMark(win)
  assert.deepEqual(await bob.engine.sendReadReceiptRequest(GROUP_ID, grp.messageUId), { code: 0 })
  const request = await windowWait(win, `(e) => e.name === 'MESSAGE_RECEIPT_REQUEST'`, mark)
  assert.deepEqual(request.payload, { conversation: { conversationType: GROUP, targetId: GROUP_ID, channelId: '' }, messageUid: grp.messageUId, senderUserId: 'bob' })
  bobMark = bob.tap.events.length
  assert.deepEqual(await viaWindow(alice, 'sendReadReceiptResponseV2', [GROUP_ID, { bob: [grp.messageUId] }]), { code: 0 })
  const response = await bob.tap.wait((e) => e.name === 'MESSAGE_RECEIPT_RESPONSE', 'bob MESSAGE_RECEIPT_RESPONSE', { from: bobMark })
  assert.deepEqual(response.payload, { conversation: { conversationType: GROUP, targetId: GROUP_ID, channelId: '' }, receivedUserId: 'alice', messageUidList: [grp.messageUId] })

  // 4. Every event the engine emitted reached the window unchanged, in order.
  const emitted = await assertWindowSawEngineEvents(alice)
  for (const name of ['TYPING_STATUS', 'EXPANSION', 'MESSAGE_RECEIPT_REQUEST', 'MESSAGES', 'CONVERSATION']) assert.ok(emitted.some((e) => e.name === name), `the engine emitted ${name}`)
})

// ---- 4. event payloads survive the process boundary as the engine built them ------------------------

test('two windows get each state event identical to the engine payload (structured clone keeps null, unicode, nested arrays)', async (t) => {
  const { url } = await startServer(t)
  const alice = await startApp(t, url)
  const second = await h.openWindow()
  await h.page(second, `${PAGE_RECORDER}; for (const n of ${JSON.stringify(STATE_EVENTS)}) imsync.addEventListener(n, T.record(n)); await imsync.getConnectionStatusAsync()`)
  const token = await getToken(url, 'alice')
  assert.deepEqual(await call(alice.win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED')
  const device2 = await nativeUser(t, url, 'alice', { platform: 'Web' })
  const bob = await nativeUser(t, url, 'bob')
  const toAlice = { conversationType: PRIVATE, targetId: 'alice' }

  const m = await sendAs(bob, toAlice, '表情 🙂 and "quotes"', { canIncludeExpansion: true })
  await alice.tap.wait(hasUid(m.messageUId), 'alice gets the message')
  await device2.tap.wait(hasUid(m.messageUId), 'device 2 gets the message')
  // One of each kind, from outside the app.
  const waits = []
  const expect = (name, pred, label) => waits.push(alice.tap.wait((e) => e.name === name && pred(e.payload), label, { from: alice.tap.events.length }))
  expect('CONVERSATION', (p) => p.conversationList.some(({ conversation: c, updatedItems }) => c.isTop && updatedItems.isTop.val === true), 'CONVERSATION isTop')
  assert.deepEqual(await device2.engine.setConversationToTop(bobConv, true), { code: 0 })
  await Promise.all(waits.splice(0))
  expect('TAG', () => true, 'TAG')
  assert.deepEqual(await device2.engine.addTag({ tagId: 'x1', tagName: '标签' }), { code: 0 })
  await Promise.all(waits.splice(0))
  expect('CONVERSATION_TAG', () => true, 'CONVERSATION_TAG')
  assert.deepEqual(await device2.engine.addConversationsToTag('x1', [bobConv]), { code: 0 })
  await Promise.all(waits.splice(0))
  expect('TYPING_STATUS', () => true, 'TYPING_STATUS')
  assert.equal((await bob.engine.sendTypingStatusMessage(toAlice, 'RC:TxtMsg')).code, 0)
  await Promise.all(waits.splice(0))
  expect('EXPANSION', () => true, 'EXPANSION')
  assert.deepEqual(await bob.engine.updateMessageExpansion({ k: 'värde 🙂' }, m), { code: 0 })
  await Promise.all(waits.splice(0))
  expect('READ_RECEIPT_RECEIVED', () => true, 'READ_RECEIPT_RECEIVED')
  const mine = await viaWindow(alice, 'sendMessage', [bobConv, { messageType: 'RC:TxtMsg', content: { content: 'reply' } }])
  assert.equal(mine.code, 0, JSON.stringify(mine))
  await bob.tap.wait(hasUid(mine.data.messageUId), 'bob gets the reply')
  assert.deepEqual(await bob.engine.sendReadReceiptMessage('alice', mine.data.messageUId, mine.data.sentTime), { code: 0 })
  await Promise.all(waits.splice(0))

  const emitted = await assertWindowSawEngineEvents(alice)
  // The second window too (a separate renderer: its own copy of every payload).
  await assertWindowSawEngineEvents({ ...alice, win: second })
  const names = new Set(emitted.map((e) => e.name))
  for (const name of ['CONVERSATION', 'TAG', 'CONVERSATION_TAG', 'TYPING_STATUS', 'EXPANSION', 'READ_RECEIPT_RECEIVED']) assert.ok(names.has(name), `the engine emitted ${name}`)
  // TAG / CONVERSATION_TAG carry null: still null (not undefined, not {}) in the window.
  const tagEvent = await windowWait(alice.win, `(e) => e.name === 'TAG'`)
  assert.equal(tagEvent.payload, null)
})

// ---- 5. EXPANSION as the seed defines it ------------------------------------------------------------

test('EXPANSION in the window: the seed payload (conversation in updatedExpansion / deletedExpansion) and only for changes made elsewhere', async (t) => {
  const { url } = await startServer(t)
  const alice = await startApp(t, url)
  const { win } = alice
  const token = await getToken(url, 'alice')
  assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  await alice.tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', 'alice PULL_OFFLINE_MESSAGE_FINISHED')
  const device2 = await nativeUser(t, url, 'alice', { platform: 'Web' })
  const bob = await nativeUser(t, url, 'bob')
  const toAlice = { conversationType: PRIVATE, targetId: 'alice' }
  const ext = await sendAs(bob, toAlice, 'expand me', { canIncludeExpansion: true })
  await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(ext.messageUId)})`)
  await device2.tap.wait(hasUid(ext.messageUId), 'device 2 gets the message')

  await t.test("seed 5.9.0: IUpdatedExpansion and IDeletedExpansion carry the conversation's conversationType and targetId", async () => {
    let mark = await windowMark(win)
    assert.deepEqual(await bob.engine.updateMessageExpansion({ k: 'v' }, ext), { code: 0 })
    const updated = (await windowWait(win, `(e) => e.name === 'EXPANSION' && !!e.payload.updatedExpansion`, mark)).payload
    mark = await windowMark(win)
    assert.deepEqual(await bob.engine.removeMessageExpansionForKey(['k'], ext), { code: 0 })
    const deleted = (await windowWait(win, `(e) => e.name === 'EXPANSION' && !!e.payload.deletedExpansion`, mark)).payload
    // "从 5.9.0 开始，IUpdatedExpansion 与 IDeletedExpansion 均返回 conversationType 和 targetId"
    // (seed 002, v5.9.0 release notes): an app reads updatedExpansion.targetId.
    assert.deepEqual(pick(updated.updatedExpansion, 'messageUId', 'expansion', 'conversationType', 'targetId'), { messageUId: ext.messageUId, expansion: { k: 'v' }, conversationType: PRIVATE, targetId: 'bob' }, `updatedExpansion: ${JSON.stringify(updated)}`)
    assert.deepEqual(pick(deleted.deletedExpansion, 'messageUId', 'deletedKeys', 'conversationType', 'targetId'), { messageUId: ext.messageUId, deletedKeys: ['k'], conversationType: PRIVATE, targetId: 'bob' }, `deletedExpansion: ${JSON.stringify(deleted)}`)
  })

  await t.test('the window that changed the expansion gets no EXPANSION for it; bob and alice’s other device do', async () => {
    const mark = await windowMark(win)
    const bobMark = bob.tap.events.length
    const d2Mark = device2.tap.events.length
    const copy = (await viaWindow(alice, 'getHistoryMessages', [bobConv, { timestamp: 0, count: 20, order: 0 }])).data.list.find((m) => m.messageUId === ext.messageUId)
    assert.deepEqual(await viaWindow(alice, 'updateMessageExpansion', [{ mine: '1' }, copy]), { code: 0 })
    assert.deepEqual(await viaWindow(alice, 'removeMessageExpansionForKey', [['mine'], copy]), { code: 0 })
    for (const [who, from] of [
      [bob, bobMark],
      [device2, d2Mark],
    ]) {
      await who.tap.wait((e) => e.name === 'EXPANSION' && e.payload.updatedExpansion && e.payload.updatedExpansion.messageUId === ext.messageUId, `${who.userId} (${who === bob ? 'bob' : 'device 2'}) EXPANSION update`, { from })
      await who.tap.wait((e) => e.name === 'EXPANSION' && e.payload.deletedExpansion && e.payload.deletedExpansion.messageUId === ext.messageUId, `${who.userId} EXPANSION delete`, { from })
    }
    // Barrier: bob's next message is behind both expansion notices in alice's inbox, so once
    // the window has it, the notices were applied by alice's app.
    const barrier = await sendAs(bob, toAlice, 'after the expansion changes')
    await windowWait(win, `(e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === ${JSON.stringify(barrier.messageUId)})`)
    // EXPANSION reports changes made elsewhere; crates/core/src/store/inbox.rs says so too:
    // "Reported unless this device already holds the change (it made it)".
    const echoed = await h.page(win, `return T.events.slice(${mark}).filter((e) => e.name === 'EXPANSION')`)
    assert.deepEqual(echoed, [], "the window's own expansion changes came back to it as EXPANSION events")
  })
})
