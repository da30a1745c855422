'use strict'
// Argument fuzz suite (issue 10): ≥ 100,000 random calls of every Engine method with random
// arguments (valid-looking ones that succeed and write; wrong types; boundary numbers;
// sparse and huge arrays; typed arrays and buffers; throwing getters; Proxies whose traps
// throw or list huge key sets; cycles, deep and exponential structures; lone surrogates in
// strings and keys; 1 MB and 20 MB strings; each at the top or planted at any depth inside
// an otherwise valid argument), then a few thousand through the real `imsync:call` handler
// of js/main.js from a forked renderer. See fixtures/arg-fuzz-lib.js for the generators and
// the invariants: every call returns a promise (no synchronous throw) that resolves (never
// rejects) an envelope with an integer code within the deadline; a non-zero answer has a
// msg, a 33003 msg names an argument, and nothing was written (the WAL-index header of the
// database is unchanged); a lone surrogate is never accepted; no call holds the JS thread
// (through IPC: the main process's) over 2 s of CPU; the process never dies and its RSS
// stays bounded (under a ceiling, and not growing once warm).
//
// The calls run in child processes (fixtures/arg-fuzz-worker.js, fixtures/arg-fuzz-ipc-main.js)
// so an abort or an OOM fails this test with the seed and the call that did it. A worker that
// dies or stops making progress is restarted after that call (at most 5 times in a run).
// Every call's arguments derive from (seed, index) alone, so IMSYNC_FUZZ_ONLY replays one
// call's exact arguments (on a fresh database: a failure that needed earlier writes may need
// the whole run, IMSYNC_FUZZ_SEED alone, to come back).
//
// Environment:
//   IMSYNC_FUZZ_SEED=n          the seed (default: random; always printed)
//   IMSYNC_FUZZ_CALLS=n         native calls in total (default 100000)
//   IMSYNC_FUZZ_IPC_CALLS=n     calls through IPC (default 2000)
//   IMSYNC_FUZZ_WORKERS=n       native worker processes, run one after another (default 4)
//   IMSYNC_FUZZ_LANES=n         engines per worker, each running its share of the calls one
//                               at a time on its own database (default 4)
//   IMSYNC_FUZZ_ONLY=i          replay call i alone (with IMSYNC_FUZZ_LEG=native or ipc)
//   IMSYNC_FUZZ_LEG=native|ipc  run one leg only
//   IMSYNC_FUZZ_EXCLUDE=a,b     leave out generators by name or prefix (e.g. sparse,array-1e9)
//   IMSYNC_FUZZ_STALL_MS=n      a worker without progress for this long is killed (default 20000)
//   IMSYNC_FUZZ_SYNC_LIMIT_MS=n JS-thread CPU time one call may take (default 2000)
//   IMSYNC_FUZZ_DEADLINE_MS=n   time a call may take to settle (default 30000)
//   IMSYNC_FUZZ_RSS_LIMIT_MB=n, IMSYNC_FUZZ_RSS_GROWTH_LIMIT_MB=n   RSS ceiling (1024) and
//                               growth once warm (384) of a worker: the lanes' SQLite page caches
//                               fill as their databases grow; a leak of 16 KB per call exceeds it

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const FIXTURES = path.join(__dirname, 'fixtures')
const WORKER = path.join(FIXTURES, 'arg-fuzz-worker.js')
const IPC_MAIN = path.join(FIXTURES, 'arg-fuzz-ipc-main.js')

const env = process.env
const SEED = env.IMSYNC_FUZZ_SEED !== undefined ? Number(env.IMSYNC_FUZZ_SEED) >>> 0 : crypto.randomBytes(4).readUInt32LE(0)
const ONLY = env.IMSYNC_FUZZ_ONLY !== undefined ? Number(env.IMSYNC_FUZZ_ONLY) : null
const CALLS = ONLY !== null ? 1 : Number(env.IMSYNC_FUZZ_CALLS || 100000)
const IPC_CALLS = ONLY !== null ? 1 : Number(env.IMSYNC_FUZZ_IPC_CALLS || 2000)
const WORKERS = Math.max(1, Math.min(Number(env.IMSYNC_FUZZ_WORKERS || 4), CALLS))
const LEG = env.IMSYNC_FUZZ_LEG || 'both'
const EXCLUDE = (env.IMSYNC_FUZZ_EXCLUDE || '').split(',').filter(Boolean)
const STALL_MS = Number(env.IMSYNC_FUZZ_STALL_MS || 20000)
const MAX_ABNORMAL = 5
const RSS_LIMIT_MB = Number(env.IMSYNC_FUZZ_RSS_LIMIT_MB || 1024)
const RSS_GROWTH_LIMIT_MB = Number(env.IMSYNC_FUZZ_RSS_GROWTH_LIMIT_MB || 384)
const FIRST = ONLY !== null ? ONLY : 0
const LANES = Number(env.IMSYNC_FUZZ_LANES || 4)
const SLOT_BYTES = 1024

/** The generators the issue names: each must have run at least once in a full run. */
const REQUIRED_KINDS = {
  'sparse/huge arrays': ['sparse-max', 'array-1e9', 'sparse-2e31', 'sparse-tail', 'getter-huge', 'proxy-array-length'],
  'typed arrays / buffers': ['typed-small', 'u8-1e5', 'u8-1e7', 'f32-1e6', 'buffer-1e6', 'arraybuffer', 'dataview'],
  'throwing getters': ['getter-throws', 'wrap-getter-throws', 'array-getter-index'],
  Proxies: ['proxy-throws', 'wrap-proxy-throws', 'proxy-huge-keys', 'proxy-revoked'],
  'lone surrogates': ['lone-surrogate', 'lone-surrogate-key', 'lone-surrogate-in-string', 'long-1mb-lone'],
}

const repro = (leg, i) => `IMSYNC_FUZZ_SEED=${SEED} IMSYNC_FUZZ_LEG=${leg} IMSYNC_FUZZ_ONLY=${i} node --test __test__/arg-fuzz.test.js`

/**
 * The calls a child process started last: its last-call file holds one 1 KB slot per lane,
 * "<sequence>\t<index>\t<call>". Returns { last, others, sequence } or null.
 */
function readLastCall(file) {
  let buf
  try {
    buf = fs.readFileSync(file)
  } catch {
    return null
  }
  const slots = []
  for (let at = 0; at < buf.length; at += SLOT_BYTES) {
    const text = buf.toString('utf8', at, Math.min(buf.length, at + SLOT_BYTES)).trimEnd()
    const m = /^(\d+)\t(\d+)\t([\s\S]*)$/.exec(text)
    if (m) slots.push({ sequence: Number(m[1]), index: Number(m[2]), call: m[3] })
  }
  if (!slots.length) return null
  slots.sort((a, b) => b.sequence - a.sequence)
  return { last: slots[0], others: slots.slice(1), sequence: slots[0].sequence }
}

/**
 * Runs a fuzz child process. Polls its last-call file: a child whose call index has not
 * moved for STALL_MS is killed (a frozen JS thread or a hang). Resolves once it exited.
 */
/** Children still running: killed if this process exits first (a test timeout, a failure). */
const live = new Set()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

function runChild(script, cfg) {
  const lastCallFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-fuzz-last-')), 'last-call')
  const child = spawn(process.execPath, ['--expose-gc', script, JSON.stringify({ ...cfg, lastCallFile })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => {
    stderr += d
    if (stderr.length > 20000) stderr = stderr.slice(-10000)
  })
  let lastSequence = null
  let lastMove = Date.now()
  let stalled = null
  // A progress poll with a deadline, not an ordering sleep.
  const poll = setInterval(() => {
    const last = readLastCall(lastCallFile)
    const sequence = last ? last.sequence : null
    if (sequence !== lastSequence) {
      lastSequence = sequence
      lastMove = Date.now()
    } else if (Date.now() - lastMove > STALL_MS && !stalled) {
      stalled = last
      child.kill('SIGKILL')
    }
  }, 250)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child)
      clearInterval(poll)
      const last = stalled || readLastCall(lastCallFile)
      fs.rmSync(path.dirname(lastCallFile), { recursive: true, force: true })
      let report = null
      const line = stdout.trim().split('\n').pop()
      if (code === 0 && line) {
        try {
          report = JSON.parse(line)
        } catch {
          report = null
        }
      }
      resolve({ code, signal, stalled: !!stalled, last, report, stderr: stderr.trim().split('\n').slice(-8).join('\n') })
    })
  })
}

function describeEnd(r) {
  if (r.stalled) return `no progress for ${STALL_MS / 1000} s (killed)`
  if (r.signal) return `killed by ${r.signal}`
  if (r.code === 134) return 'aborted (exit 134)'
  return `exit ${r.code}`
}

/**
 * Runs calls [from, to) in `script`, restarting after the call that killed a child.
 * Returns { reports, abnormal }.
 */
async function runRange(script, leg, from, to, budget) {
  const reports = []
  const abnormal = []
  let next = from
  while (next < to) {
    const r = await runChild(script, { seed: SEED, from: next, to, lanes: LANES, exclude: EXCLUDE, rssLimitMb: RSS_LIMIT_MB, rssGrowthLimitMb: RSS_GROWTH_LIMIT_MB })
    if (r.code === 0 && r.report) {
      reports.push(r.report)
      break
    }
    const at = r.last ? r.last.last : null
    abnormal.push({
      leg,
      how: describeEnd(r),
      index: at ? at.index : null,
      call: at ? at.call : '(before the first call)',
      others: r.last ? r.last.others : [],
      stderr: r.stderr,
    })
    budget.abnormal++
    if (!at || budget.abnormal >= MAX_ABNORMAL) {
      budget.stopped = true
      break
    }
    // Go on after the call that was started last (calls still in flight in other lanes are
    // listed in the report, not re-run).
    next = Math.max(next, ...[at, ...r.last.others].map((s) => s.index + 1))
  }
  return { reports, abnormal }
}

function formatFailures(abnormal, findings) {
  const lines = []
  for (const a of abnormal) {
    lines.push(`[process died: ${a.how}] ${a.leg} call #${a.index} (the call started last): ${a.call}`)
    for (const o of a.others) lines.push(`    also in flight or just finished in another lane: call #${o.index}: ${o.call}`)
    if (a.stderr) lines.push(`    stderr: ${a.stderr.replace(/\n/g, '\n            ')}`)
    if (a.index !== null) lines.push(`    replay: ${repro(a.leg, a.index)}`)
  }
  const SHOWN = 40
  for (const f of findings.slice(0, SHOWN)) {
    lines.push(`[${f.kind}] ${f.leg} call #${f.index}${f.count > 1 ? ` (and ${f.count - 1} more like it)` : ''}: ${f.call}`)
    lines.push(`    → ${f.detail}`)
    lines.push(`    replay: ${repro(f.leg, f.index)}`)
  }
  if (findings.length > SHOWN) lines.push(`… and ${findings.length - SHOWN} more kinds of failure (${findings.slice(SHOWN).map((f) => `${f.kind} in ${f.method}`).join('; ').slice(0, 2000)})`)
  return lines.join('\n')
}

/** Merges findings of several reports (same kind, method and generators: counted once). */
function mergeFindings(leg, reports) {
  const out = new Map()
  for (const rep of reports) {
    for (const f of rep.findings) {
      const key = f.key
      const prev = out.get(key)
      if (prev) prev.count += f.count
      else out.set(key, { ...f, leg })
    }
  }
  return [...out.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.index - b.index)
}

test(`argument fuzz: ${CALLS} native Engine calls (seed ${SEED})`, { skip: LEG === 'ipc', timeout: 15 * 60 * 1000 }, async (t) => {
  const started = Date.now()
  const budget = { abnormal: 0, stopped: false }
  const reports = []
  const abnormal = []
  const per = Math.ceil(CALLS / WORKERS)
  for (let w = 0; w < WORKERS && !budget.stopped; w++) {
    const from = FIRST + w * per
    const to = Math.min(FIRST + CALLS, from + per)
    if (from >= to) break
    const r = await runRange(WORKER, 'native', from, to, budget)
    reports.push(...r.reports)
    abnormal.push(...r.abnormal)
  }
  const wallMs = Date.now() - started
  const calls = reports.reduce((s, r) => s + r.calls, 0)
  const ok = reports.reduce((s, r) => s + r.ok, 0)
  const codes = {}
  for (const r of reports) for (const [c, n] of Object.entries(r.codes)) codes[c] = (codes[c] || 0) + n
  const kinds = {}
  for (const r of reports) for (const [k, n] of Object.entries(r.kinds || {})) kinds[k] = (kinds[k] || 0) + n
  const callsMs = reports.reduce((s, r) => s + r.callsMs, 0)
  t.diagnostic(
    `seed ${SEED}: ${calls} calls (${ok} answered 0) in ${(wallMs / 1000).toFixed(1)} s wall, ${Math.round(calls / (wallMs / 1000))} calls/s overall, ` +
      `${Math.round(calls / (callsMs / 1000))} calls/s in the call loops; ${reports.length} worker(s) × ${LANES} lanes`,
  )
  t.diagnostic(`codes: ${JSON.stringify(codes)}`)
  if (reports.length) {
    t.diagnostic(`RSS at the end of each worker (MB): ${reports.map((r) => `${r.rssMb} (peak ${r.peakRssMb}, ${r.rssGrowthMb >= 0 ? "+" : ""}${r.rssGrowthMb} once warm)`).join(', ')}`)
    t.diagnostic(`slowest: ${JSON.stringify(reports.flatMap((r) => r.slowest).sort((a, b) => b.ms - a.ms).slice(0, 3))}`)
    t.diagnostic(`${reports[0].methods} methods fuzzed, of which outside the renderer allow-list: ${reports[0].adminMethods.join(', ') || 'none'}`)
    const unknown = reports[0].unknownMethods
    if (unknown.length) t.diagnostic(`methods without a signature in index.d.ts (fuzzed with generic arguments): ${unknown.join(', ')}`)
  }
  const findings = mergeFindings('native', reports)
  const failures = formatFailures(abnormal, findings)
  assert.ok(abnormal.length === 0 && findings.length === 0, `argument fuzz, seed ${SEED}: ${abnormal.length} dead worker(s), ${findings.length} kind(s) of invariant failure\n${failures}`)
  assert.equal(calls, CALLS, 'every call ran')
  // Every call written in the budget above ran; a full run also covers what the issue names
  // and makes some calls succeed (and write).
  if (CALLS >= 100000 && EXCLUDE.length === 0) {
    for (const [what, names] of Object.entries(REQUIRED_KINDS)) {
      assert.ok(names.some((n) => kinds[n] > 0), `no ${what} generated: ${JSON.stringify(kinds)}`)
    }
    assert.ok(ok > calls * 0.05, `only ${ok} of ${calls} calls answered 0: the valid-looking values are too rare`)
  }
})

test(`argument fuzz through imsync:call: ${IPC_CALLS} calls from a renderer (seed ${SEED})`, { skip: LEG === 'native', timeout: 10 * 60 * 1000 }, async (t) => {
  const started = Date.now()
  const budget = { abnormal: 0, stopped: false }
  const { reports, abnormal } = await runRange(IPC_MAIN, 'ipc', FIRST, FIRST + IPC_CALLS, budget)
  const wallMs = Date.now() - started
  const calls = reports.reduce((s, r) => s + r.calls, 0)
  t.diagnostic(`seed ${SEED}: ${calls} IPC calls in ${(wallMs / 1000).toFixed(1)} s wall; codes ${JSON.stringify(reports[0] ? reports[0].codes : {})}`)
  if (reports[0]) t.diagnostic(`main RSS at the end ${reports[0].main.rssMb} MB; slowest: ${JSON.stringify(reports[0].slowest)}`)
  const findings = mergeFindings('ipc', reports)
  for (const r of reports) {
    const m = r.main
    if (m.userId !== 'me' || !m.fromWindow || m.fromWindow.code !== 0 || m.directCode !== 0) {
      findings.push({ leg: 'ipc', kind: 'main-broken', index: r.to, call: 'after the run', count: 1, detail: `main process state after the run: ${JSON.stringify(m)}` })
    }
    if (m.rssMb > RSS_LIMIT_MB) findings.push({ leg: 'ipc', kind: 'rss', index: r.to, call: 'after the run', count: 1, detail: `main RSS ${m.rssMb} MB` })
  }
  const failures = formatFailures(abnormal, findings)
  assert.ok(abnormal.length === 0 && findings.length === 0, `IPC argument fuzz, seed ${SEED}: the main process died ${abnormal.length} time(s), ${findings.length} kind(s) of invariant failure\n${failures}`)
  assert.equal(calls, IPC_CALLS, 'every call ran')
})

test('the fuzz checker reports each kind of failure (a fake engine that has them all)', async (t) => {
  const lib = require('./fixtures/arg-fuzz-lib')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-fuzz-check-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const dbFile = path.join(dir, 'fake.db')
  fs.writeFileSync(`${dbFile}-shm`, Buffer.alloc(136))
  const fp = new lib.ShmFingerprint(dbFile)
  t.after(() => fp.close())
  const shm = fs.openSync(`${dbFile}-shm`, 'r+')
  t.after(() => fs.closeSync(shm))
  let counter = 0
  // What a commit does to the WAL-index header: mxFrame (byte 16) moves.
  const commit = () => fs.writeSync(shm, Buffer.from([++counter]), 0, 1, 16)
  const params = [{ name: 'conversation' }, { name: 'options' }]
  const plan = (extra = {}) => ({ args: [{ conversationType: 1, targetId: 'p1' }], desc: 'fake()', kinds: [], pure: [true], surrogate: false, ...extra })
  const busy = (ms) => {
    const until = performance.now() + ms
    while (performance.now() < until);
  }
  const cases = [
    ['sync-throw', () => { throw new Error('getter') }], // prettier-ignore
    ['rejected', () => Promise.reject(new Error('boom'))],
    ['not-a-promise', () => 7],
    ['deadline', () => new Promise(() => {})],
    ['not-an-envelope', async () => ({ ok: true })],
    ['no-msg', async () => ({ code: 33003 })],
    ['msg-names-no-argument', async () => ({ code: 33003, msg: 'bad value' })],
    ['write-after-error', async () => (commit(), { code: 34201, msg: 'conversation type' })],
    ['lone-surrogate-accepted', async () => ({ code: 0 }), { surrogate: true }],
    ['js-thread-blocked', () => (busy(60), Promise.resolve({ code: 0 }))],
    ['fingerprint-missed-write', async () => ({ code: 0, data: { messageId: 1 } }), {}, () => true],
    ['slow-answer', () => new Promise((resolve) => setTimeout(() => resolve({ code: 0 }), 60)), {}, null, 20],
  ]
  for (const [kind, invoke, extra, mustHaveWritten, totalLimitMs] of cases) {
    const out = await lib.checkedCall({ invoke, method: 'insertMessage', plan: plan(extra), params, fp, mustHaveWritten, totalLimitMs, syncLimitMs: 25, deadlineMs: 200 })
    assert.deepEqual(
      out.problems.map((p) => p.kind),
      [kind],
      `${kind}: ${JSON.stringify(out.problems)}`,
    )
  }
  // With the thread's CPU clock (Linux), a call that burns the CPU is reported and one that
  // only waited (a machine too busy to run it) is not.
  const clock = new lib.CpuClock()
  t.after(() => clock.close())
  if (clock.now() !== null) {
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
    const burnCpu = (ms) => {
      const until = clock.now() + ms
      while (clock.now() < until);
    }
    const burn = await lib.checkedCall({ invoke: () => (burnCpu(60), Promise.resolve({ code: 0 })), method: 'getTags', plan: plan(), params, clock, syncLimitMs: 25 })
    assert.deepEqual(burn.problems.map((p) => p.kind), ['js-thread-blocked'])
    const wait = await lib.checkedCall({ invoke: () => (sleep(60), Promise.resolve({ code: 0 })), method: 'getTags', plan: plan(), params, clock, syncLimitMs: 25 })
    assert.deepEqual(wait.problems, [], 'waiting is not working')
  }
  // And none for calls that keep the contract: a 33003 naming an argument (any case), a
  // write with a success, the failed send that stores its message.
  const clean = [
    ['insertMessage', async () => ({ code: 33003, msg: 'Options.count must be 1 to 100' })],
    ['insertMessage', async () => (commit(), { code: 0, data: { messageId: 2 } }), () => true],
    ['sendMessage', async () => (commit(), { code: 30002, msg: 'not connected', data: { messageId: 3 } })],
  ]
  for (const [method, invoke, mustHaveWritten] of clean) {
    const out = await lib.checkedCall({ invoke, method, plan: plan(), params, fp, mustHaveWritten, writeExempt: lib.sendFailureWrites })
    assert.deepEqual(out.problems, [], method)
  }
})

