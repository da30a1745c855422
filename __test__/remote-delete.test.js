'use strict'
// Deleting messages for the caller only (deleteRemoteMessages — the vendor's top-level
// deleteMessages — and clearHistoryMessages), end to end: the real imsync-server on loopback
// and one native Engine per device, each with its own database. alice has a desktop device
// (the caller), a web device that is online, a mobile device that is offline at the time and
// connects later, and a brand-new install (empty dbpath, full inbox pull); bob is the peer.
// After a delete, the messages are gone from every alice database, from alice's remote history
// and from getContinuousMessages; bob keeps them. A refused call deletes nothing anywhere.
// The local-only electronExtension.deleteMessages keeps its behaviour (the server refills it).
// No sleeps for ordering: every wait ends on an event, a reply or a deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Engine } = require('../index.js')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { withDeadline } = require('./electron/harness')

const APP_KEY = 'remote-delete-key'
const APP_SECRET = 'remote-delete-secret'
const PRIVATE = 1
const GROUP = 3
const CHATROOM = 4

const conv = (targetId, conversationType = PRIVATE) => ({ conversationType, targetId })

/** Re-checks `probe()` until it is truthy, failing at the deadline with the last value. */
async function until(probe, label, ms = 10000) {
  const end = Date.now() + ms
  let last
  for (;;) {
    last = await probe()
    if (last.ok) return last
    if (Date.now() > end) assert.fail(`deadline: ${label} within ${ms} ms (last: ${JSON.stringify(last)})`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** One device: its own Engine and dbpath, connected; `dbpath` reuses a device's database. */
async function device(t, server, userId, { platform = 'Electron', dbpath } = {}) {
  const dir = dbpath ?? fs.mkdtempSync(path.join(os.tmpdir(), `imsync-rdel-${userId}-`))
  const engine = new Engine({ appkey: APP_KEY, dbpath: dir, serverUrl: server.url, logOutputLevel: 1, platform })
  engine.onEvent(() => {})
  const tap = tapOf(engine)
  const token = await server.getToken(userId)
  const d = {
    engine,
    tap,
    dir,
    async connect() {
      const from = tap.events.length
      const r = await withDeadline(engine.connect(token), 15000, `${userId} connect`)
      assert.deepEqual(r, { code: 0, data: { userId } })
      await tap.wait((e) => e.name === 'PULL_OFFLINE_MESSAGE_FINISHED', `${userId}/${platform} offline pull`, { from })
    },
    async disconnect() {
      assert.equal((await engine.disconnect()).code, 0)
    },
    /** Sends a text; resolves the stored, SENT message. */
    async send(target, content, type = PRIVATE) {
      const r = await engine.sendMessage(conv(target, type), { messageType: 'RC:TxtMsg', content: { content } })
      assert.equal(r.code, 0, `send: ${JSON.stringify(r)}`)
      return r.data
    },
    /** The texts of the local database's history of `c`, oldest first. */
    async local(c) {
      const r = await engine.getHistoryMessages(c, { timestamp: 0, count: 100, order: 0 })
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data.list.map((m) => m.content.content).reverse()
    },
    /** Waits until the local history of `c` is exactly `texts`. */
    async localBecomes(c, texts, label) {
      await until(async () => {
        const got = await d.local(c)
        return { ok: JSON.stringify(got) === JSON.stringify(texts), got }
      }, `${label}: local history ${JSON.stringify(texts)}`)
    },
    async remote(c) {
      const r = await engine.getRemoteHistoryMessages(c, { timestamp: 0, count: 100, order: 0 })
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data.list.map((m) => m.content.content).reverse()
    },
    async continuous(c) {
      const r = await engine.getContinuousMessages(c, { timestamp: 0, count: 100, order: 0 })
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data.list.map((m) => m.content.content).reverse()
    },
    async conversation(c) {
      const r = await engine.getConversation(c)
      assert.equal(r.code, 0, JSON.stringify(r))
      return r.data
    },
  }
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    if (!dbpath) fs.rmSync(dir, { recursive: true, force: true })
  })
  await d.connect()
  return d
}

const ref = (m) => ({ messageUId: m.messageUId, sentTime: m.sentTime, messageDirection: m.messageDirection })

/** alice on desktop (the caller) and web (online), on mobile (offline later), and bob. */
async function cast(t) {
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  const bob = await device(t, server, 'bob')
  const alice = await device(t, server, 'alice')
  const web = await device(t, server, 'alice', { platform: 'Web' })
  const phone = await device(t, server, 'alice', { platform: 'Android' })
  return { server, bob, alice, web, phone }
}

test('deleteRemoteMessages: gone from every device of the caller, from its remote history and a new install; the peer keeps it', async (t) => {
  const { server, bob, alice, web, phone } = await cast(t)
  const withBob = conv('bob')
  const one = await alice.send('bob', 'one')
  const two = await bob.send('alice', 'two') // unread on alice's devices
  const three = await alice.send('bob', 'three')
  for (const [d, name] of [[alice, 'desktop'], [web, 'web'], [phone, 'phone']]) {
    await d.localBecomes(withBob, ['one', 'two', 'three'], `alice ${name} before`)
  }
  assert.equal((await web.conversation(withBob)).unreadMessageCount, 1, 'two is unread on web')
  await phone.disconnect() // offline while alice deletes

  // Delete 'two' (bob's, the spelling of the seed's table) and 'three' (the latest).
  const r = await alice.engine.deleteRemoteMessages(withBob, [
    { messageUid: two.messageUId, sentTime: two.sentTime, messageDirection: 2 },
    ref(three),
  ])
  assert.deepEqual(r, { code: 0 })
  // This device: gone when the call resolves; the conversation's latest message follows.
  assert.deepEqual(await alice.local(withBob), ['one'])
  assert.equal((await alice.conversation(withBob)).latestMessage.messageUId, one.messageUId)
  // The online device: gone, unread count and latest message follow.
  await web.localBecomes(withBob, ['one'], 'alice web after the delete')
  const webConv = await web.conversation(withBob)
  assert.equal(webConv.unreadMessageCount, 0)
  assert.equal(webConv.latestMessage.messageUId, one.messageUId)
  // The device that was offline: gone once it connects.
  await phone.connect()
  assert.deepEqual(await phone.local(withBob), ['one'])
  // The server's history of alice: without them, however it is asked.
  assert.deepEqual(await alice.remote(withBob), ['one'])
  assert.deepEqual(await alice.continuous(withBob), ['one'])
  assert.deepEqual(await alice.local(withBob), ['one'], 'remote history did not bring them back')
  assert.deepEqual(await web.continuous(withBob), ['one'])
  // bob keeps everything, locally and on the server.
  assert.deepEqual(await bob.local(conv('alice')), ['one', 'two', 'three'])
  assert.deepEqual(await bob.remote(conv('alice')), ['one', 'two', 'three'])
  // A new install of alice (empty database, full inbox pull) never gets them.
  await phone.disconnect()
  const fresh = await device(t, server, 'alice', { platform: 'iOS' })
  assert.deepEqual(await fresh.local(withBob), ['one'])
  assert.deepEqual(await fresh.continuous(withBob), ['one'])
  // Deleting again is accepted and changes nothing.
  assert.deepEqual(await alice.engine.deleteRemoteMessages(withBob, [ref(three)]), { code: 0 })
  // The seed example's spelling: the uid as a string messageId.
  assert.deepEqual(await alice.engine.deleteRemoteMessages(withBob, [{ messageId: one.messageUId, sentTime: one.sentTime, messageDirection: 1 }]), { code: 0 })
  assert.deepEqual(await alice.local(withBob), [])
  await fresh.localBecomes(withBob, [], 'the new install follows a later delete')
  assert.deepEqual(await bob.local(conv('alice')), ['one', 'two', 'three'])
})

test('clearHistoryMessages: messages sent before the time go for the caller everywhere (strictly before); the peer keeps them', async (t) => {
  const { server, bob, alice, web, phone } = await cast(t)
  await server.admin('/group/create', { userId: ['alice', 'bob'], groupId: 'g1', groupName: 'g1' })
  const g = conv('g1', GROUP)
  await alice.send('g1', 'g-one', GROUP)
  await bob.send('g1', 'g-two', GROUP)
  const three = await alice.send('g1', 'g-three', GROUP)
  await alice.send('bob', 'private stays')
  for (const d of [alice, web, phone]) await d.localBecomes(g, ['g-one', 'g-two', 'g-three'], 'before the clear')
  await phone.disconnect()

  assert.deepEqual(await alice.engine.clearHistoryMessages(g, three.sentTime), { code: 0 })
  assert.deepEqual(await alice.local(g), ['g-three'], 'sentTime < timestamp only')
  await web.localBecomes(g, ['g-three'], 'alice web after the clear')
  await phone.connect()
  assert.deepEqual(await phone.local(g), ['g-three'])
  assert.deepEqual(await alice.remote(g), ['g-three'])
  assert.deepEqual(await alice.continuous(g), ['g-three'])
  assert.deepEqual(await alice.local(conv('bob')), ['private stays'], 'other conversations untouched')
  assert.deepEqual(await bob.local(g), ['g-one', 'g-two', 'g-three'])
  assert.deepEqual(await bob.remote(g), ['g-one', 'g-two', 'g-three'])
  await phone.disconnect()
  const fresh = await device(t, server, 'alice', { platform: 'iOS' })
  assert.deepEqual(await fresh.local(g), ['g-three'])

  // A time in the future clears what exists now, never what arrives later.
  assert.deepEqual(await alice.engine.clearHistoryMessages(g, Date.now() + 3_600_000), { code: 0 })
  assert.deepEqual(await alice.local(g), [])
  const later = await bob.send('g1', 'later', GROUP)
  for (const d of [alice, web, fresh]) await d.localBecomes(g, ['later'], 'a later message survives')
  assert.deepEqual(await alice.remote(g), ['later'])
  assert.ok(later.sentTime > three.sentTime)
})

test('bad input answers 33003 (chatroom 34201, offline 30002) and deletes nothing anywhere', async (t) => {
  const { bob, alice, web } = await cast(t)
  const withBob = conv('bob')
  const one = await alice.send('bob', 'one')
  const two = await bob.send('alice', 'two')
  const toCarol = await alice.send('carol', 'to carol')
  await web.localBecomes(withBob, ['one', 'two'], 'web before')
  const many = Array.from({ length: 101 }, () => ref(one))
  const refused = [
    [[withBob, []], /messages must hold 1 to 100/],
    [[withBob, many], /messages must hold 1 to 100 items, got 101/],
    [[withBob, undefined], /messages is required/],
    [[withBob, ref(one)], /messages is required/],
    [[withBob, [ref(one), 'x']], /messages\[1\] must be an object/],
    [[withBob, [ref(one), { sentTime: two.sentTime }]], /messages\[1\]\.messageUId/],
    [[withBob, [ref(one), { messageUId: '', sentTime: two.sentTime }]], /messages\[1\]\.messageUId/],
    [[withBob, [ref(one), { messageUId: 7, sentTime: two.sentTime }]], /messages\[1\]\.messageUId/],
    [[withBob, [ref(one), { messageId: two.messageId, sentTime: two.sentTime }]], /messages\[1\]\.messageUId/],
    [[withBob, [ref(one), { messageUId: two.messageUId }]], /messages\[1\]\.sentTime/],
    [[withBob, [ref(one), { messageUId: two.messageUId, sentTime: String(two.sentTime) }]], /messages\[1\]\.sentTime/],
    [[withBob, [ref(one), { ...ref(two), messageDirection: 9 }]], /messages\[1\]\.messageDirection/],
    // Items the server refuses: another conversation, unknown, a wrong sentTime.
    [[withBob, [ref(one), ref(toCarol)]], /messages\[1\]\.messageUId .* another conversation/],
    [[withBob, [ref(one), { messageUId: 'NOPE-NOPE-NOPE-NOPE', sentTime: 1 }]], /messages\[1\]\.messageUId .* no such message/],
    [[withBob, [ref(one), { ...ref(two), sentTime: two.sentTime + 1 }]], /messages\[1\]\.messageUId .* sentTime/],
    [[conv('carol'), [ref(one)]], /messages\[0\]\.messageUId .* another conversation/],
    [[{ targetId: 'bob' }, [ref(one)]], /conversation/],
  ]
  for (const [args, msg] of refused) {
    const r = await alice.engine.deleteRemoteMessages(...args)
    assert.equal(r.code, 33003, `${JSON.stringify(args).slice(0, 200)} → ${JSON.stringify(r)}`)
    assert.match(r.msg, msg)
  }
  for (const [args, msg] of [
    [[withBob, -1], /timestamp/],
    [[withBob, 'soon'], /timestamp/],
    [[withBob, undefined], /timestamp/],
    [[{ conversationType: PRIVATE }, 1], /conversation/],
  ]) {
    const r = await alice.engine.clearHistoryMessages(...args)
    assert.equal(r.code, 33003, JSON.stringify(r))
    assert.match(r.msg, msg)
  }
  const room = conv('room', CHATROOM)
  assert.equal((await alice.engine.deleteRemoteMessages(room, [ref(one)])).code, 34201)
  assert.equal((await alice.engine.clearHistoryMessages(room, Date.now())).code, 34201)
  // Nothing was deleted: here, on the other device, on the server.
  assert.deepEqual(await alice.local(withBob), ['one', 'two'])
  assert.deepEqual(await alice.local(conv('carol')), ['to carol'])
  assert.deepEqual(await alice.remote(withBob), ['one', 'two'])
  assert.deepEqual(await alice.remote(conv('carol')), ['to carol'])
  // A barrier through alice's own inbox: a message sent now reaches web after any notice.
  await alice.send('bob', 'barrier')
  await web.localBecomes(withBob, ['one', 'two', 'barrier'], 'web after the refusals')
  // Not connected: the answer of every call that needs the server, and nothing deleted.
  await alice.disconnect()
  const offline = await alice.engine.deleteRemoteMessages(withBob, [ref(one)])
  assert.equal(offline.code, 30002, JSON.stringify(offline))
  assert.equal((await alice.engine.clearHistoryMessages(withBob, Date.now())).code, 30002)
  assert.deepEqual(await alice.local(withBob), ['one', 'two', 'barrier'])
})

test('electronExtension.deleteMessages stays local-only: the server still has the message and refills it', async (t) => {
  const { bob, alice, web } = await cast(t)
  const withBob = conv('bob')
  const one = await alice.send('bob', 'one')
  await bob.send('alice', 'two')
  await web.localBecomes(withBob, ['one', 'two'], 'web before')
  assert.deepEqual(await alice.engine.deleteMessages([one.messageId]), { code: 0 })
  assert.deepEqual(await alice.local(withBob), ['two'])
  assert.deepEqual(await alice.remote(withBob), ['one', 'two'], 'the server keeps it')
  assert.deepEqual(await alice.local(withBob), ['one', 'two'], 'remote history refills it')
  await alice.send('bob', 'barrier')
  await web.localBecomes(withBob, ['one', 'two', 'barrier'], 'the other device never lost it')
})
