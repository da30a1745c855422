'use strict'
// Bad input through the built addon: every call resolves { code, msg } (33003 with a msg
// naming the argument; 34201 for chatroom / ultra group), never throws or rejects, and
// changes nothing (the whole observable database is compared before and after).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync, spawnSync } = require('node:child_process')

const {
  Engine,
  APPKEY,
  ME,
  T0,
  SYSTEM,
  tmpDir,
  dbFileOf,
  openEngine,
  settle,
  ok,
  conv,
  priv,
  group,
  txt,
  snapshot,
  fold,
} = require('./helpers/engine')

const FAR = T0 * 2

/** A small database with a bit of everything the bad calls could damage. */
async function populate(engine) {
  await ok(engine.registerMessageType('app:card', true, true, ['title'], false))
  const p = await ok(engine.insertMessage(priv('p1'), txt('hello one', { sentTime: T0 + 1 })))
  await ok(engine.insertMessage(priv('p1'), txt('hello two', { sentTime: T0 + 2, messageDirection: 2 }), { isUnread: true }))
  await ok(engine.insertMessage(priv('p1', 'ch'), txt('hello channel', { sentTime: T0 + 3 })))
  await ok(
    engine.insertMessage(
      group('g1'),
      { messageType: 'RC:TxtMsg', content: { content: '@me 你好', mentionedInfo: { type: 1 } }, senderUserId: 'ann', messageDirection: 2, sentTime: T0 + 4 },
      { isUnread: true },
    ),
  )
  const g = await ok(engine.insertMessage(group('g1'), { messageType: 'app:card', content: { title: 'card 你好' }, sentTime: T0 + 5 }))
  await ok(engine.insertMessage(conv(SYSTEM, 'sys'), { messageType: 'RC:InfoNtf', content: { message: 'n' }, sentTime: T0 + 6 }))
  return { p, g }
}

async function setup(t) {
  const ctx = await openEngine(t)
  const ids = await populate(ctx.engine)
  const before = await snapshot(ctx.engine)
  assert.equal(before.conversations.length, 4)
  return { ...ctx, ids, before }
}

/**
 * Runs one bad call: it must resolve `code` with a msg matching `pattern`, and leave the
 * database exactly as it was.
 */
async function bad(ctx, label, fn, code, pattern) {
  const r = await settle(fn)
  assert.equal(r.code, code, `${label}: expected ${code}, got ${JSON.stringify(r)}`)
  assert.equal(typeof r.msg, 'string', `${label}: msg`)
  if (pattern) assert.match(r.msg, pattern, `${label}: msg ${JSON.stringify(r.msg)} should name ${pattern}`)
  assert.equal(r.data, undefined, `${label}: no data on failure`)
  assert.deepEqual(await snapshot(ctx.engine), ctx.before, `${label}: the database changed`)
}

/** Conversation arguments that are wrong, with the name the msg must carry. */
const BAD_CONVERSATIONS = [
  [undefined, /conversation/],
  [null, /conversation/],
  ['p1', /conversation/],
  [[], /conversation/],
  [42, /conversation/],
  [{ targetId: 'p1' }, /conversationType/],
  [{ conversationType: '1', targetId: 'p1' }, /conversationType/],
  [{ conversationType: 1.5, targetId: 'p1' }, /conversationType/],
  [{ conversationType: 99, targetId: 'p1' }, /conversationType/],
  [{ conversationType: 0, targetId: 'p1' }, /conversationType/],
  [{ conversationType: 1 }, /targetId/],
  [{ conversationType: 1, targetId: '' }, /targetId/],
  [{ conversationType: 1, targetId: 5 }, /targetId/],
  [{ conversationType: 1, targetId: 'p1', channelId: 5 }, /channelId/],
]

/** Every call that takes a conversation first, with valid remaining arguments. */
const CONVERSATION_CALLS = {
  getHistoryMessages: (e, c) => e.getHistoryMessages(c, { count: 20 }),
  getHistoryMessagesByMessageTypes: (e, c) => e.getHistoryMessagesByMessageTypes(c, { messageTypes: ['RC:TxtMsg'] }),
  getMessagesAroundTimestamp: (e, c) => e.getMessagesAroundTimestamp(c, { timestamp: 0, beforeCount: 1, afterCount: 1 }),
  getMessageCount: (e, c) => e.getMessageCount(c),
  insertMessage: (e, c) => e.insertMessage(c, txt('should not be stored')),
  clearMessages: (e, c) => e.clearMessages(c),
  deleteMessagesByTimestamp: (e, c) => e.deleteMessagesByTimestamp(c, FAR, false),
  searchMessages: (e, c) => e.searchMessages(c, 'hello', 0, 10),
  searchMessageInTimeRange: (e, c) => e.searchMessageInTimeRange(c, { keyword: 'hello', startTime: 0, endTime: FAR }),
  searchMessagesByUser: (e, c) => e.searchMessagesByUser(c, ME, 0, 10),
  setMessageStatusToRead: (e, c) => e.setMessageStatusToRead(c, FAR),
}

for (const [name, call] of Object.entries(CONVERSATION_CALLS)) {
  test(`${name}: wrong conversation arguments are 33003 naming the field; chatroom and ultra group are 34201`, async (t) => {
    const ctx = await setup(t)
    for (const [c, re] of BAD_CONVERSATIONS) {
      await bad(ctx, `${name}(${JSON.stringify(c)})`, () => call(ctx.engine, c), 33003, re)
    }
    for (const type of [4, 10]) {
      // Even for a target that exists under another type.
      await bad(ctx, `${name} type ${type}`, () => call(ctx.engine, { conversationType: type, targetId: 'p1' }), 34201, /conversationType|4|10/)
      await bad(ctx, `${name} type ${type} + channel`, () => call(ctx.engine, { conversationType: type, targetId: 'room', channelId: '' }), 34201)
    }
    await ok(ctx.engine.close())
  })
}

test('getHistoryMessages / ByMessageTypes / getMessagesAroundTimestamp: options out of range or of the wrong type', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const c = priv('p1')
  const historyCases = [
    ['x', /options/],
    [[1], /options/],
    [{ count: 0 }, /count/],
    [{ count: 101 }, /count/],
    [{ count: -1 }, /count/],
    [{ count: 1.5 }, /count/],
    [{ count: '20' }, /count/],
    [{ count: true }, /count/],
    [{ order: 2 }, /order/],
    [{ order: -1 }, /order/],
    [{ order: '0' }, /order/],
    [{ timestamp: -1 }, /timestamp/],
    [{ timestamp: 'now' }, /timestamp/],
    [{ timestamp: 1.5 }, /timestamp/],
  ]
  for (const [opts, re] of historyCases) {
    await bad(ctx, `getHistoryMessages ${JSON.stringify(opts)}`, () => e.getHistoryMessages(c, opts), 33003, re)
    if (typeof opts === 'object' && !Array.isArray(opts)) {
      const o = { messageTypes: ['RC:TxtMsg'], ...opts }
      await bad(ctx, `ByMessageTypes ${JSON.stringify(o)}`, () => e.getHistoryMessagesByMessageTypes(c, o), 33003, re)
    }
  }
  for (const [opts, re] of [
    [undefined, /options/],
    ['x', /options/],
    [{}, /messageTypes/],
    [{ messageTypes: [] }, /messageTypes/],
    [{ messageTypes: 'RC:TxtMsg' }, /messageTypes/],
    [{ messageTypes: [1] }, /messageTypes/],
    [{ messageTypes: [''] }, /messageTypes/],
  ]) {
    await bad(ctx, `ByMessageTypes ${JSON.stringify(opts)}`, () => e.getHistoryMessagesByMessageTypes(c, opts), 33003, re)
  }
  for (const [opts, re] of [
    [undefined, /options/],
    ['x', /options/],
    [{ timestamp: 0, beforeCount: -1, afterCount: 1 }, /beforeCount/],
    [{ timestamp: 0, beforeCount: 101, afterCount: 1 }, /beforeCount/],
    [{ timestamp: 0, beforeCount: 1, afterCount: 101 }, /afterCount/],
    [{ timestamp: 0, beforeCount: 1, afterCount: 'x' }, /afterCount/],
    [{ timestamp: -5, beforeCount: 1, afterCount: 1 }, /timestamp/],
    [{ timestamp: 'x', beforeCount: 1, afterCount: 1 }, /timestamp/],
  ]) {
    await bad(ctx, `around ${JSON.stringify(opts)}`, () => e.getMessagesAroundTimestamp(c, opts), 33003, re)
  }
  await ok(e.close())
})

test('insertMessage: malformed messages and options are 33003 naming the field, nothing stored', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const c = priv('p1')
  const cases = [
    [undefined, undefined, /message/],
    ['text', undefined, /message/],
    [{}, undefined, /messageType/],
    [{ messageType: 5, content: {} }, undefined, /messageType/],
    [{ messageType: '', content: {} }, undefined, /messageType/],
    [{ messageType: 'RC:TxtMsg' }, undefined, /content/],
    [{ messageType: 'RC:TxtMsg', content: 'hello' }, undefined, /content/],
    [{ messageType: 'RC:TxtMsg', content: ['hello'] }, undefined, /content/],
    [txt('x', { messageDirection: 3 }), undefined, /messageDirection/],
    [txt('x', { messageDirection: '1' }), undefined, /messageDirection/],
    [txt('x', { sentTime: -5 }), undefined, /sentTime/],
    [txt('x', { sentTime: 'now' }), undefined, /sentTime/],
    [txt('x', { senderUserId: 5 }), undefined, /senderUserId/],
    [txt('x', { senderUserId: '' }), undefined, /senderUserId/],
    [txt('x', { messageUId: 5 }), undefined, /messageUId/],
    [txt('x', { sentStatus: 31 }), undefined, /sentStatus/],
    [txt('x', { receivedStatus: 99 }), undefined, /receivedStatus/],
    [txt('x', { receivedStatusInfo: 'read' }), undefined, /receivedStatusInfo/],
    [txt('x', { receivedStatusInfo: { isRead: 'yes' } }), undefined, /isRead/],
    [txt('x', { expansion: { k: 'v' } }), undefined, /expansion/],
    [txt('x', { canIncludeExpansion: true, expansion: 'kv' }), undefined, /expansion/],
    [txt('x', { isMentioned: 'yes' }), undefined, /isMentioned/],
    [txt('x', { directedUserIds: 'ann' }), undefined, /directedUserIds/],
    [txt('x'), 'unread', /options/],
    [txt('x'), { isUnread: 'yes' }, /isUnread/],
    [txt('x'), { searchContent: 5 }, /searchContent/],
    [{ messageType: 'RC:TxtMsg', content: { content: 'x'.repeat(130 * 1024) } }, undefined, /content/],
  ]
  for (const [m, o, re] of cases) {
    await bad(ctx, `insertMessage ${JSON.stringify(m)?.slice(0, 80)} ${JSON.stringify(o)}`, () => e.insertMessage(c, m, o), 33003, re)
  }
  // Types that are not stored: an unknown name, a status message, a command.
  for (const messageType of ['app:unregistered', 'RC:TypSts', 'RC:CmdMsg']) {
    const r = await settle(() => e.insertMessage(c, { messageType, content: { a: 1 } }))
    assert.notEqual(r.code, 0, messageType)
    assert.match(r.msg, /messageType/)
    assert.deepEqual(await snapshot(e), ctx.before)
  }
  await ok(e.close())
})

test('batchInsertMessage: not an array, empty, 501 messages, a bad element, a bad checkDuplicate', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const el = (i, extra = {}) => ({ ...priv('p1'), ...txt(`b${i}`), sentTime: T0 + 100 + i, messageId: `bi${i}`, ...extra })
  const many = (n) => Array.from({ length: n }, (_, i) => el(i))
  await bad(ctx, 'undefined', () => e.batchInsertMessage(undefined, false), 33003, /messages/)
  await bad(ctx, 'object', () => e.batchInsertMessage({ 0: el(0) }, false), 33003, /messages/)
  await bad(ctx, 'string', () => e.batchInsertMessage('x', false), 33003, /messages/)
  await bad(ctx, 'empty', () => e.batchInsertMessage([], false), 33003, /messages/)
  await bad(ctx, '501', () => e.batchInsertMessage(many(501), false), 33003, /messages.*500|500.*messages/)
  await bad(ctx, '501 with checkDuplicate', () => e.batchInsertMessage(many(501), true), 33003, /500/)
  await bad(ctx, 'checkDuplicate string', () => e.batchInsertMessage(many(3), 'yes'), 33003, /checkDuplicate/)
  const elementCases = [
    [0, 'x', 33003],
    [1, null, 33003],
    [2, { ...el(2), conversationType: undefined }, 33003],
    [3, { ...el(3), targetId: undefined }, 33003],
    [4, { ...el(4), content: 'x' }, 33003],
    [5, { ...el(5), messageType: 7 }, 33003],
    [6, { ...el(6), channelId: 9 }, 33003],
    [7, { ...el(7), sentTime: 'yesterday' }, 33003],
    [8, { ...el(8), conversationType: 4 }, 34201],
    [9, { ...el(9), conversationType: 10 }, 34201],
    [499, { ...el(499), messageDirection: 0 }, 33003],
  ]
  for (const [i, bogus, code] of elementCases) {
    const batch = many(i === 499 ? 500 : 20)
    batch[i] = bogus
    await bad(ctx, `element ${i}`, () => e.batchInsertMessage(batch, false), code, new RegExp(`messages\\[${i}\\]`))
  }
  await ok(e.close())
})

test('deleteMessages: wrong ids and ids of two conversations are 33003 and delete nothing', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const { p, g } = ctx.ids
  for (const [ids, re] of [
    [undefined, /messageIds/],
    [p.messageId, /messageIds/],
    ['1', /messageIds/],
    [[], /messageIds/],
    [['a'], /messageIds\[0\]/],
    [[1.5], /messageIds\[0\]/],
    [[-1], /messageIds\[0\]/],
    [[0], /messageIds\[0\]/],
    [[p.messageId, 'x'], /messageIds\[1\]/],
    [[p.messageId, g.messageId], /messageIds/],
    [[g.messageId, p.messageId, p.messageId + 1], /messageIds/],
  ]) {
    await bad(ctx, `deleteMessages ${JSON.stringify(ids)}`, () => e.deleteMessages(ids), 33003, re)
  }
  await ok(e.close())
})

test('deleteMessagesByTimestamp / setMessageStatusToRead: wrong timestamp or cleanSpace', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  for (const [ts, clean, re] of [
    [undefined, false, /timestamp/],
    ['x', false, /timestamp/],
    [-1, false, /timestamp/],
    [1.5, false, /timestamp/],
    [FAR, 'yes', /cleanSpace/],
    [FAR, 1, /cleanSpace/],
  ]) {
    await bad(ctx, `deleteMessagesByTimestamp ${ts} ${clean}`, () => e.deleteMessagesByTimestamp(priv('p1'), ts, clean), 33003, re)
  }
  for (const ts of [undefined, 'x', -1]) {
    await bad(ctx, `setMessageStatusToRead ${ts}`, () => e.setMessageStatusToRead(priv('p1'), ts), 33003, /timestamp/)
  }
  await ok(e.close())
})

test('search calls: wrong keyword, startTime, count, messageTypes, option fields', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const c = priv('p1')
  for (const [args, re] of [
    [[undefined, 0, 10], /keyword/],
    [['', 0, 10], /keyword/],
    [[5, 0, 10], /keyword/],
    [[['hello'], 0, 10], /keyword/],
    [['x'.repeat(300), 0, 10], /keyword/],
    [['hello', -1, 10], /startTime/],
    [['hello', 'x', 10], /startTime/],
    [['hello', 0, 0], /count/],
    [['hello', 0, 101], /count/],
    [['hello', 0, undefined], /count/],
    [['hello', 0, '10'], /count/],
    [['hello', 0, 10, 'RC:TxtMsg'], /messageTypes/],
    [['hello', 0, 10, [5]], /messageTypes/],
  ]) {
    await bad(ctx, `searchMessages ${JSON.stringify(args)}`, () => e.searchMessages(c, ...args), 33003, re)
  }
  for (const [opt, re] of [
    [undefined, /option/],
    ['hello', /option/],
    [{ startTime: 0, endTime: FAR }, /keyword/],
    [{ keyword: '', startTime: 0, endTime: FAR }, /keyword/],
    [{ keyword: 5, startTime: 0, endTime: FAR }, /keyword/],
    [{ keyword: 'hello', startTime: -1, endTime: FAR }, /startTime/],
    [{ keyword: 'hello', startTime: 0, endTime: 'x' }, /endTime/],
    [{ keyword: 'hello', startTime: T0 + 10, endTime: T0 }, /endTime|startTime/],
    [{ keyword: 'hello', startTime: 0, endTime: FAR, offset: -1 }, /offset/],
    [{ keyword: 'hello', startTime: 0, endTime: FAR, offset: 'x' }, /offset/],
    [{ keyword: 'hello', startTime: 0, endTime: FAR, limit: 0 }, /limit/],
    [{ keyword: 'hello', startTime: 0, endTime: FAR, limit: 101 }, /limit/],
  ]) {
    await bad(ctx, `searchMessageInTimeRange ${JSON.stringify(opt)}`, () => e.searchMessageInTimeRange(c, opt), 33003, re)
  }
  for (const [args, re] of [
    [[undefined, 0, 10], /userId/],
    [['', 0, 10], /userId/],
    [[5, 0, 10], /userId/],
    [[ME, -1, 10], /startTime/],
    [[ME, 0, 0], /count/],
    [[ME, 0, 101], /count/],
    [[ME, 0, undefined], /count/],
  ]) {
    await bad(ctx, `searchMessagesByUser ${JSON.stringify(args)}`, () => e.searchMessagesByUser(group('g1'), ...args), 33003, re)
  }
  // The seed: searchMessagesByUser is for private and group conversations.
  await bad(ctx, 'searchMessagesByUser system', () => e.searchMessagesByUser(conv(SYSTEM, 'sys'), ME, 0, 10), 34201)
  for (const [args, re] of [
    [[undefined, ['RC:TxtMsg']], /keyword/],
    [['', ['RC:TxtMsg']], /keyword/],
    [[5, ['RC:TxtMsg']], /keyword/],
    [['hello', undefined], /messageTypes/],
    [['hello', 'RC:TxtMsg'], /messageTypes/],
    [['hello', [5]], /messageTypes/],
    [['hello', ['RC:TxtMsg'], 5], /channelId/],
    [['hello', ['RC:TxtMsg'], {}], /channelId/],
  ]) {
    await bad(ctx, `searchConversationByContent ${JSON.stringify(args)}`, () => e.searchConversationByContent(...args), 33003, re)
  }
  await ok(e.close())
})

test('conversation list calls: wrong channelId, startTime, count, topPriority, conversations', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  await bad(ctx, 'getAllConversationList 5', () => e.getAllConversationList(5), 33003, /channelId/)
  await bad(ctx, 'getAllConversationList []', () => e.getAllConversationList([]), 33003, /channelId/)
  for (const [args, re] of [
    [[undefined, 10], /startTime/],
    [['x', 10], /startTime/],
    [[-1, 10], /startTime/],
    [[0, 0], /count/],
    [[0, undefined], /count/],
    [[0, 'ten'], /count/],
    [[0, -3], /count/],
    [[0, 10, 5], /channelId/],
    [[0, 10, '', 'yes'], /topPriority/],
  ]) {
    await bad(ctx, `getConversationList ${JSON.stringify(args)}`, () => e.getConversationList(...args), 33003, re)
  }
  const hundredOne = Array.from({ length: 101 }, (_, i) => priv(`u${i}`))
  for (const [list, code, re] of [
    [undefined, 33003, /conversations/],
    ['x', 33003, /conversations/],
    [priv('p1'), 33003, /conversations/],
    [[], 33003, /conversations/],
    [hundredOne, 33003, /conversations/],
    [[priv('p1'), 5], 33003, /conversations\[1\]/],
    [[{ conversationType: 1 }], 33003, /conversations\[0\]\.targetId/],
    [[priv('p1'), { conversationType: 4, targetId: 'room' }], 34201, /conversations\[1\]/],
    [[{ conversationType: 10, targetId: 'ug' }], 34201, /conversations\[0\]/],
  ]) {
    await bad(ctx, `getConversations ${JSON.stringify(list)?.slice(0, 60)}`, () => e.getConversations(list), code, re)
  }
  await ok(e.close())
})

test('status calls: wrong message ids and statuses are 33003 and change nothing', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const id = ctx.ids.p.messageId
  for (const mid of [undefined, 'x', 0, -1, 1.5, [id]]) {
    await bad(ctx, `setMessageReceivedStatusInfo ${mid}`, () => e.setMessageReceivedStatusInfo(mid, { isRead: true }), 33003, /messageId/)
    await bad(ctx, `setMessageReceivedStatus ${mid}`, () => e.setMessageReceivedStatus(mid, 1), 33003, /messageId/)
    await bad(ctx, `setMessageSentStatus ${mid}`, () => e.setMessageSentStatus(mid, 30), 33003, /messageId/)
  }
  for (const [info, re] of [
    ['read', /receivedStatusInfo/],
    [[true], /receivedStatusInfo/],
    [{ isRead: 'yes' }, /isRead/],
    [{ isListened: 1 }, /isListened/],
  ]) {
    await bad(ctx, `setMessageReceivedStatusInfo ${JSON.stringify(info)}`, () => e.setMessageReceivedStatusInfo(id, info), 33003, re)
  }
  for (const s of [undefined, 'x', -1, 99, 1.5]) {
    await bad(ctx, `setMessageReceivedStatus ${s}`, () => e.setMessageReceivedStatus(id, s), 33003, /receivedStatus/)
  }
  for (const s of [undefined, 'x', 31, 0, 100]) {
    await bad(ctx, `setMessageSentStatus ${s}`, () => e.setMessageSentStatus(id, s), 33003, /sentStatus/)
  }
  for (const v of [undefined, 'true', 1]) {
    await bad(ctx, `setCheckDuplicateMessage ${v}`, () => e.setCheckDuplicateMessage(v), 33003, /enableCheck/)
  }
  await ok(e.close())
})

test('registerMessageType: wrong arguments are 33003 (searchProps: the seed\'s 35022) and register nothing', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  for (const [args, re, code = 33003] of [
    [[undefined, true, true, []], /messageType/],
    [[5, true, true, []], /messageType/],
    [['', true, true, []], /messageType/],
    [['RC:Custom', true, true, []], /RC:/],
    [['RC:TxtMsg', true, true, ['content']], /RC:/],
    [['app:bad1', 'yes', true, []], /isPersisted/],
    [['app:bad2', true, undefined, []], /isCounted/],
    [['app:bad3', true, true, 'title'], /searchProps/, 35022],
    [['app:bad4', true, true, [1]], /searchProps/, 35022],
    [['app:bad5', true, true, [], 'no'], /isStatusMessage/],
  ]) {
    await bad(ctx, `registerMessageType ${JSON.stringify(args)}`, () => e.registerMessageType(...args), code, re)
    if (typeof args[0] === 'string' && args[0].startsWith('app:')) {
      const r = await settle(() => e.insertMessage(priv('p1'), { messageType: args[0], content: { title: 'x' } }))
      assert.notEqual(r.code, 0, `${args[0]} was not registered`)
    }
  }
  // RC:TxtMsg keeps its built-in behaviour.
  assert.equal((await ok(e.searchMessages(priv('p1'), 'hello', 0, 10))).count, 3)
  await ok(e.close())
})

test('values JSON cannot hold (function, Symbol) are 33003 naming the argument', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  await bad(ctx, 'function conversation', () => e.getMessageCount(() => 1), 33003, /conversation/)
  await bad(ctx, 'symbol option', () => e.getHistoryMessages(priv('p1'), { count: Symbol('n') }), 33003, /options/)
  await bad(ctx, 'function content', () => e.insertMessage(priv('p1'), { messageType: 'RC:TxtMsg', content: { content: 'x', f() {} } }), 33003, /message/)
  await bad(ctx, 'symbol keyword', () => e.searchMessages(priv('p1'), Symbol('k'), 0, 10), 33003, /keyword/)
  await ok(e.close())
})

test('non-finite numbers (NaN, Infinity) are 33003, not silently a default', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  const c = priv('p1')
  await bad(ctx, 'count NaN', () => e.getHistoryMessages(c, { count: NaN }), 33003, /count/)
  await bad(ctx, 'count Infinity', () => e.getHistoryMessages(c, { count: Infinity }), 33003, /count/)
  await bad(ctx, 'timestamp NaN', () => e.getHistoryMessages(c, { timestamp: NaN }), 33003, /timestamp/)
  await bad(ctx, 'startTime NaN', () => e.searchMessages(c, 'hello', NaN, 10), 33003, /startTime/)
  await bad(ctx, 'sentTime NaN', () => e.insertMessage(c, txt('nan', { sentTime: NaN })), 33003, /sentTime/)
  await bad(ctx, 'deleteMessagesByTimestamp Infinity', () => e.deleteMessagesByTimestamp(c, Infinity, false), 33003, /timestamp/)
  await ok(e.close())
})

test('BigInt arguments are 33003 naming the argument', async (t) => {
  const ctx = await setup(t)
  const e = ctx.engine
  await bad(ctx, 'count 10n', () => e.searchMessages(priv('p1'), 'hello', 0, 10n), 33003, /count/)
  await bad(ctx, 'options.count 10n', () => e.getHistoryMessages(priv('p1'), { count: 10n }), 33003, /count/)
  await ok(e.close())
})

/** Runs fixtures/exotic-arg.js with a case; returns its result line (or the crash). */
function runExotic(which) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'exotic-arg.js'), which], {
    encoding: 'utf8',
    timeout: 30000,
  })
  return r
}

for (const which of ['cyclic-conversation', 'cyclic-content', 'deep-content']) {
  test(`a ${which} argument resolves 33003 and does not crash the process`, () => {
    const r = runExotic(which)
    assert.equal(r.signal, null, `the process died with ${r.signal}`)
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`)
    const out = JSON.parse(r.stdout.trim().split('\n').pop())
    assert.equal(out.outcome, 'resolved', JSON.stringify(out))
    assert.equal(out.result.code, 33003, JSON.stringify(out.result))
    assert.equal(out.count.data, 0, 'nothing stored')
  })
}

test('content nested deeper than the reader accepts is refused, not stored as null', async (t) => {
  const { engine } = await openEngine(t)
  const content = { content: 'deep' }
  let cur = content
  for (let i = 0; i < 200; i++) cur = cur.a = {}
  const r = await settle(() => engine.insertMessage(priv('deep'), { messageType: 'RC:TxtMsg', content }))
  if (r.code === 0) {
    assert.deepEqual(r.data.content, content, 'returned content')
    const stored = (await ok(engine.getHistoryMessages(priv('deep')))).list[0]
    assert.deepEqual(stored.content, content, 'stored content round-trips')
  } else {
    assert.equal(r.code, 33003)
    assert.match(r.msg, /content/)
    assert.equal(await ok(engine.getMessageCount(priv('deep'))), 0)
  }
  await ok(engine.close())
})

// ---- FTS syntax in keywords ------------------------------------------------------------

test('keywords full of FTS syntax are searched as plain text', async (t) => {
  const { engine } = await openEngine(t)
  const docs = [
    'say "hi" to me',
    'a*b wildcard',
    'NEAR(x y) is a function',
    'cats AND dogs',
    'well-known fact',
    'this OR that',
    '^start of line',
    'key:value pair',
    'NOT this (group) {col} + plus',
    'he said ""quoted"" twice',
    'plain words only',
    'near and or not lowercase',
  ]
  const stored = []
  for (let i = 0; i < docs.length; i++) {
    stored.push(await ok(engine.insertMessage(group('fts'), txt(docs[i], { sentTime: T0 + i }))))
  }
  const keywords = [
    '"', '""', '"hi"', '"hi', 'hi"', '*', 'a*', '*b', 'a*b', 'NEAR(', 'NEAR(x', 'NEAR(x y)', 'near(', 'AND', 'and',
    'cats AND', 'AND dogs', '-', 'well-', '-known', 'OR', 'or', 'this OR that', '^', '^start', ':', 'key:', ':value',
    'key:value', '(', ')', '(group)', '{col}', '{', '+', 'NOT', 'not this', '" OR "', 'x AND y', '"*"', 'NEAR(a b)',
    '*:*', '^*', 'a OR b', '- -', '\\', "'", 'said ""', '""quoted""',
  ]
  for (const kw of keywords) {
    const want = stored
      .filter((m) => fold(m.content.content).includes(fold(kw)))
      .sort((a, b) => b.sentTime - a.sentTime || b.messageId - a.messageId)
      .map((m) => m.messageId)
    const r = await settle(() => engine.searchMessages(group('fts'), kw, 0, 100))
    assert.equal(r.code, 0, `keyword ${JSON.stringify(kw)}: ${JSON.stringify(r)}`)
    assert.deepEqual(r.data.messages.map((m) => m.messageId), want, `keyword ${JSON.stringify(kw)}`)
    assert.equal(r.data.count, want.length, `keyword ${JSON.stringify(kw)} count`)
    const tr = await ok(engine.searchMessageInTimeRange(group('fts'), { keyword: kw, startTime: 0, endTime: FAR, limit: 100 }))
    assert.deepEqual(tr.messages.map((m) => m.messageId), want, `range ${JSON.stringify(kw)}`)
    const cv = await ok(engine.searchConversationByContent(kw, []))
    assert.equal(cv.length, want.length ? 1 : 0, `conversations ${JSON.stringify(kw)}`)
  }
  await ok(engine.close())
})

// ---- unusable database locations -------------------------------------------------------

test('open with a dbpath under a regular file: an error naming the path, nothing created, engine stays closed', async (t) => {
  const dir = tmpDir('unwritable')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'plain-file')
  fs.writeFileSync(file, 'not a directory')
  for (const dbpath of [path.join(file, 'sub'), file]) {
    let engine
    try {
      engine = new Engine({ appkey: APPKEY, dbpath, logOutputLevel: 1 })
    } catch (e) {
      // Refusing it in the constructor is fine too, as long as it names the path.
      assert.match(String(e.message), /dbpath/)
      continue
    }
    t.after(() => engine.close())
    const r = await settle(() => engine.open(ME))
    assert.notEqual(r.code, 0, JSON.stringify(r))
    assert.match(r.msg, /dbpath|not writable|directory/i, r.msg)
    assert.ok(r.msg.includes(dbpath) || r.msg.includes(file), `msg names the path: ${r.msg}`)
    assert.equal(engine.userId, null)
    assert.equal((await settle(() => engine.getAllConversationList())).code, 33001)
    assert.equal((await settle(() => engine.insertMessage(priv('x'), txt('x')))).code, 33001)
    await ok(engine.close())
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a directory', 'the file is untouched')
  assert.deepEqual(fs.readdirSync(dir), ['plain-file'])
})

function hasSqliteCli() {
  return spawnSync('sqlite3', ['-version'], { encoding: 'utf8' }).status === 0
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

test('a database from a newer version is refused with a clear msg and left untouched', { skip: !hasSqliteCli() && 'the sqlite3 CLI is not installed (node:sqlite is not in Node 20); the Rust tests cover it' }, async (t) => {
  const dir = tmpDir('newer')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = dbFileOf(dir, APPKEY, ME)
  {
    const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
    await ok(engine.open(ME))
    await ok(engine.insertMessage(priv('p1'), txt('from the old days', { sentTime: T0 })))
    await ok(engine.close())
  }
  execFileSync('sqlite3', [file, 'PRAGMA user_version = 999;'])
  assert.equal(execFileSync('sqlite3', [file, 'PRAGMA user_version;'], { encoding: 'utf8' }).trim(), '999')
  const listing = (d) => fs.readdirSync(d).sort()
  const before = { hash: sha256(file), files: listing(path.dirname(file)) }
  const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => engine.close())
  const r = await settle(() => engine.open(ME))
  assert.notEqual(r.code, 0, JSON.stringify(r))
  assert.ok([33002, 33003, 35005].includes(r.code), `an ErrorCode value: ${r.code}`)
  assert.match(r.msg, /newer|version/i)
  assert.match(r.msg, /999/)
  assert.equal(engine.userId, null)
  assert.equal((await settle(() => engine.getHistoryMessages(priv('p1')))).code, 33001)
  await ok(engine.close())
  assert.equal(sha256(file), before.hash, 'the database file is byte for byte untouched')
  assert.deepEqual(listing(path.dirname(file)), before.files, 'no -wal/-shm or other file left behind')
  assert.equal(execFileSync('sqlite3', [file, 'PRAGMA user_version;'], { encoding: 'utf8' }).trim(), '999')
  assert.match(execFileSync('sqlite3', [file, 'SELECT content FROM messages;'], { encoding: 'utf8' }), /from the old days/)
})

test('a file that is not a database is refused with an error code and left untouched', async (t) => {
  const dir = tmpDir('garbage')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = dbFileOf(dir, APPKEY, ME)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const junk = Buffer.concat([Buffer.from('this is not sqlite\n'), crypto.randomBytes(8192)])
  fs.writeFileSync(file, junk)
  const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => engine.close())
  const r = await settle(() => engine.open(ME))
  assert.notEqual(r.code, 0, JSON.stringify(r))
  assert.equal(typeof r.msg, 'string')
  assert.match(r.msg, /database/i)
  assert.equal(engine.userId, null)
  assert.ok(fs.readFileSync(file).equals(junk), 'the file is untouched')
  await ok(engine.close())
})

test('new Engine with invalid options throws naming the option (the constructor has no envelope)', () => {
  assert.throws(() => new Engine(), /options/)
  assert.throws(() => new Engine({}), /appkey/)
  assert.throws(() => new Engine({ appkey: '' }), /appkey/)
  assert.throws(() => new Engine({ appkey: 5 }), /appkey/)
  assert.throws(() => new Engine({ appkey: 'k', dbpath: 5 }), /dbpath/)
  assert.throws(() => new Engine({ appkey: 'k', logOutputLevel: 9 }), /logOutputLevel/)
  assert.throws(() => new Engine({ appkey: 'k', serverUrl: 'ftp://x' }), /serverUrl/)
  assert.throws(() => new Engine({ appkey: 'k', serverUrl: [] }), /serverUrl.*empty array/)
  assert.throws(() => new Engine({ appkey: 'k', serverUrl: ['http://a:1', 'ws://b'] }), /serverUrl\[1\]/)
  assert.throws(() => new Engine({ appkey: 'k', serverUrl: ['http://a:1', null] }), /serverUrl\[1\]/)
})

test('open with a wrong userId is 33003 naming userId', async (t) => {
  const dir = tmpDir('uid')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
  t.after(() => engine.close())
  for (const u of [undefined, '', 5, {}]) {
    const r = await settle(() => engine.open(u))
    assert.equal(r.code, 33003, JSON.stringify(r))
    assert.match(r.msg, /userId/)
  }
  assert.equal(engine.userId, null)
  assert.ok(!fs.existsSync(path.join(dir, 'imsync', APPKEY)) || fs.readdirSync(path.join(dir, 'imsync', APPKEY)).length === 0)
  await ok(engine.close())
})

