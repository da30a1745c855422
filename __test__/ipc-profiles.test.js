'use strict'
// Hosted user profiles (issue 15; seed 002 "用户信息托管"), end to end: imsync-server on
// loopback; alice's engine in the main process (js/main.js) and her calls made by the renderer
// object in a window process of the test `electron` stand-in; her second device (platform
// Web), bob and carol are native Engines with their own databases.
// - alice's update reaches her other device as OWN_USER_PROFILE_CHANGED (not her own window),
//   an app-server change (admin /user/profile/set) reaches both;
// - bob and carol read her profile as her visibility allows (default and INVISIBLE: name and
//   portrait only; EVERYONE: every field); searchUserProfileByUniqueId;
// - bad input answers 33003 naming the argument and changes nothing, offline too; the server
//   calls answer 30002 without the connection.
// No sleeps for ordering: every wait ends on an event or a reply.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { Engine } = require('../index.js')

const SECRET = 'profiles-secret'
const EVENT = 'OWN_USER_PROFILE_CHANGED'

/** Calls `imsync.<path>(...args)` in the window's page world; resolves the envelope. */
const call = (win, path, args = []) => h.page(win, `return await imsync.${path}(...${JSON.stringify(args)})`, 15000)

/** alice's app (service + secure window recording OWN_USER_PROFILE_CHANGED), connected. */
async function startAlice(t, server, { connect = true } = {}) {
  h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  await h.page(
    win,
    `globalThis.seen = []
    imsync.addEventListener(imsync.Events.${EVENT}, (p) => seen.push(p))`,
  )
  if (connect) {
    const token = await server.getToken('alice')
    assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  }
  return win
}

/** The page's OWN_USER_PROFILE_CHANGED payloads once there are `n` (deadline). */
function pageEvents(win, n, ms = 10000) {
  return h.page(
    win,
    `const end = Date.now() + ${ms}
    while (seen.length < ${n}) {
      if (Date.now() > end) throw new Error('only ' + seen.length + ' ${EVENT} events')
      await new Promise((r) => setTimeout(r, 10))
    }
    return seen`,
    ms + 5000,
  )
}

/** A native Engine for `userId`, connected. */
async function nativeUser(t, server, userId, options = {}) {
  const dbpath = h.tmpDir(`profiles-${userId}`)
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
  return { engine, tap, profileEvents: () => tap.events.filter((e) => e.name === EVENT) }
}

const ALICE = {
  name: 'Alice 爱丽丝',
  portraitUri: 'https://img.example/alice.png',
  email: 'alice@example.com',
  birthday: '2000-02-29',
  gender: 2,
  location: 'Berlin',
  role: 5,
  level: 100,
  extraProfile: { team: 'blue' },
}

test("alice's profile: her other device hears of it, visibility decides what bob and carol read, uniqueId search, app-server changes", async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const win = await startAlice(t, server)
  const aliceWeb = await nativeUser(t, server, 'alice', { platform: 'Web' })
  const bob = await nativeUser(t, server, 'bob')
  const carol = await nativeUser(t, server, 'carol')

  // Never set: her own profile answers the defaults.
  const empty = await call(win, 'getMyUserProfile')
  assert.equal(empty.code, 0, JSON.stringify(empty))
  assert.deepEqual([empty.data.userId, empty.data.name, empty.data.level], ['alice', '', 0])
  assert.deepEqual(await call(win, 'getMyUserProfileVisibility'), { code: 0, data: 0 })

  assert.deepEqual(await call(win, 'updateMyUserProfile', [ALICE]), { code: 0 })
  const pushed = await aliceWeb.tap.wait((e) => e.name === EVENT, 'OWN_USER_PROFILE_CHANGED on the Web device')
  assert.equal(pushed.payload.userId, 'alice')
  assert.equal(pushed.payload.name, ALICE.name)
  assert.deepEqual(pushed.payload.extraProfile, { team: 'blue' })
  assert.deepEqual(pushed.payload.userExtProfile, { team: 'blue' }, "the seed table's spelling too")

  const mine = await call(win, 'getMyUserProfile')
  assert.deepEqual(mine, {
    code: 0,
    data: { userId: 'alice', uniqueId: '', ...ALICE, userExtProfile: ALICE.extraProfile },
  })
  // Only the given fields change; an empty extension value removes its key.
  assert.deepEqual(await call(win, 'updateMyUserProfile', [{ location: 'Paris', userExtProfile: { team: '', lang: 'fr' } }]), { code: 0 })
  const after = (await call(win, 'getMyUserProfile')).data
  assert.deepEqual([after.location, after.email, after.extraProfile], ['Paris', ALICE.email, { lang: 'fr' }])

  // NOT_SET = the server's default, INVISIBLE: bob reads the name and portrait only.
  const restricted = { userId: 'alice', name: ALICE.name, portraitUri: ALICE.portraitUri }
  assert.deepEqual(await bob.engine.getUserProfiles(['alice', 'nobody-here']), { code: 0, data: [restricted] })

  assert.deepEqual(await call(win, 'updateMyUserProfileVisibility', [2]), { code: 0 })
  assert.deepEqual(await h.page(win, 'return await imsync.getMyUserProfileVisibility()'), { code: 0, data: 2 })
  assert.equal(await h.page(win, 'return imsync.UserProfileVisibility.EVERYONE'), 2)
  const open = await bob.engine.getUserProfiles(['alice', 'bob'])
  assert.equal(open.code, 0)
  // bob never set a profile, but he exists (he has a token): his own is answered in full.
  assert.deepEqual(open.data.map((p) => p.userId), ['alice', 'bob'])
  assert.deepEqual([open.data[1].name, open.data[1].level, open.data[1].extraProfile], ['', 0, {}])
  const bobSees = open.data[0]
  assert.deepEqual([bobSees.email, bobSees.level, bobSees.location, bobSees.extraProfile], [ALICE.email, 100, 'Paris', { lang: 'fr' }])

  assert.deepEqual(await call(win, 'updateMyUserProfileVisibility', [1]), { code: 0 })
  assert.deepEqual(await carol.engine.getUserProfiles(['alice']), { code: 0, data: [restricted] })

  // The app server sets the uniqueId: alice's window and her Web device both hear of it, and
  // the window's FIRST event is this one (its own updates were not echoed back to it).
  await server.admin('/user/profile/set', {
    userId: 'alice',
    userProfile: JSON.stringify({ uniqueId: 'Alice01', role: 9 }),
    userExtProfile: { ext_vip: 'gold' },
  })
  const events = await pageEvents(win, 1)
  assert.equal(events.length, 1)
  assert.deepEqual([events[0].uniqueId, events[0].role, events[0].extraProfile], ['Alice01', 9, { lang: 'fr', ext_vip: 'gold' }])
  await aliceWeb.tap.wait((e) => e.name === EVENT && e.payload.uniqueId === 'Alice01', 'admin change on the Web device')
  assert.equal((await call(win, 'getMyUserProfile')).data.uniqueId, 'Alice01')
  // A profile read back may be sent back as is (its uniqueId unchanged).
  const back = (await call(win, 'getMyUserProfile')).data
  assert.deepEqual(await call(win, 'updateMyUserProfile', [{ ...back, name: 'Alice' }]), { code: 0 })

  // Search: INVISIBLE shows carol the name and portrait; EVERYONE shows bob everything.
  assert.deepEqual(await carol.engine.searchUserProfileByUniqueId('Alice01'), {
    code: 0,
    data: { userId: 'alice', name: 'Alice', portraitUri: ALICE.portraitUri },
  })
  assert.deepEqual(await call(win, 'updateMyUserProfileVisibility', [2]), { code: 0 })
  const found = await bob.engine.searchUserProfileByUniqueId('Alice01')
  assert.deepEqual([found.code, found.data.userId, found.data.uniqueId, found.data.role], [0, 'alice', 'Alice01', 9])
  assert.deepEqual(await call(win, 'searchUserProfileByUniqueId', ['Nobody01']), { code: 0, data: null })
  // From the window: alice reads bob (none set) and herself.
  const both = await call(win, 'getUserProfiles', [['bob', 'alice']])
  assert.deepEqual(both.data.map((p) => [p.userId, p.name]), [['bob', ''], ['alice', 'Alice']])
})

test('bad input answers 33003 naming the argument and changes nothing; server calls need the connection', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const win = await startAlice(t, server, { connect: false })

  // Before connect: server data needs the server; bad input is still named.
  const offline = await call(win, 'getMyUserProfile')
  assert.equal(offline.code, 30002, JSON.stringify(offline))
  assert.equal((await call(win, 'getUserProfiles', [['bob']])).code, 30002)
  assert.equal((await call(win, 'updateMyUserProfile', [{ name: 'x' }])).code, 30002)
  const offlineBad = await call(win, 'updateMyUserProfile', [{ name: 'x'.repeat(33) }])
  assert.equal(offlineBad.code, 33003)
  assert.match(offlineBad.msg, /profile\.name/)

  const token = await server.getToken('alice')
  assert.deepEqual(await call(win, 'connect', [token]), { code: 0, data: { userId: 'alice' } })
  const aliceWeb = await nativeUser(t, server, 'alice', { platform: 'Web' })
  await server.getToken('bob')
  await server.admin('/user/profile/set', { userId: 'bob', userProfile: { uniqueId: 'Bob01', name: 'Bob' } })
  assert.deepEqual(await call(win, 'updateMyUserProfile', [{ ...ALICE }]), { code: 0 })
  await aliceWeb.tap.wait((e) => e.name === EVENT, 'the valid update reaches the Web device')
  const before = await call(win, 'getMyUserProfile')
  const ext20 = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']))

  const refused = [
    [{ name: 'n'.repeat(33) }, /profile\.name/],
    [{ portraitUri: 'p'.repeat(129) }, /profile\.portraitUri/],
    [{ email: 'e'.repeat(129) }, /profile\.email/],
    [{ birthday: 'b'.repeat(33) }, /profile\.birthday/],
    [{ location: 'l'.repeat(33) }, /profile\.location/],
    [{ gender: 3 }, /profile\.gender/],
    [{ role: 101 }, /profile\.role/],
    [{ level: -1 }, /profile\.level/],
    [{ level: 1.5 }, /profile\.level/],
    [{ name: 7 }, /profile\.name/],
    [{ extraProfile: ext20 }, /profile\.extraProfile/],
    [{ extraProfile: { 'bad-key': 'v' } }, /profile\.extraProfile/],
    [{ userExtProfile: { k: 'v'.repeat(257) } }, /profile\.userExtProfile\.k/],
    [{ extraProfile: { k: 1 } }, /profile\.extraProfile\.k/],
    [{ extraProfile: {}, userExtProfile: { k: 'v' } }, /extraProfile and userExtProfile differ/],
    [{ uniqueId: 'Mine01' }, /uniqueId/],
    [{ userId: 'bob', name: 'x' }, /profile\.userId/],
    [{ nickname: 'x' }, /profile\.nickname/],
    [{}, /profile/],
    ['Alice', /profile/],
    [null, /profile/],
  ]
  for (const [arg, msg] of refused) {
    const r = await call(win, 'updateMyUserProfile', [arg])
    assert.equal(r.code, 33003, `${JSON.stringify(arg)}: ${JSON.stringify(r)}`)
    assert.match(r.msg, msg, JSON.stringify(arg))
  }
  // The server's own check: 20 extension keys in all (1 set, 19 more fit, then none).
  const nineteen = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`x${i}`, 'v']))
  assert.deepEqual(await call(win, 'updateMyUserProfile', [{ extraProfile: nineteen }]), { code: 0 })
  const full = await call(win, 'getMyUserProfile')
  assert.equal(Object.keys(full.data.extraProfile).length, 20)
  const over = await call(win, 'updateMyUserProfile', [{ name: 'changed', extraProfile: { one: 'more' } }])
  assert.equal(over.code, 33003, JSON.stringify(over))
  assert.match(over.msg, /extraProfile/)
  assert.deepEqual(await call(win, 'getMyUserProfile'), full, 'a refused update changes nothing (not even the name)')

  for (const [args, msg] of [
    [[Array.from({ length: 21 }, (_, i) => `u${i}`)], /userIds/],
    [[[]], /userIds/],
    [['alice'], /userIds/],
    [[['']], /userIds/],
    [[undefined], /userIds/],
  ]) {
    const r = await call(win, 'getUserProfiles', args)
    assert.equal(r.code, 33003, JSON.stringify(r))
    assert.match(r.msg, msg)
  }
  assert.equal((await call(win, 'getUserProfiles', [Array.from({ length: 20 }, (_, i) => `u${i}`)])).code, 0, '20 ids are fine')

  for (const v of [3, -1, '2', null]) {
    const r = await call(win, 'updateMyUserProfileVisibility', [v])
    assert.equal(r.code, 33003, JSON.stringify(v))
    assert.match(r.msg, /visibility/)
  }
  assert.deepEqual(await call(win, 'getMyUserProfileVisibility'), { code: 0, data: 0 })

  for (const u of ['a-b', 'x'.repeat(33), '', 5, null]) {
    const r = await call(win, 'searchUserProfileByUniqueId', [u])
    assert.equal(r.code, 33003, JSON.stringify(u))
    assert.match(r.msg, /uniqueId/)
  }

  // The admin API refuses the same way (400, 1002) and changes nothing either.
  const profileBefore = (await call(win, 'getMyUserProfile')).data
  for (const body of [
    { userId: 'alice', userProfile: { uniqueId: 'Bob01' } },
    { userId: 'alice', userProfile: { name: 'n'.repeat(33) } },
    { userId: 'alice', userProfile: { nickname: 'x' } },
    { userId: 'alice', userProfile: '{not json' },
  ]) {
    const r = await adminRaw(server, '/user/profile/set', body)
    assert.deepEqual([r.status, r.body.code], [400, 1002], JSON.stringify(r.body))
  }
  assert.deepEqual((await call(win, 'getMyUserProfile')).data, profileBefore)
  const bob = await adminRaw(server, '/user/profile/batch/query', { userId: ['bob'] })
  assert.equal(bob.body.userList[0].userProfile.uniqueId, 'Bob01')

  // Every refusal stayed off the wire: after a last accepted update (pushes keep their order),
  // the Web device has heard of the three accepted updates only.
  assert.deepEqual(await call(win, 'updateMyUserProfile', [{ name: 'last' }]), { code: 0 })
  await aliceWeb.tap.wait((e) => e.name === EVENT && e.payload.name === 'last', 'the last update')
  const heard = aliceWeb.profileEvents().map((e) => [e.payload.name, Object.keys(e.payload.extraProfile).length])
  assert.deepEqual(heard, [[ALICE.name, 1], [ALICE.name, 20], ['last', 20]])
})

/** A signed admin call answering whatever it answers. */
async function adminRaw(server, route, body) {
  const crypto = require('node:crypto')
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const headers = {
    'Content-Type': 'application/json',
    'App-Key': h.APPKEY,
    Nonce: nonce,
    Timestamp: timestamp,
    Signature: crypto.createHmac('sha256', SECRET).update(nonce + timestamp).digest('hex'),
  }
  const res = await fetch(`${server.url}${route}`, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}
