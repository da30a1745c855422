'use strict'
// Server-side moderation, delivery receipts and push configuration, end to end: the real
// imsync-server on loopback and one native Engine (own database) per user in this process.
// - Sensitive words (admin API /sensitiveword/*): a blocked text reaches no one — the send
//   still succeeds for the sender, who gets MESSAGE_BLOCKED (IBlockedMessageInfo); a replaced
//   text arrives masked and the sender's own stored copy is masked too.
// - PRIVATE_MESSAGE_DELIVERED / GROUP_MESSAGE_DELIVERED reach the sender once a recipient's
//   device has stored the message, never before (recipient offline → nothing until it
//   connects), and reach a sender that was offline when it reconnects.
// - sendMessage's pushConfig and recallMessage's pushConfig and user reach the recipient with
//   every field unchanged.
// No sleeps for ordering: every wait ends on an event, a reply, or a poll with a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Engine } = require('../index.js')
const { withDeadline } = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')

const APP_KEY = 'moderation-key'
const APP_SECRET = 'moderation-secret'
const PRIVATE = 1
const GROUP = 3

/** Re-checks `probe()` until it returns something truthy, failing at the deadline. */
async function until(probe, label, ms = 10000) {
  const end = Date.now() + ms
  let last
  for (;;) {
    last = await probe()
    if (last) return last
    if (Date.now() > end) assert.fail(`deadline: ${label} within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A user with an own Engine and database; connected unless `connect: false`. */
async function person(t, server, userId, { connect = true } = {}) {
  const dbpath = fs.mkdtempSync(path.join(os.tmpdir(), `imsync-mod-${userId}-`))
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: server.url, logOutputLevel: 1 })
  engine.onEvent(() => {})
  const tap = tapOf(engine)
  const token = await server.getToken(userId)
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const p = {
    userId,
    engine,
    tap,
    async connect() {
      const from = tap.events.length
      const r = await withDeadline(engine.connect(token), 15000, `${userId} connect`)
      assert.deepEqual(r, { code: 0, data: { userId } })
      await tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', `${userId} offline pull`, { from })
    },
    async send(conversation, content, options) {
      const r = await engine.sendMessage(conversation, { messageType: 'RC:TxtMsg', content }, options)
      assert.equal(r.code, 0, `${userId} send: ${JSON.stringify(r)}`)
      assert.equal(typeof r.data.messageUId, 'string')
      return r.data
    },
    /** Waits for a MESSAGES event carrying `uid`; resolves that message. */
    async received(uid, label) {
      const e = await tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === uid), label)
      return e.payload.messages.find((m) => m.messageUId === uid)
    },
    async history(conversation) {
      const r = await engine.getHistoryMessages(conversation, { timestamp: 0, count: 100, order: 0 })
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data.list
    },
  }
  if (connect) await p.connect()
  return p
}

async function freshServer(t) {
  return startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
}

/** A signed admin call answering whatever it answers (status and body). */
async function adminRaw(server, route, body, { sign = true } = {}) {
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const headers = { 'Content-Type': 'application/json', 'App-Key': APP_KEY, Nonce: nonce, Timestamp: timestamp }
  headers.Signature = sign ? crypto.createHmac('sha256', APP_SECRET).update(nonce + timestamp).digest('hex') : 'bad'
  const res = await fetch(`${server.url}${route}`, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

test('sensitive-word admin API: add, list, remove, the 50-word limit, signatures', async (t) => {
  const server = await freshServer(t)
  await server.admin('/sensitiveword/add', { word: 'BadWord' })
  await server.admin('/sensitiveword/add', { word: '赌博', replaceWord: '**' })
  await server.admin('/sensitiveword/add', { word: 'darn', mode: 'replace' })
  // The same word in another letter case changes the entry, it adds none.
  await server.admin('/sensitiveword/add', { word: 'badword' })
  const all = (await server.admin('/sensitiveword/list', {})).words
  assert.deepEqual(
    all.map((w) => [w.word, w.mode, w.replaceWord, w.type]),
    [
      ['badword', 'block', '', '1'],
      ['赌博', 'replace', '**', '0'],
      ['darn', 'replace', '***', '0'],
    ],
  )
  assert.deepEqual((await server.admin('/sensitiveword/list', { type: 1 })).words.map((w) => w.word), ['badword'])
  assert.deepEqual((await server.admin('/sensitiveword/list', { type: '0' })).words.map((w) => w.word), ['赌博', 'darn'])

  // Bad input changes nothing and names the field.
  for (const [body, field] of [
    [{ word: '' }, 'word'],
    [{ word: 'x'.repeat(33) }, 'word'],
    [{ word: 'ok', replaceWord: '' }, 'replaceWord'],
    [{ word: 'ok', mode: 'block', replaceWord: '#' }, 'replaceWord'],
    [{ word: 'ok', mode: 'mask' }, 'mode'],
  ]) {
    const r = await adminRaw(server, '/sensitiveword/add', body)
    assert.equal(r.status, 400, JSON.stringify(r))
    assert.equal(r.body.code, 1002)
    assert.match(r.body.errorMessage, new RegExp(field))
  }
  const unsigned = await adminRaw(server, '/sensitiveword/add', { word: 'sneaky' }, { sign: false })
  assert.equal(unsigned.status, 401)
  assert.equal(unsigned.body.code, 1004)
  assert.equal((await server.admin('/sensitiveword/list', {})).words.length, 3)

  // Up to 50 words, then a clear refusal; removing one makes room again.
  for (let i = 3; i < 50; i++) await server.admin('/sensitiveword/add', { word: `w${i}` })
  const over = await adminRaw(server, '/sensitiveword/add', { word: 'fifty-one' })
  assert.equal(over.status, 400)
  assert.match(over.body.errorMessage, /at most 50/)
  assert.equal((await server.admin('/sensitiveword/list', {})).words.length, 50)
  assert.equal((await server.admin('/sensitiveword/delete', { word: 'W3' })).removed, 1)
  assert.equal((await server.admin('/sensitiveword/batch/delete', { words: ['w4', 'w5', 'never-added'] })).removed, 2)
  await server.admin('/sensitiveword/add', { word: 'fifty-one' })
  const left = (await server.admin('/sensitiveword/list', {})).words.map((w) => w.word)
  assert.equal(left.length, 48)
  assert.ok(left.includes('fifty-one') && !left.includes('w3') && !left.includes('w4'))
})

test('a blocked text reaches no one and the sender gets MESSAGE_BLOCKED; a replaced text arrives masked everywhere', async (t) => {
  const server = await freshServer(t)
  await server.admin('/sensitiveword/add', { word: 'BadWord' })
  await server.admin('/sensitiveword/add', { word: '赌博', replaceWord: '**' })
  await server.admin('/sensitiveword/add', { word: 'darn', mode: 'replace' })
  const alice = await person(t, server, 'alice')
  const bob = await person(t, server, 'bob')
  const toBob = { conversationType: PRIVATE, targetId: 'bob' }
  const fromAlice = { conversationType: PRIVATE, targetId: 'alice' }

  // Blocked: the send succeeds for alice (as the vendor's does), her copy keeps her text.
  const mark = alice.tap.events.length
  const blocked = await alice.send(toBob, { content: 'this has a BADWORD inside', extra: 'x-1' })
  assert.equal(blocked.sentStatus, 30)
  assert.equal(blocked.content.content, 'this has a BADWORD inside')
  const ev = await alice.tap.wait((e) => e.name === 'MESSAGE_BLOCKED', 'alice MESSAGE_BLOCKED', { from: mark })
  assert.deepEqual(ev.payload, {
    blockType: 2,
    blockedMessageUid: blocked.messageUId,
    conversationType: PRIVATE,
    targetId: 'bob',
    channelId: '',
    extra: 'x-1',
    sourceType: 0,
    sourceContent: '',
  })
  // A normal message sent after it arrives: the barrier for "the blocked one never will".
  const after = await alice.send(toBob, { content: 'after the blocked one' })
  await bob.received(after.messageUId, 'bob gets the message after the blocked one')
  const bobList = await bob.history(fromAlice)
  assert.deepEqual(bobList.map((m) => m.content.content), ['after the blocked one'])
  assert.ok(!bob.tap.events.some((e) => JSON.stringify(e.payload ?? null).includes('BADWORD')), 'no event of bob carries the blocked text')
  const remote = await bob.engine.getRemoteHistoryMessages(fromAlice, { timestamp: 0, count: 20, order: 0 })
  assert.equal(remote.code, 0)
  assert.deepEqual(remote.data.list.map((m) => m.messageUId), [after.messageUId])
  assert.ok(!alice.tap.events.some((e) => e.name === 'MESSAGE_BLOCKED' && e.payload.blockedMessageUid === after.messageUId))

  // Replaced: masked for bob, and alice's own stored copy reads the same.
  const masked = await alice.send(toBob, { content: 'DARN it, 今天去赌博吗' })
  assert.equal(masked.content.content, '*** it, 今天去**吗', 'sendMessage answers the stored (masked) copy')
  const got = await bob.received(masked.messageUId, 'bob gets the masked message')
  assert.equal(got.content.content, '*** it, 今天去**吗')
  const aliceCopy = (await alice.history(toBob)).find((m) => m.messageUId === masked.messageUId)
  assert.equal(aliceCopy.content.content, '*** it, 今天去**吗')
  // Its search text follows: the masked word is not found, the mask is.
  const found = await alice.engine.searchMessages(toBob, '赌博', 0, 10)
  assert.equal(found.code, 0)
  assert.equal(found.data.count, 0)
  assert.equal((await alice.engine.searchMessages(toBob, '今天去', 0, 10)).data.count, 1)
  // Other types are not filtered (the vendor's default: RC:TxtMsg only).
  const custom = await alice.engine.sendMessage(toBob, { messageType: 'RC:InfoNtf', content: { message: 'badword' } })
  assert.equal(custom.code, 0, JSON.stringify(custom))
  assert.equal((await bob.received(custom.data.messageUId, 'bob gets the notification')).content.message, 'badword')
})

test('PRIVATE_MESSAGE_DELIVERED fires once bob has stored the message, and not before', async (t) => {
  const server = await freshServer(t)
  const alice = await person(t, server, 'alice')
  const bob = await person(t, server, 'bob', { connect: false })
  const toBob = { conversationType: PRIVATE, targetId: 'bob' }

  const first = await alice.send(toBob, { content: 'while you were away' })
  // A round trip after the send: the server has acted on everything before it. bob has no
  // device online, so nothing can have been delivered.
  assert.equal((await alice.engine.getRemoteHistoryMessages(toBob, { timestamp: 0, count: 5, order: 0 })).code, 0)
  assert.ok(!alice.tap.events.some((e) => e.name === 'PRIVATE_MESSAGE_DELIVERED'), 'no delivery while bob is offline')

  await bob.connect()
  const ev = await alice.tap.wait(
    (e) => e.name === 'PRIVATE_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === first.messageUId),
    'alice PRIVATE_MESSAGE_DELIVERED',
  )
  const info = ev.payload.find((d) => d.messageUId === first.messageUId)
  assert.deepEqual(Object.keys(info).sort(), ['channelId', 'conversationType', 'deliveryTime', 'messageUId', 'targetId'])
  assert.equal(info.targetId, 'bob')
  assert.equal(info.channelId, '')
  assert.equal(info.conversationType, PRIVATE)
  assert.ok(info.deliveryTime >= first.sentTime, `${info.deliveryTime} >= ${first.sentTime}`)
  // "Delivered" means stored: bob's database holds it by now.
  assert.ok((await bob.history({ conversationType: PRIVATE, targetId: 'alice' })).some((m) => m.messageUId === first.messageUId))

  // A live message: delivered once bob's device applied it.
  const live = await alice.send(toBob, { content: 'live' })
  await alice.tap.wait((e) => e.name === 'PRIVATE_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === live.messageUId), 'live delivery')

  // alice offline when bob stores her message: she hears of it when she reconnects.
  assert.equal((await bob.engine.disconnect()).code, 0)
  const third = await alice.send(toBob, { content: 'sent, then gone' })
  assert.equal((await alice.engine.disconnect()).code, 0)
  const mark = alice.tap.events.length
  await bob.connect()
  await bob.received(third.messageUId, 'bob stores the third message')
  assert.ok(!alice.tap.events.slice(mark).some((e) => e.name === 'PRIVATE_MESSAGE_DELIVERED'))
  await alice.connect()
  await alice.tap.wait(
    (e) => e.name === 'PRIVATE_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === third.messageUId),
    'delivery reaches alice after her reconnect',
    { from: mark },
  )
  // Each message is receipted once.
  const receipts = alice.tap.events
    .filter((e) => e.name === 'PRIVATE_MESSAGE_DELIVERED')
    .flatMap((e) => e.payload.map((d) => d.messageUId))
  assert.deepEqual(receipts.sort(), [first.messageUId, live.messageUId, third.messageUId].sort())
  // bob's own sends to alice are receipted to bob, not to alice.
  assert.ok(!bob.tap.events.some((e) => e.name === 'PRIVATE_MESSAGE_DELIVERED'))
})

test('GROUP_MESSAGE_DELIVERED counts the members who stored the message', async (t) => {
  const server = await freshServer(t)
  await server.admin('/group/create', { groupId: 'g1', groupName: 'team', userId: ['alice', 'bob', 'carol'] })
  const alice = await person(t, server, 'alice')
  const bob = await person(t, server, 'bob')
  const carol = await person(t, server, 'carol', { connect: false })
  const sent = await alice.send({ conversationType: GROUP, targetId: 'g1' }, { content: 'hi team' })
  const mine = (e) => e.name === 'GROUP_MESSAGE_DELIVERED' && e.payload.some((d) => d.messageUId === sent.messageUId)
  const one = await alice.tap.wait(mine, 'first group delivery')
  const d1 = one.payload.find((d) => d.messageUId === sent.messageUId)
  assert.deepEqual(
    { ...d1, deliveryTime: typeof d1.deliveryTime },
    { messageUId: sent.messageUId, deliveryTime: 'number', deliveryCount: 1, totalCount: 2, conversationType: GROUP, targetId: 'g1', channelId: '' },
  )
  const at = alice.tap.events.indexOf(one) + 1
  await carol.connect()
  const two = await alice.tap.wait(mine, 'second group delivery', { from: at })
  assert.equal(two.payload.find((d) => d.messageUId === sent.messageUId).deliveryCount, 2)
  assert.ok((await carol.history({ conversationType: GROUP, targetId: 'g1' })).some((m) => m.messageUId === sent.messageUId))
  assert.ok(!bob.tap.events.some((e) => e.name === 'GROUP_MESSAGE_DELIVERED'))
})

test('pushConfig of sendMessage and pushConfig/user of recallMessage reach the recipient unchanged', async (t) => {
  const server = await freshServer(t)
  const alice = await person(t, server, 'alice')
  const bob = await person(t, server, 'bob')
  const toBob = { conversationType: PRIVATE, targetId: 'bob' }
  const pushConfig = {
    pushTitle: 'Title ✓',
    pushContent: 'You have a message',
    pushData: '{"k":"v"}',
    disablePushTitle: true,
    forceShowDetailContent: true,
    templateId: 'tpl-7',
    iOSConfig: { threadId: 'th-1', apnsCollapseId: 'ap-1', category: 'cat', richMediaUri: 'https://x.test/a.png', interruptionLevel: 'time-sensitive' },
    androidConfig: {
      notificationId: 'n-1',
      channelIdMi: 'mi',
      channelIdHW: 'hw',
      channelIdOPPO: 'oppo',
      typeVivo: '1',
      categoryVivo: 'IM',
      categoryHW: 'IM',
      importanceHW: 'NORMAL',
      imageUrlHW: 'https://x.test/hw.png',
      miLargeIconUrl: 'https://x.test/mi.png',
      googleConfig: { collapseKey: 'ck', imageUrl: 'https://x.test/g.png', priority: 'high' },
    },
  }
  const sent = await alice.send(toBob, { content: 'with push config' }, { pushConfig })
  assert.deepEqual(sent.pushConfig, pushConfig, "the sender's copy keeps it (an outbox resend carries it again)")
  const got = await bob.received(sent.messageUId, 'bob gets the message')
  assert.deepEqual(got.pushConfig, pushConfig)
  const stored = (await bob.history({ conversationType: PRIVATE, targetId: 'alice' })).find((m) => m.messageUId === sent.messageUId)
  assert.deepEqual(stored.pushConfig, pushConfig)

  // Bad pushConfig: 33003 naming the field, nothing sent.
  const bad = await alice.engine.sendMessage(toBob, { messageType: 'RC:TxtMsg', content: { content: 'x' } }, { pushConfig: { pushTitle: 5 } })
  assert.equal(bad.code, 33003)
  assert.match(bad.msg, /options\.pushConfig\.pushTitle/)

  const recallPush = { ...pushConfig, pushTitle: 'Recalled', androidConfig: { notificationId: 'n-2' } }
  const user = { id: 'alice', name: 'Alice A.', portraitUri: 'https://x.test/alice.png', extra: '{"vip":true}' }
  const r = await alice.engine.recallMessage(toBob, { messageUId: sent.messageUId, sentTime: sent.sentTime, pushConfig: recallPush, user, extra: 'why' })
  assert.equal(r.code, 0, JSON.stringify(r))
  const notice = await until(async () => {
    const list = await bob.history({ conversationType: PRIVATE, targetId: 'alice' })
    return list.find((m) => m.messageType === 'RC:RcNtf')
  }, 'bob stores the recall notice')
  assert.deepEqual(notice.content.user, user)
  assert.equal(notice.content.extra, 'why')
  assert.deepEqual(notice.pushConfig, recallPush)
  const badRecall = await alice.engine.recallMessage(toBob, { messageUId: sent.messageUId, sentTime: sent.sentTime, user: 'alice' })
  assert.equal(badRecall.code, 33003)
  assert.match(badRecall.msg, /options\.user/)
})
