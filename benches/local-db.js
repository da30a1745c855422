'use strict'
// Local-database benchmark of issue 2: imsync's native Engine beside a hand-written
// better-sqlite3 baseline (baseline.js), on one generated corpus (corpus.js).
//
//   node --expose-gc benches/local-db.js            # 1,000,000 messages (the reported run)
//   BENCH_MESSAGES=100000 node benches/local-db.js  # quick run
//
// Environment: BENCH_MESSAGES (1000000), BENCH_CONVERSATIONS (1000),
// BENCH_ENCRYPTION_MESSAGES (100000: size of the plain-vs-encrypted comparison that ends the
// run; 0 skips it), BENCH_ONLY=encryption (run only that comparison: no baseline needed),
// BENCH_ONLY=conversationList (only the getConversationList figure, imsync and baseline, with
// its GC count, slow-call positions and the trivial-call floor; BENCH_LIST_CALLS sets the
// timed calls, 1000; BENCH_LIST_KEEP_ALL=1 keeps every answer alive as runs before issue 13 did),
// BENCH_ONLY=ingest (only the ingest figure; BENCH_INGEST_BASELINE=0 skips the baseline's),
// BENCH_LIST_CONVERSATIONS (10000), BENCH_CALLS (200 timed calls per keyword class),
// BENCH_CLASS_BUDGET_MS (10000: a class stops early, after at least 20 calls, once its
// timed calls took this long), BENCH_OUT (also write the results as JSON to this file),
// BENCH_KEEP_DATA=1 (keep benches/.data/ instead of deleting it), BENCH_DATA (another data
// directory than benches/.data/).
//
// Every call is timed with process.hrtime.bigint() around the awaited promise (imsync) or
// the synchronous call (baseline, as it would run on the Electron main thread).

const fs = require('node:fs')
const path = require('node:path')
const os = require('node:os')
const { execFileSync } = require('node:child_process')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const { generate, KEYWORD_CLASSES, sampleKeywords, rng } = require('./corpus.js')
// Loaded only when the baseline runs (BENCH_ONLY=encryption needs no better-sqlite3).
const loadBaseline = () => require('./baseline.js').Baseline
const { Engine } = require(path.join(__dirname, '..', 'index.js'))

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const N = env('BENCH_MESSAGES', 1_000_000)
const CONVERSATIONS = env('BENCH_CONVERSATIONS', 1000)
const LIST_CONVERSATIONS = env('BENCH_LIST_CONVERSATIONS', 10_000)
const LIST_PER_CONVERSATION = 10
const CALLS = env('BENCH_CALLS', 200)
const BUDGET_MS = env('BENCH_CLASS_BUDGET_MS', 10_000)
const MIN_CALLS = 20
const WARMUP = 5
const BATCH = 500
const HISTORY_CALLS = 2000
const LIST_CALLS = env('BENCH_LIST_CALLS', 1000)
/** BENCH_LIST_KEEP_ALL=1: keep all 1000 answers of the list figure alive, as runs before issue 13 did. */
const LIST_KEEP_ALL = process.env.BENCH_LIST_KEEP_ALL === '1'
const OPEN_RUNS = 5
const USER = 'bench-user'
const DATA = process.env.BENCH_DATA || path.join(__dirname, '.data')
const ENC_N = env('BENCH_ENCRYPTION_MESSAGES', 100_000)
const ONLY = process.env.BENCH_ONLY || ''
/** A passphrase: SQLCipher 4 derives the page key with PBKDF2-HMAC-SHA512, 256,000 iterations. */
const ENC_KEY = 'imsync benchmark passphrase'
/** A raw 256-bit key (`x'<64 hex>'`): no key derivation on open. */
const ENC_RAW_KEY = `x'${'5c'.repeat(32)}'`
const TYPES = ['RC:TxtMsg']

const now = () => process.hrtime.bigint()
const toMs = (ns) => Number(ns) / 1e6
const gc = () => global.gc && global.gc()
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a)

function pct(sortedMs, q) {
  if (!sortedMs.length) return NaN
  return sortedMs[Math.min(sortedMs.length - 1, Math.max(0, Math.ceil(q * sortedMs.length) - 1))]
}

function summary(samplesMs) {
  const s = Float64Array.from(samplesMs).sort()
  return { n: s.length, p50: pct(s, 0.5), p99: pct(s, 0.99), max: s[s.length - 1] }
}

function check(res, what) {
  if (!res || res.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(res).slice(0, 300)}`)
  return res.data
}

function dirBytes(dir, filter) {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) total += dirBytes(p, filter)
    else if (filter(e.name)) total += fs.statSync(p).size
  }
  return total
}
const isDbFile = (name) => /\.db(-wal)?$/.test(name)

// ---- ingest -------------------------------------------------------------------------------

/**
 * Feeds the corpus through `insert` (500 messages per call, awaited one after another)
 * while monitorEventLoopDelay (1 ms resolution) watches the event loop. The baseline
 * yields to the event loop between batches (setImmediate), as a main-process app must to
 * keep its windows alive at all.
 */
async function ingest(corpus, insert, { yieldBetween }) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  const calls = []
  const jsThread = []
  let inserted = 0
  gc()
  h.enable()
  const t0 = now()
  for (let i = 0; i < corpus.messages; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(i + BATCH, corpus.messages); j++) batch.push(corpus.message(j))
    const c0 = now()
    const pending = insert(batch)
    jsThread.push(toMs(now() - c0)) // the part of the call that runs on the JS thread
    const res = await pending
    calls.push(toMs(now() - c0))
    inserted += check(res, 'batchInsertMessage').inserted
    if (yieldBetween) await new Promise((r) => setImmediate(r))
  }
  const seconds = toMs(now() - t0) / 1000
  h.disable()
  if (inserted !== corpus.messages) throw new Error(`inserted ${inserted} of ${corpus.messages}`)
  return {
    messages: inserted,
    seconds,
    msgsPerSec: inserted / seconds,
    call: summary(calls),
    jsThread: summary(jsThread),
    eventLoopDelay: {
      p50: h.percentile(50) / 1e6,
      p99: h.percentile(99) / 1e6,
      max: h.max / 1e6,
      samples: h.count,
    },
  }
}

// ---- timed call loops ---------------------------------------------------------------------

/** Runs `call(arg)` for each argument (after WARMUP untimed calls), within the budget. */
async function timeCalls(args, call, { warm = WARMUP, budgetMs = BUDGET_MS, keepAll = true } = {}) {
  for (let i = 0; i < Math.min(warm, args.length); i++) await call(args[i], i)
  const samples = []
  const results = []
  let spent = 0
  for (let i = warm; i < args.length; i++) {
    const t0 = now()
    const res = await call(args[i], i)
    const dt = toMs(now() - t0)
    samples.push(dt)
    // keepAll: false keeps only the first answer (the one checked), so answers kept
    // for checking do not pile up in the heap and make every scavenge copy them.
    if (keepAll || !results.length) results.push(res)
    spent += dt
    if (spent > budgetMs && samples.length >= MIN_CALLS) break
  }
  return { stats: summary(samples), results, samples }
}

function conversationOption(corpus, c) {
  const { conversationType, targetId } = corpus.conversations[c]
  return { conversationType, targetId, channelId: '' }
}

/** Which addon build is measured (the work tree may hold uncommitted changes). */
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
  try {
    addonBytes = fs.statSync(addon).size
  } catch {}
  const dirty = git('status', '--porcelain', '--', 'crates/core', 'src', 'Cargo.toml', 'Cargo.lock')
  return { commit: git('rev-parse', '--short', 'HEAD'), uncommittedAddonChanges: dirty ? dirty.split('\n').length : 0, addon, addonBytes }
}

// ---- the run ------------------------------------------------------------------------------

async function main() {
  const started = now()
  // Start from an empty data dir (run.sh keeps its private copy of the addon in addon/).
  fs.mkdirSync(DATA, { recursive: true })
  for (const e of fs.readdirSync(DATA)) if (e !== 'addon') fs.rmSync(path.join(DATA, e), { recursive: true, force: true })
  const out = {
    when: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    config: { messages: N, conversations: CONVERSATIONS, listConversations: LIST_CONVERSATIONS, calls: CALLS, budgetMs: BUDGET_MS },
    problems: [],
    load: [],
    build: buildInfo(),
  }
  const mark = (phase) => out.load.push({ phase, loadavg1: +os.loadavg()[0].toFixed(2) })
  mark('start')
  if (ONLY === 'encryption') {
    out.config.encryptionMessages = ENC_N
    out.encryption = await encryptionComparison(mark)
    out.totalSeconds = toMs(now() - started) / 1000
    reportEncryption(out)
    if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out, null, 2))
    return
  }
  if (ONLY === 'conversationList') {
    out.conversationList = await conversationListBench(loadBaseline(), out.problems)
    mark('conversation list')
    out.totalSeconds = toMs(now() - started) / 1000
    reportConversationList(out)
    if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out, null, 2))
    return
  }
  if (ONLY === 'ingest') {
    // Only the ingest figure: imsync, then the baseline unless BENCH_INGEST_BASELINE=0.
    const corpus = generate({ messages: N, conversations: CONVERSATIONS })
    const engine = new Engine({ appkey: 'bench', dbpath: path.join(DATA, 'imsync'), logOutputLevel: 1 })
    check(await engine.open(USER), 'open')
    out.ingest = { imsync: await ingest(corpus, (b) => engine.batchInsertMessage(b, false), { yieldBetween: false }) }
    mark('imsync ingest')
    check(await engine.close(), 'close')
    if (process.env.BENCH_INGEST_BASELINE !== '0') {
      const baseFile = path.join(DATA, 'baseline', 'bench.db')
      fs.mkdirSync(path.dirname(baseFile), { recursive: true })
      const base = new (loadBaseline())(baseFile)
      out.ingest.baseline = await ingest(corpus, (b) => base.batchInsertMessage(b), { yieldBetween: true })
      mark('baseline ingest')
    }
    console.log(JSON.stringify({ ingest: out.ingest, load: out.load }, null, 1))
    if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out, null, 2))
    return
  }
  if (ONLY) throw new Error(`BENCH_ONLY=${ONLY}: only 'encryption', 'conversationList' and 'ingest' are known`)
  const Baseline = loadBaseline()

  log(`generating ${N} messages over ${CONVERSATIONS} conversations`)
  let t0 = now()
  const corpus = generate({ messages: N, conversations: CONVERSATIONS })
  let chars = 0
  for (const s of corpus.texts) chars += s.length
  out.corpus = {
    generateSeconds: toMs(now() - t0) / 1000,
    avgChars: chars / N,
    vocabulary: corpus.vocabulary,
    largestConversation: Math.max(...corpus.conversations.map((_, c) => corpus.messagesOf(c).length)),
  }
  log('corpus', JSON.stringify(out.corpus))

  // -- ingest: imsync then baseline, each into its own directory
  const imsyncDir = path.join(DATA, 'imsync')
  const engine = new Engine({ appkey: 'bench', dbpath: imsyncDir, logOutputLevel: 1 })
  check(await engine.open(USER), 'open')
  log('imsync ingest')
  out.ingest = { imsync: await ingest(corpus, (b) => engine.batchInsertMessage(b, false), { yieldBetween: false }) }
  log('imsync ingest', JSON.stringify(out.ingest.imsync))
  mark('imsync ingest')

  const baseFile = path.join(DATA, 'baseline', 'bench.db')
  fs.mkdirSync(path.dirname(baseFile), { recursive: true })
  const base = new Baseline(baseFile)
  log('baseline ingest')
  out.ingest.baseline = await ingest(corpus, (b) => base.batchInsertMessage(b), { yieldBetween: true })
  log('baseline ingest', JSON.stringify(out.ingest.baseline))
  mark('baseline ingest')

  // -- search: the same keywords through both, answers cross-checked
  out.search = {}
  const rand = rng(7)
  for (const cls of KEYWORD_CLASSES) {
    const inConv = sampleKeywords(corpus, cls, CALLS + WARMUP, rand, true)
    const global = sampleKeywords(corpus, cls, CALLS + WARMUP, rand, false)
    const row = { searchMessages: {}, searchConversationByContent: {} }
    gc()
    log(`search ${cls.name}: searchMessages`)
    const sm = (e) => (a) =>
      e.searchMessages(conversationOption(corpus, a.conv), a.keyword, 0, 20)
    const im = await timeCalls(inConv, sm(engine))
    const bm = await timeCalls(inConv, sm(base))
    row.searchMessages.imsync = im.stats
    row.searchMessages.baseline = bm.stats
    let hits = 0
    for (let i = 0; i < Math.min(im.results.length, bm.results.length); i++) {
      const a = check(im.results[i], 'searchMessages')
      const b = check(bm.results[i], 'baseline searchMessages')
      hits += a.count
      const same = a.count === b.count && (a.messages[0]?.messageUId ?? '') === (b.messages[0]?.messageUId ?? '')
      if (!same) {
        out.problems.push({
          call: 'searchMessages',
          keyword: inConv[i + WARMUP].keyword,
          conversation: conversationOption(corpus, inConv[i + WARMUP].conv),
          imsync: { count: a.count, first: a.messages[0]?.messageUId },
          baseline: { count: b.count, first: b.messages[0]?.messageUId },
        })
      }
    }
    row.searchMessages.meanMatches = hits / Math.max(1, Math.min(im.results.length, bm.results.length))

    log(`search ${cls.name}: searchConversationByContent`)
    const sc = (e) => (a) => e.searchConversationByContent(a.keyword, TYPES)
    const ic = await timeCalls(global, sc(engine))
    const bc = await timeCalls(global, sc(base))
    row.searchConversationByContent.imsync = ic.stats
    row.searchConversationByContent.baseline = bc.stats
    let convs = 0
    for (let i = 0; i < Math.min(ic.results.length, bc.results.length); i++) {
      const a = check(ic.results[i], 'searchConversationByContent')
      const b = check(bc.results[i], 'baseline searchConversationByContent')
      convs += a.length
      const ids = (l) => l.map((c) => c.targetId).sort().join(',')
      if (ids(a) !== ids(b)) {
        out.problems.push({
          call: 'searchConversationByContent',
          keyword: global[i + WARMUP].keyword,
          imsync: a.length,
          baseline: b.length,
        })
      }
    }
    row.searchConversationByContent.meanConversations = convs / Math.max(1, Math.min(ic.results.length, bc.results.length))
    out.search[cls.name] = row
    log(`search ${cls.name}`, JSON.stringify(row))
    mark(`search ${cls.name}`)
  }

  // -- history: the newest page of 20 of a conversation (weighted by activity)
  gc()
  log('getHistoryMessages')
  const histArgs = []
  for (let i = 0; i < HISTORY_CALLS + 50; i++) histArgs.push(corpus.conv[Math.floor(rand() * N)])
  const hist = (e) => (c) => e.getHistoryMessages(conversationOption(corpus, c), { timestamp: 0, count: 20, order: 0 })
  const ih = await timeCalls(histArgs, hist(engine), { warm: 50, budgetMs: Infinity })
  const bh = await timeCalls(histArgs, hist(base), { warm: 50, budgetMs: Infinity })
  ih.results.forEach((r, i) => {
    const want = Math.min(20, corpus.messagesOf(histArgs[i + 50]).length)
    const got = check(r, 'getHistoryMessages').list.length
    if (got !== want) out.problems.push({ call: 'getHistoryMessages', conversation: conversationOption(corpus, histArgs[i + 50]), want, got })
  })
  // The floor under every call: an async N-API round trip that converts almost nothing.
  const trivial = await timeCalls(histArgs, (c) => engine.getMessageCount(conversationOption(corpus, c)), { warm: 50, budgetMs: Infinity })
  out.history = { imsync: ih.stats, baseline: bh.stats, imsyncTrivialCall: trivial.stats }
  log('history', JSON.stringify(out.history))
  mark('history')

  // -- size on disk (file + WAL after checkpoint), then open-to-first-query in a fresh process
  check(await engine.close(), 'close') // the writer checkpoints (TRUNCATE) as it closes
  base.close()
  const imsyncBytes = dirBytes(imsyncDir, isDbFile)
  const baseBytes = dirBytes(path.dirname(baseFile), isDbFile)
  out.bytes = {
    imsync: { total: imsyncBytes, perMessage: imsyncBytes / N },
    baseline: { total: baseBytes, perMessage: baseBytes / N },
  }
  log('bytes', JSON.stringify(out.bytes))

  log('open to first query')
  const probe = (args) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'open-probe.js'), ...args], { encoding: 'utf8' }))
  const opens = { imsync: [], baseline: [] }
  for (let i = 0; i < OPEN_RUNS; i++) {
    opens.imsync.push(probe(['imsync', imsyncDir, USER]))
    opens.baseline.push(probe(['baseline', baseFile]))
  }
  const med = (runs, k) => summary(runs.map((r) => r[k])).p50
  out.open = {}
  for (const k of ['imsync', 'baseline']) {
    out.open[k] = {
      runs: opens[k].length,
      totalMs: med(opens[k], 'totalMs'),
      openMs: med(opens[k], 'openMs'),
      firstQueryMs: med(opens[k], 'firstQueryMs'),
      requireMs: med(opens[k], 'requireMs'),
      all: opens[k].map((r) => +r.totalMs.toFixed(2)),
    }
  }
  log('open', JSON.stringify(out.open))
  mark('open')

  // -- conversation list over 10,000 conversations (a second database)
  out.conversationList = await conversationListBench(loadBaseline(), out.problems)
  mark('conversation list')

  if (ENC_N > 0) {
    out.config.encryptionMessages = ENC_N
    out.encryption = await encryptionComparison(mark)
  }

  out.totalSeconds = toMs(now() - started) / 1000
  report(out)
  if (out.encryption) reportEncryption(out)
  if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out, null, 2))
}

// ---- conversation list: 10,000 conversations × 10 messages (a second database pair) ----------

/**
 * getConversationList(0, 50) on both, LIST_CALLS timed calls each after 50 warm-up calls.
 * Besides the latencies it records what the tail is made of: the garbage collections that ran
 * during the timed calls (PerformanceObserver 'gc'), which calls were slow (their index, so a
 * cluster at the start shows background work left over from the ingest), and the size of the
 * answer as JSON text.
 */
async function conversationListBench(Baseline, problems) {
  gc()
  const listCorpus = generate({
    messages: LIST_CONVERSATIONS * LIST_PER_CONVERSATION,
    conversations: LIST_CONVERSATIONS,
    skew: 0,
    seed: 99,
    uidPrefix: 'L',
  })
  log(`conversation list: ${LIST_CONVERSATIONS} conversations, ${listCorpus.messages} messages`)
  const listEngine = new Engine({ appkey: 'bench', dbpath: path.join(DATA, 'imsync-list'), logOutputLevel: 1 })
  check(await listEngine.open(USER), 'open list db')
  const listBaseFile = path.join(DATA, 'baseline-list', 'bench.db')
  fs.mkdirSync(path.dirname(listBaseFile), { recursive: true })
  const listBase = new Baseline(listBaseFile)
  const li = await ingest(listCorpus, (b) => listEngine.batchInsertMessage(b, false), { yieldBetween: false })
  const lb = await ingest(listCorpus, (b) => listBase.batchInsertMessage(b), { yieldBetween: true })
  const listArgs = new Array(LIST_CALLS + 50).fill(0)
  const list = (e) => () => e.getConversationList(0, 50)
  const { PerformanceObserver } = require('node:perf_hooks')
  const timed = async (e) => {
    const gcs = []
    const obs = new PerformanceObserver((l) => {
      for (const g of l.getEntries()) gcs.push(g.duration)
    })
    gc()
    obs.observe({ entryTypes: ['gc'] })
    const r = await timeCalls(listArgs, list(e), { warm: 50, budgetMs: Infinity, keepAll: LIST_KEEP_ALL })
    await new Promise((res) => setTimeout(res, 100)) // let the observer deliver (the baseline's loop never yields)
    obs.disconnect()
    const s = Float64Array.from(gcs).sort()
    r.gc = { count: s.length, totalMs: s.reduce((a, b) => a + b, 0), max: s[s.length - 1] ?? 0, over1ms: s.filter((d) => d > 1).length }
    return r
  }
  const il = await timed(listEngine)
  const bl = await timed(listBase)
  const a = check(il.results[0], 'getConversationList')
  const b = check(bl.results[0], 'baseline getConversationList')
  if (a.length !== 50 || a.map((c) => c.targetId).join() !== b.map((c) => c.targetId).join()) {
    problems.push({ call: 'getConversationList', imsync: a.map((c) => c.targetId).slice(0, 5), baseline: b.map((c) => c.targetId).slice(0, 5) })
  }
  const res = {
    conversations: LIST_CONVERSATIONS,
    messages: listCorpus.messages,
    imsync: il.stats,
    baseline: bl.stats,
    ingest: { imsync: li.msgsPerSec, baseline: lb.msgsPerSec },
    gc: { imsync: il.gc, baseline: bl.gc },
    jsonChars: { imsync: JSON.stringify(a).length, baseline: JSON.stringify(b).length },
  }
  if (ONLY) {
    // Where the slow calls fall in the sequence (index of each call above 1 ms).
    res.slowCalls = { imsync: il.samples.flatMap((d, i) => (d > 1 ? [[i, +d.toFixed(2)]] : [])), baseline: bl.samples.flatMap((d, i) => (d > 1 ? [[i, +d.toFixed(2)]] : [])) }
    // The floor of any async call on this database, measured the same way.
    const floor = await timeCalls(listArgs, () => listEngine.getTotalUnreadCount(), { warm: 50, budgetMs: Infinity, keepAll: false })
    res.imsyncTrivialCall = floor.stats
  }
  log('conversation list', JSON.stringify(res))
  check(await listEngine.close(), 'close list db')
  listBase.close()
  return res
}

// ---- encryption: the same corpus into a plain and an encrypted database ----------------------

/**
 * Calls `variants[name](arg)` for every argument and every variant, alternating which variant
 * goes first, so both see the same machine load (the machine is shared) and the same cache
 * temperature. Returns per-variant { stats, results }.
 */
async function timeAlternating(args, variants, { warm = WARMUP, budgetMs = BUDGET_MS } = {}) {
  const names = Object.keys(variants)
  for (let i = 0; i < Math.min(warm, args.length); i++) for (const n of names) await variants[n](args[i])
  const samples = Object.fromEntries(names.map((n) => [n, []]))
  const results = Object.fromEntries(names.map((n) => [n, []]))
  let spent = 0
  for (let i = warm; i < args.length; i++) {
    const order = i % 2 ? names : [...names].reverse()
    for (const n of order) {
      const t0 = now()
      const res = await variants[n](args[i])
      const dt = toMs(now() - t0)
      samples[n].push(dt)
      results[n][i - warm] = res
      spent += dt
    }
    if (spent > budgetMs * names.length && samples[names[0]].length >= MIN_CALLS) break
  }
  return Object.fromEntries(names.map((n) => [n, { stats: summary(samples[n]), results: results[n] }]))
}

/**
 * The cost of `encryptionKey`: one corpus of ENC_N messages fed to a plain and an encrypted
 * database batch by batch (alternating), then the same searches on both (alternating per call,
 * answers compared), open to first query in fresh processes, file sizes, and how long
 * rekey and encryptDatabase take on a database of this size.
 */
async function encryptionComparison(mark) {
  const res = { messages: ENC_N, conversations: CONVERSATIONS, key: 'passphrase (SQLCipher 4: PBKDF2-HMAC-SHA512, 256,000 iterations)', problems: [] }
  log(`encryption: generating ${ENC_N} messages over ${CONVERSATIONS} conversations`)
  const corpus = generate({ messages: ENC_N, conversations: CONVERSATIONS, seed: 424242, uidPrefix: 'E' })
  const dirs = { plain: path.join(DATA, 'enc-plain'), encrypted: path.join(DATA, 'enc-encrypted') }
  const keys = { plain: undefined, encrypted: ENC_KEY }
  const engines = {}
  for (const n of ['plain', 'encrypted']) {
    const opts = { appkey: 'bench', dbpath: dirs[n], logOutputLevel: 1 }
    if (keys[n]) opts.encryptionKey = keys[n]
    engines[n] = new Engine(opts)
    check(await engines[n].open(USER), `open ${n}`)
  }

  // Ingest: batch i goes to both databases, in alternating order.
  gc()
  log('encryption: ingest (alternating batches)')
  const calls = { plain: [], encrypted: [] }
  const totals = { plain: 0, encrypted: 0 }
  const names = ['plain', 'encrypted']
  for (let i = 0, k = 0; i < corpus.messages; i += BATCH, k++) {
    const batch = []
    for (let j = i; j < Math.min(i + BATCH, corpus.messages); j++) batch.push(corpus.message(j))
    for (const n of k % 2 ? names : [...names].reverse()) {
      const t0 = now()
      const r = check(await engines[n].batchInsertMessage(batch, false), `${n} batchInsertMessage`)
      calls[n].push(toMs(now() - t0))
      totals[n] += r.inserted
    }
  }
  res.ingest = {}
  for (const n of names) {
    if (totals[n] !== corpus.messages) throw new Error(`${n}: inserted ${totals[n]} of ${corpus.messages}`)
    const seconds = calls[n].reduce((a, b) => a + b, 0) / 1000
    res.ingest[n] = { messages: totals[n], seconds, msgsPerSec: totals[n] / seconds, call: summary(calls[n]) }
  }
  log('encryption: ingest', JSON.stringify(res.ingest))
  mark('encryption ingest')

  // Search: the same keywords on both, alternating per call, answers compared.
  res.search = {}
  const rand = rng(11)
  for (const cls of KEYWORD_CLASSES) {
    const inConv = sampleKeywords(corpus, cls, CALLS + WARMUP, rand, true)
    const global = sampleKeywords(corpus, cls, CALLS + WARMUP, rand, false)
    gc()
    log(`encryption: search ${cls.name}`)
    const sm = await timeAlternating(
      inConv,
      Object.fromEntries(names.map((n) => [n, (a) => engines[n].searchMessages(conversationOption(corpus, a.conv), a.keyword, 0, 20)])),
    )
    const sc = await timeAlternating(global, Object.fromEntries(names.map((n) => [n, (a) => engines[n].searchConversationByContent(a.keyword, TYPES)])))
    for (let i = 0; i < sm.plain.results.length; i++) {
      const a = check(sm.plain.results[i], 'plain searchMessages')
      const b = check(sm.encrypted.results[i], 'encrypted searchMessages')
      if (a.count !== b.count || a.messages.map((m) => m.messageUId).join() !== b.messages.map((m) => m.messageUId).join()) {
        res.problems.push({ call: 'searchMessages', keyword: inConv[i + WARMUP].keyword, plain: a.count, encrypted: b.count })
      }
    }
    for (let i = 0; i < sc.plain.results.length; i++) {
      const ids = (l) => l.map((c) => c.targetId).sort().join(',')
      const a = check(sc.plain.results[i], 'plain searchConversationByContent')
      const b = check(sc.encrypted.results[i], 'encrypted searchConversationByContent')
      if (ids(a) !== ids(b)) res.problems.push({ call: 'searchConversationByContent', keyword: global[i + WARMUP].keyword, plain: a.length, encrypted: b.length })
    }
    res.search[cls.name] = {
      searchMessages: { plain: sm.plain.stats, encrypted: sm.encrypted.stats },
      searchConversationByContent: { plain: sc.plain.stats, encrypted: sc.encrypted.stats },
    }
    log(`encryption: search ${cls.name}`, JSON.stringify(res.search[cls.name]))
    mark(`encryption search ${cls.name}`)
  }

  // Size on disk and open to first query (fresh processes; the encrypted open derives the key
  // once per connection: the writer and two readers).
  for (const n of names) check(await engines[n].close(), `close ${n}`)
  res.bytes = {}
  for (const n of names) res.bytes[n] = { total: dirBytes(dirs[n], isDbFile), perMessage: dirBytes(dirs[n], isDbFile) / ENC_N }
  const probe = (dir, key) =>
    JSON.parse(
      execFileSync(process.execPath, [path.join(__dirname, 'open-probe.js'), 'imsync', dir, USER], {
        encoding: 'utf8',
        env: key ? { ...process.env, IMSYNC_PROBE_KEY: key } : process.env,
      }),
    )
  const opens = { plain: [], encrypted: [] }
  for (let i = 0; i < OPEN_RUNS; i++) {
    opens.plain.push(probe(dirs.plain))
    opens.encrypted.push(probe(dirs.encrypted, ENC_KEY))
  }

  // rekey (passphrase → raw key) on the encrypted database, then open with the raw key;
  // encryptDatabase on the plain one.
  const enc = new Engine({ appkey: 'bench', dbpath: dirs.encrypted, logOutputLevel: 1, encryptionKey: ENC_KEY })
  check(await enc.open(USER), 'reopen encrypted')
  let t0 = now()
  check(await enc.rekey(ENC_RAW_KEY), 'rekey')
  res.rekeySeconds = toMs(now() - t0) / 1000
  check(await enc.close(), 'close encrypted')
  opens.rawKey = []
  for (let i = 0; i < OPEN_RUNS; i++) opens.rawKey.push(probe(dirs.encrypted, ENC_RAW_KEY))
  const plainAgain = new Engine({ appkey: 'bench', dbpath: dirs.plain, logOutputLevel: 1 })
  check(await plainAgain.open(USER), 'reopen plain')
  t0 = now()
  check(await plainAgain.encryptDatabase(ENC_KEY), 'encryptDatabase')
  res.encryptDatabaseSeconds = toMs(now() - t0) / 1000
  check(await plainAgain.close(), 'close migrated')
  const med = (runs, k) => summary(runs.map((r) => r[k])).p50
  res.open = {}
  for (const [n, runs] of Object.entries(opens)) {
    res.open[n] = { runs: runs.length, totalMs: med(runs, 'totalMs'), openMs: med(runs, 'openMs'), firstQueryMs: med(runs, 'firstQueryMs') }
  }
  log('encryption: open', JSON.stringify(res.open), 'rekey s', res.rekeySeconds, 'encryptDatabase s', res.encryptDatabaseSeconds)
  mark('encryption open/rekey/migrate')
  return res
}

function reportEncryption(out) {
  const r = out.encryption
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—')
  const ratio = (e, p) => (Number.isFinite(e) && Number.isFinite(p) && p > 0 ? `${(e / p).toFixed(2)}×` : '—')
  const rows = []
  const add = (figure, p, e, digits = 3) => rows.push([figure, f(p, digits), f(e, digits), ratio(e, p)])
  add('ingest, batchInsertMessage ×500 (msgs/s)', r.ingest.plain.msgsPerSec, r.ingest.encrypted.msgsPerSec, 0)
  add('ingest, one 500-message call p50 (ms)', r.ingest.plain.call.p50, r.ingest.encrypted.call.p50)
  add('ingest, one 500-message call p99 (ms)', r.ingest.plain.call.p99, r.ingest.encrypted.call.p99)
  for (const api of ['searchMessages', 'searchConversationByContent']) {
    for (const [cls, row] of Object.entries(r.search)) {
      add(`${api} ${cls} p50 (ms) [n=${row[api].plain.n}]`, row[api].plain.p50, row[api].encrypted.p50)
      add(`${api} ${cls} p99 (ms)`, row[api].plain.p99, row[api].encrypted.p99)
    }
  }
  add('open to first answered query, passphrase (ms, median)', r.open.plain.totalMs, r.open.encrypted.totalMs, 1)
  add('open to first answered query, raw x\'…\' key (ms, median)', r.open.plain.totalMs, r.open.rawKey.totalMs, 1)
  add('database bytes per message', r.bytes.plain.perMessage, r.bytes.encrypted.perMessage, 1)
  const header = ['figure', 'plain', 'encrypted', 'encrypted/plain']
  const lines = [header, header.map(() => '---'), ...rows].map((x) => `| ${x.join(' | ')} |`)
  console.log(`\nimsync encryption cost: ${r.messages} messages over ${r.conversations} conversations, key: ${r.key}`)
  console.log(`machine: ${out.machine.cpus} × ${out.machine.cpuModel}, ${out.machine.memGiB} GiB, node ${out.machine.node}`)
  console.log(lines.join('\n'))
  console.log(`rekey of the ${r.messages}-message database: ${f(r.rekeySeconds, 2)} s; encryptDatabase of the plain one: ${f(r.encryptDatabaseSeconds, 2)} s`)
  console.log(`answers that differ between plain and encrypted: ${r.problems.length}`)
  for (const p of r.problems.slice(0, 10)) console.log('  ', JSON.stringify(p))
  console.log(`load average (1 min) by phase: ${out.load.map((l) => `${l.phase} ${l.loadavg1}`).join(', ')}`)
  console.log(`addon: commit ${out.build.commit}, ${out.build.uncommittedAddonChanges} uncommitted addon files, ${out.build.addon}`)
  console.log(`total run: ${f(out.totalSeconds, 0)} s`)
  if (ONLY) console.log(`RESULTS_JSON ${JSON.stringify(out)}`)
}

function reportConversationList(out) {
  const cl = out.conversationList
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—')
  console.log(`\ngetConversationList(0, 50) over ${cl.conversations} conversations (${cl.messages} messages), ${cl.imsync.n} timed calls each`)
  console.log(`machine: ${out.machine.cpus} × ${out.machine.cpuModel}, node ${out.machine.node}`)
  console.log('| | p50 (ms) | p99 (ms) | max (ms) | calls > 1 ms | GCs (> 1 ms) during the calls | GC total (ms) | JSON chars |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const k of ['imsync', 'baseline']) {
    const s = cl[k]
    const g = cl.gc[k]
    console.log(`| ${k} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${cl.slowCalls[k].length} | ${g.count} (${g.over1ms}) | ${f(g.totalMs, 1)} | ${cl.jsonChars[k]} |`)
  }
  console.log(`imsync floor (getTotalUnreadCount round trip) p50 / p99: ${f(cl.imsyncTrivialCall.p50)} / ${f(cl.imsyncTrivialCall.p99)} ms`)
  console.log(`slow imsync calls [index, ms]: ${JSON.stringify(cl.slowCalls.imsync.slice(0, 40))}`)
  console.log(`slow baseline calls [index, ms]: ${JSON.stringify(cl.slowCalls.baseline.slice(0, 40))}`)
  console.log(`answers that differ between imsync and the baseline: ${out.problems.length}`)
  for (const p of out.problems.slice(0, 10)) console.log('  ', JSON.stringify(p))
  console.log(`load average (1 min) by phase: ${out.load.map((l) => `${l.phase} ${l.loadavg1}`).join(', ')}`)
  console.log(`addon: commit ${out.build.commit}, ${out.build.uncommittedAddonChanges} uncommitted addon files, ${out.build.addon}`)
  console.log(`total run: ${f(out.totalSeconds, 1)} s`)
  console.log(`RESULTS_JSON ${JSON.stringify(out)}`)
}

// ---- report -------------------------------------------------------------------------------

function report(out) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—')
  const ratio = (i, b) => (Number.isFinite(i) && Number.isFinite(b) && b > 0 ? `${(i / b).toFixed(2)}×` : '—')
  const ok = (pass) => (pass == null ? '—' : pass ? 'met' : 'MISSED')
  const rows = []
  const add = (figure, target, imsync, baseline, pass, digits = 3) =>
    rows.push([figure, target, f(imsync, digits), f(baseline, digits), ratio(imsync, baseline), ok(pass)])

  const ing = out.ingest
  add('ingest, batchInsertMessage ×500 (msgs/s)', '≥ 100,000', ing.imsync.msgsPerSec, ing.baseline.msgsPerSec, ing.imsync.msgsPerSec >= 100_000, 0)
  add('ingest, one 500-message call p50 (ms)', '—', ing.imsync.call.p50, ing.baseline.call.p50, null)
  add('ingest, one 500-message call p99 (ms)', '—', ing.imsync.call.p99, ing.baseline.call.p99, null)
  add('ingest, JS-thread time per call p50 (ms)', '—', ing.imsync.jsThread.p50, ing.baseline.jsThread.p50, null)
  add('event-loop delay p99 during ingest (ms)', '≤ 5', ing.imsync.eventLoopDelay.p99, ing.baseline.eventLoopDelay.p99, ing.imsync.eventLoopDelay.p99 <= 5)
  add('event-loop delay max during ingest (ms)', '—', ing.imsync.eventLoopDelay.max, ing.baseline.eventLoopDelay.max, null)
  for (const api of ['searchMessages', 'searchConversationByContent']) {
    for (const [cls, row] of Object.entries(out.search)) {
      const i = row[api].imsync
      const b = row[api].baseline
      add(`${api} ${cls} p50 (ms)`, '≤ 2', i.p50, b.p50, i.p50 <= 2)
      add(`${api} ${cls} p99 (ms) [n=${i.n}/${b.n}]`, '≤ 20', i.p99, b.p99, i.p99 <= 20)
    }
  }
  add('getHistoryMessages count 20 p50 (ms)', '≤ 0.1', out.history.imsync.p50, out.history.baseline.p50, out.history.imsync.p50 <= 0.1)
  add('getHistoryMessages count 20 p99 (ms)', '—', out.history.imsync.p99, out.history.baseline.p99, null)
  add('  floor: getMessageCount round trip p50 (ms)', '—', out.history.imsyncTrivialCall.p50, NaN, null)
  const cl = out.conversationList
  add(`getConversationList(0, 50), ${cl.conversations} convs p50 (ms)`, '≤ 1', cl.imsync.p50, cl.baseline.p50, cl.imsync.p50 <= 1)
  add('getConversationList(0, 50) p99 (ms)', '—', cl.imsync.p99, cl.baseline.p99, null)
  add('open to first answered query (ms, median)', '≤ 100', out.open.imsync.totalMs, out.open.baseline.totalMs, out.open.imsync.totalMs <= 100, 1)
  add('  of which new Engine + open() / new Database + schema (ms)', '—', out.open.imsync.openMs, out.open.baseline.openMs, null, 1)
  add('database bytes per message (file + WAL after checkpoint)', '—', out.bytes.imsync.perMessage, out.bytes.baseline.perMessage, null, 1)

  const header = ['figure', 'target', 'imsync', 'baseline', 'imsync/baseline', 'imsync vs target']
  const lines = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`)
  console.log(`\nimsync local-database benchmark: ${out.config.messages} messages over ${out.config.conversations} conversations`)
  console.log(`machine: ${out.machine.cpus} × ${out.machine.cpuModel}, ${out.machine.memGiB} GiB, node ${out.machine.node}`)
  console.log(lines.join('\n'))
  console.log(`\nmean matches per searchMessages call: ${Object.entries(out.search).map(([k, r]) => `${k} ${f(r.searchMessages.meanMatches, 1)}`).join(', ')}`)
  console.log(`mean conversations per searchConversationByContent call: ${Object.entries(out.search).map(([k, r]) => `${k} ${f(r.searchConversationByContent.meanConversations, 1)}`).join(', ')}`)
  console.log(`answers that differ between imsync and the baseline: ${out.problems.length}`)
  for (const p of out.problems.slice(0, 10)) console.log('  ', JSON.stringify(p))
  console.log(`load average (1 min) by phase: ${out.load.map((l) => `${l.phase} ${l.loadavg1}`).join(', ')}`)
  console.log(`addon: commit ${out.build.commit}, ${out.build.uncommittedAddonChanges} uncommitted addon files, ${out.build.addon}`)
  console.log(`total run: ${f(out.totalSeconds, 0)} s`)
  console.log(`RESULTS_JSON ${JSON.stringify(out)}`)
}

main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => {
    if (process.env.BENCH_KEEP_DATA !== '1') fs.rmSync(DATA, { recursive: true, force: true })
  })
