'use strict'
// Conversation-list benchmark of issue 6: getTotalUnreadCount and getConversationList with
// 10,000 conversations and 1,000,000 messages (target: p50 ≤ 1 ms each), measured through
// imsync's native Engine and through a hand-written better-sqlite3 baseline (below), on
// the same generated corpus (corpus.js) and the same unread state, in one run.
//
//   bash benches/conversations-run.sh                     # release build, the reported sizes
//   NAPI_RS_NATIVE_LIBRARY_PATH=$PWD/imsync.linux-x64-gnu.node \
//     BENCH_CONVERSATIONS=500 BENCH_MESSAGES=20000 node --expose-gc benches/conversations.js
//
// Environment: BENCH_CONVERSATIONS (10000), BENCH_MESSAGES (1000000), BENCH_CALLS (2000 timed
// calls per query and side), BENCH_CALLS_300 (the same: timed calls of the informational
// getConversationList(0, 300)), BENCH_WARMUP (100 untimed calls per query and side),
// BENCH_ROUNDS (10: the timed calls run in rounds that alternate imsync and baseline, so
// both sides see the same machine load), BENCH_UNREAD_SHARE (0.5: share of conversations
// given unread messages), BENCH_UNREAD_CONCURRENCY (8: insertMessage calls in flight while
// the unread state is built), BENCH_OUT (also write the results as JSON to this file),
// BENCH_KEEP_DATA=1 (keep benches/.data-conv/ instead of deleting it).
//
// Every call is timed with process.hrtime.bigint() around an awaited promise: the Engine's
// own, and for the baseline an async wrapper around the synchronous better-sqlite3 call (as
// an app's IPC handler on the Electron main thread would be).

const fs = require('node:fs')
const path = require('node:path')
const os = require('node:os')
const { execFileSync } = require('node:child_process')

const Database = require('better-sqlite3')
const { generate, rng } = require('./corpus.js')
const { Engine } = require(path.join(__dirname, '..', 'index.js'))

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const CONVERSATIONS = env('BENCH_CONVERSATIONS', 10_000)
const N = env('BENCH_MESSAGES', 1_000_000)
const CALLS = env('BENCH_CALLS', 2000)
const CALLS_300 = env('BENCH_CALLS_300', CALLS)
const WARMUP = env('BENCH_WARMUP', 100)
const ROUNDS = Math.max(1, env('BENCH_ROUNDS', 10))
const UNREAD_SHARE = env('BENCH_UNREAD_SHARE', 0.5)
const UNREAD_CONCURRENCY = Math.max(1, env('BENCH_UNREAD_CONCURRENCY', 8))
const MAX_UNREAD_PER_CONVERSATION = 20
const BATCH = 500
const TARGET_P50_MS = 1
const USER = 'bench-user'
const DATA = path.join(__dirname, '.data-conv')

const now = () => process.hrtime.bigint()
const toMs = (ns) => Number(ns) / 1e6
const gc = () => global.gc && global.gc()
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a)

function check(res, what) {
  if (!res || res.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(res).slice(0, 300)}`)
  return res.data
}

function pct(sorted, q) {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function summary(samplesMs) {
  const s = Float64Array.from(samplesMs).sort()
  let sum = 0
  for (const x of s) sum += x
  return { n: s.length, p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), max: s[s.length - 1], mean: sum / s.length }
}

// ---- the baseline ------------------------------------------------------------------------

// What an Electron developer would write by hand on the main process with better-sqlite3
// (synchronous): a messages table, and a conversations table kept right in the same
// transaction as every insert (unread and mention counts, the latest message, the sort
// time, the newest unread time and the last @-mention), with the indexes a careful
// developer would add: the conversation key, the list order (plain and pinned first), and
// a covering partial index for the unread sum that holds only conversations with unread
// messages. No search index: this benchmark measures the conversation calls only.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  id                INTEGER PRIMARY KEY,
  type              INTEGER NOT NULL,
  target_id         TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL DEFAULT '',
  latest_message_id INTEGER,
  sort_time         INTEGER NOT NULL DEFAULT 0,
  unread_count      INTEGER NOT NULL DEFAULT 0,
  mention_count     INTEGER NOT NULL DEFAULT 0,
  mentioned_info    TEXT,
  last_unread_time  INTEGER NOT NULL DEFAULT 0,
  is_top            INTEGER NOT NULL DEFAULT 0,
  level             INTEGER NOT NULL DEFAULT 0,
  draft             TEXT    NOT NULL DEFAULT '',
  operation_time    INTEGER NOT NULL DEFAULT 0,
  UNIQUE (type, target_id, channel_id)
);
CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (sort_time);
CREATE INDEX IF NOT EXISTS conversations_by_top ON conversations (is_top, sort_time);
CREATE INDEX IF NOT EXISTS conversations_unread ON conversations (type, level, unread_count)
  WHERE unread_count > 0;

CREATE TABLE IF NOT EXISTS messages (
  id              INTEGER PRIMARY KEY,
  uid             TEXT UNIQUE,
  conv_id         INTEGER NOT NULL,
  sender          TEXT    NOT NULL,
  object_name     TEXT    NOT NULL,
  content         TEXT    NOT NULL,
  direction       INTEGER NOT NULL,
  sent_time       INTEGER NOT NULL,
  received_time   INTEGER NOT NULL,
  sent_status     INTEGER NOT NULL,
  received_status INTEGER NOT NULL,
  mentioned       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (conv_id, sent_time);
`

/** Notification levels that notify: −1 all messages, 0 not set. Anything else is muted. */
const NOTIFYING_LEVELS = '(-1, 0)'

function mentionsUser(content, userId) {
  const info = content && content.mentionedInfo
  if (!info) return false
  if (info.type === 1) return true
  return info.type === 2 && Array.isArray(info.userIdList) && info.userIdList.includes(userId)
}

class ConversationBaseline {
  constructor(file, userId) {
    this.userId = userId
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
    const db = this.db
    this.findConv = db.prepare('SELECT id FROM conversations WHERE type = ? AND target_id = ? AND channel_id = ?')
    this.newConv = db.prepare('INSERT INTO conversations (type, target_id, channel_id) VALUES (?, ?, ?)')
    this.putMessage = db.prepare(
      `INSERT OR IGNORE INTO messages (uid, conv_id, sender, object_name, content, direction,
         sent_time, received_time, sent_status, received_status, mentioned)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.touchConv = db.prepare(
      `UPDATE conversations SET
         latest_message_id = CASE WHEN @time >= sort_time THEN @id ELSE latest_message_id END,
         sort_time = max(sort_time, @time),
         unread_count = unread_count + @unread,
         mention_count = mention_count + @mention,
         mentioned_info = CASE WHEN @mention THEN @mentionedInfo ELSE mentioned_info END,
         last_unread_time = CASE WHEN @unread THEN max(last_unread_time, @time) ELSE last_unread_time END,
         operation_time = @now
       WHERE id = @conv`,
    )
    // One transaction per call, like the Engine: a batch (imported history, read) or one
    // message (read unless the caller says it is unread).
    this.insertTx = db.transaction((items, isUnread) => {
      let inserted = 0
      for (const { conversation: c, message: m } of items) {
        const channel = c.channelId || ''
        const found = this.findConv.get(c.conversationType, c.targetId, channel)
        const convId = found ? found.id : this.newConv.run(c.conversationType, c.targetId, channel).lastInsertRowid
        const received = (m.messageDirection ?? 1) === 2
        const unread = received && isUnread ? 1 : 0
        const mentioned = received && mentionsUser(m.content, this.userId) ? 1 : 0
        const r = this.putMessage.run(
          m.messageUId ?? null,
          convId,
          m.senderUserId,
          m.messageType,
          JSON.stringify(m.content),
          m.messageDirection ?? 1,
          m.sentTime,
          m.receivedTime ?? m.sentTime,
          m.sentStatus ?? 30,
          unread ? 0 : 1,
          mentioned,
        )
        if (r.changes === 0) continue
        inserted++
        this.touchConv.run({
          id: r.lastInsertRowid,
          time: m.sentTime,
          unread,
          mention: unread & mentioned,
          mentionedInfo: unread & mentioned ? JSON.stringify(m.content.mentionedInfo) : null,
          now: Date.now(),
          conv: convId,
        })
      }
      return inserted
    })

    this.listSql = `SELECT c.id AS c_id, c.type AS c_type, c.target_id AS c_target_id,
         c.channel_id AS c_channel_id, c.sort_time AS c_sort_time, c.unread_count AS c_unread_count,
         c.mention_count AS c_mention_count, c.mentioned_info AS c_mentioned_info,
         c.last_unread_time AS c_last_unread_time, c.is_top AS c_is_top, c.level AS c_level,
         c.draft AS c_draft, c.operation_time AS c_operation_time,
         m.id AS m_id, m.uid AS m_uid, m.sender AS m_sender, m.object_name AS m_object_name,
         m.content AS m_content, m.direction AS m_direction, m.sent_time AS m_sent_time,
         m.received_time AS m_received_time, m.sent_status AS m_sent_status,
         m.received_status AS m_received_status, m.mentioned AS m_mentioned
       FROM conversations c LEFT JOIN messages m ON m.id = c.latest_message_id`
    this.statements = new Map()
  }

  /** A statement prepared once per distinct SQL text (as an app keeps them in a map). */
  stmt(sql) {
    let s = this.statements.get(sql)
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)))
    return s
  }

  batchInsertMessage(messages) {
    const items = messages.map((m) => ({ conversation: m, message: m }))
    const inserted = this.insertTx(items, false)
    return { code: 0, data: { inserted, duplicates: messages.length - inserted } }
  }

  insertMessage(conversation, message, options = {}) {
    const inserted = this.insertTx([{ conversation, message }], !!options.isUnread)
    return { code: 0, data: { inserted } }
  }

  unreadSql(includeMuted, typeCount) {
    let sql = 'SELECT coalesce(sum(unread_count), 0) FROM conversations WHERE unread_count > 0'
    if (!includeMuted) sql += ` AND level IN ${NOTIFYING_LEVELS}`
    if (typeCount) sql += ` AND type IN (${new Array(typeCount).fill('?').join(', ')})`
    return sql
  }

  getTotalUnreadCount(includeMuted = false, conversationTypes = []) {
    const types = conversationTypes || []
    const n = this.stmt(this.unreadSql(!!includeMuted, types.length)).pluck().get(...types)
    return { code: 0, data: n }
  }

  listStatementSql(channel, topPriority) {
    return `${this.listSql} WHERE c.sort_time < ? ${channel ? 'AND c.channel_id = ?' : ''}
       ORDER BY ${topPriority ? 'c.is_top DESC, ' : ''}c.sort_time DESC LIMIT ?`
  }

  getConversationList(startTime, count, channelId, topPriority) {
    const channel = channelId != null
    const stmt = this.stmt(this.listStatementSql(channel, !!topPriority))
    const bound = startTime || Number.MAX_SAFE_INTEGER
    const rows = channel ? stmt.all(bound, channelId, count) : stmt.all(bound, count)
    return { code: 0, data: rows.map(conversationOf) }
  }

  plans() {
    const plan = (sql, ...args) =>
      this.db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...args)
        .map((r) => r.detail)
        .join('; ')
    return {
      'getTotalUnreadCount(false)': plan(this.unreadSql(false, 0)),
      'getTotalUnreadCount(true, [1, 3])': plan(this.unreadSql(true, 2), 1, 3),
      'getConversationList(0, 50)': plan(this.listStatementSql(false, false), Number.MAX_SAFE_INTEGER, 50),
    }
  }

  close() {
    this.db.pragma('wal_checkpoint(TRUNCATE)')
    this.db.close()
  }
}

/** The same object shape as imsync's IAReceivedMessage. */
function messageOf(r) {
  const received = r.m_received_status
  return {
    messageId: r.m_id,
    messageUId: r.m_uid || '',
    conversationType: r.c_type,
    targetId: r.c_target_id,
    channelId: r.c_channel_id,
    senderUserId: r.m_sender,
    messageType: r.m_object_name,
    content: JSON.parse(r.m_content),
    sentTime: r.m_sent_time,
    receivedTime: r.m_received_time,
    messageDirection: r.m_direction,
    sentStatus: r.m_sent_status,
    receivedStatus: received,
    receivedStatusInfo: {
      isRead: (received & 1) !== 0,
      isListened: (received & 2) !== 0,
      isDownload: (received & 4) !== 0,
      isRetrieved: (received & 8) !== 0,
    },
    isPersisted: true,
    isCounted: true,
    isStatusMessage: false,
    isMentioned: r.m_mentioned !== 0,
    isOfflineMessage: false,
    disableNotification: false,
    canIncludeExpansion: false,
    expansion: null,
    directedUserIds: [],
  }
}

/** The same object shape as imsync's IReceivedConversation. */
function conversationOf(r) {
  const level = r.c_level
  return {
    conversationType: r.c_type,
    targetId: r.c_target_id,
    channelId: r.c_channel_id,
    unreadMessageCount: r.c_unread_count,
    latestMessage: r.m_id == null ? null : messageOf(r),
    hasMentioned: r.c_mention_count > 0,
    mentionedInfo: r.c_mention_count > 0 && r.c_mentioned_info ? JSON.parse(r.c_mentioned_info) : null,
    isTop: r.c_is_top !== 0,
    notificationLevel: level,
    notificationStatus: level === 0 || level === -1 ? 2 : 1,
    draft: r.c_draft,
    lastUnreadTime: r.c_last_unread_time,
    operationTime: r.c_operation_time,
    sortTime: r.c_sort_time,
  }
}

// ---- corpus and unread state ---------------------------------------------------------------

/** Message `i` of the corpus as a batchInsertMessage element: imported history, so read. */
function importMessage(corpus, i) {
  const m = corpus.message(i)
  // corpus.js marks 5% of received messages receivedStatus 0; an explicit receivedStatus
  // wins over imsync's "imported history is read" default, so leave it out.
  delete m.receivedStatus
  return m
}

/**
 * The unread state: in UNREAD_SHARE of the conversations (seeded), 1–20 further received
 * messages, newer than all history and interleaved across conversations in time. In a
 * third of the chosen groups one of them @-mentions the user (mentionedInfo type 2); in
 * another tenth one @-mentions someone else (which must not count).
 */
function unreadPlan(corpus) {
  const rand = rng(6006)
  const items = []
  const mentionConversations = new Set()
  let lastTime = 0
  for (let i = 0; i < corpus.messages; i++) if (corpus.time[i] > lastTime) lastTime = corpus.time[i]
  corpus.conversations.forEach((conv, c) => {
    if (rand() >= UNREAD_SHARE) return
    const n = 1 + Math.floor(rand() * MAX_UNREAD_PER_CONVERSATION)
    const group = conv.conversationType === 3
    const r = rand()
    const mentionAt = group && r < 1 / 3 ? Math.floor(rand() * n) : -1
    const otherAt = group && r >= 1 / 3 && r < 1 / 3 + 0.1 ? Math.floor(rand() * n) : -1
    for (let k = 0; k < n; k++) {
      const content = { content: corpus.texts[Math.floor(rand() * corpus.messages)] }
      if (k === mentionAt) {
        content.mentionedInfo = { type: 2, userIdList: [USER] }
        mentionConversations.add(c)
      } else if (k === otherAt) {
        content.mentionedInfo = { type: 2, userIdList: ['member7'] }
      }
      items.push({
        c,
        message: {
          messageType: 'RC:TxtMsg',
          content,
          senderUserId: group ? `member${1 + Math.floor(rand() * 50)}` : conv.targetId,
          messageDirection: 2,
        },
      })
    }
  })
  // Arrival order: shuffled across conversations, one second apart, after all history.
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  items.forEach((it, k) => {
    it.message.sentTime = lastTime + (k + 1) * 1000
    it.message.receivedTime = it.message.sentTime + 50
    it.message.messageUId = `U${k.toString(36).toUpperCase().padStart(8, '0')}-IMSC`
  })
  return { items, mentionConversations, conversationsWithUnread: new Set(items.map((it) => it.c)).size }
}

function conversationKey(corpus, c) {
  const { conversationType, targetId } = corpus.conversations[c]
  return { conversationType, targetId, channelId: '' }
}

// ---- ingest ----------------------------------------------------------------------------------

async function ingest(corpus, insert, { yieldBetween }) {
  const calls = []
  let inserted = 0
  gc()
  const t0 = now()
  for (let i = 0; i < corpus.messages; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(i + BATCH, corpus.messages); j++) batch.push(importMessage(corpus, j))
    const c0 = now()
    const res = await insert(batch)
    calls.push(toMs(now() - c0))
    inserted += check(res, 'batchInsertMessage').inserted
    if (yieldBetween) await new Promise((r) => setImmediate(r))
    if ((i / BATCH) % 200 === 199) log(`  ${i + BATCH} messages`)
  }
  const seconds = toMs(now() - t0) / 1000
  if (inserted !== corpus.messages) throw new Error(`inserted ${inserted} of ${corpus.messages}`)
  return { messages: inserted, seconds, msgsPerSec: inserted / seconds, call: summary(calls) }
}

/** Inserts the unread messages, up to `concurrency` calls in flight; every envelope checked. */
async function insertUnread(corpus, plan, insert, concurrency) {
  const calls = []
  let next = 0
  gc()
  const t0 = now()
  async function worker() {
    while (next < plan.items.length) {
      const it = plan.items[next++]
      const c0 = now()
      const res = await insert(conversationKey(corpus, it.c), it.message, { isUnread: true })
      calls.push(toMs(now() - c0))
      check(res, 'insertMessage')
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { messages: plan.items.length, seconds: toMs(now() - t0) / 1000, concurrency, call: summary(calls) }
}

// ---- timed calls -------------------------------------------------------------------------------

async function timeBlock(fn, n, samples) {
  for (let k = 0; k < n; k++) {
    const t0 = now()
    const res = await fn()
    samples.push(toMs(now() - t0))
    if (!res || res.code !== 0) throw new Error(`call failed: ${JSON.stringify(res).slice(0, 300)}`)
  }
}

/**
 * Times `calls` calls of each side after WARMUP untimed ones. The timed calls run in
 * ROUNDS rounds; each round runs a block of imsync calls and a block of baseline calls,
 * alternating which goes first, so a burst of load on the shared machine hits both.
 */
async function measure(name, sides, calls) {
  log(`${name}: ${WARMUP} warm-up + ${calls} timed calls per side`)
  for (const fn of Object.values(sides)) for (let k = 0; k < WARMUP; k++) check(await fn(), name)
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]))
  const order = Object.keys(sides)
  for (let r = 0; r < ROUNDS; r++) {
    const n = Math.floor(calls / ROUNDS) + (r < calls % ROUNDS ? 1 : 0)
    gc()
    for (const side of r % 2 ? [...order].reverse() : order) await timeBlock(sides[side], n, samples[side])
  }
  const out = Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, summary(s)]))
  log(`${name}`, JSON.stringify(out))
  return out
}

// ---- checks ------------------------------------------------------------------------------------

function sameRow(a, b) {
  const diff = []
  for (const k of ['conversationType', 'targetId', 'channelId', 'unreadMessageCount', 'hasMentioned', 'isTop', 'notificationLevel', 'lastUnreadTime', 'sortTime']) {
    if (a[k] !== b[k]) diff.push(`${k} ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`)
  }
  if ((a.latestMessage?.messageUId ?? null) !== (b.latestMessage?.messageUId ?? null)) diff.push('latestMessage.messageUId')
  if (JSON.stringify(a.latestMessage?.content) !== JSON.stringify(b.latestMessage?.content)) diff.push('latestMessage.content')
  if (JSON.stringify(a.mentionedInfo) !== JSON.stringify(b.mentionedInfo)) diff.push('mentionedInfo')
  return diff
}

function keyDiff(a, b) {
  const ka = new Set(Object.keys(a || {}))
  const kb = new Set(Object.keys(b || {}))
  return { onlyImsync: [...ka].filter((k) => !kb.has(k)), onlyBaseline: [...kb].filter((k) => !ka.has(k)) }
}

function comparePages(name, a, b, problems) {
  if (a.length !== b.length) problems.push({ call: name, what: 'length', imsync: a.length, baseline: b.length })
  const ia = a.map((c) => `${c.conversationType}:${c.targetId}`)
  const ib = b.map((c) => `${c.conversationType}:${c.targetId}`)
  if (ia.join() !== ib.join()) {
    const at = ia.findIndex((x, i) => x !== ib[i])
    problems.push({ call: name, what: 'targetId order', firstDifferenceAt: at, imsync: ia.slice(at, at + 3), baseline: ib.slice(at, at + 3) })
    return
  }
  for (let i = 0; i < a.length; i++) {
    const d = sameRow(a[i], b[i])
    if (d.length) {
      problems.push({ call: name, what: `row ${i} (${ia[i]})`, differences: d })
      break
    }
  }
}

// ---- the run -----------------------------------------------------------------------------------

function buildInfo() {
  const root = path.join(__dirname, '..')
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return null
    }
  }
  const addon = process.env.NAPI_RS_NATIVE_LIBRARY_PATH || path.join(root, 'imsync.linux-x64-gnu.node')
  let addonBytes = null
  let addonMtime = null
  try {
    const st = fs.statSync(addon)
    addonBytes = st.size
    addonMtime = st.mtime.toISOString()
  } catch {}
  const dirty = git('status', '--porcelain', '--', 'crates/core', 'src', 'Cargo.toml', 'Cargo.lock')
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedAddonChanges: dirty ? dirty.split('\n').length : 0,
    addon,
    addonBytes,
    addonMtime,
    release: process.env.BENCH_ADDON_PROFILE || 'unknown (run conversations-run.sh for a release build)',
  }
}

async function main() {
  const started = now()
  fs.mkdirSync(DATA, { recursive: true })
  // Start empty; conversations-run.sh keeps its private copy of the addon in addon/.
  for (const e of fs.readdirSync(DATA)) if (e !== 'addon') fs.rmSync(path.join(DATA, e), { recursive: true, force: true })
  fs.writeFileSync(path.join(DATA, '.gitignore'), '*\n') // the data dir never shows up in git status
  const out = {
    when: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    config: { conversations: CONVERSATIONS, messages: N, calls: CALLS, calls300: CALLS_300, warmup: WARMUP, rounds: ROUNDS, unreadShare: UNREAD_SHARE, unreadConcurrency: UNREAD_CONCURRENCY },
    build: buildInfo(),
    load: [],
    problems: [],
    notes: [],
  }
  out.sqlite = { baseline: new Database(':memory:').prepare('SELECT sqlite_version() AS v').pluck().get() }
  const mark = (phase) => out.load.push({ phase, loadavg1: +os.loadavg()[0].toFixed(2) })
  mark('start')

  // -- corpus
  log(`generating ${N} messages over ${CONVERSATIONS} conversations`)
  let t0 = now()
  const corpus = generate({ messages: N, conversations: CONVERSATIONS, seed: 60006, uidPrefix: 'C' })
  const perConv = corpus.conversations.map((_, c) => corpus.messagesOf(c).length)
  const sortedPerConv = Int32Array.from(perConv).sort()
  const plan = unreadPlan(corpus)
  out.corpus = {
    generateSeconds: toMs(now() - t0) / 1000,
    groups: corpus.conversations.filter((c) => c.conversationType === 3).length,
    privates: corpus.conversations.filter((c) => c.conversationType === 1).length,
    emptyConversations: perConv.filter((n) => n === 0).length,
    messagesPerConversation: { max: sortedPerConv[sortedPerConv.length - 1], median: sortedPerConv[sortedPerConv.length >> 1], min: sortedPerConv[0] },
    unreadMessages: plan.items.length,
    conversationsWithUnread: plan.conversationsWithUnread,
    conversationsMentioningUser: plan.mentionConversations.size,
  }
  log('corpus', JSON.stringify(out.corpus))
  const expectedConversations = CONVERSATIONS - out.corpus.emptyConversations

  // -- imsync: history through batchInsertMessage, then the unread messages
  const engine = new Engine({ appkey: 'bench', dbpath: path.join(DATA, 'imsync'), logOutputLevel: 1 })
  check(await engine.open(USER), 'open')
  out.features = { getTotalUnreadCount: typeof engine.getTotalUnreadCount === 'function' }
  if (!out.features.getTotalUnreadCount) log('getTotalUnreadCount: not available in this build (skipped)')
  log('imsync ingest')
  out.ingest = { imsync: await ingest(corpus, (b) => engine.batchInsertMessage(b, false), { yieldBetween: false }) }
  log('imsync ingest', JSON.stringify(out.ingest.imsync))
  mark('imsync ingest')
  log(`imsync: ${plan.items.length} unread messages through insertMessage(…, { isUnread: true })`)
  out.unreadInsert = { imsync: await insertUnread(corpus, plan, (c, m, o) => engine.insertMessage(c, m, o), UNREAD_CONCURRENCY) }
  log('imsync unread insert', JSON.stringify(out.unreadInsert.imsync))
  mark('imsync unread insert')

  // -- baseline: the same
  const baseFile = path.join(DATA, 'baseline', 'bench.db')
  fs.mkdirSync(path.dirname(baseFile), { recursive: true })
  const base = new ConversationBaseline(baseFile, USER)
  log('baseline ingest')
  out.ingest.baseline = await ingest(corpus, (b) => base.batchInsertMessage(b), { yieldBetween: true })
  log('baseline ingest', JSON.stringify(out.ingest.baseline))
  mark('baseline ingest')
  out.unreadInsert.baseline = await insertUnread(corpus, plan, async (c, m, o) => base.insertMessage(c, m, o), 1)
  log('baseline unread insert', JSON.stringify(out.unreadInsert.baseline))
  mark('baseline unread insert')
  out.baselinePlans = base.plans()
  log('baseline query plans', JSON.stringify(out.baselinePlans))

  // -- correctness, once
  const expectedUnread = plan.items.length
  out.checks = { expectedUnread, expectedConversations, expectedMentionedConversations: plan.mentionConversations.size }
  const baseTotal = check(base.getTotalUnreadCount(false), 'baseline getTotalUnreadCount')
  const baseTotalTyped = check(base.getTotalUnreadCount(true, [1, 3]), 'baseline getTotalUnreadCount typed')
  out.checks.baselineTotalUnread = baseTotal
  if (baseTotal !== expectedUnread || baseTotalTyped !== expectedUnread) {
    out.problems.push({ call: 'baseline getTotalUnreadCount', expected: expectedUnread, got: [baseTotal, baseTotalTyped] })
  }
  if (out.features.getTotalUnreadCount) {
    const a = check(await engine.getTotalUnreadCount(false), 'getTotalUnreadCount(false)')
    const b = check(await engine.getTotalUnreadCount(true, [1, 3]), 'getTotalUnreadCount(true, [1, 3])')
    out.checks.imsyncTotalUnread = a
    out.checks.imsyncTotalUnreadTyped = b
    if (a !== expectedUnread || a !== baseTotal) out.problems.push({ call: 'getTotalUnreadCount(false)', expected: expectedUnread, imsync: a, baseline: baseTotal })
    if (b !== expectedUnread || b !== baseTotalTyped) out.problems.push({ call: 'getTotalUnreadCount(true, [1, 3])', expected: expectedUnread, imsync: b, baseline: baseTotalTyped })
  }
  // The same totals through the whole list (works on builds without getTotalUnreadCount).
  t0 = now()
  const all = check(await engine.getAllConversationList(), 'getAllConversationList')
  out.checks.getAllConversationListMs = toMs(now() - t0)
  const allUnread = all.reduce((s, c) => s + c.unreadMessageCount, 0)
  const allMentioned = all.filter((c) => c.hasMentioned).length
  out.checks.imsyncListConversations = all.length
  out.checks.imsyncListUnreadSum = allUnread
  out.checks.imsyncListMentioned = allMentioned
  if (all.length !== expectedConversations) out.problems.push({ call: 'getAllConversationList', what: 'conversations', expected: expectedConversations, got: all.length })
  if (allUnread !== expectedUnread) out.problems.push({ call: 'getAllConversationList', what: 'sum of unreadMessageCount', expected: expectedUnread, got: allUnread })
  if (allMentioned !== plan.mentionConversations.size) out.problems.push({ call: 'getAllConversationList', what: 'hasMentioned conversations', expected: plan.mentionConversations.size, got: allMentioned })
  for (const count of [50, 300]) {
    const a = check(await engine.getConversationList(0, count), `getConversationList(0, ${count})`)
    const b = check(base.getConversationList(0, count), `baseline getConversationList(0, ${count})`)
    comparePages(`getConversationList(0, ${count})`, a, b, out.problems)
    if (count === 50) {
      out.checks.firstPage = { length: a.length, first: a.slice(0, 3).map((c) => c.targetId), unreadOnPage: a.reduce((s, c) => s + c.unreadMessageCount, 0), mentionedOnPage: a.filter((c) => c.hasMentioned).length }
      // Both sides must build the same objects, or the comparison is not like for like.
      out.checks.shape = { conversation: keyDiff(a[0], b[0]), latestMessage: keyDiff(a[0]?.latestMessage, b[0]?.latestMessage) }
      const s = out.checks.shape
      if (s.conversation.onlyImsync.length + s.conversation.onlyBaseline.length + s.latestMessage.onlyImsync.length + s.latestMessage.onlyBaseline.length) {
        out.notes.push(`object shapes differ: ${JSON.stringify(s)}`)
      }
    }
  }
  log('checks', JSON.stringify(out.checks))
  if (out.problems.length) log('PROBLEMS', JSON.stringify(out.problems))
  mark('checks')

  // -- timed queries
  const baseSides = {
    total: async () => base.getTotalUnreadCount(false),
    totalTyped: async () => base.getTotalUnreadCount(true, [1, 3]),
    list50: async () => base.getConversationList(0, 50),
    list300: async () => base.getConversationList(0, 300),
  }
  out.queries = {}
  const queries = [
    { key: 'getTotalUnreadCount(false)', target: true, needs: 'getTotalUnreadCount', imsync: () => engine.getTotalUnreadCount(false), baseline: baseSides.total, calls: CALLS },
    { key: 'getTotalUnreadCount(true, [1, 3])', target: true, needs: 'getTotalUnreadCount', imsync: () => engine.getTotalUnreadCount(true, [1, 3]), baseline: baseSides.totalTyped, calls: CALLS },
    { key: 'getConversationList(0, 50)', target: true, imsync: () => engine.getConversationList(0, 50), baseline: baseSides.list50, calls: CALLS },
    { key: 'getConversationList(0, 300)', target: false, imsync: () => engine.getConversationList(0, 300), baseline: baseSides.list300, calls: CALLS_300 },
  ]
  for (const q of queries) {
    if (q.needs && !out.features[q.needs]) {
      log(`${q.key}: not available in this build (skipped)`)
      out.queries[q.key] = { skipped: 'not available in this build', target: q.target }
      continue
    }
    out.queries[q.key] = { target: q.target, ...(await measure(q.key, { imsync: q.imsync, baseline: q.baseline }, q.calls)) }
    mark(q.key)
  }

  check(await engine.close(), 'close')
  base.close()
  out.totalSeconds = toMs(now() - started) / 1000
  report(out)
  if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out, null, 2))
  if (out.problems.length) process.exitCode = 2
}

// ---- report ------------------------------------------------------------------------------------

function report(out) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—')
  const ratio = (i, b) => (Number.isFinite(i) && Number.isFinite(b) && b > 0 ? `${(i / b).toFixed(2)}×` : '—')
  const header = ['query', 'target', 'imsync p50 / p90 / p99 (ms)', 'baseline p50 / p90 / p99 (ms)', 'imsync / baseline p50', 'imsync / baseline p99', 'imsync vs target', 'n']
  const rows = []
  for (const [key, q] of Object.entries(out.queries)) {
    if (q.skipped) {
      rows.push([`\`${key}\``, q.target ? `p50 ≤ ${TARGET_P50_MS}` : '(information)', q.skipped, '—', '—', '—', '—', '0'])
      continue
    }
    const i = q.imsync
    const b = q.baseline
    rows.push([
      `\`${key}\``,
      q.target ? `p50 ≤ ${TARGET_P50_MS}` : '(information)',
      `${f(i.p50)} / ${f(i.p90)} / ${f(i.p99)}`,
      `${f(b.p50)} / ${f(b.p90)} / ${f(b.p99)}`,
      ratio(i.p50, b.p50),
      ratio(i.p99, b.p99),
      q.target ? (i.p50 <= TARGET_P50_MS ? 'met' : 'MISSED') : '—',
      `${i.n} / ${b.n}`,
    ])
  }
  const lines = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`)
  const c = out.corpus
  console.log(`\nimsync conversation benchmark (issue 6): ${out.config.conversations} conversations (${c.privates} private, ${c.groups} group), ${out.config.messages} messages`)
  console.log(`machine: ${out.machine.cpus} × ${out.machine.cpuModel}, ${out.machine.memGiB} GiB, node ${out.machine.node}, ${out.machine.platform}`)
  console.log(`unread state: ${c.unreadMessages} unread messages in ${c.conversationsWithUnread} conversations, ${c.conversationsMentioningUser} with an @-mention of the user`)
  console.log(lines.join('\n'))
  const ing = out.ingest
  console.log(`\nsetup (information): batchInsertMessage ×500 imsync ${f(ing.imsync.msgsPerSec, 0)} msgs/s (${f(ing.imsync.seconds, 1)} s), baseline ${f(ing.baseline.msgsPerSec, 0)} msgs/s (${f(ing.baseline.seconds, 1)} s)`)
  const ui = out.unreadInsert
  console.log(`setup (information): insertMessage isUnread, imsync p50 ${f(ui.imsync.call.p50)} ms (${ui.imsync.concurrency} in flight, ${f(ui.imsync.seconds, 1)} s), baseline p50 ${f(ui.baseline.call.p50)} ms (${f(ui.baseline.seconds, 1)} s)`)
  console.log(`getAllConversationList, one call over ${out.checks.imsyncListConversations} conversations (information): ${f(out.checks.getAllConversationListMs, 1)} ms`)
  const tu = out.features.getTotalUnreadCount ? `imsync ${out.checks.imsyncTotalUnread}, ` : 'imsync getTotalUnreadCount not available in this build, '
  console.log(`total unread: expected ${out.checks.expectedUnread}, ${tu}baseline ${out.checks.baselineTotalUnread}, imsync sum over getAllConversationList ${out.checks.imsyncListUnreadSum}`)
  console.log(`first page of 50: ${out.checks.firstPage.unreadOnPage} unread, ${out.checks.firstPage.mentionedOnPage} with hasMentioned; same targetIds in the same order on both sides: ${out.problems.some((p) => String(p.call).startsWith('getConversationList')) ? 'NO' : 'yes'}`)
  console.log(`baseline query plans: ${Object.entries(out.baselinePlans).map(([k, v]) => `${k}: ${v}`).join(' | ')}`)
  for (const n of out.notes) console.log(`note: ${n}`)
  console.log(`answers that differ: ${out.problems.length}`)
  for (const p of out.problems.slice(0, 10)) console.log('  ', JSON.stringify(p))
  console.log(`load average (1 min) by phase: ${out.load.map((l) => `${l.phase} ${l.loadavg1}`).join(', ')}`)
  console.log(`addon: commit ${out.build.commit}, ${out.build.uncommittedAddonChanges} uncommitted addon files, ${out.build.addon} (${out.build.addonBytes} bytes, ${out.build.addonMtime}), profile: ${out.build.release}`)
  console.log(`SQLite in the baseline (better-sqlite3): ${out.sqlite.baseline}`)
  console.log(`total run: ${f(out.totalSeconds, 0)} s`)
}

main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => {
    if (process.env.BENCH_KEEP_DATA !== '1') fs.rmSync(DATA, { recursive: true, force: true })
  })
