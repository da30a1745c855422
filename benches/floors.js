'use strict'
// Floors of the issue-13 goals that are not met (BENCHMARKS.md, "Issue 13: goals not met, why,
// and the floor"): the pieces of each missed figure, measured on the database pair that
// `benches/local-db.js` builds. Run it on a kept 1M-message pair:
//
//   BENCH_ONLY=ingest BENCH_KEEP_DATA=1 BENCH_DATA=/tmp/floors node --expose-gc benches/local-db.js
//   FLOORS_DATA=/tmp/floors node --expose-gc benches/floors.js 2>/tmp/floors/stderr.log
//
// Environment: FLOORS_DATA (required: the BENCH_DATA directory above, holding imsync/ and
// baseline/bench.db), FLOORS_MESSAGES (1000000: the BENCH_MESSAGES it was built with; the
// corpus and keywords are regenerated from it), FLOORS_ONLY (comma list of phases: args, size,
// search, convsearch, history, ingest; default all but ingest), FLOORS_CALLS (100 per class),
// FLOORS_CS_CALLS (30 per searchConversationByContent class), FLOORS_CS_BASELINE=0 (skip the
// baseline's searchConversationByContent), FLOORS_EXTRA (40000: messages the
// ingest phase adds to a copy of the imsync database), FLOORS_OUT (JSON results file),
// FLOORS_PROBE_LOG (the file this process's stderr goes to; with an addon built from a copy
// patched with benches/floors-probe.patch and IMSYNC_PROBE=1, the Rust-side timings that patch
// prints are summarised per phase).
//
// Phases:
// - args: JSON.stringify of one 500-message batch alone, and src/js_args.js's whole
//   conversion (walk + plain copy + stringify) of the same batch, on the JS thread.
// - size: indexes the search backlog (opens the engine and waits while idle), closes it (a
//   TRUNCATE checkpoint), then bytes per table and index of both databases through dbstat.
// - search: searchMessages, 3 and 6 Chinese characters: the call, a trivial call
//   (getMessageCount) next to it, the answer's JSON size and its JSON.parse time, the baseline.
// - convsearch: searchConversationByContent, 1 and 2 Chinese characters and an English word:
//   the call, the answer's size and JSON.parse time, the baseline.
// - history: getHistoryMessages(20): the call, the trivial call, the page's size and parse.
// - ingest: copies the imsync database, adds FLOORS_EXTRA messages of a second corpus in
//   500-message calls, waits until the backlog is indexed; reports both rates. Run it once with
//   IMSYNC_PROBE_NOFTS=1 on the patched build for the rate without search text.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')

const { generate, KEYWORD_CLASSES, sampleKeywords, rng } = require('./corpus.js')

// NAPI_RS_NATIVE_LIBRARY_PATH picks another build of the addon, as in the other benchmarks.
const { Engine } = require(path.join(__dirname, '..', 'index.js'))

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const DATA = process.env.FLOORS_DATA
if (!DATA) throw new Error('FLOORS_DATA is required (see the header)')
const N = env('FLOORS_MESSAGES', 1_000_000)
const CALLS = env('FLOORS_CALLS', 100)
const CS_CALLS = env('FLOORS_CS_CALLS', 30)
const EXTRA = env('FLOORS_EXTRA', 40_000)
const ONLY = (process.env.FLOORS_ONLY || 'args,size,search,convsearch,history').split(',')
const PROBE_LOG = process.env.FLOORS_PROBE_LOG
const USER = 'bench-user'
const TYPES = ['RC:TxtMsg']
const BATCH = 500
const WARMUP = 5

const now = () => process.hrtime.bigint()
const toMs = (ns) => Number(ns) / 1e6
const gc = () => global.gc && global.gc()
const log = (...a) => console.error(`[floors ${new Date().toISOString().slice(11, 19)}]`, ...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d

function stats(xs) {
  if (!xs.length) return null
  const s = Float64Array.from(xs).sort()
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
  return { n: s.length, p50: round(q(0.5), 4), p99: round(q(0.99), 4), mean: round(s.reduce((a, b) => a + b, 0) / s.length, 4) }
}

function check(res, what) {
  if (!res || res.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(res).slice(0, 300)}`)
  return res.data
}

const conversationOption = (corpus, c) => {
  const { conversationType, targetId } = corpus.conversations[c]
  return { conversationType, targetId, channelId: '' }
}

/** JSON.parse time of `text` in ms, best of 3 (the single parse of a call is what is wanted; best of 3 takes out a GC). */
function parseMs(text) {
  let best = Infinity
  for (let i = 0; i < 3; i++) {
    const t = now()
    JSON.parse(text)
    best = Math.min(best, toMs(now() - t))
  }
  return best
}

// ---- the Rust-side timings of the probe build (benches/floors-probe.patch) ----------------

let probeOffset = 0
function probeMark() {
  if (PROBE_LOG) probeOffset = fs.statSync(PROBE_LOG).size
}
/** Summary per PROBE kind and field since the last mark (µs fields reported in ms). */
function probeSummary() {
  if (!PROBE_LOG) return undefined
  const fd = fs.openSync(PROBE_LOG, 'r')
  const size = fs.fstatSync(fd).size
  const buf = Buffer.alloc(size - probeOffset)
  fs.readSync(fd, buf, 0, buf.length, probeOffset)
  fs.closeSync(fd)
  const by = {}
  for (const line of buf.toString('utf8').split('\n')) {
    const m = /^PROBE (\w+) (.*)$/.exec(line)
    if (!m) continue
    const kind = (by[m[1]] ||= {})
    for (const kv of m[2].split(' ')) {
      const [k, v] = kv.split('=')
      ;(kind[k] ||= []).push(Number(v))
    }
  }
  const out = {}
  for (const [kind, fields] of Object.entries(by)) {
    out[kind] = {}
    for (const [k, xs] of Object.entries(fields)) {
      const s = stats(k.endsWith('_us') || k === 'us' ? xs.map((x) => x / 1000) : xs)
      s.sum = xs.reduce((a, b) => a + b, 0)
      out[kind][k.endsWith('us') ? `${k.replace(/_?us$/, '') || 'time'}Ms` : k] = s
    }
  }
  return out
}

// ---- phases ------------------------------------------------------------------------------

function argsPhase(corpus) {
  const convert = vm.runInThisContext(fs.readFileSync(path.join(__dirname, '..', 'src', 'js_args.js'), 'utf8'))
  const strMs = []
  const convMs = []
  let bytes = 0
  for (let k = 0; k < 320; k++) {
    const batch = []
    const base = (k * BATCH) % (N - BATCH)
    for (let j = base; j < base + BATCH; j++) batch.push(corpus.message(j))
    let t = now()
    const a = JSON.stringify([batch, false])
    const s = toMs(now() - t)
    t = now()
    const b = convert(batch, false)
    const c = toMs(now() - t)
    if (a !== b) throw new Error('js_args.js wrote another text than JSON.stringify')
    bytes = a.length
    if (k >= 20) {
      strMs.push(s)
      convMs.push(c)
    }
  }
  return { batch: BATCH, jsonChars: bytes, stringifyMs: stats(strMs), convertMs: stats(convMs) }
}

function findDbFiles(dir) {
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...findDbFiles(p))
    else if (e.name.endsWith('.db')) out.push(p)
  }
  return out
}

function dbstat(file) {
  const Database = require('better-sqlite3')
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('SELECT name, count(*) AS pages, SUM(pgsize) AS bytes, SUM(unused) AS unused, SUM(payload) AS payload FROM dbstat GROUP BY name ORDER BY bytes DESC').all()
    const pageSize = db.pragma('page_size', { simple: true })
    const pageCount = db.pragma('page_count', { simple: true })
    const freelist = db.pragma('freelist_count', { simple: true })
    const total = rows.reduce((a, r) => a + r.bytes, 0)
    const tables = rows.map((r) => ({ name: r.name, bytes: r.bytes, perMessage: round(r.bytes / N, 1), pages: r.pages, unusedPct: round((100 * r.unused) / r.bytes, 1) }))
    let pending = null
    try {
      pending = db.prepare('SELECT count(*) AS n FROM fts_pending').get().n
    } catch {}
    return { file: path.basename(file), bytes: fs.statSync(file).size, pageSize, pageCount, freelist, dbstatBytes: total, perMessage: round(total / N, 1), ftsPending: pending, tables }
  } finally {
    db.close()
  }
}

async function sizePhase() {
  // Let the writer index the backlog (it does so after 50 ms idle), then close: a TRUNCATE checkpoint.
  const engine = new Engine({ appkey: 'bench', dbpath: path.join(DATA, 'imsync'), logOutputLevel: 1 })
  check(await engine.open(USER), 'open')
  await sleep(5000)
  check(await engine.close(), 'close')
  const files = findDbFiles(path.join(DATA, 'imsync'))
  return { imsync: files.map(dbstat), baseline: dbstat(path.join(DATA, 'baseline', 'bench.db')) }
}

async function timeLoop(args, fn) {
  for (let i = 0; i < Math.min(WARMUP, args.length); i++) await fn(args[i])
  const ms = []
  const results = []
  for (let i = WARMUP; i < args.length; i++) {
    const t = now()
    const r = await fn(args[i])
    ms.push(toMs(now() - t))
    results.push(r)
  }
  return { ms, results }
}

function answerFigures(results) {
  const chars = []
  const parse = []
  for (const r of results) {
    const text = JSON.stringify(r)
    chars.push(text.length)
    parse.push(parseMs(text))
  }
  return { jsonChars: stats(chars), parseMs: stats(parse) }
}

async function queryPhase(corpus, engine, base, what) {
  const rand = rng(7)
  const out = {}
  const want = what === 'search' ? ['zh-3', 'zh-6'] : what === 'convsearch' ? ['zh-1', 'zh-2', 'en-word'] : []
  for (const cls of KEYWORD_CLASSES) {
    // The same keyword draws as local-db.js (both lists per class, in order).
    const inConv = sampleKeywords(corpus, cls, 200 + WARMUP, rand, true)
    const global = sampleKeywords(corpus, cls, 200 + WARMUP, rand, false)
    if (!want.includes(cls.name)) continue
    gc()
    const row = {}
    if (what === 'search') {
      const args = inConv.slice(0, CALLS + WARMUP)
      const call = (e) => (a) => e.searchMessages(conversationOption(corpus, a.conv), a.keyword, 0, 20)
      probeMark()
      const im = await timeLoop(args, call(engine))
      row.probe = probeSummary()
      const floor = await timeLoop(args, (a) => engine.getMessageCount(conversationOption(corpus, a.conv)))
      const bm = await timeLoop(args, call(base))
      row.imsync = stats(im.ms)
      row.trivialCall = stats(floor.ms)
      row.baseline = stats(bm.ms)
      row.answer = answerFigures(im.results.map((r) => check(r, 'searchMessages')))
      row.meanMatches = round(im.results.reduce((a, r) => a + r.data.count, 0) / im.results.length, 1)
    } else {
      const args = global.slice(0, CS_CALLS + WARMUP)
      const call = (e) => (a) => e.searchConversationByContent(a.keyword, TYPES)
      probeMark()
      const ic = await timeLoop(args, call(engine))
      row.probe = probeSummary()
      // FLOORS_CS_BASELINE=0 skips the baseline here (its 1-2-character searches are full scans).
      const bc = process.env.FLOORS_CS_BASELINE === '0' ? null : await timeLoop(args, call(base))
      row.imsync = stats(ic.ms)
      row.baseline = bc && stats(bc.ms)
      row.answer = answerFigures(ic.results.map((r) => check(r, 'searchConversationByContent')))
      row.meanConversations = round(ic.results.reduce((a, r) => a + r.data.length, 0) / ic.results.length, 1)
      let same = 0
      if (bc) ic.results.forEach((r, i) => {
        const ids = (l) => l.map((c) => c.targetId).sort().join(',')
        if (ids(r.data) === ids(bc.results[i].data)) same++
      })
      row.agreed = `${same}/${ic.results.length}`
    }
    row.load = os.loadavg()[0]
    out[cls.name] = row
    log(what, cls.name, JSON.stringify(row))
  }
  return out
}

async function historyPhase(corpus, engine, base) {
  const rand = rng(11)
  const args = []
  for (let i = 0; i < 500 + WARMUP; i++) args.push(corpus.conv[Math.floor(rand() * N)])
  const hist = (e) => (c) => e.getHistoryMessages(conversationOption(corpus, c), { timestamp: 0, count: 20, order: 0 })
  gc()
  probeMark()
  const ih = await timeLoop(args, hist(engine))
  const probe = probeSummary()
  const floor = await timeLoop(args, (c) => engine.getMessageCount(conversationOption(corpus, c)))
  const bh = await timeLoop(args, hist(base))
  // The baseline's statement alone, without its per-row JSON.parse of contents.
  let sqlOnly = null
  if (base.history && typeof base.convId === 'function') {
    const ids = args.map((c) => base.convId(conversationOption(corpus, c)))
    const t = []
    for (const id of ids) {
      const t0 = now()
      base.history.all(id, Number.MAX_SAFE_INTEGER, 21)
      t.push(toMs(now() - t0))
    }
    sqlOnly = stats(t.slice(WARMUP))
  }
  return {
    imsync: stats(ih.ms),
    trivialCall: stats(floor.ms),
    baseline: stats(bh.ms),
    baselineSqlOnly: sqlOnly,
    answer: answerFigures(ih.results.map((r) => check(r, 'getHistoryMessages'))),
    probe,
    load: os.loadavg()[0],
  }
}

async function ingestPhase() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-floors-ingest-'))
  try {
    fs.cpSync(path.join(DATA, 'imsync'), path.join(dir, 'imsync'), { recursive: true })
    // A second corpus over the same 1,000 conversations, with its own uids.
    const extra = generate({ messages: EXTRA, conversations: 1000, seed: 777, uidPrefix: 'T' })
    const engine = new Engine({ appkey: 'bench', dbpath: path.join(dir, 'imsync'), logOutputLevel: 1 })
    check(await engine.open(USER), 'open')
    await sleep(3000) // any backlog left by the build is indexed first
    gc()
    probeMark()
    const t0 = now()
    const calls = []
    for (let i = 0; i < EXTRA; i += BATCH) {
      const batch = []
      for (let j = i; j < Math.min(i + BATCH, EXTRA); j++) batch.push(extra.message(j))
      const c0 = now()
      check(await engine.batchInsertMessage(batch, false), 'batchInsertMessage')
      calls.push(toMs(now() - c0))
    }
    const writeSeconds = toMs(now() - t0) / 1000
    // Until the writer has indexed the backlog: an indexing batch shows in the probe; without
    // the probe, a one-message search after a pause waits behind it.
    await sleep(200)
    check(await engine.getMessageCount({ conversationType: 1, targetId: 'user0', channelId: '' }), 'getMessageCount')
    const probe = probeSummary()
    check(await engine.close(), 'close')
    return {
      extra: EXTRA,
      startMessages: N,
      noFts: !!process.env.IMSYNC_PROBE_NOFTS,
      writeSeconds: round(writeSeconds),
      msgsPerSec: Math.round(EXTRA / writeSeconds),
      call: stats(calls),
      probe,
      load: os.loadavg()[0],
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function main() {
  const out = { when: new Date().toISOString(), messages: N, load: [os.loadavg()[0]] }
  const needCorpus = ONLY.some((p) => ['args', 'search', 'convsearch', 'history'].includes(p))
  const corpus = needCorpus ? generate({ messages: N, conversations: 1000 }) : null
  if (ONLY.includes('args')) out.args = argsPhase(corpus)
  if (ONLY.includes('size')) out.size = await sizePhase()
  if (ONLY.some((p) => ['search', 'convsearch', 'history'].includes(p))) {
    const { Baseline } = require('./baseline.js')
    const engine = new Engine({ appkey: 'bench', dbpath: path.join(DATA, 'imsync'), logOutputLevel: 1 })
    check(await engine.open(USER), 'open')
    await sleep(3000) // the writer indexes any backlog when idle
    const base = new Baseline(path.join(DATA, 'baseline', 'bench.db'))
    if (ONLY.includes('search')) out.search = await queryPhase(corpus, engine, base, 'search')
    if (ONLY.includes('convsearch')) out.convsearch = await queryPhase(corpus, engine, base, 'convsearch')
    if (ONLY.includes('history')) out.history = await historyPhase(corpus, engine, base)
    check(await engine.close(), 'close')
    base.close()
  }
  if (ONLY.includes('ingest')) out.ingest = await ingestPhase()
  out.load.push(os.loadavg()[0])
  const text = JSON.stringify(out, null, 1)
  console.log(text)
  if (process.env.FLOORS_OUT) fs.writeFileSync(process.env.FLOORS_OUT, text)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
