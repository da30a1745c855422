'use strict'
// Hostile arguments (issue 10, items 1–4, 9, 10): through the native Engine and, for the
// ones a window can send, through the real `imsync:call` handler from a renderer in another
// process. Every call resolves an envelope quickly, refuses with 33003 naming the argument
// (or the vendor's limit code) and changes nothing.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { openEngine, ok, priv, T0 } = require('./helpers/engine')
const { CASES } = require('./fixtures/hostile-arg')

const FIXTURE = path.join(__dirname, 'fixtures', 'hostile-arg.js')

/** What a refused hostile call must look like: 33003, naming `argument`, nothing written. */
function assertRefused(out, argument, label) {
  assert.equal(out.outcome, 'resolved', `${label}: ${JSON.stringify(out)}`)
  assert.equal(out.result.code, 33003, `${label}: ${JSON.stringify(out.result)}`)
  assert.ok(out.result.msg.includes(argument), `${label}: msg names ${argument}: ${out.result.msg}`)
  assert.equal(out.written, false, `${label}: nothing written`)
}

const EXPECTED = {
  'sparse-max-top': ['messageIds', /4294967295 elements; at most/],
  'sparse-max-nested': ['message.content.list', /4294967295 elements/],
  'sparse-max-in-batch': ['messages[1]', /4294967295 elements/],
  'array-1e9-top': ['messages', /1000000000 elements/],
  'array-1e9-option': ['messageTypes', /1000000000 elements/],
  'sparse-1e7': ['conversations', /10000000 elements/],
  'uint8-1e7': ['message.content.bin', /typed array/],
  'uint8-1e7-top': ['conversations', /typed array/],
  'arraybuffer-1e8': ['message.content.buf', /ArrayBuffer/],
  'boxed-string-1e7': ['messageIds[0]', /String object/],
  'shared-undefined-members': ['messageIds[', /more than 200000 values/],
  'nested-sparse-1e5': ['conversations[0]', /more than 200000 values/],
}

test('items 1–2: sparse, huge and binary arguments at any position: 33003 at once, no abort, nothing written', () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), [...CASES].sort())
  for (const which of CASES) {
    const r = spawnSync(process.execPath, [FIXTURE, which], { encoding: 'utf8', timeout: 120_000 })
    assert.equal(r.status, 0, `${which}: the process must not die (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(0, 500)}`)
    const out = JSON.parse(r.stdout.trim())
    const [argument, rule] = EXPECTED[which]
    assertRefused(out, argument, which)
    assert.match(out.result.msg, rule, which)
    // The JS thread is not held: the argument is refused from its length or kind, not
    // walked (it took ~30 s for Uint8Array(1e7) and 2.5 s for a sparse length of 1e7).
    assert.ok(out.jsThreadMs < 1000, `${which}: held the JS thread ${out.jsThreadMs} ms`)
  }
})

test('item 3: throwing getters and Proxies resolve 33003 naming the place; the call never throws', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'seed' }, sentTime: T0 }))
  const boom = () => {
    throw new Error('boom from a getter')
  }
  const throwingProxy = (trap) =>
    new Proxy({ conversationType: 1, targetId: 'p' }, { [trap]: () => boom() })
  const cases = [
    ['getter on the conversation', () => engine.getHistoryMessages({ get conversationType() { return boom() }, targetId: 'p' }), 'conversation.conversationType', /boom from a getter/],
    ['getter deep in content', () => engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'x', nested: { get deep() { return boom() } } } }), 'message.content.nested.deep', /boom from a getter/],
    ['getter throwing a non-Error', () => engine.deleteMessages([1, { get x() { throw 'plain string' } }]), 'messageIds[1].x', /plain string/],
    ['Proxy get throws', () => engine.getMessageCount(throwingProxy('get')), 'conversation', /boom/],
    ['Proxy ownKeys throws', () => engine.getMessageCount(throwingProxy('ownKeys')), 'conversation', /boom/],
    ['Proxy getOwnPropertyDescriptor throws', () => engine.getMessageCount(throwingProxy('getOwnPropertyDescriptor')), 'conversation', /boom/],
    ['Proxy in a batch', () => engine.batchInsertMessage([throwingProxy('get')]), 'messages[0]', /boom/],
    ['revoked Proxy', () => {
      const { proxy, revoke } = Proxy.revocable({}, {})
      revoke()
      return engine.insertMessage(priv('p'), proxy)
    }, 'message', /revoked/],
  ]
  for (const [label, call, argument, thrown] of cases) {
    let p
    assert.doesNotThrow(() => {
      p = call()
    }, label)
    assert.ok(p instanceof Promise, label)
    const r = await p
    assert.equal(r.code, 33003, `${label}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(argument), `${label}: ${r.msg}`)
    assert.match(r.msg, thrown, label)
  }
  // Errors spell arguments as the API does, and numbers as JavaScript prints them.
  const named = await engine.sendReadReceiptMessage('p2', Infinity, 0)
  assert.equal(named.code, 33003)
  assert.equal(named.msg, 'messageUId must be a finite number, got Infinity')
  // An odd key is quoted in the path, so it cannot garble or forge the message.
  const odd = await engine.getMessageCount({ conversationType: 1, targetId: 'p', ['a\nb']: { get x() { return boom() } } })
  assert.equal(odd.code, 33003)
  assert.ok(odd.msg.startsWith('conversation["a\\nb"].x cannot be read'), odd.msg)
  // No exception was left pending: the engine still answers, and nothing was written.
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 1)
})

test('item 4: searchContent and inserted expansion have limits; refused inserts write nothing', async (t) => {
  const { engine, dbFile } = await openEngine(t)
  const base = { messageType: 'RC:TxtMsg', content: { content: 'x' }, sentTime: T0 }
  const LIMIT = 128 * 1024
  const sizeBefore = fs.statSync(dbFile).size
  let r = await engine.insertMessage(priv('p'), base, { searchContent: 'a'.repeat(10 * 1024 * 1024) })
  assert.equal(r.code, 33003, JSON.stringify(r).slice(0, 300))
  assert.match(r.msg, /options\.searchContent is 10485760 bytes; the limit is 131072/)
  r = await engine.insertMessage(priv('p'), base, { searchContent: 'a'.repeat(LIMIT + 1) })
  assert.equal(r.code, 33003)
  await ok(engine.insertMessage(priv('p'), { ...base, sentTime: T0 + 1 }, { searchContent: 'b'.repeat(LIMIT) }))

  const exp = (expansion) => ({ ...base, sentTime: T0 + 2, canIncludeExpansion: true, expansion })
  const manyKeys = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
  const refused = [
    ['one 10 MB value', { k: 'v'.repeat(10 * 1024 * 1024) }, /message\.expansion\.k is 10485760 characters; at most 4096/],
    ['100,000 keys', manyKeys(100_000), /message\.expansion has 100000 keys; at most 300/],
    ['301 keys', manyKeys(301), /has 301 keys; at most 300/],
    ['a 33-character key', { ['k'.repeat(33)]: 'v' }, /must be 1 to 32 characters/],
    ['a key with a space', { 'a b': 'v' }, /must be 1 to 32 characters/],
    ['a 4097-character value', { k: 'v'.repeat(4097) }, /4097 characters; at most 4096/],
  ]
  for (const [label, expansion, rule] of refused) {
    r = await engine.insertMessage(priv('p'), exp(expansion))
    assert.equal(r.code, 34010, `${label}: ${JSON.stringify(r).slice(0, 300)}`)
    assert.match(r.msg, rule, label)
  }
  r = await engine.insertMessage(priv('p'), exp({ k: 5 }))
  assert.equal(r.code, 33003)
  const kept = await ok(engine.insertMessage(priv('p'), exp({ ...manyKeys(299), k0: 'v'.repeat(4096), ['x'.repeat(32)]: 'y' })))
  assert.equal(Object.keys(kept.expansion).length, 300)
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 2, 'only the two inserts within the limits were stored')
  // The refused 10 MB inserts left no trace in the file (it grew by 41 MB before).
  assert.ok(fs.statSync(dbFile).size - sizeBefore < 2 * 1024 * 1024)
})

test('item 9: lone surrogates are refused with 33003 naming the argument, nothing stored', async (t) => {
  const { engine } = await openEngine(t)
  const base = { messageType: 'RC:TxtMsg', content: { content: 'ok' }, sentTime: T0 }
  const cases = [
    ['content', () => engine.insertMessage(priv('p'), { ...base, content: { content: 'a\uD800b' } }), 'message.content.content', 'index 1'],
    ['trailing high surrogate', () => engine.insertMessage(priv('p'), { ...base, content: { content: 'abc\uD83D' } }), 'message.content.content', 'index 3'],
    ['lone low surrogate', () => engine.insertMessage(priv('p'), { ...base, content: { content: '\uDC00' } }), 'message.content.content', '0xDC00'],
    ['targetId', () => engine.insertMessage(priv('p\uDFFF'), base), 'conversation.targetId', '0xDFFF'],
    ['an object key', () => engine.insertMessage(priv('p'), { ...base, content: { content: 'x', ['k\uD800']: 1 } }), 'message.content key', '0xD800'],
    ['a keyword', () => engine.searchMessages(priv('p'), '\uD800', 0, 10), 'keyword', '0xD800'],
    ['a draft', () => engine.saveTextMessageDraft(priv('p'), 'draft \uDBFF'), 'draft', '0xDBFF'],
    ['in a batch', () => engine.batchInsertMessage([{ ...priv('p'), ...base, messageDirection: 1 }, { ...priv('p'), ...base, messageDirection: 1, content: { content: '\uD800' } }]), 'messages[1].content.content', '0xD800'],
  ]
  for (const [label, call, argument, where] of cases) {
    const r = await call()
    assert.equal(r.code, 33003, `${label}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(argument), `${label}: ${r.msg}`)
    assert.ok(r.msg.includes('lone surrogate') && r.msg.includes(where), `${label}: ${r.msg}`)
  }
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 0)
  assert.equal(await ok(engine.getTextMessageDraft(priv('p'))), '')
  // Real U+FFFD characters and well-formed pairs (emoji) are text like any other.
  const stored = await ok(engine.insertMessage(priv('p'), { ...base, content: { content: 'a\uFFFDb 😀 \uD83D\uDE00' } }))
  assert.equal(stored.content.content, 'a\uFFFDb 😀 😀')
})

test('item 10: lookups that find nothing resolve data: null', async (t) => {
  const { engine } = await openEngine(t)
  for (const [label, call] of [
    ['getConversation', () => engine.getConversation(priv('nobody'))],
    ['getFirstUnreadMessageInfo', () => engine.getFirstUnreadMessageInfo(priv('nobody'))],
  ]) {
    const r = await call()
    assert.deepEqual(r, { code: 0, data: null }, label)
    assert.ok(Object.hasOwn(r, 'data'), label)
  }
  // A read message leaves no first unread: still data: null.
  await ok(engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'x' }, messageDirection: 2, senderUserId: 'p', sentTime: T0 }))
  assert.deepEqual(await engine.getFirstUnreadMessageInfo(priv('p')), { code: 0, data: null })
  // Calls without a result still carry no data.
  assert.deepEqual(await engine.clearMessagesUnreadStatus(priv('p')), { code: 0 })
})

test('items 1–3 through IPC: a window sending hostile arguments gets 33003 and the main process lives', async (t) => {
  const h = require('./electron/harness')
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const raw = (method, args) =>
    h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:call', ${method}, ${args})`)
  const sparse = (n) => `(() => { const a = []; a.length = ${n}; return a })()`
  const cases = [
    ["'deleteMessages'", `[${sparse('2 ** 32 - 1')}]`, 'messageIds', /4294967295 elements/],
    ["'insertMessage'", `[{ conversationType: 1, targetId: 'p' }, { messageType: 'RC:TxtMsg', content: { content: 'x', list: ${sparse('2 ** 32 - 1')} } }]`, 'message.content.list', /elements/],
    ["'batchInsertMessage'", '[new Array(1e9)]', 'messages', /1000000000 elements/],
    ["'getConversations'", `[${sparse('1e7')}]`, 'conversations', /10000000 elements/],
    ["'insertMessage'", "[{ conversationType: 1, targetId: 'p' }, { messageType: 'RC:TxtMsg', content: { content: 'x', bin: new Uint8Array(1e7) } }]", 'message.content.bin', /typed array/],
    ["'searchMessages'", "[{ conversationType: 1, targetId: 'p' }, 'a\\uD800', 0, 10]", 'keyword', /lone surrogate/],
    ["'deleteMessages'", "[[new String('x'.repeat(1e7))]]", 'messageIds[0]', /String object/],
    ["'deleteMessages'", "[(() => { const o = {}; for (let i = 0; i < 129; i++) o[String.fromCharCode(i)] = undefined; return new Array(100000).fill(o) })()]", 'messageIds[', /more than 200000 values/],
  ]
  for (const [method, args, argument, rule] of cases) {
    const r = await h.withDeadline(raw(method, args), 30_000, `${method} ${args.slice(0, 60)}`)
    assert.equal(r.code, 33003, `${method}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(argument), `${method}: ${r.msg}`)
    assert.match(r.msg, rule)
  }
  // The argument list itself as a sparse array of length 2^32 - 1.
  const r = await raw("'getAllConversationList'", sparse('2 ** 32 - 1'))
  assert.equal(r.code, 33003, JSON.stringify(r))
  assert.match(r.msg, /at most 16 arguments/)
  // Item 3 through the renderer API object: an argument whose getter throws while it is
  // cloned for IPC resolves an envelope instead of throwing. (In a window without context
  // isolation: with it, Electron's contextBridge itself runs the getter in the page before
  // imsync sees the call.)
  const legacy = await h.openLegacyWindow()
  const viaApi = await h.page(
    legacy,
    `const arg = { conversationType: 1, get targetId() { throw new Error('boom') } }
     let threw = false
     let p
     try { p = RongIMLib.electronExtension.getMessageCount(arg) } catch { threw = true }
     return { threw, result: await p }`,
  )
  assert.equal(viaApi.threw, false)
  assert.notEqual(viaApi.result.code, 0)
  assert.equal(typeof viaApi.result.msg, 'string')
  // The main process and its engine are fine, and nothing was written.
  assert.deepEqual(await raw("'getAllConversationList'", '[]'), { code: 0, data: [] })
  assert.ok(spy.calls.length > 0)
})
