'use strict'
// Top-level RongIMLib.getConversationList({ count, startTime, order }) (issue 11; seed
// 002:L5797-5849) from a window of the test `electron` stand-in, answered from the local
// database: paging with order 0 (earlier than startTime, 0 = now, newest first) and order 1
// (later than startTime, 0 = from the oldest, oldest first), each page starting at the last
// item's time; no argument = every conversation (the seed's Electron note); bad options
// answer 33003 naming the argument without reaching the engine.

const test = require('node:test')
const assert = require('node:assert/strict')

const h = require('./electron/harness')

const T0 = 1_700_000_000_000
const N = 7

/** alice's database with N private conversations u0…u6, u<i>'s latest message at T0 + i s. */
async function seeded(t) {
  const { service, spy } = h.startService(t)
  assert.equal((await service.open('alice')).code, 0)
  // Inserted out of time order, so the answers' order comes from the times.
  for (const i of [3, 0, 6, 1, 5, 2, 4]) {
    const r = await service.call('insertMessage', [
      { conversationType: 1, targetId: `u${i}` },
      { senderUserId: `u${i}`, messageType: 'RC:TxtMsg', content: { content: `m${i}` }, messageDirection: 2, sentTime: T0 + i * 1000 },
    ])
    assert.equal(r.code, 0, JSON.stringify(r))
  }
  return { service, spy }
}

/** Page code: pages through with `order` and `count`; returns the pages' targetIds. */
const PAGES = (im, order, count) => `
  const pages = []
  let startTime = 0
  for (let guard = 0; guard < 20; guard++) {
    const r = await ${im}.getConversationList({ count: ${count}, startTime, order: ${order} })
    if (r.code !== 0) return { error: r }
    if (!r.data.length) break
    pages.push(r.data.map((c) => c.targetId))
    const last = r.data[r.data.length - 1]
    startTime = last.latestMessage.sentTime
  }
  return { pages }
`

for (const [label, open, im] of [
  ['secure window', () => h.openWindow(), 'imsync'],
  ['vendor configuration', () => h.openLegacyWindow(), 'RongIMLib'],
]) {
  test(`getConversationList (${label}): order 0 and order 1 page through every conversation`, async (t) => {
    await seeded(t)
    const win = await open()
    const newestFirst = Array.from({ length: N }, (_, i) => `u${N - 1 - i}`)
    assert.deepEqual(await h.page(win, PAGES(im, 0, 3)), { pages: [newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)] })
    const oldestFirst = [...newestFirst].reverse()
    assert.deepEqual(await h.page(win, PAGES(im, 1, 3)), { pages: [oldestFirst.slice(0, 3), oldestFirst.slice(3, 6), oldestFirst.slice(6)] })
    // A boundary in the middle, both ways; defaults: count 300, startTime 0, order 0.
    const r = await h.page(
      win,
      `const ids = (r) => r.code === 0 ? r.data.map((c) => c.targetId) : r
      return {
        before: ids(await ${im}.getConversationList({ startTime: ${T0 + 3000}, count: 2 })),
        after: ids(await ${im}.getConversationList({ startTime: ${T0 + 3000}, count: 2, order: 1 })),
        defaults: ids(await ${im}.getConversationList({})),
        bare: ids(await ${im}.getConversationList()),
        one: ids(await ${im}.getConversationList({ count: 1, order: 1 })),
        past: ids(await ${im}.getConversationList({ startTime: ${T0 + 60_000}, order: 1 })),
      }`,
    )
    assert.deepEqual(r.before, ['u2', 'u1'], 'order 0: earlier than startTime, newest first')
    assert.deepEqual(r.after, ['u4', 'u5'], 'order 1: later than startTime, oldest first')
    assert.deepEqual(r.defaults, newestFirst)
    assert.deepEqual(r.bare, newestFirst, 'no argument: every conversation')
    assert.deepEqual(r.one, ['u0'])
    assert.deepEqual(r.past, [])
  })
}

test('getConversationList: bad options answer 33003 naming the argument, without reaching the engine', async (t) => {
  const { spy } = await seeded(t)
  const win = await h.openWindow()
  const before = spy.calls.length
  const cases = [
    ['{ count: 0 }', /count/],
    ['{ count: 1001 }', /count/],
    ['{ count: "10" }', /count/],
    ['{ count: 1.5 }', /count/],
    ['{ count: NaN }', /count/],
    ['{ startTime: -1 }', /startTime/],
    ['{ startTime: "0" }', /startTime/],
    ['{ order: 2 }', /order/],
    ['{ order: "1" }', /order/],
    ['null', /options/],
    ['5', /options/],
    ['[]', /options/],
  ]
  for (const [arg, names] of cases) {
    const r = await h.page(win, `return await imsync.getConversationList(${arg})`)
    assert.equal(r.code, 33003, `${arg}: ${JSON.stringify(r)}`)
    assert.match(r.msg, names, arg)
  }
  assert.equal(spy.calls.length, before, 'refused in the window')
  // The largest page is allowed.
  assert.equal((await h.page(win, 'return (await imsync.getConversationList({ count: 1000 })).data.length')), N)
})
