'use strict'
// Arguments cross N-API as one JSON text (issue 13): src/js_args.js walks them in
// JavaScript, reading each property once into a plain copy that V8's JSON.stringify writes,
// with the bounds of issue 10. These are the guarantees that design has to keep on its own.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { openEngine, ok, priv, txt, T0 } = require('./helpers/engine')

function sparse(length) {
  const a = []
  a.length = length
  return a
}

test('a getter is read once: the huge sparse array of its second answer is never seen', async (t) => {
  const { engine } = await openEngine(t)
  let reads = 0
  const content = {
    content: 'x',
    get list() {
      reads++
      return reads === 1 ? [1, 2] : sparse(2 ** 32 - 1)
    },
  }
  const stored = await ok(engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content, sentTime: T0 }))
  assert.equal(reads, 1)
  assert.deepEqual(stored.content, { content: 'x', list: [1, 2] })
  // The same for an element of an array and for a whole argument's member.
  reads = 0
  const messages = [{ ...priv('p'), ...txt('y'), sentTime: T0 + 1, messageDirection: 1 }]
  Object.defineProperty(messages[0], 'content', {
    enumerable: true,
    get() {
      reads++
      return reads === 1 ? { content: 'once' } : { content: 'twice', big: sparse(2 ** 31) }
    },
  })
  assert.equal((await ok(engine.batchInsertMessage(messages))).inserted, 1)
  assert.equal(reads, 1)
  const [newest] = (await ok(engine.getHistoryMessages(priv('p')))).list
  assert.deepEqual(newest.content, { content: 'once' })
})

test('an own toJSON function is refused as a member; an inherited toJSON is never called', async (t) => {
  const { engine } = await openEngine(t)
  let called = 0
  const own = await engine.insertMessage(priv('p'), {
    messageType: 'RC:TxtMsg',
    content: {
      content: 'x',
      toJSON() {
        called++
        return { content: 'replaced' }
      },
    },
  })
  assert.equal(own.code, 33003, JSON.stringify(own))
  assert.equal(own.msg, 'message.content.toJSON cannot be a function')

  class Content {
    constructor() {
      this.content = 'from a class'
    }
    toJSON() {
      called++
      return { content: 'replaced' }
    }
  }
  const viaClass = await ok(engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: new Content(), sentTime: T0 }))
  assert.deepEqual(viaClass.content, { content: 'from a class' })

  // A polluted prototype: JSON.stringify would call it on every object and array it writes.
  const pollute = (proto) => {
    Object.defineProperty(proto, 'toJSON', {
      configurable: true,
      writable: true,
      value() {
        called++
        return 'replaced'
      },
    })
  }
  pollute(Object.prototype)
  pollute(Array.prototype)
  let polluted
  try {
    // Awaited directly: the test helpers JSON.stringify the answer for their messages.
    polluted = await engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'polluted', list: [1, { a: [2] }] }, sentTime: T0 + 1 })
  } finally {
    delete Object.prototype.toJSON
    delete Array.prototype.toJSON
  }
  assert.equal(called, 0)
  assert.equal(polluted.code, 0, JSON.stringify(polluted))
  assert.deepEqual(polluted.data.content, { content: 'polluted', list: [1, { a: [2] }] })
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 2)
})

test('a sparse new Array(2 ** 31) is refused from its length, at any depth', { timeout: 20_000 }, async (t) => {
  // Walking 2^31 holes (or stringifying them) would take minutes: the timeout fails that.
  const { engine } = await openEngine(t)
  const top = await engine.batchInsertMessage(new Array(2 ** 31))
  assert.equal(top.code, 33003)
  assert.equal(top.msg, 'messages has 2147483648 elements; at most 100000 are accepted')
  const nested = await engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'x', list: new Array(2 ** 31) } })
  assert.equal(nested.code, 33003)
  assert.equal(nested.msg, 'message.content.list has 2147483648 elements; at most 100000 are accepted')
  // A Proxy of an array may claim any length; it is checked before any element is read.
  let elementReads = 0
  const liar = new Proxy([], {
    get: (target, key) => (key === 'length' ? 2 ** 31 : (elementReads++, undefined)),
  })
  const proxied = await engine.deleteMessages(liar)
  assert.equal(proxied.code, 33003)
  assert.match(proxied.msg, /^messageIds has 2147483648 elements/)
  const odd = await engine.deleteMessages(new Proxy([], { get: (target, key) => (key === 'length' ? '5' : undefined) }))
  assert.equal(odd.msg, 'messageIds has a length that is not an array length')
  assert.equal(elementReads, 0)
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 0)
})

test('numbers keep their exact value; unsafe integers stay floats the core refuses', async (t) => {
  const { engine } = await openEngine(t)
  const floats = [0.1 + 0.2, Math.PI, 5e-324, 1.7976931348623157e308, -2.220446049250313e-16, 1e21, 123456.789012345]
  // 17-digit values: JSON text with the parser's default precision misread one in eight.
  for (let i = 0; i < 200; i++) floats.push(0.1 + i * 0.001, Math.sin(i) * 1e6)
  const stored = await ok(engine.insertMessage(priv('p'), { messageType: 'RC:TxtMsg', content: { content: 'x', floats, zero: -0 }, sentTime: T0 }))
  assert.deepEqual(stored.content.floats, floats)
  assert.ok(Object.is(stored.content.zero, 0))
  const unsafe = await engine.deleteMessages([2 ** 53])
  assert.equal(unsafe.code, 33003)
  assert.equal(unsafe.msg, 'messageIds[0] must be an integer, got 9007199254740992.0')
  assert.equal(await ok(engine.getMessageCount(priv('p'))), 1)
})

test('a getter that calls the engine while its arguments are read: both calls answer', async (t) => {
  const { engine } = await openEngine(t)
  await ok(engine.insertMessage(priv('q'), txt('seed', { sentTime: T0 })))
  let inner
  const outer = engine.getMessageCount({
    conversationType: 1,
    get targetId() {
      inner = engine.getMessageCount({ conversationType: 1, targetId: 'q', bad: 1n })
      return 'q'
    },
  })
  assert.equal(await ok(outer), 1)
  const r = await inner
  assert.equal(r.code, 33003)
  assert.equal(r.msg, 'conversation.bad must be a number, got a BigInt')
})

test('the key of a member is shown quoted when it is not an identifier, and cut at 64 characters', async (t) => {
  const { engine } = await openEngine(t)
  const long = 'k'.repeat(70)
  const r = await engine.getMessageCount({ conversationType: 1, targetId: 'p', [`${long}-`]: { x: NaN }, ok: { '': { '\u202e': NaN } } })
  assert.equal(r.code, 33003)
  assert.equal(r.msg, `conversation["${'k'.repeat(64)}"…].x must be a finite number, got NaN`)
  const bidi = await engine.getMessageCount({ conversationType: 1, targetId: 'p', a: { '': { '\u202e': -Infinity } } })
  assert.equal(bidi.msg, 'conversation.a[""]["\\u{202e}"] must be a finite number, got -Infinity')
})

for (const what of ['', 'no-buffer']) {
  test(`without String.prototype.isWellFormed (Node 18)${what ? ' nor Buffer' : ''}: lone surrogates and the text budget as before`, () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'arg-fallback.js'), what], {
      encoding: 'utf8',
      timeout: 120_000,
    })
    assert.equal(r.status, 0, `status ${r.status} ${r.signal}: ${r.stderr.slice(0, 1000)}`)
    const out = JSON.parse(r.stdout.trim())
    assert.equal(out.isWellFormed, 'undefined')
    assert.equal(out.buffer, what ? 'undefined' : 'function')
    assert.equal(out.open.code, 0)
    const lone = (res, where, unit, index) => {
      assert.equal(res.code, 33003, JSON.stringify(res))
      assert.equal(res.msg, `${where} contains a lone surrogate (code unit ${unit} at index ${index}); text must be valid Unicode`)
    }
    lone(out.short, 'message.content.content', '0xD800', 1)
    lone(out.long, 'message.content.content', '0xDC00', 100_000)
    lone(out.key, 'message.extra key', '0xDBFF', 1)
    assert.equal(out.pairs.code, 0, JSON.stringify(out.pairs).slice(0, 300))
    assert.equal(out.budgetFull.code, 0, JSON.stringify(out.budgetFull).slice(0, 300))
    assert.equal(out.budgetOver.code, 33003)
    assert.equal(
      out.budgetOver.msg,
      "conversation.pad is 67108837 bytes of text, past what is left of the call's budget: the arguments of one call may hold at most 64 MiB of text",
    )
  })
}
