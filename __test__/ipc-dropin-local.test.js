'use strict'
// Drop-in calls answered from the local database (issue 11), end to end: imsync-server on
// loopback, alice's engine in the main process, her calls made by the renderer object in a
// window process of the test `electron` stand-in (structured-clone IPC):
// getMessage, electronExtension.setMessageContent, getFirstUnreadMessage,
// getUnreadMentionedMessages, clearUnreadCountByTimestamp, getTotal(Unread|UnreadMentioned)CountByLevels,
// conversation types 7/8 in type lists, options.messageId 0, the vendor's field spellings and
// call-specific codes, CONVERSATION items { conversation, updatedItems }, OFFLINE_SYNC_PROGRESS.

const test = require('node:test')
const assert = require('node:assert/strict')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')

const SECRET = 'dropin-local-secret'
const BOB = { conversationType: 1, targetId: 'bob' }
const TEAM = { conversationType: 3, targetId: 'team' }

/** Page code: calls `im.<path>(...args)` and returns the envelope. */
const call = (win, path, args, ms) => h.page(win, `return await imsync.${path}(...${JSON.stringify(args)})`, ms)

async function setup(t) {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const { service } = h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  // The page logs the events it listens to, so tests can wait on them.
  await h.page(
    win,
    `globalThis.seen = []
    for (const n of ['CONVERSATION', 'OFFLINE_SYNC_PROGRESS', 'PULL_OFFLINE_MESSAGE_FINISHED', 'MESSAGES'])
      imsync.addEventListener(n, (p) => seen.push({ n, p }))`,
  )
  const publish = (to, text, extra = {}) =>
    server.admin('/message/private/publish', { fromUserId: to.from || 'bob', toUserId: 'alice', objectName: 'RC:TxtMsg', content: JSON.stringify({ content: text, ...extra }) })
  return { server, service, win, publish }
}

/** Waits (deadline) until the page has seen an event matching `pred` (page-side source). */
function seen(win, pred, ms = 20000) {
  return h.page(
    win,
    `const deadline = Date.now() + ${ms}
    for (;;) {
      const hit = seen.find(${pred})
      if (hit) return hit
      if (Date.now() > deadline) throw new Error('no event matching ' + ${JSON.stringify(pred)} + ' in ' + JSON.stringify(seen.map((e) => e.n)))
      await new Promise((r) => setTimeout(r, 10))
    }`,
    ms + 5000,
  )
}

async function connect(win, server, user = 'alice') {
  const token = await server.getToken(user)
  assert.deepEqual(await call(win, 'connect', [token], 15000), { code: 0, data: { userId: user } })
  await seen(win, `(e) => e.n === 'PULL_OFFLINE_MESSAGE_FINISHED'`)
}

/** Polls alice's unread count of `conv` (through the window) until it is `n`. */
async function unreadBecomes(win, conv, n) {
  const deadline = Date.now() + 20000
  for (;;) {
    const r = await call(win, 'getUnreadCount', [conv])
    if (r.code === 0 && r.data === n) return
    assert.ok(Date.now() < deadline, `unread of ${conv.targetId} stays ${JSON.stringify(r)}, want ${n}`)
  }
}

test('getMessage, setMessageContent and the vendor spellings, through a window', async (t) => {
  const { server, win, publish } = await setup(t)
  await connect(win, server)
  await publish(BOB, 'hello from bob')
  await unreadBecomes(win, BOB, 1)
  const first = await call(win, 'getFirstUnreadMessage', [BOB])
  assert.equal(first.code, 0)
  assert.equal(first.data.content.content, 'hello from bob')
  const id = first.data.messageId
  const got = await call(win, 'getMessage', [id])
  assert.equal(got.code, 0)
  assert.deepEqual(got.data, first.data)
  assert.equal(got.data.isPersited, true, "the vendor's spelling")
  assert.equal(got.data.isOffLineMessage, got.data.isOfflineMessage)
  assert.deepEqual(await call(win, 'getMessage', [id + 1000]), { code: 0, data: null })
  const bad = await call(win, 'getMessage', ['1'])
  assert.equal(bad.code, 33003)
  assert.match(bad.msg, /messageId/)

  assert.deepEqual(await call(win, 'electronExtension.setMessageContent', [id, { content: 'edited 编辑' }, 'RC:TxtMsg']), { code: 0 })
  assert.equal((await call(win, 'getMessage', [id])).data.content.content, 'edited 编辑')
  const found = await call(win, 'electronExtension.searchMessages', [BOB, '编辑', 0, 10])
  assert.equal(found.data.count, 1)
  assert.equal((await call(win, 'electronExtension.searchMessages', [BOB, 'hello', 0, 10])).data.count, 0)
  const conv = await call(win, 'getConversation', [BOB])
  assert.equal(conv.data.latestMessage.content.content, 'edited 编辑')
  const refused = await call(win, 'electronExtension.setMessageContent', [id, { content: 'x' }, 'App:NotRegistered'])
  assert.equal(refused.code, 34021)
  assert.equal((await call(win, 'getMessage', [id])).data.content.content, 'edited 编辑', 'a refusal changes nothing')
})

test('unread messages, clearing by timestamp and totals by notification level', async (t) => {
  const { server, win } = await setup(t)
  await server.admin('/group/create', { userId: ['alice', 'bob'], groupId: 'team', groupName: 'Team' })
  await connect(win, server)
  const post = (text, mention) =>
    server.admin('/message/group/publish', {
      fromUserId: 'bob',
      toGroupId: 'team',
      objectName: 'RC:TxtMsg',
      content: JSON.stringify(mention ? { content: text, mentionedInfo: { type: 2, userIdList: ['alice'] } } : { content: text }),
    })
  await post('plain', false)
  await post('@alice one', true)
  await post('@alice two', true)
  await unreadBecomes(win, TEAM, 3)
  const mentioned = await call(win, 'getUnreadMentionedMessages', [TEAM])
  assert.equal(mentioned.code, 0)
  assert.deepEqual(mentioned.data.map((m) => m.content.content), ['@alice one', '@alice two'])
  const cut = mentioned.data[0].sentTime
  assert.deepEqual(await call(win, 'clearUnreadCountByTimestamp', [TEAM, cut]), { code: 0 })
  assert.equal((await call(win, 'getUnreadCount', [TEAM])).data, 1)
  assert.equal((await call(win, 'getFirstUnreadMessage', [TEAM])).data.content.content, '@alice two')

  // Levels: mute the group (5) through the server, then filter by level.
  assert.deepEqual(await call(win, 'setConversationNotificationLevel', [TEAM, 5], 15000), { code: 0 })
  const byLevels = (types, levels) => call(win, 'getTotalUnreadCountByLevels', [types, levels]).then((r) => r.data)
  assert.equal(await byLevels([3], [5]), 1)
  assert.equal(await byLevels([3], [0, -1]), 0)
  assert.equal(await byLevels([1, 3, 6, 7, 8], []), 1)
  assert.equal((await call(win, 'getTotalUnreadMentionedCountByLevels', [[3], [5]])).data, 1)
  const badLevel = await call(win, 'getTotalUnreadCountByLevels', [[3], [3]])
  assert.equal(badLevel.code, 33003)
  assert.match(badLevel.msg, /levels\[0\]/)
  // Types 7 and 8 are accepted wherever a type list is.
  for (const [path, args] of [
    ['getTotalUnreadCount', [false, [1, 3, 7, 8]]],
    ['getUnreadConversationList', [[1, 3, 6, 7, 8]]],
    ['getTopConversationList', [[7, 8]]],
  ]) {
    assert.equal((await call(win, path, args)).code, 0, path)
  }
})

test('options.messageId 0 is a new send; the vendor codes for bad searchProps and receipt lists', async (t) => {
  const { server, service, win } = await setup(t)
  await connect(win, server)
  const sent = await h.page(win, `return await imsync.sendMessage(${JSON.stringify(BOB)}, new imsync.TextMessage({ content: 'zero' }), { messageId: 0 })`, 15000)
  assert.equal(sent.code, 0, JSON.stringify(sent))
  assert.ok(sent.data.messageId > 0 && sent.data.messageUId)
  // The renderer's registerMessageType returns the class (and logs a refusal); the code is
  // the engine's.
  const props = await service.engine.registerMessageType('App:Status', false, false, ['content'], true)
  assert.equal(props.code, 35022)
  assert.match(props.msg, /searchProps/)
  const receipt = await call(win, 'sendReadReceiptResponseV2', ['team', { bob: [] }])
  assert.equal(receipt.code, 34206)
})

test('CONVERSATION items are { conversation, updatedItems }; OFFLINE_SYNC_PROGRESS reports a backlog', async (t) => {
  const { server, win, publish } = await setup(t)
  await connect(win, server)
  await publish(BOB, 'live one')
  const ev = await seen(win, `(e) => e.n === 'CONVERSATION' && e.p.conversationList.some((i) => i.conversation.targetId === 'bob')`)
  const item = ev.p.conversationList.find((i) => i.conversation.targetId === 'bob')
  assert.equal(item.conversation.latestMessage.content.content, 'live one')
  assert.equal(item.updatedItems.latestMessage.val.content.content, 'live one')
  assert.equal(item.updatedItems.unreadMessageCount.val, item.conversation.unreadMessageCount)
  assert.equal(typeof item.updatedItems.latestMessage.time, 'number')

  // Offline: 600 messages wait (more than one page of 500).
  assert.deepEqual(await call(win, 'disconnect', []), { code: 0 })
  for (let i = 0; i < 600; i++) await publish(BOB, `backlog ${i}`)
  await h.page(win, 'seen.length = 0')
  await connect(win, server)
  const progress = await h.page(win, `return seen.filter((e) => e.n === 'OFFLINE_SYNC_PROGRESS').map((e) => e.p)`)
  assert.ok(progress.length >= 2, JSON.stringify(progress))
  assert.ok(progress.every((p) => p.total === 600), JSON.stringify(progress))
  assert.equal(progress[progress.length - 1].pulled, 600)
  assert.ok(progress.every((p, i) => i === 0 || p.pulled > progress[i - 1].pulled))
  assert.equal((await call(win, 'electronExtension.getMessageCount', [BOB])).data, 601)
})
