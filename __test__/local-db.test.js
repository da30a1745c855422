'use strict'
// Every local-database call of the native Engine, through the built addon, with the seed's
// parameters, defaults, limits and semantics (seed-inventory §1.4; ARCHITECTURE.md §4-5).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const {
  Engine,
  APPKEY,
  ME,
  T0,
  PRIVATE,
  GROUP,
  SYSTEM,
  tmpDir,
  dbFileOf,
  openEngine,
  settle,
  ok,
  fails,
  conv,
  priv,
  group,
  txt,
  insertTexts,
  allMessages,
  convKey,
  waitFor,
} = require('./helpers/engine')

const ids = (list) => list.map((m) => m.messageId)
const texts = (list) => list.map((m) => m.content.content)
const findConv = (list, c) => list.find((x) => convKey(x) === convKey(c))

async function getConv(engine, c) {
  const list = await ok(engine.getConversations([c]), 'getConversations')
  assert.equal(list.length, 1, `conversation ${convKey(c)} not found`)
  return list[0]
}

/** n text messages 'm0'..'m{n-1}' sent at T0 + i*step. */
async function seedTimeline(engine, c, n, step = 10, prefix = 'm') {
  const items = []
  for (let i = 0; i < n; i++) items.push({ text: `${prefix}${i}`, sentTime: T0 + i * step })
  return insertTexts(engine, c, items)
}

// ---- open / files --------------------------------------------------------------------

test('open: one database file per appkey+user under <dbpath>/imsync/<appkey>/<userId>.db; other ids hex-encoded', async (t) => {
  const dir = tmpDir('files')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const a = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => a.close())
  assert.equal(a.userId, null)
  assert.equal((await settle(() => a.open('alice'))).code, 0)
  assert.equal(a.userId, 'alice')
  assert.ok(fs.existsSync(dbFileOf(dir, APPKEY, 'alice')), 'alice.db exists')
  await ok(a.insertMessage(priv('bob'), txt('alice data')))
  await ok(a.close())
  assert.equal(a.userId, null)
  await ok(a.close()) // idempotent

  // An id with other characters is hex-encoded (its UTF-8 bytes appear in hex in the name).
  const odd = 'bob@例子.com'
  const b = new Engine({ appkey: 'key/with space', dbpath: dir, logOutputLevel: 1 })
  t.after(() => b.close())
  await ok(b.open(odd))
  const appDirs = fs.readdirSync(path.join(dir, 'imsync'))
  assert.ok(appDirs.includes(APPKEY))
  const keyHex = Buffer.from('key/with space').toString('hex')
  const keyDir = appDirs.find((d) => d.includes(keyHex))
  assert.ok(keyDir, `appkey dir hex-encoded: ${appDirs}`)
  const files = fs.readdirSync(path.join(dir, 'imsync', keyDir)).filter((f) => f.endsWith('.db'))
  assert.equal(files.length, 1, `${files}`)
  assert.ok(files[0].includes(Buffer.from(odd).toString('hex')), `user file hex-encoded: ${files[0]}`)
  // Separate users never see each other's data.
  assert.deepEqual(await ok(b.getAllConversationList()), [])
  await ok(b.close())
  // Reopen alice: her data is still there.
  await ok(a.open('alice'))
  const list = await ok(a.getAllConversationList())
  assert.equal(list.length, 1)
  assert.equal(list[0].latestMessage.content.content, 'alice data')
  await ok(a.close())
})

test('open: calls before open resolve 33001; opening another user switches databases', async (t) => {
  const dir = tmpDir('switch')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const e = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => e.close())
  await fails(e.getHistoryMessages(priv('x')), 33001)
  await fails(e.insertMessage(priv('x'), txt('a')), 33001)
  await fails(e.searchMessages(priv('x'), 'a', 0, 10), 33001)
  await fails(e.getAllConversationList(), 33001)
  await fails(e.batchInsertMessage([{ ...txt('a'), ...priv('x') }]), 33001)
  await ok(e.open('u1'))
  await ok(e.insertMessage(priv('x'), txt('u1 only')))
  await ok(e.open('u2'))
  assert.equal(e.userId, 'u2')
  assert.deepEqual(await ok(e.getAllConversationList()), [])
  await ok(e.open('u1'))
  assert.equal((await ok(e.getAllConversationList())).length, 1)
  await ok(e.close())
  await fails(e.getMessageCount(priv('x')), 33001)
})

// ---- history -------------------------------------------------------------------------

test('getHistoryMessages: defaults, timestamp, count, order and hasMore', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('peer')
  const stored = await seedTimeline(engine, c, 25)
  await insertTexts(engine, priv('peer', 'ch1'), [{ text: 'other channel', sentTime: T0 + 5 }])

  // No options at all, and {}: timestamp 0 (now), count 20, order 0 (newest first).
  for (const opts of [undefined, {}, { timestamp: 0 }]) {
    const page = await ok(engine.getHistoryMessages(c, opts))
    assert.deepEqual(texts(page.list), Array.from({ length: 20 }, (_, i) => `m${24 - i}`))
    assert.equal(page.hasMore, true)
  }
  // order 0: sent strictly before timestamp, newest first.
  let page = await ok(engine.getHistoryMessages(c, { timestamp: T0 + 100, count: 20, order: 0 }))
  assert.deepEqual(texts(page.list), ['m9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0'])
  assert.equal(page.hasMore, false)
  page = await ok(engine.getHistoryMessages(c, { timestamp: T0 + 100, count: 10, order: 0 }))
  assert.equal(page.list.length, 10)
  assert.equal(page.hasMore, false, 'exactly the remaining messages: no more')
  page = await ok(engine.getHistoryMessages(c, { timestamp: T0 + 100, count: 9, order: 0 }))
  assert.equal(page.hasMore, true)
  // order 1: sent strictly after timestamp, oldest first.
  page = await ok(engine.getHistoryMessages(c, { timestamp: T0 + 100, count: 5, order: 1 }))
  assert.deepEqual(texts(page.list), ['m11', 'm12', 'm13', 'm14', 'm15'])
  assert.equal(page.hasMore, true)
  page = await ok(engine.getHistoryMessages(c, { timestamp: T0 + 200, count: 10, order: 1 }))
  assert.deepEqual(texts(page.list), ['m21', 'm22', 'm23', 'm24'])
  assert.equal(page.hasMore, false)
  page = await ok(engine.getHistoryMessages(c, { timestamp: 0, count: 3, order: 1 }))
  assert.deepEqual(texts(page.list), ['m0', 'm1', 'm2'], 'order 1 from 0: oldest first')
  // count 1 and 100 are the limits.
  page = await ok(engine.getHistoryMessages(c, { count: 1 }))
  assert.deepEqual(texts(page.list), ['m24'])
  page = await ok(engine.getHistoryMessages(c, { count: 100 }))
  assert.equal(page.list.length, 25)
  assert.equal(page.hasMore, false)
  // Paging with order 0 visits every message exactly once.
  const seen = []
  let ts = 0
  for (;;) {
    const p = await ok(engine.getHistoryMessages(c, { timestamp: ts, count: 7, order: 0 }))
    seen.push(...p.list)
    if (!p.hasMore) break
    ts = p.list[p.list.length - 1].sentTime
  }
  assert.deepEqual(ids(seen), ids(stored).reverse())
  // The default channel only: the 'ch1' message is elsewhere.
  assert.ok(!texts(seen).includes('other channel'))
  const ch = await ok(engine.getHistoryMessages(priv('peer', 'ch1')))
  assert.deepEqual(texts(ch.list), ['other channel'])
  // Unknown conversation: empty.
  assert.deepEqual(await ok(engine.getHistoryMessages(priv('nobody'))), { list: [], hasMore: false })
  // Message fields.
  const m = (await ok(engine.getHistoryMessages(c, { count: 1 }))).list[0]
  assert.equal(m.conversationType, PRIVATE)
  assert.equal(m.targetId, 'peer')
  assert.equal(m.channelId, '')
  assert.equal(m.messageType, 'RC:TxtMsg')
  assert.equal(m.sentTime, T0 + 240)
  assert.ok(Number.isSafeInteger(m.messageId) && m.messageId > 2 ** 32, `messageId ${m.messageId}`)
  await ok(engine.close())
})

test('getHistoryMessagesByMessageTypes: only the given types, with count/order/hasMore', async (t) => {
  const { engine } = await openEngine(t)
  const c = group('g1')
  const kinds = ['RC:TxtMsg', 'RC:ImgMsg', 'RC:FileMsg']
  const contents = {
    'RC:TxtMsg': (i) => ({ content: `t${i}` }),
    'RC:ImgMsg': (i) => ({ content: 'AAAA', imageUri: `http://x/${i}.png` }),
    'RC:FileMsg': (i) => ({ name: `f${i}.pdf`, size: i, type: 'pdf', fileUrl: 'http://x' }),
  }
  for (let i = 0; i < 15; i++) {
    const messageType = kinds[i % 3]
    await ok(engine.insertMessage(c, { messageType, content: contents[messageType](i), sentTime: T0 + i }))
  }
  let page = await ok(engine.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:FileMsg'] }))
  assert.deepEqual(page.list.map((m) => m.content.name), ['f14.pdf', 'f11.pdf', 'f8.pdf', 'f5.pdf', 'f2.pdf'])
  assert.equal(page.hasMore, false)
  page = await ok(engine.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:TxtMsg', 'RC:ImgMsg'], count: 3 }))
  assert.deepEqual(page.list.map((m) => m.sentTime - T0), [13, 12, 10])
  assert.equal(page.hasMore, true)
  page = await ok(
    engine.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:TxtMsg'], timestamp: T0 + 3, order: 1, count: 2 }),
  )
  assert.deepEqual(texts(page.list), ['t6', 't9'])
  assert.equal(page.hasMore, true)
  page = await ok(engine.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:TxtMsg'], timestamp: T0 + 6, order: 0 }))
  assert.deepEqual(texts(page.list), ['t3', 't0'])
  assert.equal(page.hasMore, false)
  page = await ok(engine.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:VcMsg'] }))
  assert.deepEqual(page, { list: [], hasMore: false })
  await ok(engine.close())
})

test('getMessagesAroundTimestamp: beforeCount before, all at the time, afterCount after, oldest first', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('around')
  await seedTimeline(engine, c, 10) // m0..m9 at T0 + 0..90
  await insertTexts(engine, c, [{ text: 'm5b', sentTime: T0 + 50 }]) // a second message at T0+50
  let got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 50, beforeCount: 2, afterCount: 3 }))
  assert.deepEqual(texts(got), ['m3', 'm4', 'm5', 'm5b', 'm6', 'm7', 'm8'])
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 30, beforeCount: 1, afterCount: 1 }))
  assert.deepEqual(texts(got), ['m2', 'm3', 'm4'], 'before + 1 + after')
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 30, beforeCount: 0, afterCount: 0 }))
  assert.deepEqual(texts(got), ['m3'])
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 55, beforeCount: 3, afterCount: 2 }))
  assert.deepEqual(texts(got), ['m4', 'm5', 'm5b', 'm6', 'm7'], 'no message at the time itself')
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 10, beforeCount: 5, afterCount: 0 }))
  assert.deepEqual(texts(got), ['m0', 'm1'], 'fewer before than asked')
  // 0 = now: the newest messages, nothing after.
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: 0, beforeCount: 3, afterCount: 5 }))
  assert.deepEqual(texts(got), ['m7', 'm8', 'm9'])
  got = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: T0 + 90, beforeCount: 100, afterCount: 100 }))
  assert.equal(got.length, 11)
  assert.deepEqual(await ok(engine.getMessagesAroundTimestamp(priv('none'), { timestamp: 0, beforeCount: 1, afterCount: 1 })), [])
  await ok(engine.close())
})

test('getMessageCount: per conversation and channel, following inserts and deletes', async (t) => {
  const { engine } = await openEngine(t)
  assert.equal(await ok(engine.getMessageCount(priv('a'))), 0)
  const a = await seedTimeline(engine, priv('a'), 7)
  await seedTimeline(engine, priv('a', 'c1'), 3)
  await seedTimeline(engine, group('a'), 2)
  assert.equal(await ok(engine.getMessageCount(priv('a'))), 7)
  assert.equal(await ok(engine.getMessageCount(priv('a', ''))), 7)
  assert.equal(await ok(engine.getMessageCount(priv('a', 'c1'))), 3)
  assert.equal(await ok(engine.getMessageCount(group('a'))), 2)
  await ok(engine.deleteMessages([a[0].messageId, a[1].messageId]))
  assert.equal(await ok(engine.getMessageCount(priv('a'))), 5)
  await ok(engine.clearMessages(priv('a', 'c1')))
  assert.equal(await ok(engine.getMessageCount(priv('a', 'c1'))), 0)
  assert.equal(await ok(engine.getMessageCount(priv('a'))), 5)
  await ok(engine.close())
})

// ---- insertMessage -------------------------------------------------------------------

test('insertMessage: a BaseMessage is a SEND message from the open user, sent now, stored as returned', async (t) => {
  const { engine } = await openEngine(t)
  const before = Date.now()
  const m = await ok(engine.insertMessage(priv('peer'), { messageType: 'RC:TxtMsg', content: { content: 'hi', extra: 'x' } }))
  const after = Date.now()
  assert.equal(m.messageDirection, 1)
  assert.equal(m.senderUserId, ME)
  assert.equal(m.sentStatus, 30, 'SENT')
  assert.equal(m.messageUId, '')
  assert.ok(m.sentTime >= before - 1000 && m.sentTime <= after + 1000, `sentTime ${m.sentTime} is now`)
  assert.deepEqual(m.content, { content: 'hi', extra: 'x' })
  assert.equal(m.conversationType, PRIVATE)
  assert.equal(m.targetId, 'peer')
  assert.equal(m.channelId, '')
  assert.equal(m.isPersisted, true)
  assert.equal(m.isCounted, true)
  assert.equal(m.canIncludeExpansion, false)
  assert.equal(m.expansion, null)
  const stored = (await ok(engine.getHistoryMessages(priv('peer')))).list
  assert.deepEqual(stored, [m], 'history returns exactly what insert returned')
  // A full IAReceivedMessage controls its direction and sender.
  const r = await ok(
    engine.insertMessage(priv('peer'), txt('from peer', { messageDirection: 2, senderUserId: 'peer', sentTime: T0 })),
  )
  assert.equal(r.messageDirection, 2)
  assert.equal(r.senderUserId, 'peer')
  assert.equal(r.sentTime, T0, 'a given sentTime is kept')
  // A received private message without sender comes from the peer.
  const r2 = await ok(engine.insertMessage(priv('peer2'), txt('anon', { messageDirection: 2 })))
  assert.equal(r2.senderUserId, 'peer2')
  // A SEND message with an explicit sender keeps it.
  const s = await ok(engine.insertMessage(group('g'), txt('as me', { senderUserId: ME, messageDirection: 1 })))
  assert.equal(s.senderUserId, ME)
  // A received group message needs its sender.
  const n = await ok(engine.getMessageCount(group('g')))
  await fails(engine.insertMessage(group('g'), txt('who?', { messageDirection: 2 })), 33003, 'senderUserId')
  assert.equal(await ok(engine.getMessageCount(group('g'))), n)
  await ok(engine.close())
})

test('insertMessage: a kept sentTime keeps imported history in order', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('imp')
  await insertTexts(engine, c, [
    { text: 'third', sentTime: T0 + 30 },
    { text: 'first', sentTime: T0 + 10 },
    { text: 'second', sentTime: T0 + 20 },
  ])
  assert.deepEqual(texts((await ok(engine.getHistoryMessages(c))).list), ['third', 'second', 'first'])
  const conv0 = await getConv(engine, c)
  assert.equal(conv0.latestMessage.content.content, 'third', 'latestMessage is the newest by sentTime')
  await ok(engine.close())
})

test('insertMessage: messageUId (or messageUid) makes insert idempotent', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('uid')
  const a = await ok(engine.insertMessage(c, txt('once', { messageUId: 'UID-1', sentTime: T0 })))
  assert.equal(a.messageUId, 'UID-1')
  const b = await ok(engine.insertMessage(c, txt('once', { messageUId: 'UID-1', sentTime: T0 })))
  assert.equal(b.messageId, a.messageId)
  const d = await ok(engine.insertMessage(c, txt('once', { messageUid: 'UID-1', sentTime: T0 })))
  assert.equal(d.messageId, a.messageId, 'messageUid is accepted as messageUId')
  assert.equal(await ok(engine.getMessageCount(c)), 1)
  const e = await ok(engine.insertMessage(c, txt('twice', { messageUid: 'UID-2', sentTime: T0 + 1 })))
  assert.equal(e.messageUId, 'UID-2')
  assert.equal(await ok(engine.getMessageCount(c)), 2)
  // Without a uid the same content is a new message.
  await ok(engine.insertMessage(c, txt('same', { sentTime: T0 + 5 })))
  await ok(engine.insertMessage(c, txt('same', { sentTime: T0 + 5 })))
  assert.equal(await ok(engine.getMessageCount(c)), 4)
  await ok(engine.close())
})

test('insertMessage: received messages are unread only with options.isUnread', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('unr')
  const read = await ok(engine.insertMessage(c, txt('history', { messageDirection: 2, sentTime: T0 })))
  assert.equal(read.receivedStatusInfo.isRead, true)
  let cv = await getConv(engine, c)
  assert.equal(cv.unreadMessageCount, 0)
  assert.equal(cv.lastUnreadTime, 0)
  const u1 = await ok(engine.insertMessage(c, txt('new 1', { messageDirection: 2, sentTime: T0 + 10 }), { isUnread: true }))
  assert.equal(u1.receivedStatusInfo.isRead, false)
  assert.equal(u1.receivedStatus & 1, 0)
  await ok(engine.insertMessage(c, txt('new 2', { messageDirection: 2, sentTime: T0 + 20 }), { isUnread: true }))
  await ok(engine.insertMessage(c, txt('not unread', { messageDirection: 2, sentTime: T0 + 30 }), { isUnread: false }))
  // Own messages never count as unread.
  await ok(engine.insertMessage(c, txt('mine', { messageDirection: 1, sentTime: T0 + 40 }), { isUnread: true }))
  cv = await getConv(engine, c)
  assert.equal(cv.unreadMessageCount, 2)
  assert.equal(cv.lastUnreadTime, T0 + 20)
  assert.equal(cv.latestMessage.content.content, 'mine')
  assert.equal(cv.hasMentioned, false)
  assert.equal(cv.mentionedInfo, null)
  // A non-counted type (notification) is never unread.
  await ok(
    engine.insertMessage(c, { messageType: 'RC:InfoNtf', content: { message: 'note' }, messageDirection: 2, sentTime: T0 + 50 }, { isUnread: true }),
  )
  assert.equal((await getConv(engine, c)).unreadMessageCount, 2)
  await ok(engine.close())
})

test('insertMessage: expansion needs canIncludeExpansion and string values; nothing written otherwise', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('exp')
  const m = await ok(engine.insertMessage(c, txt('x', { canIncludeExpansion: true, expansion: { k: 'v', n: '1' } })))
  assert.equal(m.canIncludeExpansion, true)
  assert.deepEqual(m.expansion, { k: 'v', n: '1' })
  const stored = (await ok(engine.getHistoryMessages(c))).list[0]
  assert.deepEqual(stored.expansion, { k: 'v', n: '1' })
  const m2 = await ok(engine.insertMessage(c, txt('y', { canIncludeExpansion: true })))
  assert.equal(m2.canIncludeExpansion, true)
  await fails(engine.insertMessage(c, txt('z', { expansion: { k: 'v' } })), 33003, 'expansion', 'canIncludeExpansion')
  await fails(engine.insertMessage(c, txt('z', { canIncludeExpansion: false, expansion: { k: 'v' } })), 33003, 'expansion')
  await fails(engine.insertMessage(c, txt('z', { canIncludeExpansion: true, expansion: { k: 1 } })), 33003, 'expansion')
  await fails(engine.insertMessage(c, txt('z', { canIncludeExpansion: 'yes' })), 33003, 'canIncludeExpansion')
  assert.equal(await ok(engine.getMessageCount(c)), 2)
  await ok(engine.close())
})

test('insertMessage: unknown and non-stored message types are refused and write nothing', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('types')
  const r = await settle(() => engine.insertMessage(c, { messageType: 'app:unknown', content: { a: 1 } }))
  assert.notEqual(r.code, 0)
  assert.match(r.msg, /messageType|app:unknown/)
  for (const messageType of ['RC:TypSts', 'RC:CmdMsg', 'RC:ReadNtf']) {
    const x = await settle(() => engine.insertMessage(c, { messageType, content: { a: 1 } }))
    assert.notEqual(x.code, 0, `${messageType} is not stored`)
  }
  assert.equal(await ok(engine.getMessageCount(c)), 0)
  assert.equal((await ok(engine.getAllConversationList())).length, 0, 'no conversation row created')
  await ok(engine.close())
})

// ---- batchInsertMessage --------------------------------------------------------------

function batchOf(n, { target = 'b', type = PRIVATE, start = 0, uidPrefix = 'u', channelId, extra = {} } = {}) {
  const out = []
  for (let i = start; i < start + n; i++) {
    const m = { conversationType: type, targetId: target, ...txt(`msg ${i}`), sentTime: T0 + i, ...extra }
    if (uidPrefix) m.messageId = `${uidPrefix}${i}`
    if (channelId !== undefined) m.channelId = channelId
    out.push(m)
  }
  return out
}

test('batchInsertMessage: inserts across conversations; a string messageId is the dedup value', async (t) => {
  const { engine } = await openEngine(t)
  const batch = [
    ...batchOf(3, { target: 'p1' }),
    ...batchOf(2, { target: 'g1', type: GROUP, start: 10, extra: { senderUserId: 'x', messageDirection: 2 } }),
    ...batchOf(2, { target: 'p1', channelId: 'c9', start: 20 }),
  ]
  assert.deepEqual(await ok(engine.batchInsertMessage(batch, false)), { inserted: 7, duplicates: 0 })
  assert.equal(await ok(engine.getMessageCount(priv('p1'))), 3)
  assert.equal(await ok(engine.getMessageCount(group('g1'))), 2)
  assert.equal(await ok(engine.getMessageCount(priv('p1', 'c9'))), 2)
  const stored = (await ok(engine.getHistoryMessages(priv('p1')))).list
  assert.deepEqual(stored.map((m) => m.messageUId), ['u2', 'u1', 'u0'])
  assert.ok(stored.every((m) => typeof m.messageId === 'number'), 'the local messageId stays a number')
  // The same batch again: all duplicates, nothing written.
  assert.deepEqual(await ok(engine.batchInsertMessage(batch, true)), { inserted: 0, duplicates: 7 })
  assert.deepEqual(await ok(engine.batchInsertMessage(batch, false)), { inserted: 0, duplicates: 7 })
  assert.equal(await ok(engine.getMessageCount(priv('p1'))), 3)
  // Duplicates inside one batch.
  const twice = [...batchOf(1, { target: 'p2', uidPrefix: 'dup' }), ...batchOf(1, { target: 'p2', uidPrefix: 'dup' })]
  assert.deepEqual(await ok(engine.batchInsertMessage(twice)), { inserted: 1, duplicates: 1 })
  assert.equal(await ok(engine.getMessageCount(priv('p2'))), 1)
  await ok(engine.close())
})

test('batchInsertMessage: checkDuplicate drops messages identical to stored or earlier ones', async (t) => {
  const { engine } = await openEngine(t)
  const one = { conversationType: PRIVATE, targetId: 'cd', ...txt('same'), sentTime: T0, senderUserId: 'cd', messageDirection: 2 }
  assert.deepEqual(await ok(engine.batchInsertMessage([one], true)), { inserted: 1, duplicates: 0 })
  assert.deepEqual(await ok(engine.batchInsertMessage([one, { ...one }, { ...one, sentTime: T0 + 1 }], true)), {
    inserted: 1,
    duplicates: 2,
  })
  assert.equal(await ok(engine.getMessageCount(priv('cd'))), 2)
  // Without checkDuplicate identical content is stored again.
  assert.deepEqual(await ok(engine.batchInsertMessage([one, { ...one }], false)), { inserted: 2, duplicates: 0 })
  assert.equal(await ok(engine.getMessageCount(priv('cd'))), 4)
  await ok(engine.close())
})

test('batchInsertMessage: 500 is the limit; 501 is 33003 and writes nothing', async (t) => {
  const { engine } = await openEngine(t)
  assert.deepEqual(await ok(engine.batchInsertMessage(batchOf(500, { target: 'lim' }))), { inserted: 500, duplicates: 0 })
  const before = await ok(engine.getAllConversationList())
  await fails(engine.batchInsertMessage(batchOf(501, { target: 'lim2', uidPrefix: 'v' })), 33003, 'messages', '500')
  await fails(engine.batchInsertMessage(batchOf(501, { target: 'lim', uidPrefix: 'w' })), 33003, '500')
  assert.equal(await ok(engine.getMessageCount(priv('lim'))), 500)
  assert.equal(await ok(engine.getMessageCount(priv('lim2'))), 0)
  assert.deepEqual(await ok(engine.getAllConversationList()), before)
  await ok(engine.close())
})

test('batchInsertMessage: one bad element is 33003 naming messages[i], and nothing is written', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.batchInsertMessage(batchOf(3, { target: 'keep', uidPrefix: 'k' })))
  const before = await ok(engine.getAllConversationList())
  const bads = [
    [137, (m) => ({ ...m, content: 'not an object' })],
    [0, (m) => ({ ...m, messageType: undefined })],
    [499, (m) => ({ ...m, targetId: '' })],
    [42, (m) => ({ ...m, sentTime: -1 })],
    [7, (m) => ({ ...m, messageDirection: 3 })],
    [250, () => 'a string'],
    [3, (m) => ({ ...m, conversationType: 'PRIVATE' })],
  ]
  for (const [i, mutate] of bads) {
    const batch = batchOf(500, { target: 'bad', uidPrefix: `b${i}-` })
    batch[i] = mutate(batch[i])
    const r = await fails(engine.batchInsertMessage(batch, false), 33003, `messages[${i}]`)
    assert.doesNotMatch(r.msg, new RegExp(`messages\\[(?!${i}\\])\\d+\\]`), 'names only the bad index')
  }
  assert.equal(await ok(engine.getMessageCount(priv('bad'))), 0)
  assert.deepEqual(await ok(engine.getAllConversationList()), before)
  // A chatroom element is refused the same way.
  const batch = batchOf(10, { target: 'bad', uidPrefix: 'cr' })
  batch[4] = { ...batch[4], conversationType: 4 }
  const r = await settle(() => engine.batchInsertMessage(batch))
  assert.notEqual(r.code, 0)
  assert.match(r.msg, /messages\[4\]/)
  assert.equal(await ok(engine.getMessageCount(priv('bad'))), 0)
  await ok(engine.close())
})

test('batchInsertMessage: conversation rows (latestMessage, unread, sortTime) are right after the batch', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('lm')
  await ok(engine.insertMessage(c, txt('existing', { sentTime: T0 + 500 })))
  // Out of order, with a tie at the newest time: the higher messageId (later element) wins.
  const batch = [
    { ...priv('lm'), ...txt('a'), sentTime: T0 + 100, messageDirection: 2, receivedStatus: 0 },
    { ...priv('lm'), ...txt('b'), sentTime: T0 + 900, messageDirection: 2, receivedStatus: 0 },
    { ...priv('lm'), ...txt('c'), sentTime: T0 + 300, messageDirection: 2 },
    { ...priv('lm'), ...txt('d'), sentTime: T0 + 900 },
    { ...priv('other'), ...txt('o'), sentTime: T0 + 50 },
  ]
  assert.deepEqual(await ok(engine.batchInsertMessage(batch)), { inserted: 5, duplicates: 0 })
  let cv = await getConv(engine, c)
  assert.equal(cv.latestMessage.content.content, 'd')
  assert.equal(cv.latestMessage.sentTime, T0 + 900)
  assert.equal(cv.sortTime, T0 + 900)
  assert.equal(cv.unreadMessageCount, 2, 'receivedStatus 0 (UNREAD) received messages are unread')
  assert.equal(cv.lastUnreadTime, T0 + 900)
  const all = await allMessages(engine, c)
  assert.equal(cv.latestMessage.messageId, all[0].messageId)
  // Older messages do not move latestMessage.
  await ok(engine.batchInsertMessage([{ ...priv('lm'), ...txt('old'), sentTime: T0 + 1 }]))
  cv = await getConv(engine, c)
  assert.equal(cv.latestMessage.content.content, 'd')
  // The list is sorted by the latest message.
  const list = await ok(engine.getAllConversationList())
  assert.deepEqual(list.map((x) => x.targetId), ['lm', 'other'])
  await ok(engine.close())
})

// ---- delete --------------------------------------------------------------------------

test('deleteMessages: ids of one conversation; mixed conversations are 33003 and delete nothing', async (t) => {
  const { engine } = await openEngine(t)
  const a = await seedTimeline(engine, priv('da'), 5)
  const b = await seedTimeline(engine, priv('db'), 3)
  const c = await seedTimeline(engine, priv('da', 'ch'), 2)
  await fails(engine.deleteMessages([a[0].messageId, b[0].messageId]), 33003, 'messageIds')
  await fails(engine.deleteMessages([a[0].messageId, c[0].messageId]), 33003, 'messageIds')
  assert.equal(await ok(engine.getMessageCount(priv('da'))), 5)
  assert.equal(await ok(engine.getMessageCount(priv('db'))), 3)
  assert.equal(await ok(engine.getMessageCount(priv('da', 'ch'))), 2)
  // Deleting the newest moves latestMessage to the next one.
  await ok(engine.deleteMessages([a[4].messageId, a[1].messageId]))
  assert.deepEqual(texts(await allMessages(engine, priv('da'))), ['m3', 'm2', 'm0'])
  const cv = await getConv(engine, priv('da'))
  assert.equal(cv.latestMessage.content.content, 'm3')
  // Already deleted ids are no error and change nothing.
  await ok(engine.deleteMessages([a[4].messageId]))
  assert.equal(await ok(engine.getMessageCount(priv('da'))), 3)
  // Deleting every message leaves no latestMessage.
  await ok(engine.deleteMessages(b.map((m) => m.messageId)))
  assert.equal(await ok(engine.getMessageCount(priv('db'))), 0)
  const cvb = (await ok(engine.getConversations([priv('db')])))[0]
  if (cvb) assert.equal(cvb.latestMessage, null)
  // Deleted messages are gone from search too.
  assert.equal((await ok(engine.searchMessages(priv('da'), 'm4', 0, 10))).count, 0)
  assert.equal((await ok(engine.searchMessages(priv('da'), 'm3', 0, 10))).count, 1)
  await ok(engine.close())
})

test('clearMessages: every message of that conversation only', async (t) => {
  const { engine } = await openEngine(t)
  await seedTimeline(engine, priv('cl'), 6)
  await seedTimeline(engine, priv('cl', 'x'), 2)
  await seedTimeline(engine, group('cl'), 2)
  await ok(engine.insertMessage(priv('cl'), txt('unread', { messageDirection: 2, sentTime: T0 + 1000 }), { isUnread: true }))
  await ok(
    engine.insertMessage(
      priv('cl'),
      { messageType: 'RC:TxtMsg', content: { content: '@me', mentionedInfo: { type: 1 } }, messageDirection: 2, sentTime: T0 + 1001 },
      { isUnread: true },
    ),
  )
  assert.equal((await getConv(engine, priv('cl'))).hasMentioned, true)
  await ok(engine.clearMessages(priv('cl')))
  assert.equal(await ok(engine.getMessageCount(priv('cl'))), 0)
  assert.deepEqual((await ok(engine.getHistoryMessages(priv('cl')))).list, [])
  assert.equal(await ok(engine.getMessageCount(priv('cl', 'x'))), 2)
  assert.equal(await ok(engine.getMessageCount(group('cl'))), 2)
  const cv = (await ok(engine.getConversations([priv('cl')])))[0]
  if (cv) {
    assert.equal(cv.latestMessage, null)
    assert.equal(cv.unreadMessageCount, 0)
    assert.equal(cv.lastUnreadTime, 0)
    assert.equal(cv.hasMentioned, false)
    assert.equal(cv.mentionedInfo, null)
  }
  assert.equal((await ok(engine.searchMessages(priv('cl'), 'm', 0, 100))).count, 2, 'only channel x remains')
  await ok(engine.clearMessages(priv('never-existed')))
  await ok(engine.close())
})

test('deleteMessagesByTimestamp: deletes messages sent strictly before the timestamp, in that conversation', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('ts')
  await seedTimeline(engine, c, 10) // T0 .. T0+90
  await seedTimeline(engine, priv('ts', 'ch'), 10)
  await seedTimeline(engine, priv('ts2'), 10)
  await ok(engine.insertMessage(c, txt('u', { messageDirection: 2, sentTime: T0 + 15 }), { isUnread: true }))
  assert.equal((await getConv(engine, c)).unreadMessageCount, 1)
  await ok(engine.deleteMessagesByTimestamp(c, T0 + 50, false))
  assert.deepEqual(texts(await allMessages(engine, c)), ['m9', 'm8', 'm7', 'm6', 'm5'])
  const cv = await getConv(engine, c)
  assert.equal(cv.unreadMessageCount, 0)
  assert.equal(cv.lastUnreadTime, 0)
  assert.equal(cv.latestMessage.content.content, 'm9')
  assert.equal(await ok(engine.getMessageCount(priv('ts', 'ch'))), 10)
  assert.equal(await ok(engine.getMessageCount(priv('ts2'))), 10)
  // cleanSpace omitted is false.
  await ok(engine.deleteMessagesByTimestamp(c, T0 + 60))
  assert.equal(await ok(engine.getMessageCount(c)), 4)
  await ok(engine.deleteMessagesByTimestamp(c, T0 + 10_000, false))
  assert.equal(await ok(engine.getMessageCount(c)), 0)
  await ok(engine.close())
})

test(
  'deleteMessagesByTimestamp cleanSpace: the file shrinks in the background while other calls keep answering',
  async (t) => {
    const { engine, dbFile } = await openEngine(t)
    const big = priv('big')
    const filler = 'lorem ipsum dolor sit amet 你好世界 数据库 消息 '.repeat(6)
    const N = 4_000
    for (let b = 0; b < N / 500; b++) {
      const batch = []
      for (let i = 0; i < 500; i++) {
        const n = b * 500 + i
        batch.push({ ...big, ...txt(`${n} ${filler}`), sentTime: T0 + n })
      }
      await ok(engine.batchInsertMessage(batch))
    }
    await seedTimeline(engine, priv('small'), 30)
    // Close and reopen so the WAL is checkpointed into the main file.
    await ok(engine.close())
    await ok(engine.open(ME))
    const full = fs.statSync(dbFile).size
    assert.ok(full > 3 * 1024 * 1024, `db is ${full} bytes`)

    // Without cleanSpace the freed pages stay in the file (reused later).
    await ok(engine.deleteMessagesByTimestamp(big, T0 + 200, false))
    assert.ok(fs.statSync(dbFile).size >= full, 'no reclaim without cleanSpace')
    // With cleanSpace, the call answers without waiting for the reclaim, which runs in the background.
    const h = monitorEventLoopDelay({ resolution: 10 })
    h.enable()
    const deleteStarted = Date.now()
    await ok(engine.deleteMessagesByTimestamp(big, T0 + N, true))
    const deleteTook = Date.now() - deleteStarted
    assert.ok(deleteTook < 3000, `deleteMessagesByTimestamp(cleanSpace) answered in ${deleteTook} ms`)
    assert.equal(await ok(engine.getMessageCount(big)), 0)
    const latencies = []
    let calls = 0
    const timed = async (label, p) => {
      const s = process.hrtime.bigint()
      const d = await ok(p, label)
      latencies.push([label, Number(process.hrtime.bigint() - s) / 1e6])
      calls++
      return d
    }
    const sizes = []
    await waitFor(
      async () => {
        await timed('history', engine.getHistoryMessages(priv('small'), { count: 20 }))
        await timed('search', engine.searchMessages(priv('small'), 'm1', 0, 10))
        await timed('insert', engine.insertMessage(priv('small'), txt(`during ${calls}`)))
        await timed('list', engine.getConversationList(0, 10))
        const size = fs.statSync(dbFile).size
        sizes.push(size)
        return size < full / 8
      },
      { timeoutMs: 5000, label: () => `db file (${full} bytes) to shrink below ${full / 8} (last sizes ${sizes.slice(-5)})` },
    )
    h.disable()
    const worst = latencies.reduce((a, b) => (b[1] > a[1] ? b : a))
    assert.ok(worst[1] < 1000, `every call answered fast during the reclaim; slowest ${worst[0]} ${worst[1]} ms`)
    assert.ok(h.max / 1e6 < 500, `the JS thread was never blocked (max loop delay ${h.max / 1e6} ms)`)
    // The database is intact.
    assert.equal(await ok(engine.getMessageCount(priv('small'))), 30 + calls / 4)
    assert.equal((await ok(engine.searchMessages(priv('small'), 'during', 0, 100))).count, calls / 4)
    await ok(engine.close())
  },
)

test(
  'close() during a cleanSpace reclaim resolves promptly and the database reopens intact',
  async (t) => {
    const { engine, dbFile } = await openEngine(t)
    const big = priv('big')
    const filler = 'lorem ipsum dolor sit amet 你好世界 数据库 消息 '.repeat(6)
    for (let b = 0; b < 10; b++) {
      const batch = []
      for (let i = 0; i < 500; i++) batch.push({ ...big, ...txt(`${b * 500 + i} ${filler}`), sentTime: T0 + b * 500 + i })
      await ok(engine.batchInsertMessage(batch))
    }
    await seedTimeline(engine, priv('small'), 5)
    await ok(engine.deleteMessagesByTimestamp(big, T0 + 4000, true))
    const s = Date.now()
    await ok(engine.close())
    const took = Date.now() - s
    assert.ok(took < 1500, `close took ${took} ms`)
    await ok(engine.open(ME))
    assert.equal(await ok(engine.getMessageCount(big)), 1000)
    assert.equal(await ok(engine.getMessageCount(priv('small'))), 5)
    assert.equal((await ok(engine.searchMessages(big, '4999 lorem', 0, 10))).count, 1)
    assert.ok(fs.statSync(dbFile).size > 0)
    await ok(engine.close())
  },
)

test('concurrent inserts, batches, deletes and status changes keep conversation rows equal to the messages', async (t) => {
  const { engine } = await openEngine(t)
  const convs = [priv('c1'), priv('c2'), group('c3'), group('c3', 'side')]
  const pending = []
  for (let i = 0; i < 200; i++) {
    const c = convs[i % convs.length]
    const m = { messageType: 'RC:TxtMsg', content: { content: `par ${i}`, ...(i % 7 === 0 ? { mentionedInfo: { type: 1 } } : {}) }, sentTime: T0 + ((i * 37) % 1000), messageDirection: i % 2 ? 2 : 1, senderUserId: i % 2 ? 'ann' : ME }
    pending.push(engine.insertMessage(c, m, { isUnread: i % 3 === 0 }))
    if (i % 50 === 0) {
      pending.push(
        engine.batchInsertMessage(
          Array.from({ length: 100 }, (_, j) => ({ ...convs[j % convs.length], ...txt(`bat ${i} ${j}`), sentTime: T0 + 2000 + i * 100 + j, messageDirection: 2, senderUserId: 'ben', receivedStatus: j % 2 })),
        ),
      )
    }
    pending.push(engine.getConversationList(0, 10), engine.searchMessages(c, 'par', 0, 5))
  }
  const results = await Promise.all(pending.map((p) => settle(() => p)))
  assert.ok(results.every((r) => r.code === 0), JSON.stringify(results.find((r) => r.code !== 0)))
  // Delete and mark read concurrently with more reads.
  const inserted = results.filter((r) => r.data && r.data.messageId && r.data.content.content.startsWith('par '))
  const ops = []
  for (const m of inserted.map((r) => r.data)) {
    const n = Number(m.content.content.split(' ')[1])
    if (n % 5 === 0) ops.push(engine.deleteMessages([m.messageId]))
    else if (n % 3 === 0) ops.push(engine.setMessageReceivedStatusInfo(m.messageId, { isRead: true }))
    ops.push(engine.getAllConversationList())
  }
  const done = await Promise.all(ops)
  assert.ok(done.every((r) => r.code === 0), JSON.stringify(done.find((r) => r.code !== 0)))
  // Calls run in parallel, so a delete by time among them could remove a message before its
  // own status change reaches the writer (which then rightly answers 33003): it runs after
  // them, beside more reads.
  const tail = await Promise.all([engine.deleteMessagesByTimestamp(convs[0], T0 + 300, false), engine.getAllConversationList(), engine.getConversationList(0, 10)])
  assert.ok(tail.every((r) => r.code === 0), JSON.stringify(tail.find((r) => r.code !== 0)))
  const list = await ok(engine.getAllConversationList())
  for (const c of convs) {
    const all = await allMessages(engine, c)
    const row = findConv(list, c)
    assert.equal(await ok(engine.getMessageCount(c)), all.length, convKey(c))
    assert.equal(row.latestMessage.messageId, all[0].messageId, `latestMessage of ${convKey(c)}`)
    const unread = all.filter((m) => m.messageDirection === 2 && !m.receivedStatusInfo.isRead)
    assert.equal(row.unreadMessageCount, unread.length, `unread of ${convKey(c)}`)
    assert.equal(row.hasMentioned, unread.some((m) => m.isMentioned), `hasMentioned of ${convKey(c)}`)
    assert.equal(row.lastUnreadTime, unread.length ? Math.max(...unread.map((m) => m.sentTime)) : 0)
  }
  await ok(engine.close())
})

// ---- search --------------------------------------------------------------------------

test('searchMessages: case-insensitive substrings, newest first, count = total, startTime strict, count limit', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('s')
  const items = [
    { text: 'Hello World 你好世界', sentTime: T0 + 10 },
    { text: 'hello again', sentTime: T0 + 20 },
    { text: 'HELLO 😀👍 emoji', sentTime: T0 + 30 },
    { text: '世界和平', sentTime: T0 + 40 },
    { text: 'tie one hello', sentTime: T0 + 50 },
    { text: 'tie two hello', sentTime: T0 + 50 },
  ]
  const s = await insertTexts(engine, c, items)
  let r = await ok(engine.searchMessages(c, 'hello', 0, 100))
  assert.equal(r.count, 5)
  assert.deepEqual(ids(r.messages), [s[5], s[4], s[2], s[1], s[0]].map((m) => m.messageId), 'sentTime desc then messageId desc')
  r = await ok(engine.searchMessages(c, 'HeLLo', 0, 2))
  assert.equal(r.count, 5, 'count is the total, not the page')
  assert.deepEqual(texts(r.messages), ['tie two hello', 'tie one hello'])
  r = await ok(engine.searchMessages(c, 'hello', T0 + 30, 100))
  assert.deepEqual(texts(r.messages), ['hello again', 'Hello World 你好世界'], 'startTime: strictly before')
  assert.equal(r.count, 2)
  for (const [kw, n] of [['世', 2], ['世界', 2], ['你好世', 1], ['和平', 1], ['😀', 1], ['😀👍', 1], ['o w', 1], ['ll', 5], ['hellos', 0], ['界和', 1]]) {
    assert.equal((await ok(engine.searchMessages(c, kw, 0, 100))).count, n, `keyword ${kw}`)
  }
  assert.equal((await ok(engine.searchMessages(priv('nobody'), 'hello', 0, 10))).count, 0)
  await ok(engine.close())
})

test('searchMessages: channelId omitted searches every channel; given restricts to it', async (t) => {
  const { engine } = await openEngine(t)
  await insertTexts(engine, group('gch'), [{ text: 'needle default', sentTime: T0 + 1 }])
  await insertTexts(engine, group('gch', 'c1'), [{ text: 'needle c1', sentTime: T0 + 2 }])
  await insertTexts(engine, group('gch', 'c2'), [{ text: 'needle c2', sentTime: T0 + 3 }])
  await insertTexts(engine, group('other'), [{ text: 'needle elsewhere', sentTime: T0 + 4 }])
  let r = await ok(engine.searchMessages(group('gch'), 'needle', 0, 10))
  assert.deepEqual(texts(r.messages), ['needle c2', 'needle c1', 'needle default'])
  assert.equal(r.count, 3)
  r = await ok(engine.searchMessages(group('gch', ''), 'needle', 0, 10))
  assert.deepEqual(texts(r.messages), ['needle default'])
  r = await ok(engine.searchMessages(group('gch', 'c1'), 'needle', 0, 10))
  assert.deepEqual(texts(r.messages), ['needle c1'])
  r = await ok(engine.searchMessages(group('gch', 'nope'), 'needle', 0, 10))
  assert.equal(r.count, 0)
  await ok(engine.close())
})

test('searchMessages: searchable text by type (text content, file name, reference own content, custom searchProps) and messageTypes', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.registerMessageType('app:card', true, true, ['title', 'desc'], false))
  await ok(engine.registerMessageType('app:plain', true, true, [], false))
  const c = group('types')
  const put = (messageType, content, sentTime) =>
    ok(engine.insertMessage(c, { messageType, content, sentTime, senderUserId: 'x', messageDirection: 2 }))
  const t1 = await put('RC:TxtMsg', { content: 'zebra text', extra: 'giraffe' }, T0 + 1)
  const f1 = await put('RC:FileMsg', { name: 'Zebra-Report.PDF', size: 1, type: 'pdf', fileUrl: 'http://giraffe/zebra' }, T0 + 2)
  const q1 = await put('RC:ReferenceMsg', { content: 'zebra reply', referMsg: { content: 'giraffe original' }, referMsgUserId: 'x', objName: 'RC:TxtMsg' }, T0 + 3)
  const c1 = await put('app:card', { title: 'Zebra card', desc: 'about giraffes', other: 'okapi' }, T0 + 4)
  await put('app:plain', { title: 'zebra plain', text: 'okapi' }, T0 + 5)
  await put('RC:ImgMsg', { content: 'zebra', imageUri: 'http://okapi/zebra.png' }, T0 + 6)
  let r = await ok(engine.searchMessages(c, 'zebra', 0, 100))
  assert.deepEqual(ids(r.messages), [c1, q1, f1, t1].map((m) => m.messageId))
  assert.equal((await ok(engine.searchMessages(c, 'giraffe', 0, 100))).messages.length, 1, 'only the custom desc')
  assert.equal((await ok(engine.searchMessages(c, 'giraffe', 0, 100))).messages[0].messageId, c1.messageId)
  assert.equal((await ok(engine.searchMessages(c, 'okapi', 0, 100))).count, 0, 'non-search fields are not searched')
  assert.equal((await ok(engine.searchMessages(c, 'report.pdf', 0, 100))).count, 1, 'file name')
  assert.equal((await ok(engine.searchMessages(c, 'cardabout', 0, 100))).count, 0)
  assert.equal((await ok(engine.searchMessages(c, 'card about', 0, 100))).count, 0, 'never across two props')
  assert.equal((await ok(engine.searchMessages(c, 'dabo', 0, 100))).count, 0, 'never across two props')
  // messageTypes
  r = await ok(engine.searchMessages(c, 'zebra', 0, 100, ['RC:FileMsg', 'app:card']))
  assert.deepEqual(ids(r.messages), [c1, f1].map((m) => m.messageId))
  assert.equal(r.count, 2)
  r = await ok(engine.searchMessages(c, 'zebra', 0, 100, ['RC:ReferenceMsg']))
  assert.deepEqual(ids(r.messages), [q1.messageId])
  r = await ok(engine.searchMessages(c, 'zebra', 0, 100, []))
  assert.equal(r.count, 4, 'an empty messageTypes is no filter')
  r = await ok(engine.searchMessages(c, 'zebra', 0, 100, ['RC:ImgMsg']))
  assert.equal(r.count, 0)
  await ok(engine.close())
})

test('searchMessageInTimeRange: inclusive range, offset/limit (default 0/5), every channel', async (t) => {
  const { engine } = await openEngine(t)
  const base = group('tr')
  const all = []
  for (let i = 0; i < 12; i++) {
    const c = group('tr', i % 3 === 0 ? 'c1' : '')
    all.push(...(await insertTexts(engine, c, [{ text: `hit ${i}`, sentTime: T0 + i * 10 }])))
  }
  await insertTexts(engine, group('tr'), [{ text: 'miss', sentTime: T0 + 5 }])
  const newest = [...all].reverse()
  let r = await ok(engine.searchMessageInTimeRange(base, { keyword: 'HIT', startTime: 0, endTime: T0 + 1000 }))
  assert.equal(r.count, 12)
  assert.deepEqual(ids(r.messages), ids(newest.slice(0, 5)), 'default limit 5, offset 0, newest first, all channels')
  r = await ok(engine.searchMessageInTimeRange(base, { keyword: 'hit', startTime: 0, endTime: T0 + 1000, offset: 5, limit: 4 }))
  assert.deepEqual(ids(r.messages), ids(newest.slice(5, 9)))
  assert.equal(r.count, 12)
  r = await ok(engine.searchMessageInTimeRange(base, { keyword: 'hit', startTime: T0 + 20, endTime: T0 + 50, limit: 100 }))
  assert.deepEqual(texts(r.messages), ['hit 5', 'hit 4', 'hit 3', 'hit 2'], 'both ends inclusive')
  r = await ok(engine.searchMessageInTimeRange(group('tr', 'c1'), { keyword: 'hit', startTime: 0, endTime: T0 + 1000, limit: 100 }))
  assert.equal(r.count, 12, 'searches all channels of the conversation')
  r = await ok(engine.searchMessageInTimeRange(base, { keyword: 'hit', startTime: 0, endTime: T0 + 1000, offset: 12 }))
  assert.deepEqual(r.messages, [])
  assert.equal(r.count, 12)
  await ok(engine.close())
})

test('searchMessagesByUser: by sender, sent strictly before startTime (0 = now), count', async (t) => {
  const { engine } = await openEngine(t)
  const c = group('byu')
  const mk = (sender, i) => ({ text: `${sender} ${i}`, senderUserId: sender, messageDirection: sender === ME ? 1 : 2, sentTime: T0 + i })
  const stored = await insertTexts(engine, c, [mk('ann', 1), mk('bob', 2), mk('ann', 3), mk(ME, 4), mk('ann', 5)])
  await insertTexts(engine, group('byu', 'c1'), [mk('ann', 6)])
  let r = await ok(engine.searchMessagesByUser(c, 'ann', 0, 10))
  assert.deepEqual(texts(r.messages), ['ann 6', 'ann 5', 'ann 3', 'ann 1'])
  assert.equal(r.count, 4)
  r = await ok(engine.searchMessagesByUser(group('byu', ''), 'ann', T0 + 5, 1))
  assert.deepEqual(ids(r.messages), [stored[2].messageId])
  assert.equal(r.count, 2)
  r = await ok(engine.searchMessagesByUser(c, ME, 0, 10))
  assert.deepEqual(texts(r.messages), [`${ME} 4`])
  r = await ok(engine.searchMessagesByUser(c, 'nobody', 0, 10))
  assert.deepEqual(r, { messages: [], count: 0 })
  await ok(engine.close())
})

test('searchConversationByContent: messageTypes and channelId (omitted = all channels)', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.registerMessageType('app:card', true, true, ['title'], false))
  await insertTexts(engine, priv('p1'), [{ text: 'find Me here', sentTime: T0 + 1 }])
  await insertTexts(engine, priv('p2'), [{ text: 'nothing', sentTime: T0 + 2 }])
  await insertTexts(engine, group('g1', 'c1'), [{ text: 'find me in a channel', sentTime: T0 + 3 }])
  await ok(engine.insertMessage(group('g2'), { messageType: 'RC:FileMsg', content: { name: 'find me.txt' }, sentTime: T0 + 4 }))
  await ok(engine.insertMessage(conv(SYSTEM, 'sys'), { messageType: 'app:card', content: { title: 'FIND ME card' }, sentTime: T0 + 5 }))
  const keys = (list) => list.map(convKey).sort()
  let r = await ok(engine.searchConversationByContent('find me', []))
  assert.deepEqual(keys(r), ['1|p1|', '3|g1|c1', '3|g2|', '6|sys|'])
  const sortTimes = r.map((c) => c.sortTime)
  assert.deepEqual(sortTimes, [...sortTimes].sort((a, b) => b - a), 'most recent first')
  assert.ok(r.every((c) => 'latestMessage' in c && 'unreadMessageCount' in c))
  r = await ok(engine.searchConversationByContent('find me', ['RC:TxtMsg']))
  assert.deepEqual(keys(r), ['1|p1|', '3|g1|c1'])
  r = await ok(engine.searchConversationByContent('FIND ME', ['RC:FileMsg', 'app:card']))
  assert.deepEqual(keys(r), ['3|g2|', '6|sys|'])
  r = await ok(engine.searchConversationByContent('find me', [], 'c1'))
  assert.deepEqual(keys(r), ['3|g1|c1'])
  r = await ok(engine.searchConversationByContent('find me', [], ''))
  assert.deepEqual(keys(r), ['1|p1|', '3|g2|', '6|sys|'])
  r = await ok(engine.searchConversationByContent('absent', []))
  assert.deepEqual(r, [])
  await ok(engine.close())
})

// ---- conversations -------------------------------------------------------------------

test('getAllConversationList / getConversationList / getConversations: channels, paging, limits', async (t) => {
  const { engine } = await openEngine(t)
  const convs = []
  for (let i = 0; i < 8; i++) {
    const c = i % 4 === 3 ? priv(`u${i}`, 'ch') : priv(`u${i}`)
    convs.push(c)
    await insertTexts(engine, c, [{ text: `x${i}`, sentTime: T0 + i * 100 }])
  }
  await ok(engine.insertMessage(conv(SYSTEM, 'sys'), { messageType: 'RC:InfoNtf', content: { message: 'sys' }, sentTime: T0 + 50 }))
  const all = await ok(engine.getAllConversationList())
  assert.deepEqual(
    all.map((c) => c.targetId),
    ['u7', 'u6', 'u5', 'u4', 'u3', 'u2', 'u1', 'sys', 'u0'],
    'all channels, system included, latest first',
  )
  assert.deepEqual((await ok(engine.getAllConversationList('ch'))).map((c) => c.targetId), ['u7', 'u3'])
  assert.deepEqual((await ok(engine.getAllConversationList(''))).map((c) => c.targetId), ['u6', 'u5', 'u4', 'u2', 'u1', 'sys', 'u0'])
  // getConversationList: startTime 0 = now, strictly older than startTime, count.
  let page = await ok(engine.getConversationList(0, 3))
  assert.deepEqual(page.map((c) => c.targetId), ['u7', 'u6', 'u5'])
  page = await ok(engine.getConversationList(page[2].sortTime, 3))
  assert.deepEqual(page.map((c) => c.targetId), ['u4', 'u3', 'u2'])
  page = await ok(engine.getConversationList(T0 + 150, 10))
  assert.deepEqual(page.map((c) => c.targetId), ['u1', 'sys', 'u0'])
  page = await ok(engine.getConversationList(0, 10, 'ch'))
  assert.deepEqual(page.map((c) => c.targetId), ['u7', 'u3'])
  page = await ok(engine.getConversationList(0, 10, undefined, true))
  assert.equal(page.length, 9)
  page = await ok(engine.getConversationList(0, 2, '', false))
  assert.deepEqual(page.map((c) => c.targetId), ['u6', 'u5'])
  // getConversations: the requested ones that exist.
  const got = await ok(engine.getConversations([convs[1], convs[3], priv('missing'), conv(SYSTEM, 'sys')]))
  assert.deepEqual(got.map(convKey).sort(), ['1|u1|', '1|u3|ch', '6|sys|'])
  const hundred = Array.from({ length: 100 }, (_, i) => priv(`u${i}`))
  assert.equal((await ok(engine.getConversations(hundred))).length, 6)
  await fails(engine.getConversations([...hundred, priv('x')]), 33003, 'conversations', '100')
  await fails(engine.getConversations([]), 33003, 'conversations')
  // Fields.
  const one = all[0]
  for (const f of ['conversationType', 'targetId', 'channelId', 'unreadMessageCount', 'latestMessage', 'hasMentioned', 'mentionedInfo', 'isTop', 'notificationLevel', 'draft', 'lastUnreadTime', 'operationTime']) {
    assert.ok(f in one, `conversation has ${f}`)
  }
  assert.equal(one.isTop, false)
  assert.equal(one.draft, '')
  assert.equal(one.latestMessage.content.content, 'x7')
  await ok(engine.close())
})

test('conversation fields: unread, hasMentioned, mentionedInfo, lastUnreadTime follow inserts, status changes and deletes', async (t) => {
  const { engine } = await openEngine(t)
  const g = group('mg')
  const atMe = { type: 2, userIdList: [ME, 'zed'], mentionedContent: '@me hi' }
  const atAll = { type: 1 }
  const atOther = { type: 2, userIdList: ['zed'] }
  const ins = async (text, sentTime, mentionedInfo) =>
    ok(
      engine.insertMessage(
        g,
        { messageType: 'RC:TxtMsg', content: mentionedInfo ? { content: text, mentionedInfo } : { content: text }, sentTime, senderUserId: 'ann', messageDirection: 2 },
        { isUnread: true },
      ),
    )
  const plain = await ins('plain', T0 + 10)
  const other = await ins('@zed', T0 + 20, atOther)
  let cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 2)
  assert.equal(cv.hasMentioned, false, 'a mention of someone else')
  assert.equal(cv.mentionedInfo, null)
  assert.equal(other.isMentioned, false)
  const mine = await ins('@me', T0 + 30, atMe)
  assert.equal(mine.isMentioned, true)
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 3)
  assert.equal(cv.hasMentioned, true)
  assert.deepEqual(cv.mentionedInfo, atMe)
  assert.equal(cv.lastUnreadTime, T0 + 30)
  assert.equal(cv.latestMessage.messageId, mine.messageId)
  const all = await ins('@all', T0 + 5, atAll)
  assert.equal(all.isMentioned, true)
  // A mention inserted as read history does not make the conversation mentioned.
  await ok(engine.insertMessage(group('hist'), { messageType: 'RC:TxtMsg', content: { content: 'x', mentionedInfo: atMe }, senderUserId: 'ann', messageDirection: 2 }))
  const hist = await getConv(engine, group('hist'))
  assert.equal(hist.unreadMessageCount, 0)
  assert.equal(hist.hasMentioned, false)

  // Reading the newest mention: still mentioned by @all; lastUnreadTime moves down.
  await ok(engine.setMessageReceivedStatusInfo(mine.messageId, { isRead: true }))
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 3)
  assert.equal(cv.hasMentioned, true)
  assert.deepEqual(cv.mentionedInfo, atAll)
  assert.equal(cv.lastUnreadTime, T0 + 20)
  // Several statuses at once; isRead false keeps it unread.
  await ok(engine.setMessageReceivedStatusInfo(other.messageId, { isListened: true, isDownload: true }))
  let m = (await allMessages(engine, g)).find((x) => x.messageId === other.messageId)
  assert.deepEqual(m.receivedStatusInfo, { isRead: false, isListened: true, isDownload: true, isRetrieved: false })
  assert.equal(m.receivedStatus, 2 | 4)
  assert.equal((await getConv(engine, g)).unreadMessageCount, 3)
  // setMessageReceivedStatus (deprecated single value): READ, then UNREAD again.
  await ok(engine.setMessageReceivedStatus(all.messageId, 1))
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 2)
  assert.equal(cv.hasMentioned, false)
  assert.equal(cv.mentionedInfo, null)
  await ok(engine.setMessageReceivedStatus(all.messageId, 0))
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 3)
  assert.equal(cv.hasMentioned, true)
  // Setting the same status twice moves nothing.
  await ok(engine.setMessageReceivedStatus(all.messageId, 0))
  assert.equal((await getConv(engine, g)).unreadMessageCount, 3)
  // Deleting an unread mention drops both counts.
  await ok(engine.deleteMessages([all.messageId]))
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 2)
  assert.equal(cv.hasMentioned, false)
  // Deleting the latest message moves latestMessage; unread messages keep lastUnreadTime.
  await ok(engine.deleteMessages([mine.messageId]))
  cv = await getConv(engine, g)
  assert.equal(cv.latestMessage.messageId, other.messageId)
  assert.equal(cv.lastUnreadTime, T0 + 20)
  await ok(engine.setMessageReceivedStatusInfo(other.messageId, { isRead: true }))
  await ok(engine.setMessageReceivedStatusInfo(plain.messageId, { isRead: true, isRetrieved: true }))
  cv = await getConv(engine, g)
  assert.equal(cv.unreadMessageCount, 0)
  assert.equal(cv.lastUnreadTime, 0)
  m = (await allMessages(engine, g)).find((x) => x.messageId === plain.messageId)
  assert.equal(m.receivedStatus, 1 | 8)
  // The same fields through every conversation call.
  const viaAll = findConv(await ok(engine.getAllConversationList()), g)
  const viaList = findConv(await ok(engine.getConversationList(0, 100)), g)
  const viaSearch = findConv(await ok(engine.searchConversationByContent('plain', [])), g)
  for (const x of [viaAll, viaList, viaSearch]) {
    assert.deepEqual({ ...x, operationTime: 0 }, { ...cv, operationTime: 0 })
  }
  await ok(engine.close())
})

// ---- status --------------------------------------------------------------------------

test('setMessageSentStatus: sets the status of a stored message; unknown ids are refused', async (t) => {
  const { engine } = await openEngine(t)
  const [m] = await insertTexts(engine, priv('ss'), ['x'])
  for (const s of [10, 20, 30, 40, 50, 60, 70]) {
    await ok(engine.setMessageSentStatus(m.messageId, s))
    assert.equal((await ok(engine.getHistoryMessages(priv('ss')))).list[0].sentStatus, s)
  }
  await fails(engine.setMessageSentStatus(m.messageId, 31), 33003, 'sentStatus')
  assert.equal((await ok(engine.getHistoryMessages(priv('ss')))).list[0].sentStatus, 70)
  const r = await settle(() => engine.setMessageSentStatus(m.messageId + 1000, 30))
  assert.notEqual(r.code, 0, 'a message that does not exist')
  assert.match(r.msg, /messageId/)
  await ok(engine.close())
})

test('setMessageStatusToRead: own SENT messages up to the timestamp become READ (50)', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('rr')
  const own = (text, sentTime, extra = {}) => ({ text, sentTime, messageDirection: 1, ...extra })
  const s = await insertTexts(engine, c, [
    own('o1', T0 + 10),
    { text: 'r1', sentTime: T0 + 15, messageDirection: 2 },
    own('failed', T0 + 20, { sentStatus: 20 }),
    own('o2', T0 + 30),
    own('o3', T0 + 50),
  ])
  await insertTexts(engine, priv('rr', 'ch'), [own('other channel', T0 + 10)])
  await ok(engine.setMessageStatusToRead(c, T0 + 40))
  const by = Object.fromEntries((await allMessages(engine, c)).map((m) => [m.content.content, m]))
  assert.equal(by.o1.sentStatus, 50)
  assert.equal(by.o2.sentStatus, 50)
  assert.equal(by.o3.sentStatus, 30, 'after the timestamp')
  assert.equal(by.failed.sentStatus, 20, 'a failed message was never read')
  assert.equal(by.r1.sentStatus, s[1].sentStatus, 'received messages unchanged')
  assert.equal((await ok(engine.getHistoryMessages(priv('rr', 'ch')))).list[0].sentStatus, 30, 'other channel unchanged')
  await ok(engine.setMessageStatusToRead(priv('nobody'), T0))
  await ok(engine.close())
})

test('setCheckDuplicateMessage: accepts a boolean, last call wins, refuses anything else', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.setCheckDuplicateMessage(false))
  await ok(engine.setCheckDuplicateMessage(true))
  await fails(engine.setCheckDuplicateMessage('false'), 33003, 'enableCheck')
  await fails(engine.setCheckDuplicateMessage(), 33003, 'enableCheck')
  // Before open too (the seed: call it after init, before connect).
  const dir2 = tmpDir('dup')
  const e2 = new Engine({ appkey: APPKEY, dbpath: dir2, logOutputLevel: 1 })
  t.after(() => fs.rmSync(dir2, { recursive: true, force: true }))
  await ok(e2.setCheckDuplicateMessage(false))
  await ok(e2.close())
  await ok(engine.close())
})

// ---- registerMessageType -------------------------------------------------------------

test('registerMessageType: searchProps make custom messages searchable; RC: names refused; flags honoured', async (t) => {
  const dir = tmpDir('reg')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => engine.close())
  // Before open.
  await ok(engine.registerMessageType('app:poll', true, true, ['question', 'options'], false))
  await ok(engine.open(ME))
  // After open.
  await ok(engine.registerMessageType('app:silent', true, false, ['body']))
  await ok(engine.registerMessageType('app:typing', false, false, [], true))
  await ok(engine.registerMessageType('app:nosave', false, true, ['body'], false))
  await fails(engine.registerMessageType('RC:TxtMsg', true, true, ['content'], false), 33003, 'RC:')
  await fails(engine.registerMessageType('RC:Mine', true, true, [], false), 33003, 'RC:')
  const c = group('reg')
  const poll = await ok(
    engine.insertMessage(c, { messageType: 'app:poll', content: { question: 'Lunch 去哪?', options: 'Noodles' }, senderUserId: 'x', messageDirection: 2 }, { isUnread: true }),
  )
  assert.equal(poll.messageType, 'app:poll')
  assert.equal(poll.isCounted, true)
  await ok(engine.insertMessage(c, { messageType: 'app:silent', content: { body: 'quiet lunch' }, senderUserId: 'x', messageDirection: 2 }, { isUnread: true }))
  assert.equal((await ok(engine.searchMessages(c, 'LUNCH', 0, 10))).count, 2)
  assert.equal((await ok(engine.searchMessages(c, '去哪', 0, 10))).count, 1)
  assert.equal((await ok(engine.searchMessages(c, 'noodles', 0, 10))).count, 1)
  assert.equal((await getConv(engine, c)).unreadMessageCount, 1, 'isCounted false never counts as unread')
  for (const messageType of ['app:typing', 'app:nosave']) {
    const r = await settle(() => engine.insertMessage(c, { messageType, content: { body: 'x' } }))
    assert.notEqual(r.code, 0, `${messageType} is not persisted`)
  }
  assert.equal(await ok(engine.getMessageCount(c)), 2)
  // Registrations survive a reopen of the database within the same engine.
  await ok(engine.close())
  await ok(engine.open(ME))
  await ok(engine.insertMessage(c, { messageType: 'app:poll', content: { question: 'again lunch' } }))
  assert.equal((await ok(engine.searchMessages(c, 'lunch', 0, 10))).count, 3)
  await ok(engine.close())
})

test('insertMessage options.searchContent replaces the text a message is found by', async (t) => {
  const { engine } = await openEngine(t)
  const c = priv('sc')
  await ok(engine.insertMessage(c, { messageType: 'RC:ImgMsg', content: { content: 'AAAA' } }, { searchContent: 'beach photo' }))
  await ok(engine.insertMessage(c, txt('visible text'), { searchContent: 'hidden alias' }))
  assert.equal((await ok(engine.searchMessages(c, 'BEACH', 0, 10))).count, 1)
  assert.equal((await ok(engine.searchMessages(c, 'alias', 0, 10))).count, 1)
  assert.equal((await ok(engine.searchMessages(c, 'visible', 0, 10))).count, 0)
  await ok(engine.close())
})
