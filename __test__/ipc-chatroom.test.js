'use strict'
// Chatrooms (issue 15; seed 002 chatroom pages), end to end: imsync-server on loopback;
// alice's engine in the main process (js/main.js), her calls made by the renderer object in
// two window processes of the test `electron` stand-in, her connection running through a TCP
// relay the test can cut; bob and carol are native Engines with their own databases.
// - join (joinChatRoom creates, joinExistChatRoom needs the room: 23410), send, receive in
//   both windows, carol (not in the room) receives nothing, nothing is stored locally;
// - a join delivers the latest `count` messages; getChatRoomInfo; getChatroomHistoryMessages;
// - a cut connection: the engine rejoins by itself (CHATROOM rejoinedRoom) and receives again;
// - quit (the quitter hears userChange; its sends answer 23406);
// - bad input answers the seed's codes and changes nothing.
// No sleeps for ordering: every wait ends on an event or a reply.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { relay } = require('./helpers/relay')
const { Engine } = require('../index.js')

const SECRET = 'chatroom-secret'
const ROOM = 'live-1'

/** Runs `imsync.<method>(...args)` in the window's page world; resolves the envelope. */
const call = (win, method, args = []) => h.page(win, `return await imsync.${method}(...${JSON.stringify(args)})`, 15000)

/** A window recording every MESSAGES message and CHATROOM payload. */
async function recordingWindow() {
  const win = await h.openWindow()
  await h.page(
    win,
    `globalThis.got = { messages: [], chatroom: [] }
    imsync.addEventListener(imsync.Events.MESSAGES, (e) => got.messages.push(...e.messages))
    imsync.addEventListener(imsync.Events.CHATROOM, (e) => got.chatroom.push(e))`,
  )
  return win
}

/** Waits in the page until `pred(got)` (a JS expression over `got`) is truthy; returns `got`. */
function pageWait(win, pred, what, ms = 10000) {
  return h.page(
    win,
    `const end = Date.now() + ${ms}
    while (!(${pred})) {
      if (Date.now() > end) throw new Error('timed out waiting for ' + ${JSON.stringify(what)} + ': ' + JSON.stringify(got))
      await new Promise((r) => setTimeout(r, 10))
    }
    return got`,
    ms + 5000,
  )
}

/** A native Engine for `userId`, connected. */
async function nativeUser(t, server, userId, options = {}) {
  const dbpath = h.tmpDir(`chatroom-${userId}`)
  const engine = new Engine({ appkey: h.APPKEY, dbpath, serverUrl: server.url, logOutputLevel: 1, ...options })
  engine.onEvent(() => {})
  const tap = tapOf(engine)
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const r = await h.withDeadline(engine.connect(await server.getToken(userId)), 15000, `${userId} connect`)
  assert.deepEqual(r, { code: 0, data: { userId } })
  const roomMessages = () => tap.events.filter((e) => e.name === 'MESSAGES').flatMap((e) => e.payload.messages).filter((m) => m.conversationType === 4)
  return { engine, tap, roomMessages }
}

const text = (content) => ({ messageType: 'RC:TxtMsg', content: { content }, isPersisted: true, isCounted: true, isStatusMessage: false })
const room = { conversationType: 4, targetId: ROOM }

test('a chatroom through the renderer: join, send, receive, nothing stored, info, history, rejoin after a cut, quit, bad input', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const link = await relay(t, server.url)
  h.startService(t, { serverUrl: link.url, reconnectInterval: 100 })
  const w1 = await recordingWindow()
  const w2 = await recordingWindow()
  assert.deepEqual(await call(w1, 'connect', [await server.getToken('alice')]), { code: 0, data: { userId: 'alice' } })
  const bob = await nativeUser(t, server, 'bob')
  const carol = await nativeUser(t, server, 'carol')

  // joinExistChatRoom on a room nobody created: 23410, and it still does not exist.
  const missing = await bob.engine.joinExistChatRoom(ROOM, { count: 5 })
  assert.equal(missing.code, 23410, JSON.stringify(missing))
  assert.equal((await call(w1, 'getChatRoomInfo', [ROOM])).code, 23410)

  // Bad input: the seed's codes, and nothing is created or joined.
  for (const [method, args, code] of [
    ['joinChatRoom', ['', { count: 1 }], 36001],
    ['joinChatRoom', ['bad room', { count: 1 }], 23412],
    ['joinChatRoom', [ROOM, { count: 51 }], 33003],
    ['joinChatRoom', [ROOM, { count: 'ten' }], 33003],
    ['joinExistChatRoom', [ROOM, { count: -2 }], 33003],
    ['getChatRoomInfo', [ROOM, { count: 21 }], 33003],
    ['getChatroomHistoryMessages', [ROOM, { count: 21 }], 33003],
    ['quitChatRoom', [''], 36001],
  ]) {
    const r = await call(w1, method, args)
    assert.equal(r.code, code, `${method} ${JSON.stringify(args)}: ${JSON.stringify(r)}`)
    assert.match(r.msg, /chatRoomId|options\.(count|order)/, r.msg)
  }
  assert.equal((await call(w1, 'getChatRoomInfo', [ROOM])).code, 23410, 'the refused joins created nothing')

  // alice creates and joins from window 1; bob joins the existing room.
  const joined = await call(w1, 'joinChatRoom', [ROOM, { count: 5 }])
  assert.equal(joined.code, 0, JSON.stringify(joined))
  assert.equal(joined.data.memberCount, 1)
  const bobJoin = await bob.engine.joinExistChatRoom(ROOM, { count: 5 })
  assert.equal(bobJoin.code, 0, JSON.stringify(bobJoin))
  assert.equal(bobJoin.data.memberCount, 2)
  // Each user hears their own join (other members' joins are the vendor's opt-in service): both
  // of alice's windows, and bob.
  for (const w of [w1, w2]) await pageWait(w, `got.chatroom.some((e) => e.userChange && e.userChange.users.alice === 1)`, "alice's join")
  await bob.tap.wait((e) => e.name === 'CHATROOM' && e.payload.userChange && e.payload.userChange.users.bob === 1, "bob's own join")

  // alice sends from window 1: sent, but never stored (messageId 0).
  const sent = await call(w1, 'sendMessage', [room, text('hello room')])
  assert.equal(sent.code, 0, JSON.stringify(sent))
  assert.deepEqual([sent.data.messageId, sent.data.conversationType, sent.data.targetId, sent.data.sentStatus], [0, 4, ROOM, 30])
  const atBob = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === sent.data.messageUId), 'bob receives the room message')
  const m = atBob.payload.messages[0]
  assert.deepEqual([m.conversationType, m.targetId, m.senderUserId, m.content.content, m.messageId, m.messageDirection], [4, ROOM, 'alice', 'hello room', 0, 2])

  // bob answers: both of alice's windows receive it.
  const reply = await bob.engine.sendMessage(room, text('hi alice'), {})
  assert.equal(reply.code, 0, JSON.stringify(reply))
  for (const w of [w1, w2]) {
    const got = await pageWait(w, `got.messages.some((m) => m.messageUId === ${JSON.stringify(reply.data.messageUId)})`, "bob's reply")
    const r = got.messages.find((x) => x.messageUId === reply.data.messageUId)
    assert.deepEqual([r.conversationType, r.senderUserId, r.messageId], [4, 'bob', 0])
  }

  // carol is not in the room: her sends answer 23406 and she received nothing (her reply comes
  // after any push queued before it on her connection).
  const refused = await carol.engine.sendMessage(room, text('let me in'), {})
  assert.equal(refused.code, 23406, JSON.stringify(refused))
  assert.equal((await carol.engine.getChatRoomInfo(ROOM, {})).code, 0)
  assert.deepEqual(carol.roomMessages(), [])

  // Nothing stored locally, for anyone.
  for (const engine of [bob.engine, carol.engine]) {
    const list = await engine.getConversationList(0, 100)
    assert.equal(list.code, 0)
    assert.deepEqual(list.data.filter((c) => c.conversationType === 4), [])
  }
  const aliceList = await call(w1, 'getConversationList', [{ count: 100 }])
  assert.deepEqual(aliceList.data.filter((c) => c.conversationType === 4), [])
  assert.equal((await call(w1, 'getHistoryMessages', [room, { timestamp: 0, count: 20 }])).code, 34201, 'type 4 has no local history')

  // carol joins with count 2 and gets the two latest messages; info lists all three.
  assert.equal((await carol.engine.joinChatRoom(ROOM, { count: 2 })).code, 0)
  await carol.tap.wait(() => carol.roomMessages().length === 2, "carol's two latest messages")
  assert.deepEqual(carol.roomMessages().map((x) => x.content.content), ['hello room', 'hi alice'])
  const info = await call(w2, 'getChatRoomInfo', [ROOM, { count: 20, order: 1 }])
  assert.equal(info.code, 0, JSON.stringify(info))
  assert.equal(info.data.userCount, 3)
  assert.deepEqual(info.data.userInfos.map((u) => u.id), ['alice', 'bob', 'carol'])
  const latest = await call(w2, 'getChatRoomInfo', [ROOM, { count: 1, order: 2 }])
  assert.deepEqual(latest.data.userInfos.map((u) => u.id), ['carol'])

  // History from window 2: the latest one, then the one before it.
  const page1 = await call(w2, 'getChatroomHistoryMessages', [ROOM, { timestamp: 0, count: 1, order: 0 }])
  assert.equal(page1.code, 0, JSON.stringify(page1))
  assert.deepEqual([page1.data.list.map((x) => x.content.content), page1.data.hasMore], [['hi alice'], true])
  const page2 = await call(w2, 'getChatroomHistoryMessages', [ROOM, { timestamp: page1.data.list[0].sentTime, count: 20, order: 0 }])
  assert.deepEqual([page2.data.list.map((x) => x.content.content), page2.data.hasMore], [['hello room'], false])
  assert.equal(page2.data.list[0].messageDirection, 1, "alice's own message reads as sent")

  // Cut alice's connection: the engine reconnects and rejoins by itself (5 messages asked).
  link.cut()
  const rejoined = await pageWait(w1, `got.chatroom.some((e) => e.rejoinedRoom)`, 'rejoinedRoom', 20000)
  assert.deepEqual(rejoined.chatroom.find((e) => e.rejoinedRoom).rejoinedRoom, { chatroomId: ROOM, count: 5 })
  await pageWait(w2, `got.chatroom.some((e) => e.rejoinedRoom)`, 'rejoinedRoom in window 2')
  const after = await carol.engine.sendMessage(room, text('after the cut'), {})
  assert.equal(after.code, 0)
  await pageWait(w1, `got.messages.some((m) => m.messageUId === ${JSON.stringify(after.data.messageUId)})`, 'a message after the rejoin')
  assert.equal((await call(w1, 'getChatRoomInfo', [ROOM])).data.userCount, 3, 'alice kept her place')

  // bob quits: he hears it, his sends answer 23406, the room has two members.
  assert.deepEqual(await bob.engine.quitChatRoom(ROOM), { code: 0 })
  await bob.tap.wait((e) => e.name === 'CHATROOM' && e.payload.userChange && e.payload.userChange.users.bob === 2, "bob's quit")
  assert.equal((await bob.engine.sendMessage(room, text('gone'), {})).code, 23406)
  assert.equal((await call(w1, 'getChatRoomInfo', [ROOM])).data.userCount, 2)

  // alice quits from window 2: the engine's room is gone for window 1 too.
  assert.deepEqual(await call(w2, 'quitChatRoom', [ROOM]), { code: 0 })
  assert.equal((await call(w1, 'sendMessage', [room, text('gone too')])).code, 23406)
})

test('chatroom entries through the renderer: round trips, ownership, events, limits, auto-delete on quit', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  h.startService(t, { serverUrl: server.url })
  const win = await recordingWindow()
  assert.deepEqual(await call(win, 'connect', [await server.getToken('alice')]), { code: 0, data: { userId: 'alice' } })
  const bob = await nativeUser(t, server, 'bob')
  const carol = await nativeUser(t, server, 'carol')
  const KV = 'kv-room'
  assert.equal((await call(win, 'joinChatRoom', [KV, { count: -1 }])).code, 0)
  assert.equal((await bob.engine.joinExistChatRoom(KV, { count: -1 })).code, 0)

  // Round trip; bob hears it (CHATROOM updatedEntries) with the notice message it asked for.
  const seat = { key: 'seat_1', value: 'alice', isAutoDelete: true, isSendNotification: true, notificationExtra: 'x' }
  assert.deepEqual(await call(win, 'setChatRoomEntry', [KV, seat]), { code: 0 })
  const upd = await bob.tap.wait((e) => e.name === 'CHATROOM' && e.payload.updatedEntries, 'updatedEntries at bob')
  assert.deepEqual(
    upd.payload.updatedEntries.map((u) => [u.chatroomId, u.entries.map((e) => [e.key, e.value, e.type])]),
    [[KV, [['seat_1', 'alice', 1]]]],
  )
  const notice = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageType === 'RC:chrmKVNotiMsg'), 'the KV notice')
  assert.deepEqual(notice.payload.messages[0].content, { type: 1, key: 'seat_1', value: 'alice', extra: 'x' })
  assert.deepEqual(await bob.engine.getChatRoomEntry(KV, 'seat_1'), { code: 0, data: 'alice' })
  assert.deepEqual(await call(win, 'setChatRoomEntries', [KV, { entries: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] }]), { code: 0 })
  assert.deepEqual(await call(win, 'getAllChatRoomEntries', [KV]), { code: 0, data: { a: '1', b: '2', seat_1: 'alice' } })

  // Ownership: bob's plain set/remove of alice's keys answer 23424 and change nothing; forced ones work.
  assert.equal((await bob.engine.setChatRoomEntry(KV, { key: 'a', value: 'bob' })).code, 23424)
  assert.equal((await bob.engine.removeChatRoomEntry(KV, { key: 'a' })).code, 23424)
  assert.deepEqual(await call(win, 'getChatRoomEntry', [KV, 'a']), { code: 0, data: '1' })
  assert.deepEqual(await bob.engine.forceSetChatRoomEntry(KV, { key: 'a', value: 'bob' }), { code: 0 })
  assert.deepEqual(await bob.engine.forceRemoveChatRoomEntry(KV, { key: 'b' }), { code: 0 })
  await pageWait(win, `got.chatroom.some((e) => e.updatedEntries && e.updatedEntries[0].entries.some((x) => x.key === 'b' && x.type === 2))`, "b's removal")
  assert.deepEqual(await call(win, 'getAllChatRoomEntries', [KV]), { code: 0, data: { a: 'bob', seat_1: 'alice' } })
  assert.deepEqual(await bob.engine.removeChatRoomEntries(KV, { entries: ['a'] }), { code: 0 })
  assert.equal((await call(win, 'getChatRoomEntry', [KV, 'a'])).code, 36004)

  // Not a member: 23406. Bad input: the seed's codes, nothing changes.
  assert.equal((await carol.engine.getAllChatRoomEntries(KV)).code, 23406)
  assert.equal((await carol.engine.setChatRoomEntry(KV, { key: 'c', value: 'c' })).code, 23406)
  const eleven = Array.from({ length: 11 }, (_, i) => ({ key: `k${i}`, value: 'v' }))
  for (const [method, args, code, arg] of [
    ['setChatRoomEntries', [KV, { entries: eleven }], 23429, 'options.entries'],
    ['setChatRoomEntry', [KV, { key: 'big', value: 'v'.repeat(4097) }], 23412, 'entry.value'],
    ['setChatRoomEntry', [KV, { key: 'bad key', value: 'v' }], 23412, 'entry.key'],
    ['setChatRoomEntry', [KV, { key: 'k'.repeat(129), value: 'v' }], 23412, 'entry.key'],
    ['setChatRoomEntries', [KV, { entries: [{ key: 'ok', value: '1' }, { key: 'big', value: 'v'.repeat(4097) }] }], 23412, 'options.entries[1].value'],
    ['removeChatRoomEntries', [KV, { entries: eleven.map((e) => e.key) }], 23429, 'options.entries'],
    ['removeChatRoomEntry', [KV, { key: 'nope' }], 23427, 'nope'],
  ]) {
    const r = await call(win, method, args)
    assert.equal(r.code, code, `${method}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(arg), r.msg)
  }
  // More than 100 entries: 23423, and the refused batch wrote nothing.
  for (let b = 0; b < 9; b++) {
    const entries = Array.from({ length: 10 }, (_, i) => ({ key: `b${b}_${i}`, value: 'v' }))
    assert.deepEqual(await bob.engine.setChatRoomEntries(KV, { entries }), { code: 0 })
  }
  const over = Array.from({ length: 10 }, (_, i) => ({ key: `over${i}`, value: 'v' }))
  assert.equal((await call(win, 'setChatRoomEntries', [KV, { entries: over }])).code, 23423)
  const all = await call(win, 'getAllChatRoomEntries', [KV])
  assert.deepEqual([Object.keys(all.data).length, 'over0' in all.data], [91, false])

  // alice quits: her auto-delete entry goes (bob hears it), the others stay.
  assert.deepEqual(await call(win, 'quitChatRoom', [KV]), { code: 0 })
  await bob.tap.wait((e) => e.name === 'CHATROOM' && e.payload.updatedEntries && e.payload.updatedEntries[0].entries.some((x) => x.key === 'seat_1' && x.type === 2), 'seat_1 removed on quit')
  const left = await bob.engine.getAllChatRoomEntries(KV)
  assert.deepEqual([Object.keys(left.data).length, 'seat_1' in left.data], [90, false])
})

test("chatroom events in the windows: the user's other device, one room per user, block, destroy", async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  h.startService(t, { serverUrl: server.url })
  const win = await recordingWindow()
  assert.deepEqual(await call(win, 'connect', [await server.getToken('alice')]), { code: 0, data: { userId: 'alice' } })
  // alice's second device (another platform, so neither kicks the other), and bob.
  const phone = await nativeUser(t, server, 'alice', { platform: 'Web' })
  const bob = await nativeUser(t, server, 'bob')
  const sync = (from, pred) => from.tap.wait((e) => e.name === 'CHATROOM' && e.payload.chatroomNotifyMultiLoginSync && pred(e.payload.chatroomNotifyMultiLoginSync), 'chatroomNotifyMultiLoginSync')

  // The phone joins: the desktop's window hears it (status 1).
  assert.equal((await phone.engine.joinChatRoom('r1', { count: 0 })).code, 0)
  const joined = await pageWait(win, `got.chatroom.some((e) => e.chatroomNotifyMultiLoginSync)`, 'multi-login join')
  const j = joined.chatroom.find((e) => e.chatroomNotifyMultiLoginSync).chatroomNotifyMultiLoginSync
  assert.deepEqual([j.chatroomId, j.status, j.userId, 'reason' in j, typeof j.time], ['r1', 1, 'alice', false, 'number'])

  // The desktop joins r2: one room per user, so alice leaves r1 on the phone; the phone hears
  // it was removed (its engine stops rejoining r1) and the reason (2: another room).
  bob.tap.events.length = 0
  assert.equal((await bob.engine.joinChatRoom('r1', { count: 0 })).code, 0)
  assert.equal((await call(win, 'joinChatRoom', ['r2', { count: 0 }])).code, 0)
  const quit = await sync(phone, (s) => s.chatroomId === 'r1' && s.status === 0)
  assert.equal(quit.payload.chatroomNotifyMultiLoginSync.reason, 2)
  await sync(bob, (s) => s.chatroomId === 'r1' && s.status === 0 && s.userId === 'alice')
  assert.equal((await phone.engine.sendMessage({ conversationType: 4, targetId: 'r1' }, text('left'))).code, 23406)
  assert.equal((await call(win, 'getChatRoomInfo', ['r1'])).data.userCount, 1, 'only bob is left in r1')

  // A block from the app server: every window hears chatroomNotifyBlock and alice is out.
  assert.equal((await bob.engine.joinChatRoom('r2', { count: 0 })).code, 0)
  const block = await server.admin('/chatroom/user/block/add', { chatroomId: 'r2', userId: ['alice'], minute: 2, extra: 'why' })
  assert.equal(block.code, 200, JSON.stringify(block))
  const blocked = await pageWait(win, `got.chatroom.some((e) => e.chatroomNotifyBlock)`, 'chatroomNotifyBlock')
  const b = blocked.chatroom.find((e) => e.chatroomNotifyBlock).chatroomNotifyBlock
  assert.deepEqual([b.chatroomId, b.userIdList, b.durationTime, b.extra], ['r2', ['alice'], 2, 'why'])
  assert.equal((await call(win, 'sendMessage', [{ conversationType: 4, targetId: 'r2' }, text('blocked')])).code, 23406)
  assert.equal((await call(win, 'joinChatRoom', ['r2', { count: 0 }])).code, 23409)

  // The app server destroys r3 while alice is in it: chatroomDestroyed in the window.
  assert.equal((await call(win, 'joinChatRoom', ['r3', { count: 0 }])).code, 0)
  assert.equal((await server.admin('/chatroom/destroy', { chatroomId: 'r3' })).code, 200)
  await pageWait(win, `got.chatroom.some((e) => e.chatroomDestroyed === 'r3')`, 'chatroomDestroyed')
  assert.equal((await call(win, 'getChatRoomInfo', ['r3'])).code, 23410)
})
