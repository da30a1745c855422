'use strict'
// Shared helpers for the JS tests of the native Engine (built addon, loaded through the
// generated loader). Every test gets its own temp dbpath and closes its engine.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Engine } = require('../../index.js')
const { mulberry32 } = require('./prng')

const APPKEY = 'testkey'
const ME = 'me'
/** A fixed past moment, so sentTimes given in tests never collide with "now". */
const T0 = 1_700_000_000_000

const PRIVATE = 1
const DISCUSSION = 2
const GROUP = 3
const CHATROOM = 4
const CUSTOMER_SERVICE = 5
const SYSTEM = 6
const ULTRA_GROUP = 10

function tmpDir(tag = 'db') {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imsync-${tag}-`))
}

/** The file-name form of an id: kept when it is [A-Za-z0-9_-]+, else hex-encoded. */
function isPlainId(s) {
  return /^[A-Za-z0-9_-]+$/.test(s)
}

function dbFileOf(dbpath, appkey, userId) {
  return path.join(dbpath, 'imsync', appkey, `${userId}.db`)
}

/**
 * Creates an engine on a fresh temp dbpath and opens `userId`. The engine is closed and the
 * directory removed when the test ends (t.after); tests also close it explicitly.
 */
async function openEngine(t, { appkey = APPKEY, userId = ME, dbpath, keep = false } = {}) {
  const dir = dbpath ?? tmpDir()
  const engine = new Engine({ appkey, dbpath: dir, logOutputLevel: 1 })
  const r = await engine.open(userId)
  assert.equal(r.code, 0, `open(${userId}) failed: ${JSON.stringify(r)}`)
  t.after(async () => {
    await engine.close()
    if (!keep) fs.rmSync(dir, { recursive: true, force: true })
  })
  return { engine, dir, dbFile: dbFileOf(dir, appkey, userId) }
}

/** Awaits an envelope, failing on a throw or a rejection (no call may do either). */
async function settle(fn) {
  let p
  try {
    p = fn()
  } catch (e) {
    assert.fail(`call threw synchronously: ${e && e.stack}`)
  }
  assert.ok(p && typeof p.then === 'function', 'call must return a promise')
  let r
  try {
    r = await p
  } catch (e) {
    assert.fail(`call rejected: ${e && e.stack}`)
  }
  assert.ok(r && typeof r === 'object' && typeof r.code === 'number', `not an envelope: ${JSON.stringify(r)}`)
  return r
}

/** Resolves the data of a successful call, failing with the envelope otherwise. */
async function ok(p, label = 'call') {
  const r = await settle(() => p)
  assert.equal(r.code, 0, `${label} failed: ${JSON.stringify(r)}`)
  return r.data
}

/** Asserts a failed call with `code` whose msg matches every pattern. */
async function fails(p, code, ...patterns) {
  const r = await settle(() => p)
  assert.equal(r.code, code, `expected code ${code}, got ${JSON.stringify(r)}`)
  assert.equal(typeof r.msg, 'string', `a failure must carry a msg: ${JSON.stringify(r)}`)
  for (const re of patterns) {
    assert.match(r.msg, re instanceof RegExp ? re : new RegExp(escapeRe(re)), `msg ${JSON.stringify(r.msg)}`)
  }
  assert.equal(r.data, undefined, 'a failure carries no data')
  return r
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const conv = (conversationType, targetId, channelId) =>
  channelId === undefined ? { conversationType, targetId } : { conversationType, targetId, channelId }
const priv = (targetId, channelId) => conv(PRIVATE, targetId, channelId)
const group = (targetId, channelId) => conv(GROUP, targetId, channelId)

const txt = (content, extra = {}) => ({ messageType: 'RC:TxtMsg', content: { content }, ...extra })

/** Inserts text messages one by one; returns the stored messages. */
async function insertTexts(engine, c, items) {
  const out = []
  for (const it of items) {
    const { text, options, ...extra } = typeof it === 'string' ? { text: it } : it
    out.push(await ok(engine.insertMessage(c, txt(text, extra), options), `insertMessage ${text}`))
  }
  return out
}

/**
 * Every message of one conversation, newest first, read through getHistoryMessages pages
 * (order 0, count 100). A page can cut a group of messages sharing one sentTime; the rest
 * of that group is read with getMessagesAroundTimestamp(t, 0, 0).
 */
async function allMessages(engine, c) {
  const seen = new Map()
  let ts = 0
  for (let guard = 0; guard < 100000; guard++) {
    const page = await ok(engine.getHistoryMessages(c, { timestamp: ts, count: 100, order: 0 }), 'history page')
    for (const m of page.list) seen.set(m.messageId, m)
    if (page.list.length === 0) break
    const last = page.list[page.list.length - 1].sentTime
    const at = await ok(engine.getMessagesAroundTimestamp(c, { timestamp: last, beforeCount: 0, afterCount: 0 }), 'around')
    for (const m of at) seen.set(m.messageId, m)
    if (!page.hasMore) break
    ts = last
  }
  return [...seen.values()].sort(newestFirst)
}

function newestFirst(a, b) {
  return b.sentTime - a.sentTime || b.messageId - a.messageId
}

const convKey = (c) => `${c.conversationType}|${c.targetId}|${c.channelId ?? ''}`

/** Everything observable about the database: conversations and all their messages. */
async function snapshot(engine) {
  const list = await ok(engine.getAllConversationList(), 'getAllConversationList')
  const out = { conversations: list, messages: {}, counts: {} }
  for (const c of list) {
    const key = convKey(c)
    const cc = conv(c.conversationType, c.targetId, c.channelId)
    out.counts[key] = await ok(engine.getMessageCount(cc), 'getMessageCount')
    out.messages[key] = await allMessages(engine, cc)
  }
  return out
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
async function waitFor(probe, { timeoutMs = 20000, label = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    last = await probe()
    if (last) return last
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${typeof label === 'function' ? label() : label}`)
    }
    // A poll interval, not an ordering sleep: the loop ends on the condition or the deadline.
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed) {
  const next = mulberry32(seed)
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    shuffle: (arr) => {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[arr[i], arr[j]] = [arr[j], arr[i]]
      }
      return arr
    },
  }
  return r
}

/** The case fold of the search contract: per code point, lowercase when that is one code point. */
function foldChar(ch) {
  const l = ch.toLowerCase()
  return [...l].length === 1 ? l : ch
}
function fold(s) {
  let out = ''
  for (const ch of s) out += foldChar(ch)
  return out
}

module.exports = {
  Engine,
  APPKEY,
  ME,
  T0,
  PRIVATE,
  DISCUSSION,
  GROUP,
  CHATROOM,
  CUSTOMER_SERVICE,
  SYSTEM,
  ULTRA_GROUP,
  tmpDir,
  isPlainId,
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
  newestFirst,
  convKey,
  snapshot,
  waitFor,
  rng,
  fold,
  foldChar,
}
