'use strict'
// Sync-engine benchmark (issue 4), against the real imsync-server on loopback.
//
//   node --expose-gc benches/sync.js                 # the reported sizes
//   SYNC_MESSAGES=20000 node benches/sync.js         # quick run
//
// Order of the run (each part starts from the state the previous one left):
// b. Online latency first, on empty databases: SYNC_SENDS (2,000) sends alice → bob, one at
//    a time after SYNC_WARMUP (200), each timed from the sendMessage call to bob's MESSAGES
//    event carrying it (matched by its unique text; its messageUId is checked too). Both
//    engines live in this process (one JS thread, as in one Electron main process).
//    Then bob's app quits (engine closed; his inbox cursor is in his database).
// a. Offline pull: SYNC_MESSAGES (100,000) private messages alice → bob (mixed Chinese/English,
//    5–60 characters) are published through the signed admin API (keep-alive HTTP,
//    SYNC_PUBLISH_CONCURRENCY parallel requests) while bob is offline; then bob's app starts
//    (a new Engine on his database) and the time from connect() to
//    PULL_OFFLINE_MESSAGE_FINISHED is measured, with the event-loop delay
//    (perf_hooks.monitorEventLoopDelay, resolution 1 ms) over the same window. When the
//    first MESSAGES event arrives, a searchMessages for that message's text runs at once
//    (searchable on arrival); after the pull, searches check the counts against the corpus.
//    Default settings (setCheckDuplicateMessage on, as the engine starts).
//    Diagnostic: the same inbox pulled by a second, fresh database of bob's with
//    setCheckDuplicateMessage(false).
//    Baseline: the same messages through batchInsertMessage (500 per call) into a fresh
//    database in this process (the local ceiling).
//    A pull that has not finished after SYNC_PULL_DEADLINE_MS (150 s) is stopped and its rate
//    so far reported, so the run stays bounded.
// c. Idle: two fresh Node processes (both at once, alongside the publish phase of a, which
//    does not change their own CPU time or memory): one connects an engine (default
//    heartbeat) and idles SYNC_IDLE_MS (10 s): CPU time over the window (process.cpuUsage,
//    all threads) and RSS growth since before connect(). Baseline: the same with the
//    database opened locally and no connection.
//
// Writes the results as JSON to SYNC_OUT (if set) and prints a summary.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { monitorEventLoopDelay, performance } = require('node:perf_hooks')

const C = require('./sync-lib/common')

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const N = env('SYNC_MESSAGES', 100_000)
const PUBLISH_CONCURRENCY = env('SYNC_PUBLISH_CONCURRENCY', 32)
const SENDS = env('SYNC_SENDS', 2000)
const WARMUP = env('SYNC_WARMUP', 200)
const IDLE_MS = env('SYNC_IDLE_MS', 10_000)
const PULL_DEADLINE_MS = env('SYNC_PULL_DEADLINE_MS', 150_000)
const BATCH = 500
const PRIVATE = 1
const LATENCY_PREFIX = 'lat '

const Engine = C.loadEngine()
const log = C.log
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function check(r, what) {
  if (!r || r.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(r)}`)
  return r.data
}

/**
 * An engine whose events can be awaited and observed. The event subscription does not keep
 * Node alive (by design), so waits hold a timer.
 */
function makeUser(name, serverUrl, dbpath, extra = {}) {
  const engine = new Engine({ appkey: C.APP_KEY, dbpath, serverUrl, platform: 'Electron', logOutputLevel: 1, ...extra })
  const waiters = []
  const observers = []
  engine.onEvent((event, payload) => {
    const at = C.nowMs()
    for (const o of observers) o(event, payload, at)
    for (const w of [...waiters]) {
      if (w.event === event && w.pred(payload)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve({ payload, at })
      }
    }
  })
  const waitFor = (event, pred = () => true, ms = 60_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1)
        reject(Object.assign(new Error(`${name}: no ${event} within ${ms} ms`), { timeout: true }))
      }, ms)
      const w = { event, pred, resolve: (p) => (clearTimeout(timer), resolve(p)) }
      waiters.push(w)
    })
  return { name, engine, waitFor, observers }
}

function textOf(m) {
  return m && m.content && typeof m.content.content === 'string' ? m.content.content : null
}

function expectedCount(texts, kw) {
  const k = kw.toLowerCase()
  let n = 0
  for (const t of texts) if (t.toLowerCase().includes(k)) n++
  return n
}

const SEARCH_KEYWORDS = ['会议', '预算', '好', 'budget', 'Meeting', 'q']

/** The texts of part b's sends: bob's inbox and database hold them too. */
function latencyTexts() {
  return Array.from({ length: WARMUP + SENDS }, (_, i) => latencyText(i))
}

function latencyText(i) {
  return `${LATENCY_PREFIX}${i} 你好 bob, ping #${i}`
}

async function searches(engine, conv, texts) {
  const out = []
  for (const kw of SEARCH_KEYWORDS) {
    const t0 = C.nowMs()
    const r = check(await engine.searchMessages(conv, kw, 0, 20), `searchMessages(${kw})`)
    const ms = C.nowMs() - t0
    out.push({ keyword: kw, count: r.count, expected: expectedCount(texts, kw), returned: r.messages.length, ms })
  }
  return out
}

function elDelay(h) {
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 }
}

// ---- b. online latency ---------------------------------------------------------------------

async function onlineLatency(server, admin, root) {
  log(`b. online send → receive latency alice → bob: ${WARMUP} warm-up + ${SENDS} timed sends, one at a time`)
  const alice = makeUser('alice', server.url, path.join(root, 'alice'))
  const bob = makeUser('bob', server.url, path.join(root, 'bob'))
  for (const u of [alice, bob]) {
    const pulled = u.waitFor('PULL_OFFLINE_MESSAGE_FINISHED')
    check(await u.engine.connect(await admin.token(u.name)), `${u.name} connect`)
    await pulled
  }
  await sleep(200)

  const waiting = new Map() // text -> resolve(at, message)
  bob.observers.push((event, payload, at) => {
    if (event !== 'MESSAGES') return
    for (const m of payload.messages) {
      const w = waiting.get(textOf(m))
      if (w) {
        waiting.delete(textOf(m))
        w(at, m)
      }
    }
  })
  const conv = { conversationType: PRIVATE, targetId: 'bob' }
  const e2e = []
  const ack = []
  let serverCpu0 = 0
  let cpu0 = null
  let threads0 = null
  let t0Timed = 0
  let mismatched = 0
  const keep = setInterval(() => {}, 1000)
  const h = monitorEventLoopDelay({ resolution: 1 })
  for (let i = 0; i < WARMUP + SENDS; i++) {
    if (i === WARMUP) {
      if (global.gc) global.gc()
      serverCpu0 = C.procCpuSeconds(server.pid)
      cpu0 = process.cpuUsage()
      threads0 = C.threadCpuMs()
      t0Timed = C.nowMs()
      h.enable()
    }
    const text = latencyText(i)
    const got = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bob did not receive send ${i} within 10 s`)), 10_000)
      waiting.set(text, (at, m) => {
        clearTimeout(timer)
        resolve({ at, m })
      })
    })
    const t0 = C.nowMs()
    const sent = check(await alice.engine.sendMessage(conv, { messageType: 'RC:TxtMsg', content: { content: text } }), `sendMessage ${i}`)
    const tAck = C.nowMs()
    const { at, m } = await got
    if (m.messageUId !== sent.messageUId) mismatched++
    if (i >= WARMUP) {
      e2e.push(at - t0)
      ack.push(tAck - t0)
    }
  }
  h.disable()
  clearInterval(keep)
  const wallMs = C.nowMs() - t0Timed
  const cpu = process.cpuUsage(cpu0)
  const serverCpuMs = (C.procCpuSeconds(server.pid) - serverCpu0) * 1000
  const threads = C.threadCpuDiff(threads0, C.threadCpuMs())
  check(await alice.engine.close(), 'alice close')
  check(await bob.engine.close(), 'bob close') // bob's app quits; his cursor is in his database
  const r = {
    sends: SENDS,
    warmup: WARMUP,
    e2eMs: C.percentiles(e2e, [50, 90, 99, 99.9]),
    ackMs: C.percentiles(ack, [50, 90, 99]),
    uidMismatches: mismatched,
    wallMs,
    clientCpuPerSendMs: (cpu.user + cpu.system) / 1000 / SENDS,
    serverCpuPerSendMs: serverCpuMs / SENDS,
    threadCpuPerSendMs: Object.fromEntries(Object.entries(threads).map(([k, v]) => [k, v / SENDS])),
    eventLoopDelayMs: elDelay(h),
  }
  log(
    `   send → bob's MESSAGES: p50 ${r.e2eMs.p50.toFixed(2)} ms, p99 ${r.e2eMs.p99.toFixed(2)} ms (max ${r.e2eMs.max.toFixed(2)}); ` +
      `sendMessage resolved: p50 ${r.ackMs.p50.toFixed(2)} ms; client CPU ${r.clientCpuPerSendMs.toFixed(3)} ms/send (both engines)`,
  )
  return r
}

// ---- a. offline pull ----------------------------------------------------------------------

async function publishAll(server, admin, texts) {
  let next = 0
  let done = 0
  const t0 = C.nowMs()
  const s0 = C.procCpuSeconds(server.pid)
  let lastLog = t0
  const progress = [] // { s, done } every 10 s: the server's cost per publish over the burst
  async function worker() {
    for (;;) {
      const i = next++
      if (i >= texts.length) return
      await admin.post('/message/private/publish', {
        fromUserId: 'alice',
        toUserId: 'bob',
        objectName: 'RC:TxtMsg',
        content: JSON.stringify({ content: texts[i] }),
      })
      done++
      const now = C.nowMs()
      if (now - lastLog >= 10_000) {
        progress.push({ s: (now - t0) / 1000, done })
        lastLog = now
        log(`   published ${done}/${texts.length}`)
      }
    }
  }
  await Promise.all(Array.from({ length: PUBLISH_CONCURRENCY }, worker))
  const ms = C.nowMs() - t0
  return {
    messages: texts.length,
    ms,
    perSec: texts.length / (ms / 1000),
    concurrency: PUBLISH_CONCURRENCY,
    serverCpuPerMsgMs: ((C.procCpuSeconds(server.pid) - s0) * 1000) / texts.length,
    progress,
    endedAtWallClock: Date.now(),
  }
}

/**
 * Connects `userName`'s engine on `dbpath` and measures the offline pull of the `texts`
 * published while it was away. Returns the figures (partial ones when the deadline passed).
 */
async function measurePull({ server, token, dbpath, texts, label, checkDuplicate }) {
  const bob = makeUser('bob', server.url, dbpath)
  if (checkDuplicate !== undefined) check(await bob.engine.setCheckDuplicateMessage(checkDuplicate), 'setCheckDuplicateMessage')
  const conv = { conversationType: PRIVATE, targetId: 'alice' }
  const stats = { messagesEvents: 0, messages: 0, pulled: 0, maxPerEvent: 0, conversationEvents: 0, firstMessagesAt: null, lastMessagesAt: null, offline: 0, maxSentTime: 0 }
  const received = new Map() // text -> count (the published messages only)
  let arrival = null
  let largest = null
  bob.observers.push((event, payload, at) => {
    if (event === 'MESSAGES') {
      const list = payload.messages
      stats.messagesEvents++
      stats.messages += list.length
      stats.lastMessagesAt = at
      if (list.length > stats.maxPerEvent) {
        stats.maxPerEvent = list.length
        largest = payload
      }
      for (const m of list) {
        const t = textOf(m)
        if (t === null || t.startsWith(LATENCY_PREFIX)) continue
        stats.pulled++
        received.set(t, (received.get(t) || 0) + 1)
        if (m.isOfflineMessage) stats.offline++
        if (m.sentTime > stats.maxSentTime) stats.maxSentTime = m.sentTime
      }
      if (stats.firstMessagesAt === null) {
        stats.firstMessagesAt = at
        // Searchable on arrival: search the text of a message from the first batch right away.
        const probe = list[list.length - 1]
        const kw = textOf(probe)
        const s0 = C.nowMs()
        arrival = bob.engine.searchMessages(conv, kw, 0, 20).then((r) => ({
          keyword: kw,
          code: r.code,
          count: r.data ? r.data.count : null,
          found: !!(r.data && r.data.messages.some((m) => m.messageUId === probe.messageUId)),
          ms: C.nowMs() - s0,
          sentAfterFirstEventMs: s0 - at,
        }))
      }
    } else if (event === 'CONVERSATION') {
      stats.conversationEvents++
    }
  })
  const finished = bob.waitFor('PULL_OFFLINE_MESSAGE_FINISHED', () => true, PULL_DEADLINE_MS)
  finished.catch(() => {})
  if (global.gc) global.gc()
  const serverCpu0 = C.procCpuSeconds(server.pid)
  const h = monitorEventLoopDelay({ resolution: 1 })
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const rss0 = C.procStatus().rssKiB
  const threads0 = C.threadCpuMs()
  log(`   ${label}: bob connects and pulls`)
  h.enable()
  const connectWallClock = Date.now()
  const t0 = C.nowMs()
  const connected = check(await bob.engine.connect(token), 'bob connect')
  const tConnect = C.nowMs() - t0
  let finishedAt = null
  try {
    finishedAt = (await finished).at
  } catch (e) {
    if (!e.timeout) throw e
  }
  h.disable()
  const endAt = finishedAt ?? C.nowMs()
  const ms = endAt - t0
  const elu = performance.eventLoopUtilization(elu0)
  const cpu = process.cpuUsage(cpu0)
  const serverCpu = C.procCpuSeconds(server.pid) - serverCpu0
  const threads = C.threadCpuDiff(threads0, C.threadCpuMs())
  const rss1 = C.procStatus().rssKiB
  const pulledAtEnd = stats.pulled
  let out
  if (finishedAt === null) {
    log(`   ${label}: not finished after ${PULL_DEADLINE_MS / 1000} s (${pulledAtEnd} of ${texts.length} messages): stopped`)
    await bob.engine.close()
    out = { finished: false, deadlineMs: PULL_DEADLINE_MS }
  } else {
    // Events queued before PULL_OFFLINE_MESSAGE_FINISHED have been delivered by now.
    await sleep(50)
    out = { finished: true }
  }
  const onArrival = arrival ? await arrival : null
  Object.assign(out, {
    label,
    checkDuplicate: checkDuplicate ?? 'default',
    userId: connected.userId,
    messages: texts.length,
    pulled: pulledAtEnd,
    ms,
    perSec: pulledAtEnd / (ms / 1000),
    connectResolvedMs: tConnect,
    firstMessagesEventMs: stats.firstMessagesAt === null ? null : stats.firstMessagesAt - t0,
    eventLoopDelayMs: elDelay(h),
    eventLoopUtilization: elu.utilization,
    jsThreadBusyMs: elu.active,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    threadCpuMs: threads,
    serverCpuMs: serverCpu * 1000,
    rssGrowthKiB: rss1 - rss0,
    events: { messagesEvents: stats.messagesEvents, messages: stats.messages, maxPerEvent: stats.maxPerEvent, conversationEvents: stats.conversationEvents },
    offlineFlagged: stats.offline,
    newestSentTimeAfterConnectMs: stats.maxSentTime - connectWallClock,
    searchOnArrival: onArrival,
  })
  if (out.finished) {
    out.storedCount = check(await bob.engine.getMessageCount(conv), 'getMessageCount')
    // Published messages that never arrived: count per text, published vs received.
    const published = new Map()
    for (const t of texts) published.set(t, (published.get(t) || 0) + 1)
    let missing = 0
    const examples = []
    for (const [t, n] of published) {
      const got = received.get(t) || 0
      if (got < n) {
        missing += n - got
        if (examples.length < 8) examples.push({ text: t, published: n, received: got })
      }
    }
    out.missing = missing
    out.missingExamples = examples
    out.searchAfter = await searches(bob.engine, conv, texts.concat(latencyTexts()))
    // For scale: what JSON.parse of the largest MESSAGES payload costs on this JS thread.
    if (largest) {
      const text = JSON.stringify(largest)
      const runs = []
      for (let i = 0; i < 7; i++) {
        const p0 = C.nowMs()
        JSON.parse(text)
        runs.push(C.nowMs() - p0)
      }
      out.largestEvent = { messages: stats.maxPerEvent, jsonBytes: Buffer.byteLength(text), jsonParseMs: Math.min(...runs) }
    }
    check(await bob.engine.close(), 'bob close')
  }
  log(
    `   ${label}: ${out.finished ? '' : 'PARTIAL '}pulled ${pulledAtEnd} in ${(ms / 1000).toFixed(2)} s = ${Math.round(out.perSec)} msgs/s; ` +
      `event-loop delay p99 ${out.eventLoopDelayMs.p99.toFixed(1)} ms (max ${out.eventLoopDelayMs.max.toFixed(1)}); ${stats.messagesEvents} MESSAGES events` +
      (out.finished ? `; ${out.missing} published messages missing` : ''),
  )
  return out
}

async function offlinePull(server, admin, root, texts, alongside) {
  log(`a. publishing ${N} messages alice → bob (bob offline), ${PUBLISH_CONCURRENCY} parallel keep-alive requests`)
  const publish = await publishAll(server, admin, texts)
  const idleResult = await alongside
  log(`   published in ${(publish.ms / 1000).toFixed(1)} s (${Math.round(publish.perSec)}/s; server CPU ${publish.serverCpuPerMsgMs.toFixed(3)} ms per publish)`)
  const token = await admin.token('bob')
  await sleep(500)
  // bob's app starts again on his database (2,200+ messages with alice from part b).
  const pull = await measurePull({ server, token, dbpath: path.join(root, 'bob'), texts, label: 'default settings' })
  // Diagnostic: the whole inbox into a fresh database with the receive duplicate check off.
  const pullNoDedup = await measurePull({ server, token, dbpath: path.join(root, 'bob-fresh'), texts, label: 'setCheckDuplicateMessage(false), fresh database', checkDuplicate: false })
  return { publish, pull, pullNoDedup, idle: idleResult }
}

async function batchBaseline(root, texts) {
  const engine = new Engine({ appkey: C.APP_KEY, dbpath: path.join(root, 'baseline'), logOutputLevel: 1 })
  check(await engine.open('bob'), 'baseline open')
  const T0 = Date.now() - 10 * 86_400_000
  const batches = []
  for (let i = 0; i < texts.length; i += BATCH) {
    const b = []
    for (let j = i; j < Math.min(texts.length, i + BATCH); j++) {
      b.push({
        conversationType: PRIVATE,
        targetId: 'alice',
        channelId: '',
        messageType: 'RC:TxtMsg',
        content: { content: texts[j] },
        senderUserId: 'alice',
        messageDirection: 2,
        sentTime: T0 + j,
        messageUId: `BASE-${j.toString(36)}-0000`,
        isOfflineMessage: true,
      })
    }
    batches.push(b)
  }
  if (global.gc) global.gc()
  const h = monitorEventLoopDelay({ resolution: 1 })
  const cpu0 = process.cpuUsage()
  const threads0 = C.threadCpuMs()
  h.enable()
  const t0 = C.nowMs()
  let inserted = 0
  for (const b of batches) inserted += check(await engine.batchInsertMessage(b), 'batchInsertMessage').inserted
  const ms = C.nowMs() - t0
  h.disable()
  const cpu = process.cpuUsage(cpu0)
  const threads = C.threadCpuDiff(threads0, C.threadCpuMs())
  const conv = { conversationType: PRIVATE, targetId: 'alice' }
  const after = await searches(engine, conv, texts)
  check(await engine.close(), 'baseline close')
  const r = {
    messages: texts.length,
    inserted,
    ms,
    perSec: texts.length / (ms / 1000),
    eventLoopDelayMs: elDelay(h),
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    threadCpuMs: threads,
    searchAfter: after,
  }
  log(`   baseline batchInsertMessage (500 per call): ${Math.round(r.perSec)} msgs/s; event-loop delay p99 ${r.eventLoopDelayMs.p99.toFixed(1)} ms`)
  return r
}

// ---- c. idle -------------------------------------------------------------------------------

function runIdleChild(mode, envExtra) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'sync-lib', 'idle-child.js'), [], {
      env: { ...process.env, IDLE_MODE: mode, IDLE_MS: String(IDLE_MS), IDLE_APPKEY: C.APP_KEY, ...envExtra },
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`idle child (${mode}) exited with ${code}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()))
      } catch {
        reject(new Error(`idle child (${mode}): bad output ${JSON.stringify(out)}`))
      }
    })
  })
}

async function idle(server, admin, root) {
  log(`c. (alongside) idle engine, two fresh processes at once: ${IDLE_MS / 1000} s connected (default heartbeat) and ${IDLE_MS / 1000} s with the database open and no connection`)
  const token = await admin.token('carol')
  const [connected, local] = await Promise.all([
    runIdleChild('connected', { IDLE_SERVER_URL: server.url, IDLE_TOKEN: token, IDLE_USER: 'carol', IDLE_DBPATH: path.join(root, 'idle-connected') }),
    runIdleChild('local', { IDLE_USER: 'carol', IDLE_DBPATH: path.join(root, 'idle-local') }),
  ])
  for (const r of [connected, local]) {
    log(
      `   ${r.mode}: CPU ${r.cpuMs.toFixed(1)} ms in ${(r.windowMs / 1000).toFixed(1)} s; RSS +${((r.rssAfterKiB - r.rssBeforeConnectKiB) / 1024).toFixed(1)} MiB since before ${r.mode === 'connected' ? 'connect' : 'open'}; ` +
        `${r.voluntaryCtxSwitches} voluntary context switches; threads ${r.threadsBefore} → ${r.threadsAfter}`,
    )
  }
  return { idleMs: IDLE_MS, heartbeatMs: 15_000, connected, local }
}

// ---- main ----------------------------------------------------------------------------------

async function main() {
  const root = C.tmpDir('sync-bench')
  const machine = C.machine()
  log(`imsync sync benchmark — ${machine.nproc} × ${machine.cpuModel}; load ${machine.loadavg.join(' ')}; data under ${root}`)
  const texts = C.corpus(N)
  const server = await C.startServer(path.join(root, 'server'))
  const admin = C.adminClient(server.url, { maxSockets: PUBLISH_CONCURRENCY })
  const results = {
    machine,
    addon: C.addonPath(),
    server: C.serverBinary(),
    sizes: { messages: N, sends: SENDS, warmup: WARMUP, idleMs: IDLE_MS, publishConcurrency: PUBLISH_CONCURRENCY, pullDeadlineMs: PULL_DEADLINE_MS },
    startedAt: new Date().toISOString(),
  }
  const started = C.nowMs()
  const keep = setInterval(() => {}, 1000) // engine events do not keep Node alive
  try {
    const distinct = new Set(texts).size
    results.corpus = {
      messages: N,
      distinctTexts: distinct,
      meanChars: texts.reduce((s, t) => s + [...t].length, 0) / N,
      withCjk: texts.filter((t) => /[\u4e00-\u9fff]/.test(t)).length / N,
      examples: texts.slice(0, 5),
    }
    results.latency = await onlineLatency(server, admin, root)
    // Part c runs in two other processes while the server works on the publish burst: it
    // measures those processes' own CPU time and memory, which the load elsewhere does not
    // change, and it keeps the whole run shorter.
    const idlePart = idle(server, admin, root)
    idlePart.catch(() => {})
    Object.assign(results, await offlinePull(server, admin, root, texts, idlePart))
    results.baseline = await batchBaseline(root, texts)
  } finally {
    clearInterval(keep)
    admin.close()
    await server.stop()
    if (!process.env.SYNC_KEEP_DATA) fs.rmSync(root, { recursive: true, force: true })
  }
  results.machine.loadavgAfter = os.loadavg().map((x) => +x.toFixed(2))
  results.totalMs = C.nowMs() - started
  if (process.env.SYNC_OUT) fs.writeFileSync(process.env.SYNC_OUT, JSON.stringify(results, null, 2))
  log(`done in ${(results.totalMs / 1000).toFixed(1)} s`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
