'use strict'
// Online-status subscriptions (issue 15; seed 002 "订阅用户在线状态"), end to end: imsync-server
// on loopback with a 500 ms heartbeat (a silent session ends after 1.5 s); bob's engine in
// the main process (js/main.js) and his calls made by the renderer object in a window
// process; his second device (platform Web), alice (a desktop and a Web device) and carol are
// native Engines. alice's Web device reaches the server through a TCP relay the test freezes:
// the device vanishes without a goodbye and with its socket still open, as a machine that
// lost its network does.
// - bob subscribes to alice: his Web device hears SUBSCRIBED_RELATION_CHANGE; alice online on
//   two platforms reaches bob's window per platform; her frozen device turns offline after the
//   heartbeat timeout, not before;
// - a device connecting later reports every followed user's status, then
//   SYNC_SUBSCRIBED_USER_STATUS_FINISHED;
// - getSubscribeUserStatus / getSubscribeUserList answer what bob follows;
// - bad input and the seed's limits (26022 past 1,000 followed users) change nothing;
// - after unSubscribeUserStatus bob hears nothing of alice while carol still does;
// - SubscribeType.USER_PROFILE: carol's profile change reaches bob.
// No sleeps for ordering: every wait ends on an event or a reply.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { relay } = require('./helpers/relay')
const { Engine } = require('../index.js')

const SECRET = 'presence-secret'
const HEARTBEAT_MS = 500
const STATUS = 'SUBSCRIBED_USER_STATUS_CHANGE'
const RELATION = 'SUBSCRIBED_RELATION_CHANGE'
const SYNCED = 'SYNC_SUBSCRIBED_USER_STATUS_FINISHED'

/** Calls `imsync.<path>(...args)` in the window's page world; resolves the envelope. */
const call = (win, path, args = []) => h.page(win, `return await imsync.${path}(...${JSON.stringify(args)})`, 20000)

/** The page's recorded events (name, payload, at) once one at index >= from matches `pred`. */
function pageWait(win, pred, label, from = 0, ms = 10000) {
  return h.page(
    win,
    `const pred = ${pred}
    const end = Date.now() + ${ms}
    for (;;) {
      const i = seen.findIndex((e, i) => i >= ${from} && pred(e))
      if (i >= 0) return { index: i, event: seen[i], all: seen }
      if (Date.now() > end) throw new Error(${JSON.stringify(`no ${label}`)} + ': ' + JSON.stringify(seen))
      await new Promise((r) => setTimeout(r, 10))
    }`,
    ms + 5000,
  )
}

/** A native Engine for `userId`, connected (through `serverUrl` if given). */
async function nativeUser(t, server, userId, { serverUrl = server.url, ...options } = {}) {
  const dbpath = h.tmpDir(`presence-${userId}`)
  const engine = new Engine({ appkey: h.APPKEY, dbpath, serverUrl, logOutputLevel: 1, ...options })
  engine.onEvent(() => {})
  const tap = tapOf(engine)
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  const token = await server.getToken(userId)
  const connect = async () => {
    const r = await h.withDeadline(engine.connect(token), 15000, `${userId} connect`)
    assert.deepEqual(r, { code: 0, data: { userId } })
  }
  await connect()
  return { engine, tap, connect }
}

/** { desktop, web, mobile } online flags of alice in a status payload. */
function flags(info) {
  const on = (p) => info.details.find((d) => d.platform === p)?.isOnline
  return { desktop: on(1), web: on(2), mobile: on(3) }
}

const aliceIn = (payload) => payload.find((i) => i.userId === 'alice')

test('online status: per platform, a vanished device after the heartbeat timeout, relation changes, sync on connect, queries, limits, unsubscribe', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET, args: ['--heartbeat-interval', `${HEARTBEAT_MS}ms`] })
  h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  await h.page(
    win,
    `globalThis.seen = []
    for (const name of ['${STATUS}', '${RELATION}', '${SYNCED}'])
      imsync.addEventListener(imsync.Events[name], (p) => seen.push({ name, payload: p, at: Date.now() }))`,
  )
  assert.deepEqual(await call(win, 'connect', [await server.getToken('bob')]), { code: 0, data: { userId: 'bob' } })
  // Nothing followed yet: the sync after connect finishes at once, per type.
  await pageWait(win, `(e) => e.name === '${SYNCED}' && e.payload.subscribeType === 2`, 'sync finished')
  const synced = (await pageWait(win, `() => true`, 'events')).all
  assert.deepEqual(synced.map((e) => [e.name, e.payload]), [
    [SYNCED, { subscribeType: 1 }],
    [SYNCED, { subscribeType: 2 }],
  ])
  assert.deepEqual(await h.page(win, 'return [imsync.SubscribeType.ONLINE_STATUS, imsync.ErrorCode.RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT]'), [1, 26021])

  const bobWeb = await nativeUser(t, server, 'bob', { platform: 'Web' })
  const ONLINE = await h.page(win, 'return imsync.SubscribeType.ONLINE_STATUS')
  assert.deepEqual(await call(win, 'subscribeUserStatus', [['alice'], ONLINE, 180000]), { code: 0 })
  const rel = await bobWeb.tap.wait((e) => e.name === RELATION, 'relation change on bob Web')
  assert.equal(rel.payload.length, 1)
  assert.deepEqual(
    { ...rel.payload[0], subscribeTime: typeof rel.payload[0].subscribeTime },
    { subscribeType: 1, operationType: 0, userIds: ['alice'], expiry: 180000, subscribeTime: 'number' },
  )

  // alice on her desktop, then on the Web through the relay: one event per platform change.
  const alice = await nativeUser(t, server, 'alice')
  let hit = await pageWait(win, `(e) => e.name === '${STATUS}'`, 'alice desktop online')
  assert.deepEqual(flags(aliceIn(hit.event.payload)), { desktop: true, web: false, mobile: false })
  assert.equal(aliceIn(hit.event.payload).subscribeType, 1)
  const r = await relay(t, server.url)
  await nativeUser(t, server, 'alice', { platform: 'Web', serverUrl: r.url })
  hit = await pageWait(win, `(e) => e.name === '${STATUS}'`, 'alice web online', hit.index + 1)
  assert.deepEqual(flags(aliceIn(hit.event.payload)), { desktop: true, web: true, mobile: false })

  // bob's Web device reconnects: the sync reports alice, then finishes.
  await bobWeb.engine.disconnect()
  const mark = bobWeb.tap.events.length
  await bobWeb.connect()
  const fin = await bobWeb.tap.wait((e) => e.name === SYNCED && e.payload.subscribeType === 1, 'bob Web sync', { from: mark })
  const reported = bobWeb.tap.events.slice(mark, bobWeb.tap.events.indexOf(fin)).filter((e) => e.name === STATUS)
  assert.equal(reported.length, 1, 'the statuses arrive before the sync finishes')
  assert.deepEqual(flags(aliceIn(reported[0].payload)), { desktop: true, web: true, mobile: false })
  assert.equal(aliceIn(reported[0].payload).expiry, 180000)

  // The relay freezes: alice's Web device is gone without a goodbye. Offline only after the
  // server's heartbeat timeout (three intervals), her desktop still online.
  const frozenAt = Date.now()
  r.freeze()
  hit = await pageWait(win, `(e) => e.name === '${STATUS}'`, 'alice web offline', hit.index + 1)
  assert.deepEqual(flags(aliceIn(hit.event.payload)), { desktop: true, web: false, mobile: false })
  assert.ok(hit.event.at - frozenAt >= HEARTBEAT_MS * 2, `offline after ${hit.event.at - frozenAt} ms, not before the timeout`)
  const web = aliceIn(hit.event.payload).details.find((d) => d.platform === 2)
  assert.ok(web.updateTime >= frozenAt, 'the change is timed')

  // Queries: only what bob follows.
  const got = await call(win, 'getSubscribeUserStatus', [ONLINE, ['alice', 'carol']])
  assert.equal(got.code, 0)
  assert.deepEqual(got.data.map((i) => [i.userId, flags(i)]), [['alice', { desktop: true, web: false, mobile: false }]])
  const page = await call(win, 'getSubscribeUserList', [ONLINE, 20, 0])
  assert.deepEqual(page.data.map((i) => [i.userId, i.expiry]), [['alice', 180000]])

  // Bad input: 33003 naming the argument, nothing sent, nothing changed.
  const ids = (n, from = 0) => Array.from({ length: n }, (_, i) => `user${i + from}`)
  for (const [args, name] of [
    [[ids(201), ONLINE, 600], 'userIds'],
    [[[], ONLINE, 600], 'userIds'],
    [[['bob'], ONLINE, 600], 'userIds[0]'],
    [[['carol'], ONLINE, 59], 'expiry'],
    [[['carol'], ONLINE, 2592001], 'expiry'],
    [[['carol'], 3, 600], 'type'],
  ]) {
    const res = await call(win, 'subscribeUserStatus', args)
    assert.equal(res.code, 33003, JSON.stringify([args.length, res]))
    assert.ok(res.msg.startsWith(name), `${name}: ${res.msg}`)
  }
  const bad = await call(win, 'getSubscribeUserList', [ONLINE, 0, 0])
  assert.equal(bad.code, 33003)
  assert.ok(bad.msg.startsWith('pageSize'), bad.msg)
  // The seed's limit: 1,000 followed users (26022), the refused call changes nothing.
  for (let i = 0; i < 999; i += 200) {
    const res = await call(win, 'subscribeUserStatus', [ids(Math.min(200, 999 - i), i), ONLINE, 600])
    assert.equal(res.code, 0, JSON.stringify(res))
  }
  const full = await call(win, 'subscribeUserStatus', [['carol', 'dave'], ONLINE, 600])
  assert.equal(full.code, 26022, JSON.stringify(full))
  assert.equal(await h.page(win, 'return imsync.ErrorCode.RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT'), 26022)
  const following = []
  for (let offset = 0; ; ) {
    const res = await call(win, 'getSubscribeUserList', [ONLINE, 200, offset])
    following.push(...res.data.map((i) => i.userId))
    offset += res.data.length
    if (res.data.length < 200) break
  }
  assert.equal(following.length, 1000)
  assert.ok(!following.includes('carol') && !following.includes('dave'))

  // Unsubscribed: bob's Web device hears of it; alice's desktop leaving reaches carol, not bob.
  const carol = await nativeUser(t, server, 'carol')
  assert.deepEqual(await carol.engine.subscribeUserStatus(['alice'], 1, 60), { code: 0 })
  const relMark = bobWeb.tap.events.length
  assert.deepEqual(await call(win, 'unSubscribeUserStatus', [['alice'], ONLINE]), { code: 0 })
  const un = await bobWeb.tap.wait((e) => e.name === RELATION, 'unsubscribe on bob Web', { from: relMark })
  assert.deepEqual([un.payload[0].operationType, un.payload[0].userIds], [1, ['alice']])
  const before = (await pageWait(win, '() => true', 'events')).all.length
  const carolMark = carol.tap.events.length
  await alice.engine.disconnect()
  const gone = await carol.tap.wait((e) => e.name === STATUS && aliceIn(e.payload) && !flags(aliceIn(e.payload)).desktop, 'alice offline for carol', { from: carolMark })
  assert.deepEqual(flags(aliceIn(gone.payload)), { desktop: false, web: false, mobile: false })
  // A round trip through bob's session after carol heard it: bob heard nothing of alice.
  assert.equal((await call(win, 'getSubscribeUserStatus', [ONLINE, ['alice']])).data.length, 0)
  const after = (await pageWait(win, '() => true', 'events')).all
  assert.deepEqual(after.slice(before).filter((e) => e.name === STATUS), [])

  // USER_PROFILE (IMLib 5.10.1): carol's profile change reaches bob as other users see it.
  const PROFILE = await h.page(win, 'return imsync.SubscribeType.USER_PROFILE')
  assert.deepEqual(await call(win, 'subscribeUserStatus', [['carol'], PROFILE, 600]), { code: 0 })
  assert.deepEqual(await carol.engine.updateMyUserProfile({ name: 'Carol', email: 'carol@example.com' }), { code: 0 })
  hit = await pageWait(win, `(e) => e.name === '${STATUS}' && e.payload[0].subscribeType === 2 && e.payload[0].userProfile.name === 'Carol'`, 'carol profile', after.length)
  assert.deepEqual(hit.event.payload[0].userProfile, { userId: 'carol', name: 'Carol', portraitUri: '' }, 'the default visibility: name and portrait only')
  assert.deepEqual(hit.event.payload[0].details, [])
})
